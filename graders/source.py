"""Reading code out of notebooks and scripts: the answer to grade, or the reference to grade by.

Only definitions are kept: imports, functions, classes and UPPER_CASE constants whose value
is a plain expression (no calls). Everything else
(training runs, plots, prints, the checks themselves) is dropped, so that loading a week's
reference or a student's notebook is fast and has no side effects. The same rules apply to the
instructor's source and to the student's submission.
"""

from __future__ import annotations

import ast
import json
import linecache
import types
from collections.abc import Sequence
from pathlib import Path
from typing import Any

_KEEP = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


class SourceError(ValueError):
    """The file could not be read as Python code or as a notebook."""


def _is_constant_assignment(node: ast.stmt) -> bool:
    """An UPPER_CASE name assigned a plain expression: literals, names, attributes, subscripts and
    operators (``BETA = 0.1``, ``HOOK = f"blocks.{LAYER}.hook_resid_post"``), no calls.

    Such values are evaluated when the definitions are loaded, like class bodies and default
    arguments: in the grading child that is after the harness is sealed, and the static guard of
    :mod:`graders.guard` reads them first. (Literals alone would be stricter, but released
    notebooks' graded code reads constants such as ``TARGET = " " + W.COMPLIANCE_PREFIXES[0]``.)
    """
    targets: list[ast.expr] = []
    if isinstance(node, ast.Assign):
        targets = node.targets
    elif isinstance(node, ast.AnnAssign) and node.value is not None:
        targets = [node.target]
    if not targets or not all(isinstance(t, ast.Name) and t.id.isupper() for t in targets):
        return False
    # only cheap, side-effect-free values: no calls, comprehensions, lambdas or assignments
    value = node.value
    return value is not None and not any(
        isinstance(
            n,
            (ast.Call, ast.Lambda, ast.ListComp, ast.DictComp, ast.SetComp, ast.GeneratorExp, ast.Await, ast.NamedExpr),
        )
        for n in ast.walk(value)
    )


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
    for number, chunk in enumerate(chunks, start=1):
        source = _strip_magics(chunk)
        try:
            tree = ast.parse(source)
        except SyntaxError as exc:
            warnings.append(f"cell {number} has a syntax error (line {exc.lineno}: {exc.msg}) and was skipped")
            continue
        for node in tree.body:
            if isinstance(node, _KEEP) or _is_constant_assignment(node):
                first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
                kept.append("\n".join(source.splitlines()[first - 1 : node.end_lineno]))
    return "\n\n".join(kept) + "\n", warnings


def definitions_from_file(path: Path) -> tuple[str, list[str]]:
    """Definitions-only code of a ``.py`` or ``.ipynb`` file, plus warnings about skipped cells."""
    return definitions(code_cells(path))


def namespace_from_source(code: str, name: str = "answer", forbidden: Sequence[str] = ()) -> dict[str, Any]:
    """Execute definitions-only code in a fresh module namespace and return that namespace
    (``forbidden``: library functions its ``getattr`` refuses on modules, see ``guarded_builtins``)."""
    from graders.guard import guarded_builtins

    module = types.ModuleType(name)
    module.__dict__["__builtins__"] = guarded_builtins(name, forbidden)  # getattr & co. checked as they run
    filename = f"<{name}>"
    linecache.cache[filename] = (len(code), None, code.splitlines(keepends=True), filename)
    exec(compile(code, filename, "exec"), module.__dict__)  # noqa: S102 - this is the point
    return module.__dict__
