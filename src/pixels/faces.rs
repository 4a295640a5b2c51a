//! Faces: YuNet on a small copy of the whole frame, then a closer look where it half-saw one.
//!
//! The detector sees the frame at about [`FACE_DETECTION_SIDE`] px on its long side (~0.7 ms on
//! one core), which finds faces from about 1/16 of that side. Smaller faces, and faces the
//! copy squeezes (its sides are rounded to multiples of 32), often come back as weak candidates:
//! scores of 0.3–0.85, where faces score above [`FACE_SCORE_THRESHOLD`] and most of what is not a
//! face scores below 0.3. The best few such candidates each get a second look: a square window
//! [`CLOSER_LOOK_SPAN`] times the candidate's size, sampled again from the full frame at the
//! detector's smallest input (64x64, ~0.2 ms), where a face found at the usual threshold counts
//! (docs/benchmarks.md, "Faces at every size"). Frames reach the detector through a
//! [`FrameSampler`]: a BGR image, the decoder's planes or a GPU surface, sampled the same way.

use super::{cv_err, yunet, Image, PixelError};
use crate::color::Rgba;
use crate::model::Rect;
use opencv::core::{self as cv, Mat, MatTraitConst, Size};
use opencv::imgproc;
use std::path::Path;

/// A frame the face detector can take copies of, wherever its pixels are.
pub trait FrameSampler {
    /// The frame's width and height.
    fn frame_size(&self) -> (u32, u32);

    /// A BGR copy of `region` (inside the frame, at least 1x1) at `size` (even sides), each
    /// pixel sampled at the centre of its footprint (a BGR image resizes properly instead when
    /// the copy is not at most half the region's size).
    ///
    /// # Errors
    /// When the pixels cannot be read.
    fn sample(&self, region: Rect, size: (u32, u32)) -> Result<Image, PixelError>;
}

/// Faces in the frame `frame` gives copies of, in its pixels, with their confidence (0–1), most
/// confident first: one look at the whole frame, and a closer look at up to four
/// weak candidates (see the module's comment).
///
/// # Errors
/// When the model cannot be loaded, OpenCV fails or the frame cannot be sampled.
pub fn find_faces(frame: &dyn FrameSampler, model: &Path) -> Result<Vec<(f32, Rect)>, PixelError> {
    let (w, h) = frame.frame_size();
    let whole = Rect::new(0, 0, w.max(1), h.max(1));
    let sampled = frame.sample(whole, face_sample_size(w, h))?;
    let seen = look(sampled, whole, face_detection_size(w, h), model)?;
    let (mut faces, weak): (Vec<_>, Vec<_>) = seen.into_iter().partition(|(s, _)| *s > FACE_SCORE_THRESHOLD);
    let doubtful: Vec<Rect> = weak
        .into_iter()
        .map(|(_, r)| r)
        .filter(|r| !faces.iter().any(|(_, f)| overlap(f, r) > FACE_NMS_THRESHOLD))
        .take(CLOSER_LOOKS)
        .collect();
    for candidate in doubtful {
        let window = closer_look_window(candidate, (w, h));
        let side = CLOSER_LOOK_SIDE;
        // Sampled at twice the detector's size and averaged, as the whole frame is.
        let sample = if window.width >= 2 * side { 2 * side } else { side };
        let sampled = frame.sample(window, (sample, sample))?;
        let seen = look(sampled, window, (side, side), model)?;
        faces.extend(seen.into_iter().filter(|(s, _)| *s > FACE_SCORE_THRESHOLD));
    }
    Ok(suppress(faces))
}

/// The most candidates given a closer look in a frame (each ~0.2 ms on one core).
const CLOSER_LOOKS: usize = 4;
/// The side of a closer look's window, in candidate sizes: the face then spans ~20 of the
/// detector's 64 pixels, where YuNet is surest (1.0 on the test frames; at 4 sizes it dropped to
/// 0.6–0.7, at 2.5 no window of a frame without faces scored above 0.5).
const CLOSER_LOOK_SPAN: f32 = 2.5;
/// The detector's input side for a closer look: its smallest.
const CLOSER_LOOK_SIDE: u32 = 64;
/// The score from which a detection is a candidate for a closer look.
const FACE_CANDIDATE_THRESHOLD: f32 = 0.3;

