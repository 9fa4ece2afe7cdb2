"""Week 12 exercises: bias, evaluation and governance. Cases and known mistakes for each exercise.

The reference implementations live in ``solutions/w12_bias_evaluation/w12_bias_evaluation.py``.
"""

from __future__ import annotations

from typing import Any

import torch

from graders.core import Case, Exercise, draw_choice, draw_int, seeded
from graders.weeks.fixtures import tiny_gpt2, tiny_gpt2_state

# --------------------------------------------------------------------------------------------
# counterfactual_gap
# --------------------------------------------------------------------------------------------


def _gap_case(g: torch.Generator, describe: str, starts: list[int], t: int, v: int, scale=1.0, **kw: Any) -> Case:
    """2N rows (group a's prompts, then group b's); row i's completion runs from starts[i] to its end."""
    dtype = kw.pop("dtype", torch.float32)
    ends = kw.pop("ends", [t] * len(starts))
    mask = torch.tensor([[int(s <= j < e) for j in range(t)] for s, e in zip(starts, ends)])
    if kw.pop("bool_mask", False):
        mask = mask.bool()
    logits = torch.randn(len(starts), t, v, generator=g, dtype=dtype) * scale
    return Case(describe, (logits, torch.randint(0, v, (len(starts), t), generator=g), mask), **kw)


def _gap_cases() -> list[Case]:
    g = seeded(120)
    return [
        _gap_case(g, "one pair: group a's prompt is 2 tokens longer than group b's, completion of 3 tokens", [5, 3], 8, 9, 2.0),
        _gap_case(g, "two pairs, right padding after the completion, logits [4, 9, 7]", [4, 3, 5, 2], 9, 7, ends=[7, 6, 9, 5]),
        _gap_case(g, "logits near ±1000 (log of a softmax underflows)", [3, 4], 7, 6, 1000.0),
        _gap_case(g, "float64 logits, a bool completion mask, three pairs", [2, 3, 4, 2, 5, 3], 8, 5, 3.0, dtype=torch.float64, bool_mask=True),
        _gap_case(g, "four pairs of different prompt lengths, logits [8, 10, 11]", [6, 2, 4, 5, 3, 7, 2, 4], 10, 11, 1.5, ends=[10, 6, 9, 10, 8, 10, 7, 9], hidden=True),
    ]  # fmt: skip


def _gap_random(g: torch.Generator) -> Case:
    """Any number of pairs, prompt and completion lengths, padding, dtype and mask kind."""
    pairs, t, v = draw_int(g, 1, 4), draw_int(g, 3, 10), draw_int(g, 2, 12)
    starts = [draw_int(g, 1, t - 1) for _ in range(2 * pairs)]
    ends = [draw_int(g, s + 1, t) for s in starts]
    dtype, bool_mask = draw_choice(g, (torch.float32, torch.float64)), bool(draw_int(g, 0, 1))
    desc = f"{pairs} pair(s), logits [{2 * pairs}, {t}, {v}] ({str(dtype).removeprefix('torch.')})"
    return _gap_case(g, desc, starts, t, v, draw_choice(g, (1.0, 100.0)), dtype=dtype, ends=ends, bool_mask=bool_mask)


COUNTERFACTUAL_GAP = Exercise(
    "counterfactual_gap",
    points=2,
    make_cases=_gap_cases,
    grads=("logits",),
    forbidden=("cross_entropy", "nll_loss", "CrossEntropyLoss", "NLLLoss"),
    summary="the counterfactual log-probability gap of paired prompts",
    random_case=_gap_random,
)


def _completion_logps(logits, input_ids, completion_mask):
    lp = torch.log_softmax(logits[:, :-1], -1).gather(-1, input_ids[:, 1:, None])[..., 0]
    return (lp * completion_mask[:, 1:].to(lp.dtype)).sum(-1)


@COUNTERFACTUAL_GAP.mistake(
    "pairs taken as neighbouring rows (0 with 1)", "rows 0..N-1 are group a, rows N..2N-1 group b."
)
def interleaved_pairs(logits, input_ids, completion_mask):
    seq = _completion_logps(logits, input_ids, completion_mask)
    return seq[0::2] - seq[1::2]


