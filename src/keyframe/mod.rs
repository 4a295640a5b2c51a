//! Stage 1b: pull one good keyframe out of a video.
//!
//! Only keyframes are decoded (see the private `av` module). A fixed time picks the keyframe at or before
//! it; `auto` looks at several keyframes spread over the video and keeps the best one.
//!
//! # The `auto` score
//! Candidate times are 10 %, 25 %, 40 %, 55 %, 70 % and 85 % of the duration. Their keyframe
//! packets are read without decoding; a keyframe whose packet is under a quarter of the largest
//! one is almost certainly black or flat and is dropped. The (at most four) remaining ones are
//! decoded in time order and scored on their luma (read from the decoder's luma plane; only the
//! frame kept is converted to colour) shrunk to 256 px wide:
//! - exposure `1 - |mean - 118| / 118` (0 for black or white frames),
//! - contrast `min(stddev / 64, 1)`,
//! - sharpness `v / (v + 100)` where `v` is the variance of the Laplacian,
//!
//! `score = 0.3 exposure + 0.3 contrast + 0.4 sharpness`, and a frame that is black
//! (mean < 24), blown out (mean > 232) or flat (stddev < 8) has its score divided by ten, so it
//! wins only when every candidate is bad. When the layout is known, the score becomes
//! `0.8 score + 0.2 / (1 + s / 24)` where `s` is the luma standard deviation under the text boxes:
//! a calm background under the title counts. Ties go to the earlier frame.
//!
//! Every candidate costs a full keyframe decode, as much as the rest of the cover, so `auto`
//! stops at the first candidate that is good enough: mean luma 40–216, luma standard deviation
//! at least 24, Laplacian variance at least 100 (half marks on sharpness) and, with faces
//! wanted, no face under the text. Only when a candidate falls short is the next one decoded;
//! the best scored one is kept. Calm under the text then only decides among frames that fell
//! short. `frame: best` decodes and scores every candidate and keeps the best: the choice
//! `auto` made before it stopped early, at a decode per candidate.

pub mod cache;

use crate::av::Source;
use crate::limits::Limits;
use crate::model::MediaInfo;
use crate::model::{HwAccel, Rect};
use crate::pixels::{Image, Mask, PixelError};
use serde::{Deserialize, Serialize};
use std::path::Path;

pub use crate::model::FrameSpec;

pub use crate::av::error::DecodeError;
pub use crate::av::{Frame, Pixels};

/// How a candidate frame scored (see the module docs).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
pub struct FrameScore {
    /// Mean luma, 0–255.
    pub mean_luma: f64,
    /// Luma standard deviation.
    pub contrast: f64,
    /// Variance of the Laplacian of the luma.
    pub sharpness: f64,
    /// Luma standard deviation under the template's text boxes (lower is calmer), when the
    /// layout was known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub busy_under_text: Option<f64>,
    /// Faces the text boxes would cover (with `faces: true`).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub faces_under_text: usize,
    /// The combined score, higher is better.
    pub total: f64,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// Where a layout puts its text, so `frame: auto` can prefer frames that are calm there.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TextRegions {
    /// Canvas size.
    pub canvas: (u32, u32),
    /// Whether the frame covers the canvas (cropped) or is contained in it.
    pub cover: bool,
    /// Text boxes in canvas pixels.
    pub boxes: Vec<Rect>,
    /// The face model, when the layout wants faces kept clear of its text (`faces: true`).
    #[serde(skip)]
    pub face_model: Option<std::path::PathBuf>,
}

impl TextRegions {
    /// The text boxes of a resolved layout; `None` when it has no text. `face_model` is used
    /// when the layout asks for faces.
    pub fn of_layout(doc: &crate::layout::doc::LayoutDoc, face_model: &Path) -> Option<Self> {
        use crate::layout::doc::{Fit, Layer};
        let boxes: Vec<_> = doc
            .layers
            .iter()
            .filter_map(|l| match l {
                Layer::Text(t) if !t.lines.is_empty() => Some(t.bbox),
                _ => None,
            })
            .collect();
        (!boxes.is_empty()).then(|| TextRegions {
            canvas: (doc.canvas.width, doc.canvas.height),
            cover: doc.fit == Fit::Cover,
            boxes,
            face_model: doc.faces.then(|| face_model.to_owned()),
        })
    }

