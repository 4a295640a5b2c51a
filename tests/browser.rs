//! The preview page in a real browser: runs `tests/browser/preview.py` (Playwright driving
//! Debian's chromium) against this build's binary. `make test` installs both and sets
//! COVERFORGE_BROWSER_PYTHON to the venv's Python; a bare `cargo test` says it skipped.

mod common;
use common::*;

#[test]
fn the_preview_page_updates_live_shows_errors_overlays_and_variants() {
    let Some(python) = std::env::var_os("COVERFORGE_BROWSER_PYTHON") else {
        eprintln!("browser test skipped: COVERFORGE_BROWSER_PYTHON is not set (`make test` sets it)");
        return;
    };
    let artifacts = root().join("target/browser-artifacts");
    let out = std::process::Command::new(python)
        .arg(repo("tests/browser/preview.py"))
        .arg(env!("CARGO_BIN_EXE_coverforge"))
        .arg(root())
        .arg(&artifacts)
        .output()
        .expect("the browser test starts");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "browser test failed (screenshots in {}):\n{text}", artifacts.display());
    assert!(
        text.contains("preview page: live update, error with line, fix, overlays, variants: ok"),
        "{text}"
    );
}
