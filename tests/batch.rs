//! `coverforge batch` end to end: the real binary over folders and manifests in a fresh
//! temporary folder per test.

mod common;
use common::*;
use coverforge::pixels::Image;
use std::path::{Path, PathBuf};

fn copy(from: &str, to: &Path) {
    std::fs::copy(repo(from), to).unwrap_or_else(|e| panic!("copy {from}: {e}"));
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
}

/// Report lines (jobs only) keyed by output file name.
fn report(path: &Path) -> (Vec<serde_json::Value>, serde_json::Value) {
    let text = std::fs::read_to_string(path).unwrap();
    let mut jobs: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let summary = jobs.pop().unwrap();
    assert!(summary.get("summary").is_some(), "last line is the summary: {summary}");
    jobs.sort_by_key(|j| j["output"].as_str().unwrap().to_string());
    (jobs, summary["summary"].clone())
}

fn status_of(jobs: &[serde_json::Value], name: &str) -> String {
    jobs.iter()
        .find(|j| j["output"].as_str().unwrap().ends_with(name))
        .unwrap_or_else(|| panic!("no job for {name}"))["status"]
        .as_str()
        .unwrap()
        .to_string()
}

/// A folder with two good jobs (a shared template copy), one with another template, and bad ones.
fn fixture(dir: &Path) -> PathBuf {
    let input = dir.join("in");
    std::fs::create_dir_all(&input).unwrap();
    for name in ["a", "b", "c"] {
        copy("samples/travel.mp4", &input.join(format!("{name}.mp4")));
    }
    copy("templates/thumb-320x180.yaml.tera", &input.join("t1.yaml.tera"));
    copy("templates/thumb-320x180.yaml.tera", &input.join("t2.yaml.tera"));
    write(&input.join("a.yaml"), "template: ./t1.yaml.tera\ntitle: 第一个 A\nframe: 1s\n");
    write(&input.join("b.yaml"), "template: ./t1.yaml.tera\ntitle: Second B\nframe: 2s\n");
    write(&input.join("c.yaml"), "template: ./t2.yaml.tera\ntitle: Third C\n");
    write(&input.join("defaults.yaml"), "link:\n  url: https://example.com/x\n  utm: {source: batch}\n");
    input
}

