//! The OpenCV seam: 8-bit images and every per-pixel operation the compositor needs.
//!
//! Invariants:
//! - [`Image`] holds opaque 8-bit pixels, tightly packed, in OpenCV's BGR order. The channel order
//!   never leaves this module: callers read and write [`Rgba`] colours or RGB bytes.
//! - [`Overlay`] holds straight-alpha BGRA pixels (logos, watermarks).
//! - [`Mask`] holds 8-bit coverage (0 = none, 255 = full), e.g. rasterised glyphs.
//! - OpenCV only ever borrows our buffers (`Mat::new_rows_cols_with_bytes*`), so there is exactly
//!   one owner of pixel memory and no `unsafe` for OpenCV here. The only `unsafe` outside `av`
//!   is in two small `avx2` modules (here and in `yunet`): calling code built for an
//!   instruction set after checking the CPU has it, and the face detector's vector loads and
//!   stores inside bounds asserted before them.

use crate::color::Rgba;
use crate::model::Rect;
use opencv::core::{self as cv, Mat, MatTraitConst, MatTraitConstManual, Size, Vec3b, Vec4b, Vector};
use opencv::imgproc;
use std::path::Path;

/// An OpenCV failure inside the seam; the message is OpenCV's.
#[derive(Debug, thiserror::Error)]
#[error("OpenCV {op} failed: {message}")]
pub struct PixelError {
    /// Which operation failed.
    pub op: &'static str,
    /// OpenCV's message.
    pub message: String,
}

fn cv_err(op: &'static str) -> impl FnOnce(opencv::Error) -> PixelError {
    move |e| PixelError { op, message: e.message }
}

mod faces;
pub(crate) mod resample;
mod yunet;

pub use faces::{
    bgr_sampled_from_i420, bgr_sampled_from_nv12, face_detection_size, face_sample_size, faces_in_sample,
    find_faces, sampled_rows, transposed_face_model, FrameSampler, FACE_DETECTION_SIDE,
};
/// Makes OpenCV run each call on the calling thread. Batch workers are already one per core;
/// OpenCV's own pool on top would only oversubscribe the CPU.
pub fn opencv_single_threaded() {
    let _ = cv::set_num_threads(1);
}

/// Copies `rows` rows of `row_bytes` bytes out of a strided buffer into a packed `Vec`.
///
/// This is the one place frames leave FFmpeg or OpenCV memory: decoded frames are padded
/// (`stride >= row_bytes`), so a plain `to_vec()` would shear the picture.
///
/// # Panics
/// If `src` is shorter than the rows it claims to hold (a caller bug, not an input problem).
pub fn copy_strided(src: &[u8], stride: usize, row_bytes: usize, rows: usize) -> Vec<u8> {
    assert!(stride >= row_bytes, "stride {stride} < row bytes {row_bytes}");
    let mut out = Vec::with_capacity(row_bytes * rows);
    for row in src.chunks(stride).take(rows) {
        out.extend_from_slice(&row[..row_bytes]);
    }
    assert_eq!(out.len(), row_bytes * rows, "strided source too short");
    out
}

/// Overlays as per-pixel coverage and premultiplied colour, drawn over any frame in one pass.
///
/// Built from the same overlays drawn over black (`b`) and over white (`w`): for an "over"
/// blend, `b = α·c` and `w = α·c + (1 − α)·255`, so `1 − α = (w − b) / 255` per channel.
#[derive(Clone)]
pub struct Plate {
    width: u32,
    height: u32,
    /// Premultiplied BGR (the over-black picture).
    premultiplied: Vec<u8>,
    /// `255 · (1 − α)` per channel.
    see_through: Vec<u8>,
}

impl Plate {
    /// The plate of overlays drawn over black and over white.
    ///
    /// # Panics
    /// If the two images differ in size.
    pub fn from_black_and_white(over_black: &Image, over_white: &Image) -> Self {
        assert_eq!((over_black.width, over_black.height), (over_white.width, over_white.height));
        let see_through =
            over_black.bgr.iter().zip(&over_white.bgr).map(|(&b, &w)| w.saturating_sub(b)).collect();
        Plate {
            width: over_black.width,
            height: over_black.height,
            premultiplied: over_black.bgr.clone(),
            see_through,
        }
    }
}

/// An opaque 8-bit colour image (frame or canvas).
#[derive(Clone, PartialEq)]
pub struct Image {
    width: u32,
    height: u32,
    /// Packed BGR, `width * 3` bytes a row.
    bgr: Vec<u8>,
}

impl std::fmt::Debug for Image {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Image({}x{})", self.width, self.height)
    }
}

pub use crate::model::QuarterTurn;

impl Image {
    /// A `width`×`height` image filled with `fill` (alpha ignored).
    pub fn filled(width: u32, height: u32, fill: Rgba) -> Self {
        let n = width as usize * height as usize;
        let bgr = if fill.r == fill.g && fill.g == fill.b {
            vec![fill.r; n * 3]
        } else {
            [fill.b, fill.g, fill.r].repeat(n)
        };
        Image { width, height, bgr }
    }

    /// Builds an image from packed RGB bytes.
    ///
    /// # Panics
    /// If `rgb.len() != width * height * 3`.
    pub fn from_rgb(width: u32, height: u32, rgb: &[u8]) -> Self {
        assert_eq!(rgb.len(), width as usize * height as usize * 3);
        let bgr = rgb.chunks_exact(3).flat_map(|p| [p[2], p[1], p[0]]).collect();
        Image { width, height, bgr }
    }

    /// Builds an image from BGR rows with a row stride (FFmpeg's `BGR24` frames).
    #[cfg(test)]
    pub(crate) fn from_bgr_strided(width: u32, height: u32, data: &[u8], stride: usize) -> Self {
        let bgr = copy_strided(data, stride, width as usize * 3, height as usize);
        Image { width, height, bgr }
    }

    /// Width in pixels.
    pub fn width(&self) -> u32 {
        self.width
    }

    /// Height in pixels.
    pub fn height(&self) -> u32 {
        self.height
    }

    /// The packed BGR bytes (for caches that store frames losslessly).
    pub(crate) fn bgr_bytes(&self) -> &[u8] {
        &self.bgr
    }

    /// Rebuilds an image from [`Image::bgr_bytes`]; `None` when the length does not match.
    pub(crate) fn from_bgr_bytes(width: u32, height: u32, bgr: Vec<u8>) -> Option<Self> {
        (bgr.len() == width as usize * height as usize * 3).then_some(Image { width, height, bgr })
    }

    /// Draws a [`Plate`] over the image: `out = frame · (1 − α) + premultiplied`.
    ///
    /// # Panics
    /// If the plate's size differs from the image's.
    pub fn apply_plate(&mut self, plate: &Plate) {
        assert_eq!((self.width, self.height), (plate.width, plate.height));
        for ((px, &k), &p) in self.bgr.iter_mut().zip(&plate.see_through).zip(&plate.premultiplied) {
            // Rounded division by 255 without a divide.
            let v = u32::from(*px) * u32::from(k) + 128;
            *px = (((v + (v >> 8)) >> 8) + u32::from(p)).min(255) as u8;
        }
    }

    /// The colour at (x, y).
    ///
    /// # Panics
    /// If (x, y) is outside the image.
    pub fn pixel(&self, x: u32, y: u32) -> Rgba {
        assert!(x < self.width && y < self.height);
        let i = (y as usize * self.width as usize + x as usize) * 3;
        Rgba::rgb(self.bgr[i + 2], self.bgr[i + 1], self.bgr[i])
    }

    /// Packed RGB bytes, row by row.
    pub fn to_rgb(&self) -> Vec<u8> {
        self.bgr.chunks_exact(3).flat_map(|p| [p[2], p[1], p[0]]).collect()
    }

