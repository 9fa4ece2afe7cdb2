"""Week 0 exercises: the tensor warm-up. Cases and known mistakes for each function.

The reference implementations live in ``solutions/w00_orientation/w00_orientation.py``.
"""

from __future__ import annotations

import torch

from graders.core import Case, Exercise, Mistake, seeded

WEEK = "w00_orientation"


# --------------------------------------------------------------------------------------------
# log_softmax
# --------------------------------------------------------------------------------------------


def _log_softmax_cases() -> list[Case]:
    g = seeded(0)
    return [
        Case("logits of shape [2, 5] (standard normal)", (torch.randn(2, 5, generator=g),)),
        Case("a single row of shape [7]", (torch.randn(7, generator=g) * 3,)),
        Case("logits of shape [3, 4] with values near ±1000", (torch.randn(3, 4, generator=g) * 1000,)),
        Case("a [4, 3] tensor normalised over dim=0", (torch.randn(4, 3, generator=g),), {"dim": 0}),
        Case("logits of shape [2, 3, 6] in float64", (torch.randn(2, 3, 6, generator=g, dtype=torch.float64) * 5,)),
        Case("a square [4, 4] tensor", (torch.randn(4, 4, generator=g) * 2,), hidden=True),
        Case("logits of shape [2, 5] all equal to 500", (torch.full((2, 5), 500.0),), hidden=True),
    ]


LOG_SOFTMAX_MISTAKES = [
    Mistake(
        "did not subtract the maximum (overflow)",
        "exp(1000) is inf in float32: subtract logits.amax(dim, keepdim=True) before exponentiating.",
        "import torch\n\ndef log_softmax(logits, dim=-1):\n"
        "    return logits - logits.exp().sum(dim=dim, keepdim=True).log()\n",
    ),
    Mistake(
        "returned softmax probabilities instead of their logarithm",
        "after normalising, take the log (or never leave log space).",
        "import torch\n\ndef log_softmax(logits, dim=-1):\n"
        "    e = (logits - logits.amax(dim=dim, keepdim=True)).exp()\n"
        "    return e / e.sum(dim=dim, keepdim=True)\n",
    ),
    Mistake(
        "normalised over the wrong dimension",
        "reduce over the `dim` argument, not a fixed axis.",
        "import torch\n\ndef log_softmax(logits, dim=-1):\n"
        "    s = logits - logits.amax(dim=0, keepdim=True)\n"
        "    return s - s.exp().sum(dim=0, keepdim=True).log()\n",
    ),
    Mistake(
        "sign flip (log-sum-exp minus logits)",
        "log-softmax is z_i − logsumexp(z); every output should be ≤ 0.",
        "import torch\n\ndef log_softmax(logits, dim=-1):\n"
        "    s = logits - logits.amax(dim=dim, keepdim=True)\n"
        "    return s.exp().sum(dim=dim, keepdim=True).log() - s\n",
    ),
    Mistake(
        "used the mean instead of the sum inside the log",
        "the normaliser is log Σ_j exp(z_j), a sum over the vocabulary.",
        "import torch\n\ndef log_softmax(logits, dim=-1):\n"
        "    s = logits - logits.amax(dim=dim, keepdim=True)\n"
        "    return s - s.exp().mean(dim=dim, keepdim=True).log()\n",
    ),
    Mistake(
        "subtracted the maximum but forgot the log-sum-exp normaliser",
        "z − max(z) is not normalised: you still need − log Σ exp(z − max).",
        "import torch\n\ndef log_softmax(logits, dim=-1):\n    return logits - logits.amax(dim=dim, keepdim=True)\n",
    ),
    Mistake(
        "reduced without keepdim, so the normaliser broadcast along the wrong axis",
        "use keepdim=True so that the [.., 1] normaliser lines up with the dimension it came from.",
        "import torch\n\ndef log_softmax(logits, dim=-1):\n"
        "    m = logits.amax(dim=dim)\n"
        "    return logits - (m + (logits - logits.amax(dim=dim, keepdim=True)).exp().sum(dim=dim).log())\n",
    ),
]


# --------------------------------------------------------------------------------------------
# cross_entropy
# --------------------------------------------------------------------------------------------


