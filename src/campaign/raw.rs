//! Serde structs that mirror the campaign YAML exactly.
//!
//! Every struct denies unknown keys and every key is optional: whether a key is required, and
//! "exactly one of" rules, are checked by [`super::compile`], which can say so in plain words.
//! Values whose type depends on the field they are compared with stay [`yaml_serde::Value`]s.
//!
//! The same types generate the campaign JSON Schema (`runner schema`, [`super::schema`]): the doc
//! comments below are the descriptions editors show to campaign authors, so they are written for
//! them, and every key carries an example.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer};
use serde_json::json;
use yaml_serde::Value;

use super::schema as s;

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

/// A campaign: who to reach (`audience`, `history`), what to say (`message`), how often
/// (`limits`) and when (`schedule`). One campaign per file in `campaigns/`; check it with
/// `runner validate`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Campaign", extend("required" = ["name", "message"]))]
pub struct RawCampaign {
    /// The campaign's unique name: letters, digits, `-` and `_` (no spaces). It appears in
    /// previews and reports.
    #[schemars(regex(pattern = r"^[A-Za-z0-9_-]+$"), example = &"cart-rescue", example = &"vip_welcome_back")]
    pub name: Option<String>,
    /// What the campaign is for, in a sentence. Shown in previews.
    #[schemars(example = &"Help customers with a valuable cart or stuck at checkout.")]
    pub description: Option<String>,
    /// `false` switches the campaign off: it is still checked, but nobody gets its message.
    /// Default: `true`.
    #[schemars(example = true, example = false)]
    pub enabled: Option<bool>,
    /// A whole number; default 0. A customer gets at most one message per run: when several
    /// campaigns would message them, the one with the highest priority wins (then the name,
    /// alphabetically).
    #[schemars(example = 30)]
    pub priority: Option<i64>,
    /// Which live web-messaging sessions to reach: one condition (a test, or a group of them
    /// with `all`, `any` or `not`). Leave it out to reach every session.
    #[schemars(example = json!({"all": [
        {"field": "customer.attributes.plan", "in": ["premium", "enterprise"]},
        {"field": "customer.attributes.page", "contains": "pricing", "ignore_case": true}
    ]}))]
    pub audience: Option<RawCondition>,
    /// Conditions on the customer's earlier, ended conversations (how many, how long ago, how
    /// they ended).
    #[schemars(example = json!({"look_back": "90d", "conditions": [{"count": {"at_least": 1}}]}))]
    pub history: Option<RawHistory>,
    /// What to say: an inline `text`, or a `template` file from `templates/`. Required.
    #[schemars(example = json!({"text": "Hi {{ customer.contact.first_name | default(\"there\") }}, can we help?"}))]
    pub message: Option<RawMessage>,
    /// How often one customer may get this campaign's message, and how many messages one run
    /// may send.
    #[schemars(example = json!({"once_every": "7d", "max_per_run": 50}))]
    pub limits: Option<RawLimits>,
    /// When the campaign runs by itself (with `runner serve`): a cron schedule, a time zone,
    /// optional first and last days, and hours during which messages may go out.
    #[schemars(example = json!({"cron": "*/15 9-17 * * 1-5", "time_zone": "Europe/Berlin"}))]
    pub schedule: Option<RawSchedule>,
    /// Tests of this campaign, run by `runner test`: each imagines one customer on the website
    /// (their attributes, their contact record, their earlier conversations) at a fixed time,
    /// and says what the campaign should do: send (a given text) or skip (for a given reason).
    #[schemars(example = json!([{
        "name": "a premium customer on the pricing page gets the offer",
        "now": "2026-11-24T12:00:00Z",
        "customer": {"attributes": {"plan": "premium", "page": "/pricing"}, "contact": {"first_name": "Ada"}},
        "history": [{"ended_ago": "10d", "wrap_up": "Sale"}],
        "expect": "send",
        "text_contains": "Hi Ada"
    }]))]
    pub tests: Option<Vec<RawTestCase>>,
}

