#!/usr/bin/env bash
# Instructions per cover of two builds (or two templates) under valgrind's callgrind: a count
# that does not move with the machine's load, for changes too small for bench/ab.sh's timings
# (runs of one build there range ±15 %). Instructions are not time (SIMD code does more per
# instruction), so a change is confirmed in time with bench/ab.sh once it is worth it.
#
#   BASE=/tmp/old/coverforge bench/instructions.sh         # A = BASE, B = this checkout's build
#   TEMPLATE_A=a.yaml.tera TEMPLATE_B=b.yaml.tera bench/instructions.sh
#   N=5 TOP=25 bench/instructions.sh                         # covers (phone corpus), rows shown
#   CORPUS=portrait BASE=... bench/instructions.sh           # a corpus as bench/floor.sh names it
#
# Each build renders N covers, then 2N in another process (-j 1, --no-cache: the N clips, then
# with the same clips again under other names and titles), so that start-up (the word
# segmenter's dictionary, reading fonts, the detector's model) cancels out: per cover = (run of
# 2N - run of N) / N, and what a batch costs besides its covers = run of N - N x per cover.
# Prints both builds' instructions per cover and per batch, the ratio, and the functions that
# differ most (inclusive, per cover).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-5}
TOP=${TOP:-20}
TARGET=${CARGO_TARGET_DIR:-target}
ROOT=$(pwd)
command -v valgrind >/dev/null || apt-get install -y -qq valgrind >/dev/null
[ -n "${BIN:-}" ] || { cargo build --release --quiet; BIN=$TARGET/release/coverforge; }
[ -n "${BASE:-}" ] || [ -n "${TEMPLATE_A:-}" ] || { echo "BASE=path/to/an/earlier/coverforge or TEMPLATE_A/TEMPLATE_B are needed"; exit 2; }
BASE=${BASE:-$BIN}
J=1
source bench/clips.sh
select_corpus "${CORPUS:-phone}"
make_clips >/dev/null
S=$TARGET/bench-instructions
rm -rf "$S" && mkdir -p "$S/one" "$S/two"
for i in $(seq 0 $((N - 1))); do
  name=$(printf 'clip%04d' "$i")
  for d in one two; do
    ln -s "$(realpath "$W/clips/$name.mp4")" "$S/$d/$name.mp4"
    sed "s#\.\./tpl/#$W/tpl/#" "$W/clips/$name.yaml" > "$S/$d/$name.yaml"
  done
  ln -s "$(realpath "$W/clips/$name.mp4")" "$S/two/again-$name.mp4"
  # Titles of their own: text masks are drawn once per distinct text, and a repeat would hide
  # their cost from the difference.
  sed -e "s#\.\./tpl/#$W/tpl/#" -e 's/^title: \(.*\)$/title: \1！/' "$W/clips/$name.yaml" > "$S/two/again-$name.yaml"
done
# instructions BINARY FOLDER [TEMPLATE] -> total instructions; keeps the profile in $S/last.out
instructions() {
  local template=()
  [ -n "${3:-}" ] && template=(--template "$(realpath "$3")" --allow-path "$(dirname "$(realpath "$3")")")
  rm -rf "$S/out"
  valgrind --tool=callgrind --callgrind-out-file="$S/last.out" "$1" --allow-path "$W/tpl" batch "$2" \
    -o "$S/out" -j 1 -q --no-cache "${template[@]}" 2>"$S/valgrind.txt" >/dev/null ||
    { echo "failed: $1 ($(tail -3 "$S/valgrind.txt"))"; exit 1; }
  grep -o 'Collected : [0-9]*' "$S/valgrind.txt" | awk '{print $3}'
}
# Inclusive instructions of coverforge's own functions in a profile: "count<TAB>name" (a
# function listed under several source files, as inlining does, counts at its largest).
functions() { callgrind_annotate --inclusive=yes --threshold=100 "$1" 2>/dev/null | python3 -c '
import re, sys
best = {}
for line in sys.stdin:
    m = re.match(r"^\s*([\d,]+) \(\s*[\d.]+%\)\s+\S*?:(.*?)(?: \[[^\]]*\])?$", line.rstrip())
    if m and "coverforge::" in m.group(2) and "{{closure}}" not in m.group(2):
        name, n = m.group(2).strip(), int(m.group(1).replace(",", ""))
        best[name] = max(best.get(name, 0), n)
for name, n in best.items():
    print(f"{n}\t{name}")
'; }
declare -A PER
for side in A B; do
  if [ "$side" = A ]; then bin=$BASE; tpl=${TEMPLATE_A:-}; else bin=$BIN; tpl=${TEMPLATE_B:-}; fi
  one=$(instructions "$bin" "$S/one" "$tpl"); functions "$S/last.out" > "$S/$side-one.txt"
  two=$(instructions "$bin" "$S/two" "$tpl"); functions "$S/last.out" > "$S/$side-two.txt"
  PER[$side]=$(( (two - one) / N ))
  echo "$side: $(( PER[$side] / 1000 )) k instructions a cover, $(( (one - N * PER[$side]) / 1000000 )) M a batch besides (start-up and exit; runs of $N and $((2 * N)) covers: $one, $two)"
done
python3 - "${PER[A]}" "${PER[B]}" "$S" "$N" "$TOP" <<'PY'
import sys
a, b, s, n, top = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
print(f"B/A = {b / a:.3f}")
def per_cover(side):
    read = lambda f: {l.rstrip("\n").split("\t")[1]: int(l.split("\t")[0]) for l in open(f"{s}/{side}-{f}.txt")}
    one, two = read("one"), read("two")
    return {k: (two[k] - one.get(k, 0)) / n for k in two}
pa, pb = per_cover("A"), per_cover("B")
rows = sorted(set(pa) | set(pb), key=lambda k: -abs(pb.get(k, 0) - pa.get(k, 0)))[:top]
print(f"{'function (inclusive, per cover)':70} {'A':>12} {'B':>12} {'B - A':>12}")
for k in rows:
    print(f"{k[:70]:70} {pa.get(k, 0) / 1e3:11.0f}k {pb.get(k, 0) / 1e3:11.0f}k {(pb.get(k, 0) - pa.get(k, 0)) / 1e3:+11.0f}k")
PY
