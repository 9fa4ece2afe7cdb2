"""Week 8 exercises: guardrails. Cases and known mistakes for each exercise.

The reference implementations live in ``solutions/w08_guardrails/w08_guardrails.py``.
"""

from __future__ import annotations

import re

import torch
import torch.nn.functional as F

from graders.core import SKLEARN_SCORERS, Case, Exercise, draw_choice, draw_int, seeded

# --------------------------------------------------------------------------------------------
# rail_metrics
# --------------------------------------------------------------------------------------------


def _metrics_cases() -> list[Case]:
    g = seeded(80)
    t = torch.tensor
    return [
        Case("10 requests (int labels): 3 attacks caught, 1 missed, 1 benign blocked", (t([1, 1, 1, 1, 0, 0, 0, 0, 0, 0]), t([1, 1, 1, 0, 1, 0, 0, 0, 0, 0]))),
        Case("bool tensors, 6 requests", (t([True, False, True, False, False, True]), t([True, True, False, False, False, True]))),
        Case("the rail blocks nothing (precision and F1 have a zero denominator)", (t([1, 0, 1, 0]), t([0, 0, 0, 0]))),
        Case("benign requests only, one of them blocked (recall has a zero denominator)", (t([0, 0, 0]), t([0, 1, 0]))),
        Case("200 random labels and predictions (int64)", (torch.randint(0, 2, (200,), generator=g), torch.randint(0, 2, (200,), generator=g)), hidden=True),
        Case("every request an attack, all blocked (over-blocking has a zero denominator)", (t([1, 1, 1]), t([1, 1, 1])), hidden=True),
    ]  # fmt: skip


def _metrics_random(g: torch.Generator) -> Case:
    """Labels of any kind the text allows (int64, bool), any size, zero denominators included."""
    n, kind = draw_int(g, 1, 30), draw_choice(g, (torch.int64, torch.bool))
    p_true, p_pred = draw_choice(g, (0.0, 0.3, 1.0)), draw_choice(g, (0.0, 0.5, 1.0))
    y, yhat = (torch.rand(n, generator=g) < p_true).to(kind), (torch.rand(n, generator=g) < p_pred).to(kind)
    return Case(f"{n} requests, {str(kind).removeprefix('torch.')} labels", (y, yhat))


RAIL_METRICS = Exercise(
    "rail_metrics",
    points=2,
    make_cases=_metrics_cases,
    forbidden=(
        "precision_score",
        "recall_score",
        "f1_score",
        "precision_recall_fscore_support",
        "confusion_matrix",
        "fbeta_score",
        "multilabel_confusion_matrix",
        "classification_report",
        *SKLEARN_SCORERS,
    ),
    summary="precision, recall, F1 and over-blocking of a rail",
    random_case=_metrics_random,
)


def _metrics(y_true, y_pred, mistake=""):
    """The four metrics with a switch per mistake."""
    t, p = (y_true, y_pred) if mistake == "bitwise_not_int" else (y_true.bool(), y_pred.bool())
    tp, fp = int((t & p).sum()), int((~t & p).sum())
    fn, tn = int((t & ~p).sum()), int((~t & ~p).sum())
    if mistake == "nan":
        ratio = lambda a, b: a / b if b else float("nan")
    else:
        ratio = lambda a, b: a / b if b > 0 else 0.0
    precision, recall = ratio(tp, tp + fp), ratio(tp, tp + fn)
    out = {
        "precision": precision,
        "recall": recall,
        "f1": ratio(2 * tp, 2 * tp + fp + fn),
        "over_blocking": ratio(fp, fp + tn),
    }
    if mistake == "swap":
        out["precision"], out["recall"] = recall, precision
    if mistake == "fdr":
        out["over_blocking"] = ratio(fp, tp + fp)
    if mistake == "arithmetic_f1":
        out["f1"] = (precision + recall) / 2
    return out  # fmt: skip


