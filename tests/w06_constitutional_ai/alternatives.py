"""Correct-but-different answers to w06_constitutional_ai's exercises: each must earn full points.

They are written differently from the reference on purpose (sums instead of means, confusion
matrices, softplus, loops). tests/test_grader_trust.py grades each one, from its source, like a
submission.
"""

import torch
import torch.nn.functional as F

from graders.testing import alternative


@alternative("principle_direction")
def principle_direction_from_sums(better_features, worse_features):
    d = better_features.sum(0) - worse_features.sum(0)  # the scale cancels in the normalisation
    return d / torch.sqrt((d * d).sum())


@alternative("principle_direction")
def principle_direction_in_place_on_intermediate(better_features, worse_features):
    d = (better_features - worse_features).mean(0)
    d /= d.norm()  # in place on a tensor of its own: fine, the text asks for no gradient
    return d


@alternative("ai_preference_probs")
def ai_preference_probs_einsum(score_gaps, weights, temperature=1.0, clamp=None):
    p = torch.einsum("pk,pk->p", weights, 1 / (1 + torch.exp(-score_gaps / temperature)))
    if clamp is None:
        return p
    low, high = clamp
    return torch.minimum(torch.maximum(p, torch.full_like(p, low)), torch.full_like(p, high))


@alternative("cohen_kappa")
def cohen_kappa_confusion_matrix(a, b):
    classes = sorted(set(a.tolist()) | set(b.tolist()))
    index = {c: i for i, c in enumerate(classes)}
    confusion = torch.zeros(len(classes), len(classes), dtype=torch.float64)
    for x, y in zip(a.tolist(), b.tolist()):
        confusion[index[x], index[y]] += 1
    n = confusion.sum()
    expected = torch.outer(confusion.sum(1), confusion.sum(0)) / n
    return 1 - (n - confusion.trace()) / (n - expected.trace())


@alternative("soft_dpo_loss")
def soft_dpo_loss_softplus(
    policy_chosen_logps, policy_rejected_logps, ref_chosen_logps, ref_rejected_logps, labels, beta=0.1
):
    z = beta * (policy_chosen_logps - policy_rejected_logps - (ref_chosen_logps - ref_rejected_logps))
    # −[p log σ(z) + (1 − p) log σ(−z)] = softplus(z) − p·z
    return (F.softplus(z) - labels * z).mean()


@alternative("rlaif_train_step")
def rlaif_train_step_cross_entropy(policy, optimizer, batch, labels, beta=0.1, max_grad_norm=1.0):
    ids = batch["input_ids"]
    logits = policy(input_ids=ids, attention_mask=batch["attention_mask"]).logits
    targets = ids.masked_fill(batch["completion_mask"] == 0, -100)[:, 1:]
    nll = F.cross_entropy(logits[:, :-1].transpose(1, 2), targets, reduction="none", ignore_index=-100)
    logps = -nll.sum(-1)
    n = len(labels)
    z = beta * ((logps[:n] - batch["ref_chosen_logps"]) - (logps[n:] - batch["ref_rejected_logps"]))
    loss = torch.stack([-(p * F.logsigmoid(x) + (1 - p) * F.logsigmoid(-x)) for p, x in zip(labels, z)]).mean()
    optimizer.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(policy.parameters(), max_grad_norm)
    optimizer.step()
    agree = sum(bool((x > 0) == (p > 0.5)) for x, p in zip(z.detach(), labels)) / n
    return {"loss": loss.item(), "agreement": agree}
