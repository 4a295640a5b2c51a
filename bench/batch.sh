#!/usr/bin/env bash
# Batch benchmark (run by hand, not in CI): coverforge batch against one ffmpeg process per
# cover, measured in the same run on the same clips.
#
#   bench/batch.sh            # N=200 clips, 2 workers
#   N=50 bench/batch.sh       # a quicker run
#   GRAIN=4 bench/batch.sh    # lighter film grain (smaller keyframes, closer to phone footage)
#
# It generates N distinct 6 s 1080p H.264 clips (moving test patterns under film grain, GOP 250, fixed
# seeds: deterministic) with a douyin-9x16 sidecar each (title with shadow, logo, QR), then times:
#   1. coverforge batch -j 2, frame at 3 s, cold (fresh output folder and keyframe cache)
#   2. the same with frame: auto
#   3. a re-run with nothing changed
#   4. a re-run after a template-only change (must decode nothing)
#   5. ffmpeg, one process per cover, -skip_frame nokey, two at a time (xargs -P2)
#   6. ffmpeg, one process per cover, accurate seek, two at a time (on a subset: it is slow)
#   7. peak RSS of coverforge batch for N and for 10×N jobs
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-200}
J=${J:-2}
ACCURATE=${ACCURATE:-20}
GRAIN=${GRAIN:-10}   # noise strength of the film grain (0-100); keyframe size grows with it
W=target/bench-batch-g$GRAIN
BIN=${CARGO_TARGET_DIR:-target}/release/coverforge
ROOT=$(pwd)
command -v ffmpeg >/dev/null || { echo "ffmpeg is needed (make deps)"; exit 1; }
[ -x /usr/bin/time ] || { echo "installing GNU time for peak-RSS figures"; apt-get install -y -qq time >/dev/null 2>&1 || sudo apt-get install -y -qq time; }
cargo build --release --quiet

source bench/clips.sh
make_clips

now() { date +%s.%N; }
rate() { python3 -c "print(f'{$1/($3-$2):.1f}')"; }
secs() { python3 -c "print(f'{$2-$1:.2f}')"; }
summary() { tail -1 "$1"; }

rm -rf "$W/out" "$W/cache" "$W/out-auto"
t0=$(now); /usr/bin/time -f "%M" -o "$W/rss-n.txt" "$BIN" --allow-path "$W/tpl" batch "$W/clips" -o "$W/out" -j "$J" -q --cache-dir "$W/cache" --report "$W/cold.jsonl" || true; t1=$(now)
cold_rate=$(rate "$N" "$t0" "$t1"); cold_s=$(secs "$t0" "$t1")

