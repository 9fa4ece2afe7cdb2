"""Week 3 exercises: reward models. Cases and known mistakes for each exercise.

The reference implementations live in ``solutions/w03_reward_models/w03_reward_models.py``.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F

from graders.core import Case, Exercise, Traced, draw_choice, draw_int, seeded
from graders.weeks.fixtures import tiny_gpt2, tiny_gpt2_state

VOCAB = 40

# --------------------------------------------------------------------------------------------
# bradley_terry_loss
# --------------------------------------------------------------------------------------------


def _bt_cases() -> list[Case]:
    g = seeded(30)
    n = lambda *s, **k: torch.randn(*s, generator=g, **k)  # noqa: E731
    big_c = torch.tensor([500.0, -300.0, 2.0, -450.0, 80.0])
    big_r = torch.tensor([-200.0, 250.0, 1.0, 100.0, 90.0])
    f64 = torch.float64
    return [
        Case("rewards [8] (standard normal), no margin", (n(8), n(8))),
        Case(
            "rewards [6] with a margin tensor [6] (values in [0, 2])",
            (n(6), n(6)),
            {"margin": torch.rand(6, generator=g) * 2},
        ),
        Case("rewards [5] whose differences reach ±750 (stability)", (big_c, big_r)),
        Case("rewards [4] with a float margin 1.5", (n(4) * 2, n(4)), {"margin": 1.5}),
        Case("float64 rewards [7], no margin", (n(7, dtype=f64) * 3, n(7, dtype=f64))),
        Case("a batch of one pair", (torch.tensor([0.3]), torch.tensor([1.1])), hidden=True),
        Case(
            "rewards [5] near ±400 with a margin tensor",
            (big_r, big_c),
            {"margin": torch.tensor([0.5, 1.0, 0.0, 2.0, 0.1])},
            hidden=True,
        ),
    ]


def _bt_random(g: torch.Generator) -> Case:
    """Any batch, either dtype, rewards up to ±750, no margin, a float margin or a margin tensor."""
    n, dtype, scale = (
        draw_int(g, 1, 12),
        draw_choice(g, (torch.float32, torch.float64)),
        draw_choice(g, (1.0, 10.0, 750.0)),
    )
    c, r = (torch.randn(n, generator=g, dtype=dtype) * scale for _ in range(2))
    margin = draw_choice(g, (None, 1.5, "tensor"))
    kw = (
        {}
        if margin is None
        else {"margin": torch.rand(n, generator=g, dtype=dtype) * 2 if margin == "tensor" else margin}
    )
    return Case(f"rewards [{n}] ({str(dtype).removeprefix('torch.')}), scale {scale}, margin {margin}", (c, r), kw)


BRADLEY_TERRY_LOSS = Exercise(
    "bradley_terry_loss",
    points=2,
    make_cases=_bt_cases,
    grads=("chosen_rewards", "rejected_rewards"),
    summary="Bradley–Terry preference loss",
    random_case=_bt_random,
)


def _bt_delta(chosen_rewards, rejected_rewards, margin=None, sign=-1):
    """r_c − r_r − m (sign=+1 adds the margin instead); m = 0 without a margin."""
    return chosen_rewards - rejected_rewards + sign * (0.0 if margin is None else margin)


@BRADLEY_TERRY_LOSS.mistake(
    "sign flip (rejected minus chosen)", "the argument of log σ is r_chosen − r_rejected − margin."
)
def sign_flip(chosen_rewards, rejected_rewards, margin=None):
    return -F.logsigmoid(-_bt_delta(chosen_rewards, rejected_rewards, margin, sign=+1)).mean()


@BRADLEY_TERRY_LOSS.mistake("summed over the batch instead of averaging", "return the mean over pairs.")
def summed(chosen_rewards, rejected_rewards, margin=None):
    return -F.logsigmoid(_bt_delta(chosen_rewards, rejected_rewards, margin)).sum()


@BRADLEY_TERRY_LOSS.mistake(
    "log(sigmoid(x)) is numerically unstable", "σ of a very negative number underflows to 0: use F.logsigmoid."
)
def log_of_sigmoid(chosen_rewards, rejected_rewards, margin=None):
    return -torch.log(torch.sigmoid(_bt_delta(chosen_rewards, rejected_rewards, margin))).mean()


@BRADLEY_TERRY_LOSS.mistake(
    "added the margin instead of subtracting it", "the chosen reward must beat the rejected one *by* m: Δ − m."
)
def margin_added(chosen_rewards, rejected_rewards, margin=None):
    return -F.logsigmoid(_bt_delta(chosen_rewards, rejected_rewards, margin, sign=+1)).mean()


@BRADLEY_TERRY_LOSS.mistake(
    "forgot the minus sign (returned the log-likelihood)", "the loss is the *negative* log-likelihood, ≥ 0."
)
def no_minus_sign(chosen_rewards, rejected_rewards, margin=None):
    return F.logsigmoid(_bt_delta(chosen_rewards, rejected_rewards, margin)).mean()


@BRADLEY_TERRY_LOSS.mistake("ignored the margin", "when `margin` is given, subtract it from r_chosen − r_rejected.")
def margin_ignored(chosen_rewards, rejected_rewards, margin=None):
    return -F.logsigmoid(chosen_rewards - rejected_rewards).mean()


@BRADLEY_TERRY_LOSS.mistake(
    "took the log of the mean probability", "average the per-pair −log σ values, not the probabilities."
)
def log_of_mean(chosen_rewards, rejected_rewards, margin=None):
    return -torch.log(torch.sigmoid(_bt_delta(chosen_rewards, rejected_rewards, margin)).mean())


@BRADLEY_TERRY_LOSS.mistake("minimised 1 − σ(Δ) (forgot the log)", "the loss is −log σ(Δ), not a probability.")
def one_minus_sigmoid(chosen_rewards, rejected_rewards, margin=None):
    return (1 - torch.sigmoid(_bt_delta(chosen_rewards, rejected_rewards, margin))).mean()


@BRADLEY_TERRY_LOSS.mistake(
    "computed the loss from detached rewards", "no `.detach()`/`.item()`: the reward model trains through this loss."
)
def detached_rewards(chosen_rewards, rejected_rewards, margin=None):
    return -F.logsigmoid(_bt_delta(chosen_rewards.detach(), rejected_rewards.detach(), margin)).mean()


# --------------------------------------------------------------------------------------------
# last_token_index
# --------------------------------------------------------------------------------------------


def _lti_cases() -> list[Case]:
    t = torch.tensor
    return [
        Case(
            "a right-padded int mask [3, 6] (lengths 5, 3, 1)",
            (t([[1, 1, 1, 1, 1, 0], [1, 1, 1, 0, 0, 0], [1, 0, 0, 0, 0, 0]]),),
        ),
        Case(
            "a left-padded int mask [3, 6] (lengths 4, 2, 6)",
            (t([[0, 0, 1, 1, 1, 1], [0, 0, 0, 0, 1, 1], [1, 1, 1, 1, 1, 1]]),),
        ),
        Case("no padding, mask [2, 5]", (torch.ones(2, 5, dtype=torch.long),)),
        Case("a bool mask [2, 4], right-padded", (t([[True, True, False, False], [True, True, True, False]]),)),
        Case("a float mask [2, 7], left-padded", (t([[0.0, 0, 0, 1, 1, 1, 1], [0.0, 1, 1, 1, 1, 1, 1]]),)),
        Case(
            "right- and left-padded rows in one [4, 7] batch",
            (t([[1, 1, 1, 0, 0, 0, 0], [0, 0, 0, 1, 1, 1, 1], [1, 1, 1, 1, 1, 1, 1], [0, 0, 0, 0, 0, 0, 1]]),),
            hidden=True,
        ),
    ]


def _lti_random(g: torch.Generator) -> Case:
    """Rows padded on the right or the left (mixed in one batch), a mask of int, bool or float."""
    b, t = draw_int(g, 1, 5), draw_int(g, 1, 9)
    rows = []
    for _ in range(b):
        n = draw_int(g, 1, t)
        rows.append([1] * n + [0] * (t - n) if draw_int(g, 0, 1) else [0] * (t - n) + [1] * n)
    mask = torch.tensor(rows).to(draw_choice(g, (torch.int64, torch.bool, torch.float32)))
    return Case(f"a {str(mask.dtype).removeprefix('torch.')} mask [{b}, {t}]", (mask,))


LAST_TOKEN_INDEX = Exercise(
    "last_token_index",
    points=1,
    make_cases=_lti_cases,
    summary="position of the last real token (left or right padding)",
    random_case=_lti_random,
)


@LAST_TOKEN_INDEX.mistake(
    "used mask.sum() − 1, which only works for right padding", "take the largest position where the mask is 1."
)
def sum_minus_one(attention_mask):
    return attention_mask.long().sum(-1) - 1


@LAST_TOKEN_INDEX.mistake(
    "off by one: mask.sum() is the first padding position", "positions start at 0: the last of n is at n − 1."
)
def sum_off_by_one(attention_mask):
    return attention_mask.long().sum(-1)


@LAST_TOKEN_INDEX.mistake(
    "returned the first real token instead of the last", "argmax of the mask finds the *first* 1."
)
def first_real_token(attention_mask):
    return attention_mask.long().argmax(-1)


@LAST_TOKEN_INDEX.mistake("always returned the final position T − 1", "that is right for left padding only.")
def always_final_position(attention_mask):
    T = attention_mask.shape[-1]
    return torch.full(attention_mask.shape[:-1], T - 1, dtype=torch.long)


@LAST_TOKEN_INDEX.mistake(
    "searched the flipped mask but forgot to convert the index back", "the position is T − 1 − that index."
)
def flipped_not_converted(attention_mask):
    return attention_mask.long().flip(-1).argmax(-1)


@LAST_TOKEN_INDEX.mistake(
    "reduced over the batch dimension instead of the positions", "reduce over the last dimension (T)."
)
def wrong_axis(attention_mask):
    return attention_mask.long().sum(0) - 1


# --------------------------------------------------------------------------------------------
# RewardModel
# --------------------------------------------------------------------------------------------


def _backbone_state(seed: int) -> dict[str, torch.Tensor]:
    return tiny_gpt2_state(seed, vocab_size=VOCAB, lm_head=False, scale=0.4, unit_weight_suffix="ln_1.weight")


def _rm_case(describe: str, seed: int, ids: list, mask: list, hidden: bool = False) -> Case:
    head = torch.randn(1, 16, generator=seeded(seed + 1))
    state = {"backbone_state": _backbone_state(seed), "score_weight": head}
    return Case(describe, (torch.tensor(ids), torch.tensor(mask)), state, hidden=hidden)


def _rm_cases() -> list[Case]:
    return [
        _rm_case(
            "a right-padded batch of 3 rows (lengths 6, 4, 2; pad id 1)",
            31,
            [[5, 9, 12, 7, 3, 0], [8, 8, 20, 0, 1, 1], [33, 0, 1, 1, 1, 1]],
            [[1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 0, 0], [1, 1, 0, 0, 0, 0]],
        ),
        _rm_case(
            "a left-padded batch of 3 rows (lengths 5, 3, 6)",
            32,
            [[1, 4, 17, 22, 9, 0], [1, 1, 1, 30, 2, 0], [6, 7, 8, 9, 10, 0]],
            [[0, 1, 1, 1, 1, 1], [0, 0, 0, 1, 1, 1], [1, 1, 1, 1, 1, 1]],
        ),
        _rm_case("no padding, batch of 2 rows of length 5", 33, [[3, 4, 5, 6, 0], [11, 12, 13, 14, 0]], [[1] * 5] * 2),
        _rm_case("a batch of one row (length 4, right-padded to 6)", 34, [[9, 18, 27, 0, 1, 1]], [[1, 1, 1, 1, 0, 0]]),
        _rm_case(
            "a right-padded batch of 4 rows of length 8 (other weights)",
            35,
            [
                [2, 3, 4, 5, 6, 7, 8, 0],
                [21, 22, 0, 1, 1, 1, 1, 1],
                [39, 38, 37, 36, 35, 0, 1, 1],
                [10, 0, 1, 1, 1, 1, 1, 1],
            ],
            [[1] * 8, [1, 1, 1, 0, 0, 0, 0, 0], [1] * 6 + [0, 0], [1, 1, 0, 0, 0, 0, 0, 0]],
            hidden=True,
        ),
        _rm_case(
            "a left-padded batch of 2 rows (other weights)",
            36,
            [[1, 1, 1, 15, 16, 0], [1, 25, 26, 27, 28, 0]],
            [[0, 0, 0, 1, 1, 1], [0, 1, 1, 1, 1, 1]],
            hidden=True,
        ),
    ]


def _parameters(model: nn.Module) -> dict[str, torch.Tensor]:
    """The backbone's and the score head's parameters, by readable name."""
    named = {f"backbone.{k}": p for k, p in model.backbone.named_parameters()}
    return {**named, "score.weight": model.score.weight}


def _build_rm(cls: Any, state: dict[str, torch.Tensor], score_weight: torch.Tensor, device: Any) -> nn.Module:
    """The answer's RewardModel on a tiny GPT-2 body with the case's weights (eval mode, no dropout)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)  # anything the answer initialises randomly is at least deterministic
        model = cls(tiny_gpt2(VOCAB, lm_head=False, state=state))
    with torch.no_grad():
        model.score.weight.copy_(score_weight)
    return model.to(device).eval()


