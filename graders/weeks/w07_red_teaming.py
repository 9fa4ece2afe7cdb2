"""Week 7 exercises: red teaming. Cases and known mistakes for each exercise.

The reference implementations live in ``solutions/w07_red_teaming/w07_red_teaming.py``.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from graders.core import Case, Exercise, draw_choice, draw_int, seeded
from graders.weeks.fixtures import tiny_gpt2, tiny_gpt2_state
from graders.weeks.w06_constitutional_ai import _kappa_random

# --------------------------------------------------------------------------------------------
# asr_by_budget: HarmBench's attack success rate as a function of the query budget
# --------------------------------------------------------------------------------------------


def _hits(g: torch.Generator, b: int, q: int, p: float) -> torch.Tensor:
    return torch.rand(b, q, generator=g) < p


def _asr_cases() -> list[Case]:
    g = seeded(70)
    return [
        Case("48 behaviours × 4 queries, about 30% of queries succeed", (_hits(g, 48, 4, 0.3),)),
        Case("a single query per behaviour (20 behaviours)", (_hits(g, 20, 1, 0.5),)),
        Case("no query ever succeeds (ASR 0: the interval must still have width)", (torch.zeros(12, 3, dtype=torch.bool),)),
        Case("every behaviour broken by the first query (ASR 1)", (torch.ones(7, 5, dtype=torch.bool),)),
        Case("10 behaviours × 6 queries, rare successes, z = 2.576 (99%)", (_hits(g, 10, 6, 0.1),), {"z": 2.576}),
        Case("30 behaviours × 8 queries, z = 1.0", (_hits(g, 30, 8, 0.15),), {"z": 1.0}, hidden=True),
    ]  # fmt: skip


ASR_BY_BUDGET = Exercise(
    "asr_by_budget",
    points=2,
    make_cases=_asr_cases,
    summary="attack success rate per query budget, Wilson intervals",
    random_case=lambda g: Case(
        "random hits",
        (_hits(g, draw_int(g, 1, 30), draw_int(g, 1, 8), draw_choice(g, (0.0, 0.1, 0.5, 1.0))),),
        {"z": draw_choice(g, (1.0, 1.96, 2.576))},
    ),
)


def _asr(harmful, z, rule="any", interval="wilson"):
    h = harmful.float()
    broken = {"any": h.cummax(1).values, "each": h, "all": h.cummin(1).values, "pooled": h.cumsum(1) / torch.arange(1, h.shape[1] + 1)}[rule]  # fmt: skip
    n, p = h.shape[0], broken.mean(0)
    if interval == "wald":
        half = z * (p * (1 - p) / n).sqrt()
        return p, p - half, p + half
    zz = z if interval == "z_not_squared" else z * z
    centre = (p + zz / (2 * n)) / (1 + zz / n)
    half = z * (p * (1 - p) / n + zz / (4 * n * n)).sqrt() / (1 + zz / n)
    return p, centre - half, centre + half


@ASR_BY_BUDGET.mistake("the rate of the q-th query alone (not cumulative)", "a behaviour broken by an earlier query stays broken: use any over queries 1..q.")  # fmt: skip
def asr_each_query(harmful, z=1.96):
    return _asr(harmful, z, rule="each")


@ASR_BY_BUDGET.mistake("counted a behaviour only if every query broke it", "HarmBench counts a behaviour as broken if any completion is harmful.")  # fmt: skip
def asr_all_queries(harmful, z=1.96):
    return _asr(harmful, z, rule="all")


@ASR_BY_BUDGET.mistake("pooled the queries (the fraction of all completions so far)", "the unit is the behaviour, not the completion.")  # fmt: skip
def asr_pooled(harmful, z=1.96):
    return _asr(harmful, z, rule="pooled")


@ASR_BY_BUDGET.mistake("a Wald interval p ± z·sqrt(p(1−p)/n)", "Wald has zero width at 0 and 1: use Wilson's centre and half-width.")  # fmt: skip
def asr_wald(harmful, z=1.96):
    return _asr(harmful, z, interval="wald")


@ASR_BY_BUDGET.mistake("used z instead of z² in Wilson's formula", "the centre is (p + z²/2n) / (1 + z²/n).")
def asr_z_not_squared(harmful, z=1.96):
    return _asr(harmful, z, interval="z_not_squared")


# --------------------------------------------------------------------------------------------
# cohens_kappa: agreement between two judges beyond chance
# --------------------------------------------------------------------------------------------


def _kappa_cases() -> list[Case]:
    g = seeded(71)
    a = torch.randint(0, 2, (40,), generator=g)
    flip = torch.rand(40, generator=g) < 0.2
    m = torch.randint(0, 5, (60,), generator=g)
    noisy = torch.where(torch.rand(60, generator=g) < 0.3, torch.randint(0, 5, (60,), generator=g), m)
    return [
        Case("two binary judges agreeing on 80% of 40 completions", (a, torch.where(flip, 1 - a, a))),
        Case("five response kinds (labels 0..4), 60 completions", (m, noisy)),
        Case("a rare class: judge b says 1 only 3 times in 30", (torch.tensor([0] * 25 + [1] * 5), torch.tensor([0] * 26 + [1] * 3 + [0]))),
        Case("labels 0, 2 and 5 (not consecutive); one label only judge b uses", (torch.tensor([0, 2, 2, 0, 5, 5, 0, 2]), torch.tensor([0, 2, 5, 0, 5, 5, 3, 2]))),
        Case("perfect disagreement on a balanced binary set (κ = −1)", (torch.tensor([0, 1] * 6), torch.tensor([1, 0] * 6)), hidden=True),
        Case("negative labels (−1 = no verdict, 0, 1)", (torch.tensor([-1, 0, 1, 1, -1, 0, 1, 0]), torch.tensor([-1, 0, 1, 0, 0, 0, 1, -1])), hidden=True),
    ]  # fmt: skip


COHENS_KAPPA = Exercise(
    "cohens_kappa",
    points=1,
    make_cases=_kappa_cases,
    random_case=_kappa_random,  # labels from any integers, negative ones too, int64 or int32
    forbidden=("cohen_kappa_score",),
    summary="Cohen's kappa of two judges",
)


@COHENS_KAPPA.mistake(
    "counted the labels with torch.bincount (negative labels raise)",
    "labels are any integers: compare with each label k (a == k) over torch.unique of both judges.",
)
def kappa_bincount(a, b):
    n = int(torch.cat([a, b]).max()) + 1
    pa, pb = torch.bincount(a, minlength=n).double() / len(a), torch.bincount(b, minlength=n).double() / len(b)
    po = (a == b).double().mean()
    pe = (pa * pb).sum()
    return (po - pe) / (1 - pe)


def _kappa(a, b, chance="product", denominator="chance", binary=False):
    classes = torch.unique(torch.cat([a, b]))
    pa = torch.stack([(a == c).double().mean() for c in classes])
    pb = torch.stack([(b == c).double().mean() for c in classes])
    po = (a == b).double().mean()
    pe = {"product": (pa * pb).sum(), "one_rater": (pa * pa).sum(), "uniform": torch.tensor(1.0 / len(classes), dtype=torch.float64), "none": torch.tensor(0.0, dtype=torch.float64)}[chance]  # fmt: skip
    if binary:
        p1, q1 = (a > 0).double().mean(), (b > 0).double().mean()
        pe = p1 * q1 + (1 - p1) * (1 - q1)
    return (po - pe) / (1 - (po if denominator == "observed" else pe))


@COHENS_KAPPA.mistake("raw agreement (no chance correction)", "subtract the agreement two independent judges would reach by chance.")  # fmt: skip
def kappa_raw_agreement(a, b):
    return _kappa(a, b, chance="none")


@COHENS_KAPPA.mistake("chance agreement from one judge's label frequencies only", "p_e = Σ_k p_a(k) · p_b(k): both judges' marginals.")  # fmt: skip
def kappa_one_rater(a, b):
    return _kappa(a, b, chance="one_rater")


@COHENS_KAPPA.mistake("assumed chance agreement 1/K (uniform labels)", "estimate each judge's label frequencies from the data.")  # fmt: skip
def kappa_uniform(a, b):
    return _kappa(a, b, chance="uniform")


@COHENS_KAPPA.mistake("divided by 1 − p_o instead of 1 − p_e", "κ = (p_o − p_e) / (1 − p_e).")
def kappa_wrong_denominator(a, b):
    return _kappa(a, b, denominator="observed")


@COHENS_KAPPA.mistake("treated the labels as binary (0 vs anything else)", "sum the chance agreement over every label either judge uses.")  # fmt: skip
def kappa_binary(a, b):
    return _kappa(a, b, binary=True)


# --------------------------------------------------------------------------------------------
# GCG on a tiny GPT-2 (graders/weeks/fixtures.py): token gradients, candidates, one step
# --------------------------------------------------------------------------------------------

VOCAB = 24


def _lm_state(seed: int) -> dict[str, torch.Tensor]:
    return tiny_gpt2_state(seed, vocab_size=VOCAB, lm_head=True, scale=0.5, unit_weight_suffix="ln_f.weight")


def _ids(g: torch.Generator, n: int) -> torch.Tensor:
    return torch.randint(2, VOCAB, (n,), generator=g)


def _grad_cases() -> list[Case]:
    g = seeded(72)
    return [
        Case("12 tokens: prompt 0..3, suffix 4..8, target 9..11", (_ids(g, 12), (4, 9), (9, 12)), {"state": _lm_state(73)}),
        Case("a one-token suffix and a one-token target", (_ids(g, 6), (3, 4), (5, 6)), {"state": _lm_state(74)}),
        Case("a gap between suffix and target (the 'Assistant:' tokens), 15 tokens", (_ids(g, 15), (2, 8), (11, 15)), {"state": _lm_state(75)}),
        Case("suffix at the start (no prompt before it), other weights", (_ids(g, 10), (0, 4), (6, 10)), {"state": _lm_state(76)}, hidden=True),
    ]  # fmt: skip


def _model_call(fn: Any, case: Case) -> Any:
    """Build the tiny GPT-2 LM with the case's weights and run the answer with it first."""
    kwargs = dict(case.kwargs)
    model = tiny_gpt2(VOCAB, lm_head=True, state=kwargs.pop("state")).to(case.args[0].device)
    return fn(model, *case.args, **kwargs)


