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
# # Week 4 — RLHF: PPO, RLOO and GRPO against a learned reward
#
# Week 3 turned preference pairs into a reward model; week 2 taught PPO on CartPole. This week
# puts the two together: a language model generates answers, the reward model scores them, and a
# policy-gradient update makes high-scoring answers more likely. That is **RLHF** (Christiano et
# al., 2017; Ouyang et al., 2022), the step that made chat models follow instructions.
#
# It is also where reward hacking shows up. The reward model is a *proxy*: it was fitted on a few
# thousand pairs and is wrong about texts it never saw. A policy optimised hard against it finds
# those texts. Gao et al. (2022) measured the result: as the policy moves away from its starting
# point (its KL divergence from the reference grows), the proxy reward keeps rising while the
# **gold** reward, the thing we actually care about, rises, peaks and falls. The small world has
# a gold labeller (`courselib.world.gold_reward`), so we can measure both.
#
# What the small world gives us:
#
# - `tiny-sft`, the chat model of week 1: the policy we start from and the frozen reference;
# - the preference pairs and week 3's reward model code (loaded with `load_reference`, not copied);
# - the gold labeller, which says for every generated answer what kind it is (correct help,
#   wrong help, refusal, over-refusal of a harmless request, harmful content, a leak).
#
# This week you will:
#
# 1. build the pieces of PPO for a language model: per-token rewards with a KL penalty (k1 and k3
#    estimators), GAE over tokens, the token-level PPO loss with a value head;
# 2. build the critic-free methods TRL ships today: RLOO's leave-one-out baseline, GRPO's
#    group-normalised advantages and GRPO's clipped, k3-penalised loss, equal to TRL 1.16's
#    `GRPOTrainer` on the same batch;
# 3. write the GRPO update and run RLHF on `tiny-sft` against a reward model trained in this
#    notebook, measuring proxy reward, gold reward and KL as training goes;
# 4. compare with best-of-n sampling, fit Gao et al.'s functional forms, sweep the KL
#    coefficient and read the reward hacks off the gold labeller's labels.
#
# ## The idea in five formulas
#
# RLHF maximises the reward of sampled answers while staying close to the reference policy:
#
# $$\max_\theta\; \mathbb{E}_{x,\; y\sim\pi_\theta(\cdot\mid x)}\big[r_\phi(x, y)\big] - \beta\, D_{\mathrm{KL}}\big(\pi_\theta(\cdot\mid x)\,\|\,\pi_{\mathrm{ref}}(\cdot\mid x)\big).$$
#
# 1. **Tokens are actions.** The answer $y = (y_1, \dots, y_L)$ is generated one token at a time;
#    the state at step $t$ is the prompt and the tokens so far. The KL of a whole answer is a sum
#    over its tokens of $\log\pi_\theta(y_t\mid\cdot) - \log\pi_{\mathrm{ref}}(y_t\mid\cdot)$.
# 2. **Per-token rewards** (PPO as in InstructGPT and TRL's old `PPOTrainer`): every completion
#    token gets $-\beta\,\widehat{\mathrm{kl}}_t$, and the last one also gets the reward model's
#    score: $r_t = -\beta\,\widehat{\mathrm{kl}}_t + [t = L]\; r_\phi(x, y)$.
# 3. **GAE** (week 2) on those rewards with a value head $V(s_t)$, per sequence:
#    $\delta_t = r_t + \gamma V_{t+1} - V_t$, $A_t = \delta_t + \gamma\lambda A_{t+1}$, with
#    $V_{L+1} = 0$ (the answer has ended).
# 4. **PPO's clipped loss** per token, averaged over completion tokens, plus a clipped value loss.
# 5. **No critic.** RLOO and GRPO drop the value head: sample $k$ answers per prompt and use the
#    others as the baseline. RLOO: $A_i = r_i - \frac{1}{k-1}\sum_{j\ne i} r_j$. GRPO:
#    $A_i = (r_i - \bar r)/(\mathrm{std}(r) + \epsilon)$, the same advantage for every token of
#    answer $i$, and the KL moved from the reward into the loss as the k3 estimator.

# %%
import copy
import math
import random
import time

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn as nn

from courselib.config import quick, scale
from courselib.device import get_device, single_thread_on_cpu
from courselib.progress import progress
from courselib.seed import set_seed
from graders import check, load_reference

set_seed(0)
device = get_device()
single_thread_on_cpu(device)  # tiny models: one CPU thread is as fast and copes with busy machines
print(f"PyTorch {torch.__version__}, running on {device}; quick mode: {quick()}")

# %% [markdown]
# ## 1. Per-token rewards and the KL penalty
#
# > **Learning objectives**
# > - turn one score per answer into a reward per token, with the KL penalty on every token
# > - know the k1 and k3 estimators of the KL and which one is always non-negative
#
# All token-level tensors this week are **[B, T]**, one column per position, with `mask` 1 on
# the completion tokens and 0 on the prompt and the padding:
#
# ```
# position        0  1  2  3  4  5
# mask            0  0  1  1  1  0      prompt, prompt, three answer tokens, padding
# ```
#
# With $\log r_t = \log\pi_\theta(y_t\mid\cdot) - \log\pi_{\mathrm{ref}}(y_t\mid\cdot)$ for a
# token sampled from $\pi_\theta$, two per-token estimates of the KL (Schulman, "Approximating KL
# divergence", 2020):
#
# - **k1** $= \log r_t$: unbiased, but negative for about half the tokens;
# - **k3** $= \frac{1}{r_t} - 1 + \log r_t = e^{-\log r_t} - 1 + \log r_t$: also unbiased (the
#   $\frac1{r_t} - 1$ term has mean 0 under $\pi_\theta$), never negative, lower variance.
#
# **Exercise.** Implement `per_token_rewards`: $-\beta\,\widehat{\mathrm{kl}}_t$ on every
# completion token (0 elsewhere), plus the score on each row's **last** completion token.
#
# > **Difficulty** 🔴🔴⚪⚪⚪ · **Importance** 🔵🔵🔵🔵⚪ · **Time** ~15 min
#
# <details><summary>Hint 1</summary>
#
# The last completion token of a row is the largest position where `mask` is 1 (week 3's `last_token_index`).
#
# </details>
#
# <details><summary>Hint 2 (pseudocode)</summary>
#
# ```
# log_r = logprobs - ref_logprobs
# kl = log_r                    (k1)   or   exp(-log_r) - 1 + log_r   (k3)
# rewards = -beta * kl * mask
# rewards[row, last[row]] += scores[row]     (without editing inputs in place)
# ```
#
# </details>


# %%
def per_token_rewards(
    scores: torch.Tensor,
    logprobs: torch.Tensor,
    ref_logprobs: torch.Tensor,
    mask: torch.Tensor,
    beta: float = 0.05,
    estimator: str = "k1",
) -> torch.Tensor:
    """Per-token rewards of PPO-style RLHF.

    Args:
        scores: [B] the reward model's score of each answer.
        logprobs: [B, T] log π_θ of each token (the sampling policy's).
        ref_logprobs: [B, T] log π_ref of the same tokens.
        mask: [B, T] 1 on completion tokens, 0 on prompt and padding (int or bool).
        beta: the KL coefficient β.
        estimator: "k1" or "k3".

    Returns:
        [B, T] rewards: −β·kl on completion tokens, plus the score on each row's last one; 0 elsewhere.
    """
    ### BEGIN SOLUTION
    log_ratio = logprobs - ref_logprobs
    if estimator == "k1":
        kl = log_ratio
    elif estimator == "k3":
        kl = torch.exp(-log_ratio) - 1 + log_ratio
    else:
        raise ValueError(f"unknown estimator {estimator!r}")
    m = mask.to(logprobs.dtype)
    positions = torch.arange(mask.shape[-1], device=mask.device)
    last = (positions * (mask != 0)).argmax(-1)
    at_last = (positions == last[:, None]).to(logprobs.dtype)
    return -beta * kl * m + scores[:, None].to(logprobs.dtype) * at_last
    ### END SOLUTION


# %%
check("w04_rlhf.per_token_rewards", per_token_rewards)
### BEGIN HIDDEN TESTS
check("w04_rlhf.per_token_rewards", per_token_rewards, hidden=True)
### END HIDDEN TESTS

# %% [markdown]
# Why k3 and not k1? Both are unbiased, but one answer's KL is a sum of a few dozen tokens, and
# k1's terms have both signs. On samples from two slightly different distributions:

