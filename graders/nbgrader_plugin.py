"""nbgrader integration: grades come from the sandbox, never from the student's kernel.

nbgrader 0.9.6 scores an autograded cell by its outputs: an error, *or any text on stderr*,
gives 0. Student code runs in the same kernel as the grade cells, so it could redefine
``check`` or print a harmless warning and change its own grade either way. :class:`TrustedGrades`
runs after nbgrader's sanitising step: it grades the submitted code with
:func:`graders.sandbox.check_file` and rewrites each grade cell's outputs to state the trusted
verdict (feedback on stdout, plus an error output when the exercise failed), which nbgrader's
``SaveAutoGrades`` then records.

By default the student's notebook is not executed in a kernel at all during autograding
(``configure(c, execute=False)``): the sandbox is the only place student code runs, with limits,
so a cohort is graded safely and in seconds per notebook.
"""

from __future__ import annotations

import tempfile
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from nbconvert.preprocessors import ClearMetadataPreprocessor
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
from traitlets import Bool

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


def configure(c: Any, execute: bool = False, timeout: int = 600, allow_unisolated: bool = False) -> None:
    """Apply the course's nbgrader settings to a traitlets config ``c``.

    Call it from ``nbgrader_config.py``. ``execute=True`` also runs the student's notebook in a
    kernel (as stock nbgrader does) so that autograded notebooks show their plots; the grades
    still come from the sandbox. ``allow_unisolated=True`` grades even without OS-level
    isolation (see docs/INSTRUCTORS.md: only for submissions you trust).
    """
    c.TrustedGrades.allow_unisolated = allow_unisolated
    c.CourseDirectory.source_directory = "source"
    c.CourseDirectory.release_directory = "release"
    c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
    c.Execute.timeout = timeout
    c.Execute.allow_errors = True
    c.Autograde.autograde_preprocessors = [
        *([Execute] if execute else []),
        TrustedGrades,
        IgnorePattern,
        ClearMetadataPreprocessor,
        LimitOutput,
        SaveAutoGrades,
        AssignLatePenalties,
        CheckCellMetadata,
    ]
