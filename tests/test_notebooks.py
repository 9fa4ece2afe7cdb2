"""Every solution notebook runs end to end (smoke size, COURSE_QUICK=1), all checks passing."""

from __future__ import annotations

import pytest

from graders.execute import execute_week
from graders.release import weeks


@pytest.mark.slow
@pytest.mark.parametrize("week", weeks())
def test_solution_notebook_runs_end_to_end(week):
    run = execute_week(week, quick=True, timeout=900)
    errors = [
        o for c in run.notebook.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"
    ]
    assert not errors
    assert run.peak_memory_mb < 3000
