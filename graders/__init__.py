"""The course's grading package.

- :func:`check` — the in-notebook check (instant feedback, on the student's device);
- :mod:`graders.sandbox` — authoritative grading of a file in a locked-down process;
- :mod:`graders.core` — exercises, cases, known mistakes, comparison and feedback;
- :mod:`graders.weeks` — one module of exercises per week;
- :mod:`graders.release` — source → nbgrader → ``course/``;
- ``graders`` on the command line (:mod:`graders.cli`).

The names below are imported on first use: importing ``graders`` alone loads nothing else, so the
grading sandbox, which holds only the few modules it needs (:data:`graders.sandbox.CHILD_MODULES`),
never loads the registry or the references.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from graders.core import Case, Exercise, Mistake, Result
    from graders.notebook import CheckFailed, check
    from graders.reference import load_reference

_WHERE = {
    "Case": "graders.core",
    "Exercise": "graders.core",
    "Mistake": "graders.core",
    "Result": "graders.core",
    "CheckFailed": "graders.notebook",
    "check": "graders.notebook",
    "load_reference": "graders.reference",
}

__all__ = ["Case", "CheckFailed", "Exercise", "Mistake", "Result", "check", "load_reference"]


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'graders' has no attribute {name!r}")
    value = getattr(importlib.import_module(_WHERE[name]), name)
    globals()[name] = value
    return value
