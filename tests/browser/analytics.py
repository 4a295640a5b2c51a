"""The analytics pages in the real browser. The A/B report: one SVG figure per video with a mark
per variant, the winner named on the page, nothing loaded from outside the file. The proof sheet
of `batch --measures`: sorting by a measure orders the covers by it, filtering hides the rest.

Usage: analytics.py BINARY REPO ARTIFACTS
"""

import os
import shutil
import subprocess
import sys
import tempfile

from playwright.sync_api import sync_playwright

binary, repo, artifacts = sys.argv[1], sys.argv[2], sys.argv[3]
os.makedirs(artifacts, exist_ok=True)
work = tempfile.mkdtemp(prefix="coverforge-ab-")
results = os.path.join(work, "results.csv")
with open(results, "w") as f:
    # "win": B is planted clearly better; "close": two variants too close to call.
    f.write(
        "video,variant,impressions,clicks\n"
        "win,A,20000,600\nwin,B,20000,820\nwin,C,20000,610\n"
        "close,A,4000,120\nclose,B,4000,124\n"
    )
report = os.path.join(work, "ab.html")
subprocess.run([binary, "ab", results, "--report", report], check=True, capture_output=True)

# A batch with measures: one video with three title variants of different lengths, one without.
videos = os.path.join(work, "videos")
os.makedirs(videos)
for name in ("cooking", "travel"):
    shutil.copy(os.path.join(repo, "samples", name + ".mp4"), videos)
with open(os.path.join(videos, "cooking.yaml"), "w") as f:
    f.write(
        "template: douyin-9x16\ntitle: 番茄炒蛋\nvariants:\n  - id: A\n"
        "  - id: B\n    title: 番茄炒蛋的秘密：先炒蛋还是先炒番茄？一次讲清楚，三分钟学会\n"
        "  - id: C\n    title: 三分钟学会番茄炒蛋\n"
    )
with open(os.path.join(videos, "travel.yaml"), "w") as f:
    f.write("template: douyin-9x16\ntitle: 城市夜景 Citywalk\n")
proof = os.path.join(work, "proof.html")
subprocess.run(
    [binary, "batch", videos, "-o", os.path.join(work, "out"), "--proof", proof, "--measures", "-q"],
    check=True,
    capture_output=True,
)

with sync_playwright() as p:
    browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
    page = browser.new_page(viewport={"width": 1200, "height": 1600})
    outside = []
    page.on("request", lambda r: outside.append(r.url) if not r.url.startswith(("file:", "data:")) else None)
    page.goto("file://" + report)
    sections = page.locator("section.video")
    assert sections.count() == 2, sections.count()
    for video, variants in (("win", 3), ("close", 2)):
        s = page.locator(f'section.video[data-video="{video}"]')
        svgs = s.locator("svg")
        assert svgs.count() == 1, f"{video}: {svgs.count()} SVG figures"
        marks = svgs.first.locator("circle")
        assert marks.count() == variants, f"{video}: {marks.count()} marks for {variants} variants"
        box = svgs.first.bounding_box()
        assert box and box["width"] > 300 and box["height"] > 80, f"{video}: figure not drawn: {box}"
    win = page.locator('section.video[data-video="win"]')
    assert win.get_attribute("data-winner") == "B"
    assert "Winner: B" in win.locator(".verdict").inner_text()
    close = page.locator('section.video[data-video="close"]')
    assert "Keep testing" in close.locator(".verdict").inner_text(), close.locator(".verdict").inner_text()
    assert not outside, f"the report loaded from outside itself: {outside}"
    page.screenshot(path=os.path.join(artifacts, "ab-report.png"), full_page=True)

    page.goto("file://" + proof)
    figures = page.locator("figure")
    assert figures.count() == 4, figures.count()
    page.select_option("#sort", "text_coverage")
    page.select_option("#order", "asc")
    values = [float(v) for v in page.eval_on_selector_all("figure", "fs => fs.map(f => f.dataset.text_coverage)")]
    assert len(values) == 4 and values == sorted(values), values
    assert values[0] < values[-1], values
    # Show only covers with more text than halfway between the least and the most.
    threshold = (values[0] + values[-1]) / 2
    expected = sum(1 for v in values if v >= threshold)
    page.select_option("#filter", "text_coverage")
    page.fill("#min", str(threshold))
    visible = page.eval_on_selector_all("figure", "fs => fs.filter(f => f.style.display !== 'none').length")
    assert 0 < visible == expected < 4, (visible, expected, values)
    assert f"{expected} of 4 covers shown" in page.inner_text("#shown"), page.inner_text("#shown")
    page.select_option("#sort", "")
    assert page.locator("section.variants figure").count() == 3, "batch order restores the variant group"
    page.screenshot(path=os.path.join(artifacts, "proof-measures.png"), full_page=True)
    browser.close()
print("analytics pages: ab report with a figure per video, a mark per variant and the winner; proof sheet sorts and filters by measures: ok")
