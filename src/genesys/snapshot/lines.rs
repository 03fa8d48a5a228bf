//! Format `runner-snapshot/2`: JSON Lines, one API answer per line, so that a snapshot of any
//! size is written and read a line at a time.
//!
//! ```text
//! {"format":"runner-snapshot/2","captured_at":"2026-11-24T12:00:00Z","description":"..."}
//! {"active":{...AnalyticsConversation...}}
//! {"details":{"id":"<conversation id>","data":{...GET /api/v2/conversations/{id}, verbatim...}}}
//! {"contact":{"id":"<contact id>","data":{...ExternalContact...}}}
//! {"history":{...AnalyticsConversation...}}
//! {"wrapup_code":{"id":"...","name":"..."}}
//! {"failure":{"key":"contact:<id>","error":"..."}}
//! ```
//!
//! Reading builds an [`Index`]: where each line is (byte offset and length), the details and
//! contacts by id, without keeping the lines themselves. A run then reads and parses only the
//! lines it asks for, in parallel on every core; the history lines are read whole when the
//! history is asked for (a snapshot holds the history of its sessions' customers, so nearly
//! all of them are wanted) and each parsed once. The file is mapped into memory a block or a
//! window at a time (not copied out of the page cache), so it must not change while a run reads
//! it: `runner snapshot` saves by renaming a finished file over the old one.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::ops::Range;
use std::path::Path;

use jiff::Timestamp;
use serde::de::{DeserializeOwned, IgnoredAny};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::super::types::{AnalyticsConversation, ConversationView, ExternalContact, WrapupCode};
use super::{Snapshot, SnapshotError};
use crate::fxhash::FxHashMap;
use crate::genesys::plain;
use crate::model::parse_time;
use crate::source::RawJson;

pub const FORMAT: &str = "runner-snapshot/2";

/// The blocks of the file read and keyed at once while indexing (a line belongs to the block
/// where it starts, and is read whole with it).
const CHUNK: usize = 16 << 20;
/// Lines read back together when they lie this close in the file.
const MAX_GAP: u64 = 64 << 10;
/// At most this many bytes read back at once.
const MAX_WINDOW: u64 = 8 << 20;

/// The first line.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Header {
    pub format: String,
    pub captured_at: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// One line after the header, as written.
#[derive(Serialize)]
#[serde(rename_all = "snake_case")]
enum Line<'a> {
    Active(&'a AnalyticsConversation),
    Details { id: &'a str, data: &'a serde_json::value::RawValue },
    Contact { id: &'a str, data: &'a ExternalContact },
    History(&'a AnalyticsConversation),
    WrapupCode(&'a WrapupCode),
    Failure { key: &'a str, error: &'a str },
}

/// One line after the header, as indexed: only what finds it again, borrowed from the line
/// where it can be.
#[derive(Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
enum Key<'a> {
    Active(IgnoredAny),
    Details {
        #[serde(borrow)]
        id: Str<'a>,
        #[serde(rename = "data")]
        _data: IgnoredAny,
    },
    Contact {
        #[serde(borrow)]
        id: Str<'a>,
        #[serde(rename = "data")]
        _data: IgnoredAny,
    },
    History(IgnoredAny),
    WrapupCode(WrapupCode),
    Failure {
        key: String,
        error: String,
    },
}

impl<'a> Key<'a> {
    /// The key of a line as `runner snapshot` writes it, found without parsing the line:
    /// `{"active":`, `{"history":`, `{"details":{"id":"<id>","data":` or
    /// `{"contact":{"id":"<id>","data":`, or with the id last (`{"details":{"data":` ...
    /// `,"id":"<id>"}}`, as a tool that sorts keys writes it). Any other line (other spacing or
    /// key order, an id with escapes) is parsed. The rest of a line is checked when it is read
    /// back, which names the line.
    fn fast(line: &'a [u8]) -> Option<Key<'a>> {
        if line.starts_with(br#"{"active":"#) {
            return Some(Key::Active(IgnoredAny));
        }
        if line.starts_with(br#"{"history":"#) {
            return Some(Key::History(IgnoredAny));
        }
        let WriterLine { details, id, .. } = writer_layout(line)?;
        if id.iter().any(|b| *b < 0x20) {
            return None;
        }
        let id = Str(Cow::Borrowed(std::str::from_utf8(id).ok()?));
        Some(if details { Key::Details { id, _data: IgnoredAny } } else { Key::Contact { id, _data: IgnoredAny } })
    }
}

/// A details or contact line as `runner snapshot` writes it (`{"details":{"id":"<id>","data":`
/// DATA `}}`, or with the id last, `{"details":{"data":` DATA `,"id":"<id>"}}`; `contact` alike),
/// split without reading DATA: whether it is details, the id, and DATA (`None` when a line with
/// the id first does not end as that layout does). Whether DATA is one JSON value is left to
/// whoever parses it: if it is, the line is such a line. `None` for any other layout, or an id
/// with escapes.
fn writer_layout(line: &[u8]) -> Option<WriterLine<'_>> {
    let (rest, details) = match line.strip_prefix(br#"{"details":{"#) {
        Some(rest) => (rest, true),
        None => (line.strip_prefix(br#"{"contact":{"#)?, false),
    };
    if let Some(rest) = rest.strip_prefix(br#""id":""#) {
        let end = memchr::memchr2(b'"', b'\\', rest)?;
        let data = rest[end..].strip_prefix(br#"","data":"#)?;
        return Some(WriterLine { details, id: &rest[..end], data: data.strip_suffix(b"}}") });
    }
    // `,"id":"<id>"}}` ends the line: the last member of the object that holds `data` (the two
    // braces close it and the line), whatever comes before it.
    let rest = rest.strip_prefix(br#""data":"#)?.strip_suffix(br#""}}"#)?;
    let start = memchr::memrchr2(b'"', b'\\', rest)?;
    (rest[start] == b'"').then_some(())?;
    let data = rest[..start].strip_suffix(br#","id":"#)?;
    Some(WriterLine { details, id: &rest[start + 1..], data: Some(data) })
}

/// What [`writer_layout`] finds in a line.
struct WriterLine<'a> {
    details: bool,
    id: &'a [u8],
    data: Option<&'a [u8]>,
}

/// The `data` of a details line as `runner snapshot` writes it ([`writer_layout`]), cut out of
/// the line without reading it.
fn fast_details_data(line: &[u8]) -> Option<&[u8]> {
    writer_layout(line).filter(|l| l.details).and_then(|l| l.data)
}

impl Key<'_> {
    /// The key with its strings owned (kept past the block it was read from).
    fn into_owned(self) -> Key<'static> {
        match self {
            Key::Active(a) => Key::Active(a),
            Key::Details { id, _data } => Key::Details { id: Str(Cow::Owned(id.0.into_owned())), _data },
            Key::Contact { id, _data } => Key::Contact { id: Str(Cow::Owned(id.0.into_owned())), _data },
            Key::History(h) => Key::History(h),
            Key::WrapupCode(code) => Key::WrapupCode(code),
            Key::Failure { key, error } => Key::Failure { key, error },
        }
    }
}

/// A string of a line: borrowed from it unless it has escapes. (serde borrows a `Cow` field
/// only outside an `Option`.)
struct Str<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Str<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Str<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: serde::de::Error>(self, v: &'de str) -> Result<Str<'de>, E> {
                Ok(Str(Cow::Borrowed(v)))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Str<'de>, E> {
                Ok(Str(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Str<'de>, E> {
                Ok(Str(Cow::Owned(v)))
            }
        }
        deserializer.deserialize_str(Visitor)
    }
}

/// A history line, as read back.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HistoryLine {
    history: AnalyticsConversation,
}

impl AsRef<AnalyticsConversation> for HistoryLine {
    fn as_ref(&self) -> &AnalyticsConversation {
        &self.history
    }
}

/// An active conversation's line, as read back.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ActiveLine {
    active: AnalyticsConversation,
}

impl AsRef<AnalyticsConversation> for ActiveLine {
    fn as_ref(&self) -> &AnalyticsConversation {
        &self.active
    }
}

/// A line's place in the store.
#[derive(Debug, Clone, Copy)]
struct Span {
    offset: u64,
    len: u32,
}

impl Span {
    fn end(self) -> u64 {
        self.offset + u64::from(self.len)
    }
}

/// Where the lines are: the snapshot file, or memory (a `runner-snapshot/1` file or a
/// [`Snapshot`] built in memory, written out as lines).
#[derive(Debug)]
enum Store {
    File(File),
    Memory(Vec<u8>),
}

impl Store {
    /// `f` of the bytes of `offset..offset+len`: borrowed from memory, or mapped from the file
    /// (for as long as `f` runs: a mapped page counts as the process's memory while mapped).
    fn with_bytes<R>(&self, offset: u64, len: usize, f: impl FnOnce(&[u8]) -> R) -> std::io::Result<R> {
        match self {
            Store::File(file) => {
                if len == 0 {
                    return Ok(f(&[]));
                }
                if offset.saturating_add(len as u64) > file.metadata()?.len() {
                    return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "past the end"));
                }
                // SAFETY: the file is not changed while a run reads it: `runner snapshot` saves by
                // renaming a finished file over the old one, which leaves this one as it is.
                let map = unsafe { memmap2::MmapOptions::new().offset(offset).len(len).map(file)? };
                Ok(f(&map))
            }
            Store::Memory(bytes) => {
                let start = usize::try_from(offset).unwrap_or(usize::MAX);
                let bytes = bytes
                    .get(start..start.saturating_add(len))
                    .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "past the end"))?;
                Ok(f(bytes))
            }
        }
    }

    /// The number of the line that starts at `offset` (1-based), counted when an error names it.
    fn line_number(&self, offset: u64) -> std::io::Result<usize> {
        let mut newlines = 0;
        let mut at = 0u64;
        while at < offset {
            let len = usize::try_from((offset - at).min(CHUNK as u64)).unwrap_or(CHUNK);
            newlines += self.with_bytes(at, len, |bytes| memchr::memchr_iter(b'\n', bytes).count())?;
            at += len as u64;
        }
        Ok(newlines + 1)
    }
}