@COUNTERFACTUAL_GAP.mistake("sign flip (group b minus group a)", "the gap is log p(· | a) − log p(· | b).")
def sign_flip(logits, input_ids, completion_mask):
    seq = _completion_logps(logits, input_ids, completion_mask)
    n = seq.shape[0] // 2
    return seq[n:] - seq[:n]


@COUNTERFACTUAL_GAP.mistake("no one-token shift", "the logits at position t − 1 predict the token at t.")
def no_shift(logits, input_ids, completion_mask):
    lp = torch.log_softmax(logits, -1).gather(-1, input_ids[..., None])[..., 0]
    seq = (lp * completion_mask.to(lp.dtype)).sum(-1)
    n = seq.shape[0] // 2
    return seq[:n] - seq[n:]


@COUNTERFACTUAL_GAP.mistake(
    "counted the prompt tokens (they differ between the groups)", "sum over completion tokens only."
)
def prompt_tokens_counted(logits, input_ids, completion_mask):
    lp = torch.log_softmax(logits[:, :-1], -1).gather(-1, input_ids[:, 1:, None])[..., 0]
    seq = lp.sum(-1)
    n = seq.shape[0] // 2
    return seq[:n] - seq[n:]


@COUNTERFACTUAL_GAP.mistake("averaged over tokens instead of summing", "a sequence's log-probability is a sum.")
def length_normalised(logits, input_ids, completion_mask):
    m = completion_mask[:, 1:].to(logits.dtype)
    lp = torch.log_softmax(logits[:, :-1], -1).gather(-1, input_ids[:, 1:, None])[..., 0]
    seq = (lp * m).sum(-1) / m.sum(-1)
    n = seq.shape[0] // 2
    return seq[:n] - seq[n:]


@COUNTERFACTUAL_GAP.mistake("log of a softmax (underflows to −inf)", "use log_softmax, not log(softmax).")
def log_of_softmax(logits, input_ids, completion_mask):
    lp = torch.log(torch.softmax(logits[:, :-1], -1)).gather(-1, input_ids[:, 1:, None])[..., 0]
    seq = (lp * completion_mask[:, 1:].to(lp.dtype)).sum(-1)
    n = seq.shape[0] // 2
    return seq[:n] - seq[n:]


@COUNTERFACTUAL_GAP.mistake("detached the logits (no gradient)", "no .detach(): the gap must stay differentiable.")
def detached_logits(logits, input_ids, completion_mask):
    seq = _completion_logps(logits.detach(), input_ids, completion_mask)
    n = seq.shape[0] // 2
    return seq[:n] - seq[n:]


# --------------------------------------------------------------------------------------------
# bbq_bias_scores
# --------------------------------------------------------------------------------------------


def _bbq_case(g: torch.Generator, describe: str, n: int, **kw: Any) -> Case:
    """Random BBQ answers; ``pred_rule`` rewrites the predictions, ``ambiguous`` overrides the split."""
    label = torch.randint(0, 3, (n,), generator=g)
    unknown = torch.randint(0, 3, (n,), generator=g)
    biased = torch.zeros(n, 3, dtype=torch.bool)
    for i in range(n):  # exactly one biased answer among the two non-unknown ones
        others = [j for j in range(3) if j != int(unknown[i])]
        biased[i, others[int(torch.randint(0, 2, (1,), generator=g))]] = True
    ambiguous = kw.pop("ambiguous", torch.arange(n) % 2 == 0)
    pred = torch.randint(0, 3, (n,), generator=g)
    rule = kw.pop("pred_rule", None)
    if rule == "disamb_unknown":
        pred = torch.where(ambiguous, pred, unknown)
    elif rule == "never_biased":
        pred = torch.where(biased.gather(1, pred[:, None])[:, 0], unknown, pred)
        pred = torch.where(
            ambiguous, pred, torch.where(biased[:, 0] | (unknown == 0), 1 + (biased[:, 1] | (unknown == 1)).long(), 0)
        )
    elif rule == "biased_amb":
        pred = torch.where(ambiguous & (torch.arange(n) % 4 == 0), biased.float().argmax(1), pred)
    return Case(describe, (pred, label, unknown, biased, ambiguous), **kw)


