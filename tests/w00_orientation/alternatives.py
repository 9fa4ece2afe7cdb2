"""Correct-but-different answers to w00_orientation's exercises: each must earn full points.

They are written differently from the reference on purpose (float64, loops, another arrangement
of the formula). tests/test_grader_trust.py grades each one, from its source, like a submission.
"""

import torch

from graders.testing import alternative


@alternative("log_softmax")
def log_softmax_alternative_1(logits, dim=-1):
    x = logits.double()
    m = x.max(dim=dim, keepdim=True).values
    return (x - m - torch.log(torch.sum(torch.exp(x - m), dim=dim, keepdim=True))).to(logits.dtype)


@alternative("cross_entropy")
def cross_entropy_alternative_1(logits, targets, ignore_index=-100):
    total, count = (0.0, 0)
    for row, t in zip(logits, targets.tolist()):
        if t == ignore_index:
            continue
        m = row.max()
        total = total - (row[t] - m - (row - m).exp().sum().log())
        count += 1
    return total / count


@alternative("kl_divergence")
def kl_divergence_alternative_1(p_logits, q_logits):
    lp = p_logits - p_logits.logsumexp(-1, keepdim=True)
    lq = q_logits - q_logits.logsumexp(-1, keepdim=True)
    return torch.einsum("...v,...v->...", lp.exp(), lp - lq)


@alternative("log_sigmoid")
def log_sigmoid_alternative_1(x):
    return torch.where(x >= 0, -torch.log1p(torch.exp(-x.abs())), x - torch.log1p(torch.exp(-x.abs())))


@alternative("masked_mean")
def masked_mean_alternative_1(values, mask, dim=-1):
    keep = mask.bool()
    zero = torch.zeros_like(values)
    return torch.where(keep, values, zero).sum(dim) / keep.sum(dim)


@alternative("token_logprobs")
def token_logprobs_alternative_1(logits, input_ids):
    B, T, V = logits.shape
    out = torch.empty(B, T - 1, dtype=logits.dtype)
    for b in range(B):
        for t in range(T - 1):
            z = logits[b, t].double()
            out[b, t] = z[input_ids[b, t + 1]] - z.max() - (z - z.max()).exp().sum().log()
    return out


@alternative("train_bigram")
def train_bigram_with_sgd(tokens, vocab_size, steps, lr):
    W = torch.nn.Parameter(torch.zeros(vocab_size, vocab_size, dtype=torch.float64, device=tokens.device))
    optimizer = torch.optim.SGD([W], lr=lr)
    losses = []
    x, y = tokens[:, :-1].reshape(-1), tokens[:, 1:].reshape(-1)
    for _ in range(steps):
        optimizer.zero_grad()
        logp = W[x] - W[x].logsumexp(-1, keepdim=True)
        loss = -logp[torch.arange(len(y)), y].mean()
        losses.append(loss.item())
        loss.backward()
        optimizer.step()
    return W.detach().float(), losses
