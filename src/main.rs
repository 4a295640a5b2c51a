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
        /// Output file; the format follows the extension: .jpg/.jpeg, .png or .webp.
        #[arg(short, long, value_name = "OUT")]
        output: PathBuf,
        /// JPEG and WebP quality, 1–100 (PNG is lossless and ignores it).
        #[arg(long, default_value_t = 90, value_parser = clap::value_parser!(u8).range(1..=100))]
        quality: u8,
        /// Print a JSON report of the job (media, frame time, stage timings) on stdout.
        #[arg(long, default_value_t = false)]
        json: bool,
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
    /// Cover format when the manifest names no output file.
    #[arg(long, default_value = "jpg", value_parser = ["jpg", "png", "webp"])]
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
    let env = Env::new(&home, Default::default());
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
        Command::Render { video, meta, template, output, quality, json } => {
            let job = pipeline::Job { video, meta, template, output, quality };
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
