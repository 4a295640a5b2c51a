#!/usr/bin/env bash
# Runs the carried coverforge on the GPU machine: gpu/run-there.sh ARGS...
here=$(cd "$(dirname "$0")" && pwd)
export LD_LIBRARY_PATH="$here/carry/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export COVERFORGE_HOME="${COVERFORGE_HOME:-$(dirname "$here")}"
exec "$here/carry/coverforge" "$@"
