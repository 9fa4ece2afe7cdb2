"""A hostile cohort: one ``graders autograde w05_dpo`` run over honest and hostile submissions.

Honest students (the reference, the untouched release, a partly right answer, a reference with
13 MB of outputs, a reference whose markdown holds a ``<script>``, a right answer that prints a
million lines) keep exactly the grades they would get alone. Every hostile one scores 0 on what it
attacks, with a one-line reason in its feedback or in the summary, and the run ends within a
bound. Hostile submissions come from two places:

- ``tests/hostile/*.py``: Python source whose FIRST line is ``# expect: <substring of the reason>``,
  appended as a code cell to the released notebook (the rest of the notebook kept); every w05
  exercise the file defines must score 0 and the substring must appear in its feedback;
- the attacks below that only a whole notebook can express: a pasted check cell (duplicate
  grade id), damaged nbgrader metadata, 6 MB of code, a filled ``/tmp``, a FIFO where the child
  writes its results (it hangs itself until its budget), results too large or too deep.
"""

from __future__ import annotations

import ast
import csv
import json
import time
from pathlib import Path
from typing import Any

import pytest
from hostile_support import defined_names, expected_reasons, hostile_files

from graders.isolation import probe
from graders.registry import week_exercises
from graders.release import run_nbgrader, write_nbgrader_sources

WEEK = "w05_dpo"
REPORT = probe()
BUDGET = 60.0  # each student's wall-clock budget in this run
XSS = '<script>alert("pwned-xss")</script> <img src=x onerror="pwned_onerror()">'


def _cells_text(cell: dict[str, Any]) -> str:
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def _code_cell(source: str) -> dict[str, Any]:
    return {"cell_type": "code", "metadata": {}, "source": source, "outputs": [], "execution_count": None}


def _appended(nb: dict[str, Any], source: str) -> str:
    nb = json.loads(json.dumps(nb))
    nb["cells"].append(_code_cell(source))
    return json.dumps(nb)


def _edited(nb: dict[str, Any], function: str, body: str) -> dict[str, Any]:
    """``nb`` with ``body`` inserted at the top of ``function``'s body (after its docstring)."""
    nb = json.loads(json.dumps(nb))
    for cell in nb["cells"]:
        src = _cells_text(cell)
        if f"def {function}(" in src and cell["metadata"].get("nbgrader", {}).get("solution"):
            head, sep, rest = src.partition('    """\n')  # the end of the docstring
            assert sep, function
            cell["source"] = head + sep + body + rest
            return nb
    raise AssertionError(f"no solution cell defines {function}")


def _hostile_files() -> dict[str, tuple[str, list[str]]]:
    """student id → (source, expected reasons) for each ``tests/hostile/*.py`` that attacks this
    week (the others attack weeks 11 and 12: tests/test_no_answers_in_sandbox.py grades them)."""
    functions = {e.function for e in week_exercises(WEEK)}
    out = {}
    for path in hostile_files():
        text = path.read_text(encoding="utf-8")
        if defined_names(text) & functions:
            out[f"file-{path.stem}"] = (text, expected_reasons(path))
    return out


def _defined(source: str) -> set[str]:
    return {n.name for n in ast.parse(source).body if isinstance(n, (ast.FunctionDef, ast.ClassDef))}


