"""The grading engine: exercises, test cases, known mistakes, comparison and feedback.

An :class:`Exercise` says which function a student writes, which inputs it is tried on
(:class:`Case`), how its output is compared with the reference, which inputs must receive
gradients, which library shortcuts it may not use, and which plausible wrong implementations
(:class:`Mistake`) we know of. Grading an answer is always the same three steps, whether the
student's code ran in this process (the in-notebook ``check``) or in a locked-down child process
(``graders check`` and nbgrader autograding):

1. run the student's function on every case (:func:`run_case`): on fresh copies of the inputs,
   recording its output, the gradients that reach the declared inputs and parameters, whether it
   modified an input in place, and which forbidden library functions it called;
2. run the reference on the same cases (always here, in trusted code) and compare;
3. when a case fails, explain it: the input, what was expected, what came back, and, when the
   answer behaves exactly like a known mistake, the name of that mistake.

Mistakes are written as real functions in the week's spec module, registered with
``@EXERCISE.mistake(name, hint)``; the grader takes their source with :mod:`inspect` and renames
them to the exercise's function, so that they can also be submitted to the sandbox like a
student's file.
"""

from __future__ import annotations

import ast
import contextlib
import functools
import inspect
import sys
import textwrap
import traceback
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import torch
from torch.overrides import TorchFunctionMode

from graders import guard

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
    grads: bool = True  # False at a kink (|x| at 0, ties) where correct answers' gradients legitimately differ


@dataclass(frozen=True)
class Traced:
    """What an exercise's ``call`` returns when parameters of a module it built must get gradients.

    ``parameters`` maps a readable name (``"backbone.h.0.attn.c_attn.weight"``) to a parameter of
    the module the answer ran; the grader backpropagates through ``value`` and compares the
    gradient of each with the reference's.
    """

    value: Any
    parameters: Mapping[str, torch.Tensor]


def seeded(seed: int) -> torch.Generator:
    """A CPU generator with its own seed, so that building cases never touches the global RNG."""
    return torch.Generator().manual_seed(seed)


def random_case_seed(exercise_id: str, index: int) -> int:
    """The seed of random case ``index`` of an exercise (fixed: the same cases on every run)."""
    return zlib.crc32(f"{exercise_id}#random{index}".encode())


def draw_int(g: torch.Generator, low: int, high: int) -> int:
    """A whole number in [low, high], drawn from ``g``."""
    return int(torch.randint(low, high + 1, (), generator=g))


def draw_choice(g: torch.Generator, options: Sequence[Any]) -> Any:
    """One of ``options``, drawn from ``g``."""
    return options[draw_int(g, 0, len(options) - 1)]


def draw_leading(g: torch.Generator, max_dims: int = 2, max_size: int = 3) -> tuple[int, ...]:
    """Leading batch dimensions for a ``[..., d]`` contract: 0 to ``max_dims`` sizes in 1..max_size."""
    return tuple(draw_int(g, 1, max_size) for _ in range(draw_int(g, 0, max_dims)))


def _default_call(fn: Callable[..., Any], case: Case) -> Any:
    return fn(*case.args, **dict(case.kwargs))


# --------------------------------------------------------------------------------------------
# Snippets of real code: mistakes and correct-but-different alternatives
# --------------------------------------------------------------------------------------------


@functools.cache
def _module_tree(module_name: str) -> ast.Module | None:
    module = sys.modules.get(module_name)
    try:
        return ast.parse(inspect.getsource(module)) if module is not None else None
    except (OSError, TypeError):
        return None


def _plain_imports(tree: ast.Module) -> list[str]:
    """The module's top-level imports, except ``graders`` and ``__future__``, as code."""
    keep = []
    for node in tree.body:
        if isinstance(node, ast.Import) and not any(a.name.split(".")[0] == "graders" for a in node.names):
            keep.append(ast.unparse(node))
        elif isinstance(node, ast.ImportFrom) and node.module not in ("__future__",):
            if not (node.module or "").startswith("graders") and node.level == 0:
                keep.append(ast.unparse(node))
    return keep


def _helpers_used(tree: ast.Module, node: ast.AST, own_name: str) -> list[str]:
    """Source of the module's undecorated top-level functions and UPPER_CASE constants that
    ``node`` uses, directly or through each other, in the order the module defines them."""
    defined: dict[str, ast.stmt] = {}
    for stmt in tree.body:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)) and not stmt.decorator_list:
            defined[stmt.name] = stmt
        elif isinstance(stmt, ast.Assign) and all(isinstance(t, ast.Name) and t.id.isupper() for t in stmt.targets):
            for target in stmt.targets:
                defined[target.id] = stmt  # type: ignore[union-attr]
    needed: set[str] = set()
    todo = [node]
    while todo:
        for sub in ast.walk(todo.pop()):
            if isinstance(sub, ast.Name) and sub.id in defined and sub.id not in needed and sub.id != own_name:
                needed.add(sub.id)
                todo.append(defined[sub.id])
    chosen = {id(defined[name]) for name in needed}
    return [ast.unparse(stmt) for stmt in tree.body if id(stmt) in chosen]


