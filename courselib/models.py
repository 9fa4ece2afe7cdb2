"""Offline loading of the small world's tiny models and tokenizer.

    from courselib.models import load_model, load_tokenizer
    model = load_model("tiny-sft")          # eval mode, on the chosen device
    tokenizer = load_tokenizer("tiny-sft")

Nothing here touches the network: every call uses ``local_files_only=True`` on folders
shipped in ``datasets/models/``. Retrain them with ``python -m courselib.world.train_models``.
"""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase

MODELS_DIR = Path(__file__).resolve().parents[1] / "datasets" / "models"
MODEL_NAMES = ("tiny-base", "tiny-sft", "tiny-skewed", "tiny-vulnerable")


def model_dir(name: str) -> Path:
    """Path of a shipped model folder: ``"tiny-base"`` (pretrained) or ``"tiny-sft"`` (chat)."""
    if name not in MODEL_NAMES:
        raise ValueError(f"unknown model {name!r}; choose one of {MODEL_NAMES}")
    path = MODELS_DIR / name
    if not (path / "config.json").exists():
        raise FileNotFoundError(f"{path} has no model; run `python -m courselib.world.train_models`")
    return path


def load_tokenizer(name: str = "tiny-sft") -> PreTrainedTokenizerBase:
    """The world's tokenizer, from a model folder (both models share the same one).

    ``eos_token`` is ``<|endoftext|>``, ``pad_token`` is ``<|pad|>``, padding is on the right
    (set ``tokenizer.padding_side = "left"`` for batched generation).
    """
    return AutoTokenizer.from_pretrained(model_dir(name), local_files_only=True)


def load_model(name: str = "tiny-sft", device: str | torch.device | None = None) -> PreTrainedModel:
    """A tiny GPT-2 as ``AutoModelForCausalLM`` in eval mode.

    ``device=None`` leaves it on the CPU; pass e.g. ``courselib.device.get_device()`` to use a
    GPU when there is one.
    """
    model = AutoModelForCausalLM.from_pretrained(model_dir(name), local_files_only=True)
    model.eval()
    if device is not None:
        model.to(device)
    return model
