#!/usr/bin/env bash
# Face recall on group photographs the detector was not tuned on: the demo photographs of two
# face-detection packages (npm's @vladmandic/face-api, PyPI's insightface), fetched from the
# registries on first use, run through `coverforge analyze --json`; each marked face
# (bench/faces.txt) counts as found when a detected box contains its centre, and every box
# containing none is a false face. BIN=path/to/coverforge compares another build.
set -euo pipefail
cd "$(dirname "$0")/.."
TARGET=${CARGO_TARGET_DIR:-target}
[ -n "${BIN:-}" ] || { cargo build --release --quiet; BIN=$TARGET/release/coverforge; }
W=$TARGET/bench-faces
mkdir -p "$W/face-api" "$W/insightface"
# fetch URL SHA256 FILE: a registry's package, checked against the digest it had when marked.
fetch() {
  [ -f "$3" ] && echo "$2  $3" | sha256sum -c --quiet 2>/dev/null && return
  curl -fsSL "$1" -o "$3.tmp" && echo "$2  $3.tmp" | sha256sum -c --quiet && mv "$3.tmp" "$3"
}
fetch https://registry.npmjs.org/@vladmandic/face-api/-/face-api-1.7.15.tgz \
  0d77fffeef362ef9c0939cf6c567f3a2e8e177f114fa257a3270cbd2e509b031 "$W/face-api.tgz"
fetch https://files.pythonhosted.org/packages/11/c7/7064625547238052effa5422b7d3e5512fa921dc0445737096861986e580/insightface-2.1.tar.gz \
  776cbd36b70f5f2ae1a026101cfb80387f0b2280a0dbaf073f8d3ed69f554e01 "$W/insightface.tgz"
tar xzf "$W/face-api.tgz" -C "$W/face-api" --strip-components=2 --wildcards 'package/demo/sample*.jpg'
tar xzf "$W/insightface.tgz" -C "$W/insightface" --strip-components=4 insightface-2.1/insightface/data/images/t1.jpg
files=$(grep -v '^#' bench/faces.txt | cut -d: -f1)
BIN=$(realpath "$BIN")
(cd "$W" && "$BIN" analyze --json $files) >"$W/analyze.json"
python3 - "$W/analyze.json" bench/faces.txt <<'PY'
import json, sys
measures = {m["file"]: m for m in json.load(open(sys.argv[1]))}
found = marked = false = 0
for line in open(sys.argv[2]):
    if line.startswith("#") or not line.strip():
        continue
    name, centres = line.split(":", 1)
    centres = [tuple(map(int, c.split(","))) for c in centres.split()]
    m = measures[name]
    if "face_boxes" not in m:
        sys.exit(f"{name}: {m['faces']} faces (a build from before analyze reported face boxes)")
    boxes = m["face_boxes"]
    inside = lambda b, c: b["x"] <= c[0] < b["x"] + b["width"] and b["y"] <= c[1] < b["y"] + b["height"]
    hits = sum(any(inside(b, c) for b in boxes) for c in centres)
    extra = sum(not any(inside(b, c) for c in centres) for b in boxes)
    long_side = max(m["width"], m["height"])
    sizes = " ".join(f'1/{long_side / max(b["width"], b["height"]):.0f}' for b in boxes)
    print(f"{name}: {hits}/{len(centres)} found, {extra} false (face sizes: {sizes})")
    found, marked, false = found + hits, marked + len(centres), false + extra
print(f"recall {found}/{marked} = {found / marked:.3f}, false faces {false}")
PY
