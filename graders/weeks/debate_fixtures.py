"""Fixtures for week 11's spec (debate on sparse digits): judges, images and debater strategies.

A :class:`TinyJudge` is a fixed two-layer network whose weights come from a seeded generator, so
the sandbox child rebuilds exactly the same judge. The strategies are simple deterministic
debaters written here (not the reference's), passed to ``play_debate`` and ``evaluate_debate``.
"""

from __future__ import annotations

import torch

from graders.core import seeded


class TinyJudge:
    """A fixed random judge: [..., 2, 8, 8] -> [..., 10] logits, ReLU hidden layer of ``hidden`` units.

    Its weights live on the CPU and follow the input to its device and dtype on every call.
    """

    def __init__(self, seed: int, hidden: int = 8) -> None:
        g = seeded(seed)
        self.seed = seed
        self.w1 = torch.randn(hidden, 128, generator=g)
        self.b1 = torch.randn(hidden, generator=g) * 0.5
        self.w2 = torch.randn(10, hidden, generator=g)
        self.b2 = torch.randn(10, generator=g) * 0.1

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        flat = x.reshape(*x.shape[:-3], 128)
        w1, b1, w2, b2 = (t.to(device=x.device, dtype=x.dtype) for t in (self.w1, self.b1, self.w2, self.b2))
        return torch.relu(flat @ w1.T + b1) @ w2.T + b2

    def __repr__(self) -> str:
        return f"TinyJudge(seed={self.seed})"


class FlatJudge:
    """A judge that cannot tell anything apart: every logit is 0 (so every verdict is a tie)."""

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return torch.zeros(*x.shape[:-3], 10, dtype=x.dtype, device=x.device)

    def __repr__(self) -> str:
        return "FlatJudge()"


class CountingJudge:
    """A judge that votes for the number of pixels it was shown: logit[c] = -|count - c|."""

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        count = x[..., 0, :, :].sum((-1, -2))
        classes = torch.arange(10, dtype=x.dtype, device=x.device)
        return -(count[..., None] - classes).abs()

    def __repr__(self) -> str:
        return "CountingJudge()"


def sparse_images(g: torch.Generator, batch: int, nonzero: int | list[int]) -> torch.Tensor:
    """[batch, 8, 8] images with ``nonzero`` ink pixels each (values in [0.2, 1]) at random places."""
    counts = nonzero if isinstance(nonzero, list) else [nonzero] * batch
    out = torch.zeros(batch, 64)
    for b, n in enumerate(counts):
        where = torch.randperm(64, generator=g)[:n]
        out[b, where] = 0.2 + 0.8 * torch.rand(n, generator=g)
    return out.view(batch, 8, 8)


def positions(g: torch.Generator, spec: list[tuple[int, int]]) -> tuple[torch.Tensor, torch.Tensor]:
    """Images [B, 8, 8] and revealed masks: game b has ``spec[b] = (ink, shown)`` ink pixels, ``shown`` revealed."""
    images = torch.stack([sparse_images(g, 1, ink)[0] for ink, _ in spec])
    revealed = torch.zeros(len(spec), 64, dtype=torch.bool)
    for b, (_, shown) in enumerate(spec):
        where = images[b].view(64).nonzero().squeeze(-1)
        revealed[b, where[torch.randperm(len(where), generator=g)[:shown]]] = True
    return images, revealed.view(-1, 8, 8)


def _legal(images: torch.Tensor, revealed: torch.Tensor) -> torch.Tensor:
    return (images.reshape(images.shape[0], 64) > 0) & ~revealed.reshape(images.shape[0], 64).bool()


def lowest_free(judge, images, revealed, my_claims, other_claims, moves_left):
    """Fixture strategy: the legal pixel with the lowest index (-1 if none)."""
    legal = _legal(images, revealed)
    idx = torch.arange(64, device=images.device).expand_as(legal)
    first = torch.where(legal, idx, torch.full_like(idx, 64)).amin(-1)
    return torch.where(first < 64, first, torch.full_like(first, -1))


def claim_keyed(judge, images, revealed, my_claims, other_claims, moves_left):
    """Fixture strategy: the first legal pixel at or after (7*my + 3*other + 5*moves_left) mod 64, cyclically."""
    legal = _legal(images, revealed)
    key = (7 * my_claims + 3 * other_claims + 5 * moves_left) % 64
    idx = torch.arange(64, device=images.device).expand_as(legal)
    dist = torch.where(legal, (idx - key[:, None]) % 64, torch.full_like(idx, 99))
    best = dist.argmin(-1)
    return torch.where(legal.any(-1), best, torch.full_like(best, -1))


def own_logit_greedy(judge, images, revealed, my_claims, other_claims, moves_left):
    """Fixture strategy: the legal pixel that most raises the judge's logit for my claim (-1 if none)."""
    B = images.shape[0]
    legal = _legal(images, revealed)
    cand = revealed.reshape(B, 1, 64).bool() | torch.eye(64, dtype=torch.bool, device=images.device)
    m = cand.to(images.dtype).view(B, 64, 8, 8)
    logits = judge(torch.stack([m, images[:, None] * m], dim=-3))  # [B, 64, 10]
    scores = logits.gather(-1, my_claims.view(B, 1, 1).expand(B, 64, 1)).squeeze(-1)
    scores = scores.masked_fill(~legal, -float("inf"))
    best = scores.argmax(-1)
    return torch.where(legal.any(-1), best, torch.full_like(best, -1))