def _cross_entropy_cases() -> list[Case]:
    g = seeded(1)
    targets = torch.randint(0, 6, (5,), generator=g)
    padded = targets.clone()
    padded[[1, 4]] = -100
    return [
        Case("logits [5, 6] and targets [5], nothing ignored", (torch.randn(5, 6, generator=g), targets)),
        Case("logits [5, 6] with positions 1 and 4 set to ignore_index=-100", (torch.randn(5, 6, generator=g), padded)),
        Case(
            "logits [4, 3] with values near ±1000",
            (torch.randn(4, 3, generator=g) * 1000, torch.tensor([0, 2, 1, 2])),
        ),
        Case(
            "a custom ignore_index=0 on logits [6, 4]",
            (torch.randn(6, 4, generator=g), torch.tensor([0, 1, 2, 3, 0, 1])),
            {"ignore_index": 0},
        ),
        Case("a single position [1, 9]", (torch.randn(1, 9, generator=g) * 2, torch.tensor([8]))),
        Case(
            "logits [8, 8] (square) with three ignored positions",
            (torch.randn(8, 8, generator=g), torch.tensor([1, -100, 3, 7, -100, 0, -100, 2])),
            hidden=True,
        ),
    ]


CROSS_ENTROPY_MISTAKES = [
    Mistake(
        "summed instead of averaging",
        "return the mean over the positions that count: divide by their number.",
        "import torch\n\ndef cross_entropy(logits, targets, ignore_index=-100):\n"
        "    keep = targets != ignore_index\n"
        "    safe = torch.where(keep, targets, torch.zeros_like(targets))\n"
        "    lp = torch.log_softmax(logits, -1).gather(-1, safe[:, None])[:, 0]\n"
        "    return -(lp * keep).sum()\n",
    ),
    Mistake(
        "averaged over all positions, including the ignored ones",
        "ignored positions must leave the denominator as well as the sum: divide by keep.sum().",
        "import torch\n\ndef cross_entropy(logits, targets, ignore_index=-100):\n"
        "    keep = targets != ignore_index\n"
        "    safe = torch.where(keep, targets, torch.zeros_like(targets))\n"
        "    lp = torch.log_softmax(logits, -1).gather(-1, safe[:, None])[:, 0]\n"
        "    return -(lp * keep).sum() / len(targets)\n",
    ),
    Mistake(
        "forgot the minus sign",
        "cross-entropy is the *negative* log-likelihood; it is always ≥ 0.",
        "import torch\n\ndef cross_entropy(logits, targets, ignore_index=-100):\n"
        "    keep = targets != ignore_index\n"
        "    safe = torch.where(keep, targets, torch.zeros_like(targets))\n"
        "    lp = torch.log_softmax(logits, -1).gather(-1, safe[:, None])[:, 0]\n"
        "    return (lp * keep).sum() / keep.sum()\n",
    ),
    Mistake(
        "gathered raw logits instead of log-probabilities",
        "normalise with log_softmax before picking the target's entry.",
        "import torch\n\ndef cross_entropy(logits, targets, ignore_index=-100):\n"
        "    keep = targets != ignore_index\n"
        "    safe = torch.where(keep, targets, torch.zeros_like(targets))\n"
        "    lp = logits.gather(-1, safe[:, None])[:, 0]\n"
        "    return -(lp * keep).sum() / keep.sum()\n",
    ),
    Mistake(
        "did not mask the ignored positions (they were scored as class 0)",
        "replacing ignore_index by 0 is only for gather: multiply by the mask afterwards.",
        "import torch\n\ndef cross_entropy(logits, targets, ignore_index=-100):\n"
        "    keep = targets != ignore_index\n"
        "    safe = torch.where(keep, targets, torch.zeros_like(targets))\n"
        "    lp = torch.log_softmax(logits, -1).gather(-1, safe[:, None])[:, 0]\n"
        "    return -lp.sum() / keep.sum()\n",
    ),
    Mistake(
        "numerically unstable log(softmax)",
        "log of a probability that underflowed to 0 is -inf: stay in log space (use your log_softmax).",
        "import torch\n\ndef cross_entropy(logits, targets, ignore_index=-100):\n"
        "    keep = targets != ignore_index\n"
        "    safe = torch.where(keep, targets, torch.zeros_like(targets))\n"
        "    p = logits.exp() / logits.exp().sum(-1, keepdim=True)\n"
        "    lp = p.log().gather(-1, safe[:, None])[:, 0]\n"
        "    return -(lp * keep).sum() / keep.sum()\n",
    ),
]


