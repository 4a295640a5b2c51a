//! Benchmark: one 1080x1920 douyin cover from a 1080p H.264 video, coverforge in-process and
//! single-threaded, against the common way — one `ffmpeg` process per cover (seek,
//! scale/crop, drawtext with shadow, logo overlay, JPEG) — measured in the same run.
//!
//! `make bench` (or `cargo bench --bench cover_vs_ffmpeg`). Env: BENCH_COVERS (default 40),
//! BENCH_FFMPEG_COVERS (default 12). The sample is generated with the ffmpeg CLI on first run.

use coverforge::{pipeline, Env};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn count(var: &str, default: usize) -> usize {
    std::env::var(var).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn run(cmd: &mut Command) {
    let out = cmd.output().expect("command starts");
    assert!(out.status.success(), "{cmd:?} failed: {}", String::from_utf8_lossy(&out.stderr));
}

/// 10 s of 1080p H.264 with grain, x264 defaults (GOP 250: one keyframe every 10 s at 25 fps).
fn sample(dir: &Path) -> PathBuf {
    let video = dir.join("bench-1080p.mp4");
    if !video.exists() {
        eprintln!("generating {} ...", video.display());
        run(Command::new("ffmpeg")
            .args(["-nostdin", "-y", "-loglevel", "error", "-f", "lavfi", "-i"])
            .arg("testsrc2=s=1920x1080:r=25:d=10,noise=alls=14:allf=t:all_seed=1")
            .args(["-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-pix_fmt", "yuv420p", "-an"])
            .arg(&video));
    }
    video
}

fn ms_per(total: std::time::Duration, n: usize) -> f64 {
    total.as_secs_f64() * 1000.0 / n as f64
}

fn main() {
    // `cargo test --all-targets` runs bench binaries without `--bench`: do nothing there.
    if !std::env::args().any(|a| a == "--bench") {
        println!("cover_vs_ffmpeg: skipped (run `make bench` or `cargo bench --bench cover_vs_ffmpeg`)");
        return;
    }
    let dir = root().join("target/bench");
    std::fs::create_dir_all(&dir).unwrap();
    let video = sample(&dir);
    let logo = root().join("assets/logo.png");
    let font = root().join("fonts/wqy-microhei.ttc");
    let (title, subtitle, author) = ("三分钟学会红烧肉", "家常做法 · 零失败", "@王师傅的厨房");
    let meta = dir.join("bench.yaml");
    std::fs::write(
        &meta,
        format!(
            "template: douyin-9x16\ntitle: {title}\nsubtitle: {subtitle}\nauthor: \"{author}\"\nwatermark: {}\n\
             link:\n  url: https://shop.example.com/item/123\n  utm: {{source: douyin, medium: cover_qr, campaign: autumn_sale}}\nframe: 5s\n",
            logo.display()
        ),
    )
    .unwrap();

    // Single-threaded: OpenCV's own worker pool off; FFmpeg decodes with one thread already.
    opencv::core::set_num_threads(1).unwrap();
    let env = Env::new(&root(), Default::default());
    let opts = pipeline::RenderOptions::default();
    let job = |i: usize| pipeline::Job {
        video: video.clone(),
        meta: coverforge::metadata::MetaSource::File(meta.clone()),
        defaults: None,
        template: None,
        output: dir.join(format!("cf-{}.jpg", i % 4)),
        kind: pipeline::OutputKind::Still { quality: 90 },
        variant: None,
    };
    for i in 0..3 {
        pipeline::run(&job(i), &opts, &env).expect("warm-up render"); // fonts, logo, page cache
    }
    let n = count("BENCH_COVERS", 40);
    let mut stages = pipeline::StageTimes::default();
    let t = Instant::now();
    for i in 0..n {
        let r = pipeline::run(&job(i), &opts, &env).expect("render");
        stages.layout_ms += r.times.layout_ms / n as f64;
        stages.decode_ms += r.times.decode_ms / n as f64;
        stages.composite_ms += r.times.composite_ms / n as f64;
        stages.encode_ms += r.times.encode_ms / n as f64;
    }
    let cf = ms_per(t.elapsed(), n);

    // The coverforge binary, one process per cover (includes loading ~200 shared libraries).
    let bin = root().join("target/release/coverforge");
    let cli = bin.exists().then(|| {
        let m = 8;
        let t = Instant::now();
        for i in 0..m {
            run(Command::new(&bin)
                .env("OMP_NUM_THREADS", "1")
                .arg("render")
                .arg(&video)
                .arg("--meta")
                .arg(&meta)
                .arg("-o")
                .arg(dir.join(format!("cli-{i}.jpg"))));
        }
        ms_per(t.elapsed(), m)
    });

    // The common way: one ffmpeg process per cover, single-threaded.
    let esc = |s: &str| s.replace(':', "\\:").replace('\'', "\\'");
    let fontfile = font.display().to_string();
    let draw = |text: &str, size: u32, color: &str, x: u32, y: u32| {
        format!(
            "drawtext=fontfile='{fontfile}':text='{}':fontsize={size}:fontcolor={color}:\
             shadowcolor=black@0.75:shadowx=0:shadowy=6:x={x}:y={y}",
            esc(text)
        )
    };
    let filter = format!(
        "[0:v]scale=1080:1920:force_original_aspect_ratio=increase,crop=1080:1920,{},{},{}[bg];\
         [1:v]scale=132:-1,format=rgba,colorchannelmixer=aa=0.92[logo];[bg][logo]overlay=W-w-56:180",
        draw(title, 96, "white", 64, 1102),
        draw(subtitle, 52, "0xFFE082", 64, 1248),
        draw(author, 40, "white", 64, 1570)
    );
    let ffmpeg = |nokey: bool, m: usize| {
        let t = Instant::now();
        for i in 0..m {
            let mut c = Command::new("ffmpeg");
            c.args(["-nostdin", "-y", "-loglevel", "error", "-threads", "1"]);
            if nokey {
                c.args(["-skip_frame", "nokey"]);
            }
            c.args(["-ss", "5", "-i"]).arg(&video).arg("-i").arg(&logo);
            c.args(["-filter_complex", &filter, "-filter_threads", "1", "-frames:v", "1", "-q:v", "2"]);
            c.arg(dir.join(format!("ff-{i}.jpg")));
            run(&mut c);
        }
        ms_per(t.elapsed(), m)
    };
    let m = count("BENCH_FFMPEG_COVERS", 12);
    let ff_accurate = ffmpeg(false, m);
    let ff_nokey = ffmpeg(true, m);

    println!(
        "cover: 1080x1920 douyin-9x16 JPEG q90 from a 1080p H.264 clip (GOP 250), frame at 5 s, 1 thread"
    );
    println!(
        "coverforge, in-process          {cf:8.1} ms/cover  ({:.1} covers/s)  [{n} covers]",
        1000.0 / cf
    );
    println!(
        "  stages: layout {:.2} ms, decode {:.2} ms, composite {:.2} ms, encode+write {:.2} ms",
        stages.layout_ms, stages.decode_ms, stages.composite_ms, stages.encode_ms
    );
    if let Some(cli) = cli {
        println!("coverforge CLI, 1 process/cover  {cli:8.1} ms/cover");
    } else {
        println!("coverforge CLI: skipped (build target/release/coverforge first: cargo build --release)");
    }
    println!("ffmpeg CLI, accurate -ss          {ff_accurate:8.1} ms/cover  [{m} covers]");
    println!("ffmpeg CLI, -skip_frame nokey     {ff_nokey:8.1} ms/cover  [{m} covers]");
    println!("ratio ffmpeg (accurate) / coverforge in-process: {:.1}x  (target >= 10x)", ff_accurate / cf);
    println!("ratio ffmpeg (nokey)    / coverforge in-process: {:.1}x", ff_nokey / cf);
    if let Some(cli) = cli {
        println!("ratio ffmpeg (accurate) / coverforge CLI:        {:.1}x", ff_accurate / cli);
    }
}
