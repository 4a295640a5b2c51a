//! The command line's raw arguments, as clap parses them (the first of the two levels: see
//! [`super`]). Every option documents its default.

use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// `--format` of `batch`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BatchFormat {
    /// JPEG stills.
    Jpg,
    /// PNG stills.
    Png,
    /// WebP stills (animated WebP with --animated).
    Webp,
    /// Animated MP4 covers.
    Mp4,
}

/// Make video covers: keyframe → Tera layout → composite → JPEG/PNG/WebP.
///
/// Exit codes: 0 success, 2 usage error, 3 bad input video, 4 template or metadata error,
/// 5 a limit exceeded, 6 unsupported, 7 I/O error.
#[derive(Parser, Debug)]
#[command(name = "coverforge", version, max_term_width = 100)]
pub struct Cli {
    /// Data folder holding `templates/` and `fonts/`.
    /// [default: $COVERFORGE_HOME, else ./ if it has templates/ and fonts/, else the source tree]
    #[arg(long, global = true, value_name = "DIR")]
    pub home: Option<PathBuf>,

    /// Keyframe decoding device: auto (CUDA/NVDEC, then VAAPI, then QSV, then software; a
    /// missing device falls back to software and reports say why), cuda, vaapi, qsv (an error
    /// when missing) or none (software, the reference path).
    #[arg(long, global = true, value_name = "DEVICE", env = "COVERFORGE_HWACCEL", default_value = "auto")]
    pub hwaccel: coverforge::model::HwAccel,

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
    pub jpeg_encoder: coverforge::model::JpegEncoder,

    /// Where still covers are composited: cpu (the reference), cuda (canvas in GPU memory: the
    /// NVDEC frame is scaled there, scrims blended and the JPEG encoded there; text, logo and QR
    /// drawn by the CPU on small regions; an error when CUDA is missing) or auto (cuda when it
    /// works, else cpu, and reports say why).
    #[arg(long, global = true, value_name = "WHERE", env = "COVERFORGE_COMPOSITOR", default_value = "cpu")]
    pub compositor: coverforge::model::Compositor,

