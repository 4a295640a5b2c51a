//! `coverforge serve`: the routes, the security checks, live updates over server-sent events.
//! One server per test binary would share state between tests; each test starts its own on a
//! free port (`--port 0`) over its own copy of the samples. The page itself is exercised in a
//! real browser by `tests/browser/preview.py` (see `tests/browser.rs`).

mod common;
use common::*;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

struct Server {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
    _cache: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn samples_copy(dir: &Path) {
    for e in std::fs::read_dir(repo("samples")).unwrap().flatten() {
        let p = e.path();
        if p.is_file() {
            std::fs::copy(&p, dir.join(e.file_name())).unwrap();
        }
    }
    std::fs::create_dir_all(dir.join("assets")).unwrap();
    std::fs::copy(repo("samples/assets/logo.png"), dir.join("assets/logo.png")).unwrap();
}

fn start(extra: &[&str], prepare: impl FnOnce(&Path)) -> Server {
    let dir = tempdir();
    let cache = tempdir();
    samples_copy(dir.path());
    prepare(dir.path());
    let mut child = coverforge()
        .args(["serve", ".", "--port", "0", "--cache-dir"])
        .arg(cache.path())
        .args(extra)
        .current_dir(dir.path())
        .env("COVERFORGE_HOME", root())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let port = line
        .trim()
        .trim_end_matches('/')
        .rsplit(':')
        .next()
        .unwrap()
        .parse()
        .unwrap_or_else(|_| panic!("{line}"));
    Server { child, port, _dir: dir, _cache: cache }
}

/// A raw HTTP/1.1 GET (so the test controls every header): status and body.
fn get(port: u16, target: &str, headers: &[(&str, String)]) -> (u16, String, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut req = format!("GET {target} HTTP/1.1\r\nConnection: close\r\n");
    let has_host = headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host"));
    if !has_host {
        req.push_str(&format!("Host: 127.0.0.1:{port}\r\n"));
    }
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    (status, head.to_string(), body.to_string())
}

fn wait_rendered(port: u16, key: &str) -> serde_json::Value {
    let start = Instant::now();
    loop {
        let (status, _, body) = get(port, "/api/covers", &[]);
        if status == 200 {
            if let Ok(list) = serde_json::from_str::<Vec<serde_json::Value>>(&body) {
                if let Some(c) = list
                    .into_iter()
                    .find(|c| c["key"] == key && (c["has_image"] == true || !c["error"].is_null()))
                {
                    return c;
                }
            }
        }
        assert!(start.elapsed() < Duration::from_secs(60), "{key} never rendered");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn routes_serve_covers_and_refuse_everything_else() {
    let s = start(&[], |d| {
        // A metadata file whose template is a symlink out of FOLDER.
        std::os::unix::fs::symlink("/etc/passwd", d.join("evil.yaml.tera")).unwrap();
        std::fs::write(d.join("evil.yaml"), "template: ./evil.yaml.tera\ntitle: x\n").unwrap();
        std::fs::copy(d.join("cooking.mp4"), d.join("evil.mp4")).unwrap();
    });
    let p = s.port;
    let cooking = wait_rendered(p, "cooking");
    assert_eq!(cooking["has_image"], true);
    let (status, head, _) = get(p, "/image?key=cooking", &[]);
    assert_eq!(status, 200);
    assert!(head.contains("image/jpeg"));
    let (status, _, body) = get(p, "/", &[]);
    assert!(status == 200 && body.contains("coverforge preview"));

    let evil = wait_rendered(p, "evil");
    let evil = evil.to_string();
    assert!(evil.contains("outside the folders") && !evil.contains("root:x"), "{evil}");

    for target in [
        "/../etc/passwd",
        "/%2e%2e/%2e%2e/etc/passwd",
        "/etc/passwd",
        "/image?key=../../../etc/passwd",
        "/image?key=%2Fetc%2Fpasswd",
        "/image?key=evil.yaml.tera",
        "/cooking.yaml",
        "/api/cover?key=..%2F..%2Fetc%2Fpasswd",
    ] {
        let (status, _, body) = get(p, target, &[]);
        assert!(status == 404, "{target}: {status}");
        assert!(!body.contains("root:"), "{target}");
    }
    // DNS rebinding: a name that resolves here but is not ours.
    let (status, _, _) = get(p, "/", &[("Host", format!("evil.example:{p}"))]);
    assert_eq!(status, 403);
    let (status, _, _) = get(p, "/api/covers", &[("Host", "127.0.0.1".into())]);
    assert_eq!(status, 403, "a Host without our port");
}

#[test]
fn a_token_is_required_when_set_and_for_non_loopback_binds() {
    let r = run_in(&repo("samples"), &["serve", ".", "--bind", "0.0.0.0", "--port", "0"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("--token"), "{}", r.stderr);

    let s = start(&["--token", "s3cret"], |_| {});
    let p = s.port;
    let (status, _, _) = get(p, "/api/covers", &[]);
    assert_eq!(status, 401);
    let (status, _, _) = get(p, "/api/covers", &[("Cookie", "cf_token=wrong".into())]);
    assert_eq!(status, 401);
    let (status, head, _) = get(p, "/?token=s3cret", &[]);
    assert_eq!(status, 200);
    assert!(head.contains("Set-Cookie: cf_token=s3cret; HttpOnly; SameSite=Strict"), "{head}");
    let (status, _, _) = get(p, "/api/covers", &[("Cookie", "cf_token=s3cret".into())]);
    assert_eq!(status, 200);
    let (status, _, _) = get(p, "/events", &[]);
    assert_eq!(status, 401, "events too");
}

#[test]
fn an_edit_is_pushed_and_a_broken_one_shows_its_line_over_the_last_image() {
    let s = start(&[], |_| {});
    let p = s.port;
    let dir = s._dir.path().to_owned();
    let before = wait_rendered(p, "cooking");
    let mut events = TcpStream::connect(("127.0.0.1", p)).unwrap();
    events.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    events.write_all(format!("GET /events HTTP/1.1\r\nHost: 127.0.0.1:{p}\r\n\r\n").as_bytes()).unwrap();
    let mut reader = BufReader::new(events);
    // The cooking cover's next update (other covers may still be on their first render).
    let mut next_event = || -> serde_json::Value {
        let mut line = String::new();
        loop {
            line.clear();
            reader.read_line(&mut line).unwrap();
            if let Some(data) = line.strip_prefix("data: ") {
                let v: serde_json::Value = serde_json::from_str(data.trim()).unwrap();
                if v["key"] == "cooking" {
                    return v;
                }
            }
        }
    };
    std::thread::sleep(Duration::from_millis(300));
    let meta = std::fs::read_to_string(dir.join("cooking.yaml")).unwrap();
    std::fs::write(
        dir.join("cooking.yaml"),
        meta.replace("title: 三分钟学会红烧肉", "title: 五分钟学会红烧肉"),
    )
    .unwrap();
    let update = next_event();
    assert_eq!(update["key"], "cooking");
    assert!(update["revision"].as_u64() > before["revision"].as_u64());
    assert!(update["error"].is_null());

    std::fs::write(dir.join("cooking.yaml"), format!("{meta}\ntitel: oops\n")).unwrap();
    let broken = next_event();
    assert_eq!(broken["key"], "cooking");
    assert_eq!(broken["has_image"], true, "the last good image stays");
    let e = &broken["error"];
    assert!(e["file"].as_str().unwrap().ends_with("cooking.yaml") && e["line"].as_u64().is_some(), "{e}");

    std::fs::write(dir.join("cooking.yaml"), &meta).unwrap();
    let fixed = next_event();
    assert!(fixed["error"].is_null(), "{fixed}");
}
