"""Correct-but-different answers to w10_sparse_autoencoders's exercises: each must earn full points.

tests/test_grader_trust.py grades each one, from its source, like a submission.
"""

import torch
import torch.nn.functional as F

from graders.testing import alternative


@alternative("sparse_features")
def sparse_features_where(batch, n_features, feature_probability, generator):
    magnitudes = torch.rand((batch, n_features), generator=generator)
    seeds = torch.rand((batch, n_features), generator=generator)
    return torch.where(seeds < feature_probability, magnitudes, torch.zeros(()))


@alternative("toy_forward")
def toy_forward_einsum(W, b, x):
    h = torch.einsum("mn,bn->bm", W, x)
    return F.relu(torch.einsum("mn,bm->bn", W, h) + b)


@alternative("importance_weighted_mse")
def importance_weighted_mse_loop(x, x_hat, importance):
    total = 0.0
    for i in range(x.shape[-1]):
        total = total + importance[i] * ((x[:, i] - x_hat[:, i]) ** 2).mean()
    return total


@alternative("feature_dimensionality")
def feature_dimensionality_loop(W):
    out = torch.zeros(W.shape[1], dtype=W.dtype)
    for i in range(W.shape[1]):
        norm = W[:, i].norm()
        if norm > 0:
            out[i] = norm**2 / ((W[:, i] / norm) @ W).pow(2).sum()
    return out


@alternative("sae_encode")
def sae_encode_linear(x, W_enc, b_enc, b_dec):
    return F.relu(F.linear(x - b_dec, W_enc.T, b_enc))


@alternative("sae_decode")
def sae_decode_einsum(feature_acts, W_dec, b_dec):
    return torch.einsum("...s,sd->...d", feature_acts, W_dec) + b_dec


@alternative("sae_loss")
def sae_loss_via_mse_loss(x, x_hat, feature_acts, W_dec, l1_coefficient):
    mse = F.mse_loss(x_hat, x, reduction="none").sum(-1).mean()
    penalty = (feature_acts.abs() @ torch.linalg.vector_norm(W_dec, dim=1)).mean()
    return mse + l1_coefficient * penalty


@alternative("fold_decoder_norm")
def fold_decoder_norm_diag(W_enc, b_enc, W_dec):
    n = torch.sqrt((W_dec**2).sum(1))
    return W_enc @ torch.diag(n), b_enc * n, torch.diag(1 / n) @ W_dec


@alternative("topk_activation")
def topk_activation_threshold(hidden_pre, k):
    kth = hidden_pre.topk(k, dim=-1).values[..., -1:]
    return torch.where(hidden_pre >= kth, F.relu(hidden_pre), torch.zeros_like(hidden_pre))


@alternative("update_dead_latents")
def update_dead_latents_mask(steps_since_fired, feature_acts, window):
    fired = (feature_acts.abs().sum(-2) > 0).to(steps_since_fired.dtype)
    new = (steps_since_fired + 1) * (1 - fired)
    return new, new > window


@alternative("topk_aux_loss")
def topk_aux_loss_masked_fill(x, x_hat, hidden_pre, W_dec, dead_mask, aux_coefficient=1.0):
    n_dead = int(dead_mask.sum().item())
    if n_dead == 0:
        return torch.zeros((), dtype=x.dtype, device=x.device)
    half = x.shape[-1] // 2
    k = min(half, n_dead)
    masked = hidden_pre.masked_fill(~dead_mask, float("-inf"))
    idx = masked.topk(k, dim=-1).indices
    acts = torch.zeros_like(hidden_pre).scatter(-1, idx, hidden_pre.gather(-1, idx))
    err = acts @ W_dec - (x - x_hat).detach()
    return aux_coefficient * min(n_dead / half, 1.0) * err.pow(2).sum(-1).mean()


@alternative("sae_metrics")
def sae_metrics_float64(x, x_hat, feature_acts):
    x, x_hat = x.double(), x_hat.double()
    centred = x - x.mean(0, keepdim=True)
    ev = 1 - (x_hat - x).pow(2).sum() / centred.pow(2).sum()
    counts = (feature_acts != 0).sum(0)
    return {
        "l0": float(counts.sum()) / feature_acts.shape[0],
        "explained_variance": float(ev),
        "dead_fraction": float((counts == 0).sum()) / feature_acts.shape[1],
    }


@alternative("ce_loss_recovered")
def ce_loss_recovered_one_minus(ce_clean, ce_sae, ce_ablated):
    return 1 - (ce_sae - ce_clean) / (ce_ablated - ce_clean)


@alternative("mmcs")
def mmcs_normalize(learned, truth):
    cos = F.normalize(truth, dim=-1) @ F.normalize(learned, dim=-1).T
    return cos.amax(dim=1).mean()


@alternative("sae_train_step")
def sae_train_step_manual_clip(sae, optimizer, x, l1_coefficient):
    for p in sae.parameters():
        p.grad = None
    f = F.relu((x - sae.b_dec) @ sae.W_enc + sae.b_enc)
    x_hat = f @ sae.W_dec + sae.b_dec
    mse = F.mse_loss(x_hat, x, reduction="sum") / x.shape[0]
    l1 = l1_coefficient * (f * sae.W_dec.norm(dim=1)).sum() / x.shape[0]
    (mse + l1).backward()
    grads = [p.grad for p in sae.parameters()]
    norm = torch.sqrt(sum((g**2).sum() for g in grads))
    factor = min(1.0, 1.0 / (float(norm) + 1e-6))
    for g in grads:
        g.mul_(factor)
    optimizer.step()
    return {
        "loss": float(mse + l1),
        "mse_loss": float(mse),
        "l1_loss": float(l1),
        "l0": float((f > 0).sum()) / x.shape[0],
    }
