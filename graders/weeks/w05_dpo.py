"""Week 5 exercises: DPO. Cases and known mistakes for each exercise.

The reference implementations live in ``solutions/w05_dpo/w05_dpo.py``.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from graders.core import Case, Exercise, Traced, draw_choice, draw_int, seeded
from graders.weeks.fixtures import tiny_gpt2, tiny_gpt2_state

PAIR = ("policy_chosen_logps", "policy_rejected_logps")  # the inputs a pair loss trains through


def _logps(g: torch.Generator, n: int, scale: float = 8.0, dtype: torch.dtype = torch.float32) -> tuple:
    """Four [n] sequence log-probabilities: policy chosen/rejected, reference chosen/rejected."""
    ref_c, ref_r = (-torch.rand(n, generator=g, dtype=dtype) * 40 - 5 for _ in range(2))
    return (
        ref_c + torch.randn(n, generator=g, dtype=dtype) * scale,
        ref_r + torch.randn(n, generator=g, dtype=dtype) * scale,
        ref_c,
        ref_r,
    )


# Log-ratio differences of thousands (stability); chosen then rejected, policy then reference.
BIG = tuple(
    torch.tensor(v)
    for v in ([-5e3, -20, -40, -3e3], [-10, -6e3, -35, -30], [-30, -25, -38, -33.0], [-12, -28, -36, -31.0])
)


# --------------------------------------------------------------------------------------------
# sequence_logprobs
# --------------------------------------------------------------------------------------------


def _seq_case(g: torch.Generator, describe: str, mask: list, v: int, scale: float = 1.0, **kw: Any) -> Case:
    m = torch.tensor(mask)
    b, t = m.shape
    dtype = kw.pop("dtype", torch.float32)
    logits = torch.randn(b, t, v, generator=g, dtype=dtype) * scale
    return Case(describe, (logits, torch.randint(0, v, (b, t), generator=g), m), **kw)


def _seq_cases() -> list[Case]:
    g = seeded(50)
    return [
        _seq_case(g, "logits [2, 7, 9]: prompts of 3 tokens, completions of 4 and 2, right-padded", [[0, 0, 0, 1, 1, 1, 1], [0, 0, 0, 1, 1, 0, 0]], 9, 2),
        _seq_case(g, "a batch of one: a single completion token at the end", [[0, 0, 0, 0, 1]], 6),
        _seq_case(g, "logits [2, 6, 5] with values near ±1000", [[0, 0, 1, 1, 1, 0], [0, 1, 1, 1, 1, 1]], 5, 1000),
        _seq_case(g, "prompts of 2 and 4 tokens, logits [3, 8, 10]", [[0, 0, 1, 1, 1, 1, 0, 0], [0, 0, 0, 0, 1, 1, 1, 1], [0, 0, 1, 1, 1, 0, 0, 0]], 10),
        _seq_case(g, "float64 logits [2, 5, 7], a bool completion mask", [[False, False, True, True, False], [False, True, True, True, True]], 7, 3, dtype=torch.float64),
        _seq_case(g, "a TRL-style batch [4, 9, 11] (chosen rows, then rejected rows)", [[0, 0, 0, 0, 1, 1, 1, 1, 1], [0, 0, 0, 1, 1, 0, 0, 0, 0], [0, 0, 0, 0, 1, 1, 0, 0, 0], [0, 0, 0, 1, 1, 1, 1, 1, 0]], 11, 1.5, hidden=True),
    ]  # fmt: skip


def _seq_random(g: torch.Generator) -> Case:
    """Any batch, length and vocabulary; a completion mask of int or bool, left or right of the prompt."""
    b, t, v = draw_int(g, 1, 4), draw_int(g, 2, 9), draw_int(g, 2, 12)
    starts = [draw_int(g, 1, t - 1) for _ in range(b)]
    ends = [draw_int(g, s, t) for s in starts]  # completion tokens starts[i]..ends[i]−1, then padding
    mask = [[int(s <= j < e) for j in range(t)] for s, e in zip(starts, ends)]
    if draw_int(g, 0, 1):
        mask = [[bool(m) for m in row] for row in mask]
    dtype = draw_choice(g, (torch.float32, torch.float64))
    return _seq_case(
        g,
        f"logits [{b}, {t}, {v}] ({str(dtype).removeprefix('torch.')})",
        mask,
        v,
        draw_choice(g, (1.0, 100.0)),
        dtype=dtype,
    )


SEQUENCE_LOGPROBS = Exercise(
    "sequence_logprobs",
    points=2,
    make_cases=_seq_cases,
    grads=("logits",),
    summary="log-probability of the completion tokens",
    random_case=_seq_random,
)


@SEQUENCE_LOGPROBS.mistake(
    "no shift: the logits at t scored the token at t", "the logits at t − 1 predict the token at t."
)
def no_shift(logits, input_ids, completion_mask):
    lp = torch.log_softmax(logits, -1).gather(-1, input_ids[..., None])[..., 0]
    return (lp * completion_mask.to(lp.dtype)).sum(-1)


@SEQUENCE_LOGPROBS.mistake(
    "shifted the tokens but not the mask (used completion_mask[:, :-1])",
    "entry t of the shifted log-probs scores token t + 1: mask it with completion_mask[:, 1:].",
)
def mask_not_shifted(logits, input_ids, completion_mask):
    lp = torch.log_softmax(logits[:, :-1], -1).gather(-1, input_ids[:, 1:, None])[..., 0]
    return (lp * completion_mask[:, :-1].to(lp.dtype)).sum(-1)


@SEQUENCE_LOGPROBS.mistake(
    "forgot the completion mask (prompt and padding counted too)", "multiply by completion_mask[:, 1:] before summing."
)
def no_mask(logits, input_ids, completion_mask):
    return torch.log_softmax(logits[:, :-1], -1).gather(-1, input_ids[:, 1:, None])[..., 0].sum(-1)


@SEQUENCE_LOGPROBS.mistake(
    "averaged over completion tokens instead of summing", "log π(y | x) is the *sum* of the token log-probabilities."
)
def averaged(logits, input_ids, completion_mask):
    lp = torch.log_softmax(logits[:, :-1], -1).gather(-1, input_ids[:, 1:, None])[..., 0]
    m = completion_mask[:, 1:].to(lp.dtype)
    return (lp * m).sum(-1) / m.sum(-1)


@SEQUENCE_LOGPROBS.mistake("gathered raw logits instead of log-probabilities", "log_softmax over V before gathering.")
def raw_logits(logits, input_ids, completion_mask):
    lp = logits[:, :-1].gather(-1, input_ids[:, 1:, None])[..., 0]
    return (lp * completion_mask[:, 1:].to(lp.dtype)).sum(-1)


@SEQUENCE_LOGPROBS.mistake(
    "normalised over the sequence dimension instead of the vocabulary", "log_softmax over dim −1."
)
def wrong_axis(logits, input_ids, completion_mask):
    lp = torch.log_softmax(logits[:, :-1], 1).gather(-1, input_ids[:, 1:, None])[..., 0]
    return (lp * completion_mask[:, 1:].to(lp.dtype)).sum(-1)


@SEQUENCE_LOGPROBS.mistake(
    "numerically unstable log(softmax)", "softmax underflows to 0 and log 0 = −inf (−inf · 0 = NaN): use log_softmax."
)
def unstable(logits, input_ids, completion_mask):
    z = logits[:, :-1]
    lp = (z.exp() / z.exp().sum(-1, keepdim=True)).log().gather(-1, input_ids[:, 1:, None])[..., 0]
    return (lp * completion_mask[:, 1:].to(lp.dtype)).sum(-1)


@SEQUENCE_LOGPROBS.mistake(
    "rebuilt the result from Python floats (torch.tensor of .item()s)",
    "torch.tensor([...]) makes a new leaf with no history: the model could not learn from it.",
)
def from_floats(logits, input_ids, completion_mask):
    lp = torch.log_softmax(logits[:, :-1], -1).gather(-1, input_ids[:, 1:, None])[..., 0]
    rows = (lp * completion_mask[:, 1:].to(lp.dtype)).sum(-1)
    return torch.tensor([r.item() for r in rows], dtype=logits.dtype)


# --------------------------------------------------------------------------------------------
# dpo_loss
# --------------------------------------------------------------------------------------------


def _dpo_cases() -> list[Case]:
    g = seeded(51)
    same, same_r = -torch.rand(5, generator=g) * 30, -torch.rand(5, generator=g) * 30
    return [
        Case("a batch of 8 pairs, β = 0.1 (default)", _logps(g, 8)),
        Case("a batch of 6 pairs, β = 0.5", _logps(g, 6), {"beta": 0.5}),
        Case("log-ratio differences of thousands, β = 1 (stability)", BIG, {"beta": 1.0}),
        Case("float64 log-probabilities, 5 pairs, β = 0.2", _logps(g, 5, dtype=torch.float64), {"beta": 0.2}),
        Case("a batch of one pair, β = 0.05", _logps(g, 1, scale=20), {"beta": 0.05}),
        Case("policy equal to the reference (loss must be log 2)", (same, same_r, same, same_r), hidden=True),
        Case("a batch of 10 pairs, β = 2", _logps(g, 10, scale=3), {"beta": 2.0}, hidden=True),
    ]


def _pair_random(g: torch.Generator) -> Case:
    """A batch of pairs of any size, either dtype, any spread of log-ratios, a β from the usual range."""
    n, dtype, scale = (
        draw_int(g, 1, 16),
        draw_choice(g, (torch.float32, torch.float64)),
        draw_choice(g, (0.0, 3.0, 8.0, 200.0)),
    )
    beta = draw_choice(g, (0.05, 0.1, 0.5, 2.0))
    return Case(
        f"{n} pairs ({str(dtype).removeprefix('torch.')}), spread {scale}, β = {beta}",
        _logps(g, n, scale, dtype),
        {"beta": beta},
    )


DPO_LOSS = Exercise(
    "dpo_loss",
    points=2,
    make_cases=_dpo_cases,
    grads=PAIR,
    summary="the DPO (sigmoid) loss",
    random_case=_pair_random,
)


@DPO_LOSS.mistake("sign flip (rejected minus chosen)", "σ(β·(chosen log-ratio − rejected log-ratio)): chosen first.")
def sign_flip(policy_chosen_logps, policy_rejected_logps, ref_chosen_logps, ref_rejected_logps, beta=0.1):
    c, r = policy_chosen_logps - ref_chosen_logps, policy_rejected_logps - ref_rejected_logps
    return -F.logsigmoid(beta * (r - c)).mean()


@DPO_LOSS.mistake("forgot β", "multiply the log-ratio difference by β before the log-sigmoid.")
def no_beta(policy_chosen_logps, policy_rejected_logps, ref_chosen_logps, ref_rejected_logps, beta=0.1):
    c, r = policy_chosen_logps - ref_chosen_logps, policy_rejected_logps - ref_rejected_logps
    return -F.logsigmoid(c - r).mean()


@DPO_LOSS.mistake("ignored the reference model", "the implicit reward is a log-*ratio*: subtract the reference.")
def no_reference(policy_chosen_logps, policy_rejected_logps, ref_chosen_logps, ref_rejected_logps, beta=0.1):
    return -F.logsigmoid(beta * (policy_chosen_logps - policy_rejected_logps)).mean()


@DPO_LOSS.mistake("summed over the batch instead of averaging", "return the mean over pairs, as TRL does.")
def summed(policy_chosen_logps, policy_rejected_logps, ref_chosen_logps, ref_rejected_logps, beta=0.1):
    c, r = policy_chosen_logps - ref_chosen_logps, policy_rejected_logps - ref_rejected_logps
    return -F.logsigmoid(beta * (c - r)).sum()


@DPO_LOSS.mistake(
    "log(sigmoid(x)) is numerically unstable", "σ(−large) underflows to 0, log 0 = −inf: use F.logsigmoid."
)
def unstable_logsigmoid(policy_chosen_logps, policy_rejected_logps, ref_chosen_logps, ref_rejected_logps, beta=0.1):
    c, r = policy_chosen_logps - ref_chosen_logps, policy_rejected_logps - ref_rejected_logps
    return -torch.log(torch.sigmoid(beta * (c - r))).mean()


@DPO_LOSS.mistake("divided by β instead of multiplying", "the implicit reward is β · log-ratio.")
def divided_by_beta(policy_chosen_logps, policy_rejected_logps, ref_chosen_logps, ref_rejected_logps, beta=0.1):
    c, r = policy_chosen_logps - ref_chosen_logps, policy_rejected_logps - ref_rejected_logps
    return -F.logsigmoid((c - r) / beta).mean()


@DPO_LOSS.mistake("applied β to the chosen log-ratio only", "β multiplies the whole difference.")
def beta_on_chosen_only(policy_chosen_logps, policy_rejected_logps, ref_chosen_logps, ref_rejected_logps, beta=0.1):
    c, r = policy_chosen_logps - ref_chosen_logps, policy_rejected_logps - ref_rejected_logps
    return -F.logsigmoid(beta * c - r).mean()


@DPO_LOSS.mistake("forgot the minus sign (returned the log-likelihood, not the loss)", "the loss −log σ(...) is ≥ 0.")
def no_minus(policy_chosen_logps, policy_rejected_logps, ref_chosen_logps, ref_rejected_logps, beta=0.1):
    c, r = policy_chosen_logps - ref_chosen_logps, policy_rejected_logps - ref_rejected_logps
    return F.logsigmoid(beta * (c - r)).mean()


@DPO_LOSS.mistake(
    "computed the loss from detached log-probabilities",
    "the number is right but nothing can train through it: drop the .detach().",
)
def detached(policy_chosen_logps, policy_rejected_logps, ref_chosen_logps, ref_rejected_logps, beta=0.1):
    c = policy_chosen_logps.detach() - ref_chosen_logps
    r = policy_rejected_logps.detach() - ref_rejected_logps
    return -F.logsigmoid(beta * (c - r)).mean()


# --------------------------------------------------------------------------------------------
# implicit_reward_metrics
# --------------------------------------------------------------------------------------------


def _metrics_cases() -> list[Case]:
    g = seeded(52)
    ref_c, ref_r = -torch.rand(6, generator=g) * 30 - 5, -torch.rand(6, generator=g) * 30 - 5
    half_tied = (
        [-10.0, -12.0, -8.0, -30.0],
        [-11.0, -12.0, -9.0, -20.0],
        [-10.0, -12.0, -9.0, -25.0],
        [-11.0, -12.0, -9.5, -28.0],
    )
    return [
        Case("a batch of 8 pairs, β = 0.1", _logps(g, 8)),
        Case("a batch of 6 pairs, β = 0.5", _logps(g, 6), {"beta": 0.5}),
        Case("the first step: policy equal to the reference (every pair a tie)", (ref_c, ref_r, ref_c, ref_r)),
        Case("half of the pairs tied, β = 0.2", tuple(torch.tensor(v) for v in half_tied), {"beta": 0.2}),
        Case("a batch of one pair, β = 1", _logps(g, 1), {"beta": 1.0}),
        Case("float64, 12 pairs, β = 0.05", _logps(g, 12, dtype=torch.float64), {"beta": 0.05}, hidden=True),
    ]  # fmt: skip


IMPLICIT_REWARD_METRICS = Exercise(
    "implicit_reward_metrics",
    points=1,
    make_cases=_metrics_cases,
    summary="TRL's implicit-reward metrics",
    random_case=_pair_random,
)


def _reward_metrics(c, r, margins=None, accuracies=None):
    """TRL's four implicit-reward metrics of rewards c, r, with a switch for two of them."""
    margins = (c - r).mean().item() if margins is None else margins
    accuracies = (c > r).float().mean().item() if accuracies is None else accuracies
    return {"rewards/chosen": c.mean().item(), "rewards/rejected": r.mean().item(),
            "rewards/margins": margins, "rewards/accuracies": accuracies}  # fmt: skip


