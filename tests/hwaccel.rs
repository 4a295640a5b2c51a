//! Hardware decoding: the software path and the fallback logic run everywhere; the comparison
//! with a real device runs where one exists and is skipped with a printed reason elsewhere.

mod common;
use common::{repo, run_in, tempdir};

fn devices() -> serde_json::Value {
    let dir = tempdir();
    let r = run_in(dir.path(), &["devices", "--json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    serde_json::from_str(&r.stdout).unwrap()
}

fn render(dir: &std::path::Path, extra: &[&str], env: Option<(&str, &str)>) -> common::Output {
    let video = repo("samples/travel.mp4");
    let meta = repo("samples/travel.thumb.yaml");
    let mut args =
        vec!["render", video.to_str().unwrap(), "--meta", meta.to_str().unwrap(), "-o", "c.jpg", "--json"];
    args.extend_from_slice(extra);
    common::run_in_env(dir, &args, env.as_slice())
}

#[test]
fn each_device_decodes_or_an_explicit_request_says_what_is_missing() {
    let v = devices();
    for d in v["devices"]["decode"].as_array().unwrap() {
        let name = d["device"].as_str().unwrap();
        let dir = tempdir();
        let r = render(dir.path(), &["--hwaccel", name], None);
        if d["available"] == true && d["codecs"].as_array().unwrap().iter().any(|c| c == "h264") {
            assert_eq!(r.code, 0, "{name}: {}", r.stderr);
            let j: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
            assert_eq!(j["decoded_by"]["decoder"], name);
        } else {
            eprintln!("{name}: not available here ({}); checking the error", d["reason"]);
            assert_eq!(r.code, 6, "{name}: {}", r.stderr);
            assert!(r.stderr.contains(&format!("--hwaccel {name}: ")), "{}", r.stderr);
            assert!(!dir.path().join("c.jpg").exists());
        }
    }
}

#[test]
fn auto_decodes_on_the_first_device_that_works_or_says_why_not() {
    let v = devices();
    let first = v["devices"]["decode"].as_array().unwrap().iter().find(|d| d["available"] == true);
    let dir = tempdir();
    let r = render(dir.path(), &[], None);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let j: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    match first {
        Some(d) => assert_eq!(j["decoded_by"]["decoder"], d["device"]),
        None => {
            assert_eq!(j["decoded_by"]["decoder"], "software");
            let why = j["decoded_by"]["fallback"].as_str().unwrap();
            assert!(why.contains("no cuda device") || why.contains("no cuda support"), "{why}");
        }
    }
}

#[test]
fn none_is_the_software_reference_and_bad_values_are_usage_errors() {
    let dir = tempdir();
    let r = render(dir.path(), &[], Some(("COVERFORGE_HWACCEL", "none")));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let j: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(j["decoded_by"]["decoder"], "software");
    assert!(j["decoded_by"].get("fallback").is_none(), "{j}");
    let r = render(dir.path(), &[], Some(("COVERFORGE_HWACCEL", "opencl")));
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("allowed: auto, cuda, vaapi, qsv, none"), "{}", r.stderr);
}

#[test]
fn hardware_decodes_match_software_within_45_db() {
    let v = devices();
    let available: Vec<&str> = v["devices"]["decode"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["available"] == true)
        .map(|d| d["device"].as_str().unwrap())
        .collect();
    if available.is_empty() {
        eprintln!("skipped: no hardware decode device here (see `coverforge devices`); the software path is tested everywhere else");
        return;
    }
    let dir = tempdir();
    let videos =
        ["samples/travel.mp4", "samples/cooking.mp4", "samples/rotated.mp4", "samples/anamorphic.mp4"];
    let mut args = vec!["devices".to_string(), "--json".into(), "--check-decode".into()];
    args.extend(videos.iter().map(|v| repo(v).to_str().unwrap().to_string()));
    let r = run_in(dir.path(), &args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let j: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    for c in j["decode_checks"].as_array().unwrap() {
        assert!(c["min_psnr_db"].as_f64().unwrap() >= 45.0, "{c}");
    }
}

#[test]
fn gpu_compositor_matches_the_cpu_one_or_says_what_is_missing() {
    let v = devices();
    let dir = tempdir();
    let video = repo("samples/cooking.mp4");
    let meta = repo("samples/cooking.yaml");
    let render_png = |out: &str, compositor: &str| {
        let args = ["render", video.to_str().unwrap(), "--meta", meta.to_str().unwrap(), "-o", out, "--json"];
        common::run_in_env(dir.path(), &args, &[("COVERFORGE_COMPOSITOR", compositor)])
    };
    match v["devices"]["gpu_compositor"].get("Err").and_then(|e| e.as_str()) {
        Some(why) => {
            eprintln!(
                "skipped: GPU compositor not available here ({why}); checking the error and the fallback"
            );
            let r = render_png("gpu.png", "cuda");
            assert_eq!(r.code, 6, "{}", r.stderr);
            assert!(r.stderr.contains("--compositor cuda: "), "{}", r.stderr);
            assert!(r.stderr.contains(why), "{}", r.stderr);
            assert!(!dir.path().join("gpu.png").exists());
            let r = render_png("auto.png", "auto");
            assert_eq!(r.code, 0, "{}", r.stderr);
            let j: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
            assert_eq!(j["compositor"], "cpu");
            assert_eq!(j["compositor_fallback"], why);
        }
        None => {
            let r = render_png("gpu.png", "cuda");
            assert_eq!(r.code, 0, "{}", r.stderr);
            let j: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
            assert_eq!(j["compositor"], "cuda");
            let r = render_png("cpu.png", "cpu");
            assert_eq!(r.code, 0, "{}", r.stderr);
            let load = |f: &str| coverforge::pixels::Image::load(&dir.path().join(f)).unwrap().to_rgb();
            let (a, b) = (load("gpu.png"), load("cpu.png"));
            assert_eq!(a.len(), b.len());
            let mse =
                a.iter().zip(&b).map(|(x, y)| (*x as f64 - *y as f64).powi(2)).sum::<f64>() / a.len() as f64;
            let psnr = if mse == 0.0 { 100.0 } else { 10.0 * (255.0 * 255.0 / mse).log10() };
            assert!(psnr >= 40.0, "GPU vs CPU compositor: {psnr:.2} dB");
        }
    }
}
