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
# # Week 10 — Superposition and sparse autoencoders
#
# Week 9 read "is this request harmful?" off the residual stream with a linear probe. A probe
# answers a question *we* chose. Interpretability for safety needs the opposite direction too:
# list the things a model represents, including the ones nobody thought to probe for (a
# deception feature, a "the user is testing me" feature). The obstacle is **superposition**: a
# model with $d$ dimensions represents many more than $d$ features, as almost-orthogonal
# directions that interfere a little, so individual neurons and basis directions are
# polysemantic. A **sparse autoencoder** (SAE) is the current standard tool for undoing it: it
# rewrites each activation vector as a sparse, non-negative combination of many learned
# directions, hoping each one is a single feature.
#
# This week you will:
#
# 1. train the toy models of superposition of Elhage et al. (2022) and see five features share
#    two dimensions as a pentagon, and more features fit per dimension as they get sparser;
# 2. build an SAE from scratch, with the exact loss SAELens trains (an L1 penalty weighted by
#    decoder norms), the TopK alternative with its auxiliary loss for dead latents, and the
#    metrics practitioners report (L0, explained variance, dead latents, CE-loss recovered,
#    mean max cosine similarity);
# 3. prove it works where the answer is known: a dictionary of ground-truth features, recovered
#    (or not) depending on the L1 coefficient, the dictionary size and the activation function;
# 4. train it on the residual stream of the small world's chat model `tiny-sft`, read its
#    features against the world's gold labels, measure how much of the model's loss the SAE
#    keeps, and steer the model with one feature.
#
# What the small world provides: the chat model `tiny-sft` (4 layers, $d_{\text{model}} = 128$),
# dialogues with gold labels for every prompt (request kind: benign, harmful, jailbreak,
# injection, PII; category: arithmetic and the other tasks, the eight harm categories), and
# `courselib.world.evaluate_model`, which generates answers and scores them with the gold reward.
# Harmful requests and "harmful" answers in this world are abstract placeholder tags, never real
# instructions.

# %%
import math
import time
import warnings

import matplotlib.pyplot as plt
import torch
import torch.nn as nn
from torch.func import vmap

from courselib.config import quick, scale
from courselib.device import get_device, single_thread_on_cpu
from courselib.progress import progress
from courselib.seed import set_seed
from graders import check, load_reference

set_seed(0)
device = get_device()
single_thread_on_cpu(device)  # small matrices: one CPU thread is as fast and copes with busy machines
print(f"PyTorch {torch.__version__}, running on {device}; quick mode: {quick()}")
START = time.perf_counter()

# %% [markdown]
# ## 1. Toy models of superposition
#
# > **Learning objectives**
# > - generate sparse synthetic features and train the ReLU toy model of Elhage et al.
# > - measure how many dimensions each feature gets, and see superposition appear with sparsity
#
# The toy model has $n$ features and a hidden layer of $m < n$ dimensions. An input
# $x \in \mathbb{R}^n$ is compressed to $h = Wx$ with $W \in \mathbb{R}^{m \times n}$ and
# reconstructed with the same matrix, a bias and a ReLU:
#
# $$x' = \mathrm{ReLU}(W^\top W x + b), \qquad \text{in row-vector form: } x' = \mathrm{ReLU}(x\,W^\top W + b).$$
#
# Column $W_i$ is where feature $i$ lives in the hidden space. Each feature is zero with
# probability $S$ (the **sparsity**) and otherwise uniform on $[0, 1]$; feature $i$ matters
# with **importance** $I_i$ in the loss
# $\mathcal{L} = \mathbb{E}_x \sum_i I_i\,(x_i - x'_i)^2$. With dense features the best the
# model can do is PCA: keep the $m$ most important ones, orthogonally. With sparse features two
# features rarely fire together, so it pays to store more than $m$ of them and let the ReLU
# filter out the small interference.
#
# ### Exercise 1 — `sparse_features`
#
# > **Difficulty** 🔴⚪⚪⚪⚪ · **Importance** 🔵🔵🔵⚪⚪ · **Time** ~5 min
#
# Draw a batch of feature vectors: each entry is 0 with probability $1 - p$ and otherwise
# uniform on $[0, 1]$, with $p$ = `feature_probability` $= 1 - S$. So that the grader can
# reproduce your draw, use `generator` for both random draws, magnitudes first: `values =
# torch.rand(batch, n_features, generator=generator)`, then the on/off uniforms the same way;
# a feature is on where its uniform is below $p$.
#
# <details><summary>Hint 1</summary>
#
# `torch.rand(..., generator=generator) < p` is a boolean mask that is True with probability p.
#
# </details>
#
# <details><summary>Hint 2 (pseudocode)</summary>
#
# ```
# values = rand(batch, n, generator)
# on = rand(batch, n, generator) < p
# return values * on
# ```
#
# </details>


# %%
def sparse_features(
    batch: int, n_features: int, feature_probability: float, generator: torch.Generator
) -> torch.Tensor:
    """A [batch, n_features] float32 tensor: each entry U[0, 1] with probability p, else 0.

    Args:
        batch, n_features: the shape.
        feature_probability: p, the probability that a feature is on (1 − sparsity).
        generator: a torch.Generator used for both draws (magnitudes first, then the on/off uniforms).
    """
    ### BEGIN SOLUTION
    values = torch.rand(batch, n_features, generator=generator)
    on = torch.rand(batch, n_features, generator=generator) < feature_probability
    return values * on
    ### END SOLUTION


# %%
check("w10_sparse_autoencoders.sparse_features", sparse_features)
### BEGIN HIDDEN TESTS
check("w10_sparse_autoencoders.sparse_features", sparse_features, hidden=True)
### END HIDDEN TESTS

# %% [markdown]
# ### Exercise 2 — `toy_forward`
#
# > **Difficulty** 🔴⚪⚪⚪⚪ · **Importance** 🔵🔵🔵⚪⚪ · **Time** ~5 min
# >
# > **Must be differentiable:** gradients must flow back to `W`, `b` (the grader checks them).
#
# Implement the toy model's forward pass $\mathrm{ReLU}(x W^\top W + b)$ for a batch of rows.
#
# <details><summary>Hint 1</summary>
#
# `x @ W.T` is the hidden vector h, of shape [batch, m]; `h @ W` brings it back to [batch, n].
#
# </details>
#
# <details><summary>Hint 2 (pseudocode)</summary>
#
# ```
# h = x @ W.T                  # [batch, m]
# return relu(h @ W + b)       # [batch, n]
# ```
#
# </details>


