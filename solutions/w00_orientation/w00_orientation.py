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
# Welcome. The course plans thirteen weeks in which you build, break and defend the safety
# machinery of a language model: reward models, RLHF, DPO, red teaming, guardrails,
# interpretability, sparse autoencoders and debate. Every technique is implemented **from
# scratch** first, checked by an auto-grader, then compared with the library practitioners use.
# Not every week is released yet: the next cell lists which ones are (the README's syllabus has
# the whole plan).
#
# This week has two jobs:
#
# 1. **How the course works**: running cells, checking an answer, reading the grader's feedback,
#    submitting.
# 2. **The tensor warm-up**: six small functions that every later week relies on. The DPO loss of
#    week 5 is a log-sigmoid of differences of masked sums of gathered log-probabilities; the
#    RLHF penalty of week 4 is a KL divergence. If these are solid, the rest is bookkeeping.
# 3. **Your first training loop** (section 7): a bigram language model fitted by gradient
#    descent with your own cross-entropy, on text whose true statistics we know.
#
# > **Learning objectives**
# > - run an exercise, read the grader's feedback and fix an answer until it passes
# > - compute log-probabilities, cross-entropy and KL divergence stably, in log space
# > - handle padding with masks, and shift logits against tokens without an off-by-one
# > - write a training loop (forward, loss, backward, update, zero the gradients) and judge it
# >   against a known optimum
#
# Each exercise starts with a line like
# **Difficulty** 🔴🔴⚪⚪⚪ · **Importance** 🔵🔵🔵🔵⚪ · **Time** ~10 min: difficulty and
# importance out of five, and about how long it should take. Hints are folded: open the first
# when you are stuck, the last one (pseudocode) only when the first did not help.
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

# %%
from graders.syllabus import SYLLABUS, released_weeks