    fn mat(&self) -> Result<opencv::boxed_ref::BoxedRef<'_, Mat>, PixelError> {
        Mat::new_rows_cols_with_bytes::<Vec3b>(self.height as i32, self.width as i32, &self.bgr)
            .map_err(cv_err("borrow image"))
    }

    fn mat_mut(&mut self) -> Result<opencv::boxed_ref::BoxedRefMut<'_, Mat>, PixelError> {
        Mat::new_rows_cols_with_bytes_mut::<Vec3b>(self.height as i32, self.width as i32, &mut self.bgr)
            .map_err(cv_err("borrow image"))
    }

    /// Reads a PNG, JPEG, WebP or BMP file as an opaque image (alpha is dropped), turned
    /// upright as its EXIF orientation says.
    ///
    /// # Errors
    /// When the file cannot be read or decoded.
    pub fn load(path: &Path) -> Result<Self, PixelError> {
        let bytes = std::fs::read(path)
            .map_err(|e| PixelError { op: "read", message: format!("{}: {e}", path.display()) })?;
        let rgb = decode_any(&bytes)
            .map_err(|message| PixelError {
                op: "decode",
                message: format!("{}: {message}", path.display()),
            })?
            .into_rgb8();
        Ok(Image::from_rgb(rgb.width(), rgb.height(), rgb.as_raw()))
    }

    /// Encodes the image as PNG (fast zlib settings: most of the size win at a fraction of
    /// the time).
    ///
    /// # Errors
    /// When the PNG encoder fails.
    pub fn encode_png(&self) -> Result<Vec<u8>, PixelError> {
        use image::codecs::png::{CompressionType, FilterType, PngEncoder};
        use image::ImageEncoder;
        let mut out = Vec::new();
        PngEncoder::new_with_quality(&mut out, CompressionType::Fast, FilterType::Adaptive)
            .write_image(&self.to_rgb(), self.width, self.height, image::ExtendedColorType::Rgb8)
            .map_err(|e| PixelError { op: "PNG encode", message: e.to_string() })?;
        Ok(out)
    }

    /// Turns the image by quarter turns.
    ///
    /// # Errors
    /// Only on an OpenCV failure.
    pub fn rotated(self, turn: QuarterTurn) -> Result<Self, PixelError> {
        let (code, w, h) = match turn {
            QuarterTurn::None => return Ok(self),
            QuarterTurn::Clockwise => (cv::ROTATE_90_CLOCKWISE, self.height, self.width),
            QuarterTurn::Half => (cv::ROTATE_180, self.width, self.height),
            QuarterTurn::CounterClockwise => (cv::ROTATE_90_COUNTERCLOCKWISE, self.height, self.width),
        };
        let mut out = Image::filled(w, h, Rgba::BLACK);
        cv::rotate(&self.mat()?, &mut out.mat_mut()?, code).map_err(cv_err("rotate"))?;
        Ok(out)
    }

    /// The whole image as a rectangle at the origin.
    pub fn bounds(&self) -> Rect {
        Rect::new(0, 0, self.width, self.height)
    }

    /// Copies the `crop` rectangle (inside the image) and resizes it to `width`×`height`, with area
    /// averaging when shrinking (no aliasing) and bilinear filtering when enlarging.
    ///
    /// # Errors
    /// Only on an OpenCV failure.
    pub fn crop_resized(&self, crop: Rect, width: u32, height: u32) -> Result<Self, PixelError> {
        // A frame fitted at decode time is already the canvas.
        if crop == self.bounds() && (width, height) == (self.width, self.height) {
            return Ok(self.clone());
        }
        let src = self.mat()?;
        let roi = Mat::roi(&src, cv::Rect::new(crop.x, crop.y, crop.width as i32, crop.height as i32))
            .map_err(cv_err("crop"))?;
        let shrinking = width < crop.width || height < crop.height;
        // Bilinear when enlarging: bicubic is several times slower and no sharper on video.
        let interpolation = if shrinking { imgproc::INTER_AREA } else { imgproc::INTER_LINEAR };
        let mut out = Image::filled(width, height, Rgba::BLACK);
        imgproc::resize(
            &roi,
            &mut out.mat_mut()?,
            Size::new(width as i32, height as i32),
            0.0,
            0.0,
            interpolation,
        )
        .map_err(cv_err("resize"))?;
        Ok(out)
    }

    /// This image turned on its diagonal (x and y swapped): `height` x `width`.
    ///
    /// # Errors
    /// Only on an OpenCV failure.
    pub fn transposed(&self) -> Result<Self, PixelError> {
        let mut out = Image::filled(self.height, self.width, Rgba::BLACK);
        cv::transpose(&self.mat()?, &mut out.mat_mut()?).map_err(cv_err("transpose"))?;
        Ok(out)
    }

    /// Luma (BT.601) of the image shrunk to at most `max_width` wide, for frame scoring.
    ///
    /// # Errors
    /// Only on an OpenCV failure.
    pub fn small_luma(&self, max_width: u32) -> Result<Mask, PixelError> {
        let scale = (max_width as f64 / self.width as f64).min(1.0);
        let w = ((self.width as f64 * scale).round() as u32).max(1);
        let h = ((self.height as f64 * scale).round() as u32).max(1);
        let small = self.crop_resized(self.bounds(), w, h)?;
        let mut gray = Mask::new(w, h);
        imgproc::cvt_color(&small.mat()?, &mut gray.mat_mut()?, imgproc::COLOR_BGR2GRAY, 0)
            .map_err(cv_err("cvtColor"))?;
        Ok(gray)
    }

    /// Luma (BT.601) at full size.
    ///
    /// # Errors
    /// Only on an OpenCV failure.
    pub fn luma(&self) -> Result<Mask, PixelError> {
        let mut gray = Mask::new(self.width, self.height);
        imgproc::cvt_color(&self.mat()?, &mut gray.mat_mut()?, imgproc::COLOR_BGR2GRAY, 0)
            .map_err(cv_err("cvtColor"))?;
        Ok(gray)
    }

    /// Blends `color` into the image through `mask` placed with its top-left at (x, y).
    /// The effective alpha of a pixel is `mask * color.a`, rounded to 8 bits. Parts outside
    /// the image are clipped.
    pub fn blend_mask(&mut self, mask: &Mask, x: i32, y: i32, color: Rgba) {
        let src = [color.b, color.g, color.r];
        let mw = mask.width as usize;
        self.clipped_rows(x, y, mask.width, mask.height, |span, my, mx0| {
            let coverage = &mask.data[my * mw + mx0..][..span.len() / 3];
            blend_row_mask(span, coverage, src, color.a);
        });
    }

    /// Blends `color_of(row)` through `mask` at (x, y), a colour per mask row (a vertical
    /// gradient fill).
    pub fn blend_mask_rows(&mut self, mask: &Mask, x: i32, y: i32, color_of: &dyn Fn(usize) -> Rgba) {
        let mw = mask.width as usize;
        self.clipped_rows(x, y, mask.width, mask.height, |span, my, mx0| {
            let color = color_of(my);
            let coverage = &mask.data[my * mw + mx0..][..span.len() / 3];
            blend_row_mask(span, coverage, [color.b, color.g, color.r], color.a);
        });
    }

    /// Fills a rectangle with `color`, blending by its alpha. Clipped to the image.
    pub fn fill_rect(&mut self, rect: Rect, color: Rgba) {
        let src = [color.b, color.g, color.r];
        let a = color.a;
        self.clipped_rows(rect.x, rect.y, rect.width, rect.height, |span, _, _| {
            blend_row_const(span, src, a)
        });
    }

    /// Blends a linear gradient from `from` to `to` over a rectangle; `vertical` runs top to
    /// bottom, otherwise left to right. Colours and alpha are interpolated.
    pub fn fill_gradient(&mut self, rect: Rect, vertical: bool, from: Rgba, to: Rgba) {
        let Rect { x, y, width: w, height: h } = rect;
        let steps = if vertical { h } else { w }.max(2) - 1;
        // One interpolated colour per row (or column): cheap, and exact for a linear ramp.
        let ramp: Vec<([u8; 3], u32)> = (0..=steps)
            .map(|i| {
                let t = i as f32 / steps as f32;
                let mix = |a: u8, b: u8| (a as f32 + (b as f32 - a as f32) * t).round() as u8;
                ([mix(from.b, to.b), mix(from.g, to.g), mix(from.r, to.r)], mix(from.a, to.a) as u32)
            })
            .collect();
        self.clipped_rows(x, y, w, h, |span, my, mx0| {
            if vertical {
                let (src, a) = ramp[my.min(steps as usize)];
                blend_row_const(span, src, a as u8);
            } else {
                for (dst, &(src, a)) in span.chunks_exact_mut(3).zip(&ramp[mx0..]) {
                    blend_px(dst, src, a, 255);
                }
            }
        });
    }

    /// Draws `overlay` with its top-left at (x, y), multiplying its alpha by `opacity` (0–1).
    pub fn draw_overlay(&mut self, overlay: &Overlay, x: i32, y: i32, opacity: f32) {
        let k = (opacity.clamp(0.0, 1.0) * 255.0).round() as u32;
        let ow = overlay.width as usize;
        self.clipped_rows(x, y, overlay.width, overlay.height, |span, my, mx0| {
            let src = &overlay.bgra[(my * ow + mx0) * 4..][..span.len() / 3 * 4];
            for (dst, p) in span.chunks_exact_mut(3).zip(src.chunks_exact(4)) {
                blend_px(dst, [p[0], p[1], p[2]], p[3] as u32 * k, 255 * 255);
            }
        });
    }

    /// The part of the image inside `rect` (clipped), as a new image.
    pub fn clone_region(&self, rect: Rect) -> Image {
        let (x0, y0) = (rect.x.max(0) as u32, rect.y.max(0) as u32);
        let x1 = rect.right().clamp(0, self.width as i64) as u32;
        let y1 = rect.bottom().clamp(0, self.height as i64) as u32;
        let (w, h) = (x1.saturating_sub(x0), y1.saturating_sub(y0));
        let mut bgr = Vec::with_capacity(w as usize * h as usize * 3);
        for y in y0..y0 + h {
            let row = (y as usize * self.width as usize + x0 as usize) * 3;
            bgr.extend_from_slice(&self.bgr[row..row + w as usize * 3]);
        }
        Image { width: w, height: h, bgr }
    }

    /// Every `step`-th pixel of every `step`-th row: a cheap sample for statistics.
    pub fn sampled(&self, step: u32) -> Image {
        self.sampled_region(self.bounds(), step)
    }

    /// Every `step`-th pixel of every `step`-th row of the part of the image inside `rect`
    /// (clipped), without copying the region first.
    pub fn sampled_region(&self, rect: Rect, step: u32) -> Image {
        let step = step.max(1) as usize;
        let x0 = rect.x.clamp(0, self.width as i32) as usize;
        let x1 = (rect.right().clamp(0, self.width as i64) as usize).max(x0);
        let y0 = rect.y.clamp(0, self.height as i32) as usize;
        let y1 = (rect.bottom().clamp(0, self.height as i64) as usize).max(y0);
        let (sw, sh) = ((x1 - x0).div_ceil(step), (y1 - y0).div_ceil(step));
        let row_bytes = self.width as usize * 3;
        let mut bgr = Vec::with_capacity(sw * sh * 3);
        for y in (y0..y1).step_by(step) {
            let row = &self.bgr[y * row_bytes..][x0 * 3..x1 * 3];
            for px in row.chunks_exact(3).step_by(step) {
                bgr.extend_from_slice(px);
            }
        }
        Image { width: sw as u32, height: sh as u32, bgr }
    }

    /// The `lo` and `hi` quantiles (0–1) of WCAG relative luminance over `rect` (clipped):
    /// e.g. (0.1, 0.9) gives the darkest and brightest tenth, robust to a few stray pixels.
    /// An empty area reads as mid-grey.
    pub fn luminance_percentiles(&self, rect: Rect, lo: f64, hi: f64) -> (f64, f64) {
        let same: [u8; 256] = std::array::from_fn(|v| v as u8);
        self.luminance_percentiles_with_channels(rect, lo, hi, &[same, same, same])
    }

    /// As [`Image::luminance_percentiles`] of this image with `scrim` blended over `rect` as
    /// [`Image::fill_rect`] blends it, without blending anything: each byte goes through the
    /// blend on its way into the luminance (what `auto` colour tries for each scrim strength).
    pub fn luminance_percentiles_under(&self, rect: Rect, lo: f64, hi: f64, scrim: Rgba) -> (f64, f64) {
        // Each byte value of each channel as `fill_rect` leaves it (`blend_px` is the blend
        // `blend_row_const` reproduces exactly).
        let src = [scrim.b, scrim.g, scrim.r];
        let mut blended = [[0u8; 256]; 3];
        for v in 0..=255u8 {
            let mut px = [v; 3];
            blend_px(&mut px, src, scrim.a as u32, 255);
            for c in 0..3 {
                blended[c][v as usize] = px[c];
            }
        }
        self.luminance_percentiles_with_channels(rect, lo, hi, &blended)
    }

    /// The percentiles with each pixel's B, G and R bytes first mapped through `bytes`.
    fn luminance_percentiles_with_channels(
        &self,
        rect: Rect,
        lo: f64,
        hi: f64,
        bytes: &[[u8; 256]; 3],
    ) -> (f64, f64) {
        // sRGB → linear light for every byte value, computed once per process.
        static LUT: std::sync::OnceLock<Vec<f64>> = std::sync::OnceLock::new();
        let lut = LUT.get_or_init(|| (0..=255u8).map(crate::color::linear).collect());
        // Each channel's weighted linear light by byte (the same products as weighting after
        // the lookup, so the sums are bit for bit the same).
        let weights = [0.0722, 0.7152, 0.2126];
        let tables: [[f64; 256]; 3] =
            std::array::from_fn(|c| std::array::from_fn(|v| weights[c] * lut[bytes[c][v] as usize]));
        // 1024 luminance bins are finer than any contrast decision needs.
        let mut hist = [0u32; 1024];
        let mut n = 0u64;
        let x0 = rect.x.clamp(0, self.width as i32) as usize;
        let x1 = rect.right().clamp(0, self.width as i64) as usize;
        let y0 = rect.y.clamp(0, self.height as i32) as usize;
        let y1 = rect.bottom().clamp(0, self.height as i64) as usize;
        let row_bytes = self.width as usize * 3;
        for y in y0..y1.max(y0) {
            let row = &self.bgr[y * row_bytes..][x0 * 3..x1.max(x0) * 3];
            for p in row.chunks_exact(3) {
                let l = tables[0][p[0] as usize] + tables[1][p[1] as usize] + tables[2][p[2] as usize];
                // `+ 0.5` then truncation rounds as `round()` does for these non-negative
                // values, without a libm call per pixel.
                hist[((l * 1023.0 + 0.5) as usize).min(1023)] += 1;
                n += 1;
            }
        }
        if n == 0 {
            return (0.18, 0.18);
        }
        let quantile = |q: f64| {
            let target = (q * n as f64).ceil().max(1.0) as u64;
            let mut seen = 0u64;
            for (i, &c) in hist.iter().enumerate() {
                seen += c as u64;
                if seen >= target {
                    return i as f64 / 1023.0;
                }
            }
            1.0
        };
        (quantile(lo), quantile(hi))
    }

    /// Copies `src` onto this image with its top-left at (x, y), clipped.
    pub fn paste(&mut self, src: &Image, x: i32, y: i32) {
        let sw = src.width as usize;
        self.clipped_rows(x, y, src.width, src.height, |span, my, mx0| {
            let n = span.len();
            span.copy_from_slice(&src.bgr[(my * sw + mx0) * 3..][..n]);
        });
    }

    /// Calls `f(span, local_y, local_x0)` for each row of the rectangle (x, y, w, h) that lies
    /// inside the image, where `span` is the row's visible pixels (BGR bytes) and `local_x0` the
    /// rectangle-relative column of its first pixel. Callers loop over whole row slices, which
    /// keeps the blending loops tight and free of per-pixel bounds arithmetic.
    fn clipped_rows(&mut self, x: i32, y: i32, w: u32, h: u32, mut f: impl FnMut(&mut [u8], usize, usize)) {
        let x0 = x.max(0);
        let y0 = y.max(0);
        let x1 = (x as i64 + w as i64).min(self.width as i64) as i32;
        let y1 = (y as i64 + h as i64).min(self.height as i64) as i32;
        if x0 >= x1 || y0 >= y1 {
            return;
        }
        let row_bytes = self.width as usize * 3;
        let (a, b) = (x0 as usize * 3, x1 as usize * 3);
        for py in y0..y1 {
            let row = &mut self.bgr[py as usize * row_bytes..][..row_bytes];
            f(&mut row[a..b], (py - y) as usize, (x0 - x) as usize);
        }
    }
}

