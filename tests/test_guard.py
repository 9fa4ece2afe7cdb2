"""The harness a submission cannot disable or patch: the static guard, the seal, the audit table.

- no false positives: on every week, the reference solution, the released stubs, every known
  mistake and every correct-but-different alternative trip nothing;
- every hostile submission in ``tests/hostile/`` is refused by the static guard with its reason,
  and (a subset) gets 0 through the sandbox when pasted into the released week-5 notebook;
- the runtime seal catches the same patches on its own (with the parent's guard switched off);
- the audit hook's table cannot be cleared or edited from the child.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from hostile_support import hostile_files, names_a_reason

from graders import guard
from graders.reference import REPO_ROOT, released_notebook, solution_source
from graders.registry import all_exercises, get_exercise, week_exercises
from graders.sandbox import check_file
from graders.source import definitions, definitions_from_file
from graders.testing import alternatives_of, grade_source

WEEKS = sorted({e.week for e in all_exercises().values()})
# the hostile files the parent's static guard must refuse by itself (the others in tests/hostile/ are
# stopped by other layers: forbidden courselib names, the sandbox's stubs, the cohort's bounds)
STATIC = {
    "aten_cross_entropy_loss", "aten_log_softmax", "aten_special_log_softmax", "class_body_clear_audit_table",
    "class_body_patch_inplace_report", "class_body_patch_recorder", "decomp_table", "disable_torch_function",
    "exec_string", "frame_globals_default_arg", "gc_find_recorder", "import_spec_helper", "monkeypatch_clone",
    "monkeypatch_tensor_eq", "reference_through_load_reference", "spec_helper_dpo_batch",
    "spec_module_imported_at_run_time",
}  # fmt: skip
HOSTILE = [p for p in hostile_files() if p.stem in STATIC]


def test_every_static_hostile_file_exists():
    assert {p.stem for p in HOSTILE} == STATIC


def _defined(source: str) -> set[str]:
    return {n.name for n in ast.parse(source).body if isinstance(n, (ast.FunctionDef, ast.ClassDef))}


# ---------------------------------------------------------------------------------------------
# No false positives
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("week", WEEKS)
def test_no_correct_or_provided_code_is_refused(week):
    exercises = week_exercises(week)
    sources = {
        "the reference solution": definitions_from_file(solution_source(week))[0],
        "the released notebook": definitions_from_file(released_notebook(week))[0],
    }
    problems = []
    for label, code in sources.items():
        for exercise in exercises:
            problems += [
                f"{label}, {exercise.function}: {r.message()}" for r in guard.refusals(code, week, exercise.function)
            ]
    for exercise in exercises:
        for mistake in exercise.mistakes:
            found = guard.refusals(mistake.source, week, exercise.function)
            problems += [f"mistake {mistake.name!r}: {r.message()}" for r in found]
        for source in alternatives_of(exercise):
            found = guard.refusals(source, week, exercise.function)
            problems += [f"an alternative to {exercise.function}: {r.message()}" for r in found]
    assert not problems, "\n".join(problems)


ALLOWED = [
    "import gc\n\ndef f(x):\n    gc.collect()\n    return x",
    "def f(model):\n    return getattr(model, 'transformer', model)",
    "def f(model, name):\n    return hasattr(model, name)",
    "class M:\n    def get(self, name):\n        return getattr(self, name)\n\n    def put(self, name, v):\n        setattr(self, name, v)",
    "import torch\n\ndef f():\n    torch.backends.cudnn.deterministic = True",
    "import pandas as pd\n\ndef f():\n    pd.options.display.max_rows = 10",
    "import os\n\ndef f():\n    os.environ['TOKENIZERS_PARALLELISM'] = 'false'",
    "class M:\n    def __init__(self):\n        self.x = 1\n        self._cache = {}",
    "def f(model):\n    model.eval()\n    return model._modules",
    "import sys\n\ndef f(x):\n    print(x, file=sys.stderr)\n    return sys.float_info.epsilon",
    "import torch\n\ndef f(x):\n    return torch.func.vmap(torch.sin)(x) + torch.__version__.count('.')",
    "from graders import check\n\ndef f(x):\n    return x",  # imported (as the notebook does) but not used
    "import torch\n\ndef f(p):\n    return torch.load(p)",
    "import inspect\n\ndef f(g):\n    return len(inspect.signature(g).parameters)",
    "from torch.utils.data import DataLoader\n\ndef f(ds):\n    return DataLoader(ds)",
    "def f(x):\n    return type(x).__name__, x.__class__.__name__",
]

REFUSED = [
    ("import gc\n\ndef f(x):\n    return gc.get_objects()", "reaches into the grader", "gc.get_objects"),
    ("import graders.core\n\ndef f(x):\n    return graders.core.run_case", "reaches into the grader", "graders"),
    (
        "from graders import load_reference\n\ndef f(x):\n    return load_reference('w00_orientation')",
        "grader",
        "load_reference",
    ),
    ("import sys\n\ndef f():\n    return sys.modules", "reaches into the grader", "sys.modules"),
    ("import sys\n\ndef f():\n    return sys._getframe(1)", "reaches into the grader", "sys._getframe"),
    ("def f(e):\n    return e.__traceback__.tb_frame.f_back", "reaches into the grader", "__traceback__"),
    ("def f(g):\n    return g.__globals__", "reaches into the grader", "__globals__"),
    ("def f():\n    return ().__class__.__base__.__subclasses__()", "reaches into the grader", "__base__"),
    ("import torch\n\ndef f():\n    return torch.nn.functional.__dict__", "reaches into the grader", "__dict__"),
    ("import inspect\n\ndef f():\n    return inspect.currentframe()", "reaches into the grader", "currentframe"),
    (
        "import inspect\n\ndef f(fr):\n    return inspect.getargvalues(fr).locals",
        "reaches into the grader",
        "getargvalues",
    ),
    (
        "import traceback\n\ndef f():\n    return next(traceback.walk_stack(None))",
        "reaches into the grader",
        "walk_stack",
    ),
    ("def f():\n    return globals()", "reaches into the grader", "globals"),
    ("def f(x):\n    return vars(x)", "reaches into the grader", "vars"),
    ("import ctypes\n\ndef f():\n    return ctypes.CDLL(None)", "reaches into the grader", "ctypes"),
    ("import signal\n\ndef f():\n    signal.alarm(0)", "reaches into the grader", "signal"),
    ("def f(x):\n    return eval('x + 1')", "chosen at run time", "eval"),
    ("def f():\n    exec('import gc')", "chosen at run time", "exec"),
    ("def f():\n    return compile('1', 'x', 'eval')", "chosen at run time", "compile"),
    ("def f():\n    return __import__('gc')", "chosen at run time", "__import__"),
    ("import importlib\n\ndef f():\n    return importlib.import_module('gc')", "chosen at run time", "importlib"),
    ("import torch\n\ndef f(name):\n    return getattr(torch, name)", "chosen at run time", "getattr"),
    ("import torch\n\ndef f(name):\n    setattr(torch.nn, name, None)", "chosen at run time", "setattr"),
    ("def f(x, name):\n    return getattr(type(x), name)", "chosen at run time", "getattr"),
    ("import functools\n\ndef f(m):\n    return functools.reduce(getattr, ['a'], m)", "chosen at run time", "getattr"),
    ("import operator\n\ndef f(m):\n    return operator.attrgetter('x')(m)", "chosen at run time", "attrgetter"),
    ("import pickle\n\ndef f(b):\n    return pickle.loads(b)", "chosen at run time", "pickle"),
    ("import torch\n\ndef f(p):\n    return torch.load(p, weights_only=False)", "chosen at run time", "weights_only"),
    ("import torch\n\ndef f(x):\n    return torch._C._nn.gelu(x)", "torch's internals", "torch._C"),
    ("import torch\n\ndef f(x):\n    return torch.ops.aten.gelu(x)", "torch's internals", "torch.ops"),
    ("from torch import ops\n\ndef f(x):\n    return ops.aten.gelu(x)", "torch's internals", "ops"),
    ("import torch\n\ndef f(x):\n    return torch._refs.softmax(x, -1)", "torch's internals", "_refs"),
    ("import torch\n\ndef f(x):\n    return torch._prims.exp(x)", "torch's internals", "_prims"),
    (
        "from torch.utils import _python_dispatch\n\ndef f():\n    return _python_dispatch",
        "torch's internals",
        "dispatch",
    ),
    (
        "import torch.overrides\n\ndef f():\n    return torch.overrides.TorchFunctionMode",
        "torch's internals",
        "overrides",
    ),
    ("import torch\n\ndef f(g):\n    return torch.compile(g)", "torch's internals", "torch.compile"),
    ("import torch\n\ndef f():\n    return torch._dynamo", "torch's internals", "_dynamo"),
    ("import torch\nt = torch\n\ndef f():\n    return t._C", "torch's internals", "_C"),
    ("import torch\n\ndef f():\n    return getattr(torch, '_C')", "torch's internals", "_C"),
    ("import torch\n\ndef f(g):\n    torch.softmax = g", "changes a library module", "torch.softmax"),
    ("import json\n\ndef f():\n    json.dumps = str", "changes a library module", "json.dumps"),
    ("import torch.nn.functional as F\n\ndef f():\n    del F.gelu", "changes a library module", "F.gelu"),
    ("import torch\n\ndef f():\n    setattr(torch, 'softmax', None)", "changes a library module", "setattr"),
    ("def f(x):\n    type(x).__eq__ = lambda a, b: True", "changes a library module", "type(x).__eq__"),
    ("def f(x):\n    x.__class__.clone = lambda a: a", "changes a library module", "__class__.clone"),
    ("def f(x):\n    setattr(type(x), 'clone', None)", "changes a library module", "setattr"),
    ("import torch\n\ndef f(x):\n    return g(torch)\n\ndef g(m):\n    return m", "torch's internals", "torch passed"),
]


@pytest.mark.parametrize("source", ALLOWED)
def test_ordinary_code_is_allowed(source):
    assert guard.refusals(source, "", "f") == []


@pytest.mark.parametrize(("source", "reason", "construct"), REFUSED, ids=[r[2] for r in REFUSED])
def test_each_rule_refuses_with_its_reason(source, reason, construct):
    message = guard.refusal_message(source, "", "f")
    assert message is not None, source
    assert reason in message and construct in message, message


def test_only_the_exercises_that_reach_a_refused_helper_are_affected():
    source = textwrap.dedent(
        """
        import gc

        def debug_helper():
            return len(gc.get_objects())

        def graded(x):
            return x

        def uses_it(x):
            return debug_helper() + x
        """
    )
    assert guard.refusals(source, "", "graded") == []
    assert guard.refusals(source, "", "uses_it")
    assert guard.refusals(source, "", "debug_helper")


@pytest.mark.parametrize(
    "place",
    [
        "class Sneaky:\n    STOLEN = gc.get_objects()",
        "@decorate\ndef other():\n    pass\n\ndef decorate(f):\n    gc.get_objects()\n    return f",
        "def other(x=gc.get_objects()):\n    return x",
        "class Sneaky(base()):\n    pass\n\ndef base():\n    gc.get_objects()\n    return object",
    ],
    ids=["class body", "decorator", "default argument", "base class"],
)
def test_code_run_at_definition_time_affects_every_exercise(place):
    source = "import gc\n\n" + place + "\n\ndef graded(x):\n    return x\n"
    message = guard.refusal_message(source, "", "graded")
    assert message is not None and "gc.get_objects" in message


def test_exact_copies_of_the_released_notebook_definitions_are_exempt(monkeypatch):
    helper = "import gc\n\ndef provided_helper():\n    return gc.get_objects()\n"
    source = helper + "\ndef graded(x):\n    return provided_helper() and x\n"
    assert guard.refusals(source, "", "graded")
    dumps = frozenset(ast.dump(s) for s in ast.parse(helper).body)
    monkeypatch.setattr(guard, "provided_definitions", lambda week: dumps)
    guard._analyse.cache_clear()
    try:
        assert guard.refusals(source, "wXX_pretend", "graded") == []
        changed = source.replace("gc.get_objects()", "gc.get_referrers(graded)")  # not a copy any more
        assert guard.refusals(changed, "wXX_pretend", "graded")
    finally:
        guard._analyse.cache_clear()


def test_the_released_notebooks_provide_definitions():
    for week in WEEKS:
        assert guard.provided_definitions(week), week


# ---------------------------------------------------------------------------------------------
# Hostile submissions
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", HOSTILE, ids=[p.stem for p in HOSTILE])
def test_hostile_submission_is_refused_by_the_static_guard(path):
    source = path.read_text(encoding="utf-8")
    code, _ = definitions([source])  # what the grader keeps of it
    graded = [e for e in week_exercises("w05_dpo") if e.function in _defined(source)]
    assert graded, f"{path.name} defines no week-5 exercise"
    for exercise in graded:
        message = guard.refusal_message(code, "w05_dpo", exercise.function)
        assert message is not None and names_a_reason(path, message), (path.name, exercise.function, message)


def _with_released_w05(tmp_path: Path, source: str) -> Path:
    notebook = json.loads(released_notebook("w05_dpo").read_text(encoding="utf-8"))
    cell = {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None, "source": source}
    notebook["cells"].append(cell)
    path = tmp_path / "submission.ipynb"
    path.write_text(json.dumps(notebook), encoding="utf-8")
    return path


SANDBOXED = ["class_body_patch_recorder", "class_body_clear_audit_table", "gc_find_recorder", "aten_log_softmax"]


@pytest.mark.parametrize("name", SANDBOXED)
def test_hostile_submission_scores_zero_through_the_sandbox(name, tmp_path):
    path = Path(__file__).parent / "hostile" / f"{name}.py"
    source = path.read_text(encoding="utf-8")
    ids = [e.id for e in week_exercises("w05_dpo")]
    for result in check_file(_with_released_w05(tmp_path, source), ids):
        if result.exercise.split(".")[1] in _defined(source):
            assert result.points == 0, result.feedback
            assert names_a_reason(path, " ".join(result.feedback)), result.feedback


# ---------------------------------------------------------------------------------------------
# The runtime seal, on its own
# ---------------------------------------------------------------------------------------------

PATCHES = {
    "the in-place report": "class_body_patch_inplace_report",
    "Tensor.clone": "monkeypatch_clone",
    "Tensor.__eq__": "monkeypatch_tensor_eq",
}


@pytest.mark.parametrize("name", list(PATCHES.values()), ids=list(PATCHES))
def test_the_seal_catches_a_patched_harness_without_the_static_guard(name, tmp_path, monkeypatch):
    """With the parent's static guard switched off, the child's own check still gives 0."""
    monkeypatch.setattr(guard, "refusal_message", lambda *args: None)
    source = (Path(__file__).parent / "hostile" / f"{name}.py").read_text(encoding="utf-8")
    [result] = check_file(_with_released_w05(tmp_path, source), ["w05_dpo.dpo_loss"])
    assert result.points == 0, result.feedback
    assert any("disabled or patched the grader's measuring code" in line for line in result.feedback), result.feedback


def test_the_seal_catches_a_patched_forbidden_call_recorder(tmp_path, monkeypatch):
    """Week 0's log-softmax, answered with the library after silencing both recorders from a class body."""
    monkeypatch.setattr(guard, "refusal_message", lambda *args: None)
    path = tmp_path / "answer.py"
    path.write_text(
        textwrap.dedent(
            """
            import torch

            class _Quiet:
                import graders.core, graders.guard
                graders.core._ForbiddenCalls.__torch_function__ = lambda s, f, t, a=(), k=None: f(*a, **(k or {}))
                graders.guard.forbidden_ops = lambda names: None

            def log_softmax(logits, dim=-1):
                return logits - torch.exp(logits).sum(dim, keepdim=True).log()  # the forbidden call hides here:

            def log_softmax(logits, dim=-1):
                return torch.log_softmax(logits, dim)
            """
        ),
        encoding="utf-8",
    )
    [result] = check_file(path, ["w00_orientation.log_softmax"])
    assert result.points == 0, result.feedback
    assert any("disabled or patched the grader's measuring code" in line for line in result.feedback), result.feedback


