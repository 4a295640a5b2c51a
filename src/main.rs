//! The `coverforge` command line: thin glue over the library.
//!
//! Arguments are parsed in two levels: clap structs hold the raw flags, which are turned into a
//! validated [`coverforge::pipeline::Job`] (or other plan) before any work starts. Every failure
//! is printed as one line naming the file and the problem; the exit code says whose fault it is.

use clap::{Parser, Subcommand};
use coverforge::{pipeline, Env, Error};
use std::path::PathBuf;
use std::process::ExitCode;

/// Make video covers: keyframe → Tera layout → composite → JPEG/PNG/WebP.
///
/// Exit codes: 0 success, 2 usage error, 3 bad input video, 4 template or metadata error,
/// 5 a limit exceeded, 6 unsupported, 7 I/O error.
#[derive(Parser, Debug)]
#[command(name = "coverforge", version, max_term_width = 100)]
struct Cli {
    /// Data folder holding `templates/` and `fonts/`.
    /// [default: $COVERFORGE_HOME, else ./ if it has templates/ and fonts/, else the source tree]
    #[arg(long, global = true, value_name = "DIR")]
    home: Option<PathBuf>,

    /// Keyframe decoding device: auto (CUDA/NVDEC, then VAAPI, then QSV, then software; a
    /// missing device falls back to software and reports say why), cuda, vaapi, qsv (an error
    /// when missing) or none (software, the reference path).
    #[arg(long, global = true, value_name = "DEVICE", env = "COVERFORGE_HWACCEL", default_value = "auto")]
    hwaccel: coverforge::accel::HwAccel,

    /// JPEG encoder for still covers: auto (nvjpeg when the cover was composited on the GPU,
    /// else cpu), cpu (libjpeg-turbo, the same bytes everywhere) or nvjpeg (CUDA's nvJPEG on an
    /// NVIDIA GPU; an error when it cannot be loaded).
    #[arg(
        long,
        global = true,
        value_name = "ENCODER",
        env = "COVERFORGE_JPEG_ENCODER",
        default_value = "auto"
    )]
    jpeg_encoder: coverforge::encode::JpegEncoder,

    /// Where still covers are composited: cpu (the reference), cuda (canvas in GPU memory: the
    /// NVDEC frame is scaled there, scrims blended and the JPEG encoded there; text, logo and QR
    /// drawn by the CPU on small regions; an error when CUDA is missing) or auto (cuda when it
    /// works, else cpu, and reports say why).
    #[arg(long, global = true, value_name = "WHERE", env = "COVERFORGE_COMPOSITOR", default_value = "cpu")]
    compositor: coverforge::accel::Compositor,

    /// Most hardware encoder sessions open at once (consumer NVIDIA cards allow few).
    #[arg(long, global = true, value_name = "N", env = "COVERFORGE_MAX_HW_SESSIONS", default_value_t = 3,
          value_parser = clap::value_parser!(u32).range(1..=64))]
    max_hw_sessions: u32,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Render one cover from a video and its metadata.
    Render {
        /// The video to take the frame from.
        video: PathBuf,
        /// The metadata YAML (title, subtitle, author, watermark, link, frame, template).
        #[arg(long, value_name = "META.yaml")]
        meta: PathBuf,
        /// Template name (under templates/) or path; overrides the metadata's `template`.
        /// [default: the metadata's `template`]
        #[arg(long, value_name = "NAME|PATH")]
        template: Option<String>,
        /// Output file; the format follows the extension: .jpg/.jpeg, .png or .webp (an
        /// animated cover with --animated), .mp4 (always an animated cover).
        #[arg(short, long, value_name = "OUT")]
        output: PathBuf,
        /// JPEG and WebP quality, 1–100 (PNG is lossless and ignores it).
        #[arg(long, default_value_t = 90, value_parser = clap::value_parser!(u8).range(1..=100))]
        quality: u8,
        /// Print a JSON report of the job (media, frame time, stage timings) on stdout.
        #[arg(long, default_value_t = false)]
        json: bool,
        #[command(flatten)]
        animated: AnimatedArgs,
    },
    /// Show the hardware this machine offers: decode devices (CUDA/NVDEC, VAAPI, QSV) and the
    /// codecs they take, and every encoder (NVENC, QSV, VAAPI, x264/x265, libwebp) opened once to
    /// see whether it works, with the reason when it does not.
    Devices {
        /// Print JSON instead of text.
        #[arg(long, default_value_t = false)]
        json: bool,
        /// Also decode these videos' keyframes on every available device and in software and
        /// compare them (PSNR; exit 1 when any falls under 45 dB).
        #[arg(long, value_name = "VIDEO", num_args = 1..)]
        check_decode: Vec<PathBuf>,
    },
    /// Render many covers: a folder of videos with NAME.yaml sidecars (and an optional
    /// defaults.yaml), or a YAML/CSV manifest. Unchanged covers are skipped.
    ///
    /// Exit codes: 0 all covers ok or unchanged, 1 some failed, 2 usage error.
    Batch(BatchArgs),
    /// Pre-flight check: layout and measurement without encoding. Reports text cut by an
    /// ellipsis or shrunk below its minimum, missing glyphs, contrast under 4.5:1 (when the video
    /// NAME.mp4 sits beside NAME[.variant].yaml), layers in platform safe zones, and QR codes with
    /// modules under 4 px or a short quiet zone.
    ///
    /// Exit codes: 0 nothing found, 1 findings, 4 errors.
    Check {
        /// Metadata files to check.
        #[arg(required = true, value_name = "META.yaml")]
        metas: Vec<PathBuf>,
        /// Template name or path for every file. [default: each metadata's `template`]
        #[arg(long, value_name = "NAME|PATH")]
        template: Option<String>,
        /// Print JSON instead of text.
        #[arg(long, default_value_t = false)]
        json: bool,
    },
    /// Print what a video is: container, codec, size, rotation, pixel aspect, duration.
    Probe {
        /// The video.
        video: PathBuf,
        /// Print JSON instead of text.
        #[arg(long, default_value_t = false)]
        json: bool,
    },
    /// Resolve the layout for a metadata file (no video needed).
    Layout {
        /// The metadata YAML.
        #[arg(long, value_name = "META.yaml")]
        meta: PathBuf,
        /// Template name or path; overrides the metadata's `template`. [default: the metadata's]
        #[arg(long, value_name = "NAME|PATH")]
        template: Option<String>,
        /// Print the resolved layout (absolute boxes, wrapped lines) as YAML.
        #[arg(long, default_value_t = false)]
        dump: bool,
        /// Print the template's rendered text before resolution (what layout errors point into).
        #[arg(long, default_value_t = false, conflicts_with = "dump")]
        raw: bool,
    },
}

