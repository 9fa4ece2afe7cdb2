"""Run inside the SAELens environment: time SAELens's SAETrainer on activations from a safetensors file.

    .venv-saelens/bin/python tools/saelens_compare/train_bench.py ACTS.safetensors OUT.json --steps N --batch-size B --d-sae S --l1 L --lr LR

Trains a StandardTrainingSAE with SAETrainer.fit() (constant learning rate, Adam, no wandb, no
normalisation) on batches drawn in order from the file's ``x`` tensor, and writes the wall time of
fit() (imports and SAE construction excluded) to OUT.json.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
from safetensors.torch import load_file


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("acts", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--steps", type=int, required=True)
    parser.add_argument("--batch-size", type=int, required=True)
    parser.add_argument("--d-sae", type=int, required=True)
    parser.add_argument("--l1", type=float, required=True)
    parser.add_argument("--lr", type=float, required=True)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    from sae_lens import StandardTrainingSAE, StandardTrainingSAEConfig
    from sae_lens.config import SAETrainerConfig
    from sae_lens.training.sae_trainer import SAETrainer

    x = load_file(str(args.acts))["x"]
    batches = [x[(i * args.batch_size) % len(x) :][: args.batch_size] for i in range(args.steps)]
    sae = StandardTrainingSAE(StandardTrainingSAEConfig(d_in=x.shape[1], d_sae=args.d_sae, l1_coefficient=args.l1))
    trainer = SAETrainer(
        cfg=SAETrainerConfig(
            total_training_samples=args.steps * args.batch_size,
            train_batch_size_samples=args.batch_size,
            lr=args.lr,
            lr_end=args.lr,
        ),
        sae=sae,
        data_provider=iter(batches),
    )
    started = time.perf_counter()
    trainer.fit()
    seconds = time.perf_counter() - started
    args.out.write_text(json.dumps({"seconds": seconds, "steps": args.steps}))


if __name__ == "__main__":
    main()
