"""Authoritative grading: the student's code runs in a locked-down child process.

The parent (trusted) builds each exercise's cases, extracts the definitions from the submitted
file and hands them to a warm worker (:mod:`graders.isolation`): a process that has imported
torch and received the exercises' cases, settings and call adapters from the parent once
(JSON + safetensors, :mod:`graders.payload`), inside a bubblewrap sandbox (read-only system,
no ``solutions/``, no spec modules, registry or references, no network, its own PID namespace,
an unprivileged uid), and that forks a fresh child per submission in namespaces of its own,
with limits on CPU time, memory, file size, processes and wall clock. An audit hook in the
child refuses sockets, subprocesses, signals, C libraries and writes outside its scratch
folder as a second layer; ``courselib`` functions that compute an exercise's answer
(``Exercise.forbidden_courselib``) are replaced by stubs that raise. The child runs the
student's functions on the cases and writes the outputs as safetensors plus JSON: formats that
cannot execute code when read. The parent then compares them with the reference, which only
ever runs here.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import json
import os
import shutil
import signal
import sys
import threading
import time
import types
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from graders import guard
from graders.core import Outcome, Result, grade, result_for_missing, run_case
from graders.source import SourceError, code_cells, definitions, definitions_from_file
from graders.transport import outcome_from_record, outcome_to_record

MAX_RESULT_BYTES = 4 * 2**20  # one exercise's JSON description of its outcomes
MAX_TENSOR_BYTES = 64 * 2**20  # one exercise's safetensors file (its outputs and gradients)
MAX_JSON_DEPTH = 64  # nesting of that JSON (a returned value may nest transport.MAX_DEPTH levels)
MAX_NOTEBOOK_BYTES = 64 * 2**20  # a submitted file as it is on disk, outputs included
MAX_CODE_BYTES = 5 * 10**6  # the code of its cells (outputs are not graded, so they do not count)
MAX_LINE_CHARS = 2000  # one line of feedback
MAX_FEEDBACK_CHARS = 20_000  # all the feedback of one exercise


@dataclass(frozen=True)
class Limits:
    """Resource limits for one grading child process."""

    wall_seconds: float = 300.0  # the whole child, all exercises
    exercise_seconds: int = 60  # all the cases of one exercise (an alarm inside the child)
    setup_seconds: int = 120  # running the answer's imports and definitions (transformers is slow to import)
    cpu_seconds: int = 600
    memory_bytes: int = 4 * 2**30  # beyond what the warm worker holds (torch, the cases): RLIMIT_DATA + RSS watchdog
    file_bytes: int = 512 * 2**20
    tmp_bytes: int = 256 * 2**20  # the child's private /tmp (a tmpfs of its own), its scratch folder included
    processes: int = 64  # threads count too; in a user namespace of its own, so root's exemption does not apply

    def as_json(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


# --------------------------------------------------------------------------------------------
# Parent side
# --------------------------------------------------------------------------------------------


def check_file(
    path: Path,
    exercise_ids: list[str],
    limits: Limits | None = None,
    *,
    isolation: str = "auto",
    audit_hook: bool = True,
    pool: Any = None,
) -> list[Result]:
    """Grade the answers in ``path`` (``.py`` or ``.ipynb``) to the given exercises.

    Raises ``FileNotFoundError`` or ``SourceError`` only when the file cannot be read at all;
    everything the code does wrong becomes feedback in the results.

    ``isolation``: ``"auto"`` (bubblewrap where it works, else resource limits and the audit hook
    only), ``"bwrap"`` (raise :class:`graders.isolation.IsolationUnavailable` without it) or
    ``"none"``. ``audit_hook=False`` leaves the OS layers alone (the isolation tests use it to prove
    them). ``pool``: a :class:`graders.isolation.Pool` of warm workers (cohort grading); by
    default one warm worker per set of exercises is kept for the life of this process.
    """
    from graders.registry import get_exercise

    limits = limits or Limits()
    exercises = [get_exercise(i) for i in exercise_ids]
    if not path.exists():
        raise FileNotFoundError(f"no such file: {path}")
    if path.suffix not in (".py", ".ipynb"):
        raise SourceError(f"{path.name}: expected a .py file or a .ipynb notebook")
    try:
        chunks, too_large = submitted_code(path)
    except SourceError as exc:
        if not path.is_file() or not os.access(path, os.R_OK):
            raise
        return [bounded_result(result_for_missing(e, str(exc))) for e in exercises]
    if too_large:
        return [bounded_result(result_for_missing(e, too_large)) for e in exercises]
    try:
        with _PARSE_LOCK:
            code, warnings = definitions(chunks)
    except (SourceError, RecursionError, MemoryError, ValueError) as exc:
        return [result_for_missing(e, f"your code could not be read: {str(exc)[:MAX_LINE_CHARS]}") for e in exercises]

    notes = [f"note: {w}" for w in warnings]
    import ast

    try:
        with _PARSE_LOCK:
            defined = {n.name for n in ast.parse(code).body if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
    except (SyntaxError, RecursionError, MemoryError, ValueError) as exc:
        return [result_for_missing(e, f"your code could not be read: {str(exc)[:MAX_LINE_CHARS]}") for e in exercises]
    results: dict[str, Result] = {}
    to_run = []
    for exercise in exercises:
        with _PARSE_LOCK:  # the static guard, here in the parent: refused code is never run
            refused = guard.refusal_message(code, exercise.week, exercise.function)
        if refused:
            results[exercise.id] = result_for_missing(exercise, refused)
        elif exercise.function not in defined:
            results[exercise.id] = result_for_missing(
                exercise,
                f"no definition of `{exercise.function}` found in {path.name}. Define it at the top level of a "
                "code cell with exactly this name." + (" " + " ".join(notes) if notes else ""),
            )
        else:
            to_run.append(exercise)

    if to_run:
        outputs = _run_child(
            code, [e.id for e in to_run], limits, isolation, audit_hook, pool, pool_ids=[e.id for e in exercises]
        )
        with _PARSE_LOCK:  # the comparison parses and compiles too (forbidden calls, known mistakes)
            for exercise in to_run:
                results[exercise.id] = _grade_child_output(exercise, outputs.get(exercise.id), code, notes)
    return [bounded_result(results[e.id]) for e in exercises]


def submitted_code(path: Path) -> tuple[list[str], str | None]:
    """The code of a submitted ``.py`` file or of each code cell of a notebook, read within bounds.

    Returns the chunks and ``None``, or ``[]`` and a one-line reason when the submission is too
    large to grade (the file beyond ``MAX_NOTEBOOK_BYTES``, its code beyond ``MAX_CODE_BYTES``).
    Outputs are never graded: they are dropped before anything else looks at the notebook.
    Raises ``SourceError`` when the file is not a regular file or cannot be read at all.
    """
    from graders.isolation import open_regular

    fd = open_regular(path)
    if fd is None:
        raise SourceError(f"cannot read {path}: not a regular file")
    try:
        size = os.fstat(fd).st_size
    finally:
        os.close(fd)
    if size > MAX_NOTEBOOK_BYTES:
        return [], (
            f"your file is {size / 1e6:.0f} MB, more than the {MAX_NOTEBOOK_BYTES / 1e6:.0f} MB the grader reads: "
            "clear the outputs (Edit → Clear Outputs of All Cells), save, and submit again"
        )
    chunks = code_cells(path)  # SourceError when it is not a notebook or not UTF-8
    code_bytes = sum(len(c.encode("utf-8", "replace")) for c in chunks)
    if code_bytes > MAX_CODE_BYTES:
        return [], (
            f"your notebook holds {code_bytes / 1e6:.1f} MB of code, more than the {MAX_CODE_BYTES / 1e6:g} MB "
            "the grader accepts (pasted data in a code cell?): keep the code, load data from files"
        )
    return chunks, None


def bounded_result(result: Result) -> Result:
    """``result`` with each line of feedback at most ``MAX_LINE_CHARS`` and all of it at most
    ``MAX_FEEDBACK_CHARS`` (a 30 MB exception message stays one short paragraph)."""
    lines, total = [], 0
    for line in result.feedback:
        line = str(line)
        if len(line) > MAX_LINE_CHARS:
            line = line[:MAX_LINE_CHARS] + f"... [{len(line) - MAX_LINE_CHARS} more characters]"
        if total + len(line) > MAX_FEEDBACK_CHARS:
            lines.append(f"... [{len(result.feedback) - len(lines)} more line(s) of feedback left out]")
            break
        lines.append(line)
        total += len(line)
    result.feedback = lines
    return result


# CPython 3.11's parser is not safe to run from several threads at once ("SystemError: AST
# constructor recursion depth mismatch"): the parent's parsing and comparing, one thread at a time
# (the children still run in parallel; only this process's share is serialised)
_PARSE_LOCK = threading.RLock()
_POOLS: dict[tuple[Any, ...], Any] = {}
_POOLS_LOCK = threading.Lock()


def shared_pool(exercise_ids: list[str], isolation: str = "auto") -> Any:
    """The warm worker this process keeps for these exercises (started on first use)."""
    from graders.isolation import Pool, resolve_mode

    mode = resolve_mode(isolation)
    key = (tuple(sorted(exercise_ids)), mode)
    with _POOLS_LOCK:
        if key not in _POOLS:
            if len(_POOLS) >= 4:  # a long-lived process grading many weeks: keep a few warm
                _POOLS.pop(next(iter(_POOLS))).close()
            _POOLS[key] = Pool(sorted(exercise_ids), mode, jobs=1, preload=preload_modules(exercise_ids))
        return _POOLS[key]


def close_pools() -> None:
    with _POOLS_LOCK:
        for pool in _POOLS.values():
            pool.close()
        _POOLS.clear()


def _run_child(
    code: str,
    exercise_ids: list[str],
    limits: Limits,
    isolation: str = "auto",
    audit_hook: bool = True,
    pool: Any = None,
    pool_ids: list[str] | None = None,
) -> dict[str, Any]:
    pool = pool or shared_pool(pool_ids or exercise_ids, isolation)

    def prepare(workdir: Path) -> None:
        (workdir / "answer.py").write_text(code, encoding="utf-8")
        job = {"exercises": exercise_ids, "limits": limits.as_json(), "audit_hook": audit_hook}
        (workdir / "job.json").write_text(json.dumps(job), encoding="utf-8")

    workdir, status = pool.run(prepare, timeout=limits.wall_seconds + 60)
    try:
        return _outputs_with_status(workdir, exercise_ids, status, limits)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _outputs_with_status(workdir: Path, exercise_ids: list[str], status: Any, limits: Limits) -> dict[str, Any]:
    """What the child left in ``workdir``, with the supervisor's ``status`` applied; never raises."""
    if not isinstance(status, dict):
        status = {"error": "no status from the grading worker"}
    outputs = _read_outputs(workdir, exercise_ids)
    too_large = status.get("too_large") or []
    for exercise_id in exercise_ids:
        if isinstance(too_large, list) and any(str(n).startswith(f"{exercise_id}.") for n in too_large):
            outputs[exercise_id] = {"fatal": _TOO_LARGE}
    try:
        dead = bool(
            status.get("error") or status.get("timed_out") or status.get("memory_killed") or status.get("returncode")
        )
        reason = _death_reason(status, limits) if dead else ""
    except Exception:  # noqa: BLE001 - a status the grader cannot read is still a verdict
        dead, reason = True, "the process running your code was lost"
    if dead:
        for exercise_id in exercise_ids:
            outputs.setdefault(exercise_id, {"fatal": reason})
    printed = status.get("output_bytes")
    if isinstance(printed, int) and printed > 2 * OUTPUT_NOTE_BYTES:
        note = (
            f"note: your code printed {printed / 1e6:.1f} MB while it was graded; the grader kept the first and "
            "last few kilobytes. Printing never changes a grade, but it slows grading: remove debug prints."
        )
        for output in outputs.values():
            output.setdefault("notes", []).append(note)
    return outputs


