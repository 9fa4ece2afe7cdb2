"""``make hub``: a JupyterHub for one term on this machine, with an nbgrader exchange.

    python -m graders.hub [--prepare-only]

One instructor (the formgrader: release, collect, autograde through the sandbox, feedback) and a
few students (the *Assignments* tab: fetch, submit, fetch feedback), all on this machine:

- **JupyterHub** (pinned in pyproject.toml) behind **configurable-http-proxy** from npm, which the
  Makefile installs into ``.hub/node_modules`` (``npm install --prefix .hub``);
- **demo authenticator**: JupyterHub's ``DummyAuthenticator``, every listed user with the one
  password ``HUB_PASSWORD``; **demo spawner**: ``SimpleLocalProcessSpawner``, every single-user
  server a process of the hub's own user (root works: ``--allow-root`` is added), with a home
  folder under ``HUB_DIR/home/``. Neither isolates users from each other: docs/HUB.md says what
  replaces them for a real course;
- **the exchange**: a folder (``HUB_DIR/exchange``) that every server's nbgrader uses as
  ``Exchange.root``, for the course ``HUB_COURSE_ID``. Each student's ``nbgrader_config.py`` names
  the student (``CourseDirectory.student_id``): with one system user for everybody, nbgrader could
  not tell them apart otherwise;
- **the instructor's course directory**: ``HUB_DIR/home/<instructor>/build``, prepared as
  ``make instructor`` prepares ``build/`` (:func:`graders.lab.prepare_instructor`), with
  :func:`graders.nbgrader_plugin.configure`, so grading in the formgrader goes through the sandbox.

Settings come from the environment: ``HUB_PORT`` (8000), ``HUB_IP`` (127.0.0.1; ``0.0.0.0`` to
serve other machines), ``HUB_PASSWORD`` (a random one is made and printed when unset),
``HUB_INSTRUCTOR`` (instructor), ``HUB_STUDENTS`` (student1,student2), ``HUB_WEEKS`` (every
week), ``HUB_COURSE_ID`` (ai-safety), ``HUB_DIR`` (.hub), ``HUB_API_PORT`` (8081: the hub's own
API) and ``HUB_PROXY_API_PORT`` (8001: the proxy's API).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from graders.reference import REPO_ROOT

CHP_VERSION = "5.3.0"  # configurable-http-proxy, from npm (the Makefile's `hub` target installs it)


@dataclass(frozen=True)
class HubSettings:
    """Everything the hub is configured with (from the environment, see the module's docstring)."""

    folder: Path
    port: int
    ip: str
    api_port: int
    proxy_api_port: int
    instructor: str
    students: tuple[str, ...]
    weeks: tuple[str, ...]
    course_id: str

    @property
    def exchange(self) -> Path:
        return self.folder / "exchange"

    def home(self, user: str) -> Path:
        return self.folder / "home" / user

    @property
    def course(self) -> Path:
        """The instructor's nbgrader course directory."""
        return self.home(self.instructor) / "build"

    @property
    def proxy(self) -> Path:
        """``HUB_PROXY``, else the one npm installed into ``HUB_DIR`` or the repository's ``.hub``."""
        if os.environ.get("HUB_PROXY"):
            return Path(os.environ["HUB_PROXY"])
        local = Path("node_modules") / ".bin" / "configurable-http-proxy"
        return self.folder / local if (self.folder / local).exists() else REPO_ROOT / ".hub" / local

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.ip in ("", "0.0.0.0") else self.ip
        return f"http://{host}:{self.port}"


def settings_from_env(env: dict[str, str] | None = None) -> HubSettings:
    """The hub's settings from ``HUB_*`` variables (defaults as in the module's docstring)."""
    from graders.release import weeks

    env = dict(os.environ if env is None else env)
    users = [u.strip() for u in env.get("HUB_STUDENTS", "student1,student2").split(",") if u.strip()]
    instructor = env.get("HUB_INSTRUCTOR", "instructor").strip()
    for name in [instructor, *users]:
        if not name.replace("-", "").replace("_", "").isalnum() or name != name.lower():
            raise ValueError(f"user names are lower-case letters, digits, - and _ only: {name!r}")
    if instructor in users:
        raise ValueError(f"{instructor!r} is both the instructor and a student")
    chosen = [w.strip() for w in env.get("HUB_WEEKS", "").split(",") if w.strip()] or weeks()
    return HubSettings(
        folder=Path(env.get("HUB_DIR", str(REPO_ROOT / ".hub"))).resolve(),
        port=int(env.get("HUB_PORT", "8000")),
        ip=env.get("HUB_IP", "127.0.0.1"),
        api_port=int(env.get("HUB_API_PORT", "8081")),
        proxy_api_port=int(env.get("HUB_PROXY_API_PORT", "8001")),
        instructor=instructor,
        students=tuple(users),
        weeks=tuple(chosen),
        course_id=env.get("HUB_COURSE_ID", "ai-safety"),
    )


def instructor_config(s: HubSettings) -> str:
    """The instructor's ``nbgrader_config.py``: the course's grading settings, the course directory, the exchange."""
    return "\n".join(
        [
            "# Written by `make hub` (graders/hub.py): the instructor's nbgrader settings.",
            "from graders.nbgrader_plugin import configure",
            "",
            "c = get_config()  # noqa: F821",
            "configure(c)  # grades come from the sandbox (docs/INSTRUCTORS.md)",
            f"c.CourseDirectory.root = {str(s.course)!r}",
            f"c.CourseDirectory.course_id = {s.course_id!r}",
            f"c.Exchange.root = {str(s.exchange)!r}",
            "",
        ]
    )


def student_config(s: HubSettings, student: str) -> str:
    """A student's ``nbgrader_config.py``: the exchange, the course, and who they are."""
    return "\n".join(
        [
            "# Written by `make hub` (graders/hub.py): this student's nbgrader settings.",
            "c = get_config()  # noqa: F821",
            f"c.CourseDirectory.course_id = {s.course_id!r}",
            f"c.Exchange.root = {str(s.exchange)!r}",
            "# every single-user server runs as the same system user in this demo, so nbgrader is told",
            "# who submits (with one system user per student, as in production, drop this line)",
            f"c.CourseDirectory.student_id = {student!r}",
            "",
        ]
    )


def hub_config(s: HubSettings) -> str:
    """``jupyterhub_config.py`` for these settings (the password is read from the environment, never written)."""
    venv_bin = Path(sys.executable).parent
    as_root = hasattr(os, "geteuid") and os.geteuid() == 0
    users = sorted({s.instructor, *s.students})
    lines = [
        "# Written by `make hub` (graders/hub.py) from the HUB_* environment; edit graders/hub.py, not this file.",
        "import os",
        "",
        "c = get_config()  # noqa: F821",
        f"c.JupyterHub.bind_url = {f'http://{s.ip}:{s.port}'!r}",
        f"c.JupyterHub.hub_port = {s.api_port}",
        f"c.JupyterHub.db_url = {'sqlite:///' + str(s.folder / 'jupyterhub.sqlite')!r}",
        f"c.JupyterHub.cookie_secret_file = {str(s.folder / 'jupyterhub_cookie_secret')!r}",
        f"c.JupyterHub.pid_file = {str(s.folder / 'jupyterhub.pid')!r}",
        "# the proxy: configurable-http-proxy from npm (Makefile: npm install --prefix .hub)",
        f"c.ConfigurableHTTPProxy.command = [{str(s.proxy)!r}]",
        f"c.ConfigurableHTTPProxy.api_url = {f'http://127.0.0.1:{s.proxy_api_port}'!r}",
        f"c.ConfigurableHTTPProxy.pid_file = {str(s.folder / 'proxy.pid')!r}",
        "# DEMO ONLY: one shared password (HUB_PASSWORD). Production: an OAuth/LTI/LDAP authenticator (docs/HUB.md)",
        'c.JupyterHub.authenticator_class = "dummy"',
        'c.DummyAuthenticator.password = os.environ["HUB_PASSWORD"]',
        f"c.Authenticator.allowed_users = {set(users)!r}",
        f"c.Authenticator.admin_users = {{{s.instructor!r}}}",
        "# DEMO ONLY: every server is a process of the hub's user. Production: KubeSpawner (deploy/z2jh) or",
        "# LocalProcessSpawner/SystemdSpawner with one system user per person (docs/HUB.md)",
        'c.JupyterHub.spawner_class = "simple"',
        f"c.SimpleLocalProcessSpawner.home_dir_template = {str(s.folder / 'home' / '{username}')!r}",
        f"c.Spawner.cmd = [{str(venv_bin / 'jupyterhub-singleuser')!r}]",
        f"c.Spawner.args = {['--allow-root'] if as_root else []!r}",
        'c.Spawner.default_url = "/lab"',
        # nbgrader runs `alembic` from PATH; the venv's bin first (graders.lab.jupyter_env)
        f"c.Spawner.environment = {{'PATH': {str(venv_bin) + os.pathsep + os.environ.get('PATH', '/usr/bin:/bin')!r}}}",
        "c.Spawner.start_timeout = 180",
        "c.Spawner.http_timeout = 180",
        "",
    ]
    return "\n".join(lines)


def prepare(s: HubSettings) -> list[str]:
    """Lay out ``HUB_DIR``: the exchange, every home with its ``nbgrader_config.py``, the instructor's
    course directory (each week generated and registered, as ``make instructor`` does); return the weeks."""
    from graders.lab import prepare_instructor

    s.folder.mkdir(parents=True, exist_ok=True)
    s.exchange.mkdir(parents=True, exist_ok=True)
    s.exchange.chmod(0o1777)  # nbgrader's exchange: everybody writes, nobody deletes others' files
    for student in s.students:
        s.home(student).mkdir(parents=True, exist_ok=True)
        (s.home(student) / "nbgrader_config.py").write_text(student_config(s, student))
    home = s.home(s.instructor)
    home.mkdir(parents=True, exist_ok=True)
    (home / "nbgrader_config.py").write_text(instructor_config(s))
    prepared = prepare_instructor(home, list(s.weeks))
    (s.folder / "jupyterhub_config.py").write_text(hub_config(s))
    return prepared


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m graders.hub", description=__doc__.split("\n\n")[0])
    parser.add_argument("--prepare-only", action="store_true", help="lay out HUB_DIR and write the config, then exit")
    args = parser.parse_args(argv)
    s = settings_from_env()
    if not s.proxy.exists() and not shutil.which(str(s.proxy)):
        print(
            f"error: configurable-http-proxy not found at {s.proxy}: run `make hub` (it runs "
            f"`npm install --prefix .hub configurable-http-proxy@{CHP_VERSION}`) or set HUB_PROXY",
            file=sys.stderr,
        )
        return 2
    env = dict(os.environ)
    if not env.get("HUB_PASSWORD"):
        env["HUB_PASSWORD"] = secrets.token_urlsafe(12)
        print(f"HUB_PASSWORD was not set; this run's password: {env['HUB_PASSWORD']}", flush=True)
    from graders.lab import jupyter_env

    os.environ["PATH"] = jupyter_env()["PATH"]
    weeks = prepare(s)
    summary = {
        "url": s.url,
        "instructor": s.instructor,
        "students": list(s.students),
        "weeks": weeks,
        "exchange": str(s.exchange),
        "course directory": str(s.course),
    }
    print("hub: " + json.dumps(summary), flush=True)
    if args.prepare_only:
        return 0
    command = [sys.executable, "-m", "jupyterhub", "-f", str(s.folder / "jupyterhub_config.py")]
    os.chdir(s.folder)
    env["PATH"] = jupyter_env()["PATH"]
    os.execve(command[0], command, env)
    return 0  # not reached


if __name__ == "__main__":
    raise SystemExit(main())
