//! One cover job, end to end: metadata → template → layout → keyframe → composite → encode.
//!
//! This is the only place that strings the stages together. Every caller (`render`, `batch`,
//! `check`, and later the preview server and queue workers) runs a [`Job`] through it and wraps
//! the call with its own concerns (hashing and skipping, reporting, watching, acknowledging).
//!
//! A job runs in two steps so callers can act between them: [`prepare`] does the cheap checks
//! (metadata, template, layout, the output's format or clip settings) before the video is
//! opened, so a typo costs milliseconds, not a decode; [`finish`] takes the frame, composites and
//! encodes. Where the frame comes from (a decode, or a keyframe cache) and where the canvas
//! lives (system memory, or kept on the GPU) are choices inside [`finish`], not copies of it.
//! [`inspect`] runs the same stages and stops before the encoder (`coverforge check`).

use crate::clock::{Elapsed, Mark};
use crate::composite::{self, CompositeReport, CoverPlate, TextContrast};
use crate::encode::{self, EncodeError, Format};
use crate::env::Env;
use crate::error::Error;
use crate::files::{self, Durability};
use crate::keyframe::{self, cache::FrameCache, Extracted, FrameScore};
use crate::layout::{self, doc::LayoutDoc};
use crate::metadata::{self, MetaSource, Metadata};
use crate::model::clip::{self, ClipReport};
use crate::model::{Compositor, DecodedBy, HwAccel, JpegEncoder, MediaInfo, Rect};
use crate::pixels::Image;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// What a job writes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutputKind {
    /// A still cover; the format follows the output's extension (`.jpg`, `.png`, `.webp`).
    Still {
        /// JPEG and WebP quality, 1–100 (PNG ignores it).
        quality: u8,
    },
    /// An animated cover: these settings over the template's `animated:` block; MP4, or an
    /// animated WebP for a `.webp` output.
    Animated(clip::EncodeSettings),
}

/// One cover to make: a plain value a queue or a web page can carry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    /// The video.
    pub video: PathBuf,
    /// Its metadata.
    pub meta: MetaSource,
    /// Values every job of a folder or manifest shares (`defaults.yaml`), under the metadata.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub defaults: Option<serde_yaml_ng::Mapping>,
    /// Template name or path; overrides the metadata's `template`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<String>,
    /// The file to write.
    pub output: PathBuf,
    /// Still or animated, and how.
    pub kind: OutputKind,
    /// Which A/B variant of the metadata to render, when it has `variants:` (see
    /// [`variant_output`] for where each goes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

/// Where a variant's cover goes: `OUT.<id>.ext` beside `OUT.ext`.
pub fn variant_output(output: &Path, id: &str) -> PathBuf {
    let stem = output.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    match output.extension() {
        Some(ext) => output.with_file_name(format!("{stem}.{id}.{}", ext.to_string_lossy())),
        None => output.with_file_name(format!("{stem}.{id}")),
    }
}

/// The variants of a job's metadata, by id (empty when it has none): what a caller expands a
/// job into, one [`Job::variant`] each.
///
/// # Errors
/// Metadata errors, as [`prepare`] would report them.
pub fn variant_ids(job: &Job, env: &Env) -> Result<Vec<String>, Error> {
    let all = metadata::load_variants(&job.meta, &job.video, job.defaults.as_ref(), &env.limits)?;
    Ok(all.into_iter().filter_map(|m| m.variant).collect())
}

/// The metadata `variant` names among `all` (the file itself when it has no variants).
fn pick_variant(all: Vec<Metadata>, variant: Option<&str>) -> Result<Metadata, Error> {
    let ids = || all.iter().filter_map(|m| m.variant.clone()).collect::<Vec<_>>().join(", ");
    let source = all.first().map(|m| m.source.clone()).unwrap_or_default();
    let err = |message: String| -> Error {
        layout::LayoutError::from(crate::model::Diagnostics::from(crate::model::Diagnostic::new(
            &source, message,
        )))
        .into()
    };
    match variant {
        None if all.len() == 1 && all[0].variant.is_none() => Ok(all.into_iter().next().expect("one")),
        None => Err(err(format!("has variants ({}): render them all, or pick one", ids()))),
        Some(id) => {
            let list = ids();
            all.into_iter().find(|m| m.variant.as_deref() == Some(id)).ok_or_else(|| {
                err(format!(
                    "no variant `{id}` (variants: {})",
                    if list.is_empty() { "none".into() } else { list }
                ))
            })
        }
    }
}

