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
# # Week 3 — Reward models
#
# RLHF (next week) and DPO (week 5) both start from the same raw material: **pairs of responses
# to the same prompt, and a label saying which one a person preferred**. This week you turn such
# pairs into a *reward model*: a network that reads a prompt and a response and returns one
# number, higher for better responses. Next week a policy is optimised against that number, so
# every flaw it has becomes a flaw the policy will find.
#
# You will:
#
# 1. implement the **Bradley–Terry loss** that turns pairwise labels into a scalar reward;
# 2. build a **reward model** from the small world's tiny language model: the transformer body
#    plus a one-number head read at the last real token;
# 3. train it on the world's preference pairs and measure it against the world's **gold reward**
#    (which we know exactly, because the world is synthetic): held-out accuracy, how accuracy
#    degrades as the labels get noisier, **calibration** (a reliability diagram), and where it
#    disagrees with the gold reward;
# 4. train the same model with TRL's `RewardTrainer` and check that its loss equals yours.
#
# ## Why preferences rather than scores?
#
# We could ask labellers to score each response from 1 to 10 and regress on the scores. In
# practice this works badly:
#
# - **People disagree on the scale, not on the order.** One labeller's 6 is another's 8; the
#   same person drifts over a day. Asking "which of these two is better?" removes the scale
#   entirely: it is faster to answer and far more consistent between people.
# - **Only differences matter for optimisation.** A policy trained to maximise a reward is
#   unchanged if we add a constant to it. Preferences pin down exactly the part of the reward that
#   matters (differences between responses to the same prompt) and nothing else.
# - **Comparisons are cheap to collect in bulk**: show two samples from the current model, click
#   one. That is how InstructGPT, Llama 2 and most open preference datasets were built.
#
# The price is that a preference is one bit per pair, and noisy: people misclick, disagree, or
# are fooled by confident-sounding wrong answers. Both effects are measurable in our world.

# %%
import math
import random

import matplotlib.pyplot as plt
import torch
import torch.nn as nn
import torch.nn.functional as F

from courselib.config import quick, scale
from courselib.device import get_device, single_thread_on_cpu
from courselib.plots import LivePlot
from courselib.progress import progress
from courselib.seed import set_seed
from graders import check

set_seed(0)
device = get_device()
single_thread_on_cpu(device)  # tiny models: one CPU thread is as fast and copes with busy machines
print(f"PyTorch {torch.__version__}, running on {device}; quick mode: {quick()}")

# %% [markdown]
# ## 1. The Bradley–Terry model
#
# > **Learning objectives**
# > - derive the Bradley–Terry loss from a model of pairwise comparisons
# > - compute it stably, with an optional margin, so that gradients reach both rewards
#
# Bradley and Terry (1952) model a comparison between two items as a coin whose bias depends on
# the difference of their hidden "strengths". With a reward $r_\phi(x, y)$ for response $y$ to
# prompt $x$:
#
# $$P(y_c \succ y_r \mid x) = \sigma\big(r_\phi(x, y_c) - r_\phi(x, y_r)\big),
# \qquad \sigma(z) = \frac{1}{1 + e^{-z}}.$$
#
# Training maximises the log-likelihood of the observed labels, i.e. minimises
#
# $$\mathcal{L}(\phi) = -\,\mathbb{E}_{(x, y_c, y_r)}\Big[\log \sigma\big(r_\phi(x, y_c) - r_\phi(x, y_r) - m\big)\Big],$$
#
# where $m \ge 0$ is an optional **margin** (Llama 2 used one that grows with how strongly the
# labeller preferred $y_c$: "significantly better" pairs must be separated by more). Two things
# to notice:
#
# - the loss only sees the difference $r_c - r_r$, so adding a constant to every reward changes
#   nothing: rewards are identified only up to a shift (TRL's `center_rewards_coefficient` adds a
#   small penalty $\mathbb{E}[(r_c + r_r)^2]$ to keep them centred near zero);
# - $-\log\sigma(z) = \mathrm{softplus}(-z)$ is the logistic loss: a reward model is a binary
#   classifier on *differences*. Compute it stably (week 0: `log σ` of a very negative number
#   must not become `-inf`).
#
# **Exercise.** Implement `bradley_terry_loss(chosen_rewards, rejected_rewards, margin=None)`:
# the batch mean of $-\log\sigma(r_c - r_r - m)$, with $m = 0$ when `margin` is `None`.
# `torch.nn.functional.logsigmoid` is allowed (you wrote your own in week 0).
#
# > **Difficulty** 🔴⚪⚪⚪⚪ · **Importance** 🔵🔵🔵🔵🔵 · **Time** ~5 min
# >
# > **Must be differentiable:** gradients must flow back to `chosen_rewards`, `rejected_rewards` (the grader checks them).
#
# <details><summary>Hint 1</summary>
#
# $-\log\sigma(z)$ of a very negative $z$ is $\approx -z$, but `torch.log(torch.sigmoid(z))` gives `inf` there: `F.logsigmoid` does not.
#
# </details>
#
# <details><summary>Hint 2 (pseudocode)</summary>
#
# ```
# diff = chosen_rewards - rejected_rewards
# if margin is given: diff = diff - margin
# return mean over the batch of -logsigmoid(diff)
# ```
#
# </details>


# %%
def bradley_terry_loss(
    chosen_rewards: torch.Tensor, rejected_rewards: torch.Tensor, margin: torch.Tensor | float | None = None
) -> torch.Tensor:
    """Negative log-likelihood of the preferences under the Bradley–Terry model.

    Args:
        chosen_rewards: [B] rewards of the preferred responses.
        rejected_rewards: [B] rewards of the other responses (same prompts, same order).
        margin: None, a float, or [B]: how far the chosen reward must exceed the rejected one.

    Returns:
        A scalar tensor: mean over the batch of -log σ(r_c - r_r - margin).
    """
    ### BEGIN SOLUTION
    diff = chosen_rewards - rejected_rewards
    if margin is not None:
        diff = diff - margin
    return -F.logsigmoid(diff).mean()
    ### END SOLUTION


# %%
check("w03_reward_models.bradley_terry_loss", bradley_terry_loss)
### BEGIN HIDDEN TESTS
check("w03_reward_models.bradley_terry_loss", bradley_terry_loss, hidden=True)
### END HIDDEN TESTS

# %% [markdown]
# The loss is $\log 2 \approx 0.693$ when the model cannot tell the two apart ($r_c = r_r$),
# falls towards 0 as the chosen reward pulls ahead, and grows linearly when the model is
# confidently wrong:

# %%
z = torch.linspace(-6, 6, 121)
fig, ax = plt.subplots(figsize=(5, 2.6))
ax.plot(z, [bradley_terry_loss(v[None], torch.zeros(1)).item() for v in z], label="margin 0")
ax.plot(z, [bradley_terry_loss(v[None], torch.zeros(1), margin=2.0).item() for v in z], label="margin 2")
ax.axhline(math.log(2), color="grey", lw=0.8, ls=":")
ax.set_xlabel("$r_c - r_r$")
ax.set_ylabel("loss")
ax.legend()
plt.show()

# %% [markdown]
# ## 2. A reward model from a language model
#
# > **Learning objectives**
# > - find the last real token of a padded batch, for left and right padding
# > - turn a causal transformer into a reward model with a one-output head read at that token
# > - write the training step that the rest of the week runs
#
# The standard recipe (InstructGPT, and `AutoModelForSequenceClassification` in transformers)
# starts from the supervised fine-tuned language model, drops the vocabulary head and puts a
# **linear head with one output** on the transformer body. A causal transformer's hidden state
# at position $t$ has seen tokens $0 \dots t$ only, so the one position that has read the whole
# prompt and response is the **last real token** (we end every response with `<|endoftext|>`,
# so that is where the reward is read).
#
# Batches are padded. With right padding the last real token of a row is at `length - 1`; with
# left padding (common for generation) it is always at the final position. One formula covers
# both: the largest position whose attention mask is 1.
#
# ```
# right-padded   mask 1 1 1 1 0 0    last real token at 3
# left-padded    mask 0 0 1 1 1 1    last real token at 5
# ```
#
# **Exercise.** Implement `last_token_index(attention_mask)` returning, for each row, the index
# of its last nonzero mask entry, for either padding side. Every row has at least one real token.
#
# > **Difficulty** 🔴🔴⚪⚪⚪ · **Importance** 🔵🔵🔵⚪⚪ · **Time** ~10 min
#
# <details><summary>Hint 1</summary>
#
# `mask.sum(-1) - 1` is right for right padding only. Think of the positions `0 … T−1` multiplied by the mask.
#
# </details>
#
# <details><summary>Hint 2 (pseudocode)</summary>
#
# ```
# positions = [0, 1, ..., T-1]
# score = positions * (mask != 0)      # 0 at padding
# return argmax of score over the last dimension
# ```
#
# </details>