@IMPLICIT_REWARD_METRICS.mistake("forgot β in the implicit rewards", "the implicit reward is β · (log π − log π_ref).")
def metrics_no_beta(policy_chosen_logps, policy_rejected_logps, ref_chosen_logps, ref_rejected_logps, beta=0.1):
    c, r = policy_chosen_logps - ref_chosen_logps, policy_rejected_logps - ref_rejected_logps
    return _reward_metrics(c, r)


@IMPLICIT_REWARD_METRICS.mistake(
    "counted ties as correct (>= instead of >)", "TRL counts only strictly larger chosen rewards; step 0 is all ties."
)
def ties_correct(policy_chosen_logps, policy_rejected_logps, ref_chosen_logps, ref_rejected_logps, beta=0.1):
    c, r = beta * (policy_chosen_logps - ref_chosen_logps), beta * (policy_rejected_logps - ref_rejected_logps)
    return _reward_metrics(c, r, accuracies=(c >= r).float().mean().item())


@IMPLICIT_REWARD_METRICS.mistake("margin sign flipped (rejected minus chosen)", "the margin is chosen minus rejected.")
def margin_flipped(policy_chosen_logps, policy_rejected_logps, ref_chosen_logps, ref_rejected_logps, beta=0.1):
    c, r = beta * (policy_chosen_logps - ref_chosen_logps), beta * (policy_rejected_logps - ref_rejected_logps)
    return _reward_metrics(c, r, margins=(r - c).mean().item())


