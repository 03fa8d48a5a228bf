//! The normalized model: what filters, history conditions and templates see.
//!
//! Built from Genesys API shapes by [`normalize`] only, whether the data came from a snapshot
//! file or from the live API, so a preview decides exactly what a live run decides.
//!
//! A [`Candidate`] is one active web-messaging session. Its parts are loaded in stages (the live
//! client fetches details, contacts and history only when a campaign still needs them); a part
//! that is `None` has not been loaded, and conditions over it evaluate to "unknown".

pub mod fields;
pub mod map;
pub mod normalize;
pub mod reach;

use std::borrow::Cow;
use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};
use serde::Serialize;

pub use map::{Map, TextMap};

/// A typed value seen by a condition. Text is never compared as a number (or the other way
/// round) unless a condition says `as: number`. Text is borrowed from the candidate when it can
/// be: evaluating a condition copies nothing.
#[derive(Debug, Clone, PartialEq)]
pub enum Value<'a> {
    /// The field is absent (or JSON `null`).
    Missing,
    Bool(bool),
    Number(f64),
    Text(Cow<'a, str>),
    Time(Timestamp),
    Duration(SignedDuration),
    List(Vec<Value<'a>>),
}

impl<'a> Value<'a> {
    /// The name of the value's type, as shown to users ("text", "a number", ...).
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Missing => "missing",
            Value::Bool(_) => "true/false",
            Value::Number(_) => "number",
            Value::Text(_) => "text",
            Value::Time(_) => "date-time",
            Value::Duration(_) => "duration",
            Value::List(_) => "list",
        }
    }

    /// Text, or `Missing` when absent or blank: a blank attribute is treated as not set, so a
    /// template never sends "Hi !".
    pub fn from_opt_text(v: Option<&'a str>) -> Value<'a> {
        match v {
            Some(s) if !is_blank(s) => Value::Text(Cow::Borrowed(s)),
            _ => Value::Missing,
        }
    }

    /// [`Value::from_opt_text`] for a text made for the occasion.
    pub fn from_opt_string(v: Option<String>) -> Value<'a> {
        match v {
            Some(s) if !is_blank(&s) => Value::Text(Cow::Owned(s)),
            _ => Value::Missing,
        }
    }

    /// Converts JSON (contact custom fields, JSONPath results) into a value. Objects become
    /// their compact JSON text so that they can still be tested with `contains` or `exists`.
    pub fn from_json(v: &'a serde_json::Value) -> Value<'a> {
        match v {
            serde_json::Value::Null => Value::Missing,
            serde_json::Value::Bool(b) => Value::Bool(*b),
            serde_json::Value::Number(n) => n.as_f64().map_or(Value::Missing, Value::Number),
            serde_json::Value::String(s) => Value::from_opt_text(Some(s)),
            serde_json::Value::Array(items) => Value::List(items.iter().map(Value::from_json).collect()),
            serde_json::Value::Object(_) => Value::Text(Cow::Owned(v.to_string())),
        }
    }

    /// The value with its text owned, to keep after its source is gone.
    pub fn into_owned(self) -> Value<'static> {
        match self {
            Value::Missing => Value::Missing,
            Value::Bool(b) => Value::Bool(b),
            Value::Number(n) => Value::Number(n),
            Value::Text(t) => Value::Text(Cow::Owned(t.into_owned())),
            Value::Time(t) => Value::Time(t),
            Value::Duration(d) => Value::Duration(d),
            Value::List(items) => Value::List(items.into_iter().map(Value::into_owned).collect()),
        }
    }

    /// The value borrowing its text from `self`.
    pub fn borrowed(&self) -> Value<'_> {
        match self {
            Value::Missing => Value::Missing,
            Value::Bool(b) => Value::Bool(*b),
            Value::Number(n) => Value::Number(*n),
            Value::Text(t) => Value::Text(Cow::Borrowed(t)),
            Value::Time(t) => Value::Time(*t),
            Value::Duration(d) => Value::Duration(*d),
            Value::List(items) => Value::List(items.iter().map(Value::borrowed).collect()),
        }
    }
}

/// Empty or only white space (what `trim` would leave empty), looked at from the start only.
fn is_blank(s: &str) -> bool {
    s.chars().all(char::is_whitespace)
}

impl std::fmt::Display for Value<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Value::Missing => f.write_str("(missing)"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Number(n) => write!(f, "{}", format_number(*n)),
            Value::Text(s) => write!(f, "{s:?}"),
            Value::Time(t) => write!(f, "{}", t.strftime("%Y-%m-%dT%H:%M:%SZ")),
            Value::Duration(d) => f.write_str(&crate::campaign::duration::format(*d)),
            Value::List(items) => {
                f.write_str("[")?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{item}")?;
                }
                f.write_str("]")
            }
        }
    }
}

