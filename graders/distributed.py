"""``graders autograde WEEK --scheduler ADDRESS``: grade a cohort on a Dask cluster, record it here.

The split is the one :mod:`graders.autograde` makes on one machine, with Dask distributed in
place of the local pool:

- **grading**, on the cluster: each submission's notebook (its bytes, not a path: workers need
  not share a filesystem with this machine) goes to a Dask worker as one task. The worker grades
  it with :func:`graders.sandbox.check_file`, in its own bubblewrap sandbox, through a warm
  :class:`graders.isolation.Pool` kept per worker process, and returns the verdicts as plain
  JSON (:meth:`graders.core.Result.to_json`): no pickled objects come back, and nothing the
  submission did can reach this process but that text.
- **recording**, in this one process: nbgrader's converter (:class:`graders.autograde.CohortAutograde`)
  walks the submissions and :class:`graders.nbgrader_plugin.TrustedGrades` waits for each verdict,
  exactly as in a local run, so the gradebook (one SQLite file) has one writer.

A worker lost mid-run loses no grade: the scheduler hands the tasks it held to other workers
(Dask reschedules the tasks of a worker that disappears); a task that fails on a worker is retried
(``retries``), and one that the scheduler gives up on (``KilledWorker``) is submitted again under a
new key. Each task logs a ``graders-start`` event when it starts grading, so the summary counts
the submissions that were started more than once (*regraded*).

A grade must not depend on which worker graded it. Before anything is sent, every worker reports
a *fingerprint* (the hash of ``graders/``, ``courselib/`` and ``datasets/``, and the Python, torch
and numpy versions) and whether bubblewrap works there; a cluster whose workers differ from this
machine is refused, as is a worker without OS-level isolation (unless ``allow_unisolated``).
Every task checks the fingerprint again (a worker that joins later is held to it too). The limits
travel with each task, the notebook keeps its file name (feedback quotes it), and unreadable
notebooks are settled here without a worker. Wall-clock limits still depend on the machine's
speed: give the workers like machines (docs/HUB.md).

Workers are started from the same checkout and virtual environment as this process, e.g.
``dask scheduler`` on one machine and ``dask worker tcp://HOST:8786 --nthreads 1 --nworkers 4`` on
each grading machine (one thread per worker process: each process grades one submission at a time
in its own sandbox).
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from graders.autograde import CohortAutogradeApp, Submission, Summary, _discover, not_recorded
from graders.core import Result, result_for_missing
from graders.nbgrader_plugin import TrustedGrades
from graders.reference import REPO_ROOT
from graders.registry import get_exercise
from graders.sandbox import Limits

START_TOPIC = "graders-start"
FINGERPRINT_FOLDERS = ("graders", "courselib", "datasets")


class ClusterMismatch(RuntimeError):
    """The cluster's workers would not grade as this machine would (another version, no sandbox)."""


# --------------------------------------------------------------------------------------------
# Both sides
# --------------------------------------------------------------------------------------------

_FINGERPRINT: str | None = None


def fingerprint(refresh: bool = False) -> str:
    """What a grade depends on besides the submission: the grading code, the data, the versions."""
    global _FINGERPRINT
    if _FINGERPRINT is not None and not refresh:
        return _FINGERPRINT
    import numpy
    import torch

    digest = hashlib.sha256()
    for folder in FINGERPRINT_FOLDERS:
        base = REPO_ROOT / folder
        for path in sorted(base.rglob("*")):
            rel = path.relative_to(REPO_ROOT)
            if not path.is_file() or "__pycache__" in rel.parts or any(p.startswith(".") for p in rel.parts):
                continue
            digest.update(str(rel).encode() + b"\0" + path.read_bytes() + b"\0")
    versions = f"python {platform.python_version()} torch {torch.__version__} numpy {numpy.__version__}"
    digest.update(versions.encode())
    _FINGERPRINT = f"{digest.hexdigest()[:16]} ({versions})"
    return _FINGERPRINT


