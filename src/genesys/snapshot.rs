//! The snapshot file: recorded Genesys API responses, so a run can be previewed offline.
//!
//! Two formats, both read: `runner-snapshot/2` (JSON Lines, one answer per line; what
//! `runner snapshot` writes; read a line at a time, so any size works: [`lines`]) and
//! `runner-snapshot/1` (one JSON document, as `snapshots/demo.json`; read whole, for small
//! files). Objects are kept exactly as the API returns them (the SDK models' JSON names);
//! conversation details verbatim, so `jsonpath:` conditions see what they would see live. A
//! snapshot never holds secrets.

use std::collections::{BTreeMap, HashSet};
use std::ffi::OsString;
use std::io::{BufRead, BufWriter, Read, Seek};
use std::path::{Path, PathBuf};

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use super::types::{AnalyticsConversation, ConversationView, ExternalContact, WrapupCode};
use crate::fxhash::{FxHashSet, Hashed};
use crate::model::parse_time;
use crate::source::{ContactBatch, ContactOutcome, Map, RawJson, Sink, Source, SourceError};

pub mod lines;

/// The single-document format (`snapshots/demo.json`).
pub const FORMAT: &str = "runner-snapshot/1";
/// The JSON Lines format (`runner snapshot` writes it).
pub const FORMAT_LINES: &str = lines::FORMAT;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Snapshot {
    /// `runner-snapshot/1` (or `/2` for one read from lines).
    pub format: String,
    /// When it was recorded; a run from the snapshot uses it as "now" unless `--now` is given.
    pub captured_at: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Active web-messaging sessions: analytics conversations without `conversationEnd`.
    pub active_conversations: Vec<AnalyticsConversation>,
    /// `GET /api/v2/conversations/{id}` answers, by conversation id, verbatim.
    #[serde(default)]
    pub conversation_details: BTreeMap<String, RawJson>,
    /// External contacts (the entities of `POST /api/v2/externalcontacts/bulk/contacts`
    /// answers), by contact id. A contact not here does not exist, unless `failures` says its
    /// read failed.
    #[serde(default)]
    pub external_contacts: BTreeMap<String, ExternalContact>,
    /// Ended conversations of the customers (the history analytics queries' answers).
    #[serde(default)]
    pub history: Vec<AnalyticsConversation>,
    /// `GET /api/v2/routing/wrapupcodes` entities.
    #[serde(default)]
    pub wrapup_codes: Vec<WrapupCode>,
    /// Requests that failed while recording, so that a replay fails where the live run did
    /// (rather than reading a failed contact as absent or a failed history as empty). Keys:
    /// `conversation:<id>`, `contact:<id>`, `history`, `wrapup_codes`; values: the error.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub failures: BTreeMap<String, String>,
}

/// The `failures` key of a conversation's details.
fn conversation_key(id: &str) -> String {
    format!("conversation:{id}")
}

/// The `failures` key of a contact.
fn contact_key(id: &str) -> String {
    format!("contact:{id}")
}

const HISTORY_KEY: &str = "history";
const WRAPUP_CODES_KEY: &str = "wrapup_codes";

/// Why a snapshot file could not be read or written. Every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("cannot read the snapshot {}: {source}", path.display())]
    Read { path: PathBuf, source: std::io::Error },
    #[error("the snapshot {} is not valid JSON of format {FORMAT}: line {line}, column {column}{at}: {message}",
        path.display(), at = if field.is_empty() { String::new() } else { format!(", at {field}") })]
    Parse {
        path: PathBuf,
        line: usize,
        column: usize,
        /// Where in the document (`active_conversations[3].conversationStart`); empty at the top.
        field: String,
        /// What serde found and what it expected.
        message: String,
    },
    #[error("{} is not a runner snapshot: its \"format\" is {found}, expected \"{FORMAT_LINES}\" or \"{FORMAT}\"", path.display())]
    WrongFormat {
        path: PathBuf,
        /// The `format` value as found (quoted), or `missing`.
        found: String,
    },
    #[error("cannot encode the snapshot for {}: {source}", path.display())]
    Encode { path: PathBuf, source: serde_json::Error },
    #[error("cannot write the snapshot {}: {source}", path.display())]
    Write { path: PathBuf, source: std::io::Error },
}

impl SnapshotError {
    fn parse(path: &Path, err: serde_path_to_error::Error<serde_json::Error>) -> SnapshotError {
        let field = err.path().to_string();
        let inner = err.into_inner();
        SnapshotError::Parse {
            path: path.to_owned(),
            line: inner.line(),
            column: inner.column(),
            field: if field == "." { String::new() } else { field },
            message: strip_position(&inner),
        }
    }
}

/// serde_json's message without its trailing " at line L column C" (the error shows them apart).
fn strip_position(err: &serde_json::Error) -> String {
    let text = err.to_string();
    let suffix = format!(" at line {} column {}", err.line(), err.column());
    text.strip_suffix(&suffix).map_or(text.clone(), str::to_owned)
}

/// Just the `format` key of a JSON object, to tell a foreign file from a broken snapshot before
/// the strict parse. Anything but an object is "invalid type: ..., expected a snapshot object".
struct FormatProbe {
    format: Option<serde_json::Value>,
}

impl<'de> Deserialize<'de> for FormatProbe {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = FormatProbe;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a snapshot object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<FormatProbe, A::Error> {
                let mut format = None;
                while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                    if key == "format" {
                        format = Some(map.next_value::<serde_json::Value>()?);
                    } else {
                        map.next_value::<serde::de::IgnoredAny>()?;
                    }
                }
                Ok(FormatProbe { format })
            }
        }
        deserializer.deserialize_map(Visitor)
    }
}