OUTPUT_NOTE_BYTES = 32 * 1024  # graders.isolation.OUTPUT_KEEP: printed output beyond twice this is cut
_TOO_LARGE = "your function's outputs were far larger than expected (the grader reads a few MB per exercise)"


def _json_too_deep(data: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether brackets in the JSON ``data`` nest deeper than ``limit`` (strings ignored); fast on MBs."""
    import re

    import numpy as np

    stripped = re.sub(rb'"(?:[^"\\]|\\.)*"', b"", data)
    codes = np.frombuffer(stripped, dtype=np.uint8)
    steps = np.zeros(codes.shape, dtype=np.int32)
    steps[(codes == ord("[")) | (codes == ord("{"))] = 1
    steps[(codes == ord("]")) | (codes == ord("}"))] = -1
    return bool(steps.size) and int(np.cumsum(steps).max()) > limit


def read_output(workdir: Path, exercise_id: str) -> dict[str, Any] | None:
    """One exercise's outputs from the child's files: ``{"outcomes", "setup_error"}``, ``{"fatal": reason}``
    or ``None`` (no file). Never raises, whatever the files hold: sizes, JSON depth, numbers,
    strings and safetensors headers are all checked before use."""
    from safetensors.torch import load as load_tensors

    from graders.isolation import open_regular, read_regular

    try:
        fd = open_regular(workdir / f"{exercise_id}.json")
        if fd is None:
            return None
        os.close(fd)
        data = read_regular(workdir / f"{exercise_id}.json", MAX_RESULT_BYTES)
        if data is None:
            return {"fatal": _TOO_LARGE}
        tensors: dict[str, Any] = {}
        fd = open_regular(workdir / f"{exercise_id}.safetensors")
        if fd is not None:
            os.close(fd)
            blob = read_regular(workdir / f"{exercise_id}.safetensors", MAX_TENSOR_BYTES)
            if blob is None:
                return {"fatal": _TOO_LARGE}
            tensors = load_tensors(blob)
        if _json_too_deep(data):
            return {"fatal": "your function's outputs are nested too deeply for the grader to read"}
        desc = json.loads(data.decode("utf-8"))
        if not isinstance(desc, dict) or not isinstance(desc.get("outcomes"), list):
            raise ValueError("malformed description of the outputs")
        setup_error = desc.get("setup_error")
        return {
            "outcomes": [outcome_from_record(o, tensors) for o in desc["outcomes"]],
            "setup_error": None if setup_error is None else str(setup_error)[:MAX_LINE_CHARS],
        }
    except Exception as exc:  # noqa: BLE001 - whatever the child wrote, the parent answers with a reason
        text = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        return {"fatal": f"the grader could not read your function's outputs ({text})"}


def _read_outputs(workdir: Path, exercise_ids: list[str]) -> dict[str, Any]:
    outputs: dict[str, Any] = {}
    for exercise_id in exercise_ids:
        output = read_output(workdir, exercise_id)
        if output is not None:
            outputs[exercise_id] = output
    return outputs


def _death_reason(status: dict[str, Any], limits: Limits) -> str:
    gib = f"{limits.memory_bytes / 2**30:g} GiB"
    if status.get("timed_out"):
        return (
            f"your code did not finish within {limits.wall_seconds:.0f} s of wall-clock time and was stopped "
            "(an infinite loop, or a far slower algorithm than needed?)"
        )
    if status.get("memory_killed"):
        return f"your code used more than {gib} of memory and was stopped"
    if status.get("error"):
        return f"the process running your code was lost ({str(status['error'])[:300]})"
    returncode = status.get("returncode")
    returncode = returncode if isinstance(returncode, int) else None
    stderr = str(status.get("stderr") or "")[-4000:]
    if returncode is not None and returncode < 0:
        sig = -returncode
        if sig in (signal.SIGXCPU, signal.SIGKILL):
            return f"your code used more than {limits.cpu_seconds} s of CPU time and was stopped"
        if sig == signal.SIGXFSZ:
            return f"your code wrote a file larger than {limits.file_bytes / 2**20:g} MiB and was stopped"
        return f"the process running your code was killed by signal {sig}"
    tail = stderr.strip().splitlines()[-1:] if stderr.strip() else []
    if any("MemoryError" in line or "can't allocate memory" in line for line in tail):
        return f"your code used more than {gib} of memory and was stopped"
    if any("No space left on device" in line or "File too large" in line for line in tail):
        return (
            f"your code filled its private /tmp ({limits.tmp_bytes / 2**20:g} MiB: no space left) or wrote a file larger than "
            f"{limits.file_bytes / 2**20:g} MiB, and the grader could not save its outputs"
        )
    return "the process running your code crashed" + (f": {tail[0][:300]}" if tail else "")


_CASES: dict[str, list[Any]] = {}
_CASES_LOCK = threading.Lock()


def _parent_cases(exercise: Any) -> list[Any]:
    """The exercise's cases, built once per process (a cohort grades hundreds of answers on them;
    every run gets fresh copies of the inputs, so sharing them is safe)."""
    with _CASES_LOCK:
        if exercise.id not in _CASES:
            _CASES[exercise.id] = exercise.cases()
        return _CASES[exercise.id]


_PAYLOADS: dict[tuple[str, ...], tuple[str, bytes]] = {}


def worker_payload(exercise_ids: Sequence[str]) -> tuple[str, bytes]:
    """What a warm worker for these exercises is sent at its start (built once per process):
    the cases, built here in the parent, and each exercise's settings and call adapter
    (JSON text, safetensors bytes; see :mod:`graders.payload`)."""
    from graders.payload import build_payload
    from graders.registry import get_exercise

    key = tuple(exercise_ids)
    with _CASES_LOCK:
        cached = _PAYLOADS.get(key)
    if cached is None:
        exercises = [get_exercise(i) for i in exercise_ids]
        with _PARSE_LOCK:
            cached = build_payload(exercises, _parent_cases)
        with _CASES_LOCK:
            _PAYLOADS[key] = cached
    return cached


_EXPECTED: dict[str, list[Outcome]] = {}


def _parent_expected(exercise: Any) -> list[Outcome]:
    """The reference's outcomes on the exercise's cases, computed once per process (every
    submission of a cohort is compared with the same ones). A reference that fails is a bug in
    the course: it raises, loudly, rather than turning into a student's 0."""
    from graders.core import run_cases
    from graders.reference import load_reference

    with _CASES_LOCK:
        cached = _EXPECTED.get(exercise.id)
    if cached is not None:
        return cached
    cases = _parent_cases(exercise)
    reference = vars(load_reference(exercise.week))
    expected = run_cases(exercise, reference[exercise.function], cases)
    for case, ref in zip(cases, expected):
        if ref.failed:
            raise RuntimeError(f"reference for {exercise.id} failed on case {case.describe!r}: {ref.error}")
        if ref.mutated:
            raise RuntimeError(f"reference for {exercise.id} modifies its inputs on case {case.describe!r}")
    with _CASES_LOCK:
        _EXPECTED[exercise.id] = expected
    return expected


