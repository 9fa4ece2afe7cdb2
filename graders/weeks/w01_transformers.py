"""Week 1 exercises: tokens, the pieces of GPT-2, the forward pass and sampling.

The reference implementations live in ``solutions/w01_transformers/w01_transformers.py``.

The model-shaped exercises take GPT-2's weights as plain dicts under the names that a
``transformers`` GPT-2 uses in its ``state_dict()``. The cases build such dicts with pure torch
(:func:`gpt2_params`), drawn with larger scales than GPT-2's initialisation so that attention is
sharp and every catalogued mistake moves the outputs far above the tolerance. The week's tests
load the same dicts into ``transformers.GPT2LMHeadModel`` and check that the reference reproduces
its logits, so passing these cases means matching the library.
"""

from __future__ import annotations

import torch

from graders.core import Case, Exercise, Mistake, seeded

WEEK = "w01_transformers"


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


_HEAD = "import math\nimport torch\nimport torch.nn.functional as F\n\n"

# Correct helpers that mistake sources build on (private names, so that several mistakes can sit
# in one file). They are written independently of the reference, with library pieces.
_HELPERS = """
def _w01_ln(x, w, b, eps=1e-5):
    return F.layer_norm(x, (x.shape[-1],), w, b, eps)


def _w01_gelu(x):
    return F.gelu(x, approximate="tanh")


def _w01_attn(x, p, n_head):
    B, T, D = x.shape
    q, k, v = (x @ p["c_attn.weight"] + p["c_attn.bias"]).split(D, dim=-1)
    q, k, v = (t.reshape(B, T, n_head, D // n_head).transpose(1, 2) for t in (q, k, v))
    z = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    return z.transpose(1, 2).reshape(B, T, D) @ p["c_proj.weight"] + p["c_proj.bias"]


def _w01_sub(params, prefix):
    return {k[len(prefix):]: v for k, v in params.items() if k.startswith(prefix)}


def _w01_block(x, p, n_head):
    x = x + _w01_attn(_w01_ln(x, p["ln_1.weight"], p["ln_1.bias"]), _w01_sub(p, "attn."), n_head)
    h = _w01_gelu(_w01_ln(x, p["ln_2.weight"], p["ln_2.bias"]) @ p["mlp.c_fc.weight"] + p["mlp.c_fc.bias"])
    return x + h @ p["mlp.c_proj.weight"] + p["mlp.c_proj.bias"]


def _w01_n_layer(params):
    return 1 + max(int(k.split(".")[2]) for k in params if k.startswith("transformer.h."))
"""


def _src(body: str) -> str:
    return _HEAD + _HELPERS + "\n\n" + body


# --------------------------------------------------------------------------------------------
# merge_pair
# --------------------------------------------------------------------------------------------


def _merge_pair_cases() -> list[Case]:
    g = seeded(10)
    long = torch.randint(0, 4, (40,), generator=g).tolist()
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


_MP = "def merge_pair(ids, pair, new_id):\n"
MERGE_PAIR_MISTAKES = [
    Mistake(
        "merged only the first occurrence",
        "keep scanning after a merge: every non-overlapping occurrence is replaced.",
        _HEAD + _MP + "    for i in range(len(ids) - 1):\n"
        "        if ids[i] == pair[0] and ids[i + 1] == pair[1]:\n"
        "            return list(ids[:i]) + [new_id] + list(ids[i + 2:])\n"
        "    return list(ids)\n",
    ),
    Mistake(
        "advanced one position after a merge, so the pair's second id survives",
        "after writing new_id, skip both ids of the pair (i += 2).",
        _HEAD + _MP + "    out, i = [], 0\n"
        "    while i < len(ids):\n"
        "        if i + 1 < len(ids) and ids[i] == pair[0] and ids[i + 1] == pair[1]:\n"
        "            out.append(new_id)\n"
        "        else:\n"
        "            out.append(ids[i])\n"
        "        i += 1\n"
        "    return out\n",
    ),
    Mistake(
        "dropped the last id (the loop stops one early and the tail is never copied)",
        "when the scan ends on an id that is not part of a merge, it must still be copied.",
        _HEAD + _MP + "    out, i = [], 0\n"
        "    while i < len(ids) - 1:\n"
        "        if ids[i] == pair[0] and ids[i + 1] == pair[1]:\n"
        "            out.append(new_id)\n"
        "            i += 2\n"
        "        else:\n"
        "            out.append(ids[i])\n"
        "            i += 1\n"
        "    return out\n",
    ),
    Mistake(
        "matched the pair in either order",
        "a merge is ordered: (a, b) is not (b, a).",
        _HEAD + _MP + "    out, i = [], 0\n"
        "    while i < len(ids):\n"
        "        if i + 1 < len(ids) and (ids[i], ids[i + 1]) in (tuple(pair), tuple(pair)[::-1]):\n"
        "            out.append(new_id)\n"
        "            i += 2\n"
        "        else:\n"
        "            out.append(ids[i])\n"
        "            i += 1\n"
        "    return out\n",
    ),
    Mistake(
        "scanned right to left",
        "occurrences are taken left to right: with pair (a, a), [a, a, a] becomes [new, a].",
        _HEAD + _MP + "    out, i = [], len(ids) - 1\n"
        "    while i >= 0:\n"
        "        if i >= 1 and ids[i - 1] == pair[0] and ids[i] == pair[1]:\n"
        "            out.append(new_id)\n"
        "            i -= 2\n"
        "        else:\n"
        "            out.append(ids[i])\n"
        "            i -= 1\n"
        "    return out[::-1]\n",
    ),
    Mistake(
        "replaced the pair in the ids joined as a string (it matches inside multi-digit ids)",
        "'11 2' contains '1 2': compare ids as integers, position by position.",
        _HEAD + _MP + "    text = ' '.join(str(i) for i in ids)\n"
        "    text = text.replace(f'{pair[0]} {pair[1]}', str(new_id))\n"
        "    return [int(t) for t in text.split()]\n",
    ),
]


