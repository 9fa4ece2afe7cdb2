"""Throughput of the course's RLHF step (GRPO) against TRL's GRPOTrainer, measured in one run.

    python -m benchmarks.grpo_throughput            # prints the result dict
    python -m benchmarks.grpo_throughput --steps 10 --prompts 4

Both sides train the small world's SFT model (``tiny-sft``) with the same prompts (the training
split, in the same order), group size (8 answers per prompt at temperature 1, top-k off), answer
length limit, optimiser (Adam at a constant learning rate, no weight decay), clipping (ε = 0.2),
β = 0 (TRL's default: no reference model), one gradient step per batch (μ = 1), gradient
clipping at 1.0, and the same reward: the small world's gold labeller on each decoded answer
(cheap and deterministic, so that the reward model's cost does not blur the comparison). The
course's side is ``rollout`` and ``grpo_train_step`` from the week 4 reference (loaded with
``load_reference("w04_rlhf")``, never copied).

Timed, for each side, is the whole RLHF loop: generate → score → advantages → update, for
``steps`` steps. TRL's side is ``trainer.train()``; building the trainer (tokenising the prompts)
is not timed. ``ratio`` = our steps per second / TRL's: above 1 means the course's loop is
faster. One run of each side (the issue asks for one run). ``ratio_cpu`` compares the CPU time
(``time.process_time``) of the two sides instead, which a busy shared machine distorts less.
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

GROUP = 8
LR = 3e-4
MAX_NEW = 20


def _records(n: int) -> list[dict[str, Any]]:
    from courselib.world import load_split, unique_prompts

    records = unique_prompts(load_split("train"))
    random.Random(0).shuffle(records)
    return records[:n]


def _gold(record: dict[str, Any], text: str) -> float:
    from courselib.world import REWARDS, classify_response

    return REWARDS[classify_response(record, text)]


def _time_ours(w04: Any, tokenizer: Any, reference: torch.nn.Module, records: list[dict], steps: int, prompts: int) -> tuple[float, float]:  # fmt: skip
    policy = copy.deepcopy(reference).requires_grad_(True).train()
    optimizer = torch.optim.Adam(policy.parameters(), lr=LR, weight_decay=0.0)
    torch.manual_seed(0)
    started, cpu = time.perf_counter(), time.process_time()
    for step in range(steps):
        chunk = records[step * prompts : (step + 1) * prompts]
        batch, texts = w04.rollout(policy, tokenizer, chunk, GROUP, MAX_NEW)
        batch["rewards"] = torch.tensor([_gold(chunk[i // GROUP], t) for i, t in enumerate(texts)])
        w04.grpo_train_step(policy, reference, optimizer, batch, GROUP, beta=0.0, epsilon=0.2, max_grad_norm=1.0)
    return time.perf_counter() - started, time.process_time() - cpu


def _time_trl(tokenizer: Any, reference: torch.nn.Module, records: list[dict], steps: int, prompts: int, device: torch.device) -> tuple[float, float]:  # fmt: skip
    from datasets import Dataset
    from transformers import PrinterCallback
    from trl import GRPOConfig, GRPOTrainer

    from courselib.world import format_prompt
    from courselib.world.evaluate import clean_generation

    def gold_reward(completions: list[str], index: list[int], **kwargs: Any) -> list[float]:
        return [_gold(records[i], clean_generation(c)) for c, i in zip(completions, index, strict=True)]

    args = GRPOConfig(
        output_dir=tempfile.mkdtemp(prefix="bench-grpo-"),
        num_generations=GROUP,
        per_device_train_batch_size=GROUP * prompts,
        max_completion_length=MAX_NEW,
        temperature=1.0,
        top_k=0,
        beta=0.0,
        epsilon=0.2,
        max_grad_norm=1.0,
        learning_rate=LR,
        lr_scheduler_type="constant",
        optim="adamw_torch",
        weight_decay=0.0,
        max_steps=steps,
        logging_steps=steps,
        bf16=False,
        report_to="none",
        save_strategy="no",
        use_cpu=device.type == "cpu",
        disable_tqdm=True,
        shuffle_dataset=False,
        seed=0,
    )
    dataset = Dataset.from_list([{"prompt": format_prompt(r["prompt"]), "index": i} for i, r in enumerate(records)])
    trainer = GRPOTrainer(
        model=copy.deepcopy(reference).requires_grad_(True),
        reward_funcs=gold_reward,
        args=args,
        train_dataset=dataset,
        processing_class=tokenizer,
    )
    trainer.remove_callback(PrinterCallback)
    started, cpu = time.perf_counter(), time.process_time()
    trainer.train()
    return time.perf_counter() - started, time.process_time() - cpu


def run(steps: int = 10, prompts: int = 4) -> dict[str, Any]:
    """Steps per second of our GRPO loop and of TRL's GRPOTrainer on the same model, prompts and device."""
    from transformers.utils import logging as hf_logging

    from courselib.device import get_device, single_thread_on_cpu
    from courselib.models import load_model, load_tokenizer
    from graders.reference import load_reference

    hf_logging.set_verbosity_error()
    device = get_device()
    threads = torch.get_num_threads()
    single_thread_on_cpu(device)  # as the notebooks do: tiny models, a shared machine
    w04 = load_reference("w04_rlhf")
    tokenizer = load_tokenizer("tiny-sft")
    reference = load_model("tiny-sft").to(device).eval().requires_grad_(False)
    records = _records(steps * prompts)
    ours, ours_cpu = _time_ours(w04, tokenizer, reference, records, steps, prompts)
    trl, trl_cpu = _time_trl(tokenizer, reference, records, steps, prompts, device)
    result = {
        "device": str(device),
        "torch_threads": torch.get_num_threads(),
        "steps": steps,
        "prompts_per_step": prompts,
        "group_size": GROUP,
        "max_new_tokens": MAX_NEW,
        "ours_steps_per_s": round(steps / ours, 3),
        "trl_steps_per_s": round(steps / trl, 3),
        "ratio": round(trl / ours, 2),
        "ours_cpu_s": round(ours_cpu, 1),
        "trl_cpu_s": round(trl_cpu, 1),
        "ratio_cpu": round(trl_cpu / ours_cpu, 2),
    }
    torch.set_num_threads(threads)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--prompts", type=int, default=4)
    args = parser.parse_args()
    print(run(steps=args.steps, prompts=args.prompts))


if __name__ == "__main__":
    main()