def test_the_seal_catches_a_changed_exercise(tmp_path, monkeypatch):
    """Week 0's log-softmax with the exercise's list of forbidden functions emptied from a class body."""
    monkeypatch.setattr(guard, "refusal_message", lambda *args: None)
    path = tmp_path / "answer.py"
    path.write_text(
        textwrap.dedent(
            """
            import torch

            class _Allow:
                import gc
                import graders.core
                for _e in gc.get_objects():
                    if isinstance(_e, graders.core.Exercise) and _e.function == "log_softmax":
                        _e.forbidden = ()

            def log_softmax(logits, dim=-1):
                return torch.log_softmax(logits, dim)
            """
        ),
        encoding="utf-8",
    )
    [result] = check_file(path, ["w00_orientation.log_softmax"])
    assert result.points == 0, result.feedback
    assert any("disabled or patched the grader's measuring code" in line for line in result.feedback), result.feedback


def test_a_sealed_harness_reports_nothing_for_the_reference():
    seal = guard.seal()
    exercise = get_exercise("w00_orientation.log_softmax")
    grade_source(exercise, definitions_from_file(solution_source(exercise.week))[0])
    assert seal.broken() is None


# ---------------------------------------------------------------------------------------------
# The audit hook's table
# ---------------------------------------------------------------------------------------------