/// The square window a closer look at `candidate` samples: [`CLOSER_LOOK_SPAN`] times its
/// longer side around its centre, at least the detector's input side (or the frame's shorter
/// side, if less), moved inside the frame.
fn closer_look_window(candidate: Rect, (w, h): (u32, u32)) -> Rect {
    let longer = candidate.width.max(candidate.height) as f32;
    let side = ((longer * CLOSER_LOOK_SPAN).round() as u32).max(CLOSER_LOOK_SIDE).min(w.min(h)).max(1);
    let centre = |at: i32, len: u32| at as i64 + len as i64 / 2;
    let place = |c: i64, frame: u32| (c - side as i64 / 2).clamp(0, frame as i64 - side as i64) as i32;
    let x = place(centre(candidate.x, candidate.width), w);
    let y = place(centre(candidate.y, candidate.height), h);
    Rect::new(x, y, side, side)
}

/// The detector's faces on `sampled`, a copy of `region` of the frame, scaled back to the
/// frame's pixels: all scoring above [`FACE_CANDIDATE_THRESHOLD`], most confident first. The
/// copy is averaged 2x2 to the detector's input size `(dw, dh)` when it was sampled at twice
/// that.
fn look(
    sampled: Image,
    region: Rect,
    (dw, dh): (u32, u32),
    model: &Path,
) -> Result<Vec<(f32, Rect)>, PixelError> {
    let small = if (sampled.width, sampled.height) == (dw, dh) {
        sampled
    } else {
        sampled.crop_resized(sampled.bounds(), dw, dh)?
    };
    let (sx, sy) = (region.width as f64 / dw as f64, region.height as f64 / dh as f64);
    // A portrait copy runs turned on its diagonal through the transposed network: the same
    // faces (tests/faces.rs), at the cost of a landscape copy (~0.6x).
    let transposed = if dh > dw { transposed_face_model(model) } else { None };
    let found = match transposed {
        Some(transposed) => small
            .transposed()?
            .run_face_detector(&transposed)?
            .into_iter()
            .map(|(score, f)| (score, Rect::new(f.y, f.x, f.height, f.width)))
            .collect(),
        _ => small.run_face_detector(model)?,
    };
    Ok(found
        .into_iter()
        .map(|(score, f)| {
            let x0 = region.x + (f.x as f64 * sx).round() as i32;
            let y0 = region.y + (f.y as f64 * sy).round() as i32;
            let x1 = region.x + ((f.x as f64 + f.width as f64) * sx).round() as i32;
            let y1 = region.y + ((f.y as f64 + f.height as f64) * sy).round() as i32;
            (score, Rect::new(x0, y0, (x1 - x0).max(1) as u32, (y1 - y0).max(1) as u32))
        })
        .collect())
}

/// Intersection over union of two boxes.
fn overlap(a: &Rect, b: &Rect) -> f32 {
    let inter = a.intersection(b).map_or(0.0, |i| i.area() as f64);
    (inter / (a.area() as f64 + b.area() as f64 - inter).max(1.0)) as f32
}

/// The faces of both looks as one list: most confident first, each dropped that overlaps a
/// more confident one by more than [`FACE_NMS_THRESHOLD`] (the same face seen twice).
fn suppress(mut faces: Vec<(f32, Rect)>) -> Vec<(f32, Rect)> {
    faces.sort_by(|a, b| b.0.total_cmp(&a.0));
    let mut kept: Vec<(f32, Rect)> = Vec::new();
    for face in faces {
        if kept.len() < FACE_TOP_K && !kept.iter().any(|k| overlap(&k.1, &face.1) > FACE_NMS_THRESHOLD) {
            kept.push(face);
        }
    }
    kept
}

/// A loaded face model: YuNet 2022 (the one we ship) runs in our own implementation, any
/// other model through OpenCV's `FaceDetectorYN`.
enum FaceDetector {
    Own(std::sync::Arc<yunet::YuNet>),
    OpenCv(cv::Ptr<opencv::objdetect::FaceDetectorYN>),
}

