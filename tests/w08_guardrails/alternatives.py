"""Correct-but-different answers to w08_guardrails's exercises: each must earn full points.

They are written differently from the reference on purpose (NumPy counts, an explicit gradient
instead of autograd, torch.optim.SGD, a loop-based cascade, one combined regular expression).
tests/test_grader_trust.py grades each one, from its source, like a submission.
"""

import re

import numpy as np
import torch

from graders.testing import alternative


@alternative("rail_metrics")
def rail_metrics_numpy(y_true, y_pred):
    t, p = np.asarray(y_true).astype(bool), np.asarray(y_pred).astype(bool)
    tp, fp, fn, tn = (np.sum(a & b) for a, b in ((t, p), (~t, p), (t, ~p), (~t, ~p)))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": float(precision), "recall": float(recall), "f1": float(f1), "over_blocking": float(fp / (fp + tn)) if fp + tn else 0.0}  # fmt: skip


@alternative("mean_pool")
def mean_pool_einsum(token_embeddings, attention_mask):
    m = attention_mask.to(token_embeddings.dtype)
    total = torch.einsum("btd,bt->bd", token_embeddings, m)
    mean = total / torch.clamp(m.sum(-1, keepdim=True), min=1e-9)
    norm = torch.sqrt((mean**2).sum(-1, keepdim=True))
    return mean / torch.maximum(norm, torch.tensor(1e-12, dtype=mean.dtype))


@alternative("train_rail_classifier")
def train_rail_classifier_manual_gradient(features, labels, steps=300, lr=0.5, weight_decay=1e-2):
    x, y = features, labels.to(features.dtype)
    w = torch.zeros(x.shape[1], dtype=x.dtype)
    b = torch.zeros((), dtype=x.dtype)
    losses = []
    for _ in range(steps):
        z = x @ w + b
        loss = (torch.clamp(z, min=0) - z * y + torch.log1p(torch.exp(-z.abs()))).mean() + weight_decay / 2 * w.dot(w)
        losses.append(loss)
        residual = (torch.sigmoid(z) - y) / len(y)
        w, b = w - lr * (x.T @ residual + weight_decay * w), b - lr * residual.sum()
    return w, b, torch.stack(losses)


@alternative("train_rail_classifier")
def train_rail_classifier_sgd(features, labels, steps=300, lr=0.5, weight_decay=1e-2):
    w = torch.nn.Parameter(torch.zeros(features.shape[1], dtype=features.dtype))
    b = torch.nn.Parameter(torch.zeros((), dtype=features.dtype))
    opt = torch.optim.SGD([w, b], lr=lr)
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        logits = features @ w + b
        loss = (
            torch.nn.BCEWithLogitsLoss()(logits, labels.float().to(features.dtype))
            + 0.5 * weight_decay * w.pow(2).sum()
        )
        losses.append(loss.item())
        loss.backward()
        opt.step()
    return w.detach(), b.detach(), torch.tensor(losses, dtype=features.dtype)


@alternative("cascade")
def cascade_loop(p_unsafe, low, high, judge):
    decisions, judged, ask = [], [], []
    for i, p in enumerate(p_unsafe.tolist()):
        judged.append(low < p < high)
        decisions.append(p >= high)
        if low < p < high:
            ask.append(i)
    if ask:
        for i, verdict in zip(ask, judge(torch.tensor(ask)).tolist()):
            decisions[i] = bool(verdict)
    return torch.tensor(decisions, dtype=torch.bool), torch.tensor(judged, dtype=torch.bool)


@alternative("redact_pii")
def redact_pii_one_pass(text):
    word = r"[A-Z0-9][\w.']*"
    chunk = rf"{word}(?: {word})*"
    patterns = {
        "ADDRESS": rf"(?:{chunk}, ){{1,2}}(?:{chunk} )?[A-Z]{{2}} \d{{5}}\b",
        "EMAIL": r"[\w.+-]+@[\w-]+\.[a-z]{2,}",
        "PHONE": r"\b\d{3}-\d{3}-\d{4}\b",
    }
    combined = re.compile("|".join(f"(?P<{k}>{v})" for k, v in patterns.items()))
    return combined.sub(lambda m: f"[{m.lastgroup}]", text)
