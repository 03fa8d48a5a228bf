//! Showing a plan to people (a table, a summary, explanations) and to scripts (JSON lines).
//! Writes to a `String`; the caller prints it.

pub mod html;
mod json;
mod text;

pub use json::json_lines;
pub use text::{preview, width_from_env};

/// Where a plan's data came from, for the heading.
#[derive(Debug, Clone)]
pub struct Heading {
    /// "Dry run" or "Run".
    pub mode: &'static str,
    /// e.g. "snapshot snapshots/demo.json" or "Genesys Cloud mypurecloud.ie".
    pub source: String,
}