/// Resizes the `crop` part of one 8-bit image plane (rows of `src_stride` bytes) into the
/// top-left `width`×`height` of another (rows of `dst_stride` bytes), bilinear when enlarging
/// and area-averaging when shrinking: a video frame's luma or chroma plane scaled in place of
/// the colour image it becomes (one channel at a time is what OpenCV vectorises best).
///
/// # Errors
/// When the rectangles do not fit their planes, or OpenCV fails.
pub fn resize_plane(
    (src, src_stride): (&[u8], usize),
    crop: Rect,
    (dst, dst_stride): (&mut [u8], usize),
    (width, height): (u32, u32),
) -> Result<(), PixelError> {
    let bad = |message: String| PixelError { op: "resize plane", message };
    let rows_of = |len: usize, stride: usize| len.checked_div(stride).unwrap_or(0);
    let (src_rows, dst_rows) = (rows_of(src.len(), src_stride), rows_of(dst.len(), dst_stride));
    if crop.x < 0 || crop.y < 0 || crop.right() > src_stride as i64 || crop.bottom() > src_rows as i64 {
        return Err(bad(format!("{crop:?} is outside a plane of {src_stride}x{src_rows} bytes")));
    }
    if width as usize > dst_stride || height as usize > dst_rows || width == 0 || height == 0 {
        return Err(bad(format!("{width}x{height} does not fit a plane of {dst_stride}x{dst_rows} bytes")));
    }
    let whole_src = Mat::new_rows_cols_with_bytes::<u8>(
        src_rows as i32,
        src_stride as i32,
        &src[..src_rows * src_stride],
    )
    .map_err(cv_err("borrow plane"))?;
    let from = Mat::roi(&whole_src, cv::Rect::new(crop.x, crop.y, crop.width as i32, crop.height as i32))
        .map_err(cv_err("crop"))?;
    let mut whole_dst = Mat::new_rows_cols_with_bytes_mut::<u8>(
        dst_rows as i32,
        dst_stride as i32,
        &mut dst[..dst_rows * dst_stride],
    )
    .map_err(cv_err("borrow plane"))?;
    let mut to = Mat::roi_mut(&mut whole_dst, cv::Rect::new(0, 0, width as i32, height as i32))
        .map_err(cv_err("crop"))?;
    let shrinking = width < crop.width || height < crop.height;
    let interpolation = if shrinking { imgproc::INTER_AREA } else { imgproc::INTER_LINEAR };
    // The destination is a view of the right size and type, so OpenCV writes into it.
    imgproc::resize(&from, &mut to, Size::new(width as i32, height as i32), 0.0, 0.0, interpolation)
        .map_err(cv_err("resize"))
}

/// Blends one colour with one alpha over a row of BGR pixels (scrims, rectangles).
///
/// The row is processed in blocks of 16 pixels against a 48-byte pattern of the colour, which
/// lets the compiler vectorise what would otherwise be a stride-3 loop. The arithmetic is
/// [`blend_px`]'s, in 16-bit lanes (twice as many per vector as 32-bit ones): `d·(255−a) + s·a +
/// 127` is at most 65152, and [`div255`] is exact up to 65279, so results are identical.
#[inline(always)]
fn blend_row_const_any(span: &mut [u8], src: [u8; 3], a: u8) {
    if a == 0 {
        return;
    }
    if a == 255 {
        for dst in span.chunks_exact_mut(3) {
            dst.copy_from_slice(&src);
        }
        return;
    }
    let inv = 255 - a as u16;
    let mut pattern = [0u16; 48];
    for (i, p) in pattern.iter_mut().enumerate() {
        *p = src[i % 3] as u16 * a as u16 + 127;
    }
    let mut blocks = span.chunks_exact_mut(48);
    for block in &mut blocks {
        for (d, p) in block.iter_mut().zip(&pattern) {
            *d = div255(*d as u16 * inv + p) as u8;
        }
    }
    for dst in blocks.into_remainder().chunks_exact_mut(3) {
        blend_px(dst, src, a as u32, 255);
    }
}

/// [`blend_row_const_any`], in AVX2 where the CPU has it (the same integer arithmetic, so the
/// same bytes).
fn blend_row_const(span: &mut [u8], src: [u8; 3], a: u8) {
    #[cfg(target_arch = "x86_64")]
    avx2::blend_row_const(span, src, a);
    #[cfg(not(target_arch = "x86_64"))]
    blend_row_const_any(span, src, a);
}

/// The scrim blend and the text-mask blend written in AVX2 intrinsics (built for AVX2, the
/// portable loops vectorised poorly: a lane extract every 16 bytes, and the mask's per-pixel
/// alpha spread not at all), used when the CPU has AVX2. The `unsafe` here: calling code built
/// for an instruction set after checking for it, and loads and stores inside the row.
#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
mod avx2 {
    use super::{blend_row_const_any, blend_row_mask_any};
    use std::arch::x86_64::*;