    /// The text boxes in frame pixels (the inverse of the compositor's fit).
    fn boxes_in_frame(&self, (frame_w, frame_h): (u32, u32)) -> Vec<Rect> {
        let (cw, ch) = (self.canvas.0 as f64, self.canvas.1 as f64);
        let (fw, fh) = (frame_w as f64, frame_h as f64);
        let (scale, ox, oy) = if self.cover {
            let s = (cw / fw).max(ch / fh);
            (s, (fw - cw / s) / 2.0, (fh - ch / s) / 2.0)
        } else {
            let s = (cw / fw).min(ch / fh);
            (s, -(cw - fw * s) / 2.0 / s, -(ch - fh * s) / 2.0 / s)
        };
        self.boxes
            .iter()
            .map(|b| {
                Rect::new(
                    (ox + b.x as f64 / scale) as i32,
                    (oy + b.y as f64 / scale) as i32,
                    (b.width as f64 / scale).ceil() as u32,
                    (b.height as f64 / scale).ceil() as u32,
                )
            })
            .collect()
    }

    /// How many faces in `image` the text boxes would cover (0 without a face model).
    fn faces_under_text(&self, image: &Image) -> Result<usize, PixelError> {
        let Some(model) = &self.face_model else { return Ok(0) };
        Ok(self.count_under_text(&image.detect_faces(model)?, (image.width(), image.height())))
    }

    /// How many of `faces` (in pixels of a frame of `frame_size`) the text boxes would cover.
    fn count_under_text(&self, faces: &[Rect], frame_size: (u32, u32)) -> usize {
        let boxes = self.boxes_in_frame(frame_size);
        faces.iter().filter(|f| boxes.iter().any(|b| b.overlaps(f))).count()
    }

