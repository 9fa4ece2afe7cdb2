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
# # Week 5 — Direct Preference Optimization
#
# Week 3 turned preference pairs into a reward model; week 4 optimised a policy against it with
# PPO, a KL penalty, a value network, generation in the loop and many hyperparameters. **DPO**
# (Rafailov et al., 2023) reaches the same objective with none of that machinery: one
# classification-style loss on the preference pairs, computed from log-probabilities of the
# policy and of a frozen reference model. It is the default loss (`loss_type="sigmoid"`) of TRL's
# `DPOTrainer`, which section 10 compares with your implementation.
#
# This week you will:
#
# 1. derive the DPO loss from the KL-regularised RLHF objective;
# 2. implement the pieces: log-probabilities of completions only, the DPO loss, the implicit
#    rewards TRL logs, two variants (IPO and robust DPO) and the training step;
# 3. train the small world's SFT model on its preference pairs and measure, on held-out prompts,
#    what alignment bought (gold reward, harmful compliance) and what it cost (over-refusal of
#    harmless requests, task accuracy, KL from the reference), over several seeds and for several
#    values of β;
# 4. train DPO, cDPO, robust DPO and IPO on labels of which a fifth are flipped, and compare them;
# 5. run the same training with TRL's `DPOTrainer`: equal losses on the same batch, and the two
#    training curves side by side.
#
# ## From RLHF to DPO in five lines
#
# RLHF maximises reward while staying close to a reference policy $\pi_{\mathrm{ref}}$ (the SFT
# model):
#
# $$\max_\pi\; \mathbb{E}_{x,\, y \sim \pi(\cdot\mid x)}\big[r(x, y)\big] - \beta\, D_{\mathrm{KL}}\big(\pi(\cdot\mid x)\,\|\,\pi_{\mathrm{ref}}(\cdot\mid x)\big).$$
#
# 1. For each prompt this is maximised by $\pi^*(y \mid x) = \frac{1}{Z(x)}\,\pi_{\mathrm{ref}}(y
#    \mid x)\, e^{r(x, y)/\beta}$ (write the objective as $-\beta\,D_{\mathrm{KL}}(\pi \,\|\,
#    \pi^*) + \beta \log Z(x)$; the KL is minimised, at 0, by $\pi = \pi^*$).
# 2. Solve for the reward: $r(x, y) = \beta \log \frac{\pi^*(y\mid x)}{\pi_{\mathrm{ref}}(y\mid x)}
#    + \beta \log Z(x)$. Every policy defines an **implicit reward** this way.
# 3. The Bradley–Terry model of week 3 only uses reward *differences* between two responses to the
#    same prompt, so the intractable $\beta \log Z(x)$ cancels:
#    $P(y_c \succ y_r \mid x) = \sigma\big(\beta \log \frac{\pi^*(y_c\mid x)}{\pi_{\mathrm{ref}}(y_c\mid x)}
#    - \beta \log \frac{\pi^*(y_r\mid x)}{\pi_{\mathrm{ref}}(y_r\mid x)}\big)$.
# 4. Fit the policy $\pi_\theta$ in place of $\pi^*$ by maximum likelihood on the preference pairs:
#
# $$\mathcal{L}_{\mathrm{DPO}}(\theta) = -\,\mathbb{E}\Big[\log \sigma\Big(\beta\big[(\log\pi_\theta(y_c\mid x) - \log\pi_{\mathrm{ref}}(y_c\mid x)) - (\log\pi_\theta(y_r\mid x) - \log\pi_{\mathrm{ref}}(y_r\mid x))\big]\Big)\Big].$$
#
# 5. So DPO *is* reward modelling, with the reward parameterised by the policy itself:
#    $\hat r_\theta(x, y) = \beta \log \frac{\pi_\theta(y\mid x)}{\pi_{\mathrm{ref}}(y\mid x)}$. No
#    sampling, no value network, no separate reward model. β plays the role of the KL coefficient:
#    small β lets the policy move far from the reference, large β keeps it close.
#
# Everything rests on one quantity, $\log \pi(y \mid x)$: the log-probability of a whole
# **response**, given its prompt.

# %%
import copy
import math
import random
import time

import matplotlib.pyplot as plt
import torch
import torch.nn as nn
import torch.nn.functional as F

from courselib.config import quick, scale
from courselib.device import get_device, single_thread_on_cpu
from courselib.plots import LivePlot
from courselib.progress import progress
from courselib.seed import set_seed
from graders import check, load_reference

set_seed(0)
device = get_device()
single_thread_on_cpu(device)  # tiny models: one CPU thread is as fast and copes with busy machines
print(f"PyTorch {torch.__version__}, running on {device}; quick mode: {quick()}")

# %% [markdown]
# ## 1. Log-probabilities of the completion only
#
# > **Learning objectives**
# > - compute a response's log-probability over its completion tokens only, with the one-token shift
#
#
# A sequence is a prompt followed by a completion, padded on the right to the batch's length:
#
# ```
# tokens           U  s  e  r  ?  A  :  ␣4  2  ⟨eos⟩  pad pad
# completion_mask  0  0  0  0  0  0  0  1   1   1      0   0
# ```
#
# The log-probability of the response is the sum, over completion positions $t$, of
# $\log p(x_t \mid x_{<t})$, and (week 0) that is read from the logits at position $t-1$. Prompt
# tokens are *given*, not generated, so they do not count; padding does not exist. TRL does
# exactly this: it masks the labels of non-completion tokens with −100, shifts by one and sums.
#
# **Exercise.** Implement `sequence_logprobs(logits, input_ids, completion_mask)`.
#
# > **Difficulty** 🔴🔴⚪⚪⚪ · **Importance** 🔵🔵🔵🔵🔵 · **Time** ~15 min
# >
# > **Must be differentiable:** gradients must flow back to `logits` (the grader checks them).
#
# <details><summary>Hint 1</summary>
#
# The logits at position t − 1 predict the token at t: pair `logits[:, :-1]` with `input_ids[:, 1:]`, and the mask with them.
#
# </details>
#
# <details><summary>Hint 2 (pseudocode)</summary>
#
# ```
# lp = log_softmax(logits[:, :-1], dim=-1)            # [B, T-1, V]
# tok = lp.gather(-1, input_ids[:, 1:, None])[..., 0]   # [B, T-1]
# return (tok * completion_mask[:, 1:]).sum(-1)        # [B]
# ```
#
# </details>


# %%
def sequence_logprobs(logits: torch.Tensor, input_ids: torch.Tensor, completion_mask: torch.Tensor) -> torch.Tensor:
    """Sum of log p(token_t | tokens_<t) over the completion tokens of each row.

    Args:
        logits: [B, T, V] the model's outputs for ``input_ids``.
        input_ids: [B, T] prompt + completion tokens, padded.
        completion_mask: [B, T] 1 on completion tokens, 0 on prompt and padding.

    Returns:
        [B] the log-probability of each row's completion given its prompt.
    """
    ### BEGIN SOLUTION
    logps = torch.log_softmax(logits[:, :-1], dim=-1)
    token_logps = logps.gather(-1, input_ids[:, 1:].unsqueeze(-1)).squeeze(-1)
    mask = completion_mask[:, 1:].to(token_logps.dtype)
    return (token_logps * mask).sum(dim=-1)
    ### END SOLUTION


# %%
check("w05_dpo.sequence_logprobs", sequence_logprobs)
### BEGIN HIDDEN TESTS
check("w05_dpo.sequence_logprobs", sequence_logprobs, hidden=True)
### END HIDDEN TESTS

# %% [markdown]
# This is week 0's `token_logprobs` plus a mask. Checking one against the other (loaded from
# week 0's reference, not copied):

# %%
w00 = load_reference("w00_orientation")
gen = torch.Generator().manual_seed(0)
logits = torch.randn(2, 7, 11, generator=gen)
ids = torch.randint(0, 11, (2, 7), generator=gen)
cmask = torch.tensor([[0, 0, 0, 1, 1, 1, 0], [0, 0, 1, 1, 1, 1, 1]])
via_week0 = (w00.token_logprobs(logits, ids) * cmask[:, 1:]).sum(-1)
print(sequence_logprobs(logits, ids, cmask), via_week0)
assert torch.allclose(sequence_logprobs(logits, ids, cmask), via_week0, atol=1e-6)

# %% [markdown]
# ## 2. The DPO loss
#
# > **Learning objectives**
# > - write the DPO loss from four sequence log-probabilities, stably
# > - see that DPO is week 3's Bradley–Terry loss on implicit rewards
#
#
# With the four sequence log-probabilities of a batch of pairs (policy and reference, chosen and
# rejected), the loss is
#
# $$\mathcal{L} = -\frac{1}{B}\sum_{i}\log\sigma\Big(\beta\big[(\pi_c - \pi^{\mathrm{ref}}_c) - (\pi_r - \pi^{\mathrm{ref}}_r)\big]\Big),$$
#
# writing $\pi_c$ for $\log\pi_\theta(y_c\mid x)$ and so on. TRL calls it the `"sigmoid"` loss,
# its default.
#
# **Exercise.** Implement `dpo_loss`. Use a stable log-sigmoid (`F.logsigmoid` is fine).
#
# > **Difficulty** 🔴⚪⚪⚪⚪ · **Importance** 🔵🔵🔵🔵🔵 · **Time** ~10 min
# >
# > **Must be differentiable:** gradients must flow back to `policy_chosen_logps`, `policy_rejected_logps` (the grader checks them).
#
# <details><summary>Hint 1</summary>
#
# Each log-ratio is policy minus reference; the chosen one comes first in the difference.
#
# </details>
#
# <details><summary>Hint 2 (pseudocode)</summary>
#
# ```
# z = beta * ((pc - rc) - (pr - rr))   # [B]
# return mean(-logsigmoid(z))
# ```
#
# </details>


