"""Cohort grading end to end: 50 week-5 submissions through ``graders autograde`` (bubblewrap, warm workers).

    python -m benchmarks.autograde_cohort [--students 50] [--jobs N]

The cohort: references, untouched release notebooks, a sign flip in ``dpo_loss``, references that
print to stderr and warn, an infinite loop, a memory hog, broken JSON and an empty file. Each
kind's expected score follows from the exercises it must fail (a broken ``dpo_loss`` also breaks
``dpo_batch_loss`` and ``dpo_train_step``, which call it); the benchmark checks every recorded grade in nbgrader's
gradebook against it, and reports wall time and the grading overhead per submission beyond the
student's own compute (the time the isolated child spent running the answer on the cases).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

WEEK = "w05_dpo"
BROKEN = "dpo_loss"  # the function the wrong answers get wrong
GOAL_SECONDS = 150.0  # 50 submissions on 2 CPU cores
DEPENDS = {"dpo_loss": ["dpo_batch_loss", "dpo_train_step"]}  # graded functions that call it


def _edit(nb: dict[str, Any], function: str, extra: str) -> dict[str, Any]:
    """Append ``extra`` (a redefinition) to the solution cell that defines ``function``."""
    nb = json.loads(json.dumps(nb))
    for cell in nb["cells"]:
        src = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        if f"def {function}(" in src and cell["metadata"].get("nbgrader", {}).get("solution"):
            cell["source"] = src + "\n\n" + extra
            return nb
    raise ValueError(f"no solution cell defines {function}")


def _replace(nb: dict[str, Any], old: str, new: str) -> dict[str, Any]:
    text = json.dumps(nb)
    if json.dumps(old)[1:-1] not in text:
        raise ValueError(f"{old!r} is not in the notebook")
    return json.loads(text.replace(json.dumps(old)[1:-1], json.dumps(new)[1:-1]))


def _noisy(nb: dict[str, Any]) -> dict[str, Any]:
    nb = json.loads(json.dumps(nb))
    for cell in nb["cells"]:
        if cell["metadata"].get("nbgrader", {}).get("solution"):
            src = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
            cell["source"] = src.replace(
                '    """\n',
                '    """\n    import sys, warnings\n    print("debug", file=sys.stderr)\n    warnings.warn("noise")\n',
                1,
            )
            cell["outputs"] = [{"output_type": "stream", "name": "stderr", "text": "UserWarning: noise\n"}]
    return nb


