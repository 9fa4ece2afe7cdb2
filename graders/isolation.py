"""OS-level isolation of the grading child, and the warm worker that forks one child per submission.

Layers, outermost first (``graders doctor`` says which are active on this machine):

1. **bubblewrap** (``bwrap``): the worker runs in its own mount, PID, network, IPC and UTS
   namespaces, as an unprivileged uid (65534), with a read-only view of only what grading needs
   (the system's ``/usr``, the Python installation and virtual environment with its
   site-packages, the harness's own modules in ``graders/`` (:data:`CHILD_FILES`), ``courselib/``
   and ``datasets/``). The spec modules (``graders/weeks/``), the registry, the references,
   ``solutions/``, ``tests/``, ``build/`` (nbgrader's source, submissions, gradebook), other
   folders on the grader's ``sys.path``, the rest of the home directory and the network are not
   there.
   ``--die-with-parent``: it dies with the grading process.
2. **a fresh namespace per submission**: the warm worker (torch and the cases the parent sent
   already loaded) forks a child per submission, which enters a new user, PID, mount, network and IPC
   namespace of its own, gets a private size-limited scratch folder (a new tmpfs) and a fresh
   ``/proc``, hides the worker's job folder, drops every capability and sets ``no_new_privs``.
   It cannot see or signal the worker, the grading process or another submission; when it ends,
   the kernel ends everything it started.
3. **resource limits** on that child: CPU time, memory (``RLIMIT_DATA``, which counts what a
   program allocates but not the address space that CUDA builds of torch reserve, plus a
   resident-memory watchdog), file size, processes; and a wall clock.
4. **the audit hook** of :mod:`graders.sandbox` (no sockets, subprocesses, signals, C libraries
   through ``ctypes``, writes outside the scratch folder, reads of ``solutions/``): a second layer,
   and the only one where bubblewrap cannot run (it is not a security boundary on its own).

This module imports only the standard library at the top: it is also the worker's entry point,
run by path (``python -P graders/isolation.py SHARE``), so that a probe does not import torch.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import os
import select
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
SANDBOX_UID = 65534  # "nobody"
SCRATCH = "/tmp/work"  # the child's private scratch folder (a tmpfs of its own) under bubblewrap
MODES = ("auto", "bwrap", "none")
PAYLOAD_FILES = ("payload.json", "payload.safetensors")  # cases and settings, from the parent (graders.payload)
READY_TIMEOUT = 600.0  # the worker imports torch and builds every case of the week before its first job


class IsolationUnavailable(RuntimeError):
    """OS-level isolation was required and this machine cannot provide it."""


# --------------------------------------------------------------------------------------------
# Linux primitives through libc (the worker and its children run these on themselves)
# --------------------------------------------------------------------------------------------

CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REC = 16384
MS_PRIVATE = 1 << 18
PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_CAPBSET_DROP = 24
PR_SET_NO_NEW_PRIVS = 38
_LINUX_CAPABILITY_VERSION_3 = 0x20080522

_libc: Any = None


def _c() -> Any:
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
    return _libc


def _check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def prctl(option: int, arg: int) -> None:
    _check(_c().prctl(option, ctypes.c_ulong(arg), ctypes.c_ulong(0), ctypes.c_ulong(0), ctypes.c_ulong(0)), "prctl")


def die_with_parent(parent: int | None) -> None:
    """SIGKILL this process when its parent dies (and now, if that has already happened).

    ``parent=None``: the parent is outside this process's PID namespace (``getppid()`` is 0).
    """
    prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if parent is not None and os.getppid() != parent:
        os._exit(1)


def unshare_namespaces(flags: int) -> None:
    """Enter new namespaces; with ``CLONE_NEWUSER``, map this process's uid and gid to themselves."""
    uid, gid = os.getuid(), os.getgid()
    _check(_c().unshare(flags), "unshare")
    if flags & CLONE_NEWUSER:
        prctl(PR_SET_DUMPABLE, 1)  # /proc/self/*_map belong to root while the process is not dumpable
        try:
            with open("/proc/self/setgroups", "w") as f:
                f.write("deny")
            with open("/proc/self/uid_map", "w") as f:
                f.write(f"{uid} {uid} 1")
            with open("/proc/self/gid_map", "w") as f:
                f.write(f"{gid} {gid} 1")
        finally:
            prctl(PR_SET_DUMPABLE, 0)


def mount(source: str | None, target: str, fstype: str | None, flags: int = 0, data: str | None = None) -> None:
    enc = lambda s: None if s is None else s.encode()  # noqa: E731
    _check(_c().mount(enc(source), enc(target), enc(fstype), ctypes.c_ulong(flags), enc(data)), f"mount {target}")


