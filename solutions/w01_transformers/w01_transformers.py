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
# # Week 1 — Transformers from scratch, and the small world
#
# For the rest of the course you will align, attack, defend and dissect one kind of object: a
# GPT-style language model. This week you build one, piece by piece, and prove that every piece
# is right by reproducing the numbers of the implementation most people use, Hugging Face
# `transformers`' GPT-2, **on the same weights**. When your forward pass gives the same logits
# as `GPT2LMHeadModel` to five decimals, there is nothing left to take on faith.
#
# The plan:
#
# 1. **Tokens.** Text becomes integer ids with byte-pair encoding (BPE); batches of ids of
#    different lengths are padded and get an attention mask. You write one BPE merge step and
#    the padding.
# 2. **The pieces of a block.** Layer normalisation and GPT-2's GELU.
# 3. **Causal self-attention.** The attention pattern, then multi-head attention with GPT-2's
#    packed weights.
# 4. **A GPT block and the full forward pass**, checked against `transformers` logit for logit.
# 5. **Sampling.** Temperature and top-k, written so that a random draw is reproducible.
# 6. **Training on the small world**: a few minutes on the CPU with *your* forward pass, and the
#    dialogues it generates.
#
# Notation used in every docstring: `B` batch size, `T` sequence length (positions), `D` model
# width (`n_embd`), `H` number of heads, `d_head = D / H`, `V` vocabulary size.

# %%
import json
import math
import time

import matplotlib.pyplot as plt
import torch
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
# ## 1. The small world and its tokens
#
# > **Learning objectives**
# > - write one byte-pair-encoding merge and replay a tokenizer's merges to reproduce its ids
# > - pad a batch on either side and build its attention mask from the lengths
#
# The course ships its own small world: a seeded generator of assistant dialogues whose every
# label is known (which requests are harmful, what the correct answer to an arithmetic question
# is, which response leaks fake personal data). Each dialogue has the same shape:
#
# ```
# User: What is 18 metres in centimetres?
# Assistant: 18 metres is 1800 centimetres.<|endoftext|>
# ```
#
# A model never sees characters. A **tokenizer** cuts the text into pieces from a fixed
# vocabulary and maps each piece to an integer id. The world's tokenizer is a byte-level BPE with
# 1,024 entries, trained on the world's own text (GPT-2's has 50,257, trained on web text), with
# one twist: digits are always single tokens, so that `1642` is `1 6 4 2` and a model can learn
# place value. Let us load it and look at a dialogue through its eyes.

# %%
from courselib.world import classify_response, format_prompt, load_split, unique_prompts


# Library objects are built inside small helpers (imports inside functions): the autograder keeps
# a notebook's imports, and there is no reason to make it load `transformers` to grade you.
def load_world_tokenizer():
    """The small world's tokenizer, a `transformers` fast tokenizer, loaded offline."""
    from courselib.models import load_tokenizer

    return load_tokenizer("tiny-base")


def load_tiny(name: str = "tiny-base"):
    """A shipped checkpoint of the small world (a `transformers` GPT2LMHeadModel in eval mode), offline."""
    from courselib.models import load_model

    return load_model(name)


def library_gpt2(**config):
    """A freshly initialised `transformers` GPT2LMHeadModel with the given GPT2Config fields."""
    from transformers import GPT2Config, GPT2LMHeadModel
    from transformers.utils import logging

    logging.set_verbosity_error()
    return GPT2LMHeadModel(GPT2Config(**config))


tokenizer = load_world_tokenizer()
train_records = load_split("train")
example = train_records[1]["text"]
ids = tokenizer(example)["input_ids"]
print(repr(example))
print(f"{len(example)} characters -> {len(ids)} tokens; vocabulary size {len(tokenizer)}")
print(tokenizer.convert_ids_to_tokens(ids))
print("decoded back:", repr(tokenizer.decode(ids)))

# %% [markdown]
# `Ġ` is how byte-level BPE prints a space (every byte gets a visible stand-in character), and
# `Ċ` is a newline. Common words are one token (`ĠWhat`); rarer ones are split into pieces.
#
# ### How BPE builds its vocabulary
#
# Byte-pair encoding starts from single bytes (256 symbols, so that *any* text can be encoded)
# and learns **merges**. Repeatedly: count every pair of adjacent symbols in the training text,
# pick the most frequent pair, say `(i, s)`, give it a new id, and replace every occurrence of
# the pair by that id. After $n$ merges the vocabulary has $256 + n$ entries (plus any special
# tokens). Encoding a new text replays the merges in the order they were learned.
#
# The one delicate step is the replacement. It scans left to right, and once a pair is merged
# its two symbols are used up: with the pair `(a, a)`, the sequence `a a a` becomes `aa a`, not
# `aa aa`.
#
# ```
# ids   5  5  5  5  5        pair (5, 5) -> 9
# out   9     9     5
# ```
#
# **Exercise 1.** Implement `merge_pair(ids, pair, new_id)`: a new list in which every
# occurrence of `pair`, found left to right without overlaps, is replaced by `new_id`.
#
# > **Difficulty** 🔴⚪⚪⚪⚪ · **Importance** 🔵🔵🔵⚪⚪ · **Time** ~10 min
#
# <details><summary>Hint 1</summary>
#
# Walk an index `i` along `ids`; at each position decide between "the pair starts here" and
# "copy one id". How far does `i` move in each case?
#
# </details>
#
# <details><summary>Hint 2 (pseudocode)</summary>
#
# ```
# out, i = [], 0
# while i < len(ids):
#     if ids[i], ids[i+1] exist and equal pair: append new_id; i += 2
#     else: append ids[i]; i += 1
# ```
#
# </details>


# %%
def merge_pair(ids: list[int], pair: tuple[int, int], new_id: int) -> list[int]:
    """One BPE merge: replace each left-to-right, non-overlapping occurrence of ``pair``.

    Args:
        ids: the token ids of one text, e.g. [1, 2, 3, 1, 2].
        pair: the two adjacent ids to merge, e.g. (1, 2).
        new_id: the id of the merged symbol, e.g. 9.

    Returns:
        A new list, e.g. [9, 3, 9]. ``ids`` itself is left unchanged.
    """
    ### BEGIN SOLUTION
    out = []
    i = 0
    while i < len(ids):
        if i + 1 < len(ids) and ids[i] == pair[0] and ids[i + 1] == pair[1]:
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out
    ### END SOLUTION


# %%
check("w01_transformers.merge_pair", merge_pair)
### BEGIN HIDDEN TESTS
check("w01_transformers.merge_pair", merge_pair, hidden=True)
### END HIDDEN TESTS

# %% [markdown]
# With `merge_pair` and a counter you have a BPE trainer. Let us learn the first merges from a
# slice of the world's dialogues and compare them with the merges the world's tokenizer learned
# (its saved form lists them in order). Like the real tokenizer we first cut the text into words
# with its pre-tokenizer, so that merges never cross a word boundary, and count the pairs inside
# each distinct word weighted by how often the word occurs.

# %%
from collections import Counter

pre_tokenize = tokenizer.backend_tokenizer.pre_tokenizer.pre_tokenize_str
word_counts = Counter(
    word
    for rec in train_records[: scale(2000, 300)]
    for word, _ in pre_tokenize(rec["text"].replace("<|endoftext|>", ""))
)
symbols = sorted({ch for word in word_counts for ch in word})
symbol_id = {s: i for i, s in enumerate(symbols)}
names = dict(enumerate(symbols))
words = {w: [symbol_id[ch] for ch in w] for w in word_counts}

learned = []
for _ in range(12):
    pairs = Counter()
    for w, seq in words.items():
        for a, b in zip(seq, seq[1:]):
            pairs[a, b] += word_counts[w]
    (a, b), count = pairs.most_common(1)[0]
    new_id = len(names)
    names[new_id] = names[a] + names[b]
    words = {w: merge_pair(seq, (a, b), new_id) for w, seq in words.items()}
    learned.append((names[a], names[b], count))

tokenizer_merges = json.loads(tokenizer.backend_tokenizer.to_str())["model"]["merges"]
print(f"{'ours':>20}  {'count':>6}   world tokenizer")
for (a, b, count), theirs in zip(learned, tokenizer_merges):
    print(f"{a + ' + ' + b:>20}  {count:>6}   {' + '.join(theirs)}")

# %% [markdown]
# The two lists pick nearly the same pairs in nearly the same order; the differences come from
# counting a slice of the data rather than all of it, and from pairs whose counts are close. The
# real trainer is the same loop made fast: it updates the pair counts incrementally instead of
# recounting, which matters when the corpus is gigabytes.
#
# Encoding is the other half of BPE: start from the bytes of each word and replay **all** the
# learned merges in the order they were learned. With the tokenizer's merges and your
# `merge_pair`, that reproduces the tokenizer's ids exactly:

# %%
vocab = tokenizer.get_vocab()


def bpe_encode(text: str) -> list[int]:
    """Token ids of ``text``: pre-tokenize, then replay every merge of the world's tokenizer in order."""
    out = []
    for word, _ in pre_tokenize(text):
        word_ids = [vocab[ch] for ch in word]
        for a, b in tokenizer_merges:
            word_ids = merge_pair(word_ids, (vocab[a], vocab[b]), vocab[a + b])
        out += word_ids
    return out


sentence = "User: How many centimetres are in 27 metres?"
print("replaying the merges:", bpe_encode(sentence))
print("the tokenizer:       ", tokenizer(sentence)["input_ids"])
print(f"({len(tokenizer_merges)} merges; identical: {bpe_encode(sentence) == tokenizer(sentence)['input_ids']})")

