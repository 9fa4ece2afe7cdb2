# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Week 2 — RL foundations: from REINFORCE to PPO
#
# RLHF (week 4) trains a language model with **PPO** against a reward model, and most of what
# goes wrong in RLHF (reward hacking, a policy that drifts too far, a value function that never
# learns, a silent bug in the advantages) is already visible on a problem small enough to solve in
# seconds. This week builds the whole policy-gradient toolbox from scratch on gymnasium's
# **CartPole-v1** (balance a pole on a cart; +1 per step, at most 500 steps), where the true answer
# is known (a perfect policy scores 500) and every bug shows up as a curve that stays flat.
#
# This week you will:
#
# 1. compute discounted returns across episode boundaries, and the REINFORCE loss with a baseline;
# 2. tell **termination** (the pole fell: the future is worth 0) from **truncation** (time ran out:
#    the future is worth $V(s)$) and bootstrap correctly;
# 3. implement generalised advantage estimation (GAE, Schulman et al. 2016), equal to
#    stable-baselines3's `RolloutBuffer.compute_returns_and_advantage` on the same rollout, and SB3's
#    `explained_variance`;
# 4. implement PPO's pieces (clipped surrogate with clip fraction and approximate KL, clipped value
#    loss, entropy bonus; CleanRL's `ppo.py` is the formula reference) and then the **PPO update**
#    itself (the integration exercise);
# 5. train: REINFORCE against PPO, PPO with and without clipping, and a sweep of GAE's λ, over
#    three seeds with 95% intervals; our PPO is compared with SB3's PPO in
#    `benchmarks/ppo_cartpole.py`.
#
# Nothing here uses the small world's language models: the environment is gymnasium's CartPole,
# which ships with the pinned `gymnasium` package (no download).
#
# ## The idea in four formulas
#
# A policy $\pi_\theta(a\mid s)$ acts; the environment returns rewards $r_t$. The **return** from
# step $t$ is $G_t = \sum_{k\ge 0}\gamma^k r_{t+k}$, cut at the end of the episode. The policy
# gradient theorem gives
#
# $$\nabla_\theta J = \mathbb{E}\big[\nabla_\theta \log\pi_\theta(a_t\mid s_t)\,(G_t - b(s_t))\big],$$
#
# for any baseline $b$ that does not depend on the action (it lowers the variance, not the mean).
# With $b = V(s_t)$, $G_t - V(s_t)$ estimates the **advantage** $A_t$. GAE trades bias for variance
# with TD errors $\delta_t = r_t + \gamma V(s_{t+1}) - V(s_t)$:
#
# $$\hat A_t = \sum_{k\ge 0} (\gamma\lambda)^k\,\delta_{t+k}\qquad(\lambda = 1:\ G_t - V(s_t);\ \lambda = 0:\ \delta_t).$$
#
# PPO reuses each batch for several gradient steps, and keeps the new policy close to the one that
# collected the data by clipping the probability ratio $\rho_t = \pi_\theta(a_t\mid s_t)/\pi_{\text{old}}(a_t\mid s_t)$:
#
# $$L^{\text{CLIP}} = -\,\mathbb{E}\big[\min\big(\rho_t \hat A_t,\ \operatorname{clip}(\rho_t, 1-\epsilon, 1+\epsilon)\,\hat A_t\big)\big].$$

# %%
import math
import time

import gymnasium as gym
import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn as nn

from courselib.config import quick, scale
from courselib.progress import progress
from courselib.seed import set_seed
from graders import check

set_seed(0)
torch.set_num_threads(1)  # tiny networks: one thread is as fast, and copes with a busy machine
device = torch.device("cpu")  # CartPole's networks are tiny: a GPU would only add transfer time
print(f"PyTorch {torch.__version__}, gymnasium {gym.__version__}; quick mode: {quick()}")

# %% [markdown]
# ## 1. Discounted returns across episode ends
#
# > **Learning objectives**
# > - compute returns-to-go backwards in one pass, resetting at every episode end
# > - store rollouts time-major, `[T, N]`: T steps of N environments in parallel
#
# A rollout of $N$ parallel environments for $T$ steps is stored as `[T, N]` tensors.
# `dones[t, i] = 1` means that environment $i$'s episode **ended with step $t$** (its next
# observation belongs to a new episode). Returns are computed backwards:
# $G_t = r_t + \gamma\,(1 - d_t)\,G_{t+1}$, with $G_T = 0$ after the last step of the rollout.
#
# **Exercise.** Implement `discounted_returns`.
#
# > **Difficulty** 🔴⚪⚪⚪⚪ · **Importance** 🔵🔵🔵🔵⚪ · **Time** ~10 min
#
# <details><summary>Hint 1</summary>
#
# Walk t from T − 1 down to 0 and carry a running return per environment; multiply it by (1 − dones[t]) before adding r_t.
#
# </details>
#
# <details><summary>Hint 2 (pseudocode)</summary>
#
# ```
# running = zeros(N); out = empty [T, N]
# for t = T-1 … 0:
#     running = rewards[t] + gamma * (1 - dones[t]) * running
#     out[t] = running
# ```
#
# </details>


# %%
def discounted_returns(rewards: torch.Tensor, dones: torch.Tensor, gamma: float) -> torch.Tensor:
    """Discounted returns-to-go of a rollout, reset at episode ends.

    Args:
        rewards: [T, N] float, the reward of each step of N environments.
        dones: [T, N] (bool or 0/1), 1 where the episode ended with that step.
        gamma: the discount factor.

    Returns:
        [T, N] float (rewards' dtype): G_t = r_t + γ (1 − d_t) G_{t+1}, with G_T = 0.
    """
    ### BEGIN SOLUTION
    not_done = 1.0 - dones.to(rewards.dtype)
    returns = torch.zeros_like(rewards)
    running = torch.zeros_like(rewards[0])
    for t in reversed(range(rewards.shape[0])):
        running = rewards[t] + gamma * not_done[t] * running
        returns[t] = running
    return returns
    ### END SOLUTION


# %%
check("w02_rl_foundations.discounted_returns", discounted_returns)
### BEGIN HIDDEN TESTS
check("w02_rl_foundations.discounted_returns", discounted_returns, hidden=True)
### END HIDDEN TESTS

# %% [markdown]
# ## 2. REINFORCE with a baseline
#
# > **Learning objectives**
# > - write the policy-gradient loss whose gradient is the REINFORCE estimator
# > - know why the baseline is subtracted and must not carry a gradient into the policy loss
#
# The loss whose gradient is the REINFORCE estimator is
# $-\frac1B\sum_i \log\pi_\theta(a_i\mid s_i)\,(G_i - b_i)$. The weight $G_i - b_i$ is a
# constant for the policy's gradient: it is **data**, not something to differentiate (a value
# network's output used as baseline is trained by its own loss, never through this one).
#
# **Exercise.** Implement `reinforce_loss` from the policy's logits (compute the log-probabilities
# yourself; `F.cross_entropy` and `F.nll_loss` are not allowed here).
#
# > **Difficulty** 🔴🔴⚪⚪⚪ · **Importance** 🔵🔵🔵🔵🔵 · **Time** ~10 min
# >
# > **Must be differentiable:** gradients must flow back to `logits`; `returns`, `baseline` must get *no* gradient (treat as constants) (the grader checks them).
#
# <details><summary>Hint 1</summary>
#
# log π(a | s) is `log_softmax(logits)` gathered at each row's action; detach the weight (returns − baseline).
#
# </details>
#
# <details><summary>Hint 2 (pseudocode)</summary>
#
# ```
# logp = log_softmax(logits, -1).gather(-1, actions[:, None])[:, 0]   # [B]
# weight = (returns - baseline).detach()                             # [B]
# return -(logp * weight).mean()
# ```
#
# </details>


