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
//!
//! [`pipeline`] composes one job; [`batch`] runs many, in parallel and incrementally. FFmpeg lives in `av` (private), OpenCV in [`pixels`].
//! Fonts, templates, images and limits come through [`env::Env`], shared across jobs.

#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod accel;
pub mod animated;
mod av;
pub mod batch;
pub mod check;
pub mod color;
pub mod composite;
pub mod encode;
pub mod env;
pub mod error;
pub mod fonts;
pub mod keyframe;
pub mod layout;
pub mod limits;
pub mod metadata;
pub mod pipeline;
pub mod pixels;
pub mod probe;
pub mod template;

pub use env::Env;
pub use error::{Error, ErrorKind};
