//! `coverforge batch`: many covers, in parallel, incrementally, safe to interrupt.
//!
//! Invariants:
//! - One job's failure never stops the others; it is reported with its input and error.
//! - A cover is skipped when the hash of everything it depends on (video identity, metadata
//!   after defaults, the resolved layout — which captures the template —, the identity of
//!   every font it uses, fallbacks included (file, size, modification time, face: as videos
//!   are identified), the bytes of every image, the output options and the coverforge version)
//!   matches the one recorded when it was last written, and the file is still there.
//! - Covers are written atomically, and their hash only after the cover: killing the process at
//!   any moment loses no finished cover and leaves no partial one; the next run does the rest.
//! - Memory does not grow with the number of jobs: a job holds its own frame and canvas only
//!   while it runs; report lines are streamed to disk; proof thumbnails go to files.

pub mod input;
mod proof;
pub mod watch;

use crate::clock::Mark;
use crate::encode::Format;
use crate::env::Env;
use crate::error::{Error, ErrorKind, ErrorReport};
use crate::files::Durability;
use crate::keyframe::cache::FrameCache;
use crate::layout::doc::{Layer, LayoutDoc};
use crate::metadata::Metadata;
use crate::pipeline::{
    self, Delivery, FrameSource, GpuChoice, Job, OutputKind, OutputPlan, RenderOptions, StageTimes,
};
use input::BatchJob;
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
    /// Only errors: a line per failed job and errors that stop the batch (a quiet batch that
    /// exits 1 still says which inputs failed and why).
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
    /// Device choices for every job.
    pub render: RenderOptions,
    /// Whether a manifest may name outputs outside `outdir`.
    pub allow_outside_output: bool,
    /// Measure every cover (as `coverforge analyze` does) into the report and proof sheet.
    pub measures: bool,
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

/// One line of the report.
#[derive(Debug, Clone, Serialize)]
pub struct JobReport {
    /// The video.
    pub input: PathBuf,
    /// The metadata (file, or manifest and row).
    pub meta: String,
    /// The cover.
    pub output: PathBuf,
    /// The A/B variant, for metadata with `variants:`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    /// What happened.
    pub status: Status,
    /// Why it failed: whose fault (`kind`), the message (`"{input}: {error}"`), and the file,
    /// line and column it points at.
    pub error: Option<ErrorReport>,
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
    /// Faces found in the frame (templates that keep faces clear), in cover pixels.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub faces: Vec<crate::model::Rect>,
    /// Text layers moved to an alternative placement to keep off a face.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub moved_off_faces: Vec<String>,
    /// Why not on the GPU when `--compositor auto` wanted it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compositor_fallback: Option<String>,
    /// Per-stage milliseconds.
    pub ms: StageTimes,
    /// Total milliseconds for the job.
    pub total_ms: f64,
    /// CPU milliseconds of the worker thread on this job (see [`StageTimes`]).
    #[serde(default)]
    pub total_cpu_ms: f64,
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
    /// The cover's measures (with `--measures`), as `coverforge analyze` gives them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub measures: Option<crate::analyze::Measures>,
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
    /// CPU seconds the whole process used meanwhile (every thread, user and system).
    #[serde(default)]
    pub cpu_s: f64,
    /// `cpu_s / wall_s`: how many cores were kept busy on average.
    #[serde(default)]
    pub cores_busy: f64,
    /// Worker threads.
    pub threads: usize,
}

/// Why a batch could not start; [`BatchError::kind`] gives its exit code.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BatchError {
    /// INPUT or OUTDIR cannot be used as asked (not a folder or manifest, a bad option).
    #[error("{0}")]
    Usage(String),
    /// A manifest or `defaults.yaml` is malformed.
    #[error("{0}")]
    Manifest(String),
    /// A manifest or `defaults.yaml` is larger than its limit.
    #[error("{0}")]
    Limit(String),
    /// A file or folder could not be read or written.
    #[error("{}: {what}: {source}", path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// What was being done.
        what: &'static str,
        /// The OS error.
        source: std::io::Error,
    },
    /// The compositor or another device asked for is missing.
    #[error(transparent)]
    Job(#[from] Error),
}

impl BatchError {
    /// Whose fault it is (the CLI's exit code).
    pub fn kind(&self) -> ErrorKind {
        match self {
            BatchError::Usage(_) => ErrorKind::Usage,
            BatchError::Manifest(_) => ErrorKind::Template,
            BatchError::Limit(_) => ErrorKind::Limit,
            BatchError::Io { .. } => ErrorKind::Io,
            BatchError::Job(e) => e.kind(),
        }
    }
}

