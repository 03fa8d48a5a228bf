//! Serde structs that mirror the campaign YAML exactly.
//!
//! Every struct denies unknown keys and every key is optional: whether a key is required, and
//! "exactly one of" rules, are checked by [`super::compile`], which can say so in plain words.
//! Values whose type depends on the field they are compared with stay [`yaml_serde::Value`]s.

use serde::{Deserialize, Deserializer};
use yaml_serde::Value;

/// The operators of a test, in the order the documentation lists them.
pub const OPERATORS: &[&str] = &[
    "equals",
    "not_equals",
    "in",
    "not_in",
    "contains",
    "starts_with",
    "ends_with",
    "matches",
    "exists",
    "missing",
    "greater_than",
    "less_than",
    "at_least",
    "at_most",
    "older_than",
    "newer_than",
];

/// One campaign file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCampaign {
    pub name: Option<String>,
    pub description: Option<String>,
    pub enabled: Option<bool>,
    pub priority: Option<i64>,
    pub audience: Option<RawCondition>,
    pub history: Option<RawHistory>,
    pub message: Option<RawMessage>,
    pub limits: Option<RawLimits>,
    pub schedule: Option<RawSchedule>,
}

/// A condition: `all` / `any` / `not`, or a test (`field` or `jsonpath` with one operator).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCondition {
    pub all: Option<Vec<RawCondition>>,
    pub any: Option<Vec<RawCondition>>,
    pub not: Option<Box<RawCondition>>,
    pub field: Option<String>,
    pub jsonpath: Option<String>,
    #[serde(default, deserialize_with = "present")]
    pub equals: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    pub not_equals: Option<Value>,
    #[serde(rename = "in", default, deserialize_with = "present")]
    pub in_: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    pub not_in: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    pub contains: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    pub starts_with: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    pub ends_with: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    pub matches: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    pub exists: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    pub missing: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    pub greater_than: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    pub less_than: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    pub at_least: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    pub at_most: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    pub older_than: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    pub newer_than: Option<Value>,
    pub ignore_case: Option<bool>,
    #[serde(rename = "as")]
    pub as_: Option<RawConversion>,
}

impl RawCondition {
    /// The operators present, as `(name, value)`, in [`OPERATORS`] order.
    pub fn operators(&self) -> Vec<(&'static str, &Value)> {
        let all = [
            &self.equals,
            &self.not_equals,
            &self.in_,
            &self.not_in,
            &self.contains,
            &self.starts_with,
            &self.ends_with,
            &self.matches,
            &self.exists,
            &self.missing,
            &self.greater_than,
            &self.less_than,
            &self.at_least,
            &self.at_most,
            &self.older_than,
            &self.newer_than,
        ];
        OPERATORS.iter().zip(all).filter_map(|(name, v)| v.as_ref().map(|v| (*name, v))).collect()
    }

    /// The shape keys present (`all`, `any`, `not`, `field`, `jsonpath`).
    pub fn shapes(&self) -> Vec<&'static str> {
        let present = [
            ("all", self.all.is_some()),
            ("any", self.any.is_some()),
            ("not", self.not.is_some()),
            ("field", self.field.is_some()),
            ("jsonpath", self.jsonpath.is_some()),
        ];
        present.into_iter().filter(|(_, p)| *p).map(|(k, _)| k).collect()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RawConversion {
    Number,
    Date,
    Text,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHistory {
    #[serde(default, deserialize_with = "present")]
    pub look_back: Option<Value>,
    pub conditions: Option<Vec<RawHistoryCondition>>,
}

/// One item of `history.conditions`: exactly one key.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHistoryCondition {
    pub count: Option<RawCount>,
    pub last_contact: Option<RawLastContact>,
    pub wrap_up_codes: Option<RawHad>,
    pub queues: Option<RawHad>,
    pub message_types: Option<RawHad>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCount {
    pub at_least: Option<u64>,
    pub at_most: Option<u64>,
    #[serde(rename = "where")]
    pub where_: Option<RawCondition>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLastContact {
    #[serde(default, deserialize_with = "present")]
    pub older_than: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    pub newer_than: Option<Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHad {
    pub any_of: Option<Vec<String>>,
    pub none_of: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMessage {
    pub text: Option<String>,
    pub template: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLimits {
    #[serde(default, deserialize_with = "present")]
    pub once_every: Option<Value>,
    pub max_per_run: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSchedule {
    pub cron: Option<String>,
    pub time_zone: Option<String>,
    pub start: Option<String>,
    pub end: Option<String>,
    pub active_window: Option<RawActiveWindow>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawActiveWindow {
    pub from: Option<String>,
    pub to: Option<String>,
    pub days: Option<Vec<String>>,
    pub time_zone: Option<String>,
}

/// A key that is present counts as present even when its value is empty (`equals:`), so that
/// compile can say "`equals` needs a value" rather than "no operator".
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}