def drop_capabilities() -> None:
    """No capabilities left, none can come back (``no_new_privs``), none in the bounding set."""
    for cap in range(64):
        if _c().prctl(PR_CAPBSET_DROP, ctypes.c_ulong(cap), 0, 0, 0) != 0 and ctypes.get_errno() == 22:
            break  # EINVAL: past the last capability this kernel knows
    header = (ctypes.c_uint32 * 2)(_LINUX_CAPABILITY_VERSION_3, 0)
    data = (ctypes.c_uint32 * 6)()
    _check(_c().capset(header, data), "capset")
    prctl(PR_SET_NO_NEW_PRIVS, 1)


def drop_to_uid(uid: int) -> None:
    """Root → ``uid`` for good (used inside bubblewrap when the grader itself runs as root)."""
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)
    prctl(PR_SET_NO_NEW_PRIVS, 1)


def _tree(pid: int) -> list[int]:
    """``pid`` and its descendants."""
    out, stack = [], [pid]
    while stack:
        p = stack.pop()
        if p in out:
            continue
        out.append(p)
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    stack.extend(int(c) for c in f.read().split())
        except (OSError, ValueError):
            continue
    return out


def _rss_bytes(pid: int) -> int:
    """Resident memory of ``pid`` alone."""
    try:
        with open(f"/proc/{pid}/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def _tree_memory(pid: int) -> int:
    """Memory of ``pid`` and its descendants, pages shared between them counted once (PSS)."""
    total = 0
    for p in _tree(pid):
        try:
            with open(f"/proc/{p}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1]) * 1024
                        break
        except (OSError, ValueError, IndexError):
            total += _rss_bytes(p)
    return total


def _vm_data_bytes() -> int:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmData:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return 0


# --------------------------------------------------------------------------------------------
# Worker side (runs in the sandbox): prepare once, then fork an isolated child per job
# --------------------------------------------------------------------------------------------

JOB_NAMESPACES = CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS


def _nested_probe() -> str:
    """'' when a forked child can enter fresh namespaces and mount its scratch; else why not."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        message = ""
        try:
            unshare_namespaces(JOB_NAMESPACES)
            mount(None, "/", None, MS_REC | MS_PRIVATE)
            os.makedirs(SCRATCH, exist_ok=True)
            mount("tmpfs", SCRATCH, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=0700")
        except BaseException as exc:  # noqa: BLE001 - reported to the parent
            message = str(exc) or type(exc).__name__
        os.write(w, message.encode()[:500] or b"ok")
        os._exit(0)
    os.close(w)
    message = os.read(r, 1000).decode()
    os.close(r)
    os.waitpid(pid, 0)
    return "" if message == "ok" else message or "the probe died"


def _probe_report(share: Path) -> dict[str, Any]:
    """What the sandbox looks like from inside (``graders doctor``); imports nothing heavy."""
    import socket

    report: dict[str, Any] = {"uid": os.getuid(), "pid": os.getpid()}
    for name in ("solutions", "tests", "build"):
        try:
            report[f"sees_{name}"] = (REPO_ROOT / name).exists()
        except OSError:
            report[f"sees_{name}"] = True  # there, but unreadable: still not what the sandbox should look like
    try:  # the spec modules (their mistakes' helpers default to the right answer), registry, references
        report["sees_specs"] = sorted(os.listdir(REPO_ROOT / "graders")) != sorted(CHILD_FILES)
    except OSError:
        report["sees_specs"] = True
    try:
        probe = REPO_ROOT / "graders" / f".write-probe-{os.getpid()}"
        probe.write_text("x")
        probe.unlink()
        report["repo_writable"] = True
    except OSError:
        report["repo_writable"] = False
    try:
        with open("/proc/net/dev") as f:
            report["interfaces"] = sorted(line.split(":")[0].strip() for line in f.readlines()[2:])
    except OSError:
        report["interfaces"] = []
    try:
        socket.create_connection(("1.1.1.1", 53), timeout=2).close()
        report["network"] = True
    except OSError:
        report["network"] = False
    report["nested_error"] = _nested_probe() if sys.platform.startswith("linux") else "not Linux"
    return report


def _write_status(dir_fd: int | None, folder: Path, status: dict[str, Any]) -> None:
    data = json.dumps(status).encode()
    if dir_fd is None:  # unisolated: the child could write here too; whatever it left is replaced
        try:
            os.unlink(folder / "status.json")
        except OSError:
            pass
        fd = os.open(folder / "status.json", os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    else:
        fd = os.open("status.json", os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o644, dir_fd=dir_fd)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def open_regular(path: str | Path, dir_fd: int | None = None) -> int | None:
    """A read-only descriptor on ``path`` when it is a regular file, else None; never blocks.

    ``O_NOFOLLOW``: not through a link; ``O_NONBLOCK``: a FIFO put in a result file's place does
    not hang the caller; ``fstat``: the object actually opened is checked, not a name.
    """
    import stat

    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=dir_fd)
    except OSError:
        return None
    try:
        if stat.S_ISREG(os.fstat(fd).st_mode):
            return fd
    except OSError:
        pass
    os.close(fd)
    return None


def read_regular(path: str | Path, limit: int, dir_fd: int | None = None) -> bytes | None:
    """The bytes of a regular file of at most ``limit`` bytes; None when it is missing, not a
    regular file or larger (never blocks, never reads more than ``limit + 1`` bytes)."""
    fd = open_regular(path, dir_fd)
    if fd is None:
        return None
    try:
        if os.fstat(fd).st_size > limit:
            return None
        chunks, total = [], 0
        while total <= limit:
            chunk = os.read(fd, min(1 << 20, limit + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
        return None if total > limit else b"".join(chunks)
    except OSError:
        return None
    finally:
        os.close(fd)


def _copy_out(dir_fd: int, names: list[str], limit: int) -> list[str]:
    """Copy the child's result files from its scratch to the job folder (regular files only,
    opened without following links or blocking, at most ``limit`` bytes each); the names of
    those left out for their size."""
    too_large = []
    for name in names:
        fd_in = open_regular(os.path.join(SCRATCH, name))
        if fd_in is None:
            continue
        try:
            if os.fstat(fd_in).st_size > limit:
                too_large.append(name)
                continue
            fd_out = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644, dir_fd=dir_fd)
            try:
                copied = 0
                while copied <= limit and (chunk := os.read(fd_in, 1 << 20)):
                    os.write(fd_out, chunk)
                    copied += len(chunk)
            finally:
                os.close(fd_out)
        except OSError:
            continue
        finally:
            os.close(fd_in)
    return too_large


OUTPUT_KEEP = 32 * 1024  # bytes of the child's stdout/stderr kept at each end (the rest is counted, not kept)


class _OutputTail:
    """The child's stdout and stderr, drained from a pipe: the first and last ``OUTPUT_KEEP`` bytes.

    A pipe is not a file: printing a million lines neither hits the file-size limit nor fills a
    disk, and a student cannot replace it with a FIFO or a link.
    """

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.head = bytearray()
        self.tail = bytearray()
        self.total = 0
        os.set_blocking(fd, False)

    def drain(self, budget: int = 64 * 2**20) -> None:
        """Read what is there now (at most ``budget`` bytes, so the watchdog keeps its pace)."""
        read = 0
        while self.fd >= 0 and read < budget:
            try:
                chunk = os.read(self.fd, 1 << 16)
            except BlockingIOError:
                return
            except OSError:
                chunk = b""
            if not chunk:
                os.close(self.fd)
                self.fd = -1
                return
            read += len(chunk)
            self.total += len(chunk)
            room = OUTPUT_KEEP - len(self.head)
            if room > 0:
                self.head += chunk[:room]
                chunk = chunk[room:]
            if chunk:
                self.tail += chunk
                if len(self.tail) > OUTPUT_KEEP:
                    del self.tail[: len(self.tail) - OUTPUT_KEEP]

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def text(self) -> str:
        """Head and tail, with a note in between when output was left out."""
        skipped = self.total - len(self.head) - len(self.tail)
        middle = f"\n[... {skipped} bytes of output left out ...]\n" if skipped > 0 else ""
        return bytes(self.head).decode("utf-8", "replace") + middle + bytes(self.tail).decode("utf-8", "replace")


def private_tmp_possible() -> bool:
    """Whether a private tmpfs can cover ``/tmp``: not when the repository or the Python
    installation lies under it (a checkout in /tmp), which the child must still see; the child
    then gets a size-limited tmpfs for its scratch folder only."""
    paths = [REPO_ROOT, Path(sys.prefix), Path(sys.base_prefix), Path(sys.executable).resolve().parent]
    return not any(p.resolve().is_relative_to("/tmp") for p in paths)


def _private_tmp(size: int) -> None:
    """A fresh, size-limited tmpfs over ``/tmp`` (and ``/dev/shm``) in this mount namespace.

    The worker's own ``/tmp`` (and the share with other jobs' folders, which lies under it) is
    hidden from the child; whatever the child writes there counts against ``size`` and
    disappears with it.
    """
    if not private_tmp_possible():  # the repository or Python lies under /tmp: keep it visible
        os.makedirs(SCRATCH, exist_ok=True)
        mount("tmpfs", SCRATCH, "tmpfs", MS_NOSUID | MS_NODEV, f"size={size},mode=0700")
        return
    mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, f"size={size},mode=0700")
    if os.path.isdir("/dev/shm"):
        try:
            mount("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=1m,mode=0700")
        except OSError:
            pass


def _job_files(job_dir: Path, limit: int = 256 * 2**20) -> dict[str, bytes]:
    """The regular files the parent put in the job folder (the child gets copies in its scratch)."""
    files = {}
    for name in sorted(os.listdir(job_dir)):
        if name == "status.json":
            continue
        data = read_regular(job_dir / name, limit)
        if data is not None:
            files[name] = data
    return files


def _supervise(job_dir: Path, share: Path, state: Any, isolated: bool) -> None:
    """Runs in a fresh fork of the worker (trusted code): isolate, start the child, watch it."""
    from graders import sandbox

    job = json.loads((job_dir / "job.json").read_text(encoding="utf-8"))
    limits = job["limits"]
    dir_fd = None
    work = job_dir
    if isolated:
        files = _job_files(job_dir)
        unshare_namespaces(JOB_NAMESPACES)
        mount(None, "/", None, MS_REC | MS_PRIVATE)
        dir_fd = os.open(job_dir, os.O_RDONLY | os.O_DIRECTORY)
        mount("tmpfs", str(share), "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=4k,mode=0555")
        # one private tmpfs for /tmp and the scratch folder in it: the child's only writable place
        _private_tmp(int(limits.get("tmp_bytes", 256 * 2**20)))
        work = Path(SCRATCH)
        os.makedirs(work, mode=0o700, exist_ok=True)
        for name, data in files.items():
            (work / name).write_bytes(data)
    out_r, out_w = os.pipe()
    baseline_rss = _rss_bytes(os.getpid())
    me = os.getpid()
    started = time.monotonic()
    pid = os.fork()
    if pid == 0:  # the child that runs the student's code
        try:
            die_with_parent(None if isolated else me)
            os.setsid()  # its own process group: kill(0, ...) must not reach the worker's group
            prctl(PR_SET_DUMPABLE, 1)  # its memory map readable by the watchdog (C1, same uid)
            os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
            os.dup2(out_w, 1)
            os.dup2(out_w, 2)
            os.closerange(3, 65536)
            os.chdir(work)
            # libraries' temporary files (tempfile, torch's caches) go to the scratch folder, the one
            # place the audit hook lets the answer write
            os.environ["TMPDIR"] = str(work)
            import tempfile

            tempfile.tempdir = str(work)
            if isolated:
                try:
                    mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
                except OSError:
                    pass  # the worker is not dumpable, so its /proc entries stay closed anyway
                drop_capabilities()
            _set_limits(limits, _vm_data_bytes())
            sandbox._run_job(work, state, audit_hook=job.get("audit_hook", True))
            code = 0
        except BaseException:  # noqa: BLE001 - the parent reports it from stderr
            import traceback

            traceback.print_exc()
            code = 1
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except BaseException:  # noqa: BLE001, S110 - nothing left to report to
            pass
        os._exit(code)

    os.close(out_w)
    output = _OutputTail(out_r)
    timed_out = memory_killed = False
    memory_cap = baseline_rss + limits["memory_bytes"]
    status = 0
    try:
        waker: int | None = os.pidfd_open(pid)  # readable when the child exits: no polling delay
    except (AttributeError, OSError):
        waker = None
    while True:
        output.drain()
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        elapsed = time.monotonic() - started
        if elapsed > limits["wall_seconds"]:
            timed_out = True
        else:
            # resident memory is cheap to read and bounds PSS from above: PSS only when it matters
            tree = _tree(pid)
            if sum(_rss_bytes(p) for p in tree) > memory_cap and _tree_memory(pid) > memory_cap:
                memory_killed = True
        if timed_out or memory_killed:
            os.kill(pid, signal.SIGKILL)
            _, status = os.waitpid(pid, 0)
            break
        watched = [w for w in (waker, output.fd) if w is not None and w >= 0]
        if watched:
            select.select(watched, [], [], 0.1)
        else:
            time.sleep(0.05)
    if waker is not None:
        os.close(waker)
    elapsed = time.monotonic() - started
    output.drain()  # what is left in the pipe; its other end died with the child's PID namespace
    output.close()
    too_large: list[str] = []
    if dir_fd is not None:
        names = [f"{i}{ext}" for i in job["exercises"] for ext in (".json", ".safetensors")]
        too_large = _copy_out(dir_fd, names, sandbox.MAX_TENSOR_BYTES)
    returncode = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
    text = output.text()
    _write_status(
        dir_fd,
        job_dir,
        {
            "returncode": returncode,
            "timed_out": timed_out,
            "memory_killed": memory_killed,
            "elapsed": elapsed,
            "stderr": text[-4000:],
            "output_bytes": output.total,
            "too_large": too_large,
        },
    )


def _set_limits(limits: dict[str, Any], data_in_use: int) -> None:
    import resource

    for name, value in (
        ("RLIMIT_CPU", limits["cpu_seconds"]),
        # what the warm worker already holds (torch, the cases) plus what the answer may allocate
        ("RLIMIT_DATA", data_in_use + limits["memory_bytes"]),
        ("RLIMIT_FSIZE", limits["file_bytes"]),
        ("RLIMIT_NPROC", limits["processes"]),
        ("RLIMIT_CORE", 0),
    ):
        if hasattr(resource, name):
            try:
                resource.setrlimit(getattr(resource, name), (value, value))
            except (ValueError, OSError):
                pass


def worker_main(argv: list[str]) -> None:
    """``python -P graders/isolation.py SHARE [--drop-uid UID] [--probe] [--isolated]``."""
    share = Path(argv[0])
    if "--drop-uid" in argv and os.geteuid() == 0:
        drop_to_uid(int(argv[argv.index("--drop-uid") + 1]))
    if sys.platform.startswith("linux"):
        prctl(PR_SET_NO_NEW_PRIVS, 1)
        prctl(PR_SET_DUMPABLE, 0)  # its memory and /proc entries are closed to its children
    if "--probe" in argv:
        print(json.dumps(_probe_report(share)), flush=True)
        return
    isolated = "--isolated" in argv
    out = os.fdopen(os.dup(1), "w", buffering=1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)  # nothing printed while importing can garble the replies
    nested_error = _nested_probe() if isolated else ""
    # without namespaces per job inside the sandbox, a worker serves a single job (the pool starts
    # a new one): a leftover process of one submission must never meet the next submission
    single_use = "--single-use" in argv or bool(nested_error)
    if nested_error:
        isolated = False
    sys.path.insert(0, str(REPO_ROOT))
    request = json.loads(sys.stdin.readline())
    from graders import sandbox

    state = sandbox._prepare_child(share if request.get("payload") else None, request.get("preload", []))
    out.write(json.dumps({"ready": True, "nested_error": nested_error, "pid": os.getpid()}) + "\n")
    for line in sys.stdin:
        job = json.loads(line)
        job_dir = share / job["job"]
        me = os.getpid()
        pid = os.fork()
        if pid == 0:
            try:
                die_with_parent(me)
                _supervise(job_dir, share, state, isolated)
                os._exit(0)
            except BaseException as exc:  # noqa: BLE001 - reported to the parent
                try:
                    _write_status(None, job_dir, {"error": f"{type(exc).__name__}: {exc}"})
                except OSError:
                    pass
                os._exit(3)
        _, status = os.waitpid(pid, 0)
        out.write(json.dumps({"done": job["job"], "status": status}) + "\n")
        if single_use:
            break


# --------------------------------------------------------------------------------------------
# Parent side: probing, the bubblewrap command, the warm worker pool
# --------------------------------------------------------------------------------------------


# The graders modules the sandbox holds (graders.sandbox.CHILD_MODULES): the worker's harness and
# nothing else; no spec module (graders/weeks/), registry, reference or release code.
CHILD_FILES = ("__init__.py", "core.py", "guard.py", "isolation.py", "sandbox.py", "source.py", "transport.py")
REPO_FOLDERS = ("courselib", "datasets")  # the notebooks import them


def _python_paths() -> list[Path]:
    """What the interpreter needs: its installation (standard library) and the virtual environment
    with its site-packages; not the other folders on ``sys.path`` (the repository, a tests folder)."""
    import site
    import sysconfig

    prefixes = {Path(sys.prefix), Path(sys.base_prefix), Path(sys.exec_prefix), Path(sys.executable).resolve().parent}
    prefixes |= {Path(sysconfig.get_paths()[k]) for k in ("stdlib", "platstdlib", "purelib", "platlib")}
    sites = set(site.getsitepackages()) | {site.getusersitepackages()}
    paths = set(prefixes)
    paths |= {Path(p) for p in sys.path if p and p in sites}  # a user site-packages in use
    venv = Path(sys.prefix).resolve()
    keep = []
    for p in paths:
        if not p.is_dir():
            continue
        real = p.resolve()
        if real.is_relative_to(REPO_ROOT) and not real.is_relative_to(venv):
            continue  # the repository itself: bound piecemeal
        if str(real) in ("/", "/usr", "/tmp") or str(real).startswith(("/usr/", "/proc", "/dev")):
            continue  # bound (or made) as a whole already
        keep.append(real)
    keep.sort(key=lambda p: len(p.parts))
    out: list[Path] = []
    for p in keep:
        if not any(p.is_relative_to(q) for q in out):
            out.append(p)
    return out


def _symlinks() -> list[tuple[str, Path]]:
    """Symbolic links on the way to the interpreter (a virtual environment that is a link, as in a
    git worktree sharing one): recreated in the sandbox so that ``sys.executable`` works there."""
    links: dict[Path, str] = {}
    for start in (Path(sys.executable).parent, Path(sys.prefix)):
        for p in (start, *start.parents):
            if p.is_symlink() and not str(p).startswith(("/usr/", "/bin", "/lib", "/sbin")):
                links[p] = os.readlink(p)
    return sorted(((target, link) for link, target in links.items()), key=lambda t: len(t[1].parts))


def child_binds() -> list[Path]:
    """The repository paths bound (read-only) into the sandbox."""
    binds = [REPO_ROOT / "graders" / name for name in CHILD_FILES]
    binds += [REPO_ROOT / name for name in REPO_FOLDERS if (REPO_ROOT / name).is_dir()]
    return binds


def bwrap_command(share: Path, argv: list[str]) -> list[str]:
    """The bubblewrap command line that runs ``argv`` in the grading sandbox."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        raise IsolationUnavailable("bubblewrap (`bwrap`) is not installed")
    root = os.geteuid() == 0
    cmd = [bwrap, "--die-with-parent", "--new-session", "--unshare-pid", "--unshare-net", "--unshare-ipc"]
    cmd += ["--unshare-uts", "--unshare-cgroup-try", "--hostname", "grader"]
    if not root:  # an unprivileged user: a user namespace; as root the worker drops to `nobody` itself
        cmd += ["--unshare-user", "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_UID), "--cap-drop", "ALL"]
    cmd += ["--ro-bind", "/usr", "/usr"]
    for top in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        if os.path.islink(top):
            cmd += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            cmd += ["--ro-bind", top, top]
    for etc in ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "alternatives", "localtime", "passwd", "group"):
        cmd += ["--ro-bind-try", f"/etc/{etc}", f"/etc/{etc}"]
    cmd += ["--proc", "/proc", "--dev", "/dev", "--perms", "1777", "--tmpfs", "/tmp"]
    binds = [(p, True) for p in _python_paths()]
    binds += [(p, True) for p in child_binds() if p.exists()]
    binds.append((share, False))
    links = _symlinks()
    made: set[str] = set()
    for path in [p for p, _ in binds] + [link for _, link in links]:
        # parents readable by the sandbox's uid (bwrap would make them 0700 as root)
        for parent in reversed(path.parents):
            p = str(parent)
            if p == "/" or p in made or p.startswith("/usr/") or p in ("/usr", "/tmp", "/proc", "/dev"):
                continue
            if any(parent.is_relative_to(q) for q, _ in binds if q != path and path.is_relative_to(q)):
                continue
            made.add(p)
            cmd += ["--perms", "0755", "--dir", p]
    for path, readonly in binds:
        cmd += ["--ro-bind" if readonly else "--bind", str(path), str(path)]
    for target, link in links:
        cmd += ["--symlink", target, str(link)]
    cmd += ["--remount-ro", "/"]  # the folders made above too: nothing outside /tmp and the share is writable
    cmd += ["--chdir", "/tmp", "--", *argv]
    return cmd