/// One test of the campaign: a customer, their session and earlier conversations, the time of
/// the run, and the expected outcome (`expect: send` or `expect: skip`).
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Test", extend("required" = ["name", "now", "expect"]))]
pub struct RawTestCase {
    /// What the test shows, in a few words; `runner test` prints it.
    #[schemars(example = &"an opted-out customer is left alone")]
    pub name: Option<String>,
    /// The time of the imagined run: a date-time such as `2026-11-24T12:00:00Z` (UTC), so that
    /// ages and look-back windows give the same result on every day.
    #[schemars(example = &"2026-11-24T12:00:00Z")]
    pub now: Option<String>,
    /// The customer: the attributes the website or flow set, and their contact record.
    #[schemars(example = json!({"attributes": {"cart_value": "149.90"}, "contact": {"first_name": "Ada"}}))]
    pub customer: Option<RawTestCustomer>,
    /// The web-messaging session: when it started, its direction and queue. Default: an
    /// inbound session that started 10 minutes before `now`, in no queue.
    #[schemars(example = json!({"started_ago": "10m", "queue": "Sales"}))]
    pub session: Option<RawTestSession>,
    /// The customer's earlier, ended conversations, in any order. Default: none.
    #[schemars(example = json!([{"ended_ago": "3d", "wrap_up": "Billing - Unresolved"}]))]
    pub history: Option<Vec<RawTestConversation>>,
    /// `send`: the campaign should message this customer (check the text with `text` or
    /// `text_contains`). `skip`: it should not (say why with `reason`).
    #[schemars(example = &"send", example = &"skip")]
    pub expect: Option<RawExpect>,
    /// With `expect: send`: the exact message. Spaces and line breaks at its start and end do
    /// not count.
    #[schemars(example = &"Ada, need a hand with your order? Reply here and we'll help you finish checkout.")]
    pub text: Option<String>,
    /// With `expect: send`: a part the message must contain.
    #[schemars(example = &"Your cart is saved (149.90 EUR)")]
    pub text_contains: Option<String>,
    /// With `expect: skip`: why the campaign skips this customer, one of the skip reasons of
    /// the preview (`audience_not_matched`, `history_not_matched`, `data_mismatch`,
    /// `render_error`, ...).
    #[schemars(example = &"audience_not_matched", example = &"history_not_matched")]
    pub reason: Option<String>,
}

/// What a test expects the campaign to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
#[schemars(rename = "Expect")]
pub enum RawExpect {
    /// The campaign messages the customer.
    Send,
    /// The campaign does not message the customer.
    Skip,
}

/// The imagined customer of a test.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "TestCustomer")]
pub struct RawTestCustomer {
    /// The participant attributes the Messenger or the flow set (`customer.attributes.<name>`).
    /// They are always text: put numbers and yes/no values in quotes (`cart_value: "149.90"`).
    #[schemars(example = json!({"plan": "premium", "page": "/pricing", "cart_value": "149.90"}))]
    pub attributes: Option<BTreeMap<String, String>>,
    /// The customer's external contact record (`customer.contact.*`). Leave it out for a
    /// customer without one.
    #[schemars(example = json!({"first_name": "Ada", "custom_fields": {"loyalty_level": "VIP"}}))]
    pub contact: Option<RawTestContact>,
    /// The customer's display name in the conversation (`customer.name`).
    #[schemars(example = &"Ada Lovelace")]
    pub name: Option<String>,
    /// The customer's locale (`customer.locale`), e.g. `de-de`.
    #[schemars(example = &"de-de")]
    pub locale: Option<String>,
}

