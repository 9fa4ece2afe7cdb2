"""No correct code is reachable from submitted code.

The spec modules (``graders/weeks/``) write their known mistakes as one helper with a switch per
mistake whose default is the right answer, and ``courselib`` computes some exercises' answers
for the notebooks (the harness's ``run_task``, BBQ's scores, the Wilson interval). This test
proves that a submission gets nothing from either:

1. **Screening** (a subprocess with the full repository importable and the sandbox's audit hook
   on, so that courselib functions that write files cannot touch the repository): for every
   exercise, every module-level function of ``graders/weeks/`` and of ``courselib/`` (and class,
   for an exercise whose answer is a class) whose signature binds the exercise's first case is
   wrapped as the exercise's function, exactly as a student would, and run on all the cases in
   that process. The wrappers that reproduce the reference there "compute the answer" (the
   registered mistakes are left out: test_grader_trust proves each one is rejected; the shared
   "switch per mistake" helpers they call are not mistakes, and are screened).
2. **Grading**: every such wrapper, plus the known attacks in ``tests/hostile/``, is graded through
   the sandbox (bubblewrap), several exercises per file: each must score 0, with a one-line reason.

A wrapper that already fails in the screening process, where every spec module and courselib
function is importable, cannot pass in the sandbox, which only removes things; so it is not
graded again (this keeps the test within a few minutes).
"""

from __future__ import annotations

import ast
import copy
import importlib
import inspect
import json
import os
import pkgutil
import signal
import subprocess
import sys
import types
from pathlib import Path
from typing import Any

import pytest
from hostile_support import defined_names, expected_reasons, hostile_files, names_a_reason

from graders.isolation import REPO_ROOT, probe

HOSTILE = REPO_ROOT / "tests" / "hostile"
REPORT = probe()
needs_bwrap = pytest.mark.skipif(not REPORT.os_isolated, reason=f"bubblewrap cannot run here: {REPORT.bwrap_error}")
PACKAGES = ("graders.weeks", "courselib")
KNOWN = {  # the attacks of the issue: the screening must find them (else it is not looking)
    "w05_dpo.dpo_batch_loss": "graders.weeks.w05_dpo._batch_dpo",
    "w12_bias_evaluation.run_eval": "courselib.world.harness.run_task",
    "w11_debate.wilson_interval": "courselib.world.bias.wilson_interval",
}


# --------------------------------------------------------------------------------------------
# Wrappers
# --------------------------------------------------------------------------------------------


def candidate_modules() -> list[types.ModuleType]:
    modules = []
    for package_name in PACKAGES:
        package = importlib.import_module(package_name)
        modules.append(package)
        for info in pkgutil.walk_packages(package.__path__, package_name + "."):
            modules.append(importlib.import_module(info.name))
    return modules


def candidates(modules: list[types.ModuleType], classes: bool) -> list[tuple[str, Any]]:
    """(dotted name, object) of every function (and class) defined at the top level of ``modules``."""
    kinds = (types.FunctionType, type) if classes else (types.FunctionType,)
    return [
        (f"{m.__name__}.{name}", obj)
        for m in modules
        for name, obj in vars(m).items()
        if isinstance(obj, kinds) and getattr(obj, "__module__", None) == m.__name__ and obj.__name__ != "<lambda>"
    ]


def _render_default(value: Any) -> str | None:
    text = repr(value)
    try:
        return text if ast.literal_eval(text) == value or value != value else None
    except (ValueError, SyntaxError):
        return None


