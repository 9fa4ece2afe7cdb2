"""Throughput of the course's DPO training loop against TRL's DPOTrainer, measured in one run.

    python -m benchmarks.dpo_throughput            # prints the result dict
    python -m benchmarks.dpo_throughput --steps 40 --batch-size 16

Both sides train the small world's SFT model (``tiny-sft``) on the same preference pairs, with
the same batch size, learning rate, optimiser (AdamW, no weight decay), schedule (linear decay),
gradient clipping, β and device. The course's loop is ``train_dpo`` from the week 5 reference
(loaded with ``load_reference("w05_dpo")``, never copied).

Timed, for each side, is everything from token ids to a trained model:

- ours: computing the reference log-probabilities once (``add_reference_logps``), then the
  training steps;
- TRL (its default, ``precompute_ref_log_probs=False``): ``trainer.train()``, which runs the
  reference model at every step;
- TRL with ``precompute_ref_log_probs=True``: ``trainer.train()``, which starts with the same
  one-off pass over the data.

Tokenisation is not timed (TRL does it when the trainer is built; ours is a list comprehension).
The two sides alternate ``repeats`` times and the fastest time of each is kept, which filters out
the noise of a shared machine. ``ratio`` = our steps per second / TRL's (default) steps per
second: above 1 means the course's loop is faster.
"""

from __future__ import annotations

import argparse
import copy
import os
import random
import tempfile
import time
from typing import Any

import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("COURSE_NO_PROGRESS", "1")

BETA = 0.1
LR = 5e-4


def _pairs(n: int) -> list[dict[str, Any]]:
    from courselib.world import load_preferences

    pairs = load_preferences("train")
    random.Random(0).shuffle(pairs)
    return pairs[:n]


def _time_ours(
    w05: Any, tokenizer: Any, reference: torch.nn.Module, pairs: list[dict], steps: int, batch: int
) -> float:
    examples = [w05.encode_preference(tokenizer, p) for p in pairs]
    policy = copy.deepcopy(reference).requires_grad_(True)
    started = time.perf_counter()
    w05.add_reference_logps(reference, examples, tokenizer.pad_token_id)
    w05.train_dpo(policy, examples, tokenizer.pad_token_id, steps=steps, beta=BETA, batch_size=batch, lr=LR)
    return time.perf_counter() - started


def _time_trl(
    tokenizer: Any, reference: torch.nn.Module, pairs: list[dict], steps: int, batch: int, device: torch.device, **extra
) -> float:
    from datasets import Dataset
    from transformers import PrinterCallback
    from trl import DPOConfig, DPOTrainer

    args = DPOConfig(
        output_dir=tempfile.mkdtemp(prefix="bench-dpo-"),
        beta=BETA,
        per_device_train_batch_size=batch,
        max_steps=steps,
        learning_rate=LR,
        weight_decay=0.0,
        logging_steps=steps,
        bf16=False,
        activation_checkpointing=False,
        report_to="none",
        save_strategy="no",
        use_cpu=device.type == "cpu",
        disable_tqdm=True,
        seed=0,
        **extra,
    )
    trainer = DPOTrainer(
        model=copy.deepcopy(reference).requires_grad_(True),
        ref_model=copy.deepcopy(reference),
        args=args,
        train_dataset=Dataset.from_list([{k: p[k] for k in ("prompt", "chosen", "rejected")} for p in pairs]),
        processing_class=tokenizer,
    )
    trainer.remove_callback(PrinterCallback)
    started = time.perf_counter()
    trainer.train()
    return time.perf_counter() - started


def run(steps: int = 30, batch_size: int = 16, repeats: int = 2) -> dict[str, Any]:
    """Steps per second of our DPO loop and of TRL's DPOTrainer on the same model, data and device."""
    from transformers.utils import logging as hf_logging

    from courselib.device import get_device, single_thread_on_cpu
    from graders.reference import load_reference

    hf_logging.set_verbosity_error()
    device = get_device()
    threads = torch.get_num_threads()
    single_thread_on_cpu(device)  # as the notebooks do: tiny models, a shared machine
    w05 = load_reference("w05_dpo")
    tokenizer, reference = w05.load_tiny_lm("tiny-sft")
    reference.to(device).eval().requires_grad_(False)
    pairs = _pairs(steps * batch_size)

    best = {"ours": float("inf"), "trl": float("inf"), "trl_precompute": float("inf")}
    for _ in range(repeats):
        best["ours"] = min(best["ours"], _time_ours(w05, tokenizer, reference, pairs, steps, batch_size))
        best["trl"] = min(best["trl"], _time_trl(tokenizer, reference, pairs, steps, batch_size, device))
        best["trl_precompute"] = min(
            best["trl_precompute"],
            _time_trl(tokenizer, reference, pairs, steps, batch_size, device, precompute_ref_log_probs=True),
        )
    rate = {k: steps / v for k, v in best.items()}
    result = {
        "device": str(device),
        "torch_threads": torch.get_num_threads(),
        "steps": steps,
        "batch_size": batch_size,
        "ours_steps_per_s": round(rate["ours"], 3),
        "trl_steps_per_s": round(rate["trl"], 3),
        "trl_precompute_steps_per_s": round(rate["trl_precompute"], 3),
        "ratio": round(rate["ours"] / rate["trl"], 2),
        "ratio_vs_trl_precompute": round(rate["ours"] / rate["trl_precompute"], 2),
    }
    torch.set_num_threads(threads)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    print(run(steps=args.steps, batch_size=args.batch_size, repeats=args.repeats))


if __name__ == "__main__":
    main()