# --------------------------------------------------------------------------------------------
# kl_divergence
# --------------------------------------------------------------------------------------------


def _kl_cases() -> list[Case]:
    g = seeded(2)
    return [
        Case("two [4, 6] logit tensors", (torch.randn(4, 6, generator=g), torch.randn(4, 6, generator=g))),
        Case("a single pair of [5] vectors", (torch.randn(5, generator=g) * 2, torch.randn(5, generator=g))),
        Case("identical [3, 4] inputs (KL must be 0)", (torch.ones(3, 4), torch.ones(3, 4))),
        Case(
            "[2, 3, 5] logits with values near ±300",
            (torch.randn(2, 3, 5, generator=g) * 300, torch.randn(2, 3, 5, generator=g) * 300),
        ),
        Case(
            "a peaked P against a flat Q ([2, 8])",
            (torch.randn(2, 8, generator=g) * 6, torch.zeros(2, 8)),
        ),
        Case(
            "[6, 6] square logits (hidden)",
            (torch.randn(6, 6, generator=g) * 3, torch.randn(6, 6, generator=g)),
            hidden=True,
        ),
    ]


_KL_HEAD = "import torch\n\ndef kl_divergence(p_logits, q_logits):\n"
KL_MISTAKES = [
    Mistake(
        "computed KL(Q || P) instead of KL(P || Q)",
        "KL is asymmetric: weight by P = softmax(p_logits) and take log P − log Q.",
        _KL_HEAD + "    lp, lq = torch.log_softmax(p_logits, -1), torch.log_softmax(q_logits, -1)\n"
        "    return (lq.exp() * (lq - lp)).sum(-1)\n",
    ),
    Mistake(
        "forgot to weight by P (summed the log-ratio)",
        "KL is an expectation under P: Σ_i P_i (log P_i − log Q_i).",
        _KL_HEAD + "    lp, lq = torch.log_softmax(p_logits, -1), torch.log_softmax(q_logits, -1)\n"
        "    return (lp - lq).sum(-1)\n",
    ),
    Mistake(
        "sign flip (log Q − log P)",
        "KL(P||Q) uses log P − log Q and is always ≥ 0.",
        _KL_HEAD + "    lp, lq = torch.log_softmax(p_logits, -1), torch.log_softmax(q_logits, -1)\n"
        "    return (lp.exp() * (lq - lp)).sum(-1)\n",
    ),
    Mistake(
        "averaged over the vocabulary instead of summing",
        "the expectation Σ_i P_i(...) is a sum over categories (P already supplies the weights).",
        _KL_HEAD + "    lp, lq = torch.log_softmax(p_logits, -1), torch.log_softmax(q_logits, -1)\n"
        "    return (lp.exp() * (lp - lq)).mean(-1)\n",
    ),
    Mistake(
        "used logits where log-probabilities are needed",
        "normalise both inputs with log_softmax first; raw logits are not log-probabilities.",
        _KL_HEAD + "    p = torch.softmax(p_logits, -1)\n    return (p * (p_logits - q_logits)).sum(-1)\n",
    ),
    Mistake(
        "reduced over the wrong dimension",
        "the categories are on the last dimension: sum over dim=-1.",
        _KL_HEAD + "    lp, lq = torch.log_softmax(p_logits, -1), torch.log_softmax(q_logits, -1)\n"
        "    return (lp.exp() * (lp - lq)).sum(0)\n",
    ),
    Mistake(
        "numerically unstable (log of probabilities that underflow)",
        "p.log() is -inf where softmax underflows: compute log-probabilities with log_softmax.",
        _KL_HEAD + "    p = p_logits.exp() / p_logits.exp().sum(-1, keepdim=True)\n"
        "    q = q_logits.exp() / q_logits.exp().sum(-1, keepdim=True)\n"
        "    return (p * (p.log() - q.log())).sum(-1)\n",
    ),
]


# --------------------------------------------------------------------------------------------
# log_sigmoid
# --------------------------------------------------------------------------------------------


