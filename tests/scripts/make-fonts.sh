#!/usr/bin/env bash
# Regenerates the fixture fonts of tests/scripts.rs: subsets of Debian's Noto fonts (OFL-1.1;
# fonts-noto-core, fonts-noto-color-emoji) and of the shipped WenQuanYi Micro Hei (Apache-2.0)
# holding just the characters of texts.txt (plus ASCII and the vertical punctuation forms), with
# their shaping tables, so the golden images never depend on the machine's fonts.
# Needs fonttools (pip install fonttools).
set -euo pipefail
cd "$(dirname "$0")"
N=/usr/share/fonts/truetype/noto
sub() { pyftsubset "$1" --text-file=texts.txt --unicodes="U+0020-007E,U+FE10-FE19,U+FE30-FE44,$3" \
  --layout-features='*' --output-file="fonts/$2" "${@:4}"; }
sub $N/NotoSansArabic-Regular.ttf noto-sans-arabic.ttf "U+0660-0669"
sub $N/NotoSansHebrew-Regular.ttf noto-sans-hebrew.ttf "U+05D0-05EA"
sub $N/NotoSansThai-Regular.ttf noto-sans-thai.ttf "U+0E01-0E5B"
sub $N/NotoSansDevanagari-Regular.ttf noto-sans-devanagari.ttf "U+0900-097F"
sub $N/NotoColorEmoji.ttf noto-color-emoji.ttf "U+200D,U+FE0F,U+20E3"
sub ../../fonts/wqy-microhei.ttc wqy-microhei.ttf "U+3000-3002" --font-number=0
ls -l fonts
