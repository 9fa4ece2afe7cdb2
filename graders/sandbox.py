"""Authoritative grading: the student's code runs in a locked-down child process.

The parent (trusted) extracts the definitions from the submitted file, starts a child with limits
on CPU time, memory, file size, processes and wall clock, without network (a fresh network
namespace where the OS allows it, and an audit hook that refuses sockets, subprocesses and
writes outside its scratch folder in any case). The child runs the student's functions on the
exercise's cases and writes the outputs as safetensors plus JSON: formats that cannot execute
code when read. The parent then compares them with the reference, which only ever runs here.

Run as ``python -m graders.sandbox WORKDIR`` it is the child; nobody calls that by hand.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from graders.core import Outcome, Result, grade, result_for_missing, run_case
from graders.registry import get_exercise
from graders.source import SourceError, definitions_from_file
from graders.transport import outcome_from_record, outcome_to_record

MAX_RESULT_BYTES = 256 * 2**20


@dataclass(frozen=True)
class Limits:
    """Resource limits for one grading child process."""

    wall_seconds: float = 300.0  # the whole child, all exercises
    exercise_seconds: int = 60  # all the cases of one exercise (an alarm inside the child)
    setup_seconds: int = 120  # running the answer's imports and definitions (transformers is slow to import)
    cpu_seconds: int = 600
    memory_bytes: int = 4 * 2**30
    file_bytes: int = 512 * 2**20
    processes: int = 512  # threads count too; root ignores this limit


# --------------------------------------------------------------------------------------------
# Parent side
# --------------------------------------------------------------------------------------------


def _network_isolation() -> list[str]:
    """``unshare --net`` when this machine allows it (a fresh namespace has no network)."""
    unshare = shutil.which("unshare")
    if unshare is None:
        return []
    try:
        ok = subprocess.run([unshare, "--net", "true"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.SubprocessError):
        ok = False
    return [unshare, "--net"] if ok else []


def _limit_resources(limits: Limits) -> None:  # runs in the child, before exec
    import resource

    os.setsid()
    for name, value in (
        ("RLIMIT_CPU", limits.cpu_seconds),
        ("RLIMIT_AS", limits.memory_bytes),
        ("RLIMIT_FSIZE", limits.file_bytes),
        ("RLIMIT_NPROC", limits.processes),
        ("RLIMIT_CORE", 0),
    ):
        if hasattr(resource, name):
            try:
                resource.setrlimit(getattr(resource, name), (value, value))
            except (ValueError, OSError):
                pass


def check_file(path: Path, exercise_ids: list[str], limits: Limits | None = None) -> list[Result]:
    """Grade the answers in ``path`` (``.py`` or ``.ipynb``) to the given exercises.

    Raises ``FileNotFoundError`` or ``SourceError`` only when the file cannot be read at all;
    everything the code does wrong becomes feedback in the results.
    """
    limits = limits or Limits()
    exercises = [get_exercise(i) for i in exercise_ids]
    if not path.exists():
        raise FileNotFoundError(f"no such file: {path}")
    if path.suffix not in (".py", ".ipynb"):
        raise SourceError(f"{path.name}: expected a .py file or a .ipynb notebook")
    try:
        code, warnings = definitions_from_file(path)
    except SourceError as exc:
        if not path.is_file() or not os.access(path, os.R_OK):
            raise
        return [result_for_missing(e, str(exc)) for e in exercises]

    notes = [f"note: {w}" for w in warnings]
    import ast

    defined = {n.name for n in ast.parse(code).body if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
    results: dict[str, Result] = {}
    to_run = []
    for exercise in exercises:
        if exercise.function not in defined:
            results[exercise.id] = result_for_missing(
                exercise,
                f"no definition of `{exercise.function}` found in {path.name}. Define it at the top level of a "
                "code cell with exactly this name." + (" " + " ".join(notes) if notes else ""),
            )
        else:
            to_run.append(exercise)

    if to_run:
        outputs = _run_child(code, [e.id for e in to_run], limits)
        for exercise in to_run:
            results[exercise.id] = _grade_child_output(exercise, outputs.get(exercise.id), code, notes)
    return [results[e.id] for e in exercises]


def _run_child(code: str, exercise_ids: list[str], limits: Limits) -> dict[str, Any]:
    from safetensors.torch import load_file

    workdir = Path(tempfile.mkdtemp(prefix="grade-"))
    try:
        (workdir / "answer.py").write_text(code, encoding="utf-8")
        (workdir / "job.json").write_text(
            json.dumps(
                {
                    "exercises": exercise_ids,
                    "exercise_seconds": limits.exercise_seconds,
                    "setup_seconds": limits.setup_seconds,
                }
            ),
            encoding="utf-8",
        )
        repo_root = str(Path(__file__).resolve().parent.parent)
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(workdir),
            "PYTHONPATH": repo_root,
            "MPLCONFIGDIR": str(workdir),
            "OMP_NUM_THREADS": "1",
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONWARNINGS": "ignore",
        }
        command = [*_network_isolation(), sys.executable, "-m", "graders.sandbox", str(workdir)]
        started = time.monotonic()
        proc = subprocess.Popen(
            command,
            cwd=workdir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            preexec_fn=lambda: _limit_resources(limits),  # noqa: PLW1509 - limits must be set pre-exec
        )
        try:
            _out, err = proc.communicate(timeout=limits.wall_seconds)
            timed_out = False
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            _out, err = proc.communicate()
            timed_out = True
        elapsed = time.monotonic() - started

        outputs: dict[str, Any] = {}
        for exercise_id in exercise_ids:
            result_json = workdir / f"{exercise_id}.json"
            tensors_file = workdir / f"{exercise_id}.safetensors"
            if not result_json.exists():
                continue
            if result_json.stat().st_size > MAX_RESULT_BYTES or (
                tensors_file.exists() and tensors_file.stat().st_size > MAX_RESULT_BYTES
            ):
                outputs[exercise_id] = {"fatal": "your function's outputs were far larger than expected"}
                continue
            try:
                desc = json.loads(result_json.read_text(encoding="utf-8"))
                tensors = load_file(str(tensors_file)) if tensors_file.exists() else {}
                outputs[exercise_id] = {
                    "outcomes": [outcome_from_record(o, tensors) for o in desc["outcomes"]],
                    "setup_error": desc.get("setup_error"),
                }
            except (ValueError, KeyError, TypeError, OSError) as exc:
                outputs[exercise_id] = {"fatal": f"the grader could not read your function's outputs ({exc})"}
        if timed_out or proc.returncode != 0:
            reason = _death_reason(proc.returncode, timed_out, elapsed, limits, err.decode("utf-8", "replace"))
            for exercise_id in exercise_ids:
                outputs.setdefault(exercise_id, {"fatal": reason})
        return outputs
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _death_reason(returncode: int | None, timed_out: bool, elapsed: float, limits: Limits, stderr: str) -> str:
    if timed_out:
        return (
            f"your code did not finish within {limits.wall_seconds:.0f} s of wall-clock time and was stopped "
            "(an infinite loop, or a far slower algorithm than needed?)"
        )
    if returncode is not None and returncode < 0:
        sig = -returncode
        if sig in (signal.SIGXCPU, signal.SIGKILL):
            return f"your code used more than {limits.cpu_seconds} s of CPU time and was stopped"
        return f"the process running your code was killed by signal {sig}"
    tail = stderr.strip().splitlines()[-1:] if stderr.strip() else []
    if any("MemoryError" in line or "can't allocate memory" in line for line in tail):
        return f"your code used more than {limits.memory_bytes // 2**30} GiB of memory and was stopped"
    return "the process running your code crashed" + (f": {tail[0][:300]}" if tail else "")


def _grade_child_output(exercise: Any, output: dict[str, Any] | None, code: str, notes: list[str]) -> Result:
    from graders.reference import load_reference

    if output is None:
        return result_for_missing(exercise, "the grader got no output for this exercise (the process died before it)")
    if "fatal" in output:
        return result_for_missing(exercise, output["fatal"])
    if output.get("setup_error"):
        return result_for_missing(exercise, f"running your code's definitions failed: {output['setup_error']}")
    reference = vars(load_reference(exercise.week))
    cases = exercise.cases()
    outcomes = output["outcomes"]
    if len(outcomes) != len(cases):
        return result_for_missing(
            exercise, "the grader got the wrong number of outputs back (did your code exit early?)"
        )
    result = grade(exercise, outcomes, cases, reference, answer_source=code)
    result.feedback.extend(notes)
    return result


# --------------------------------------------------------------------------------------------
# Child side
# --------------------------------------------------------------------------------------------

_BLOCKED_EVENTS = {
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
    "os.remove": "deleting files",
    "os.rmdir": "deleting files",
    "os.rename": "moving files",
    "shutil.rmtree": "deleting files",
}


def _install_guard(workdir: Path) -> None:
    """An audit hook (cannot be removed once added) that refuses dangerous operations."""
    solutions = str(Path(__file__).resolve().parent.parent / "solutions")
    scratch = str(workdir)

    def hook(event: str, args: tuple) -> None:
        if event in _BLOCKED_EVENTS:
            raise PermissionError(f"the grader does not allow {_BLOCKED_EVENTS[event]} ({event})")
        if event == "open" and args and isinstance(args[0], (str, bytes, os.PathLike)):
            target = os.path.abspath(os.fsdecode(args[0]))
            mode = args[1] if len(args) > 1 and isinstance(args[1], str) else "r"
            flags = args[2] if len(args) > 2 and isinstance(args[2], int) else 0
            if target.startswith(solutions):
                raise PermissionError("the grader does not allow reading the reference solutions")
            writing = any(c in mode for c in "wax+") or flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT)
            if writing and not target.startswith(scratch):
                raise PermissionError(f"the grader does not allow writing files outside its scratch folder ({target})")

    sys.addaudithook(hook)


def _child(workdir: Path) -> None:
    import torch
    from safetensors.torch import save_file

    import graders.registry  # imports every week's cases before the guard goes up

    torch.set_num_threads(1)
    job = json.loads((workdir / "job.json").read_text(encoding="utf-8"))
    exercises = [graders.registry.get_exercise(i) for i in job["exercises"]]
    all_cases = {e.id: e.cases() for e in exercises}
    code = (workdir / "answer.py").read_text(encoding="utf-8")

    def alarm(_signum: int, _frame: Any) -> None:
        raise TimeoutError("stopped at its time limit: an infinite loop, or a far slower algorithm than needed?")

    signal.signal(signal.SIGALRM, alarm)
    _install_guard(workdir)

    from graders.source import namespace_from_source

    setup_error = None
    namespace: dict[str, Any] = {}
    signal.alarm(job["setup_seconds"])
    try:
        namespace = namespace_from_source(code)
    except BaseException as exc:  # noqa: BLE001 - a crash in student code is feedback
        setup_error = f"{type(exc).__name__}: {exc}"
    finally:
        signal.alarm(0)

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
            records = [outcome_to_record(o, tensors) for o in outcomes]
        elif setup_error is None:
            setup_error = f"`{exercise.function}` is not defined after running your code"
        if tensors:
            save_file(tensors, str(workdir / f"{exercise.id}.safetensors"))
        (workdir / f"{exercise.id}.json").write_text(
            json.dumps({"outcomes": records, "setup_error": setup_error}), encoding="utf-8"
        )


if __name__ == "__main__":
    _child(Path(sys.argv[1]))