GCG_TOKEN_GRADIENTS = Exercise(
    "gcg_token_gradients",
    points=3,
    make_cases=_grad_cases,
    call=_model_call,
    summary="GCG's gradient of the target loss with respect to the suffix's one-hot tokens",
)


def _target_loss(model, input_ids, suffix_slice, target_slice, shift=1, reduce="mean", sign=1.0, leaf="onehot", norm=False):  # fmt: skip
    """The token gradient, with a switch per mistake."""
    (s0, s1), (t0, t1) = suffix_slice, target_slice
    wte = model.get_input_embeddings().weight
    onehot = F.one_hot(input_ids[s0:s1], wte.shape[0]).to(wte.dtype).requires_grad_()
    suffix = onehot @ wte if leaf == "onehot" else wte[input_ids[s0:s1]].detach().requires_grad_()
    embeds = torch.cat([wte[input_ids[:s0]], suffix, wte[input_ids[s1:]]])[None]
    logits = model(inputs_embeds=embeds).logits[0, t0 - shift : t1 - shift]
    loss = sign * F.cross_entropy(logits, input_ids[t0:t1], reduction=reduce)
    grad = torch.autograd.grad(loss, onehot if leaf == "onehot" else suffix)[0]
    return grad / grad.norm(dim=-1, keepdim=True) if norm else grad


