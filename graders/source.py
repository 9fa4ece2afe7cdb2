"""Reading code out of notebooks and scripts: the answer to grade, or the reference to grade by.

Only definitions are kept: imports, functions, classes and UPPER_CASE constants whose value
is a plain literal (numbers, strings, containers of them; no calls, names or attributes). Everything else
(training runs, plots, prints, the checks themselves) is dropped, so that loading a week's
reference or a student's notebook is fast and has no side effects. The same rules apply to the
instructor's source and to the student's submission.
"""

from __future__ import annotations

import ast
import json
import linecache
import types
from pathlib import Path
from typing import Any

_KEEP = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


class SourceError(ValueError):
    """The file could not be read as Python code or as a notebook."""


_LITERAL_OPS = (ast.UAdd, ast.USub, ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv, ast.Mod, ast.Pow)


def _is_literal(node: ast.expr, constants: set[str]) -> bool:
    """A plain literal: numbers, strings, ``None``/``True``/``False``, tuples, lists, sets and dicts
    of them, arithmetic on them, and UPPER_CASE constants kept before (nothing that can run code)."""
    if isinstance(node, ast.Constant):
        return True
    if isinstance(node, ast.Name):
        return node.id in constants
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return all(_is_literal(e, constants) for e in node.elts)
    if isinstance(node, ast.Dict):
        return all(k is not None and _is_literal(k, constants) for k in node.keys) and all(
            _is_literal(v, constants) for v in node.values
        )
    if isinstance(node, ast.UnaryOp):
        return isinstance(node.op, _LITERAL_OPS) and _is_literal(node.operand, constants)
    if isinstance(node, ast.BinOp):
        return (
            isinstance(node.op, _LITERAL_OPS)
            and _is_literal(node.left, constants)
            and _is_literal(node.right, constants)
        )
    return False


def _is_constant_assignment(node: ast.stmt, constants: set[str] | None = None) -> bool:
    """An UPPER_CASE name assigned a plain literal (``BETA = 0.1``, ``NAMES = ("a", "b")``)."""
    targets: list[ast.expr] = []
    if isinstance(node, ast.Assign):
        targets = node.targets
    elif isinstance(node, ast.AnnAssign) and node.value is not None:
        targets = [node.target]
    if not targets or not all(isinstance(t, ast.Name) and t.id.isupper() for t in targets):
        return False
    value = node.value
    return value is not None and _is_literal(value, constants or set())


def _strip_magics(cell_source: str) -> str:
    """Turn IPython-only lines (``%magic``, ``!shell``) into comments so the cell parses."""
    lines = []
    for line in cell_source.splitlines():
        stripped = line.lstrip()
        lines.append("# " + line if stripped.startswith(("%", "!")) else line)
    return "\n".join(lines)


def code_cells(path: Path) -> list[str]:
    """The code of a ``.py`` file (one chunk) or of each code cell of an ``.ipynb`` notebook."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SourceError(f"cannot read {path}: {exc}") from exc
    if path.suffix == ".ipynb":
        try:
            nb = json.loads(text)
            cells = nb["cells"]
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise SourceError(f"{path.name} is not a valid notebook (is the file complete?): {exc}") from exc
        chunks = []
        for cell in cells:
            if isinstance(cell, dict) and cell.get("cell_type") == "code":
                src = cell.get("source", "")
                chunks.append("".join(src) if isinstance(src, list) else str(src))
        return chunks
    if path.suffix == ".py":
        return [text]
    raise SourceError(f"{path.name}: expected a .py file or a .ipynb notebook")


def definitions(chunks: list[str]) -> tuple[str, list[str]]:
    """Keep only the definitions of each chunk; return the code and a warning per unparsable cell."""
    kept: list[str] = []
    warnings: list[str] = []
    constants: set[str] = set()
    for number, chunk in enumerate(chunks, start=1):
        source = _strip_magics(chunk)
        try:
            tree = ast.parse(source)
        except SyntaxError as exc:
            warnings.append(f"cell {number} has a syntax error (line {exc.lineno}: {exc.msg}) and was skipped")
            continue
        for node in tree.body:
            if isinstance(node, _KEEP) or _is_constant_assignment(node, constants):
                if not isinstance(node, _KEEP):
                    constants.update(t.id for t in getattr(node, "targets", [getattr(node, "target", None)]))
                first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
                kept.append("\n".join(source.splitlines()[first - 1 : node.end_lineno]))
    return "\n\n".join(kept) + "\n", warnings


def definitions_from_file(path: Path) -> tuple[str, list[str]]:
    """Definitions-only code of a ``.py`` or ``.ipynb`` file, plus warnings about skipped cells."""
    return definitions(code_cells(path))


def namespace_from_source(code: str, name: str = "answer") -> dict[str, Any]:
    """Execute definitions-only code in a fresh module namespace and return that namespace."""
    module = types.ModuleType(name)
    filename = f"<{name}>"
    linecache.cache[filename] = (len(code), None, code.splitlines(keepends=True), filename)
    exec(compile(code, filename, "exec"), module.__dict__)  # noqa: S102 - this is the point
    return module.__dict__
