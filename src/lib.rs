//! coverforge: video covers at scale.
//!
//! # Steps
//!
//! A cover is made in four stages; each has a module, an input type and an output type.
//!
//! | stage | module | input | output |
//! |---|---|---|---|
//! | probe | [`probe`] | video file | [`probe::MediaInfo`] |
//! | keyframe | [`keyframe`] | video + [`keyframe::FrameSpec`] | [`keyframe::Extracted`] (a [`keyframe::Frame`]) |
//! | metadata | [`metadata`] | `META.yaml` | [`metadata::Metadata`] |
//! | template | [`template`] | Tera template + metadata | layout text (YAML) |
//! | layout | [`layout`] | layout text + fonts | [`layout::doc::LayoutDoc`] |
//! | composite | [`composite`] | frame + layout | canvas [`pixels::Image`] |
//! | encode | [`encode`] | canvas | JPEG / PNG / WebP bytes, written atomically |
//! | animate | [`animated`] | frame + layout + video | MP4 / animated WebP clip (encoder factory) |
//!
//! [`pipeline`] runs one job ([`pipeline::run`], or [`pipeline::prepare`] then
//! [`pipeline::finish`]); [`batch`] runs many, in parallel and incrementally, and [`check`]
//! stops before encoding.
//!
//! # Layers
//!
//! Every module belongs to one layer and imports only from layers below it (or its own
//! children); no two modules import each other. `tests/architecture.rs` checks this against
//! the table in `docs/architecture.md`.
//!
//! | layer | modules |
//! |---|---|
//! | 0 model | [`model`] (media facts, frame spec, [`model::Rect`], hardware choices, clip settings, diagnostics), [`color`], [`limits`], [`files`] |
//! | 1 seams | `av` (FFmpeg, CUDA, nvJPEG, TurboJPEG, libwebp: private, every `unsafe` here), [`pixels`] (OpenCV, image files), [`fonts`] |
//! | 2 stages | [`probe`], [`keyframe`], [`metadata`], [`template`], [`env`](mod@env), [`layout`], [`composite`], [`encode`], [`animated`] |
//! | 3 pipeline | [`pipeline`], [`error`] |
//! | 4 callers | [`batch`], [`check`], [`devices`] |
//!
//! Options ([`pipeline::RenderOptions`], [`limits::Limits`], the hardware session cap
//! [`animated::HwSessions`]) travel with a job; [`env::Env`] holds the caches shared across jobs
//! (fonts, compiled templates, images) and the folders inputs may read from.

#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod ab;
pub mod analyze;
pub mod animated;
mod av;
pub mod batch;
pub mod check;
pub mod clock;
pub mod color;
pub mod composite;
pub mod ctr;
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
pub mod queue;
pub mod serve;
pub mod stats;
pub mod template;

#[doc(hidden)]
pub use av::FitBench;
pub use env::Env;
pub use error::{Error, ErrorKind};
