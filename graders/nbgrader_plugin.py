"""nbgrader integration: grades come from the sandbox, never from the student's kernel.

nbgrader 0.9.6 scores an autograded cell by its outputs: an error, *or any text on stderr*,
gives 0. Student code runs in the same kernel as the grade cells, so it could redefine
``check`` or print a harmless warning and change its own grade either way. :class:`TrustedGrades`
runs after nbgrader's sanitising step: it grades the submitted code with
:func:`graders.sandbox.check_file` and rewrites each grade cell's outputs to state the trusted
verdict (feedback on stdout, plus an error output when the exercise failed), which nbgrader's
``SaveAutoGrades`` then records.

The student's notebook is never executed in a kernel during autograding: the sandbox is the
only place student code runs, with limits, so a cohort is graded safely and in seconds per
notebook. (Stock nbgrader's ``Execute`` ran each submission as the instructor, outside any
sandbox: a top-level cell could rewrite another student's grade in the gradebook.
:func:`configure` refuses ``execute=True`` and :func:`check_pipeline` refuses a configuration
that puts ``Execute`` back.)

What the formgrader and the feedback show of a submission is sanitised by
:class:`SanitizeStudentHTML`: student markdown, raw cells and rich outputs lose scripts, event
handlers and anything else outside a small set of safe HTML (the formgrader runs on the same
origin as the instructor's JupyterLab).
"""

from __future__ import annotations

import re
import tempfile
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from bleach import ALLOWED_ATTRIBUTES, ALLOWED_TAGS
from nbconvert.preprocessors import ClearMetadataPreprocessor
from nbconvert.preprocessors.sanitize import SanitizeHTML
from nbformat import NotebookNode, write
from nbformat.v4 import new_output
from nbgrader.preprocessors import (
    AssignLatePenalties,
    CheckCellMetadata,
    Execute,
    IgnorePattern,
    LimitOutput,
    NbGraderPreprocessor,
    SaveAutoGrades,
)
from traitlets import Bool, Dict, List, Unicode

from graders.release import CHECK_CALL
from graders.sandbox import check_file


class TrustedGrades(NbGraderPreprocessor):
    """Replace every grade cell's outputs with the sandbox's verdict on the submitted code.

    Grading needs OS-level isolation (bubblewrap, see :mod:`graders.isolation`) and refuses to
    run without it unless ``TrustedGrades.allow_unisolated = True`` is configured; the log says
    which mode graded. ``graders autograde`` grades the cohort in parallel beforehand and leaves
    each submission's verdict in :attr:`precomputed`, keyed by (student, notebook).
    """

    allow_unisolated = Bool(
        False,
        help="Grade even where OS-level isolation (bubblewrap) is unavailable: resource limits and the "
        "audit hook only, which hostile code can get past. Off by default.",
    ).tag(config=True)

    precomputed: dict[tuple[str, str], Future] = {}  # noqa: RUF012 - set by graders.autograde, read here
    graded_mode: str = ""
    _logged_mode = False

    def _log_mode(self, mode: str) -> None:
        if not TrustedGrades._logged_mode:
            self.log.warning("graders: grading in mode %s", mode)
            TrustedGrades._logged_mode = True

    def preprocess(self, nb: NotebookNode, resources: dict[str, Any]) -> tuple[NotebookNode, dict[str, Any]]:
        cells = [
            (cell, sorted(set(CHECK_CALL.findall(cell.source))))
            for cell in nb.cells
            if cell.cell_type == "code" and cell.metadata.get("nbgrader", {}).get("grade")
        ]
        exercise_ids = sorted({i for _, ids in cells for i in ids})
        results = {}
        info = resources.get("nbgrader", {})
        key = (info.get("student"), info.get("notebook"))
        if key in TrustedGrades.precomputed:
            results = {r.exercise: r for r in TrustedGrades.precomputed[key].result()}
            self._log_mode(TrustedGrades.graded_mode)
        elif exercise_ids:
            from graders.isolation import probe

            isolation = "auto" if self.allow_unisolated else "bwrap"
            with tempfile.TemporaryDirectory(prefix="autograde-") as tmp:
                path = Path(tmp) / "submission.ipynb"
                with open(path, "w", encoding="utf-8") as f:
                    write(nb, f)
                results = {r.exercise: r for r in check_file(path, exercise_ids, isolation=isolation)}
            report = probe()
            self._log_mode(report.describe() if report.os_isolated else "UNISOLATED (allow_unisolated)")
        for cell, ids in cells:
            if not ids:
                continue
            outputs = []
            failed = []
            for exercise_id in ids:
                if exercise_id not in results:
                    from graders.core import result_for_missing
                    from graders.registry import get_exercise

                    results[exercise_id] = result_for_missing(get_exercise(exercise_id), "not graded")
                result = results[exercise_id]
                outputs.append(new_output("stream", name="stdout", text="\n".join(result.feedback) + "\n"))
                if not result.passed:
                    failed.append(exercise_id)
            if failed:
                outputs.append(
                    new_output(
                        "error",
                        ename="CheckFailed",
                        evalue=f"{', '.join(failed)} did not pass (graded in the sandbox)",
                        traceback=[],
                    )
                )
            cell.outputs = outputs
            cell.execution_count = None
            self.log.info("%s: %s", ", ".join(ids), "failed" if failed else "passed")
        return nb, resources