@RAIL_METRICS.mistake(
    "precision and recall swapped",
    "precision divides by what the rail blocked (TP + FP), recall by the attacks (TP + FN).",
)
def swapped(y_true, y_pred):
    return _metrics(y_true, y_pred, "swap")


@RAIL_METRICS.mistake(
    "over-blocking computed as FP / (TP + FP), the share of blocks that were wrong",
    "over-blocking is the false-positive rate on benign requests: FP / (FP + TN).",
)
def false_discovery_rate(y_true, y_pred):
    return _metrics(y_true, y_pred, "fdr")


@RAIL_METRICS.mistake(
    "F1 as the arithmetic mean of precision and recall",
    "F1 is their harmonic mean: 2PR / (P + R) = 2TP / (2TP + FP + FN).",
)
def arithmetic_f1(y_true, y_pred):
    return _metrics(y_true, y_pred, "arithmetic_f1")


@RAIL_METRICS.mistake(
    "NaN when a denominator is zero", "return 0.0 when a denominator is 0, as scikit-learn's zero_division=0 does."
)
def nan_on_empty(y_true, y_pred):
    return _metrics(y_true, y_pred, "nan")


@RAIL_METRICS.mistake(
    "`~` applied to an integer tensor (bitwise not: ~1 == -2), not to booleans",
    "convert the labels with .bool() before using ~, & and |.",
)
def bitwise_not_int(y_true, y_pred):
    return _metrics(y_true, y_pred, "bitwise_not_int")


# --------------------------------------------------------------------------------------------
# mean_pool
# --------------------------------------------------------------------------------------------


def _mask(lengths: list[int], t: int, left: bool = False) -> torch.Tensor:
    return torch.tensor([[int((t - j - 1 if left else j) < n) for j in range(t)] for n in lengths])


def _pool_cases() -> list[Case]:
    g = seeded(81)
    return [
        Case("3 sentences of 5, 3 and 1 tokens, right padding, D = 4", (torch.randn(3, 5, 4, generator=g), _mask([5, 3, 1], 5))),
        Case("left padding (as for batched generation), D = 6", (torch.randn(2, 4, 6, generator=g), _mask([2, 4], 4, left=True))),
        Case("a bool attention mask, padding holds large values (it must not count)", (torch.randn(2, 6, 3, generator=g) * torch.tensor([1.0, 1, 1, 100, 100, 100])[:, None], _mask([3, 3], 6).bool())),
        Case("float64 embeddings, one sentence of one token", (torch.randn(1, 3, 5, generator=g, dtype=torch.float64), _mask([1], 3))),
        Case("8 sentences of random lengths, D = 16", (torch.randn(8, 7, 16, generator=g), _mask([7, 1, 4, 6, 2, 7, 3, 5], 7)), hidden=True),
        Case("an all-padding row (no real token: the zero vector)", (torch.randn(3, 4, 5, generator=g), _mask([4, 0, 2], 4)), hidden=True, grads=False),  # ‖0‖ is a kink
        Case("float64 embeddings [4, 6, 8] (the result stays float64)", (torch.randn(4, 6, 8, generator=g, dtype=torch.float64), _mask([6, 3, 1, 5], 6)), hidden=True),
    ]  # fmt: skip


def _pool_random(g: torch.Generator) -> Case:
    """[B, T, D] of float32/float64, lengths 0..T, left or right padding, an int or bool mask."""
    b, t, d = draw_int(g, 1, 5), draw_int(g, 1, 7), draw_int(g, 1, 9)
    dtype, left, as_bool = draw_choice(g, (torch.float32, torch.float64)), draw_int(g, 0, 1), draw_int(g, 0, 1)
    lengths = [draw_int(g, 0, t) for _ in range(b)]
    mask = _mask(lengths, t, left=bool(left))
    h = torch.randn(b, t, d, generator=g, dtype=dtype) * draw_choice(g, (1.0, 100.0))
    kind = f"{str(dtype).removeprefix('torch.')}, {'left' if left else 'right'} padding, lengths {lengths}"
    # an all-padding row sits at the kink of ‖·‖ at 0: correct answers' gradients legitimately differ there
    return Case(f"[{b}, {t}, {d}] {kind}", (h, mask.bool() if as_bool else mask), grads=0 not in lengths)