/// Asks the kernel to start reading the whole file into its page cache now, in the
/// background: the blocks are keyed in order as they arrive instead of each of their pages
/// waiting for its own read (a snapshot not read for a while is partly or wholly on disk only).
/// A hint: nothing fails when the kernel does not take it.
fn read_ahead(file: &File, len: u64) {
    let Ok(len) = usize::try_from(len) else { return };
    if len == 0 {
        return;
    }
    // SAFETY: mapped only to give the advice, never read; see `Store::with_bytes`.
    if let Ok(map) = unsafe { memmap2::MmapOptions::new().len(len).map(file) } {
        let _ = map.advise(memmap2::Advice::WillNeed);
    }
}

/// What a batch read found for one id: the JSON text of the details line's `data` (from a line in
/// `runner snapshot`'s layout not checked yet: whoever reads it parses it; [`Index::details`]
/// checks it and names the line of one that is not JSON), `None` when the snapshot does not hold
/// it, or why its line could not be read.
pub type Found<'a> = Result<Option<&'a str>, SnapshotError>;

/// A snapshot's lines, indexed.
#[derive(Debug)]
pub struct Index {
    store: Store,
    pub captured_at: Timestamp,
    pub description: Option<String>,
    active: Vec<Span>,
    details: FxHashMap<String, Span>,
    contacts: FxHashMap<String, Span>,
    history: Vec<Span>,
    pub wrapup_codes: Vec<WrapupCode>,
    pub failures: BTreeMap<String, String>,
    /// The file, to name it in errors.
    path: std::path::PathBuf,
}

/// The windows of [`Index::read_lines`], as ranges of `spans` (start, end): lines read at once
/// when each lies close to the previous one, up to [`MAX_WINDOW`] bytes in all.
fn windows(spans: &[Span]) -> Vec<(usize, usize)> {
    let mut windows = Vec::new();
    let mut start = 0;
    while start < spans.len() {
        let first = spans[start];
        let mut end = start + 1;
        while end < spans.len()
            && spans[end].offset >= spans[end - 1].end()
            && spans[end].offset - spans[end - 1].end() <= MAX_GAP
            && spans[end].end() - first.offset <= MAX_WINDOW
        {
            end += 1;
        }
        windows.push((start, end));
        start = end;
    }
    windows
}

/// Why a line could not be read back.
fn read_error(path: &Path, e: impl std::fmt::Display) -> SnapshotError {
    SnapshotError::Read { path: path.to_owned(), source: std::io::Error::other(e.to_string()) }
}

impl Index {
    /// How many active-session and history lines the snapshot has (each read gives at most
    /// that many, so that what collects them can be sized once).
    pub fn lines(&self) -> (usize, usize) {
        (self.active.len(), self.history.len())
    }

    /// Indexes a `runner-snapshot/2` file, reading it once, a chunk at a time.
    pub fn open(path: &Path, file: File) -> Result<Index, SnapshotError> {
        Index::open_chunked(path, file, CHUNK)
    }

