#!/usr/bin/env bash
# Create (or reuse) a virtual environment with xact and the extras it is given.
#   bash ci/setup.sh VENV EXTRAS [CONSTRAINTS]
# e.g. bash ci/setup.sh .venv test,torch,jax,dask ci/constraints-cpu.txt
set -euo pipefail
venv="$1"
extras="$2"
constraints="${3:-}"
cd "$(dirname "$0")/.."
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --upgrade pip
# no bytecode at install: Python compiles what is imported, when it is (pip's
# compiling every file of torch and jax took a third of the install)
args=(--quiet --no-compile -e ".[$extras]")
[ -n "$constraints" ] && args=(-c "$constraints" "${args[@]}")
"$venv/bin/python" -m pip install "${args[@]}"
