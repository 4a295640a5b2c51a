//! End-to-end CLI tests on the sample videos: the real binary, a fresh folder per test.

mod common;
use common::*;
use coverforge::color::Rgba;
use coverforge::pixels::Image;

fn render(dir: &std::path::Path, sample: &str, meta: &str, out: &str, extra: &[&str]) -> Output {
    let video = repo(&format!("samples/{sample}.mp4"));
    let meta = repo(&format!("samples/{meta}.yaml"));
    let mut args = vec!["render", video.to_str().unwrap(), "--meta", meta.to_str().unwrap(), "-o", out];
    args.extend_from_slice(extra);
    run_in(dir, &args)
}

#[test]
fn every_sample_renders_at_its_template_size() {
    let dir = tempdir();
    for (sample, meta, w, h) in [
        ("cooking", "cooking", 1080, 1920),
        ("rotated", "rotated", 1080, 1920),
        ("anamorphic", "anamorphic", 1280, 720),
        ("travel", "travel", 1280, 720),
        ("travel", "travel.thumb", 320, 180),
    ] {
        let out = format!("{meta}.jpg");
        let r = render(dir.path(), sample, meta, &out, &[]);
        assert_eq!(r.code, 0, "{meta}: {}", r.stderr);
        let img = Image::load(&dir.path().join(&out)).unwrap();
        assert_eq!((img.width(), img.height()), (w, h), "{meta}");
    }
}

