//! The send journal: the durable record that makes a duplicate proactive message impossible,
//! also across several runners sharing one PostgreSQL journal.
//!
//! # The protocol: reserve → send → mark
//!
//! Every message goes through [`Journal::reserve`] before it is sent. In one transaction,
//! serialized per customer (PostgreSQL: `pg_advisory_xact_lock` on a hash of the customer id;
//! SQLite: `BEGIN IMMEDIATE`, one writer at a time), the reservation checks the caps against the
//! rows that count as sent (`reserved`, `sent`, `uncertain`) and, only when none is hit, inserts
//! a `reserved` row. Then the caller sends and records the outcome:
//!
//! - [`Journal::mark_sent`]: Genesys took it (with its conversation and message ids);
//! - [`Journal::mark_failed`]: Genesys definitely did not take it: the caps are released and a
//!   later run may message the customer again;
//! - [`Journal::mark_uncertain`]: the outcome is unknown (timeout after the request left): it
//!   counts as sent and is never re-sent automatically.
//!
//! A reservation that never gets an outcome (the process stopped between reserve and mark)
//! becomes `uncertain` through [`Journal::expire_stale`], which a live run calls at its start.
//! An operator settles uncertain rows with [`Journal::resolve`] (`runner journal resolve`).
//! At most once is the contract: when in doubt, runner does not send.
//!
//! # The caps, checked atomically with the reservation
//!
//! 1. A campaign messages a conversation at most once ([`CapReason::SameConversation`]), and
//!    has at most one message in flight per customer ([`CapReason::InFlight`]).
//! 2. `once_every` per campaign and customer ([`CapReason::OnceEvery`]): a message at `T` blocks
//!    the campaign for that customer while `now < T + once_every`; at exactly `T + once_every`
//!    it is allowed again. `ever` blocks for good.
//! 3. The global cap across campaigns per customer ([`GlobalCap`], e.g. 1 per 24h): capped
//!    when `max` messages were reserved in the window `(now - window, now]` (same boundary rule).
//!
//! Times are the reservation times, as the caller's injected `now`; the journal never reads a
//! clock. Unique indexes back the guarantee independently of the lock: at most one in-flight
//! reservation per campaign and customer, at most one counting row per campaign and
//! conversation.
//!
//! # In the send loop
//!
//! ```text
//! let journal = Journal::open(&location, options).await?;      // dry run: open_read_only
//! for entry in journal.expire_stale(now).await? { warn: entry is now uncertain }
//! match journal.reserve(&ReserveRequest { run_id, key, once_every, text }, now).await? {
//!     Reserve::Capped(cap) => skip, reason capped (`cap` says by what, until when),
//!     Reserve::Reserved(id) => match client.send(&request).await {
//!         Ok(answer) => journal.mark_sent(id, answer.conversation_id, answer.id, now).await?,
//!         Err(SendError::Failed(e)) => journal.mark_failed(id, &e.to_string(), now).await?,
//!         Err(SendError::Uncertain(e)) => journal.mark_uncertain(id, &e.to_string(), now).await?,
//!     },
//! }
//! ```
//!
//! Any journal error means: do not send (a failed reservation reserved nothing). When recording
//! an outcome fails, stop the run: the row stays `reserved`, blocks the message, and later
//! becomes `uncertain`.
//!
//! Only a hash and the length of the message text are stored, never the text: it may hold
//! personal data, and the journal outlives it.

mod backend;
pub mod command;
mod error;
mod location;
mod occurrence;
#[cfg(test)]
mod tests;

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use serde::Serialize;
use sha2::{Digest, Sha256};

pub use error::JournalError;
pub use location::{DEFAULT_LOCATION, ENV_VAR, Location};

use crate::campaign::OnceEvery;
use crate::fxhash::FxHashSet;
use backend::{Db, Fault, Mode};

/// A journal row's id (what `runner journal resolve ID` takes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct EntryId(pub i64);

impl fmt::Display for EntryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl FromStr for EntryId {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.trim().parse().map(EntryId).map_err(|_| format!("`{s}` is not a journal entry id (a number, e.g. 42)"))
    }
}

/// Where a message stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Reserved, the send not finished yet (if runner stopped before recording the outcome, the
    /// next live run makes it uncertain).
    Reserved,
    /// Genesys took the message.
    Sent,
    /// Genesys did not take it; the caps are released.
    Failed,
    /// Unknown whether it went out: counts as sent, never re-sent automatically.
    Uncertain,
    /// An operator decided an uncertain message did not go out; the caps are released.
    Released,
}