#[test]
fn good_jobs_render_and_bad_ones_are_reported_with_exit_code_1() {
    let dir = tempdir();
    let input = fixture(dir.path());
    copy("tests/bad/text.mp4", &input.join("broken.mp4"));
    write(&input.join("broken.yaml"), "template: thumb-320x180\ntitle: broken\n");
    write(&input.join("typo.yaml"), "template: thumb-320x180\ntitel: typo\n");
    copy("samples/travel.mp4", &input.join("typo.mp4"));
    copy("samples/travel.mp4", &input.join("lonely.mp4"));
    let r = run_in(
        dir.path(),
        &["batch", "in", "-o", "out", "--report", "r.jsonl", "--proof", "proof.html", "--no-cache"],
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    let (jobs, summary) = report(&dir.path().join("r.jsonl"));
    assert_eq!((summary["ok"].as_u64(), summary["failed"].as_u64()), (Some(3), Some(3)), "{summary}");
    for name in ["a.jpg", "b.jpg", "c.jpg"] {
        assert_eq!(status_of(&jobs, name), "ok");
        let img = Image::load(&dir.path().join("out").join(name)).unwrap();
        assert_eq!((img.width(), img.height()), (320, 180));
    }
    // Layout findings travel in the report (a QR code on a 320x180 thumbnail has small modules).
    let a = jobs.iter().find(|j| j["output"].as_str().unwrap().ends_with("a.jpg")).unwrap();
    assert!(a["findings"].as_array().unwrap().iter().any(|f| f["kind"] == "qr-modules"), "{a}");
    // Defaults reached the covers: every good one carries the QR code from defaults.yaml.
    assert_eq!(
        zbar(&dir.path().join("out/a.jpg")),
        vec!["https://example.com/x?utm_source=batch".to_string()]
    );
    let error_of = |name: &str| {
        jobs.iter().find(|j| j["output"].as_str().unwrap().ends_with(name)).unwrap()["error"].clone()
    };
    let error = |name: &str| error_of(name)["message"].as_str().unwrap().to_string();
    // The error object says whose fault it is and where: the metadata's line and column for a
    // typo, the video for a broken file.
    let typo = error_of("typo.jpg");
    assert_eq!(typo["kind"], "template", "{typo}");
    assert!(typo["file"].as_str().unwrap().ends_with("typo.yaml") && typo["line"] == 2, "{typo}");
    // After defaults are merged the key is located by name: line known, column not.
    assert!(typo.as_object().unwrap().contains_key("column"), "{typo}");
    let broken = error_of("broken.jpg");
    assert_eq!(broken["kind"], "input_media", "{broken}");
    assert!(broken["file"].as_str().unwrap().ends_with("broken.mp4") && broken["line"].is_null(), "{broken}");
    assert!(
        error("broken.jpg").contains("broken.mp4") && error("broken.jpg").contains("not a readable video"),
        "{}",
        error("broken.jpg")
    );
    assert!(
        error("typo.jpg").contains("typo.yaml:2") && error("typo.jpg").contains("did you mean `title`?"),
        "{}",
        error("typo.jpg")
    );
    assert!(
        error("lonely.jpg").contains("no sidecar") && error("lonely.jpg").contains("lonely.yaml"),
        "{}",
        error("lonely.jpg")
    );
    for j in &jobs {
        assert!(j["input_hash"].is_string() || j["status"] == "failed");
        assert!(j["ms"]["decode_ms"].is_number() && j["total_ms"].is_number());
    }
    // Each stage's wall and CPU time: CPU of the worker's own thread, so never above the wall
    // time (a process-wide clock would be, with two workers).
    let ms = |j: &serde_json::Value, key: &str| j["ms"][key].as_f64().unwrap_or_else(|| panic!("{key}: {j}"));
    for j in jobs.iter().filter(|j| j["status"] == "ok") {
        for stage in ["layout", "decode", "composite", "encode"] {
            let (wall, cpu) = (ms(j, &format!("{stage}_ms")), ms(j, &format!("{stage}_cpu_ms")));
            assert!(cpu > 0.0 && cpu <= wall + 1.0, "{stage}: {cpu} ms CPU in {wall} ms: {j}");
        }
        let (wall, cpu) = (j["total_ms"].as_f64().unwrap(), j["total_cpu_ms"].as_f64().unwrap());
        assert!(cpu > 0.0 && cpu <= wall + 1.0, "{cpu} ms CPU in {wall} ms: {j}");
    }
    let (cpu_s, wall_s, busy) = (
        summary["cpu_s"].as_f64().unwrap(),
        summary["wall_s"].as_f64().unwrap(),
        summary["cores_busy"].as_f64().unwrap(),
    );
    assert!(cpu_s > 0.0 && (busy - cpu_s / wall_s).abs() < 1e-9, "{summary}");
    assert!(r.stderr.contains("cores busy"), "{}", r.stderr);
    let html = std::fs::read_to_string(dir.path().join("proof.html")).unwrap();
    assert_eq!(html.matches("<figure").count(), 6);
    assert_eq!(html.matches("data:image/jpeg;base64,").count(), 3, "a thumbnail for each good cover");
    assert!(html.contains("did you mean `title`?"));
}

/// Covers rendered from the keyframe cache are the same bytes as covers from the videos, and
/// the cache holds the decoder's planes of what a large canvas shows, not its BGR canvas.
#[test]
fn covers_from_the_keyframe_cache_equal_fresh_ones_and_the_cache_stays_small() {
    let dir = tempdir();
    let input = dir.path().join("in");
    std::fs::create_dir_all(&input).unwrap();
    for name in ["a", "b", "c"] {
        copy("samples/travel.mp4", &input.join(format!("{name}.mp4")));
    }
    // Two portrait covers enlarged from a part of the 1280x720 frame, one thumbnail shrunk.
    write(&input.join("a.yaml"), "template: douyin-9x16\ntitle: 第一个 A\nframe: 1s\n");
    write(&input.join("b.yaml"), "template: douyin-9x16\ntitle: Second B\nframe: 2s\n");
    write(&input.join("c.yaml"), "template: thumb-320x180\ntitle: Third C\n");
    let run = |out: &str, cache: &[&str]| {
        let mut args = vec!["batch", "in", "-o", out, "--report", "r.jsonl", "-j", "2"];
        args.extend_from_slice(cache);
        let r = run_in(dir.path(), &args);
        assert_eq!(r.code, 0, "{}", r.stderr);
        report(&dir.path().join("r.jsonl")).0
    };
    run("fresh", &["--no-cache"]);
    let jobs = run("stored", &["--cache-dir", "cache"]);
    assert!(jobs.iter().all(|j| j["frame_source"] == "decode"));
    let jobs = run("again", &["--cache-dir", "cache"]);
    assert!(jobs.iter().all(|j| j["frame_source"] == "cache"), "{jobs:?}");
    for name in ["a.jpg", "b.jpg", "c.jpg"] {
        let fresh = std::fs::read(dir.path().join("fresh").join(name)).unwrap();
        assert_eq!(fresh, std::fs::read(dir.path().join("stored").join(name)).unwrap(), "{name}");
        assert_eq!(
            fresh,
            std::fs::read(dir.path().join("again").join(name)).unwrap(),
            "{name} from the cache"
        );
    }
    // A 1080x1920 BGR canvas is 6,220,800 bytes; the planes of the 405x720 part of the frame it
    // shows are 437,400. The thumbnail's BGR canvas (172,800) is smaller than any planes.
    let mut entries: Vec<u64> = std::fs::read_dir(dir.path().join("cache"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".cfk"))
        .map(|e| e.metadata().unwrap().len())
        .collect();
    entries.sort_unstable();
    assert_eq!(entries.len(), 3);
    assert!(entries[0] < 172_800 + 4096, "{entries:?}");
    assert!(entries[1..].iter().all(|&len| len < 440_000 + 4096), "{entries:?}");

    // Damaged entries (a header asking for a huge canvas, planes cut short, a header that is
    // not JSON) are decoded again, and the covers come out the same.
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir.path().join("cache"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "cfk"))
        .collect();
    // The two entries of planes first (the larger ones).
    paths.sort_by_key(|p| std::cmp::Reverse(std::fs::metadata(p).unwrap().len()));
    for (i, path) in paths.iter().enumerate() {
        let bytes = std::fs::read(path).unwrap();
        let nl = bytes.iter().position(|&b| b == b'\n').unwrap();
        let mut header: serde_json::Value = serde_json::from_slice(&bytes[..nl]).unwrap();
        let damaged = match i {
            0 => {
                header["width"] = 1_000_000.into();
                header["height"] = 1_000_000.into();
                [serde_json::to_vec(&header).unwrap(), bytes[nl..].to_vec()].concat()
            }
            1 => bytes[..bytes.len() - 100].to_vec(),
            _ => [b"{not json".to_vec(), bytes[nl..].to_vec()].concat(),
        };
        std::fs::write(path, damaged).unwrap();
    }
    let jobs = run("damaged", &["--cache-dir", "cache"]);
    assert!(jobs.iter().all(|j| j["frame_source"] == "decode"), "{jobs:?}");
    for name in ["a.jpg", "b.jpg", "c.jpg"] {
        let fresh = std::fs::read(dir.path().join("fresh").join(name)).unwrap();
        assert_eq!(fresh, std::fs::read(dir.path().join("damaged").join(name)).unwrap(), "{name}");
    }
}