/// An external contact record, as `customer.contact.*` sees it.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "TestContact")]
pub struct RawTestContact {
    /// `customer.contact.first_name`.
    #[schemars(example = &"Ada")]
    pub first_name: Option<String>,
    /// `customer.contact.last_name`.
    #[schemars(example = &"Lovelace")]
    pub last_name: Option<String>,
    /// `customer.contact.work_email` (also `customer.contact.email`).
    #[schemars(example = &"ada@example.com")]
    pub work_email: Option<String>,
    /// `customer.contact.personal_email` (`customer.contact.email` when there is no work email).
    #[schemars(example = &"ada@home.example")]
    pub personal_email: Option<String>,
    /// `customer.contact.phone`.
    #[schemars(example = &"+4930123456")]
    pub phone: Option<String>,
    /// `customer.contact.type`: `ephemeral`, `identified` or `curated`.
    #[serde(rename = "type")]
    #[schemars(example = &"identified")]
    pub contact_type: Option<String>,
    /// `customer.contact.custom_fields.<name>`: numbers and `true`/`false` keep their type.
    #[schemars(example = json!({"loyalty_level": "VIP", "marketing_consent": true, "points": 120}))]
    pub custom_fields: Option<BTreeMap<String, serde_json::Value>>,
}

/// The imagined web-messaging session of a test.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "TestSession")]
pub struct RawTestSession {
    /// When the session started, as a date-time (`2026-11-24T11:50:00Z`). Or use `started_ago`.
    #[schemars(example = &"2026-11-24T11:50:00Z")]
    pub started: Option<String>,
    /// How long before `now` the session started (`session.age`), e.g. `10m`. Default: `10m`.
    #[serde(default, deserialize_with = "present")]
    #[schemars(schema_with = "s::duration", example = &"1m", example = &"2h")]
    pub started_ago: Option<Value>,
    /// `inbound` (the customer started it, the default) or `outbound`.
    #[schemars(example = &"inbound")]
    pub direction: Option<String>,
    /// The name of the queue the session is in (`session.queue`).
    #[schemars(example = &"Collections")]
    pub queue: Option<String>,
    /// The id of that queue (`session.queue_id`).
    #[schemars(example = &"5f0e7a52-6a4e-4b56-9d2b-0c6a1f3e9b11")]
    pub queue_id: Option<String>,
}

/// One earlier, ended conversation of the customer. Give `ended` or `ended_ago`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "TestConversation")]
pub struct RawTestConversation {
    /// When it ended, as a date-time (`2026-11-20T15:30:00Z`). Or use `ended_ago`.
    #[schemars(example = &"2026-11-20T15:30:00Z")]
    pub ended: Option<String>,
    /// How long before `now` it ended, e.g. `3d`.
    #[serde(default, deserialize_with = "present")]
    #[schemars(schema_with = "s::duration", example = &"3d", example = &"45d")]
    pub ended_ago: Option<Value>,
    /// How long it lasted (`duration` in `count.where`). Default: `10m`.
    #[serde(default, deserialize_with = "present")]
    #[schemars(schema_with = "s::duration", example = &"25m")]
    pub duration: Option<Value>,
    /// The name of the wrap-up code the agent chose, e.g. `Sale` or `Do Not Contact`.
    #[schemars(example = &"Do Not Contact")]
    pub wrap_up: Option<String>,
    /// The id of the queue it went through (`queues` conditions).
    #[schemars(example = &"5f0e7a52-6a4e-4b56-9d2b-0c6a1f3e9b11")]
    pub queue_id: Option<String>,
    /// `message` (the default), `voice`, `email`, ...
    #[schemars(example = &"voice")]
    pub media_type: Option<String>,
    /// For messages: `webmessaging` (the default for `media_type: message`), `sms`, `whatsapp`, ...
    #[schemars(example = &"sms")]
    pub message_type: Option<String>,
    /// `inbound` (the default) or `outbound`.
    #[schemars(example = &"outbound")]
    pub direction: Option<String>,
}