    pub(super) fn blend_row_mask(span: &mut [u8], coverage: &[u8], src: [u8; 3], a: u8) {
        if a != 0 && std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: this CPU has AVX2 (checked on the line above).
            unsafe { blend_row_mask_avx2(span, coverage, src, a) }
        } else {
            blend_row_mask_any(span, coverage, src, a)
        }
    }

    /// Which of a block's 16 alphas each of its 48 bytes takes (three per pixel), per 16 bytes.
    const SPREAD: [[i8; 16]; 3] = [
        [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4, 5],
        [5, 5, 6, 6, 6, 7, 7, 7, 8, 8, 8, 9, 9, 9, 10, 10],
        [10, 11, 11, 11, 12, 12, 12, 13, 13, 13, 14, 14, 14, 15, 15, 15],
    ];

    /// `x / 255` rounded down in each 16-bit lane, as [`super::div255`].
    #[inline(always)]
    unsafe fn div255(x: __m256i) -> __m256i {
        _mm256_srli_epi16(_mm256_mulhi_epu16(x, _mm256_set1_epi16(0x8081u16 as i16)), 7)
    }

    /// Sixteen 16-bit lanes (each at most 255) as 16 bytes, in order.
    #[inline(always)]
    unsafe fn narrow(x: __m256i) -> __m128i {
        _mm_packus_epi16(_mm256_castsi256_si128(x), _mm256_extracti128_si256(x, 1))
    }

    /// Blocks of 16 pixels: their alphas (`coverage * a / 255`, rounded) computed in 16-bit
    /// lanes, spread to their 48 bytes by byte shuffles, and each 16 bytes blended as the
    /// portable code does; blocks with no coverage skipped; the remainder by the portable code.
    #[target_feature(enable = "avx2")]
    unsafe fn blend_row_mask_avx2(span: &mut [u8], coverage: &[u8], src: [u8; 3], a: u8) {
        let blocks = coverage.len().min(span.len() / 3) / 16;
        let colour: [__m256i; 3] = std::array::from_fn(|k| {
            let lanes: [i16; 16] = std::array::from_fn(|j| src[(16 * k + j) % 3] as i16);
            _mm256_loadu_si256(lanes.as_ptr().cast())
        });
        let spread: [__m128i; 3] = std::array::from_fn(|k| _mm_loadu_si128(SPREAD[k].as_ptr().cast()));
        let (alpha, c127, c255) =
            (_mm256_set1_epi16(a as i16), _mm256_set1_epi16(127), _mm256_set1_epi16(255));
        for b in 0..blocks {
            // SAFETY: block `b` covers coverage[16b..16b + 16] and span[48b..48b + 48], inside
            // both slices (`blocks` is bounded by both lengths).
            let cover = _mm_loadu_si128(coverage.as_ptr().add(16 * b).cast());
            if _mm_testz_si128(cover, cover) == 1 {
                continue;
            }
            let m = _mm256_cvtepu8_epi16(cover);
            let px_alpha = narrow(div255(_mm256_add_epi16(_mm256_mullo_epi16(m, alpha), c127)));
            for (k, (&spread, &colour)) in spread.iter().zip(&colour).enumerate() {
                let at = span.as_mut_ptr().add(48 * b + 16 * k);
                let al = _mm256_cvtepu8_epi16(_mm_shuffle_epi8(px_alpha, spread));
                let d = _mm256_cvtepu8_epi16(_mm_loadu_si128(at.cast()));
                let x = _mm256_add_epi16(
                    _mm256_add_epi16(
                        _mm256_mullo_epi16(d, _mm256_sub_epi16(c255, al)),
                        _mm256_mullo_epi16(colour, al),
                    ),
                    c127,
                );
                _mm_storeu_si128(at.cast(), narrow(div255(x)));
            }
        }
        blend_row_mask_any(&mut span[48 * blocks..], &coverage[16 * blocks..], src, a)
    }

    pub(super) fn blend_row_const(span: &mut [u8], src: [u8; 3], a: u8) {
        if a != 0 && a != 255 && std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: this CPU has AVX2 (checked on the line above).
            unsafe { blend_row_const_avx2(span, src, a) }
        } else {
            blend_row_const_any(span, src, a)
        }
    }

    /// 96 bytes (32 pixels) a step, as three registers of 32: each register's bytes widened to
    /// two of sixteen 16-bit lanes by interleaving with zero (per 128-bit half, which the
    /// final pack undoes), blended as the portable code does, `x / 255` as a multiply-high
    /// and a shift; the remainder by the portable code. The compiler's build of the portable
    /// loop went 16 bytes a step, with a lane extract per step and two more adds and shifts.
    #[target_feature(enable = "avx2")]
    unsafe fn blend_row_const_avx2(span: &mut [u8], src: [u8; 3], a: u8) {
        let steps = span.len() / 96;
        let inv = _mm256_set1_epi16(255 - a as i16);
        let (zero, magic) = (_mm256_setzero_si256(), _mm256_set1_epi16(0x8081u16 as i16));
        // `src · a + 127` for each byte of the three registers, in the interleaved order.
        let term = |k: usize, high: bool| -> __m256i {
            let lanes: [i16; 16] = std::array::from_fn(|j| {
                let byte = 32 * k + 16 * (j / 8) + 8 * high as usize + j % 8;
                (src[byte % 3] as u16 * a as u16 + 127) as i16
            });
            _mm256_loadu_si256(lanes.as_ptr().cast())
        };
        let terms: [(__m256i, __m256i); 3] = std::array::from_fn(|k| (term(k, false), term(k, true)));
        let blend = |d: __m256i, t: __m256i| -> __m256i {
            let x = _mm256_add_epi16(_mm256_mullo_epi16(d, inv), t);
            _mm256_srli_epi16(_mm256_mulhi_epu16(x, magic), 7)
        };
        for s in 0..steps {
            for (k, &(low, high)) in terms.iter().enumerate() {
                // SAFETY: step `s` covers span[96s..96s + 96], inside the row (`steps` is
                // bounded by its length).
                let at = span.as_mut_ptr().add(96 * s + 32 * k);
                let d = _mm256_loadu_si256(at.cast());
                let lo = blend(_mm256_unpacklo_epi8(d, zero), low);
                let hi = blend(_mm256_unpackhi_epi8(d, zero), high);
                _mm256_storeu_si256(at.cast(), _mm256_packus_epi16(lo, hi));
            }
        }
        blend_row_const_any(&mut span[96 * steps..], src, a)
    }
}

/// `x / 255` rounded down, exact for every `x` up to 65279 (where the sum stays within 16 bits;
/// all 16-bit blends stay below 65153). The AVX2 code takes the high half of `x · 0x8081`
/// shifted right by 7 instead (exact for every 16-bit `x`, one instruction fewer); written in
/// portable code, that product is widened to 32-bit lanes by the compiler, so this form stays.
#[inline]
fn div255(x: u16) -> u16 {
    (x + 1 + (x >> 8)) >> 8
}

/// Blends one colour over a row of BGR pixels through a row of coverage (text masks): the
/// alpha of a pixel is `coverage * a / 255`, rounded, and the blend is [`blend_row_const`]'s
/// per pixel. AVX2 code where the CPU has it ([`avx2::blend_row_mask`]), the same bytes.
fn blend_row_mask(span: &mut [u8], coverage: &[u8], src: [u8; 3], a: u8) {
    #[cfg(target_arch = "x86_64")]
    avx2::blend_row_mask(span, coverage, src, a);
    #[cfg(not(target_arch = "x86_64"))]
    blend_row_mask_any(span, coverage, src, a);
}

/// [`blend_row_mask`] in portable code: blocks of 16 pixels in 16-bit lanes; blocks with no
/// coverage (most of a text box: padding, gaps, line spacing) are skipped.
fn blend_row_mask_any(span: &mut [u8], coverage: &[u8], src: [u8; 3], a: u8) {
    if a == 0 {
        return;
    }
    let colour: [u16; 48] = std::array::from_fn(|i| src[i % 3] as u16);
    let blend = |dst: &mut [u8], cover: &[u8]| {
        // Each pixel's alpha, then spread over its three bytes (a loop the compiler can
        // vectorise, unlike indexing the coverage by byte / 3).
        let mut px_alpha = [0u16; 16];
        for (al, &m) in px_alpha.iter_mut().zip(cover) {
            *al = div255(m as u16 * a as u16 + 127);
        }
        let mut alpha = [0u16; 48];
        for (three, &al) in alpha.chunks_exact_mut(3).zip(&px_alpha) {
            three.fill(al);
        }
        for ((d, al), s) in dst.iter_mut().zip(&alpha).zip(&colour) {
            *d = div255(*d as u16 * (255 - al) + s * al + 127) as u8;
        }
    };
    let mut blocks = span.chunks_exact_mut(48);
    let mut covers = coverage.chunks_exact(16);
    for (block, cover) in (&mut blocks).zip(&mut covers) {
        if cover.iter().all(|&m| m == 0) {
            continue;
        }
        blend(block, cover);
    }
    let rest = blocks.into_remainder();
    if !rest.is_empty() {
        blend(rest, covers.remainder());
    }
}

/// `dst = dst + (src - dst) * a / scale`, rounded; `a` ranges over `0..=scale`.
#[inline]
fn blend_px(dst: &mut [u8], src: [u8; 3], a: u32, scale: u32) {
    if a == 0 {
        return;
    }
    if a >= scale {
        dst.copy_from_slice(&src);
        return;
    }
    for c in 0..3 {
        let d = dst[c] as u32;
        let s = src[c] as u32;
        dst[c] = ((d * (scale - a) + s * a + scale / 2) / scale) as u8;
    }
}

/// Decodes PNG, JPEG, WebP or BMP bytes (8- or 16-bit, grey, colour, palette, with or without
/// alpha) with pure-Rust decoders, upright as a JPEG's EXIF orientation says. The caller checks
/// the declared size first ([`declared_size`]); the decoder's own limits are a second fence.
fn decode_any(bytes: &[u8]) -> Result<image::DynamicImage, String> {
    use image::ImageDecoder;
    let mut reader = image::ImageReader::new(std::io::Cursor::new(bytes));
    reader = reader.with_guessed_format().map_err(|e| e.to_string())?;
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(1 << 15);
    limits.max_image_height = Some(1 << 15);
    reader.limits(limits);
    let mut decoder = reader.into_decoder().map_err(|e| e.to_string())?;
    let orientation = decoder.orientation().unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut img = image::DynamicImage::from_decoder(decoder).map_err(|e| e.to_string())?;
    img.apply_orientation(orientation);
    Ok(img)
}

/// A text layer drawn as coverage masks, all the same size and placed at the same point: the
/// fill, the highlighted spans, the outline and the blurred shadow, plus colour glyphs (emoji)
/// at their offsets. Nothing here depends on the frame or on where the box sits, so covers
/// whose text is the same (an author line, a series subtitle) share one.
pub struct TextMasks {
    /// Coverage of the plain text.
    pub fill: Mask,
    /// Coverage of the highlighted spans, when the layer has a highlight colour.
    pub accent: Option<Mask>,
    /// The text grown by its stroke width, when it has a stroke.
    pub outline: Option<Mask>,
    /// The outer strokes, each grown from the one inside it (inner first).
    pub outer: Vec<Mask>,
    /// The blurred glow, when it has one.
    pub glow: Option<Mask>,
    /// The blurred shadow of the outline (or of the text), when it has a shadow.
    pub shadow: Option<Mask>,
    /// Colour glyphs with their offsets from the masks' top-left corner.
    pub colour_glyphs: Vec<(std::sync::Arc<Overlay>, i32, i32)>,
}

impl TextMasks {
    /// Bytes held (the masks; colour glyphs are shared with the glyph cache).
    pub fn bytes(&self) -> usize {
        let len = |m: &Option<Mask>| m.as_ref().map_or(0, |m| m.data.len());
        self.fill.data.len()
            + len(&self.accent)
            + len(&self.outline)
            + len(&self.shadow)
            + len(&self.glow)
            + self.outer.iter().map(|m| m.data.len()).sum::<usize>()
    }
}

/// An image with straight alpha: a logo or watermark.
#[derive(Clone)]
pub struct Overlay {
    width: u32,
    height: u32,
    /// Packed BGRA.
    bgra: Vec<u8>,
}

