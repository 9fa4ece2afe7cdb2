"""What keeps a submission from measuring itself: a static guard, a dispatch-level recorder, a seal.

Three layers, from the one that cannot be patched to the ones that run next to the student's code:

1. :func:`refusals` (the **static guard**, in the trusted parent, before any comparison): reads
   every definition the grader keeps from a submission (functions, classes, their class bodies,
   decorators and default arguments, which run when the definitions are loaded) and refuses
   code that reaches into the grader or into the process it runs in (``graders``, ``gc``,
   frames, ``sys.modules``, introspection attributes such as ``__globals__``), that runs code
   or looks up names chosen at run time (``exec``, ``eval``, ``getattr(x, name)``,
   ``importlib``, ``pickle``), that uses torch's internals below its public API (``torch._C``,
   ``torch.ops``, ``torch._decomp``, ``torch.overrides``), or that changes a library module
   (``torch.softmax = ...``). Definitions that are exact (AST-equal) copies of the released
   notebook's own definitions are exempt: the provided code is part of every submission.
   Its verdict depends only on the submitted text, so nothing the submission does at run time
   can change it.
2. :class:`ForbiddenOps` (a ``TorchDispatchMode``, active while the answer runs, next to the
   ``TorchFunctionMode`` of :mod:`graders.core`): records the aten operators that implement an
   exercise's forbidden functions, so that ``torch.ops.aten._log_softmax`` or a call under
   ``torch._C.DisableTorchFunction()`` is seen where torch dispatches, not by its Python name.
3. :func:`seal` / :meth:`Seal.broken` (in the grading child): a fingerprint of the measuring
   code taken before the submission's definitions run, checked after each exercise; a
   submission that disabled or patched it gets 0 with a sentence saying so. The child is the
   adversary's process, so the parent never relies on this alone: layer 1 is the one that holds.
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import json
import sys
import types
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch.utils._python_dispatch import TorchDispatchMode

# --------------------------------------------------------------------------------------------
# Forbidden functions where torch dispatches
# --------------------------------------------------------------------------------------------

_NLL = ("nll_loss_forward", "nll_loss2d_forward", "nll_loss", "nll_loss2d", "nll_loss_nd", "cross_entropy_loss")
_SDPA = (
    "scaled_dot_product_attention",
    "_scaled_dot_product_attention_math",
    "_scaled_dot_product_flash_attention",
    "_scaled_dot_product_flash_attention_for_cpu",
    "_scaled_dot_product_efficient_attention",
    "_scaled_dot_product_cudnn_attention",
    "_scaled_dot_product_fused_attention_overrideable",
    "_efficient_attention_forward",
    "_flash_attention_forward",
)

_BATCH_NORM = (
    "native_batch_norm",
    "batch_norm",
    "_native_batch_norm_legit",
    "_native_batch_norm_legit_no_training",
    "_native_batch_norm_legit_functional",
    "_batch_norm_impl_index",
    "_batch_norm_with_update",
    "_batch_norm_no_update",
    "cudnn_batch_norm",
    "miopen_batch_norm",
)

#: forbidden torch name → the aten operators (overload packets) its forward pass reaches on CPU
#: and CUDA. Composite operators (``aten.log_softmax``, ``aten.special_log_softmax``,
#: ``aten.cross_entropy_loss``) decompose before a dispatch mode sees them, so the operators they
#: decompose into are listed; the composite names are kept for backends that do not decompose.
#: Functions that decompose into ordinary arithmetic (``kl_div`` into ``xlogy``,
#: ``MultiheadAttention`` into matrix products and ``_softmax``) cannot be told apart from an
#: answer written by hand at this level: the ``TorchFunctionMode`` and the source checks catch them.
ATEN_OPS: Mapping[str, tuple[str, ...]] = types.MappingProxyType(
    {
        "log_softmax": ("_log_softmax", "log_softmax", "special_log_softmax"),
        "softmax": ("_softmax", "softmax", "special_softmax", "_safe_softmax"),
        "logsumexp": ("logsumexp", "special_logsumexp"),
        "cross_entropy": _NLL,
        "CrossEntropyLoss": _NLL,
        "nll_loss": _NLL,
        "NLLLoss": _NLL,
        "kl_div": ("kl_div",),
        "KLDivLoss": ("kl_div",),
        "logsigmoid": ("log_sigmoid_forward", "log_sigmoid"),
        "softplus": ("softplus",),
        "sigmoid": ("sigmoid", "special_expit"),
        "layer_norm": ("native_layer_norm", "layer_norm"),
        "LayerNorm": ("native_layer_norm", "layer_norm"),
        "gelu": ("gelu",),
        "logcumsumexp": ("logcumsumexp", "_logcumsumexp"),
        "logaddexp": ("logaddexp",),
        "binary_cross_entropy_with_logits": ("binary_cross_entropy_with_logits",),
        "BCEWithLogitsLoss": ("binary_cross_entropy_with_logits",),
        "group_norm": ("native_group_norm", "group_norm"),
        "GroupNorm": ("native_group_norm", "group_norm"),
        "batch_norm": _BATCH_NORM,
        "BatchNorm1d": _BATCH_NORM,
        "instance_norm": ("instance_norm", *_BATCH_NORM),
        "rms_norm": ("rms_norm", "_fused_rms_norm"),
        "RMSNorm": ("rms_norm", "_fused_rms_norm"),
        "InstanceNorm1d": ("instance_norm", *_BATCH_NORM),
        "GELU": ("gelu",),
        "scaled_dot_product_attention": _SDPA,
        "MultiheadAttention": ("_native_multi_head_attention", *_SDPA),
        "multi_head_attention_forward": ("_native_multi_head_attention", *_SDPA),
    }
)

#: forbidden torch name → the numpy / scipy / scikit-learn functions that compute the same thing
#: (refused in the source like the torch name itself: ``scipy.special.expit`` is ``sigmoid``)
EQUIVALENTS: Mapping[str, tuple[str, ...]] = types.MappingProxyType(
    {
        "log_softmax": ("log_softmax", "logsumexp", "softmax"),
        "softmax": ("softmax", "log_softmax", "logsumexp"),
        "logsumexp": ("logsumexp", "log_softmax", "softmax"),
        "cross_entropy": ("log_loss",),
        "CrossEntropyLoss": ("log_loss",),
        "nll_loss": ("log_loss",),
        "kl_div": ("rel_entr", "kl_divergence"),
        "KLDivLoss": ("rel_entr", "kl_divergence"),
        "logsigmoid": ("log_expit",),
        "softplus": ("log_expit",),
        "sigmoid": ("expit", "log_expit"),
    }
)


def source_names(forbidden: Sequence[str]) -> tuple[str, ...]:
    """The names refused in an answer's source: the forbidden torch names and their equivalents."""
    names = list(forbidden)
    for name in forbidden:
        names += [n for n in EQUIVALENTS.get(name, ()) if n not in names]
    return tuple(names)


