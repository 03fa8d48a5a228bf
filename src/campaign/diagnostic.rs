//! A problem found while loading campaigns, with where it is and how to fix it.
//!
//! Rendered once, at the edge, as `file:line:column`, a snippet with a caret, what was expected,
//! and a suggestion.

use std::path::PathBuf;
use std::sync::Arc;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Error,
    Warning,
}

/// Where in a file a problem is. Lines and columns count from 1; `offset`/`len` are bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub offset: usize,
    pub len: usize,
    pub line: usize,
    pub column: usize,
}

#[derive(Debug, Clone)]
pub struct Diagnostic {
    pub severity: Severity,
    /// A short stable name of the problem class, e.g. `unknown-key`, `yaml-syntax`.
    pub code: &'static str,
    pub file: PathBuf,
    /// The file's text, for the snippet.
    pub source: Option<Arc<str>>,
    pub span: Option<Span>,
    /// What is wrong, e.g. "unknown key `atribute`".
    pub message: String,
    /// How to fix it, e.g. "did you mean `attribute`?".
    pub help: Option<String>,
}
