"""Executing a week's solution notebook end to end, measuring wall time and peak memory.

Used by the test suite (every solution notebook runs in ``COURSE_QUICK=1`` mode) and by the
benchmark (full size, ``python -m benchmarks.run``).
"""

from __future__ import annotations

import os
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat
import psutil

from graders.reference import SOLUTIONS
from graders.release import source_notebook


@dataclass
class Execution:
    week: str
    quick: bool
    wall_seconds: float
    peak_memory_mb: float
    notebook: nbformat.NotebookNode


def _data_memory(process: psutil.Process) -> int:
    """Resident memory a process allocated itself (Linux: ``RssAnon`` + ``RssShmem``), in bytes.

    Mapped library code is left out: the CUDA build of torch maps gigabytes of libraries that a
    notebook never uses on a CPU, and plain RSS would charge them to the notebook. Elsewhere, RSS.
    """
    try:
        with open(f"/proc/{process.pid}/status", encoding="ascii") as f:
            fields = dict(line.split(":", 1) for line in f if ":" in line)
        return sum(int(fields[k].split()[0]) * 1024 for k in ("RssAnon", "RssShmem"))
    except (OSError, KeyError, ValueError):
        return process.memory_info().rss


class _PeakMemory:
    """Samples the memory the kernel (this process's children) allocated, in a thread."""

    def __init__(self, interval: float = 0.2) -> None:
        self.interval = interval
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        me = psutil.Process()
        while not self._stop.is_set():
            total = 0
            for child in me.children(recursive=True):
                try:
                    total += _data_memory(child)
                except psutil.Error:
                    pass
            self.peak = max(self.peak, total)
            self._stop.wait(self.interval)

    def __enter__(self) -> _PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def execute_week(week: str, quick: bool = True, timeout: int = 1800) -> Execution:
    """Run ``solutions/<week>`` as a notebook (solutions and hidden checks included).

    Raises ``nbclient.exceptions.CellExecutionError`` naming the failing cell.
    """
    from nbclient import NotebookClient

    nb = nbformat.from_dict(source_notebook(week))
    env_before = dict(os.environ)
    os.environ["COURSE_QUICK"] = "1" if quick else "0"
    os.environ.setdefault("MPLBACKEND", "Agg")
    os.environ.setdefault("COURSE_NO_PROGRESS", "1" if quick else "0")
    try:
        with tempfile.TemporaryDirectory(prefix=f"run-{week}-") as tmp:
            workdir = Path(tmp)
            for extra in (SOLUTIONS / week).iterdir():
                if extra.suffix != ".py" and not extra.name.startswith((".", "__")) and extra.is_file():
                    (workdir / extra.name).write_bytes(extra.read_bytes())
            client = NotebookClient(nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": tmp}})
            started = time.perf_counter()
            with _PeakMemory() as memory:
                client.execute()
            wall = time.perf_counter() - started
    finally:
        os.environ.clear()
        os.environ.update(env_before)
    return Execution(week, quick, wall, memory.peak / 2**20, nb)
