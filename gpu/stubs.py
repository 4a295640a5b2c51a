#!/usr/bin/env python3
"""Stand-in shared libraries for dependencies the carried code never calls.

Debian's OpenCV links GDAL, OpenEXR, GDCM, LAPACK, protobuf, X11 ... (over 60 MB with their
own dependencies) although coverforge uses none of them. The libraries are linked with
BIND_NOW, so every imported symbol must resolve at load time. For each dropped library this
writes a small library with the same SONAME that defines exactly the symbols the carried
objects import from it: functions that return 0 (static initialisers of OpenCV's codec table
call a few, e.g. OpenEXR's Chromaticities constructor, so they cannot abort; set
COVERFORGE_STUB_TRACE=1 to log every call) and data objects of the real size.

usage: stubs.py OUTDIR DROPPED_LIB... -- CARRIED_OBJECT...
"""
import os
import re
import subprocess
import sys


def nm(path, *flags):
    out = subprocess.run(["nm", "-D", "--with-symbol-versions", *flags, path],
                         capture_output=True, text=True, check=True).stdout
    return out.splitlines()


def soname(path):
    out = subprocess.run(["readelf", "-d", path], capture_output=True, text=True, check=True).stdout
    m = re.search(r"\(SONAME\)\s+Library soname: \[(.+?)\]", out)
    return m.group(1) if m else os.path.basename(path)


def split_version(sym):
    # "name@@VER", "name@VER" or "name"
    if "@" in sym:
        name, ver = re.split(r"@+", sym, maxsplit=1)
        return name, ver
    return sym, None


def main():
    args = sys.argv[1:]
    sep = args.index("--")
    outdir, dropped, carried = args[0], args[1:sep], args[sep + 1:]
    wanted = {}  # name -> version or None, imported by carried objects
    for obj in carried:
        for line in nm(obj, "--undefined-only"):
            parts = line.split()
            if len(parts) >= 2 and parts[-2] in ("U",):
                name, ver = split_version(parts[-1])
                wanted.setdefault(name, ver)
    os.makedirs(outdir, exist_ok=True)
    for lib in dropped:
        funcs, objs, versions = [], [], {}
        for line in nm(lib, "--defined-only", "-S"):
            parts = line.split()
            if len(parts) == 4:
                _, size, kind, sym = parts
            elif len(parts) == 3:
                _, kind, sym = parts
                size = "0"
            else:
                continue
            name, ver = split_version(sym)
            if name not in wanted or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
                continue
            if ver:
                versions.setdefault(ver, []).append(name)
            if kind in "TtWiI":
                funcs.append(name)
            else:
                objs.append((name, max(int(size, 16), 8)))
        so = soname(lib)
        base = os.path.join(outdir, so)
        with open(base + ".c", "w") as c:
            c.write("#include <stdio.h>\n#include <stdlib.h>\n")
            c.write("static void stub(const char *s) { if (getenv(\"COVERFORGE_STUB_TRACE\")) fprintf(stderr, \"coverforge: stub %s called (%s)\\n\", s, \"" + so + "\"); }\n")
            for f in sorted(set(funcs)):
                c.write(f'long {f}(void) {{ stub("{f}"); return 0; }}\n')
            for o, size in sorted(set(objs)):
                c.write(f"__attribute__((aligned(16))) char {o}[{size}];\n")
        cmd = ["gcc", "-shared", "-fPIC", "-O1", "-w", "-o", base, base + ".c", f"-Wl,-soname,{so}"]
        if versions:
            with open(base + ".map", "w") as m:
                for ver, names in versions.items():
                    m.write(f"{ver} {{ global: {'; '.join(sorted(set(names)))}; }};\n")
                m.write("{ local: stub; };\n" if False else "")
            cmd.append(f"-Wl,--version-script={base}.map")
        subprocess.run(cmd, check=True)
        for ext in (".c", ".map"):
            if os.path.exists(base + ext):
                os.remove(base + ext)
        print(f"stub {so}: {len(set(funcs))} functions, {len(set(objs))} objects")


main()