    /// [`Index::open`] with blocks of `chunk` bytes, keyed on every core
    /// ([`crate::cores::produce_in_order`]) and indexed in file order on this thread.
    fn open_chunked(path: &Path, file: File, chunk: usize) -> Result<Index, SnapshotError> {
        let read_err = |source| SnapshotError::Read { path: path.to_owned(), source };
        let len = file.metadata().map_err(read_err)?.len();
        read_ahead(&file, len);
        let store = Store::File(file);
        let chunk = chunk.max(1) as u64;
        let blocks = usize::try_from(len.div_ceil(chunk)).unwrap_or(usize::MAX);
        // Block `b`: the lines that start in `b * chunk..(b + 1) * chunk`, seen from the byte
        // before it (does a line start at its first byte?) to the end of the file (the line
        // that crosses its end is keyed whole; only the pages read are mapped in).
        let key = |b: usize| {
            let start = b as u64 * chunk;
            let end = (start + chunk).min(len);
            let from = start.saturating_sub(1);
            let own = usize::try_from(start - from).unwrap_or(0)..usize::try_from(end - from).unwrap_or(usize::MAX);
            let rest = usize::try_from(len - from).unwrap_or(usize::MAX);
            store.with_bytes(from, rest, |bytes| key_block(bytes, from, own))
        };
        let mut builder = Builder::new(path);
        let mut failed = None;
        crate::cores::produce_in_order(blocks, key, &mut |block| match block
            .map_err(read_err)
            .and_then(|block| builder.add(block))
        {
            Ok(()) => true,
            Err(e) => {
                failed = Some(e);
                false
            }
        });
        match failed {
            Some(e) => Err(e),
            None => builder.finish(store),
        }
    }

    /// Indexes lines held in memory.
    pub fn from_bytes(path: &Path, bytes: Vec<u8>) -> Result<Index, SnapshotError> {
        let mut builder = Builder::new(path);
        builder.add(key_block(&bytes, 0, 0..bytes.len()))?;
        builder.finish(Store::Memory(bytes))
    }

    /// Reads the lines of `spans` a window at a time (lines that lie close together in the file
    /// are read at once), runs `map` on each line with its place in `spans`, and gives the
    /// results to `each` in the order of `spans`, on this thread. The windows are read and
    /// mapped on every core ([`crate::cores::produce_in_order`]: one reader per core, each
    /// taking the next window, two windows per reader ahead of `each` at most). Fails only when the store cannot be read; the windows before
    /// the failure are given to `each` first.
    fn read_lines<T: Send>(
        &self,
        spans: &[Span],
        map: &(dyn Fn(usize, Span, &[u8]) -> T + Sync),
        each: &mut dyn FnMut(T),
    ) -> Result<(), SnapshotError> {
        let windows = &windows(spans);
        // Maps the lines of window `w`, seen in memory or mapped from the file.
        let map_window = |w: usize| -> Result<Vec<T>, SnapshotError> {
            let (start, end) = windows[w];
            let first = spans[start].offset;
            let len = usize::try_from(spans[end - 1].end() - first).unwrap_or(usize::MAX);
            let mapped = self.store.with_bytes(first, len, |bytes| {
                (start..end)
                    .map(|k| {
                        let s = spans[k];
                        let at = usize::try_from(s.offset - first).unwrap_or(usize::MAX);
                        map(k, s, bytes.get(at..at + s.len as usize).unwrap_or_default())
                    })
                    .collect()
            });
            mapped.map_err(|e| read_error(&self.path, e))
        };
        let mut failed = None;
        crate::cores::produce_in_order(windows.len(), map_window, &mut |mapped| match mapped {
            Ok(mapped) => {
                mapped.into_iter().for_each(&mut *each);
                true
            }
            Err(e) => {
                failed = Some(e);
                false
            }
        });
        failed.map_or(Ok(()), Err)
    }

    /// [`Index::read_lines`] with each line parsed as an `L` and turned into a `T` by `map`;
    /// stops at the first line that does not parse, naming it.
    fn parse_lines<L: DeserializeOwned, T: Send>(
        &self,
        spans: &[Span],
        map: &(dyn Fn(L) -> T + Sync),
        each: &mut dyn FnMut(T),
    ) -> Result<(), SnapshotError> {
        let parse =
            |span: Span, line: &[u8]| parse::<L>(line).map(map).map_err(|e| self.line_error::<L>(span, line, e));
        self.try_lines(spans, &parse, each)
    }

