#!/usr/bin/env bash
# Before/after benchmark (run by hand): two coverforge builds on the same clips in the same run,
# alternating so that machine noise falls on both, and the ratio of their medians.
#
#   OLD=/path/old/coverforge NEW=target/release/coverforge bench/compare.sh
#   OLD_BENCH=... NEW_BENCH=... bench/compare.sh   # also the in-process bench binaries
#                                                  # (cargo bench --no-run prints their paths)
#   N=100 RUNS=3 J=2 bench/compare.sh
#
# Batch: cold `batch -j J --no-cache` over N clips (bench/clips.sh), covers/s per run.
# In-process: `cover_vs_ffmpeg --bench`, ms/cover of the in-process line (ffmpeg part shortened).
# A ratio new/old >= 1 means the new build is at least as fast.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-100}
J=${J:-2}
RUNS=${RUNS:-3}
GRAIN=${GRAIN:-10}
OLD=${OLD:?set OLD to the baseline coverforge binary}
NEW=${NEW:-${CARGO_TARGET_DIR:-target}/release/coverforge}
W=target/bench-batch-g$GRAIN
ROOT=$(pwd)
source bench/clips.sh
make_clips

now() { date +%s.%N; }
median() { python3 -c "import statistics,sys; print(statistics.median(float(x) for x in sys.argv[1:]))" "$@"; }

batch_rate() {
  rm -rf "$W/cmp-out"
  local t0 t1
  # Builds that confine template reads need the clips' ../tpl folder allowed.
  local allow=()
  "$1" --help 2>/dev/null | grep -q -- --allow-path && allow=(--allow-path "$W/tpl")
  t0=$(now)
  "$1" "${allow[@]}" batch "$W/clips" -o "$W/cmp-out" -j "$J" -q --no-cache --report "$W/cmp.jsonl" >/dev/null 2>&1 || true
  t1=$(now)
  grep -q '"status":"ok"' "$W/cmp.jsonl" || { echo "$1 rendered nothing (see $W/cmp.jsonl)" >&2; exit 1; }
  python3 -c "print(f'{$N/($t1-$t0):.2f}')"
}

old_rates=(); new_rates=()
for r in $(seq "$RUNS"); do
  old_rates+=("$(batch_rate "$OLD")")
  new_rates+=("$(batch_rate "$NEW")")
  echo "batch run $r: old ${old_rates[-1]} covers/s, new ${new_rates[-1]} covers/s"
done
old_m=$(median "${old_rates[@]}"); new_m=$(median "${new_rates[@]}")

inproc() {
  BENCH_COVERS=${BENCH_COVERS:-40} BENCH_FFMPEG_COVERS=1 "$1" --bench 2>/dev/null \
    | awk '/coverforge, in-process/ {print $3}'
}
if [ -n "${OLD_BENCH:-}" ] && [ -n "${NEW_BENCH:-}" ]; then
  old_ms=(); new_ms=()
  for r in $(seq "$RUNS"); do
    old_ms+=("$(inproc "$OLD_BENCH")")
    new_ms+=("$(inproc "$NEW_BENCH")")
    echo "in-process run $r: old ${old_ms[-1]} ms/cover, new ${new_ms[-1]} ms/cover"
  done
fi

echo
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(date -u +%F)"
echo "batch, $N clips, -j $J, cold, median of $RUNS: old $old_m covers/s, new $new_m covers/s," \
  "new/old $(python3 -c "print(f'{$new_m/$old_m:.3f}')")"
if [ -n "${old_ms:-}" ]; then
  o=$(median "${old_ms[@]}"); n=$(median "${new_ms[@]}")
  echo "in-process, median of $RUNS: old $o ms/cover, new $n ms/cover, new/old speed $(python3 -c "print(f'{$o/$n:.3f}')")"
fi
