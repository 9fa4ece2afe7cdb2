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
# # Week 11 — Scalable oversight by debate
#
# Every technique so far assumed that someone can tell a good answer from a bad one: a labeller
# ranks two responses (weeks 3–5), a constitution and a critic check a draft (week 6), a judge
# model decides whether an attack worked (week 7). That assumption fails exactly where we will
# need oversight most: when the model knows more than its overseer. A person cannot check a
# 200-page proof, a large code change or a claim about a protein by reading it end to end.
#
# **Debate** (Irving, Christiano and Amodei, 2018, *AI safety via debate*) proposes a way around
# this. Two copies of a strong model argue opposite sides in front of a weak judge. Each takes
# turns pointing at one small, checkable piece of evidence. The judge never looks at the whole
# problem, only at what the debaters chose to show. The hope rests on one assumption:
#
# > **It is easier to defend the truth than a lie.** If a liar points at misleading evidence,
# > the honest debater can point at the piece that exposes it; the reverse should be harder.
#
# If that holds, the winning strategy is honesty, and a judge who can only check small steps can
# still supervise a debater who is far more capable than itself. (The paper makes the analogy
# with complexity theory: a polynomial-time judge of a debate can decide any problem in PSPACE,
# while a judge who only checks a single answer stays in NP.)
#
# ## The experiment we reproduce
#
# The paper tests the idea on MNIST. The **judge** is a classifier that only sees a few revealed
# pixels of a digit. Two **debaters** see the whole image. One is honest and claims the true
# digit; the other lies and claims a different one. Both **precommit** to their claims, then take
# turns revealing one pixel each. After $k$ pixels the judge picks whichever of the two claimed
# classes it finds more likely. With $k = 6$ pixels the judge alone is right 59.4% of the time,
# and after a debate 88.9%; with $k = 4$, 48.2% → 85.2%.
#
# Part of that jump has nothing to do with the debate: choosing between *two* precommitted
# classes is far easier than choosing among ten, even when the pixels are random. A fair
# experiment therefore separates three judges:
#
# | condition | the judge sees | the judge chooses among |
# |---|---|---|
# | judge alone | $k$ random nonzero pixels | all 10 classes |
# | precommit, random pixels | $k$ random nonzero pixels | the 2 claimed classes |
# | debate | the $k$ pixels the debaters chose | the 2 claimed classes |
#
# We use scikit-learn's bundled digits (`load_digits`, no download): 1,797 images of $8\times 8$
# pixels with 17 grey levels, against MNIST's 70,000 images of $28\times 28$ pixels. A pixel of an
# $8\times 8$ digit covers about twelve MNIST pixels' worth of the stroke, so "$k$ pixels" is far
# more evidence here than on MNIST, and our absolute numbers are **not comparable** with the
# paper's. The paper's numbers are quoted for context only; the *shape* of the table (which
# condition beats which) is what we check, always on held-out
# digits and with confidence intervals.
#
# This week you implement:
#
# 1. the judge's input and how it is trained (`reveal_input`, `random_reveal_mask`);
# 2. the verdict and the game (`judge_verdict`, `move_margins`, `play_debate`);
# 3. a debater that searches ahead (`negamax`);
# 4. the statistics for an honest comparison (`wilson_interval`, `mcnemar`);
# 5. the evaluation loop the experiment runs (`evaluate_debate`, the integration exercise).

# %%
import math

import matplotlib.pyplot as plt
from matplotlib import patheffects
import numpy as np
import pandas as pd
import torch
from IPython.display import display
from sklearn.datasets import load_digits
from torch import nn

from courselib.config import quick, scale
from courselib.device import get_device, single_thread_on_cpu
from courselib.plots import LivePlot
from courselib.progress import progress
from courselib.seed import set_seed
from graders import check

gen = set_seed(0)
device = get_device()
single_thread_on_cpu(device)  # our networks are tiny: one thread avoids contention on shared CPUs
use_gpu = device.type == "cuda"  # a GPU affords deeper search and more games
print(f"PyTorch {torch.__version__}, running on {device}{' (quick mode)' if quick() else ''}")

# %% [markdown]
# ## 1. The data and what the judge sees
#
# > **Learning objectives**
# > - load and split the digits so that every number is measured on held-out images
# > - build the judge's two-channel view of a few revealed pixels
#
#
# `load_digits` holds 1,797 handwritten digits of $8\times 8$ pixels with intensities 0–16. We
# scale them to $[0, 1]$ and hold out 500 digits: the judge is trained on the rest, and every
# number in this notebook is measured on the held-out ones. A digit has on average about 33
# nonzero pixels out of 64 (at least 16).

# %%
digits = load_digits()
images = torch.tensor(digits.images, dtype=torch.float32) / 16.0
labels = torch.tensor(digits.target, dtype=torch.long)
order = torch.randperm(len(images), generator=gen)
N_HELD_OUT = 500
test_idx, train_idx = order[:N_HELD_OUT], order[N_HELD_OUT:]
X_train, y_train = images[train_idx].to(device), labels[train_idx].to(device)
X_test, y_test = images[test_idx].to(device), labels[test_idx].to(device)
print(f"train {tuple(X_train.shape)}, held out {tuple(X_test.shape)}")
print(
    "nonzero pixels per digit: min",
    int((images > 0).sum((1, 2)).min()),
    "mean",
    f"{(images > 0).sum((1, 2)).float().mean():.1f}",
)

fig, axes = plt.subplots(1, 10, figsize=(10, 1.3))
for d, ax in enumerate(axes):
    ax.imshow(images[labels == d][0], cmap="gray_r", vmin=0, vmax=1)
    ax.set_title(str(d))
    ax.axis("off")
plt.show()

# %% [markdown]
# The judge must know *which* pixels it was shown as well as their values: a revealed pixel of
# value 0 and a hidden pixel are different evidence. So its input has two channels:
#
# - channel 0: the **mask**, 1 where a pixel was revealed and 0 elsewhere;
# - channel 1: the **values**, the pixel's intensity where revealed and 0 elsewhere.
#
# **Exercise.** Implement `reveal_input(image, revealed_mask)`. It must work for a single image
# `[8, 8]` and for a batch `[..., 8, 8]`: the two channels go just before the two pixel
# dimensions, so a batch `[B, 8, 8]` gives `[B, 2, 8, 8]`. The mask may be bool or 0/1 integers;
# the output has the image's floating-point dtype.
#
# > **Difficulty** 🔴⚪⚪⚪⚪ · **Importance** 🔵🔵🔵🔵⚪ · **Time** ~5 min
#
# <details><summary>Hint 1</summary>
#
# Channel 0 is the mask converted to the image's dtype; channel 1 is the image times that mask.
#
# </details>
#
# <details><summary>Hint 2 (pseudocode)</summary>
#
# ```
# m = mask as image dtype
# return stack([m, image * m], dim=-3)   # -3: just before the two pixel dims
# ```
#
# </details>


# %%
def reveal_input(image: torch.Tensor, revealed_mask: torch.Tensor) -> torch.Tensor:
    """The judge's view of ``image`` when only ``revealed_mask`` is shown.

    Args:
        image: [..., 8, 8] pixel intensities in [0, 1].
        revealed_mask: [..., 8, 8] (same shape), bool or 0/1: which pixels are revealed.

    Returns:
        [..., 2, 8, 8] in the image's dtype: channel 0 the 0/1 mask, channel 1 the pixel values
        where revealed and 0 elsewhere.
    """
    ### BEGIN SOLUTION
    mask = revealed_mask.to(image.dtype)
    values = image * mask
    return torch.stack([mask.expand_as(values), values], dim=-3)
    ### END SOLUTION


# %%
check("w11_debate.reveal_input", reveal_input)
### BEGIN HIDDEN TESTS
check("w11_debate.reveal_input", reveal_input, hidden=True)
### END HIDDEN TESTS

# %% [markdown]
# ## 2. Training the judge on random pixels
#
# > **Learning objectives**
# > - draw a uniform random k-subset of ink pixels without a Python loop
# > - train one sparse-pixel judge for every k
#
#
# The judge is trained the way the paper trains it: on random subsets of $k$ **nonzero** pixels
# (a blank pixel says little, and the debaters will only ever reveal ink). Drawing a uniformly
# random $k$-subset for every image of a batch, without a Python loop, has a neat trick: give
# every pixel an independent uniform random **score**, and keep the $k$ candidates with the
# highest scores. Every $k$-subset of the candidates is then equally likely to be the top $k$.
#
# **Exercise.** Implement `random_reveal_mask(images, k, scores)`: for each image, reveal the
# `k` nonzero pixels with the highest `scores` (all of its nonzero pixels when it has fewer than
# `k`). The scores are passed in, so the function itself is deterministic.
#
# > **Difficulty** 🔴🔴⚪⚪⚪ · **Importance** 🔵🔵🔵⚪⚪ · **Time** ~15 min
#
# <details><summary>Hint 1</summary>
#
# Flatten the pixel dimensions so that "top k per image" is one `topk` over the last dimension.
#
# </details>
#
# <details><summary>Hint 2</summary>
#
# Give zero pixels a score of `-inf` so they are picked last, and remember `topk` still returns k indices.
#
# </details>
#
# <details><summary>Hint 3 (pseudocode)</summary>
#
# ```
# cand = images.flatten(-2) > 0
# keyed = where(cand, scores.flatten(-2), -inf)
# top = keyed.topk(k).indices
# mask = zeros_like(cand).scatter(-1, top, True) & cand
# return mask.view(images.shape)
# ```
#
# </details>


