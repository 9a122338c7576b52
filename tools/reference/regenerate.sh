#!/usr/bin/env bash
# Regenerate every committed reference fixture. Needs the venv of tools/reference/README.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PY:-/opt/refenv/bin/python}
"$PY" tools/reference/cue/make_fixtures.py
for script in tools/reference/*/make_fixtures.py; do
  case "$script" in tools/reference/cue/*) continue ;; esac
  "$PY" "$script"
done