# %% [markdown]
# ### Batches: padding and the attention mask
#
# Dialogues have different lengths, but a tensor is a rectangle. To process a batch we **pad**
# the shorter sequences with a special `pad_id` and keep an **attention mask**: 1 for a real
# token, 0 for padding, so that losses and attention can ignore the padding. Which side we pad on
# matters:
#
# - **right padding** (`[t t t p p]`) is the default for training: every sequence starts at
#   position 0;
# - **left padding** (`[p p t t t]`) is what batched *generation* needs: the last column holds
#   every sequence's last real token, so the next token can be appended to all of them at once.
#
# The mask must come from the *lengths*, never from comparing ids with `pad_id`: GPT-2 itself
# uses the end-of-text token as its pad token, and a real `<|endoftext|>` would be masked out.
#
# **Exercise 2.** Implement `pad_batch(sequences, pad_id, padding_side="right")`.
#
# > **Difficulty** 🔴⚪⚪⚪⚪ · **Importance** 🔵🔵🔵⚪⚪ · **Time** ~10 min
#
# <details><summary>Hint 1</summary>
#
# Start from a [B, T] tensor full of `pad_id` and a [B, T] mask of zeros, then write each
# sequence (and its ones) into its row: from column 0 on the right side, ending at column T on the left.
#
# </details>
#
# <details><summary>Hint 2 (pseudocode)</summary>
#
# ```
# T = longest length
# ids = full((B, T), pad_id); mask = zeros((B, T))
# for row, seq: start = 0 if right else T - len(seq)
#     ids[row, start:start+len(seq)] = seq; mask[row, start:start+len(seq)] = 1
# ```
#
# </details>


# %%
def pad_batch(
    sequences: list[list[int]], pad_id: int, padding_side: str = "right"
) -> tuple[torch.Tensor, torch.Tensor]:
    """Pad token-id lists to the longest one and build the attention mask.

    Args:
        sequences: B lists of token ids (each non-empty, lengths may differ).
        pad_id: the id to pad with.
        padding_side: "right" (pad after the tokens) or "left" (pad before them).

    Returns:
        ``(input_ids, attention_mask)``, both int64 tensors of shape [B, T] with T the longest
        length; the mask is 1 on the real tokens and 0 on the padding.
    """
    ### BEGIN SOLUTION
    length = max(len(seq) for seq in sequences)
    input_ids = torch.full((len(sequences), length), pad_id, dtype=torch.long)
    attention_mask = torch.zeros((len(sequences), length), dtype=torch.long)
    for row, seq in enumerate(sequences):
        start = 0 if padding_side == "right" else length - len(seq)
        input_ids[row, start : start + len(seq)] = torch.tensor(seq, dtype=torch.long)
        attention_mask[row, start : start + len(seq)] = 1
    return input_ids, attention_mask
    ### END SOLUTION


# %%
check("w01_transformers.pad_batch", pad_batch)
### BEGIN HIDDEN TESTS
check("w01_transformers.pad_batch", pad_batch, hidden=True)
### END HIDDEN TESTS

# %% [markdown]
# The tokenizer does the same when asked for `padding=True`. Compare on three prompts, padded on
# each side:

# %%
prompts = [format_prompt(r["prompt"]) for r in train_records[:3]]
encoded = [tokenizer(p)["input_ids"] for p in prompts]
for side in ("right", "left"):
    tokenizer.padding_side = side
    library = tokenizer(prompts, padding=True, return_tensors="pt")
    ours_ids, ours_mask = pad_batch(encoded, tokenizer.pad_token_id, side)
    same = torch.equal(ours_ids, library["input_ids"]) and torch.equal(ours_mask, library["attention_mask"])
    print(f"{side:>5} padding: identical to the tokenizer's: {same}")
tokenizer.padding_side = "right"
print(ours_mask)

# %% [markdown]
# ## 2. The pieces of a GPT block: layer norm and GELU
#
# > **Learning objectives**
# > - implement layer normalisation (biased variance, ε inside the root) and GPT-2's tanh GELU
# > - say why a model must run with the exact nonlinearity it was trained with
#
# A GPT-2 block is two sub-layers, attention and an MLP, each wrapped as
#
# $$x \leftarrow x + \mathrm{SubLayer}(\mathrm{LN}(x)).$$
#
# The stream of vectors $x$ that flows from the embeddings to the output, updated by addition,
# is the **residual stream** (interpretability work in week 9 reads it directly). Normalising
# *before* each sub-layer ("pre-LN", GPT-2) rather than after the addition ("post-LN", the
# original 2017 Transformer) leaves the residual stream itself untouched and makes deep stacks
# much easier to train.
#
# **Layer normalisation** standardises each position's vector over its $D$ features, then
# applies a learned scale $\gamma$ and shift $\beta$:
#
# $$\mathrm{LN}(x) = \frac{x - \mu}{\sqrt{\sigma^2 + \epsilon}} \odot \gamma + \beta, \qquad
# \mu = \frac1D \sum_i x_i, \quad \sigma^2 = \frac1D \sum_i (x_i - \mu)^2 .$$
#
# Note the *biased* variance (divide by $D$, not $D-1$) and $\epsilon$ inside the square root;
# GPT-2 uses $\epsilon = 10^{-5}$.
#
# **Exercise 3.** Implement `layer_norm(x, weight, bias, eps=1e-5)` without `F.layer_norm` or
# `nn.LayerNorm`.
#
# > **Difficulty** 🔴⚪⚪⚪⚪ · **Importance** 🔵🔵🔵🔵⚪ · **Time** ~10 min
# >
# > **Must be differentiable:** gradients must flow back to `x`, `weight`, `bias` (the grader checks them).
#
# <details><summary>Hint 1</summary>
#
# Reduce over the last dimension with `keepdim=True`, so that the [..., 1] statistics
# broadcast against x.
#
# </details>
#
# <details><summary>Hint 2 (pseudocode)</summary>
#
# ```
# mean = x.mean(-1, keepdim)
# var  = ((x - mean)²).mean(-1, keepdim)      # biased: divide by D
# return (x - mean) / sqrt(var + eps) * weight + bias
# ```
#
# </details>


# %%
def layer_norm(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """Layer normalisation over the last dimension.

    Args:
        x: [..., D] activations.
        weight, bias: [D] the learned scale (gamma) and shift (beta).
        eps: added to the variance inside the square root.

    Returns:
        [..., D], same shape as ``x``.
    """
    ### BEGIN SOLUTION
    mean = x.mean(dim=-1, keepdim=True)
    var = ((x - mean) ** 2).mean(dim=-1, keepdim=True)
    return (x - mean) / torch.sqrt(var + eps) * weight + bias
    ### END SOLUTION


# %%
check("w01_transformers.layer_norm", layer_norm)
### BEGIN HIDDEN TESTS
check("w01_transformers.layer_norm", layer_norm, hidden=True)
### END HIDDEN TESTS

# %% [markdown]
# The MLP's nonlinearity is the **GELU**, $x\,\Phi(x)$ with $\Phi$ the standard normal CDF.
# GPT-2 was trained with a cheaper approximation, and a model must be run with the function it
# was trained with (`transformers` calls it `gelu_new`):
#
# $$\mathrm{GELU}_{\tanh}(x) = \tfrac12\, x \left(1 + \tanh\!\left[\sqrt{2/\pi}\,\left(x + 0.044715\,x^3\right)\right]\right).$$
#
# **Exercise 4.** Implement `gelu_new(x)` without `F.gelu` or `nn.GELU`.
#
# > **Difficulty** 🔴⚪⚪⚪⚪ · **Importance** 🔵🔵⚪⚪⚪ · **Time** ~5 min
# >
# > **Must be differentiable:** gradients must flow back to `x` (the grader checks them).
#
# <details><summary>Hint 1</summary>
#
# It is an elementwise formula: `torch.tanh`, `math.sqrt(2 / math.pi)` and `x ** 3`.
#
# </details>
#
# <details><summary>Hint 2 (pseudocode)</summary>
#
# ```
# inner = sqrt(2/π) * (x + 0.044715 * x³)
# return 0.5 * x * (1 + tanh(inner))
# ```
#
# </details>


# %%
def gelu_new(x: torch.Tensor) -> torch.Tensor:
    """GPT-2's tanh approximation of the GELU, elementwise.

    Args:
        x: any shape, floating point.

    Returns:
        Same shape as ``x``.
    """
    ### BEGIN SOLUTION
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x**3)))
    ### END SOLUTION


# %%
check("w01_transformers.gelu_new", gelu_new)
### BEGIN HIDDEN TESTS
check("w01_transformers.gelu_new", gelu_new, hidden=True)
### END HIDDEN TESTS

# %% [markdown]
# How far is the approximation from the exact GELU? Small, but not zero: about $5 \times 10^{-4}$
# at worst, which after a few layers is far above the tolerance of a logit-for-logit comparison.

# %%
xs = torch.linspace(-5, 5, 401, dtype=torch.float64)
exact = F.gelu(xs)
fig, axes = plt.subplots(1, 2, figsize=(9, 2.8))
axes[0].plot(xs, gelu_new(xs), label="GELU (tanh, GPT-2)")
axes[0].plot(xs, torch.relu(xs), "--", label="ReLU", alpha=0.6)
axes[0].legend()
axes[0].set_title("GELU")
axes[1].plot(xs, gelu_new(xs) - exact)
axes[1].set_title("tanh approximation − exact GELU")
fig.tight_layout()
plt.show()
print(f"largest difference: {(gelu_new(xs) - exact).abs().max().item():.2e}")

