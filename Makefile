# coverforge: `make demo` and `make test` set up a fresh Debian 12 / Ubuntu machine themselves.
SHELL := /bin/bash
# Debian packages for the build (clang: opencv bindings; lib*-dev: FFmpeg, OpenCV, TurboJPEG, libwebp) and tests
# (ffmpeg: sample and benchmark clips, ffprobe checks; zbar-tools: QR checks; tesseract: OCR
# legibility; webp: webpmux checks animated WebP covers; fonts-noto-color-emoji: every emoji
# sequence at run time (fonts/ ships a subset); chromium, fonts-noto-cjk and
# python3-venv: the preview page's browser test, driven by Playwright from a venv;
# redis-server, redis-tools: the worker fleet's tests and benchmark).
APT_PACKAGES := build-essential pkg-config clang libclang-dev libopencv-dev \
	libavcodec-dev libavformat-dev libavutil-dev libswscale-dev libturbojpeg0-dev libwebp-dev ffmpeg zbar-tools \
	tesseract-ocr tesseract-ocr-chi-sim tesseract-ocr-eng webp \
	chromium fonts-noto-cjk fonts-noto-color-emoji python3-venv redis-server redis-tools
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
CARGO ?= $(shell command -v cargo || echo $$HOME/.cargo/bin/cargo)
# Playwright for the browser test, in a venv beside the build (it drives Debian's chromium).
BROWSER_VENV := $(or $(CARGO_TARGET_DIR),target)/browser-venv

.PHONY: deps build demo test bench clean
deps:
	@missing=""; for p in $(APT_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi
	@command -v $(CARGO) >/dev/null || [ -x "$$HOME/.cargo/bin/cargo" ] || { \
	  echo "installing Rust with rustup"; \
	  command -v curl >/dev/null || { $(SUDO) apt-get install -y -qq curl ca-certificates; }; \
	  curl -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal || \
	  { echo "cargo not found and rustup failed: install Rust from https://rustup.rs"; exit 1; }; }
	@[ -x "$(BROWSER_VENV)/bin/python" ] && "$(BROWSER_VENV)/bin/python" -c "import playwright" 2>/dev/null || { \
	  echo "installing Playwright in $(BROWSER_VENV)"; \
	  /usr/bin/python3 -m venv "$(BROWSER_VENV)" && "$(BROWSER_VENV)/bin/pip" install -q playwright; }

build: deps
	$(CARGO) build --release

# Renders every samples/NAME[.variant].yaml with samples/NAME.mp4 into out/.
demo: build
	@mkdir -p out
	@bin="$${CARGO_TARGET_DIR:-target}/release/coverforge"; \
	for meta in samples/*.yaml; do \
	  stem=$$(basename "$$meta" .yaml); video="samples/$${stem%%.*}.mp4"; \
	  "$$bin" render "$$video" --meta "$$meta" -o "out/$$stem.jpg" || exit 1; \
	done; \
	"$$bin" render samples/cooking.mp4 --meta samples/cooking.yaml -o out/cooking.mp4 --animated 2 || exit 1; \
	"$$bin" devices; \
	echo "covers written to $$(pwd)/out/"

test: deps
	COVERFORGE_BROWSER_PYTHON="$(abspath $(BROWSER_VENV))/bin/python" $(CARGO) test --all-targets
	@# Hardware paths run only where a device exists; say which ran and why others did not.
	set -o pipefail; $(CARGO) test -q --test hwaccel -- --nocapture 2>&1 | grep -E "skipped|not available|test result"

bench: deps
	$(CARGO) bench --bench cover_vs_ffmpeg
	$(CARGO) bench --bench face_detector
	$(CARGO) bench --bench fit

clean:
	rm -rf out