def _bbq_cases() -> list[Case]:
    g = seeded(121)
    return [
        _bbq_case(g, "12 items, half ambiguous, random answers", 12),
        _bbq_case(g, "every disambiguated answer is 'unknown' (no biased answer: s_DIS is 0, not NaN)", 10, pred_rule="disamb_unknown"),
        _bbq_case(g, "disambiguated answers name a group but never the biased one (s_DIS is 0, not −1)", 10, pred_rule="never_biased"),
        _bbq_case(g, "no ambiguous items at all (their scores are NaN)", 8, ambiguous=torch.zeros(8, dtype=torch.bool)),
        _bbq_case(g, "40 items, many biased ambiguous answers", 40, pred_rule="biased_amb", hidden=True),
        _bbq_case(g, "a single disambiguated item and 2 ambiguous ones", 3, ambiguous=torch.tensor([True, False, True]), hidden=True),
    ]  # fmt: skip


def _bbq_random(g: torch.Generator) -> Case:
    """1 to 20 items; none, some or all ambiguous; random, all-unknown, never-biased or biased answers."""
    n = draw_int(g, 1, 20)
    ambiguous = torch.rand(n, generator=g) < draw_choice(g, (0.0, 0.5, 1.0))
    rule = draw_choice(g, (None, "disamb_unknown", "never_biased", "biased_amb"))
    return _bbq_case(g, f"{n} items, {int(ambiguous.sum())} ambiguous, answers: {rule or 'random'}", n, ambiguous=ambiguous, pred_rule=rule)  # fmt: skip


BBQ_BIAS_SCORES = Exercise(
    "bbq_bias_scores",
    points=3,
    make_cases=_bbq_cases,
    random_case=_bbq_random,
    summary="BBQ's accuracy and bias scores (s_DIS, s_AMB), aggregated as lm-evaluation-harness",
    forbidden_courselib=("courselib.world.bias.bbq_scores", "courselib.world.harness._bbq_metric"),
)


def _bbq(pred, label, unknown, biased, ambiguous, variant=""):
    correct = (pred == label).double()
    is_biased = biased.gather(1, pred[:, None])[:, 0].double()
    non_unknown = (pred != unknown).double() if variant != "all_answers" else torch.ones_like(correct)

    def s(mask):
        if not mask.any():
            return 0.0 if variant == "zero_if_empty" else float("nan")
        nb, nn = is_biased[mask].sum(), non_unknown[mask].sum()
        if variant == "raw_fraction":
            return (nb / nn).item() if nn > 0 else 0.0
        if nb == 0 and variant != "no_zero":
            return 0.0
        return (2 * nb / nn - 1).item()

    amb, dis = ambiguous, ~ambiguous
    empty = 0.0 if variant == "zero_if_empty" else float("nan")
    acc_amb = correct[amb].mean().item() if amb.any() else empty
    weight = {"acc_weight": acc_amb, "overall_acc": 1 - correct.mean().item()}.get(variant, 1 - acc_amb)
    s_amb = s(dis) if variant == "amb_from_disamb" else s(amb)
    return {
        "accuracy_amb": acc_amb,
        "accuracy_disamb": correct[dis].mean().item() if dis.any() else empty,
        "disamb_bias_score": s(dis),
        "amb_bias_score": weight * s_amb if amb.any() else empty,
    }


@BBQ_BIAS_SCORES.mistake(
    "s_AMB scaled the disambiguated s_DIS", "lm-eval computes the s_DIS inside s_AMB on the ambiguous items."
)
def amb_score_from_disambiguated(pred, label, unknown, biased, ambiguous):
    return _bbq(pred, label, unknown, biased, ambiguous, "amb_from_disamb")


@BBQ_BIAS_SCORES.mistake("'unknown' answers counted in the denominator", "divide by the non-unknown answers only.")
def unknown_in_denominator(pred, label, unknown, biased, ambiguous):
    return _bbq(pred, label, unknown, biased, ambiguous, "all_answers")


@BBQ_BIAS_SCORES.mistake("no 0 when nothing is biased (gives −1 or NaN)", "if n_biased == 0 the score is 0.")
def no_zero_when_nothing_biased(pred, label, unknown, biased, ambiguous):
    return _bbq(pred, label, unknown, biased, ambiguous, "no_zero")


