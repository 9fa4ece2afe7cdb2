"""A term on the hub that ``make hub`` starts (``python -m graders.hub``), in headless Chromium.

Every step below is driven in the browser (selenium), through the hub's login page, nbgrader's
formgrader (its buttons) and JupyterLab's *Assignment List* (its buttons):

1. the instructor logs in and releases week 0 from the formgrader;
2. two students log in and fetch it; one of them opens the notebook, answers ``log_softmax``
   correctly and ``masked_mean`` with a known mistake (it forgets the mask), saves; both submit;
3. the instructor collects, autogrades each submission (the sandbox grades: the course's
   ``TrustedGrades``), generates and releases feedback;
4. the student fetches the feedback and reads it, with the mistake named.

Then ``nbgrader export`` (the instructor's command line: the formgrader has no export button)
has both students' rows with the right totals. Screenshots go to ``<pytest tmp>/hub-screenshots``
(or ``BROWSER_SCREENSHOTS``). The hub's own checks (settings from the environment, the config it
writes) run without a browser.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_browser import LAB_SETTINGS, Steps, _cell_element, _cells, _free_port, _index, _menu, _wait, browser

from graders.isolation import probe
from graders.reference import REPO_ROOT
from graders.registry import week_exercises

WEEK = "w00_orientation"
PROXY = REPO_ROOT / ".hub" / "node_modules" / ".bin" / "configurable-http-proxy"
STUDENTS = ("student1", "student2")
RIGHT_LOG_SOFTMAX = (
    "def log_softmax(logits, dim=-1):\n"
    "shifted = logits - logits.amax(dim=dim, keepdim=True)\n"  # the editor indents the body itself
    "return shifted - shifted.exp().sum(dim=dim, keepdim=True).log()"
)
FORGOT_THE_MASK = "def masked_mean(values, mask, dim=-1):\nreturn values.mean(dim)"

__all__ = ["browser"]  # the fixture, shared with test_browser.py


def test_settings_come_from_the_environment(tmp_path: Path) -> None:
    from graders.hub import hub_config, instructor_config, settings_from_env, student_config

    env = {
        "HUB_DIR": str(tmp_path),
        "HUB_PORT": "8123",
        "HUB_STUDENTS": "ada, grace",
        "HUB_INSTRUCTOR": "prof",
        "HUB_WEEKS": WEEK,
        "HUB_PASSWORD": "not-written",
    }
    s = settings_from_env(env)
    assert (s.port, s.students, s.instructor, s.weeks) == (8123, ("ada", "grace"), "prof", (WEEK,))
    config = hub_config(s)
    assert "http://127.0.0.1:8123" in config and "not-written" not in config
    assert 'os.environ["HUB_PASSWORD"]' in config
    assert "{'ada', 'grace', 'prof'}" in config or "allowed_users" in config
    assert f"c.Exchange.root = {str(tmp_path / 'exchange')!r}" in instructor_config(s)
    assert "configure(c)" in instructor_config(s)  # the formgrader grades through the sandbox
    assert "c.CourseDirectory.student_id = 'ada'" in student_config(s, "ada")
    compile(config, "jupyterhub_config.py", "exec")
    with pytest.raises(ValueError):
        settings_from_env({**env, "HUB_STUDENTS": "prof"})
    with pytest.raises(ValueError):
        settings_from_env({**env, "HUB_STUDENTS": "Bad Name"})


class Hub:
    def __init__(self, url: str, folder: Path, password: str, log: Path) -> None:
        self.url, self.folder, self.password, self.log = url, folder, password, log

    def home(self, user: str) -> Path:
        return self.folder / "home" / user


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    if not PROXY.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{PROXY} is missing: `make hub-proxy` installs it (make test does)")
        pytest.skip(f"configurable-http-proxy is not installed at {PROXY} (run `make hub-proxy`)")
    report = probe()
    if not report.os_isolated:
        pytest.skip(f"bubblewrap cannot run here: {report.bwrap_error}")
    folder = tmp_path_factory.mktemp("hub")
    password = os.urandom(6).hex()
    for user in ("instructor", *STUDENTS):  # no news toast, every cell in the page (as test_browser.py)
        for name, values in LAB_SETTINGS.items():
            path = folder / "home" / user / ".jupyter" / "lab" / "user-settings" / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(values))
    port = _free_port()
    env = {
        **os.environ,
        "HUB_DIR": str(folder),
        "HUB_PORT": str(port),
        "HUB_API_PORT": str(_free_port()),
        "HUB_PROXY_API_PORT": str(_free_port()),
        "HUB_PASSWORD": password,
        "HUB_WEEKS": WEEK,
        "HUB_STUDENTS": ",".join(STUDENTS),
    }
    env.pop("JUPYTER_CONFIG_DIR", None)
    log = folder / "hub.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "graders.hub"], stdout=out, stderr=subprocess.STDOUT, env=env, cwd=REPO_ROOT
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300
        while True:
            if proc.poll() is not None:
                pytest.fail(f"the hub exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{url}/hub/api/", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"the hub did not answer on HUB_PORT={port} in 300 s:\n{log.read_text()[-3000:]}")
                time.sleep(0.5)
        yield Hub(url, folder, password, log)
    finally:
        proc.terminate()  # the hub stops the servers it spawned and its proxy
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.mark.slow
def test_the_hub_lays_out_a_course_and_serves_it(hub: Hub) -> None:
    """Without a browser: the login page through the proxy, the exchange, every user's nbgrader settings."""
    with urllib.request.urlopen(f"{hub.url}/hub/login", timeout=30) as response:
        assert response.status == 200 and b"password" in response.read().lower()
    assert "ConfigProxy" in hub.log.read_text()  # configurable-http-proxy from npm serves it
    assert (hub.folder / "exchange").stat().st_mode & 0o7777 == 0o1777
    course = hub.home("instructor") / "build"
    assert (course / "release" / WEEK / f"{WEEK}.ipynb").exists() and (course / "gradebook.db").exists()
    assert "configure(c)" in (hub.home("instructor") / "nbgrader_config.py").read_text()
    for student in STUDENTS:
        assert f"student_id = {student!r}" in (hub.home(student) / "nbgrader_config.py").read_text()
    assert hub.password not in (hub.folder / "jupyterhub_config.py").read_text()