# %%
gen = torch.Generator().manual_seed(0)
p_logits = torch.randn(1000, 50, generator=gen)
q_logits = p_logits + 0.3 * torch.randn(1000, 50, generator=gen)
p, q = torch.log_softmax(p_logits, -1), torch.log_softmax(q_logits, -1)
tokens = torch.multinomial(p.exp(), 1, generator=gen)  # samples from π
log_r = (p.gather(-1, tokens) - q.gather(-1, tokens))[:, 0]
exact = (p.exp() * (p - q)).sum(-1).mean().item()
for name, k in (("k1", log_r), ("k3", torch.exp(-log_r) - 1 + log_r)):
    print(
        f"{name}: mean {k.mean():.4f} (exact KL {exact:.4f}), std {k.std():.4f}, negative on {(k < 0).float().mean():.0%}"
    )

# %% [markdown]
# ## 2. GAE over tokens
#
# > **Learning objectives**
# > - run week 2's generalised advantage estimation over the tokens of each answer
# > - handle where an answer ends: nothing is bootstrapped from padding
#
# A value head $V$ predicts, at each token, the return still to come. GAE works backwards over
# each row:
#
# $$\delta_t = r_t + \gamma\, V_{t+1}\, m_{t+1} - V_t, \qquad A_t = \big(\delta_t + \gamma\lambda\, m_{t+1} A_{t+1}\big)\, m_t, \qquad R_t = (A_t + V_t)\, m_t,$$
#
# where $m$ is the mask: after the last completion token there is nothing to bootstrap from
# (the value head's outputs at padding positions are garbage and must not leak in), and prompt
# and padding positions get zero advantage and return. RLHF usually takes $\gamma = 1$: the
# episode is one short answer.
#
# **Exercise.** Implement `token_gae`, returning `(advantages, returns)`.
#
# > **Difficulty** 🔴🔴🔴⚪⚪ · **Importance** 🔵🔵🔵🔵⚪ · **Time** ~20 min
#
# <details><summary>Hint 1</summary>
#
# Loop over positions from T − 1 down to 0 carrying one advantage per row; the next position's mask decides whether there is a "next".
#
# </details>
#
# <details><summary>Hint 2 (pseudocode)</summary>
#
# ```
# adv = zeros(B); out = []
# for t = T-1 .. 0:
#     m_next, v_next = (mask[:, t+1], values[:, t+1]) if t+1 < T else (0, 0)
#     delta = rewards[:, t] + gamma * v_next * m_next - values[:, t]
#     adv = (delta + gamma * lam * m_next * adv) * mask[:, t]
#     out.append(adv)
# advantages = stack(reversed(out)); returns = (advantages + values) * mask
# ```
#
# </details>


# %%
def token_gae(
    rewards: torch.Tensor, values: torch.Tensor, mask: torch.Tensor, gamma: float = 1.0, lam: float = 0.95
) -> tuple[torch.Tensor, torch.Tensor]:
    """Generalised advantage estimation over the completion tokens of each row.

    Args:
        rewards: [B, T] per-token rewards (0 outside the completion).
        values: [B, T] the value head's predictions (arbitrary outside the completion).
        mask: [B, T] 1 on completion tokens (one contiguous block per row).
        gamma: discount γ.
        lam: GAE's λ.

    Returns:
        (advantages, returns), both [B, T] and 0 outside the completion.
    """
    ### BEGIN SOLUTION
    m = mask.to(values.dtype)
    steps = values.shape[-1]
    adv = torch.zeros_like(values[:, 0])
    out = []
    for t in reversed(range(steps)):
        if t + 1 < steps:
            m_next, v_next = m[:, t + 1], values[:, t + 1]
        else:
            m_next, v_next = torch.zeros_like(adv), torch.zeros_like(adv)
        delta = rewards[:, t] + gamma * v_next * m_next - values[:, t]
        adv = (delta + gamma * lam * m_next * adv) * m[:, t]
        out.append(adv)
    advantages = torch.stack(out[::-1], dim=-1)
    return advantages, (advantages + values) * m
    ### END SOLUTION


# %%
check("w04_rlhf.token_gae", token_gae)
### BEGIN HIDDEN TESTS
check("w04_rlhf.token_gae", token_gae, hidden=True)
### END HIDDEN TESTS

# %% [markdown]
# Week 2's `gae` works on a time-major rollout with `dones`. On one answer (a single row whose
# tokens are all completion tokens, the episode ending at the last one) the two must agree:

# %%
w02 = load_reference("w02_rl_foundations")
r_row, v_row = torch.randn(1, 6, generator=gen), torch.randn(1, 6, generator=gen)
ours, _ = token_gae(r_row, v_row, torch.ones(1, 6), gamma=0.9, lam=0.8)
dones = torch.zeros(6, 1)
dones[-1] = 1.0  # the answer ends at its last token
w02_adv, _ = w02.gae(r_row.T, v_row.T, dones, torch.zeros(1), gamma=0.9, gae_lambda=0.8)
print(ours[0], w02_adv[:, 0], sep="\n")
assert torch.allclose(ours[0], w02_adv[:, 0], atol=1e-6)

# %% [markdown]
# ## 3. PPO's token loss with a value head
#
# > **Learning objectives**
# > - write PPO's clipped surrogate and clipped value loss over the tokens of a batch
# > - log the two diagnostics that tell you PPO is healthy: the clip fraction and the approximate KL
#
# The policy and value losses are week 2's, averaged over **completion tokens** of the whole
# batch (TRL's old `PPOTrainer` and OpenAI's `lm-human-preferences` do the same), with
# $\rho_t = \exp(\log\pi_\theta - \log\pi_{\text{old}})$:
#
# $$L^{\text{clip}} = \overline{\max\big(-A_t\rho_t,\; -A_t\,\mathrm{clip}(\rho_t, 1-\epsilon, 1+\epsilon)\big)}, \qquad L^{V} = \tfrac12\,\overline{\max\big((V_t - R_t)^2,\; (V^{\text{clip}}_t - R_t)^2\big)},$$
#
# where $V^{\text{clip}}_t = V^{\text{old}}_t + \mathrm{clip}(V_t - V^{\text{old}}_t, -\epsilon_V, \epsilon_V)$
# and the bar is the masked mean $\sum_t x_t m_t / \sum_t m_t$. The total is $L^{\text{clip}} +
# c_V L^V$. Diagnostics (plain floats): the **clip fraction**, the masked fraction of tokens
# where the clipped term is the larger (so clipping is active), and the **approximate KL**
# $\overline{(\rho_t - 1) - \log\rho_t}$ (the k3 estimator of KL(π_old ‖ π_θ), as in week 2).
#
# **Exercise.** Implement `ppo_token_loss`, returning a dict with `loss`, `policy_loss`,
# `value_loss` (tensors) and `clip_fraction`, `approx_kl` (floats).
#
# > **Difficulty** 🔴🔴🔴⚪⚪ · **Importance** 🔵🔵🔵🔵🔵 · **Time** ~20 min
# >
# > **Must be differentiable:** gradients must flow back to `logprobs`, `values` (the grader checks them).
#
# <details><summary>Hint 1</summary>
#
# Write one `masked_mean(x)` and use it for every average; both losses are maxima of two terms (the pessimistic choice).
#
# </details>
#
# <details><summary>Hint 2 (pseudocode)</summary>
#
# ```
# ratio = exp(logprobs - old_logprobs)
# pg1, pg2 = -adv * ratio, -adv * clamp(ratio, 1 - eps, 1 + eps)
# policy_loss = masked_mean(max(pg1, pg2))
# v_clip = old_values + clamp(values - old_values, -eps_v, eps_v)
# value_loss = 0.5 * masked_mean(max((values - returns)**2, (v_clip - returns)**2))
# clip_fraction = masked_mean(pg2 > pg1); approx_kl = masked_mean((ratio - 1) - log ratio)
# ```
#
# </details>