@BBQ_BIAS_SCORES.mistake("forgot 2·x − 1 (a fraction, not a score in [−1, 1])", "s = 2·n_biased/n_non_unknown − 1.")
def raw_fraction(pred, label, unknown, biased, ambiguous):
    return _bbq(pred, label, unknown, biased, ambiguous, "raw_fraction")


@BBQ_BIAS_SCORES.mistake("s_AMB weighted by accuracy instead of error", "s_AMB = (1 − accuracy_amb) · s.")
def accuracy_not_error_weight(pred, label, unknown, biased, ambiguous):
    return _bbq(pred, label, unknown, biased, ambiguous, "acc_weight")


@BBQ_BIAS_SCORES.mistake("s_AMB weighted by the error on all items", "use the accuracy on ambiguous items only.")
def overall_accuracy_weight(pred, label, unknown, biased, ambiguous):
    return _bbq(pred, label, unknown, biased, ambiguous, "overall_acc")


@BBQ_BIAS_SCORES.mistake("0 instead of NaN for a condition with no items", "no items: NaN (not measured), not 0.")
def zero_for_empty_condition(pred, label, unknown, biased, ambiguous):
    return _bbq(pred, label, unknown, biased, ambiguous, "zero_if_empty")


# --------------------------------------------------------------------------------------------
# preference_rate
# --------------------------------------------------------------------------------------------


def _pref_case(g: torch.Generator, describe: str, n: int, shift: float = 0.0, ties: int = 0, **kw: Any) -> Case:
    more = torch.randn(n, generator=g, dtype=torch.float64) * 3 - 20
    less = more - shift + torch.randn(n, generator=g, dtype=torch.float64)
    less[:ties] = more[:ties]
    return Case(describe, (more, less), **kw)


def _pref_cases() -> list[Case]:
    g = seeded(122)
    return [
        _pref_case(g, "20 pairs, no preference on average", 20),
        _pref_case(g, "12 pairs, 4 of them ties (a tie is not a stereotyped preference)", 12, ties=4),
        _pref_case(g, "8 pairs, every one prefers the stereotyping sentence", 8, shift=10.0),
        _pref_case(g, "a single pair", 1, shift=1.0),
        Case("30 pairs with z = 2.576 (a 99% interval)", _pref_case(g, "", 30, shift=0.5).args, {"z": 2.576}, hidden=True),
        _pref_case(g, "50 pairs, 10 ties, mild preference", 50, shift=0.3, ties=10, hidden=True),
    ]  # fmt: skip


def _pref_random(g: torch.Generator) -> Case:
    n = draw_int(g, 1, 40)
    case = _pref_case(g, f"{n} pairs", n, draw_choice(g, (0.0, 0.5, 10.0)), draw_int(g, 0, n))
    return Case(case.describe, case.args, {"z": draw_choice(g, (1.0, 1.96, 2.576))})


PREFERENCE_RATE = Exercise(
    "preference_rate",
    points=2,
    make_cases=_pref_cases,
    summary="CrowS-Pairs' stereotype preference rate with a Wilson interval",
    random_case=_pref_random,
    forbidden=("binomtest", "proportion_ci", "proportion_confint"),
    forbidden_courselib=("courselib.world.bias.wilson_interval",),
)


def _rate(logp_more, logp_less, z, variant=""):
    n = logp_more.numel()
    wins = (logp_more >= logp_less) if variant == "ties" else (logp_more > logp_less)
    if variant == "swapped":
        wins = logp_less > logp_more
    p = wins.double().sum() / n
    if variant == "wald":
        half = z * torch.sqrt(p * (1 - p) / n)
        return torch.stack([p, p - half, p + half])
    denom = 1 + z * z / n
    centre = p if variant == "no_shift" else (p + z * z / (2 * n)) / denom
    half = z * torch.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    out = torch.stack([p, centre - half, centre + half])
    return out * 100 if variant == "percent" else out


@PREFERENCE_RATE.mistake(
    "ties counted as stereotyped preferences", "lm-eval counts strictly higher log-likelihood only."
)
def ties_count_as_stereotype(logp_more, logp_less, z=1.96):
    return _rate(logp_more, logp_less, z, "ties")