    /// A short stable description, for cache keys.
    pub fn key(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Mean luma standard deviation under the boxes (mapped from canvas pixels to frame pixels
    /// the way the compositor fits the frame; face-aware crops are not predicted), from the
    /// full-size luma of the frame.
    fn busyness(&self, luma: &Mask) -> Result<f64, PixelError> {
        let mut sum = 0.0;
        for rect in self.boxes_in_frame((luma.width, luma.height)) {
            let Some(small) = luma.region_shrunk(rect, 128)? else { continue };
            sum += mean_and_sd(&small.data).1;
        }
        Ok(sum / self.boxes.len().max(1) as f64)
    }
}

/// Mean and standard deviation of 8-bit values.
fn mean_and_sd(values: &[u8]) -> (f64, f64) {
    let n = values.len().max(1) as f64;
    let mean = values.iter().map(|&v| v as f64).sum::<f64>() / n;
    (mean, (values.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / n).sqrt())
}

impl FrameScore {
    /// Scores an image.
    ///
    /// # Errors
    /// Only on an OpenCV failure.
    pub fn of(image: &Image) -> Result<Self, PixelError> {
        Self::of_luma(&image.small_luma(256)?)
    }

    /// Scores a frame from its full-size luma.
    ///
    /// # Errors
    /// Only on an OpenCV failure.
    pub fn of_luma(luma: &Mask) -> Result<Self, PixelError> {
        let small = luma.region_shrunk(luma.bounds(), 256)?.unwrap_or_else(|| Mask::new(1, 1));
        let (mean, std) = mean_and_sd(&small.data);
        let lap = small.laplacian_variance()?;
        let exposure = (1.0 - (mean - 118.0).abs() / 118.0).clamp(0.0, 1.0);
        let contrast = (std / 64.0).min(1.0);
        let sharp = lap / (lap + 100.0);
        let mut total = 0.3 * exposure + 0.3 * contrast + 0.4 * sharp;
        if !(24.0..=232.0).contains(&mean) || std < 8.0 {
            total /= 10.0;
        }
        Ok(FrameScore {
            mean_luma: mean,
            contrast: std,
            sharpness: lap,
            busy_under_text: None,
            faces_under_text: 0,
            total,
        })
    }

    /// Scores an image knowing where the text goes: 80 % the plain score, 20 % calm under the
    /// text (`1 / (1 + stddev / 24)`), so a title is not set on the busiest part of the frame;
    /// with faces wanted, 0.1 less for each face the text would cover.
    ///
    /// # Errors
    /// Only on an OpenCV failure.
    pub fn with_layout(image: &Image, regions: &TextRegions) -> Result<Self, PixelError> {
        let luma = image.luma()?;
        let faces = regions.faces_under_text(image)?;
        Self::of_luma_with_layout(&luma, regions, faces)
    }

    /// As [`FrameScore::with_layout`], from the frame's full-size luma and the number of faces
    /// the text would cover.
    fn of_luma_with_layout(luma: &Mask, regions: &TextRegions, faces: usize) -> Result<Self, PixelError> {
        let mut score = Self::of_luma(luma)?;
        let busy = regions.busyness(luma)?;
        score.busy_under_text = Some(busy);
        score.faces_under_text = faces;
        score.total = 0.8 * score.total + 0.2 / (1.0 + busy / 24.0) - 0.1 * faces as f64;
        Ok(score)
    }

    /// Whether a frame is good enough for `frame: auto` to stop looking (see the module docs):
    /// well exposed, with contrast, sharp, and with no face under the text.
    pub fn good_enough(&self) -> bool {
        (40.0..=216.0).contains(&self.mean_luma)
            && self.contrast >= 24.0
            && self.sharpness >= 100.0
            && self.faces_under_text == 0
    }
}

/// A probed video and its chosen keyframe, plus anything worth a warning. `P` says where the
/// frame's pixels are (see [`Frame`]): [`extract`] gives them in system memory, `extract_kept` (for the GPU compositor)
/// may leave them on the GPU.
#[derive(Debug, Clone)]
pub struct Extracted<P = Image> {
    /// What the video is.
    pub info: MediaInfo,
    /// The frame chosen.
    pub frame: Frame<P>,
    /// Its score, when chosen by `auto`.
    pub score: Option<FrameScore>,
    /// Warnings (e.g. a time past the end was clamped).
    pub warnings: Vec<String>,
    /// The faces in the frame (frame pixels, most confident first) when the layout keeps text
    /// off faces: found once with the keyframe and cached with it, so the crop, the text's
    /// placement and re-renders from the cache never detect again.
    pub faces: Option<Vec<Rect>>,
    /// The decoder's planes of the part of the frame a fitted canvas shows, when asked for
    /// (see [`extract_fitted_for_cache`]): what the keyframe cache stores in its place.
    pub(crate) planes: Option<std::sync::Arc<crate::av::FittedPlanes>>,
}

impl From<Extracted<Image>> for Extracted<Pixels> {
    fn from(e: Extracted<Image>) -> Self {
        Extracted {
            info: e.info,
            frame: e.frame.into(),
            score: e.score,
            warnings: e.warnings,
            faces: e.faces,
            planes: e.planes,
        }
    }
}

/// Where the kept keyframe goes: a `fit: cover` canvas of this size (the crop keeping faces in
/// view when the layout wants them).
/// The frame is then converted straight to the part the canvas shows, at the canvas size, in
/// the one colour conversion (no full-size colour frame, no second resize); the compositor
/// finds it already fitted. Scoring (`frame: auto`) still sees the whole frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FitTo {
    /// Canvas width.
    pub width: u32,
    /// Canvas height.
    pub height: u32,
}

impl FitTo {
    /// For a resolved layout: `Some` for `fit: cover` (with `faces: true` the crop follows the
    /// faces, found first on a small copy of the whole frame).
    pub fn of_layout(doc: &crate::layout::doc::LayoutDoc) -> Option<Self> {
        (doc.fit == crate::layout::doc::Fit::Cover)
            .then_some(FitTo { width: doc.canvas.width, height: doc.canvas.height })
    }
}

/// Probes `path` and pulls the keyframe `spec` asks for.
///
/// # Errors
/// [`DecodeError`] naming the file when it cannot be opened or no keyframe decodes.
pub fn extract(path: &Path, spec: FrameSpec, limits: &Limits) -> Result<Extracted, DecodeError> {
    extract_for_layout(path, spec, limits, None, HwAccel::Auto)
}

/// As [`extract`]; with `frame: auto` and the layout's text regions, candidates are also scored
/// by how calm the frame is under the text (see [`FrameScore::with_layout`]).
///
/// # Errors
/// As [`extract`].
pub fn extract_for_layout(
    path: &Path,
    spec: FrameSpec,
    limits: &Limits,
    regions: Option<&TextRegions>,
    accel: HwAccel,
) -> Result<Extracted, DecodeError> {
    extract_fitted(path, spec, limits, regions, accel, None)
}

/// As [`extract_for_layout`]; with `fit`, the frame comes back already fitted to that canvas
/// (see [`FitTo`]) where the frame allows it.
///
/// # Errors
/// As [`extract`].
pub fn extract_fitted(
    path: &Path,
    spec: FrameSpec,
    limits: &Limits,
    regions: Option<&TextRegions>,
    accel: HwAccel,
    fit: Option<FitTo>,
) -> Result<Extracted, DecodeError> {
    extract_fitted_for_cache(path, spec, limits, regions, accel, fit, false)
}

/// As [`extract_fitted`]; with `keep_planes`, a frame fitted from 8-bit 4:2:0 planes also
/// brings back the planes of the part the canvas shows (see `av::fitted`), for the keyframe
/// cache.
///
/// # Errors
/// As [`extract`].
pub(crate) fn extract_fitted_for_cache(
    path: &Path,
    spec: FrameSpec,
    limits: &Limits,
    regions: Option<&TextRegions>,
    accel: HwAccel,
    fit: Option<FitTo>,
    keep_planes: bool,
) -> Result<Extracted, DecodeError> {
    let mut source = Source::open(path, limits, false, accel)?;
    let info = source.info().clone();
    let mut warnings = Vec::new();
    let (kept, mut score) = match spec {
        FrameSpec::Auto | FrameSpec::Best => {
            let (kept, score) = best_keyframe(&mut source, &info, regions, spec == FrameSpec::Best)?;
            (kept, Some(score))
        }
        FrameSpec::Seconds(_) | FrameSpec::Percent(_) => {
            let raw = source.raw_keyframe_at(fixed_time(spec, &info, &mut warnings))?;
            (Candidate::Raw(raw), None)
        }
    };
    // Faces are looked for once, on the kept frame (the layout's regions carry the model).
    let face_model = regions.and_then(|r| r.face_model.as_deref());
    let (frame, faces, planes) = finish_frame(&mut source, kept, fit, face_model, keep_planes)?;
    if let (Some(score), Some(faces), Some(regions)) = (&mut score, &faces, regions) {
        score.faces_under_text =
            regions.count_under_text(faces, (frame.pixels.width(), frame.pixels.height()));
    }
    // Decoding may have refined the pixel aspect ratio (and so the display size).
    let planes = planes.map(std::sync::Arc::new);
    Ok(Extracted { info: source.info().clone(), frame, score, warnings, faces, planes })
}

/// The time a fixed frame spec asks for, clamped to the video (with a warning when past its end).
fn fixed_time(spec: FrameSpec, info: &MediaInfo, warnings: &mut Vec<String>) -> f64 {
    let wanted = match spec {
        FrameSpec::Percent(p) => info.duration_s * p / 100.0,
        FrameSpec::Seconds(s) => s,
        FrameSpec::Auto | FrameSpec::Best => 0.0,
    };
    if info.duration_s > 0.0 && wanted > info.duration_s {
        warnings.push(format!(
            "{}: frame time {wanted:.3} s is past the end ({:.3} s); using the last keyframe",
            info.path.display(),
            info.duration_s
        ));
        info.duration_s
    } else {
        wanted
    }
}

/// As [`extract_for_layout`], for the GPU compositor: with `keep_on_device`, a fixed frame
/// decoded on NVDEC stays on the GPU. `frame: auto` scores candidates on the CPU, so its frame
/// comes back as BGR.
///
/// # Errors
/// As [`extract`].
pub(crate) fn extract_kept(
    path: &Path,
    spec: FrameSpec,
    limits: &Limits,
    regions: Option<&TextRegions>,
    accel: HwAccel,
    keep_on_device: bool,
) -> Result<Extracted<Pixels>, DecodeError> {
    if matches!(spec, FrameSpec::Auto | FrameSpec::Best) || !keep_on_device {
        return Ok(extract_for_layout(path, spec, limits, regions, accel)?.into());
    }
    let mut source = Source::open(path, limits, false, accel)?;
    let mut warnings = Vec::new();
    let time = fixed_time(spec, &source.info().clone(), &mut warnings);
    let frame = source.keyframe_kept_at(time)?;
    // Faces, when wanted, are found on a small copy of the frame wherever it is.
    let faces = match (regions.and_then(|r| r.face_model.as_deref()), &frame.pixels) {
        (None, _) => None,
        (Some(model), Pixels::Host(image)) => {
            Some(image.detect_faces(model).map_err(|e| source.convert_error(e))?)
        }
        (Some(model), Pixels::Device(surface)) => {
            let faces = crate::pixels::find_faces(surface, model).map_err(|e| source.convert_error(e))?;
            Some(faces.into_iter().map(|(_, r)| r).collect())
        }
    };
    Ok(Extracted { info: source.info().clone(), frame, score: None, warnings, faces, planes: None })
}

fn best_keyframe(
    source: &mut Source,
    info: &MediaInfo,
    regions: Option<&TextRegions>,
    every_candidate: bool,
) -> Result<(Candidate, FrameScore), DecodeError> {
    const FRACTIONS: [f64; 6] = [0.10, 0.25, 0.40, 0.55, 0.70, 0.85];
    const MAX_DECODES: usize = 4;
    let times: Vec<f64> = FRACTIONS.iter().map(|f| f * info.duration_s).collect();
    let mut candidates = source.keyframe_packets_at(&times);
    if candidates.is_empty() {
        candidates.push((0.0, 0));
    }
    let largest = candidates.iter().map(|c| c.1).max().unwrap_or(0);
    // Big packets first: those carry detail; tiny ones are black or flat.
    candidates.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.total_cmp(&b.0)));
    candidates.retain(|c| c.1 * 4 >= largest);
    candidates.truncate(MAX_DECODES);
    candidates.sort_by(|a, b| a.0.total_cmp(&b.0));

    let convert_err = |e: PixelError| DecodeError::Convert { path: info.path.clone(), reason: e.to_string() };
    // Candidates are scored without faces: the detector runs once, on the kept frame (see
    // `finish_frame`), and text with alternatives moves off what it finds.
    let without_faces = regions.map(|r| TextRegions { face_model: None, ..r.clone() });
    let regions = without_faces.as_ref();
    let mut best: Option<(Candidate, FrameScore)> = None;
    let mut last_err = None;
    for (time, _) in candidates {
        let raw = match source.raw_keyframe_at(time) {
            Ok(raw) => raw,
            Err(e) => {
                last_err = Some(e);
                continue;
            }
        };
        // Scored on the decoder's luma plane where it can be (no colour conversion for frames
        // that lose); turned or stretched frames need their display geometry.
        let luma = raw.luma();
        let (candidate, score) = match luma {
            Some(luma) => {
                let score = match regions {
                    Some(r) => FrameScore::of_luma_with_layout(&luma, r, 0),
                    None => FrameScore::of_luma(&luma),
                }
                .map_err(convert_err)?;
                (Candidate::Raw(raw), score)
            }
            None => {
                let frame = source.convert(raw)?;
                let score = match regions {
                    Some(r) => FrameScore::with_layout(&frame.pixels, r),
                    None => FrameScore::of(&frame.pixels),
                }
                .map_err(convert_err)?;
                (Candidate::Converted(frame), score)
            }
        };
        let good = score.good_enough();
        if best.as_ref().is_none_or(|(_, b)| score.total > b.total) {
            best = Some((candidate, score));
        }
        if good && !every_candidate {
            break;
        }
    }
    match (best, last_err) {
        (Some(best), _) => Ok(best),
        (None, Some(e)) => Err(e),
        (None, None) => Err(DecodeError::NoKeyframe {
            path: info.path.clone(),
            time_s: 0.0,
            reason: "no keyframes found".into(),
        }),
    }
}