/// How jobs run on this machine: the device choices of the command line or a batch plan, the
/// same for every job of a run. Defaults: `auto` decoding, `auto` JPEG encoder, CPU compositor.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RenderOptions {
    /// Which device decodes keyframes.
    pub hwaccel: HwAccel,
    /// Which encoder writes still JPEG covers.
    pub jpeg_encoder: JpegEncoder,
    /// Where still covers are composited.
    pub compositor: Compositor,
    /// The cap on hardware encoder sessions the jobs share (a machine's resource, not sent
    /// along with a job: a deserialized job gets the process's default cap).
    #[serde(skip)]
    pub hw_sessions: crate::animated::HwSessions,
}

/// Milliseconds spent in each stage: wall-clock (`*_ms`) and CPU time of the thread that ran the
/// job (`*_cpu_ms`). Work a job hands to other threads or devices (the GPU; an animated cover's
/// encoder threads) is not in its CPU figures, so wall time well above CPU time is waiting.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct StageTimes {
    /// Metadata + template + layout.
    pub layout_ms: f64,
    /// Probe + seek + keyframe decode (+ scoring for `auto`), or a cache read.
    pub decode_ms: f64,
    /// Background + layers (for animated covers: freezing the overlays on the chosen frame).
    pub composite_ms: f64,
    /// Encode + write (for animated covers: the whole clip).
    pub encode_ms: f64,
    /// CPU time of the layout stage.
    #[serde(default)]
    pub layout_cpu_ms: f64,
    /// CPU time of the decode stage.
    #[serde(default)]
    pub decode_cpu_ms: f64,
    /// CPU time of the composite stage.
    #[serde(default)]
    pub composite_cpu_ms: f64,
    /// CPU time of the encode stage.
    #[serde(default)]
    pub encode_cpu_ms: f64,
}

impl StageTimes {
    /// Sets the layout stage's times.
    pub fn set_layout(&mut self, layout: Elapsed) {
        (self.layout_ms, self.layout_cpu_ms) = (layout.wall_ms, layout.cpu_ms);
    }

    /// The stages of a job whose layout took `layout` and whose decode, composite and encode
    /// stages ran between the four marks.
    fn of(layout: Elapsed, [t1, t2, t3, t4]: [Mark; 4]) -> Self {
        let (decode, composite, encode) = (t1.to(t2), t2.to(t3), t3.to(t4));
        StageTimes {
            layout_ms: layout.wall_ms,
            decode_ms: decode.wall_ms,
            composite_ms: composite.wall_ms,
            encode_ms: encode.wall_ms,
            layout_cpu_ms: layout.cpu_ms,
            decode_cpu_ms: decode.cpu_ms,
            composite_cpu_ms: composite.cpu_ms,
            encode_cpu_ms: encode.cpu_ms,
        }
    }
}

/// Where a job's frame came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FrameSource {
    /// Decoded from the video.
    Decode,
    /// Read from the keyframe cache.
    Cache,
}

/// What a finished job produced.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JobResult {
    /// The A/B variant, for metadata with `variants:`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    /// The video's facts.
    pub media: MediaInfo,
    /// Time of the frame used, seconds (for animated covers, the frame the clip centres on).
    pub frame_time_s: f64,
    /// Its score when chosen by `auto`.
    pub frame_score: Option<FrameScore>,
    /// Where the frame came from.
    pub frame_source: FrameSource,
    /// The file written.
    pub output: PathBuf,
    /// Cover width in pixels.
    pub width: u32,
    /// Cover height in pixels.
    pub height: u32,
    /// The template used.
    pub template: String,
    /// Bytes written.
    pub output_bytes: u64,
    /// Warnings (e.g. a clamped frame time).
    pub warnings: Vec<String>,
    /// Colours chosen for `color: auto` text, and the contrast reached.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub contrast: Vec<TextContrast>,
    /// Faces found in the frame (templates with `faces: true`), in cover pixels.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub faces: Vec<Rect>,
    /// Text layers moved to an alternative placement to keep off a face.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub moved_off_faces: Vec<String>,
    /// The decoder that made the frame, and why not hardware when it was wanted.
    pub decoded_by: DecodedBy,
    /// Where the cover was composited (`cpu` or `cuda`).
    pub compositor: String,
    /// Why not on the GPU when `--compositor auto` wanted it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compositor_fallback: Option<String>,
    /// For animated covers: encoder, size, frames, frame rate, clip window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clip: Option<ClipReport>,
    /// Per-stage times.
    pub times: StageTimes,
    /// The canvas in system memory, when [`Delivery::keep_canvas`] asked for it (proof sheets,
    /// previews); for animated covers, the still cover of the chosen frame.
    #[serde(skip)]
    pub canvas: Option<Image>,
}

