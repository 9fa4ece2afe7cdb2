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
# # Week 0 — Orientation and the tensor warm-up
#
# Welcome. Over thirteen weeks you will build, break and defend the safety machinery of a
# language model: reward models, RLHF, DPO, red teaming, guardrails, interpretability, sparse
# autoencoders and debate. Every technique is implemented **from scratch** first, checked by an
# auto-grader, then compared with the library practitioners use.
#
# This week has two jobs:
#
# 1. **How the course works**: running cells, checking an answer, reading the grader's feedback,
#    submitting.
# 2. **The tensor warm-up**: six small functions that every later week relies on. The DPO loss of
#    week 5 is a log-sigmoid of differences of masked sums of gathered log-probabilities; the
#    RLHF penalty of week 4 is a KL divergence. If these are solid, the rest is bookkeeping.
#
# ## How the course works
#
# - **Run cells top to bottom** (Shift+Enter). Each exercise is a function with a docstring that
#   gives its shapes, and a body that says `raise NotImplementedError()`. Replace that line with
#   your code.
# - **The cell after each exercise checks it.** It runs your function on several inputs
#   (including awkward ones: large values, padding, batch size one) on your device (the GPU when
#   you have one) and compares the outputs with a reference. When something is off it tells you
#   which input failed, what it expected, what came back, and — when your answer behaves exactly
#   like a mistake we have seen before — the name of that mistake. A passing check prints ✓.
# - **Your grade** is computed separately, by the instructor's autograder. It reads your
#   notebook, runs your functions in an isolated process with time and memory limits, and
#   compares them with the reference on the same cases plus a few hidden ones. Printing warnings
#   or debugging output never costs you points; code that hangs or crashes does, for that
#   exercise only.
# - **Self-checking from a terminal:** `graders check w00_orientation.log_softmax
#   course/w00_orientation/w00_orientation.ipynb --json` grades one exercise of a saved notebook
#   exactly as the autograder will.
# - **Submitting:** save the notebook (your instructor's nbgrader *Assignments* tab submits it;
#   self-learners just keep going).
#
# Graded functions must be **self-contained**: they may use imports and other functions you
# defined, but not variables created elsewhere in the notebook, because the autograder only
# keeps imports, functions, classes and UPPER_CASE constants.

# %%
import matplotlib.pyplot as plt
import torch

from courselib.device import get_device
from courselib.seed import set_seed
from graders import check

set_seed(0)
device = get_device()
print(f"PyTorch {torch.__version__}, running on {device}")

# %% [markdown]
# ## 1. Log-softmax, computed stably
#
# A language model outputs **logits** $z \in \mathbb{R}^V$, one per token of the vocabulary.
# The log-probabilities are
#
# $$\log \mathrm{softmax}(z)_i = z_i - \log \sum_j e^{z_j}.$$
#
# Written literally this overflows: $e^{1000}$ is `inf` in float32 (anything above about 88.7
# is). The fix is the identity $\log \sum_j e^{z_j} = m + \log \sum_j e^{z_j - m}$ for any $m$;
# choosing $m = \max_j z_j$ makes every exponent $\le 0$, so nothing overflows and at least one
# term equals 1, so nothing underflows to $\log 0$ either.
#
# **Exercise.** Implement `log_softmax(logits, dim=-1)` without `torch.log_softmax`,
# `torch.softmax` or `torch.logsumexp`.
#
# *Hint:* `x.amax(dim=dim, keepdim=True)` keeps the reduced dimension so the result broadcasts.


