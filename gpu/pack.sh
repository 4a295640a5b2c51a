#!/usr/bin/env bash
# Builds coverforge for the GPU machine and gathers what it needs to run there into gpu/carry
# (git-ignored; name it in the device tool's `carry`). The GPU machine runs Ubuntu 24.04 with
# a newer glibc and libstdc++, and no FFmpeg or OpenCV:
#   - FFmpeg is linked statically (gpu/build-ffmpeg.sh: Debian's 5.1 source, NVDEC/NVENC in);
#   - OpenCV's modules we use (dnn runs the YuNet face detector) and the few libraries they
#     really use are carried;
#   - the rest of OpenCV's dependency tree (GDAL, OpenEXR, LAPACK, X11 ... ~200 MB) is replaced
#     by stand-ins that abort if called (gpu/stubs.py), which nothing on our paths does.
# Also makes the benchmark corpus (gpu/corpus.sh) and a reference cover. Run there with
# gpu/run-there.sh; gpu/bench-there.sh runs the whole GPU check.
set -euo pipefail
cd "$(dirname "$0")/.."
PREFIX=$PWD/target/ffmpeg-static
[ -f "$PREFIX/lib/libavcodec.a" ] || gpu/build-ffmpeg.sh "$PREFIX"
PKG_CONFIG_PATH=$PREFIX/lib/pkgconfig CARGO_TARGET_DIR=target/gpu cargo build --release --features static-ffmpeg
OUT=gpu/carry
rm -rf "$OUT/lib" "$OUT/coverforge" && mkdir -p "$OUT/lib"
strip -o "$OUT/coverforge" target/gpu/release/coverforge
# Libraries carried as they are; the host's glibc/libstdc++ are newer and serve.
keep='libopencv_(core|imgproc|imgcodecs|objdetect|dnn)\.so|libprotobuf\.so|libjpeg\.so\.62|libturbojpeg\.so|libpng16|libwebp|libsharpyuv|libtbb\.so|libx264|libz\.so'
host='lib(c|m|dl|pthread|rt|gcc_s|stdc\+\+)\.so|ld-linux'
carried=("$OUT/coverforge")
dropped=()
while read -r name path; do
  if [[ $name =~ $host ]]; then continue; fi
  if [[ $name =~ $keep ]]; then cp -L "$path" "$OUT/lib/$name"; carried+=("$OUT/lib/$name"); else dropped+=("$path"); fi
done < <(ldd target/gpu/release/coverforge | awk '$3 ~ /^\// {print $1, $3}')
python3 gpu/stubs.py "$OUT/lib" "${dropped[@]}" -- "${carried[@]}" | tail -3
echo "${#dropped[@]} libraries replaced by stand-ins"
gpu/corpus.sh
# A clip with a face for gpu/faces-there.sh (the astronaut right of centre in 1280x720).
mkdir -p "$OUT/faces"
ffmpeg -nostdin -loglevel error -y -loop 1 -i tests/faces/recall/astronaut-720-in-1280.jpg -t 1 -r 25 \
  -pix_fmt yuv420p -c:v libx264 -g 25 "$OUT/faces/clip.mp4"
printf 'template: douyin-9x16\ntitle: 宇航员的封面很长很长的标题\nsubtitle: 副标题也在这里\n' > "$OUT/faces/clip.yaml"
# A small face (~1/21 of 1920 px) only the detector's closer look finds.
ffmpeg -nostdin -loglevel error -y -loop 1 -i tests/faces/recall/astronaut-480-in-1920-at-1100-500.jpg -t 1 -r 25 \
  -pix_fmt yuv420p -c:v libx264 -g 25 "$OUT/faces/small.mp4"
cp "$OUT/faces/clip.yaml" "$OUT/faces/small.yaml"
# The reference the GPU machine's software render must match byte for byte.
gpu/run-there.sh --hwaccel none render gpu/carry/clips/clip0001.mp4 --meta gpu/carry/clips/clip0001.yaml \
  -o gpu/carry/ref-clip0001.jpg
du -sh "$OUT"
# Since the binary embeds jieba's dictionary, gpu/carry (with its clips) and the working tree
# together pass the device's 64 MiB: carry this tarball instead (carry ["target/carry.tgz"]) and
# start the command there with `tar xzf target/carry.tgz && ...` (docs/gpu.md).
tar czf target/carry.tgz gpu/carry && du -h target/carry.tgz
