"""The hostile submissions in ``tests/hostile/``, shared by the tests that grade them.

Each file is Python source defining one or more graded functions; its first line is
``# expect: REASON`` or ``# expect: REASON | OTHER REASON``: the feedback of every exercise it
defines must score 0 and contain one of the reasons (several layers stop some attacks, and the
first one to see it speaks: the parent's static guard before the sandbox's run-time stubs).
"""

from __future__ import annotations

import ast
from pathlib import Path

HOSTILE_DIR = Path(__file__).parent / "hostile"


def hostile_files() -> list[Path]:
    return sorted(HOSTILE_DIR.glob("*.py"))


def expected_reasons(path: Path) -> list[str]:
    first = path.read_text(encoding="utf-8").splitlines()[0]
    assert first.startswith("# expect: "), f"{path.name}: the first line must be '# expect: <reason>'"
    return [r.strip() for r in first.removeprefix("# expect: ").split(" | ") if r.strip()]


def names_a_reason(path: Path, feedback: str) -> bool:
    return any(reason in feedback for reason in expected_reasons(path))


def defined_names(source: str) -> set[str]:
    return {n.name for n in ast.parse(source).body if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
