"""The A/B report opened in the real browser: one SVG figure per video with a mark per variant,
the winner named on the page, and nothing loaded from outside the file.

Usage: ab_report.py BINARY REPO ARTIFACTS
"""

import os
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
    browser.close()
print("ab report: one figure per video, a mark per variant, winner named: ok")
