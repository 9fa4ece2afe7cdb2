"""``graders``: list exercises, grade a file, build the release, grade a cohort.

    graders list [--json]
    graders check EXERCISE_ID FILE [--json]
    graders build [WEEK ...] [--check]
    graders report WEEK [--gradebook build/gradebook.db]

``check`` exits 0 whether or not the answer passed; non-zero (2) only when the call itself is
wrong (unknown exercise id, unreadable file), with a one-line reason on stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


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


def _cmd_check(args: argparse.Namespace) -> int:
    from graders.registry import UnknownExercise, get_exercise
    from graders.sandbox import Limits, check_file
    from graders.source import SourceError

    try:
        get_exercise(args.exercise)
        limits = Limits(exercise_seconds=args.timeout, wall_seconds=max(300.0, args.timeout * 4.0))
        (result,) = check_file(Path(args.file), [args.exercise], limits)
    except UnknownExercise as exc:
        print(f"error: {exc.args[0]}", file=sys.stderr)
        return 2
    except (FileNotFoundError, PermissionError, IsADirectoryError, SourceError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result.to_json(), ensure_ascii=False))
    else:
        print("\n".join(result.feedback))
        print(f"{result.points:g}/{result.max_points:g} points")
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="graders", description="The AI safety course's graders.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("list", help="list every graded exercise")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_cmd_list)
    p = sub.add_parser("check", help="grade one exercise of a .py or .ipynb file in a sandbox")
    p.add_argument("exercise", help="an exercise id such as w00_orientation.log_softmax")
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
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
