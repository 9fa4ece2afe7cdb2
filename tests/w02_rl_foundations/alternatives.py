"""Correct-but-different answers to w02_rl_foundations' exercises: each must earn full points.

Written differently from the reference on purpose (matrix forms instead of loops, float64,
torch.distributions, numpy). tests/test_grader_trust.py grades each one, from its source, like a
submission.
"""

import math

import torch
import torch.nn as nn
from torch.distributions import Categorical

from graders.testing import alternative


@alternative("discounted_returns")
def discounted_returns_per_episode_loop(rewards, dones, gamma):
    T, N = rewards.shape
    out = torch.zeros_like(rewards)
    for i in range(N):
        running = 0.0
        for t in range(T - 1, -1, -1):
            if bool(dones[t, i]):
                running = 0.0
            running = float(rewards[t, i]) + gamma * running
            out[t, i] = running
    return out


@alternative("reinforce_loss")
def reinforce_loss_with_distributions(logits, actions, returns, baseline):
    logp = Categorical(logits=logits.double()).log_prob(actions)
    advantage = returns.double().detach() - baseline.double().detach()
    return (-(logp * advantage).sum() / len(actions)).to(logits.dtype)


@alternative("bootstrap_truncated")
def bootstrap_truncated_where(rewards, terminated, truncated, final_values, gamma):
    out = rewards.clone()
    mask = truncated & ~terminated
    out[mask] = out[mask] + gamma * final_values[mask].to(rewards.dtype)
    return out


@alternative("gae")
def gae_from_td_errors_matrix(rewards, values, dones, last_values, gamma=0.99, gae_lambda=0.95):
    # all TD errors first, then Â_t = Σ_k (γλ)^k Π_{j<k}(1 − d_{t+j}) δ_{t+k}, as an explicit double loop
    keep = 1.0 - dones.double()
    r, v, lv = rewards.double(), values.double(), last_values.double()
    next_v = torch.cat([v[1:], lv[None]])
    delta = r + gamma * keep * next_v - v
    T = r.shape[0]
    adv = torch.zeros_like(r)
    for t in range(T):
        weight = torch.ones_like(lv)
        for k in range(t, T):
            adv[t] += weight * delta[k]
            weight = weight * gamma * gae_lambda * keep[k]
    return adv.to(rewards.dtype), (adv + v).to(rewards.dtype)


@alternative("explained_variance")
def explained_variance_numpy(y_pred, y_true):
    import numpy as np

    y, p = y_true.detach().cpu().double().numpy(), y_pred.detach().cpu().double().numpy()
    var_y = np.var(y)
    return math.nan if var_y == 0 else float(1 - np.var(y - p) / var_y)


@alternative("ppo_policy_loss")
def ppo_policy_loss_objective_min(new_logprobs, old_logprobs, advantages, clip_coef=0.2):
    ratio = torch.exp(new_logprobs.double() - old_logprobs.double())
    a = advantages.double()
    objective = torch.minimum(ratio * a, ratio.clamp(1 - clip_coef, 1 + clip_coef) * a)
    loss = -objective.mean()
    log_ratio = torch.log(ratio.detach())
    clipped = (ratio.detach() < 1 - clip_coef) | (ratio.detach() > 1 + clip_coef)
    return loss.to(new_logprobs.dtype), clipped.double().mean().item(), float((ratio.detach() - 1 - log_ratio).mean())


@alternative("ppo_value_loss")
def ppo_value_loss_where(new_values, old_values, returns, clip_coef=0.2):
    delta = new_values - old_values
    v_clipped = torch.where(delta.abs() > clip_coef, old_values + clip_coef * torch.sign(delta), new_values)
    return torch.maximum((new_values - returns).pow(2), (v_clipped - returns).pow(2)).mean() / 2


@alternative("entropy_bonus")
def entropy_bonus_distributions(logits):
    return Categorical(logits=logits).entropy().mean()


@alternative("ppo_update")
def ppo_update_with_distributions(
    agent, optimizer, batch, generator, epochs=4, minibatch_size=64, clip_coef=0.2, vf_coef=0.5, ent_coef=0.0,
    max_grad_norm=0.5, norm_adv=True, clip_vloss=True,
):  # fmt: skip
    n = len(batch["actions"])
    history = []
    for _ in range(epochs):
        order = torch.randperm(n, generator=generator).tolist()
        for start in range(0, n, minibatch_size):
            idx = torch.tensor(order[start : start + minibatch_size], device=batch["obs"].device)
            logits, values = agent(batch["obs"][idx])
            dist = Categorical(logits=logits)
            new = dist.log_prob(batch["actions"][idx])
            adv = batch["advantages"][idx]
            if norm_adv:
                adv = (adv - adv.mean()) / (adv.std() + 1e-8)
            log_ratio = new - batch["logprobs"][idx]
            ratio = log_ratio.exp()
            policy_loss = -torch.minimum(ratio * adv, ratio.clamp(1 - clip_coef, 1 + clip_coef) * adv).mean()
            old_v, ret = batch["values"][idx], batch["returns"][idx]
            if clip_vloss:
                v_clip = old_v + (values - old_v).clamp(-clip_coef, clip_coef)
                value_loss = 0.5 * torch.maximum((values - ret) ** 2, (v_clip - ret) ** 2).mean()
            else:
                value_loss = 0.5 * nn.functional.mse_loss(values, ret)
            entropy = dist.entropy().mean()
            optimizer.zero_grad()
            (policy_loss + vf_coef * value_loss - ent_coef * entropy).backward()
            nn.utils.clip_grad_norm_(agent.parameters(), max_grad_norm)
            optimizer.step()
            r = ratio.detach()
            history.append([policy_loss.item(), value_loss.item(), entropy.item(),
                            (r - 1 - log_ratio.detach()).mean().item(), ((r - 1).abs() > clip_coef).float().mean().item()])  # fmt: skip
    means = torch.tensor(history, dtype=torch.float64).mean(0).tolist()
    return dict(zip(["policy_loss", "value_loss", "entropy", "approx_kl", "clip_fraction"], means))
