#!/usr/bin/env bash
# CPU per cover of two builds on the same clips, in the same run, alternating A and B so the
# machine's noise falls on both (for "costs at most X % more than before" targets).
#
#   BASE=/tmp/old/coverforge bench/ab.sh          # A = BASE, B = this checkout's release build
#   BASE=... N=200 R=5 CORPUS=phone bench/ab.sh   # corpus as bench/floor.sh makes it
#   TEMPLATE_A=a.yaml.tera TEMPLATE_B=b.yaml.tera bench/ab.sh   # one build, two templates
#                                                 # (BASE defaults to the build then)
#
# Prints each run's CPU ms per cover (user + system of the batch / covers, -j 2 --no-cache)
# and its rate (covers / wall seconds of the whole process, start-up included), then the
# medians' ratios B / A: CPU for "costs at most X % more", rate for start-up and thread layout.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-200}
R=${R:-5}
J=${J:-2}
CORPUS=${CORPUS:-phone}
TARGET=${CARGO_TARGET_DIR:-target}
ROOT=$(pwd)
[ -n "${BIN:-}" ] || { cargo build --release --quiet; BIN=$TARGET/release/coverforge; }
[ -n "${BASE:-}" ] || [ -n "${TEMPLATE_A:-}" ] || { echo "BASE=path/to/an/earlier/coverforge or TEMPLATE_A/TEMPLATE_B are needed"; exit 2; }
BASE=${BASE:-$BIN}
source bench/clips.sh
select_corpus "$CORPUS"
make_clips
# measure BINARY [TEMPLATE] -> "CPU ms a cover, covers/s"
measure() {
  rm -rf "$W/out-ab"
  local template=()
  [ -n "${2:-}" ] && template=(--template "$(realpath "$2")" --allow-path "$(dirname "$(realpath "$2")")")
  bench/timed.py "$W/ab-time.txt" "$1" --allow-path "$W/tpl" batch "$W/clips" -o "$W/out-ab" \
    -j "$J" -q --no-cache "${template[@]}" >/dev/null 2>"$W/ab-stderr.txt" || { echo "failed: $1 ($(tail -2 "$W/ab-stderr.txt"))"; exit 1; }
  awk -v n="$N" '{print $1 * 1000 / n, n / $2}' "$W/ab-time.txt"
}
A=(); B=(); RA=(); RB=()
for r in $(seq 1 "$R"); do
  read -r cpu rate < <(measure "$BASE" "${TEMPLATE_A:-}"); A+=("$cpu"); RA+=("$rate")
  read -r cpu rate < <(measure "$BIN" "${TEMPLATE_B:-}"); B+=("$cpu"); RB+=("$rate")
  echo "run $r: A $(printf %.2f "${A[-1]}") ms/cover $(printf %.1f "${RA[-1]}") covers/s, B $(printf %.2f "${B[-1]}") ms/cover $(printf %.1f "${RB[-1]}") covers/s"
done
python3 - "${A[*]}" "${B[*]}" "${RA[*]}" "${RB[*]}" <<'PY'
import statistics, sys
a, b, ra, rb = ([float(x) for x in arg.split()] for arg in sys.argv[1:5])
ma, mb = statistics.median(a), statistics.median(b)
print(f"median CPU per cover: A {ma:.2f} ms, B {mb:.2f} ms, B/A = {mb / ma:.3f}")
ma, mb = statistics.median(ra), statistics.median(rb)
print(f"median rate (wall):   A {ma:.1f} covers/s, B {mb:.1f} covers/s, B/A = {mb / ma:.3f}")
PY
