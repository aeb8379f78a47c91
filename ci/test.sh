#!/usr/bin/env bash
# Run the test suite on a CPU machine, in its own virtual environment.
#   bash ci/test.sh                   every CPU backend
#   bash ci/test.sh numpy,torch       only these (each must import and run)
# Backends: numpy, array_api_strict, torch, jax, dask (cupy: ci/gpu.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
backends="${1:-${XACT_BACKENDS:-}}"
venv="${XACT_VENV:-.venv}"
extras="test"
case ",${backends}," in
  ,,) extras="test,torch,jax,dask" ;;
  *)
    [[ ",$backends," == *,torch* ]] && extras+=",torch"
    [[ ",$backends," == *,jax,* ]] && extras+=",jax"
    [[ ",$backends," == *,dask,* ]] && extras+=",dask"
    ;;
esac
bash ci/setup.sh "$venv" "$extras" ci/constraints-cpu.txt
XACT_BACKENDS="$backends" "$venv/bin/python" -m pytest -rs