# %%
def last_token_index(attention_mask: torch.Tensor) -> torch.Tensor:
    """Position of the last real (mask = 1) token of each row.

    Args:
        attention_mask: [B, T] of 0/1 (int, float or bool); padding may be on either side.

    Returns:
        [B] int64 indices in [0, T).
    """
    ### BEGIN SOLUTION
    positions = torch.arange(attention_mask.shape[-1], device=attention_mask.device)
    return (positions * (attention_mask != 0)).argmax(dim=-1)
    ### END SOLUTION


# %%
check("w03_reward_models.last_token_index", last_token_index)
### BEGIN HIDDEN TESTS
check("w03_reward_models.last_token_index", last_token_index, hidden=True)
### END HIDDEN TESTS

# %% [markdown]
# **Exercise.** Implement the `RewardModel` module.
#
# - `__init__(self, backbone)`: keep the transformer body as `self.backbone` (a transformers
#   `GPT2Model`; its width is `backbone.config.hidden_size`) and add the head
#   `self.score = nn.Linear(hidden_size, 1, bias=False)`. These names and shapes match
#   `GPT2ForSequenceClassification`, so the two can share weights (we use that below to compare
#   with TRL).
# - `forward(input_ids, attention_mask)`: run the backbone **with the attention mask** (so that
#   padding is never attended to), take `.last_hidden_state` ([B, T, H]), pick each row's hidden
#   state at its last real token, apply the head and return the rewards as a **[B]** tensor.
#
# > **Difficulty** 🔴🔴🔴⚪⚪ · **Importance** 🔵🔵🔵🔵🔵 · **Time** ~15 min
# >
# > **Must be differentiable:** gradients must reach every parameter of the model (the grader checks them).
#
# <details><summary>Hint 1</summary>
#
# `hidden[torch.arange(B), idx]` picks one position per row of a [B, T, H] tensor. Do not wrap the backbone in `torch.no_grad()`: the grader checks that every backbone parameter gets a gradient.
#
# </details>
#
# <details><summary>Hint 2 (pseudocode)</summary>
#
# ```
# h = backbone(input_ids=..., attention_mask=...).last_hidden_state   # [B, T, H]
# idx = last_token_index(attention_mask)                              # [B]
# pooled = h[arange(B), idx]                                           # [B, H]
# return score(pooled) squeezed to [B]
# ```
#
# </details>


# %%
class RewardModel(nn.Module):
    """A scalar reward r(x, y) read from a causal transformer at the last real token."""

    def __init__(self, backbone: nn.Module) -> None:
        super().__init__()
        ### BEGIN SOLUTION
        self.backbone = backbone
        self.score = nn.Linear(backbone.config.hidden_size, 1, bias=False)
        ### END SOLUTION

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Rewards of a padded batch.

        Args:
            input_ids: [B, T] token ids (prompt, response and end-of-text, then padding).
            attention_mask: [B, T] 1 for real tokens, 0 for padding (either side).

        Returns:
            [B] one reward per row.
        """
        ### BEGIN SOLUTION
        hidden = self.backbone(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        last = last_token_index(attention_mask)
        pooled = hidden[torch.arange(hidden.shape[0], device=hidden.device), last]
        return self.score(pooled).squeeze(-1)
        ### END SOLUTION


# %%
check("w03_reward_models.RewardModel", RewardModel)
### BEGIN HIDDEN TESTS
check("w03_reward_models.RewardModel", RewardModel, hidden=True)
### END HIDDEN TESTS

# %% [markdown]
# ### The training step (integration exercise)
#
# > **Learning objectives**
# > - write one optimisation step of a reward model: forward on a batch of pairs, Bradley–Terry
# >   loss, backward, gradient clipping, optimiser step
# > - know which order these calls must come in, and what each wrong order silently does
#
# A batch holds $B$ pairs as $2B$ rows: the $B$ chosen rows first, then the $B$ rejected rows in
# the same order (TRL's layout; `collate_pairs` below builds it). One step of training:
#
# 1. run the reward model on all $2B$ rows at once and split the rewards into chosen and rejected;
# 2. compute `bradley_terry_loss` on them;
# 3. clear the old gradients, backpropagate, clip the gradient norm to `max_grad_norm`
#    (`torch.nn.utils.clip_grad_norm_`, what transformers' `Trainer` does by default), step the
#    optimiser;
# 4. return the metrics as plain floats: the loss, the fraction of pairs ranked the right way
#    round (`chosen > rejected`) and the mean margin $r_c - r_r$, all measured *before* the update.
#
# **Exercise.** Implement `reward_model_train_step(rm, optimizer, batch, max_grad_norm=1.0)`.
# The grader runs it for one to three steps on a tiny GPT-2 reward model with SGD and compares the
# parameters and the metrics with the reference's. The experiment below trains with your step.
#
# > **Difficulty** 🔴🔴⚪⚪⚪ · **Importance** 🔵🔵🔵🔵🔵 · **Time** ~15 min
#
# <details><summary>Hint 1</summary>
#
# `rewards.chunk(2)` splits a [2B] tensor into its first and second halves. Gradients from the
# previous step are still in `.grad` until you clear them.
#
# </details>
#
# <details><summary>Hint 2 (pseudocode)</summary>
#
# ```
# rewards = rm(input_ids, attention_mask)            # [2B]
# chosen, rejected = first half, second half
# loss = bradley_terry_loss(chosen, rejected)
# zero the gradients; loss.backward(); clip the norm of rm's gradients; optimizer.step()
# return {"loss": float, "accuracy": float, "margin": float}
# ```
#
# </details>


# %%
def reward_model_train_step(
    rm: nn.Module, optimizer: torch.optim.Optimizer, batch: dict[str, torch.Tensor], max_grad_norm: float = 1.0
) -> dict[str, float]:
    """One Bradley–Terry training step on a batch of pairs.

    Args:
        rm: a reward model, ``rm(input_ids, attention_mask)`` → [2B] rewards.
        optimizer: an optimiser over ``rm``'s parameters.
        batch: ``input_ids`` and ``attention_mask``, both [2B, T] (int64): B chosen rows, then the
            B rejected rows of the same pairs, on ``rm``'s device.
        max_grad_norm: the gradient's total norm is clipped to this before the update.

    Returns:
        {"loss", "accuracy", "margin"}: floats measured on this batch before the update.
    """
    ### BEGIN SOLUTION
    rewards = rm(batch["input_ids"], batch["attention_mask"])
    chosen, rejected = rewards.chunk(2)
    loss = bradley_terry_loss(chosen, rejected)
    optimizer.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(rm.parameters(), max_grad_norm)
    optimizer.step()
    return {
        "loss": loss.item(),
        "accuracy": (chosen > rejected).float().mean().item(),
        "margin": (chosen - rejected).mean().item(),
    }
    ### END SOLUTION


# %%
check("w03_reward_models.reward_model_train_step", reward_model_train_step)
### BEGIN HIDDEN TESTS
check("w03_reward_models.reward_model_train_step", reward_model_train_step, hidden=True)
### END HIDDEN TESTS

# %% [markdown]
# ## 3. The data: preference pairs from the small world
#
# The small world has, for every prompt, several candidate responses with known kinds (correct
# help, wrong help, refusal, over-refusal of a harmless request, harmful compliance, a leak of
# private data) and a **gold reward** for each: +1 for correct help or a justified refusal,
# −0.5 for refusing a harmless request, −1 for a wrong answer, −2 for harmful content or a leak.
# `load_preferences(split, noise)` draws one pair per prompt with different gold rewards, labels
# the better one `chosen`, then flips each label with probability `noise`: a labeller who is
# wrong some of the time.

# %%
from courselib.world import load_preferences, load_split
from courselib.world import REWARDS

train_pairs = load_preferences("train")
test_pairs = load_preferences("test")
print(f"{len(train_pairs)} training pairs, {len(test_pairs)} held-out pairs (prompts never seen in training)")
example = train_pairs[1]
print(example["prompt"])
print("  chosen  :", example["chosen"], f"({example['chosen_kind']}, gold {example['chosen_reward']:+})")
print("  rejected:", example["rejected"], f"({example['rejected_kind']}, gold {example['rejected_reward']:+})")

# %% [markdown]
# The helpers below tokenize a pair the way TRL does (prompt + response + end-of-text, one string
# per side), put the chosen rows first and the rejected rows after them in one right-padded batch
# (TRL's layout too), and run the training loop. They are not graded; next week reuses them
# through `load_reference("w03_reward_models")`.


# %%
def load_tiny(name: str = "tiny-sft"):
    """The small world's tokenizer and the transformer body of one of its models (offline)."""
    from transformers import AutoModel

    from courselib.models import load_tokenizer, model_dir

    return load_tokenizer(name), AutoModel.from_pretrained(model_dir(name), local_files_only=True)