def snippet_source(obj: Callable[..., Any] | type, rename_to: str) -> str:
    """Self-contained source of a function or class written in a spec module, renamed.

    The definition loses its decorators and takes the exercise's name; the plain imports of the
    module it was written in come first, then the module's undecorated helper functions and
    UPPER_CASE constants that it uses (so several mistakes can share a preamble such as "the
    log-probs of a batch"). The result runs on its own, as a student's file would: the
    grader-trust tests submit it to the sandbox.
    """
    node = ast.parse(textwrap.dedent(inspect.getsource(obj))).body[0]
    if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        raise TypeError(f"{obj!r} is not a function or class definition")
    own_name = node.name
    node.decorator_list = []
    node.name = rename_to
    tree = _module_tree(obj.__module__)
    parts = []
    if tree is not None:
        imports = _plain_imports(tree)
        parts += ["\n".join(imports)] if imports else []
        parts += _helpers_used(tree, node, own_name)
    parts.append(ast.unparse(node))
    return "\n\n\n".join(parts) + "\n"


@dataclass(frozen=True)
class Mistake:
    """A plausible wrong implementation, with the message that names it.

    Written as a real function (or class) in the week's spec module and registered with
    ``@EXERCISE.mistake(name, hint)``. The grader runs it on the same cases; when a student's
    outputs agree with it on every failing case, the feedback names the mistake. The
    grader-trust tests also submit its source and require a rejection.
    """

    name: str
    hint: str
    definition: Callable[..., Any] | type
    function: str  # the exercise's function name: the definition is renamed to it

    @property
    def source(self) -> str:
        """Self-contained source of the mistake, renamed to the exercise's function."""
        return snippet_source(self.definition, self.function)


@dataclass
class Exercise:
    """A graded exercise: the function ``function`` of week ``week`` (id ``week.function``).

    - ``make_cases`` builds the inputs deterministically (CPU tensors; they are copied to the
      device the answer runs on, afresh for every run).
    - ``call(fn, case)`` runs the answer on a case; the default calls ``fn(*args, **kwargs)``.
      Exercises whose answer is a class (an ``nn.Module``) instantiate it here, and return
      :class:`Traced` when the module's parameters must receive gradients.
    - ``grads`` names the inputs (parameters of the student's function) that must receive the
      same gradients as in the reference; ``parameter_grads`` does the same for the parameters
      that ``call`` returns in :class:`Traced`. Outputs that depend on those inputs are
      backpropagated with a fixed random cotangent.
    - ``forbidden`` lists torch functions the answer must not call, at any depth (so that
      "implement log-softmax" cannot be answered with ``torch.log_softmax`` or a helper that
      calls it). Calls are recorded while the answer runs and its source is read too.
    - ``no_grads`` names the inputs that must receive *no* gradient from the answer (a baseline,
      a target, a residual the exercise says to treat as a constant): an answer through which a
      gradient reaches one of them fails ("detach it").
    - ``random_case(g)`` draws one case from the exercise's input contract (shapes with leading
      dimensions, dtypes including bool and int, value ranges and special values); the grader adds
      ``n_random`` of them, hidden, each from its own deterministic seed, to the hand-written ones.
    - Return contract, checked on every case: the kind of each returned value must be the
      reference's (a Python number vs a tensor vs a list; a tensor's dtype family: bool, integer,
      floating), and a floating tensor's exact dtype too (``strict_dtype``, on by default: the
      docstrings promise "same dtype as the input"). ``detached=True`` when the text promises
      plain detached values (metrics for a log), ``False`` when it promises a tensor attached to
      the graph (a loss to call ``.backward()`` on).
    - ``allow_inplace``: the answer may modify its inputs (rare: an exercise about in-place ops).
    - ``forbidden_courselib``: dotted names of ``courselib`` functions that compute the answer
      (``"courselib.world.harness.run_task"``): the answer may not refer to them (read in its
      source, :func:`forbidden_library_uses`) and, in the sandbox, calling them raises.
    - ``mistakes`` are registered with the :meth:`mistake` decorator.

    The week is the name of the spec module (``graders/weeks/w05_dpo.py`` → ``w05_dpo``), filled
    in by the registry; an id written in full (``"w05_dpo.dpo_loss"``) is accepted too.
    """

    function: str
    points: int
    make_cases: Callable[[], list[Case]]
    mistakes: list[Mistake] = field(default_factory=list)
    rtol: float = 1e-4
    atol: float = 1e-5
    call: Callable[[Callable[..., Any], Case], Any] = _default_call
    forbidden: tuple[str, ...] = ()
    summary: str = ""
    grads: tuple[str, ...] = ()
    parameter_grads: bool = False
    grad_rtol: float = 1e-3
    grad_atol: float = 1e-5
    allow_inplace: bool = False
    no_grads: tuple[str, ...] = ()
    random_case: Callable[[torch.Generator], Case] | None = None
    n_random: int = 6
    strict_dtype: bool = True
    detached: bool | None = None
    week: str = ""
    forbidden_courselib: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if "." in self.function:
            self.week, self.function = self.function.split(".", 1)
        self.mistakes = list(self.mistakes)

    @property
    def id(self) -> str:
        return f"{self.week}.{self.function}"

    @property
    def needs_grad(self) -> bool:
        return bool(self.grads) or bool(self.no_grads) or self.parameter_grads

    def cases(self, include_hidden: bool = True) -> list[Case]:
        """The hand-written cases, then (hidden) ``n_random`` cases drawn from ``random_case``."""
        cases = [c for c in self.make_cases() if include_hidden or not c.hidden]
        if include_hidden:
            cases += self.random_cases()
        return cases

    def random_cases(self) -> list[Case]:
        """``n_random`` hidden cases drawn from the input contract, each from its own fixed seed."""
        if self.random_case is None:
            return []
        drawn = []
        for i in range(self.n_random):
            case = self.random_case(seeded(random_case_seed(self.id, i)))
            drawn.append(replace(case, describe=f"random case {i + 1} ({case.describe})", hidden=True))
        return drawn

    def mistake(self, name: str, hint: str) -> Callable[[Any], Any]:
        """Decorator: register the decorated function (or class) as a known mistake.

        >>> @LOG_SOFTMAX.mistake("sign flip", "log-softmax is z − logsumexp(z)")
        ... def sign_flip(logits, dim=-1): ...
        """

        def register(definition: Any) -> Any:
            if any(m.name == name for m in self.mistakes):
                raise ValueError(f"{self.function}: two mistakes are named {name!r}")
            self.mistakes.append(Mistake(name, hint, definition, self.function))
            return definition

        return register


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


