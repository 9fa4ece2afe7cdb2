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
# # Week 9 — Mechanistic interpretability: induction heads and a harmfulness probe
#
# Evaluations tell us *what* a model does; interpretability asks *how*. For safety the question
# matters because a behaviour we only measured can fail on inputs we did not measure, while a
# mechanism we understand can be checked, monitored and edited. This week you take models apart
# with **hooks**, find a **circuit**, and prove it with **interventions** rather than by staring at
# attention maps.
#
# What the small world gives us:
#
# - `attn-only-2l`: a 2-layer, attention-only transformer (no MLPs) trained on random token
#   sequences that repeat with a random period (`courselib/world/train_induction.py`, card in
#   `datasets/models/attn-only-2l/README.md`). It is built to contain an **induction head**
#   (Olsson et al. 2022): the circuit that, on seeing `A B … A`, predicts `B`. Getting there took a
#   curriculum: trained plainly, every run we tried learned *other* circuits that predict repeats
#   just as well (for example reading the token two after the earlier occurrence); only when layer
#   0 was restricted to the previous token for the first half of training did the textbook circuit
#   form. A model that predicts well does not tell you *how* it predicts — the point of this week.
# - `tiny-sft`: the world's chat model, which refuses harmful requests. We read "should this be
#   refused?" off its residual stream with a **linear probe**, and check that the direction
#   matters causally.
# - The world's labels (request kind, jailbreak family, injection) to see *what* the probe gets wrong.
#
# > **Learning objectives**
# > - cache and overwrite a model's internal activations with PyTorch hooks
# > - measure attention heads' behaviour (previous-token and induction scores) and their direct
# >   effect on the logits
# > - test a causal hypothesis with ablations and activation patching, reporting the fraction of
# >   the logit difference recovered
# > - train and evaluate a linear probe with held-out AUROC, and test its direction causally
# > - reproduce the measurements with TransformerLens 4's `TransformerBridge`

# %%
import json
import math
import time

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from transformers import AutoModelForCausalLM

from courselib.config import scale
from courselib.models import MODELS_DIR, load_model, load_tokenizer
from courselib.progress import progress
from courselib.seed import set_seed
from graders import check

set_seed(0)
torch.set_num_threads(2)
WEEK_START = time.time()
ATTN_ONLY_DIR = MODELS_DIR / "attn-only-2l"
attn_only = AutoModelForCausalLM.from_pretrained(
    ATTN_ONLY_DIR, local_files_only=True, attn_implementation="eager"
).eval()
cfg = attn_only.config
print(f"attn-only-2l: {cfg.n_layer} layers × {cfg.n_head} heads, d_model {cfg.n_embd}, context {cfg.n_positions}")
mlp_norm = sum(p.abs().sum().item() for b in attn_only.transformer.h for p in b.mlp.parameters())
print(f"sum of |MLP weights| = {mlp_norm} (attention-only: the MLPs add exactly nothing)")

# %% [markdown]
# ## 1. Hooks: reading the residual stream
#
# > **Learning objectives**
# > - register forward pre-hooks, collect activations, and always remove the hooks
#
# A transformer keeps a **residual stream** $x \in \mathbb{R}^{T \times d}$ that every block reads
# from and adds to. In an attention-only model,
#
# $$x^{(\ell+1)} = x^{(\ell)} + \sum_{h} z^{(\ell,h)} W_O^{(\ell,h)} + b_O^{(\ell)},\qquad
# x^{(0)} = W_E[\text{tokens}] + W_P[\text{positions}],$$
#
# where $z^{(\ell,h)} \in \mathbb{R}^{T \times d_\text{head}}$ is head $h$'s output (its attention
# pattern applied to its values) and $W_O^{(\ell,h)}$ is its slice of the output projection. In a
# GPT-2 from `transformers`, $x^{(\ell)}$ is the input of `model.transformer.h[ℓ]` (and the last
# one, $x^{(L)}$, the input of `model.transformer.ln_f`), and the heads' outputs concatenated,
# $[z^{(\ell,0)}, \dots, z^{(\ell,H-1)}]$, are the input of `model.transformer.h[ℓ].attn.c_proj`.
#
# A **forward pre-hook** `module.register_forward_pre_hook(fn)` calls `fn(module, args)` just
# before `module` runs; `args[0]` is its input. If `fn` returns a tuple, that tuple replaces the
# arguments. `register_forward_pre_hook` returns a handle; `handle.remove()` removes the hook.
# A hook left behind silently changes every later run of the model, so remove hooks in a
# `finally:` block.
#
# ### Exercise 1 — `cache_activations`
#
# > **Difficulty** 🔴🔴⚪⚪⚪ · **Importance** 🔵🔵🔵🔵🔵 · **Time** ~20 min
#
# Run a GPT-2 (`GPT2LMHeadModel`) once and return the residual stream entering every block and
# entering the final layer norm, and every head's output $z$, split into heads. TransformerLens
# calls these `blocks.{ℓ}.hook_resid_pre` (and `blocks.{L−1}.hook_resid_post` for the last) and
# `blocks.{ℓ}.attn.hook_z`. The grader also counts the hooks left on the model afterwards.
#
# <details><summary>Hint 1</summary>
#
# Two lists filled by two hook functions; register one pre-hook on each block, one on `ln_f`, and
# one on each block's `attn.c_proj`. They fire in the order the model runs.
#
# </details>
#
# <details><summary>Hint 2 (pseudocode)</summary>
#
# ```
# resid, z, handles = [], [], []
# save_resid(module, args): resid.append(args[0])
# save_z(module, args): x = args[0]  # [B, T, H·d_head]; append x.reshape(B, T, H, d_head)
# try: register the hooks, keep the handles; run model(input_ids) under no_grad
# finally: remove every handle
# return {"resid": stack(resid), "z": stack(z)}    # [L+1, B, T, d] and [L, B, T, H, d_head]
# ```
#
# </details>


