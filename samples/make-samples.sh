#!/usr/bin/env bash
# Regenerates the sample videos in this folder with the ffmpeg CLI.
# Deterministic (fixed seeds, single-threaded x264) and small: the folder stays under 3 MiB.
#   cooking.mp4    720x1280 H.264, 5 s, first 1.5 s black (so `frame: auto` must look past them)
#   rotated.mp4    stored 640x360 with a 90° display matrix: shown upright as 360x640,
#                  red on top, blue at the bottom when turned upright
#   anamorphic.mp4 stored 480x360 with SAR 4:3: shown as 640x360 (a circle stays round)
#   travel.mp4     1280x720 H.264, 3 s, moving gradients under a grid
set -euo pipefail
cd "$(dirname "$0")"
X264=(-c:v libx264 -preset medium -crf 30 -pix_fmt yuv420p -threads 1 -x264-params keyint=25:min-keyint=25 -an -map_metadata -1 -fflags +bitexact -flags:v +bitexact)

ffmpeg -nostdin -y -loglevel error \
  -f lavfi -i "testsrc2=s=720x1280:r=25:d=5,noise=alls=12:allf=t:all_seed=7" \
  -vf "fade=in:st=1.2:d=0.3:color=black" "${X264[@]}" cooking.mp4

ffmpeg -nostdin -y -loglevel error \
  -f lavfi -i "color=blue:s=320x360:r=25:d=3[l];color=red:s=320x360:r=25:d=3[r];[l][r]hstack,drawgrid=w=40:h=40:t=2:c=white@0.5,noise=alls=8:allf=t:all_seed=3" \
  "${X264[@]}" rotated.unrotated.mp4
# FFmpeg 5.1 writes the `rotate` tag as a display matrix only when stream-copying.
# rotate=90 makes players turn the stored frame 90° counter-clockwise: the red right half ends on top.
ffmpeg -nostdin -y -loglevel error -i rotated.unrotated.mp4 -c copy -metadata:s:v:0 rotate=90 rotated.mp4
rm rotated.unrotated.mp4

ffmpeg -nostdin -y -loglevel error \
  -f lavfi -i "color=gray:s=480x360:r=25:d=3,geq=lum='if(lt(hypot((X-240)*4/3,Y-180),150),235,60)':cb=128:cr=128" \
  "${X264[@]}" -aspect 16:9 anamorphic.mp4

ffmpeg -nostdin -y -loglevel error \
  -f lavfi -i "gradients=s=1280x720:r=25:d=3:speed=0.03:seed=5,drawgrid=w=64:h=64:t=1:c=white@0.3" \
  "${X264[@]}" travel.mp4

ls -l ./*.mp4
du -sh .
