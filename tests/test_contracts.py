"""Contracts: inputs that must get no gradient, cases drawn from an input contract, return
contracts, gradient checks only where the text asks, and side effects judged by behaviour."""

from __future__ import annotations

import re

import pytest
import torch

from graders.core import (
    Case,
    Exercise,
    Outcome,
    grade,
    random_case_seed,
    return_kinds,
    return_problem,
    run_case,
    run_cases,
)
from graders.reference import solution_source
from graders.registry import all_exercises, get_exercise
from graders.testing import grade_source
from graders.transport import outcome_from_record, outcome_to_record

EXERCISES = list(all_exercises().values())

# --------------------------------------------------------------------------------------------
# no_grads: inputs that must receive no gradient
# --------------------------------------------------------------------------------------------


def _weighted(logp, weight):
    return -(logp * weight.detach()).mean()


def _weighted_attached(logp, weight):
    return -(logp * weight).mean()


NO_GRAD = Exercise(
    "t.weighted",
    points=1,
    make_cases=lambda: [Case("4 values", (torch.randn(4), torch.randn(4)))],
    grads=("logp",),
    no_grads=("weight",),
)


def test_an_input_that_must_get_no_gradient_is_checked():
    cases = NO_GRAD.cases()
    ref = {"weighted": _weighted}
    assert grade(NO_GRAD, run_cases(NO_GRAD, _weighted, cases), cases, ref).passed
    result = grade(NO_GRAD, run_cases(NO_GRAD, _weighted_attached, cases), cases, ref)
    assert not result.passed
    assert any("a gradient flows into `weight`" in line and "detach" in line for line in result.feedback)


def test_no_grads_inputs_are_recorded_with_their_gradient():
    outcome = run_case(NO_GRAD, _weighted_attached, NO_GRAD.cases()[0], 0)
    assert outcome.grads["weight"] is not None and outcome.grads["weight"].abs().sum() > 0
    assert run_case(NO_GRAD, _weighted, NO_GRAD.cases()[0], 0).grads["weight"] is None


# --------------------------------------------------------------------------------------------
# Cases drawn from an input contract
# --------------------------------------------------------------------------------------------


def _draw(g: torch.Generator) -> Case:
    n = int(torch.randint(1, 9, (), generator=g))
    return Case(f"{n} values", (torch.randn(n, generator=g),))


DRAWN = Exercise(
    "t.double", points=1, make_cases=lambda: [Case("3 values", (torch.ones(3),))], random_case=_draw, n_random=5
)


def test_random_cases_are_hidden_deterministic_and_added_to_the_hand_written_ones():
    first, second = DRAWN.cases(), DRAWN.cases()
    assert len(first) == 1 + 5
    assert all(c.hidden for c in first[1:]) and first[1].describe.startswith("random case 1 (")
    for a, b in zip(first, second):
        assert a.describe == b.describe and torch.equal(a.args[0], b.args[0])
    assert len({c.args[0].numel() for c in first[1:]}) > 1  # the draws differ from each other
    assert [c.describe for c in DRAWN.cases(include_hidden=False)] == ["3 values"]  # the visible check is unchanged
    assert random_case_seed("t.double", 0) != random_case_seed("t.double", 1)


def test_a_random_case_catches_what_the_hand_written_ones_miss():
    cases = DRAWN.cases()
    ref = {"double": lambda x: 2 * x}
    assert grade(DRAWN, run_cases(DRAWN, lambda x: 2 * x, cases), cases, ref).passed
    only_three = run_cases(DRAWN, lambda x: 2 * x[:3] if len(x) >= 3 else x, cases)
    assert not grade(DRAWN, only_three, cases, ref).passed


CONTRACT_WEEKS = {"w02_rl_foundations", "w06_constitutional_ai", "w07_red_teaming", "w08_guardrails", "w10_sparse_autoencoders"}  # fmt: skip


def test_the_weeks_with_contract_gaps_draw_random_cases():
    drawn = {e.week for e in EXERCISES if e.random_case is not None}
    assert CONTRACT_WEEKS <= drawn


def _kind(value) -> object:
    """A tensor's shape and dtype; a list's length and its items' kinds; a number or string itself."""
    if isinstance(value, torch.Tensor):
        return (tuple(value.shape), value.dtype)
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, tuple(_kind(v) for v in value))
    if isinstance(value, dict):
        return tuple(sorted((str(k), _kind(v)) for k, v in value.items()))
    if isinstance(value, (bool, int, float, str)):
        return (type(value).__name__, value)
    return type(value).__name__