impl Snapshot {
    /// Reads and checks a snapshot file of either format, whole, into memory (for small
    /// snapshots: a run reads a large one with [`SnapshotSource::open`]).
    pub fn load(path: &Path) -> Result<Snapshot, SnapshotError> {
        match Opened::open(path)? {
            Opened::Lines(index) => index.to_snapshot(),
            Opened::Document(snapshot) => Ok(*snapshot),
        }
    }

    /// Parses `runner-snapshot/1` JSON; `path` only names the source in errors.
    pub fn from_json(path: &Path, text: &str) -> Result<Snapshot, SnapshotError> {
        // The fast path: one parse without tracking paths. Any failure parses again below, the
        // slow way, for the same answer with the exact place of the error.
        if let Ok(snapshot) = serde_json::from_str::<Snapshot>(text) {
            if snapshot.format == FORMAT {
                return Ok(snapshot);
            }
        }
        let probe: FormatProbe = serde_path_to_error::deserialize(&mut serde_json::Deserializer::from_str(text))
            .map_err(|e| SnapshotError::parse(path, e))?;
        match probe.format {
            Some(serde_json::Value::String(f)) if f == FORMAT => {}
            Some(other) => return Err(SnapshotError::WrongFormat { path: path.to_owned(), found: other.to_string() }),
            None => return Err(SnapshotError::WrongFormat { path: path.to_owned(), found: "missing".to_owned() }),
        }
        serde_path_to_error::deserialize(&mut serde_json::Deserializer::from_str(text))
            .map_err(|e| SnapshotError::parse(path, e))
    }

    /// Writes the snapshot as `runner-snapshot/2` lines. The file is written next to its
    /// destination and then renamed over it, so a failed save never leaves a half-written
    /// snapshot behind.
    pub fn save(&self, path: &Path) -> Result<(), SnapshotError> {
        let mut tmp_name = path.file_name().map(OsString::from).unwrap_or_else(|| OsString::from("snapshot"));
        tmp_name.push(".tmp");
        let tmp = path.with_file_name(tmp_name);
        let write = |p: &Path| -> std::io::Result<()> {
            let mut out = BufWriter::new(std::fs::File::create(p)?);
            lines::write(self, &mut out)?;
            out.into_inner().map_err(std::io::IntoInnerError::into_error)?.sync_all()?;
            std::fs::rename(p, path)
        };
        write(&tmp).map_err(|source| {
            // Best effort: the temporary file is ours and useless now.
            let _ = std::fs::remove_file(&tmp);
            SnapshotError::Write { path: path.to_owned(), source }
        })
    }

    /// The snapshot as `runner-snapshot/2` lines.
    fn to_lines(&self) -> Vec<u8> {
        let mut out = Vec::new();
        lines::write(self, &mut out).expect("writing to memory cannot fail");
        out
    }
}

/// A snapshot file, opened by its format: lines are indexed, a document is read whole.
enum Opened {
    Lines(Box<lines::Index>),
    Document(Box<Snapshot>),
}

impl Opened {
    fn open(path: &Path) -> Result<Opened, SnapshotError> {
        let read_err = |source| SnapshotError::Read { path: path.to_owned(), source };
        let mut file = std::fs::File::open(path).map_err(read_err)?;
        // `runner-snapshot/2` starts with its header, a JSON object on the first non-blank line
        // (its keys in any order); a `runner-snapshot/1` document's first line is not one.
        let mut first = Vec::new();
        let mut reader = std::io::BufReader::new(&file).take(HEADER_LIMIT);
        while first.iter().all(u8::is_ascii_whitespace) {
            first.clear();
            if reader.read_until(b'\n', &mut first).map_err(read_err)? == 0 {
                break;
            }
        }
        let header = serde_json::from_slice::<lines::Header>(&first);
        file.rewind().map_err(read_err)?;
        if header.is_ok_and(|h| h.format == FORMAT_LINES) {
            return Ok(Opened::Lines(Box::new(lines::Index::open(path, file)?)));
        }
        let mut text = String::new();
        file.read_to_string(&mut text).map_err(read_err)?;
        Ok(Opened::Document(Box::new(Snapshot::from_json(path, &text)?)))
    }
}

/// How far into a file its `runner-snapshot/2` header line is looked for.
const HEADER_LIMIT: u64 = 1 << 20;

/// A [`Source`] that answers from a snapshot file, as the live API would have answered when the
/// snapshot was recorded. It keeps an index of the lines, not the data: each answer is read
/// from the file (or memory) and parsed when asked for.
#[derive(Debug)]
pub struct SnapshotSource {
    index: lines::Index,
}

impl SnapshotSource {
    /// Opens a snapshot file of either format. A `runner-snapshot/2` file is indexed, a line
    /// at a time, and read again line by line as the run asks; a `runner-snapshot/1` file is
    /// read whole.
    pub fn open(path: &Path) -> Result<SnapshotSource, SnapshotError> {
        match Opened::open(path)? {
            Opened::Lines(index) => Ok(SnapshotSource { index: *index }),
            Opened::Document(snapshot) => Ok(SnapshotSource::new(*snapshot)),
        }
    }

    /// A source over a snapshot in memory.
    pub fn new(snapshot: Snapshot) -> SnapshotSource {
        let index = lines::Index::from_bytes(Path::new("<memory>"), snapshot.to_lines())
            .expect("the lines of a snapshot in memory index");
        SnapshotSource { index }
    }

    /// When the snapshot was recorded.
    pub fn captured_at(&self) -> Timestamp {
        self.index.captured_at
    }

    /// The snapshot's lines could not be read back (the file changed or went away mid-run).
    fn unreadable(e: SnapshotError) -> SourceError {
        SourceError::Unreadable { error: e.to_string() }
    }
}