@dataclass(frozen=True)
class Outcome:
    """What one run of a function on one case produced: a value or an error, and how it behaved.

    - ``grads``: the gradient that reached each declared input or parameter (``None``: none did);
      empty when the exercise checks no gradients.
    - ``mutated``: names of inputs the function modified in place.
    - ``forbidden_calls``: forbidden library functions it called.
    - ``returned``: the kind of every part of the returned value, recorded before tensors are
      detached and moved to the CPU: readable path → ``"float"``, ``"int"``, ``"bool"``,
      ``"str"``, ``"None"``, ``"sequence"``, ``"dict"``, ``"tensor <dtype> attached|detached"``
      or ``"object <type>"`` (see :func:`return_kinds`).
    """

    value: Any = None
    error_type: str | None = None
    error: str | None = None
    grads: Mapping[str, torch.Tensor | None] = field(default_factory=dict)
    mutated: tuple[str, ...] = ()
    forbidden_calls: tuple[str, ...] = ()
    returned: Mapping[str, str] = field(default_factory=dict)

    @property
    def failed(self) -> bool:
        return self.error_type is not None


# --------------------------------------------------------------------------------------------
# Running answers
# --------------------------------------------------------------------------------------------


def to_device(obj: Any, device: torch.device | str, memo: dict[int, torch.Tensor] | None = None) -> Any:
    """A copy of ``obj`` (nested tuples, lists, dicts) with every tensor cloned onto ``device``.

    Always a copy, never the caller's tensors (``Tensor.to`` returns the same object when nothing
    changes): each run of an answer or of the reference gets inputs of its own. A tensor that
    appears twice (tied weights) is copied once, so the copies stay tied; pass the same ``memo``
    to several calls to keep that across them.
    """
    memo = {} if memo is None else memo
    if isinstance(obj, torch.Tensor):
        if id(obj) not in memo:
            memo[id(obj)] = obj.detach().to(device, copy=True)
        return memo[id(obj)]
    if isinstance(obj, tuple):
        return tuple(to_device(o, device, memo) for o in obj)
    if isinstance(obj, list):
        return [to_device(o, device, memo) for o in obj]
    if isinstance(obj, dict):
        return {k: to_device(v, device, memo) for k, v in obj.items()}
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


_MAX_KINDS = 64  # parts of a returned value whose kind is recorded (a long list: its first ones)


def return_kinds(obj: Any, path: str = "", out: dict[str, str] | None = None) -> dict[str, str]:
    """Readable path → kind of every part of a returned value, before anything is detached.

    ``"tensor float32 attached"`` (``requires_grad``) or ``"tensor int64 detached"``, ``"float"``,
    ``"int"``, ``"bool"``, ``"str"``, ``"None"``, ``"sequence"`` (tuple or list), ``"dict"``, or
    ``"object <type>"``. Plain strings, so that the record crosses the sandbox boundary as JSON.
    """
    out = {} if out is None else out
    if len(out) >= _MAX_KINDS:
        return out
    if isinstance(obj, torch.Tensor):
        out[path] = f"tensor {str(obj.dtype).removeprefix('torch.')} {'attached' if obj.requires_grad else 'detached'}"
    elif obj is None:
        out[path] = "None"
    elif isinstance(obj, (bool, int, float, str)):  # subclasses too (numpy.float64 is a float)
        out[path] = next(t.__name__ for t in (bool, int, float, str) if isinstance(obj, t))
    elif isinstance(obj, (tuple, list)):
        out[path] = "sequence"
        for i, o in enumerate(obj):
            return_kinds(o, f"{path}[{i}]", out)
    elif isinstance(obj, dict):
        out[path] = "dict"
        for k, v in obj.items():
            return_kinds(v, f"{path}[{k!r}]", out)
    else:
        out[path] = f"object {type(obj).__name__}"
    return out