def _worker_argv(share: Path, isolated: bool, single_use: bool = False) -> list[str]:
    argv = [sys.executable, "-P", str(Path(__file__).resolve()), str(share)]
    if isolated:
        argv.append("--isolated")
        if os.geteuid() == 0:
            argv += ["--drop-uid", str(SANDBOX_UID)]
    if single_use:
        argv.append("--single-use")
    return argv


def _worker_env(share: Path) -> dict[str, str]:
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": "/tmp",
        "PYTHONPATH": str(REPO_ROOT),
        "MPLCONFIGDIR": "/tmp",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONWARNINGS": "ignore",
        "COURSE_NO_PROGRESS": "1",
        "MPLBACKEND": "Agg",
        "CUDA_VISIBLE_DEVICES": "",
    }


def _make_share() -> Path:
    share = Path(tempfile.mkdtemp(prefix="graders-share-"))
    if os.geteuid() == 0:
        os.chown(share, SANDBOX_UID, SANDBOX_UID)
    share.chmod(0o700)
    return share


@dataclass
class Report:
    """Which isolation layers this machine provides (``graders doctor``)."""

    bwrap: str | None = None
    bwrap_error: str = ""
    inside: dict[str, Any] = field(default_factory=dict)

    @property
    def os_isolated(self) -> bool:
        """bubblewrap runs and the view from inside is what it should be."""
        i = self.inside
        return bool(
            self.bwrap
            and not self.bwrap_error
            and i
            and not i.get("sees_solutions")
            and not i.get("sees_tests")
            and not i.get("sees_specs")
            and not i.get("repo_writable")
            and not i.get("network")
            and i.get("uid") == SANDBOX_UID
        )

    @property
    def per_job_namespaces(self) -> bool:
        return self.os_isolated and not self.inside.get("nested_error")

    def mode(self) -> str:
        return "bwrap" if self.os_isolated else "none"

    def describe(self) -> str:
        if not self.os_isolated:
            return "UNISOLATED: resource limits and the audit hook only (no OS-level isolation)"
        extra = "a fresh namespace per submission" if self.per_job_namespaces else "one sandbox per submission"
        return f"OS-isolated: bubblewrap sandbox, {extra}, resource limits, audit hook"

    def lines(self) -> list[str]:
        i = self.inside
        ok = lambda b: "yes" if b else "NO"  # noqa: E731
        rows = [
            f"bubblewrap installed: {ok(self.bwrap)}" + (f" ({self.bwrap})" if self.bwrap else ""),
            f"bubblewrap runs: {ok(self.bwrap and not self.bwrap_error)}"
            + (f" ({self.bwrap_error})" if self.bwrap_error else ""),
        ]
        if i:
            rows += [
                f"  unprivileged uid in the sandbox: {ok(i.get('uid') == SANDBOX_UID)} (uid {i.get('uid')})",
                f"  own PID namespace: {ok(i.get('pid', 0) < 10)} (pid {i.get('pid')} inside)",
                f"  no network: {ok(not i.get('network'))} (interfaces: {', '.join(i.get('interfaces', [])) or 'none'})",
                f"  solutions/ hidden: {ok(not i.get('sees_solutions'))}; tests/ hidden: {ok(not i.get('sees_tests'))}; "
                f"build/ hidden: {ok(not i.get('sees_build'))}",
                f"  spec modules, registry and references hidden (graders/ holds only the harness): "
                f"{ok(not i.get('sees_specs'))}",
                f"  repository read-only: {ok(not i.get('repo_writable'))}",
                f"  fresh namespaces per submission: {ok(not i.get('nested_error'))}"
                + (f" ({i['nested_error']})" if i.get("nested_error") else ""),
            ]
        rows += [
            "resource limits (CPU, RLIMIT_DATA memory + resident-memory watchdog, file size, processes): yes",
            "audit hook (second layer): yes",
            f"mode: {self.describe()}",
        ]
        return rows