@IMPLICIT_REWARD_METRICS.mistake("left out the reference model (rewards β · log π)", "subtract ref_*_logps.")
def metrics_no_reference(policy_chosen_logps, policy_rejected_logps, ref_chosen_logps, ref_rejected_logps, beta=0.1):
    c, r = beta * policy_chosen_logps, beta * policy_rejected_logps
    return _reward_metrics(c, r)


@IMPLICIT_REWARD_METRICS.mistake(
    "reward as reference minus policy (every reward negated)", "policy first: β(log π_θ − log π_ref)."
)
def reward_negated(policy_chosen_logps, policy_rejected_logps, ref_chosen_logps, ref_rejected_logps, beta=0.1):
    c, r = beta * (ref_chosen_logps - policy_chosen_logps), beta * (ref_rejected_logps - policy_rejected_logps)
    return _reward_metrics(c, r)


@IMPLICIT_REWARD_METRICS.mistake("averaged the absolute margins", "the mean margin keeps its sign.")
def abs_margins(policy_chosen_logps, policy_rejected_logps, ref_chosen_logps, ref_rejected_logps, beta=0.1):
    c, r = beta * (policy_chosen_logps - ref_chosen_logps), beta * (policy_rejected_logps - ref_rejected_logps)
    return _reward_metrics(c, r, margins=(c - r).abs().mean().item())


# --------------------------------------------------------------------------------------------
# ipo_loss
# --------------------------------------------------------------------------------------------


