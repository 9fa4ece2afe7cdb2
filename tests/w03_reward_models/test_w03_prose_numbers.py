"""Numbers and helpers behind week 3's prose, asserted here."""

from __future__ import annotations

import re

from courselib.world import load_preferences
from graders.reference import load_reference, solution_source

W03 = load_reference("w03_reward_models")


def _source() -> str:
    return solution_source("w03_reward_models").read_text(encoding="utf-8")


def test_training_run_sees_under_a_fifth_of_an_epoch():
    text = _source()
    steps = int(re.search(r"^STEPS = scale\((\d+),", text, re.MULTILINE).group(1))
    batch = int(re.search(r"^BATCH = scale\((\d+),", text, re.MULTILINE).group(1))
    lr = float(re.search(r"^LR = ([0-9.e-]+)$", text, re.MULTILINE).group(1))
    n = len(load_preferences("train"))
    assert (steps, batch, lr, n) == (24, 16, 2e-3, 2400)
    assert "24\n# steps of 16 pairs at a learning rate of 2e-3: under a fifth of an epoch" in text
    assert steps * batch / n < 1 / 5
    assert "tokenizing all 2,400 would only cost time" in text


def test_noise_sweep_has_at_least_three_seeds_at_full_size():
    text = _source()
    assert re.search(r"^SEEDS = list\(range\(scale\(3, 2\)\)\)", text, re.MULTILINE)
    assert "NOISES = [0.0, 0.2, 0.4] if not quick()" in text


def test_flip_labels_reproduces_the_worlds_noisy_pairs_for_seed_0():
    clean = load_preferences("train")
    encoded = [((i,), (-i - 1,)) for i in range(len(clean))]  # stand-ins for token ids
    for noise in (0.2, 0.4):
        noisy = load_preferences("train", noise=noise)
        flipped = [c[0] < 0 for c, _ in W03.flip_labels(encoded, noise, seed=0)]
        assert flipped == [p["flipped"] for p in noisy]
    assert W03.flip_labels(encoded, 0.0, seed=5) == encoded
    assert W03.flip_labels(encoded, 0.4, seed=1) != W03.flip_labels(encoded, 0.4, seed=2)


def test_t_interval_matches_scipy():
    stats = __import__("pytest").importorskip("scipy.stats")
    values = [0.71, 0.74, 0.69]
    mean, half = W03.mean_and_t_interval(values)
    lo, hi = stats.t.interval(0.95, len(values) - 1, loc=mean, scale=stats.sem(values))
    assert abs(mean - lo - half) < 1e-3 and abs(hi - mean - half) < 1e-3


def test_probe_ablation_sees_several_times_the_reward_models_pairs():
    """ "all of them: several times what the reward model saw above": every helpfulness pair vs STEPS × BATCH."""
    text = _source()
    assert "help_train = help_train[: scale(len(help_train), 120)]" in text  # all of them at full size
    assert "PROBE_SIZES = sorted({scale(150, 40), scale(450, 80), len(help_train)})" in text
    helpfulness = [p for p in load_preferences("train") if p["rejected_kind"] not in {"harmful_compliance", "pii_leak"}]
    assert len(helpfulness) >= 3 * 24 * 16
    assert len(helpfulness) > 450
