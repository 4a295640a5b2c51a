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

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let line = e.to_string().replace('\n', " ");
            eprintln!("error: {line}");
            ExitCode::from(e.kind().exit_code() as u8)
        }
    }
}

fn run(cli: Cli) -> Result<(), Error> {
    let home = cli.home.unwrap_or_else(Env::default_data_dir);
    let env = Env::new(&home, Default::default());
    match cli.command {
        Command::Render { video, meta, template, output, quality, json } => {
            let job = pipeline::Job { video, meta, template, output, quality };
            let result = pipeline::render(&job, &env)?;
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
                let source = pipeline::find_template(&m, template.as_deref(), &env)?;
                print!("{}", coverforge::template::render(&source, &m, env.limits.max_template_output)?);
                return Ok(());
            }
            let (_, doc) = pipeline::layout_for(&meta, template.as_deref(), &env)?;
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
