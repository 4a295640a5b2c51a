//! Every hostile input gets a clean one-line error naming the file, and a non-zero exit code
//! that says whose fault it is, never a panic (Rust panics exit with 101).

mod common;
use common::*;

/// Runs `render VIDEO --meta META -o out.jpg` and checks the failure is clean.
fn expect_clean_failure(video: &str, meta: &str, code: i32, must_contain: &[&str]) -> String {
    let dir = tempdir();
    let r = run_in(dir.path(), &["render", video, "--meta", meta, "-o", "out.jpg"]);
    assert_eq!(r.code, code, "exit code for {video} {meta}: stderr {}", r.stderr);
    assert!(r.stderr.starts_with("error: "), "{}", r.stderr);
    assert_eq!(r.stderr.trim_end().lines().count(), 1, "one line: {}", r.stderr);
    assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
    for needle in must_contain {
        assert!(r.stderr.contains(needle), "expected `{needle}` in: {}", r.stderr);
    }
    assert!(!dir.path().join("out.jpg").exists(), "no output on failure");
    r.stderr
}

fn p(rel: &str) -> String {
    repo(rel).to_string_lossy().into_owned()
}

const META: &str = "samples/travel.thumb.yaml";

#[test]
fn missing_video_file() {
    expect_clean_failure(
        &p("tests/bad/no-such-video.mp4"),
        &p(META),
        3,
        &["no-such-video.mp4", "No such file"],
    );
}

#[test]
fn zero_byte_video() {
    expect_clean_failure(&p("tests/bad/empty.mp4"), &p(META), 3, &["empty.mp4", "empty (0 bytes)"]);
}

#[test]
fn text_file_named_mp4() {
    expect_clean_failure(&p("tests/bad/text.mp4"), &p(META), 3, &["text.mp4", "not a readable video"]);
}

#[test]
fn truncated_mp4() {
    let dir = tempdir();
    let bytes = std::fs::read(repo("samples/cooking.mp4")).unwrap();
    let cut = dir.path().join("truncated.mp4");
    std::fs::write(&cut, &bytes[..bytes.len() / 3]).unwrap();
    expect_clean_failure(cut.to_str().unwrap(), &p(META), 3, &["truncated.mp4", "not a readable video"]);
}

#[test]
fn audio_only_file() {
    expect_clean_failure(
        &p("tests/bad/audio-only.m4a"),
        &p(META),
        3,
        &["audio-only.m4a", "no video stream", "audio"],
    );
}

#[test]
fn malformed_yaml_names_its_line() {
    let e = expect_clean_failure(
        &p("samples/travel.mp4"),
        &p("tests/bad/malformed.yaml"),
        4,
        &["malformed.yaml:"],
    );
    // The unterminated string starts on line 2; the parser reports where it gave up.
    let loc = e.split("malformed.yaml:").nth(1).unwrap();
    let line: usize = loc.split(':').next().unwrap().parse().expect("a line number");
    assert!((2..=4).contains(&line), "{e}");
}

#[test]
fn unknown_template_suggests_the_closest() {
    expect_clean_failure(
        &p("samples/travel.mp4"),
        &p("tests/bad/unknown-template.yaml"),
        4,
        &["unknown-template.yaml:1", "unknown template `douyin-9x1`", "did you mean `douyin-9x16`?"],
    );
}

#[test]
fn unknown_metadata_key_is_an_error_with_a_hint() {
    expect_clean_failure(
        &p("samples/travel.mp4"),
        &p("tests/bad/unknown-key.yaml"),
        4,
        &["unknown-key.yaml:2:1", "unknown field `titel`", "did you mean `title`?"],
    );
}

#[test]
fn missing_watermark_file() {
    expect_clean_failure(
        &p("samples/travel.mp4"),
        &p("tests/bad/missing-watermark.yaml"),
        4,
        &["missing-watermark.yaml:3", "no-such-logo.png", "does not exist"],
    );
}

#[test]
fn javascript_link_is_rejected_quoting_it() {
    expect_clean_failure(
        &p("samples/travel.mp4"),
        &p("tests/bad/bad-link.yaml"),
        4,
        &["bad-link.yaml:4", "`javascript:alert(1)`"],
    );
}

#[test]
fn missing_metadata_file() {
    expect_clean_failure(
        &p("samples/travel.mp4"),
        &p("tests/bad/nope.yaml"),
        4,
        &["nope.yaml", "cannot read metadata"],
    );
}

