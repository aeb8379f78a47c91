#!/usr/bin/env bash
# The dependency floors: in a virtual environment of its own, the oldest
# version of every runtime dependency that pyproject.toml allows (each
# ">=X" taken as "==X"), then the NumPy tests and the README's first command
# (xact spiral --plot). A floor that no longer works fails here the day it
# breaks, not on a user's machine. Left out, because what they need needs
# NumPy 2 (ci/test.sh runs them): the README's own test (its blocks import
# JAX), and the two tests that move array-api-strict arrays to a second
# device (every array-api-strict with the 2024.12 API calls NumPy 2's
# asarray(copy=) there).
#   bash ci/floor.sh
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${XACT_FLOOR_VENV:-.venv-floor}"
start=$SECONDS
constraints="$(mktemp)"
trap 'rm -f "$constraints"' EXIT
python3 - "$constraints" <<'PY'
import re
import sys
import tomllib

with open("pyproject.toml", "rb") as handle:
    dependencies = tomllib.load(handle)["project"]["dependencies"]
floors = []
for requirement in dependencies:
    match = re.fullmatch(r"([A-Za-z0-9_.\-\[\]]+)>=([0-9][0-9.]*)", requirement)
    if match is None:
        sys.exit(f"ci/floor.sh: no floor in {requirement!r}: write it as NAME>=VERSION")
    name = match.group(1).split("[")[0]
    floors.append(f"{name}=={match.group(2)}")
with open(sys.argv[1], "w") as out:
    out.write("\n".join(floors) + "\n")
print("ci/floor.sh: floors", ", ".join(floors))
PY
bash ci/setup.sh "$venv" "test,cli" "$constraints"
"$venv/bin/python" -m pip list --format=freeze | grep -iE '^(numpy|array.api.compat|array.api.extra|safetensors)=='
unset PYTHONDONTWRITEBYTECODE
XACT_BACKENDS=numpy "$venv/bin/python" -m pytest -q -n "${XACT_WORKERS:-auto}" \
  -p no:cacheprovider --deselect tests/test_readme.py \
  --deselect tests/test_cli.py::test_a_device_is_used \
  --deselect tests/test_edges.py::test_dense_loss_is_an_array_and_dtype_changes_stay_on_the_device
plot="$(mktemp -d)"
(cd "$plot" && "$OLDPWD/$venv/bin/xact" spiral --plot spiral.png)
test -s "$plot/spiral.png"
rm -rf "$plot"
echo "ci/floor.sh: $((SECONDS - start)) s"
