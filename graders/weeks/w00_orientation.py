"""Week 0 exercises: the tensor warm-up. Cases and known mistakes for each function.

The reference implementations live in ``solutions/w00_orientation/w00_orientation.py``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from graders.core import Case, Exercise, draw_choice, draw_int, draw_leading, seeded

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


def _dtype(g: torch.Generator) -> torch.dtype:
    return draw_choice(g, (torch.float32, torch.float64))


def _log_softmax_random(g: torch.Generator) -> Case:
    """Any shape, either dtype, any scale up to ±1000, normalised over the last or another dimension."""
    shape = (*draw_leading(g), draw_int(g, 1, 8))
    dim = draw_int(g, -len(shape), len(shape) - 1)
    x = torch.randn(shape, generator=g, dtype=_dtype(g)) * draw_choice(g, (1.0, 30.0, 1000.0))
    return Case(f"logits {list(shape)} ({str(x.dtype).removeprefix('torch.')}), dim={dim}", (x,), {"dim": dim})


LOG_SOFTMAX = Exercise(
    "log_softmax",
    points=2,
    make_cases=_log_softmax_cases,
    forbidden=("log_softmax", "softmax", "logsumexp", "logcumsumexp"),
    grads=("logits",),
    summary="stable log-softmax",
    random_case=_log_softmax_random,
)


@LOG_SOFTMAX.mistake(
    "did not subtract the maximum (overflow)",
    "exp(1000) is inf in float32: subtract logits.amax(dim, keepdim=True) before exponentiating.",
)
def did_not_subtract_the_maximum_overflow(logits, dim=-1):
    return logits - logits.exp().sum(dim=dim, keepdim=True).log()


@LOG_SOFTMAX.mistake(
    "returned softmax probabilities instead of their logarithm",
    "after normalising, take the log (or never leave log space).",
)
def returned_softmax_probabilities_instead_of_their(logits, dim=-1):
    e = (logits - logits.amax(dim=dim, keepdim=True)).exp()
    return e / e.sum(dim=dim, keepdim=True)


@LOG_SOFTMAX.mistake("normalised over the wrong dimension", "reduce over the `dim` argument, not a fixed axis.")
def normalised_over_the_wrong_dimension(logits, dim=-1):
    s = logits - logits.amax(dim=0, keepdim=True)
    return s - s.exp().sum(dim=0, keepdim=True).log()


@LOG_SOFTMAX.mistake(
    "sign flip (log-sum-exp minus logits)", "log-softmax is z_i − logsumexp(z); every output should be ≤ 0."
)
def sign_flip_log_sum_exp_minus(logits, dim=-1):
    s = logits - logits.amax(dim=dim, keepdim=True)
    return s.exp().sum(dim=dim, keepdim=True).log() - s


@LOG_SOFTMAX.mistake(
    "used the mean instead of the sum inside the log", "the normaliser is log Σ_j exp(z_j), a sum over the vocabulary."
)
def used_the_mean_instead_of_the(logits, dim=-1):
    s = logits - logits.amax(dim=dim, keepdim=True)
    return s - s.exp().mean(dim=dim, keepdim=True).log()


@LOG_SOFTMAX.mistake(
    "subtracted the maximum but forgot the log-sum-exp normaliser",
    "z − max(z) is not normalised: you still need − log Σ exp(z − max).",
)
def subtracted_the_maximum_but_forgot_the(logits, dim=-1):
    return logits - logits.amax(dim=dim, keepdim=True)


@LOG_SOFTMAX.mistake(
    "reduced without keepdim, so the normaliser broadcast along the wrong axis",
    "use keepdim=True so that the [.., 1] normaliser lines up with the dimension it came from.",
)
def reduced_without_keepdim_so_the_normaliser(logits, dim=-1):
    m = logits.amax(dim=dim)
    return logits - (m + (logits - logits.amax(dim=dim, keepdim=True)).exp().sum(dim=dim).log())


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


def _cross_entropy_random(g: torch.Generator) -> Case:
    n, v, dtype = draw_int(g, 1, 10), draw_int(g, 1, 8), _dtype(g)
    targets = torch.randint(0, v, (n,), generator=g)
    targets[torch.rand(n, generator=g) < 0.3] = -100
    targets[0] = draw_int(g, 0, v - 1)  # at least one position counts
    x = torch.randn(n, v, generator=g, dtype=dtype) * draw_choice(g, (1.0, 30.0, 1000.0))
    return Case(f"logits [{n}, {v}] ({str(dtype).removeprefix('torch.')}), some targets ignored", (x, targets))


CROSS_ENTROPY = Exercise(
    "cross_entropy",
    points=2,
    make_cases=_cross_entropy_cases,
    # "using your log_softmax": torch's (or a distribution's log_prob, which normalises with logsumexp) is not it
    forbidden=("cross_entropy", "nll_loss", "CrossEntropyLoss", "NLLLoss", "log_softmax", "softmax", "logsumexp"),
    grads=("logits",),
    summary="cross-entropy with ignore_index",
    random_case=_cross_entropy_random,
)


@CROSS_ENTROPY.mistake(
    "summed instead of averaging", "return the mean over the positions that count: divide by their number."
)
def summed_instead_of_averaging(logits, targets, ignore_index=-100):
    keep = targets != ignore_index
    safe = torch.where(keep, targets, torch.zeros_like(targets))
    lp = torch.log_softmax(logits, -1).gather(-1, safe[:, None])[:, 0]
    return -(lp * keep).sum()


@CROSS_ENTROPY.mistake(
    "averaged over all positions, including the ignored ones",
    "ignored positions must leave the denominator as well as the sum: divide by keep.sum().",
)
def averaged_over_all_positions_including_the(logits, targets, ignore_index=-100):
    keep = targets != ignore_index
    safe = torch.where(keep, targets, torch.zeros_like(targets))
    lp = torch.log_softmax(logits, -1).gather(-1, safe[:, None])[:, 0]
    return -(lp * keep).sum() / len(targets)


@CROSS_ENTROPY.mistake("forgot the minus sign", "cross-entropy is the *negative* log-likelihood; it is always ≥ 0.")
def forgot_the_minus_sign(logits, targets, ignore_index=-100):
    keep = targets != ignore_index
    safe = torch.where(keep, targets, torch.zeros_like(targets))
    lp = torch.log_softmax(logits, -1).gather(-1, safe[:, None])[:, 0]
    return (lp * keep).sum() / keep.sum()


@CROSS_ENTROPY.mistake(
    "gathered raw logits instead of log-probabilities", "normalise with log_softmax before picking the target's entry."
)
def gathered_raw_logits_instead_of_log(logits, targets, ignore_index=-100):
    keep = targets != ignore_index
    safe = torch.where(keep, targets, torch.zeros_like(targets))
    lp = logits.gather(-1, safe[:, None])[:, 0]
    return -(lp * keep).sum() / keep.sum()


@CROSS_ENTROPY.mistake(
    "did not mask the ignored positions (they were scored as class 0)",
    "replacing ignore_index by 0 is only for gather: multiply by the mask afterwards.",
)
def did_not_mask_the_ignored_positions(logits, targets, ignore_index=-100):
    keep = targets != ignore_index
    safe = torch.where(keep, targets, torch.zeros_like(targets))
    lp = torch.log_softmax(logits, -1).gather(-1, safe[:, None])[:, 0]
    return -lp.sum() / keep.sum()


@CROSS_ENTROPY.mistake(
    "numerically unstable log(softmax)",
    "log of a probability that underflowed to 0 is -inf: stay in log space (use your log_softmax).",
)
def numerically_unstable_log_softmax(logits, targets, ignore_index=-100):
    keep = targets != ignore_index
    safe = torch.where(keep, targets, torch.zeros_like(targets))
    p = logits.exp() / logits.exp().sum(-1, keepdim=True)
    lp = p.log().gather(-1, safe[:, None])[:, 0]
    return -(lp * keep).sum() / keep.sum()


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


def _kl_random(g: torch.Generator) -> Case:
    shape, dtype, scale = (*draw_leading(g), draw_int(g, 1, 8)), _dtype(g), draw_choice(g, (1.0, 10.0, 300.0))
    p, q = (torch.randn(shape, generator=g, dtype=dtype) * scale for _ in range(2))
    return Case(f"logits {list(shape)} ({str(dtype).removeprefix('torch.')}), scale {scale}", (p, q))


KL_DIVERGENCE = Exercise(
    "kl_divergence",
    points=2,
    make_cases=_kl_cases,
    forbidden=("kl_div", "KLDivLoss"),
    grads=("p_logits", "q_logits"),
    summary="KL divergence between categorical distributions",
    random_case=_kl_random,
)


@KL_DIVERGENCE.mistake(
    "treated p as a constant (p's log-probabilities detached)",
    "KL(p ‖ q) depends on both distributions: no `.detach()` on p, so gradients reach p_logits too.",
)
def detached_p(p_logits, q_logits):
    lp = (p_logits - p_logits.logsumexp(-1, keepdim=True)).detach()
    lq = q_logits - q_logits.logsumexp(-1, keepdim=True)
    return (lp.exp() * (lp - lq)).sum(-1)


@KL_DIVERGENCE.mistake(
    "computed KL(Q || P) instead of KL(P || Q)",
    "KL is asymmetric: weight by P = softmax(p_logits) and take log P − log Q.",
)
def computed_kl_q_p_instead_of(p_logits, q_logits):
    lp, lq = (torch.log_softmax(p_logits, -1), torch.log_softmax(q_logits, -1))
    return (lq.exp() * (lq - lp)).sum(-1)


@KL_DIVERGENCE.mistake(
    "forgot to weight by P (summed the log-ratio)", "KL is an expectation under P: Σ_i P_i (log P_i − log Q_i)."
)
def forgot_to_weight_by_p_summed(p_logits, q_logits):
    lp, lq = (torch.log_softmax(p_logits, -1), torch.log_softmax(q_logits, -1))
    return (lp - lq).sum(-1)


@KL_DIVERGENCE.mistake("sign flip (log Q − log P)", "KL(P||Q) uses log P − log Q and is always ≥ 0.")
def sign_flip_log_q_log_p(p_logits, q_logits):
    lp, lq = (torch.log_softmax(p_logits, -1), torch.log_softmax(q_logits, -1))
    return (lp.exp() * (lq - lp)).sum(-1)


@KL_DIVERGENCE.mistake(
    "averaged over the vocabulary instead of summing",
    "the expectation Σ_i P_i(...) is a sum over categories (P already supplies the weights).",
)
def averaged_over_the_vocabulary_instead_of(p_logits, q_logits):
    lp, lq = (torch.log_softmax(p_logits, -1), torch.log_softmax(q_logits, -1))
    return (lp.exp() * (lp - lq)).mean(-1)


@KL_DIVERGENCE.mistake(
    "used logits where log-probabilities are needed",
    "normalise both inputs with log_softmax first; raw logits are not log-probabilities.",
)
def used_logits_where_log_probabilities_are(p_logits, q_logits):
    p = torch.softmax(p_logits, -1)
    return (p * (p_logits - q_logits)).sum(-1)


@KL_DIVERGENCE.mistake("reduced over the wrong dimension", "the categories are on the last dimension: sum over dim=-1.")
def reduced_over_the_wrong_dimension(p_logits, q_logits):
    lp, lq = (torch.log_softmax(p_logits, -1), torch.log_softmax(q_logits, -1))
    return (lp.exp() * (lp - lq)).sum(0)


@KL_DIVERGENCE.mistake(
    "numerically unstable (log of probabilities that underflow)",
    "p.log() is -inf where softmax underflows: compute log-probabilities with log_softmax.",
)
def numerically_unstable_log_of_probabilities_that(p_logits, q_logits):
    p = p_logits.exp() / p_logits.exp().sum(-1, keepdim=True)
    q = q_logits.exp() / q_logits.exp().sum(-1, keepdim=True)
    return (p * (p.log() - q.log())).sum(-1)


# --------------------------------------------------------------------------------------------
# log_sigmoid
# --------------------------------------------------------------------------------------------


def _log_sigmoid_cases() -> list[Case]:
    g = seeded(3)
    return [
        Case("x of shape [6] (standard normal)", (torch.randn(6, generator=g),)),
        Case("x = [-1000, -200, -30, 30, 200, 1000]", (torch.tensor([-1000.0, -200.0, -30.0, 30.0, 200.0, 1000.0]),)),
        Case("x = 0", (torch.zeros(3),), grads=False),  # the kink of |x|: gradients legitimately differ
        Case("x of shape [3, 4] scaled by 20, float64", (torch.randn(3, 4, generator=g, dtype=torch.float64) * 20,)),
        Case("very negative x = [-90, -60]", (torch.tensor([-90.0, -60.0]),), hidden=True),
    ]


def _log_sigmoid_random(g: torch.Generator) -> Case:
    shape, dtype = (*draw_leading(g), draw_int(g, 1, 8)), _dtype(g)
    x = (
        torch.randn(shape, generator=g, dtype=dtype) * draw_choice(g, (1.0, 20.0, 200.0)) + 0.01
    )  # away from the kink at 0
    return Case(f"x {list(shape)} ({str(dtype).removeprefix('torch.')})", (x,))


LOG_SIGMOID = Exercise(
    "log_sigmoid",
    points=1,
    make_cases=_log_sigmoid_cases,
    forbidden=(
        "logsigmoid",
        "softplus",
        "sigmoid",
        "binary_cross_entropy_with_logits",
        "BCEWithLogitsLoss",
        "logaddexp",
    ),
    grads=("x",),
    summary="stable log-sigmoid",
    random_case=_log_sigmoid_random,
)


@LOG_SIGMOID.mistake(
    "log(sigmoid(x)) underflows to -inf for very negative x",
    "use the stable identity log σ(x) = min(x, 0) − log(1 + exp(−|x|)).",
)
def log_sigmoid_x_underflows_to_inf(x):
    return torch.log(1 / (1 + torch.exp(-x)))


@LOG_SIGMOID.mistake(
    "−log(1 + exp(−x)) overflows for very negative x",
    "exp(−x) is inf when x ≪ 0: split on the sign, min(x, 0) − log1p(exp(−|x|)).",
)
def log_1_exp_x_overflows_for(x):
    return -torch.log1p(torch.exp(-x))


@LOG_SIGMOID.mistake("sign flip (computed log σ(−x))", "log σ(x) is ≤ 0 and tends to 0 as x → +∞.")
def sign_flip_computed_log_x(x):
    return torch.clamp(-x, max=0) - torch.log1p(torch.exp(-x.abs()))


@LOG_SIGMOID.mistake("computed softplus(x) = log(1 + eˣ) instead", "log σ(x) = −softplus(−x).")
def computed_softplus_x_log_1_e(x):
    return torch.clamp(x, min=0) + torch.log1p(torch.exp(-x.abs()))


@LOG_SIGMOID.mistake(
    "dropped the min(x, 0) term of the stable formula",
    "log σ(x) = min(x, 0) − log1p(exp(−|x|)); without min(x, 0) it is wrong for negative x.",
)
def dropped_the_min_x_0_term(x):
    return -torch.log1p(torch.exp(-x.abs()))


@LOG_SIGMOID.mistake(
    "used max(x, 0) where min(x, 0) belongs",
    "the linear part of log σ(x) is min(x, 0): it only matters for negative x.",
)
def used_max_x_0_where_min(x):
    return torch.clamp(x, min=0) - torch.log1p(torch.exp(-x.abs()))


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


def _masked_mean_random(g: torch.Generator) -> Case:
    """Any shape, a 0/1 mask of int, bool or float, at least one kept entry along ``dim``."""
    shape, dtype = (*draw_leading(g), draw_int(g, 1, 8)), _dtype(g)
    dim = draw_int(g, -len(shape), len(shape) - 1)
    mask = (torch.rand(shape, generator=g) < 0.6).index_fill(dim, torch.tensor([0]), True)
    mask = mask.to(draw_choice(g, (torch.int64, torch.bool, dtype)))
    return Case(
        f"values {list(shape)}, a {str(mask.dtype).removeprefix('torch.')} mask, dim={dim}",
        (torch.randn(shape, generator=g, dtype=dtype), mask),
        {"dim": dim},
    )


MASKED_MEAN = Exercise(
    "masked_mean",
    points=1,
    make_cases=_masked_mean_cases,
    grads=("values",),
    summary="masked mean over padded sequences",
    random_case=_masked_mean_random,
)


@MASKED_MEAN.mistake(
    "zeroed the padding in place (values.mul_(mask))",
    "an in-place op changes the caller's tensor (and breaks autograd): use values * mask.",
)
def zeroed_padding_in_place(values, mask, dim=-1):
    m = mask.to(values.dtype)
    return values.mul_(m).sum(dim) / m.sum(dim)


@MASKED_MEAN.mistake(
    "divided by the padded length instead of the number of real tokens",
    "each row's mean is its masked sum divided by *its own* mask.sum(dim).",
)
def divided_by_the_padded_length_instead(values, mask, dim=-1):
    m = mask.to(values.dtype)
    return (values * m).sum(dim) / values.shape[dim]


@MASKED_MEAN.mistake(
    "forgot the mask (averaged padding too)",
    "padding positions must not contribute: multiply by the mask before summing.",
)
def forgot_the_mask_averaged_padding_too(values, mask, dim=-1):
    return values.mean(dim)


@MASKED_MEAN.mistake("returned the masked sum, not the mean", "divide the masked sum by the number of real tokens.")
def returned_the_masked_sum_not_the(values, mask, dim=-1):
    m = mask.to(values.dtype)
    return (values * m).sum(dim)


@MASKED_MEAN.mistake(
    "averaged over the whole batch (a single number) instead of per row",
    "reduce over `dim` only: the result keeps the other dimensions.",
)
def averaged_over_the_whole_batch_a(values, mask, dim=-1):
    m = mask.to(values.dtype)
    return (values * m).sum() / m.sum()


@MASKED_MEAN.mistake("off by one in the count of real tokens", "the denominator is exactly mask.sum(dim), no +1 or −1.")
def off_by_one_in_the_count(values, mask, dim=-1):
    m = mask.to(values.dtype)
    return (values * m).sum(dim) / (m.sum(dim) + 1)


@MASKED_MEAN.mistake(
    "reduced over a fixed dimension instead of `dim`", "use the `dim` argument in both the sum and the count."
)
def reduced_over_a_fixed_dimension_instead(values, mask, dim=-1):
    m = mask.to(values.dtype)
    return (values * m).sum(-1) / m.sum(-1)


@MASKED_MEAN.mistake(
    "masked the wrong positions (kept padding, dropped tokens)",
    "the mask is 1 for real tokens: multiply by mask, not 1 − mask.",
)
def masked_the_wrong_positions_kept_padding(values, mask, dim=-1):
    m = mask.to(values.dtype)
    return (values * (1 - m)).sum(dim) / (1 - m).sum(dim)


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


def _token_logprobs_random(g: torch.Generator) -> Case:
    """[B, T, V] logits in either dtype and at any scale up to ±1000, [B, T] ids; T ≥ 2, V = 1 included."""
    B, T, V = draw_int(g, 1, 3), draw_int(g, 2, 6), draw_int(g, 1, 8)
    logits = torch.randn(B, T, V, generator=g, dtype=_dtype(g)) * draw_choice(g, (1.0, 30.0, 1000.0))
    ids = torch.randint(0, V, (B, T), generator=g)
    return Case(f"logits {[B, T, V]} ({str(logits.dtype).removeprefix('torch.')}), input_ids {[B, T]}", (logits, ids))


TOKEN_LOGPROBS = Exercise(
    "token_logprobs",
    points=2,
    make_cases=_token_logprobs_cases,
    grads=("logits",),
    summary="log-probability of each next token",
    random_case=_token_logprobs_random,
)


@TOKEN_LOGPROBS.mistake(
    "shifted the wrong way (logits at t+1 scored the token at t)",
    "the logits at position t predict the token at t+1: use logits[:, :-1] with input_ids[:, 1:].",
)
def shifted_the_wrong_way_logits_at(logits, input_ids):
    lp = torch.log_softmax(logits[:, 1:], -1)
    return lp.gather(-1, input_ids[:, :-1, None])[..., 0]


@TOKEN_LOGPROBS.mistake(
    "no shift (each position scored its own token)",
    "causal LMs predict the *next* token: pair logits[:, t] with input_ids[:, t+1]; the output has T−1 positions.",
)
def no_shift_each_position_scored_its(logits, input_ids):
    lp = torch.log_softmax(logits, -1)
    return lp.gather(-1, input_ids[..., None])[..., 0]


@TOKEN_LOGPROBS.mistake(
    "gathered raw logits instead of log-probabilities", "apply log_softmax over the vocabulary before gathering."
)
def gathered_raw_logits_instead_of_log_2(logits, input_ids):
    return logits[:, :-1].gather(-1, input_ids[:, 1:, None])[..., 0]


@TOKEN_LOGPROBS.mistake("returned probabilities instead of log-probabilities", "use log_softmax, not softmax.")
def returned_probabilities_instead_of_log_probabilities(logits, input_ids):
    p = torch.softmax(logits[:, :-1], -1)
    return p.gather(-1, input_ids[:, 1:, None])[..., 0]


@TOKEN_LOGPROBS.mistake(
    "normalised over the sequence dimension instead of the vocabulary",
    "log_softmax must run over the last dimension (V), not over positions.",
)
def normalised_over_the_sequence_dimension_instead(logits, input_ids):
    lp = torch.log_softmax(logits[:, :-1], 1)
    return lp.gather(-1, input_ids[:, 1:, None])[..., 0]


@TOKEN_LOGPROBS.mistake(
    "numerically unstable log(softmax)", "probabilities underflow to 0 for large logits: stay in log space."
)
def numerically_unstable_log_softmax_2(logits, input_ids):
    z = logits[:, :-1]
    p = z.exp() / z.exp().sum(-1, keepdim=True)
    return p.log().gather(-1, input_ids[:, 1:, None])[..., 0]


# --------------------------------------------------------------------------------------------
# train_bigram (integration: the training loop)
# --------------------------------------------------------------------------------------------


def _bigram_cases() -> list[Case]:
    g = seeded(6)
    return [
        Case("tokens [4, 9] over V = 5, 3 steps at lr 0.5", (torch.randint(0, 5, (4, 9), generator=g), 5, 3, 0.5)),
        Case(
            "a single sequence of 12 tokens, V = 7, 2 steps at lr 2",
            (torch.randint(0, 7, (1, 12), generator=g), 7, 2, 2.0),
        ),
        Case("tokens [6, 5] over V = 4, one step", (torch.randint(0, 4, (6, 5), generator=g), 4, 1, 1.0)),
        Case(
            "tokens [8, 16] over V = 6, 5 steps at lr 3 (hidden)",
            (torch.randint(0, 6, (8, 16), generator=g), 6, 5, 3.0),
            hidden=True,
        ),
    ]


def _bigram_random(g: torch.Generator) -> Case:
    """tokens [B, T] in [0, V) with T ≥ 2 (a single sequence and V = 2 included), 1 to 3 steps."""
    B, T, V = draw_int(g, 1, 4), draw_int(g, 2, 8), draw_int(g, 2, 6)
    steps, lr = draw_int(g, 1, 3), draw_choice(g, (0.5, 1.0, 2.0))
    tokens = torch.randint(0, V, (B, T), generator=g)
    return Case(f"tokens {[B, T]} over V = {V}, {steps} steps at lr {lr}", (tokens, V, steps, lr))


TRAIN_BIGRAM = Exercise(
    "train_bigram",
    points=3,
    make_cases=_bigram_cases,
    rtol=1e-4,
    atol=1e-5,
    detached=True,  # the text: "W [V, V] the trained logit table (detached)"
    summary="integration: a full-batch gradient-descent training loop for a bigram LM",
    random_case=_bigram_random,
)


def _bigram_step(W, tokens, lr, shift=True, reduction="mean", ascend=False, zero=True):
    """One full-batch step of the bigram loop, with a switch per mistake; returns the loss before it."""
    inputs, targets = (tokens[:, :-1], tokens[:, 1:]) if shift else (tokens, tokens)
    loss = F.cross_entropy(W[inputs].reshape(-1, W.shape[0]), targets.reshape(-1), reduction=reduction)
    loss.backward()
    with torch.no_grad():
        W += (lr if ascend else -lr) * W.grad
        if zero:
            W.grad.zero_()
    return loss.item()


@TRAIN_BIGRAM.mistake(
    "never zeroed the gradient, so each step used the sum of all gradients so far",
    "PyTorch accumulates into W.grad: call W.grad.zero_() (or set it to None) after every update.",
)
def no_zero_grad(tokens, vocab_size, steps, lr):
    W = torch.zeros(vocab_size, vocab_size, requires_grad=True)
    losses = [_bigram_step(W, tokens, lr, zero=False) for _ in range(steps)]
    return W.detach(), losses


@TRAIN_BIGRAM.mistake(
    "returned W still attached to the graph (requires_grad)",
    "return W.detach(): the caller gets a plain table, not a leaf that keeps collecting gradients.",
)
def w_attached(tokens, vocab_size, steps, lr):
    W = torch.zeros(vocab_size, vocab_size, requires_grad=True)
    losses = [_bigram_step(W, tokens, lr) for _ in range(steps)]
    return W, losses


@TRAIN_BIGRAM.mistake(
    "stepped up the gradient (W += lr · grad), maximising the loss", "descent subtracts: W ← W − lr · ∇W."
)
def gradient_ascent(tokens, vocab_size, steps, lr):
    W = torch.zeros(vocab_size, vocab_size, requires_grad=True)
    losses = [_bigram_step(W, tokens, lr, ascend=True) for _ in range(steps)]
    return W.detach(), losses


@TRAIN_BIGRAM.mistake(
    "recorded the loss after the update instead of before it",
    "append loss.item() right after computing it, before backward() and the step.",
)
def loss_after_update(tokens, vocab_size, steps, lr):
    W = torch.zeros(vocab_size, vocab_size, requires_grad=True)
    losses = []
    for _ in range(steps):
        _bigram_step(W, tokens, lr)
        losses.append(F.cross_entropy(W[tokens[:, :-1]].reshape(-1, vocab_size), tokens[:, 1:].reshape(-1)).item())
    return W.detach(), losses


@TRAIN_BIGRAM.mistake(
    "paired each token with itself (no shift), so the model learned to copy",
    "the logits row of token t predicts token t + 1: inputs tokens[:, :-1], targets tokens[:, 1:].",
)
def no_shift(tokens, vocab_size, steps, lr):
    W = torch.zeros(vocab_size, vocab_size, requires_grad=True)
    losses = [_bigram_step(W, tokens, lr, shift=False) for _ in range(steps)]
    return W.detach(), losses


@TRAIN_BIGRAM.mistake(
    "summed the loss over positions instead of averaging",
    "the loss is the *mean* cross-entropy; a sum scales every step by the number of tokens.",
)
def summed_loss(tokens, vocab_size, steps, lr):
    W = torch.zeros(vocab_size, vocab_size, requires_grad=True)
    losses = [_bigram_step(W, tokens, lr, reduction="sum") for _ in range(steps)]
    return W.detach(), losses


@TRAIN_BIGRAM.mistake(
    "re-created W inside the loop, so every step started again from zeros",
    "create the parameters once, before the loop; the loop only updates them.",
)
def fresh_weights_each_step(tokens, vocab_size, steps, lr):
    losses = []
    for _ in range(steps):
        W = torch.zeros(vocab_size, vocab_size, requires_grad=True)
        losses.append(_bigram_step(W, tokens, lr))
    return W.detach(), losses


EXERCISES = [LOG_SOFTMAX, CROSS_ENTROPY, KL_DIVERGENCE, LOG_SIGMOID, MASKED_MEAN, TOKEN_LOGPROBS, TRAIN_BIGRAM]
