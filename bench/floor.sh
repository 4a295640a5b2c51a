#!/usr/bin/env bash
# The CPU floor (issue 16): coverforge's cost per cover against what decoding its keyframe and
# encoding its JPEG cost outside coverforge, measured in the same run on the same clips.
#
#   bench/floor.sh                  # phone-like corpus: N=200 6 s 1080p clips, ~50-60 KB keyframes
#   CORPUS=heavy bench/floor.sh     # bench/batch.sh's clips (grain 10, ~380 KB keyframes)
#   CORPUS=portrait bench/floor.sh  # the phone corpus shot upright, 1080x1920 like the cover
#   N=60 R=1 bench/floor.sh         # quicker on a new corpus (an existing folder is used whole)
#   BIN=/tmp/old/coverforge bench/floor.sh   # another build, e.g. an earlier commit's
#
# Floor per cover = decode + jpeg + 3 ms, where
#   decode = CPU time per keyframe of Debian's ffmpeg CLI (single thread) decoding one H.264
#            stream made of exactly the keyframes coverforge decodes (each clip's keyframe at
#            or before the sidecar's frame time, copied out with h264_mp4toannexb), minus the
#            same process only copying that stream (start-up cancels out). An earlier version
#            decoded the whole clips with -skip_frame nokey and subtracted a stream copy: it
#            demuxed every frame, and the difference of two large numbers swung from 7.5 to
#            16 ms on the same corpus. PyAV (its wheel bundles a newer FFmpeg) timing only its
#            decode calls is printed beside it as a cross-check;
#   jpeg   = CPU time per cover of libjpeg-turbo through Pillow (q90, 4:2:0, one process,
#            coverforge's own finished covers as input);
#   3 ms   = the compositing allowance.
# Two views, side by side: floor ms against coverforge's CPU time per cover (user + system of
# the whole batch / covers: honest on a busy machine), and floor covers/s = J x 1000 / floor ms
# against coverforge's wall-clock rate. Also: frame: auto against a fixed frame on clips of five
# GOPs, cores busy (CPU / wall), and the same batch with the keyframe cache on as it is by
# default (empty, so every frame is stored). Runs R times (default 3) and prints medians, then the mean
# stage times of the last run from coverforge's own report (wall, and the worker thread's CPU).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-200}
J=${J:-2}
R=${R:-3}
CORPUS=${CORPUS:-phone}
ROOT=$(pwd)
TARGET=${CARGO_TARGET_DIR:-target}
command -v ffmpeg >/dev/null || { echo "ffmpeg is needed (make deps)"; exit 1; }
# BIN=path/to/coverforge measures another build (e.g. a copy of an earlier commit's).
[ -n "${BIN:-}" ] || { cargo build --release --quiet; BIN=$TARGET/release/coverforge; }

# Pillow (with its libjpeg-turbo) in a venv of its own.
VENV=$TARGET/bench-venv
if ! "$VENV/bin/python" -c "import PIL, av" 2>/dev/null; then
  python3 -m venv "$VENV" && "$VENV/bin/pip" install -q pillow av
fi