    /// [`Index::parse_lines`] for lines that hold a conversation under `key` (an `L` holds it
    /// when serde reads the line): a line in plain JSON is read straight into a view
    /// ([`plain`]), without serde.
    fn conversation_lines<L: DeserializeOwned + AsRef<AnalyticsConversation>, T: Send>(
        &self,
        spans: &[Span],
        key: &str,
        map: &(dyn for<'c> Fn(ConversationView<'c>) -> T + Sync),
        each: &mut dyn FnMut(T),
    ) -> Result<(), SnapshotError> {
        let parse = |span: Span, line: &[u8]| {
            if let Some(view) = std::str::from_utf8(line).ok().and_then(|text| plain::conversation_line(text, key)) {
                return Ok(map(view));
            }
            let parsed = parse::<L>(line).map_err(|e| self.line_error::<L>(span, line, e))?;
            Ok(map(parsed.as_ref().view()))
        };
        self.try_lines(spans, &parse, each)
    }

    /// [`Index::read_lines`] with each line turned into a `T` by `parse`; stops at the first
    /// line `parse` refuses.
    fn try_lines<T: Send>(
        &self,
        spans: &[Span],
        parse: &(impl Fn(Span, &[u8]) -> Result<T, SnapshotError> + Sync),
        each: &mut dyn FnMut(T),
    ) -> Result<(), SnapshotError> {
        let mut failed: Option<SnapshotError> = None;
        self.read_lines(spans, &|_, span, line| parse(span, line), &mut |r| match r {
            Ok(t) if failed.is_none() => each(t),
            Ok(_) => {}
            Err(e) => {
                failed.get_or_insert(e);
            }
        })?;
        failed.map_or(Ok(()), Err)
    }

    /// Why a line read back does not parse as an `L`: its number, column and field.
    fn line_error<'a, L: Deserialize<'a>>(&self, span: Span, line: &'a [u8], err: serde_json::Error) -> SnapshotError {
        let number = match self.store.line_number(span.offset) {
            Ok(n) => n,
            Err(e) => return read_error(&self.path, e),
        };
        parse_error::<L>(&self.path, line, number, err)
    }

    /// The active conversations, in file order, each turned into a `T` by `map` (on every core)
    /// and given to `each`.
    pub fn active<T: Send>(
        &self,
        map: &(dyn for<'c> Fn(ConversationView<'c>) -> T + Sync),
        each: &mut dyn FnMut(T),
    ) -> Result<(), SnapshotError> {
        self.conversation_lines::<ActiveLine, T>(&self.active, "active", map, each)
    }

    /// The details of a conversation, verbatim; `None` when the snapshot does not hold them.
    pub fn details(&self, id: &str) -> Result<Option<RawJson>, SnapshotError> {
        let mut found = self.details_read(&[id.to_owned()], true, &|_, d| d.map(|d| d.map(raw_json)));
        found.pop().unwrap_or(Ok(None))
    }

    /// The details of each of `ids`, turned into a `T` by `map` with the id's place in `ids`:
    /// `None` when the snapshot does not hold them. The lines are read in file order and
    /// mapped on every core; the `T`s come back in that order.
    pub fn details_mapped<T: Send>(&self, ids: &[String], map: &(dyn Fn(usize, Found<'_>) -> T + Sync)) -> Vec<T> {
        self.details_read(ids, false, map)
    }

    /// [`Index::details_mapped`]; with `checked`, every line is parsed (the `data` given is JSON,
    /// and a line that is not is named), else a line in `runner snapshot`'s layout is cut.
    fn details_read<T: Send>(
        &self,
        ids: &[String],
        checked: bool,
        map: &(dyn Fn(usize, Found<'_>) -> T + Sync),
    ) -> Vec<T> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct L<'a> {
            #[serde(borrow)]
            details: D<'a>,
        }
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct D<'a> {
            #[allow(dead_code)]
            id: IgnoredAny,
            #[serde(borrow)]
            data: &'a RawValue,
        }
        let mut out = Vec::with_capacity(ids.len());
        let mut wanted: Vec<(Span, usize)> = Vec::with_capacity(ids.len());
        for (i, id) in ids.iter().enumerate() {
            match self.details.get(id.as_str()) {
                Some(span) => wanted.push((*span, i)),
                None => out.push(map(i, Ok(None))),
            }
        }
        wanted.sort_unstable_by_key(|(span, _)| span.offset);
        let spans: Vec<Span> = wanted.iter().map(|(span, _)| *span).collect();
        let parse = |k: usize, span: Span, line: &[u8]| {
            let i = wanted[k].1;
            // Cut without reading it twice (the reader parses it), unless it must be checked.
            let fast = if checked { None } else { fast_details_data(line).and_then(|d| std::str::from_utf8(d).ok()) };
            if let Some(data) = fast {
                return map(i, Ok(Some(data)));
            }
            match parse::<L<'_>>(line) {
                Ok(l) => map(i, Ok(Some(l.details.data.get()))),
                Err(e) => map(i, Err(self.line_error::<L<'_>>(span, line, e))),
            }
        };
        if let Err(e) = self.read_lines(&spans, &parse, &mut |t| out.push(t)) {
            // The store could not be read: every id not yet answered fails with it.
            let answered = out.len() - (ids.len() - wanted.len());
            let message = e.to_string();
            for &(_, i) in &wanted[answered..] {
                out.push(map(i, Err(read_error(&self.path, &message))));
            }
        }
        out
    }

    /// A contact; `None` when the snapshot does not hold it.
    pub fn contact(&self, id: &str) -> Result<Option<ExternalContact>, SnapshotError> {
        Ok(self.contacts_mapped(&[id], &|_, c| c)?.pop().flatten())
    }

    /// The contact of each of `ids` (`None` when the snapshot does not hold it), turned into a
    /// `T` by `map` with the id's place in `ids`; the `T`s in the order of `ids`. The lines are
    /// read in file order and parsed and mapped on every core.
    pub fn contacts_mapped<T: Send>(
        &self,
        ids: &[&str],
        map: &(dyn Fn(usize, Option<ExternalContact>) -> T + Sync),
    ) -> Result<Vec<T>, SnapshotError> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct L {
            contact: C,
        }
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct C {
            #[allow(dead_code)]
            id: IgnoredAny,
            data: ExternalContact,
        }
        let mut out: Vec<Option<T>> = Vec::with_capacity(ids.len());
        let mut wanted: Vec<(Span, usize)> = Vec::with_capacity(ids.len());
        for (i, id) in ids.iter().enumerate() {
            match self.contacts.get(*id) {
                Some(span) => {
                    wanted.push((*span, i));
                    out.push(None);
                }
                None => out.push(Some(map(i, None))),
            }
        }
        wanted.sort_unstable_by_key(|(span, _)| span.offset);
        let spans: Vec<Span> = wanted.iter().map(|(span, _)| *span).collect();
        let parse = |k: usize, span: Span, line: &[u8]| {
            let i = wanted[k].1;
            match parse::<L>(line) {
                Ok(l) => Ok((i, map(i, Some(l.contact.data)))),
                Err(e) => Err(self.line_error::<L>(span, line, e)),
            }
        };
        let mut failed: Option<SnapshotError> = None;
        self.read_lines(&spans, &parse, &mut |r| match r {
            Ok((i, t)) => out[i] = Some(t),
            Err(e) => {
                failed.get_or_insert(e);
            }
        })?;
        if let Some(e) = failed {
            return Err(e);
        }
        Ok(out.into_iter().map(|t| t.expect("every id answered")).collect())
    }

    /// The history conversations that ended within `[since, until]` and had one of
    /// `customers` as the customer, in file order, each turned into a `T` by `map` (on every
    /// core) and given to `each`. Every history line is read and parsed (once): a snapshot
    /// holds the history of its sessions' customers, so nearly all are wanted, and finding
    /// them by customer beforehand would parse each line twice.
    pub fn history<T: Send>(
        &self,
        customers: &[String],
        since: Timestamp,
        until: Timestamp,
        map: &(dyn for<'c> Fn(ConversationView<'c>) -> T + Sync),
        each: &mut dyn FnMut(T),
    ) -> Result<(), SnapshotError> {
        let customers: crate::fxhash::FxHashSet<&str> = customers.iter().map(String::as_str).collect();
        let wanted = |c: &ConversationView<'_>| {
            let ended = c.conversation_end.and_then(parse_time);
            ended.is_some_and(|end| since <= end && end <= until)
                && c.participants.iter().any(|p| {
                    p.purpose.is_some_and(|p| p.eq_ignore_ascii_case("customer"))
                        && p.external_contact_id.is_some_and(|id| customers.contains(id))
                })
        };
        let keep = |c: ConversationView<'_>| wanted(&c).then(|| map(c));
        self.conversation_lines::<HistoryLine, Option<T>>(&self.history, "history", &keep, &mut |t| {
            if let Some(t) = t {
                each(t);
            }
        })
    }

    /// Every line, parsed: the whole snapshot in memory (for small snapshots and tests).
    pub fn to_snapshot(&self) -> Result<Snapshot, SnapshotError> {
        let ids: Vec<String> = self.details.keys().cloned().collect();
        let mut details = BTreeMap::new();
        for (i, found) in self.details_read(&ids, true, &|i, d| (i, d.map(|d| d.map(raw_json)))) {
            if let Some(raw) = found? {
                details.insert(ids[i].clone(), raw);
            }
        }
        let ids: Vec<&str> = self.contacts.keys().map(String::as_str).collect();
        let found = self.contacts_mapped(&ids, &|i, c| c.map(|c| (ids[i].to_owned(), c)))?;
        let contacts = found.into_iter().flatten().collect();
        let mut history = Vec::with_capacity(self.history.len());
        self.parse_lines::<HistoryLine, _>(&self.history, &|l| l.history, &mut |c| history.push(c))?;
        Ok(Snapshot {
            format: FORMAT.to_owned(),
            captured_at: self.captured_at,
            description: self.description.clone(),
            active_conversations: {
                let mut all = Vec::new();
                self.active(&|c| c.to_conversation(), &mut |c| all.push(c))?;
                all
            },
            conversation_details: details,
            external_contacts: contacts,
            history,
            wrapup_codes: self.wrapup_codes.clone(),
            failures: self.failures.clone(),
        })
    }
}