impl Overlay {
    /// Decodes an encoded image (a watermark, an emoji's PNG strike) keeping its alpha. The
    /// size its header declares is checked against `max_side` before anything is decoded, so a
    /// small file that declares a huge image (a decompression bomb) costs nothing.
    ///
    /// # Errors
    /// When the format is not PNG, JPEG, WebP or BMP, the declared size exceeds `max_side`, or
    /// the bytes do not decode.
    pub fn decode(bytes: &[u8], max_side: u32) -> Result<Self, PixelError> {
        let (format, w, h) = declared_size(bytes).ok_or_else(|| PixelError {
            op: "decode",
            message: "not a PNG, JPEG, WebP or BMP image".into(),
        })?;
        if w == 0 || h == 0 || w.max(h) > max_side {
            return Err(PixelError {
                op: "decode",
                message: format!("{format} header declares {w}x{h} pixels; the limit is {max_side} a side"),
            });
        }
        // A cut-short file makes libpng/libjpeg print to stderr before failing: refuse it first.
        if !looks_complete(format, bytes) {
            return Err(PixelError { op: "decode", message: format!("truncated {format} file") });
        }
        let rgba = decode_any(bytes).map_err(|message| PixelError { op: "decode", message })?.into_rgba8();
        let (width, height) = rgba.dimensions();
        let mut bgra = rgba.into_raw();
        for px in bgra.chunks_exact_mut(4) {
            px.swap(0, 2);
        }
        Ok(Overlay { width, height, bgra })
    }

    /// Width in pixels.
    pub fn width(&self) -> u32 {
        self.width
    }

    /// Height in pixels.
    pub fn height(&self) -> u32 {
        self.height
    }

    /// A resized copy (area averaging when shrinking). Colours are premultiplied while
    /// resampling so transparent pixels do not bleed their hidden colour into the edges.
    ///
    /// # Errors
    /// Only on an OpenCV failure.
    pub fn resized(&self, width: u32, height: u32) -> Result<Self, PixelError> {
        if (width, height) == (self.width, self.height) {
            return Ok(self.clone());
        }
        let premul: Vec<u8> = self.bgra.chunks_exact(4).flat_map(premultiplied).collect();
        let src = Mat::new_rows_cols_with_bytes::<Vec4b>(self.height as i32, self.width as i32, &premul)
            .map_err(cv_err("borrow overlay"))?;
        let mut out = vec![0u8; width as usize * height as usize * 4];
        {
            let mut dst = Mat::new_rows_cols_with_bytes_mut::<Vec4b>(height as i32, width as i32, &mut out)
                .map_err(cv_err("borrow overlay"))?;
            let interpolation = if width < self.width { imgproc::INTER_AREA } else { imgproc::INTER_CUBIC };
            imgproc::resize(&src, &mut dst, Size::new(width as i32, height as i32), 0.0, 0.0, interpolation)
                .map_err(cv_err("resize"))?;
        }
        unpremultiply(&mut out);
        Ok(Overlay { width, height, bgra: out })
    }

    /// The overlay mapped onto the quadrilateral `corners` (top-left, top-right, bottom-right,
    /// bottom-left, in pixels of a `width`×`height` output): a perspective warp, bilinear, in
    /// premultiplied colour. A transparent pixel border around the source lets the sampling
    /// fade the edges over a pixel (anti-aliased), where a hard cut would show stairs.
    ///
    /// # Errors
    /// On an OpenCV failure (a degenerate quadrilateral is refused by the layout before).
    pub fn warped(&self, corners: [[f32; 2]; 4], width: u32, height: u32) -> Result<Self, PixelError> {
        let (w, h) = (self.width as usize + 2, self.height as usize + 2);
        let mut padded = vec![0u8; w * h * 4];
        for (y, row) in self.bgra.chunks_exact(self.width as usize * 4).enumerate() {
            for (x, p) in row.chunks_exact(4).enumerate() {
                padded[((y + 1) * w + x + 1) * 4..][..4].copy_from_slice(&premultiplied(p));
            }
        }
        let src = Mat::new_rows_cols_with_bytes::<Vec4b>(h as i32, w as i32, &padded)
            .map_err(cv_err("borrow overlay"))?;
        // The source's outer edges go to the corners. OpenCV puts pixel centres on whole
        // coordinates: the padded source's image spans 0.5..W+0.5; an output corner at c (pixel
        // edges on whole numbers) is at c - 0.5.
        let (sw, sh) = (self.width as f32 + 0.5, self.height as f32 + 0.5);
        let from: Vector<opencv::core::Point2f> = [(0.5, 0.5), (sw, 0.5), (sw, sh), (0.5, sh)]
            .iter()
            .map(|&(x, y)| opencv::core::Point2f::new(x, y))
            .collect();
        let to: Vector<opencv::core::Point2f> =
            corners.iter().map(|p| opencv::core::Point2f::new(p[0] - 0.5, p[1] - 0.5)).collect();
        let m = imgproc::get_perspective_transform(&from, &to, cv::DECOMP_LU)
            .map_err(cv_err("getPerspectiveTransform"))?;
        let mut out = vec![0u8; width as usize * height as usize * 4];
        {
            let mut dst = Mat::new_rows_cols_with_bytes_mut::<Vec4b>(height as i32, width as i32, &mut out)
                .map_err(cv_err("borrow overlay"))?;
            imgproc::warp_perspective(
                &src,
                &mut dst,
                &m,
                Size::new(width as i32, height as i32),
                imgproc::INTER_LINEAR,
                cv::BORDER_CONSTANT,
                opencv::core::Scalar::all(0.0),
            )
            .map_err(cv_err("warpPerspective"))?;
        }
        unpremultiply(&mut out);
        Ok(Overlay { width, height, bgra: out })
    }

    /// The overlay's alpha as a mask (for its shadow).
    pub fn alpha(&self) -> Mask {
        Mask {
            width: self.width,
            height: self.height,
            data: self.bgra.chunks_exact(4).map(|p| p[3]).collect(),
        }
    }
}

/// A BGRA pixel with its colour multiplied by its alpha (resampling in premultiplied colour
/// keeps transparent pixels' hidden colour out of the edges).
fn premultiplied(p: &[u8]) -> [u8; 4] {
    let a = p[3] as u32;
    let m = |c: u8| ((c as u32 * a + 127) / 255) as u8;
    [m(p[0]), m(p[1]), m(p[2]), p[3]]
}

/// Back from premultiplied BGRA to straight alpha, in place.
fn unpremultiply(bgra: &mut [u8]) {
    for p in bgra.chunks_exact_mut(4) {
        let a = p[3] as u32;
        for c in &mut p[..3] {
            *c = (*c as u32 * 255 + a / 2).checked_div(a).map_or(0, |v| v.min(255) as u8);
        }
    }
}

/// 8-bit single-channel coverage or luma.
#[derive(Clone, Debug, PartialEq)]
pub struct Mask {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Row-major values, `width * height` of them.
    pub data: Vec<u8>,
}

impl Mask {
    /// A `width`×`height` rounded rectangle of corner radius `radius` (capped at half the
    /// shorter side), its edges anti-aliased; the mask is the rectangle's size rounded up.
    pub fn rounded_rect(width: f32, height: f32, radius: f32) -> Mask {
        let (w, h) = (width.max(0.0), height.max(0.0));
        let r = radius.clamp(0.0, w.min(h) / 2.0);
        let mut out = Mask::new(w.ceil() as u32, h.ceil() as u32);
        let (cx, cy) = (w / 2.0, h / 2.0);
        for y in 0..out.height {
            for x in 0..out.width {
                let dx = ((x as f32 + 0.5 - cx).abs() - (cx - r)).max(0.0);
                let dy = ((y as f32 + 0.5 - cy).abs() - (cy - r)).max(0.0);
                let d = (dx * dx + dy * dy).sqrt() - r;
                // Also the straight edges: a pixel half outside is half covered.
                let ex = (x as f32 + 1.0).min(w) - (x as f32).max(0.0);
                let ey = (y as f32 + 1.0).min(h) - (y as f32).max(0.0);
                let c = (0.5 - d).clamp(0.0, 1.0) * ex.clamp(0.0, 1.0) * ey.clamp(0.0, 1.0);
                out.data[(y * out.width + x) as usize] = (c * 255.0).round() as u8;
            }
        }
        out
    }

    /// The mask turned a quarter clockwise (its top row becomes its right column).
    pub fn turned_clockwise(&self) -> Mask {
        let (w, h) = (self.width as usize, self.height as usize);
        let mut out = Mask::new(self.height, self.width);
        for y in 0..h {
            for x in 0..w {
                out.data[x * h + (h - 1 - y)] = self.data[y * w + x];
            }
        }
        out
    }

    /// An all-zero mask.
    pub fn new(width: u32, height: u32) -> Self {
        Mask { width, height, data: vec![0; width as usize * height as usize] }
    }

