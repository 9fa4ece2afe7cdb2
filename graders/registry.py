"""Every graded exercise of the course, collected from ``graders/weeks/wNN_topic.py``.

Each week's module ``graders/weeks/wNN_topic.py`` defines ``EXERCISES: list[Exercise]``; the
module's name is the week. Other modules in ``graders/weeks/`` (names that do not start with
``wNN_``, such as ``fixtures.py``) hold helpers shared by several weeks' specs. Adding a week
means adding a module.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
import re

import graders.weeks
from graders.core import Exercise

WEEK_MODULE = re.compile(r"^w\d\d_[a-z0-9_]+$")


@functools.cache
def all_exercises() -> dict[str, Exercise]:
    """Exercise id → exercise, for every week, in course order."""
    found: dict[str, Exercise] = {}
    for info in sorted(pkgutil.iter_modules(graders.weeks.__path__), key=lambda m: m.name):
        if not WEEK_MODULE.match(info.name):
            continue
        module = importlib.import_module(f"graders.weeks.{info.name}")
        for exercise in module.EXERCISES:
            exercise.week = exercise.week or info.name
            if exercise.week != info.name:
                raise ValueError(f"{exercise.id} is defined in graders/weeks/{info.name}.py")
            if exercise.id in found:
                raise ValueError(f"duplicate exercise id {exercise.id}")
            found[exercise.id] = exercise
    return found


class UnknownExercise(KeyError):
    """No exercise has this id."""


def get_exercise(exercise_id: str) -> Exercise:
    """The exercise with this id, or :class:`UnknownExercise` listing close matches."""
    exercises = all_exercises()
    if exercise_id not in exercises:
        week = exercise_id.split(".")[0]
        near = [e for e in exercises if e.startswith(week)] or list(exercises)
        raise UnknownExercise(f"unknown exercise {exercise_id!r}; known ids include: {', '.join(near[:8])}")
    return exercises[exercise_id]


def week_exercises(week: str) -> list[Exercise]:
    """The exercises of one week, in the order they appear in its module."""
    return [e for e in all_exercises().values() if e.week == week]
