//! Evaluating conditions: three-valued logic with an explanation trail.
//!
//! A test is `True`, `False`, `Unknown` (the data it needs is not loaded yet: the live run loads
//! it only if the answer still matters) or `Invalid` (the data does not fit the test, e.g. a
//! text that `as: number` cannot read: never silently compared). `all` / `any` / `not` combine
//! them like Kleene logic, so a `False` found on partial data stays `False` once everything is
//! loaded: that is what lets a run skip fetches.

use std::borrow::Cow;

use jiff::{SignedDuration, Timestamp};
use serde::Serialize;

use crate::campaign::{
    Comparison, Condition, Conversion, History, HistoryAttribute, HistoryCondition, Literal, Operator, Subject, Test,
};
use crate::model::fields::{Needs, Resolved, View, resolve_past};
use crate::model::{PastConversation, Value, parse_time};

/// The outcome of a condition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "result", content = "why")]
pub enum Truth {
    True,
    False,
    /// The data it needs is not loaded.
    Unknown(NeedsName),
    /// The data does not fit the test; the text says how.
    Invalid(String),
}

/// `Needs`, serializable for the JSON plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct NeedsName(#[serde(serialize_with = "needs_str")] pub Needs);

fn needs_str<S: serde::Serializer>(n: &Needs, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(n.describe())
}

impl Truth {
    fn from_bool(b: bool) -> Truth {
        if b { Truth::True } else { Truth::False }
    }

    pub fn is_true(&self) -> bool {
        matches!(self, Truth::True)
    }

    pub fn is_false(&self) -> bool {
        matches!(self, Truth::False)
    }

    /// Kleene conjunction: `False` wins, then `Unknown` (loading may still make it `False`),
    /// then `Invalid`.
    fn and(results: impl IntoIterator<Item = Truth>) -> Truth {
        Self::combine(results, Truth::False, Truth::True)
    }

    /// Kleene disjunction: `True` wins, then `Unknown` (loading may still make it `True`),
    /// then `Invalid`.
    fn or(results: impl IntoIterator<Item = Truth>) -> Truth {
        Self::combine(results, Truth::True, Truth::False)
    }

    fn combine(results: impl IntoIterator<Item = Truth>, decisive: Truth, neutral: Truth) -> Truth {
        let mut out = neutral;
        for r in results {
            out = match (&out, r) {
                (_, r) if r == decisive => return decisive,
                (Truth::Unknown(_), _) => out,
                (_, r @ Truth::Unknown(_)) => r,
                (Truth::Invalid(_), _) => out,
                (_, r @ Truth::Invalid(_)) => r,
                _ => out,
            };
        }
        out
    }

    fn not(self) -> Truth {
        match self {
            Truth::True => Truth::False,
            Truth::False => Truth::True,
            other => other,
        }
    }
}

/// One line of an explanation: a condition, what it saw, and its outcome.
#[derive(Debug, Clone, Serialize)]
pub struct Trace {
    pub condition: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub saw: Option<String>,
    pub result: Truth,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub children: Vec<Trace>,
}

/// What a condition can look at: a live session (through a [`View`]) or one past conversation.
trait Scope {
    fn field(&self, test: &Test) -> Resolved<'_>;
    fn now(&self) -> Timestamp;
}

impl Scope for View<'_> {
    fn field(&self, test: &Test) -> Resolved<'_> {
        match &test.subject {
            Subject::Field(f) => self.resolve(f),
            Subject::JsonPath(q) => match &self.candidate.details {
                None => Resolved::Unknown(Needs::Details),
                // Answered when the details were loaded (every query of the set is).
                Some(d) => Resolved::Value(d.jsonpath(&q.text).map_or(Value::Missing, Value::borrowed)),
            },
        }
    }
    fn now(&self) -> Timestamp {
        self.now
    }
}

struct Past<'a> {
    conversation: &'a PastConversation,
    now: Timestamp,
}

impl Scope for Past<'_> {
    fn field(&self, test: &Test) -> Resolved<'_> {
        match &test.subject {
            Subject::Field(f) => Resolved::Value(resolve_past(self.conversation, f.spec.path)),
            // The loader accepts `jsonpath:` only in the audience.
            Subject::JsonPath(_) => Resolved::Value(Value::Missing),
        }
    }
    fn now(&self) -> Timestamp {
        self.now
    }
}

/// Evaluates a condition against a session. With `explain`, also returns the trail.
pub fn condition(cond: &Condition, view: &View<'_>, explain: bool) -> (Truth, Option<Trace>) {
    eval(cond, view, explain)
}

fn eval(cond: &Condition, scope: &dyn Scope, explain: bool) -> (Truth, Option<Trace>) {
    if !explain {
        return (truth(cond, scope), None);
    }
    let group = |label: &str, items: &[Condition], all: bool| {
        let mut children = Vec::new();
        let results: Vec<Truth> = items
            .iter()
            .map(|c| {
                let (t, trace) = eval(c, scope, explain);
                children.extend(trace);
                t
            })
            .collect();
        let truth = if all { Truth::and(results) } else { Truth::or(results) };
        let trace = explain.then(|| Trace { condition: label.to_owned(), saw: None, result: truth.clone(), children });
        (truth, trace)
    };
    match cond {
        Condition::All(items) => group("all of", items, true),
        Condition::Any(items) => group("any of", items, false),
        Condition::Not(inner) => {
            let (t, trace) = eval(inner, scope, explain);
            let truth = t.not();
            let trace = explain.then(|| Trace {
                condition: "not".to_owned(),
                saw: None,
                result: truth.clone(),
                children: trace.into_iter().collect(),
            });
            (truth, trace)
        }
        Condition::Test(test) => {
            let (truth, saw) = match scope.field(test) {
                Resolved::Unknown(needs) => (Truth::Unknown(NeedsName(needs)), None),
                Resolved::Value(v) => {
                    let truth = apply(test, &v, scope.now());
                    (truth, Some(v))
                }
            };
            let trace = explain.then(|| Trace {
                condition: test.display.clone(),
                saw: saw.map(|v| v.to_string()),
                result: truth.clone(),
                children: Vec::new(),
            });
            (truth, trace)
        }
    }
}

