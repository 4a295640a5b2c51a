#!/usr/bin/env bash
# Regenerates fonts/noto-color-emoji.ttf: a subset of Debian's Noto Color Emoji (OFL-1.1) with the
# emoji short-video titles use most (faces, food, sky, celebration, a few symbols), so the repo
# stays small. Needs fonts-noto-color-emoji (apt) and fonttools (pip).
set -euo pipefail
cd "$(dirname "$0")/.."   # fonts/
UNICODES="U+26A1,U+2705,U+2728,U+274C,U+2764,U+2B50,U+FE0F,U+1F195,U+1F300-1F320,U+1F354-1F37F,U+1F381,U+1F388-1F38A,U+1F3AC,U+1F3B5,U+1F3C6,U+1F440,U+1F44D,U+1F44F,U+1F451,U+1F48E,U+1F4A1,U+1F4AA,U+1F4AF,U+1F4B0,U+1F4E2,U+1F4F7,U+1F525,U+1F600-1F64F,U+1F680,U+1F6D2"
pyftsubset /usr/share/fonts/truetype/noto/NotoColorEmoji.ttf --unicodes="$UNICODES" \
  --output-file=noto-color-emoji.ttf --no-layout-closure --drop-tables+=GSUB,GPOS
ls -l noto-color-emoji.ttf
