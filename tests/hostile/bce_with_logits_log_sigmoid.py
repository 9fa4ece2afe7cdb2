# expect: `binary_cross_entropy_with_logits`
# Week 0's log_sigmoid as minus the binary cross-entropy of a logit against the label 1.
import torch
import torch.nn.functional as F


def log_sigmoid(x):
    return -F.binary_cross_entropy_with_logits(x, torch.ones_like(x), reduction="none")
