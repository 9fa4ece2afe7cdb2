"""Source → release: course/ is generated, up to date, and has the right nbgrader roles."""

from __future__ import annotations

import json

import pytest

from graders.reference import COURSE, SOLUTIONS
from graders.registry import all_exercises
from graders.release import INSTRUCTOR_ONLY, course_settings, setup_cell_source, source_notebook, stale_weeks, weeks

WEEKS = weeks()


def test_every_week_has_source_grader_and_release():
    graded_weeks = {e.week for e in all_exercises().values()}
    assert set(WEEKS) == graded_weeks, "each solution source needs a graders/weeks module and vice versa"
    for week in WEEKS:
        assert (COURSE / week / f"{week}.ipynb").exists(), f"run `graders build {week}`"


def test_instructor_only_files_are_never_released():
    leaked = [str(p.relative_to(COURSE)) for p in COURSE.rglob("*") if p.name in INSTRUCTOR_ONLY]
    assert leaked == [], f"instructor-only files in course/: {leaked}"
    assert any((SOLUTIONS / w / name).exists() for w in WEEKS for name in INSTRUCTOR_ONLY), "nothing to guard"


def test_course_is_not_stale():
    assert stale_weeks() == [], "course/ differs from a fresh build: run `graders build` and commit course/"


@pytest.mark.parametrize("week", WEEKS)
def test_grade_cells_carry_the_registry_points_and_solutions_are_stripped(week):
    released = json.loads((COURSE / week / f"{week}.ipynb").read_text(encoding="utf-8"))
    text = json.dumps(released)
    assert "### BEGIN SOLUTION" not in text and "### BEGIN HIDDEN TESTS" not in text
    assert "hidden=True" not in text, "hidden checks leaked into the student notebook"
    points = {e.id: e.points for e in all_exercises().values() if e.week == week}
    grade_cells = [c for c in released["cells"] if c["metadata"].get("nbgrader", {}).get("grade")]
    seen = {}
    for cell in grade_cells:
        source = "".join(cell["source"])
        (exercise_id,) = {i for i in points if f'"{i}"' in source}
        seen[exercise_id] = cell["metadata"]["nbgrader"]["points"]
        assert cell["metadata"]["nbgrader"]["locked"] is True
    assert seen == points, "every exercise needs exactly one check cell worth its points"
    solution_cells = [c for c in released["cells"] if c["metadata"].get("nbgrader", {}).get("solution")]
    assert len(solution_cells) >= len(points)
    for cell in solution_cells:
        assert "raise NotImplementedError()" in "".join(cell["source"])


@pytest.mark.parametrize("week", WEEKS)
def test_first_cell_is_the_colab_setup_and_a_noop_locally(week):
    nb = source_notebook(week)
    first = "".join(nb["cells"][0]["source"])
    assert first == setup_cell_source(week)
    assert course_settings()["repo_url"] in first
    namespace: dict = {}
    exec(compile(first, "<setup>", "exec"), namespace)  # not on Colab: must do nothing
    assert "os" not in namespace


def test_build_is_idempotent_and_deterministic():
    week = WEEKS[0]
    assert source_notebook(week) == source_notebook(week)
    assert (SOLUTIONS / week / f"{week}.py").exists()


def test_readme_syllabus_is_current():
    from graders.reference import REPO_ROOT
    from graders.syllabus import render_readme

    text = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    assert render_readme(text) == text, "README.md's syllabus is stale: run `python -m graders.syllabus`"


def test_readme_gives_exactly_the_two_commands_and_ci_runs_the_test_one():
    from graders.reference import REPO_ROOT

    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    block = readme.split("```bash", 1)[1].split("```", 1)[0]
    commands = [line.split("#")[0].strip() for line in block.strip().splitlines()]
    assert commands == ["make lab", "make test"]
    assert "make test" in (REPO_ROOT / ".ci" / "run").read_text(encoding="utf-8")
