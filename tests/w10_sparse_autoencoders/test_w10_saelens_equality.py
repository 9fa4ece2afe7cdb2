"""Our SAE loss and metrics equal SAELens's on the same weights and batch.

SAELens 6.54 needs transformer-lens<4, so it lives in its own environment (`.venv-saelens`, made by
`tools/saelens_compare/make_env.sh`, or named by SAELENS_PYTHON). This test writes weights and a
batch as safetensors, runs tools/saelens_compare/compare.py with SAELens's interpreter and compares
the JSON it writes back. Without that environment it skips, except in CI (CI=true), where it fails.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from graders import load_reference
from graders.reference import REPO_ROOT

SAELENS_PYTHON = Path(os.environ.get("SAELENS_PYTHON", REPO_ROOT / ".venv-saelens" / "bin" / "python"))


def _saelens_python() -> Path:
    if not SAELENS_PYTHON.exists():
        reason = f"no SAELens environment at {SAELENS_PYTHON}: run tools/saelens_compare/make_env.sh"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return SAELENS_PYTHON


@pytest.mark.parametrize("l1_coefficient,d_in,d_sae", [(0.1, 32, 128), (3.0, 16, 40), (0.0, 8, 8)])
def test_loss_and_metrics_equal_saelens(tmp_path: Path, l1_coefficient: float, d_in: int, d_sae: int):
    python = _saelens_python()
    w10 = load_reference("w10_sparse_autoencoders")
    g = torch.Generator().manual_seed(d_in + d_sae)
    tensors = {
        "W_enc": torch.randn(d_in, d_sae, generator=g) * 0.3,
        "b_enc": torch.randn(d_sae, generator=g) * 0.1,
        "W_dec": torch.randn(d_sae, d_in, generator=g) * 0.3,
        "b_dec": torch.randn(d_in, generator=g) * 0.1,
        "x": torch.randn(256, d_in, generator=g) + 0.5,
    }
    save_file(tensors, str(tmp_path / "sae_and_batch.safetensors"))
    script = REPO_ROOT / "tools" / "saelens_compare" / "compare.py"
    subprocess.run([str(python), str(script), str(tmp_path), "--l1", str(l1_coefficient)], check=True, timeout=600,
                   capture_output=True)  # fmt: skip
    theirs = json.loads((tmp_path / "saelens.json").read_text())

    x = tensors["x"]
    f = w10.sae_encode(x, tensors["W_enc"], tensors["b_enc"], tensors["b_dec"])
    x_hat = w10.sae_decode(f, tensors["W_dec"], tensors["b_dec"])
    ours = w10.sae_metrics(x, x_hat, f)
    loss = w10.sae_loss(x, x_hat, f, tensors["W_dec"], l1_coefficient).item()
    mse = w10.sae_loss(x, x_hat, f, tensors["W_dec"], 0.0).item()
    assert loss == pytest.approx(theirs["loss"], rel=1e-5, abs=1e-5)
    assert mse == pytest.approx(theirs["mse_loss"], rel=1e-5, abs=1e-5)
    assert loss - mse == pytest.approx(theirs["l1_loss"], rel=1e-4, abs=1e-5)
    assert ours["l0"] == pytest.approx(theirs["l0"], abs=1e-6)
    assert ours["explained_variance"] == pytest.approx(theirs["explained_variance"], rel=1e-5, abs=1e-6)
