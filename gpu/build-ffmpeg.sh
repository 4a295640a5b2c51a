#!/usr/bin/env bash
# A minimal static FFmpeg 5.1 (Debian's own source) for the GPU machine, which has no Debian
# FFmpeg and takes at most 64 MiB of carried files. It holds what coverforge uses: MP4/MKV input,
# H.264/HEVC/VP9 decoders with NVDEC, NVENC + libx264 + libwebp_anim encoders, swscale.
# VAAPI/QSV are left out (no such hardware there); Debian's shared build keeps them.
#
#   gpu/build-ffmpeg.sh [PREFIX]     # default target/ffmpeg-static; ~10 min on 2 cores
set -euo pipefail
cd "$(dirname "$0")/.."
PREFIX=$(realpath -m "${1:-target/ffmpeg-static}")
SRC=target/ffmpeg-src
need=()
for p in dpkg-dev nasm libffmpeg-nvenc-dev libx264-dev libwebp-dev zlib1g-dev pkg-config; do
  dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then apt-get install -y -qq "${need[@]}"; fi
if [ ! -d "$SRC/src" ]; then
  # Debian's source package needs a deb-src line.
  if ! grep -rqs 'deb-src' /etc/apt/sources.list /etc/apt/sources.list.d/; then
    sed -i 's/^Types: deb$/Types: deb deb-src/' /etc/apt/sources.list.d/debian.sources
    apt-get update -qq
  fi
  mkdir -p "$SRC" && (cd "$SRC" && apt-get source -qq --download-only ffmpeg && dpkg-source -x -q ffmpeg_*.dsc src)
fi
cd "$SRC/src"
./configure --prefix="$PREFIX" --enable-static --disable-shared --enable-pic \
  --disable-programs --disable-doc --disable-debug --disable-network --disable-autodetect \
  --disable-everything --enable-gpl --enable-zlib --enable-libx264 --enable-libwebp \
  --enable-ffnvcodec --enable-cuda --enable-cuvid --enable-nvdec --enable-nvenc \
  --disable-avdevice --disable-avfilter --disable-postproc \
  --enable-protocol=file --enable-demuxer=mov,matroska --enable-muxer=mp4,mov,webp \
  --enable-parser=h264,hevc,vp9 --enable-bsf=h264_mp4toannexb,hevc_mp4toannexb \
  --enable-decoder=h264,hevc,vp9,mpeg4,png,mjpeg \
  --enable-hwaccel=h264_nvdec,hevc_nvdec,vp9_nvdec \
  --enable-encoder=libx264,h264_nvenc,hevc_nvenc,libwebp_anim,libwebp,mjpeg,png \
  --pkg-config-flags=--static
make -j"$(nproc)"
make install
echo "static FFmpeg installed in $PREFIX"