/// A condition. Either a group (`all`, `any` or `not`) or a test: a `field` (or `jsonpath`)
/// and one operator such as `equals`, `in`, `contains` or `greater_than`, optionally with `as`
/// and `ignore_case`. Inside `history` `count.where`, `field` names a field of one earlier
/// conversation (`wrap_up`, `queue_id`, `started`, ...).
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Condition", extend("minProperties" = 1))]
pub struct RawCondition {
    /// Every condition in this list must hold.
    #[schemars(example = json!([
        {"field": "customer.attributes.plan", "equals": "premium"},
        {"field": "session.age", "older_than": "2m"}
    ]))]
    pub all: Option<Vec<RawCondition>>,
    /// At least one condition in this list must hold.
    #[schemars(example = json!([
        {"field": "customer.attributes.page", "starts_with": "/checkout"},
        {"field": "customer.attributes.cart_value", "as": "number", "greater_than": 100}
    ]))]
    pub any: Option<Vec<RawCondition>>,
    /// The condition below must NOT hold (one condition, not a list).
    #[schemars(example = json!({"field": "session.queue", "in": ["Collections"]}))]
    pub not: Option<Box<RawCondition>>,
    /// The value to test, as a dotted path: `customer.attributes.<name>`,
    /// `customer.contact.first_name`, `session.queue`, `history.count`, ... (the README lists
    /// them all). Give it one operator, e.g. `equals`.
    #[serde(default)]
    #[schemars(schema_with = "s::field_path", example = &"customer.attributes.plan", example = &"session.age")]
    pub field: Option<String>,
    /// For what `field` cannot reach: an RFC 9535 JSONPath over the raw Genesys conversation.
    /// Only in the audience. Give it one operator, e.g. `equals`.
    #[schemars(example = &"$.participants[?@.purpose == 'customer'].attributes.segment")]
    pub jsonpath: Option<String>,
    /// Holds when the value is exactly this: text, a number or `true`/`false`, of the field's
    /// type. Quote text that YAML would read as a number or yes/no: `"10"`, `"true"`, `"no"`.
    #[serde(default, deserialize_with = "present")]
    #[schemars(schema_with = "s::scalar", example = &"premium", example = 3, example = true)]
    pub equals: Option<Value>,
    /// Holds when the value is not this. A missing value is not equal to anything, so it holds.
    #[serde(default, deserialize_with = "present")]
    #[schemars(schema_with = "s::scalar", example = &"basic")]
    pub not_equals: Option<Value>,
    /// Holds when the value is one of the values in this list.
    #[serde(rename = "in", default, deserialize_with = "present")]
    #[schemars(schema_with = "s::scalar_list", example = json!(["premium", "enterprise"]))]
    pub in_: Option<Value>,
    /// Holds when the value is none of the values in this list (also when it is missing).
    #[serde(default, deserialize_with = "present")]
    #[schemars(schema_with = "s::scalar_list", example = json!(["es", "pt"]))]
    pub not_in: Option<Value>,
    /// For text: holds when the text contains this. For a list (e.g. `session.division_ids`):
    /// holds when the list has this element.
    #[serde(default, deserialize_with = "present")]
    #[schemars(schema_with = "s::scalar", example = &"pricing")]
    pub contains: Option<Value>,
    /// Holds when the text starts with this.
    #[serde(default, deserialize_with = "present")]
    #[schemars(schema_with = "s::text", example = &"/checkout")]
    pub starts_with: Option<Value>,
    /// Holds when the text ends with this.
    #[serde(default, deserialize_with = "present")]
    #[schemars(schema_with = "s::text", example = &"/thank-you")]
    pub ends_with: Option<Value>,
    /// Holds when this regular expression finds a match in the text. Put it in quotes; escape
    /// `.`, `(`, `[` and `+` with `\` to match them literally.
    #[serde(default, deserialize_with = "present")]
    #[schemars(schema_with = "s::text", example = &"^/support/.*(setup|install)")]
    pub matches: Option<Value>,
    /// `true`: holds when the field has a value (blank counts as none). `false`: when it has none.
    #[serde(default, deserialize_with = "present")]
    #[schemars(schema_with = "s::boolean", example = true)]
    pub exists: Option<Value>,
    /// `true`: holds when the field has no value (the same as `exists: false`).
    #[serde(default, deserialize_with = "present")]
    #[schemars(schema_with = "s::only_true", example = true)]
    pub missing: Option<Value>,
    /// Holds when a number, date or duration is above this. Text fields need `as: number` or
    /// `as: date` first.
    #[serde(default, deserialize_with = "present")]
    #[schemars(schema_with = "s::comparable", example = 100, example = &"2026-11-24", example = &"2d")]
    pub greater_than: Option<Value>,
    /// Holds when a number, date or duration is below this.
    #[serde(default, deserialize_with = "present")]
    #[schemars(schema_with = "s::comparable", example = 3, example = &"2026-12-24T18:00:00Z")]
    pub less_than: Option<Value>,
    /// Holds when a number, date or duration is this or more (`>=`).
    #[serde(default, deserialize_with = "present")]
    #[schemars(schema_with = "s::comparable", example = 3)]
    pub at_least: Option<Value>,
    /// Holds when a number, date or duration is this or less (`<=`).
    #[serde(default, deserialize_with = "present")]
    #[schemars(schema_with = "s::comparable", example = 10)]
    pub at_most: Option<Value>,
    /// For a date-time: holds when it lies more than this long before now. For a duration
    /// (e.g. `session.age`): holds when it is longer than this.
    #[serde(default, deserialize_with = "present")]
    #[schemars(schema_with = "s::duration", example = &"5m", example = &"2d")]
    pub older_than: Option<Value>,
    /// For a date-time: holds when it lies less than this long before now. For a duration:
    /// holds when it is shorter than this.
    #[serde(default, deserialize_with = "present")]
    #[schemars(schema_with = "s::duration", example = &"1h", example = &"14d")]
    pub newer_than: Option<Value>,
    /// `true`: text comparisons (`equals`, `in`, `contains`, `starts_with`, `ends_with`,
    /// `matches`, ...) ignore upper and lower case. Default: `false`.
    #[schemars(example = true)]
    pub ignore_case: Option<bool>,
    /// Convert the value before comparing. Participant attributes are always text in Genesys,
    /// so `cart_value: "149.90"` needs `as: number` to be compared as a number.
    #[serde(rename = "as")]
    #[schemars(example = &"number", example = &"date")]
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

