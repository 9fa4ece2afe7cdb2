"""Every week reads like a chapter (docs/AUTHORING.md): the parts of the scaffolding a test can see.

- every graded exercise is preceded by its difficulty/importance/time line and ≥ 2 collapsible hints;
- learning objectives, a ☆ Bonus section and interview questions exist;
- the instructor's answer key answers every interview question;
- at least one graded integration exercise (the student writes a training or evaluation loop).
"""

from __future__ import annotations

import re

import pytest

from graders.reference import solution_source
from graders.registry import all_exercises, week_exercises

WEEKS = sorted({e.week for e in all_exercises().values()})
HEADER = re.compile(r"\*\*Difficulty\*\* [🔴⚪]{5} · \*\*Importance\*\* [🔵⚪]{5} · \*\*Time\*\* ~\d+")
CHECK = re.compile(r'^check\("([\w.]+)"', re.MULTILINE)


def _markdown_and_checks(week: str) -> list[tuple[str, str]]:
    """(markdown since the previous check, id of the check) for every first check of an exercise."""
    text = solution_source(week).read_text(encoding="utf-8")
    cells = re.split(r"^# %%", text, flags=re.MULTILINE)
    pending: list[str] = []
    seen: set[str] = set()
    out = []
    for cell in cells:
        if cell.startswith(" [markdown]"):
            pending.append(cell)
            continue
        for exercise_id in CHECK.findall(cell):
            if exercise_id not in seen:
                seen.add(exercise_id)
                out.append(("\n".join(pending), exercise_id))
                pending = []
    return out


@pytest.mark.parametrize("week", WEEKS)
def test_every_exercise_has_difficulty_time_and_progressive_hints(week):
    checked = _markdown_and_checks(week)
    assert {i for _, i in checked} == {e.id for e in week_exercises(week)}, "every exercise needs a check cell"
    for markdown, exercise_id in checked:
        assert HEADER.search(markdown), f"{exercise_id}: no '**Difficulty** … · **Importance** … · **Time** ~N' line"
        hints = re.findall(r"<details><summary>Hint", markdown)
        assert len(hints) >= 2, f"{exercise_id}: needs ≥ 2 collapsible hints, found {len(hints)}"


@pytest.mark.parametrize("week", WEEKS)
def test_chapter_parts_exist(week):
    text = solution_source(week).read_text(encoding="utf-8")
    assert "**Learning objectives**" in text, "no learning objectives"
    assert re.search(r"^# #+ .*☆ Bonus", text, re.MULTILINE), "no '☆ Bonus' section heading"
    assert re.search(r"^# #+ .*[Ii]nterview questions", text, re.MULTILINE), "no interview questions section"
    assert re.search(r"[Pp]redict, then run", text), "no 'Predict, then run' before an experiment"


@pytest.mark.parametrize("week", WEEKS)
def test_answer_key_answers_every_interview_question(week):
    text = solution_source(week).read_text(encoding="utf-8")
    section = re.split(r"^# #+ .*[Ii]nterview questions.*$", text, flags=re.MULTILINE)[-1]
    questions = re.findall(r"^# (\d+)\. ", section.split("\n# %%")[0], re.MULTILINE)
    assert questions, "the interview questions section lists no numbered questions"
    key = solution_source(week).parent / "interview_answers.md"
    assert key.exists(), f"no instructor answer key at {key}"
    answers = key.read_text(encoding="utf-8")
    for number in questions:
        assert re.search(rf"^#+ {number}\.", answers, re.MULTILINE), f"the answer key has no answer '### {number}.'"
    assert "(seed 8-" in answers, "answers are not mapped to the seed outline's interview questions"


@pytest.mark.parametrize("week", WEEKS)
def test_week_has_a_graded_integration_exercise(week):
    assert any(e.summary.startswith("integration:") for e in week_exercises(week)), (
        f"{week} has no graded integration exercise (an Exercise whose summary starts with 'integration:')"
    )
