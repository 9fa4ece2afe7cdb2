"""Hostile submissions against the OS-level isolation (bubblewrap + a namespace per submission).

Most attacks here run with the audit hook switched off (``audit_hook=False``), so that what stops
them is the OS layer alone: each test fails if that layer is removed. A few control tests run the
same attack unisolated, against a harmless target, and check that it does succeed there (so a
passing test really means "isolation stopped it", not "the attack was broken").

The attacks signal "it worked" through the grade: the submitted function returns the right
answer only when its attack succeeded, so a pass means a breach.

Skipped only where bubblewrap cannot run; on CI (``CI`` set) that is a failure instead.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from graders.isolation import REPO_ROOT, probe
from graders.reference import solution_source
from graders.sandbox import Limits, check_file, shared_pool

# every attack here must be stopped by the OS layers alone: the parent's static guard, which would
# refuse most of them first, is switched off (tests/test_guard.py proves it)
pytestmark = pytest.mark.usefixtures("without_static_guard")

FAST = Limits(wall_seconds=60, exercise_seconds=10, setup_seconds=30, cpu_seconds=60, memory_bytes=2 * 2**30)
IDS = ["w00_orientation.log_softmax", "w00_orientation.masked_mean"]
REPORT = probe()
ISOLATED = REPORT.os_isolated
needs_bwrap = pytest.mark.skipif(not ISOLATED, reason=f"bubblewrap cannot run here: {REPORT.bwrap_error}")

CORRECT = (
    "    s = logits - logits.amax(dim=dim, keepdim=True)\n    return s - s.exp().sum(dim=dim, keepdim=True).log()\n"
)
GOOD_MEAN = (
    "def masked_mean(values, mask, dim=-1):\n"
    "    m = mask.to(values.dtype)\n"
    "    return (values * m).sum(dim) / m.sum(dim).clamp(min=1)\n"
)
LIBC = "import ctypes\nimport os\nimport torch\n\n\ndef libc():\n    return ctypes.CDLL(None, use_errno=True)\n\n"


def _breach_if(condition_code: str, helpers: str = "") -> str:
    """A submission whose log_softmax is right exactly when ``condition_code`` (an expression) is true."""
    return (
        LIBC
        + helpers
        + "\n\ndef log_softmax(logits, dim=-1):\n"
        + f"    if not ({condition_code}):\n        return logits * 0\n"
        + CORRECT
        + "\n"
        + GOOD_MEAN
    )


def _grade(tmp_path: Path, code: str, isolation: str = "bwrap", audit_hook: bool = False):
    path = tmp_path / f"answer-{uuid.uuid4().hex[:6]}.py"
    path.write_text(code, encoding="utf-8")
    return {r.exercise: r for r in check_file(path, IDS, FAST, isolation=isolation, audit_hook=audit_hook)}


LIBC_OPEN = (
    "def libc_open(path, flags):\n"
    "    fd = libc().open(path.encode(), flags, 0o644)\n"
    "    if fd >= 0:\n"
    "        libc().write(fd, b'pwned', 5)\n"
    "        libc().close(fd)\n"
    "    return fd >= 0\n"
)
O_RDONLY, O_WRONLY_CREAT = os.O_RDONLY, os.O_WRONLY | os.O_CREAT


def test_ci_runs_with_os_isolation():
    if not ISOLATED and os.environ.get("CI"):
        pytest.fail("CI must run the sandbox under bubblewrap:\n" + "\n".join(REPORT.lines()))
    if not ISOLATED:
        pytest.skip(f"bubblewrap cannot run here: {REPORT.bwrap_error}")
    assert REPORT.per_job_namespaces, REPORT.lines()


@needs_bwrap
def test_libc_cannot_read_the_solutions(tmp_path):
    target = str(solution_source("w00_orientation"))
    results = _grade(tmp_path, _breach_if(f"libc_open({target!r}, {O_RDONLY})", LIBC_OPEN))
    assert not results[IDS[0]].passed, "the child opened solutions/ through libc"
    assert results[IDS[1]].passed, results[IDS[1]].feedback


@needs_bwrap
def test_libc_cannot_create_files_in_the_repository(tmp_path):
    target = REPO_ROOT / "graders" / f"pwned-{uuid.uuid4().hex[:8]}.py"
    try:
        results = _grade(tmp_path, _breach_if(f"libc_open({str(target)!r}, {O_WRONLY_CREAT})", LIBC_OPEN))
        assert not target.exists(), "the child created a file inside graders/"
        assert not results[IDS[0]].passed
        assert results[IDS[1]].passed, results[IDS[1]].feedback
    finally:
        target.unlink(missing_ok=True)


@pytest.fixture
def build_secrets():
    """Another student's submission and a gradebook, where nbgrader keeps them (under build/)."""
    folder = REPO_ROOT / "build" / f".isolation-test-{uuid.uuid4().hex[:8]}"
    other = folder / "submitted" / "bob" / "w00_orientation" / "w00_orientation.ipynb"
    other.parent.mkdir(parents=True)
    other.write_text('{"secret": "bob\'s answers"}')
    gradebook = folder / "gradebook.db"
    gradebook.write_bytes(b"SQLite format 3\x00 original")
    yield other, gradebook
    import shutil

    shutil.rmtree(folder, ignore_errors=True)