def _log_sigmoid_cases() -> list[Case]:
    g = seeded(3)
    return [
        Case("x of shape [6] (standard normal)", (torch.randn(6, generator=g),)),
        Case("x = [-1000, -200, -30, 30, 200, 1000]", (torch.tensor([-1000.0, -200.0, -30.0, 30.0, 200.0, 1000.0]),)),
        Case("x = 0", (torch.zeros(3),)),
        Case("x of shape [3, 4] scaled by 20, float64", (torch.randn(3, 4, generator=g, dtype=torch.float64) * 20,)),
        Case("very negative x = [-90, -60]", (torch.tensor([-90.0, -60.0]),), hidden=True),
    ]


_LS_HEAD = "import torch\n\ndef log_sigmoid(x):\n"
LOG_SIGMOID_MISTAKES = [
    Mistake(
        "log(sigmoid(x)) underflows to -inf for very negative x",
        "use the stable identity log σ(x) = min(x, 0) − log(1 + exp(−|x|)).",
        _LS_HEAD + "    return torch.log(1 / (1 + torch.exp(-x)))\n",
    ),
    Mistake(
        "−log(1 + exp(−x)) overflows for very negative x",
        "exp(−x) is inf when x ≪ 0: split on the sign, min(x, 0) − log1p(exp(−|x|)).",
        _LS_HEAD + "    return -torch.log1p(torch.exp(-x))\n",
    ),
    Mistake(
        "sign flip (computed log σ(−x))",
        "log σ(x) is ≤ 0 and tends to 0 as x → +∞.",
        _LS_HEAD + "    return torch.clamp(-x, max=0) - torch.log1p(torch.exp(-x.abs()))\n",
    ),
    Mistake(
        "computed softplus(x) = log(1 + eˣ) instead",
        "log σ(x) = −softplus(−x).",
        _LS_HEAD + "    return torch.clamp(x, min=0) + torch.log1p(torch.exp(-x.abs()))\n",
    ),
    Mistake(
        "dropped the min(x, 0) term of the stable formula",
        "log σ(x) = min(x, 0) − log1p(exp(−|x|)); without min(x, 0) it is wrong for negative x.",
        _LS_HEAD + "    return -torch.log1p(torch.exp(-x.abs()))\n",
    ),
    Mistake(
        "used max(x, 0) where min(x, 0) belongs",
        "the linear part of log σ(x) is min(x, 0): it only matters for negative x.",
        _LS_HEAD + "    return torch.clamp(x, min=0) - torch.log1p(torch.exp(-x.abs()))\n",
    ),
]


# --------------------------------------------------------------------------------------------
# masked_mean
# --------------------------------------------------------------------------------------------


def _masked_mean_cases() -> list[Case]:
    g = seeded(4)
    values = torch.randn(3, 5, generator=g)
    mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0], [1, 0, 0, 0, 0]])
    return [
        Case("values [3, 5] with an integer 0/1 mask (rows of length 5, 3, 1)", (values, mask)),
        Case("the same with a bool mask", (values, mask.bool())),
        Case(
            "a float mask and a left-padded row",
            (torch.randn(2, 4, generator=g), torch.tensor([[0.0, 0, 1, 1], [1, 1, 1, 1]])),
        ),
        Case(
            "values [4, 3] averaged over dim=0",
            (torch.randn(4, 3, generator=g), torch.tensor([[1, 1, 0], [1, 0, 0], [0, 1, 1], [1, 1, 1]])),
            {"dim": 0},
        ),
        Case(
            "values [2, 3, 4] averaged over the last dimension",
            (
                torch.randn(2, 3, 4, generator=g),
                (torch.rand(2, 3, 4, generator=g) > 0.3).index_fill(-1, torch.tensor([0]), True),
            ),
        ),
        Case(
            "a [4, 4] square batch (hidden)",
            (torch.randn(4, 4, generator=g), torch.tril(torch.ones(4, 4, dtype=torch.long))),
            hidden=True,
        ),
    ]