_REPORT: Report | None = None
_REPORT_LOCK = threading.Lock()


def probe(refresh: bool = False) -> Report:
    """Start the sandbox once and look around from inside (cached for the process)."""
    global _REPORT
    with _REPORT_LOCK:
        if _REPORT is not None and not refresh:
            return _REPORT
        report = Report(bwrap=shutil.which("bwrap"))
        if report.bwrap is None:
            report.bwrap_error = "not installed (Debian/Ubuntu: apt-get install bubblewrap)"
        elif not sys.platform.startswith("linux"):
            report.bwrap_error = "not Linux"
        else:
            share = _make_share()
            try:
                cmd = bwrap_command(share, [*_worker_argv(share, isolated=True), "--probe"])
                proc = subprocess.run(
                    cmd, capture_output=True, text=True, timeout=60, env=_worker_env(share), umask=0o022
                )
                if proc.returncode != 0:
                    report.bwrap_error = (proc.stderr.strip().splitlines() or [f"exit status {proc.returncode}"])[-1]
                else:
                    report.inside = json.loads(proc.stdout.strip().splitlines()[-1])
            except (OSError, subprocess.SubprocessError, ValueError, IndexError) as exc:
                report.bwrap_error = str(exc)
            finally:
                shutil.rmtree(share, ignore_errors=True)
        _REPORT = report
        return report


