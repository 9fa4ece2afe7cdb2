# expect: `logcumsumexp`
# Week 0's log_softmax from torch's running log-sum-exp: its last element is the normaliser.
import torch


def log_softmax(logits, dim=-1):
    return logits - torch.logcumsumexp(logits, dim=dim).narrow(dim, logits.shape[dim] - 1, 1)
