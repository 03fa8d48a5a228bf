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

impl Severity {
    fn label(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }

    fn color(self) -> &'static str {
        match self {
            Severity::Error => "\x1b[1;31m",
            Severity::Warning => "\x1b[1;33m",
        }
    }
}

const BOLD: &str = "\x1b[1m";
const BLUE: &str = "\x1b[1;34m";
const CYAN: &str = "\x1b[1;36m";
const RESET: &str = "\x1b[0m";

/// A diagnostic as JSON, for `validate --format json`.
pub fn to_json(d: &Diagnostic) -> serde_json::Value {
    serde_json::json!({
        "severity": d.severity.label(),
        "code": d.code,
        "file": d.file.display().to_string(),
        "line": d.span.map(|s| s.line),
        "column": d.span.map(|s| s.column),
        "message": d.message,
        "help": d.help,
    })
}

/// Renders diagnostics for a terminal: a header, `--> file:line:column`, the source line with a
/// caret under the problem, and the help. Deterministic; with `color`, ANSI colors are added.
pub fn render(diagnostics: &[Diagnostic], color: bool) -> String {
    diagnostics.iter().map(|d| render_one(d, color)).collect::<Vec<_>>().join("\n")
}

fn render_one(d: &Diagnostic, color: bool) -> String {
    let paint = |style: &str, text: &str| {
        if color { format!("{style}{text}{RESET}") } else { text.to_owned() }
    };
    let mut out = String::new();
    let label = format!("{}[{}]", d.severity.label(), d.code);
    out.push_str(&format!("{}{}\n", paint(d.severity.color(), &label), paint(BOLD, &format!(": {}", d.message))));
    let snippet = d.span.zip(d.source.as_deref()).and_then(|(span, source)| snippet_line(source, span));
    let gutter = snippet.as_ref().map_or(1, |(line, ..)| line.to_string().len());
    let pad = " ".repeat(gutter);
    let location = match d.span {
        Some(s) => format!("{}:{}:{}", d.file.display(), s.line, s.column),
        None => d.file.display().to_string(),
    };
    out.push_str(&format!("{pad}{} {location}\n", paint(BLUE, "-->")));
    if let Some((line, text, column, width)) = snippet {
        let bar = paint(BLUE, "|");
        let carets = paint(d.severity.color(), &"^".repeat(width));
        out.push_str(&format!("{pad} {bar}\n"));
        out.push_str(&format!("{} {bar} {text}\n", paint(BLUE, &line.to_string())));
        out.push_str(&format!("{pad} {bar} {}{carets}\n", " ".repeat(column - 1)));
    }
    if let Some(help) = &d.help {
        out.push_str(&format!("{pad} {} {help}\n", paint(CYAN, "= help:")));
    }
    out
}

/// The source line of a span, the caret's column (from 1) and width (at least 1, at most to
/// the end of the line).
fn snippet_line(source: &str, span: Span) -> Option<(usize, String, usize, usize)> {
    let text = source.lines().nth(span.line.checked_sub(1)?)?;
    let text = text.replace('\t', " ");
    let line_len = text.chars().count();
    let column = span.column.clamp(1, line_len + 1);
    let spanned = source.get(span.offset..span.offset + span.len).unwrap_or_default();
    let spanned = spanned.lines().next().unwrap_or_default().chars().count();
    let width = spanned.min(line_len + 1 - column).max(1);
    Some((span.line, text, column, width))
}

/// One line: `2 errors and 1 warning in 1 of 4 campaign files`, or `no problems in 4 campaign files`.
pub fn summary(diagnostics: &[Diagnostic], files: usize) -> String {
    let count = |severity| diagnostics.iter().filter(|d| d.severity == severity).count();
    let plural = |n: usize, word: &str| {
        if n == 1 { format!("1 {word}") } else { format!("{n} {word}s") }
    };
    let campaign_files = plural(files, "campaign file");
    let (errors, warnings) = (count(Severity::Error), count(Severity::Warning));
    let what = match (errors, warnings) {
        (0, 0) => return format!("no problems in {campaign_files}"),
        (e, 0) => plural(e, "error"),
        (0, w) => plural(w, "warning"),
        (e, w) => format!("{} and {}", plural(e, "error"), plural(w, "warning")),
    };
    let mut with_problems: Vec<&PathBuf> = diagnostics.iter().map(|d| &d.file).collect();
    with_problems.sort();
    with_problems.dedup();
    let affected = with_problems.len();
    if affected > files {
        format!("{what} in {} ({campaign_files} checked)", plural(affected, "file"))
    } else {
        format!("{what} in {affected} of {campaign_files}")
    }
}
