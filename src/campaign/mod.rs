//! Campaigns: the YAML files operators write, loaded in two stages.
//!
//! 1. [`raw`]: serde structs that mirror the YAML exactly (`deny_unknown_fields`), read by the
//!    one YAML loading function in [`load`].
//! 2. [`compile`]: turns raw campaigns into the types below, parsing paths, operators, regexes,
//!    JSONPath, durations, cron, time zones and templates, and collecting every problem of every
//!    file as a [`Diagnostic`].
//!
//! Architecture invariant: after compile, nothing can fail for a reason `runner validate` could
//! have caught. The types below hold only checked, parsed values.

pub mod compile;
pub mod diagnostic;
pub mod duration;
pub mod load;
pub mod raw;
pub mod schema;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::path::PathBuf;

use jiff::{SignedDuration, Timestamp};

pub use diagnostic::{Diagnostic, Severity};

use crate::engine::decide::SkipReason;
use crate::engine::render::Templates;
use crate::model::fields::{FieldRef, Needs};

/// Every campaign of a run, valid, with the templates they use compiled once.
#[derive(Debug, Clone)]
pub struct CampaignSet {
    /// Sorted by priority (highest first), then name.
    pub campaigns: Vec<Campaign>,
    pub templates: Templates,
    /// Problems that do not stop a run (e.g. two campaigns with identical audiences).
    pub warnings: Vec<Diagnostic>,
}

impl CampaignSet {
    pub fn enabled(&self) -> impl Iterator<Item = &Campaign> {
        self.campaigns.iter().filter(|c| c.enabled)
    }

    /// The longest look-back of the enabled campaigns that read history, if any does.
    pub fn max_look_back(&self) -> Option<SignedDuration> {
        self.enabled().filter(|c| c.needs.contains(&Needs::History)).map(|c| c.history.look_back).max()
    }

    /// The distinct `jsonpath:` queries of the enabled campaigns: the details loader answers
    /// them once per session, so the raw details need not be kept.
    pub fn jsonpath_queries(&self) -> Vec<&JsonPathQuery> {
        fn walk<'c>(c: &'c Condition, out: &mut Vec<&'c JsonPathQuery>) {
            match c {
                Condition::All(cs) | Condition::Any(cs) => cs.iter().for_each(|c| walk(c, out)),
                Condition::Not(c) => walk(c, out),
                Condition::Test(t) => {
                    if let Subject::JsonPath(q) = &t.subject {
                        if !out.iter().any(|seen| seen.text == q.text) {
                            out.push(q);
                        }
                    }
                }
            }
        }
        let mut out = Vec::new();
        for campaign in self.enabled() {
            if let Some(audience) = &campaign.audience {
                walk(audience, &mut out);
            }
        }
        out
    }

    /// A set of this one campaign, switched on (its tests run even when it is off), with the
    /// same templates: what `runner test` plans a campaign's tests with.
    pub fn only(&self, name: &str) -> Option<CampaignSet> {
        let mut campaign = self.campaigns.iter().find(|c| c.name == name)?.clone();
        campaign.enabled = true;
        Some(CampaignSet { campaigns: vec![campaign], templates: self.templates.clone(), warnings: Vec::new() })
    }
}

/// One compiled campaign.
#[derive(Debug, Clone)]
pub struct Campaign {
    pub name: String,
    pub description: Option<String>,
    pub enabled: bool,
    /// Higher wins when several campaigns pick the same customer in one run.
    pub priority: i64,
    /// The file it was loaded from.
    pub file: PathBuf,
    /// Who to reach; `None` means every active session.
    pub audience: Option<Condition>,
    pub history: History,
    pub message: Message,
    pub limits: Limits,
    pub schedule: Option<Schedule>,
    /// Everything the audience, history conditions and message need, cheapest first.
    pub needs: Vec<Needs>,
    /// The campaign's own tests (`tests:`), run by `runner test`.
    pub tests: Vec<TestCase>,
}