/// The lines that start in one block of the store, keyed.
struct Block {
    /// Newlines among the block's own bytes (the lines before the next block's).
    newlines: usize,
    /// Each non-blank line: its place in the store, how many of the block's newlines come
    /// before it, and its key.
    lines: Vec<(Span, usize, Result<Key<'static>, LineFault>)>,
    /// The first non-blank line, copied: the header, in the first block that has a line.
    first: Option<Vec<u8>>,
}

/// Why a line could not be keyed.
enum LineFault {
    /// It is not a line of this format (the line is kept to name the place).
    Parse {
        line: Vec<u8>,
        error: serde_json::Error,
    },
    TooLong,
}

/// Keys the lines of `bytes` (which start at `from` in the store) that start within `own`:
/// the first one after the first newline at or after `own.start - 1` (at 0 for the first
/// block). `bytes` holds each such line whole.
fn key_block(bytes: &[u8], from: u64, own: Range<usize>) -> Block {
    let end = own.end.min(bytes.len());
    // The newline before the block's first line, and whether it is one of the block's own.
    let (first_line, newline_before) = if own.start == 0 {
        (0, false)
    } else {
        match memchr::memchr(b'\n', &bytes[own.start - 1..]) {
            Some(i) => (own.start + i, i > 0 && own.start - 1 + i < end),
            None => (bytes.len(), false),
        }
    };
    let mut block = Block { newlines: usize::from(newline_before), lines: Vec::new(), first: None };
    let mut at = first_line;
    while at < end {
        let line_end = memchr::memchr(b'\n', &bytes[at..]).map_or(bytes.len(), |i| at + i);
        let line = trim(&bytes[at..line_end]);
        if !line.is_empty() {
            let offset = at + (line.as_ptr() as usize - bytes[at..].as_ptr() as usize);
            if block.first.is_none() {
                block.first = Some(line.to_vec());
            }
            let offset = from + offset as u64;
            let (span, key) = match u32::try_from(line.len()) {
                Ok(len) => {
                    let key = Key::fast(line).map_or_else(|| parse::<Key<'_>>(line), Ok);
                    let key = key.map(Key::into_owned).map_err(|error| LineFault::Parse { line: line.to_vec(), error });
                    (Span { offset, len }, key)
                }
                Err(_) => (Span { offset, len: 0 }, Err(LineFault::TooLong)),
            };
            // The newlines of the block before this line: one ends each line before it.
            block.lines.push((span, block.newlines, key));
        }
        if line_end < end {
            block.newlines += 1;
        }
        at = line_end + 1;
    }
    block
}

/// Builds an [`Index`] from the lines as they are read.
struct Builder<'p> {
    path: &'p Path,
    /// Newlines before the next block (a line's number, in errors, is one more than the
    /// newlines before it).
    lines: usize,
    header: Option<Header>,
    active: Vec<Span>,
    details: FxHashMap<String, Span>,
    contacts: FxHashMap<String, Span>,
    history: Vec<Span>,
    wrapup_codes: Vec<WrapupCode>,
    failures: BTreeMap<String, String>,
}

impl<'p> Builder<'p> {
    fn new(path: &'p Path) -> Self {
        Builder {
            path,
            lines: 0,
            header: None,
            active: Vec::new(),
            details: FxHashMap::default(),
            contacts: FxHashMap::default(),
            history: Vec::new(),
            wrapup_codes: Vec::new(),
            failures: BTreeMap::new(),
        }
    }

    /// Indexes the lines of a block (the blocks come in file order).
    fn add(&mut self, block: Block) -> Result<(), SnapshotError> {
        for (n, (span, k, key)) in block.lines.into_iter().enumerate() {
            let number = self.lines + k + 1;
            if self.header.is_none() && n == 0 {
                let first = block.first.as_deref().unwrap_or_default();
                self.header = Some(self.header_line(first, number)?);
                continue;
            }
            match key {
                Ok(key) => self.index(key, span),
                Err(LineFault::Parse { line, error }) => return Err(self.parse_error(&line, number, error)),
                Err(LineFault::TooLong) => return Err(self.line_error(number, "the line is longer than 4 GB")),
            }
        }
        self.lines += block.newlines;
        Ok(())
    }

    fn header_line(&self, line: &[u8], number: usize) -> Result<Header, SnapshotError> {
        let header: Header = match serde_json::from_slice(line) {
            Ok(h) => h,
            Err(e) => return Err(self.parse_error(line, number, e)),
        };
        if header.format != FORMAT {
            return Err(SnapshotError::WrongFormat {
                path: self.path.to_owned(),
                found: serde_json::Value::String(header.format).to_string(),
            });
        }
        Ok(header)
    }

    fn index(&mut self, key: Key<'static>, span: Span) {
        match key {
            Key::Active(_) => self.active.push(span),
            // As in a JSON object, the last of a repeated id wins.
            Key::Details { id, .. } => {
                self.details.insert(id.0.into_owned(), span);
            }
            Key::Contact { id, .. } => {
                self.contacts.insert(id.0.into_owned(), span);
            }
            Key::History(_) => self.history.push(span),
            Key::WrapupCode(code) => self.wrapup_codes.push(code),
            Key::Failure { key, error } => {
                self.failures.insert(key, error);
            }
        }
    }

