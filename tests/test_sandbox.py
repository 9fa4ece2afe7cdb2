"""Bad input and hostile code get a clear message and lose nothing else."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from graders.reference import solution_source
from graders.sandbox import Limits, check_file

# every attack here must be stopped by the sandbox's own layers alone: the parent's static guard, which would
# refuse most of them first, is switched off (tests/test_guard.py proves it)
pytestmark = pytest.mark.usefixtures("without_static_guard")

FAST = Limits(wall_seconds=60, exercise_seconds=5, setup_seconds=30, cpu_seconds=60, memory_bytes=3 * 2**30)
GOOD_LOG_SOFTMAX = (
    "import torch\n\ndef log_softmax(logits, dim=-1):\n"
    "    s = logits - logits.amax(dim=dim, keepdim=True)\n"
    "    return s - s.exp().sum(dim=dim, keepdim=True).log()\n"
)


def _check(tmp_path: Path, code: str, *ids: str, name: str = "answer.py"):
    path = tmp_path / name
    path.write_text(code, encoding="utf-8")
    return check_file(path, list(ids or ["w00_orientation.log_softmax"]), FAST)


def _notebook(cells: list[str]) -> str:
    return json.dumps(
        {
            "cells": [
                {"cell_type": "code", "metadata": {}, "source": c, "outputs": [], "execution_count": None}
                for c in cells
            ],
            "metadata": {},
            "nbformat": 4,
            "nbformat_minor": 5,
        }
    )


def test_stderr_output_and_warnings_do_not_cost_points(tmp_path):
    code = GOOD_LOG_SOFTMAX.replace(
        "    s = logits",
        "    import sys, warnings\n    print('debug', file=sys.stderr)\n    warnings.warn('noisy')\n    s = logits",
    )
    (result,) = _check(tmp_path, code)
    assert result.passed, result.feedback


def test_infinite_loop_is_stopped_and_other_exercises_still_graded(tmp_path):
    code = GOOD_LOG_SOFTMAX + "\ndef masked_mean(values, mask, dim=-1):\n    while True:\n        pass\n"
    soft, mean = _check(tmp_path, code, "w00_orientation.log_softmax", "w00_orientation.masked_mean")
    assert soft.passed, soft.feedback
    assert not mean.passed and "infinite loop" in " ".join(mean.feedback)


def test_memory_hog_is_stopped(tmp_path):
    code = "import torch\n\ndef log_softmax(logits, dim=-1):\n    big = torch.ones(4 * 2**30, dtype=torch.float64)\n    return big\n"
    (result,) = _check(tmp_path, code)
    assert not result.passed
    assert "memory" in " ".join(result.feedback).lower() or "allocate" in " ".join(result.feedback).lower()


@pytest.mark.parametrize(
    "body, words",
    [
        ("import socket\n    socket.create_connection(('example.org', 80))", "network"),
        ("import subprocess\n    subprocess.run(['true'])", "starting processes"),
        ("import os\n    os.system('true')", "starting processes"),
        ("open('/tmp/sandbox-escape.txt', 'w').write('x')", "writing files outside"),
        (f"open({str(solution_source('w00_orientation'))!r}).read()", "reference solutions"),
    ],
)
def test_dangerous_operations_are_refused(tmp_path, body, words):
    code = f"def log_softmax(logits, dim=-1):\n    {body}\n    return logits\n"
    (result,) = _check(tmp_path, code)
    assert not result.passed
    assert words in " ".join(result.feedback), result.feedback
    assert not os.path.exists("/tmp/sandbox-escape.txt")


def test_code_at_class_definition_time_is_also_guarded(tmp_path):
    code = GOOD_LOG_SOFTMAX + "\nclass Evil:\n    import os\n    os.system('touch /tmp/sandbox-escape-2')\n"
    (result,) = _check(tmp_path, code)
    assert not result.passed and "starting processes" in " ".join(result.feedback)
    assert not os.path.exists("/tmp/sandbox-escape-2")


def test_malformed_notebook_is_a_zero_with_a_reason(tmp_path):
    (result,) = _check(tmp_path, '{"cells": [ {"cell_type": "code", "sou', name="broken.ipynb")
    assert not result.passed and "not a valid notebook" in result.feedback[0]


def test_syntax_error_in_one_cell_skips_only_that_cell(tmp_path):
    nb = _notebook(
        ["%matplotlib inline\n!pip list\n" + GOOD_LOG_SOFTMAX, "def masked_mean(values, mask dim=-1):\n    pass\n"]
    )
    soft, mean = _check(tmp_path, nb, "w00_orientation.log_softmax", "w00_orientation.masked_mean", name="nb.ipynb")
    assert soft.passed, soft.feedback
    assert not mean.passed
    assert "syntax error" in " ".join(mean.feedback)


def test_wrong_return_type_and_shape_are_explained(tmp_path):
    (wrong_type,) = _check(tmp_path, "def log_softmax(logits, dim=-1):\n    return 'hello'\n")
    assert "returned a str" in " ".join(wrong_type.feedback)
    (wrong_shape,) = _check(tmp_path, "def log_softmax(logits, dim=-1):\n    return logits.sum(dim)\n")
    assert "expected shape" in " ".join(wrong_shape.feedback)


def test_top_level_side_effects_are_not_run(tmp_path):
    code = "import torch\nraise SystemExit('boom')\nprint(undefined_name)\n" + GOOD_LOG_SOFTMAX
    (result,) = _check(tmp_path, code)
    assert result.passed, result.feedback


def test_library_shortcut_is_refused(tmp_path):
    code = "import torch\n\ndef log_softmax(logits, dim=-1):\n    return torch.log_softmax(logits, dim)\n"
    (result,) = _check(tmp_path, code)
    assert not result.passed and "`log_softmax`" in result.feedback[-1]