    fn mat(&self) -> Result<opencv::boxed_ref::BoxedRef<'_, Mat>, PixelError> {
        Mat::new_rows_cols_with_bytes::<u8>(self.height as i32, self.width as i32, &self.data)
            .map_err(cv_err("borrow mask"))
    }

    fn mat_mut(&mut self) -> Result<opencv::boxed_ref::BoxedRefMut<'_, Mat>, PixelError> {
        Mat::new_rows_cols_with_bytes_mut::<u8>(self.height as i32, self.width as i32, &mut self.data)
            .map_err(cv_err("borrow mask"))
    }

    /// The whole mask as a rectangle at the origin.
    pub fn bounds(&self) -> Rect {
        Rect::new(0, 0, self.width, self.height)
    }

    /// The part of the mask inside `rect` (clipped), shrunk with area averaging to at most
    /// `max_width` wide keeping its aspect; `None` when nothing of `rect` is inside.
    ///
    /// # Errors
    /// Only on an OpenCV failure.
    pub fn region_shrunk(&self, rect: Rect, max_width: u32) -> Result<Option<Mask>, PixelError> {
        let x0 = rect.x.clamp(0, self.width as i32);
        let y0 = rect.y.clamp(0, self.height as i32);
        let x1 = rect.right().clamp(0, self.width as i64) as i32;
        let y1 = rect.bottom().clamp(0, self.height as i64) as i32;
        let (w, h) = ((x1 - x0).max(0) as u32, (y1 - y0).max(0) as u32);
        if w == 0 || h == 0 {
            return Ok(None);
        }
        let scale = (max_width as f64 / w as f64).min(1.0);
        let sw = ((w as f64 * scale).round() as u32).max(1);
        let sh = ((h as f64 * scale).round() as u32).max(1);
        let src = self.mat()?;
        let roi = Mat::roi(&src, cv::Rect::new(x0, y0, w as i32, h as i32)).map_err(cv_err("crop"))?;
        let mut out = Mask::new(sw, sh);
        if (sw, sh) == (w, h) {
            roi.copy_to(&mut out.mat_mut()?).map_err(cv_err("copy"))?;
        } else {
            imgproc::resize(
                &roi,
                &mut out.mat_mut()?,
                Size::new(sw as i32, sh as i32),
                0.0,
                0.0,
                imgproc::INTER_AREA,
            )
            .map_err(cv_err("resize"))?;
        }
        Ok(Some(out))
    }

    /// Writes `coverage` (a `w`×`h` glyph) at (x, y) keeping the larger value per pixel, so
    /// overlapping glyphs never darken each other's edges. Clipped to the mask.
    pub fn max_blit(&mut self, coverage: &[u8], w: u32, h: u32, x: i32, y: i32) {
        for gy in 0..h as i32 {
            let my = y + gy;
            if my < 0 || my >= self.height as i32 {
                continue;
            }
            let x0 = x.max(0);
            let x1 = (x + w as i32).min(self.width as i32);
            if x0 >= x1 {
                continue;
            }
            let src = &coverage[(gy as usize * w as usize) + (x0 - x) as usize..][..(x1 - x0) as usize];
            let dst = &mut self.data[my as usize * self.width as usize + x0 as usize..][..(x1 - x0) as usize];
            for (d, s) in dst.iter_mut().zip(src) {
                *d = (*d).max(*s);
            }
        }
    }

    /// Keeps the larger value per pixel of this mask and `other` (same size).
    pub fn max_with(&mut self, other: &Mask) {
        for (d, s) in self.data.iter_mut().zip(&other.data) {
            *d = (*d).max(*s);
        }
    }

    /// The mask grown by `radius` pixels in every direction (a round max filter): text outlines.
    ///
    /// # Errors
    /// Only on an OpenCV failure.
    pub fn dilated(&self, radius: f32) -> Result<Self, PixelError> {
        let r = radius.round().max(1.0) as i32;
        let kernel = imgproc::get_structuring_element(
            imgproc::MORPH_ELLIPSE,
            Size::new(2 * r + 1, 2 * r + 1),
            cv::Point::new(-1, -1),
        )
        .map_err(cv_err("getStructuringElement"))?;
        let mut out = Mask::new(self.width, self.height);
        imgproc::dilate(
            &self.mat()?,
            &mut out.mat_mut()?,
            &kernel,
            cv::Point::new(-1, -1),
            1,
            cv::BORDER_CONSTANT,
            cv::Scalar::all(0.0),
        )
        .map_err(cv_err("dilate"))?;
        Ok(out)
    }

    /// [`Mask::blurred`] on a copy halved by OpenCV (padded with nothing to even sides) and
    /// enlarged back by it: for halving its resizes are vectorised, faster than ours.
    fn blurred_halved(&self, sigma: f64) -> Result<Self, PixelError> {
        let (pw, ph) = (self.width.div_ceil(2) * 2, self.height.div_ceil(2) * 2);
        let padded;
        let source = if (pw, ph) == (self.width, self.height) {
            self
        } else {
            let mut p = Mask::new(pw, ph);
            p.max_blit(&self.data, self.width, self.height, 0, 0);
            padded = p;
            &padded
        };
        let mut small = Mat::default();
        let small_size = Size::new((pw / 2) as i32, (ph / 2) as i32);
        imgproc::resize(&source.mat()?, &mut small, small_size, 0.0, 0.0, imgproc::INTER_AREA)
            .map_err(cv_err("resize"))?;
        let mut blurred = Mat::default();
        imgproc::gaussian_blur(
            &small,
            &mut blurred,
            Size::new(0, 0),
            sigma / 2.0,
            sigma / 2.0,
            cv::BORDER_CONSTANT,
        )
        .map_err(cv_err("GaussianBlur"))?;
        let mut up = Mask::new(pw, ph);
        let size = Size::new(pw as i32, ph as i32);
        imgproc::resize(&blurred, &mut up.mat_mut()?, size, 0.0, 0.0, imgproc::INTER_LINEAR)
            .map_err(cv_err("resize"))?;
        // The padding off, in place: each row moves down to its unpadded place (never past
        // where it is read from).
        let (w, h) = (self.width as usize, self.height as usize);
        if w != pw as usize {
            for y in 1..h {
                up.data.copy_within(y * pw as usize..y * pw as usize + w, y * w);
            }
        }
        up.data.truncate(w * h);
        (up.width, up.height) = (self.width, self.height);
        Ok(up)
    }

    /// A Gaussian-blurred copy (`radius` ≈ 2σ, as CSS `text-shadow` blur), for soft shadows.
    ///
    /// # Errors
    /// Only on an OpenCV failure.
    pub fn blurred(&self, radius: f32) -> Result<Self, PixelError> {
        if radius <= 0.0 {
            return Ok(self.clone());
        }
        let sigma = (radius / 2.0) as f64;
        // Wide blurs run on a copy shrunk 2–4x and are scaled back: a Gaussian's cost grows
        // with its width, and a soft shadow holds no detail the shrunk copy loses (the box and
        // bilinear steps add well under a pixel of spread). A douyin title's shadow took 1.3 ms
        // blurred at full size.
        let factor = (sigma / 2.0).floor().clamp(1.0, 4.0) as u32;
        if factor == 1 || self.width < 8 * factor || self.height < 8 * factor {
            let mut out = Mask::new(self.width, self.height);
            imgproc::gaussian_blur(
                &self.mat()?,
                &mut out.mat_mut()?,
                Size::new(0, 0),
                sigma,
                sigma,
                cv::BORDER_CONSTANT,
            )
            .map_err(cv_err("GaussianBlur"))?;
            return Ok(out);
        }
        if factor == 2 {
            return self.blurred_halved(sigma);
        }
        // Shrunk by averaging whole `factor` x `factor` blocks (zeros past the edge), blurred,
        // and grown back bilinearly (resample.rs; a title's shadow, 1012x503 by 3: 0.43 ms
        // against 0.73 through OpenCV's resizes, which are vectorised for halving only).
        let (w, h, f) = (self.width as usize, self.height as usize, factor as usize);
        let (small, sw, sh) = resample::shrink_mask(&self.data, (w, h), f);
        let small_mat = Mat::new_rows_cols_with_bytes::<u8>(sh as i32, sw as i32, &small)
            .map_err(cv_err("borrow mask"))?;
        let mut blurred = Mat::default();
        let s = sigma / factor as f64;
        imgproc::gaussian_blur(&small_mat, &mut blurred, Size::new(0, 0), s, s, cv::BORDER_CONSTANT)
            .map_err(cv_err("GaussianBlur"))?;
        let blurred = blurred.data_bytes().map_err(cv_err("read blurred mask"))?;
        let data = resample::grow_mask(blurred, (sw, sh), f, (w, h));
        Ok(Mask { width: self.width, height: self.height, data })
    }

    /// Variance of the Laplacian: a standard focus measure (higher is sharper).
    ///
    /// # Errors
    /// Only on an OpenCV failure.
    pub fn laplacian_variance(&self) -> Result<f64, PixelError> {
        let mut lap = Mat::default();
        imgproc::laplacian(&self.mat()?, &mut lap, cv::CV_32F, 3, 1.0, 0.0, cv::BORDER_REFLECT)
            .map_err(cv_err("Laplacian"))?;
        let (mut mean, mut std) = (Mat::default(), Mat::default());
        cv::mean_std_dev(&lap, &mut mean, &mut std, &cv::no_array()).map_err(cv_err("meanStdDev"))?;
        let s = *std.at::<f64>(0).map_err(cv_err("meanStdDev"))?;
        Ok(s * s)
    }
}

/// The share (0–1) of two covers' area that differs visibly: both are shrunk to a quarter of
/// their size (area averaging), turned to luma, softened by a 3x3 blur, and a pixel counts when
/// its luma differs by more than 24 of 255. Covers of different sizes differ everywhere (1.0).
/// Pixels inside `ignore` (canvas rectangles, e.g. QR codes, which differ between variants by
/// design) are left out of both counts. Used to tell A/B variants that are too alike to be told
/// apart by viewers.
pub fn differing_share(a: &Image, b: &Image, ignore: &[Rect]) -> f64 {
    if (a.width, a.height) != (b.width, b.height) || a.width < 4 || a.height < 4 {
        return 1.0;
    }
    let small = |img: &Image| -> Option<Vec<u8>> {
        let (w, h) = (img.width / 4, img.height / 4);
        let shrunk = img.crop_resized(img.bounds(), w, h).ok()?;
        let mut grey = Mask::new(w, h);
        imgproc::cvt_color(&shrunk.mat().ok()?, &mut grey.mat_mut().ok()?, imgproc::COLOR_BGR2GRAY, 0)
            .ok()?;
        let mut soft = Mask::new(w, h);
        imgproc::blur(
            &grey.mat().ok()?,
            &mut soft.mat_mut().ok()?,
            Size::new(3, 3),
            cv::Point::new(-1, -1),
            cv::BORDER_REPLICATE,
        )
        .ok()?;
        Some(soft.data)
    };
    let (Some(x), Some(y)) = (small(a), small(b)) else { return 1.0 };
    let w = (a.width / 4) as usize;
    let ignored = |i: usize| {
        let (px, py) = ((i % w) as i64 * 4, (i / w) as i64 * 4);
        ignore.iter().any(|r| px + 4 > r.x as i64 && px < r.right() && py + 4 > r.y as i64 && py < r.bottom())
    };
    let (mut counted, mut differing) = (0usize, 0usize);
    for (i, (p, q)) in x.iter().zip(&y).enumerate() {
        if !ignore.is_empty() && ignored(i) {
            continue;
        }
        counted += 1;
        differing += usize::from(p.abs_diff(*q) > 24);
    }
    differing as f64 / counted.max(1) as f64
}

/// Colour and structure statistics of an image, for cover analytics.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ImageStats {
    /// Mean luma (BT.601), 0–255.
    pub brightness: f64,
    /// Mean HSL saturation in percent (0–100).
    pub saturation_mean: f64,
    /// Standard deviation of the HSL saturation, percent points.
    pub saturation_spread: f64,
    /// Hasler–Süsstrunk colourfulness (0 for grey; ~100 and up for vivid images).
    pub colourfulness: f64,
    /// Share of pixels on an edge (Canny 100/200 on the luma): clutter.
    pub edge_density: f64,
}

