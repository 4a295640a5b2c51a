#!/usr/bin/env bash
# Hot reload benchmark (run by hand): the time from a saved template edit to the new cover on
# disk under `batch --watch`, against the composite + encode time of that same cover in the
# same run (from its report line). Target: at most 1.5x plus the debounce (200 ms).
#
#   bench/watch.sh            # 8 edits of the douyin sample's template
#   EDITS=20 bench/watch.sh
set -euo pipefail
cd "$(dirname "$0")/.."
EDITS=${EDITS:-8}
BIN=${CARGO_TARGET_DIR:-target}/release/coverforge
W=target/bench-watch
cargo build --release --quiet
rm -rf "$W" && mkdir -p "$W"
cp samples/cooking.mp4 "$W/cooking.mp4"
cp templates/douyin-9x16.yaml.tera "$W/brand.yaml.tera"
sed 's/^template: .*/template: .\/brand.yaml.tera/; s/^frame: .*/frame: 2s/' samples/cooking.yaml > "$W/cooking.yaml"
sed -i "s|^watermark: .*|watermark: $(pwd)/samples/assets/logo.png|" "$W/cooking.yaml"
COVERFORGE_HOME=$(pwd) "$BIN" --allow-path "$(pwd)/samples" batch "$W" -o "$W/out" --watch --no-cache -q \
  --report "$W/r.jsonl" 2> "$W/watch.log" &
pid=$!
trap 'kill $pid 2>/dev/null' EXIT
python3 - "$W" "$EDITS" <<'PY'
import json, os, statistics, sys, time
w, edits = sys.argv[1], int(sys.argv[2])
cover, tpl, report = f"{w}/out/cooking.jpg", f"{w}/brand.yaml.tera", f"{w}/r.jsonl"
start = time.time()
while not os.path.exists(cover):
    if time.time() - start > 60: sys.exit("no first cover: " + open(f"{w}/watch.log").read())
    time.sleep(0.01)
time.sleep(0.5)
base = open(tpl).read()
rows = []
for i in range(edits):
    before = os.stat(cover).st_mtime_ns
    alpha = "%02X" % (0xC0 + (i % 2) * 0x10 + i)  # every edit changes the cover
    t0 = time.perf_counter()
    with open(tpl, "w") as f: f.write(base.replace("#000000E0", f"#000000{alpha}"))
    while os.stat(cover).st_mtime_ns == before:
        if time.perf_counter() - t0 > 30: sys.exit("no re-render")
        time.sleep(0.002)
    latency = (time.perf_counter() - t0) * 1000
    time.sleep(0.3)  # the report is written after the cover
    job = next(json.loads(l) for l in open(report) if l.startswith('{"input"'))
    work = job["ms"]["composite_ms"] + job["ms"]["encode_ms"]
    rows.append((latency, work, job["ms"]["decode_ms"], job.get("frame_source")))
    print(f"edit {i + 1}: saved → cover {latency:7.1f} ms; composite + encode {work:6.1f} ms; frame from {job.get('frame_source')} ({job['ms']['decode_ms']:.1f} ms)")
lat = statistics.median(r[0] for r in rows); work = statistics.median(r[1] for r in rows)
print(f"median: saved → cover {lat:.1f} ms, composite + encode {work:.1f} ms; "
      f"(latency - 200 ms debounce) / work = {(lat - 200) / work:.2f}x  [target <= 1.5x]")
PY
