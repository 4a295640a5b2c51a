//! The worker fleet on a real Redis (Debian's redis-server, started per test on a private
//! socket and stopped after): every job rendered once, nothing lost when workers are killed,
//! poison jobs dead-lettered once, transient failures retried, dead letters re-enqueued.

mod common;
use common::*;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Redis {
    child: Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl Redis {
    fn start() -> Redis {
        let dir = tempdir();
        let sock = dir.path().join("redis.sock");
        let child = Command::new("redis-server")
            .args(["--port", "0", "--save", "", "--appendonly", "no", "--unixsocket"])
            .arg(&sock)
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server (make deps installs it)");
        let start = Instant::now();
        while !sock.exists() {
            assert!(start.elapsed() < Duration::from_secs(10), "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        Redis { child, url: format!("redis+unix://{}", sock.display()), _dir: dir }
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A folder with one short clip and `n` deliverables of it (`clip.kNNN.yaml`, the thumbnail
/// template): `n` quick jobs.
fn jobs_folder(n: usize, extra: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempdir();
    std::fs::copy(repo("samples/cooking.mp4"), dir.path().join("clip.mp4")).unwrap();
    for i in 0..n {
        std::fs::write(
            dir.path().join(format!("clip.k{i:03}.yaml")),
            format!("template: thumb-320x180\ntitle: 第 {i} 期\nframe: 1s\n"),
        )
        .unwrap();
    }
    for (name, text) in extra {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    dir
}

fn worker(url: &str, name: &str, log: &Path, env: &[(&str, &str)]) -> Child {
    coverforge()
        .args(["worker", "--redis", url, "--name", name, "-j", "2", "--visibility", "2"])
        .env("COVERFORGE_HOME", root())
        .env("COVERFORGE_TEST_RENDER_LOG", log)
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

fn enqueue_wait(url: &str, input: &Path, out: &Path, report: &Path) -> Output {
    run_in(
        input,
        &[
            "enqueue",
            &input.to_string_lossy(),
            "-o",
            &out.to_string_lossy(),
            "--redis",
            url,
            "--wait",
            "--report",
            &report.to_string_lossy(),
            "--proof",
            &report.with_extension("html").to_string_lossy(),
        ],
    )
}

fn renders(log: &Path) -> Vec<String> {
    std::fs::read_to_string(log).unwrap_or_default().lines().map(str::to_owned).collect()
}

fn results(report: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(report).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn pending(redis: &Redis) -> u64 {
    let r = run_in(&root(), &["queue", "status", "--redis", &redis.url, "--json"]);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    v["pending"].as_u64().unwrap()
}

fn stop(mut children: Vec<Child>) {
    for c in &children {
        // SAFETY: signalling our own children.
        unsafe { libc::kill(c.id() as i32, libc::SIGTERM) };
    }
    for c in &mut children {
        let status = c.wait().unwrap();
        assert_eq!(status.code(), Some(0), "a worker stops cleanly on SIGTERM");
    }
}

#[test]
fn three_workers_render_every_job_exactly_once() {
    let redis = Redis::start();
    let input = jobs_folder(300, &[]);
    let out = tempdir();
    let log = input.path().join("renders.log");
    let workers: Vec<Child> = (1..=3).map(|i| worker(&redis.url, &format!("w{i}"), &log, &[])).collect();
    let report = input.path().join("r.jsonl");
    let r = enqueue_wait(&redis.url, input.path(), out.path(), &report);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let rendered = renders(&log);
    let mut distinct = rendered.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!((rendered.len(), distinct.len()), (300, 300), "each job rendered once");
    assert_eq!(results(&report).len(), 300);
    assert_eq!(pending(&redis), 0);
    let by_worker: std::collections::HashSet<String> = results(&report)
        .iter()
        .map(|r| r["worker"].as_str().unwrap().split('-').next().unwrap().to_string())
        .collect();
    assert!(by_worker.len() >= 2, "the jobs were shared: {by_worker:?}");
    let proof = std::fs::read_to_string(report.with_extension("html")).unwrap();
    assert_eq!(proof.matches("<figure").count(), 300, "a proof sheet of every cover");
    let status = run_in(&root(), &["queue", "status", "--redis", &redis.url, "--json"]);
    let v: serde_json::Value = serde_json::from_str(&status.stdout).unwrap();
    let rates = v["rate_by_worker"].as_array().unwrap();
    assert_eq!(rates.len(), 3, "a rate per worker: {v}");

    // Enqueued again: every job is already done (its input hash), acknowledged without a render.
    let r = enqueue_wait(&redis.url, input.path(), out.path(), &report);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(results(&report).iter().all(|r| r["status"] == "skipped"), "no second render");
    assert_eq!(renders(&log).len(), 300);
    stop(workers);
}

#[test]
fn killed_workers_lose_nothing_and_only_in_flight_jobs_render_twice() {
    let redis = Redis::start();
    let input = jobs_folder(40, &[]);
    let out = tempdir();
    let log = input.path().join("renders.log");
    let report = input.path().join("r.jsonl");
    let mut victim = worker(&redis.url, "victim", &log, &[]);
    let steady = worker(&redis.url, "steady", &log, &[]);
    let url = redis.url.clone();
    let (inp, outp, rep) = (input.path().to_owned(), out.path().to_owned(), report.clone());
    let waiter = std::thread::spawn(move || enqueue_wait(&url, &inp, &outp, &rep).code);
    // kill -9 the victim three times while it works, restarting it under the same name.
    let mut kills = 0;
    let start = Instant::now();
    while kills < 3 && start.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(400));
        // SAFETY: our own child.
        unsafe { libc::kill(victim.id() as i32, libc::SIGKILL) };
        let _ = victim.wait();
        kills += 1;
        victim = worker(&redis.url, "victim", &log, &[]);
    }
    assert_eq!(waiter.join().unwrap(), 0);
    // The last restart may still be starting: let it install its signal handler first.
    std::thread::sleep(Duration::from_millis(800));
    stop(vec![victim, steady]);
    assert_eq!(kills, 3);
    let rendered = renders(&log);
    let mut distinct = rendered.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), 40, "0 jobs lost");
    let twice = rendered.len() - distinct.len();
    eprintln!(
        "{} renders for 40 jobs: {twice} rendered again after a kill (at most 2 in flight per kill)",
        rendered.len()
    );
    assert!(twice <= 2 * kills, "only jobs in flight at a kill render twice: {twice}");
    for p in &distinct {
        let img = coverforge::pixels::Image::load(Path::new(p)).unwrap_or_else(|e| panic!("{p}: {e}"));
        assert_eq!((img.width(), img.height()), (320, 180), "{p} complete");
    }
    assert_eq!(results(&report).len(), 40);
    assert_eq!(pending(&redis), 0, "nothing left pending");
}

#[test]
fn poison_jobs_die_once_transient_ones_retry_and_dead_letters_come_back() {
    let redis = Redis::start();
    let input = jobs_folder(4, &[("clip.bad.yaml", "template: thumb-320x180\ntitel: typo\n")]);
    let out = tempdir();
    let log = input.path().join("renders.log");
    let report = input.path().join("r.jsonl");
    // The first delivery of clip.k001 fails as a transient I/O error.
    let w = worker(&redis.url, "w", &log, &[("COVERFORGE_TEST_TRANSIENT", "clip.k001")]);
    let r = enqueue_wait(&redis.url, input.path(), out.path(), &report);
    assert_eq!(r.code, 1, "one job is dead: {}", r.stderr);
    let res = results(&report);
    let dead: Vec<_> = res.iter().filter(|r| r["status"] == "dead").collect();
    assert_eq!(dead.len(), 1);
    assert!(dead[0]["output"].as_str().unwrap().ends_with("clip.bad.jpg"));
    assert_eq!(dead[0]["error"]["kind"], "template", "a bad sidecar dies at once: {}", dead[0]);
    assert!(out.path().join("clip.k001.jpg").is_file(), "the transient failure was retried");
    let status = run_in(&root(), &["queue", "status", "--redis", &redis.url, "--json"]);
    let v: serde_json::Value = serde_json::from_str(&status.stdout).unwrap();
    assert_eq!(v["dead"], 1);

    // Fixed and put back: it renders.
    std::fs::write(input.path().join("clip.bad.yaml"), "template: thumb-320x180\ntitle: fixed\n").unwrap();
    let r = run_in(&root(), &["queue", "retry-dead", "--redis", &redis.url]);
    assert!(r.stdout.contains("1 dead letters put back"), "{}", r.stdout);
    let start = Instant::now();
    while !out.path().join("clip.bad.jpg").is_file() {
        assert!(start.elapsed() < Duration::from_secs(30), "the re-enqueued job never rendered");
        std::thread::sleep(Duration::from_millis(100));
    }
    stop(vec![w]);
}

#[test]
fn workers_and_the_waiter_ride_out_a_redis_restart_with_aof() {
    // Persistence as the docs recommend for production: AOF, fsync every second.
    let dir = tempdir();
    let sock = dir.path().join("redis.sock");
    let start_redis = || {
        let child = Command::new("redis-server")
            .args(["--port", "0", "--save", "", "--appendonly", "yes", "--appendfsync", "everysec", "--dir"])
            .arg(dir.path())
            .arg("--unixsocket")
            .arg(&sock)
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let t = Instant::now();
        while !sock.exists() {
            assert!(t.elapsed() < Duration::from_secs(10));
            std::thread::sleep(Duration::from_millis(20));
        }
        child
    };
    let mut server = start_redis();
    let url = format!("redis+unix://{}", sock.display());
    let input = jobs_folder(40, &[]);
    let out = tempdir();
    let log = input.path().join("renders.log");
    let report = input.path().join("r.jsonl");
    let workers = vec![worker(&url, "a", &log, &[]), worker(&url, "b", &log, &[])];
    let (u, inp, outp, rep) = (url.clone(), input.path().to_owned(), out.path().to_owned(), report.clone());
    let waiter = std::thread::spawn(move || enqueue_wait(&u, &inp, &outp, &rep));
    std::thread::sleep(Duration::from_millis(700));
    // A graceful restart (SIGTERM writes the AOF), then the same data folder and socket.
    // SAFETY: our own child.
    unsafe { libc::kill(server.id() as i32, libc::SIGTERM) };
    let _ = server.wait();
    let _ = std::fs::remove_file(&sock);
    std::thread::sleep(Duration::from_millis(300));
    server = start_redis();
    let r = waiter.join().unwrap();
    assert_eq!(r.code, 0, "{} {}", r.stdout, r.stderr);
    stop(workers);
    let mut distinct = renders(&log);
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), 40, "nothing lost across the restart");
    assert_eq!(results(&report).len(), 40);
    let _ = server.kill();
    let _ = server.wait();
}

#[test]
fn control_pauses_resumes_and_drains_the_fleet() {
    let redis = Redis::start();
    let input = jobs_folder(6, &[]);
    let out = tempdir();
    let log = input.path().join("renders.log");
    let mut w = worker(&redis.url, "w", &log, &[]);
    std::thread::sleep(Duration::from_millis(500));
    let control = |what: &str| {
        let r = run_in(&root(), &["queue", "control", what, "--redis", &redis.url]);
        assert_eq!(r.code, 0, "{}", r.stderr);
    };
    control("pause");
    std::thread::sleep(Duration::from_millis(500));
    let r =
        run_in(input.path(), &["enqueue", ".", "-o", &out.path().to_string_lossy(), "--redis", &redis.url]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    std::thread::sleep(Duration::from_millis(1500));
    assert!(renders(&log).is_empty(), "paused: nothing rendered");
    control("resume");
    let t = Instant::now();
    while renders(&log).len() < 6 {
        assert!(t.elapsed() < Duration::from_secs(30), "resumed but not done");
        std::thread::sleep(Duration::from_millis(100));
    }
    control("drain");
    let t = Instant::now();
    loop {
        if let Some(status) = w.try_wait().unwrap() {
            assert_eq!(status.code(), Some(0), "drained workers exit 0");
            break;
        }
        assert!(t.elapsed() < Duration::from_secs(10), "drain did not stop the worker");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_template_edited_mid_run_applies_to_later_jobs_and_no_cover_mixes_the_two() {
    let redis = Redis::start();
    let input = tempdir();
    let d = input.path();
    std::fs::copy(repo("samples/cooking.mp4"), d.join("clip.mp4")).unwrap();
    let template = |color: &str| {
        format!("canvas: {{width: 64, height: 64}}\nlayers:\n  - kind: rect\n    color: \"{color}\"\n  - kind: text\n    text: {{{{ title }}}}\n    size: 12\n    anchor: center\n")
    };
    std::fs::write(d.join("t.yaml.tera"), template("#FF0000")).unwrap();
    for i in 0..30 {
        std::fs::write(
            d.join(format!("clip.k{i:03}.yaml")),
            format!("template: ./t.yaml.tera\ntitle: t{i}\nframe: 1s\n"),
        )
        .unwrap();
    }
    let out = tempdir();
    let log = d.join("renders.log");
    let w = coverforge()
        .args(["worker", "--redis", &redis.url, "--name", "w", "-j", "1", "--visibility", "2"])
        .env("COVERFORGE_HOME", root())
        .env("COVERFORGE_TEST_RENDER_LOG", &log)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let r = run_in(d, &["enqueue", ".", "-o", &out.path().to_string_lossy(), "--redis", &redis.url]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let t = Instant::now();
    while renders(&log).len() < 5 {
        assert!(t.elapsed() < Duration::from_secs(30));
        std::thread::sleep(Duration::from_millis(5));
    }
    // Written whole at once (rename), as editors save.
    std::fs::write(d.join("t.new"), template("#0000FF")).unwrap();
    std::fs::rename(d.join("t.new"), d.join("t.yaml.tera")).unwrap();
    let edited_at = renders(&log).len();
    while renders(&log).len() < 30 {
        assert!(t.elapsed() < Duration::from_secs(60), "the run did not finish");
        std::thread::sleep(Duration::from_millis(20));
    }
    stop(vec![w]);
    let order = renders(&log);
    let mut blue = 0;
    for (k, p) in order.iter().enumerate() {
        let img = coverforge::pixels::Image::load(Path::new(p)).unwrap();
        // A corner, away from the title (JPEG: near the colours, not exact).
        let c = img.pixel(1, 1);
        let is_red = c.r > 200 && c.b < 60;
        let is_blue = c.b > 200 && c.r < 60;
        assert!(is_red || is_blue, "{p}: a cover of one revision or the other, not {c:?}");
        if is_blue {
            blue += 1;
        }
        // Jobs rendered well after the edit (one job in flight at most) use the new template.
        if k > edited_at + 1 {
            assert!(is_blue, "{p} (render {k}, edit after {edited_at}) still used the old template");
        }
    }
    assert!(blue > 0 && blue < 30, "the edit landed mid-run ({blue} blue)");
}