class ForbiddenOps(TorchDispatchMode):
    """Records which forbidden functions are reached while it is active, by the aten operators
    they dispatch to (so that reaching them below Python, ``torch.ops.aten._log_softmax``, or with
    the ``TorchFunctionMode`` disabled, is recorded too)."""

    def __init__(self, forbidden: Sequence[str]) -> None:
        super().__init__()
        table: dict[str, str] = {}
        for name in forbidden:
            for op in ATEN_OPS.get(name, ()):
                table.setdefault(op, name)
        self.table = types.MappingProxyType(table)
        self.seen: dict[str, str] = {}

    def __torch_dispatch__(self, func: Any, types: Any, args: tuple = (), kwargs: Any = None) -> Any:
        op = func.overloadpacket.__name__ if hasattr(func, "overloadpacket") else getattr(func, "__name__", "")
        name = self.table.get(op)
        if name is not None:
            self.seen.setdefault(name, op)
        return func(*args, **(kwargs or {}))

    def report(self, already: Iterable[str] = ()) -> tuple[str, ...]:
        """What it saw, each as ``"log_softmax (reached as aten._log_softmax)"`` unless ``already``
        names it (the Python-level recorder saw it under its own name)."""
        known = set(already)
        return tuple(sorted(f"{n} (reached as aten.{op})" for n, op in self.seen.items() if n not in known))


def forbidden_ops(forbidden: Sequence[str]) -> ForbiddenOps | None:
    """A dispatch-level recorder for ``forbidden``, or ``None`` when none of them is a torch operator."""
    return ForbiddenOps(forbidden) if any(n in ATEN_OPS for n in forbidden) else None


# --------------------------------------------------------------------------------------------
# The static guard
# --------------------------------------------------------------------------------------------

GRADER = "grader"
DYNAMIC = "dynamic"
INTERNALS = "internals"
PATCH = "patch"
_ORDER = (GRADER, INTERNALS, DYNAMIC, PATCH)  # the first refusal shown is the gravest

_WHAT = {
    GRADER: (
        "your code reaches into the grader",
        "graded code may not inspect or change the grader or the process it runs in, nor run code on other threads "
        "or processes (`graders`, `gc`, frames, `threading`, "
        "`sys.modules`, introspection attributes such as `__globals__` or `__dict__`)",
    ),
    DYNAMIC: (
        "your code runs code or looks up names chosen at run time",
        "graded code may not use `exec`, `eval`, `compile`, `__import__`, `importlib`, `pickle`, or `getattr`/"
        "`setattr` with a computed name: write the attribute or the call directly",
    ),
    INTERNALS: (
        "your code uses torch's internals",
        "graded code may use torch's public API only (`torch._C`, `torch.ops`, `torch._decomp`, `torch.overrides` "
        "and other private modules reach operators below the grader's checks)",
    ),
    PATCH: (
        "your code changes a library module",
        "graded code may not replace or delete attributes of imported modules (monkeypatching `torch.x = ...`)",
    ),
}