# %%
def reinforce_loss(
    logits: torch.Tensor, actions: torch.Tensor, returns: torch.Tensor, baseline: torch.Tensor
) -> torch.Tensor:
    """The REINFORCE loss with a baseline.

    Args:
        logits: [B, A] float, the policy's action logits at the visited states.
        actions: [B] long, the actions taken.
        returns: [B] float, the returns G_i that followed.
        baseline: [B] float, the baseline b_i (e.g. a value estimate); it gets no gradient from this loss.

    Returns:
        A scalar tensor: −mean(log π(a_i | s_i) · (G_i − b_i)).
    """
    ### BEGIN SOLUTION
    logp = torch.log_softmax(logits, dim=-1).gather(-1, actions.long().unsqueeze(-1)).squeeze(-1)
    weight = (returns - baseline).detach().to(logp.dtype)
    return -(logp * weight).mean()
    ### END SOLUTION


# %%
check("w02_rl_foundations.reinforce_loss", reinforce_loss)
### BEGIN HIDDEN TESTS
check("w02_rl_foundations.reinforce_loss", reinforce_loss, hidden=True)
### END HIDDEN TESTS

# %% [markdown]
# ## 3. Termination is not truncation
#
# > **Learning objectives**
# > - tell a terminal state (value 0) from a truncated one (value $V(s)$)
# > - bootstrap from the value of the **final** observation, not of the reset one
#
# Gymnasium's `step` returns two flags. `terminated`: the MDP ended (the pole fell; nothing follows,
# the future is worth 0). `truncated`: an outside limit stopped the episode (CartPole-v1's
# `TimeLimit` at 500 steps); the state was not terminal, and the return it would have had is
# $r_t + \gamma V(s_{t+1})$. Treating a truncation as a termination teaches the value function that
# a balanced pole at step 500 is worth nothing, exactly the states a good policy reaches.
#
# The standard fix, and the one SB3 uses: add $\gamma V(s^{\text{final}}_{t+1})$ to the reward of a
# truncated step, then treat the step as an episode end. In a vector environment the
# observation returned after an episode ends is already the **next episode's** first observation;
# with `autoreset_mode=SAME_STEP` (what we use) the final one is in `info["final_obs"]`. With
# `NEXT_STEP` (gymnasium's default), `step` returns the final observation and the *following* call
# resets, ignoring the action and returning reward 0: that step must be dropped from training.
# The end of the rollout is a truncation of its own kind: GAE bootstraps there from the value of
# the last observation.
#
# **Exercise.** Implement `bootstrap_truncated`. A step that is both terminated and truncated (the
# pole fell on the 500th step) is terminal.
#
# > **Difficulty** 🔴⚪⚪⚪⚪ · **Importance** 🔵🔵🔵🔵⚪ · **Time** ~5 min
#
# <details><summary>Hint 1</summary>
#
# Only steps with truncated and not terminated get γ · final_values added; everywhere else the reward is unchanged.
#
# </details>
#
# <details><summary>Hint 2 (pseudocode)</summary>
#
# ```
# mask = truncated & ~terminated          # as floats
# return rewards + gamma * final_values * mask
# ```
#
# </details>


# %%
def bootstrap_truncated(
    rewards: torch.Tensor,
    terminated: torch.Tensor,
    truncated: torch.Tensor,
    final_values: torch.Tensor,
    gamma: float,
) -> torch.Tensor:
    """Rewards with γ·V(final observation) added at truncated, non-terminal steps.

    Args:
        rewards: [T, N] float.
        terminated, truncated: [T, N] bool, gymnasium's two flags for each step.
        final_values: [T, N] float, V of the final observation where a step was truncated
            (any value elsewhere: it must be ignored).
        gamma: the discount factor.

    Returns:
        [T, N] float: rewards + γ · final_values where truncated and not terminated.
    """
    ### BEGIN SOLUTION
    bootstrap = (truncated.bool() & ~terminated.bool()).to(rewards.dtype)
    return rewards + gamma * torch.where(bootstrap.bool(), final_values.to(rewards.dtype), 0.0)
    ### END SOLUTION


# %%
check("w02_rl_foundations.bootstrap_truncated", bootstrap_truncated)
### BEGIN HIDDEN TESTS
check("w02_rl_foundations.bootstrap_truncated", bootstrap_truncated, hidden=True)
### END HIDDEN TESTS

# %% [markdown]
# ## 4. Generalised advantage estimation
#
# > **Learning objectives**
# > - compute GAE and the λ-returns backwards in one pass, with episode ends and a bootstrap value
# > - match stable-baselines3's `RolloutBuffer.compute_returns_and_advantage` exactly
#
# With values $V_t = V(s_t)$ recorded during the rollout and `last_values` $= V(s_T)$ (the
# observation after the last step), going backwards:
#
# $$\delta_t = r_t + \gamma (1-d_t) V_{t+1} - V_t,\qquad \hat A_t = \delta_t + \gamma\lambda(1-d_t)\hat A_{t+1},$$
#
# with $V_T$ = `last_values` and $\hat A_T = 0$. The value targets are the **λ-returns**
# $\hat A_t + V_t$. After an episode end, $V_{t+1}$ belongs to the next episode: the factor
# $(1 - d_t)$ removes it from both the TD error and the recursion (truncations were already folded
# into $r_t$ by section 3). This is SB3's `compute_returns_and_advantage` and CleanRL's loop; SB3
# stores `episode_starts[t+1]` where we store `dones[t]`, which is the same information.
#
# **Exercise.** Implement `gae`.
#
# > **Difficulty** 🔴🔴🔴⚪⚪ · **Importance** 🔵🔵🔵🔵🔵 · **Time** ~20 min
#
# <details><summary>Hint 1</summary>
#
# The value of the next state is `values[t + 1]`, except at the last step, where it is `last_values`.
#
# </details>
#
# <details><summary>Hint 2 (pseudocode)</summary>
#
# ```
# adv = zeros [T, N]; running = zeros [N]
# for t = T-1 … 0:
#     next_v = last_values if t == T-1 else values[t+1]
#     keep = 1 - dones[t]
#     delta = rewards[t] + gamma * keep * next_v - values[t]
#     running = delta + gamma * lam * keep * running
#     adv[t] = running
# return adv, adv + values
# ```
#
# </details>


