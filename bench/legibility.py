"""Legibility of shipped-template titles on real photographs (issue 18's check).

For each photograph of scikit-image's sample data (made into a short clip) and each title, a
douyin cover is rendered with `frame: auto`; tesseract (chi_sim) reads the title region back.
The reference is the same title layer rendered plainly (white on black, no shadow) in the same
font, size and box. Printed per set, at full size and at feed size (the cover scaled to 270x480,
the title region then enlarged for tesseract as at full size):

    legibility = characters read from covers / characters read from plain renders

The photographs are split once into a tuning set and a held-out set; template defaults may be
tuned on the first only. Usage: python legibility.py COVERFORGE WORKDIR
"""
import collections
import os
import re
import shutil
import subprocess
import sys

import numpy as np
import skimage
import yaml
from PIL import Image

TUNE = ["astronaut", "chelsea", "coffee", "rocket", "motorcycle_left", "brick", "grass", "moon"]
HELD_OUT = ["camera", "clock_motion", "coins", "gravel", "hubble_deep_field", "ihc",
            "motorcycle_right", "page", "retina", "text", "cell", "microaneurysms"]
TITLES = ["三分钟学会红烧肉", "周末去哪儿：城市夜景全攻略", "新手也能做的蛋糕", "十个省钱小技巧",
          "秋天的第一杯奶茶", "从外滩到陆家嘴的夜景路线"]

binary, work = sys.argv[1], os.path.abspath(sys.argv[2])
repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
os.makedirs(work, exist_ok=True)
data = os.path.join(os.path.dirname(skimage.__file__), "data")


def run(*args, **kw):
    return subprocess.run(args, check=True, capture_output=True, text=True, **kw)


def clip(name):
    """A 2 s clip of a photograph (GOP 10: several keyframes for frame: auto)."""
    out = os.path.join(work, f"{name}.mp4")
    if os.path.exists(out):
        return out
    src = next(os.path.join(data, f) for f in os.listdir(data) if f.rsplit(".", 1)[0] == name)
    png = os.path.join(work, f"{name}.png")
    Image.open(src).convert("RGB").save(png)
    run("ffmpeg", "-nostdin", "-y", "-loglevel", "error", "-loop", "1", "-i", png, "-t", "2", "-r", "25",
        "-vf", "scale=1280:-2,format=yuv420p", "-c:v", "libx264", "-g", "10", out)
    return out


def plain_template():
    """The douyin template's canvas and title layer alone: white text, no shadow, no scrims."""
    text = open(os.path.join(repo, "templates/douyin-9x16.yaml.tera")).read()
    head = text[: text.index("layers:")]
    block = re.search(r"  - kind: text\n    id: title\n(?:    .*\n|      .*\n)+", text).group(0)
    block = re.sub(r"    color: .*\n", '    color: "#FFFFFF"\n', block)
    block = re.sub(r"    shadow: .*\n", "", block)
    block = re.sub(r"    alternatives:\n(      .*\n)+", "", block)
    out = os.path.join(work, "plain.yaml.tera")
    open(out, "w").write(head + "layers:\n" + block)
    return out


def render(video, template, title, out):
    meta = out + ".yaml"
    open(meta, "w").write(f'template: {template}\ntitle: "{title}"\nsubtitle: 副标题 subtitle\nframe: auto\n')
    env = dict(os.environ, COVERFORGE_HOME=repo)
    run(binary, "--allow-path", work, "render", video, "--meta", meta, "-o", out, env=env)
    dump = run(binary, "--allow-path", work, "layout", "--meta", meta, "--dump", env=env).stdout
    layer = next(l for l in yaml.safe_load(dump)["layers"] if l.get("id") == "title")
    return layer


def read(image, box, size, scale, name):
    """Characters tesseract reads in `box` (cover pixels) of `image` shown at `scale`."""
    img = Image.open(image).convert("RGB")
    if scale != 1.0:
        img = img.resize((round(img.width * scale), round(img.height * scale)), Image.LANCZOS)
    m = size * 0.25
    x, y, w, h = [v * scale for v in (box["x"] - m, box["y"] - m, box["width"] + 2 * m, box["height"] + 2 * m)]
    crop = img.crop((round(x), round(y), round(x + w), round(y + h)))
    k = 40.0 / (size * scale)  # glyphs ~40 px tall, tesseract's comfort zone
    crop = crop.resize((max(1, round(crop.width * k)), max(1, round(crop.height * k))), Image.BICUBIC)
    path = os.path.join(work, name + ".png")
    crop.save(path)
    out = subprocess.run(["tesseract", path, "stdout", "-l", "chi_sim", "--psm", "6"], capture_output=True, text=True)
    return out.stdout


def hits(title, text):
    have = collections.Counter(c for c in text if not c.isspace())
    n = 0
    for c in title:
        if not c.isspace() and have[c] > 0:
            have[c] -= 1
            n += 1
    return n


black = os.path.join(work, "black.mp4")
if not os.path.exists(black):
    run("ffmpeg", "-nostdin", "-y", "-loglevel", "error", "-f", "lavfi", "-i", "color=black:s=1280x720:d=2:r=25",
        "-c:v", "libx264", "-g", "10", "-pix_fmt", "yuv420p", black)
plain = plain_template()
# TEMPLATE=path tries other template defaults (the shipped douyin template by default).
douyin = os.environ.get("TEMPLATE") or os.path.join(repo, "templates/douyin-9x16.yaml.tera")
plain_hits = {}
for i, title in enumerate(TITLES):
    out = os.path.join(work, f"plain{i}.jpg")
    layer = render(black, plain, title, out)
    plain_hits[title] = tuple(hits(title, read(out, layer["bbox"], layer["size"], s, f"p{i}-{s}")) for s in (1.0, 0.25))
sets = (("tuning", TUNE), ("held-out", HELD_OUT))
only = os.environ.get("SETS")  # e.g. SETS=tuning while trying template defaults
for name, photos in (s for s in sets if not only or s[0] in only.split(",")):
    cover = [0, 0]
    reference = [0, 0]
    for photo in photos:
        video = clip(photo)
        got = [0, 0]
        for i, title in enumerate(TITLES):
            out = os.path.join(work, f"{photo}-{i}.jpg")
            layer = render(video, douyin, title, out)
            for k, s in enumerate((1.0, 0.25)):
                got[k] += hits(title, read(out, layer["bbox"], layer["size"], s, f"{photo}-{i}-{s}"))
                reference[k] += plain_hits[title][k]
        cover = [c + g for c, g in zip(cover, got)]
        if os.environ.get("VERBOSE"):
            print(f"  {photo}: full {got[0]}, feed {got[1]} of {sum(plain_hits[t][0] for t in TITLES)}")
    print(f"{name} ({len(photos)} photographs x {len(TITLES)} titles): "
          f"full size {cover[0]}/{reference[0]} = {cover[0] / max(1, reference[0]):.3f}, "
          f"feed size (270x480) {cover[1]}/{reference[1]} = {cover[1] / max(1, reference[1]):.3f}")
