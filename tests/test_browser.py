"""Students and instructors in a real browser: headless Chromium (Debian's ``chromium`` and
``chromium-driver``) driven by selenium, against the JupyterLab that ``make instructor`` starts.

One server (``python -m graders.lab instructor`` on a scratch copy of the repository's layout:
``nbgrader_config.py``, ``course/w00_orientation/``) serves both roles, as in ``make instructor``:

- a student opens week 0, answers ``log_softmax`` correctly, leaves ``cross_entropy`` as it is,
  runs all cells and reads the feedback of both checks; then clicks nbgrader's *Validate*;
- an instructor opens nbgrader's formgrader from the menu and sees every week;
- autograding and feedback started from the formgrader (its HTTP API, as its buttons do) go
  through the sandbox: a student who overrides ``check`` in their notebook still gets 0.

Screenshots of each step are written to ``<pytest tmp>/screenshots`` (set ``BROWSER_SCREENSHOTS``
to keep them elsewhere); a failure names the folder. In CI (``CI=true``) a missing browser is a
failure, elsewhere a skip that says what to install.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from graders.reference import COURSE, REPO_ROOT
from graders.release import weeks

WEEK = "w00_orientation"
CHROMIUM = next((p for p in map(shutil.which, ("chromium", "chromium-browser")) if p), None)
CHROMEDRIVER = shutil.which("chromedriver")
RIGHT_LOG_SOFTMAX = (
    "def log_softmax(logits, dim=-1):\n"
    "shifted = logits - logits.amax(dim=dim, keepdim=True)\n"  # the editor indents the body itself
    "return shifted - shifted.exp().sum(dim=dim, keepdim=True).log()"
)
LAB_SETTINGS = {
    # every cell stays in the page (JupyterLab may otherwise detach cells scrolled out of view)
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    # no "get notified about Jupyter news?" toast over the notebook, no update check (offline)
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false", "checkForUpdates": False},
}

pytestmark = pytest.mark.browser


def _require(condition: bool, what: str) -> None:
    if condition:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"{what} is missing in CI: .ci/run installs chromium and chromium-driver with apt-get")
    pytest.skip(f"{what} is not installed (Debian: `apt-get install chromium chromium-driver`; CI installs them)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, token: str, method: str = "GET", timeout: float = 10.0) -> Any:
    request = urllib.request.Request(url, method=method, headers={"Authorization": f"token {token}"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read().decode() or "null")


class Lab:
    def __init__(self, root: Path, url: str, token: str, log: Path, started_in: float) -> None:
        self.root, self.url, self.token, self.log, self.started_in = root, url, token, log, started_in

    def api(self, path: str, method: str = "GET", timeout: float = 10.0) -> Any:
        return _get(f"{self.url}{path}", self.token, method, timeout)


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """``python -m graders.lab instructor`` (what ``make instructor`` runs) on a scratch root."""
    root = tmp_path_factory.mktemp("lab")
    shutil.copy(REPO_ROOT / "nbgrader_config.py", root)
    shutil.copytree(COURSE / WEEK, root / "course" / WEEK)
    settings = root / ".settings"
    for name, values in LAB_SETTINGS.items():
        (settings / name).parent.mkdir(parents=True, exist_ok=True)
        (settings / name).write_text(json.dumps(values))
    port, token = _free_port(), os.urandom(8).hex()
    env = {**os.environ, "JUPYTER_PORT": str(port), "JUPYTER_TOKEN": token, "COURSE_QUICK": "1"}
    env.pop("JUPYTER_CONFIG_DIR", None)
    log = root / "jupyter.log"
    command = [
        sys.executable,
        "-m",
        "graders.lab",
        "instructor",
        f"--root={root}",
        "--no-browser",
        f"--LabApp.user_settings_dir={settings}",
        f"--LabApp.workspaces_dir={root / '.workspaces'}",
    ]
    started = time.monotonic()
    with open(log, "w") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=REPO_ROOT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = started + 240  # a loaded 2-core machine needs most of it
        while True:
            if proc.poll() is not None:
                pytest.fail(f"the lab exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
            try:
                _get(f"{url}/api/status", token, timeout=2)
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"the lab did not answer on JUPYTER_PORT={port} in 240 s:\n{log.read_text()[-3000:]}")
                time.sleep(0.5)
        yield Lab(root, url, token, log, time.monotonic() - started)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Headless Chromium; requested before ``lab`` so that a missing browser skips at once."""
    _require(CHROMIUM is not None, "chromium")
    _require(CHROMEDRIVER is not None, "chromedriver (Debian's chromium-driver)")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:  # pragma: no cover - selenium is a pinned dependency
        _require(False, "selenium")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",  # CI runs as root
        "--disable-dev-shm-usage",
        "--window-size=1400,1000",
        f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    try:
        yield driver
    finally:
        driver.quit()