def _rm_call(cls: Any, case: Case) -> Traced:
    input_ids, attention_mask = case.args
    model = _build_rm(cls, case.kwargs["backbone_state"], case.kwargs["score_weight"], input_ids.device)
    return Traced(model(input_ids, attention_mask), _parameters(model))


REWARD_MODEL = Exercise(
    "RewardModel",
    points=3,
    make_cases=_rm_cases,
    call=_rm_call,
    parameter_grads=True,
    summary="a scalar reward head on a causal transformer",
)


def _reward_model(backbone, read="last", mask=True, squeeze=True, squash=False, frozen=False):
    """A reward model (what the grader calls ``RewardModel(backbone)``) with a switch per mistake:
    ``read`` is where the reward is read ("last", "final", "sum - 1", "mean", "first")."""

    class Mistaken(nn.Module):
        def __init__(self):
            super().__init__()
            self.backbone = backbone
            self.score = nn.Linear(backbone.config.hidden_size, 1, bias=False)

        def forward(self, input_ids, attention_mask):
            with torch.set_grad_enabled(not frozen):
                h = self.backbone(input_ids=input_ids, attention_mask=attention_mask if mask else None)
                h = h.last_hidden_state
            rows, m = torch.arange(h.shape[0]), attention_mask.unsqueeze(-1).to(h.dtype)
            pooled = {
                "last": lambda: h[rows, (torch.arange(h.shape[1]) * (attention_mask != 0)).argmax(-1)],
                "final": lambda: h[:, -1],
                "sum - 1": lambda: h[rows, attention_mask.long().sum(-1) - 1],
                "mean": lambda: (h * m).sum(1) / m.sum(1),
                "first": lambda: h[:, 0],
            }[read]()
            reward = self.score(pooled).squeeze(-1) if squeeze else self.score(pooled)
            return torch.sigmoid(reward) if squash else reward

    return Mistaken()


