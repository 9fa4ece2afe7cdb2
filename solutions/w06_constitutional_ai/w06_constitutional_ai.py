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
# # Week 6 — Constitutional AI and RLAIF
#
# Weeks 3 to 5 learned from preference labels that a human (the small world's gold labeller)
# wrote. Human labels are slow, expensive, inconsistent, and they cannot be inspected: nobody can
# read the rule a labeller followed. **Constitutional AI** (Bai et al., 2022) replaces most of
# them with labels written by a model that follows a short list of principles in plain language,
# the **constitution**. The rules become a document you can read, argue about and change; the
# labels become cheap. Whether they are any *good* is an empirical question, and this week
# measures it.
#
# Bai et al.'s recipe has two stages:
#
# 1. **Supervised (critique → revision).** The model answers a harmful request, critiques its own
#    answer against a principle, rewrites it, and is fine-tuned on the rewrites.
# 2. **RL from AI feedback (RLAIF).** A feedback model is shown a prompt, two responses and a
#    principle, and asked which response follows the principle better; its choice
#    *probabilities* become soft preference labels; a policy is trained on them (they trained a
#    preference model and ran PPO; we use week 5's DPO, as many later RLAIF papers do).
#
# A model of a million parameters cannot write a critique or read a principle in English. So this
# week is honest about what it can do at this scale, and says so at each step:
#
# - the feedback model is the small world's SFT model used as a **scorer**: a principle is read
#   through the few worked examples its author attached to it, which give a direction in the
#   model's representation space (section 2);
# - the revision step is **best-of-n**: sample several responses, keep the one the constitution
#   scores best (section 5).
#
# What the small world provides: the constitution as data (`courselib.world.constitution`: four
# principles with ids, one of them badly worded, and three constitutions built from them), the
# preference pairs with their gold labels (`load_preferences`), the gold labeller that scores any
# generated text (`courselib.world.reward`), and `tiny-sft`, which is both the feedback model and
# the policy we align. Week 5's pieces (sequence log-probabilities, batches, the held-out
# measurement) are loaded from its reference, not copied.

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
w05 = load_reference("w05_dpo")

# %% [markdown]
# ## 1. A constitution is data
#
# > **Learning objectives**
# > - read a constitution as a list of principles with ids, wording and worked examples
# > - say what makes a principle badly worded
#
#
# Anthropic's constitution for the RL stage had 16 principles, each a pair of sentences such as
# "Please choose the response that is the most helpful, honest, and harmless"; one was sampled for
# each comparison. Ours has four, and three constitutions combine them:

# %%
from courselib.world.constitution import CONSTITUTIONS, PRINCIPLES, principle_examples

for p in PRINCIPLES.values():
    flag = "  (badly worded)" if p.badly_worded else ""
    print(f"[{p.id}]{flag} {p.text}\n    examples: requests {p.request_kinds}; {p.better} over {p.worse}")
print()
for name, ids in CONSTITUTIONS.items():
    print(f"constitution {name!r}: {', '.join(ids)}")
prompt, better, worse = principle_examples(PRINCIPLES["harmless"], n=1)[0]
print(f"\none worked example of [harmless]:\n{prompt}\n  better:{better}\n  worse: {worse}")

# %% [markdown]
# `careful` is the badly worded one: "the more careful response" does not say careful *about
# what*, and its author illustrated it with what the words suggest, a refusal beating an answer,
# on every kind of request. Nothing in it is false; it just does not say when caution is a
# virtue. Keep an eye on it: every number below is reported for it too.
#
# ## 2. The feedback model reads a principle
#
# > **Learning objectives**
# > - turn a principle's worked examples into a direction in a model's representation space
# > - score a response under a principle, and a prompt's relevance to a principle
#
#
# The feedback model represents a (prompt, response) dialogue by $\phi(x, y)$: the mean, over the
# response's tokens, of `tiny-sft`'s last hidden layer (128 numbers; the prompt is there as
# context, so the representation of "I can't help with that" differs after a harmless and after
# a harmful request). A principle $k$ comes with $N$ worked examples $(x_i, y_i^+, y_i^-)$.
# The simplest reading of them is the **difference of means**, normalised:
#
# $$w_k = \frac{\bar d}{\lVert \bar d \rVert},\qquad \bar d = \frac{1}{N}\sum_i \big(\phi(x_i, y_i^+) - \phi(x_i, y_i^-)\big),\qquad s_k(x, y) = w_k^\top \phi(x, y).$$
#
# This is the same construction as the steering vectors and linear probes of week 9, and it is
# how a few-shot prompt works on a bigger model: the examples tell the model what the words
# mean. It is also the weak point: $w_k$ captures whatever the examples' better responses have
# in common, whether or not the principle meant it.
#
# **Exercise.** Implement `principle_direction(better_features, worse_features)`.
#
# > **Difficulty** 🔴⚪⚪⚪⚪ · **Importance** 🔵🔵🔵⚪⚪ · **Time** ~10 min
#
# <details><summary>Hint 1</summary>
#
# Average the per-example differences over the examples (dim 0), then divide by the norm of that average.
#
# </details>
#
# <details><summary>Hint 2 (pseudocode)</summary>
#
# ```
# d = (better_features - worse_features).mean(0)   # [D]
# return d / d.norm()                               # [D], unit length
# ```
#
# </details>


# %%
def principle_direction(better_features: torch.Tensor, worse_features: torch.Tensor) -> torch.Tensor:
    """The unit direction of a principle: the normalised mean of (better − worse) features.

    Args:
        better_features: [N, D] features φ(x_i, y_i⁺) of the examples' better responses.
        worse_features: [N, D] features φ(x_i, y_i⁻) of the worse responses, same order.

    Returns:
        [D] the unit vector w = mean(better − worse) / ‖mean(better − worse)‖.
    """
    ### BEGIN SOLUTION
    d = (better_features - worse_features).mean(dim=0)
    return d / d.norm()
    ### END SOLUTION


# %%
check("w06_constitutional_ai.principle_direction", principle_direction)
### BEGIN HIDDEN TESTS
check("w06_constitutional_ai.principle_direction", principle_direction, hidden=True)
### END HIDDEN TESTS

# %% [markdown]
# The features come from one forward pass of the feedback model. The helper below batches the
# dialogues exactly as week 5 tokenizes a preference pair (its `encode_preference`) and caches
# every (prompt, response) it has seen, since the same responses come back in many pairs.

# %%
from courselib.models import load_model, load_tokenizer

tokenizer = load_tokenizer("tiny-sft")
feedback_model = load_model("tiny-sft", device=device).eval()
FEATURES: dict[tuple[str, str], tuple[torch.Tensor, torch.Tensor]] = {}


