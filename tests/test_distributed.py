"""``graders autograde WEEK --scheduler ADDRESS``: a cohort graded on a Dask cluster of separate worker
processes (``LocalCluster(processes=True)``), recorded in nbgrader's gradebook by this one process.

- one worker is killed (SIGKILL to its process) while it grades: no grade is lost, the summary
  names the submission that was graded again elsewhere, and every recorded grade is the one the
  same notebook gets when graded on this machine (a grade does not depend on the worker);
- a cluster whose workers would grade with other code is refused before anything is sent.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from graders.isolation import probe
from graders.registry import week_exercises
from graders.release import run_nbgrader, write_nbgrader_sources

distributed = pytest.importorskip("distributed")

WEEK = "w00_orientation"
REPORT = probe()
pytestmark = pytest.mark.skipif(not REPORT.os_isolated, reason=f"bubblewrap cannot run here: {REPORT.bwrap_error}")


def _forgot_the_mask(source: dict) -> dict:
    """The reference notebook, except that masked_mean (which no other answer calls) averages the padding too
    (a named mistake of week 0)."""
    nb = json.loads(json.dumps(source))
    for cell in nb["cells"]:
        text = "".join(cell["source"])
        if "def masked_mean(" in text and cell["metadata"].get("nbgrader", {}).get("solution"):
            cell["source"] = text + "\n\ndef masked_mean(values, mask, dim=-1):\n    return values.mean(dim)\n"
            return nb
    raise AssertionError("no solution cell defines masked_mean")


@pytest.fixture(scope="module")
def cluster() -> Any:
    from distributed import Client, LocalCluster

    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0", silence_logs=40
        ) as local,
        Client(local) as client,
    ):
        yield client


@pytest.fixture(scope="module")
def course(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    root = tmp_path_factory.mktemp("dask") / "course"
    write_nbgrader_sources(root, [WEEK])
    run_nbgrader(root, "generate_assignment", WEEK, "--force")
    source = json.loads((root / "source" / WEEK / f"{WEEK}.ipynb").read_text())
    release = json.loads((root / "release" / WEEK / f"{WEEK}.ipynb").read_text())
    kinds = {
        "right": json.dumps(source),
        "stub": json.dumps(release),
        "mask": json.dumps(_forgot_the_mask(source)),
        "empty": "",
    }
    students = {
        f"s{i:02d}": kind for i, kind in enumerate(["right", "stub", "mask", "right", "mask", "right", "empty"])
    }
    for student, kind in students.items():
        folder = root / "submitted" / student / WEEK
        folder.mkdir(parents=True)
        (folder / f"{WEEK}.ipynb").write_text(kinds[kind])
    return root, students


def _export(root: Path, out: Path) -> dict[str, float]:
    run_nbgrader(root, "export", "--to", str(out))
    with open(out) as f:
        return {row["student_id"]: float(row["score"]) for row in csv.DictReader(f)}


@pytest.mark.slow
def test_a_worker_killed_mid_run_loses_no_grade(cluster: Any, course: tuple[Path, dict[str, str]], tmp_path: Path):
    from graders.distributed import START_TOPIC, autograde_on_cluster
    from graders.sandbox import check_file

    root, students = course
    outcome: dict[str, Any] = {}

    def grade() -> None:
        try:
            outcome["summary"] = autograde_on_cluster(WEEK, cluster.scheduler.address, course_root=root, progress=False)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the test's thread
            outcome["error"] = exc

    pids = set(cluster.run(os.getpid).values())
    runner = threading.Thread(target=grade)
    runner.start()
    deadline = time.monotonic() + 300
    victim = None
    while victim is None and time.monotonic() < deadline and runner.is_alive():
        events = [e for _t, e in cluster.get_events(START_TOPIC) if e["pid"] in pids]
        if events:
            victim = events[0]
            os.kill(victim["pid"], signal.SIGKILL)  # the worker process, mid-grading (its sandbox dies with it)
        time.sleep(0.05)
    runner.join(600)
    assert victim is not None, "no worker started grading"
    assert "error" not in outcome, outcome.get("error")
    summary = outcome["summary"]
    text = summary.text()

    name = victim["submission"].split(":", 1)[1]
    assert name in summary.regraded, text
    assert f"regraded: {len(summary.regraded)} submission(s)" in text
    assert not summary.lost and not summary.nbgrader_errors, text
    assert summary.graded_by[name] != victim["worker"]  # graded elsewhere (the killed process's address is gone)

    points = {e.function: e.points for e in week_exercises(WEEK)}
    total = float(sum(points.values()))
    expected = {"right": total, "stub": 0.0, "mask": total - points["masked_mean"], "empty": 0.0}
    scores = _export(root, tmp_path / "grades.csv")
    assert scores == {s: expected[k] for s, k in students.items()}

    # the grade does not depend on which worker graded: the same verdicts, word for word, as here
    by_student = {s.student: s for s in summary.submissions}
    for student in ("s00", "s02"):
        sub = by_student[student]
        local = check_file(sub.path, sub.exercise_ids)
        assert [r.to_json() for r in sub.results] == [r.to_json() for r in local]
    mask = next(r for r in by_student["s02"].results if r.exercise.endswith(".masked_mean"))
    assert not mask.passed and "forgot the mask" in " ".join(mask.feedback), mask.feedback


def test_workers_with_other_code_are_refused(cluster: Any, course: tuple[Path, dict[str, str]], monkeypatch):
    from graders import distributed as dist

    root, _ = course
    monkeypatch.setattr(dist, "_FINGERPRINT", "0000 (another checkout)")
    with pytest.raises(dist.ClusterMismatch, match="other code or versions"):
        dist.autograde_on_cluster(WEEK, cluster, course_root=root, progress=False, force=True)


def test_results_travel_as_checked_json():
    from graders.core import Result
    from graders.distributed import result_from_json

    result = Result("w00_orientation.log_softmax", 1.0, 1.0, True, ["✓ fine"])
    assert result_from_json(json.loads(json.dumps(result.to_json()))) == result
    with pytest.raises(ValueError):
        result_from_json({**result.to_json(), "extra": 1})


@pytest.mark.slow
def test_the_command_line_grades_on_the_cluster(cluster: Any, course: tuple[Path, dict[str, str]], capsys):
    from graders.cli import main

    root, students = course
    code = main(
        ["autograde", WEEK, "--scheduler", cluster.scheduler.address, "--root", str(root), "--no-progress", "--force"]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    assert f"graded {len(students) - 1} submission(s), 1 could not be read" in out, out
    assert "Dask cluster at tcp://" in out and "OS-isolated" in out, out
    assert "regraded: 0 (no worker was lost while grading)" in out, out


def test_a_worker_without_the_sandbox_is_refused():
    """Checked before anything is sent (a stand-in for the client: the workers' answers are given)."""
    from graders.distributed import _check_cluster, fingerprint
    from graders.isolation import IsolationUnavailable

    info = {
        "address": "tcp://w:1",
        "host": "w",
        "fingerprint": fingerprint(),
        "os_isolated": False,
        "why_not": "no bwrap",
    }

    class Client:
        def scheduler_info(self, n_workers: int = -1) -> dict:
            return {"workers": {"tcp://w:1": {}}}

        def submit(self, *args: Any, **kwargs: Any) -> None:
            return None

        def gather(self, futures: list) -> list:
            return [dict(info, mode="UNISOLATED (--allow-unisolated)")]

    with pytest.raises(IsolationUnavailable, match="no bwrap"):
        _check_cluster(Client(), allow_unisolated=False)
    assert _check_cluster(Client(), allow_unisolated=True)[0]["address"] == "tcp://w:1"