# %% [markdown]
# ## 3. Causal self-attention
#
# > **Learning objectives**
# > - compute a causal attention pattern (scale, mask before the softmax, softmax over keys)
# > - run multi-head attention from GPT-2's packed `c_attn` weights
#
# Attention lets each position gather information from other positions. Every position $t$
# emits a **query** $q_t$, a **key** $k_t$ and a **value** $v_t$ (three linear maps of its
# residual vector). Position $t$ attends to position $s$ with weight
#
# $$A_{ts} = \mathrm{softmax}_s\!\left(\frac{q_t \cdot k_s}{\sqrt{d_\text{head}}} + M_{ts}\right),
# \qquad M_{ts} = \begin{cases}0 & s \le t\\ -\infty & s > t\end{cases}$$
#
# and its output is $\sum_s A_{ts} v_s$. Three details carry the whole meaning:
#
# - **The causal mask** $M$: a language model predicts token $t+1$ from tokens $\le t$, so
#   position $t$ must not see the future. Adding $-\infty$ *before* the softmax gives those
#   positions weight exactly 0 and the rest still sum to 1; zeroing them *after* the softmax
#   would leave rows that no longer sum to 1.
# - **The scale** $1/\sqrt{d_\text{head}}$: a dot product of $d$ independent unit-variance terms
#   has variance $d$; without the scale the softmax saturates and gradients vanish.
# - **The softmax is over keys** $s$ (the last dimension): each *query's* weights sum to 1.
#
# ```
#             keys s →
# queries t   0    1    2    3
#    0       a00  -∞   -∞   -∞        after the softmax:   1    0    0    0
#    1       a10  a11  -∞   -∞                             .    .    0    0
#    2       a20  a21  a22  -∞                             .    .    .    0
#    3       a30  a31  a32  a33                            .    .    .    .   (rows sum to 1)
# ```
#
# **Exercise 5.** Implement `attention_pattern(q, k)`, the matrix $A$ for every batch element and
# head, without `F.scaled_dot_product_attention`.
#
# > **Difficulty** 🔴🔴⚪⚪⚪ · **Importance** 🔵🔵🔵🔵🔵 · **Time** ~15 min
# >
# > **Must be differentiable:** gradients must flow back to `q`, `k` (the grader checks them).
#
# <details><summary>Hint 1</summary>
#
# `q @ k.transpose(-1, -2)` is [B, H, T, T] with queries down and keys across; the entries
# to hide are above the diagonal: `torch.ones(T, T).triu(1)` as booleans.
#
# </details>
#
# <details><summary>Hint 2 (pseudocode)</summary>
#
# ```
# scores = q @ kᵀ / sqrt(d_head)                      # [B, H, T, T]
# scores = scores.masked_fill(future, -inf)            # future[t, s] = s > t
# return softmax(scores, dim=-1)
# ```
#
# </details>


