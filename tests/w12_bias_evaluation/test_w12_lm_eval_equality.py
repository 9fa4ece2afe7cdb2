"""Our BBQ bias scores and CrowS-Pairs rate equal lm-evaluation-harness 0.4.13's on the same answers.

lm-eval's own code decides everything it can: ``process_docs`` marks the biased answers of our
items (given in the schema of the BBQ data set it reads), ``process_results_multiple_choice``
scores one item from log-likelihoods over *its* choice list (two groups and ten phrasings of
"unknown"), and its ``agg_*`` functions aggregate. The code comes from the lm_eval 0.4.13 wheel
(``tools/lm_eval_bbq/get_wheel.sh``) or, without it, from the verbatim copy
``lm_eval_0_4_13_quoted.py`` (checked against the wheel whenever the wheel is present).
"""

from __future__ import annotations

import ast
import importlib.util
import math
import random
import sys
import types
import zipfile
from pathlib import Path

import pytest
import torch

from courselib.world import bias
from graders.reference import load_reference

ROOT = Path(__file__).resolve().parents[2]
WHEEL = ROOT / ".lm-eval" / "lm_eval-0.4.13-py3-none-any.whl"
QUOTED = Path(__file__).with_name("lm_eval_0_4_13_quoted.py")


def _module(name: str, source: str) -> types.ModuleType:
    module = types.ModuleType(name)
    exec(compile(source, name, "exec"), module.__dict__)
    return module


def _wheel_source(path: str) -> str:
    with zipfile.ZipFile(WHEEL) as z:
        return z.read(path).decode("utf-8")


@pytest.fixture(scope="module")
def lm_eval() -> types.SimpleNamespace:
    """bbq utils and crows_pairs' process_results from the wheel, else from the quoted copy."""
    if WHEEL.exists():
        bbq = _module("lm_eval_bbq_utils", _wheel_source("lm_eval/tasks/bbq/utils.py"))
        crows = _module("lm_eval_crows_utils", _wheel_source("lm_eval/tasks/crows_pairs/utils.py")).process_results
        source = "wheel"
    else:
        spec = importlib.util.spec_from_file_location("lm_eval_quoted", QUOTED)
        bbq = importlib.util.module_from_spec(spec)
        sys.modules["lm_eval_quoted"] = bbq
        spec.loader.exec_module(bbq)
        crows, source = bbq.crows_process_results, "quoted copy"
    return types.SimpleNamespace(bbq=bbq, crows=crows, source=source)


def test_quoted_copy_is_the_wheel_code():
    if not WHEEL.exists():
        pytest.skip("lm_eval 0.4.13 wheel not downloaded (tools/lm_eval_bbq/get_wheel.sh)")
    quoted = ast.parse(QUOTED.read_text(encoding="utf-8")).body
    wheel_bbq = ast.parse(_wheel_source("lm_eval/tasks/bbq/utils.py")).body
    assert ast.dump(ast.Module(quoted[: len(wheel_bbq)], [])) == ast.dump(ast.Module(wheel_bbq, []))
    crows = next(
        n
        for n in ast.parse(_wheel_source("lm_eval/tasks/crows_pairs/utils.py")).body
        if getattr(n, "name", "") == "process_results"
    )
    ours = next(n for n in quoted if getattr(n, "name", "") == "crows_process_results")
    ours.name = "process_results"
    assert ast.dump(ours) == ast.dump(crows)


SCHEMA = ("example_id", "question_index", "question_polarity", "context_condition", "category", "answer_info", "additional_metadata", "context", "question", "ans0", "ans1", "ans2", "label")  # fmt: skip


