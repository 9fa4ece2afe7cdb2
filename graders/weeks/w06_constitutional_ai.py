"""Week 6 exercises: Constitutional AI and RLAIF. Cases and known mistakes for each exercise.

The reference implementations live in ``solutions/w06_constitutional_ai/w06_constitutional_ai.py``.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from graders.core import Case, Exercise, draw_choice, draw_int, seeded
from graders.weeks.fixtures import tiny_gpt2
from graders.weeks.w05_dpo import VOCAB, _lm_state, _trl_batch

PAIR = ("policy_chosen_logps", "policy_rejected_logps")

# --------------------------------------------------------------------------------------------
# principle_direction
# --------------------------------------------------------------------------------------------


def _feats(g: torch.Generator, n: int, d: int, scale: float = 1.0, dtype: torch.dtype = torch.float32) -> tuple:
    better = torch.randn(n, d, generator=g, dtype=dtype) * scale + 0.5
    return better, torch.randn(n, d, generator=g, dtype=dtype) * scale


def _direction_cases() -> list[Case]:
    g = seeded(601)
    return [
        Case("16 examples of 8 features", _feats(g, 16, 8)),
        Case("a single example, 5 features", _feats(g, 1, 5)),
        Case("features of size ~1000 (12 examples, 6 features)", _feats(g, 12, 6, scale=1000.0)),
        Case("float64 features, 4 examples of 3", _feats(g, 4, 3, dtype=torch.float64)),
        Case("32 examples of 128 features (the notebook's size)", _feats(g, 32, 128), hidden=True),
    ]


PRINCIPLE_DIRECTION = Exercise(
    "principle_direction",
    points=1,
    make_cases=_direction_cases,
    summary="a principle's direction from its worked examples",  # no gradients: the text never asks for them
    random_case=lambda g: Case(
        "random features",
        _feats(
            g,
            draw_int(g, 1, 12),
            draw_int(g, 1, 16),
            draw_choice(g, (1.0, 1000.0)),
            draw_choice(g, (torch.float32, torch.float64)),
        ),
    ),
)


def _direction(better_features, worse_features, mode="right"):
    """The difference-of-means direction, with a switch per mistake."""
    if mode == "features normalised":
        better_features, worse_features = F.normalize(better_features, dim=-1), F.normalize(worse_features, dim=-1)
    diff = better_features - worse_features
    if mode == "unit differences":
        diff = F.normalize(diff, dim=-1)
    d = {"better only": better_features.mean(0), "sign": -diff.mean(0)}.get(mode, diff.mean(0))
    if mode == "no norm":
        return d
    return d / (d @ d) if mode == "squared norm" else d / d.norm()


@PRINCIPLE_DIRECTION.mistake("did not normalise the direction", "divide the mean difference by its norm.")
def direction_not_normalised(better_features, worse_features):
    return _direction(better_features, worse_features, "no norm")


@PRINCIPLE_DIRECTION.mistake("worse minus better (the direction points the wrong way)", "better − worse.")
def direction_sign(better_features, worse_features):
    return _direction(better_features, worse_features, "sign")


@PRINCIPLE_DIRECTION.mistake(
    "averaged the unit differences (normalised each example first)", "average the raw differences, then normalise."
)
def direction_unit_differences(better_features, worse_features):
    return _direction(better_features, worse_features, "unit differences")


@PRINCIPLE_DIRECTION.mistake("normalised the features before subtracting", "subtract the raw features.")
def direction_features_normalised(better_features, worse_features):
    return _direction(better_features, worse_features, "features normalised")


@PRINCIPLE_DIRECTION.mistake("divided by the squared norm", "a unit vector is d / ‖d‖, not d / ‖d‖².")
def direction_squared_norm(better_features, worse_features):
    return _direction(better_features, worse_features, "squared norm")


@PRINCIPLE_DIRECTION.mistake("used the better examples only", "the direction is mean(better − worse).")
def direction_better_only(better_features, worse_features):
    return _direction(better_features, worse_features, "better only")


@PRINCIPLE_DIRECTION.mistake(
    "subtracted in place (better_features.sub_)", "sub_ overwrites the caller's features: use better − worse."
)
def direction_in_place(better_features, worse_features):
    d = better_features.sub_(worse_features).mean(0)
    return d / d.norm()


# --------------------------------------------------------------------------------------------
# ai_preference_probs
# --------------------------------------------------------------------------------------------


def _gaps(g: torch.Generator, p: int, k: int, scale: float = 4.0, dtype: torch.dtype = torch.float32) -> tuple:
    weights = torch.softmax(torch.randn(p, k, generator=g, dtype=dtype) * 2, dim=-1)
    return torch.randn(p, k, generator=g, dtype=dtype) * scale, weights


def _probs_cases() -> list[Case]:
    g = seeded(602)
    return [
        Case("6 pairs, 3 principles, T = 1", _gaps(g, 6, 3)),
        Case("8 pairs, 2 principles, T = 2.5", _gaps(g, 8, 2), {"temperature": 2.5}),
        Case("5 pairs, 3 principles, T = 1, clamp = (0.4, 0.6)", _gaps(g, 5, 3), {"clamp": (0.4, 0.6)}),
        Case(
            "a single principle (weights all 1), 4 pairs, T = 0.5",
            (torch.randn(4, 1, generator=g), torch.ones(4, 1)),
            {"temperature": 0.5},
        ),  # fmt: skip
        Case(
            "float64, gaps of ±200 (saturated), T = 3",
            _gaps(g, 5, 4, scale=200.0, dtype=torch.float64),
            {"temperature": 3.0},
        ),  # fmt: skip
        Case(
            "7 pairs, 4 principles, T = 2, clamp = (0.3, 0.8)",
            _gaps(g, 7, 4),
            {"temperature": 2.0, "clamp": (0.3, 0.8)},
            hidden=True,
        ),  # fmt: skip
    ]


def _probs_random(g: torch.Generator) -> Case:
    p, k, dtype = draw_int(g, 1, 8), draw_int(g, 1, 5), draw_choice(g, (torch.float32, torch.float64))
    kw = {"temperature": draw_choice(g, (0.5, 1.0, 3.0)), "clamp": draw_choice(g, (None, (0.4, 0.6), (0.1, 0.9)))}
    return Case(
        f"{p} pairs, {k} principles, {str(dtype).removeprefix('torch.')}",
        _gaps(g, p, k, draw_choice(g, (1.0, 4.0, 200.0)), dtype),
        kw,
    )


AI_PREFERENCE_PROBS = Exercise(
    "ai_preference_probs",
    points=2,
    make_cases=_probs_cases,
    summary="the feedback model's soft preference labels from per-principle score gaps",  # no gradients: not asked
    random_case=_probs_random,
)


def _probs(score_gaps, weights, temperature, clamp, mode="right"):
    """Σ_k α_k σ(gap_k / T), clamped, with a switch per mistake."""
    if mode == "gaps averaged":
        p = torch.sigmoid((weights * score_gaps).sum(-1) / temperature)
    else:
        z = {"times T": score_gaps * temperature, "sign": -score_gaps / temperature}.get(mode, score_gaps / temperature)
        per = torch.sigmoid(z)
        if mode == "clamp each" and clamp is not None:
            per = per.clamp(clamp[0], clamp[1])
        p = per.mean(-1) if mode == "unweighted" else (weights * per).sum(-1)
    if clamp is not None and mode not in ("no clamp", "clamp each"):
        p = p.clamp(clamp[0], clamp[1])
    return p


@AI_PREFERENCE_PROBS.mistake(
    "averaged the score gaps, then took one sigmoid", "average the per-principle *probabilities*."
)
def probs_gaps_averaged(score_gaps, weights, temperature=1.0, clamp=None):
    return _probs(score_gaps, weights, temperature, clamp, "gaps averaged")


@AI_PREFERENCE_PROBS.mistake("multiplied by the temperature instead of dividing", "σ(gap / T).")
def probs_times_temperature(score_gaps, weights, temperature=1.0, clamp=None):
    return _probs(score_gaps, weights, temperature, clamp, "times T")


@AI_PREFERENCE_PROBS.mistake("P(B ≻ A) instead of P(A ≻ B)", "a positive gap s(A) − s(B) must favour A.")
def probs_sign(score_gaps, weights, temperature=1.0, clamp=None):
    return _probs(score_gaps, weights, temperature, clamp, "sign")


@AI_PREFERENCE_PROBS.mistake("ignored the relevance weights (plain mean)", "weight each principle by α_k(x).")
def probs_unweighted(score_gaps, weights, temperature=1.0, clamp=None):
    return _probs(score_gaps, weights, temperature, clamp, "unweighted")


@AI_PREFERENCE_PROBS.mistake("ignored clamp", "when clamp is given, clamp the probabilities into [low, high].")
def probs_no_clamp(score_gaps, weights, temperature=1.0, clamp=None):
    return _probs(score_gaps, weights, temperature, clamp, "no clamp")


@AI_PREFERENCE_PROBS.mistake(
    "clamped each principle's probability instead of the combined label", "clamp the weighted sum."
)
def probs_clamp_each(score_gaps, weights, temperature=1.0, clamp=None):
    return _probs(score_gaps, weights, temperature, clamp, "clamp each")


# --------------------------------------------------------------------------------------------
# cohen_kappa
# --------------------------------------------------------------------------------------------


def _kappa_cases() -> list[Case]:
    g = seeded(603)
    a = torch.randint(0, 2, (40,), generator=g)
    b = torch.where(torch.rand(40, generator=g) < 0.75, a, 1 - a)
    a3 = torch.randint(0, 3, (30,), generator=g)
    b3 = torch.where(torch.rand(30, generator=g) < 0.5, a3, torch.randint(0, 3, (30,), generator=g))
    skew = torch.tensor([1] * 18 + [0] * 2)
    a4 = torch.randint(0, 4, (100,), generator=g)
    b4 = torch.where(torch.rand(100, generator=g) < 0.6, a4, torch.randint(0, 4, (100,), generator=g))
    return [
        Case("binary labels, 40 items, ~75% agreement", (a, b)),
        Case("3 classes, 30 items", (a3, b3)),
        Case(
            "a class only labeller B uses (labels 0, 1 and 2)",
            (torch.tensor([0, 1, 1, 0, 1, 0, 1, 1]), torch.tensor([0, 1, 2, 0, 1, 1, 1, 2])),
        ),  # fmt: skip
        Case("skewed labels: one says 1 on 18 of 20", (skew, torch.tensor([1] * 15 + [0] * 3 + [1, 0]))),
        Case(
            "perfect disagreement on balanced binary labels (κ = −1)",
            (torch.tensor([0, 1] * 6), torch.tensor([1, 0] * 6)),
        ),  # fmt: skip
        Case("4 classes, 100 items", (a4, b4), hidden=True),
        Case(
            "a judge whose classes are not the human's: A uses {0, 1}, B uses {1, 2}",
            (torch.tensor([0, 1, 1, 0, 1, 0, 1, 1, 0, 0]), torch.tensor([1, 1, 2, 1, 2, 2, 1, 1, 1, 2])),
            hidden=True,
        ),  # fmt: skip
        Case(
            "negative labels (−1 = refuse, 0, 1)",
            (torch.tensor([-1, 0, 1, -1, 1, 0, -1, 1]), torch.tensor([-1, 0, 0, -1, 1, 1, 1, 1])),
            hidden=True,
        ),  # fmt: skip
    ]


def _kappa_random(g: torch.Generator) -> Case:
    """Labels from any set of integers (negative ones too), int64 or int32, with some agreement."""
    n, k, low = draw_int(g, 2, 40), draw_int(g, 2, 5), draw_int(g, -3, 2)
    dtype = draw_choice(g, (torch.int64, torch.int32))
    a = torch.randint(low, low + k, (n,), generator=g)
    b = torch.where(torch.rand(n, generator=g) < 0.6, a, torch.randint(low, low + k, (n,), generator=g))
    b[0] = a[0] + 1 - 2 * int(a[0] == low + k - 1)  # at least one disagreement: 1 − p_e > 0
    return Case(
        f"{n} items, labels in [{low}, {low + k - 1}], {str(dtype).removeprefix('torch.')}", (a.to(dtype), b.to(dtype))
    )


COHEN_KAPPA = Exercise(
    "cohen_kappa",
    points=2,
    make_cases=_kappa_cases,
    random_case=_kappa_random,
    forbidden=("cohen_kappa_score",),
    summary="Cohen's κ between two labellers",
)


@COHEN_KAPPA.mistake(
    "matched the labellers' classes by position (each one's own sorted classes)",
    "p_e sums P(a = c)·P(b = c) over the *same* class c: take the classes of both labellers together.",
)
def kappa_classes_by_position(a, b):
    _, na = torch.unique(a, return_counts=True)
    _, nb = torch.unique(b, return_counts=True)
    p_o = (a == b).double().mean()
    m = min(len(na), len(nb))
    p_e = (na[:m].double() / len(a) * nb[:m].double() / len(b)).sum()
    return (p_o - p_e) / (1 - p_e)


@COHEN_KAPPA.mistake(
    "counted the classes with torch.bincount (negative labels raise)",
    "labels are any integers: compare with each class (a == c) over torch.unique of both.",
)
def kappa_bincount(a, b):
    n = int(torch.cat([a, b]).max()) + 1
    pa, pb = torch.bincount(a, minlength=n).double() / len(a), torch.bincount(b, minlength=n).double() / len(b)
    p_o = (a == b).double().mean()
    p_e = (pa * pb).sum()
    return (p_o - p_e) / (1 - p_e)


def _kappa(a, b, mode="right"):
    """(p_o − p_e) / (1 − p_e), with a switch per mistake in p_e or the formula."""
    classes = torch.unique(torch.cat([a, b]))
    p_o = (a == b).double().mean()
    pa = torch.stack([(a == c).double().mean() for c in classes])
    pb = torch.stack([(b == c).double().mean() for c in classes])
    p_e = {
        "uniform": torch.tensor(1.0 / len(classes), dtype=torch.float64),
        "pooled": (((pa + pb) / 2) ** 2).sum(),
        "one rater": (pa**2).sum(),
        "positive only": pa[-1] * pb[-1],
    }.get(mode, (pa * pb).sum())
    if mode == "agreement":
        return p_o
    return p_o - p_e if mode == "no denominator" else (p_o - p_e) / (1 - p_e)


@COHEN_KAPPA.mistake("returned the raw agreement p_o", "κ corrects p_o for chance: (p_o − p_e) / (1 − p_e).")
def kappa_raw_agreement(a, b):
    return _kappa(a, b, "agreement")


@COHEN_KAPPA.mistake("assumed uniform chance agreement (1 / number of classes)", "p_e = Σ_c P(a = c)·P(b = c).")
def kappa_uniform_chance(a, b):
    return _kappa(a, b, "uniform")


@COHEN_KAPPA.mistake(
    "pooled the two labellers' marginals (Scott's π, not Cohen's κ)", "each labeller keeps its own marginals."
)
def kappa_pooled_marginals(a, b):
    return _kappa(a, b, "pooled")


@COHEN_KAPPA.mistake("used labeller A's marginals for both", "p_e multiplies A's frequency by B's.")
def kappa_one_rater(a, b):
    return _kappa(a, b, "one rater")


@COHEN_KAPPA.mistake("counted chance agreement on the last class only", "sum P(a = c)·P(b = c) over every class.")
def kappa_positive_only(a, b):
    return _kappa(a, b, "positive only")


@COHEN_KAPPA.mistake("forgot to divide by 1 − p_e", "κ = (p_o − p_e) / (1 − p_e).")
def kappa_no_denominator(a, b):
    return _kappa(a, b, "no denominator")


# --------------------------------------------------------------------------------------------
# soft_dpo_loss
# --------------------------------------------------------------------------------------------


def _soft_case(g: torch.Generator, n: int, scale: float = 8.0, dtype: torch.dtype = torch.float32) -> tuple:
    ref_c, ref_r = (-torch.rand(n, generator=g, dtype=dtype) * 40 - 5 for _ in range(2))
    pc = ref_c + torch.randn(n, generator=g, dtype=dtype) * scale
    pr = ref_r + torch.randn(n, generator=g, dtype=dtype) * scale
    return pc, pr, ref_c, ref_r, torch.rand(n, generator=g, dtype=dtype)


def _soft_cases() -> list[Case]:
    g = seeded(604)
    big = (torch.tensor([-5e3, -20.0, -40.0]), torch.tensor([-10.0, -6e3, -35.0]), torch.tensor([-30.0, -25.0, -38.0]), torch.tensor([-12.0, -28.0, -36.0]), torch.tensor([0.3, 0.9, 0.5]))  # fmt: skip
    pc, pr, rc, rr, _ = _soft_case(g, 6)
    return [
        Case("8 pairs, labels in [0, 1], β = 0.1", _soft_case(g, 8)),
        Case("labels all 1 (this is DPO), 6 pairs, β = 0.5", (pc, pr, rc, rr, torch.ones(6)), {"beta": 0.5}),
        Case("log-ratio differences of thousands, β = 1 (stability)", big, {"beta": 1.0}),
        Case("float64, 5 pairs, β = 0.2", _soft_case(g, 5, dtype=torch.float64), {"beta": 0.2}),
        Case(
            "a batch of one pair, label 0.4, β = 0.05",
            (*_soft_case(g, 1, scale=20)[:4], torch.tensor([0.4])),
            {"beta": 0.05},
        ),  # fmt: skip
        Case(
            "10 pairs, labels clamped to [0.4, 0.6], β = 2",
            _soft_case(g, 10, scale=3)[:4] + (torch.rand(10, generator=g) * 0.2 + 0.4,),
            {"beta": 2.0},
            hidden=True,
        ),  # fmt: skip
    ]


SOFT_DPO_LOSS = Exercise(
    "soft_dpo_loss",
    points=2,
    make_cases=_soft_cases,
    grads=PAIR,
    summary="the DPO loss with soft preference labels",
    random_case=lambda g: Case(
        "random pairs",
        _soft_case(
            g, draw_int(g, 1, 12), draw_choice(g, (1.0, 8.0, 50.0)), draw_choice(g, (torch.float32, torch.float64))
        ),
        {"beta": draw_choice(g, (0.05, 0.1, 1.0))},
    ),
)


def _soft(pc, pr, rc, rr, labels, beta, mode="right"):
    """−mean[p log σ(z) + (1 − p) log σ(−z)], with a switch per mistake."""
    if mode == "detached":
        pc, pr = pc.detach(), pr.detach()
    z = (1.0 if mode == "no beta" else beta) * ((pc - rc) - (pr - rr))
    p = {"hard": torch.ones_like(labels), "swapped": 1 - labels}.get(mode, labels)
    if mode == "unstable":
        per = p * torch.log(torch.sigmoid(z)) + (1 - p) * torch.log(torch.sigmoid(-z))
    elif mode == "weighted only":
        per = p * F.logsigmoid(z)
    else:
        per = p * F.logsigmoid(z) + (1 - p) * F.logsigmoid(-z)
    return -(per.sum() if mode == "summed" else per.mean())


@SOFT_DPO_LOSS.mistake("ignored the labels (plain DPO)", "weight log σ(z) by p and log σ(−z) by 1 − p.")
def soft_ignored_labels(policy_chosen_logps, policy_rejected_logps, ref_chosen_logps, ref_rejected_logps, labels, beta=0.1):  # fmt: skip
    return _soft(policy_chosen_logps, policy_rejected_logps, ref_chosen_logps, ref_rejected_logps, labels, beta, "hard")


@SOFT_DPO_LOSS.mistake("swapped p and 1 − p", "p = P(chosen ≻ rejected) multiplies log σ(z).")
def soft_swapped(policy_chosen_logps, policy_rejected_logps, ref_chosen_logps, ref_rejected_logps, labels, beta=0.1):
    return _soft(
        policy_chosen_logps, policy_rejected_logps, ref_chosen_logps, ref_rejected_logps, labels, beta, "swapped"
    )


@SOFT_DPO_LOSS.mistake(
    "weighted DPO: p·log σ(z) without the (1 − p)·log σ(−z) term", "the other order has probability 1 − p."
)
def soft_weighted_only(policy_chosen_logps, policy_rejected_logps, ref_chosen_logps, ref_rejected_logps, labels, beta=0.1):  # fmt: skip
    return _soft(
        policy_chosen_logps, policy_rejected_logps, ref_chosen_logps, ref_rejected_logps, labels, beta, "weighted only"
    )


@SOFT_DPO_LOSS.mistake("log(sigmoid(x)) is numerically unstable", "σ(−large) underflows to 0: use F.logsigmoid.")
def soft_unstable(policy_chosen_logps, policy_rejected_logps, ref_chosen_logps, ref_rejected_logps, labels, beta=0.1):
    return _soft(
        policy_chosen_logps, policy_rejected_logps, ref_chosen_logps, ref_rejected_logps, labels, beta, "unstable"
    )


@SOFT_DPO_LOSS.mistake("summed over the batch instead of averaging", "return the mean over pairs.")
def soft_summed(policy_chosen_logps, policy_rejected_logps, ref_chosen_logps, ref_rejected_logps, labels, beta=0.1):
    return _soft(
        policy_chosen_logps, policy_rejected_logps, ref_chosen_logps, ref_rejected_logps, labels, beta, "summed"
    )


@SOFT_DPO_LOSS.mistake("forgot β", "z = β · (log-ratio difference).")
def soft_no_beta(policy_chosen_logps, policy_rejected_logps, ref_chosen_logps, ref_rejected_logps, labels, beta=0.1):
    return _soft(
        policy_chosen_logps, policy_rejected_logps, ref_chosen_logps, ref_rejected_logps, labels, beta, "no beta"
    )


@SOFT_DPO_LOSS.mistake(
    "computed the loss from detached log-probabilities", "the number is right but nothing trains: drop .detach()."
)
def soft_detached(policy_chosen_logps, policy_rejected_logps, ref_chosen_logps, ref_rejected_logps, labels, beta=0.1):
    return _soft(
        policy_chosen_logps, policy_rejected_logps, ref_chosen_logps, ref_rejected_logps, labels, beta, "detached"
    )


# --------------------------------------------------------------------------------------------
# rlaif_train_step (integration): two SGD steps of the student's step on the tiny LM
# --------------------------------------------------------------------------------------------


def _step_cases() -> list[Case]:
    b = _trl_batch
    two = b(610, [[5, 6, 7], [8, 9]], [[10, 11, 0], [12, 0]], [[13, 0], [14, 15, 16, 0]])
    three = b(
        611, [[2, 3, 4], [6, 7], [8, 9, 10]], [[11, 0], [12, 13, 0], [15, 0]], [[16, 17, 0], [19, 0], [20, 21, 0]]
    )
    one = b(612, [[3, 4, 5, 6]], [[10, 11, 12, 0]], [[13, 0]])
    tie = b(617, [[5, 6, 7], [8, 9]], [[10, 11, 0], []], [[13, 0], []])
    tie["ref_rejected_logps"][1] = tie["ref_chosen_logps"][1]  # no completion tokens: log π = 0 on both sides
    return [
        Case(
            "2 steps, soft labels, β = 0.1, max_grad_norm = 0.2",
            ([two, three], [torch.tensor([0.9, 0.3]), torch.tensor([0.6, 0.2, 0.95])]),
            {"state": _lm_state(613), "lr": 0.5, "max_grad_norm": 0.2},
        ),  # fmt: skip
        Case(
            "2 steps, labels 1 and 0 (hard), β = 0.5",
            ([three, one], [torch.tensor([1.0, 0.0, 1.0]), torch.tensor([0.0])]),
            {"state": _lm_state(614), "lr": 0.5, "beta": 0.5},
        ),  # fmt: skip
        Case(
            "2 steps, clamped labels, strong clipping (0.05), β = 1",
            ([one, two], [torch.tensor([0.6]), torch.tensor([0.4, 0.55])]),
            {"state": _lm_state(615), "lr": 1.0, "beta": 1.0, "max_grad_norm": 0.05},
            hidden=True,
        ),  # fmt: skip
        Case(
            "a tie: a pair with empty completions and equal reference log-probs (margin exactly 0, label 0.3)",
            ([tie, one], [torch.tensor([0.9, 0.3]), torch.tensor([0.7])]),
            {"state": _lm_state(616), "lr": 0.5},
            hidden=True,
        ),  # fmt: skip
    ]


def _step_call(fn: Any, case: Case) -> dict:
    """Run the answer for len(batches) steps of SGD on a fresh tiny LM; return the metrics and final weights."""
    kw = dict(case.kwargs)
    batches, labels = case.args
    dev = batches[0]["input_ids"].device
    with torch.enable_grad():
        policy = tiny_gpt2(VOCAB, lm_head=True, state=kw.pop("state")).to(dev)
        optimizer = torch.optim.SGD(policy.parameters(), lr=kw.pop("lr"))
        metrics = [fn(policy, optimizer, dict(batch), lab.to(dev), **kw) for batch, lab in zip(batches, labels)]
    return {"metrics": metrics, "parameters": {n: p.detach().clone() for n, p in policy.named_parameters()}}


RLAIF_TRAIN_STEP = Exercise(
    "rlaif_train_step",
    points=3,
    make_cases=_step_cases,
    call=_step_call,
    summary="integration: one RLAIF training step (soft-label DPO: loss, backward, clipping, optimizer step)",
)


def _rlaif_step(policy, optimizer, batch, labels, beta, max_grad_norm, zero="first", clip="before", p="labels", ascend=False, agree=">"):  # fmt: skip
    """One soft-label DPO step, with a switch per mistake (zeroing, clipping, the labels, the sign, the metric)."""
    ids, cm = batch["input_ids"], batch["completion_mask"]
    lp = torch.log_softmax(policy(input_ids=ids, attention_mask=batch["attention_mask"]).logits[:, :-1], -1)
    pc, pr = (lp.gather(-1, ids[:, 1:, None])[..., 0] * cm[:, 1:]).sum(-1).chunk(2)
    z = beta * ((pc - batch["ref_chosen_logps"]) - (pr - batch["ref_rejected_logps"]))
    q = {"labels": labels, "hard": torch.ones_like(labels), "swapped": 1 - labels}[p]
    loss = -(q * F.logsigmoid(z) + (1 - q) * F.logsigmoid(-z)).mean()
    if zero == "first":
        optimizer.zero_grad()
    (-loss if ascend else loss).backward()
    if clip == "before":
        torch.nn.utils.clip_grad_norm_(policy.parameters(), max_grad_norm)
    if zero == "late":
        optimizer.zero_grad()
    optimizer.step()
    agreement = {">": (z.detach() > 0) == (labels > 0.5), ">=": (z.detach() >= 0) == (labels > 0.5)}.get(
        agree, z.detach() > 0
    )
    return {"loss": loss.item(), "agreement": agreement.float().mean().item()}


@RLAIF_TRAIN_STEP.mistake(
    "forgot optimizer.zero_grad() (gradients accumulate)", "call optimizer.zero_grad() every step."
)
def step_no_zero_grad(policy, optimizer, batch, labels, beta=0.1, max_grad_norm=1.0):
    return _rlaif_step(policy, optimizer, batch, labels, beta, max_grad_norm, zero=None)


@RLAIF_TRAIN_STEP.mistake(
    "zeroed the gradients between backward() and step() (nothing is learned)", "order: zero_grad, backward, clip, step."
)
def step_zero_grad_late(policy, optimizer, batch, labels, beta=0.1, max_grad_norm=1.0):
    return _rlaif_step(policy, optimizer, batch, labels, beta, max_grad_norm, zero="late")


@RLAIF_TRAIN_STEP.mistake("no gradient clipping", "clip_grad_norm_(policy.parameters(), max_grad_norm) before step().")
def step_no_clipping(policy, optimizer, batch, labels, beta=0.1, max_grad_norm=1.0):
    return _rlaif_step(policy, optimizer, batch, labels, beta, max_grad_norm, clip=None)


@RLAIF_TRAIN_STEP.mistake("clipped after optimizer.step() (too late to matter)", "clip between backward() and step().")
def step_clipped_after(policy, optimizer, batch, labels, beta=0.1, max_grad_norm=1.0):
    return _rlaif_step(policy, optimizer, batch, labels, beta, max_grad_norm, clip="after")


@RLAIF_TRAIN_STEP.mistake("trained on hard labels (ignored the soft labels)", "pass the labels to soft_dpo_loss.")
def step_hard_labels(policy, optimizer, batch, labels, beta=0.1, max_grad_norm=1.0):
    return _rlaif_step(policy, optimizer, batch, labels, beta, max_grad_norm, p="hard")


@RLAIF_TRAIN_STEP.mistake("used 1 − p as the label", "labels are P(chosen ≻ rejected).")
def step_labels_swapped(policy, optimizer, batch, labels, beta=0.1, max_grad_norm=1.0):
    return _rlaif_step(policy, optimizer, batch, labels, beta, max_grad_norm, p="swapped")


@RLAIF_TRAIN_STEP.mistake("gradient ascent: backpropagated −loss", "minimise the loss: loss.backward(), not (−loss).")
def step_ascent(policy, optimizer, batch, labels, beta=0.1, max_grad_norm=1.0):
    return _rlaif_step(policy, optimizer, batch, labels, beta, max_grad_norm, ascend=True)


@RLAIF_TRAIN_STEP.mistake(
    "agreement: the fraction of positive margins, whatever the label", "compare (margin > 0) with (label > 0.5)."
)
def step_agreement_ignores_labels(policy, optimizer, batch, labels, beta=0.1, max_grad_norm=1.0):
    return _rlaif_step(policy, optimizer, batch, labels, beta, max_grad_norm, agree="positive")


@RLAIF_TRAIN_STEP.mistake(
    "agreement: counted a zero margin as preferring the chosen response (margin >= 0)",
    "a tie prefers neither: the margin agrees with a label > 0.5 only when it is > 0.",
)
def step_agreement_ties(policy, optimizer, batch, labels, beta=0.1, max_grad_norm=1.0):
    return _rlaif_step(policy, optimizer, batch, labels, beta, max_grad_norm, agree=">=")


EXERCISES = [PRINCIPLE_DIRECTION, AI_PREFERENCE_PROBS, COHEN_KAPPA, SOFT_DPO_LOSS, RLAIF_TRAIN_STEP]
