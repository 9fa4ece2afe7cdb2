#!/usr/bin/env bash
# Week 12 tests its BBQ / CrowS-Pairs scores against lm-evaluation-harness 0.4.13's own task code
# (lm_eval/tasks/bbq/utils.py, crows_pairs/utils.py). Installing lm_eval would pull in a large
# dependency tree, and the task code needs only numpy and datasets (both in .venv), so we fetch
# the wheel alone, from the package registry, and the test imports the two files from it.
# Usage: tools/lm_eval_bbq/get_wheel.sh [DIR]   (default .lm-eval; gitignored)
set -euo pipefail
dir="${1:-.lm-eval}"
python="${PYTHON:-.venv/bin/python}"
mkdir -p "$dir"
"$python" -m pip download --quiet --no-deps --only-binary=:all: lm_eval==0.4.13 -d "$dir"
ls "$dir"/lm_eval-0.4.13-py3-none-any.whl
