#!/usr/bin/env bash
# Create the separate SAELens environment (.venv-saelens) used by week 10's library comparison and
# by benchmarks/sae_throughput.py. SAELens 6.54 requires transformer-lens<4, which cannot live next
# to the course's TransformerLens 4.3, so it gets its own interpreter; the two environments exchange
# only safetensors and JSON. Usage: tools/saelens_compare/make_env.sh [ENV_DIR]
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
ENV="${1:-$ROOT/.venv-saelens}"
PYTHON="${PYTHON:-python3}"
if [ -x "$ENV/bin/python" ] && "$ENV/bin/python" -c "import sae_lens" 2>/dev/null; then
  echo "$ENV already has sae_lens"; exit 0
fi
"$PYTHON" -m venv "$ENV"
"$ENV/bin/python" -m pip install -q --upgrade pip
# The same torch as the course's own environment (whatever build pip picks for this machine), then
# SAELens with its own pins. Only package registries are used.
"$ENV/bin/python" -m pip install -q "torch==2.13.0"
"$ENV/bin/python" -m pip install -q "sae-lens==6.54.12" safetensors
"$ENV/bin/python" -c "import sae_lens, torch; print('sae_lens', sae_lens.__version__, 'torch', torch.__version__)"