def result_from_json(data: dict[str, Any]) -> Result:
    """The inverse of :meth:`Result.to_json`, checking every field's type (this is all a worker sends)."""
    result = Result(
        exercise=str(data["exercise"]),
        points=float(data["points"]),
        max_points=float(data["max_points"]),
        passed=bool(data["passed"]),
        feedback=[str(line) for line in data["feedback"]],
    )
    if set(data) != {"exercise", "points", "max_points", "passed", "feedback"}:
        raise ValueError(f"unexpected fields in a result: {sorted(data)}")
    return result


# --------------------------------------------------------------------------------------------
# Worker side (runs in a Dask worker process)
# --------------------------------------------------------------------------------------------

_POOLS: dict[tuple[Any, ...], Any] = {}
_POOLS_LOCK = threading.Lock()


def _worker_pool(exercise_ids: list[str], mode: str) -> Any:
    """This worker process's warm pool for these exercises, one sandboxed process per Dask thread."""
    from distributed import get_worker

    from graders.isolation import Pool
    from graders.sandbox import preload_modules

    key = (tuple(sorted(exercise_ids)), mode)
    with _POOLS_LOCK:
        if key not in _POOLS:
            if len(_POOLS) >= 4:  # a long-lived worker grading many weeks keeps a few warm
                _POOLS.pop(next(iter(_POOLS))).close()
            jobs = max(1, int(get_worker().state.nthreads))
            _POOLS[key] = Pool(sorted(exercise_ids), mode, jobs=jobs, preload=preload_modules(exercise_ids))
        return _POOLS[key]


def worker_info(allow_unisolated: bool) -> dict[str, Any]:
    """What this worker would grade with: its fingerprint and its isolation (a task, not ``client.run``:
    probing starts bubblewrap, which must not block the worker's event loop)."""
    from distributed import get_worker

    from graders.isolation import probe

    report = probe()
    return {
        "address": get_worker().address,
        "host": platform.node(),
        "pid": os.getpid(),
        "fingerprint": fingerprint(),
        "os_isolated": report.os_isolated,
        "mode": report.describe() if report.os_isolated else "UNISOLATED (--allow-unisolated)",
        "why_not": report.bwrap_error,
    }


def grade_on_worker(
    submission: str,
    filename: str,
    data: bytes,
    exercise_ids: list[str],
    limits: dict[str, Any],
    isolation: str,
    expected_fingerprint: str,
) -> str:
    """One submission, graded on this worker in its sandbox; the verdicts as a JSON string."""
    from distributed import get_worker

    from graders.isolation import resolve_mode
    from graders.sandbox import check_file

    worker = get_worker()
    worker.log_event(START_TOPIC, {"submission": submission, "worker": worker.address, "pid": os.getpid()})
    if fingerprint() != expected_fingerprint:
        raise ClusterMismatch(
            f"worker {worker.address} grades with {fingerprint()}, the gradebook's machine with {expected_fingerprint}"
        )
    mode = resolve_mode(isolation)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="graders-dask-") as tmp:
        path = Path(tmp) / filename  # the same name as on the gradebook's machine: feedback quotes it
        path.write_bytes(data)
        try:
            results = check_file(
                path, exercise_ids, Limits(**limits), isolation=mode, pool=_worker_pool(exercise_ids, mode)
            )
        except (OSError, ValueError) as exc:
            reason = f"your notebook could not be graded: {exc}"
            results = [result_for_missing(get_exercise(i), reason) for i in exercise_ids]
    return json.dumps(
        {
            "worker": worker.address,
            "seconds": time.monotonic() - started,
            "results": [r.to_json() for r in results],
        }
    )


# --------------------------------------------------------------------------------------------
# The gradebook's side
# --------------------------------------------------------------------------------------------