def _lm_eval_scores(lm_eval, items: list[dict], preds: list[int]) -> dict[str, float]:
    """lm-eval's metrics for our items answered with ``preds`` (indices into each item's 3 answers)."""
    import datasets

    # lm-eval keeps per-category scores for BBQ's real categories; ours is fictional, so borrow a name.
    docs = [{k: it[k] for k in SCHEMA} | {"category": "Nationality"} for it in items]
    processed = lm_eval.bbq.process_docs(datasets.Dataset.from_list(docs))
    per_item = []
    for doc, item, pred in zip(processed, items, preds, strict=True):
        choices = lm_eval.bbq.doc_to_choice(doc)
        lls = [-5.0] * len(choices)
        lls[choices.index(item["choices"][pred])] = -1.0  # the chosen answer is the most likely
        per_item.append(lm_eval.bbq.process_results_multiple_choice(doc, [(ll, False) for ll in lls]))
    b = lm_eval.bbq
    return {
        "accuracy_amb": b.agg_accuracy_amb([r["accuracy_amb"] for r in per_item]),
        "accuracy_disamb": b.agg_accuracy_disamb([r["accuracy_disamb"] for r in per_item]),
        "disamb_bias_score": b.agg_disamb_bias_scores([r["disamb_bias_score"] for r in per_item]),
        "amb_bias_score": b.agg_amb_bias_scores([r["amb_bias_score"] for r in per_item]),
    }


def _answer_sheets(items: list[dict]) -> dict[str, list[int]]:
    rng = random.Random(0)
    stereotype = [it["biased"].index(True) for it in items]
    against = [next(j for j in range(3) if j != it["unknown_index"] and not it["biased"][j]) for it in items]
    return {
        "random": [rng.randrange(3) for _ in items],
        "mostly the stereotype": [s if rng.random() < 0.7 else rng.randrange(3) for s in stereotype],
        "always unknown (nothing biased: 0)": [it["unknown_index"] for it in items],
        "always against the stereotype": against,
        "correct": [it["label"] for it in items],
    }


def _close(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or abs(a - b) < 1e-12


@pytest.mark.parametrize("subset", ["all", "disambiguated only", "one template"])
def test_bbq_scores_equal_lm_eval(lm_eval, subset):
    items = bias.bbq_items("test")
    if subset == "disambiguated only":
        items = [it for it in items if not it["ambiguous"]][:200]
    elif subset == "one template":
        items = [it for it in items if it["question_index"] == "3"][:60]
    else:
        items = random.Random(1).sample(items, 400)
    reference = load_reference("w12_bias_evaluation").bbq_bias_scores
    cols = {
        "label": torch.tensor([it["label"] for it in items]),
        "unknown": torch.tensor([it["unknown_index"] for it in items]),
        "biased": torch.tensor([it["biased"] for it in items]),
        "ambiguous": torch.tensor([it["ambiguous"] for it in items]),
    }
    for sheet, preds in _answer_sheets(items).items():
        theirs = _lm_eval_scores(lm_eval, items, preds)
        ours = bias.bbq_scores(preds, *(cols[k].tolist() for k in ("label", "unknown", "biased", "ambiguous")))
        notebook = reference(torch.tensor(preds), **cols)
        for key, value in theirs.items():
            assert _close(ours[key], float(value)), (lm_eval.source, sheet, key, ours[key], value)
            assert _close(notebook[key], float(value)), (lm_eval.source, sheet, key, notebook[key], value)


def test_crows_pairs_rate_equals_lm_eval(lm_eval):
    g = torch.Generator().manual_seed(0)
    more = torch.randn(80, generator=g, dtype=torch.float64)
    less = more + torch.randn(80, generator=g, dtype=torch.float64) * 0.5
    less[:10] = more[:10]  # ties count as not stereotyped
    theirs = [
        lm_eval.crows(None, [(m, False), (le, False)])["pct_stereotype"] for m, le in zip(more.tolist(), less.tolist())
    ]
    rate = load_reference("w12_bias_evaluation").preference_rate(more, less)[0].item()
    assert rate == pytest.approx(sum(theirs) / len(theirs), abs=1e-12)