# %%
def random_reveal_mask(images: torch.Tensor, k: int, scores: torch.Tensor) -> torch.Tensor:
    """Reveal, per image, the ``k`` nonzero pixels with the highest ``scores``.

    Args:
        images: [..., 8, 8] pixel intensities (0 means blank).
        k: how many pixels to reveal per image (0 <= k <= 64).
        scores: [..., 8, 8] random keys (e.g. uniform), same shape as ``images``.

    Returns:
        [..., 8, 8] bool mask with min(k, number of nonzero pixels) True entries per image, all
        on nonzero pixels.
    """
    ### BEGIN SOLUTION
    candidate = images.flatten(-2) > 0
    keyed = torch.where(candidate, scores.flatten(-2), torch.full_like(scores.flatten(-2), -math.inf))
    top = keyed.topk(k, dim=-1).indices
    chosen = torch.zeros_like(candidate).scatter(-1, top, True)
    return (chosen & candidate).view(images.shape)
    ### END SOLUTION


# %%
check("w11_debate.random_reveal_mask", random_reveal_mask)
### BEGIN HIDDEN TESTS
check("w11_debate.random_reveal_mask", random_reveal_mask, hidden=True)
### END HIDDEN TESTS

# %% [markdown]
# The judge itself is a small multilayer perceptron over the $2 \times 8 \times 8 = 128$ inputs.
# (The paper used a convolutional network on $28 \times 28$ MNIST; on $8 \times 8$ an MLP is
# enough.) We train **one** judge for every number of pixels: each step draws a batch with a
# different $k$ from 2 to 10, so the same judge can be evaluated at any $k$ later.


# %%
class SparseJudge(nn.Module):
    """A classifier of partially revealed digits: [..., 2, 8, 8] -> [..., 10] logits."""

    def __init__(self, hidden: int = 128) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(128, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, 10)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.flatten(-3))


