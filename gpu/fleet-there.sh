#!/usr/bin/env bash
# Runs on the GPU machine (carry gpu/carry after gpu/pack.sh and gpu/pack-redis.sh): a mixed
# fleet on one Redis stream — a GPU worker (NVDEC + GPU compositor) and a CPU worker, the cores
# split between them explicitly with taskset — against the GPU worker alone with every core.
# N jobs over the corpus clips, twice each, alternating; covers/s from `enqueue --wait`.
set -uo pipefail
cd "$(dirname "$0")/.."
N=${N:-2000}
CORES=$(nproc)
HALF=$((CORES / 2))
OUT=${OUT:-/tmp/cf-out}
W=/tmp/cf-fleet
rm -rf "$W" && mkdir -p "$W" "$OUT"
. gpu/batch-run.sh
make_jobs
CF=gpu/run-there.sh
LD_LIBRARY_PATH=$PWD/gpu/carry/redis/lib gpu/carry/redis/redis-server --port 0 --unixsocket "$W/redis.sock" \
  --save "" --appendonly no --daemonize yes --pidfile "$W/redis.pid" --logfile "$W/redis.log"
while [ ! -S "$W/redis.sock" ]; do sleep 0.05; done
R="redis+unix://$W/redis.sock"
worker() { # STREAM NAME CPUS THREADS OPTIONS...
  local stream=$1 name=$2 cpus=$3 threads=$4; shift 4
  taskset -c "$cpus" $CF "$@" worker --redis "$R" --stream "$stream" --name "$name" -j "$threads" > "$W/$name.log" 2>&1 &
}
run() { # LABEL
  local label=$1 t0 t1
  t0=$(date +%s.%N)
  $CF enqueue "$W/jobs.csv" -o "$W/out-$label" --redis "$R" --stream "$label" --wait --report "$W/$label.jsonl" > "$W/$label.enqueue.log" 2>&1
  t1=$(date +%s.%N)
  pkill -TERM -f "worker --redis $R --stream $label" ; sleep 1
  python3 - "$W/$label.jsonl" "$label" "$t0" "$t1" <<'PY' | tee -a "$OUT/fleet.txt"
import json, sys, collections
rows = [json.loads(l) for l in open(sys.argv[1])]
label, t0, t1 = sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
by = collections.Counter(r["worker"].rsplit("-", 1)[0] for r in rows)
st = collections.Counter(r["status"] for r in rows)
print(f"{label}: {len(rows)} jobs in {t1 - t0:.1f} s = {len(rows) / (t1 - t0):.1f} covers/s; by worker {dict(by)}; {dict(st)}")
PY
}
echo "== machine: $CORES cores, $(nvidia-smi --query-gpu=name --format=csv,noheader); $N jobs" | tee "$OUT/fleet.txt"
for round in 1 2; do
  worker "gpu-alone-$round" gpu 0-$((CORES - 1)) "$CORES" --hwaccel cuda --compositor cuda
  sleep 1; run "gpu-alone-$round"
  worker "mixed-$round" gpu 0-$((HALF - 1)) "$HALF" --hwaccel cuda --compositor cuda
  worker "mixed-$round" cpu $HALF-$((CORES - 1)) "$HALF" --hwaccel none --compositor cpu --jpeg-encoder cpu
  sleep 1; run "mixed-$round"
done
kill "$(cat "$W/redis.pid")"