/// How a job's output is delivered, beyond the file itself.
#[derive(Debug, Clone, Copy)]
pub struct Delivery<'a> {
    /// A keyframe cache to read the frame from and store a decoded one in, with the video's
    /// identity ([`crate::files::identity`]).
    pub cache: Option<(&'a FrameCache, &'a str)>,
    /// Whether the cover is flushed to disk before it is renamed into place.
    pub durability: Durability,
    /// Keep the canvas in [`JobResult::canvas`].
    pub keep_canvas: bool,
    /// Measure every text layer's contrast on the frame, as `check` does, not only `color:
    /// auto` ones (for the cover measures of `batch --measures`; CPU compositor).
    pub measure_contrast: bool,
}

impl Default for Delivery<'_> {
    /// No cache, flushed to disk, no canvas kept: what `coverforge render` does.
    fn default() -> Self {
        Delivery { cache: None, durability: Durability::Synced, keep_canvas: false, measure_contrast: false }
    }
}

/// What a job will write, validated.
#[derive(Debug, Clone, PartialEq)]
pub enum OutputPlan {
    /// A still cover.
    Still {
        /// By the output's extension.
        format: Format,
        /// 1–100.
        quality: u8,
    },
    /// An animated cover with these settings.
    Clip(clip::Settings),
}

/// A job after its cheap checks.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// The metadata, with defaults applied.
    pub meta: Metadata,
    /// The resolved layout.
    pub doc: LayoutDoc,
    /// The template file it came from.
    pub template_path: PathBuf,
    /// What will be written.
    pub output: OutputPlan,
    /// How long these checks took.
    pub layout: Elapsed,
}

/// Runs one job: [`prepare`], then [`finish`] without cache, flushed to disk.
///
/// # Errors
/// Any stage's error; nothing is written unless every stage succeeded.
pub fn run(job: &Job, opts: &RenderOptions, env: &Env) -> Result<JobResult, Error> {
    let _deadline = Deadline::start(env);
    let prepared = prepare(job, env)?;
    finish(job, prepared, opts, env, &Delivery::default())
}

/// A job's deadline (`Limits::deadline_s`), for the thread that runs it: FFmpeg's blocking calls
/// stop once it passes and the stages check it between them, failing with [`Error::Deadline`].
/// Hold it for the length of the job ([`run`] does; callers of [`prepare`] and [`finish`] start
/// their own).
pub struct Deadline {
    _guard: crate::av::DeadlineGuard,
}

impl Deadline {
    /// Starts the clock.
    pub fn start(env: &Env) -> Self {
        Deadline { _guard: crate::av::start_deadline(env.limits.deadline_s) }
    }
}

/// [`Error::Deadline`] when this thread's job deadline has passed.
fn check_deadline(video: &Path) -> Result<(), Error> {
    match crate::av::deadline_passed() {
        Some(seconds) => Err(Error::Deadline { path: video.to_owned(), seconds }),
        None => Ok(()),
    }
}

/// An error from a stage cut short by the deadline is reported as the deadline.
fn or_deadline(e: Error, video: &Path) -> Error {
    match crate::av::deadline_passed() {
        Some(seconds) if !matches!(e, Error::Deadline { .. }) => {
            Error::Deadline { path: video.to_owned(), seconds }
        }
        _ => e,
    }
}

