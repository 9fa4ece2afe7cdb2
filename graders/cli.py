"""``graders``: list exercises, grade a file, build the release, grade a cohort.

    graders list [--json]
    graders check EXERCISE_ID FILE [--json]     one exercise (an id with a dot)
    graders check WEEK FILE [--json]            every exercise of the week, in one sandbox run: a table and the total
    graders build [WEEK ...] [--check]
    graders report WEEK [--gradebook build/gradebook.db]
    graders autograde WEEK [--jobs N | --scheduler ADDRESS] [--force] [--allow-unisolated] [--budget SECONDS]
    graders doctor [--json]

``check`` exits 0 whether or not the answer passed; non-zero (2) only when the call itself is
wrong (unknown exercise id, unreadable file), with a one-line reason on stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from graders.core import Result


def _cmd_list(args: argparse.Namespace) -> int:
    from graders.registry import all_exercises

    rows = [
        {"id": e.id, "week": e.week, "function": e.function, "points": e.points, "summary": e.summary}
        for e in all_exercises().values()
    ]
    if args.json:
        print(json.dumps(rows, indent=1))
    else:
        for r in rows:
            print(f"{r['id']:<45} {r['points']:>3} pts  {r['summary']}")
        print(f"{len(rows)} exercises, {sum(r['points'] for r in rows)} points")
    return 0


def _check_targets(target: str) -> list[str]:
    """``WEEK.function`` → that exercise; a bare ``WEEK`` → every exercise of the week."""
    from graders.registry import UnknownExercise, all_exercises, get_exercise, week_exercises

    if "." in target:
        return [get_exercise(target).id]
    ids = [e.id for e in week_exercises(target)]
    if not ids:
        weeks = sorted({e.week for e in all_exercises().values()})
        raise UnknownExercise(f"unknown week or exercise {target!r}; weeks: {', '.join(weeks)}")
    return ids


def _week_table(results: list[Result]) -> str:
    """One row per exercise (mark, id, points, the first line of its feedback), then the total."""
    import shutil

    width = max(60, shutil.get_terminal_size((120, 24)).columns)
    name_width = max(len(r.exercise) for r in results)
    rows = []
    for r in results:
        first = r.feedback[0] if r.feedback else ""
        mark = "✓" if r.passed else "✗"
        why = first.split(": ", 1)[1] if first.startswith(f"{mark} {r.exercise}: ") else first
        row = f"{mark} {r.exercise:<{name_width}}  {r.points:>4g}/{r.max_points:<4g} {why}"
        rows.append(row if len(row) <= width else row[: width - 1] + "…")
    points = sum(r.points for r in results)
    total = sum(r.max_points for r in results)
    passed = sum(r.passed for r in results)
    rows.append(f"  {'total':<{name_width}}  {points:>4g}/{total:<4g} {passed} of {len(results)} exercises pass")
    return "\n".join(rows)


def _cmd_check(args: argparse.Namespace) -> int:
    from graders.registry import UnknownExercise
    from graders.sandbox import Limits, check_file
    from graders.source import SourceError

    try:
        ids = _check_targets(args.exercise)
        # one sandbox run for all of them: the wall-clock limit grows with their number
        limits = Limits(exercise_seconds=args.timeout, wall_seconds=max(300.0, args.timeout * (len(ids) + 3.0)))
        results = check_file(Path(args.file), ids, limits)
    except UnknownExercise as exc:
        print(f"error: {exc.args[0]}", file=sys.stderr)
        return 2
    except (FileNotFoundError, PermissionError, IsADirectoryError, SourceError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if "." in args.exercise:  # one exercise: its Result, as before
        (result,) = results
        if args.json:
            print(json.dumps(result.to_json(), ensure_ascii=False))
        else:
            print("\n".join(result.feedback))
            print(f"{result.points:g}/{result.max_points:g} points")
        return 0
    summary = {
        "week": args.exercise,
        "points": sum(r.points for r in results),
        "max_points": sum(r.max_points for r in results),
        "passed": sum(r.passed for r in results),
        "exercises": len(results),
        "results": [r.to_json() for r in results],
    }
    if args.json:
        print(json.dumps(summary, ensure_ascii=False))
    else:
        print(_week_table(results))
        if summary["passed"] < len(results):
            print(f"full feedback on one exercise: graders check {args.exercise}.FUNCTION {args.file}")
    return 0


def _cmd_build(args: argparse.Namespace) -> int:
    from graders.release import build, stale_weeks

    if args.check:
        stale = stale_weeks(args.weeks or None)
        if stale:
            print("stale in course/: " + ", ".join(stale) + " (run `graders build`)", file=sys.stderr)
            return 1
        print("course/ is up to date")
        return 0
    for week in build(args.weeks or None):
        print(f"built course/{week}/")
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from graders.cohort import exercise_report, format_report

    try:
        rows = exercise_report(Path(args.gradebook), args.assignment)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(rows, indent=1) if args.json else format_report(rows))
    return 0


def _cmd_autograde(args: argparse.Namespace) -> int:
    from graders.autograde import autograde
    from graders.isolation import IsolationUnavailable

    if args.scheduler:  # a Dask cluster grades, this process records (graders/distributed.py)
        from graders.distributed import ClusterMismatch, autograde_on_cluster

        try:
            summary = autograde_on_cluster(
                args.week,
                args.scheduler,
                force=args.force,
                allow_unisolated=args.allow_unisolated,
                course_root=Path(args.root) if args.root else None,
                progress=not args.no_progress,
            )
        except (IsolationUnavailable, FileNotFoundError, ClusterMismatch, OSError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        print(summary.text())
        return 1 if summary.nbgrader_errors or summary.lost else 0
    try:
        summary = autograde(
            args.week,
            args.jobs,
            force=args.force,
            allow_unisolated=args.allow_unisolated,
            course_root=Path(args.root) if args.root else None,
            progress=not args.no_progress,
            budget_seconds=args.budget,
        )
    except (IsolationUnavailable, FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(summary.text())
    return 1 if summary.nbgrader_errors else 0


def _cmd_doctor(args: argparse.Namespace) -> int:
    from graders.isolation import probe

    report = probe()
    if args.json:
        print(json.dumps({"os_isolated": report.os_isolated, "mode": report.describe(), "inside": report.inside}))
    else:
        print("\n".join(report.lines()))
        if not report.os_isolated:
            print("autograding refuses to run without OS-level isolation unless given --allow-unisolated")
    return 0 if report.os_isolated else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="graders", description="The AI safety course's graders.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("list", help="list every graded exercise")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_cmd_list)
    p = sub.add_parser("check", help="grade one exercise, or a whole week, of a .py or .ipynb file in a sandbox")
    p.add_argument(
        "exercise",
        help="an exercise id such as w00_orientation.log_softmax, or a week such as w00_orientation (all its exercises)",
    )
    p.add_argument("file", help="a .py file or a student .ipynb notebook")
    p.add_argument("--json", action="store_true")
    p.add_argument("--timeout", type=int, default=60, help="seconds allowed for each exercise (default 60)")
    p.set_defaults(func=_cmd_check)
    p = sub.add_parser("build", help="build course/ from solutions/ (nbgrader generate_assignment)")
    p.add_argument("weeks", nargs="*")
    p.add_argument("--check", action="store_true", help="fail if course/ is out of date")
    p.set_defaults(func=_cmd_build)
    p = sub.add_parser("report", help="per-exercise pass rates of a cohort, from nbgrader's gradebook")
    p.add_argument("assignment", help="a week, e.g. w00_orientation")
    p.add_argument("--gradebook", default="build/gradebook.db")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_cmd_report)
    p = sub.add_parser(
        "autograde",
        help="grade every submission of a week in parallel sandboxes and record it in nbgrader's gradebook",
    )
    p.add_argument("week", help="a week, e.g. w05_dpo (submissions in build/submitted/<student>/<week>/)")
    p.add_argument("--jobs", "-j", type=int, default=None, help="parallel workers (default: CPU cores)")
    p.add_argument("--force", action="store_true", help="grade again submissions that were already autograded")
    p.add_argument(
        "--allow-unisolated",
        action="store_true",
        help="grade even without OS-level isolation (bubblewrap): only for submissions you trust",
    )
    p.add_argument("--root", help="nbgrader's course directory (default: CourseDirectory.root of nbgrader_config.py)")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="grade on the Dask cluster at ADDRESS (tcp://host:8786); the gradebook stays here (docs/HUB.md)",
    )
    p.add_argument(
        "--budget",
        type=float,
        default=None,
        help="each student's wall-clock budget in seconds (default 300); the slow ones are listed in the summary",
    )
    p.set_defaults(func=_cmd_autograde)
    p = sub.add_parser("doctor", help="which isolation layers grading has on this machine")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_cmd_doctor)
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
