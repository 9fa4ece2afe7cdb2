"""What the parent sends the grading worker: every exercise's cases arrive intact, with no spec code.

The worker never imports the spec modules: the parent builds the cases and sends them as JSON +
safetensors with each exercise's settings and the self-contained source of its call adapter and
fixtures (:mod:`graders.payload`). These tests decode that payload here, as the worker does, and
compare it with the cases the parent grades with.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
import torch

from graders.core import _default_call, forbidden_library_uses
from graders.registry import all_exercises
from graders.sandbox import _parent_cases, load_payload, worker_payload


def _same(a: Any, b: Any, path: str = "") -> None:
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and a.dtype == b.dtype and a.shape == b.shape, path
        assert torch.equal(a.nan_to_num(), b.nan_to_num()) and torch.equal(a.isnan(), b.isnan()), path
    elif isinstance(a, (tuple, list)):
        assert type(a) is type(b) and len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)):
            _same(x, y, f"{path}[{i}]")
    elif isinstance(a, dict):
        assert isinstance(b, dict) and list(a) == list(b), path
        for k in a:
            _same(a[k], b[k], f"{path}[{k!r}]")
    elif callable(a) and not isinstance(a, type) and hasattr(a, "__code__"):
        assert b.__name__ == a.__name__ and b.__module__.startswith("grader_fixtures"), path  # sent as source
    elif type(a).__module__.startswith("graders.weeks."):
        assert type(b).__name__ == type(a).__name__ and type(b).__module__.startswith("grader_fixtures"), path
        _same(vars(a), vars(b), path)
    else:
        assert type(a) is type(b) and (a == b or a != a), (path, a, b)


def _tensor_ids(obj: Any) -> list[int]:
    if isinstance(obj, torch.Tensor):
        return [id(obj)]
    if isinstance(obj, (tuple, list)):
        return [i for o in obj for i in _tensor_ids(o)]
    if isinstance(obj, dict):
        return [i for o in obj.values() for i in _tensor_ids(o)]
    return []


@pytest.fixture(scope="module")
def decoded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder: Path = tmp_path_factory.mktemp("payload")
    text, tensors = worker_payload(list(all_exercises()))
    (folder / "payload.json").write_text(text, encoding="utf-8")
    (folder / "payload.safetensors").write_bytes(tensors)
    assert "graders.weeks" not in text and "mistake(" not in text
    return load_payload(folder)


@pytest.mark.parametrize("exercise_id", list(all_exercises()))
def test_cases_and_settings_arrive_intact(decoded, exercise_id):
    exercise = all_exercises()[exercise_id]
    sent, cases = decoded["exercises"][exercise_id], decoded["cases"][exercise_id]
    assert sent.id == exercise.id and (sent.call is _default_call) == (exercise.call is _default_call)
    for f in dataclasses.fields(exercise):
        # the drawn cases travel among the cases; the child never draws again
        if f.name not in ("make_cases", "mistakes", "call", "random_case"):
            assert getattr(sent, f.name) == getattr(exercise, f.name), f.name
    originals = _parent_cases(exercise)
    assert len(cases) == len(originals)
    for original, case in zip(originals, cases):
        for f in dataclasses.fields(original):
            _same(getattr(original, f.name), getattr(case, f.name), f"{exercise_id} {case.describe} {f.name}")
        # a tensor that appears twice in a case (tied weights) is still one tensor
        ids, sent_ids = _tensor_ids((original.args, original.kwargs)), _tensor_ids((case.args, case.kwargs))
        assert len(set(ids)) == len(set(sent_ids)), exercise_id


def test_shipped_sources_define_only_what_the_cases_and_adapters_use(decoded):
    """The fixture sources hold no registered mistake and no spec module's answer helper."""
    text, _ = worker_payload(list(all_exercises()))
    for exercise in all_exercises().values():
        for mistake in exercise.mistakes:
            assert f"def {mistake.definition.__name__}(" not in text, (exercise.id, mistake.name)
    for helper in ("_batch_dpo", "_dpo_step", "_loop", "_play", "_rm_step", "_sae_step", "_kappa", "_gae"):
        assert f"def {helper}(" not in text, helper


def test_static_check_of_forbidden_courselib_functions():
    names = ("courselib.world.harness.run_task", "courselib.world.bias.bbq_scores")
    cases = {
        "from courselib.world.harness import run_task as go\ndef f(t, m):\n    return go(t, m)\n": [names[0]],
        "import courselib.world.harness as h\ndef f(t, m):\n    return h.run_task(t, m)\n": [names[0]],
        "from courselib.world import bias\ndef g(x):\n    return bias.bbq_scores(*x)\ndef f(x):\n    return g(x)\n": [
            names[1]
        ],
        "import courselib\ndef f(t, m):\n    return courselib.world.harness.run_task(t, m)\n": [names[0]],
        "def run_task(t, m):\n    return t\ndef f(t, m):\n    return run_task(t, m)\n": [],  # the student's own
        "from courselib.world.harness import run_task\ndef f(t, m):\n    return t\n": [],  # imported, unused
    }
    for source, expected in cases.items():
        assert forbidden_library_uses(source, "f", names) == expected, source
