//! Animated covers, checked with tools nobody here wrote: ffprobe for MP4 (codec, size, frame
//! rate, frame count, duration, no audio), webpmux for animated WebP, zbarimg on a frame taken
//! from the middle of a clip (the QR code survives on moving video).

mod common;
use common::{repo, run_in, tempdir};
use std::path::Path;
use std::process::Command;

fn ffprobe(file: &Path, entries: &str) -> String {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-show_entries", entries, "-of", "default=nw=1"])
        .arg(file)
        .output()
        .expect("ffprobe is installed (make test installs ffmpeg)");
    assert!(
        out.status.success(),
        "ffprobe rejected {}: {}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn field<'a>(probe: &'a str, key: &str) -> &'a str {
    probe
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{key}=")))
        .unwrap_or_else(|| panic!("{key} missing in {probe}"))
}

/// Runs `render VIDEO --meta META ARGS...` in `dir`.
fn render(dir: &Path, video: &Path, meta: &Path, args: &[&str]) -> common::Output {
    let mut all = vec!["render", video.to_str().unwrap(), "--meta", meta.to_str().unwrap()];
    all.extend_from_slice(args);
    run_in(dir, &all)
}

fn json(stdout: &str) -> serde_json::Value {
    serde_json::from_str(stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

/// The first MP4 H.264 backend that opens here (what `--encoder auto` must pick).
fn first_available(codec: &str) -> String {
    let dir = tempdir();
    let r = run_in(dir.path(), &["devices", "--json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v = json(&r.stdout);
    v["devices"]["encode"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["format"] == "mp4" && e["codec"] == codec && e["available"] == true)
        .map(|e| e["backend"].as_str().unwrap().to_string())
        .expect("software encoders always open")
}

#[test]
fn mp4_clip_has_the_asked_length_size_rate_and_no_audio() {
    let dir = tempdir();
    let video = repo("samples/travel.mp4");
    let meta = repo("samples/travel.thumb.yaml");
    let r = render(dir.path(), &video, &meta, &["-o", "c.mp4", "--animated", "2", "--fps", "20", "--json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let report = json(&r.stdout);
    assert_eq!(report["clip"]["frames"], 40);
    assert_eq!(report["clip"]["backend"].as_str().unwrap(), first_available("h264"));
    let out = dir.path().join("c.mp4");
    let p = ffprobe(&out, "stream=codec_type,codec_name,width,height,r_frame_rate,nb_frames:format=duration");
    assert_eq!(field(&p, "codec_name"), "h264");
    assert_eq!((field(&p, "width"), field(&p, "height")), ("320", "180"));
    assert_eq!(field(&p, "r_frame_rate"), "20/1");
    assert_eq!(field(&p, "nb_frames"), "40");
    let duration: f64 = field(&p, "duration").parse().unwrap();
    assert!((duration - 2.0).abs() < 0.06, "duration {duration}");
    assert!(!p.contains("codec_type=audio"), "{p}");
    // Nothing left behind but the clip.
    let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names, vec![std::ffi::OsString::from("c.mp4")]);
}

#[test]
fn hevc_with_bitrate_and_gop_settings() {
    let dir = tempdir();
    let video = repo("samples/travel.mp4");
    let meta = repo("samples/travel.thumb.yaml");
    let r = render(
        dir.path(),
        &video,
        &meta,
        &[
            "-o",
            "c.mp4",
            "--animated",
            "1",
            "--video-codec",
            "hevc",
            "--encoder",
            "software",
            "--bitrate",
            "400k",
            "--maxrate",
            "600k",
            "--gop",
            "5",
            "--preset",
            "fast",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let out = dir.path().join("c.mp4");
    let p = ffprobe(&out, "stream=codec_name,nb_frames");
    assert_eq!(field(&p, "codec_name"), "hevc");
    assert_eq!(field(&p, "nb_frames"), "25");
    let keys = ffprobe(&out, "packet=flags").lines().filter(|l| l.contains('K')).count();
    assert!(keys >= 5, "a keyframe at least every 5 frames: {keys} in 25");
}

#[test]
fn webp_clip_loops_and_has_every_frame() {
    let dir = tempdir();
    let video = repo("samples/travel.mp4");
    let meta = repo("samples/travel.thumb.yaml");
    let r = render(dir.path(), &video, &meta, &["-o", "c.webp", "--animated", "1", "--json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(json(&r.stdout)["clip"]["encoder"], "libwebp_anim");
    let out = dir.path().join("c.webp");
    ffprobe(&out, "format=format_name");
    let info =
        Command::new("webpmux").arg("-info").arg(&out).output().expect("webpmux (make test installs webp)");
    let info = String::from_utf8_lossy(&info.stdout);
    assert!(info.contains("Canvas size: 320 x 180"), "{info}");
    assert!(info.contains("Number of frames: 25"), "{info}");
    assert!(info.contains("Loop Count : 0"), "{info}");
}

#[test]
fn overlays_stay_still_while_the_video_moves_and_the_qr_still_scans() {
    let dir = tempdir();
    let video = repo("samples/cooking.mp4");
    let meta = repo("samples/cooking.yaml");
    let r = render(dir.path(), &video, &meta, &["-o", "c.mp4", "--animated", "1", "--fps", "8"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    // Every frame as 8-bit grey.
    let raw = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(dir.path().join("c.mp4"))
        .args(["-f", "rawvideo", "-pix_fmt", "gray", "-"])
        .output()
        .unwrap()
        .stdout;
    let (w, h) = (1080usize, 1920usize);
    let frames: Vec<&[u8]> = raw.chunks_exact(w * h).collect();
    assert_eq!(frames.len(), 8);
    let spread = |x0: usize, y0: usize, x1: usize, y1: usize| -> f64 {
        let mut total = 0.0;
        for y in y0..y1 {
            for x in x0..x1 {
                let vals = frames.iter().map(|f| f[y * w + x]);
                let (lo, hi) = vals.fold((255u8, 0u8), |(lo, hi), v| (lo.min(v), hi.max(v)));
                total += f64::from(hi - lo);
            }
        }
        total / ((x1 - x0) * (y1 - y0)) as f64
    };
    // The QR code (bottom right in douyin-9x16) stays put; the open video above the title moves.
    let dump = run_in(dir.path(), &["layout", "--meta", meta.to_str().unwrap(), "--dump"]);
    let doc: serde_yaml_ng::Value = serde_yaml_ng::from_str(&dump.stdout).unwrap();
    let qr = doc["layers"].as_sequence().unwrap().iter().find(|l| l["kind"] == "qr").expect("a QR layer")
        ["bbox"]
        .clone();
    let (qx, qy, qw) = (
        qr["x"].as_u64().unwrap() as usize,
        qr["y"].as_u64().unwrap() as usize,
        qr["width"].as_u64().unwrap() as usize,
    );
    let still = spread(qx, qy, qx + qw, qy + qw);
    let moving = spread(100, 300, 980, 900);
    assert!(still < 6.0 && moving > 3.0 * still, "QR spread {still:.1}, video spread {moving:.1}");
    // A frame from the middle of the clip still scans to the tracked link.
    let png = dir.path().join("mid.png");
    let ok = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(dir.path().join("c.mp4"))
        .args(["-vf", "select=eq(n\\,4)", "-frames:v", "1"])
        .arg(&png)
        .status()
        .unwrap();
    assert!(ok.success());
    let codes = common::zbar(&png);
    assert!(
        codes.iter().any(|c| c.starts_with("https://shop.example.com/item/123?utm_source=douyin")),
        "{codes:?}"
    );
}

#[test]
fn settings_out_of_range_name_the_setting_and_the_range() {
    let dir = tempdir();
    let video = repo("samples/travel.mp4");
    let meta = repo("samples/travel.thumb.yaml");
    let r = render(
        dir.path(),
        &video,
        &meta,
        &["-o", "c.mp4", "--animated", "40", "--video-quality", "70", "--maxrate", "2M"],
    );
    assert_eq!(r.code, 4, "{}", r.stderr);
    for needle in [
        "command line: animated cover settings",
        "seconds 40 is out of range 0.5–15",
        "quality 70 is out of range 0–51",
        "maxrate needs bitrate",
    ] {
        assert!(r.stderr.contains(needle), "{needle}: {}", r.stderr);
    }
    // The same from a template's `animated:` block names the template.
    let tpl = std::fs::read_to_string(repo("templates/thumb-320x180.yaml.tera")).unwrap();
    std::fs::write(dir.path().join("t.yaml.tera"), format!("{tpl}\nanimated:\n  gop: 0\n  preset: turbo\n"))
        .unwrap();
    let r = render(dir.path(), &video, &meta, &["--template", "t.yaml.tera", "-o", "c.mp4"]);
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(r.stderr.contains("animated cover settings: gop 0 is out of range 1–600"), "{}", r.stderr);
    assert!(
        r.stderr.contains("preset `turbo` is not known; allowed: nvenc: fast, medium, slow, p1"),
        "{}",
        r.stderr
    );
    assert!(!dir.path().join("c.mp4").exists());
}

#[test]
fn a_missing_hardware_encoder_is_an_error_that_says_why_and_auto_falls_back() {
    let dir = tempdir();
    let video = repo("samples/travel.mp4");
    let meta = repo("samples/travel.thumb.yaml");
    let run = |enc| {
        render(dir.path(), &video, &meta, &["-o", "c.mp4", "--animated", "1", "--encoder", enc, "--json"])
    };
    let nvenc = run("nvenc");
    if first_available("h264") == "nvenc" {
        assert_eq!(nvenc.code, 0, "{}", nvenc.stderr);
        assert_eq!(json(&nvenc.stdout)["clip"]["encoder"], "h264_nvenc");
    } else {
        eprintln!("NVENC is not available here: checking that asking for it fails cleanly");
        assert_eq!(nvenc.code, 6, "{}", nvenc.stderr);
        assert!(
            nvenc.stderr.contains("no encoder opened: nvenc: h264_nvenc did not open ("),
            "{}",
            nvenc.stderr
        );
        assert!(!dir.path().join("c.mp4").exists());
        let auto = run("auto");
        assert_eq!(auto.code, 0, "{}", auto.stderr);
        let clip = &json(&auto.stdout)["clip"];
        let fallbacks: Vec<&str> =
            clip["fallbacks"].as_array().unwrap().iter().map(|f| f.as_str().unwrap()).collect();
        assert!(fallbacks[0].starts_with("nvenc: h264_nvenc did not open"), "{fallbacks:?}");
        assert_eq!(clip["backend"].as_str().unwrap(), first_available("h264"));
    }
}

#[test]
fn the_frozen_overlay_plate_matches_a_full_composite_of_the_same_frame() {
    use coverforge::{composite, keyframe, pipeline};
    let env = common::test_env();
    let (meta, doc) = pipeline::layout_for(&repo("samples/cooking.yaml"), None, &env).unwrap();
    let frame =
        keyframe::extract(&repo("samples/cooking.mp4"), meta.frame, &env.limits).unwrap().frame.pixels;
    let (cover, _, plate) = composite::CoverPlate::new(&frame, None, &doc, &env).unwrap();
    let direct = composite::composite(&frame, &doc, &env).unwrap();
    assert_eq!(cover, direct, "the plate's own cover is the ordinary composite");
    let replayed = plate.apply(&frame).unwrap();
    let (a, b) = (direct.to_rgb(), replayed.to_rgb());
    let diffs: Vec<u8> = a.iter().zip(&b).map(|(x, y)| x.abs_diff(*y)).collect();
    let max = *diffs.iter().max().unwrap();
    let mean = diffs.iter().map(|&d| f64::from(d)).sum::<f64>() / diffs.len() as f64;
    // Only 8-bit rounding separates drawing the layers in turn from one blend of the plate.
    assert!(max <= 4 && mean < 0.2, "max {max}, mean {mean:.3}");
}

#[test]
fn batch_renders_animated_covers_incrementally() {
    let dir = tempdir();
    let input = dir.path().join("in");
    std::fs::create_dir(&input).unwrap();
    for name in ["a", "b"] {
        std::fs::copy(repo("samples/travel.mp4"), input.join(format!("{name}.mp4"))).unwrap();
        std::fs::write(
            input.join(format!("{name}.yaml")),
            format!("template: thumb-320x180\ntitle: 城市夜景 {name}\n"),
        )
        .unwrap();
    }
    let batch = |extra: &[&str]| {
        let mut args = vec!["batch", "in", "-o", "out", "-q", "--cache-dir", "cache", "--report", "r.jsonl"];
        args.extend_from_slice(extra);
        run_in(dir.path(), &args)
    };
    let summary = |dir: &Path| -> serde_json::Value {
        let text = std::fs::read_to_string(dir.join("r.jsonl")).unwrap();
        json(text.lines().last().unwrap())["summary"].clone()
    };
    let r = batch(&["--animated", "1", "--fps", "10"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    for name in ["a", "b"] {
        let p = ffprobe(&dir.path().join(format!("out/{name}.mp4")), "stream=codec_name,nb_frames,width");
        assert_eq!(
            (field(&p, "codec_name"), field(&p, "nb_frames"), field(&p, "width")),
            ("h264", "10", "320")
        );
    }
    // Unchanged: skipped. A different clip length: re-rendered from the keyframe cache.
    assert_eq!(batch(&["--animated", "1", "--fps", "10"]).code, 0);
    assert_eq!(summary(dir.path())["skipped"], 2);
    assert_eq!(batch(&["--animated", "2", "--fps", "10"]).code, 0);
    let s = summary(dir.path());
    assert_eq!((s["ok"].as_u64(), s["decodes"].as_u64()), (Some(2), Some(0)), "{s}");
    let p = ffprobe(&dir.path().join("out/a.mp4"), "stream=nb_frames");
    assert_eq!(field(&p, "nb_frames"), "20");
    // Settings out of range stop the batch before it starts (usage error).
    let r = batch(&["--animated", "99"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("seconds 99 is out of range 0.5–15"), "{}", r.stderr);
}