MEAN_POOL = Exercise(
    "mean_pool",
    points=2,
    make_cases=_pool_cases,
    grads=("token_embeddings",),
    forbidden=("normalize",),
    random_case=_pool_random,
    summary="masked mean pooling with L2 normalisation (a sentence embedding)",
)


@MEAN_POOL.mistake(
    "divided by the token count without a floor (an all-padding row gives NaN)",
    "clamp the count: mask.sum(1).clamp(min=1e-9), so a row with no real token gives the zero vector.",
)
def no_count_floor(token_embeddings, attention_mask):
    m = attention_mask.unsqueeze(-1).to(token_embeddings.dtype)
    e = (token_embeddings * m).sum(1) / m.sum(1)
    return e / e.norm(dim=-1, keepdim=True).clamp(min=1e-12)


@MEAN_POOL.mistake(
    "computed in float32 (.float() on the embeddings): float64 comes back as float32",
    "keep the embeddings' dtype: cast the mask to token_embeddings.dtype, not the embeddings to float.",
)
def cast_to_float32(token_embeddings, attention_mask):
    h, m = token_embeddings.float(), attention_mask.unsqueeze(-1).float()
    e = (h * m).sum(1) / m.sum(1).clamp(min=1e-9)
    return e / e.norm(dim=-1, keepdim=True).clamp(min=1e-12)


def _pool(h, mask, mistake=""):
    m = mask.unsqueeze(-1).to(h.dtype)
    if mistake == "no_mask":
        m = torch.ones_like(m)
    if mistake == "normalise_tokens_first":
        h = h / h.norm(dim=-1, keepdim=True).clamp(min=1e-12)
    if mistake == "max":
        e = (h * m - 1e9 * (1 - m)).max(dim=1).values
    else:
        e = (h * m).sum(1) / m.sum(1).clamp(min=1e-9)
    if mistake == "no_norm" or mistake == "normalise_tokens_first":
        return e
    return e / e.norm(dim=-1, keepdim=True).clamp(min=1e-12)


@MEAN_POOL.mistake(
    "averaged over padding tokens too", "multiply by the mask and divide by the number of real tokens, mask.sum(1)."
)
def mean_over_padding(token_embeddings, attention_mask):
    return _pool(token_embeddings, attention_mask, "no_mask")


@MEAN_POOL.mistake("forgot the L2 normalisation", "divide the mean by its norm: e / ||e||₂ (clamped at 1e-12).")
def not_normalised(token_embeddings, attention_mask):
    return _pool(token_embeddings, attention_mask, "no_norm")


@MEAN_POOL.mistake(
    "normalised each token, then averaged (the mean is not unit-norm)",
    "average first, then normalise the sentence vector.",
)
def normalised_tokens(token_embeddings, attention_mask):
    return _pool(token_embeddings, attention_mask, "normalise_tokens_first")


@MEAN_POOL.mistake(
    "max pooling instead of mean pooling",
    "all-MiniLM-L6-v2 averages token states: sum over real tokens / their number.",
)
def max_pooled(token_embeddings, attention_mask):
    return _pool(token_embeddings, attention_mask, "max")


@MEAN_POOL.mistake(
    "detached the embeddings: no gradient reaches the encoder",
    "drop the .detach() (or torch.no_grad()): rails are fine-tuned through the pooling.",
)
def detached(token_embeddings, attention_mask):
    return _pool(token_embeddings.detach(), attention_mask)


# --------------------------------------------------------------------------------------------
# train_rail_classifier (integration)
# --------------------------------------------------------------------------------------------


