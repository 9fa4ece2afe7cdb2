"""Choosing where tensors live: the GPU when there is one, else the CPU."""

from __future__ import annotations

import os

import torch


def get_device() -> torch.device:
    """CUDA if available (unless ``COURSE_DEVICE`` says otherwise), then Apple's MPS, else CPU."""
    wanted = os.environ.get("COURSE_DEVICE")
    if wanted:
        return torch.device(wanted)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")
