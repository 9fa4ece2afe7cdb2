"""Week 1 exercises: tokens, the pieces of GPT-2, the forward pass, sampling and a training step.

The reference implementations live in ``solutions/w01_transformers/w01_transformers.py``.

The model-shaped exercises take GPT-2's weights as plain dicts under the names that a
``transformers`` GPT-2 uses in its ``state_dict()``. The cases build such dicts with pure torch
(:func:`gpt2_params`), drawn with larger scales than GPT-2's initialisation so that attention is
sharp and every catalogued mistake moves the outputs far above the tolerance. The week's tests
load the same dicts into ``transformers.GPT2LMHeadModel`` and check that the reference reproduces
its logits, so passing these cases means matching the library. Mistakes of the block and the
forward pass use ``F.layer_norm``, ``F.gelu`` and ``F.scaled_dot_product_attention`` for the
parts they get right.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from graders.core import Case, Exercise, Traced, draw_choice, draw_int, draw_leading, seeded
from graders.weeks.fixtures import tiny_gpt2, tiny_gpt2_state


def block_params(g: torch.Generator, d: int, d_ff: int | None = None) -> dict[str, torch.Tensor]:
    """Random weights of one GPT2Block under its ``state_dict()`` names (Conv1D: [in, out])."""
    d_ff = d_ff or 4 * d

    def n(*shape: int, std: float) -> torch.Tensor:
        return torch.randn(*shape, generator=g) * std

    return {
        "ln_1.weight": 1 + n(d, std=0.2),
        "ln_1.bias": n(d, std=0.2),
        "attn.c_attn.weight": n(d, 3 * d, std=0.3),
        "attn.c_attn.bias": n(3 * d, std=0.2),
        "attn.c_proj.weight": n(d, d, std=d**-0.5),
        "attn.c_proj.bias": n(d, std=0.2),
        "ln_2.weight": 1 + n(d, std=0.2),
        "ln_2.bias": n(d, std=0.2),
        "mlp.c_fc.weight": n(d, d_ff, std=0.3),
        "mlp.c_fc.bias": n(d_ff, std=0.2),
        "mlp.c_proj.weight": n(d_ff, d, std=d_ff**-0.5),
        "mlp.c_proj.bias": n(d, std=0.2),
    }


def gpt2_params(
    seed: int, n_layer: int = 2, d: int = 32, vocab: int = 50, n_positions: int = 16
) -> dict[str, torch.Tensor]:
    """Random weights of a whole GPT2LMHeadModel under its ``state_dict()`` names (tied lm_head)."""
    g = seeded(seed)
    params = {
        "transformer.wte.weight": torch.randn(vocab, d, generator=g),
        "transformer.wpe.weight": torch.randn(n_positions, d, generator=g) * 0.5,
    }
    for i in range(n_layer):
        params.update({f"transformer.h.{i}.{k}": v for k, v in block_params(g, d).items()})
    params["transformer.ln_f.weight"] = 1 + torch.randn(d, generator=g) * 0.2
    params["transformer.ln_f.bias"] = torch.randn(d, generator=g) * 0.2
    params["lm_head.weight"] = params["transformer.wte.weight"]
    return params


def _traced_weights(fn, case: Case) -> Traced:
    """Run ``fn(x_or_ids, params, n_head)`` with every weight (and a float ``x``) requiring grad.

    The copies the grader makes untie ``lm_head.weight`` from ``transformer.wte.weight``; tie
    them again, as in GPT-2, so that either name may be used for the unembedding.
    """
    first, params, n_head = case.args
    params = {k: v.requires_grad_(True) for k, v in params.items()}
    if "lm_head.weight" in params:
        params["lm_head.weight"] = params["transformer.wte.weight"]
    traced = {k: v for k, v in params.items() if k != "lm_head.weight"}
    if first.is_floating_point():
        traced["x"] = first.requires_grad_(True)
    return Traced(fn(first, params, n_head), traced)


# --------------------------------------------------------------------------------------------
# merge_pair
# --------------------------------------------------------------------------------------------


def _merge_pair_cases() -> list[Case]:
    long = torch.randint(0, 4, (40,), generator=seeded(10)).tolist()
    return [
        Case("ids [1, 2, 3, 1, 2], pair (1, 2) -> 9", ([1, 2, 3, 1, 2], (1, 2), 9)),
        Case("five equal ids [5, 5, 5, 5, 5], pair (5, 5) (overlapping occurrences)", ([5, 5, 5, 5, 5], (5, 5), 9)),
        Case("ids [2, 1, 2, 1] with pair (1, 2): the reversed pair must not match", ([2, 1, 2, 1], (1, 2), 7)),
        Case("ids [11, 2, 1, 2] with pair (1, 2) (multi-digit ids)", ([11, 2, 1, 2], (1, 2), 30)),
        Case("ids [3, 4, 4] with no occurrence of pair (4, 3), ending in a repeat", ([3, 4, 4], (4, 3), 8)),
        Case("a single id [6]", ([6], (6, 6), 10)),
        Case(f"40 random ids in 0..3 with pair (0, 0) (hidden): {long[:6]}...", (long, (0, 0), 4), hidden=True),
        Case("ids [7, 7, 7] with pair (7, 7) (hidden)", ([7, 7, 7], (7, 7), 12), hidden=True),
    ]


def _merge_pair_random(g: torch.Generator) -> Case:
    """1 to 12 ids from a small alphabet (so runs such as [a, a, a] and repeated pairs occur), a new id unused."""
    ids = torch.randint(0, 3, (draw_int(g, 1, 12),), generator=g).tolist()
    pair = (draw_int(g, 0, 2), draw_int(g, 0, 2))
    new_id = draw_int(g, 3, 20)
    return Case(f"ids {ids}, pair {pair} -> {new_id}", (ids, pair, new_id))


MERGE_PAIR = Exercise(
    "merge_pair",
    points=1,
    make_cases=_merge_pair_cases,
    summary="one BPE merge step",
    random_case=_merge_pair_random,
)


@MERGE_PAIR.mistake("merged only the first occurrence", "keep scanning: every non-overlapping occurrence is replaced.")
def first_only(ids, pair, new_id):
    for i in range(len(ids) - 1):
        if ids[i] == pair[0] and ids[i + 1] == pair[1]:
            return list(ids[:i]) + [new_id] + list(ids[i + 2 :])
    return list(ids)


@MERGE_PAIR.mistake(
    "advanced one position after a merge, so the pair's second id survives", "after a merge, skip both ids (i += 2)."
)
def step_one_after_merge(ids, pair, new_id):
    out = []
    for i in range(len(ids)):
        hit = i + 1 < len(ids) and ids[i] == pair[0] and ids[i + 1] == pair[1]
        out.append(new_id if hit else ids[i])
    return out


@MERGE_PAIR.mistake(
    "dropped the last id (the loop stops one early and the tail is never copied)",
    "an id left at the end of the scan must still be copied.",
)
def drops_tail(ids, pair, new_id):
    out, i = [], 0
    while i < len(ids) - 1:
        hit = ids[i] == pair[0] and ids[i + 1] == pair[1]
        out.append(new_id if hit else ids[i])
        i += 2 if hit else 1
    return out


@MERGE_PAIR.mistake("matched the pair in either order", "a merge is ordered: (a, b) is not (b, a).")
def unordered(ids, pair, new_id):
    out, i = [], 0
    while i < len(ids):
        hit = i + 1 < len(ids) and (ids[i], ids[i + 1]) in (tuple(pair), tuple(pair)[::-1])
        out.append(new_id if hit else ids[i])
        i += 2 if hit else 1
    return out


@MERGE_PAIR.mistake("scanned right to left", "scan left to right: with pair (a, a), [a, a, a] becomes [new, a].")
def right_to_left(ids, pair, new_id):
    out, i = [], len(ids) - 1
    while i >= 0:
        hit = i >= 1 and ids[i - 1] == pair[0] and ids[i] == pair[1]
        out.append(new_id if hit else ids[i])
        i -= 2 if hit else 1
    return out[::-1]


@MERGE_PAIR.mistake(
    "replaced the pair in the ids joined as a string (it matches inside multi-digit ids)",
    "'11 2' contains '1 2': compare ids as integers.",
)
def string_replace(ids, pair, new_id):
    text = " ".join(str(i) for i in ids).replace(f"{pair[0]} {pair[1]}", str(new_id))
    return [int(t) for t in text.split()]


# --------------------------------------------------------------------------------------------
# pad_batch
# --------------------------------------------------------------------------------------------


def _pad_batch_cases() -> list[Case]:
    left = {"padding_side": "left"}
    return [
        Case("three sequences of lengths 3, 1, 4 padded right with pad_id=1", ([[5, 6, 7], [8], [9, 10, 11, 12]], 1)),
        Case(
            "three sequences of lengths 2, 4, 3 padded left with pad_id=1",
            ([[5, 6], [7, 8, 9, 10], [11, 12, 13]], 1),
            left,
        ),
        Case(
            "sequences that end with token 0 while pad_id=0 (like GPT-2, where pad = end-of-text), right",
            ([[4, 3, 0], [2, 0], [7, 0, 6, 0]], 0),
        ),
        Case("two sequences of equal length 3 (nothing to pad), pad_id=2", ([[3, 4, 5], [6, 7, 8]], 2)),
        Case("a single sequence [9, 8] with pad_id=1, left", ([[9, 8]], 1), left),
        Case(
            "left padding where real tokens equal pad_id=0 (hidden)",
            ([[0, 5], [6, 0, 7, 0], [0]], 0),
            left,
            hidden=True,
        ),
        Case(
            "four sequences padded right with pad_id=3 (hidden)",
            ([[1], [1, 2, 4, 5, 6], [7, 8], [9, 10, 11]], 3),
            {"padding_side": "right"},
            hidden=True,
        ),
    ]


def _pad_batch_random(g: torch.Generator) -> Case:
    """1 to 4 non-empty sequences (equal lengths included) whose tokens may equal pad_id, either side."""
    seqs = [torch.randint(0, 4, (draw_int(g, 1, 5),), generator=g).tolist() for _ in range(draw_int(g, 1, 4))]
    pad_id, side = draw_int(g, 0, 3), draw_choice(g, ("right", "left"))
    return Case(f"sequences {seqs}, pad_id={pad_id}, {side}", (seqs, pad_id), {"padding_side": side})


PAD_BATCH = Exercise(
    "pad_batch",
    points=1,
    make_cases=_pad_batch_cases,
    summary="pad a batch and build its attention mask",
    random_case=_pad_batch_random,
)


@PAD_BATCH.mistake("always padded on the right (ignored padding_side)", 'with "left" the padding goes first.')
def ignores_side(sequences, pad_id, padding_side="right"):
    T = max(len(s) for s in sequences)
    ids = torch.tensor([list(s) + [pad_id] * (T - len(s)) for s in sequences])
    return ids, torch.tensor([[1] * len(s) + [0] * (T - len(s)) for s in sequences])


@PAD_BATCH.mistake("inverted the attention mask (1 on padding, 0 on tokens)", "the mask is 1 on real tokens.")
def inverted_mask(sequences, pad_id, padding_side="right"):
    T = max(len(s) for s in sequences)
    pads = [[pad_id] * (T - len(s)) for s in sequences]
    rows = [list(s) + p if padding_side == "right" else p + list(s) for s, p in zip(sequences, pads)]
    mask = [[0] * len(s) + [1] * (T - len(s)) for s in sequences]
    return torch.tensor(rows), torch.tensor(mask if padding_side == "right" else [m[::-1] for m in mask])


@PAD_BATCH.mistake(
    "computed the mask as input_ids != pad_id (wrong when a real token equals the pad id)",
    "GPT-2 pads with end-of-text, which also ends real text: build the mask from the lengths.",
)
def mask_from_ids(sequences, pad_id, padding_side="right"):
    T = max(len(s) for s in sequences)
    pads = [[pad_id] * (T - len(s)) for s in sequences]
    ids = torch.tensor([list(s) + p if padding_side == "right" else p + list(s) for s, p in zip(sequences, pads)])
    return ids, (ids != pad_id).long()


@PAD_BATCH.mistake("padded with 0 instead of pad_id", "fill the padding with the pad_id argument.")
def pads_with_zero(sequences, pad_id, padding_side="right"):
    T = max(len(s) for s in sequences)
    ids, mask = torch.zeros(len(sequences), T, dtype=torch.long), torch.zeros(len(sequences), T, dtype=torch.long)
    for r, s in enumerate(sequences):
        a = 0 if padding_side == "right" else T - len(s)
        ids[r, a : a + len(s)], mask[r, a : a + len(s)] = torch.tensor(s), 1
    return ids, mask


@PAD_BATCH.mistake("padded to one more than the longest length", "T is the longest length: max(len(s) for s in ...).")
def one_too_long(sequences, pad_id, padding_side="right"):
    T = max(len(s) for s in sequences) + 1
    ids, mask = torch.full((len(sequences), T), pad_id), torch.zeros(len(sequences), T, dtype=torch.long)
    for r, s in enumerate(sequences):
        a = 0 if padding_side == "right" else T - len(s)
        ids[r, a : a + len(s)], mask[r, a : a + len(s)] = torch.tensor(s), 1
    return ids, mask


@PAD_BATCH.mistake(
    "left padding by flipping the right-padded rows (reverses the tokens)",
    "left padding moves the tokens to the end of the row in their original order.",
)
def flips_rows(sequences, pad_id, padding_side="right"):
    T = max(len(s) for s in sequences)
    ids = torch.tensor([list(s) + [pad_id] * (T - len(s)) for s in sequences])
    mask = torch.tensor([[1] * len(s) + [0] * (T - len(s)) for s in sequences])
    return (ids.flip(1), mask.flip(1)) if padding_side == "left" else (ids, mask)


# --------------------------------------------------------------------------------------------
# layer_norm
# --------------------------------------------------------------------------------------------


def _layer_norm_cases() -> list[Case]:
    g = seeded(11)

    def affine(d: int, dtype: torch.dtype = torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
        return (1 + torch.randn(d, generator=g) * 0.3).to(dtype), (torch.randn(d, generator=g) * 0.5).to(dtype)

    return [
        Case("x [2, 3, 8] with mean 3 and spread 2", (3 + 2 * torch.randn(2, 3, 8, generator=g), *affine(8))),
        Case(
            "x [4, 16] with a tiny spread (about 1e-3), where eps matters",
            (torch.randn(4, 16, generator=g) * 1e-3, *affine(16)),
        ),
        Case("x [3, 6] with eps=0.1", (torch.randn(3, 6, generator=g), *affine(6)), {"eps": 0.1}),
        Case(
            "x [2, 5, 4] in float64",
            (torch.randn(2, 5, 4, generator=g, dtype=torch.float64) * 4, *affine(4, torch.float64)),
        ),
        Case("a single vector x [32] with offset 100", (100 + torch.randn(32, generator=g), *affine(32)), hidden=True),
        Case("x [5, 2, 12] (hidden)", (torch.randn(5, 2, 12, generator=g) * 3 - 1, *affine(12)), hidden=True),
    ]


def _layer_norm_random(g: torch.Generator) -> Case:
    """Any leading dimensions, either dtype, any offset and spread (tiny ones where eps matters)."""
    shape, dtype = (*draw_leading(g), draw_int(g, 1, 12)), draw_choice(g, (torch.float32, torch.float64))
    x = torch.randn(shape, generator=g, dtype=dtype) * draw_choice(g, (1e-3, 1.0, 5.0)) + draw_choice(g, (0.0, 100.0))
    weight, bias = (
        (1 + torch.randn(shape[-1], generator=g, dtype=dtype) * 0.3),
        torch.randn(shape[-1], generator=g, dtype=dtype) * 0.5,
    )
    return Case(
        f"x {list(shape)} ({str(dtype).removeprefix('torch.')})",
        (x, weight, bias),
        {"eps": draw_choice(g, (1e-5, 0.1))},
    )


LAYER_NORM = Exercise(
    "layer_norm",
    points=1,
    make_cases=_layer_norm_cases,
    # group/batch/instance norm with one group over the last dimension compute it too, and so does
    # an RMS norm of the centred input
    forbidden=(
        "layer_norm",
        "LayerNorm",
        "group_norm",
        "GroupNorm",
        "batch_norm",
        "BatchNorm1d",
        "instance_norm",
        "InstanceNorm1d",
        "rms_norm",  # of the centred input: the layer norm
        "RMSNorm",
    ),
    grads=("x", "weight", "bias"),
    summary="layer normalisation",
    random_case=_layer_norm_random,
)


@LAYER_NORM.mistake("used the unbiased variance (divided by D − 1)", "use the biased variance: var(unbiased=False).")
def unbiased_variance(x, weight, bias, eps=1e-5):
    return (x - x.mean(-1, keepdim=True)) / torch.sqrt(x.var(-1, keepdim=True) + eps) * weight + bias


@LAYER_NORM.mistake("put eps outside the square root", "eps goes inside: (x − μ) / sqrt(σ² + ε).")
def eps_outside_sqrt(x, weight, bias, eps=1e-5):
    mu = x.mean(-1, keepdim=True)
    return (x - mu) / (((x - mu) ** 2).mean(-1, keepdim=True).sqrt() + eps) * weight + bias


@LAYER_NORM.mistake(
    "normalised over the first dimension (like batch norm) instead of the features", "reduce over dim=-1."
)
def wrong_dim(x, weight, bias, eps=1e-5):
    mu = x.mean(0, keepdim=True)
    return (x - mu) / torch.sqrt(((x - mu) ** 2).mean(0, keepdim=True) + eps) * weight + bias


@LAYER_NORM.mistake("forgot the learned scale and shift", "multiply by weight and add bias after normalising.")
def no_affine(x, weight, bias, eps=1e-5):
    mu = x.mean(-1, keepdim=True)
    return (x - mu) / torch.sqrt(((x - mu) ** 2).mean(-1, keepdim=True) + eps)


@LAYER_NORM.mistake("divided by the variance instead of the standard deviation", "divide by sqrt(σ² + ε).")
def divides_by_variance(x, weight, bias, eps=1e-5):
    mu = x.mean(-1, keepdim=True)
    return (x - mu) / (((x - mu) ** 2).mean(-1, keepdim=True) + eps) * weight + bias


@LAYER_NORM.mistake("did not subtract the mean", "centre first: x − μ.")
def not_centred(x, weight, bias, eps=1e-5):
    mu = x.mean(-1, keepdim=True)
    return x / torch.sqrt(((x - mu) ** 2).mean(-1, keepdim=True) + eps) * weight + bias


@LAYER_NORM.mistake("ignored the eps argument (hard-coded 1e-5)", "use the eps that is passed in.")
def fixed_eps(x, weight, bias, eps=1e-5):
    mu = x.mean(-1, keepdim=True)
    return (x - mu) / torch.sqrt(((x - mu) ** 2).mean(-1, keepdim=True) + 1e-5) * weight + bias


@LAYER_NORM.mistake(
    "treated the mean and variance as constants (detached statistics)",
    "right values, wrong gradient: μ and σ depend on x, so backpropagate through them (no .detach()).",
)
def detached_statistics(x, weight, bias, eps=1e-5):
    mu = x.mean(-1, keepdim=True).detach()
    var = ((x - mu) ** 2).mean(-1, keepdim=True).detach()
    return (x - mu) / torch.sqrt(var + eps) * weight + bias


# --------------------------------------------------------------------------------------------
# gelu_new
# --------------------------------------------------------------------------------------------


def _gelu_cases() -> list[Case]:
    g = seeded(12)
    return [
        Case("x = 25 points from −6 to 6", (torch.linspace(-6, 6, 25),)),
        Case("x [3, 4] with spread 3", (torch.randn(3, 4, generator=g) * 3,)),
        Case("x [10] in float64 near the bend (−3 to 1)", (torch.linspace(-3, 1, 10, dtype=torch.float64),)),
        Case("large values x = [−50, −10, 10, 50]", (torch.tensor([-50.0, -10.0, 10.0, 50.0]),)),
        Case("x [2, 2, 5] with spread 2 (hidden)", (torch.randn(2, 2, 5, generator=g) * 2,), hidden=True),
    ]


def _gelu_random(g: torch.Generator) -> Case:
    """Any shape, float32 or float64, spread up to 30 (the tails) or near the bend."""
    shape = (*draw_leading(g), draw_int(g, 1, 8))
    dtype = draw_choice(g, (torch.float32, torch.float64))
    x = torch.randn(shape, generator=g, dtype=dtype) * draw_choice(g, (1.0, 3.0, 30.0))
    return Case(f"x {list(shape)} ({str(dtype).removeprefix('torch.')})", (x,))


GELU_NEW = Exercise(
    "gelu_new",
    points=1,
    make_cases=_gelu_cases,
    forbidden=("gelu", "GELU"),
    grads=("x",),
    summary="GPT-2's tanh GELU",
    random_case=_gelu_random,
)


@GELU_NEW.mistake("used the exact (erf) GELU instead of GPT-2's tanh approximation", "GPT-2 uses the tanh formula.")
def exact_erf(x):
    return 0.5 * x * (1 + torch.erf(x / math.sqrt(2.0)))


@GELU_NEW.mistake(
    "used the sigmoid approximation x·σ(1.702x)", "that is the 'quick GELU'; GPT-2 uses the tanh formula."
)
def quick_gelu(x):
    return x * torch.sigmoid(1.702 * x)


@GELU_NEW.mistake("forgot the factor 1/2", "0.5 · x · (1 + tanh(...)).")
def no_half(x):
    return x * (1 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x**3)))


@GELU_NEW.mistake("used √2/π instead of √(2/π)", "the constant is math.sqrt(2 / math.pi) ≈ 0.798.")
def wrong_constant(x):
    return 0.5 * x * (1 + torch.tanh(math.sqrt(2.0) / math.pi * (x + 0.044715 * x**3)))


@GELU_NEW.mistake("forgot the cubic term", "the argument of tanh is √(2/π)·(x + 0.044715·x³).")
def no_cubic(x):
    return 0.5 * x * (1 + torch.tanh(math.sqrt(2.0 / math.pi) * x))


@GELU_NEW.mistake("used ReLU", "GELU is smooth and slightly negative for x < 0.")
def relu(x):
    return torch.clamp(x, min=0)


@GELU_NEW.mistake("returned the gate 0.5·(1 + tanh(...)) without multiplying by x", "GELU(x) = x · Φ(x).")
def gate_only(x):
    return 0.5 * (1 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x**3)))


@GELU_NEW.mistake(
    "wrapped the result in torch.tensor(...), which cuts it from the graph",
    "torch.tensor copies values only: return the tensor expression itself.",
)
def rewrapped(x):
    return torch.tensor(0.5 * x * (1 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x**3))))


# --------------------------------------------------------------------------------------------
# attention_pattern
# --------------------------------------------------------------------------------------------


def _pattern_cases() -> list[Case]:
    g = seeded(13)

    def qk(*shape: int, std: float = 1.5, dtype: torch.dtype = torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
        return tuple(torch.randn(*shape, generator=g, dtype=dtype) * std for _ in range(2))

    return [
        Case("q, k of shape [2, 3, 5, 8] (B=2, H=3, T=5, d_head=8)", qk(2, 3, 5, 8)),
        Case("a single position: q, k [1, 1, 1, 4]", qk(1, 1, 1, 4)),
        Case("q, k [1, 2, 4, 16] in float64", qk(1, 2, 4, 16, dtype=torch.float64)),
        Case("q, k [2, 1, 6, 2] (d_head=2)", qk(2, 1, 6, 2, std=2.0)),
        Case("q, k [1, 4, 7, 8] (hidden)", qk(1, 4, 7, 8), hidden=True),
    ]


def _pattern_random(g: torch.Generator) -> Case:
    b, h, t, d = draw_int(g, 1, 3), draw_int(g, 1, 4), draw_int(g, 1, 8), draw_int(g, 1, 16)
    dtype, std = draw_choice(g, (torch.float32, torch.float64)), draw_choice(g, (0.5, 1.5, 4.0))
    q, k = (torch.randn(b, h, t, d, generator=g, dtype=dtype) * std for _ in range(2))
    return Case(f"q, k [{b}, {h}, {t}, {d}] ({str(dtype).removeprefix('torch.')})", (q, k))


ATTENTION_PATTERN = Exercise(
    "attention_pattern",
    points=2,
    make_cases=_pattern_cases,
    forbidden=("scaled_dot_product_attention", "MultiheadAttention"),
    grads=("q", "k"),
    summary="causal attention weights",
    random_case=_pattern_random,
)


@ATTENTION_PATTERN.mistake("forgot the causal mask", "set the scores above the diagonal (s > t) to −inf.")
def no_mask(q, k):
    return torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1]), dim=-1)


@ATTENTION_PATTERN.mistake(
    "applied the mask after the softmax (rows no longer sum to 1)", "add −inf before the softmax, not 0 after."
)
def mask_after_softmax(q, k):
    T = q.shape[-2]
    a = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1]), dim=-1)
    return a.masked_fill(torch.ones(T, T, dtype=torch.bool).triu(1), 0.0)


@ATTENTION_PATTERN.mistake("did not scale the scores by 1/sqrt(d_head)", "divide q·k by sqrt(d_head).")
def unscaled(q, k):
    T = q.shape[-2]
    s = (q @ k.transpose(-1, -2)).masked_fill(torch.ones(T, T, dtype=torch.bool).triu(1), float("-inf"))
    return torch.softmax(s, dim=-1)


@ATTENTION_PATTERN.mistake("scaled by 1/d_head instead of 1/sqrt(d_head)", "the scale is 1/sqrt(d_head).")
def scaled_by_d(q, k):
    T = q.shape[-2]
    s = (q @ k.transpose(-1, -2) / q.shape[-1]).masked_fill(torch.ones(T, T, dtype=torch.bool).triu(1), float("-inf"))
    return torch.softmax(s, dim=-1)


@ATTENTION_PATTERN.mistake(
    "took the softmax over the queries (dim=-2) instead of the keys", "softmax over the last dimension (keys)."
)
def softmax_over_queries(q, k):
    T = q.shape[-2]
    s = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])
    return torch.softmax(s.masked_fill(torch.ones(T, T, dtype=torch.bool).triu(1), float("-inf")), dim=-2)


@ATTENTION_PATTERN.mistake(
    "masked the diagonal too (a position cannot attend to itself)",
    "use triu(diagonal=1): t sees s ≤ t, itself included.",
)
def masks_diagonal(q, k):
    T = q.shape[-2]
    s = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])
    return torch.softmax(s.masked_fill(torch.ones(T, T, dtype=torch.bool).triu(0), float("-inf")), dim=-1)


@ATTENTION_PATTERN.mistake(
    "masked the past instead of the future (the mask is transposed)", "hide key s > query t: above the diagonal."
)
def masks_past(q, k):
    T = q.shape[-2]
    s = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])
    return torch.softmax(s.masked_fill(torch.ones(T, T, dtype=torch.bool).tril(-1), float("-inf")), dim=-1)


@ATTENTION_PATTERN.mistake("computed k·qᵀ instead of q·kᵀ", "rows are queries, columns keys: q @ k.transpose(-1, -2).")
def k_times_q(q, k):
    T = q.shape[-2]
    s = k @ q.transpose(-1, -2) / math.sqrt(q.shape[-1])
    return torch.softmax(s.masked_fill(torch.ones(T, T, dtype=torch.bool).triu(1), float("-inf")), dim=-1)


@ATTENTION_PATTERN.mistake(
    "computed the scores under torch.no_grad() along with the mask",
    "right pattern, no gradient to q and k: only the mask may be built outside autograd.",
)
def scores_without_grad(q, k):
    T = q.shape[-2]
    with torch.no_grad():
        future = torch.ones(T, T, dtype=torch.bool).triu(1)
        s = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])
    return torch.softmax(s.masked_fill(future, float("-inf")), dim=-1)


# --------------------------------------------------------------------------------------------
# causal_self_attention
# --------------------------------------------------------------------------------------------


def _attention_cases() -> list[Case]:
    g = seeded(14)

    def case(describe: str, B: int, T: int, D: int, n_head: int, hidden: bool = False) -> Case:
        x = torch.randn(B, T, D, generator=g)
        attn = {k[len("attn.") :]: v for k, v in block_params(g, D).items() if k.startswith("attn.")}
        return Case(describe, (x, attn, n_head), hidden=hidden)

    return [
        case("x [2, 5, 32] with n_head=4 (d_head=8)", 2, 5, 32, 4),
        case("a single position x [1, 1, 32], n_head=4", 1, 1, 32, 4),
        case("x [1, 6, 16] with one head (n_head=1)", 1, 6, 16, 1),
        case("x [2, 4, 32] with n_head=8 (d_head=4)", 2, 4, 32, 8),
        case("x [3, 7, 24] with n_head=2 (hidden)", 3, 7, 24, 2, hidden=True),
    ]


def _heads(g: torch.Generator) -> tuple[int, int]:
    """(D, n_head) with n_head ≠ d_head (one head, and heads smaller or larger than d_head)."""
    n_head, d_head = draw_choice(g, ((1, 8), (2, 3), (4, 2), (2, 8), (3, 4)))
    return n_head * d_head, n_head


def _attention_random(g: torch.Generator) -> Case:
    """x [B, T, D] (T = 1 included) with D = n_head · d_head drawn, GPT-2's packed weights."""
    (D, n_head), B, T = _heads(g), draw_int(g, 1, 3), draw_int(g, 1, 6)
    x = torch.randn(B, T, D, generator=g)
    attn = {k[len("attn.") :]: v for k, v in block_params(g, D).items() if k.startswith("attn.")}
    return Case(f"x [{B}, {T}, {D}] with n_head={n_head}", (x, attn, n_head))


