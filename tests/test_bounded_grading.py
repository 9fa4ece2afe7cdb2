"""Nothing a child sends back can crash, hang or bloat the trusted parent; nothing one child leaves
behind reaches the next.

- a fuzz test feeds hostile ``status.json``, result JSON and safetensors (bad headers, huge declared
  shapes, odd dtypes, missing keys, NaN, deep nesting, non-dicts, FIFOs, links) into the parent's
  reading and grading path: always a ``Result`` with 0 points and a reason, never an exception;
- in the sandbox: a private, size-limited ``/tmp`` per child that the next child never sees; a
  million printed lines cost nothing; a FIFO where the grader used to read never hangs it;
  bounded notebooks, results and feedback.
"""

from __future__ import annotations

import json
import math
import os
import random
import struct
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import save_file

from graders.core import Result, run_case
from graders.isolation import open_regular, private_tmp_possible, probe, read_regular
from graders.reference import load_reference
from graders.registry import get_exercise
from graders.sandbox import (
    MAX_CODE_BYTES,
    MAX_FEEDBACK_CHARS,
    MAX_RESULT_BYTES,
    Limits,
    _grade_child_output,
    _outputs_with_status,
    _parent_cases,
    check_file,
)
from graders.transport import outcome_to_record

EXERCISE = "w00_orientation.log_softmax"
LIMITS = Limits(wall_seconds=60, exercise_seconds=10, setup_seconds=30, cpu_seconds=60, memory_bytes=2 * 2**30)
REPORT = probe()
needs_bwrap = pytest.mark.skipif(not REPORT.os_isolated, reason=f"bubblewrap cannot run here: {REPORT.bwrap_error}")
GOOD = (
    "import torch\n\ndef log_softmax(logits, dim=-1):\n"
    "    s = logits - logits.amax(dim=dim, keepdim=True)\n"
    "    return s - s.exp().sum(dim=dim, keepdim=True).log()\n"
)


# --------------------------------------------------------------------------------------------
# The fuzz test: the parent's reading and grading path, fed directly (no sandbox needed)
# --------------------------------------------------------------------------------------------


def _valid_files() -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """What an honest child writes for the reference answer: the JSON description and its tensors."""
    exercise = get_exercise(EXERCISE)
    fn = vars(load_reference(exercise.week))[exercise.function]
    tensors: dict[str, torch.Tensor] = {}
    records = [
        outcome_to_record(run_case(exercise, fn, case, i), tensors) for i, case in enumerate(_parent_cases(exercise))
    ]
    return {"outcomes": records, "setup_error": None}, tensors


def _safetensors_bytes(header: Any, body: bytes = b"") -> bytes:
    raw = json.dumps(header).encode() if not isinstance(header, bytes) else header
    return struct.pack("<Q", len(raw)) + raw + body


def _deep(depth: int) -> str:
    return '{"seq": [' * depth + '{"value": 1}' + "]}" * depth


def _verdict(tmp_path: Path, json_bytes: bytes | None, tensor_bytes: bytes | None, status: Any = None) -> Result:
    folder = tmp_path / uuid.uuid4().hex[:8]
    folder.mkdir()
    if json_bytes is not None:
        (folder / f"{EXERCISE}.json").write_bytes(json_bytes)
    if tensor_bytes is not None:
        (folder / f"{EXERCISE}.safetensors").write_bytes(tensor_bytes)
    started = time.monotonic()
    outputs = _outputs_with_status(folder, [EXERCISE], status if status is not None else {"returncode": 0}, LIMITS)
    result = _grade_child_output(get_exercise(EXERCISE), outputs.get(EXERCISE), GOOD, [])
    assert time.monotonic() - started < 20
    assert isinstance(result, Result)
    assert sum(len(line) for line in result.feedback) <= MAX_FEEDBACK_CHARS + 200
    return result