#: modules (and the attributes of them, ``module.attr``) a submission may not use, by category;
#: a module listed with attributes is refused only for those attributes
_MODULES: Mapping[str, str] = types.MappingProxyType(
    {
        "graders": GRADER,
        "ctypes": GRADER,
        "cffi": GRADER,
        "signal": GRADER,
        "atexit": GRADER,
        "faulthandler": GRADER,
        "tracemalloc": GRADER,
        "builtins": DYNAMIC,
        "importlib": DYNAMIC,
        "imp": DYNAMIC,
        "zipimport": DYNAMIC,
        "pkgutil": DYNAMIC,
        "runpy": DYNAMIC,
        "pydoc": DYNAMIC,
        "code": DYNAMIC,
        "codeop": DYNAMIC,
        "timeit": DYNAMIC,
        "cProfile": DYNAMIC,
        "profile": DYNAMIC,
        "pdb": DYNAMIC,
        "bdb": DYNAMIC,
        "trace": DYNAMIC,
        "doctest": DYNAMIC,
        "unittest": DYNAMIC,
        "pickle": DYNAMIC,
        "cPickle": DYNAMIC,
        "marshal": DYNAMIC,
        "copyreg": DYNAMIC,
        "shelve": DYNAMIC,
        "dill": DYNAMIC,
        "cloudpickle": DYNAMIC,
        "joblib": DYNAMIC,
        "jinja2": DYNAMIC,
        "sympy": DYNAMIC,
        "logging.config": DYNAMIC,
        "IPython.core": DYNAMIC,
        "IPython.terminal": DYNAMIC,
        "IPython.utils": DYNAMIC,
        "IPython.get_ipython": DYNAMIC,
        "torch.ops": INTERNALS,
        "torch.overrides": INTERNALS,
        "torch.library": INTERNALS,
        "torch.compile": INTERNALS,
        "torch.export": INTERNALS,
        "torch.fx": INTERNALS,
        "torch.package": INTERNALS,
        "torch.hub": INTERNALS,
        "torch.utils.cpp_extension": INTERNALS,
        "torch.utils.benchmark": DYNAMIC,
        "numpy.ctypeslib": GRADER,
        "numpy.lib.format": DYNAMIC,
        "pandas.read_pickle": DYNAMIC,
        "operator.attrgetter": DYNAMIC,
        "operator.methodcaller": DYNAMIC,
        "functools.singledispatch": DYNAMIC,  # evaluates string annotations
        "functools.singledispatchmethod": DYNAMIC,
        "typing.get_type_hints": DYNAMIC,
        "typing.ForwardRef": DYNAMIC,
        "string.Formatter": DYNAMIC,
        "types.CodeType": DYNAMIC,
        "types.FrameType": GRADER,
        "threading.settrace": GRADER,
        "threading.setprofile": GRADER,
        "threading.settrace_all_threads": GRADER,
        "threading.setprofile_all_threads": GRADER,
        "gc.get_objects": GRADER,
        "gc.get_referrers": GRADER,
        "gc.get_referents": GRADER,
        "gc.garbage": GRADER,
        "gc.callbacks": GRADER,
        "gc.freeze": GRADER,
        "sys.modules": GRADER,
        "sys.settrace": GRADER,
        "sys.setprofile": GRADER,
        "sys.addaudithook": GRADER,
        "sys.audit": GRADER,
        "sys.meta_path": GRADER,
        "sys.path_hooks": GRADER,
        "sys.path_importer_cache": GRADER,
        "sys.last_traceback": GRADER,
        "sys.exc_info": GRADER,
        "sys.exception": GRADER,
        "sys.monitoring": GRADER,
        "sys.setrecursionlimit": GRADER,
        "traceback.walk_stack": GRADER,
        "traceback.walk_tb": GRADER,
        "asyncio": GRADER,  # tasks hand out their frames
        # torch's function and dispatch modes are thread-local: code run on another thread (or in
        # another process) is seen by no recorder (``Thread(target=F.log_softmax, ...)``)
        "threading": GRADER,
        "concurrent": GRADER,
        "multiprocessing": GRADER,
        "torch.multiprocessing": GRADER,
        "torch.jit": GRADER,
        "torch.futures": GRADER,
    }
)

#: modules whose bare name may not be passed around as a value (an alias escapes the checks)
_NO_BARE = frozenset({"gc", "sys", "inspect", "torch", "operator", "types", "typing", "functools", "string"})

#: attribute (or variable) names refused on any object: introspection that reaches frames,
#: globals, closures and classes, and the names of torch's mode machinery and of the grader's own
_ATTRS: Mapping[str, str] = types.MappingProxyType(
    {
        **dict.fromkeys(
            (
                "__globals__",
                "__closure__",
                "__code__",
                "__subclasses__",
                "__builtins__",
                "__dict__",
                "__bases__",
                "__base__",
                "__mro__",
                "__getattribute__",
                "__getattr__",
                "__setattr__",
                "__delattr__",
                "__reduce__",
                "__reduce_ex__",
                "__loader__",
                "__spec__",
                "__self__",
                "__func__",
                "__defaults__",
                "__kwdefaults__",
                "__traceback__",
                "__import__",
                "__init_subclass__",
                "__class_getitem__",
                "f_locals",
                "f_globals",
                "f_back",
                "f_code",
                "f_builtins",
                "f_trace",
                "f_lineno",
                "tb_frame",
                "tb_next",
                "gi_frame",
                "gi_code",
                "cr_frame",
                "cr_code",
                "ag_frame",
                "ag_code",
                "co_consts",
                "co_code",
                "_getframe",
                "_current_frames",
                "_BLOCKED_EVENTS",
                "_ForbiddenCalls",
                "ForbiddenOps",
            ),
            GRADER,
        ),
        **dict.fromkeys(
            (
                "_C",
                "__torch_function__",
                "__torch_dispatch__",
                "_decomp",
                "_refs",
                "_prims",
                "_prims_common",
                "_ops",
                "_dynamo",
                "_inductor",
                "_functorch",
                "_subclasses",
                "_higher_order_ops",
                "_library",
                "_python_dispatch",
                "_jit_internal",
                "_export",
                "aten",
                "prims",
                "decomposition_table",
                "TorchFunctionMode",
                "TorchDispatchMode",
                "DisableTorchFunction",
                "DisableTorchFunctionSubclass",
                "_DisableTorchDispatch",
                "_disable_current_modes",
                "_pop_mode",
                "_push_mode",
                "_pop_torch_function_stack",
                "_push_on_torch_function_stack",
                "_set_torch_function_mode",
                "_disabled_torch_function_impl",
            ),
            INTERNALS,
        ),
    }
)

