#!/usr/bin/env bash
# Runs on the GPU machine (device tool), after gpu/pack.sh and gpu/corpus.sh here, carrying
# gpu/carry:   gpu/bench-there.sh   (N jobs, default 4000; logs and reports under $OUT)
# 1. what `coverforge devices` finds (NVDEC in, NVENC out on Hopper);
# 2. NVDEC against software decodes of the same keyframes (PSNR, target >= 45 dB);
# 3. the GPU compositor against the CPU one on the same frames (PNG and JPEG);
# 4. batch throughput, all cores: CPU only, NVDEC + CPU compositing + nvJPEG, NVDEC + GPU
#    compositor; same manifest, no keyframe cache, fresh output folders, twice each, alternating;
# 5. animated covers: NVENC asked for explicitly fails cleanly; auto falls back to x264.
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
. gpu/batch-run.sh  # make_jobs; run LABEL THREADS OPTIONS... [-- BATCH OPTIONS...]
make_jobs
echo "== GPU compositor against the CPU compositor (PNG: pixels, JPEG: as shipped)"
. gpu/compositor-renders.sh; compositor_renders
python3 - "$W" <<'PY' | tee "$OUT/compositor-check.txt"
import cv2, sys, numpy as np
W = sys.argv[1]
def cmp(a, b, what):
    x, y = cv2.imread(f"{W}/{a}"), cv2.imread(f"{W}/{b}")
    if x is None or y is None: print(f"{what}: missing {a if x is None else b}"); return
    d = np.abs(x.astype(int) - y.astype(int))
    print(f"{what}: PSNR {cv2.PSNR(x, y):.2f} dB, max diff {d.max()}, pixels differing {np.count_nonzero(d.max(axis=2))/d.shape[0]/d.shape[1]*100:.3f} %")
for v in ["clip0001", "clip0005", "clip0017"]:
    cmp(f"{v}-cpu.png", f"{v}-gpu-upload.png", f"{v} same software frame, GPU vs CPU compositor")
    cmp(f"{v}-nvdec-cpu.png", f"{v}-nvdec-gpu.png", f"{v} NVDEC frame, GPU (kept on device) vs CPU compositor")
    cmp(f"{v}-cpu.png", f"{v}-nvdec-gpu.png", f"{v} GPU path end to end vs CPU reference (PNG)")
    cmp(f"{v}-cpu.jpg", f"{v}-nvdec-gpu.jpg", f"{v} JPEG nvJPEG+GPU vs libjpeg+CPU")
for s in ["cooking", "travel", "travel.thumb", "rotated", "anamorphic"]:
    cmp(f"{s}-cpu.png", f"{s}-sw-gpu.png", f"sample {s}: same software frame, GPU vs CPU compositor")
    cmp(f"{s}-cpu.png", f"{s}-nvdec-gpu.png", f"sample {s}: GPU path (NVDEC) vs CPU reference")
for a in ["none", "cuda"]:
    cmp(f"contain-{a}-cpu.png", f"contain-{a}-gpu.png", f"fit: contain, {a} decode: GPU vs CPU compositor")
PY
echo "== throughput ($N covers, 1080x1920 JPEG q90 from 1080p H.264 keyframes)"
run cpu-1 "$J" --hwaccel none --compositor cpu --jpeg-encoder cpu
run nvdec-nvjpeg-1 "$J" --hwaccel cuda --compositor cpu --jpeg-encoder nvjpeg
run gpu-compositor-1 "$J" --hwaccel cuda --compositor cuda
run cpu-2 "$J" --hwaccel none --compositor cpu --jpeg-encoder cpu
run nvdec-nvjpeg-2 "$J" --hwaccel cuda --compositor cpu --jpeg-encoder nvjpeg
run gpu-compositor-2 "$J" --hwaccel cuda --compositor cuda
run gpu-compositor-libjpeg-1 "$J" --hwaccel cuda --compositor cuda --jpeg-encoder cpu
run gpu-compositor-2xthreads $((J * 2)) --hwaccel cuda --compositor cuda
run gpu-compositor-libjpeg-2xthreads $((J * 2)) --hwaccel cuda --compositor cuda --jpeg-encoder cpu
python3 -c "import cv2; a=cv2.imread('$W/out-cpu-1/c00001.jpg'); b=cv2.imread('$W/out-gpu-compositor-1/c00001.jpg'); print('batch cover c00001: GPU compositor vs CPU PSNR', round(cv2.PSNR(a,b),2), 'dB')"
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
