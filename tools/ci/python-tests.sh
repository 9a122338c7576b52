#!/usr/bin/env bash
# The Python package's tests (python/tests), run by .ci/run after the test build, before the tests:
#  1. a virtual environment with maturin, pytest, numpy, pyarrow, pandas and Pillow from PyPI
#     (kept in the target dir, so a rerun only checks it);
#  2. the `cuelab` binary the tests compare with: the one the test build just made (a
#     `cargo build -p cuelab` would rebuild it without the tests' features), built only if missing;
#  3. `pip install .` of the checkout (maturin's build backend, dev profile, the workspace's target
#     dir: what `cargo test` compiled is reused; compiled again for the extension's feature set:
#     pyo3, cuelab-py, and tokio with what depends on it (cuelab-vlm's `mock` feature, which the
#     tests enable, adds a tokio feature); `--strip` keeps the wheel small);
#  4. pytest, from a scratch folder so that the installed package is what is imported.
# `--venv-only` does step 1 and stops (.ci/run runs it in the background while cargo compiles).
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$root/target}
venv=${CUELAB_PY_VENV:-$CARGO_TARGET_DIR/python-venv}
python=${PYTHON:-python3}
t0=$(date +%s)
stamp() { echo "python-tests: $1 after $(($(date +%s) - t0)) s"; }

if [ ! -x "$venv/bin/python" ]; then
    "$python" -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    "maturin>=1.5,<2" pytest numpy pyarrow pandas Pillow
stamp "venv ready"
if [ "${1:-}" = "--venv-only" ]; then
    exit 0
fi
# maturin's build backend runs the `maturin` of the environment
export PATH="$venv/bin:$PATH"

if [ ! -x "$CARGO_TARGET_DIR/debug/cuelab" ]; then
    cargo build -p cuelab --locked --quiet
fi
stamp "cuelab binary ready"

"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-build-isolation \
    --no-deps --force-reinstall --config-settings=build-args="--profile dev --strip --locked" .
stamp "package built and installed"

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
cd "$scratch"
CUELAB_BIN="$CARGO_TARGET_DIR/debug/cuelab" \
    "$venv/bin/python" -m pytest -p no:cacheprovider -q "$root/python/tests"
stamp "pytest done"
