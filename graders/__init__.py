"""The course's grading package.

- :func:`check` — the in-notebook check (instant feedback, on the student's device);
- :mod:`graders.sandbox` — authoritative grading of a file in a locked-down process;
- :mod:`graders.core` — exercises, cases, known mistakes, comparison and feedback;
- :mod:`graders.weeks` — one module of exercises per week;
- :mod:`graders.release` — source → nbgrader → ``course/``;
- ``graders`` on the command line (:mod:`graders.cli`).
"""

from graders.core import Case, Exercise, Mistake, Result
from graders.notebook import CheckFailed, check
from graders.reference import load_reference

__all__ = ["Case", "CheckFailed", "Exercise", "Mistake", "Result", "check", "load_reference"]