/// The cheap checks of a job, before its video is opened: the output's format and quality (or
/// its clip settings, from the template's `animated:` block and the job's), the metadata, the
/// template and the layout.
///
/// # Errors
/// Output, metadata, template and layout errors.
pub fn prepare(job: &Job, env: &Env) -> Result<Prepared, Error> {
    let t0 = Mark::now();
    let still = match &job.kind {
        OutputKind::Still { quality } => {
            let format = Format::from_path(&job.output)?;
            if !(1..=100).contains(quality) {
                return Err(EncodeError::Quality(*quality).into());
            }
            Some((format, *quality))
        }
        OutputKind::Animated(_) => None,
    };
    let all = metadata::load_variants(&job.meta, &job.video, job.defaults.as_ref(), &env.limits)?;
    let meta = pick_variant(all, job.variant.as_deref())?;
    let (template_path, doc) = layout::for_metadata(&meta, job.template.as_deref(), env)?;
    let output = match (&job.kind, still) {
        (OutputKind::Animated(over), _) => OutputPlan::Clip(clip_settings(&doc, over, &job.output)?),
        (_, Some((format, quality))) => OutputPlan::Still { format, quality },
        (OutputKind::Still { .. }, None) => unreachable!("still outputs are checked above"),
    };
    Ok(Prepared { meta, doc, template_path, output, layout: t0.elapsed() })
}

/// The metadata of a file and its resolved layout: the first half of [`prepare`], for callers
/// that need no video (`coverforge layout`, tests, previews of a layout).
///
/// # Errors
/// Metadata, template and layout errors.
pub fn layout_for(
    meta_path: &Path,
    template: Option<&str>,
    env: &Env,
) -> Result<(Metadata, LayoutDoc), Error> {
    let meta = metadata::load(meta_path, &env.limits)?;
    let (_, doc) = layout::for_metadata(&meta, template, env)?;
    Ok((meta, doc))
}

/// As [`layout_for`], for every A/B variant of the file (one entry when it has none).
///
/// # Errors
/// Metadata errors for the file; the first variant's template and layout errors.
pub fn layouts_for(
    meta_path: &Path,
    template: Option<&str>,
    env: &Env,
) -> Result<Vec<(Metadata, LayoutDoc)>, Error> {
    let text = crate::files::read_text_bounded(meta_path, env.limits.max_metadata_bytes, "metadata file")
        .map_err(|e| {
            layout::LayoutError::from(crate::model::Diagnostics::from(metadata::read_diagnostic(&e)))
        })?;
    let all = metadata::parse_variants(&text, meta_path, None, &env.limits)?;
    all.into_iter()
        .map(|meta| {
            let (_, doc) = layout::for_metadata(&meta, template, env)?;
            Ok((meta, doc))
        })
        .collect()
}

/// The template's `animated:` settings overridden by `over`, validated (WebP allows quality up
/// to 100). Problems name where they came from: the command line or the template.
///
/// # Errors
/// [`crate::animated::AnimatedError::Settings`] listing every problem.
pub fn clip_settings(
    doc: &LayoutDoc,
    over: &clip::EncodeSettings,
    output: &Path,
) -> Result<clip::Settings, Error> {
    use crate::animated::AnimatedError;
    let webp = output.extension().is_some_and(|e| e.eq_ignore_ascii_case("webp"));
    over.validate(webp)
        .map_err(|problems| AnimatedError::Settings { origin: "command line".into(), problems })?;
    let settings =
        doc.animated.clone().unwrap_or_default().overridden_by(over).validate(webp).map_err(|problems| {
            AnimatedError::Settings { origin: format!("template {}", doc.template), problems }
        })?;
    Ok(settings)
}

/// Takes the frame, composites the cover and writes it (see the module docs).
///
/// # Errors
/// Any stage's error; nothing is written unless every stage succeeded.
pub fn finish(
    job: &Job,
    prepared: Prepared,
    opts: &RenderOptions,
    env: &Env,
    delivery: &Delivery<'_>,
) -> Result<JobResult, Error> {
    check_deadline(&job.video)?;
    finish_stages(job, prepared, opts, env, delivery).map_err(|e| or_deadline(e, &job.video))
}