/// [`eval`] without the trail, which allows shortcuts with the same outcome: a group stops at
/// its first decisive item, and runs its JSONPath tests (the costly ones) after its other items.
fn truth(cond: &Condition, scope: &dyn Scope) -> Truth {
    match cond {
        Condition::All(items) => group(items, scope, Truth::False, Truth::True),
        Condition::Any(items) => group(items, scope, Truth::True, Truth::False),
        Condition::Not(inner) => truth(inner, scope).not(),
        Condition::Test(test) => match scope.field(test) {
            Resolved::Unknown(needs) => Truth::Unknown(NeedsName(needs)),
            Resolved::Value(v) => apply(test, &v, scope.now()),
        },
    }
}

/// An item's outcome and its position in a group.
type Positioned = (usize, Truth);

/// [`Truth::and`] (`decisive`: `False`) or [`Truth::or`] (`True`) of the items, evaluated in any
/// order: a decisive item decides; else the first `Unknown` by position, then the first
/// `Invalid`, then `neutral`, as when combining them in order.
fn group(items: &[Condition], scope: &dyn Scope, decisive: Truth, neutral: Truth) -> Truth {
    let costly = |c: &Condition| matches!(c, Condition::Test(t) if matches!(t.subject, Subject::JsonPath(_)));
    // The first `Unknown` and the first `Invalid` by position.
    let (mut unknown, mut invalid): (Option<Positioned>, Option<Positioned>) = (None, None);
    for late in [false, true] {
        for (i, item) in items.iter().enumerate().filter(|(_, c)| costly(c) == late) {
            let t = truth(item, scope);
            if t == decisive {
                return t;
            }
            let first = match t {
                Truth::Unknown(_) => &mut unknown,
                Truth::Invalid(_) => &mut invalid,
                _ => continue,
            };
            if first.as_ref().is_none_or(|(j, _)| i < *j) {
                *first = Some((i, t));
            }
        }
    }
    unknown.or(invalid).map_or(neutral, |(_, t)| t)
}

/// Applies a test's conversion and operator to a value.
fn apply(test: &Test, value: &Value, now: Timestamp) -> Truth {
    let converted = match convert(value, test.convert) {
        Ok(v) => v,
        Err(why) => return Truth::Invalid(format!("{}: {why}", subject_name(test))),
    };
    let value: &Value = &converted;
    let ic = test.ignore_case;
    let mismatch = |expected: &str| {
        Truth::Invalid(format!(
            "{} is {} ({value}), but the test needs {expected}{}",
            subject_name(test),
            article(value.type_name()),
            if matches!(value, Value::Text(_)) && test.convert.is_none() {
                "; add `as: number` or `as: date` to convert text"
            } else {
                ""
            }
        ))
    };
    match &test.op {
        Operator::Exists(want) => Truth::from_bool(present(value) == *want),
        _ if !present(value) => {
            // A missing value equals nothing, so the negative tests hold.
            Truth::from_bool(matches!(test.op, Operator::NotEquals(_) | Operator::NotIn(_)))
        }
        Operator::Equals(lit) => equals(value, lit, ic).map_or_else(&mismatch, Truth::from_bool),
        Operator::NotEquals(lit) => equals(value, lit, ic).map_or_else(&mismatch, |b| Truth::from_bool(!b)),
        Operator::In(lits) | Operator::NotIn(lits) => {
            let mut found = false;
            for lit in lits {
                match equals(value, lit, ic) {
                    Ok(true) => found = true,
                    Ok(false) => {}
                    Err(e) => return mismatch(e),
                }
            }
            Truth::from_bool(found == matches!(test.op, Operator::In(_)))
        }
        Operator::Contains(lit) => match (value, lit) {
            (Value::Text(s), Literal::Text(t)) => Truth::from_bool(text_contains(s, t, ic)),
            (Value::List(items), _) => {
                let mut found = false;
                for item in items {
                    if let Ok(true) = equals(item, lit, ic) {
                        found = true;
                    }
                }
                Truth::from_bool(found)
            }
            _ => mismatch("text or a list"),
        },
        Operator::StartsWith(t) | Operator::EndsWith(t) => match value {
            Value::Text(s) => Truth::from_bool(if matches!(test.op, Operator::StartsWith(_)) {
                text_starts_with(s, t, ic)
            } else {
                text_ends_with(s, t, ic)
            }),
            _ => mismatch("text"),
        },
        Operator::Matches(re) => match value {
            Value::Text(s) => Truth::from_bool(re.is_match(s)),
            _ => mismatch("text"),
        },
        Operator::Compare(cmp, lit) => match order(value, lit) {
            Some(ord) => Truth::from_bool(match cmp {
                Comparison::GreaterThan => ord.is_gt(),
                Comparison::LessThan => ord.is_lt(),
                Comparison::AtLeast => ord.is_ge(),
                Comparison::AtMost => ord.is_le(),
            }),
            None => mismatch(expected_for(lit)),
        },
        Operator::OlderThan(d) | Operator::NewerThan(d) => {
            let age = match value {
                Value::Time(t) => now.duration_since(*t),
                Value::Duration(v) => *v,
                _ => return mismatch("a date-time or a duration"),
            };
            Truth::from_bool(if matches!(test.op, Operator::OlderThan(_)) { age > *d } else { age < *d })
        }
    }
}

fn subject_name(test: &Test) -> String {
    match &test.subject {
        Subject::Field(f) => f.text.clone(),
        Subject::JsonPath(q) => format!("jsonpath `{}`", q.text),
    }
}

fn article(type_name: &str) -> String {
    match type_name {
        "text" | "missing" => type_name.to_owned(),
        "true/false" => "true/false".to_owned(),
        other => format!("a {other}"),
    }
}

fn expected_for(lit: &Literal) -> &'static str {
    match lit {
        Literal::Number(_) => "a number",
        Literal::Time(_) => "a date-time",
        Literal::Duration(_) => "a duration",
        Literal::Text(_) => "text",
        Literal::Bool(_) => "true/false",
    }
}

/// Whether a value counts as present: not missing, not an empty list.
fn present(v: &Value) -> bool {
    match v {
        Value::Missing => false,
        Value::List(items) => !items.is_empty(),
        _ => true,
    }
}