def precompute_expected(exercise_ids: list[str]) -> None:
    """Compute (and cache) the reference's outcomes of these exercises now (a cohort does it
    while its workers start)."""
    from graders.registry import get_exercise

    for exercise_id in exercise_ids:
        _parent_expected(get_exercise(exercise_id))


def reference_seconds(exercise_ids: list[str]) -> dict[str, float]:
    """How long the reference takes on all the cases of each exercise, in this process: the
    yardstick of a student's time budget. Its outcomes are computed (and cached) first, then it
    runs once more to be timed, so that one-time costs (imports, first calls) do not count."""
    from graders.core import run_cases
    from graders.reference import load_reference
    from graders.registry import get_exercise

    seconds = {}
    for exercise_id in exercise_ids:
        exercise = get_exercise(exercise_id)
        _parent_expected(exercise)
        fn = vars(load_reference(exercise.week))[exercise.function]
        started = time.perf_counter()
        run_cases(exercise, fn, _parent_cases(exercise))
        seconds[exercise_id] = time.perf_counter() - started
    return seconds


def _grade_child_output(exercise: Any, output: dict[str, Any] | None, code: str, notes: list[str]) -> Result:
    """The verdict on one exercise from what the child sent back. Never raises on the child's
    output: anything the grader cannot compare is 0 points with a one-line reason."""
    from graders.reference import load_reference

    if not isinstance(output, dict):
        return result_for_missing(exercise, "the grader got no output for this exercise (the process died before it)")
    notes = [*notes, *output.get("notes", [])]
    if "fatal" in output:
        return _with_notes(result_for_missing(exercise, str(output["fatal"])), notes)
    if output.get("setup_error"):
        return _with_notes(
            result_for_missing(exercise, f"running your code's definitions failed: {output['setup_error']}"), notes
        )
    reference = vars(load_reference(exercise.week))
    cases = _parent_cases(exercise)
    expected = _parent_expected(exercise)
    outcomes = output.get("outcomes")
    if not isinstance(outcomes, list) or len(outcomes) != len(cases):
        return result_for_missing(
            exercise, "the grader got the wrong number of outputs back (did your code exit early?)"
        )
    try:
        result = grade(exercise, outcomes, cases, reference, answer_source=code, expected=expected)
    except Exception as exc:  # noqa: BLE001 - e.g. a dtype no comparison knows: a reason, never a traceback
        text = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
        return _with_notes(
            result_for_missing(
                exercise,
                f"the grader could not compare your function's outputs with the expected ones "
                f"({type(exc).__name__}{': ' + text if text else ''})",
            ),
            notes,
        )
    return _with_notes(result, notes)