#: builtins refused whenever they are named; ``getattr``/``setattr``/``delattr`` are checked at
#: each call instead (a constant, ordinary attribute name is fine)
_BUILTINS: Mapping[str, str] = types.MappingProxyType(
    {
        "exec": DYNAMIC,
        "eval": DYNAMIC,
        "compile": DYNAMIC,
        "__import__": DYNAMIC,
        "breakpoint": DYNAMIC,
        "globals": GRADER,
        "locals": GRADER,
        "vars": GRADER,
        "__builtins__": GRADER,
        "__loader__": GRADER,
        "__spec__": GRADER,
    }
)
_ATTRIBUTE_FUNCTIONS = frozenset({"getattr", "setattr", "delattr"})

#: the methods by which a tensor subclass takes over torch's functions (refused as definitions,
#: names and strings)
_TORCH_HOOKS = frozenset({"__torch_function__", "__torch_dispatch__"})

#: keyword arguments that would unpickle (run code) or execute downloaded code
_KEYWORDS: Mapping[str, bool] = types.MappingProxyType(
    {"weights_only": True, "allow_pickle": False, "trust_remote_code": False}
)


@dataclass(frozen=True)
class Refusal:
    """One construct the static guard refuses, where it is, and whether it runs at definition time."""

    kind: str
    construct: str
    definition: str
    line: int  # 1: the definition's first line
    at_definition_time: bool

    def message(self) -> str:
        """The one-line reason shown to the student."""
        what, rule = _WHAT[self.kind]
        where = f"line {self.line} of `{self.definition}`" if self.definition else f"line {self.line}"
        return f"{what} (`{self.construct}`, {where}): {rule}."


#: the parts of :mod:`inspect` a submission may use (the rest hands out frames, members, closures)
_INSPECT_ALLOWED = frozenset(
    {"signature", "Signature", "Parameter", "isclass", "isfunction", "ismethod", "getdoc", "cleandoc", "getsource"}
)


def _module_rule(path: str) -> str | None:
    """The category under which a module path (``torch.ops.aten``) is refused, if it is."""
    parts = path.split(".")
    if parts[0] == "inspect" and len(parts) > 1 and parts[1] not in _INSPECT_ALLOWED:
        return GRADER
    for i in range(len(parts), 0, -1):
        kind = _MODULES.get(".".join(parts[:i]))
        if kind is not None:
            return kind
    if any(p.startswith("_") and not (p.startswith("__") and p.endswith("__")) for p in parts):
        return INTERNALS if parts[0] == "torch" else GRADER
    for p in parts[1:]:
        if p in _ATTRS:
            return _ATTRS[p]
    return None


class _Analysis:
    """Per top-level statement: the names it binds, its refusals, and the names it refers to."""

    def __init__(self, tree: ast.Module, exempt: frozenset[str]) -> None:
        self.aliases = _aliases(tree)
        self.statements: list[tuple[tuple[str, ...], bool, list[Refusal], set[str], set[str]]] = []
        for stmt in tree.body:
            names = _bound_names(stmt)
            is_exempt = ast.dump(stmt) in exempt
            visitor = _Visitor(self.aliases, names[0] if names else "", stmt.lineno)
            visitor.visit_at(stmt, True)
            self.statements.append((names, is_exempt, visitor.refusals, visitor.refs, visitor.deftime_refs))

    def closure(self, roots: Iterable[str]) -> list[Refusal]:
        """The refusals of every non-exempt definition reachable by name from ``roots``."""
        by_name: dict[str, list[int]] = {}
        for i, (names, *_rest) in enumerate(self.statements):
            for n in names:
                by_name.setdefault(n, []).append(i)
        todo, seen, found = list(roots), set(), []
        while todo:
            name = todo.pop()
            if name in seen:
                continue
            seen.add(name)
            for i in by_name.get(name, []):
                _, exempt, refusals, refs, _ = self.statements[i]
                if not exempt:
                    found += refusals
                todo += refs
        return found

    def at_definition_time(self) -> list[Refusal]:
        """Refusals of code that runs when the definitions are loaded (class bodies, decorators,
        default arguments, and whatever they call)."""
        found: list[Refusal] = []
        roots: set[str] = set()
        for _, exempt, refusals, _, deftime_refs in self.statements:
            if not exempt:
                found += [r for r in refusals if r.at_definition_time]
            roots |= deftime_refs
        return found + self.closure(roots)


