"""Throughput of the course's SAE training step against SAELens's SAETrainer, on the same activations.

    python -m benchmarks.sae_throughput             # prints the result dict
    python -m benchmarks.sae_throughput --steps 300 --batch-size 1024

SAELens lives in its own environment (`.venv-saelens`, made by `tools/saelens_compare/make_env.sh`;
or SAELENS_PYTHON), because it requires transformer-lens<4. Both sides train a standard (L1) SAE
with the same width, batch size, number of steps, Adam (β 0.9/0.999), constant learning rate,
gradient clipping at 1 and L1 coefficient, on the same activations (synthetic sparse codes times a
known dictionary, written once as safetensors), on the CPU with one thread, run back to back.

- ours: the week 10 reference's `sae_train_step` (loaded with `load_reference`, never copied) plus
  its dead-latent tracking (`update_dead_latents`), as the notebook's loop does;
- SAELens: `SAETrainer.fit()` on a `StandardTrainingSAE`, timed inside its own process
  (`tools/saelens_compare/train_bench.py`), imports and construction excluded.

Each side runs `repeats` times, alternating, and the fastest time is kept. ``ratio`` = our steps per
second / SAELens's: above 1 means the course's step is faster. Without the SAELens environment the
result says so instead of a ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

REPO = Path(__file__).resolve().parents[1]
SAELENS_PYTHON = Path(os.environ.get("SAELENS_PYTHON", REPO / ".venv-saelens" / "bin" / "python"))
D_IN, D_SAE, L1, LR = 128, 512, 1.0, 3e-4


def _activations(n: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    truth = torch.randn(1024, D_IN, generator=g)
    truth = truth / truth.norm(dim=-1, keepdim=True)
    codes = torch.rand(n, 1024, generator=g) * (torch.rand(n, 1024, generator=g) < 0.01)
    return (codes @ truth).contiguous()


def _time_ours(w10: Any, x: torch.Tensor, steps: int, batch: int) -> float:
    sae = w10.SparseAutoencoder(D_IN, D_SAE, torch.Generator().manual_seed(0))
    optimizer = torch.optim.Adam(sae.parameters(), lr=LR, betas=(0.9, 0.999))
    since_fired = torch.zeros(D_SAE, dtype=torch.long)
    started = time.perf_counter()
    for i in range(steps):
        xb = x[(i * batch) % len(x) :][:batch]
        w10.sae_train_step(sae, optimizer, xb, L1)
        with torch.no_grad():
            f = w10.sae_encode(xb, sae.W_enc, sae.b_enc, sae.b_dec)
        since_fired, _ = w10.update_dead_latents(since_fired, f, 1000)
    return time.perf_counter() - started


def _time_saelens(acts: Path, steps: int, batch: int) -> float:
    out = acts.parent / "saelens_time.json"
    script = REPO / "tools" / "saelens_compare" / "train_bench.py"
    subprocess.run(
        [str(SAELENS_PYTHON), str(script), str(acts), str(out), "--steps", str(steps), "--batch-size", str(batch),
         "--d-sae", str(D_SAE), "--l1", str(L1), "--lr", str(LR)],
        check=True, capture_output=True, timeout=1800,
    )  # fmt: skip
    return json.loads(out.read_text())["seconds"]


def run(steps: int = 200, batch_size: int = 1024, repeats: int = 2) -> dict[str, Any]:
    """Steps per second of our SAE step and of SAELens's trainer on the same activations and settings."""
    from graders.reference import load_reference

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    w10 = load_reference("w10_sparse_autoencoders")
    x = _activations(steps * batch_size if steps * batch_size <= 262144 else 262144)
    result: dict[str, Any] = {"device": "cpu", "torch_threads": 1, "steps": steps, "batch_size": batch_size,
                              "d_in": D_IN, "d_sae": D_SAE}  # fmt: skip
    best = {"ours": float("inf"), "saelens": float("inf")}
    with tempfile.TemporaryDirectory() as tmp:
        acts = Path(tmp) / "acts.safetensors"
        from safetensors.torch import save_file

        save_file({"x": x}, str(acts))
        for _ in range(repeats):
            best["ours"] = min(best["ours"], _time_ours(w10, x, steps, batch_size))
            if SAELENS_PYTHON.exists():
                best["saelens"] = min(best["saelens"], _time_saelens(acts, steps, batch_size))
    torch.set_num_threads(threads)
    result["ours_steps_per_s"] = round(steps / best["ours"], 2)
    if best["saelens"] == float("inf"):
        result["saelens"] = f"not measured: no SAELens environment at {SAELENS_PYTHON}"
        return result
    result["saelens_steps_per_s"] = round(steps / best["saelens"], 2)
    result["ratio"] = round(best["saelens"] / best["ours"], 2)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=1024)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    print(run(steps=args.steps, batch_size=args.batch_size, repeats=args.repeats))


if __name__ == "__main__":
    main()