/// What to convert a value to before comparing it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
#[schemars(rename = "Conversion")]
pub enum RawConversion {
    /// A number, e.g. "149.90" becomes 149.9.
    Number,
    /// A date (`2026-11-24`) or date-time (`2026-11-24T10:00:00Z`).
    Date,
    /// Text, e.g. to compare a custom field that holds a number as text.
    Text,
}

/// Conditions on the customer's earlier conversations that have ended.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "History")]
pub struct RawHistory {
    /// How far back to look: only conversations that ended within this time before now count.
    /// A number and a unit: `s`, `m`, `h`, `d` (days) or `w` (weeks). Default: `30d`.
    #[serde(default, deserialize_with = "present")]
    #[schemars(schema_with = "s::duration", example = &"90d", example = &"2w")]
    pub look_back: Option<Value>,
    /// A list of conditions on those conversations; all must hold. Each item has exactly one
    /// key: `count`, `last_contact`, `wrap_up_codes`, `queues` or `message_types`.
    #[schemars(example = json!([
        {"count": {"at_least": 1}},
        {"last_contact": {"older_than": "1d", "newer_than": "14d"}},
        {"wrap_up_codes": {"none_of": ["Do Not Contact"]}}
    ]))]
    pub conditions: Option<Vec<RawHistoryCondition>>,
}