const STATE_DIR: &str = ".coverforge";

/// Jobs from which a batch builds the word segmenter's full dictionary in the background
/// (layout::words): the build costs ~200 ms of CPU, a title cut without it ~0.1 ms, and a cover
/// has up to three texts to cut; below this, the titles alone cost less.
const FULL_SEGMENTER_JOBS: usize = 1000;

/// Runs a batch over INPUT.
///
/// # Errors
/// [`BatchError`] when INPUT, OUTDIR, the report or the proof sheet cannot be used. Job
/// failures are not errors: they are counted in the [`Summary`] and reported.
pub fn run(input: &Path, opts: &Options, env: &Env) -> Result<Summary, BatchError> {
    let start = Instant::now();
    let cpu_at_start = crate::clock::process_cpu();
    crate::av::keep_freed_memory();
    let ext = match (&opts.animated, opts.animated_webp, opts.format) {
        (Some(_), true, _) => "webp",
        (Some(_), false, _) => "mp4",
        (None, _, Format::Jpeg) => "jpg",
        (None, _, Format::Png) => "png",
        (None, _, Format::Webp) => "webp",
    };
    let batch = input::discover(input, &opts.outdir, ext, &env.limits, opts.allow_outside_output)?;
    let batch = input::expand_variants(batch, &env.limits);
    if batch.jobs.len() >= FULL_SEGMENTER_JOBS {
        crate::layout::words::warm_up();
    }
    let state_dir = opts.outdir.join(STATE_DIR).join("state");
    let thumbs_dir = opts.outdir.join(STATE_DIR).join("proof");
    for d in [&opts.outdir, &state_dir, &thumbs_dir] {
        std::fs::create_dir_all(d).map_err(|source| BatchError::Io {
            path: d.clone(),
            what: "cannot create folder",
            source,
        })?;
    }
    crate::files::remove_stale_temporaries(&opts.outdir);
    let report_file = match &opts.report {
        Some(p) => {
            Some(Mutex::new(std::io::BufWriter::new(std::fs::File::create(p).map_err(|source| {
                BatchError::Io { path: p.clone(), what: "cannot write report", source }
            })?)))
        }
        None => None,
    };
    if let Some(cache) = &opts.cache {
        cache.evict();
    }
    crate::pixels::opencv_single_threaded();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(opts.threads.max(1))
        .build()
        .map_err(|e| BatchError::Usage(format!("cannot start {} worker threads: {e}", opts.threads)))?;

    let progress = Progress::new(batch.jobs.len(), opts.verbosity);
    let counts = Counts::default();
    let rows: Mutex<Vec<(usize, proof::Row)>> = Mutex::new(Vec::new());
    // Whether still covers go to the GPU compositor (it enters their hash); `cuda` where it
    // cannot run stops the batch here rather than failing every job.
    let gpu = pipeline::gpu_compositor(opts.render.compositor, &opts.outdir)? == GpuChoice::Use;
    let committer = Committer::start();
    let ctx = JobContext {
        gpu,
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
    let cpu_s = crate::clock::process_cpu().saturating_sub(cpu_at_start).as_secs_f64();
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
        cpu_s,
        cores_busy: if wall_s > 0.0 { cpu_s / wall_s } else { 0.0 },
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
        proof::write(path, &rows, &summary).map_err(|source| BatchError::Io {
            path: path.clone(),
            what: "cannot write proof sheet",
            source,
        })?;
    }
    Ok(summary)
}

struct JobContext<'a> {
    opts: &'a Options,
    env: &'a Env,
    defaults: Option<&'a serde_yaml_ng::Mapping>,
    state_dir: &'a Path,
    thumbs_dir: &'a Path,
    /// Finished covers on their way to disk (see [`Committer`]).
    committer: &'a Committer,
    /// Whether still covers go to the GPU compositor.
    gpu: bool,
}

/// How long the committer gathers covers after the first of a group, and how many at most.
const GROUP_WINDOW: std::time::Duration = std::time::Duration::from_millis(50);
const GROUP_MAX: usize = 64;