# --------------------------------------------------------------------------------------------
# pad_batch
# --------------------------------------------------------------------------------------------


def _pad_batch_cases() -> list[Case]:
    return [
        Case("three sequences of lengths 3, 1, 4 padded right with pad_id=1", ([[5, 6, 7], [8], [9, 10, 11, 12]], 1)),
        Case(
            "three sequences of lengths 2, 4, 3 padded left with pad_id=1",
            ([[5, 6], [7, 8, 9, 10], [11, 12, 13]], 1),
            {"padding_side": "left"},
        ),
        Case(
            "sequences that end with token 0 while pad_id=0 (like GPT-2, where pad = end-of-text), right",
            ([[4, 3, 0], [2, 0], [7, 0, 6, 0]], 0),
        ),
        Case("two sequences of equal length 3 (nothing to pad), pad_id=2", ([[3, 4, 5], [6, 7, 8]], 2)),
        Case("a single sequence [9, 8] with pad_id=1, left", ([[9, 8]], 1), {"padding_side": "left"}),
        Case(
            "left padding where real tokens equal pad_id=0 (hidden)",
            ([[0, 5], [6, 0, 7, 0], [0]], 0),
            {"padding_side": "left"},
            hidden=True,
        ),
        Case(
            "four sequences padded right with pad_id=3 (hidden)",
            ([[1], [1, 2, 4, 5, 6], [7, 8], [9, 10, 11]], 3),
            {"padding_side": "right"},
            hidden=True,
        ),
    ]


_PB = "def pad_batch(sequences, pad_id, padding_side='right'):\n"
_PB_LOOP = (
    "    T = max(len(s) for s in sequences)\n"
    "    ids = torch.full((len(sequences), T), pad_id, dtype=torch.long)\n"
    "    mask = torch.zeros((len(sequences), T), dtype=torch.long)\n"
    "    for r, s in enumerate(sequences):\n"
    "        a = 0 if padding_side == 'right' else T - len(s)\n"
    "        ids[r, a:a + len(s)] = torch.tensor(s)\n"
    "        mask[r, a:a + len(s)] = 1\n"
)
PAD_BATCH_MISTAKES = [
    Mistake(
        "always padded on the right (ignored padding_side)",
        'with padding_side="left" the padding goes before the tokens.',
        _HEAD + _PB + _PB_LOOP.replace("0 if padding_side == 'right' else T - len(s)", "0") + "    return ids, mask\n",
    ),
    Mistake(
        "inverted the attention mask (1 on padding, 0 on tokens)",
        "the mask is 1 where there is a real token.",
        _HEAD + _PB + _PB_LOOP + "    return ids, 1 - mask\n",
    ),
    Mistake(
        "computed the mask as input_ids != pad_id (wrong when a real token equals the pad id)",
        "GPT-2 pads with its end-of-text token, which also ends real text: build the mask from the lengths.",
        _HEAD + _PB + _PB_LOOP + "    return ids, (ids != pad_id).long()\n",
    ),
    Mistake(
        "padded with 0 instead of pad_id",
        "fill the padding with the pad_id argument.",
        _HEAD + _PB + _PB_LOOP.replace("pad_id, dtype", "0, dtype") + "    return ids, mask\n",
    ),
    Mistake(
        "padded to one more than the longest length",
        "T is the longest sequence's length: max(len(s) for s in sequences).",
        _HEAD
        + _PB
        + _PB_LOOP.replace("max(len(s) for s in sequences)", "max(len(s) for s in sequences) + 1")
        + "    return ids, mask\n",
    ),
    Mistake(
        "left padding by flipping the right-padded rows (reverses the tokens)",
        "left padding moves the tokens to the end of the row in their original order.",
        _HEAD
        + _PB
        + _PB_LOOP.replace("0 if padding_side == 'right' else T - len(s)", "0")
        + "    if padding_side == 'left':\n"
        "        return ids.flip(1), mask.flip(1)\n"
        "    return ids, mask\n",
    ),
]


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


_LN = "def layer_norm(x, weight, bias, eps=1e-5):\n"
LAYER_NORM_MISTAKES = [
    Mistake(
        "used the unbiased variance (divided by D − 1)",
        "layer norm uses the biased variance: the mean of the squared deviations (x.var(-1, unbiased=False)).",
        _HEAD + _LN + "    mu = x.mean(-1, keepdim=True)\n"
        "    return (x - mu) / torch.sqrt(x.var(-1, keepdim=True) + eps) * weight + bias\n",
    ),
    Mistake(
        "put eps outside the square root",
        "eps goes inside: (x − μ) / sqrt(σ² + ε).",
        _HEAD + _LN + "    mu = x.mean(-1, keepdim=True)\n"
        "    sd = ((x - mu) ** 2).mean(-1, keepdim=True).sqrt()\n"
        "    return (x - mu) / (sd + eps) * weight + bias\n",
    ),
    Mistake(
        "normalised over the first dimension (like batch norm) instead of the features",
        "each position is normalised over its own D features: reduce over dim=-1.",
        _HEAD + _LN + "    mu = x.mean(0, keepdim=True)\n"
        "    var = ((x - mu) ** 2).mean(0, keepdim=True)\n"
        "    return (x - mu) / torch.sqrt(var + eps) * weight + bias\n",
    ),
    Mistake(
        "forgot the learned scale and shift",
        "multiply by weight and add bias after normalising.",
        _HEAD + _LN + "    mu = x.mean(-1, keepdim=True)\n"
        "    var = ((x - mu) ** 2).mean(-1, keepdim=True)\n"
        "    return (x - mu) / torch.sqrt(var + eps)\n",
    ),
    Mistake(
        "divided by the variance instead of the standard deviation",
        "divide by sqrt(σ² + ε).",
        _HEAD + _LN + "    mu = x.mean(-1, keepdim=True)\n"
        "    var = ((x - mu) ** 2).mean(-1, keepdim=True)\n"
        "    return (x - mu) / (var + eps) * weight + bias\n",
    ),
    Mistake(
        "did not subtract the mean",
        "centre first: x − μ.",
        _HEAD + _LN + "    mu = x.mean(-1, keepdim=True)\n"
        "    var = ((x - mu) ** 2).mean(-1, keepdim=True)\n"
        "    return x / torch.sqrt(var + eps) * weight + bias\n",
    ),
    Mistake(
        "ignored the eps argument (hard-coded 1e-5)",
        "use the eps that is passed in.",
        _HEAD + _LN + "    mu = x.mean(-1, keepdim=True)\n"
        "    var = ((x - mu) ** 2).mean(-1, keepdim=True)\n"
        "    return (x - mu) / torch.sqrt(var + 1e-5) * weight + bias\n",
    ),
]


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