fn finish_stages(
    job: &Job,
    prepared: Prepared,
    opts: &RenderOptions,
    env: &Env,
    delivery: &Delivery<'_>,
) -> Result<JobResult, Error> {
    match prepared.output.clone() {
        OutputPlan::Clip(settings) => animate(job, &prepared, &settings, opts, env, delivery),
        OutputPlan::Still { format, quality } => {
            let fallback = match gpu_compositor(opts.compositor, &job.output)? {
                GpuChoice::Use => {
                    match still_on_gpu(job, &prepared, (format, quality), opts, env, delivery) {
                        Ok(result) => return Ok(result),
                        Err(e) if opts.compositor == Compositor::Auto && is_gpu_failure(&e) => {
                            Some(format!("{e}; composited on the CPU"))
                        }
                        Err(e) => return Err(e),
                    }
                }
                GpuChoice::Skip(why) => why,
            };
            still_on_cpu(job, &prepared, (format, quality), opts, env, delivery, fallback)
        }
    }
}

/// The stages of a job up to the composite, measuring every text layer's contrast, without
/// encoding or writing anything (`coverforge check`).
///
/// # Errors
/// Keyframe and compositing errors.
pub fn inspect(
    video: &Path,
    prepared: &Prepared,
    opts: &RenderOptions,
    env: &Env,
) -> Result<(Image, CompositeReport), Error> {
    let (extracted, _) = frame(video, prepared, opts, env, None, FrameShape::FittedWhereItCan)?;
    let faces = extracted.faces.as_deref();
    Ok(composite::composite_frame(extracted.frame.pixels, faces, &prepared.doc, env, true)?)
}

/// Whether a job's still cover goes to the GPU compositor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GpuChoice {
    /// Composite on the GPU.
    Use,
    /// Composite on the CPU; with `auto`, why not on the GPU.
    Skip(Option<String>),
}

/// What `--compositor` means here: `cuda` is an error naming what is missing; `auto` falls back
/// with the reason. `output` is the file (or folder) the error names.
///
/// # Errors
/// [`EncodeError::Gpu`] (unsupported) for `cuda` when the GPU compositor cannot run.
pub fn gpu_compositor(compositor: Compositor, output: &Path) -> Result<GpuChoice, Error> {
    match compositor {
        Compositor::Cpu => Ok(GpuChoice::Skip(None)),
        Compositor::Cuda => match composite::gpu::available() {
            Ok(()) => Ok(GpuChoice::Use),
            Err(why) => Err(EncodeError::Gpu {
                path: output.to_owned(),
                message: format!("--compositor cuda: {why}"),
            }
            .into()),
        },
        Compositor::Auto => Ok(match composite::gpu::available() {
            Ok(()) => GpuChoice::Use,
            Err(why) => GpuChoice::Skip(Some(why.to_string())),
        }),
    }
}

/// Whether `e` came from the GPU (CUDA or nvJPEG), so `auto` may retry the job on the CPU.
fn is_gpu_failure(e: &Error) -> bool {
    matches!(e, Error::Composite(composite::CompositeError::Gpu(_)) | Error::Encode(EncodeError::Gpu { .. }))
}

/// How [`frame`] hands over the keyframe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FrameShape {
    /// The whole frame (animated covers fit every frame of the clip the same way).
    Whole,
    /// For a `fit: cover` layout without face-aware crops, only the part the canvas shows,
    /// already at the canvas size (one colour conversion, no resize after); other layouts get
    /// the whole frame.
    FittedWhereItCan,
}

/// The keyframe the layout asks for: from the cache when it has it (storing a decoded one).
fn frame(
    video: &Path,
    prepared: &Prepared,
    opts: &RenderOptions,
    env: &Env,
    cache: Option<(&FrameCache, &str)>,
    shape: FrameShape,
) -> Result<(Extracted, FrameSource), Error> {
    let regions = keyframe::TextRegions::of_layout(&prepared.doc, &env.face_model());
    let fit = match shape {
        FrameShape::Whole => None,
        FrameShape::FittedWhereItCan => keyframe::FitTo::of_layout(&prepared.doc),
    };
    let spec = prepared.meta.frame;
    let key = cache.map(|(_, identity)| FrameCache::key(identity, spec, regions.as_ref(), fit));
    if let (Some((cache, _)), Some(key)) = (cache, &key) {
        if let Some(hit) = cache.get(key) {
            return Ok((hit, FrameSource::Cache));
        }
    }
    // With a cache, the planes the canvas was fitted from come too: the cache stores them.
    let extracted = keyframe::extract_fitted_for_cache(
        video,
        spec,
        &env.limits,
        regions.as_ref(),
        opts.hwaccel,
        fit,
        cache.is_some(),
    )?;
    if let (Some((cache, _)), Some(key)) = (cache, &key) {
        cache.put(key, &extracted);
    }
    Ok((extracted, FrameSource::Decode))
}

