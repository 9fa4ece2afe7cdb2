"""The command-line contract other tools rely on: `graders list --json` and `graders check`."""

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