# %%
def gae(
    rewards: torch.Tensor,
    values: torch.Tensor,
    dones: torch.Tensor,
    last_values: torch.Tensor,
    gamma: float = 0.99,
    gae_lambda: float = 0.95,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Generalised advantage estimates and λ-returns of a rollout.

    Args:
        rewards: [T, N] float (truncations already bootstrapped into them).
        values: [T, N] float, V(s_t) recorded during the rollout.
        dones: [T, N] (bool or 0/1), 1 where the episode ended with step t.
        last_values: [N] float, V of the observation after the last step.
        gamma, gae_lambda: the discount and GAE's λ.

    Returns:
        (advantages, returns), both [T, N]; returns = advantages + values.
    """
    ### BEGIN SOLUTION
    keep = 1.0 - dones.to(rewards.dtype)
    advantages = torch.zeros_like(rewards)
    running = torch.zeros_like(last_values)
    for t in reversed(range(rewards.shape[0])):
        next_values = last_values if t == rewards.shape[0] - 1 else values[t + 1]
        delta = rewards[t] + gamma * keep[t] * next_values - values[t]
        running = delta + gamma * gae_lambda * keep[t] * running
        advantages[t] = running
    return advantages, advantages + values
    ### END SOLUTION


# %%
check("w02_rl_foundations.gae", gae)
### BEGIN HIDDEN TESTS
check("w02_rl_foundations.gae", gae, hidden=True)
### END HIDDEN TESTS

# %% [markdown]
# Two identities to check your understanding: with λ = 1, GAE's returns are section 1's discounted
# returns with the last value bootstrapped; with λ = 0, the advantage is the one-step TD error.

# %%
g = torch.Generator().manual_seed(0)
r, v, lv = torch.rand(6, 3, generator=g), torch.randn(6, 3, generator=g), torch.randn(3, generator=g)
d = torch.rand(6, 3, generator=g) < 0.3
r_boot = r.clone()
r_boot[-1] += 0.9 * lv * (~d[-1])  # the end of the rollout bootstraps like a truncation
print(
    "λ = 1 returns equal discounted returns:",
    torch.allclose(gae(r, v, d, lv, 0.9, 1.0)[1], discounted_returns(r_boot, d, 0.9)),
)
next_v = torch.cat([v[1:], lv[None]]) * (~d)
print("λ = 0 advantages equal TD errors:", torch.allclose(gae(r, v, d, lv, 0.9, 0.0)[0], r + 0.9 * next_v - v))

# %% [markdown]
# ## 5. Explained variance: is the value function learning?
#
# > **Learning objectives**
# > - compute SB3's `explained_variance` and read it during training
#
# $\mathrm{EV} = 1 - \mathrm{Var}[y - \hat y]/\mathrm{Var}[y]$ with $y$ the returns and $\hat y$ the
# values predicted for them: 1 is a perfect critic, 0 is no better than a constant, negative is
# worse than a constant. SB3 and CleanRL log it at every update; when it stays near 0 or below the
# baseline is not reducing variance and the advantages are mostly noise. With constant targets
# (Var[y] = 0) it is undefined: SB3 returns NaN.
#
# **Exercise.** Implement `explained_variance` (population variances, as `np.var`), returning a
# Python float.
#
# > **Difficulty** 🔴⚪⚪⚪⚪ · **Importance** 🔵🔵🔵⚪⚪ · **Time** ~5 min
#
# <details><summary>Hint 1</summary>
#
# `torch.var(x, unbiased=False)` is `np.var(x)`; return `float("nan")` when the targets' variance is 0.
#
# </details>
#
# <details><summary>Hint 2 (pseudocode)</summary>
#
# ```
# var_y = var(y_true)
# return nan if var_y == 0 else float(1 - var(y_true - y_pred) / var_y)
# ```
#
# </details>


# %%
def explained_variance(y_pred: torch.Tensor, y_true: torch.Tensor) -> float:
    """1 − Var[y_true − y_pred] / Var[y_true] (population variances), NaN when Var[y_true] = 0.

    Args:
        y_pred: [B] float, predicted values.
        y_true: [B] float, the targets (returns).

    Returns:
        A Python float.
    """
    ### BEGIN SOLUTION
    var_y = torch.var(y_true.double(), unbiased=False)
    if var_y == 0:
        return float("nan")
    return float(1 - torch.var((y_true - y_pred).double(), unbiased=False) / var_y)
    ### END SOLUTION


# %%
check("w02_rl_foundations.explained_variance", explained_variance)
### BEGIN HIDDEN TESTS
check("w02_rl_foundations.explained_variance", explained_variance, hidden=True)
### END HIDDEN TESTS

# %% [markdown]
# ## 6. PPO's three losses
#
# > **Learning objectives**
# > - implement the clipped surrogate and read its two diagnostics, the clip fraction and the
# >   approximate KL
# > - clip the value loss around the old values, and compute the entropy bonus stably
#
# **The clipped surrogate.** With $\rho = \exp(\log\pi_\theta - \log\pi_{\text{old}})$, the loss is
# $\mathbb{E}[\max(-\hat A\rho,\ -\hat A\operatorname{clip}(\rho, 1-\epsilon, 1+\epsilon))]$ (the
# max of the negatives is the min of the objectives: the pessimistic bound). Once the ratio has
# moved past $1 \pm \epsilon$ in the direction the advantage favours, the gradient of that sample
# is zero. Two diagnostics, as CleanRL logs them: the **clip fraction**, the share of samples with
# $|\rho - 1| > \epsilon$, and the **approximate KL** $\mathbb{E}[(\rho - 1) - \log\rho]$ (Schulman's
# "k3" estimator of $\mathrm{KL}(\pi_{\text{old}}\|\pi_\theta)$: unbiased and never negative).
#
# **Exercise.** Implement `ppo_policy_loss`, returning the loss and the two diagnostics as Python
# floats.
#
# > **Difficulty** 🔴🔴⚪⚪⚪ · **Importance** 🔵🔵🔵🔵🔵 · **Time** ~15 min
# >
# > **Must be differentiable:** gradients must flow back to `new_logprobs` (the grader checks them).
#
# <details><summary>Hint 1</summary>
#
# Work from the log-ratio: ratio = exp(new − old). The loss takes the elementwise max of −A·ratio and −A·clamp(ratio, 1 − ε, 1 + ε), then the mean.
#
# </details>
#
# <details><summary>Hint 2 (pseudocode)</summary>
#
# ```
# log_ratio = new_logprobs - old_logprobs; ratio = exp(log_ratio)
# loss = mean(max(-adv * ratio, -adv * clamp(ratio, 1 - eps, 1 + eps)))
# clip_fraction = mean(|ratio - 1| > eps)               # float
# approx_kl = mean((ratio - 1) - log_ratio)             # float, no gradient
# ```
#
# </details>


# %%
def ppo_policy_loss(
    new_logprobs: torch.Tensor, old_logprobs: torch.Tensor, advantages: torch.Tensor, clip_coef: float = 0.2
) -> tuple[torch.Tensor, float, float]:
    """PPO's clipped surrogate loss and its diagnostics.

    Args:
        new_logprobs: [B] float, log π_θ(a | s) under the current policy (with gradient).
        old_logprobs: [B] float, the same under the policy that collected the data.
        advantages: [B] float (already normalised if you normalise).
        clip_coef: ε; ``math.inf`` switches clipping off.

    Returns:
        (loss, clip_fraction, approx_kl): a scalar tensor and two Python floats.
    """
    ### BEGIN SOLUTION
    log_ratio = new_logprobs - old_logprobs
    ratio = log_ratio.exp()
    unclipped = -advantages * ratio
    clipped = -advantages * torch.clamp(ratio, 1 - clip_coef, 1 + clip_coef)
    loss = torch.max(unclipped, clipped).mean()
    with torch.no_grad():
        clip_fraction = ((ratio - 1).abs() > clip_coef).float().mean().item()
        approx_kl = ((ratio - 1) - log_ratio).mean().item()
    return loss, clip_fraction, approx_kl
    ### END SOLUTION


# %%
check("w02_rl_foundations.ppo_policy_loss", ppo_policy_loss)
### BEGIN HIDDEN TESTS
check("w02_rl_foundations.ppo_policy_loss", ppo_policy_loss, hidden=True)
### END HIDDEN TESTS

# %% [markdown]
# **The clipped value loss.** PPO's paper implementation (and CleanRL's default `clip_vloss=True`)
# also keeps the new value prediction within $\epsilon$ of the old one, pessimistically:
# $\frac12\mathbb{E}[\max((V_\theta - R)^2,\ (V_{\text{old}} + \operatorname{clip}(V_\theta - V_{\text{old}}, -\epsilon, \epsilon) - R)^2)]$.
# (SB3 leaves value clipping off by default, `clip_range_vf=None`; studies of PPO's details found it
# rarely helps. We implement it because week 4's RLHF uses it.)
#
# **Exercise.** Implement `ppo_value_loss`.
#
# > **Difficulty** 🔴🔴⚪⚪⚪ · **Importance** 🔵🔵🔵⚪⚪ · **Time** ~10 min
# >
# > **Must be differentiable:** gradients must flow back to `new_values` (the grader checks them).
#
# <details><summary>Hint 1</summary>
#
# The clipped prediction is old_values + clamp(new_values − old_values, −ε, ε); both squared errors are against the returns.
#
# </details>
#
# <details><summary>Hint 2 (pseudocode)</summary>
#
# ```
# v_clipped = old + clamp(new - old, -eps, eps)
# return 0.5 * mean(max((new - returns)**2, (v_clipped - returns)**2))
# ```
#
# </details>


# %%
def ppo_value_loss(
    new_values: torch.Tensor, old_values: torch.Tensor, returns: torch.Tensor, clip_coef: float = 0.2
) -> torch.Tensor:
    """PPO's clipped value loss (CleanRL's ``clip_vloss=True``).

    Args:
        new_values: [B] float, V_θ(s) now (with gradient).
        old_values: [B] float, V(s) recorded during the rollout.
        returns: [B] float, the value targets (λ-returns).
        clip_coef: ε; ``math.inf`` gives the plain 0.5 · mean squared error.

    Returns:
        A scalar tensor.
    """
    ### BEGIN SOLUTION
    unclipped = (new_values - returns) ** 2
    v_clipped = old_values + torch.clamp(new_values - old_values, -clip_coef, clip_coef)
    clipped = (v_clipped - returns) ** 2
    return 0.5 * torch.max(unclipped, clipped).mean()
    ### END SOLUTION


# %%
check("w02_rl_foundations.ppo_value_loss", ppo_value_loss)
### BEGIN HIDDEN TESTS
check("w02_rl_foundations.ppo_value_loss", ppo_value_loss, hidden=True)
### END HIDDEN TESTS

# %% [markdown]
# **The entropy bonus.** Subtracting $c_{\text{ent}}\cdot H[\pi(\cdot\mid s)]$ from the loss
# rewards staying random, which delays premature collapse onto one action. The entropy of a
# categorical distribution is $-\sum_a p_a \log p_a$; computed from `softmax(logits).log()` it turns
# into NaN as soon as a probability underflows to 0 (0 · −∞), so use `log_softmax`.
#
# **Exercise.** Implement `entropy_bonus`: the mean entropy (in nats) of a batch of categorical
# distributions.
#
# > **Difficulty** 🔴⚪⚪⚪⚪ · **Importance** 🔵🔵🔵⚪⚪ · **Time** ~5 min
# >
# > **Must be differentiable:** gradients must flow back to `logits` (the grader checks them).
#
# <details><summary>Hint 1</summary>
#
# p = softmax(logits), log p = log_softmax(logits); sum over actions, mean over the batch.
#
# </details>
#
# <details><summary>Hint 2 (pseudocode)</summary>
#
# ```
# logp = log_softmax(logits, -1)                     # [B, A]
# return mean(-(exp(logp) * logp).sum(-1))
# ```
#
# </details>


# %%
def entropy_bonus(logits: torch.Tensor) -> torch.Tensor:
    """Mean entropy of the categorical distributions softmax(logits).

    Args:
        logits: [B, A] float.

    Returns:
        A scalar tensor: mean over the batch of −Σ_a p_a log p_a (natural log).
    """
    ### BEGIN SOLUTION
    logp = torch.log_softmax(logits, dim=-1)
    return -(logp.exp() * logp).sum(-1).mean()
    ### END SOLUTION


# %%
check("w02_rl_foundations.entropy_bonus", entropy_bonus)
### BEGIN HIDDEN TESTS
check("w02_rl_foundations.entropy_bonus", entropy_bonus, hidden=True)
### END HIDDEN TESTS

# %% [markdown]
# ## 7. Integration: the PPO update
#
# > **Learning objectives**
# > - write PPO's optimisation phase: epochs of shuffled minibatches, per-minibatch advantage
# >   normalisation, the combined loss, gradient clipping
# > - know which tensors come from the rollout (fixed) and which from the network (recomputed)
#
# After a rollout, PPO optimises on it for `epochs` passes. Each pass draws a fresh permutation of
# the batch **from `generator`** (`torch.randperm(n, generator=generator)`, one per epoch, in this
# order, so that the grader can replay it) and cuts it into consecutive minibatches of
# `minibatch_size` (the last one may be shorter). On each minibatch:
#
# 1. run the agent: `logits, values = agent(obs)`; the new log-probabilities of the rollout's actions;
# 2. normalise the minibatch's advantages: $(A - \bar A)/(\operatorname{std}(A) + 10^{-8})$ (torch's
#    default, unbiased std) when `norm_adv`;
# 3. loss = policy loss + `vf_coef` · value loss − `ent_coef` · entropy, with your three functions
#    (the value loss clipped with the same ε when `clip_vloss`, else with ε = ∞);
# 4. `zero_grad`, `backward`, clip the gradient norm to `max_grad_norm`, `step`.
#
# Return the mean over all minibatches of the policy loss, the value loss, the entropy, the approximate
# KL and the clip fraction (floats). The grader runs your update with SGD on a tiny agent and
# compares these metrics and the final weights with the reference's.
#
# **Exercise (integration).** Implement `ppo_update`.
#
# > **Difficulty** 🔴🔴🔴⚪⚪ · **Importance** 🔵🔵🔵🔵🔵 · **Time** ~25 min
#
# <details><summary>Hint 1</summary>
#
# The rollout's `logprobs`, `values`, `advantages` and `returns` are fixed for the whole update; only the agent's outputs are recomputed on every minibatch.
#
# </details>
#
# <details><summary>Hint 2 (pseudocode)</summary>
#
# ```
# for epoch in range(epochs):
#     perm = randperm(n, generator=generator)
#     for start in range(0, n, minibatch_size):
#         idx = perm[start:start + minibatch_size]
#         logits, values = agent(batch["obs"][idx])
#         new_logp = log_softmax(logits).gather(actions[idx])
#         adv = normalise(batch["advantages"][idx])
#         pl, cf, kl = ppo_policy_loss(new_logp, batch["logprobs"][idx], adv, clip_coef)
#         vl = ppo_value_loss(values, batch["values"][idx], batch["returns"][idx], clip_coef if clip_vloss else inf)
#         ent = entropy_bonus(logits)
#         loss = pl + vf_coef * vl - ent_coef * ent
#         zero_grad; backward; clip_grad_norm_(agent.parameters(), max_grad_norm); step
#         record pl, vl, ent, kl, cf
# return the means
# ```
#
# </details>


# %%
def ppo_update(
    agent: nn.Module,
    optimizer: torch.optim.Optimizer,
    batch: dict[str, torch.Tensor],
    generator: torch.Generator,
    epochs: int = 4,
    minibatch_size: int = 64,
    clip_coef: float = 0.2,
    vf_coef: float = 0.5,
    ent_coef: float = 0.0,
    max_grad_norm: float = 0.5,
    norm_adv: bool = True,
    clip_vloss: bool = True,
) -> dict[str, float]:
    """PPO's optimisation phase on one flattened rollout.

    Args:
        agent: ``logits, values = agent(obs)`` with logits [B, A] and values [B].
        optimizer: over the agent's parameters.
        batch: ``obs`` [n, D], ``actions`` [n] long, ``logprobs`` [n], ``values`` [n],
            ``advantages`` [n], ``returns`` [n] (floats), all from the rollout.
        generator: draws one permutation of the n samples per epoch.
        epochs, minibatch_size, clip_coef, vf_coef, ent_coef, max_grad_norm, norm_adv, clip_vloss:
            as in CleanRL (``clip_vloss=False``: value loss with ``clip_coef=math.inf``).

    Returns:
        {"policy_loss", "value_loss", "entropy", "approx_kl", "clip_fraction"}: means over minibatches.
    """
    ### BEGIN SOLUTION
    n = batch["obs"].shape[0]
    logs = {"policy_loss": [], "value_loss": [], "entropy": [], "approx_kl": [], "clip_fraction": []}
    for _ in range(epochs):
        perm = torch.randperm(n, generator=generator)
        for start in range(0, n, minibatch_size):
            idx = perm[start : start + minibatch_size].to(batch["obs"].device)
            logits, values = agent(batch["obs"][idx])
            new_logprobs = torch.log_softmax(logits, -1).gather(-1, batch["actions"][idx].long()[:, None])[:, 0]
            advantages = batch["advantages"][idx]
            if norm_adv:
                advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
            policy_loss, clip_fraction, approx_kl = ppo_policy_loss(
                new_logprobs, batch["logprobs"][idx], advantages, clip_coef
            )
            value_clip = clip_coef if clip_vloss else math.inf
            value_loss = ppo_value_loss(values, batch["values"][idx], batch["returns"][idx], value_clip)
            entropy = entropy_bonus(logits)
            loss = policy_loss + vf_coef * value_loss - ent_coef * entropy
            optimizer.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(agent.parameters(), max_grad_norm)
            optimizer.step()
            for key, value in zip(
                logs, (policy_loss.item(), value_loss.item(), entropy.item(), approx_kl, clip_fraction)
            ):
                logs[key].append(value)
    return {key: sum(values) / len(values) for key, values in logs.items()}
    ### END SOLUTION


# %%
check("w02_rl_foundations.ppo_update", ppo_update)
### BEGIN HIDDEN TESTS
check("w02_rl_foundations.ppo_update", ppo_update, hidden=True)
### END HIDDEN TESTS

# %% [markdown]
# ## 8. The agent and the vectorised rollout
#
# > **Learning objectives**
# > - collect experience from N environments at once, with an explicit autoreset mode
# > - handle termination, truncation and the end of the rollout in one place
#
# The agent is CleanRL's: separate actor and critic, two hidden layers of 64 with tanh, orthogonal
# initialisation (the actor's last layer scaled by 0.01 so that the first policy is nearly
# uniform). The loop below uses gymnasium's `SyncVectorEnv` with
# `autoreset_mode=AutoresetMode.SAME_STEP`: when an episode ends, `step` already returns the next
# episode's first observation and puts the final one in `info["final_obs"]`, which is what section
# 3's bootstrap needs. Every step is a real transition, so nothing has to be masked out.
#
# Hyperparameters are those RL Baselines3 Zoo tuned for PPO on CartPole-v1 (8 environments × 32
# steps per rollout, 20 epochs of minibatches of 256, γ = 0.98, λ = 0.8, learning rate 10⁻³ and
# ε = 0.2 both annealed linearly to 0 at 100,000 steps, no entropy bonus, no value clipping). SB3's defaults (1 environment
# × 2048 steps, 10 epochs of 64, γ = 0.99, λ = 0.95, learning rate 3·10⁻⁴) are a general-purpose
# compromise. Value clipping is off (`clip_vloss=False`, as in SB3 and the Zoo): CartPole's returns
# reach ~50 with γ = 0.98, and a critic allowed to move its predictions by at most ε = 0.2 per
# update learns far too slowly (the ☆ Bonus asks you to measure it).

# %%
CONFIG = {
    "n_envs": 8, "n_steps": 32, "epochs": 20, "minibatch_size": 256, "lr": 1e-3, "gamma": 0.98, "gae_lambda": 0.8,
    "clip_coef": 0.2, "clip_vloss": False, "vf_coef": 0.5, "ent_coef": 0.0, "max_grad_norm": 0.5, "horizon": 100_000,
}  # fmt: skip
TARGET = 475  # CartPole-v1's "solved" threshold
WINDOW = 20  # episodes in the moving average that must reach TARGET


def layer(n_in: int, n_out: int, std: float = math.sqrt(2)) -> nn.Linear:
    out = nn.Linear(n_in, n_out)
    nn.init.orthogonal_(out.weight, std)
    nn.init.zeros_(out.bias)
    return out


class Agent(nn.Module):
    """Separate actor and critic MLPs: ``logits, values = agent(obs)``."""

    def __init__(self, obs_dim: int = 4, n_actions: int = 2, hidden: int = 64) -> None:
        super().__init__()
        self.actor = nn.Sequential(
            layer(obs_dim, hidden), nn.Tanh(), layer(hidden, hidden), nn.Tanh(), layer(hidden, n_actions, 0.01)
        )
        self.critic = nn.Sequential(
            layer(obs_dim, hidden), nn.Tanh(), layer(hidden, hidden), nn.Tanh(), layer(hidden, 1, 1.0)
        )

    def forward(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.actor(obs), self.critic(obs).squeeze(-1)


def make_envs(n_envs: int) -> gym.vector.VectorEnv:
    """N CartPole-v1 environments stepped in turn, resetting within the step that ends an episode."""
    return gym.vector.SyncVectorEnv(
        [lambda: gym.make("CartPole-v1") for _ in range(n_envs)], autoreset_mode=gym.vector.AutoresetMode.SAME_STEP
    )


def collect_rollout(envs, agent: Agent, obs: np.ndarray, n_steps: int, gamma: float, generator: torch.Generator):
    """Run the agent for n_steps in every environment.

    Returns the rollout ([T, N] tensors; truncations bootstrapped into the rewards), the next
    observation, the returns of the episodes that finished, and V of the next observation.
    """
    n = envs.num_envs
    rollout = {k: torch.zeros(n_steps, n) for k in ("rewards", "dones", "logprobs", "values")}
    rollout["obs"] = torch.zeros(n_steps, n, obs.shape[-1])
    rollout["actions"] = torch.zeros(n_steps, n, dtype=torch.long)
    finished = []
    for t in range(n_steps):
        obs_t = torch.as_tensor(obs, dtype=torch.float32)
        with torch.no_grad():
            logits, values = agent(obs_t)
            logp_all = torch.log_softmax(logits, -1)
            actions = torch.multinomial(logp_all.exp(), 1, generator=generator).squeeze(-1)
        obs, rewards, terminated, truncated, info = envs.step(actions.numpy())
        rewards = torch.as_tensor(rewards, dtype=torch.float32)
        terminated, truncated = torch.as_tensor(terminated), torch.as_tensor(truncated)
        final_values = torch.zeros(n)
        if truncated.any():  # V of the final observation (SAME_STEP: obs is already the reset one)
            idx = np.flatnonzero(truncated.numpy())
            with torch.no_grad():
                final_values[idx] = agent(torch.as_tensor(np.stack(info["final_obs"][idx]), dtype=torch.float32))[1]
        rollout["rewards"][t] = bootstrap_truncated(rewards, terminated, truncated, final_values, gamma)
        rollout["dones"][t] = (terminated | truncated).float()
        rollout["obs"][t], rollout["actions"][t], rollout["values"][t] = obs_t, actions, values
        rollout["logprobs"][t] = logp_all.gather(-1, actions[:, None])[:, 0]
        if "episode" in info:  # RecordEpisodeStatistics, per environment
            finished += [float(x) for x in info["episode"]["r"][info["_episode"]]]
    with torch.no_grad():
        last_values = agent(torch.as_tensor(obs, dtype=torch.float32))[1]
    return rollout, obs, finished, last_values


# %% [markdown]
# One training function runs both algorithms. **PPO**: GAE, then `ppo_update`. **REINFORCE with a
# baseline**: returns-to-go (section 1, with the rollout's end bootstrapped like a truncation),
# minus the critic's value as baseline, **one** gradient step per rollout on `reinforce_loss` plus
# the critic's squared error. The curve logged is the mean return of the last 20 finished
# episodes, against environment steps; a run stops once it reaches 475 when `stop_at_target`.


# %%
def train(
    algo: str = "ppo",
    seed: int = 0,
    total_steps: int = 60_000,
    stop_at_target: bool = True,
    desc: str = "",
    **overrides,
) -> dict:
    """Train on CartPole-v1; returns the curve (steps, mean return of the last WINDOW episodes) and stats."""
    cfg = {**CONFIG, **overrides}
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    envs = gym.wrappers.vector.RecordEpisodeStatistics(make_envs(cfg["n_envs"]))
    obs, _ = envs.reset(seed=seed)
    agent = Agent()
    optimizer = torch.optim.Adam(agent.parameters(), lr=cfg["lr"], eps=1e-5)
    per_rollout = cfg["n_envs"] * cfg["n_steps"]
    episodes, curve, evs, kls, steps, reached = [], [], [], [], 0, None
    started = time.perf_counter()
    bar = progress(total=total_steps, desc=desc or f"{algo} seed {seed}", leave=False)
    while steps < total_steps:
        frac = max(0.0, 1.0 - steps / cfg["horizon"])  # linear annealing of lr and ε
        optimizer.param_groups[0]["lr"] = cfg["lr"] * frac
        rollout, obs, finished, last_values = collect_rollout(envs, agent, obs, cfg["n_steps"], cfg["gamma"], generator)
        steps += per_rollout
        episodes += finished
        if algo == "ppo":
            advantages, returns = gae(
                rollout["rewards"], rollout["values"], rollout["dones"], last_values, cfg["gamma"], cfg["gae_lambda"]
            )
            flat = {k: rollout[k].flatten(0, 1) for k in ("obs", "actions", "logprobs", "values")}
            flat.update(advantages=advantages.flatten(), returns=returns.flatten())
            clip = cfg["clip_coef"] * frac if math.isfinite(cfg["clip_coef"]) else math.inf
            stats = ppo_update(
                agent, optimizer, flat, generator, cfg["epochs"], cfg["minibatch_size"], clip,
                cfg["vf_coef"], cfg["ent_coef"], cfg["max_grad_norm"], clip_vloss=cfg["clip_vloss"],
            )  # fmt: skip
        else:
            rewards = rollout["rewards"].clone()
            rewards[-1] += cfg["gamma"] * last_values * (1 - rollout["dones"][-1])  # the rollout's end
            returns = discounted_returns(rewards, rollout["dones"], cfg["gamma"])
            logits, values = agent(rollout["obs"].flatten(0, 1))
            loss = reinforce_loss(logits, rollout["actions"].flatten(), returns.flatten(), values.detach())
            loss = loss + cfg["vf_coef"] * 0.5 * ((values - returns.flatten()) ** 2).mean()
            optimizer.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(agent.parameters(), cfg["max_grad_norm"])
            optimizer.step()
            stats = {"approx_kl": 0.0}  # one step from the data-collecting policy: no drift to measure
        kls.append(stats["approx_kl"])
        evs.append(explained_variance(rollout["values"].flatten(), returns.flatten()))
        mean_return = float(np.mean(episodes[-WINDOW:])) if len(episodes) >= WINDOW else float("nan")
        curve.append((steps, mean_return))
        bar.update(per_rollout)
        if reached is None and mean_return >= TARGET:
            reached = steps
            if stop_at_target:
                break
    bar.close()
    envs.close()
    seconds = time.perf_counter() - started
    return {"curve": curve, "steps_to_target": reached, "steps": steps, "seconds": seconds, "explained_variance": evs, "approx_kl": kls, "agent": agent}  # fmt: skip


# %% [markdown]
# Some statistics helpers: a mean with a 95% t-interval over seeds, and curves aligned on a
# common grid of environment steps (a run that stopped at the target keeps its last value only
# for the *solved* plot; comparisons at a fixed budget use runs that did not stop).

# %%
T95 = {2: 12.71, 3: 4.30, 4: 3.18, 5: 2.78, 6: 2.57, 7: 2.45, 8: 2.36, 9: 2.31, 10: 2.26}


def mean_interval(xs) -> tuple[float, float]:
    """Mean and half-width of the 95% t-interval (half-width 0 for one value)."""
    xs = np.asarray(xs, dtype=float)
    if len(xs) < 2:
        return float(xs.mean()), 0.0
    return float(xs.mean()), float(T95.get(len(xs), 1.96) * xs.std(ddof=1) / math.sqrt(len(xs)))


def band(runs: list[dict], grid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean curve and 95% half-width over runs, on a grid of steps (NaN before the first 20 episodes count as 0)."""
    ys = []
    for run in runs:
        steps, values = zip(*run["curve"])
        values = np.nan_to_num(np.asarray(values), nan=0.0)
        ys.append(np.interp(grid, steps, values, right=values[-1]))
    ys = np.asarray(ys)
    half = np.array([mean_interval(col)[1] for col in ys.T])
    return ys.mean(0), half


