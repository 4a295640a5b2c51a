//! One cover job, end to end: metadata → template → layout → keyframe → composite → encode.
//!
//! Cheap checks run first: metadata, template, layout and the output format are validated
//! before the video is opened, so a typo costs milliseconds, not a decode.

use crate::encode::{self, Format};
use crate::env::Env;
use crate::error::{Diagnostic, Error};
use crate::keyframe::{self, FrameScore};
use crate::layout::{self, doc::LayoutDoc};
use crate::metadata::{self, Metadata};
use crate::probe::MediaInfo;
use crate::template;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// What to render.
#[derive(Debug, Clone)]
pub struct Job {
    /// The video.
    pub video: PathBuf,
    /// Its metadata YAML.
    pub meta: PathBuf,
    /// Template name or path; overrides the metadata's `template`.
    pub template: Option<String>,
    /// The cover file to write (`.jpg`, `.png`, `.webp`).
    pub output: PathBuf,
    /// JPEG/WebP quality 1–100.
    pub quality: u8,
}

/// Milliseconds spent in each stage.
#[derive(Debug, Clone, Default, Serialize)]
pub struct StageTimes {
    /// Metadata + template + layout.
    pub layout_ms: f64,
    /// Probe + seek + keyframe decode (+ scoring for `auto`).
    pub decode_ms: f64,
    /// Background + layers.
    pub composite_ms: f64,
    /// Encode + write.
    pub encode_ms: f64,
}

/// What a finished job produced.
#[derive(Debug, Clone, Serialize)]
pub struct JobResult {
    /// The video's facts.
    pub media: MediaInfo,
    /// Time of the frame used, seconds.
    pub frame_time_s: f64,
    /// Its score when chosen by `auto`.
    pub frame_score: Option<FrameScore>,
    /// The file written.
    pub output: PathBuf,
    /// Cover width in pixels.
    pub width: u32,
    /// Cover height in pixels.
    pub height: u32,
    /// The template used.
    pub template: String,
    /// Bytes written.
    pub output_bytes: usize,
    /// Warnings (e.g. a clamped frame time).
    pub warnings: Vec<String>,
    /// Colours chosen for `color: auto` text, and the contrast reached.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub contrast: Vec<crate::composite::TextContrast>,
    /// Faces found in the frame (templates with `faces: true`), in cover pixels.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub faces: Vec<crate::layout::doc::BoxPx>,
    /// Text layers moved to an alternative placement to keep off a face.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub moved_off_faces: Vec<String>,
    /// The decoder that made the frame, and why not hardware when it was wanted.
    pub decoded_by: crate::accel::DecodedBy,
    /// Where the cover was composited (`cpu` or `cuda`).
    pub compositor: String,
    /// Why not on the GPU when `--compositor auto` wanted it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compositor_fallback: Option<String>,
    /// Per-stage times.
    pub times: StageTimes,
}

/// Loads metadata, finds the template and resolves the layout.
///
/// # Errors
/// Metadata, template and layout diagnostics; limit errors.
pub fn layout_for(
    meta_path: &Path,
    template_override: Option<&str>,
    env: &Env,
) -> Result<(Metadata, LayoutDoc), Error> {
    let meta = metadata::load(meta_path, &env.limits)?;
    let doc = layout_for_metadata(&meta, template_override, env)?;
    Ok((meta, doc))
}

/// Finds the template for already-loaded metadata and resolves the layout.
///
/// # Errors
/// Template and layout diagnostics; limit errors.
pub fn layout_for_metadata(
    meta: &Metadata,
    template_override: Option<&str>,
    env: &Env,
) -> Result<LayoutDoc, Error> {
    let source = find_template(meta, template_override, env)?;
    layout::resolve(meta, &source, env)
}

/// The template a job uses: the override, else the metadata's `template` key.
///
/// # Errors
/// A diagnostic when neither names one, or the named one does not exist.
pub fn find_template(
    meta: &Metadata,
    template_override: Option<&str>,
    env: &Env,
) -> Result<template::TemplateSource, Error> {
    let name = template_override.or(meta.template.as_deref()).ok_or_else(|| {
        crate::error::Diagnostics::from(
            Diagnostic::new(&meta.source, "no template: add `template: NAME` or pass --template")
                .hint(format!("available: {}", template::available(env.templates_dir()).join(", "))),
        )
    })?;
    // A template path written in the metadata is relative to the metadata's folder, like the
    // watermark; one given on the command line is relative to the current folder.
    let name = match (template_override, meta.source.parent()) {
        (None, Some(dir)) if template::is_path(name) => dir.join(name).to_string_lossy().into_owned(),
        _ => name.to_string(),
    };
    template::find(&name, env.templates_dir(), &meta.source).map_err(|mut d| {
        // Point at whoever named the template: the flag, or the metadata's `template:` line
        // (looked up only now, on failure, to keep the file read off the success path).
        let (file, line) = match template_override {
            Some(_) => (std::path::PathBuf::from("--template"), None),
            None => {
                let text = std::fs::read_to_string(&meta.source).unwrap_or_default();
                (meta.source.clone(), metadata::line_of_key(&text, "template"))
            }
        };
        for diag in &mut d.0 {
            diag.file = file.clone();
            diag.line = line;
        }
        Error::from(d)
    })
}