impl State {
    pub const ALL: [State; 5] = [State::Reserved, State::Sent, State::Failed, State::Uncertain, State::Released];

    pub fn as_str(self) -> &'static str {
        match self {
            State::Reserved => "reserved",
            State::Sent => "sent",
            State::Failed => "failed",
            State::Uncertain => "uncertain",
            State::Released => "released",
        }
    }

    /// Whether a row in this state counts as a message for the caps.
    pub fn counts(self) -> bool {
        matches!(self, State::Reserved | State::Sent | State::Uncertain)
    }

    fn parse(s: &str) -> Option<State> {
        State::ALL.into_iter().find(|state| state.as_str() == s)
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// At most `max` proactive messages per customer within `window`, across all campaigns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GlobalCap {
    pub max: u32,
    pub window: SignedDuration,
}

impl GlobalCap {
    /// Checks the values: `max` at least 1, `window` longer than 0.
    pub fn new(max: u32, window: SignedDuration) -> Result<GlobalCap, String> {
        if max == 0 {
            return Err("the global cap must allow at least 1 message (remove it for no cap)".to_owned());
        }
        if !window.is_positive() {
            return Err("the global cap's window must be longer than 0, e.g. `1/24h`".to_owned());
        }
        Ok(GlobalCap { max, window })
    }
}

/// `1/24h`, `3/7d` or `1 per 24h`.
impl FromStr for GlobalCap {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let expected = || format!("`{s}` is not a global cap: write messages per window, e.g. `1/24h` or `3/7d`");
        let (max, window) = s.split_once('/').or_else(|| s.split_once(" per ")).ok_or_else(expected)?;
        let max: u32 = max.trim().parse().map_err(|_| expected())?;
        let window = crate::campaign::duration::parse(window.trim()).map_err(|e| format!("{}: {e}", expected()))?;
        GlobalCap::new(max, window)
    }
}

impl fmt::Display for GlobalCap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} per {}", self.max, crate::campaign::duration::format(self.window))
    }
}

/// Which message: a campaign, to a customer, in one of their conversations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MessageKey<'a> {
    pub campaign: &'a str,
    /// The external contact id.
    pub customer: &'a str,
    /// The web messaging conversation the message goes into.
    pub conversation_id: &'a str,
}

/// What [`Journal::reserve`] needs.
#[derive(Debug, Clone, Copy)]
pub struct ReserveRequest<'a> {
    /// Identifies the runner process (see [`new_run_id`]).
    pub run_id: &'a str,
    pub key: MessageKey<'a>,
    /// The campaign's `limits.once_every`.
    pub once_every: Option<OnceEvery>,
    /// The rendered text: only its SHA-256 and length are stored.
    pub text: &'a str,
}

/// The answer of [`Journal::reserve`].
#[derive(Debug, Clone, PartialEq)]
pub enum Reserve {
    /// Send now, then mark this entry.
    Reserved(EntryId),
    /// Do not send.
    Capped(CapInfo),
}

/// Whom the journal holds messages for ([`Journal::holds`]).
#[derive(Debug, Default)]
pub struct Holds {
    pub customers: FxHashSet<String>,
    pub conversations: FxHashSet<String>,
}

impl Holds {
    /// Whether the journal may cap a send to `customer` in `conversation_id`.
    pub fn may_cap(&self, customer: &str, conversation_id: &str) -> bool {
        self.customers.contains(customer) || self.conversations.contains(conversation_id)
    }
}

/// Why a message may not be sent, and the earlier message that blocks it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CapInfo {
    pub reason: CapReason,
    /// The campaign of the blocking message.
    pub campaign: String,
    /// The blocking entry: the most recent one that counts.
    pub entry: EntryId,
    /// When the blocking message was reserved.
    pub last: Timestamp,
    /// From when the cap allows a message again (`None`: never, or not by time).
    pub until: Option<Timestamp>,
}

