"""The instructor's flow, end to end: generate → submit → autograde → export.

Submissions: the reference notebook (full marks), the untouched student notebook (0), the
reference with a warning printed to stderr in every graded function (still full marks: stock
nbgrader would give 0), and a student who overrides ``check`` in their notebook hoping to pass
stubs (0: the grades come from the sandbox, not from the notebook's kernel).
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest

from graders.registry import week_exercises
from graders.release import run_nbgrader, write_nbgrader_sources

WEEK = "w00_orientation"


def _isolated() -> bool:
    from graders.isolation import probe

    return probe().os_isolated or bool(__import__("os").environ.get("CI"))  # CI must have bubblewrap: fail there


@pytest.mark.slow
@pytest.mark.skipif(not _isolated(), reason="autograding refuses to run without bubblewrap (graders doctor)")
def test_generate_submit_autograde_export(tmp_path: Path):
    root = tmp_path / "course"
    write_nbgrader_sources(root, [WEEK])
    run_nbgrader(root, "generate_assignment", WEEK, "--force")
    source = json.loads((root / "source" / WEEK / f"{WEEK}.ipynb").read_text())
    release = json.loads((root / "release" / WEEK / f"{WEEK}.ipynb").read_text())

    noisy = json.loads(json.dumps(source))
    for cell in noisy["cells"]:
        if cell["metadata"].get("nbgrader", {}).get("solution"):
            src = "".join(cell["source"])
            cell["source"] = src.replace(
                '    """\n', '    """\n    import warnings\n    warnings.warn("debugging output on stderr")\n', 1
            )
            cell["outputs"] = [{"output_type": "stream", "name": "stderr", "text": "UserWarning: noise\n"}]
    cheater = json.loads(json.dumps(release))
    cheater["cells"].insert(
        2,
        {
            "cell_type": "code",
            "metadata": {},
            "source": "check = lambda *a, **k: None\n",
            "outputs": [],
            "execution_count": None,
        },
    )

    for student, nb in {"alice": source, "bob": release, "carol": noisy, "dave": cheater}.items():
        folder = root / "submitted" / student / WEEK
        folder.mkdir(parents=True)
        (folder / f"{WEEK}.ipynb").write_text(json.dumps(nb))

    run_nbgrader(root, "autograde", WEEK, "--force")
    run_nbgrader(root, "export", "--to", str(tmp_path / "grades.csv"))
    with open(tmp_path / "grades.csv") as f:
        scores = {row["student_id"]: float(row["score"]) for row in csv.DictReader(f)}
    total = float(sum(e.points for e in week_exercises(WEEK)))
    assert scores == {"alice": total, "bob": 0.0, "carol": total, "dave": 0.0}

    graded = json.loads((root / "autograded" / "alice" / WEEK / f"{WEEK}.ipynb").read_text())
    feedback = [
        "".join(o.get("text", ""))
        for c in graded["cells"]
        if c["metadata"].get("nbgrader", {}).get("grade")
        for o in c["outputs"]
    ]
    assert feedback and all("✓" in f for f in feedback)

    from graders.cohort import exercise_report

    report = exercise_report(root / "gradebook.db", WEEK)
    assert {r["exercise"] for r in report} == {e.id for e in week_exercises(WEEK)}
    assert all(r["submissions"] == 4 and abs(r["pass_rate"] - 0.5) < 1e-9 for r in report)
    shutil.rmtree(root, ignore_errors=True)
