"""The in-notebook check: instant, specific feedback on the student's own device.

``check("w00_orientation.log_softmax", log_softmax)`` runs the answer on the exercise's cases,
compares with the reference and prints what went wrong. It is for learning, not for grades:
authoritative grades come from :mod:`graders.sandbox`, which never trusts the notebook's process.
"""

from __future__ import annotations

import inspect
import textwrap
from collections.abc import Callable
from typing import Any

import torch

from graders.core import Result, grade, run_cases
from graders.reference import load_reference
from graders.registry import get_exercise


class CheckFailed(Exception):
    """Raised by :func:`check` when an answer is wrong; its message is the feedback."""


def _source_of(answer: Any) -> str | None:
    try:
        return textwrap.dedent(inspect.getsource(answer))
    except (OSError, TypeError):
        return None


def check(
    exercise_id: str,
    answer: Callable[..., Any],
    hidden: bool = False,
    device: torch.device | str | None = None,
    quiet: bool = False,
) -> Result:
    """Check ``answer`` against exercise ``exercise_id``; raise :class:`CheckFailed` if it is wrong.

    ``hidden=True`` also runs the cases that the autograder keeps for itself. ``device`` defaults
    to the GPU when there is one.
    """
    from courselib.device import get_device

    exercise = get_exercise(exercise_id)
    if not callable(answer):
        raise CheckFailed(f"{exercise_id}: expected your function `{exercise.function}`, got {type(answer).__name__}")
    device = device or get_device()
    cases = exercise.cases(include_hidden=hidden)
    outcomes = run_cases(exercise, answer, cases, device=device)
    result = grade(exercise, outcomes, cases, vars(load_reference(exercise.week)), answer_source=_source_of(answer))
    message = "\n".join(result.feedback)
    if not result.passed:
        raise CheckFailed("\n" + message)
    if not quiet:
        print(message + f" ({result.points:g}/{result.max_points:g} points, device: {device})")
    return result