/// Our YuNet networks by model path, shared by every thread: reading one through OpenCV's ONNX
/// reader took ~2 ms, which each worker paid on its first cover.
static OWN_NETWORKS: std::sync::LazyLock<
    crate::files::ReadOnce<std::path::PathBuf, Option<std::sync::Arc<yunet::YuNet>>>,
> = std::sync::LazyLock::new(Default::default);

thread_local! {
    /// Face detectors by model path: OpenCV's networks are not shared across threads (ours
    /// are, see [`OWN_NETWORKS`]).
    static DETECTORS: std::cell::RefCell<std::collections::HashMap<std::path::PathBuf, FaceDetector>> =
        Default::default();
}

/// The long side, in pixels, of the copy faces are detected on.
pub const FACE_DETECTION_SIDE: u32 = 160;

/// The size of the copy of a `width` x `height` frame the face detector sees: the long side
/// about [`FACE_DETECTION_SIDE`] (never enlarged), each side a multiple of 32 and at least 64
/// (at 32 YuNet's last pooling has nothing left to pool, and OpenCV fails).
pub fn face_detection_size(width: u32, height: u32) -> (u32, u32) {
    let scale = (FACE_DETECTION_SIDE as f64 / width.max(height) as f64).min(1.0);
    let to_stride = |v: u32| ((v as f64 * scale / 32.0).round() as u32).max(2) * 32;
    (to_stride(width), to_stride(height))
}

/// The size a point-sampled copy of a `width` x `height` frame is made at for the face
/// detector: twice [`face_detection_size`] (averaged 2x2 after, so each pixel the detector sees
/// stands for four samples), or that size itself for small frames.
pub fn face_sample_size(width: u32, height: u32) -> (u32, u32) {
    let (dw, dh) = face_detection_size(width, height);
    if dw * 2 <= width && dh * 2 <= height {
        (dw * 2, dh * 2)
    } else {
        (dw, dh)
    }
}

/// The faces, in pixels of a `frame` of that size, found in one look at `sampled`, a copy of it
/// made at [`face_sample_size`] or at the detector's size: what `cargo bench --bench
/// face_detector` times against OpenCV's detector. Covers use [`find_faces`], which adds the
/// closer looks.
///
/// # Errors
/// When the model cannot be loaded or OpenCV fails.
pub fn faces_in_sample(sampled: Image, (w, h): (u32, u32), model: &Path) -> Result<Vec<Rect>, PixelError> {
    let whole = Rect::new(0, 0, w.max(1), h.max(1));
    let seen = look(sampled, whole, face_detection_size(w, h), model)?;
    Ok(seen.into_iter().filter(|(s, _)| *s > FACE_SCORE_THRESHOLD).map(|(_, r)| r).collect())
}

/// The transposed copy of a YuNet `model` beside it (`<name>_transposed.onnx`, written by
/// `tools/transpose_yunet.py`): the same network for images with x and y swapped. OpenCV's
/// convolutions cost per row, so a portrait copy costs ~1.6x a landscape one of the same
/// pixels (docs/benchmarks.md); turned, it costs the same. `None` when there is none.
pub fn transposed_face_model(model: &Path) -> Option<std::path::PathBuf> {
    let stem = model.file_stem()?.to_str()?;
    let transposed = model.with_file_name(format!("{stem}_transposed.onnx"));
    transposed.is_file().then_some(transposed)
}

/// YuNet's confidence below which a detection is not a face. Set on tests/faces/recall: small
/// true faces there score 0.86-0.92 at this input size, the one false face (a dark wall in a
/// film frame) 0.82; OpenCV's example uses 0.9.
const FACE_SCORE_THRESHOLD: f32 = 0.85;
/// Detections overlapping a better one by more than this (intersection over union) are the
/// same face.
const FACE_NMS_THRESHOLD: f32 = 0.3;
/// At most this many faces a frame.
const FACE_TOP_K: usize = 50;

/// Our YuNet network for `model`, read once for every thread; `None` when it is not YuNet 2022.
fn own_network(model: &Path) -> Option<std::sync::Arc<yunet::YuNet>> {
    let made = OWN_NETWORKS.get_or_try_make(model.to_owned(), || {
        Ok::<_, std::convert::Infallible>(yunet::YuNet::load(model).ok().map(std::sync::Arc::new))
    });
    made.ok().flatten()
}