@REWARD_MODEL.mistake(
    "read the reward at the final position (padding in right-padded rows)", "use last_token_index(attention_mask)."
)
def final_position(backbone):
    return _reward_model(backbone, read="final")


@REWARD_MODEL.mistake(
    "indexed the last token with mask.sum() − 1 (wrong for left padding)",
    "take the largest position where the mask is 1.",
)
def sum_minus_one_index(backbone):
    return _reward_model(backbone, read="sum - 1")


@REWARD_MODEL.mistake(
    "mean-pooled the hidden states", "only the last real position has seen the whole response: read it there."
)
def mean_pooled(backbone):
    return _reward_model(backbone, read="mean")


@REWARD_MODEL.mistake(
    "read the first token (BERT's [CLS]) instead of the last", "in a causal model position 0 has seen one token."
)
def first_token(backbone):
    return _reward_model(backbone, read="first")


@REWARD_MODEL.mistake(
    "did not pass the attention mask to the backbone", "without it, left-padded rows attend to the pad tokens."
)
def no_attention_mask(backbone):
    return _reward_model(backbone, mask=False)


@REWARD_MODEL.mistake("returned shape [B, 1] instead of [B]", "squeeze(-1) the head's output.")
def not_squeezed(backbone):
    return _reward_model(backbone, squeeze=False)