@GCG_TOKEN_GRADIENTS.mistake("no shift: the logits at t scored the target token at t", "the logits at t − 1 predict token t.")  # fmt: skip
def grad_no_shift(model, input_ids, suffix_slice, target_slice):
    return _target_loss(model, input_ids, suffix_slice, target_slice, shift=0)


@GCG_TOKEN_GRADIENTS.mistake("summed the target loss instead of averaging it", "the GCG loss is the mean cross-entropy over target tokens.")  # fmt: skip
def grad_summed(model, input_ids, suffix_slice, target_slice):
    return _target_loss(model, input_ids, suffix_slice, target_slice, reduce="sum")


@GCG_TOKEN_GRADIENTS.mistake("gradient of the target's log-likelihood (sign flipped)", "differentiate the loss (cross-entropy) that GCG minimises.")  # fmt: skip
def grad_of_likelihood(model, input_ids, suffix_slice, target_slice):
    return _target_loss(model, input_ids, suffix_slice, target_slice, sign=-1.0)


@GCG_TOKEN_GRADIENTS.mistake(
    "differentiated the suffix's embeddings instead of the one-hot tokens (shape [L, d], not [L, V])",
    "make the one-hot matrix the leaf (requires_grad_) and embed it as one_hot @ W_E.",
)
def grad_wrt_embeddings(model, input_ids, suffix_slice, target_slice):
    return _target_loss(model, input_ids, suffix_slice, target_slice, leaf="embeds")