def _hostile_cases() -> list[tuple[str, bytes | None, bytes | None, Any]]:
    desc, tensors = _valid_files()
    good_json = json.dumps(desc).encode()
    tensor_path = Path(f"/tmp/fuzz-{os.getpid()}.safetensors")
    save_file(tensors, str(tensor_path))
    good_tensors = tensor_path.read_bytes()
    tensor_path.unlink()
    first = desc["outcomes"][0]

    def with_first(record: Any) -> bytes:
        return json.dumps({"outcomes": [record, *desc["outcomes"][1:]], "setup_error": None}).encode()

    huge_shape = _safetensors_bytes(
        {"t0": {"dtype": "F32", "shape": [2**31, 2**31], "data_offsets": [0, 16]}}, b"\0" * 16
    )
    cases: list[tuple[str, bytes | None, bytes | None, Any]] = [
        ("json not a dict", b"[1, 2, 3]", good_tensors, None),
        ("json a string", b'"outcomes"', good_tensors, None),
        ("json null", b"null", good_tensors, None),
        ("json empty", b"", good_tensors, None),
        ("json not utf-8", b"\xff\xfe{\x00", good_tensors, None),
        ("json random bytes", bytes(random.Random(0).randrange(256) for _ in range(5000)), good_tensors, None),
        ("no outcomes", b'{"setup_error": null}', good_tensors, None),
        ("outcomes a dict", b'{"outcomes": {"a": 1}}', good_tensors, None),
        ("too few outcomes", json.dumps({"outcomes": desc["outcomes"][:1]}).encode(), good_tensors, None),
        ("too many outcomes", json.dumps({"outcomes": desc["outcomes"] * 3}).encode(), good_tensors, None),
        ("record not a dict", with_first(["value"]), good_tensors, None),
        ("value missing", with_first({"grads": {}}), good_tensors, None),
        ("value 2**70", with_first({**first, "value": {"value": 2**70}}), good_tensors, None),
        ("value 10**4000", with_first({**first, "value": {"value": 10**4000}}), good_tensors, None),
        ("value NaN", with_first({**first, "value": {"value": math.nan}}), good_tensors, None),
        ("value inf", json.dumps({"outcomes": [{**first, "value": {"value": 1e999}}] * 1}).encode(), None, None),
        ("value a list of 10^5", with_first({**first, "value": {"value": list(range(100_000))}}), good_tensors, None),
        ("value deep 200000", with_first({**first, "value": "X"}).replace(b'"X"', _deep(200_000).encode()), None, None),
        ("value deep 40", with_first({**first, "value": "X"}).replace(b'"X"', _deep(40).encode()), None, None),
        ("value unknown kind", with_first({**first, "value": {"pickle": "gASV"}}), good_tensors, None),
        ("tensor missing", with_first({**first, "value": {"tensor": "t999"}}), good_tensors, None),
        ("tensor key a list", with_first({**first, "value": {"tensor": ["t0"]}}), good_tensors, None),
        ("seq not a list", with_first({**first, "value": {"seq": {"a": 1}}}), good_tensors, None),
        ("dict not a dict", with_first({**first, "value": {"dict": [1, 2]}}), good_tensors, None),
        ("grads a list", with_first({**first, "grads": [1]}), good_tensors, None),
        ("grad not a tensor", with_first({**first, "grads": {"logits": {"value": 3}}}), good_tensors, None),
        ("mutated a dict", with_first({**first, "mutated": {"logits": 1}}), good_tensors, None),
        (
            "forbidden a string",
            with_first({**first, "forbidden_calls": "torch.log_softmax" * 10**5}),
            good_tensors,
            None,
        ),
        ("error 30 MB", with_first({"error_type": "ValueError", "error": "x" * 30_000_000}), good_tensors, None),
        ("error_type huge", with_first({"error_type": "E" * 10**6, "error": None}), good_tensors, None),
        ("setup_error huge", json.dumps({"outcomes": [], "setup_error": "boom " * 10**6}).encode(), None, None),
        (
            "json too large",
            b'{"outcomes": [' + b'{"value": {"value": 1}},' * (MAX_RESULT_BYTES // 20) + b"]}",
            None,
            None,
        ),
        ("safetensors random", good_json, bytes(random.Random(1).randrange(256) for _ in range(4096)), None),
        ("safetensors empty", good_json, b"", None),
        ("safetensors header too long", good_json, struct.pack("<Q", 2**60) + b"{}", None),
        ("safetensors header not json", good_json, _safetensors_bytes(b"{not json"), None),
        ("safetensors huge shape", good_json, huge_shape, None),
        (
            "safetensors offsets past the end",
            good_json,
            _safetensors_bytes({"t0": {"dtype": "F32", "shape": [4], "data_offsets": [0, 10**9]}}, b"\0" * 16),
            None,
        ),
        (
            "safetensors unknown dtype",
            good_json,
            _safetensors_bytes({"t0": {"dtype": "Q7", "shape": [4], "data_offsets": [0, 16]}}, b"\0" * 16),
            None,
        ),
        ("status not a dict", None, None, ["returncode", 0, "x"]),
        ("status error an object", None, None, {"error": {"nested": [1] * 10}, "stderr": "x" * 10**7}),
        ("status returncode a string", None, None, {"returncode": "-9", "stderr": ["a"]}),
        ("status timed out", None, None, {"timed_out": "yes", "too_large": "everything"}),
        ("status too large", good_json, good_tensors, {"returncode": 0, "too_large": [f"{EXERCISE}.json"]}),
        ("status output_bytes odd", None, None, {"returncode": 0, "output_bytes": "1e99"}),
    ]
    for dtype in ("BOOL", "U8", "I8", "I16", "U16", "F16", "BF16", "I32", "I64", "F64", "F8_E4M3", "F8_E5M2"):
        size = {"BOOL": 1, "U8": 1, "I8": 1, "F8_E4M3": 1, "F8_E5M2": 1, "I16": 2, "U16": 2, "F16": 2, "BF16": 2}
        n = size.get(dtype, 4 if dtype == "I32" else 8)
        blob = _safetensors_bytes(
            {
                k: {"dtype": dtype, "shape": list(t.shape), "data_offsets": [0, t.numel() * n]}
                for k, t in tensors.items()
            },
            b"\x7f" * (max(t.numel() for t in tensors.values()) * n),
        )
        cases.append((f"tensors as {dtype}", good_json, blob, None))
    cases.append(("tensors all NaN", good_json, _nan_tensors(tensors), None))
    cases.append(("tensors reshaped", good_json, _reshaped(tensors), None))
    return cases


def _nan_tensors(tensors: dict[str, torch.Tensor]) -> bytes:
    path = Path(f"/tmp/fuzz-nan-{os.getpid()}.safetensors")
    save_file({k: torch.full_like(t, math.nan) for k, t in tensors.items()}, str(path))
    data = path.read_bytes()
    path.unlink()
    return data


def _reshaped(tensors: dict[str, torch.Tensor]) -> bytes:
    path = Path(f"/tmp/fuzz-shape-{os.getpid()}.safetensors")
    save_file({k: torch.zeros(3, 1000) for k in tensors}, str(path))
    data = path.read_bytes()
    path.unlink()
    return data


def test_the_honest_files_pass(tmp_path: Path) -> None:
    """Control: the files an honest child writes for the reference answer earn full points."""
    desc, tensors = _valid_files()
    save_file(tensors, str(tmp_path / "t.safetensors"))
    result = _verdict(tmp_path, json.dumps(desc).encode(), (tmp_path / "t.safetensors").read_bytes())
    assert result.passed, result.feedback


def test_hostile_child_output_is_a_zero_with_a_reason_never_an_exception(tmp_path: Path) -> None:
    for name, json_bytes, tensor_bytes, status in _hostile_cases():
        result = _verdict(tmp_path, json_bytes, tensor_bytes, status)
        assert result.points == 0 and not result.passed, (name, result.feedback)
        assert result.feedback and result.feedback[0].startswith(f"✗ {EXERCISE}"), (name, result.feedback)
        assert len(result.feedback[0]) < 2200, (name, len(result.feedback[0]))


def test_random_mutations_of_honest_output_never_raise(tmp_path: Path) -> None:
    """Random edits of an honest child's JSON (values replaced by random JSON) and safetensors (bytes flipped)."""
    desc, tensors = _valid_files()
    save_file(tensors, str(tmp_path / "t.safetensors"))
    blob = (tmp_path / "t.safetensors").read_bytes()
    rng = random.Random(21)
    junk: list[Any] = [None, True, -1, 2**64, 1e308, math.nan, "", "t0", [], {}, [[[]]], {"tensor": "t0"}, {"seq": 1}]

    def mutate(node: Any) -> Any:
        if rng.random() < 0.15:
            return rng.choice(junk)
        if isinstance(node, dict):
            return {k: mutate(v) for k, v in node.items() if rng.random() > 0.05}
        if isinstance(node, list):
            return [mutate(v) for v in node]
        return node

    for _ in range(60):
        mutated = json.dumps(mutate(desc)).encode()
        bad = bytearray(blob)
        for _ in range(rng.randrange(4)):
            bad[rng.randrange(len(bad))] = rng.randrange(256)
        result = _verdict(tmp_path, mutated, bytes(bad))
        assert result.passed or (result.points == 0 and result.feedback)


def test_the_parent_opens_only_regular_files_without_blocking(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "link").symlink_to("/etc/passwd")
    (tmp_path / "dir").mkdir()
    (tmp_path / "big").write_bytes(b"x" * 1000)
    started = time.monotonic()
    for name in ("fifo", "link", "dir"):
        assert open_regular(tmp_path / name) is None
        assert read_regular(tmp_path / name, 10**6) is None
    assert read_regular(tmp_path / "big", 999) is None and read_regular(tmp_path / "big", 1000) == b"x" * 1000
    assert time.monotonic() - started < 1
    for name in ("fifo", "link", "dir"):  # result files of those kinds: a reason, at once
        folder = tmp_path / f"out-{name}"
        folder.mkdir()
        target = folder / f"{EXERCISE}.json"
        if name == "fifo":
            os.mkfifo(target)
        elif name == "link":
            target.symlink_to(tmp_path / "big")
        else:
            target.mkdir()
        (folder / "status.json").symlink_to(tmp_path / "fifo")
        outputs = _outputs_with_status(folder, [EXERCISE], {"returncode": 1, "stderr": "boom"}, LIMITS)
        result = _grade_child_output(get_exercise(EXERCISE), outputs.get(EXERCISE), GOOD, [])
        assert result.points == 0
    assert time.monotonic() - started < 5


# --------------------------------------------------------------------------------------------
# Bounded submissions (no sandbox needed: they are refused before any child starts)
# --------------------------------------------------------------------------------------------


def _notebook(cells: list[dict[str, Any]]) -> str:
    return json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5})


