#!/usr/bin/env bash
# Title legibility on real photographs (scikit-image's sample data): tesseract on covers against
# plain renders of the same titles, full size and feed size, tuning and held-out sets. See
# bench/legibility.py. Needs ffmpeg and tesseract-ocr-chi-sim (make deps); makes its own venv.
set -euo pipefail
cd "$(dirname "$0")/.."
TARGET=${CARGO_TARGET_DIR:-target}
[ -n "${BIN:-}" ] || { cargo build --release --quiet; BIN=$TARGET/release/coverforge; }
VENV=$TARGET/legibility-venv
"$VENV/bin/python" -c "import skimage, yaml, PIL" 2>/dev/null || {
  python3 -m venv "$VENV" && "$VENV/bin/pip" install -q scikit-image pyyaml pillow; }
"$VENV/bin/python" bench/legibility.py "$(realpath "$BIN")" "$TARGET/bench-legibility"