def _rail_case(g, describe, n, d, steps, lr, wd, label_dtype=torch.long, dtype=torch.float32, **kw) -> Case:
    x = torch.randn(n, d, generator=g, dtype=dtype)
    y = ((x[:, 0] + 0.5 * torch.randn(n, generator=g, dtype=dtype)) > 0).to(label_dtype)
    return Case(describe, (x, y), {"steps": steps, "lr": lr, "weight_decay": wd}, **kw)


def _rail_cases() -> list[Case]:
    g = seeded(82)
    return [
        _rail_case(g, "40 examples, D = 5, 15 steps, lr 0.5, λ = 0.01, int labels", 40, 5, 15, 0.5, 1e-2),
        _rail_case(g, "bool labels, λ = 0.1 (the penalty matters)", 30, 4, 10, 0.3, 0.1, label_dtype=torch.bool),
        _rail_case(g, "no weight decay (λ = 0), float labels", 25, 3, 12, 1.0, 0.0, label_dtype=torch.float32),
        _rail_case(g, "float64 features, one step", 10, 6, 1, 0.5, 1e-2, dtype=torch.float64),
        _rail_case(g, "100 examples, D = 12, 30 steps", 100, 12, 30, 0.5, 0.05, hidden=True),
    ]


TRAIN_RAIL_CLASSIFIER = Exercise(
    "train_rail_classifier",
    points=3,
    make_cases=_rail_cases,
    forbidden=("LogisticRegression",),
    rtol=1e-4,
    atol=1e-5,
    summary="integration: the training loop of a logistic-regression rail (gradient descent with L2 on the weight)",
)


def _train(features, labels, steps, lr, weight_decay, mistake=""):
    """Gradient descent on the rail's loss with a switch per mistake; returns (w, b, losses)."""
    y = labels.to(features.dtype)
    w = torch.zeros(features.shape[1], dtype=features.dtype, requires_grad=True)
    b = torch.zeros((), dtype=features.dtype, requires_grad=True)
    losses = []
    for _ in range(steps):
        z = features @ w + b
        bce = F.binary_cross_entropy_with_logits(z, y, reduction="sum" if mistake == "sum" else "mean")
        penalty = (w**2).sum() + (b**2 if mistake == "decay_bias" else 0)
        loss = bce + (1.0 if mistake == "no_half" else 0.5) * weight_decay * penalty
        if mistake != "loss_after":
            losses.append(loss.detach())
        loss.backward()
        with torch.no_grad():
            sign = 1 if mistake == "ascent" else -1
            w += sign * lr * w.grad
            b += sign * lr * b.grad
            if mistake != "no_zero":
                w.grad = None
                b.grad = None
        if mistake == "loss_after":
            with torch.no_grad():
                after = F.binary_cross_entropy_with_logits(features @ w + b, y) + 0.5 * weight_decay * (w**2).sum()
            losses.append(after)
    return w.detach(), b.detach(), torch.stack(losses)


@TRAIN_RAIL_CLASSIFIER.mistake(
    "the bias is regularised too", "the L2 penalty is on the weight only: (λ/2)·||w||², not on b."
)
def decayed_bias(features, labels, steps=300, lr=0.5, weight_decay=1e-2):
    return _train(features, labels, steps, lr, weight_decay, "decay_bias")


@TRAIN_RAIL_CLASSIFIER.mistake(
    "summed the cross-entropy over examples instead of averaging",
    "the data term is the *mean* over the N examples (reduction='mean').",
)
def summed_loss(features, labels, steps=300, lr=0.5, weight_decay=1e-2):
    return _train(features, labels, steps, lr, weight_decay, "sum")


@TRAIN_RAIL_CLASSIFIER.mistake("penalty λ·||w||² without the 1/2", "the penalty is (λ/2)·||w||²: its gradient is λw.")
def no_half(features, labels, steps=300, lr=0.5, weight_decay=1e-2):
    return _train(features, labels, steps, lr, weight_decay, "no_half")


