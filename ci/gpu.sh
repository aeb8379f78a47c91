#!/usr/bin/env bash
# The GPU run, in one call (about 8 minutes at most), on a machine with a
# CUDA device, CuPy and PyTorch:
#   bash ci/gpu.sh                 # a machine that reaches a package index
#   bash tools/gpu_wheels.sh       # here, first, for a machine that does not:
#                                  # wheels into .whl/, which ci/gpu.sh installs
# It runs the suite on cupy and torch:cuda, `xact check`, `xact kernels`,
# `xact bench` on CuPy arrays and CUDA tensors at 1e6 and 1e8 elements, and
# the notebooks with CuPy. Everything it prints also goes to $OUT (or
# .gpu-out/): gpu.log and the benchmarks' JSON. Every step runs; the exit
# code is 1 if any failed.
set -uo pipefail
cd "$(dirname "$0")/.."
out="${OUT:-.gpu-out}"
mkdir -p "$out"
exec > >(tee "$out/gpu.log") 2>&1
start=$SECONDS
failed=()

if [ -d .whl ]; then
  # no index there: the carried wheels, then xact from this tree, its CPU
  # kernels built in place (the image has setuptools and gcc)
  python=python3
  $python -m pip install -q --no-index --no-deps --no-compile --no-cache-dir \
    --upgrade --target /tmp/site .whl/*.whl || exit 1
  export PYTHONPATH="/tmp/site:$PWD/src"
  $python setup.py -q build_ext --inplace || echo "CPU kernels not built: generic path"
else
  venv="${XACT_VENV:-.venv-gpu}"
  bash ci/setup.sh "$venv" test,torch,cuda13 || exit 1
  python="$venv/bin/python"
fi
xact=("$python" -m xact.cli)

step() {  # step NAME COMMAND...: run it, time it, remember a failure
  local name="$1" began=$SECONDS
  shift
  echo "=== $name"
  if ! "$@"; then failed+=("$name"); fi
  echo "=== $name: $((SECONDS - began)) s"
}

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv || true
step info "${xact[@]}" info --wide
step kernels "${xact[@]}" kernels
step tests env XACT_BACKENDS=cupy,torch:cuda XACT_NOTEBOOK_BACKEND=cupy \
  PYTHONDONTWRITEBYTECODE= "$python" -m pytest -q -rs -n 8 -p no:cacheprovider \
  tests
step check-cupy "${xact[@]}" check --backend cupy
step check-torch "${xact[@]}" check --backend torch --device cuda
for size in 1000000 100000000; do
  step "bench-cupy-$size" "${xact[@]}" bench --backend cupy --size "$size" \
    --json "$out/bench-cupy-$size.json"
  step "bench-torch-cuda-$size" "${xact[@]}" bench --backend torch --device cuda \
    --size "$size" --json "$out/bench-torch-cuda-$size.json"
done
echo "ci/gpu.sh: $((SECONDS - start)) s; failed: ${failed[*]:-none}"
[ ${#failed[@]} -eq 0 ]