/// A still cover composited in system memory.
fn still_on_cpu(
    job: &Job,
    prepared: &Prepared,
    (format, quality): (Format, u8),
    opts: &RenderOptions,
    env: &Env,
    delivery: &Delivery<'_>,
    compositor_fallback: Option<String>,
) -> Result<JobResult, Error> {
    let t1 = Mark::now();
    let (mut extracted, frame_source) =
        frame(&job.video, prepared, opts, env, delivery.cache, FrameShape::FittedWhereItCan)?;
    check_deadline(&job.video)?;
    let t2 = Mark::now();
    let pixels =
        std::mem::replace(&mut extracted.frame.pixels, Image::filled(0, 0, crate::color::Rgba::BLACK));
    let faces = extracted.faces.as_deref();
    let (canvas, report) =
        composite::composite_frame(pixels, faces, &prepared.doc, env, delivery.measure_contrast)?;
    let t3 = Mark::now();
    let bytes = encode::encode_with(&canvas, format, quality, &job.output, opts.jpeg_encoder)?;
    files::write_atomic(&job.output, &bytes, delivery.durability).map_err(EncodeError::from)?;
    Ok(JobResult {
        width: canvas.width(),
        height: canvas.height(),
        output_bytes: bytes.len() as u64,
        compositor: "cpu".into(),
        compositor_fallback,
        times: StageTimes::of(prepared.layout, [t1, t2, t3, Mark::now()]),
        canvas: delivery.keep_canvas.then_some(canvas),
        ..result_of(job, prepared, extracted, frame_source, report)
    })
}

/// A still cover composited on the GPU: a fixed frame decoded on NVDEC stays there (unless a
/// cache wants it in system memory, or face detection needs it on the CPU); the JPEG is encoded
/// there by nvJPEG (unless `--jpeg-encoder cpu`); PNG and WebP from a downloaded canvas.
fn still_on_gpu(
    job: &Job,
    prepared: &Prepared,
    (format, quality): (Format, u8),
    opts: &RenderOptions,
    env: &Env,
    delivery: &Delivery<'_>,
) -> Result<JobResult, Error> {
    let doc = &prepared.doc;
    let t1 = Mark::now();
    let (extracted, frame_source) = match delivery.cache {
        // The cache stores frames in system memory: a frame decoded for it is downloaded anyway.
        Some(_) => {
            let (e, source) =
                frame(&job.video, prepared, opts, env, delivery.cache, FrameShape::FittedWhereItCan)?;
            (Extracted::from(e), source)
        }
        None => {
            let regions = keyframe::TextRegions::of_layout(doc, &env.face_model());
            let spec = prepared.meta.frame;
            // Faces are found with the keyframe (on a small copy of the surface) when the
            // layout has text regions to carry the face model; otherwise the compositor would
            // have to find them, which it does only in system memory.
            let keep_on_device = !doc.faces || regions.is_some();
            let e = keyframe::extract_kept(
                &job.video,
                spec,
                &env.limits,
                regions.as_ref(),
                opts.hwaccel,
                keep_on_device,
            )?;
            (e, FrameSource::Decode)
        }
    };
    check_deadline(&job.video)?;
    let t2 = Mark::now();
    let (canvas, report) =
        composite::gpu::composite_on_gpu(&extracted.frame.pixels, extracted.faces.as_deref(), doc, env)?;
    let t3 = Mark::now();
    let gpu_err = |e: crate::av::error::GpuError| EncodeError::Gpu { path: job.output.clone(), message: e.0 };
    // nvJPEG reads the canvas where it is; anything else is encoded from a downloaded copy.
    let on_cpu = format != Format::Jpeg || opts.jpeg_encoder == JpegEncoder::Cpu;
    let image = if delivery.keep_canvas || on_cpu { Some(canvas.to_image().map_err(gpu_err)?) } else { None };
    let bytes = match &image {
        Some(img) if on_cpu => encode::encode(img, format, quality, &job.output)?,
        _ => canvas.encode_jpeg(quality).map_err(gpu_err)?,
    };
    // The canvas borrows the frame it was drawn on: let go of it before the frame.
    drop(canvas);
    files::write_atomic(&job.output, &bytes, delivery.durability).map_err(EncodeError::from)?;
    Ok(JobResult {
        width: doc.canvas.width,
        height: doc.canvas.height,
        output_bytes: bytes.len() as u64,
        compositor: "cuda".into(),
        compositor_fallback: None,
        times: StageTimes::of(prepared.layout, [t1, t2, t3, Mark::now()]),
        canvas: image.filter(|_| delivery.keep_canvas),
        ..result_of(job, prepared, extracted, frame_source, report)
    })
}