released = released_weeks()
print(f"{len(released)} of {len(SYLLABUS)} weeks are released:")
for week, title, _ in SYLLABUS:
    print(f"  {'✓' if week in released else '·'} {week:<26} {title}")

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
# ### Exercise 1 — `log_softmax`
#
# > **Difficulty** 🔴⚪⚪⚪⚪ · **Importance** 🔵🔵🔵🔵⚪ · **Time** ~10 min
# >
# > **Must be differentiable:** gradients must flow back to `logits` (the grader checks them).
#
# Implement `log_softmax(logits, dim=-1)` without `torch.log_softmax`, `torch.softmax` or
# `torch.logsumexp` (the grader notices them, even inside a helper function).
#
# <details><summary>Hint 1</summary>
#
# `x.amax(dim=dim, keepdim=True)` keeps the reduced dimension, so the result broadcasts back
# against `x`.
#
# </details>
#
# <details><summary>Hint 2 (pseudocode)</summary>
#
# ```
# shifted = logits − max over dim (keepdim)
# return shifted − log( sum over dim (keepdim) of exp(shifted) )
# ```
#
# </details>


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
# ### Exercise 2 — `cross_entropy`
#
# > **Difficulty** 🔴🔴⚪⚪⚪ · **Importance** 🔵🔵🔵🔵🔵 · **Time** ~15 min
# >
# > **Must be differentiable:** gradients must flow back to `logits` (the grader checks them).
#
# Implement `cross_entropy(logits, targets, ignore_index=-100)` using your `log_softmax` (not
# `torch.nn.functional.cross_entropy` or `nll_loss`).
#
# <details><summary>Hint 1</summary>
#
# `torch.gather` needs a valid index everywhere, so replace ignored targets by 0 before
# gathering and mask them out afterwards.
#
# </details>
#
# <details><summary>Hint 2 (pseudocode)</summary>
#
# ```
# keep = targets != ignore_index                  # [N] bool
# safe = where(keep, targets, 0)
# picked = log_softmax(logits)[n, safe[n]]        # gather along the last dim
# return −(picked · keep).sum() / keep.sum()
# ```
#
# </details>


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
# ### Exercise 3 — `kl_divergence`
#
# > **Difficulty** 🔴🔴⚪⚪⚪ · **Importance** 🔵🔵🔵🔵⚪ · **Time** ~10 min
# >
# > **Must be differentiable:** gradients must flow back to `p_logits`, `q_logits` (the grader checks them).
#
# Implement `kl_divergence(p_logits, q_logits)`: both are logits over the last dimension; return
# one KL value per row. Work in log space with your `log_softmax` (it is both stabler and simpler
# than taking logs of probabilities). Gradients must reach both arguments.
#
# <details><summary>Hint 1</summary>
#
# $P_i = e^{\log P_i}$, so you never need $\log$ of a probability: only log-softmax of logits.
#
# </details>
#
# <details><summary>Hint 2 (pseudocode)</summary>
#
# ```
# log_p, log_q = log_softmax(p_logits), log_softmax(q_logits)
# return sum over the last dim of exp(log_p) · (log_p − log_q)
# ```
#
# </details>


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
# ### Exercise 4 — `log_sigmoid`
#
# > **Difficulty** 🔴🔴⚪⚪⚪ · **Importance** 🔵🔵🔵⚪⚪ · **Time** ~10 min
# >
# > **Must be differentiable:** gradients must flow back to `x` (the grader checks them).
#
# Implement `log_sigmoid(x)` stably, without `F.logsigmoid`, `F.softplus` or `torch.sigmoid`.
#
# <details><summary>Hint 1</summary>
#
# Use the last identity above; `torch.log1p(y)` computes $\log(1 + y)$ accurately for small $y$.
#
# </details>
#
# <details><summary>Hint 2 (pseudocode)</summary>
#
# ```
# return min(x, 0) − log1p(exp(−|x|))        # clamp(x, max=0) is min(x, 0)
# ```
#
# </details>


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
# ### Exercise 5 — `masked_mean`
#
# > **Difficulty** 🔴⚪⚪⚪⚪ · **Importance** 🔵🔵🔵🔵⚪ · **Time** ~5 min
# >
# > **Must be differentiable:** gradients must flow back to `values` (the grader checks them).
#
# Implement `masked_mean(values, mask, dim=-1)`. The mask may be bool, int or float (0/1); every
# row has at least one real token. Do not modify `values` in place (the caller still needs it).
#
# <details><summary>Hint 1</summary>
#
# Convert the mask to the values' dtype first: `mask.to(values.dtype)`.
#
# </details>
#
# <details><summary>Hint 2 (pseudocode)</summary>
#
# ```
# w = mask as floats
# return (values · w).sum(dim) / w.sum(dim)
# ```
#
# </details>


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
# ### Exercise 6 — `token_logprobs`
#
# > **Difficulty** 🔴🔴⚪⚪⚪ · **Importance** 🔵🔵🔵🔵🔵 · **Time** ~15 min
# >
# > **Must be differentiable:** gradients must flow back to `logits` (the grader checks them).
#
# Implement `token_logprobs(logits, input_ids)`.
#
# <details><summary>Hint 1</summary>
#
# Slice first, then gather: `logits[:, :-1]` pairs with `input_ids[:, 1:]`.
#
# </details>
#
# <details><summary>Hint 2 (pseudocode)</summary>
#
# ```
# lp = log_softmax(logits[:, :-1])                      # [B, T-1, V]
# return lp.gather(-1, input_ids[:, 1:, None])[..., 0]  # [B, T-1]
# ```
#
# </details>


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
# ## 7. Your first training loop: a bigram language model
#
# > **Learning objectives**
# > - write the loop every later week uses: forward, loss, backward, update, zero the gradients
# > - judge a trained model against the best loss that is possible on the data
#
# A **bigram** model predicts the next token from the current one alone: its parameters are a
# table $W \in \mathbb{R}^{V \times V}$ whose row $W_a$ holds the logits of the token after $a$.
# We generate text from a Markov chain whose transition matrix we choose, so we know the best
# loss any bigram model can reach: the chain's **entropy rate**
# $H = -\sum_a \mu_a \sum_b P_{ab} \log P_{ab}$ (with $\mu$ the chain's stationary
# distribution). A correct loop drives the training loss towards it.
#
# ### Exercise 7 — `train_bigram` (integration)
#
# > **Difficulty** 🔴🔴🔴⚪⚪ · **Importance** 🔵🔵🔵🔵🔵 · **Time** ~20 min
#
# Implement full-batch gradient descent: $W$ starts at zeros (with `requires_grad=True`, on the
# tokens' device), and each of `steps` steps computes the mean next-token cross-entropy over every
# pair (`tokens[:, t]`, `tokens[:, t+1]`) with your `cross_entropy`, records the loss *before*
# the update, backpropagates, and updates $W \leftarrow W - \text{lr} \cdot \nabla_W$. Return
# the trained table (detached) and the list of losses.
#
# <details><summary>Hint 1</summary>
#
# The logits for every position at once are a lookup: `W[tokens[:, :-1]]` has shape
# [B, T-1, V]. Flatten it to [B·(T-1), V] for `cross_entropy`.
#
# </details>
#
# <details><summary>Hint 2</summary>
#
# PyTorch *adds* new gradients to `W.grad`: without `W.grad.zero_()` (or `W.grad = None`) after
# each update, step 2 uses the sum of two gradients. The update itself must not be recorded by
# autograd: do it inside `with torch.no_grad():`.
#
# </details>
#
# <details><summary>Hint 3 (pseudocode)</summary>
#
# ```
# W = zeros(V, V, requires_grad=True)
# repeat steps times:
#     loss = cross_entropy(W[tokens[:, :-1]].reshape(-1, V), tokens[:, 1:].reshape(-1))
#     losses.append(loss.item())
#     loss.backward()
#     with no_grad: W −= lr · W.grad;  W.grad.zero_()
# return W.detach(), losses
# ```
#
# </details>


