"""Source → release: from ``solutions/wNN_topic/wNN_topic.py`` to ``course/wNN_topic/wNN_topic.ipynb``.

1. jupytext reads the percent-format source into a notebook;
2. a setup cell is put first (it makes the notebook work on Colab and does nothing locally);
3. cells get their nbgrader roles from what they contain: a cell with ``### BEGIN SOLUTION`` is
   a solution cell, a cell that calls ``check("wNN_topic.fn", ...)`` is a locked, autograded
   test cell worth that exercise's points;
4. ``nbgrader generate_assignment`` turns that source notebook into the student version, which
   is copied to ``course/``.

The build is deterministic, so ``graders build --check`` (and a test) can tell when ``course/``
is stale.
"""

from __future__ import annotations

import filecmp
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path
from typing import Any

from graders.reference import COURSE, REPO_ROOT, SOLUTIONS
from graders.registry import all_exercises

CHECK_CALL = re.compile(r"""\bcheck\(\s*["']([A-Za-z0-9_]+\.[A-Za-z0-9_]+)["']""")
DEF_NAME = re.compile(r"^(?:def|class)\s+([A-Za-z_][A-Za-z0-9_]*)", re.MULTILINE)


def course_settings() -> dict[str, str]:
    """The ``[tool.course]`` table of pyproject.toml (the repository URL lives there, once)."""
    with open(REPO_ROOT / "pyproject.toml", "rb") as f:
        return tomllib.load(f)["tool"]["course"]


def weeks() -> list[str]:
    """Every week that has a solution source, in course order."""
    return sorted(p.name for p in SOLUTIONS.iterdir() if (p / f"{p.name}.py").exists())


def setup_cell_source(week: str) -> str:
    """The first cell of every notebook: installs the course on Colab, a no-op anywhere else."""
    settings = course_settings()
    return f'''# Setup: on Google Colab this installs the course (keeping Colab's own PyTorch); elsewhere it does nothing.
import importlib.util
import subprocess
import sys

if "google.colab" in sys.modules and importlib.util.find_spec("graders") is None:
    subprocess.run(["git", "clone", "--depth", "1", "--branch", "{settings["branch"]}",
                    "{settings["repo_url"]}", "/content/course"], check=True)
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "-e", "/content/course"], check=True)
    sys.path.insert(0, "/content/course")
    import os
    os.chdir("/content/course/course/{week}")'''


def _nbgrader_metadata(cell: dict[str, Any], index: int, points: dict[str, int]) -> dict[str, Any] | None:
    source = cell["source"]
    if cell["cell_type"] != "code":
        return None
    if "### BEGIN SOLUTION" in source:
        names = DEF_NAME.findall(source)
        return {
            "grade": False,
            "solution": True,
            "locked": False,
            "grade_id": f"{names[0] if names else f'cell{index}'}_solution",
            "schema_version": 3,
        }
    ids = sorted(set(CHECK_CALL.findall(source)))
    if ids:
        if len(ids) > 1:
            raise ValueError(f"cell {index} checks several exercises {ids}: one check cell per exercise")
        if ids[0] not in points:
            raise ValueError(f"cell {index} checks {ids[0]}, which graders/weeks does not define")
        return {
            "grade": True,
            "solution": False,
            "locked": True,
            "points": points[ids[0]],
            "grade_id": f"check_{ids[0].split('.', 1)[1]}",
            "schema_version": 3,
        }
    return None


def source_notebook(week: str) -> dict[str, Any]:
    """The nbgrader *source* notebook of a week (solutions included), as a JSON dict."""
    import jupytext

    nb = jupytext.read(SOLUTIONS / week / f"{week}.py")
    nb.metadata.pop("jupytext", None)
    nb.metadata["kernelspec"] = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
    nb.metadata["language_info"] = {"name": "python"}
    points = {e.id: e.points for e in all_exercises().values()}
    setup = jupytext.reads(f"# %%\n{setup_cell_source(week)}\n", fmt="py:percent").cells[0]
    cells = [setup, *nb.cells]
    for index, cell in enumerate(cells):
        cell.metadata.pop("lines_to_next_cell", None)
        meta = _nbgrader_metadata(cell, index, points)
        if meta:
            cell.metadata["nbgrader"] = meta
    nb.cells = cells
    data = json.loads(json.dumps(nb))
    for index, cell in enumerate(data["cells"]):
        cell["id"] = f"{week}-{index:03d}"  # stable ids: a rebuild changes nothing
    return data


