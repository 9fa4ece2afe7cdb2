"""``graders autograde WEEK [--jobs N]``: grade a cohort in parallel, record it as ``nbgrader autograde`` does.

Two things happen at once:

- **grading**, in parallel: every submitted notebook's definitions go to a pool of ``N`` warm
  workers (:mod:`graders.isolation`: torch, the registry and the week's cases loaded once per
  worker; a fresh isolated child per submission); the trusted parent compares the outputs with
  the reference;
- **recording**, in this one process: nbgrader's own ``Autograde`` converter walks the
  submissions in its usual order (copy to ``autograded/``, sanitise, grade cells, ``SaveAutoGrades``
  into the gradebook, late penalties), and :class:`graders.nbgrader_plugin.TrustedGrades` waits for
  each submission's verdict instead of grading it itself. The gradebook (one SQLite file) is
  written from one process only, exactly as ``nbgrader autograde`` writes it, so
  ``nbgrader export`` and ``nbgrader generate_feedback`` work unchanged.

A notebook that cannot be read (broken JSON, an empty file) scores 0 on every exercise, with a
one-line reason in its feedback; it is listed in the summary and the run still exits 0.
Grading refuses to start without OS-level isolation unless ``allow_unisolated`` is set.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import glob
import json
import os
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import nbformat
import sqlalchemy.exc
from nbgrader.apps import AutogradeApp
from nbgrader.converters import Autograde
from nbgrader.converters.base import BaseConverter, NbGraderException
from nbgrader.utils import setenv

from graders.core import Result, result_for_missing
from graders.nbgrader_plugin import TrustedGrades, check_pipeline
from graders.registry import get_exercise
from graders.release import CHECK_CALL
from graders.sandbox import Limits, check_file, precompute_expected, preload_modules, reference_seconds

BUDGET_FLOOR = 120.0  # seconds: the least wall-clock budget of one student
BUDGET_FACTOR = 20.0  # times the reference's own time on the week's cases
EXERCISE_FLOOR = 20.0  # seconds: the least time for the cases of one exercise


def unreadable_reason(path: Path) -> str | None:
    """Why this notebook cannot be graded (one line), or None when it can: nbgrader cannot read it,
    it is too large, or its grade cells are duplicated or damaged (which would stop nbgrader)."""
    from graders.isolation import read_regular
    from graders.sandbox import MAX_NOTEBOOK_BYTES, submitted_code
    from graders.source import SourceError

    try:
        size = path.stat().st_size
        if size == 0:
            return "the file is empty"
        if size > MAX_NOTEBOOK_BYTES:
            return f"it is {size / 1e6:.0f} MB, more than the {MAX_NOTEBOOK_BYTES / 1e6:.0f} MB the grader reads"
        data = read_regular(path, MAX_NOTEBOOK_BYTES)
        if data is None:
            return "it is not a regular file"
        nb = _stripped(json.loads(data.decode("utf-8")))
        nbformat.validate(nbformat.from_dict(nb))
    except Exception as exc:  # noqa: BLE001 - every reason is reported, none is fatal
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return f"it is not a valid notebook ({text[:160]})"
    try:
        _, too_large = submitted_code(path)
    except SourceError as exc:
        return str(exc)[:200]
    return too_large or damaged_grade_cells(nb)


def _stripped(nb: Any) -> Any:
    """The notebook without its outputs (never graded): what everything after reading looks at."""
    if isinstance(nb, dict):
        for cell in nb.get("cells") or []:
            if isinstance(cell, dict) and cell.get("cell_type") == "code":
                cell["outputs"] = []
                cell["execution_count"] = None
    return nb


def damaged_grade_cells(nb: dict[str, Any]) -> str | None:
    """Why nbgrader would refuse this notebook's cell metadata (one line), or None.

    A pasted copy of a check cell (a grade id twice) or edited nbgrader metadata makes nbgrader
    raise and, in a cohort run, stop recording the students after this one: such a notebook is
    recorded from the released notebook with 0 points and this reason instead.
    """
    seen: set[str] = set()
    for number, cell in enumerate(nb.get("cells") or [], start=1):
        meta = cell.get("metadata", {}).get("nbgrader") if isinstance(cell.get("metadata"), dict) else None
        if meta is None:
            continue
        if not isinstance(meta, dict):
            return f"the nbgrader metadata of cell {number} is damaged (edited by hand?)"
        if meta.get("schema_version") != 3:
            return f"the nbgrader metadata of cell {number} is damaged (schema version {meta.get('schema_version')!r})"
        if not any(meta.get(k) for k in ("grade", "solution", "locked", "task")):
            continue
        grade_id = meta.get("grade_id")
        if not isinstance(grade_id, str) or not grade_id:
            return f"the nbgrader metadata of cell {number} is damaged (no grade id)"
        if grade_id in seen:
            return f"cell {number} is a second copy of the cell `{grade_id}` (a pasted check cell?): delete the copy"
        seen.add(grade_id)
        points = meta.get("points", 0)
        if meta.get("grade") and (not isinstance(points, (int, float)) or isinstance(points, bool) or points < 0):
            return f"the nbgrader metadata of cell {number} is damaged (points {points!r})"
    return None


def _graded_ids(notebook: Path) -> list[str]:
    nb = json.loads(notebook.read_text(encoding="utf-8"))
    ids: set[str] = set()
    for cell in nb["cells"]:
        if cell.get("cell_type") == "code" and cell.get("metadata", {}).get("nbgrader", {}).get("grade"):
            source = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
            ids.update(CHECK_CALL.findall(source))
    return sorted(ids)


@dataclass
class Submission:
    student: str
    notebook: str
    path: Path
    exercise_ids: list[str]
    unreadable: str | None = None  # why it scored 0 without being graded (listed in the summary)
    results: list[Result] = field(default_factory=list)
    seconds: float = 0.0


@dataclass
class Summary:
    week: str
    mode: str
    submissions: list[Submission]
    wall_seconds: float
    nbgrader_errors: list[str] = field(default_factory=list)
    budget_seconds: float = 300.0
    slow_seconds: float = 30.0

    def slow(self) -> list[Submission]:
        """Submissions whose grading took ``slow_seconds`` or more, slowest first."""
        return sorted((s for s in self.submissions if s.seconds >= self.slow_seconds), key=lambda s: -s.seconds)

    @property
    def unreadable(self) -> list[Submission]:
        return [s for s in self.submissions if s.unreadable]

    def pass_rates(self) -> dict[str, tuple[int, int]]:
        rates: dict[str, tuple[int, int]] = {}
        for s in self.submissions:
            for r in s.results:
                passed, n = rates.get(r.exercise, (0, 0))
                rates[r.exercise] = (passed + int(r.passed), n + 1)
        return rates

    def scores(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for s in self.submissions:
            out[s.student] = out.get(s.student, 0.0) + sum(r.points for r in s.results)
        return out

    def text(self) -> str:
        n = len(self.submissions)
        lines = [
            f"{self.week}: graded {n - len(self.unreadable)} submission(s), {len(self.unreadable)} could not be read, "
            f"in {self.wall_seconds:.0f} s",
            f"mode: {self.mode}",
        ]
        if self.unreadable:
            lines.append("could not be read or graded (0 points, reason in their feedback):")
            lines += [f"  {s.student}/{s.notebook}.ipynb: {s.unreadable}" for s in self.unreadable]
        slow = self.slow()
        if slow:
            lines.append(
                f"slow to grade (over {self.slow_seconds:.0f} s; each student's budget: {self.budget_seconds:.0f} s):"
            )
            for s in slow[:20]:
                stopped = any("wall-clock" in " ".join(r.feedback) for r in s.results)
                lines.append(
                    f"  {s.student}/{s.notebook}.ipynb: {s.seconds:.0f} s"
                    + (" (stopped at its budget)" if stopped else "")
                )
            if len(slow) > 20:
                lines.append(f"  ... and {len(slow) - 20} more")
        rates = self.pass_rates()
        if rates:
            lines.append(f"{'exercise':<45} {'pass rate':>9} {'n':>4}")
            for exercise, (passed, total) in sorted(rates.items(), key=lambda kv: kv[1][0] / max(kv[1][1], 1)):
                lines.append(f"{exercise:<45} {passed / max(total, 1):>9.0%} {total:>4}")
        if self.nbgrader_errors:
            lines.append("nbgrader could not record: " + ", ".join(self.nbgrader_errors))
        return "\n".join(lines)


class CohortAutograde(Autograde):
    """nbgrader's converter, made safe for a cohort: each submission is recorded on its own.

    - an unreadable, too large or damaged submission (see :func:`unreadable_reason`) is recorded
      from the released notebook with 0 points and a reason, instead of failing the run;
    - outputs are stripped before nbgrader reads a submission (they are never graded, and a
      notebook with megabytes of them made nbgrader's validation take minutes);
    - whatever else nbgrader raises on one submission (its metadata errors, say) costs that
      submission alone: it is recorded the same way, with the error as its reason, and the
      students after it are recorded as usual.
    """

    submissions: ClassVar[dict[tuple[str, str], Submission]] = {}

    def convert_single_notebook(self, notebook_filename: str) -> None:
        path = Path(notebook_filename)
        key = (path.parent.parent.name, path.stem)
        sub = CohortAutograde.submissions.get(key)
        reason = sub.unreadable if sub is not None else unreadable_reason(path)
        if reason is None:
            try:
                nb = nbformat.from_dict(_stripped(json.loads(path.read_text(encoding="utf-8"))))
                self._convert(notebook_filename, nbformat.reads(nbformat.writes(nb), as_version=4))
                return
            except sqlalchemy.exc.OperationalError:
                raise  # the gradebook itself: nbgrader's own message says what to do
            except Exception as exc:  # noqa: BLE001 - one submission's problem is that submission's only
                text = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
                reason = f"nbgrader could not record it ({type(exc).__name__}: {text})"
                self.log.warning("%s: %s; recorded with 0 points", notebook_filename, reason)
                self._zero(key, sub, reason)
        else:
            self.log.warning("%s could not be graded (%s): recorded with 0 points", notebook_filename, reason)
        resources = self.init_single_notebook_resources(notebook_filename)
        self._convert(notebook_filename, self._stand_in(resources["nbgrader"]["assignment"], path.name))

    def _zero(self, key: tuple[str, str], sub: Submission | None, reason: str) -> None:
        """From now on this submission's verdict is 0 points with ``reason`` (summary and feedback)."""
        if sub is None:
            return
        sub.unreadable = reason
        message = f"your notebook could not be read for grading: {reason}. It scored 0; fix it and submit it again."
        sub.results = [result_for_missing(get_exercise(i), message) for i in sub.exercise_ids]
        done: Future[list[Result]] = Future()
        done.set_result(sub.results)
        TrustedGrades.precomputed[key] = done

    def _convert(self, notebook_filename: str, nb: nbformat.NotebookNode) -> None:
        """nbgrader's two passes (sanitise, then autograde) on ``nb``, recorded for ``notebook_filename``."""
        self._sanitizing = True
        self._init_preprocessors()
        resources = self.init_single_notebook_resources(notebook_filename)
        name = os.path.basename(notebook_filename)
        resources.setdefault("metadata", {}).update(
            {"name": os.path.splitext(name)[0], "path": os.path.dirname(notebook_filename)}
        )
        output, resources = self.exporter.from_notebook_node(nb, resources=resources)
        self.write_single_notebook(output, resources)
        built = os.path.join(self.writer.build_directory, name)
        self._sanitizing = False
        self._init_preprocessors()
        try:
            with setenv(NBGRADER_EXECUTION="autograde"):
                BaseConverter.convert_single_notebook(self, built)
        finally:
            self._sanitizing = True

    def _stand_in(self, assignment: str, name: str) -> nbformat.NotebookNode:
        """The released notebook (no solutions in it) stands in for the unreadable one."""
        release = Path(self.coursedir.format_path(self.coursedir.release_directory, ".", assignment)) / name
        if release.exists():
            return nbformat.read(str(release), as_version=4)
        source = Path(self.coursedir.format_path(self.coursedir.source_directory, ".", assignment)) / name
        nb = nbformat.read(str(source), as_version=4)
        nb.cells = [c for c in nb.cells if not c.metadata.get("nbgrader", {}).get("solution")]
        return nb


class CohortAutogradeApp(AutogradeApp):
    """``nbgrader autograde`` with :class:`CohortAutograde` as its converter."""

    def start(self) -> None:
        self.prepare()
        converter = CohortAutograde(coursedir=self.coursedir, parent=self)
        converter.start()

    def prepare(self) -> None:
        """nbgrader's own start-up (authenticator, exchange, the assignment id), without recording."""
        super(AutogradeApp, self).start()
        if len(self.extra_args) == 1:
            self.coursedir.assignment_id = self.extra_args[0]

    def record(self, student: str) -> None:
        """Record one student's submission, exactly as ``nbgrader autograde --student`` would."""
        self.coursedir.student_id = glob.escape(student)
        try:
            CohortAutograde(coursedir=self.coursedir, parent=self).start()
        finally:
            self.coursedir.student_id = "*"


def _completed_students(futures: dict[tuple[str, str], Future[list[Result]]]) -> Iterator[str]:
    """Students in the order their grading finishes (all their notebooks), so that one slow
    submission never holds up the recording of the others."""
    by_student: dict[str, list[Future[list[Result]]]] = {}
    for (student, _notebook), future in futures.items():
        by_student.setdefault(student, []).append(future)
    pending = set(by_student)
    while pending:
        waiting = [f for s in pending for f in by_student[s] if not f.done()]
        if waiting:
            concurrent.futures.wait(waiting, return_when=concurrent.futures.FIRST_COMPLETED)
        for student in sorted(pending):
            if all(f.done() for f in by_student[student]):
                pending.discard(student)
                yield student


def not_recorded(app: Any, submissions: list[Submission], week: str) -> list[str]:
    """The students whose autograded notebook nbgrader did not write (sorted, once each)."""
    cd = app.coursedir
    failed = {
        s.student for s in submissions if not Path(cd.format_path(cd.autograded_directory, s.student, week)).exists()
    }
    return sorted(failed)


def _discover(app: CohortAutogradeApp, week: str, force: bool) -> list[Submission]:
    cd = app.coursedir
    source = Path(cd.format_path(cd.source_directory, ".", week))
    notebooks = sorted(source.glob("*.ipynb"))
    if not notebooks:
        raise FileNotFoundError(
            f"no source notebooks in {source} (run `graders build {week}` and `nbgrader generate_assignment {week}`)"
        )
    ids = {nb.stem: _graded_ids(nb) for nb in notebooks}
    submissions = []
    for folder in sorted(glob.glob(cd.format_path(cd.submitted_directory, "*", week))):
        student = Path(folder).parent.name
        if not force and Path(cd.format_path(cd.autograded_directory, student, week)).exists():
            continue  # nbgrader skips it too (use --force to grade again)
        for name, exercise_ids in ids.items():
            path = Path(folder) / f"{name}.ipynb"
            if path.exists():
                submissions.append(Submission(student, name, path, exercise_ids, unreadable_reason(path)))
    return sorted(submissions, key=lambda s: (s.student, s.notebook))


def _grade(sub: Submission, limits: Limits, mode: str, pool: Any) -> list[Result]:
    started = time.monotonic()
    try:
        if sub.unreadable:
            reason = (
                f"your notebook could not be read for grading: {sub.unreadable}. It scored 0; fix it and submit it again, "
                "saved from Jupyter."
            )
            return [result_for_missing(get_exercise(i), reason) for i in sub.exercise_ids]
        try:
            return check_file(sub.path, sub.exercise_ids, limits, isolation=mode, pool=pool)
        except Exception as exc:  # noqa: BLE001 - one submission never stops the cohort
            reason = f"your notebook could not be graded: {str(exc)[:300]}"
            return [result_for_missing(get_exercise(i), reason) for i in sub.exercise_ids]
    finally:
        sub.seconds = time.monotonic() - started


def autograde(
    week: str,
    jobs: int | None = None,
    *,
    force: bool = False,
    allow_unisolated: bool = False,
    course_root: Path | None = None,
    limits: Limits | None = None,
    progress: bool = True,
    budget_seconds: float | None = None,
    slow_seconds: float = 30.0,
) -> Summary:
    """Grade every submission of ``week`` and record the grades in nbgrader's gradebook.

    ``budget_seconds``: each student's wall-clock budget (the sandboxed run of all the week's
    exercises). By default it is ``BUDGET_FACTOR`` times the reference's own time on the week's
    cases, at least ``BUDGET_FLOOR`` seconds and at most ``limits.wall_seconds``, and each
    exercise's cases get ``BUDGET_FACTOR`` times the slowest exercise's reference time (at least
    ``EXERCISE_FLOOR`` seconds, at most ``limits.exercise_seconds``): an honest answer has twenty
    times the reference's time, an infinite loop costs its submission about a minute. Submissions
    that took ``slow_seconds`` or more are listed in the summary, slowest first.
    """
    from graders.isolation import Pool, probe, resolve_mode

    started = time.monotonic()
    mode = resolve_mode("auto" if allow_unisolated else "bwrap")
    described = (
        probe().describe()
        if mode == "bwrap"
        else "UNISOLATED (--allow-unisolated): resource limits and the audit hook only"
    )
    limits = limits or Limits()
    jobs = max(1, jobs or os.cpu_count() or 1)

    argv = [week, "--log-level=ERROR", *(["--force"] if force else [])]
    if course_root is not None:
        argv.append(f"--CourseDirectory.root={course_root}")
    app = CohortAutogradeApp()
    app.initialize(argv)
    if TrustedGrades not in app.config.Autograde.get("autograde_preprocessors", []):
        from graders.nbgrader_plugin import configure

        configure(app.config)  # never stock nbgrader's grading (see nbgrader_plugin), whatever the config
    check_pipeline(list(app.config.Autograde.get("autograde_preprocessors", [])))
    submissions = _discover(app, week, force)
    CohortAutograde.submissions = {(s.student, s.notebook): s for s in submissions}
    all_ids = sorted({i for s in submissions for i in s.exercise_ids})
    print(
        f"graders autograde {week}: {len(submissions)} submission(s), {jobs} worker(s), mode: {described}",
        file=sys.stderr,
    )

    pool = Pool(all_ids, mode, jobs=jobs, preload=preload_modules(all_ids)) if all_ids else None
    warming = threading.Thread(target=pool.warm_up, daemon=True) if pool is not None else None
    if warming is not None:
        warming.start()  # the workers import torch while this process runs the reference
    precompute_expected(all_ids)  # once per cohort, while the workers start
    if warming is not None:
        warming.join()
    if budget_seconds is None:
        reference = reference_seconds(all_ids) if all_ids else {}  # timed now that the machine is quieter
        budget_seconds = min(limits.wall_seconds, max(BUDGET_FLOOR, BUDGET_FACTOR * sum(reference.values())))
        # each exercise's cases: the same factor over the slowest exercise, so that one infinite
        # loop (even one that other exercises call) leaves time for the rest of the notebook
        per_exercise = max(EXERCISE_FLOOR, BUDGET_FACTOR * max(reference.values(), default=0.0))
        limits = dataclasses.replace(limits, exercise_seconds=int(min(limits.exercise_seconds, per_exercise)))
    limits = dataclasses.replace(limits, wall_seconds=float(budget_seconds))
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(submissions), desc=f"grading {week}", unit="notebook", file=sys.stderr)
    lock = threading.Lock()
    futures: dict[tuple[str, str], Future[list[Result]]] = {}
    try:
        with ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="grade") as executor:
            for sub in submissions:
                future = executor.submit(_grade, sub, limits, mode, pool)

                def done(f: Future[list[Result]], sub: Submission = sub) -> None:
                    if sub.unreadable is None or not sub.results:  # the converter may have zeroed it already
                        sub.results = f.result() if not f.exception() else []
                    if bar is not None:
                        with lock:
                            bar.update(1)

                future.add_done_callback(done)
                futures[(sub.student, sub.notebook)] = future
            TrustedGrades.precomputed = futures
            TrustedGrades.graded_mode = described
            app.prepare()
            # recorded from this thread only (the gradebook is one SQLite file), each student as soon
            # as their grading is done: a submission that runs to its budget delays nobody else
            for student in _completed_students(futures):
                try:
                    app.record(student)
                except NbGraderException:
                    pass  # nbgrader has logged why; the student is listed below
            for future in futures.values():
                future.exception()  # wait for all
    finally:
        TrustedGrades.precomputed = {}
        CohortAutograde.submissions = {}
        if bar is not None:
            bar.close()
        if pool is not None:
            pool.close()
    return Summary(
        week,
        described,
        submissions,
        time.monotonic() - started,
        not_recorded(app, submissions, week),
        budget_seconds=limits.wall_seconds,
        slow_seconds=slow_seconds,
    )
