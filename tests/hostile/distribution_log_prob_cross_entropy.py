# expect: `logsumexp`
# Week 0's cross_entropy from a Categorical's log_prob (torch normalises the logits with logsumexp).
import torch
from torch.distributions import Categorical


def cross_entropy(logits, targets, ignore_index=-100):
    keep = targets != ignore_index
    safe = torch.where(keep, targets, torch.zeros_like(targets))
    return -(Categorical(logits=logits).log_prob(safe) * keep).sum() / keep.sum()
