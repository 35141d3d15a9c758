#!/usr/bin/env bash
# install_launcher.sh PRODUCT: points .venv at a finished Caffe build (see setup/build_caffe.sh).
#   .venv/bin/caffe          runs PRODUCT/bin/caffe; the binary embeds Python for Python layers
#                            (module "python_layers.msr_loss", ...), so it gets pycaffe, the venv's
#                            site-packages and the repository root on PYTHONPATH (.pth files, the
#                            editable install's among them, do not apply there)
#   site-packages/dscmr-caffe.pth   pycaffe for the venv's python, and the runtime defaults below
#                            (the project's own packages are an editable install: setup/make_venv.sh)
#   .venv/caffe-home         PRODUCT, for the tests and tools
set -euo pipefail
. "$(dirname "$0")/common.sh"
product=$1
[ -x "$product/bin/caffe" ] || die "install launcher: $product is not a finished Caffe build"
site=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
# Runtime defaults, each overridden by the user's own value; OpenBLAS and OpenMP read them when
# they load, so pycaffe gets them from the .pth:
# - OPENBLAS_CORETYPE: OpenBLAS kernels for CPUs newer than the system OpenBLAS
#   (setup/openblas_coretype.py);
# - OMP_WAIT_POLICY=PASSIVE: OpenMP threads sleep between parallel loops instead of spinning. On a
#   shared machine spinning threads take the cores OpenBLAS's threads need: ResNet-18 took 13-15 s
#   an iteration instead of 3.5 s (bench/results.md).
defaults=(OMP_WAIT_POLICY=PASSIVE)
coretype=$("$VENV/bin/python" "$REPO_ROOT/setup/openblas_coretype.py" "$product/lib/libcaffe.so")
[ -z "$coretype" ] || defaults+=("OPENBLAS_CORETYPE=$coretype")
env_sh=""; env_pth="import os"
for d in "${defaults[@]}"; do
  env_sh+="export ${d%%=*}=\"\${${d%%=*}:-${d#*=}}\""$'\n'
  env_pth+="; os.environ.setdefault('${d%%=*}', '${d#*=}')"
done
printf '%s\n%s\n' "$product/python" "$env_pth" > "$site/dscmr-caffe.pth"
cat > "$VENV/bin/caffe.tmp" <<LAUNCHER
#!/bin/sh
# Written by setup/install_launcher.sh. Runs this project's Caffe build ($product).
export PYTHONPATH="$product/python:$REPO_ROOT:$site\${PYTHONPATH:+:\$PYTHONPATH}"
${env_sh}exec "$product/bin/caffe" "\$@"
LAUNCHER
chmod +x "$VENV/bin/caffe.tmp"
mv "$VENV/bin/caffe.tmp" "$VENV/bin/caffe"
echo "$product" > "$VENV/caffe-home.tmp"
mv "$VENV/caffe-home.tmp" "$VENV/caffe-home"