def _with_notes(result: Result, notes: list[str]) -> Result:
    result.feedback.extend(notes)
    return result


# --------------------------------------------------------------------------------------------
# Child side
# --------------------------------------------------------------------------------------------

# audit events refused in the child, and why; the hook bakes them into constants of its own when it is
# installed (a submission that clears or edits this table changes nothing)
_BLOCKED_EVENTS: Mapping[str, str] = MappingProxyType(
    {
        "socket.connect": "network access",
        "socket.bind": "network access",
        "socket.sendto": "network access",
        "socket.getaddrinfo": "network access",
        "subprocess.Popen": "starting processes",
        "os.system": "starting processes",
        "os.exec": "starting processes",
        "os.posix_spawn": "starting processes",
        "os.spawn": "starting processes",
        "os.fork": "starting processes",
        "os.forkpty": "starting processes",
        "os.kill": "signalling processes",
        "os.killpg": "signalling processes",
        "signal.pthread_kill": "signalling processes",
        "ctypes.dlopen": "calling C libraries directly",
        "ctypes.dlsym": "calling C libraries directly",
        "ctypes.dlsym/handle": "calling C libraries directly",
        "ctypes.call_function": "calling C libraries directly",
        "os.symlink": "creating links",
        "os.link": "creating links",
        "os.remove": "deleting files",
        "os.rmdir": "deleting files",
        "os.rename": "moving files",
        "shutil.rmtree": "deleting files",
    }
)