# %%
def log_softmax(logits: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """Log-softmax of ``logits`` along ``dim``, stable for large values.

    Args:
        logits: any shape, floating point.
        dim: the dimension to normalise over.

    Returns:
        A tensor of the same shape whose exponentials sum to 1 along ``dim``.
    """
    ### BEGIN SOLUTION
    shifted = logits - logits.amax(dim=dim, keepdim=True)
    return shifted - shifted.exp().sum(dim=dim, keepdim=True).log()
    ### END SOLUTION


# %%
check("w00_orientation.log_softmax", log_softmax)
### BEGIN HIDDEN TESTS
check("w00_orientation.log_softmax", log_softmax, hidden=True)
### END HIDDEN TESTS

# %% [markdown]
# To see why the shift matters, compare the naive formula with yours on large logits:

# %%
big = torch.tensor([1000.0, 999.0, 990.0])
naive = big - big.exp().sum().log()
print("naive :", naive)
print("stable:", log_softmax(big))

# %% [markdown]
# ## 2. Cross-entropy with ignored positions
#
# Training a language model minimises the **cross-entropy** between its predicted distribution
# and the token that actually came next, averaged over positions:
#
# $$\mathcal{L} = -\frac{1}{|\mathcal{K}|} \sum_{n \in \mathcal{K}} \log p_\theta(y_n \mid x_n),$$
#
# where $\mathcal{K}$ is the set of positions that count. Padding and (in chat fine-tuning) the
# prompt are excluded by giving them the target `ignore_index` (−100, as in PyTorch and
# Hugging Face). They must be left out of the **average** as well as the sum.
#
# **Exercise.** Implement `cross_entropy(logits, targets, ignore_index=-100)` using your
# `log_softmax` (not `torch.nn.functional.cross_entropy` or `nll_loss`).
#
# *Hint:* `torch.gather` needs a valid index everywhere, so replace ignored targets by 0 before
# gathering and mask them out afterwards.


# %%
def cross_entropy(logits: torch.Tensor, targets: torch.Tensor, ignore_index: int = -100) -> torch.Tensor:
    """Mean negative log-likelihood of ``targets`` under ``logits``, skipping ``ignore_index``.

    Args:
        logits: [N, V] unnormalised scores.
        targets: [N] integer class indices in [0, V), or ``ignore_index``.

    Returns:
        A scalar tensor: the mean over the N' non-ignored positions (at least one is guaranteed).
    """
    ### BEGIN SOLUTION
    keep = targets != ignore_index
    safe_targets = torch.where(keep, targets, torch.zeros_like(targets))
    logprobs = log_softmax(logits, dim=-1).gather(-1, safe_targets.unsqueeze(-1)).squeeze(-1)
    return -(logprobs * keep).sum() / keep.sum()
    ### END SOLUTION


# %%
check("w00_orientation.cross_entropy", cross_entropy)
### BEGIN HIDDEN TESTS
check("w00_orientation.cross_entropy", cross_entropy, hidden=True)
### END HIDDEN TESTS

# %% [markdown]
# ## 3. KL divergence between categorical distributions
#
# The KL divergence measures how far a distribution $P$ is from $Q$:
#
# $$D_{\mathrm{KL}}(P \,\|\, Q) = \sum_i P_i \,(\log P_i - \log Q_i) \;\ge\; 0.$$
#
# It is not symmetric. In RLHF (week 4) the penalty is $D_{\mathrm{KL}}(\pi_\theta \,\|\,
# \pi_{\mathrm{ref}})$: the expectation is under the *policy* being trained, which punishes it
# for putting mass where the reference puts little.
#
# **Exercise.** Implement `kl_divergence(p_logits, q_logits)`: both are logits over the last
# dimension; return one KL value per row. Work in log space with your `log_softmax` (it is both
# stabler and simpler than taking logs of probabilities).


# %%
def kl_divergence(p_logits: torch.Tensor, q_logits: torch.Tensor) -> torch.Tensor:
    """KL(P || Q) for the categorical distributions P = softmax(p_logits), Q = softmax(q_logits).

    Args:
        p_logits, q_logits: [..., V] logits over the last dimension (same shape).

    Returns:
        [...] the KL divergence of each row (the last dimension is summed out).
    """
    ### BEGIN SOLUTION
    log_p = log_softmax(p_logits, dim=-1)
    log_q = log_softmax(q_logits, dim=-1)
    return (log_p.exp() * (log_p - log_q)).sum(dim=-1)
    ### END SOLUTION


# %%
check("w00_orientation.kl_divergence", kl_divergence)
### BEGIN HIDDEN TESTS
check("w00_orientation.kl_divergence", kl_divergence, hidden=True)
### END HIDDEN TESTS

# %% [markdown]
# KL is asymmetric. Here is a picture: a bimodal $P$ and a unimodal $Q$ that covers one mode.

# %%
xs = torch.linspace(-4, 4, 81)
p_logits = torch.logaddexp(-((xs + 2) ** 2) / 0.5, -((xs - 2) ** 2) / 0.5)
q_logits = -((xs - 2) ** 2) / 0.5
fig, ax = plt.subplots(figsize=(6, 2.5))
ax.plot(xs, torch.softmax(p_logits, -1), label="P (two modes)")
ax.plot(xs, torch.softmax(q_logits, -1), label="Q (one mode)")
ax.set_title(
    f"KL(P||Q) = {kl_divergence(p_logits, q_logits).item():.2f}   KL(Q||P) = {kl_divergence(q_logits, p_logits).item():.2f}"
)
ax.legend()
plt.show()

# %% [markdown]
# $Q$ misses a whole mode of $P$, so $D_{\mathrm{KL}}(P\|Q)$ is large; every place $Q$ puts
# mass, $P$ does too, so $D_{\mathrm{KL}}(Q\|P)$ is only $\log 2$.
#
# ## 4. Log-sigmoid and its identities
#
# Preference losses (Bradley–Terry in week 3, DPO in week 5) are all of the form
# $-\log \sigma(x)$ where $\sigma(x) = 1/(1+e^{-x})$. Useful identities:
#
# - $\log \sigma(x) = -\log(1 + e^{-x}) = -\mathrm{softplus}(-x)$
# - $\log \sigma(-x) = \log \sigma(x) - x$, since $1 - \sigma(x) = \sigma(-x)$
# - $\log \sigma(x) = \min(x, 0) - \log(1 + e^{-|x|})$: the stable form.
#
# `torch.log(torch.sigmoid(x))` returns `-inf` for $x = -200$ (the sigmoid underflows to 0),
# and `-torch.log(1 + torch.exp(-x))` overflows. The last identity does neither: the exponent
# is never positive.
#
# **Exercise.** Implement `log_sigmoid(x)` stably, without `F.logsigmoid`, `F.softplus` or
# `torch.sigmoid`.


# %%
def log_sigmoid(x: torch.Tensor) -> torch.Tensor:
    """Elementwise log σ(x), finite and accurate for every finite x (try x = ±1000).

    Args:
        x: any shape, floating point.

    Returns:
        Same shape as ``x``.
    """
    ### BEGIN SOLUTION
    return torch.clamp(x, max=0) - torch.log1p(torch.exp(-x.abs()))
    ### END SOLUTION


# %%
check("w00_orientation.log_sigmoid", log_sigmoid)
### BEGIN HIDDEN TESTS
check("w00_orientation.log_sigmoid", log_sigmoid, hidden=True)
### END HIDDEN TESTS

# %% [markdown]
# ## 5. Masked means over padded sequences
#
# Batches of text are padded to a common length, and an **attention mask** marks the real
# tokens with 1 and padding with 0. Averages must ignore the padding: the mean over a row is the
# sum over its real tokens divided by **its own** number of real tokens, not by the padded
# length.
#
# **Exercise.** Implement `masked_mean(values, mask, dim=-1)`. The mask may be bool, int or
# float (0/1); every row has at least one real token.


# %%
def masked_mean(values: torch.Tensor, mask: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """Mean of ``values`` over ``dim``, counting only positions where ``mask`` is nonzero.

    Args:
        values: [..., T] floating point.
        mask: same shape as ``values``; 1/True for real tokens, 0/False for padding.
        dim: the dimension to average over.

    Returns:
        ``values`` with ``dim`` reduced away: e.g. [B] for values [B, T] and dim=-1.
    """
    ### BEGIN SOLUTION
    weights = mask.to(values.dtype)
    return (values * weights).sum(dim=dim) / weights.sum(dim=dim)
    ### END SOLUTION


# %%
check("w00_orientation.masked_mean", masked_mean)
### BEGIN HIDDEN TESTS
check("w00_orientation.masked_mean", masked_mean, hidden=True)
### END HIDDEN TESTS

# %% [markdown]
# ## 6. The log-probability of each next token
#
# A causal language model's logits at position $t$ predict the token at position $t+1$. To score
# a sequence $x_0 \dots x_{T-1}$ we need $\log p(x_{t+1} \mid x_{\le t})$ for $t = 0 \dots T-2$:
# take log-softmax of the logits, drop the last position (it predicts a token we do not have),
# drop the first token (nothing predicts it) and pick each target's entry with `gather`.
#
# ```
# tokens     x0   x1   x2   x3
# logits     z0   z1   z2   z3      z_t predicts x_{t+1}
# pairs     (z0,x1) (z1,x2) (z2,x3)  → T-1 log-probabilities
# ```
#
# Week 5's DPO loss is built on exactly this (plus a mask that keeps only the response tokens).
#
# **Exercise.** Implement `token_logprobs(logits, input_ids)`.


# %%
def token_logprobs(logits: torch.Tensor, input_ids: torch.Tensor) -> torch.Tensor:
    """Log-probability the model assigns to each actual next token.

    Args:
        logits: [B, T, V] the model's outputs for ``input_ids``.
        input_ids: [B, T] integer tokens.

    Returns:
        [B, T-1] where entry [b, t] is log p(input_ids[b, t+1] | input_ids[b, :t+1]).
    """
    ### BEGIN SOLUTION
    logprobs = log_softmax(logits[:, :-1], dim=-1)
    return logprobs.gather(-1, input_ids[:, 1:].unsqueeze(-1)).squeeze(-1)
    ### END SOLUTION


# %%
check("w00_orientation.token_logprobs", token_logprobs)
### BEGIN HIDDEN TESTS
check("w00_orientation.token_logprobs", token_logprobs, hidden=True)
### END HIDDEN TESTS

# %% [markdown]
# ## Putting it together
#
# With these pieces, the average next-token loss of a padded batch is a masked mean of negated
# token log-probabilities. Check it against PyTorch's own cross-entropy, the library version:

# %%
gen = set_seed(1)
logits = torch.randn(3, 6, 11, generator=gen)
ids = torch.randint(0, 11, (3, 6), generator=gen)
attention = torch.tensor([[1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 0, 0], [1, 1, 1, 0, 0, 0]])
target_mask = attention[:, 1:]
ours = -(token_logprobs(logits, ids) * target_mask).sum() / target_mask.sum()
targets = ids[:, 1:].masked_fill(target_mask == 0, -100)
library = torch.nn.functional.cross_entropy(logits[:, :-1].reshape(-1, 11), targets.reshape(-1))
print(f"ours {ours.item():.6f}  vs  torch.nn.functional.cross_entropy {library.item():.6f}")
assert torch.allclose(ours, library, atol=1e-6)

# %% [markdown]
# ## What could go wrong in practice
#
# - **Silent padding bugs.** Averaging over padded length gives a loss that depends on how a
#   batch happened to be padded; models still train, just worse and non-reproducibly.
# - **Off-by-one shifts.** Scoring token $t$ with the logits at $t$ (instead of $t-1$) lets the
#   model "see" the answer; the loss drops to near zero and nothing is learned.
# - **Overflow in half precision.** float16 overflows above 65504, so $e^{12}$ is already `inf`;
#   stable formulas matter more, not less, on GPUs.
# - **Reversed KL.** $D_{\mathrm{KL}}(\pi_{\mathrm{ref}}\|\pi_\theta)$ and $D_{\mathrm{KL}}
#   (\pi_\theta\|\pi_{\mathrm{ref}})$ lead to different behaviour (mass-covering vs
#   mode-seeking); papers differ in which they use and why.
#
# ## Interview questions
#
# 1. Why subtract the maximum before exponentiating in softmax? Does it change the result?
# 2. Show that $\log\sigma(x) - \log\sigma(-x) = x$. Where does this show up in DPO?
# 3. KL divergence is not a distance. Which property of a metric does it lack, and why does the
#    direction of KL matter in RLHF?
# 4. A colleague's loss curve is much lower when they use batch size 1. What padding bug could
#    explain it?
# 5. What is the difference between `reduction="mean"` over tokens and averaging per-sequence
#    means? When does it matter?
