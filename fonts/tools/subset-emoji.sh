#!/usr/bin/env bash
# Regenerates fonts/noto-color-emoji.ttf: a subset of Debian's Noto Color Emoji (OFL-1.1) with the
# emoji short-video titles use most (faces, food, sky, celebration, a few symbols), plus what the
# sequences of the text engine's tests need: families and couples (ZWJ), skin tones, keycaps and
# the flags spelled by a few regional indicators. The GSUB table stays (it builds the sequences).
# Coverforge prefers the full font from fonts-noto-color-emoji when it is installed; this subset
# is the fallback, and what tests draw with. Needs fonts-noto-color-emoji (apt) and fonttools (pip).
set -euo pipefail
cd "$(dirname "$0")/.."   # fonts/
BASE="U+0023,U+002A,U+0030-0039,U+20E3,U+200D,U+26A1,U+2705,U+2728,U+274C,U+2764,U+2B50,U+FE0F,U+1F195,U+1F300-1F320,U+1F354-1F37F,U+1F381,U+1F388-1F38A,U+1F3AC,U+1F3B5,U+1F3C6,U+1F440,U+1F44D,U+1F44F,U+1F451,U+1F48E,U+1F4A1,U+1F4AA,U+1F4AF,U+1F4B0,U+1F4E2,U+1F4F7,U+1F525,U+1F600-1F64F,U+1F680,U+1F6D2"
PEOPLE="U+1F466-1F469,U+1F3FB-1F3FF,U+1F44B,U+1F44C,U+1F64F"
# Regional indicators C N U S J P G B F R D E K: flags such as CN, US, JP, GB, FR, DE, KR, ES.
FLAGS="U+1F1E7-1F1EB,U+1F1EC,U+1F1EF,U+1F1F0,U+1F1F3,U+1F1F5,U+1F1F7,U+1F1F8,U+1F1FA"
pyftsubset /usr/share/fonts/truetype/noto/NotoColorEmoji.ttf --unicodes="$BASE,$PEOPLE,$FLAGS" \
  --output-file=noto-color-emoji.ttf --layout-features='*'
ls -l noto-color-emoji.ttf