impl fmt::Display for CapInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let when =
            format!("`{}` messaged this customer at {} (journal entry {})", self.campaign, self.last, self.entry);
        match self.reason {
            CapReason::SameConversation => {
                write!(f, "{when} in this conversation; a campaign messages a conversation once")
            }
            CapReason::InFlight => write!(f, "{when}; that message has no outcome yet"),
            CapReason::OnceEvery(OnceEvery::Ever) => write!(f, "{when}; once ever"),
            CapReason::OnceEvery(OnceEvery::Every(d)) | CapReason::Global(GlobalCap { window: d, .. }) => {
                let rule = match self.reason {
                    CapReason::Global(cap) => format!("global cap {cap}"),
                    _ => format!("once every {}", crate::campaign::duration::format(d)),
                };
                match self.until {
                    Some(until) => write!(f, "{when}; {rule}: allowed again from {until}"),
                    None => write!(f, "{when}; {rule}"),
                }
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "cap", content = "rule", rename_all = "snake_case")]
pub enum CapReason {
    /// This campaign already messaged this conversation.
    SameConversation,
    /// A message of this campaign to this customer is being sent (reserved, no outcome yet).
    InFlight,
    /// The campaign's `once_every`.
    OnceEvery(#[serde(serialize_with = "serialize_once_every")] OnceEvery),
    /// The global cap across campaigns.
    Global(#[serde(serialize_with = "serialize_global_cap")] GlobalCap),
}

fn serialize_once_every<S: serde::Serializer>(value: &OnceEvery, s: S) -> Result<S::Ok, S::Error> {
    match value {
        OnceEvery::Ever => s.serialize_str("ever"),
        OnceEvery::Every(d) => s.serialize_str(&crate::campaign::duration::format(*d)),
    }
}

fn serialize_global_cap<S: serde::Serializer>(value: &GlobalCap, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(value)
}

/// One journal row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entry {
    pub id: EntryId,
    pub run_id: String,
    pub campaign: String,
    pub customer: String,
    pub conversation_id: String,
    pub state: State,
    /// SHA-256 of the rendered text, hex.
    pub text_sha256: String,
    /// Length of the rendered text in characters.
    pub text_chars: u64,
    /// When it was reserved (the time the caps count).
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub genesys_conversation_id: Option<String>,
    pub genesys_message_id: Option<String>,
    /// Why it failed or is uncertain.
    pub error: Option<String>,
    /// What an operator decided about it, when it was uncertain.
    pub resolution: Option<String>,
}

/// Which rows `list` shows; every filter set must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    pub campaign: Option<String>,
    pub customer: Option<String>,
    pub state: Option<State>,
    /// Reserved at or after this time.
    pub since: Option<Timestamp>,
    /// Reserved by runs whose id starts with this (one `runner serve` instance's runs).
    pub run_id_prefix: Option<String>,
}

/// What an operator decides about an uncertain row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Resolution {
    /// It went out (e.g. the customer saw it): keeps counting for the caps.
    Sent,
    /// It did not go out: the caps are released, a later run may message the customer.
    Released,
}

impl Resolution {
    fn state(self) -> State {
        match self {
            Resolution::Sent => State::Sent,
            Resolution::Released => State::Released,
        }
    }
}

/// Settings of an open journal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JournalOptions {
    /// Across all campaigns per customer; `None`: no global cap.
    pub global_cap: Option<GlobalCap>,
    /// A reservation without an outcome for this long becomes uncertain ([`Journal::expire_stale`]).
    /// Keep it well above the longest send (timeouts and retries included).
    pub stale_after: SignedDuration,
    /// SQLite: how long to wait for another writer before giving up.
    pub busy_timeout: Duration,
}

impl Default for JournalOptions {
    fn default() -> Self {
        JournalOptions {
            global_cap: None,
            stale_after: SignedDuration::from_mins(15),
            busy_timeout: Duration::from_secs(30),
        }
    }
}

/// The longest error text kept in a row.
const MAX_ERROR_CHARS: usize = 2000;

/// An open journal. Cheap to clone (the connection pool is shared).
#[derive(Debug, Clone)]
pub struct Journal {
    db: Db,
    location: Location,
    options: JournalOptions,
}

impl Journal {
    /// Opens the journal for a live run, creating it (SQLite) and bringing its schema up to date.
    pub async fn open(location: &Location, options: JournalOptions) -> Result<Journal, JournalError> {
        Journal::open_with(location, options, Mode::Create).await
    }

    /// Opens a journal that must exist already (`runner journal ...`), bringing its schema up
    /// to date. [`JournalError::Missing`] when there is none.
    pub async fn open_existing(location: &Location, options: JournalOptions) -> Result<Journal, JournalError> {
        Journal::open_with(location, options, Mode::Existing).await
    }

