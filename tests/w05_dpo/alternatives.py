"""Correct-but-different answers to w05_dpo's exercises: each must earn full points.

They are written differently from the reference on purpose (float64, loops, softplus, another
arrangement of the formula). tests/test_grader_trust.py grades each one, from its source, like a
submission.
"""

import torch
import torch.nn.functional as F

from graders.testing import alternative


@alternative("sequence_logprobs")
def sequence_logprobs_via_cross_entropy(logits, input_ids, completion_mask):
    labels = input_ids.masked_fill(completion_mask == 0, -100)[:, 1:]
    B, T, V = logits.shape
    nll = F.cross_entropy(logits[:, :-1].reshape(-1, V).double(), labels.reshape(-1), reduction="none")
    return -nll.view(B, T - 1).sum(-1).to(logits.dtype)


@alternative("dpo_loss")
def dpo_loss_float64_softplus(
    policy_chosen_logps, policy_rejected_logps, ref_chosen_logps, ref_rejected_logps, beta=0.1
):
    pc, pr = policy_chosen_logps.double(), policy_rejected_logps.double()
    rc, rr = ref_chosen_logps.double(), ref_rejected_logps.double()
    logits = beta * (pc - pr - (rc - rr))
    # −log σ(x) = log(e^0 + e^{−x}). Not max(−x, 0) + log1p(e^{−|x|}): right values, but half the gradient at
    # x = 0, where every pair sits at step 0; nor a torch.where of two exp branches: NaN gradients.
    loss = torch.logaddexp(torch.zeros_like(logits), -logits)
    return loss.mean().to(policy_chosen_logps.dtype)


@alternative("implicit_reward_metrics")
def implicit_reward_metrics_loop(
    policy_chosen_logps, policy_rejected_logps, ref_chosen_logps, ref_rejected_logps, beta=0.1
):
    c = beta * (policy_chosen_logps.double() - ref_chosen_logps.double())
    r = beta * (policy_rejected_logps.double() - ref_rejected_logps.double())
    n = len(c)
    return {
        "rewards/chosen": float(c.sum() / n),
        "rewards/rejected": float(r.sum() / n),
        "rewards/margins": float(c.mean() - r.mean()),
        "rewards/accuracies": sum(bool(a > b) for a, b in zip(c, r)) / n,
    }


@alternative("ipo_loss")
def ipo_loss_expanded_square(
    policy_chosen_logps, policy_rejected_logps, ref_chosen_logps, ref_rejected_logps, chosen_lengths, rejected_lengths, beta=0.1
):  # fmt: skip
    pc, pr = policy_chosen_logps.double(), policy_rejected_logps.double()
    rc, rr = ref_chosen_logps.double(), ref_rejected_logps.double()
    lc = torch.maximum(chosen_lengths.double(), torch.ones_like(pc))
    lr = torch.maximum(rejected_lengths.double(), torch.ones_like(pr))
    h = (pc - rc) / lc - (pr - rr) / lr
    tau = 1 / (2 * beta)
    return (h * h - 2 * tau * h + tau * tau).mean().to(policy_chosen_logps.dtype)


@alternative("robust_dpo_loss")
def robust_dpo_loss_softplus(
    policy_chosen_logps, policy_rejected_logps, ref_chosen_logps, ref_rejected_logps, beta=0.1, label_smoothing=0.1
):  # fmt: skip
    z = beta * (policy_chosen_logps.double() - ref_chosen_logps - policy_rejected_logps + ref_rejected_logps)
    e = label_smoothing
    # ℓ(z) = softplus(−z), ℓ(−z) = softplus(z)
    return ((F.softplus(-z) - e * (F.softplus(-z) + F.softplus(z))) / (1 - 2 * e)).mean().to(policy_chosen_logps.dtype)


@alternative("dpo_batch_loss")
def dpo_batch_loss_row_by_row(policy, batch, beta=0.1):
    ids = batch["input_ids"]
    n = ids.shape[0] // 2
    logp = policy(ids, attention_mask=batch["attention_mask"]).logits.double().log_softmax(-1)
    seq = []
    for i in range(ids.shape[0]):
        pos = batch["completion_mask"][i].nonzero()[:, 0]
        seq.append(logp[i, pos - 1, ids[i, pos]].sum())
    seq = torch.stack(seq)
    c = beta * (seq[:n] - batch["ref_chosen_logps"].double())
    r = beta * (seq[n:] - batch["ref_rejected_logps"].double())
    metrics = {
        "rewards/chosen": c.mean().item(),
        "rewards/rejected": r.mean().item(),
        "rewards/margins": (c - r).mean().item(),
        "rewards/accuracies": (c > r).double().mean().item(),
    }
    return F.softplus(r - c).mean().float(), metrics


@alternative("dpo_train_step")
def dpo_train_step_float64(policy, reference, optimizer, batch, beta=0.1, max_grad_norm=1.0):
    def logps(model):
        ids = batch["input_ids"]
        lp = model(input_ids=ids, attention_mask=batch["attention_mask"]).logits.double().log_softmax(-1)
        per_token = lp[:, :-1].gather(-1, ids[:, 1:].unsqueeze(-1)).squeeze(-1)
        return per_token.masked_fill(batch["completion_mask"][:, 1:] == 0, 0.0).sum(-1)

    if reference is None:
        ref = torch.cat([batch["ref_chosen_logps"], batch["ref_rejected_logps"]]).double()
    else:
        with torch.no_grad():
            ref = logps(reference)
    ratio = logps(policy) - ref
    n = ratio.shape[0] // 2
    chosen, rejected = beta * ratio[:n], beta * ratio[n:]
    loss = F.softplus(rejected - chosen).mean()
    for p in policy.parameters():
        p.grad = None
    loss.backward()
    grads = [p.grad for p in policy.parameters() if p.grad is not None]
    norm = torch.sqrt(sum((g.double() ** 2).sum() for g in grads))
    scale = min(1.0, max_grad_norm / (float(norm) + 1e-6))
    for g in grads:
        g.mul_(scale)
    optimizer.step()
    c, r = chosen.detach(), rejected.detach()
    return {
        "loss": float(loss),
        "rewards/chosen": float(c.mean()),
        "rewards/rejected": float(r.mean()),
        "rewards/margins": float((c - r).mean()),
        "rewards/accuracies": float((c > r).double().mean()),
    }
