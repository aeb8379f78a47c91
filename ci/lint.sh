#!/usr/bin/env bash
# Lint, format check and type check (ruff, mypy --strict on src/).
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${XACT_VENV:-.venv}"
bash ci/setup.sh "$venv" "test,lint,torch,jax,dask,cubed" ci/constraints-cpu.txt
"$venv/bin/ruff" check src tests tools benchmarks
"$venv/bin/ruff" format --check src tests tools benchmarks
"$venv/bin/mypy" src
