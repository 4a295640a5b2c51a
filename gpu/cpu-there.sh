#!/usr/bin/env bash
# Runs on the GPU machine (after gpu/pack.sh here): where the GPU path's worker threads spend
# CPU. The douyin cover against the frame alone, light corpus (gpu/carry/clips-g4), alternating
# rounds; for each run the report's cores busy and every stage's mean wall and worker-thread CPU.
#   N=2000 ROUNDS=2 THREADS=16 OUT=$OUT bash gpu/cpu-there.sh
#   FIRST=frame ...                 # the frame-only run before the douyin one in each round
set -uo pipefail
cd "$(dirname "$0")/.."
CF=gpu/run-there.sh
OUT=${OUT:-/tmp/cf-out}
N=${N:-2000}
W=/tmp/cf-cpu
mkdir -p "$W" "$OUT"
. gpu/batch-run.sh
CLIPS=${CLIPS:-gpu/carry/clips-g4} make_jobs
printf 'canvas: {width: 1080, height: 1920, background: "#000000"}\nfit: cover\nlayers: []\n' > "$W/plain.yaml.tera"
sed 's/^faces: .*/faces: false/' templates/douyin-9x16.yaml.tera > "$W/douyin-nofaces.yaml.tera"
j=${THREADS:-16}
stages() { python3 - "$W/$1.jsonl" <<'PY' | tee -a "$OUT/throughput.txt"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
ok = [r for r in rows if r.get("status") == "ok"]
s = next((r["summary"] for r in rows if "summary" in r), {})
mean = lambda k: sum(r["ms"].get(k, 0) for r in ok) / max(len(ok), 1)
parts = [f"{st} {mean(st + '_ms'):.1f}/{mean(st + '_cpu_ms'):.1f}" for st in ["layout", "decode", "composite", "encode"]]
print(f"   wall/CPU ms a cover: {', '.join(parts)}; cores busy {s.get('cores_busy', 0):.2f}, CPU {s.get('cpu_s', 0):.1f} s = {1000 * s.get('cpu_s', 0) / max(len(ok), 1):.1f} ms a cover")
PY
}
echo "== $(nproc) cores, $(nvidia-smi --query-gpu=name --format=csv,noheader); $N covers a run, -j $j" | tee -a "$OUT/throughput.txt"
douyin() { run "douyin-$1" "$j" --hwaccel cuda --compositor cuda; stages "douyin-$1"; }
frame() { run "frame-$1" "$j" --hwaccel cuda --compositor cuda -- --template "$W/plain.yaml.tera"; stages "frame-$1"; }
for r in $(seq 1 "${ROUNDS:-2}"); do
  # The first run on a fresh machine pays its first CUDA contexts and the GPU's clocks coming
  # up: FIRST=frame puts the frame-only run first, to see which of the two the cold round holds.
  if [ "${FIRST:-douyin}" = frame ]; then frame "$r"; douyin "$r"; else douyin "$r"; frame "$r"; fi
  run "nofaces-$r" "$j" --hwaccel cuda --compositor cuda -- --template "$W/douyin-nofaces.yaml.tera"; stages "nofaces-$r"
  run "cpucomp-$r" "$j" --hwaccel cuda --compositor cpu --jpeg-encoder cpu; stages "cpucomp-$r"
done