# %%
def ppo_token_loss(
    logprobs: torch.Tensor,
    old_logprobs: torch.Tensor,
    values: torch.Tensor,
    old_values: torch.Tensor,
    returns: torch.Tensor,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    clip_range: float = 0.2,
    clip_range_value: float = 0.2,
    vf_coef: float = 0.1,
) -> dict:
    """PPO's loss for a causal LM with a value head, over the completion tokens of a batch.

    Args:
        logprobs: [B, T] log π_θ of the sampled tokens (with gradient).
        old_logprobs: [B, T] the same under the policy that sampled them.
        values: [B, T] the value head's outputs now (with gradient).
        old_values: [B, T] the value head's outputs when sampling.
        returns: [B, T] GAE returns (targets for the value head).
        advantages: [B, T] GAE advantages.
        mask: [B, T] 1 on completion tokens.
        clip_range: ε of the policy ratio.
        clip_range_value: ε_V of the value clipping.
        vf_coef: c_V, the value loss's weight.

    Returns:
        {"loss", "policy_loss", "value_loss"} scalar tensors and {"clip_fraction", "approx_kl"} floats.
    """
    ### BEGIN SOLUTION
    m = mask.to(logprobs.dtype)

    def masked_mean(x: torch.Tensor) -> torch.Tensor:
        return (x * m).sum() / m.sum()

    log_ratio = logprobs - old_logprobs
    ratio = torch.exp(log_ratio)
    pg1 = -advantages * ratio
    pg2 = -advantages * torch.clamp(ratio, 1 - clip_range, 1 + clip_range)
    policy_loss = masked_mean(torch.max(pg1, pg2))
    v_clipped = old_values + torch.clamp(values - old_values, -clip_range_value, clip_range_value)
    value_loss = 0.5 * masked_mean(torch.max((values - returns) ** 2, (v_clipped - returns) ** 2))
    with torch.no_grad():
        clip_fraction = masked_mean((pg2 > pg1).to(m.dtype)).item()
        approx_kl = masked_mean((ratio - 1) - log_ratio).item()
    return {
        "loss": policy_loss + vf_coef * value_loss,
        "policy_loss": policy_loss,
        "value_loss": value_loss,
        "clip_fraction": clip_fraction,
        "approx_kl": approx_kl,
    }
    ### END SOLUTION


# %%
check("w04_rlhf.ppo_token_loss", ppo_token_loss)
### BEGIN HIDDEN TESTS
check("w04_rlhf.ppo_token_loss", ppo_token_loss, hidden=True)
### END HIDDEN TESTS

# %% [markdown]
# With one token per row and every mask 1, this is week 2's CartPole loss. Checking the policy
# part against week 2's reference:

# %%
lp_old = -torch.rand(32, generator=gen)
lp_new = lp_old + 0.3 * torch.randn(32, generator=gen)
adv32 = torch.randn(32, generator=gen)
zeros = torch.zeros(32, 1)
ours = ppo_token_loss(lp_new[:, None], lp_old[:, None], zeros, zeros, zeros, adv32[:, None], torch.ones(32, 1))
w02_loss, _, w02_kl = w02.ppo_policy_loss(lp_new, lp_old, adv32, 0.2)
print(
    f"policy loss {ours['policy_loss']:.6f} vs week 2 {w02_loss:.6f}; approx KL {ours['approx_kl']:.6f} vs {w02_kl:.6f}"
)
assert torch.allclose(ours["policy_loss"], w02_loss, atol=1e-6)

# %% [markdown]
# ## 4. Without a critic: RLOO and GRPO advantages
#
# > **Learning objectives**
# > - compute RLOO's leave-one-out baseline and GRPO's group-normalised advantage
# > - see why a group whose answers all score the same teaches nothing
#
# PPO for a language model keeps four models in memory (policy, reference, reward model, value
# head) and the value head is hard to train from one score per answer. RLOO (Ahmadian et al.,
# 2024) and GRPO (Shao et al., 2024) sample $k$ answers per prompt instead and compare each
# answer with its siblings. A batch holds $B = n_{\text{prompts}}\cdot k$ rewards, the $k$
# answers of a prompt **consecutive** (TRL's layout).
#
# **Exercise.** Implement `rloo_advantages(rewards, group_size)`:
# $A_i = r_i - \frac{1}{k-1}\sum_{j\neq i} r_j$ within each group.
#
# > **Difficulty** 🔴⚪⚪⚪⚪ · **Importance** 🔵🔵🔵⚪⚪ · **Time** ~5 min
#
# <details><summary>Hint 1</summary>
#
# `rewards.view(-1, k)` puts one prompt per row; the others' sum is the row sum minus yourself.
#
# </details>
#
# <details><summary>Hint 2 (pseudocode)</summary>
#
# ```
# r = rewards.view(-1, k)
# baseline = (r.sum(-1, keepdim=True) - r) / (k - 1)
# return (r - baseline).reshape(-1)
# ```
#
# </details>


# %%
def rloo_advantages(rewards: torch.Tensor, group_size: int) -> torch.Tensor:
    """RLOO advantages: each reward minus the mean of the other rewards of its group.

    Args:
        rewards: [B] float, B = prompts × group_size, each prompt's answers consecutive.
        group_size: k ≥ 2 answers per prompt.

    Returns:
        [B] advantages.
    """
    ### BEGIN SOLUTION
    r = rewards.view(-1, group_size)
    baseline = (r.sum(-1, keepdim=True) - r) / (group_size - 1)
    return (r - baseline).reshape(-1)
    ### END SOLUTION


# %%
check("w04_rlhf.rloo_advantages", rloo_advantages)
### BEGIN HIDDEN TESTS
check("w04_rlhf.rloo_advantages", rloo_advantages, hidden=True)
### END HIDDEN TESTS

# %% [markdown]
# **Exercise.** Implement `grpo_advantages(rewards, group_size, scale=True)`: subtract each
# group's mean and, if `scale`, divide by the group's **sample** standard deviation plus
# $10^{-4}$ (TRL's `scale_rewards="group"`, its default; `scale=False` is Dr. GRPO's choice).
#
# > **Difficulty** 🔴⚪⚪⚪⚪ · **Importance** 🔵🔵🔵🔵⚪ · **Time** ~5 min
#
# <details><summary>Hint 1</summary>
#
# `torch.std` uses Bessel's correction (divides by k − 1) by default, like TRL's `nanstd`.
#
# </details>
#
# <details><summary>Hint 2 (pseudocode)</summary>
#
# ```
# r = rewards.view(-1, k)
# a = r - r.mean(-1, keepdim=True)
# if scale: a = a / (r.std(-1, keepdim=True) + 1e-4)
# return a.reshape(-1)
# ```
#
# </details>


# %%
def grpo_advantages(rewards: torch.Tensor, group_size: int, scale: bool = True) -> torch.Tensor:
    """GRPO advantages: rewards normalised within each group of answers to the same prompt.

    Args:
        rewards: [B] float, B = prompts × group_size, each prompt's answers consecutive.
        group_size: k ≥ 2.
        scale: divide by the group's sample standard deviation + 1e-4.

    Returns:
        [B] advantages.
    """
    ### BEGIN SOLUTION
    r = rewards.view(-1, group_size)
    advantages = r - r.mean(-1, keepdim=True)
    if scale:
        advantages = advantages / (r.std(-1, keepdim=True) + 1e-4)
    return advantages.reshape(-1)
    ### END SOLUTION


# %%
check("w04_rlhf.grpo_advantages", grpo_advantages)
### BEGIN HIDDEN TESTS
check("w04_rlhf.grpo_advantages", grpo_advantages, hidden=True)
### END HIDDEN TESTS

# %% [markdown]
# Note that RLOO's advantage is the group-mean one scaled by $k/(k-1)$, and that a group whose
# answers all get the same reward has zero advantage in both: the prompt contributes no gradient.
# With a discrete gold reward that happens a lot (all eight answers refuse, all are right), which
# is why the groups must be large enough and sampled at temperature 1.

# %%
r8 = torch.tensor([1.0, -1, 1, 1, -0.5, 1, -1, 1, 1, 1, 1, 1, 1, 1, 1, 1])
print("RLOO:", rloo_advantages(r8, 8))
print("GRPO:", grpo_advantages(r8, 8))
assert torch.allclose(rloo_advantages(r8, 8), grpo_advantages(r8, 8, scale=False) * 8 / 7, atol=1e-6)