@GCG_TOKEN_GRADIENTS.mistake("normalised each row of the gradient (llm-attacks does; nanoGCG does not)", "return the raw gradient.")  # fmt: skip
def grad_normalised(model, input_ids, suffix_slice, target_slice):
    return _target_loss(model, input_ids, suffix_slice, target_slice, norm=True)


def _cand_cases() -> list[Case]:
    g = seeded(77)
    return [
        Case("L = 5 positions, V = 24, top-4, 8 candidates", (torch.randn(5, 24, generator=g), _ids(g, 5), 4, torch.randint(0, 5, (8,), generator=g), torch.randint(0, 4, (8,), generator=g))),
        Case("a one-token suffix, top-1 (every candidate takes the best token)", (torch.randn(1, 24, generator=g), _ids(g, 1), 1, torch.zeros(3, dtype=torch.long), torch.zeros(3, dtype=torch.long))),
        Case("gradients near ±1000, L = 6, top-10, 16 candidates", (torch.randn(6, 24, generator=g) * 1000, _ids(g, 6), 10, torch.randint(0, 6, (16,), generator=g), torch.randint(0, 10, (16,), generator=g))),
        Case("L = 4, top-3, 12 candidates, float64 gradient", (torch.randn(4, 24, generator=g, dtype=torch.float64), _ids(g, 4), 3, torch.randint(0, 4, (12,), generator=g), torch.randint(0, 3, (12,), generator=g)), hidden=True),
    ]  # fmt: skip


def _cand_random(g: torch.Generator) -> Case:
    n, topk, b = draw_int(g, 1, 6), draw_int(g, 1, 8), draw_int(g, 1, 12)
    grad = torch.randn(n, VOCAB, generator=g, dtype=draw_choice(g, (torch.float32, torch.float64)))
    pos, ranks = torch.randint(0, n, (b,), generator=g), torch.randint(0, topk, (b,), generator=g)
    return Case(
        f"L = {n}, top-{topk}, {b} candidates", (grad * draw_choice(g, (1.0, 1000.0)), _ids(g, n), topk, pos, ranks)
    )


GCG_CANDIDATES = Exercise(
    "gcg_candidates",
    points=2,
    make_cases=_cand_cases,
    summary="GCG's candidate suffixes from the top-k token gradients",
    random_case=_cand_random,
)