_MM_HEAD = "import torch\n\ndef masked_mean(values, mask, dim=-1):\n    m = mask.to(values.dtype)\n"
MASKED_MEAN_MISTAKES = [
    Mistake(
        "divided by the padded length instead of the number of real tokens",
        "each row's mean is its masked sum divided by *its own* mask.sum(dim).",
        _MM_HEAD + "    return (values * m).sum(dim) / values.shape[dim]\n",
    ),
    Mistake(
        "forgot the mask (averaged padding too)",
        "padding positions must not contribute: multiply by the mask before summing.",
        _MM_HEAD + "    return values.mean(dim)\n",
    ),
    Mistake(
        "returned the masked sum, not the mean",
        "divide the masked sum by the number of real tokens.",
        _MM_HEAD + "    return (values * m).sum(dim)\n",
    ),
    Mistake(
        "averaged over the whole batch (a single number) instead of per row",
        "reduce over `dim` only: the result keeps the other dimensions.",
        _MM_HEAD + "    return (values * m).sum() / m.sum()\n",
    ),
    Mistake(
        "off by one in the count of real tokens",
        "the denominator is exactly mask.sum(dim), no +1 or −1.",
        _MM_HEAD + "    return (values * m).sum(dim) / (m.sum(dim) + 1)\n",
    ),
    Mistake(
        "reduced over a fixed dimension instead of `dim`",
        "use the `dim` argument in both the sum and the count.",
        _MM_HEAD + "    return (values * m).sum(-1) / m.sum(-1)\n",
    ),
    Mistake(
        "masked the wrong positions (kept padding, dropped tokens)",
        "the mask is 1 for real tokens: multiply by mask, not 1 − mask.",
        _MM_HEAD + "    return (values * (1 - m)).sum(dim) / (1 - m).sum(dim)\n",
    ),
]


# --------------------------------------------------------------------------------------------
# token_logprobs
# --------------------------------------------------------------------------------------------


def _token_logprobs_cases() -> list[Case]:
    g = seeded(5)
    return [
        Case(
            "logits [2, 5, 7] and input_ids [2, 5]",
            (torch.randn(2, 5, 7, generator=g), torch.randint(0, 7, (2, 5), generator=g)),
        ),
        Case("batch of one, logits [1, 3, 4]", (torch.randn(1, 3, 4, generator=g), torch.tensor([[3, 0, 2]]))),
        Case(
            "logits [2, 4, 5] with values near ±1000",
            (torch.randn(2, 4, 5, generator=g) * 1000, torch.randint(0, 5, (2, 4), generator=g)),
        ),
        Case(
            "a square-ish case: logits [3, 3, 3]",
            (torch.randn(3, 3, 3, generator=g), torch.randint(0, 3, (3, 3), generator=g)),
        ),
        Case(
            "logits [2, 6, 11] in float64 (hidden)",
            (torch.randn(2, 6, 11, generator=g, dtype=torch.float64), torch.randint(0, 11, (2, 6), generator=g)),
            hidden=True,
        ),
    ]


_TL_HEAD = "import torch\n\ndef token_logprobs(logits, input_ids):\n"
TOKEN_LOGPROBS_MISTAKES = [
    Mistake(
        "shifted the wrong way (logits at t+1 scored the token at t)",
        "the logits at position t predict the token at t+1: use logits[:, :-1] with input_ids[:, 1:].",
        _TL_HEAD + "    lp = torch.log_softmax(logits[:, 1:], -1)\n"
        "    return lp.gather(-1, input_ids[:, :-1, None])[..., 0]\n",
    ),
    Mistake(
        "no shift (each position scored its own token)",
        "causal LMs predict the *next* token: pair logits[:, t] with input_ids[:, t+1]; the output has T−1 positions.",
        _TL_HEAD + "    lp = torch.log_softmax(logits, -1)\n    return lp.gather(-1, input_ids[..., None])[..., 0]\n",
    ),
    Mistake(
        "gathered raw logits instead of log-probabilities",
        "apply log_softmax over the vocabulary before gathering.",
        _TL_HEAD + "    return logits[:, :-1].gather(-1, input_ids[:, 1:, None])[..., 0]\n",
    ),
    Mistake(
        "returned probabilities instead of log-probabilities",
        "use log_softmax, not softmax.",
        _TL_HEAD
        + "    p = torch.softmax(logits[:, :-1], -1)\n    return p.gather(-1, input_ids[:, 1:, None])[..., 0]\n",
    ),
    Mistake(
        "normalised over the sequence dimension instead of the vocabulary",
        "log_softmax must run over the last dimension (V), not over positions.",
        _TL_HEAD
        + "    lp = torch.log_softmax(logits[:, :-1], 1)\n    return lp.gather(-1, input_ids[:, 1:, None])[..., 0]\n",
    ),
    Mistake(
        "numerically unstable log(softmax)",
        "probabilities underflow to 0 for large logits: stay in log space.",
        _TL_HEAD + "    z = logits[:, :-1]\n    p = z.exp() / z.exp().sum(-1, keepdim=True)\n"
        "    return p.log().gather(-1, input_ids[:, 1:, None])[..., 0]\n",
    ),
]