/// Animated cover options of `render` (they override the template's `animated:` block).
#[derive(clap::Args, Debug)]
struct AnimatedArgs {
    /// Render an animated cover: a clip of SECONDS (0.5–15) around the chosen frame with the
    /// overlays on every frame, written as MP4 (H.264/HEVC, no audio) or animated WebP by the
    /// output's extension. An .mp4 output implies it. [default: the template's, else 3]
    #[arg(long, value_name = "SECONDS", help_heading = "Animated covers")]
    animated: Option<f64>,
    /// Video codec for MP4: h264 or hevc. [default: the template's, else h264]
    #[arg(long, value_name = "CODEC", help_heading = "Animated covers")]
    video_codec: Option<coverforge::animated::VideoCodec>,
    /// Encoder backend: auto (NVENC, then QSV, then VAAPI, then software: the first that opens),
    /// nvenc, qsv, vaapi or software. [default: the template's, else auto]
    #[arg(long, value_name = "BACKEND", help_heading = "Animated covers")]
    encoder: Option<coverforge::animated::EncoderChoice>,
    /// Preset: fast, medium, slow, or the backend's own (x264: ultrafast…placebo; NVENC: p1…p7;
    /// QSV: veryfast…veryslow). [default: the encoder's]
    #[arg(long, value_name = "PRESET", help_heading = "Animated covers")]
    preset: Option<String>,
    /// Constant quality: 0–51 for MP4, lower is better; 0–100 for WebP, higher is better.
    /// [default: 23; WebP 75]
    #[arg(long, value_name = "Q", help_heading = "Animated covers")]
    video_quality: Option<u32>,
    /// Bitrate (2M, 800k, ...; 100k–100M): constant, or variable with --maxrate.
    #[arg(long, value_name = "RATE", help_heading = "Animated covers")]
    bitrate: Option<String>,
    /// Peak bitrate for variable bitrate (at least --bitrate).
    #[arg(long, value_name = "RATE", help_heading = "Animated covers")]
    maxrate: Option<String>,
    /// Keyframe interval in frames (1–600). [default: the encoder's]
    #[arg(long, value_name = "FRAMES", help_heading = "Animated covers")]
    gop: Option<u32>,
    /// Frame rate (1–60). [default: the video's, at most 60]
    #[arg(long, value_name = "FPS", help_heading = "Animated covers")]
    fps: Option<f64>,
}