CAUSAL_SELF_ATTENTION = Exercise(
    "causal_self_attention",
    points=3,
    make_cases=_attention_cases,
    call=_traced_weights,
    parameter_grads=True,
    forbidden=("scaled_dot_product_attention", "MultiheadAttention", "multi_head_attention_forward"),
    summary="multi-head causal self-attention with GPT-2's packed weights",
    random_case=_attention_random,
    n_random=4,
)


def _attention(x, params, n_head, split="heads", merge=True, by_d_model=False, causal=True, proj="W", bias=True, frozen=False):  # fmt: skip
    """Causal self-attention with GPT-2's packed weights, with a switch per mistake."""
    B, T, D = x.shape
    qkv = x @ params["c_attn.weight"] + params["c_attn.bias"] if bias else x @ params["c_attn.weight"]
    if split == "interleaved":  # [q_h k_h v_h] per head instead of [q | k | v]
        q, k, v = (t.transpose(1, 2) for t in qkv.reshape(B, T, n_head, 3 * (D // n_head)).split(D // n_head, dim=-1))
    elif split == "reshape":  # reshape(B, n_head, T, d_head) mixes positions and heads
        q, k, v = (t.reshape(B, n_head, T, D // n_head) for t in qkv.split(D, -1))
    else:
        q, k, v = (t.reshape(B, T, n_head, -1).transpose(1, 2) for t in qkv.split(D, -1))
    with torch.set_grad_enabled(not frozen):
        s = q @ k.transpose(-1, -2) / math.sqrt(D if by_d_model else D // n_head)
        a = torch.softmax(s.masked_fill(torch.ones(T, T, dtype=torch.bool).triu(1), float("-inf")) if causal else s, -1)
    z = (a @ v).transpose(1, 2).reshape(B, T, D) if merge else (a @ v).reshape(B, T, D)
    if proj is None:
        return z
    w = params["c_proj.weight"].T if proj == "W.T" else params["c_proj.weight"]
    return z @ w + params["c_proj.bias"] if bias else z @ w


@CAUSAL_SELF_ATTENTION.mistake(
    "split the heads with reshape(B, n_head, T, d_head), which mixes positions and heads",
    "reshape(B, T, n_head, d_head), then transpose(1, 2).",
)
def heads_reshaped_wrong(x, params, n_head):
    return _attention(x, params, n_head, split="reshape")


@CAUSAL_SELF_ATTENTION.mistake(
    "merged the heads without transposing back", "[B, H, T, d_head] → transpose(1, 2) → reshape(B, T, D)."
)
def merged_without_transpose(x, params, n_head):
    return _attention(x, params, n_head, merge=False)


@CAUSAL_SELF_ATTENTION.mistake("scaled by sqrt(d_model) instead of sqrt(d_head)", "divide by sqrt(D / n_head).")
def scaled_by_d_model(x, params, n_head):
    return _attention(x, params, n_head, by_d_model=True)


@CAUSAL_SELF_ATTENTION.mistake("forgot the causal mask", "mask the scores above the diagonal with −inf.")
def unmasked(x, params, n_head):
    return _attention(x, params, n_head, causal=False)


@CAUSAL_SELF_ATTENTION.mistake("forgot the output projection c_proj", "finish with z @ c_proj.weight + c_proj.bias.")
def no_output_projection(x, params, n_head):
    return _attention(x, params, n_head, proj=None)


@CAUSAL_SELF_ATTENTION.mistake(
    "transposed c_proj.weight (GPT-2's Conv1D stores [in, out], unlike nn.Linear's [out, in])",
    "GPT-2 computes x @ W + b with W [in, out]; do not transpose.",
)
def transposed_projection(x, params, n_head):
    return _attention(x, params, n_head, proj="W.T")


@CAUSAL_SELF_ATTENTION.mistake(
    "unpacked c_attn per head (interleaved [q_h k_h v_h] layout) instead of [q | k | v]",
    "GPT-2 packs all queries, then all keys, then all values: split into three blocks of D.",
)
def interleaved_heads(x, params, n_head):
    return _attention(x, params, n_head, split="interleaved")


@CAUSAL_SELF_ATTENTION.mistake("left out the biases", "both c_attn and c_proj have a bias: x @ W + b.")
def no_biases(x, params, n_head):
    return _attention(x, params, n_head, bias=False)


@CAUSAL_SELF_ATTENTION.mistake(
    "computed the attention pattern under torch.no_grad() (as if it were only for display)",
    "right output, wrong gradients: the queries' and keys' weights learn through the pattern too.",
)
def pattern_without_grad(x, params, n_head):
    return _attention(x, params, n_head, frozen=True)


# --------------------------------------------------------------------------------------------
# gpt_block
# --------------------------------------------------------------------------------------------


def _block_cases() -> list[Case]:
    g = seeded(15)

    def stream(*shape: int) -> torch.Tensor:  # a residual stream is not normalised
        return torch.randn(*shape, generator=g) * 2 + 0.5

    return [
        Case("x [2, 5, 32] with n_head=4", (stream(2, 5, 32), block_params(g, 32), 4)),
        Case("a single position x [1, 1, 32], n_head=4", (stream(1, 1, 32), block_params(g, 32), 4)),
        Case("x [1, 8, 16] with n_head=2", (stream(1, 8, 16), block_params(g, 16), 2)),
        Case("x [2, 6, 32] with n_head=8 (hidden)", (stream(2, 6, 32), block_params(g, 32), 8), hidden=True),
    ]


def _block_random(g: torch.Generator) -> Case:
    """A residual stream x [B, T, D] (T = 1 included, not normalised), D = n_head · d_head drawn."""
    (D, n_head), B, T = _heads(g), draw_int(g, 1, 3), draw_int(g, 1, 6)
    x = torch.randn(B, T, D, generator=g) * 2 + 0.5
    return Case(f"x [{B}, {T}, {D}] with n_head={n_head}", (x, block_params(g, D), n_head))


GPT_BLOCK = Exercise(
    "gpt_block",
    points=3,
    make_cases=_block_cases,
    call=_traced_weights,
    parameter_grads=True,
    rtol=1e-4,
    atol=1e-4,
    grad_atol=1e-4,
    summary="a GPT-2 block",
    random_case=_block_random,
    n_random=4,
)


def _block(x, p, n_head, attn_residual=True, mlp_residual=True, post_ln=False, act="tanh", ln_2="ln_2", parallel=False, affine=True, frozen_attn=False):  # fmt: skip
    """A GPT-2 block (sdpa attention, Conv1D layers), with a switch per mistake."""
    B, T, D = x.shape
    names = {1: "ln_1", 2: ln_2}
    ln = lambda t, i: F.layer_norm(t, (D,), p[f"{names[i]}.weight"], p[f"{names[i]}.bias"]) if affine else F.layer_norm(t, (D,))  # noqa: E731  # fmt: skip
    lin = lambda t, name: t @ p[f"{name}.weight"] + p[f"{name}.bias"]  # noqa: E731
    mlp = lambda t: lin({"tanh": lambda u: F.gelu(u, approximate="tanh"), "erf": F.gelu, "relu": torch.relu}[act](lin(t, "mlp.c_fc")), "mlp.c_proj")  # noqa: E731  # fmt: skip
    with torch.set_grad_enabled(not frozen_attn):
        qkv = lin(x if post_ln else ln(x, 1), "attn.c_attn")
        q, k, v = (t.reshape(B, T, n_head, -1).transpose(1, 2) for t in qkv.split(D, -1))
        a = lin(F.scaled_dot_product_attention(q, k, v, is_causal=True).transpose(1, 2).reshape(B, T, D), "attn.c_proj")
    if post_ln:  # the original Transformer: normalise after each residual addition
        h = ln(x + a, 1)
        return ln(h + mlp(h), 2)
    if parallel:
        return x + a + mlp(ln(x, 2))
    h = x + a if attn_residual else a
    return h + mlp(ln(h, 2)) if mlp_residual else mlp(ln(h, 2))


@GPT_BLOCK.mistake("forgot the residual connection around attention", "h = x + attn(ln_1(x)), not attn(ln_1(x)).")
def no_attention_residual(x, params, n_head):
    return _block(x, params, n_head, attn_residual=False)


@GPT_BLOCK.mistake("forgot the residual connection around the MLP", "y = h + mlp(ln_2(h)).")
def no_mlp_residual(x, params, n_head):
    return _block(x, params, n_head, mlp_residual=False)


@GPT_BLOCK.mistake(
    "post-LN: normalised after each residual addition (the original Transformer) instead of before",
    "GPT-2 is pre-LN: x + sublayer(LN(x)); the residual stream itself is never normalised.",
)
def post_ln(x, params, n_head):
    return _block(x, params, n_head, post_ln=True)


@GPT_BLOCK.mistake("used the exact (erf) GELU instead of GPT-2's tanh approximation", "GPT-2's MLP uses gelu_new.")
def exact_gelu(x, params, n_head):
    return _block(x, params, n_head, act="erf")


@GPT_BLOCK.mistake("used ReLU in the MLP", "GPT-2's MLP nonlinearity is the tanh GELU.")
def relu_mlp(x, params, n_head):
    return _block(x, params, n_head, act="relu")


@GPT_BLOCK.mistake(
    "used ln_1's weights for both layer norms", "the MLP has its own layer norm: ln_2.weight, ln_2.bias."
)
def ln_1_twice(x, params, n_head):
    return _block(x, params, n_head, ln_2="ln_1")


@GPT_BLOCK.mistake(
    "parallel attention and MLP (both read x, as in GPT-J) instead of sequential",
    "in GPT-2 the MLP reads the stream after the attention output has been added.",
)
def parallel_sublayers(x, params, n_head):
    return _block(x, params, n_head, parallel=True)


@GPT_BLOCK.mistake(
    "applied layer norm without its learned weight and bias", "LN(x) = normalised x · weight + bias, per layer norm."
)
def ln_without_affine(x, params, n_head):
    return _block(x, params, n_head, affine=False)


@GPT_BLOCK.mistake(
    "ran the attention sub-layer under torch.no_grad() (a frozen attention)",
    "right output, but the attention weights and ln_1 never learn: keep every sub-layer in the graph.",
)
def frozen_attention(x, params, n_head):
    return _block(x, params, n_head, frozen_attn=True)


# --------------------------------------------------------------------------------------------
# gpt_forward
# --------------------------------------------------------------------------------------------


def _forward_cases() -> list[Case]:
    g = seeded(16)
    return [
        Case(
            "ids [2, 6] into a 2-layer model (D=32, n_head=4, V=50, n_positions=16)",
            (torch.randint(0, 50, (2, 6), generator=g), gpt2_params(100), 4),
        ),
        Case(
            "ids [1, 16]: the full context of n_positions=16",
            (torch.randint(0, 50, (1, 16), generator=g), gpt2_params(101), 4),
        ),
        Case("a single token, ids [1, 1]", (torch.randint(0, 50, (1, 1), generator=g), gpt2_params(102), 4)),
        Case(
            "ids [3, 5] into a 1-layer model with n_head=2",
            (torch.randint(0, 40, (3, 5), generator=g), gpt2_params(103, n_layer=1, vocab=40), 2),
        ),
        Case(
            "ids [2, 9] into a 3-layer model with D=16 (hidden)",
            (torch.randint(0, 30, (2, 9), generator=g), gpt2_params(104, n_layer=3, d=16, vocab=30), 4),
            hidden=True,
        ),
    ]


def _forward_random(g: torch.Generator) -> Case:
    """ids [B, T] with T from 1 to n_positions = 16, 1 or 2 layers, D = n_head · d_head and V drawn."""
    (D, n_head), n_layer, vocab = _heads(g), draw_int(g, 1, 2), draw_int(g, 5, 40)
    B, T = draw_int(g, 1, 3), draw_choice(g, (1, 16, draw_int(g, 1, 16)))
    params = gpt2_params(draw_int(g, 0, 9999), n_layer=n_layer, d=D, vocab=vocab)
    ids = torch.randint(0, vocab, (B, T), generator=g)
    return Case(
        f"ids [{B}, {T}] into a {n_layer}-layer model (D={D}, n_head={n_head}, V={vocab})", (ids, params, n_head)
    )


GPT_FORWARD = Exercise(
    "gpt_forward",
    points=3,
    make_cases=_forward_cases,
    call=_traced_weights,
    parameter_grads=True,
    rtol=1e-4,
    atol=1e-4,
    grad_atol=1e-4,
    summary="GPT-2's forward pass, ids to logits",
    random_case=_forward_random,
    n_random=4,
)


def _gpt(input_ids, params, n_head, positions="from 0", scale_embeddings=False, chain=True, final_ln=True, out="logits"):  # fmt: skip
    """GPT-2's forward pass (blocks from ``_block``), with a switch per mistake."""
    p, wte, T = params, params["transformer.wte.weight"], input_ids.shape[1]
    x = wte[input_ids] * math.sqrt(wte.shape[1]) if scale_embeddings else wte[input_ids]
    if positions == "from 0":
        x = x + p["transformer.wpe.weight"][:T]
    elif positions == "from 1":
        x = x + p["transformer.wpe.weight"][torch.arange(1, T + 1)]
    e = x
    for i in range(1 + max(int(k.split(".")[2]) for k in p if k.startswith("transformer.h."))):
        x = _block(x if chain else e, {k.split(".", 3)[3]: v for k, v in p.items() if k.startswith(f"transformer.h.{i}.")}, n_head)  # fmt: skip
    if final_ln:
        x = F.layer_norm(x, (x.shape[-1],), p["transformer.ln_f.weight"], p["transformer.ln_f.bias"])
    logits = x @ (wte.data.T if out == "detached" else wte.T)
    return torch.softmax(logits, dim=-1) if out == "probabilities" else logits


@GPT_FORWARD.mistake("forgot the position embeddings", "add wpe[0..T-1] to the token embeddings.")
def no_positions(input_ids, params, n_head):
    return _gpt(input_ids, params, n_head, positions=None)


@GPT_FORWARD.mistake("position ids start at 1 instead of 0 (off by one)", "the first token has position 0: arange(T).")
def positions_from_one(input_ids, params, n_head):
    return _gpt(input_ids, params, n_head, positions="from 1")


@GPT_FORWARD.mistake("forgot the final layer norm ln_f", "apply transformer.ln_f before unembedding.")
def no_final_ln(input_ids, params, n_head):
    return _gpt(input_ids, params, n_head, final_ln=False)


@GPT_FORWARD.mistake(
    "scaled the token embeddings by sqrt(D) (the original Transformer does, GPT-2 does not)",
    "GPT-2's input is simply wte[ids] + wpe[positions].",
)
def scaled_embeddings(input_ids, params, n_head):
    return _gpt(input_ids, params, n_head, scale_embeddings=True)


@GPT_FORWARD.mistake(
    "applied every block to the embeddings instead of chaining them (only the last block counts)",
    "each block's input is the previous block's output: x = block(x, ...).",
)
def blocks_not_chained(input_ids, params, n_head):
    return _gpt(input_ids, params, n_head, chain=False)


@GPT_FORWARD.mistake("returned probabilities (softmax) instead of logits", "return the raw scores h @ wteᵀ.")
def returns_probabilities(input_ids, params, n_head):
    return _gpt(input_ids, params, n_head, out="probabilities")


@GPT_FORWARD.mistake(
    "unembedded with wte.data (the tied weight then learns only as an embedding)",
    "right logits, wrong gradient: use the tied tensor itself (wte.T), never .data or .detach().",
)
def detached_unembedding(input_ids, params, n_head):
    return _gpt(input_ids, params, n_head, out="detached")


# --------------------------------------------------------------------------------------------
# sampling_probs
# --------------------------------------------------------------------------------------------


def _sampling_cases() -> list[Case]:
    g = seeded(17)
    ties = torch.tensor([[3.0, 1.0, 3.0, 2.0, 2.0, 0.0], [0.5, 2.5, 1.0, 2.5, 1.0, 1.0]])
    return [
        Case("logits [2, 8], temperature 1, no top-k", (torch.randn(2, 8, generator=g) * 2,)),
        Case("logits [2, 8], temperature 0.5", (torch.randn(2, 8, generator=g) * 2,), {"temperature": 0.5}),
        Case(
            "logits [3, 10], temperature 2, top_k=3",
            (torch.randn(3, 10, generator=g) * 2,),
            {"temperature": 2.0, "top_k": 3},
        ),
        Case("logits with ties at the k-th value, top_k=3: tied tokens are kept", (ties,), {"top_k": 3}),
        Case("temperature 0 (greedy) on logits [3, 7]", (torch.randn(3, 7, generator=g) * 2,), {"temperature": 0.0}),
        Case("top_k=10 on a vocabulary of 6 (keeps everything)", (torch.randn(2, 6, generator=g),), {"top_k": 10}),
        Case(
            "logits [2, 3, 12], temperature 0.7, top_k=4 (hidden)",
            (torch.randn(2, 3, 12, generator=g) * 3,),
            {"temperature": 0.7, "top_k": 4},
            hidden=True,
        ),
        Case("top_k=1 on logits [4, 5] (hidden)", (torch.randn(4, 5, generator=g),), {"top_k": 1}, hidden=True),
    ]


def _sampling_random(g: torch.Generator) -> Case:
    """Any leading dimensions, integer-valued logits (ties at the k-th value), τ = 0 included, top_k beyond V."""
    shape = (*draw_leading(g), draw_int(g, 1, 10))
    logits = torch.randint(-3, 4, shape, generator=g).to(draw_choice(g, (torch.float32, torch.float64)))
    kw = {"temperature": draw_choice(g, (0.0, 0.5, 1.0, 2.0)), "top_k": draw_choice(g, (None, 0, 1, 3, 20))}
    return Case(f"logits {list(shape)} with ties, τ = {kw['temperature']}, top_k = {kw['top_k']}", (logits,), kw)


SAMPLING_PROBS = Exercise(
    "sampling_probs",
    points=2,
    make_cases=_sampling_cases,
    summary="temperature and top-k",
    random_case=_sampling_random,
)


def _probs(logits, temperature, top_k, times=False, greedy=True, drop="below k-th", after=False, log=False, guard=True):  # fmt: skip
    """Temperature and top-k probabilities with a switch per mistake (``drop``: which logits top-k removes)."""
    if greedy and temperature == 0:
        return F.one_hot(logits.argmax(-1), logits.shape[-1]).to(logits.dtype)
    z = logits * temperature if times else logits / temperature
    removed = None
    if top_k and (top_k < z.shape[-1] or not guard):
        removed = {
            "below k-th": lambda: z < z.topk(top_k, -1).values[..., -1:],
            "below (k+1)-th": lambda: z < z.sort(-1, descending=True).values[..., top_k : top_k + 1],
            "k-th too": lambda: z <= z.topk(top_k, -1).values[..., -1:],
            "largest": lambda: z > z.topk(top_k, -1, largest=False).values[..., -1:],
            "by index": lambda: ~torch.zeros_like(z, dtype=torch.bool).scatter(-1, z.topk(top_k, -1).indices, True),
        }[drop]()
    if after:  # filtered the probabilities instead of the logits
        p = torch.softmax(z, -1)
        return p if removed is None else p.masked_fill(removed, 0.0)
    z = z if removed is None else z.masked_fill(removed, float("-inf"))
    return torch.log_softmax(z, -1) if log else torch.softmax(z, -1)


@SAMPLING_PROBS.mistake("multiplied by the temperature instead of dividing", "softmax(logits / τ): small τ sharpens.")
def times_temperature(logits, temperature=1.0, top_k=None):
    return _probs(logits, temperature, top_k, times=True)


@SAMPLING_PROBS.mistake(
    "kept k + 1 tokens (off by one in the threshold index)", "the threshold is topk(k).values[..., -1]."
)
def keeps_k_plus_one(logits, temperature=1.0, top_k=None):
    return _probs(logits, temperature, top_k, drop="below (k+1)-th")


@SAMPLING_PROBS.mistake(
    "filtered with <= instead of < (the k-th token itself is dropped)", "remove only logits strictly below the k-th."
)
def drops_kth(logits, temperature=1.0, top_k=None):
    return _probs(logits, temperature, top_k, drop="k-th too")


@SAMPLING_PROBS.mistake("kept the k smallest logits", "top-k keeps the largest logits.")
def keeps_smallest(logits, temperature=1.0, top_k=None):
    return _probs(logits, temperature, top_k, drop="largest")


@SAMPLING_PROBS.mistake(
    "filtered after normalising (the kept probabilities no longer sum to 1)",
    "set removed logits to −inf, then softmax.",
)
def filters_after_softmax(logits, temperature=1.0, top_k=None):
    return _probs(logits, temperature, top_k, after=True)


@SAMPLING_PROBS.mistake("returned log-probabilities instead of probabilities", "return softmax(...), not log_softmax.")
def log_probs(logits, temperature=1.0, top_k=None):
    return _probs(logits, temperature, top_k, log=True)


@SAMPLING_PROBS.mistake(
    "divided by a temperature of 0 instead of decoding greedily", "τ = 0 means greedy: all the mass on the argmax."
)
def divides_by_zero(logits, temperature=1.0, top_k=None):
    return _probs(logits, temperature, top_k, greedy=False)


@SAMPLING_PROBS.mistake(
    "kept exactly k tokens by index (tokens tied with the k-th value were dropped)",
    "compare with the k-th largest value so that ties survive, as transformers' TopKLogitsWarper does.",
)
def drops_ties(logits, temperature=1.0, top_k=None):
    return _probs(logits, temperature, top_k, drop="by index")


@SAMPLING_PROBS.mistake("did not handle top_k larger than the vocabulary", "when top_k ≥ V there is nothing to filter.")
def top_k_too_large(logits, temperature=1.0, top_k=None):
    return _probs(logits, temperature, top_k, guard=False)


# --------------------------------------------------------------------------------------------
# sample_token
# --------------------------------------------------------------------------------------------


def _sample_token_cases() -> list[Case]:
    g = seeded(18)
    low_first = torch.randn(4, 6, generator=g)
    low_first[:, 0] = -5.0  # token 0 is filtered out by top-k
    return [
        Case(
            "logits [4, 6], temperature 1, u = [0.05, 0.3, 0.7, 0.95]",
            (torch.randn(4, 6, generator=g) * 2, torch.tensor([0.05, 0.3, 0.7, 0.95])),
        ),
        Case(
            "u = 0 exactly, top_k=2 and token 0 filtered out (probability 0 must never be drawn)",
            (low_first, torch.tensor([0.0, 0.0, 0.3, 0.6])),
            {"top_k": 2},
        ),
        Case(
            "temperature 0 (greedy) on logits [3, 8]",
            (torch.randn(3, 8, generator=g) * 2, torch.tensor([0.1, 0.5, 0.9])),
            {"temperature": 0.0},
        ),
        Case(
            "logits [5, 10], temperature 0.5, top_k=3",
            (torch.randn(5, 10, generator=g) * 2, torch.tensor([0.02, 0.21, 0.43, 0.67, 0.88])),
            {"temperature": 0.5, "top_k": 3},
        ),
        Case(
            "logits [6, 20] with random u, temperature 1.3 (hidden)",
            (torch.randn(6, 20, generator=g) * 2, torch.tensor([0.13, 0.31, 0.52, 0.74, 0.08, 0.97])),
            {"temperature": 1.3},
            hidden=True,
        ),
    ]


def _sample_token_random(g: torch.Generator) -> Case:
    """logits [B, V] (V = 1 included), u in [0, 1) with u = 0 included, τ = 0 included, top_k beyond V."""
    B, V = draw_int(g, 1, 5), draw_int(g, 1, 10)
    logits = torch.randn(B, V, generator=g) * 2
    u = torch.rand(B, generator=g)
    u[0] = draw_choice(g, (0.0, float(u[0])))
    kw = {"temperature": draw_choice(g, (0.0, 0.5, 1.0, 2.0)), "top_k": draw_choice(g, (None, 1, 3, 20))}
    return Case(f"logits [{B}, {V}], u = {[round(float(x), 3) for x in u]}, {kw}", (logits, u), kw)


SAMPLE_TOKEN = Exercise(
    "sample_token",
    points=2,
    make_cases=_sample_token_cases,
    summary="inverse-CDF sampling with given uniforms",
    random_case=_sample_token_random,
)


def _filtered_logits(logits, temperature, top_k):
    """logits / τ (τ floored at 1e-9) with everything below the k-th largest set to −inf."""
    z = logits / max(temperature, 1e-9)
    if top_k and top_k < z.shape[-1]:
        z = z.masked_fill(z < z.topk(top_k, -1).values[..., -1:], float("-inf"))
    return z


@SAMPLE_TOKEN.mistake(
    "compared cdf >= u, so a token with probability 0 can be drawn when u = 0",
    "return the smallest i with cdf[i] > u (strictly).",
)
def cdf_at_least_u(logits, u, temperature=1.0, top_k=None):
    return (torch.softmax(_filtered_logits(logits, temperature, top_k), -1).cumsum(-1) < u[:, None]).sum(-1)


@SAMPLE_TOKEN.mistake("returned the index one position too early", "the token is the first whose cdf exceeds u.")
def one_too_early(logits, u, temperature=1.0, top_k=None):
    return (torch.softmax(_filtered_logits(logits, temperature, top_k), -1).cumsum(-1) <= u[:, None]).sum(-1) - 1


@SAMPLE_TOKEN.mistake(
    "sampled from the plain softmax, ignoring temperature and top_k", "build the cdf from sampling_probs(...)."
)
def plain_softmax(logits, u, temperature=1.0, top_k=None):
    return (torch.softmax(logits, -1).cumsum(-1) <= u[:, None]).sum(-1)


@SAMPLE_TOKEN.mistake("took the argmax instead of sampling", "use u: inverse-CDF sampling, greedy only at τ = 0.")
def argmax(logits, u, temperature=1.0, top_k=None):
    return logits.argmax(-1)


@SAMPLE_TOKEN.mistake("forgot to normalise before the cumulative sum", "the cdf must end at 1: cumulate probabilities.")
def unnormalised_cdf(logits, u, temperature=1.0, top_k=None):
    z = _filtered_logits(logits, temperature, top_k)
    return (torch.exp(z).cumsum(-1) <= u[:, None]).sum(-1).clamp(max=z.shape[-1] - 1)


@SAMPLE_TOKEN.mistake("took the cumulative sum over the batch dimension", "cumulate over the vocabulary: cumsum(-1).")
def cumsum_over_batch(logits, u, temperature=1.0, top_k=None):
    z = _filtered_logits(logits, temperature, top_k)
    return (torch.softmax(z, -1).cumsum(0) <= u[:, None]).sum(-1).clamp(max=z.shape[-1] - 1)


# --------------------------------------------------------------------------------------------
# train_step (integration)
# --------------------------------------------------------------------------------------------

TRAIN_VOCAB = 48


class _Logits(torch.nn.Module):
    """A tiny GPT-2 whose forward returns the logits tensor itself, like the notebook's model."""

    def __init__(self, lm: torch.nn.Module) -> None:
        super().__init__()
        self.lm = lm

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        return self.lm(input_ids).logits


def _run_train_steps(fn, case: Case) -> dict[str, torch.Tensor]:
    """Build the tiny GPT-2 and an SGD optimizer, run the answer once per batch, return losses and weights.

    SGD with momentum (not Adam, whose first step is lr·sign(g)) keeps the updated weights a smooth
    function of the gradients, so rounding differences between correct answers stay tiny.
    """
    kw = case.kwargs
    device = kw["input_ids"].device
    model = _Logits(tiny_gpt2(TRAIN_VOCAB, lm_head=True, state=kw["state"])).to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=kw["lr"], momentum=0.9)
    with torch.enable_grad():
        losses = [
            float(fn(model, optimizer, ids, mask, kw["max_grad_norm"]))
            for ids, mask in zip(kw["input_ids"], kw["attention_mask"])
        ]
    return {"losses": torch.tensor(losses, dtype=torch.float64)} | {
        n.removeprefix("lm."): p.detach() for n, p in model.named_parameters()
    }


def _train_cases() -> list[Case]:
    g = seeded(19)

    def case(describe: str, seed: int, steps: int, lengths: list[int], max_grad_norm: float, hidden: bool = False):
        T = max(lengths)
        ids = torch.randint(2, TRAIN_VOCAB, (steps, len(lengths), T), generator=g)
        mask = (torch.arange(T) < torch.tensor(lengths)[:, None]).long().expand(steps, -1, -1).clone()
        ids = ids.masked_fill(mask == 0, 1)  # right padding with the pad id 1
        state = tiny_gpt2_state(seed, TRAIN_VOCAB, lm_head=True, scale=0.3, unit_weight_suffix="ln_1.weight")
        kwargs = {"state": state, "input_ids": ids, "attention_mask": mask, "lr": 0.1, "max_grad_norm": max_grad_norm}
        return Case(describe, kwargs=kwargs, hidden=hidden)

    return [
        case("2 steps on a right-padded batch of lengths [8, 5, 3], max_grad_norm=1", 0, 2, [8, 5, 3], 1.0),
        case("3 steps, batch of 2 without padding (length 10), max_grad_norm=0.5", 1, 3, [10, 10], 0.5),
        case("1 step, lengths [6, 2, 6, 4], max_grad_norm=100 (no clipping)", 2, 1, [6, 2, 6, 4], 100.0),
        case("2 steps, lengths [12, 7, 9], max_grad_norm=0.25 (hidden)", 3, 2, [12, 7, 9], 0.25, hidden=True),
    ]


def _train_random(g: torch.Generator) -> Case:
    """1 or 2 steps on 1 to 3 right-padded rows of 2 to 8 tokens (equal lengths included), max_grad_norm drawn."""
    steps, lengths = draw_int(g, 1, 2), [draw_int(g, 2, 8) for _ in range(draw_int(g, 1, 3))]
    T, max_grad_norm = max(lengths), draw_choice(g, (0.25, 1.0, 100.0))
    ids = torch.randint(2, TRAIN_VOCAB, (steps, len(lengths), T), generator=g)
    mask = (torch.arange(T) < torch.tensor(lengths)[:, None]).long().expand(steps, -1, -1).clone()
    state = tiny_gpt2_state(
        draw_int(g, 0, 9999), TRAIN_VOCAB, lm_head=True, scale=0.3, unit_weight_suffix="ln_1.weight"
    )
    kwargs = {"state": state, "input_ids": ids.masked_fill(mask == 0, 1), "attention_mask": mask, "lr": 0.1}
    return Case(f"{steps} step(s), lengths {lengths}, max_grad_norm={max_grad_norm}", kwargs={**kwargs, "max_grad_norm": max_grad_norm})  # fmt: skip


TRAIN_STEP = Exercise(
    "train_step",
    points=3,
    make_cases=_train_cases,
    call=_run_train_steps,
    random_case=_train_random,
    n_random=4,
    summary="integration: one training step of next-token prediction (loss, backward, clipping, update)",
)


def _lm_step(model, optimizer, input_ids, attention_mask, max_grad_norm, order="zbcs", shift=True, pad_counted=False, per_sequence=False, in_place=False, frozen=False):  # fmt: skip
    """One next-token training step with a switch per mistake: ``order`` spells the calls after the
    forward pass (z: zero_grad, b: backward, c: clip, s: step)."""
    with torch.set_grad_enabled(not frozen):
        logits = model(input_ids)
    s = 1 if shift else 0
    logits, ids, mask = logits[:, : logits.shape[1] - s], input_ids[:, s:], attention_mask[:, s:]
    if per_sequence:  # each sequence's mean, then the mean over sequences
        keep = mask.float()
        loss = ((F.cross_entropy(logits.transpose(1, 2), ids, reduction="none") * keep).sum(1) / keep.sum(1)).mean()
    else:
        if in_place:
            input_ids[attention_mask == 0] = -100
        targets = ids if pad_counted or in_place else ids.masked_fill(mask == 0, -100)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=-100)
    for call in order:
        {
            "z": optimizer.zero_grad,
            "b": loss.backward,
            "c": lambda: torch.nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm),
            "s": optimizer.step,
        }[call]()
    return loss.item()


@TRAIN_STEP.mistake(
    "never zeroed the gradients (they accumulate from step to step)", "call optimizer.zero_grad() every step."
)
def no_zero_grad(model, optimizer, input_ids, attention_mask, max_grad_norm=1.0):
    return _lm_step(model, optimizer, input_ids, attention_mask, max_grad_norm, order="bcs")


@TRAIN_STEP.mistake(
    "did not shift the targets (position t scored on its own token)", "logits at t predict the token at t + 1."
)
def no_shift(model, optimizer, input_ids, attention_mask, max_grad_norm=1.0):
    return _lm_step(model, optimizer, input_ids, attention_mask, max_grad_norm, shift=False)


@TRAIN_STEP.mistake("counted the padding in the loss", "targets at padded positions must be ignored (-100).")
def trains_on_padding(model, optimizer, input_ids, attention_mask, max_grad_norm=1.0):
    return _lm_step(model, optimizer, input_ids, attention_mask, max_grad_norm, pad_counted=True)


@TRAIN_STEP.mistake(
    "clipped the gradients after optimizer.step() (too late to matter)", "clip between backward() and step()."
)
def clips_after_step(model, optimizer, input_ids, attention_mask, max_grad_norm=1.0):
    return _lm_step(model, optimizer, input_ids, attention_mask, max_grad_norm, order="zbsc")


@TRAIN_STEP.mistake(
    "averaged each sequence's loss, then the sequences (short sequences weigh more)",
    "average over all real target tokens of the batch at once.",
)
def mean_of_means(model, optimizer, input_ids, attention_mask, max_grad_norm=1.0):
    return _lm_step(model, optimizer, input_ids, attention_mask, max_grad_norm, per_sequence=True)


@TRAIN_STEP.mistake(
    "zeroed the gradients between backward() and step() (nothing is learned)",
    "zero_grad() goes before the forward pass (or before backward), never right before step().",
)
def zero_grad_before_step(model, optimizer, input_ids, attention_mask, max_grad_norm=1.0):
    return _lm_step(model, optimizer, input_ids, attention_mask, max_grad_norm, order="bczs")


@TRAIN_STEP.mistake(
    "wrote -100 into input_ids in place to build the targets (the caller's batch is changed)",
    "build the targets on a copy: input_ids[:, 1:].masked_fill(...), not input_ids[mask == 0] = -100.",
)
def targets_in_place(model, optimizer, input_ids, attention_mask, max_grad_norm=1.0):
    return _lm_step(model, optimizer, input_ids, attention_mask, max_grad_norm, in_place=True)


@TRAIN_STEP.mistake(
    "ran the forward pass under torch.no_grad() (backward() then has nothing to differentiate)",
    "only evaluation runs under no_grad; the training forward pass must build the graph.",
)
def forward_without_grad(model, optimizer, input_ids, attention_mask, max_grad_norm=1.0):
    return _lm_step(model, optimizer, input_ids, attention_mask, max_grad_norm, frozen=True)


EXERCISES = [
    MERGE_PAIR,
    PAD_BATCH,
    LAYER_NORM,
    GELU_NEW,
    ATTENTION_PATTERN,
    CAUSAL_SELF_ATTENTION,
    GPT_BLOCK,
    GPT_FORWARD,
    SAMPLING_PROBS,
    SAMPLE_TOKEN,
    TRAIN_STEP,
]