/// The statistics of `img` (on every second pixel of every second row: the same figures at a
/// quarter of the cost).
///
/// # Errors
/// Only on an OpenCV failure.
pub fn image_stats(img: &Image) -> Result<ImageStats, PixelError> {
    let (mut n, mut luma, mut sat, mut sat2) = (0f64, 0f64, 0f64, 0f64);
    let (mut rg, mut rg2, mut yb, mut yb2) = (0f64, 0f64, 0f64, 0f64);
    for y in (0..img.height as usize).step_by(2) {
        for x in (0..img.width as usize).step_by(2) {
            let i = (y * img.width as usize + x) * 3;
            let (b, g, r) = (img.bgr[i] as f64, img.bgr[i + 1] as f64, img.bgr[i + 2] as f64);
            luma += 0.299 * r + 0.587 * g + 0.114 * b;
            // HSL saturation: (max - min) / (1 - |2L - 1|), L = (max + min) / 2, on 0–1.
            let (mx, mn) = (r.max(g).max(b) / 255.0, r.min(g).min(b) / 255.0);
            let l = (mx + mn) / 2.0;
            let s = if mx == mn { 0.0 } else { (mx - mn) / (1.0 - (2.0 * l - 1.0).abs()).max(1e-9) };
            let s = s.min(1.0) * 100.0;
            sat += s;
            sat2 += s * s;
            let (a, bb) = (r - g, 0.5 * (r + g) - b);
            rg += a;
            rg2 += a * a;
            yb += bb;
            yb2 += bb * bb;
            n += 1.0;
        }
    }
    let n = n.max(1.0);
    let var = |sum: f64, sq: f64| (sq / n - (sum / n).powi(2)).max(0.0);
    let colourfulness =
        (var(rg, rg2) + var(yb, yb2)).sqrt() + 0.3 * ((rg / n).powi(2) + (yb / n).powi(2)).sqrt();
    let grey = img.small_luma(img.width)?;
    let mut edges = Mask::new(grey.width, grey.height);
    imgproc::canny(&grey.mat()?, &mut edges.mat_mut()?, 100.0, 200.0, 3, false).map_err(cv_err("Canny"))?;
    let edge_density = edges.data.iter().filter(|&&v| v > 0).count() as f64 / edges.data.len().max(1) as f64;
    Ok(ImageStats {
        brightness: luma / n,
        saturation_mean: sat / n,
        saturation_spread: var(sat, sat2).sqrt(),
        colourfulness,
        edge_density,
    })
}

/// The `k` commonest colours, quantised to 32 levels a channel, as `#RRGGBB` with their share.
pub fn dominant_colours(img: &Image, k: usize) -> Vec<(String, f64)> {
    let mut counts: std::collections::HashMap<u32, u64> = std::collections::HashMap::new();
    let mut n = 0u64;
    for p in img.bgr.chunks_exact(3).step_by(3) {
        let q = |v: u8| (v >> 3) as u32;
        *counts.entry((q(p[2]) << 10) | (q(p[1]) << 5) | q(p[0])).or_default() += 1;
        n += 1;
    }
    let mut top: Vec<(u32, u64)> = counts.into_iter().collect();
    top.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    top.into_iter()
        .take(k)
        .map(|(c, m)| {
            let ch = |shift: u32| ((c >> shift) & 31) * 8 + 4;
            (format!("#{:02X}{:02X}{:02X}", ch(10), ch(5), ch(0)), m as f64 / n.max(1) as f64)
        })
        .collect()
}

/// Whether an encoded image ends where its format says it ends: PNG with its `IEND` chunk,
/// JPEG with its end-of-image marker, WebP and BMP at the length their headers give.
fn looks_complete(format: &str, b: &[u8]) -> bool {
    let le32 = |i: usize| b.get(i..i + 4).map(|x| u32::from_le_bytes(x.try_into().unwrap()) as usize);
    match format {
        "PNG" => b.len() >= 12 && &b[b.len() - 8..b.len() - 4] == b"IEND",
        // Trailing bytes after EOI are common (camera padding): look for it near the end.
        "JPEG" => b[b.len().saturating_sub(4096)..].windows(2).any(|w| w == [0xFF, 0xD9]),
        "WebP" => le32(4).is_some_and(|n| n + 8 <= b.len()),
        "BMP" => le32(2).is_some_and(|n| n <= b.len()),
        _ => true,
    }
}