#[test]
fn huge_canvas_is_a_limit_error_not_an_allocation() {
    let dir = tempdir();
    let r = run_in(
        dir.path(),
        &[
            "layout",
            "--meta",
            &p("tests/bad/plain.yaml"),
            "--template",
            &p("tests/bad/huge-canvas.yaml.tera"),
        ],
    );
    assert_eq!(r.code, 5, "{}", r.stderr);
    assert!(r.stderr.contains("canvas width 100000 exceeds the limit of 8192"), "{}", r.stderr);
}

#[test]
fn runaway_template_stops_at_the_output_limit() {
    let dir = tempdir();
    let r = run_in(
        dir.path(),
        &["layout", "--meta", &p("tests/bad/plain.yaml"), "--template", &p("tests/bad/runaway.yaml.tera")],
    );
    assert_eq!(r.code, 5, "a limit exits 5: {}", r.stderr);
    assert!(
        r.stderr.contains("runaway.yaml.tera") && r.stderr.contains("exceeds the limit of 262144 bytes"),
        "{}",
        r.stderr
    );
}

#[test]
fn huge_range_is_refused_before_it_is_allocated() {
    let dir = tempdir();
    let r = run_in(
        dir.path(),
        &["layout", "--meta", &p("tests/bad/plain.yaml"), "--template", &p("tests/bad/huge-range.yaml.tera")],
    );
    assert_eq!(r.code, 5, "a limit exits 5: {}", r.stderr);
    assert!(
        r.stderr.contains("huge-range.yaml.tera:5")
            && r.stderr.contains("range of 100000000 items exceeds the limit of 10000"),
        "{}",
        r.stderr
    );
}

#[test]
fn unknown_template_variable_names_its_line() {
    let dir = tempdir();
    let t = dir.path().join("var.yaml.tera");
    std::fs::write(
        &t,
        "canvas:\n  width: 100\n  height: 100\nlayers:\n  - kind: text\n    text: {{ titel }}\n",
    )
    .unwrap();
    let r = run_in(
        dir.path(),
        &["layout", "--meta", &p("tests/bad/plain.yaml"), "--template", t.to_str().unwrap()],
    );
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(r.stderr.contains("var.yaml.tera:6") && r.stderr.contains("`titel`"), "{}", r.stderr);
}

#[test]
fn unsupported_output_extension_fails_before_decoding() {
    let dir = tempdir();
    let r = run_in(dir.path(), &["render", &p("samples/travel.mp4"), "--meta", &p(META), "-o", "cover.gif"]);
    assert_eq!(r.code, 6, "{}", r.stderr);
    assert!(
        r.stderr.contains("cover.gif") && r.stderr.contains("unsupported output format `gif`"),
        "{}",
        r.stderr
    );
}

#[test]
fn quality_out_of_range_is_a_usage_error() {
    let dir = tempdir();
    let r = run_in(
        dir.path(),
        &["render", &p("samples/travel.mp4"), "--meta", &p(META), "-o", "c.jpg", "--quality", "0"],
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
}

#[test]
fn title_too_long_is_reported_with_the_limit() {
    let dir = tempdir();
    let meta = dir.path().join("long.yaml");
    std::fs::write(&meta, format!("template: thumb-320x180\ntitle: {}\n", "长".repeat(600))).unwrap();
    let r = run_in(dir.path(), &["layout", "--meta", meta.to_str().unwrap()]);
    assert_eq!(r.code, 5, "a limit exits 5: {}", r.stderr);
    assert!(
        r.stderr.contains("long.yaml:2") && r.stderr.contains("600 characters, exceeding the limit of 500"),
        "{}",
        r.stderr
    );
}

#[test]
fn template_syntax_error_names_line_and_column() {
    let dir = tempdir();
    let t = dir.path().join("broken.yaml.tera");
    std::fs::write(&t, "canvas:\n  width: 100\n  height: {{ 100 +  }}\nlayers: []\n").unwrap();
    let r = run_in(
        dir.path(),
        &["layout", "--meta", &p("tests/bad/plain.yaml"), "--template", t.to_str().unwrap()],
    );
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(r.stderr.contains("broken.yaml.tera:3:"), "{}", r.stderr);
    assert_eq!(r.stderr.trim_end().lines().count(), 1, "{}", r.stderr);
}

#[test]
fn layer_kind_typo_gets_a_hint_and_a_line() {
    let dir = tempdir();
    let t = dir.path().join("typo.yaml.tera");
    std::fs::write(
        &t,
        "canvas:\n  width: 100\n  height: 100\nlayers:\n  - kind: txt\n    text: {{ title }}\n",
    )
    .unwrap();
    let r = run_in(
        dir.path(),
        &["layout", "--meta", &p("tests/bad/plain.yaml"), "--template", t.to_str().unwrap()],
    );
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(
        r.stderr.contains("typo.yaml.tera:5:") && r.stderr.contains("did you mean `text`?"),
        "{}",
        r.stderr
    );
}
