"""Shared fixtures. Every test runs offline: any attempt to open a network connection fails."""

from __future__ import annotations

import os
import socket

import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("COURSE_NO_PROGRESS", "1")
os.environ.setdefault("MPLBACKEND", "Agg")


def _is_local(address: object) -> bool:
    host = address[0] if isinstance(address, tuple) else address
    return isinstance(host, str) and (host.startswith("127.") or host in ("localhost", "::1", "") or "/" in host)


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    real_connect = socket.socket.connect

    def guarded(self: socket.socket, address: object) -> None:
        if self.family == socket.AF_UNIX or _is_local(address):
            return real_connect(self, address)
        raise RuntimeError(f"test tried to reach the network: {address!r}")

    monkeypatch.setattr(socket.socket, "connect", guarded)


DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A test that takes ``device`` runs on the CPU, and on CUDA too when a GPU is present."""
    if "device" in metafunc.fixturenames:
        metafunc.parametrize(
            "device", [pytest.param(d, marks=[pytest.mark.gpu] if d == "cuda" else []) for d in DEVICES]
        )


@pytest.fixture
def without_static_guard(monkeypatch):
    """The parent's static guard (graders.guard) switched off, to prove a deeper layer on its own
    (the OS sandbox, the audit hook, the child's seal) with attacks the guard would refuse first."""
    from graders import guard

    monkeypatch.setattr(guard, "refusal_message", lambda *args, **kwargs: None)
