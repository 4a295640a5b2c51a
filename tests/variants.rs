//! A/B variant sets: expansion and ids, tracking per variant (read back from the QR codes with
//! zbarimg), limits and clashes, batch expansion, and near-duplicate warnings in `check`.

mod common;
use common::*;
use std::path::Path;

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).unwrap();
}

const BASE: &str = "template: douyin-9x16\ntitle: 三分钟学会红烧肉\nsubtitle: 家常做法 · 零失败\n\
link:\n  url: https://shop.example.com/item/123\n  utm: {source: douyin, medium: cover_qr, campaign: autumn, content: inherited}\nframe: 2s\n";

/// A folder with the cooking clip and `cooking.yaml` = BASE + `variants`.
fn folder(variants: &str) -> tempfile::TempDir {
    let dir = tempdir();
    std::fs::copy(repo("samples/cooking.mp4"), dir.path().join("cooking.mp4")).unwrap();
    write(dir.path(), "cooking.yaml", &format!("{BASE}variants:\n{variants}"));
    dir
}

#[test]
fn each_variant_gets_its_cover_and_its_utm_content() {
    let dir = folder(
        "  - id: A\n  - id: B\n    title: 红烧肉的十个秘诀\n  - id: own\n    link: {utm: {content: mine}}\n",
    );
    let d = dir.path();
    let r = run_in(d, &["render", "cooking.mp4", "--meta", "cooking.yaml", "-o", "c.png", "--json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let results: Vec<serde_json::Value> = serde_json::from_str(&r.stdout).unwrap();
    let ids: Vec<&str> = results.iter().map(|v| v["variant"].as_str().unwrap()).collect();
    assert_eq!(ids, ["A", "B", "own"]);
    assert!(!d.join("c.png").exists(), "no cover without a variant");
    for (id, content) in [("A", "A"), ("B", "B"), ("own", "mine")] {
        let codes = zbar(&d.join(format!("c.{id}.png")));
        assert_eq!(
            codes,
            [format!(
                "https://shop.example.com/item/123?utm_source=douyin&utm_medium=cover_qr&utm_campaign=autumn&utm_content={content}"
            )],
            "variant {id}: the inherited utm_content is replaced unless the variant sets its own"
        );
    }
}

#[test]
fn matrix_ids_survive_an_inserted_title_and_layout_lists_every_variant() {
    let ids = |matrix: &str| -> Vec<String> {
        let dir = folder(matrix);
        let r = run_in(dir.path(), &["layout", "--meta", "cooking.yaml"]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        r.stdout
            .lines()
            .map(|l| l.split('#').nth(1).unwrap().split(':').next().unwrap().to_string())
            .collect()
    };
    let before = ids("  title: [Braised pork, 红烧肉]\n  frame: [1s, 3s]\n");
    assert_eq!(before.len(), 4);
    assert_eq!(before[0], "braised-pork-1s");
    let after = ids("  title: [Quick dinner, Braised pork, 红烧肉]\n  frame: [1s, 3s]\n");
    assert_eq!(after.len(), 6);
    for id in &before {
        assert!(after.contains(id), "{id} renamed by inserting a title: {after:?}");
    }
}

#[test]
fn sets_over_the_limit_bad_ids_and_clashes_are_errors() {
    let dir = folder("  title: [a, b]\n  frame: [1s, 2s]\n");
    let r = run_in(dir.path(), &["--max-variants", "3", "layout", "--meta", "cooking.yaml"]);
    assert_eq!(r.code, 5, "a limit: {}", r.stderr);
    assert!(r.stderr.contains("4 variants exceed the limit of 3 (--max-variants)"), "{}", r.stderr);

    let dir = folder("  - id: a.b\n");
    let r = run_in(dir.path(), &["layout", "--meta", "cooking.yaml"]);
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(r.stderr.contains("letters, digits"), "{}", r.stderr);

    // `cooking.thumb.yaml` is a deliverable writing cooking.thumb.jpg: a variant `thumb` would too.
    let dir = folder("  - id: thumb\n  - id: B\n");
    write(dir.path(), "cooking.thumb.yaml", "template: thumb-320x180\ntitle: t\n");
    let r = run_in(dir.path(), &["layout", "--meta", "cooking.yaml"]);
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(r.stderr.contains("variant id `thumb` clashes with the deliverable"), "{}", r.stderr);
}

#[test]
fn batch_expands_variants_and_reports_each() {
    let dir = folder("  - id: A\n  - id: B\n    title: 另一个标题\n");
    let d = dir.path();
    let r = run_in(
        d,
        &["batch", ".", "-o", "out", "-q", "--no-cache", "--report", "r.jsonl", "--proof", "proof.html"],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(d.join("out/cooking.A.jpg").exists() && d.join("out/cooking.B.jpg").exists());
    let report = std::fs::read_to_string(d.join("r.jsonl")).unwrap();
    let mut variants: Vec<String> = report
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v["variant"].as_str().map(str::to_owned))
        .collect();
    variants.sort();
    assert_eq!(variants, ["A", "B"]);
    let proof = std::fs::read_to_string(d.join("proof.html")).unwrap();
    assert!(proof.contains("cooking.A.jpg") && proof.contains("cooking.B.jpg"));
    assert_eq!(proof.matches("A/B variants").count(), 1, "one row for the two variants");
}

#[test]
fn check_warns_about_near_duplicates_only() {
    // B differs from A by one character of the subtitle: a near duplicate. C has another
    // title, D the same title over another frame: not.
    let dir = folder(
        "  - id: A\n  - id: B\n    subtitle: 家常做法 · 零失误\n  - id: C\n    title: 红烧肉的十个秘诀\n  - id: D\n    frame: 4s\n",
    );
    let r = run_in(dir.path(), &["check", "cooking.yaml", "--json"]);
    assert_eq!(r.code, 0, "warnings leave the exit code alone: {}", r.stderr);
    let reports: Vec<serde_json::Value> = serde_json::from_str(&r.stdout).unwrap();
    let warnings = |id: &str| -> Vec<String> {
        let rep = reports.iter().find(|x| x["variant"] == id).unwrap();
        rep["warnings"]
            .as_array()
            .map(|w| w.iter().map(|x| x.as_str().unwrap().to_string()).collect())
            .unwrap_or_default()
    };
    let b = warnings("B");
    assert_eq!(b.len(), 1, "{b:?}");
    assert!(b[0].contains("near duplicate of variant `A`"), "{b:?}");
    for id in ["A", "C", "D"] {
        assert!(warnings(id).is_empty(), "{id}: {:?}", warnings(id));
    }
}

#[test]
fn the_near_duplicate_threshold_separates_the_pairs() {
    // The pairs the threshold was chosen on, measured the way `check` measures them.
    let dir = folder(
        "  - id: A\n  - id: B\n    subtitle: 家常做法 · 零失误\n  - id: C\n    title: 红烧肉的十个秘诀\n  - id: D\n    frame: 4s\n",
    );
    let d = dir.path();
    let r = run_in(d, &["render", "cooking.mp4", "--meta", "cooking.yaml", "-o", "c.png"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let env = test_env();
    let layouts = coverforge::pipeline::layouts_for(&d.join("cooking.yaml"), None, &env).unwrap();
    let qr: Vec<_> = layouts[0]
        .1
        .layers
        .iter()
        .filter(|l| matches!(l, coverforge::layout::doc::Layer::Qr(_)))
        .map(|l| l.bbox())
        .collect();
    let load = |id: &str| coverforge::pixels::Image::load(&d.join(format!("c.{id}.png"))).unwrap();
    let a = load("A");
    let share = |id: &str| coverforge::pixels::differing_share(&a, &load(id), &qr);
    let (b, c, dd) = (share("B"), share("C"), share("D"));
    eprintln!(
        "differing share vs A: one subtitle character {b:.4}, another title {c:.4}, another frame {dd:.4}"
    );
    let t = coverforge::check::NEAR_DUPLICATE_SHARE;
    assert!(b < t / 2.0, "one character: {b}");
    assert!(c > t * 2.0, "another title: {c}");
    assert!(dd > t * 2.0, "another frame: {dd}");
}