def _tensors(obj: Any, path: str) -> Iterator[tuple[str, torch.Tensor]]:
    """Every tensor inside ``obj``, with a readable path (``values``, ``batch['input_ids']``)."""
    if isinstance(obj, torch.Tensor):
        yield path, obj
    elif isinstance(obj, (tuple, list)):
        for i, o in enumerate(obj):
            yield from _tensors(o, f"{path}[{i}]")
    elif isinstance(obj, dict):
        for k, v in obj.items():
            yield from _tensors(v, f"{path}[{k!r}]")


def _argument_names(
    exercise: Exercise, fn: Callable[..., Any], args: tuple, kwargs: Mapping[str, Any]
) -> dict[str, Any]:
    """Name → value of every input of a case: ``fn``'s own parameter names for a plain call."""
    if exercise.call is _default_call and not isinstance(fn, type):
        try:
            return dict(inspect.signature(fn).bind(*args, **kwargs).arguments)
        except (TypeError, ValueError):
            pass
    return {**{f"input {i + 1}": a for i, a in enumerate(args)}, **dict(kwargs)}


#: scikit-learn's ways to call a metric by its scorer name (``get_scorer("roc_auc")(estimator, X, y)``),
#: forbidden with the metrics themselves
SKLEARN_SCORERS = ("get_scorer", "check_scoring", "make_scorer", "cross_val_score", "cross_validate")

#: the ``__torch_function__`` of torch's own tensor classes (``Tensor``, ``Parameter``, buffers)
_NATIVE_TORCH_FUNCTION = (vars(torch.Tensor)["__torch_function__"].__func__, torch._C._disabled_torch_function_impl)


class _ForbiddenCalls(TorchFunctionMode):
    """Records which of a set of torch functions are called while it is active (at any depth).

    It sees Python-level calls by name; :class:`graders.guard.ForbiddenOps`, active with it, sees
    the aten operators they dispatch to (calls made below this mode, or with it disabled).
    """

    def __init__(self, names: Sequence[str]) -> None:
        super().__init__()
        self.names = frozenset(names)
        self.seen: set[str] = set()

    def __torch_function__(self, func: Any, types: Any, args: tuple = (), kwargs: Any = None) -> Any:
        name = getattr(func, "__name__", "")
        if name in self.names:
            self.seen.add(name)
        for t in types:
            # a tensor subclass's own __torch_function__ runs below this mode (torch switches the
            # mode off while ``func`` runs): what it calls is seen by no one, so using one is recorded
            impl = getattr(t, "__torch_function__", None)
            if getattr(impl, "__func__", impl) not in _NATIVE_TORCH_FUNCTION:
                self.seen.add("__torch_function__")
        return func(*args, **(kwargs or {}))


def _same_data(a: torch.Tensor, b: torch.Tensor) -> bool:
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    if a.is_floating_point() or a.is_complex():
        return bool(((a == b) | (a.isnan() & b.isnan())).all())
    return torch.equal(a, b)


def _within(path: str, name: str) -> bool:
    """Whether ``path`` (``batch['x']``) is the input ``name`` or a tensor inside it."""
    return path == name or path.startswith(name + "[")


def cotangent_seed(exercise_id: str, index: int) -> int:
    """The seed of the random cotangent backpropagated through case ``index`` of an exercise."""
    return zlib.crc32(f"{exercise_id}#{index}".encode())


def _gradients(value: Any, targets: Mapping[str, torch.Tensor], seed: int) -> dict[str, torch.Tensor | None]:
    """d⟨value, cotangent⟩/d target for every target (``None`` where no gradient reaches it)."""
    g = seeded(seed)
    total = None
    for _, out in _tensors(value, "output"):
        if not out.is_floating_point():
            continue
        cot = torch.randn(out.shape, generator=g, dtype=torch.float64).to(out.device, out.dtype)
        if out.requires_grad:
            term = (out * cot).sum()
            total = term if total is None else total + term
    names = [n for n, t in targets.items() if t.requires_grad]
    result: dict[str, torch.Tensor | None] = {n: None for n in targets}
    if total is None or not names:
        return result
    grads = torch.autograd.grad(total, [targets[n] for n in names], allow_unused=True)
    for n, grad in zip(names, grads):
        result[n] = None if grad is None else grad.detach().cpu()
    return result


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
    if len(message) > 2000:  # a 30 MB message must not become 30 MB per case on the way to the parent
        message = message[:2000] + f"... [{len(message) - 2000} more characters]"
    return f"{message}{where}"


