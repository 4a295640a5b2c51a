//! Template, metadata and layout diagnostics: file, line, column, message and a hint, collected
//! in one pass so a designer fixes everything in one round.

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
    /// Whether it is a resource limit (exit code 5) rather than a mistake in the file.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub limit: bool,
}

/// Longest piece of an input a message quotes.
pub const MAX_EXCERPT: usize = 120;

/// `s` cut to [`MAX_EXCERPT`] characters, saying how long it really was: messages quote inputs
/// (a link, a value, a line of a file), never all of a long one.
pub fn excerpt(s: &str) -> String {
    let n = s.chars().count();
    if n <= MAX_EXCERPT {
        return s.to_string();
    }
    let head: String = s.chars().take(MAX_EXCERPT - 20).collect();
    format!("{head}… ({n} characters)")
}

/// `message` with every quoted part (between backticks or double quotes) longer than
/// [`MAX_EXCERPT`] characters cut to an excerpt.
pub fn shorten_quotes(message: &str) -> String {
    let mut out = String::with_capacity(message.len().min(4096));
    let mut rest = message;
    while let Some(open) = rest.find(['`', '"']) {
        let quote = rest.as_bytes()[open] as char;
        out.push_str(&rest[..=open]);
        rest = &rest[open + 1..];
        match rest.find(quote) {
            Some(close) => {
                out.push_str(&excerpt(&rest[..close]));
                out.push(quote);
                rest = &rest[close + 1..];
            }
            None => {
                out.push_str(&excerpt(rest));
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

impl Diagnostic {
    /// A diagnostic for a whole file. Quoted parts of `message` are cut to short excerpts.
    pub fn new(file: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        let message = shorten_quotes(&message.into());
        Diagnostic { file: file.into(), line: None, column: None, message, hint: None, limit: false }
    }

    /// A diagnostic for a resource limit the file's content ran into.
    pub fn limit(file: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Diagnostic { limit: true, ..Diagnostic::new(file, message) }
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

impl Diagnostics {
    /// Whether the first problem is a resource limit (what the exit code reports).
    pub fn is_limit(&self) -> bool {
        self.0.first().is_some_and(|d| d.limit)
    }
}

impl From<Diagnostic> for Diagnostics {
    fn from(d: Diagnostic) -> Self {
        Diagnostics(vec![d])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_quotes_become_excerpts() {
        let long = "x".repeat(5000);
        let m = shorten_quotes(&format!("link url `{long}` is bad; value \"{long}\" too"));
        assert!(m.len() < 400, "{m}");
        assert!(m.contains("(5000 characters)`") && m.ends_with("characters)\" too"), "{m}");
        assert_eq!(shorten_quotes("short `ok` and \"fine\""), "short `ok` and \"fine\"");
        assert!(shorten_quotes(&format!("unclosed \"{long}")).len() < 200);
    }
}
