//! The top-level error, grouped by whose fault a failure is, and template/metadata diagnostics.
//!
//! Each stage has its own error enum; [`Error`] wraps them and [`Error::kind`] tells the CLI
//! which exit code to use. Diagnostics carry file, line and column so a designer can jump to
//! the problem, and all diagnostics of one pass are reported together.

use crate::composite::CompositeError;
use crate::encode::EncodeError;
use crate::keyframe::DecodeError;
use crate::limits::LimitError;
use crate::probe::ProbeError;
use std::fmt;
use std::path::PathBuf;

/// One problem in a template, metadata or layout file, located as precisely as we can.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Diagnostic {
    /// The file at fault.
    pub file: PathBuf,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// 1-based column, when known.
    pub column: Option<usize>,
    /// What is wrong.
    pub message: String,
    /// How to fix it, when we can tell.
    pub hint: Option<String>,
}

impl Diagnostic {
    /// A diagnostic for a whole file.
    pub fn new(file: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Diagnostic { file: file.into(), line: None, column: None, message: message.into(), hint: None }
    }

    /// Sets the line and column.
    pub fn at(mut self, line: Option<usize>, column: Option<usize>) -> Self {
        self.line = line;
        self.column = column;
        self
    }

    /// Adds a hint.
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(col) = self.column {
                write!(f, ":{col}")?;
            }
        }
        write!(f, ": {}", self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, " ({hint})")?;
        }
        Ok(())
    }
}

/// One or more diagnostics from a template or metadata pass.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

impl From<Diagnostic> for Diagnostics {
    fn from(d: Diagnostic) -> Self {
        Diagnostics(vec![d])
    }
}

/// Whose fault a failure is; the CLI maps each to an exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
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
    /// The process exit code for this kind (2 is clap's usage error).
    pub fn exit_code(self) -> i32 {
        match self {
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
    /// Template, metadata or layout problems.
    #[error(transparent)]
    Layout(#[from] Diagnostics),
    /// A limit was exceeded.
    #[error("{}: {source}", file.display())]
    Limit {
        /// The file whose content exceeded it.
        file: PathBuf,
        /// Which limit.
        source: LimitError,
    },
    /// Compositing failed.
    #[error(transparent)]
    Composite(#[from] CompositeError),
    /// Encoding or writing the output failed.
    #[error(transparent)]
    Encode(#[from] EncodeError),
    /// An animated cover could not be made.
    #[error(transparent)]
    Animated(#[from] crate::animated::AnimatedError),
}

impl From<ProbeError> for Error {
    fn from(e: ProbeError) -> Self {
        Error::Decode(DecodeError::Probe(e))
    }
}

impl Error {
    /// Whose fault this is.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Decode(DecodeError::Probe(ProbeError::Limit { .. })) => ErrorKind::Limit,
            Error::Decode(DecodeError::Probe(
                ProbeError::Unsupported { .. } | ProbeError::Hardware { .. },
            )) => ErrorKind::Unsupported,
            Error::Decode(DecodeError::Probe(ProbeError::Io { .. })) => ErrorKind::InputMedia,
            Error::Decode(_) => ErrorKind::InputMedia,
            Error::Layout(_) => ErrorKind::Template,
            Error::Limit { .. } => ErrorKind::Limit,
            Error::Composite(CompositeError::Asset { .. }) => ErrorKind::Template,
            Error::Composite(_) => ErrorKind::Unsupported,
            Error::Encode(EncodeError::Format { .. } | EncodeError::Gpu { .. }) => ErrorKind::Unsupported,
            Error::Encode(_) => ErrorKind::Io,
            Error::Animated(a) => {
                use crate::animated::AnimatedError as A;
                match a {
                    A::Settings { .. } => ErrorKind::Template,
                    A::Format { .. } | A::NoEncoder { .. } => ErrorKind::Unsupported,
                    A::Decode { .. } => ErrorKind::InputMedia,
                    _ => ErrorKind::Io,
                }
            }
        }
    }
}
