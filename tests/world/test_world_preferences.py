"""Preference pairs follow the gold reward, and label noise flips pairs at the asked rate."""

from __future__ import annotations

import math

import pytest

from courselib.world import load_preferences, load_split, make_preference_pairs


@pytest.fixture(scope="module")
def train_records() -> list[dict]:
    return load_split("train")


def test_committed_pairs_match_the_function(train_records: list[dict]) -> None:
    assert load_preferences("train") == make_preference_pairs(train_records, noise=0.0, seed=0)


def test_clean_pairs_prefer_the_higher_gold_reward() -> None:
    for split in ("train", "val", "test"):
        pairs = load_preferences(split)
        assert len(pairs) > 0
        for p in pairs:
            assert not p["flipped"]
            assert p["chosen_reward"] > p["rejected_reward"]
            assert p["prompt"].startswith("User: ") and p["prompt"].endswith("\nAssistant:")
            assert p["chosen"].startswith(" ") and p["rejected"].startswith(" ")
            assert "<|endoftext|>" not in p["chosen"] + p["rejected"]


@pytest.mark.parametrize("noise", [0.1, 0.3, 0.5])
def test_label_noise_rate_is_honoured(train_records: list[dict], noise: float) -> None:
    pairs = make_preference_pairs(train_records, noise=noise, seed=1)
    n = len(pairs)
    flipped = sum(p["flipped"] for p in pairs)
    sigma = math.sqrt(n * noise * (1 - noise))
    assert abs(flipped - n * noise) < 4 * sigma
    for p in pairs:
        assert (p["chosen_reward"] < p["rejected_reward"]) == p["flipped"]


def test_noise_only_flips_the_same_pairs(train_records: list[dict]) -> None:
    clean = make_preference_pairs(train_records, noise=0.0, seed=7)
    noisy = make_preference_pairs(train_records, noise=0.4, seed=7)
    for c, d in zip(clean, noisy, strict=True):
        if d["flipped"]:
            assert (c["chosen"], c["rejected"]) == (d["rejected"], d["chosen"])
        else:
            assert (c["chosen"], c["rejected"]) == (d["chosen"], d["rejected"])
    assert load_preferences("val", noise=0.2, seed=3) == load_preferences("val", noise=0.2, seed=3)


def test_bad_noise_is_rejected(train_records: list[dict]) -> None:
    with pytest.raises(ValueError):
        make_preference_pairs(train_records[:10], noise=1.5)