class SanitizeStudentHTML(SanitizeHTML):
    """Escape unsafe HTML in what students wrote, before the formgrader or the feedback shows it.

    Markdown and raw cells that the student could edit (every one except nbgrader's locked cells,
    which nbgrader has already restored from the instructor's source) are cleaned with bleach:
    ``<script>``, ``<iframe>``, ``on*=`` handlers and ``javascript:`` links do not survive; the
    harmless tags of course prose (``details``, tables, images, headings) do. Code outputs keep
    only safe types (text, PNG, JPEG; HTML and markdown cleaned; JavaScript and SVG dropped), and
    cell attachments other than PNG, JPEG and GIF images are dropped.
    """

    enabled = Bool(True, help="nbconvert runs a preprocessor only when it is enabled").tag(config=True)
    tags = List(
        Unicode(),
        default_value=[
            *ALLOWED_TAGS,
            "p",
            "br",
            "hr",
            "span",
            "div",
            "pre",
            "img",
            "details",
            "summary",
            "sub",
            "sup",
            "del",
            "s",
            "h1",
            "h2",
            "h3",
            "h4",
            "h5",
            "h6",
            "table",
            "thead",
            "tbody",
            "tr",
            "th",
            "td",
            "dl",
            "dt",
            "dd",
        ],  # fmt: skip
        help="HTML tags kept in student markdown (everything else is escaped)",
    ).tag(config=True)
    attributes = Dict(
        default_value={
            **ALLOWED_ATTRIBUTES,
            "img": ["src", "alt", "width", "height"],
            "td": ["align"],
            "th": ["align"],
        },
        help="HTML attributes kept, per tag",
    ).tag(config=True)

    def preprocess_cell(self, cell: NotebookNode, resources: dict[str, Any], index: int) -> tuple[NotebookNode, dict]:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        locked = isinstance(meta, dict) and meta.get("locked") and not meta.get("solution")
        if cell.cell_type in ("markdown", "raw") and not locked:
            cleaned = self.sanitize_html_tags(cell.source)
            # a markdown quote (`> ...`) stays a quote: a `>` alone never opens a tag
            cell.source = re.sub(r"(?m)^(?:[ \t]*&gt;)+", lambda m: m.group(0).replace("&gt;", ">"), cleaned)
        if "attachments" in cell:
            safe = ("image/png", "image/jpeg", "image/gif")
            cell.attachments = {
                name: {k: v for k, v in bundle.items() if k in safe}
                for name, bundle in (cell.attachments or {}).items()
                if isinstance(bundle, dict)
            }
        if cell.cell_type == "code":
            cell.outputs = self.sanitize_code_outputs(cell.outputs)
        return cell, resources


def check_pipeline(preprocessors: list[Any]) -> None:
    """Refuse an autograde pipeline that would execute submissions outside the sandbox."""
    if any(p is Execute or (isinstance(p, type) and issubclass(p, Execute)) for p in preprocessors):
        raise ValueError(
            "nbgrader's Execute runs each submission in a kernel as you, outside the sandbox (a notebook "
            "could change other students' grades): remove it from Autograde.autograde_preprocessors"
        )


def configure(c: Any, execute: bool = False, timeout: int = 600, allow_unisolated: bool = False) -> None:
    """Apply the course's nbgrader settings to a traitlets config ``c``.

    Call it from ``nbgrader_config.py``. ``execute=True`` is refused (``ValueError``): executing
    submissions in a kernel would run student code as the instructor, outside the sandbox.
    ``allow_unisolated=True`` grades even without OS-level isolation (see docs/INSTRUCTORS.md:
    only for submissions you trust). ``timeout`` is kept for compatibility and unused.
    """
    if execute:
        raise ValueError(
            "configure(c, execute=True) is no longer supported: it ran every submission in a kernel as the "
            "instructor, outside the sandbox. Grades and feedback come from the sandbox; students' plots "
            "are in the notebooks they submitted."
        )
    c.TrustedGrades.allow_unisolated = allow_unisolated
    c.CourseDirectory.source_directory = "source"
    c.CourseDirectory.release_directory = "release"
    c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
    c.Autograde.autograde_preprocessors = [
        TrustedGrades,
        SanitizeStudentHTML,
        IgnorePattern,
        ClearMetadataPreprocessor,
        LimitOutput,
        SaveAutoGrades,
        AssignLatePenalties,
        CheckCellMetadata,
    ]