@needs_bwrap
def test_other_submissions_and_the_gradebook_are_out_of_reach(tmp_path, build_secrets):
    other, gradebook = build_secrets
    for flags, target in ((O_RDONLY, other), (O_RDONLY, gradebook), (os.O_WRONLY, gradebook)):
        results = _grade(tmp_path, _breach_if(f"libc_open({str(target)!r}, {flags})", LIBC_OPEN))
        assert not results[IDS[0]].passed, f"the child opened {target} (flags {flags})"
    assert gradebook.read_bytes() == b"SQLite format 3\x00 original"


def test_control_the_same_attack_works_without_isolation(tmp_path):
    """Unisolated and without the audit hook the read attack succeeds: the tests above can fail."""
    secret = tmp_path / "secret.txt"
    secret.write_text("answers")
    results = _grade(tmp_path, _breach_if(f"libc_open({str(secret)!r}, {O_RDONLY})", LIBC_OPEN), isolation="none")
    assert results[IDS[0]].passed, results[IDS[0]].feedback


def test_audit_hook_alone_refuses_libc(tmp_path):
    """The second layer on its own (no OS isolation) refuses ctypes' C calls."""
    secret = tmp_path / "secret.txt"
    secret.write_text("answers")
    code = _breach_if(f"libc_open({str(secret)!r}, {O_RDONLY})", LIBC_OPEN)
    results = _grade(tmp_path, code, isolation="none", audit_hook=True)
    assert not results[IDS[0]].passed
    assert "C libraries" in " ".join(results[IDS[0]].feedback), results[IDS[0]].feedback


@needs_bwrap
@pytest.mark.parametrize("audit_hook", [False, True])
def test_symlink_out_of_the_scratch_folder(tmp_path, audit_hook):
    target = str(solution_source("w00_orientation"))
    helper = (
        "def through_link():\n"
        "    try:\n"
        f"        os.symlink({target!r}, 'link.py')\n"
        "        with open('link.py') as f:\n"
        "            return len(f.read()) > 0\n"
        "    except OSError:\n"
        "        return False\n"
    )
    results = _grade(tmp_path, _breach_if("through_link()", helper), audit_hook=audit_hook)
    assert not results[IDS[0]].passed, "a symlink in the scratch folder reached solutions/"


@pytest.fixture
def bystander():
    proc = subprocess.Popen(["sleep", "120"])
    yield proc
    proc.kill()
    proc.wait()


@needs_bwrap
def test_signals_cannot_reach_the_parent_or_other_processes(tmp_path, bystander):
    helper = (
        "def kill_everything():\n"
        "    libc().kill(os.getppid(), 9)\n"
        f"    libc().kill({bystander.pid}, 9)\n"
        f"    libc().kill({os.getpid()}, 9)\n"
        "    libc().kill(-1, 9)\n"
        "    return True\n"
    )
    results = _grade(tmp_path, _breach_if("kill_everything()", helper))
    time.sleep(0.2)
    assert bystander.poll() is None, "the child killed a process outside its sandbox"
    assert results[IDS[1]].passed, results[IDS[1]].feedback  # the rest of the submission was graded
    again = _grade(tmp_path, LIBC + "\n\ndef log_softmax(logits, dim=-1):\n" + CORRECT)
    assert again[IDS[0]].passed, again[IDS[0]].feedback  # and the warm worker still grades


