# expect: `group_norm`
# Week 1's layer_norm as a group norm with one group over the rows of the flattened input.
import torch.nn.functional as F


def layer_norm(x, weight, bias, eps=1e-5):
    out = F.group_norm(x.reshape(-1, x.shape[-1]), 1, None, None, eps)
    return out.reshape(x.shape) * weight + bias
