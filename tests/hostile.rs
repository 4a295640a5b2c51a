//! The hostile corpus: inputs a hostile user would craft, one class of attack each, run through
//! the real binary. Every case must fail cleanly: the expected exit code, one `error:` line that
//! names the problem, no panic text, no death by signal, under 10 s, under 1 GiB of peak memory
//! (that one child's, from `wait4`), and no file left in its output folder.
//!
//! The inputs are built at run time in a temporary folder (FIFOs, sparse files, symlinks and
//! crafted media cannot live in git); `tests/bad/` keeps the static ones.

mod common;
use common::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Peak memory any case may reach.
const MAX_RSS_KB: i64 = 1024 * 1024;
/// Longest any case may run.
const MAX_SECONDS: f64 = 10.0;

/// What a case runs and what it must end with.
struct Case {
    name: &'static str,
    args: Vec<String>,
    /// Accepted exit codes (one, except where two classifications are both defensible).
    codes: &'static [i32],
    /// Text the error line must contain.
    needle: &'static str,
    /// Text it must not contain (file contents that are not the input's).
    forbidden: &'static str,
}

struct Ran {
    code: Option<i32>,
    signal: Option<i32>,
    seconds: f64,
    max_rss_kb: i64,
    stderr: String,
}

/// Runs the binary in `dir` and waits for it with `wait4`, which gives this child's own peak
/// memory (the process-wide RUSAGE_CHILDREN would mix the cases run in parallel).
#[allow(clippy::zombie_processes)] // reaped by wait4 below, which std's Child cannot do
fn run_measured(dir: &Path, name: &str, args: &[String]) -> Ran {
    let err_path = dir.join(format!(".stderr-{name}"));
    let child = coverforge()
        .args(args)
        .current_dir(dir)
        .env("COVERFORGE_HOME", root())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .spawn()
        .expect("coverforge starts");
    let pid = child.id() as libc::pid_t;
    let start = Instant::now();
    let mut killed = false;
    let (status, usage) = loop {
        let mut status = 0;
        // SAFETY: zeroed rusage is a valid out-parameter; `pid` is our own child.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: as above; WNOHANG returns at once.
        let r = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut usage) };
        if r == pid {
            break (status, usage);
        }
        assert!(r == 0, "wait4 failed for {name}");
        if !killed && start.elapsed() > Duration::from_secs(30) {
            // SAFETY: signalling our own child.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            killed = true;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let seconds = start.elapsed().as_secs_f64();
    let (code, signal) = if libc::WIFEXITED(status) {
        (Some(libc::WEXITSTATUS(status)), None)
    } else {
        (None, Some(libc::WTERMSIG(status)))
    };
    let stderr = std::fs::read_to_string(&err_path).unwrap_or_default();
    Ran { code, signal, seconds, max_rss_kb: usage.ru_maxrss, stderr }
}

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|a| a.to_string()).collect()
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    std::fs::write(dir.join(name), text).unwrap();
    name.to_string()
}

fn mkfifo(path: &Path) {
    assert!(Command::new("mkfifo").arg(path).status().unwrap().success());
}

/// A plain 320x180 template with the title, and whatever `extra` layers add.
fn template(extra: &str) -> String {
    format!("canvas: {{width: 320, height: 180}}\nlayers:\n  - kind: text\n    text: {{{{ title }}}}\n    size: 24\n{extra}")
}

/// An H.264 clip whose frames are `w`x`h` but whose MP4 sample entry says 64x64.
fn lying_header(dir: &Path, w: u32, h: u32) -> PathBuf {
    let real = dir.join("wide-real.mp4");
    let ok = Command::new("ffmpeg")
        .args(["-nostdin", "-y", "-loglevel", "error", "-f", "lavfi", "-i"])
        .arg(format!("color=c=gray:s={w}x{h}:d=0.2"))
        .args(["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"])
        .arg(&real)
        .status()
        .unwrap();
    assert!(ok.success(), "ffmpeg makes the wide clip");
    let mut bytes = std::fs::read(&real).unwrap();
    // The avc1 sample entry: width and height are 16-bit fields 24 and 26 bytes into its body.
    // (After `stsd`: the file-type box lists `avc1` as a brand too.)
    let stsd = bytes.windows(4).position(|w| w == b"stsd").expect("a sample description");
    let at = stsd + bytes[stsd..].windows(4).position(|w| w == b"avc1").expect("an avc1 sample entry") + 4;
    bytes[at + 24..at + 26].copy_from_slice(&64u16.to_be_bytes());
    bytes[at + 26..at + 28].copy_from_slice(&64u16.to_be_bytes());
    let lying = dir.join("wide.mp4");
    std::fs::write(&lying, bytes).unwrap();
    lying
}