/// Loads the face model at `model`: our own YuNet 2022 when it is that network, otherwise
/// OpenCV's `FaceDetectorYN` (set up for `size`).
fn load_face_detector(model: &Path, size: (u32, u32)) -> Result<FaceDetector, PixelError> {
    let error = |message: String| PixelError { op: "FaceDetectorYN", message };
    let path = model.to_str().ok_or_else(|| error(format!("{} is not a UTF-8 path", model.display())))?;
    if !model.is_file() {
        return Err(error(format!("{} not found", model.display())));
    }
    if let Some(net) = own_network(model) {
        return Ok(FaceDetector::Own(net));
    }
    let detector = opencv_face_detector(path, size)
        .map_err(|e| error(format!("{} is not a YuNet face model: {}", model.display(), e.message)))?;
    Ok(FaceDetector::OpenCv(detector))
}

/// OpenCV's `FaceDetectorYN` for the model at `path`, with our thresholds, set up for `size`.
fn opencv_face_detector(
    path: &str,
    size: (u32, u32),
) -> opencv::Result<cv::Ptr<opencv::objdetect::FaceDetectorYN>> {
    opencv::objdetect::FaceDetectorYN::create(
        path,
        "",
        Size::new(size.0 as i32, size.1 as i32),
        FACE_CANDIDATE_THRESHOLD,
        FACE_NMS_THRESHOLD,
        FACE_TOP_K as i32,
        0,
        0,
    )
}

impl Image {
    /// Faces found by the YuNet model at `model` (OpenCV's `FaceDetectorYN`), in this image's
    /// pixels, most confident first.
    ///
    /// The detector sees a copy whose long side is about [`FACE_DETECTION_SIDE`] px, each side
    /// rounded to a multiple of 32 (YuNet's coarsest stride: other sizes shift its anchors and
    /// it starts finding faces in gravel). Rounding stretches the picture a little instead of
    /// padding it, which would cost detector time on black. YuNet needs about 12 px of that
    /// copy, so faces from about 1/12 of the frame's long side (160 px of a 1080p frame), at
    /// about 4 ms a frame on one core (docs/benchmarks.md).
    ///
    /// # Errors
    /// When the model cannot be loaded or OpenCV fails.
    pub fn detect_faces(&self, model: &Path) -> Result<Vec<Rect>, PixelError> {
        Ok(self.detect_faces_scored(model)?.into_iter().map(|(_, r)| r).collect())
    }

    /// As [`Image::detect_faces`], with each face's confidence (0–1).
    ///
    /// # Errors
    /// As [`Image::detect_faces`].
    pub fn detect_faces_scored(&self, model: &Path) -> Result<Vec<(f32, Rect)>, PixelError> {
        find_faces(self, model)
    }

    /// YuNet's faces in this image, which must already be at the detector's input size (see
    /// [`face_detection_size`]), in its pixels, most confident first: all candidates scoring
    /// above [`FACE_CANDIDATE_THRESHOLD`].
    fn run_face_detector(&self, model: &Path) -> Result<Vec<(f32, Rect)>, PixelError> {
        let (w, h) = (self.width, self.height);
        DETECTORS.with(|cache| {
            let mut cache = cache.borrow_mut();
            if !cache.contains_key(model) {
                cache.insert(model.to_owned(), load_face_detector(model, (w, h))?);
            }
            let found = match cache.get_mut(model).expect("just inserted") {
                FaceDetector::Own(net) => net.detect(
                    &self.bgr,
                    (w as usize, h as usize),
                    FACE_CANDIDATE_THRESHOLD,
                    FACE_NMS_THRESHOLD,
                    FACE_TOP_K,
                ),
                FaceDetector::OpenCv(detector) => self.faces_by_opencv(detector)?,
            };
            let mut faces = Vec::new();
            for (score, [x, y, fw, fh]) in found {
                let [x, y, fw, fh] = [x, y, fw, fh].map(f64::from);
                let (x0, y0) = (x.max(0.0), y.max(0.0));
                let x1 = (x + fw).min(w as f64);
                let y1 = (y + fh).min(h as f64);
                if x1 > x0 && y1 > y0 {
                    let r = Rect::new(
                        x0.round() as i32,
                        y0.round() as i32,
                        (x1 - x0).round() as u32,
                        (y1 - y0).round() as u32,
                    );
                    faces.push((score, r));
                }
            }
            faces.sort_by(|a, b| b.0.total_cmp(&a.0));
            Ok(faces)
        })
    }