class Steps:
    """Run named steps; any failure saves a screenshot and names the folder in its message."""

    def __init__(self, driver: Any, folder: Path) -> None:
        self.driver, self.folder, self.count = driver, folder, 0
        self.times: dict[str, float] = {}
        folder.mkdir(parents=True, exist_ok=True)

    def shot(self, name: str) -> Path:
        self.count += 1
        path = self.folder / f"{self.count:02d}-{name}.png"
        self.driver.save_screenshot(str(path))
        return path

    def run(self, name: str, action: Callable[[], Any]) -> Any:
        start = time.monotonic()
        try:
            value = action()
        except Exception as exc:
            try:
                path = self.shot(f"{name}-FAILED")
            except Exception:  # the browser itself is gone
                path = self.folder
            raise AssertionError(f"step {name!r} failed ({exc}); screenshots in {path.parent}") from exc
        self.shot(name)
        self.times[name] = time.monotonic() - start
        return value


def _wait(condition: Callable[[], Any], seconds: float, what: str) -> Any:
    deadline = time.monotonic() + seconds
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = condition()
            if value:
                return value
        except Exception as exc:  # stale elements while JupyterLab re-renders
            last = exc
        time.sleep(0.25)
    raise TimeoutError(f"waited {seconds:g} s for {what}" + (f" (last error: {last})" if last else ""))


_JS_CELLS = """
const panel = [...document.querySelectorAll('.jp-NotebookPanel')].find(p => !p.classList.contains('lm-mod-hidden'));
if (!panel) return [];
return [...panel.querySelectorAll('.jp-Notebook .jp-Cell')].map(cell => ({
  source: [...cell.querySelectorAll('.cm-content .cm-line')].map(l => l.textContent).join('\\n'),
  output: [...cell.querySelectorAll('.jp-OutputArea-output')].map(o => o.innerText).join('\\n'),
  error: cell.querySelector('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]') !== null,
  classes: [...cell.querySelectorAll('.jp-OutputArea-output span')].map(s => s.className).join(' '),
}));
"""


def _cells(driver: Any) -> list[dict[str, Any]]:
    return driver.execute_script(_JS_CELLS)


def _index(driver: Any, needle: str) -> int:
    return next(i for i, c in enumerate(_cells(driver)) if needle in c["source"])


def _cell_element(driver: Any, index: int) -> Any:
    from selenium.webdriver.common.by import By

    panel = next(
        p
        for p in driver.find_elements(By.CSS_SELECTOR, ".jp-NotebookPanel")
        if "lm-mod-hidden" not in (p.get_attribute("class") or "")
    )
    return panel.find_elements(By.CSS_SELECTOR, ".jp-Notebook .jp-Cell")[index]


def _menu(driver: Any, *labels: str) -> None:
    from selenium.webdriver.common.by import By

    top = _wait(
        lambda: [
            e for e in driver.find_elements(By.CSS_SELECTOR, ".lm-MenuBar-itemLabel") if e.text.strip() == labels[0]
        ],
        20,
        f"the {labels[0]} menu",
    )
    top[0].click()
    for label in labels[1:]:
        item = _wait(
            lambda label=label: [
                e
                for e in driver.find_elements(By.CSS_SELECTOR, ".lm-Menu-item .lm-Menu-itemLabel")
                if e.text.strip() == label and e.is_displayed()
            ],
            10,
            f"the menu item {label}",
        )
        item[0].click()