#[test]
fn png_and_webp_follow_the_extension() {
    let dir = tempdir();
    for (out, magic) in
        [("c.png", &b"\x89PNG"[..]), ("c.webp", &b"RIFF"[..]), ("c.jpeg", &b"\xFF\xD8\xFF"[..])]
    {
        let r = render(dir.path(), "travel", "travel.thumb", out, &["--quality", "80"]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        let bytes = std::fs::read(dir.path().join(out)).unwrap();
        assert!(bytes.starts_with(magic), "{out}");
    }
}

#[test]
fn rotated_phone_video_comes_out_upright() {
    let dir = tempdir();
    let probe = run_in(dir.path(), &["probe", repo("samples/rotated.mp4").to_str().unwrap(), "--json"]);
    assert_eq!(probe.code, 0, "{}", probe.stderr);
    let info: serde_json::Value = serde_json::from_str(&probe.stdout).unwrap();
    assert_eq!(info["rotation_degrees"], 90);
    assert_eq!((info["width"].as_u64(), info["height"].as_u64()), (Some(640), Some(360)));
    assert_eq!((info["display_width"].as_u64(), info["display_height"].as_u64()), (Some(360), Some(640)));

    let r = render(dir.path(), "rotated", "rotated", "r.png", &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let img = Image::load(&dir.path().join("r.png")).unwrap();
    // Upright, the stored right half (red) is on top and the left half (blue) at the bottom.
    // Sample between grid lines, clear of the overlays (top scrim ends at y=420).
    let top = img.pixel(510, 600);
    let bottom = img.pixel(510, 1000);
    assert!(top.r > 180 && top.b < 80, "top should be red, got {top:?}");
    assert!(bottom.b > 150 && bottom.r < 80, "bottom should be blue, got {bottom:?}");
}

#[test]
fn anamorphic_pixels_are_shown_at_display_aspect() {
    let dir = tempdir();
    let probe = run_in(dir.path(), &["probe", repo("samples/anamorphic.mp4").to_str().unwrap(), "--json"]);
    let info: serde_json::Value = serde_json::from_str(&probe.stdout).unwrap();
    assert_eq!(info["sample_aspect_ratio"], serde_json::json!([4, 3]));
    assert_eq!((info["display_width"].as_u64(), info["display_height"].as_u64()), (Some(640), Some(360)));
    // The sample's circle is 300 px tall; with SAR honoured it is 300 px wide too, so in the
    // 1280x720 cover (scale 2) its horizontal extent through the centre is ~600 px, not ~450.
    let r = render(dir.path(), "anamorphic", "anamorphic", "a.png", &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let img = Image::load(&dir.path().join("a.png")).unwrap();
    // Row 620 is clear of text; columns 300..1000 are clear of the QR code. The scrim darkens
    // the left part of the circle, so "bright" is a low threshold (inside 235, outside 60).
    let y = 620;
    let bright: Vec<u32> = (300..1000).filter(|&x| img.pixel(x, y).g > 100).collect();
    let span = bright.last().unwrap() - bright.first().unwrap() + 1;
    // Chord 130 display px below the centre of a 150 px circle, times the cover scale of 2;
    // ignoring the SAR would make it 3/4 of that (~224 px).
    let expected = 2.0 * 2.0 * (150f64.powi(2) - 130f64.powi(2)).sqrt();
    assert!((span as f64 - expected).abs() < 20.0, "chord {span} px, expected ≈{expected:.0}");
}

#[test]
fn qr_code_of_every_shipped_template_decodes_to_the_tracked_url() {
    let dir = tempdir();
    let cases = [
        ("cooking", "cooking", "https://shop.example.com/item/123?utm_source=douyin&utm_medium=cover_qr&utm_campaign=autumn_sale&utm_content=v1"),
        ("travel", "travel", "https://travel.example.com/guide/city-night?utm_source=youtube&utm_medium=cover_qr&utm_campaign=winter_trip&utm_content=b"),
        ("travel", "../tests/qr/thumb", "https://travel.example.com/guide/city-night?utm_source=app&utm_medium=thumb_qr&utm_campaign=winter_trip"),
        ("rotated", "rotated", "https://shop.example.com/item/456?ref=phone&utm_source=douyin&utm_medium=cover_qr&utm_campaign=rotation_demo"),
    ];
    let mut templates_seen = std::collections::BTreeSet::new();
    for (sample, meta, url) in cases {
        let out = format!("{}.jpg", meta.replace('/', "_"));
        let r = render(dir.path(), sample, meta, &out, &[]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        assert_eq!(zbar(&dir.path().join(&out)), vec![url.to_string()], "{meta}");
        let text = std::fs::read_to_string(repo(&format!("samples/{meta}.yaml"))).unwrap();
        let template = text.lines().find_map(|l| l.strip_prefix("template: ")).unwrap();
        templates_seen.insert(template.to_string());
    }
    let shipped: std::collections::BTreeSet<String> =
        coverforge::template::available(&repo("templates")).into_iter().collect();
    assert_eq!(templates_seen, shipped, "every shipped template has a QR test");
}

#[test]
fn a_black_opening_does_not_make_a_black_cover() {
    // cooking.mp4 is black for its first 1.2 s; `frame: auto` must look past that.
    let limits = coverforge::limits::Limits::default();
    let ex = coverforge::keyframe::extract(
        &repo("samples/cooking.mp4"),
        coverforge::keyframe::FrameSpec::Auto,
        &limits,
    )
    .unwrap();
    assert!(ex.frame.time_s >= 1.5, "picked {} s", ex.frame.time_s);
    let score = ex.score.unwrap();
    assert!(score.mean_luma > 40.0, "{score:?}");
    // ...while asking for t=0 really gives the black frame (the test above is not vacuous).
    let first = coverforge::keyframe::extract(
        &repo("samples/cooking.mp4"),
        coverforge::keyframe::FrameSpec::Seconds(0.0),
        &limits,
    )
    .unwrap();
    let luma = coverforge::keyframe::FrameScore::of(&first.frame.pixels).unwrap().mean_luma;
    assert!(luma < 10.0, "t=0 luma {luma}");
}

#[test]
fn a_time_past_the_end_clamps_to_the_last_keyframe_with_a_warning() {
    let dir = tempdir();
    let (r, report) = render_travel_json(dir.path(), "template: thumb-320x180\ntitle: late\nframe: 99s\n");
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("warning:") && r.stderr.contains("past the end"), "{}", r.stderr);
    let t = report["frame_time_s"].as_f64().unwrap();
    // travel.mp4 is 3 s with a keyframe every second: the last one is at 2 s.
    assert!((t - 2.0).abs() < 0.05, "frame at {t}");
}

#[test]
fn a_failed_render_keeps_the_previous_cover_and_leaves_no_temporary_files() {
    let dir = tempdir();
    let ok = render(dir.path(), "travel", "travel.thumb", "cover.jpg", &[]);
    assert_eq!(ok.code, 0, "{}", ok.stderr);
    let before = std::fs::read(dir.path().join("cover.jpg")).unwrap();
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(dir.path().join("cover.jpg")).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o644, "covers are ordinary files, not private temp files");
    let bad = run_in(
        dir.path(),
        &[
            "render",
            repo("tests/bad/text.mp4").to_str().unwrap(),
            "--meta",
            repo("samples/travel.thumb.yaml").to_str().unwrap(),
            "-o",
            "cover.jpg",
        ],
    );
    assert_ne!(bad.code, 0);
    assert_eq!(std::fs::read(dir.path().join("cover.jpg")).unwrap(), before);
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, vec!["cover.jpg".to_string()]);
}

#[test]
fn rendering_is_deterministic() {
    let dir = tempdir();
    render(dir.path(), "cooking", "cooking", "a.png", &[]);
    render(dir.path(), "cooking", "cooking", "b.png", &[]);
    assert_eq!(
        std::fs::read(dir.path().join("a.png")).unwrap(),
        std::fs::read(dir.path().join("b.png")).unwrap()
    );
}

#[test]
fn help_documents_every_option_with_its_default() {
    let dir = tempdir();
    let r = run_in(dir.path(), &["render", "--help"]);
    assert_eq!(r.code, 0);
    for needle in ["--meta", "--template", "--output", "--quality", "[default: 90]", "--json", "--home"] {
        assert!(r.stdout.contains(needle), "missing {needle} in:\n{}", r.stdout);
    }
    let top = run_in(dir.path(), &["--help"]);
    assert!(top.stdout.contains("Exit codes"), "{}", top.stdout);
}

#[test]
fn probe_prints_text_by_default() {
    let dir = tempdir();
    let r = run_in(dir.path(), &["probe", repo("samples/travel.mp4").to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("codec:      h264") && r.stdout.contains("1280x720"), "{}", r.stdout);
    let _ = Rgba::BLACK;
}

#[test]
fn completions_and_man_page_come_from_the_clap_definitions() {
    let dir = tempdir();
    let bash = run_in(dir.path(), &["completions", "bash"]);
    assert_eq!(bash.code, 0, "{}", bash.stderr);
    assert!(bash.stdout.contains("complete -F") && bash.stdout.contains("--hwaccel"), "{}", bash.stdout);
    for shell in ["zsh", "fish"] {
        let r = run_in(dir.path(), &["completions", shell]);
        assert_eq!(r.code, 0, "{shell}: {}", r.stderr);
        assert!(r.stdout.contains("check-decode"), "{shell} completions name every option");
    }
    let man = run_in(dir.path(), &["man"]);
    assert_eq!(man.code, 0, "{}", man.stderr);
    assert!(man.stdout.starts_with(".ie") || man.stdout.contains(".TH coverforge"), "{}", &man.stdout[..200]);
    assert!(man.stdout.contains("hwaccel"), "the manual documents the options");
    assert_eq!(run_in(dir.path(), &["completions", "tcsh"]).code, 2, "an unknown shell is a usage error");
}
