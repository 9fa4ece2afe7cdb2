"""Run inside the SAELens environment (.venv-saelens): SAELens's loss and metrics on our SAE and batch.

    .venv-saelens/bin/python tools/saelens_compare/compare.py DIR [--l1 0.1]

Reads DIR/sae_and_batch.safetensors (W_enc [d_in, d_sae], b_enc, W_dec [d_sae, d_in], b_dec, x [batch,
d_in], SAELens's names and layout), loads the weights into SAELens's StandardTrainingSAE, runs its
training_forward_pass and its trainer's logging metrics, and writes DIR/saelens.json. Imports only
SAELens, torch and safetensors; exchanges only safetensors and JSON with the course's environment.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch
from safetensors.torch import load_file


def saelens_numbers(tensors: dict[str, torch.Tensor], l1_coefficient: float) -> dict[str, float]:
    from sae_lens import StandardTrainingSAE, StandardTrainingSAEConfig
    from sae_lens.config import SAETrainerConfig
    from sae_lens.saes.sae import TrainStepInput
    from sae_lens.training.sae_trainer import SAETrainer

    x = tensors["x"]
    d_in, d_sae = tensors["W_enc"].shape
    cfg = StandardTrainingSAEConfig(
        d_in=d_in, d_sae=d_sae, l1_coefficient=l1_coefficient, dtype="float32", device="cpu"
    )
    sae = StandardTrainingSAE(cfg)
    sae.load_state_dict({k: tensors[k] for k in ("W_enc", "b_enc", "W_dec", "b_dec")})
    step = TrainStepInput(
        sae_in=x, coefficients={"l1": l1_coefficient}, dead_neuron_mask=None, n_training_steps=0, is_logging_step=False
    )
    out = sae.training_forward_pass(step)
    trainer = SAETrainer(
        cfg=SAETrainerConfig(total_training_samples=len(x), train_batch_size_samples=len(x), lr_end=3e-4),
        sae=sae,
        data_provider=iter([x]),
    )
    logged = trainer.build_train_step_log_dict(output=out, n_training_samples=len(x))
    return {
        "loss": out.loss.item(),
        "mse_loss": out.losses["mse_loss"].item(),
        "l1_loss": out.losses["l1_loss"].item(),
        "l0": logged["metrics/l0"],
        "explained_variance": logged["metrics/explained_variance"],
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("dir", type=Path)
    parser.add_argument("--l1", type=float, default=0.1)
    args = parser.parse_args()
    numbers = saelens_numbers(load_file(str(args.dir / "sae_and_batch.safetensors")), args.l1)
    (args.dir / "saelens.json").write_text(json.dumps(numbers, indent=1))
    print(json.dumps(numbers))


if __name__ == "__main__":
    main()