@pytest.mark.parametrize("exercise", [e for e in EXERCISES if e.random_case is not None], ids=lambda e: e.id)
def test_drawn_cases_reach_the_contract(exercise):
    """The draws cover more than one shape or dtype (otherwise the contract is not explored)."""
    drawn = exercise.random_cases()
    assert len(drawn) == exercise.n_random >= 4
    kinds = {tuple(_kind(t) for t in [*c.args, *c.kwargs.values()]) for c in drawn}
    assert len(kinds) > 1, f"{exercise.id}: every random case has the same shapes and dtypes"


def test_random_cases_reach_bool_and_int_dones_and_leading_dimensions():
    gae = get_exercise("w02_rl_foundations.gae").random_cases()
    assert {c.args[2].dtype for c in gae} >= {torch.bool, torch.int64}
    dead = get_exercise("w10_sparse_autoencoders.update_dead_latents").random_cases()
    assert any(c.args[1].dim() > 2 for c in dead) and any(c.args[1].dim() == 2 for c in dead)
    kappa = get_exercise("w07_red_teaming.cohens_kappa").random_cases()
    assert any(int(c.args[0].min()) < 0 for c in kappa)
    pool = get_exercise("w08_guardrails.mean_pool").random_cases()
    assert any(bool((c.args[1].sum(-1) == 0).any()) for c in pool)  # an all-padding row


# --------------------------------------------------------------------------------------------
# Return contracts
# --------------------------------------------------------------------------------------------


def _outcome(value) -> Outcome:
    return Outcome(value=value, returned=return_kinds(value))


@pytest.mark.parametrize(
    ("expected", "got", "fragment"),
    [
        (2.0, torch.tensor(2.0), "returned a tensor where the exercise asks for a Python float (use `.item()`)"),
        (torch.tensor(2.0), 2.0, "returned a Python float where the exercise asks for a float32 tensor"),
        (torch.tensor([1, 2]), [1, 2], "returned a list or tuple where the exercise asks for a int64 tensor"),
        (torch.tensor([1, 2]), torch.tensor([1.0, 2.0]), "asks for a integer tensor"),
        (torch.tensor([True]), torch.tensor([1]), "asks for a bool tensor"),
        (
            torch.tensor([1.0], dtype=torch.float64),
            torch.tensor([1.0]),
            "returned a float32 tensor where the answer is float64",
        ),  # fmt: skip
        ({"l0": 1.0}, {"l0": torch.tensor(1.0)}, "the value at ['l0']: returned a tensor"),
        (
            (torch.tensor(1.0), 3),
            (torch.tensor(1.0), 3.0),
            "returned a Python float where the exercise asks for a Python int",
        ),  # fmt: skip
        (2.0, 2, None),  # a whole number where a float is asked
        (torch.tensor([1, 2]), torch.tensor([1, 2], dtype=torch.int32), None),  # integer widths are not checked
        (torch.tensor(1.0), torch.tensor(1.0), None),
    ],
)
def test_return_contract(expected, got, fragment):
    exercise = Exercise("t.f", points=1, make_cases=list)
    problem = return_problem(exercise, _outcome(expected), _outcome(got))
    assert (problem is None) if fragment is None else (fragment in (problem or "")), problem


def test_float_dtype_is_checked_unless_the_exercise_says_otherwise():
    lenient = Exercise("t.f", points=1, make_cases=list, strict_dtype=False)
    e, g = _outcome(torch.tensor([1.0], dtype=torch.float64)), _outcome(torch.tensor([1.0]))
    assert return_problem(lenient, e, g) is None


def test_detached_values_are_enforced_where_the_text_promises_them():
    exercise = Exercise("t.f", points=1, make_cases=list, detached=True)
    attached = torch.ones(2, requires_grad=True) * 2
    assert return_kinds(attached) == {"": "tensor float32 attached"}
    problem = return_problem(
        exercise, _outcome(torch.ones(2)), Outcome(value=attached, returned=return_kinds(attached))
    )
    assert "attached to the autograd graph" in problem


def test_attached_values_are_enforced_where_the_text_promises_a_loss_to_backpropagate():
    exercise = Exercise("t.f", points=1, make_cases=list, detached=False)
    attached = torch.ones(2, requires_grad=True) * 2
    problem = return_problem(
        exercise, Outcome(value=attached, returned=return_kinds(attached)), _outcome(torch.ones(2))
    )
    assert "call `.backward()` on" in problem