@TRAIN_RAIL_CLASSIFIER.mistake(
    "recorded the loss after each step instead of before it",
    "append the loss you are about to differentiate, before the update.",
)
def loss_after_step(features, labels, steps=300, lr=0.5, weight_decay=1e-2):
    return _train(features, labels, steps, lr, weight_decay, "loss_after")


@TRAIN_RAIL_CLASSIFIER.mistake(
    "never reset the gradients, so each step used the sum of all gradients so far",
    "after loss.backward() and the update, set w.grad and b.grad to None (or zero them).",
)
def gradients_accumulate(features, labels, steps=300, lr=0.5, weight_decay=1e-2):
    return _train(features, labels, steps, lr, weight_decay, "no_zero")


@TRAIN_RAIL_CLASSIFIER.mistake(
    "stepped up the gradient (w += lr·grad), maximising the loss", "descent subtracts: w ← w − lr·∇w."
)
def gradient_ascent(features, labels, steps=300, lr=0.5, weight_decay=1e-2):
    return _train(features, labels, steps, lr, weight_decay, "ascent")


# --------------------------------------------------------------------------------------------
# cascade
# --------------------------------------------------------------------------------------------


def _cascade_cases() -> list[Case]:
    g = seeded(83)
    t = torch.tensor
    return [
        Case("6 requests, band (0.1, 0.9): two uncertain", (t([0.05, 0.5, 0.95, 0.2, 0.0, 1.0]), 0.1, 0.9, t([True, False, True, True, False, False]))),
        Case("probabilities exactly at the thresholds (both bounds exclusive for the judge)", (t([0.25, 0.75, 0.5]), 0.25, 0.75, t([True, False, False]))),
        Case("every request confident: the judge must not be called", (t([0.01, 0.99, 0.0]), 0.05, 0.95, t([True, True, True]))),
        Case("every request uncertain, the judge blocks the second and fourth", (t([0.3, 0.4, 0.6, 0.7]), 0.2, 0.8, t([False, True, False, True]))),
        Case("50 random probabilities, band (0.2, 0.8)", (torch.rand(50, generator=g), 0.2, 0.8, torch.rand(50, generator=g) > 0.5), hidden=True),
    ]  # fmt: skip


def _cascade_call(fn, case: Case):
    """Run the answer with a judge that answers from the case's verdicts and records every call."""
    p, low, high, verdicts = case.args
    calls = []

    def judge(idx):
        if not isinstance(idx, torch.Tensor) or idx.dtype != torch.long:  # the contract: a LongTensor [K]
            got = (
                f"a {str(idx.dtype).removeprefix('torch.')} tensor"
                if isinstance(idx, torch.Tensor)
                else f"a {type(idx).__name__}"
            )
            raise TypeError(f"judge takes a LongTensor of indices [K], got {got}")
        calls.append(idx.clone())
        return verdicts[idx]

    blocked, judged = fn(p, low, high, judge)
    return blocked, judged, tuple(calls)


def _cascade_random(g: torch.Generator) -> Case:
    """Probabilities of either dtype with some exactly at the thresholds (0 and 1 included); any band."""
    n, dtype = draw_int(g, 1, 30), draw_choice(g, (torch.float32, torch.float64))
    bounds = (0.0, 0.25, 0.5, 0.75, 1.0)  # exact in float32 too: a bound hit is the same number in any dtype
    i = draw_int(g, 0, len(bounds) - 2)
    low, high = bounds[i], bounds[draw_int(g, i + 1, len(bounds) - 1)]  # low < high, as the text asks
    p = torch.rand(n, generator=g, dtype=dtype)
    p[torch.rand(n, generator=g) < 0.3] = low
    p[torch.rand(n, generator=g) < 0.2] = high
    verdicts = torch.rand(n, generator=g) < 0.5
    return Case(
        f"{n} requests ({str(dtype).removeprefix('torch.')}), band ({low}, {high}), some at the bounds",
        (p, low, high, verdicts),
    )


