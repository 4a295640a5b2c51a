#!/usr/bin/env bash
# Preview latency benchmark (run by hand; needs `make deps` for chromium and Playwright):
#   bench/preview.sh            # 20 edits
#   EDITS=50 bench/preview.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
T=${CARGO_TARGET_DIR:-target}
"$T/browser-venv/bin/python" bench/preview.py "$T/release/coverforge" "$(pwd)"