def plot_bands(groups: dict[str, list[dict]], grid: np.ndarray, title: str, ax=None) -> None:
    ax = ax or plt.gca()
    for name, runs in groups.items():
        mean, half = band(runs, grid)
        ax.plot(grid, mean, label=name)
        ax.fill_between(grid, mean - half, mean + half, alpha=0.2)
    ax.axhline(TARGET, color="grey", ls="--", lw=0.8)
    ax.set_xlabel("environment steps")
    ax.set_ylabel(f"mean return (last {WINDOW} episodes)")
    ax.set_title(title)
    ax.legend()


SEEDS = [0, 1, 2]
SOLVE_STEPS = scale(60_000, 2_048)  # at most this many steps per PPO run to reach 475
BUDGET = scale(15_000, 1_024)  # the fixed budget of the comparison runs

# %% [markdown]
# ## 9. PPO solves CartPole
#
# > **Learning objectives**
# > - train PPO to CartPole-v1's "solved" threshold and measure steps and seconds over seeds
#
# **Predict, then run.** How many environment steps will our PPO need to reach a mean return of
# 475, and how many seconds? Write both numbers down. (`python -m benchmarks.ppo_cartpole` measures
# the same for SB3's PPO with its defaults, one run each.)

# %%
ppo_runs = [train("ppo", seed, SOLVE_STEPS, desc=f"PPO seed {seed}") for seed in SEEDS]
solved = [r["steps_to_target"] for r in ppo_runs]
for seed, run in zip(SEEDS, ppo_runs):
    print(f"seed {seed}: reached {TARGET} after {run['steps_to_target']} steps; {run['steps']} steps in "
          f"{run['seconds']:.1f} s ({run['steps'] / run['seconds']:.0f} steps/s)")  # fmt: skip