/// Makes finished covers durable off the workers' path: a thread flushes each cover to disk
/// (`fdatasync`) and only then writes its hash, so a hash never vouches for a cover a power cut
/// could still lose, and the workers never wait on the disk (two `fsync`s per cover on the
/// workers cost ~2 ms of every cover; one `syncfs` at the end flushed the whole keyframe cache
/// too). A killed process loses at most the hashes not yet written: those covers are rendered
/// again next time. The hash itself is renamed into place without a flush of its own: one the
/// power cut takes (missing, or empty) only means that cover is rendered again, and the flush
/// was half of the committer's disk work.
///
/// Covers are flushed in groups: those that arrive within [`GROUP_WINDOW`] of the first are
/// each `fdatasync`ed, then their hashes written. On a journalling filesystem a commit made for
/// one flush carries the others' metadata too, so the rest of the group has less to do: the
/// per-cover flush cost the batch ~2 % of its rate on two cores (`bench/ab.sh` against a build
/// without it), and grouping gave 2–4 % of the rate back (two sittings). A kill loses at most
/// the hashes of one group (rendered again next time).
struct Committer {
    sender: Mutex<Option<std::sync::mpsc::Sender<(PathBuf, PathBuf, String)>>>,
    thread: Mutex<Option<std::thread::JoinHandle<Vec<String>>>>,
}