@REWARD_MODEL.mistake(
    "squashed the reward through a sigmoid", "a Bradley–Terry reward is an unbounded logit, not a probability."
)
def sigmoid_reward(backbone):
    return _reward_model(backbone, squash=True)


@REWARD_MODEL.mistake(
    "ran the backbone under torch.no_grad() (only the head would train)", "the body must get gradients too."
)
def frozen_backbone(backbone):
    return _reward_model(backbone, frozen=True)


# --------------------------------------------------------------------------------------------
# expected_calibration_error
# --------------------------------------------------------------------------------------------


def _ece_cases() -> list[Case]:
    g = seeded(33)
    u = lambda n, **k: torch.rand(n, generator=g, **k)  # noqa: E731
    p1 = u(24) * 0.98 + 0.01
    y1 = (u(24) < p1 * 0.7).float()
    p2 = u(16) * 0.9 + 0.05
    y2 = u(16) < 0.6
    p4 = torch.tensor([0.0, 1.0, 1.0, 0.93, 0.07, 0.55, 0.42, 1.0, 0.0, 0.81])
    y4 = torch.tensor([0, 1, 0, 1, 0, 1, 1, 1, 1, 0])
    p6 = u(60, dtype=torch.float64) * 0.96 + 0.02
    y6 = (u(60, dtype=torch.float64) < p6**2).double()
    toy = torch.tensor([0.25] * 4 + [0.75] * 4), torch.tensor([1.0, 0, 0, 0, 1, 1, 1, 0])
    over = (
        torch.tensor([0.96, 0.94, 0.97, 0.95, 0.93, 0.98, 0.96, 0.94, 0.97, 0.95]),
        torch.tensor([1.0, 1, 0, 1, 0] * 2),
    )
    return [
        Case("probs [24] with float 0/1 labels, 10 bins", (p1, y1)),
        Case("probs [16] with bool labels, 5 bins", (p2, y2), {"n_bins": 5}),
        Case("a calibrated toy set: predictions 0.25 and 0.75, right 1/4 and 3/4 of the time", toy),
        Case("probs exactly 0.0 and 1.0 with int labels, 10 bins", (p4, y4)),
        Case("an overconfident set: probs near 0.95 right only 60% of the time", over),
        Case("float64 probs [60], 15 bins", (p6, y6), {"n_bins": 15}, hidden=True),
        Case("probs [10] incl. 1.0, 4 bins", (p4.flip(0), y4), {"n_bins": 4}, hidden=True),
    ]


