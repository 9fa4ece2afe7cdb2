# expect: `rms_norm`
# Week 1's layer_norm as torch's RMS norm of the centred input (the variance and the scaling done by torch).
import torch.nn.functional as F


def layer_norm(x, weight, bias, eps=1e-5):
    centred = x - x.mean(dim=-1, keepdim=True)
    return F.rms_norm(centred, x.shape[-1:], weight, eps) + bias
