#!/usr/bin/env bash
# Wheels for a GPU machine that reaches no package index (its image has
# CuPy, PyTorch, JAX, scipy, pytest, mpmath, hypothesis, safetensors,
# matplotlib and tqdm, on Python 3.12): what xact's tests and notebooks need
# beyond that, into .whl/ (ignored by git), which ci/gpu.sh installs.
# xact itself travels as this source tree and is built there.
#   bash tools/gpu_wheels.sh [PYTHON_VERSION]     # default 3.12
set -euo pipefail
cd "$(dirname "$0")/.."
version="${1:-3.12}"
rm -rf .whl
python3 -m pip download --quiet --only-binary=:all: --dest .whl \
  --python-version "$version" --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 \
  --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
  --platform manylinux1_x86_64 \
  array-api-compat array-api-extra array-api-strict nbclient nbformat ipykernel
# the image's own: a second copy would shadow it (NumPy under CuPy and torch)
for held in numpy attrs packaging psutil pygments python_dateutil typing_extensions; do
  rm -f .whl/"$held"-*.whl
done
ls .whl
du -sh .whl
