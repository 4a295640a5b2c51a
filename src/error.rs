//! The top-level error of a cover job, grouped by whose fault a failure is.
//!
//! Each stage has its own error enum; [`Error`] wraps them, [`Error::kind`] says whose fault it
//! is (the CLI maps that once to an exit code) and [`ErrorReport`] is how reports and other
//! callers carry it: kind, the message, and the file, line and column it points at.

use crate::animated::AnimatedError;
use crate::composite::CompositeError;
use crate::encode::EncodeError;
use crate::keyframe::DecodeError;
use crate::layout::LayoutError;
use crate::model::Diagnostics;
use crate::probe::ProbeError;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Whose fault a failure is; the CLI maps each to an exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The command line asks for something impossible (clap's own errors are these too).
    Usage,
    /// The input video is missing, unreadable or undecodable.
    InputMedia,
    /// The template or metadata is wrong.
    Template,
    /// A value exceeded a limit.
    Limit,
    /// The request needs something this build or machine lacks.
    Unsupported,
    /// Reading or writing files failed.
    Io,
}

impl ErrorKind {
    /// The process exit code for this kind.
    pub fn exit_code(self) -> u8 {
        match self {
            ErrorKind::Usage => 2,
            ErrorKind::InputMedia => 3,
            ErrorKind::Template => 4,
            ErrorKind::Limit => 5,
            ErrorKind::Unsupported => 6,
            ErrorKind::Io => 7,
        }
    }
}

/// Any failure of one cover job.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The video could not be probed or decoded.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// Template, metadata or layout problems, or a limit the layout exceeded.
    #[error(transparent)]
    Layout(#[from] LayoutError),
    /// Compositing failed.
    #[error(transparent)]
    Composite(#[from] CompositeError),
    /// Encoding or writing the output failed.
    #[error(transparent)]
    Encode(#[from] EncodeError),
    /// An animated cover could not be made.
    #[error(transparent)]
    Animated(#[from] AnimatedError),
    /// The job ran past its deadline (`--deadline`).
    #[error("{}: the job took longer than its deadline of {seconds} s (--deadline)", path.display())]
    Deadline {
        /// The video of the job.
        path: std::path::PathBuf,
        /// The deadline in seconds.
        seconds: f64,
    },
}

impl From<ProbeError> for Error {
    fn from(e: ProbeError) -> Self {
        Error::Decode(DecodeError::Probe(e))
    }
}

impl From<Diagnostics> for Error {
    fn from(d: Diagnostics) -> Self {
        Error::Layout(LayoutError::Diagnostics(d))
    }
}

/// Whose fault a failure to open a video is.
fn probe_kind(e: &ProbeError) -> ErrorKind {
    match e {
        ProbeError::Limit { .. } => ErrorKind::Limit,
        ProbeError::Unsupported { .. } | ProbeError::Hardware { .. } => ErrorKind::Unsupported,
        _ => ErrorKind::InputMedia,
    }
}

impl Error {
    /// Whose fault this is.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Decode(DecodeError::Probe(p)) => probe_kind(p),
            Error::Decode(_) => ErrorKind::InputMedia,
            Error::Deadline { .. } => ErrorKind::Limit,
            Error::Layout(LayoutError::Limit { .. }) => ErrorKind::Limit,
            Error::Layout(LayoutError::Diagnostics(d)) if d.is_limit() => ErrorKind::Limit,
            Error::Layout(_) => ErrorKind::Template,
            Error::Composite(CompositeError::Asset { .. }) => ErrorKind::Template,
            Error::Composite(_) => ErrorKind::Unsupported,
            Error::Encode(EncodeError::Format { .. } | EncodeError::Gpu { .. }) => ErrorKind::Unsupported,
            Error::Encode(EncodeError::Quality(_)) => ErrorKind::Usage,
            Error::Encode(_) => ErrorKind::Io,
            Error::Animated(a) => match a {
                AnimatedError::Settings { .. } => ErrorKind::Template,
                AnimatedError::Format { .. } | AnimatedError::NoEncoder { .. } => ErrorKind::Unsupported,
                AnimatedError::Open(p) => probe_kind(p),
                AnimatedError::Decode { .. } => ErrorKind::InputMedia,
                _ => ErrorKind::Io,
            },
        }
    }

    /// The file this error points at, with line and column when known: the first diagnostic's
    /// place for template and metadata errors, else the file the error names.
    pub fn location(&self) -> (Option<&Path>, Option<usize>, Option<usize>) {
        fn file(p: &Path) -> (Option<&Path>, Option<usize>, Option<usize>) {
            (Some(p), None, None)
        }
        match self {
            Error::Layout(LayoutError::Diagnostics(d)) => match d.0.first() {
                Some(d) => (Some(d.file.as_path()), d.line, d.column),
                None => (None, None, None),
            },
            Error::Layout(LayoutError::Limit { file: f, .. }) => file(f),
            Error::Deadline { path, .. } => file(path),
            Error::Decode(e) => e.path().map_or((None, None, None), file),
            Error::Animated(AnimatedError::Open(p)) => file(p.path()),
            Error::Animated(
                AnimatedError::Format { path, .. }
                | AnimatedError::NoEncoder { path, .. }
                | AnimatedError::Write { path, .. },
            ) => file(path),
            Error::Composite(CompositeError::Asset { path, .. }) => file(path),
            Error::Encode(
                EncodeError::Format { path, .. }
                | EncodeError::Encoder { path, .. }
                | EncodeError::Gpu { path, .. },
            ) => file(path),
            Error::Encode(EncodeError::Write(w)) => file(&w.path),
            _ => (None, None, None),
        }
    }
}

/// An error as reports carry it (a batch report line, a queue result, a web page).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorReport {
    /// Whose fault it is.
    pub kind: ErrorKind,
    /// The whole message, one line.
    pub message: String,
    /// The file it points at, when it names one.
    pub file: Option<PathBuf>,
    /// 1-based line in that file, when known.
    pub line: Option<usize>,
    /// 1-based column, when known.
    pub column: Option<usize>,
}

impl ErrorReport {
    /// The report of `e`, with `message` as the text (callers may prefix it, e.g. with the
    /// input's name).
    pub fn new(e: &Error, message: String) -> Self {
        let (file, line, column) = e.location();
        ErrorReport { kind: e.kind(), message, file: file.map(Path::to_path_buf), line, column }
    }
}