def _ipo_cases() -> list[Case]:
    g = seeded(53)

    def lengths(n: int) -> tuple[torch.Tensor, torch.Tensor]:
        return torch.randint(2, 20, (n,), generator=g), torch.randint(2, 20, (n,), generator=g)

    ones = torch.ones(5, dtype=torch.long)
    zeros = (torch.tensor([3.0, 0.0, 7.0, 12.0]), torch.tensor([5.0, 9.0, 0.0, 2.0]))
    return [
        Case("8 pairs, integer lengths, β = 0.1", (*_logps(g, 8), *lengths(8))),
        Case("6 pairs, β = 0.5", (*_logps(g, 6), *lengths(6)), {"beta": 0.5}),
        Case("equal lengths of 1 (no normalisation effect), β = 0.25", (*_logps(g, 5, scale=2), ones, ones), {"beta": 0.25}),
        Case("float lengths, one of them 0 (treated as 1), β = 1", (*_logps(g, 4), *zeros), {"beta": 1.0}),
        Case("float64, 5 pairs, β = 0.05", (*_logps(g, 5, dtype=torch.float64), *lengths(5)), {"beta": 0.05}),
        Case("a batch of one pair, β = 0.3", (*_logps(g, 1, scale=30), *lengths(1)), {"beta": 0.3}, hidden=True),
        Case("12 pairs, β = 2", (*_logps(g, 12), *lengths(12)), {"beta": 2.0}, hidden=True),
    ]  # fmt: skip


def _ipo_random(g: torch.Generator) -> Case:
    """Lengths as int64 or as floats (0 allowed: treated as 1)."""
    case = _pair_random(g)
    n = len(case.args[0])
    lengths = [torch.randint(0, 20, (n,), generator=g) for _ in range(2)]
    if draw_int(g, 0, 1):
        lengths = [x.float() for x in lengths]
    return Case(
        f"{case.describe}, {str(lengths[0].dtype).removeprefix('torch.')} lengths", (*case.args, *lengths), case.kwargs
    )


IPO_LOSS = Exercise(
    "ipo_loss",
    points=2,
    make_cases=_ipo_cases,
    grads=PAIR,
    summary="the IPO loss (TRL's per-token normalisation)",
    random_case=_ipo_random,
)


def _ipo_ratios(policy_chosen_logps, policy_rejected_logps, ref_chosen_logps, ref_rejected_logps, chosen_lengths, rejected_lengths):  # fmt: skip
    """Each response's log-ratio divided by its length (at least 1)."""
    c = (policy_chosen_logps - ref_chosen_logps) / chosen_lengths.clamp(min=1)
    return c, (policy_rejected_logps - ref_rejected_logps) / rejected_lengths.clamp(min=1)


@IPO_LOSS.mistake("no per-token normalisation (the paper's formula, not TRL's)", "divide each log-ratio by its length.")
def no_length_normalisation(
    policy_chosen_logps, policy_rejected_logps, ref_chosen_logps, ref_rejected_logps, chosen_lengths, rejected_lengths, beta=0.1
):  # fmt: skip
    c, r = policy_chosen_logps - ref_chosen_logps, policy_rejected_logps - ref_rejected_logps
    return ((c - r - 1 / (2 * beta)) ** 2).mean()


@IPO_LOSS.mistake("target 1/β instead of 1/(2β)", "IPO's target margin is 1 / (2β) (β is the paper's τ).")
def target_one_over_beta(
    policy_chosen_logps, policy_rejected_logps, ref_chosen_logps, ref_rejected_logps, chosen_lengths, rejected_lengths, beta=0.1
):  # fmt: skip
    c, r = _ipo_ratios(policy_chosen_logps, policy_rejected_logps, ref_chosen_logps, ref_rejected_logps, chosen_lengths, rejected_lengths)  # fmt: skip
    return ((c - r - 1 / beta) ** 2).mean()


@IPO_LOSS.mistake("added the target instead of subtracting it", "(h − 1/(2β))² pulls h *towards* +1/(2β).")
def target_added(
    policy_chosen_logps, policy_rejected_logps, ref_chosen_logps, ref_rejected_logps, chosen_lengths, rejected_lengths, beta=0.1
):  # fmt: skip
    c, r = _ipo_ratios(policy_chosen_logps, policy_rejected_logps, ref_chosen_logps, ref_rejected_logps, chosen_lengths, rejected_lengths)  # fmt: skip
    return ((c - r + 1 / (2 * beta)) ** 2).mean()


@IPO_LOSS.mistake("absolute error instead of squared error", "IPO is a squared loss: (h − 1/(2β))².")
def absolute_error(
    policy_chosen_logps, policy_rejected_logps, ref_chosen_logps, ref_rejected_logps, chosen_lengths, rejected_lengths, beta=0.1
):  # fmt: skip
    c, r = _ipo_ratios(policy_chosen_logps, policy_rejected_logps, ref_chosen_logps, ref_rejected_logps, chosen_lengths, rejected_lengths)  # fmt: skip
    return (c - r - 1 / (2 * beta)).abs().mean()


@IPO_LOSS.mistake("multiplied the margin by β as in DPO", "in IPO β only sets the target 1/(2β).")
def beta_times_margin(
    policy_chosen_logps, policy_rejected_logps, ref_chosen_logps, ref_rejected_logps, chosen_lengths, rejected_lengths, beta=0.1
):  # fmt: skip
    c, r = _ipo_ratios(policy_chosen_logps, policy_rejected_logps, ref_chosen_logps, ref_rejected_logps, chosen_lengths, rejected_lengths)  # fmt: skip
    return ((beta * (c - r) - 1 / (2 * beta)) ** 2).mean()


@IPO_LOSS.mistake("normalised both log-ratios by the chosen length", "each response is divided by its own length.")
def chosen_length_for_both(
    policy_chosen_logps, policy_rejected_logps, ref_chosen_logps, ref_rejected_logps, chosen_lengths, rejected_lengths, beta=0.1
):  # fmt: skip
    lc = chosen_lengths.clamp(min=1)
    c, r = (policy_chosen_logps - ref_chosen_logps) / lc, (policy_rejected_logps - ref_rejected_logps) / lc
    return ((c - r - 1 / (2 * beta)) ** 2).mean()