# %%
def toy_forward(W: torch.Tensor, b: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """The ReLU output model of Elhage et al.: ReLU(x Wᵀ W + b).

    Args:
        W: [m, n] float; column i is feature i's direction in the hidden space.
        b: [n] float bias.
        x: [batch, n] features.

    Returns:
        [batch, n] reconstructions.
    """
    ### BEGIN SOLUTION
    hidden = x @ W.T
    return torch.relu(hidden @ W + b)
    ### END SOLUTION


# %%
check("w10_sparse_autoencoders.toy_forward", toy_forward)
### BEGIN HIDDEN TESTS
check("w10_sparse_autoencoders.toy_forward", toy_forward, hidden=True)
### END HIDDEN TESTS

# %% [markdown]
# ### Exercise 3 — `importance_weighted_mse`
#
# > **Difficulty** 🔴⚪⚪⚪⚪ · **Importance** 🔵🔵⚪⚪⚪ · **Time** ~5 min
# >
# > **Must be differentiable:** gradients must flow back to `x_hat` (the grader checks them).
#
# The training loss: for each row, $\sum_i I_i (x_i - x'_i)^2$; then the mean over the batch.
#
# <details><summary>Hint 1</summary>
#
# `importance` has shape [n] and broadcasts against [batch, n].
#
# </details>
#
# <details><summary>Hint 2 (pseudocode)</summary>
#
# ```
# return (importance * (x - x_hat)²).sum over features, then mean over the batch
# ```
#
# </details>


# %%
def importance_weighted_mse(x: torch.Tensor, x_hat: torch.Tensor, importance: torch.Tensor) -> torch.Tensor:
    """Mean over the batch of Σᵢ Iᵢ (xᵢ − x̂ᵢ)².

    Args:
        x, x_hat: [batch, n] features and reconstructions.
        importance: [n] non-negative weights.

    Returns:
        A scalar tensor.
    """
    ### BEGIN SOLUTION
    return (importance * (x - x_hat) ** 2).sum(dim=-1).mean()
    ### END SOLUTION


# %%
check("w10_sparse_autoencoders.importance_weighted_mse", importance_weighted_mse)
### BEGIN HIDDEN TESTS
check("w10_sparse_autoencoders.importance_weighted_mse", importance_weighted_mse, hidden=True)
### END HIDDEN TESTS

# %% [markdown]
# ### Exercise 4 — `feature_dimensionality`
#
# > **Difficulty** 🔴🔴⚪⚪⚪ · **Importance** 🔵🔵🔵⚪⚪ · **Time** ~10 min
#
# How much of a dimension does feature $i$ get? Elhage et al. define its **dimensionality**
#
# $$D_i = \frac{\lVert W_i \rVert^2}{\sum_j (\hat W_i \cdot W_j)^2}, \qquad \hat W_i = W_i / \lVert W_i \rVert,$$
#
# where the sum runs over every feature $j$, $i$ included. A feature with a dimension to itself
# has $D_i = 1$; two features sharing a dimension as an antipodal pair have $D = 1/2$ each; five
# features in a pentagon in two dimensions have $D = 2/5$; a feature that is not represented
# ($W_i = 0$) has $D_i = 0$ (return exactly 0 there, not NaN).
#
# <details><summary>Hint 1</summary>
#
# All the dot products at once: with the unit columns Ŵ ([m, n]), `Ŵ.T @ W` is [n, n] and its
# entry (i, j) is Ŵᵢ · Wⱼ.
#
# </details>
#
# <details><summary>Hint 2 (pseudocode)</summary>
#
# ```
# norms = column norms of W                       # [n]
# unit = W / max(norms, tiny)                     # zero columns stay zero
# interference = ((unit.T @ W) ** 2).sum(-1)      # [n]
# return where(norms > 0, norms² / interference, 0)
# ```
#
# </details>


# %%
def feature_dimensionality(W: torch.Tensor) -> torch.Tensor:
    """Dᵢ = ‖Wᵢ‖² / Σⱼ (Ŵᵢ · Wⱼ)² for every feature (column) of W; 0 for a zero column.

    Args:
        W: [m, n] float; column i is feature i's direction.

    Returns:
        [n] dimensionalities, each in [0, 1].
    """
    ### BEGIN SOLUTION
    norms = W.norm(dim=0)
    unit = W / norms.clamp(min=1e-12)
    interference = ((unit.T @ W) ** 2).sum(dim=-1)
    safe = torch.where(norms > 0, interference, torch.ones_like(interference))
    return torch.where(norms > 0, norms**2 / safe, torch.zeros_like(norms))
    ### END SOLUTION


# %%
check("w10_sparse_autoencoders.feature_dimensionality", feature_dimensionality)
### BEGIN HIDDEN TESTS
check("w10_sparse_autoencoders.feature_dimensionality", feature_dimensionality, hidden=True)
### END HIDDEN TESTS

# %% [markdown]
# ### The experiment: five features in two dimensions
#
# We train one toy model per sparsity level, all at once: `torch.func.vmap` runs your
# `toy_forward` and `importance_weighted_mse` over a stack of weight matrices, and because
# Adam updates every number independently, one Adam over the stacked weights is exactly one
# Adam per model. Importance decays as $I_i = 0.7^i$, so feature 0 matters most.
#
# **Predict, then run.** With dense features ($S = 0$), how many of the five features does the
# model represent, and at which angle? And at $S = 0.97$? Write down a number of features and an
# angle for each.

# %%
TOY_STEPS = scale(1500, 60)


def train_toy_models(n: int, m: int, probabilities: list[float], importance: torch.Tensor, steps: int, seed: int):
    """One toy model per feature probability, trained together (vmap); returns W [I, m, n] and b [I, n]."""
    gen = torch.Generator().manual_seed(seed)
    count = len(probabilities)
    W = (torch.randn(count, m, n, generator=gen) * math.sqrt(2 / (m + n))).to(device).requires_grad_()
    b = torch.zeros(count, n, device=device, requires_grad=True)
    optimizer = torch.optim.Adam([W, b], lr=1e-2)
    imp = importance.to(device)
    loss_of = vmap(lambda W1, b1, x1: importance_weighted_mse(x1, toy_forward(W1, b1, x1), imp))
    for _ in range(steps):
        x = torch.stack([sparse_features(1024, n, p, gen) for p in probabilities]).to(device)
        loss = loss_of(W, b, x).sum()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return W.detach().cpu(), b.detach().cpu()


PENTAGON_SPARSITY = [0.0, 0.7, 0.9, 0.97]
W5, b5 = train_toy_models(5, 2, [1 - s for s in PENTAGON_SPARSITY], 0.7 ** torch.arange(5.0), TOY_STEPS, seed=0)

fig, axes = plt.subplots(1, len(PENTAGON_SPARSITY), figsize=(3 * len(PENTAGON_SPARSITY), 3))
for ax, s, W in zip(axes, PENTAGON_SPARSITY, W5):
    for i in range(5):
        ax.plot([0, W[0, i]], [0, W[1, i]], color=plt.cm.viridis(i / 4), lw=2)
        ax.scatter(W[0, i], W[1, i], color=plt.cm.viridis(i / 4), s=25)
    ax.set(xlim=(-1.5, 1.5), ylim=(-1.5, 1.5), aspect="equal", title=f"S = {s}")
fig.suptitle("columns of W (colour: importance, yellow least)")
fig.tight_layout()
plt.show()


def represented_and_angles(W: torch.Tensor, threshold: float = 0.5) -> tuple[int, list[float]]:
    """How many columns have norm above ``threshold``, and the angles (degrees) between neighbours."""
    keep = W.norm(dim=0) > threshold
    angles = torch.atan2(W[1, keep], W[0, keep]).sort().values
    gaps = torch.diff(torch.cat([angles, angles[:1] + 2 * math.pi])) * 180 / math.pi
    return int(keep.sum()), [round(g, 1) for g in gaps.tolist()]


for s, W in zip(PENTAGON_SPARSITY, W5):
    count, gaps = represented_and_angles(W)
    dims = ", ".join(f"{d:.2f}" for d in feature_dimensionality(W).tolist())
    print(f"S = {s:<5} features with ‖W_i‖ > 0.5: {count}   angles between neighbours: {gaps}   D_i: {dims}")

# %% [markdown]
# Read the printout above. With dense features the model keeps the most important features and
# drops the others (a norm near 0, $D_i = 0$): interference would cost more than the features are
# worth. As $S$ grows, more features get a direction; at the highest sparsity the gaps between
# neighbouring directions approach 72°, the regular pentagon, and every $D_i$ approaches
# $2/5$.
#
# ### Features per dimension against sparsity
#
# Now 20 equally important features in 5 dimensions, across a range of sparsities. We count the
# represented features (those with $\lVert W_i \rVert > 0.5$) per hidden dimension; Elhage et al.
# use the closely related $m / \lVert W \rVert_F^2$ (dimensions per feature), which assumes every
# represented feature has norm 1 (ours grow above 1 at high sparsity, so we count instead).
#
# **Predict, then run.** At $S = 0$, how many features per dimension? At $S = 0.99$, how close to
# the maximum of 4 (all 20 features in 5 dimensions)?

# %%
SWEEP_SPARSITY = [0.0, 0.5, 0.75, 0.9, 0.95, 0.97, 0.98, 0.99]
W20, _ = train_toy_models(20, 5, [1 - s for s in SWEEP_SPARSITY], torch.ones(20), TOY_STEPS, seed=1)
per_dimension = [((W.norm(dim=0) > 0.5).sum() / W.shape[0]).item() for W in W20]  # represented / m
dims20 = [feature_dimensionality(W) for W in W20]

fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.2))
inv = [1 / (1 - s) for s in SWEEP_SPARSITY]
ax1.plot(inv, per_dimension, "o-")
ax1.set(xscale="log", xlabel="1 / (1 − S)", ylabel="represented features / m", title="20 features, 5 dims")
for x_pos, d in zip(inv, dims20):
    ax2.scatter([x_pos] * len(d), d, s=8, alpha=0.6, color="C0")
for level in (1, 1 / 2, 2 / 5, 1 / 3):
    ax2.axhline(level, color="grey", lw=0.5, ls="--")
ax2.set(xscale="log", xlabel="1 / (1 − S)", ylabel="D_i", title="each feature's dimensionality")
fig.tight_layout()
plt.show()
for s, f in zip(SWEEP_SPARSITY, per_dimension):
    print(f"S = {s:<5} features per dimension {f:.2f}")

# %% [markdown]
# Dense features get one dimension each (about 1 feature per dimension: the five most useful
# ones). As they get sparser the model packs in more, and the individual $D_i$ cluster at a few
# values (dashed lines: 1, 1/2, 2/5, 1/3) — the "sticky" geometric configurations of the paper:
# antipodal pairs, pentagons, and so on.
#
# So a network's activations can hold more features than dimensions. Nothing in the basis tells
# you which directions they are. Finding them is the SAE's job.
#
# ## 2. The sparse autoencoder
#
# > **Learning objectives**
# > - implement an SAE's encoder, decoder and the exact training loss SAELens uses
# > - implement TopK as an alternative to the L1 penalty, with its auxiliary loss for dead latents
# > - track dead latents and compute the standard SAE metrics
#
# An SAE maps an activation $x \in \mathbb{R}^{d_{\text{in}}}$ to $d_{\text{sae}} \gg d_{\text{in}}$
# non-negative **latents** and back (SAELens's layout, which we follow exactly:
# $W_{\text{enc}} \in \mathbb{R}^{d_{\text{in}} \times d_{\text{sae}}}$,
# $W_{\text{dec}} \in \mathbb{R}^{d_{\text{sae}} \times d_{\text{in}}}$, row $i$ of $W_{\text{dec}}$
# is latent $i$'s direction):
#
# $$f = \mathrm{ReLU}\big((x - b_{\text{dec}})\,W_{\text{enc}} + b_{\text{enc}}\big), \qquad \hat x = f\,W_{\text{dec}} + b_{\text{dec}}.$$
#
# Subtracting $b_{\text{dec}}$ before encoding centres the input on the point the decoder adds
# back. Training trades reconstruction against sparsity:
#
# $$\mathcal{L} = \frac{1}{B}\sum_{b} \lVert \hat x_b - x_b \rVert_2^2 \;+\; \lambda\,\frac{1}{B}\sum_b \sum_i |f_{b,i}|\,\lVert W_{\text{dec}}[i] \rVert_2 .$$
#
# Why weight $|f_i|$ by the decoder row's norm? Without it the SAE cheats: halve every latent,
# double every decoder row, and the reconstruction is unchanged while the penalty halves. With
# the weighting the penalty is the size of each latent's *contribution* to $\hat x$, which no
# rescaling changes. This is SAELens's `StandardTrainingSAE` loss (`mse_loss` summed over the
# model dimension and averaged over the batch, plus `l1_loss`), and section 7 checks that
# ours equals it on the same weights and batch.
#
# ### Exercise 5 — `sae_encode`
#
# > **Difficulty** 🔴⚪⚪⚪⚪ · **Importance** 🔵🔵🔵🔵🔵 · **Time** ~5 min
# >
# > **Must be differentiable:** gradients must flow back to `x`, `W_enc`, `b_enc`, `b_dec` (the grader checks them).
#
# <details><summary>Hint 1</summary>
#
# Subtract the decoder bias from the input first; the encoder bias is added after the matrix product.
#
# </details>
#
# <details><summary>Hint 2 (pseudocode)</summary>
#
# ```
# return relu((x − b_dec) @ W_enc + b_enc)     # [..., d_sae]
# ```
#
# </details>