/// One history condition: exactly one of `count`, `last_contact`, `wrap_up_codes`, `queues`
/// or `message_types`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "HistoryCondition", extend("minProperties" = 1, "maxProperties" = 1))]
pub struct RawHistoryCondition {
    /// Holds when the number of earlier conversations (optionally only those matching `where`)
    /// is between `at_least` and `at_most`.
    #[schemars(example = json!({"at_least": 1}), example = json!({"at_most": 0, "where": {"field": "wrap_up", "equals": "Do Not Contact"}}))]
    pub count: Option<RawCount>,
    /// Holds when the most recent conversation ended more than `older_than` and/or less than
    /// `newer_than` ago. With no earlier conversation at all, `older_than` holds and
    /// `newer_than` does not.
    #[schemars(example = json!({"older_than": "1d", "newer_than": "14d"}))]
    pub last_contact: Option<RawLastContact>,
    /// The wrap-up codes (by name) the conversations ended with: `any_of` holds when at least
    /// one ended with one of these, `none_of` when none did.
    #[schemars(example = json!({"any_of": ["Sale", "Upgrade"]}), example = json!({"none_of": ["Do Not Contact"]}))]
    pub wrap_up_codes: Option<RawHad>,
    /// The queues (by id) the conversations went through: `any_of` or `none_of`.
    #[schemars(example = json!({"none_of": ["5f0e7a52-6a4e-4b56-9d2b-0c6a1f3e9b11"]}))]
    pub queues: Option<RawHad>,
    /// The message types of the conversations (`webmessaging`, `sms`, `whatsapp`, ...):
    /// `any_of` or `none_of`.
    #[schemars(example = json!({"none_of": ["sms"]}))]
    pub message_types: Option<RawHad>,
}

/// How many earlier conversations there must be: `at_least`, `at_most` or both, optionally
/// counting only those that match `where`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Count")]
pub struct RawCount {
    /// The smallest number of conversations that holds.
    #[schemars(example = 1)]
    pub at_least: Option<u64>,
    /// The largest number of conversations that holds; `0` means "none".
    #[schemars(example = 0, example = 5)]
    pub at_most: Option<u64>,
    /// Count only the conversations that match this condition. Its fields are those of one
    /// conversation: `wrap_up`, `wrap_up_id`, `queue_id`, `media_type`, `message_type`,
    /// `direction`, `started`, `ended`, `duration`.
    #[serde(rename = "where")]
    #[schemars(example = json!({"field": "wrap_up", "equals": "Do Not Contact"}))]
    pub where_: Option<RawCondition>,
}

/// How long ago the most recent earlier conversation ended.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "LastContact", extend("minProperties" = 1))]
pub struct RawLastContact {
    /// Holds when it ended more than this long ago (e.g. not someone we just talked to).
    #[serde(default, deserialize_with = "present")]
    #[schemars(schema_with = "s::duration", example = &"1d", example = &"30d")]
    pub older_than: Option<Value>,
    /// Holds when it ended less than this long ago (e.g. a recent question to follow up).
    #[serde(default, deserialize_with = "present")]
    #[schemars(schema_with = "s::duration", example = &"14d")]
    pub newer_than: Option<Value>,
}

/// `any_of` or `none_of` (exactly one), with a list of values.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "AnyOfNoneOf", extend("minProperties" = 1, "maxProperties" = 1))]
pub struct RawHad {
    /// Holds when at least one earlier conversation had one of these values.
    #[schemars(length(min = 1), example = json!(["Sale", "Upgrade"]))]
    pub any_of: Option<Vec<String>>,
    /// Holds when no earlier conversation had any of these values.
    #[schemars(length(min = 1), example = json!(["Do Not Contact"]))]
    pub none_of: Option<Vec<String>>,
}

/// The message: exactly one of `text` (written here) or `template` (a file in `templates/`).
/// Both use Jinja syntax: `{{ customer.contact.first_name }}`, `{% if ... %} ... {% endif %}`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Message", extend("minProperties" = 1, "maxProperties" = 1))]
pub struct RawMessage {
    /// The message itself. A value this customer does not have stops the message (it is never
    /// sent half-filled) unless you give a fallback: `{{ customer.contact.first_name |
    /// default("there") }}`. Use `|` for several lines. At most 2000 characters once filled in.
    #[schemars(example = &"Hi {{ customer.contact.first_name | default(\"there\") }}, need a hand with your order?")]
    pub text: Option<String>,
    /// The name of a template file in the `templates/` directory, e.g. `premium-offer.j2`.
    #[schemars(example = &"premium-offer.j2")]
    pub template: Option<String>,
}

