//! Pages in a real browser: runs `tests/browser/preview.py` (the preview server) and
//! `tests/browser/analytics.py` (the A/B report and the measured proof sheet) with Playwright driving Debian's chromium,
//! against this build's binary. `make test` installs both and sets
//! COVERFORGE_BROWSER_PYTHON to the venv's Python; a bare `cargo test` says it skipped.

mod common;
use common::*;

/// Runs one browser script against this build's binary; `None` when the browser is not set up.
fn run_script(script: &str) -> Option<String> {
    let Some(python) = std::env::var_os("COVERFORGE_BROWSER_PYTHON") else {
        eprintln!("browser test skipped: COVERFORGE_BROWSER_PYTHON is not set (`make test` sets it)");
        return None;
    };
    let artifacts = root().join("target/browser-artifacts");
    let out = std::process::Command::new(python)
        .arg(repo(script))
        .arg(env!("CARGO_BIN_EXE_coverforge"))
        .arg(root())
        .arg(&artifacts)
        .output()
        .expect("the browser test starts");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{script} failed (screenshots in {}):\n{text}", artifacts.display());
    Some(text)
}

#[test]
fn the_preview_page_updates_live_shows_errors_overlays_and_variants() {
    if let Some(text) = run_script("tests/browser/preview.py") {
        assert!(
            text.contains("preview page: live update, error with line, fix, overlays, variants: ok"),
            "{text}"
        );
    }
}

#[test]
fn the_ab_report_and_the_measured_proof_sheet_work_in_the_browser() {
    if let Some(text) = run_script("tests/browser/analytics.py") {
        assert!(text.contains("proof sheet sorts and filters by measures: ok"), "{text}");
    }
}
