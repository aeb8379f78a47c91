#!/usr/bin/env bash
# Run the test suite on a CPU machine, in its own virtual environment, on
# every core (pytest-xdist). The numerical modules run with xact's fast paths
# on and off (the numpy:generic, torch:generic and jax:generic backends).
#   bash ci/test.sh                   every CPU backend
#   bash ci/test.sh numpy,torch       only these (each must import and run)
#   XACT_FULL=1 bash ci/test.sh       the full tier as well (marker exhaustive)
# Backends: numpy, array_api_strict, torch, jax, dask, cubed (cupy: ci/gpu.sh).
# Prints each phase's time and the 10 slowest tests. The default run's budget
# is 5 minutes on a 2-core machine, installation included; it fails when the
# whole run takes more than twice that, so a slide is caught the day it starts.
set -euo pipefail
cd "$(dirname "$0")/.."
backends="${1:-${XACT_BACKENDS:-}}"
venv="${XACT_VENV:-.venv}"
full="${XACT_FULL:-0}"
budget="${XACT_TEST_BUDGET:-300}"
extras="test"
case ",${backends}," in
  ,,) extras="test,torch,jax,dask,cubed" ;;
  *)
    [[ ",$backends," == *,torch* ]] && extras+=",torch"
    [[ ",$backends," == *,jax* ]] && extras+=",jax"
    [[ ",$backends," == *,dask* ]] && extras+=",dask"
    [[ ",$backends," == *,cubed* ]] && extras+=",cubed"
    ;;
esac

start=$SECONDS
bash ci/setup.sh "$venv" "$extras" ci/constraints-cpu.txt
installed=$SECONDS

# Python writes the bytecode of what the tests import, once, for every later
# process (workers, the CLI's and the notebooks' subprocesses): with
# PYTHONDONTWRITEBYTECODE set, each of them compiled torch and jax again (5 s)
unset PYTHONDONTWRITEBYTECODE

selection=()
[ "$full" = 1 ] && selection=(-m "")  # no marker filter: the full tier too
status=0
XACT_BACKENDS="$backends" "$venv/bin/python" -m pytest -rs -n "${XACT_WORKERS:-auto}" \
  --dist worksteal --durations=10 --junitxml=.pytest_cache/junit.xml "${selection[@]}" \
  || status=$?
finished=$SECONDS

total=$((finished - start))
echo "ci/test.sh: install $((installed - start)) s, tests $((finished - installed)) s, total ${total} s (budget ${budget} s)"
if [ "$status" -ne 0 ]; then
  exit "$status"
fi
if [ "$full" != 1 ] && [ "$total" -gt $((2 * budget)) ]; then
  echo "ci/test.sh: the run took ${total} s, over twice the ${budget} s budget:" \
    "find what grew (the 10 slowest tests are above)" >&2
  exit 1
fi
