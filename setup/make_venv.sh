#!/usr/bin/env bash
# Creates .venv/ and installs the pinned requirements.txt into it.
# Idempotent: a stamp holding the hash of requirements.txt and the interpreter skips the work.
# With CONDA_PREFIX set, the venv is made from the conda env's python.
set -euo pipefail
. "$(dirname "$0")/common.sh"

if [ -n "${CONDA_PREFIX:-}" ]; then py=$CONDA_PREFIX/bin/python; else py=$(base_python); fi
want="$(sha256sum "$REPO_ROOT/requirements.txt" | cut -c1-16) $py"
stamp=$VENV/.requirements-stamp
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -x "$VENV/bin/python" ]; then
  say "python venv: up to date ($VENV)"
  exit 0
fi
log=$(new_log venv)
say "python venv: installing requirements.txt into $VENV (log: $log)"
rm -f "$stamp"
[ -x "$VENV/bin/python" ] || run_logged "create venv with $py" "$log" "$py" -m venv "$VENV"
run_logged "pip install -r requirements.txt" "$log" "$VENV/bin/python" -m pip install --disable-pip-version-check -q -r "$REPO_ROOT/requirements.txt"
echo "$want" > "$stamp"
say "python venv: ready"