impl Source for SnapshotSource {
    /// The recorded answer of the active-session query: its look-back was applied when it was
    /// recorded, so `look_back` is not applied again (a replay with a later `--now` keeps the
    /// recorded sessions; only their ages and the history windows move). Left out: ended
    /// conversations, and sessions that start after `now` or whose start does not parse.
    async fn active_sessions(
        &self,
        now: Timestamp,
        look_back: SignedDuration,
        sink: Sink<'_>,
    ) -> Result<(), SourceError> {
        self.active_sessions_mapped(now, look_back, &|c| c.to_conversation(), sink).await
    }

    async fn conversation(&self, id: &str) -> Result<RawJson, SourceError> {
        match self.index.details(id).map_err(Self::unreadable)? {
            Some(raw) => Ok(raw),
            None => Err(self.missing(&conversation_key(id), format!("the details of conversation {id}"))),
        }
    }

    /// Every contact at once: the lines are read in file order and parsed on every core.
    fn contacts_per_call(&self) -> usize {
        usize::MAX
    }

    /// A contact the snapshot does not hold is one that does not exist (the API's "not found"),
    /// unless its read failed while recording (`contact:<id>`): then that id fails, alone, as it
    /// did live.
    async fn contacts(&self, ids: &[String]) -> Result<ContactBatch, SourceError> {
        let mut batch = ContactBatch::default();
        let mut ids: Vec<String> = ids.to_vec();
        ids.sort_unstable();
        ids.dedup();
        let outcomes = self.contacts_mapped(&ids, &|i, outcome| (i, outcome)).await?;
        for (i, outcome) in outcomes {
            let id = std::mem::take(&mut ids[i]);
            match outcome {
                Ok(Some(contact)) => {
                    batch.found.insert(id, contact);
                }
                Ok(None) => {}
                Err(e) => {
                    batch.failed.insert(id, e);
                }
            }
        }
        Ok(batch)
    }

    /// [`Source::contacts`]: the lines read in file order, parsed and mapped on every core.
    async fn contacts_mapped<T: Send>(
        &self,
        ids: &[String],
        map: &(dyn Fn(usize, ContactOutcome) -> T + Sync),
    ) -> Result<Vec<T>, SourceError> {
        let mut out: Vec<Option<T>> = Vec::with_capacity(ids.len());
        let mut readable: Vec<usize> = Vec::with_capacity(ids.len());
        for (i, id) in ids.iter().enumerate() {
            match self.recorded_failure(&contact_key(id)) {
                Err(e) => out.push(Some(map(i, Err(e)))),
                Ok(()) => {
                    readable.push(i);
                    out.push(None);
                }
            }
        }
        let asked: Vec<&str> = readable.iter().map(|&i| ids[i].as_str()).collect();
        let found = self.index.contacts_mapped(&asked, &|k, c| map(readable[k], Ok(c))).map_err(Self::unreadable)?;
        for (k, t) in found.into_iter().enumerate() {
            out[readable[k]] = Some(t);
        }
        Ok(out.into_iter().map(|t| t.expect("every id answered")).collect())
    }

    /// Ended conversations (by `conversationEnd` in `[since, until]`) with a `customer`
    /// participant whose external contact id is one of `contact_ids`.
    async fn history(
        &self,
        contact_ids: &[String],
        since: Timestamp,
        until: Timestamp,
        sink: Sink<'_>,
    ) -> Result<(), SourceError> {
        self.history_mapped(contact_ids, since, until, &|c| c.to_conversation(), sink).await
    }

    /// The recorded answer of the active-session query: its look-back was applied when it was
    /// recorded, so `look_back` is not applied again (a replay with a later `--now` keeps the
    /// recorded sessions; only their ages and the history windows move). Left out: ended
    /// conversations, and sessions that start after `now` or whose start does not parse.
    /// `map` runs on every core.
    async fn active_sessions_mapped<T: Send>(
        &self,
        now: Timestamp,
        _look_back: SignedDuration,
        map: Map<'_, T>,
        sink: &mut (dyn FnMut(T) + Send),
    ) -> Result<(), SourceError> {
        let keep = |c: ConversationView<'_>| {
            let active =
                c.conversation_end.is_none() && parse_time(c.conversation_start).is_some_and(|start| start <= now);
            active.then(|| (Hashed::new(c.conversation_id.to_owned()), map(c)))
        };
        let mut seen = FxHashSet::with_capacity_and_hasher(self.index.lines().0, Default::default());
        let mut each = |kept: Option<(Hashed<String>, T)>| {
            if let Some((id, t)) = kept {
                if seen.insert(id) {
                    sink(t);
                }
            }
        };
        self.index.active(&keep, &mut each).map_err(Self::unreadable)
    }

    /// [`Source::history`]; `map` runs on every core.
    async fn history_mapped<T: Send>(
        &self,
        contact_ids: &[String],
        since: Timestamp,
        until: Timestamp,
        map: Map<'_, T>,
        sink: &mut (dyn FnMut(T) + Send),
    ) -> Result<(), SourceError> {
        self.recorded_failure(HISTORY_KEY)?;
        let keep = |c: ConversationView<'_>| (Hashed::new(c.conversation_id.to_owned()), map(c));
        let mut seen = FxHashSet::with_capacity_and_hasher(self.index.lines().1, Default::default());
        let mut each = |(id, t): (Hashed<String>, T)| {
            if seen.insert(id) {
                sink(t);
            }
        };
        self.index.history(contact_ids, since, until, &keep, &mut each).map_err(Self::unreadable)
    }

    /// The details of every id, read in file order with `map` on every core.
    async fn conversations_mapped<T: Send>(
        &self,
        ids: &[String],
        _concurrency: usize,
        map: &(dyn Fn(usize, Result<&str, SourceError>) -> T + Sync),
    ) -> Vec<T> {
        self.index.details_mapped(ids, &|i, found| match found {
            Ok(Some(raw)) => map(i, Ok(raw)),
            Ok(None) => {
                let id = &ids[i];
                map(i, Err(self.missing(&conversation_key(id), format!("the details of conversation {id}"))))
            }
            Err(e) => map(i, Err(Self::unreadable(e))),
        })
    }

    async fn wrapup_codes(&self) -> Result<Vec<WrapupCode>, SourceError> {
        self.recorded_failure(WRAPUP_CODES_KEY)?;
        Ok(self.index.wrapup_codes.clone())
    }
}