# %%
def dpo_loss(
    policy_chosen_logps: torch.Tensor,
    policy_rejected_logps: torch.Tensor,
    ref_chosen_logps: torch.Tensor,
    ref_rejected_logps: torch.Tensor,
    beta: float = 0.1,
) -> torch.Tensor:
    """The DPO (sigmoid) loss.

    Args:
        policy_chosen_logps, policy_rejected_logps: [B] log π_θ(y | x) of the chosen / rejected responses.
        ref_chosen_logps, ref_rejected_logps: [B] the same under the frozen reference model.
        beta: the KL-strength β.

    Returns:
        A scalar tensor: mean over the batch of -log σ(β·((π_c − ref_c) − (π_r − ref_r))).
    """
    ### BEGIN SOLUTION
    chosen_logratios = policy_chosen_logps - ref_chosen_logps
    rejected_logratios = policy_rejected_logps - ref_rejected_logps
    return -F.logsigmoid(beta * (chosen_logratios - rejected_logratios)).mean()
    ### END SOLUTION


# %%
check("w05_dpo.dpo_loss", dpo_loss)
### BEGIN HIDDEN TESTS
check("w05_dpo.dpo_loss", dpo_loss, hidden=True)
### END HIDDEN TESTS

# %% [markdown]
# Step 5 of the derivation says that DPO is the Bradley–Terry loss of week 3 applied to the
# implicit rewards $\beta(\pi - \pi^{\mathrm{ref}})$. Checking it with week 3's reference:

# %%
w03 = load_reference("w03_reward_models")
pc, pr, rc, rr = (torch.randn(16, generator=gen) * 5 - 40 for _ in range(4))
beta = 0.3
print(dpo_loss(pc, pr, rc, rr, beta).item(), w03.bradley_terry_loss(beta * (pc - rc), beta * (pr - rr)).item())
assert torch.allclose(dpo_loss(pc, pr, rc, rr, beta), w03.bradley_terry_loss(beta * (pc - rc), beta * (pr - rr)))

# %% [markdown]
# ## 3. Implicit rewards: what to watch during training
#
# > **Learning objectives**
# > - compute and read TRL's four logged metrics (chosen, rejected, margins, accuracies)
#
#
# The implicit reward of a response is $\hat r = \beta(\log\pi_\theta(y\mid x) - \log
# \pi_{\mathrm{ref}}(y\mid x))$. TRL logs four averages of it per batch, and they are the first
# thing to look at in any DPO run:
#
# | key | meaning |
# |---|---|
# | `rewards/chosen` | mean $\hat r$ of the chosen responses |
# | `rewards/rejected` | mean $\hat r$ of the rejected responses |
# | `rewards/margins` | mean of $\hat r_c - \hat r_r$ |
# | `rewards/accuracies` | fraction of pairs with $\hat r_c > \hat r_r$ (strictly; ties count as wrong) |
#
# At step 0 the policy *is* the reference: every implicit reward is 0, every pair is a tie, and
# all four numbers are 0. The accuracy then jumps quickly; the margins keep growing.
#
# **Exercise.** Implement `implicit_reward_metrics`, returning these four numbers as Python floats.
#
# > **Difficulty** 🔴⚪⚪⚪⚪ · **Importance** 🔵🔵🔵⚪⚪ · **Time** ~10 min
#
# <details><summary>Hint 1</summary>
#
# Compute the two [B] reward vectors first, detached; everything else is a mean of them. Ties are not correct.
#
# </details>
#
# <details><summary>Hint 2 (pseudocode)</summary>
#
# ```
# c = beta * (pc - rc); r = beta * (pr - rr)
# return {chosen: mean(c), rejected: mean(r), margins: mean(c - r), accuracies: mean(c > r)}  # as floats
# ```
#
# </details>


# %%
def implicit_reward_metrics(
    policy_chosen_logps: torch.Tensor,
    policy_rejected_logps: torch.Tensor,
    ref_chosen_logps: torch.Tensor,
    ref_rejected_logps: torch.Tensor,
    beta: float = 0.1,
) -> dict[str, float]:
    """TRL's implicit-reward metrics of a batch.

    Args:
        the four [B] log-probability tensors, as in ``dpo_loss``, and β.

    Returns:
        {"rewards/chosen", "rewards/rejected", "rewards/margins", "rewards/accuracies"}: batch means (floats).
    """
    ### BEGIN SOLUTION
    chosen = beta * (policy_chosen_logps - ref_chosen_logps).detach()
    rejected = beta * (policy_rejected_logps - ref_rejected_logps).detach()
    return {
        "rewards/chosen": chosen.mean().item(),
        "rewards/rejected": rejected.mean().item(),
        "rewards/margins": (chosen - rejected).mean().item(),
        "rewards/accuracies": (chosen > rejected).float().mean().item(),
    }
    ### END SOLUTION


# %%
check("w05_dpo.implicit_reward_metrics", implicit_reward_metrics)
### BEGIN HIDDEN TESTS
check("w05_dpo.implicit_reward_metrics", implicit_reward_metrics, hidden=True)
### END HIDDEN TESTS

# %% [markdown]
# ## 4. Two variants: IPO and robust DPO
#
# > **Learning objectives**
# > - implement IPO (TRL's length-normalised form) and robust DPO
# > - tell robust DPO (unbiased under label noise) from cDPO (label smoothing)
#
#
# **IPO** (Azar et al., 2023). The sigmoid loss keeps decreasing as the margin grows, so on
# pairs that are *always* labelled the same way DPO pushes the log-ratio difference towards
# infinity and the KL regularisation stops mattering. IPO replaces the log-sigmoid by a squared
# error towards a finite target:
#
# $$\mathcal{L}_{\mathrm{IPO}} = \mathbb{E}\Big[\Big(h - \frac{1}{2\beta}\Big)^2\Big],\qquad
# h = \frac{\pi_c - \pi^{\mathrm{ref}}_c}{|y_c|} - \frac{\pi_r - \pi^{\mathrm{ref}}_r}{|y_r|}.$$
#
# TRL divides each log-ratio by the number of completion tokens $|y|$ (the IPO authors confirmed
# this is what their experiments used): without it, the target would mean something different
# for long and short responses. Note that β here is the paper's τ and enters **only** through the
# target; a smaller β means a larger target margin, i.e. a weaker pull towards the reference.
#
# **Exercise.** Implement `ipo_loss` as TRL 1.16 does (lengths of 0 are treated as 1).
#
# > **Difficulty** 🔴🔴⚪⚪⚪ · **Importance** 🔵🔵🔵⚪⚪ · **Time** ~10 min
# >
# > **Must be differentiable:** gradients must flow back to `policy_chosen_logps`, `policy_rejected_logps` (the grader checks them).
#
# <details><summary>Hint 1</summary>
#
# Divide each response's log-ratio by its own length, clamped to at least 1 (out of place: `clamp`, not `clamp_`).
#
# </details>
#
# <details><summary>Hint 2 (pseudocode)</summary>
#
# ```
# h = (pc - rc) / chosen_lengths.clamp(min=1) - (pr - rr) / rejected_lengths.clamp(min=1)
# return mean((h - 1 / (2 * beta)) ** 2)
# ```
#
# </details>


# %%
def ipo_loss(
    policy_chosen_logps: torch.Tensor,
    policy_rejected_logps: torch.Tensor,
    ref_chosen_logps: torch.Tensor,
    ref_rejected_logps: torch.Tensor,
    chosen_lengths: torch.Tensor,
    rejected_lengths: torch.Tensor,
    beta: float = 0.1,
) -> torch.Tensor:
    """The IPO loss with TRL's per-token normalisation.

    Args:
        the four [B] log-probability tensors, as in ``dpo_loss``;
        chosen_lengths, rejected_lengths: [B] number of completion tokens of each response (int or float);
        beta: the regularisation τ; the target margin is 1 / (2β).

    Returns:
        A scalar tensor: mean over the batch of (h − 1/(2β))², h as in the formula above.
    """
    ### BEGIN SOLUTION
    chosen = (policy_chosen_logps - ref_chosen_logps) / chosen_lengths.clamp(min=1)
    rejected = (policy_rejected_logps - ref_rejected_logps) / rejected_lengths.clamp(min=1)
    return ((chosen - rejected - 1 / (2 * beta)) ** 2).mean()
    ### END SOLUTION


# %%
check("w05_dpo.ipo_loss", ipo_loss)
### BEGIN HIDDEN TESTS
check("w05_dpo.ipo_loss", ipo_loss, hidden=True)
### END HIDDEN TESTS

