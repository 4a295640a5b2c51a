//! `coverforge batch`: many covers, in parallel, incrementally, safe to interrupt.
//!
//! Invariants:
//! - One job's failure never stops the others; it is reported with its input and error.
//! - A cover is skipped when the hash of everything it depends on (video identity, metadata
//!   after defaults, the resolved layout — which captures the template —, the bytes of every
//!   font and image it uses, the output options and the coverforge version) matches the one
//!   recorded when it was last written, and the file is still there.
//! - Covers are written atomically, and their hash only after the cover: killing the process at
//!   any moment loses no finished cover and leaves no partial one; the next run does the rest.
//! - Memory does not grow with the number of jobs: a job holds its own frame and canvas only
//!   while it runs; report lines are streamed to disk; proof thumbnails go to files.

pub mod frame_cache;
pub mod input;
mod proof;

use crate::encode::{self, Format};
use crate::env::Env;
use crate::error::Error;
use crate::keyframe::{self, Extracted};
use crate::layout::doc::{Layer, LayoutDoc};
use crate::metadata::{self, Metadata};
use crate::pipeline::{self, StageTimes};
use frame_cache::FrameCache;
use input::{BatchJob, MetaSource};
use rayon::prelude::*;
use serde::Serialize;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

/// How chatty a batch is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verbosity {
    /// Nothing but errors that stop the batch.
    Quiet,
    /// A progress bar on a terminal, progress lines otherwise.
    Normal,
    /// Also one line per job.
    Verbose,
}

/// A validated batch plan.
#[derive(Debug, Clone)]
pub struct Options {
    /// Where covers go.
    pub outdir: PathBuf,
    /// Worker threads.
    pub threads: usize,
    /// Render even covers whose hash is unchanged.
    pub force: bool,
    /// Only report what would be done.
    pub dry_run: bool,
    /// JSON-lines report file.
    pub report: Option<PathBuf>,
    /// HTML proof sheet.
    pub proof: Option<PathBuf>,
    /// Output format for covers without an explicit output name.
    pub format: Format,
    /// JPEG/WebP quality.
    pub quality: u8,
    /// Template override for every job.
    pub template: Option<String>,
    /// Animated covers instead of stills: these settings over each template's `animated:` block,
    /// written as MP4 (or animated WebP when `animated_webp`).
    pub animated: Option<crate::animated::EncodeSettings>,
    /// With `animated`, write animated WebP instead of MP4.
    pub animated_webp: bool,
    /// Keyframe cache, if enabled.
    pub cache: Option<FrameCache>,
    /// Output verbosity.
    pub verbosity: Verbosity,
}

/// A job's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Rendered and written.
    Ok,
    /// Failed; see the error.
    Failed,
    /// Unchanged since the last run.
    Skipped,
    /// Would be rendered (dry run).
    Planned,
}

/// Where a job's frame came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FrameSource {
    /// Decoded from the video.
    Decode,
    /// Read from the keyframe cache.
    Cache,
}

/// One line of the report.
#[derive(Debug, Clone, Serialize)]
pub struct JobReport {
    /// The video.
    pub input: PathBuf,
    /// The metadata (file, or manifest and row).
    pub meta: String,
    /// The cover.
    pub output: PathBuf,
    /// What happened.
    pub status: Status,
    /// `"{input}: {error}"` when failed.
    pub error: Option<String>,
    /// Time of the frame used.
    pub frame_time_s: Option<f64>,
    /// Where the frame came from.
    pub frame_source: Option<FrameSource>,
    /// The decoder that made the frame (`cuda`, `vaapi`, `qsv`, `software`), when decoded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decoder: Option<String>,
    /// Why a hardware decoder was not used, when one was wanted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decoder_fallback: Option<String>,
    /// Where the cover was composited (`cpu`, `cuda`), when it was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compositor: Option<String>,
    /// Why not on the GPU when `--compositor auto` wanted it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compositor_fallback: Option<String>,
    /// Per-stage milliseconds.
    pub ms: StageTimes,
    /// Total milliseconds for the job.
    pub total_ms: f64,
    /// Bytes written.
    pub output_bytes: Option<u64>,
    /// Hash of everything the cover depends on.
    pub input_hash: Option<String>,
    /// Warnings.
    pub warnings: Vec<String>,
    /// Colours chosen for `color: auto` text, and the contrast reached.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub contrast: Vec<crate::composite::TextContrast>,
    /// For animated covers: encoder, size, frames, frame rate, clip window.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clip: Option<crate::animated::ClipReport>,
    /// Layout findings, as `coverforge check` reports them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub findings: Vec<crate::layout::doc::Finding>,
    /// The title, for the proof sheet.
    #[serde(skip)]
    pub title: Option<String>,
}