# %%
def train_bigram(tokens: torch.Tensor, vocab_size: int, steps: int, lr: float) -> tuple[torch.Tensor, list[float]]:
    """Fit a bigram language model to ``tokens`` by full-batch gradient descent.

    Args:
        tokens: [B, T] integer tokens in [0, vocab_size).
        vocab_size: V.
        steps: number of gradient steps.
        lr: the learning rate.

    Returns:
        (W, losses): W [V, V] the trained logit table (detached), and the ``steps`` training
        losses, each measured before its update.
    """
    ### BEGIN SOLUTION
    W = torch.zeros(vocab_size, vocab_size, device=tokens.device, requires_grad=True)
    inputs, targets = tokens[:, :-1], tokens[:, 1:]
    losses = []
    for _ in range(steps):
        loss = cross_entropy(W[inputs].reshape(-1, vocab_size), targets.reshape(-1))
        losses.append(loss.item())
        loss.backward()
        with torch.no_grad():
            W -= lr * W.grad
            W.grad.zero_()
    return W.detach(), losses
    ### END SOLUTION


# %%
check("w00_orientation.train_bigram", train_bigram)
### BEGIN HIDDEN TESTS
check("w00_orientation.train_bigram", train_bigram, hidden=True)
### END HIDDEN TESTS

# %% [markdown]
# ### The experiment
#
# A chain on $V = 12$ tokens whose rows are random distributions of different sharpness;
# training sets of 4 to 256 sequences of 48 tokens, and 512 fresh sequences held out.
#
# **Predict, then run.** Before you run the next cell, write down: the loss at step 0 (every logit
# is 0: what distribution is that?); whether the *training* loss of the smallest set ends above or
# below the entropy rate; and which set has the best held-out loss.

# %%
from courselib.config import scale
from courselib.progress import progress

V_CHAIN, LENGTH = 12, 48
chain_gen = torch.Generator().manual_seed(0)
transition = torch.softmax(torch.randn(V_CHAIN, V_CHAIN, generator=chain_gen) * 2.5, dim=-1)
stationary = torch.linalg.matrix_power(transition, 200)[0]
entropy_rate = -(stationary[:, None] * transition * transition.log()).sum().item()


def sample_chain(n_sequences: int, gen: torch.Generator) -> torch.Tensor:
    """[n_sequences, LENGTH] tokens from the Markov chain, starting from its stationary distribution."""
    out = torch.empty(n_sequences, LENGTH, dtype=torch.long)
    out[:, 0] = torch.multinomial(stationary, n_sequences, replacement=True, generator=gen)
    for t in range(1, LENGTH):
        out[:, t] = torch.multinomial(transition[out[:, t - 1]], 1, generator=gen)[:, 0]
    return out


def heldout_loss(W: torch.Tensor, tokens: torch.Tensor) -> float:
    return cross_entropy(W[tokens[:, :-1]].reshape(-1, V_CHAIN), tokens[:, 1:].reshape(-1)).item()


def sample_optimum(tokens: torch.Tensor) -> float:
    """The lowest training loss any bigram table can reach on ``tokens``: the counts' own cross-entropy."""
    counts = torch.zeros(V_CHAIN, V_CHAIN).index_put_(
        (tokens[:, :-1].reshape(-1), tokens[:, 1:].reshape(-1)), torch.ones(tokens[:, 1:].numel()), accumulate=True
    )
    probs = counts / counts.sum(-1, keepdim=True).clamp(min=1)
    return -(counts * probs.clamp(min=1e-12).log()).sum().item() / counts.sum().item()