@PREFERENCE_RATE.mistake("swapped the two sentences", "the rate counts log p(more) > log p(less).")
def swapped_sentences(logp_more, logp_less, z=1.96):
    return _rate(logp_more, logp_less, z, "swapped")


@PREFERENCE_RATE.mistake("Wald interval p ± z·√(p(1−p)/n)", "Wilson's interval, which stays inside [0, 1].")
def wald_interval(logp_more, logp_less, z=1.96):
    return _rate(logp_more, logp_less, z, "wald")


@PREFERENCE_RATE.mistake("Wilson half-width around p (no centre shift)", "the centre is (p + z²/2n)/(1 + z²/n).")
def wilson_without_centre_shift(logp_more, logp_less, z=1.96):
    return _rate(logp_more, logp_less, z, "no_shift")


@PREFERENCE_RATE.mistake("a percentage instead of a fraction", "return fractions in [0, 1].")
def percent_not_fraction(logp_more, logp_less, z=1.96):
    return _rate(logp_more, logp_less, z, "percent")


@PREFERENCE_RATE.mistake("ignored the z argument (always 1.96)", "use z for the interval's width.")
def ignored_z(logp_more, logp_less, z=1.96):
    return _rate(logp_more, logp_less, 1.96)


# --------------------------------------------------------------------------------------------
# run_eval (integration): the harness's loop over a task on a tiny LM with dropout
# --------------------------------------------------------------------------------------------

VOCAB = 12


def _samples(seed: int, n: int) -> list[dict]:
    g = seeded(seed)
    out = []
    for _ in range(n):
        prompt = torch.randint(2, VOCAB, (int(torch.randint(2, 5, (1,), generator=g)),), generator=g).tolist()
        choices = [
            torch.randint(2, VOCAB, (int(torch.randint(1, 4, (1,), generator=g)),), generator=g).tolist()
            for _ in range(3)
        ]
        out.append({"input": prompt, "choices": choices, "target": int(torch.randint(0, 3, (1,), generator=g))})
    return out  # fmt: skip


def _run_cases() -> list[Case]:
    return [
        Case("7 samples, batch_size 3 (a last, partial batch of 1)", (_samples(130, 7), _state(131)), {"batch_size": 3}),
        Case("5 samples, limit 4, batch_size 2", (_samples(132, 5), _state(133)), {"batch_size": 2, "limit": 4}),
        Case("9 samples, batch_size 4, limit 6", (_samples(134, 9), _state(135)), {"batch_size": 4, "limit": 6}, hidden=True),
        Case("a model that starts in eval mode (it must stay in eval mode), 5 samples, batch_size 2", (_samples(136, 5), _state(137), False), {"batch_size": 2}, hidden=True),
    ]  # fmt: skip


def _state(seed: int) -> dict[str, torch.Tensor]:
    return tiny_gpt2_state(seed, VOCAB, lm_head=True, scale=0.5, unit_weight_suffix="ln_1.weight")


def _run_call(fn: Any, case: Case) -> dict:
    """A task whose solver scores token-id choices with a tiny LM whose dropout is on (p = 0.3)."""
    from courselib.world.harness import Sample, Task

    raw, state, training = (*case.args, True)[:3]
    dev = state["transformer.wte.weight"].device
    model = tiny_gpt2(VOCAB, lm_head=True, state=state).to(dev)
    for m in model.modules():
        if isinstance(m, torch.nn.Dropout):
            m.p = 0.3
    model.train(training)
    batch_sizes: list[int] = []

    def solver(model: Any, samples: list) -> list[dict]:
        batch_sizes.append(len(samples))
        out = []
        for s in samples:
            lls = []
            for c in s.choices:
                ids = torch.tensor([s.input + c], device=dev)
                lp = torch.log_softmax(model(input_ids=ids).logits[0, :-1].float(), -1)
                lls.append(lp.gather(-1, ids[0, 1:, None])[len(s.input) - 1 :, 0].sum().item())
            out.append({"logprobs": lls, "choice": max(range(len(lls)), key=lls.__getitem__)})
        return out

    def scorer(sample: Any, output: dict) -> dict:
        return {"correct": float(output["choice"] == sample.target), "logp": output["logprobs"][output["choice"]]}

    task = Task(
        "toy",
        [Sample(r["input"], r["choices"], r["target"]) for r in raw],
        solver,
        scorer,
        {"accuracy": lambda sc: sum(s["correct"] for s in sc) / len(sc), "mean_logp": lambda sc: sum(s["logp"] for s in sc) / len(sc)},
    )  # fmt: skip
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(7)
        result = fn(task, model, **dict(case.kwargs))
    return {
        "result": result,
        "batch sizes the solver saw": batch_sizes,
        "model afterwards": _afterwards(model, state, training),
    }