def wrapper_source(function: str, reference: Any, dotted: str, alias: str = "_candidate") -> str:
    """The exercise's function (same signature as the reference) calling ``dotted`` with its arguments."""
    module, _, name = dotted.rpartition(".")
    head = f"from {module} import {name} as {alias}\n\n\n"
    if isinstance(reference, type):
        return head + f"class {function}({alias}):\n    pass\n"
    params, forward = [], []
    star_done = False
    for p in inspect.signature(reference).parameters.values():
        default = ""
        if p.default is not inspect.Parameter.empty:
            rendered = _render_default(p.default)
            if rendered is None:
                return head + f"def {function}(*args, **kwargs):\n    return {alias}(*args, **kwargs)\n"
            default = f"={rendered}"
        if p.kind is p.VAR_POSITIONAL:
            params.append(f"*{p.name}")
            forward.append(f"*{p.name}")
            star_done = True
        elif p.kind is p.VAR_KEYWORD:
            params.append(f"**{p.name}")
            forward.append(f"**{p.name}")
        elif p.kind is p.KEYWORD_ONLY:
            if not star_done:
                params.append("*")
                star_done = True
            params.append(f"{p.name}{default}")
            forward.append(f"{p.name}={p.name}")
        else:
            params.append(f"{p.name}{default}")
            forward.append(p.name)
    return head + f"def {function}({', '.join(params)}):\n    return {alias}({', '.join(forward)})\n"


class _Recorded(Exception):
    pass


def call_arguments(exercise: Any, case: Any, reference: Any) -> tuple[tuple, dict] | None:
    """What the wrapper passes on for the first case: the arguments the exercise's ``call`` gives
    the function, normalised by the reference's signature as the wrapper forwards them."""
    from graders.core import _default_call, to_device

    if exercise.call is _default_call:
        args, kwargs = to_device(case.args, "cpu"), to_device(dict(case.kwargs), "cpu")
    else:
        got: list[tuple[tuple, dict]] = []

        def record(*a: Any, **k: Any) -> Any:
            got.append((a, k))
            raise _Recorded

        try:
            exercise.call(record, case)
        except _Recorded:
            pass
        except Exception:  # noqa: BLE001 - an adapter that needs more than one call: use what it passed
            pass
        if not got:
            return None
        args, kwargs = got[0]
    if isinstance(reference, type):
        return args, kwargs
    try:
        bound = inspect.signature(reference).bind(*args, **kwargs)
    except TypeError:
        return None
    bound.apply_defaults()
    return tuple(bound.args), dict(bound.kwargs)


def binds(obj: Any, args: tuple, kwargs: dict) -> bool:
    try:
        inspect.signature(obj).bind(*args, **kwargs)
        return True
    except (TypeError, ValueError):
        return False


# --------------------------------------------------------------------------------------------
# 1. Screening (in a subprocess: python tests/test_no_answers_in_sandbox.py OUT.json)
# --------------------------------------------------------------------------------------------


def _alarm(_signum: int, _frame: Any) -> None:
    raise TimeoutError


def fingerprint(obj: Any, out: list[Any] | None = None, seen: dict[int, int] | None = None) -> list[Any]:
    """Everything a call could change in its arguments (tensors, gradients, a module's mode, hooks and
    attributes, an optimizer's state, closures' cells), as a list to compare with a later one."""
    import torch

    out = [] if out is None else out
    seen = {} if seen is None else seen
    if isinstance(obj, torch.Tensor):
        out.append(obj.detach().clone())
        if obj.grad is not None:
            out.append(obj.grad.detach().clone())
        return out
    if obj is None or isinstance(obj, (bool, int, float, str, torch.dtype, torch.device)):
        out.append(obj)
        return out
    if isinstance(obj, (type, types.ModuleType, types.BuiltinFunctionType)):
        out.append(obj)
        return out
    if id(obj) in seen:
        out.append(("seen", seen[id(obj)]))  # the same object again (a tied weight): where it was first met
        return out
    seen[id(obj)] = len(seen)
    out.append(type(obj))
    if isinstance(obj, (list, tuple, set, frozenset)):
        out.append(len(obj))
        for item in obj:
            fingerprint(item, out, seen)
    elif isinstance(obj, dict):
        out.append(tuple(map(repr, obj)))
        for value in obj.values():
            fingerprint(value, out, seen)
    elif isinstance(obj, types.FunctionType):
        for cell in obj.__closure__ or ():
            try:
                fingerprint(cell.cell_contents, out, seen)
            except ValueError:
                out.append("empty cell")
    elif hasattr(obj, "__dict__"):
        fingerprint(vars(obj), out, seen)  # a module's parameters, buffers, hooks and mode live here
    return out


