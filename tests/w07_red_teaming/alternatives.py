"""Correct-but-different answers to w07_red_teaming's exercises: each must earn full points.

They are written differently from the reference on purpose (loops, a confusion matrix, the
embedding gradient projected onto the vocabulary, one candidate at a time).
tests/test_grader_trust.py grades each one, from its source, like a submission.
"""

import torch
import torch.nn.functional as F

from courselib.world.bias import wilson_interval
from graders.testing import alternative


@alternative("asr_by_budget")
def asr_by_budget_loop(harmful, z=1.96):
    b, q = harmful.shape
    asr, low, high = [], [], []
    for j in range(q):
        k = int(harmful[:, : j + 1].any(dim=1).sum())
        lo, hi = wilson_interval(k, b, z)
        asr.append(k / b)
        low.append(lo)
        high.append(hi)
    return tuple(torch.tensor(v, dtype=torch.float32) for v in (asr, low, high))


@alternative("cohens_kappa")
def cohens_kappa_confusion_matrix(a, b):
    labels = sorted(set(a.tolist()) | set(b.tolist()))
    index = {v: i for i, v in enumerate(labels)}
    m = torch.zeros(len(labels), len(labels), dtype=torch.float64)
    for x, y in zip(a.tolist(), b.tolist()):
        m[index[x], index[y]] += 1
    n = m.sum()
    p_o = m.trace() / n
    p_e = (m.sum(1) * m.sum(0)).sum() / n**2
    return 1 - (1 - p_o) / (1 - p_e)


@alternative("gcg_token_gradients")
def gcg_token_gradients_via_embeddings(model, input_ids, suffix_slice, target_slice):
    # d loss / d one-hot = (d loss / d embedding) @ W_E^T, by the chain rule through e = one_hot @ W_E
    (s0, s1), (t0, t1) = suffix_slice, target_slice
    w_e = model.get_input_embeddings().weight
    embeds = model.get_input_embeddings()(input_ids[None]).detach().requires_grad_()
    logits = model(inputs_embeds=embeds).logits[0]
    loss = F.cross_entropy(logits[t0 - 1 : t1 - 1], input_ids[t0:t1])
    (grad,) = torch.autograd.grad(loss, embeds)
    return grad[0, s0:s1] @ w_e.detach().T


@alternative("gcg_candidates")
def gcg_candidates_loop(grad, suffix_ids, topk, positions, ranks):
    top = grad.topk(topk, dim=1, largest=False).indices
    rows = []
    for p, r in zip(positions.tolist(), ranks.tolist()):
        row = suffix_ids.clone()
        row[p] = top[p, r]
        rows.append(row)
    return torch.stack(rows)


@alternative("gcg_step")
def gcg_step_one_candidate_at_a_time(model, input_ids, suffix_slice, target_slice, topk, positions, ranks):
    (s0, s1), (t0, t1) = suffix_slice, target_slice
    w_e = model.get_input_embeddings().weight
    onehot = torch.zeros(s1 - s0, w_e.shape[0], dtype=w_e.dtype, device=input_ids.device)
    onehot[torch.arange(s1 - s0), input_ids[s0:s1]] = 1.0
    onehot.requires_grad_()
    embeds = torch.cat([w_e[input_ids[:s0]], onehot @ w_e, w_e[input_ids[s1:]]])
    loss = -torch.log_softmax(model(inputs_embeds=embeds[None]).logits[0, t0 - 1 : t1 - 1], -1)
    loss = loss.gather(-1, input_ids[t0:t1, None]).mean()
    (grad,) = torch.autograd.grad(loss, onehot)
    order = torch.argsort(grad, dim=1)  # ascending: the most negative first
    best, losses = None, []
    for p, r in zip(positions.tolist(), ranks.tolist()):
        cand = input_ids.clone()
        cand[s0 + p] = order[p, r]
        with torch.no_grad():
            logits = model(input_ids=cand[None]).logits[0, t0 - 1 : t1 - 1]
        losses.append(F.cross_entropy(logits, cand[t0:t1]))
        if best is None or losses[-1] < losses[best[0]]:
            best = (len(losses) - 1, cand)
    return best[1], torch.stack(losses)
