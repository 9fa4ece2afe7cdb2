"""Run-size settings shared by every notebook.

``COURSE_QUICK=1`` shrinks training runs and sweeps to a smoke test: the test suite executes
every solution notebook that way, while the benchmark and students run the full size.
"""

from __future__ import annotations

import os


def quick() -> bool:
    """True when notebooks should run their smallest configuration (tests, CI)."""
    return os.environ.get("COURSE_QUICK", "") not in ("", "0")


def scale(full: int, quick_value: int) -> int:
    """``full`` normally, ``quick_value`` under ``COURSE_QUICK=1``: ``STEPS = scale(600, 20)``."""
    return quick_value if quick() else full