/// Text comparisons, ignoring case when asked: as if both texts were lowercased, without the
/// copies when both are ASCII (the only case where lowercasing is byte by byte).
fn text_eq(a: &str, b: &str, ignore_case: bool) -> bool {
    match ignore_case {
        false => a == b,
        true if a.is_ascii() && b.is_ascii() => a.eq_ignore_ascii_case(b),
        true => a.to_lowercase() == b.to_lowercase(),
    }
}

fn text_contains(s: &str, t: &str, ignore_case: bool) -> bool {
    match ignore_case {
        false => s.contains(t),
        true if s.is_ascii() && t.is_ascii() => {
            t.is_empty() || s.as_bytes().windows(t.len()).any(|w| w.eq_ignore_ascii_case(t.as_bytes()))
        }
        true => s.to_lowercase().contains(&t.to_lowercase()),
    }
}

fn text_starts_with(s: &str, t: &str, ignore_case: bool) -> bool {
    match ignore_case {
        false => s.starts_with(t),
        true if s.is_ascii() && t.is_ascii() => {
            s.len() >= t.len() && s.as_bytes()[..t.len()].eq_ignore_ascii_case(t.as_bytes())
        }
        true => s.to_lowercase().starts_with(&t.to_lowercase()),
    }
}

fn text_ends_with(s: &str, t: &str, ignore_case: bool) -> bool {
    match ignore_case {
        false => s.ends_with(t),
        true if s.is_ascii() && t.is_ascii() => {
            s.len() >= t.len() && s.as_bytes()[s.len() - t.len()..].eq_ignore_ascii_case(t.as_bytes())
        }
        true => s.to_lowercase().ends_with(&t.to_lowercase()),
    }
}

/// Typed equality; `Err` names the type the literal needs when the value's type differs.
fn equals(v: &Value, lit: &Literal, ignore_case: bool) -> Result<bool, &'static str> {
    match (v, lit) {
        (Value::Text(a), Literal::Text(b)) => Ok(text_eq(a, b, ignore_case)),
        (Value::Number(a), Literal::Number(b)) => Ok(a == b),
        (Value::Bool(a), Literal::Bool(b)) => Ok(a == b),
        (Value::Time(a), Literal::Time(b)) => Ok(a == b),
        (Value::Duration(a), Literal::Duration(b)) => Ok(a == b),
        (Value::List(_), _) => Err("a single value (use `contains` to look inside a list)"),
        _ => Err(expected_for(lit)),
    }
}

fn order(v: &Value, lit: &Literal) -> Option<std::cmp::Ordering> {
    match (v, lit) {
        (Value::Number(a), Literal::Number(b)) => a.partial_cmp(b),
        (Value::Time(a), Literal::Time(b)) => Some(a.cmp(b)),
        (Value::Duration(a), Literal::Duration(b)) => Some(a.cmp(b)),
        _ => None,
    }
}

/// `as:` conversions. Lists convert element-wise. A value that needs no conversion is borrowed.
fn convert<'v, 'a>(v: &'v Value<'a>, to: Option<Conversion>) -> Result<Cow<'v, Value<'a>>, String> {
    let Some(to) = to else { return Ok(Cow::Borrowed(v)) };
    Ok(Cow::Owned(match (v, to) {
        (Value::Missing, _) | (Value::Number(_), Conversion::Number) => return Ok(Cow::Borrowed(v)),
        (Value::Time(_), Conversion::Date) | (Value::Text(_), Conversion::Text) => return Ok(Cow::Borrowed(v)),
        (Value::List(items), _) => {
            Value::List(items.iter().map(|i| convert(i, Some(to)).map(Cow::into_owned)).collect::<Result<_, _>>()?)
        }
        (Value::Text(s), Conversion::Number) => Value::Number(
            s.trim().parse::<f64>().ok().filter(|n| n.is_finite()).ok_or_else(|| format!("{v} is not a number"))?,
        ),
        (Value::Text(s), Conversion::Date) => Value::Time(
            parse_time(s)
                .ok_or_else(|| format!("{v} is not a date (expected e.g. 2026-11-24 or 2026-11-24T10:00:00Z)"))?,
        ),
        (Value::Number(n), Conversion::Text) => Value::Text(Cow::Owned(crate::model::format_number(*n))),
        (Value::Bool(b), Conversion::Text) => Value::Text(Cow::Owned(b.to_string())),
        (other, Conversion::Text) => Value::Text(Cow::Owned(other.to_string())),
        (other, Conversion::Number) => return Err(format!("{other} cannot be read as a number")),
        (other, Conversion::Date) => return Err(format!("{other} cannot be read as a date")),
    }))
}

/// Evaluates a campaign's history conditions (all must hold).
pub fn history(h: &History, view: &View<'_>, explain: bool) -> (Truth, Vec<Trace>) {
    let truth_of = |c: &HistoryCondition| match view.history {
        None => (Truth::Unknown(NeedsName(Needs::History)), None),
        Some(past) => history_condition(c, past, view.now, explain),
    };
    if !explain {
        // `Truth::and` without the list: the first `False` decides.
        let (mut unknown, mut invalid) = (None, None);
        for c in &h.conditions {
            match truth_of(c).0 {
                Truth::False => return (Truth::False, Vec::new()),
                t @ Truth::Unknown(_) => _ = unknown.get_or_insert(t),
                t @ Truth::Invalid(_) => _ = invalid.get_or_insert(t),
                Truth::True => {}
            }
        }
        return (unknown.or(invalid).unwrap_or(Truth::True), Vec::new());
    }
    let mut traces = Vec::new();
    let results: Vec<Truth> = h
        .conditions
        .iter()
        .map(|c| {
            let (truth, saw) = truth_of(c);
            traces.push(Trace { condition: display(c).to_owned(), saw, result: truth.clone(), children: Vec::new() });
            truth
        })
        .collect();
    (Truth::and(results), traces)
}

fn display(c: &HistoryCondition) -> &str {
    match c {
        HistoryCondition::Count { display, .. }
        | HistoryCondition::LastContact { display, .. }
        | HistoryCondition::Had { display, .. } => display,
    }
}

