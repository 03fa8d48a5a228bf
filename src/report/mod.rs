//! Showing a plan to people (a table, a summary, explanations) and to scripts (JSON lines).
//! The preview and the JSON lines are written to an `io::Write` as they are made (a large plan
//! is never held as one text); the HTML page is a `String`.

pub mod html;
mod json;
mod text;

pub use json::write_json_lines;
pub use text::{width_from_env, write_preview};

/// Where a plan's data came from, for the heading.
#[derive(Debug, Clone)]
pub struct Heading {
    /// "Dry run" or "Run".
    pub mode: &'static str,
    /// e.g. "snapshot snapshots/demo.json" or "Genesys Cloud mypurecloud.ie".
    pub source: String,
}