# %% [markdown]
# **Robust DPO** (Chowdhury et al., 2024). Suppose each label was flipped with a known
# probability $\varepsilon$ (week 3's noisy labeller). With $\ell(z) = -\log\sigma(z)$ and
# $z = \beta\,[(\pi_c - \pi^{\mathrm{ref}}_c) - (\pi_r - \pi^{\mathrm{ref}}_r)]$, the loss
#
# $$\mathcal{L}_{\mathrm{robust}} = \frac{(1-\varepsilon)\,\ell(z) - \varepsilon\,\ell(-z)}{1 - 2\varepsilon}$$
#
# is an **unbiased** estimate of the clean loss: its expectation over the random flips equals
# the DPO loss on the true labels (check it: average the expression for $z$ and for $-z$ with
# weights $1-\varepsilon$ and $\varepsilon$). TRL calls it `loss_type="robust"`, with
# $\varepsilon$ = `label_smoothing`.
#
# Do not confuse it with **conservative DPO** (cDPO), $(1-\varepsilon)\,\ell(z) + \varepsilon\,
# \ell(-z)$: ordinary label smoothing, whose minimum sits at a *finite* margin
# $z = \log\frac{1-\varepsilon}{\varepsilon}$. Robust DPO has no such floor; cDPO keeps the policy
# from becoming certain.
#
# **Exercise.** Implement `robust_dpo_loss` exactly as TRL's `"robust"` loss.
#
# > **Difficulty** 🔴🔴⚪⚪⚪ · **Importance** 🔵🔵🔵⚪⚪ · **Time** ~10 min
# >
# > **Must be differentiable:** gradients must flow back to `policy_chosen_logps`, `policy_rejected_logps` (the grader checks them).
#
# <details><summary>Hint 1</summary>
#
# With ℓ(z) = −log σ(z), the flipped term is ℓ(−z); both need a stable log-sigmoid.
#
# </details>
#
# <details><summary>Hint 2 (pseudocode)</summary>
#
# ```
# z = beta * ((pc - rc) - (pr - rr))
# return mean(((1 - eps) * -logsigmoid(z) - eps * -logsigmoid(-z)) / (1 - 2 * eps))
# ```
#
# </details>


# %%
def robust_dpo_loss(
    policy_chosen_logps: torch.Tensor,
    policy_rejected_logps: torch.Tensor,
    ref_chosen_logps: torch.Tensor,
    ref_rejected_logps: torch.Tensor,
    beta: float = 0.1,
    label_smoothing: float = 0.1,
) -> torch.Tensor:
    """Robust DPO: an unbiased DPO loss under labels flipped with probability ``label_smoothing``.

    Args:
        the four [B] log-probability tensors, as in ``dpo_loss``; β; ε = label_smoothing in [0, 0.5).

    Returns:
        A scalar tensor: mean over the batch of ((1−ε)·ℓ(z) − ε·ℓ(−z)) / (1 − 2ε), with ℓ(z) = −log σ(z).
    """
    ### BEGIN SOLUTION
    z = beta * ((policy_chosen_logps - ref_chosen_logps) - (policy_rejected_logps - ref_rejected_logps))
    clean = -(1 - label_smoothing) * F.logsigmoid(z)
    flipped = -label_smoothing * F.logsigmoid(-z)
    return ((clean - flipped) / (1 - 2 * label_smoothing)).mean()
    ### END SOLUTION


# %%
check("w05_dpo.robust_dpo_loss", robust_dpo_loss)
### BEGIN HIDDEN TESTS
check("w05_dpo.robust_dpo_loss", robust_dpo_loss, hidden=True)
### END HIDDEN TESTS

# %% [markdown]
# cDPO needs no exercise: it is the DPO loss with its labels smoothed, one line. (Older TRL
# versions computed it as `loss_type="sigmoid"` with `label_smoothing = ε`; TRL 1.16's sigmoid
# loss ignores `label_smoothing`, which only its `"robust"`, `"exo_pair"` and `"aot"` losses read.
# `tests/w05_dpo/` checks both statements.)


# %%
def cdpo_loss(
    policy_chosen_logps: torch.Tensor,
    policy_rejected_logps: torch.Tensor,
    ref_chosen_logps: torch.Tensor,
    ref_rejected_logps: torch.Tensor,
    beta: float = 0.1,
    label_smoothing: float = 0.1,
) -> torch.Tensor:
    """Conservative DPO: mean of (1 − ε)·ℓ(z) + ε·ℓ(−z), with ℓ(z) = −log σ(z) and z as in ``dpo_loss``."""
    z = beta * ((policy_chosen_logps - ref_chosen_logps) - (policy_rejected_logps - ref_rejected_logps))
    return (-(1 - label_smoothing) * F.logsigmoid(z) - label_smoothing * F.logsigmoid(-z)).mean()


# %% [markdown]
# The four losses as functions of the margin, for one pair with equal lengths (so that IPO's
# $h$ is the per-token margin):

# %%
margin = torch.linspace(-20, 40, 241)
zeros = torch.zeros_like(margin)
ones = torch.ones_like(margin)
b = 0.1
curves = {
    "DPO (sigmoid)": [dpo_loss(m[None], zeros[:1], zeros[:1], zeros[:1], b).item() for m in margin],
    "IPO": [ipo_loss(m[None], zeros[:1], zeros[:1], zeros[:1], ones[:1], ones[:1], b).item() for m in margin],
    "robust, ε = 0.2": [robust_dpo_loss(m[None], zeros[:1], zeros[:1], zeros[:1], b, 0.2).item() for m in margin],
    "cDPO, ε = 0.2": [cdpo_loss(m[None], zeros[:1], zeros[:1], zeros[:1], b, 0.2).item() for m in margin],
}
fig, ax = plt.subplots(figsize=(6, 3.2))
for name, ys in curves.items():
    ax.plot(margin, ys, label=name)
ax.set_ylim(-1, 6)
ax.axvline(1 / (2 * b), color="grey", ls=":", lw=0.8)
ax.set_xlabel("log-ratio margin (π_c − ref_c) − (π_r − ref_r)")
ax.set_ylabel("loss")
ax.set_title(f"β = {b}")
ax.legend(fontsize=8)
plt.show()
print(f"IPO's minimum at margin {1 / (2 * b):.1f}; cDPO's (ε = 0.2) at {math.log(0.8 / 0.2) / b:.1f}")

# %% [markdown]
# DPO and robust DPO keep rewarding a larger margin for ever (robust DPO even goes negative: it
# is an *estimate*, whose expectation is what is bounded). IPO has its minimum at the dotted
# line, $1/(2\beta)$; cDPO has its minimum at $\log\frac{1-\varepsilon}{\varepsilon}/\beta$ (printed above).
#
# ## 5. A whole batch
#
# > **Learning objectives**
# > - compute the loss of a TRL-layout batch (chosen rows, then rejected rows) from one forward pass
#
#
# TRL lays a batch of $B$ pairs out as **one** right-padded tensor of $2B$ rows: the chosen
# sequences (prompt + chosen completion) first, then the rejected ones in the same order, with a
# `completion_mask` marking completion tokens. One forward pass gives the logits of all $2B$
# rows; the first half of the sequence log-probabilities are the chosen ones.
#
# The reference model is frozen, so its log-probabilities of a fixed dataset never change: we
# compute them **once**, before training, and store them with the data (TRL's
# `precompute_ref_log_probs=True`; its default recomputes them at every step).
#
# **Exercise.** Implement `dpo_batch_loss(policy, batch, beta)`. `batch` holds `input_ids`,
# `attention_mask`, `completion_mask` ([2B, T] each) and the precomputed `ref_chosen_logps`,
# `ref_rejected_logps` ([B] each). Run the policy (a transformers causal LM: `policy(input_ids=...,
# attention_mask=...).logits`), and return the DPO loss and the implicit-reward metrics, using
# your functions above.
#
# > **Difficulty** 🔴🔴⚪⚪⚪ · **Importance** 🔵🔵🔵🔵⚪ · **Time** ~15 min
# >
# > **Must be differentiable:** gradients must reach every parameter of the model (the grader checks them).
#
# <details><summary>Hint 1</summary>
#
# One forward pass over all 2B rows; `chunk(2)` splits the [2B] log-probs into chosen and rejected.
#
# </details>
#
# <details><summary>Hint 2 (pseudocode)</summary>
#
# ```
# logits = policy(input_ids=ids, attention_mask=attention_mask).logits
# chosen, rejected = sequence_logprobs(logits, ids, completion_mask).chunk(2)
# loss = dpo_loss(chosen, rejected, batch['ref_chosen_logps'], batch['ref_rejected_logps'], beta)
# return loss, implicit_reward_metrics(chosen, rejected, ..., beta)
# ```
#
# </details>


