#!/usr/bin/env bash
# Installs the Debian packages in setup/system-packages.txt that are missing.
# Idempotent: with everything present it returns in a fraction of a second.
# With CONDA_PREFIX set it does nothing: the conda env (environment.yml) provides them.
set -euo pipefail
. "$(dirname "$0")/common.sh"

if [ -n "${CONDA_PREFIX:-}" ]; then
  say "system packages: using the conda env at $CONDA_PREFIX (apt skipped)"
  exit 0
fi
mapfile -t wanted < <(grep -v '^\s*#' "$REPO_ROOT/setup/system-packages.txt" | grep -v '^\s*$')
missing=()
for p in "${wanted[@]}"; do
  dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  say "system packages: all ${#wanted[@]} present"
  exit 0
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then sudo="sudo -n"
  else die "system packages: ${#missing[@]} missing (${missing[*]}) and no apt rights; as root run: apt-get install ${missing[*]}"
  fi
fi
log=$(new_log apt)
say "system packages: installing ${#missing[@]} with apt-get (log: $log)"
run_logged "apt-get update" "$log" $sudo apt-get update -q
run_logged "apt-get install" "$log" env DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
say "system packages: installed ${missing[*]}"