def encode_pairs(tokenizer, pairs: list[dict]) -> list[tuple[list[int], list[int]]]:
    """Token ids of (prompt + chosen + eos, prompt + rejected + eos) for each pair."""
    eos = tokenizer.eos_token
    return [
        (
            tokenizer(p["prompt"] + p["chosen"] + eos)["input_ids"],
            tokenizer(p["prompt"] + p["rejected"] + eos)["input_ids"],
        )
        for p in pairs
    ]


def pad_right(rows: list[list[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad token lists into (input_ids [N, T], attention_mask [N, T])."""
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, r in enumerate(rows):
        ids[i, : len(r)] = torch.tensor(r)
        mask[i, : len(r)] = 1
    return ids, mask


def collate_pairs(encoded: list[tuple[list[int], list[int]]], pad_id: int) -> dict[str, torch.Tensor]:
    """One batch: the B chosen rows first, then the B rejected rows (TRL's layout)."""
    ids, mask = pad_right([c for c, _ in encoded] + [r for _, r in encoded], pad_id)
    return {"input_ids": ids, "attention_mask": mask}


@torch.no_grad()
def score_texts(rm: nn.Module, tokenizer, texts: list[str], batch_size: int = 64) -> torch.Tensor:
    """Rewards of full texts (each should end with the end-of-text token), in input order."""
    rm.eval()
    dev = next(rm.parameters()).device
    encoded = [tokenizer(t)["input_ids"] for t in texts]
    order = sorted(range(len(texts)), key=lambda i: len(encoded[i]))  # similar lengths: less padding
    out = torch.empty(len(texts))
    for start in range(0, len(order), batch_size):
        idx = order[start : start + batch_size]
        ids, mask = pad_right([encoded[i] for i in idx], tokenizer.pad_token_id)
        out[idx] = rm(ids.to(dev), mask.to(dev)).float().cpu()
    return out


def score_pairs(rm: nn.Module, tokenizer, pairs: list[dict]) -> tuple[torch.Tensor, torch.Tensor]:
    """(chosen rewards [N], rejected rewards [N]) of preference pairs."""
    eos = tokenizer.eos_token
    rewards = score_texts(rm, tokenizer, [p["prompt"] + p[k] + eos for k in ("chosen", "rejected") for p in pairs])
    return rewards[: len(pairs)], rewards[len(pairs) :]


def length_grouped_batches(lengths: list[int], batch_size: int, seed: int = 0, group: int = 8):
    """Endless batches of indices; each batch holds examples of similar length (less padding).

    Every epoch: shuffle, cut into groups of ``group`` batches, sort each group by length, split
    it into batches and shuffle the batch order (what transformers' ``group_by_length`` does).
    """
    rng = random.Random(seed)
    while True:
        order = list(range(len(lengths)))
        rng.shuffle(order)
        batches = []
        for start in range(0, len(order), batch_size * group):
            chunk = sorted(order[start : start + batch_size * group], key=lambda i: lengths[i])
            batches += [chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size)]
        rng.shuffle(batches)
        yield from (b for b in batches if len(b) == batch_size)


def flip_labels(
    encoded: list[tuple[list[int], list[int]]], noise: float, seed: int = 0
) -> list[tuple[list[int], list[int]]]:
    """The same encoded pairs with each label swapped with probability ``noise``.

    The world's rule (``load_preferences(split, noise, seed)`` flips with the stream
    ``flips-{seed}``), applied to already tokenized pairs: for ``seed=0`` the flipped pairs are
    exactly those of ``load_preferences(split, noise)``, and no text is tokenized again.
    """
    rng = random.Random(f"flips-{seed}")
    return [(r, c) if rng.random() < noise else (c, r) for c, r in encoded]


def train_reward_model(
    rm: nn.Module,
    tokenizer,
    pairs: list[dict] | None,
    steps: int,
    batch_size: int = 16,
    lr: float = 1e-3,
    seed: int = 0,
    live: LivePlot | None = None,
    desc: str = "reward model",
    encoded: list[tuple[list[int], list[int]]] | None = None,
) -> dict[str, list[float]]:
    """Bradley–Terry training with AdamW, linear learning-rate decay and gradient clipping.

    ``encoded`` (from ``encode_pairs``) skips tokenizing ``pairs`` again. ``seed`` sets the batch
    order. Dropout is switched off, as TRL's RewardTrainer does. Returns the per-step curves.
    """
    dev = next(rm.parameters()).device
    data = encoded if encoded is not None else encode_pairs(tokenizer, pairs)
    batches = length_grouped_batches([max(len(c), len(r)) for c, r in data], batch_size, seed)
    opt = torch.optim.AdamW(rm.parameters(), lr=lr, weight_decay=0.0)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0 - s / steps)
    history: dict[str, list[float]] = {"loss": [], "accuracy": [], "margin": []}
    for module in rm.modules():
        if isinstance(module, nn.Dropout):
            module.p = 0.0
    rm.train()
    for step in progress(range(steps), desc=desc):
        batch = collate_pairs([data[i] for i in next(batches)], tokenizer.pad_token_id)
        metrics = reward_model_train_step(rm, opt, {k: v.to(dev) for k, v in batch.items()}, max_grad_norm=1.0)
        sched.step()
        for k, v in metrics.items():
            history[k].append(v)
        if live is not None:
            live.update(step, **metrics)
    rm.eval()
    return history


# %% [markdown]
# ## 4. Training a reward model
#
# We start from the SFT model's body (it already "reads" the world's dialogues) and a fresh
# head, and train on the noise-free pairs. The live plot shows, per batch, the loss, the fraction
# of pairs ranked correctly and the mean reward margin $r_c - r_r$. Batches group pairs of similar
# length (less padding, so faster), which also makes them swing between easy and hard batches.
#
# > **Learning objectives**
# > - train a reward model with your own training step and read its curves
# > - measure held-out accuracy against the gold preferences, overall and per kind of pair
#
# **Predict, then run.** Write down the held-out accuracy you expect after this short run (24
# steps of 16 pairs at a learning rate of 2e-3: under a fifth of an epoch; the cell prints the
# exact count), and which kinds of pairs you expect it to get right: the safety pairs (a refusal
# against harmful content) or the helpfulness pairs (a correct answer against a wrong one).

# %%
STEPS = scale(24, 6)
BATCH = scale(16, 8)
LR = 2e-3

tokenizer, backbone = load_tiny("tiny-sft")
train_encoded = encode_pairs(tokenizer, train_pairs)  # tokenized once, reused by every run below
set_seed(0)
rm = RewardModel(backbone).to(device)
live = LivePlot(["loss", "accuracy", "margin"], every=5, title="reward model (noise 0)")
history = train_reward_model(
    rm, tokenizer, train_pairs, steps=STEPS, batch_size=BATCH, lr=LR, live=live, encoded=train_encoded
)
seen = STEPS * BATCH
print(
    f"{STEPS} steps × {BATCH} pairs: {seen} of {len(train_pairs)} training pairs ({seen / len(train_pairs):.2f} epochs)"
)
plt.close(live.show())  # draw the final curves once

# %% [markdown]
# ### Held-out accuracy against the gold preferences
#
# The test pairs come from prompts the model never saw. Accuracy is the fraction of pairs where
# the reward model ranks the gold-better response higher. The overall number hides a lot, so we
# also split it by the *kind* of pair.

# %%
from collections import defaultdict


def pair_accuracy(chosen: torch.Tensor, rejected: torch.Tensor) -> float:
    """Fraction of pairs ranked the right way round (ties count as wrong, as in TRL)."""
    return (chosen > rejected).float().mean().item()


def accuracy_by_pair_kind(pairs: list[dict], chosen: torch.Tensor, rejected: torch.Tensor) -> dict:
    """Accuracy for each (chosen kind, rejected kind) combination: {kinds: (n, accuracy)}."""
    groups = defaultdict(list)
    for p, right in zip(pairs, (chosen > rejected).tolist()):
        groups[(p["chosen_kind"], p["rejected_kind"])].append(right)
    return {k: (len(v), sum(v) / len(v)) for k, v in sorted(groups.items(), key=lambda kv: -len(kv[1]))}


test_chosen, test_rejected = score_pairs(rm, tokenizer, test_pairs)
rm_accuracy = pair_accuracy(test_chosen, test_rejected)
print(f"held-out accuracy (noise-free labels): {rm_accuracy:.3f} on {len(test_pairs)} pairs\n")
print(f"{'gold-better response':>22} vs {'gold-worse response':<20} {'n':>4} {'accuracy':>9}")
for (ck, rk), (n, acc) in accuracy_by_pair_kind(test_pairs, test_chosen, test_rejected).items():
    print(f"{ck:>22} vs {rk:<20} {n:>4} {acc:>9.2f}")

# %% [markdown]
# ## 5. How label noise hurts
#
# Real labellers disagree with each other on a sizeable fraction of pairs (InstructGPT reports
# inter-annotator agreement of about 73%). In our world we can dial the noise exactly: at
# `noise=0.2`, one training label in five is flipped. We train the same reward model at several
# noise levels (same pairs, same steps) and measure held-out accuracy against the **gold**
# labels, which stay clean. `noise=0.5` would be the limit where a label says nothing at all about
# which response was better. Each noise level is trained with several **seeds**; a seed fixes the
# head's initialisation, the batch order and which labels are flipped (`flip_labels`, the world's
# own rule applied to pairs tokenized once).
#
# The table above already showed that the pairs come in two families: **safety** pairs (a
# refusal against harmful content or a leak) and **helpfulness** pairs (correct help, wrong help
# and needless refusals of harmless requests). We follow both, with two kinds of interval: a 95%
# Wilson interval over the held-out pairs for the seed-0 model (how much its number would move
# with another test set of the same size), and the mean over seeds ± a 95% Student-t interval
# (how much it moves with another training run).
#
# > **Learning objectives**
# > - predict what symmetric label noise does to a Bradley–Terry model's ranking and confidence
# > - tell a ranking metric (accuracy) from a confidence metric (mean σ(r_c − r_r))
#
# **Predict, then run.** Sketch held-out accuracy against the flip rate from 0 to 0.5, once for the
# safety pairs and once for the helpfulness pairs, and the model's mean confidence on the safety
# pairs. Where would each curve end at 0.5? And is the gap between the cleanest and the noisiest
# level larger than the seed-to-seed spread?

# %%
NOISES = [0.0, 0.2, 0.4] if not quick() else [0.0, 0.4]
SEEDS = list(range(scale(3, 2)))  # training seeds: the head's initialisation, the batch order, which labels flip
SAFETY_KINDS = {"harmful_compliance", "pii_leak"}


def is_safety_pair(pair: dict) -> bool:
    """A pair whose worse response is harmful content or a privacy leak."""
    return pair["rejected_kind"] in SAFETY_KINDS


def wilson(k: float, n: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson score interval of a rate k / n."""
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


T_975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262}


def mean_and_t_interval(values: list[float]) -> tuple[float, float]:
    """Mean and the half-width of its 95% Student-t interval across runs (n ≥ 2)."""
    n = len(values)
    mean = sum(values) / n
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    return mean, T_975[n - 1] * sd / math.sqrt(n)


noise_scores = {(0.0, 0): score_pairs(rm, tokenizer, test_pairs)}  # (noise, seed) → (chosen, rejected) rewards
for noise in NOISES:
    for seed in SEEDS:
        if (noise, seed) in noise_scores:
            continue
        _, body = load_tiny("tiny-sft")
        set_seed(seed)
        run_rm = RewardModel(body).to(device)
        labelled = flip_labels(train_encoded, noise, seed)
        train_reward_model(
            run_rm, tokenizer, None, STEPS, BATCH, LR, seed=seed, desc=f"noise {noise}, seed {seed}", encoded=labelled
        )
        noise_scores[(noise, seed)] = score_pairs(run_rm, tokenizer, test_pairs)
        del run_rm, body

safety = torch.tensor([is_safety_pair(p) for p in test_pairs])
groups = {"all": torch.ones_like(safety), "safety": safety, "helpfulness": ~safety}
CONF = "P(chosen), safety"
runs = {}  # (noise, seed) → {group: accuracy, CONF: mean σ(r_c − r_r) on safety pairs}
for key, (c, r) in noise_scores.items():
    right = (c > r).float()
    runs[key] = {g: right[m].mean().item() for g, m in groups.items()}
    runs[key][CONF] = torch.sigmoid(c - r)[safety].mean().item()
noise_table = {  # noise → {column: (mean over seeds, 95% t half-width)}
    noise: {k: mean_and_t_interval([runs[(noise, s)][k] for s in SEEDS]) for k in (*groups, CONF)} for noise in NOISES
}

sizes = {g: int(m.sum()) for g, m in groups.items()}
wil = lambda acc, n: "{:.2f} [{:.2f}, {:.2f}]".format(acc, *wilson(acc * n, n))  # noqa: E731
pm = lambda mh: f"{mh[0]:.2f} ± {mh[1]:.2f}"  # noqa: E731
print(f"held-out accuracy against the gold labels, {len(SEEDS)} training seeds per noise level\n")
print(f"{'noise':>5} {'pairs':>12} {'seed 0 [95% Wilson]':>20} {'mean ± 95% t, seeds':>20}   per seed")
for noise in NOISES:
    for g in groups:
        per_seed = " ".join(f"{runs[(noise, s)][g]:.2f}" for s in SEEDS)
        print(
            f"{noise:>5.1f} {g:>12} {wil(runs[(noise, 0)][g], sizes[g]):>20} {pm(noise_table[noise][g]):>20}   {per_seed}"
        )
    per_seed = " ".join(f"{runs[(noise, s)][CONF]:.2f}" for s in SEEDS)
    print(f"{noise:>5.1f} {'P(chosen)*':>12} {'':>20} {pm(noise_table[noise][CONF]):>20}   {per_seed}")
print(
    f"({sizes['safety']} safety and {sizes['helpfulness']} helpfulness pairs; Wilson: over held-out pairs, one run; "
    f"t: across {len(SEEDS)} training runs; *mean σ(r_c − r_r) on the safety pairs)"
)

fig, axes = plt.subplots(1, 2, figsize=(10, 3.4))
for i, g in enumerate(groups):
    xs = [n + 0.006 * (i - 1) for n in NOISES]
    means, halves = zip(*(noise_table[n][g] for n in NOISES))
    axes[0].errorbar(xs, means, yerr=halves, fmt="o-", capsize=3, label=f"{g} pairs")
axes[0].axhline(0.5, color="grey", ls=":", lw=0.8)
axes[0].set_xlabel("fraction of training labels flipped")
axes[0].set_ylabel("held-out accuracy (gold labels)")
axes[0].set_title(f"ranking (mean ± 95% t-interval, {len(SEEDS)} seeds)")
axes[0].legend(fontsize=8)
eps = torch.linspace(0, 0.5, 51)
axes[1].plot(eps, 1 - eps, color="grey", ls="--", label="1 − noise")
means, halves = zip(*(noise_table[n][CONF] for n in NOISES))
axes[1].errorbar(NOISES, means, yerr=halves, fmt="o-", capsize=3, label="RM")
axes[1].set_xlabel("fraction of training labels flipped")
axes[1].set_ylabel("mean σ(r_c − r_r), safety pairs")
axes[1].set_title("confidence")
axes[1].legend(fontsize=8)
for ax in axes:
    ax.grid(alpha=0.3)
fig.tight_layout()
plt.show()

lo, hi = NOISES[0], NOISES[-1]
(m_lo, h_lo), (m_hi, h_hi) = noise_table[lo]["safety"], noise_table[hi]["safety"]
gap_is_real = m_lo - h_lo > m_hi + h_hi
print(
    f"safety pairs: accuracy {m_lo:.2f} ± {h_lo:.2f} at noise {lo} and {m_hi:.2f} ± {h_hi:.2f} at noise {hi}: "
    + (
        "the intervals do not overlap."
        if gap_is_real
        else "the intervals overlap: the gap is within the seed-to-seed spread."
    )
)
m_help, h_help = noise_table[0.0]["helpfulness"]
print(
    f"helpfulness pairs with clean labels: {m_help:.2f} ± {h_help:.2f}; chance (0.5) is "
    + ("inside" if abs(m_help - 0.5) <= h_help else "outside")
    + " the interval."
)

# %% [markdown]
# What noise does, and does not do. With flip rate $\varepsilon$, the expected loss of a pair
# whose gold-better response gets reward margin $\Delta$ is
# $-(1-\varepsilon)\log\sigma(\Delta) - \varepsilon\log\sigma(-\Delta)$, minimised where
# $\sigma(\Delta) = 1 - \varepsilon$. So symmetric noise does not change *which* response wins
# (the sign of the best margin) as long as $\varepsilon < 0.5$; it shrinks the margin from
# "as large as possible" to $\log\frac{1-\varepsilon}{\varepsilon}$, and the gradient signal with it
# (at $\Delta = 0$ the expected gradient is the clean one times $1 - 2\varepsilon$). The right
# panel checks this on the safety pairs, which the model learns easily: its confidence tracks
# $1 - \varepsilon$ *at the optimum*. At $\varepsilon = 0.5$ there is nothing left to learn.
#
# That is the infinite-budget story. Our runs are short (under a fifth of an epoch), and there the
# weaker gradient matters: read the two lines printed under the plot. The first says whether the
# safety accuracy at the highest flip rate is below the clean one by more than the seed-to-seed
# spread (the t-intervals): if it is, noise has cost *ranking* at this budget, not only
# confidence, because a gradient scaled by $1 - 2\varepsilon$ has not yet moved the noisy models as
# far as the clean one. The right panel shows the same thing for confidence: compare each point
# with the dashed $1 - \varepsilon$ line it would reach at the optimum. The Wilson intervals (one
# model, all test pairs) and the t-intervals (the same test pairs, different training runs)
# answer different questions: the first is how much another test set would move one model's
# score, the second how much another training run would.
#
# The helpfulness pairs tell a different story: the second printed line compares the clean-label
# runs with chance. These runs alone cannot say why the model fails there: each saw a small
# fraction of an epoch, so "more data or more steps would fix it" and "the model cannot tell a
# correct answer from a wrong one" are both open. The next cell measures which. One more caveat:
# real labellers are worse than random flips, because their errors are **systematic** (longer,
# more confident, more flattering answers win), and systematic errors are learned as faithfully as
# the signal.
#
# ### Data or capacity? An ablation on cached features
#
# Training the whole reward model for several epochs would cost minutes. A cheaper experiment
# separates the two explanations for the body we start from: run the frozen SFT body **once**
# over every helpfulness pair, keep the hidden state at the last real token (where the reward is
# read), and train only a head on these cached features, to convergence (full-batch AdamW,
# many passes over the data). We vary the **data** (how many training pairs the head sees, up to
# all of them: several times what the reward model saw above) and the head's **capacity** (a
# linear head like the reward model's, or an MLP with one hidden layer), with the same training
# seeds as above (a seed picks the subset and the head's initialisation). Training accuracy says
# whether the head can fit its pairs; held-out accuracy whether what it fits generalises.
#
# **Predict, then run.** If data were the problem, held-out accuracy would climb with the number
# of pairs. If the body's features did not carry the difference between a correct and a wrong
# answer, it would stay at chance however many pairs, while the MLP still fits its training
# pairs. Which do you expect?


# %%
@torch.no_grad()
def last_token_features(body: nn.Module, tokenizer, pairs: list[dict], batch_size: int = 128):
    """Hidden states of a frozen body at the last real token: (chosen [N, D], rejected [N, D])."""
    body.eval()
    dev = next(body.parameters()).device
    encoded = encode_pairs(tokenizer, pairs)
    rows = [c for c, _ in encoded] + [r for _, r in encoded]
    order = sorted(range(len(rows)), key=lambda i: len(rows[i]))  # similar lengths: less padding
    out = torch.empty(len(rows), body.config.hidden_size)
    for start in range(0, len(order), batch_size):
        idx = order[start : start + batch_size]
        ids, mask = pad_right([rows[i] for i in idx], tokenizer.pad_token_id)
        hidden = body(input_ids=ids.to(dev), attention_mask=mask.to(dev)).last_hidden_state
        out[idx] = hidden[torch.arange(len(idx), device=dev), last_token_index(mask.to(dev))].float().cpu()
    return out[: len(pairs)], out[len(pairs) :]


def train_probe(chosen: torch.Tensor, rejected: torch.Tensor, hidden: int, seed: int, steps: int, lr: float = 1e-2):
    """A Bradley–Terry head on cached features (linear when ``hidden`` is 0), full-batch AdamW."""
    torch.manual_seed(seed)
    d = chosen.shape[1]
    head = nn.Linear(d, 1, bias=False) if hidden == 0 else nn.Sequential(nn.Linear(d, hidden), nn.GELU(), nn.Linear(hidden, 1))  # fmt: skip
    opt = torch.optim.AdamW(head.parameters(), lr=lr, weight_decay=0.0)
    for _ in range(steps):
        loss = bradley_terry_loss(head(chosen).squeeze(-1), head(rejected).squeeze(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
    return head


help_train = [p for p in train_pairs if not is_safety_pair(p)]
help_train = help_train[: scale(len(help_train), 120)]
help_test = [p for p in test_pairs if not is_safety_pair(p)]
_, frozen_body = load_tiny("tiny-sft")
train_c, train_r = last_token_features(frozen_body.to(device), tokenizer, help_train)
test_c, test_r = last_token_features(frozen_body, tokenizer, help_test)
del frozen_body

PROBE_SIZES = sorted({scale(150, 40), scale(450, 80), len(help_train)})  # training pairs the head sees
PROBE_HEADS = {"linear": 0, "MLP (64 hidden)": 64}
PROBE_STEPS = scale(150, 40)  # full-batch steps: many passes over the data
probe = {}  # (head, n, seed) → (training accuracy, held-out accuracy)
for (head_name, width), n, seed in progress(
    [(h, n, s) for h in PROBE_HEADS.items() for n in PROBE_SIZES for s in SEEDS], desc="probes"
):
    idx = random.Random(f"probe-{seed}").sample(range(len(help_train)), n)
    head = train_probe(train_c[idx], train_r[idx], width, seed, PROBE_STEPS)
    with torch.no_grad():
        fit = pair_accuracy(head(train_c[idx]).squeeze(-1), head(train_r[idx]).squeeze(-1))
        held_out = pair_accuracy(head(test_c).squeeze(-1), head(test_r).squeeze(-1))
    probe[(head_name, n, seed)] = (fit, held_out)
probe_table = {  # (head, n) → ((mean, half) training accuracy, (mean, half) held-out accuracy)
    (h, n): tuple(mean_and_t_interval([probe[(h, n, s)][i] for s in SEEDS]) for i in (0, 1))
    for h in PROBE_HEADS
    for n in PROBE_SIZES
}

print(
    f"frozen SFT body, heads on cached last-token features: {len(help_train)} helpfulness training pairs, "
    f"{len(help_test)} held-out; mean ± 95% t over {len(SEEDS)} seeds\n"
)
print(f"{'head':>16} {'pairs':>6} {'training acc.':>14} {'held-out acc.':>14}")
for (h, n), (fit, held_out) in probe_table.items():
    print(f"{h:>16} {n:>6} {pm(fit):>14} {pm(held_out):>14}")
print(
    f"{'fine-tuned RM':>16} {STEPS * BATCH:>6} {'':>14} {pm(noise_table[0.0]['helpfulness']):>14}   "
    f"(section 5, clean labels: {STEPS} steps of {BATCH} pairs of both families, body trained too)\n"
)
small, big = PROBE_SIZES[0], PROBE_SIZES[-1]
above_chance = lambda mh: mh[0] - mh[1] > 0.5  # noqa: E731
beats = lambda a, b: a[0] - a[1] > b[0] + b[1]  # noqa: E731  (a above b beyond both intervals)
linear, mlp = PROBE_HEADS
for h in PROBE_HEADS:
    lo_n, hi_n = probe_table[(h, small)][1], probe_table[(h, big)][1]
    print(
        f"{h} head, held-out: {pm(lo_n)} with {small} pairs, {pm(hi_n)} with {big}: "
        + ("more data helped" if beats(hi_n, lo_n) else "no gain from more data beyond the intervals")
        + "; with all pairs "
        + ("above chance" if above_chance(hi_n) else "not above chance")
        + f"; training accuracy {pm(probe_table[(h, big)][0])}."
    )
capacity = beats(probe_table[(mlp, big)][1], probe_table[(linear, big)][1])
print(
    f"with all {big} pairs the {mlp} head "
    + ("beats" if capacity else "does not beat")
    + f" the {linear} head beyond the intervals; the clean reward model's safety accuracy was {pm(noise_table[0.0]['safety'])}."
)
if not any(above_chance(probe_table[(h, big)][1]) for h in PROBE_HEADS):
    conclusion = "no head gets above chance however many pairs: this body's features do not carry the difference"
elif above_chance(probe_table[(linear, big)][1]):
    conclusion = (
        "a linear head like the reward model's gets above chance with all pairs: data is what the short run lacked"
    )
else:
    conclusion = (
        "only the wider head, given all pairs, gets above chance: the features carry a weak signal that the reward "
        "model's linear read-out cannot use, so both data and capacity are short"
    )
print("so:", conclusion)

# %% [markdown]
# How to read the lines above. Training accuracy near 1 with held-out accuracy near chance means
# the head **memorises** pairs rather than learning a rule; a held-out accuracy that climbs with
# the number of pairs means **data** is the bottleneck; a wider head beating the linear one on the
# same pairs means the linear read-out lacks **capacity**. The last line, computed from the
# intervals, says which of these the run supports. Whatever it says, compare the size of the
# effect with the safety pairs' accuracy on the line before it: helpfulness is a much harder
# signal for this body than "harmful content is bad". Two limits: these are statements about the
# **frozen** SFT body, which fine-tuning can change (the reward model above trains its body; the
# ☆ Bonus asks what many epochs of that achieve), and the test set has only the helpfulness pairs
# counted on the table's first line.
#
# ## 6. Calibration
#
# A Bradley–Terry model does not only rank: $\sigma(r_a - r_b)$ is its *probability* that $a$ is
# preferred. A model is **calibrated** when, among all pairs it gives probability 0.8, about 80%
# really go that way. Calibration matters downstream: a reward model that is confidently wrong on
# some responses hands the policy a large, false reward for them.
#
# To measure it, group predictions into bins by predicted probability and compare, in each bin,
# the average predicted probability (confidence) with the observed frequency of the label
# (accuracy). A **reliability diagram** plots one against the other; perfect calibration is the
# diagonal. The **expected calibration error** summarises the gaps, weighting each bin by how
# many predictions fall in it:
#
# $$\mathrm{ECE} = \sum_{b=1}^{B} \frac{n_b}{N}\,\big|\,\mathrm{acc}_b - \mathrm{conf}_b\,\big|.$$
#
# **Exercise.** Implement `expected_calibration_error(probs, labels, n_bins=10)`. `probs` are
# predicted probabilities that the label is 1; bin $b$ holds the predictions in
# $[b/B, (b+1)/B)$, except that $p = 1$ belongs to the last bin (so the index is
# $\min(\lfloor p B \rfloor, B - 1)$). Empty bins contribute nothing.
#
# > **Difficulty** 🔴🔴⚪⚪⚪ · **Importance** 🔵🔵🔵⚪⚪ · **Time** ~15 min
#
# <details><summary>Hint 1</summary>
#
# $n_b/N \cdot |\mathrm{acc}_b - \mathrm{conf}_b| = |\sum_{i \in b} (y_i - p_i)| / N$: per bin you only need the sums of the labels and of the probabilities.
#
# </details>
#
# <details><summary>Hint 2 (pseudocode)</summary>
#
# ```
# b = clamp(floor(p * n_bins), max=n_bins - 1)     # bin of each prediction
# sum_p[k] = sum of p in bin k; sum_y[k] = sum of y in bin k   (index_add_ or a loop)
# return sum over k of |sum_y[k] - sum_p[k]| / N
# ```
#
# </details>


# %%
def expected_calibration_error(probs: torch.Tensor, labels: torch.Tensor, n_bins: int = 10) -> torch.Tensor:
    """Expected calibration error of binary predictions.

    Args:
        probs: [N] predicted probabilities in [0, 1] that the label is 1.
        labels: [N] observed labels, 0/1 (float, int or bool).
        n_bins: number of equal-width bins over [0, 1].

    Returns:
        A scalar tensor of probs' dtype: Σ_b (n_b / N) |mean(labels in b) − mean(probs in b)|.
    """
    ### BEGIN SOLUTION
    p = probs.double()
    y = labels.double()
    bins = torch.clamp((p * n_bins).floor().long(), min=0, max=n_bins - 1)
    conf = torch.zeros(n_bins, dtype=torch.float64, device=p.device).index_add_(0, bins, p)
    acc = torch.zeros(n_bins, dtype=torch.float64, device=p.device).index_add_(0, bins, y)
    return ((acc - conf).abs().sum() / len(p)).to(probs.dtype)
    ### END SOLUTION


# %%
check("w03_reward_models.expected_calibration_error", expected_calibration_error)
### BEGIN HIDDEN TESTS
check("w03_reward_models.expected_calibration_error", expected_calibration_error, hidden=True)
### END HIDDEN TESTS

# %% [markdown]
# Our test pairs always list the gold-better response first, so "probability that the first one
# wins" would only ever have label 1. We present each pair in a random order instead: the label
# is 1 when the first response shown is the gold-better one.


# %%
def oriented(chosen: torch.Tensor, rejected: torch.Tensor, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """P(first shown wins) = σ(r_first − r_second) and the gold label, for a random order per pair."""
    swap = torch.rand(len(chosen), generator=torch.Generator().manual_seed(seed)) < 0.5
    first = torch.where(swap, rejected, chosen)
    second = torch.where(swap, chosen, rejected)
    return torch.sigmoid(first - second), (~swap).float()


def reliability(probs: torch.Tensor, labels: torch.Tensor, n_bins: int = 10):
    """Per non-empty bin: mean confidence, observed frequency, count."""
    bins = torch.clamp((probs * n_bins).floor().long(), max=n_bins - 1)
    rows = [(probs[bins == b].mean(), labels[bins == b].mean(), (bins == b).sum()) for b in range(n_bins)]
    return [(c.item(), a.item(), n.item()) for c, a, n in rows if n > 0]


calibration = {}  # noise → ECE of the seed-0 model
shown = (NOISES[0], NOISES[-1])  # the clean model and the noisiest one
fig, axes = plt.subplots(1, 2, figsize=(9, 3.6))
for noise in NOISES:
    probs, labels = oriented(*noise_scores[(noise, 0)])
    calibration[noise] = expected_calibration_error(probs, labels).item()
    if noise in shown:
        conf, acc, n = zip(*reliability(probs, labels))
        axes[0].plot(conf, acc, "o-", label=f"noise {noise:.1f} (ECE {calibration[noise]:.3f})")
        axes[1].hist(probs.numpy(), bins=20, range=(0, 1), alpha=0.5, label=f"noise {noise:.1f}")
axes[0].plot([0, 1], [0, 1], color="grey", ls=":", lw=1)
axes[0].set_xlabel("predicted P(first response wins)")
axes[0].set_ylabel("observed frequency (gold)")
axes[0].set_title("reliability diagram, held-out pairs")
axes[0].legend()
axes[1].set_xlabel("predicted probability")
axes[1].set_title("how confident the predictions are")
axes[1].legend()
fig.tight_layout()
plt.show()
for noise, ece in calibration.items():
    print(f"noise {noise:.1f}: ECE against gold labels {ece:.3f}")

# %% [markdown]
# How to read the diagram: a point below the diagonal means the model was **over-confident**
# in that bin (it said 0.8, it was right 60% of the time), a point above it **under-confident**.
# Bins with only a handful of predictions (see the histogram) jump around; ECE weights them by
# their size, so they matter little.
#
# - The clean-label model is sharply bimodal: near-certain on the safety pairs (and right), and
#   close to 0.5 on the helpfulness pairs (where it is indeed right about half of the time). That
#   makes it fairly well calibrated *in aggregate*, and shows what calibration does not measure:
#   a model that says "no idea" on half of the data is calibrated there and useless there.
# - The noisy-label model is **under-confident** against the gold labels: it learned, correctly,
#   that its labeller is often wrong, and its confidence on the safety pairs (the right panel in
#   section 5) stays close to 1 − noise or below it where the truth is certain. A Bradley–Terry
#   model is calibrated to the labels it was *trained* on, noise included, not to the truth.
#
# Over-confidence is the more dangerous failure and the usual one for large reward models
# trained for many epochs: the loss keeps rewarding larger margins on the training pairs, and
# held-out mistakes are then made with near-certainty.
#
# ## 7. Where the reward model disagrees with the gold reward
#
# Accuracy on pairs drawn like the training pairs is the optimistic view. A policy being
# optimised will produce *any* text that scores well, so what matters is how the reward model
# scores responses it was never shown in a pair. We score every candidate response of every
# held-out prompt and compare with its gold reward, per kind of response and kind of request.

# %%
test_records = load_split("test")
record_scores = score_texts(rm, tokenizer, [r["text"] for r in test_records])
table = defaultdict(list)
for rec, s in zip(test_records, record_scores.tolist()):
    table[(rec["request_kind"], rec["response_kind"])].append(s)

print(f"{'request':>10} {'response':>20} {'n':>4} {'gold':>6} {'RM mean':>8}")
for (req, resp), scores in sorted(table.items()):
    print(f"{req:>10} {resp:>20} {len(scores):>4} {REWARDS[resp]:>6.1f} {sum(scores) / len(scores):>8.2f}")

gold = torch.tensor([r["gold_reward"] for r in test_records])
ranks = lambda x: x.argsort().argsort().double()
spearman = torch.corrcoef(torch.stack([ranks(gold), ranks(record_scores)]))[0, 1].item()
print(f"\nrank correlation between RM score and gold reward over all {len(test_records)} responses: {spearman:.2f}")

fig, ax = plt.subplots(figsize=(6, 3.2))
kinds = sorted({r["response_kind"] for r in test_records}, key=lambda k: REWARDS[k])
for i, kind in enumerate(kinds):
    vals = [s for rec, s in zip(test_records, record_scores.tolist()) if rec["response_kind"] == kind]
    ax.scatter([REWARDS[kind] + 0.06 * (i % 3 - 1)] * len(vals), vals, s=8, alpha=0.4, label=kind)
ax.set_xlabel("gold reward")
ax.set_ylabel("reward model score")
ax.set_title("every held-out response: RM score vs gold")
ax.legend(fontsize=7, loc="best")
plt.show()

# %% [markdown]
# Now the kind of text a policy will actually try. We write a few responses that appear
# nowhere in the data, attach them to held-out prompts, and compare what the reward model says
# with what the gold labeller says. Each row is the mean over the prompts of that kind.

# %%
from courselib.world import format_prompt, gold_reward

PROBES = {
    "refuse a harmless request": ("benign", "I can't help with that. It could cause real harm."),
    "an apologetic non-answer": ("benign", "I'm sorry, I'm not sure."),
    "empty response": ("benign", ""),
    "a confident wrong number": ("benign", "The answer is 7."),
    "refuse, then comply anyway": (
        "harmful",
        "I can't help with that. Sure, here are the steps: [HARMFUL CONTENT REDACTED]",
    ),
    "refusal repeated three times": ("harmful", "I can't help with that. " * 3),
}
prompts_by_kind = defaultdict(list)
for rec in test_records:
    if rec["prompt_id"] not in {r["prompt_id"] for r in prompts_by_kind[rec["request_kind"]]}:
        prompts_by_kind[rec["request_kind"]].append(rec)

eos = tokenizer.eos_token
print(f"{'probe':>30} {'RM mean':>8} {'gold mean':>10}")
probe_results = {}
for name, (kind, response) in PROBES.items():
    recs = prompts_by_kind[kind]
    texts = [format_prompt(r["prompt"]) + " " + response + eos for r in recs]
    rm_mean = score_texts(rm, tokenizer, texts).mean().item()
    gold_mean = sum(gold_reward(r, response) for r in recs) / len(recs)
    probe_results[name] = (rm_mean, gold_mean)
    print(f"{name:>30} {rm_mean:>8.2f} {gold_mean:>10.2f}")
real = {kind: sum(v) / len(v) for (req, kind), v in table.items() if req == "benign"}
print("\nfor comparison, mean RM score of the real benign responses:", {k: round(v, 2) for k, v in real.items()})

# %% [markdown]
# What this reward model has learned is one rule: **harmful content or a leaked address is
# bad**. Everything else (correct help, wrong help, needless refusals, an apology, even an
# empty reply) gets roughly the same high score: compare the four probes on harmless requests
# with the real correct answers, while the gold labeller gives each of those probes a negative
# reward. The ablation at the end of section 5 measured how much of this is the short run and
# how much the body we started from; its last line says which. What the model gets wrong:
#
# - **It cannot check answers.** Telling "18 metres is 1800 centimetres" from "18 metres is 180
#   centimetres" needs arithmetic that the tiny model has not learned; reward models of real LLMs
#   have the same blind spot, further out (subtle factual errors, buggy code that looks right).
# - **Refusal looks safe.** Refusals are the chosen response in every safety pair, so refusal
#   *text* is associated with reward. Learning that a refusal is bad after a harmless request
#   needs the model to condition on the request, which it has barely started to do.
# - **Out-of-distribution text gets an arbitrary score.** Nothing in the data resembled an empty
#   reply; the model's score for it is an extrapolation.
#
# Next week a policy is optimised against such a reward model. Every row of the probe table where
# the reward model is high and the gold reward is low is a direction in which the policy can gain
# reward without getting better: that is **reward hacking**, and week 4 measures it.
#
# ## 8. The library version: TRL's `RewardTrainer`
#
# Practitioners train reward models with TRL's `RewardTrainer`. It expects a model with a
# one-output classification head (`AutoModelForSequenceClassification` with `num_labels=1`),
# tokenizes `prompt + chosen + eos` and `prompt + rejected + eos`, puts the chosen rows first and
# the rejected rows second in one right-padded batch, reads the reward at the last non-padding
# token and minimises the Bradley–Terry loss. Its defaults assume a GPU (bf16, gradient
# checkpointing), which we switch off on the CPU.
#
# We train the same reward model through TRL, from the same starting weights (the SFT body and a
# head drawn with the same seed as our seed-0 run) with the same settings, for as many steps as
# ours. TRL can visit at most `STEPS × BATCH` pairs in that time, so we hand it a random sample of
# that size (tokenizing all 2,400 would only cost time). Then we check, on one of TRL's own
# batches, that our `RewardModel` and `bradley_terry_loss` holding TRL's trained weights give
# the same loss as `RewardTrainer.compute_loss`.


# %%
def trl_reward_trainer(source: RewardModel, tokenizer, pairs: list[dict], steps: int, batch_size: int, lr: float):
    """A TRL RewardTrainer whose GPT2ForSequenceClassification holds the same weights as ``source``.

    Same hyperparameters as our loop; TRL's GPU defaults (bf16, activation checkpointing) off.
    """
    import tempfile

    from transformers import AutoModelForSequenceClassification, PrinterCallback
    from transformers.utils import logging as hf_logging
    from trl import RewardConfig, RewardTrainer

    from courselib.models import model_dir
    from datasets import Dataset

    hf_logging.set_verbosity_error()
    dev = next(source.parameters()).device
    hf = AutoModelForSequenceClassification.from_pretrained(model_dir("tiny-sft"), num_labels=1, local_files_only=True)
    hf.config.pad_token_id = tokenizer.pad_token_id
    hf.transformer.load_state_dict(source.backbone.state_dict())
    with torch.no_grad():
        hf.score.weight.copy_(source.score.weight)
    args = RewardConfig(
        output_dir=tempfile.mkdtemp(prefix="w03-trl-"),
        per_device_train_batch_size=batch_size,
        max_steps=steps,
        learning_rate=lr,
        logging_steps=1,
        bf16=False,
        activation_checkpointing=False,
        report_to="none",
        save_strategy="no",
        use_cpu=dev.type == "cpu",
        seed=0,
        disable_tqdm=True,
    )
    trainer = RewardTrainer(
        model=hf.to(dev),
        args=args,
        train_dataset=Dataset.from_list([{k: p[k] for k in ("prompt", "chosen", "rejected")} for p in pairs]),
        processing_class=tokenizer,
    )
    trainer.remove_callback(PrinterCallback)  # we plot the logs instead of printing them
    return trainer


_, body = load_tiny("tiny-sft")
set_seed(0)
fresh = RewardModel(body).to(device)  # the same start as our seed-0 run: SFT body, head drawn with seed 0
trl_pairs = random.Random(0).sample(train_pairs, min(STEPS * BATCH, len(train_pairs)))  # all TRL can visit
trainer = trl_reward_trainer(fresh, tokenizer, trl_pairs, steps=STEPS, batch_size=BATCH, lr=LR)
trainer.train()
logs = [h for h in trainer.state.log_history if "loss" in h and "accuracy" in h]
trl_curves = {"loss": [h["loss"] for h in logs], "accuracy": [h["accuracy"] for h in logs]}

trained = RewardModel(trainer.model.transformer)  # our module around TRL's trained weights
trained.score = trainer.model.score
batch = next(iter(trainer.get_train_dataloader()))
with torch.no_grad():
    trainer.model.eval()
    trl_loss = trainer.compute_loss(trainer.model, dict(batch)).item()
    ours = trained(batch["input_ids"].to(device), batch["attention_mask"].to(device))
    our_loss = bradley_terry_loss(*ours.chunk(2)).item()
print(f"one TRL batch: RewardTrainer.compute_loss {trl_loss:.6f}, our RewardModel + bradley_terry_loss {our_loss:.6f}")
assert abs(trl_loss - our_loss) < 1e-5

trl_accuracy = pair_accuracy(*score_pairs(trained.to(device), tokenizer, test_pairs))
ours_by_seed = [runs[(0.0, s)]["all"] for s in SEEDS]

smooth = lambda xs, k=5: [
    sum(xs[max(0, i - k + 1) : i + 1]) / len(xs[max(0, i - k + 1) : i + 1]) for i in range(len(xs))
]
fig, axes = plt.subplots(1, 2, figsize=(9, 3))
for ax, key in zip(axes, ("loss", "accuracy")):
    ax.plot(smooth(history[key]), label="ours")
    ax.plot(smooth(trl_curves[key]), label="TRL RewardTrainer")
    ax.set_title(f"training {key} (moving average of 5 steps)")
    ax.set_xlabel("step")
    ax.legend()
fig.tight_layout()
plt.show()
n_test = len(test_pairs)
print(
    "held-out accuracy (clean labels): TRL {:.3f} [95% Wilson {:.2f}, {:.2f}]; ours, seed 0 {:.3f}".format(
        trl_accuracy, *wilson(trl_accuracy * n_test, n_test), rm_accuracy
    )
    + f"; ours over {len(SEEDS)} seeds {min(ours_by_seed):.3f} to {max(ours_by_seed):.3f}"
)

# %% [markdown]
# Same starting weights, batch size, learning rate, schedule (linear decay), optimiser (AdamW, no
# weight decay) and gradient clipping; only the order in which pairs are visited differs, and on
# one of TRL's batches our `RewardModel` and `bradley_terry_loss` give TRL's loss to float
# precision. Compare TRL's held-out accuracy with the spread of our own seeds printed above: a
# difference inside that spread is the batch order, not the library. Our per-batch curves swing
# more: our loop groups pairs of similar length into a batch (less padding, so faster on a CPU),
# and in this world similar lengths often means the same *kind* of pair, so some batches are all
# easy safety pairs and others all hard helpfulness pairs. TRL draws its batches uniformly at
# random. TRL's value is in everything around the loss: dataset preparation, multi-GPU, mixed
# precision, logging, PEFT adapters, and the optional extras (`margin` column,
# `center_rewards_coefficient`).
#
# ## What could go wrong in practice
#
# - **Reading the reward at the wrong position.** Right padding plus "take the last position"
#   reads the reward from a pad token; nothing crashes and the model still trains, on garbage.
#   Hugging Face's sequence-classification models (`GPT2ForSequenceClassification` in
#   transformers 5.23) do not read the attention mask for this: they take the rightmost position
#   whose *input id* differs from `config.pad_token_id` (so left and right padding both work). With
#   no `pad_token_id` they raise an error for batches of more than one row and read the final
#   position for a single row; given `inputs_embeds` instead of ids they read the final position
#   with only a warning. And if the pad token *is* the end-of-text token (a common GPT-2 setup),
#   the end-of-text token that ends every response counts as padding, so the reward is read one
#   token earlier. TRL's `RewardTrainer` sets `config.pad_token_id` from the tokenizer for you.
# - **Forgetting the end-of-text token.** Without it the reward is read at the response's last
#   word, which cannot know the response has ended: "The answer is 1" and "The answer is 12"
#   look the same at the "1".
# - **Length and style bias.** Labellers (and reward models) like long, confident, well
#   formatted answers. A policy optimised against such a model gets longer and more confident,
#   not more correct. Check accuracy *per kind of pair*, as above, not just overall.
# - **Over-confidence.** Training loss near zero means margins are growing without bound;
#   held-out mistakes are then made with near-certainty, which is what a policy will exploit.
#   Early stopping, label smoothing or an ensemble of reward models help.
# - **Distribution shift.** The pairs come from one model; the policy being trained drifts away
#   from it, into text the reward model has never seen (the probes above). Its scores there are
#   extrapolations. That is why RLHF keeps a KL penalty to the reference model (week 4).
# - **Reward scale.** Rewards are only defined up to a constant; different runs land at
#   different offsets and scales, so normalise rewards (or whiten advantages) before RL.
#
# ## ☆ Bonus
#
# Optional, ungraded.
#
# 1. **Data or capacity, with the body trained.** The ablation of section 5 froze the body. Train
#    the whole clean-label reward model for one, two and three full epochs (150, 300, 450 steps of
#    16 pairs) with three seeds each, and plot helpfulness accuracy with its interval. Does
#    fine-tuning the body find what the frozen features lacked? Try `tiny-base` as the body too.
# 2. **Budget or noise?** Train the noisiest level for two and four times as many steps (three
#    seeds each). Does the safety accuracy catch up with the clean runs, as the infinite-budget
#    argument of section 5 predicts, and does the confidence approach 1 − noise?
# 3. **Margins.** Give safety pairs a margin of 1 (`bradley_terry_loss(..., margin=...)`) and see
#    what happens to calibration.
# 4. **An ensemble.** Average three reward models trained with different seeds. Does the ensemble's
#    ECE beat each member's?
#
# ## Interview questions
#
# 1. Why train on pairwise preferences instead of asking labellers for absolute scores? What
#    does the Bradley–Terry model assume about preferences, and when is that assumption wrong
#    (think of intransitive preferences)?
# 2. Show that adding a constant to every reward leaves the Bradley–Terry loss unchanged. What
#    does TRL's `center_rewards_coefficient` do about it?
# 3. Your reward model has 72% held-out accuracy. Is that good? What would you compare it to,
#    and what else would you measure before using it for RLHF?
# 4. How does symmetric label noise change the Bradley–Terry gradient? Why does it make the
#    model less confident but (in expectation) leave the ranking intact?
# 5. Where in a causal transformer should a reward be read, and why? What breaks with left
#    padding?
# 6. What is a reliability diagram, and what does expected calibration error miss?
# 7. A policy trained against your reward model starts refusing harmless questions. Which of the
#    measurements in this notebook would have warned you?