/// The kept frame, its faces, and (when asked for) the planes it was fitted from.
type Finished = (Frame, Option<Vec<Rect>>, Option<crate::av::FittedPlanes>);

/// The kept keyframe as the caller wants it: fitted to the canvas where asked (and possible),
/// otherwise whole; with a face model, also the faces in it (in the returned frame's pixels).
///
/// Faces are found before the colour conversion where the frame can be fitted: on a small copy
/// made straight from the decoder's planes, so the crop can keep them and the frame is still
/// converted only where the canvas shows it, at the canvas size.
fn finish_frame(
    source: &mut Source,
    kept: Candidate,
    fit: Option<FitTo>,
    face_model: Option<&Path>,
    keep_planes: bool,
) -> Result<Finished, DecodeError> {
    let faces_on = |source: &Source, frame: &Frame| -> Result<Option<Vec<Rect>>, DecodeError> {
        face_model.map(|m| frame.pixels.detect_faces(m).map_err(|e| source.convert_error(e))).transpose()
    };
    let raw = match (kept, fit) {
        (Candidate::Raw(raw), Some(fit)) if raw.fits_directly() => {
            let (w, h) = raw.size();
            let faces = face_model.map(|m| source.faces_in_raw(&raw, m)).transpose()?;
            let canvas = (fit.width, fit.height);
            let (crop, scale) =
                crate::composite::cover_crop_keeping((w, h), canvas, faces.as_deref().unwrap_or(&[]));
            let (frame, planes) = source.convert_fitted(raw, crop, canvas, keep_planes)?;
            if (frame.pixels.width(), frame.pixels.height()) != canvas {
                // Converted whole after all: its faces are found on it.
                let faces = faces_on(source, &frame)?;
                return Ok((frame, faces, None));
            }
            let origin = (crop.x as f64, crop.y as f64);
            let faces = faces.map(|faces| crate::composite::faces_on_canvas(&faces, origin, scale));
            return Ok((frame, faces, planes));
        }
        (Candidate::Converted(frame), _) => {
            let faces = faces_on(source, &frame)?;
            return Ok((frame, faces, None));
        }
        (Candidate::Raw(raw), _) => raw,
    };
    let frame = source.convert(raw)?;
    let faces = faces_on(source, &frame)?;
    Ok((frame, faces, None))
}

