#!/usr/bin/env bash
# Runs the Caffe gtests of this project's own layers (cpp_layers/src/caffe/test/) and BVLC's
# convolution (the DEFAULT engine: DNNL in CPU builds) and BatchNorm suites, built by
# setup/build_caffe.sh into the cached product's bin/test.testbin.
set -euo pipefail
. "$(dirname "$0")/common.sh"
home=$(cat "$VENV/caffe-home" 2>/dev/null) || die "gtest: no Caffe build recorded in $VENV/caffe-home; run make setup"
[ -x "$home/bin/test.testbin" ] || die "gtest: $home has no bin/test.testbin; run make setup"
echo "[test] Caffe gtests of the project's layers, Convolution and BatchNorm ($home/bin/test.testbin)"
# OpenMP threads sleep when idle, as setup/install_launcher.sh makes them for caffe and pycaffe: spinning
# threads on a shared machine make the many tiny passes of the gradient checks crawl.
OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}" "$home/bin/test.testbin" --gtest_filter='-*GPU*'