def _ece_random(g: torch.Generator) -> Case:
    """Probabilities of either dtype (0 and 1 included), labels of float, int or bool, any bin count."""
    n, dtype = draw_int(g, 1, 40), draw_choice(g, (torch.float32, torch.float64))
    p = torch.rand(n, generator=g, dtype=dtype)
    p[: draw_int(g, 0, min(2, n))] = draw_choice(g, (0.0, 1.0))
    y = (torch.rand(n, generator=g, dtype=dtype) < p).to(draw_choice(g, (dtype, torch.int64, torch.bool)))
    return Case(
        f"probs [{n}] ({str(dtype).removeprefix('torch.')}), {str(y.dtype).removeprefix('torch.')} labels",
        (p, y),
        {"n_bins": draw_int(g, 1, 15)},
    )


EXPECTED_CALIBRATION_ERROR = Exercise(
    "expected_calibration_error",
    points=2,
    make_cases=_ece_cases,
    summary="expected calibration error of binary predictions",
    random_case=_ece_random,
)


def _ece_bins(probs, labels, n_bins, rounding=torch.floor):
    """Float64 probs and labels, and each prediction's bin (clamped to the last one)."""
    p, y = probs.double(), labels.double()
    return p, y, torch.clamp(rounding(p * n_bins).long(), max=n_bins - 1)