def _code(source: str, outputs: list[Any] | None = None) -> dict[str, Any]:
    return {"cell_type": "code", "metadata": {}, "source": source, "outputs": outputs or [], "execution_count": None}


def test_too_much_code_is_a_zero_with_a_reason(tmp_path: Path) -> None:
    data = "DATA = " + repr("x" * (MAX_CODE_BYTES + 10))
    path = tmp_path / "huge.ipynb"
    path.write_text(_notebook([_code(GOOD), _code(data)]))
    started = time.monotonic()
    (result,) = check_file(path, [EXERCISE], LIMITS, isolation="none")
    assert time.monotonic() - started < 10
    assert not result.passed and "MB of code" in result.feedback[0], result.feedback


def test_large_outputs_are_not_graded_and_cost_nothing(tmp_path: Path) -> None:
    """Outputs are dropped before anything looks at the code: 12 MB of them do not change the verdict."""
    big = {"output_type": "stream", "name": "stdout", "text": "y" * (12 * 10**6)}
    path = tmp_path / "outputs.ipynb"
    path.write_text(_notebook([_code(GOOD, [big])]))
    (result,) = check_file(path, [EXERCISE], LIMITS, isolation="none")
    assert result.passed, result.feedback


def test_a_fifo_submission_is_refused_at_once(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "answer.ipynb")
    started = time.monotonic()
    with pytest.raises(Exception, match="not a regular file"):
        check_file(tmp_path / "answer.ipynb", [EXERCISE], LIMITS, isolation="none")
    assert time.monotonic() - started < 2