EXERCISES = [
    Exercise(
        f"{WEEK}.log_softmax",
        points=2,
        make_cases=_log_softmax_cases,
        mistakes=LOG_SOFTMAX_MISTAKES,
        forbidden=("log_softmax", "softmax", "logsumexp"),
        alternatives=[
            "import torch\n\ndef log_softmax(logits, dim=-1):\n"
            "    x = logits.double()\n"
            "    m = x.max(dim=dim, keepdim=True).values\n"
            "    return (x - m - torch.log(torch.sum(torch.exp(x - m), dim=dim, keepdim=True))).to(logits.dtype)\n"
        ],
        summary="stable log-softmax",
    ),
    Exercise(
        f"{WEEK}.cross_entropy",
        points=2,
        make_cases=_cross_entropy_cases,
        mistakes=CROSS_ENTROPY_MISTAKES,
        forbidden=("cross_entropy", "nll_loss", "CrossEntropyLoss", "NLLLoss"),
        alternatives=[
            "import torch\n\ndef cross_entropy(logits, targets, ignore_index=-100):\n"
            "    total, count = 0.0, 0\n"
            "    for row, t in zip(logits, targets.tolist()):\n"
            "        if t == ignore_index:\n"
            "            continue\n"
            "        m = row.max()\n"
            "        total = total - (row[t] - m - (row - m).exp().sum().log())\n"
            "        count += 1\n"
            "    return total / count\n"
        ],
        summary="cross-entropy with ignore_index",
    ),
    Exercise(
        f"{WEEK}.kl_divergence",
        points=2,
        make_cases=_kl_cases,
        mistakes=KL_MISTAKES,
        forbidden=("kl_div", "KLDivLoss"),
        alternatives=[
            "import torch\n\ndef kl_divergence(p_logits, q_logits):\n"
            "    lp = p_logits - p_logits.logsumexp(-1, keepdim=True)\n"
            "    lq = q_logits - q_logits.logsumexp(-1, keepdim=True)\n"
            "    return torch.einsum('...v,...v->...', lp.exp(), lp - lq)\n"
        ],
        summary="KL divergence between categorical distributions",
    ),
    Exercise(
        f"{WEEK}.log_sigmoid",
        points=1,
        make_cases=_log_sigmoid_cases,
        mistakes=LOG_SIGMOID_MISTAKES,
        forbidden=("logsigmoid", "softplus", "sigmoid"),
        alternatives=[
            "import torch\n\ndef log_sigmoid(x):\n"
            "    return torch.where(x >= 0, -torch.log1p(torch.exp(-x.abs())), x - torch.log1p(torch.exp(-x.abs())))\n"
        ],
        summary="stable log-sigmoid",
    ),
    Exercise(
        f"{WEEK}.masked_mean",
        points=1,
        make_cases=_masked_mean_cases,
        mistakes=MASKED_MEAN_MISTAKES,
        alternatives=[
            "import torch\n\ndef masked_mean(values, mask, dim=-1):\n"
            "    keep = mask.bool()\n"
            "    zero = torch.zeros_like(values)\n"
            "    return torch.where(keep, values, zero).sum(dim) / keep.sum(dim)\n"
        ],
        summary="masked mean over padded sequences",
    ),
    Exercise(
        f"{WEEK}.token_logprobs",
        points=2,
        make_cases=_token_logprobs_cases,
        mistakes=TOKEN_LOGPROBS_MISTAKES,
        alternatives=[
            "import torch\n\ndef token_logprobs(logits, input_ids):\n"
            "    B, T, V = logits.shape\n"
            "    out = torch.empty(B, T - 1, dtype=logits.dtype)\n"
            "    for b in range(B):\n"
            "        for t in range(T - 1):\n"
            "            z = logits[b, t].double()\n"
            "            out[b, t] = z[input_ids[b, t + 1]] - z.max() - (z - z.max()).exp().sum().log()\n"
            "    return out\n"
        ],
        summary="log-probability of each next token",
    ),
]