def test_the_audit_table_cannot_be_changed_after_the_hook_is_installed(tmp_path):
    """Editing the table (even the dict behind its read-only view) leaves the hook's verdicts as they were."""
    script = textwrap.dedent(
        f"""
        import gc, os, sys
        from pathlib import Path
        from graders import sandbox
        try:
            sandbox._BLOCKED_EVENTS.clear()
            print("cleared")
        except (AttributeError, TypeError):
            print("read-only")
        sandbox._install_guard(Path({str(tmp_path)!r}))
        for d in gc.get_referents(sandbox._BLOCKED_EVENTS):
            if isinstance(d, dict):
                d.clear()
        sandbox._BLOCKED_EVENTS = {{}}
        try:
            os.system("true")
            print("escaped")
        except PermissionError as exc:
            print("refused:", exc)
        """
    )
    out = subprocess.run([sys.executable, "-c", script], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert "read-only" in out.stdout, out.stdout + out.stderr
    assert "refused: the grader does not allow starting processes" in out.stdout, out.stdout + out.stderr


def test_computed_names_are_checked_when_they_run():
    """``getattr(self, name)`` is allowed in the text; what it may reach is checked as it runs."""
    from graders.source import namespace_from_source

    namespace = namespace_from_source(
        textwrap.dedent(
            """
            import torch

            class Box:
                def __init__(self):
                    self.value = 1

            def look(obj, *parts):
                return getattr(obj, "".join(parts))

            def put(obj, name, value):
                setattr(obj, name, value)
            """
        )
    )
    look, put, box = namespace["look"], namespace["put"], namespace["Box"]()
    assert look(box, "val", "ue") == 1
    put(box, "other", 2)
    assert box.other == 2
    import torch

    for obj, name in [(look, "__glo" + "bals__"), (torch, "_" + "C"), (torch, "o" + "ps"), (box, "__dict__")]:
        with pytest.raises(AttributeError, match="does not allow"):
            look(obj, name)
    with pytest.raises(AttributeError, match="does not allow"):
        put(torch, "softmax", None)
    with pytest.raises(AttributeError, match="does not allow"):
        put(torch.Tensor, "clone", None)
    assert torch.Tensor.clone is not None and callable(torch.softmax)