/// A history condition's outcome and, with `explain`, what it saw.
fn history_condition(
    c: &HistoryCondition,
    past: &[PastConversation],
    now: Timestamp,
    explain: bool,
) -> (Truth, Option<String>) {
    match c {
        HistoryCondition::Count { at_least, at_most, filter, .. } => {
            let mut count = 0u64;
            for p in past {
                match filter {
                    None => count += 1,
                    Some(f) => match eval(f, &Past { conversation: p, now }, false).0 {
                        Truth::True => count += 1,
                        Truth::False => {}
                        Truth::Invalid(why) => return (Truth::Invalid(why), None),
                        Truth::Unknown(n) => return (Truth::Unknown(n), None),
                    },
                }
            }
            let ok = at_least.is_none_or(|n| count >= n) && at_most.is_none_or(|n| count <= n);
            let saw = explain.then(|| format!("{count} conversation{}", if count == 1 { "" } else { "s" }));
            (Truth::from_bool(ok), saw)
        }
        HistoryCondition::LastContact { older_than, newer_than, .. } => match past.first() {
            None => (Truth::from_bool(newer_than.is_none()), explain.then(|| "no previous conversation".to_owned())),
            Some(last) => {
                let since: SignedDuration = now.duration_since(last.ended);
                let ok = older_than.is_none_or(|d| since > d) && newer_than.is_none_or(|d| since < d);
                let saw = explain.then(|| format!("last ended {} ago", crate::campaign::duration::format(since)));
                (Truth::from_bool(ok), saw)
            }
        },
        HistoryCondition::Had { attribute, values, wanted, .. } => {
            fn value(attribute: HistoryAttribute, p: &PastConversation) -> Option<&str> {
                match attribute {
                    HistoryAttribute::WrapUpCode => p.wrap_up.as_deref(),
                    HistoryAttribute::Queue => p.queue_id.as_deref(),
                    HistoryAttribute::MessageType => p.message_type.as_deref(),
                }
            }
            let get = |p| value(*attribute, p);
            // Exact, like `equals`: wrap-up code names, queue ids and message types are ids.
            let found = past.iter().filter_map(get).any(|s| values.iter().any(|v| v == s));
            let saw = explain.then(|| {
                let mut distinct: Vec<&str> = past.iter().filter_map(get).collect();
                distinct.sort();
                distinct.dedup();
                if distinct.is_empty() { "none".to_owned() } else { distinct.join(", ") }
            });
            (Truth::from_bool(found == *wanted), saw)
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {

    use super::*;
    use crate::campaign::JsonPathQuery;
    use crate::model::fields::{Scope as FieldScope, lookup};
    use crate::model::{Candidate, Contact, Details, Session};

    pub(crate) fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    pub(crate) const NOW: &str = "2026-11-24T12:00:00Z";

    pub(crate) fn past(id: &str, ended: &str, wrap_up: Option<&str>) -> PastConversation {
        let ended = ts(ended);
        PastConversation {
            id: id.into(),
            started: ended - SignedDuration::from_mins(20),
            ended,
            wrap_up: wrap_up.map(Into::into),
            wrap_up_id: None,
            queue_id: Some("q-sales".into()),
            media_type: Some("message".into()),
            message_type: Some("webmessaging".into()),
            direction: Some("inbound".into()),
        }
    }

    /// A fully loaded candidate with varied data.
    pub(crate) fn candidate() -> Candidate {
        let attributes: crate::model::TextMap = [
            ("plan", "premium"),
            ("page", "/Pricing/premium"),
            ("cart_value", "149.90"),
            ("bad_number", "n/a"),
            ("last_order", "2026-10-01"),
            ("empty", "  "),
        ]
        .into_iter()
        .map(|(k, v)| (k, std::sync::Arc::from(v)))
        .collect();
        Candidate {
            session: Session {
                id: "conv-1".into(),
                started: ts("2026-11-24T11:30:00Z"),
                direction: Some("inbound".into()),
                message_type: Some("webmessaging".into()),
                queue_id: Some("q-sales".into()),
                division_ids: vec!["div-1".into()],
                external_tag: None,
                external_contact_id: Some("contact-1".into()),
                customer_name: Some("Zoë".into()),
            },
            details: Some(Details {
                jsonpath: answers(&raw_details("b2b".into())),
                attributes,
                queue_name: Some("Sales".into()),
                locale: Some("de-de".into()),
            }),
            contact: Some(Some(Box::new(Contact {
                id: "contact-1".into(),
                first_name: Some("Zoë".into()),
                last_name: Some("Öberg".into()),
                work_email: None,
                personal_email: Some("zoe@example.com".into()),
                cell_phone: None,
                contact_type: Some("curated".into()),
                custom_fields: [
                    ("loyalty_level".to_owned(), serde_json::json!("VIP")),
                    ("points".to_owned(), serde_json::json!(1200)),
                ]
                .into_iter()
                .collect(),
                merge_set: vec![],
            }))),
            history: Some(vec![
                past("p1", "2026-11-20T10:00:00Z", Some("Billing - Unresolved")),
                past("p2", "2026-10-01T10:00:00Z", Some("Sale")),
                past("p3", "2026-06-01T10:00:00Z", Some("Complaint")),
            ]),
            settled_by: None,
            alone: false,
        }
    }

    pub(crate) fn field(path: &str, op: Operator) -> Test {
        Test {
            subject: Subject::Field(lookup(FieldScope::Session, path).unwrap()),
            convert: None,
            op,
            ignore_case: false,
            display: path.to_owned(),
        }
    }

    fn check(test: Test) -> Truth {
        let c = candidate();
        let view = View::new(&c, ts(NOW) - SignedDuration::from_hours(24 * 90), ts(NOW));
        condition(&Condition::Test(Box::new(test)), &view, false).0
    }

    fn text(s: &str) -> Literal {
        Literal::Text(s.into())
    }

    #[test]
    fn equals_and_not_equals_are_typed() {
        assert_eq!(check(field("customer.attributes.plan", Operator::Equals(text("premium")))), Truth::True);
        assert_eq!(check(field("customer.attributes.plan", Operator::Equals(text("Premium")))), Truth::False);
        let mut t = field("customer.attributes.plan", Operator::Equals(text("PREMIUM")));
        t.ignore_case = true;
        assert_eq!(check(t), Truth::True);
        assert_eq!(check(field("customer.attributes.plan", Operator::NotEquals(text("basic")))), Truth::True);
        // "149.90" is text: comparing it with a number is never silent.
        let t = check(field("customer.attributes.cart_value", Operator::Equals(Literal::Number(149.9))));
        assert!(matches!(&t, Truth::Invalid(why) if why.contains("as: number")), "{t:?}");
        let mut t = field("customer.attributes.cart_value", Operator::Equals(Literal::Number(149.9)));
        t.convert = Some(Conversion::Number);
        assert_eq!(check(t), Truth::True);
    }

    #[test]
    fn missing_values_equal_nothing() {
        assert_eq!(check(field("customer.attributes.nope", Operator::Equals(text("x")))), Truth::False);
        assert_eq!(check(field("customer.attributes.nope", Operator::NotEquals(text("x")))), Truth::True);
        assert_eq!(check(field("customer.attributes.nope", Operator::NotIn(vec![text("x")]))), Truth::True);
        assert_eq!(check(field("customer.attributes.nope", Operator::Exists(false))), Truth::True);
        assert_eq!(check(field("customer.attributes.plan", Operator::Exists(true))), Truth::True);
        // Blank text counts as missing, so templates never send "Hi !".
        assert_eq!(check(field("customer.attributes.empty", Operator::Exists(true))), Truth::False);
        assert_eq!(
            check(field("customer.attributes.nope", Operator::Compare(Comparison::GreaterThan, Literal::Number(1.0)))),
            Truth::False
        );
    }

    #[test]
    fn in_and_not_in() {
        let plans = vec![text("premium"), text("enterprise")];
        assert_eq!(check(field("customer.attributes.plan", Operator::In(plans.clone()))), Truth::True);
        assert_eq!(check(field("customer.attributes.plan", Operator::NotIn(plans))), Truth::False);
        assert_eq!(check(field("session.queue", Operator::NotIn(vec![text("Collections")]))), Truth::True);
    }

    #[test]
    fn text_operators() {
        assert_eq!(check(field("customer.attributes.page", Operator::Contains(text("pricing")))), Truth::False);
        let mut t = field("customer.attributes.page", Operator::Contains(text("pricing")));
        t.ignore_case = true;
        assert_eq!(check(t), Truth::True);
        assert_eq!(check(field("customer.attributes.page", Operator::StartsWith("/Pricing".into()))), Truth::True);
        assert_eq!(check(field("customer.attributes.page", Operator::EndsWith("premium".into()))), Truth::True);
        let re = regex::Regex::new(r"^/pricing/(premium|enterprise)$").unwrap();
        assert_eq!(check(field("customer.attributes.page", Operator::Matches(re))), Truth::False);
        let re = regex::RegexBuilder::new(r"^/pricing/(premium|enterprise)$").case_insensitive(true).build().unwrap();
        assert_eq!(check(field("customer.attributes.page", Operator::Matches(re))), Truth::True);
        // Lists: `contains` looks for an element.
        assert_eq!(check(field("history.wrap_ups", Operator::Contains(text("Sale")))), Truth::True);
        assert_eq!(check(field("session.division_ids", Operator::Contains(text("div-2")))), Truth::False);
        // Text operators on numbers are a mismatch, not a guess.
        assert!(matches!(check(field("history.count", Operator::StartsWith("3".into()))), Truth::Invalid(_)));
    }

    #[test]
    fn numeric_date_and_duration_comparisons() {
        let gt = |n| Operator::Compare(Comparison::GreaterThan, Literal::Number(n));
        // Two conversations ended in the 90-day window.
        assert_eq!(check(field("history.count", gt(1.0))), Truth::True);
        assert_eq!(check(field("history.count", gt(2.0))), Truth::False);
        assert_eq!(
            check(field("history.count", Operator::Compare(Comparison::AtMost, Literal::Number(2.0)))),
            Truth::True
        );
        assert_eq!(
            check(field("history.count", Operator::Compare(Comparison::LessThan, Literal::Number(2.0)))),
            Truth::False
        );
        assert_eq!(
            check(field("history.count", Operator::Compare(Comparison::AtLeast, Literal::Number(3.0)))),
            Truth::False
        );
        let mut t = field("customer.attributes.cart_value", gt(100.0));
        t.convert = Some(Conversion::Number);
        assert_eq!(check(t), Truth::True);
        let mut t = field("customer.attributes.bad_number", gt(100.0));
        t.convert = Some(Conversion::Number);
        assert!(matches!(check(t), Truth::Invalid(why) if why.contains("\"n/a\" is not a number")));
        // Text compared with a number without `as:` is a mismatch with a hint.
        assert!(
            matches!(check(field("customer.attributes.cart_value", gt(100.0))), Truth::Invalid(w) if w.contains("as: number"))
        );
        // Custom fields carry JSON numbers.
        assert_eq!(check(field("customer.contact.custom_fields.points", gt(1000.0))), Truth::True);
        // Dates.
        let after = Operator::Compare(Comparison::GreaterThan, Literal::Time(ts("2026-11-24T00:00:00Z")));
        assert_eq!(check(field("session.started", after)), Truth::True);
        let mut t = field("customer.attributes.last_order", Operator::OlderThan(SignedDuration::from_hours(24 * 30)));
        t.convert = Some(Conversion::Date);
        assert_eq!(check(t), Truth::True);
        // Durations.
        assert_eq!(check(field("session.age", Operator::OlderThan(SignedDuration::from_mins(20)))), Truth::True);
        assert_eq!(check(field("session.age", Operator::NewerThan(SignedDuration::from_mins(20)))), Truth::False);
        let longer = Operator::Compare(Comparison::AtLeast, Literal::Duration(SignedDuration::from_mins(30)));
        assert_eq!(check(field("session.age", longer)), Truth::True);
        assert_eq!(
            check(field("history.last.ended", Operator::NewerThan(SignedDuration::from_hours(24 * 7)))),
            Truth::True
        );
    }

    /// The raw details the test candidate's `jsonpath:` answers come from.
    fn raw_details(segment: serde_json::Value) -> serde_json::Value {
        serde_json::json!({"participants": [
            {"purpose": "customer", "attributes": {"segment": segment, "score": 7}},
            {"purpose": "acd", "queueName": "Sales"}]})
    }

    const JSONPATHS: [&str; 3] = [
        "$.participants[?@.purpose == 'customer'].attributes.segment",
        "$.participants[?@.purpose == 'customer'].attributes.score",
        "$.nothing.here",
    ];

    /// The answers of [`JSONPATHS`] over `raw`, as the details loader computes them.
    fn answers(raw: &serde_json::Value) -> Vec<(std::sync::Arc<str>, Value<'static>)> {
        JSONPATHS
            .iter()
            .map(|s| {
                let q = JsonPathQuery { text: (*s).into(), query: jsonpath_rust::parser::parse_json_path(s).unwrap() };
                (q.text.clone(), crate::model::normalize::jsonpath_value(&q, raw))
            })
            .collect()
    }

    #[test]
    fn jsonpath_reads_the_raw_conversation() {
        let q = |s: &str| JsonPathQuery { text: s.into(), query: jsonpath_rust::parser::parse_json_path(s).unwrap() };
        let t = |path: &str, op| Test {
            subject: Subject::JsonPath(q(path)),
            convert: None,
            op,
            ignore_case: false,
            display: path.into(),
        };
        let segment = "$.participants[?@.purpose == 'customer'].attributes.segment";
        assert_eq!(check(t(segment, Operator::Equals(text("b2b")))), Truth::True);
        let score = "$.participants[?@.purpose == 'customer'].attributes.score";
        assert_eq!(check(t(score, Operator::Compare(Comparison::GreaterThan, Literal::Number(5.0)))), Truth::True);
        assert!(matches!(check(t(score, Operator::Equals(text("7")))), Truth::Invalid(_)));
        assert_eq!(check(t("$.nothing.here", Operator::Exists(false))), Truth::True);
    }

    #[test]
    fn unloaded_data_is_unknown_and_kleene_logic_keeps_false_false() {
        let mut c = candidate();
        c.details = None;
        let view = View::new(&c, ts(NOW) - SignedDuration::from_hours(24 * 90), ts(NOW));
        let plan = Condition::Test(Box::new(field("customer.attributes.plan", Operator::Equals(text("premium")))));
        let inbound = |d: &str| Condition::Test(Box::new(field("session.direction", Operator::Equals(text(d)))));
        let (t, _) = condition(&plan, &view, false);
        assert_eq!(t, Truth::Unknown(NeedsName(Needs::Details)));
        // all(false, unknown) is false: no need to load details.
        let (t, _) = condition(&Condition::All(vec![inbound("outbound"), plan.clone()]), &view, false);
        assert_eq!(t, Truth::False);
        // any(true, unknown) is true.
        let (t, _) = condition(&Condition::Any(vec![inbound("inbound"), plan.clone()]), &view, false);
        assert_eq!(t, Truth::True);
        let (t, _) = condition(&Condition::All(vec![inbound("inbound"), plan.clone()]), &view, false);
        assert!(matches!(t, Truth::Unknown(_)));
        let (t, _) = condition(&Condition::Not(Box::new(plan)), &view, false);
        assert!(matches!(t, Truth::Unknown(_)));
    }

    #[test]
    fn nesting_with_explanation() {
        let c = candidate();
        let view = View::new(&c, ts(NOW) - SignedDuration::from_hours(24 * 90), ts(NOW));
        let eq = |p: &str, v: &str| Condition::Test(Box::new(field(p, Operator::Equals(text(v)))));
        let cond = Condition::All(vec![
            eq("customer.attributes.plan", "premium"),
            Condition::Any(vec![
                eq("session.queue", "Billing"),
                Condition::Not(Box::new(eq("session.queue", "Collections"))),
            ]),
        ]);
        let (t, trace) = condition(&cond, &view, true);
        assert_eq!(t, Truth::True);
        let trace = trace.unwrap();
        assert_eq!(trace.condition, "all of");
        assert_eq!(trace.children.len(), 2);
        assert_eq!(trace.children[0].saw.as_deref(), Some("\"premium\""));
        let any = &trace.children[1];
        assert_eq!(any.children[0].result, Truth::False);
        assert_eq!(any.children[1].condition, "not");
        assert_eq!(any.children[1].result, Truth::True);
        // Invalid loses to a decisive value, and to unknown (loading may still decide it).
        let mut bad =
            field("customer.attributes.bad_number", Operator::Compare(Comparison::GreaterThan, Literal::Number(1.0)));
        bad.convert = Some(Conversion::Number);
        let bad = Condition::Test(Box::new(bad));
        assert!(matches!(
            condition(&Condition::Any(vec![bad.clone(), eq("session.queue", "Nope")]), &view, false).0,
            Truth::Invalid(_)
        ));
        assert_eq!(
            condition(&Condition::Any(vec![bad.clone(), eq("session.queue", "Sales")]), &view, false).0,
            Truth::True
        );
        assert_eq!(
            condition(&Condition::All(vec![bad.clone(), eq("session.queue", "Nope")]), &view, false).0,
            Truth::False
        );
        let mut partial = c.clone();
        partial.history = None;
        let view = View::new(&partial, ts(NOW) - SignedDuration::from_hours(24 * 90), ts(NOW));
        let unloaded = Condition::Test(Box::new(field("history.count", Operator::Exists(true))));
        let all = Condition::All(vec![bad.clone(), unloaded.clone()]);
        assert_eq!(condition(&all, &view, false).0, Truth::Unknown(NeedsName(Needs::History)));
        let any = Condition::Any(vec![bad, unloaded]);
        assert_eq!(condition(&any, &view, false).0, Truth::Unknown(NeedsName(Needs::History)));
    }

    /// Without an explanation, groups stop at a decisive item and run JSONPath tests last: the
    /// outcome (down to which `Unknown` or `Invalid` is reported) is the explained one's.
    #[test]
    fn the_shortcut_evaluation_agrees_with_the_explained_one() {
        let eq = |p: &str, v: &str| Condition::Test(Box::new(field(p, Operator::Equals(text(v)))));
        let jsonpath = |v: &str| {
            let q = "$.participants[?@.purpose == 'customer'].attributes.segment";
            let query = JsonPathQuery { text: q.into(), query: jsonpath_rust::parser::parse_json_path(q).unwrap() };
            Condition::Test(Box::new(Test {
                subject: Subject::JsonPath(query),
                convert: None,
                op: Operator::Equals(text(v)),
                ignore_case: false,
                display: q.into(),
            }))
        };
        let mut bad =
            field("customer.attributes.bad_number", Operator::Compare(Comparison::GreaterThan, Literal::Number(1.0)));
        bad.convert = Some(Conversion::Number);
        let pool = [
            eq("customer.attributes.plan", "premium"),
            eq("customer.attributes.plan", "basic"),
            Condition::Test(Box::new(field("customer.attributes.cart_value", Operator::Equals(Literal::Number(1.0))))),
            Condition::Test(Box::new(bad)),
            Condition::Test(Box::new(field("customer.contact.first_name", Operator::Exists(true)))),
            jsonpath("b2b"),
            jsonpath("b2c"),
            eq("session.direction", "inbound"),
            eq("session.direction", "outbound"),
        ];
        let full = candidate();
        let mut no_details = candidate();
        no_details.details = None;
        let mut bare = candidate();
        (bare.details, bare.contact) = (None, None);
        let mut checked = 0;
        for c in [&full, &no_details, &bare] {
            let view = View::new(c, ts(NOW) - SignedDuration::from_hours(24 * 90), ts(NOW));
            let pool = &pool;
            let triples = pool.iter().flat_map(|a| pool.iter().flat_map(move |b| pool.iter().map(move |d| (a, b, d))));
            for (a, b, d) in triples {
                let items = vec![a.clone(), b.clone(), d.clone()];
                let nested = vec![Condition::All(vec![a.clone(), b.clone()]), Condition::Not(Box::new(d.clone()))];
                for cond in [Condition::All(items.clone()), Condition::Any(items), Condition::Any(nested)] {
                    let quick = condition(&cond, &view, false);
                    assert!(quick.1.is_none());
                    assert_eq!(quick.0, condition(&cond, &view, true).0, "{cond:?}");
                    checked += 1;
                }
            }
        }
        assert_eq!(checked, 3 * 9 * 9 * 9 * 3);
    }

    /// Ignoring case compares as if both texts were lowercased, ASCII or not.
    #[test]
    fn ignoring_case_is_lowercasing_both() {
        let texts = [
            "",
            "a",
            "Pricing",
            "/PRICING/premium",
            "prIcing",
            "\u{212a}elvin",
            "kelvin",
            "İstanbul",
            "i̇stanbul",
            "ΟΔΟΣ",
            "οδος",
            "Straße",
        ];
        for s in texts {
            for t in texts {
                let (ls, lt) = (s.to_lowercase(), t.to_lowercase());
                assert_eq!(text_eq(s, t, true), ls == lt, "{s} = {t}");
                assert_eq!(text_contains(s, t, true), ls.contains(&lt), "{s} contains {t}");
                assert_eq!(text_starts_with(s, t, true), ls.starts_with(&lt), "{s} starts with {t}");
                assert_eq!(text_ends_with(s, t, true), ls.ends_with(&lt), "{s} ends with {t}");
                assert_eq!(text_contains(s, t, false), s.contains(t));
            }
        }
    }

    fn hist(conditions: Vec<HistoryCondition>, look_back_days: i64) -> (Truth, Vec<Trace>) {
        let c = candidate();
        let h = History { look_back: SignedDuration::from_hours(24 * look_back_days), conditions };
        let view = View::new(&c, ts(NOW) - h.look_back, ts(NOW));
        history(&h, &view, true)
    }

    fn count(at_least: Option<u64>, at_most: Option<u64>, filter: Option<Condition>) -> HistoryCondition {
        HistoryCondition::Count { at_least, at_most, filter, display: "count".into() }
    }

    /// Without an explanation, history conditions stop at the first `False`, and say nothing
    /// of what they saw; the outcome is the explained one's.
    #[test]
    fn history_without_explanation_has_the_same_outcome() {
        let last = |older: i64| HistoryCondition::LastContact {
            older_than: Some(SignedDuration::from_hours(24 * older)),
            newer_than: None,
            display: "last".into(),
        };
        let had = |wanted| HistoryCondition::Had {
            attribute: HistoryAttribute::WrapUpCode,
            values: vec!["Sale".into()],
            wanted,
            display: "had".into(),
        };
        let pool = [count(Some(1), None, None), count(Some(5), None, None), last(1), last(30), had(true), had(false)];
        let mut unloaded = candidate();
        unloaded.history = None;
        for c in [candidate(), unloaded] {
            let view = View::new(&c, ts(NOW) - SignedDuration::from_hours(24 * 90), ts(NOW));
            for a in &pool {
                for b in &pool {
                    let h = History {
                        look_back: SignedDuration::from_hours(24 * 90),
                        conditions: vec![a.clone(), b.clone()],
                    };
                    let (truth, traces) = history(&h, &view, false);
                    assert!(traces.is_empty());
                    assert_eq!(truth, history(&h, &view, true).0);
                }
            }
        }
    }

    #[test]
    fn history_count_window_and_where() {
        // 90 days: p1 and p2; p3 (June) is outside.
        assert_eq!(hist(vec![count(Some(2), Some(2), None)], 90).0, Truth::True);
        assert_eq!(hist(vec![count(Some(3), None, None)], 90).0, Truth::False);
        assert_eq!(hist(vec![count(Some(3), None, None)], 365).0, Truth::True);
        let sale = Condition::Test(Box::new(Test {
            subject: Subject::Field(lookup(FieldScope::PastConversation, "wrap_up").unwrap()),
            convert: None,
            op: Operator::Equals(text("Sale")),
            ignore_case: false,
            display: "wrap_up equals \"Sale\"".into(),
        }));
        let (t, traces) = hist(vec![count(Some(1), Some(1), Some(sale))], 90);
        assert_eq!(t, Truth::True);
        assert_eq!(traces[0].saw.as_deref(), Some("1 conversation"));
    }

    #[test]
    fn history_last_contact_and_had() {
        let last = |older: Option<i64>, newer: Option<i64>| HistoryCondition::LastContact {
            older_than: older.map(|d| SignedDuration::from_hours(24 * d)),
            newer_than: newer.map(|d| SignedDuration::from_hours(24 * d)),
            display: "last contact".into(),
        };
        // The last conversation ended 4 days before now.
        assert_eq!(hist(vec![last(Some(1), Some(14))], 90).0, Truth::True);
        assert_eq!(hist(vec![last(Some(7), None)], 90).0, Truth::False);
        let (t, traces) = hist(vec![last(None, Some(7))], 90);
        assert_eq!(t, Truth::True);
        assert_eq!(traces[0].saw.as_deref(), Some("last ended 4d 2h ago"));
        let had = |values: &[&str], wanted| HistoryCondition::Had {
            attribute: HistoryAttribute::WrapUpCode,
            values: values.iter().map(|s| s.to_string()).collect(),
            wanted,
            display: "wrap-up codes".into(),
        };
        assert_eq!(hist(vec![had(&["Sale"], true)], 90).0, Truth::True);
        assert_eq!(hist(vec![had(&["Complaint"], true)], 90).0, Truth::False);
        assert_eq!(hist(vec![had(&["Complaint"], true)], 365).0, Truth::True);
        assert_eq!(hist(vec![had(&["Complaint"], false)], 90).0, Truth::True);
        // Exact, like `equals`.
        assert_eq!(hist(vec![had(&["sale"], true)], 90).0, Truth::False);
        // All conditions must hold.
        assert_eq!(hist(vec![had(&["Sale"], true), last(Some(7), None)], 90).0, Truth::False);
    }

    #[test]
    fn no_history_in_window() {
        let mut c = candidate();
        c.history = Some(vec![]);
        let h = History {
            look_back: SignedDuration::from_hours(24),
            conditions: vec![HistoryCondition::LastContact {
                older_than: Some(SignedDuration::from_hours(24 * 30)),
                newer_than: None,
                display: "x".into(),
            }],
        };
        let view = View::new(&c, ts(NOW) - h.look_back, ts(NOW));
        assert_eq!(history(&h, &view, false).0, Truth::True);
        c.history = None;
        let view = View::new(&c, ts(NOW) - h.look_back, ts(NOW));
        assert_eq!(history(&h, &view, false).0, Truth::Unknown(NeedsName(Needs::History)));
    }

    /// Proptest cases per property: more with `RUNNER_LONG_TESTS=1`.
    pub(crate) fn proptest_cases() -> u32 {
        if std::env::var("RUNNER_LONG_TESTS").is_ok_and(|v| v == "1") { 20_000 } else { 256 }
    }

    /// Strings that try to be code: template and YAML syntax, control characters, bidi
    /// overrides, invalid-looking escapes, long runs.
    pub(crate) fn hostile_string() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let token = prop_oneof![
            Just("{{".to_owned()),
            Just("}}".to_owned()),
            Just("{%".to_owned()),
            Just("%}".to_owned()),
            Just("{#".to_owned()),
            Just("{{ 7 * 7 }}".to_owned()),
            Just("{% for i in range(1000000) %}x{% endfor %}".to_owned()),
            Just("{{ customer.contact.first_name }}".to_owned()),
            Just("\u{0}".to_owned()),
            Just("\u{202e}".to_owned()),
            Just("\r\n".to_owned()),
            Just("\\x".to_owned()),
            Just("$.".to_owned()),
            "[\\x00-\\x1f\\x7f]{1,4}",
            "\\PC{0,12}",
            any::<char>().prop_map(String::from),
        ];
        prop_oneof![
            4 => prop::collection::vec(token, 0..30).prop_map(|v| v.concat()),
            1 => any::<String>(),
            1 => ("\\PC{1,8}", 100..2_000usize).prop_map(|(s, n)| s.repeat(n)),
        ]
    }

    proptest::proptest! {
        #![proptest_config(proptest::test_runner::Config::with_cases(proptest_cases()))]

        /// Data is data: any value in an attribute, a contact field or the raw details
        /// evaluates without panicking and renders literally (or counts as missing when blank).
        #[test]
        fn hostile_values_evaluate_and_render_literally(value in hostile_string()) {
            let mut c = candidate();
            let details = c.details.as_mut().unwrap();
            details.attributes.insert("plan", value.as_str().into());
            details.jsonpath = answers(&raw_details(serde_json::json!(value.clone())));
            if let Some(Some(contact)) = c.contact.as_mut() {
                contact.first_name = Some(value.clone());
                contact.custom_fields.insert("loyalty_level", serde_json::json!(value.clone()));
            }
            let view = View::new(&c, ts(NOW) - SignedDuration::from_hours(24 * 90), ts(NOW));
            let re = regex::Regex::new(r"\{\{.*\}\}").unwrap();
            let ops = [
                Operator::Equals(text(&value)),
                Operator::Contains(text("{{")),
                Operator::StartsWith(value.chars().take(3).collect()),
                Operator::Matches(re),
                Operator::Compare(Comparison::GreaterThan, Literal::Number(1.0)),
                Operator::OlderThan(SignedDuration::from_hours(1)),
                Operator::Exists(true),
            ];
            for path in ["customer.attributes.plan", "customer.contact.first_name", "customer.contact.custom_fields.loyalty_level"] {
                for op in &ops {
                    for convert in [None, Some(crate::campaign::Conversion::Number), Some(crate::campaign::Conversion::Date), Some(crate::campaign::Conversion::Text)] {
                        let mut t = field(path, op.clone());
                        t.convert = convert;
                        let _ = condition(&Condition::Test(Box::new(t)), &view, true);
                    }
                }
            }
            let q = "$.participants[?@.purpose == 'customer'].attributes.segment";
            let jp = JsonPathQuery { text: q.into(), query: jsonpath_rust::parser::parse_json_path(q).unwrap() };
            let t = Test { subject: Subject::JsonPath(jp), convert: None, op: Operator::Contains(text("%}")), ignore_case: true, display: q.into() };
            let _ = condition(&Condition::Test(Box::new(t)), &view, true);

            let mut templates = crate::engine::render::Templates::new();
            templates
                .add("m", "A{{ customer.attributes.plan }}|{{ customer.contact.first_name }}|{{ customer.contact.custom_fields.loyalty_level }}B")
                .unwrap();
            let roots = crate::model::fields::ContextRoots::ALL;
            let context = crate::model::fields::TemplateContext::new().root(&view, roots, &[]);
            match templates.render("m", &context) {
                Ok(out) => proptest::prop_assert_eq!(out, format!("A{value}|{value}|{value}B")),
                Err(crate::engine::render::RenderError::Undefined(_)) => proptest::prop_assert!(value.trim().is_empty()),
                Err(e) => proptest::prop_assert!(false, "{e}"),
            }
        }
    }
}
