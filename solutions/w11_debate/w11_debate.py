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
# We use scikit-learn's bundled $8\times 8$ digits (`load_digits`, no download), so the absolute
# numbers differ from MNIST's; the *shape* of the table is what we check, always on held-out
# digits and with confidence intervals.
#
# This week you implement:
#
# 1. the judge's input and how it is trained (`reveal_input`, `random_reveal_mask`);
# 2. the verdict and the game (`judge_verdict`, `move_margins`, `play_debate`);
# 3. a debater that searches ahead (`negamax`);
# 4. the statistics for an honest comparison (`wilson_interval`).

# %%
import math

import matplotlib.pyplot as plt
from matplotlib import patheffects
import numpy as np
import pandas as pd
import torch
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
# *Hint:* `torch.stack([...], dim=-3)`.


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
# *Hints:* flatten the two pixel dimensions so that "top $k$ per image" is a `topk` over the last
# dimension; give zero pixels a score of `-inf`; build the mask with `scatter`; and remember that
# `topk` always returns $k$ indices, even when fewer than $k$ pixels were candidates.


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
    model: nn.Module, steps: int, ks: tuple[int, ...] = (2, 3, 4, 5, 6, 7, 8, 10), batch: int = 256, seed: int = 0
) -> nn.Module:
    """Train ``model`` to classify digits from random subsets of k nonzero pixels (k cycles over ``ks``)."""
    g = torch.Generator(device=X_train.device).manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    live = LivePlot(
        ["loss", "accuracy"], every=max(1, steps // len(ks) // 10), title=f"training {type(model).__name__}"
    )
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
        window_loss.append(loss.item())
        window_acc.append((logits.argmax(-1) == y_train[idx]).float().mean().item())
        if len(window_loss) == len(ks):  # one full cycle of k values, so the curve is not a saw-tooth
            live.update(step, loss=np.mean(window_loss), accuracy=np.mean(window_acc))
            window_loss, window_acc = [], []
    plt.close(live.show())  # the final curves are displayed by show(); close the returned copy
    return model.eval()


TRAIN_STEPS = scale(2000, 150)
judge = train_judge(SparseJudge().to(device), TRAIN_STEPS)

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
# After the debate the judge does not name a digit: it chooses between the two precommitted
# claims, whichever has the higher logit. (Comparing logits, probabilities or log-probabilities
# gives the same answer, since softmax is monotonic.) A tie must be broken by a fixed rule; ours:
# a tie goes to `claim_a`.
#
# **Exercise.** Implement `judge_verdict(judge_logits, claim_a, claim_b)`.


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
# *Hints:* the 64 candidate masks of a game are `revealed | one_hot(p)`: broadcast
# `revealed.reshape(B, 1, 64)` against `torch.eye(64, dtype=torch.bool)`. Call the judge once on a
# `[B * 64, 2, 8, 8]` batch. Pick the claims' logits with `gather`. Create new tensors on the
# input's device.


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
# *Hint:* keep `revealed` as a `[B, 64]` bool tensor and pass `revealed.view(B, 8, 8)` to the
# strategies. Careful with −1: `revealed[b, -1] = True` would reveal the last pixel.


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
# *Hints:* `legal.nonzero(as_tuple=True)` gives one `(game, pixel)` pair per legal move; build
# all the child positions as one batch (`images[game]`, a copy of `revealed[game]` with that
# pixel set) and recurse **once** with `depth - 1` and the claims swapped; scatter the negated
# child values into a `[B, 64]` tensor filled with `-inf`; `argmax` picks the first best.


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
# then the replies): cheap on a GPU, a few milliseconds per move on a CPU. We play games in
# chunks to bound memory.


# %%
def search_strategy(depth: int):
    """A strategy that plays the negamax move with min(depth, moves_left) moves of lookahead."""

    def strategy(judge, images, revealed, my_claims, other_claims, moves_left):
        return negamax(judge, images, revealed, my_claims, other_claims, min(depth, moves_left))[0]

    strategy.__name__ = f"search(depth={depth})"
    return strategy


@torch.no_grad()
def run_games(model, images, first_claims, second_claims, k, first_strategy, second_strategy, chunk=512):
    """play_debate over many games, ``chunk`` games at a time; returns (winners [N], moves [N, k])."""
    winners, moves = [], []
    for start in range(0, len(images), chunk):
        sl = slice(start, start + chunk)
        w, m = play_debate(model, images[sl], first_claims[sl], second_claims[sl], k, first_strategy, second_strategy)
        winners.append(w)
        moves.append(m)
    return torch.cat(winners), torch.cat(moves)


search_depth = 3 if use_gpu else 2
search_chunk = 32 if search_depth <= 2 or use_gpu else 2  # games per batch: bounds the search tree's memory
search = search_strategy(search_depth)

# %% [markdown]
# ## 6. Confidence intervals
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
# ## 7. The experiment
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

# %%
N_TEST = scale(N_HELD_OUT, 80)
Xe, ye = X_test[:N_TEST], y_test[:N_TEST]
g_eval = torch.Generator(device=device).manual_seed(7)
random_lies = (ye + torch.randint(1, 10, (N_TEST,), generator=g_eval, device=device)) % 10


@torch.no_grad()
def random_pixel_outcomes(model, k: int, lies: torch.Tensor, seed: int = 11):
    """Outcomes with k random nonzero pixels: (judge alone, precommit vs lies, precommit vs strongest lie), the lies."""
    g = torch.Generator(device=device).manual_seed(seed)
    logits = model(reveal_input(Xe, random_reveal_mask(Xe, k, torch.rand(Xe.shape, generator=g, device=device))))
    alone = logits.argmax(-1) == ye
    truth_logit = logits.gather(-1, ye[:, None]).squeeze(-1)
    precommit = truth_logit >= logits.gather(-1, lies[:, None]).squeeze(-1)
    # strongest precommitted lie: the wrong class that beats the truth most often over 32 other draws
    wins = torch.zeros(N_TEST, 10, device=device)
    for _ in range(32):
        sim = model(reveal_input(Xe, random_reveal_mask(Xe, k, torch.rand(Xe.shape, generator=g, device=device))))
        wins += (sim > sim.gather(-1, ye[:, None])).float()
    wins.scatter_(1, ye[:, None], -1.0)
    strongest = wins.argmax(-1)
    precommit_strong = truth_logit >= logits.gather(-1, strongest[:, None]).squeeze(-1)
    return alone, precommit, precommit_strong, strongest


@torch.no_grad()
def debate_outcomes(model, k: int, lies: torch.Tensor, honest, liar, images=None, truth=None, chunk=512):
    """Per-digit honest wins, (honest first, liar first)."""
    images = Xe if images is None else images
    truth = ye if truth is None else truth
    honest_first = run_games(model, images, truth, lies, k, honest, liar, chunk)[0] == truth
    liar_first = run_games(model, images, lies, truth, k, liar, honest, chunk)[0] == truth
    return honest_first, liar_first


@torch.no_grad()
def strongest_liar_outcomes(model, k: int, honest, liar, chunk=512):
    """Honest wins against every one of the nine lies, (honest first, liar first)."""
    hf = torch.ones(N_TEST, dtype=torch.bool, device=device)
    lf = torch.ones(N_TEST, dtype=torch.bool, device=device)
    for shift in range(1, 10):
        a, b = debate_outcomes(model, k, (ye + shift) % 10, honest, liar, chunk=chunk)
        hf &= a
        lf &= b
    return hf, lf


PAPER = {4: {"judge alone": "48.2%", "debate": "85.2%"}, 6: {"judge alone": "59.4%", "debate": "88.9%"}}
rows, outcomes = [], {}
for k in progress((4, 6), desc="table"):
    alone, pre, pre_strong, hard_lies = random_pixel_outcomes(judge, k, random_lies)
    d_hf, d_lf = debate_outcomes(judge, k, random_lies, greedy_move, greedy_move)
    s_hf, s_lf = strongest_liar_outcomes(judge, k, greedy_move, greedy_move)
    outcomes[k] = dict(
        alone=alone, pre=pre, pre_strong=pre_strong, d_hf=d_hf, d_lf=d_lf, s_hf=s_hf, s_lf=s_lf, hard_lies=hard_lies
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
table.set_index(["k", "condition", "liar"])

# %% [markdown]
# Read the table from top to bottom for each $k$:
#
# - **Judge alone** is weak: with a handful of random pixels, ten classes are hard to tell apart.
#   On $8\times 8$ digits our numbers land close to the paper's MNIST ones.
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
# ### Does search help, and whom?
#
# Now the strategy matrix: each side plays greedy or depth-limited search, on a subset of digits.
# A random lie is too easy to refute for search to matter, so here the liar argues the **hard
# lie**: the wrong class that most often beats the truth with random pixels (the strongest
# precommitted lie of the table). If truth is easier to defend, better play should help the
# honest side at least as much as the liar.

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
            w_hf, m_hf = run_games(judge, Xs, ys, lies, k, hs, ls, search_chunk)
            w_lf, m_lf = run_games(judge, Xs, lies, ys, k, ls, hs, search_chunk)
            baseline = baseline or (m_hf, m_lf)
            changed = torch.cat([(m_hf != baseline[0]).any(1), (m_lf != baseline[1]).any(1)]).float().mean().item()
            search_rows.append((k, hname, lname, fmt_ci(w_hf == ys), fmt_ci(w_lf == ys), f"{changed:.0%}"))
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

# %%
K_SWEEP = (1, 2, 3, 4, 5, 6, 8, 10) if not quick() else (1, 2, 3, 6)
sweep = {name: [] for name in ("judge alone", "precommit, random pixels", "debate, honest first", "debate, liar first")}
for k in progress(K_SWEEP, desc="k sweep"):
    alone, pre, _, _ = random_pixel_outcomes(judge, k, random_lies)
    d_hf, d_lf = debate_outcomes(judge, k, random_lies, greedy_move, greedy_move)
    for name, hits in zip(sweep, (alone, pre, d_hf, d_lf)):
        sweep[name].append(hits)

fig, ax = plt.subplots(figsize=(7, 4))
for (name, hits_list), marker in zip(sweep.items(), "osD^"):
    acc = [h.float().mean().item() for h in hits_list]
    cis = [wilson_interval(int(h.sum()), len(h)) for h in hits_list]
    err = np.clip([[a - lo for a, (lo, _) in zip(acc, cis)], [hi - a for a, (_, hi) in zip(acc, cis)]], 0, None)
    ax.errorbar(K_SWEEP, acc, yerr=err, marker=marker, capsize=3, label=name)
strong = [outcomes[k]["s_hf"].float().mean().item() for k in (4, 6)]
ax.plot([4, 6], strong, "P", color="tab:purple", ms=9, label="ours: debate vs strongest liar")
ax.plot([4, 6], [0.482, 0.594], "k+", ms=12, mew=2, label="paper: judge alone (MNIST)")
ax.plot([4, 6], [0.852, 0.889], "kx", ms=10, mew=2, label="paper: debate (MNIST)")
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
# The debate result rests on two things: that the honest debater can always find a refutation,
# and that the judge recognises it. Our setup lets us break each.
#
# **A judge that is too weak.** Replace the MLP judge by a linear one (a logistic regression on
# the same two channels), trained the same way. A linear judge adds up evidence pixel by pixel
# and cannot represent "this pixel *together with* that one rules out a 7", which is exactly the
# kind of refutation debate relies on.

# %%
linear_judge = train_judge(nn.Sequential(nn.Flatten(-3), nn.Linear(128, 10)).to(device), TRAIN_STEPS, seed=1)
weak_rows = []
for name, model in (("MLP judge", judge), ("linear judge", linear_judge)):
    alone, pre, pre_strong, _ = random_pixel_outcomes(model, 6, random_lies)
    d_hf, d_lf = debate_outcomes(model, 6, random_lies, greedy_move, greedy_move)
    s_hf, s_lf = strongest_liar_outcomes(model, 6, greedy_move, greedy_move)
    weak_rows.append((name, fmt_ci(alone), fmt_ci(pre), fmt_ci(d_hf), fmt_ci(pre_strong), fmt_ci(s_hf), fmt_ci(s_lf)))
pd.DataFrame(
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

# %% [markdown]
# The weaker judge loses ground everywhere except where the game is easy. Against a random lie,
# debate hides the weakness almost completely: the honest side has plenty of refuting pixels and
# even a linear judge adds them up correctly. Against the strongest liar the gap reopens (in our
# run about 90% versus 82% at $k = 6$): when the judge cannot combine evidence, a liar who picks
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
#   does, and then the tie rule silently favours one side. Fix the rule and report it.
#
# ## Interview questions
#
# 1. State the assumption that makes debate work. Give a concrete situation in which it fails.
# 2. Why does precommitment matter? What would a liar do if it could change its claim after
#    seeing the honest debater's first move?
# 3. In our table, how much of the improvement over the unaided judge is due to debate and how
#    much to turning a ten-way choice into a two-way one? How did you measure it?
# 4. Why is the game zero-sum, and how does that let one negamax function serve both players?
#    When is depth-1 search (greedy) already optimal?
# 5. The judge was trained on random pixels but judges adversarially chosen ones. What failure
#    can this cause, and how would you train a judge for debate instead?
# 6. Why is the Wald interval a poor choice for an accuracy of 98% on 500 examples? What does the
#    Wilson interval do instead?
# 7. How does debate relate to other scalable-oversight proposals (recursive reward modelling,
#    iterated amplification, weak-to-strong generalisation)? What does each assume about the
#    overseer?