/// A scored candidate: still in the decoder's format (converted only if it is kept), or
/// already converted for scoring.
enum Candidate {
    Raw(crate::av::RawKeyframe),
    Converted(Frame),
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An H.264 clip of a lavfi source, a keyframe every 10 frames, in `dir`.
    fn h264_clip(dir: &Path, source: &str) -> std::path::PathBuf {
        let clip = dir.join("clip.mp4");
        let made = std::process::Command::new("ffmpeg")
            .args(["-nostdin", "-loglevel", "error", "-f", "lavfi", "-i", source])
            .args(["-pix_fmt", "yuv420p", "-c:v", "libx264", "-g", "10", "-sc_threshold", "0"])
            .arg(&clip)
            .status()
            .expect("ffmpeg runs");
        assert!(made.success(), "ffmpeg could not make {source}");
        clip
    }

    #[test]
    fn the_luma_plane_scores_as_the_converted_frame_does() {
        // auto scores candidates on the decoder's luma plane; the frame it keeps is converted.
        // On a grey clip (no chroma, so no matrix question) both views of the same keyframe
        // must read the same: this checks the plane's rows, stride and video levels.
        let dir = tempfile::tempdir().unwrap();
        let clip = h264_clip(dir.path(), "testsrc2=s=1000x562:r=10:d=2,format=gray");
        let regions = TextRegions {
            canvas: (1080, 1920),
            cover: true,
            boxes: vec![Rect::new(64, 1100, 860, 360)],
            face_model: None,
        };
        let mut source = Source::open(&clip, &Limits::default(), false, HwAccel::None).unwrap();
        let raw = source.raw_keyframe_at(1.0).unwrap();
        let from_plane = FrameScore::of_luma_with_layout(&raw.luma().unwrap(), &regions, 0).unwrap();
        let frame = source.convert(raw).unwrap();
        let from_colour = FrameScore::with_layout(&frame.pixels, &regions).unwrap();
        let close = |a: f64, b: f64, tol: f64| (a - b).abs() <= tol * b.abs().max(1.0);
        let both = format!("{from_plane:?} {from_colour:?}");
        assert!(close(from_plane.mean_luma, from_colour.mean_luma, 0.01), "{both}");
        assert!(close(from_plane.contrast, from_colour.contrast, 0.02), "{both}");
        assert!(close(from_plane.sharpness, from_colour.sharpness, 0.05), "{both}");
        let busy = (from_plane.busy_under_text.unwrap(), from_colour.busy_under_text.unwrap());
        assert!(close(busy.0, busy.1, 0.02), "{both}");
        assert!((from_plane.total - from_colour.total).abs() < 0.01, "{both}");
    }