@EXPECTED_CALIBRATION_ERROR.mistake(
    "averaged the bins' gaps without weighting by their size", "weight bin b by n_b / N."
)
def unweighted_bins(probs, labels, n_bins=10):
    p, y, b = _ece_bins(probs, labels, n_bins)
    gaps = [y[b == k].mean() - p[b == k].mean() for k in range(n_bins) if (b == k).any()]
    return torch.stack(gaps).abs().mean()


@EXPECTED_CALIBRATION_ERROR.mistake(
    "divided by the number of bins", "weight each bin by n_b / N, the fraction of predictions in it."
)
def divided_by_bins(probs, labels, n_bins=10):
    p, y, b = _ece_bins(probs, labels, n_bins)
    gaps = [y[b == k].mean() - p[b == k].mean() for k in range(n_bins) if (b == k).any()]
    return torch.stack(gaps).abs().sum() / n_bins


@EXPECTED_CALIBRATION_ERROR.mistake(
    "forgot the absolute value (gaps of opposite sign cancel)", "take |acc_b − conf_b|."
)
def no_absolute_value(probs, labels, n_bins=10):
    p, y, b = _ece_bins(probs, labels, n_bins)
    return sum((b == k).sum() / len(p) * (y[b == k].mean() - p[b == k].mean()) for k in range(n_bins) if (b == k).any())


@EXPECTED_CALIBRATION_ERROR.mistake("squared the gaps", "ECE uses the absolute gap |acc_b − conf_b|.")
def squared_gaps(probs, labels, n_bins=10):
    p, y, b = _ece_bins(probs, labels, n_bins)
    return sum(
        (b == k).sum() / len(p) * (y[b == k].mean() - p[b == k].mean()) ** 2 for k in range(n_bins) if (b == k).any()
    )


@EXPECTED_CALIBRATION_ERROR.mistake(
    "compared each prediction with its own label (no binning)", "compare averages inside each bin."
)
def no_binning(probs, labels, n_bins=10):
    return (probs.double() - labels.double()).abs().mean()


@EXPECTED_CALIBRATION_ERROR.mistake(
    "binned with round() instead of floor()", "bin b covers [b/n_bins, (b+1)/n_bins): floor(p · n_bins)."
)
def round_binning(probs, labels, n_bins=10):
    p, y, b = _ece_bins(probs, labels, n_bins, rounding=torch.round)
    return sum(
        (b == k).sum() / len(p) * (y[b == k].mean() - p[b == k].mean()).abs() for k in range(n_bins) if (b == k).any()
    )