@IPO_LOSS.mistake("summed over the batch instead of averaging", "return the mean over pairs.")
def ipo_summed(
    policy_chosen_logps, policy_rejected_logps, ref_chosen_logps, ref_rejected_logps, chosen_lengths, rejected_lengths, beta=0.1
):  # fmt: skip
    c, r = _ipo_ratios(policy_chosen_logps, policy_rejected_logps, ref_chosen_logps, ref_rejected_logps, chosen_lengths, rejected_lengths)  # fmt: skip
    return ((c - r - 1 / (2 * beta)) ** 2).sum()


@IPO_LOSS.mistake("clamped the lengths in place (clamp_)", "clamp_ changes the caller's lengths: use clamp(min=1).")
def clamped_in_place(
    policy_chosen_logps, policy_rejected_logps, ref_chosen_logps, ref_rejected_logps, chosen_lengths, rejected_lengths, beta=0.1
):  # fmt: skip
    c = (policy_chosen_logps - ref_chosen_logps) / chosen_lengths.clamp_(min=1)
    r = (policy_rejected_logps - ref_rejected_logps) / rejected_lengths.clamp_(min=1)
    return ((c - r - 1 / (2 * beta)) ** 2).mean()


# --------------------------------------------------------------------------------------------
# robust_dpo_loss
# --------------------------------------------------------------------------------------------


def _robust_cases() -> list[Case]:
    g = seeded(54)
    return [
        Case("8 pairs, β = 0.1, ε = 0.1 (defaults)", _logps(g, 8)),
        Case("6 pairs, β = 0.5, ε = 0.3", _logps(g, 6), {"beta": 0.5, "label_smoothing": 0.3}),
        Case("ε = 0: must equal the DPO loss (5 pairs, β = 0.2)", _logps(g, 5), {"beta": 0.2, "label_smoothing": 0.0}),
        Case("log-ratio differences of thousands, β = 1, ε = 0.2", BIG, {"beta": 1.0, "label_smoothing": 0.2}),
        Case("float64, 7 pairs, β = 0.1, ε = 0.05", _logps(g, 7, dtype=torch.float64), {"label_smoothing": 0.05}),
        Case("a batch of one pair, β = 0.3, ε = 0.4", _logps(g, 1, scale=15), {"beta": 0.3, "label_smoothing": 0.4}, hidden=True),
        Case("10 pairs, β = 2, ε = 0.25", _logps(g, 10, scale=2), {"beta": 2.0, "label_smoothing": 0.25}, hidden=True),
    ]  # fmt: skip


def _robust_random(g: torch.Generator) -> Case:
    case = _pair_random(g)
    eps = draw_choice(g, (0.0, 0.1, 0.25, 0.4))
    return Case(f"{case.describe}, ε = {eps}", case.args, {**case.kwargs, "label_smoothing": eps})


ROBUST_DPO_LOSS = Exercise(
    "robust_dpo_loss",
    points=2,
    make_cases=_robust_cases,
    grads=PAIR,
    summary="robust DPO (TRL's loss_type='robust')",
    random_case=_robust_random,
)


def _robust_z(policy_chosen_logps, policy_rejected_logps, ref_chosen_logps, ref_rejected_logps, beta):
    """β times the difference of the log-ratios, chosen minus rejected."""
    return beta * (policy_chosen_logps - ref_chosen_logps - (policy_rejected_logps - ref_rejected_logps))


@ROBUST_DPO_LOSS.mistake(
    "used conservative DPO (cDPO: plain label smoothing) instead of robust DPO",
    "robust DPO *subtracts* ε·ℓ(−z) and divides by 1 − 2ε.",
)
def cdpo_instead(policy_chosen_logps, policy_rejected_logps, ref_chosen_logps, ref_rejected_logps, beta=0.1, label_smoothing=0.1):  # fmt: skip
    e, z = label_smoothing, _robust_z(policy_chosen_logps, policy_rejected_logps, ref_chosen_logps, ref_rejected_logps, beta)  # fmt: skip
    return ((1 - e) * -F.logsigmoid(z) + e * -F.logsigmoid(-z)).mean()


@ROBUST_DPO_LOSS.mistake("forgot to divide by 1 − 2ε", "the factor 1/(1 − 2ε) makes the estimate unbiased.")
def no_normaliser(policy_chosen_logps, policy_rejected_logps, ref_chosen_logps, ref_rejected_logps, beta=0.1, label_smoothing=0.1):  # fmt: skip
    e, z = label_smoothing, _robust_z(policy_chosen_logps, policy_rejected_logps, ref_chosen_logps, ref_rejected_logps, beta)  # fmt: skip
    return ((1 - e) * -F.logsigmoid(z) - e * -F.logsigmoid(-z)).mean()


@ROBUST_DPO_LOSS.mistake("swapped the weights ε and 1 − ε", "ℓ(z), the observed label's term, gets weight 1 − ε.")
def weights_swapped(policy_chosen_logps, policy_rejected_logps, ref_chosen_logps, ref_rejected_logps, beta=0.1, label_smoothing=0.1):  # fmt: skip
    e, z = label_smoothing, _robust_z(policy_chosen_logps, policy_rejected_logps, ref_chosen_logps, ref_rejected_logps, beta)  # fmt: skip
    return ((e * -F.logsigmoid(z) - (1 - e) * -F.logsigmoid(-z)) / (1 - 2 * e)).mean()


@ROBUST_DPO_LOSS.mistake("sign flip of the margin (rejected minus chosen)", "z = β·((π_c − ref_c) − (π_r − ref_r)).")
def robust_sign_flip(policy_chosen_logps, policy_rejected_logps, ref_chosen_logps, ref_rejected_logps, beta=0.1, label_smoothing=0.1):  # fmt: skip
    e, z = (
        label_smoothing,
        beta * (policy_rejected_logps - ref_rejected_logps - (policy_chosen_logps - ref_chosen_logps)),
    )
    return (((1 - e) * -F.logsigmoid(z) - e * -F.logsigmoid(-z)) / (1 - 2 * e)).mean()


@ROBUST_DPO_LOSS.mistake("divided by 1 − ε instead of 1 − 2ε", "the unbiasing factor is 1 / (1 − 2ε).")
def wrong_normaliser(policy_chosen_logps, policy_rejected_logps, ref_chosen_logps, ref_rejected_logps, beta=0.1, label_smoothing=0.1):  # fmt: skip
    e, z = label_smoothing, _robust_z(policy_chosen_logps, policy_rejected_logps, ref_chosen_logps, ref_rejected_logps, beta)  # fmt: skip
    return (((1 - e) * -F.logsigmoid(z) - e * -F.logsigmoid(-z)) / (1 - e)).mean()


