#!/usr/bin/env bash
# Runs on the GPU machine (after gpu/pack.sh here): where the worker threads of a douyin batch
# wait. Attaches cuda-gdb to the running batch a few times and saves every thread's stack, plus
# the process's mappings; `python3 gpu/stacks.py DIR` here names coverforge's frames in them.
#   N=8000 THREADS=16 SAMPLES=4 OUT=$OUT bash gpu/stacks-there.sh
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/cf-out}
N=${N:-8000}
W=/tmp/cf-stacks
mkdir -p "$W" "$OUT"
. gpu/batch-run.sh
CLIPS=${CLIPS:-gpu/carry/clips-g4} make_jobs
gpu/run-there.sh batch "$W/jobs.csv" -o "$W/out" -j "${THREADS:-16}" -q --no-cache --hwaccel cuda --compositor cuda &
sleep 4
pid=$(pgrep -n -f "carry/coverforge batch")
grep -E "coverforge|libnvjpeg|libcudart" "/proc/$pid/maps" > "$OUT/maps.txt"
for i in $(seq 1 "${SAMPLES:-4}"); do
  timeout 20 /usr/local/cuda/bin/cuda-gdb -p "$pid" -batch -ex "set pagination off" -ex "thread apply all bt 14" 2>/dev/null |
    grep -E "^#|^Thread" > "$OUT/bt-$i.txt"
  sleep 1
done
kill "$pid"; wait 2>/dev/null
for f in "$OUT"/bt-*.txt; do echo "== $f: $(grep -c '^Thread' "$f") threads"; grep -E "^#[0-9]+ " "$f" |
  sed -E 's/^#[0-9]+ +(0x[0-9a-f]+ in )?//; s/ \(.*//' | sort | uniq -c | sort -rn | head -8; done