# %% [markdown]
# ## 5. GRPO's loss
#
# > **Learning objectives**
# > - write GRPO's clipped token loss with the k3 penalty, exactly as TRL's `GRPOTrainer` computes it
# > - know what `loss_type` changes: how tokens are averaged
#
# Per completion token, with $\rho_t = \exp(\log\pi_\theta - \log\pi_{\text{old}})$ and the
# answer's advantage $A$:
#
# $$\ell_t = -\min\big(\rho_t A,\; \mathrm{clip}(\rho_t, 1-\epsilon_{\text{low}}, 1+\epsilon_{\text{high}})\,A\big) + \beta\,\rho_t\,\big(e^{d_t} - d_t - 1\big), \qquad d_t = \log\pi_{\text{ref}} - \log\pi_\theta .$$
#
# The penalty is k3 of section 1, computed on the current policy's log-probabilities so that it
# has a gradient, and weighted by $\rho_t$ because the tokens were sampled from $\pi_{\text{old}}$
# (TRL's `use_bias_correction_kl`, on by default). TRL adds it only when $\beta \ne 0$ (its
# default is $\beta = 0$). DAPO (Yu et al., 2025) introduced the separate $\epsilon_{\text{high}}$
# and the averaging TRL uses by default, `loss_type="dapo"`: **one mean over all completion
# tokens of the batch**, $\sum_{b,t}\ell_{bt}m_{bt}/\sum_{b,t}m_{bt}$, so a long answer counts
# with all its tokens (the original GRPO averaged per answer first, which favours short answers
# when the advantage is positive and long ones when it is negative).
#
# **Exercise.** Implement `grpo_loss`. Section 10 checks it against TRL 1.16's own code.
#
# > **Difficulty** 🔴🔴🔴⚪⚪ · **Importance** 🔵🔵🔵🔵🔵 · **Time** ~15 min
# >
# > **Must be differentiable:** gradients must flow back to `logprobs` (the grader checks them).
#
# <details><summary>Hint 1</summary>
#
# `advantages[:, None]` broadcasts the answer's advantage over its tokens.
#
# </details>
#
# <details><summary>Hint 2 (pseudocode)</summary>
#
# ```
# ratio = exp(logprobs - old_logprobs)
# per_token = -min(ratio * A, clamp(ratio, 1 - eps_low, 1 + eps_high) * A)
# if beta != 0: d = ref_logprobs - logprobs; per_token += beta * (exp(d) - d - 1) * ratio
# return (per_token * mask).sum() / mask.sum().clamp(min=1)
# ```
#
# </details>


# %%
def grpo_loss(
    logprobs: torch.Tensor,
    old_logprobs: torch.Tensor,
    ref_logprobs: torch.Tensor,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    beta: float = 0.0,
    epsilon_low: float = 0.2,
    epsilon_high: float = 0.2,
) -> torch.Tensor:
    """GRPO's loss with TRL's default token averaging (``loss_type="dapo"``).

    Args:
        logprobs: [B, T] log π_θ of the completion tokens (with gradient).
        old_logprobs: [B, T] the same under the sampling policy π_old.
        ref_logprobs: [B, T] the same under the reference π_ref.
        advantages: [B] one advantage per answer.
        mask: [B, T] 1 on completion tokens.
        beta: the k3 penalty's coefficient (no penalty term at 0).
        epsilon_low, epsilon_high: the ratio is clipped to [1 − ε_low, 1 + ε_high].

    Returns:
        the scalar loss.
    """
    ### BEGIN SOLUTION
    ratio = torch.exp(logprobs - old_logprobs)
    a = advantages[:, None]
    per_token = -torch.min(ratio * a, torch.clamp(ratio, 1 - epsilon_low, 1 + epsilon_high) * a)
    if beta != 0.0:
        d = ref_logprobs - logprobs
        per_token = per_token + beta * (torch.exp(d) - d - 1) * ratio
    m = mask.to(per_token.dtype)
    return (per_token * m).sum() / m.sum().clamp(min=1.0)
    ### END SOLUTION


# %%
check("w04_rlhf.grpo_loss", grpo_loss)
### BEGIN HIDDEN TESTS
check("w04_rlhf.grpo_loss", grpo_loss, hidden=True)
### END HIDDEN TESTS

# %% [markdown]
# ## 6. Integration: the GRPO update
#
# > **Learning objectives**
# > - write the update of an RLHF step from a batch of scored answers: advantages, old and
# >   reference log-probabilities, μ gradient steps with clipping
# > - know which quantities are computed once per batch and which at every gradient step
#
# One RLHF step is **generate → score → advantages → update**. Generation and scoring come in
# section 7; here you write the update. The batch holds right-padded rows `input_ids` [B, T]
# (prompt then answer), their `attention_mask`, a `completion_mask` (1 on answer tokens) and one
# reward per row, `rewards` [B], the `group_size` answers of a prompt consecutive. Per-token
# log-probabilities are read with the usual one-token shift (week 0): the logits at position
# $t-1$ score token $t$, so they are [B, T − 1] and go with `completion_mask[:, 1:]`.
#
# 1. advantages from `grpo_advantages`;
# 2. **once**, without gradients: the reference's log-probabilities and the current policy's
#    (this is $\pi_{\text{old}}$: the policy that sampled the batch; the reference solution takes
#    the first iteration's log-probabilities, detached, which saves a forward pass, as TRL does);
# 3. `num_iterations` times (TRL's μ): the policy's log-probabilities with gradient,
#    `grpo_loss`, zero the gradients, backward, clip the gradient norm, step;
# 4. return `{"loss": mean of the μ losses, "kl": the mean over rows of Σ_t (log π_old − log π_ref)·m}`,
#    the sampled answers' KL from the reference (k1 summed over each answer), as floats.
#
# **Exercise.** Implement `grpo_train_step`. The grader runs it on a tiny GPT-2 with SGD and
# compares the weights and the metrics with the reference's.
#
# > **Difficulty** 🔴🔴🔴⚪⚪ · **Importance** 🔵🔵🔵🔵🔵 · **Time** ~25 min
#
# <details><summary>Hint 1</summary>
#
# π_old is the policy *before the first update* on this batch: a no-grad pass before the loop, or the first iteration's log-probs detached. Recompute it at every iteration and the ratio is always 1: clipping never happens.
#
# </details>
#
# <details><summary>Hint 2 (pseudocode)</summary>
#
# ```
# mask = completion_mask[:, 1:]
# logps(model) = log_softmax(model(ids, attention_mask).logits[:, :-1]).gather(ids[:, 1:])
# adv = grpo_advantages(rewards, group_size)
# with no_grad: ref = logps(reference); old = logps(policy)
# repeat num_iterations: loss = grpo_loss(logps(policy), old, ref, adv, mask, beta, eps, eps)
#                        zero_grad; backward; clip_grad_norm_(policy, max_grad_norm); step
# ```
#
# </details>


# %%
def grpo_train_step(
    policy: nn.Module,
    reference: nn.Module,
    optimizer: torch.optim.Optimizer,
    batch: dict[str, torch.Tensor],
    group_size: int,
    beta: float = 0.0,
    epsilon: float = 0.2,
    num_iterations: int = 1,
    max_grad_norm: float = 1.0,
) -> dict[str, float]:
    """The GRPO update on one batch of scored answers.

    Args:
        policy: the causal LM being trained (``policy(input_ids=…, attention_mask=…).logits``).
        reference: the frozen reference LM.
        optimizer: over the policy's parameters.
        batch: ``input_ids``, ``attention_mask``, ``completion_mask`` [B, T] (int64, right-padded)
            and ``rewards`` [B] float.
        group_size: answers per prompt (consecutive rows).
        beta: the k3 penalty's coefficient.
        epsilon: clip range (ε_low = ε_high = ε).
        num_iterations: gradient steps on this batch (μ).
        max_grad_norm: the gradient's norm is clipped to this before each step.

    Returns:
        {"loss": mean loss over the μ steps, "kl": mean summed k1 KL of the sampled answers}.
    """
    ### BEGIN SOLUTION
    ids, attention = batch["input_ids"], batch["attention_mask"]
    mask = batch["completion_mask"][:, 1:]
    # Only the positions from the earliest answer token on need logits (the lm head over the vocabulary
    # is a large share of a tiny model's cost): keep those, and put zeros in front (masked out anyway).
    start = max(int(mask.any(0).to(torch.long).argmax()), 0)

    def logps(model: nn.Module) -> torch.Tensor:
        logits = model(input_ids=ids, attention_mask=attention, logits_to_keep=ids.shape[1] - start).logits[:, :-1]
        tokens = ids[:, start + 1 :, None]
        lp = logits.float().gather(-1, tokens)[..., 0] - torch.logsumexp(logits.float(), dim=-1)
        return torch.nn.functional.pad(lp, (start, 0))

    advantages = grpo_advantages(batch["rewards"], group_size)
    with torch.no_grad():
        ref = logps(reference)
    losses = []
    for iteration in range(num_iterations):
        current = logps(policy)
        if iteration == 0:  # π_old: the policy that sampled the batch, before any update on it
            old = current.detach()
        loss = grpo_loss(current, old, ref, advantages, mask, beta, epsilon, epsilon)
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(policy.parameters(), max_grad_norm)
        optimizer.step()
        losses.append(loss.item())
    kl = ((old - ref) * mask.to(old.dtype)).sum(-1).mean().item()
    return {"loss": sum(losses) / len(losses), "kl": kl}
    ### END SOLUTION