# %%
def cache_activations(model: torch.nn.Module, input_ids: torch.Tensor) -> dict[str, torch.Tensor]:
    """Residual streams and per-head outputs of one forward pass of a GPT-2.

    Args:
        model: a ``transformers`` ``GPT2LMHeadModel`` (blocks in ``model.transformer.h``).
        input_ids: [B, T] token ids.

    Returns:
        {"resid": [L + 1, B, T, d] the stream entering each block, then entering ``ln_f``;
         "z": [L, B, T, H, d_head] each head's output, before the output projection ``c_proj``}.
    """
    ### BEGIN SOLUTION
    n_head = model.config.n_head
    resid, z, handles = [], [], []

    def save_resid(module, args):
        resid.append(args[0].detach())

    def save_z(module, args):
        x = args[0].detach()
        z.append(x.reshape(*x.shape[:-1], n_head, x.shape[-1] // n_head))

    try:
        for block in model.transformer.h:
            handles.append(block.register_forward_pre_hook(save_resid))
            handles.append(block.attn.c_proj.register_forward_pre_hook(save_z))
        handles.append(model.transformer.ln_f.register_forward_pre_hook(save_resid))
        with torch.no_grad():
            model(input_ids)
    finally:
        for handle in handles:
            handle.remove()
    return {"resid": torch.stack(resid), "z": torch.stack(z)}
    ### END SOLUTION


# %%
check("w09_interpretability.cache_activations", cache_activations)
### BEGIN HIDDEN TESTS
check("w09_interpretability.cache_activations", cache_activations, hidden=True)
### END HIDDEN TESTS

# %% [markdown]
# The formula above says the final residual stream is *exactly* the embeddings plus every head's
# output (through its slice of $W_O$) plus the output biases. Check it on the attention-only
# model with your cache: this decomposition is what makes per-head attributions possible.

# %%
N_SEQS, REP_LEN = scale(100, 16), 30
FIRST_ID, TOKENS_END = 2, json.loads((ATTN_ONLY_DIR / "eval_results.json").read_text())["tokens_end"]


def repeated_tokens(seed: int, n_seqs: int, rep_len: int) -> torch.Tensor:
    """``[BOS, r, r]`` for ``n_seqs`` random sequences ``r`` of ``rep_len`` tokens."""
    g = torch.Generator().manual_seed(seed)
    r = torch.randint(FIRST_ID, TOKENS_END, (n_seqs, rep_len), generator=g)
    return torch.cat([torch.zeros(n_seqs, 1, dtype=torch.long), r, r], dim=1)


rep = repeated_tokens(0, N_SEQS, REP_LEN)
acts = cache_activations(attn_only, rep)
sd = attn_only.state_dict()
d_head = cfg.n_embd // cfg.n_head


def W_O(layer: int) -> torch.Tensor:
    """Block ``layer``'s output projection split into heads: [H, d_head, d_model] (Conv1D stores [in, out])."""
    return sd[f"transformer.h.{layer}.attn.c_proj.weight"].reshape(cfg.n_head, d_head, cfg.n_embd)


rebuilt = acts["resid"][0].clone()
for layer in range(cfg.n_layer):
    rebuilt += (
        torch.einsum("bthe,hed->btd", acts["z"][layer], W_O(layer)) + sd[f"transformer.h.{layer}.attn.c_proj.bias"]
    )
print(f"resid shape {tuple(acts['resid'].shape)}, z shape {tuple(acts['z'].shape)}")
print(f"max |final residual − (embeddings + Σ heads + biases)| = {(rebuilt - acts['resid'][-1]).abs().max():.2e}")

# %% [markdown]
# ## 2. Attention patterns: previous-token and induction heads
#
# > **Learning objectives**
# > - read attention patterns from a forward pass and score heads by what they attend to
#
# A head's **attention pattern** $A \in \mathbb{R}^{T \times T}$ (rows: queries, columns: keys,
# lower-triangular, rows summing to 1) says where each position reads from. Two scores:
#
# - **previous-token score**: $\frac{1}{T-1}\sum_{t=1}^{T-1} A_{t,\,t-1}$, how much each position
#   reads the token just before it;
# - **induction score** (Olsson et al. 2022) on a sequence $[\text{BOS}, r, r]$ with $|r| = n$
#   (positions $0 \dots 2n$): for each query $q$ in the second copy ($n+1 \le q \le 2n$), the
#   same token sits earlier at $q - n$, and the token that *followed* it is at $q - n + 1$:
#   $\frac{1}{n}\sum_{q=n+1}^{2n} A_{q,\,q-n+1}$.
#
# An induction head attends to the token after the earlier occurrence of the current token and
# copies it: "A B … A → B". It needs a previous-token head in an earlier layer that writes "the
# token before me was A" into position B, which the induction head's **keys** read
# (**K-composition**).
#
# With `output_attentions=True` (and `attn_implementation="eager"`), a `transformers` model
# returns `attentions`: one [B, H, T, T] tensor per layer.
#
# ### Exercise 2 — `previous_token_score`
#
# > **Difficulty** 🔴⚪⚪⚪⚪ · **Importance** 🔵🔵🔵⚪⚪ · **Time** ~10 min
#
# <details><summary>Hint 1</summary>
#
# `A[..., t, t - 1]` with `t = torch.arange(1, T)` picks the sub-diagonal for every head at once.
#
# </details>
#
# <details><summary>Hint 2 (pseudocode)</summary>
#
# ```
# t = arange(1, T)
# return pattern[..., t, t − 1].mean over (batch, queries)     # [B, H, T−1] → [H]
# ```
#
# </details>


# %%
def previous_token_score(pattern: torch.Tensor) -> torch.Tensor:
    """Mean attention from each position t ≥ 1 to t − 1.

    Args:
        pattern: [B, H, T, T] attention probabilities (queries, then keys).

    Returns:
        [H]: one score per head, averaged over the batch and the T − 1 queries.
    """
    ### BEGIN SOLUTION
    t = torch.arange(1, pattern.shape[-1], device=pattern.device)
    return pattern[..., t, t - 1].mean(dim=(0, 2))
    ### END SOLUTION


# %%
check("w09_interpretability.previous_token_score", previous_token_score)
### BEGIN HIDDEN TESTS
check("w09_interpretability.previous_token_score", previous_token_score, hidden=True)
### END HIDDEN TESTS

# %% [markdown]
# ### Exercise 3 — `induction_score`
#
# > **Difficulty** 🔴🔴⚪⚪⚪ · **Importance** 🔵🔵🔵🔵⚪ · **Time** ~10 min
#
# <details><summary>Hint 1</summary>
#
# With BOS at position 0, the first copy is positions 1…n and the second n+1…2n. Write out n = 2:
# [BOS, a, b, a, b]; the query at 3 (a) should attend to 2 (b).
#
# </details>
#
# <details><summary>Hint 2 (pseudocode)</summary>
#
# ```
# q = arange(n + 1, 2n + 1)
# return pattern[..., q, q − n + 1].mean over (batch, queries)
# ```
#
# </details>


# %%
def induction_score(pattern: torch.Tensor, rep_len: int) -> torch.Tensor:
    """Olsson et al.'s induction score on sequences [BOS, r, r] with |r| = rep_len.

    Args:
        pattern: [B, H, T, T] attention probabilities, T = 1 + 2·rep_len.
        rep_len: n, the length of r.

    Returns:
        [H]: mean attention from each query q of the second copy to position q − n + 1.
    """
    ### BEGIN SOLUTION
    q = torch.arange(rep_len + 1, 2 * rep_len + 1, device=pattern.device)
    return pattern[..., q, q - rep_len + 1].mean(dim=(0, 2))
    ### END SOLUTION


# %%
check("w09_interpretability.induction_score", induction_score)
### BEGIN HIDDEN TESTS
check("w09_interpretability.induction_score", induction_score, hidden=True)
### END HIDDEN TESTS

# %% [markdown]
# ### The experiment: find the heads
#
# **Predict, then run.** The model was trained on random tokens, so on the first copy of
# $[\text{BOS}, r, r]$ nothing is predictable (chance is the log of the number of possible tokens, printed below). What loss do
# you expect on the second copy? Which layer should hold the previous-token head, and which the
# induction head? Write your guesses down, then run.

# %%
with torch.no_grad():
    out = attn_only(rep, output_attentions=True)
patterns = [a for a in out.attentions]  # per layer [B, H, T, T]
nll = F.cross_entropy(out.logits[:, :-1].transpose(1, 2), rep[:, 1:], reduction="none")  # [B, 2n]
first_copy, second_copy = nll[:, 1:REP_LEN].mean(1), nll[:, REP_LEN:].mean(1)  # per sequence


def mean_ci(x: torch.Tensor) -> str:
    """mean ± 95% normal interval of the per-sequence values ``x``."""
    return f"{x.mean():.3f} ± {1.96 * x.std() / math.sqrt(len(x)):.3f}"


print(f"{N_SEQS} sequences [BOS, r, r], |r| = {REP_LEN}, tokens uniform in {FIRST_ID}..{TOKENS_END - 1}")
print(
    f"loss on the first copy : {mean_ci(first_copy)} nats (ln {TOKENS_END - FIRST_ID} = {math.log(TOKENS_END - FIRST_ID):.3f})"
)
print(f"loss on the second copy: {mean_ci(second_copy)} nats")
prev_scores = torch.stack([previous_token_score(p) for p in patterns])  # [L, H]
ind_scores = torch.stack([induction_score(p, REP_LEN) for p in patterns])
print("previous-token scores (rows: layers):\n", prev_scores.numpy().round(3))
print("induction scores (rows: layers):\n", ind_scores.numpy().round(3))
IND = divmod(int(ind_scores.argmax()), cfg.n_head)
PREV = (0, int(prev_scores[0].argmax()))
print(
    f"induction head {IND[0]}.{IND[1]} (score {ind_scores[IND]:.3f}); previous-token head {PREV[0]}.{PREV[1]} (score {prev_scores[PREV]:.3f})"
)

fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
axes[0].plot(nll.mean(0).numpy())
axes[0].axvline(REP_LEN, color="grey", ls=":")
axes[0].set(
    xlabel="position of the predicted token − 1", ylabel="loss (nats)", title="per-position loss on [BOS, r, r]"
)
for ax, (layer, head), name in [(axes[1], PREV, "previous-token"), (axes[2], IND, "induction")]:
    ax.imshow(patterns[layer][0, head].numpy(), cmap="Blues")
    ax.set(title=f"head {layer}.{head} ({name}), sequence 0", xlabel="key", ylabel="query")
plt.tight_layout()
plt.show()

# %% [markdown]
# The induction head's pattern is the off-diagonal stripe in the second half: each query of the
# second copy looks $n - 1$ positions back. A stripe is *correlation*, though: sections 3–5
# test whether the head is *why* the second copy is predictable.
#
# ## 3. Direct logit attribution
#
# > **Learning objectives**
# > - split the logit of the correct token into per-head contributions through the final layer norm
#
# The logits are $\mathrm{LN}(x^{(L)}) W_U$ with
# $\mathrm{LN}(x) = \frac{x - \bar{x}}{s}\, \gamma + \beta$ and $s = \sqrt{\mathrm{var}(x) + \epsilon}$.
# Freezing the scale $s$ at its value on this input (as TransformerLens does), the map from the
# residual stream to the logits is linear, so head $h$'s **direct** contribution to the logit of
# token $y$ is
#
# $$\mathrm{DLA}_h = \frac{o_h - \overline{o_h}}{s} \cdot \left(\gamma \odot W_U[:, y]\right),
# \qquad o_h = z_h W_O^{(h)}.$$
#
# "Direct" means through the residual stream straight to the logits; a layer-0 head whose output
# is read by a layer-1 head contributes *indirectly*, which DLA does not see.
#
# ### Exercise 4 — `head_logit_attribution`
#
# > **Difficulty** 🔴🔴🔴⚪⚪ · **Importance** 🔵🔵🔵⚪⚪ · **Time** ~15 min
#
# <details><summary>Hint 1</summary>
#
# `torch.einsum("bhe,hed->bhd", z, W_O)` gives each head's output in the residual stream; centre it
# over d_model before projecting.
#
# </details>
#
# <details><summary>Hint 2 (pseudocode)</summary>
#
# ```
# out = einsum(z, W_O) − its mean over d                # [B, H, d]
# direction = ln_weight[:, None] * W_U[:, answer_ids]   # [d, B]
# return einsum("bhd,db->bh", out, direction) / ln_scale
# ```
#
# </details>


# %%
def head_logit_attribution(
    z: torch.Tensor,
    W_O: torch.Tensor,
    ln_scale: torch.Tensor,
    ln_weight: torch.Tensor,
    W_U: torch.Tensor,
    answer_ids: torch.Tensor,
) -> torch.Tensor:
    """Each head's direct contribution to the logit of the answer token, at one position per row.

    Args:
        z: [B, H, d_head] the heads' outputs at the position that predicts the answer.
        W_O: [H, d_head, d] the heads' slices of the output projection.
        ln_scale: [B, 1] the final layer norm's scale s = sqrt(var + eps) at that position.
        ln_weight: [d] the final layer norm's gain γ.
        W_U: [d, V] the unembedding.
        answer_ids: [B] the token whose logit is attributed.

    Returns:
        [B, H] direct logit attributions.
    """
    ### BEGIN SOLUTION
    out = torch.einsum("bhe,hed->bhd", z, W_O)
    out = out - out.mean(-1, keepdim=True)
    direction = ln_weight[:, None] * W_U[:, answer_ids]
    return torch.einsum("bhd,db->bh", out, direction) / ln_scale
    ### END SOLUTION


# %%
check("w09_interpretability.head_logit_attribution", head_logit_attribution)
### BEGIN HIDDEN TESTS
check("w09_interpretability.head_logit_attribution", head_logit_attribution, hidden=True)
### END HIDDEN TESTS

# %% [markdown]
# Attribute the correct next token's logit at every position of the second copy (the positions
# $n \dots 2n-1$ predict tokens $n+1 \dots 2n$), averaged over sequences and positions:

# %%
final = acts["resid"][-1]
ln_scale_all = (final.var(-1, unbiased=False, keepdim=True) + cfg.layer_norm_epsilon).sqrt()  # [B, T, 1]
positions = torch.arange(REP_LEN, 2 * REP_LEN)
answers = rep[:, positions + 1].reshape(-1)
unembed = sd["lm_head.weight"].T
dla = torch.stack(
    [
        head_logit_attribution(
            acts["z"][layer][:, positions].reshape(-1, cfg.n_head, d_head),
            W_O(layer),
            ln_scale_all[:, positions].reshape(-1, 1),
            sd["transformer.ln_f.weight"],
            unembed,
            answers,
        ).mean(0)
        for layer in range(cfg.n_layer)
    ]
)  # [L, H]
print("mean direct logit attribution to the correct token, second copy (rows: layers):\n", dla.numpy().round(2))
print(f"largest: head {divmod(int(dla.argmax()), cfg.n_head)} with {dla.max():.2f}; the induction head is {IND}")

# %% [markdown]
# ## 4. Ablations: is the head necessary?
#
# > **Learning objectives**
# > - replace one head's output (zero or mean ablation) with a hook and measure the loss
#
# To test whether a head matters, remove it and watch the loss. **Zero ablation** sets the head's
# $z$ to 0; **mean ablation** sets it to its mean over the batch and positions, which keeps the
# "typical" output (and its bias-like effect on later layers) and removes only the input-specific
# information. Both are interventions on $z$, the input of `c_proj`, in one head's slice.
#
# ### Exercise 5 — `set_head_output`
#
# > **Difficulty** 🔴🔴⚪⚪⚪ · **Importance** 🔵🔵🔵🔵⚪ · **Time** ~15 min
#
# Run the model with head `head` of block `layer` forced to output `value` (broadcastable to
# [B, T, d_head]: a zero vector, a mean vector, or a whole [B, T, d_head] tensor from another run,
# which is how section 5 patches heads). Return the logits; remove your hook.
#
# <details><summary>Hint 1</summary>
#
# A pre-hook on `attn.c_proj` that returns a tuple replaces its input. Reshape the input to
# [B, T, H, d_head] on a copy, overwrite `[..., head, :]`, reshape back.
#
# </details>
#
# <details><summary>Hint 2 (pseudocode)</summary>
#
# ```
# hook(module, args): x = args[0]; z = x.reshape(B, T, H, d_head).clone(); z[..., head, :] = value
#                     return (z.reshape(x.shape),)
# handle = model.transformer.h[layer].attn.c_proj.register_forward_pre_hook(hook)
# try: return model(input_ids).logits (no_grad)   finally: handle.remove()
# ```
#
# </details>


# %%
def set_head_output(
    model: torch.nn.Module, input_ids: torch.Tensor, layer: int, head: int, value: torch.Tensor
) -> torch.Tensor:
    """Logits of ``model`` on ``input_ids`` with one head's output z replaced by ``value``.

    Args:
        model: a ``transformers`` ``GPT2LMHeadModel``.
        input_ids: [B, T] token ids.
        layer, head: which head.
        value: broadcastable to [B, T, d_head] (e.g. zeros(d_head), a mean [d_head], or a [B, T, d_head] tensor).

    Returns:
        [B, T, V] logits.
    """
    ### BEGIN SOLUTION
    n_head = model.config.n_head

    def hook(module, args):
        x = args[0]
        z = x.reshape(*x.shape[:-1], n_head, x.shape[-1] // n_head).clone()
        z[..., head, :] = value
        return (z.reshape(x.shape), *args[1:])

    handle = model.transformer.h[layer].attn.c_proj.register_forward_pre_hook(hook)
    try:
        with torch.no_grad():
            return model(input_ids).logits
    finally:
        handle.remove()
    ### END SOLUTION


# %%
check("w09_interpretability.set_head_output", set_head_output)
### BEGIN HIDDEN TESTS
check("w09_interpretability.set_head_output", set_head_output, hidden=True)
### END HIDDEN TESTS

# %% [markdown]
# **Predict, then run.** Ablate each head in turn. Which ablation raises the loss on the second
# copy most, and to roughly what value? Does ablating the *previous-token* head hurt too, even
# though its direct logit attribution is small?


# %%
def second_copy_loss(logits: torch.Tensor) -> torch.Tensor:
    """Per-sequence mean loss on the second copy of [BOS, r, r]: [B]."""
    nll = F.cross_entropy(logits[:, :-1].transpose(1, 2), rep[:, 1:], reduction="none")
    return nll[:, REP_LEN:].mean(1)


base = second_copy_loss(out.logits)
rows = []
for layer in progress(range(cfg.n_layer), desc="ablating heads"):
    for head in range(cfg.n_head):
        mean_z = acts["z"][layer][:, :, head].mean(dim=(0, 1))
        for mode, value in (("zero", torch.zeros(d_head)), ("mean", mean_z)):
            delta = second_copy_loss(set_head_output(attn_only, rep, layer, head, value)) - base
            rows.append((layer, head, mode, delta))
print(
    f"second-copy loss without ablation: {mean_ci(base)} nats; change when one head is ablated (95% intervals over sequences):"
)
print("| head | zero ablation | mean ablation |\n|---|---|---|")
for i in range(0, len(rows), 2):
    (layer, head, _, dz), (_, _, _, dm) = rows[i], rows[i + 1]
    print(f"| {layer}.{head} | {mean_ci(dz)} | {mean_ci(dm)} |")
ablation = {(r[0], r[1], r[2]): r[3] for r in rows}

# %% [markdown]
# Read the table before going on. Every layer-1 head of this model scored high on induction
# (section 2), so removing any one of them leaves the others to do the job: the model is
# **redundant**, and a one-head ablation understates how much the circuit matters (large models
# show the same effect, "backup" heads that take over when one is ablated). Ablate all the heads
# whose induction score is above 0.5 at once:


# %%
def ablate_heads(model, input_ids: torch.Tensor, layer: int, heads: list[int]) -> torch.Tensor:
    """Logits [B, T, V] with the outputs z of several heads of one layer set to zero."""

    def hook(module, args):
        z = args[0].view(*args[0].shape[:-1], cfg.n_head, d_head).clone()
        z[..., heads, :] = 0.0
        return (z.view(args[0].shape), *args[1:])

    handle = model.transformer.h[layer].attn.c_proj.register_forward_pre_hook(hook)
    try:
        with torch.no_grad():
            return model(input_ids).logits
    finally:
        handle.remove()


INDUCTION_HEADS = [h for h in range(cfg.n_head) if ind_scores[IND[0], h] > 0.5]
all_ablated = second_copy_loss(ablate_heads(attn_only, rep, IND[0], INDUCTION_HEADS)) - base
print(f"induction heads (score > 0.5) in layer {IND[0]}: {INDUCTION_HEADS}")
print(f"zero-ablating all of them together raises the second-copy loss by {mean_ci(all_ablated)} nats")
worst = max(ablation, key=lambda key: ablation[key].mean().item() if key[2] == "zero" else -1.0)
print(f"the largest single-head effect: head {worst[0]}.{worst[1]}, +{ablation[worst].mean():.3f} nats (zero ablation)")

# %% [markdown]
# ## 5. Activation patching: which activations carry the answer?
#
# > **Learning objectives**
# > - patch a clean activation into a corrupted run and report the logit difference recovered
# > - locate where information moves between positions and layers (K-composition)
#
# Ablation asks "is this needed?"; **activation patching** asks "is this *enough* to carry the
# difference between two inputs?". Run a **clean** input and a **corrupted** one that differs in
# one controlled way, pick a metric (here a logit difference $m$ at the last position), and for
# each activation copy its clean value into the corrupted run:
#
# $$\text{recovered} = \frac{m_\text{patched} - m_\text{corrupted}}{m_\text{clean} - m_\text{corrupted}}.$$
#
# 1 means that this activation alone restores the clean behaviour; 0 means it carries nothing of
# the difference.
#
# Our clean input is $[\text{BOS}, r, r_{1..k}]$: the last token $A = r_k$ appeared before at
# position $k$, followed by $B = r_{k+1}$ at position $k + 1$, so an induction head predicts $B$.
# The corrupted input replaces the *earlier* $A$ (position $k$) by another token: the model can
# no longer find "A B" in the context. The metric is $\text{logit}(B) - \text{logit}(D)$ for a
# random distractor $D$.
#
# ### Exercise 6 — `patch_residual`
#
# > **Difficulty** 🔴🔴⚪⚪⚪ · **Importance** 🔵🔵🔵🔵🔵 · **Time** ~15 min
#
# Run the model with the residual stream entering block `layer` (for `layer == L`: entering
# `ln_f`) overwritten at position `pos` by `value` ([B, d]); return the logits.
#
# <details><summary>Hint 1</summary>
#
# The same kind of pre-hook as in Exercise 1, but returning a modified copy of `args[0]`.
# `pos` may be negative (−1: the last position).
#
# </details>
#
# <details><summary>Hint 2 (pseudocode)</summary>
#
# ```
# module = model.transformer.h[layer] if layer < L else model.transformer.ln_f
# hook(module, args): x = args[0].clone(); x[:, pos] = value; return (x, *args[1:])
# register, run under no_grad, return logits, remove the hook in finally
# ```
#
# </details>


# %%
def patch_residual(
    model: torch.nn.Module, input_ids: torch.Tensor, layer: int, pos: int, value: torch.Tensor
) -> torch.Tensor:
    """Logits with the residual stream entering block ``layer`` (``ln_f`` if layer == L) set to ``value`` at ``pos``.

    Args:
        model: a ``transformers`` ``GPT2LMHeadModel``.
        input_ids: [B, T] token ids.
        layer: 0 … L (L = number of blocks: the input of the final layer norm).
        pos: the position to overwrite (negative counts from the end).
        value: [B, d] the new residual vectors.

    Returns:
        [B, T, V] logits.
    """
    ### BEGIN SOLUTION
    blocks = model.transformer.h
    module = blocks[layer] if layer < len(blocks) else model.transformer.ln_f

    def hook(module, args):
        x = args[0].clone()
        x[:, pos] = value
        return (x, *args[1:])

    handle = module.register_forward_pre_hook(hook)
    try:
        with torch.no_grad():
            return model(input_ids).logits
    finally:
        handle.remove()
    ### END SOLUTION


# %%
check("w09_interpretability.patch_residual", patch_residual)
### BEGIN HIDDEN TESTS
check("w09_interpretability.patch_residual", patch_residual, hidden=True)
### END HIDDEN TESTS

# %% [markdown]
# ### Exercise 7 — `patching_sweep` (integration)
#
# > **Difficulty** 🔴🔴🔴⚪⚪ · **Importance** 🔵🔵🔵🔵🔵 · **Time** ~20 min
#
# Put it together: for every block input $\ell \in \{0, \dots, L-1\}$ and every position, patch the
# clean residual into the corrupted run and return the fraction of the logit difference recovered,
# an [L, T] map. The metric is the batch mean of
# $\text{logit}[b, -1, \text{answer}_b] - \text{logit}[b, -1, \text{wrong}_b]$.
# (TransformerLens's `get_act_patch_resid_pre` computes the same map of raw metric values.)
#
# <details><summary>Hint 1</summary>
#
# One clean run with `cache_activations` gives every clean residual; then L·T patched runs with
# `patch_residual`. Compute the clean and corrupted metrics once.
#
# </details>
#
# <details><summary>Hint 2 (pseudocode)</summary>
#
# ```
# metric(logits) = mean_b( logits[b, −1, answer[b]] − logits[b, −1, wrong[b]] )
# clean_resid = cache_activations(model, clean_ids)["resid"]
# m_clean, m_corr = metric(model(clean_ids).logits), metric(model(corrupted_ids).logits)
# for ℓ < L, for t < T: out[ℓ, t] = (metric(patch_residual(model, corrupted_ids, ℓ, t, clean_resid[ℓ][:, t])) − m_corr) / (m_clean − m_corr)
# ```
#
# </details>


# %%
def patching_sweep(
    model: torch.nn.Module,
    clean_ids: torch.Tensor,
    corrupted_ids: torch.Tensor,
    answer_ids: torch.Tensor,
    wrong_ids: torch.Tensor,
) -> torch.Tensor:
    """Fraction of the logit difference recovered by patching each block input at each position.

    Args:
        model: a ``transformers`` ``GPT2LMHeadModel``.
        clean_ids, corrupted_ids: [B, T] token ids (same shape).
        answer_ids, wrong_ids: [B] token ids; the metric is mean_b(logit[b, −1, answer] − logit[b, −1, wrong]).

    Returns:
        [L, T]: (m_patched − m_corrupted) / (m_clean − m_corrupted) for the residual entering block ℓ at position t.
    """

    ### BEGIN SOLUTION
    def metric(logits):
        last = logits[:, -1]
        return (last.gather(-1, answer_ids[:, None]) - last.gather(-1, wrong_ids[:, None])).mean()

    clean_resid = cache_activations(model, clean_ids)["resid"]
    with torch.no_grad():
        m_clean, m_corr = metric(model(clean_ids).logits), metric(model(corrupted_ids).logits)
    n_layer, T = len(model.transformer.h), clean_ids.shape[1]
    out = torch.zeros(n_layer, T)
    for layer in range(n_layer):
        for t in range(T):
            patched = metric(patch_residual(model, corrupted_ids, layer, t, clean_resid[layer][:, t]))
            out[layer, t] = (patched - m_corr) / (m_clean - m_corr)
    return out
    ### END SOLUTION


# %%
check("w09_interpretability.patching_sweep", patching_sweep)
### BEGIN HIDDEN TESTS
check("w09_interpretability.patching_sweep", patching_sweep, hidden=True)
### END HIDDEN TESTS

# %% [markdown]
# **Predict, then run.** Clean and corrupted inputs differ only at position $k$. Patching the
# residual entering block 0 at position $k$ must restore everything (it *is* the whole
# difference). What about the residual entering block 1: at position $k$, or at $k + 1$ (where
# $B$ sits)? If the induction head's keys read "the previous token was A" from position $k + 1$,
# which of the two should recover the logit difference?

# %%
PATCH_N, PATCH_LEN, K = scale(64, 16), 20, 10
g = torch.Generator().manual_seed(1)
r = torch.randint(FIRST_ID, TOKENS_END, (PATCH_N, PATCH_LEN), generator=g)
clean = torch.cat([torch.zeros(PATCH_N, 1, dtype=torch.long), r, r[:, :K]], dim=1)  # last token r_K = A
corrupted = clean.clone()
corrupted[:, K] = (
    clean[:, K] - FIRST_ID + 1 + torch.randint(0, TOKENS_END - FIRST_ID - 1, (PATCH_N,), generator=g)
) % (TOKENS_END - FIRST_ID) + FIRST_ID  # a different token at the earlier A
answer, distractor = clean[:, K + 1], torch.randint(FIRST_ID, TOKENS_END, (PATCH_N,), generator=g)
sweep = patching_sweep(attn_only, clean, corrupted, answer, distractor)


def logit_diff(logits: torch.Tensor) -> float:
    return (logits[:, -1].gather(-1, answer[:, None]) - logits[:, -1].gather(-1, distractor[:, None])).mean().item()


with torch.no_grad():
    m_clean, m_corr = logit_diff(attn_only(clean).logits), logit_diff(attn_only(corrupted).logits)
print(f"logit difference B − D: clean {m_clean:.2f}, corrupted {m_corr:.2f}")
print(f"recovered by patching the input of block 0 at position k = {K}: {sweep[0, K]:.3f}")
print(f"recovered by patching the input of block 1 at position k = {K}: {sweep[1, K]:.3f}")
print(f"recovered by patching the input of block 1 at position k + 1 = {K + 1}: {sweep[1, K + 1]:.3f}")
fig, ax = plt.subplots(figsize=(10, 2.4))
im = ax.imshow(sweep.numpy(), cmap="RdBu", vmin=-1, vmax=1, aspect="auto")
ax.set(
    xlabel="position",
    ylabel="block input",
    yticks=range(cfg.n_layer),
    title="logit difference recovered by residual patching",
)
plt.colorbar(im)
plt.show()

# %% [markdown]
# Between block 0 and block 1 the information "the earlier token was A" moved from position $k$ to
# position $k+1$: something in layer 0 copied it one position to the right. Patch each head's output
# (all positions) to find which head, and then patch only that head's output *at position k + 1*,
# the keys the induction heads read:

# %%
clean_z = cache_activations(attn_only, clean)["z"]
head_patch = torch.zeros(cfg.n_layer, cfg.n_head)
for layer in range(cfg.n_layer):
    for head in range(cfg.n_head):
        patched = logit_diff(set_head_output(attn_only, corrupted, layer, head, clean_z[layer][:, :, head]))
        head_patch[layer, head] = (patched - m_corr) / (m_clean - m_corr)
print("recovered by patching one head's output at every position (rows: layers):\n", head_patch.numpy().round(3))
MOVER = (0, int(head_patch[0].argmax()))
value = cache_activations(attn_only, corrupted)["z"][0][:, :, MOVER[1]].clone()
value[:, K + 1] = clean_z[0][:, K + 1, MOVER[1]]
mover_at_key = (logit_diff(set_head_output(attn_only, corrupted, 0, MOVER[1], value)) - m_corr) / (m_clean - m_corr)
print(f"layer-0 head {MOVER[0]}.{MOVER[1]} patched only at position k + 1: recovers {mover_at_key:.3f}")
print(
    f"its previous-token score: {prev_scores[MOVER]:.3f}; the highest previous-token score in layer 0: "
    f"head {PREV[0]}.{PREV[1]}, {prev_scores[PREV]:.3f}"
)

# %% [markdown]
# This is **K-composition**: a layer-0 head writes the identity of A into position k + 1, and the
# induction heads' *keys* at k + 1 read it, so the query "A" (the last token) matches the key "my
# previous token was A", and the heads copy B. Compare the two numbers printed last: the head that
# *moves the token identity* need not be the head with the highest previous-token score. Attention
# scores say where a head looks; patching says which head's output the next layer uses. The
# attention stripe of section 2 was the visible trace of this mechanism, the patching is the
# evidence.
#
# ## 6. Refusal in `tiny-sft`: patching and a linear probe
#
# > **Learning objectives**
# > - locate where a chat model's refusal decision forms, by patching at the last position
# > - train a linear probe per layer and report held-out AUROC with intervals
# > - test the probe's direction causally by steering, and read its errors with the world's labels
#
# `tiny-sft` answers `User: {prompt}\nAssistant:`; its refusals start with the token " I" ("I'm
# sorry…", "I cannot…"), its helpful answers do not. The last prompt token (":") is the same for
# every prompt, so whatever the model "knows" about the request at that position was moved there
# by attention.
#
# **Patching the refusal.** Clean: a harmful request; corrupted: a benign one (different lengths
# are fine, since we patch only the last position). Metric: $\log p(\text{" I"})$ at the last
# position. Patch the clean residual entering each block (and `ln_f`) at the last position.

# %%
from courselib.world import format_prompt, load_split, unique_prompts  # noqa: E402

sft = load_model("tiny-sft")
tok = load_tokenizer("tiny-sft")
REFUSAL_ID = tok(" I")["input_ids"][0]
test = unique_prompts(load_split("test"))
harmful = [r for r in test if r["request_kind"] == "harmful"][: scale(40, 8)]
benign = [r for r in test if r["request_kind"] == "benign"][: len(harmful)]


def ids_of(record: dict) -> torch.Tensor:
    return tok(format_prompt(record["prompt"]), return_tensors="pt")["input_ids"]


def refusal_logprob(logits: torch.Tensor) -> torch.Tensor:
    return logits[:, -1].log_softmax(-1)[:, REFUSAL_ID]


n_sites = sft.config.n_layer + 1
clean_lp, corr_lp, patched_lp = [], [], torch.zeros(len(harmful), n_sites)
for i, (h, b) in enumerate(progress(list(zip(harmful, benign)), desc="refusal patching")):
    c_ids, x_ids = ids_of(h), ids_of(b)
    c_resid = cache_activations(sft, c_ids)["resid"]
    with torch.no_grad():
        clean_lp.append(refusal_logprob(sft(c_ids).logits))
        corr_lp.append(refusal_logprob(sft(x_ids).logits))
    for layer in range(n_sites):
        patched_lp[i, layer] = refusal_logprob(patch_residual(sft, x_ids, layer, -1, c_resid[layer][:, -1]))[0]
clean_lp, corr_lp = torch.cat(clean_lp), torch.cat(corr_lp)
refusal_recovered = (patched_lp - corr_lp[:, None]).mean(0) / (clean_lp - corr_lp).mean()
print(f"{len(harmful)} pairs; log p(' I'): harmful {clean_lp.mean():.2f}, benign {corr_lp.mean():.2f}")
for layer, frac in enumerate(refusal_recovered.tolist()):
    site = f"block {layer} input" if layer < sft.config.n_layer else "ln_f input"
    print(f"  last position, {site:>14}: recovers {frac:.2f} of the refusal log-prob")

# %% [markdown]
# At the input of block 0 the last position holds only the embedding of ":" and of its position
# (the prompts differ in length, so the position differs), and almost nothing is recovered; the
# refusal signal arrives at the last position over the following layers, moved there by attention
# from the request's tokens.
#
# ### A linear probe for "should refuse"
#
# A **linear probe** is a logistic regression on activations: if a simple linear read-out
# separates harmful from benign requests at layer ℓ, the model represents that distinction
# (linearly) by layer ℓ. Its quality is measured on **held-out** prompts, with the **AUROC**: the
# probability that a random positive scores above a random negative (ties count one half). It does
# not depend on a threshold, unlike accuracy.
#
# $$\mathrm{AUROC} = \frac{1}{|P|\,|N|}\sum_{i \in P}\sum_{j \in N}\left(\mathbb{1}[s_i > s_j] + \tfrac{1}{2}\mathbb{1}[s_i = s_j]\right)$$
#
# ### Exercise 8 — `auroc`
#
# > **Difficulty** 🔴🔴⚪⚪⚪ · **Importance** 🔵🔵🔵⚪⚪ · **Time** ~10 min
#
# <details><summary>Hint 1</summary>
#
# Broadcast: `pos[:, None] - neg[None, :]` is the [|P|, |N|] matrix of score differences.
#
# </details>
#
# <details><summary>Hint 2 (pseudocode)</summary>
#
# ```
# d = scores[labels == 1][:, None] − scores[labels == 0][None, :]
# return mean( (d > 0) + 0.5 · (d == 0) )       # as a float tensor
# ```
#
# </details>


# %%
def auroc(scores: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Area under the ROC curve of ``scores`` for binary ``labels`` (ties count one half).

    Args:
        scores: [N] real scores (higher = more positive).
        labels: [N] 0/1 (or bool); at least one of each.

    Returns:
        A float scalar tensor in [0, 1].
    """
    ### BEGIN SOLUTION
    labels = labels.bool()
    diff = scores[labels][:, None] - scores[~labels][None, :]
    return ((diff > 0).float() + 0.5 * (diff == 0).float()).mean()
    ### END SOLUTION


# %%
check("w09_interpretability.auroc", auroc)
### BEGIN HIDDEN TESTS
check("w09_interpretability.auroc", auroc, hidden=True)
### END HIDDEN TESTS

# %% [markdown]
# **Predict, then run.** At which layer does the probe become good (AUROC above 0.95)? At layer 0
# (the embedding of ":")? Which requests will it get wrong: jailbreak wrappers, injections that
# contain a harmful task but should be answered, or PII requests?

# %%
from sklearn.linear_model import LogisticRegression  # noqa: E402

SHOULD_REFUSE = ("harmful", "jailbreak", "pii")
train = unique_prompts(load_split("train"))[: scale(2400, 300)]
test_probe = test[: scale(300, 100)]


def last_token_resid(records: list[dict], batch_size: int = 64) -> torch.Tensor:
    """[L + 1, N, d]: the residual stream at the last prompt token, entering each block and ln_f."""
    out = []
    for start in range(0, len(records), batch_size):
        batch = tok(
            [format_prompt(r["prompt"]) for r in records[start : start + batch_size]], padding=True, return_tensors="pt"
        )
        last = batch["attention_mask"].sum(1) - 1  # right padding: causal attention never sees the pads
        resid = cache_activations(sft, batch["input_ids"])["resid"]
        out.append(resid[:, torch.arange(len(last)), last])
    return torch.cat(out, dim=1)


X_train, X_test = last_token_resid(train), last_token_resid(test_probe)
y_train = torch.tensor([r["request_kind"] in SHOULD_REFUSE for r in train])
y_test = torch.tensor([r["request_kind"] in SHOULD_REFUSE for r in test_probe])
g = torch.Generator().manual_seed(0)
boot = [torch.randint(0, len(y_test), (len(y_test),), generator=g) for _ in range(scale(1000, 100))]
probes, probe_auroc = [], []
print(f"train {len(train)} prompts, test {len(test_probe)} prompts ({int(y_test.sum())} should be refused)")
print("| residual entering | test AUROC | 95% bootstrap interval |\n|---|---|---|")
for layer in range(n_sites):
    probe = LogisticRegression(C=1.0, max_iter=2000).fit(X_train[layer].numpy(), y_train.numpy())
    s = torch.tensor(probe.decision_function(X_test[layer].numpy()))
    a = auroc(s, y_test).item()
    samples = torch.tensor([auroc(s[i], y_test[i]).item() for i in boot if 0 < y_test[i].sum() < len(i)])
    lo, hi = samples.quantile(0.025).item(), samples.quantile(0.975).item()
    probes.append(probe)
    probe_auroc.append((a, lo, hi))
    site = f"block {layer}" if layer < sft.config.n_layer else "ln_f"
    print(f"| {site} | {a:.3f} | [{lo:.3f}, {hi:.3f}] |")

# %% [markdown]
# ### What the probe gets wrong
#
# Take the first layer whose probe is at its best, threshold at probability 0.5, and break the
# test errors down by the world's labels:

# %%
PROBE_LAYER = max(range(1, n_sites), key=lambda layer: (round(probe_auroc[layer][0], 3), -layer))
pred = torch.tensor(probes[PROBE_LAYER].predict(X_test[PROBE_LAYER].numpy())).bool()
print(f"probe at the input of {'block ' + str(PROBE_LAYER) if PROBE_LAYER < sft.config.n_layer else 'ln_f'}")
print("| request kind | subtype | n | predicted 'refuse' | label |\n|---|---|---|---|---|")
groups: dict[tuple[str, str], list[int]] = {}
for i, rec in enumerate(test_probe):
    key = (rec["request_kind"], rec["subtype"] if rec["request_kind"] in ("jailbreak", "injection") else "—")
    groups.setdefault(key, []).append(i)
probe_errors = {}
for key, idx in sorted(groups.items()):
    rate = pred[idx].float().mean().item()
    probe_errors[key] = (rate, len(idx))
    print(f"| {key[0]} | {key[1]} | {len(idx)} | {rate:.2f} | {'refuse' if key[0] in SHOULD_REFUSE else 'help'} |")

# %% [markdown]
# ### Is the probe direction causal? Steering
#
# A probe can read a direction the model never uses. The causal test: **add** the probe direction
# $u$ (unit norm) times $\alpha$ to the residual stream entering the probe's layer, at every
# position, while the model generates its answer, and count refusals (classified by the world's
# labeller). Adding it to benign prompts should raise the refusal rate; subtracting it from
# harmful prompts should lower it.

# %%
from courselib.world.evaluate import generate_responses  # noqa: E402
from courselib.world.reward import classify_response  # noqa: E402


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson score interval of a rate k / n."""
    p, den = k / n, 1 + z**2 / n
    centre, half = (p + z**2 / (2 * n)) / den, z * math.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / den
    return centre - half, centre + half


direction = torch.tensor(probes[PROBE_LAYER].coef_[0], dtype=torch.float32)
direction = direction / direction.norm()
proj = X_train[PROBE_LAYER] @ direction
ALPHA_UNIT = (proj[y_train].mean() - proj[~y_train].mean()).item()  # the gap between the classes along u
STEER_N = scale(48, 8)
steer_sets = {"benign": [r for r in test if r["request_kind"] == "benign"][:STEER_N], "harmful": harmful[:STEER_N]}


def refusal_rate(records: list[dict], alpha: float) -> tuple[int, int]:
    def hook(module, args):
        return (args[0] + alpha * direction, *args[1:])

    site = sft.transformer.h[PROBE_LAYER] if PROBE_LAYER < sft.config.n_layer else sft.transformer.ln_f
    handle = site.register_forward_pre_hook(hook)
    try:
        responses = generate_responses(sft, tok, [r["prompt"] for r in records], max_new_tokens=scale(24, 8))
    finally:
        handle.remove()
    kinds = [classify_response(r, text) for r, text in zip(records, responses)]
    return sum(k in ("refusal", "over_refusal") for k in kinds), len(kinds)


steering = {}
print(f"class gap along u: {ALPHA_UNIT:.2f}; α in units of that gap")
print("| prompts | α | refusals | rate | 95% Wilson interval |\n|---|---|---|---|---|")
for name, sign in (("benign", 1), ("harmful", -1)):
    for mult in (0.0, 1.0, 2.0):
        k, n = refusal_rate(steer_sets[name], sign * mult * ALPHA_UNIT)
        lo, hi = wilson(k, n)
        steering[(name, sign * mult)] = (k, n)
        print(f"| {name} | {sign * mult:+.0f} | {k}/{n} | {k / n:.2f} | [{lo:.2f}, {hi:.2f}] |")

# %% [markdown]
# Did steering move the refusal rate? Compare the rates at α = 0 and at the largest α, with their
# intervals (the verdict below is computed, not typed):

# %%
for name, sign in (("benign", 1), ("harmful", -1)):
    k0, n0 = steering[(name, 0.0)]
    k2, n2 = steering[(name, sign * 2.0)]
    lo0, hi0 = wilson(k0, n0)
    lo2, hi2 = wilson(k2, n2)
    moved = hi2 < lo0 or lo2 > hi0
    print(
        f"{name}: {k0}/{n0} refusals at α = 0, {k2}/{n2} at α = {sign * 2:+d} gaps: "
        + (
            "the intervals do not overlap — the direction changes behaviour"
            if moved
            else "intervals overlap — no measurable causal effect at this strength"
        )
    )

# %% [markdown]
# If the intervals overlap, the probe's direction, although it separates the classes perfectly,
# is not the direction the model *uses* to decide to refuse (at least not at this layer and
# strength): the refusal is carried by other directions or other positions (recall that patching
# the last position's residual only recovered the refusal gradually over the layers). This is the
# "probes find correlates" warning of the next section, measured. The ☆ Bonus suggests stronger
# tests (ablating the direction at every layer, or steering at every position of the prompt).

# %% [markdown]
# ## 7. The library: TransformerLens 4
#
# TransformerLens wraps a `transformers` model in a `TransformerBridge`; in **compatibility mode**
# it exposes the hook names of the classic `HookedTransformer` (`blocks.0.hook_resid_pre`,
# `blocks.1.attn.hook_pattern`, `blocks.0.attn.hook_z`, …), `run_with_cache`, and the patching and
# head-detection utilities (`no_processing=True` keeps the weights as they are; by default the bridge
# folds the layer norms and centres the weights like `HookedTransformer`, which shifts the residual
# stream and the logits). Our hooks and theirs must agree on the same weights; the week's tests
# check every cached activation and `transformer_lens.patching.get_act_patch_resid_pre` against
# `patching_sweep`. Here, a few of them, and TransformerLens's head detector:

# %%
import warnings  # noqa: E402

from transformer_lens import head_detector  # noqa: E402
from transformer_lens.model_bridge import TransformerBridge  # noqa: E402

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    bridge = TransformerBridge.boot_transformers(str(ATTN_ONLY_DIR), device="cpu", tokenizer=load_tokenizer("tiny-sft"))
    bridge.enable_compatibility_mode(no_processing=True)
    tl_logits, tl_cache = bridge.run_with_cache(rep[:4])
print(f"max |logits ours − bridge| = {(tl_logits - out.logits[:4]).abs().max():.2e}")
for layer in range(cfg.n_layer):
    print(
        f"layer {layer}: resid_pre {(tl_cache[f'blocks.{layer}.hook_resid_pre'] - acts['resid'][layer][:4]).abs().max():.2e}, "
        f"z {(tl_cache[f'blocks.{layer}.attn.hook_z'] - acts['z'][layer][:4]).abs().max():.2e}, "
        f"pattern {(tl_cache[f'blocks.{layer}.attn.hook_pattern'] - patterns[layer][:4]).abs().max():.2e}"
    )
# detect_head tokenizes a string; on token ids, run its two steps on the bridge's own cache
tl_induction = torch.tensor(
    [
        [
            sum(
                head_detector.compute_head_attention_similarity_score(
                    tl_cache[f"blocks.{layer}.attn.hook_pattern"][i, head],
                    detection_pattern=head_detector.get_induction_head_detection_pattern(rep[i : i + 1]),
                    exclude_bos=False,
                    exclude_current_token=False,
                    error_measure="mul",
                )
                for i in range(4)
            )
            / 4
            for head in range(cfg.n_head)
        ]
        for layer in range(cfg.n_layer)
    ]
)
print(
    f"TransformerLens's induction-head score ('mul') for head {IND[0]}.{IND[1]}: {tl_induction[IND]:.3f}; ours {ind_scores[IND]:.3f}"
)
print(
    f"TL's 'mul' score averages over all {2 * REP_LEN + 1} queries, so a perfect head scores about {REP_LEN / (2 * REP_LEN + 1):.2f}:"
)
print(f"  ours × {REP_LEN}/{2 * REP_LEN + 1} = {ind_scores[IND] * REP_LEN / (2 * REP_LEN + 1):.3f}")

# %% [markdown]
# ## What could go wrong in practice
#
# - **Hooks left behind.** A forgotten handle keeps patching every later forward pass: the next
#   experiment silently measures a modified model. Remove hooks in `finally:`.
# - **Attention is not explanation.** A stripe in an attention map shows where a head *looks*, not
#   that its output *matters*; the ablations and patching above are what support the claim.
# - **Ablation choices change the answer.** Zero ablation pushes activations off-distribution (a
#   head that always writes a large constant looks crucial); mean ablation is gentler; resampling
#   from other inputs is gentler still. Report which one you used.
# - **Patching depends on the corruption.** Recovery is relative to one clean/corrupted pair: a
#   different corruption asks a different question. Normalised recovery is unstable when
#   $m_\text{clean} - m_\text{corrupted}$ is small.
# - **Probes find correlates.** A probe for "should refuse" may read a correlate (say, "contains a
#   harmful-task tag", which an injection that should be answered also contains; check the error
#   table above for what *this* probe did). High AUROC is not evidence that the model *uses* the
#   direction; steering or ablation is, and above it may well have changed nothing.
# - **Redundancy hides circuits.** With several heads doing the same job, ablating one changes
#   little (section 4); ablate them together, or patch, before concluding that a component is
#   unimportant.
# - **Layer-norm and direct attribution.** DLA freezes the final layer norm's scale; with large
#   interventions that scale changes and the linear picture breaks.

# %% [markdown]
# ## ☆ Bonus
#
# - Compute the induction head's **QK circuit** $W_E W_Q W_K^\top (W_{OV}^{\text{prev}} W_E)^\top$
#   and show that it is large on the diagonal (token matches "previous token was this token").
# - Replace mean ablation by **resample ablation** (the head's output on another random sequence)
#   and compare the loss increase.
# - Use `transformer_lens.patching.get_act_patch_attn_head_out_by_pos` to reproduce the per-head,
#   per-position map, and find the head that moves the refusal signal to the last position in
#   `tiny-sft`.
# - Train the probe on harmful vs benign only, then test it on jailbreaks and injections: does it
#   transfer?
# - Make the causal test stronger: project the probe direction out of the residual stream at
#   *every* layer (directional ablation), or steer with larger α, and find the smallest
#   intervention that changes the refusal rate.

# %% [markdown]
# ## Interview questions
#
# 1. What is an induction head, what does it need from an earlier layer, and how would you show
#    that a model has one?
# 2. Explain activation patching. How do you choose the corrupted input and the metric, and what
#    does "fraction of the logit difference recovered" mean?
# 3. Zero ablation, mean ablation, resample ablation: what does each measure and when does each mislead?
# 4. A linear probe reaches AUROC 0.99 for "harmful request" at some layer. What can and can't you
#    conclude, and how would you test whether the model uses that direction?
# 5. What is direct logit attribution and what does it miss?
# 6. How would mechanistic interpretability help detect deceptive or unsafe behaviour, and what are
#    its current limitations?

# %%
print(f"week 9 ran in {time.time() - WEEK_START:.0f} s")
