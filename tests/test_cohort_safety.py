"""The cohort pipeline's own defences, tested without a sandbox where they can be.

- ``configure(c, execute=True)`` (student notebooks executed in a kernel as the instructor,
  outside the sandbox) is refused, and so is a pipeline with nbgrader's ``Execute`` put back;
- student HTML is sanitised before the formgrader or the feedback shows it;
- duplicated or damaged grade cells are found before nbgrader sees them; and when nbgrader
  raises anyway on one submission, that submission alone is recorded with 0 and a reason;
- the summary lists the slow submissions.
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output, new_raw_cell
from nbgrader.preprocessors import Execute
from traitlets.config import Config

from graders.autograde import Submission, Summary, damaged_grade_cells, unreadable_reason
from graders.core import Result
from graders.isolation import probe
from graders.nbgrader_plugin import SanitizeStudentHTML, TrustedGrades, check_pipeline, configure
from graders.registry import week_exercises
from graders.release import run_nbgrader, write_nbgrader_sources


def test_execute_is_refused() -> None:
    with pytest.raises(ValueError, match="outside the sandbox"):
        configure(Config(), execute=True)
    c = Config()
    configure(c)
    assert Execute not in c.Autograde.autograde_preprocessors
    assert TrustedGrades in c.Autograde.autograde_preprocessors
    assert SanitizeStudentHTML in c.Autograde.autograde_preprocessors
    with pytest.raises(ValueError, match="Execute"):
        check_pipeline([Execute, *c.Autograde.autograde_preprocessors])


def test_the_repository_config_does_not_execute_submissions() -> None:
    text = (Path(__file__).parent.parent / "nbgrader_config.py").read_text()
    assert "execute=True" not in text and "Execute" not in text


def test_student_html_is_sanitised() -> None:
    payloads = [
        "<script>alert('pwned')</script>",
        '<img src=x onerror="pwned()">',
        '<a href="javascript:pwned()">click</a>',
        "<iframe src='https://evil.example'></iframe>",
        "<svg onload=pwned()>",
    ]
    locked_md = new_markdown_cell("<details><summary>Hint</summary>use <b>logsumexp</b></details>")
    locked_md.metadata["nbgrader"] = {"locked": True, "solution": False, "grade_id": "md1", "schema_version": 3}
    nb = new_notebook(
        cells=[
            new_markdown_cell("My answer\n\n> a quote\n\n" + "\n".join(payloads)),
            new_raw_cell("<script>pwned_raw()</script>"),
            new_code_cell(
                "x = 1",
                outputs=[
                    new_output(
                        "display_data",
                        data={
                            "text/html": "<script>pwned_html()</script><b>fine</b>",
                            "application/javascript": "pwned_js()",
                            "image/svg+xml": "<svg onload='pwned_svg()'/>",
                            "text/plain": "fine",
                        },
                    )
                ],
            ),
            locked_md,
        ]
    )
    nb.cells[0]["attachments"] = {"a.svg": {"image/svg+xml": "PHN2Zz4="}, "b.png": {"image/png": "iVBORw0KGgo="}}
    nb, _ = SanitizeStudentHTML()(nb, {})  # as nbconvert calls it (only when enabled)
    text = json.dumps(nb)
    for needle in ("<script", "javascript:", "<iframe", "<svg", "pwned_js", "image/svg+xml"):
        assert needle not in text, needle
    assert not re.search(r"<[a-z][^>]*\son\w+\s*=", text)  # no event handler left on a real tag
    assert "My answer" in nb.cells[0].source and "\n> a quote" in nb.cells[0].source
    assert "&lt;script&gt;" in nb.cells[0].source  # shown as text, not run
    assert "<b>fine</b>" in nb.cells[2].outputs[0].data["text/html"]
    assert list(nb.cells[0].attachments) == ["a.svg", "b.png"] and not nb.cells[0].attachments["a.svg"]
    assert nb.cells[3].source.startswith("<details>")  # the instructor's locked prose is left alone


def _meta(**extra: object) -> dict:
    return {"nbgrader": {"grade": True, "solution": False, "locked": True, "points": 1, "schema_version": 3, **extra}}


def test_damaged_grade_cells_are_named() -> None:
    def nb(*metas: dict) -> dict:
        return {"cells": [{"cell_type": "code", "metadata": m, "source": "", "outputs": []} for m in metas]}

    assert damaged_grade_cells(nb(_meta(grade_id="a"), _meta(grade_id="b"), {})) is None
    assert "second copy of the cell `a`" in damaged_grade_cells(nb(_meta(grade_id="a"), _meta(grade_id="a")))
    assert "damaged" in damaged_grade_cells(nb({"nbgrader": "x"}))
    assert "schema version 1" in damaged_grade_cells(nb(_meta(grade_id="a", schema_version=1)))
    assert "no grade id" in damaged_grade_cells(nb(_meta()))
    assert "points" in damaged_grade_cells(nb(_meta(grade_id="a", points="many")))


def test_unreadable_reasons(tmp_path: Path) -> None:
    (tmp_path / "empty.ipynb").write_text("")
    assert unreadable_reason(tmp_path / "empty.ipynb") == "the file is empty"
    (tmp_path / "broken.ipynb").write_text('{"cells": [')
    assert "not a valid notebook" in unreadable_reason(tmp_path / "broken.ipynb")
    big = new_notebook(cells=[new_code_cell("DATA = " + repr("x" * 6_000_000))])
    (tmp_path / "big.ipynb").write_text(json.dumps(big))
    assert "MB of code" in unreadable_reason(tmp_path / "big.ipynb")
    outputs = new_notebook(cells=[new_code_cell("x = 1", outputs=[new_output("stream", text="y" * 12_000_000)])])
    (tmp_path / "outputs.ipynb").write_text(json.dumps(outputs))
    assert unreadable_reason(tmp_path / "outputs.ipynb") is None  # outputs are not graded: no limit on them here


def test_summary_lists_the_slow_submissions() -> None:
    def sub(name: str, seconds: float, stopped: bool = False) -> Submission:
        feedback = ["✗ x: your code did not finish within 60 s of wall-clock time"] if stopped else ["✓ x"]
        s = Submission(name, "nb", Path(name), ["x"], results=[Result("x", 0.0, 1.0, False, feedback)])
        s.seconds = seconds
        return s

    summary = Summary("w", "mode", [sub("quick", 3), sub("slowpoke", 45), sub("hung", 61, True)], 70, [], 60, 30)
    text = summary.text()
    assert "slow to grade" in text and text.index("hung") < text.index("slowpoke")
    assert "(stopped at its budget)" in text and "quick" not in text


WEEK = "w00_orientation"


@pytest.mark.slow
@pytest.mark.skipif(not probe().os_isolated, reason="autograding refuses to run without bubblewrap")
def test_nbgrader_failing_on_one_submission_costs_that_submission_only(tmp_path: Path, monkeypatch) -> None:
    """With the pre-check switched off, damaged metadata reaches nbgrader, which raises on it:
    that student gets 0 and a reason, and the student sorted after it is still recorded."""
    import graders.autograde as ag

    monkeypatch.setattr(ag, "damaged_grade_cells", lambda nb: None)
    root = tmp_path / "course"
    write_nbgrader_sources(root, [WEEK])
    run_nbgrader(root, "generate_assignment", WEEK, "--force")
    source = json.loads((root / "source" / WEEK / f"{WEEK}.ipynb").read_text())
    damaged = json.loads(json.dumps(source))
    for cell in damaged["cells"]:
        if cell["metadata"].get("nbgrader", {}).get("grade"):
            cell["metadata"]["nbgrader"]["schema_version"] = 1
    for student, nb in {"aaron": damaged, "alice": source}.items():
        folder = root / "submitted" / student / WEEK
        folder.mkdir(parents=True)
        (folder / f"{WEEK}.ipynb").write_text(json.dumps(nb))
    summary = ag.autograde(WEEK, 1, course_root=root, progress=False)
    assert not summary.nbgrader_errors, summary.text()
    run_nbgrader(root, "export", "--to", str(tmp_path / "grades.csv"))
    with open(tmp_path / "grades.csv") as f:
        scores = {row["student_id"]: float(row["score"]) for row in csv.DictReader(f)}
    assert scores == {"aaron": 0.0, "alice": float(sum(e.points for e in week_exercises(WEEK)))}, summary.text()
    assert "aaron" in summary.text() and "nbgrader could not record it" in summary.text()
