"""The preview page in a real browser (Debian's chromium driven by Playwright).

Run by tests/browser.rs (make test sets COVERFORGE_BROWSER_PYTHON to the venv `make deps`
creates). Starts `coverforge serve --port 0` on a copy of the samples with its own templates/,
then: waits for the covers, edits a template's title size and waits for the new image, plants a
syntax error and sees `douyin-9x16.yaml.tera:LINE` on the page, fixes it, switches overlays, and
shows A/B variants side by side. Screenshots go to $ARTIFACTS on failure.

    python tests/browser/preview.py BINARY REPO ARTIFACTS
"""
import os, re, shutil, subprocess, sys, tempfile, time
from playwright.sync_api import sync_playwright, expect

binary, repo, artifacts = sys.argv[1], sys.argv[2], sys.argv[3]
work = tempfile.mkdtemp(prefix="cf-preview-")
folder, cache = os.path.join(work, "covers"), os.path.join(work, "cache")
shutil.copytree(os.path.join(repo, "samples"), folder, ignore=shutil.ignore_patterns("*.sh"))
os.makedirs(os.path.join(folder, "templates"))
template = os.path.join(folder, "templates", "douyin-9x16.yaml.tera")
shutil.copy(os.path.join(repo, "templates", "douyin-9x16.yaml.tera"), template)
original = open(template, encoding="utf-8").read()

server = subprocess.Popen(
    [binary, "serve", folder, "--port", "0", "--cache-dir", cache],
    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "COVERFORGE_HOME": repo},
)
url = server.stdout.readline().strip().split(" ")[-1]
assert url.startswith("http://127.0.0.1:"), url


def write(path, text):
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def revision(page):
    return int(page.locator("#large").get_attribute("data-revision") or "0")


def wait_new_image(page, after):
    """Waits until the large image shows a revision newer than `after`, loaded."""
    page.wait_for_function(
        "rev => { const i = document.getElementById('large');"
        " return +i.dataset.revision > rev && i.complete && i.naturalWidth > 0 && i.src.includes('rev=' + i.dataset.revision); }",
        arg=after, timeout=30000)


ok = False
with sync_playwright() as p:
    browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        page.goto(url)
        expect(page.locator("#status")).to_have_text("live", timeout=30000)
        cover = page.locator('.cover[data-key="cooking"] img')
        expect(cover).to_be_visible(timeout=60000)
        page.locator('.cover[data-key="cooking"]').click()
        expect(page.locator("#large")).to_be_visible()
        page.wait_for_function("() => document.getElementById('large').naturalWidth === 1080", timeout=30000)

        # 1. A saved edit (a bigger title) shows up by itself.
        before = revision(page)
        write(template, original.replace('default(value=96)', 'default(value=120)'))
        wait_new_image(page, before)

        # 2. A broken edit: the error names the template and its line, over the last good image.
        good = page.locator("#large").get_attribute("src")
        write(template, original + "\n{% for %}\n")
        error = page.locator("#error")
        expect(error).to_be_visible(timeout=30000)
        expect(error).to_contain_text(re.compile(r"douyin-9x16\.yaml\.tera:\d+"))
        assert page.locator("#large").get_attribute("src") == good, "the last good image stays"

        # 3. Fixed: the error goes away.
        write(template, original)
        expect(error).to_be_hidden(timeout=30000)

        # 4. Overlays.
        page.locator("#toggle-zones").check()
        assert page.locator("#overlay rect.zone").count() > 0
        page.locator("#toggle-text").check()
        expect(page.locator("#overlay rect.textbox")).to_have_count(3)
        page.locator("#toggle-text").uncheck()
        expect(page.locator("#overlay rect.textbox")).to_have_count(0)
        assert page.locator("#feed-ui rect.ui").count() > 0, "the platform's UI over the feed view"

        # 5. Variants side by side.
        meta = os.path.join(folder, "cooking.yaml")
        write(meta, open(meta, encoding="utf-8").read() + "variants:\n  - id: A\n  - id: B\n    title: 红烧肉的十个秘诀\n")
        expect(page.locator('.cover[data-key="cooking.B"] img')).to_be_visible(timeout=60000)
        page.locator('.cover[data-key="cooking.A"]').click()
        expect(page.locator("#variants .variant")).to_have_count(2, timeout=30000)
        expect(page.locator('#variants .variant[data-key="cooking.B"] img')).to_be_visible()
        ok = True
    finally:
        if not ok:
            os.makedirs(artifacts, exist_ok=True)
            page.screenshot(path=os.path.join(artifacts, "preview-failure.png"), full_page=True)
            print("screenshot:", os.path.join(artifacts, "preview-failure.png"), file=sys.stderr)
        browser.close()
        server.kill()
        shutil.rmtree(work, ignore_errors=True)
print("preview page: live update, error with line, fix, overlays, variants: ok")