/// Reads a time the one way the runner reads times, in campaign files, in attribute values
/// (`as: date`) and in API data: RFC 3339 with an offset (`2026-11-24T10:00:00Z`), or a
/// date-time without one (`2026-11-24T10:00:00`) or a date (`2026-11-24`, midnight), both UTC.
pub fn parse_time(text: &str) -> Option<Timestamp> {
    let text = text.trim();
    utc_time(text).or_else(|| any_time(text))
}

/// [`parse_time`] of every form it reads.
fn any_time(text: &str) -> Option<Timestamp> {
    if let Ok(t) = text.parse::<Timestamp>() {
        return Some(t);
    }
    let civil: jiff::civil::DateTime = text.parse().ok()?;
    jiff::tz::TimeZone::UTC.to_timestamp(civil).ok()
}

/// [`parse_time`] of the form Genesys sends, `YYYY-MM-DDTHH:MM:SS[.fraction]Z` (a large run reads
/// a million of them), read in a few steps rather than by jiff's parser of every RFC 3339
/// form. `None` for any other form, and for a date or time out of range (jiff reads those).
fn utc_time(text: &str) -> Option<Timestamp> {
    let b = text.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let number =
        |digits: &[u8]| digits.iter().try_fold(0_i64, |n, &c| c.is_ascii_digit().then(|| n * 10 + i64::from(c - b'0')));
    let (year, month, day) = (number(&b[0..4])?, number(&b[5..7])?, number(&b[8..10])?);
    let (hour, minute, second) = (number(&b[11..13])?, number(&b[14..16])?, number(&b[17..19])?);
    let nanos = match &b[19..] {
        [b'Z'] => 0,
        [b'.', fraction @ .., b'Z'] if (1..=9).contains(&fraction.len()) => {
            number(fraction)? * 10_i64.pow(9 - fraction.len() as u32)
        }
        _ => return None,
    };
    // jiff checks the ranges (the days of the month, leap years) and places the date.
    let narrow = |n: i64| i8::try_from(n).ok();
    let date = jiff::civil::Date::new(i16::try_from(year).ok()?, narrow(month)?, narrow(day)?).ok()?;
    let time =
        jiff::civil::Time::new(narrow(hour)?, narrow(minute)?, narrow(second)?, i32::try_from(nanos).ok()?).ok()?;
    jiff::tz::TimeZone::UTC.to_timestamp(date.to_datetime(time)).ok()
}

/// Formats a number without a trailing `.0` for whole numbers.
pub fn format_number(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 { format!("{}", n as i64) } else { format!("{n}") }
}

/// One active web-messaging session and everything known about its customer.
#[derive(Debug, Clone, Serialize)]
pub struct Candidate {
    pub session: Session,
    /// Conversation details (participant attributes); `None` until loaded.
    pub details: Option<Details>,
    /// The external contact: `None` until loaded, `Some(None)` when the session has no contact
    /// or the contact does not exist. Boxed: most of a candidate's size otherwise.
    pub contact: Option<Option<Box<Contact>>>,
    /// Every ended conversation of the customer within the longest look-back of the run, newest
    /// first; `None` until loaded. Each campaign narrows it to its own look-back window.
    pub history: Option<Vec<PastConversation>>,
    /// An enabled campaign (by its place among them, in the set's order) sure, from the data
    /// loaded so far, to message this session's customer: the campaigns after it cannot, so
    /// nothing more is loaded for them (`Decider::still_needed`). `None`: not known.
    #[serde(skip)]
    pub settled_by: Option<usize>,
    /// Whether this is the customer's only session in the run (set by the pipeline; `false`:
    /// not known). Deciding counts on such a customer's picks to find the campaigns whose
    /// `max_per_run` is sure to be reached early (`Decider::full_by`).
    #[serde(skip)]
    pub alone: bool,
}

impl Candidate {
    /// The order campaigns pick sessions in ([`pick_key`]; the pipeline decides the candidates
    /// in it).
    pub fn pick_order(&self, other: &Candidate) -> std::cmp::Ordering {
        pick_key(self.session.started, &self.session.id).cmp(&pick_key(other.session.started, &other.session.id))
    }
}

/// What campaigns pick sessions by: oldest first, then by conversation id.
pub fn pick_key(started: Timestamp, conversation_id: &str) -> (Timestamp, &str) {
    (started, conversation_id)
}

