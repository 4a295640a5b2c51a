#!/usr/bin/env bash
# Runs on the GPU machine (device tool), after gpu/pack.sh and gpu/corpus.sh here, carrying
# gpu/carry:   gpu/bench-there.sh   (N jobs, default 4000; logs and reports under $OUT)
# 1. what `coverforge devices` finds (NVDEC in, NVENC out on Hopper);
# 2. NVDEC against software decodes of the same keyframes (PSNR, target >= 45 dB);
# 3. batch throughput, all cores, CPU-only (--hwaccel none) against NVDEC (--hwaccel cuda),
#    same manifest, no keyframe cache, fresh output folders, twice each, alternating;
# 4. animated covers: NVENC asked for explicitly fails cleanly; auto falls back to x264.
set -uo pipefail
cd "$(dirname "$0")/.."
CF=gpu/run-there.sh
OUT=${OUT:-/tmp/cf-out}
mkdir -p "$OUT"
N=${N:-4000}
J=${J:-$(nproc)}
W=/tmp/cf-bench
mkdir -p "$W"
echo "== machine: $(nproc) cores, $(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader)"
echo "== devices"; $CF devices 2>&1 | tee "$OUT/devices.txt"
find / \( -name "libnvjpeg.so*" -o -name "libcudart.so*" \) -not -path "/proc/*" 2>/dev/null | head -6
h=$(find / -name nvjpeg.h -not -path "/proc/*" 2>/dev/null | head -1); echo "nvjpeg.h: $h"; [ -n "$h" ] && grep -E "NVJPEG_INPUT_BGRI|NVJPEG_CSS_420" "$h"
echo "== decode check"
$CF devices --json --check-decode gpu/carry/clips/clip000{0..7}.mp4 samples/*.mp4 > "$OUT/decode-check.json"; echo "exit $?"
python3 - "$OUT/decode-check.json" <<'PY'
import json, sys
v = json.load(open(sys.argv[1]))
for c in v["decode_checks"]:
    print(f'{c["device"]} vs software {c["video"].split("/")[-1]}: {c["keyframes"]} keyframes, PSNR min {c["min_psnr_db"]:.2f} mean {c["mean_psnr_db"]:.2f} dB, {c["device_ms"]:.1f} vs {c["software_ms"]:.1f} ms')
PY
K=$(ls gpu/carry/clips/*.mp4 | wc -l)
{ echo "video,output,meta"; for k in $(seq 0 $((N - 1))); do i=$((k % K)); printf '%s/gpu/carry/clips/clip%04d.mp4,c%05d.jpg,%s/gpu/carry/clips/clip%04d.yaml\n' "$PWD" "$i" "$k" "$PWD" "$i"; done; } > "$W/jobs.csv"
run() { # accel jobs label [jpeg-encoder]
  rm -rf "$W/out-$3"
  local t0 t1; t0=$(date +%s.%N)
  timeout "${RUN_LIMIT:-100}" $CF --hwaccel "$1" --jpeg-encoder "${4:-cpu}" batch "$W/jobs.csv" -o "$W/out-$3" -j "$2" -q --no-cache --report "$W/$3.jsonl"
  local rc=$?; t1=$(date +%s.%N)
  python3 - "$W/$3.jsonl" "$t0" "$t1" "$3" "$rc" <<'PY' | tee -a "$OUT/throughput.txt"
import json, sys, collections
path, t0, t1, label, rc = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), sys.argv[4], sys.argv[5]
jobs = [json.loads(l) for l in open(path) if '"status"' in l and '"input"' in l]
ok = [j for j in jobs if j["status"] == "ok"]
dec = collections.Counter(j.get("decoder") for j in ok)
mean = lambda k: sum(j["ms"][k] for j in ok) / max(len(ok), 1)
print(f"{label}: {len(ok)}/{len(jobs)} ok (exit {rc}) in {t1-t0:.2f} s = {len(ok)/(t1-t0):.1f} covers/s; decoders {dict(dec)}; "
      f"mean ms decode {mean('decode_ms'):.1f} composite {mean('composite_ms'):.1f} encode {mean('encode_ms'):.1f}")
PY
}
echo "== throughput ($N covers, 1080x1920 JPEG q90 from 1080p H.264 keyframes)"
run none "$J" cpu-1; run cuda "$J" nvdec-1; run cuda "$J" nvdec-nvjpeg-1 nvjpeg
run none "$J" cpu-2; run cuda "$J" nvdec-2; run cuda "$J" nvdec-nvjpeg-2 nvjpeg
run cuda $((J * 3 / 2)) nvdec-1.5xthreads; run cuda $((J * 3 / 2)) nvdec-nvjpeg-1.5xthreads nvjpeg
python3 -c "import cv2; a=cv2.imread('$W/out-cpu-1/c00001.jpg'); b=cv2.imread('$W/out-nvdec-nvjpeg-1/c00001.jpg'); print('nvJPEG cover vs libjpeg-turbo cover (both q90) PSNR', round(cv2.PSNR(a,b),2), 'dB; sizes', __import__('os').path.getsize('$W/out-cpu-1/c00001.jpg'), __import__('os').path.getsize('$W/out-nvdec-nvjpeg-1/c00001.jpg'))"
echo "== animated covers"
$CF render samples/cooking.mp4 --meta samples/cooking.yaml -o "$W/a.mp4" --animated 2 --encoder nvenc; echo "nvenc asked for: exit $?"
$CF --hwaccel cuda render samples/cooking.mp4 --meta samples/cooking.yaml -o "$W/a.mp4" --animated 2 --json > "$OUT/animated.json"; echo "auto: exit $?"
python3 -c "import json; c=json.load(open('$OUT/animated.json'))['clip']; print(c['encoder'], c['backend'], c['frames'], 'frames', c['width'], 'x', c['height'], c['fps'], 'fps; decoded by', c['decoded_by'], '; fallbacks:', c['fallbacks'])"
echo "== same cover as the build machine (software decode must be byte-identical; NVDEC close)"
$CF --hwaccel none render gpu/carry/clips/clip0001.mp4 --meta gpu/carry/clips/clip0001.yaml -o "$W/sw.jpg" >/dev/null
$CF --hwaccel cuda render gpu/carry/clips/clip0001.mp4 --meta gpu/carry/clips/clip0001.yaml -o "$W/hw.jpg" >/dev/null
cmp "$W/sw.jpg" gpu/carry/ref-clip0001.jpg && echo "software cover identical to the build machine's"
python3 -c "import cv2; a=cv2.imread('$W/sw.jpg'); b=cv2.imread('$W/hw.jpg'); print('NVDEC cover vs software cover PSNR', round(cv2.PSNR(a,b),2), 'dB')"
cp "$W"/*.jsonl "$OUT/" 2>/dev/null; ls "$OUT"