def resolve_mode(isolation: str) -> str:
    """``auto`` → ``bwrap`` where it works, else ``none``; ``bwrap`` raises when it does not work."""
    if isolation not in MODES:
        raise ValueError(f"isolation must be one of {MODES}, not {isolation!r}")
    if isolation == "none":
        return "none"
    report = probe()
    if report.os_isolated:
        return "bwrap"
    if isolation == "bwrap":
        raise IsolationUnavailable(
            "OS-level isolation is not available on this machine: "
            + (report.bwrap_error or "the sandbox did not look as it should from inside")
            + ". Run `graders doctor` for details, install bubblewrap (`apt-get install bubblewrap`), "
            "or grade without it at your own risk with --allow-unisolated."
        )
    return "none"


_SPAWNER: Any = None
_SPAWNER_LOCK = threading.Lock()


def _spawn(cmd: list[str], **kwargs: Any) -> subprocess.Popen[bytes]:
    """``Popen`` from one long-lived thread.

    bubblewrap's ``--die-with-parent`` (``PR_SET_PDEATHSIG``) fires when the *thread* that started
    it exits: a worker started from a short-lived thread would be killed with that thread.
    """
    global _SPAWNER
    from concurrent.futures import ThreadPoolExecutor

    with _SPAWNER_LOCK:
        if _SPAWNER is None:
            _SPAWNER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="graders-spawner")
    return _SPAWNER.submit(subprocess.Popen, cmd, **kwargs).result()


