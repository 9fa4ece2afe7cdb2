"""``make lab`` and ``make instructor`` (``python -m graders.lab``): root or not, port and token
from the environment. The instructor's lab in a browser is tested in tests/test_browser.py."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from graders import lab
from graders.reference import COURSE, REPO_ROOT


@pytest.mark.parametrize("uid", [0, 1000])
def test_allow_root_only_for_root(monkeypatch: pytest.MonkeyPatch, uid: int) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: uid)
    command = lab.lab_command(COURSE, ["--no-browser"])
    assert command[:3] == [sys.executable, "-m", "jupyterlab"]
    assert f"--ServerApp.root_dir={COURSE}" in command and command[-1] == "--no-browser"
    assert ("--allow-root" in command) == (uid == 0)
    assert not any("port" in a or "token" in a for a in command), "JUPYTER_PORT/JUPYTER_TOKEN are Jupyter's"


def test_jupyter_env_puts_this_interpreters_scripts_first(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    assert lab.jupyter_env()["PATH"].split(os.pathsep)[0] == str(Path(sys.executable).parent)


def test_student_lab_serves_course_on_the_port_and_token_from_the_environment(tmp_path: Path) -> None:
    """What `make lab` starts (as root here in CI) answers on JUPYTER_PORT with JUPYTER_TOKEN."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    token = os.urandom(8).hex()
    env = {**os.environ, "JUPYTER_PORT": str(port), "JUPYTER_TOKEN": token}
    log = tmp_path / "jupyter.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "graders.lab", "--no-browser"], env=env, cwd=REPO_ROOT, stdout=out, stderr=out
        )
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, log.read_text()[-3000:]
            request = urllib.request.Request(
                f"http://127.0.0.1:{port}/api/contents", headers={"Authorization": f"token {token}"}
            )
            try:
                with urllib.request.urlopen(request, timeout=2) as response:
                    listing = json.loads(response.read())
                break
            except OSError:
                assert time.monotonic() < deadline, f"the lab did not answer in 120 s:\n{log.read_text()[-3000:]}"
                time.sleep(0.5)
        names = {item["name"] for item in listing["content"]}
        assert {p.name for p in COURSE.iterdir() if p.is_dir() and p.name.startswith("w")} <= names
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_prepare_instructor_registers_weeks_and_skips_unchanged_ones(tmp_path: Path) -> None:
    from nbgrader.api import Gradebook

    week = "w00_orientation"
    assert lab.prepare_instructor(tmp_path, [week]) == [week]
    build = tmp_path / "build"
    released = build / "release" / week / f"{week}.ipynb"
    assert (build / "source" / week / f"{week}.ipynb").exists() and released.exists()
    with Gradebook(f"sqlite:///{build / 'gradebook.db'}") as gradebook:
        assignment = gradebook.find_assignment(week)
        assert assignment.max_score > 0, "grade cells registered: the formgrader can autograde at once"
    stamp = released.stat().st_mtime_ns
    assert lab.prepare_instructor(tmp_path, [week]) == [week]
    assert released.stat().st_mtime_ns == stamp, "an unchanged week is not generated again"
    (build / f".generated-{week}").write_text("a source generated earlier (say, before `graders build`)")
    assert lab.prepare_instructor(tmp_path, [week]) == [week]
    assert released.stat().st_mtime_ns != stamp, "a source that was not the one generated is generated again"
