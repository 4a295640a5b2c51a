#!/usr/bin/env bash
# Worker fleet benchmark (run by hand): Redis Streams against batch on the same machine and
# clips, all measured in the same run.
#   1. throughput: `batch -j J` vs one `worker -j J` fed by `enqueue --wait` (target >= 0.95x);
#   2. queue overhead per job: single jobs enqueued one at a time to an idle worker, enqueue →
#      result minus render time, as a share of the render time (target <= 3 % median);
#   3. enqueue rate of a manifest against redis-benchmark's XADD rate (target >= 50 %).
#
#   N=100 J=2 bench/queue.sh
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-100}
J=${J:-2}
GRAIN=${GRAIN:-10}
W=target/bench-batch-g$GRAIN
ROOT=$(pwd)
BIN=${CARGO_TARGET_DIR:-target}/release/coverforge
cargo build --release --quiet
source bench/clips.sh
make_clips
Q=$(mktemp -d)
redis-server --port 0 --unixsocket "$Q/redis.sock" --save "" --appendonly no --daemonize yes --pidfile "$Q/redis.pid" --logfile "$Q/redis.log"
while [ ! -S "$Q/redis.sock" ]; do sleep 0.05; done
R="redis+unix://$Q/redis.sock"
cleanup() { pkill -TERM -f "coverforge worker --redis $R" 2>/dev/null || true; kill "$(cat "$Q/redis.pid")" 2>/dev/null || true; rm -rf "$Q"; }
trap cleanup EXIT
now() { date +%s.%N; }

# Content hashes of the clips are computed once and cached: warm them outside the timings.
"$BIN" --allow-path "$W/tpl" worker --redis "$R" --stream warm --name warm -j "$J" >/dev/null 2>&1 &
"$BIN" --allow-path "$W/tpl" enqueue "$W/clips" -o "$Q/warm" --redis "$R" --stream warm --wait >/dev/null
pkill -TERM -f "worker --redis $R --stream warm" || true

for run in 1 2 3; do
  rm -rf "$Q/batch" "$Q/queue"
  t0=$(now); "$BIN" --allow-path "$W/tpl" batch "$W/clips" -o "$Q/batch" -j "$J" -q --no-cache || true; t1=$(now)
  batch_rate=$(python3 -c "print($N/($t1-$t0))")
  "$BIN" --allow-path "$W/tpl" worker --redis "$R" --stream "run$run" --name "w$run" -j "$J" --no-cache >/dev/null 2>&1 &
  sleep 0.5
  t0=$(now); "$BIN" --allow-path "$W/tpl" enqueue "$W/clips" -o "$Q/queue" --redis "$R" --stream "run$run" --wait >/dev/null; t1=$(now)
  queue_rate=$(python3 -c "print($N/($t1-$t0))")
  pkill -TERM -f "worker --redis $R --stream run$run" || true
  echo "run $run: batch $(printf %.1f "$batch_rate") covers/s, one worker $(printf %.1f "$queue_rate") covers/s, worker/batch $(python3 -c "print(f'{$queue_rate/$batch_rate:.3f}')")  [target >= 0.95]"
done

# Queue overhead: one job at a time to an idle worker.
"$BIN" --allow-path "$W/tpl" worker --redis "$R" --stream solo --name solo -j 1 >/dev/null 2>&1 &
sleep 0.5
for i in $(seq 0 19); do
  d="$Q/solo/$i"; mkdir -p "$d"
  name=$(printf 'clip%04d' "$i")
  ln -s "$ROOT/$W/clips/$name.mp4" "$d/$name.mp4"
  sed "s|^template: .*|template: $ROOT/$W/tpl/brand.yaml.tera|" "$W/clips/$name.yaml" > "$d/$name.yaml"
  "$BIN" --allow-path "$W/tpl" enqueue "$d" -o "$Q/solo-out" --redis "$R" --stream solo --wait --report "$d/r.jsonl" >/dev/null
done
pkill -TERM -f "worker --redis $R --stream solo" || true
python3 - "$Q/solo" <<'PY'
import glob, json, statistics, sys
rows = [json.loads(open(f).read().splitlines()[0]) for f in sorted(glob.glob(sys.argv[1] + "/*/r.jsonl"))]
share = [(r["queue_ms"] - r["render_ms"]) / r["render_ms"] for r in rows]
print(f"queue overhead per job (enqueue → result minus render), {len(rows)} jobs: median "
      f"{statistics.median(r['queue_ms'] - r['render_ms'] for r in rows):.2f} ms on a median render of "
      f"{statistics.median(r['render_ms'] for r in rows):.1f} ms = {100 * statistics.median(share):.2f} %  [target <= 3 %]")
PY

# Enqueue rate: a manifest of 20000 jobs over the clips against redis-benchmark's XADD.
M=20000
{ echo "video,output,meta"; for k in $(seq 0 $((M - 1))); do i=$((k % N)); printf 'clips/clip%04d.mp4,m%05d.jpg,clips/clip%04d.yaml\n' "$i" "$k" "$i"; done; } > "$W/enqueue.csv"
t0=$(now); "$BIN" --allow-path "$W/tpl" enqueue "$W/enqueue.csv" -o "$Q/m" --redis "$R" --stream rate >/dev/null; t1=$(now)
ours=$(python3 -c "print($M/($t1-$t0))")
theirs=$(redis-benchmark -s "$Q/redis.sock" -n 50000 -q XADD benchstream '*' f v 2>/dev/null | grep -oE '[0-9.]+ requests per second' | grep -oE '^[0-9.]+')
echo "enqueue: $(printf %.0f "$ours") jobs/s (a $M-job manifest, process start included); redis-benchmark XADD: $theirs/s; ours/theirs $(python3 -c "print(f'{$ours/$theirs:.2f}')")  [target >= 0.5]"
