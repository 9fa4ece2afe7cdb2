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


def _strip_ansi(lines: list[str]) -> str:
    import re

    return re.sub(r"\x1b\[[0-9;]*m", "", "\n".join(lines))


def test_failure_renders_for_people_without_grader_frames():
    exercise = all_exercises()["w00_orientation.log_softmax"]
    mistake = exercise.mistakes[0]
    wrong = namespace_from_source(mistake.source)["log_softmax"]
    with pytest.raises(CheckFailed) as info:
        check(exercise.id, wrong)
    assert info.value.result is not None and not info.value.result.passed
    rendered = info.value._render_traceback_()
    assert any("\x1b[" in line for line in rendered), "coloured for Jupyter"
    text = _strip_ansi(rendered)
    assert text.startswith(f"✗ {exercise.id} (0/{exercise.points} points):")
    assert "✗ on logits of shape [3, 4] with values near" in text, "the failing case"
    assert f"Likely mistake: {mistake.name}." in text
    assert f"Hint: {mistake.hint.split()[0]}" in text
    assert "Traceback" not in text and "notebook.py" not in text and "File " not in text


def test_in_a_kernel_a_failure_is_an_error_output_and_a_pass_shows_one_line():
    """What Jupyter (and nbgrader's Validate) sees: the error output carries the feedback only."""
    import nbclient
    import nbformat

    stub = "from graders import check\n\ndef log_softmax(logits, dim=-1):\n    raise NotImplementedError()\n"
    right = (
        "def log_softmax(logits, dim=-1):\n"
        "    shifted = logits - logits.amax(dim=dim, keepdim=True)\n"
        "    return shifted - shifted.exp().sum(dim=dim, keepdim=True).log()\n"
    )
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(stub),
        nbformat.v4.new_code_cell('check("w00_orientation.log_softmax", log_softmax)'),
        nbformat.v4.new_code_cell(right),
        nbformat.v4.new_code_cell('check("w00_orientation.log_softmax", log_softmax)'),
    ]
    nbclient.NotebookClient(nb, allow_errors=True, kernel_name="python3", timeout=120).execute()
    (error,) = nb.cells[1].outputs
    assert error.output_type == "error" and error.ename == "CheckFailed"
    text = _strip_ansi(error.traceback)
    assert text.startswith("✗ w00_orientation.log_softmax (0/2 points):")
    assert "NotImplementedError" in text and "notebook.py" not in text and "Traceback" not in text
    (passed,) = nb.cells[3].outputs  # the ✓ line, and no Result(...) repr after it
    assert passed.output_type == "stream"
    assert _strip_ansi([passed.text]).startswith("✓ w00_orientation.log_softmax (2/2 points):")