source bench/clips.sh
select_corpus "$CORPUS"
make_clips
# Every clip the folder holds is rendered (an earlier run may have made more than N).
NC=$(ls "$W"/clips/*.mp4 | wc -l)
# Clips of five GOPs (10 s, GOP 50) for frame: auto against a fixed frame.
WA=$TARGET/bench-floor-$CORPUS-gops
( W=$WA; SECONDS_=10; GOP=50; N=$(( N < 60 ? N : 60 )); make_clips )
NA=$(ls "$WA"/clips/*.mp4 | wc -l)
mkdir -p "$WA/auto"
for y in "$WA"/clips/*.yaml; do sed 's/^frame: .*/frame: auto/' "$y" > "$WA/auto/$(basename "$y")"; done
for v in "$WA"/clips/*.mp4; do ln -sf "$(realpath "$v")" "$WA/auto/$(basename "$v")"; done

median() { python3 -c "import statistics,sys; print(statistics.median(float(x) for x in sys.argv[1:]))" "$@"; }
# CPU seconds (user + system) and wall seconds of a command: "cpu wall".
timed() {
  bench/timed.py "$W/time.txt" "$@" >/dev/null 2>"$W/stderr.txt" || { echo "failed: $* ($(tail -2 "$W/stderr.txt"))" >&2; exit 1; }
  cat "$W/time.txt"
}

# The keyframes coverforge decodes, as one Annex B stream (parameter sets before each).
FRAME_S=$(sed -n 's/^frame: "\{0,1\}\([0-9.]*\)s"\{0,1\}$/\1/p' "$W/clips/clip0000.yaml")
if [ ! -s "$W/keyframes.h264" ]; then
  for v in "$W"/clips/*.mp4; do
    ffmpeg -nostdin -loglevel error -ss "${FRAME_S:-0}" -i "$v" -map 0:v -c copy -bsf:v h264_mp4toannexb -frames:v 1 -f h264 -
  done > "$W/keyframes.h264.tmp" && mv "$W/keyframes.h264.tmp" "$W/keyframes.h264"
fi
ffmpeg_decode() { timed ffmpeg -nostdin -loglevel error -threads 1 -i "$W/keyframes.h264" -f null -; }
ffmpeg_copy() { timed ffmpeg -nostdin -loglevel error -i "$W/keyframes.h264" -c copy -f null -; }
keyframes=$(ffprobe -v error -select_streams v -show_entries frame=key_frame -of csv=p=0 "$W/keyframes.h264" 2>/dev/null | grep -c 1 || true)
kf_bytes=$(for v in "$W"/clips/*.mp4; do ffprobe -v error -select_streams v -read_intervals %+#1 -show_entries packet=size -of csv=p=0 "$v" | head -1; done | python3 -c "import sys,statistics; print(int(statistics.mean(int(x) for x in sys.stdin)))")

declare -a DEC PYAV JPG CF_CPU CF_RATE BUSY AUTO FIXED CACHED_CPU CACHED_RATE
for r in $(seq 1 "$R"); do
  # 1. coverforge, cold: fresh output, no keyframe cache.
  rm -rf "$W/out"
  read -r cpu wall < <(timed "$BIN" --allow-path "$W/tpl" batch "$W/clips" -o "$W/out" -j "$J" -q --no-cache \
    --report "$W/report.jsonl")
  CF_CPU+=("$(python3 -c "print($cpu * 1000 / $NC)")")
  CF_RATE+=("$(python3 -c "print($NC / $wall)")")
  BUSY+=("$(python3 -c "print($cpu / $wall)")")
  # 1b. the same batch as an operator runs it by default: the keyframe cache on (empty, so
  # every frame is decoded and stored).
  rm -rf "$W/out-cached" "$W/cache"
  read -r cpu wall < <(timed "$BIN" --allow-path "$W/tpl" batch "$W/clips" -o "$W/out-cached" -j "$J" -q \
    --cache-dir "$W/cache")
  CACHED_CPU+=("$(python3 -c "print($cpu * 1000 / $NC)")")
  CACHED_RATE+=("$(python3 -c "print($NC / $wall)")")
  rm -rf "$W/cache"
  # 2. the independent decoder.
  read -r cpu_dec _ < <(ffmpeg_decode)
  read -r cpu_copy _ < <(ffmpeg_copy)
  DEC+=("$(python3 -c "print(($cpu_dec - $cpu_copy) * 1000 / $keyframes)")")
  PYAV+=("$("$VENV/bin/python" - "$W/clips" <<'EOF'
import glob, sys, time, av
total, n = 0.0, 0
for clip in sorted(glob.glob(sys.argv[1] + "/*.mp4")):
    with av.open(clip) as f:
        s = f.streams.video[0]
        s.thread_type = "NONE"
        s.codec_context.thread_count = 1
        s.codec_context.skip_frame = "NONKEY"
        for packet in f.demux(s):
            if not packet.is_keyframe:
                continue
            t0 = time.process_time()
            frames = s.codec_context.decode(packet) or s.codec_context.decode(None)
            total += time.process_time() - t0
            n += len(frames)
            break
print(total * 1000 / max(n, 1))
EOF
)")
  # 3. libjpeg-turbo on coverforge's finished covers.
  JPG+=("$("$VENV/bin/python" - "$W/out" <<'EOF'
import glob, io, sys, time
from PIL import Image
covers = [Image.open(p).convert("RGB") for p in sorted(glob.glob(sys.argv[1] + "/*.jpg"))]
for im in covers:
    im.load()
t0 = time.process_time()
for im in covers:
    im.save(io.BytesIO(), "JPEG", quality=90, subsampling=2)
print((time.process_time() - t0) * 1000 / len(covers))
EOF
)")
  # 4. frame: auto against a fixed frame on five-GOP clips.
  rm -rf "$WA/out-fixed" "$WA/out-auto"
  read -r _ wall < <(timed "$BIN" --allow-path "$WA/tpl" batch "$WA/clips" -o "$WA/out-fixed" -j "$J" -q --no-cache)
  FIXED+=("$(python3 -c "print($NA / $wall)")")
  read -r _ wall < <(timed "$BIN" --allow-path "$WA/tpl" batch "$WA/auto" -o "$WA/out-auto" -j "$J" -q --no-cache)
  AUTO+=("$(python3 -c "print($NA / $wall)")")
done

dec=$(median "${DEC[@]}"); pyav=$(median "${PYAV[@]}"); jpg=$(median "${JPG[@]}")
cf_cpu=$(median "${CF_CPU[@]}"); cf_rate=$(median "${CF_RATE[@]}"); busy=$(median "${BUSY[@]}")
fixed=$(median "${FIXED[@]}"); auto=$(median "${AUTO[@]}")
cached_cpu=$(median "${CACHED_CPU[@]}"); cached_rate=$(median "${CACHED_RATE[@]}")
python3 - "$dec" "$jpg" "$cf_cpu" "$cf_rate" "$busy" "$fixed" "$auto" "$J" "$pyav" "$cached_cpu" "$cached_rate" <<EOF
import sys
dec, jpg, cf_cpu, cf_rate, busy, fixed, auto, j, pyav, cached_cpu, cached_rate = map(float, sys.argv[1:])
floor = dec + jpg + 3
print()
print("machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(date -u +'%F %H:%M'), load $(cut -d' ' -f1-3 /proc/loadavg)")
print("corpus: $CORPUS, $NC x 6 s ${SIZE:-1920x1080} H.264 clips, $keyframes keyframes, mean keyframe $kf_bytes bytes; douyin-9x16 1080x1920 JPEG q90; -j $J; medians of $R runs")
print(f"decode  (ffmpeg $(ffmpeg -version | head -1 | cut -d' ' -f3), 1 thread, CPU per keyframe): {dec:6.2f} ms   (PyAV $("$VENV/bin/python" -c "import av; print(av.__version__)"): {pyav:.2f} ms)")
print(f"jpeg    (Pillow libjpeg-turbo q90 4:2:0, CPU per cover):     {jpg:6.2f} ms")
print(f"floor   = decode + jpeg + 3:                                {floor:6.2f} ms/cover")
print(f"coverforge CPU per cover (user+sys / covers):               {cf_cpu:6.2f} ms   = {cf_cpu / floor:.2f} x floor")
print(f"floor rate = {j:.0f} x 1000 / floor:                              {j * 1000 / floor:6.1f} covers/s")
print(f"coverforge rate (wall):                                     {cf_rate:6.1f} covers/s = {cf_rate / (j * 1000 / floor):.0%} of floor")
print(f"cores busy (CPU / wall):                                    {busy:6.2f}")
print(f"with the keyframe cache on (the default; empty): {cached_cpu:6.2f} ms CPU a cover, {cached_rate:6.1f} covers/s = {cached_rate / (j * 1000 / floor):.0%} of floor")
print(f"frame: auto vs fixed on $NA clips of 5 GOPs:                {auto:.1f} vs {fixed:.1f} covers/s = {auto / fixed:.0%}")
EOF
# Where coverforge's time goes, from its own report of the last run: mean ms a cover, wall and
# (builds that report it) the worker thread's CPU.
python3 - "$W/report.jsonl" <<'EOF'
import json, sys
jobs = [j for j in map(json.loads, open(sys.argv[1])) if j.get("status") == "ok"]
def mean(key):
    values = [j["ms"][key] for j in jobs if key in j["ms"]]
    return sum(values) / len(values) if values else None
parts = []
for stage in ["layout", "decode", "composite", "encode"]:
    wall, cpu = mean(stage + "_ms"), mean(stage + "_cpu_ms")
    parts.append(f"{stage} {wall:.2f}" + (f" / {cpu:.2f}" if cpu is not None else ""))
print("coverforge stages (last run, mean ms a cover, wall / CPU):  " + ", ".join(parts))
# The report's own cores busy spans the batch only; the line above counts the whole process,
# whose start (the dynamic loader binding ~150 libraries, ~70 ms) and exit run on one core.
summary = [s["summary"] for s in map(json.loads, open(sys.argv[1])) if "summary" in s]
if summary and "cores_busy" in summary[-1]:
    print(f"cores busy inside the batch (last run, its report):          {summary[-1]['cores_busy']:.2f}")
EOF
