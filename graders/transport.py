"""Outcomes across the sandbox boundary, as JSON plus safetensors: formats that cannot run code.

The grading child (untrusted) writes what each answer produced with :func:`outcome_to_record`;
the parent (trusted) reads it back with :func:`outcome_from_record`. Nothing is ever unpickled.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from graders.core import Outcome


def encode(value: Any, tensors: dict[str, torch.Tensor]) -> Any:
    """JSON-able description of ``value``; tensors go into ``tensors`` (saved with safetensors)."""
    if isinstance(value, torch.Tensor):
        key = f"t{len(tensors)}"
        tensors[key] = value.detach().cpu().contiguous()
        return {"tensor": key}
    if value is None or isinstance(value, (bool, int, float, str)):
        return {"value": value}
    if isinstance(value, (tuple, list)):
        return {"seq": [encode(v, tensors) for v in value], "tuple": isinstance(value, tuple)}
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return {"dict": {k: encode(v, tensors) for k, v in value.items()}}
    return {"unsupported": type(value).__name__}


MAX_DEPTH = 32  # nesting of returned tuples, lists and dicts the parent accepts
MAX_INT = 2**63 - 1  # beyond int64: no tensor can hold it, no answer needs it
MAX_ERROR_CHARS = 2000  # of an exception's message, as the parent keeps it
MAX_NAMES = 64  # mutated inputs, forbidden calls: more than any exercise has


def decode(desc: Any, tensors: dict[str, torch.Tensor], depth: int = 0) -> Any:
    """Inverse of :func:`encode`; raises ``ValueError`` on anything malformed, too deep or too large."""
    if depth > MAX_DEPTH:
        raise ValueError(f"an output nested more than {MAX_DEPTH} levels deep")
    if not isinstance(desc, dict):
        raise ValueError("malformed output description")
    if "tensor" in desc:
        key = desc["tensor"]
        if not isinstance(key, str) or key not in tensors:
            raise ValueError("an output refers to a missing tensor")
        return tensors[key]
    if "value" in desc:
        value = desc["value"]
        if value is not None and not isinstance(value, (bool, int, float, str)):
            raise ValueError("malformed output value")
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_INT:
            raise ValueError("an integer too large for any tensor (beyond 64 bits)")
        return value
    if "seq" in desc:
        if not isinstance(desc["seq"], list):
            raise ValueError("malformed output sequence")
        items = [decode(d, tensors, depth + 1) for d in desc["seq"]]
        return tuple(items) if desc.get("tuple") is True else items
    if "dict" in desc:
        if not isinstance(desc["dict"], dict):
            raise ValueError("malformed output dictionary")
        return {str(k): decode(v, tensors, depth + 1) for k, v in desc["dict"].items()}
    if "unsupported" in desc:
        return Unsupported(str(desc["unsupported"])[:100])
    raise ValueError("malformed output description")


def _short(text: Any, limit: int = MAX_ERROR_CHARS) -> str:
    text = str(text)
    return text if len(text) <= limit else text[:limit] + f"... [{len(text) - limit} more characters]"


def _names(items: Any) -> tuple[str, ...]:
    if not items:
        return ()
    if not isinstance(items, list):
        raise ValueError("malformed list of names")
    return tuple(_short(m, 200) for m in items[:MAX_NAMES])


@dataclass(frozen=True)
class Unsupported:
    """Stands for a returned object that cannot cross the boundary (it never equals a right answer)."""

    type_name: str

    def __repr__(self) -> str:
        return f"<a {self.type_name} object>"


def outcome_to_record(outcome: Outcome, tensors: dict[str, torch.Tensor]) -> dict[str, Any]:
    """A JSON-able record of one outcome (its tensors go into ``tensors``)."""
    if outcome.failed:
        return {"error_type": outcome.error_type, "error": outcome.error}
    return {
        "value": encode(outcome.value, tensors),
        "grads": {name: None if g is None else encode(g, tensors) for name, g in outcome.grads.items()},
        "mutated": list(outcome.mutated),
        "forbidden_calls": list(outcome.forbidden_calls),
        "returned": dict(outcome.returned),
    }


def outcome_from_record(record: Any, tensors: dict[str, torch.Tensor]) -> Outcome:
    """Inverse of :func:`outcome_to_record`; raises ``ValueError`` on a malformed record.

    Whatever the child wrote, what comes back is bounded: error messages are cut to
    ``MAX_ERROR_CHARS``, lists of names to ``MAX_NAMES``, nesting to ``MAX_DEPTH``.
    """
    if not isinstance(record, dict):
        raise ValueError("malformed outcome record")
    if record.get("error_type"):
        return Outcome(error_type=_short(record["error_type"], 100), error=_short(record.get("error") or ""))
    grads = record.get("grads") or {}
    if not isinstance(grads, dict):
        raise ValueError("malformed gradients")
    decoded = {_short(k, 200): None if v is None else decode(v, tensors) for k, v in list(grads.items())[:MAX_NAMES]}
    if any(g is not None and not isinstance(g, torch.Tensor) for g in decoded.values()):
        raise ValueError("a gradient is not a tensor")
    returned = record.get("returned") or {}
    if not isinstance(returned, dict) or not all(isinstance(v, str) for v in returned.values()):
        raise ValueError("malformed return kinds")
    return Outcome(
        value=decode(record.get("value"), tensors),
        returned={str(k)[:200]: v[:200] for k, v in list(returned.items())[:64]},
        grads=decoded,
        mutated=_names(record.get("mutated")),
        forbidden_calls=_names(record.get("forbidden_calls")),
    )


# --------------------------------------------------------------------------------------------
# Cases, from the parent to the worker (see graders.payload for the encoding side)
# --------------------------------------------------------------------------------------------


def decode_input(desc: Any, tensors: dict[str, torch.Tensor], fixtures: dict[str, Any]) -> Any:
    """A case input from its description; functions and objects come from ``fixtures``, the
    namespace of the fixture source the parent sent (raises ``ValueError`` on anything else)."""
    if not isinstance(desc, dict):
        raise ValueError("malformed input description")
    if "seq" in desc:
        items = [decode_input(d, tensors, fixtures) for d in desc["seq"]]
        return tuple(items) if desc.get("tuple") else items
    if "dict" in desc:
        return {str(k): decode_input(v, tensors, fixtures) for k, v in desc["dict"].items()}
    if "dtype" in desc:
        dtype = getattr(torch, str(desc["dtype"]), None)
        if not isinstance(dtype, torch.dtype):
            raise ValueError("malformed dtype")
        return dtype
    if "function" in desc:
        fn = fixtures.get(str(desc["function"]))
        if not callable(fn):
            raise ValueError(f"unknown fixture function {desc['function']!r}")
        return fn
    if "object" in desc:
        cls = fixtures.get(str(desc["object"]))
        if not isinstance(cls, type):
            raise ValueError(f"unknown fixture class {desc['object']!r}")
        obj = cls.__new__(cls)
        obj.__dict__.update(decode_input(desc.get("state", {"dict": {}}), tensors, fixtures))
        return obj
    if "unsupported" in desc:
        raise ValueError("malformed input description")
    return decode(desc, tensors)
