//! `coverforge check`: finds each planted problem, and nothing on the shipped samples.

mod common;
use common::*;
use std::path::Path;

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
}

#[test]
fn shipped_samples_are_clean() {
    let dir = tempdir();
    let mut args = vec!["check".to_string()];
    for entry in std::fs::read_dir(repo("samples")).unwrap() {
        let p = entry.unwrap().path();
        if p.extension().is_some_and(|e| e == "yaml") {
            args.push(p.to_string_lossy().into_owned());
        }
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let r = run_in(dir.path(), &args);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    // Each file ends with one "ok" line; anything before it is advice
    // from the cover guidance, which never makes a file fail.
    let ok = r.stdout.lines().filter(|l| l.contains(": ok (contrast measured on")).count();
    assert_eq!(ok, args.len() - 1, "{}", r.stdout);
    let other: Vec<&str> = r.stdout.lines().filter(|l| !l.contains(": ok (contrast measured on")).collect();
    assert!(other.iter().all(|l| l.contains(": advice: ")), "{}", r.stdout);
}

#[test]
fn every_planted_problem_is_found_with_its_file_and_line() {
    let dir = tempdir();
    let d = dir.path();
    let golden_text = repo("tests/golden/text.yaml.tera");
    write(
        &d.join("long.yaml"),
        &format!("template: douyin-9x16\ntitle: {}\n", "一个非常非常长的标题".repeat(8)),
    );
    write(
        &d.join("minimum.yaml"),
        &format!(
            "template: {}\ntitle: {}\nsubtitle: s\nauthor: a\nvars: {{balanced: b}}\n",
            golden_text.display(),
            "很长的标题".repeat(30)
        ),
    );
    write(
        &d.join("qr.yaml"),
        "template: thumb-320x180\ntitle: t\nlink: {url: https://example.com/a/rather/long/path?with=query}\n",
    );
    write(
        &d.join("zones.yaml.tera"),
        "canvas: {width: 1080, height: 1920}\nplatform: douyin\nlayers:\n  - kind: text\n    text: {{ title }}\n    size: 300\n    max_lines: 6\n    width: 1080\n    line_height: 1.0\n",
    );
    write(&d.join("zones.yaml"), "template: ./zones.yaml.tera\ntitle: 这是一个占满全屏的大标题文字块\n");
    write(
        &d.join("dark.yaml.tera"),
        "canvas: {width: 1080, height: 1920}\nlayers:\n  - kind: rect\n    color: \"#000000E0\"\n  - kind: text\n    id: title\n    text: {{ title }}\n    color: \"#303030\"\n    size: 80\n    width: 900\n    anchor: center\n",
    );
    write(&d.join("contrast.yaml"), "template: ./dark.yaml.tera\ntitle: 看不清的标题\nframe: 2s\n");
    std::fs::copy(repo("samples/cooking.mp4"), d.join("contrast.mp4")).unwrap();
    write(&d.join("glyph.yaml"), "template: thumb-320x180\ntitle: 恐龙 🦖\n");

    let metas = ["long", "minimum", "qr", "zones", "contrast", "glyph"];
    let files: Vec<String> = metas.iter().map(|m| format!("{m}.yaml")).collect();
    let mut args = vec!["check", "--json"];
    args.extend(files.iter().map(String::as_str));
    let r = run_in(d, &args);
    assert_eq!(r.code, 4, "errors win over findings: {}", r.stderr);
    let reports: Vec<serde_json::Value> = serde_json::from_str(&r.stdout).unwrap();
    let kinds = |meta: &str| -> Vec<String> {
        let rep =
            reports.iter().find(|x| x["meta"].as_str().unwrap().ends_with(&format!("{meta}.yaml"))).unwrap();
        rep["findings"].as_array().unwrap().iter().map(|f| f["kind"].as_str().unwrap().to_string()).collect()
    };
    assert_eq!(kinds("long"), vec!["truncated"]);
    assert_eq!(kinds("minimum"), vec!["below-minimum"]);
    assert_eq!(kinds("qr"), vec!["qr-modules", "qr-quiet-zone"]);
    assert_eq!(kinds("zones"), vec!["safe-zone"]);
    assert_eq!(kinds("contrast"), vec!["contrast"]);
    let glyph = reports.iter().find(|x| x["meta"].as_str().unwrap().ends_with("glyph.yaml")).unwrap();
    assert!(glyph["errors"][0].as_str().unwrap().contains("has glyphs for `🦖`"), "{glyph}");
    // Layout findings point at the template and the layer's line in the rendered layout.
    let long = reports.iter().find(|x| x["meta"].as_str().unwrap().ends_with("long.yaml")).unwrap();
    let f = &long["findings"][0];
    assert!(f["file"].as_str().unwrap().ends_with("douyin-9x16.yaml.tera"), "{f}");
    assert!(f["line"].as_u64().is_some() && f["layer"].as_str().unwrap().contains("title"), "{f}");

    // The text form names the metadata, the template and the line.
    let r = run_in(d, &["check", "long.yaml"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stdout.starts_with("long.yaml: ")
            && r.stdout.contains("douyin-9x16.yaml.tera:")
            && r.stdout.contains("warning[truncated]"),
        "{}",
        r.stdout
    );
}

#[test]
fn text_and_qr_codes_are_moved_out_of_safe_zones() {
    let env = test_env();
    let (_, doc) = coverforge::pipeline::layout_for(&repo("samples/cooking.yaml"), None, &env).unwrap();
    assert!(!doc.safe_zones.is_empty(), "douyin-9x16 uses the douyin profile");
    for layer in &doc.layers {
        if matches!(layer, coverforge::layout::doc::Layer::Text(_) | coverforge::layout::doc::Layer::Qr(_)) {
            let b = layer.bbox();
            for z in &doc.safe_zones {
                let overlap = b.x < z.x + z.width as i32
                    && z.x < b.x + b.width as i32
                    && b.y < z.y + z.height as i32
                    && z.y < b.y + b.height as i32;
                assert!(!overlap || b.height == 0, "{b:?} overlaps {z:?}");
            }
        }
    }
    assert!(doc.findings.is_empty(), "{:?}", doc.findings);
}
