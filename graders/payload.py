"""What the trusted parent sends the grading worker: cases, exercise settings and call adapters.

The spec modules (``graders/weeks/``) hold the known mistakes, written as one helper with a switch
per mistake whose default is the correct answer, so they never enter the sandbox. The parent
builds each exercise's cases here and sends them to the warm worker once, at its start, as JSON
plus safetensors (formats that cannot run code): the cases, the exercise's plain settings
(``function``, ``grads``, ``forbidden``, ...) and, when the exercise has a ``call`` adapter or its
cases hold fixture functions or objects (week 11's judges and strategies), the *source* of those
definitions, made self-contained (:func:`fixture_source`): the definition, the plain imports of
its module and the module-level helpers, classes and constants it uses, followed across the
``graders.weeks`` modules it imports from, and nothing else. The worker runs that source in a
namespace of its own before any student code (:mod:`graders.sandbox`).

This module runs in the parent only; the child decodes with :func:`graders.transport.decode_input`.
"""

from __future__ import annotations

import ast
import dataclasses
import json
import sys
import types
from collections.abc import Callable, Sequence
from typing import Any

import torch

from graders.core import Case, Exercise, _default_call, _module_tree

PAYLOAD_VERSION = 1
WEEKS_PACKAGE = "graders.weeks."
SKIPPED_FIELDS = ("make_cases", "mistakes", "call")  # sent another way (cases, source) or parent-only
CALL_NAME = "_grader_call"  # the name a lambda adapter gets in the shipped source


class PayloadError(ValueError):
    """An exercise cannot be sent to the worker (a course bug: say which exercise and why)."""


# --------------------------------------------------------------------------------------------
# Self-contained source of fixture definitions
# --------------------------------------------------------------------------------------------


@dataclasses.dataclass
class _ModuleInfo:
    tree: ast.Module
    definitions: dict[str, ast.stmt]  # functions, classes and assignments at the top level
    weeks_imports: dict[str, tuple[str, str]]  # alias -> (graders.weeks module, name)
    core_imports: list[str]  # ``from graders.core import ...`` statements (graders.core is in the sandbox)
    other_graders: set[str]  # names imported from other graders modules: never sent
    plain_imports: list[str]


def _is_exercise_assignment(stmt: ast.stmt) -> bool:
    value = getattr(stmt, "value", None)
    return isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and value.func.id == "Exercise"


def _module_info(module_name: str) -> _ModuleInfo:
    tree = _module_tree(module_name)
    if tree is None:
        raise PayloadError(f"cannot read the source of {module_name}")
    info = _ModuleInfo(tree, {}, {}, [], set(), [])
    for stmt in tree.body:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            info.definitions[stmt.name] = stmt
        elif isinstance(stmt, (ast.Assign, ast.AnnAssign)) and not _is_exercise_assignment(stmt):
            targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
            for target in targets:
                for name in ast.walk(target):
                    if isinstance(name, ast.Name):
                        info.definitions[name.id] = stmt
        elif isinstance(stmt, ast.ImportFrom) and stmt.module == "__future__":
            continue
        elif isinstance(stmt, ast.ImportFrom) and (stmt.module or "").startswith(WEEKS_PACKAGE):
            for alias in stmt.names:
                info.weeks_imports[alias.asname or alias.name] = (stmt.module or "", alias.name)
        elif isinstance(stmt, ast.ImportFrom) and stmt.module == "graders.core":
            info.core_imports.append(ast.unparse(stmt))
        elif isinstance(stmt, ast.ImportFrom) and (stmt.module or "").split(".")[0] == "graders":
            info.other_graders |= {a.asname or a.name for a in stmt.names}
        elif isinstance(stmt, ast.Import) and any(a.name.split(".")[0] == "graders" for a in stmt.names):
            info.other_graders |= {(a.asname or a.name).split(".")[0] for a in stmt.names}
        elif isinstance(stmt, (ast.Import, ast.ImportFrom)):
            info.plain_imports.append(ast.unparse(stmt))
    return info


def _names_used(node: ast.AST) -> list[str]:
    return [n.id for n in ast.walk(node) if isinstance(n, ast.Name)]


def _lambda_node(fn: types.FunctionType, tree: ast.Module) -> ast.Lambda:
    line = fn.__code__.co_firstlineno
    found = [n for n in ast.walk(tree) if isinstance(n, ast.Lambda) and n.lineno == line]
    if len(found) != 1:
        raise PayloadError(f"cannot find the source of the lambda at line {line} of {fn.__module__}")
    return found[0]