def same_fingerprint(a: list[Any], b: list[Any]) -> bool:
    import torch

    from graders.core import _same_data

    if len(a) != len(b):
        return False
    for x, y in zip(a, b):
        if isinstance(x, torch.Tensor) or isinstance(y, torch.Tensor):
            if not (isinstance(x, torch.Tensor) and isinstance(y, torch.Tensor) and _same_data(x, y)):
                return False
        elif x != y:
            return False
    return True


def screen(out: Path) -> None:
    import torch

    from graders.core import _case_problem, run_cases
    from graders.reference import load_reference
    from graders.registry import all_exercises
    from graders.sandbox import _install_guard
    from graders.source import namespace_from_source

    torch.set_num_threads(1)  # tiny tensors: threads only contend
    exercises = all_exercises()
    references = {w: vars(load_reference(w)) for w in sorted({e.week for e in exercises.values()})}
    modules = candidate_modules()
    # registered mistakes are wrong by construction (test_grader_trust: each one is rejected, and named)
    mistakes = {id(m.definition) for e in exercises.values() for m in e.mistakes}
    plan = []
    for exercise in exercises.values():
        reference = references[exercise.week][exercise.function]
        cases = exercise.cases()
        arguments = call_arguments(exercise, cases[0], reference)
        if arguments is None:
            raise AssertionError(f"{exercise.id}: the first case's arguments could not be recorded")
        plan.append((exercise, reference, cases, arguments))
    _install_guard(Path.cwd())  # courselib functions given odd arguments write nothing outside this folder
    signal.signal(signal.SIGALRM, _alarm)
    found: dict[str, list[str]] = {}
    counts: dict[str, int] = {}
    for exercise, reference, cases, pristine in plan:
        expected = None
        pool = candidates(modules, classes=isinstance(reference, type))
        bound = [(d, obj) for d, obj in pool if id(obj) not in mistakes and binds(obj, *pristine)]
        counts[exercise.id] = len(bound)
        before = fingerprint(pristine)
        args, kwargs = copy.deepcopy(pristine)
        for dotted, obj in bound:
            if not isinstance(reference, type):
                # a first try on (a copy of) the first case's arguments: most candidates raise at once;
                # the copy is made again only when a call changed it
                signal.alarm(5)
                try:
                    obj(*args, **kwargs)
                except TimeoutError:
                    pass  # slow is not wrong: graded on every case below
                except BaseException:  # noqa: BLE001 - it does not compute the answer
                    continue
                finally:
                    signal.alarm(0)
                    if not same_fingerprint(before, fingerprint((args, kwargs))):
                        args, kwargs = copy.deepcopy(pristine)
            signal.alarm(60)
            try:
                fn = namespace_from_source(wrapper_source(exercise.function, reference, dotted))[exercise.function]
                outcomes = run_cases(exercise, fn, cases)
                if expected is None:
                    expected = run_cases(exercise, reference, cases)
                if all(_case_problem(exercise, e, o) is None for e, o in zip(expected, outcomes)):
                    found.setdefault(exercise.id, []).append(dotted)
            except TimeoutError:
                found.setdefault(exercise.id, []).append(dotted)  # undecided here: the sandbox decides
            except BaseException:  # noqa: BLE001 - broke outside the answer's frames: not an answer
                continue
            finally:
                signal.alarm(0)
    out.write_text(json.dumps({"found": found, "bound": counts}), encoding="utf-8")
    sys.stdout.flush()
    os._exit(0)  # no exit handlers: some (temporary folders' clean-up) would meet the audit hook


