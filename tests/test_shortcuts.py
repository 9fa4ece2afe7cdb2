"""Forbidden functions reached below Python: every route is caught, and correct answers trip nothing.

Each attack is a real submission to a week-0 exercise that forbids the function it reaches. It
gets 0 points with a sentence naming what it used, in process (``grade_source``, as the
notebook's check grades) and, for a subset, through the sandbox. The runtime layer (the
``TorchDispatchMode`` of :mod:`graders.guard`) is also proved on its own, without the static
guard in front of it.
"""

from __future__ import annotations

import textwrap
import time
from pathlib import Path

import pytest
import torch

from graders import guard
from graders.core import run_case, run_cases
from graders.reference import load_reference
from graders.registry import get_exercise
from graders.sandbox import check_file
from graders.testing import grade_source

LOG_SOFTMAX = "w00_orientation.log_softmax"
CROSS_ENTROPY = "w00_orientation.cross_entropy"
LOG_SIGMOID = "w00_orientation.log_sigmoid"

# (name, exercise, source, a substring of the reason)
ATTACKS = [
    (
        "aten._log_softmax",
        LOG_SOFTMAX,
        """
        import torch

        def log_softmax(logits, dim=-1):
            return torch.ops.aten._log_softmax(logits, dim, False)
        """,
        "torch's internals",
    ),
    (
        "aten.special_log_softmax",
        LOG_SOFTMAX,
        """
        import torch

        def log_softmax(logits, dim=-1):
            return torch.ops.aten.special_log_softmax(logits, dim)
        """,
        "torch's internals",
    ),
    (
        "aten.cross_entropy_loss",
        CROSS_ENTROPY,
        """
        import torch

        def cross_entropy(logits, targets, ignore_index=-100):
            return torch.ops.aten.cross_entropy_loss(logits, targets, None, 1, ignore_index)
        """,
        "torch's internals",
    ),
    (
        "torch._decomp table",
        LOG_SOFTMAX,
        """
        import torch
        import torch._decomp

        def log_softmax(logits, dim=-1):
            table = torch._decomp.decomposition_table
            return table[torch.ops.aten._log_softmax.default](logits, dim, False)
        """,
        "torch's internals",
    ),
    (
        "DisableTorchFunction",
        LOG_SOFTMAX,
        """
        import torch

        def log_softmax(logits, dim=-1):
            with torch._C.DisableTorchFunction():
                return getattr(torch, "log_" + "softmax")(logits, dim)
        """,
        "torch's internals",
    ),
    (
        "scipy log_softmax in an autograd.Function",
        LOG_SOFTMAX,
        """
        import scipy.special
        import torch

        class _LogSoftmax(torch.autograd.Function):
            @staticmethod
            def forward(ctx, logits, dim):
                out = torch.from_numpy(scipy.special.log_softmax(logits.detach().cpu().double().numpy(), axis=dim))
                out = out.to(logits.device, logits.dtype)
                ctx.save_for_backward(out)
                ctx.dim = dim
                return out

            @staticmethod
            def backward(ctx, grad):
                (out,) = ctx.saved_tensors
                return grad - out.exp() * grad.sum(ctx.dim, keepdim=True), None

        def log_softmax(logits, dim=-1):
            return _LogSoftmax.apply(logits, dim)
        """,
        "`log_softmax`",
    ),
    (
        "scipy logsumexp",
        LOG_SOFTMAX,
        """
        import numpy as np
        import torch
        from scipy.special import logsumexp as lse

        def log_softmax(logits, dim=-1):
            z = logits.detach().cpu().double().numpy()
            return logits - torch.from_numpy(lse(z, axis=dim, keepdims=True)).to(logits.dtype)
        """,
        "`logsumexp`",
    ),
    (
        "scipy log_expit in an autograd.Function",
        LOG_SIGMOID,
        """
        import scipy.special
        import torch

        class _LogSigmoid(torch.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                ctx.save_for_backward(x)
                return torch.from_numpy(scipy.special.log_expit(x.detach().cpu().numpy())).to(x.device, x.dtype)

            @staticmethod
            def backward(ctx, grad):
                (x,) = ctx.saved_tensors
                return grad * torch.exp(-torch.nn.functional.softplus(x))

        def log_sigmoid(x):
            return _LogSigmoid.apply(x)
        """,
        "`log_expit`",
    ),
    (
        "scipy expit, imported with a star",
        LOG_SIGMOID,
        """
        import torch
        from scipy.special import *

        def log_sigmoid(x):
            return torch.log(torch.from_numpy(expit(x.detach().numpy())).to(x.dtype))
        """,
        "`expit`",
    ),
]


def _source(text: str) -> str:
    return textwrap.dedent(text).lstrip()


@pytest.mark.parametrize(("exercise_id", "source", "reason"), [a[1:] for a in ATTACKS], ids=[a[0] for a in ATTACKS])
def test_shortcut_scores_zero_with_reason(exercise_id, source, reason):
    result = grade_source(get_exercise(exercise_id), _source(source))
    assert result.points == 0 and not result.passed, result.feedback
    assert any(reason in line for line in result.feedback), result.feedback


@pytest.mark.parametrize(
    "name",
    ["aten._log_softmax", "DisableTorchFunction", "aten.cross_entropy_loss", "scipy log_expit in an autograd.Function"],
)
def test_shortcut_scores_zero_through_the_sandbox(name, tmp_path):
    _, exercise_id, source, reason = next(a for a in ATTACKS if a[0] == name)
    path = tmp_path / "answer.py"
    path.write_text(_source(source), encoding="utf-8")
    [result] = check_file(path, [exercise_id])
    assert result.points == 0 and not result.passed, result.feedback
    assert any(reason in line for line in result.feedback), result.feedback