def run_case(
    exercise: Exercise,
    fn: Callable[..., Any],
    case: Case,
    index: int,
    device: torch.device | str = "cpu",
) -> Outcome:
    """Run ``fn`` on one case, on fresh copies of its inputs on ``device``; never raises.

    ``index`` is the case's position in the list being graded: it seeds the random cotangent of
    the gradient check, so the student's run and the reference's use the same one.
    """
    memo: dict[int, torch.Tensor] = {}
    args, kwargs = to_device(case.args, device, memo), to_device(dict(case.kwargs), device, memo)
    named = _argument_names(exercise, fn, args, kwargs)
    flat = [(path, t) for name, v in named.items() for path, t in _tensors(v, name)]
    pristine = {} if exercise.allow_inplace else {path: t.clone() for path, t in flat}
    inputs: dict[str, torch.Tensor] = {}
    for name in (*exercise.grads, *exercise.no_grads):  # a tensor, or every float tensor in a dict/list input
        for path, tensor in _tensors(named.get(name), name):
            if tensor.is_floating_point():
                tensor.requires_grad_(True)
                inputs[path] = tensor
    recorder = _ForbiddenCalls(exercise.forbidden) if exercise.forbidden else None
    ops = guard.forbidden_ops(exercise.forbidden)
    try:
        with torch.enable_grad():  # as in a notebook: training loops and modules need autograd on
            with recorder if recorder is not None else contextlib.nullcontext(), ops or contextlib.nullcontext():
                value = exercise.call(fn, Case(case.describe, args, kwargs, case.hidden, case.grads))
                if not guard.modes_intact(recorder, ops):
                    return Outcome(error_type=guard.TAMPERED_ERROR, error=guard.TAMPERED)
                # still under the recorders: the gradient computation runs the answer's code too (a
                # custom autograd.Function's backward, a tensor hook), and so does walking what it
                # returned (a dict subclass's items(), a tensor subclass's detach): an answer that
                # computed its values there, with a forbidden function, was seen by no recorder
                parameters: Mapping[str, torch.Tensor] = {}
                if isinstance(value, Traced):
                    value, parameters = value.value, value.parameters
                grads: dict[str, torch.Tensor | None] = {}
                if exercise.needs_grad and case.grads:
                    targets = {**inputs, **(parameters if exercise.parameter_grads else {})}
                    missing = [n for n in exercise.grads if not any(_within(p, n) for p in inputs)]
                    seed = cotangent_seed(exercise.id, index)
                    grads = {**{n: None for n in missing}, **_gradients(value, targets, seed)}
                returned = return_kinds(value)  # before to_cpu detaches the tensors
                value = to_cpu(value)
                if not guard.modes_intact(recorder, ops):
                    return Outcome(error_type=guard.TAMPERED_ERROR, error=guard.TAMPERED)
    except (Exception, RecursionError) as exc:  # noqa: BLE001 - any student error is feedback
        return Outcome(error_type=type(exc).__name__, error=_short_error(exc))
    mutated = tuple(path for path, t in flat if path in pristine and not _same_data(t.detach(), pristine[path]))
    return Outcome(
        value=value,
        returned=returned,
        grads=grads,
        mutated=mutated,
        forbidden_calls=(tuple(sorted(recorder.seen)) if recorder is not None else ())
        + (ops.report(recorder.seen if recorder is not None else ()) if ops is not None else ()),
    )


def run_cases(
    exercise: Exercise,
    fn: Callable[..., Any],
    cases: Sequence[Case],
    device: torch.device | str = "cpu",
) -> list[Outcome]:
    """Run ``fn`` on every case of ``cases``, each on fresh copies of its inputs."""
    return [run_case(exercise, fn, case, i, device) for i, case in enumerate(cases)]


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
        return None if torch.equal(g.to(e.dtype), e) else f"expected {_fmt(expected)}, got {_fmt(got)}"
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


def _no_gradient(grad: torch.Tensor | None) -> bool:
    return grad is None or not bool(grad.ne(0).any())


def _kind_signature(outcome: Outcome) -> dict[str, str]:
    """The returned kinds without attached/detached (gradients are compared on their own)."""
    return {p: k.rsplit(" ", 1)[0] if k.startswith("tensor ") else k for p, k in outcome.returned.items()}


def _same_behaviour(a: Outcome, b: Outcome) -> bool:
    """Whether two outcomes are indistinguishable (for naming a known mistake)."""
    if a.failed or b.failed:  # the same error, told apart by its message (not where it was raised)
        return (
            a.error_type == b.error_type and (a.error or "").split(" (line ")[0] == (b.error or "").split(" (line ")[0]
        )
    if compare(a.value, b.value, rtol=1e-4, atol=1e-5) is not None:
        return False
    if bool(a.mutated) != bool(b.mutated):
        return False
    if a.returned and b.returned and _kind_signature(a) != _kind_signature(b):
        return False
    for name in set(a.grads) | set(b.grads):
        ga, gb = a.grads.get(name), b.grads.get(name)
        if _no_gradient(ga) or _no_gradient(gb):
            if _no_gradient(ga) != _no_gradient(gb):
                return False
        elif compare(ga, gb, rtol=1e-3, atol=1e-5) is not None:
            return False
    return True


_DETACHED = "a `.detach()`, `.item()`, `.tolist()`, `.data`, `torch.no_grad()` or a new `torch.tensor(...)` somewhere?"