if all(s is not None for s in solved):
    m, h = mean_interval(solved)
    print(f"steps to {TARGET}: {m:.0f} ± {h:.0f} (mean ± 95% interval over {len(SEEDS)} seeds)")
else:
    print(f"{sum(s is None for s in solved)} of {len(SEEDS)} seeds did not reach {TARGET} within {SOLVE_STEPS} steps")

fig, axes = plt.subplots(1, 2, figsize=(11, 3.5))
for seed, run in zip(SEEDS, ppo_runs):
    steps, values = zip(*run["curve"])
    axes[0].plot(steps, values, label=f"seed {seed}")
    axes[1].plot(steps, run["explained_variance"], label=f"seed {seed}")
axes[0].axhline(TARGET, color="grey", ls="--", lw=0.8)
axes[0].set(xlabel="environment steps", ylabel=f"mean return (last {WINDOW} episodes)", title="PPO on CartPole-v1")
axes[1].set(xlabel="environment steps", ylabel="explained variance", title="is the critic learning?", ylim=(-1, 1))
for ax in axes:
    ax.legend()
fig.tight_layout()
plt.show()

# %%
ev_first = [float(np.nanmean(r["explained_variance"][:5])) for r in ppo_runs]
ev_best = [float(np.nanmax(r["explained_variance"])) for r in ppo_runs]
ev_last = [float(np.nanmean(r["explained_variance"][-5:])) for r in ppo_runs]
print(
    f"explained variance (mean over seeds): first 5 rollouts {np.mean(ev_first):.2f}, "
    f"highest {np.mean(ev_best):.2f}, last 5 rollouts {np.mean(ev_last):.2f}"
)