def _bound_names(stmt: ast.stmt) -> tuple[str, ...]:
    if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return (stmt.name,)
    if isinstance(stmt, (ast.Assign, ast.AnnAssign)):
        targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
        return tuple(n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name))
    if isinstance(stmt, (ast.Import, ast.ImportFrom)):
        return tuple((a.asname or a.name).split(".")[0] for a in stmt.names)
    return ()


def _aliases(tree: ast.Module) -> dict[str, str]:
    """Every name bound to a module or to something imported from one (anywhere in the code),
    and names assigned from those (``t = torch``), as a dotted path."""
    aliases: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.asname:
                    aliases[a.asname] = a.name
                else:
                    root = a.name.split(".")[0]
                    aliases[root] = root
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            for a in node.names:
                if a.name != "*":
                    aliases[a.asname or a.name] = f"{node.module}.{a.name}"
    for _ in range(3):  # assignments of aliases to other names, a few levels deep
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign):
                path = _resolve(node.value, aliases)
                if path is not None:
                    for t in node.targets:
                        if isinstance(t, ast.Name) and t.id not in aliases:
                            aliases[t.id] = path
    return aliases


def _resolve(node: ast.AST, aliases: Mapping[str, str]) -> str | None:
    """The dotted path an expression stands for (``F.softmax`` → ``torch.nn.functional.softmax``)."""
    if isinstance(node, ast.Name):
        return aliases.get(node.id)
    if isinstance(node, ast.Attribute):
        base = _resolve(node.value, aliases)
        return None if base is None else f"{base}.{node.attr}"
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "getattr"
        and len(node.args) >= 2
        and isinstance(node.args[1], ast.Constant)
        and isinstance(node.args[1].value, str)
    ):
        base = _resolve(node.args[0], aliases)
        return None if base is None else f"{base}.{node.args[1].value}"
    return None


def _shown(node: ast.AST) -> str:
    text = ast.unparse(node)
    return text if len(text) <= 60 else text[:57] + "..."


class _Visitor:
    def __init__(self, aliases: Mapping[str, str], definition: str, first_line: int) -> None:
        self.aliases = aliases
        self.definition = definition
        self.first_line = first_line
        self.refusals: list[Refusal] = []
        self.refs: set[str] = set()
        self.deftime_refs: set[str] = set()

    def refuse(self, kind: str, node: ast.AST, deftime: bool, construct: str | None = None) -> None:
        line = getattr(node, "lineno", self.first_line) - self.first_line + 1
        self.refusals.append(Refusal(kind, construct or _shown(node), self.definition, line, deftime))

    def visit_at(self, node: ast.AST, deftime: bool) -> None:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name in _TORCH_HOOKS:
            # a tensor subclass's own __torch_function__ runs with the grader's TorchFunctionMode
            # switched off (torch pops a mode while its handler runs): a forbidden call made there is unseen
            self.refuse(INTERNALS, node, deftime, f"def {node.name}")
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            args = node.args
            for d in [*args.defaults, *(d for d in args.kw_defaults if d is not None)]:
                self.visit_at(d, deftime)
            if not isinstance(node, ast.Lambda):
                for d in node.decorator_list:
                    self.visit_at(d, deftime)
                every = [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]
                for a in every:
                    if a is not None and a.annotation is not None:
                        self.visit_at(a.annotation, deftime)
                if node.returns is not None:
                    self.visit_at(node.returns, deftime)
                for stmt in node.body:
                    self.visit_at(stmt, False)
            else:
                self.visit_at(node.body, False)
            return
        if isinstance(node, ast.ClassDef):
            for d in [*node.decorator_list, *node.bases, *(k.value for k in node.keywords)]:
                self.visit_at(d, deftime)
            for stmt in node.body:
                self.visit_at(stmt, deftime)
            return
        self.check(node, deftime)
        for child in ast.iter_child_nodes(node):
            self.visit_at(child, deftime)

    def check(self, node: ast.AST, deftime: bool) -> None:
        if isinstance(node, ast.Name):
            self.refs.add(node.id)
            if deftime:
                self.deftime_refs.add(node.id)
            self._check_name(node, deftime)
        elif isinstance(node, ast.Attribute):
            self._check_attribute(node, deftime)
        elif isinstance(node, ast.Call):
            self._check_call(node, deftime)
        elif isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Delete)):
            targets = (
                node.targets if isinstance(node, (ast.Assign, ast.Delete)) else [node.target]  # type: ignore[union-attr]
            )
            for t in _flat_targets(targets):
                base = _resolve(t.value, self.aliases) if isinstance(t, ast.Attribute) else None
                if base is not None and not base.startswith(_SETTINGS):
                    self.refuse(_module_rule(base) or PATCH, t, deftime)
                elif isinstance(t, ast.Attribute) and _is_type_of(t.value):
                    self.refuse(PATCH, t, deftime)  # type(x).clone = ...: a library class, changed
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in _TORCH_HOOKS:
            self.refuse(INTERNALS, node, deftime)  # type("T", (torch.Tensor,), {"__torch_function__": f})
        elif isinstance(node, ast.ImportFrom) and any(a.name == "*" for a in node.names):
            kind = _module_rule(node.module or "") if node.level == 0 else GRADER
            if kind is not None:
                self.refuse(kind, node, True)

    def _check_name(self, node: ast.Name, deftime: bool) -> None:
        if node.id in _BUILTINS:
            self.refuse(_BUILTINS[node.id], node, deftime)
            return
        if node.id in _ATTRS:
            self.refuse(_ATTRS[node.id], node, deftime)
            return
        if node.id in _ATTRIBUTE_FUNCTIONS and not getattr(node, "_attribute_base", False):
            self.refuse(DYNAMIC, node, deftime, f"{node.id} passed as a value")  # reduce(getattr, names, obj)
            return
        path = self.aliases.get(node.id)
        if path is not None and isinstance(node.ctx, ast.Load):
            kind = _module_rule(path)
            if kind is not None:
                self.refuse(kind, node, deftime, f"{node.id}" if node.id == path else f"{node.id} = {path}")
            elif path in _NO_BARE and not getattr(node, "_attribute_base", False):
                self.refuse(GRADER if path != "torch" else INTERNALS, node, deftime, f"{node.id} passed as a value")

    def _check_attribute(self, node: ast.Attribute, deftime: bool) -> None:
        node.value._attribute_base = True  # type: ignore[attr-defined]
        if node.attr in _ATTRS:
            self.refuse(_ATTRS[node.attr], node, deftime)
            return
        path = _resolve(node, self.aliases)
        if path is not None:
            kind = _module_rule(path)
            base = _resolve(node.value, self.aliases)
            if kind is not None and (base is None or _module_rule(base) is None):
                self.refuse(kind, node, deftime)

    def _check_call(self, node: ast.Call, deftime: bool) -> None:
        func = node.func
        if isinstance(func, ast.Name) and func.id in _ATTRIBUTE_FUNCTIONS:
            func._attribute_base = True  # type: ignore[attr-defined]
            if node.args:
                node.args[0]._attribute_base = True  # type: ignore[attr-defined]
            name = node.args[1] if len(node.args) >= 2 else None
            target = _resolve(node.args[0], self.aliases) if node.args else None
            if not (isinstance(name, ast.Constant) and isinstance(name.value, str)):
                # a computed name on a module or a library class: refused; on the answer's own
                # objects (``getattr(self, name)``) allowed, and checked when it runs (guarded_builtins)
                if target is not None or (node.args and _is_type_of(node.args[0])) or not node.args:
                    self.refuse(DYNAMIC, node, deftime)
            elif name.value in _ATTRS:
                self.refuse(_ATTRS[name.value], node, deftime)
            else:
                if func.id in ("setattr", "delattr") and (target is not None or _is_type_of(node.args[0])):
                    self.refuse(PATCH, node, deftime)
                elif target is not None and _module_rule(f"{target}.{name.value}") is not None:
                    self.refuse(_module_rule(f"{target}.{name.value}") or GRADER, node, deftime)
        for kw in node.keywords:
            if kw.arg in _KEYWORDS:
                safe = _KEYWORDS[kw.arg]
                if not (isinstance(kw.value, ast.Constant) and kw.value.value is safe):
                    self.refuse(DYNAMIC, kw.value, deftime, f"{kw.arg}={_shown(kw.value)}")


