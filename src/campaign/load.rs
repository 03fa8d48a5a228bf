//! Loading campaign files: the one place YAML is parsed.
//!
//! Each file is parsed into a [`yaml_serde::Value`], then deserialized into [`RawCampaign`] with
//! `serde_path_to_error`. Serde stops at the first problem, so each problem is recorded, the
//! offending node removed, and deserialization tried again (bounded), so that every problem of a
//! file is reported at once. A location index built with saphyr-parser's event parser maps key
//! paths (`audience.all[2].equals`) to the key's and the value's position in the file.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use saphyr_parser::{Event, Parser};
use serde_path_to_error::Segment;
use yaml_serde::Value;

use super::CampaignSet;
use super::compile;
use super::diagnostic::{Diagnostic, Severity, Span};
use super::raw::{OPERATORS, RawCampaign};
use crate::model::fields;

/// How many problems of one file are collected before giving up on it.
const MAX_ROUNDS: usize = 50;

/// The largest campaign file read (campaigns are a few KiB).
pub const MAX_CAMPAIGN_BYTES: usize = 1 << 20;
/// The largest template file read.
pub const MAX_TEMPLATE_BYTES: usize = 256 << 10;
/// How deeply `[...]` / `{...}` may nest in a campaign file. The YAML parser takes quadratic
/// time on deep flow nesting (100 000 levels: tens of seconds) before it reports its own
/// recursion limit (128), so deeper files are refused before it runs.
pub const MAX_FLOW_DEPTH: usize = 100;

fn size_text(bytes: u64) -> String {
    if bytes >= 1 << 20 {
        format!("{:.1} MiB", bytes as f64 / f64::from(1 << 20))
    } else {
        format!("{} KiB", bytes.div_ceil(1024))
    }
}

fn too_large(path: &Path, what: &str, size: u64, max: usize) -> Diagnostic {
    let mut d = io_error(
        path,
        format!("`{}` is {}: a {what} may be at most {}", path.display(), size_text(size), size_text(max as u64)),
    );
    d.code = "too-large";
    d.help = Some(match what {
        "campaign file" => "split it into several campaign files".to_owned(),
        _ => "split it into smaller templates (`{% include %}`)".to_owned(),
    });
    d
}

/// What to load.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// Files or directories; a directory means its `*.yaml` and `*.yml` files, sorted.
    pub campaigns: Vec<PathBuf>,
    pub templates_dir: PathBuf,
}

/// The result of loading: a valid campaign set, or the problems that prevent one.
#[derive(Debug)]
pub struct Loaded {
    /// `None` when any diagnostic is an error.
    pub set: Option<CampaignSet>,
    /// Errors and warnings, sorted by file, line and column.
    pub diagnostics: Vec<Diagnostic>,
    /// How many campaign files were read.
    pub files: usize,
}

/// Loads every campaign file and template, and compiles them.
pub fn load(options: &LoadOptions) -> Loaded {
    let mut diagnostics = Vec::new();
    let mut sources = Vec::new();
    for path in campaign_files(&options.campaigns, &mut diagnostics) {
        // Not even read when too large.
        if let Ok(size) = std::fs::metadata(&path).map(|m| m.len())
            && size > MAX_CAMPAIGN_BYTES as u64
        {
            diagnostics.push(too_large(&path, "campaign file", size, MAX_CAMPAIGN_BYTES));
            continue;
        }
        match std::fs::read_to_string(&path) {
            Ok(text) => sources.push((path, text)),
            Err(e) => diagnostics.push(io_error(&path, format!("cannot read `{}`: {e}", path.display()))),
        }
    }
    let templates = read_templates(&options.templates_dir, &mut diagnostics);
    let mut loaded = load_sources(sources, templates);
    diagnostics.append(&mut loaded.diagnostics);
    finish(loaded.set, diagnostics, loaded.files)
}