/// Renders one cover.
///
/// # Errors
/// Any stage's error; nothing is written unless every stage succeeded.
pub fn render(job: &Job, env: &Env) -> Result<JobResult, Error> {
    let t0 = Instant::now();
    let format = Format::from_path(&job.output)?;
    if !(1..=100).contains(&job.quality) {
        return Err(encode::EncodeError::Quality(job.quality).into());
    }
    let (meta, doc) = layout_for(&job.meta, job.template.as_deref(), env)?;
    let mut compositor_fallback = match use_gpu_compositor(env, &job.output)? {
        GpuChoice::Use => match render_on_gpu(job, &meta, &doc, format, env, t0) {
            Ok(result) => return Ok(result),
            Err(e) if env.compositor == crate::accel::Compositor::Auto && is_gpu_failure(&e) => {
                Some(format!("{e}; composited on the CPU"))
            }
            Err(e) => return Err(e),
        },
        GpuChoice::Skip(why) => why,
    };
    let t1 = Instant::now();
    let regions = keyframe::TextRegions::of_layout(&doc, &env.face_model());
    let extracted =
        keyframe::extract_for_layout(&job.video, meta.frame, &env.limits, regions.as_ref(), env.hwaccel)?;
    let t2 = Instant::now();
    let (canvas, contrast) =
        crate::composite::composite_with_report(&extracted.frame.image, &doc, env, false)?;
    let t3 = Instant::now();
    let bytes = encode::encode_with(&canvas, format, job.quality, &job.output, env.jpeg_encoder)?;
    encode::write_atomic(&job.output, &bytes)?;
    let t4 = Instant::now();
    let ms = |a: Instant, b: Instant| (b - a).as_secs_f64() * 1000.0;
    Ok(JobResult {
        media: extracted.info,
        frame_time_s: extracted.frame.time_s,
        frame_score: extracted.frame.score,
        output: job.output.clone(),
        width: canvas.width(),
        height: canvas.height(),
        template: doc.template.clone(),
        output_bytes: bytes.len(),
        warnings: extracted.warnings,
        contrast: contrast.contrast,
        faces: contrast.faces,
        moved_off_faces: contrast.moved_off_faces,
        decoded_by: extracted.frame.decoded_by,
        compositor: "cpu".into(),
        compositor_fallback: compositor_fallback.take(),
        times: StageTimes {
            layout_ms: ms(t0, t1),
            decode_ms: ms(t1, t2),
            composite_ms: ms(t2, t3),
            encode_ms: ms(t3, t4),
        },
    })
}

/// Whether a job goes to the GPU compositor.
pub(crate) enum GpuChoice {
    /// Composite on the GPU.
    Use,
    /// Composite on the CPU; with `auto`, why not on the GPU.
    Skip(Option<String>),
}

/// What `--compositor` means here: `cuda` is an error naming what is missing; `auto` falls back
/// with the reason.
///
/// # Errors
/// [`encode::EncodeError::Gpu`] (exit 6) for `cuda` when the GPU compositor cannot run.
pub(crate) fn use_gpu_compositor(env: &Env, output: &Path) -> Result<GpuChoice, Error> {
    use crate::accel::Compositor;
    match env.compositor {
        Compositor::Cpu => Ok(GpuChoice::Skip(None)),
        Compositor::Cuda => match crate::accel::gpu_compositor_available() {
            Ok(()) => Ok(GpuChoice::Use),
            Err(why) => Err(encode::EncodeError::Gpu {
                path: output.to_owned(),
                message: format!("--compositor cuda: {why}"),
            }
            .into()),
        },
        Compositor::Auto => Ok(match crate::accel::gpu_compositor_available() {
            Ok(()) => GpuChoice::Use,
            Err(why) => GpuChoice::Skip(Some(why)),
        }),
    }
}

/// Whether `e` came from the GPU (CUDA or nvJPEG), so `auto` may retry the job on the CPU.
pub(crate) fn is_gpu_failure(e: &Error) -> bool {
    matches!(
        e,
        Error::Composite(crate::composite::CompositeError::Gpu(_))
            | Error::Encode(encode::EncodeError::Gpu { .. })
    )
}

