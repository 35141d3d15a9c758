#!/usr/bin/env bash
# install_launcher.sh PRODUCT: points .venv at a finished Caffe build (see setup/build_caffe.sh).
#   .venv/bin/caffe          runs PRODUCT/bin/caffe; the binary embeds Python for Python layers,
#                            so it gets pycaffe, the venv's site-packages, the repository root and
#                            python_layers/ on PYTHONPATH (.pth files do not apply there)
#   .venv/bin/au-predict     runs tools/predict (docs/predict.md) with the venv's python
#   site-packages/dscmr-caffe.pth   pycaffe and the repository root for the venv's python
#   .venv/caffe-home         PRODUCT, for the tests and tools
set -euo pipefail
. "$(dirname "$0")/common.sh"
product=$1
[ -x "$product/bin/caffe" ] || die "install launcher: $product is not a finished Caffe build"
site=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
printf '%s\n%s\n' "$product/python" "$REPO_ROOT" > "$site/dscmr-caffe.pth"
cat > "$VENV/bin/caffe.tmp" <<LAUNCHER
#!/bin/sh
# Written by setup/install_launcher.sh. Runs this project's Caffe build ($product).
export PYTHONPATH="$product/python:$REPO_ROOT:$REPO_ROOT/python_layers:$site\${PYTHONPATH:+:\$PYTHONPATH}"
exec "$product/bin/caffe" "\$@"
LAUNCHER
chmod +x "$VENV/bin/caffe.tmp"
mv "$VENV/bin/caffe.tmp" "$VENV/bin/caffe"
cat > "$VENV/bin/au-predict.tmp" <<LAUNCHER
#!/bin/sh
# Written by setup/install_launcher.sh. AU detection with a trained net (docs/predict.md).
export GLOG_minloglevel="\${GLOG_minloglevel:-2}"
exec "$VENV/bin/python" -m tools.predict "\$@"
LAUNCHER
chmod +x "$VENV/bin/au-predict.tmp"
mv "$VENV/bin/au-predict.tmp" "$VENV/bin/au-predict"
echo "$product" > "$VENV/caffe-home.tmp"
mv "$VENV/caffe-home.tmp" "$VENV/caffe-home"