def train_judge(
    model: nn.Module,
    steps: int,
    ks: tuple[int, ...] = (2, 3, 4, 5, 6, 7, 8, 10),
    batch: int = 256,
    seed: int = 0,
    plot: bool = True,
) -> nn.Module:
    """Train ``model`` to classify digits from random subsets of k nonzero pixels (k cycles over ``ks``)."""
    g = torch.Generator(device=X_train.device).manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    title = f"training {type(model).__name__} (seed {seed})"
    live = LivePlot(["loss", "accuracy"], every=max(1, steps // len(ks) // 10), title=title) if plot else None
    model.train()
    window_loss, window_acc = [], []
    for step in progress(range(steps), desc="judge"):
        idx = torch.randint(0, len(X_train), (batch,), generator=g, device=X_train.device)
        k = ks[step % len(ks)]
        mask = random_reveal_mask(X_train[idx], k, torch.rand(batch, 8, 8, generator=g, device=X_train.device))
        logits = model(reveal_input(X_train[idx], mask))
        loss = nn.functional.cross_entropy(logits, y_train[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if live is None:
            continue
        window_loss.append(loss.item())
        window_acc.append((logits.argmax(-1) == y_train[idx]).float().mean().item())
        if len(window_loss) == len(ks):  # one full cycle of k values, so the curve is not a saw-tooth
            live.update(step, loss=np.mean(window_loss), accuracy=np.mean(window_acc))
            window_loss, window_acc = [], []
    if live is not None:
        plt.close(live.show())  # the final curves are displayed by show(); close the returned copy
    return model.eval()


# %% [markdown]
# **Predict, then run.** Before training: with 6 random ink pixels out of about 33, what accuracy
# do you expect the judge to reach on held-out digits (ten classes, chance 10%)? Write a number
# down.

# %%
TRAIN_STEPS = scale(1000, 150)
torch.manual_seed(0)  # the initial weights; train_judge's seed draws the batches and pixels
judge = train_judge(SparseJudge().to(device), TRAIN_STEPS, seed=0)

# %% [markdown]
# How good is the judge on its own? On held-out digits, with $k$ random nonzero pixels, taking
# the most likely of the ten classes (averaged over five random draws per digit):


# %%
@torch.no_grad()
def judge_alone_accuracy(model: nn.Module, k: int, draws: int = 5, seed: int = 1) -> float:
    g = torch.Generator(device=device).manual_seed(seed)
    hits = []
    for _ in range(draws):
        mask = random_reveal_mask(X_test, k, torch.rand(X_test.shape, generator=g, device=device))
        hits.append((model(reveal_input(X_test, mask)).argmax(-1) == y_test).float().mean().item())
    return float(np.mean(hits))


for k in (1, 2, 4, 6, 8, 12, 20):
    print(f"k = {k:2d} random pixels: judge alone {judge_alone_accuracy(judge, k):.1%}")

# %% [markdown]
# ## 3. The verdict
#
# > **Learning objectives**
# > - turn the judge's logits into a choice between two precommitted claims, with a stated tie rule
#
#
# After the debate the judge does not name a digit: it chooses between the two precommitted
# claims, whichever has the higher logit. (Comparing logits, probabilities or log-probabilities
# gives the same answer, since softmax is monotonic.) A tie must be broken by a fixed rule; ours:
# a tie goes to `claim_a`.
#
# **Exercise.** Implement `judge_verdict(judge_logits, claim_a, claim_b)`.
#
# > **Difficulty** 🔴⚪⚪⚪⚪ · **Importance** 🔵🔵🔵⚪⚪ · **Time** ~5 min
#
# <details><summary>Hint 1</summary>
#
# Only two entries of the logits matter: `judge_logits[claim_a]` and `judge_logits[claim_b]`.
#
# </details>
#
# <details><summary>Hint 2 (pseudocode)</summary>
#
# ```
# return claim_a if logits[claim_a] >= logits[claim_b] else claim_b   # ints
# ```
#
# </details>


# %%
def judge_verdict(judge_logits: torch.Tensor, claim_a: int, claim_b: int) -> int:
    """The claimed class the judge prefers.

    Args:
        judge_logits: [10] the judge's logits for one image.
        claim_a, claim_b: the two claimed classes (ints in 0..9).

    Returns:
        ``claim_a`` or ``claim_b``, whichever has the higher logit; ``claim_a`` on a tie. A Python int.
    """
    ### BEGIN SOLUTION
    return int(claim_a) if judge_logits[claim_a] >= judge_logits[claim_b] else int(claim_b)
    ### END SOLUTION


# %%
check("w11_debate.judge_verdict", judge_verdict)
### BEGIN HIDDEN TESTS
check("w11_debate.judge_verdict", judge_verdict, hidden=True)
### END HIDDEN TESTS

# %% [markdown]
# ## 4. The game
#
# > **Learning objectives**
# > - score every possible next move with one batched judge call
# > - play a batch of alternating-move debates between arbitrary strategies
#
#
# A debate on one digit goes like this:
#
# 1. Both debaters see the whole image. Each has a claim: the honest one the true class, the liar
#    a different one. Both are announced before any pixel is shown (**precommitment**).
# 2. For $t = 0, 1, \dots, k-1$ the debaters take turns: the first player moves at even $t$, the
#    second at odd $t$. A move reveals one **nonzero, not yet revealed** pixel to the judge. The
#    debaters cannot lie about pixel values, only choose which ones to show.
# 3. The judge sees the $k$ revealed pixels and gives its verdict between the two claims.
#
# What should a debater optimise? The verdict depends only on the **margin**
# $\ell_{\text{mine}} - \ell_{\text{theirs}}$ of the judge's logits: positive, I win. The game is
# zero-sum: my margin is exactly minus my opponent's.
#
# Pixels are numbered row by row: pixel $p$ is row $p \,/\!/\, 8$, column $p \bmod 8$, so
# `image.flatten()[p]` is its value.
#
# ### A greedy debater
#
# The simplest debater reveals the pixel that would maximise its margin *if the debate stopped
# right after its move*. To choose, it needs the margin after each possible move, all 64 of them
# evaluated in one batch by the judge.
#
# **Exercise.** Implement `move_margins(judge, images, revealed, my_claims, other_claims)` for a
# batch of $B$ games at once. Entry $[b, p]$ is the judge's margin for `my_claims[b]` over
# `other_claims[b]` after revealing pixel $p$ **in addition to** the pixels already revealed in
# game $b$; it is `-inf` where pixel $p$ is not a legal move (already revealed, or zero).
#
# > **Difficulty** 🔴🔴🔴⚪⚪ · **Importance** 🔵🔵🔵🔵⚪ · **Time** ~25 min
#
# <details><summary>Hint 1</summary>
#
# The 64 candidate masks of a game are `revealed | one_hot(p)`: broadcast `revealed.reshape(B, 1, 64)` against `torch.eye(64, dtype=torch.bool)`.
#
# </details>
#
# <details><summary>Hint 2</summary>
#
# Call the judge once on a `[B * 64, 2, 8, 8]` batch, pick the two claims' logits with `gather`, and create new tensors on the input's device.
#
# </details>
#
# <details><summary>Hint 3 (pseudocode)</summary>
#
# ```
# cand = revealed.reshape(B, 1, 64) | eye(64)                 # [B, 64, 64]
# x = reveal_input(images.reshape(B, 1, 8, 8), cand.view(B, 64, 8, 8))
# logits = judge(x.reshape(B * 64, 2, 8, 8)).view(B, 64, 10)
# margin = logits[..., my] - logits[..., other]              # via gather
# legal = (images.reshape(B, 64) > 0) & ~revealed.reshape(B, 64)
# return margin.masked_fill(~legal, -inf)
# ```
#
# </details>


# %%
def move_margins(
    judge, images: torch.Tensor, revealed: torch.Tensor, my_claims: torch.Tensor, other_claims: torch.Tensor
) -> torch.Tensor:
    """The judge's margin for my claim after each possible next reveal, for B games.

    Args:
        judge: callable, [N, 2, 8, 8] -> [N, 10] logits.
        images: [B, 8, 8] pixel intensities in [0, 1].
        revealed: [B, 8, 8] bool, the pixels revealed so far.
        my_claims, other_claims: [B] long, the mover's claim and the opponent's.

    Returns:
        [B, 64] float: logit[my] - logit[other] after also revealing pixel p (row-major), or -inf
        where p is already revealed or has value 0.
    """
    ### BEGIN SOLUTION
    B = images.shape[0]
    flat = revealed.reshape(B, 1, 64).bool()
    candidates = flat | torch.eye(64, dtype=torch.bool, device=images.device)  # [B, 64, 64]
    inputs = reveal_input(images.reshape(B, 1, 8, 8), candidates.view(B, 64, 8, 8))  # [B, 64, 2, 8, 8]
    logits = judge(inputs.reshape(B * 64, 2, 8, 8)).view(B, 64, -1)
    mine = logits.gather(-1, my_claims.view(B, 1, 1).expand(B, 64, 1)).squeeze(-1)
    theirs = logits.gather(-1, other_claims.view(B, 1, 1).expand(B, 64, 1)).squeeze(-1)
    legal = (images.reshape(B, 64) > 0) & ~flat.squeeze(1)
    return (mine - theirs).masked_fill(~legal, -math.inf)
    ### END SOLUTION


# %%
check("w11_debate.move_margins", move_margins)
### BEGIN HIDDEN TESTS
check("w11_debate.move_margins", move_margins, hidden=True)
### END HIDDEN TESTS

# %% [markdown]
# A **strategy** is any function `strategy(judge, images, revealed, my_claims, other_claims,
# moves_left) -> [B]` that returns the pixel each of the $B$ games' mover reveals, or −1 to pass
# when it has no legal move; `moves_left` counts the moves left in the game, this one included.
# The greedy strategy takes the best margin (`argmax` returns the first maximum, so ties go to
# the lowest pixel index):


# %%
def greedy_move(
    judge,
    images: torch.Tensor,
    revealed: torch.Tensor,
    my_claims: torch.Tensor,
    other_claims: torch.Tensor,
    moves_left: int = 1,
) -> torch.Tensor:
    """Greedy strategy: the legal pixel with the best immediate margin, or -1 when none is legal."""
    margins = move_margins(judge, images, revealed, my_claims, other_claims)
    best = margins.argmax(-1)
    return torch.where(torch.isinf(margins.amax(-1)), torch.full_like(best, -1), best)


# %% [markdown]
# **Exercise.** Implement `play_debate(judge, images, first_claims, second_claims, k,
# first_strategy, second_strategy)` for a batch of $B$ games that all last $k$ moves. Start with
# nothing revealed; at move $t$ the mover is the first player when $t$ is even, else the second;
# call the mover's strategy with **its own** claim as `my_claims` and `moves_left = k - t`;
# reveal the returned pixel (a −1 reveals nothing); after $k$ moves, ask the judge and return the
# verdict between the two claims, a tie going to the first player's claim.
#
# > **Difficulty** 🔴🔴🔴⚪⚪ · **Importance** 🔵🔵🔵🔵🔵 · **Time** ~20 min
#
# <details><summary>Hint 1</summary>
#
# Keep `revealed` as a `[B, 64]` bool tensor and pass `revealed.view(B, 8, 8)` to the strategies.
#
# </details>
#
# <details><summary>Hint 2</summary>
#
# Careful with −1: `revealed[b, -1] = True` would reveal the last pixel. Select the games that moved first.
#
# </details>
#
# <details><summary>Hint 3 (pseudocode)</summary>
#
# ```
# for t in range(k):
#     mover = first if t even else second   (its own claim first, moves_left = k - t)
#     move = strategy(judge, images, revealed.view(B, 8, 8), mine, theirs, k - t)
#     revealed[games with move >= 0, their moves] = True; moves[:, t] = move
# logits = judge(reveal_input(images, revealed.view(B, 8, 8)))
# return where(logit[first] >= logit[second], first, second), moves
# ```
#
# </details>


# %%
def play_debate(
    judge,
    images: torch.Tensor,
    first_claims: torch.Tensor,
    second_claims: torch.Tensor,
    k: int,
    first_strategy,
    second_strategy,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Play B debates of k alternating reveals and return the verdicts.

    Args:
        judge: callable, [N, 2, 8, 8] -> [N, 10] logits.
        images: [B, 8, 8].
        first_claims, second_claims: [B] long, the claims of the player who moves first / second.
        k: total number of pixels revealed (the first player makes ceil(k/2) moves).
        first_strategy, second_strategy: strategy(judge, images, revealed [B, 8, 8] bool,
            my_claims [B], other_claims [B], moves_left: int) -> [B] long pixel (or -1 to pass).

    Returns:
        (winners, moves): winners [B] long, the claim the judge prefers (first claim on a tie);
        moves [B, k] long, the pixel revealed at each move (-1 for a pass).
    """
    ### BEGIN SOLUTION
    B = images.shape[0]
    revealed = torch.zeros(B, 64, dtype=torch.bool, device=images.device)
    moves = torch.full((B, k), -1, dtype=torch.long, device=images.device)
    for t in range(k):
        if t % 2 == 0:
            move = first_strategy(judge, images, revealed.view(B, 8, 8), first_claims, second_claims, k - t)
        else:
            move = second_strategy(judge, images, revealed.view(B, 8, 8), second_claims, first_claims, k - t)
        played = move >= 0
        revealed[played.nonzero().squeeze(-1), move[played]] = True
        moves[:, t] = move
    logits = judge(reveal_input(images, revealed.view(B, 8, 8)))
    first_logit = logits.gather(-1, first_claims.view(B, 1)).squeeze(-1)
    second_logit = logits.gather(-1, second_claims.view(B, 1)).squeeze(-1)
    return torch.where(first_logit >= second_logit, first_claims, second_claims), moves
    ### END SOLUTION


# %%
check("w11_debate.play_debate", play_debate)
### BEGIN HIDDEN TESTS
check("w11_debate.play_debate", play_debate, hidden=True)
### END HIDDEN TESTS

# %% [markdown]
# ### What a debate looks like
#
# Here is one held-out digit, debated with $k = 6$ by two greedy debaters, honest first. On the
# left the digit as the debaters see it; in the middle the judge's view, each revealed pixel
# numbered by its move (blue box: honest, red box: liar); on the right the judge's preference
# between the two claims after each move, $\mathrm{softmax}$ over just the two claimed logits
# (move 0: nothing revealed yet; above the dashed line that claim would win if the debate
# stopped there).


# %%
@torch.no_grad()
def judge_trajectory(model: nn.Module, image: torch.Tensor, moves: torch.Tensor) -> torch.Tensor:
    """Judge logits [len(moves) + 1, 10] after 0, 1, ..., all moves."""
    revealed = torch.zeros(64, dtype=torch.bool, device=image.device)
    views = [revealed.clone()]
    for m in moves.tolist():
        if m >= 0:
            revealed[m] = True
        views.append(revealed.clone())
    masks = torch.stack(views).view(-1, 8, 8)
    return model(reveal_input(image.expand(len(masks), 8, 8), masks))


def draw_debate(model, image, truth, lie, k, honest_first=True, honest_strategy=None, liar_strategy=None):
    honest_strategy = honest_strategy or greedy_move
    liar_strategy = liar_strategy or greedy_move
    claims = (truth, lie) if honest_first else (lie, truth)
    strategies = (honest_strategy, liar_strategy) if honest_first else (liar_strategy, honest_strategy)
    t = lambda c: torch.tensor([c], device=device)
    with torch.no_grad():
        winner, moves = play_debate(model, image[None], t(claims[0]), t(claims[1]), k, *strategies)
    logits = judge_trajectory(model, image, moves[0]).cpu()
    pair = logits[:, [truth, lie]].softmax(-1)  # the judge's preference between the two claims only
    fig, axes = plt.subplots(1, 3, figsize=(11, 3.4))
    axes[0].imshow(image.cpu(), cmap="gray_r", vmin=0, vmax=1)
    axes[0].set_title(f"the digit (true class {truth})")
    view = np.full((8, 8), np.nan)
    axes[1].imshow(np.zeros((8, 8)), cmap="gray", vmin=0, vmax=1, alpha=0.08)
    for step, m in enumerate(moves[0].tolist()):
        if m < 0:
            continue
        r, c = divmod(m, 8)
        view[r, c] = image[r, c].item()
        honest_move = (step % 2 == 0) == honest_first
        axes[1].add_patch(
            plt.Rectangle((c - 0.5, r - 0.5), 1, 1, fill=False, lw=2.5, color="tab:blue" if honest_move else "tab:red")
        )
        axes[1].text(
            c,
            r,
            str(step + 1),
            ha="center",
            va="center",
            fontsize=11,
            color="white",
            weight="bold",
            path_effects=[patheffects.withStroke(linewidth=2.5, foreground="black")],
        )
    axes[1].imshow(view, cmap="gray_r", vmin=0, vmax=1)
    axes[1].set_title("the judge's view (move numbers)")
    for ax in axes[:2]:
        ax.set_xticks([])
        ax.set_yticks([])
    axes[2].plot(pair[:, 0], "o-", color="tab:blue", label=f"honest claim {truth}")
    axes[2].plot(pair[:, 1], "s-", color="tab:red", label=f"lie {lie}")
    axes[2].axhline(0.5, color="gray", lw=0.8, ls="--")
    axes[2].set_xlabel("move")
    axes[2].set_ylabel("P(claim | one of the two)")
    axes[2].set_xticks(range(len(pair)))
    axes[2].set_ylim(0, 1)
    axes[2].legend(fontsize=8)
    verdict = int(winner)
    axes[2].set_title(
        f"{'honest' if honest_first else 'liar'} first: judge says {verdict} ({'honest' if verdict == truth else 'liar'} wins)"
    )
    fig.tight_layout()
    plt.show()
    return verdict


def find_example(model, k, lie_shift, honest_first, want_honest_win, limit=200):
    """The first held-out digit whose greedy debate has the liar ahead at some move and ends as wanted."""
    for i in range(min(limit, len(X_test))):
        truth, lie = int(y_test[i]), (int(y_test[i]) + lie_shift) % 10
        claims = (truth, lie) if honest_first else (lie, truth)
        with torch.no_grad():
            t = lambda c: torch.tensor([c], device=device)
            winner, moves = play_debate(
                model, X_test[i : i + 1], t(claims[0]), t(claims[1]), k, greedy_move, greedy_move
            )
        logits = judge_trajectory(model, X_test[i], moves[0])
        liar_led = bool((logits[1:, lie] > logits[1:, truth]).any())
        if liar_led and (int(winner) == truth) == want_honest_win:
            return i, truth, lie
    return 0, int(y_test[0]), (int(y_test[0]) + lie_shift) % 10


example, example_truth, example_lie = find_example(judge, k=6, lie_shift=3, honest_first=True, want_honest_win=True)
_ = draw_debate(judge, X_test[example], example_truth, example_lie, k=6)

# %% [markdown]
# We picked (automatically) the first held-out digit on which the liar is ahead after some move
# but the honest debater still wins. The liar can only show pixels that are really there, so it
# hunts for ink that happens to fit its digit; the honest debater answers with ink the lie cannot
# explain. Notice how each move can swing the judge: with six pixels, every single one matters.
#
# ## 5. Looking ahead: a searching debater
#
# > **Learning objectives**
# > - write batched depth-limited negamax and see why one function serves both players
#
#
# Greedy ignores the reply. A pixel that looks great now may open the door to a devastating
# answer. The standard fix from game playing is **minimax** search: assume the opponent answers
# with its own best move, look `depth` moves ahead, and evaluate the position there with the
# judge's current margin. Because the game is zero-sum, one function suffices for both players
# (**negamax**): the value of a position for the player to move is
#
# $$V_d(S) = \begin{cases} \text{margin}_{\text{mover}}(S) & d = 0 \text{ or no legal move} \\
# \max_{p \text{ legal}} \; -V_{d-1}(S \cup \{p\}) \text{ (claims swapped)} & \text{otherwise,}\end{cases}$$
#
# where the child's value is computed from the *opponent's* point of view (its claim first),
# which is why it is negated. At depth 1 this is exactly the greedy choice. (The paper used
# Monte Carlo tree search, which samples the tree instead of expanding it; with at most a few
# dozen legal pixels, exhaustive search at small depth is affordable and exact.)
#
# **Exercise.** Implement `negamax(judge, images, revealed, my_claims, other_claims, depth)` for
# a batch of games. Return the best move (−1 when there is no legal move or `depth == 0`) and
# its value $V_{\text{depth}}$. Ties go to the lowest pixel index.
#
# > **Difficulty** 🔴🔴🔴🔴🔴 · **Importance** 🔵🔵🔵🔵⚪ · **Time** ~40 min
#
# <details><summary>Hint 1</summary>
#
# `legal.nonzero(as_tuple=True)` gives one `(game, pixel)` pair per legal move: every child position of the whole batch at once.
#
# </details>
#
# <details><summary>Hint 2</summary>
#
# Recurse **once** on the batch of children with `depth - 1` and the claims swapped; the child's value is the opponent's, so negate it.
#
# </details>
#
# <details><summary>Hint 3 (pseudocode)</summary>
#
# ```
# now = margin of the current position (mover's claim first)
# if depth == 0 or no legal move anywhere: return (-1s, now)
# game, pixel = legal.nonzero(as_tuple=True)
# children = revealed[game] with pixel set
# _, child = negamax(judge, images[game], children, other[game], mine[game], depth - 1)
# values = full((B, 64), -inf); values[game, pixel] = -child
# best = values.argmax(-1)      # first maximum: lowest pixel
# return where(has_move, best, -1), where(has_move, values[best], now)
# ```
#
# </details>


# %%
def negamax(
    judge,
    images: torch.Tensor,
    revealed: torch.Tensor,
    my_claims: torch.Tensor,
    other_claims: torch.Tensor,
    depth: int,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Depth-limited minimax for the player to move, for B games at once.

    Args:
        judge: callable, [N, 2, 8, 8] -> [N, 10] logits.
        images: [B, 8, 8]; revealed: [B, 8, 8] bool.
        my_claims, other_claims: [B] long (the mover's claim first).
        depth: moves to look ahead (0 = evaluate the position as it stands).

    Returns:
        (moves, values): moves [B] long, the best pixel (lowest index among equals), or -1 when
        depth is 0 or no pixel is legal; values [B] float, the mover's margin logit[my] - logit[other]
        after ``depth`` moves of best play by both sides (the current margin when no pixel is legal).
    """
    ### BEGIN SOLUTION
    B = images.shape[0]
    logits = judge(reveal_input(images, revealed.bool()))
    now = logits.gather(-1, my_claims.view(B, 1)).squeeze(-1) - logits.gather(-1, other_claims.view(B, 1)).squeeze(-1)
    no_move = torch.full((B,), -1, dtype=torch.long, device=images.device)
    flat = revealed.reshape(B, 64).bool()
    legal = (images.reshape(B, 64) > 0) & ~flat
    if depth == 0 or not legal.any():
        return no_move, now
    game, pixel = legal.nonzero(as_tuple=True)
    children = flat[game].clone()
    children[torch.arange(len(game), device=images.device), pixel] = True
    _, child_values = negamax(
        judge, images[game], children.view(-1, 8, 8), other_claims[game], my_claims[game], depth - 1
    )
    values = torch.full((B, 64), -math.inf, dtype=now.dtype, device=images.device)
    values[game, pixel] = -child_values
    best = values.argmax(-1)
    best_value = values.gather(-1, best.view(B, 1)).squeeze(-1)
    has_move = legal.any(-1)
    return torch.where(has_move, best, no_move), torch.where(has_move, best_value, now)
    ### END SOLUTION


# %%
check("w11_debate.negamax", negamax)
### BEGIN HIDDEN TESTS
check("w11_debate.negamax", negamax, hidden=True)
### END HIDDEN TESTS

# %% [markdown]
# A search strategy never looks past the end of the game: with `moves_left` moves to go it
# searches `min(depth, moves_left)` deep, so its last move is always exactly greedy.
# Depth-2 search evaluates about $30 \times 30$ positions per move (the legal pixels of a digit,
# then the replies), one batched judge call per level: cheap on a GPU, affordable on a CPU. We
# play games in chunks to bound memory.


# %%
def search_strategy(depth: int):
    """A strategy that plays the negamax move with min(depth, moves_left) moves of lookahead."""

    def strategy(judge, images, revealed, my_claims, other_claims, moves_left):
        return negamax(judge, images, revealed, my_claims, other_claims, min(depth, moves_left))[0]

    strategy.__name__ = f"search(depth={depth})"
    return strategy


search_depth = 3 if use_gpu else 2
search_chunk = 32 if search_depth <= 2 or use_gpu else 2  # games per batch: bounds the search tree's memory
search = search_strategy(search_depth)

# %% [markdown]
# ## 6. Confidence intervals
#
# > **Learning objectives**
# > - report an accuracy with a Wilson interval
# > - test a paired difference with McNemar's exact test and check both against SciPy
#
#
# Every accuracy below is a fraction of $n$ held-out digits that the judge got right, so it
# deserves an interval. The textbook "Wald" interval $\hat p \pm z\sqrt{\hat p(1-\hat p)/n}$
# behaves badly exactly where our numbers live: near 0 or 1 it is too narrow (width 0 at
# $\hat p = 1$!) and can leave $[0, 1]$. The **Wilson score interval** inverts the normal test
# instead and stays sensible:
#
# $$\frac{\hat p + \frac{z^2}{2n}}{1 + \frac{z^2}{n}} \;\pm\; \frac{z}{1 + \frac{z^2}{n}}
# \sqrt{\frac{\hat p(1-\hat p)}{n} + \frac{z^2}{4n^2}}, \qquad \hat p = \frac{\text{successes}}{n}.$$
#
# **Exercise.** Implement `wilson_interval(successes, n, z=1.96)` (95% for the default $z$).
#
# > **Difficulty** 🔴⚪⚪⚪⚪ · **Importance** 🔵🔵🔵⚪⚪ · **Time** ~10 min
#
# <details><summary>Hint 1</summary>
#
# Compute p̂ = successes / n first; both the centre and the half-width are divided by 1 + z²/n.
#
# </details>
#
# <details><summary>Hint 2 (pseudocode)</summary>
#
# ```
# d = 1 + z*z/n
# centre = (p + z*z/(2n)) / d
# half = z/d * sqrt(p(1-p)/n + z*z/(4n*n))
# return (max(0, centre - half), min(1, centre + half))
# ```
#
# </details>


# %%
def wilson_interval(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion.

    Args:
        successes: number of successes, 0 <= successes <= n.
        n: number of trials, n >= 1.
        z: the normal quantile (1.96 for 95%).

    Returns:
        (low, high) as Python floats, inside [0, 1].
    """
    ### BEGIN SOLUTION
    p = successes / n
    denominator = 1 + z * z / n
    center = (p + z * z / (2 * n)) / denominator
    half = z / denominator * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return (max(0.0, float(center - half)), min(1.0, float(center + half)))  # clip rounding noise
    ### END SOLUTION


# %%
check("w11_debate.wilson_interval", wilson_interval)
### BEGIN HIDDEN TESTS
check("w11_debate.wilson_interval", wilson_interval, hidden=True)
### END HIDDEN TESTS

# %% [markdown]
# **The library version.** SciPy computes the same interval with
# `scipy.stats.binomtest(successes, n).proportion_ci(method="wilson")`, using the exact quantile
# $z = \Phi^{-1}(0.975) = 1.95996\ldots$ rather than 1.96:

# %%
from scipy.stats import binomtest, norm

z95 = float(norm.ppf(0.975))
for s, n in [(0, 20), (441, 500), (500, 500), (7, 13)]:
    ours = wilson_interval(s, n, z95)
    lib = binomtest(s, n).proportion_ci(confidence_level=0.95, method="wilson")
    print(f"{s:3d}/{n:3d}: ours ({ours[0]:.5f}, {ours[1]:.5f})   scipy ({lib.low:.5f}, {lib.high:.5f})")
    assert abs(ours[0] - lib.low) < 1e-9 and abs(ours[1] - lib.high) < 1e-9


def fmt_ci(hits: torch.Tensor) -> str:
    """'88.2% [85.1, 90.8]' for a 0/1 tensor of per-digit outcomes."""
    s, n = int(hits.sum()), len(hits)
    lo, hi = wilson_interval(s, n)
    return f"{s / n:.1%} [{lo:.1%}, {hi:.1%}]"


# %% [markdown]
# ### Paired comparisons: McNemar's test
#
# Two conditions measured on the **same** digits are paired: most digits are easy (right in
# both) or hopeless (wrong in both), and only the digits where the two disagree say anything about
# which condition is better. Let $b$ count the digits right under A and wrong under B, and $c$
# the reverse. If A and B were equally good, each disagreement would go either way with
# probability ½, so $b \sim \mathrm{Binomial}(b + c, \tfrac12)$. **McNemar's exact test** gives
# the two-sided p-value
#
# $$p = \min\Bigl(1,\; 2 \sum_{i=0}^{\min(b, c)} \binom{b+c}{i} 2^{-(b+c)}\Bigr)$$
#
# ($p = 1$ when $b + c = 0$). Its large-sample version is the chi-square test with continuity
# correction, $\chi^2 = \max(0, |b - c| - 1)^2 / (b + c)$ with one degree of freedom, whose p-value is
# $\operatorname{erfc}\bigl(\sqrt{\chi^2 / 2}\bigr)$. Two overlapping Wilson intervals can hide a
# difference that McNemar's test finds clearly, because the intervals ignore the pairing.
#
# > **Difficulty** 🔴🔴⚪⚪⚪ · **Importance** 🔵🔵🔵🔵⚪ · **Time** ~15 min
#
# **Exercise.** Implement `mcnemar(correct_a, correct_b, exact=True)`: the discordant counts
# $b$, $c$ and the two-sided p-value (exact binomial by default, the corrected chi-square when
# `exact=False`; $p = 1$ when there is no disagreement).
#
# <details><summary>Hint 1</summary>
#
# Only the disagreements count: $b$ = `(correct_a & ~correct_b).sum()`. The total number of
# digits does not enter the test at all.
#
# </details>
#
# <details><summary>Hint 2 (pseudocode)</summary>
#
# ```
# b, c = int(sum(a & ~b_)), int(sum(~a & b_)); n = b + c
# if n == 0: return b, c, 1.0
# exact:  p = 2 * sum(comb(n, i) for i in 0..min(b, c)) / 2**n, capped at 1
# chi2:   x = max(0, |b - c| - 1)**2 / n;  p = erfc(sqrt(x / 2))
# ```
#
# </details>


# %%
def mcnemar(correct_a: torch.Tensor, correct_b: torch.Tensor, exact: bool = True) -> tuple[int, int, float]:
    """McNemar's test for two paired 0/1 outcomes on the same examples.

    Args:
        correct_a, correct_b: [N] bool (or 0/1), whether condition A / B got example i right.
        exact: the exact binomial test (default), else the chi-square test with continuity correction.

    Returns:
        (b, c, p_value): b = #(A right, B wrong), c = #(A wrong, B right) as Python ints; the two-sided
        p-value as a Python float in [0, 1] (1.0 when b + c = 0).
    """
    ### BEGIN SOLUTION
    a, b_ = correct_a.bool(), correct_b.bool()
    b, c = int((a & ~b_).sum()), int((~a & b_).sum())
    n = b + c
    if n == 0:
        return b, c, 1.0
    if exact:
        tail = sum(math.comb(n, i) for i in range(min(b, c) + 1))
        return b, c, min(1.0, 2 * tail / 2**n)
    statistic = max(0, abs(b - c) - 1) ** 2 / n
    return b, c, math.erfc(math.sqrt(statistic / 2))
    ### END SOLUTION


# %%
check("w11_debate.mcnemar", mcnemar)
### BEGIN HIDDEN TESTS
check("w11_debate.mcnemar", mcnemar, hidden=True)
### END HIDDEN TESTS

# %% [markdown]
# **The library version.** SciPy's `binomtest(b, b + c, 0.5)` gives the exact p-value and
# `chi2.sf` the chi-square one:

# %%
from scipy.stats import chi2

g_demo = torch.Generator().manual_seed(3)
demo_a, demo_b = torch.rand(200, generator=g_demo) < 0.7, torch.rand(200, generator=g_demo) < 0.8
b_demo, c_demo, p_demo = mcnemar(demo_a, demo_b)
p_lib = binomtest(b_demo, b_demo + c_demo, 0.5).pvalue
p_chi_lib = float(chi2.sf(max(0, abs(b_demo - c_demo) - 1) ** 2 / (b_demo + c_demo), 1))
print(
    f"b = {b_demo}, c = {c_demo}: exact p ours {p_demo:.6f} scipy {p_lib:.6f}; chi-square ours {mcnemar(demo_a, demo_b, exact=False)[2]:.6f} scipy {p_chi_lib:.6f}"
)
assert abs(p_demo - p_lib) < 1e-12 and abs(mcnemar(demo_a, demo_b, exact=False)[2] - p_chi_lib) < 1e-12

# %% [markdown]
# ## 7. The experiment
#
# > **Learning objectives**
# > - write the evaluation loop the experiment runs (chunks, both move orders, a strict tie rule)
# > - separate what debate buys from what precommitment buys
#
#
# Each held-out digit gets its honest claim (the true class) and, for the **random liar**, one
# lie drawn uniformly from the nine wrong classes. We also play against the **strongest liar**,
# who picks its lie knowing the image and the judge:
#
# - in a debate, play is deterministic, so the liar can simulate all nine debates and pick a lie
#   that wins if there is one: the honest side must win **all nine**;
# - with random pixels the liar must commit before the pixels are drawn, so it picks the lie that
#   beats the truth most often over 32 simulated draws, and is then judged on a fresh draw.
#
# Every condition is a 0/1 outcome per digit, so the Wilson interval applies (same digits in
# every column, so the columns are paired; differences are more certain than the overlapping
# intervals suggest).

# %% [markdown]
# ### The evaluation loop (integration exercise)
#
# Every debate number below comes from one loop that you now write: play the debates over a set
# of held-out digits, in chunks (the search debater's tree grows with the batch), and score each
# game by the judge's verdict between the honest claim (the true class) and the lie.
#
# **The tie rule.** A judge that gives the truth and the lie exactly the same logit has not
# preferred the truth, so *a tie counts as a wrong verdict*, in every condition of this notebook
# (judge alone, precommit and debate alike). `play_debate` breaks ties towards the first mover,
# which would hand the tie to the honest side in half the games and to the liar in the other
# half; the evaluation therefore asks the judge again on the revealed pixels and requires
# $\ell_{\text{truth}} > \ell_{\text{lie}}$ strictly. (With a float judge ties are rare, but a
# saturated or quantised judge ties often, and a lenient rule would then flatter one side.)
#
# > **Difficulty** 🔴🔴🔴⚪⚪ · **Importance** 🔵🔵🔵🔵🔵 · **Time** ~20 min
#
# **Exercise.** Implement `evaluate_debate(judge, images, truth, lies, k, honest_strategy,
# liar_strategy, honest_first=True, chunk=256)`: for each chunk of at most `chunk` games, play
# `play_debate` with the honest debater first (or the liar first when `honest_first` is false),
# rebuild the revealed mask from the returned moves (a −1 reveals nothing), ask the judge, and
# score the game. Return the accuracy (a Python float), the per-game outcomes and the moves.
#
# <details><summary>Hint 1</summary>
#
# When the liar moves first, its claim is `first_claims` and its strategy `first_strategy`:
# swap both, not just one.
#
# </details>
#
# <details><summary>Hint 2</summary>
#
# The winners returned by `play_debate` use the first-mover tie rule: do not use them. Rebuild
# the mask from `moves` with `revealed[rows[played], moves[played]] = True`, where
# `played = moves >= 0`, and compare the two logits yourself.
#
# </details>
#
# <details><summary>Hint 3 (pseudocode)</summary>
#
# ```
# outcomes, all_moves = [], []
# for start in 0, chunk, 2*chunk, ... < N:
#     x, t, l = the slice of images, truth, lies
#     claims and strategies in the mover order -> _, moves = play_debate(...)
#     revealed [b, 64] = False; set the played pixels; logits = judge(reveal_input(x, revealed))
#     outcomes += logits[b, t[b]] > logits[b, l[b]]   (strictly)
#     all_moves += moves
# correct = cat(outcomes); return correct.float().mean().item(), correct, cat(all_moves)
# ```
#
# </details>


# %%
@torch.no_grad()
def evaluate_debate(
    judge,
    images: torch.Tensor,
    truth: torch.Tensor,
    lies: torch.Tensor,
    k: int,
    honest_strategy,
    liar_strategy,
    honest_first: bool = True,
    chunk: int = 256,
) -> tuple[float, torch.Tensor, torch.Tensor]:
    """Play one debate per image and score the judge's verdicts (a tie counts as wrong).

    Args:
        judge: callable, [N, 2, 8, 8] -> [N, 10] logits.
        images: [N, 8, 8]; truth, lies: [N] long, the honest claim and the lie (never equal).
        k: pixels revealed per debate.
        honest_strategy, liar_strategy: strategies (see ``play_debate``).
        honest_first: whether the honest debater moves first.
        chunk: at most this many games per ``play_debate`` call.

    Returns:
        (accuracy, correct, moves): accuracy a Python float, the fraction of games where the judge's
        logit for the truth is strictly above the lie's; correct [N] bool per game; moves [N, k] long.
    """
    ### BEGIN SOLUTION
    outcomes, all_moves = [], []
    for start in range(0, len(images), chunk):
        x, t, lie = images[start : start + chunk], truth[start : start + chunk], lies[start : start + chunk]
        if honest_first:
            _, moves = play_debate(judge, x, t, lie, k, honest_strategy, liar_strategy)
        else:
            _, moves = play_debate(judge, x, lie, t, k, liar_strategy, honest_strategy)
        B = len(x)
        rows = torch.arange(B, device=x.device)
        played = moves >= 0
        revealed = torch.zeros(B, 64, dtype=torch.bool, device=x.device)
        revealed[rows[:, None].expand_as(moves)[played], moves[played]] = True
        logits = judge(reveal_input(x, revealed.view(B, 8, 8)))
        outcomes.append(logits[rows, t] > logits[rows, lie])
        all_moves.append(moves)
    correct = torch.cat(outcomes)
    return correct.float().mean().item(), correct, torch.cat(all_moves)
    ### END SOLUTION


# %%
check("w11_debate.evaluate_debate", evaluate_debate)
### BEGIN HIDDEN TESTS
check("w11_debate.evaluate_debate", evaluate_debate, hidden=True)
### END HIDDEN TESTS

# %% [markdown]
# **Predict, then run.** At $k = 6$, rank the three judges of the table above (alone, precommit
# with random pixels, debate) and guess each accuracy against a random liar and against the
# strongest liar. Which gap do you expect to be larger: precommit − alone, or debate − precommit?

# %%
N_TEST = scale(N_HELD_OUT, 80)
LIE_DRAWS = 32  # simulated random-pixel draws from which the strongest precommitted lie is chosen
Xe, ye = X_test[:N_TEST], y_test[:N_TEST]
g_eval = torch.Generator(device=device).manual_seed(7)
random_lies = (ye + torch.randint(1, 10, (N_TEST,), generator=g_eval, device=device)) % 10


@torch.no_grad()
def random_pixel_outcomes(model, k: int, lies: torch.Tensor, seed: int = 11):
    """Outcomes with k random nonzero pixels: (judge alone, precommit vs lies, precommit vs strongest lie), the lies."""
    g = torch.Generator(device=device).manual_seed(seed)
    logits = model(reveal_input(Xe, random_reveal_mask(Xe, k, torch.rand(Xe.shape, generator=g, device=device))))
    truth_logit = logits.gather(-1, ye[:, None]).squeeze(-1)
    # the tie rule of evaluate_debate everywhere: a tie with any rival class counts as wrong
    alone = truth_logit > logits.scatter(1, ye[:, None], -math.inf).amax(-1)
    precommit = truth_logit > logits.gather(-1, lies[:, None]).squeeze(-1)
    # strongest precommitted lie: the wrong class that beats the truth most often over LIE_DRAWS other draws
    wins = torch.zeros(N_TEST, 10, device=device)
    for _ in range(LIE_DRAWS):
        sim = model(reveal_input(Xe, random_reveal_mask(Xe, k, torch.rand(Xe.shape, generator=g, device=device))))
        wins += (sim > sim.gather(-1, ye[:, None])).float()
    wins.scatter_(1, ye[:, None], -1.0)
    strongest = wins.argmax(-1)
    precommit_strong = truth_logit > logits.gather(-1, strongest[:, None]).squeeze(-1)
    return alone, precommit, precommit_strong, strongest


def debate_outcomes(model, k: int, lies: torch.Tensor, honest, liar, chunk=256):
    """Per-digit honest wins (a tie counts as a loss), (honest first, liar first)."""
    honest_first = evaluate_debate(model, Xe, ye, lies, k, honest, liar, True, chunk)[1]
    liar_first = evaluate_debate(model, Xe, ye, lies, k, honest, liar, False, chunk)[1]
    return honest_first, liar_first


def strongest_liar_outcomes(model, k: int, honest, liar, chunk=256, orders=(True, False)):
    """Honest wins against every one of the nine lies, one [N] tensor per order in ``orders`` (honest first?).

    A digit the honest side has lost is not replayed against the remaining lies: it is lost already.
    """
    results = []
    for honest_first in orders:
        alive = torch.ones(N_TEST, dtype=torch.bool, device=device)
        for shift in range(1, 10):
            idx = alive.nonzero().squeeze(-1)
            if len(idx) == 0:
                break
            x, t = Xe[idx], ye[idx]
            alive[idx] = evaluate_debate(model, x, t, (t + shift) % 10, k, honest, liar, honest_first, chunk)[1]
        results.append(alive)
    return tuple(results)


def table_outcomes(model, k: int) -> dict[str, torch.Tensor]:
    """Every row of the table for one judge and one k: per-digit outcomes (and the hard lies)."""
    alone, pre, pre_strong, hard_lies = random_pixel_outcomes(model, k, random_lies)
    d_hf, d_lf = debate_outcomes(model, k, random_lies, greedy_move, greedy_move)
    s_hf, s_lf = strongest_liar_outcomes(model, k, greedy_move, greedy_move)
    return dict(
        alone=alone, pre=pre, pre_strong=pre_strong, d_hf=d_hf, d_lf=d_lf, s_hf=s_hf, s_lf=s_lf, hard_lies=hard_lies
    )


PAPER = {4: {"judge alone": "48.2%", "debate": "85.2%"}, 6: {"judge alone": "59.4%", "debate": "88.9%"}}
rows, outcomes = [], {}
for k in progress((4, 6), desc="table"):
    outcomes[k] = table_outcomes(judge, k)
    alone, pre, pre_strong, d_hf, d_lf, s_hf, s_lf = (
        outcomes[k][c] for c in ("alone", "pre", "pre_strong", "d_hf", "d_lf", "s_hf", "s_lf")
    )
    rows += [
        (k, "judge alone (10 classes)", "—", fmt_ci(alone), PAPER[k]["judge alone"]),
        (k, "precommit, random pixels", "random", fmt_ci(pre), ""),
        (k, "debate, honest first", "random", fmt_ci(d_hf), ""),
        (k, "debate, liar first", "random", fmt_ci(d_lf), ""),
        (k, "precommit, random pixels", "strongest", fmt_ci(pre_strong), ""),
        (k, "debate, honest first", "strongest", fmt_ci(s_hf), PAPER[k]["debate"]),
        (k, "debate, liar first", "strongest", fmt_ci(s_lf), ""),
    ]
table = pd.DataFrame(rows, columns=["k", "condition", "liar", f"ours (n={N_TEST}, 95% Wilson)", "paper (MNIST)"])
display(table.set_index(["k", "condition", "liar"]))

# Paired tests on the same digits (k = 6): is debate better than the judge alone, and than precommitment alone?
for name, other in (("judge alone", "alone"), ("precommit, random pixels", "pre")):
    b_, c_, p_ = mcnemar(outcomes[6]["d_hf"], outcomes[6][other])
    print(
        f"k = 6, debate (honest first, random liar) vs {name}: debate alone right on {b_} digits, "
        f"{name} alone right on {c_}; McNemar exact p = {p_:.2g}"
    )

# %% [markdown]
# Read the table from top to bottom for each $k$:
#
# - **Judge alone** is weak: with a handful of random pixels, ten classes are hard to tell apart.
#   (The paper's MNIST column is context, not a target: an $8\times 8$ pixel carries more of the
#   digit than a $28\times 28$ one, so equal $k$ is not equal evidence.)
# - **Precommitment alone** does most of the work against a random liar: deciding between the
#   truth and one random wrong class from random pixels is already far easier than naming the
#   digit. This is the control the original table lacked.
# - **Debate** adds to that: with pixels chosen adversarially by both sides, the judge gets to
#   see exactly the evidence that separates the two claims. Against the random liar it is right
#   nearly always.
# - Against the **strongest liar** everything drops, and this is the fairest comparison to the
#   paper's debate number (its liar chooses its lie too). The gap between "precommit, random
#   pixels" and "debate" is the part of the improvement that debate, not precommitment, buys.
#
# ### Seeds: how much of the table is the judge's luck?
#
# The Wilson intervals above cover one source of chance only: *which* digits happen to be held
# out. The judge is random too: its initial weights, its training batches and the pixels it was
# trained on all come from a seed. A different seed gives a different judge, and every number of
# the table moves with it. So we retrain the judge with further seeds (`JUDGE_SEEDS`; the judge
# above is seed 0) and replay the headline rows, against the strongest liar, on the **same**
# held-out digits and the same random pixels. For each row we report the mean over the $S$ seeds
# with a 95% interval from Student's $t$ distribution,
# $ar a \pm t_{0.975,\,S-1}\, s / \sqrt{S}$ ($s$: the standard deviation across seeds),
# next to the Wilson interval of the seed-0 judge.
#
# The two intervals answer different questions (the first: where is the *average* judge? the
# second: where is *this* judge's accuracy on all digits like ours?), so to compare the two
# sources of variation we compare standard deviations of one judge's accuracy: $s$ across seeds,
# against the binomial $\sqrt{ar a (1 - ar a)/n}$ from sampling $n$ test digits.

# %% [markdown]
# **Predict, then run.** Which moves a judge's accuracy more: retraining it with another seed,
# or drawing another set of held-out digits? Does your answer differ between the judge alone and
# debate against the strongest liar?

# %%
from IPython.display import Markdown
from scipy.stats import t as student_t

JUDGE_SEEDS = (0, 1, 2)
HEADLINE = {
    "judge alone (10 classes)": "alone",
    "precommit, random pixels": "pre_strong",
    "debate, honest first": "s_hf",
}


def headline_outcomes(model, k: int) -> dict[str, torch.Tensor]:
    """The headline rows against the strongest liar (debate: honest first) for one judge."""
    alone, _, pre_strong, _ = random_pixel_outcomes(model, k, random_lies)
    (s_hf,) = strongest_liar_outcomes(model, k, greedy_move, greedy_move, orders=(True,))
    return dict(alone=alone, pre_strong=pre_strong, s_hf=s_hf)


seed_outcomes = {0: outcomes}  # the judge above
for seed in progress(JUDGE_SEEDS[1:], desc="seeds"):
    torch.manual_seed(seed)
    seed_judge = train_judge(SparseJudge().to(device), TRAIN_STEPS, seed=seed, plot=False)
    seed_outcomes[seed] = {k: headline_outcomes(seed_judge, k) for k in (4, 6)}

t95 = float(student_t.ppf(0.975, len(JUDGE_SEEDS) - 1))
seed_rows, seeds_larger = [], []
for k in (4, 6):
    for condition, key in HEADLINE.items():
        acc = np.array([seed_outcomes[s][k][key].float().mean().item() for s in JUDGE_SEEDS])
        mean, sd = acc.mean(), acc.std(ddof=1)
        sampling_sd = math.sqrt(mean * (1 - mean) / N_TEST)
        seeds_larger.append(sd > sampling_sd)
        seed_rows.append(
            (k, condition)
            + tuple(f"{a:.1%}" for a in acc)
            + (
                f"{mean:.1%} ± {100 * t95 * sd / math.sqrt(len(acc)):.1f}",
                fmt_ci(seed_outcomes[0][k][key]),
                f"{100 * sd:.1f}",
                f"{100 * sampling_sd:.1f}",
            )
        )
seed_table = pd.DataFrame(
    seed_rows,
    columns=["k", "condition (strongest liar)"]
    + [f"seed {s}" for s in JUDGE_SEEDS]
    + [
        f"mean ± 95% over {len(JUDGE_SEEDS)} seeds (t, ± points)",
        f"seed 0 (n={N_TEST}, 95% Wilson)",
        "sd across seeds (points)",
        "sd from test sampling (points)",
    ],
).set_index(["k", "condition (strongest liar)"])
display(seed_table)
n_rows, n_seeds_larger = len(seeds_larger), int(sum(seeds_larger))
if n_seeds_larger == 0:
    verdict = "**test-set sampling is the larger source of variation in every row**"
elif n_seeds_larger == n_rows:
    verdict = "**the judge's seed is the larger source of variation in every row**"
else:
    verdict = (
        f"the judge's seed is the larger source of variation in {n_seeds_larger} of the {n_rows} rows "
        f"and test-set sampling in the other {n_rows - n_seeds_larger}"
    )


def seed_gaps(better: str, worse: str, k: int) -> str:
    """The smallest and largest accuracy gap between two rows over the seeds, in points."""
    gaps = [
        100 * (seed_outcomes[s][k][better].float().mean() - seed_outcomes[s][k][worse].float().mean()).item()
        for s in JUDGE_SEEDS
    ]
    return f"{min(gaps):+.1f} to {max(gaps):+.1f}"


gap_lines = "".join(
    f"\n- k = {k}: debate over precommit {seed_gaps('s_hf', 'pre_strong', k)} points, "
    f"precommit over the judge alone {seed_gaps('pre_strong', 'alone', k)} points across the seeds"
    for k in (4, 6)
)
display(
    Markdown(
        f"With {len(JUDGE_SEEDS)} judges on the same {N_TEST} digits, {verdict} "
        f"(sd across seeds against the binomial sd of one judge's accuracy, last two columns). "
        f"The gaps against the strongest liar, per seed:{gap_lines}"
    )
)

# %% [markdown]
# Read the last two columns together. Where the seeds' spread is below the sampling spread, the
# Wilson intervals of the table already cover most of the chance in its numbers; where it is
# above, one judge's table can mislead by more than its intervals say, and only more seeds (not
# more test digits) would fix that. Two cautions: with this few seeds, $s$ is itself a rough
# estimate (an order of magnitude, not a precise number), and the $t$ interval for the mean is
# wide because $t_{0.975,\,S-1}$ is large for small $S$. The gaps the table is about, debate
# over precommitment and precommitment over the judge alone, should be compared with both
# spreads: a gap that survives every seed is a property of the method, not of one judge.
#
# ### Does search help, and whom?
#
# Now the strategy matrix: each side plays greedy or depth-limited search, on a subset of digits.
# A random lie is too easy to refute for search to matter, so here the liar argues the **hard
# lie**: the wrong class that most often beats the truth with random pixels (the strongest
# precommitted lie of the table). If truth is easier to defend, better play should help the
# honest side at least as much as the liar.

# %% [markdown]
# **Predict, then run.** Will depth-2 search change the honest side's win rate by more than a few
# points, for either side? In what share of games do you expect it to pick other pixels than
# greedy?

# %%
SEARCH_GAMES = scale(N_HELD_OUT if use_gpu else 150, 12)
Xs, ys = Xe[:SEARCH_GAMES], ye[:SEARCH_GAMES]
players = {"greedy": greedy_move, f"search d={search_depth}": search}
search_rows = []
for k in progress((4, 6), desc="search matrix"):
    lies = outcomes[k]["hard_lies"][:SEARCH_GAMES]
    baseline = None  # the moves of greedy vs greedy, to count games where search changed the play
    for hname, hs in players.items():
        for lname, ls in players.items():
            _, c_hf, m_hf = evaluate_debate(judge, Xs, ys, lies, k, hs, ls, True, search_chunk)
            _, c_lf, m_lf = evaluate_debate(judge, Xs, ys, lies, k, hs, ls, False, search_chunk)
            baseline = baseline or (m_hf, m_lf)
            changed = torch.cat([(m_hf != baseline[0]).any(1), (m_lf != baseline[1]).any(1)]).float().mean().item()
            search_rows.append((k, hname, lname, fmt_ci(c_hf), fmt_ci(c_lf), f"{changed:.0%}"))
pd.DataFrame(
    search_rows,
    columns=[
        "k",
        "honest",
        "liar",
        "honest wins (honest first)",
        "honest wins (liar first)",
        "other moves than greedy",
    ],
).set_index(["k", "honest", "liar"])

# %% [markdown]
# Search changes *which* pixels are revealed in a large share of the games (last column), yet
# the verdicts barely move. On $8 \times 8$ digits with about 30 legal pixels, a debate of four to
# six moves is decided by whether a refuting pixel exists at all, and a greedy debater already
# finds it; the last move, where greedy is exactly optimal, carries much of the weight. The
# paper's MNIST debaters needed Monte Carlo tree search because a $28 \times 28$ image offers
# hundreds of candidate pixels and longer-range plans. A GPU run (`search_depth = 3`, all 500
# digits) is the place to look for smaller effects.
#
# ### Accuracy against the number of pixels
#
# The same comparison for $k$ from 1 to 10 (greedy debaters, random liar):

# %% [markdown]
# **Predict, then run.** Sketch the four curves for $k = 1 \dots 10$. What happens to "debate,
# liar first" at $k = 1$, and why should odd and even $k$ differ?

# %%
K_SWEEP = (1, 2, 3, 4, 5, 6, 8, 10) if not quick() else (1, 2, 3, 6)
sweep = {name: [] for name in ("judge alone", "precommit, random pixels", "debate, honest first", "debate, liar first")}
for k in progress(K_SWEEP, desc="k sweep"):
    if k in outcomes:  # k = 4 and 6: already played for the table
        alone, pre, d_hf, d_lf = (outcomes[k][c] for c in ("alone", "pre", "d_hf", "d_lf"))
    else:
        alone, pre, _, _ = random_pixel_outcomes(judge, k, random_lies)
        d_hf, d_lf = debate_outcomes(judge, k, random_lies, greedy_move, greedy_move)
    for name, hits in zip(sweep, (alone, pre, d_hf, d_lf)):
        sweep[name].append(hits)
display(
    pd.DataFrame(
        {name: [f"{h.float().mean().item():.1%}" for h in hits_list] for name, hits_list in sweep.items()},
        index=pd.Index(K_SWEEP, name="k (random liar)"),
    ).T
)

fig, ax = plt.subplots(figsize=(7, 4))
for (name, hits_list), marker in zip(sweep.items(), "osD^"):
    acc = [h.float().mean().item() for h in hits_list]
    cis = [wilson_interval(int(h.sum()), len(h)) for h in hits_list]
    err = np.clip([[a - lo for a, (lo, _) in zip(acc, cis)], [hi - a for a, (_, hi) in zip(acc, cis)]], 0, None)
    ax.errorbar(K_SWEEP, acc, yerr=err, marker=marker, capsize=3, label=name)
strong = [outcomes[k]["s_hf"].float().mean().item() for k in (4, 6)]
ax.plot([4, 6], strong, "P", color="tab:purple", ms=9, label="ours: debate vs strongest liar")
for key, marker in (("judge alone", "+"), ("debate", "x")):
    paper = [float(PAPER[k][key].rstrip("%")) / 100 for k in (4, 6)]
    ax.plot([4, 6], paper, "k" + marker, ms=11, mew=2, label=f"paper: {key} (MNIST)")
ax.set_xlabel("k, pixels revealed")
ax.set_ylabel("judge accuracy (held out, 95% CI)")
ax.set_ylim(0, 1.02)
ax.grid(alpha=0.3)
ax.legend(fontsize=8, loc="lower right")
ax.set_title("judge accuracy vs k (greedy debaters; lines: random liar)")
plt.show()

# %% [markdown]
# The saw-tooth in the "liar first" curve is the first place where the assumption breaks. With
# an **odd** $k$ the first player reveals one pixel more than the second, and the last word is
# also theirs. At $k = 1$ the debate is a monologue: whoever moves first shows the single pixel
# that best supports their claim, and the judge believes it. A liar who moves first at $k = 1$
# wins almost every game; an honest one almost never loses. At $k = 3$ the liar gets two pixels
# against one. With even $k$ the two orders give the same accuracy within the noise.
#
# Here is a liar who goes first with $k = 3$ and wins: two well-chosen pixels against one.

# %%
example, example_truth, example_lie = find_example(judge, k=3, lie_shift=3, honest_first=False, want_honest_win=False)
_ = draw_debate(judge, X_test[example], example_truth, example_lie, k=3, honest_first=False)

# %% [markdown]
# ## 8. Where "truth is easier to defend" breaks
#
# > **Learning objectives**
# > - show how a weaker judge and the move order break debate's central assumption
#
#
# The debate result rests on two things: that the honest debater can always find a refutation,
# and that the judge recognises it. Our setup lets us break each.
#
# **A judge that is too weak.** Replace the MLP judge by a linear one (a logistic regression on
# the same two channels), trained the same way. A linear judge adds up evidence pixel by pixel
# and cannot represent "this pixel *together with* that one rules out a 7", which is exactly the
# kind of refutation debate relies on.

# %% [markdown]
# **Predict, then run.** Will a linear judge lose more accuracy alone, or in debate against the
# strongest liar? By how much at $k = 6$?

# %%
linear_judge = train_judge(nn.Sequential(nn.Flatten(-3), nn.Linear(128, 10)).to(device), TRAIN_STEPS, seed=1)
weak_rows, weak_outcomes = [], {}
for name, k6 in (("MLP judge", outcomes[6]), ("linear judge", table_outcomes(linear_judge, 6))):  # MLP: from the table
    alone, pre, d_hf, pre_strong, s_hf, s_lf = (k6[c] for c in ("alone", "pre", "d_hf", "pre_strong", "s_hf", "s_lf"))
    weak_outcomes[name] = s_hf
    weak_rows.append((name, fmt_ci(alone), fmt_ci(pre), fmt_ci(d_hf), fmt_ci(pre_strong), fmt_ci(s_hf), fmt_ci(s_lf)))
weak_table = pd.DataFrame(
    weak_rows,
    columns=[
        "k = 6",
        "judge alone",
        "precommit (random liar)",
        "debate (random liar)",
        "precommit (strongest liar)",
        "debate, honest first (strongest)",
        "debate, liar first (strongest)",
    ],
).set_index("k = 6")
display(weak_table)
mlp_strong, lin_strong = weak_outcomes["MLP judge"], weak_outcomes["linear judge"]
b_w, c_w, p_w = mcnemar(mlp_strong, lin_strong)
print(
    f"debate vs the strongest liar, honest first, k = 6: MLP judge {fmt_ci(mlp_strong)}, "
    f"linear judge {fmt_ci(lin_strong)}; McNemar b = {b_w}, c = {c_w}, exact p = {p_w:.2g}"
)

# %% [markdown]
# The weaker judge loses ground everywhere except where the game is easy. Against a random lie,
# debate hides the weakness almost completely: the honest side has plenty of refuting pixels and
# even a linear judge adds them up correctly. Against the strongest liar the gap reopens (the
# numbers and the paired test are printed above): when the judge cannot combine evidence, a liar who picks
# a confusable class and the right ink wins more debates. Debate amplifies the judge; it does
# not replace it.
#
# **Other ways the assumption fails here:**
#
# - **Who moves first, and who speaks last.** Shown above: at odd $k$ the first player has more
#   evidence, and at $k = 1$ debate degenerates into persuasion by a single cherry-picked pixel.
#   Real protocols must give the honest side a chance to answer every claim.
# - **Ambiguous inputs.** Some digits really do look like another class from any few pixels.
#   Then the lie is "defensible" and the strongest liar wins; the residual error against the
#   strongest liar is mostly such digits.
# - **Judge exploits.** The judge was trained on *random* pixels; debaters choose pixels
#   adversarially, off the training distribution. A liar that finds inputs the judge
#   misclassifies (an adversarial example built from real pixels) wins without a good argument.
#   Training the judge on debate transcripts, or judges that abstain, are the usual answers.
# - **Unequal debaters.** Everything above pits equally capable debaters. A liar with deeper
#   search than the honest side, or an honest side that cannot find the refutation in time, is
#   the realistic worry for language-model debates ("obfuscated arguments": a lie whose flaw is
#   real but too hard to locate).
#
# ## What could go wrong in practice
#
# - **Crediting debate for what precommitment did.** Compare against a two-choice judge with
#   random evidence, not only against the unaided judge; otherwise the headline overstates
#   debate's contribution.
# - **An easy liar.** A liar who picks its lie at random is a weak opponent. Report the strongest
#   liar you can afford (all lies, search), and say which you used.
# - **Overlapping intervals on small test sets.** With 500 digits a 95% interval is several
#   points wide; differences between conditions on the same digits are better tested with
#   paired tests (e.g. McNemar's) than by eyeballing intervals.
# - **Leakage into the judge.** A bug that passes the full image (or the unmasked value channel)
#   to the judge makes debate look perfect. The `reveal_input` check exists for this reason.
# - **Evaluating on training digits.** The judge memorises training digits; measured on them the
#   debate looks better than it is. Every number here is on held-out digits.
# - **A judge that ties.** Float logits almost never tie, but a saturated or quantised judge
#   does, and then the tie rule silently favours one side. Fix the rule and report it: here a tie
#   never counts as a correct verdict, in every condition (`evaluate_debate`,
#   `random_pixel_outcomes`), while `play_debate` itself gives ties to the first mover.
# - **Quoting another dataset's numbers as a benchmark.** The paper's 59.4% → 88.9% is on
#   $28\times 28$ MNIST; $k$ pixels of an $8\times 8$ digit are much more evidence. The paper
#   itself also plays debate *without* precommitment (claims not fixed in advance), a harder game
#   for the honest side; precommitment is part of the protocol, and the control above shows how
#   much of the gain it buys on its own.
#
# ## ☆ Bonus
#
# Optional, ungraded, harder:
#
# 1. **Debate without precommitment.** Let the liar choose its claim *after* seeing the revealed
#    pixels (the verdict between the truth and the best wrong class for the liar). How far does
#    the debate column fall? Compare with the "strongest liar" rows.
# 2. **A judge trained on debates.** Fine-tune the judge on the pixels greedy debaters reveal
#    (labels: the true class). Does the liar-first advantage at odd $k$ shrink?
# 3. **Monte Carlo tree search.** Replace `negamax` by a small MCTS (the paper's choice) and
#    compare its moves with depth-2 search at equal judge calls.
#
# ## Interview questions
#
# 1. State the assumption that makes debate work. Give a concrete situation in which it fails.
#    (What assumptions must hold for debate to work in practice?)
# 2. Why does precommitment matter? What would a liar do if it could change its claim after
#    seeing the honest debater's first move?
# 3. In our table, how much of the improvement over the unaided judge is due to debate and how
#    much to turning a ten-way choice into a two-way one? How did you measure it, and why is
#    McNemar's test the right test for the difference?
# 4. Why is the game zero-sum, and how does that let one negamax function serve both players?
#    When is depth-1 search (greedy) already optimal?
# 5. The judge was trained on random pixels but judges adversarially chosen ones. What failure
#    can this cause, and how would you train a judge for debate instead?
# 6. Why is the Wald interval a poor choice for an accuracy of 98% on 500 examples? What does the
#    Wilson interval do instead?
# 7. How does debate relate to other scalable-oversight proposals (recursive reward modelling,
#    iterated amplification, weak-to-strong generalisation)? What does each assume about the
#    overseer?
