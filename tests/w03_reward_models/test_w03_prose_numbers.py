"""Numbers typed into week 3's prose that come from the run's configuration, asserted here."""

from __future__ import annotations

import re

from courselib.world import load_preferences
from graders.reference import solution_source


def test_training_run_sees_under_a_third_of_an_epoch():
    text = solution_source("w03_reward_models").read_text(encoding="utf-8")
    steps = int(re.search(r"^STEPS = scale\((\d+),", text, re.MULTILINE).group(1))
    batch = int(re.search(r"^BATCH = scale\((\d+),", text, re.MULTILINE).group(1))
    n = len(load_preferences("train"))
    assert (steps, batch, steps * batch, n) == (48, 16, 768, 2400)
    assert "768 of the 2,400 training pairs" in text and steps * batch / n < 1 / 3