/// Loads campaigns from memory: `(file name, YAML text)` pairs and the template files.
pub fn load_sources(sources: Vec<(PathBuf, String)>, templates: compile::TemplateFiles) -> Loaded {
    let files = sources.len();
    let mut diagnostics = Vec::new();
    let inputs: Vec<compile::Input> = sources
        .into_iter()
        .map(|(path, text)| {
            let (file, raw, mut problems) = parse_file(path, text);
            diagnostics.append(&mut problems);
            compile::Input { file, raw }
        })
        .collect();
    let (set, mut problems) = compile::compile(inputs, templates);
    diagnostics.append(&mut problems);
    finish(Some(set), diagnostics, files)
}

fn finish(set: Option<CampaignSet>, mut diagnostics: Vec<Diagnostic>, files: usize) -> Loaded {
    diagnostics.sort_by(|a, b| {
        let pos = |d: &Diagnostic| d.span.map_or((0, 0), |s| (s.line, s.column));
        (&a.file, pos(a), a.severity).cmp(&(&b.file, pos(b), b.severity))
    });
    let failed = diagnostics.iter().any(|d| d.severity == Severity::Error);
    let set = set.filter(|_| !failed).map(|mut set| {
        set.warnings = diagnostics.clone();
        set
    });
    Loaded { set, diagnostics, files }
}

fn io_error(path: &Path, message: String) -> Diagnostic {
    Diagnostic {
        severity: Severity::Error,
        code: "io",
        file: path.to_owned(),
        source: None,
        span: None,
        message,
        help: None,
    }
}

/// The campaign files named by `paths`: files as given, directories expanded.
fn campaign_files(paths: &[PathBuf], diagnostics: &mut Vec<Diagnostic>) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for path in paths {
        if !path.is_dir() {
            if path.exists() {
                files.push(path.clone());
            } else {
                diagnostics.push(io_error(path, format!("`{}` does not exist", path.display())));
            }
            continue;
        }
        let found = match std::fs::read_dir(path) {
            Ok(entries) => {
                let mut found: Vec<PathBuf> = entries
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
                    .collect();
                found.sort();
                found
            }
            Err(e) => {
                diagnostics.push(io_error(path, format!("cannot read the directory `{}`: {e}", path.display())));
                continue;
            }
        };
        if found.is_empty() {
            let mut d = io_error(path, format!("the directory `{}` has no campaign files", path.display()));
            d.help = Some("campaign files end in `.yaml` or `.yml`".to_owned());
            diagnostics.push(d);
        }
        files.extend(found);
    }
    files
}

/// Every file under the templates directory (recursively, sorted), named by its path relative to
/// the directory with `/` separators. `None` when the directory does not exist.
fn read_templates(dir: &Path, diagnostics: &mut Vec<Diagnostic>) -> compile::TemplateFiles {
    let mut files = Vec::new();
    if !dir.is_dir() {
        return compile::TemplateFiles { dir: dir.to_owned(), files: None };
    }
    let mut pending = vec![dir.to_owned()];
    while let Some(current) = pending.pop() {
        let entries = match std::fs::read_dir(&current) {
            Ok(entries) => entries,
            Err(e) => {
                diagnostics.push(io_error(&current, format!("cannot read the directory `{}`: {e}", current.display())));
                continue;
            }
        };
        for path in entries.filter_map(|e| e.ok().map(|e| e.path())) {
            let hidden = path.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.'));
            if hidden {
                continue;
            }
            if path.is_dir() {
                pending.push(path);
                continue;
            }
            let name = path.strip_prefix(dir).unwrap_or(&path);
            let name = name.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/");
            if let Ok(size) = std::fs::metadata(&path).map(|m| m.len())
                && size > MAX_TEMPLATE_BYTES as u64
            {
                diagnostics.push(too_large(&path, "template file", size, MAX_TEMPLATE_BYTES));
                continue;
            }
            match std::fs::read_to_string(&path) {
                Ok(text) => files.push(compile::TemplateFile { name, path, text: Arc::from(text) }),
                Err(e) => {
                    diagnostics.push(io_error(&path, format!("cannot read the template `{}`: {e}", path.display())))
                }
            }
        }
    }
    files.sort_by(|a, b| a.name.cmp(&b.name));
    compile::TemplateFiles { dir: dir.to_owned(), files: Some(files) }
}