# %%
def sae_encode(x: torch.Tensor, W_enc: torch.Tensor, b_enc: torch.Tensor, b_dec: torch.Tensor) -> torch.Tensor:
    """The SAE's latents ReLU((x − b_dec) W_enc + b_enc).

    Args:
        x: [..., d_in] activations.
        W_enc: [d_in, d_sae]; b_enc: [d_sae]; b_dec: [d_in].

    Returns:
        [..., d_sae] non-negative latent activations.
    """
    ### BEGIN SOLUTION
    return torch.relu((x - b_dec) @ W_enc + b_enc)
    ### END SOLUTION


# %%
check("w10_sparse_autoencoders.sae_encode", sae_encode)
### BEGIN HIDDEN TESTS
check("w10_sparse_autoencoders.sae_encode", sae_encode, hidden=True)
### END HIDDEN TESTS

# %% [markdown]
# ### Exercise 6 — `sae_decode`
#
# > **Difficulty** 🔴⚪⚪⚪⚪ · **Importance** 🔵🔵🔵🔵⚪ · **Time** ~3 min
# >
# > **Must be differentiable:** gradients must flow back to `feature_acts`, `W_dec`, `b_dec` (the grader checks them).
#
# <details><summary>Hint 1</summary>
#
# Each latent adds its activation times its decoder row; the decoder bias is added once.
#
# </details>
#
# <details><summary>Hint 2 (pseudocode)</summary>
#
# ```
# return feature_acts @ W_dec + b_dec          # [..., d_in]
# ```
#
# </details>


# %%
def sae_decode(feature_acts: torch.Tensor, W_dec: torch.Tensor, b_dec: torch.Tensor) -> torch.Tensor:
    """The reconstruction f W_dec + b_dec.

    Args:
        feature_acts: [..., d_sae] latents; W_dec: [d_sae, d_in]; b_dec: [d_in].

    Returns:
        [..., d_in] reconstructions.
    """
    ### BEGIN SOLUTION
    return feature_acts @ W_dec + b_dec
    ### END SOLUTION


# %%
check("w10_sparse_autoencoders.sae_decode", sae_decode)
### BEGIN HIDDEN TESTS
check("w10_sparse_autoencoders.sae_decode", sae_decode, hidden=True)
### END HIDDEN TESTS

# %% [markdown]
# ### Exercise 7 — `sae_loss`
#
# > **Difficulty** 🔴🔴⚪⚪⚪ · **Importance** 🔵🔵🔵🔵🔵 · **Time** ~10 min
# >
# > **Must be differentiable:** gradients must flow back to `x_hat`, `feature_acts`, `W_dec` (the grader checks them).
#
# Implement the loss above exactly: squared error **summed** over the model dimension and
# averaged over the batch (not `F.mse_loss`'s mean over everything), plus `l1_coefficient` times
# the batch mean of $\sum_i |f_i|\,\lVert W_{\text{dec}}[i]\rVert_2$. Gradients must reach
# `x_hat`, `feature_acts` and `W_dec` (also through the norms).
#
# <details><summary>Hint 1</summary>
#
# `W_dec.norm(dim=-1)` is the [d_sae] vector of row norms; it broadcasts against [batch, d_sae].
#
# </details>
#
# <details><summary>Hint 2 (pseudocode)</summary>
#
# ```
# mse = ((x_hat − x)²).sum(−1).mean()
# l1 = (|f| · ‖W_dec rows‖).sum(−1).mean()
# return mse + l1_coefficient · l1
# ```
#
# </details>


# %%
def sae_loss(
    x: torch.Tensor, x_hat: torch.Tensor, feature_acts: torch.Tensor, W_dec: torch.Tensor, l1_coefficient: float
) -> torch.Tensor:
    """SAELens's standard SAE training loss.

    Args:
        x, x_hat: [batch, d_in] inputs and reconstructions.
        feature_acts: [batch, d_sae] latents.
        W_dec: [d_sae, d_in] decoder.
        l1_coefficient: λ.

    Returns:
        A scalar: mean_b ‖x̂_b − x_b‖² + λ · mean_b Σᵢ |f_b,i| ‖W_dec[i]‖₂.
    """
    ### BEGIN SOLUTION
    mse = ((x_hat - x) ** 2).sum(dim=-1).mean()
    l1 = (feature_acts.abs() * W_dec.norm(dim=-1)).sum(dim=-1).mean()
    return mse + l1_coefficient * l1
    ### END SOLUTION


# %%
check("w10_sparse_autoencoders.sae_loss", sae_loss)
### BEGIN HIDDEN TESTS
check("w10_sparse_autoencoders.sae_loss", sae_loss, hidden=True)
### END HIDDEN TESTS

# %% [markdown]
# ### Decoder norms: folding them into the encoder
#
# Because the ReLU is positively homogeneous, scaling latent $i$'s encoder column and bias by
# $c > 0$ and its decoder row by $1/c$ changes nothing the SAE computes, and (thanks to the
# weighting) nothing the loss sees. Choosing $c = \lVert W_{\text{dec}}[i] \rVert$ gives unit
# decoder rows, where a latent's activation *is* the length of its contribution: the convention
# for publishing and comparing SAEs (SAELens's `fold_W_dec_norm`).
#
# ### Exercise 8 — `fold_decoder_norm`
#
# > **Difficulty** 🔴🔴⚪⚪⚪ · **Importance** 🔵🔵🔵⚪⚪ · **Time** ~10 min
#
# Return new tensors (do not modify the inputs): $W_{\text{enc}}$ with column $i$ times
# $n_i = \lVert W_{\text{dec}}[i]\rVert$, $b_{\text{enc}}$ times $n$, and $W_{\text{dec}}$ with
# row $i$ divided by $n_i$.
#
# <details><summary>Hint 1</summary>
#
# The norms have shape [d_sae]: they broadcast over W_enc's columns as they are, and over
# W_dec's rows as `norms[:, None]`.
#
# </details>
#
# <details><summary>Hint 2 (pseudocode)</summary>
#
# ```
# n = W_dec.norm(dim=−1)
# return W_enc * n, b_enc * n, W_dec / n[:, None]
# ```
#
# </details>