impl AnimatedArgs {
    fn settings(&self) -> coverforge::animated::EncodeSettings {
        coverforge::animated::EncodeSettings {
            seconds: self.animated,
            codec: self.video_codec,
            encoder: self.encoder,
            preset: self.preset.clone(),
            quality: self.video_quality,
            bitrate: self.bitrate.clone(),
            maxrate: self.maxrate.clone(),
            gop: self.gop,
            fps: self.fps,
        }
    }
}

/// `coverforge batch` options (see `coverforge batch --help`).
#[derive(clap::Args, Debug)]
struct BatchArgs {
    /// A folder (videos + sidecars) or a manifest (.yaml/.csv).
    input: PathBuf,
    /// Folder for the covers (created if missing).
    #[arg(short, long, value_name = "OUTDIR")]
    output: PathBuf,
    /// Worker threads. [default: the number of CPUs]
    #[arg(short = 'j', long, value_name = "N")]
    jobs: Option<usize>,
    /// Render every cover, even unchanged ones.
    #[arg(long, default_value_t = false)]
    force: bool,
    /// Report what would be rendered or skipped; write no covers.
    #[arg(long, default_value_t = false)]
    dry_run: bool,
    /// Write one JSON line per job, then a summary line.
    #[arg(long, value_name = "FILE.jsonl")]
    report: Option<PathBuf>,
    /// Write an HTML page with a thumbnail, status and error for every cover.
    #[arg(long, value_name = "FILE.html")]
    proof: Option<PathBuf>,
    /// Cover format when the manifest names no output file; mp4 makes animated covers (as does
    /// --animated, with webp then meaning animated WebP).
    #[arg(long, default_value = "jpg", value_parser = ["jpg", "png", "webp", "mp4"])]
    format: String,
    /// JPEG and WebP quality, 1–100.
    #[arg(long, default_value_t = 90, value_parser = clap::value_parser!(u8).range(1..=100))]
    quality: u8,
    /// Template name or path for every job. [default: each metadata's `template`]
    #[arg(long, value_name = "NAME|PATH")]
    template: Option<String>,
    /// Keyframe cache folder. [default: $XDG_CACHE_HOME/coverforge/keyframes or
    /// ~/.cache/coverforge/keyframes]
    #[arg(long, value_name = "DIR", env = "COVERFORGE_CACHE_DIR")]
    cache_dir: Option<PathBuf>,
    /// Keyframe cache size bound in MiB (least recently used frames are evicted).
    #[arg(long, value_name = "MIB", default_value_t = 2048)]
    cache_size: u64,
    /// Do not read or write the keyframe cache.
    #[arg(long, default_value_t = false)]
    no_cache: bool,
    #[command(flatten)]
    animated: AnimatedArgs,
    /// Print nothing but errors that stop the batch.
    #[arg(short, long, default_value_t = false, conflicts_with = "verbose")]
    quiet: bool,
    /// Also print one line per job.
    #[arg(short, long, default_value_t = false)]
    verbose: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let home = cli.home.unwrap_or_else(Env::default_data_dir);
    let mut env = Env::new(&home, Default::default());
    env.hwaccel = cli.hwaccel;
    env.jpeg_encoder = cli.jpeg_encoder;
    env.compositor = cli.compositor;
    coverforge::animated::set_max_hw_sessions(cli.max_hw_sessions as usize);
    let command = match cli.command {
        Command::Batch(args) => return batch(args, &env),
        Command::Check { metas, template, json } => return check(&metas, template.as_deref(), json, &env),
        other => other,
    };
    match run(command, &env) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let line = e.to_string().replace('\n', " ");
            eprintln!("error: {line}");
            ExitCode::from(e.kind().exit_code() as u8)
        }
    }
}

