"""The grading engine: exercises, test cases, known mistakes, comparison and feedback.

An :class:`Exercise` says which function a student writes, which inputs it is tried on
(:class:`Case`), how its output is compared with the reference, and which plausible wrong
implementations (:class:`Mistake`) we know of. Grading an answer is always the same three steps,
whether the student's code ran in this process (the in-notebook ``check``) or in a locked-down
child process (``graders check`` and nbgrader autograding):

1. run the student's function on every case and record its outputs (or the error it raised);
2. run the reference on the same cases (always here, in trusted code) and compare;
3. when a case fails, explain it: the input, what was expected, what came back, and, when the
   answer behaves exactly like a known mistake, the name of that mistake.
"""

from __future__ import annotations

import ast
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

Namespace = Mapping[str, Any]


@dataclass(frozen=True)
class Case:
    """One input on which an answer is tried.

    ``describe`` is shown to the student when the case fails, so it should say what is special
    about the input ("logits of shape [2, 5] with values near 1000").
    """

    describe: str
    args: tuple = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    hidden: bool = False


@dataclass(frozen=True)
class Mistake:
    """A plausible wrong implementation, with the message that names it.

    ``source`` defines the exercise's function (same name) the wrong way. The grader runs it on
    the same cases; when a student's outputs agree with it on every failing case, the feedback
    names the mistake. The grader-trust tests also submit it and require a rejection.
    """

    name: str
    hint: str
    source: str


@dataclass(frozen=True)
class Outcome:
    """What one run of a function on one case produced: a value, or an error."""

    value: Any = None
    error_type: str | None = None
    error: str | None = None

    @property
    def failed(self) -> bool:
        return self.error_type is not None


def seeded(seed: int) -> torch.Generator:
    """A CPU generator with its own seed, so that building cases never touches the global RNG."""
    return torch.Generator().manual_seed(seed)


def _default_call(fn: Callable[..., Any], case: Case) -> Any:
    return fn(*case.args, **dict(case.kwargs))


@dataclass
class Exercise:
    """A graded exercise ``wNN_topic.function_name``.

    - ``make_cases`` builds the inputs deterministically (CPU tensors; they are moved to the
      device the answer runs on).
    - ``call(fn, case)`` runs the answer on a case; the default calls ``fn(*args, **kwargs)``.
      Exercises whose answer is a class (an ``nn.Module``) instantiate it here.
    - ``forbidden`` lists attribute or function names the answer must not use (so that "implement
      log-softmax" cannot be answered with ``torch.log_softmax``).
    - ``alternatives`` are correct answers written differently from the reference (float64, a
      loop, another arrangement of the formula); the grader-trust tests require that they pass.
    """

    id: str
    points: int
    make_cases: Callable[[], list[Case]]
    mistakes: Sequence[Mistake] = ()
    rtol: float = 1e-4
    atol: float = 1e-5
    call: Callable[[Callable[..., Any], Case], Any] = _default_call
    forbidden: tuple[str, ...] = ()
    summary: str = ""
    alternatives: Sequence[str] = ()  # correct-but-different answers (sources) that must pass

    @property
    def week(self) -> str:
        return self.id.split(".", 1)[0]

    @property
    def function(self) -> str:
        return self.id.split(".", 1)[1]

    def cases(self, include_hidden: bool = True) -> list[Case]:
        return [c for c in self.make_cases() if include_hidden or not c.hidden]


@dataclass
class Result:
    """The verdict on one answer to one exercise. ``passed`` is true only at full points."""

    exercise: str
    points: float
    max_points: float
    passed: bool
    feedback: list[str]

    def to_json(self) -> dict[str, Any]:
        return {
            "exercise": self.exercise,
            "points": self.points,
            "max_points": self.max_points,
            "passed": self.passed,
            "feedback": self.feedback,
        }


# --------------------------------------------------------------------------------------------
# Running answers
# --------------------------------------------------------------------------------------------


def to_device(obj: Any, device: torch.device | str) -> Any:
    """Move every tensor inside ``obj`` (nested tuples, lists, dicts) to ``device``."""
    if isinstance(obj, torch.Tensor):
        return obj.to(device)
    if isinstance(obj, tuple):
        return tuple(to_device(o, device) for o in obj)
    if isinstance(obj, list):
        return [to_device(o, device) for o in obj]
    if isinstance(obj, dict):
        return {k: to_device(v, device) for k, v in obj.items()}
    return obj


