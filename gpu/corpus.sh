#!/usr/bin/env bash
# The benchmark corpus for the GPU machine, small enough to carry: K distinct 1080p H.264 clips
# made exactly like bench/batch.sh's (moving test pattern, hue per clip, film grain 10, GOP 250,
# CRF 23) but 0.4 s long (one keyframe each, which is all a cover decodes), each with a
# douyin-9x16 sidecar (title with shadow, logo, QR). Written to gpu/carry/clips.
set -euo pipefail
cd "$(dirname "$0")/.."
K=${K:-24}
GRAIN=${GRAIN:-10}
D=${CLIPS:-gpu/carry/clips}
mkdir -p "$D"
for i in $(seq 0 $((K - 1))); do
  name=$(printf 'clip%04d' "$i")
  [ -f "$D/$name.mp4" ] || ffmpeg -nostdin -y -loglevel error -f lavfi \
    -i "testsrc2=s=1920x1080:r=25:d=0.4,hue=h=$((i * 37 % 360)),noise=alls=$GRAIN:allf=u:all_seed=$i" \
    -c:v libx264 -preset veryfast -crf 23 -g 250 -pix_fmt yuv420p -threads 1 -an "$D/$name.mp4"
  printf 'template: douyin-9x16\ntitle: 第 %d 期 · 三分钟学会红烧肉\nsubtitle: 家常做法 · 零失败\nauthor: "@王师傅的厨房"\nwatermark: ../../../assets/logo.png\nlink:\n  url: https://shop.example.com/item/%d\n  utm: {source: douyin, medium: cover_qr, campaign: bench}\nframe: "0.2s"\n' \
    "$i" "$i" > "$D/$name.yaml"
done
du -sh "$D"