@dataclass
class ClusterSummary(Summary):
    """:class:`graders.autograde.Summary` plus where the grading happened and what was graded again."""

    workers: list[dict[str, Any]] = field(default_factory=list)
    graded_by: dict[str, str] = field(default_factory=dict)  # "student/notebook" -> worker address
    regraded: list[str] = field(default_factory=list)  # started on a worker that was lost, graded again
    resubmitted: int = 0  # tasks the scheduler gave up on (KilledWorker) and that were sent again
    lost: list[str] = field(default_factory=list)  # graded nowhere (every attempt failed): no grade recorded

    def text(self) -> str:
        hosts = sorted({w["host"] for w in self.workers})
        lines = [
            super().text(),
            f"cluster: {len(self.workers)} worker(s) at the start on {len(hosts)} machine(s) ({', '.join(hosts)}), "
            f"{len(set(self.graded_by.values()))} worker(s) graded",
        ]
        if self.regraded:
            lines.append(
                f"regraded: {len(self.regraded)} submission(s) were started on a worker that was lost "
                "and graded again on another (no grade lost): " + ", ".join(self.regraded)
            )
        else:
            lines.append("regraded: 0 (no worker was lost while grading)")
        if self.lost:
            lines.append("NOT GRADED (every attempt failed; run again): " + ", ".join(self.lost))
        return "\n".join(lines)


def _check_cluster(client: Any, allow_unisolated: bool) -> list[dict[str, Any]]:
    workers = list(client.scheduler_info(n_workers=-1)["workers"])
    if not workers:
        raise ClusterMismatch("the scheduler has no workers (start some with `dask worker ADDRESS`)")
    futures = [
        client.submit(worker_info, allow_unisolated, workers=[w], allow_other_workers=False, pure=False)
        for w in workers
    ]
    infos = client.gather(futures)
    mine = fingerprint()
    wrong = [f"{i['address']} ({i['host']}): {i['fingerprint']}" for i in infos if i["fingerprint"] != mine]
    if wrong:
        raise ClusterMismatch(
            f"these workers would grade with other code or versions than this machine ({mine}): "
            + "; ".join(wrong)
            + ". Start every worker from the same checkout and environment."
        )
    bare = [f"{i['address']} ({i['host']}): {i['why_not']}" for i in infos if not i["os_isolated"]]
    if bare and not allow_unisolated:
        from graders.isolation import IsolationUnavailable

        raise IsolationUnavailable(
            "OS-level isolation (bubblewrap) is not available on these workers: "
            + "; ".join(bare)
            + ". Install bubblewrap there, or grade without it at your own risk with --allow-unisolated."
        )
    return infos


