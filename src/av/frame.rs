//! The one decoded-frame type, from the decoder to the compositors.

use super::cuda::DeviceFrame;
use crate::model::DecodedBy;
use crate::pixels::Image;

/// A decoded video frame, upright with square pixels at the video's display size.
///
/// `P` says where its pixels are: [`Image`] (BGR in system memory, what the CPU compositor and
/// the scorers read) or [`Pixels`] (either that or an NVDEC surface kept on the GPU).
#[derive(Debug, Clone)]
pub struct Frame<P = Image> {
    /// The picture.
    pub pixels: P,
    /// Presentation time in seconds from the start of the stream.
    pub time_s: f64,
    /// Which decoder produced it (hardware or software, and why not hardware).
    pub decoded_by: DecodedBy,
}

/// A frame's pixels: BGR in system memory, or an NVDEC surface on the GPU.
pub enum Pixels {
    /// BGR in system memory.
    Host(Image),
    /// An 8-bit NV12 NVDEC surface (upright, square pixels), mapped while this lives.
    Device(DeviceFrame),
}

impl Pixels {
    /// Width and height in pixels.
    pub fn size(&self) -> (u32, u32) {
        match self {
            Pixels::Host(i) => (i.width(), i.height()),
            Pixels::Device(f) => (f.width(), f.height()),
        }
    }
}

impl std::fmt::Debug for Pixels {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (w, h) = self.size();
        let place = if matches!(self, Pixels::Host(_)) { "host" } else { "device" };
        write!(f, "Pixels::{place}({w}x{h})")
    }
}

impl From<Frame<Image>> for Frame<Pixels> {
    fn from(f: Frame<Image>) -> Self {
        Frame { pixels: Pixels::Host(f.pixels), time_s: f.time_s, decoded_by: f.decoded_by }
    }
}
