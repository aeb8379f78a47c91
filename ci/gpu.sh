#!/usr/bin/env bash
# The GPU cell: CuPy on a CUDA machine (and PyTorch on its CUDA device).
#   bash ci/gpu.sh [cuda12|cuda13]
set -euo pipefail
cd "$(dirname "$0")/.."
cuda="${1:-cuda12}"
venv="${XACT_VENV:-.venv-gpu}"
bash ci/setup.sh "$venv" "test,$cuda"
XACT_BACKENDS=cupy "$venv/bin/python" -m pytest -rs
