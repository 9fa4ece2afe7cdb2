# expect: courselib.world.bias.wilson_interval
# Week 11's wilson_interval (and week 12's preference_rate) from courselib's copy of the formula.
import torch

from courselib.world.bias import wilson_interval as _wilson


def wilson_interval(successes, n, z=1.96):
    return _wilson(successes, n, z)


def preference_rate(logp_more, logp_less, z=1.96):
    n = logp_more.numel()
    hits = int((logp_more > logp_less).sum())
    low, high = _wilson(hits, n, z)
    return torch.tensor([hits / n, low, high], dtype=torch.float64)
