"""The in-notebook check: instant, specific feedback on the student's own device.

``check("w00_orientation.log_softmax", log_softmax)`` runs the answer on the exercise's cases,
compares with the reference and shows what went wrong. It is for learning, not for grades:
authoritative grades come from :mod:`graders.sandbox`, which never trusts the notebook's process.

A failing check raises :class:`CheckFailed`, so the cell ends in an error (Run All stops there,
and nbgrader's *Validate* lists the cell as failing). In IPython and Jupyter the error shows the
feedback alone, with colours: a ✗ line with the points, the failing cases, the named mistake and
its hint, and no traceback frames from the grader (``CheckFailed._render_traceback_``).
"""

from __future__ import annotations

import inspect
import sys
import textwrap
from collections.abc import Callable
from typing import Any

import torch

from graders.core import Result, grade, run_cases
from graders.reference import load_reference
from graders.registry import get_exercise

WIDTH = 100  # feedback lines are wrapped to this many columns, continuation lines indented

_RESET = "\x1b[0m"
_BOLD_RED = "\x1b[1;31m"
_BOLD_GREEN = "\x1b[1;32m"
_RED = "\x1b[31m"
_BOLD = "\x1b[1m"
_BOLD_MAGENTA = "\x1b[1;35m"
_DIM = "\x1b[2m"


def _paint(text: str, style: str, color: bool) -> str:
    return f"{style}{text}{_RESET}" if color and text else text


def _wrap(prefix: str, style: str, rest: str, color: bool, indent: str = "") -> list[str]:
    """``prefix`` (styled) followed by ``rest``, wrapped to :data:`WIDTH` with a hanging indent.

    Lines after a newline in ``rest`` (a multi-line error message) are kept as they are, indented.
    """
    rest, *verbatim = rest.split("\n")
    plain = indent + prefix + rest
    lines = textwrap.wrap(
        plain,
        WIDTH,
        subsequent_indent=indent + "    ",
        break_long_words=False,
        break_on_hyphens=False,
    ) or [plain]
    head = indent + prefix
    if prefix and lines[0].startswith(head):
        lines[0] = indent + _paint(prefix, style, color) + lines[0][len(head) :]
    return lines + [indent + "    " + line.rstrip() for line in verbatim if line.strip()]


def _summary(result: Result, device: torch.device | str | None) -> tuple[str, str]:
    """The first line of the feedback with the points put in: (``✗ id (0/2 points):``, rest)."""
    mark = "✓" if result.passed else "✗"
    first = result.feedback[0] if result.feedback else ""
    known = f"{mark} {result.exercise}:"
    rest = first[len(known) :].strip() if first.startswith(known) else first
    on = f", on {device}" if device is not None and torch.device(device).type != "cpu" else ""
    return f"{mark} {result.exercise} ({result.points:g}/{result.max_points:g} points{on}):", f" {rest}".rstrip()


def _split_mistake(exercise_id: str, text: str) -> tuple[str, str] | None:
    """``"<name>. <hint>"`` → (name, hint), using the exercise's catalogue of mistakes."""
    try:
        names = [m.name for m in get_exercise(exercise_id).mistakes]
    except KeyError:  # an id the registry does not know: the line is rendered as it is
        return None
    for name in sorted(names, key=len, reverse=True):
        if text == name or text.startswith((name + ". ", name + ": ")):
            return name, text[len(name) :].lstrip(".: ").strip()
    return None


def render_feedback(result: Result, color: bool = True, device: torch.device | str | None = None) -> list[str]:
    """The feedback of ``result`` as lines for a person: a pass/fail line with the points, then
    each failing case, the likely mistake and its hint, and any other line the grader wrote.

    ``color`` adds ANSI colours (Jupyter, terminals and nbgrader's Validate render them).
    """
    head, rest = _summary(result, device)
    lines = _wrap(head, _BOLD_GREEN if result.passed else _BOLD_RED, rest, color)
    for line in result.feedback[1:]:
        if line.startswith("✗ on ") and ": " in line:
            case, detail = line.split(": ", 1)
            lines += _wrap(case + ":", _RED, " " + detail, color, indent="  ")
        elif line.startswith("Likely mistake:"):
            text = line[len("Likely mistake:") :].strip()
            named = _split_mistake(result.exercise, text)
            if named:
                name, hint = named
                lines += _wrap("Likely mistake: ", _BOLD_MAGENTA, name + ".", color, indent="  ")
                if hint:
                    lines += _wrap("Hint: ", _BOLD_MAGENTA, hint, color, indent="  ")
            else:
                lines += _wrap("Likely mistake: ", _BOLD_MAGENTA, text, color, indent="  ")
        elif line.lower().startswith("note:"):
            lines += [_paint(w, _DIM, color) for w in _wrap("", "", line, False, indent="  ")]
        else:
            lines += _wrap("", "", line, color, indent="  ")
    return lines


class CheckFailed(Exception):
    """Raised by :func:`check` when an answer is wrong; its message is the feedback.

    ``result`` is the :class:`~graders.core.Result` (``None`` when the check could not run at
    all, e.g. the answer is not a function). IPython shows :meth:`_render_traceback_` instead of
    a traceback: the feedback, coloured, without the grader's own frames.
    """

    def __init__(self, message: str, result: Result | None = None, device: torch.device | str | None = None) -> None:
        super().__init__(message)
        self.result = result
        self.device = device

    def _render_traceback_(self) -> list[str]:
        if self.result is None:
            return _wrap("✗ ", _BOLD_RED, str(self).strip(), True)
        return render_feedback(self.result, color=True, device=self.device)


def _source_of(answer: Any) -> str | None:
    try:
        return textwrap.dedent(inspect.getsource(answer))
    except (OSError, TypeError):
        return None


def _ipython() -> Any:
    """The running IPython shell (Jupyter's kernel included), or ``None``."""
    module = sys.modules.get("IPython")
    get = getattr(module, "get_ipython", None)
    return get() if get is not None else None


_last_printed: int | None = None  # id of the Result that check() printed last


def _display_result(result: Result) -> None:
    """How IPython shows a Result left as a cell's value: nothing when check() just printed it
    (no ``Result(exercise=..., feedback=[...])`` repr under the ✓ line), else its feedback."""
    if id(result) != _last_printed:
        print("\n".join(render_feedback(result, color=True)))


def _register_display(shell: Any) -> None:
    try:
        shell.display_formatter.ipython_display_formatter.for_type(Result, _display_result)
    except AttributeError:  # a shell without IPython's display formatters
        pass


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
    if not result.passed:
        raise CheckFailed("\n" + "\n".join(result.feedback), result, device)
    global _last_printed
    shell = _ipython()
    if shell is not None:
        _register_display(shell)  # a Result left as the cell's value shows as feedback, not a repr
    if not quiet:
        print("\n".join(render_feedback(result, color=shell is not None or sys.stdout.isatty(), device=device)))
        _last_printed = id(result)
    return result
