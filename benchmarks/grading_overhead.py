"""Grading overhead per submission: what the sandbox and the comparison add to the student's compute.

    python -m benchmarks.grading_overhead [--week w05_dpo] [--repeats 5]

The week's reference answer (its solution source) is graded ``repeats`` times through
:func:`graders.sandbox.check_file` on one warm worker (bubblewrap where it runs), the way a
cohort grades each submission. The *student's own compute* is the time the same answer takes to
run on the same cases in this process, with gradients (``graders.core.run_cases``); the
*overhead* is the rest: extracting the definitions, the fresh isolated child (namespaces, limits,
private ``/tmp``), running the definitions, writing and reading safetensors and JSON, and the
trusted comparison (the reference's own outcomes are computed once per exercise and cached, as in
a cohort). Goal: at most 1 s per submission on 2 CPU cores. The 50-submission cohort end to end
is ``benchmarks.autograde_cohort``.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

GOAL_SECONDS = 1.0


def run(week: str = "w05_dpo", repeats: int = 5) -> dict[str, Any]:
    """Grade the reference ``repeats`` times; the numbers for docs/BENCHMARKS.md."""
    import torch

    from graders.core import run_cases
    from graders.isolation import resolve_mode
    from graders.reference import load_reference, solution_source
    from graders.registry import week_exercises
    from graders.sandbox import _parent_cases, _parent_expected, check_file, close_pools, shared_pool

    torch.set_num_threads(1)
    exercises = week_exercises(week)
    ids = [e.id for e in exercises]
    reference = vars(load_reference(week))
    for e in exercises:  # once per process in a cohort: outside the per-submission numbers
        _parent_expected(e)
    compute = []
    for _ in range(repeats):
        started = time.perf_counter()
        for e in exercises:
            run_cases(e, reference[e.function], _parent_cases(e))
        compute.append(time.perf_counter() - started)

    mode = resolve_mode("auto")
    pool = shared_pool(ids, mode)
    pool.warm_up()
    with tempfile.TemporaryDirectory() as tmp:
        answer = Path(tmp) / "answer.py"
        answer.write_text(solution_source(week).read_text(encoding="utf-8"), encoding="utf-8")
        check_file(answer, ids, isolation=mode)  # the first job also pays for lazy imports in the worker
        graded, child = [], []
        for _ in range(repeats):
            started = time.perf_counter()
            results = check_file(answer, ids, isolation=mode)
            graded.append(time.perf_counter() - started)
            child.append(float((getattr(pool.local, "status", None) or {}).get("elapsed", 0.0)))
            assert all(r.passed for r in results), [r.feedback for r in results if not r.passed]
    close_pools()
    own = statistics.median(compute)
    overhead = statistics.median(graded) - own
    return {
        "week": week,
        "mode": mode,
        "repeats": repeats,
        "graded per submission, median (s)": round(statistics.median(graded), 2),
        "student's own compute (s)": round(own, 2),
        "overhead per submission (s)": round(overhead, 2),
        "isolated child's wall time, median (s)": round(statistics.median(child), 2),
        "goal (s)": GOAL_SECONDS,
        "within goal": overhead <= GOAL_SECONDS,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--week", default="w05_dpo")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    for key, value in run(args.week, args.repeats).items():
        print(f"{key}: {value}")


if __name__ == "__main__":
    main()
