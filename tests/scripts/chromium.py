"""Draws each case of tests/scripts.rs in Chromium with the same fixture fonts, size and canvas,
and saves a screenshot per case (the reference renderer the text engine is compared with).

    python chromium.py cases.json      # [{case, lines, vertical, width, height, fonts, png}]
"""
import base64
import html
import json
import pathlib
import sys

from playwright.sync_api import sync_playwright

cases = json.loads(pathlib.Path(sys.argv[1]).read_text())
with sync_playwright() as p:
    browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox", "--font-render-hinting=none"])
    page = browser.new_page(device_scale_factor=1)
    for c in cases:
        # Fonts as data: URLs (a page made by set_content may not load file: URLs).
        faces = "".join(
            f"@font-face {{ font-family: f{i}; src: url(data:font/ttf;base64,"
            f"{base64.b64encode(pathlib.Path(f).read_bytes()).decode()}); }}"
            for i, f in enumerate(c["fonts"])
        )
        family = ", ".join(f"f{i}" for i in range(len(c["fonts"])))
        if c["vertical"]:
            box = ("writing-mode: vertical-rl; text-orientation: mixed; position: absolute; "
                   f"right: 20px; top: 20px; height: {c['height'] - 40}px; line-height: 60px;")
        else:
            box = ("position: absolute; left: 20px; top: 0; line-height: 96px; white-space: nowrap; "
                   "unicode-bidi: plaintext;")
        page.set_viewport_size({"width": c["width"], "height": c["height"]})
        page.set_content(
            f"<html><head><style>{faces} html, body {{ margin: 0; background: #1A2030; }}"
            f" #t {{ font-family: {family}; font-size: 40px; color: #FFFFFF; {box} }}</style></head>"
            f"<body><div id=t>{'<br>'.join(html.escape(l) for l in c['lines'])}</div></body></html>"
        )
        # Wait for the fixture fonts; one that fails to load (Chromium's sanitizer refused it)
        # would leave the system's fonts in its place, so it is an error.
        status = page.evaluate(
            "async () => { await document.fonts.ready; "
            "return Promise.all([...document.fonts].map(f => f.load().then(() => f.status, () => 'error'))); }"
        )
        if any(s != "loaded" for s in status):
            sys.exit(f"{c['case']}: fonts {status} (a fixture font did not load)")
        page.screenshot(path=c["png"])
    browser.close()
