//! The decoder's planes of the part of a keyframe a canvas shows, kept for the keyframe cache.
//!
//! A fitted BGR canvas is 6 MB at 1080x1920, and writing one per cover cost a default batch
//! (keyframe cache on) ~5 ms of system time a cover, a third of the cover. The 8-bit 4:2:0
//! planes the canvas was made from, cropped to what it shows, are a sixth of that for a 1080p
//! landscape clip (half for a portrait one). The cache stores these and, on a hit, fits them to
//! the canvas again through the same code as a fresh decode, so a cover from the cache stays
//! byte-identical to one from the video.

use super::{error::DecodeError, fit_planes, YuvMatrix};
use crate::model::Rect;
use crate::pixels::Image;
use ffmpeg_next as ff;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// What the planes are and how they convert (the cache entry's header carries it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct PlanesInfo {
    /// Width of the luma plane (the crop's).
    pub width: u32,
    /// Height of the luma plane.
    pub height: u32,
    /// FFmpeg's `yuvj420p` (full range by format) rather than `yuv420p`.
    pub jpeg_format: bool,
    /// The YUV matrix the frame was converted with.
    pub matrix: YuvMatrix,
    /// Full-range levels.
    pub full_range: bool,
    /// The whole frame's height (what the conversion was set up with).
    pub matrix_height: u32,
}

impl PlanesInfo {
    fn plane_sizes(&self) -> [(usize, usize); 3] {
        let (w, h) = (self.width as usize, self.height as usize);
        let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
        [(w, h), (cw, ch), (cw, ch)]
    }

    fn len(&self) -> usize {
        self.plane_sizes().iter().map(|(w, h)| w * h).sum()
    }
}

/// Y, Cb and Cr of the crop, packed rows one plane after another.
#[derive(Clone, PartialEq)]
pub(crate) struct FittedPlanes {
    pub(crate) info: PlanesInfo,
    data: Vec<u8>,
}

impl std::fmt::Debug for FittedPlanes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "FittedPlanes({}x{})", self.info.width, self.info.height)
    }
}

impl FittedPlanes {
    /// Copies the `crop` (inside the frame) of an 8-bit 4:2:0 `frame`'s planes: the chroma
    /// rows and columns [`fit_planes`] reads for it.
    pub(crate) fn capture(frame: &ff::frame::Video, crop: Rect) -> Self {
        let info = PlanesInfo {
            width: crop.width,
            height: crop.height,
            jpeg_format: frame.format() == ff::format::Pixel::YUVJ420P,
            matrix: YuvMatrix::of(frame.color_space(), frame.height()),
            full_range: frame.color_range() == ff::color::Range::JPEG,
            matrix_height: frame.height(),
        };
        let mut data = Vec::with_capacity(info.len());
        for (plane, (w, h)) in info.plane_sizes().into_iter().enumerate() {
            let (x, y) = if plane == 0 { (crop.x, crop.y) } else { (crop.x / 2, crop.y / 2) };
            let (x, y, stride) = (x as usize, y as usize, frame.stride(plane));
            for row in frame.data(plane).chunks(stride).skip(y).take(h) {
                data.extend_from_slice(&row[x..x + w]);
            }
        }
        FittedPlanes { info, data }
    }

    /// The planes' bytes, as [`FittedPlanes::from_bytes`] takes them back.
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.data
    }

    /// Planes described by `info` from their bytes; `None` when the length does not match.
    pub(crate) fn from_bytes(info: PlanesInfo, data: Vec<u8>) -> Option<Self> {
        (data.len() == info.len() && info.width > 0 && info.height > 0).then_some(FittedPlanes { info, data })
    }

    /// The canvas of `size` these planes fill, as the decode that captured them made it.
    /// `path` names the entry in errors.
    ///
    /// # Errors
    /// When FFmpeg or OpenCV fail.
    pub(crate) fn to_canvas(&self, size: (u32, u32), path: &Path) -> Result<Image, DecodeError> {
        let i = self.info;
        let format = if i.jpeg_format { ff::format::Pixel::YUVJ420P } else { ff::format::Pixel::YUV420P };
        let mut frame = ff::frame::Video::new(format, i.width, i.height);
        frame.set_color_space(i.matrix.space());
        frame.set_color_range(if i.full_range { ff::color::Range::JPEG } else { ff::color::Range::MPEG });
        let mut rest = self.data.as_slice();
        for (plane, (w, h)) in i.plane_sizes().into_iter().enumerate() {
            let (this, after) = rest.split_at(w * h);
            rest = after;
            let stride = frame.stride(plane);
            for (dst, src) in frame.data_mut(plane).chunks_mut(stride).zip(this.chunks_exact(w)) {
                dst[..w].copy_from_slice(src);
            }
        }
        let whole = Rect::new(0, 0, i.width, i.height);
        fit_planes(path, &frame, whole, size, i.matrix_height)?.ok_or_else(|| DecodeError::Convert {
            path: path.to_owned(),
            reason: "cached planes are not 4:2:0".into(),
        })
    }
}