/// One step of a key path: a map key or a list index.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Seg {
    Key(String),
    Index(usize),
}

fn path_text(segs: &[Seg]) -> String {
    let mut out = String::new();
    for seg in segs {
        match seg {
            Seg::Key(k) if out.is_empty() => out.push_str(k),
            Seg::Key(k) => {
                out.push('.');
                out.push_str(k);
            }
            Seg::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

/// Where a node is: its key (in a map) and its value. A container's value span is empty.
#[derive(Debug, Clone, Copy)]
struct Location {
    key: Option<Span>,
    value: Span,
}

/// What a diagnostic points at.
#[derive(Debug, Clone, Copy)]
pub enum At<'a> {
    /// The key of the node at this path (the value when it has no key, e.g. a list item).
    Key(&'a str),
    /// The value of the node at this path (the key when the value is a map or a list).
    Value(&'a str),
    /// A span found otherwise.
    Span(Span),
    /// The file as a whole.
    File,
}

/// A campaign file's text and the positions of its keys and values.
#[derive(Debug)]
pub struct SourceFile {
    pub path: PathBuf,
    pub text: Arc<str>,
    index: HashMap<String, Location>,
    /// Paths of nodes removed because they were wrong (their problem is already reported).
    removed: Vec<String>,
}

impl SourceFile {
    pub fn new(path: PathBuf, text: &str) -> SourceFile {
        let index = location_index(text);
        SourceFile { path, text: Arc::from(text), index, removed: Vec::new() }
    }

    /// A file that is not YAML (a template): no location index.
    pub fn plain(path: PathBuf, text: &str) -> SourceFile {
        SourceFile { path, text: Arc::from(text), index: HashMap::new(), removed: Vec::new() }
    }

    /// The span of `needle` on line `line` (from 1), or of the line's text without indentation.
    pub fn line_span(&self, line: usize, needle: Option<&str>) -> Option<Span> {
        let mut offset = 0;
        let text = self.text.split_inclusive('\n').inspect(|l| offset += l.len()).nth(line.checked_sub(1)?)?;
        let offset = offset - text.len();
        let text = text.trim_end_matches(['\n', '\r']);
        let (start, len) = match needle.and_then(|n| text.find(n).map(|i| (i, n.len()))) {
            Some(found) => found,
            None => {
                let start = text.len() - text.trim_start().len();
                (start, text.trim().len())
            }
        };
        let column = text[..start].chars().count() + 1;
        Some(Span { offset: offset + start, len, line, column })
    }

    /// An error at `at`.
    pub fn error(&self, code: &'static str, at: At<'_>, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            code,
            file: self.path.clone(),
            source: Some(self.text.clone()),
            span: self.locate(at),
            message: message.into(),
            help: None,
        }
    }

    /// The span of `at`; for a path that is not in the file, the nearest parent that is.
    pub fn locate(&self, at: At<'_>) -> Option<Span> {
        let (path, want_key) = match at {
            At::Span(span) => return Some(span),
            At::File => return None,
            At::Key(p) => (p, true),
            At::Value(p) => (p, false),
        };
        let mut path = path;
        loop {
            if let Some(loc) = self.index.get(path) {
                let value = (loc.value.len > 0 || loc.key.is_none()).then_some(loc.value);
                return if want_key { loc.key.or(value) } else { value.or(loc.key) };
            }
            path = parent(path)?;
        }
    }

    /// The line (from 1) of a key path.
    pub fn line_of(&self, path: &str) -> Option<usize> {
        self.locate(At::Key(path)).map(|s| s.line)
    }

    /// Whether a node at `path` or below it was removed because of a reported problem (for the
    /// root `""`: a top-level key), so that "missing" problems are not reported twice.
    pub fn had_error_in(&self, path: &str) -> bool {
        self.removed.iter().any(|r| match path {
            "" => !r.contains(['.', '[']),
            _ => r == path || r.strip_prefix(path).is_some_and(|rest| rest.starts_with(['.', '['])),
        })
    }

    /// Whether any problem was found while reading the file.
    pub fn had_errors(&self) -> bool {
        !self.removed.is_empty()
    }
}

/// `a.b[2].c` -> `a.b[2]` -> `a.b` -> `a` -> `` -> None.
fn parent(path: &str) -> Option<&str> {
    if path.is_empty() {
        return None;
    }
    Some(path.rfind(['.', '[']).map_or("", |i| &path[..i]))
}

/// Builds the location index of a YAML text. A text that does not parse gets a partial index.
fn location_index(text: &str) -> HashMap<String, Location> {
    // saphyr's markers count characters; diagnostics want bytes.
    let mut bytes: Vec<usize> = text.char_indices().map(|(i, _)| i).collect();
    bytes.push(text.len());
    let span = |s: saphyr_parser::Span| {
        let at = |i: usize| bytes.get(i).copied().unwrap_or(text.len());
        let offset = at(s.start.index());
        Span { offset, len: at(s.end.index()).saturating_sub(offset), line: s.start.line(), column: s.start.col() + 1 }
    };
    let mut index = HashMap::new();
    let mut stack: Vec<Frame> = Vec::new();
    let mut parser = Parser::new_from_str(text);
    while let Some(Ok((event, event_span))) = parser.next_event() {
        let at = span(event_span);
        match event {
            Event::Scalar(value, ..) => {
                if let Some(Frame::Map { key: key @ None, .. }) = stack.last_mut() {
                    *key = Some((value.into_owned(), at));
                    continue;
                }
                record_node(&mut stack, &mut index, at);
            }
            Event::Alias(_) => {
                record_node(&mut stack, &mut index, at);
            }
            Event::MappingStart(..) | Event::SequenceStart(..) => {
                let path = record_node(&mut stack, &mut index, Span { len: 0, ..at });
                let path = path.unwrap_or_else(|| "\u{0}complex key".to_owned());
                stack.push(match event {
                    Event::MappingStart(..) => Frame::Map { path, key: None },
                    _ => Frame::Seq { path, next: 0 },
                });
            }
            Event::MappingEnd | Event::SequenceEnd => {
                stack.pop();
            }
            _ => {}
        }
    }
    index
}

enum Frame {
    Map { path: String, key: Option<(String, Span)> },
    Seq { path: String, next: usize },
}

/// Records a node (a value) at the current position and advances the parent. Returns the node's
/// path, or `None` for a complex (non-scalar) map key, which is not indexed.
fn record_node(stack: &mut [Frame], index: &mut HashMap<String, Location>, value: Span) -> Option<String> {
    let (path, key) = match stack.last_mut() {
        None => (String::new(), None),
        Some(Frame::Map { key: key @ None, .. }) => {
            // A map or list used as a key: mark the key as taken so that the value follows.
            *key = Some(("\u{0}complex key".to_owned(), value));
            return None;
        }
        Some(Frame::Map { path, key: key @ Some(_) }) => {
            let (name, key_span) = key.take()?;
            let path = if path.is_empty() { name } else { format!("{path}.{name}") };
            (path, Some(key_span))
        }
        Some(Frame::Seq { path, next }) => {
            *next += 1;
            (format!("{path}[{}]", *next - 1), None)
        }
    };
    index.insert(path.clone(), Location { key, value });
    Some(path)
}

/// Parses one file: its location index, the raw campaign (with wrong nodes left out) and the
/// problems found.
fn parse_file(path: PathBuf, text: String) -> (SourceFile, Option<RawCampaign>, Vec<Diagnostic>) {
    if text.len() > MAX_CAMPAIGN_BYTES {
        let d = too_large(&path, "campaign file", text.len() as u64, MAX_CAMPAIGN_BYTES);
        return (SourceFile::plain(path, ""), None, vec![d]);
    }
    if let Some(line) = flow_too_deep(&text) {
        let file = SourceFile::plain(path, &text);
        let mut d = file.error(
            "too-deep",
            At::File,
            format!("`[...]` and `{{...}}` nest more than {MAX_FLOW_DEPTH} levels deep here"),
        );
        d.span = file.line_span(line, None);
        d.help = Some("a campaign never needs such nesting; write conditions as indented YAML".to_owned());
        return (file, None, vec![d]);
    }
    let mut file = SourceFile::new(path, &text);
    let mut tree: Value = match yaml_serde::from_str(&text) {
        Ok(tree) => tree,
        Err(e) => {
            let d = syntax_error(&file, &e);
            return (file, None, vec![d]);
        }
    };
    if tree.is_null() {
        let mut d = file.error("empty-file", At::File, "the campaign file is empty");
        d.help = Some("a campaign needs at least a `name:` and a `message:`".to_owned());
        return (file, None, vec![d]);
    }
    let mut problems = Vec::new();
    let mut removals: Vec<(Vec<Seg>, usize)> = Vec::new();
    for _ in 0..MAX_ROUNDS {
        let error = match serde_path_to_error::deserialize::<_, RawCampaign>(tree.clone()) {
            Ok(raw) => return (file, Some(raw), problems),
            Err(e) => e,
        };
        let Some(current) = segments(error.path()) else {
            break;
        };
        let original = to_original(&current, &removals);
        let original_text = path_text(&original);
        problems.push(serde_problem(&file, &original_text, node(&tree, &current), &error.inner().to_string()));
        if !remove(&mut tree, &current) {
            return (file, None, problems);
        }
        if let (Some(Seg::Index(i)), Some(seq)) = (original.last(), original.get(..original.len() - 1)) {
            removals.push((seq.to_vec(), *i));
        }
        file.removed.push(original_text);
    }
    (file, None, problems)
}

/// The line (1-based) where YAML flow collections (`[`, `{`) first nest deeper than
/// [`MAX_FLOW_DEPTH`], if they do. A linear scan that follows YAML's rules closely enough for
/// this bound: brackets count where a node starts (line start, after `: `, `- `, `? `, or
/// inside a flow collection), never inside quoted scalars, comments or block scalars (`|`, `>`).
pub(super) fn flow_too_deep(text: &str) -> Option<usize> {
    let mut depth = 0usize;
    let mut quote: Option<char> = None;
    // The indentation of the line that opened a block scalar: more indented lines are its text.
    let mut block: Option<usize> = None;
    for (n, line) in text.lines().enumerate() {
        let indent = line.len() - line.trim_start_matches(' ').len();
        if let Some(parent) = block {
            if line.trim().is_empty() || indent > parent {
                continue;
            }
            block = None;
        }
        let chars: Vec<char> = line.chars().collect();
        // Whether the next non-space character starts a node.
        let mut node_start = true;
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            if let Some(q) = quote {
                match c {
                    '\\' if q == '"' => i += 1,
                    '\'' if q == '\'' && chars.get(i + 1) == Some(&'\'') => i += 1,
                    _ if c == q => {
                        quote = None;
                        node_start = false;
                    }
                    _ => {}
                }
                i += 1;
                continue;
            }
            let next_is_space = chars.get(i + 1).is_none_or(|n| n.is_whitespace());
            match c {
                ' ' | '\t' => {}
                '#' if i == 0 || chars[i - 1].is_whitespace() => break,
                '[' | '{' if node_start => {
                    depth += 1;
                    if depth > MAX_FLOW_DEPTH {
                        return Some(n + 1);
                    }
                }
                ']' | '}' if depth > 0 => {
                    depth -= 1;
                    node_start = false;
                }
                ',' if depth > 0 => node_start = true,
                ':' | '-' | '?' if next_is_space || depth > 0 && c == ':' => node_start = true,
                '"' | '\'' if node_start => quote = Some(c),
                '|' | '>' if node_start && depth == 0 => {
                    let rest: String = chars[i + 1..].iter().collect();
                    let rest = rest.split(" #").next().unwrap_or_default();
                    if rest.trim().chars().all(|c| c == '+' || c == '-' || c.is_ascii_digit()) {
                        block = Some(indent);
                        break;
                    }
                    node_start = false;
                }
                _ => node_start = false,
            }
            i += 1;
        }
    }
    None
}

fn syntax_error(file: &SourceFile, e: &yaml_serde::Error) -> Diagnostic {
    let span = e.location().map(|l| {
        let line_start: usize = file.text.split_inclusive('\n').take(l.line().saturating_sub(1)).map(str::len).sum();
        Span { offset: l.index().max(line_start), len: 0, line: l.line(), column: l.column() }
    });
    let message = e.to_string();
    let message = message.split(" at line ").next().unwrap_or(&message).to_owned();
    let mut d = file.error("yaml-syntax", At::File, format!("this is not valid YAML: {message}"));
    d.span = span;
    d.help = Some(
        "check the indentation and the `key: value` layout around here; put a value in quotes if it contains `: `, `#`, or starts with `*`, `&`, `!`, `{` or `[`"
            .to_owned(),
    );
    d
}

fn segments(path: &serde_path_to_error::Path) -> Option<Vec<Seg>> {
    path.iter()
        .map(|s| match s {
            Segment::Seq { index } => Some(Seg::Index(*index)),
            Segment::Map { key } => Some(Seg::Key(key.clone())),
            Segment::Enum { .. } | Segment::Unknown => None,
        })
        .collect()
}

/// A path in the tree after removals, translated to the path in the file.
fn to_original(current: &[Seg], removals: &[(Vec<Seg>, usize)]) -> Vec<Seg> {
    let mut original: Vec<Seg> = Vec::new();
    for seg in current {
        let seg = match seg {
            Seg::Index(i) => {
                let mut removed: Vec<usize> =
                    removals.iter().filter(|(seq, _)| *seq == original).map(|(_, r)| *r).collect();
                removed.sort_unstable();
                let mut index = *i;
                for r in removed {
                    if r <= index {
                        index += 1;
                    }
                }
                Seg::Index(index)
            }
            key => key.clone(),
        };
        original.push(seg);
    }
    original
}

fn node<'a>(tree: &'a Value, path: &[Seg]) -> Option<&'a Value> {
    path.iter().try_fold(tree, |v, seg| match seg {
        Seg::Key(k) => v.get(k.as_str()),
        Seg::Index(i) => v.get(*i),
    })
}

