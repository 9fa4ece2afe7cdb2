"""Unit tests of the grading engine: comparison, gradients, in-place edits, shortcuts, sources, transport."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from graders.core import (
    Case,
    Exercise,
    Outcome,
    Traced,
    compare,
    forbidden_uses,
    grade,
    run_case,
    run_cases,
    snippet_source,
)
from graders.registry import get_exercise
from graders.source import SourceError, code_cells, definitions, definitions_from_file, namespace_from_source
from graders.transport import decode, encode, outcome_from_record, outcome_to_record

# --------------------------------------------------------------------------------------------
# compare
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expected", "got", "fragment"),
    [
        (torch.tensor([1.0, 2.0]), torch.tensor([1.0, 2.0]), None),
        (torch.tensor([1.0, 2.0]), torch.tensor([1.0, 2.1]), "values differ"),
        (torch.tensor([1.0, 2.0]), torch.tensor([1.0, 2.0, 3.0]), "expected shape [2], got shape [3]"),
        (torch.tensor([1.0, 2.0]), torch.tensor([1, 2]), "integer division or a missing .float()"),
        (torch.tensor([1.0, 2.0]), torch.tensor([1.0, float("nan")]), "inf or NaN where the answer is finite"),
        (torch.tensor([1.0, float("-inf")]), torch.tensor([1.0, float("-inf")]), None),  # equal infinities
        (torch.tensor([float("nan")]), torch.tensor([float("nan")]), None),
        (torch.tensor([1.0], dtype=torch.float64), torch.tensor([1.0], dtype=torch.float32), None),
        (torch.tensor([3, 4]), torch.tensor([3.0, 4.0]), None),  # whole numbers as floats are fine
        (torch.tensor([3, 4]), torch.tensor([3.5, 4.0]), "expected whole numbers"),
        (torch.tensor([True, False]), torch.tensor([True, True]), "expected"),
        (torch.tensor(2.0), 2.0, None),  # a Python float for a scalar
        (torch.tensor(2.0), torch.tensor([2.0]), "expected shape [], got shape [1]"),
        (3, 3, None),
        (3, 4, "expected 3, got 4"),
        ("refuse", "refuse", None),
        ("refuse", "comply", "expected 'refuse'"),
        ((torch.tensor(1.0), 2), (torch.tensor(1.0), 2), None),
        ((torch.tensor(1.0), 2), (torch.tensor(1.0),), "expected a tuple of 2 values"),
        ((torch.tensor(1.0), 2), (torch.tensor(1.5), 2), "element 0 of the returned tuple"),
        ({"loss": torch.tensor(1.0)}, {"loss": torch.tensor(1.0)}, None),
        ({"loss": torch.tensor(1.0)}, {"los": torch.tensor(1.0)}, "expected a dict with keys ['loss']"),
        ({"loss": torch.tensor(1.0)}, {"loss": torch.tensor(2.0)}, "key 'loss'"),
        (torch.tensor(1.0), "1.0", "your function returned a str"),
    ],
)
def test_compare(expected, got, fragment):
    problem = compare(expected, got, rtol=1e-4, atol=1e-5)
    if fragment is None:
        assert problem is None, problem
    else:
        assert problem is not None and fragment in problem, problem


# --------------------------------------------------------------------------------------------
# gradients, in-place edits, forbidden calls (on small exercises defined here)
# --------------------------------------------------------------------------------------------


def _exercise(**kwargs) -> Exercise:
    kwargs.setdefault(
        "make_cases", lambda: [Case("x = [1, 2, 3]", (torch.tensor([1.0, 2.0, 3.0]), torch.tensor([1, 0, 1])))]
    )
    exercise = Exercise("masked_sum", points=1, **kwargs)
    exercise.week = "w99_unit"
    return exercise


def _reference(values, mask):
    return (values * mask).sum()


def _grade(exercise: Exercise, fn, source: str | None = None):
    cases = exercise.cases()
    return grade(exercise, run_cases(exercise, fn, cases), cases, {"masked_sum": _reference}, answer_source=source)


def test_a_detached_answer_fails_with_a_gradient_message():
    exercise = _exercise(grads=("values",))

    def detached(values, mask):
        return (values.detach() * mask).sum()

    def via_item(values, mask):
        return torch.tensor((values * mask).sum().item())

    for fn in (detached, via_item):
        result = _grade(exercise, fn)
        assert not result.passed
        assert "no gradient reaches `values`" in "\n".join(result.feedback)
    assert _grade(exercise, _reference).passed


def test_a_wrong_gradient_with_the_right_value_fails():
    exercise = _exercise(grads=("values",))

    def patched(values, mask):
        wrong = (values * mask * 2).sum()
        return wrong - wrong.detach() / 2  # value right, derivative doubled

    result = _grade(exercise, patched)
    assert not result.passed
    assert "the gradient with respect to `values` is not" in "\n".join(result.feedback)


def test_module_parameters_without_gradient_are_named():
    def make_cases():
        return [Case("a batch of 2", (torch.randn(2, 3, generator=torch.Generator().manual_seed(0)),))]

    def call(cls, case):
        torch.manual_seed(0)
        model = cls()
        return Traced(model(*case.args), dict(model.named_parameters()))

    exercise = Exercise("Net", points=1, make_cases=make_cases, call=call, parameter_grads=True)
    exercise.week = "w99_unit"

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.body = torch.nn.Linear(3, 3)
            self.head = torch.nn.Linear(3, 1)

        def forward(self, x):
            return self.head(torch.relu(self.body(x))).squeeze(-1)

    class FrozenBody(Net):
        def forward(self, x):
            with torch.no_grad():
                h = torch.relu(self.body(x))
            return self.head(h).squeeze(-1)

    cases = exercise.cases()
    good = grade(exercise, run_cases(exercise, Net, cases), cases, {"Net": Net})
    assert good.passed, good.feedback
    bad = grade(exercise, run_cases(exercise, FrozenBody, cases), cases, {"Net": Net})
    text = "\n".join(bad.feedback)
    assert not bad.passed and "parameters get no gradient" in text and "`body.weight`" in text


def test_in_place_edits_fail_and_never_reach_the_reference():
    exercise = _exercise()
    seen = []

    def reference(values, mask):
        seen.append(values.clone())
        return (values * mask).sum()

    def in_place(values, mask):
        return values.mul_(mask).sum()

    cases = exercise.cases()
    result = grade(exercise, run_cases(exercise, in_place, cases), cases, {"masked_sum": reference})
    assert not result.passed
    assert "modified its input `values` in place" in "\n".join(result.feedback)
    assert torch.equal(seen[0], torch.tensor([1.0, 2.0, 3.0])), "the reference saw the answer's edit"
    assert torch.equal(cases[0].args[0], torch.tensor([1.0, 2.0, 3.0])), "the case itself was edited"


def test_in_place_edit_of_an_input_that_needs_gradients_is_explained():
    exercise = _exercise(grads=("values",))

    def in_place(values, mask):
        return values.mul_(mask).sum()

    text = "\n".join(_grade(exercise, in_place).feedback)
    assert "in place" in text


def test_forbidden_function_is_caught_through_helpers_and_getattr():
    exercise = _exercise(forbidden=("sum",))

    def helper(t):
        return t.sum()

    def through_helper(values, mask):
        return helper(values * mask)

    def through_getattr(values, mask):
        return getattr(torch, "s" + "um")(values * mask)

    def by_hand(values, mask):
        total = values.new_zeros(())
        for v, m in zip(values, mask):
            total = total + v * m
        return total

    for fn in (through_helper, through_getattr):
        result = _grade(exercise, fn)
        assert not result.passed and "uses `sum`" in "\n".join(result.feedback), result.feedback
    assert _grade(exercise, by_hand).passed


def test_static_check_follows_helpers_in_the_source():
    source = (
        "import torch\nfrom torch import logsumexp\n\n"
        "def helper(x):\n    return x.log_softmax(-1)\n\n"
        "def unrelated(x):\n    return logsumexp(x, -1)\n\n"
        "def answer(x):\n    return helper(x)\n"
    )
    assert forbidden_uses(source, "answer", ("log_softmax", "logsumexp")) == ["log_softmax"]
    assert forbidden_uses(source, "unrelated", ("log_softmax", "logsumexp")) == ["logsumexp"]
    assert forbidden_uses("def answer(:", "answer", ("x",)) == []


def test_the_notebook_check_gives_each_run_fresh_inputs():
    from graders import check

    def in_place_log_softmax(logits, dim=-1):
        logits -= logits.amax(dim=dim, keepdim=True)
        return logits - logits.exp().sum(dim=dim, keepdim=True).log()

    from graders import CheckFailed

    with pytest.raises(CheckFailed) as info:
        check("w00_orientation.log_softmax", in_place_log_softmax, device="cpu")
    assert "in place" in str(info.value)


def test_errors_are_outcomes_not_exceptions():
    exercise = _exercise()

    def broken(values, mask):
        return values @ torch.ones(7)

    outcome = run_case(exercise, broken, exercise.cases()[0], 0)
    assert outcome.failed and outcome.error_type == "RuntimeError"


# --------------------------------------------------------------------------------------------
# mistakes and alternatives as real code
# --------------------------------------------------------------------------------------------


def test_mistake_source_is_renamed_self_contained_code():
    exercise = get_exercise("w00_orientation.log_softmax")
    for mistake in exercise.mistakes:
        source = mistake.source
        assert "def log_softmax(" in source and "@" not in source.split("def ")[1].split("\n")[0]
        fn = namespace_from_source(source)["log_softmax"]
        assert callable(fn)


def test_snippet_source_drops_decorators_and_renames():
    def deco(f):
        return f

    @deco
    def my_wrong_version(x):
        return math.sqrt(x)

    source = snippet_source(my_wrong_version, "answer")
    assert "def answer(x):" in source and "@deco" not in source and "import math" in source


# --------------------------------------------------------------------------------------------
# source extraction
# --------------------------------------------------------------------------------------------


def _notebook(tmp_path: Path, cells: list[str]) -> Path:
    path = tmp_path / "nb.ipynb"
    path.write_text(
        json.dumps(
            {
                "cells": [{"cell_type": "code", "metadata": {}, "source": c, "outputs": []} for c in cells]
                + [{"cell_type": "markdown", "metadata": {}, "source": "# def not_code(): pass"}],
                "metadata": {},
                "nbformat": 4,
                "nbformat_minor": 5,
            }
        ),
        encoding="utf-8",
    )
    return path


def test_definitions_keep_imports_functions_classes_and_constants_only():
    code, warnings = definitions(
        [
            "import torch\nx = torch.ones(3)\nprint(x)\nLIMIT = 3\nSEEDS = [1, 2]\nBAD = torch.ones(2)\n",
            "def f(y):\n    return y + LIMIT\n\nclass C:\n    pass\n\nf(2)\n",
        ]
    )
    namespace = namespace_from_source(code)
    assert {"torch", "f", "C", "LIMIT", "SEEDS"} <= set(namespace)
    assert "x" not in namespace and "BAD" not in namespace
    assert warnings == []


def test_notebook_magics_and_syntax_errors(tmp_path):
    path = _notebook(
        tmp_path, ["%matplotlib inline\n!pip list\nimport math", "def broken(:\n    pass", "def ok():\n    return 1"]
    )
    assert len(code_cells(path)) == 3
    code, warnings = definitions_from_file(path)
    assert "def ok" in code and "import math" in code and "broken" not in code
    assert len(warnings) == 1 and "cell 2 has a syntax error" in warnings[0]


def test_unreadable_notebooks_raise_source_error(tmp_path):
    bad = tmp_path / "bad.ipynb"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(SourceError, match="not a valid notebook"):
        code_cells(bad)
    other = tmp_path / "answer.txt"
    other.write_text("x", encoding="utf-8")
    with pytest.raises(SourceError, match="expected a .py file"):
        code_cells(other)


# --------------------------------------------------------------------------------------------
# transport (JSON + safetensors, never pickle)
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        torch.tensor([1.5, -2.0]),
        torch.tensor(3, dtype=torch.int64),
        (torch.tensor([True, False]), 4, 2.5, None, "refuse"),
        [torch.zeros(2, 3, dtype=torch.float64), [1, 2]],
        {"loss": torch.tensor(0.5), "meta": {"steps": 3}},
    ],
)
def test_encode_decode_round_trip(value):
    tensors: dict = {}
    desc = json.loads(json.dumps(encode(value, tensors)))
    back = decode(desc, tensors)
    assert compare(value, back, rtol=0, atol=0) is None
    assert type(back) is type(value)


def test_unsupported_values_and_malformed_records():
    tensors: dict = {}
    back = decode(encode(object(), tensors), tensors)
    assert "object" in repr(back) and compare(1, back, 1e-4, 1e-5) is not None
    for bad in ([1], {"tensor": "missing"}, {"value": [1, 2]}, {"what": 1}):
        with pytest.raises(ValueError):
            decode(bad, tensors)
    with pytest.raises(ValueError):
        outcome_from_record({"value": {"value": 1}, "grads": {"x": {"value": 2}}}, {})


def test_outcome_record_round_trip():
    outcome = Outcome(
        value=(torch.tensor(1.0), 2),
        grads={"x": torch.tensor([0.5, 0.25]), "y": None},
        mutated=("values",),
        forbidden_calls=("log_softmax",),
    )
    tensors: dict = {}
    back = outcome_from_record(json.loads(json.dumps(outcome_to_record(outcome, tensors))), tensors)
    assert back.mutated == ("values",) and back.forbidden_calls == ("log_softmax",)
    assert back.grads["y"] is None and torch.equal(back.grads["x"], outcome.grads["x"])
    error = outcome_from_record(outcome_to_record(Outcome(error_type="ValueError", error="bad"), {}), {})
    assert error.failed and error.error == "bad"


def test_snippet_source_brings_the_helpers_and_constants_it_uses():
    exercise = get_exercise("w00_orientation.train_bigram")
    source = exercise.mistakes[0].source
    assert "def _bigram_step(" in source and "def train_bigram(" in source
    assert "def _bigram_cases(" not in source, "only the helpers the mistake uses"
    namespace = namespace_from_source(source)
    W, losses = namespace["train_bigram"](torch.tensor([[0, 1, 2, 1]]), 3, 2, 0.5)
    assert W.shape == (3, 3) and len(losses) == 2


def test_tied_tensors_stay_tied_in_the_copies():
    from graders.core import to_device

    shared = torch.ones(2)
    copy = to_device(({"a": shared, "b": shared}, shared), "cpu")
    assert copy[0]["a"] is copy[0]["b"] is copy[1] and copy[1] is not shared


def test_gradients_of_every_tensor_in_a_dict_input():
    def make_cases():
        g = torch.Generator().manual_seed(0)
        return [Case("two weights", ({"w": torch.randn(3, generator=g), "b": torch.randn(3, generator=g)},))]

    exercise = Exercise("affine_sum", points=1, make_cases=make_cases, grads=("params",))
    exercise.week = "w99_unit"

    def reference(params):
        return (params["w"] * 2 + params["b"]).sum()

    def frozen_bias(params):
        return (params["w"] * 2 + params["b"].detach()).sum()

    cases = exercise.cases()
    assert grade(exercise, run_cases(exercise, reference, cases), cases, {"affine_sum": reference}).passed
    bad = grade(exercise, run_cases(exercise, frozen_bias, cases), cases, {"affine_sum": reference})
    assert not bad.passed and "no gradient reaches `params['b']`" in "\n".join(bad.feedback)


def test_mistakes_that_raise_are_told_apart_by_their_message():
    from graders.core import _same_behaviour

    a = Outcome(error_type="RuntimeError", error="shape mismatch (line 3: `x @ y`)")
    b = Outcome(error_type="RuntimeError", error="shape mismatch (line 7: `y @ x`)")
    c = Outcome(error_type="RuntimeError", error="a leaf Variable that requires grad is used in-place")
    assert _same_behaviour(a, b) and not _same_behaviour(a, c)