/// The format and size an encoded image's header declares, read without decoding; `None` for
/// anything but PNG, JPEG, WebP and BMP, or a header cut short.
pub fn declared_size(b: &[u8]) -> Option<(&'static str, u32, u32)> {
    let be16 = |i: usize| Some(u16::from_be_bytes(b.get(i..i + 2)?.try_into().ok()?) as u32);
    let be32 = |i: usize| Some(u32::from_be_bytes(b.get(i..i + 4)?.try_into().ok()?));
    let le = |i: usize, n: usize| Some(b.get(i..i + n)?.iter().rev().fold(0u32, |a, &x| (a << 8) | x as u32));
    if b.starts_with(b"\x89PNG\r\n\x1a\n") && b.get(12..16)? == b"IHDR" {
        return Some(("PNG", be32(16)?, be32(20)?));
    }
    if b.starts_with(&[0xFF, 0xD8]) {
        // Walk the marker segments to the first start-of-frame, which holds the size.
        let mut i = 2;
        while i + 4 <= b.len() {
            if b[i] != 0xFF {
                return None;
            }
            let marker = b[i + 1];
            match marker {
                0xFF => i += 1,
                0x01 | 0xD0..=0xD9 => i += 2,
                0xC0..=0xCF if !matches!(marker, 0xC4 | 0xC8 | 0xCC) => {
                    return Some(("JPEG", be16(i + 7)?, be16(i + 5)?))
                }
                _ => i += 2 + be16(i + 2)? as usize,
            }
        }
        return None;
    }
    if b.starts_with(b"RIFF") && b.get(8..12)? == b"WEBP" {
        return match b.get(12..16)? {
            b"VP8 " => Some(("WebP", le(26, 2)? & 0x3FFF, le(28, 2)? & 0x3FFF)),
            b"VP8L" => {
                let bits = le(21, 4)?;
                Some(("WebP", (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1))
            }
            b"VP8X" => Some(("WebP", le(24, 3)? + 1, le(27, 3)? + 1)),
            _ => None,
        };
    }
    if b.starts_with(b"BM") {
        let w = le(18, 4)? as i32;
        let h = le(22, 4)? as i32;
        return Some(("BMP", w.unsigned_abs(), h.unsigned_abs()));
    }
    None
}

#[cfg(test)]
mod tests {
    #[test]
    fn div255_is_exact_for_every_blend_value() {
        // The largest blend: 255 · 255 + 127.
        for x in 0..=65152 {
            assert_eq!(super::div255(x), x / 255, "{x}");
        }
    }

    #[test]
    fn percentiles_under_a_scrim_equal_those_of_the_scrim_drawn() {
        use super::{Image, Rect, Rgba};
        // A busy picture: every byte value in every channel, in no order.
        let (w, h) = (97u32, 53u32);
        let bytes: Vec<u8> = (0..w * h * 3).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8).collect();
        let image = Image::from_bgr_bytes(w, h, bytes).unwrap();
        let rect = Rect::new(5, 3, 80, 40);
        for scrim in [Rgba::BLACK, Rgba::WHITE, Rgba::rgb(200, 30, 90)] {
            for a in [1u8, 24, 96, 127, 128, 240, 254, 255] {
                let s = Rgba { a, ..scrim };
                let mut drawn = image.clone();
                drawn.fill_rect(rect, s);
                for (lo, hi) in [(0.1, 0.9), (0.0, 1.0), (0.5, 0.5)] {
                    assert_eq!(
                        image.luminance_percentiles_under(rect, lo, hi, s),
                        drawn.luminance_percentiles(rect, lo, hi),
                        "{s:?} {lo} {hi}"
                    );
                }
            }
        }
    }

    #[test]
    fn wide_blurs_stay_centred_whatever_the_mask_size() {
        // Wide blurs run on a shrunk copy padded to a whole factor: the shadow of a block must
        // stay where the block is (its centroid within a fifth of a pixel).
        for (w, h) in [(940u32, 420u32), (941, 421), (942, 419), (97, 61)] {
            let mut m = super::Mask::new(w, h);
            let (bw, bh) = (w / 2, h / 2);
            let (x0, y0) = ((w - bw) / 2, (h - bh) / 2);
            for y in y0..y0 + bh {
                for x in x0..x0 + bw {
                    m.data[(y * w + x) as usize] = 255;
                }
            }
            let centre = |m: &super::Mask| {
                let (mut sx, mut sy, mut n) = (0f64, 0f64, 0f64);
                for (i, &v) in m.data.iter().enumerate() {
                    let (x, y) = ((i as u32 % m.width) as f64, (i as u32 / m.width) as f64);
                    (sx, sy, n) = (sx + x * v as f64, sy + y * v as f64, n + v as f64);
                }
                (sx / n, sy / n)
            };
            let before = centre(&m);
            for radius in [8.0, 14.0, 20.0] {
                let b = m.blurred(radius).unwrap();
                let after = centre(&b);
                assert!(
                    (after.0 - before.0).abs() < 0.2 && (after.1 - before.1).abs() < 0.2,
                    "{w}x{h} blur {radius}: centroid {before:?} -> {after:?}"
                );
            }
        }
    }

    /// A 4:2:0 frame whose left half is red and right half blue (BT.601 video levels), as
    /// (luma, chroma U, chroma V) planes of `w` x `h` with no padding.
    /// Red in the top-left and bottom-right quarters, blue in the others.
    fn red_blue_planes(w: usize, h: usize) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
        let (red, blue) = ([81u8, 90, 240], [41u8, 240, 110]);
        let at = |x: usize, y: usize, pw: usize, ph: usize, k: usize| {
            if (x < pw / 2) == (y < ph / 2) {
                red[k]
            } else {
                blue[k]
            }
        };
        let luma = (0..h).flat_map(|y| (0..w).map(move |x| at(x, y, w, h, 0))).collect();
        let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
        let half = |k: usize| -> Vec<u8> {
            (0..ch).flat_map(|y| (0..cw).map(move |x| at(x, y, cw, ch, k))).collect()
        };
        (luma, half(1), half(2))
    }

    #[test]
    fn face_copies_sampled_from_planes_keep_the_picture() {
        let (w, h) = (1920usize, 1080usize);
        let (y, u, v) = red_blue_planes(w, h);
        let uv: Vec<u8> = u.iter().zip(&v).flat_map(|(&a, &b)| [a, b]).collect();
        // The whole frame at the first look's size; regions centred on the frame's centre (one
        // at odd offsets) at a closer look's.
        let regions = [
            (Rect::new(0, 0, w as u32, h as u32), face_sample_size(w as u32, h as u32)),
            (Rect::new(480, 270, 960, 540), (128, 128)),
            (Rect::new(661, 421, 598, 238), (64, 64)),
        ];
        for (region, size) in regions {
            let from_i420 = bgr_sampled_from_i420(
                [(&y, w), (&u, w / 2), (&v, w / 2)],
                (w as u32, h as u32),
                region,
                size,
            )
            .unwrap();
            // The same frame as NV12 rows (chroma interleaved), the rows the GPU copy takes.
            let pick = |plane: &[u8], first: usize, rows: usize, wanted: usize| {
                let (start, step, n) = sampled_rows(rows, wanted);
                assert!(start + (n - 1) * step < rows);
                let picked = (0..n).flat_map(|r| plane[(first + start + r * step) * w..][..w].to_vec());
                (picked.collect::<Vec<u8>>(), n)
            };
            let (ry, rh) = (region.y as usize, region.height as usize);
            let (luma_rows, n) = pick(&y, ry, rh, size.1 as usize);
            let (chroma_rows, cn) = pick(&uv, ry / 2, (ry + rh).div_ceil(2) - ry / 2, size.1 as usize / 2);
            let columns = (region.x as usize, region.width as usize);
            let from_nv12 =
                bgr_sampled_from_nv12((&luma_rows, w, n), (&chroma_rows, w, cn), columns, size).unwrap();
            let red = |c: Rgba| c.r > 200 && c.b < 60;
            let blue = |c: Rgba| c.b > 200 && c.r < 60;
            for img in [&from_i420, &from_nv12] {
                assert_eq!((img.width(), img.height()), size);
                let (sw, sh) = (size.0 as f64, size.1 as f64);
                let at = |fx: f64, fy: f64| img.pixel((sw * fx) as u32, (sh * fy) as u32);
                // Just either side of the middle: a copy stretched or shifted by a few % fails.
                for (fx, fy, want_red) in
                    [(0.25, 0.45, true), (0.75, 0.45, false), (0.25, 0.56, false), (0.75, 0.56, true)]
                {
                    let c = at(fx, fy);
                    assert!(if want_red { red(c) } else { blue(c) }, "{region:?} at ({fx}, {fy}): {c:?}");
                }
            }
        }
    }

    use super::*;

    #[test]
    fn declared_sizes_are_read_from_headers_without_decoding() {
        let img = Image::filled(37, 21, Rgba::WHITE);
        let rgb = image::DynamicImage::ImageRgb8(image::RgbImage::from_raw(37, 21, img.to_rgb()).unwrap());
        use image::ImageFormat as F;
        for format in [F::Png, F::Jpeg, F::WebP, F::Bmp] {
            let mut bytes = std::io::Cursor::new(Vec::new());
            rgb.write_to(&mut bytes, format).unwrap();
            let bytes = bytes.into_inner();
            assert_eq!(declared_size(&bytes).map(|(_, w, h)| (w, h)), Some((37, 21)), "{format:?}");
            let decoded = Overlay::decode(&bytes, 100).unwrap();
            assert_eq!((decoded.width(), decoded.height()), (37, 21), "{format:?}");
        }
        // A 20000x20000 PNG header over nothing: refused before any decoding.
        let mut bomb = img.encode_png().unwrap();
        bomb[16..20].copy_from_slice(&20000u32.to_be_bytes());
        bomb[20..24].copy_from_slice(&20000u32.to_be_bytes());
        let Err(e) = Overlay::decode(&bomb, 8192) else { panic!("a bomb decoded") };
        assert!(e.message.contains("declares 20000x20000"), "{}", e.message);
        assert!(Overlay::decode(b"GIF89a....", 8192).is_err());
    }

    #[test]
    fn copy_strided_drops_row_padding() {
        // 2 rows of 3 bytes, stride 5: the padding bytes (9) must not appear.
        let src = [1, 2, 3, 9, 9, 4, 5, 6, 9, 9];
        assert_eq!(copy_strided(&src, 5, 3, 2), vec![1, 2, 3, 4, 5, 6]);
        // The last row may be short of a full stride, as in FFmpeg buffers.
        assert_eq!(copy_strided(&src[..8], 5, 3, 2), vec![1, 2, 3, 4, 5, 6]);
    }

    #[test]
    fn rgb_round_trip_and_pixel_order() {
        let img = Image::from_rgb(2, 1, &[255, 0, 0, 0, 0, 255]);
        assert_eq!(img.pixel(0, 0), Rgba::rgb(255, 0, 0));
        assert_eq!(img.to_rgb(), vec![255, 0, 0, 0, 0, 255]);
    }

    #[test]
    fn rotation_moves_the_right_edge_to_the_top_counter_clockwise() {
        // 2x1: red on the left, blue on the right.
        let img = Image::from_rgb(2, 1, &[255, 0, 0, 0, 0, 255]);
        let r = img.rotated(QuarterTurn::CounterClockwise).unwrap();
        assert_eq!((r.width(), r.height()), (1, 2));
        assert_eq!(r.pixel(0, 0), Rgba::rgb(0, 0, 255));
    }

    #[test]
    fn blending_is_exact_at_the_ends_and_halfway() {
        let mut img = Image::filled(3, 1, Rgba::BLACK);
        img.fill_rect(Rect::new(0, 0, 1, 1), Rgba::WHITE);
        img.fill_rect(Rect::new(1, 0, 1, 1), Rgba { a: 128, ..Rgba::WHITE });
        img.fill_rect(Rect::new(-10, -10, 5, 5), Rgba::WHITE); // fully outside: no effect, no panic
        assert_eq!(img.pixel(0, 0), Rgba::WHITE);
        assert_eq!(img.pixel(1, 0), Rgba::rgb(128, 128, 128));
        assert_eq!(img.pixel(2, 0), Rgba::BLACK);
    }

    #[test]
    fn masked_row_blend_is_within_one_of_the_exact_blend() {
        // Every coverage value (256 pixels) plus a 7-pixel remainder, each over a different
        // background, for several colour alphas: within 1 of the single-rounding formula, and
        // exact where the mask is empty or full.
        let n = 263;
        let coverage: Vec<u8> = (0..n).map(|i| (i % 256) as u8).collect();
        let row: Vec<u8> = (0..n * 3).map(|i| ((i * 37 + 11) % 256) as u8).collect();
        for src in [[0, 0, 0], [255, 255, 255], [10, 200, 99]] {
            for a in [1u8, 77, 128, 200, 255] {
                let mut fast = row.clone();
                blend_row_mask(&mut fast, &coverage, src, a);
                for (i, (px, &m)) in row.chunks_exact(3).zip(&coverage).enumerate() {
                    let mut exact = [px[0], px[1], px[2]];
                    blend_px(&mut exact, src, m as u32 * a as u32, 255 * 255);
                    for c in 0..3 {
                        let got = fast[i * 3 + c];
                        assert!(got.abs_diff(exact[c]) <= 1, "m {m} a {a} {src:?}: {got} vs {}", exact[c]);
                        if m == 0 || (m == 255 && a == 255) {
                            assert_eq!(got, exact[c], "m {m} a {a}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn masked_row_blend_gives_the_portable_codes_bytes() {
        // Random rows, coverage with empty and full blocks, lengths that are and are not whole
        // blocks, every kind of colour alpha: the AVX2 blend (where the CPU has it) and the
        // portable one give the same bytes.
        let mut seed = 7u32;
        let mut next = || {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (seed >> 24) as u8
        };
        for n in [0usize, 1, 15, 16, 17, 47, 64, 100, 263] {
            let row: Vec<u8> = (0..n * 3).map(|_| next()).collect();
            let coverage: Vec<u8> = (0..n)
                .map(|i| match (i / 16) % 4 {
                    0 => 0,
                    1 => 255,
                    _ => next(),
                })
                .collect();
            for src in [[0, 0, 0], [255, 255, 255], [10, 200, 99]] {
                for a in [0u8, 1, 77, 128, 254, 255] {
                    let (mut fast, mut portable) = (row.clone(), row.clone());
                    blend_row_mask(&mut fast, &coverage, src, a);
                    blend_row_mask_any(&mut portable, &coverage, src, a);
                    assert_eq!(fast, portable, "n {n} {src:?} a {a}");
                }
            }
        }
    }

    #[test]
    fn vectorised_row_blend_matches_the_per_pixel_formula() {
        // Every byte value in every channel (256 pixels: sixteen 16-pixel blocks), plus a
        // remainder of 5 pixels, for every alpha and colours at the ends of the range.
        let row: Vec<u8> = (0..261 * 3).map(|i| ((i / 3 + i % 3 * 85) % 256) as u8).collect();
        for src in [[0, 0, 0], [255, 255, 255], [10, 200, 99]] {
            for a in 0..=255u8 {
                let mut fast = row.clone();
                blend_row_const(&mut fast, src, a);
                let mut slow = row.clone();
                for px in slow.chunks_exact_mut(3) {
                    blend_px(px, src, a as u32, 255);
                }
                assert_eq!(fast, slow, "alpha {a}, colour {src:?}");
            }
        }
    }

    #[test]
    fn the_avx2_scrim_blend_gives_the_portable_codes_bytes() {
        // The dispatcher takes the AVX2 code on a CPU that has it; `blend_row_const_any` is the
        // portable code. Rows of every length up to three steps of 32 pixels and more, every
        // byte value, colours whose bytes differ (each register's third of the pattern counts).
        for len in 0..110usize {
            let row: Vec<u8> = (0..len * 3).map(|i| (i.wrapping_mul(2654435761usize) >> 9) as u8).collect();
            let cases = [([0, 0, 0], 200u8), ([255, 255, 255], 1), ([10, 200, 99], 128), ([1, 2, 3], 254)];
            for (src, a) in cases.into_iter().chain((0..=255).step_by(17).map(|a| ([250, 7, 131], a))) {
                let (mut built, mut baseline) = (row.clone(), row.clone());
                blend_row_const(&mut built, src, a);
                blend_row_const_any(&mut baseline, src, a);
                assert_eq!(built, baseline, "{len} px, alpha {a}");
            }
        }
    }

    #[test]
    fn area_downscale_averages() {
        let img = Image::from_rgb(2, 1, &[0, 0, 0, 255, 255, 255]);
        let small = img.crop_resized(Rect::new(0, 0, 2, 1), 1, 1).unwrap();
        let p = small.pixel(0, 0);
        assert!((127..=128).contains(&p.r), "{p:?}");
    }
}