@pytest.fixture(scope="module")
def screened(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("screen")
    out = folder / "screen.json"
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "HOME": str(folder), "MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), str(out)],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(out.read_text(encoding="utf-8"))


def test_screening_finds_the_known_shortcuts(screened):
    """Without the sandbox these wrappers earn full marks: the screening has teeth."""
    for exercise_id, dotted in KNOWN.items():
        assert dotted in screened["found"].get(exercise_id, []), (exercise_id, screened["found"].get(exercise_id))
    assert len(screened["bound"]) >= 97 and all(n > 0 for n in screened["bound"].values())


# --------------------------------------------------------------------------------------------
# 2. Grading through the sandbox
# --------------------------------------------------------------------------------------------


def _one_line_reason(result: Any) -> str:
    lines = [line for line in result.feedback if not line.startswith("✓")]
    return " | ".join(lines[:2])


SETUP_FAILED = "running your code's definitions failed"


def all_ids() -> list[str]:
    """Every exercise of the course: one warm worker (every week's cases) serves the whole module,
    and one file can hold a wrapper for each exercise (no two exercises share a function name)."""
    from graders.registry import all_exercises

    return list(all_exercises())


def grade_wrappers(tmp_path: Path, name: str, wrappers: dict[str, tuple[str, str]]) -> dict[str, Any]:
    """Grade {exercise id: (dotted, wrapper source)} through the sandbox, all in one file; where the
    file's definitions fail to run as a whole, each wrapper again on its own (so that no zero is
    only the neighbours' fault)."""
    from graders.sandbox import check_file

    path = tmp_path / f"{name}.py"
    path.write_text("\n\n".join(src for _, src in wrappers.values()), encoding="utf-8")
    results = {r.exercise: r for r in check_file(path, all_ids(), isolation="bwrap")}
    if len(wrappers) > 1 and any(SETUP_FAILED in " ".join(results[i].feedback) for i in wrappers):
        for n, (exercise_id, wrapper) in enumerate(wrappers.items()):
            results.update(grade_wrappers(tmp_path, f"{name}-{n}", {exercise_id: wrapper}))
    return {i: results[i] for i in wrappers}


@needs_bwrap
def test_every_answer_computing_wrapper_scores_zero_in_the_sandbox(screened, tmp_path):
    from graders.reference import load_reference
    from graders.registry import all_exercises

    exercises = all_exercises()
    found = screened["found"]
    assert sum(len(f) for f in found.values()) >= len(KNOWN)
    failures, graded = [], 0
    for k in range(max(len(f) for f in found.values())):
        wrappers = {}
        for exercise_id, dotted_names in found.items():
            if k < len(dotted_names):
                exercise = exercises[exercise_id]
                reference = vars(load_reference(exercise.week))[exercise.function]
                source = wrapper_source(exercise.function, reference, dotted_names[k], f"_candidate_{len(wrappers)}")
                wrappers[exercise_id] = (dotted_names[k], source)
        for exercise_id, result in grade_wrappers(tmp_path, f"wrappers-{k}", wrappers).items():
            graded += 1
            reason = _one_line_reason(result)
            if result.points != 0 or not reason or SETUP_FAILED in reason:
                failures.append(f"{exercise_id} via {wrappers[exercise_id][0]}: {result.points} points; {reason}")
    assert not failures, "\n".join(failures)
    assert graded == sum(len(f) for f in found.values())


@needs_bwrap
@pytest.mark.parametrize("path", hostile_files(), ids=lambda p: p.stem)
def test_hostile_file_scores_zero_with_its_reason(path):
    """Each ``tests/hostile/*.py``: every exercise it defines scores 0, with the reason its first line names."""
    from graders.registry import all_exercises
    from graders.sandbox import check_file

    text = path.read_text(encoding="utf-8")
    defined = defined_names(text)
    ids = [e.id for e in all_exercises().values() if e.function in defined]
    assert ids, f"{path.name} defines no graded function"
    results = {r.exercise: r for r in check_file(path, all_ids(), isolation="bwrap")}
    for exercise_id in ids:
        result = results[exercise_id]
        assert result.points == 0, (exercise_id, result.feedback)
        assert names_a_reason(path, " ".join(result.feedback)), (exercise_id, expected_reasons(path), result.feedback)


# attacks whose names are computed at run time: with the parent's static checks switched off, the
# sandbox's own layers (stand-ins for graders modules, stubs for courselib answers, the checked
# getattr) still give 0 and say why
RUN_TIME_LAYER = [
    "courselib_run_task_by_getattr",
    "spec_module_imported_at_run_time",
    "spec_helper_dpo_batch",
    "reference_through_load_reference",
    "sklearn_by_computed_name",
    "tensor_subclass_built_by_type",
    "answer_filled_in_backward",
    "answer_filled_in_backward_aten",
]


@needs_bwrap
@pytest.mark.parametrize("name", RUN_TIME_LAYER)
def test_the_sandbox_alone_refuses_answers_reached_at_run_time(name, monkeypatch):
    from graders import core, guard
    from graders.registry import all_exercises
    from graders.sandbox import check_file

    monkeypatch.setattr(guard, "refusal_message", lambda *args: None)
    monkeypatch.setattr(core, "forbidden_library_uses", lambda *args: [])
    path = HOSTILE / f"{name}.py"
    defined = defined_names(path.read_text(encoding="utf-8"))
    ids = [e.id for e in all_exercises().values() if e.function in defined]
    assert ids
    for result in check_file(path, ids, isolation="bwrap"):
        assert result.points == 0, result.feedback
        assert names_a_reason(path, " ".join(result.feedback)), result.feedback  # the static reason cannot appear


ONLY_THE_HARNESS = """
import os
import sys

import graders


def log_softmax(logits, dim=-1):
    here = os.path.dirname(os.path.abspath(graders.__file__))
    root = os.path.dirname(here)
    checks = [
        sorted(os.listdir(here)) == sorted(CHILD_FILES),
        set(os.listdir(root)) <= {"graders", "courselib", "datasets", ".venv"},
        not any(n.startswith("graders.") and n not in CHILD_MODULES for n in sys.modules),
    ]
    if not all(checks):
        return logits * 0
    s = logits - logits.amax(dim=dim, keepdim=True)
    return s - s.exp().sum(dim=dim, keepdim=True).log()
"""


def _harness_probe(tmp_path: Path, isolation: str) -> Any:
    from graders.isolation import CHILD_FILES
    from graders.sandbox import CHILD_MODULES, check_file

    path = tmp_path / f"probe-{isolation}.py"
    constants = f"CHILD_FILES = {list(CHILD_FILES)!r}\nCHILD_MODULES = {sorted(CHILD_MODULES)!r}\n"
    path.write_text(ONLY_THE_HARNESS.replace("import graders\n", "import graders\n\n" + constants), encoding="utf-8")
    ids = all_ids() if isolation == "bwrap" else ["w00_orientation.log_softmax"]
    return {r.exercise: r for r in check_file(path, ids, isolation=isolation)}["w00_orientation.log_softmax"]


@needs_bwrap
def test_the_sandbox_holds_the_harness_and_nothing_else(tmp_path, without_static_guard):
    """graders/ holds only the child's modules; the repository only those, courselib/ and datasets/;
    no other graders module is loaded (the answer is right only where all of this holds)."""
    result = _harness_probe(tmp_path, "bwrap")
    assert result.passed, result.feedback


def test_control_without_the_sandbox_the_probe_sees_the_specs(tmp_path, without_static_guard):
    """The same probe, unisolated, sees the spec modules: so a pass above means they are absent."""
    result = _harness_probe(tmp_path, "none")
    assert not result.passed and "values differ" in " ".join(result.feedback), result.feedback


if __name__ == "__main__":
    screen(Path(sys.argv[1]))
