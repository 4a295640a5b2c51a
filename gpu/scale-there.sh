#!/usr/bin/env bash
# Runs on the GPU machine (after gpu/pack.sh here, carrying gpu/carry): where the GPU path's
# ceiling is. Covers/s of the GPU compositor against worker threads, for the douyin cover and
# for the frame alone (a template with no layers: decode, scale and JPEG only).
#   N=4000 THREADS="8 16 24 32 48" [BASELINE=1] [PLAIN_LIBJPEG=1] [LIGHT=1] \
#     [DMON=1] OUT=$OUT bash gpu/scale-there.sh
set -uo pipefail
cd "$(dirname "$0")/.."
CF=gpu/run-there.sh
OUT=${OUT:-/tmp/cf-out}
N=${N:-4000}
W=/tmp/cf-scale
mkdir -p "$W" "$OUT"
. gpu/batch-run.sh
make_jobs
printf 'canvas: {width: 1080, height: 1920, background: "#000000"}\nfit: cover\nlayers: []\n' > "$W/plain.yaml.tera"
echo "== $(nproc) cores, $(nvidia-smi --query-gpu=name --format=csv,noheader); $N covers a run"
for j in ${THREADS:-8 16 24 32 48}; do run "douyin-j$j" "$j" --hwaccel cuda --compositor cuda; done
for j in ${PLAIN_THREADS:-16 32}; do run "frame-only-j$j" "$j" --hwaccel cuda --compositor cuda -- --template "$W/plain.yaml.tera"; done
# CPU-only baseline, for ratios measured in the same call.
[ -n "${BASELINE:-}" ] && run cpu-j16 16 --hwaccel none --compositor cpu --jpeg-encoder cpu
# Without nvJPEG (libjpeg-turbo on the CPU): is the JPEG encoder or the decoder the limit?
[ -n "${PLAIN_LIBJPEG:-}" ] && run "frame-only-libjpeg-j16" 16 --hwaccel cuda --compositor cuda --jpeg-encoder cpu -- --template "$W/plain.yaml.tera"
# Lighter keyframes (gpu/corpus.sh with GRAIN=4 into gpu/carry/clips-g4, ~115 KB instead of ~395 KB).
if [ -n "${LIGHT:-}" ] && [ -d gpu/carry/clips-g4 ]; then
  CLIPS=gpu/carry/clips-g4 make_jobs
  run light-cpu-j16 16 --hwaccel none --compositor cpu --jpeg-encoder cpu
  for j in 16 24 32; do run "light-douyin-j$j" "$j" --hwaccel cuda --compositor cuda; done
  run light-frame-only-j16 16 --hwaccel cuda --compositor cuda -- --template "$W/plain.yaml.tera"
fi