    /// The error of a line that is not a record of this format, with its place: serde's
    /// position is within the line; the path (`active.participants[0]`) comes from a second,
    /// tracked parse of that line alone.
    fn parse_error(&self, line: &[u8], number: usize, err: serde_json::Error) -> SnapshotError {
        parse_error::<Key<'_>>(self.path, line, number, err)
    }

    fn line_error(&self, number: usize, message: &str) -> SnapshotError {
        SnapshotError::Parse {
            path: self.path.to_owned(),
            line: number,
            column: 1,
            field: String::new(),
            message: message.to_owned(),
        }
    }

    fn finish(self, store: Store) -> Result<Index, SnapshotError> {
        let Some(header) = self.header else {
            return Err(SnapshotError::WrongFormat { path: self.path.to_owned(), found: "missing".to_owned() });
        };
        Ok(Index {
            store,
            captured_at: header.captured_at,
            description: header.description,
            active: self.active,
            details: self.details,
            contacts: self.contacts,
            history: self.history,
            wrapup_codes: self.wrapup_codes,
            failures: self.failures,
            path: self.path.to_owned(),
        })
    }
}

/// The error of a line that does not parse as an `L`, with its place: serde's position is
/// within the line; the path (`active.participants[0]`) comes from a second, tracked parse of
/// that line alone.
fn parse_error<'a, L: Deserialize<'a>>(
    path: &Path,
    line: &'a [u8],
    number: usize,
    err: serde_json::Error,
) -> SnapshotError {
    let tracked: Result<L, _> = serde_path_to_error::deserialize(&mut serde_json::Deserializer::from_slice(line));
    let (field, err) = match tracked {
        Err(e) => (e.path().to_string(), e.into_inner()),
        Ok(_) => (String::new(), err),
    };
    SnapshotError::Parse {
        path: path.to_owned(),
        line: number,
        column: err.column(),
        field: if field == "." { String::new() } else { field },
        message: super::strip_position(&err),
    }
}

/// Parses a line. Checked as UTF-8 at once first: serde_json then skips checking each string
/// (a third faster on these lines); a line that is not UTF-8 is parsed as bytes, for the error.
fn parse<'a, L: Deserialize<'a>>(line: &'a [u8]) -> serde_json::Result<L> {
    match std::str::from_utf8(line) {
        Ok(text) => serde_json::from_str(text),
        Err(_) => serde_json::from_slice(line),
    }
}

fn trim(line: &[u8]) -> &[u8] {
    let start = line.iter().position(|b| !b.is_ascii_whitespace()).unwrap_or(line.len());
    let end = line.iter().rposition(|b| !b.is_ascii_whitespace()).map_or(start, |i| i + 1);
    &line[start..end]
}

/// Writes `snapshot` as `runner-snapshot/2` lines. Details are written on one line whatever
/// their original layout.
pub fn write(snapshot: &Snapshot, out: &mut impl Write) -> std::io::Result<()> {
    let header = Header {
        format: FORMAT.to_owned(),
        captured_at: snapshot.captured_at,
        description: snapshot.description.clone(),
    };
    let mut line = |value: &dyn erased::Line| -> std::io::Result<()> {
        value.write_to(out)?;
        out.write_all(b"\n")
    };
    line(&header)?;
    for c in &snapshot.active_conversations {
        line(&Line::Active(c))?;
    }
    for (id, data) in &snapshot.conversation_details {
        let compact = one_line(data);
        line(&Line::Details { id, data: &compact })?;
    }
    for (id, data) in &snapshot.external_contacts {
        line(&Line::Contact { id, data })?;
    }
    for c in &snapshot.history {
        line(&Line::History(c))?;
    }
    for code in &snapshot.wrapup_codes {
        line(&Line::WrapupCode(code))?;
    }
    for (key, error) in &snapshot.failures {
        line(&Line::Failure { key, error })?;
    }
    Ok(())
}

/// `raw` without line breaks (a pretty-printed document re-encoded compactly).
/// The `data` of a checked details line, kept.
fn raw_json(data: &str) -> RawJson {
    RawValue::from_string(data.to_owned()).expect("the line was parsed: its data is JSON")
}

fn one_line(raw: &serde_json::value::RawValue) -> RawJson {
    if !raw.get().contains(['\n', '\r']) {
        return raw.to_owned();
    }
    let value: serde_json::Value = serde_json::from_str(raw.get()).expect("a RawValue is valid JSON");
    serde_json::value::to_raw_value(&value).expect("JSON values serialize")
}

/// Lets [`write`] take the header and the lines alike.
mod erased {
    pub trait Line {
        fn write_to(&self, out: &mut dyn std::io::Write) -> std::io::Result<()>;
    }
    impl<T: serde::Serialize> Line for T {
        fn write_to(&self, out: &mut dyn std::io::Write) -> std::io::Result<()> {
            serde_json::to_writer(out, self).map_err(std::io::Error::from)
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use super::*;

    const HEADER: &str = r#"{"format":"runner-snapshot/2","captured_at":"2026-11-24T12:00:00Z"}"#;

    fn conv(id: &str, customer: &str, end: Option<&str>) -> String {
        let end = end.map(|e| format!(r#","conversationEnd":"{e}""#)).unwrap_or_default();
        format!(
            r#"{{"conversationId":"{id}","conversationStart":"2026-11-01T09:00:00Z"{end},"participants":[{{"purpose":"agent","externalContactId":"not-a-customer"}},{{"purpose":"Customer","externalContactId":"{customer}"}}]}}"#
        )
    }

    fn lines() -> String {
        [
            HEADER.to_owned(),
            format!(r#"{{"active":{}}}"#, conv("a-1", "k-1", None)),
            String::new(), // blank lines are allowed
            // Escaped texts: read by serde, not as plain lines.
            format!(r#"{{"active":{}}}"#, conv("a-2", "k-2", None)).replace("a-2", r"a\u002d2"),
            r#"{"details":{"id":"a-1","data":{"id":"a-1","participants":[]}}}"#.to_owned(),
            r#"{"details":{"id":"a-1","data":{"id":"a-1","participants":[{"purpose":"customer"}]}}}"#.to_owned(),
            r#"{"contact":{"id":"k-1","data":{"id":"k-1","firstName":"Åsa"}}}"#.to_owned(),
            format!(r#"{{"history":{}}}"#, conv("h-1", "k-1", Some("2026-11-01T10:00:00Z"))),
            format!(r#"{{"history":{}}}"#, conv("h-2", "k-2", Some("2026-11-02T10:00:00Z")))
                .replace("k-2", r"k\u002d2"),
            format!(r#"{{"history":{}}}"#, conv("h-3", "k-1", Some("2026-06-02T10:00:00Z"))),
            format!(r#"{{"history":{}}}"#, conv("h-open", "k-1", None)),
            r#"{"wrapup_code":{"id":"w-1","name":"Sale"}}"#.to_owned(),
            r#"{"failure":{"key":"contact:k-9","error":"HTTP 500"}}"#.to_owned(),
        ]
        .join("\n")
            + "\n"
    }

    fn ts(s: &str) -> Timestamp {
        s.parse().expect("test time")
    }

    fn check(index: &Index) {
        assert_eq!(index.captured_at, ts("2026-11-24T12:00:00Z"));
        let mut active = Vec::new();
        index.active(&|c| c.conversation_id.to_owned(), &mut |id| active.push(id)).expect("active");
        assert_eq!(active, ["a-1", "a-2"]);
        // The last of a repeated id wins, as in a JSON object.
        let details = index.details("a-1").expect("read").expect("present");
        assert_eq!(details.get(), r#"{"id":"a-1","participants":[{"purpose":"customer"}]}"#);
        assert!(index.details("a-2").expect("read").is_none());
        assert_eq!(index.contact("k-1").expect("read").expect("present").first_name.as_deref(), Some("Åsa"));
        assert!(index.contact("k-2").expect("read").is_none());
        let history = |ids: &[&str], since: &str| {
            let ids: Vec<String> = ids.iter().map(|s| (*s).to_owned()).collect();
            let mut found = Vec::new();
            let until = ts("2026-11-24T12:00:00Z");
            index.history(&ids, ts(since), until, &|c| c.conversation_id.to_owned(), &mut |id| found.push(id)).unwrap();
            found
        };
        // By customer (purpose `customer`, any case), ended within the window, in file order;
        // an open conversation is never history.
        assert_eq!(history(&["k-1", "k-2"], "2026-10-01T00:00:00Z"), ["h-1", "h-2"]);
        assert_eq!(history(&["k-1"], "2026-01-01T00:00:00Z"), ["h-1", "h-3"]);
        assert!(history(&["not-a-customer"], "2026-01-01T00:00:00Z").is_empty());
        assert_eq!(index.wrapup_codes, [WrapupCode { id: "w-1".into(), name: "Sale".into() }]);
        assert_eq!(index.failures.get("contact:k-9").map(String::as_str), Some("HTTP 500"));
    }

    #[test]
    fn lines_are_indexed_and_read_back_from_memory_and_from_a_file() {
        check(&Index::from_bytes(Path::new("mem"), lines().into_bytes()).expect("indexed"));
        let mut file = tempfile::NamedTempFile::new().expect("temp file");
        file.write_all(lines().as_bytes()).expect("written");
        // Chunks far smaller than a line: every line crosses a chunk boundary.
        for chunk in [1, 7, 64, CHUNK] {
            let index = Index::open_chunked(file.path(), file.reopen().expect("reopen"), chunk).expect("indexed");
            check(&index);
        }
    }

    #[test]
    fn keys_are_found_without_parsing_with_the_id_first_or_last() {
        fn id(key: Key<'_>) -> String {
            match key {
                Key::Details { id, .. } => format!("details {}", id.0),
                Key::Contact { id, .. } => format!("contact {}", id.0),
                Key::Active(_) => "active".to_owned(),
                Key::History(_) => "history".to_owned(),
                Key::WrapupCode(_) | Key::Failure { .. } => "other".to_owned(),
            }
        }
        let fast = |line: &str| Key::fast(line.as_bytes()).map(id);
        assert_eq!(fast(r#"{"details":{"id":"c-1","data":{"id":"x"}}}"#).as_deref(), Some("details c-1"));
        assert_eq!(fast(r#"{"details":{"data":{"id":"x"},"id":"c-1"}}"#).as_deref(), Some("details c-1"));
        assert_eq!(fast(r#"{"contact":{"data":{"a":"b,\"id\":\"x"},"id":"k-1"}}"#).as_deref(), Some("contact k-1"));
        // Left to the parser: an escaped id, an id inside a string, no id after `data`, spacing.
        let parsed = [
            r#"{"details":{"data":{},"id":"c\u002d1"}}"#,
            r#"{"details":{"data":"x,\"id\":\"c-1"}}"#,
            r#"{"details":{"data":{"id":"x"}}}"#,
            r#"{"details":{"data":{},"id":"c-1"} }"#,
            r#"{"contact":{"data":{}, "id":"k-1"}}"#,
        ];
        for line in parsed {
            assert_eq!(fast(line), None, "{line}");
        }
        // Whatever the fast path finds, the parser finds too.
        let records =
            |l: &&str| !l.is_empty() && !l.starts_with(r#"{"wrapup_code""#) && !l.starts_with(r#"{"failure""#);
        for line in lines().lines().skip(1).filter(records) {
            let found = fast(line).expect("written as runner snapshot writes");
            assert_eq!(found, id(parse::<Key<'_>>(line.as_bytes()).expect("a line of the format")), "{line}");
        }
        let reordered = r#"{"contact":{"data":{"id":"k-1","mergeSet":[{"id":"k-0"}]},"id":"k-1"}}"#;
        assert_eq!(fast(reordered), Some(id(parse::<Key<'_>>(reordered.as_bytes()).expect("valid"))));
    }

    #[test]
    fn details_and_contacts_are_read_in_batches_with_their_places() {
        let index = Index::from_bytes(Path::new("mem"), lines().into_bytes()).expect("indexed");
        let ids: Vec<String> = ["a-2", "a-1", "a-1"].iter().map(|s| (*s).to_owned()).collect();
        let mut found = index.details_mapped(&ids, &|i, d| (i, d.expect("readable").map(str::len)));
        found.sort_unstable();
        let len = r#"{"id":"a-1","participants":[{"purpose":"customer"}]}"#.len();
        assert_eq!(found, [(0, None), (1, Some(len)), (2, Some(len))]);
        let contacts = index.contacts_mapped(&["k-2", "k-1", "k-1"], &|i, c| (i, c.map(|c| c.id))).expect("readable");
        assert_eq!(contacts, [(0, None), (1, Some("k-1".to_owned())), (2, Some("k-1".to_owned()))]);
    }

    #[test]
    fn a_line_that_fails_when_read_back_is_named_with_its_number_and_field() {
        let good = conv("a-1", "k-1", None);
        let text = format!("{HEADER}\n\n{{\"active\":{good}}}\n{{\"active\":{{\"conversationId\":5}}}}\n");
        let index = Index::from_bytes(Path::new("snap.jsonl"), text.into_bytes()).expect("indexed: the kind is known");
        let err = index.active(&|c| c.to_conversation(), &mut |_| {}).expect_err("a number id");
        let SnapshotError::Parse { line, field, .. } = &err else { panic!("{err}") };
        assert_eq!((*line, field.as_str()), (4, "active.conversationId"));
    }

    #[test]
    fn lines_in_another_writer_s_layout_are_parsed_and_extra_keys_are_refused() {
        let text = format!(
            "{HEADER}\n{{ \"details\": {{\"data\": {{}}, \"id\": \"c-1\"}} }}\n{{\"contact\":{{\"id\":\"k\\u00e9\",\"data\":{{\"id\":\"k\u{e9}\"}}}}}}\n{{\"details\":{{\"id\":\"c-2\",\"data\":{{}},\"extra\":1}}}}\n"
        );
        // Lines 2 and 3 are parsed when indexed (other key order, an escaped id); line 4 is
        // taken by its prefix, and its extra key found when it is read back.
        let index = Index::from_bytes(Path::new("snap.jsonl"), text.into_bytes()).expect("indexed");
        assert!(index.details("c-1").expect("readable").is_some());
        assert_eq!(index.contact("k\u{e9}").expect("readable").map(|c| c.id).as_deref(), Some("k\u{e9}"));
        let err = index.details("c-2").expect_err("an unknown key");
        let SnapshotError::Parse { line, message, .. } = &err else { panic!("{err}") };
        assert_eq!(*line, 4);
        assert!(message.contains("unknown field `extra`"), "{message}");
        // A run's batch read cuts its `data` without reading it; what it cuts is not JSON, so the
        // parse that reads it refuses it.
        let cut = index.details_mapped(&["c-2".to_owned()], &|_, d| d.expect("readable").map(str::to_owned));
        let cut = cut[0].as_deref().expect("held");
        assert!(serde_json::from_str::<serde_json::Value>(cut).is_err(), "{cut}");
        let queries = crate::model::normalize::Queries::new(Vec::new());
        assert!(crate::model::normalize::details(cut, &queries).is_err());
    }

    /// A details line's `data` is cut out of lines in `runner snapshot`'s layout (the id first or
    /// last), whatever it holds; lines in any other layout are not cut.
    #[test]
    fn details_data_is_cut_from_lines_in_the_writer_s_layout() {
        let cut =
            |line: &str| fast_details_data(line.as_bytes()).map(|d| String::from_utf8(d.to_vec()).expect("utf-8"));
        assert_eq!(cut(r#"{"details":{"id":"a","data":{"x":1}}}"#).as_deref(), Some(r#"{"x":1}"#));
        assert_eq!(cut(r#"{"details":{"data":{"x":"}}"},"id":"a"}}"#).as_deref(), Some(r#"{"x":"}}"}"#));
        assert_eq!(cut(r#"{"details":{"data":[1,"id"],"id":"a"}}"#).as_deref(), Some(r#"[1,"id"]"#));
        for other in [
            r#"{"details":{"id":"a"b","data":1}}"#,
            r#"{ "details":{"id":"a","data":1}}"#,
            r#"{"details":{"data":1,"id":"a"b"}}"#,
            r#"{"contact":{"id":"a","data":1}}"#,
            r#"{"details":{"id":"a","data":1} }"#,
        ] {
            assert_eq!(cut(other), None, "{other}");
        }
    }

    #[test]
    fn a_snapshot_written_as_lines_reads_back_the_same() {
        let index = Index::from_bytes(Path::new("mem"), lines().into_bytes()).expect("indexed");
        let snapshot = index.to_snapshot().expect("whole");
        let mut out = Vec::new();
        write(&snapshot, &mut out).expect("written");
        let again = Index::from_bytes(Path::new("mem"), out).expect("indexed again");
        check(&again);
    }

    #[test]
    fn pretty_details_are_written_on_one_line() {
        let text = "{\"format\":\"runner-snapshot/1\",\"captured_at\":\"2026-11-24T12:00:00Z\",\"active_conversations\":[],\"conversation_details\":{\"c\": {\n  \"id\": \"c\"\n}}}";
        let snapshot = super::super::Snapshot::from_json(Path::new("s.json"), text).expect("v1");
        let mut out = Vec::new();
        write(&snapshot, &mut out).expect("written");
        let out = String::from_utf8(out).expect("UTF-8");
        assert_eq!(out.lines().nth(1), Some(r#"{"details":{"id":"c","data":{"id":"c"}}}"#), "{out}");
    }

    #[test]
    fn a_bad_line_is_named_with_its_number_column_and_place() {
        let text = format!("{HEADER}\n\n{{\"active\":{{\"conversationId\":\"a\"}}}}\n{{\"histroy\":{{}}}}\n");
        let err = Index::from_bytes(Path::new("snap.jsonl"), text.clone().into_bytes()).expect_err("a misspelled kind");
        let SnapshotError::Parse { line, column, message, .. } = &err else { panic!("{err}") };
        assert_eq!((*line, *column), (4, 10));
        assert!(message.contains("unknown variant `histroy`, expected one of `active`"), "{message}");
        // The same place when the file is read in blocks, whichever block the line starts in.
        let mut file = tempfile::NamedTempFile::new().expect("temp file");
        file.write_all(text.as_bytes()).expect("written");
        for chunk in [1, 7, 64, CHUNK] {
            let err = Index::open_chunked(file.path(), file.reopen().expect("reopen"), chunk).expect_err("misspelled");
            let SnapshotError::Parse { line, column, .. } = &err else { panic!("{err}") };
            assert_eq!((*line, *column), (4, 10), "blocks of {chunk} bytes");
        }

        let text = format!("{HEADER}\n{{\"contact\":{{\"id\":7,\"data\":{{}}}}}}\n");
        let err = Index::from_bytes(Path::new("snap.jsonl"), text.into_bytes()).expect_err("a number id");
        let SnapshotError::Parse { line, field, .. } = &err else { panic!("{err}") };
        assert_eq!((*line, field.as_str()), (2, "contact.id"));
        assert!(err.to_string().starts_with("the snapshot snap.jsonl is not valid JSON"), "{err}");

        let err = Index::from_bytes(
            Path::new("s"),
            b"{\"format\":\"runner-snapshot/3\",\"captured_at\":\"2026-11-24T12:00:00Z\"}\n".to_vec(),
        )
        .expect_err("a later format");
        assert!(matches!(err, SnapshotError::WrongFormat { .. }), "{err}");
        let err = Index::from_bytes(Path::new("s"), b"\n\n".to_vec()).expect_err("empty");
        assert!(err.to_string().contains("its \"format\" is missing"), "{err}");
    }
}