def test_control_signals_reach_a_bystander_without_isolation(tmp_path, bystander):
    helper = f"def kill_it():\n    return libc().kill({bystander.pid}, 9) == 0\n"
    _grade(tmp_path, _breach_if("kill_it()", helper), isolation="none")
    bystander.wait(timeout=10)
    assert bystander.returncode == -signal.SIGKILL


def _descendants(pid: int) -> list[int]:
    out, stack = [], [pid]
    while stack:
        p = stack.pop()
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    kids = [int(c) for c in f.read().split()]
                out += kids
                stack += kids
        except OSError:
            continue
    return out


@needs_bwrap
def test_fork_bomb_is_contained_and_cleaned_up(tmp_path):
    pool = shared_pool(IDS, "bwrap")
    _grade(tmp_path, LIBC + "\n\ndef log_softmax(logits, dim=-1):\n" + CORRECT)  # the worker is warm
    (worker,) = pool._all
    before = len(_descendants(worker.proc.pid))
    helper = (
        "def bomb():\n"
        "    for _ in range(10000):\n"
        "        try:\n"
        "            pid = os.fork()\n"
        "        except OSError:\n"
        "            return True\n"
        "        if pid == 0:\n"
        "            while True:\n"
        "                import time\n"
        "                time.sleep(1)  # spinning would only make the test slow on 2 cores\n"
        "    return True\n"
    )
    started = time.monotonic()
    results = _grade(tmp_path, _breach_if("bomb()", helper))
    assert time.monotonic() - started < FAST.wall_seconds + 30
    assert results[IDS[1]].passed, results[IDS[1]].feedback
    time.sleep(0.5)
    assert len(_descendants(worker.proc.pid)) == before, "processes of the bomb outlived the submission"


@needs_bwrap
def test_memory_hog_is_stopped_without_the_address_space_limit(tmp_path):
    code = (
        "import torch\n\ndef log_softmax(logits, dim=-1):\n"
        "    chunks = [torch.ones(2**28) for _ in range(16)]  # 1 GiB each, touched\n"
        "    return logits\n\n" + GOOD_MEAN
    )
    path = tmp_path / "hog.py"
    path.write_text(code, encoding="utf-8")
    limits = Limits(wall_seconds=120, exercise_seconds=60, setup_seconds=30, cpu_seconds=60, memory_bytes=2 * 2**30)
    results = {r.exercise: r for r in check_file(path, IDS, limits, isolation="bwrap")}
    assert not results[IDS[0]].passed
    assert "memory" in " ".join(results[IDS[0]].feedback).lower(), results[IDS[0]].feedback
    assert results[IDS[1]].passed, results[IDS[1]].feedback


@needs_bwrap
def test_worker_dies_with_its_parent(tmp_path):
    script = (
        "import sys, time\n"
        "from graders.sandbox import shared_pool\n"
        f"pool = shared_pool({IDS!r}, 'bwrap')\n"
        "pool.warm_up()\n"
        "print(pool._all[0].proc.pid, flush=True)\n"
        "time.sleep(600)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, cwd=REPO_ROOT)
    try:
        bwrap_pid = int(proc.stdout.readline())
        tree = [bwrap_pid, *_descendants(bwrap_pid)]
        assert len(tree) >= 2
        proc.kill()
        proc.wait()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(Path(f"/proc/{p}").exists() for p in tree):
            time.sleep(0.1)
        alive = [p for p in tree if Path(f"/proc/{p}/status").exists() and "zombie" not in _state(p)]
        assert not alive, f"sandbox processes outlived the grader: {alive}"
    finally:
        proc.kill()


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/status").read_text().split("State:")[1].split("\n")[0]
    except (OSError, IndexError):
        return "zombie"
