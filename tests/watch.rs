//! `batch --watch`: an edited template re-renders exactly the covers that use it, once, from
//! frames kept in memory; a broken edit is reported with its file and line and leaves the last
//! good covers; fixing it recovers.

mod common;
use common::*;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

/// The report's summary line, once the report file holds pass `n`'s (the report is rewritten
/// each pass, so wait for the watch log to announce the pass first).
fn wait_for_pass(log: &Path, n: usize) -> String {
    let start = Instant::now();
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        if text.contains(&format!("watch: pass {n}")) {
            return text;
        }
        assert!(start.elapsed() < Duration::from_secs(60), "no pass {n} in: {text}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn summary(report: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(report).unwrap();
    let line = text.lines().rev().find(|l| l.contains("\"summary\"")).unwrap().to_string();
    serde_json::from_str::<serde_json::Value>(&line).unwrap()["summary"].clone()
}

#[test]
fn edits_rerender_what_they_affect_and_a_broken_edit_keeps_the_last_good_covers() {
    let dir = tempdir();
    let d = dir.path();
    std::fs::copy(repo("samples/cooking.mp4"), d.join("a.mp4")).unwrap();
    std::fs::copy(repo("samples/travel.mp4"), d.join("b.mp4")).unwrap();
    let template = std::fs::read_to_string(repo("templates/douyin-9x16.yaml.tera")).unwrap();
    std::fs::write(d.join("brand.yaml.tera"), &template).unwrap();
    std::fs::write(d.join("a.yaml"), "template: ./brand.yaml.tera\ntitle: 红烧肉\nframe: 2s\n").unwrap();
    std::fs::write(d.join("b.yaml"), "template: douyin-9x16\ntitle: 夜景\nframe: 2s\n").unwrap();
    let log = d.join("watch.log");
    let mut child = coverforge()
        .args(["batch", ".", "-o", "out", "--watch", "--no-cache", "--report", "r.jsonl"])
        .current_dir(d)
        .env("COVERFORGE_HOME", root())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let result = std::panic::catch_unwind(|| {
        wait_for_pass(&log, 1);
        let b_before = std::fs::metadata(d.join("out/b.jpg")).unwrap().modified().unwrap();
        let a_first = std::fs::read(d.join("out/a.jpg")).unwrap();

        // A darker scrim in the template a.yaml uses: a is rendered again, b is not, no decode.
        std::fs::write(d.join("brand.yaml.tera"), template.replace("#000000E0", "#000000C0")).unwrap();
        wait_for_pass(&log, 2);
        let s = summary(&d.join("r.jsonl"));
        assert_eq!(
            (s["ok"].as_u64(), s["skipped"].as_u64(), s["failed"].as_u64()),
            (Some(1), Some(1), Some(0)),
            "{s}"
        );
        assert_eq!(s["decodes"], 0, "the frame came from memory: {s}");
        let a_second = std::fs::read(d.join("out/a.jpg")).unwrap();
        assert_ne!(a_first, a_second, "a was rendered again");
        assert_eq!(
            std::fs::metadata(d.join("out/b.jpg")).unwrap().modified().unwrap(),
            b_before,
            "b untouched"
        );

        // A broken edit: reported with file and line; the last good cover stays.
        std::fs::write(d.join("brand.yaml.tera"), format!("{template}{{% for %}}\n")).unwrap();
        let text = wait_for_pass(&log, 3);
        assert!(text.contains("brand.yaml.tera:") && text.contains("template syntax error"), "{text}");
        assert_eq!(std::fs::read(d.join("out/a.jpg")).unwrap(), a_second, "the last good cover stays");

        // Fixed: rendered again.
        std::fs::write(d.join("brand.yaml.tera"), template.replace("#000000E0", "#000000A0")).unwrap();
        wait_for_pass(&log, 4);
        let s = summary(&d.join("r.jsonl"));
        assert_eq!((s["ok"].as_u64(), s["failed"].as_u64()), (Some(1), Some(0)), "{s}");
        let text = std::fs::read_to_string(&log).unwrap();
        assert!(!text.contains("watch: pass 5"), "no pass without an edit: {text}");
    });
    let _ = child.kill();
    let _ = child.wait();
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
}