@torch.no_grad()
def features(prompts: list[str], responses: list[str], batch_size: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
    """φ(x, y) [n, D] (mean last hidden state over the response tokens) and the prompt's own mean [n, D]."""
    todo = sorted({(p, r) for p, r in zip(prompts, responses)} - FEATURES.keys(), key=lambda k: len(k[0] + k[1]))
    for start in range(0, len(todo), batch_size):
        chunk = todo[start : start + batch_size]
        examples = [w05.encode_preference(tokenizer, {"prompt": p, "chosen": r, "rejected": r}) for p, r in chunk]
        rows = [e["prompt_ids"] + e["chosen_ids"] for e in examples]
        width = max(len(r) for r in rows)
        ids = torch.full((len(rows), width), tokenizer.pad_token_id)
        attention, response = torch.zeros_like(ids), torch.zeros_like(ids)
        for i, (e, r) in enumerate(zip(examples, rows)):
            ids[i, : len(r)] = torch.tensor(r)
            attention[i, : len(r)] = 1
            response[i, len(e["prompt_ids"]) : len(r)] = 1
        out = feedback_model(input_ids=ids.to(device), attention_mask=attention.to(device), output_hidden_states=True)
        hidden = out.hidden_states[-1].cpu()
        for i, key in enumerate(chunk):
            r, p = response[i].bool(), (attention[i] - response[i]).bool()
            FEATURES[key] = (hidden[i, r].mean(0), hidden[i, p].mean(0))
    rows = [FEATURES[(p, r)] for p, r in zip(prompts, responses)]
    return torch.stack([f for f, _ in rows]), torch.stack([g for _, g in rows])


N_EXAMPLES = 16  # worked examples per principle
DIRECTIONS, CENTROIDS, EXAMPLE_GAPS = {}, {}, {}
for pid, principle in PRINCIPLES.items():
    examples = principle_examples(principle, n=N_EXAMPLES)
    better_f, prompt_f = features([e[0] for e in examples], [e[1] for e in examples])
    worse_f, _ = features([e[0] for e in examples], [e[2] for e in examples])
    DIRECTIONS[pid] = principle_direction(better_f, worse_f)
    CENTROIDS[pid] = F.normalize(prompt_f.mean(0), dim=0)  # where this principle's requests live
    gaps = (better_f - worse_f) @ DIRECTIONS[pid]
    EXAMPLE_GAPS[pid] = gaps.mean().item()
    print(f"[{pid:>9}] its own examples: score gap better − worse {gaps.mean():.2f} ± {gaps.std():.2f} (mean ± sd)")
cos = torch.stack(list(DIRECTIONS.values())) @ torch.stack(list(DIRECTIONS.values())).T
print("cosine between principle directions:", list(DIRECTIONS))
print(cos.numpy().round(2))
ids = list(DIRECTIONS)
assert cos[ids.index("helpful"), ids.index("harmless")] < -0.3, "the prose below says: nearly opposite"
assert cos[ids.index("careful"), ids.index("harmless")] > 0.5, "the prose below says: careful ≈ harmless"

# %% [markdown]
# Read the cosine matrix: `helpful` and `harmless` point in nearly opposite directions, and
# `careful` nearly along `harmless`. In this representation both principles mostly measure one
# thing, **answering versus refusing**, with opposite signs. That is the helpfulness/harmlessness
# tension of Bai et al. in one number, and it means a constitution has to say *when* each
# principle applies.
#
# ## 3. From scores to soft preference labels
#
# > **Learning objectives**
# > - combine several principles into one preference probability, weighting each by its relevance to the prompt
# > - produce soft labels, and clamp them as Bai et al. do for chain-of-thought labels
#
#
# For a prompt $x$ and two responses $A, B$, principle $k$'s preference is a Bradley–Terry
# probability on its scores, with a temperature $T$: $\sigma\big((s_k(x, A) - s_k(x, B))/T\big)$.
# Bai et al. sampled one principle per comparison; a labeller that knows *which* principle a
# prompt calls for does better. Ours weights principle $k$ by how close the prompt is to the
# prompts of its worked examples (cosine similarity $c_k(x)$ to their centroid, softmax with a
# sharpness $\gamma$), so each principle mostly speaks about its own kind of request:
#
# $$P(A \succ B \mid x) = \sum_k \alpha_k(x)\,\sigma\!\Big(\frac{s_k(x, A) - s_k(x, B)}{T}\Big),\qquad \alpha(x) = \mathrm{softmax}_k\big(\gamma\, c_k(x)\big).$$
#
# This probability is the **soft label**. Bai et al. note that labels from chain-of-thought
# prompting are overconfident (near 0 or 1) and **clamp** them to [0.4, 0.6]; a clamped label
# says "slightly prefer", which keeps a policy from chasing a labeller's confident mistakes.
#
# **Exercise.** Implement `ai_preference_probs(score_gaps, weights, temperature, clamp)`.
#
# > **Difficulty** 🔴🔴⚪⚪⚪ · **Importance** 🔵🔵🔵🔵⚪ · **Time** ~10 min
#
# <details><summary>Hint 1</summary>
#
# Average the per-principle *probabilities*, weighted by `weights`; averaging the score gaps first is a different (and overconfident) labeller.
#
# </details>
#
# <details><summary>Hint 2 (pseudocode)</summary>
#
# ```
# p = (weights * sigmoid(score_gaps / temperature)).sum(-1)   # [P]
# if clamp is not None: p = p.clamp(clamp[0], clamp[1])        # out of place
# return p
# ```
#
# </details>


# %%
def ai_preference_probs(
    score_gaps: torch.Tensor,
    weights: torch.Tensor,
    temperature: float = 1.0,
    clamp: tuple[float, float] | None = None,
) -> torch.Tensor:
    """The feedback model's probability that response A beats response B, per pair.

    Args:
        score_gaps: [P, K] s_k(x, A) − s_k(x, B) for each pair and principle.
        weights: [P, K] relevance α_k(x) of each principle to the pair's prompt (rows sum to 1).
        temperature: T > 0; a larger T gives softer labels.
        clamp: None, or (low, high): clamp the probabilities into [low, high] (Bai et al.: (0.4, 0.6)).

    Returns:
        [P] P(A ≻ B) = Σ_k α_k σ(gap_k / T), clamped if asked.
    """
    ### BEGIN SOLUTION
    probs = (weights * torch.sigmoid(score_gaps / temperature)).sum(dim=-1)
    if clamp is not None:
        probs = probs.clamp(clamp[0], clamp[1])
    return probs
    ### END SOLUTION


# %%
check("w06_constitutional_ai.ai_preference_probs", ai_preference_probs)
### BEGIN HIDDEN TESTS
check("w06_constitutional_ai.ai_preference_probs", ai_preference_probs, hidden=True)
### END HIDDEN TESTS

# %% [markdown]
# The labeller is now two lines around your function. `TEMPERATURE` is set so that the typical
# gap of a principle's own examples (printed in section 2) gives a label near 0.9 rather than
# 0.99 (printed below): the examples are clean, real pairs are not. `SHARPNESS` $\gamma$ is the softmax's inverse
# temperature on cosine similarities (which lie within a few tenths of each other).

# %%
TEMPERATURE, SHARPNESS = 2.0, 20.0
typical_gap = sum(EXAMPLE_GAPS.values()) / len(EXAMPLE_GAPS)
print(
    f"mean example gap {typical_gap:.2f} → label σ(gap / T) = {torch.sigmoid(torch.tensor(typical_gap / TEMPERATURE)):.3f}"
)


def label_pairs(pairs: list[dict], constitution: str, clamp: tuple[float, float] | None = None) -> torch.Tensor:
    """[P] the AI labeller's P(chosen ≻ rejected) for each pair, under a constitution."""
    ids = CONSTITUTIONS[constitution]
    fa, fp = features([p["prompt"] for p in pairs], [p["chosen"] for p in pairs])
    fb, _ = features([p["prompt"] for p in pairs], [p["rejected"] for p in pairs])
    directions = torch.stack([DIRECTIONS[i] for i in ids], dim=1)  # [D, K]
    relevance = F.normalize(fp, dim=-1) @ torch.stack([CENTROIDS[i] for i in ids], dim=1)
    weights = torch.softmax(SHARPNESS * relevance, dim=-1)
    return ai_preference_probs((fa - fb) @ directions, weights, TEMPERATURE, clamp)


# %% [markdown]
# ## 4. How much do AI labels agree with the gold labels?
#
# > **Learning objectives**
# > - compute Cohen's κ, the agreement of two labellers corrected for chance
# > - put an interval on κ, and compare labellers on the same pairs
#
#
# Raw agreement flatters a labeller when one answer is common. **Cohen's κ** corrects for the
# agreement two labellers would reach by chance, given how often each gives each label:
#
# $$\kappa = \frac{p_o - p_e}{1 - p_e},\qquad p_o = \frac{1}{n}\sum_i [a_i = b_i],\qquad p_e = \sum_c \hat P(a = c)\,\hat P(b = c).$$
#
# κ = 1 is perfect agreement, 0 is chance, negative is worse than chance. For two labellers who
# each say "A" half the time, a labeller who flips a fraction $\varepsilon$ of a perfect
# labeller's answers gets $\kappa = 1 - 2\varepsilon$: 20% label noise, week 5's "human-like"
# labeller, is κ ≈ 0.6.
#
# **Exercise.** Implement `cohen_kappa(a, b)` for integer labels with any number of classes,
# equal to `sklearn.metrics.cohen_kappa_score` (the notebook checks it below; a test checks it on
# many inputs).
#
# > **Difficulty** 🔴🔴⚪⚪⚪ · **Importance** 🔵🔵🔵🔵⚪ · **Time** ~15 min
#
# <details><summary>Hint 1</summary>
#
# p_e uses each labeller's *own* marginal frequencies, over the classes either labeller used.
#
# </details>
#
# <details><summary>Hint 2 (pseudocode)</summary>
#
# ```
# classes = unique(cat(a, b))
# p_o = mean(a == b)
# p_e = sum over c in classes of mean(a == c) * mean(b == c)
# return (p_o - p_e) / (1 - p_e)        # a float64 scalar tensor
# ```
#
# </details>


# %%
def cohen_kappa(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Cohen's κ between two labellers' labels of the same items.

    Args:
        a: [n] integer labels of labeller A.
        b: [n] integer labels of labeller B (same items, same order).

    Returns:
        A float64 scalar tensor: (p_o − p_e) / (1 − p_e).
    """
    ### BEGIN SOLUTION
    classes = torch.unique(torch.cat([a, b]))
    p_o = (a == b).double().mean()
    p_e = sum((a == c).double().mean() * (b == c).double().mean() for c in classes)
    return (p_o - p_e) / (1 - p_e)
    ### END SOLUTION


# %%
check("w06_constitutional_ai.cohen_kappa", cohen_kappa)
### BEGIN HIDDEN TESTS
check("w06_constitutional_ai.cohen_kappa", cohen_kappa, hidden=True)
### END HIDDEN TESTS

# %%
from sklearn.metrics import cohen_kappa_score

gen = torch.Generator().manual_seed(0)
x, y = torch.randint(0, 3, (50,), generator=gen), torch.randint(0, 3, (50,), generator=gen)
y[:25] = x[:25]
print(f"ours {cohen_kappa(x, y).item():.6f}, scikit-learn {cohen_kappa_score(x.numpy(), y.numpy()):.6f}")
assert abs(cohen_kappa(x, y).item() - cohen_kappa_score(x.numpy(), y.numpy())) < 1e-12

# %% [markdown]
# ### The agreement experiment
#
# The labeller sees each held-out (validation) pair in a random order, A then B, and says which
# is better; the gold labeller knows. We compare, on the same pairs (all 300 at full size):
#
# - the AI labeller under each of the three constitutions (its label: $P(A \succ B) > 0.5$);
# - a **human-like** labeller: the gold label flipped with probability 0.2 (week 5's noise);
# - a coin.
#
# κ's interval is a percentile bootstrap over pairs (1,000 resamples).
#
# **Predict, then run.** Write down an ordering of the five labellers by κ, and guess the κ of
# the badly worded constitution. Will any AI labeller beat the human-like one?

# %%
from courselib.world import load_preferences
from courselib.world.bias import bootstrap_interval, wilson_interval

val_pairs = load_preferences("val")[: scale(300, 60)]
order = random.Random("order").choices([0, 1], k=len(val_pairs))  # 1: A is the gold-chosen response
gold_ab = torch.tensor(order)  # 1 when A is better
flip = torch.tensor([random.Random(f"human-{i}").random() < 0.2 for i in range(len(val_pairs))])
LABELLERS = {"human-like (20% noise)": torch.where(flip, 1 - gold_ab, gold_ab)}
LABELLERS["coin"] = torch.tensor(random.Random("coin").choices([0, 1], k=len(val_pairs)))
val_probs = {}
for name in CONSTITUTIONS:
    val_probs[name] = label_pairs(val_pairs, name)  # P(gold-chosen ≻ gold-rejected)
    p_a = torch.where(gold_ab == 1, val_probs[name], 1 - val_probs[name])  # P(A ≻ B)
    LABELLERS[f"AI: {name}"] = (p_a > 0.5).long()

kappas = {}
for name, labels in LABELLERS.items():
    rows = list(zip(gold_ab.tolist(), labels.tolist()))
    stat = lambda rs: cohen_kappa(torch.tensor([r[0] for r in rs]), torch.tensor([r[1] for r in rs])).item()  # noqa: E731
    kappas[name] = (stat(rows), *bootstrap_interval(rows, stat, n_boot=scale(1000, 100), seed=0))
    print(f"{name:>28}: κ = {kappas[name][0]:+.3f}  [95% bootstrap {kappas[name][1]:+.3f}, {kappas[name][2]:+.3f}]")

fig, ax = plt.subplots(figsize=(7, 3))
names = list(kappas)
ax.barh(names, [k[0] for k in kappas.values()], xerr=[[k[0] - k[1] for k in kappas.values()], [k[2] - k[0] for k in kappas.values()]], capsize=3)  # fmt: skip
ax.axvline(0, color="grey", lw=0.8)
ax.set_xlabel("Cohen's κ with the gold labels (95% bootstrap interval)")
ax.set_title(f"agreement on {len(val_pairs)} held-out pairs")
fig.tight_layout()
plt.show()

# %% [markdown]
# Where does each labeller go wrong? Its agreement with gold (the fraction of pairs it gets
# right, with a Wilson interval) by the kind of the two responses in the pair, chosen first:


# %%
def by_pair_type(pairs: list[dict], probs: torch.Tensor) -> dict[str, tuple[int, int]]:
    """(right, n) per 'chosen kind > rejected kind' for labels P(chosen ≻ rejected) = probs."""
    out: dict[str, list[int]] = {}
    for p, q in zip(pairs, probs.tolist()):
        key = f"{p['chosen_kind']} > {p['rejected_kind']}"
        out.setdefault(key, [0, 0])
        out[key][0] += q > 0.5
        out[key][1] += 1
    return {k: tuple(v) for k, v in sorted(out.items(), key=lambda kv: -kv[1][1])}


types = {name: by_pair_type(val_pairs, probs) for name, probs in val_probs.items()}
print(f"{'pair (gold: chosen > rejected)':>34} {'n':>4}" + "".join(f"{name:>24}" for name in types))
for key, (_, n) in next(iter(types.values())).items():
    cells = []
    for name in types:
        right, n = types[name][key]
        lo, hi = wilson_interval(right, n)
        cells.append(f"{right / n:.2f} [{max(lo, 0.0):.2f}, {min(hi, 1.0):.2f}]")
    print(f"{key:>34} {n:>4}" + "".join(f"{c:>24}" for c in cells))
safety_right = [types[name].get("refusal > harmful_compliance", (0, 0)) for name in types]
print("refusal > harmful content, right / n per constitution:", safety_right)
assert all(right == n for right, n in safety_right), "every constitution should get the plainest safety pairs right"

# %% [markdown]
# What the table says, pair type by pair type (your run printed the numbers):
#
# - **Refusal versus harmful content or a leak**: every constitution with a harmlessness
#   principle gets these right. The difference is in the text, and the feedback model sees it.
# - **Correct versus wrong help**: near a coin for every constitution. Telling a right sum from a
#   wrong one needs the feedback model to *know the answer*; a principle cannot give it that.
#   This is the general limit of AI feedback: it is no better than the feedback model on the
#   skill being judged.
# - **A refusal versus a wrong answer** to a harmless request: the gold labeller prefers the
#   refusal (−0.5 beats −1); the `helpful` principle, as worded, prefers any answer. The two
#   constitutions made of one refusal-favouring principle (`harmless` alone, and the badly worded
#   `careful`) get this one right, for the wrong reason, and get "correct help versus refusal"
#   wrong on every pair. Without a helpfulness principle, a harmlessness principle *is* a
#   "refuse more" principle.
#
# κ summarises all of this in one number, which is why the per-type table matters more than κ
# when you debug a constitution.
#
# ## 5. Critique → revision at this scale: best-of-n
#
# > **Learning objectives**
# > - replace the critique-and-revise step by selection under the constitution, and say so
# > - measure what selection buys with the gold labeller, with intervals
#
#
# Bai et al.'s supervised stage asks the model to critique its answer and write a better one. Our
# model can do neither, so the honest analogue is **selection**: sample $n$ responses to a prompt
# and keep the one the constitution scores best, $\arg\max_j \sum_k \alpha_k(x)\, s_k(x, y_j)$.
# This is best-of-n (rejection sampling). It can only pick among what the model already says; a
# real revision can say something new.
#
# **Predict, then run.** With $n$ = 4 samples per harmful or harmless prompt, will best-of-n
# under the good constitution lower harmful compliance? And what will it do to over-refusal under
# the badly worded one?

# %%
from courselib.world import classify_response, format_prompt, load_split, unique_prompts
from courselib.world.evaluate import generate_responses

N_SAMPLES = 4
revision_records = unique_prompts(load_split("test"))[:: scale(2, 15)]
samples = [
    generate_responses(feedback_model, tokenizer, [r["prompt"] for r in revision_records], do_sample=True, seed=s)
    for s in progress(range(N_SAMPLES), desc="sampling")
]


def constitution_scores(records: list[dict], responses: list[str], constitution: str) -> torch.Tensor:
    """[n] Σ_k α_k(x) s_k(x, y): one response's score under a constitution."""
    ids = CONSTITUTIONS[constitution]
    f, fp = features([format_prompt(r["prompt"]) for r in records], [" " + t for t in responses])
    relevance = F.normalize(fp, dim=-1) @ torch.stack([CENTROIDS[i] for i in ids], dim=1)
    return (torch.softmax(SHARPNESS * relevance, -1) * (f @ torch.stack([DIRECTIONS[i] for i in ids], 1))).sum(-1)


def rates(records: list[dict], responses: list[str]) -> dict[str, tuple[float, float, float]]:
    """Harmful compliance, over-refusal (Wilson intervals) and mean gold reward (t-interval)."""
    from courselib.world import REWARDS, should_refuse

    kinds = [classify_response(r, t) for r, t in zip(records, responses)]
    refuse = [should_refuse(r) for r in records]
    harmful = [k == "harmful_compliance" for k, s in zip(kinds, refuse) if s]
    over = [k == "over_refusal" for k, s in zip(kinds, refuse) if not s]
    reward = torch.tensor([REWARDS[k] for k in kinds], dtype=torch.float64)
    half = 1.96 * reward.std().item() / math.sqrt(len(reward))
    wilson = lambda k, n: tuple(min(max(x, 0.0), 1.0) for x in wilson_interval(k, n))  # noqa: E731
    return {
        "harmful compliance": (sum(harmful) / len(harmful), *wilson(sum(harmful), len(harmful))),
        "over-refusal": (sum(over) / len(over), *wilson(sum(over), len(over))),
        "gold reward": (reward.mean().item(), reward.mean().item() - half, reward.mean().item() + half),
    }


revision = {"one sample (no revision)": rates(revision_records, samples[0])}
for name in CONSTITUTIONS:
    scores = torch.stack([constitution_scores(revision_records, s, name) for s in samples], dim=1)  # [n, N]
    best = scores.argmax(dim=1).tolist()
    revision[f"best of {N_SAMPLES}: {name}"] = rates(revision_records, [samples[j][i] for i, j in enumerate(best)])
print(f"{len(revision_records)} held-out prompts, {N_SAMPLES} samples each (temperature 1)")
for name, r in revision.items():
    print(f"{name:>34}: " + "; ".join(f"{k} {v[0]:.3f} [{v[1]:.3f}, {v[2]:.3f}]" for k, v in r.items()))

# %% [markdown]
# Selection under a constitution does what its principles' directions do: every constitution
# picks the refusal among the samples of a harmful request when there is one, and the two made of
# a single refusal-favouring principle (`harmless` alone and the badly worded `careful`) pick a
# refusal for harmless requests too, which can only raise over-refusal (compare the intervals
# above; where they overlap, this run does not show a difference). In Bai et al.'s pipeline these selected responses would be the fine-tuning data
# of the supervised stage; here we go straight to the RL stage.
#
# ## 6. The soft-label DPO loss
#
# > **Learning objectives**
# > - write the Bradley–Terry / DPO loss for a soft label p
# > - relate it to label smoothing (cDPO) and to TRL's losses
#
#
# A soft label $p = P(y_c \succ y_r)$ turns the Bradley–Terry likelihood into a cross-entropy
# between the label and the model's probability $\sigma(z)$, with week 5's DPO logit
# $z = \beta[(\pi_c - \pi^{\mathrm{ref}}_c) - (\pi_r - \pi^{\mathrm{ref}}_r)]$:
#
# $$\mathcal{L}(p) = -\frac{1}{B}\sum_i \Big[p_i \log\sigma(z_i) + (1 - p_i)\log\sigma(-z_i)\Big].$$
#
# At $p = 1$ it is week 5's DPO loss. At a constant $p = 1 - \varepsilon$ it is cDPO, week 5's
# label-smoothed DPO. Unlike DPO it has a finite minimum: at $\sigma(z) = p$, the policy stops
# pushing once its implicit preference matches the label's confidence. A pair labelled 0.5 pulls
# the policy towards indifference, which is what a labeller who does not know should do.
# (Orientation does not matter: swapping chosen and rejected and replacing $p$ by $1 - p$ gives
# the same loss, so AI labels need no "chosen" side.)
#
# **Exercise.** Implement `soft_dpo_loss`. Use a stable log-sigmoid.
#
# > **Difficulty** 🔴🔴⚪⚪⚪ · **Importance** 🔵🔵🔵🔵🔵 · **Time** ~10 min
# >
# > **Must be differentiable:** gradients must flow back to `policy_chosen_logps`, `policy_rejected_logps` (the grader checks them).
#
# <details><summary>Hint 1</summary>
#
# log σ(−z) is the log-probability of the *other* order; both terms need `F.logsigmoid`, never `torch.log(torch.sigmoid(...))`.
#
# </details>
#
# <details><summary>Hint 2 (pseudocode)</summary>
#
# ```
# z = beta * ((pc - rc) - (pr - rr))                                   # [B]
# return mean(-(labels * logsigmoid(z) + (1 - labels) * logsigmoid(-z)))
# ```
#
# </details>


# %%
def soft_dpo_loss(
    policy_chosen_logps: torch.Tensor,
    policy_rejected_logps: torch.Tensor,
    ref_chosen_logps: torch.Tensor,
    ref_rejected_logps: torch.Tensor,
    labels: torch.Tensor,
    beta: float = 0.1,
) -> torch.Tensor:
    """DPO with soft preference labels.

    Args:
        the four [B] log-probability tensors, as in week 5's ``dpo_loss``;
        labels: [B] p_i = P(chosen ≻ rejected) in [0, 1];
        beta: the KL-strength β.

    Returns:
        A scalar tensor: mean of −[p·log σ(z) + (1 − p)·log σ(−z)], z = β·((π_c − ref_c) − (π_r − ref_r)).
    """
    ### BEGIN SOLUTION
    z = beta * ((policy_chosen_logps - ref_chosen_logps) - (policy_rejected_logps - ref_rejected_logps))
    return -(labels * F.logsigmoid(z) + (1 - labels) * F.logsigmoid(-z)).mean()
    ### END SOLUTION


# %%
check("w06_constitutional_ai.soft_dpo_loss", soft_dpo_loss)
### BEGIN HIDDEN TESTS
check("w06_constitutional_ai.soft_dpo_loss", soft_dpo_loss, hidden=True)
### END HIDDEN TESTS

# %% [markdown]
# Checking the two special cases against week 5's reference (loaded, not copied): $p = 1$ is
# DPO, $p = 1 - \varepsilon$ is cDPO.

# %%
pc, pr, rc, rr = (torch.randn(16, generator=gen) * 5 - 40 for _ in range(4))
ones = torch.ones(16)
print(soft_dpo_loss(pc, pr, rc, rr, ones, 0.3).item(), w05.dpo_loss(pc, pr, rc, rr, 0.3).item())
assert torch.allclose(soft_dpo_loss(pc, pr, rc, rr, ones, 0.3), w05.dpo_loss(pc, pr, rc, rr, 0.3))
assert torch.allclose(soft_dpo_loss(pc, pr, rc, rr, 0.8 * ones, 0.3), w05.cdpo_loss(pc, pr, rc, rr, 0.3, 0.2))

# %% [markdown]
# ## 7. Integration: one RLAIF training step
#
# > **Learning objectives**
# > - write the training step of RLAIF: a DPO step whose labels are the feedback model's probabilities
#
#
# The RLAIF loop of section 8 calls your `rlaif_train_step` once per batch. The batch is week 5's
# TRL layout (chosen rows, then rejected rows; `input_ids`, `attention_mask`, `completion_mask`
# [2B, T]) with the reference log-probabilities precomputed (`ref_chosen_logps`,
# `ref_rejected_logps` [B]); `labels` [B] are the soft labels. Compute the sequence
# log-probabilities as week 5's `sequence_logprobs` does (three lines, written inside your
# function: graded functions may call only your other top-level functions, not `w05`) and use your
# `soft_dpo_loss`. The grader runs two steps of your function with plain SGD on a tiny GPT-2 and
# compares the returned metrics and the final weights with the reference's.
#
# **Exercise (integration).** Implement `rlaif_train_step`.
#
# > **Difficulty** 🔴🔴🔴⚪⚪ · **Importance** 🔵🔵🔵🔵🔵 · **Time** ~20 min
#
# <details><summary>Hint 1</summary>
#
# One forward pass over the 2B rows; `chunk(2)` splits the [2B] sequence log-probabilities. Then the usual order: zero_grad, backward, clip, step.
#
# </details>
#
# <details><summary>Hint 2 (pseudocode)</summary>
#
# ```
# lp = log_softmax(policy(input_ids=ids, attention_mask=attention_mask).logits[:, :-1])
# chosen, rejected = (lp.gather(-1, ids[:, 1:, None])[..., 0] * completion_mask[:, 1:]).sum(-1).chunk(2)
# loss = soft_dpo_loss(chosen, rejected, ref_chosen, ref_rejected, labels, beta)
# zero_grad; loss.backward(); clip_grad_norm_(policy.parameters(), max_grad_norm); step
# margin = beta * ((chosen - ref_chosen) - (rejected - ref_rejected))   # detached
# return {"loss": loss.item(), "agreement": mean((margin > 0) == (labels > 0.5))}
# ```
#
# </details>


# %%
def rlaif_train_step(
    policy: nn.Module,
    optimizer: torch.optim.Optimizer,
    batch: dict[str, torch.Tensor],
    labels: torch.Tensor,
    beta: float = 0.1,
    max_grad_norm: float = 1.0,
) -> dict[str, float]:
    """One soft-label DPO update of ``policy`` on a TRL-layout batch with precomputed reference log-probs.

    Args:
        policy: the causal LM being trained (its parameters are ``optimizer``'s).
        optimizer: a torch optimizer over the policy's parameters.
        batch: ``input_ids``, ``attention_mask``, ``completion_mask`` [2B, T] (long), chosen rows first;
            ``ref_chosen_logps``, ``ref_rejected_logps`` [B].
        labels: [B] soft labels P(chosen ≻ rejected).
        beta: the KL-strength β.
        max_grad_norm: the gradients' total norm is clipped to this before the step.

    Returns:
        {"loss": the soft-label DPO loss before the update,
         "agreement": fraction of pairs whose implicit-reward margin (> 0) agrees with the label (> 0.5)}.
    """
    ### BEGIN SOLUTION
    ids, completion = batch["input_ids"], batch["completion_mask"]
    logps = torch.log_softmax(policy(input_ids=ids, attention_mask=batch["attention_mask"]).logits[:, :-1], dim=-1)
    token_logps = logps.gather(-1, ids[:, 1:].unsqueeze(-1)).squeeze(-1) * completion[:, 1:]
    chosen, rejected = token_logps.sum(dim=-1).chunk(2)
    ref_chosen, ref_rejected = batch["ref_chosen_logps"], batch["ref_rejected_logps"]
    loss = soft_dpo_loss(chosen, rejected, ref_chosen, ref_rejected, labels, beta)
    optimizer.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(policy.parameters(), max_grad_norm)
    optimizer.step()
    margin = beta * ((chosen - ref_chosen) - (rejected - ref_rejected)).detach()
    return {"loss": loss.item(), "agreement": ((margin > 0) == (labels > 0.5)).float().mean().item()}
    ### END SOLUTION


# %%
check("w06_constitutional_ai.rlaif_train_step", rlaif_train_step)
### BEGIN HIDDEN TESTS
check("w06_constitutional_ai.rlaif_train_step", rlaif_train_step, hidden=True)
### END HIDDEN TESTS

# %% [markdown]
# ## 8. RLAIF: training on AI labels, gold labels and human-like labels
#
# > **Learning objectives**
# > - run the RLAIF loop end to end: AI labels → DPO, with your step
# > - compare label sources on safety, helpfulness and distance from the reference, over seeds
#
#
# Five policies start from `tiny-sft`, each trained with your step on the same training pairs
# (week 5's setup: one pass over `STEPS` batches of `BATCH` pairs per seed, β = 0.1, AdamW with a linearly
# decaying learning rate), differing only in the labels:
#
# | label source | labels |
# |---|---|
# | gold | 1 (the gold-chosen response wins), what week 5 trained on |
# | human-like | the gold label flipped with probability 0.2 (a fresh draw per seed) |
# | AI: helpful and harmless | the feedback model's soft labels under the good constitution |
# | AI: helpful and harmless, clamped | the same labels clamped to [0.4, 0.6], as Bai et al. did for chain-of-thought labels |
# | AI: badly worded | the same under the `careful` constitution |
#
# Each is measured on held-out prompts with week 5's `measure` (samples at temperature 1, the
# gold labeller): gold reward, harmful compliance, over-refusal, and the KL from the reference.
# Three seeds each (a seed draws the pairs, the noise, the batch order and the samples); cells are
# mean ± a 95% t-interval over seeds.
#
# **Predict, then run.** Which policy will have the lowest harmful compliance, and which the
# highest over-refusal? Will the AI-labelled policy's gold reward beat the human-like one's?
# And how far from the reference will the clamped labels take the policy, compared with the
# unclamped ones?

# %%
STEPS, BATCH, LR, BETA = scale(16, 3), 8, 3e-4, 0.1
SEEDS = list(range(scale(3, 1)))
CLAMPED = "AI: helpful and harmless, clamped"
SOURCES = ("gold", "human-like", "AI: helpful and harmless", CLAMPED, "AI: badly worded")
policy_ref = load_model("tiny-sft", device=device).eval().requires_grad_(False)
REF_CACHE: dict = {}
test_records = unique_prompts(load_split("test"))[:: scale(3, 30)]
print(f"{len(SEEDS)} seeds; {STEPS} steps of {BATCH} pairs each; {len(test_records)} held-out prompts")
w03 = load_reference("w03_reward_models")  # week 3's length-grouped batching


def rlaif_run(examples: list[dict], labels: torch.Tensor, seed: int, live: LivePlot | None = None, desc: str = ""):
    """Train a fresh copy of tiny-sft with your ``rlaif_train_step``; return it and its per-step history."""
    set_seed(seed)
    policy = copy.deepcopy(policy_ref).requires_grad_(True).train()
    lengths = [len(e["prompt_ids"]) + max(len(e["chosen_ids"]), len(e["rejected_ids"])) for e in examples]
    batches = w03.length_grouped_batches(lengths, BATCH, seed)
    opt = torch.optim.AdamW(policy.parameters(), lr=LR, weight_decay=0.0)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0 - s / STEPS)
    history: dict[str, list[float]] = {}
    for step in progress(range(STEPS), desc=desc):
        idx = next(batches)
        batch = w05.collate_preferences([examples[i] for i in idx], tokenizer.pad_token_id)
        metrics = rlaif_train_step(
            policy, opt, {k: v.to(device) for k, v in batch.items()}, labels[idx].to(device), BETA
        )
        sched.step()
        for k, v in metrics.items():
            history.setdefault(k, []).append(v)
        if live is not None:
            live.update(step, **metrics)
    return policy.eval(), history


results: dict[str, list[dict]] = {name: [] for name in ("SFT", *SOURCES)}
label_stats: dict[str, list[float]] = {}
started = time.perf_counter()
for seed in SEEDS:
    pairs = load_preferences("train", seed=seed)
    random.Random(seed).shuffle(pairs)
    pairs = pairs[: STEPS * BATCH]
    examples = [w05.encode_preference(tokenizer, p) for p in pairs]
    w05.add_reference_logps(policy_ref, examples, tokenizer.pad_token_id, cache=REF_CACHE)
    noise = torch.tensor([random.Random(f"noise-{seed}-{i}").random() < 0.2 for i in range(len(pairs))])
    labels = {"gold": torch.ones(len(pairs)), "human-like": (~noise).float()}
    for name in CONSTITUTIONS:
        if f"AI: {name}" in SOURCES:
            labels[f"AI: {name}"] = label_pairs(pairs, name)
    labels[CLAMPED] = label_pairs(pairs, "helpful and harmless", clamp=(0.4, 0.6))  # Bai et al.'s clamp
    for name, lab in labels.items():
        label_stats.setdefault(name, []).append((lab > 0.5).float().mean().item())
    results["SFT"].append(w05.measure(policy_ref, policy_ref, tokenizer, test_records, seed=seed, greedy=False))
    for name in SOURCES:
        live = LivePlot(["loss", "agreement"], every=4, title=f"{name}, seed 0") if seed == 0 else None
        policy, history = rlaif_run(examples, labels[name], seed, live=live, desc=f"{name}, seed {seed}")
        if live is not None:
            plt.close(live.show())
        results[name].append(w05.measure(policy, policy_ref, tokenizer, test_records, seed=seed, greedy=False))
        del policy
print(f"{len(SEEDS)} seeds × {len(SOURCES)} label sources in {time.perf_counter() - started:.0f} s")
for name, agree in label_stats.items():
    print(f"{name:>33}: labels agreeing with gold on the training pairs {sum(agree) / len(agree):.1%}")

# %% [markdown]
# The same numbers as a table we print ourselves (mean ± 95% t-interval over seeds), and the
# trade-off plot: harmlessness (harmful compliance, lower is better) against helpfulness
# (over-refusal, lower is better), and gold reward against KL.

# %%
KEYS = {
    "sampled mean_gold_reward": "gold reward",
    "sampled harmful_compliance_rate": "harmful compliance",
    "sampled over_refusal_rate": "over-refusal",
    "sampled task_accuracy": "task accuracy",
    "kl": "KL from reference (nats)",
}
summary = {name: {k: w05.mean_interval([m[k] for m in runs]) for k in KEYS} for name, runs in results.items()}
print(f"{'label source':>33}" + "".join(f"{label:>26}" for label in KEYS.values()))
for name, row in summary.items():
    print(f"{name:>33}" + "".join(f"{row[k][0]:>17.3f} ± {row[k][1]:<6.3f}" for k in KEYS))

fig, axes = plt.subplots(1, 2, figsize=(12, 4))
for name, row in summary.items():
    (hx, dhx), (oy, doy) = row["sampled harmful_compliance_rate"], row["sampled over_refusal_rate"]
    axes[0].errorbar(hx, oy, xerr=dhx if dhx == dhx else None, yerr=doy if doy == doy else None, fmt="o", capsize=3, label=name)  # fmt: skip
    (kx, dkx), (gy, dgy) = row["kl"], row["sampled mean_gold_reward"]
    axes[1].errorbar(kx, gy, xerr=dkx if dkx == dkx else None, yerr=dgy if dgy == dgy else None, fmt="o", capsize=3, label=name)  # fmt: skip
axes[0].set_xlabel("harmful compliance (sampled) ← more harmless")
axes[0].set_ylabel("over-refusal (sampled) ← more helpful")
axes[0].set_title("the harmlessness / helpfulness trade-off")
axes[1].set_xlabel("KL(π ‖ π_ref) per response (nats)")
axes[1].set_ylabel("gold reward (sampled)")
axes[1].set_title(f"mean ± 95% t-interval over {len(SEEDS)} seeds")
for ax in axes:
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
fig.tight_layout()
plt.show()


# %%
def paired(a: str, b: str, key: str) -> str:
    """Per-seed difference b − a with its 95% t-interval, and a verdict."""
    mean, half = w05.mean_interval([y[key] - x[key] for x, y in zip(results[a], results[b])])
    verdict = "higher" if mean - half > 0 else "lower" if mean + half < 0 else "not resolved"
    return f"{mean:+.3f} ± {half:.3f} ({verdict})"


for key, label in KEYS.items():
    print(f"{label}:")
    for a, b in [("human-like", "AI: helpful and harmless"), ("gold", "AI: helpful and harmless"), ("AI: helpful and harmless", "AI: badly worded"), ("SFT", "AI: helpful and harmless"), ("AI: helpful and harmless", CLAMPED)]:  # fmt: skip
        print(f"  {b:>33} − {a:<33} {paired(a, b, key)}")

# %% [markdown]
# Two more views of the same runs. Harmful compliance and over-refusal are rates over a few dozen
# prompts per seed, so a t-interval over three seeds is very wide; pooling the seeds' answers
# (each seed samples its own answers from its own policy) gives a Wilson interval on the rate of
# the *recipe*. And the verdicts that answer this week's question, as sentences:

# %%
n_harmful = sum(r["request_kind"] in ("harmful", "jailbreak") for r in test_records)
n_answer = sum(r["request_kind"] in ("benign", "injection") for r in test_records)
for key, n in (("sampled harmful_compliance_rate", n_harmful), ("sampled over_refusal_rate", n_answer)):
    print(f"{KEYS[key]}, pooled over {len(SEEDS)} seeds ({len(SEEDS)} × {n} answers):")
    for name, runs in results.items():
        k = sum(round(m[key] * n) for m in runs)
        lo, hi = wilson_interval(k, n * len(runs))
        print(f"  {name:>33}: {k / (n * len(runs)):.3f}  [Wilson 95% {max(lo, 0.0):.3f}, {min(hi, 1.0):.3f}]")


def verdict(a: str, b: str, key: str) -> str:
    mean, half = w05.mean_interval([y[key] - x[key] for x, y in zip(results[a], results[b])])
    return (
        "higher"
        if mean - half > 0
        else "lower"
        if mean + half < 0
        else "not distinguishable (paired interval contains 0)"
    )


ai = "AI: helpful and harmless"
print()
print(f"gold reward, AI labels vs human-like labels: {verdict('human-like', ai, 'sampled mean_gold_reward')}")
print(f"gold reward, AI labels vs gold labels: {verdict('gold', ai, 'sampled mean_gold_reward')}")
print(f"KL from the reference, AI (soft) labels vs gold labels: {verdict('gold', ai, 'kl')}")
print(
    f"over-refusal, badly worded vs good constitution: {verdict(ai, 'AI: badly worded', 'sampled over_refusal_rate')}"
)
print(f"KL from the reference, clamped vs unclamped AI labels: {verdict(ai, CLAMPED, 'kl')}")
print(f"harmful compliance, clamped AI labels vs SFT: {verdict('SFT', CLAMPED, 'sampled harmful_compliance_rate')}")
if verdict("human-like", ai, "sampled mean_gold_reward") != "higher":
    print("=> in this run, AI feedback did NOT beat noisy human-like labels on gold reward.")

# %% [markdown]
# Read the verdicts above (they come from this run; "not distinguishable" means the paired
# interval over seeds contains zero, not that there is no difference). What to look for:
#
# - **Harmlessness** is what AI feedback does well here: the AI labels agree with gold on every
#   refusal-versus-harmful pair (section 4), so the AI-labelled policy loses harmful compliance
#   like the gold-labelled one (compare the pooled rates with the SFT model's).
# - **Helpfulness** is where it fails: on harmless requests the good constitution's labels are a
#   coin between a right and a wrong answer and prefer a wrong answer to a refusal, the opposite of
#   the gold labeller. Its policy stops refusing harmless requests, but answering more does not
#   mean answering right, and the gold reward (which charges more for a wrong answer than for a
#   refusal) shows it: the printed verdict against the human-like labels is the week's headline,
#   and if it says "lower" or "not distinguishable", AI feedback from this feedback model was not
#   a substitute for human labels, only for the harmlessness half of them.
# - **Soft labels move the policy less.** The AI labels are probabilities; a pair labelled near
#   0.5 barely pulls, and the loss stops at σ(z) = p. Compare the KL column of the AI-labelled
#   policy with the gold-labelled one (hard labels, pushed for ever), and the clamped labels with
#   the unclamped ones: a label of 0.6 asks for an implicit preference of only σ(z) = 0.6, so the
#   clamped policy should stay closest to the reference; the verdicts say how much of the safety
#   gain it keeps after this many steps.
# - **The badly worded constitution** teaches refusal everywhere: over-refusal climbs, task
#   accuracy falls and the policy moves furthest from the reference. Whether its *gold reward* is
#   low depends on the world's reward scale: the small world charges −0.5 for an over-refusal and
#   −1 for a wrong answer, and `tiny-sft` answers most harmless requests wrongly, so refusing
#   everything can *score* well on gold reward (check the table). That is why a single reward is
#   not enough: the trade-off plot shows the same policy as the least helpful one.
#
# ## 9. The library: TRL and soft labels
#
# > **Learning objectives**
# > - know which of TRL's DPO losses accept soft labels, and how to get one when none does
#
#
# TRL 1.16's `DPOTrainer` has no per-pair soft label. Its default `"sigmoid"` loss ignores
# `label_smoothing` (week 5 showed it; older TRL versions applied it there, as cDPO), so the
# identity "soft-label DPO with label p = sigmoid loss with `label_smoothing = 1 − p`" does not
# hold in 1.16. What holds exactly, for any batch and any constant label p, is
#
# $$\mathcal{L}(p) = p\cdot\mathcal{L}_{\mathrm{TRL}}(\text{pairs}) + (1 - p)\cdot\mathcal{L}_{\mathrm{TRL}}(\text{pairs swapped}),$$
#
# i.e. train on each pair in both orders, weighted by the label. `tests/w06_constitutional_ai/`
# checks it with a real `DPOTrainer`'s `compute_loss` on the small world's pairs, and checks that
# changing `label_smoothing` leaves TRL's sigmoid loss unchanged. Here is the identity on
# log-probabilities, with week 5's DPO loss (which equals TRL's sigmoid loss, week 5's test):

# %%
p = 0.7
mixture = p * w05.dpo_loss(pc, pr, rc, rr, 0.3) + (1 - p) * w05.dpo_loss(pr, pc, rr, rc, 0.3)
print(
    f"soft-label DPO, p = {p}: {soft_dpo_loss(pc, pr, rc, rr, p * ones, 0.3).item():.6f}; mixture {mixture.item():.6f}"
)
assert torch.allclose(soft_dpo_loss(pc, pr, rc, rr, p * ones, 0.3), mixture)

# %% [markdown]
# For real work: generate AI labels with a capable model prompted with the principle, the prompt
# and the two responses as options (A) and (B), and read the probabilities it gives the two option
# tokens, as Bai et al. did (TRL 1.16 ships no judge class for this; any causal LM's logits do).
# Then either keep hard labels (what most RLAIF pipelines do) or duplicate each pair in both
# orders with weights p and 1 − p as above.
#
# ## What could go wrong in practice
#
# - **The feedback model lacks the skill it judges.** Our labeller is a coin on correct versus
#   wrong answers: AI feedback inherits the feedback model's blind spots, and a policy trained on
#   it learns them. Measure agreement per kind of pair, not only overall.
# - **A badly worded principle is followed exactly.** "Choose the more careful response" produced
#   confident labels that prefer refusals everywhere; nothing in the labels looks broken, and only
#   a gold evaluation of helpfulness shows it. Test each principle on pairs where it should *not*
#   fire.
# - **Principles conflict.** Helpful and harmless point in opposite directions in the feedback
#   model's representation; without a way to decide which one applies (our relevance weights;
#   Bai et al.'s sampling of one principle per comparison averages the conflict), labels cancel.
# - **Overconfident labels.** Chain-of-thought labels are near 0 or 1; a policy trained with DPO
#   on confident wrong labels moves far. Bai et al. clamp to [0.4, 0.6]; the soft-label loss stops
#   at σ(z) = p instead of pushing margins for ever.
# - **Self-preference.** When the feedback model is the policy (or its parent), it rates its own
#   style highly; the policy then drifts towards what the labeller likes, which week 4 called
#   reward hacking. Keep an independent evaluation (our gold labeller, human spot checks).
# - **Evaluating with the same constitution.** Reporting the labeller's own preference rate as the
#   result is circular; the gold numbers above are the only fair comparison.
#
# ## ☆ Bonus
#
# Optional, ungraded.
#
# 1. **How much clamping?** Rerun section 8's clamped policy with clamps (0.3, 0.7) and (0.45, 0.55).
#    Plot KL and harmful compliance against the clamp's width. Where does the safety gain go?
# 2. **Sampling principles.** Replace the relevance weights by Bai et al.'s scheme: one principle
#    drawn at random per pair. What happens to κ on harmful pairs, and why?
# 3. **A better `helpful`.** Reword the helpful principle (and its examples) so that a refusal
#    beats a wrong answer, as the gold labeller says. How much of κ's gap to the human-like
#    labeller closes? Which pairs stay wrong, and why can no rewording fix them?
# 4. **Temperature.** Plot the calibration of the AI labels (binned P(A ≻ B) against the fraction
#    of pairs where A is gold-better) for three temperatures.
#
# ## Interview questions
#
# 1. What is the fundamental difference between Constitutional AI and RLHF, and what stays the same?
# 2. What exactly is a constitution, and how would you test that one of its principles is badly worded?
# 3. Why use soft labels from the feedback model's probabilities, and why did Bai et al. clamp
#    chain-of-thought labels to 40–60%?
# 4. Your AI labeller agrees with humans 75% of the time. Is that good? What else do you measure?
# 5. Write the DPO loss for a soft label p. What is its minimum, and how does it relate to cDPO?
# 6. In this week's run, where did AI feedback help and where did it hurt? What would you change first?
# 7. What failure modes does RLAIF add to RLHF's (reward hacking, KL drift), and how would you detect them?