def _within(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def _install_guard(workdir: Path) -> None:
    """An audit hook (cannot be removed once added) that refuses dangerous operations.

    A second layer only: Python's documentation is clear that audit hooks are not a sandbox
    (code can reach the OS without raising events). The boundary is :mod:`graders.isolation`.
    """
    solutions = os.path.realpath(Path(__file__).resolve().parent.parent / "solutions")
    scratch = os.path.realpath(workdir)
    # immutable copies held by the hook alone: nothing reachable from the module can change them
    blocked = frozenset(_BLOCKED_EVENTS)
    reasons = tuple(_BLOCKED_EVENTS.items())
    realpath, fsdecode, within = os.path.realpath, os.fsdecode, _within
    o_write = os.O_WRONLY | os.O_RDWR | os.O_CREAT
    scratch_only = frozenset({"os.remove", "os.rmdir", "os.rename", "shutil.rmtree"})

    def _only_scratch_paths(args: tuple) -> bool:
        """Every path argument lies in the scratch folder, and no directory descriptor redirects it."""
        paths = [a for a in args if isinstance(a, (str, bytes, os.PathLike))]
        others = [a for a in args if not isinstance(a, (str, bytes, os.PathLike))]
        if not paths or any(a is not None and a != -1 for a in others):
            return False
        return all(within(realpath(fsdecode(a)), scratch) for a in paths)

    def hook(event: str, args: tuple) -> None:
        if event in scratch_only and _only_scratch_paths(args):
            return  # a library's temporary file in the child's own scratch folder (tempfile, caches)
        if event in blocked:
            reason = next(r for e, r in reasons if e == event)
            raise PermissionError(f"the grader does not allow {reason} ({event})")
        if event == "open" and args and isinstance(args[0], (str, bytes, os.PathLike)):
            target = realpath(fsdecode(args[0]))  # symlinks resolved: no escape by a link
            mode = args[1] if len(args) > 1 and isinstance(args[1], str) else "r"
            flags = args[2] if len(args) > 2 and isinstance(args[2], int) else 0
            if within(target, solutions):
                raise PermissionError("the grader does not allow reading the reference solutions")
            writing = any(c in mode for c in "wax+") or flags & o_write
            if writing and not within(target, scratch):
                raise PermissionError(f"the grader does not allow writing files outside its scratch folder ({target})")

    sys.addaudithook(hook)


def preload_modules(exercise_ids: list[str]) -> list[str]:
    """The modules the weeks' released notebooks import (matplotlib, courselib, ...).

    The warm worker imports them once, so that each submission's child does not spend seconds
    re-importing them. Read from ``course/`` (what students start from), never from submissions.
    """
    import ast

    from graders.reference import released_notebook

    names: list[str] = []
    for week in sorted({i.split(".")[0] for i in exercise_ids}):
        path = released_notebook(week)
        try:
            code, _ = definitions_from_file(path)
            tree = ast.parse(code)
        except (OSError, SourceError, SyntaxError):
            continue
        for node in tree.body:
            if isinstance(node, ast.Import):
                names += [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.append(node.module)
    return sorted(set(names))


# The graders modules the worker and its children may import; any other ``graders`` module (the
# registry, the spec modules with their mistakes, the references, the release tooling) is absent
# from the sandbox, and an import of it gives a stub whose every attribute refuses to run.
CHILD_MODULES = frozenset(
    {
        "graders",
        "graders.core",
        "graders.guard",
        "graders.isolation",
        "graders.sandbox",
        "graders.source",
        "graders.transport",
    }
)
UNAVAILABLE = (
    "is not available to graded code: the grading sandbox holds no spec modules, known mistakes, fixtures' "
    "reference paths or solutions"
)


def _refusal(name: str) -> type:
    """A stand-in for ``name``: calling it, instantiating it or a subclass raises ``PermissionError``
    (a class, so that a submission that subclasses it still defines, and fails only where used)."""

    def refuse(*_args: Any, **_kwargs: Any) -> Any:
        raise PermissionError(f"`{name}` {UNAVAILABLE}")

    short = name.rsplit(".", 1)[-1]
    return type(short, (), {"__new__": refuse, "__qualname__": short, "__module__": name.rpartition(".")[0]})


class _UnavailableModule(types.ModuleType):
    """What ``import graders.<anything else>`` gives in the child: every attribute refuses to run."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return _refusal(f"{self.__name__}.{name}")


class _GradersOnlyWhatTheChildNeeds(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Import hook: ``graders.X`` outside :data:`CHILD_MODULES` → an :class:`_UnavailableModule`."""

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        if fullname.split(".")[0] != "graders" or fullname in CHILD_MODULES:
            return None
        return importlib.machinery.ModuleSpec(fullname, self, is_package=True)

    def create_module(self, spec: Any) -> types.ModuleType:
        module = _UnavailableModule(spec.name)
        module.__path__ = []
        return module

    def exec_module(self, module: types.ModuleType) -> None:
        return None


def _hide_other_graders_modules() -> None:
    """Install the import hook (first on ``sys.meta_path``) and drop what was imported already."""
    if not any(isinstance(f, _GradersOnlyWhatTheChildNeeds) for f in sys.meta_path):
        sys.meta_path.insert(0, _GradersOnlyWhatTheChildNeeds())
    for name in [n for n in sys.modules if n.split(".")[0] == "graders" and n not in CHILD_MODULES]:
        del sys.modules[name]
    package = sys.modules.get("graders")
    for attr, value in list(vars(package).items()) if package is not None else []:
        if isinstance(value, types.ModuleType) and value.__name__.split(".")[0] == "graders":
            if value.__name__ in CHILD_MODULES:
                continue
            delattr(package, attr)


def _library_refusal(name: str) -> Any:
    def refused(*_args: Any, **_kwargs: Any) -> Any:
        raise PermissionError(
            f"`{name}` computes the answer of an exercise of this week: the grader does not allow calling it from "
            "graded code; implement it yourself"
        )

    refused.__qualname__ = refused.__name__ = name.rsplit(".", 1)[-1]
    refused.__grader_refusal__ = name  # type: ignore[attr-defined]
    return refused


def _disable_library_functions(names: Sequence[str]) -> list[str]:
    """Replace each ``courselib`` function in ``names`` by a stub that raises ``PermissionError``,
    wherever a courselib module holds it (``from x import f`` aliases and default arguments too).
    Returns the names that could not be found (a course bug, reported by the tests)."""
    missing = []
    for dotted in names:
        module_name, _, attr = dotted.rpartition(".")
        try:
            original = getattr(importlib.import_module(module_name), attr)
        except Exception:  # noqa: BLE001 - reported
            missing.append(dotted)
            continue
        stub = _library_refusal(dotted)
        for module in list(sys.modules.values()):
            if not getattr(module, "__name__", "").startswith("courselib") or not isinstance(module, types.ModuleType):
                continue
            namespace = vars(module)
            for key, value in list(namespace.items()):
                if value is original:
                    namespace[key] = stub
                elif (
                    isinstance(value, types.FunctionType)
                    and value.__defaults__
                    and any(d is original for d in value.__defaults__)
                ):
                    value.__defaults__ = tuple(stub if d is original else d for d in value.__defaults__)
        del original
    return missing


def _prepare_child(payload_dir: Path | None, preload: list[str] | tuple[str, ...] = ()) -> dict[str, Any]:
    """What the warm worker loads once, before any student code: torch, the libraries the week's
    notebook imports, and the exercises and their cases as the parent sent them
    (``payload.json`` + ``payload.safetensors`` in ``payload_dir``; see :mod:`graders.payload`).
    The spec modules are never imported here."""
    import importlib

    import safetensors.torch  # noqa: F401 - imported before the guard, used by every job
    import torch

    from graders import source  # noqa: F401

    _hide_other_graders_modules()
    torch.set_num_threads(1)
    for name in preload:
        if name.split(".")[0] == "graders":
            continue  # the notebook's `from graders import check`: a stub in the child
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - a missing optional library only costs time later
            pass
    torch.set_num_threads(1)  # in case a library changed it
    _hide_other_graders_modules()  # in case a library imported one
    if payload_dir is None:
        return {"exercises": {}, "cases": {}}
    return load_payload(payload_dir)


def load_payload(payload_dir: Path) -> dict[str, Any]:
    """Exercises (light: settings, call adapter) and cases from the parent's payload files."""
    from safetensors.torch import load_file

    from graders.core import Case, Exercise
    from graders.transport import decode_input

    desc = json.loads((payload_dir / "payload.json").read_text(encoding="utf-8"))
    tensor_file = payload_dir / "payload.safetensors"
    tensors = load_file(str(tensor_file)) if tensor_file.exists() and tensor_file.stat().st_size else {}
    exercises: dict[str, Any] = {}
    cases: dict[str, list[Any]] = {}
    for item in desc["exercises"]:
        fixtures: dict[str, Any] = {"__name__": f"grader_fixtures.{item['id']}"}
        if item["source"]:
            # a file name under graders/: feedback never quotes these frames as the answer's
            exec(compile(item["source"], f"graders/fixtures/{item['id']}.py", "exec"), fixtures)  # noqa: S102
        settings = {k: decode_input(v, tensors, {}) for k, v in item["settings"].items()}
        items = [Case(**{k: decode_input(v, tensors, fixtures) for k, v in case.items()}) for case in item["cases"]]
        exercise = Exercise(**settings, make_cases=lambda items=items: list(items))
        if item["call"]:
            exercise.call = fixtures[item["call"]]
        exercises[item["id"]] = exercise
        cases[item["id"]] = items
        if item["call"] and items:  # what the adapter builds (a model: transformers' lazy imports, caches)
            run_case(exercise, _warm_up, items[0], 0)  # is built once here, before any student code
    return {"exercises": exercises, "cases": cases}


def _warm_up(*_args: Any, **_kwargs: Any) -> Any:
    raise RuntimeError("warm-up run of the exercise's adapter")


def _run_job(workdir: Path, state: dict[str, Any], audit_hook: bool = True) -> None:
    """Run the answer in ``workdir`` on the cases (in the isolated child; student code runs here)."""
    from safetensors.torch import save_file

    job = json.loads((workdir / "job.json").read_text(encoding="utf-8"))
    limits = job.get("limits", {})
    job.setdefault("setup_seconds", limits.get("setup_seconds", Limits.setup_seconds))
    job.setdefault("exercise_seconds", limits.get("exercise_seconds", Limits.exercise_seconds))
    missing = [i for i in job["exercises"] if i not in state["exercises"]]
    if missing:
        raise RuntimeError(f"the worker was not sent the exercises {missing}")
    exercises = [state["exercises"][i] for i in job["exercises"]]
    all_cases = state["cases"]
    code = (workdir / "answer.py").read_text(encoding="utf-8")
    _disable_library_functions(sorted({n for e in exercises for n in getattr(e, "forbidden_courselib", ())}))

    def alarm(_signum: int, _frame: Any) -> None:
        raise TimeoutError("stopped at its time limit: an infinite loop, or a far slower algorithm than needed?")

    signal.signal(signal.SIGALRM, alarm)
    if audit_hook:
        _install_guard(workdir)

    from graders.source import namespace_from_source

    # sealed before any submitted code runs (class bodies, decorators and default arguments run
    # when the definitions are loaded, below): a fingerprint of the measuring code, checked after
    # the definitions ran and after each exercise
    intact = guard.seal(exercises=exercises).broken
    checked = guard.checked
    setup_error = None
    namespace: dict[str, Any] = {}
    signal.alarm(job["setup_seconds"])
    try:
        namespace = namespace_from_source(code, forbidden=sorted({n for e in exercises for n in e.forbidden}))
    except BaseException as exc:  # noqa: BLE001 - a crash in student code is feedback
        setup_error = f"{type(exc).__name__}: {exc}"
    finally:
        signal.alarm(0)
    tampered = checked(intact) is not None

    for exercise in exercises:
        tensors: dict[str, Any] = {}
        records = []
        fn = namespace.get(exercise.function)
        if setup_error is None and fn is not None:
            outcomes: list[Outcome] = []
            cases = all_cases[exercise.id]
            signal.alarm(job["exercise_seconds"])  # one budget for all the cases of an exercise
            try:
                for index, case in enumerate(cases):
                    outcomes.append(run_case(exercise, fn, case, index))
                    if outcomes[-1].error_type == "TimeoutError":
                        break
            except TimeoutError as exc:  # raised outside the answer's own frames
                outcomes.append(Outcome(error_type="TimeoutError", error=str(exc)))
            finally:
                signal.alarm(0)
            if len(outcomes) < len(cases):
                outcomes += [
                    Outcome(error_type="TimeoutError", error="not run: the time for this exercise ran out")
                ] * (len(cases) - len(outcomes))
            tampered = tampered or checked(intact) is not None
            if tampered:  # whatever it measured was measured by patched code
                tensors = {}
                outcomes = [Outcome(error_type=guard.TAMPERED_ERROR, error=guard.TAMPERED)] * len(cases)
            records = [outcome_to_record(o, tensors) for o in outcomes]
        elif setup_error is None:
            setup_error = f"`{exercise.function}` is not defined after running your code"
        if tensors:
            save_file(tensors, str(workdir / f"{exercise.id}.safetensors"))
        (workdir / f"{exercise.id}.json").write_text(
            json.dumps({"outcomes": records, "setup_error": setup_error}), encoding="utf-8"
        )


if __name__ == "__main__":  # debugging aid: run a prepared job folder in this process, unisolated
    _folder = Path(sys.argv[1])
    _ids = json.loads((_folder / "job.json").read_text())["exercises"]
    _text, _tensors = worker_payload(_ids)
    (_folder / "payload.json").write_text(_text, encoding="utf-8")
    (_folder / "payload.safetensors").write_bytes(_tensors)
    _run_job(_folder, _prepare_child(_folder))