_GE = "def gelu_new(x):\n"
_C = "math.sqrt(2.0 / math.pi)"
GELU_MISTAKES = [
    Mistake(
        "used the exact (erf) GELU instead of GPT-2's tanh approximation",
        "GPT-2 was trained with 0.5·x·(1 + tanh(√(2/π)(x + 0.044715x³))); the exact GELU differs by up to ~5e-4.",
        _HEAD + _GE + "    return 0.5 * x * (1 + torch.erf(x / math.sqrt(2.0)))\n",
    ),
    Mistake(
        "used the sigmoid approximation x·σ(1.702x)",
        "that is a third variant (the 'quick GELU'); GPT-2 uses the tanh formula.",
        _HEAD + _GE + "    return x * torch.sigmoid(1.702 * x)\n",
    ),
    Mistake(
        "forgot the factor 1/2",
        "0.5 · x · (1 + tanh(...)).",
        _HEAD + _GE + f"    return x * (1 + torch.tanh({_C} * (x + 0.044715 * x ** 3)))\n",
    ),
    Mistake(
        "used √2/π instead of √(2/π)",
        "the constant is math.sqrt(2 / math.pi) ≈ 0.798.",
        _HEAD + _GE + "    return 0.5 * x * (1 + torch.tanh(math.sqrt(2.0) / math.pi * (x + 0.044715 * x ** 3)))\n",
    ),
    Mistake(
        "forgot the cubic term",
        "the argument of tanh is √(2/π)·(x + 0.044715·x³).",
        _HEAD + _GE + f"    return 0.5 * x * (1 + torch.tanh({_C} * x))\n",
    ),
    Mistake(
        "used ReLU",
        "GELU is smooth and slightly negative for x < 0; write the tanh formula.",
        _HEAD + _GE + "    return torch.clamp(x, min=0)\n",
    ),
    Mistake(
        "returned the gate 0.5·(1 + tanh(...)) without multiplying by x",
        "GELU(x) = x · Φ(x): multiply the gate by x.",
        _HEAD + _GE + f"    return 0.5 * (1 + torch.tanh({_C} * (x + 0.044715 * x ** 3)))\n",
    ),
]


# --------------------------------------------------------------------------------------------
# attention_pattern
# --------------------------------------------------------------------------------------------