/// An animated cover: the overlays are frozen on the chosen frame and drawn over a clip of
/// `settings.seconds` centred on it (moved to stay inside the video). The clip is composited on
/// the CPU whatever `--compositor` says.
fn animate(
    job: &Job,
    prepared: &Prepared,
    settings: &clip::Settings,
    opts: &RenderOptions,
    env: &Env,
    delivery: &Delivery<'_>,
) -> Result<JobResult, Error> {
    let doc = &prepared.doc;
    let t1 = Mark::now();
    let (extracted, frame_source) =
        frame(&job.video, prepared, opts, env, delivery.cache, FrameShape::Whole)?;
    check_deadline(&job.video)?;
    let t2 = Mark::now();
    let (cover, report, plate) =
        CoverPlate::new(&extracted.frame.pixels, extracted.faces.as_deref(), doc, env)?;
    let t3 = Mark::now();
    let duration = extracted.info.duration_s;
    let start = (extracted.frame.time_s - settings.seconds / 2.0).min(duration - settings.seconds).max(0.0);
    let size = (doc.canvas.width, doc.canvas.height);
    let clip = crate::animated::write_clip(
        &job.video,
        (&env.limits, opts.hwaccel, &opts.hw_sessions),
        &plate,
        size,
        settings,
        start,
        &job.output,
    )?;
    let t4 = Mark::now();
    let mut result = result_of(job, prepared, extracted, frame_source, report);
    if duration > 0.0 && settings.seconds > duration + 1e-3 {
        result.warnings.push(format!(
            "{}: the video is {duration:.2} s long, shorter than the {:.2} s clip asked for; its last frame is held",
            job.video.display(),
            settings.seconds
        ));
    }
    Ok(JobResult {
        width: clip.width,
        height: clip.height,
        output_bytes: std::fs::metadata(&job.output).map(|m| m.len()).unwrap_or(0),
        compositor: "cpu".into(),
        clip: Some(clip),
        times: StageTimes::of(prepared.layout, [t1, t2, t3, t4]),
        canvas: delivery.keep_canvas.then_some(cover),
        ..result
    })
}

/// The fields every kind of job fills the same way.
fn result_of<P>(
    job: &Job,
    prepared: &Prepared,
    extracted: Extracted<P>,
    frame_source: FrameSource,
    report: CompositeReport,
) -> JobResult {
    JobResult {
        variant: prepared.meta.variant.clone(),
        media: extracted.info,
        frame_time_s: extracted.frame.time_s,
        frame_score: extracted.score,
        frame_source,
        output: job.output.clone(),
        width: prepared.doc.canvas.width,
        height: prepared.doc.canvas.height,
        template: prepared.doc.template.clone(),
        output_bytes: 0,
        warnings: extracted.warnings,
        contrast: report.contrast,
        faces: report.faces,
        moved_off_faces: report.moved_off_faces,
        decoded_by: extracted.frame.decoded_by,
        compositor: String::new(),
        compositor_fallback: None,
        clip: None,
        times: StageTimes::default(),
        canvas: None,
    }
}