def gradient_problem(exercise: Exercise, expected: Outcome, got: Outcome) -> str | None:
    """``None`` when the answer's gradients match the reference's, else what is wrong with them."""
    leaking = [
        name
        for name, grad in got.grads.items()
        if any(_within(name, n) for n in exercise.no_grads) and not _no_gradient(grad)
    ]
    if leaking:
        names = ", ".join(f"`{n}`" for n in leaking)
        return (
            f"a gradient flows into {names}, which the exercise says to treat as a constant: detach it "
            "(`.detach()`) where you use it, or the optimiser would also push it to lower the loss."
        )
    missing_inputs, missing_params, wrong = [], [], []
    for name, ref in expected.grads.items():
        if _no_gradient(ref) or any(_within(name, n) for n in exercise.no_grads):
            continue  # nothing to require where the reference itself has no gradient
        grad = got.grads.get(name)
        if _no_gradient(grad):
            is_input = any(_within(name, n) for n in exercise.grads)
            (missing_inputs if is_input else missing_params).append(name)
            continue
        problem = compare(ref, grad, exercise.grad_rtol, exercise.grad_atol)
        if problem:
            wrong.append((name, problem))
    if missing_inputs:
        names = ", ".join(f"`{n}`" for n in missing_inputs)
        return f"the value is right but no gradient reaches {names}, so nothing could be trained with it: {_DETACHED}"
    if missing_params:
        shown = ", ".join(f"`{n}`" for n in missing_params[:3])
        more = f" and {len(missing_params) - 3} more" if len(missing_params) > 3 else ""
        return (
            f"the value is right but {len(missing_params)} of the model's parameters get no gradient ({shown}{more}): "
            "is part of the model run under `torch.no_grad()`, or its output detached?"
        )
    if wrong:
        name, problem = wrong[0]
        return (
            f"the value is right but the gradient with respect to `{name}` is not: {problem}. "
            "A value patched outside autograd (`.data`, `.detach()` on one term, a clamp or a rounding) gives the right "
            "number with the wrong derivative."
        )
    return None


_PYTHON_NUMBERS = {"float": "a Python float", "int": "a Python int", "bool": "a Python bool"}
_FAMILIES = {"bool": "bool", "float": "floating", "bfloat": "floating", "complex": "complex"}


def _kind_name(kind: str) -> str:
    if kind.startswith("tensor "):
        return f"a {kind.split()[1]} tensor"
    if kind == "sequence":
        return "a list or tuple"
    return _PYTHON_NUMBERS.get(kind) or f"a {kind.removeprefix('object ')}"


def _dtype_family(dtype: str) -> str:
    for prefix, family in _FAMILIES.items():
        if dtype.startswith(prefix):
            return family
    return "integer"


def _kind_problem(exercise: Exercise, expected: str, got: str) -> str | None:
    """What is wrong with returning a ``got`` where the reference returns an ``expected``."""
    e_tensor, g_tensor = expected.startswith("tensor "), got.startswith("tensor ")
    if e_tensor and g_tensor:
        e_dtype, g_dtype = expected.split()[1], got.split()[1]
        if _dtype_family(e_dtype) != _dtype_family(g_dtype):
            return (
                f"returned a {g_dtype} tensor where the exercise asks for a {_dtype_family(e_dtype)} tensor "
                f"({e_dtype}): convert with `.to(torch.{e_dtype})`, or build it with that dtype"
            )
        if exercise.strict_dtype and _dtype_family(e_dtype) == "floating" and e_dtype != g_dtype:
            return (
                f"returned a {g_dtype} tensor where the answer is {e_dtype}: keep the input's dtype "
                "(a `.float()` or a new tensor built without `dtype=` changes it, and loses precision)"
            )
        if exercise.detached is True and got.endswith(" attached"):
            return (
                "returned a tensor still attached to the autograd graph where the exercise asks for plain "
                "values: `.detach()` it (or compute it under `torch.no_grad()`)"
            )
        if exercise.detached is False and got.endswith(" detached") and expected.endswith(" attached"):
            return (
                "returned a tensor detached from the autograd graph where the exercise asks for one you can "
                f"call `.backward()` on: {_DETACHED}"
            )
        return None
    if e_tensor:
        fix = " (don't call `.item()`; keep the result a tensor)" if got in _PYTHON_NUMBERS else ""
        if got == "sequence":
            fix = " (build it with `torch.tensor(..., dtype=...)` or `torch.stack`)"
        return f"returned {_kind_name(got)} where the exercise asks for {_kind_name(expected)}{fix}"
    if expected in ("float", "int") and g_tensor:
        return f"returned a tensor where the exercise asks for {_kind_name(expected)} (use `.item()`)"
    if expected == "float" and got == "int":
        return None  # a whole number where a float is asked is still a number (json, arithmetic)
    if expected in _PYTHON_NUMBERS and got != expected:
        return f"returned {_kind_name(got)} where the exercise asks for {_kind_name(expected)}"
    if expected in ("sequence", "dict") and got != expected and got in ("sequence", "dict"):
        return f"returned {_kind_name(got)} where the exercise asks for {_kind_name(expected)}"
    return None


def return_problem(exercise: Exercise, expected: Outcome, got: Outcome) -> str | None:
    """``None`` when every part of the answer's return value has the kind the reference's has.

    Enforces the return contract: a Python number vs a tensor vs a list, a tensor's dtype family
    (bool, integer, floating), a floating tensor's exact dtype (``strict_dtype``), and detached
    values where the exercise promises them (``detached=True``). Parts the answer lacks are left
    to :func:`compare`.
    """
    for path, kind in expected.returned.items():
        other = got.returned.get(path)
        if other is None:
            continue
        problem = _kind_problem(exercise, kind, other)
        if problem:
            return f"{'the value at ' + path + ': ' if path else 'your function '}{problem}"
    return None