def test_return_kinds_are_recorded_before_the_value_is_detached_and_cross_the_boundary():
    exercise = Exercise("t.f", points=1, make_cases=lambda: [Case("x", (torch.ones(2),))], grads=("x",))
    outcome = run_case(exercise, lambda x: {"loss": (x * 2).sum(), "n": 2, "parts": [x.sum().item()]}, exercise.cases()[0], 0)  # fmt: skip
    assert outcome.returned == {
        "": "dict",
        "['loss']": "tensor float32 attached",
        "['n']": "int",
        "['parts']": "sequence",
        "['parts'][0]": "float",
    }
    assert not outcome.value["loss"].requires_grad  # the value itself is detached afterwards
    tensors: dict = {}
    record = outcome_to_record(outcome, tensors)
    assert outcome_from_record(record, tensors).returned == outcome.returned


def test_a_malformed_return_record_is_refused():
    with pytest.raises(ValueError):
        outcome_from_record({"value": {"value": 1}, "returned": {"": 3}}, {})


def test_sae_metrics_returning_tensors_is_rejected_with_the_item_hint():
    exercise = get_exercise("w10_sparse_autoencoders.sae_metrics")
    mistake = next(m for m in exercise.mistakes if m.name.startswith("returned tensors"))
    result = grade_source(exercise, mistake.source)
    assert not result.passed
    assert any("asks for a Python float (use `.item()`)" in line for line in result.feedback)


# --------------------------------------------------------------------------------------------
# Gradient checks only where the text says the function must be differentiable
# --------------------------------------------------------------------------------------------

CHECK = re.compile(r'^check\("([\w.]+)"', re.MULTILINE)


def _exercise_texts(week: str) -> dict[str, str]:
    """Everything between an exercise's check cell and the previous one (markdown and code)."""
    cells = re.split(r"^# %%", solution_source(week).read_text(encoding="utf-8"), flags=re.MULTILINE)
    out, pending, seen = {}, [], set()
    for cell in cells:
        ids = [i for i in CHECK.findall(cell) if i not in seen]
        if not ids:
            pending.append(cell)
            continue
        for i in ids:
            seen.add(i)
            out[i] = "\n".join(pending)
        pending = []
    return out


@pytest.mark.parametrize("week", sorted({e.week for e in EXERCISES}))
def test_gradients_are_checked_only_where_the_text_says_differentiable(week):
    texts = _exercise_texts(week)
    for exercise in (e for e in EXERCISES if e.week == week and (e.grads or e.no_grads or e.parameter_grads)):
        text = texts.get(exercise.id, "")
        assert re.search(r"differentiable", text, re.IGNORECASE), (
            f"{exercise.id} checks gradients but its text never says it must be differentiable"
        )
        for name in (*exercise.grads, *exercise.no_grads):
            assert f"`{name}`" in text, f"{exercise.id}: the text does not name the input `{name}`"


def test_an_in_place_normalisation_passes_where_no_gradient_is_asked():
    exercise = get_exercise("w06_constitutional_ai.principle_direction")
    assert not exercise.needs_grad
    source = (
        "import torch\n\ndef principle_direction(b, w):\n    d = (b - w).mean(0)\n    d /= d.norm()\n    return d\n"
    )
    assert grade_source(exercise, source).passed


# --------------------------------------------------------------------------------------------
# Side effects judged by behaviour
# --------------------------------------------------------------------------------------------


def test_w09_fixture_sizes_are_all_different():
    from graders.weeks.fixtures import tiny_gpt2_config
    from graders.weeks.w09_interpretability import SIZES, VOCAB

    config = tiny_gpt2_config(VOCAB, SIZES)
    d_head = config.n_embd // config.n_head
    assert len({config.n_layer, config.n_head, d_head}) == 3


def _w09_model():
    from graders.weeks.fixtures import tiny_gpt2
    from graders.weeks.w09_interpretability import SIZES, VOCAB, _state

    state = _state(0)
    return tiny_gpt2(VOCAB, True, state=state, sizes=SIZES), tiny_gpt2(VOCAB, True, state=state, sizes=SIZES)


def test_w09_ignores_transformers_own_capture_hooks_and_catches_the_answers_side_effects():
    from graders.weeks.w09_interpretability import model_afterwards

    model, fresh = _w09_model()
    model(torch.tensor([[2, 3, 4]]), output_hidden_states=True, output_attentions=True)  # installs transformers' hooks
    assert model_afterwards(model, fresh, False) == "unchanged"

    handle = model.transformer.h[0].register_forward_hook(lambda m, a, o: None)
    assert "left 1 hook(s)" in model_afterwards(model, fresh, False)
    handle.remove()

    model.transformer.h[1].attn.c_proj.forward = lambda x: torch.zeros(*x.shape[:-1], 16)
    assert "left a replaced forward on transformer.h.1.attn.c_proj" in model_afterwards(model, fresh, False)
    del model.transformer.h[1].attn.c_proj.forward

    with torch.no_grad():
        model.transformer.h[0].attn.c_attn.weight.mul_(2)
    assert "computes something else" in model_afterwards(model, fresh, False)

    model.train()
    assert "left the model in train mode" in model_afterwards(model, fresh, False)


