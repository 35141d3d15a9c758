#!/usr/bin/env bash
# Packs the CUDA build (make setup-gpu) for a GPU machine that has a driver, CUDA 13's cuBLAS and
# Python 3.12 with numpy and OpenCV, but none of Caffe's Debian libraries and no pycaffe for its
# Python (docs/gpu.md). Writes .device-opencv/opencv.tar.xz (below) and
# .device/bundle.tar.xz (about 30 MB):
#   <product>/bin/caffe, lib/libcaffe.so   the build, under its cache name (runs record it)
#   lib/                                   the shared libraries it needs that such a machine lacks
#   python/caffe/proto/caffe_pb2.py        Caffe's messages alone (tools read prototxt and solver states)
#   wheels/                                for Python 3.12: lmdb (the data builders write LMDB) and this
#                                          venv's protobuf (another release writes the nets' text, and so
#                                          the runs' code fingerprints, otherwise: 7.36 orders fields by number)
#   synthau.digest                         data/synthau's fingerprint and pixel digest, if built here
set -euo pipefail
REPO_ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$REPO_ROOT/setup/common.sh"
out=$REPO_ROOT/.device/bundle.tar.xz
product=$(grep -l '^device: gpu' "$CACHE_ROOT"/caffe-*/BUILD_INFO 2>/dev/null | xargs -r ls -t | head -1 | xargs -r dirname)
[ -n "$product" ] || die "device bundle: no CUDA build in $CACHE_ROOT: run \`make setup-gpu\` first"
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
name=$(basename "$product")
mkdir -p "$stage/$name/bin" "$stage/$name/lib" "$stage/lib" "$stage/python/caffe/proto" "$stage/wheels"
cp "$product/BUILD_INFO" "$stage/$name/"
cp "$product/bin/caffe" "$product/bin/test.testbin" "$stage/$name/bin/"
cp -P "$product"/lib/libcaffe.so* "$stage/$name/lib/"
# pycaffe without its extension (built for this venv's Python): the messages and net_spec, which the
# generator and the tools use; nothing that runs a net.
touch "$stage/python/caffe/proto/__init__.py"
cp "$product/python/caffe/proto/caffe_pb2.py" "$stage/python/caffe/proto/"
cp "$product/python/caffe/net_spec.py" "$stage/python/caffe/"
printf '%s\n' "from .proto.caffe_pb2 import TRAIN, TEST" "from .net_spec import layers, params, NetSpec, to_proto" \
  > "$stage/python/caffe/__init__.py"
# The data this clone trains on, for the machine to check its own build against (reproduce.sh).
if [ -f "$REPO_ROOT/data/synthau/manifest.json" ]; then
  (cd "$REPO_ROOT" && "$VENV/bin/python" -m data_prep.lmdb_io data/synthau) > "$stage/synthau.digest"
fi

# The closure, walked through each library's own NEEDED entries (ldd's flat list would bring GDAL's
# whole closure, below), with ldd's paths. Left out: glibc and the C++ runtime (the machine's are
# newer), the driver, and cuBLAS/cuRAND (the machine's CUDA 13 wheels hold them).
skip='^(linux-vdso|ld-linux-x86-64|libc|libm|libdl|libpthread|librt|libresolv|libstdc\+\+|libgcc_s|libcuda|libcublas|libcublasLt|libcurand|libnvidia|libcaffe|libgdal)\.'
declare -A where seen
while read -r soname path; do where[$soname]=$path; done < <(
  for f in "$product/bin/caffe" "$product/bin/test.testbin"; do
    LD_LIBRARY_PATH="$product/lib" ldd "$f" | awk '$2 == "=>" && $3 ~ /^\// {print $1, $3}'
  done | sort -u)