    /// Opens the journal for a dry run: it is never written, created or migrated (the database
    /// enforces it: SQLite read-only mode, PostgreSQL read-only transactions). A journal that
    /// does not exist yet reads as empty. Meant for [`Journal::would_cap`].
    pub async fn open_read_only(location: &Location, options: JournalOptions) -> Result<Journal, JournalError> {
        Journal::open_with(location, options, Mode::ReadOnly).await
    }

    async fn open_with(location: &Location, options: JournalOptions, mode: Mode) -> Result<Journal, JournalError> {
        let db = backend::open(location, &options, mode, backend::LATEST_VERSION).await?;
        Ok(Journal { db, location: location.clone(), options })
    }

    pub fn location(&self) -> &Location {
        &self.location
    }

    pub fn options(&self) -> &JournalOptions {
        &self.options
    }

    /// Whether the journal refuses writes (opened with [`Journal::open_read_only`]).
    pub fn is_read_only(&self) -> bool {
        self.db.is_read_only()
    }

    /// Checks the caps and, when none is hit, reserves the message: atomically, serialized per
    /// customer, so two runners cannot both reserve it. Send only on `Reserved`, then mark.
    pub async fn reserve(&self, request: &ReserveRequest<'_>, now: Timestamp) -> Result<Reserve, JournalError> {
        let result = backend::reserve(&self.db, request, self.options.global_cap, now).await;
        result.map_err(|fault| match fault {
            Fault::Db(e) if is_unique_violation(&e) => JournalError::Conflict {
                location: self.location.to_string(),
                campaign: request.key.campaign.to_owned(),
                customer: request.key.customer.to_owned(),
            },
            fault => self.fault("reserving a message", fault),
        })
    }

    /// What [`Journal::reserve`] would answer now, without writing anything (dry runs).
    /// `None`: not capped.
    pub async fn would_cap(
        &self,
        key: &MessageKey<'_>,
        once_every: Option<OnceEvery>,
        now: Timestamp,
    ) -> Result<Option<CapInfo>, JournalError> {
        backend::would_cap(&self.db, key, once_every, self.options.global_cap, now)
            .await
            .map_err(|f| self.fault("checking the caps", f))
    }

    /// The customers and the conversations the journal holds a message for that counts
    /// towards a cap (`reserved`, `sent`, `uncertain`). Every cap [`Journal::would_cap`] finds
    /// is one of their messages, so no one else's send can be capped (until a runner writes
    /// one). Empty when the journal does not exist yet.
    pub async fn holds(&self) -> Result<Holds, JournalError> {
        let (customers, conversations) =
            backend::holds(&self.db).await.map_err(|f| self.fault("reading whom the journal holds messages for", f))?;
        Ok(Holds { customers: customers.into_iter().collect(), conversations: conversations.into_iter().collect() })
    }

    /// Genesys took the message. Also accepted for an entry that became uncertain meanwhile
    /// (the outcome is known after all).
    pub async fn mark_sent(
        &self,
        id: EntryId,
        genesys_conversation_id: Option<&str>,
        genesys_message_id: Option<&str>,
        now: Timestamp,
    ) -> Result<(), JournalError> {
        let outcome = backend::Outcome { state: State::Sent, genesys_conversation_id, genesys_message_id, error: None };
        self.mark(id, outcome, now).await
    }

    /// Genesys did not take the message: the caps are released.
    pub async fn mark_failed(&self, id: EntryId, error: &str, now: Timestamp) -> Result<(), JournalError> {
        let error = truncate(error);
        let outcome = backend::Outcome {
            state: State::Failed,
            genesys_conversation_id: None,
            genesys_message_id: None,
            error: Some(&error),
        };
        self.mark(id, outcome, now).await
    }

    /// Unknown whether the message went out: it counts as sent and is never re-sent.
    pub async fn mark_uncertain(&self, id: EntryId, why: &str, now: Timestamp) -> Result<(), JournalError> {
        let why = truncate(why);
        let outcome = backend::Outcome {
            state: State::Uncertain,
            genesys_conversation_id: None,
            genesys_message_id: None,
            error: Some(&why),
        };
        self.mark(id, outcome, now).await
    }

