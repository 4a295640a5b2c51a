//! coverforge: video covers at scale.
//!
//! # Steps
//!
//! A cover is made in four stages; each has a module, an input type and an output type.
//!
//! | stage | module | input | output |
//! |---|---|---|---|
//! | probe | [`probe`] | video file | [`probe::MediaInfo`] |
//! | keyframe | [`keyframe`] | video + [`keyframe::FrameSpec`] | [`keyframe::Frame`] |
//! | metadata | [`metadata`] | `META.yaml` | [`metadata::Metadata`] |
//! | template | [`template`] | Tera template + metadata | layout text (YAML) |
//! | layout | [`layout`] | layout text + fonts | [`layout::doc::LayoutDoc`] |
//! | composite | [`composite`] | frame + layout | canvas [`pixels::Image`] |
//! | encode | [`encode`] | canvas | JPEG / PNG / WebP bytes, written atomically |
//! | animate | [`animated`] | frame + layout + video | MP4 / animated WebP clip (encoder factory) |
//!
//! [`pipeline`] composes one job; [`batch`] runs many, in parallel and incrementally. FFmpeg lives
//! in `av` (private: demuxing, decoding on CUDA/VAAPI/QSV or software, encoders, nvJPEG), OpenCV
//! in [`pixels`]; [`accel`] holds the device choices and `coverforge devices`' report.
//! Fonts, templates, images, limits and device choices come through [`env::Env`], shared across
//! jobs.

#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod animated;
mod av;
pub mod batch;
pub mod check;
pub mod color;
pub mod composite;
pub mod devices;
pub mod encode;
pub mod env;
pub mod error;
pub mod files;
pub mod fonts;
#[doc(hidden)]
pub mod fuzzing;
pub mod keyframe;
pub mod layout;
pub mod limits;
pub mod metadata;
pub mod model;
pub mod pipeline;
pub mod pixels;
pub mod probe;
pub mod template;

pub use env::Env;
pub use error::{Error, ErrorKind};