# %% [markdown]
# Read the three printed numbers. An untrained critic explains nothing (near 0, or below). While
# episodes end at many different lengths, the returns vary a lot and a critic that has learned
# "how long until the pole falls" can explain part of it (the highest value printed). Near the end, when almost every
# episode runs to the time limit, nearly every state's target is close to the same value (about
# 1/(1 − γ) = 50), so Var[y] is small, and the explained variance becomes a poor diagnostic exactly
# when the policy is good. Read it together with the value loss and the spread of the returns, never
# alone.

# %% [markdown]
# ## 10. REINFORCE against PPO, and PPO without clipping
#
# > **Learning objectives**
# > - measure what reusing each batch for many clipped steps buys over one REINFORCE step
# > - measure what the clipping itself does when the batch is reused
#
# Same networks, same rollouts (8 × 32 steps), same budget of environment steps, three seeds each.
# REINFORCE takes one gradient step per rollout; PPO takes 20 (20 epochs of one minibatch of 256);
# "PPO, no clipping" takes the same 20 steps with ε = ∞ (the surrogate becomes the plain
# importance-weighted policy gradient, and the value loss plain squared error).
#
# **Predict, then run.** Rank the three by mean return after the budget. Will PPO without clipping
# be better or worse than REINFORCE? Than PPO?