/// Limits on how often the campaign messages people.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Limits")]
pub struct RawLimits {
    /// Per customer: at most one message from this campaign in this time (`7d`, `12h`), or
    /// `ever` to message each customer only once.
    #[serde(default, deserialize_with = "present")]
    #[schemars(schema_with = "s::once_every", example = &"7d", example = &"ever")]
    pub once_every: Option<Value>,
    /// At most this many messages per run (at least 1). Leave it out for no limit.
    #[schemars(range(min = 1, max = 4294967295u32), example = 50)]
    pub max_per_run: Option<i64>,
}

/// When the campaign runs by itself (`runner serve`).
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Schedule", extend("required" = ["cron"]))]
pub struct RawSchedule {
    /// When to run, as a standard 5-field crontab in quotes: minute, hour, day of month,
    /// month, day of week. `"*/15 9-17 * * 1-5"` is every 15 minutes from 9:00 to 17:59,
    /// Monday to Friday.
    #[schemars(regex(pattern = r"^\s*\S+(\s+\S+){4}\s*$"), example = &"*/15 9-17 * * 1-5", example = &"0 10 * * *")]
    pub cron: Option<String>,
    /// The time zone of `cron`, `start` and `end`: an IANA name. Default: `UTC`.
    #[schemars(example = &"Europe/Berlin", example = &"America/New_York")]
    pub time_zone: Option<String>,
    /// The first day the campaign runs (inclusive), as YYYY-MM-DD.
    #[schemars(regex(pattern = r"^\s*\d{4}-\d{2}-\d{2}\s*$"), example = &"2026-12-01")]
    pub start: Option<String>,
    /// The last day the campaign runs (inclusive), as YYYY-MM-DD.
    #[schemars(regex(pattern = r"^\s*\d{4}-\d{2}-\d{2}\s*$"), example = &"2026-12-24")]
    pub end: Option<String>,
    /// The hours (and days) during which messages may go out.
    #[schemars(example = json!({"from": "09:00", "to": "18:00", "days": ["mon", "tue", "wed", "thu", "fri"]}))]
    pub active_window: Option<RawActiveWindow>,
}

/// Hours of the day (and days of the week) during which messages may go out.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "ActiveWindow", extend("required" = ["from", "to"]))]
pub struct RawActiveWindow {
    /// The start of the window, HH:MM on a 24-hour clock, in quotes.
    #[schemars(regex(pattern = r"^\s*\d{1,2}:\d{2}\s*$"), example = &"09:00")]
    pub from: Option<String>,
    /// The end of the window, HH:MM on a 24-hour clock, in quotes.
    #[schemars(regex(pattern = r"^\s*\d{1,2}:\d{2}\s*$"), example = &"18:00")]
    pub to: Option<String>,
    /// The days of the week: `mon` ... `sun` (or `monday` ... `sunday`). Default: every day.
    #[serde(default)]
    #[schemars(schema_with = "s::days", example = json!(["mon", "tue", "wed", "thu", "fri"]))]
    pub days: Option<Vec<String>>,
    /// Whose clock the window follows: `schedule` (the schedule's time zone, the default) or
    /// `customer:<attribute>`, a customer attribute that holds an IANA time zone name.
    #[serde(default)]
    #[schemars(schema_with = "s::window_zone", example = &"schedule", example = &"customer:customer_time_zone")]
    pub time_zone: Option<String>,
}

/// A key that is present counts as present even when its value is empty (`equals:`), so that
/// compile can say "`equals` needs a value" rather than "no operator".
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}
