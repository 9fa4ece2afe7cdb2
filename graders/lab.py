"""JupyterLab for students (``make lab``) and for instructors (``make instructor``).

    python -m graders.lab [JUPYTER_LAB_ARGS...]              students: JupyterLab on course/
    python -m graders.lab instructor [JUPYTER_LAB_ARGS...]   instructors: nbgrader's course directory
                                                             build/ prepared, JupyterLab on the
                                                             repository with a working formgrader

Both work as root too (``--allow-root`` is added for root, as in Docker containers and many cloud
VMs) and leave the port and the token to Jupyter, which reads ``JUPYTER_PORT`` and
``JUPYTER_TOKEN`` from the environment. Other arguments go to ``jupyter lab`` as they are
(``--no-browser``, ``--port=8890``...).

The instructor's server runs from the repository root (``--root``), so that nbgrader reads the
repository's ``nbgrader_config.py``: the course directory ``build/`` (a subfolder of the server
root, which the formgrader requires) and :func:`graders.nbgrader_plugin.configure`, so that
autograding started from the formgrader grades in the sandbox.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
from pathlib import Path
from typing import Any

from graders.reference import COURSE, REPO_ROOT


def jupyter_env() -> dict[str, str]:
    """The environment for Jupyter and nbgrader: this interpreter's scripts folder first on PATH.

    nbgrader opens its gradebook by running ``alembic`` from PATH; without the virtual
    environment's ``bin/`` there (``make lab`` does not activate it) every formgrader action fails.
    """
    scripts = str(Path(sys.executable).parent)
    path = os.environ.get("PATH", "")
    if scripts not in path.split(os.pathsep):
        path = scripts + (os.pathsep + path if path else "")
    return {**os.environ, "PATH": path}


def lab_command(root_dir: Path, extra: list[str] | None = None) -> list[str]:
    """``jupyter lab`` serving ``root_dir``, with ``--allow-root`` when this process is root."""
    command = [sys.executable, "-m", "jupyterlab", f"--ServerApp.root_dir={root_dir}"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")
    return command + list(extra or [])


def prepare_instructor(root: Path = REPO_ROOT, week_list: list[str] | None = None) -> list[str]:
    """Lay out nbgrader's course directory ``root/build`` for the formgrader; return the weeks.

    Each week's nbgrader source notebook is written from ``solutions/`` (``build/source/``), then
    generated (``build/release/``) and registered in ``build/gradebook.db`` with its grade cells,
    so that the formgrader lists it and can autograde submissions at once (a week whose source
    cannot be built is left out, with a warning; a week unchanged since the last run is not
    generated again). Settings come from the
    same :func:`graders.nbgrader_plugin.configure` as ``nbgrader_config.py``. A week that nbgrader
    refuses to regenerate (say, its graded cells changed after submissions were graded) is
    reported on stderr and left as it was.
    """
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config import Config

    from graders.nbgrader_plugin import configure
    from graders.release import weeks, write_nbgrader_sources

    os.environ["PATH"] = jupyter_env()["PATH"]  # nbgrader runs `alembic`
    week_list = week_list or weeks()
    course = root / "build"
    config = Config()
    configure(config)
    config.CourseDirectory.root = str(course)
    api = NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)
    prepared = []
    for week in week_list:
        try:
            write_nbgrader_sources(course, [week])
        except (OSError, ValueError) as exc:  # a broken source must not keep the other weeks out
            print(f"warning: {week} left out: {exc}", file=sys.stderr)
            continue
        prepared.append(week)
        stamp = course / f".generated-{week}"  # the digest of the source that was last generated
        digest = _digest(course / "source" / week)
        released = course / "release" / week / f"{week}.ipynb"
        if stamp.exists() and stamp.read_text() == digest and released.exists() and _registered(api, week):
            continue  # generated from this very source before: a restart stays quick
        stamp.unlink(missing_ok=True)
        outcome = api.generate_assignment(week, force=True)
        if outcome.get("success"):
            stamp.write_text(digest)
        else:
            log = (outcome.get("log") or "") + (outcome.get("error") or "")
            print(f"warning: nbgrader could not generate {week}:\n{log[-2000:]}", file=sys.stderr)
    return prepared


def _digest(folder: Path) -> str:
    """A digest of every file under ``folder`` (paths and contents)."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def _registered(api: Any, week: str) -> bool:
    """Whether nbgrader's gradebook knows ``week`` (generated before, with its grade cells)."""
    try:
        with api.gradebook as gradebook:
            return week in {a.name for a in gradebook.assignments}
    except Exception:  # a gradebook nbgrader cannot open: generate, which reports why
        return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m graders.lab",
        description="JupyterLab for students (course/) or instructors (the repository, with nbgrader's formgrader). "
        "Unknown arguments go to `jupyter lab`.",
    )
    parser.add_argument("mode", nargs="?", choices=["student", "instructor"], default="student")
    parser.add_argument(
        "--root",
        type=Path,
        default=REPO_ROOT,
        help="instructor: the folder to serve, holding nbgrader_config.py (default: the repository)",
    )
    parser.add_argument("--weeks", nargs="+", help="instructor: prepare only these weeks (default: all)")
    args, extra = parser.parse_known_args(argv)
    if args.mode == "instructor":
        root = args.root.resolve()
        weeks = prepare_instructor(root, args.weeks)
        print(f"formgrader course directory: {root / 'build'} ({', '.join(weeks)})", flush=True)
        command, cwd = lab_command(root, extra), root
    else:
        command, cwd = lab_command(COURSE, extra), REPO_ROOT
    os.chdir(cwd)  # nbgrader reads nbgrader_config.py from the server's working directory
    os.execve(command[0], command, jupyter_env())
    return 0  # not reached


if __name__ == "__main__":
    raise SystemExit(main())