def _write_notebook(data: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")


NBGRADER_CONFIG = """from graders.nbgrader_plugin import configure

configure(get_config())
"""


INSTRUCTOR_ONLY = frozenset({"interview_answers.md"})  # files in solutions/<week>/ never released to students


def write_nbgrader_sources(root: Path, week_list: list[str]) -> None:
    """Lay out ``root/source/<week>/`` (source notebook plus any data files) and the config."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "nbgrader_config.py").write_text(NBGRADER_CONFIG, encoding="utf-8")
    for week in week_list:
        target = root / "source" / week
        if target.exists():
            shutil.rmtree(target)
        target.mkdir(parents=True)
        for extra in (SOLUTIONS / week).iterdir():
            if extra.name == f"{week}.py" or extra.name in INSTRUCTOR_ONLY or extra.name.startswith((".", "__")):
                continue
            copy = shutil.copytree if extra.is_dir() else shutil.copy2
            copy(extra, target / extra.name)
        _write_notebook(source_notebook(week), target / f"{week}.ipynb")


def run_nbgrader(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``nbgrader ARGS`` with ``root`` as the course directory; raise with its log on failure."""
    command = [sys.executable, "-m", "nbgrader", *args, f"--CourseDirectory.root={root}"]
    # nbgrader runs `alembic` from PATH: make sure this interpreter's scripts folder is on it
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    proc = subprocess.run(command, cwd=root, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"`nbgrader {' '.join(args)}` failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc


def _normalise_release(path: Path) -> None:
    data = json.loads(path.read_text(encoding="utf-8"))
    _write_notebook(data, path)


def build(week_list: list[str] | None = None, dest: Path = COURSE) -> list[str]:
    """Build the student versions of ``week_list`` (default: all weeks) into ``dest``."""
    week_list = week_list or weeks()
    if dest == COURSE:  # the instructor's nbgrader course directory (see nbgrader_config.py)
        write_nbgrader_sources(REPO_ROOT / "build", week_list)
    with tempfile.TemporaryDirectory(prefix="course-build-") as tmp:
        root = Path(tmp)
        write_nbgrader_sources(root, week_list)
        for week in week_list:
            run_nbgrader(root, "generate_assignment", week, "--force", "--no-db")
            released = root / "release" / week
            for nb in released.glob("*.ipynb"):
                _normalise_release(nb)
            target = dest / week
            if target.exists():
                shutil.rmtree(target)
            shutil.copytree(released, target)
    return week_list


def stale_weeks(week_list: list[str] | None = None) -> list[str]:
    """Weeks whose committed ``course/<week>/`` differs from a fresh build (or is missing)."""
    week_list = week_list or weeks()
    stale = []
    with tempfile.TemporaryDirectory(prefix="course-check-") as tmp:
        fresh = Path(tmp)
        build(week_list, dest=fresh)
        for week in week_list:
            if not (COURSE / week).exists() or _differs(fresh / week, COURSE / week):
                stale.append(week)
    return stale


def _differs(a: Path, b: Path) -> bool:
    cmp = filecmp.dircmp(a, b, ignore=["__pycache__", ".ipynb_checkpoints"])
    if cmp.left_only or cmp.right_only or cmp.diff_files or cmp.funny_files:
        return True
    for name in cmp.common_files:
        if not filecmp.cmp(a / name, b / name, shallow=False):
            return True
    return any(_differs(a / d, b / d) for d in cmp.common_dirs)