/// Removes the node at `path`. Returns false when it cannot (the root).
fn remove(tree: &mut Value, path: &[Seg]) -> bool {
    let Some((last, parents)) = path.split_last() else {
        return false;
    };
    let mut parent = tree;
    for seg in parents {
        let next = match seg {
            Seg::Key(k) => parent.get_mut(k.as_str()),
            Seg::Index(i) => parent.get_mut(*i),
        };
        let Some(next) = next else { return false };
        parent = next;
    }
    match (last, parent) {
        (Seg::Key(k), Value::Mapping(map)) => map.remove(k.as_str()).is_some(),
        (Seg::Index(i), Value::Sequence(seq)) if *i < seq.len() => {
            seq.remove(*i);
            true
        }
        _ => false,
    }
}

/// Turns serde's message into a diagnostic in plain words.
fn serde_problem(file: &SourceFile, path: &str, found: Option<&Value>, message: &str) -> Diagnostic {
    if let Some(rest) = message.strip_prefix("unknown field `") {
        let key = rest.split('`').next().unwrap_or_default();
        let mut d = file.error("unknown-key", At::Key(path), format!("unknown key `{key}`"));
        d.help = Some(unknown_key_help(key, &backticked(rest.split_once("expected").map_or("", |(_, e)| e))));
        return d;
    }
    if let Some(rest) = message.strip_prefix("unknown variant `") {
        let word = rest.split('`').next().unwrap_or_default();
        let allowed = backticked(rest.split_once("expected").map_or("", |(_, e)| e));
        let key = path.rsplit('.').next().unwrap_or(path);
        let mut d = file.error("invalid-value", At::Value(path), format!("`{word}` is not a valid `{key}`"));
        d.help = Some(choose_help(word, &allowed));
        return d;
    }
    if path.is_empty() {
        let found = found.map_or_else(|| "something else".to_owned(), describe_value);
        let mut d = file.error("wrong-type", At::File, format!("a campaign file must be a map of keys, found {found}"));
        d.help =
            Some("start with `name: my-campaign` on the first line, then `message:` and the other keys".to_owned());
        return d;
    }
    let expected = message.rsplit_once(", expected ").map_or("something else", |(_, e)| e);
    let expected = expected_words(expected);
    let found_text = found.map_or_else(|| "something else".to_owned(), describe_value);
    let mut d = file.error("wrong-type", At::Value(path), format!("expected {expected}, found {found_text}"));
    d.help = wrong_type_help(expected, found);
    d
}

