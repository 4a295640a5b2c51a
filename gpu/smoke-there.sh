#!/usr/bin/env bash
# Runs on the GPU machine (after gpu/pack.sh here, carrying gpu/carry): the GPU compositor on the
# paths the benchmark does not take: keyframe cache (cold and warm), proof sheet, incremental
# re-run, PNG/WebP outputs, --jpeg-encoder cpu. 200 jobs; prints counts and PSNR against the CPU.
set -u
cd "$(dirname "$0")/.."
CF=gpu/run-there.sh; W=/tmp/smoke; N=200
rm -rf "$W"; mkdir -p "$W"
. gpu/batch-run.sh; make_jobs
sum() { python3 - "$1" <<'PY'
import json, sys, collections
rows=[json.loads(l) for l in open(sys.argv[1])]
jobs=[r for r in rows if "input" in r]; s=[r for r in rows if "summary" in r]
c=lambda k: dict(collections.Counter(j.get(k) for j in jobs))
print(" status", c("status"), "compositor", c("compositor"), "decoder", c("decoder"), "frame_source", c("frame_source"), "errors", [j["error"] for j in jobs if j.get("error")][:2], "c/s", s[0]["summary"]["covers_per_s"] if s else None)
PY
}
echo "== batch, compositor auto, keyframe cache, proof sheet"; $CF --compositor auto batch $W/jobs.csv -o $W/o1 -j 16 -q --cache-dir $W/cache --proof $W/proof.html --report $W/r1.jsonl; echo "exit $?"; sum $W/r1.jsonl
echo "== same again (incremental)"; $CF --compositor auto batch $W/jobs.csv -o $W/o1 -j 16 -q --cache-dir $W/cache --report $W/r2.jsonl; echo "exit $?"; sum $W/r2.jsonl
echo "== new folder, warm cache"; $CF --compositor cuda batch $W/jobs.csv -o $W/o3 -j 16 -q --cache-dir $W/cache --report $W/r3.jsonl; echo "exit $?"; sum $W/r3.jsonl
ls $W/o1/.coverforge/proof | wc -l; ls -la $W/proof.html | awk '{print "proof sheet bytes", $5}'
for f in a.png a.webp; do $CF --compositor cuda render gpu/carry/clips/clip0003.mp4 --meta gpu/carry/clips/clip0003.yaml -o $W/$f; done
$CF --compositor cuda --jpeg-encoder cpu render gpu/carry/clips/clip0003.mp4 --meta gpu/carry/clips/clip0003.yaml -o $W/cpuenc.jpg --json | python3 -c "import json,sys; d=json.load(sys.stdin); print('jpeg-encoder cpu:', d['compositor'], d['output_bytes'])"
$CF --hwaccel none --compositor cpu render gpu/carry/clips/clip0003.mp4 --meta gpu/carry/clips/clip0003.yaml -o $W/ref.png
python3 -c "
import cv2; r=cv2.imread('$W/ref.png')
for f in ['a.png','a.webp','cpuenc.jpg']:
    x=cv2.imread('$W/'+f); print(f, x.shape, 'PSNR vs CPU reference', round(cv2.PSNR(r,x),2))
"