# --------------------------------------------------------------------------------------------
# Every gap of issue 21's "wrong answers accepted" list has its catalogued mistake
# --------------------------------------------------------------------------------------------

GAPS = {
    "w02_rl_foundations.reinforce_loss": "did not detach the baseline",
    "w10_sparse_autoencoders.topk_aux_loss": "did not detach the residual",
    "w02_rl_foundations.gae": "bool dones raise",
    "w10_sparse_autoencoders.update_dead_latents": "reduced over dim 0",
    "w09_interpretability.cache_activations": "read n_layer for the number of heads",
    "w07_red_teaming.cohens_kappa": "torch.bincount",
    "w06_constitutional_ai.cohen_kappa": "matched the labellers' classes by position",
    "w08_guardrails.mean_pool": "all-padding row gives NaN",
    "w06_constitutional_ai.rlaif_train_step": "counted a zero margin",
    "w07_red_teaming.gcg_step": "kept the current suffix when the best candidate is worse",
    "w08_guardrails.redact_pii": "without word boundaries",
    "w12_bias_evaluation.run_eval": "model.train() whatever mode it was in",
    "w10_sparse_autoencoders.sae_metrics": "returned tensors instead of Python floats",
    "w08_guardrails.cascade": "Python list of indices",
    "w09_interpretability.set_head_output": "replaced c_proj.forward",
    "w00_orientation.train_bigram": "returned W still attached",  # the text promises a detached table
}
FAST = [
    "w00_orientation.train_bigram",
    "w02_rl_foundations.reinforce_loss",
    "w10_sparse_autoencoders.topk_aux_loss",
    "w02_rl_foundations.gae",
    "w10_sparse_autoencoders.update_dead_latents",
    "w07_red_teaming.cohens_kappa",
    "w06_constitutional_ai.cohen_kappa",
    "w08_guardrails.mean_pool",
    "w08_guardrails.redact_pii",
    "w08_guardrails.cascade",
]


@pytest.mark.parametrize("exercise_id", sorted(GAPS))
def test_every_gap_has_a_catalogued_mistake(exercise_id):
    names = [m.name for m in get_exercise(exercise_id).mistakes]
    assert any(GAPS[exercise_id] in n for n in names), names


@pytest.mark.parametrize("exercise_id", FAST)
def test_the_gaps_wrong_version_is_rejected_and_named(exercise_id):
    exercise = get_exercise(exercise_id)
    mistake = next(m for m in exercise.mistakes if GAPS[exercise_id] in m.name)
    result = grade_source(exercise, mistake.source)
    assert not result.passed and any(mistake.name in line for line in result.feedback), result.feedback


# Exercises that still have no `random_case`, each with the reason. The set may only shrink: an
# exercise that gains a contract leaves this list, and a new exercise must come with a contract
# (or a reason here). Most of those left are training loops whose cases build a model and run
# several optimiser steps: each drawn case costs as much as a hand-written one in every cohort run.
WITHOUT_RANDOM_CASES = {
    "w02_rl_foundations.ppo_update": "integration: PPO epochs over minibatches of a policy network; drawn cases cost a training run each",
    "w03_reward_models.RewardModel": "a module built around a transformers backbone; its contract is the model's, not drawn data",
    "w03_reward_models.reward_model_train_step": "integration: optimiser steps on a reward model; not yet drawn",
    "w04_rlhf.grpo_train_step": "integration: sampling, scoring and a GRPO update on a GPT-2; not yet drawn",
    "w06_constitutional_ai.rlaif_train_step": "integration: judge, preference pairs and a DPO step; not yet drawn",
    "w07_red_teaming.gcg_token_gradients": "gradients through a GPT-2 for a prompt layout; layouts not yet drawn",
    "w07_red_teaming.gcg_step": "integration: candidates scored by a GPT-2; needs a drawn layout and a best-worse-than-current case",
    "w08_guardrails.train_rail_classifier": "integration: a classifier's training loop; not yet drawn",
    "w12_bias_evaluation.run_eval": "integration: a harness run over a task with a model; not yet drawn",
}  # fmt: skip


def test_exercises_without_random_cases_are_exactly_the_documented_ones():
    without = {e.id for e in EXERCISES if e.random_case is None}
    assert without == set(WITHOUT_RANDOM_CASES), (
        f"gained a contract (remove from the list): {sorted(set(WITHOUT_RANDOM_CASES) - without)}; "
        f"no contract and no reason: {sorted(without - set(WITHOUT_RANDOM_CASES))}"
    )
    assert all(reason.strip() for reason in WITHOUT_RANDOM_CASES.values())