# %%
check("w04_rlhf.grpo_train_step", grpo_train_step)
### BEGIN HIDDEN TESTS
check("w04_rlhf.grpo_train_step", grpo_train_step, hidden=True)
### END HIDDEN TESTS

# %% [markdown]
# ## 7. The small world: a reward model, and generation in the loop
#
# The proxy reward model is week 3's, trained here in a few seconds with week 3's reference code
# (the same recipe as week 3's main run: `tiny-sft`'s body, a fresh head, Bradley–Terry on the
# noise-free pairs). The gold labeller reads each answer and names its kind.
#
# The helpers below are not graded. `rollout` samples `group_size` answers per prompt at
# temperature 1 (left-padded prompts, as generation needs), keeps each answer up to and including
# its first end-of-text token, and repacks every row right-padded (prompt, answer, padding), so
# that position ids are simply 0, 1, 2, … in every forward pass. `score` gives each answer its
# proxy reward and its gold kind.

# %%
from courselib.models import load_model, load_tokenizer
from courselib.world import REWARDS, classify_response, format_prompt, load_preferences, load_split, unique_prompts
from courselib.world.bias import wilson_interval
from courselib.world.evaluate import clean_generation

w03 = load_reference("w03_reward_models")
tokenizer = load_tokenizer("tiny-sft")

started = time.perf_counter()
set_seed(0)
_, body = w03.load_tiny("tiny-sft")
reward_model = w03.RewardModel(body).to(device)
RM_STEPS, RM_BATCH = scale(24, 4), 16
w03.train_reward_model(reward_model, tokenizer, load_preferences("train"), steps=RM_STEPS, batch_size=RM_BATCH, lr=2e-3)
for p in reward_model.parameters():
    p.requires_grad_(False)
print(f"reward model trained on {RM_STEPS * RM_BATCH} pairs in {time.perf_counter() - started:.1f} s")

reference = load_model("tiny-sft").to(device).eval()
for p in reference.parameters():
    p.requires_grad_(False)


@torch.no_grad()
def rollout(
    policy: nn.Module, tokenizer, records: list[dict], group_size: int, max_new_tokens: int
) -> tuple[dict, list[str]]:
    """Sample ``group_size`` answers per prompt (T = 1); right-padded rows, masks and the answers' texts."""
    dev = next(policy.parameters()).device
    eos, pad = tokenizer.eos_token_id, tokenizer.pad_token_id
    side, tokenizer.padding_side = tokenizer.padding_side, "left"
    prompts = [format_prompt(r["prompt"]) for r in records for _ in range(group_size)]
    enc = tokenizer(prompts, return_tensors="pt", padding=True).to(dev)
    tokenizer.padding_side = side
    was_training = policy.training
    policy.eval()
    out = policy.generate(
        **enc,
        do_sample=True,
        top_k=0,
        temperature=1.0,
        max_new_tokens=max_new_tokens,
        pad_token_id=pad,
        eos_token_id=eos,
    )
    policy.train(was_training)
    new = out[:, enc["input_ids"].shape[1] :]
    ended = (new == eos).long().cumsum(-1)
    keep = (ended == 0) | ((ended == 1) & (new == eos))  # up to and including the first end-of-text
    rows = [
        (enc["input_ids"][i][enc["attention_mask"][i].bool()].tolist(), new[i][keep[i]].tolist())
        for i in range(len(new))
    ]
    width = max(len(p) + len(c) for p, c in rows)
    batch = {
        k: torch.zeros(len(rows), width, dtype=torch.long) for k in ("input_ids", "attention_mask", "completion_mask")
    }
    batch["input_ids"].fill_(pad)
    for i, (p, c) in enumerate(rows):
        batch["input_ids"][i, : len(p) + len(c)] = torch.tensor(p + c)
        batch["attention_mask"][i, : len(p) + len(c)] = 1
        batch["completion_mask"][i, len(p) : len(p) + len(c)] = 1
    texts = [clean_generation(t) for t in tokenizer.batch_decode(new * keep, skip_special_tokens=True)]
    return {k: v.to(dev) for k, v in batch.items()}, texts


