# Sourced by bench/batch.sh, bench/compare.sh, bench/floor.sh and bench/ab.sh: N deterministic 6 s 1080p H.264 clips (moving
# test patterns under film grain, GOP 250, fixed seeds) with a douyin-9x16 sidecar each, in $W/clips.
# Needs W, N, J, GRAIN and ROOT set; generated once, reused by later runs. Optional: SECONDS_
# (clip length, 6), GOP (250), X264_EXTRA (more x264 options, e.g. a rate cap), FRAME ("3s"),
# SIZE (1920x1080; 1080x1920 for portrait phone video).
make_clips() {
  mkdir -p "$W/clips" "$W/tpl"
  cp templates/douyin-9x16.yaml.tera "$W/tpl/brand.yaml.tera"
  gen() {
    i=$1; name=$(printf 'clip%04d' "$i"); f="$W/clips/$name.mp4"
    if [ ! -f "$f" ]; then
      ffmpeg -nostdin -y -loglevel error -f lavfi \
        -i "testsrc2=s=${SIZE:-1920x1080}:r=25:d=${SECONDS_:-6},hue=h=$((i * 37 % 360)),noise=alls=$GRAIN:allf=u:all_seed=$i" \
        -c:v libx264 -preset veryfast -crf 23 -g "${GOP:-250}" ${X264_EXTRA:-} -pix_fmt yuv420p -threads 1 -an "$f.tmp.mp4"
      mv "$f.tmp.mp4" "$f"
    fi
    printf 'template: ../tpl/brand.yaml.tera\ntitle: 第 %d 期 · 三分钟学会红烧肉\nsubtitle: 家常做法 · 零失败\nauthor: "@王师傅的厨房"\nwatermark: %s/assets/logo.png\nlink:\n  url: https://shop.example.com/item/%d\n  utm: {source: douyin, medium: cover_qr, campaign: bench}\nframe: "%s"\n' \
      "$i" "$ROOT" "$i" "${FRAME:-3s}" > "$W/clips/$name.yaml"
  }
  export -f gen; export W ROOT GRAIN SECONDS_ GOP X264_EXTRA FRAME SIZE
  echo "generating $N clips in $W/clips (first run only) ..."
  seq 0 $((N - 1)) | xargs -P "$J" -I{} bash -c 'gen {}'
  rm -f "$W"/clips/*.tmp.mp4
}

# The CPU-floor corpora by name (bench/floor.sh, bench/ab.sh): sets GRAIN, X264_EXTRA and W.
#   phone: ~55 KB keyframes (x264 veryfast crf 23, rate-capped), landscape 1920x1080, so the
#   douyin cover enlarges a 608x1080 crop; portrait: the same at 1080x1920, as phones shoot for
#   douyin (the frame is the cover's size); heavy: bench/batch.sh's clips.
select_corpus() {
  case "$1" in
    phone) GRAIN=${GRAIN:-3}; X264_EXTRA="-maxrate 8M -bufsize 16M"; W=$TARGET/bench-floor-phone ;;
    portrait) GRAIN=${GRAIN:-3}; X264_EXTRA="-maxrate 8M -bufsize 16M"; SIZE=1080x1920; W=$TARGET/bench-floor-portrait ;;
    heavy) GRAIN=${GRAIN:-10}; X264_EXTRA=""; W=$TARGET/bench-batch-g$GRAIN ;;
    *) echo "CORPUS is phone, portrait or heavy"; exit 2 ;;
  esac
  export X264_EXTRA SIZE
}
