#!/usr/bin/env bash
# Runs every fuzz target for SECONDS each (default 660), J at a time, then minimises each corpus
# (`cargo fuzz cmin`) and drops inputs over the size cap. Logs go to fuzz/logs/ (git-ignored);
# the last status line of each run (executions, coverage, features, corpus) is printed.
#
#   fuzz/run.sh                 # all targets, 11 minutes each, two at a time
#   SECONDS_EACH=60 fuzz/run.sh metadata utm
#   SANITIZER=none fuzz/run.sh  # on stable-like builds without ASan
#
# Needs a nightly toolchain (rustup toolchain install nightly --profile minimal) and cargo-fuzz
# (cargo install cargo-fuzz).
set -uo pipefail
cd "$(dirname "$0")"
EACH=${SECONDS_EACH:-660}
J=${J:-2}
SAN=${SANITIZER:-address}
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(metadata template layout utm media)
declare -A MAXLEN=([metadata]=8192 [template]=8192 [layout]=8192 [utm]=2048 [media]=65536)
mkdir -p logs
cargo +nightly fuzz build -O -s "$SAN" >/dev/null
run() { # TARGET MAX_LEN
  local t=$1 max_len=$2
  mkdir -p "corpus/$t" "artifacts/$t"
  cargo +nightly fuzz run -O -s "$SAN" "$t" "corpus/$t" -- -max_total_time="$EACH" -timeout=10 \
    -rss_limit_mb=2048 -max_len="$max_len" -print_final_stats=1 > "logs/$t.log" 2>&1
  echo "$t: exit $? $(grep -E '^#[0-9]+' "logs/$t.log" | tail -1)"
}
export -f run; export EACH SAN
for t in "${targets[@]}"; do echo "$t ${MAXLEN[$t]}"; done | xargs -P "$J" -L1 bash -c 'run "$0" "$1"'
for t in "${targets[@]}"; do
  cargo +nightly fuzz cmin -O -s "$SAN" "$t" "corpus/$t" -- -max_len="${MAXLEN[$t]}" > "logs/$t.cmin.log" 2>&1
  find "corpus/$t" -type f -size +"$(( ${MAXLEN[$t]} / 1024 + 1 ))"k -delete
  echo "$t: corpus $(ls "corpus/$t" | wc -l) files, $(du -sh "corpus/$t" | cut -f1)"
done