/// `coverforge batch`: 0 when every cover is ok or unchanged, 1 when some failed, 2 when the
/// batch could not start.
fn batch(args: BatchArgs, env: &Env) -> ExitCode {
    let usage = |msg: String| {
        eprintln!("error: {msg}");
        ExitCode::from(2)
    };
    let cache = if args.no_cache {
        None
    } else {
        let dir = args.cache_dir.unwrap_or_else(coverforge::batch::frame_cache::FrameCache::default_dir);
        match coverforge::batch::frame_cache::FrameCache::new(&dir, args.cache_size.saturating_mul(1 << 20)) {
            Ok(c) => Some(c),
            Err(e) => return usage(format!("{}: cannot use keyframe cache: {e}", dir.display())),
        }
    };
    let format = match args.format.as_str() {
        "png" => coverforge::encode::Format::Png,
        "webp" => coverforge::encode::Format::Webp,
        _ => coverforge::encode::Format::Jpeg,
    };
    let animated =
        (args.animated.animated.is_some() || args.format == "mp4").then(|| args.animated.settings());
    if let Some(Err(problems)) = animated.as_ref().map(|a| a.validate(args.format == "webp")) {
        return usage(format!("animated cover settings: {}", problems.join("; ")));
    }
    let threads = args.jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    if threads == 0 {
        return usage("-j must be at least 1".into());
    }
    let opts = coverforge::batch::Options {
        outdir: args.output,
        threads,
        force: args.force,
        dry_run: args.dry_run,
        report: args.report,
        proof: args.proof,
        format,
        quality: args.quality,
        template: args.template,
        animated_webp: animated.is_some() && args.format == "webp",
        animated,
        cache,
        verbosity: if args.quiet {
            coverforge::batch::Verbosity::Quiet
        } else if args.verbose {
            coverforge::batch::Verbosity::Verbose
        } else {
            coverforge::batch::Verbosity::Normal
        },
    };
    match coverforge::batch::run(&args.input, &opts, env) {
        Ok(s) => {
            if !args.quiet {
                eprintln!(
                    "batch: {} covers: {} rendered, {} unchanged, {} failed{} in {:.2} s ({:.1} covers/s, {} decoded, {} from cache)",
                    s.total,
                    s.ok,
                    s.skipped,
                    s.failed,
                    if s.planned > 0 { format!(", {} planned", s.planned) } else { String::new() },
                    s.wall_s,
                    s.covers_per_s,
                    s.decodes,
                    s.cache_hits
                );
            }
            ExitCode::from(u8::from(s.failed > 0))
        }
        Err(e) => usage(e.to_string()),
    }
}

/// `coverforge check`: 0 when nothing was found, 1 for findings, 4 for errors.
fn check(metas: &[PathBuf], template: Option<&str>, json: bool, env: &Env) -> ExitCode {
    let reports: Vec<_> = metas.iter().map(|m| coverforge::check::check(m, template, env)).collect();
    if json {
        println!("{}", serde_json::to_string_pretty(&reports).expect("reports serialise"));
    } else {
        for r in &reports {
            for e in &r.errors {
                println!("error: {}", e.replace('\n', " "));
            }
            for f in &r.findings {
                let at = f.line.map(|l| format!(":{l}")).unwrap_or_default();
                println!(
                    "{}: {}{at}: warning[{}]: {}: {}",
                    r.meta.display(),
                    f.file.display(),
                    serde_json::to_value(f.kind)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_owned))
                        .unwrap_or_default(),
                    f.layer,
                    f.message
                );
            }
            if r.errors.is_empty() && r.findings.is_empty() {
                let measured = r.video.as_ref().map(|v| format!(" (contrast measured on {})", v.display()));
                println!("{}: ok{}", r.meta.display(), measured.unwrap_or_default());
            }
        }
    }
    if reports.iter().any(|r| !r.errors.is_empty()) {
        ExitCode::from(4)
    } else if reports.iter().any(|r| !r.findings.is_empty()) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