/// A still cover composited on the GPU and encoded.
pub(crate) struct GpuStill {
    /// The encoded cover.
    pub bytes: Vec<u8>,
    /// What compositing decided (auto colours).
    pub report: crate::composite::CompositeReport,
    /// The canvas in system memory, when asked for (proof sheets).
    pub image: Option<crate::pixels::Image>,
    /// Milliseconds compositing and encoding.
    pub composite_ms: f64,
    pub encode_ms: f64,
}

/// Composites `pixels` on the GPU and encodes the cover: JPEG by nvJPEG straight from GPU
/// memory (unless `--jpeg-encoder cpu`), PNG and WebP from a downloaded canvas.
///
/// # Errors
/// Compositing and encoding errors; GPU failures as [`is_gpu_failure`] recognises them.
pub(crate) fn still_on_gpu(
    pixels: crate::av::cuda::FramePixels<'_>,
    doc: &LayoutDoc,
    env: &Env,
    (format, quality, path): (Format, u8, &Path),
    keep_image: bool,
) -> Result<GpuStill, Error> {
    let t0 = Instant::now();
    let (canvas, report) = crate::composite::gpu::composite_on_gpu(pixels, doc, env)?;
    let t1 = Instant::now();
    let gpu_err = |message: String| encode::EncodeError::Gpu { path: path.to_owned(), message };
    // nvJPEG reads the canvas where it is; anything else is encoded from a downloaded copy.
    let on_cpu = format != Format::Jpeg || env.jpeg_encoder == encode::JpegEncoder::Cpu;
    let image = if keep_image || on_cpu { Some(canvas.to_image().map_err(gpu_err)?) } else { None };
    let bytes = match &image {
        Some(img) if on_cpu => encode::encode(img, format, quality, path)?,
        _ => canvas.encode_jpeg(quality).map_err(gpu_err)?,
    };
    let ms = |a: Instant, b: Instant| (b - a).as_secs_f64() * 1000.0;
    Ok(GpuStill { bytes, report, image, composite_ms: ms(t0, t1), encode_ms: ms(t1, Instant::now()) })
}

/// The keyframe a job's layout asks for, for the GPU compositor: kept on the GPU when NVDEC
/// decoded it and nothing needs it on the CPU (face detection does).
///
/// # Errors
/// As [`keyframe::extract`].
pub(crate) fn keyframe_for_gpu(
    video: &Path,
    meta: &Metadata,
    doc: &LayoutDoc,
    env: &Env,
) -> Result<keyframe::ExtractedKept, Error> {
    let regions = keyframe::TextRegions::of_layout(doc, &env.face_model());
    Ok(keyframe::extract_kept(video, meta.frame, &env.limits, regions.as_ref(), env.hwaccel, !doc.faces)?)
}

/// [`render`] with the GPU compositor: a fixed frame decoded on NVDEC never leaves the GPU.
fn render_on_gpu(
    job: &Job,
    meta: &Metadata,
    doc: &LayoutDoc,
    format: Format,
    env: &Env,
    t0: Instant,
) -> Result<JobResult, Error> {
    let t1 = Instant::now();
    let extracted = keyframe_for_gpu(&job.video, meta, doc, env)?;
    let t2 = Instant::now();
    let pixels = extracted.pixels.as_frame();
    let still = still_on_gpu(pixels, doc, env, (format, job.quality, &job.output), false)?;
    encode::write_atomic(&job.output, &still.bytes)?;
    let ms = |a: Instant, b: Instant| (b - a).as_secs_f64() * 1000.0;
    Ok(JobResult {
        media: extracted.info,
        frame_time_s: extracted.time_s,
        frame_score: extracted.score,
        output: job.output.clone(),
        width: doc.canvas.width,
        height: doc.canvas.height,
        template: doc.template.clone(),
        output_bytes: still.bytes.len(),
        warnings: extracted.warnings,
        contrast: still.report.contrast,
        faces: still.report.faces,
        moved_off_faces: still.report.moved_off_faces,
        decoded_by: extracted.decoded_by,
        compositor: "cuda".into(),
        compositor_fallback: None,
        times: StageTimes {
            layout_ms: ms(t0, t1),
            decode_ms: ms(t1, t2),
            composite_ms: still.composite_ms,
            encode_ms: still.encode_ms,
        },
    })
}

