//! `--format json`: one JSON object per line, for scripts.
//!
//! Lines: one `{"type":"decision", ...}` per session and campaign (the campaign's outcome for
//! that session, with `text` for a send and `reason`/`detail` for a skip, plus `explain` with
//! `--explain`), then, when messages were sent, one `{"type":"delivery", ...}` per send (state
//! `sent`, `failed` or `uncertain`), then one `{"type":"summary", ...}`.

use std::io::{self, Write};

use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};

use super::Heading;
use crate::deliver::{Delivery, DeliveryCounts};
use crate::engine::decide::{CampaignDecision, Outcome, Plan, SessionPlan, Summary};

/// A decision line: the session's ids, then the decision's fields (as `CampaignDecision`
/// serializes them). Written by hand: serde's `flatten` would go through a map of buffered
/// values, and a run has a line per session and campaign.
struct DecisionLine<'a> {
    session: &'a SessionPlan,
    decision: &'a CampaignDecision,
}

impl Serialize for DecisionLine<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let (session, d) = (self.session, self.decision);
        let mut line = s.serialize_map(None)?;
        line.serialize_entry("type", "decision")?;
        line.serialize_entry("conversation_id", &session.conversation_id)?;
        if let Some(id) = &session.customer_id {
            line.serialize_entry("customer_id", id)?;
        }
        if let Some(name) = &session.customer_name {
            line.serialize_entry("customer_name", name)?;
        }
        line.serialize_entry("campaign", &*d.campaign)?;
        match &d.outcome {
            Outcome::Send { text } => {
                line.serialize_entry("decision", "send")?;
                line.serialize_entry("text", text)?;
            }
            Outcome::Skip { reason, detail } => {
                line.serialize_entry("decision", "skip")?;
                line.serialize_entry("reason", reason)?;
                line.serialize_entry("detail", detail)?;
            }
        }
        if let Some(explain) = &d.explain {
            line.serialize_entry("explain", explain)?;
        }
        line.end()
    }
}

#[derive(Serialize)]
struct SummaryLine<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    mode: &'a str,
    source: &'a str,
    now: String,
    #[serde(flatten)]
    summary: &'a Summary,
    /// Present when messages were sent (not in a dry run).
    #[serde(skip_serializing_if = "Option::is_none")]
    delivered: Option<DeliveryCounts>,
}

#[derive(Serialize)]
struct DeliveryLine<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(flatten)]
    delivery: &'a Delivery,
}

/// Writes the plan as JSON lines, one at a time; with deliveries, one `{"type":"delivery"}`
/// line per send too. Stops at the first write error.
pub fn write_json_lines(
    out: &mut impl Write,
    plan: &Plan,
    deliveries: Option<&[Delivery]>,
    heading: &Heading,
) -> io::Result<()> {
    for session in &plan.sessions {
        for decision in &session.decisions {
            line(out, &DecisionLine { session, decision })?;
        }
    }
    for delivery in deliveries.unwrap_or_default() {
        line(out, &DeliveryLine { kind: "delivery", delivery })?;
    }
    let summary = SummaryLine {
        kind: "summary",
        mode: heading.mode,
        source: &heading.source,
        now: plan.now.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
        summary: &plan.summary,
        delivered: deliveries.map(DeliveryCounts::of),
    };
    line(out, &summary)
}

/// One JSON line, serialized straight into `out`.
fn line(out: &mut impl Write, value: &impl Serialize) -> io::Result<()> {
    serde_json::to_writer(&mut *out, value)?;
    out.write_all(b"\n")
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::engine::decide::{Explanation, SkipReason};
    use crate::engine::eval::{Trace, Truth};

    /// The line as serde derives it (with `flatten`): the hand-written one must match it.
    #[derive(Serialize)]
    struct Derived<'a> {
        #[serde(rename = "type")]
        kind: &'static str,
        conversation_id: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        customer_id: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        customer_name: Option<&'a str>,
        #[serde(flatten)]
        decision: &'a CampaignDecision,
    }

    fn plan() -> Plan {
        let explain = Explanation {
            audience: Some(Trace {
                condition: "customer.attributes.plan equals \"gold\"".into(),
                saw: Some("\"basic\"".into()),
                result: Truth::Invalid("a \"quoted\"\nwhy".into()),
                children: Vec::new(),
            }),
            history: Vec::new(),
            history_window: Some("conversations that ended in the last 30d: 0".into()),
        };
        let decision = |outcome, explain: Option<Explanation>| CampaignDecision {
            campaign: Arc::from("cart-rescue"),
            outcome,
            explain: explain.map(Box::new),
        };
        let skip = |detail: &str| Outcome::Skip { reason: SkipReason::DataMismatch, detail: detail.to_owned().into() };
        let session = |id: &str, customer: Option<&str>, name: Option<&str>, decisions| SessionPlan {
            conversation_id: id.into(),
            customer_id: customer.map(Into::into),
            customer_name: name.map(Into::into),
            started: "2026-11-24T11:00:00Z".parse().unwrap(),
            decisions,
        };
        Plan {
            now: "2026-11-24T12:00:00Z".parse().unwrap(),
            campaigns: vec!["cart-rescue".into()],
            sessions: vec![
                session(
                    "c1",
                    Some("k1"),
                    Some("Zoë \"Z\" Öberg"),
                    vec![
                        decision(Outcome::Send { text: "Hi Zoë,\n\ttab \u{1b}[2J".into() }, None),
                        decision(skip("the audience conditions do not match"), Some(explain)),
                    ],
                ),
                session("c2", None, None, vec![decision(skip("dynamic \\ detail"), None)]),
            ],
            summary: Summary::default(),
        }
    }

    #[test]
    fn decision_lines_are_what_serde_derives() {
        let plan = plan();
        let mut lines = 0;
        for session in &plan.sessions {
            for decision in &session.decisions {
                let derived = Derived {
                    kind: "decision",
                    conversation_id: &session.conversation_id,
                    customer_id: session.customer_id.as_deref(),
                    customer_name: session.customer_name.as_deref(),
                    decision,
                };
                let ours = serde_json::to_string(&DecisionLine { session, decision }).unwrap();
                assert_eq!(ours, serde_json::to_string(&derived).unwrap());
                lines += 1;
            }
        }
        assert_eq!(lines, 3);
    }

    #[test]
    fn writes_one_line_per_decision_then_the_summary() {
        let heading = Heading { mode: "Dry run", source: "snapshot s.json".into() };
        let mut out = Vec::new();
        write_json_lines(&mut out, &plan(), None, &heading).unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        let kinds: Vec<&str> = lines.iter().map(|l| l["type"].as_str().unwrap()).collect();
        assert_eq!(kinds, ["decision", "decision", "decision", "summary"]);
        assert_eq!(lines[1]["explain"]["audience"]["result"]["why"], "a \"quoted\"\nwhy");
        assert!(text.ends_with("}\n"));
    }

    #[test]
    fn a_closed_output_stops_the_lines() {
        struct Closed;
        impl Write for Closed {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                Err(io::Error::from(io::ErrorKind::BrokenPipe))
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let heading = Heading { mode: "Dry run", source: "s".into() };
        let e = write_json_lines(&mut Closed, &plan(), None, &heading).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::BrokenPipe);
    }
}