@ROBUST_DPO_LOSS.mistake("forgot β", "z is β times the log-ratio difference.")
def robust_no_beta(policy_chosen_logps, policy_rejected_logps, ref_chosen_logps, ref_rejected_logps, beta=0.1, label_smoothing=0.1):  # fmt: skip
    e, z = label_smoothing, policy_chosen_logps - ref_chosen_logps - (policy_rejected_logps - ref_rejected_logps)
    return (((1 - e) * -F.logsigmoid(z) - e * -F.logsigmoid(-z)) / (1 - 2 * e)).mean()


@ROBUST_DPO_LOSS.mistake("log(sigmoid(x)) is numerically unstable", "σ(−large) underflows to 0: use F.logsigmoid.")
def robust_unstable(policy_chosen_logps, policy_rejected_logps, ref_chosen_logps, ref_rejected_logps, beta=0.1, label_smoothing=0.1):  # fmt: skip
    e, z = label_smoothing, _robust_z(policy_chosen_logps, policy_rejected_logps, ref_chosen_logps, ref_rejected_logps, beta)  # fmt: skip
    return (((1 - e) * -torch.log(torch.sigmoid(z)) + e * torch.log(torch.sigmoid(-z))) / (1 - 2 * e)).mean()


@ROBUST_DPO_LOSS.mistake(
    "computed the flipped-label term under torch.no_grad()",
    "the right number, but ε·ℓ(−z) then gets no gradient: only the clean term trains.",
)
def flipped_term_no_grad(policy_chosen_logps, policy_rejected_logps, ref_chosen_logps, ref_rejected_logps, beta=0.1, label_smoothing=0.1):  # fmt: skip
    e, z = label_smoothing, _robust_z(policy_chosen_logps, policy_rejected_logps, ref_chosen_logps, ref_rejected_logps, beta)  # fmt: skip
    with torch.no_grad():
        flipped = e * -F.logsigmoid(-z)
    return (((1 - e) * -F.logsigmoid(z) - flipped) / (1 - 2 * e)).mean()


# --------------------------------------------------------------------------------------------
# dpo_batch_loss: a tiny GPT-2 LM (graders/weeks/fixtures.py) on TRL-layout batches
# --------------------------------------------------------------------------------------------

VOCAB = 24


def _lm_state(seed: int) -> dict[str, torch.Tensor]:
    return tiny_gpt2_state(seed, vocab_size=VOCAB, lm_head=True, scale=0.5, unit_weight_suffix="ln_f.weight")


def _trl_batch(seed: int, prompts: list[list[int]], chosen: list[list[int]], rejected: list[list[int]]) -> dict:
    """A batch in TRL's layout (chosen rows, then rejected rows, right-padded with id 1)."""
    rows = [p + c for p, c in zip(prompts, chosen)] + [p + r for p, r in zip(prompts, rejected)]
    comp = [[0] * len(p) + [1] * len(c) for p, c in zip(prompts * 2, chosen + rejected)]
    width = max(len(r) for r in rows)
    g = seeded(seed)
    return {
        "input_ids": torch.tensor([r + [1] * (width - len(r)) for r in rows]),
        "attention_mask": torch.tensor([[1] * len(r) + [0] * (width - len(r)) for r in rows]),
        "completion_mask": torch.tensor([c + [0] * (width - len(c)) for c in comp]),
        "ref_chosen_logps": -torch.rand(len(prompts), generator=g) * 10 - 5,
        "ref_rejected_logps": -torch.rand(len(prompts), generator=g) * 10 - 5,
    }


def _batch_cases() -> list[Case]:
    b = _trl_batch
    return [
        Case("2 pairs (prompts of 3 and 2 tokens, completions of different lengths), β = 0.1", (b(60, [[5, 6, 7], [8, 9]], [[10, 11, 0], [12, 0]], [[13, 0], [14, 15, 16, 0]]),), {"state": _lm_state(61)}),
        Case("3 pairs, β = 0.5", (b(62, [[2, 3, 4, 5], [6, 7], [8, 9, 10]], [[11, 0], [12, 13, 14, 0], [15, 0]], [[16, 17, 18, 0], [19, 0], [20, 21, 0]]),), {"state": _lm_state(63), "beta": 0.5}),
        Case("a batch of one pair with a long prompt, β = 0.2", (b(64, [[3, 4, 5, 6, 7, 8, 9]], [[10, 11, 12, 0]], [[13, 0]]),), {"state": _lm_state(65), "beta": 0.2}),
        Case("4 pairs, β = 1 (other weights)", (b(66, [[2, 3], [4, 5, 6], [7], [8, 9, 10, 11]], [[12, 0], [13, 14, 0], [15, 16, 17, 0], [18, 0]], [[19, 20, 0], [21, 0], [22, 0], [23, 2, 3, 0]]),), {"state": _lm_state(67), "beta": 1.0}, hidden=True),
    ]  # fmt: skip


def _batch_call(fn: Any, case: Case) -> Traced:
    """Build the tiny GPT-2 LM with the case's weights and run the answer on the case's batch."""
    kwargs = dict(case.kwargs)
    batch = case.args[0]
    model = tiny_gpt2(VOCAB, lm_head=True, state=kwargs.pop("state")).to(batch["input_ids"].device)
    return Traced(fn(model, dict(batch), **kwargs), dict(model.named_parameters()))


def _drawn_batch(g: torch.Generator) -> tuple[dict, str]:
    """A TRL batch of 1 to 3 pairs, prompts of 1 to 4 tokens, completions of 1 to 4 tokens ending in id 0."""

    def tokens(low: int, high: int) -> list[int]:
        return torch.randint(2, VOCAB, (draw_int(g, low, high),), generator=g).tolist()

    n = draw_int(g, 1, 3)
    prompts = [tokens(1, 4) for _ in range(n)]
    chosen, rejected = ([tokens(0, 3) + [0] for _ in range(n)] for _ in range(2))
    batch = _trl_batch(draw_int(g, 0, 9999), prompts, chosen, rejected)
    return batch, f"{n} pairs, prompts {prompts}, chosen {chosen}, rejected {rejected}"


