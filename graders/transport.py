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


def decode(desc: Any, tensors: dict[str, torch.Tensor]) -> Any:
    """Inverse of :func:`encode`; raises ``ValueError`` on anything malformed."""
    if not isinstance(desc, dict):
        raise ValueError("malformed output description")
    if "tensor" in desc:
        if desc["tensor"] not in tensors:
            raise ValueError("an output refers to a missing tensor")
        return tensors[desc["tensor"]]
    if "value" in desc:
        value = desc["value"]
        if value is not None and not isinstance(value, (bool, int, float, str)):
            raise ValueError("malformed output value")
        return value
    if "seq" in desc:
        items = [decode(d, tensors) for d in desc["seq"]]
        return tuple(items) if desc.get("tuple") else items
    if "dict" in desc:
        return {str(k): decode(v, tensors) for k, v in desc["dict"].items()}
    if "unsupported" in desc:
        return Unsupported(str(desc["unsupported"]))
    raise ValueError("malformed output description")


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
    """Inverse of :func:`outcome_to_record`; raises ``ValueError`` on a malformed record."""
    if not isinstance(record, dict):
        raise ValueError("malformed outcome record")
    if record.get("error_type"):
        return Outcome(error_type=str(record["error_type"]), error=str(record.get("error") or ""))
    grads = record.get("grads") or {}
    if not isinstance(grads, dict):
        raise ValueError("malformed gradients")
    decoded = {str(k): None if v is None else decode(v, tensors) for k, v in grads.items()}
    if any(g is not None and not isinstance(g, torch.Tensor) for g in decoded.values()):
        raise ValueError("a gradient is not a tensor")
    returned = record.get("returned") or {}
    if not isinstance(returned, dict) or not all(isinstance(v, str) for v in returned.values()):
        raise ValueError("malformed return kinds")
    return Outcome(
        value=decode(record.get("value"), tensors),
        returned={str(k)[:200]: v[:200] for k, v in list(returned.items())[:64]},
        grads=decoded,
        mutated=tuple(str(m) for m in record.get("mutated") or ()),
        forbidden_calls=tuple(str(m) for m in record.get("forbidden_calls") or ()),
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
