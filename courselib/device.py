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


def single_thread_on_cpu(device: torch.device | str) -> None:
    """Use one CPU thread per operation when ``device`` is the CPU.

    The course's models are tiny: one thread is about as fast as several, and it does not slow to
    a crawl when other programs compete for the cores (measured 5-10x slower with 2 threads on a
    busy 2-core machine). On a GPU nothing changes.
    """
    if torch.device(device).type == "cpu":
        torch.set_num_threads(1)