    #[test]
    fn auto_takes_the_first_good_candidate_and_best_scores_them_all() {
        // A sharp moving pattern at low contrast for 2.5 s (good enough: luma deviation ~29),
        // then at full contrast: auto stops at its first candidate, in the first half; best
        // scores them all and keeps one from the second half.
        let dir = tempfile::tempdir().unwrap();
        let clip = h264_clip(
            dir.path(),
            "testsrc2=s=640x360:r=10:d=5,eq=contrast=0.45+0.55*gte(t\\,2.5):eval=frame",
        );
        let limits = Limits::default();
        let auto = extract(&clip, FrameSpec::Auto, &limits).unwrap();
        let best = extract(&clip, FrameSpec::Best, &limits).unwrap();
        let (auto_score, best_score) = (auto.score.unwrap(), best.score.unwrap());
        assert!(auto_score.good_enough(), "{auto_score:?}");
        assert!(auto.frame.time_s < 2.5, "auto took {} s: {auto_score:?}", auto.frame.time_s);
        assert!(best.frame.time_s >= 2.5, "best took {} s: {best_score:?}", best.frame.time_s);
        assert!(best_score.total > auto_score.total, "{best_score:?} {auto_score:?}");
    }

    #[test]
    fn parses_every_documented_form() {
        assert_eq!("auto".parse::<FrameSpec>().unwrap(), FrameSpec::Auto);
        assert_eq!("best".parse::<FrameSpec>().unwrap(), FrameSpec::Best);
        assert_eq!(FrameSpec::Best.to_string().parse::<FrameSpec>().unwrap(), FrameSpec::Best);
        assert_eq!("5.5s".parse::<FrameSpec>().unwrap(), FrameSpec::Seconds(5.5));
        assert_eq!("5.5".parse::<FrameSpec>().unwrap(), FrameSpec::Seconds(5.5));
        assert_eq!("00:00:05.5".parse::<FrameSpec>().unwrap(), FrameSpec::Seconds(5.5));
        assert_eq!("1:05".parse::<FrameSpec>().unwrap(), FrameSpec::Seconds(65.0));
        assert_eq!("40%".parse::<FrameSpec>().unwrap(), FrameSpec::Percent(40.0));
    }