def _cohort(source: dict[str, Any], release: dict[str, Any]) -> dict[str, tuple[str, float | None, str]]:
    """student id → (notebook text, expected total or None for 'every exercise it attacks is 0', reason)."""
    total = float(sum(e.points for e in week_exercises(WEEK)))
    points = {e.function: e.points for e in week_exercises(WEEK)}
    partial_loss = points["dpo_loss"] + points["dpo_batch_loss"] + points["dpo_train_step"]

    sign_flip = json.loads(json.dumps(source).replace("return -F.logsigmoid(", "return F.logsigmoid("))
    outputs = json.loads(json.dumps(source))
    for cell in outputs["cells"]:
        if cell["cell_type"] == "code":
            cell["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "z" * 650_000}]
    xss = json.loads(json.dumps(source))
    xss["cells"].insert(3, {"cell_type": "markdown", "metadata": {}, "source": f"My notes {XSS}"})
    printer = _edited(
        source,
        "dpo_loss",
        "    if not getattr(dpo_loss, 'printed', False):  # the first call prints a million debug lines\n"
        "        dpo_loss.printed = True\n"
        "        for i in range(10**6):\n            print('debug', i, 'x' * 60)\n",
    )

    duplicate = json.loads(json.dumps(source))
    check = next(c for c in duplicate["cells"] if c["metadata"].get("nbgrader", {}).get("grade_id") == "check_dpo_loss")
    duplicate["cells"].append(json.loads(json.dumps(check)))
    damaged = json.loads(json.dumps(source))
    next(c for c in damaged["cells"] if c["metadata"].get("nbgrader", {}).get("grade"))["metadata"]["nbgrader"][
        "schema_version"
    ] = 1
    garbled = json.loads(json.dumps(source))
    next(c for c in garbled["cells"] if c["metadata"].get("nbgrader", {}).get("grade"))["metadata"]["nbgrader"] = "x"

    members: dict[str, tuple[str, float | None, str]] = {
        "honest-reference": (json.dumps(source), total, ""),
        "honest-stub": (json.dumps(release), 0.0, ""),
        "honest-partial": (json.dumps(sign_flip), total - partial_loss, ""),
        "honest-13mb-outputs": (json.dumps(outputs), total, ""),
        "honest-markdown-script": (json.dumps(xss), total, ""),
        "honest-million-lines": (json.dumps(printer), total, "printed"),
        "attack-duplicate-check-cell": (json.dumps(duplicate), 0.0, "second copy"),
        "attack-damaged-metadata": (json.dumps(damaged), 0.0, "damaged"),
        "attack-garbled-metadata": (json.dumps(garbled), 0.0, "damaged"),
        "attack-6mb-code": (_appended(source, "DATA = " + repr("x" * 6_000_000)), 0.0, "MB of code"),
        "attack-fill-tmp": (
            _appended(
                release,
                "import os\n\ndef dpo_loss(*args, **kwargs):\n    n = 0\n    while True:\n"
                "        with open('fill-%d' % n, 'wb') as f:  # its scratch folder, on its private /tmp\n"
                "            f.write(b'x' * 2**24)\n        n += 1\n",
            ),
            None,
            "space left",
        ),
        "attack-fifo": (
            _appended(
                release,
                "import os\n\ndef sequence_logprobs(*args, **kwargs):\n"
                "    for name in ('stderr.txt', 'w05_dpo.sequence_logprobs.json', 'w05_dpo.dpo_train_step.json'):\n"
                "        if not os.path.exists(name):\n            os.mkfifo(name)\n"
                "    raise RuntimeError('planted')\n",
            ),
            None,
            "did not finish within",
        ),
        "attack-huge-result": (
            _appended(release, "def dpo_loss(*args, **kwargs):\n    return 'x' * 10**7\n"),
            None,
            "far larger than expected",
        ),
        "attack-deep-result": (
            _appended(
                release,
                "def dpo_loss(*args, **kwargs):\n    v = 1\n    for _ in range(300):\n        v = [v]\n    return v\n",
            ),
            None,
            "nested",
        ),
    }
    for student, (text, reason) in _hostile_files().items():
        members[student] = (_appended(release, text), None, reason)
    return members


@pytest.mark.slow
@pytest.mark.skipif(not REPORT.os_isolated, reason=f"bubblewrap cannot run here: {REPORT.bwrap_error}")
def test_hostile_cohort(tmp_path: Path) -> None:
    from graders.autograde import autograde

    root = tmp_path / "course"
    write_nbgrader_sources(root, [WEEK])
    run_nbgrader(root, "generate_assignment", WEEK, "--force")
    source = json.loads((root / "source" / WEEK / f"{WEEK}.ipynb").read_text())
    release = json.loads((Path(__file__).parent.parent / "course" / WEEK / f"{WEEK}.ipynb").read_text())
    members = _cohort(source, release)
    for student, (text, _expected, _reason) in members.items():
        folder = root / "submitted" / student / WEEK
        folder.mkdir(parents=True)
        (folder / f"{WEEK}.ipynb").write_text(text)

    started = time.monotonic()
    summary = autograde(WEEK, 2, course_root=root, progress=False, budget_seconds=BUDGET, slow_seconds=BUDGET / 2)
    wall = time.monotonic() - started
    text = summary.text()
    print(f"{wall:.0f} s\n{text}")
    assert not summary.nbgrader_errors, text
    assert wall < 300, f"the cohort took {wall:.0f} s\n{text}"

    run_nbgrader(root, "export", "--to", str(tmp_path / "grades.csv"))
    with open(tmp_path / "grades.csv") as f:
        scores = {row["student_id"]: float(row["score"]) for row in csv.DictReader(f)}
    by_student = {s.student: s for s in summary.submissions}
    functions = {e.function: e.id for e in week_exercises(WEEK)}
    problems = []
    for student, (_notebook, expected, reason) in members.items():
        sub = by_student[student]
        feedback = "\n".join(line for r in sub.results for line in r.feedback)
        if student.startswith("file-"):
            attacked = {functions[f] for f in _defined(_hostile_files()[student][0]) if f in functions}
            assert attacked, f"{student} defines no {WEEK} exercise"
            for r in sub.results:
                if r.exercise in attacked and r.points != 0:
                    problems.append(f"{student}: {r.exercise} scored {r.points}")
            feedback = "\n".join(line for r in sub.results if r.exercise in attacked for line in r.feedback)
        elif expected is None:
            if scores.get(student) != 0.0:
                problems.append(f"{student}: scored {scores.get(student)}, expected 0")
        elif scores.get(student) != expected:
            problems.append(f"{student}: scored {scores.get(student)}, expected {expected}\n{feedback[:1500]}")
        reasons = [reason] if isinstance(reason, str) else reason or []
        said = feedback + (sub.unreadable or "")
        if reasons and not any(r in said for r in reasons):
            problems.append(f"{student}: {reason!r} is not in its feedback:\n{feedback[:1500]}")
        for r in sub.results:
            assert sum(len(line) for line in r.feedback) < 25_000, (student, r.exercise)
    assert not problems, "\n".join(problems) + "\n" + text

    # the refused ones are listed with their reason, the slow one too
    for student in ("attack-duplicate-check-cell", "attack-damaged-metadata", "attack-6mb-code"):
        assert student in text, text
    assert "slow to grade" in text and "attack-fifo" in {s.student for s in summary.slow()}, text

    # what the formgrader and the feedback show is sanitised; reasons reach the feedback
    run_nbgrader(root, "generate_feedback", WEEK)
    for student in ("honest-markdown-script",):
        html = (root / "feedback" / student / WEEK / f"{WEEK}.html").read_text()
        graded = (root / "autograded" / student / WEEK / f"{WEEK}.ipynb").read_text()
        assert "My notes" in html
        for payload in ('<script>alert("pwned-xss")', "pwned_onerror"):
            assert payload not in html and payload not in graded.replace("\\", ""), payload
    html = (root / "feedback" / "attack-duplicate-check-cell" / WEEK / f"{WEEK}.html").read_text()
    assert "second copy" in html
