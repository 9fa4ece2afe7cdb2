"""Loading a week's reference implementation from its single source in ``solutions/``.

Graders, tests and later weeks all call :func:`load_reference`; nobody copies the code.
"""

from __future__ import annotations

import functools
import types
from pathlib import Path

from graders.source import definitions_from_file, namespace_from_source

REPO_ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = REPO_ROOT / "solutions"
COURSE = REPO_ROOT / "course"


def solution_source(week: str) -> Path:
    """The instructor source of a week: ``solutions/<week>/<week>.py``."""
    path = SOLUTIONS / week / f"{week}.py"
    if not path.exists():
        known = ", ".join(sorted(p.name for p in SOLUTIONS.iterdir() if p.is_dir())) if SOLUTIONS.exists() else ""
        raise FileNotFoundError(f"no solution source for week {week!r} at {path} (known weeks: {known})")
    return path


def released_notebook(week: str) -> Path:
    """The student version of a week, as released in ``course/<week>/<week>.ipynb``."""
    return COURSE / week / f"{week}.ipynb"


@functools.cache
def load_reference(week: str) -> types.SimpleNamespace:
    """The definitions (functions, classes, constants) of a week's solution, as a namespace.

    >>> w00 = load_reference("w00_orientation")
    >>> w00.log_softmax  # doctest: +SKIP
    """
    code, warnings = definitions_from_file(solution_source(week))
    if warnings:
        raise SyntaxError(f"solution source of {week} does not parse: {warnings}")
    namespace = namespace_from_source(code, name=f"reference:{week}")
    return types.SimpleNamespace(**{k: v for k, v in namespace.items() if not k.startswith("__")})
