# Shared helpers for the set-up scripts: sourced, never run.
# Every step logs in full to a file and prints one line; a failure prints one line
# naming the step and the log's path, and exits non-zero.

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE_ROOT=${DSCMR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/dscmr}
LOG_DIR=$REPO_ROOT/.setup-logs
VENV=$REPO_ROOT/.venv
mkdir -p "$LOG_DIR" "$CACHE_ROOT"

say() { printf '[setup] %s\n' "$*" >&2; }

die() { printf '[setup] FAILED: %s\n' "$*" >&2; exit 1; }

# run_logged STEP LOG CMD...: run CMD with all output in LOG; on failure name STEP and LOG.
run_logged() {
  local step=$1 log=$2; shift 2
  if ! "$@" >>"$log" 2>&1; then
    printf '[setup] FAILED: %s (full log: %s)\n' "$step" "$log" >&2
    tail -n 15 "$log" | sed 's/^/[setup]   | /' >&2
    exit 1
  fi
}

new_log() { echo "$LOG_DIR/$1-$(date +%Y%m%d-%H%M%S).log"; }

# The interpreter the venv is made from: the first python3.11 (pyenv or Debian) on PATH.
base_python() {
  local py
  py=$(command -v python3.11 || command -v python3) || die "no python3 on PATH"
  "$py" -c 'import sys; print(sys.executable)'
}

# Scripts run under `set -e`: a command that fails where no check expected it still says where.
trap 'printf "[setup] FAILED: unexpected error (exit %s) at %s line %s: %s\n" "$?" "$0" "$LINENO" "$BASH_COMMAND" >&2' ERR
