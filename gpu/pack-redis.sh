#!/usr/bin/env bash
# Copies Debian's redis-server and the libraries it needs (not glibc) into gpu/carry/redis, for
# the fleet measure on the GPU machine (gpu/fleet-there.sh), which has no Redis.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=gpu/carry/redis
rm -rf "$OUT" && mkdir -p "$OUT/lib"
cp -L /usr/bin/redis-server "$OUT/redis-server"
# Ubuntu 24.04 there has these, newer; only the rest travels (and keeps the carry small).
host='lib(c|m|dl|pthread|rt|stdc\+\+|gcc_s|ssl|crypto|systemd|gcrypt|lzma|zstd|lz4|gpg-error|cap)\.so|ld-linux'
ldd /usr/bin/redis-server | awk '$3 ~ /^\// {print $1, $3}' | while read -r name path; do
  [[ $name =~ $host ]] || cp -L "$path" "$OUT/lib/$name"
done
du -sh "$OUT"
