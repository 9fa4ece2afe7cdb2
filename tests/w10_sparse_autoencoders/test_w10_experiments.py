"""Week 10 sanity checks on the reference: invariances, and small versions of the notebook's experiments."""

from __future__ import annotations

import math

import torch

from graders import load_reference

w10 = load_reference("w10_sparse_autoencoders")


def _random_sae(g: torch.Generator, d_in: int = 12, d_sae: int = 40) -> tuple:
    return (torch.randn(d_in, d_sae, generator=g), torch.randn(d_sae, generator=g) * 0.1,
            torch.randn(d_sae, d_in, generator=g) * 2, torch.randn(d_in, generator=g))  # fmt: skip


def test_folding_decoder_norms_changes_neither_output_nor_loss():
    g = torch.Generator().manual_seed(0)
    W_enc, b_enc, W_dec, b_dec = _random_sae(g)
    x = torch.randn(64, 12, generator=g)
    f = w10.sae_encode(x, W_enc, b_enc, b_dec)
    x_hat = w10.sae_decode(f, W_dec, b_dec)
    W_enc2, b_enc2, W_dec2 = w10.fold_decoder_norm(W_enc, b_enc, W_dec)
    f2 = w10.sae_encode(x, W_enc2, b_enc2, b_dec)
    torch.testing.assert_close(w10.sae_decode(f2, W_dec2, b_dec), x_hat, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(W_dec2.norm(dim=-1), torch.ones(40))
    torch.testing.assert_close(w10.sae_loss(x, x_hat, f2, W_dec2, 0.3), w10.sae_loss(x, x_hat, f, W_dec, 0.3), rtol=1e-4, atol=1e-4)  # fmt: skip


def test_feature_dimensionality_of_known_geometries():
    angles = torch.arange(5) * 2 * math.pi / 5
    torch.testing.assert_close(
        w10.feature_dimensionality(torch.stack([angles.cos(), angles.sin()])), torch.full((5,), 0.4)
    )
    torch.testing.assert_close(w10.feature_dimensionality(torch.eye(3)), torch.ones(3))


def test_toy_model_forms_a_pentagon_when_features_are_sparse():
    g = torch.Generator().manual_seed(0)
    W = (torch.randn(2, 5, generator=g) * 0.6).requires_grad_()
    b = torch.zeros(5, requires_grad=True)
    optimizer = torch.optim.Adam([W, b], lr=1e-2)
    importance = 0.7 ** torch.arange(5.0)
    for _ in range(1500):
        x = w10.sparse_features(1024, 5, 0.03, g)
        loss = w10.importance_weighted_mse(x, w10.toy_forward(W, b, x), importance)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    W = W.detach()
    assert (W.norm(dim=0) > 0.5).all(), "all five features should be represented"
    dims = w10.feature_dimensionality(W)
    assert ((dims - 0.4).abs() < 0.08).all(), dims


def test_training_step_recovers_a_known_dictionary_only_with_a_penalty():
    g = torch.Generator().manual_seed(1)
    truth = torch.randn(64, 32, generator=g)
    truth = truth / truth.norm(dim=-1, keepdim=True)
    data = w10.sparse_features(16384, 64, 0.04, g) @ truth
    scores = {}
    for l1 in (0.0, 0.3):
        sae = w10.SparseAutoencoder(32, 128, torch.Generator().manual_seed(2))
        optimizer = torch.optim.Adam(sae.parameters(), lr=1e-2)
        for _ in range(500):
            w10.sae_train_step(sae, optimizer, data[torch.randint(0, len(data), (256,), generator=g)], l1)
        scores[l1] = w10.mmcs(sae.W_dec.detach(), truth).item()
    assert scores[0.3] >= 0.95, scores
    assert scores[0.0] < 0.7, scores
