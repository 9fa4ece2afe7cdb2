"""Week 9: the shipped attention-only model has the induction head its card reports, quickly re-measured."""

from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F
from transformers import AutoModelForCausalLM

from courselib.models import MODELS_DIR
from courselib.world import train_induction
from graders.reference import load_reference

W09 = load_reference("w09_interpretability")
PATH = MODELS_DIR / "attn-only-2l"
CARD = json.loads((PATH / "eval_results.json").read_text())
N = 30  # sequences re-measured (the card uses 200)


@pytest.fixture(scope="module")
def model():
    return AutoModelForCausalLM.from_pretrained(PATH, local_files_only=True, attn_implementation="eager").eval()


@pytest.fixture(scope="module")
def run(model):
    train_induction.TOKENS_END = CARD["tokens_end"]
    ids = train_induction.repeated_tokens(CARD["eval"]["seed"], N, CARD["eval"]["rep_len"], model.config.vocab_size)
    with torch.no_grad():
        out = model(ids, output_attentions=True)
    return ids, out


def test_shipped_model_is_small_and_attention_only(model):
    assert (PATH / "model.safetensors").stat().st_size < 5_000_000
    for block in model.transformer.h:
        assert all(bool((p == 0).all()) for p in block.mlp.parameters())
    assert (model.config.n_layer, model.config.n_head) == (2, 4)


def test_card_numbers_reproduce(model, run):
    ids, out = run
    m = train_induction.measure(model, ids)
    assert abs(m["loss_second_copy"] - CARD["loss_second_copy"]) < 0.1
    assert abs(m["loss_first_copy"] - CARD["loss_first_copy"]) < 0.1
    torch.testing.assert_close(torch.tensor(m["induction"]), torch.tensor(CARD["induction"]), atol=0.03, rtol=0)
    torch.testing.assert_close(torch.tensor(m["prev_token"]), torch.tensor(CARD["prev_token"]), atol=0.03, rtol=0)
    readme = (PATH / "README.md").read_text()
    best = max(max(row) for row in CARD["induction"])
    assert f"{best:.3f}" in readme


def test_induction_head_scores_at_least_0_8_and_layer_0_attends_to_the_previous_token(run):
    ids, out = run
    n = CARD["eval"]["rep_len"]
    ind = torch.stack([W09.induction_score(a, n) for a in out.attentions])
    prev = torch.stack([W09.previous_token_score(a) for a in out.attentions])
    assert ind[1].max() >= 0.8  # the induction head is in layer 1
    assert ind[0].max() < 0.3  # layer 0 alone cannot do induction
    # layer 0's attention to the previous token is split over heads; together they carry most of it
    assert prev[0].sum() >= 0.6 and prev[1].max() < 0.2


def _second(ids, logits, n):
    return F.cross_entropy(logits[:, :-1].transpose(1, 2), ids[:, 1:], reduction="none")[:, n:].mean().item()


def test_ablating_the_circuit_raises_the_second_copy_loss(model, run):
    """All layer-1 induction heads together, and layer 0's strongest previous-token head, are each necessary."""
    ids, out = run
    n = CARD["eval"]["rep_len"]
    base = _second(ids, out.logits, n)
    ind = W09.induction_score(out.attentions[1], n)
    heads = [h for h in range(model.config.n_head) if ind[h] > 0.5]
    d_head = model.config.n_embd // model.config.n_head

    def hook(module, args):
        z = args[0].view(*args[0].shape[:-1], model.config.n_head, d_head).clone()
        z[..., heads, :] = 0.0
        return (z.view(args[0].shape),)

    handle = model.transformer.h[1].attn.c_proj.register_forward_pre_hook(hook)
    try:
        with torch.no_grad():
            all_ablated = _second(ids, model(ids).logits, n)
    finally:
        handle.remove()
    assert all_ablated > base + 3.0
    prev_head = int(W09.previous_token_score(out.attentions[0]).argmax())
    prev_ablated = _second(ids, W09.set_head_output(model, ids, 0, prev_head, torch.zeros(d_head)), n)
    assert prev_ablated > base + 0.5