# %%
# PPO's curves are section 9's runs up to the budget (identical seeds and settings; a run that
# reached the target earlier keeps its last value)
runs = {"PPO": [{**r, "curve": [(s, v) for s, v in r["curve"] if s <= BUDGET] or r["curve"][:1]} for r in ppo_runs]}
runs["REINFORCE"] = [train("reinforce", s, BUDGET, stop_at_target=False, desc=f"REINFORCE seed {s}") for s in SEEDS]
runs["PPO, no clipping"] = [
    train("ppo", s, BUDGET, stop_at_target=False, desc=f"no clip seed {s}", clip_coef=math.inf) for s in SEEDS
]
grid = np.linspace(CONFIG["n_envs"] * CONFIG["n_steps"], BUDGET, 50)
plot_bands(runs, grid, f"mean ± 95% interval over {len(SEEDS)} seeds")
plt.show()


def final_return(run: dict, last: int = 5) -> float:
    """Mean of the logged curve over the last few rollouts (NaN-free)."""
    return float(np.nanmean([v for _, v in run["curve"][-last:]] or [0.0]))


print(f"after {BUDGET} steps: mean return over the last 5 rollouts; mean approximate KL per PPO update")
for name, group in runs.items():
    m, h = mean_interval([final_return(r) for r in group])
    kl = mean_interval([float(np.mean([k for (s, _), k in zip(r["curve"], r["approx_kl"]) if s <= BUDGET])) for r in group])  # fmt: skip
    print(f"  {name:>18}: return {m:6.1f} ± {h:5.1f}   approx KL {kl[0]:.4f} ± {kl[1]:.4f}")

# %% [markdown]
# Read the printed table against your prediction. REINFORCE uses each sample for one small step
# and then throws it away; PPO squeezes 20 steps out of each batch, which is where its sample
# efficiency should come from. Without clipping nothing stops those 20 steps from moving the policy
# far from the one that collected the data: compare the approximate KL per update of the two PPO
# variants (REINFORCE's is 0 by construction: its single step starts from the acting policy). How
# far the policy drifts per update is what clipping controls; whether that drift hurts the return
# within this budget is what the bands say. With three seeds a difference is resolved only where
# the intervals do not overlap; where they do, this run cannot tell the variants apart, and more
# seeds (the ☆ Bonus) are the next step, not a conclusion.
#
# ## 11. GAE's λ: bias against variance
#
# > **Learning objectives**
# > - see how λ trades the bias of bootstrapped targets against the variance of Monte Carlo ones
#
# **Predict, then run.** λ = 0 uses only one-step TD errors (low variance, biased by a bad critic
# early on); λ = 1 uses Monte Carlo returns minus the baseline (unbiased, high variance). Which of
# λ ∈ {0, 0.8, 1} learns fastest here, and which slowest?

# %%
LAMBDAS = [0.0, 0.8, 1.0]
lambda_runs = {
    f"λ = {lam}": runs["PPO"]
    if lam == CONFIG["gae_lambda"]
    else [train("ppo", s, BUDGET, stop_at_target=False, desc=f"λ={lam} seed {s}", gae_lambda=lam) for s in SEEDS]
    for lam in LAMBDAS
}
plot_bands(lambda_runs, grid, f"PPO with GAE(λ), {len(SEEDS)} seeds")
plt.show()
print(f"mean return over the last 5 rollouts, after {BUDGET} steps:")
for name, group in lambda_runs.items():
    m, h = mean_interval([final_return(r) for r in group])
    print(f"  {name:>8}: {m:6.1f} ± {h:5.1f}")

# %% [markdown]
# With γ = 0.98 the effective horizon is about 50 steps, and CartPole's reward is +1 at every step,
# so what the critic must learn is essentially "how long until the pole falls". λ = 0 leans on that
# critic entirely (biased while it is still wrong); λ = 1 ignores it for the targets and pays in
# variance. An intermediate λ is the usual answer in tuned configurations; compare the printed
# means and bands with your prediction. On an environment this easy, and with three seeds, the
# intervals are wide: read overlapping intervals as "not resolved", not as "no effect".
#
# ## 12. The library version: stable-baselines3
#
# > **Learning objectives**
# > - show that your GAE and explained variance equal SB3's on the same rollout
# > - know what SB3's PPO does differently by default
#
# SB3's `RolloutBuffer` stores `episode_starts` (1 where an observation is the first of an episode)
# rather than our `dones`; `episode_starts[t + 1] = dones[t]`, and the `dones` passed to
# `compute_returns_and_advantage` are those of the last step. Filling a buffer with a rollout of our
# agent and comparing (the same check runs in `tests/w02_rl_foundations/`):

