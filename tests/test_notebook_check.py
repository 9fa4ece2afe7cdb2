"""The in-notebook check: instant feedback, on the student's device, never a bare AssertionError."""

from __future__ import annotations

import pytest

from graders import CheckFailed, check, load_reference
from graders.registry import all_exercises
from graders.source import namespace_from_source


def test_reference_passes_the_notebook_check_on_every_device(device, capsys):
    for exercise in all_exercises().values():
        if exercise.week != "w00_orientation":
            continue
        fn = getattr(load_reference(exercise.week), exercise.function)
        result = check(exercise.id, fn, hidden=True, device=device)
        assert result.passed
    assert "✓" in capsys.readouterr().out


def test_wrong_answer_raises_checkfailed_naming_the_mistake(device):
    exercise = all_exercises()["w00_orientation.log_softmax"]
    wrong = namespace_from_source(exercise.mistakes[0].source)["log_softmax"]
    with pytest.raises(CheckFailed) as info:
        check(exercise.id, wrong, device=device)
    message = str(info.value)
    assert exercise.mistakes[0].name in message
    assert "values near ±1000" in message, "the failing input is described"


def test_self_contained_hint_for_notebook_globals():
    def masked_mean(values, mask, dim=-1):
        return (values * mask).sum(dim) / undefined_count  # noqa: F821

    with pytest.raises(CheckFailed, match="self-contained"):
        check("w00_orientation.masked_mean", masked_mean)


def test_unknown_id_and_non_callable_are_explained():
    from graders.registry import UnknownExercise

    with pytest.raises(UnknownExercise, match="known ids include"):
        check("w00_orientation.softmax", lambda x: x)
    with pytest.raises(CheckFailed, match="expected your function"):
        check("w00_orientation.log_softmax", 3)