    /// OpenCV's `FaceDetectorYN` on this image: (score, [x, y, width, height]) a face.
    fn faces_by_opencv(
        &self,
        detector: &mut cv::Ptr<opencv::objdetect::FaceDetectorYN>,
    ) -> Result<Vec<(f32, [f32; 4])>, PixelError> {
        use opencv::objdetect::FaceDetectorYNTrait;
        detector
            .set_input_size(Size::new(self.width as i32, self.height as i32))
            .map_err(cv_err("FaceDetectorYN"))?;
        let mut found = Mat::default();
        detector.detect(&self.mat()?, &mut found).map_err(cv_err("FaceDetectorYN"))?;
        // One row per face: x, y, width, height, five landmarks (x, y), score.
        (0..found.rows())
            .map(|row| {
                let v = |col: i32| found.at_2d::<f32>(row, col).copied().map_err(cv_err("FaceDetectorYN"));
                Ok((v(14)?, [v(0)?, v(1)?, v(2)?, v(3)?]))
            })
            .collect()
    }
}

impl FrameSampler for Image {
    fn frame_size(&self) -> (u32, u32) {
        (self.width, self.height)
    }

    fn sample(&self, region: Rect, (sw, sh): (u32, u32)) -> Result<Image, PixelError> {
        if sw * 2 > region.width || sh * 2 > region.height {
            // Little to shrink: one proper resize.
            return self.crop_resized(region, sw, sh);
        }
        // Point-sampled (averaged 2x2 after, as the decoder's planes are): OpenCV's area resize
        // straight from 1080p to the detector's size took 4 ms, more than the detector.
        let mut sampled = Image::filled(sw, sh, Rgba::BLACK);
        let rows = self.mat()?;
        let roi =
            Mat::roi(&rows, cv::Rect::new(region.x, region.y, region.width as i32, region.height as i32))
                .map_err(cv_err("region"))?;
        let size = Size::new(sw as i32, sh as i32);
        imgproc::resize(&roi, &mut sampled.mat_mut()?, size, 0.0, 0.0, imgproc::INTER_NEAREST)
            .map_err(cv_err("resize"))?;
        Ok(sampled)
    }
}

/// A `width` x `height` BGR picture point-sampled from `region` of the three planes (data,
/// stride) of an 8-bit 4:2:0 frame of `frame_w` x `frame_h`: a rough small copy for the face
/// detector, made without a scaler (setting one up cost more than the sampling) and without
/// converting the frame. `width` and `height` must be even; `region` inside the frame.
///
/// # Errors
/// When a plane is shorter than the frame says, or OpenCV fails.
pub fn bgr_sampled_from_i420(
    planes: [(&[u8], usize); 3],
    (frame_w, frame_h): (u32, u32),
    region: Rect,
    (width, height): (u32, u32),
) -> Result<Image, PixelError> {
    let bad = |message: String| PixelError { op: "sample planes", message };
    if width % 2 == 1 || height % 2 == 1 || width == 0 || height == 0 {
        return Err(bad(format!("{width}x{height} is not even")));
    }
    if region.x < 0 || region.y < 0 || region.right() > frame_w as i64 || region.bottom() > frame_h as i64 {
        return Err(bad(format!("{region:?} is not inside the {frame_w}x{frame_h} frame")));
    }
    let (w, h) = (width as usize, height as usize);
    let mut i420 = vec![0u8; w * h * 3 / 2];
    let (luma, chroma) = i420.split_at_mut(w * h);
    let (u, v) = chroma.split_at_mut(w * h / 4);
    // The region on each plane: (first column, columns, first row, rows, plane width).
    let (x, y) = (region.x as usize, region.y as usize);
    let (rw, rh) = (region.width as usize, region.height as usize);
    let on_luma = (x, rw, y, rh, frame_w as usize);
    let half = |at: usize, len: usize| (at / 2, ((at + len).div_ceil(2) - at / 2).max(1));
    let ((cx, cw), (cy, ch)) = (half(x, rw), half(y, rh));
    let on_chroma = (cx, cw, cy, ch, frame_w.div_ceil(2) as usize);
    let targets: [(&mut [u8], usize, usize, _); 3] =
        [(luma, w, h, on_luma), (u, w / 2, h / 2, on_chroma), (v, w / 2, h / 2, on_chroma)];
    for ((dst, dw, dh, (x0, cols, y0, rows, plane_w)), (src, stride)) in targets.into_iter().zip(planes) {
        // The centre of each output pixel's footprint.
        let xs: Vec<usize> = (0..dw).map(|x| x0 + ((2 * x + 1) * cols) / (2 * dw)).collect();
        for y in 0..dh {
            let sy = y0 + ((2 * y + 1) * rows) / (2 * dh);
            let row = src
                .get(sy * stride..sy * stride + plane_w)
                .ok_or_else(|| bad(format!("a plane ends before row {sy}")))?;
            for (out, &sx) in dst[y * dw..(y + 1) * dw].iter_mut().zip(&xs) {
                *out = row[sx];
            }
        }
    }
    bgr_from_420(&i420, (width, height), imgproc::COLOR_YUV2BGR_I420)
}