# --------------------------------------------------------------------------------------------
# In the sandbox
# --------------------------------------------------------------------------------------------


def _check(tmp_path: Path, code: str, ids: list[str] | None = None, audit_hook: bool = True) -> dict[str, Result]:
    path = tmp_path / f"answer-{uuid.uuid4().hex[:6]}.py"
    path.write_text(code, encoding="utf-8")
    return {
        r.exercise: r for r in check_file(path, ids or [EXERCISE], LIMITS, isolation="bwrap", audit_hook=audit_hook)
    }


FILL_TMP = (
    "import os\n\n"
    "def _fill(path, mib):\n"
    "    written = 0\n"
    "    try:\n"
    "        with open(path, 'wb') as f:\n"
    "            for _ in range(mib):\n"
    "                f.write(b'x' * 2**20)\n"
    "                f.flush()\n"
    "                written += 1\n"
    "    except OSError:\n"
    "        pass\n"
    "    return written\n\n"
)


@needs_bwrap
@pytest.mark.skipif(
    not private_tmp_possible(), reason="the checkout or Python lies under /tmp: the child gets a private scratch only"
)
def test_each_child_has_a_private_size_limited_tmp(tmp_path: Path) -> None:
    """One submission fills /tmp as far as it can; its writes stop at the limit, and the next
    submission of the same warm worker finds /tmp empty (it passes only if it does). The audit
    hook (which refuses writes outside the scratch folder) is off: the OS layer alone stops it."""
    filler = (
        FILL_TMP
        + "def log_softmax(logits, dim=-1):\n"
        + "    n = _fill('/tmp/filler-%d' % os.getpid(), 1024)\n"
        + "    assert 100 < n < 300, n  # it wrote, and the private /tmp stopped it (256 MiB by default)\n"
        + "    open('/tmp/filler-%d' % os.getpid(), 'wb').close()  # room for its own outputs again\n"
        + "    assert not any(name.startswith('graders-share') for name in os.listdir('/tmp'))\n"
        + "    s = logits - logits.amax(dim=dim, keepdim=True)\n"
        + "    return s - s.exp().sum(dim=dim, keepdim=True).log()\n"
    )
    first = _check(tmp_path, filler, audit_hook=False)[EXERCISE]
    assert first.passed, first.feedback  # its own outputs still fit: the scratch folder is not starved
    after = (
        "import os\n\ndef log_softmax(logits, dim=-1):\n"
        "    leftovers = [n for n in os.listdir('/tmp') if n.startswith('filler-')]\n"
        "    if leftovers:\n        raise RuntimeError('found ' + ' '.join(leftovers))\n"
        "    s = logits - logits.amax(dim=dim, keepdim=True)\n"
        "    return s - s.exp().sum(dim=dim, keepdim=True).log()\n"
    )
    second = _check(tmp_path, after, audit_hook=False)[EXERCISE]
    assert second.passed, second.feedback