    /// Most hardware encoder sessions open at once (consumer NVIDIA cards allow few).
    #[arg(long, global = true, value_name = "N", env = "COVERFORGE_MAX_HW_SESSIONS", default_value_t = 3,
          value_parser = clap::value_parser!(u32).range(1..=64))]
    pub max_hw_sessions: u32,

    /// Longest one cover job may run, in seconds; a job past it fails as a limit (exit 5).
    #[arg(long, global = true, value_name = "SECONDS", env = "COVERFORGE_DEADLINE", default_value_t = 30.0,
          value_parser = parse_deadline)]
    pub deadline: f64,

    /// Also let metadata and templates read from DIR (a template, watermark or image outside
    /// the metadata's folder, the template's folder and the data folder). Repeatable.
    #[arg(long, global = true, value_name = "DIR", env = "COVERFORGE_ALLOW_PATH", value_delimiter = ':')]
    pub allow_path: Vec<PathBuf>,

    /// Most A/B variants one metadata file may have (3 matches YouTube's thumbnail test); a
    /// larger set is an error naming the count.
    #[arg(long, global = true, value_name = "N", default_value_t = 10,
          value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub max_variants: u32,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
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
    /// A/B variants (`variants:` in a sidecar) are expanded: NAME.<id>.jpg each.
    ///
    /// Exit codes: 0 all covers ok or unchanged, 1 some failed, 2 usage error.
    Batch(BatchArgs),
    /// Pre-flight check: layout and measurement without encoding. Reports text cut by an
    /// ellipsis or shrunk below its minimum, missing glyphs, contrast under 4.5:1 (when the video
    /// NAME.mp4 sits beside NAME[.KIND].yaml), layers in platform safe zones, and QR codes with
    /// modules under 4 px or a short quiet zone, and text left over a face (no placement clear
    /// of it). A file with `variants:` is checked per variant, with a warning for variants whose
    /// covers are near duplicates (they differ in under 0.5 % of their area, QR codes aside): an
    /// A/B test could not tell them apart.
    ///
    /// Exit codes: 0 nothing found (warnings do not count), 1 findings, 4 errors.
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
    /// Live preview for designers: a web page of FOLDER's covers (deliverables and A/B variants
    /// included) that re-renders and updates by itself when a template, metadata, font or asset
    /// is saved, and shows an edit's error (file, line) over the last good image.
    Serve {
        /// Folder of videos with their metadata (default: the current folder). A `templates/`
        /// folder inside it is readable by its metadata too.
        #[arg(default_value = ".")]
        folder: PathBuf,
        /// Port (0: any free one). [default: 8080, or the next free one]
        #[arg(long)]
        port: Option<u16>,
        /// Address to listen on; anything but loopback needs --token.
        #[arg(long, default_value = "127.0.0.1")]
        bind: std::net::IpAddr,
        /// Secret asked of every visitor (open the page once with ?token=SECRET).
        #[arg(long, env = "COVERFORGE_SERVE_TOKEN")]
        token: Option<String>,
        /// Where rendered previews are kept (outside FOLDER). [default: under ~/.cache/coverforge/serve]
        #[arg(long, value_name = "DIR")]
        cache_dir: Option<PathBuf>,
    },
    /// Put every cover job of INPUT (a batch folder or manifest) on a Redis stream for workers.
    /// With --wait, follow the results until every job is done or dead, then exit like batch.
    Enqueue {
        /// A folder (videos + sidecars) or a manifest (.yaml/.csv).
        input: PathBuf,
        /// Folder for the covers (as the workers see it under their --root).
        #[arg(short, long, value_name = "OUTDIR")]
        output: PathBuf,
        #[command(flatten)]
        queue: QueueArgs,
        /// Template name or path for every job.
        #[arg(long)]
        template: Option<String>,
        /// Wait for every job's result and print the summary.
        #[arg(long, default_value_t = false)]
        wait: bool,
        /// With --wait: write the results as JSON lines.
        #[arg(long, value_name = "FILE.jsonl")]
        report: Option<PathBuf>,
        /// With --wait: write a proof sheet (thumbnails of every cover, variants side by side).
        #[arg(long, value_name = "FILE.html")]
        proof: Option<PathBuf>,
    },
    /// Render jobs from a Redis stream in a consumer group until SIGTERM/SIGINT.
    Worker {
        #[command(flatten)]
        queue: QueueArgs,
        /// Consumer group.
        #[arg(long, default_value = "workers")]
        group: String,
        /// This worker's name (threads add -1, -2, …); reuse it after a restart to finish the
        /// jobs it held. [default: the host name and process id]
        #[arg(long)]
        name: Option<String>,
        /// Threads. [default: the number of CPUs]
        #[arg(short = 'j', long)]
        jobs: Option<usize>,
        /// Where the enqueuing side's shared folder is on this machine.
        #[arg(long, value_name = "DIR")]
        root: Option<PathBuf>,
        /// Seconds before a job held by a silent worker is taken over.
        #[arg(long, default_value_t = 30)]
        visibility: u64,
        /// Deliveries of a job before a retried failure goes to the dead letters.
        #[arg(long, default_value_t = 3)]
        max_deliveries: u64,
        /// Decode every frame: no keyframe cache in memory or on disk.
        #[arg(long, default_value_t = false)]
        no_cache: bool,
    },
    /// Measures of covers: aspect ratio, brightness, HSL saturation, colourfulness, clutter,
    /// dominant colours, faces; with the layout (a batch report, or metadata rendered here) also
    /// text coverage, title contrast, QR size and safe-zone conflicts.
    Analyze {
        /// Cover images, batch reports (.jsonl) or metadata files (.yaml, rendered from the
        /// video beside them).
        #[arg(required = true)]
        inputs: Vec<PathBuf>,
        /// Print JSON.
        #[arg(long, default_value_t = false, conflicts_with = "csv")]
        json: bool,
        /// Print CSV.
        #[arg(long, default_value_t = false)]
        csv: bool,
    },
    /// A/B results of cover variants: per video, CTR per variant with 95 % intervals, the
    /// probability each is best, its expected loss, and a verdict (winner / keep testing / no
    /// difference) with the impressions that would settle it. RESULTS.csv has the columns
    /// video, variant (the utm_content the variant carried), impressions, clicks, and optionally
    /// watch_time (mean seconds per view in the row) and views.
    Ab {
        /// The results file.
        results: PathBuf,
        /// Print JSON.
        #[arg(long, default_value_t = false)]
        json: bool,
        /// Also write a self-contained HTML report with plots and the covers.
        #[arg(long, value_name = "AB.html")]
        report: Option<PathBuf>,
        /// Batch reports (.jsonl) of the variants' covers: their measures give the effects
        /// across videos, their images go into the HTML report.
        #[arg(long, value_name = "REPORT.jsonl")]
        covers: Vec<PathBuf>,
    },
    /// A model of click-through rate learned from a team's past covers: `fit` chooses a learner
    /// by cross-validation and saves it when it beats the constant baseline; `rank` scores new
    /// covers with it and says which measures drove each score.
    Ctr {
        #[command(subcommand)]
        action: CtrAction,
    },
    /// Inspect and manage a Redis stream of jobs.
    Queue {
        #[command(subcommand)]
        action: QueueAction,
    },
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell) on stdout.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff) on stdout: `coverforge man | man -l -`.
    Man,
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
pub struct AnimatedArgs {
    /// Render an animated cover: a clip of SECONDS (0.5–15) around the chosen frame with the
    /// overlays on every frame, written as MP4 (H.264/HEVC, no audio) or animated WebP by the
    /// output's extension. An .mp4 output implies it. [default: the template's, else 3]
    #[arg(long, value_name = "SECONDS", help_heading = "Animated covers")]
    pub animated: Option<f64>,
    /// Video codec for MP4: h264 or hevc. [default: the template's, else h264]
    #[arg(long, value_name = "CODEC", help_heading = "Animated covers")]
    pub video_codec: Option<coverforge::model::clip::VideoCodec>,
    /// Encoder backend: auto (NVENC, then QSV, then VAAPI, then software: the first that opens),
    /// nvenc, qsv, vaapi or software. [default: the template's, else auto]
    #[arg(long, value_name = "BACKEND", help_heading = "Animated covers")]
    pub encoder: Option<coverforge::model::clip::EncoderChoice>,
    /// Preset: fast, medium, slow, or the backend's own (x264: ultrafast…placebo; NVENC: p1…p7;
    /// QSV: veryfast…veryslow). [default: the encoder's]
    #[arg(long, value_name = "PRESET", help_heading = "Animated covers")]
    pub preset: Option<String>,
    /// Constant quality: 0–51 for MP4, lower is better; 0–100 for WebP, higher is better.
    /// [default: 23; WebP 75]
    #[arg(long, value_name = "Q", help_heading = "Animated covers")]
    pub video_quality: Option<u32>,
    /// Bitrate (2M, 800k, ...; 100k–100M): constant, or variable with --maxrate.
    #[arg(long, value_name = "RATE", help_heading = "Animated covers")]
    pub bitrate: Option<String>,
    /// Peak bitrate for variable bitrate (at least --bitrate).
    #[arg(long, value_name = "RATE", help_heading = "Animated covers")]
    pub maxrate: Option<String>,
    /// Keyframe interval in frames (1–600). [default: the encoder's]
    #[arg(long, value_name = "FRAMES", help_heading = "Animated covers")]
    pub gop: Option<u32>,
    /// Frame rate (1–60). [default: the video's, at most 60]
    #[arg(long, value_name = "FPS", help_heading = "Animated covers")]
    pub fps: Option<f64>,
}