def _afterwards(model: torch.nn.Module, state: dict[str, torch.Tensor], training: bool) -> str:
    """The model judged by behaviour after the answer ran: its mode as before, its weights untouched."""
    if model.training != training:
        before, after = ("train", "eval") if training else ("eval", "train")
        return f"the model was in {before} mode and came back in {after} mode: restore the mode it was in"
    weights = model.state_dict()
    if any(not torch.equal(weights[k], v) for k, v in state.items() if k in weights):
        return "the model's weights changed: an evaluation must not edit the model"
    return "unchanged (same mode, same weights)"


RUN_EVAL = Exercise(
    "run_eval",
    points=3,
    make_cases=_run_cases,
    call=_run_call,
    summary="integration: the evaluation harness's loop (limit, batches, solver, scorer, metrics, eval mode)",
    forbidden_courselib=("courselib.world.harness.run_task",),
)


def _loop(task, model, batch_size, limit, variant=""):
    samples = task.dataset if limit is None or variant == "no_limit" else task.dataset[:limit]
    was_training = model.training
    if variant != "no_eval":
        model.eval()
    step = 1 if variant == "one_by_one" else batch_size
    stop = len(samples) - len(samples) % step if variant == "drop_last" else len(samples)
    scores, last = [], []
    with torch.no_grad():
        for start in range(0, stop, step):
            batch = samples[start : start + step]
            last = [task.scorer(s, o) for s, o in zip(batch, task.solver(model, batch))]
            scores.extend(last)
    if variant == "train_always":
        model.train()
    elif variant != "stay_eval":
        model.train(was_training)
    on = last if variant == "last_batch" else scores
    return {
        "task": task.name,
        "n_samples": len(samples),
        "metrics": {k: float(agg(on)) for k, agg in task.metrics.items()},
        "scores": scores,
    }


@RUN_EVAL.mistake("never switched to eval mode (dropout stays on)", "call model.eval() before running the solver.")
def no_eval_mode(task, model, batch_size=64, limit=None):
    return _loop(task, model, batch_size, limit, "no_eval")


@RUN_EVAL.mistake("left the model in eval mode", "put it back: model.train(was_training) at the end.")
def left_in_eval_mode(task, model, batch_size=64, limit=None):
    return _loop(task, model, batch_size, limit, "stay_eval")


@RUN_EVAL.mistake(
    "put the model back with model.train() whatever mode it was in",
    "remember was_training = model.training and restore it with model.train(was_training).",
)
def always_back_to_train(task, model, batch_size=64, limit=None):
    return _loop(task, model, batch_size, limit, "train_always")


@RUN_EVAL.mistake("dropped the last, partial batch", "range(0, len(samples), batch_size) keeps it.")
def drop_last_batch(task, model, batch_size=64, limit=None):
    return _loop(task, model, batch_size, limit, "drop_last")


@RUN_EVAL.mistake("metrics computed on the last batch only", "aggregate over the scores of every batch.")
def metrics_from_last_batch(task, model, batch_size=64, limit=None):
    return _loop(task, model, batch_size, limit, "last_batch")


@RUN_EVAL.mistake("ignored limit", "evaluate task.dataset[:limit] when limit is given.")
def ignored_limit(task, model, batch_size=64, limit=None):
    return _loop(task, model, batch_size, limit, "no_limit")


@RUN_EVAL.mistake("called the solver one sample at a time", "pass the solver a batch of batch_size samples.")
def one_sample_at_a_time(task, model, batch_size=64, limit=None):
    return _loop(task, model, batch_size, limit, "one_by_one")


EXERCISES = [COUNTERFACTUAL_GAP, BBQ_BIAS_SCORES, PREFERENCE_RATE, RUN_EVAL]