/// One test of a campaign: an imagined customer session at a fixed time, and what the campaign
/// should do with it. `runner test` turns it into Genesys data and plans it like a real run.
#[derive(Debug, Clone, PartialEq)]
pub struct TestCase {
    pub name: String,
    /// The line of the campaign file where the test starts.
    pub line: usize,
    pub now: Timestamp,
    pub customer: TestCustomer,
    pub session: TestSession,
    /// The customer's earlier conversations, as written.
    pub history: Vec<TestConversation>,
    pub expect: Expectation,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct TestCustomer {
    pub name: Option<String>,
    pub locale: Option<String>,
    pub attributes: BTreeMap<String, String>,
    /// `None`: the customer has no external contact record.
    pub contact: Option<TestContact>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct TestContact {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub work_email: Option<String>,
    pub personal_email: Option<String>,
    pub phone: Option<String>,
    pub contact_type: Option<String>,
    pub custom_fields: BTreeMap<String, serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TestSession {
    pub started: Timestamp,
    pub direction: String,
    pub queue: Option<String>,
    pub queue_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TestConversation {
    pub started: Timestamp,
    pub ended: Timestamp,
    pub wrap_up: Option<String>,
    pub queue_id: Option<String>,
    pub media_type: String,
    pub message_type: Option<String>,
    pub direction: String,
}

/// What a test expects.
#[derive(Debug, Clone, PartialEq)]
pub enum Expectation {
    /// A message; `text` is the whole text, `contains` a part of it (both optional).
    Send {
        text: Option<String>,
        contains: Option<String>,
    },
    Skip {
        reason: SkipReason,
    },
}

/// A filter: a tree of `all` / `any` / `not` over tests.
#[derive(Debug, Clone)]
pub enum Condition {
    All(Vec<Condition>),
    Any(Vec<Condition>),
    Not(Box<Condition>),
    Test(Box<Test>),
}

/// One test of a value: `field: customer.attributes.tier` + `equals: gold`.
#[derive(Debug, Clone)]
pub struct Test {
    pub subject: Subject,
    /// `as: number | date | text`: convert the value before comparing.
    pub convert: Option<Conversion>,
    pub op: Operator,
    /// `ignore_case: true`: text comparisons ignore upper/lower case.
    pub ignore_case: bool,
    /// The test as the campaign wrote it, for explanations: `customer.attributes.tier equals "gold"`.
    pub display: String,
}

/// What a test looks at.
#[derive(Debug, Clone)]
pub enum Subject {
    /// A dotted path from the field table.
    Field(FieldRef),
    /// `jsonpath:` over the raw conversation details JSON, compiled once at load.
    JsonPath(JsonPathQuery),
}

/// A compiled RFC 9535 JSONPath query.
#[derive(Clone)]
pub struct JsonPathQuery {
    /// The query as written; shared by the answer every session's details keep.
    pub text: std::sync::Arc<str>,
    pub query: jsonpath_rust::parser::model::JpQuery,
}

impl std::fmt::Debug for JsonPathQuery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "JsonPathQuery({})", self.text)
    }
}

/// `as:` conversions for values stored as text (participant attributes always are).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conversion {
    Number,
    /// A date (`2026-11-24`) or date-time (`2026-11-24T10:00:00Z`).
    Date,
    Text,
}

/// The comparison a test makes. Literals are already typed to match the field.
#[derive(Debug, Clone)]
pub enum Operator {
    Equals(Literal),
    NotEquals(Literal),
    In(Vec<Literal>),
    NotIn(Vec<Literal>),
    /// Text contains a substring, or a list contains an element.
    Contains(Literal),
    StartsWith(String),
    EndsWith(String),
    /// A regex (already compiled with `ignore_case` applied).
    Matches(regex::Regex),
    /// `exists: true` / `missing: true` (as `Exists(false)`).
    Exists(bool),
    Compare(Comparison, Literal),
    /// A date-time more than this long before now, or a duration longer than this.
    OlderThan(SignedDuration),
    /// A date-time less than this long before now, or a duration shorter than this.
    NewerThan(SignedDuration),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    GreaterThan,
    LessThan,
    AtLeast,
    AtMost,
}