def mutation_problem(got: Outcome) -> str | None:
    """The feedback for an answer that modified its inputs in place."""
    if not got.mutated:
        return None
    names = ", ".join(f"`{n}`" for n in got.mutated)
    return (
        f"your function modified its input {names} in place (an operation ending in `_`, such as `mul_`, or an "
        "assignment like `x[mask] = 0`): the caller's tensor changes too. Work on a copy, or use out-of-place operations."
    )


# --------------------------------------------------------------------------------------------
# Static checks on the answer's source
# --------------------------------------------------------------------------------------------


def forbidden_uses(source: str, function: str, forbidden: Sequence[str]) -> list[str]:
    """Library functions from ``forbidden`` that ``function``, or any definition it uses, refers to.

    Follows the names ``function`` uses to the other top-level functions and classes of
    ``source`` (helpers), and flags ``torch.log_softmax`` / ``x.log_softmax()`` (attribute access)
    and names imported from a library (``from torch.nn.functional import log_softmax``). The
    student's own functions of the same name are fine. The numpy/scipy equivalents of a forbidden
    torch function count as it (``scipy.special.expit`` for ``sigmoid``, see
    :data:`graders.guard.EQUIVALENTS`), and so does its name as a string (``getattr(F, "softmax")``).
    Calls made through computed names are refused by :mod:`graders.guard`; calls that get past
    this are caught when the answer runs, by name (:class:`_ForbiddenCalls`) and by the aten
    operators they dispatch to (:class:`graders.guard.ForbiddenOps`).
    """
    if not forbidden:
        return []
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    forbidden = guard.source_names(forbidden)  # with their numpy/scipy equivalents (``expit`` is ``sigmoid``)
    imported = {  # the name it is bound to → the library's name
        alias.asname or alias.name: alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
        if alias.name in forbidden
    }
    if any(isinstance(n, ast.ImportFrom) and any(a.name == "*" for a in n.names) for n in ast.walk(tree)):
        own = {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}
        # ``from scipy.special import *``: a bare forbidden name is the library's
        imported |= {n: n for n in forbidden if n not in own}
    definitions = {n.name: n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}
    found: set[str] = set()
    for sub in _reachable_nodes(definitions, function, stop=frozenset(imported)):
        if isinstance(sub, ast.Attribute) and sub.attr in forbidden:
            found.add(sub.attr)
        elif isinstance(sub, ast.Constant) and isinstance(sub.value, str) and sub.value in forbidden:
            found.add(sub.value)  # ``getattr(F, "log_softmax")``
        elif isinstance(sub, ast.Name) and sub.id in imported:
            found.add(imported[sub.id])
    return sorted(found)


def _reachable_nodes(
    definitions: Mapping[str, ast.AST], function: str, stop: frozenset[str] = frozenset()
) -> Iterator[ast.AST]:
    """Every AST node of ``function`` and of the top-level definitions it reaches by name (its
    helpers, theirs, ...), each definition once; names in ``stop`` are not followed."""
    todo, seen = [function], set()
    while todo:
        name = todo.pop()
        if name in seen or name not in definitions:
            continue
        seen.add(name)
        for sub in ast.walk(definitions[name]):
            if isinstance(sub, ast.Name) and sub.id in definitions and sub.id not in stop:
                todo.append(sub.id)
            yield sub


def _resolve_library(dotted: str) -> Any:
    """The ``courselib`` object a dotted name refers to (``None`` if it names nothing)."""
    import importlib

    parts = dotted.split(".")
    if parts[0] != "courselib":
        return None
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except Exception:  # noqa: BLE001 - not a module: try a shorter prefix
            continue
        try:
            for attr in parts[cut:]:
                obj = getattr(obj, attr)
        except AttributeError:
            return None
        return obj
    return None


