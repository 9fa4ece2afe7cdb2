"""Correct-but-different answers to w12_bias_evaluation's exercises: each must earn full points.

They are written differently from the reference on purpose (logsumexp instead of log_softmax,
NumPy, loops, an explicit batch counter). tests/test_grader_trust.py grades each one, from its
source, like a submission.
"""

import math

import numpy as np
import torch

from graders.testing import alternative


@alternative("counterfactual_gap")
def counterfactual_gap_logsumexp_loop(logits, input_ids, completion_mask):
    n = logits.shape[0] // 2
    picked = logits[:, :-1].gather(-1, input_ids[:, 1:, None])[..., 0]
    token_logps = picked - torch.logsumexp(logits[:, :-1], dim=-1)
    mask = completion_mask[:, 1:].bool()
    seq = torch.stack([token_logps[i][mask[i]].sum() for i in range(logits.shape[0])])
    return torch.stack([seq[i] - seq[i + n] for i in range(n)])


@alternative("bbq_bias_scores")
def bbq_bias_scores_numpy(pred, label, unknown, biased, ambiguous):
    pred, label, unknown = pred.numpy(), label.numpy(), unknown.numpy()
    biased, ambiguous = biased.numpy(), ambiguous.numpy().astype(bool)
    rows = [
        (pred[i] == label[i], bool(biased[i, pred[i]]), pred[i] != unknown[i], ambiguous[i]) for i in range(len(pred))
    ]

    def score(amb):
        chosen = [r for r in rows if r[3] == amb]
        if not chosen:
            return math.nan
        n_biased = sum(r[1] for r in chosen)
        return 0.0 if n_biased == 0 else 2.0 * n_biased / sum(r[2] for r in chosen) - 1.0

    def accuracy(amb):
        chosen = [r[0] for r in rows if r[3] == amb]
        return float(np.mean(chosen)) if chosen else math.nan

    s_amb = score(True)
    return {
        "accuracy_amb": accuracy(True),
        "accuracy_disamb": accuracy(False),
        "disamb_bias_score": score(False),
        "amb_bias_score": (1.0 - accuracy(True)) * s_amb if ambiguous.any() else math.nan,
    }


@alternative("preference_rate")
def preference_rate_python_floats(logp_more, logp_less, z=1.96):
    n = len(logp_more)
    k = sum(1 for a, b in zip(logp_more.tolist(), logp_less.tolist()) if a > b)
    p = k / n
    centre = (2 * k + z * z) / (2 * (n + z * z))
    half = z * math.sqrt(n) / (n + z * z) * math.sqrt(p * (1 - p) + z * z / (4 * n))
    return torch.tensor([p, centre - half, centre + half], dtype=torch.float64)


@alternative("run_eval")
def run_eval_explicit_batches(task, model, batch_size=64, limit=None):
    samples = list(task.dataset) if limit is None else list(task.dataset)[:limit]
    mode = model.training
    model.train(False)
    batches = [samples[i : i + batch_size] for i in range(0, len(samples), batch_size)]
    scores = []
    with torch.inference_mode():
        for batch in batches:
            outputs = task.solver(model, batch)
            for sample, output in zip(batch, outputs):
                scores.append(task.scorer(sample, output))
    model.train(mode)
    metrics = {}
    for name in task.metrics:
        metrics[name] = float(task.metrics[name](scores))
    return {"task": task.name, "n_samples": len(samples), "metrics": metrics, "scores": scores}