def to_cpu(obj: Any) -> Any:
    """Detach every tensor inside ``obj`` and bring it to the CPU."""
    if isinstance(obj, torch.Tensor):
        return obj.detach().cpu()
    if isinstance(obj, tuple):
        return tuple(to_cpu(o) for o in obj)
    if isinstance(obj, list):
        return [to_cpu(o) for o in obj]
    if isinstance(obj, dict):
        return {k: to_cpu(v) for k, v in obj.items()}
    return obj


def _short_error(exc: BaseException) -> str:
    """The last frames of a traceback that belong to the answer, not to the grader."""
    frames = traceback.extract_tb(exc.__traceback__)
    own = [f for f in frames if f.filename.startswith("<")]  # the answer's code, not library code
    frames = own or [f for f in frames if "graders" not in f.filename.replace("\\", "/").split("/")[-2:-1]]
    where = ""
    if frames:
        last = frames[-1]
        where = f" (line {last.lineno}: `{(last.line or '').strip()}`)"
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{message}{where}"


def run_cases(
    exercise: Exercise,
    fn: Callable[..., Any],
    cases: Sequence[Case],
    device: torch.device | str = "cpu",
) -> list[Outcome]:
    """Run ``fn`` on every case (inputs moved to ``device``), catching errors per case."""
    outcomes = []
    for case in cases:
        moved = Case(case.describe, to_device(case.args, device), to_device(dict(case.kwargs), device))
        try:
            with torch.no_grad():
                value = exercise.call(fn, moved)
            outcomes.append(Outcome(value=to_cpu(value)))
        except (Exception, RecursionError) as exc:  # noqa: BLE001 - any student error is feedback
            outcomes.append(Outcome(error_type=type(exc).__name__, error=_short_error(exc)))
    return outcomes


# --------------------------------------------------------------------------------------------
# Comparing outputs
# --------------------------------------------------------------------------------------------


def _fmt(x: Any, limit: int = 6) -> str:
    """A short, readable rendering of a value for feedback."""
    if isinstance(x, torch.Tensor):
        flat = x.flatten()
        shown = ", ".join(f"{v:.4g}" if x.is_floating_point() else str(v) for v in flat[:limit].tolist())
        more = ", ..." if flat.numel() > limit else ""
        if x.dim() == 0:
            return f"tensor({shown}, dtype={x.dtype})"
        return f"tensor of shape {list(x.shape)} [{shown}{more}] (dtype {x.dtype})"
    if isinstance(x, float):
        return f"{x:.6g}"
    if isinstance(x, (tuple, list)):
        return "(" + ", ".join(_fmt(v, 3) for v in x) + ")"
    return repr(x) if len(repr(x)) < 80 else repr(x)[:77] + "..."


def _as_tensor(x: Any) -> torch.Tensor | None:
    if isinstance(x, torch.Tensor):
        return x
    if isinstance(x, bool):
        return torch.tensor(x)
    if isinstance(x, (int, float)):
        return torch.tensor(x, dtype=torch.float64 if isinstance(x, float) else torch.int64)
    return None