def _candidates(grad, suffix_ids, topk, positions, ranks, score="neg", rank=True, token_is_rank=False, every=False):
    s = {"neg": -grad, "pos": grad, "abs": grad.abs()}[score]
    top = s.topk(topk, dim=1).indices
    r = ranks if rank else torch.zeros_like(ranks)
    out = suffix_ids.repeat(len(positions), 1)
    if every:
        return top[:, r].T.clone()
    rows = torch.arange(len(positions))
    out[rows, positions] = r if token_is_rank else top[positions, r]
    return out


@GCG_CANDIDATES.mistake("took the top-k of +gradient (tokens that increase the loss)", "the loss falls fastest along −gradient.")  # fmt: skip
def cand_largest(grad, suffix_ids, topk, positions, ranks):
    return _candidates(grad, suffix_ids, topk, positions, ranks, score="pos")


@GCG_CANDIDATES.mistake("ranked tokens by |gradient|", "a large positive gradient means the loss goes up: rank by −gradient.")  # fmt: skip
def cand_abs(grad, suffix_ids, topk, positions, ranks):
    return _candidates(grad, suffix_ids, topk, positions, ranks, score="abs")


@GCG_CANDIDATES.mistake("always used the best token (ignored ranks)", "candidate b takes the ranks[b]-th best token, not always the first.")  # fmt: skip
def cand_rank0(grad, suffix_ids, topk, positions, ranks):
    return _candidates(grad, suffix_ids, topk, positions, ranks, rank=False)


@GCG_CANDIDATES.mistake(
    "wrote the rank itself as the token id", "look the token id up: topk_ids[positions[b], ranks[b]]."
)
def cand_rank_as_token(grad, suffix_ids, topk, positions, ranks):
    return _candidates(grad, suffix_ids, topk, positions, ranks, token_is_rank=True)


@GCG_CANDIDATES.mistake("replaced every position at once", "GCG changes one position per candidate: positions[b].")
def cand_every_position(grad, suffix_ids, topk, positions, ranks):
    return _candidates(grad, suffix_ids, topk, positions, ranks, every=True)


def _step_cases() -> list[Case]:
    g = seeded(78)
    return [
        Case("12 tokens: suffix 4..8, target 9..11, top-4, 8 candidates", (_ids(g, 12), (4, 9), (9, 12), 4, torch.randint(0, 5, (8,), generator=g), torch.randint(0, 4, (8,), generator=g)), {"state": _lm_state(79)}),
        Case("a gap between suffix and target, top-6, 12 candidates", (_ids(g, 14), (2, 7), (10, 14), 6, torch.randint(0, 5, (12,), generator=g), torch.randint(0, 6, (12,), generator=g)), {"state": _lm_state(80)}),
        Case("one candidate only (top-1)", (_ids(g, 9), (3, 6), (7, 9), 1, torch.tensor([1]), torch.tensor([0])), {"state": _lm_state(81)}),
        Case("suffix at the start, top-5, 10 candidates, other weights", (_ids(g, 11), (0, 4), (6, 11), 5, torch.randint(0, 4, (10,), generator=g), torch.randint(0, 5, (10,), generator=g)), {"state": _lm_state(82)}, hidden=True),
        _worse_case(),
    ]  # fmt: skip


def _worse_case() -> Case:
    """Every candidate (ranks 17–19 of the top-20) is worse than the current suffix: GCG still moves."""
    g = seeded(753)  # chosen so that the current loss (5.93) is below every candidate's (≥ 6.21)
    ids, pos, ranks = _ids(g, 10), torch.randint(0, 3, (3,), generator=g), torch.randint(17, 20, (3,), generator=g)
    describe = "the best candidate is worse than the current suffix (low-ranked candidates of a top-20)"
    return Case(describe, (ids, (3, 6), (7, 10), 20, pos, ranks), {"state": _lm_state(753)}, hidden=True)