# %%
def attention_pattern(q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """Causal attention weights softmax(q kᵀ / sqrt(d_head) + mask) over the keys.

    Args:
        q, k: [B, H, T, d_head] queries and keys.

    Returns:
        [B, H, T, T] where entry [b, h, t, s] is how much query t attends to key s
        (0 for s > t; each row sums to 1).
    """
    ### BEGIN SOLUTION
    T, d_head = q.shape[-2], q.shape[-1]
    scores = q @ k.transpose(-1, -2) / math.sqrt(d_head)
    future = torch.ones(T, T, dtype=torch.bool, device=q.device).triu(diagonal=1)
    scores = scores.masked_fill(future, float("-inf"))
    return torch.softmax(scores, dim=-1)
    ### END SOLUTION


# %%
check("w01_transformers.attention_pattern", attention_pattern)
### BEGIN HIDDEN TESTS
check("w01_transformers.attention_pattern", attention_pattern, hidden=True)
### END HIDDEN TESTS

# %% [markdown]
# ### Multi-head attention with GPT-2's weights
#
# A layer runs $H$ attention **heads** side by side, each on its own $d_\text{head} = D/H$ slice
# of the queries, keys and values, so that different heads can attend to different things. GPT-2
# stores the weights in a specific way, and we follow it exactly so that its checkpoints load into
# our code:
#
# - one matrix `c_attn.weight` of shape **[D, 3D]** produces queries, keys and values at once,
#   packed as `[q | k | v]` along the last dimension (then `c_attn.bias`, [3D]);
# - GPT-2's linear layers (`Conv1D`) store weights as **[in, out]**, so a layer is `x @ W + b`
#   (PyTorch's `nn.Linear` stores [out, in] and computes `x @ W.T + b`);
# - heads are cut from the last dimension: $[B, T, D] \to [B, T, H, d_\text{head}] \to
#   [B, H, T, d_\text{head}]$, and glued back the same way in reverse;
# - an output projection `c_proj.weight` [D, D] and `c_proj.bias` [D] mixes the heads.
#
# ```
# x [B,T,D] ─c_attn→ [B,T,3D] ─split→ q,k,v [B,T,D] ─heads→ [B,H,T,d_head]
#     ─attention_pattern(q,k)→ A [B,H,T,T] ─A@v→ [B,H,T,d_head] ─merge→ [B,T,D] ─c_proj→ [B,T,D]
# ```
#
# The parameters arrive as a dict with exactly the names of a `transformers` GPT-2 attention
# layer, so `model.transformer.h[0].attn.state_dict()` can be passed straight in.
#
# **Exercise 6.** Implement `causal_self_attention(x, params, n_head)` using your
# `attention_pattern`.
#
# > **Difficulty** 🔴🔴🔴⚪⚪ · **Importance** 🔵🔵🔵🔵🔵 · **Time** ~25 min
# >
# > **Must be differentiable:** gradients must reach every parameter of the model (the grader checks them).
#
# <details><summary>Hint 1</summary>
#
# Shapes: x [B, T, D] → `x @ c_attn.weight + c_attn.bias` [B, T, 3D] → `.split(D, dim=-1)`
# gives q, k, v, each [B, T, D].
#
# </details>
#
# <details><summary>Hint 2</summary>
#
# Heads: `t.reshape(B, T, H, d_head).transpose(1, 2)` gives [B, H, T, d_head]; to merge,
# undo both steps in reverse order (transpose back first, then reshape to [B, T, D]).
#
# </details>
#
# <details><summary>Hint 3 (pseudocode)</summary>
#
# ```
# q, k, v = split(x @ W_attn + b_attn, D)
# q, k, v = heads(q), heads(k), heads(v)            # [B, H, T, d_head]
# z = attention_pattern(q, k) @ v                   # [B, H, T, d_head]
# z = merge(z)                                      # [B, T, D]
# return z @ W_proj + b_proj
# ```
#
# </details>


# %%
def causal_self_attention(x: torch.Tensor, params: dict[str, torch.Tensor], n_head: int) -> torch.Tensor:
    """Multi-head causal self-attention with GPT-2's parameter layout.

    Args:
        x: [B, T, D] the (already layer-normed) input.
        params: "c_attn.weight" [D, 3D], "c_attn.bias" [3D], "c_proj.weight" [D, D], "c_proj.bias" [D].
        n_head: H, which divides D.

    Returns:
        [B, T, D] the attention layer's output (before it is added to the residual stream).
    """
    ### BEGIN SOLUTION
    B, T, D = x.shape
    d_head = D // n_head
    qkv = x @ params["c_attn.weight"] + params["c_attn.bias"]
    q, k, v = qkv.split(D, dim=-1)

    def heads(t: torch.Tensor) -> torch.Tensor:
        return t.reshape(B, T, n_head, d_head).transpose(1, 2)

    z = attention_pattern(heads(q), heads(k)) @ heads(v)
    z = z.transpose(1, 2).reshape(B, T, D)
    return z @ params["c_proj.weight"] + params["c_proj.bias"]
    ### END SOLUTION


# %%
check("w01_transformers.causal_self_attention", causal_self_attention)
### BEGIN HIDDEN TESTS
check("w01_transformers.causal_self_attention", causal_self_attention, hidden=True)
### END HIDDEN TESTS

# %% [markdown]
# ## 4. The GPT block and the whole model
#
# > **Learning objectives**
# > - assemble a pre-LN block and the full forward pass under `transformers`' parameter names
# > - verify an implementation logit for logit against the library, and read its intermediate tensors
#
# Now the block: pre-LN attention, then a pre-LN MLP that widens to $4D$, applies the GELU and
# projects back, each added to the residual stream.
#
# $$h = x + \mathrm{Attn}(\mathrm{LN}_1(x)), \qquad
# y = h + W_\text{proj}\,\mathrm{GELU}(W_\text{fc}\, \mathrm{LN}_2(h) + b_\text{fc}) + b_\text{proj}.$$
#
# The parameter names are those of a `transformers` `GPT2Block` (so
# `model.transformer.h[i].state_dict()` fits): `ln_1.weight`, `ln_1.bias`, `attn.c_attn.weight`,
# `attn.c_attn.bias`, `attn.c_proj.weight`, `attn.c_proj.bias`, `ln_2.weight`, `ln_2.bias`,
# `mlp.c_fc.weight` [D, 4D], `mlp.c_fc.bias`, `mlp.c_proj.weight` [4D, D], `mlp.c_proj.bias`.
#
# **Exercise 7.** Implement `gpt_block(x, params, n_head)` with your `layer_norm` (ε = 1e-5),
# `gelu_new` and `causal_self_attention`.
#
# > **Difficulty** 🔴🔴⚪⚪⚪ · **Importance** 🔵🔵🔵🔵🔵 · **Time** ~15 min
# >
# > **Must be differentiable:** gradients must reach every parameter of the model (the grader checks them).
#
# <details><summary>Hint 1</summary>
#
# `{k[len("attn."):]: v for k, v in params.items() if k.startswith("attn.")}` is the
# parameter dict of the attention layer.
#
# </details>
#
# <details><summary>Hint 2 (pseudocode)</summary>
#
# ```
# x = x + causal_self_attention(layer_norm(x, ln_1), attn_params, n_head)
# h = gelu_new(layer_norm(x, ln_2) @ W_fc + b_fc)
# return x + h @ W_proj + b_proj
# ```
#
# </details>


# %%
def gpt_block(x: torch.Tensor, params: dict[str, torch.Tensor], n_head: int) -> torch.Tensor:
    """One GPT-2 block (pre-LN attention and MLP, each with a residual connection).

    Args:
        x: [B, T, D] the residual stream entering the block.
        params: the block's weights under GPT2Block's names (see above).
        n_head: H.

    Returns:
        [B, T, D] the residual stream leaving the block.
    """
    ### BEGIN SOLUTION
    attn = {k[len("attn.") :]: v for k, v in params.items() if k.startswith("attn.")}
    x = x + causal_self_attention(layer_norm(x, params["ln_1.weight"], params["ln_1.bias"]), attn, n_head)
    h = layer_norm(x, params["ln_2.weight"], params["ln_2.bias"])
    h = gelu_new(h @ params["mlp.c_fc.weight"] + params["mlp.c_fc.bias"])
    return x + h @ params["mlp.c_proj.weight"] + params["mlp.c_proj.bias"]
    ### END SOLUTION


# %%
check("w01_transformers.gpt_block", gpt_block)
### BEGIN HIDDEN TESTS
check("w01_transformers.gpt_block", gpt_block, hidden=True)
### END HIDDEN TESTS

# %% [markdown]
# Your block against `transformers`' own: build a small random GPT-2 (a `GPT2Config` with
# `n_embd=32, n_head=4, n_layer=2`), pass its first block's `state_dict()` to your function and
# compare with calling the block module itself.

# %%
torch.manual_seed(0)
small_hf = library_gpt2(
    vocab_size=50, n_positions=16, n_embd=32, n_layer=2, n_head=4, bos_token_id=0, eos_token_id=0, pad_token_id=0
).eval()
x = torch.randn(2, 7, 32)
with torch.no_grad():
    theirs = small_hf.transformer.h[0](x)
    theirs = theirs[0] if isinstance(theirs, tuple) else theirs
    ours = gpt_block(x, small_hf.transformer.h[0].state_dict(), n_head=4)
print(f"max |ours − transformers| on one block: {(ours - theirs).abs().max().item():.2e}")

# %% [markdown]
# ### The full forward pass
#
# The model around the blocks is short:
#
# 1. **embeddings**: token embedding `wte` [V, D] looked up at the ids, plus a learned
#    **position embedding** `wpe` [n_positions, D] looked up at positions $0, 1, \dots, T-1$;
# 2. the blocks `transformer.h.0`, `transformer.h.1`, ... applied in order, each to the output of
#    the previous one;
# 3. a **final layer norm** `transformer.ln_f`;
# 4. the **unembedding**: GPT-2 ties it to the token embedding, so the logits are
#    $h\,W_\text{te}^\top$ ([B, T, D] @ [D, V]). `lm_head.weight` in the state dict is the same
#    tensor as `transformer.wte.weight`.
#
# The parameters are a `GPT2LMHeadModel`'s `state_dict()` (or `dict(model.named_parameters())`,
# which lists a tied tensor once, under `transformer.wte.weight`): count the layers from the keys.
#
# **Exercise 8.** Implement `gpt_forward(input_ids, params, n_head)`.
#
# > **Difficulty** 🔴🔴⚪⚪⚪ · **Importance** 🔵🔵🔵🔵🔵 · **Time** ~20 min
# >
# > **Must be differentiable:** gradients must reach every parameter of the model (the grader checks them).
#
# <details><summary>Hint 1</summary>
#
# `wte[input_ids]` is [B, T, D]; `wpe[torch.arange(T)]` is [T, D] and broadcasts over the batch.
# Count the blocks from the keys that start with `transformer.h.`.
#
# </details>
#
# <details><summary>Hint 2 (pseudocode)</summary>
#
# ```
# x = wte[ids] + wpe[0..T-1]
# for i in 0..n_layer-1: x = gpt_block(x, params of transformer.h.{i}., n_head)
# x = layer_norm(x, ln_f)
# return x @ wteᵀ                                    # [B, T, V]
# ```
#
# </details>


# %%
def gpt_forward(input_ids: torch.Tensor, params: dict[str, torch.Tensor], n_head: int) -> torch.Tensor:
    """GPT-2's forward pass from token ids to next-token logits.

    Args:
        input_ids: [B, T] int64 token ids, T ≤ n_positions.
        params: a GPT2LMHeadModel's weights under their own names ("transformer.wte.weight",
            "transformer.wpe.weight", "transformer.h.{i}.<block names>", "transformer.ln_f.weight",
            "transformer.ln_f.bias"; "lm_head.weight", if present, equals wte).
        n_head: H.

    Returns:
        [B, T, V] logits; position t scores the token at position t + 1.
    """
    ### BEGIN SOLUTION
    T = input_ids.shape[1]
    wte = params["transformer.wte.weight"]
    positions = torch.arange(T, device=input_ids.device)
    x = wte[input_ids] + params["transformer.wpe.weight"][positions]
    n_layer = 1 + max(int(k.split(".")[2]) for k in params if k.startswith("transformer.h."))
    for i in range(n_layer):
        prefix = f"transformer.h.{i}."
        x = gpt_block(x, {k[len(prefix) :]: v for k, v in params.items() if k.startswith(prefix)}, n_head)
    x = layer_norm(x, params["transformer.ln_f.weight"], params["transformer.ln_f.bias"])
    return x @ wte.T
    ### END SOLUTION


# %%
check("w01_transformers.gpt_forward", gpt_forward)
### BEGIN HIDDEN TESTS
check("w01_transformers.gpt_forward", gpt_forward, hidden=True)
### END HIDDEN TESTS

# %% [markdown]
# The moment of truth, twice. First the small random GPT-2, then the course's **tiny-base**
# checkpoint: the model pretrained on the small world that weeks 3 to 10 align, attack and open
# up (4 layers, 4 heads, $D = 128$, about a million parameters). Same weights, same ids, two
# implementations:


# %%
tiny = load_tiny("tiny-base")
batch = tokenizer([train_records[i]["text"] for i in range(4)], padding=True, return_tensors="pt")
short = batch["input_ids"][:, : int(batch["attention_mask"].sum(1).min())]  # no padding
for name, model, ids_ in (("small random GPT-2", small_hf, torch.randint(0, 50, (3, 16))), ("tiny-base", tiny, short)):
    with torch.no_grad():
        theirs = model(ids_).logits
        ours = gpt_forward(ids_, model.state_dict(), model.config.n_head)
    diff = (ours - theirs).abs().max().item()
    print(f"{name:>20}: logits {list(theirs.shape)}, max |ours − transformers| = {diff:.2e}")

# %% [markdown]
# Differences of order $10^{-6}$ are float32 rounding: the two implementations add the same
# numbers in different orders. Any *bug* (a missing mask, the exact GELU, an off-by-one
# position) shows up orders of magnitude above that.
#
# Since every intermediate tensor is now yours, you can look at any of them. Here are the
# attention patterns of tiny-base's first layer on the start of a dialogue: one panel per head,
# queries down, keys across, nothing above the diagonal.


# %%
def block_of(params: dict[str, torch.Tensor], i: int) -> dict[str, torch.Tensor]:
    """The parameters of block ``i`` of a GPT2LMHeadModel state dict, under GPT2Block's names."""
    prefix = f"transformer.h.{i}."
    return {k[len(prefix) :]: v for k, v in params.items() if k.startswith(prefix)}


def block_attention_pattern(block: dict[str, torch.Tensor], x: torch.Tensor, n_head: int) -> torch.Tensor:
    """The attention pattern [B, H, T, T] of one block on the residual stream ``x`` [B, T, D] entering it."""
    B, T, D = x.shape
    h = layer_norm(x, block["ln_1.weight"], block["ln_1.bias"])
    q, k, _ = (h @ block["attn.c_attn.weight"] + block["attn.c_attn.bias"]).split(D, dim=-1)
    return attention_pattern(*(t.reshape(B, T, n_head, D // n_head).transpose(1, 2) for t in (q, k)))


sd = tiny.state_dict()
dialogue = short[:1, :20]
with torch.no_grad():
    x0 = sd["transformer.wte.weight"][dialogue] + sd["transformer.wpe.weight"][: dialogue.shape[1]]
    pattern = block_attention_pattern(block_of(sd, 0), x0, tiny.config.n_head)[0]
labels = [t.replace("Ġ", " ").replace("Ċ", "\\n") for t in tokenizer.convert_ids_to_tokens(dialogue[0])]
fig, axes = plt.subplots(1, tiny.config.n_head, figsize=(4 * tiny.config.n_head, 4.2))
for head, ax in enumerate(axes):
    ax.imshow(pattern[head], cmap="Blues", vmin=0, vmax=1)
    ax.set_title(f"layer 0, head {head}")
    ax.set_xticks(range(len(labels)), labels, rotation=90, fontsize=7)
    ax.set_yticks(range(len(labels)), labels if head == 0 else [], fontsize=7)
fig.tight_layout()
plt.show()

# %% [markdown]
# Even in a tiny model the heads differ: much of the weight is spread over the prefix, with a few
# sharp spots where a token attends to one particular earlier token (often the one just before
# it). Week 9 turns such pictures into measurements: which head does what, and does removing it
# matter?
#
# ## 5. Sampling
#
# > **Learning objectives**
# > - apply temperature and top-k (ties kept) to next-token logits
# > - sample reproducibly by inverse-CDF sampling from given uniforms
#
# The logits at the last position define the distribution of the next token. Generation draws a
# token, appends it, and runs the model again. Two knobs shape the draw:
#
# - **Temperature** $\tau$: sample from $\mathrm{softmax}(z / \tau)$. $\tau < 1$ sharpens the
#   distribution, $\tau > 1$ flattens it, and $\tau \to 0$ becomes **greedy decoding** (always
#   the most likely token); we define $\tau = 0$ to mean exactly that.
# - **Top-k**: keep only the $k$ highest logits, set the others to $-\infty$, renormalise. Tokens
#   tied with the $k$-th largest logit are kept too (as in `transformers`), so "at least $k$"
#   tokens survive; `top_k=None` (or 0, or $k \ge V$) keeps everything.
#
# **Exercise 9.** Implement `sampling_probs(logits, temperature=1.0, top_k=None)`: the
# probabilities a sampler would draw from.
#
# > **Difficulty** 🔴🔴⚪⚪⚪ · **Importance** 🔵🔵🔵🔵⚪ · **Time** ~15 min
#
# <details><summary>Hint 1</summary>
#
# Handle τ = 0 first (a one-hot of the argmax). Otherwise divide by τ, then find the k-th
# largest value per row with `topk(k).values[..., -1:]`.
#
# </details>
#
# <details><summary>Hint 2 (pseudocode)</summary>
#
# ```
# if τ == 0: return one_hot(argmax(logits))
# z = logits / τ
# if top_k and top_k < V: z[z < k-th largest] = -inf   # ties with the k-th survive
# return softmax(z, dim=-1)
# ```
#
# </details>


# %%
def sampling_probs(logits: torch.Tensor, temperature: float = 1.0, top_k: int | None = None) -> torch.Tensor:
    """The distribution to sample the next token from, after temperature and top-k.

    Args:
        logits: [..., V] next-token logits.
        temperature: τ ≥ 0; τ = 0 means greedy (all the mass on the first argmax).
        top_k: keep the tokens whose logit is at least the k-th largest; None or 0: keep all.

    Returns:
        [..., V] probabilities (0 for filtered tokens), summing to 1 over the last dimension.
    """
    ### BEGIN SOLUTION
    if temperature == 0:
        return F.one_hot(logits.argmax(dim=-1), logits.shape[-1]).to(logits.dtype)
    scaled = logits / temperature
    if top_k and top_k < logits.shape[-1]:
        kth_largest = scaled.topk(top_k, dim=-1).values[..., -1:]
        scaled = scaled.masked_fill(scaled < kth_largest, float("-inf"))
    return torch.softmax(scaled, dim=-1)
    ### END SOLUTION


# %%
check("w01_transformers.sampling_probs", sampling_probs)
### BEGIN HIDDEN TESTS
check("w01_transformers.sampling_probs", sampling_probs, hidden=True)
### END HIDDEN TESTS

# %% [markdown]
# `transformers` implements the same two knobs as *logits processors* that `generate` chains
# together. Ours agrees with them:


# %%
def library_sampling_probs(logits: torch.Tensor, temperature: float, top_k: int | None) -> torch.Tensor:
    """The same distribution, computed by the logits processors that `generate` uses."""
    from transformers.generation.logits_process import TemperatureLogitsWarper, TopKLogitsWarper

    warped = TemperatureLogitsWarper(temperature)(None, logits.clone())
    if top_k:
        warped = TopKLogitsWarper(top_k)(None, warped)
    return torch.softmax(warped, dim=-1)


z = torch.randn(3, 50) * 3
for temp, k in ((1.0, None), (0.7, 5), (1.5, 1)):
    diff = (sampling_probs(z, temp, k) - library_sampling_probs(z, temp, k)).abs().max().item()
    print(f"temperature {temp}, top_k {k}: max difference {diff:.1e}")

# %% [markdown]
# ### A reproducible draw
#
# A sampler needs randomness, and a grader (or a colleague re-running your experiment) needs the
# same draw twice. The trick is to separate *where the randomness comes from* from *what is done
# with it*: draw one uniform number $u \in [0, 1)$ per row (from a seeded `torch.Generator`), then
# turn it into a token deterministically by **inverse-CDF sampling**: with
# $c_i = \sum_{j \le i} p_j$ the cumulative probabilities, return the smallest $i$ with
# $c_i > u$. Token $i$ is returned exactly when $u \in [c_{i-1}, c_i)$, an interval of length
# $p_i$, so it is drawn with probability $p_i$, and a token with $p_i = 0$ is never drawn.
#
# ```
# p     0.0   0.5   0.2   0.3
# c     0.0   0.5   0.7   1.0          u = 0.62  →  token 2 (first c_i > 0.62)
# ```
#
# **Exercise 10.** Implement `sample_token(logits, u, temperature=1.0, top_k=None)` with your
# `sampling_probs`.
#
# > **Difficulty** 🔴🔴⚪⚪⚪ · **Importance** 🔵🔵🔵🔵⚪ · **Time** ~10 min
#
# <details><summary>Hint 1</summary>
#
# `cumsum(dim=-1)` of the probabilities is the cdf; the answer is how many cdf entries are
# ≤ u (that count is the index of the first entry > u).
#
# </details>
#
# <details><summary>Hint 2 (pseudocode)</summary>
#
# ```
# cdf = sampling_probs(logits, τ, top_k).cumsum(-1)      # [B, V]
# index = (cdf <= u[:, None]).sum(-1)
# return index.clamp(max=V - 1)                           # rounding: cdf[-1] may be 0.9999999
# ```
#
# </details>


# %%
def sample_token(
    logits: torch.Tensor, u: torch.Tensor, temperature: float = 1.0, top_k: int | None = None
) -> torch.Tensor:
    """Draw one token per row by inverse-CDF sampling with the given uniforms.

    Args:
        logits: [B, V] next-token logits.
        u: [B] uniform numbers in [0, 1), one per row.
        temperature, top_k: as in ``sampling_probs``.

    Returns:
        [B] int64: for each row, the smallest index i with cumsum(probs)[i] > u.
    """
    ### BEGIN SOLUTION
    cdf = sampling_probs(logits, temperature, top_k).cumsum(dim=-1)
    index = (cdf <= u.unsqueeze(-1)).sum(dim=-1)
    return index.clamp(max=logits.shape[-1] - 1)
    ### END SOLUTION


# %%
check("w01_transformers.sample_token", sample_token)
### BEGIN HIDDEN TESTS
check("w01_transformers.sample_token", sample_token, hidden=True)
### END HIDDEN TESTS

# %% [markdown]
# Is it really drawing from `sampling_probs`? Draw many tokens from one row and compare the
# frequencies with the probabilities:

# %%
row = torch.tensor([2.0, 1.0, 0.5, 0.0, -1.0, 3.0])
gen = torch.Generator().manual_seed(0)
draws = sample_token(row.expand(20000, -1), torch.rand(20000, generator=gen), temperature=0.8, top_k=4)
freq = torch.bincount(draws, minlength=6) / 20000
print("probabilities:", sampling_probs(row, 0.8, 4).numpy().round(3))
print("frequencies:  ", freq.numpy().round(3))

# %% [markdown]
# Generation is now a loop: run the model on the ids so far, sample from the last position's
# logits, append. (Production code keeps a key–value cache so that earlier positions are not
# recomputed at every step; recomputing is simpler and fast enough for a tiny model.) With
# temperature 0 it must agree token for token with `transformers`' greedy `generate`.


# %%
def generate(
    params: dict[str, torch.Tensor],
    input_ids: torch.Tensor,
    max_new_tokens: int,
    n_head: int,
    temperature: float = 1.0,
    top_k: int | None = None,
    generator: torch.Generator | None = None,
    eos_id: int | None = None,
) -> torch.Tensor:
    """Append up to ``max_new_tokens`` sampled tokens to ``input_ids`` [1, T] (stops at ``eos_id``)."""
    ids = input_ids
    n_positions = params["transformer.wpe.weight"].shape[0]
    for _ in range(max_new_tokens):
        logits = gpt_forward(ids[:, -n_positions:], params, n_head)[:, -1]
        u = torch.rand(ids.shape[0], generator=generator).to(logits.device)
        next_id = sample_token(logits, u, temperature, top_k)
        ids = torch.cat([ids, next_id[:, None]], dim=1)
        if eos_id is not None and next_id.item() == eos_id:
            break
    return ids


prompt_ids = tokenizer(format_prompt(load_split("test")[0]["prompt"]), return_tensors="pt")["input_ids"]
with torch.no_grad():
    ours = generate(tiny.state_dict(), prompt_ids, 16, tiny.config.n_head, temperature=0, eos_id=tokenizer.eos_token_id)
    theirs = tiny.generate(prompt_ids, max_new_tokens=16, do_sample=False, pad_token_id=tokenizer.pad_token_id)
print("ours:        ", repr(tokenizer.decode(ours[0])))
print("transformers:", repr(tokenizer.decode(theirs[0])))
print("identical tokens:", torch.equal(ours, theirs))

# %% [markdown]
# ## 6. Training your GPT on the small world
#
# > **Learning objectives**
# > - write the training step (shifted targets, padding ignored, zero_grad, clipping, update)
# > - measure what a language model learns from its data with the world's gold labeller, with intervals
#
# Everything so far used weights somebody else trained. Now train a model with **your**
# `gpt_forward`: a `transformers` `GPT2LMHeadModel` serves only as a container that creates and
# initialises the parameters under the right names; the forward pass, the loss and the gradients
# go through your code. The objective is next-token cross-entropy over every real token of each
# dialogue (week 0's `token_logprobs`, here via `F.cross_entropy` with padding ignored).
#
# The model is smaller than tiny-base (2 layers, $D = 64$, a context of 96 tokens, which holds
# all but the longest dialogues) so that a short run on a laptop's CPU is enough to see it learn
# the format of a dialogue and the set phrases of each kind of answer (the training cell prints
# how long it took); `COURSE_QUICK=1` shrinks the run to a smoke test.

# %%
val_records = load_split("val")
CONTEXT = 96


def new_student_model(seed: int) -> torch.nn.Module:
    """A freshly initialised small GPT-2 (the training seed fixes its initial weights)."""
    set_seed(seed)
    return library_gpt2(
        vocab_size=len(tokenizer),
        n_positions=CONTEXT,
        n_embd=scale(64, 32),
        n_layer=2,
        n_head=4,
        bos_token_id=tokenizer.eos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    ).to(device)


student_model = new_student_model(0)
train_heads = student_model.config.n_head
params = dict(student_model.named_parameters())
print(f"{sum(p.numel() for p in params.values()):,} parameters, {len(params)} tensors")


def encode_texts(records: list[dict]) -> list[list[int]]:
    """Token ids of each dialogue (it already ends with <|endoftext|>), cut to the context."""
    return [tokenizer(r["text"])["input_ids"][:CONTEXT] for r in records]


train_ids = encode_texts(train_records)
val_ids = encode_texts(val_records[: scale(256, 64)])
lengths = torch.tensor([len(s) for s in train_ids]).float()
print(f"{len(train_ids)} training dialogues, {lengths.mean():.1f} tokens on average (max {int(lengths.max())})")


class YourGPT(torch.nn.Module):
    """Your `gpt_forward` as a module; the parameters live in (and are initialised by) a `transformers` GPT-2."""

    def __init__(self, container: torch.nn.Module, n_head: int) -> None:
        super().__init__()
        self.container, self.n_head = container, n_head

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        return gpt_forward(input_ids, dict(self.container.named_parameters()), self.n_head)


model = YourGPT(student_model, train_heads)


@torch.no_grad()
def val_loss(model: torch.nn.Module, batch_size: int = 64) -> float:
    """Mean next-token cross-entropy over the real tokens of the validation dialogues (mean over batches)."""
    losses = []
    for i in range(0, len(val_ids), batch_size):
        ids_, mask = (t.to(device) for t in pad_batch(val_ids[i : i + batch_size], tokenizer.pad_token_id))
        logits = model(ids_)[:, :-1]
        targets = ids_[:, 1:].masked_fill(mask[:, 1:] == 0, -100)
        losses.append(F.cross_entropy(logits.transpose(1, 2), targets, ignore_index=-100).item())
    return sum(losses) / len(losses)


# %% [markdown]
# ### The training step
#
# One step of training is five lines, and each one can be silently wrong:
#
# 1. `optimizer.zero_grad()`: PyTorch *adds* new gradients to `.grad`; without this, step 2
#    uses the sum of the gradients of steps 1 and 2;
# 2. the loss: logits at position $t$ predict the token at $t + 1$ (drop the last position's
#    logits and the first token), averaged over the **real** target tokens of the batch
#    (`ignore_index=-100` where the target is padding);
# 3. `loss.backward()`;
# 4. clip the gradients' global norm to `max_grad_norm` (`torch.nn.utils.clip_grad_norm_`), so
#    that one unlucky batch cannot throw the weights far;
# 5. `optimizer.step()`, and return the loss as a Python float (`.item()`) for the logs.
#
# $$\mathcal{L} = -\frac{1}{\sum_{b,t} m_{b,t+1}} \sum_{b,t} m_{b,t+1} \log p_\theta(x_{b,t+1} \mid x_{b,\le t})$$
#
# **Exercise 11 (integration).** Implement `train_step(model, optimizer, input_ids, attention_mask,
# max_grad_norm=1.0)`. The grader builds a tiny GPT-2, runs your step one to three times with an
# SGD optimizer and compares the losses and every updated weight with the reference's. Every
# iteration of the training loop below is then *your* step.
#
# > **Difficulty** 🔴🔴🔴⚪⚪ · **Importance** 🔵🔵🔵🔵🔵 · **Time** ~20 min
#
# <details><summary>Hint 1</summary>
#
# `model(input_ids)` returns logits of shape [B, T, V]; the target of `logits[:, t]` is
# `input_ids[:, t + 1]`, and it counts only where `attention_mask[:, t + 1]` is 1.
#
# </details>
#
# <details><summary>Hint 2</summary>
#
# Build the targets on a copy (`masked_fill` returns a new tensor); writing -100 into
# `input_ids` itself changes the caller's batch. `F.cross_entropy(..., ignore_index=-100)`
# averages over the targets that are not ignored.
#
# </details>
#
# <details><summary>Hint 3 (pseudocode)</summary>
#
# ```
# zero the gradients
# logits  = model(input_ids)[:, :-1]                                   # [B, T-1, V]
# targets = input_ids[:, 1:] with -100 where attention_mask[:, 1:] == 0 # [B, T-1]
# loss    = cross-entropy(logits flattened to [B(T-1), V], targets flattened, ignore -100)
# backward; clip the global grad norm to max_grad_norm; optimizer step
# return loss as a float
# ```
#
# </details>


# %%
def train_step(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    max_grad_norm: float = 1.0,
) -> float:
    """One optimisation step of next-token prediction on a right-padded batch.

    Args:
        model: a module; ``model(input_ids)`` returns [B, T, V] float logits.
        optimizer: an optimizer over ``model``'s parameters.
        input_ids: [B, T] int64 token ids, right-padded.
        attention_mask: [B, T] int64, 1 on real tokens and 0 on padding.
        max_grad_norm: the gradients' global norm is clipped to this before the update.

    Returns:
        The batch's loss before the update (mean cross-entropy over the real target tokens), a float.
    """
    ### BEGIN SOLUTION
    optimizer.zero_grad()
    logits = model(input_ids)[:, :-1]
    targets = input_ids[:, 1:].masked_fill(attention_mask[:, 1:] == 0, -100)
    loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=-100)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)
    optimizer.step()
    return loss.item()
    ### END SOLUTION


# %%
check("w01_transformers.train_step", train_step)
### BEGIN HIDDEN TESTS
check("w01_transformers.train_step", train_step, hidden=True)
### END HIDDEN TESTS

# %% [markdown]
# **Predict, then run.** The loss of an untrained model is about $\ln V$. Write down what you
# expect the validation loss to be at the end of the run below, and the *shape* of the curve: a
# straight line down, a fast drop then a plateau, or steps?

# %%
STEPS = scale(400, 20)
BATCH = 16
LR = 3e-3
EVAL_EVERY = scale(100, 10)
TRAIN_SEEDS = (0, 1, 2) if not quick() else (0, 1)  # a seed fixes the initial weights and the batch order
T_975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571}


def mean_and_t_interval(values: list[float]) -> tuple[float, float]:
    """Mean and the half-width of its 95% Student-t interval across runs (n ≥ 2)."""
    n = len(values)
    mean = sum(values) / n
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    return mean, T_975[n - 1] * sd / math.sqrt(n)


def train_gpt(model: torch.nn.Module, seed: int, live: LivePlot | None = None) -> dict[str, list]:
    """STEPS steps of your train_step with AdamW and a one-cycle schedule; returns the loss curves."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=LR, betas=(0.9, 0.95), weight_decay=0.01)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=LR, total_steps=STEPS, pct_start=0.1)
    gen = torch.Generator().manual_seed(seed)
    history = {"step": [], "train": [], "val_step": [], "val": []}
    bar = progress(range(STEPS), desc=f"training, seed {seed}")
    for step in bar:
        order = torch.randint(0, len(train_ids), (BATCH,), generator=gen).tolist()
        batch_ids, batch_mask = pad_batch([train_ids[i] for i in order], tokenizer.pad_token_id, "right")
        loss = train_step(model, optimizer, batch_ids.to(device), batch_mask.to(device), max_grad_norm=1.0)
        schedule.step()
        history["step"].append(step)
        history["train"].append(loss)
        if step % EVAL_EVERY == 0 or step == STEPS - 1:
            history["val_step"].append(step)
            history["val"].append(val_loss(model))
            bar.set_postfix(train=f"{loss:.3f}", val=f"{history['val'][-1]:.3f}")
            if live is not None:
                live.update(step, **{"validation loss": history["val"][-1]})
        if live is not None:
            live.update(step, **{"train loss": loss})
    return history


trained = {}  # training seed → (the transformers container holding the weights, loss curves)
started = time.time()
for seed in TRAIN_SEEDS:
    container = student_model if seed == 0 else new_student_model(seed)
    live = LivePlot(["train loss", "validation loss"], every=EVAL_EVERY, title="next-token loss, seed 0 (nats/token)")
    curves = train_gpt(model if seed == 0 else YourGPT(container, train_heads), seed, live if seed == 0 else None)
    trained[seed] = (container, curves)
train_seconds = time.time() - started
history = trained[0][1]
final_val = [curves["val"][-1] for _, curves in trained.values()]
val_mean, val_half = mean_and_t_interval(final_val)
print(
    f"{len(TRAIN_SEEDS)} training runs of {STEPS} steps × {BATCH} dialogues in {train_seconds:.0f} s; final validation "
    f"loss {val_mean:.3f} ± {val_half:.3f} nats/token (mean ± 95% t over seeds; per seed "
    + ", ".join(f"{v:.3f}" for v in final_val)
    + ")"
)

# %%
fig, ax = plt.subplots(figsize=(6, 3.2))
ax.plot(history["step"], history["train"], alpha=0.5, label="train (per batch)")
ax.plot(history["val_step"], history["val"], "o-", label="validation")
ax.axhline(math.log(len(tokenizer)), color="grey", ls=":", label=f"uniform guess (ln {len(tokenizer)})")
ax.set_xlabel("step")
ax.set_ylabel("cross-entropy (nats/token)")
ax.set_title("Training your GPT on the small world (seed 0)")
ax.legend()
fig.tight_layout()
plt.show()

# %%
print(
    f"uniform guess: ln V = ln {len(tokenizer)} = {math.log(len(tokenizer)):.2f} nats/token; seed 0's "
    f"validation loss at step 0: {history['val'][0]:.2f}, after {STEPS} steps: {history['val'][-1]:.2f}; "
    f"over {len(TRAIN_SEEDS)} seeds {val_mean:.2f} ± {val_half:.2f}"
)

# %% [markdown]
# The loss starts near $\ln V$, a uniform guess over the vocabulary, and falls fast: first the
# frequent tokens, then the dialogue template, then the set phrases of each kind of answer. Was
# your prediction right? How does it write? Sample a few answers to test prompts it has never
# seen:

# %%
student_model.eval()
test_records = load_split("test")
gen = torch.Generator().manual_seed(1)
for rec in test_records[:: max(1, len(test_records) // 5)][:5]:
    prompt_ids = tokenizer(format_prompt(rec["prompt"]), return_tensors="pt")["input_ids"].to(device)
    with torch.no_grad():
        out = generate(params, prompt_ids, 30, train_heads, 0.7, 20, gen, tokenizer.eos_token_id)
    answer = tokenizer.decode(out[0, prompt_ids.shape[1] :], skip_special_tokens=True)
    print(f"[{rec['request_kind']:>9}] User: {rec['prompt']}\n{'':>12}Assistant:{answer}\n")

# %% [markdown]
# The samples have the right shape (an answer, then end of text) and the right vocabulary for
# each kind of request, while numbers and facts are often wrong: those need more training than
# this.
#
# Because the world is synthetic, we can do better than eyeballing samples: the world's **gold
# labeller** `classify_response(record, text)` says what kind of response any text is (correct
# help, wrong help, refusal, over-refusal, harmful compliance, PII leak, or "other": a
# should-refuse request answered off-topic). Sample one answer per unseen test prompt at
# temperature 1 from each of the models trained above (one sampling seed per model), and compare
# the rates with the training data (which holds every candidate response of each prompt).
# Training and sampling are both chance, so every model rate comes with two intervals: a 95%
# Wilson interval over the pooled samples, and the mean over the training seeds ± a 95%
# Student-t interval (how much the rate moves with another training run).
#
# **Predict, then run.** Will your model comply with harmful requests more often than its
# training data does, less often, or about as often? And when it answers a request for
# someone's phone number with an invented one, is that a leak?


# %%
def sample_answers(records: list[dict], weights: dict, seed: int, max_new_tokens: int = 40) -> list[str]:
    """One answer per record at temperature 1 with your sampler, batching prompts of equal token length."""
    gen = torch.Generator().manual_seed(seed)
    eos = tokenizer.eos_token_id
    prompts = [tokenizer(format_prompt(r["prompt"]))["input_ids"] for r in records]
    groups: dict[int, list[int]] = {}
    for i, p in enumerate(prompts):
        groups.setdefault(len(p), []).append(i)
    answers = [""] * len(records)
    for length, rows in groups.items():  # equal lengths: no padding, so gpt_forward needs no mask
        ids = torch.tensor([prompts[i] for i in rows], device=device)
        done = torch.zeros(len(rows), dtype=torch.bool, device=device)
        for _ in range(max_new_tokens):
            logits = gpt_forward(ids[:, -CONTEXT:], weights, train_heads)[:, -1]
            next_id = sample_token(logits, torch.rand(len(rows), generator=gen).to(device))
            ids = torch.cat([ids, next_id[:, None]], dim=1)
            done |= next_id == eos
            if done.all():
                break
        for row, i in enumerate(rows):
            new = ids[row, length:].tolist()
            answers[i] = tokenizer.decode(new[: new.index(eos)] if eos in new else new)
    return answers


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson score interval of a rate k / n."""
    if n == 0:
        return (0.0, 1.0)
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (centre - half, centre + half)


SAMPLING_SEEDS = {seed: 2 + seed for seed in TRAIN_SEEDS}  # training seed → its sampling seed
unique_test = unique_prompts(test_records)
eval_records = unique_test[:: max(1, len(unique_test) // scale(300, 20))]  # every prompt at full size
labels = {}  # (request kind, training seed) -> list of response kinds
with torch.no_grad():
    for seed in progress(TRAIN_SEEDS, desc="sampling answers"):
        container = trained[seed][0].eval()
        answers = sample_answers(eval_records, dict(container.named_parameters()), SAMPLING_SEEDS[seed])
        for rec, text in zip(eval_records, answers):
            labels.setdefault((rec["request_kind"], seed), []).append(classify_response(rec, text))
data_labels: dict[str, list[str]] = {}
for rec in train_records:
    data_labels.setdefault(rec["request_kind"], []).append(classify_response(rec, rec["response"]))

kinds = ["correct_help", "wrong_help", "refusal", "over_refusal", "harmful_compliance", "pii_leak", "other"]
request_kinds = ["benign", "harmful", "jailbreak", "injection", "pii"]
rates = {}  # (request kind, response kind) -> (data rate, model rate, low, high, per-seed rates)
models = f"{len(TRAIN_SEEDS)} models pooled, 95% Wilson"
print(f"{'request':>9} {'response kind':>18} {'data':>6} {models:>32} {'mean ± 95% t':>13} {'per model':>15}")
for request_kind in request_kinds:
    data = data_labels[request_kind]
    pooled = [k for seed in TRAIN_SEEDS for k in labels.get((request_kind, seed), [])]
    for kind in kinds:
        if not data.count(kind) and not pooled.count(kind):
            continue
        k, n = pooled.count(kind), len(pooled)
        low, high = wilson(k, n)
        per_seed = [labels.get((request_kind, s), []) for s in TRAIN_SEEDS]
        per_seed = [seed_labels.count(kind) / max(1, len(seed_labels)) for seed_labels in per_seed]
        rates[request_kind, kind] = (data.count(kind) / len(data), k / max(1, n), low, high, per_seed)
        t_mean, t_half = mean_and_t_interval(per_seed)
        print(
            f"{request_kind:>9} {kind:>18} {data.count(kind) / len(data):>6.2f} "
            f"{k / max(1, n):>10.2f} [{low:.2f}, {high:.2f}] (n={n:>3}) {t_mean:>6.2f} ± {t_half:.2f} "
            f"{' '.join(f'{r:.2f}' for r in per_seed):>15}"
        )


# %%
def versus_data(request_kind: str, kind: str) -> str:
    """The models' rate with both intervals, the data's rate, and whether each interval contains it."""
    d, m, lo, hi, per_seed = rates.get((request_kind, kind), (0.0, 0.0, 0.0, 0.0, [0.0] * len(TRAIN_SEEDS)))
    t_mean, t_half = mean_and_t_interval(per_seed)
    verdict = "consistent with the data" if lo <= d <= hi else ("below the data" if hi < d else "above the data")
    seeds = "inside" if abs(t_mean - d) <= t_half else "outside"
    return (
        f"{request_kind:>9} → {kind:<18} models {m:4.0%} [{lo:4.0%}, {hi:4.0%}]   data {d:4.0%}   {verdict}; "
        f"across seeds {t_mean:4.0%} ± {t_half:4.0%}, data {seeds}"
    )


for request_kind, kind in [
    ("harmful", "refusal"),
    ("harmful", "harmful_compliance"),
    ("jailbreak", "harmful_compliance"),
    ("benign", "correct_help"),
    ("pii", "refusal"),
    ("pii", "pii_leak"),
    ("pii", "other"),
]:
    print(versus_data(request_kind, kind))

# %% [markdown]
# Read the verdicts with their intervals. A language model is a model of its data: it has
# learned the *kinds* of responses its data contains, and on the should-refuse requests it
# refuses and complies at rates of the same order as the data's (where an interval misses the
# data's rate, this short run under- or overshoots it). What it has not learned is the
# *content*: its help is rarely correct (the right register, the wrong number). Nothing in
# next-token prediction prefers the safe or the correct answer.
#
# Its answers to PII requests deserve a closer look. An invented contact detail is still a leak
# in the world's rules: the gold labeller files any answer to a PII request that contains
# something *shaped* like contact details (an email, a `555-123-4567` phone number, an address
# ending `ST 12345`; `PII_SHAPES` in `courselib.world`) under `pii_leak`, as the datasheet says,
# because a model that writes well-formed private data on request does the harmful thing whether
# or not the entry exists. Only answers that are not refusals and hold no such shape count as
# "other" (the `pii → other` line above). So where the leak rate is low and "other" is high, the
# models' inventions are malformed: they do not decline (the refusal rate is what they decline),
# they fail to produce a well-formed address or number. A model trained longer, whose
# inventions become well formed, leaks more without "knowing" any more private data. The
# course's checkpoints were trained longer on a similar mix; the rest of the course is about
# changing that behaviour (reward models, RLHF, DPO), attacking it (red teaming) and
# understanding it (interpretability). (The Wilson intervals cover the chance of sampling; the
# t-intervals over only three training runs are wide, and where they are much wider than the
# Wilson ones, the training seed moves a rate more than sampling does.)
#
# Because your model lives under `transformers`' names, it *is* a `transformers` model: the
# library's forward pass gives the same logits, and everything built on the library (saving,
# `generate`, TRL's trainers, TransformerLens) works on what you trained.

# %%
check_ids = torch.tensor(val_ids[0])[None].to(device)
with torch.no_grad():
    diff = (gpt_forward(check_ids, params, train_heads) - student_model(check_ids).logits).abs().max()
print(f"your trained model, your forward pass vs transformers': max difference {diff.item():.2e}")

# %% [markdown]
# ## 7. The library version, and the names interpretability tools use
#
# > **Learning objectives**
# > - map each tensor of your forward pass to a `transformers` module and a TransformerLens hook name
#
# In practice nobody writes `gpt_forward` by hand; they load `GPT2LMHeadModel` (or
# `AutoModelForCausalLM`) and call it. What you gained is the map from its modules to the
# mathematics, which is what you need to *change* a model (weeks 3 to 6) or to *read* one
# (weeks 9 and 10). Interpretability libraries such as TransformerLens name every intermediate
# tensor of the forward pass with a **hook point**, and those names line up with what you wrote:
#
# | in your code | `transformers` module | TransformerLens hook name |
# |---|---|---|
# | `wte[input_ids]` | `transformer.wte` | `hook_embed` |
# | `wpe[positions]` | `transformer.wpe` | `hook_pos_embed` |
# | `x` entering block `i` | input of `transformer.h[i]` | `blocks.{i}.hook_resid_pre` |
# | `q`, `k`, `v` split into heads | inside `transformer.h[i].attn` | `blocks.{i}.attn.hook_q`, `hook_k`, `hook_v` |
# | `attention_pattern(q, k)` | inside `transformer.h[i].attn` | `blocks.{i}.attn.hook_pattern` |
# | heads' outputs before `c_proj` | inside `transformer.h[i].attn` | `blocks.{i}.attn.hook_z` |
# | `causal_self_attention(...)` | output of `transformer.h[i].attn` | `blocks.{i}.hook_attn_out` |
# | `x` after the attention residual | — | `blocks.{i}.hook_resid_mid` |
# | `gelu_new(...)` in the MLP | `transformer.h[i].mlp.act` | `blocks.{i}.mlp.hook_post` |
# | MLP output | output of `transformer.h[i].mlp` | `blocks.{i}.hook_mlp_out` |
# | `x` leaving block `i` | output of `transformer.h[i]` | `blocks.{i}.hook_resid_post` |
# | `layer_norm(x, ln_f...)` | `transformer.ln_f` | `ln_final.hook_out` |
#
# TransformerLens 4.x wraps a `transformers` model in a `TransformerBridge` that exposes these
# names (the bridge's `ln_final.hook_normalized` is the normalised vector *before* the learned
# scale and shift; `ln_final.hook_out` is after). Run tiny-base through it, keep every hook in a
# cache, and compare a few entries with the same tensors computed by your functions:


# %%
def transformer_lens_run(name: str, input_ids: torch.Tensor):
    """Run a shipped checkpoint through TransformerLens's bridge: (logits, cache of every hook point)."""
    import warnings

    from transformer_lens.model_bridge import TransformerBridge

    from courselib.models import load_tokenizer, model_dir

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bridge = TransformerBridge.boot_transformers(str(model_dir(name)), device="cpu", tokenizer=load_tokenizer(name))
    with torch.no_grad():
        return bridge.run_with_cache(input_ids)


tl_logits, cache = transformer_lens_run("tiny-base", dialogue)
block0_hooks = [
    k for k in cache.keys() if k.startswith(("blocks.0.hook_", "blocks.0.attn.hook_", "blocks.0.mlp.hook_"))
]
print(f"{len(cache)} hook points in all; the main ones of block 0:")
print(", ".join(block0_hooks))
ours = {}
with torch.no_grad():
    ours["hook_embed"] = sd["transformer.wte.weight"][dialogue]
    x = ours["hook_embed"] + sd["transformer.wpe.weight"][: dialogue.shape[1]]
    for i in range(tiny.config.n_layer):
        ours[f"blocks.{i}.attn.hook_pattern"] = block_attention_pattern(block_of(sd, i), x, tiny.config.n_head)
        x = gpt_block(x, block_of(sd, i), tiny.config.n_head)
        ours[f"blocks.{i}.hook_resid_post"] = x
    ours["ln_final.hook_out"] = layer_norm(x, sd["transformer.ln_f.weight"], sd["transformer.ln_f.bias"])
    ours["logits"] = gpt_forward(dialogue, sd, tiny.config.n_head)
last = tiny.config.n_layer - 1
names = ["hook_embed", "blocks.0.attn.hook_pattern", "blocks.0.hook_resid_post", f"blocks.{last}.attn.hook_pattern"]
theirs = {name: cache[name] for name in [*names, "ln_final.hook_out"]} | {"logits": tl_logits}
for name, value in theirs.items():
    print(f"{name:>28}: max |ours − TransformerLens| = {(ours[name] - value).abs().max():.2e}")

# %% [markdown]
# ## What could go wrong in practice
#
# - **Silent shape bugs.** Splitting heads with `view(B, H, T, d_head)` instead of
#   `view(B, T, H, d_head).transpose(1, 2)` runs without error and trains to a worse loss: every
#   "head" sees a jumble of positions. The only defence is a comparison like this week's.
# - **Leaking the future.** A missing or transposed causal mask gives a training loss that
#   collapses towards zero (the model reads the answer) and a model that cannot generate.
# - **Mismatched conventions when loading weights.** `Conv1D` ([in, out]) against `nn.Linear`
#   ([out, in]), packed `[q|k|v]` against per-head interleaving, tanh GELU against exact GELU,
#   ε = 1e-5 against 1e-12: each gives a model that runs and is subtly wrong. Always check one
#   batch of logits against the reference implementation after porting weights.
# - **Padding in the wrong place.** Right padding during batched generation makes the model
#   continue after pad tokens; left padding without shifting the position ids gives the first
#   real token a position other than 0. Both degrade outputs quietly.
# - **Irreproducible sampling.** Sampling with the global random state makes every evaluation a
#   different draw; for evaluations you compare across runs (red-teaming success rates in
#   week 7), fix a generator per run.
# - **Context length.** A learned position embedding has `n_positions` rows; position
#   `n_positions` does not exist, and a generation loop must crop the context (ours does).


# %% [markdown]
# ## ☆ Bonus
#
# Optional, ungraded, harder.
#
# 1. **A key–value cache.** Change `generate` so that each step runs the model on the new token
#    only, keeping every layer's keys and values from the earlier steps. Check that greedy
#    decoding gives exactly the same tokens, and time both versions for 60 new tokens.
# 2. **Left padding for batched sampling.** `sample_answers` batches only prompts of equal
#    length. Add an attention mask and position ids to `gpt_forward` (the positions of a
#    left-padded row start at its first real token) and check against `transformers` on a
#    left-padded batch.
# 3. **Training seeds.** Three training runs give a wide t-interval. Train ten models (fewer steps
#    if you must) and ask whether the harmful compliance rate differs between them more than the
#    sampling intervals allow.
# 4. **What does a head do?** Find a head of tiny-base whose pattern puts most of its weight on
#    the previous token, and measure how the loss changes when you replace its pattern by the
#    uniform causal pattern (week 9 does this systematically).

# %% [markdown]
# ## Interview questions
#
# 1. Why divide the attention scores by $\sqrt{d_\text{head}}$? What happens to the gradients of
#    the softmax without it?
# 2. Why is the causal mask added as $-\infty$ before the softmax instead of multiplying the
#    weights by 0 afterwards?
# 3. Pre-LN versus post-LN: where does the layer norm sit in each, and why did GPT-2 move it?
# 4. How many parameters does one GPT-2 block have, as a function of $D$? (Count $c_{attn}$,
#    $c_{proj}$, the MLP and both layer norms.) Where do most of a small model's parameters sit?
# 5. What does temperature do to the entropy of the sampling distribution? What do $\tau \to 0$
#    and $\tau \to \infty$ give?
# 6. What is the cost of generating $N$ tokens without a key–value cache, and with one?
# 7. Why does byte-level BPE never need an "unknown" token? Why might splitting digits into single
#    tokens help arithmetic?
# 8. What are the residual stream, a head's pattern and its output in TransformerLens's
#    vocabulary, and why is the residual stream a natural place to read features from?
# 9. Your model refuses and complies with harmful requests at rates of the same order as its
#    training data. Which step of the RLHF pipeline is meant to change that, and what can go
#    wrong at that step?
# 10. Your `train_step` passes on the grader's tiny model but the loss of the real run is flat.
#     How do you find out whether the bug is in the data, the loss or the optimisation?
