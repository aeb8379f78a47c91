#!/usr/bin/env bash
# The CUDA kernels without a GPU: in a venv with CuPy and NVRTC (the cuda13
# extra), compile every kernel for sm_80 and sm_90 (xact kernels) and run the
# NVRTC tests, which fail here, rather than skip, when NVRTC is missing. The
# device tests in the same module are left out where there is no device.
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${XACT_CUDA_VENV:-.venv-cuda}"
start=$SECONDS
bash ci/setup.sh "$venv" test,cuda13
cache="$(mktemp -d)"
trap 'rm -rf "$cache"' EXIT
XACT_CACHE_DIR="$cache" "$venv/bin/xact" kernels --arch sm_80,sm_90 | grep -E '^sm_[0-9a-z]+: '
XACT_CACHE_DIR="$cache" XACT_REQUIRE_NVRTC=1 PYTHONDONTWRITEBYTECODE= \
  "$venv/bin/python" -m pytest -q tests/test_cuda_kernels.py
echo "ci/nvrtc.sh: $((SECONDS - start)) s"