def _pattern_cases() -> list[Case]:
    g = seeded(13)

    def qk(*shape: int, std: float = 1.5, dtype: torch.dtype = torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
        return (
            torch.randn(*shape, generator=g, dtype=dtype) * std,
            torch.randn(*shape, generator=g, dtype=dtype) * std,
        )

    return [
        Case("q, k of shape [2, 3, 5, 8] (B=2, H=3, T=5, d_head=8)", qk(2, 3, 5, 8)),
        Case("a single position: q, k [1, 1, 1, 4]", qk(1, 1, 1, 4)),
        Case("q, k [1, 2, 4, 16] in float64", qk(1, 2, 4, 16, dtype=torch.float64)),
        Case("q, k [2, 1, 6, 2] (d_head=2)", qk(2, 1, 6, 2, std=2.0)),
        Case("q, k [1, 4, 7, 8] (hidden)", qk(1, 4, 7, 8), hidden=True),
    ]


_AP = "def attention_pattern(q, k):\n    T, d = q.shape[-2], q.shape[-1]\n"
_FUT = "    future = torch.ones(T, T, dtype=torch.bool, device=q.device).triu(1)\n"
ATTENTION_PATTERN_MISTAKES = [
    Mistake(
        "forgot the causal mask",
        "position t may only attend to positions s ≤ t: set the scores above the diagonal to −inf.",
        _HEAD + _AP + "    return torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(d), dim=-1)\n",
    ),
    Mistake(
        "applied the mask after the softmax (rows no longer sum to 1)",
        "add −inf to the scores before the softmax, so the remaining weights renormalise.",
        _HEAD + _AP + _FUT + "    a = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(d), dim=-1)\n"
        "    return a.masked_fill(future, 0.0)\n",
    ),
    Mistake(
        "did not scale the scores by 1/sqrt(d_head)",
        "divide q·k by sqrt(d_head) before the softmax.",
        _HEAD + _AP + _FUT + "    s = (q @ k.transpose(-1, -2)).masked_fill(future, float('-inf'))\n"
        "    return torch.softmax(s, dim=-1)\n",
    ),
    Mistake(
        "scaled by 1/d_head instead of 1/sqrt(d_head)",
        "the scale is the square root of the head dimension.",
        _HEAD + _AP + _FUT + "    s = (q @ k.transpose(-1, -2) / d).masked_fill(future, float('-inf'))\n"
        "    return torch.softmax(s, dim=-1)\n",
    ),
    Mistake(
        "took the softmax over the queries (dim=-2) instead of the keys",
        "each query's weights over the keys sum to 1: softmax over the last dimension.",
        _HEAD + _AP + _FUT + "    s = (q @ k.transpose(-1, -2) / math.sqrt(d)).masked_fill(future, float('-inf'))\n"
        "    return torch.softmax(s, dim=-2)\n",
    ),
    Mistake(
        "masked the diagonal too (a position cannot attend to itself)",
        "use triu(diagonal=1): position t sees s ≤ t, itself included (otherwise row 0 is all −inf and NaN).",
        _HEAD + _AP + "    future = torch.ones(T, T, dtype=torch.bool, device=q.device).triu(0)\n"
        "    s = (q @ k.transpose(-1, -2) / math.sqrt(d)).masked_fill(future, float('-inf'))\n"
        "    return torch.softmax(s, dim=-1)\n",
    ),
    Mistake(
        "masked the past instead of the future (the mask is transposed)",
        "the entries to hide are those with key index s > query index t: above the diagonal (triu).",
        _HEAD + _AP + "    past = torch.ones(T, T, dtype=torch.bool, device=q.device).tril(-1)\n"
        "    s = (q @ k.transpose(-1, -2) / math.sqrt(d)).masked_fill(past, float('-inf'))\n"
        "    return torch.softmax(s, dim=-1)\n",
    ),
    Mistake(
        "computed k·qᵀ instead of q·kᵀ",
        "rows are queries and columns are keys: scores = q @ k.transpose(-1, -2).",
        _HEAD + _AP + _FUT + "    s = (k @ q.transpose(-1, -2) / math.sqrt(d)).masked_fill(future, float('-inf'))\n"
        "    return torch.softmax(s, dim=-1)\n",
    ),
]


# --------------------------------------------------------------------------------------------
# causal_self_attention
# --------------------------------------------------------------------------------------------


def _attn_params(g: torch.Generator, d: int) -> dict[str, torch.Tensor]:
    return {k[len("attn.") :]: v for k, v in block_params(g, d).items() if k.startswith("attn.")}


def _attention_cases() -> list[Case]:
    g = seeded(14)
    return [
        Case("x [2, 5, 32] with n_head=4 (d_head=8)", (torch.randn(2, 5, 32, generator=g), _attn_params(g, 32), 4)),
        Case("a single position x [1, 1, 32], n_head=4", (torch.randn(1, 1, 32, generator=g), _attn_params(g, 32), 4)),
        Case("x [1, 6, 16] with one head (n_head=1)", (torch.randn(1, 6, 16, generator=g), _attn_params(g, 16), 1)),
        Case("x [2, 4, 32] with n_head=8 (d_head=4)", (torch.randn(2, 4, 32, generator=g), _attn_params(g, 32), 8)),
        Case(
            "x [3, 7, 24] with n_head=2 (hidden)",
            (torch.randn(3, 7, 24, generator=g), _attn_params(g, 24), 2),
            hidden=True,
        ),
    ]


_CSA = (
    "def causal_self_attention(x, params, n_head):\n"
    "    B, T, D = x.shape\n"
    "    dh = D // n_head\n"
    "    q, k, v = (x @ params['c_attn.weight'] + params['c_attn.bias']).split(D, dim=-1)\n"
)
_CSA_MASK = "    future = torch.ones(T, T, dtype=torch.bool, device=x.device).triu(1)\n"
_CSA_OK_HEADS = "    q, k, v = (t.reshape(B, T, n_head, dh).transpose(1, 2) for t in (q, k, v))\n"
_CSA_OK_PATTERN = (
    "    a = torch.softmax((q @ k.transpose(-1, -2) / math.sqrt(dh)).masked_fill(future, float('-inf')), dim=-1)\n"
)
_CSA_OK_MERGE = "    z = (a @ v).transpose(1, 2).reshape(B, T, D)\n"
_CSA_OK_OUT = "    return z @ params['c_proj.weight'] + params['c_proj.bias']\n"
CAUSAL_SELF_ATTENTION_MISTAKES = [
    Mistake(
        "split the heads with reshape(B, n_head, T, d_head), which mixes positions and heads",
        "cut the last dimension into heads: reshape(B, T, n_head, d_head), then transpose(1, 2).",
        _HEAD
        + _CSA
        + _CSA_MASK
        + "    q, k, v = (t.reshape(B, n_head, T, dh) for t in (q, k, v))\n"
        + _CSA_OK_PATTERN
        + _CSA_OK_MERGE
        + _CSA_OK_OUT,
    ),
    Mistake(
        "merged the heads without transposing back",
        "[B, H, T, d_head] must become [B, T, H, d_head] (transpose(1, 2)) before reshaping to [B, T, D].",
        _HEAD + _CSA + _CSA_MASK + _CSA_OK_HEADS + _CSA_OK_PATTERN + "    z = (a @ v).reshape(B, T, D)\n" + _CSA_OK_OUT,
    ),
    Mistake(
        "scaled by sqrt(d_model) instead of sqrt(d_head)",
        "each head's dot product has d_head terms: divide by sqrt(D / n_head).",
        _HEAD
        + _CSA
        + _CSA_MASK
        + _CSA_OK_HEADS
        + _CSA_OK_PATTERN.replace("math.sqrt(dh)", "math.sqrt(D)")
        + _CSA_OK_MERGE
        + _CSA_OK_OUT,
    ),
    Mistake(
        "forgot the causal mask",
        "mask the scores above the diagonal with −inf before the softmax.",
        _HEAD
        + _CSA
        + _CSA_OK_HEADS
        + "    a = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(dh), dim=-1)\n"
        + _CSA_OK_MERGE
        + _CSA_OK_OUT,
    ),
    Mistake(
        "forgot the output projection c_proj",
        "after merging the heads, apply x @ c_proj.weight + c_proj.bias.",
        _HEAD + _CSA + _CSA_MASK + _CSA_OK_HEADS + _CSA_OK_PATTERN + _CSA_OK_MERGE + "    return z\n",
    ),
    Mistake(
        "transposed c_proj.weight (GPT-2's Conv1D stores [in, out], unlike nn.Linear's [out, in])",
        "GPT-2's layers compute x @ W + b with W of shape [in, out]; do not transpose.",
        _HEAD
        + _CSA
        + _CSA_MASK
        + _CSA_OK_HEADS
        + _CSA_OK_PATTERN
        + _CSA_OK_MERGE
        + "    return z @ params['c_proj.weight'].T + params['c_proj.bias']\n",
    ),
    Mistake(
        "unpacked c_attn per head (interleaved [q_h k_h v_h] layout) instead of [q | k | v]",
        "GPT-2 packs all queries, then all keys, then all values: split the 3D outputs into three blocks of D.",
        _HEAD + "def causal_self_attention(x, params, n_head):\n"
        "    B, T, D = x.shape\n"
        "    dh = D // n_head\n"
        "    qkv = (x @ params['c_attn.weight'] + params['c_attn.bias']).reshape(B, T, n_head, 3 * dh)\n"
        "    q, k, v = (t.transpose(1, 2) for t in qkv.split(dh, dim=-1))\n"
        + _CSA_MASK
        + _CSA_OK_PATTERN
        + _CSA_OK_MERGE
        + _CSA_OK_OUT,
    ),
    Mistake(
        "left out the biases",
        "both c_attn and c_proj have a bias: x @ W + b.",
        _HEAD
        + _CSA.replace(" + params['c_attn.bias']", "")
        + _CSA_MASK
        + _CSA_OK_HEADS
        + _CSA_OK_PATTERN
        + _CSA_OK_MERGE
        + "    return z @ params['c_proj.weight']\n",
    ),
]


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


_BL = "def gpt_block(x, params, n_head):\n    p = params\n"
_BL_ATTN = "_w01_attn(_w01_ln(x, p['ln_1.weight'], p['ln_1.bias']), _w01_sub(p, 'attn.'), n_head)"
_BL_FC = "(_w01_ln({h}, p['ln_2.weight'], p['ln_2.bias']) @ p['mlp.c_fc.weight'] + p['mlp.c_fc.bias'])"
_BL_MLP = "{act}" + _BL_FC + " @ p['mlp.c_proj.weight'] + p['mlp.c_proj.bias']"
GPT_BLOCK_MISTAKES = [
    Mistake(
        "forgot the residual connection around attention",
        "h = x + attn(ln_1(x)): the attention output is added to the stream, not substituted for it.",
        _src(_BL + f"    h = {_BL_ATTN}\n" + "    return h + " + _BL_MLP.format(act="_w01_gelu", h="h") + "\n"),
    ),
    Mistake(
        "forgot the residual connection around the MLP",
        "y = h + mlp(ln_2(h)).",
        _src(_BL + f"    h = x + {_BL_ATTN}\n" + "    return " + _BL_MLP.format(act="_w01_gelu", h="h") + "\n"),
    ),
    Mistake(
        "post-LN: normalised after each residual addition (the original Transformer) instead of before",
        "GPT-2 is pre-LN: x + sublayer(LN(x)); the residual stream itself is never normalised.",
        _src(
            _BL + "    h = _w01_ln(x + _w01_attn(x, _w01_sub(p, 'attn.'), n_head), p['ln_1.weight'], p['ln_1.bias'])\n"
            "    m = _w01_gelu(h @ p['mlp.c_fc.weight'] + p['mlp.c_fc.bias']) @ p['mlp.c_proj.weight'] + p['mlp.c_proj.bias']\n"
            "    return _w01_ln(h + m, p['ln_2.weight'], p['ln_2.bias'])\n"
        ),
    ),
    Mistake(
        "used the exact (erf) GELU instead of GPT-2's tanh approximation",
        "GPT-2 was trained with gelu_new (the tanh formula); the exact GELU gives slightly different outputs.",
        _src(_BL + f"    h = x + {_BL_ATTN}\n" + "    return h + " + _BL_MLP.format(act="F.gelu", h="h") + "\n"),
    ),
    Mistake(
        "used ReLU in the MLP",
        "GPT-2's MLP nonlinearity is the tanh GELU.",
        _src(_BL + f"    h = x + {_BL_ATTN}\n" + "    return h + " + _BL_MLP.format(act="torch.relu", h="h") + "\n"),
    ),
    Mistake(
        "used ln_1's weights for both layer norms",
        "the MLP has its own layer norm: ln_2.weight and ln_2.bias.",
        _src(
            _BL
            + f"    h = x + {_BL_ATTN}\n"
            + "    return h + "
            + _BL_MLP.format(act="_w01_gelu", h="h").replace("ln_2", "ln_1")
            + "\n"
        ),
    ),
    Mistake(
        "parallel attention and MLP (both read x, as in GPT-J) instead of sequential",
        "in GPT-2 the MLP reads the stream after the attention output has been added.",
        _src(_BL + f"    return x + {_BL_ATTN} + " + _BL_MLP.format(act="_w01_gelu", h="x") + "\n"),
    ),
    Mistake(
        "applied layer norm without its learned weight and bias",
        "LN(x) = normalised x · weight + bias, with each layer norm's own parameters.",
        _src(
            _BL + "    ln = lambda t, w, b: F.layer_norm(t, (t.shape[-1],), eps=1e-5)\n"
            "    h = x + _w01_attn(ln(x, 0, 0), _w01_sub(p, 'attn.'), n_head)\n"
            "    m = _w01_gelu(ln(h, 0, 0) @ p['mlp.c_fc.weight'] + p['mlp.c_fc.bias'])\n"
            "    return h + m @ p['mlp.c_proj.weight'] + p['mlp.c_proj.bias']\n"
        ),
    ),
]


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


_FW = (
    "def gpt_forward(input_ids, params, n_head):\n"
    "    p = params\n"
    "    T = input_ids.shape[1]\n"
    "    wte, wpe = p['transformer.wte.weight'], p['transformer.wpe.weight']\n"
)
_FW_EMB = "    x = wte[input_ids] + wpe[torch.arange(T, device=input_ids.device)]\n"
_FW_LOOP = (
    "    for i in range(_w01_n_layer(p)):\n        x = _w01_block(x, _w01_sub(p, f'transformer.h.{i}.'), n_head)\n"
)
_FW_LNF = "    x = _w01_ln(x, p['transformer.ln_f.weight'], p['transformer.ln_f.bias'])\n"
_FW_OUT = "    return x @ wte.T\n"
GPT_FORWARD_MISTAKES = [
    Mistake(
        "forgot the position embeddings",
        "add wpe[0..T-1] to the token embeddings: without them the model cannot tell positions apart.",
        _src(_FW + "    x = wte[input_ids]\n" + _FW_LOOP + _FW_LNF + _FW_OUT),
    ),
    Mistake(
        "position ids start at 1 instead of 0 (off by one)",
        "the first token has position 0: torch.arange(T).",
        _src(
            _FW
            + "    x = wte[input_ids] + wpe[torch.arange(1, T + 1, device=input_ids.device)]\n"
            + _FW_LOOP
            + _FW_LNF
            + _FW_OUT
        ),
    ),
    Mistake(
        "forgot the final layer norm ln_f",
        "apply transformer.ln_f to the output of the last block before unembedding.",
        _src(_FW + _FW_EMB + _FW_LOOP + _FW_OUT),
    ),
    Mistake(
        "scaled the token embeddings by sqrt(D) (the original Transformer does, GPT-2 does not)",
        "GPT-2's input is simply wte[ids] + wpe[positions].",
        _src(
            _FW
            + "    x = wte[input_ids] * math.sqrt(wte.shape[1]) + wpe[torch.arange(T, device=input_ids.device)]\n"
            + _FW_LOOP
            + _FW_LNF
            + _FW_OUT
        ),
    ),
    Mistake(
        "applied every block to the embeddings instead of chaining them (only the last block counts)",
        "each block's input is the previous block's output: x = block(x, ...).",
        _src(
            _FW + "    e = wte[input_ids] + wpe[torch.arange(T, device=input_ids.device)]\n"
            "    for i in range(_w01_n_layer(p)):\n"
            "        x = _w01_block(e, _w01_sub(p, f'transformer.h.{i}.'), n_head)\n" + _FW_LNF + _FW_OUT
        ),
    ),
    Mistake(
        "returned probabilities (softmax) instead of logits",
        "return the raw scores h @ wteᵀ; sampling and the loss normalise them later.",
        _src(_FW + _FW_EMB + _FW_LOOP + _FW_LNF + "    return torch.softmax(x @ wte.T, dim=-1)\n"),
    ),
]


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


_SP = "def sampling_probs(logits, temperature=1.0, top_k=None):\n"
_SP_GREEDY = (
    "    if temperature == 0:\n        return F.one_hot(logits.argmax(-1), logits.shape[-1]).to(logits.dtype)\n"
)
_SP_KEEP = "    if top_k and top_k < logits.shape[-1]:\n"
SAMPLING_MISTAKES = [
    Mistake(
        "multiplied by the temperature instead of dividing",
        "sample from softmax(logits / τ): a small τ must sharpen the distribution.",
        _HEAD
        + _SP
        + _SP_GREEDY
        + "    z = logits * temperature\n"
        + _SP_KEEP
        + "        z = z.masked_fill(z < z.topk(top_k, -1).values[..., -1:], float('-inf'))\n"
        "    return torch.softmax(z, -1)\n",
    ),
    Mistake(
        "kept k + 1 tokens (off by one in the threshold index)",
        "the threshold is the k-th largest value: topk(k).values[..., -1] (index k − 1 of the sorted values).",
        _HEAD
        + _SP
        + _SP_GREEDY
        + "    z = logits / temperature\n"
        + _SP_KEEP
        + "        z = z.masked_fill(z < z.sort(-1, descending=True).values[..., top_k:top_k + 1], float('-inf'))\n"
        "    return torch.softmax(z, -1)\n",
    ),
    Mistake(
        "filtered with <= instead of < (the k-th token itself is dropped)",
        "keep every token whose logit is at least the k-th largest: remove only those strictly below it.",
        _HEAD
        + _SP
        + _SP_GREEDY
        + "    z = logits / temperature\n"
        + _SP_KEEP
        + "        z = z.masked_fill(z <= z.topk(top_k, -1).values[..., -1:], float('-inf'))\n"
        "    return torch.softmax(z, -1)\n",
    ),
    Mistake(
        "kept the k smallest logits",
        "top-k keeps the largest: topk(k, largest=True), and removes what lies below its last value.",
        _HEAD
        + _SP
        + _SP_GREEDY
        + "    z = logits / temperature\n"
        + _SP_KEEP
        + "        z = z.masked_fill(z > z.topk(top_k, -1, largest=False).values[..., -1:], float('-inf'))\n"
        "    return torch.softmax(z, -1)\n",
    ),
    Mistake(
        "filtered after normalising (the kept probabilities no longer sum to 1)",
        "set the removed logits to −inf first, then take the softmax.",
        _HEAD
        + _SP
        + _SP_GREEDY
        + "    z = logits / temperature\n    p = torch.softmax(z, -1)\n"
        + _SP_KEEP
        + "        p = p.masked_fill(z < z.topk(top_k, -1).values[..., -1:], 0.0)\n"
        "    return p\n",
    ),
    Mistake(
        "returned log-probabilities instead of probabilities",
        "return softmax(...), not log_softmax(...).",
        _HEAD
        + _SP
        + _SP_GREEDY
        + "    z = logits / temperature\n"
        + _SP_KEEP
        + "        z = z.masked_fill(z < z.topk(top_k, -1).values[..., -1:], float('-inf'))\n"
        "    return torch.log_softmax(z, -1)\n",
    ),
    Mistake(
        "divided by a temperature of 0 instead of decoding greedily",
        "τ = 0 means greedy: put all the probability on the argmax.",
        _HEAD
        + _SP
        + "    z = logits / temperature\n"
        + _SP_KEEP
        + "        z = z.masked_fill(z < z.topk(top_k, -1).values[..., -1:], float('-inf'))\n"
        "    return torch.softmax(z, -1)\n",
    ),
    Mistake(
        "kept exactly k tokens by index (tokens tied with the k-th value were dropped)",
        "compare with the k-th largest value so that ties survive, as transformers' TopKLogitsWarper does.",
        _HEAD
        + _SP
        + _SP_GREEDY
        + "    z = logits / temperature\n"
        + _SP_KEEP
        + "        keep = torch.zeros_like(z, dtype=torch.bool).scatter(-1, z.topk(top_k, -1).indices, True)\n"
        "        z = z.masked_fill(~keep, float('-inf'))\n"
        "    return torch.softmax(z, -1)\n",
    ),
    Mistake(
        "did not handle top_k larger than the vocabulary",
        "when top_k ≥ V there is nothing to filter (torch.topk raises for k > V).",
        _HEAD + _SP + _SP_GREEDY + "    z = logits / temperature\n"
        "    if top_k:\n"
        "        z = z.masked_fill(z < z.topk(top_k, -1).values[..., -1:], float('-inf'))\n"
        "    return torch.softmax(z, -1)\n",
    ),
]


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


_ST = (
    "def sample_token(logits, u, temperature=1.0, top_k=None):\n"
    "    if temperature == 0:\n"
    "        p = F.one_hot(logits.argmax(-1), logits.shape[-1]).to(logits.dtype)\n"
    "    else:\n"
    "        z = logits / temperature\n"
    "        if top_k and top_k < z.shape[-1]:\n"
    "            z = z.masked_fill(z < z.topk(top_k, -1).values[..., -1:], float('-inf'))\n"
    "        p = torch.softmax(z, -1)\n"
)
SAMPLE_TOKEN_MISTAKES = [
    Mistake(
        "compared cdf >= u, so a token with probability 0 can be drawn when u = 0",
        "return the smallest i with cdf[i] > u (strictly): a token of probability 0 has an empty interval.",
        _HEAD + _ST + "    return (p.cumsum(-1) < u[:, None]).sum(-1)\n",
    ),
    Mistake(
        "returned the index one position too early",
        "the drawn token is the first whose cdf exceeds u, not the last one below it.",
        _HEAD + _ST + "    return (p.cumsum(-1) <= u[:, None]).sum(-1) - 1\n",
    ),
    Mistake(
        "sampled from the plain softmax, ignoring temperature and top_k",
        "build the cdf from sampling_probs(logits, temperature, top_k).",
        _HEAD + _ST + "    return (torch.softmax(logits, -1).cumsum(-1) <= u[:, None]).sum(-1)\n",
    ),
    Mistake(
        "took the argmax instead of sampling",
        "use u: the token is drawn by inverse-CDF sampling, not chosen greedily (unless temperature is 0).",
        _HEAD + _ST + "    return p.argmax(-1)\n",
    ),
    Mistake(
        "forgot to normalise before the cumulative sum",
        "the cdf must end at 1: cumulate probabilities, not exp(logits).",
        _HEAD
        + _ST
        + "    w = p if temperature == 0 else torch.exp(z)\n"
        + "    return (w.cumsum(-1) <= u[:, None]).sum(-1)\n",
    ),
    Mistake(
        "took the cumulative sum over the batch dimension",
        "cumulate over the vocabulary: cumsum(dim=-1).",
        _HEAD + _ST + "    return (p.cumsum(0) <= u[:, None]).sum(-1)\n",
    ),
]


EXERCISES = [
    Exercise(
        f"{WEEK}.merge_pair",
        points=1,
        make_cases=_merge_pair_cases,
        mistakes=MERGE_PAIR_MISTAKES,
        alternatives=[
            "def merge_pair(ids, pair, new_id):\n"
            "    out, skip = [], False\n"
            "    for a, b in zip(ids, list(ids[1:]) + [None]):\n"
            "        if skip:\n"
            "            skip = False\n"
            "        elif (a, b) == tuple(pair):\n"
            "            out.append(new_id)\n"
            "            skip = True\n"
            "        else:\n"
            "            out.append(a)\n"
            "    return out\n"
        ],
        summary="one BPE merge step",
    ),
    Exercise(
        f"{WEEK}.pad_batch",
        points=1,
        make_cases=_pad_batch_cases,
        mistakes=PAD_BATCH_MISTAKES,
        alternatives=[
            "import torch\n\ndef pad_batch(sequences, pad_id, padding_side='right'):\n"
            "    T = max(map(len, sequences))\n"
            "    rows, masks = [], []\n"
            "    for s in sequences:\n"
            "        pad = [pad_id] * (T - len(s))\n"
            "        zeros, ones = [0] * (T - len(s)), [1] * len(s)\n"
            "        rows.append(list(s) + pad if padding_side == 'right' else pad + list(s))\n"
            "        masks.append(ones + zeros if padding_side == 'right' else zeros + ones)\n"
            "    return torch.tensor(rows), torch.tensor(masks, dtype=torch.bool)\n"
        ],
        summary="pad a batch and build its attention mask",
    ),
    Exercise(
        f"{WEEK}.layer_norm",
        points=1,
        make_cases=_layer_norm_cases,
        mistakes=LAYER_NORM_MISTAKES,
        forbidden=("layer_norm", "LayerNorm"),
        alternatives=[
            "import torch\n\ndef layer_norm(x, weight, bias, eps=1e-5):\n"
            "    x64 = x.double()\n"
            "    centred = x64 - x64.mean(-1, keepdim=True)\n"
            "    out = centred * torch.rsqrt(x64.var(-1, unbiased=False, keepdim=True) + eps)\n"
            "    return (out * weight.double() + bias.double()).to(x.dtype)\n"
        ],
        summary="layer normalisation",
    ),
    Exercise(
        f"{WEEK}.gelu_new",
        points=1,
        make_cases=_gelu_cases,
        mistakes=GELU_MISTAKES,
        forbidden=("gelu", "GELU"),
        alternatives=[
            "import math\nimport torch\n\ndef gelu_new(x):\n"
            "    # 0.5 * (1 + tanh(a)) == sigmoid(2a)\n"
            "    return x * torch.sigmoid(2 * math.sqrt(2 / math.pi) * (x + 0.044715 * x * x * x))\n"
        ],
        summary="GPT-2's tanh GELU",
    ),
    Exercise(
        f"{WEEK}.attention_pattern",
        points=2,
        make_cases=_pattern_cases,
        mistakes=ATTENTION_PATTERN_MISTAKES,
        forbidden=("scaled_dot_product_attention", "MultiheadAttention"),
        alternatives=[
            "import torch\n\ndef attention_pattern(q, k):\n"
            "    T, d = q.shape[-2], q.shape[-1]\n"
            "    s = torch.einsum('bhtd,bhsd->bhts', q, k) * d ** -0.5\n"
            "    allowed = torch.tril(torch.ones(T, T, device=q.device)).bool()\n"
            "    s = torch.where(allowed, s, torch.finfo(s.dtype).min)\n"
            "    e = (s - s.amax(-1, keepdim=True)).exp() * allowed\n"
            "    return e / e.sum(-1, keepdim=True)\n"
        ],
        summary="causal attention weights",
    ),
    Exercise(
        f"{WEEK}.causal_self_attention",
        points=3,
        make_cases=_attention_cases,
        mistakes=CAUSAL_SELF_ATTENTION_MISTAKES,
        forbidden=("scaled_dot_product_attention", "MultiheadAttention", "multi_head_attention_forward"),
        alternatives=[
            "import math\nimport torch\n\ndef causal_self_attention(x, params, n_head):\n"
            "    B, T, D = x.shape\n"
            "    dh = D // n_head\n"
            "    W, b = params['c_attn.weight'], params['c_attn.bias']\n"
            "    mask = torch.full((T, T), float('-inf'), device=x.device).triu(1)\n"
            "    outs = []\n"
            "    for h in range(n_head):  # one head at a time\n"
            "        cols = lambda part: slice(part * D + h * dh, part * D + (h + 1) * dh)\n"
            "        q, k, v = (x @ W[:, cols(i)] + b[cols(i)] for i in range(3))\n"
            "        a = torch.softmax(q @ k.transpose(1, 2) / math.sqrt(dh) + mask, dim=-1)\n"
            "        outs.append(a @ v)\n"
            "    return torch.cat(outs, dim=-1) @ params['c_proj.weight'] + params['c_proj.bias']\n"
        ],
        summary="multi-head causal self-attention with GPT-2's packed weights",
    ),
    Exercise(
        f"{WEEK}.gpt_block",
        points=3,
        make_cases=_block_cases,
        mistakes=GPT_BLOCK_MISTAKES,
        rtol=1e-4,
        atol=1e-4,
        alternatives=[_src("def gpt_block(x, params, n_head):\n    return _w01_block(x, params, n_head)\n")],
        summary="a GPT-2 block",
    ),
    Exercise(
        f"{WEEK}.gpt_forward",
        points=3,
        make_cases=_forward_cases,
        mistakes=GPT_FORWARD_MISTAKES,
        rtol=1e-4,
        atol=1e-4,
        alternatives=[
            _src(
                "def gpt_forward(input_ids, params, n_head):\n"
                "    p = params\n"
                "    pos = torch.arange(input_ids.shape[1], device=input_ids.device).expand_as(input_ids)\n"
                "    x = F.embedding(input_ids, p['transformer.wte.weight']) + F.embedding(pos, p['transformer.wpe.weight'])\n"
                "    i = 0\n"
                "    while f'transformer.h.{i}.ln_1.weight' in p:\n"
                "        x = _w01_block(x, _w01_sub(p, f'transformer.h.{i}.'), n_head)\n"
                "        i += 1\n"
                "    x = _w01_ln(x, p['transformer.ln_f.weight'], p['transformer.ln_f.bias'])\n"
                "    return F.linear(x, p['lm_head.weight'] if 'lm_head.weight' in p else p['transformer.wte.weight'])\n"
            )
        ],
        summary="GPT-2's forward pass, ids to logits",
    ),
    Exercise(
        f"{WEEK}.sampling_probs",
        points=2,
        make_cases=_sampling_cases,
        mistakes=SAMPLING_MISTAKES,
        alternatives=[
            "import torch\n\ndef sampling_probs(logits, temperature=1.0, top_k=None):\n"
            "    V = logits.shape[-1]\n"
            "    if temperature == 0:\n"
            "        best = logits.argmax(-1, keepdim=True)\n"
            "        return torch.zeros_like(logits).scatter(-1, best, 1.0)\n"
            "    z = logits.double() / temperature\n"
            "    if top_k:\n"
            "        kth = z.sort(-1, descending=True).values[..., min(top_k, V) - 1 : min(top_k, V)]\n"
            "        z = torch.where(z >= kth, z, torch.tensor(float('-inf'), dtype=z.dtype, device=z.device))\n"
            "    return (z - z.logsumexp(-1, keepdim=True)).exp().to(logits.dtype)\n"
        ],
        summary="temperature and top-k",
    ),
    Exercise(
        f"{WEEK}.sample_token",
        points=2,
        make_cases=_sample_token_cases,
        mistakes=SAMPLE_TOKEN_MISTAKES,
        alternatives=[
            "import torch\n\ndef sample_token(logits, u, temperature=1.0, top_k=None):\n"
            "    if temperature == 0:\n"
            "        return logits.argmax(-1)\n"
            "    z = logits / temperature\n"
            "    if top_k and top_k < z.shape[-1]:\n"
            "        z = z.masked_fill(z < z.topk(top_k, -1).values[..., -1:], float('-inf'))\n"
            "    cdf = torch.softmax(z, -1).cumsum(-1).contiguous()\n"
            "    i = torch.searchsorted(cdf, u[:, None].contiguous().to(cdf.dtype), right=True)[:, 0]\n"
            "    return i.clamp(max=z.shape[-1] - 1)\n"
        ],
        summary="inverse-CDF sampling with given uniforms",
    ),
]
