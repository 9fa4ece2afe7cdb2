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

from graders.release import CHECK_CALL
from graders.sandbox import check_file


class TrustedGrades(NbGraderPreprocessor):
    """Replace every grade cell's outputs with the sandbox's verdict on the submitted code."""

    def preprocess(self, nb: NotebookNode, resources: dict[str, Any]) -> tuple[NotebookNode, dict[str, Any]]:
        cells = [
            (cell, sorted(set(CHECK_CALL.findall(cell.source))))
            for cell in nb.cells
            if cell.cell_type == "code" and cell.metadata.get("nbgrader", {}).get("grade")
        ]
        exercise_ids = sorted({i for _, ids in cells for i in ids})
        results = {}
        if exercise_ids:
            with tempfile.TemporaryDirectory(prefix="autograde-") as tmp:
                path = Path(tmp) / "submission.ipynb"
                with open(path, "w", encoding="utf-8") as f:
                    write(nb, f)
                results = {r.exercise: r for r in check_file(path, exercise_ids)}
        for cell, ids in cells:
            if not ids:
                continue
            outputs = []
            failed = []
            for exercise_id in ids:
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


def configure(c: Any, execute: bool = False, timeout: int = 600) -> None:
    """Apply the course's nbgrader settings to a traitlets config ``c``.

    Call it from ``nbgrader_config.py``. ``execute=True`` also runs the student's notebook in a
    kernel (as stock nbgrader does) so that autograded notebooks show their plots; the grades
    still come from the sandbox.
    """
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