/// What an animated cover render did.
#[derive(Debug, Clone, Serialize)]
pub struct AnimatedResult {
    /// What the video is.
    pub media: MediaInfo,
    /// The chosen frame, which the clip is centred on.
    pub frame_time_s: f64,
    /// The clip written.
    pub output: PathBuf,
    /// The template used.
    pub template: String,
    /// Bytes written.
    pub output_bytes: u64,
    /// Encoder, size, frames, frame rate, clip window and decoder.
    pub clip: crate::animated::ClipReport,
    /// Colours chosen for `color: auto` text on the chosen frame (kept for every frame).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub contrast: Vec<crate::composite::TextContrast>,
    /// Warnings.
    pub warnings: Vec<String>,
    /// Milliseconds: layout, keyframe, clip (decode + composite + encode).
    pub times: AnimatedTimes,
}

/// Stage times of an animated render.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct AnimatedTimes {
    /// Template and layout.
    pub layout_ms: f64,
    /// Choosing and decoding the keyframe, freezing the overlays.
    pub keyframe_ms: f64,
    /// Decoding, compositing and encoding the clip.
    pub clip_ms: f64,
}

/// Renders an animated cover: a clip of `settings.seconds` centred on the chosen frame (moved
/// to stay inside the video), with the template's overlays still over the moving video.
/// Settings come from the template's `animated:` block, overridden by `over`.
///
/// # Errors
/// Any stage's error; settings out of range name the setting and the allowed range; nothing is
/// written unless the clip completed.
pub fn render_animated(
    job: &Job,
    over: &crate::animated::EncodeSettings,
    env: &Env,
) -> Result<AnimatedResult, Error> {
    let t0 = Instant::now();
    let (meta, doc) = layout_for(&job.meta, job.template.as_deref(), env)?;
    let settings = animated_settings(&doc, over, &job.output)?;
    let layout_ms = (Instant::now() - t0).as_secs_f64() * 1000.0;
    let t1 = Instant::now();
    let regions = keyframe::TextRegions::of_layout(&doc, &env.face_model());
    let extracted =
        keyframe::extract_for_layout(&job.video, meta.frame, &env.limits, regions.as_ref(), env.hwaccel)?;
    let keyframe_ms = (Instant::now() - t1).as_secs_f64() * 1000.0;
    let (mut result, _) = animate(&job.video, extracted, &doc, &settings, &job.output, env)?;
    result.times.layout_ms = layout_ms;
    result.times.keyframe_ms += keyframe_ms;
    Ok(result)
}

/// The template's `animated:` settings overridden by `over`, validated (WebP allows quality up
/// to 100). Problems name where they came from: the command line or the template.
///
/// # Errors
/// [`crate::animated::AnimatedError::Settings`] listing every problem.
pub fn animated_settings(
    doc: &LayoutDoc,
    over: &crate::animated::EncodeSettings,
    output: &Path,
) -> Result<crate::animated::Settings, Error> {
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

/// Makes the animated cover from an extracted keyframe: freezes the overlays on it and writes
/// the clip around it. Returns the report and the still cover of the chosen frame (for proof
/// sheets).
///
/// # Errors
/// As [`render_animated`].
pub fn animate(
    video: &Path,
    extracted: keyframe::Extracted,
    doc: &LayoutDoc,
    settings: &crate::animated::Settings,
    output: &Path,
    env: &Env,
) -> Result<(AnimatedResult, crate::pixels::Image), Error> {
    let t0 = Instant::now();
    let (cover, report, plate) = crate::composite::CoverPlate::new(&extracted.frame.image, doc, env)?;
    let t1 = Instant::now();
    let duration = extracted.info.duration_s;
    let start = (extracted.frame.time_s - settings.seconds / 2.0).min(duration - settings.seconds).max(0.0);
    let clip = crate::animated::write_clip(
        video,
        env,
        &plate,
        (doc.canvas.width, doc.canvas.height),
        settings,
        start,
        output,
    )?;
    let t2 = Instant::now();
    let mut warnings = extracted.warnings;
    if duration > 0.0 && settings.seconds > duration + 1e-3 {
        warnings.push(format!(
            "{}: the video is {duration:.2} s long, shorter than the {:.2} s clip asked for; its last frame is held",
            video.display(),
            settings.seconds
        ));
    }
    let ms = |a: Instant, b: Instant| (b - a).as_secs_f64() * 1000.0;
    let result = AnimatedResult {
        media: extracted.info,
        frame_time_s: extracted.frame.time_s,
        output: output.to_owned(),
        template: doc.template.clone(),
        output_bytes: std::fs::metadata(output).map(|m| m.len()).unwrap_or(0),
        clip,
        contrast: report.contrast,
        warnings,
        times: AnimatedTimes { layout_ms: 0.0, keyframe_ms: ms(t0, t1), clip_ms: ms(t1, t2) },
    };
    Ok((result, cover))
}