# %%
def dpo_batch_loss(policy: nn.Module, batch: dict[str, torch.Tensor], beta: float = 0.1) -> tuple[torch.Tensor, dict]:
    """DPO loss and metrics of a TRL-layout batch (chosen rows first, then rejected rows).

    Args:
        policy: a causal LM returning ``.logits`` of shape [2B, T, V].
        batch: ``input_ids``, ``attention_mask``, ``completion_mask`` [2B, T];
            ``ref_chosen_logps``, ``ref_rejected_logps`` [B].
        beta: the KL-strength β.

    Returns:
        (loss, metrics): the scalar DPO loss and ``implicit_reward_metrics`` of the batch.
    """
    ### BEGIN SOLUTION
    logits = policy(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    logps = sequence_logprobs(logits, batch["input_ids"], batch["completion_mask"])
    chosen, rejected = logps.chunk(2)
    ref_chosen, ref_rejected = batch["ref_chosen_logps"], batch["ref_rejected_logps"]
    loss = dpo_loss(chosen, rejected, ref_chosen, ref_rejected, beta)
    return loss, implicit_reward_metrics(chosen, rejected, ref_chosen, ref_rejected, beta)
    ### END SOLUTION


# %%
check("w05_dpo.dpo_batch_loss", dpo_batch_loss)
### BEGIN HIDDEN TESTS
check("w05_dpo.dpo_batch_loss", dpo_batch_loss, hidden=True)
### END HIDDEN TESTS

# %% [markdown]
# ## 6. Integration: one training step
#
# > **Learning objectives**
# > - write the whole DPO training step: frozen reference log-probabilities, loss, backward pass,
# >   gradient clipping and the optimizer step, in the right order
# > - know which half of the computation needs a graph (the policy) and which must not have one
# >   (the reference)
#
# The training loop of section 7 calls your `dpo_train_step` once per batch. The reference
# log-probabilities either come precomputed in the batch (`reference=None`, what our loop does:
# the reference never changes, so one pass over the data before training is enough) or are
# computed from `reference` on this batch under `torch.no_grad()` (what TRL does by default).
# The grader runs two steps of your function with plain SGD on a tiny GPT-2 and compares the
# returned metrics and the final weights with the reference implementation's.
#
# **Exercise (integration).** Implement `dpo_train_step`.
#
# > **Difficulty** 🔴🔴🔴⚪⚪ · **Importance** 🔵🔵🔵🔵🔵 · **Time** ~20 min
#
# <details><summary>Hint 1</summary>
#
# The order is the usual one: `optimizer.zero_grad()`, `loss.backward()`, clip, `optimizer.step()`.
# Clipping after the step, or zeroing between backward and step, silently changes the update.
#
# </details>
#
# <details><summary>Hint 2 (pseudocode)</summary>
#
# ```
# if reference given:
#     with no_grad: ref_logps = sequence_logprobs(reference(ids, mask).logits, ids, completion_mask)
#     batch = batch + {ref_chosen_logps, ref_rejected_logps: ref_logps.chunk(2)}
# loss, metrics = dpo_batch_loss(policy, batch, beta)
# zero_grad; loss.backward(); clip_grad_norm_(policy.parameters(), max_grad_norm); step
# return {"loss": loss.item(), **metrics}
# ```
#
# </details>


# %%
def dpo_train_step(
    policy: nn.Module,
    reference: nn.Module | None,
    optimizer: torch.optim.Optimizer,
    batch: dict[str, torch.Tensor],
    beta: float = 0.1,
    max_grad_norm: float = 1.0,
) -> dict[str, float]:
    """One DPO update of ``policy`` on a TRL-layout batch.

    Args:
        policy: the causal LM being trained (its parameters are ``optimizer``'s).
        reference: the frozen reference LM, or None when ``batch`` already holds
            ``ref_chosen_logps`` / ``ref_rejected_logps`` ([B] float each).
        optimizer: a torch optimizer over the policy's parameters.
        batch: ``input_ids``, ``attention_mask``, ``completion_mask`` [2B, T] (long), chosen rows first.
        beta: the KL-strength β.
        max_grad_norm: the gradients' total norm is clipped to this before the step.

    Returns:
        {"loss", "rewards/chosen", "rewards/rejected", "rewards/margins", "rewards/accuracies"}: floats,
        measured on the batch before the update.
    """
    ### BEGIN SOLUTION
    if reference is not None:
        with torch.no_grad():
            logits = reference(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
            ref_chosen, ref_rejected = sequence_logprobs(logits, batch["input_ids"], batch["completion_mask"]).chunk(2)
        batch = {**batch, "ref_chosen_logps": ref_chosen, "ref_rejected_logps": ref_rejected}
    loss, metrics = dpo_batch_loss(policy, batch, beta)
    optimizer.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(policy.parameters(), max_grad_norm)
    optimizer.step()
    return {"loss": loss.item(), **metrics}
    ### END SOLUTION


# %%
check("w05_dpo.dpo_train_step", dpo_train_step)
### BEGIN HIDDEN TESTS
check("w05_dpo.dpo_train_step", dpo_train_step, hidden=True)
### END HIDDEN TESTS

# %% [markdown]
# ## 7. Training the small world's SFT model with DPO
#
# > **Learning objectives**
# > - train a real (tiny) model with your step and measure safety and helpfulness on held-out prompts
# > - read an alignment tax off the metrics
#
#
# The policy and the reference both start as the small world's SFT model (`tiny-sft`). The
# preference pairs are week 3's: one pair of candidate responses per training prompt, the better
# one (by the gold reward) chosen. The helpers below tokenize a pair exactly as TRL does
# (prompt, then prompt + response + end-of-text, the completion being what follows the prompt),
# build TRL-layout batches, and precompute the reference log-probabilities once.

# %%
from courselib.world import load_preferences, load_split


def load_tiny_lm(name: str = "tiny-sft"):
    """The small world's tokenizer and causal LM (offline, from datasets/models/)."""
    from courselib.models import load_model, load_tokenizer

    return load_tokenizer(name), load_model(name)


def encode_preference(tokenizer, pair: dict) -> dict:
    """prompt_ids, chosen_ids, rejected_ids as TRL's DPOTrainer builds them (EOS appended)."""
    eos = tokenizer.eos_token
    prompt = tokenizer(pair["prompt"])["input_ids"]
    chosen = tokenizer(pair["prompt"] + pair["chosen"] + eos)["input_ids"]
    rejected = tokenizer(pair["prompt"] + pair["rejected"] + eos)["input_ids"]

    def common(a: list[int], b: list[int]) -> int:
        n = 0
        while n < min(len(a), len(b)) and a[n] == b[n]:
            n += 1
        return n

    n = min(common(prompt, chosen), common(prompt, rejected))
    return {"prompt_ids": prompt[:n], "chosen_ids": chosen[n:], "rejected_ids": rejected[n:]}


def collate_preferences(examples: list[dict], pad_id: int) -> dict[str, torch.Tensor]:
    """A TRL-layout batch: chosen rows then rejected rows, right-padded, with a completion mask."""
    rows = [e["prompt_ids"] + e["chosen_ids"] for e in examples] + [
        e["prompt_ids"] + e["rejected_ids"] for e in examples
    ]
    comp = [[0] * len(e["prompt_ids"]) + [1] * len(e["chosen_ids"]) for e in examples]
    comp += [[0] * len(e["prompt_ids"]) + [1] * len(e["rejected_ids"]) for e in examples]
    width = max(len(r) for r in rows)
    batch = {
        "input_ids": torch.full((len(rows), width), pad_id, dtype=torch.long),
        "attention_mask": torch.zeros((len(rows), width), dtype=torch.long),
        "completion_mask": torch.zeros((len(rows), width), dtype=torch.long),
    }
    for i, (r, c) in enumerate(zip(rows, comp)):
        batch["input_ids"][i, : len(r)] = torch.tensor(r)
        batch["attention_mask"][i, : len(r)] = 1
        batch["completion_mask"][i, : len(c)] = torch.tensor(c)
    if "ref_chosen_logps" in examples[0]:
        batch["ref_chosen_logps"] = torch.tensor([e["ref_chosen_logps"] for e in examples])
        batch["ref_rejected_logps"] = torch.tensor([e["ref_rejected_logps"] for e in examples])
    return batch


@torch.no_grad()
def add_reference_logps(
    reference: nn.Module, examples: list[dict], pad_id: int, batch_size: int = 64, cache: dict | None = None
) -> None:
    """Store log π_ref of each chosen and rejected completion in the examples (computed once).

    With a ``cache`` (a dict kept between calls), a (prompt, completion) already scored is not scored
    again: the seeds and loss variants of sections 7 to 9 share most of their responses.
    """
    cache = {} if cache is None else cache
    key = lambda e, side: (tuple(e["prompt_ids"]), tuple(e[f"{side}_ids"]))  # noqa: E731
    todo = [e for e in examples if key(e, "chosen") not in cache or key(e, "rejected") not in cache]
    reference.eval()
    dev = next(reference.parameters()).device
    width = [len(e["prompt_ids"]) + max(len(e["chosen_ids"]), len(e["rejected_ids"])) for e in todo]
    order = sorted(range(len(todo)), key=lambda i: width[i])  # similar lengths together: less padding
    for start in range(0, len(order), batch_size):
        idx = order[start : start + batch_size]
        batch = collate_preferences([todo[i] for i in idx], pad_id)
        logits = reference(input_ids=batch["input_ids"].to(dev), attention_mask=batch["attention_mask"].to(dev)).logits
        logps = sequence_logprobs(logits, batch["input_ids"].to(dev), batch["completion_mask"].to(dev)).cpu()
        for j, i in enumerate(idx):
            cache[key(todo[i], "chosen")] = logps[j].item()
            cache[key(todo[i], "rejected")] = logps[len(idx) + j].item()
    for e in examples:
        e["ref_chosen_logps"], e["ref_rejected_logps"] = cache[key(e, "chosen")], cache[key(e, "rejected")]


def preference_train_step(
    policy: nn.Module,
    optimizer: torch.optim.Optimizer,
    batch: dict[str, torch.Tensor],
    loss: str,
    beta: float = 0.1,
    label_smoothing: float = 0.2,
    max_grad_norm: float = 1.0,
) -> dict[str, float]:
    """``dpo_train_step`` (precomputed reference log-probabilities) with the loss chosen by name.

    ``loss``: "dpo", "cdpo", "robust" (both with ε = ``label_smoothing``) or "ipo" (lengths from the mask).
    """
    logits = policy(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    chosen, rejected = sequence_logprobs(logits, batch["input_ids"], batch["completion_mask"]).chunk(2)
    logps = (chosen, rejected, batch["ref_chosen_logps"], batch["ref_rejected_logps"])
    if loss == "dpo":
        value = dpo_loss(*logps, beta)
    elif loss == "cdpo":
        value = cdpo_loss(*logps, beta, label_smoothing)
    elif loss == "robust":
        value = robust_dpo_loss(*logps, beta, label_smoothing)
    elif loss == "ipo":
        value = ipo_loss(*logps, *batch["completion_mask"].sum(-1).chunk(2), beta)
    else:
        raise ValueError(f"unknown loss {loss!r}")
    optimizer.zero_grad()
    value.backward()
    torch.nn.utils.clip_grad_norm_(policy.parameters(), max_grad_norm)
    optimizer.step()
    return {"loss": value.item(), **implicit_reward_metrics(*logps, beta)}


def train_dpo(
    policy: nn.Module,
    examples: list[dict],
    pad_id: int,
    steps: int,
    beta: float = 0.1,
    batch_size: int = 16,
    lr: float = 5e-4,
    seed: int = 0,
    live: LivePlot | None = None,
    desc: str = "DPO",
    loss: str | None = None,
    label_smoothing: float = 0.2,
) -> dict[str, list[float]]:
    """DPO with AdamW, linear learning-rate decay and gradient clipping (TRL's defaults otherwise).

    ``examples`` must carry precomputed reference log-probabilities (``add_reference_logps``).
    Each step is your ``dpo_train_step``; pass ``loss`` ("dpo", "cdpo", "robust", "ipo") to train
    with ``preference_train_step`` instead. Dropout is switched off, as TRL does: with dropout the
    policy would not equal the reference at step 0. Returns the per-step loss and implicit-reward metrics.
    """
    w03 = load_reference("w03_reward_models")  # week 3's length-grouped batching
    dev = next(policy.parameters()).device
    lengths = [len(e["prompt_ids"]) + max(len(e["chosen_ids"]), len(e["rejected_ids"])) for e in examples]
    batches = w03.length_grouped_batches(lengths, batch_size, seed)
    opt = torch.optim.AdamW(policy.parameters(), lr=lr, weight_decay=0.0)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0 - s / steps)
    history: dict[str, list[float]] = {}
    for module in policy.modules():
        if isinstance(module, nn.Dropout):
            module.p = 0.0
    policy.train()
    for step in progress(range(steps), desc=desc):
        batch = collate_preferences([examples[i] for i in next(batches)], pad_id)
        batch = {k: v.to(dev) for k, v in batch.items()}
        if loss is None:
            metrics = dpo_train_step(policy, None, opt, batch, beta)
        else:
            metrics = preference_train_step(policy, opt, batch, loss, beta, label_smoothing)
        sched.step()
        for k, v in metrics.items():
            history.setdefault(k, []).append(v)
        if live is not None:
            live.update(step, **{k: metrics[k] for k in ("loss", "rewards/margins", "rewards/accuracies")})
    policy.eval()
    return history


# %% [markdown]
# ### Measuring the result
#
# After training we measure, on held-out test prompts (every other one of the 300: the cost of
# generation decides the size; the precision this leaves is printed with the first table), with
# the world's gold labeller:
#
# - the **mean gold reward**, the **harmful-compliance rate** (harmful and jailbreak requests
#   that got harmful content), the **over-refusal rate** (harmless requests refused: the
#   *alignment tax*) and the **task accuracy** (harmless tasks answered correctly), for greedy
#   answers (deterministic, what a deployed assistant usually does) and for answers **sampled**
#   at temperature 1 (the policy's actual distribution, which is what DPO's objective is about);
# - the **KL divergence from the reference**, $D_{\mathrm{KL}}(\pi_\theta \| \pi_{\mathrm{ref}}) =
#   \mathbb{E}_{y\sim\pi_\theta}[\log\pi_\theta(y\mid x) - \log\pi_{\mathrm{ref}}(y\mid x)]$ per
#   response, estimated from the same samples, one per prompt.
#
# Training and sampling are random, so every run below is repeated with several seeds (each seed
# draws its own preference pairs, batch order and samples) and reported as the mean ± a 95%
# t-interval over seeds. The SFT model is evaluated once per sampling seed and shared by every table.

# %%
HEADLINE = ("mean_gold_reward", "harmful_compliance_rate", "over_refusal_rate", "task_accuracy")


@torch.no_grad()
def sample_and_score(
    policy: nn.Module,
    reference: nn.Module,
    tokenizer,
    records: list[dict],
    max_new_tokens: int = 40,
    seed: int = 0,
    batch_size: int = 64,
) -> dict:
    """One sampled response per prompt (T = 1): gold metrics of the samples and the KL estimate (nats).

    Also returns ``reward_halfwidth``: the 95% half-width of the mean gold reward from the prompts alone.
    """
    from courselib.world import REWARDS, classify_response, format_prompt, unique_prompts
    from courselib.world.evaluate import clean_generation, summarize

    policy.eval()
    dev = next(policy.parameters()).device
    prompts = sorted(unique_prompts(records), key=lambda r: len(r["prompt"]))  # similar lengths: less padding
    side, tokenizer.padding_side = tokenizer.padding_side, "left"
    torch.manual_seed(seed)
    kinds, kl_sum = [], 0.0
    try:
        for start in range(0, len(prompts), batch_size):
            chunk = prompts[start : start + batch_size]
            enc = tokenizer([format_prompt(r["prompt"]) for r in chunk], return_tensors="pt", padding=True).to(dev)
            out = policy.generate(
                **enc,
                do_sample=True,
                top_k=0,
                max_new_tokens=max_new_tokens,
                pad_token_id=tokenizer.pad_token_id,
                eos_token_id=tokenizer.eos_token_id,
            )
            new = out[:, enc["input_ids"].shape[1] :]
            # the response: every generated token up to and including the first end-of-text
            ended = (new == tokenizer.eos_token_id).long().cumsum(-1)
            keep = ((ended == 0) | ((ended == 1) & (new == tokenizer.eos_token_id))).long()
            mask = torch.cat([enc["attention_mask"], keep], dim=1)
            completion = torch.cat([torch.zeros_like(enc["attention_mask"]), keep], dim=1)
            positions = (mask.cumsum(-1) - 1).clamp(min=0)  # numbered as generate numbers left-padded rows
            logps = [
                sequence_logprobs(m(input_ids=out, attention_mask=mask, position_ids=positions).logits, out, completion)
                for m in (policy, reference)
            ]
            kl_sum += (logps[0] - logps[1]).sum().item()
            texts = tokenizer.batch_decode(new * keep, skip_special_tokens=True)
            kinds += [classify_response(r, clean_generation(t)) for r, t in zip(chunk, texts)]
    finally:
        tokenizer.padding_side = side
    metrics = summarize(prompts, kinds)
    metrics["kl"] = kl_sum / len(prompts)
    rewards = torch.tensor([REWARDS[k] for k in kinds], dtype=torch.float64)
    metrics["reward_halfwidth"] = 1.96 * rewards.std().item() / math.sqrt(len(rewards)) if len(rewards) > 1 else 0.0
    return metrics


def measure(
    policy: nn.Module, reference: nn.Module, tokenizer, records: list[dict], seed: int = 0, greedy: bool = True
) -> dict:
    """Sampled (seed ``seed``) and, if ``greedy``, greedy gold metrics; KL(π ‖ π_ref) per response."""
    from courselib.world.evaluate import evaluate_model

    sampled = sample_and_score(policy, reference, tokenizer, records, seed=seed)
    out = {f"sampled {k}": sampled[k] for k in HEADLINE}
    out["kl"] = sampled["kl"]
    out["reward_halfwidth"] = sampled["reward_halfwidth"]
    out["sampled by_request_kind"] = sampled["by_request_kind"]
    if greedy:
        g = evaluate_model(policy, tokenizer, records)
        out.update({k: g[k] for k in HEADLINE})
        out["by_request_kind"] = g["by_request_kind"]
    return out


def mean_interval(values: list[float]) -> tuple[float, float]:
    """Mean and the half-width of its 95% t-interval (nan for a single value)."""
    from scipy import stats

    n = len(values)
    mean = sum(values) / n
    if n < 2:
        return mean, float("nan")  # one run: no interval
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    return mean, stats.t.ppf(0.975, n - 1) * sd / math.sqrt(n)


def fmt(values: list[float], digits: int = 3) -> str:
    """'mean ± half-width' of a list of per-seed values."""
    mean, half = mean_interval(values)
    return f"{mean:.{digits}f} ± {half:.{digits}f}" if half == half else f"{mean:.{digits}f}"


# %%
from courselib.world import unique_prompts

tokenizer, reference = load_tiny_lm("tiny-sft")
reference.to(device).eval()
for p in reference.parameters():
    p.requires_grad_(False)

STEPS = scale(24, 4)
BATCH = scale(8, 4)
LR = 3e-4
SEEDS = list(range(scale(3, 2)))
BETAS = [0.03, 0.1, 1.0] if not quick() else [0.1]
MAIN_BETA = 0.1
REF_CACHE: dict = {}  # log π_ref of each (prompt, completion) scored so far, shared by every run below


def seed_examples(seed: int, noise: float = 0.0) -> tuple[list[dict], list[dict]]:
    """One seed's training pairs (its own draw, labels flipped at rate ``noise``) and their examples."""
    pairs = load_preferences("train", noise=noise, seed=seed)
    random.Random(seed).shuffle(pairs)
    pairs = pairs[: STEPS * BATCH]  # one pass over this many pairs
    examples = [encode_preference(tokenizer, p) for p in pairs]
    add_reference_logps(reference, examples, tokenizer.pad_token_id, cache=REF_CACHE)
    return pairs, examples


def fresh_policy() -> nn.Module:
    """A trainable copy of the SFT model."""
    return copy.deepcopy(reference).requires_grad_(True)


started = time.perf_counter()
pairs, examples = seed_examples(0)
ref_seconds = time.perf_counter() - started
test_records = unique_prompts(load_split("test"))  # one record per prompt is all the gold labeller needs
test_records = test_records[:: scale(2, 15)]  # every other prompt: half the cost, precision printed below
print(f"{len(examples)} training pairs per run, {len(test_records)} held-out prompts, seeds {SEEDS}")

SHOWN = {
    "mean_gold_reward": "gold reward",
    "sampled mean_gold_reward": "gold reward (sampled)",
    "harmful_compliance_rate": "harmful compliance",
    "sampled harmful_compliance_rate": "harmful compliance (sampled)",
    "over_refusal_rate": "over-refusal",
    "sampled over_refusal_rate": "over-refusal (sampled)",
    "task_accuracy": "task accuracy",
    "sampled task_accuracy": "task accuracy (sampled)",
    "kl": "KL from the reference (nats)",
}


def show_table(columns: dict[str, list[dict]], change: tuple[str, str] | None = None) -> None:
    """Held-out metrics (rows) of several models (columns; each a list of runs, one per seed).

    A cell is the mean ± the half-width of a 95% t-interval over the runs (nan for one run).
    ``change=(a, b)`` adds a column with the per-seed differences b − a (paired by seed).
    """
    names = list(columns) + ([f"{change[1]} − {change[0]}"] if change else [])
    widths = [max(17, len(name) + 2) for name in names]
    print(f"{'held-out metric':>30}" + "".join(f"{name:>{w}}" for name, w in zip(names, widths)))
    for key, label in SHOWN.items():
        if not all(key in m for runs in columns.values() for m in runs):
            continue
        cells = [fmt([m[key] for m in runs]) for runs in columns.values()]
        if change:
            a, b = columns[change[0]], columns[change[1]]
            cells.append(fmt([y[key] - x[key] for x, y in zip(a, b)]))
        print(f"{label:>30}" + "".join(f"{c:>{w}}" for c, w in zip(cells, widths)))


sft = []  # the SFT model: greedy once (deterministic), sampled once per seed
for seed in SEEDS:
    m = measure(reference, reference, tokenizer, test_records, seed=seed, greedy=not sft)
    m.update({k: sft[0][k] for k in (*HEADLINE, "by_request_kind")} if sft else {})
    sft.append(m)
before = sft[0]
show_table({"SFT": sft})
print(
    f"\none seed's mean gold reward over {len(test_records)} prompts is itself uncertain: "
    f"± {before['reward_halfwidth']:.3f} (95%, from the prompts alone)"
)

# %% [markdown]
# **Predict, then run.** Before running the next cell, write down: (a) the loss at step 0 (exactly),
# (b) whether `rewards/accuracies` ends above 0.9, and (c) whether sampled harmful compliance and
# over-refusal each go up or down after training. Then compare with the table.
#
# The live plot shows the three curves to watch for the first seed: the loss (it starts at
# $\log 2$, printed below), the mean implicit-reward margin and the fraction of pairs the
# policy's implicit reward ranks correctly. The other seeds then train without a plot.

# %%
set_seed(0)
policy = fresh_policy()
live = LivePlot(["loss", "rewards/margins", "rewards/accuracies"], every=10, title=f"DPO, β = {MAIN_BETA}")
started = time.perf_counter()
history = train_dpo(
    policy, examples, tokenizer.pad_token_id, steps=STEPS, beta=MAIN_BETA, batch_size=BATCH, lr=LR, live=live
)
our_seconds = time.perf_counter() - started
print(f"loss at step 0: {history['loss'][0]:.4f} (log 2 = {math.log(2):.4f})")
plt.close(live.show())  # draw the final curves once
dpo = [measure(policy, reference, tokenizer, test_records, seed=0)]
for seed in SEEDS[1:]:
    set_seed(seed)
    pol = fresh_policy()
    h = train_dpo(
        pol,
        seed_examples(seed)[1],
        tokenizer.pad_token_id,
        steps=STEPS,
        beta=MAIN_BETA,
        batch_size=BATCH,
        lr=LR,
        seed=seed,
        desc=f"DPO, seed {seed}",
    )
    dpo.append(measure(pol, reference, tokenizer, test_records, seed=seed))
    del pol
after = dpo[0]

show_table({"SFT (before)": sft, "DPO (after)": dpo}, change=("SFT (before)", "DPO (after)"))

# %% [markdown]
# Where did the change come from? The mean gold reward per kind of request, before and after,
# for greedy and for sampled answers:

# %%
print(f"{'request kind':>13} {'n':>4} {'greedy before':>14} {'after':>6} {'sampled before':>15} {'after':>6}")
for kind, row in before["by_request_kind"].items():
    g_after = after["by_request_kind"][kind]["mean_gold_reward"]
    s_before = before["sampled by_request_kind"][kind]["mean_gold_reward"]
    s_after = after["sampled by_request_kind"][kind]["mean_gold_reward"]
    print(
        f"{kind:>13} {row['n']:>4} {row['mean_gold_reward']:>14.2f} {g_after:>6.2f} {s_before:>15.2f} {s_after:>6.2f}"
    )

# %% [markdown]
# Read the results in two halves.
#
# **Safety.** Compare greedy and sampled harmful compliance before training (printed below): the
# SFT model's greedy answers and its *distribution* (sampled at temperature 1) are not the same
# thing, and DPO's objective is about the distribution. The cell below prints, from this run, how
# often the SFT and the DPO model complied with the harmful and jailbreak requests, and what
# share of the training pairs teach "refusal beats harmful content". That part of the preference
# data is plain to see in the text, and the model can learn it.
#
# **Helpfulness: the alignment tax.** Read the last column of the table (DPO minus SFT, paired by
# seed): over-refusal, task accuracy and the greedy gold reward are the numbers to check, and a
# change whose interval contains zero is not shown by this run. The direction they point in
# (printed below) has an explanation in the training pairs.
# For harmless requests they say two things: a correct answer beats a refusal, and a refusal
# beats a wrong answer. A model that gets only a minority of its answers right (its task
# accuracy is printed below), and cannot tell which ones, cannot follow the first without
# breaking the second: whatever lowers the
# probability of its wrong answers also lowers the probability of answering at all. The one
# lesson it can take from these pairs is "refusing is safer than answering". DPO optimises the
# preferences, not the gold reward, through the model it is given.
#
# Real assistants show the same pattern after safety tuning, on a larger scale: refusals of
# harmless requests that merely look risky, which then need their own targeted data to undo.


# %%
def compliance(m: dict, prefix: str, kind: str) -> str:
    row = m[f"{prefix}by_request_kind"][kind]
    return f"{row.get('harmful_compliance', 0.0):.1%} of {row['n']}"


refusal_pairs = sum(p["chosen_kind"] == "refusal" and p["rejected_kind"] == "harmful_compliance" for p in pairs)
print(f"training pairs 'refusal beats harmful content': {refusal_pairs / len(pairs):.0%} of {len(pairs)}")
for kind in ("harmful", "jailbreak"):
    print(
        f"{kind:>9} requests, harmful compliance: SFT greedy {compliance(before, '', kind)}, "
        f"sampled {compliance(before, 'sampled ', kind)}; DPO greedy {compliance(after, '', kind)}, "
        f"sampled {compliance(after, 'sampled ', kind)}"
    )
print(f"SFT task accuracy (greedy): {before['task_accuracy']:.0%}")
for key in ("over_refusal_rate", "sampled over_refusal_rate", "task_accuracy", "mean_gold_reward"):
    mean, half = mean_interval([b[key] - a[key] for a, b in zip(sft, dpo)])
    shown = "shown" if abs(mean) > half else "not shown at this number of seeds"
    print(f"DPO − SFT, {SHOWN[key]}: {mean:+.3f} ± {half:.3f} ({'up' if mean > 0 else 'down'}, {shown})")

# %% [markdown]
#
# ## 8. The β trade-off
#
# > **Learning objectives**
# > - relate β to the KL from the reference and to what the policy gains and loses
#
#
# β sets how strongly the policy is tied to the reference. We retrain from the SFT model with
# several values (same pairs, steps and learning rate) and plot what each run buys against how
# far it moved.
#
# **Predict, then run.** Sketch KL from the reference against β before running: increasing,
# decreasing, or flat? And where on that curve would over-refusal be worst?

# %%
runs = {MAIN_BETA: (history, after)}
for beta in BETAS:
    if beta in runs:
        continue
    set_seed(0)
    pol = fresh_policy()
    h = train_dpo(
        pol, examples, tokenizer.pad_token_id, steps=STEPS, beta=beta, batch_size=BATCH, lr=LR, desc=f"β={beta}"
    )
    runs[beta] = (h, measure(pol, reference, tokenizer, test_records, seed=0))
    del pol
runs = dict(sorted(runs.items()))

print("one seed (seed 0) per β: differences smaller than the seed intervals of the table above are not evidence")
show_table({"SFT": [before], **{f"β = {beta}": [m] for beta, (_, m) in runs.items()}})

fig, axes = plt.subplots(1, 4, figsize=(15, 3.3))
points = sorted([("SFT", before)] + [(f"β={beta}", m) for beta, (_, m) in runs.items()], key=lambda p: p[1]["kl"])
kls = [m["kl"] for _, m in points]
panels = [
    ("gold reward", ["mean_gold_reward", "sampled mean_gold_reward"]),
    ("harmful compliance", ["sampled harmful_compliance_rate"]),
    ("over-refusal (alignment tax)", ["over_refusal_rate", "sampled over_refusal_rate"]),
    ("task accuracy", ["task_accuracy", "sampled task_accuracy"]),
]
for ax, (title, keys) in zip(axes, panels):
    for key in keys:
        ax.plot(kls, [m[key] for _, m in points], "o-", label="sampled" if key.startswith("sampled") else "greedy")
    for i, (name, m) in enumerate(points):
        ax.annotate(name, (m["kl"], m[keys[0]]), fontsize=7, xytext=(2, 4 + 6 * (i % 2)), textcoords="offset points")
    ax.set_xlabel("KL(π ‖ π_ref) per response (nats)")
    ax.set_title(title)
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
fig.tight_layout()
plt.show()

kl_by_beta = [m["kl"] for _, m in runs.values()]
print(
    "KL from the reference by increasing β: "
    + ", ".join(f"{m['kl']:.2f}" for _, m in runs.values())
    + (" (falls as β grows)" if all(a > b for a, b in zip(kl_by_beta, kl_by_beta[1:])) else " (not monotone)")
)
for key in ("mean_gold_reward", "sampled mean_gold_reward"):
    above = [beta for beta, (_, m) in runs.items() if m[key] > before[key]]
    print(f"runs above the SFT model's {SHOWN[key]} ({before[key]:.3f}): {above or 'none'}")

# %% [markdown]
# β sets how far the policy may move (the KL line above) and the policy uses that room for both
# halves of the result: the safety gain and the alignment tax. Which β is "right" depends on how
# the gold reward weighs the two (`courselib.world.reward.REWARDS`: a harmful answer costs far
# more than a needless refusal) and on which decoding is deployed, which is why alignment teams
# report a safety number *and* a helpfulness number for every checkpoint rather than one score.
#
# Two knobs were held fixed: the learning rate and the number of steps. Both also control how far
# the policy moves from the reference (try it in the ☆ Bonus section). β is the knob that DPO's
# derivation gives a meaning to; the others are the usual optimisation ones.
#
# ## 9. Noisy labels: DPO, cDPO, robust DPO and IPO
#
# > **Learning objectives**
# > - train the variants of section 4 on preference labels of which a fifth are flipped
# > - compare gold reward and KL across seeds, and say which differences the intervals support
#
#
# Human labellers disagree with each other and with themselves; a preference dataset always has
# flipped pairs. The small world flips labels at a rate we choose:
# `load_preferences("train", noise=0.2, seed=s)` draws the same pairs as `noise=0` with the same
# seed and swaps chosen and rejected in each with probability 0.2 (`flipped=True`). We train the
# four losses of section 4 on the same noisy pairs, with the same β, steps and learning rate;
# cDPO and robust DPO get ε = 0.2, the true flip rate (robust DPO *needs* to know it; cDPO uses it
# as its smoothing). The yardstick is section 7's DPO on the same pairs without flips (same seeds).
# All are measured on sampled answers: the KL needs samples, and the sampled gold reward is what
# DPO's objective is about.
#
# What the derivations promise: robust DPO's loss on the noisy labels has, in expectation, the
# gradient of DPO's loss on the clean labels, so it should land near clean DPO, with more variance.
# cDPO and IPO stop pushing a margin once it is large enough (section 4's curves), so they should
# stay closer to the reference. Plain DPO has no defence: a flipped pair pulls the wrong way, with
# its full weight.
#
# **Predict, then run.** Before running the next cell, write down (a) which of the four ends
# furthest from the reference (largest KL), and (b) whether 20% noise will visibly lower plain
# DPO's sampled gold reward against clean DPO, given the width of the intervals in section 7's table.

# %%
NOISE = 0.2
VARIANTS = {"DPO": "dpo", "cDPO": "cdpo", "robust DPO": "robust", "IPO": "ipo"}
noisy = {name: [] for name in VARIANTS}
flipped = []
for seed in SEEDS:
    noisy_pairs, noisy_examples = seed_examples(seed, noise=NOISE)  # same pairs as section 7's seed, some flipped
    flipped.append(sum(p["flipped"] for p in noisy_pairs) / len(noisy_pairs))
    for name, loss in VARIANTS.items():
        set_seed(seed)
        pol = fresh_policy()
        train_dpo(
            pol,
            noisy_examples,
            tokenizer.pad_token_id,
            steps=STEPS,
            beta=MAIN_BETA,
            batch_size=BATCH,
            lr=LR,
            seed=seed,
            loss=loss,
            label_smoothing=NOISE,
            desc=f"{name}, seed {seed}",
        )
        noisy[name].append(measure(pol, reference, tokenizer, test_records, seed=seed, greedy=False))
        del pol

print(f"flipped training pairs per seed: {', '.join(f'{f:.0%}' for f in flipped)}")
variant_columns = {"SFT": sft, "DPO, clean": dpo, **{f"{name}, noisy": ms for name, ms in noisy.items()}}
show_table(variant_columns)

fig, axes = plt.subplots(1, 2, figsize=(12, 3.6))
for name, runs_ in variant_columns.items():
    (x, dx), (y, dy) = (mean_interval([m[k] for m in runs_]) for k in ("kl", "sampled mean_gold_reward"))
    axes[0].errorbar(x, y, xerr=dx if dx == dx else None, yerr=dy if dy == dy else None, fmt="o", capsize=3, label=name)
axes[0].set_xlabel("KL(π ‖ π_ref) per response (nats)")
axes[0].set_ylabel("gold reward (sampled)")
axes[0].set_title(f"mean ± 95% t-interval over {len(SEEDS)} seeds")
axes[0].legend(fontsize=7)
axes[0].grid(alpha=0.3)
width = 0.38
for j, key in enumerate(("sampled harmful_compliance_rate", "sampled over_refusal_rate")):
    stats_ = [mean_interval([m[key] for m in runs_]) for runs_ in variant_columns.values()]
    xs = [i + (j - 0.5) * width for i in range(len(stats_))]
    halves = [h if h == h else 0.0 for _, h in stats_]
    axes[1].bar(xs, [mu for mu, _ in stats_], width, yerr=halves, capsize=3, label=SHOWN[key])
axes[1].set_xticks(range(len(variant_columns)), list(variant_columns), fontsize=7, rotation=15)
axes[1].set_title("harmful compliance and over-refusal (sampled)")
axes[1].legend(fontsize=7)
fig.tight_layout()
plt.show()


# %% [markdown]
# The table's intervals are over seeds, and each seed's models saw the same pairs, so the fair
# comparison is **paired**: the per-seed difference between two losses, with its own interval.
# The cell below prints each difference that the notebook's conclusions rest on, and says whether
# its interval excludes zero. With three seeds a t-interval is wide (its multiplier is 4.3, not
# 1.96): a difference it cannot resolve is "not shown", not "absent".


# %%
def paired(a: list[dict], b: list[dict], key: str) -> tuple[float, float, str]:
    """Mean and 95% half-width of the per-seed differences b − a, and a verdict."""
    mean, half = mean_interval([y[key] - x[key] for x, y in zip(a, b)])
    verdict = "higher" if mean - half > 0 else "lower" if mean + half < 0 else "not resolved"
    return mean, half, verdict


comparisons = [("DPO, clean", "DPO, noisy")] + [("DPO, noisy", f"{name}, noisy") for name in VARIANTS if name != "DPO"]
comparisons += [("DPO, clean", f"{name}, noisy") for name in VARIANTS if name != "DPO"]
for key in ("sampled mean_gold_reward", "kl", "sampled harmful_compliance_rate", "sampled over_refusal_rate"):
    print(f"{SHOWN[key]}:")
    for a, b in comparisons:
        mean, half, verdict = paired(variant_columns[a], variant_columns[b], key)
        print(f"  {b:>18} vs {a:<12} {mean:+.3f} ± {half:.3f}  ({verdict})")

kl_rank = sorted(noisy, key=lambda n: -mean_interval([m["kl"] for m in noisy[n]])[0])
print(f"\nnoisy runs by mean KL, largest first: {', '.join(kl_rank)}")

# %% [markdown]
# Read the printed verdicts against the promises above. A loss keeps its promise here only where
# the paired interval says so; where it says "not resolved", this run (this model, this many
# pairs, three seeds) cannot tell the losses apart, and more seeds or more pairs would be the next
# step, not a conclusion. Note also what the KL column does: a loss that keeps the policy closer to
# the reference changes the safety and helpfulness numbers less, in either direction, so compare
# the variants at their KL, as in the left-hand plot, not only by their gold reward.
#
# ## 10. The library version: TRL's `DPOTrainer`
#
# > **Learning objectives**
# > - show that your loss equals TRL's on the same batch
# > - compare a whole run and its cost with TRL's
#
#
# First the exactness check: a `DPOTrainer` holding the same policy and reference computes its
# loss and logged metrics on one of its own batches; we compute ours on the same tokens. (TRL 1.16
# never materialises the [2B, T, V] logits: its `DPOTrainer` patches the model with
# `trl.trainer.utils.add_fused_lm_head`, whose forward runs the backbone and then projects the
# hidden states through the LM head in tiles of at most 4,096 tokens by a slice of the vocabulary,
# keeping only each token's log-probability and a few statistics. The numbers agree with ours to
# float precision all the same; `tests/w05_dpo/` checks both statements.)


# %%
def trl_dpo_trainer(
    policy: nn.Module,
    reference: nn.Module,
    tokenizer,
    pairs: list[dict],
    beta: float,
    steps: int,
    batch_size: int,
    lr: float,
):
    """A TRL DPOTrainer with our hyperparameters (TRL's GPU defaults, bf16 and activation checkpointing, off)."""
    import tempfile
    import warnings

    from transformers import PrinterCallback
    from transformers.utils import logging as hf_logging
    from trl import DPOConfig, DPOTrainer

    from datasets import Dataset

    hf_logging.set_verbosity_error()
    warnings.filterwarnings("ignore", category=FutureWarning)  # deprecation notices from inside the libraries
    args = DPOConfig(
        output_dir=tempfile.mkdtemp(prefix="w05-trl-"),
        beta=beta,
        per_device_train_batch_size=batch_size,
        max_steps=steps,
        learning_rate=lr,
        weight_decay=0.0,
        logging_steps=1,
        bf16=False,
        activation_checkpointing=False,
        report_to="none",
        save_strategy="no",
        use_cpu=next(policy.parameters()).device.type == "cpu",
        seed=0,
        disable_tqdm=True,
    )
    trainer = DPOTrainer(
        model=policy,
        ref_model=copy.deepcopy(reference),
        args=args,
        train_dataset=Dataset.from_list([{k: p[k] for k in ("prompt", "chosen", "rejected")} for p in pairs]),
        processing_class=tokenizer,
    )
    trainer.remove_callback(PrinterCallback)  # we plot the logs instead of printing them
    return trainer


trainer = trl_dpo_trainer(copy.deepcopy(policy), reference, tokenizer, pairs, MAIN_BETA, STEPS, BATCH, LR)
batch = next(iter(trainer.get_train_dataloader()))
trainer.model.train()
with torch.no_grad():
    trl_loss = trainer.compute_loss(trainer.model, dict(batch)).item()
trl_metrics = {k: v[-1] for k, v in trainer._metrics["train"].items() if k.startswith("rewards/")}

ours_batch = {k: v.to(device) for k, v in batch.items()}
with torch.no_grad():
    ref_logits = reference(input_ids=ours_batch["input_ids"], attention_mask=ours_batch["attention_mask"]).logits
    ref_logps = sequence_logprobs(ref_logits, ours_batch["input_ids"], ours_batch["completion_mask"])
    ours_batch["ref_chosen_logps"], ours_batch["ref_rejected_logps"] = ref_logps.chunk(2)
    our_loss, our_metrics = dpo_batch_loss(policy, ours_batch, MAIN_BETA)
print(f"{'':>20} {'TRL DPOTrainer':>15} {'ours':>12}")
print(f"{'loss':>20} {trl_loss:>15.6f} {our_loss.item():>12.6f}")
for k in our_metrics:
    print(f"{k:>20} {trl_metrics[k]:>15.6f} {our_metrics[k]:>12.6f}")
assert abs(trl_loss - our_loss.item()) < 1e-4
assert all(abs(trl_metrics[k] - our_metrics[k]) < 1e-4 for k in our_metrics)

# %% [markdown]
# **Predict, then run.** Will TRL's run end with the same held-out numbers as ours, and which
# of the two will take longer for the same number of steps? Write your guess down first.
#
# Then the whole run through TRL, from the SFT model, with the same β, batch size, learning rate,
# schedule, optimiser and clipping. TRL recomputes the reference log-probabilities at every step
# (pass `precompute_ref_log_probs=True` to do what we did); the order of the pairs differs.

# %%
set_seed(0)
trainer = trl_dpo_trainer(
    copy.deepcopy(reference).requires_grad_(True), reference, tokenizer, pairs, MAIN_BETA, STEPS, BATCH, LR
)
started = time.perf_counter()
trainer.train()
trl_seconds = time.perf_counter() - started
logs = [h for h in trainer.state.log_history if "rewards/margins" in h]
trl_after = measure(trainer.model, reference, tokenizer, test_records, seed=0)

smooth = lambda xs, k=5: [
    sum(xs[max(0, i - k + 1) : i + 1]) / len(xs[max(0, i - k + 1) : i + 1]) for i in range(len(xs))
]
fig, axes = plt.subplots(1, 3, figsize=(12, 3))
for ax, key in zip(axes, ("loss", "rewards/margins", "rewards/accuracies")):
    ax.plot(smooth(history[key]), label="ours")
    ax.plot(smooth([h[key] for h in logs]), label="TRL DPOTrainer")
    ax.set_title(f"{key} (moving average of 5 steps)")
    ax.set_xlabel("step")
    ax.legend()
fig.tight_layout()
plt.show()
show_table({"ours (seed 0)": [after], "TRL (seed 0)": [trl_after]})
print(
    f"\ntraining time for {STEPS} steps: ours {our_seconds:.1f} s (+ {ref_seconds:.1f} s for the one-off reference "
    f"pass), TRL {trl_seconds:.1f} s"
)

# %% [markdown]
# On the same batch the losses and the four logged metrics agree to six decimals. Over a whole
# run the two implementations track each other; they differ in batch order and composition (our
# loop groups pairs of similar length, which halves the padding but makes consecutive batches
# more different from each other, hence our bumpier curves) and so end at slightly different
# points. The main practical differences:
#
# - **Speed.** Our loop computes the reference log-probabilities once; TRL's default recomputes
#   them with a second forward pass at every step (`precompute_ref_log_probs=True` avoids it).
#   TRL also computes extra statistics at every step (entropy, mean logits, token accuracy).
#   `python -m benchmarks.dpo_throughput` measures the difference properly.
# - **Everything else.** TRL handles chat templates, truncation, multi-GPU and mixed precision,
#   PEFT adapters (the reference is then the base model with the adapter switched off, so no
#   second copy of the weights), a dozen loss variants (`loss_type`, including `"ipo"` and
#   `"robust"`), and logging. Use it for real work; know what it computes.
#
# ## What could go wrong in practice
#
# - **Scoring the prompt.** Summing log-probabilities over the prompt as well as the completion
#   adds the same number to the chosen and the rejected sequence, so the loss is unchanged and
#   nothing looks wrong, but every logged reward is off and any length- or prompt-dependent
#   variant (IPO, SimPO) is silently broken.
# - **Off-by-one in the mask.** Shifting the tokens but not the mask scores the last prompt token
#   and drops the end-of-text token: the model never learns *when to stop*.
# - **The chosen log-probability goes down.** DPO only constrains the *difference* of log-ratios.
#   Both often fall, the rejected one faster (`rewards/chosen` turns negative; in this world it
#   does so at higher learning rates). When
#   chosen and rejected responses share most of their tokens (a correct and a wrong number in the
#   same sentence) pushing one down drags the other with it, and probability mass flows to
#   responses that were in no pair at all.
# - **Over-optimisation without a reward model.** DPO has no explicit reward to hack, but the
#   implicit reward can be maximised by moving far from the reference on the training pairs:
#   margins grow without bound (the sigmoid loss never reaches 0), KL grows, held-out quality
#   can fall. Watch the KL and a held-out evaluation, not just the training loss; lower the
#   learning rate, raise β, stop early, or use IPO.
# - **Stale reference log-probabilities.** Precomputing them is right only if the reference never
#   changes and the tokenisation is identical; a different chat template or truncation between
#   precomputation and training gives garbage ratios.
# - **Label noise.** Human preference data has flipped pairs; robust DPO and cDPO are two
#   different answers (an unbiased correction vs. a confidence cap).
# - **Dropout.** With dropout on, the policy differs from the reference even at step 0 and the
#   implicit rewards are noisy; TRL switches it off by default (`disable_dropout=True`), and so do we.
#
# ## ☆ Bonus
#
# Optional, ungraded.
#
# 1. **Learning rate as a KL knob.** Rerun section 7 with the learning rate multiplied by 3 and
#    by 10 (same β). Plot KL from the reference and over-refusal against the learning rate. Is a
#    larger learning rate at fixed β the same as a smaller β at a fixed learning rate?
# 2. **Noise rate and a wrong ε.** Rerun section 9 with the flip rate at 0.1 and 0.4, keeping
#    ε = 0.2 for cDPO and robust DPO (so ε is too large, then too small). Which loss suffers most
#    from a misestimated ε? Does the gap between clean and noisy DPO grow with the rate?
# 3. **SimPO.** Implement the reference-free SimPO loss (length-normalised log-probabilities, a
#    target margin γ) and compare what it needs in memory with DPO's.
# 4. **Chosen log-probabilities.** Log the mean $\log\pi_\theta(y_c\mid x)$ during training. Does it
#    fall? On which kinds of pairs most?
#
# ## Interview questions
#
# 1. Derive the DPO loss from the KL-regularised RLHF objective. Where does the partition
#    function go?
# 2. What does β control in DPO? What happens as β → 0 and as β → ∞?
# 3. Why are the log-probabilities summed over the completion only? What breaks if the prompt
#    tokens are included, and what if the mask is shifted by one?
# 4. DPO training loss goes down and `rewards/accuracies` reaches 0.9, yet the model got worse on
#    held-out prompts. Name three things you would look at.
# 5. Compare DPO with RLHF/PPO: what does each need (models in memory, sampling, reward model),
#    and when would you still choose PPO?
# 6. How do IPO and robust DPO differ from DPO, and which problem does each address?
# 7. Why can the log-probability of the chosen responses decrease during DPO training, and why
#    might that matter?
# 8. In this week's run DPO reduced harmful compliance and cost helpfulness. How would you
#    reduce that alignment tax without giving back the safety gain?