/// Totals of a batch.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    /// Jobs seen.
    pub total: usize,
    /// Rendered.
    pub ok: usize,
    /// Failed.
    pub failed: usize,
    /// Unchanged.
    pub skipped: usize,
    /// Would render (dry run).
    pub planned: usize,
    /// Videos decoded.
    pub decodes: usize,
    /// Frames from the keyframe cache.
    pub cache_hits: usize,
    /// Wall-clock seconds.
    pub wall_s: f64,
    /// Rendered covers per second of wall time.
    pub covers_per_s: f64,
    /// Worker threads.
    pub threads: usize,
}

/// Why a batch could not start (a usage error: exit code 2).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BatchError(pub String);

const STATE_DIR: &str = ".coverforge";

/// Runs a batch over INPUT.
///
/// # Errors
/// [`BatchError`] when INPUT, OUTDIR, the report or the proof sheet cannot be used. Job
/// failures are not errors: they are counted in the [`Summary`] and reported.
pub fn run(input: &Path, opts: &Options, env: &Env) -> Result<Summary, BatchError> {
    let start = Instant::now();
    crate::av::keep_freed_memory();
    let ext = match (&opts.animated, opts.animated_webp, opts.format) {
        (Some(_), true, _) => "webp",
        (Some(_), false, _) => "mp4",
        (None, _, Format::Jpeg) => "jpg",
        (None, _, Format::Png) => "png",
        (None, _, Format::Webp) => "webp",
    };
    let batch = input::discover(input, &opts.outdir, ext).map_err(BatchError)?;
    let state_dir = opts.outdir.join(STATE_DIR).join("state");
    let thumbs_dir = opts.outdir.join(STATE_DIR).join("proof");
    for d in [&opts.outdir, &state_dir, &thumbs_dir] {
        std::fs::create_dir_all(d)
            .map_err(|e| BatchError(format!("{}: cannot create folder: {e}", d.display())))?;
    }
    remove_stale_temporaries(&opts.outdir);
    let report_file = match &opts.report {
        Some(p) => Some(Mutex::new(std::io::BufWriter::new(
            std::fs::File::create(p)
                .map_err(|e| BatchError(format!("{}: cannot write report: {e}", p.display())))?,
        ))),
        None => None,
    };
    if let Some(cache) = &opts.cache {
        cache.evict();
    }
    crate::pixels::opencv_single_threaded();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(opts.threads.max(1))
        .build()
        .map_err(|e| BatchError(format!("cannot start {} worker threads: {e}", opts.threads)))?;

    let progress = Progress::new(batch.jobs.len(), opts.verbosity);
    let counts = Counts::default();
    let rows: Mutex<Vec<(usize, proof::Row)>> = Mutex::new(Vec::new());
    let (gpu, gpu_unavailable) = match pipeline::use_gpu_compositor(env, &opts.outdir) {
        Ok(pipeline::GpuChoice::Use) => (opts.animated.is_none(), None),
        Ok(pipeline::GpuChoice::Skip(why)) => (false, why),
        Err(e) => return Err(BatchError(e.to_string())),
    };
    let committer = Committer::start();
    let ctx = JobContext {
        gpu,
        gpu_unavailable,
        opts,
        env,
        defaults: batch.defaults.as_ref().map(|d| &d.1),
        state_dir: &state_dir,
        thumbs_dir: &thumbs_dir,
        committer: &committer,
    };
    pool.install(|| {
        batch.jobs.par_iter().enumerate().for_each(|(i, job)| {
            let report = run_job(job, &ctx);
            counts.add(&report);
            progress.job_done(&report);
            if let Some(w) = &report_file {
                let mut w = w.lock().expect("report writer poisoned");
                let _ = serde_json::to_writer(&mut *w, &report);
                let _ = w.write_all(b"\n");
                let _ = w.flush();
            }
            if opts.proof.is_some() {
                rows.lock()
                    .expect("proof rows poisoned")
                    .push((i, proof::Row::from_report(&report, &thumbs_dir)));
            }
        });
    });
    progress.finish();
    if let Some(cache) = &opts.cache {
        cache.evict();
    }
    for e in committer.finish() {
        eprintln!("warning: {e}");
    }
    let wall_s = start.elapsed().as_secs_f64();
    let ok = counts.ok.load(Ordering::Relaxed);
    let summary = Summary {
        total: batch.jobs.len(),
        ok,
        failed: counts.failed.load(Ordering::Relaxed),
        skipped: counts.skipped.load(Ordering::Relaxed),
        planned: counts.planned.load(Ordering::Relaxed),
        decodes: counts.decodes.load(Ordering::Relaxed),
        cache_hits: counts.cache_hits.load(Ordering::Relaxed),
        wall_s,
        covers_per_s: if wall_s > 0.0 { ok as f64 / wall_s } else { 0.0 },
        threads: opts.threads.max(1),
    };
    if let Some(w) = &report_file {
        let mut w = w.lock().expect("report writer poisoned");
        let _ = serde_json::to_writer(&mut *w, &serde_json::json!({ "summary": &summary }));
        let _ = w.write_all(b"\n");
        let _ = w.flush();
    }
    if let Some(path) = &opts.proof {
        let mut rows = rows.into_inner().expect("proof rows poisoned");
        rows.sort_by_key(|r| r.0);
        let rows: Vec<proof::Row> = rows.into_iter().map(|r| r.1).collect();
        proof::write(path, &rows, &summary)
            .map_err(|e| BatchError(format!("{}: cannot write proof sheet: {e}", path.display())))?;
    }
    Ok(summary)
}

