//! `coverforge analyze`: layout-known measures are exact (text coverage from the text boxes),
//! bare images get no layout fields, reports and metadata work as inputs.

mod common;
use common::*;

#[test]
fn text_coverage_comes_from_the_layout_and_bare_images_get_no_guess() {
    let dir = tempdir();
    let d = dir.path();
    std::fs::copy(repo("samples/cooking.mp4"), d.join("clip.mp4")).unwrap();
    // One text box of 200 x 50 (two lines of 20 px at line height 1.25) on a 400 x 400 canvas.
    std::fs::write(
        d.join("t.yaml.tera"),
        "canvas: {width: 400, height: 400}\nlayers:\n  - kind: text\n    text: {{ title }}\n    size: 20\n    line_height: 1.25\n    width: 200\n    max_lines: 2\n    dx: 100\n    dy: 100\n",
    )
    .unwrap();
    std::fs::write(
        d.join("clip.yaml"),
        "template: ./t.yaml.tera\ntitle: 一二三四五六七八九十一二三四五六七八九十\nframe: 1s\n",
    )
    .unwrap();
    let r = run_in(d, &["analyze", "clip.yaml", "--json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: Vec<serde_json::Value> = serde_json::from_str(&r.stdout).unwrap();
    let coverage = v[0]["text_coverage"].as_f64().unwrap();
    assert!((coverage - 200.0 * 50.0 / 160_000.0).abs() < 1e-9, "{coverage}");
    assert!(v[0]["title_contrast"].as_f64().is_some());
    assert!((v[0]["aspect_ratio"].as_f64().unwrap() - 1.0).abs() < 1e-9);

    // The same cover as a bare image: pixel measures only.
    let r = run_in(d, &["render", "clip.mp4", "--meta", "clip.yaml", "-o", "c.png"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = run_in(d, &["analyze", "c.png", "--json"]);
    let v: Vec<serde_json::Value> = serde_json::from_str(&r.stdout).unwrap();
    assert!(v[0].get("text_coverage").is_none(), "{}", v[0]);
    assert!(v[0]["saturation_mean"].as_f64().is_some());

    // Through a batch report, the layout is known again.
    let r = run_in(d, &["batch", ".", "-o", "out", "-q", "--no-cache", "--report", "r.jsonl"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = run_in(d, &["analyze", "r.jsonl", "--csv"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{}", r.stdout);
    assert!(lines[1].contains(",0.0625,"), "text coverage from the report's layout: {}", lines[1]);
}

#[test]
fn batch_measures_only_when_asked_and_keeps_them_for_unchanged_covers() {
    let dir = tempdir();
    let d = dir.path();
    std::fs::create_dir(d.join("v")).unwrap();
    std::fs::copy(repo("samples/cooking.mp4"), d.join("v/clip.mp4")).unwrap();
    std::fs::write(
        d.join("v/t.yaml.tera"),
        "canvas: {width: 400, height: 400}\nlayers:\n  - kind: text\n    text: {{ title }}\n    size: 20\n    line_height: 1.25\n    width: 200\n    max_lines: 2\n    dx: 100\n    dy: 100\n",
    )
    .unwrap();
    std::fs::write(
        d.join("v/clip.yaml"),
        "template: ./t.yaml.tera\ntitle: 一二三四五六七八九十一二三四五六七八九十\nframe: 1s\n",
    )
    .unwrap();
    let line = |report: &str| -> serde_json::Value {
        let text = std::fs::read_to_string(d.join(report)).unwrap();
        serde_json::from_str(text.lines().next().unwrap()).unwrap()
    };
    let r = run_in(d, &["batch", "v", "-o", "out", "--report", "plain.jsonl"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(line("plain.jsonl").get("measures").is_none(), "no measures unless asked");

    let r = run_in(
        d,
        &["batch", "v", "-o", "out", "--force", "--report", "m.jsonl", "--measures", "--proof", "p.html"],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let m = &line("m.jsonl")["measures"];
    assert!((m["text_coverage"].as_f64().unwrap() - 200.0 * 50.0 / 160_000.0).abs() < 1e-9, "{m}");
    assert!(m["title_contrast"].as_f64().is_some(), "{m}");
    let proof = std::fs::read_to_string(d.join("p.html")).unwrap();
    assert!(
        proof.contains("id=\"sort\"") && proof.contains("data-text_coverage=\"0.0625\""),
        "sortable by measures"
    );

    // Unchanged on the next run: skipped, with the measures (and contrast) of the run that made it.
    let r = run_in(d, &["batch", "v", "-o", "out", "--report", "again.jsonl", "--measures"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let again = line("again.jsonl");
    assert_eq!(again["status"], "skipped");
    assert_eq!(again["measures"]["title_contrast"], m["title_contrast"]);
}
