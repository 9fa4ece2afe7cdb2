"""``graders autograde``: a small cohort graded in parallel and recorded as ``nbgrader autograde`` records it.

The cohort: a reference notebook (full marks), the untouched release (0), broken JSON and an empty
file (0 with a reason, listed, exit 0), and a hostile notebook whose functions signal the grader's
processes and write the gradebook through libc. Every other student's grade must be what it
would be without the hostile one, ``nbgrader export`` and ``nbgrader generate_feedback`` must work.
"""

from __future__ import annotations

import csv
import json
import sqlite3
from pathlib import Path

import pytest

from graders.cli import main
from graders.isolation import probe
from graders.registry import week_exercises
from graders.release import run_nbgrader, write_nbgrader_sources

WEEK = "w00_orientation"
REPORT = probe()


def _hostile(source: dict, gradebook: Path) -> dict:
    """The reference notebook, except that masked_mean (which no other answer calls) attacks the grader."""
    nb = json.loads(json.dumps(source))
    attack = (
        "import ctypes, os, signal\n\n"
        "def masked_mean(values, mask, dim=-1):\n"
        "    libc = ctypes.CDLL(None)\n"
        "    libc.kill(os.getppid(), 9)\n"
        "    libc.kill(-1, 9)\n"
        f"    fd = libc.open({str(gradebook).encode()!r}, 1)\n"
        "    libc.write(fd, b'garbage', 7)\n"
        "    os.kill(os.getppid(), signal.SIGKILL)\n"
        "    return values.mean(dim)\n"
    )
    cells = [c for c in nb["cells"] if "def masked_mean(" in "".join(c["source"])]
    assert cells and cells[0]["metadata"].get("nbgrader", {}).get("solution")
    cells[0]["source"] = attack
    return nb


@pytest.mark.slow
@pytest.mark.skipif(not REPORT.os_isolated, reason=f"bubblewrap cannot run here: {REPORT.bwrap_error}")
def test_parallel_cohort_is_recorded_like_nbgrader_autograde(tmp_path: Path, capsys):
    root = tmp_path / "course"
    write_nbgrader_sources(root, [WEEK])
    run_nbgrader(root, "generate_assignment", WEEK, "--force")
    source = json.loads((root / "source" / WEEK / f"{WEEK}.ipynb").read_text())
    release = json.loads((root / "release" / WEEK / f"{WEEK}.ipynb").read_text())
    gradebook = root / "gradebook.db"
    submissions = {
        "alice": json.dumps(source),
        "bob": json.dumps(release),
        "carol": '{"cells": [ {"cell_type": "code", "sou',
        "dave": "",
        "mallory": json.dumps(_hostile(source, gradebook)),
    }
    for student, text in submissions.items():
        folder = root / "submitted" / student / WEEK
        folder.mkdir(parents=True)
        (folder / f"{WEEK}.ipynb").write_text(text)

    code = main(["autograde", WEEK, "--jobs", "2", "--root", str(root), "--no-progress"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "could not be read" in out and "carol" in out and "dave" in out, out
    assert "mode: OS-isolated" in out

    with sqlite3.connect(gradebook) as db:  # still a gradebook
        assert db.execute("select count(*) from submitted_assignment").fetchone()[0] == 5

    run_nbgrader(root, "export", "--to", str(tmp_path / "grades.csv"))
    with open(tmp_path / "grades.csv") as f:
        scores = {row["student_id"]: float(row["score"]) for row in csv.DictReader(f)}
    total = float(sum(e.points for e in week_exercises(WEEK)))
    attacked = next(e.points for e in week_exercises(WEEK) if e.function == "masked_mean")
    assert scores["alice"] == total
    assert scores["bob"] == scores["carol"] == scores["dave"] == 0.0
    assert scores["mallory"] == total - attacked  # its other answers still count
    run_nbgrader(root, "generate_feedback", WEEK)
    feedback = (root / "feedback" / "carol" / WEEK / f"{WEEK}.html").read_text()
    assert "could not be read" in feedback
