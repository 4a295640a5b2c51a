#!/usr/bin/env bash
# Runs the carried coverforge on the GPU machine: gpu/run-there.sh ARGS...
here=$(cd "$(dirname "$0")" && pwd)
export LD_LIBRARY_PATH="$here/carry/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
# nvJPEG and the CUDA runtime (for --jpeg-encoder nvjpeg): the CUDA toolkit's, else PyTorch's wheels.
for d in /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib \
         /opt/torch/.venv/lib/python3*/site-packages/nvidia/{nvjpeg,cuda_runtime,cu13,cu12}/lib; do
  [ -d "$d" ] && LD_LIBRARY_PATH="$LD_LIBRARY_PATH:$d"
done
export COVERFORGE_HOME="${COVERFORGE_HOME:-$(dirname "$here")}"
# COVERFORGE_BIN runs another build with the same libraries (gpu/compare-there.sh).
exec "${COVERFORGE_BIN:-$here/carry/coverforge}" "$@"