/// Builds every input in `d` and returns the cases.
fn corpus(d: &Path) -> Vec<Case> {
    let video = repo("samples/cooking.mp4").to_string_lossy().into_owned();
    let render =
        |meta: &str, out: &str| s(&["render", &video, "--meta", meta, "-o", &format!("{out}/c.jpg")]);
    let layout = |meta: &str| s(&["layout", "--meta", meta]);
    // A metadata file using template `tpl` (written from `text` when given).
    let meta_for = |name: &str, tpl: &str, extra: &str| {
        write(d, &format!("{name}.yaml"), &format!("template: {tpl}\ntitle: hello\n{extra}"))
    };
    let with_template = |name: &str, text: &str| {
        write(d, &format!("{name}.yaml.tera"), text);
        meta_for(name, &format!("./{name}.yaml.tera"), "")
    };
    let with_layer = |name: &str, extra: &str| with_template(name, &template(extra));
    let png = |w: u32, h: u32| {
        let img = coverforge::pixels::Image::filled(w, h, coverforge::color::Rgba::WHITE);
        img.encode_png().unwrap()
    };

    // Special files.
    mkfifo(&d.join("meta.fifo"));
    mkfifo(&d.join("tpl.fifo.yaml.tera"));
    mkfifo(&d.join("img.fifo.png"));
    mkfifo(&d.join("video.fifo.mp4"));
    mkfifo(&d.join("jobs.fifo.csv"));
    std::os::unix::fs::symlink("/etc/passwd", d.join("passwd-link.yaml.tera")).unwrap();
    std::fs::create_dir(d.join("a-folder.yaml")).unwrap();
    std::fs::create_dir(d.join("a-folder.mp4")).unwrap();
    let sparse = |name: &str, len: u64| {
        std::fs::File::create(d.join(name)).unwrap().set_len(len).unwrap();
        name.to_string()
    };

    // Images: a decompression bomb (a small PNG declaring 20000x20000), a truncated PNG, a GIF.
    let mut bomb = png(16, 16);
    bomb[16..20].copy_from_slice(&20000u32.to_be_bytes());
    bomb[20..24].copy_from_slice(&20000u32.to_be_bytes());
    std::fs::write(d.join("bomb.png"), &bomb).unwrap();
    let good = png(64, 64);
    std::fs::write(d.join("cut.png"), &good[..good.len() / 2]).unwrap();
    std::fs::write(d.join("anim.gif"), b"GIF89a\x10\x00\x10\x00\x00\x00\x00;").unwrap();

    // Media.
    std::fs::write(d.join("empty.mp4"), b"").unwrap();
    std::fs::write(
        d.join("noise.mp4"),
        (0..200_000u32).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8).collect::<Vec<_>>(),
    )
    .unwrap();
    let cooking = std::fs::read(repo("samples/cooking.mp4")).unwrap();
    std::fs::write(d.join("cut.mp4"), &cooking[..cooking.len().min(20_000)]).unwrap();
    let wide = lying_header(d, 8208, 64).to_string_lossy().into_owned();

    let ok_meta = with_template("ok", &template(""));
    let long_title = "标".repeat(600);
    let big_meta =
        format!("template: ./ok.yaml.tera\ntitle: hello\nvars: {{pad: \"{}\"}}\n", "x".repeat(2 << 20));
    let laughs = "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\ng: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\nh: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]\ni: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]\n";
    let huge_text = "字".repeat(500);

    let cases: Vec<(&str, Vec<String>, &[i32], &str)> = vec![
        // 1. Metadata that is not a regular file, or too large, or not text.
        ("meta-fifo", render("meta.fifo", "o1"), &[4][..], "FIFO"),
        ("meta-dev-zero", render("/dev/zero", "o2"), &[4], "character device"),
        ("meta-dev-urandom", render("/dev/urandom", "o3"), &[4], "character device"),
        ("meta-folder", render("a-folder.yaml", "o4"), &[4], "folder"),
        ("meta-2mb", render(&write(d, "big.yaml", &big_meta), "o5"), &[5], "larger than the limit"),
        ("meta-sparse-1gb", render(&sparse("sparse.yaml", 1 << 30), "o6"), &[5], "larger than the limit"),
        ("meta-not-utf8", render(&write_bytes(d, "latin1.yaml", b"title: caf\xe9\n"), "o7"), &[4], "UTF-8"),
        ("meta-billion-laughs", render(&write(d, "laughs.yaml", &format!("template: ./ok.yaml.tera\ntitle: hi\nvars:\n  {}", laughs.replace('\n', "\n  "))), "o8"), &[4, 5], "laughs.yaml"),
        ("meta-title-600", render(&write(d, "long.yaml", &format!("template: ./ok.yaml.tera\ntitle: \"{long_title}\"\n")), "o9"), &[5], "600 characters"),
        ("meta-missing", render("nope.yaml", "o10"), &[4], "nope.yaml"),
        ("meta-unknown-key", render(&write(d, "key.yaml", "template: ./ok.yaml.tera\ntitel: hi\n"), "o11"), &[4], "titel"),
        ("link-100kb", layout(&meta_for("link", "./ok.yaml.tera", &format!("link:\n  url: \"ftp://{}\"\n", "a".repeat(100_000)))), &[4], "characters)"),
        ("link-javascript", layout(&meta_for("js", "./ok.yaml.tera", "link:\n  url: \"javascript:alert(1)\"\n")), &[4], "link url"),
        ("watermark-missing", layout(&meta_for("wm", "./ok.yaml.tera", "watermark: none.png\n")), &[4], "none.png"),
        // 5. Reading outside the roots, and never echoing another file's contents.
        ("template-etc-passwd", layout(&meta_for("pw", "/etc/passwd", "")), &[4], "outside"),
        ("template-dotdot", layout(&meta_for("pw2", "../../../../../../etc/passwd", "")), &[4], "outside"),
        ("template-symlink-out", layout(&meta_for("pw3", "./passwd-link.yaml.tera", "")), &[4], "resolves to /etc/passwd"),
        ("template-dev-zero", layout(&meta_for("tz", "/dev/zero", "")), &[4], "outside"),
        ("template-fifo", layout(&meta_for("tf", "./tpl.fifo.yaml.tera", "")), &[4], "FIFO"),
        ("template-2mb", layout(&with_template("tbig", &format!("{{# {} #}}\n{}", "x".repeat(2 << 20), template("")))), &[5], "larger than the limit"),
        ("template-include-passwd", layout(&with_template("inc", "{% include \"/etc/passwd\" %}\n")), &[4], "inc.yaml.tera"),
        ("image-etc-passwd", layout(&with_layer("imgpw", "  - kind: image\n    src: /etc/passwd\n")), &[4], "outside"),
        ("watermark-outside", layout(&meta_for("wmout", "./wm.yaml.tera", "watermark: /etc/passwd\n").also(|| { write(d, "wm.yaml.tera", &template("  - kind: image\n    src: {{ watermark }}\n")); })), &[4], "outside"),
        ("font-path", layout(&with_layer("font", "    font: ../../../../etc/passwd\n")), &[4], "not a font name"),
        // 4. Templates that never end or grow without bound.
        ("template-recursive-macro", layout(&with_template("rec", "{% macro m(n) %}{{ self::m(n=n) }}{% endmacro m %}{{ self::m(n=1) }}\n")), &[5], "calls itself"),
        ("template-mutual-recursion", layout(&with_template("mut", "{% macro a() %}{{ self::b() }}{% endmacro a %}{% macro b() %}{{ self::a() }}{% endmacro b %}{{ self::a() }}\n")), &[5], "calls itself"),
        ("template-doubling", layout(&with_template("dbl", "{% set_global s = \"ab\" %}{% for i in range(end=40) %}{% set_global s = s ~ s %}{% endfor %}{{ s | length }}\n")), &[5], "grew to"),
        ("template-nested-loops", layout(&with_template("loops", "{% for a in range(end=1000) %}{% for b in range(end=1000) %}{% for c in range(end=1000) %}{% for d in range(end=1000) %}{% endfor %}{% endfor %}{% endfor %}{% endfor %}\n")), &[5], "iterations"),
        ("template-huge-range", layout(&with_template("range", "{% for i in range(end=100000000) %}{% endfor %}\n")), &[5], "range of"),
        ("template-replace-bomb", layout(&with_template("rep", &format!("{{% set s = \"{}\" %}}{{{{ s | replace(from=\"a\", to=s) | replace(from=\"a\", to=s) | length }}}}\n", "a".repeat(600)))), &[5], "replace"),
        ("template-indent-bomb", layout(&with_template("ind", &format!("{{% set s = \"{}\" %}}{{{{ s | indent(prefix=s) | indent(prefix=s) | length }}}}\n", "\n".repeat(600)))), &[5], "indent"),
        ("template-output-runaway", layout(&with_template("out", "{% for i in range(end=9000) %}{% for j in range(end=10) %}xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx{% endfor %}{% endfor %}\n")), &[5], "limit"),
        ("template-syntax", layout(&with_template("syn", "{% for %}\n")), &[4], "syntax"),
        ("template-unknown-variable", layout(&with_template("var", "canvas: {width: {{ nope }}}\n")), &[4], "nope"),
        // 3. Layout numbers.
        ("layout-width-1e9", layout(&with_layer("w", "    width: 1000000000\n")), &[5], "exceeds the limit"),
        ("layout-gradient-height-1e9", layout(&with_layer("gh", "  - kind: gradient\n    from: \"#000000\"\n    to: \"#ffffff\"\n    height: 1e9\n")), &[5], "exceeds the limit"),
        ("layout-line-height-1e6", layout(&with_layer("lh", "    line_height: 1000000\n")), &[4], "line_height"),
        ("layout-blur-1e6", layout(&with_layer("blur", "    shadow: {blur: 1000000}\n")), &[4], "blur"),
        ("layout-shadow-dx-1e9", layout(&with_layer("sdx", "    shadow: {dx: 1000000000}\n")), &[4], "shadow dx"),
        ("layout-spacing-1e9", layout(&with_layer("sp", "    letter_spacing: 1000000000\n")), &[4], "letter_spacing"),
        ("layout-max-lines-1e9", layout(&with_layer("ml", "    max_lines: 1000000000\n")), &[4], "max_lines"),
        ("layout-size-1e6", layout(&with_layer("sz", "    min_size: 1000000\n")), &[4], "min_size"),
        ("layout-dx-1e300", layout(&with_layer("dx", "    dx: 1e300\n")), &[4], "e300"),
        ("layout-width-inf", layout(&with_layer("inf", "    width: .inf\n")), &[4], "finite"),
        ("layout-width-nan", layout(&with_layer("nan", "    width: .nan\n")), &[4], "finite"),
        ("layout-width-negative", layout(&with_layer("neg", "  - kind: rect\n    color: \"#000000\"\n    width: -5\n")), &[4], "negative"),
        ("layout-canvas-100000", layout(&with_template("cv", "canvas: {width: 100000, height: 100}\nlayers: []\n")), &[5], "limit"),
        ("layout-qr-1e9", layout(&meta_for("qr", "./qr.yaml.tera", "link: {url: \"https://example.com\"}\n").also(|| { write(d, "qr.yaml.tera", &template("  - kind: qr\n    data: {{ link }}\n    width: 1000000000\n")); })), &[5], "exceeds the limit"),
        ("layout-text-500-at-1000", layout(&write(d, "huge.yaml", &format!("template: ./huge.yaml.tera\ntitle: \"{huge_text}\"\n")).also(|| { write(d, "huge.yaml.tera", &template("").replace("size: 24", "size: 1000\n    max_lines: 100")); })), &[5], "limit"),
        ("layout-100-layers", layout(&with_template("many", &format!("canvas: {{width: 320, height: 180}}\nlayers:\n{}", "  - kind: rect\n    color: \"#000000\"\n".repeat(100)))), &[5], "layers"),
        // 2. Images.
        ("image-bomb", layout(&with_layer("bomb", "  - kind: image\n    src: bomb.png\n")), &[5], "20000x20000"),
        ("image-gif", layout(&with_layer("gif", "  - kind: image\n    src: anim.gif\n")), &[4], "PNG, JPEG, WebP or BMP"),
        ("image-truncated", layout(&with_layer("cutpng", "  - kind: image\n    src: cut.png\n")), &[4], "cut.png"),
        ("image-fifo", layout(&with_layer("imgfifo", "  - kind: image\n    src: img.fifo.png\n")), &[4], "FIFO"),
        ("image-40mb", layout(&with_layer("img40", &format!("  - kind: image\n    src: {}\n", sparse("big.png", 40 << 20)))), &[5], "larger than the limit"),
        // 6. Media.
        ("video-dev-zero", s(&["render", "/dev/zero", "--meta", &ok_meta, "-o", "o20/c.jpg"]), &[3], "/dev/zero"),
        ("video-fifo", s(&["render", "video.fifo.mp4", "--meta", &ok_meta, "-o", "o21/c.jpg"]), &[3], "video.fifo.mp4"),
        ("video-folder", s(&["render", "a-folder.mp4", "--meta", &ok_meta, "-o", "o22/c.jpg"]), &[3], "a-folder.mp4"),
        ("video-empty", s(&["render", "empty.mp4", "--meta", &ok_meta, "-o", "o23/c.jpg"]), &[3], "empty.mp4"),
        ("video-noise", s(&["render", "noise.mp4", "--meta", &ok_meta, "-o", "o24/c.jpg"]), &[3], "noise.mp4"),
        ("video-truncated", s(&["render", "cut.mp4", "--meta", &ok_meta, "-o", "o25/c.jpg"]), &[3], "cut.mp4"),
        ("video-lying-header", s(&["render", &wide, "--meta", &ok_meta, "-o", "o26/c.jpg"]), &[5], "decoded frame width 8208"),
        ("probe-dev-zero", s(&["probe", "/dev/zero"]), &[3], "/dev/zero"),
        ("probe-noise", s(&["probe", "noise.mp4"]), &[3], "noise.mp4"),
        // Batch start.
        ("batch-input-dev-zero", s(&["batch", "/dev/zero", "-o", "o30"]), &[2], "/dev/zero"),
        ("batch-manifest-fifo", s(&["batch", "jobs.fifo.csv", "-o", "o31"]), &[2], "FIFO"),
        ("batch-manifest-sparse", s(&["batch", &sparse("jobs.csv", 1 << 30), "-o", "o32"]), &[5], "larger than the limit"),
        // 7. Command line.
        ("cli-unknown-flag", s(&["render", "--frobnicate"]), &[2], "--frobnicate"),
        ("cli-missing-args", s(&["render"]), &[2], "required"),
        ("cli-bad-quality", s(&["render", &video, "--meta", &ok_meta, "-o", "o40/c.jpg", "--quality", "500"]), &[2], "500"),
        ("cli-bad-deadline", s(&["--deadline=-1", "render", &video, "--meta", &ok_meta, "-o", "o41/c.jpg"]), &[2], "seconds"),
        ("deadline-passes", s(&["--deadline", "0.000001", "render", &video, "--meta", &ok_meta, "-o", "o42/c.jpg"]), &[5], "deadline"),
    ];
    cases
        .into_iter()
        .map(|(name, args, codes, needle)| Case { name, args, codes, needle, forbidden: "root:x:0:0" })
        .collect()
}