@EXPECTED_CALIBRATION_ERROR.mistake(
    "left predictions of exactly 1.0 out of every bin", "the last bin must include p = 1."
)
def one_outside_bins(probs, labels, n_bins=10):
    p, y = probs.double(), labels.double()
    total = 0.0
    for k in range(n_bins):
        sel = (p >= k / n_bins) & (p < (k + 1) / n_bins)
        if sel.any():
            total = total + sel.sum() / len(p) * (y[sel].mean() - p[sel].mean()).abs()
    return total


# --------------------------------------------------------------------------------------------
# reward_model_train_step (integration)
# --------------------------------------------------------------------------------------------


class _TinyRewardModel(nn.Module):
    """The grader's own reward model: tiny GPT-2 body, head on the mean of the real tokens' states.

    It runs in the sandbox next to the student's code, so it must not compute an exercise's answer:
    it pools by a masked mean, not at the last real token as ``RewardModel`` and ``last_token_index`` do.
    """

    def __init__(self, state: dict[str, torch.Tensor], score_weight: torch.Tensor) -> None:
        super().__init__()
        self.backbone = tiny_gpt2(VOCAB, lm_head=False, state=state)
        self.score = nn.Linear(16, 1, bias=False)
        with torch.no_grad():
            self.score.weight.copy_(score_weight)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        h = self.backbone(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        m = (attention_mask != 0).to(h.dtype)[..., None]
        return self.score((h * m).sum(1) / m.sum(1)).squeeze(-1)


def _pairs(g: torch.Generator, n: int, width: int, left: bool = False) -> dict[str, torch.Tensor]:
    """n pairs as 2n rows (chosen first), random lengths in [2, width], padded with id 1."""
    lengths = torch.randint(2, width + 1, (2 * n,), generator=g)
    pos = torch.arange(width)
    mask = (pos.flip(0) if left else pos)[None, :] < lengths[:, None]
    ids = torch.where(mask, torch.randint(2, VOCAB, (2 * n, width), generator=g), torch.ones((), dtype=torch.long))
    return {"input_ids": ids, "attention_mask": mask.long()}


def _step_case(describe: str, seed: int, shapes: list, hidden: bool = False, **kwargs: Any) -> Case:
    g = seeded(seed)
    batches = [_pairs(g, n, width, left) for n, width, left in shapes]
    head = torch.randn(1, 16, generator=g) * 2
    return Case(describe, (_backbone_state(seed), head, batches), kwargs, hidden=hidden)


def _step_cases() -> list[Case]:
    return [
        _step_case("one step on 2 right-padded pairs", 40, [(2, 6, False)]),
        _step_case("two steps on batches of 3 and 2 pairs", 41, [(3, 7, False), (2, 5, False)]),
        _step_case("three steps with max_grad_norm=0.5", 42, [(2, 6, False)] * 3, max_grad_norm=0.5),
        _step_case("one step on a batch of one pair", 43, [(1, 5, False)]),
        _step_case("two steps on left-padded batches of 4 pairs", 44, [(4, 8, True)] * 2, hidden=True),
        _step_case(
            "three steps, max_grad_norm=3.0", 45, [(3, 6, False), (2, 8, True), (3, 4, False)], True, max_grad_norm=3.0
        ),
    ]


def _step_call(fn: Any, case: Case) -> dict[str, Any]:
    """Train the grader's tiny reward model with SGD (lr 0.1) for one step per batch of the case."""
    state, head, batches = case.args
    with torch.random.fork_rng(devices=[]), torch.enable_grad():
        torch.manual_seed(0)
        rm = _TinyRewardModel(state, head).to(head.device).eval()
        opt = torch.optim.SGD(rm.parameters(), lr=0.1)
        steps = [fn(rm, opt, batch, **case.kwargs) for batch in batches]
    metrics = {
        k: torch.tensor([float(m[k]) for m in steps], dtype=torch.float64) for k in ("loss", "accuracy", "margin")
    }
    return {**metrics, "parameters": {k: v.detach().clone() for k, v in rm.named_parameters()}}


REWARD_MODEL_TRAIN_STEP = Exercise(
    "reward_model_train_step",
    points=3,
    make_cases=_step_cases,
    call=_step_call,
    rtol=1e-4,
    atol=1e-6,
    summary="integration: one Bradley–Terry training step of a reward model",
)


def _rm_step(rm, optimizer, batch, max_grad_norm, order="zbcs", split="halves", frozen=False):
    """One reward-model step with a switch per mistake: ``order`` spells the calls (z: zero_grad,
    b: backward, c: clip, s: step), ``split`` how the rewards are cut into chosen and rejected."""
    with torch.set_grad_enabled(not frozen):
        rewards = rm(batch["input_ids"], batch["attention_mask"])
    chosen, rejected = {
        "halves": rewards.chunk(2),
        "swapped": rewards.chunk(2)[::-1],
        "alternate": (rewards[0::2], rewards[1::2]),
    }[split]
    loss = -F.logsigmoid(chosen - rejected).mean()
    for call in order:
        {
            "z": optimizer.zero_grad,
            "b": loss.backward,
            "c": lambda: torch.nn.utils.clip_grad_norm_(rm.parameters(), max_grad_norm),
            "s": optimizer.step,
        }[call]()
    return {
        "loss": loss.item(),
        "accuracy": (chosen > rejected).float().mean().item(),
        "margin": (chosen - rejected).mean().item(),
    }


@REWARD_MODEL_TRAIN_STEP.mistake(
    "never zeroed the gradients (they pile up across steps)", "call optimizer.zero_grad() every step."
)
def no_zero_grad(rm, optimizer, batch, max_grad_norm=1.0):
    return _rm_step(rm, optimizer, batch, max_grad_norm, order="bcs")


@REWARD_MODEL_TRAIN_STEP.mistake(
    "zeroed the gradients between backward() and step()", "zero_grad() comes before backward()."
)
def zero_grad_too_late(rm, optimizer, batch, max_grad_norm=1.0):
    return _rm_step(rm, optimizer, batch, max_grad_norm, order="bczs")


@REWARD_MODEL_TRAIN_STEP.mistake(
    "did not clip the gradient norm", "clip_grad_norm_(rm.parameters(), max_grad_norm) before step()."
)
def no_clipping(rm, optimizer, batch, max_grad_norm=1.0):
    return _rm_step(rm, optimizer, batch, max_grad_norm, order="zbs")


@REWARD_MODEL_TRAIN_STEP.mistake("treated the first half of the batch as the rejected rows", "chosen rows come first.")
def halves_swapped(rm, optimizer, batch, max_grad_norm=1.0):
    return _rm_step(rm, optimizer, batch, max_grad_norm, split="swapped")


@REWARD_MODEL_TRAIN_STEP.mistake(
    "split the batch into alternating rows", "the B chosen rows come first, then the B rejected rows."
)
def interleaved_rows(rm, optimizer, batch, max_grad_norm=1.0):
    return _rm_step(rm, optimizer, batch, max_grad_norm, split="alternate")


@REWARD_MODEL_TRAIN_STEP.mistake(
    "called optimizer.step() before loss.backward()", "each step uses the previous batch's gradients."
)
def step_before_backward(rm, optimizer, batch, max_grad_norm=1.0):
    return _rm_step(rm, optimizer, batch, max_grad_norm, order="szbc")


@REWARD_MODEL_TRAIN_STEP.mistake(
    "computed the rewards under torch.no_grad()", "the forward pass must be recorded for backward()."
)
def forward_without_grad(rm, optimizer, batch, max_grad_norm=1.0):
    return _rm_step(rm, optimizer, batch, max_grad_norm, frozen=True)


EXERCISES = [BRADLEY_TERRY_LOSS, LAST_TOKEN_INDEX, REWARD_MODEL, REWARD_MODEL_TRAIN_STEP, EXPECTED_CALIBRATION_ERROR]