/// Deletes temporary files a killed run left behind (`write_atomic` names them
/// `.coverforge-*.tmp`); finished covers are never temporaries.
fn remove_stale_temporaries(outdir: &Path) {
    let Ok(entries) = std::fs::read_dir(outdir) else { return };
    for e in entries.flatten() {
        let name = e.file_name();
        let name = name.to_string_lossy();
        if name.starts_with(".coverforge-") && name.ends_with(".tmp") {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

struct JobContext<'a> {
    opts: &'a Options,
    env: &'a Env,
    defaults: Option<&'a serde_yaml_ng::Mapping>,
    state_dir: &'a Path,
    thumbs_dir: &'a Path,
    /// Finished covers on their way to disk (see [`Committer`]).
    committer: &'a Committer,
    /// Whether still covers go to the GPU compositor; else, with `auto`, why not.
    gpu: bool,
    gpu_unavailable: Option<String>,
}

/// Makes finished covers durable off the workers' path: a thread flushes each cover to disk
/// (`fdatasync`) and only then writes its hash, so a hash never vouches for a cover a power cut
/// could still lose, and the workers never wait on the disk (two `fsync`s per cover on the
/// workers cost ~2 ms of every cover; one `syncfs` at the end flushed the whole keyframe cache
/// too). A killed process loses at most the hashes not yet written: those covers are rendered
/// again next time.
struct Committer {
    sender: Mutex<Option<std::sync::mpsc::Sender<(PathBuf, PathBuf, String)>>>,
    thread: Mutex<Option<std::thread::JoinHandle<Vec<String>>>>,
}

impl Committer {
    fn start() -> Self {
        let (sender, receiver) = std::sync::mpsc::channel::<(PathBuf, PathBuf, String)>();
        let thread = std::thread::spawn(move || {
            let mut errors = Vec::new();
            for (cover, state, hash) in receiver {
                let synced = std::fs::File::open(&cover).and_then(|f| f.sync_data());
                let result = synced
                    .map_err(|e| format!("{}: cannot flush to disk: {e}", cover.display()))
                    .and_then(|()| encode::write_atomic(&state, hash.as_bytes()).map_err(|e| e.to_string()));
                if let Err(e) = result {
                    errors.push(e);
                }
            }
            errors
        });
        Committer { sender: Mutex::new(Some(sender)), thread: Mutex::new(Some(thread)) }
    }

    /// Queues `cover` to be flushed and then recorded with `hash` in `state`.
    fn commit(&self, cover: &Path, state: &Path, hash: &str) {
        if let Some(s) = self.sender.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
            let _ = s.send((cover.to_owned(), state.to_owned(), hash.to_owned()));
        }
    }

    /// Waits for every queued cover; returns what could not be made durable.
    fn finish(&self) -> Vec<String> {
        self.sender.lock().unwrap_or_else(|e| e.into_inner()).take();
        let thread = self.thread.lock().unwrap_or_else(|e| e.into_inner()).take();
        thread.map(|t| t.join().unwrap_or_default()).unwrap_or_default()
    }
}

#[derive(Default)]
struct Counts {
    ok: AtomicUsize,
    failed: AtomicUsize,
    skipped: AtomicUsize,
    planned: AtomicUsize,
    decodes: AtomicUsize,
    cache_hits: AtomicUsize,
}

impl Counts {
    fn add(&self, r: &JobReport) {
        let c = match r.status {
            Status::Ok => &self.ok,
            Status::Failed => &self.failed,
            Status::Skipped => &self.skipped,
            Status::Planned => &self.planned,
        };
        c.fetch_add(1, Ordering::Relaxed);
        match r.frame_source {
            Some(FrameSource::Decode) => self.decodes.fetch_add(1, Ordering::Relaxed),
            Some(FrameSource::Cache) => self.cache_hits.fetch_add(1, Ordering::Relaxed),
            None => 0,
        };
    }
}

fn meta_label(m: &MetaSource) -> String {
    match m {
        MetaSource::File(p) => p.display().to_string(),
        MetaSource::Inline { origin, row, .. } => format!("{} (job {row})", origin.display()),
        MetaSource::Invalid(_) => String::new(),
    }
}

fn run_job(job: &BatchJob, ctx: &JobContext<'_>) -> JobReport {
    let t0 = Instant::now();
    let mut report = JobReport {
        input: job.video.clone(),
        meta: meta_label(&job.meta),
        output: job.output.clone(),
        status: Status::Failed,
        error: None,
        frame_time_s: None,
        frame_source: None,
        decoder: None,
        decoder_fallback: None,
        compositor: None,
        compositor_fallback: None,
        clip: None,
        ms: StageTimes::default(),
        total_ms: 0.0,
        output_bytes: None,
        input_hash: None,
        warnings: Vec::new(),
        contrast: Vec::new(),
        findings: Vec::new(),
        title: None,
    };
    if let Err(e) = render_job(job, ctx, &mut report) {
        report.status = Status::Failed;
        // "{input}: {error}", without repeating the input when the error already names it.
        let input = job.video.display().to_string();
        report.error = Some(if e.starts_with(&input) { e } else { format!("{input}: {e}") });
    }
    report.total_ms = t0.elapsed().as_secs_f64() * 1000.0;
    report
}

/// Renders one job, filling `report` as it goes.
fn render_job(job: &BatchJob, ctx: &JobContext<'_>, report: &mut JobReport) -> Result<(), String> {
    let opts = ctx.opts;
    let env = ctx.env;
    let t0 = Instant::now();
    let meta = load_meta(job, ctx.defaults, env).map_err(|e| e.to_string())?;
    report.title = Some(meta.title.clone());
    let doc =
        pipeline::layout_for_metadata(&meta, opts.template.as_deref(), env).map_err(|e| e.to_string())?;
    report.findings = doc.findings.clone();
    // What is written, as it enters the hash: the still format and quality, or the validated
    // clip settings.
    let output = match &opts.animated {
        None => Output::Still(Format::from_path(&job.output).map_err(|e| e.to_string())?),
        Some(over) => {
            Output::Clip(pipeline::animated_settings(&doc, over, &job.output).map_err(|e| e.to_string())?)
        }
    };
    let output_options = match &output {
        Output::Still(format) => {
            format!("{format:?}/{}/{}", opts.quality, if ctx.gpu { "cuda" } else { "cpu" })
        }
        Output::Clip(settings) => format!("animated {settings:?} {}", file_name(&job.output)),
    };
    let identity = frame_cache::video_identity(&job.video).map_err(|e| format!("cannot read video: {e}"))?;
    let hash = job_hash(&identity, &meta, &doc, &output_options, env)?;
    report.input_hash = Some(hash.clone());
    report.ms.layout_ms = ms_since(t0);

    let state = ctx.state_dir.join(format!("{}.hash", file_name(&job.output)));
    if !opts.force && job.output.is_file() && std::fs::read_to_string(&state).is_ok_and(|h| h.trim() == hash)
    {
        report.status = Status::Skipped;
        report.output_bytes = std::fs::metadata(&job.output).ok().map(|m| m.len());
        if opts.proof.is_some() {
            proof::ensure_thumbnail(&job.output, ctx.thumbs_dir);
        }
        return Ok(());
    }
    if opts.dry_run {
        report.status = Status::Planned;
        return Ok(());
    }

    if let (true, Output::Still(format)) = (ctx.gpu, &output) {
        match still_on_gpu(job, ctx, report, &meta, &doc, &identity, *format) {
            Ok(()) => {
                ctx.committer.commit(&job.output, &state, &hash);
                return Ok(());
            }
            Err(e) if env.compositor == crate::accel::Compositor::Auto && pipeline::is_gpu_failure(&e) => {
                report.compositor_fallback = Some(format!("{e}; composited on the CPU"));
            }
            Err(e) => return Err(e.to_string()),
        }
    }
    if report.compositor_fallback.is_none() {
        report.compositor_fallback = ctx.gpu_unavailable.clone();
    }

    let t1 = Instant::now();
    let extracted = frame(&job.video, &identity, &meta, &doc, env, opts.cache.as_ref(), report)
        .map_err(|e| e.to_string())?;
    report.ms.decode_ms = ms_since(t1);
    report.frame_time_s = Some(extracted.frame.time_s);
    report.warnings = extracted.warnings.clone();

    let format = match output {
        Output::Still(format) => format,
        Output::Clip(settings) => {
            animate_job(job, ctx, report, extracted, &doc, &settings)?;
            ctx.committer.commit(&job.output, &state, &hash);
            report.status = Status::Ok;
            return Ok(());
        }
    };
    let t2 = Instant::now();
    report.compositor = Some("cpu".into());
    let (canvas, contrast) =
        crate::composite::composite_with_report(&extracted.frame.image, &doc, env, false)
            .map_err(|e| e.to_string())?;
    report.contrast = contrast.contrast;
    report.ms.composite_ms = ms_since(t2);
    let t3 = Instant::now();
    let bytes = encode::encode_with(&canvas, format, opts.quality, &job.output, env.jpeg_encoder)
        .map_err(|e| e.to_string())?;
    encode::write_atomic_unsynced(&job.output, &bytes).map_err(|e| e.to_string())?;
    // The hash goes last, once the cover is on disk: a cover without its hash is simply
    // rendered again next time.
    ctx.committer.commit(&job.output, &state, &hash);
    if opts.proof.is_some() {
        proof::write_thumbnail(&canvas, &job.output, ctx.thumbs_dir);
    }
    report.ms.encode_ms = ms_since(t3);
    report.output_bytes = Some(bytes.len() as u64);
    report.status = Status::Ok;
    Ok(())
}

/// The still-cover end of [`render_job`] on the GPU compositor: the keyframe (from the cache,
/// else decoded and, on NVDEC, kept on the GPU), composited and encoded there, then written.
fn still_on_gpu(
    job: &BatchJob,
    ctx: &JobContext<'_>,
    report: &mut JobReport,
    meta: &Metadata,
    doc: &LayoutDoc,
    identity: &str,
    format: Format,
) -> Result<(), Error> {
    let (opts, env) = (ctx.opts, ctx.env);
    let t1 = Instant::now();
    let extracted = match &opts.cache {
        // The cache stores frames in system memory: a frame decoded for it is downloaded anyway.
        Some(cache) => {
            keyframe::ExtractedKept::from(frame(&job.video, identity, meta, doc, env, Some(cache), report)?)
        }
        None => {
            let e = pipeline::keyframe_for_gpu(&job.video, meta, doc, env)?;
            report.frame_source = Some(FrameSource::Decode);
            report.decoder = Some(e.decoded_by.decoder.clone());
            report.decoder_fallback = e.decoded_by.fallback.clone();
            e
        }
    };
    report.ms.decode_ms = ms_since(t1);
    report.frame_time_s = Some(extracted.time_s);
    report.warnings = extracted.warnings.clone();
    let pixels = extracted.pixels.as_frame();
    let still =
        pipeline::still_on_gpu(pixels, doc, env, (format, opts.quality, &job.output), opts.proof.is_some())?;
    report.compositor = Some("cuda".into());
    report.contrast = still.report.contrast;
    report.ms.composite_ms = still.composite_ms;
    let t3 = Instant::now();
    encode::write_atomic_unsynced(&job.output, &still.bytes)?;
    if let (Some(_), Some(image)) = (&opts.proof, &still.image) {
        proof::write_thumbnail(image, &job.output, ctx.thumbs_dir);
    }
    report.ms.encode_ms = still.encode_ms + ms_since(t3);
    report.output_bytes = Some(still.bytes.len() as u64);
    report.status = Status::Ok;
    Ok(())
}

/// What a job writes: a still cover in a format, or a clip with validated settings.
enum Output {
    Still(Format),
    Clip(crate::animated::Settings),
}

/// The animated-cover end of [`render_job`]: the clip around the frame and its report fields.
fn animate_job(
    job: &BatchJob,
    ctx: &JobContext<'_>,
    report: &mut JobReport,
    extracted: Extracted,
    doc: &LayoutDoc,
    settings: &crate::animated::Settings,
) -> Result<(), String> {
    let (result, cover) = pipeline::animate(&job.video, extracted, doc, settings, &job.output, ctx.env)
        .map_err(|e| e.to_string())?;
    report.ms.composite_ms = result.times.keyframe_ms;
    report.ms.encode_ms = result.times.clip_ms;
    report.contrast = result.contrast;
    report.output_bytes = Some(result.output_bytes);
    report.clip = Some(result.clip);
    if ctx.opts.proof.is_some() {
        proof::write_thumbnail(&cover, &job.output, ctx.thumbs_dir);
    }
    Ok(())
}

fn ms_since(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1000.0
}

fn file_name(p: &Path) -> String {
    p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

fn load_meta(
    job: &BatchJob,
    defaults: Option<&serde_yaml_ng::Mapping>,
    env: &Env,
) -> Result<Metadata, Error> {
    match &job.meta {
        MetaSource::Invalid(msg) => Err(Error::from(crate::error::Diagnostics::from(
            crate::error::Diagnostic::new(job.video.clone(), msg.clone()),
        ))),
        MetaSource::File(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| {
                crate::error::Diagnostics::from(crate::error::Diagnostic::new(
                    path,
                    format!("cannot read metadata: {e}"),
                ))
            })?;
            Ok(metadata::parse_with_defaults(&text, path, defaults, &env.limits)?)
        }
        MetaSource::Inline { origin, row, yaml } => {
            // Messages name the manifest and row; relative paths resolve against its folder.
            let label = origin.with_file_name(format!("{}#job{row}", file_name(origin)));
            Ok(metadata::parse_with_defaults(yaml, &label, defaults, &env.limits)?)
        }
    }
}

/// The keyframe, from the cache when it has it.
fn frame(
    video: &Path,
    identity: &str,
    meta: &Metadata,
    doc: &LayoutDoc,
    env: &Env,
    cache: Option<&FrameCache>,
    report: &mut JobReport,
) -> Result<Extracted, Error> {
    let regions = keyframe::TextRegions::of_layout(doc, &env.face_model());
    let key = FrameCache::key(identity, meta.frame, regions.as_ref());
    if let Some(hit) = cache.and_then(|c| c.get(&key)) {
        report.frame_source = Some(FrameSource::Cache);
        return Ok(hit);
    }
    let extracted =
        keyframe::extract_for_layout(video, meta.frame, &env.limits, regions.as_ref(), env.hwaccel)?;
    report.frame_source = Some(FrameSource::Decode);
    report.decoder = Some(extracted.frame.decoded_by.decoder.clone());
    report.decoder_fallback = extracted.frame.decoded_by.fallback.clone();
    if let Some(c) = cache {
        c.put(&key, &extracted);
    }
    Ok(extracted)
}

/// Hash of everything a cover depends on (see the module docs).
fn job_hash(
    identity: &str,
    meta: &Metadata,
    doc: &LayoutDoc,
    output_options: &str,
    env: &Env,
) -> Result<String, String> {
    let mut h = blake3::Hasher::new();
    let mut field = |name: &str, bytes: &[u8]| {
        h.update(name.as_bytes());
        h.update(&(bytes.len() as u64).to_le_bytes());
        h.update(bytes);
    };
    field("version", env!("CARGO_PKG_VERSION").as_bytes());
    field("video", identity.as_bytes());
    field("jpeg-encoder", format!("{:?}", env.jpeg_encoder).as_bytes());
    let mut meta_for_hash = meta.clone();
    meta_for_hash.source = PathBuf::new(); // where the values came from does not change the cover
    field("meta", &serde_json::to_vec(&meta_for_hash).map_err(|e| e.to_string())?);
    field("layout", &serde_json::to_vec(doc).map_err(|e| e.to_string())?);
    field("options", output_options.as_bytes());
    for layer in &doc.layers {
        match layer {
            Layer::Image(l) => field("image", &env.file_hash(&l.src)?),
            Layer::Text(t) => {
                let path = env.fonts.path(&t.font)?;
                field("font", &env.file_hash(&path)?)
            }
            _ => {}
        }
    }
    Ok(h.finalize().to_hex().to_string())
}

/// Progress on stderr: a bar on a terminal, lines otherwise.
struct Progress {
    bar: Option<indicatif::ProgressBar>,
    verbosity: Verbosity,
    total: usize,
    done: AtomicUsize,
    failed: AtomicUsize,
    start: Instant,
    last_line: Mutex<Instant>,
}

impl Progress {
    fn new(total: usize, verbosity: Verbosity) -> Self {
        use std::io::IsTerminal;
        let bar = (verbosity != Verbosity::Quiet && std::io::stderr().is_terminal()).then(|| {
            let bar = indicatif::ProgressBar::new(total as u64);
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{bar:40.cyan/blue} {pos}/{len} covers  {per_sec}  ETA {eta}  {msg}",
                )
                .expect("valid template"),
            );
            bar
        });
        Progress {
            bar,
            verbosity,
            total,
            done: AtomicUsize::new(0),
            failed: AtomicUsize::new(0),
            start: Instant::now(),
            last_line: Mutex::new(Instant::now()),
        }
    }

    fn job_done(&self, r: &JobReport) {
        let done = self.done.fetch_add(1, Ordering::Relaxed) + 1;
        let failed = self.failed.fetch_add(usize::from(r.status == Status::Failed), Ordering::Relaxed)
            + usize::from(r.status == Status::Failed);
        if self.verbosity == Verbosity::Quiet {
            return;
        }
        if self.verbosity == Verbosity::Verbose || r.status == Status::Failed {
            let line = match &r.error {
                Some(e) => format!("failed  {}", e),
                None => format!(
                    "{:<7} {} ({:.0} ms)",
                    format!("{:?}", r.status).to_lowercase(),
                    r.output.display(),
                    r.total_ms
                ),
            };
            match &self.bar {
                Some(bar) => bar.println(line),
                None => eprintln!("{line}"),
            }
        }
        if let Some(bar) = &self.bar {
            bar.set_position(done as u64);
            if failed > 0 {
                bar.set_message(format!("{failed} failed"));
            }
            return;
        }
        // Plain lines: about every two seconds, and at the end.
        let mut last = self.last_line.lock().expect("progress poisoned");
        if done == self.total || last.elapsed().as_secs_f64() >= 2.0 {
            *last = Instant::now();
            let elapsed = self.start.elapsed().as_secs_f64();
            let rate = done as f64 / elapsed.max(1e-9);
            let eta = (self.total - done) as f64 / rate.max(1e-9);
            eprintln!(
                "batch: {done}/{} done, {failed} failed, {rate:.1} covers/s, ETA {eta:.0} s",
                self.total
            );
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish();
        }
    }
}
