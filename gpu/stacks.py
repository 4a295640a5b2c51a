"""Names coverforge's frames in the stacks gpu/stacks-there.sh saved: for every thread waiting on
a lock, the first three coverforge functions (file:line) it was called from, counted.

    python3 gpu/stacks.py /work/.device/N [target/gpu/release/coverforge]

The binary must be the unstripped build the carried one was stripped from (gpu/pack.sh).
"""
import collections
import glob
import re
import subprocess
import sys

folder = sys.argv[1]
binary = sys.argv[2] if len(sys.argv) > 2 else "target/gpu/release/coverforge"
maps = [line.split() for line in open(f"{folder}/maps.txt")]
mapped = [(int(m[0].split("-")[0], 16), int(m[0].split("-")[1], 16), int(m[2], 16))
          for m in maps if m[-1].endswith("/coverforge")]
loads = []
for line in subprocess.run(["readelf", "-lW", binary], capture_output=True, text=True).stdout.splitlines():
    if line.strip().startswith("LOAD"):
        f = line.split()
        loads.append((int(f[1], 16), int(f[2], 16), int(f[4], 16)))  # file offset, address, size


def address(runtime):
    """The binary's own address of a return address in the process (minus one: the call)."""
    for start, end, offset in mapped:
        if start <= runtime < end:
            at = runtime - start + offset
            for file_offset, vaddr, size in loads:
                if file_offset <= at < file_offset + size:
                    return at - file_offset + vaddr - 1
    return None


callers = collections.Counter()
for path in sorted(glob.glob(f"{folder}/bt-*.txt")):
    thread = []
    for line in open(path).read().splitlines() + ["Thread"]:
        if line.startswith("Thread"):
            if any("rwlock" in frame or "mutex_lock" in frame for frame in thread):
                ours = [address(int(m.group(1), 16)) for frame in thread
                        for m in [re.match(r"#\d+\s+0x([0-9a-f]+) in \?\? \(\)$", frame)] if m]
                callers[tuple(a for a in ours if a is not None)[:3]] += 1
            thread = []
        else:
            thread.append(line.strip())
for key, count in callers.most_common(12):
    if not key:
        print(count, "(no coverforge frame: a library's own thread)")
        continue
    out = subprocess.run(["addr2line", "-f", "-C", "-e", binary] + [hex(k) for k in key],
                         capture_output=True, text=True).stdout.splitlines()
    names = [out[j].split("(")[0][:60] + " " + out[j + 1].split("/")[-1] for j in range(0, len(out) - 1, 2)]
    print(count, " <- ".join(names))
