//! Errors: one public [`Error`] with a [`ErrorKind`], a message and an optional [`Span`] pointing at
//! the line of the user's script that caused it.
//!
//! Script-facing errors print as `file:line: subject: problem; hint`.

use std::borrow::Cow;
use std::fmt;

/// Where something was created: a file (as the user wrote it) and a 1-based line.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize)]
pub struct Span {
    /// Path of the script, as shown to the user.
    pub file: String,
    /// 1-based line number; 0 when unknown.
    pub line: u32,
}

impl Span {
    /// A span at `file:line`.
    pub fn new(file: impl Into<String>, line: u32) -> Self {
        Self {
            file: file.into(),
            line,
        }
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line > 0 {
            write!(f, "{}:{}", self.file, self.line)
        } else {
            write!(f, "{}", self.file)
        }
    }
}

/// What went wrong, broadly.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The Lua script failed to parse or run.
    Script,
    /// A node option or parameter was wrong (unknown, wrong type, out of range).
    Param,
    /// The routing is invalid (cycle, unknown port, channel mismatch).
    Graph,
    /// An audio file could not be read or written.
    Io,
    /// An audio file is not in a supported format.
    Format,
    /// The audio device failed or is missing.
    Device,
    /// A limit was reached (evaluation time or memory, node or event counts, sizes).
    Limit,
    /// The script or command tried to read or write where it is not allowed.
    Denied,
    /// Anything else.
    Other,
}

/// The public error type.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Error {
    /// Broad category.
    pub kind: ErrorKind,
    /// Full sentence(s), including the bad value and, where possible, a hint.
    pub message: Cow<'static, str>,
    /// The script line responsible, if known.
    pub span: Option<Span>,
}

impl Error {
    /// A new error without a span.
    pub fn new(kind: ErrorKind, message: impl Into<Cow<'static, str>>) -> Self {
        Self {
            kind,
            message: message.into(),
            span: None,
        }
    }

    /// Attaches a span unless one is already set.
    pub fn at(mut self, span: Option<&Span>) -> Self {
        if self.span.is_none() {
            self.span = span.cloned();
        }
        self
    }

    /// Shorthand for an I/O error about `path`.
    pub fn io(path: &std::path::Path, what: impl fmt::Display) -> Self {
        Self::new(ErrorKind::Io, format!("{}: {what}", path.display()))
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.span {
            Some(s) => write!(f, "{s}: {}", self.message),
            None => write!(f, "{}", self.message),
        }
    }
}

impl std::error::Error for Error {}

/// Several errors reported together (a script with three mistakes shows all three).
#[derive(Clone, Debug, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct Errors(pub Vec<Error>);

impl fmt::Display for Errors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Errors {}

impl From<Error> for Errors {
    fn from(e: Error) -> Self {
        Errors(vec![e])
    }
}

/// Result with the crate's error.
pub type Result<T, E = Error> = std::result::Result<T, E>;