/// BGR from a packed 4:2:0 picture (`code`: OpenCV's I420 or NV12 conversion; BT.601 levels,
/// close enough for the face detector).
fn bgr_from_420(yuv: &[u8], (width, height): (u32, u32), code: i32) -> Result<Image, PixelError> {
    let yuv = Mat::new_rows_cols_with_bytes::<u8>(height as i32 * 3 / 2, width as i32, yuv)
        .map_err(cv_err("borrow planes"))?;
    let mut out = Image::filled(width, height, Rgba::BLACK);
    imgproc::cvt_color(&yuv, &mut out.mat_mut()?, code, 0).map_err(cv_err("cvtColor"))?;
    Ok(out)
}

/// Which rows of a plane of `plane_rows` a sampled copy `wanted` rows high reads: every
/// `step`-th row from `start`, `count` of them, spread over the whole plane (the step is whole,
/// so usually a few more rows than wanted are read). Returns (start, step, count).
pub fn sampled_rows(plane_rows: usize, wanted: usize) -> (usize, usize, usize) {
    let step = (plane_rows / wanted.max(1)).max(1);
    let start = step / 2;
    let count = if plane_rows > start { (plane_rows - 1 - start) / step + 1 } else { 1 };
    (start.min(plane_rows.saturating_sub(1)), step, count)
}