def _root_of(obj: Any) -> tuple[str, str]:
    module = getattr(obj, "__module__", "") or ""
    if not module.startswith(WEEKS_PACKAGE):
        raise PayloadError(f"{obj!r} is not defined in graders/weeks/ (module {module!r})")
    return module, obj.__name__


def fixture_source(roots: Sequence[Any]) -> tuple[str, dict[int, str]]:
    """Self-contained source defining every object of ``roots`` (functions, classes, lambdas of
    ``graders/weeks/`` modules), and the name each gets in it (by ``id`` of the object).

    Raises :class:`PayloadError` when a definition needs a graders module other than
    ``graders.core`` (the registry, a reference) or two definitions would share a name.
    """
    infos: dict[str, _ModuleInfo] = {}

    def info(module: str) -> _ModuleInfo:
        if module not in infos:
            if module not in sys.modules:
                raise PayloadError(f"module {module} is not loaded")
            infos[module] = _module_info(module)
        return infos[module]

    chosen: dict[tuple[str, str], ast.stmt] = {}  # (module, name) -> statement
    aliases: list[str] = []  # ``alias = name`` lines for names imported under another name
    depth: dict[str, int] = {}
    names: dict[int, str] = {}
    extra: list[str] = []  # lambda adapters

    def need(module: str, name: str, level: int) -> None:
        depth[module] = max(depth.get(module, 0), level)
        mod = info(module)
        if name in mod.weeks_imports:
            other, original = mod.weeks_imports[name]
            need(other, original, level + 1)
            if original != name:
                aliases.append(f"{name} = {original}")
            return
        if name in mod.other_graders:
            raise PayloadError(f"{module}: a fixture uses `{name}`, imported from a graders module the sandbox lacks")
        stmt = mod.definitions.get(name)
        if stmt is None or (module, name) in chosen:
            return
        chosen[(module, name)] = stmt
        for used in _names_used(stmt):
            if used != name:
                need(module, used, level)

    for obj in roots:
        module, name = _root_of(obj)
        if isinstance(obj, types.FunctionType) and obj.__name__ == "<lambda>":
            node = _lambda_node(obj, info(module).tree)
            depth[module] = max(depth.get(module, 0), 0)
            extra.append(f"{CALL_NAME} = {ast.unparse(node)}")
            for used in _names_used(node):
                need(module, used, 0)
            names[id(obj)] = CALL_NAME
            continue
        need(module, name, 0)
        names[id(obj)] = name

    seen_names: dict[str, tuple[str, str]] = {}
    for module, name in chosen:
        stmt = chosen[(module, name)]
        for target in _defined_names(stmt):
            if target in seen_names and seen_names[target][0] != module:
                raise PayloadError(f"`{target}` is defined both in {seen_names[target][0]} and in {module}")
            seen_names[target] = (module, target)

    modules = sorted(depth, key=lambda m: -depth[m])
    imports: list[str] = []
    for module in modules:
        for line in info(module).plain_imports + info(module).core_imports:
            if line not in imports:
                imports.append(line)
    parts = ["from __future__ import annotations", *imports]
    for module in modules:
        mod = info(module)
        emitted: set[int] = set()
        for stmt in mod.tree.body:
            if any(chosen.get((module, n)) is stmt for n in _defined_names(stmt)) and id(stmt) not in emitted:
                emitted.add(id(stmt))
                if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and any(
                    _is_mistake_decorator(d) for d in stmt.decorator_list
                ):
                    raise PayloadError(f"{module}.{stmt.name} is a registered mistake: it never enters the sandbox")
                parts.append(ast.unparse(stmt))
    parts += sorted(set(aliases)) + extra
    return "\n\n".join(parts) + "\n", names


def _defined_names(stmt: ast.stmt) -> list[str]:
    if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return [stmt.name]
    targets = stmt.targets if isinstance(stmt, ast.Assign) else [getattr(stmt, "target", None)]
    return [n.id for t in targets if t is not None for n in ast.walk(t) if isinstance(n, ast.Name)]


def _is_mistake_decorator(node: ast.expr) -> bool:
    func = node.func if isinstance(node, ast.Call) else node
    return isinstance(func, ast.Attribute) and func.attr == "mistake"


# --------------------------------------------------------------------------------------------
# Encoding case inputs
# --------------------------------------------------------------------------------------------


