#!/usr/bin/env bash
# au-reproduce's runs side by side on one GPU machine (the device tool), with what
# setup/device/bundle.sh packed (docs/gpu.md). From the repo root there:
#   bash setup/device/reproduce.sh SECONDS EXPERIMENT RUN... -- AU-REPRODUCE-OPTIONS
#   bash setup/device/reproduce.sh                  (.device-opencv alone carried: the data only)
# e.g. bash setup/device/reproduce.sh 540 fig5 alexnet/au1_np5_p258 alexnet_msr/au1_np5_p258 -- --budget cpu --gpu
# 1. builds data/synthau as `make data` does, with this clone's OpenCV where .device-opencv is
#    carried, and stops unless it is the data the bundle was made beside (fingerprint and pixel
#    digest);
#    with no .device/bundle.tar.xz carried, it stops there: the data stays on the machine while it
#    is warm, for a next call that carries the bundle (the two do not travel together);
# 2. trains each RUN (method/data, as `au-reproduce EXPERIMENT --plan` names them) in a process of
#    its own, JOBS at a time, evaluating with `caffe test` (no pycaffe for this machine's Python),
#    all stopped at SECONDS after the script began; a run stopped unfinished is lost;
# 3. rewrites the report from results/ and packs results/synthau/EXPERIMENT and the logs into
#    $OUT/results.tar.xz (default OUT: .device/out), to unpack in this clone.
set -u
t0=$(date +%s)
seconds=${1:-0} experiment=${2:-}
shift $(( $# < 2 ? $# : 2 ))
runs=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do runs+=("$1"); shift; done
[ $# -gt 0 ] && shift
options=("$@")
OUT=${OUT:-.device/out}
mkdir -p "$OUT/logs"
say() { echo "[device $(( $(date +%s) - t0 )) s] $*"; }
main() { python3 -c 'import importlib, sys; sys.exit(importlib.import_module(sys.argv.pop(1)).main())' "$@"; }

d=${BUNDLE_DIR:-/tmp/bundle}
mkdir -p "$d"
for payload in .device-opencv/opencv.tar.xz .device/bundle.tar.xz; do
  [ -f "$payload" ] || continue
  tar -xJf "$payload" -C "$d" || { say "cannot unpack $payload"; exit 3; }
  say "unpacked $payload"
done
[ -d "$d/python" ] || { say "carry .device-opencv or .device (setup/device/bundle.sh writes them)"; exit 3; }
python3 -m pip install -q --no-index --no-deps --no-compile --upgrade --target /tmp/site "$d"/wheels/*.whl || exit 3
want=$(ls "$d/wheels" | sed -n 's/^protobuf-\([^-]*\)-.*/\1/p')
have=$(PYTHONPATH=/tmp/site python3 -c 'import google.protobuf as p; print(p.__version__)' 2>/dev/null)
[ -n "$want" ] && [ "$have" = "$want" ] || {
  say "protobuf ${have:-missing}, not this clone's ${want:-(none in the bundle: run setup/device/bundle.sh again)}:" \
      "the nets' text, and so each run's code fingerprint, would not be this clone's"; exit 3; }
cu13=$(python3 -c 'import nvidia, os; print(os.path.join(list(nvidia.__path__)[0], "cu13", "lib"))' 2>/dev/null)
export LD_LIBRARY_PATH=$d/lib:${cu13:+$cu13:}/usr/local/nvidia/lib64${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
export PYTHONPATH=/tmp/site:$d/python:$PWD PYTHONUNBUFFERED=1
[ -d "$d/site" ] && export PYTHONPATH=$d/site:$PYTHONPATH
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 | sed 's/^/[device] GPU: /'
say "OpenCV $(python3 -c 'import cv2; print(cv2.__version__)'); $(nproc) cores; $(df -h /tmp | awk 'NR == 2 {print $4}') free in /tmp"

# synthau's builder as `make data` runs it (up to date in seconds when an earlier call built it).
if [ -f "$d/synthau.digest" ]; then
  main data_prep.build_synthau --mirror --no-progress > "$OUT/logs/build_synthau.log" 2>&1 \
    || { say "au-build-synthau failed:"; tail -5 "$OUT/logs/build_synthau.log"; exit 4; }
  built=$(python3 -m data_prep.lmdb_io data/synthau)
  say "data/synthau built: $built; this clone's: $(cat "$d/synthau.digest")"
  # Another OpenCV draws other pixels (the machine's 5.0.0 did): runs on them would not be this clone's.
  [ "$built" = "$(cat "$d/synthau.digest")" ] || {
    say "not this clone's data: carry .device-opencv in a call of its own first"; exit 5; }
fi
[ -n "$(ls "$d"/caffe-*/bin/caffe 2>/dev/null)" ] || { say "no bundle carried: data only, done"; exit 0; }
export DSCMR_CAFFE=${DSCMR_CAFFE:-$(ls "$d"/caffe-*/bin/caffe)}
say "caffe $DSCMR_CAFFE"

# JOBS runs at a time (default: all): with fewer, the first ones finish, and are kept, before the
# deadline stops the rest.
jobs=${JOBS:-${#runs[@]}}
declare -A running=()
finished() {
  local pid=$1 rc=$2
  say "${running[$pid]}: exit status $rc$([ "$rc" = 124 ] && echo ' (stopped at the deadline)')"
  unset "running[$pid]"
}
for run in "${runs[@]}"; do
  while [ ${#running[@]} -ge "$jobs" ]; do
    wait -n -p pid; finished "$pid" $?
  done
  left=$(( seconds - ($(date +%s) - t0) ))
  [ "$left" -gt 0 ] || { say "$run: not started, the deadline has passed"; continue; }   # timeout 0 never stops
  log="$OUT/logs/$(echo "$run" | tr '/' '_').log"
  OMP_NUM_THREADS=2 timeout "$left" \
    python3 -c 'import sys; from tools.experiments.reproduce import main; sys.exit(main())' \
    "$experiment" "${options[@]}" --evaluate-with caffe-test --only "$run" --work /tmp/work > "$log" 2>&1 &
  running[$!]=$run
  say "$run: started"
  sleep 2   # the first process derives the datasets (data_prep/derive.py holds a lock); the rest reuse them
done
while [ ${#running[@]} -gt 0 ]; do
  wait -n -p pid; finished "$pid" $?
done
main tools.experiments.reproduce "$experiment" "${options[@]}" --report \
  > "$OUT/logs/report.log" 2>&1
tar -cJf "$OUT/results.tar.xz" "results/synthau/$experiment" -C "$OUT" logs   # the one dataset it builds
say "packed $OUT/results.tar.xz"