    async fn mark(&self, id: EntryId, outcome: backend::Outcome<'_>, now: Timestamp) -> Result<(), JournalError> {
        let wanted = outcome.state;
        match backend::mark(&self.db, id, outcome, now).await {
            Ok(backend::Marked::Done) => Ok(()),
            Ok(backend::Marked::Missing) => Err(JournalError::NotFound { location: self.location.to_string(), id }),
            Ok(backend::Marked::Was(state)) => Err(JournalError::AlreadyFinal { id, state, wanted }),
            Err(fault) => Err(self.fault("recording a send outcome", fault)),
        }
    }

    /// Turns reservations older than `stale_after` (reserved at or before `now - stale_after`)
    /// that never got an outcome into `uncertain`, and returns them. A live run calls this at
    /// its start; they are never re-sent automatically.
    pub async fn expire_stale(&self, now: Timestamp) -> Result<Vec<Entry>, JournalError> {
        let why = format!(
            "no outcome was recorded within {} of the reservation: runner stopped between reserving and recording \
             the send, so the message may or may not have gone out",
            crate::campaign::duration::format(self.options.stale_after)
        );
        let cutoff = now.checked_sub(self.options.stale_after).unwrap_or(Timestamp::MIN);
        backend::expire_stale(&self.db, cutoff, &why, now)
            .await
            .map_err(|f| self.fault("expiring stale reservations", f))
    }

    pub async fn get(&self, id: EntryId) -> Result<Option<Entry>, JournalError> {
        backend::get(&self.db, id).await.map_err(|f| self.fault("reading an entry", f))
    }

    /// The rows that match `filter`, oldest first.
    pub async fn list(&self, filter: &Filter) -> Result<Vec<Entry>, JournalError> {
        backend::list(&self.db, filter).await.map_err(|f| self.fault("listing entries", f))
    }

    /// Uncertain and failed rows, oldest first.
    pub async fn problems(&self) -> Result<Vec<Entry>, JournalError> {
        backend::problems(&self.db).await.map_err(|f| self.fault("listing problems", f))
    }

    /// An operator settles an uncertain row: it went out (`Sent`) or it did not (`Released`).
    pub async fn resolve(
        &self,
        id: EntryId,
        resolution: Resolution,
        note: Option<&str>,
        now: Timestamp,
    ) -> Result<Entry, JournalError> {
        let state = resolution.state();
        let mut text = format!("uncertain -> {state}, by an operator at {now}");
        if let Some(note) = note.map(str::trim).filter(|n| !n.is_empty()) {
            text.push_str(": ");
            text.push_str(note);
        }
        let text = truncate(&text);
        match backend::resolve(&self.db, id, state, &text, now).await {
            Ok(Ok(entry)) => Ok(entry),
            Ok(Err(None)) => Err(JournalError::NotFound { location: self.location.to_string(), id }),
            Ok(Err(Some(state))) => Err(JournalError::NotResolvable { id, state }),
            Err(fault) => Err(self.fault("resolving an entry", fault)),
        }
    }

    /// Closes the connections (SQLite: folds the write-ahead log back into the file).
    pub async fn close(&self) {
        self.db.close().await;
    }

    fn fault(&self, doing: &'static str, fault: Fault) -> JournalError {
        let location = self.location.to_string();
        match fault {
            Fault::ReadOnly => JournalError::ReadOnly { location },
            Fault::Corrupt(detail) => JournalError::Corrupt { location, detail },
            Fault::Db(e) => JournalError::Query {
                location,
                doing,
                detail: self.location.scrub(&e.to_string()),
                help: if self.location.is_postgres() {
                    "check that PostgreSQL is reachable; nothing was sent for a failed reservation"
                } else {
                    "check the file's permissions and free disk space; another runner may hold the journal \
                     longer than the busy timeout"
                },
            },
        }
    }
}

fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.is_unique_violation())
}

fn truncate(text: &str) -> String {
    match text.char_indices().nth(MAX_ERROR_CHARS) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}

/// SHA-256 of a text, lower-case hex.
pub fn text_sha256(text: &str) -> String {
    Sha256::digest(text.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// A run id for [`ReserveRequest::run_id`]: the start time, the process id and a random suffix,
/// e.g. `20261124T120000Z-4242-9f3a`.
pub fn new_run_id(now: Timestamp) -> String {
    format!("{}-{}-{:04x}", now.strftime("%Y%m%dT%H%M%SZ"), std::process::id(), fastrand::u16(..))
}