def compare(expected: Any, got: Any, rtol: float, atol: float) -> str | None:
    """``None`` when ``got`` matches ``expected``, else a sentence saying how it differs."""
    if isinstance(expected, (tuple, list)):
        if not isinstance(got, (tuple, list)) or len(got) != len(expected):
            return f"expected a tuple of {len(expected)} values, got {type(got).__name__} {_fmt(got)}"
        for i, (e, g) in enumerate(zip(expected, got)):
            problem = compare(e, g, rtol, atol)
            if problem:
                return f"element {i} of the returned tuple: {problem}"
        return None
    if isinstance(expected, dict):
        if not isinstance(got, dict) or set(got) != set(expected):
            return f"expected a dict with keys {sorted(expected)}, got {_fmt(got)}"
        for k in expected:
            problem = compare(expected[k], got[k], rtol, atol)
            if problem:
                return f"key {k!r}: {problem}"
        return None
    if expected is None or isinstance(expected, str):
        return None if got == expected else f"expected {expected!r}, got {_fmt(got)}"

    e, g = _as_tensor(expected), _as_tensor(got)
    if e is None:
        return None if got == expected else f"expected {_fmt(expected)}, got {_fmt(got)}"
    if g is None:
        return f"expected {_fmt(expected)}, but your function returned a {type(got).__name__}: {_fmt(got)}"
    if isinstance(expected, torch.Tensor) and isinstance(got, torch.Tensor) and e.shape != g.shape:
        return f"expected shape {list(e.shape)}, got shape {list(g.shape)}"
    if e.numel() == 1 and g.numel() == 1:
        e, g = e.reshape(()), g.reshape(())
    if e.shape != g.shape:
        return f"expected shape {list(e.shape)}, got shape {list(g.shape)}"
    if not e.is_floating_point():
        if g.is_floating_point() and e.dtype != torch.bool:
            if torch.equal(g, g.round()) and torch.equal(g.to(e.dtype), e):
                return None
            return f"expected whole numbers {_fmt(e)}, got {_fmt(g)}"
        return None if torch.equal(g.to(e.dtype), e) else f"expected {_fmt(e)}, got {_fmt(g)}"
    if not (g.is_floating_point() or g.is_complex()):
        return (
            f"expected floating-point values, got dtype {g.dtype} ({_fmt(g)}): "
            "an integer result usually means an integer division or a missing .float()"
        )
    e64, g64 = e.double(), g.double()
    bad_finite = torch.isfinite(e64) & ~torch.isfinite(g64)
    if bad_finite.any():
        idx = tuple(int(i) for i in bad_finite.nonzero()[0])
        return (
            f"your output has inf or NaN where the answer is finite (first at index {list(idx)}: "
            f"expected {e64[idx].item():.6g}, got {g64[idx].item()}): this is what a numerically "
            "unstable formula does (exp of a large number overflows; log of 0 is -inf)"
        )
    if torch.allclose(g64, e64, rtol=rtol, atol=atol, equal_nan=True):
        return None
    same = (g64 == e64) | (torch.isnan(g64) & torch.isnan(e64))  # equal infinities differ by 0, not NaN
    diff = torch.where(same, torch.zeros_like(e64), (g64 - e64).abs().nan_to_num(float("inf")))
    idx = tuple(int(i) for i in (diff == diff.max()).nonzero()[0])
    where = f" at index {list(idx)}" if idx else ""
    return (
        f"values differ: expected {_fmt(e)}, got {_fmt(g)}; largest difference {diff.max().item():.3g}"
        f"{where} (expected {e64[idx].item():.6g}, got {g64[idx].item():.6g})"
    )


def _same_behaviour(a: Outcome, b: Outcome) -> bool:
    """Whether two outcomes are indistinguishable (for naming a known mistake)."""
    if a.failed or b.failed:
        return a.error_type == b.error_type
    return compare(a.value, b.value, rtol=1e-4, atol=1e-5) is None or _both_nonfinite_alike(a.value, b.value)


def _both_nonfinite_alike(x: Any, y: Any) -> bool:
    tx, ty = _as_tensor(x), _as_tensor(y)
    if tx is None or ty is None or tx.shape != ty.shape or not tx.is_floating_point():
        return False
    if not ty.is_floating_point():
        return False
    return torch.allclose(tx.double(), ty.double(), rtol=1e-4, atol=1e-5, equal_nan=True)


# --------------------------------------------------------------------------------------------
# Static checks on the answer's source
# --------------------------------------------------------------------------------------------


def forbidden_uses(source: str, function: str, forbidden: Sequence[str]) -> list[str]:
    """Library functions from ``forbidden`` that the definition of ``function`` calls.

    Flags ``torch.log_softmax`` / ``x.log_softmax()`` (attribute access) and names imported from
    a library (``from torch.nn.functional import log_softmax``); the student's own functions of
    the same name are fine.
    """
    if not forbidden:
        return []
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    imported = {
        alias.asname or alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
        if alias.name in forbidden
    }
    found: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and node.name == function:
            for sub in ast.walk(node):
                if isinstance(sub, ast.Attribute) and sub.attr in forbidden:
                    found.add(sub.attr)
                elif isinstance(sub, ast.Name) and sub.id in imported:
                    found.add(sub.id)
    return sorted(found)


# --------------------------------------------------------------------------------------------
# The verdict
# --------------------------------------------------------------------------------------------