queue=("$product/bin/caffe" "$product/bin/test.testbin" "$product/lib/libcaffe.so")
while [ ${#queue[@]} -gt 0 ]; do
  f=${queue[0]}; queue=("${queue[@]:1}")
  for soname in $(objdump -p "$f" | awk '$1 == "NEEDED" {print $2}'); do
    [[ $soname =~ $skip || -n ${seen[$soname]:-} ]] && continue
    seen[$soname]=1
    [ -n "${where[$soname]:-}" ] || die "device bundle: ldd does not resolve $soname (needed by $f)"
    cp -L "${where[$soname]}" "$stage/lib/$soname"
    queue+=("${where[$soname]}")
  done
done
# OpenCV's imgcodecs links GDAL, whose closure alone is about 60 MB: a stub that registers no driver
# stands in (Caffe never opens a GDAL format; imdecode only calls GDALAllRegister).
gdal=$(ldd "$product/bin/caffe" | awk '$1 ~ /^libgdal\.so/ {print $1}')
if [ -n "$gdal" ]; then
  syms=$(nm -D --undefined-only "$stage"/lib/libopencv_imgcodecs.so.* | awk '$2 ~ /GDAL/ {print $2}')
  { for s in $syms; do echo "void *$s(void) { return 0; }"; done; } > "$stage/gdal_stub.c"
  cc -shared -fPIC -Wl,-soname,"$gdal" -o "$stage/lib/$gdal" "$stage/gdal_stub.c"
  rm "$stage/gdal_stub.c"
fi
"$VENV/bin/python" -m pip download -q --disable-pip-version-check --no-deps --only-binary=:all: \
  --python-version 3.12 --implementation cp --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
  -d "$stage/wheels" "lmdb==$("$VENV/bin/python" -c 'import lmdb; print(lmdb.__version__)')" \
  "protobuf==$("$VENV/bin/python" -c 'import google.protobuf as p; print(p.__version__)')"
mkdir -p "$(dirname "$out")"
tar -C "$stage" -cJf "$out.tmp" . && mv "$out.tmp" "$out"
say "device bundle: $out ($(du -h "$out" | cut -f1)) from $product"

# This venv's OpenCV, for the data: synthau drawn by another OpenCV is other data (the machine's
# 5.0.0 gave another fingerprint; this 4.14 with its numpy 2.5.2 gave this clone's pixels). It is
# too big to travel beside the bundle, so a first call carries it alone and builds data/, which
# stays on the machine while it is warm (reproduce.sh, data only). Left out: its Haar cascades.
opencv=$REPO_ROOT/.device-opencv/opencv.tar.xz
site=$("$VENV/bin/python" -c 'import cv2, os; print(os.path.dirname(os.path.dirname(cv2.__file__)))')
mkdir -p "$stage/site" "$(dirname "$opencv")"
cp -r "$site/cv2" "$site/opencv_python_headless.libs" "$stage/site/"
rm -rf "$stage/site/cv2/data"
find "$stage/site" \( -name '*.pyi' -o -name __pycache__ \) -prune -exec rm -rf {} +

# stub_library LIB IMPORTER: LIB becomes a library of its SONAME whose functions do nothing, defining,
# under their version nodes, the functions IMPORTER takes from it.
stub_library() {
  local lib=$1 importer=$2 dir
  dir=$(mktemp -d -p "$stage")
  objdump -T "$importer" | awk '$3 == "*UND*" || $4 == "*UND*" {print $NF}' | sort -u > "$dir/wanted"
  objdump -T "$lib" | awk '$4 ~ /^\./ && $2 ~ /g/ {v = $(NF-1); gsub(/[()]/, "", v); print $NF, v}' | sort -u \
    | join - "$dir/wanted" > "$dir/defs"
  awk '{print "void " $1 "(void) {}"}' "$dir/defs" > "$dir/stub.c"
  awk '$2 != "Base" {nodes[$2] = nodes[$2] " " $1 ";"} END {for (n in nodes) print n " { global:" nodes[n] " };"}' \
    "$dir/defs" > "$dir/versions"
  cc -shared -fPIC -Wl,-soname,"$(basename "$lib")" \
    $([ -s "$dir/versions" ] && echo "-Wl,--version-script=$dir/versions") -o "$lib" "$dir/stub.c"
  rm -rf "$dir"
}
# synthau only draws, blurs, resizes and writes PNG: OpenCV's video (ffmpeg), AVIF and BLAS libraries,
# linked but never called, become stubs, and what only they needed stays behind (39.5 MB of xz
# became 20.5, leaving the first call room beside the tree). A wrong stub would draw other
# pixels, which reproduce.sh's digest check stops on; with these, this clone's digest came out.
libs=$stage/site/opencv_python_headless.libs
for lib in "$libs"/lib{avcodec,avformat,avutil,swscale,avif,openblasp}-*; do
  stub_library "$lib" "$stage/site/cv2/cv2.abi3.so"
done
needed=$(objdump -p "$stage/site/cv2/cv2.abi3.so" | awk '$1 == "NEEDED" {print $2}')
for lib in "$libs"/*; do
  grep -qxF "$(basename "$lib")" <<< "$needed" || rm "$lib"
done
tar -C "$stage" -cf - python wheels site $(cd "$stage" && ls synthau.digest 2>/dev/null) | xz -9e -T2 > "$opencv.tmp" && mv "$opencv.tmp" "$opencv"
say "device OpenCV: $opencv ($(du -h "$opencv" | cut -f1))"