def autograde_on_cluster(
    week: str,
    scheduler: str | Any,
    *,
    force: bool = False,
    allow_unisolated: bool = False,
    course_root: Path | None = None,
    limits: Limits | None = None,
    progress: bool = True,
    retries: int = 2,
) -> ClusterSummary:
    """Grade every submission of ``week`` on the Dask cluster at ``scheduler`` (an address such as
    ``tcp://host:8786``, or a ``distributed.Client``) and record the grades in nbgrader's gradebook here."""
    from distributed import Client, as_completed
    from distributed.scheduler import KilledWorker

    started = time.monotonic()
    limits = limits or Limits()
    own_client = not hasattr(scheduler, "submit")
    client = Client(scheduler, set_as_default=False) if own_client else scheduler
    try:
        infos = _check_cluster(client, allow_unisolated)
        isolation = "auto" if allow_unisolated else "bwrap"
        modes = sorted({i["mode"] for i in infos})
        described = f"Dask cluster at {client.scheduler.address}, every worker: " + " | ".join(modes)

        argv = [week, "--log-level=ERROR", *(["--force"] if force else [])]
        if course_root is not None:
            argv.append(f"--CourseDirectory.root={course_root}")
        app = CohortAutogradeApp()
        app.initialize(argv)
        if TrustedGrades not in app.config.Autograde.get("autograde_preprocessors", []):
            from graders.nbgrader_plugin import configure

            configure(app.config)
        submissions = _discover(app, week, force)
        print(
            f"graders autograde {week}: {len(submissions)} submission(s), {len(infos)} Dask worker(s) "
            f"at {client.scheduler.address}",
            file=sys.stderr,
        )
        bar = None
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=len(submissions), desc=f"grading {week}", unit="notebook", file=sys.stderr)

        expected = fingerprint()
        run_id = uuid.uuid4().hex[:8]
        # where each submission started grading: followed live (the scheduler keeps only the last
        # events of a topic, too few for a large cohort), and read back at the end as well
        starts: dict[str, set[tuple[str, int]]] = {}
        starts_lock = threading.Lock()

        def on_start(event: tuple[float, Any]) -> None:
            message = event[1]
            if isinstance(message, dict) and str(message.get("submission", "")).startswith(f"{run_id}:"):
                with starts_lock:
                    starts.setdefault(message["submission"], set()).add((message["worker"], message["pid"]))

        client.subscribe_topic(START_TOPIC, on_start)
        futures: dict[tuple[str, str], Future[list[Result]]] = {}
        by_task: dict[str, tuple[Submission, int]] = {}
        graded_by: dict[str, str] = {}
        resubmitted = 0
        lost: list[str] = []

        def send(sub: Submission, attempt: int) -> Any:
            task = client.submit(
                grade_on_worker,
                f"{run_id}:{sub.student}/{sub.notebook}",
                sub.path.name,
                sub.path.read_bytes(),
                sub.exercise_ids,
                limits.as_json(),
                isolation,
                expected,
                key=f"graders-{week}-{sub.student}-{sub.notebook}-{run_id}-{attempt}",
                pure=False,
                retries=retries,
            )
            by_task[task.key] = (sub, attempt)
            return task

        def settle(sub: Submission, results: list[Result] | None, error: BaseException | None = None) -> None:
            sub.results = results or []
            future = futures[(sub.student, sub.notebook)]
            if error is not None:
                future.set_exception(error)
            else:
                future.set_result(sub.results)
            if bar is not None:
                bar.update(1)

        tasks = []
        for sub in submissions:
            futures[(sub.student, sub.notebook)] = Future()
        for sub in submissions:
            if sub.unreadable:  # nothing to run: settled here, as a local run does
                reason = f"your notebook could not be read: {sub.unreadable}. It scored 0; submit it again, saved from Jupyter."
                settle(sub, [result_for_missing(get_exercise(i), reason) for i in sub.exercise_ids])
            else:
                tasks.append(send(sub, 0))

        def collect() -> None:
            nonlocal resubmitted
            pending = as_completed(tasks, with_results=False)
            for task in pending:
                sub, attempt = by_task[task.key]
                try:
                    payload = json.loads(task.result())
                    results = [result_from_json(r) for r in payload["results"]]
                    sub.seconds = float(payload["seconds"])
                    graded_by[f"{sub.student}/{sub.notebook}"] = str(payload["worker"])
                    settle(sub, results)
                except KilledWorker as exc:
                    if attempt < retries:  # the scheduler gave up on it: send it again, under a new key
                        resubmitted += 1
                        pending.add(send(sub, attempt + 1))
                    else:
                        lost.append(f"{sub.student}/{sub.notebook}")
                        settle(sub, None, exc)
                except Exception as exc:  # noqa: BLE001 - recorded as not graded; the run goes on
                    lost.append(f"{sub.student}/{sub.notebook}: {type(exc).__name__}: {exc}")
                    settle(sub, None, exc)

        collector = threading.Thread(target=collect, name="graders-dask-collect", daemon=True)
        collector.start()
        TrustedGrades.precomputed = futures
        TrustedGrades.graded_mode = described
        from nbgrader.converters.base import NbGraderException

        try:
            try:
                app.start()
            except NbGraderException:
                pass  # nbgrader has logged which submissions failed; they are listed below
            collector.join()
        finally:
            TrustedGrades.precomputed = {}
            if bar is not None:
                bar.close()
        for event in client.get_events(START_TOPIC):
            on_start(event)
        client.unsubscribe_topic(START_TOPIC)
        with starts_lock:  # earlier runs' events carry another run id and were left out
            regraded = sorted(name.split(":", 1)[1] for name, where in starts.items() if len(where) > 1)
    finally:
        if own_client:
            client.close()
    return ClusterSummary(
        week,
        described,
        submissions,
        time.monotonic() - started,
        not_recorded(app, submissions, week),
        workers=infos,
        graded_by=graded_by,
        regraded=regraded,
        resubmitted=resubmitted,
        lost=lost,
    )