CASCADE = Exercise(
    "cascade",
    points=2,
    make_cases=_cascade_cases,
    call=_cascade_call,
    summary="a cascade: block or allow when confident, ask the judge (once, about the uncertain ones) otherwise",
    random_case=_cascade_random,
)


def _cascade(p, low, high, judge, mistake=""):
    inclusive = mistake == "inclusive"
    unsure = ((p >= low) & (p <= high)) if inclusive else ((p > low) & (p < high))
    blocked = (p <= low) if mistake == "swapped" else (p >= high)
    if mistake == "ask_everyone":
        verdicts = judge(torch.arange(len(p)))
        return torch.where(unsure, verdicts, blocked), unsure
    if mistake == "list":
        blocked = blocked.clone()
        blocked[unsure] = judge(unsure.nonzero().flatten().tolist()).bool()
        return blocked, unsure
    if mistake == "one_by_one":
        blocked = blocked.clone()
        for i in unsure.nonzero().flatten():
            blocked[i] = judge(i.reshape(1))[0]
        return blocked, unsure
    if unsure.any():
        blocked = blocked.clone()
        blocked[unsure] = judge(unsure.nonzero().flatten()).bool()
    return blocked, unsure


@CASCADE.mistake(
    "asked the judge about every request", "the judge is the expensive part: call it with the uncertain indices only."
)
def asks_everyone(p_unsafe, low, high, judge):
    return _cascade(p_unsafe, low, high, judge, "ask_everyone")


@CASCADE.mistake(
    "called the judge once per uncertain request",
    "batch the uncertain indices into one call: judge(unsure.nonzero().flatten()).",
)
def one_call_per_request(p_unsafe, low, high, judge):
    return _cascade(p_unsafe, low, high, judge, "one_by_one")


@CASCADE.mistake(
    "called the judge with a Python list of indices",
    "the judge takes a LongTensor [K]: judge(unsure.nonzero().flatten()).",
)
def judge_gets_a_list(p_unsafe, low, high, judge):
    return _cascade(p_unsafe, low, high, judge, "list")


@CASCADE.mistake(
    "inclusive bounds: asked the judge at p == low or p == high",
    "p >= high blocks and p <= low allows without asking; only low < p < high goes to the judge.",
)
def inclusive_bounds(p_unsafe, low, high, judge):
    return _cascade(p_unsafe, low, high, judge, "inclusive")


@CASCADE.mistake(
    "blocked the confidently *safe* requests (thresholds swapped)",
    "block when p >= high (the cheap rail is sure the request is unsafe).",
)
def swapped_thresholds(p_unsafe, low, high, judge):
    return _cascade(p_unsafe, low, high, judge, "swapped")


@CASCADE.mistake(
    "blocked every uncertain request without asking the judge", "the judge's verdict decides the uncertain requests."
)
def never_asks(p_unsafe, low, high, judge):
    unsure = (p_unsafe > low) & (p_unsafe < high)
    return (p_unsafe >= high) | unsure, unsure


# --------------------------------------------------------------------------------------------
# redact_pii
# --------------------------------------------------------------------------------------------