# -- the runtime layer alone: what the dispatch mode sees, with no static check in front of it --

RUNTIME = [
    ("aten._log_softmax", LOG_SOFTMAX, lambda x, dim=-1: torch.ops.aten._log_softmax(x, dim, False), "log_softmax"),
    (
        "aten.special_log_softmax",
        LOG_SOFTMAX,
        lambda x, dim=-1: torch.ops.aten.special_log_softmax(x, dim),
        "log_softmax",
    ),
    ("aten.log_softmax.int", LOG_SOFTMAX, lambda x, dim=-1: torch.ops.aten.log_softmax.int(x, dim), "log_softmax"),
    ("torch.special.softmax, logged", LOG_SOFTMAX, lambda x, dim=-1: torch.special.softmax(x, dim).log(), "softmax"),
    (
        "cross_entropy_loss",
        CROSS_ENTROPY,
        lambda logits, targets, ignore_index=-100: torch.ops.aten.cross_entropy_loss(
            logits, targets, None, 1, ignore_index
        ),
        "cross_entropy",
    ),
]


def _disabled_log_softmax(x, dim=-1):
    with torch._C.DisableTorchFunction():
        return getattr(torch, "log_" + "softmax")(x, dim)


RUNTIME.append(("DisableTorchFunction + getattr", LOG_SOFTMAX, _disabled_log_softmax, "log_softmax"))


@pytest.mark.parametrize(("exercise_id", "fn", "name"), [r[1:] for r in RUNTIME], ids=[r[0] for r in RUNTIME])
def test_dispatch_mode_sees_operators_below_python(exercise_id, fn, name):
    exercise = get_exercise(exercise_id)
    case = exercise.cases()[0]
    outcome = run_case(exercise, fn, case, 0)
    assert not outcome.failed, outcome.error
    assert any(call.split(" ")[0] == name for call in outcome.forbidden_calls), outcome.forbidden_calls


def test_an_answer_that_disables_the_recorder_for_good_is_caught_at_run_time():
    exercise = get_exercise(LOG_SOFTMAX)

    left_open = []

    def leaves_it_disabled(x, dim=-1):
        left_open.append(torch._C.DisableTorchFunction())
        left_open[-1].__enter__()  # never exited by the answer
        return x - x.exp().sum(dim, keepdim=True).log()

    try:
        outcome = run_case(exercise, leaves_it_disabled, exercise.cases()[0], 0)
    finally:
        for context in reversed(left_open):  # this test's process goes on: put torch back as it was
            context.__exit__(None, None, None)
    assert torch._C._is_torch_function_enabled()
    assert outcome.error_type == guard.TAMPERED_ERROR
    assert "disabled or patched the grader's measuring code" in outcome.error


@pytest.mark.parametrize("forbidden", sorted(guard.ATEN_OPS))
def test_every_forbidden_torch_name_of_every_exercise_is_mapped(forbidden):
    """Every torch function some exercise forbids has operators to look for (or is known not to)."""
    assert guard.ATEN_OPS[forbidden]


def test_forbidden_names_used_by_exercises_are_covered():
    from graders.registry import all_exercises

    names = {n for e in all_exercises().values() for n in e.forbidden}
    torch_names = {n for n in names if hasattr(torch.nn.functional, n) or hasattr(torch.nn, n) or hasattr(torch, n)}
    unmapped = torch_names - set(guard.ATEN_OPS) - {"normalize"}  # F.normalize is plain arithmetic at dispatch
    assert not unmapped, f"forbidden torch functions with no aten operators to watch: {sorted(unmapped)}"


@pytest.mark.parametrize(
    "exercise_id",
    [
        LOG_SOFTMAX,
        CROSS_ENTROPY,
        "w00_orientation.kl_divergence",
        LOG_SIGMOID,
        "w01_transformers.layer_norm",
        "w01_transformers.gelu_new",
        "w01_transformers.causal_self_attention",
    ],
)
def test_reference_trips_nothing_under_the_dispatch_mode(exercise_id):
    exercise = get_exercise(exercise_id)
    fn = getattr(load_reference(exercise.week), exercise.function)
    for outcome in run_cases(exercise, fn, exercise.cases()):
        assert not outcome.failed, outcome.error
        assert not outcome.forbidden_calls, outcome.forbidden_calls


def test_dispatch_mode_overhead_is_small():
    """The recorder costs little next to the answer itself (measured on week 1's layer norm)."""
    exercise = get_exercise("w01_transformers.layer_norm")
    fn = getattr(load_reference(exercise.week), exercise.function)
    cases = exercise.cases()

    def timed() -> float:
        start = time.perf_counter()
        for _ in range(3):
            run_cases(exercise, fn, cases)
        return time.perf_counter() - start

    with_mode = min(timed() for _ in range(3))
    original = guard.forbidden_ops
    try:
        guard.forbidden_ops = lambda forbidden: None
        without = min(timed() for _ in range(3))
    finally:
        guard.forbidden_ops = original
    assert with_mode < 3 * without + 0.5, (with_mode, without)


def test_hostile_files_follow_the_convention():
    folder = Path(__file__).parent / "hostile"
    files = sorted(folder.glob("*.py"))
    assert files
    for path in files:
        first = path.read_text(encoding="utf-8").splitlines()[0]
        assert first.startswith("# expect: "), path.name
