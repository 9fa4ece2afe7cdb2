"""Week 9: our hooks, scores and patching equal TransformerLens 4's on the same weights.

``TransformerBridge`` (compatibility mode) wraps the shipped ``transformers`` checkpoints; every hook
our reference reads or writes is compared with the bridge's cache, and the patching sweep and
head scores with ``transformer_lens.patching`` and ``transformer_lens.head_detector``.
"""

from __future__ import annotations

import warnings

import pytest
import torch
from transformers import AutoModelForCausalLM

from courselib.models import MODELS_DIR, load_tokenizer, model_dir
from graders.reference import load_reference

W09 = load_reference("w09_interpretability")
ATTN_ONLY = MODELS_DIR / "attn-only-2l"
TOL = {"atol": 1e-4, "rtol": 1e-4}


def _bridge(path):
    from transformer_lens.model_bridge import TransformerBridge

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bridge = TransformerBridge.boot_transformers(str(path), device="cpu", tokenizer=load_tokenizer("tiny-sft"))
        bridge.enable_compatibility_mode(no_processing=True)
    return bridge


def _hf(path):
    return AutoModelForCausalLM.from_pretrained(path, local_files_only=True, attn_implementation="eager").eval()


@pytest.fixture(scope="module")
def attn_only():
    return _hf(ATTN_ONLY), _bridge(ATTN_ONLY)


def _tokens(seed: int, b: int, t: int, end: int = 60) -> torch.Tensor:
    ids = torch.randint(2, end, (b, t), generator=torch.Generator().manual_seed(seed))
    ids[:, 0] = 0
    return ids


@pytest.mark.parametrize("name", ["attn-only-2l", "tiny-sft"])
def test_every_cached_activation_equals_the_bridge(name, attn_only):
    path = ATTN_ONLY if name == "attn-only-2l" else model_dir(name)
    model, bridge = attn_only if name == "attn-only-2l" else (_hf(path), _bridge(path))
    ids = _tokens(1, 2, 12)
    ours = W09.cache_activations(model, ids)
    with torch.no_grad():
        hf = model(ids, output_attentions=True)
        logits, cache = bridge.run_with_cache(ids)
    L = model.config.n_layer
    torch.testing.assert_close(logits, hf.logits, **TOL)
    for layer in range(L):
        torch.testing.assert_close(cache[f"blocks.{layer}.hook_resid_pre"], ours["resid"][layer], **TOL)
        torch.testing.assert_close(cache[f"blocks.{layer}.attn.hook_z"], ours["z"][layer], **TOL)
        torch.testing.assert_close(cache[f"blocks.{layer}.attn.hook_pattern"], hf.attentions[layer], **TOL)
    torch.testing.assert_close(cache[f"blocks.{L - 1}.hook_resid_post"], ours["resid"][L], **TOL)


def test_head_scores_equal_transformer_lens_head_detector(attn_only):
    """TL's "mul" score is Σ matches / Σ attention = ours · (number of scored queries) / T."""
    from transformer_lens import head_detector as hd

    model, bridge = attn_only
    n = 12
    r = torch.randperm(60, generator=torch.Generator().manual_seed(3))[:n] + 2  # distinct: no accidental matches
    ids = torch.cat([torch.zeros(1, dtype=torch.long), r, r])[None]
    with torch.no_grad():
        patterns = model(ids, output_attentions=True).attentions
    T = ids.shape[1]
    with torch.no_grad():
        _, cache = bridge.run_with_cache(ids)

    def tl_scores(kind):  # detect_head's two steps on token ids (detect_head itself tokenizes strings)
        target = getattr(hd, f"get_{kind}_detection_pattern")(ids)
        return torch.tensor(
            [
                [
                    hd.compute_head_attention_similarity_score(
                        cache[f"blocks.{layer}.attn.hook_pattern"][0, head],
                        detection_pattern=target,
                        exclude_bos=False,
                        exclude_current_token=False,
                        error_measure="mul",
                    )
                    for head in range(4)
                ]
                for layer in range(2)
            ]
        )

    tl_ind, tl_prev = tl_scores("induction_head"), tl_scores("previous_token_head")
    ours_ind = torch.stack([W09.induction_score(p, n) for p in patterns])
    ours_prev = torch.stack([W09.previous_token_score(p) for p in patterns])
    torch.testing.assert_close(tl_ind, ours_ind * n / T, **TOL)
    torch.testing.assert_close(tl_prev, ours_prev * (T - 1) / T, **TOL)


def _metric(answer, wrong):
    def metric(logits):
        last = logits[:, -1]
        return (last.gather(-1, answer[:, None]) - last.gather(-1, wrong[:, None])).mean()

    return metric


def test_patching_sweep_equals_get_act_patch_resid_pre(attn_only):
    from transformer_lens import patching

    model, bridge = attn_only
    clean = _tokens(4, 2, 7)
    corrupted = clean.clone()
    corrupted[:, 2] = (clean[:, 2] - 2 + 7) % 58 + 2
    answer, wrong = clean[:, 3], torch.tensor([5, 9])
    metric = _metric(answer, wrong)
    ours = W09.patching_sweep(model, clean, corrupted, answer, wrong)
    with torch.no_grad():
        m_clean, m_corr = metric(model(clean).logits), metric(model(corrupted).logits)
        _, clean_cache = bridge.run_with_cache(clean)
        theirs = patching.get_act_patch_resid_pre(bridge, corrupted, clean_cache, metric)
    torch.testing.assert_close((theirs - m_corr) / (m_clean - m_corr), ours, atol=1e-4, rtol=1e-3)


def test_head_patching_equals_get_act_patch_attn_head_out_all_pos(attn_only):
    from transformer_lens import patching

    model, bridge = attn_only
    clean = _tokens(5, 2, 7)
    corrupted = clean.clone()
    corrupted[:, 2] = (clean[:, 2] - 2 + 11) % 58 + 2
    answer, wrong = clean[:, 3], torch.tensor([4, 8])
    metric = _metric(answer, wrong)
    z = W09.cache_activations(model, clean)["z"]
    ours = torch.tensor(
        [
            [
                metric(W09.set_head_output(model, corrupted, layer, head, z[layer][:, :, head])).item()
                for head in range(4)
            ]
            for layer in range(2)
        ]
    )
    with torch.no_grad():
        _, clean_cache = bridge.run_with_cache(clean)
        theirs = patching.get_act_patch_attn_head_out_all_pos(bridge, corrupted, clean_cache, metric)
    torch.testing.assert_close(theirs, ours, atol=1e-4, rtol=1e-3)


def test_residual_patching_equals_a_bridge_hook_on_tiny_sft():
    """patch_residual at the last position, layer by layer, equals writing hook_resid_pre through the bridge."""
    path = model_dir("tiny-sft")
    model, bridge = _hf(path), _bridge(path)
    ids = _tokens(6, 1, 9, end=1024)
    value = torch.randn(1, model.config.n_embd, generator=torch.Generator().manual_seed(0))
    for layer in range(model.config.n_layer):

        def hook(act, hook):
            act = act.clone()
            act[:, -1] = value
            return act

        with torch.no_grad():
            theirs = bridge.run_with_hooks(ids, fwd_hooks=[(f"blocks.{layer}.hook_resid_pre", hook)])
        torch.testing.assert_close(W09.patch_residual(model, ids, layer, -1, value), theirs, **TOL)
