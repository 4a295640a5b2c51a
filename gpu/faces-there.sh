#!/usr/bin/env bash
# Runs on the GPU machine (device tool) after gpu/pack.sh, carrying gpu/carry: face detection
# (YuNet, its weights read through OpenCV's DNN module, carried since the shipped douyin template keeps faces clear by
# default) on the CPU and GPU paths, then douyin throughput with faces on (the template's
# default) and off, GPU path, same manifest, alternating.   N=2000 gpu/faces-there.sh
# (CLIPS_ONLY=1: the face clips only)
set -uo pipefail
cd "$(dirname "$0")/.."
CF=gpu/run-there.sh
OUT=${OUT:-/tmp/cf-out}
W=/tmp/cf-bench
mkdir -p "$OUT" "$W"
N=${N:-2000}
J=${J:-$(nproc)}
echo "== machine: $(nproc) cores, $(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader)"
echo "== face clips (a face at ~1/7 and one at ~1/21 of the frame's side), software and GPU paths"
for clip in clip small; do
  for mode in "--hwaccel none --compositor cpu" "--hwaccel cuda --compositor cuda"; do
    tag=$clip-$(echo "$mode" | tr -cd 'a-z')
    $CF $mode render gpu/carry/faces/$clip.mp4 --meta gpu/carry/faces/$clip.yaml -o "$OUT/face-$tag.jpg" --json \
      > "$OUT/face-$tag.json" 2> "$OUT/face-$tag.err"; echo "exit $? ($clip, $mode)"
    python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(' faces', d.get('faces'), 'decoder', d.get('decoded_by'), 'compositor', d.get('compositor'))" "$OUT/face-$tag.json" 2>&1 | head -3
    tail -2 "$OUT/face-$tag.err"
  done
done
[ "${CLIPS_ONLY:-}" = 1 ] && exit 0
. gpu/batch-run.sh
make_jobs
sed 's/^faces: .*/faces: false/' templates/douyin-9x16.yaml.tera > "$W/douyin-nofaces.yaml.tera"
for r in 1 2; do
  run "faces-on-$r" "$J" --hwaccel cuda --compositor cuda
  run "faces-off-$r" "$J" --hwaccel cuda --compositor cuda -- --template "$W/douyin-nofaces.yaml.tera" --allow-path "$W"
done
cat "$OUT/throughput.txt"