def cohort(source: dict[str, Any], release: dict[str, Any], students: int) -> dict[str, tuple[str, str]]:
    """student id → (kind, notebook text)."""
    kinds: dict[str, str] = {
        "sign_flip": json.dumps(_replace(source, "return -F.logsigmoid(", "return F.logsigmoid(")),
        "noisy": json.dumps(_noisy(source)),
        "loop": json.dumps(_edit(source, BROKEN, f"def {BROKEN}(*args, **kwargs):\n    while True:\n        pass\n")),
        "memory_hog": json.dumps(
            _edit(
                source,
                BROKEN,
                f"def {BROKEN}(*args, **kwargs):\n    chunks = []\n    while True:\n"
                "        chunks.append(torch.ones(2**26))  # 256 MiB at a time, touched\n",
            )
        ),
        "broken_json": json.dumps(source)[: len(json.dumps(source)) // 2],
        "empty": "",
    }
    fixed = {"sign_flip": 8, "noisy": 5, "loop": 1, "memory_hog": 1, "broken_json": 1, "empty": 1}
    rest = max(0, students - sum(fixed.values()))
    counts = {"reference": rest - rest // 3, "stub": rest // 3, **fixed}
    kinds["reference"] = json.dumps(source)
    kinds["stub"] = json.dumps(release)
    out = {}
    for kind, n in counts.items():
        for i in range(n):
            out[f"{kind}-{i:02d}"] = (kind, kinds[kind])
    return dict(list(out.items())[:students])


def expected_score(kind: str, points: dict[str, int]) -> float:
    total = float(sum(points.values()))
    if kind in ("reference", "noisy"):
        return total
    if kind in ("stub", "broken_json", "empty"):
        return 0.0
    return total - sum(points[f] for f in [BROKEN, *DEPENDS.get(BROKEN, [])])


def run(students: int = 50, jobs: int | None = None) -> dict[str, Any]:
    """Grade the cohort once; the numbers for docs/BENCHMARKS.md."""
    from graders import autograde as ag
    from graders.registry import week_exercises
    from graders.release import run_nbgrader, write_nbgrader_sources

    jobs = jobs or os.cpu_count() or 1
    points = {e.function: e.points for e in week_exercises(WEEK)}
    tmp = Path(tempfile.mkdtemp(prefix="cohort-bench-"))
    try:
        root = tmp / "course"
        write_nbgrader_sources(root, [WEEK])
        run_nbgrader(root, "generate_assignment", WEEK, "--force")
        source = json.loads((root / "source" / WEEK / f"{WEEK}.ipynb").read_text())
        release = json.loads((root / "release" / WEEK / f"{WEEK}.ipynb").read_text())
        members = cohort(source, release, students)
        for student, (_kind, text) in members.items():
            folder = root / "submitted" / student / WEEK
            folder.mkdir(parents=True)
            (folder / f"{WEEK}.ipynb").write_text(text)

        child: dict[str, float] = {}
        original = ag._grade

        def timed(sub: Any, limits: Any, mode: str, pool: Any) -> Any:
            results = original(sub, limits, mode, pool)
            status = getattr(pool.local, "status", None) if pool is not None and not sub.unreadable else None
            child[sub.student] = float((status or {}).get("elapsed", 0.0))
            if pool is not None:
                pool.local.status = None
            return results

        ag._grade = timed
        load_before = os.getloadavg()[0]
        started = time.monotonic()
        try:
            summary = ag.autograde(WEEK, jobs, course_root=root, progress=False)
        finally:
            ag._grade = original
        wall = time.monotonic() - started
        load_after = os.getloadavg()[0]

        run_nbgrader(root, "export", "--to", str(tmp / "grades.csv"))
        with open(tmp / "grades.csv") as f:
            recorded = {row["student_id"]: float(row["score"]) for row in csv.DictReader(f)}
        wrong = {
            s: (kind, recorded.get(s), expected_score(kind, points))
            for s, (kind, _t) in members.items()
            if recorded.get(s) != expected_score(kind, points)
        }
        graded = [s for s in summary.submissions if not s.unreadable]
        # the first `jobs` submissions also waited for the workers to import torch and build the cases
        warm = sorted(graded, key=lambda s: s.student)[jobs:] if len(graded) > jobs else graded
        overhead = [s.seconds - child.get(s.student, 0.0) for s in warm]
        by_kind: dict[str, float] = {}
        for s, (kind, _t) in members.items():
            by_kind.setdefault(kind, recorded.get(s, float("nan")))
        return {
            "submissions": len(members),
            "jobs": jobs,
            "wall time (s)": round(wall, 1),
            "goal (s)": GOAL_SECONDS,
            "within goal": wall <= GOAL_SECONDS,
            "wall time per submission (s)": round(wall / max(len(members), 1), 2),
            "grading overhead per submission beyond the answer's compute, median (s)": round(
                statistics.median(overhead), 2
            )
            if overhead
            else None,
            "same, max (s)": round(max(overhead), 2) if overhead else None,
            "answer's own compute per submission, median (s)": round(
                statistics.median([child.get(s.student, 0.0) for s in warm]), 2
            )
            if warm
            else None,
            "grades as expected": f"{len(members) - len(wrong)}/{len(members)}",
            "score by kind": ", ".join(f"{k} {v:g}" for k, v in by_kind.items()),
            "unreadable listed": len(summary.unreadable),
            "mode": summary.mode,
            "load average before/after": f"{load_before:.1f}/{load_after:.1f}",
            **({"WRONG": wrong} if wrong else {}),
        }
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--students", type=int, default=50)
    parser.add_argument("--jobs", type=int, default=None)
    args = parser.parse_args()
    for key, value in run(args.students, args.jobs).items():
        print(f"{key}: {value}")


if __name__ == "__main__":
    main()