STEPS, LR = scale(300, 30), 20.0
heldout = sample_chain(512, chain_gen)
sizes = [4, 16, 64, 256]
runs = {}
for n in progress(sizes, desc="training sets"):
    train_text = sample_chain(n, chain_gen)
    W_n, losses_n = train_bigram(train_text, V_CHAIN, STEPS, lr=LR)
    runs[n] = (losses_n, heldout_loss(W_n, heldout), sample_optimum(train_text))

losses = runs[64][0]
print(f"entropy rate of the chain: {entropy_rate:.4f} nats (the best any model can do on new text)")
print(f"step-0 loss: {losses[0]:.4f} = log V = {torch.log(torch.tensor(float(V_CHAIN))).item():.4f}")
print(f"{'sequences':>9}  {'optimum on the sample':>21}  {'train loss':>10}  {'held-out loss':>13}")
for n, (losses_n, held, optimum) in runs.items():
    print(f"{n:>9}  {optimum:>21.4f}  {losses_n[-1]:>10.4f}  {held:>13.4f}")
gaps = {n: held - entropy_rate for n, (_, held, _) in runs.items()}
print("held-out loss above the entropy rate: " + ", ".join(f"{n} seqs {gap:+.3f}" for n, gap in gaps.items()))
below = [n for n, (_, _, optimum) in runs.items() if optimum < entropy_rate]
print(f"sets whose own optimum is below the entropy rate: {below}")
assert gaps[sizes[0]] > gaps[sizes[-1]] > 0, "more data should bring the held-out loss towards the entropy rate"

fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.2))
for n, (losses_n, _, _) in runs.items():
    ax1.plot(losses_n, label=f"{n} sequences")
ax1.axhline(entropy_rate, color="k", ls="--", label="entropy rate")
ax1.set(xlabel="step", ylabel="training loss (nats)", title="training curves")
ax1.legend(fontsize=8)
ax2.plot(sizes, [runs[n][0][-1] for n in sizes], "o-", label="train")
ax2.plot(sizes, [runs[n][1] for n in sizes], "s-", label="held out")
ax2.axhline(entropy_rate, color="k", ls="--", label="entropy rate")
ax2.set(xscale="log", xlabel="training sequences", ylabel="loss after training (nats)", title="train vs held out")
ax2.legend(fontsize=8)
fig.tight_layout()
plt.show()

# %% [markdown]
# The loss starts at $\log V$ (all-zero logits are the uniform distribution). The training loss
# tracks each sample's own optimum, which sits on either side of the entropy rate by chance and
# *below* it on average (a table fitted to a sample also fits its accidents; the printed list
# names the sets where that happened). No model beats the entropy rate on new text, so the
# held-out loss is always above it, and it comes down as the training set grows: the gap printed
# above shrinks with data. A loop that forgot to zero its gradients, or recorded the loss after the
# step, would still go down; the grader catches it because its parameters after a few steps differ
# from the reference's.
#
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
# ## ☆ Bonus
#
# - Implement `logsumexp` for a tensor that may contain `-inf` entries (a fully masked row):
#   what should the result be, and does your shift by the maximum survive it?
# - Write `train_bigram` again with `torch.optim.SGD`; check that it gives the same table.
#   Then try `torch.optim.Adam`: how many steps does it need to reach the same loss?
# - The bigram table is a one-layer model. Add an embedding of size 4 ($W = E U$ with
#   $E \in \mathbb{R}^{V\times 4}$): how close to the entropy rate does it get?
#
# ## Interview questions
#
# 1. Why subtract the maximum before exponentiating in softmax? Does it change the result?
# 2. Show that $\log\sigma(x) - \log\sigma(-x) = x$. Where does this show up in DPO?
# 3. KL divergence is not a distance. Which properties of a metric does it lack, and why does
#    the direction of KL matter in RLHF?
# 4. A colleague's loss is noticeably lower with batch size 32 than with batch size 1, on the same
#    data. What padding bug could explain it?
# 5. What is the difference between `reduction="mean"` over tokens and averaging per-sequence
#    means? When does it matter?
# 6. Your training loss goes down but is stuck well above the best loss possible on the data.
#    Name three bugs in a training loop that produce this, and how you would find each.
