"""Helpers for the tests that prove the graders: correct-but-different answers and grading a source.

Alternatives (correct answers written differently from the reference) are only used by tests, so
they live with them, in ``tests/<week>/alternatives.py``, as real functions marked with
:func:`alternative`.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from graders.core import Exercise, Result, grade, run_cases, snippet_source
from graders.reference import REPO_ROOT, load_reference
from graders.source import namespace_from_source

T = TypeVar("T")


def alternative(function: str) -> Callable[[T], T]:
    """Mark a function (or class) as a correct answer to the exercise whose function is ``function``."""

    def mark(definition: T) -> T:
        definition.__alternative_for__ = function  # type: ignore[attr-defined]
        return definition

    return mark


def alternatives_of(exercise: Exercise) -> list[str]:
    """Sources of the correct-but-different answers to ``exercise`` in ``tests/<week>/alternatives.py``."""
    path = REPO_ROOT / "tests" / exercise.week / "alternatives.py"
    if not path.exists():
        return []
    module = _load(path, f"alternatives_{exercise.week}")
    return [
        snippet_source(obj, exercise.function)
        for obj in vars(module).values()
        if getattr(obj, "__alternative_for__", None) == exercise.function
    ]


def _load(path: Path, name: str) -> Any:
    import sys

    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def grade_source(exercise: Exercise, source: str, device: str = "cpu", hidden: bool = True) -> Result:
    """Grade a self-contained source (a mistake, an alternative) as the in-notebook check would."""
    fn = namespace_from_source(source)[exercise.function]
    cases = exercise.cases(include_hidden=hidden)
    reference = vars(load_reference(exercise.week))
    return grade(exercise, run_cases(exercise, fn, cases, device=device), cases, reference, answer_source=source)
