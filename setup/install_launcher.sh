#!/usr/bin/env bash
# install_launcher.sh PRODUCT: points .venv at a finished Caffe build (see setup/build_caffe.sh).
#   .venv/bin/caffe          runs PRODUCT/bin/caffe; the binary embeds Python for Python layers,
#                            so it gets pycaffe, the venv's site-packages, the repository root and
#                            python_layers/ on PYTHONPATH (.pth files do not apply there)
#   site-packages/dscmr-caffe.pth   pycaffe and the repository root for the venv's python, and
#                            OPENBLAS_CORETYPE where the system OpenBLAS misreads this CPU
#   .venv/caffe-home         PRODUCT, for the tests and tools
set -euo pipefail
. "$(dirname "$0")/common.sh"
product=$1
[ -x "$product/bin/caffe" ] || die "install launcher: $product is not a finished Caffe build"
site=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
# OpenBLAS kernels for CPUs newer than the system OpenBLAS (setup/openblas_coretype.py); a user's
# OPENBLAS_CORETYPE still wins. OpenBLAS reads it when it loads, so pycaffe gets it from the .pth.
coretype=$("$VENV/bin/python" "$REPO_ROOT/setup/openblas_coretype.py" "$product/lib/libcaffe.so")
coretype_sh=""; coretype_pth=""
if [ -n "$coretype" ]; then
  coretype_sh="export OPENBLAS_CORETYPE=\"\${OPENBLAS_CORETYPE:-$coretype}\""
  coretype_pth="import os; os.environ.setdefault('OPENBLAS_CORETYPE', '$coretype')"
fi
printf '%s\n%s\n%s\n' "$product/python" "$REPO_ROOT" "$coretype_pth" > "$site/dscmr-caffe.pth"
cat > "$VENV/bin/caffe.tmp" <<LAUNCHER
#!/bin/sh
# Written by setup/install_launcher.sh. Runs this project's Caffe build ($product).
export PYTHONPATH="$product/python:$REPO_ROOT:$REPO_ROOT/python_layers:$site\${PYTHONPATH:+:\$PYTHONPATH}"
$coretype_sh
exec "$product/bin/caffe" "\$@"
LAUNCHER
chmod +x "$VENV/bin/caffe.tmp"
mv "$VENV/bin/caffe.tmp" "$VENV/bin/caffe"
echo "$product" > "$VENV/caffe-home.tmp"
mv "$VENV/caffe-home.tmp" "$VENV/caffe-home"