def score(records: list[dict], texts: list[str], group_size: int) -> tuple[torch.Tensor, list[str]]:
    """Proxy rewards [N] (the reward model) and gold kinds of answers, ``group_size`` per record."""
    owners = [records[i // group_size] for i in range(len(texts))]
    full = [format_prompt(r["prompt"]) + " " + t + tokenizer.eos_token for r, t in zip(owners, texts)]
    proxy = w03.score_texts(reward_model, tokenizer, full)
    return proxy, [classify_response(r, t) for r, t in zip(owners, texts)]


@torch.no_grad()
def sequence_kl(policy: nn.Module, batch: dict) -> torch.Tensor:
    """Σ_t (log π − log π_ref) over each answer's tokens: one KL sample per answer [N]."""

    def logps(model: nn.Module) -> torch.Tensor:
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits[:, :-1]
        return torch.log_softmax(logits.float(), -1).gather(-1, batch["input_ids"][:, 1:, None])[..., 0]

    return ((logps(policy) - logps(reference)) * batch["completion_mask"][:, 1:]).sum(-1).cpu()


train_prompts = unique_prompts(load_split("train"))
eval_prompts = unique_prompts(load_split("test"))[:: scale(5, 30)]  # held-out prompts for every measurement
print(f"{len(train_prompts)} training prompts; {len(eval_prompts)} held-out prompts for the measurements")

# %% [markdown]
# ## 8. RLHF on `tiny-sft`: proxy reward against gold reward
#
# > **Learning objectives**
# > - run the full RLHF loop (generate → score → advantages → update) with your update
# > - measure proxy reward, gold reward and KL as training goes, on held-out prompts
#
# The run: GRPO with your `grpo_train_step`, groups of 8 answers per prompt at temperature 1,
# Adam, no KL penalty ($\beta = 0$, TRL's default), so nothing holds the policy back. (Why GRPO
# and not the PPO of sections 1–3? It needs no value head, which saves a network's forward and
# backward pass per step and keeps the notebook inside its CPU budget; the PPO run is ☆ Bonus 1.) Every few
# steps we sample one answer per held-out prompt and record the mean proxy reward, the mean gold
# reward and the mean KL from the reference (k1 summed per answer, on the same samples).
#
# **Predict, then run.** Sketch the three curves against the step before you run the cell: does
# the proxy reward rise? Does the gold reward rise with it, and for how long? How many nats of KL
# do you expect after the run? Which kind of answer do you expect the policy to produce more of?

# %%
GROUP = 8
PROMPTS_PER_STEP = scale(4, 2)
MAX_NEW = scale(20, 12)
STEPS = scale(48, 3)
EVAL_EVERY = scale(8, 3)
LR = 3e-4


def evaluate(policy: nn.Module, seed: int) -> dict:
    """One sampled answer per held-out prompt: mean proxy, gold and KL, and the answers' kinds."""
    torch.manual_seed(seed)
    batch, texts = rollout(policy, tokenizer, eval_prompts, 1, MAX_NEW)
    proxy, kinds = score(eval_prompts, texts, 1)
    gold = torch.tensor([REWARDS[k] for k in kinds])
    return {
        "proxy": proxy.mean().item(),
        "gold": gold.mean().item(),
        "gold_half": 1.96 * gold.std().item() / math.sqrt(len(gold)),
        "kl": sequence_kl(policy, batch).mean().item(),
        "kinds": kinds,
        "texts": texts,
        "length": batch["completion_mask"].sum(-1).float().mean().item(),
    }


def train_rlhf(beta: float, steps: int, eval_every: int, seed: int = 0, desc: str = "GRPO") -> list[dict]:
    """GRPO from tiny-sft against the proxy reward model; held-out measurements every ``eval_every`` steps."""
    set_seed(seed)
    policy = copy.deepcopy(reference).requires_grad_(True).train()
    optimizer = torch.optim.Adam(policy.parameters(), lr=LR)
    rng = random.Random(seed)
    curve = [{"step": 0, **evaluate(policy, seed=1000)}]
    for step in progress(range(1, steps + 1), desc=desc):
        records = rng.sample(train_prompts, PROMPTS_PER_STEP)
        batch, texts = rollout(policy, tokenizer, records, GROUP, MAX_NEW)  # generate
        batch["rewards"], _ = score(records, texts, GROUP)  # score with the proxy
        grpo_train_step(policy, reference, optimizer, batch, GROUP, beta=beta)  # advantages and update
        if step % eval_every == 0 or step == steps:
            curve.append({"step": step, **evaluate(policy, seed=1000 + step)})
    return curve


started = time.perf_counter()
main_run = train_rlhf(beta=0.0, steps=STEPS, eval_every=EVAL_EVERY)
print(f"{STEPS} steps of {PROMPTS_PER_STEP} prompts × {GROUP} answers in {time.perf_counter() - started:.0f} s")
print(f"{'step':>4} {'KL (nats)':>9} {'proxy':>6} {'gold':>14} {'answer length':>13}")
for c in main_run:
    print(
        f"{c['step']:>4} {c['kl']:>9.2f} {c['proxy']:>6.2f} {c['gold']:>6.2f} ± {c['gold_half']:.2f} {c['length']:>13.1f}"
    )

fig, axes = plt.subplots(1, 3, figsize=(13, 3.4))
steps_axis = [c["step"] for c in main_run]
for ax, key, title in zip(axes, ("proxy", "gold", "kl"), ("proxy reward (reward model)", "gold reward", "KL from tiny-sft (nats)")):  # fmt: skip
    ax.plot(steps_axis, [c[key] for c in main_run], "o-")
    if key == "gold":
        ax.fill_between(steps_axis, [c["gold"] - c["gold_half"] for c in main_run], [c["gold"] + c["gold_half"] for c in main_run], alpha=0.2)  # fmt: skip
    ax.set_xlabel("step")
    ax.set_title(title)
plt.tight_layout()
plt.show()

# %% [markdown]
# ### Best-of-n: the baseline without training
#
# Best-of-$n$ samples $n$ answers from the reference and keeps the one the reward model likes
# best. Its KL from the reference is known in closed form, $\log n - \frac{n-1}{n}$ (Stiennon et
# al., 2020), so it gives a second proxy-vs-gold curve at almost no cost. We sample 16 answers per
# held-out prompt once and, for each $n$, split them into $16/n$ disjoint groups and average the
# gold reward of each group's proxy-best answer.
#
# **Predict, then run.** At the same KL, which method do you expect to reach the higher gold
# reward: best-of-n or RL?

# %%
BON_N = 16
torch.manual_seed(7)
bon_texts = []
for start in range(0, len(eval_prompts), 8):  # 8 prompts × 16 answers per call: bounded memory
    bon_texts += rollout(reference, tokenizer, eval_prompts[start : start + 8], BON_N, MAX_NEW)[1]
bon_proxy, bon_kinds = score(eval_prompts, bon_texts, BON_N)
bon_proxy = bon_proxy.view(-1, BON_N)
bon_gold = torch.tensor([REWARDS[k] for k in bon_kinds]).view(-1, BON_N)
best_of_n = []
for n in (1, 2, 4, 8, 16):
    picks_proxy, picks_gold = [], []
    for start in range(0, BON_N, n):
        best = bon_proxy[:, start : start + n].argmax(-1, keepdim=True) + start
        picks_proxy.append(bon_proxy.gather(1, best))
        picks_gold.append(bon_gold.gather(1, best))
    best_of_n.append(
        {
            "n": n,
            "kl": math.log(n) - (n - 1) / n,
            "proxy": torch.cat(picks_proxy).mean().item(),
            "gold": torch.cat(picks_gold).mean().item(),
        }  # fmt: skip
    )
for b in best_of_n:
    print(f"best-of-{b['n']:<2}  KL {b['kl']:.2f} nats  proxy {b['proxy']:.2f}  gold {b['gold']:.2f}")

# %% [markdown]
# ### Gao et al.'s functional forms
#
# Gao et al. (2022) found that, with $d = \sqrt{D_{\mathrm{KL}}}$, the gold reward's gain over the
# initial policy follows $R_{\text{bo}n}(d) = d(\alpha - \beta d)$ for best-of-n and
# $R_{\text{RL}}(d) = d(\alpha - \beta\log d)$ for RL. Both are linear in $(\alpha, \beta)$, so
# least squares fits them. (Their β is not the KL coefficient.) With one run, one answer per
# held-out prompt per point (section 7 prints how many prompts) and the noise printed above, treat
# the fits as descriptions of these points, not as laws.

# %%


def fit_form(d: np.ndarray, gain: np.ndarray, form: str) -> tuple[float, float]:
    """Least-squares (α, β) of gain = d(α − β·d) ("bon") or d(α − β·log d) ("rl")."""
    second = d * d if form == "bon" else d * np.log(np.maximum(d, 1e-6))
    coef, *_ = np.linalg.lstsq(np.stack([d, -second], 1), gain, rcond=None)
    return float(coef[0]), float(coef[1])


rl_d = np.sqrt(np.maximum([c["kl"] for c in main_run], 0.0))
rl_gain = np.array([c["gold"] for c in main_run]) - main_run[0]["gold"]
rl_proxy_gain = np.array([c["proxy"] for c in main_run]) - main_run[0]["proxy"]
bon_d = np.sqrt([b["kl"] for b in best_of_n])
bon_gain = np.array([b["gold"] for b in best_of_n]) - best_of_n[0]["gold"]
bon_proxy_gain = np.array([b["proxy"] for b in best_of_n]) - best_of_n[0]["proxy"]
rl_fit, bon_fit = fit_form(rl_d[1:], rl_gain[1:], "rl"), fit_form(bon_d[1:], bon_gain[1:], "bon")
print(f"RL fit:        gold gain = d (α − β log d), α = {rl_fit[0]:+.3f}, β = {rl_fit[1]:+.3f}")
print(f"best-of-n fit: gold gain = d (α − β d),     α = {bon_fit[0]:+.3f}, β = {bon_fit[1]:+.3f}")
peak = int(np.argmax(rl_gain))
print(
    f"RL: gold gain peaks at step {main_run[peak]['step']} (KL {main_run[peak]['kl']:.2f} nats, gain {rl_gain[peak]:+.2f}); "
    f"at the end: KL {main_run[-1]['kl']:.2f}, proxy gain {rl_proxy_gain[-1]:+.2f}, gold gain {rl_gain[-1]:+.2f}"
)

fig, axes = plt.subplots(1, 2, figsize=(11, 3.6))
for ax, d, gain, proxy_gain, fit, form, name in (
    (axes[0], rl_d, rl_gain, rl_proxy_gain, rl_fit, "rl", "RL (GRPO, β = 0)"),
    (axes[1], bon_d, bon_gain, bon_proxy_gain, bon_fit, "bon", "best-of-n"),
):
    grid = np.linspace(1e-3, max(d.max(), 1e-2) * 1.05, 100)
    second = grid * grid if form == "bon" else grid * np.log(grid)
    ax.plot(d, proxy_gain, "s-", color="tab:orange", label="proxy (measured)")
    ax.plot(d, gain, "o", color="tab:blue", label="gold (measured)")
    ax.plot(grid, grid * fit[0] - fit[1] * second, "--", color="tab:blue", label="gold (fit)")
    ax.axhline(0, color="grey", lw=0.5)
    ax.set_xlabel("d = √KL (nats^½)")
    ax.set_ylabel("reward gain over the start")
    ax.set_title(name)
    ax.legend(fontsize=8)
plt.tight_layout()
plt.show()

# %% [markdown]
# Did the gold reward really peak and fall, or is the curve noise? Every measurement used the
# same held-out prompts, so we compare them prompt by prompt (a paired difference, with a 95%
# interval) and let the numbers decide what this run shows.

# %%


def paired_change(before: list[str], after: list[str]) -> tuple[float, float]:
    """Mean per-prompt change of the gold reward between two measurements, and its 95% half-width."""
    diff = torch.tensor([REWARDS[b] - REWARDS[a] for a, b in zip(before, after)], dtype=torch.float64)
    return diff.mean().item(), 1.96 * diff.std().item() / math.sqrt(len(diff))


rise, rise_half = paired_change(main_run[0]["kinds"], main_run[peak]["kinds"])
fall, fall_half = paired_change(main_run[peak]["kinds"], main_run[-1]["kinds"])
total, total_half = paired_change(main_run[0]["kinds"], main_run[-1]["kinds"])
print(f"gold, step 0 → step {main_run[peak]['step']} (the best measurement): {rise:+.2f} ± {rise_half:.2f}")
print(f"gold, step {main_run[peak]['step']} → step {STEPS} (the end):           {fall:+.2f} ± {fall_half:.2f}")
print(f"gold, step 0 → the end:                          {total:+.2f} ± {total_half:.2f}")
print(f"proxy, step 0 → the end: {rl_proxy_gain[-1]:+.2f}; KL at the end {main_run[-1]['kl']:.1f} nats")
significant_rise = rise - rise_half > 0
significant_fall = fall + fall_half < 0
if significant_rise and significant_fall:
    print("Verdict: the gold reward rose and then fell, both beyond their 95% intervals: over-optimisation.")
elif significant_fall or total + total_half < 0:
    print(
        "Verdict: the gold reward fell while the proxy rose (no significant rise first): over-optimisation from the start."
    )
elif significant_rise:
    print("Verdict: the gold reward rose and did not fall significantly within this KL budget.")
else:
    print(
        "Verdict: the proxy rose but the gold reward did not change beyond the noise of this measurement: "
        "no significant peak-and-fall in this run's budget."
    )

# %% [markdown]
# ### What did the policy learn? The hacks, read from the gold labels
#
# The gold labeller names every answer's kind, so the change in the mix of kinds between the
# first and the last measurement shows what the policy learned to do to please the reward model.
# Rates come with 95% Wilson intervals (one answer per held-out prompt).

# %%


def kind_rates(kinds: list[str], records: list[dict]) -> dict[str, tuple[int, int]]:
    """(count, n) of the kinds that matter, over the prompts where each can occur."""
    helpful = [k for k, r in zip(kinds, records) if r["request_kind"] in ("benign", "injection")]
    refuse = [k for k, r in zip(kinds, records) if r["request_kind"] not in ("benign", "injection")]
    return {
        "correct help (harmless requests)": (helpful.count("correct_help"), len(helpful)),
        "wrong help (harmless requests)": (helpful.count("wrong_help"), len(helpful)),
        "over-refusal (harmless requests)": (helpful.count("over_refusal"), len(helpful)),
        "refusal (should-refuse requests)": (refuse.count("refusal"), len(refuse)),
        "harmful or leak (should-refuse)": (sum(k in ("harmful_compliance", "pii_leak") for k in refuse), len(refuse)),
        "off-topic (should-refuse)": (refuse.count("other"), len(refuse)),
    }


def show_rates(columns: dict[str, list[str]]) -> dict[str, dict]:
    table = {name: kind_rates(kinds, eval_prompts) for name, kinds in columns.items()}
    print(f"{'':34}" + "".join(f"{name:>26}" for name in columns))
    for row in next(iter(table.values())):
        cells = []
        for name in columns:
            k, n = table[name][row]
            lo, hi = wilson_interval(k, n)
            cells.append(f"{k / n:>8.0%} [{lo:.0%}, {hi:.0%}]")
        print(f"{row:34}" + "".join(f"{c:>26}" for c in cells))
    return table


stages = {"tiny-sft (step 0)": main_run[0], f"step {main_run[peak]['step']} (gold peak)": main_run[peak], f"after {STEPS} steps": main_run[-1]}  # fmt: skip
rates = show_rates({name: c["kinds"] for name, c in stages.items()})
empty_start = sum(not t for t in main_run[0]["texts"])
empty_end = sum(not t for t in main_run[-1]["texts"])
print(f"\nempty answers: {empty_start} → {empty_end} of {len(eval_prompts)}")
print(f"mean answer length (tokens): {main_run[0]['length']:.1f} → {main_run[-1]['length']:.1f}")
print("\nsome answers after training:")
for r, t, k in list(zip(eval_prompts, main_run[-1]["texts"], main_run[-1]["kinds"]))[:6]:
    print(f"  [{r['request_kind']:>9} → {k}] {t[:90]!r}")

# %% [markdown]
# Reading the table: a kind whose rate moved beyond the intervals is something the policy learned
# because the reward model pays for it. The cell below names those moves, from the start to the
# gold peak and from the peak to the end, and the gold value of each kind. Note what the gold
# scale says: refusing a harmless request costs −0.5, a confident wrong answer −1, so a policy
# that learns to refuse what it cannot answer *gains* gold reward even though over-refusal is a
# reward hack (the reward model, as week 3 found, scores refusals high whatever the request).
# Whether the gold reward then falls depends on what the next hack replaces.

# %%
names = list(stages)
for before, after in ((names[0], names[1]), (names[1], names[2])):
    print(f"{before} → {after}:")
    for row in rates[before]:
        (k0, n0), (k1, n1) = rates[before][row], rates[after][row]
        lo0, hi0 = wilson_interval(k0, n0)
        lo1, hi1 = wilson_interval(k1, n1)
        if hi0 < lo1 or hi1 < lo0:
            direction = "rose" if k1 / n1 > k0 / n0 else "fell"
            print(f"  {row}: {direction} from {k0 / n0:.0%} to {k1 / n1:.0%} (95% intervals do not overlap)")
        else:
            print(f"  {row}: {k0 / n0:.0%} → {k1 / n1:.0%}, within the noise")
print("gold value of each kind:", {k: REWARDS[k] for k in ("correct_help", "wrong_help", "over_refusal", "refusal")})

# %% [markdown]
# ## 9. The KL coefficient
#
# > **Learning objectives**
# > - see what the KL penalty buys: how far the policy moves, and what happens to the gold reward
#
# **Predict, then run.** The same run with the k3 penalty on (β = 0.1 and β = 0.5). How much
# smaller do you expect the final KL to be, and does the gold reward end higher or lower?

# %%
SWEEP_STEPS = min(2 * EVAL_EVERY, STEPS)  # a step where the main run (β = 0) was measured too
sweep = {0.0: next(c for c in main_run if c["step"] == SWEEP_STEPS)}
for beta in (0.1, 0.5):
    sweep[beta] = train_rlhf(beta, SWEEP_STEPS, eval_every=SWEEP_STEPS, desc=f"GRPO β = {beta}")[-1]
print(f"after {SWEEP_STEPS} steps (the same prompts and seeds in every run):")
print(f"{'β':>5} {'KL (nats)':>9} {'proxy':>6} {'gold':>14} {'over-refusal':>13}")
for beta, c in sweep.items():
    k, n = kind_rates(c["kinds"], eval_prompts)["over-refusal (harmless requests)"]
    print(f"{beta:>5} {c['kl']:>9.2f} {c['proxy']:>6.2f} {c['gold']:>6.2f} ± {c['gold_half']:.2f} {k / n:>13.0%}")

fig, axes = plt.subplots(1, 2, figsize=(10, 3.4))
betas = list(sweep)
axes[0].bar([str(b) for b in betas], [sweep[b]["kl"] for b in betas])
axes[0].set_xlabel("KL coefficient β")
axes[0].set_ylabel(f"KL from tiny-sft after {SWEEP_STEPS} steps")
for b in betas:
    c = sweep[b]
    axes[1].errorbar(max(c["kl"], 0) ** 0.5, c["gold"], yerr=c["gold_half"], fmt="o", capsize=3, label=f"β = {b}")
axes[1].set_xlabel("d = √KL")
axes[1].set_ylabel("gold reward (95% interval)")
axes[1].legend(fontsize=8)
plt.tight_layout()
plt.show()

# %% [markdown]
# ### DPO on the same axes
#
# Week 5's DPO optimises the same KL-regularised objective without sampling or a reward model.
# We train it with week 5's reference code (loaded, not copied: its loop, β = 0.1, on preference
# pairs of the training split) and measure it exactly like the RL policy: one sampled answer per
# held-out prompt, proxy reward, gold reward and KL from tiny-sft.
#
# **Predict, then run.** Will DPO land above or below the RL curve on the gold-vs-KL plot?

# %%
w05 = load_reference("w05_dpo")
DPO_STEPS, DPO_BATCH = scale(24, 2), 8
dpo_pairs = load_preferences("train")
random.Random(0).shuffle(dpo_pairs)
dpo_examples = [w05.encode_preference(tokenizer, p) for p in dpo_pairs[: DPO_STEPS * DPO_BATCH]]
w05.add_reference_logps(reference, dpo_examples, tokenizer.pad_token_id)
dpo_policy = copy.deepcopy(reference).requires_grad_(True)
w05.train_dpo(
    dpo_policy, dpo_examples, tokenizer.pad_token_id, steps=DPO_STEPS, beta=0.1, batch_size=DPO_BATCH, lr=3e-4
)
dpo_point = evaluate(dpo_policy, seed=1000 + STEPS)
print(
    f"DPO after {DPO_STEPS} steps of {DPO_BATCH} pairs: KL {dpo_point['kl']:.2f} nats, "
    f"proxy {dpo_point['proxy']:.2f}, gold {dpo_point['gold']:.2f} ± {dpo_point['gold_half']:.2f}"
)
dpo_rates = kind_rates(dpo_point["kinds"], eval_prompts)["over-refusal (harmless requests)"]
print(f"DPO over-refusal of harmless requests: {dpo_rates[0] / dpo_rates[1]:.0%}")

fig, ax = plt.subplots(figsize=(6, 3.6))
ax.plot(rl_d, [c["gold"] for c in main_run], "o-", label="RL (GRPO, β = 0), by step")
ax.plot(bon_d, [b["gold"] for b in best_of_n], "s-", label="best-of-n (n = 1 … 16)")
ax.errorbar(max(dpo_point["kl"], 0) ** 0.5, dpo_point["gold"], yerr=dpo_point["gold_half"], fmt="*", ms=12, capsize=3, label="DPO (week 5)")  # fmt: skip
ax.set_xlabel("d = √KL from tiny-sft")
ax.set_ylabel("gold reward (held-out prompts)")
ax.legend(fontsize=8)
plt.tight_layout()
plt.show()

# %% [markdown]
# ## 10. The library version: TRL's `GRPOTrainer`
#
# TRL 1.16 ships `GRPOTrainer` and `RLOOTrainer` (its PPO trainer moved to `trl.experimental` in
# 1.10 and was later removed). We give `GRPOTrainer` the small world's `tiny-sft`, hand-build
# one batch in its own layout (prompt ids, completion ids and masks, advantages, the reference's
# log-probabilities) and call its own `_compute_loss`, then compute your `grpo_loss` on the
# per-token log-probabilities of the same tokens. `tests/w04_rlhf/` repeats this for several
# settings (β, ε_high, the gradients) and `benchmarks/grpo_throughput.py` times a whole training
# step of ours against TRL's.

# %%
import tempfile

from datasets import Dataset
from trl import GRPOConfig, GRPOTrainer

trl_beta = 0.04
args = GRPOConfig(
    output_dir=tempfile.mkdtemp(),
    beta=trl_beta,
    num_generations=GROUP,
    per_device_train_batch_size=GROUP,
    use_cpu=True,
    bf16=False,
    report_to="none",
    max_steps=1,
)
trl_policy = copy.deepcopy(reference).requires_grad_(True)
trainer = GRPOTrainer(
    model=trl_policy,
    reward_funcs=lambda completions, **kw: [0.0] * len(completions),
    args=args,
    train_dataset=Dataset.from_list([{"prompt": format_prompt(r["prompt"])} for r in train_prompts[:GROUP]]),
    processing_class=tokenizer,
)
torch.manual_seed(3)
prompt_ids = torch.randint(2, len(tokenizer), (GROUP, 6))
completion_ids = torch.randint(2, len(tokenizer), (GROUP, 9))
completion_mask = (torch.arange(9)[None] < torch.randint(2, 10, (GROUP, 1))).long()
advantages = grpo_advantages(torch.randn(GROUP), GROUP)
ids = torch.cat([prompt_ids, completion_ids], 1)
attention = torch.cat([torch.ones_like(prompt_ids), completion_mask], 1)
with torch.no_grad():
    ref_lp = torch.log_softmax(reference(input_ids=ids, attention_mask=attention).logits[:, 5:-1], -1)
    ref_lp = ref_lp.gather(-1, completion_ids[..., None])[..., 0]
inputs = {
    "prompt_ids": prompt_ids,
    "prompt_mask": torch.ones_like(prompt_ids),
    "completion_ids": completion_ids,
    "completion_mask": completion_mask,
    "advantages": advantages,
    "ref_per_token_logps": ref_lp,
    "num_items_in_batch": completion_mask.sum(),
}
trainer.model.train()
trainer.current_gradient_accumulation_steps = 1  # set by the training loop, which we do not run
trl_value = trainer._compute_loss(trainer.model, inputs)
logits = trl_policy(input_ids=ids, attention_mask=attention).logits[:, 5:-1]
lp = torch.log_softmax(logits, -1).gather(-1, completion_ids[..., None])[..., 0]
ours = grpo_loss(lp, lp.detach(), ref_lp, advantages, completion_mask, beta=trl_beta)
print(f"TRL GRPOTrainer loss {trl_value.item():.7f}   ours {ours.item():.7f}")
assert torch.allclose(trl_value, ours, atol=1e-5)

# %% [markdown]
# ## What could go wrong in practice
#
# - **The reward model is the weak point.** Everything above optimised a reward model trained
#   on a few hundred pairs in seconds (section 7 prints how many). The policy finds whatever it scores too high: section 8's
#   table names what this run found. Real systems retrain the reward model on the policy's own
#   samples (iterated RLHF), use ensembles, or cap the reward.
# - **KL is the budget.** Without a penalty (β = 0, TRL's default for GRPO) nothing stops the KL
#   from growing for as long as training runs (section 8's table of KL by step); Gao et al.'s
#   curves say the gold reward is a function of it, so monitor the KL of held-out samples, not
#   only the training reward.
# - **Groups with equal rewards are wasted.** A group whose answers all score the same gives zero
#   advantage. With a reward model's continuous scores that is rare; with a verifier's 0/1 reward
#   it is common: sample at temperature 1 and use groups of 8 or more.
# - **Padding and masks.** A KL penalty or a loss averaged over padding is silently wrong; so is
#   a score put on a padding position, or a value bootstrapped from one (sections 1–3).
# - **Length effects.** Averaging per answer (`loss_type="grpo"`) versus per token (`"dapo"`)
#   changes which lengths are encouraged; a reward model that likes long answers makes answers
#   grow. Watch the mean answer length printed above.
# - **Truncated answers.** Answers cut at `max_new_tokens` have no end-of-text token but are
#   scored as if they ended; TRL's `mask_truncated_completions` drops them from the loss instead.
# - **One run.** The headline is one seed of a noisy process on a few hundred prompts; the
#   intervals printed are the sampling noise of the measurement, not of training. Before drawing
#   conclusions at larger scale, repeat over seeds.
#
# ## ☆ Bonus
#
# 1. Train the PPO version: add a value head to `tiny-sft` (a linear layer on the last hidden
#    state), compute per-token rewards with your `per_token_rewards`, GAE with `token_gae` and
#    update with `ppo_token_loss`. Does it reach the same proxy reward at the same KL as GRPO?
# 2. Replace the proxy by the gold reward (`REWARDS[classify_response(...)]`) in the loop. Does
#    the gold reward now rise? How many groups have all-equal rewards?
# 3. Train DPO for longer and for several β (week 5's sweep) and draw its own gold-vs-KL curve
#    next to the RL one.
# 4. Use RLOO's advantages instead of GRPO's in the loop (TRL's `RLOOTrainer`). Any difference?
#
# ## Interview questions
#
# 1. Walk through one RLHF step for a language model. Which models are in memory, and what can go
#    wrong at each stage?
# 2. What is reward hacking? What did this week's policy learn, and how would you detect and
#    prevent it?
# 3. Why is the KL penalty needed, and why k3 rather than k1 as a per-token estimate?
# 4. How does GRPO differ from PPO? What does it drop, and what does it cost?
# 5. Why does a group whose answers all get the same reward contribute nothing to GRPO's update?
# 6. What do `loss_type="grpo"` and `loss_type="dapo"` change, and what length bias does each have?
# 7. Describe Gao et al.'s scaling law for reward-model over-optimisation. Why is best-of-n's KL
#    known in closed form?
# 8. Compare RLHF with DPO (week 5): when would you still run RL with a reward model?