    #[test]
    fn rejects_nonsense_quoting_it() {
        for bad in ["soon", "-1s", "140%", "1:2:3:4", ""] {
            let e = bad.parse::<FrameSpec>().unwrap_err();
            assert!(e.contains(&format!("`{bad}`")), "{e}");
        }
    }

    #[test]
    fn with_a_layout_the_frame_calm_under_the_text_wins() {
        // Two mirror images: busy checkerboard at the bottom and flat grey at the top, or the
        // reverse. Without a layout they score the same; with a title at the bottom, the one
        // that is calm there wins.
        let half = |busy_bottom: bool| -> Image {
            let rgb: Vec<u8> = (0..128 * 128)
                .flat_map(|i| {
                    let (x, y) = (i % 128, i / 128);
                    let busy = (y >= 64) == busy_bottom;
                    let v = if busy {
                        if (x / 4 + y / 4) % 2 == 0 {
                            30
                        } else {
                            220
                        }
                    } else {
                        120
                    };
                    [v, v, v]
                })
                .collect();
            Image::from_rgb(128, 128, &rgb)
        };
        let (busy_bottom, calm_bottom) = (half(true), half(false));
        let plain = (FrameScore::of(&busy_bottom).unwrap(), FrameScore::of(&calm_bottom).unwrap());
        assert!((plain.0.total - plain.1.total).abs() < 0.02, "{plain:?}");
        let title_at_bottom = TextRegions {
            canvas: (128, 128),
            cover: true,
            boxes: vec![Rect::new(8, 80, 112, 40)],
            face_model: None,
        };
        let a = FrameScore::with_layout(&busy_bottom, &title_at_bottom).unwrap();
        let b = FrameScore::with_layout(&calm_bottom, &title_at_bottom).unwrap();
        assert!(b.total > a.total + 0.05, "{a:?} {b:?}");
        assert!(b.busy_under_text.unwrap() < 5.0 && a.busy_under_text.unwrap() > 50.0);
    }

    #[test]
    fn black_frames_score_below_textured_ones() {
        let black = Image::filled(64, 64, crate::color::Rgba::BLACK);
        let rgb: Vec<u8> = (0..64 * 64)
            .flat_map(|i| {
                let v = if (i / 64 + i % 64) % 2 == 0 { 40 } else { 200 };
                [v, v, v]
            })
            .collect();
        let busy = Image::from_rgb(64, 64, &rgb);
        let sb = FrameScore::of(&black).unwrap();
        let st = FrameScore::of(&busy).unwrap();
        assert!(st.total > 5.0 * sb.total, "{sb:?} {st:?}");
    }
}