fn write_bytes(dir: &Path, name: &str, bytes: &[u8]) -> String {
    std::fs::write(dir.join(name), bytes).unwrap();
    name.to_string()
}

/// `x.also(f)`: runs `f` for its effect and gives `x` back (keeps the case table one line each).
trait Also: Sized {
    fn also(self, f: impl FnOnce()) -> Self {
        f();
        self
    }
}
impl<T> Also for T {}

/// Files left anywhere under `dir`.
fn files_in(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(files_in(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

#[test]
fn every_hostile_input_fails_cleanly_within_time_and_memory() {
    let dir = tempdir();
    let d = dir.path();
    let cases = corpus(d);
    assert!(cases.len() >= 60, "the corpus has {} cases", cases.len());
    let failures = std::sync::Mutex::new(Vec::new());
    let next = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..4 {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(case) = cases.get(i) else { break };
                let ran = run_measured(d, case.name, &case.args);
                let mut why = Vec::new();
                match (ran.code, ran.signal) {
                    (_, Some(sig)) => why.push(format!("killed by signal {sig}")),
                    (Some(c), _) if !case.codes.contains(&c) => {
                        why.push(format!("exit {c}, expected {:?}", case.codes))
                    }
                    _ => {}
                }
                let lines: Vec<&str> = ran.stderr.lines().collect();
                if lines.len() != 1 || !lines[0].starts_with("error: ") {
                    why.push(format!("{} stderr lines", lines.len()));
                }
                if !ran.stderr.contains(case.needle) {
                    why.push(format!("no `{}` in the error", case.needle));
                }
                if ran.stderr.contains(case.forbidden) || ran.stderr.contains("panicked") {
                    why.push("forbidden text in the error".into());
                }
                if ran.stderr.len() > 1000 {
                    why.push(format!("a {}-byte error", ran.stderr.len()));
                }
                if ran.seconds > MAX_SECONDS {
                    why.push(format!("{:.1} s", ran.seconds));
                }
                if ran.max_rss_kb > MAX_RSS_KB {
                    why.push(format!("peak RSS {} MiB", ran.max_rss_kb / 1024));
                }
                let out = case.args.iter().find_map(|a| a.strip_suffix("/c.jpg")).map(|o| d.join(o));
                let outside = case
                    .args
                    .iter()
                    .any(|a| a == "-o")
                    .then(|| case.args.iter().skip_while(|a| *a != "-o").nth(1))
                    .flatten();
                if let Some(out) = out.or_else(|| outside.map(|o| d.join(o))) {
                    let left: Vec<_> = files_in(&out)
                        .into_iter()
                        .filter(|p| !p.components().any(|c| c.as_os_str() == ".coverforge"))
                        .collect();
                    if !left.is_empty() {
                        why.push(format!("left {left:?}"));
                    }
                }
                if !why.is_empty() {
                    failures.lock().unwrap().push(format!(
                        "{}: {} — {}",
                        case.name,
                        why.join(", "),
                        ran.stderr.trim()
                    ));
                }
            });
        }
    });
    let failures = failures.into_inner().unwrap();
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn manifest_outputs_stay_inside_the_output_folder() {
    let dir = tempdir();
    let d = dir.path();
    std::fs::copy(repo("samples/cooking.mp4"), d.join("a.mp4")).unwrap();
    std::fs::write(d.join("a.yaml"), "template: douyin-9x16\ntitle: hi\nframe: 1s\n").unwrap();
    let escape = d.join("escaped.jpg");
    std::fs::write(
        d.join("jobs.csv"),
        format!(
            "video,output,meta\na.mp4,../escaped.jpg,a.yaml\na.mp4,{},a.yaml\na.mp4,fine.jpg,a.yaml\n",
            escape.display()
        ),
    )
    .unwrap();
    let r = run_in(d, &["batch", "jobs.csv", "-o", "out", "-q", "--no-cache", "--report", "r.jsonl"]);
    assert_eq!(r.code, 1, "two jobs fail: {}", r.stderr);
    assert!(!escape.exists(), "nothing written outside OUTDIR");
    assert!(d.join("out/fine.jpg").exists());
    let report = std::fs::read_to_string(d.join("r.jsonl")).unwrap();
    assert_eq!(report.matches("outside the output folder").count(), 2, "{report}");
    // -q drops progress, not the reasons for exit code 1.
    assert_eq!(r.stderr.matches("outside the output folder").count(), 2, "{}", r.stderr);
    // Allowed on request.
    let r = run_in(d, &["batch", "jobs.csv", "-o", "out", "-q", "--no-cache", "--allow-outside-output"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(escape.exists());
}

#[test]
fn a_bom_and_control_characters_are_not_errors() {
    let dir = tempdir();
    let d = dir.path();
    std::fs::write(d.join("t.yaml.tera"), template("")).unwrap();
    std::fs::write(d.join("bom.yaml"), "\u{feff}template: ./t.yaml.tera\ntitle: hi\n").unwrap();
    let r = run_in(d, &["layout", "--meta", "bom.yaml"]);
    assert_eq!(r.code, 0, "a leading BOM is dropped: {}", r.stderr);
    std::fs::write(d.join("ctl.yaml"), "template: ./t.yaml.tera\ntitle: \"a\\x7Fb\\x85c\\u2028d\"\n")
        .unwrap();
    let r = run_in(d, &["layout", "--meta", "ctl.yaml"]);
    assert_eq!(r.code, 0, "DEL, NEL and separators stay inside the title: {}", r.stderr);
}