#[test]
fn reruns_skip_unchanged_covers_and_redo_exactly_what_changed() {
    let dir = tempdir();
    let input = fixture(dir.path());
    let batch = |report: &str| {
        let r = run_in(dir.path(), &["batch", "in", "-o", "out", "--report", report, "--cache-dir", "cache"]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        report_in(dir.path(), report)
    };
    fn report_in(dir: &Path, name: &str) -> (Vec<serde_json::Value>, serde_json::Value) {
        report(&dir.join(name))
    }
    let (jobs, s) = batch("r1.jsonl");
    assert_eq!(s["ok"], 3);
    assert!(jobs.iter().all(|j| j["frame_source"] == "decode"));
    let before = std::fs::read(dir.path().join("out/c.jpg")).unwrap();

    // Nothing changed: everything is skipped.
    let (_, s) = batch("r2.jsonl");
    assert_eq!((s["ok"].as_u64(), s["skipped"].as_u64()), (Some(0), Some(3)), "{s}");

    // The template used by a and b changes: exactly those two re-render, from the frame cache.
    let t1 = input.join("t1.yaml.tera");
    let text = std::fs::read_to_string(&t1).unwrap().replace("size: 20", "size: 22");
    write(&t1, &text);
    let (jobs, s) = batch("r3.jsonl");
    assert_eq!(
        (s["ok"].as_u64(), s["skipped"].as_u64(), s["decodes"].as_u64()),
        (Some(2), Some(1), Some(0)),
        "{s}"
    );
    assert_eq!(status_of(&jobs, "a.jpg"), "ok");
    assert_eq!(status_of(&jobs, "b.jpg"), "ok");
    assert_eq!(status_of(&jobs, "c.jpg"), "skipped");
    assert!(jobs.iter().filter(|j| j["status"] == "ok").all(|j| j["frame_source"] == "cache"));
    assert_eq!(std::fs::read(dir.path().join("out/c.jpg")).unwrap(), before);

    // One sidecar changes: one cover re-renders.
    write(&input.join("c.yaml"), "template: ./t2.yaml.tera\ntitle: Third C, retitled\n");
    let (jobs, s) = batch("r4.jsonl");
    assert_eq!((s["ok"].as_u64(), s["skipped"].as_u64()), (Some(1), Some(2)), "{s}");
    assert_eq!(status_of(&jobs, "c.jpg"), "ok");

    // The logo used by a template changes: covers that use it re-render.
    copy("assets/logo.png", &input.join("logo.png"));
    write(
        &input.join("a.yaml"),
        "template: ./t1.yaml.tera\ntitle: 第一个 A\nframe: 1s\nwatermark: logo.png\n",
    );
    let (_, s) = batch("r5.jsonl");
    assert_eq!(s["ok"], 1);
    let (_, s) = batch("r6.jsonl");
    assert_eq!(s["skipped"], 3);
    // Rewriting the logo with identical bytes (a new modification time) changes nothing.
    let logo = std::fs::read(input.join("logo.png")).unwrap();
    std::fs::write(input.join("logo.png"), &logo).unwrap();
    let (_, s) = batch("r7.jsonl");
    assert_eq!(s["skipped"], 3, "rewriting identical bytes changes nothing");
    copy("tests/golden/frame.png", &input.join("logo.png"));
    let (jobs, s) = batch("r8.jsonl");
    assert_eq!(s["ok"], 1, "{s}");
    assert_eq!(status_of(&jobs, "a.jpg"), "ok");

    // --force renders everything; --dry-run writes nothing.
    let r = run_in(dir.path(), &["batch", "in", "-o", "out", "--force", "--dry-run", "--report", "r9.jsonl"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let (_, s) = report(&dir.path().join("r9.jsonl"));
    assert_eq!(s["planned"], 3);
}

#[test]
fn sigkill_loses_no_finished_cover_and_the_rerun_completes_the_set() {
    let dir = tempdir();
    let input = dir.path().join("in");
    std::fs::create_dir_all(&input).unwrap();
    let n = 24;
    for i in 0..n {
        copy("samples/cooking.mp4", &input.join(format!("v{i:02}.mp4")));
        write(
            &input.join(format!("v{i:02}.yaml")),
            &format!("template: douyin-9x16\ntitle: 第 {i} 个封面\nframe: 2s\n"),
        );
    }
    let mut child = coverforge()
        .args(["batch", "in", "-o", "out", "-j", "2", "--no-cache", "-q"])
        .current_dir(dir.path())
        .env("COVERFORGE_HOME", root())
        .spawn()
        .unwrap();
    let out = dir.path().join("out");
    let covers = |out: &Path| -> Vec<PathBuf> {
        std::fs::read_dir(out)
            .map(|d| {
                d.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|e| e == "jpg")).collect()
            })
            .unwrap_or_default()
    };
    // Recorded covers: their hash is committed (after the cover is flushed), so a rerun skips them.
    let recorded = |out: &Path| -> usize {
        std::fs::read_dir(out.join(".coverforge/state"))
            .map(|d| d.flatten().filter(|e| e.file_name().to_string_lossy().ends_with(".hash")).count())
            .unwrap_or(0)
    };
    let t = std::time::Instant::now();
    while (covers(&out).len() < 3 || recorded(&out) < 2) && t.elapsed().as_secs() < 60 {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let done = covers(&out);
    let kept = recorded(&out);
    assert!(done.len() >= 3 && done.len() < n, "killed after {} covers", done.len());
    for p in &done {
        let bytes = std::fs::read(p).unwrap();
        assert!(bytes.ends_with(&[0xFF, 0xD9]), "{} is a complete JPEG", p.display());
        let img = Image::load(p).unwrap();
        assert_eq!((img.width(), img.height()), (1080, 1920));
    }
    let r = run_in(dir.path(), &["batch", "in", "-o", "out", "--no-cache", "--report", "r.jsonl"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let (_, s) = report(&dir.path().join("r.jsonl"));
    assert_eq!(s["ok"].as_u64().unwrap() + s["skipped"].as_u64().unwrap(), n as u64, "{s}");
    // Every recorded cover is kept (a busy machine may leave more covers awaiting their record:
    // those are rendered again, never trusted half-way).
    assert!(s["skipped"].as_u64().unwrap() >= kept as u64, "finished covers are kept ({kept} recorded): {s}");
    assert_eq!(covers(&out).len(), n);
    let stray: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(stray.is_empty(), "no temporaries left: {stray:?}");
}

#[test]
fn manifests_in_yaml_and_csv_with_inline_values() {
    let dir = tempdir();
    copy("samples/travel.mp4", &dir.path().join("clip.mp4"));
    write(
        &dir.path().join("jobs.yaml"),
        "defaults:\n  template: thumb-320x180\njobs:\n  - video: clip.mp4\n    title: 内联标题\n    output: one.png\n  - video: clip.mp4\n    title: With a link\n    link: {url: https://example.com/m}\n    output: two.jpg\n  - video: missing.mp4\n    title: no video\n",
    );
    let r = run_in(dir.path(), &["batch", "jobs.yaml", "-o", "out", "--report", "y.jsonl", "--no-cache"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let (jobs, s) = report(&dir.path().join("y.jsonl"));
    assert_eq!((s["ok"].as_u64(), s["failed"].as_u64()), (Some(2), Some(1)));
    assert!(dir.path().join("out/one.png").is_file());
    assert_eq!(zbar(&dir.path().join("out/two.jpg")), vec!["https://example.com/m".to_string()]);
    assert!(status_of(&jobs, "missing.jpg") == "failed");

    write(
        &dir.path().join("jobs.csv"),
        "video,output,template,title,link,utm_source,vars.title_color\nclip.mp4,c1.jpg,thumb-320x180,\"Comma, quoted\",https://example.com/c,csv,#FF0000\n",
    );
    let r = run_in(dir.path(), &["batch", "jobs.csv", "-o", "out", "--report", "c.jsonl", "--no-cache"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        zbar(&dir.path().join("out/c1.jpg")),
        vec!["https://example.com/c?utm_source=csv".to_string()]
    );

    write(&dir.path().join("bad.csv"), "video,titel\nclip.mp4,x\n");
    let r = run_in(dir.path(), &["batch", "bad.csv", "-o", "out"]);
    assert_eq!(r.code, 4, "a malformed manifest is a metadata error: {}", r.stderr);
    assert!(r.stderr.contains("bad.csv:1: unknown column `titel` (did you mean `title`?)"), "{}", r.stderr);
}

#[test]
fn batch_start_failures_exit_by_their_cause() {
    let dir = tempdir();
    let r = run_in(dir.path(), &["batch", "no-such-folder", "-o", "out"]);
    assert_eq!(r.code, 7, "a missing INPUT is an I/O error: {}", r.stderr);
    assert!(r.stderr.contains("no-such-folder: cannot read"), "{}", r.stderr);
    write(&dir.path().join("notes.txt"), "x");
    let r = run_in(dir.path(), &["batch", "notes.txt", "-o", "out"]);
    assert_eq!(r.code, 2, "an INPUT that is neither folder nor manifest is a usage error: {}", r.stderr);
    let r = run_in(dir.path(), &["batch", ".", "-o", "out", "-j", "0"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
}

#[test]
fn the_folder_rule_pairs_name_kind_yaml_with_name_video() {
    // samples/ has travel.yaml and travel.thumb.yaml beside travel.mp4: two deliverables.
    let dir = tempdir();
    let out = dir.path().join("out");
    let r = run_in(
        dir.path(),
        &[
            "batch",
            &repo("samples").to_string_lossy(),
            "-o",
            "out",
            "-q",
            "--no-cache",
            "--report",
            "r.jsonl",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let mut names: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.retain(|n| n.ends_with(".jpg"));
    names.sort();
    assert_eq!(names, ["anamorphic.jpg", "cooking.jpg", "rotated.jpg", "travel.jpg", "travel.thumb.jpg"]);
    let (jobs, _) = report(&dir.path().join("r.jsonl"));
    let thumb = jobs.iter().find(|j| j["output"].as_str().unwrap().ends_with("travel.thumb.jpg")).unwrap();
    assert!(thumb["input"].as_str().unwrap().ends_with("travel.mp4"), "{thumb}");
    assert_eq!(thumb["status"], "ok");
    let img = coverforge::pixels::Image::load(&out.join("travel.thumb.jpg")).unwrap();
    assert_eq!((img.width(), img.height()), (320, 180), "the thumbnail template's size");
}

/// Makes a 2 s 320x240 H.264 clip of `source` (a lavfi graph) with these x264 options.
fn x264_clip(source: &str, x264: &[&str], out: &Path) {
    let made = std::process::Command::new("ffmpeg")
        .args(["-nostdin", "-loglevel", "error", "-f", "lavfi", "-i", source])
        .args(["-t", "2", "-pix_fmt", "yuv420p", "-c:v", "libx264"])
        .args(x264)
        .arg(out)
        .status();
    assert!(made.unwrap().success(), "ffmpeg made {}", out.display());
}

/// The cover of clip `b` rendered in one batch right after clip `a` (one worker, so whatever
/// the first left behind — a pooled decoder, a kept scaler — serves the second), and the same
/// cover rendered alone. Both clips come from `x264_clip` with the given source and options.
fn cover_after_and_alone(a: (&str, &[&str]), b: (&str, &[&str])) -> (Vec<u8>, Vec<u8>) {
    let dir = tempdir();
    let input = dir.path().join("in");
    std::fs::create_dir_all(&input).unwrap();
    x264_clip(a.0, a.1, &input.join("a.mp4"));
    x264_clip(b.0, b.1, &input.join("b.mp4"));
    copy("templates/thumb-320x180.yaml.tera", &input.join("t.yaml.tera"));
    for name in ["a", "b"] {
        write(&input.join(format!("{name}.yaml")), "template: ./t.yaml.tera\ntitle: Pool\nframe: 1s\n");
    }
    let both = dir.path().join("both");
    let out =
        run_in(dir.path(), &["batch", "in", "-o", "both", "-j", "1", "--hwaccel", "none", "--no-cache"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let alone_in = dir.path().join("alone");
    std::fs::create_dir_all(&alone_in).unwrap();
    for f in ["b.mp4", "b.yaml", "t.yaml.tera"] {
        std::fs::copy(input.join(f), alone_in.join(f)).unwrap();
    }
    let out = run_in(dir.path(), &["batch", "alone", "-o", "alone-out", "--hwaccel", "none", "--no-cache"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    (std::fs::read(both.join("b.jpg")).unwrap(), std::fs::read(dir.path().join("alone-out/b.jpg")).unwrap())
}

#[test]
fn a_decoder_reused_for_the_next_video_decodes_it_with_its_own_parameter_sets() {
    // Software decoders are pooled across videos of one codec and size. Two clips whose
    // parameter sets differ (baseline CAVLC against high-profile CABAC with 8x8 transforms):
    // the second cover, rendered after the first in one process, must be byte-identical to
    // the same cover rendered alone (a decoder keeping the first clip's sets fails or smears).
    let (after_a, alone) = cover_after_and_alone(
        (
            "testsrc2=s=320x240:r=25",
            &["-profile:v", "baseline", "-x264-params", "cabac=0:ref=1", "-crf", "30"],
        ),
        (
            "mandelbrot=s=320x240:r=25",
            &["-profile:v", "high", "-x264-params", "cabac=1:8x8dct=1:ref=3", "-crf", "18"],
        ),
    );
    assert!(after_a == alone, "the cover of b differs when its decoder first decoded a");
}

#[test]
fn a_scaler_kept_for_the_next_video_converts_it_with_its_own_colour_matrix() {
    // A worker keeps its last scalers for the next video of the same geometry. Same size and
    // format, other YUV matrix (BT.709 against BT.601): the second cover must be converted with
    // its own, byte-identical to the cover alone.
    let (after_a, alone) = cover_after_and_alone(
        (
            "testsrc2=s=320x240:r=25",
            &["-colorspace", "bt709", "-color_primaries", "bt709", "-color_trc", "bt709"],
        ),
        (
            "testsrc2=s=320x240:r=25",
            &["-colorspace", "smpte170m", "-color_primaries", "smpte170m", "-color_trc", "smpte170m"],
        ),
    );
    assert!(after_a == alone, "the cover of b differs when it followed a clip of another colour matrix");
}

#[test]
fn a_frame_already_the_canvas_size_converts_as_a_cropped_one_does() {
    // A frame of exactly the canvas's size is converted straight from the decoder's planes;
    // a larger one has each plane cropped first. The same picture both ways (lossless clips,
    // the second padded by two rows above and below, so its centre crop is the first's frame,
    // chroma rows included): the covers must be byte-identical. Untagged, so the YUV matrix
    // is chosen from the frame's height both ways.
    let dir = tempdir();
    let input = dir.path().join("in");
    std::fs::create_dir_all(&input).unwrap();
    x264_clip("testsrc2=s=320x180:r=25", &["-qp", "0"], &input.join("exact.mp4"));
    x264_clip("testsrc2=s=320x180:r=25,pad=320:184:0:2", &["-qp", "0"], &input.join("padded.mp4"));
    copy("templates/thumb-320x180.yaml.tera", &input.join("t.yaml.tera"));
    for name in ["exact", "padded"] {
        write(&input.join(format!("{name}.yaml")), "template: ./t.yaml.tera\ntitle: Same\nframe: 1s\n");
    }
    let out = run_in(dir.path(), &["batch", "in", "-o", "out", "-j", "1", "--hwaccel", "none", "--no-cache"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let cover = |name: &str| std::fs::read(dir.path().join(format!("out/{name}.jpg"))).unwrap();
    assert!(cover("exact") == cover("padded"), "the canvas-sized frame converts differently");
}