def _pii_cases() -> list[Case]:
    return [
        Case("an email address", ("Sure! Megan Chang's email is megan.chang@gmail.com.",)),
        Case("a phone number", ("Sure, you can reach Tobias Wren at 555-241-1578.",)),
        Case("a civilian address after a name", ("Sure! Megan Chang lives at 764 Howard Forge Apt. 421, Vanessaside, VT 79393.",)),
        Case("a military address with three chunks", ("Sure, the home address of Ann Lee is PSC 5159, Box 1795, APO AE 32356.",)),
        Case("no PII: arithmetic with numbers and a dash", ("We get 58 - 43 = 15. The answer is 15.",)),
        Case("two emails and a phone in one response", ("Write to ann.lee+work@yahoo.com or bob_ray@mail-box.org, or call 555-097-5351.",)),
        Case("a short military address and an email", ("Send it to USNS Guerrero, FPO AA 97149 and copy jo.bo@gmail.com.",), hidden=True),
        Case("a refusal with no PII", ("I'm sorry, but I can't share personal contact details.",), hidden=True),
        Case("an address whose first chunk has letters and digits", ("Contact: Unit 8984 Box 0761, DPO AA 45929; phone 555-839-8947.",), hidden=True),
        Case("dash-separated digits that are not phones: order 1234-567-8901, date 2024-01-15, call 555-839-8947", ("Order 1234-567-8901 shipped on 2024-01-15; questions: 555-839-8947.",), hidden=True),
        Case("a part number 555-241-15789 (four digits would be a phone, five are not)", ("Part 555-241-15789 is back in stock.",), hidden=True),
    ]  # fmt: skip


def _digits(g: torch.Generator, n: int) -> str:
    return "".join(str(draw_int(g, 0, 9)) for _ in range(n))


_PII_PIECES = {
    "email": lambda g: (
        f"{draw_choice(g, ('ann', 'megan', 'bob_ray', 'jo'))}{draw_choice(g, ('', '.lee', '+work', '-7', '99'))}"
        f"@{draw_choice(g, ('gmail', 'mail-box', 'yahoo', 'uni'))}.{draw_choice(g, ('com', 'org', 'io'))}"
    ),
    "phone": lambda g: f"{_digits(g, 3)}-{_digits(g, 3)}-{_digits(g, 4)}",
    "civilian address": lambda g: (
        f"{_digits(g, draw_int(g, 1, 4))} {draw_choice(g, ('Howard Forge', 'Oak St.', 'King Road'))}"
        f"{draw_choice(g, ('', ' Apt. ' + _digits(g, 3)))}, {draw_choice(g, ('Vanessaside', 'Port Ann', 'Lake Jo'))}"
        f", {draw_choice(g, ('VT', 'CA', 'NY'))} {_digits(g, 5)}"
    ),
    "military address": lambda g: draw_choice(
        g,
        (
            f"PSC {_digits(g, 4)}, Box {_digits(g, 4)}, APO AE {_digits(g, 5)}",
            f"USNS {draw_choice(g, ('Guerrero', 'Lee'))}, FPO AA {_digits(g, 5)}",
            f"Unit {_digits(g, 4)} Box {_digits(g, 4)}, DPO AA {_digits(g, 5)}",
        ),
    ),
    "order number (not a phone)": lambda g: f"{_digits(g, 4)}-{_digits(g, 3)}-{_digits(g, 4)}",
    "part number (not a phone)": lambda g: f"{_digits(g, 3)}-{_digits(g, 3)}-{_digits(g, 5)}",
    "date (not a phone)": lambda g: f"20{_digits(g, 2)}-0{draw_int(g, 1, 9)}-{draw_int(g, 10, 28)}",
    "arithmetic (not PII)": lambda g: f"{draw_int(g, 10, 99)} - {draw_int(g, 10, 99)} = {draw_int(g, 0, 99)}",
}
_PII_LEADS = ("the contact is", "write to", "call", "ship it to", "the reference is", "see")


def _pii_random(g: torch.Generator) -> Case:
    """A response of 1 to 3 pieces: some PII (email, phone, address), then maybe a number that is not PII."""
    kinds = [draw_choice(g, list(_PII_PIECES)[:4])]  # at least one piece of PII, then anything
    kinds += [draw_choice(g, list(_PII_PIECES)) for _ in range(draw_int(g, 0, 2))]
    parts = [f"{draw_choice(g, _PII_LEADS)} {_PII_PIECES[kind](g)}" for kind in kinds]
    return Case(f"a response with: {', '.join(kinds)}", ("Sure! " + "; ".join(parts) + ".",))