class WorkerDied(RuntimeError):
    """The warm worker stopped answering (its job is reported as a crash; the pool starts another)."""

    def __init__(self, message: str, timed_out: bool = False) -> None:
        super().__init__(message)
        self.timed_out = timed_out


class Worker:
    """One warm worker: torch and the cases (sent by this process) loaded once; one isolated child per job."""

    def __init__(self, exercise_ids: list[str], mode: str, preload: list[str] | None = None) -> None:
        self.exercise_ids = list(exercise_ids)
        self.preload = list(preload or [])
        self.mode = mode
        self.share = _make_share()
        self.proc: subprocess.Popen[bytes] | None = None
        self.nested_error = ""
        self._jobs = 0

    def _start(self) -> None:
        from graders.sandbox import worker_payload  # the parent builds the cases: the worker has no specs

        text, tensors = worker_payload(self.exercise_ids)
        for name, data in zip(PAYLOAD_FILES, (text.encode(), tensors)):
            (self.share / name).write_bytes(data)
        argv = _worker_argv(self.share, isolated=self.mode == "bwrap")
        cmd = bwrap_command(self.share, argv) if self.mode == "bwrap" else argv
        self._log = tempfile.TemporaryFile()  # the worker's own stderr (never the student's): for diagnosis
        self.proc = _spawn(
            cmd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            env=_worker_env(self.share),
            cwd="/tmp" if self.mode == "bwrap" else str(self.share),
            start_new_session=True,
            umask=0o022,
        )
        assert self.proc.stdin is not None
        request = {"payload": True, "preload": self.preload}
        self.proc.stdin.write((json.dumps(request) + "\n").encode())
        self.proc.stdin.flush()
        try:
            reply = self._read(READY_TIMEOUT)
        finally:
            for name in PAYLOAD_FILES:
                (self.share / name).unlink(missing_ok=True)
        if not reply.get("ready"):
            raise WorkerDied("the grading worker did not start")
        self.nested_error = reply.get("nested_error", "")

    def _read(self, timeout: float) -> dict[str, Any]:
        assert self.proc is not None and self.proc.stdout is not None
        sel = selectors.DefaultSelector()
        sel.register(self.proc.stdout, selectors.EVENT_READ)
        try:
            if not sel.select(timeout):
                self.stop()
                raise WorkerDied("the grading worker did not answer in time", timed_out=True)
        finally:
            sel.close()
        line = self.proc.stdout.readline()
        if not line:
            self.stop()
            raise WorkerDied(f"the grading worker exited{self._log_tail()}")
        return json.loads(line)

    def _log_tail(self) -> str:
        try:
            self._log.seek(0, os.SEEK_END)
            self._log.seek(max(0, self._log.tell() - 300))
            lines = self._log.read().decode("utf-8", "replace").strip().splitlines()
        except (OSError, AttributeError):
            return ""
        return f": {lines[-1]}" if lines else ""

    def new_job_dir(self) -> Path:
        self._jobs += 1
        job = Path(tempfile.mkdtemp(prefix=f"job{self._jobs}-", dir=self.share))
        if os.geteuid() == 0 and self.mode == "bwrap":
            os.chown(job, SANDBOX_UID, SANDBOX_UID)
        return job

    def run(self, job_dir: Path, timeout: float) -> dict[str, Any]:
        """Run the job prepared in ``job_dir``; the child's status (``status.json``)."""
        if self.proc is None or self.proc.poll() is not None:
            self._start()
        assert self.proc is not None and self.proc.stdin is not None
        try:
            self.proc.stdin.write((json.dumps({"job": job_dir.name}) + "\n").encode())
            self.proc.stdin.flush()
        except OSError as exc:
            self.stop()
            raise WorkerDied("the grading worker exited") from exc
        self._read(timeout)
        if self.nested_error:
            self.stop()  # single-use: it served one job in its only sandbox
        data = read_regular(job_dir / "status.json", 2**20)
        try:
            status = json.loads(data) if data is not None else None
        except ValueError:
            status = None
        if not isinstance(status, dict):
            return {"error": "no status from the grading worker"}
        return status

    def stop(self) -> None:
        if self.proc is None:
            return
        try:
            if self.proc.stdin:
                self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except OSError:
                pass
            self.proc.wait()
        if self.proc.stdout:
            self.proc.stdout.close()
        self.proc = None

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.share, ignore_errors=True)


