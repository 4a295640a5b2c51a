//! Golden composite tests: a committed still `frame.png` plus `input.yaml` → the pre-encode
//! canvas, compared with `expected.png` per channel within a tolerance and a budget of
//! differing pixels. Starting from a still (not a video) keeps decoder drift out.
//!
//! On failure, `tests/golden/failed/CASE-{expected,actual,diff}.png` are written (git-ignored).
//! `UPDATE_GOLDEN=1 cargo test --test golden` rewrites the references.

mod common;
use common::*;
use coverforge::pixels::Image;
use coverforge::{composite, pipeline, Env};

/// Largest per-channel difference that still counts as equal (libjpeg/OpenCV rounding).
const TOLERANCE: u8 = 3;
/// Share of pixels allowed beyond the tolerance.
const BUDGET: f64 = 0.001;

fn render_case(case: &str, env: &Env) -> Image {
    let dir = repo(&format!("tests/golden/{case}"));
    let frame_path =
        if dir.join("frame.png").exists() { dir.join("frame.png") } else { repo("tests/golden/frame.png") };
    let frame = Image::load(&frame_path).unwrap();
    let (_, doc) =
        pipeline::layout_for(&dir.join("input.yaml"), None, env).unwrap_or_else(|e| panic!("{case}: {e}"));
    composite::composite(&frame, &doc, env).unwrap()
}

fn save_png(img: &Image, path: &std::path::Path) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, img.encode_png().unwrap()).unwrap();
}

/// (pixels beyond tolerance, amplified diff image)
fn compare(expected: &Image, actual: &Image) -> (usize, Image) {
    let (e, a) = (expected.to_rgb(), actual.to_rgb());
    let mut diff = vec![0u8; e.len()];
    let mut over = 0;
    for (i, (pe, pa)) in e.chunks_exact(3).zip(a.chunks_exact(3)).enumerate() {
        let d = pe.iter().zip(pa).map(|(x, y)| x.abs_diff(*y)).max().unwrap();
        if d > TOLERANCE {
            over += 1;
        }
        let v = d.saturating_mul(8);
        diff[i * 3..i * 3 + 3].copy_from_slice(&[v, v, v]);
    }
    (over, Image::from_rgb(expected.width(), expected.height(), &diff))
}

#[test]
fn composites_match_their_references() {
    let env = test_env();
    let mut failures = Vec::new();
    for case in ["card", "contain", "thumb", "text", "quad", "effects"] {
        let actual = render_case(case, &env);
        let reference = repo(&format!("tests/golden/{case}/expected.png"));
        if std::env::var_os("UPDATE_GOLDEN").is_some() {
            save_png(&actual, &reference);
            continue;
        }
        let expected =
            Image::load(&reference).unwrap_or_else(|e| panic!("{case}: {e} (run with UPDATE_GOLDEN=1)"));
        let failed = |suffix: &str| repo(&format!("tests/golden/failed/{case}-{suffix}.png"));
        if (expected.width(), expected.height()) != (actual.width(), actual.height()) {
            save_png(&actual, &failed("actual"));
            failures.push(format!(
                "{case}: size {}x{} != expected {}x{}",
                actual.width(),
                actual.height(),
                expected.width(),
                expected.height()
            ));
            continue;
        }
        let (over, diff) = compare(&expected, &actual);
        let allowed = (BUDGET * (expected.width() * expected.height()) as f64) as usize;
        if over > allowed {
            save_png(&expected, &failed("expected"));
            save_png(&actual, &failed("actual"));
            save_png(&diff, &failed("diff"));
            failures.push(format!("{case}: {over} pixels differ by more than {TOLERANCE} (allowed {allowed}); see tests/golden/failed/"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_comparison_catches_a_one_layer_change() {
    // Guard against a vacuous golden test: moving the QR code by a few pixels must fail it.
    let env = test_env();
    let actual = render_case("card", &env);
    let mut shifted = actual.clone();
    shifted
        .fill_rect(coverforge::model::Rect::new(200, 480, 20, 20), coverforge::color::Rgba::rgb(255, 0, 255));
    let (over, _) = compare(&actual, &shifted);
    assert!(over > (BUDGET * (360.0 * 640.0)) as usize, "{over}");
    let (same, _) = compare(&actual, &actual);
    assert_eq!(same, 0);
}

#[test]
fn golden_qr_codes_decode() {
    let env = test_env();
    let dir = tempdir();
    let png = dir.path().join("card.png");
    save_png(&render_case("card", &env), &png);
    assert_eq!(
        zbar(&png),
        vec!["https://shop.example.com/item/123?utm_source=douyin&utm_medium=cover_qr&utm_campaign=autumn_sale&utm_content=v1".to_string()]
    );
}

#[test]
fn quad_corners_are_checked() {
    let dir = tempdir();
    let bad = [
        ("[[0, 0], [100, 0], [100, 100]]", "needs 4 corners"),
        ("[[0, 0], [100, 100], [100, 0], [0, 100]]", "convex"),
        ("[[0, 0], [0, 100], [100, 100], [100, 0]]", "convex"), // counter-clockwise
        ("[[0, 0], [100, 0], [100, 0], [0, 0]]", "convex"),     // no area
        ("[[0, 0], [1e9, 0], [100, 100], [0, 100]]", "outside"),
    ];
    for (quad, expected) in bad {
        let template = dir.path().join("t.yaml.tera");
        std::fs::write(
            &template,
            format!(
                "canvas: {{width: 360, height: 640}}\nlayers:\n  - kind: image\n    src: {}\n    quad: {quad}\n",
                repo("assets/logo.png").display()
            ),
        )
        .unwrap();
        let meta = dir.path().join("m.yaml");
        std::fs::write(&meta, "template: ./t.yaml.tera\ntitle: t\n").unwrap();
        let mut env = coverforge::Env::new(&root(), Default::default());
        env.roots.allow(dir.path());
        env.roots.allow(&repo("assets"));
        let err = pipeline::layout_for(&meta, None, &env).unwrap_err().to_string();
        assert!(err.contains(expected), "{quad}: {err}");
        assert!(err.contains("t.yaml.tera"), "the error names the template: {err}");
    }
}