impl AnimatedArgs {
    /// The clip settings these flags set (each overrides the template's).
    pub fn settings(&self) -> coverforge::model::clip::EncodeSettings {
        coverforge::model::clip::EncodeSettings {
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
pub struct BatchArgs {
    /// Keep running: after the first pass, watch INPUT, the data folder's templates, fonts and
    /// assets, and --allow-path folders, and render again whatever an edit affects. Stop with
    /// Ctrl-C.
    #[arg(long, default_value_t = false)]
    pub watch: bool,
    /// With --watch: memory for decoded keyframes kept between passes, in MiB.
    #[arg(long, value_name = "MIB", default_value_t = 256)]
    pub frame_memory: u64,
    /// Let a manifest's `output` name a file outside OUTDIR (an absolute path or `../`).
    #[arg(long, default_value_t = false)]
    pub allow_outside_output: bool,
    /// A folder (videos + sidecars) or a manifest (.yaml/.csv).
    pub input: PathBuf,
    /// Folder for the covers (created if missing).
    #[arg(short, long, value_name = "OUTDIR")]
    pub output: PathBuf,
    /// Worker threads. [default: the number of CPUs]
    #[arg(short = 'j', long, value_name = "N")]
    pub jobs: Option<usize>,
    /// Render every cover, even unchanged ones.
    #[arg(long, default_value_t = false)]
    pub force: bool,
    /// Report what would be rendered or skipped; write no covers.
    #[arg(long, default_value_t = false)]
    pub dry_run: bool,
    /// Write one JSON line per job, then a summary line.
    #[arg(long, value_name = "FILE.jsonl")]
    pub report: Option<PathBuf>,
    /// Write an HTML page with a thumbnail, status and error for every cover.
    #[arg(long, value_name = "FILE.html")]
    pub proof: Option<PathBuf>,
    /// Measure every cover as `coverforge analyze` does (aspect, brightness, saturation,
    /// colourfulness, clutter, faces, text coverage, title contrast, QR size, safe zones) into
    /// the report and the proof sheet, which then sorts and filters by them.
    #[arg(long, default_value_t = false)]
    pub measures: bool,
    /// Cover format when the manifest names no output file; mp4 makes animated covers (as does
    /// --animated, with webp then meaning animated WebP).
    #[arg(long, value_enum, default_value_t = BatchFormat::Jpg)]
    pub format: BatchFormat,
    /// JPEG and WebP quality, 1–100.
    #[arg(long, default_value_t = 90, value_parser = clap::value_parser!(u8).range(1..=100))]
    pub quality: u8,
    /// Template name or path for every job. [default: each metadata's `template`]
    #[arg(long, value_name = "NAME|PATH")]
    pub template: Option<String>,
    /// Keyframe cache folder. [default: $XDG_CACHE_HOME/coverforge/keyframes or
    /// ~/.cache/coverforge/keyframes]
    #[arg(long, value_name = "DIR", env = "COVERFORGE_CACHE_DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Keyframe cache size bound in MiB (least recently used frames are evicted).
    #[arg(long, value_name = "MIB", default_value_t = 2048)]
    pub cache_size: u64,
    /// Do not read or write the keyframe cache.
    #[arg(long, default_value_t = false)]
    pub no_cache: bool,
    #[command(flatten)]
    pub animated: AnimatedArgs,
    /// Print only errors: one line per failed job, no progress and no summary.
    #[arg(short, long, default_value_t = false, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Also print one line per job.
    #[arg(short, long, default_value_t = false)]
    pub verbose: bool,
}

/// A positive number of seconds.
fn parse_deadline(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 && v <= 86_400.0 => Ok(v),
        _ => Err(format!("`{s}` is not a number of seconds between 0 and 86400")),
    }
}

/// `coverforge queue …`.
#[derive(Subcommand, Debug)]
pub enum CtrAction {
    /// Fit a model on HISTORY.csv: one row per past cover with `ctr` (or `impressions` and
    /// `clicks`) and its measures (the columns `analyze --csv` writes), or a `file` column naming
    /// the cover to measure.
    Fit {
        /// The history.
        history: PathBuf,
        /// Where to save the model.
        #[arg(long, short = 'o', default_value = "ctr-model.json")]
        model: PathBuf,
        /// Print JSON.
        #[arg(long, default_value_t = false)]
        json: bool,
    },
    /// Score covers before they go out, best first: cover images, batch reports (.jsonl),
    /// metadata files (.yaml, every variant rendered here) or tables of measures (.csv).
    Rank {
        /// The covers.
        #[arg(required = true)]
        inputs: Vec<PathBuf>,
        /// The model `ctr fit` saved.
        #[arg(long, short = 'm', default_value = "ctr-model.json")]
        model: PathBuf,
        /// Print JSON.
        #[arg(long, default_value_t = false)]
        json: bool,
    },
}

/// Where the fleet's jobs are: the Redis server and the stream (every queue command).
#[derive(Debug, clap::Args)]
pub struct QueueArgs {
    /// Redis URL (redis://host:port/db or redis+unix:///path).
    #[arg(long, env = "COVERFORGE_REDIS")]
    pub redis: String,
    /// Stream name.
    #[arg(long, default_value = "covers")]
    pub stream: String,
}

/// `coverforge queue` actions.
#[derive(Debug, Subcommand)]
pub enum QueueAction {
    /// Depth, pending, lag, dead letters, pending per worker.
    Status {
        #[command(flatten)]
        queue: QueueArgs,
        /// Consumer group.
        #[arg(long, default_value = "workers")]
        group: String,
        /// Print JSON.
        #[arg(long, default_value_t = false)]
        json: bool,
    },
    /// Tell every worker of the fleet to reload (templates, fonts, logos, settings), pause,
    /// resume or drain (finish in-flight jobs and exit).
    Control {
        /// What to do.
        command: coverforge::queue::Control,
        #[command(flatten)]
        queue: QueueArgs,
    },
    /// Put every dead letter back on the jobs stream.
    RetryDead {
        #[command(flatten)]
        queue: QueueArgs,
    },
}