class Pool:
    """Up to ``jobs`` warm workers for the same exercises; thread-safe."""

    def __init__(self, exercise_ids: list[str], mode: str, jobs: int = 1, preload: list[str] | None = None) -> None:
        self.exercise_ids = list(exercise_ids)
        self.preload = list(preload or [])
        self.mode = mode
        self.jobs = max(1, jobs)
        self._free: list[Worker] = []
        self._all: list[Worker] = []
        self._cond = threading.Condition()
        self.local = threading.local()  # .status: the last job's status in this thread (benchmarks)

    def _acquire(self) -> Worker:
        with self._cond:
            while not self._free and len(self._all) >= self.jobs:
                self._cond.wait()
            if self._free:
                return self._free.pop()
            worker = Worker(self.exercise_ids, self.mode, self.preload)
            self._all.append(worker)
            return worker

    def _release(self, worker: Worker) -> None:
        with self._cond:
            self._free.append(worker)
            self._cond.notify()

    def run(self, prepare: Callable[[Path], None], timeout: float) -> tuple[Path, dict[str, Any]]:
        """Prepare a job folder with ``prepare(folder)``, run it, return the folder and the status."""
        worker = self._acquire()
        try:
            job_dir = worker.new_job_dir()
            prepare(job_dir)
            try:
                status = worker.run(job_dir, timeout)
            except WorkerDied as exc:
                status = {"error": str(exc), "timed_out": exc.timed_out}
            self.local.status = status
            return job_dir, status
        finally:
            self._release(worker)

    def warm_up(self) -> None:
        """Start every worker now (in parallel), so that the first jobs do not wait for imports."""
        workers = []
        with self._cond:
            while len(self._all) < self.jobs:
                worker = Worker(self.exercise_ids, self.mode, self.preload)
                self._all.append(worker)
                workers.append(worker)
        threads = [threading.Thread(target=w._start, daemon=True) for w in workers]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        with self._cond:
            self._free.extend(workers)
            self._cond.notify_all()

    def close(self) -> None:
        with self._cond:
            for worker in self._all:
                worker.close()
            self._all.clear()
            self._free.clear()


if __name__ == "__main__":
    worker_main(sys.argv[1:])
