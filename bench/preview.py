"""Preview latency benchmark (run by hand: bench/preview.sh): the time from saving a template
edit to the new cover loaded in the browser, over EDITS edits of the douyin sample's title size,
against the composite + encode time of that same render (from the server's report of it).
Target: median at most 2x that time plus the debounce (200 ms)."""
import json, os, shutil, statistics, subprocess, sys, tempfile, time, urllib.request
from playwright.sync_api import sync_playwright

binary, repo, edits = sys.argv[1], sys.argv[2], int(os.environ.get("EDITS", "20"))
work = tempfile.mkdtemp(prefix="cf-preview-bench-")
folder, cache = os.path.join(work, "covers"), os.path.join(work, "cache")
os.makedirs(os.path.join(folder, "templates"))
shutil.copy(os.path.join(repo, "samples", "cooking.mp4"), folder)
shutil.copytree(os.path.join(repo, "samples", "assets"), os.path.join(folder, "assets"))
with open(os.path.join(repo, "samples", "cooking.yaml"), encoding="utf-8") as f:
    meta = f.read().replace("frame: auto", "frame: 2s")
with open(os.path.join(folder, "cooking.yaml"), "w", encoding="utf-8") as f:
    f.write(meta)
template = os.path.join(folder, "templates", "douyin-9x16.yaml.tera")
shutil.copy(os.path.join(repo, "templates", "douyin-9x16.yaml.tera"), template)
original = open(template, encoding="utf-8").read()
server = subprocess.Popen([binary, "serve", folder, "--port", "0", "--cache-dir", cache],
                          stdout=subprocess.PIPE, text=True, env={**os.environ, "COVERFORGE_HOME": repo})
url = server.stdout.readline().strip().split(" ")[-1]
rows = []
try:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        page = browser.new_page()
        page.goto(url)
        page.locator('.cover[data-key="cooking"]').click(timeout=60000)
        page.wait_for_function("() => document.getElementById('large').naturalWidth === 1080", timeout=60000)
        for i in range(edits):
            rev = int(page.locator("#large").get_attribute("data-revision"))
            size = 90 + (i % 2) * 10 + i  # every edit changes the cover
            t0 = time.perf_counter()
            with open(template, "w", encoding="utf-8") as f:
                f.write(original.replace("default(value=96)", f"default(value={size})"))
            page.wait_for_function(
                "rev => { const i = document.getElementById('large');"
                " return +i.dataset.revision > rev && i.complete && i.naturalWidth > 0; }", arg=rev, timeout=30000,
                polling=2)  # not per animation frame: that alone adds up to 16 ms
            latency = (time.perf_counter() - t0) * 1000
            cover = json.load(urllib.request.urlopen(url + "api/cover?key=cooking"))
            work_ms = cover["times"]["composite_ms"] + cover["times"]["encode_ms"]
            rows.append((latency, work_ms))
            print(f"edit {i + 1:2}: saved → new image in the browser {latency:7.1f} ms; composite + encode {work_ms:6.1f} ms")
        browser.close()
finally:
    server.kill()
    shutil.rmtree(work, ignore_errors=True)
lat = statistics.median(r[0] for r in rows)
work_ms = statistics.median(r[1] for r in rows)
print(f"median over {edits} edits: {lat:.1f} ms vs composite + encode {work_ms:.1f} ms: "
      f"(latency - 200 ms debounce) / work = {(lat - 200) / work_ms:.2f}x  [target <= 2x]")
