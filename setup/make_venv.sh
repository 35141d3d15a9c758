#!/usr/bin/env bash
# Creates .venv/, installs the pinned requirements.txt into it, then this repository's packages
# (pyproject.toml) editable, with their au-* commands.
# Idempotent: a stamp holding the hash of requirements.txt, pyproject.toml and the interpreter skips
# the work.
# With CONDA_PREFIX set, the venv is made from the conda env's python.
set -euo pipefail
. "$(dirname "$0")/common.sh"

if [ -n "${CONDA_PREFIX:-}" ]; then py=$CONDA_PREFIX/bin/python; else py=$(base_python); fi
want="$(cat "$REPO_ROOT/requirements.txt" "$REPO_ROOT/pyproject.toml" | sha256sum | cut -c1-16) $py"
stamp=$VENV/.requirements-stamp
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -x "$VENV/bin/python" ]; then
  say "python venv: up to date ($VENV)"
  exit 0
fi
log=$(new_log venv)
say "python venv: installing requirements.txt into $VENV (log: $log)"
rm -f "$stamp"
[ -x "$VENV/bin/python" ] || run_logged "create venv with $py" "$log" "$py" -m venv "$VENV"
# --no-compile: Python compiles a module's bytecode when it is first imported, so only what is used; pip
# compiling all of it took 14 s of the 37 s (2 cores, wheels cached).
run_logged "pip install -r requirements.txt" "$log" "$VENV/bin/python" -m pip install --disable-pip-version-check -q \
  --no-compile -r "$REPO_ROOT/requirements.txt"
# --no-build-isolation: the venv's own setuptools builds it, nothing is downloaded; --no-deps: the
# pins above are the dependencies.
run_logged "pip install -e . (the au-* commands)" "$log" "$VENV/bin/python" -m pip install --disable-pip-version-check -q \
  --no-deps --no-build-isolation -e "$REPO_ROOT"
echo "$want" > "$stamp"
say "python venv: ready"