impl SnapshotSource {
    /// The error recorded for `key`, if its request failed while recording.
    fn recorded_failure(&self, key: &str) -> Result<(), SourceError> {
        match self.index.failures.get(key) {
            Some(error) => Err(SourceError::FailedWhenRecorded { error: error.clone() }),
            None => Ok(()),
        }
    }

    fn missing(&self, key: &str, what: String) -> SourceError {
        self.recorded_failure(key).err().unwrap_or(SourceError::NotInSnapshot { what })
    }
}

/// Wraps a source and records every answer it gives, to write them as a snapshot
/// (`runner snapshot`). Records only what a run actually read, which is what replaying the
/// snapshot needs to decide the same way. Absent contacts ("not found") stay absent, as in the API.
pub struct Recorder<S> {
    inner: S,
    captured: std::sync::Mutex<Snapshot>,
}

impl<S: Source> Recorder<S> {
    pub fn new(inner: S, captured_at: Timestamp, description: Option<String>) -> Self {
        let empty = Snapshot {
            format: FORMAT.to_owned(),
            captured_at,
            description,
            active_conversations: Vec::new(),
            conversation_details: BTreeMap::new(),
            external_contacts: BTreeMap::new(),
            history: Vec::new(),
            wrapup_codes: Vec::new(),
            failures: BTreeMap::new(),
        };
        Recorder { inner, captured: std::sync::Mutex::new(empty) }
    }

    /// The recorded snapshot, history de-duplicated by conversation id.
    pub fn into_snapshot(self) -> Snapshot {
        let mut snapshot = self.captured.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut seen = HashSet::new();
        snapshot.history.retain(|c| seen.insert(c.conversation_id.clone()));
        snapshot
    }

    fn record(&self, f: impl FnOnce(&mut Snapshot)) {
        f(&mut self.captured.lock().unwrap_or_else(std::sync::PoisonError::into_inner));
    }

    /// Passes an answer through, recording the error under `key` when it failed.
    fn keep<T>(&self, key: impl FnOnce() -> String, answer: Result<T, SourceError>) -> Result<T, SourceError> {
        if let Err(e) = &answer {
            self.record(|s| {
                s.failures.insert(key(), e.to_string());
            });
        }
        answer
    }
}

impl<S: Source> Source for Recorder<S> {
    async fn active_sessions(
        &self,
        now: Timestamp,
        look_back: SignedDuration,
        sink: Sink<'_>,
    ) -> Result<(), SourceError> {
        let found = crate::source::all_active_sessions(&self.inner, now, look_back).await?;
        self.record(|s| s.active_conversations.extend(found.iter().cloned()));
        found.into_iter().for_each(sink);
        Ok(())
    }

    async fn conversation(&self, id: &str) -> Result<RawJson, SourceError> {
        let found = self.keep(|| conversation_key(id), self.inner.conversation(id).await)?;
        self.record(|s| {
            s.conversation_details.insert(id.to_owned(), found.clone());
        });
        Ok(found)
    }

    fn contacts_per_call(&self) -> usize {
        self.inner.contacts_per_call()
    }

    /// Records the contacts found and, as `contact:<id>`, each id whose read failed: every asked
    /// id when the read failed as a whole.
    async fn contacts(&self, ids: &[String]) -> Result<ContactBatch, SourceError> {
        let answer = self.inner.contacts(ids).await;
        self.record(|s| match &answer {
            Ok(batch) => {
                s.external_contacts.extend(batch.found.iter().map(|(id, c)| (id.clone(), c.clone())));
                s.failures.extend(batch.failed.iter().map(|(id, e)| (contact_key(id), e.to_string())));
            }
            Err(e) => s.failures.extend(ids.iter().map(|id| (contact_key(id), e.to_string()))),
        });
        answer
    }

    async fn history(
        &self,
        contact_ids: &[String],
        since: Timestamp,
        until: Timestamp,
        sink: Sink<'_>,
    ) -> Result<(), SourceError> {
        let answer = crate::source::all_history(&self.inner, contact_ids, since, until).await;
        let found = self.keep(|| HISTORY_KEY.to_owned(), answer)?;
        self.record(|s| s.history.extend(found.iter().cloned()));
        found.into_iter().for_each(sink);
        Ok(())
    }