/// A `width` x `height` BGR picture point-sampled from rows of an NV12 frame already picked
/// (evenly spaced over the region wanted): `luma` holds `rows` packed rows of the luma plane,
/// `chroma` those of the interleaved chroma plane; `columns` (first, count) are the region's
/// columns in luma pixels. The face detector's copy of a frame on the GPU. `width` and `height`
/// must be even.
///
/// # Errors
/// When the sizes do not match the buffers, or OpenCV fails.
pub fn bgr_sampled_from_nv12(
    (luma, luma_bytes, luma_rows): (&[u8], usize, usize),
    (chroma, chroma_bytes, chroma_rows): (&[u8], usize, usize),
    (x0, cols): (usize, usize),
    (width, height): (u32, u32),
) -> Result<Image, PixelError> {
    let bad = |message: String| PixelError { op: "sample planes", message };
    if width % 2 == 1 || height % 2 == 1 || width == 0 || height == 0 {
        return Err(bad(format!("{width}x{height} is not even")));
    }
    if luma.len() < luma_bytes * luma_rows
        || chroma.len() < chroma_bytes * chroma_rows
        || luma_rows == 0
        || chroma_rows == 0
    {
        return Err(bad("plane rows missing".into()));
    }
    if cols == 0 || x0 + cols > luma_bytes || (x0 + cols).div_ceil(2) * 2 > chroma_bytes {
        return Err(bad(format!("columns {x0}+{cols} are not inside the rows")));
    }
    let (w, h) = (width as usize, height as usize);
    let mut nv12 = vec![0u8; w * h * 3 / 2];
    let (y_out, uv_out) = nv12.split_at_mut(w * h);
    let pick = |i: usize, out: usize, of: usize| ((2 * i + 1) * of) / (2 * out);
    let luma_xs: Vec<usize> = (0..w).map(|x| x0 + pick(x, w, cols)).collect();
    for (y, out) in y_out.chunks_exact_mut(w).enumerate() {
        let row = &luma[pick(y, h, luma_rows) * luma_bytes..][..luma_bytes];
        for (o, &x) in out.iter_mut().zip(&luma_xs) {
            *o = row[x];
        }
    }
    let (first_pair, pairs) = (x0 / 2, ((x0 + cols).div_ceil(2) - x0 / 2).max(1));
    let chroma_xs: Vec<usize> = (0..w / 2).map(|x| (first_pair + pick(x, w / 2, pairs)) * 2).collect();
    for (y, out) in uv_out.chunks_exact_mut(w).enumerate() {
        let row = &chroma[pick(y, h / 2, chroma_rows) * chroma_bytes..][..chroma_bytes];
        for (o, &x) in out.chunks_exact_mut(2).zip(&chroma_xs) {
            o.copy_from_slice(&row[x..x + 2]);
        }
    }
    bgr_from_420(&nv12, (width, height), imgproc::COLOR_YUV2BGR_NV12)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Our YuNet against OpenCV's `FaceDetectorYN` on every frame of tests/faces/recall, at the
    /// detector's input size (landscape, and turned through the transposed model): the same
    /// faces, scores within 0.002 and boxes within half a pixel (only float rounding differs).
    #[test]
    fn our_yunet_finds_what_opencvs_face_detector_finds() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let model = root.join("assets/face_detection_yunet_2022mar.onnx");
        let transposed = transposed_face_model(&model).expect("the transposed model is shipped");
        let mut compared = 0;
        let mut faces_seen = 0;
        for entry in std::fs::read_dir(root.join("tests/faces/recall")).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().and_then(|e| e.to_str()) != Some("jpg") {
                continue;
            }
            let frame = Image::load(&path).unwrap();
            let (dw, dh) = face_detection_size(frame.width, frame.height);
            let small = frame.crop_resized(frame.bounds(), dw, dh).unwrap();
            for (image, model) in [(small.clone(), &model), (small.transposed().unwrap(), &transposed)] {
                let (w, h) = (image.width, image.height);
                let ours = yunet::YuNet::load(model).unwrap().detect(
                    &image.bgr,
                    (w as usize, h as usize),
                    FACE_CANDIDATE_THRESHOLD,
                    FACE_NMS_THRESHOLD,
                    FACE_TOP_K,
                );
                let mut opencv = opencv_face_detector(model.to_str().unwrap(), (w, h)).unwrap();
                let mut theirs = image.faces_by_opencv(&mut opencv).unwrap();
                theirs.sort_by(|a, b| b.0.total_cmp(&a.0));
                let what = format!("{} ({w}x{h}): ours {ours:?}, OpenCV's {theirs:?}", path.display());
                assert_eq!(ours.len(), theirs.len(), "{what}");
                for ((s1, b1), (s2, b2)) in ours.iter().zip(&theirs) {
                    assert!((s1 - s2).abs() < 0.002, "{what}");
                    assert!(b1.iter().zip(b2).all(|(a, b)| (a - b).abs() < 0.5), "{what}");
                }
                compared += 1;
                faces_seen += ours.len();
            }
        }
        assert!(compared >= 60 && faces_seen >= 20, "{compared} pictures, {faces_seen} faces");
    }

    #[test]
    fn a_face_model_that_is_missing_or_not_a_network_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let image = Image::filled(160, 96, Rgba::BLACK);
        let missing = dir.path().join("missing.onnx");
        let e = image.detect_faces(&missing).unwrap_err().to_string();
        assert!(e.contains("missing.onnx") && e.contains("not found"), "{e}");
        let garbage = dir.path().join("garbage.onnx");
        std::fs::write(&garbage, b"not a network").unwrap();
        assert!(yunet::YuNet::load(&garbage).is_err());
        let e = image.detect_faces(&garbage).unwrap_err().to_string();
        assert!(e.contains("garbage.onnx") && e.contains("is not a YuNet face model"), "{e}");
    }
}