@pytest.mark.browser
@pytest.mark.slow
def test_a_term_on_the_hub_in_a_browser(browser: Any, hub: Hub, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    driver = browser
    steps = Steps(driver, Path(os.environ.get("BROWSER_SCREENSHOTS") or tmp_path / "hub-screenshots"))

    def login(user: str) -> None:
        driver.get(f"{hub.url}/hub/logout")
        driver.get(f"{hub.url}/hub/login")
        _wait(lambda: driver.find_elements(By.ID, "username_input"), 60, "the login form")
        driver.find_element(By.ID, "username_input").send_keys(user)
        driver.find_element(By.ID, "password_input").send_keys(hub.password)
        driver.find_element(By.ID, "login_submit").click()
        _wait(lambda: f"/user/{user}/lab" in driver.current_url, 240, f"{user}'s server")
        _wait(lambda: driver.find_elements(By.CSS_SELECTOR, ".lm-MenuBar-itemLabel"), 180, "JupyterLab")

    def formgrader_click(page: str, row_text: str, column: str) -> str:
        driver.get(f"{hub.url}/user/instructor/formgrader{page}")
        link = _wait(
            lambda: driver.find_elements(
                By.XPATH, f"//tr[contains(normalize-space(.), '{row_text}')]/td[contains(@class, '{column}')]//a"
            ),
            120,
            f"the {column} button of {row_text}",
        )
        link[0].click()
        modal = _wait(
            lambda: [
                m for m in driver.find_elements(By.CSS_SELECTOR, "#success-modal, #error-modal") if m.is_displayed()
            ],
            300,
            f"the formgrader's answer to {column}",
        )
        # textContent, not .text: while the modal fades in, Selenium's visible text may still lack its title
        text = modal[0].get_attribute("textContent") or modal[0].text
        assert modal[0].get_attribute("id") == "success-modal", text
        return text

    def assignment_list() -> None:
        _menu(driver, "Nbgrader", "Assignment List")
        _wait(lambda: WEEK in driver.find_element(By.TAG_NAME, "body").text, 60, "the week in the Assignment List")

    def button(label: str, seconds: float = 120) -> Any:
        return _wait(
            lambda: [
                b
                for b in driver.find_elements(By.XPATH, f"//button[normalize-space(text())='{label}']")
                if b.is_displayed() and b.is_enabled()
            ],
            seconds,
            f"the {label} button",
        )[0]

    # 1. the instructor releases the week
    steps.run("instructor-login", lambda: login("instructor"))
    steps.run("release", lambda: formgrader_click("", WEEK, "release"))
    assert (hub.folder / "exchange" / "ai-safety" / "outbound" / WEEK / f"{WEEK}.ipynb").exists()

    # 2. both students fetch; student1 answers; both submit
    def type_into(needle: str, code: str) -> None:
        index = _index(driver, needle)
        cell = _cell_element(driver, index)
        driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", cell)
        cell.find_element(By.CSS_SELECTOR, ".cm-content").click()
        editor = cell.find_element(By.CSS_SELECTOR, ".cm-content")
        editor.send_keys(Keys.CONTROL, "a")
        editor.send_keys(Keys.DELETE)
        for n, line in enumerate(code.split("\n")):
            editor.send_keys(("" if n == 0 else Keys.ENTER) + line)
        editor.send_keys(Keys.ESCAPE)

    def answer() -> None:
        driver.get(f"{hub.url}/user/student1/lab/tree/{WEEK}/{WEEK}.ipynb")
        _wait(lambda: any("def masked_mean(" in c["source"] for c in _cells(driver)), 180, "the fetched notebook")
        type_into("def log_softmax(", RIGHT_LOG_SOFTMAX)
        type_into("def masked_mean(", FORGOT_THE_MASK)
        _menu(driver, "File", "Save Notebook")
        saved = hub.home("student1") / WEEK / f"{WEEK}.ipynb"
        _wait(lambda: "values.mean(dim)" in saved.read_text(), 60, "the notebook to be saved")

    inbound = hub.folder / "exchange" / "ai-safety" / "inbound"
    for student in STUDENTS:
        steps.run(f"{student}-login", lambda student=student: login(student))
        steps.run(f"{student}-assignments", assignment_list)
        steps.run(f"{student}-fetch", lambda: button("Fetch").click())
        _wait(
            lambda student=student: (hub.home(student) / WEEK / f"{WEEK}.ipynb").exists(),
            60,
            f"{student}'s fetched notebook",
        )
        if student == "student1":
            steps.run("student1-answer", answer)
            steps.run("student1-assignments-again", assignment_list)
        steps.run(f"{student}-submit", lambda: button("Submit").click())
        _wait(lambda student=student: list(inbound.glob(f"{student}+{WEEK}+*")), 60, f"{student}'s submission")

    # 3. the instructor collects, autogrades (the sandbox), generates and releases feedback
    steps.run("instructor-login-again", lambda: login("instructor"))
    steps.run("collect", lambda: formgrader_click("", WEEK, "collect"))
    for student in STUDENTS:
        text = steps.run(
            f"autograde-{student}",
            lambda student=student: formgrader_click(f"/manage_submissions/{WEEK}", student, "autograde"),
        )
        assert "Successfully autograded" in text, text
    steps.run("generate-feedback", lambda: formgrader_click("", WEEK, "generate-feedback"))
    steps.run("release-feedback", lambda: formgrader_click("", WEEK, "release-feedback"))

    # 4. student1 fetches the feedback and reads the named mistake
    steps.run("student1-login-feedback", lambda: login("student1"))
    steps.run("student1-assignments-feedback", assignment_list)
    steps.run("fetch-feedback", lambda: button("Fetch Feedback").click())
    pages = _wait(lambda: list((hub.home("student1") / WEEK / "feedback").glob(f"*/{WEEK}.html")), 60, "the feedback")
    relative = pages[0].relative_to(hub.home("student1"))

    def read_feedback() -> str:
        driver.get(f"{hub.url}/user/student1/files/{relative}")
        text = _wait(lambda: driver.find_element(By.TAG_NAME, "body").text, 60, "the feedback page")
        named = driver.find_elements(By.XPATH, "//*[contains(text(), 'forgot the mask')]")
        if named:  # the screenshot shows the named mistake
            driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", named[0])
        return text

    feedback = steps.run("read-feedback", read_feedback)
    assert "forgot the mask" in feedback, feedback[:3000]
    assert f"✓ {WEEK}.log_softmax" in feedback

    # the gradebook: both rows, the right totals (grades from the sandbox, not from a kernel)
    points = {e.function: e.points for e in week_exercises(WEEK)}
    out = tmp_path / "grades.csv"
    subprocess.run(
        [sys.executable, "-m", "nbgrader", "export", "--to", str(out)],
        cwd=hub.home("instructor"),
        check=True,
        capture_output=True,
        env={**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"},
    )
    with open(out) as f:
        rows = {r["student_id"]: r for r in csv.DictReader(f) if r["assignment"] == WEEK}
    assert set(rows) == set(STUDENTS), rows
    assert float(rows["student1"]["score"]) == points["log_softmax"], rows
    assert float(rows["student2"]["score"]) == 0.0, rows
    assert float(rows["student1"]["max_score"]) == sum(points.values())
    autograded = (hub.home("instructor") / "build" / "autograded" / "student1" / WEEK / f"{WEEK}.ipynb").read_text()
    assert "graded in the sandbox" in autograded  # the course's TrustedGrades decided, not a kernel