/// A value written in a campaign.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    Text(String),
    Number(f64),
    Bool(bool),
    Time(Timestamp),
    Duration(SignedDuration),
}

/// Conditions on the customer's previous (ended) conversations.
#[derive(Debug, Clone)]
pub struct History {
    /// Only conversations that ended within this window before now count.
    pub look_back: SignedDuration,
    /// All must hold.
    pub conditions: Vec<HistoryCondition>,
}

#[derive(Debug, Clone)]
pub enum HistoryCondition {
    /// `count: {at_least, at_most, where}`: how many previous conversations (matching `where`).
    Count { at_least: Option<u64>, at_most: Option<u64>, filter: Option<Condition>, display: String },
    /// `last_contact: {older_than, newer_than}`: time since the most recent one ended.
    LastContact { older_than: Option<SignedDuration>, newer_than: Option<SignedDuration>, display: String },
    /// `wrap_up_codes` / `queues` / `message_types` with `any_of` or `none_of`.
    Had { attribute: HistoryAttribute, values: Vec<String>, wanted: bool, display: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HistoryAttribute {
    WrapUpCode,
    Queue,
    MessageType,
}

/// The message a campaign sends.
#[derive(Debug, Clone)]
pub struct Message {
    /// The template's name in [`Templates`]: the campaign name for inline text, the file name
    /// for `template:`.
    pub template: String,
    /// The file under `templates/`, when not inline.
    pub file: Option<PathBuf>,
    /// The longest text the channel takes (2000 characters for web messaging).
    pub max_length: usize,
}

/// How often a campaign may message the same customer, and how many per run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Limits {
    pub once_every: Option<OnceEvery>,
    pub max_per_run: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum OnceEvery {
    /// Never message the same customer twice from this campaign.
    Ever,
    Every(SignedDuration),
}

/// When a campaign runs by itself (`runner serve`).
#[derive(Debug, Clone)]
pub struct Schedule {
    pub cron: croner::Cron,
    pub cron_text: String,
    pub time_zone: jiff::tz::TimeZone,
    pub time_zone_name: String,
    /// First and last day (inclusive) in the schedule's time zone.
    pub start: Option<jiff::civil::Date>,
    pub end: Option<jiff::civil::Date>,
    pub active_window: Option<ActiveWindow>,
}

/// Hours of the day during which messages may go out.
#[derive(Debug, Clone, PartialEq)]
pub struct ActiveWindow {
    pub from: jiff::civil::Time,
    pub to: jiff::civil::Time,
    pub days: Vec<jiff::civil::Weekday>,
    pub time_zone: WindowZone,
}

impl ActiveWindow {
    /// Whether a local date and time (in the window's zone) is inside the window: `from`
    /// inclusive, `to` exclusive, on one of `days`. A window that ends before it starts
    /// (`from: "22:00"`, `to: "06:00"`) runs overnight, and its hours after midnight belong to
    /// the day it started on.
    pub fn contains(&self, local: jiff::civil::DateTime) -> bool {
        let (time, day) = (local.time(), local.date().weekday());
        if self.from < self.to {
            self.days.contains(&day) && time >= self.from && time < self.to
        } else {
            (time >= self.from && self.days.contains(&day)) || (time < self.to && self.days.contains(&day.previous()))
        }
    }

    /// `08:00-18:00, mon, tue, wed, thu, fri` for logs and skip details.
    pub fn describe(&self) -> String {
        let days: Vec<String> = self.days.iter().map(|d| format!("{d:?}").to_lowercase()[..3].to_owned()).collect();
        format!("{}-{}, {}", self.from.strftime("%H:%M"), self.to.strftime("%H:%M"), days.join(", "))
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum WindowZone {
    /// The schedule's time zone.
    Schedule,
    /// The customer's own time zone, when the data carries it (attribute named here).
    Customer { attribute: String },
}