def _plain(text: str) -> str:
    return re.sub(r"\s+", " ", text)


def test_student_and_instructor_in_a_browser(browser: Any, lab: Lab, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    folder = Path(os.environ.get("BROWSER_SCREENSHOTS") or tmp_path / "screenshots")
    steps = Steps(browser, folder)
    started = time.monotonic()
    driver = browser

    def open_week() -> None:
        driver.get(f"{lab.url}/lab/tree/course/{WEEK}/{WEEK}.ipynb?token={lab.token}")
        _wait(lambda: any("def log_softmax(" in c["source"] for c in _cells(driver)), 180, "the notebook's cells")
        _wait(
            lambda: (
                driver.find_elements(By.CSS_SELECTOR, ".jp-Notebook-ExecutionIndicator[data-status='idle']")
                or "Idle" in driver.find_element(By.CSS_SELECTOR, ".jp-StatusBar-Widget, #jp-main-statusbar").text
            ),
            180,
            "an idle kernel",
        )

    steps.run("open-week", open_week)

    def answer_log_softmax() -> None:
        index = _index(driver, "def log_softmax(")
        cell = _cell_element(driver, index)
        driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", cell)
        cell.find_element(By.CSS_SELECTOR, ".cm-content").click()
        editor = cell.find_element(By.CSS_SELECTOR, ".cm-content")
        editor.send_keys(Keys.CONTROL, "a")
        editor.send_keys(Keys.DELETE)
        for n, line in enumerate(RIGHT_LOG_SOFTMAX.split("\n")):
            editor.send_keys(("" if n == 0 else Keys.ENTER) + line)
        typed = _cells(driver)[index]["source"]
        assert typed.split("\n") == [
            "def log_softmax(logits, dim=-1):",
            "    shifted = logits - logits.amax(dim=dim, keepdim=True)",
            "    return shifted - shifted.exp().sum(dim=dim, keepdim=True).log()",
        ], typed
        editor.send_keys(Keys.ESCAPE)

    steps.run("answer-log-softmax", answer_log_softmax)

    def run_all() -> dict[str, Any]:
        _menu(driver, "Run", "Run All Cells")
        # Run All stops at the first failing check: cross_entropy, left unanswered
        index = _index(driver, f'check("{WEEK}.cross_entropy"')
        failed = _wait(lambda: _cells(driver)[index]["error"] and _cells(driver)[index], 120, "the cross_entropy check")
        driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", _cell_element(driver, index))
        return failed

    failed = steps.run("run-all", run_all)

    def show_pass() -> dict[str, Any]:
        index = _index(driver, f'check("{WEEK}.log_softmax"')
        driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", _cell_element(driver, index))
        return _cells(driver)[index]

    passed = steps.run("pass-feedback", show_pass)
    assert passed["output"].startswith(f"✓ {WEEK}.log_softmax (2/2 points):"), passed["output"]
    assert "Result(" not in passed["output"] and not passed["error"], passed["output"]
    assert "ansi-green" in passed["classes"], "the pass line is green"
    text = _plain(failed["output"])
    assert text.startswith(f"✗ {WEEK}.cross_entropy (0/2 points):"), failed["output"]
    assert "NotImplementedError" in text, "says what to do with the stub"
    for internal in ("Traceback", "graders/", "notebook.py", "File ", "CheckFailed"):
        assert internal not in failed["output"], f"{internal!r} in the rendered feedback:\n{failed['output']}"
    assert "ansi-red" in failed["classes"], "the fail line is red"

    def validate() -> str:
        button = _wait(
            lambda: [
                b for b in driver.find_elements(By.XPATH, "//*[normalize-space(text())='Validate']") if b.is_displayed()
            ],
            20,
            "the Validate button",
        )
        button[0].click()
        dialog = _wait(
            lambda: [d for d in driver.find_elements(By.CSS_SELECTOR, ".jp-Dialog") if "Validat" in d.text],
            180,
            "nbgrader's validation results",
        )
        _wait(lambda: "cross_entropy" in dialog[0].text, 180, "the validation to finish")
        return dialog[0].text

    report = steps.run("validate", validate)
    assert f"{WEEK}.cross_entropy (0/2 points)" in report, report
    assert f"{WEEK}.log_softmax (0/" not in report, "the right answer is not listed as failing"
    assert "Traceback" not in report and "notebook.py" not in report, report

    def close_dialog() -> None:
        buttons = driver.find_elements(By.CSS_SELECTOR, ".jp-Dialog .jp-Dialog-button")
        (buttons[-1] if buttons else driver.find_element(By.TAG_NAME, "body")).click()
        _wait(lambda: not driver.find_elements(By.CSS_SELECTOR, ".jp-Dialog"), 10, "the dialog to close")

    steps.run("close-validation", close_dialog)

    def formgrader() -> list[str]:
        _menu(driver, "Nbgrader", "Formgrader")
        frame = _wait(
            lambda: [
                f
                for f in driver.find_elements(By.CSS_SELECTOR, "iframe")
                if "formgrader" in (f.get_attribute("src") or "")
            ],
            30,
            "the formgrader",
        )
        driver.switch_to.frame(frame[0])
        try:
            return _wait(
                lambda: [e.text.strip() for e in driver.find_elements(By.CSS_SELECTOR, "td.name") if e.text.strip()],
                60,
                "the formgrader's list of assignments",
            )
        finally:
            driver.switch_to.default_content()

    listed = steps.run("formgrader", formgrader)
    assert set(weeks()) <= set(listed), f"the formgrader lists {listed}, the course has {weeks()}"
    timings = ", ".join(f"{k} {v:.1f} s" for k, v in steps.times.items())
    print(f"lab started in {lab.started_in:.1f} s; browser steps {time.monotonic() - started:.1f} s ({timings})")


def test_formgrader_autogrades_and_writes_feedback_through_the_sandbox(lab: Lab) -> None:
    """A student who replaces ``check`` with a no-op would pass every grade cell under stock
    nbgrader; autograded from the formgrader (the sandbox decides) they get 0, with feedback."""
    release = json.loads((COURSE / WEEK / f"{WEEK}.ipynb").read_text(encoding="utf-8"))
    release["cells"].insert(
        2,
        {"cell_type": "code", "id": "cheat", "metadata": {}, "source": "check = lambda *a, **k: None\n",
         "outputs": [], "execution_count": None},
    )  # fmt: skip
    submitted = lab.root / "build" / "submitted" / "mallory" / WEEK
    submitted.mkdir(parents=True)
    (submitted / f"{WEEK}.ipynb").write_text(json.dumps(release), encoding="utf-8")

    outcome = lab.api(f"/formgrader/api/submission/{WEEK}/mallory/autograde", "POST", timeout=300)
    assert outcome["success"], outcome.get("error") or outcome.get("log")
    assert "TrustedGrades" in outcome["log"], "the course's preprocessor (the sandbox) graded it"
    (row,) = [s for s in lab.api(f"/formgrader/api/submissions/{WEEK}") if s["student"] == "mallory"]
    assert row["autograded"] and row["score"] == 0 and row["max_score"] > 0, row

    feedback = lab.api(f"/formgrader/api/assignment/{WEEK}/mallory/generate_feedback", "POST", timeout=120)
    assert feedback["success"], feedback.get("error") or feedback.get("log")
    html = (lab.root / "build" / "feedback" / "mallory" / WEEK / f"{WEEK}.html").read_text(encoding="utf-8")
    assert "NotImplementedError" in html and "✗" in html
