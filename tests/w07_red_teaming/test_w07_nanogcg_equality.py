"""Week 7's GCG equals nanoGCG's on the same model, tokens and random draws; κ equals scikit-learn's.

nanoGCG 0.3.0 pins transformers<=4.47.1 (the course's stack is newer), so it is not installed: the
test runs a verbatim copy of its three functions (``nanogcg_0_3_0_quoted.py``, header: source and
checksum) with a stand-in for the ``GCG`` object that holds exactly the attributes they read.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from sklearn.metrics import cohen_kappa_score

from graders import load_reference
from graders.weeks.fixtures import tiny_gpt2, tiny_gpt2_state

QUOTED = Path(__file__).with_name("nanogcg_0_3_0_quoted.py")
VOCAB = 40


@pytest.fixture(scope="module")
def ref():
    return load_reference("w07_red_teaming")


@pytest.fixture(scope="module")
def nanogcg():
    spec = importlib.util.spec_from_file_location("nanogcg_quoted", QUOTED)
    module = importlib.util.module_from_spec(spec)
    sys.modules["nanogcg_quoted"] = module
    spec.loader.exec_module(module)
    return module


def _model(seed: int):
    state = tiny_gpt2_state(seed, vocab_size=VOCAB, lm_head=True, scale=0.5, unit_weight_suffix="ln_f.weight")
    return tiny_gpt2(VOCAB, lm_head=True, state=state)


def _gcg_object(model, ids: torch.Tensor, s0: int, s1: int, t0: int):
    """The attributes of nanoGCG's GCG object that its gradient and loss methods read (no prefix cache)."""
    emb = model.get_input_embeddings()
    return SimpleNamespace(
        model=model,
        embedding_layer=emb,
        prefix_cache=None,
        before_embeds=emb(ids[None, :s0]),
        after_embeds=emb(ids[None, s1:t0]),
        target_embeds=emb(ids[None, t0:]),
        target_ids=ids[None, t0:],
        config=SimpleNamespace(use_mellowmax=False, early_stop=False),
    )


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_token_gradient_equals_nanogcg(ref, nanogcg, seed):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(2, VOCAB, (14,), generator=g)
    s0, s1, t0 = 3, 9, 11  # prompt, suffix, the assistant tag, then the target up to the end
    model = _model(seed)
    ours = ref.gcg_token_gradients(model, ids, (s0, s1), (t0, len(ids)))
    theirs = nanogcg.compute_token_gradient(_gcg_object(model, ids, s0, s1, t0), ids[None, s0:s1])[0]
    assert ours.shape == (s1 - s0, VOCAB)
    torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_candidates_equal_nanogcg_sample_ids_from_grad(ref, nanogcg, seed):
    g = torch.Generator().manual_seed(100 + seed)
    n_tokens, width, topk = 8, 32, 5
    grad, ids = torch.randn(n_tokens, VOCAB, generator=g), torch.randint(0, VOCAB, (n_tokens,), generator=g)
    torch.manual_seed(seed)
    theirs = nanogcg.sample_ids_from_grad(ids, grad.clone(), width, topk=topk, n_replace=1, not_allowed_ids=None)
    torch.manual_seed(seed)  # replay nanoGCG's two draws: positions (argsort of uniforms), then ranks
    positions = torch.argsort(torch.rand((width, n_tokens)))[..., :1][:, 0]
    ranks = torch.randint(0, topk, (width, 1, 1))[:, 0, 0]
    ours = ref.gcg_candidates(grad, ids, topk, positions, ranks)
    assert torch.equal(ours, theirs)


@pytest.mark.parametrize("seed", [0, 1])
def test_gcg_step_losses_equal_nanogcg_candidate_losses(ref, nanogcg, seed):
    g = torch.Generator().manual_seed(200 + seed)
    ids = torch.randint(2, VOCAB, (13,), generator=g)
    s0, s1, t0, width, topk = 2, 8, 10, 16, 4
    model = _model(10 + seed)
    positions = torch.randint(0, s1 - s0, (width,), generator=g)
    ranks = torch.randint(0, topk, (width,), generator=g)
    new_ids, losses = ref.gcg_step(model, ids, (s0, s1), (t0, len(ids)), topk, positions, ranks)
    grad = ref.gcg_token_gradients(model, ids, (s0, s1), (t0, len(ids)))
    batch = ids.repeat(width, 1)
    batch[:, s0:s1] = ref.gcg_candidates(grad, ids[s0:s1], topk, positions, ranks)
    gcg = _gcg_object(model, ids, s0, s1, t0)
    theirs = nanogcg._compute_candidates_loss_original(gcg, 7, model.get_input_embeddings()(batch))
    torch.testing.assert_close(losses, theirs, rtol=1e-5, atol=1e-6)
    assert torch.equal(new_ids, batch[theirs.argmin()])  # nanoGCG keeps the argmin too


@pytest.mark.parametrize("seed", range(5))
def test_cohens_kappa_equals_sklearn(ref, seed):
    g = torch.Generator().manual_seed(seed)
    k = 2 + seed
    a = torch.randint(0, k, (50,), generator=g)
    b = torch.where(torch.rand(50, generator=g) < 0.4, torch.randint(0, k, (50,), generator=g), a)
    assert ref.cohens_kappa(a, b).item() == pytest.approx(cohen_kappa_score(a.numpy(), b.numpy()), abs=1e-12)
