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


def test_induction_head_scores_at_least_0_8_and_is_fed_by_a_previous_token_head(run):
    ids, out = run
    n = CARD["eval"]["rep_len"]
    ind = torch.stack([W09.induction_score(a, n) for a in out.attentions])
    prev = torch.stack([W09.previous_token_score(a) for a in out.attentions])
    assert ind[1].max() >= 0.8  # the induction head is in layer 1
    assert prev[0].max() >= 0.5  # a previous-token head in layer 0
    assert ind[0].max() < 0.3  # layer 0 alone cannot do induction


def test_ablating_the_induction_head_raises_the_second_copy_loss(model, run):
    ids, out = run
    n = CARD["eval"]["rep_len"]
    ind = torch.stack([W09.induction_score(a, n) for a in out.attentions])
    layer, head = divmod(int(ind.argmax()), model.config.n_head)

    def second(logits):
        return F.cross_entropy(logits[:, :-1].transpose(1, 2), ids[:, 1:], reduction="none")[:, n:].mean().item()

    d_head = model.config.n_embd // model.config.n_head
    ablated = second(W09.set_head_output(model, ids, layer, head, torch.zeros(d_head)))
    assert ablated > second(out.logits) + 1.0