class _Encoder:
    """Case inputs → JSON descriptions; tensors (each object once: ties survive) → ``tensors``."""

    def __init__(self) -> None:
        self.tensors: dict[str, torch.Tensor] = {}
        self._memo: dict[int, str] = {}
        self.roots: list[Any] = []  # fixture functions and classes met in the values

    def encode(self, value: Any, fixtures: bool = True) -> Any:
        if isinstance(value, torch.Tensor):
            if id(value) not in self._memo:
                key = f"t{len(self.tensors)}"
                self._memo[id(value)] = key
                self.tensors[key] = value.detach().cpu().contiguous().clone()
            return {"tensor": self._memo[id(value)]}
        if value is None or isinstance(value, (bool, int, float, str)):
            return {"value": value}
        if isinstance(value, (tuple, list)):
            return {"seq": [self.encode(v, fixtures) for v in value], "tuple": isinstance(value, tuple)}
        if isinstance(value, dict):
            if not all(isinstance(k, str) for k in value):
                raise PayloadError(f"a dict with keys that are not strings: {list(value)[:5]}")
            return {"dict": {k: self.encode(v, fixtures) for k, v in value.items()}}
        if isinstance(value, torch.dtype):
            return {"dtype": str(value).removeprefix("torch.")}
        if fixtures and isinstance(value, types.FunctionType):
            _root_of(value)
            self.roots.append(value)
            return {"function": value}
        if fixtures and not isinstance(value, type) and type(value).__module__.startswith(WEEKS_PACKAGE):
            self.roots.append(type(value))
            return {"object": type(value), "state": self.encode(dict(vars(value)), fixtures)}
        raise PayloadError(f"a case input of type {type(value).__module__}.{type(value).__qualname__}")


def _resolve_names(desc: Any, names: dict[int, str]) -> Any:
    """Replace the fixture objects left in descriptions by their names in the shipped source."""
    if isinstance(desc, dict):
        out = {}
        for k, v in desc.items():
            if k in ("function", "object") and not isinstance(v, (str, dict, list)):
                out[k] = names[id(v)]
            else:
                out[k] = _resolve_names(v, names)
        return out
    if isinstance(desc, list):
        return [_resolve_names(d, names) for d in desc]
    return desc


def exercise_settings(exercise: Exercise) -> tuple[dict[str, Any], list[str]]:
    """The exercise's dataclass fields that are plain data (encoded), and the names of those left out."""
    encoder = _Encoder()
    settings: dict[str, Any] = {}
    left_out: list[str] = []
    for f in dataclasses.fields(exercise):
        if f.name in SKIPPED_FIELDS:
            continue
        try:
            settings[f.name] = encoder.encode(getattr(exercise, f.name), fixtures=False)
        except PayloadError:
            left_out.append(f.name)
    if encoder.tensors:
        raise PayloadError(f"{exercise.id}: a setting holds a tensor")
    return settings, left_out


def exercise_payload(exercise: Exercise, cases: Sequence[Case], encoder: _Encoder) -> dict[str, Any]:
    """The JSON-able description of one exercise for the worker (its tensors go into ``encoder``)."""
    settings, left_out = exercise_settings(exercise)
    encoder.roots = []
    try:
        described = [
            {f.name: encoder.encode(getattr(case, f.name)) for f in dataclasses.fields(case)} for case in cases
        ]
    except PayloadError as exc:
        raise PayloadError(f"{exercise.id}: {exc}") from exc
    roots = list(encoder.roots)
    call = exercise.call
    if call is not _default_call:
        roots.insert(0, call)
    source, names = fixture_source(_unique(roots)) if roots else ("", {})
    return {
        "id": exercise.id,
        "settings": settings,
        "left_out": left_out,
        "source": source,
        "call": names[id(call)] if call is not _default_call else None,
        "cases": _resolve_names(described, names),
    }


def _unique(objects: list[Any]) -> list[Any]:
    seen: set[int] = set()
    out = []
    for obj in objects:
        if id(obj) not in seen:
            seen.add(id(obj))
            out.append(obj)
    return out


def build_payload(exercises: Sequence[Exercise], cases_of: Callable[[Exercise], Sequence[Case]]) -> tuple[str, bytes]:
    """The worker's payload for these exercises: JSON text and safetensors bytes."""
    from safetensors.torch import save

    encoder = _Encoder()
    described = [exercise_payload(e, cases_of(e), encoder) for e in exercises]
    text = json.dumps({"version": PAYLOAD_VERSION, "exercises": described})
    return text, save(encoder.tensors) if encoder.tensors else b""
