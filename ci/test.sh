#!/usr/bin/env bash
# Run the test suite on a CPU machine, in its own virtual environment: once as
# users run it (fast paths on), then the numerical tests on the generic path.
#   bash ci/test.sh                   every CPU backend
#   bash ci/test.sh numpy,torch       only these (each must import and run)
# Backends: numpy, array_api_strict, torch, jax, dask, cubed (cupy: ci/gpu.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
backends="${1:-${XACT_BACKENDS:-}}"
venv="${XACT_VENV:-.venv}"
extras="test"
case ",${backends}," in
  ,,) extras="test,torch,jax,dask,cubed" ;;
  *)
    [[ ",$backends," == *,torch* ]] && extras+=",torch"
    [[ ",$backends," == *,jax,* ]] && extras+=",jax"
    [[ ",$backends," == *,dask,* ]] && extras+=",dask"
    [[ ",$backends," == *,cubed,* ]] && extras+=",cubed"
    ;;
esac
bash ci/setup.sh "$venv" "$extras" ci/constraints-cpu.txt
XACT_BACKENDS="$backends" "$venv/bin/python" -m pytest -rs
# The generic Array API path as well (the fast paths of xact._fast switched
# off), on the tests that pin the numbers and the contract, on the backends
# that have fast paths (the others always run the generic path).
generic="${backends:-numpy,torch,jax}"
XACT_FAST_PATHS=0 XACT_BACKENDS="$generic" "$venv/bin/python" -m pytest -rs -q \
  tests/test_accuracy.py tests/test_backward_accuracy.py tests/test_parameters.py \
  tests/test_contract.py tests/test_backward.py