/// What the analytics query tells about an active session. The values most sessions share
/// (direction, message type, queue and division ids) are shared through [`intern`].
#[derive(Debug, Clone, Serialize)]
pub struct Session {
    /// The conversation id.
    pub id: String,
    pub started: Timestamp,
    /// `inbound` or `outbound` (the conversation's originating direction).
    pub direction: Option<Arc<str>>,
    /// The customer session's message type, e.g. `webmessaging`.
    pub message_type: Option<Arc<str>>,
    /// The queue the conversation was last routed to (id).
    pub queue_id: Option<Arc<str>>,
    pub division_ids: Vec<Arc<str>>,
    pub external_tag: Option<String>,
    /// The customer's external contact id: who a web message can be sent to.
    pub external_contact_id: Option<String>,
    /// The customer participant's display name.
    pub customer_name: Option<String>,
}

/// What the conversation details add (`GET /api/v2/conversations/{id}`).
#[derive(Debug, Clone, Serialize)]
pub struct Details {
    /// The customer participant's attributes, as set by the Messenger or the flow.
    pub attributes: TextMap,
    /// The queue name of the conversation's ACD participant.
    pub queue_name: Option<Arc<str>>,
    /// The customer participant's locale, e.g. `en-us`.
    pub locale: Option<Arc<str>>,
    /// The answer of each `jsonpath:` query of the campaigns (by its text), computed when the
    /// details were loaded: the raw JSON is not kept.
    #[serde(skip)]
    pub jsonpath: Vec<(Arc<str>, Value<'static>)>,
}

impl Details {
    /// What the `jsonpath:` query `text` found, if it was asked when the details were loaded.
    pub fn jsonpath(&self, text: &str) -> Option<&Value<'static>> {
        self.jsonpath.iter().find(|(t, _)| **t == *text).map(|(_, v)| v)
    }
}

/// An external contact (`ExternalContact`, read with `POST /api/v2/externalcontacts/bulk/contacts`).
#[derive(Debug, Clone, Serialize)]
pub struct Contact {
    pub id: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub work_email: Option<String>,
    pub personal_email: Option<String>,
    pub cell_phone: Option<String>,
    /// `ephemeral`, `identified` or `curated`.
    pub contact_type: Option<Arc<str>>,
    pub custom_fields: Map<serde_json::Value>,
    /// The ids of contacts merged into this one: their history counts as the customer's too.
    pub merge_set: Vec<String>,
}

impl Contact {
    /// "First Last", or whichever of the two is known.
    pub fn full_name(&self) -> Option<String> {
        match (&self.first_name, &self.last_name) {
            (Some(f), Some(l)) => Some(format!("{f} {l}")),
            (Some(f), None) => Some(f.clone()),
            (None, Some(l)) => Some(l.clone()),
            (None, None) => None,
        }
    }

    /// The work email, else the personal one.
    pub fn email(&self) -> Option<&str> {
        self.work_email.as_deref().or(self.personal_email.as_deref())
    }
}

/// One previous, ended conversation of the customer.
#[derive(Debug, Clone, Serialize)]
pub struct PastConversation {
    pub id: String,
    pub started: Timestamp,
    pub ended: Timestamp,
    /// The wrap-up code's name (its id when the name is unknown).
    pub wrap_up: Option<Arc<str>>,
    pub wrap_up_id: Option<Arc<str>>,
    pub queue_id: Option<Arc<str>>,
    /// e.g. `message`, `voice`, `email`.
    pub media_type: Option<Arc<str>>,
    /// e.g. `webmessaging`, `sms`, `whatsapp` (message conversations only).
    pub message_type: Option<Arc<str>>,
    pub direction: Option<Arc<str>>,
}

/// Customers (external contact ids) numbered in the order of their ids, the same id the same
/// number, so that a run's steps count and mark customers in vectors indexed by number rather
/// than in maps of id strings (100,000 sessions are 100,000 hashes and probes per map).
#[derive(Debug)]
pub struct Customers {
    /// Each item's customer number; [`Customers::NONE`] for an item without a customer.
    of: Vec<u32>,
    /// An item of each customer, by number (where its id can be read).
    one: Vec<u32>,
}

impl Customers {
    const NONE: u32 = u32::MAX;

    /// Numbers the customers of `ids`: each item's customer id, if it has one.
    pub fn number<'a>(ids: impl Iterator<Item = Option<&'a str>>) -> Self {
        let mut items = 0;
        let mut by_id: Vec<(&str, u32)> = ids
            .enumerate()
            .filter_map(|(i, id)| {
                items = i + 1;
                Some((id?, u32::try_from(i).expect("fewer items than u32::MAX")))
            })
            .collect();
        crate::cores::sort_unstable(&mut by_id);
        let mut of = vec![Self::NONE; items];
        let mut one = Vec::new();
        let mut last: Option<&str> = None;
        for (id, i) in by_id {
            if last != Some(id) {
                one.push(i);
                last = Some(id);
            }
            of[i as usize] = u32::try_from(one.len() - 1).expect("fewer customers than items");
        }
        Customers { of, one }
    }

    /// How many customers.
    pub fn count(&self) -> usize {
        self.one.len()
    }

    /// Item `i`'s customer number.
    pub fn get(&self, i: usize) -> Option<usize> {
        let k = self.of[i];
        (k != Self::NONE).then_some(k as usize)
    }

    /// An item of customer `k` (where its id can be read).
    pub fn one(&self, k: usize) -> usize {
        self.one[k] as usize
    }

    /// Whether each item is the only one of its customer (`false` for an item without one).
    pub fn alone(&self) -> Vec<bool> {
        let mut items = vec![0u32; self.count()];
        for k in (0..self.of.len()).filter_map(|i| self.get(i)) {
            items[k] += 1;
        }
        (0..self.of.len()).map(|i| self.get(i).is_some_and(|k| items[k] == 1)).collect()
    }
}

