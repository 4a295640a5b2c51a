#!/usr/bin/env bash
# Runs on the GPU machine: the same GPU checks with two builds, to show a change keeps the GPU
# path's results. Carry gpu/carry with the baseline's stripped binary as gpu/carry/coverforge-old
# (same libraries). For each build: the compositor renders of gpu/bench-there.sh (hashed: the
# two builds must write the same bytes) and gpu/smoke-there.sh (its summary lines compared).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/cf-out}
mkdir -p "$OUT"
CF=gpu/run-there.sh
. gpu/compositor-renders.sh
for build in old new; do
  if [ $build = old ]; then export COVERFORGE_BIN=$PWD/gpu/carry/coverforge-old; else unset COVERFORGE_BIN; fi
  W=/tmp/cmp-$build; rm -rf "$W"; mkdir -p "$W"
  echo "== $build: compositor renders"
  compositor_renders > "$OUT/renders-$build.txt" 2>&1
  (cd "$W" && sha256sum *.png *.jpg) > "$OUT/hashes-$build.txt"
  echo "== $build: smoke"
  gpu/smoke-there.sh 2>&1 | grep -vE "c/s|^real|^user|^sys" > "$OUT/smoke-$build.txt"
done
unset COVERFORGE_BIN
echo "== renders: exit lines"; diff "$OUT/renders-old.txt" "$OUT/renders-new.txt" && echo "same"
echo "== renders: $(wc -l < "$OUT/hashes-new.txt") files hashed"; diff "$OUT/hashes-old.txt" "$OUT/hashes-new.txt" && echo "byte-identical"
echo "== smoke (throughput figures left out)"; diff "$OUT/smoke-old.txt" "$OUT/smoke-new.txt" && echo "same"
cat "$OUT/smoke-new.txt"
