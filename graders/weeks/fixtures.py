"""Fixtures shared by several weeks' specs: tiny GPT-2 models with seeded random weights.

Cases carry only the weights (a state dict of CPU tensors), so the sandbox child rebuilds exactly
the same model; the exercise's ``call`` turns them back into a module with :func:`tiny_gpt2`.
Weights are drawn from a seeded generator, never from the global RNG.
"""

from __future__ import annotations

from typing import Any

import torch

from graders.core import seeded

TINY_GPT2 = {"n_positions": 16, "n_embd": 16, "n_layer": 2, "n_head": 2, "n_inner": 32}


def tiny_gpt2_config(vocab_size: int, sizes: dict[str, int] | None = None) -> Any:
    """A 2-layer, width-16 GPT-2 config without dropout (pad id 1, BOS/EOS id 0); ``sizes``
    overrides ``TINY_GPT2`` (a week whose answers read the sizes picks distinct ones)."""
    from transformers import GPT2Config

    return GPT2Config(
        vocab_size=vocab_size,
        **{**TINY_GPT2, **(sizes or {})},
        attn_pdrop=0.0,
        resid_pdrop=0.0,
        embd_pdrop=0.0,
        bos_token_id=0,
        eos_token_id=0,
        pad_token_id=1,
    )


def tiny_gpt2_state(
    seed: int,
    vocab_size: int,
    lm_head: bool,
    scale: float,
    unit_weight_suffix: str,
    sizes: dict[str, int] | None = None,
) -> dict[str, torch.Tensor]:
    """Seeded random weights for :func:`tiny_gpt2` (``lm_head``: a causal LM, tied embeddings).

    Floating-point weights are N(0, scale²), plus 1 for parameters whose name ends with
    ``unit_weight_suffix`` (a layer norm's gain, so activations keep a sensible size).
    """
    g = seeded(seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        shapes = dict(tiny_gpt2(vocab_size, lm_head, sizes=sizes).state_dict())
    return {
        k: torch.randn(v.shape, generator=g) * scale + (1.0 if k.endswith(unit_weight_suffix) else 0.0)
        if v.is_floating_point()
        else v
        for k, v in shapes.items()
        if k != "lm_head.weight"  # tied to the input embedding
    }


def tiny_gpt2(
    vocab_size: int, lm_head: bool, state: dict[str, torch.Tensor] | None = None, sizes: dict[str, int] | None = None
) -> Any:
    """A tiny ``GPT2LMHeadModel`` (``lm_head``) or ``GPT2Model``, in eval mode, with ``state`` loaded."""
    from transformers import GPT2LMHeadModel, GPT2Model

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = (GPT2LMHeadModel if lm_head else GPT2Model)(tiny_gpt2_config(vocab_size, sizes))
    if state is not None:
        model.load_state_dict({k: v.cpu() for k, v in state.items()}, strict=False)
    if lm_head:
        model.tie_weights()
    return model.eval()