/// One shared copy of a value that many past conversations repeat (wrap-up codes, queues, media
/// and message types, directions): a large history holds each once per thread that read it,
/// not once per conversation. Up to `INTERNED` values per thread are kept.
pub fn intern(value: &str) -> Arc<str> {
    thread_local! {
        static SEEN: std::cell::RefCell<crate::fxhash::FxHashSet<Arc<str>>> = Default::default();
    }
    SEEN.with_borrow_mut(|seen| match seen.get(value) {
        Some(shared) => Arc::clone(shared),
        None => {
            let shared: Arc<str> = Arc::from(value);
            if seen.len() < INTERNED {
                seen.insert(Arc::clone(&shared));
            }
            shared
        }
    })
}

/// How many values [`intern`] keeps per thread (a long-running `runner serve` never grows past it).
const INTERNED: usize = 4096;

#[cfg(test)]
mod tests {
    /// Customers are numbered in the order of their ids, the same id the same number.
    #[test]
    fn customers_are_numbered_by_id() {
        let ids = [Some("k-b"), None, Some("k-a"), Some("k-b"), None];
        let customers = super::Customers::number(ids.into_iter());
        assert_eq!(customers.count(), 2);
        let numbers: Vec<Option<usize>> = (0..ids.len()).map(|i| customers.get(i)).collect();
        assert_eq!(numbers, [Some(1), None, Some(0), Some(1), None]);
        assert_eq!([ids[customers.one(0)], ids[customers.one(1)]], [Some("k-a"), Some("k-b")]);
        assert_eq!(customers.alone(), [false, false, true, false, false]);
    }

    use super::*;

    #[test]
    fn parses_times_one_way() {
        let t = |s: &str| parse_time(s).map(|t| t.to_string());
        assert_eq!(t("2026-11-24T10:00:00Z").as_deref(), Some("2026-11-24T10:00:00Z"));
        assert_eq!(t("2026-11-24T12:00:00+02:00").as_deref(), Some("2026-11-24T10:00:00Z"));
        assert_eq!(t(" 2026-11-24T10:00:00 ").as_deref(), Some("2026-11-24T10:00:00Z"));
        assert_eq!(t("2026-11-24").as_deref(), Some("2026-11-24T00:00:00Z"));
        assert_eq!(t("24.11.2026"), None);
        assert_eq!(t(""), None);
    }

    /// The quick reading of Genesys's form gives what jiff gives, and leaves the rest to it.
    #[test]
    fn genesys_times_read_as_jiff_reads_them() {
        let mut checked = 0;
        let mut rng = fastrand::Rng::with_seed(7);
        for year in (0..=2200).chain(9990..=9999) {
            for month in 0..=13 {
                for day in [0, 1, 28, 29, 30, 31, 32, rng.u8(1..=31)] {
                    let (hour, minute, second) = (rng.u8(0..=24), rng.u8(0..=60), rng.u8(0..=60));
                    let fraction = match rng.u8(0..4) {
                        0 => String::new(),
                        1 => format!(".{}", rng.u32(0..1000)),
                        2 => format!(".{:09}", rng.u32(..1_000_000_000)),
                        _ => ".1234567891".to_owned(),
                    };
                    let text = format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}{fraction}Z");
                    let quick = utc_time(&text);
                    checked += usize::from(quick.is_some());
                    let valid = any_time(&text);
                    assert!(quick.is_none() || quick == valid, "{text}: {quick:?} {valid:?}");
                    // Only an out-of-range or odd time is left to jiff.
                    let plain =
                        (1..=12).contains(&month) && hour < 24 && minute < 60 && second < 60 && fraction.len() < 11;
                    if plain && valid.is_some() {
                        assert_eq!(quick, valid, "{text}");
                    }
                }
            }
        }
        assert!(checked > 100_000, "{checked}");
        for other in
            ["2026-11-24T10:00:00+02:00", "2026-11-24t10:00:00z", "2026-11-24 10:00:00Z", "2026-11-24T10:00:00,5Z"]
        {
            assert_eq!(utc_time(other), None, "{other}");
        }
    }
}