    async fn wrapup_codes(&self) -> Result<Vec<WrapupCode>, SourceError> {
        let found = self.keep(|| WRAPUP_CODES_KEY.to_owned(), self.inner.wrapup_codes().await)?;
        self.record(|s| s.wrapup_codes = found.clone());
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn snapshot(v: serde_json::Value) -> Snapshot {
        serde_json::from_value(v).expect("test JSON is a snapshot")
    }

    fn conv(id: &str, contact: &str, start: &str, end: Option<&str>) -> serde_json::Value {
        let mut v = json!({
            "conversationId": id,
            "conversationStart": start,
            "participants": [{"purpose": "customer", "externalContactId": contact,
                              "sessions": [{"mediaType": "message", "messageType": "webmessaging"}]}]
        });
        if let Some(end) = end {
            v["conversationEnd"] = json!(end);
        }
        v
    }

    fn ts(s: &str) -> Timestamp {
        s.parse().expect("test timestamp")
    }

    fn demo_like() -> Snapshot {
        snapshot(json!({
            "format": FORMAT,
            "captured_at": "2026-11-24T12:00:00Z",
            "active_conversations": [
                conv("a-1", "ext-1", "2026-11-24T11:50:00.000Z", None),
                conv("a-1", "ext-1", "2026-11-24T11:50:00.000Z", None),
                conv("a-ended", "ext-2", "2026-11-24T11:00:00.000Z", Some("2026-11-24T11:30:00.000Z")),
                conv("a-old", "ext-3", "2026-11-20T09:00:00.000Z", None),
                conv("a-future", "ext-4", "2026-11-24T12:30:00.000Z", None),
                conv("a-garbled", "ext-5", "yesterday", None)
            ],
            "conversation_details": {"a-1": {"id": "a-1", "participants": []}},
            "external_contacts": {"ext-1": {"id": "ext-1", "firstName": "Åsa"}},
            "history": [
                conv("h-1", "ext-1", "2026-11-10T09:00:00Z", Some("2026-11-10T09:30:00Z")),
                conv("h-1", "ext-1", "2026-11-10T09:00:00Z", Some("2026-11-10T09:30:00Z")),
                conv("h-2", "ext-0", "2026-11-01T09:00:00Z", Some("2026-11-01T09:30:00Z")),
                conv("h-3", "ext-9", "2026-11-12T09:00:00Z", Some("2026-11-12T09:30:00Z")),
                conv("h-4", "ext-1", "2026-06-01T09:00:00Z", Some("2026-06-01T09:30:00Z")),
                conv("h-open", "ext-1", "2026-11-23T09:00:00Z", None)
            ],
            "wrapup_codes": [{"id": "w-1", "name": "Sale"}]
        }))
    }

    #[tokio::test]
    async fn active_sessions_are_the_recorded_open_ones_unique() {
        let source = SnapshotSource::new(demo_like());
        let now = ts("2026-11-24T12:00:00Z");
        // The recorded answer already applied the look-back: it is not applied again.
        for look_back in [SignedDuration::from_hours(1), SignedDuration::from_hours(24 * 7)] {
            let got = crate::source::all_active_sessions(&source, now, look_back).await.expect("snapshot");
            let ids: Vec<&str> = got.iter().map(|c| c.conversation_id.as_str()).collect();
            assert_eq!(ids, vec!["a-1", "a-old"]);
        }
        // An earlier "now" does not see sessions that had not started yet.
        let earlier =
            crate::source::all_active_sessions(&source, ts("2026-11-24T11:45:00Z"), SignedDuration::from_hours(1))
                .await;
        let ids: Vec<String> = earlier.expect("snapshot").into_iter().map(|c| c.conversation_id).collect();
        assert_eq!(ids, vec!["a-old"]);
    }

    #[tokio::test]
    async fn conversation_details_and_contacts() {
        let source = SnapshotSource::new(demo_like());
        let details = source.conversation("a-1").await.expect("present");
        assert_eq!(details.get(), r#"{"id":"a-1","participants":[]}"#);
        let err = source.conversation("a-ended").await.expect_err("absent");
        assert!(matches!(err, SourceError::NotInSnapshot { .. }));
        assert_eq!(err.to_string(), "the snapshot does not hold the details of conversation a-ended");

        let contacts = source.contacts(&["ext-1".into(), "ext-404".into()]).await.expect("snapshot");
        let contact = contacts.get("ext-1").expect("not failed").expect("present");
        assert_eq!(contact.first_name.as_deref(), Some("Åsa"));
        assert!(contacts.get("ext-404").expect("absent is not an error").is_none());
        assert_eq!(source.wrapup_codes().await.expect("snapshot").len(), 1);
    }

    #[tokio::test]
    async fn a_contact_that_failed_when_recorded_fails_alone_on_replay() {
        let mut snap = demo_like();
        snap.failures.insert(contact_key("ext-2"), "HTTP 500".into());
        let source = SnapshotSource::new(snap);
        let ids = ["ext-1", "ext-2", "ext-404"].map(String::from);
        let contacts = source.contacts(&ids).await.expect("never fails as a whole");
        assert!(contacts.get("ext-1").expect("found").is_some());
        assert!(matches!(contacts.get("ext-2"), Err(SourceError::FailedWhenRecorded { .. })));
        assert!(contacts.get("ext-404").expect("absent").is_none());
    }

    #[tokio::test]
    async fn the_recorder_keeps_found_contacts_and_each_failed_id() {
        let mut snap = demo_like();
        snap.failures.insert(contact_key("ext-2"), "HTTP 500".into());
        let recorder = Recorder::new(SnapshotSource::new(snap), ts("2026-11-24T12:00:00Z"), None);
        let ids = ["ext-1", "ext-2", "ext-404"].map(String::from);
        recorder.contacts(&ids).await.expect("answered");
        let recorded = recorder.into_snapshot();
        assert_eq!(recorded.external_contacts.keys().collect::<Vec<_>>(), ["ext-1"]);
        assert_eq!(recorded.failures.keys().collect::<Vec<_>>(), ["contact:ext-2"]);
        // Replaying the recording answers the same: found, failed, absent.
        let replay = SnapshotSource::new(recorded).contacts(&ids).await.expect("replayed");
        assert!(replay.get("ext-1").expect("found").is_some());
        assert!(replay.get("ext-2").is_err());
        assert!(replay.get("ext-404").expect("absent").is_none());
    }

    /// A source whose contact reads fail as a whole; nothing else is asked of it.
    struct ContactsDown;

    impl Source for ContactsDown {
        async fn active_sessions(&self, _: Timestamp, _: SignedDuration, _: Sink<'_>) -> Result<(), SourceError> {
            unreachable!()
        }
        async fn conversation(&self, _: &str) -> Result<RawJson, SourceError> {
            unreachable!()
        }
        async fn contacts(&self, _: &[String]) -> Result<ContactBatch, SourceError> {
            Err(SourceError::FailedWhenRecorded { error: "HTTP 503".into() })
        }
        async fn history(&self, _: &[String], _: Timestamp, _: Timestamp, _: Sink<'_>) -> Result<(), SourceError> {
            unreachable!()
        }
        async fn wrapup_codes(&self) -> Result<Vec<WrapupCode>, SourceError> {
            unreachable!()
        }
    }

    #[tokio::test]
    async fn a_contact_read_that_failed_as_a_whole_fails_every_id_on_replay() {
        let recorder = Recorder::new(ContactsDown, ts("2026-11-24T12:00:00Z"), None);
        let ids = ["ext-1", "ext-2"].map(String::from);
        assert!(recorder.contacts(&ids).await.is_err());
        let recorded = recorder.into_snapshot();
        assert_eq!(recorded.failures.keys().collect::<Vec<_>>(), ["contact:ext-1", "contact:ext-2"]);
        let replay = SnapshotSource::new(recorded).contacts(&ids).await.expect("replayed");
        assert!(replay.get("ext-1").is_err() && replay.get("ext-2").is_err(), "never read as absent");
    }

    #[tokio::test]
    async fn history_by_contact_ids_and_end_window() {
        let source = SnapshotSource::new(demo_like());
        let ids = vec!["ext-1".to_owned(), "ext-0".to_owned()];
        let since = ts("2026-10-01T00:00:00Z");
        let until = ts("2026-11-24T12:00:00Z");
        let got = crate::source::all_history(&source, &ids, since, until).await.expect("snapshot");
        let got: Vec<&str> = got.iter().map(|c| c.conversation_id.as_str()).collect();
        assert_eq!(got, vec!["h-1", "h-2"]);
        // The window is inclusive at both ends.
        let exact =
            crate::source::all_history(&source, &ids, ts("2026-11-10T09:30:00Z"), ts("2026-11-10T09:30:00Z")).await;
        assert_eq!(exact.expect("snapshot").len(), 1);
        assert!(crate::source::all_history(&source, &[], since, until).await.expect("snapshot").is_empty());
    }

    #[test]
    fn save_then_load_round_trips() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("snap.json");
        let snap = demo_like();
        snap.save(&path).expect("saved");
        let back = Snapshot::load(&path).expect("loaded");
        assert_eq!(back.captured_at, snap.captured_at);
        assert_eq!(back.active_conversations.len(), snap.active_conversations.len());
        assert_eq!(back.history.len(), snap.history.len());
        assert_eq!(back.external_contacts["ext-1"].first_name.as_deref(), Some("Åsa"));
        assert_eq!(back.wrapup_codes, snap.wrapup_codes);
        assert!(!dir.path().join("snap.json.tmp").exists());
        // JSON Lines: the header first, then one answer per line.
        let text = std::fs::read_to_string(&path).expect("readable");
        let first = text.lines().next().expect("a header line");
        assert_eq!(first, r#"{"format":"runner-snapshot/2","captured_at":"2026-11-24T12:00:00Z"}"#);
        let records = snap.active_conversations.len()
            + snap.conversation_details.len()
            + snap.external_contacts.len()
            + snap.history.len()
            + snap.wrapup_codes.len();
        assert_eq!(text.lines().count(), 1 + records);
        // And what a run reads from it answers like the snapshot it was saved from.
        let source = SnapshotSource::open(&path).expect("opened");
        assert_eq!(source.captured_at(), snap.captured_at);
    }

    /// A lines file is known by its header's format, whatever the order of the header's keys
    /// (another writer may sort them) or blank lines before it.
    #[tokio::test]
    async fn a_lines_file_is_known_by_its_header_in_any_key_order() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("sorted.jsonl");
        let text = format!(
            "\n{{\"captured_at\":\"2026-11-24T12:00:00Z\",\"format\":\"runner-snapshot/2\"}}\n{{\"active\":{}}}\n",
            conv("a-1", "ext-1", "2026-11-24T11:50:00.000Z", None)
        );
        std::fs::write(&path, text).expect("written");
        let source = SnapshotSource::open(&path).expect("opened as lines");
        assert_eq!(source.captured_at(), ts("2026-11-24T12:00:00Z"));
        let active = crate::source::all_active_sessions(&source, ts("2026-11-24T12:00:00Z"), SignedDuration::ZERO)
            .await
            .expect("listed");
        assert_eq!(active.len(), 1);
    }

    #[test]
    fn load_names_the_file_when_it_cannot_be_read() {
        let err = Snapshot::load(Path::new("/nonexistent/snap.json")).expect_err("no such file");
        assert!(matches!(err, SnapshotError::Read { .. }));
        assert!(err.to_string().starts_with("cannot read the snapshot /nonexistent/snap.json: "), "{err}");
    }

    #[test]
    fn a_foreign_or_future_format_is_rejected_clearly() {
        let path = Path::new("snap.json");
        let err = Snapshot::from_json(path, r#"{"format": "runner-snapshot/9", "anything": 1}"#).expect_err("v9");
        assert_eq!(
            err.to_string(),
            "snap.json is not a runner snapshot: its \"format\" is \"runner-snapshot/9\", expected \"runner-snapshot/2\" or \"runner-snapshot/1\""
        );
        let err = Snapshot::from_json(path, r#"{"conversations": []}"#).expect_err("no format");
        assert!(err.to_string().contains("its \"format\" is missing"), "{err}");
        let err = Snapshot::from_json(path, r#"[1, 2]"#).expect_err("not an object");
        assert!(matches!(err, SnapshotError::Parse { .. }), "{err}");
        assert!(err.to_string().ends_with("invalid type: sequence, expected a snapshot object"), "{err}");
    }

    #[test]
    fn json_errors_give_line_column_place_and_expectation() {
        let path = Path::new("snapshots/broken.json");
        let text = "{\n  \"format\": \"runner-snapshot/1\",\n  \"captured_at\": \"2026-11-24T12:00:00Z\",\n  \"active_conversations\": [\n    {\"conversationId\": 7, \"conversationStart\": \"2026-11-24T11:00:00Z\"}\n  ]\n}\n";
        let err = Snapshot::from_json(path, text).expect_err("a number is not an id");
        let SnapshotError::Parse { line, column, field, message, .. } = &err else { panic!("{err}") };
        assert_eq!(*line, 5);
        assert!(*column > 0);
        assert_eq!(field, "active_conversations[0].conversationId");
        assert!(message.contains("expected a string"), "{message}");
        let shown = err.to_string();
        assert!(shown.starts_with("the snapshot snapshots/broken.json is not valid JSON"), "{shown}");
        assert!(shown.contains("line 5, column"), "{shown}");
        assert!(!shown.contains(" at line "), "the position is shown once: {shown}");

        let err = Snapshot::from_json(path, "{\"format\": \"runner-snapshot/1\",").expect_err("truncated");
        assert!(matches!(err, SnapshotError::Parse { line: 1, .. }), "{err}");

        let unknown = "{\"format\": \"runner-snapshot/1\", \"captured_at\": \"2026-11-24T12:00:00Z\", \"active_conversations\": [], \"contacts\": {}}";
        let err = Snapshot::from_json(path, unknown).expect_err("unknown key");
        assert!(err.to_string().contains("unknown field `contacts`"), "{err}");
    }

    /// The demo snapshot's deliberate edge cases (ids from `snapshots/README.md`).
    mod demo {
        use std::collections::{HashMap, HashSet};

        use super::*;
        use crate::model::normalize;

        const S01_DUPLICATED: &str = "93902fa8-465f-4de3-8556-009a4209853e";
        const S04_BILLING_UNRESOLVED: &str = "d696cff5-951e-416e-88a3-6a1509a642c8";
        const S05_NO_HISTORY_VIP: &str = "07a49635-b6e6-4601-baf2-1ca6ce9ac83d";
        const S16_MERGED: &str = "89da5380-4f29-4192-8954-88037f647386";
        const S16_MERGED_AWAY_ID: &str = "f14af8eb-3792-4a13-ac4b-cdac52732861";
        const S17_ANONYMOUS: &str = "7606bed0-198e-46b1-a1e0-47721438ede6";
        const S18_CONTACT_404: &str = "4700634e-2be2-4042-ba59-56336677baf2";
        const S19_NO_ATTRIBUTES: &str = "c3a048b7-1186-432f-92aa-694e3bbe7154";
        const S20_NO_DETAILS: &str = "ec58a4b9-10ce-4e56-86c8-acd59ee10284";
        const S21_DO_NOT_CONTACT: &str = "6f3a91e3-5e2f-4dc4-8981-f48a922c92f7";
        const S22_ENDED: &str = "d6146116-4666-4809-b3dd-41aa9dcf960c";
        const S23_UNKNOWN_WRAP_UP: &str = "3682f3c9-d85c-4631-b1eb-3c953857cb13";
        const S26_EPHEMERAL: &str = "6aeb0f81-c537-428a-b435-cf060ec58e26";
        const S27_DUPLICATE_HISTORY: &str = "ee3ecda4-9eef-4141-8c15-fcd84aaef4b6";
        const S28_TRANSFER: &str = "d2ef33f5-2f09-4a5e-9675-f2d86f35d815";
        const DELETED_WRAP_UP_ID: &str = "7a12b828-6629-4d08-9e61-b9d3ed6ca918";
        const TIMEOUT_WRAP_UP_ID: &str = "ININ-WRAP-UP-TIMEOUT";

        fn demo_path() -> PathBuf {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("snapshots/demo.json")
        }

        /// Everything normalized for one session, the way a run loads it.
        struct Loaded {
            session: crate::model::Session,
            details: Result<crate::model::Details, SourceError>,
            contact: Option<Option<crate::model::Contact>>,
            history: Vec<crate::model::PastConversation>,
        }

        async fn load_all() -> (Snapshot, HashMap<String, Loaded>) {
            let snapshot = Snapshot::load(&demo_path()).expect("snapshots/demo.json loads");
            let now = snapshot.captured_at;
            let source = SnapshotSource::new(snapshot.clone());
            let wrapups = normalize::wrapup_names(&source.wrapup_codes().await.expect("wrap-up codes"));
            let mut out = HashMap::new();
            for conv in crate::source::all_active_sessions(&source, now, SignedDuration::from_hours(24))
                .await
                .expect("active sessions")
            {
                let session = normalize::session(&conv.view()).expect("every demo session has a customer and a start");
                let details = match source.conversation(&session.id).await {
                    Ok(raw) => Ok(normalize::details(raw.get(), &normalize::Queries::new(Vec::new()))
                        .expect("demo details normalize")),
                    Err(e) => Err(e),
                };
                let (contact, history) = match &session.external_contact_id {
                    None => (None, Vec::new()),
                    Some(id) => {
                        let contacts = source.contacts(std::slice::from_ref(id)).await.expect("contacts");
                        let contact = contacts.get(id).expect("contacts never fail").cloned().map(normalize::contact);
                        let ids = normalize::customer_ids(id, contact.as_ref());
                        let since = now.checked_sub(SignedDuration::from_hours(24 * 120)).expect("in range");
                        let past = crate::source::all_history(&source, &ids, since, now).await.expect("history");
                        let set: HashSet<String> = ids.into_iter().collect();
                        (Some(contact), normalize::history(&past, &set, &session.id, &wrapups))
                    }
                };
                out.insert(session.id.clone(), Loaded { session, details, contact, history });
            }
            (snapshot, out)
        }

        #[tokio::test]
        async fn every_demo_session_normalizes() {
            let (snapshot, all) = load_all().await;
            assert_eq!(snapshot.format, FORMAT);
            assert_eq!(snapshot.captured_at, "2026-11-24T12:00:00Z".parse::<Timestamp>().expect("time"));
            // 37 entries: S01 twice, S22 already ended.
            assert_eq!(snapshot.active_conversations.len(), 37);
            assert_eq!(all.len(), 35);
            assert!(all.contains_key(S01_DUPLICATED));
            assert!(!all.contains_key(S22_ENDED), "an ended conversation is not active");

            for (id, l) in &all {
                assert_eq!(l.session.message_type.as_deref(), Some("webmessaging"), "{id}");
                assert_eq!(l.session.direction.as_deref(), Some("inbound"), "{id}");
                assert!(l.session.queue_id.is_some(), "{id}");
                assert!(snapshot.captured_at.duration_since(l.session.started) < SignedDuration::from_hours(3), "{id}");
                match (&l.details, id.as_str()) {
                    (Err(SourceError::NotInSnapshot { .. }), S20_NO_DETAILS) => {}
                    (Err(e), _) => panic!("{id}: {e}"),
                    (Ok(d), S19_NO_ATTRIBUTES) => assert!(d.attributes.is_empty() && d.locale.is_none(), "{id}"),
                    (Ok(d), _) => {
                        for key in
                            ["plan", "page", "cart_value", "language", "opt_out", "segment", "customer_time_zone"]
                        {
                            assert!(d.attributes.get(key).is_some(), "{id} lacks {key}");
                        }
                        assert!(d.queue_name.is_some() && d.locale.is_some(), "{id}");
                    }
                }
                match (&l.contact, id.as_str()) {
                    (None, S17_ANONYMOUS) => assert!(l.session.external_contact_id.is_none()),
                    (Some(None), S18_CONTACT_404) => {}
                    (Some(Some(c)), _) => {
                        assert_eq!(Some(&c.id), l.session.external_contact_id.as_ref(), "{id}");
                        assert!(c.contact_type.is_some(), "{id}");
                    }
                    (other, _) => panic!("{id}: unexpected contact {other:?}"),
                }
                let mut seen = HashSet::new();
                for p in &l.history {
                    assert!(seen.insert(&p.id), "{id}: {} twice", p.id);
                    assert!(p.started <= p.ended && p.ended <= snapshot.captured_at, "{id}");
                    if let (Some(name), Some(code)) = (&p.wrap_up, &p.wrap_up_id) {
                        let named = snapshot.wrapup_codes.iter().any(|w| *w.id == **code && *w.name == **name);
                        let unknown = name == code && [DELETED_WRAP_UP_ID, TIMEOUT_WRAP_UP_ID].contains(&&**code);
                        assert!(named || unknown, "{id}: wrap-up {code} shown as {name}");
                    }
                }
                assert!(l.history.windows(2).all(|w| w[0].ended >= w[1].ended), "{id}: newest first");
            }
        }

        #[tokio::test]
        async fn demo_edge_cases_are_where_the_readme_says() {
            let (_, all) = load_all().await;
            let get = |id: &str| all.get(id).unwrap_or_else(|| panic!("{id} is active"));
            let last_wrap_up = |id: &str| get(id).history.first().and_then(|p| p.wrap_up.clone());

            // A merged contact: history under both ids; the newest under the merged-away one.
            let merged = get(S16_MERGED);
            let Some(Some(contact)) = &merged.contact else { panic!("S16 has a contact") };
            assert!(contact.merge_set.iter().any(|m| m == S16_MERGED_AWAY_ID));
            assert_eq!(last_wrap_up(S16_MERGED).as_deref(), Some("Billing - Unresolved"));
            assert!(merged.history.len() >= 2);

            // The contact that is not in the snapshot still has history (analytics keeps it).
            assert!(!get(S18_CONTACT_404).history.is_empty());

            for no_history in [S05_NO_HISTORY_VIP, S26_EPHEMERAL] {
                assert!(get(no_history).history.is_empty(), "{no_history}");
            }
            let Some(Some(ephemeral)) = &get(S26_EPHEMERAL).contact else { panic!("S26 has a contact") };
            assert_eq!(ephemeral.contact_type.as_deref(), Some("ephemeral"));
            assert_eq!(ephemeral.full_name(), None);

            assert_eq!(last_wrap_up(S23_UNKNOWN_WRAP_UP).as_deref(), Some(DELETED_WRAP_UP_ID));
            assert_eq!(last_wrap_up(S21_DO_NOT_CONTACT).as_deref(), Some("Do Not Contact"));
            assert_eq!(last_wrap_up(S28_TRANSFER).as_deref(), Some("Technical Issue - Resolved"));
            assert_eq!(last_wrap_up(S04_BILLING_UNRESOLVED).as_deref(), Some("Billing - Unresolved"));

            let s01 = get(S01_DUPLICATED);
            assert_eq!(s01.session.customer_name.as_deref(), Some("Zoë Fischer"));
            let Ok(d) = &s01.details else { panic!("S01 has details") };
            assert_eq!(d.attributes.get("cart_value").map(|v| &**v), Some("149.90"));

            // S27's 7-day-old conversation is listed twice in the snapshot's history but counts once.
            let s27 = get(S27_DUPLICATE_HISTORY);
            assert_eq!(s27.history.first().and_then(|p| p.wrap_up.as_deref()), Some("Callback Requested"));
            assert_eq!(s27.history.first().and_then(|p| p.media_type.as_deref()), Some("voice"));
        }
    }
}