# %%
from stable_baselines3.common.buffers import RolloutBuffer
from stable_baselines3.common.utils import explained_variance as sb3_explained_variance

envs = make_envs(4)
obs, _ = envs.reset(seed=123)
rollout, obs, _, last_values = collect_rollout(envs, Agent(), obs, 64, 0.99, torch.Generator().manual_seed(1))
envs.close()
T, N = rollout["rewards"].shape
buffer = RolloutBuffer(T, envs.single_observation_space, envs.single_action_space, device="cpu", gamma=0.99, gae_lambda=0.95, n_envs=N)  # fmt: skip
episode_start = np.ones(N, dtype=np.float32)  # the first observation starts an episode
for t in range(T):
    buffer.add(rollout["obs"][t].numpy(), rollout["actions"][t].numpy()[:, None], rollout["rewards"][t].numpy(),
               episode_start, rollout["values"][t], rollout["logprobs"][t])  # fmt: skip
    episode_start = rollout["dones"][t].numpy()
buffer.compute_returns_and_advantage(last_values, dones=rollout["dones"][-1].numpy())
ours_adv, ours_ret = gae(rollout["rewards"], rollout["values"], rollout["dones"], last_values, 0.99, 0.95)
adv_gap = np.abs(buffer.advantages - ours_adv.numpy()).max()
ret_gap = np.abs(buffer.returns - ours_ret.numpy()).max()
print(f"episode ends in the rollout: {int(rollout['dones'].sum())}")
print(f"largest |difference| from SB3: advantages {adv_gap:.2e}, returns {ret_gap:.2e}")
ev_ours = explained_variance(rollout["values"].flatten(), ours_ret.flatten())
ev_sb3 = sb3_explained_variance(rollout["values"].flatten().numpy(), ours_ret.flatten().numpy())
print(f"explained variance: ours {ev_ours:.6f}, SB3 {ev_sb3:.6f}")
assert adv_gap < 1e-5 and ret_gap < 1e-5 and abs(ev_ours - ev_sb3) < 1e-5

# %% [markdown]
# Both agree to float precision. What SB3's `PPO` does around them, by default:
#
# - **Truncation**: SB3's `collect_rollouts` adds γ·V(`terminal_observation`) to the reward of a
#   step whose `TimeLimit.truncated` is set, exactly section 3's bootstrap.
# - **Hyperparameters**: `n_steps=2048`, `batch_size=64`, `n_epochs=10`, `gamma=0.99`,
#   `gae_lambda=0.95`, `clip_range=0.2`, `ent_coef=0.0`, `vf_coef=0.5`, `max_grad_norm=0.5`,
#   learning rate 3·10⁻⁴ (no annealing), **no** value clipping (`clip_range_vf=None`), one shared
#   optimiser over separate actor and critic networks (64-64, tanh).
# - **Early stopping** on the approximate KL when `target_kl` is set (off by default).
#
# `python -m benchmarks.ppo_cartpole` trains our PPO and SB3's PPO (defaults) once each and records
# steps per second and steps to a mean return of 475 in `docs/BENCHMARKS.md`.
#
# ## What could go wrong in practice
#
# - **Truncation treated as termination.** The critic learns that the states of a *perfect*
#   episode are worth 0 at step 500; on CartPole that caps learning at the very end, elsewhere
#   (locomotion with time limits) it quietly biases everything. Bootstrap from the *final*
#   observation: the one `step` returns after an autoreset is the next episode's.
# - **The wrong autoreset convention.** Gymnasium 1.x defaults to `NEXT_STEP`: the step after an
#   episode end is a reset whose action is ignored and whose reward is 0. Code written for
#   `SAME_STEP` (or for gym 0.2x) that trains on those steps learns from transitions that never
#   happened. Set the mode explicitly and test it.
# - **Off-by-one in GAE.** Using `dones[t + 1]` where `dones[t]` is meant (CleanRL stores `dones` as
#   "this observation starts a new episode", SB3 as `episode_starts`): advantages leak across
#   episodes and nothing crashes. Compare with a library on a rollout with episode ends in it.
# - **Advantages not normalised, or normalised over the wrong set.** The scale of the policy loss
#   then tracks the reward scale; per-minibatch normalisation is what CleanRL and SB3 do.
# - **Stale log-probabilities.** The old log-probabilities must come from the policy that *acted*;
#   recomputing them at the start of the update from a network that has already changed (or after
#   the first epoch) makes the ratio 1 and switches the clipping off.
# - **Reading the reward curve alone.** Watch the approximate KL (≫ 0.02 per update: the steps are
#   too big), the clip fraction (≫ 0.2: same), the entropy (collapsing early: premature
#   determinism) and the explained variance (≤ 0: the baseline is noise).
# - **Seeds.** RL results vary across seeds far more than supervised ones; one run proves nothing,
#   and three give wide intervals (a t-multiplier of 4.3).
# - **Reward hacking.** The policy maximises the reward you wrote, not the one you meant: in week 4
#   the reward is a learned model, and PPO will find its mistakes. Measure the true objective too.
#
# ## ☆ Bonus
#
# Optional, ungraded.
#
# 1. **NEXT_STEP.** Rewrite `collect_rollout` for `AutoresetMode.NEXT_STEP` (or for gymnasium's
#    numpy-vectorised `CartPoleVectorEnv`, which only supports it): mask out the reset steps and
#    bootstrap truncations from the observation `step` returns. Check that training curves match.
# 2. **Target KL.** Stop the epochs early when the approximate KL exceeds 0.02 (SB3's `target_kl`),
#    and rerun the no-clipping experiment with it. Does early stopping replace clipping?
# 3. **Truncation ablation.** Treat truncations as terminations and set CartPole's time limit to
#    100 steps (`gym.make("CartPole-v1", max_episode_steps=100)`). How does the critic's value of
#    the start state change, and does learning?
# 4. **Value clipping.** Rerun section 9 with `clip_vloss=True`. How much slower does the critic
#    learn (explained variance), and how many more steps does PPO need? Would normalising the
#    returns fix it?
# 5. **More seeds.** Rerun sections 10 and 11 with ten seeds (about three times the run time).
#    Which of the printed differences survive?
# 6. **SB3 with tuned hyperparameters.** Give SB3's PPO our hyperparameters and compare steps to
#    475 again: how much of the difference is the algorithm's code, and how much its defaults?
#
# ## Interview questions
#
# 1. Derive the REINFORCE gradient. Why does subtracting a baseline not bias it, and why does it
#    help?
# 2. What is the difference between termination and truncation, and what goes wrong if a time
#    limit is treated as a terminal state?
# 3. Explain GAE. What do λ = 0 and λ = 1 correspond to, and how would you choose λ?
# 4. Why does PPO clip the probability ratio? What happens if you reuse a batch for many epochs
#    without clipping?
# 5. During a PPO run the approximate KL and the clip fraction suddenly rise and the return drops.
#    What would you check and change?
# 6. The explained variance of your critic stays near 0. What does that mean for the policy
#    gradient, and what would you look at?
# 7. How does PPO on CartPole map onto RLHF for a language model: what are the states, actions,
#    rewards and episodes, and which new problems appear?
