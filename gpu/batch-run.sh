# Sourced by the gpu/*-there.sh scripts: `run LABEL THREADS GLOBAL-OPTIONS... [-- BATCH-OPTIONS...]`
# runs `coverforge batch $W/jobs.csv` with fresh output, no keyframe cache, and appends a line
# (covers/s, decoders, compositors, mean stage times, the commonest errors) to $OUT/throughput.txt.
run() { # LABEL THREADS GLOBAL-OPTIONS... [-- BATCH-OPTIONS...]
  local label=$1 threads=$2; shift 2
  local global=() extra=()
  while [ $# -gt 0 ] && [ "$1" != "--" ]; do global+=("$1"); shift; done
  [ "${1:-}" = "--" ] && { shift; extra=("$@"); }
  set -- "${global[@]}"
  rm -rf "$W/out-$label"
  # With DMON=1, the GPU's utilisation each second (SM, memory, NVENC, NVDEC, NVJPG) meanwhile.
  local dmon=""
  if [ -n "${DMON:-}" ]; then nvidia-smi dmon -s u -d 1 > "$W/$label.dmon" 2>&1 & dmon=$!; fi
  local t0 t1; t0=$(date +%s.%N)
  timeout "${RUN_LIMIT:-100}" $CF "$@" batch "$W/jobs.csv" -o "$W/out-$label" -j "$threads" -q --no-cache --report "$W/$label.jsonl" "${extra[@]}"
  local rc=$?; t1=$(date +%s.%N)
  if [ -n "$dmon" ]; then
    kill "$dmon" 2>/dev/null; wait "$dmon" 2>/dev/null
    python3 - "$W/$label.dmon" <<'PY' | tee -a "$OUT/throughput.txt"
import sys
lines = open(sys.argv[1]).read().splitlines()
head = next((l.lstrip("#").split() for l in lines if l.startswith("# gpu")), [])
rows = [l.split() for l in lines if l.strip() and not l.startswith("#")]
rows = [r for r in rows if len(r) == len(head)]
num = lambda v: float(v) if v.replace(".", "").isdigit() else 0.0
busy = [r for r in rows if any(num(v) > 0 for v in r[1:])]
if busy:
    means = {h: sum(num(r[i]) for r in busy) / len(busy) for i, h in enumerate(head) if i > 0}
    print("   GPU utilisation %% while busy (nvidia-smi dmon, %d samples): " % len(busy) + ", ".join(f"{k} {v:.0f}" for k, v in means.items()))
else:
    print("   nvidia-smi dmon gave nothing usable:", " | ".join(lines[:4]))
PY
  fi
  python3 - "$W/$label.jsonl" "$t0" "$t1" "$label" "$rc" "${global[*]} ${extra[*]}" <<'PY' | tee -a "$OUT/throughput.txt"
import json, sys, collections
path, t0, t1, label, rc, opts = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), sys.argv[4], sys.argv[5], sys.argv[6]
jobs = [json.loads(l) for l in open(path) if '"status"' in l and '"input"' in l]
ok = [j for j in jobs if j["status"] == "ok"]
dec = collections.Counter(j.get("decoder") for j in ok)
comp = collections.Counter(j.get("compositor") for j in ok)
errors = collections.Counter((j.get("error") or "")[:160] for j in jobs if j["status"] != "ok")
mean = lambda k: sum(j["ms"][k] for j in ok) / max(len(ok), 1)
print(f"{label} ({opts}): {len(ok)}/{len(jobs)} ok (exit {rc}) in {t1-t0:.2f} s = {len(ok)/(t1-t0):.1f} covers/s; decoders {dict(dec)}; compositors {dict(comp)}; "
      f"mean ms decode {mean('decode_ms'):.1f} composite {mean('composite_ms'):.1f} encode {mean('encode_ms'):.1f}")
for e, n in errors.most_common(3): print(f"   {n} failed: {e}")
PY
}

make_jobs() { # $W/jobs.csv: N douyin jobs over the clips in ${CLIPS:-gpu/carry/clips}
  local d=$PWD/${CLIPS:-gpu/carry/clips} K
  K=$(ls "$d"/*.mp4 | wc -l)
  { echo "video,output,meta"; for k in $(seq 0 $((N - 1))); do i=$((k % K)); printf '%s/clip%04d.mp4,c%05d.jpg,%s/clip%04d.yaml\n' "$d" "$i" "$k" "$d" "$i"; done; } > "$W/jobs.csv"
}
