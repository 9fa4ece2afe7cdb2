"""Week 1: the numbers typed into the notebook's prose, asserted on the shipped world and models."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from courselib.models import load_model, load_tokenizer
from courselib.world import load_split
from graders.reference import load_reference

W01 = load_reference("w01_transformers")


def test_world_tokenizer_has_1024_entries():
    assert len(load_tokenizer("tiny-base")) == 1024  # "a byte-level BPE with 1,024 entries"; ln V ≈ 6.93


def test_tiny_base_shape_and_size():
    model = load_model("tiny-base")
    c = model.config
    assert (c.n_layer, c.n_head, c.n_embd) == (4, 4, 128)
    assert 0.8e6 < sum(p.numel() for p in model.parameters()) < 1.3e6  # "about a million parameters"


def test_gelu_tanh_approximation_error_is_about_5e_4():
    xs = torch.linspace(-5, 5, 401, dtype=torch.float64)
    worst = (W01.gelu_new(xs) - F.gelu(xs)).abs().max().item()
    assert 4e-4 < worst < 5.5e-4  # "about 5 × 10⁻⁴ at worst"


def test_context_of_96_tokens_holds_all_but_the_longest_dialogues():
    tokenizer = load_tokenizer("tiny-base")
    lengths = [len(tokenizer(r["text"])["input_ids"]) for r in load_split("train")]
    too_long = sum(n > 96 for n in lengths) / len(lengths)
    assert 0 <= too_long < 0.05
    assert math.isclose(math.log(1024), 6.93, abs_tol=0.005)


def test_three_training_runs_at_full_size():
    """ "the t-intervals over only three training runs are wide": TRAIN_SEEDS at full size."""
    from graders.reference import solution_source

    text = solution_source("w01_transformers").read_text(encoding="utf-8")
    assert "TRAIN_SEEDS = (0, 1, 2) if not quick() else (0, 1)" in text
    assert "over only three training runs" in text