# %%
def fold_decoder_norm(
    W_enc: torch.Tensor, b_enc: torch.Tensor, W_dec: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """An equivalent SAE whose decoder rows have unit norm.

    Args:
        W_enc: [d_in, d_sae]; b_enc: [d_sae]; W_dec: [d_sae, d_in] with nonzero rows.

    Returns:
        (W_enc · n, b_enc · n, W_dec / n) with n = the [d_sae] decoder row norms, as new tensors.
    """
    ### BEGIN SOLUTION
    norms = W_dec.norm(dim=-1)
    return W_enc * norms, b_enc * norms, W_dec / norms[:, None]
    ### END SOLUTION


# %%
check("w10_sparse_autoencoders.fold_decoder_norm", fold_decoder_norm)
### BEGIN HIDDEN TESTS
check("w10_sparse_autoencoders.fold_decoder_norm", fold_decoder_norm, hidden=True)
### END HIDDEN TESTS

# %% [markdown]
# ### TopK instead of L1
#
# The L1 penalty has a known flaw, **shrinkage**: it pulls every active latent towards 0, so
# reconstructions come out too small. Gao et al. (2024) drop the penalty and enforce sparsity
# directly: keep the $k$ largest pre-activations of each row, ReLU them, zero the rest. $L_0$ is
# then at most $k$ by construction, and there is no coefficient to tune.
#
# ### Exercise 9 — `topk_activation`
#
# > **Difficulty** 🔴🔴⚪⚪⚪ · **Importance** 🔵🔵🔵🔵⚪ · **Time** ~10 min
# >
# > **Must be differentiable:** gradients must flow back to `hidden_pre` (the grader checks them).
#
# As SAELens's `TopK`: select the $k$ largest entries of each row of `hidden_pre` (largest,
# not largest in absolute value), apply ReLU to them, and put them back in place in a tensor of
# zeros. Gradients flow to the selected entries only.
#
# <details><summary>Hint 1</summary>
#
# `hidden_pre.topk(k, dim=-1)` returns `.values` and `.indices`; `torch.zeros_like(...).scatter(-1, indices, values)` puts them back.
#
# </details>
#
# <details><summary>Hint 2 (pseudocode)</summary>
#
# ```
# top = topk(hidden_pre, k, dim=−1)
# return zeros_like(hidden_pre).scatter(−1, top.indices, relu(top.values))
# ```
#
# </details>


# %%
def topk_activation(hidden_pre: torch.Tensor, k: int) -> torch.Tensor:
    """Keep the k largest entries of each row (ReLU'd), zero elsewhere.

    Args:
        hidden_pre: [..., d_sae] pre-activations.
        k: how many to keep per row (1 ≤ k ≤ d_sae).

    Returns:
        [..., d_sae] with at most k nonzero (positive) entries per row.
    """
    ### BEGIN SOLUTION
    top = hidden_pre.topk(k, dim=-1)
    return torch.zeros_like(hidden_pre).scatter(-1, top.indices, torch.relu(top.values))
    ### END SOLUTION


# %%
check("w10_sparse_autoencoders.topk_activation", topk_activation)
### BEGIN HIDDEN TESTS
check("w10_sparse_autoencoders.topk_activation", topk_activation, hidden=True)
### END HIDDEN TESTS

# %% [markdown]
# ### Dead latents
#
# A latent that never fires gets no gradient through the ReLU (or the top-$k$ selection) and
# stays dead forever: wasted capacity. Trainers count, for every latent, the steps since it last
# fired; SAELens calls a latent **dead** when that count exceeds `dead_feature_window`.
#
# ### Exercise 10 — `update_dead_latents`
#
# > **Difficulty** 🔴⚪⚪⚪⚪ · **Importance** 🔵🔵🔵⚪⚪ · **Time** ~5 min
#
# Add one to every counter, reset to 0 the counters of latents that fired (were nonzero) on any
# row of this batch, and return the new counters and the mask `counter > window`. Do not modify
# `steps_since_fired` in place.
#
# <details><summary>Hint 1</summary>
#
# `(feature_acts != 0).any(dim=-2)` is True for every latent that fired somewhere in the batch.
#
# </details>
#
# <details><summary>Hint 2 (pseudocode)</summary>
#
# ```
# fired = any over the batch dimension of (feature_acts ≠ 0)
# new = where(fired, 0, steps_since_fired + 1)
# return new, new > window
# ```
#
# </details>


# %%
def update_dead_latents(
    steps_since_fired: torch.Tensor, feature_acts: torch.Tensor, window: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """One step of dead-latent tracking.

    Args:
        steps_since_fired: [..., d_sae] integer counters.
        feature_acts: [..., batch, d_sae] this step's latents.
        window: a latent is dead when its counter exceeds this.

    Returns:
        (new counters [..., d_sae], same dtype; dead mask [..., d_sae] bool).
    """
    ### BEGIN SOLUTION
    fired = (feature_acts != 0).any(dim=-2)
    new = torch.where(fired, torch.zeros_like(steps_since_fired), steps_since_fired + 1)
    return new, new > window
    ### END SOLUTION


# %%
check("w10_sparse_autoencoders.update_dead_latents", update_dead_latents)
### BEGIN HIDDEN TESTS
check("w10_sparse_autoencoders.update_dead_latents", update_dead_latents, hidden=True)
### END HIDDEN TESTS

# %% [markdown]
# ### Exercise 11 — `topk_aux_loss`
#
# > **Difficulty** 🔴🔴🔴⚪⚪ · **Importance** 🔵🔵🔵⚪⚪ · **Time** ~20 min
# >
# > **Must be differentiable:** gradients must flow back to `hidden_pre`, `W_dec`; `x`, `x_hat` must get *no* gradient (treat as constants) (the grader checks them).
#
# TopK SAEs revive dead latents with an **auxiliary loss** (Gao et al.'s AuxK): the dead latents
# try to reconstruct what the live ones missed. As SAELens computes it:
#
# 1. if no latent is dead, the loss is 0;
# 2. the residual $e = x - \hat x$, **detached** (the aux loss must not move the main reconstruction);
# 3. $k_{\text{aux}} = \min(\lfloor d_{\text{in}} / 2 \rfloor, \#\text{dead})$ and a scale
#    $\min(\#\text{dead} / \lfloor d_{\text{in}}/2 \rfloor, 1)$;
# 4. per row, the $k_{\text{aux}}$ largest **pre-activations among dead latents** (raw values,
#    no ReLU), scattered into zeros, times $W_{\text{dec}}$ (no bias): $\hat e$;
# 5. loss = `aux_coefficient` × scale × mean over rows of $\lVert \hat e - e \rVert^2$.
#
# <details><summary>Hint 1</summary>
#
# `torch.where(dead_mask, hidden_pre, -inf)` hides live latents from `topk`.
#
# </details>
#
# <details><summary>Hint 2 (pseudocode)</summary>
#
# ```
# n_dead = dead_mask.sum();  if n_dead == 0: return 0 (as a tensor)
# residual = (x − x_hat).detach()
# k_aux = d_in // 2;  scale = min(n_dead / k_aux, 1);  k_aux = min(k_aux, n_dead)
# top = topk(where(dead_mask, hidden_pre, −inf), k_aux)
# acts = zeros_like(hidden_pre).scatter(−1, top.indices, top.values)
# return aux_coefficient · scale · ((acts @ W_dec − residual)²).sum(−1).mean()
# ```
#
# </details>


# %%
def topk_aux_loss(
    x: torch.Tensor,
    x_hat: torch.Tensor,
    hidden_pre: torch.Tensor,
    W_dec: torch.Tensor,
    dead_mask: torch.Tensor,
    aux_coefficient: float = 1.0,
) -> torch.Tensor:
    """SAELens's TopK auxiliary loss: dead latents reconstruct the detached residual.

    Args:
        x, x_hat: [batch, d_in]; hidden_pre: [batch, d_sae] pre-activations;
        W_dec: [d_sae, d_in]; dead_mask: [d_sae] bool; aux_coefficient: a float.

    Returns:
        A scalar tensor (0 when nothing is dead).
    """
    ### BEGIN SOLUTION
    n_dead = int(dead_mask.sum())
    if n_dead == 0:
        return x_hat.new_tensor(0.0)
    residual = (x - x_hat).detach()
    k_aux = x.shape[-1] // 2
    scale = min(n_dead / k_aux, 1.0)
    k_aux = min(k_aux, n_dead)
    top = torch.where(dead_mask, hidden_pre, -torch.inf).topk(k_aux, dim=-1)
    acts = torch.zeros_like(hidden_pre).scatter(-1, top.indices, top.values)
    return aux_coefficient * scale * ((acts @ W_dec - residual) ** 2).sum(dim=-1).mean()
    ### END SOLUTION


# %%
check("w10_sparse_autoencoders.topk_aux_loss", topk_aux_loss)
### BEGIN HIDDEN TESTS
check("w10_sparse_autoencoders.topk_aux_loss", topk_aux_loss, hidden=True)
### END HIDDEN TESTS

# %% [markdown]
# ## 3. Measuring an SAE
#
# > **Learning objectives**
# > - compute L0, explained variance and the dead fraction as SAELens logs them
# > - compute CE-loss recovered and the mean max cosine similarity with a known dictionary
#
# - **L0**: the mean number of nonzero latents per row (the sparsity actually achieved).
# - **Explained variance** (SAELens's `metrics/explained_variance`):
#   $1 - \frac{\text{mean}_b \lVert \hat x_b - x_b\rVert^2}{\text{mean}_b \lVert x_b - \bar x \rVert^2}$,
#   with $\bar x$ the batch mean: the fraction of the batch's variance the SAE reconstructs.
# - **Dead fraction** (on a batch): the fraction of latents that are zero on every row.
#
# ### Exercise 12 — `sae_metrics`
#
# > **Difficulty** 🔴🔴⚪⚪⚪ · **Importance** 🔵🔵🔵🔵⚪ · **Time** ~10 min
#
# Return a dict of Python floats with keys `"l0"`, `"explained_variance"`, `"dead_fraction"`.
#
# <details><summary>Hint 1</summary>
#
# Centre x on its batch mean (`x.mean(0)`) for the variance; the ratio is of two *means over rows*, not a mean of ratios.
#
# </details>
#
# <details><summary>Hint 2 (pseudocode)</summary>
#
# ```
# l0 = (f ≠ 0).sum(−1).float().mean()
# ev = 1 − ((x_hat − x)²).sum(−1).mean() / ((x − x.mean(0))²).sum(−1).mean()
# dead = ((f ≠ 0).sum(0) == 0).float().mean()
# ```
#
# </details>


# %%
def sae_metrics(x: torch.Tensor, x_hat: torch.Tensor, feature_acts: torch.Tensor) -> dict[str, float]:
    """L0, explained variance and dead fraction of a batch.

    Args:
        x, x_hat: [batch, d_in]; feature_acts: [batch, d_sae].

    Returns:
        {"l0": float, "explained_variance": float, "dead_fraction": float}
    """
    ### BEGIN SOLUTION
    active = feature_acts != 0
    error = ((x_hat - x) ** 2).sum(dim=-1).mean()
    variance = ((x - x.mean(dim=0)) ** 2).sum(dim=-1).mean()
    return {
        "l0": active.sum(dim=-1).float().mean().item(),
        "explained_variance": (1 - error / variance).item(),
        "dead_fraction": (~active.any(dim=0)).float().mean().item(),
    }
    ### END SOLUTION


# %%
check("w10_sparse_autoencoders.sae_metrics", sae_metrics)
### BEGIN HIDDEN TESTS
check("w10_sparse_autoencoders.sae_metrics", sae_metrics, hidden=True)
### END HIDDEN TESTS

# %% [markdown]
# Explained variance can look excellent while the SAE destroys what the model needs: the
# directions it fails to reconstruct may be small but crucial. The test that matters is
# downstream: splice the reconstruction into the model in place of the real activation and
# measure the language-model loss. **CE-loss recovered** puts it on a scale from 0 (as bad as
# zero-ablating the activation) to 1 (as good as the clean model):
#
# $$\text{recovered} = \frac{\mathrm{CE}_{\text{ablated}} - \mathrm{CE}_{\text{SAE}}}{\mathrm{CE}_{\text{ablated}} - \mathrm{CE}_{\text{clean}}}.$$
#
# ### Exercise 13 — `ce_loss_recovered`
#
# > **Difficulty** 🔴⚪⚪⚪⚪ · **Importance** 🔵🔵🔵⚪⚪ · **Time** ~3 min
#
# Elementwise on tensors (or floats): one score per entry.
#
# <details><summary>Hint 1</summary>
#
# At CE_sae = CE_clean the score must be 1; at CE_sae = CE_ablated it must be 0.
#
# </details>
#
# <details><summary>Hint 2 (pseudocode)</summary>
#
# ```
# return (ce_ablated − ce_sae) / (ce_ablated − ce_clean)
# ```
#
# </details>


# %%
def ce_loss_recovered(ce_clean: torch.Tensor, ce_sae: torch.Tensor, ce_ablated: torch.Tensor) -> torch.Tensor:
    """(CE_ablated − CE_sae) / (CE_ablated − CE_clean), elementwise."""
    ### BEGIN SOLUTION
    return (ce_ablated - ce_sae) / (ce_ablated - ce_clean)
    ### END SOLUTION


# %%
check("w10_sparse_autoencoders.ce_loss_recovered", ce_loss_recovered)
### BEGIN HIDDEN TESTS
check("w10_sparse_autoencoders.ce_loss_recovered", ce_loss_recovered, hidden=True)
### END HIDDEN TESTS

# %% [markdown]
# When the true features are known (they are in the next section), we can score the dictionary
# itself. Sharkey et al. (2022) use the **mean max cosine similarity**: for every true feature,
# the cosine similarity of the learned direction closest to it, averaged over the true features.
# 1 means every true feature has a learned twin.
#
# ### Exercise 14 — `mmcs`
#
# > **Difficulty** 🔴🔴⚪⚪⚪ · **Importance** 🔵🔵🔵🔵⚪ · **Time** ~10 min
#
# <details><summary>Hint 1</summary>
#
# Normalise the rows of both matrices; `truth_unit @ learned_unit.T` is then the [n_true, n_learned] table of cosines.
#
# </details>
#
# <details><summary>Hint 2 (pseudocode)</summary>
#
# ```
# cos = unit_rows(truth) @ unit_rows(learned).T     # [n_true, n_learned]
# return cos.max over learned (dim −1), then mean over truth
# ```
#
# </details>


# %%
def mmcs(learned: torch.Tensor, truth: torch.Tensor) -> torch.Tensor:
    """Mean max cosine similarity of a learned dictionary against the true one.

    Args:
        learned: [n_learned, d] directions (rows, nonzero); truth: [n_true, d] (rows, nonzero).

    Returns:
        A scalar: mean over truth rows of the largest cosine similarity with any learned row.
    """
    ### BEGIN SOLUTION
    learned_unit = learned / learned.norm(dim=-1, keepdim=True)
    truth_unit = truth / truth.norm(dim=-1, keepdim=True)
    return (truth_unit @ learned_unit.T).max(dim=-1).values.mean()
    ### END SOLUTION


# %%
check("w10_sparse_autoencoders.mmcs", mmcs)
### BEGIN HIDDEN TESTS
check("w10_sparse_autoencoders.mmcs", mmcs, hidden=True)
### END HIDDEN TESTS

# %% [markdown]
# ## 4. The training step
#
# > **Learning objectives**
# > - write the SAE training step every experiment below runs, as SAELens's trainer does it
#
# The SAE is a module with four parameters named as in SAELens (`W_enc`, `b_enc`, `W_dec`,
# `b_dec`). One step: zero the gradients, encode, decode, the loss, backward, **clip the
# gradient norm at 1** (SAELens's trainer always does), optimizer step.
#
# ### Exercise 15 — `sae_train_step` (integration)
#
# > **Difficulty** 🔴🔴⚪⚪⚪ · **Importance** 🔵🔵🔵🔵🔵 · **Time** ~15 min
#
# Use your `sae_encode`, `sae_decode` and `sae_loss`. Return a dict of Python floats: `"loss"`,
# `"mse_loss"` (the reconstruction term) and `"l1_loss"` (the penalty term, λ included), as
# SAELens logs them, and `"l0"`, all measured before the update.
#
# <details><summary>Hint 1</summary>
#
# `sae_loss(x, x_hat, f, W_dec, 0.0)` is the reconstruction term alone.
#
# </details>
#
# <details><summary>Hint 2 (pseudocode)</summary>
#
# ```
# optimizer.zero_grad()
# f = sae_encode(x, ...);  x_hat = sae_decode(f, ...)
# loss = sae_loss(x, x_hat, f, W_dec, λ);  mse = the same with λ = 0
# loss.backward();  clip_grad_norm_(sae.parameters(), 1.0);  optimizer.step()
# return {"loss": loss, "mse_loss": mse, "l1_loss": loss − mse, "l0": mean count of f ≠ 0}  (as floats)
# ```
#
# </details>


# %%
def sae_train_step(sae: nn.Module, optimizer: torch.optim.Optimizer, x: torch.Tensor, l1_coefficient: float) -> dict:
    """One training step of a standard (L1) SAE.

    Args:
        sae: a module with parameters W_enc [d_in, d_sae], b_enc [d_sae], W_dec [d_sae, d_in], b_dec [d_in].
        optimizer: over sae's parameters.
        x: [batch, d_in] activations.
        l1_coefficient: λ.

    Returns:
        {"loss", "mse_loss", "l1_loss", "l0"}: floats measured before the update.
    """
    ### BEGIN SOLUTION
    optimizer.zero_grad()
    f = sae_encode(x, sae.W_enc, sae.b_enc, sae.b_dec)
    x_hat = sae_decode(f, sae.W_dec, sae.b_dec)
    loss = sae_loss(x, x_hat, f, sae.W_dec, l1_coefficient)
    mse = ((x_hat - x) ** 2).sum(dim=-1).mean()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(sae.parameters(), 1.0)
    optimizer.step()
    return {
        "loss": loss.item(),
        "mse_loss": mse.item(),
        "l1_loss": (loss - mse).item(),
        "l0": (f != 0).sum(dim=-1).float().mean().item(),
    }
    ### END SOLUTION


# %%
check("w10_sparse_autoencoders.sae_train_step", sae_train_step)
### BEGIN HIDDEN TESTS
check("w10_sparse_autoencoders.sae_train_step", sae_train_step, hidden=True)
### END HIDDEN TESTS

# %% [markdown]
# ## 5. Ground truth: does the SAE find the features?
#
# > **Learning objectives**
# > - show that an SAE recovers a known dictionary, and for which L1 coefficients
# > - compare dictionary sizes, and L1 against TopK, on the same data
#
# The setup of Sharkey et al. (2022): 64 true features, unit vectors in $d = 32$ dimensions
# (twice as many features as dimensions: superposition), each active with probability
# $p = 0.04$ with a magnitude $U[0, 1]$ (your `sparse_features`); an activation is
# $x = c\,F$ for the sparse code $c$ and the true dictionary $F$. The SAE sees only $x$.
#
# `SparseAutoencoder` holds the four parameters, initialised as SAELens does (decoder rows
# random with norm 0.1, encoder = decoder transposed, biases 0). To run a sweep in one go,
# `train_saes` stacks several SAEs along a leading dimension and maps your `sae_encode`,
# `sae_decode` and `sae_loss` over it with `vmap`. Adam treats every number independently, so
# one Adam on the stack is the same as one Adam per SAE; the gradient-norm clipping of
# `sae_train_step` is applied per SAE. It is your training step, vectorised.
#
# **Predict, then run.** Sketch MMCS against the L1 coefficient from 0 to 1: where is it best,
# and why does it fall at both ends? And how will L0 compare with the true L0 ($64 \times 0.04 = 2.56$)?


# %%
class SparseAutoencoder(nn.Module):
    """An SAE with SAELens's parameter names and layout, initialised as SAELens's trainer does."""

    def __init__(self, d_in: int, d_sae: int, generator: torch.Generator, decoder_init_norm: float = 0.1):
        super().__init__()
        W_dec = torch.randn(d_sae, d_in, generator=generator)
        W_dec = decoder_init_norm * W_dec / W_dec.norm(dim=-1, keepdim=True)
        self.W_enc = nn.Parameter(W_dec.T.clone().contiguous())
        self.b_enc = nn.Parameter(torch.zeros(d_sae))
        self.W_dec = nn.Parameter(W_dec)
        self.b_dec = nn.Parameter(torch.zeros(d_in))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return sae_decode(sae_encode(x, self.W_enc, self.b_enc, self.b_dec), self.W_dec, self.b_dec)


PARAMS = ("W_enc", "b_enc", "W_dec", "b_dec")


def stacked_saes(count: int, d_in: int, d_sae: int, seed: int) -> dict[str, torch.Tensor]:
    """``count`` freshly initialised SAEs, their parameters stacked along dimension 0, on ``device``."""
    gen = torch.Generator().manual_seed(seed)
    saes = [SparseAutoencoder(d_in, d_sae, gen) for _ in range(count)]
    return {p: torch.stack([getattr(s, p).detach() for s in saes]).to(device).requires_grad_() for p in PARAMS}


def _forward_one(params: dict, x: torch.Tensor, l1: torch.Tensor, k: int | None):
    hidden_pre = (x - params["b_dec"]) @ params["W_enc"] + params["b_enc"]
    f = (
        sae_encode(x, params["W_enc"], params["b_enc"], params["b_dec"])
        if k is None
        else topk_activation(hidden_pre, k)
    )
    x_hat = sae_decode(f, params["W_dec"], params["b_dec"])
    return sae_loss(x, x_hat, f, params["W_dec"], l1), f, x_hat, hidden_pre


def train_saes(
    data: torch.Tensor,
    d_sae: int,
    l1_coefficients: list[float],
    steps: int,
    k: int | None = None,
    lr: float = 1e-2,
    batch: int = 256,
    seed: int = 0,
    dead_window: int = 100,
    desc: str = "SAEs",
) -> dict[str, torch.Tensor]:
    """Train one SAE per entry of ``l1_coefficients`` (TopK with AuxK when ``k`` is set) on rows of ``data``."""
    count, d_in = len(l1_coefficients), data.shape[-1]
    params = stacked_saes(count, d_in, d_sae, seed)
    optimizer = torch.optim.Adam(params.values(), lr=lr)
    l1 = torch.tensor(l1_coefficients, device=device)
    forward = vmap(lambda p, x, c: _forward_one(p, x, c, k), in_dims=(0, None, 0))
    since_fired = torch.zeros(count, d_sae, dtype=torch.long, device=device)
    dead = torch.zeros(count, d_sae, dtype=torch.bool, device=device)
    gen = torch.Generator().manual_seed(seed + 1)
    for _ in progress(range(steps), desc=desc, leave=False):
        x = data[torch.randint(0, len(data), (batch,), generator=gen)].to(device)
        loss, f, x_hat, hidden_pre = forward(params, x, l1)
        total = loss.sum()
        if k is not None:  # AuxK: the dead latents of each SAE reconstruct its residual
            for i in range(count):
                total = total + topk_aux_loss(x, x_hat[i], hidden_pre[i], params["W_dec"][i], dead[i])
        optimizer.zero_grad()
        total.backward()
        with torch.no_grad():  # clip each SAE's gradient norm at 1, as sae_train_step does
            norm = torch.sqrt(sum(params[p].grad.flatten(1).pow(2).sum(-1) for p in PARAMS))
            factor = (1.0 / (norm + 1e-6)).clamp(max=1.0)
            for p in PARAMS:
                params[p].grad.mul_(factor.view(-1, *[1] * (params[p].dim() - 1)))
        optimizer.step()
        since_fired, dead = update_dead_latents(since_fired, f.detach(), dead_window)
    return {p: t.detach() for p, t in params.items()}


def evaluate_saes(
    params: dict, data: torch.Tensor, k: int | None = None, truth: torch.Tensor | None = None
) -> list[dict]:
    """sae_metrics (and MMCS of the decoder rows against ``truth``) for each stacked SAE."""
    x = data.to(device)
    out = []
    with torch.no_grad():
        for i in range(params["W_dec"].shape[0]):
            one = {p: t[i] for p, t in params.items()}
            _, f, x_hat, _ = _forward_one(one, x, torch.tensor(0.0), k)
            metrics = sae_metrics(x, x_hat, f)
            if truth is not None:
                metrics["mmcs"] = mmcs(one["W_dec"].cpu(), truth).item()
            out.append(metrics)
    return out


def mean_interval(values: list[float]) -> tuple[float, float]:
    """Mean and the half-width of a 95% t-interval (seeds are few)."""
    t = torch.tensor(values, dtype=torch.float64)
    if len(t) < 2:
        return t.mean().item(), float("nan")
    t975 = {2: 12.71, 3: 4.30, 4: 3.18, 5: 2.78}.get(len(t), 1.96)
    return t.mean().item(), t975 * t.std().item() / math.sqrt(len(t))


D_TRUE, N_TRUE, P_TRUE = 32, 64, 0.04
truth_gen = torch.Generator().manual_seed(10)
TRUTH = torch.randn(N_TRUE, D_TRUE, generator=truth_gen)
TRUTH = TRUTH / TRUTH.norm(dim=-1, keepdim=True)
codes = sparse_features(scale(32768, 4096), N_TRUE, P_TRUE, truth_gen)
toy_data = codes @ TRUTH
held_codes = sparse_features(4096, N_TRUE, P_TRUE, truth_gen)
held_data = held_codes @ TRUTH
true_l0 = (held_codes != 0).sum(-1).float().mean().item()
print(f"{N_TRUE} true features in {D_TRUE} dimensions, p = {P_TRUE}: true L0 on held-out rows = {true_l0:.2f}")

GT_STEPS, SEEDS = scale(500, 30), [0, 1, 2]
L1_SWEEP = [0.0, 0.01, 0.03, 0.1, 0.3, 1.0]
sweep = {}
params = train_saes(toy_data, 128, [c for c in L1_SWEEP for _ in SEEDS], GT_STEPS, desc="L1 sweep")  # 3 SAEs per λ
for i, metrics in enumerate(evaluate_saes(params, held_data, truth=TRUTH)):
    sweep.setdefault(L1_SWEEP[i // len(SEEDS)], []).append(metrics)

print(f"d_sae = 128, {GT_STEPS} steps, {len(SEEDS)} SAEs (initial seeds) per λ (mean ± 95% interval):")
print(f"{'L1':>6} {'MMCS':>15} {'L0':>14} {'expl. var.':>11} {'dead':>6}")
for l1_c, runs in sweep.items():
    m, h = mean_interval([r["mmcs"] for r in runs])
    l0, l0h = mean_interval([r["l0"] for r in runs])
    ev = sum(r["explained_variance"] for r in runs) / len(runs)
    dead = sum(r["dead_fraction"] for r in runs) / len(runs)
    print(f"{l1_c:>6} {m:>8.3f} ± {h:.3f} {l0:>7.1f} ± {l0h:.1f} {ev:>11.3f} {dead:>6.2f}")
band = [c for c, runs in sweep.items() if min(r["mmcs"] for r in runs) >= 0.95]
print(f"L1 coefficients where every seed reaches MMCS ≥ 0.95: {band}")

# %% [markdown]
# The band printed above is where the SAE recovers the dictionary. Without a penalty (L1 = 0) the
# SAE has no reason to be sparse: any 128 directions spanning the space reconstruct perfectly, so
# the decoder rows are not the features (low MMCS, L0 near $d_{\text{sae}}$). Too much penalty and
# it stops reconstructing: latents die, L0 falls below the true L0, and true features go missing.
# In between, sparsity and reconstruction agree only on the true features.
#
# ### Dictionary size, and TopK
#
# **Predict, then run.** With fewer latents than true features (32 < 64), what is the best MMCS
# possible? And will TopK with $k$ near the true L0 match the best L1 run without any tuning of λ?

# %%
BEST_L1 = 0.3
sizes = [32, 64, 128, 256]
by_size = {}
for d_sae in sizes:
    params = train_saes(toy_data, d_sae, [BEST_L1] * len(SEEDS), GT_STEPS, seed=100 + d_sae, desc=f"d_sae {d_sae}")
    by_size[d_sae] = evaluate_saes(params, held_data, truth=TRUTH)
TOPK = [2, 3, 4, 6]
by_k = {}
for k in TOPK:
    params = train_saes(toy_data, 128, [0.0] * len(SEEDS), GT_STEPS, k=k, seed=200 + k, desc=f"TopK k={k}")
    by_k[k] = evaluate_saes(params, held_data, k=k, truth=TRUTH)

fig, axes = plt.subplots(1, 3, figsize=(13, 3.2))
xs = list(sweep)
ys = [mean_interval([r["mmcs"] for r in sweep[c]]) for c in xs]
axes[0].errorbar([max(c, 3e-3) for c in xs], [y for y, _ in ys], yerr=[h for _, h in ys], fmt="o-")
axes[0].set(xscale="log", xlabel="L1 coefficient (0 drawn at 0.003)", ylabel="MMCS", title="recovery vs L1 (d_sae 128)")
axes[0].axhline(0.95, color="grey", ls="--")
ys = [mean_interval([r["mmcs"] for r in by_size[s]]) for s in sizes]
axes[1].errorbar(sizes, [y for y, _ in ys], yerr=[h for _, h in ys], fmt="o-")
axes[1].set(xscale="log", xlabel="d_sae", ylabel="MMCS", title=f"recovery vs dictionary size (L1 {BEST_L1})")
axes[1].axvline(N_TRUE, color="grey", ls=":")
for name, runs in [("L1", sweep), ("TopK", by_k)]:
    pts = [(sum(r["l0"] for r in rs) / len(rs), sum(r["mmcs"] for r in rs) / len(rs)) for rs in runs.values()]
    axes[2].plot(*zip(*sorted(pts)), "o-", label=name)
axes[2].axvline(true_l0, color="grey", ls=":", label="true L0")
axes[2].set(xscale="log", xlabel="L0", ylabel="MMCS", title="L1 vs TopK: recovery against sparsity")
axes[2].legend()
fig.tight_layout()
plt.show()

print(f"{'d_sae':>6} {'MMCS':>15} {'L0':>6} {'dead':>6}")
for d_sae, runs in by_size.items():
    m, h = mean_interval([r["mmcs"] for r in runs])
    print(f"{d_sae:>6} {m:>8.3f} ± {h:.3f} {sum(r['l0'] for r in runs) / len(runs):>6.1f} "
          f"{sum(r['dead_fraction'] for r in runs) / len(runs):>6.2f}")  # fmt: skip
print(f"{'TopK k':>6} {'MMCS':>15} {'L0':>6} {'expl. var.':>11} {'dead':>6}")
for k, runs in by_k.items():
    m, h = mean_interval([r["mmcs"] for r in runs])
    print(f"{k:>6} {m:>8.3f} ± {h:.3f} {sum(r['l0'] for r in runs) / len(runs):>6.1f} "
          f"{sum(r['explained_variance'] for r in runs) / len(runs):>11.3f} {sum(r['dead_fraction'] for r in runs) / len(runs):>6.2f}")  # fmt: skip
best_l1_ev = sum(r["explained_variance"] for r in sweep[BEST_L1]) / len(SEEDS)
print(f"explained variance of the L1 = {BEST_L1} runs: {best_l1_ev:.3f}")

# %% [markdown]
# With fewer latents than true features, an SAE cannot give each feature its own latent, and
# MMCS stays well below 1 however it is tuned; at and above 64 latents recovery is near
# perfect (extra latents duplicate features or die: the dead column). TopK reaches the same
# recovery with no coefficient to sweep, once $k$ is near the true L0, and its explained variance
# is higher than the L1 runs' at similar L0: no shrinkage.
#
# Real models give no ground truth, which is why this section matters: the same code, the same
# metrics, and a known answer to check them against.

# %% [markdown]
# ## 6. The small world's model: features of `tiny-sft`
#
# > **Learning objectives**
# > - read a transformer's residual stream with TransformerLens hooks and train an SAE on it
# > - measure an SAE by CE-loss recovered, and label its latents with ground-truth labels (AUROC)
# > - steer the model with one latent's decoder direction and measure what changes
#
# We read the residual stream after block 2 of `tiny-sft` (`blocks.2.hook_resid_post`, of width
# 128) through TransformerLens 4's `TransformerBridge`, on training dialogues, and train a TopK
# SAE on it with the stacked trainer of section 5 (TopK needs no λ sweep: $k$ sets L0). As SAELens
# does with `normalize_activations="expected_average_only_in"`, activations are scaled by one
# constant so that their mean norm is $\sqrt{d_{\text{in}}}$; the scale is undone when the
# reconstruction goes back into the model.
#
# **Predict, then run.** With $k = 16$ of 512 latents, what fraction of the residual stream's
# variance will the SAE explain, and what fraction of the CE loss (against zero-ablating the
# residual stream) will it recover?

# %%
from transformer_lens.model_bridge import TransformerBridge

from courselib.models import load_model, load_tokenizer, model_dir
from courselib.world import evaluate_model, format_dialogue, format_prompt, load_split, unique_prompts

LAYER = 2
HOOK = f"blocks.{LAYER}.hook_resid_post"
tokenizer = load_tokenizer("tiny-sft")
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    bridge = TransformerBridge.boot_transformers(str(model_dir("tiny-sft")), device=str(device), tokenizer=tokenizer)


def encode_texts(texts: list[str], batch_size: int = 64):
    """Batches of (input_ids, attention_mask), texts sorted by length so that padding stays small."""
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    for start in range(0, len(order), batch_size):
        idx = order[start : start + batch_size]
        enc = tokenizer([texts[i] for i in idx], return_tensors="pt", padding=True)
        yield idx, enc["input_ids"].to(device), enc["attention_mask"].to(device)


def residual_stream(texts: list[str]) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Activations at HOOK: all real tokens stacked [N, 128], and one [T_i, 128] tensor per text."""
    per_text: list[torch.Tensor] = [torch.empty(0)] * len(texts)
    with torch.no_grad():
        for idx, ids, mask in encode_texts(texts):
            _, cache = bridge.run_with_cache(ids, attention_mask=mask, names_filter=lambda name: name == HOOK)
            for row, i in enumerate(idx):
                per_text[i] = cache[HOOK][row, mask[row].bool()].cpu()
    return torch.cat(per_text), per_text


train_records = unique_prompts(load_split("train"))[: scale(1200, 96)]
lm_tokens, _ = residual_stream([format_dialogue(r["prompt"], r["response"]) for r in train_records])
ACT_SCALE = math.sqrt(lm_tokens.shape[-1]) / lm_tokens.norm(dim=-1).mean().item()
lm_data = lm_tokens * ACT_SCALE
print(f"{len(train_records)} training dialogues → {len(lm_tokens)} token activations of width {lm_tokens.shape[-1]}; "
      f"scale factor {ACT_SCALE:.4f}")  # fmt: skip

LM_K, LM_D_SAE, LM_STEPS = 16, 512, scale(1500, 40)
lm_params = train_saes(
    lm_data, LM_D_SAE, [0.0], LM_STEPS, k=LM_K, lr=2e-3, batch=256, seed=7, dead_window=200, desc="tiny-sft SAE"
)
lm_sae = {p: t[0] for p, t in lm_params.items()}


def sae_latents(x: torch.Tensor) -> torch.Tensor:
    """The TopK SAE's latents of raw (unscaled) activations x [..., 128]."""
    hidden_pre = (x * ACT_SCALE - lm_sae["b_dec"]) @ lm_sae["W_enc"] + lm_sae["b_enc"]
    return topk_activation(hidden_pre, LM_K)


def sae_reconstruct(x: torch.Tensor) -> torch.Tensor:
    return sae_decode(sae_latents(x), lm_sae["W_dec"], lm_sae["b_dec"]) / ACT_SCALE


val_records = unique_prompts(load_split("val"))[: scale(300, 40)]
val_texts = [format_dialogue(r["prompt"], r["response"]) for r in val_records]
val_tokens, _ = residual_stream(val_texts)
with torch.no_grad():
    val_x = val_tokens.to(device)
    lm_metrics = sae_metrics(val_x, sae_reconstruct(val_x), sae_latents(val_x))


def next_token_ce(hook_fn=None) -> float:
    """Mean next-token cross-entropy over the real tokens of the validation dialogues."""
    total, count = 0.0, 0
    with torch.no_grad():
        for _, ids, mask in encode_texts(val_texts):
            hooks = [(HOOK, hook_fn)] if hook_fn is not None else []
            logits = bridge.run_with_hooks(ids, attention_mask=mask, fwd_hooks=hooks)
            lp = torch.log_softmax(logits[:, :-1].float(), dim=-1).gather(-1, ids[:, 1:, None])[..., 0]
            keep = mask[:, 1:].bool()
            total += -lp[keep].sum().item()
            count += int(keep.sum())
    return total / count


ce_clean = next_token_ce()
ce_sae = next_token_ce(lambda resid, hook: sae_reconstruct(resid))
ce_zero = next_token_ce(lambda resid, hook: torch.zeros_like(resid))
recovered = ce_loss_recovered(torch.tensor(ce_clean), torch.tensor(ce_sae), torch.tensor(ce_zero)).item()
print(
    f"held-out ({len(val_records)} val dialogues, {len(val_tokens)} tokens): L0 {lm_metrics['l0']:.1f}, "
    f"explained variance {lm_metrics['explained_variance']:.3f}, dead fraction {lm_metrics['dead_fraction']:.3f}"
)
print(f"CE clean {ce_clean:.4f}, with the SAE spliced in {ce_sae:.4f}, zero-ablated {ce_zero:.4f} nats/token "
      f"→ CE-loss recovered {recovered:.3f}")  # fmt: skip

# %% [markdown]
# ### Labelling latents with the world's gold labels
#
# Every prompt in the small world carries its labels. For four of them we ask: is there a latent
# that fires on exactly those prompts? A prompt's score for a latent is its largest activation
# over the prompt's tokens (`User: … Assistant:`, before any answer). We **pick** the best latent
# for each label by AUROC on training prompts, then **measure** its AUROC on validation prompts it
# was not chosen on (with a bootstrap 95% interval over prompts): a selected latent's training
# AUROC is optimistic by construction.

# %%
from sklearn.metrics import roc_auc_score

LABELS = {
    "harmful request (harmful or jailbreak)": lambda r: r["request_kind"] in ("harmful", "jailbreak"),
    "prompt injection": lambda r: r["request_kind"] == "injection",
    "PII request": lambda r: r["request_kind"] == "pii",
    "arithmetic task": lambda r: r["category"] == "arithmetic",
}


def prompt_scores(records: list[dict]) -> torch.Tensor:
    """[n_prompts, d_sae]: each latent's maximum activation over each prompt's tokens."""
    _, per_prompt = residual_stream([format_prompt(r["prompt"]) for r in records])
    with torch.no_grad():
        return torch.stack([sae_latents(a.to(device)).amax(dim=0).cpu() for a in per_prompt])


def auroc_per_latent(scores: torch.Tensor, labels: list[bool]) -> torch.Tensor:
    """AUROC of every latent's score for a binary label (0.5 for latents that never fire)."""
    y = torch.tensor(labels)
    out = torch.full((scores.shape[1],), 0.5)
    for j in torch.nonzero(scores.amax(dim=0) > 0)[:, 0].tolist():
        out[j] = roc_auc_score(y.numpy(), scores[:, j].numpy())
    return out


label_train = unique_prompts(load_split("train"))[-scale(800, 120) :]
scores_train, scores_val = prompt_scores(label_train), prompt_scores(val_records)
boot = torch.Generator().manual_seed(0)
chosen_latents = {}
print(f"{'label':<40} {'latent':>6} {'train AUROC':>11} {'held-out AUROC (95% bootstrap)':>32}")
for name, rule in LABELS.items():
    y_train, y_val = [rule(r) for r in label_train], [rule(r) for r in val_records]
    best = int(auroc_per_latent(scores_train, y_train).argmax())
    chosen_latents[name] = best
    train_auc = roc_auc_score(y_train, scores_train[:, best].numpy())
    s, y = scores_val[:, best].numpy(), torch.tensor(y_val).numpy()
    val_auc = roc_auc_score(y, s)
    resampled = []
    for _ in range(200):
        i = torch.randint(0, len(y), (len(y),), generator=boot).numpy()
        if 0 < y[i].sum() < len(i):
            resampled.append(roc_auc_score(y[i], s[i]))
    lo, hi = (
        torch.tensor(resampled, dtype=torch.float64)
        .quantile(torch.tensor([0.025, 0.975], dtype=torch.float64))
        .tolist()
    )
    print(f"{name:<40} {best:>6} {train_auc:>11.3f} {val_auc:>14.3f} [{lo:.3f}, {hi:.3f}]")

# %% [markdown]
# Latents picked this way are candidates, not proven features: the held-out AUROC says how well
# one direction of the SAE separates a label the model was never told about. The next step is
# causal: does pushing the residual stream along that latent's decoder direction change what the
# model *does*?
#
# ### Steering with one latent
#
# We add $\alpha \cdot \hat d$ to the residual stream after block 2 at every position, where
# $\hat d$ is the unit decoder direction of the "harmful request" latent and $\alpha$ a multiple of
# the typical residual norm, and let the model answer **benign** held-out prompts (test split)
# greedily. If the latent carries "this request should be refused", the model should start
# refusing harmless requests; the cost is task accuracy.
#
# **Predict, then run.** At $\alpha$ equal to half the mean residual norm, what refusal rate on
# benign prompts do you expect (the unsteered model refuses almost none)?

# %%
w11 = load_reference("w11_debate")  # week 11's wilson_interval, not copied
hf_model = load_model("tiny-sft", device=device)
harm_latent = chosen_latents["harmful request (harmful or jailbreak)"]
direction = lm_sae["W_dec"][harm_latent] / lm_sae["W_dec"][harm_latent].norm()
resid_norm = lm_tokens.norm(dim=-1).mean().item()
benign_test = [r for r in unique_prompts(load_split("test")) if r["request_kind"] == "benign"][: scale(135, 16)]


def steered_eval(alpha: float) -> dict:
    """evaluate_model on the benign test prompts with α·direction added after block LAYER."""

    def add(module, inputs, output):
        hidden = output[0] if isinstance(output, tuple) else output
        hidden = hidden + alpha * direction.to(hidden.dtype)
        return (hidden, *output[1:]) if isinstance(output, tuple) else hidden

    handle = hf_model.transformer.h[LAYER].register_forward_hook(add)
    try:
        return evaluate_model(hf_model, tokenizer, benign_test, device=device, max_new_tokens=24)
    finally:
        handle.remove()


steering = {}
for multiple in progress([0.0, 0.5, 1.0], desc="steering"):
    m = steered_eval(multiple * resid_norm)
    n = len(benign_test)
    steering[multiple] = {
        "refusal": (round(m["over_refusal_rate"] * n), n),
        "accuracy": (round(m["task_accuracy"] * n), n),
    }
print(f"latent {harm_latent}, {len(benign_test)} benign test prompts, mean residual norm {resid_norm:.2f}")
print(f"{'α / mean norm':>14} {'refusal rate (95% Wilson)':>28} {'task accuracy (95% Wilson)':>28}")
for multiple, row in steering.items():
    cells = []
    for key in ("refusal", "accuracy"):
        k, n = row[key]
        lo, hi = w11.wilson_interval(k, n)
        cells.append(f"{k / n:.3f} [{lo:.3f}, {hi:.3f}]")
    print(f"{multiple:>14} {cells[0]:>28} {cells[1]:>28}")

# %% [markdown]
# The table above is the measurement: how far one direction, found without any refusal label,
# moves the refusal rate on harmless requests, and what it costs in correct answers. A control
# worth running (☆ Bonus) is a random direction of the same norm: if it moved refusals as much, the
# latent would not be special.
#
# %% [markdown]
# ## 7. The library: SAELens
#
# > **Learning objectives**
# > - check a from-scratch SAE against the library practitioners train with, across environments
#
# SAELens is the standard library for training and loading SAEs. Its `StandardTrainingSAE` computes
# exactly the loss of Exercise 7 (`training_forward_pass`: `mse_loss` summed over the model
# dimension and averaged over the batch, plus `l1_loss`, the batch mean of the decoder-norm-weighted
# L1 norm times `l1_coefficient`), and its trainer logs `metrics/l0` and
# `metrics/explained_variance` as Exercise 12 computes them.
#
# SAELens 6.54 cannot be installed next to this course's TransformerLens 4.3 (it requires
# `transformer-lens<4`), so the comparison runs in a **second, separate environment**
# (`tools/saelens_compare/make_env.sh` creates `.venv-saelens`). The two environments exchange only
# safetensors and JSON: the cell below writes an SAE's weights (SAELens's names and layout) and a
# batch; `tools/saelens_compare/compare.py`, run by SAELens's interpreter, loads them into a
# `StandardTrainingSAE`, runs its `training_forward_pass` and writes its loss and metrics; the
# test `tests/w10_sparse_autoencoders/test_w10_saelens_equality.py` checks that they equal ours.

# %%
import json
import tempfile
from pathlib import Path

from safetensors.torch import save_file

exchange = Path(tempfile.mkdtemp(prefix="w10_saelens_"))
example = stacked_saes(1, D_TRUE, 128, seed=5)
example = {p: t[0].detach().cpu().contiguous() for p, t in example.items()}
batch_x = held_data[:512].contiguous()
save_file({**example, "x": batch_x}, str(exchange / "sae_and_batch.safetensors"))
with torch.no_grad():
    f_ex = sae_encode(batch_x, example["W_enc"], example["b_enc"], example["b_dec"])
    xh_ex = sae_decode(f_ex, example["W_dec"], example["b_dec"])
    ours = {"loss": sae_loss(batch_x, xh_ex, f_ex, example["W_dec"], 0.1).item(), **sae_metrics(batch_x, xh_ex, f_ex)}
(exchange / "ours.json").write_text(json.dumps(ours))
print(f"wrote {exchange}: our loss (λ = 0.1) {ours['loss']:.6f}, L0 {ours['l0']:.2f}, "
      f"explained variance {ours['explained_variance']:.6f}")  # fmt: skip
print("compare with SAELens: .venv-saelens/bin/python tools/saelens_compare/compare.py", exchange)

# %% [markdown]
# ## What could go wrong in practice
#
# - **A penalty the SAE can dodge.** An L1 on the latents alone, with no decoder-norm weighting
#   or constraint, lets the SAE shrink activations and grow decoder rows: the loss falls, the
#   sparsity is fake. Check that the penalty is invariant to the rescaling (`fold_decoder_norm`).
# - **Dead latents.** With a large λ, or a bad initialisation, a large share of latents never fire
#   (the dead column above). Track them; resample or use an auxiliary loss; report the fraction.
# - **Explained variance is not faithfulness.** An SAE can reconstruct 90% of the variance and
#   still wreck the model's predictions. Report CE-loss recovered (spliced into the model) too.
# - **Shrinkage.** L1 pulls active latents towards 0; reconstructions are too small, and the
#   "feature activation" used for steering or thresholds is biased. TopK or a fine-tuned decoder
#   scale fixes it.
# - **Labels are hypotheses.** A latent that fires on harmful prompts may track a surface token
#   of the template. Held-out AUROC, and an intervention that changes behaviour, are evidence;
#   top-activating examples alone are not.
# - **Normalisation mismatches.** SAELens can normalise inputs (`normalize_activations`); an SAE
#   trained on normalised activations and applied to raw ones silently reconstructs garbage.
#
# ## ☆ Bonus
#
# - Resample dead latents (Bricken et al. 2023) instead of AuxK: re-initialise each dead
#   latent's encoder and decoder towards inputs the SAE reconstructs worst. Does MMCS improve at
#   large λ?
# - Train the toy model of section 1 with *correlated* features (two features that always fire
#   together). Does the SAE of section 5 learn them as one latent or two?
# - Steer with a random unit direction instead of the latent's (same α): how much of the change in
#   refusals is specific to the latent? Repeat for a few random directions to get an interval.
# - Implement a JumpReLU SAE (a learned threshold per latent, trained with a straight-through
#   estimator) and place it on the L0-vs-explained-variance plot next to L1 and TopK.
#
# ## Interview questions
#
# 1. What is superposition, and why does it make individual neurons hard to interpret?
# 2. Why does an SAE's L1 penalty weight each latent by its decoder row's norm? What happens without it?
# 3. L1 versus TopK: what is shrinkage, and how does TopK avoid it? What does TopK give up?
# 4. What is a dead latent, why does it stay dead, and what can you do about it?
# 5. Explained variance is 0.95 but CE-loss recovered is 0.6. What does that tell you?
# 6. How would you convince a sceptic that an SAE latent "is" a harmful-request feature?
# 7. How do you validate an SAE training pipeline before trusting it on a real model?