def _batch_random(g: torch.Generator) -> Case:
    """A drawn TRL batch (the padding of each row differs), β drawn."""
    batch, describe = _drawn_batch(g)
    beta = draw_choice(g, (0.1, 0.5, 1.0))
    return Case(f"{describe}, β = {beta}", (batch,), {"state": _lm_state(draw_int(g, 0, 9999)), "beta": beta})


DPO_BATCH_LOSS = Exercise(
    "dpo_batch_loss",
    points=3,
    make_cases=_batch_cases,
    call=_batch_call,
    parameter_grads=True,
    summary="the DPO loss of a TRL-layout batch",
    random_case=_batch_random,
    n_random=4,
)


def _batch_dpo(policy, batch, beta, split="halves", reference=True, mask="completion_mask", average=False, shift=True, frozen=False):  # fmt: skip
    """The DPO loss and metrics of a TRL-layout batch, with a switch per mistake."""
    ids, cm = batch["input_ids"], batch[mask]
    with torch.set_grad_enabled(not frozen):
        logits = policy(input_ids=ids, attention_mask=batch["attention_mask"]).logits
    if shift:
        lp = (torch.log_softmax(logits[:, :-1], -1).gather(-1, ids[:, 1:, None])[..., 0] * cm[:, 1:]).sum(-1)
    else:
        lp = (torch.log_softmax(logits, -1).gather(-1, ids[..., None])[..., 0] * cm).sum(-1)
    if average:
        lp = lp / cm[:, 1:].sum(-1)
    pc, pr = {"halves": lp.chunk(2), "swapped": lp.chunk(2)[::-1], "alternate": (lp[0::2], lp[1::2])}[split]
    if reference:
        pc, pr = pc - batch["ref_chosen_logps"], pr - batch["ref_rejected_logps"]
    c, r = beta * pc, beta * pr
    metrics = {"rewards/chosen": c.mean().item(), "rewards/rejected": r.mean().item()}
    metrics.update({"rewards/margins": (c - r).mean().item(), "rewards/accuracies": (c > r).float().mean().item()})
    return -F.logsigmoid(c - r).mean(), metrics


@DPO_BATCH_LOSS.mistake(
    "took the first half of the rows as the rejected responses", "chosen, rejected = logps.chunk(2)."
)
def halves_swapped(policy, batch, beta=0.1):
    return _batch_dpo(policy, batch, beta, split="swapped")


@DPO_BATCH_LOSS.mistake(
    "split the rows alternately (0, 2, 4, ... as chosen) instead of in halves",
    "the batch is [all chosen rows; all rejected rows]: split it with chunk(2).",
)
def interleaved(policy, batch, beta=0.1):
    return _batch_dpo(policy, batch, beta, split="alternate")


@DPO_BATCH_LOSS.mistake(
    "ignored the reference log-probabilities", "use batch['ref_chosen_logps'] and batch['ref_rejected_logps']."
)
def batch_no_reference(policy, batch, beta=0.1):
    return _batch_dpo(policy, batch, beta, reference=False)


@DPO_BATCH_LOSS.mistake(
    "scored the prompt tokens too (used the attention mask instead of the completion mask)",
    "mask with completion_mask.",
)
def attention_mask_as_completion(policy, batch, beta=0.1):
    return _batch_dpo(policy, batch, beta, mask="attention_mask")


@DPO_BATCH_LOSS.mistake(
    "averaged the token log-probabilities instead of summing them", "log π(y | x) is a sum over tokens."
)
def batch_averaged(policy, batch, beta=0.1):
    return _batch_dpo(policy, batch, beta, average=True)


@DPO_BATCH_LOSS.mistake(
    "no shift: the logits at t scored the token at t", "the logits at t − 1 predict the token at t."
)
def batch_no_shift(policy, batch, beta=0.1):
    return _batch_dpo(policy, batch, beta, shift=False)


@DPO_BATCH_LOSS.mistake(
    "ran the policy under torch.no_grad()",
    "the policy's log-probabilities must keep their graph: only the reference is frozen.",
)
def policy_under_no_grad(policy, batch, beta=0.1):
    return _batch_dpo(policy, batch, beta, frozen=True)


# --------------------------------------------------------------------------------------------
# dpo_train_step (integration): a few SGD steps of the student's training step on the tiny LM
# --------------------------------------------------------------------------------------------


def _step_cases() -> list[Case]:
    b = _trl_batch
    two = b(70, [[5, 6, 7], [8, 9]], [[10, 11, 0], [12, 0]], [[13, 0], [14, 15, 16, 0]])
    three = b(71, [[2, 3, 4], [6, 7], [8, 9, 10]], [[11, 0], [12, 13, 0], [15, 0]], [[16, 17, 0], [19, 0], [20, 21, 0]])
    one = b(72, [[3, 4, 5, 6]], [[10, 11, 12, 0]], [[13, 0]])
    no_ref = [{k: v for k, v in x.items() if not k.startswith("ref_")} for x in (two, three, one)]
    return [
        Case("2 steps, precomputed reference log-probs, β = 0.1, max_grad_norm = 0.2", ([two, three],), {"state": _lm_state(73), "lr": 0.5, "max_grad_norm": 0.2}),
        Case("2 steps, reference model given (log-probs computed each step), β = 0.5", (no_ref[:2],), {"state": _lm_state(74), "ref_state": _lm_state(75), "lr": 0.5, "beta": 0.5}),
        Case("2 steps, reference model given, strong clipping (max_grad_norm = 0.05), β = 1", (no_ref[1:],), {"state": _lm_state(76), "ref_state": _lm_state(77), "lr": 1.0, "beta": 1.0, "max_grad_norm": 0.05}, hidden=True),
    ]  # fmt: skip


def _step_call(fn: Any, case: Case) -> dict:
    """Run the answer for len(batches) steps of SGD on a fresh tiny LM; return the metrics and final weights."""
    kw = dict(case.kwargs)
    batches = case.args[0]
    dev = batches[0]["input_ids"].device
    with torch.enable_grad():
        policy = tiny_gpt2(VOCAB, lm_head=True, state=kw.pop("state")).to(dev)
        ref_state = kw.pop("ref_state", None)
        reference = None if ref_state is None else tiny_gpt2(VOCAB, lm_head=True, state=ref_state).to(dev)
        optimizer = torch.optim.SGD(policy.parameters(), lr=kw.pop("lr"))  # smooth in the weights, unlike Adam's sign
        metrics = [fn(policy, reference, optimizer, dict(batch), **kw) for batch in batches]
    return {
        "metrics": metrics,
        "parameters": {n: p.detach().clone() for n, p in policy.named_parameters()},
        "reference got gradients": reference is not None and any(p.grad is not None for p in reference.parameters()),
    }


