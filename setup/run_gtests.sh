#!/usr/bin/env bash
# Runs the Caffe gtests of this project's own layers (cpp_layers/src/caffe/test/),
# built by setup/build_caffe.sh into the cached product's bin/test.testbin.
set -euo pipefail
. "$(dirname "$0")/common.sh"
home=$(cat "$VENV/caffe-home" 2>/dev/null) || die "gtest: no Caffe build recorded in $VENV/caffe-home; run make setup"
if [ ! -x "$home/bin/test.testbin" ]; then
  if ls "$REPO_ROOT"/cpp_layers/src/caffe/test/test_*.cpp >/dev/null 2>&1; then
    die "gtest: $home has no bin/test.testbin although cpp_layers has tests; run make setup"
  fi
  say "gtest: cpp_layers/ has no gtests yet"
  exit 0
fi
echo "[test] Caffe gtests of the project's layers ($home/bin/test.testbin)"
"$home/bin/test.testbin" --gtest_filter='-*GPU*'