fn backticked(text: &str) -> Vec<String> {
    text.split('`').skip(1).step_by(2).map(str::to_owned).collect()
}

fn unknown_key_help(key: &str, allowed: &[String]) -> String {
    let suggestion = fields::suggest(key, allowed.iter().map(String::as_str));
    let is_condition = OPERATORS.iter().all(|op| allowed.iter().any(|a| a == op));
    let list = if is_condition {
        format!("operators are: {}", OPERATORS.join(", "))
    } else if allowed.is_empty() {
        "no keys are allowed here".to_owned()
    } else {
        format!("allowed keys here: {}", allowed.join(", "))
    };
    match suggestion {
        Some(s) => format!("did you mean `{s}`? ({list})"),
        None => list,
    }
}

/// "did you mean `x`?" or the list of allowed words.
pub fn choose_help(word: &str, allowed: &[String]) -> String {
    match fields::suggest(word, allowed.iter().map(String::as_str)) {
        Some(s) => format!("did you mean `{s}`? (allowed: {})", allowed.join(", ")),
        None => format!("allowed: {}", allowed.join(", ")),
    }
}

fn expected_words(serde_expected: &str) -> &str {
    match serde_expected {
        "a string" => "text",
        "i64" | "i32" | "u32" | "usize" => "a whole number",
        "u64" => "a whole number (0 or more)",
        "f64" => "a number",
        "a boolean" => "`true` or `false`",
        "a sequence" => "a list",
        e if e.starts_with("struct ") || e.starts_with("a map") => "a map of keys",
        e => e,
    }
}