def _step_random(g: torch.Generator) -> Case:
    """1 or 2 steps on drawn batches, precomputed reference log-probs or a reference model, β, lr and clipping drawn."""
    steps, with_model = draw_int(g, 1, 2), bool(draw_int(g, 0, 1))
    drawn = [_drawn_batch(g) for _ in range(steps)]
    batches = [{k: v for k, v in b.items() if not (with_model and k.startswith("ref_"))} for b, _ in drawn]
    kw = {"state": _lm_state(draw_int(g, 0, 9999)), "lr": draw_choice(g, (0.5, 1.0)), "beta": draw_choice(g, (0.1, 0.5, 1.0))}  # fmt: skip
    kw["max_grad_norm"] = draw_choice(g, (0.05, 0.2, 100.0))
    if with_model:
        kw["ref_state"] = _lm_state(draw_int(g, 0, 9999))
    describe = f"{steps} step(s), {'a reference model' if with_model else 'precomputed reference log-probs'}: " + "; ".join(d for _, d in drawn)  # fmt: skip
    return Case(f"{describe}, β = {kw['beta']}, max_grad_norm = {kw['max_grad_norm']}", (batches,), kw)


DPO_TRAIN_STEP = Exercise(
    "dpo_train_step",
    points=3,
    make_cases=_step_cases,
    call=_step_call,
    random_case=_step_random,
    n_random=4,
    summary="integration: one DPO training step (reference log-probs, loss, backward, clipping, optimizer step)",
)


def _dpo_step(policy, reference, optimizer, batch, beta, max_grad_norm, zero="first", clip="before", ref_frozen=True, ascend=False):  # fmt: skip
    """One DPO training step, with a switch per mistake (when to zero and clip, the reference's grad, the sign)."""

    def logps(model):
        ids, cm = batch["input_ids"], batch["completion_mask"]
        lp = torch.log_softmax(model(input_ids=ids, attention_mask=batch["attention_mask"]).logits[:, :-1], -1)
        return (lp.gather(-1, ids[:, 1:, None])[..., 0] * cm[:, 1:]).sum(-1).chunk(2)

    with torch.set_grad_enabled(not ref_frozen):
        rc, rr = logps(reference) if reference is not None else (batch["ref_chosen_logps"], batch["ref_rejected_logps"])
    pc, pr = logps(policy)
    c, r = (beta * (pc - rc)).detach(), (beta * (pr - rr)).detach()
    loss = -F.logsigmoid(beta * ((pc - rc) - (pr - rr))).mean()
    if zero == "first":
        optimizer.zero_grad()
    (-loss if ascend else loss).backward()
    if clip == "before":
        torch.nn.utils.clip_grad_norm_(policy.parameters(), max_grad_norm)
    if zero == "late":
        optimizer.zero_grad()
    optimizer.step()
    if clip == "after":
        torch.nn.utils.clip_grad_norm_(policy.parameters(), max_grad_norm)
    return {"loss": loss.item(), "rewards/chosen": c.mean().item(), "rewards/rejected": r.mean().item(),
            "rewards/margins": (c - r).mean().item(), "rewards/accuracies": (c > r).float().mean().item()}  # fmt: skip


@DPO_TRAIN_STEP.mistake("forgot optimizer.zero_grad() (gradients accumulate)", "call optimizer.zero_grad() every step.")
def no_zero_grad(policy, reference, optimizer, batch, beta=0.1, max_grad_norm=1.0):
    return _dpo_step(policy, reference, optimizer, batch, beta, max_grad_norm, zero=None)


@DPO_TRAIN_STEP.mistake(
    "zeroed the gradients between backward() and step() (nothing is learned)", "order: zero_grad, backward, clip, step."
)
def zero_grad_before_step(policy, reference, optimizer, batch, beta=0.1, max_grad_norm=1.0):
    return _dpo_step(policy, reference, optimizer, batch, beta, max_grad_norm, zero="late")


@DPO_TRAIN_STEP.mistake("no gradient clipping", "clip_grad_norm_(policy.parameters(), max_grad_norm) before step().")
def no_clipping(policy, reference, optimizer, batch, beta=0.1, max_grad_norm=1.0):
    return _dpo_step(policy, reference, optimizer, batch, beta, max_grad_norm, clip=None)


@DPO_TRAIN_STEP.mistake("clipped after optimizer.step() (too late to matter)", "clip between backward() and step().")
def clipped_after_step(policy, reference, optimizer, batch, beta=0.1, max_grad_norm=1.0):
    return _dpo_step(policy, reference, optimizer, batch, beta, max_grad_norm, clip="after")


@DPO_TRAIN_STEP.mistake("ignored max_grad_norm (always clipped at 1)", "clip at the max_grad_norm argument.")
def clip_at_one(policy, reference, optimizer, batch, beta=0.1, max_grad_norm=1.0):
    return _dpo_step(policy, reference, optimizer, batch, beta, 1.0)


@DPO_TRAIN_STEP.mistake(
    "ran the reference model with gradients (outside torch.no_grad())",
    "the reference is frozen: compute its log-probs under torch.no_grad() (its .grad fills up, wasting memory).",
)
def reference_with_grad(policy, reference, optimizer, batch, beta=0.1, max_grad_norm=1.0):
    return _dpo_step(policy, reference, optimizer, batch, beta, max_grad_norm, ref_frozen=False)


@DPO_TRAIN_STEP.mistake("gradient ascent: backpropagated −loss", "minimise the loss: loss.backward(), not (−loss).")
def gradient_ascent(policy, reference, optimizer, batch, beta=0.1, max_grad_norm=1.0):
    return _dpo_step(policy, reference, optimizer, batch, beta, max_grad_norm, ascend=True)


EXERCISES = [
    SEQUENCE_LOGPROBS,
    DPO_LOSS,
    IMPLICIT_REWARD_METRICS,
    IPO_LOSS,
    ROBUST_DPO_LOSS,
    DPO_BATCH_LOSS,
    DPO_TRAIN_STEP,
]