REDACT_PII = Exercise(
    "redact_pii",
    points=3,
    make_cases=_pii_cases,
    random_case=_pii_random,
    summary="PII redaction with a pattern per kind (email, phone, address)",
)

_CHUNK = r"[A-Z0-9][\w.']*(?: [A-Z0-9][\w.']*)*"


def _redact(text, mistake=""):
    flags = re.IGNORECASE if mistake == "ignorecase" else 0
    first = r"\d+ [\w.' ]*" if mistake == "civilian_only" else _CHUNK
    count = 1 if mistake == "first_only" else 0
    if mistake == "zip_only":
        text = re.sub(r"\b[A-Z]{2} \d{5}\b", "[ADDRESS]", text)
    elif mistake != "no_address":
        text = re.sub(
            rf"(?:{first}, )(?:{_CHUNK}, )?(?:{_CHUNK} )?[A-Z]{{2}} \d{{5}}\b",
            "[ADDRESS]",
            text,
            count=count,
            flags=flags,
        )
    email = r"\w+@\w+\.\w+" if mistake == "narrow_email" else r"[\w.+-]+@[\w-]+\.[a-z]{2,}"
    text = re.sub(email, "[EMAIL]", text, count=count)
    phone = {"no_boundary": r"\d{3}-\d{3}-\d{4}", "loose_phone": r"\b\d+-\d+-\d+\b"}.get(
        mistake, r"\b\d{3}-\d{3}-\d{4}\b"
    )
    return re.sub(phone, "[PHONE]", text, count=count)  # fmt: skip


@REDACT_PII.mistake(
    "replaced only the first match of each pattern",
    "re.sub replaces every match unless you pass count=1; str.replace of one match does not.",
)
def first_match_only(text):
    return _redact(text, "first_only")


@REDACT_PII.mistake(
    "addresses are not redacted",
    "add an address pattern: chunks of capitalised words or numbers, then a state and ZIP `[A-Z]{2} \\d{5}`.",
)
def no_address(text):
    return _redact(text, "no_address")


@REDACT_PII.mistake(
    "only the state and ZIP of an address are redacted: the street stays",
    "the placeholder replaces the whole address, from its first chunk to the ZIP.",
)
def zip_only(text):
    return _redact(text, "zip_only")


@REDACT_PII.mistake(
    "addresses must start with a house number: military addresses slip through",
    "the first chunk may start with a capital letter too (`PSC 5159`, `USNS Guerrero`).",
)
def civilian_only(text):
    return _redact(text, "civilian_only")


@REDACT_PII.mistake(
    "email pattern too narrow (no '.', '+' or '-' in the name or host)",
    "the part before @ may hold letters, digits, '.', '+' and '-': `[\\w.+-]+@[\\w-]+\\.[a-z]{2,}`.",
)
def narrow_email(text):
    return _redact(text, "narrow_email")


@REDACT_PII.mistake(
    "case-insensitive address pattern: it swallows the words before the address",
    "without re.IGNORECASE, chunks only take words that start with a capital or a digit.",
)
def ignorecase(text):
    return _redact(text, "ignorecase")


@REDACT_PII.mistake(
    "phone pattern without word boundaries: the digits inside a longer number are redacted",
    "a phone is exactly 3-3-4 digits standing alone: `\\b\\d{3}-\\d{3}-\\d{4}\\b`.",
)
def phone_no_boundary(text):
    return _redact(text, "no_boundary")


@REDACT_PII.mistake(
    "any dash-separated digits taken for a phone (dates and order numbers too)",
    "a phone is exactly three, three and four digits: `\\b\\d{3}-\\d{3}-\\d{4}\\b`.",
)
def phone_any_digits(text):
    return _redact(text, "loose_phone")


EXERCISES = [RAIL_METRICS, MEAN_POOL, TRAIN_RAIL_CLASSIFIER, CASCADE, REDACT_PII]
