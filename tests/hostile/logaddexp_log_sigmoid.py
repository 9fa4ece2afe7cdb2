# expect: `logaddexp`
# Week 0's log_sigmoid as -log(1 + e^-x) = -logaddexp(0, -x): torch's softplus under another name.
import torch


def log_sigmoid(x):
    return -torch.logaddexp(torch.zeros_like(x), -x)