def forbidden_library_uses(source: str, function: str, forbidden: Sequence[str]) -> list[str]:
    """The ``courselib`` functions of ``forbidden`` (dotted names) that ``function``, or any
    definition or constant it uses, refers to.

    Follows imports (``from courselib.world.bias import bbq_scores as b``, ``import courselib.world.harness
    as h``, re-exports such as ``courselib.world.gold_reward``) by resolving names to the objects they
    denote; an attribute spelled like a forbidden function (``anything.run_task``) counts too.
    Calls the source cannot show (``getattr`` with a computed name) are refused when the answer
    runs in the sandbox.
    """
    if not forbidden:
        return []
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    targets = {name: _resolve_library(name) for name in forbidden}
    last = {name.rsplit(".", 1)[-1]: name for name in forbidden}
    bound: dict[str, str] = {}  # local name -> dotted name it was imported as
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                bound[alias.asname or alias.name.split(".")[0]] = (
                    alias.name if alias.asname else alias.name.split(".")[0]
                )
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                bound[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    definitions: dict[str, ast.AST] = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            definitions[node.name] = node
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            for target in node.targets if isinstance(node, ast.Assign) else [node.target]:
                if isinstance(target, ast.Name):
                    definitions[target.id] = node

    def match(dotted: str) -> str | None:
        if dotted in targets:
            return dotted
        obj = _resolve_library(dotted)
        for name, target in targets.items():
            if obj is not None and target is not None and obj is target:
                return name
        return None

    def chain(node: ast.AST) -> list[str] | None:
        attrs: list[str] = []
        while isinstance(node, ast.Attribute):
            attrs.append(node.attr)
            node = node.value
        if isinstance(node, ast.Name):
            return [node.id, *reversed(attrs)]
        return None

    found: set[str] = set()
    for sub in _reachable_nodes(definitions, function):
        if isinstance(sub, ast.Attribute):
            if sub.attr in last:
                found.add(last[sub.attr])
            parts = chain(sub)
            if parts and parts[0] in bound:
                hit = match(".".join([bound[parts[0]], *parts[1:]]))
                if hit:
                    found.add(hit)
        elif isinstance(sub, ast.Name) and sub.id in bound and bound[sub.id].split(".")[0] == "courselib":
            hit = match(bound[sub.id])
            if hit:
                found.add(hit)
    return sorted(found)


# --------------------------------------------------------------------------------------------
# The verdict
# --------------------------------------------------------------------------------------------


def diagnose_error(exercise: Exercise, outcome: Outcome) -> str:
    """A helpful sentence for an answer that raised instead of returning."""
    if outcome.error_type == guard.TAMPERED_ERROR:
        return guard.TAMPERED
    if outcome.error_type == "NotImplementedError":
        return (
            f"`{exercise.function}` still raises NotImplementedError: replace "
            "`raise NotImplementedError()` with your implementation and re-run the cell."
        )
    text = f"your function raised {outcome.error_type}: {outcome.error}"
    lowered = (outcome.error or "").lower()
    if outcome.error_type == "RuntimeError" and ("size of tensor" in lowered or "shape" in lowered):
        text += " (a shape mismatch: check which dimension you reduce over and keepdim)"
    if "in-place operation" in lowered:
        text += " (your function changes one of its inputs in place: compute on a copy or use out-of-place operations)"
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


def _case_problem(exercise: Exercise, expected: Outcome, got: Outcome) -> str | None:
    if got.failed:
        return diagnose_error(exercise, got)
    return (
        compare(expected.value, got.value, exercise.rtol, exercise.atol)
        or return_problem(exercise, expected, got)
        or mutation_problem(got)
        or gradient_problem(exercise, expected, got)
    )


def grade(
    exercise: Exercise,
    student: Sequence[Outcome],
    cases: Sequence[Case],
    reference: Namespace,
    answer_source: str | None = None,
    expected: Sequence[Outcome] | None = None,
) -> Result:
    """Compare a student's outcomes with the reference's on the same cases and write the feedback.

    ``reference`` is the namespace that holds the trusted reference implementation (it runs here,
    on the CPU); the known mistakes are run here too, to name the mistake when the answer behaves
    like one. ``expected``: the reference's outcomes on ``cases``, when the caller has them
    already (a cohort computes them once per exercise); by default they are computed here.
    """
    feedback: list[str] = []
    if student and all(o.error_type == "NotImplementedError" for o in student):
        message = diagnose_error(exercise, student[0])
        return Result(exercise.id, 0.0, float(exercise.points), False, [f"✗ {exercise.id}: {message}"])
    if expected is None:
        expected = run_cases(exercise, reference[exercise.function], cases)
    failures: list[int] = []
    for i, (case, ref, got) in enumerate(zip(cases, expected, student)):
        if ref.failed:  # a bug in the course, not in the answer: say so loudly
            raise RuntimeError(f"reference for {exercise.id} failed on case {case.describe!r}: {ref.error}")
        if ref.mutated:
            raise RuntimeError(f"reference for {exercise.id} modifies its inputs on case {case.describe!r}")
        problem = _case_problem(exercise, ref, got)
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

    banned = sorted(
        set(forbidden_uses(answer_source or "", exercise.function, exercise.forbidden)).union(
            *(o.forbidden_calls for o in student)
        )
    )
    if banned:
        feedback.append(
            f"`{exercise.function}` uses {', '.join('`' + b + '`' for b in banned)} (directly or in a helper), which this "
            "exercise asks you to implement yourself: write it from more basic operations."
        )
    # the static guard reads the submitted text here, in the trusted process: nothing the answer
    # did when it ran can change this verdict (see graders.guard)
    refused = guard.refusal_message(answer_source, exercise.week, exercise.function) if answer_source else None
    if refused:
        feedback.append(refused)
    tampered = any(o.error_type == guard.TAMPERED_ERROR for o in student)

    library = forbidden_library_uses(answer_source or "", exercise.function, exercise.forbidden_courselib)
    if library:
        feedback.append(
            f"`{exercise.function}` uses {', '.join('`' + b + '`' for b in library)} (directly or in a helper), "
            "which computes this exercise's answer: the exercise is to implement it yourself."
        )

    passed = not failures and not banned and not library and not refused and not tampered
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
    named = []
    for mistake in exercise.mistakes:
        fn = mistake.definition
        if all(_same_behaviour(student[i], run_case(exercise, fn, cases[i], i)) for i in failures):
            named.append(mistake)
    return named


def result_for_missing(exercise: Exercise, reason: str) -> Result:
    """The verdict when the answer could not even be run (no such function, syntax error, crash)."""
    return Result(exercise.id, 0.0, float(exercise.points), False, [f"✗ {exercise.id}: {reason}"])
