"""Correct-but-different answers to w04_rlhf's exercises: each must earn full points.

Written differently from the reference on purpose (loops, float64, scatter, another arrangement of
the formula). tests/test_grader_trust.py grades each one, from its source, like a submission.
"""

import torch
import torch.nn.functional as F

from graders.testing import alternative


@alternative("per_token_rewards")
def per_token_rewards_loop(scores, logprobs, ref_logprobs, mask, beta=0.05, estimator="k1"):
    out = torch.zeros_like(logprobs)
    for b in range(logprobs.shape[0]):
        idx = [t for t in range(logprobs.shape[1]) if mask[b, t]]
        for t in idx:
            x = (logprobs[b, t] - ref_logprobs[b, t]).double()
            kl = x if estimator == "k1" else torch.expm1(-x) + x
            out[b, t] = -beta * kl
        out[b, idx[-1]] += scores[b]
    return out


@alternative("token_gae")
def token_gae_per_row(rewards, values, mask, gamma=1.0, lam=0.95):
    adv, ret = torch.zeros_like(values), torch.zeros_like(values)
    for b in range(values.shape[0]):
        idx = [t for t in range(values.shape[1]) if mask[b, t]]
        running = torch.zeros((), dtype=values.dtype)
        for i in reversed(range(len(idx))):
            t = idx[i]
            v_next = values[b, idx[i + 1]] if i + 1 < len(idx) else torch.zeros((), dtype=values.dtype)
            running = rewards[b, t] + gamma * v_next - values[b, t] + gamma * lam * running
            adv[b, t] = running
            ret[b, t] = running + values[b, t]
    return adv, ret


@alternative("ppo_token_loss")
def ppo_token_loss_where(
    logprobs, old_logprobs, values, old_values, returns, advantages, mask, clip_range=0.2, clip_range_value=0.2, vf_coef=0.1
):  # fmt: skip
    keep = mask.bool()
    lr, adv = (logprobs - old_logprobs)[keep], advantages[keep]
    ratio = lr.exp()
    clipped = ratio.clamp(1 - clip_range, 1 + clip_range)
    policy_loss = torch.where(-adv * clipped > -adv * ratio, -adv * clipped, -adv * ratio).mean()
    v, ov, r = values[keep], old_values[keep], returns[keep]
    v_clip = torch.minimum(torch.maximum(v, ov - clip_range_value), ov + clip_range_value)
    value_loss = torch.maximum(F.mse_loss(v, r, reduction="none"), F.mse_loss(v_clip, r, reduction="none")).mean() / 2
    return {
        "loss": policy_loss + vf_coef * value_loss,
        "policy_loss": policy_loss,
        "value_loss": value_loss,
        "clip_fraction": float((-adv * clipped > -adv * ratio).double().mean()),
        "approx_kl": float((torch.expm1(lr.detach()) - lr.detach()).double().mean()),
    }


@alternative("rloo_advantages")
def rloo_advantages_scaled_mean(rewards, group_size):
    r = rewards.reshape(-1, group_size).double()
    k = group_size
    return ((r - r.mean(1, keepdim=True)) * k / (k - 1)).flatten().to(rewards.dtype)


@alternative("grpo_advantages")
def grpo_advantages_by_hand(rewards, group_size, scale=True):
    out = []
    for g in rewards.split(group_size):
        centred = g - g.sum() / len(g)
        if scale:
            centred = centred / (torch.sqrt((centred**2).sum() / (len(g) - 1)) + 1e-4)
        out.append(centred)
    return torch.cat(out)


@alternative("grpo_loss")
def grpo_loss_where(logprobs, old_logprobs, ref_logprobs, advantages, mask, beta=0.0, epsilon_low=0.2, epsilon_high=0.2):  # fmt: skip
    ratio = (logprobs - old_logprobs).exp()
    a = advantages.unsqueeze(-1).expand_as(ratio)
    clipped = torch.where(a >= 0, ratio.clamp(max=1 + epsilon_high), ratio.clamp(min=1 - epsilon_low))
    per_token = -torch.minimum(ratio * a, clipped * a)
    if beta:
        d = ref_logprobs - logprobs
        per_token = per_token + beta * ratio * (torch.expm1(d) - d)
    keep = mask.bool()
    return per_token[keep].sum() / keep.sum()


@alternative("grpo_train_step")
def grpo_train_step_cross_entropy(policy, reference, optimizer, batch, group_size, beta=0.0, epsilon=0.2, num_iterations=1, max_grad_norm=1.0):  # fmt: skip
    ids, attention = batch["input_ids"], batch["attention_mask"]
    mask = batch["completion_mask"][:, 1:].float()

    def logps(model):
        logits = model(input_ids=ids, attention_mask=attention).logits[:, :-1]
        return -F.cross_entropy(logits.transpose(1, 2), ids[:, 1:], reduction="none")

    r = batch["rewards"].view(-1, group_size)
    adv = ((r - r.mean(1, keepdim=True)) / (r.std(1, keepdim=True) + 1e-4)).reshape(-1, 1)
    with torch.no_grad():
        ref, old = logps(reference), logps(policy)
    total = 0.0
    for _ in range(num_iterations):
        lp = logps(policy)
        ratio = torch.exp(lp - old)
        obj = torch.minimum(ratio * adv, ratio.clamp(1 - epsilon, 1 + epsilon) * adv)
        if beta != 0.0:
            obj = obj - beta * ratio * (torch.exp(ref - lp) - (ref - lp) - 1)
        loss = -(obj * mask).sum() / mask.sum()
        for p in policy.parameters():
            p.grad = None
        loss.backward()
        torch.nn.utils.clip_grad_norm_(policy.parameters(), max_grad_norm)
        optimizer.step()
        total += loss.item()
    return {"loss": total / num_iterations, "kl": float(((old - ref) * mask).sum(1).mean())}