def diagnose_error(exercise: Exercise, outcome: Outcome) -> str:
    """A helpful sentence for an answer that raised instead of returning."""
    if outcome.error_type == "NotImplementedError":
        return (
            f"`{exercise.function}` still raises NotImplementedError: replace "
            "`raise NotImplementedError()` with your implementation and re-run the cell."
        )
    text = f"your function raised {outcome.error_type}: {outcome.error}"
    lowered = (outcome.error or "").lower()
    if outcome.error_type == "RuntimeError" and ("size of tensor" in lowered or "shape" in lowered):
        text += " (a shape mismatch: check which dimension you reduce over and keepdim)"
    if outcome.error_type == "NameError":
        text += (
            " (graded functions must be self-contained: the grader keeps only imports, functions, classes and"
            " UPPER_CASE constants, so a variable created elsewhere in the notebook is not available)"
        )
    if "expected all tensors to be on the same device" in lowered:
        text += " (create new tensors on the input's device: `torch.zeros(..., device=x.device)`)"
    if outcome.error_type == "TimeoutError":
        text = f"your function did not finish in time: {outcome.error}"
    if outcome.error_type == "MemoryError":
        text = f"your function ran out of memory: {outcome.error}"
    return text


def grade(
    exercise: Exercise,
    student: Sequence[Outcome],
    cases: Sequence[Case],
    reference: Namespace,
    answer_source: str | None = None,
    reference_outcomes: Sequence[Outcome] | None = None,
) -> Result:
    """Compare a student's outcomes with the reference and write the feedback.

    ``reference`` is the namespace that holds the trusted reference implementation; the known
    mistakes are run here too, to name the mistake when the answer behaves like one.
    """
    feedback: list[str] = []
    if reference_outcomes is None:
        reference_outcomes = run_cases(exercise, reference[exercise.function], cases)
    failures: list[int] = []
    if student and all(o.error_type == "NotImplementedError" for o in student):
        message = diagnose_error(exercise, student[0])
        return Result(exercise.id, 0.0, float(exercise.points), False, [f"✗ {exercise.id}: {message}"])
    for i, (case, ref, got) in enumerate(zip(cases, reference_outcomes, student)):
        if ref.failed:  # a bug in the course, not in the answer: say so loudly
            raise RuntimeError(f"reference for {exercise.id} failed on case {case.describe!r}: {ref.error}")
        problem = (
            diagnose_error(exercise, got) if got.failed else compare(ref.value, got.value, exercise.rtol, exercise.atol)
        )
        if problem:
            failures.append(i)
            if len(failures) <= 3:
                feedback.append(f"✗ on {case.describe}: {problem}")
    if len(failures) > 3:
        feedback.append(f"... and {len(failures) - 3} more failing case(s)")

    if failures and not all(student[i].error_type == "NotImplementedError" for i in failures):
        named = _name_mistakes(exercise, student, cases, failures)
        for mistake in named:
            feedback.append(f"Likely mistake: {mistake.name}. {mistake.hint}")
        if not named:
            feedback.append("This does not match any mistake we know of: compare your code with the formula above.")

    banned = forbidden_uses(answer_source or "", exercise.function, exercise.forbidden)
    if banned:
        feedback.append(
            f"`{exercise.function}` uses {', '.join('`' + b + '`' for b in banned)}, which this exercise asks "
            "you to implement yourself: write it from more basic operations."
        )

    passed = not failures and not banned
    if passed:
        feedback.insert(0, f"✓ {exercise.id}: all {len(cases)} cases pass.")
    else:
        feedback.insert(
            0, f"✗ {exercise.id}: {len(failures)} of {len(cases)} cases fail." if failures else f"✗ {exercise.id}"
        )
    points = float(exercise.points) if passed else 0.0
    return Result(exercise.id, points, float(exercise.points), passed, feedback)


def _name_mistakes(
    exercise: Exercise, student: Sequence[Outcome], cases: Sequence[Case], failures: Sequence[int]
) -> list[Mistake]:
    """The known mistakes that behave exactly like the answer on every failing case."""
    from graders.source import namespace_from_source  # local import: avoids an import cycle

    named = []
    for mistake in exercise.mistakes:
        namespace = namespace_from_source(mistake.source)
        fn = namespace.get(exercise.function)
        if fn is None:
            continue
        outcomes = run_cases(exercise, fn, [cases[i] for i in failures])
        if all(_same_behaviour(student[i], o) for i, o in zip(failures, outcomes)):
            named.append(mistake)
    return named


def result_for_missing(exercise: Exercise, reason: str) -> Result:
    """The verdict when the answer could not even be run (no such function, syntax error, crash)."""
    return Result(exercise.id, 0.0, float(exercise.points), False, [f"✗ {exercise.id}: {reason}"])
