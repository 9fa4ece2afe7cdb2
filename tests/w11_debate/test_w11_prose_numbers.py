"""Week 11: the numbers typed into the notebook's prose, asserted on the data, the code and the paper.

Every measured number of the week is printed from variables by the notebook itself; what remains
typed into the markdown is listed here: facts about the bundled digits, run settings named in the
prose, and the paper's numbers quoted for context (which must agree with ``PAPER``, the dict the
notebook's table and plot use).
"""

from __future__ import annotations

import inspect
import re

import torch
from sklearn.datasets import load_digits

from graders.reference import REPO_ROOT, load_reference

W11 = load_reference("w11_debate")
SOURCE = (REPO_ROOT / "solutions" / "w11_debate" / "w11_debate.py").read_text()


def _markdown() -> str:
    """The prose of the notebook: every markdown cell, comment markers removed."""
    cells = re.split(r"^# %%.*$", SOURCE, flags=re.M)
    heads = re.findall(r"^# %%.*$", SOURCE, flags=re.M)
    prose = [body for head, body in zip(heads, cells[1:]) if "[markdown]" in head]
    return "\n".join(re.sub(r"^# ?", "", line) for body in prose for line in body.splitlines())


PROSE = " ".join(_markdown().split())  # one line: sentences wrap across comment lines


def _digits() -> tuple[torch.Tensor, torch.Tensor]:
    data = load_digits()
    return torch.tensor(data.images), torch.tensor(data.target)


def test_the_digits_are_as_described():
    images, labels = _digits()
    assert "1,797 images of $8\\times 8$ pixels with 17 grey levels" in PROSE
    assert "1,797 handwritten digits of $8\\times 8$ pixels with intensities 0–16" in PROSE
    assert images.shape == (1797, 8, 8) and len(labels) == 1797
    assert set(images.unique().int().tolist()) == set(range(17))  # 17 grey levels, 0–16


def test_nonzero_pixels_per_digit_about_33_at_least_16():
    assert "about 33 nonzero pixels out of 64 (at least 16)" in PROSE
    assert "6 random ink pixels out of about 33" in PROSE
    images, _ = _digits()
    ink = (images > 0).sum((1, 2)).float()
    assert round(ink.mean().item()) == 33 and int(ink.min()) == 16


def test_about_30_legal_pixels_in_a_debate_and_30_by_30_positions_for_depth_two():
    assert "about 30 legal pixels" in PROSE and "about $30 \\times 30$ positions per move" in PROSE
    images, _ = _digits()
    ink = (images > 0).sum((1, 2)).float().mean().item()
    for shown in range(6):  # moves of a k = 6 debate: the ink not yet revealed
        assert 25 <= ink - shown <= 35


def test_a_digit_pixel_covers_about_twelve_mnist_pixels():
    assert "about twelve MNIST pixels" in PROSE and "70,000 images of $28\\times 28$" in PROSE
    assert round(28 * 28 / (8 * 8)) == 12


def test_held_out_digits_and_gpu_settings_named_in_the_prose():
    assert "hold out 500 digits" in PROSE and "With 500 digits a 95% interval" in PROSE
    assert W11.N_HELD_OUT == 500
    assert "A GPU run (`search_depth = 3`, all 500 digits)" in PROSE
    assert re.search(r"^search_depth = 3 if use_gpu else 2$", SOURCE, flags=re.M)
    assert re.search(r"^SEARCH_GAMES = scale\(N_HELD_OUT if use_gpu else", SOURCE, flags=re.M)


def test_strongest_precommitted_lie_uses_32_draws():
    assert "most often over 32 simulated draws" in PROSE
    assert W11.LIE_DRAWS == 32
    assert "range(LIE_DRAWS)" in inspect.getsource(W11.random_pixel_outcomes)


def test_judge_trained_on_k_from_2_to_10():
    assert "different $k$ from 2 to 10" in PROSE
    ks = inspect.signature(W11.train_judge).parameters["ks"].default
    assert (min(ks), max(ks)) == (2, 10)


def test_a_95_percent_interval_on_500_digits_is_several_points_wide():
    for accuracy in (0.5, 0.8, 0.9):
        lo, hi = W11.wilson_interval(round(accuracy * 500), 500)
        assert hi - lo > 0.05  # "several points wide"


def test_quoted_paper_numbers_match_the_table_and_plot():
    """Irving et al. (2018), MNIST with precommitment: judge alone / debate at k = 4 and 6."""
    paper = W11.PAPER
    assert (paper[6]["judge alone"], paper[6]["debate"]) == ("59.4%", "88.9%")
    assert (paper[4]["judge alone"], paper[4]["debate"]) == ("48.2%", "85.2%")
    assert "With $k = 6$ pixels the judge alone is right 59.4% of the time, and after a debate 88.9%" in PROSE
    assert "with $k = 4$, 48.2% → 85.2%" in PROSE
    assert "The paper's 59.4% → 88.9% is on" in PROSE
    quoted = set(re.findall(r"\d+\.\d%", PROSE))
    assert quoted == {v for row in paper.values() for v in row.values()}  # no other percentage is typed in


def test_no_measured_percentage_or_count_is_typed_into_the_prose():
    """Percentages in the prose are the paper's (above); the rest are settings or hypothetical."""
    whole_percent = set(re.findall(r"(?<![\d.])\d+%", PROSE))
    assert whole_percent <= {"95%", "10%", "98%"}  # 95% intervals; chance of ten classes; interview Q6