/// How a YAML value reads to a person: "text `high`", "a whole number `5`", "a list".
pub fn describe_value(value: &Value) -> String {
    match value {
        Value::Null => "nothing (the value is empty)".to_owned(),
        Value::Bool(b) => format!("`{b}` (a yes/no value)"),
        Value::Number(n) if n.is_i64() || n.is_u64() => format!("a whole number `{n}`"),
        Value::Number(n) => format!("a number `{n}`"),
        Value::String(s) => format!("text `{}`", shorten(s)),
        Value::Sequence(_) => "a list".to_owned(),
        Value::Mapping(_) => "a map of keys".to_owned(),
        Value::Tagged(t) => format!("a value tagged `{}`", t.tag),
    }
}

fn shorten(text: &str) -> String {
    let line = text.lines().next().unwrap_or_default();
    if line.chars().count() > 40 || line.len() < text.trim_end().len() {
        format!("{}...", line.chars().take(40).collect::<String>())
    } else {
        line.to_owned()
    }
}

fn wrong_type_help(expected: &str, found: Option<&Value>) -> Option<String> {
    let help = match (expected, found?) {
        ("text", Value::Number(n)) => format!("put the value in quotes to make it text: \"{n}\""),
        ("text", Value::Bool(b)) => {
            format!("YAML reads {b} as a yes/no value; put it in quotes to make it text: \"{b}\"")
        }
        ("text", Value::Null) => "write a value after the colon".to_owned(),
        ("`true` or `false`", _) => "write `true` or `false` (without quotes)".to_owned(),
        (e, Value::String(_)) if e.starts_with("a whole number") => {
            "write a whole number without quotes, e.g. `10`".to_owned()
        }
        (e, Value::Number(_)) if e.starts_with("a whole number") => "write a whole number, e.g. `10`".to_owned(),
        ("a list", _) => "write a list, e.g. `[a, b]` or one `- item` per line".to_owned(),
        ("a map of keys", _) => "write `key: value` lines indented below this key".to_owned(),
        _ => return None,
    };
    Some(help)
}