impl Committer {
    fn start() -> Self {
        let (sender, receiver) = std::sync::mpsc::channel::<(PathBuf, PathBuf, String)>();
        let thread = std::thread::spawn(move || {
            let mut errors = Vec::new();
            while let Ok(first) = receiver.recv() {
                let mut group = vec![first];
                let until = Instant::now() + GROUP_WINDOW;
                while group.len() < GROUP_MAX {
                    match receiver.recv_timeout(until.saturating_duration_since(Instant::now())) {
                        Ok(next) => group.push(next),
                        Err(_) => break, // the window closed, or the batch finished
                    }
                }
                // Every flush first, then the hashes: a hash file written between two flushes
                // would give the next one a journal commit of its own again.
                let synced: Vec<_> = group
                    .iter()
                    .map(|(cover, ..)| std::fs::File::open(cover).and_then(|f| f.sync_data()))
                    .collect();
                for ((cover, state, hash), synced) in group.iter().zip(synced) {
                    let result = synced
                        .map_err(|e| format!("{}: cannot flush to disk: {e}", cover.display()))
                        .and_then(|()| {
                            crate::files::write_atomic(state, hash.as_bytes(), Durability::Unsynced)
                                .map_err(|e| e.to_string())
                        });
                    if let Err(e) = result {
                        errors.push(e);
                    }
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

fn run_job(job: &BatchJob, ctx: &JobContext<'_>) -> JobReport {
    let t0 = Mark::now();
    let mut report = JobReport {
        input: job.video.clone(),
        meta: job.meta.label(),
        output: job.output.clone(),
        variant: job.variant.clone(),
        status: Status::Failed,
        error: None,
        frame_time_s: None,
        frame_source: None,
        decoder: None,
        decoder_fallback: None,
        compositor: None,
        compositor_fallback: None,
        faces: Vec::new(),
        moved_off_faces: Vec::new(),
        clip: None,
        ms: StageTimes::default(),
        total_ms: 0.0,
        total_cpu_ms: 0.0,
        output_bytes: None,
        input_hash: None,
        warnings: Vec::new(),
        contrast: Vec::new(),
        findings: Vec::new(),
        measures: None,
        title: None,
    };
    if let Err(e) = render_job(job, ctx, &mut report) {
        report.status = Status::Failed;
        // "{input}: {error}", without repeating the input when the error already names it.
        let (input, message) = (job.video.display().to_string(), e.to_string());
        let message = if message.starts_with(&input) { message } else { format!("{input}: {message}") };
        report.error = Some(ErrorReport::new(&e, message));
    }
    let total = t0.elapsed();
    (report.total_ms, report.total_cpu_ms) = (total.wall_ms, total.cpu_ms);
    report
}

/// Runs one job through the pipeline, with batch's own concerns around it: the hash that lets
/// an unchanged cover be skipped, the keyframe cache, deferred flushing and the proof thumbnail.
fn render_job(job: &BatchJob, ctx: &JobContext<'_>, report: &mut JobReport) -> Result<(), Error> {
    let opts = ctx.opts;
    let env = ctx.env;
    let t0 = Mark::now();
    let kind = match &opts.animated {
        None => OutputKind::Still { quality: opts.quality },
        Some(settings) => OutputKind::Animated(settings.clone()),
    };
    let job = Job {
        video: job.video.clone(),
        meta: job.meta.clone(),
        defaults: ctx.defaults.cloned(),
        template: opts.template.clone(),
        output: job.output.clone(),
        kind,
        variant: job.variant.clone(),
    };
    let _deadline = pipeline::Deadline::start(env);
    let prepared = pipeline::prepare(&job, env)?;
    report.title = Some(prepared.meta.title.clone());
    report.findings = prepared.doc.findings.clone();
    // The layout outlives `finish` only when the cover is to be measured.
    let measured_doc = opts.measures.then(|| prepared.doc.clone());
    // What is written, as it enters the hash: the still format and quality, or the validated
    // clip settings.
    let output_options = match &prepared.output {
        OutputPlan::Still { format, quality } => {
            format!("{format:?}/{quality}/{}", if ctx.gpu { "cuda" } else { "cpu" })
        }
        OutputPlan::Clip(settings) => format!("animated {settings:?} {}", file_name(&job.output)),
    };
    let identity = crate::files::identity(&job.video)
        .map_err(|e| crate::probe::ProbeError::Io { path: job.video.clone(), message: e.to_string() })?;
    let hash = job_hash(&identity, &prepared.meta, &prepared.doc, &output_options, &opts.render, env)?;
    report.input_hash = Some(hash.clone());

    let state = ctx.state_dir.join(format!("{}.hash", file_name(&job.output)));
    if !opts.force && job.output.is_file() && std::fs::read_to_string(&state).is_ok_and(|h| h.trim() == hash)
    {
        report.status = Status::Skipped;
        report.ms.set_layout(t0.elapsed());
        report.output_bytes = std::fs::metadata(&job.output).ok().map(|m| m.len());
        if opts.proof.is_some() {
            proof::ensure_thumbnail(&job.output, ctx.thumbs_dir);
        }
        if let Some(doc) = &measured_doc {
            // Kept from the run that rendered it (with the contrast measured on the frame), or
            // measured from the file now.
            let kept = std::fs::read(measures_path(ctx.state_dir, &job.output))
                .ok()
                .and_then(|b| serde_json::from_slice::<KeptMeasures>(&b).ok())
                .filter(|k| k.hash == hash);
            report.measures = match kept {
                Some(k) => Some(k.measures),
                None => {
                    let facts = crate::analyze::LayoutFacts { doc, title_contrast: None };
                    crate::analyze::measure(&job.output, Some(facts), env)
                        .map_err(|e| report.warnings.push(format!("measures: {e}")))
                        .ok()
                }
            };
        }
        return Ok(());
    }
    if opts.dry_run {
        report.status = Status::Planned;
        report.ms.set_layout(t0.elapsed());
        return Ok(());
    }
    // Everything up to here (metadata, template, layout, hashing the job's inputs) is layout.
    let layout = t0.elapsed();
    let delivery = Delivery {
        cache: opts.cache.as_ref().map(|c| (c, identity.as_str())),
        // Covers are flushed by the committer, off the workers' path.
        durability: Durability::Unsynced,
        keep_canvas: opts.proof.is_some() || opts.measures,
        measure_contrast: opts.measures,
    };
    let result = pipeline::finish(&job, prepared, &opts.render, env, &delivery)?;
    // The hash goes last, once the cover is on disk: a cover without its hash is simply
    // rendered again next time.
    ctx.committer.commit(&job.output, &state, &hash);
    if let (Some(_), Some(canvas)) = (&opts.proof, &result.canvas) {
        proof::write_thumbnail(canvas, &job.output, ctx.thumbs_dir);
    }
    if let Some(doc) = &measured_doc {
        let title_contrast = result.contrast.first().map(|c| c.contrast);
        match &result.canvas {
            Some(canvas) => {
                let facts = crate::analyze::LayoutFacts { doc, title_contrast };
                match crate::analyze::measure_image(canvas, &job.output, Some(facts), env) {
                    Ok(m) => {
                        let kept = KeptMeasures { hash: hash.clone(), measures: m };
                        if let Ok(json) = serde_json::to_vec(&kept) {
                            // Losing this only costs measuring the file on a later skip.
                            let _ = crate::files::write_atomic(
                                &measures_path(ctx.state_dir, &job.output),
                                &json,
                                Durability::Unsynced,
                            );
                        }
                        report.measures = Some(kept.measures);
                    }
                    Err(e) => report.warnings.push(format!("measures: {e}")),
                }
            }
            None => report.warnings.push("measures: only still covers are measured".into()),
        }
    }
    report.status = Status::Ok;
    report.frame_time_s = Some(result.frame_time_s);
    report.frame_source = Some(result.frame_source);
    if result.frame_source == FrameSource::Decode {
        report.decoder = Some(result.decoded_by.decoder);
        report.decoder_fallback = result.decoded_by.fallback;
    }
    report.compositor = Some(result.compositor);
    report.compositor_fallback = result.compositor_fallback;
    report.warnings = result.warnings;
    report.contrast = result.contrast;
    report.faces = result.faces;
    report.moved_off_faces = result.moved_off_faces;
    report.clip = result.clip;
    report.output_bytes = Some(result.output_bytes);
    report.ms = result.times;
    report.ms.set_layout(layout);
    Ok(())
}

/// A cover's measures as its rendering run took them, valid while its hash is.
#[derive(Serialize, serde::Deserialize)]
struct KeptMeasures {
    hash: String,
    measures: crate::analyze::Measures,
}

fn measures_path(state_dir: &Path, output: &Path) -> PathBuf {
    state_dir.join(format!("{}.measures.json", file_name(output)))
}

fn file_name(p: &Path) -> String {
    p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

/// One cover of a proof sheet made outside a batch run (the fleet's `enqueue --wait`).
#[derive(Debug, Clone)]
pub struct ProofCover {
    /// The video and metadata (a variant group's name).
    pub group: String,
    /// The A/B variant.
    pub variant: Option<String>,
    /// The cover file.
    pub output: PathBuf,
    /// Whether it was rendered (or was already done).
    pub ok: bool,
    /// Why not.
    pub error: Option<String>,
}

/// Writes a proof sheet for covers rendered elsewhere, with thumbnails kept in
/// `OUTDIR/.coverforge/proof` as batch keeps them.
///
/// # Errors
/// When the sheet cannot be written.
pub fn write_proof_sheet(path: &Path, outdir: &Path, covers: &[ProofCover]) -> std::io::Result<()> {
    let thumbs = outdir.join(STATE_DIR).join("proof");
    std::fs::create_dir_all(&thumbs)?;
    let rows: Vec<proof::Row> = covers
        .iter()
        .map(|c| {
            let status = if c.ok { Status::Ok } else { Status::Failed };
            proof::Row::for_cover(
                c.group.clone(),
                c.variant.clone(),
                &c.output,
                status,
                c.error.clone(),
                &thumbs,
            )
        })
        .collect();
    let ok = covers.iter().filter(|c| c.ok).count();
    let summary = Summary { total: covers.len(), ok, failed: covers.len() - ok, ..Default::default() };
    proof::write(path, &rows, &summary)
}

/// Hash of everything a cover depends on (see the module docs).
pub(crate) fn job_hash(
    identity: &str,
    meta: &Metadata,
    doc: &LayoutDoc,
    output_options: &str,
    render: &RenderOptions,
    env: &Env,
) -> Result<String, Error> {
    let mut h = blake3::Hasher::new();
    let mut field = |name: &str, bytes: &[u8]| {
        h.update(name.as_bytes());
        h.update(&(bytes.len() as u64).to_le_bytes());
        h.update(bytes);
    };
    field("version", env!("CARGO_PKG_VERSION").as_bytes());
    field("video", identity.as_bytes());
    field("jpeg-encoder", format!("{:?}", render.jpeg_encoder).as_bytes());
    let mut meta_for_hash = meta.clone();
    meta_for_hash.source = PathBuf::new(); // where the values came from does not change the cover
    field("meta", &serde_json::to_vec(&meta_for_hash).expect("metadata serialises"));
    field("layout", &serde_json::to_vec(doc).expect("layouts serialise"));
    field("options", output_options.as_bytes());
    for layer in &doc.layers {
        match layer {
            Layer::Image(l) => field("image", &env.file_hash(&l.src).map_err(asset_error(&l.src))?),
            // The layer's font and the fallbacks its text uses (an emoji font updated by the
            // system renders those covers again): identities, cheap to take.
            Layer::Text(t) => {
                for name in std::iter::once(&t.font).chain(&t.fallback) {
                    let font = env.fonts.get(name).map_err(asset_error(Path::new(name)))?;
                    field("font", font.identity().as_bytes());
                }
            }
            _ => {}
        }
    }
    Ok(h.finalize().to_hex().to_string())
}

/// A font or image the hash could not read, as the compositor would report it.
fn asset_error<E: std::fmt::Display>(path: &Path) -> impl Fn(E) -> Error + '_ {
    move |e| {
        // Some errors name the file already; the report names it once.
        let message = e.to_string();
        let prefix = format!("{}: ", path.display());
        let message = message.strip_prefix(&prefix).map(str::to_owned).unwrap_or(message);
        crate::composite::CompositeError::Asset { path: path.to_owned(), message }.into()
    }
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
        if self.verbosity == Verbosity::Quiet && r.status != Status::Failed {
            return;
        }
        if self.verbosity == Verbosity::Verbose || r.status == Status::Failed {
            let line = match &r.error {
                Some(e) => format!("failed  {}", e.message),
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
        if self.verbosity == Verbosity::Quiet {
            return;
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
