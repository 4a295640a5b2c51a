//! The vocabulary every layer shares: plain types with no I/O (layer 0 of
//! `docs/architecture.md`). A type that two layers need lives here, so neither has to import
//! the other.

pub mod clip;
pub mod diagnostics;
pub mod frame;
pub mod hardware;
pub mod html;
pub mod media;
pub mod rect;

pub use diagnostics::{Diagnostic, Diagnostics};
pub use frame::FrameSpec;
pub use hardware::{Compositor, DecodedBy, Device, HwAccel, JpegEncoder};
pub use media::{MediaInfo, QuarterTurn, VIDEO_EXTENSIONS};
pub use rect::Rect;