fn run(command: Command, env: &Env) -> Result<(), Error> {
    match command {
        Command::Render { video, meta, template, output, quality, json, animated } => {
            let is_mp4 = output.extension().is_some_and(|e| e.eq_ignore_ascii_case("mp4"));
            let job = pipeline::Job { video, meta, template, output, quality };
            if animated.animated.is_some() || is_mp4 {
                let result = pipeline::render_animated(&job, &animated.settings(), env)?;
                for w in &result.warnings {
                    eprintln!("warning: {w}");
                }
                if json {
                    println!("{}", serde_json::to_string_pretty(&result).expect("report serialises"));
                } else {
                    let c = &result.clip;
                    println!(
                        "{}: {}x{} {} animated cover, {} frames at {:.2} fps ({:.2} s from {:.2} s), {} ({}), {} bytes",
                        result.output.display(),
                        c.width,
                        c.height,
                        result.template,
                        c.frames,
                        c.fps,
                        c.seconds,
                        c.start_s,
                        c.encoder,
                        c.backend,
                        result.output_bytes
                    );
                }
                return Ok(());
            }
            let result = pipeline::render(&job, env)?;
            for w in &result.warnings {
                eprintln!("warning: {w}");
            }
            if json {
                println!("{}", serde_json::to_string_pretty(&result).expect("report serialises"));
            } else {
                println!(
                    "{}: {}x{} {} cover, frame at {:.2} s of {}, {} bytes",
                    result.output.display(),
                    result.width,
                    result.height,
                    result.template,
                    result.frame_time_s,
                    result.media.path.display(),
                    result.output_bytes
                );
            }
        }
        Command::Batch(_) | Command::Check { .. } => unreachable!("handled in main()"),
        Command::Devices { json, check_decode } => {
            let report = coverforge::accel::devices();
            let mut comparisons = Vec::new();
            for d in report.decode.iter().filter(|d| d.available) {
                for v in &check_decode {
                    comparisons.push(coverforge::accel::compare_decoders(v, d.device, &env.limits)?);
                }
            }
            let below = comparisons.iter().any(|c| c.min_psnr_db < coverforge::accel::MIN_PSNR_DB);
            if json {
                let v = serde_json::json!({ "devices": report, "decode_checks": comparisons });
                println!("{}", serde_json::to_string_pretty(&v).expect("report serialises"));
                if below {
                    std::process::exit(1);
                }
                return Ok(());
            }
            println!("decode (tried in this order by --hwaccel auto; software always works):");
            for d in &report.decode {
                let state = if d.available { "available".to_string() } else { "unavailable".to_string() };
                println!("  {:<6} {state}  codecs: {}", d.device.name(), d.codecs.join(", "));
                if let Some(r) = &d.reason {
                    println!("         {r}");
                }
            }
            println!(
                "encode (--encoder auto takes the first that opens; at most {} hardware sessions):",
                report.max_hw_sessions
            );
            for e in &report.encode {
                let state = if e.available { "available" } else { "unavailable" };
                let codec = if e.format == "webp" {
                    "-".to_string()
                } else {
                    format!("{:?}", e.codec).to_lowercase()
                };
                println!("  {:<4} {:<5} {:<8} {:<13} {state}", e.format, codec, e.backend.name(), e.encoder);
                if let Some(r) = &e.reason {
                    println!("         {r}");
                }
            }
            match &report.nvjpeg {
                Ok(()) => println!("still covers: nvjpeg available (--jpeg-encoder nvjpeg)"),
                Err(why) => println!("still covers: nvjpeg unavailable: {why}"),
            }
            match &report.gpu_compositor {
                Ok(()) => println!("compositing: cuda available (--compositor cuda)"),
                Err(why) => println!("compositing: cuda unavailable: {why}"),
            }
            if !check_decode.is_empty() && comparisons.is_empty() {
                println!("decode check: no hardware decode device available; nothing to compare");
            }
            for c in &comparisons {
                println!(
                    "decode check: {} vs software on {}: {} keyframes, PSNR min {:.2} dB, mean {:.2} dB ({}), {:.1} ms vs {:.1} ms a keyframe",
                    c.device,
                    c.video.display(),
                    c.keyframes,
                    c.min_psnr_db,
                    c.mean_psnr_db,
                    if c.min_psnr_db >= coverforge::accel::MIN_PSNR_DB { "ok" } else { "BELOW 45 dB" },
                    c.device_ms,
                    c.software_ms
                );
            }
            if below {
                std::process::exit(1);
            }
        }
        Command::Probe { video, json } => {
            let info = coverforge::probe::probe(&video, &env.limits)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&info).expect("info serialises"));
            } else {
                println!("file:       {}", info.path.display());
                println!("container:  {}", info.container);
                println!("codec:      {}", info.codec);
                println!("coded size: {}x{}", info.width, info.height);
                println!("pixel AR:   {}:{}", info.sample_aspect_ratio.0, info.sample_aspect_ratio.1);
                println!("rotation:   {}°", info.rotation_degrees);
                println!("display:    {}x{}", info.display_width, info.display_height);
                println!("duration:   {:.3} s", info.duration_s);
                println!("frame rate: {:.3} fps", info.frame_rate);
            }
        }
        Command::Layout { meta, template, dump, raw } => {
            if raw {
                let m = coverforge::metadata::load(&meta, &env.limits)?;
                let source = pipeline::find_template(&m, template.as_deref(), env)?;
                print!("{}", coverforge::template::render(&source, &m, env.limits.max_template_output)?);
                return Ok(());
            }
            let (_, doc) = pipeline::layout_for(&meta, template.as_deref(), env)?;
            if dump {
                print!("{}", serde_yaml_ng::to_string(&doc).expect("layout serialises"));
            } else {
                println!(
                    "{}: template {} ok, {}x{}, {} layers",
                    meta.display(),
                    doc.template,
                    doc.canvas.width,
                    doc.canvas.height,
                    doc.layers.len()
                );
            }
        }
    }
    Ok(())
}
