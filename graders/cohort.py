"""Which exercises does the cohort struggle with? Per-exercise pass rates from nbgrader's gradebook."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def exercise_report(gradebook: Path, assignment: str) -> list[dict[str, Any]]:
    """One row per graded exercise of ``assignment``: submissions, passes, pass rate, mean score."""
    from nbgrader.api import Gradebook, MissingEntry

    rows: dict[str, dict[str, Any]] = {}
    with Gradebook(f"sqlite:///{gradebook}") as gb:
        try:
            record = gb.find_assignment(assignment)
        except MissingEntry as exc:
            raise ValueError(f"assignment {assignment!r} is not in {gradebook}") from exc
        for submission in record.submissions:
            for notebook in submission.notebooks:
                for grade in notebook.grades:
                    if grade.cell_type != "code" or not grade.name.startswith("check_"):
                        continue
                    exercise = f"{assignment}.{grade.name.removeprefix('check_')}"
                    row = rows.setdefault(
                        exercise, {"exercise": exercise, "submissions": 0, "passed": 0, "score_sum": 0.0}
                    )
                    row["submissions"] += 1
                    row["score_sum"] += grade.score or 0.0
                    row["passed"] += int((grade.score or 0.0) >= grade.max_score > 0)
                    row["max_points"] = grade.max_score
    out = []
    for row in rows.values():
        n = row.pop("submissions")
        out.append(
            {
                **{k: v for k, v in row.items() if k != "score_sum"},
                "submissions": n,
                "pass_rate": row["passed"] / n if n else 0.0,
                "mean_score": row["score_sum"] / n if n else 0.0,
            }
        )
    return sorted(out, key=lambda r: r["pass_rate"])


def format_report(rows: list[dict[str, Any]]) -> str:
    """A plain-text table, hardest exercise first."""
    lines = [f"{'exercise':<45} {'pass rate':>9} {'mean':>6} {'max':>5} {'n':>4}"]
    for r in rows:
        lines.append(
            f"{r['exercise']:<45} {r['pass_rate']:>9.0%} {r['mean_score']:>6.2f} {r.get('max_points', 0):>5g} {r['submissions']:>4}"
        )
    return "\n".join(lines)