GCG_STEP = Exercise(
    "gcg_step",
    points=3,
    make_cases=_step_cases,
    call=_model_call,
    summary="integration: one GCG step (token gradients, top-k candidates, batched loss of every candidate, keep the best)",
)


def _gcg_step(model, input_ids, suffix_slice, target_slice, topk, positions, ranks, pick="min", shift=1, reduce="mean", keep=False, score="neg"):  # fmt: skip
    """One GCG step, with a switch per mistake."""
    (s0, s1), (t0, t1) = suffix_slice, target_slice
    grad = _target_loss(model, input_ids, suffix_slice, target_slice)
    batch = input_ids.repeat(len(positions), 1)
    batch[:, s0:s1] = _candidates(grad, input_ids[s0:s1], topk, positions, ranks, score=score)
    with torch.no_grad():
        logits = model(input_ids=batch).logits[:, t0 - shift : t1 - shift]
    ce = F.cross_entropy(logits.transpose(1, 2), batch[:, t0:t1], reduction="none")
    losses = ce.sum(1) if reduce == "sum" else ce.mean(1)
    best = losses.argmax() if pick == "max" else losses.argmin()
    if keep == "if_better":  # keep the current suffix unless the best candidate improves on it
        with torch.no_grad():
            now = model(input_ids=input_ids[None]).logits[:, t0 - 1 : t1 - 1]
        keep = bool(F.cross_entropy(now.transpose(1, 2), input_ids[None, t0:t1]) <= losses[best])
    return (input_ids.clone() if keep else batch[best]), losses


@GCG_STEP.mistake("kept the candidate with the highest loss", "GCG keeps the candidate that lowers the target loss most: argmin.")  # fmt: skip
def step_argmax(model, input_ids, suffix_slice, target_slice, topk, positions, ranks):
    return _gcg_step(model, input_ids, suffix_slice, target_slice, topk, positions, ranks, pick="max")


@GCG_STEP.mistake("no shift in the candidates' loss", "the logits at t − 1 predict token t, for the candidates too.")
def step_no_shift(model, input_ids, suffix_slice, target_slice, topk, positions, ranks):
    return _gcg_step(model, input_ids, suffix_slice, target_slice, topk, positions, ranks, shift=0)


@GCG_STEP.mistake("summed each candidate's target loss", "report the mean cross-entropy over target tokens, as the gradient's loss.")  # fmt: skip
def step_summed(model, input_ids, suffix_slice, target_slice, topk, positions, ranks):
    return _gcg_step(model, input_ids, suffix_slice, target_slice, topk, positions, ranks, reduce="sum")


@GCG_STEP.mistake("returned the old input_ids (the best candidate was never written back)", "return the best candidate's full token sequence.")  # fmt: skip
def step_not_kept(model, input_ids, suffix_slice, target_slice, topk, positions, ranks):
    return _gcg_step(model, input_ids, suffix_slice, target_slice, topk, positions, ranks, keep=True)


@GCG_STEP.mistake("candidates from the top-k of +gradient", "candidates come from the top-k of −gradient.")
def step_largest(model, input_ids, suffix_slice, target_slice, topk, positions, ranks):
    return _gcg_step(model, input_ids, suffix_slice, target_slice, topk, positions, ranks, score="pos")


@GCG_STEP.mistake(
    "kept the current suffix when the best candidate is worse",
    "GCG always moves to the best candidate, even a worse one (that is how it leaves a local minimum).",
)
def step_keep_if_better(model, input_ids, suffix_slice, target_slice, topk, positions, ranks):
    return _gcg_step(model, input_ids, suffix_slice, target_slice, topk, positions, ranks, keep="if_better")


EXERCISES = [ASR_BY_BUDGET, COHENS_KAPPA, GCG_TOKEN_GRADIENTS, GCG_CANDIDATES, GCG_STEP]
