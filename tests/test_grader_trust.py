"""Grader trust, for every graded exercise of every week (picked up from the registry).

- the reference earns full points, on every device we have;
- the untouched released stub earns 0 (through the sandbox, as the autograder runs it);
- at least five plausible wrong implementations are rejected, each with feedback naming it;
- at least one correct-but-different implementation (``tests/<week>/alternatives.py``) passes;
- every mistake and alternative is self-contained source, graded as a student's file would be.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from graders.core import grade, run_cases
from graders.reference import load_reference, released_notebook, solution_source
from graders.registry import all_exercises, week_exercises
from graders.sandbox import check_file
from graders.testing import alternatives_of, grade_source

EXERCISES = list(all_exercises().values())
IDS = [e.id for e in EXERCISES]
WEEKS = sorted({e.week for e in EXERCISES})


@pytest.mark.parametrize("exercise", EXERCISES, ids=IDS)
def test_reference_earns_full_points(exercise, device):
    fn = getattr(load_reference(exercise.week), exercise.function)
    cases = exercise.cases()
    reference = vars(load_reference(exercise.week))
    result = grade(exercise, run_cases(exercise, fn, cases, device=device), cases, reference)
    assert result.passed, result.feedback
    assert result.points == exercise.points


@pytest.mark.parametrize("exercise", EXERCISES, ids=IDS)
def test_catalogue_of_mistakes_is_rejected_and_named(exercise):
    assert len(exercise.mistakes) >= 5, f"{exercise.id} needs at least five known mistakes"
    names = [m.name for m in exercise.mistakes]
    assert len(set(names)) == len(names), "mistake names must be distinct"
    for mistake in exercise.mistakes:
        result = grade_source(exercise, mistake.source)
        assert not result.passed, f"{exercise.id}: the mistake {mistake.name!r} passed the grader"
        assert result.points == 0
        assert any(mistake.name in line for line in result.feedback), (
            f"{exercise.id}: feedback for {mistake.name!r} does not name it: {result.feedback}"
        )


@pytest.mark.parametrize("exercise", EXERCISES, ids=IDS)
def test_correct_but_different_answers_pass(exercise):
    sources = alternatives_of(exercise)
    assert sources, f"{exercise.id} needs a correct-but-different alternative in tests/{exercise.week}/alternatives.py"
    for source in sources:
        result = grade_source(exercise, source)
        assert result.passed, f"{exercise.id}: a correct alternative was rejected: {result.feedback}"


@pytest.mark.parametrize("exercise", EXERCISES, ids=IDS)
def test_every_case_is_deterministic_and_has_hidden_ones(exercise):
    first, second = exercise.cases(), exercise.cases()
    assert [c.describe for c in first] == [c.describe for c in second]
    assert any(c.hidden for c in first), f"{exercise.id} has no hidden case for the autograder"
    assert any(not c.hidden for c in first), f"{exercise.id} has no visible case for the notebook check"


@pytest.mark.parametrize("week", WEEKS)
def test_sandbox_gives_reference_full_and_stub_zero(week):
    ids = [e.id for e in week_exercises(week)]
    for result in check_file(solution_source(week), ids):
        assert result.passed, result.feedback
    stub = released_notebook(week)
    assert stub.exists(), f"{stub} is missing: run `graders build {week}`"
    for result in check_file(stub, ids):
        assert not result.passed and result.points == 0, result.feedback
        assert any("NotImplementedError" in line for line in result.feedback), result.feedback


@pytest.mark.parametrize("week", WEEKS)
def test_sandbox_names_a_mistake_like_the_notebook_check(week, tmp_path: Path):
    """The first catalogued mistake of each exercise, all in one file, through the sandbox."""
    exercises = week_exercises(week)
    path = tmp_path / "mistakes.py"
    path.write_text("\n\n".join(e.mistakes[0].source for e in exercises), encoding="utf-8")
    for exercise, result in zip(exercises, check_file(path, [e.id for e in exercises])):
        assert not result.passed, f"{exercise.id}: {exercise.mistakes[0].name} passed in the sandbox"
        assert any(exercise.mistakes[0].name in line for line in result.feedback), result.feedback