mkdir -p "$W/clips-auto"
for y in "$W"/clips/*.yaml; do sed 's/^frame: .*/frame: auto/' "$y" > "$W/clips-auto/$(basename "$y")"; done
for v in "$W"/clips/*.mp4; do ln -sf "$ROOT/$v" "$W/clips-auto/$(basename "$v")"; done
t0=$(now); "$BIN" --allow-path "$W/tpl" batch "$W/clips-auto" -o "$W/out-auto" -j "$J" -q --no-cache --report "$W/auto.jsonl" || true; t1=$(now)
auto_rate=$(rate "$N" "$t0" "$t1")

t0=$(now); "$BIN" --allow-path "$W/tpl" batch "$W/clips" -o "$W/out" -j "$J" -q --cache-dir "$W/cache" --report "$W/rerun.jsonl" || true; t1=$(now)
rerun_s=$(secs "$t0" "$t1")

sed -i 's/to: "#000000E0"/to: "#000000D0"/' "$W/tpl/brand.yaml.tera"   # a darker scrim: every cover changes
cmp -s templates/douyin-9x16.yaml.tera "$W/tpl/brand.yaml.tera" && { echo "the template edit did not apply"; exit 1; }
t0=$(now); "$BIN" --allow-path "$W/tpl" batch "$W/clips" -o "$W/out" -j "$J" -q --cache-dir "$W/cache" --report "$W/template.jsonl" || true; t1=$(now)
tpl_s=$(secs "$t0" "$t1")
cp templates/douyin-9x16.yaml.tera "$W/tpl/brand.yaml.tera"

FONT="$ROOT/fonts/wqy-microhei.ttc"
FILTER="[0:v]scale=1080:1920:force_original_aspect_ratio=increase,crop=1080:1920,drawtext=fontfile='$FONT':text='第 1 期 · 三分钟学会红烧肉':fontsize=96:fontcolor=white:shadowcolor=black@0.75:shadowx=0:shadowy=6:x=64:y=1102,drawtext=fontfile='$FONT':text='家常做法 · 零失败':fontsize=52:fontcolor=0xFFE082:shadowcolor=black@0.7:shadowx=0:shadowy=3:x=64:y=1248[bg];[1:v]scale=132:-1,format=rgba,colorchannelmixer=aa=0.92[logo];[bg][logo]overlay=W-w-56:180"
mkdir -p "$W/ff"
ff() { ffmpeg -nostdin -y -loglevel error -threads 1 $FLAGS -ss 3 -i "$1" -i "$ROOT/assets/logo.png" -filter_complex "$FILTER" -filter_threads 1 -frames:v 1 -q:v 2 "$W/ff/$(basename "$1" .mp4).jpg"; }
export -f ff; export FILTER
clips=("$W"/clips/*.mp4)
t0=$(now); printf '%s\n' "${clips[@]}" | xargs -P "$J" -I{} bash -c 'FLAGS="-skip_frame nokey" ff {}'; t1=$(now)
nokey_rate=$(rate "$N" "$t0" "$t1")
t0=$(now); printf '%s\n' "${clips[@]:0:$ACCURATE}" | xargs -P "$J" -I{} bash -c 'FLAGS="" ff {}'; t1=$(now)
acc_rate=$(rate "$ACCURATE" "$t0" "$t1")

# 10×N jobs over the same clips (a CSV manifest) to show memory does not grow with jobs.
M=$((N * 10))
{ echo "video,output,meta"; for k in $(seq 0 $((M - 1))); do i=$((k % N)); printf 'clips/clip%04d.mp4,big%05d.jpg,clips/clip%04d.yaml\n' "$i" "$k" "$i"; done; } > "$W/big.csv"
rm -rf "$W/out-big"
/usr/bin/time -f "%M" -o "$W/rss-10n.txt" "$BIN" --allow-path "$W/tpl" batch "$W/big.csv" -o "$W/out-big" -j "$J" -q --cache-dir "$W/cache" --report "$W/big.jsonl" || true

echo
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(date -u +%F)"
echo "clips: $N x 6 s 1080p H.264 (GOP 250, grain $GRAIN, keyframe $(ffprobe -v error -select_streams v -read_intervals %+#1 -show_entries packet=size -of csv=p=0 "$W/clips/clip0000.mp4" | head -1) bytes), douyin-9x16 covers 1080x1920 JPEG q90, $J workers"
echo "coverforge batch, frame 3 s, cold:      $cold_rate covers/s ($cold_s s)   [target >= 80]"
echo "coverforge batch, frame auto, cold:     $auto_rate covers/s               [target >= 45]"
echo "ffmpeg per cover, -skip_frame nokey:    $nokey_rate covers/s"
echo "ffmpeg per cover, accurate seek:        $acc_rate covers/s ($ACCURATE covers)"
echo "ratio vs nokey ffmpeg:    $(python3 -c "print(f'{$cold_rate/$nokey_rate:.1f}x')")   [target >= 6x]"
echo "ratio vs accurate ffmpeg: $(python3 -c "print(f'{$cold_rate/$acc_rate:.1f}x')")   [target >= 25x]"
echo "re-run, nothing changed:  $rerun_s s   [target <= 1 s]  $(summary "$W/rerun.jsonl")"
echo "re-run, template changed: $tpl_s s ($(python3 -c "print(f'{$cold_s/$tpl_s:.1f}x')") faster than cold) [target >= 3x, 0 decodes]  $(summary "$W/template.jsonl")"
echo "peak RSS: $N jobs $(( $(cat "$W/rss-n.txt") / 1024 )) MiB, $M jobs $(( $(cat "$W/rss-10n.txt") / 1024 )) MiB   [target <= 150 MB, flat]"
echo "cold summary: $(summary "$W/cold.jsonl")"
