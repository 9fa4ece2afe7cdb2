"""The command-line contract other tools rely on: `graders list --json` and `graders check` (one exercise
or a whole week)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from graders.reference import released_notebook, solution_source
from graders.registry import all_exercises


def _graders(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "graders.cli", *args], capture_output=True, text=True, timeout=300)


def test_list_json_has_every_exercise():
    proc = _graders("list", "--json")
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)
    assert {r["id"] for r in rows} == set(all_exercises())
    for row in rows:
        assert row["week"] == row["id"].split(".")[0]
        assert isinstance(row["points"], int) and row["points"] > 0


def test_check_json_contract_on_reference_and_stub():
    ok = _graders("check", "w00_orientation.log_softmax", str(solution_source("w00_orientation")), "--json")
    assert ok.returncode == 0, ok.stderr
    result = json.loads(ok.stdout)
    assert {"exercise", "points", "max_points", "passed", "feedback"} <= set(result)
    assert result["passed"] is True and result["points"] == result["max_points"] == 2
    assert isinstance(result["feedback"], list) and all(isinstance(f, str) for f in result["feedback"])

    stub = _graders("check", "w00_orientation.log_softmax", str(released_notebook("w00_orientation")), "--json")
    assert stub.returncode == 0, "a failing answer still exits 0"
    result = json.loads(stub.stdout)
    assert result["passed"] is False and result["points"] == 0
    assert "NotImplementedError" in " ".join(result["feedback"])


def test_wrong_calls_exit_nonzero_with_one_line(tmp_path: Path):
    answer = tmp_path / "a.py"
    answer.write_text("def log_softmax(x, dim=-1):\n    return x\n")
    for args in (
        ("check", "w00_orientation.no_such_function", str(answer)),
        ("check", "w99_nothing.f", str(answer)),
        ("check", "w99_nothing", str(answer)),
        ("check", "w00_orientation", str(tmp_path / "missing.ipynb")),
        ("check", "w00_orientation.log_softmax", str(tmp_path / "missing.py")),
        ("check", "w00_orientation.log_softmax", str(tmp_path)),
    ):
        proc = _graders(*args, "--json")
        assert proc.returncode != 0, args
        assert proc.stdout == ""
        assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr


def test_partial_answers_get_per_exercise_verdicts(tmp_path: Path):
    answer = tmp_path / "partial.py"
    answer.write_text("import torch\n\ndef masked_mean(values, mask, dim=-1):\n    return values.mean(dim)\n")
    proc = _graders("check", "w00_orientation.masked_mean", str(answer), "--json")
    result = json.loads(proc.stdout)
    assert not result["passed"]
    assert any("forgot the mask" in line for line in result["feedback"])
    missing = json.loads(_graders("check", "w00_orientation.log_softmax", str(answer), "--json").stdout)
    assert not missing["passed"] and "no definition of `log_softmax`" in missing["feedback"][0]


def test_week_check_grades_every_exercise_in_one_run(tmp_path: Path):
    from graders.registry import week_exercises

    answer = tmp_path / "mine.py"
    answer.write_text(
        "import torch\n\n"
        "def log_softmax(logits, dim=-1):\n"
        "    shifted = logits - logits.amax(dim=dim, keepdim=True)\n"
        "    return shifted - shifted.exp().sum(dim=dim, keepdim=True).log()\n\n"
        "def masked_mean(values, mask, dim=-1):\n"
        "    return values.mean(dim)\n"
    )
    exercises = week_exercises("w00_orientation")
    proc = _graders("check", "w00_orientation", str(answer), "--json")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["week"] == "w00_orientation"
    assert [r["exercise"] for r in summary["results"]] == [e.id for e in exercises]
    verdicts = {r["exercise"]: r["passed"] for r in summary["results"]}
    assert verdicts.pop("w00_orientation.log_softmax") is True
    assert not any(verdicts.values()), "wrong and missing answers fail"
    masked = next(r for r in summary["results"] if r["exercise"] == "w00_orientation.masked_mean")
    assert any("forgot the mask" in line for line in masked["feedback"])
    assert summary["points"] == 2 and summary["max_points"] == sum(e.points for e in exercises)
    assert summary["passed"] == 1 and summary["exercises"] == len(exercises)

    table = _graders("check", "w00_orientation", str(answer))
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0].startswith("✓ w00_orientation.log_softmax") and " 2/2 " in lines[0]
    assert any(line.startswith("✗ w00_orientation.masked_mean") for line in lines)
    total = next(line for line in lines if line.split()[:1] == ["total"])
    assert f"2/{summary['max_points']:g}" in total and f"1 of {len(exercises)} exercises pass" in total