def _is_type_of(node: ast.AST) -> bool:
    """``type(x)`` or ``x.__class__``: the class of an object the submission did not necessarily define."""
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "type"
        and len(node.args) == 1
    ):
        return True
    return isinstance(node, ast.Attribute) and node.attr == "__class__"


#: module attributes that are settings, meant to be assigned (``torch.backends.cudnn.deterministic = True``)
_SETTINGS = ("torch.backends", "pandas.options", "matplotlib.rcParams", "matplotlib.pyplot.rcParams")


def _flat_targets(targets: Iterable[ast.expr]) -> Iterator[ast.expr]:
    for t in targets:
        if isinstance(t, (ast.Tuple, ast.List)):
            yield from _flat_targets(t.elts)
        elif isinstance(t, ast.Starred):
            yield from _flat_targets([t.value])
        else:
            yield t


def _names_as_calls(tree: ast.AST) -> None:
    """Mark the names that are called or whose attributes are read (not passed around as values)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            node.value._attribute_base = True  # type: ignore[attr-defined]


@functools.lru_cache(maxsize=256)
def _analyse(source: str, week: str) -> _Analysis | None:
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return None
    _names_as_calls(tree)
    return _Analysis(tree, provided_definitions(week) if week else frozenset())


def refusals(source: str, week: str, function: str) -> list[Refusal]:
    """What the static guard refuses in ``source`` (a submission's kept definitions) that affects
    the graded function ``function``: constructs in it or in the definitions it uses (by name),
    and constructs that run when the definitions are loaded (class bodies, decorators, default
    arguments, and the functions they call), which affect every exercise. Definitions that are
    exact copies of the week's released notebook's are exempt."""
    analysis = _analyse(source, week)
    if analysis is None:
        return []
    found = analysis.at_definition_time() + analysis.closure([function])
    unique: dict[tuple[str, str, int], Refusal] = {}
    for r in found:
        unique.setdefault((r.definition, r.construct, r.line), r)
    return sorted(unique.values(), key=lambda r: (_ORDER.index(r.kind), not r.at_definition_time, r.definition, r.line))


def refusal_message(source: str, week: str, function: str) -> str | None:
    """The one-line reason for the first refusal affecting ``function`` (``None``: nothing refused)."""
    found = refusals(source, week, function)
    if not found:
        return None
    more = f" (and {len(found) - 1} more such construct{'s' if len(found) > 2 else ''})" if len(found) > 1 else ""
    return found[0].message() + more


@functools.cache
def provided_definitions(week: str) -> frozenset[str]:
    """AST dumps of the definitions the grader keeps from the week's released notebooks (the code
    every student starts from), read from ``course/<week>/*.ipynb``."""
    from graders.source import definitions

    folder = Path(__file__).resolve().parent.parent / "course" / week
    dumps: set[str] = set()
    for path in sorted(folder.glob("*.ipynb")) if folder.is_dir() else []:
        try:
            cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
            chunks = ["".join(c["source"]) if isinstance(c["source"], list) else c["source"] for c in cells]
            code, _ = definitions([c for c, cell in zip(chunks, cells) if cell.get("cell_type") == "code"])
            dumps |= {ast.dump(stmt) for stmt in ast.parse(code).body}
        except (OSError, ValueError, KeyError, TypeError, SyntaxError):
            continue
    return frozenset(dumps)


# --------------------------------------------------------------------------------------------
# The seal: is the measuring code still the one that was loaded?
# --------------------------------------------------------------------------------------------

TAMPERED = (
    "your code disabled or patched the grader's measuring code (the recorders of forbidden calls, of in-place "
    "changes or of gradients, or the way results are reported): graded code must leave the grader alone"
)


def _fingerprint(obj: Any) -> Any:
    """What identifies a function or class as the one loaded: its code and the objects it holds."""
    if isinstance(obj, types.FunctionType):
        return (
            obj,
            obj.__code__,
            obj.__defaults__,
            obj.__kwdefaults__,
            tuple(c.cell_contents if _cell_full(c) else None for c in obj.__closure__ or ()),
        )
    if isinstance(obj, type):
        return (obj, tuple((k, _fingerprint(v)) for k, v in vars(obj).items() if k not in ("__dict__", "__weakref__")))
    if isinstance(obj, (staticmethod, classmethod)):
        return (obj, _fingerprint(obj.__func__))
    if isinstance(obj, property):
        return (obj, _fingerprint(obj.fget), _fingerprint(obj.fset))
    return obj


def _same(a: Any, b: Any) -> bool:
    """Identity, element by element (values held by functions may be tensors: never ``==``)."""
    if type(a) is tuple and type(b) is tuple:
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return a is b


def _cell_full(cell: Any) -> bool:
    try:
        cell.cell_contents  # noqa: B018 - an empty cell raises
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class Seal:
    """A fingerprint of the measuring code, taken before a submission's definitions run."""

    modules: tuple[tuple[str, types.ModuleType, tuple[tuple[str, Any], ...]], ...]
    torch_hooks: tuple[tuple[Any, str, Any], ...]
    exercises: tuple[tuple[Any, tuple[Any, ...]], ...] = ()

    def broken(self) -> str | None:
        """``None`` when everything is as sealed, else what changed (for the logs; the student
        sees :data:`TAMPERED`)."""
        for name, module, entries in self.modules:
            if sys.modules.get(name) is not module:
                return f"module {name} replaced"
            current = vars(module)
            for key, print_ in entries:
                if key not in current or not _same(_fingerprint(current[key]), print_):
                    return f"{name}.{key} changed"
        for owner, attr, original in self.torch_hooks:
            current = vars(owner).get(attr) if isinstance(owner, type) else getattr(owner, attr, None)
            if current is not original:
                return f"{getattr(owner, '__name__', owner)}.{attr} changed"
        for exercise, fields in self.exercises:
            if not _same(_exercise_fields(exercise), fields):
                return f"the exercise {getattr(exercise, 'id', '?')} was changed"
        if torch._C._len_torch_function_stack() != 0:
            return "a torch function mode was left on the stack"
        from torch.utils._python_dispatch import _get_current_dispatch_mode

        if _get_current_dispatch_mode() is not None:
            return "a torch dispatch mode was left on the stack"
        return None


#: the modules whose functions and classes measure an answer in the grading child
SEALED_MODULES = ("graders.core", "graders.guard", "graders.transport", "graders.sandbox", "graders.source")


def _exercise_fields(exercise: Any) -> tuple[Any, ...]:
    """What says how an exercise is measured (its forbidden functions, call, gradients, ...)."""
    return (type(exercise), *(_fingerprint(getattr(exercise, f.name)) for f in dataclasses.fields(exercise)))


def seal(module_names: Sequence[str] = SEALED_MODULES, exercises: Sequence[Any] = ()) -> Seal:
    """Fingerprint the measuring code now (before any submitted code runs in this process), and
    the ``exercises`` about to be measured."""
    modules = []
    for name in module_names:
        module = sys.modules.get(name)
        if module is None:
            continue
        entries = tuple(
            (k, _fingerprint(v))
            for k, v in sorted(vars(module).items())
            if isinstance(v, (types.FunctionType, type)) and getattr(v, "__module__", None) == name
        )
        modules.append((name, module, entries))
    from torch.overrides import TorchFunctionMode

    hooks = []
    for owner in (TorchFunctionMode, TorchDispatchMode):
        for attr in ("__enter__", "__exit__", "push", "__init__"):
            if attr in vars(owner):
                hooks.append((owner, attr, vars(owner)[attr]))
    for attr in ("_push_on_torch_function_stack", "_pop_torch_function_stack", "_len_torch_function_stack"):
        hooks.append((torch._C, attr, getattr(torch._C, attr)))
    hooks.append((torch.autograd, "grad", torch.autograd.grad))
    for attr in ("enable_grad", "equal", "randn", "where", "zeros_like", "tensor", "is_tensor"):
        hooks.append((torch, attr, getattr(torch, attr)))
    # torch.Tensor's own methods (TensorBase, below it, is immutable): the copies, comparisons and
    # gradients that measure an answer use them; a name added later (``__eq__`` set on the class)
    # shadows TensorBase's, so those are sealed as absent
    for attr in {*vars(torch.Tensor), "__eq__", "__ne__", "__and__", "__or__", "clone", "detach", "to", "all", "any"}:
        hooks.append((torch.Tensor, attr, vars(torch.Tensor).get(attr)))  # None: inherited from TensorBase
    return Seal(tuple(modules), tuple(hooks), tuple((e, _exercise_fields(e)) for e in exercises))


def checked(check: Callable[[], str | None]) -> str | None:
    """Run a seal's check; a check that itself fails (its objects were tampered with) is a break."""
    try:
        return check()
    except Exception as exc:  # noqa: BLE001 - anything odd here means the harness was touched
        return f"the check itself failed ({type(exc).__name__})"


TAMPERED_ERROR = "GraderPatched"


def modes_intact(function_mode: Any, dispatch_mode: Any) -> bool:
    """Whether the recorders are still active, on top of their stacks, as the answer returns
    (an answer that popped, replaced or disabled them is caught here, at run time)."""
    try:
        if function_mode is not None:
            depth = torch._C._len_torch_function_stack()
            if depth == 0 or torch._C._get_function_stack_at(depth - 1) is not function_mode:
                return False
            if not torch._C._is_torch_function_mode_enabled():
                return False
        if dispatch_mode is not None:
            from torch.utils._python_dispatch import _get_current_dispatch_mode

            if _get_current_dispatch_mode() is not dispatch_mode:
                return False
    except Exception:  # noqa: BLE001 - the stacks themselves were tampered with
        return False
    return True


# --------------------------------------------------------------------------------------------
# getattr and friends, checked when they run
# --------------------------------------------------------------------------------------------


def _refused_lookup(obj: Any, name: Any, library: frozenset[str] = frozenset()) -> bool:
    if not isinstance(name, str):
        return False  # the builtin raises its own TypeError
    if name in _ATTRS:
        return True
    if isinstance(obj, types.ModuleType):
        if name in library:
            # a forbidden function by a computed name (``getattr([metrics][0], "cohen_" + "kappa_score")``):
            # the source checks cannot see it; no torch recorder sees a scikit-learn or scipy call, and
            # a torch one made where torch switches its function mode off (in a custom backward, a
            # tensor hook) that decomposes into ordinary operators (``kl_div``) is seen by none
            return True
        return name.startswith("_") or _module_rule(f"{obj.__name__}.{name}") is not None
    return isinstance(obj, (types.FrameType, types.CodeType, types.TracebackType))


def _refused_change(obj: Any, name: Any, own_module: str) -> bool:
    if isinstance(obj, types.ModuleType):
        return True
    if isinstance(obj, type) and vars(obj).get("__module__") != own_module:
        return True  # a library's class (``setattr(torch.Tensor, ...)``); the answer's own classes are fine
    return _refused_lookup(obj, name)


def guarded_builtins(module_name: str = "answer", forbidden: Iterable[str] = ()) -> dict[str, Any]:
    """The builtins of a submission's namespace: ``getattr``, ``hasattr``, ``setattr`` and
    ``delattr`` refuse, when they run, what the static guard refuses in the text (frames,
    ``__globals__``-like attributes, private or refused attributes of modules, changes to modules
    and library classes), so that a computed name (``getattr(self, name)``, allowed in the text)
    cannot reach them either. ``forbidden``: the forbidden functions of the exercises graded
    (with their numpy/scipy equivalents), refused by name on modules."""
    import builtins

    library = frozenset(source_names(tuple(forbidden)))

    real_getattr, real_hasattr, real_setattr, real_delattr = getattr, hasattr, setattr, delattr

    def checked_getattr(obj: Any, name: Any, *default: Any) -> Any:
        if _refused_lookup(obj, name, library):
            raise AttributeError(f"the grader does not allow looking up {name!r} here")
        return real_getattr(obj, name, *default)

    def checked_hasattr(obj: Any, name: Any) -> bool:
        return False if _refused_lookup(obj, name, library) else real_hasattr(obj, name)

    def checked_setattr(obj: Any, name: Any, value: Any) -> None:
        if _refused_change(obj, name, module_name):
            raise AttributeError(f"the grader does not allow setting {name!r} on {type(obj).__name__} objects here")
        real_setattr(obj, name, value)

    def checked_delattr(obj: Any, name: Any) -> None:
        if _refused_change(obj, name, module_name):
            raise AttributeError(f"the grader does not allow deleting {name!r} here")
        real_delattr(obj, name)

    table = dict(vars(builtins))
    table.update(getattr=checked_getattr, hasattr=checked_hasattr, setattr=checked_setattr, delattr=checked_delattr)
    return table