@needs_bwrap
def test_a_million_printed_lines_keep_the_points(tmp_path: Path) -> None:
    printer = "PRINTED = []\n\n" + GOOD.replace(
        "    s = logits",
        "    if not PRINTED:  # the first case prints a million debug lines\n        PRINTED.append(True)\n"
        "        for i in range(10**6):\n            print('debug line', i, 'x' * 60)\n    s = logits",
    )
    started = time.monotonic()
    result = _check(tmp_path, printer)[EXERCISE]
    assert result.passed, result.feedback
    assert any("printed" in line and "MB" in line for line in result.feedback), result.feedback
    assert time.monotonic() - started < 60


@needs_bwrap
def test_a_fifo_in_the_scratch_folder_does_not_hang_the_supervisor(tmp_path: Path) -> None:
    """The old attack: a FIFO where the supervisor read the child's stderr (``stderr.txt``) and
    where it copies result files from."""
    code = (
        GOOD.replace(
            "    s = logits",
            "    import os\n    for name in ('stderr.txt', 'w00_orientation.masked_mean.json', "
            "'w00_orientation.masked_mean.safetensors'):\n"
            "        if not os.path.exists(name):\n            os.mkfifo(name)\n    s = logits",
        )
        + "\ndef masked_mean(values, mask, dim=-1):\n    raise SystemExit(0)\n"
    )
    started = time.monotonic()
    results = _check(tmp_path, code, [EXERCISE, "w00_orientation.masked_mean"])
    assert time.monotonic() - started < 40
    assert results[EXERCISE].passed, results[EXERCISE].feedback
    assert not results["w00_orientation.masked_mean"].passed


@needs_bwrap
def test_huge_results_and_messages_are_bounded(tmp_path: Path) -> None:
    """64 MiB of returned JSON, a 30 MB exception message, ``2**70``, a 200-deep nest: 0 points
    each, one-line reasons, and the parent's memory stays small."""
    import resource

    ids = ["w00_orientation.log_softmax", "w00_orientation.masked_mean", "w00_orientation.log_sigmoid"]
    code = (
        "def log_softmax(logits, dim=-1):\n    return 'x' * 10**7\n\n"
        "def masked_mean(values, mask, dim=-1):\n    raise ValueError('x' * 30_000_000)\n\n"
    )
    code += "def log_sigmoid(x):\n    v = 1\n    for _ in range(200):\n        v = [v]\n    return v\n"
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    results = _check(tmp_path, code, ids)
    grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown < 600, f"the parent grew by {grown:.0f} MB"
    for r in results.values():
        assert r.points == 0 and sum(len(line) for line in r.feedback) < MAX_FEEDBACK_CHARS + 200, r.feedback
    assert "far larger than expected" in results["w00_orientation.log_softmax"].feedback[0]
    two70 = "def log_softmax(logits, dim=-1):\n    return 2**70\n"
    r = _check(tmp_path, two70)[EXERCISE]
    assert r.points == 0 and "too large" in " ".join(r.feedback), r.feedback
