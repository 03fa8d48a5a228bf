//! `--format json`: one JSON object per line, for scripts.
//!
//! Lines: one `{"type":"decision", ...}` per session and campaign (the campaign's outcome for
//! that session, with `text` for a send and `reason`/`detail` for a skip, plus `explain` with
//! `--explain`), then, when messages were sent, one `{"type":"delivery", ...}` per send (state
//! `sent`, `failed` or `uncertain`), then one `{"type":"summary", ...}`.

use serde::Serialize;

use super::Heading;
use crate::deliver::{Delivery, DeliveryCounts};
use crate::engine::decide::{CampaignDecision, Plan, Summary};

#[derive(Serialize)]
struct DecisionLine<'a> {
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

/// The plan as JSON lines; with deliveries, one `{"type":"delivery"}` line per send too.
pub fn json_lines(plan: &Plan, deliveries: Option<&[Delivery]>, heading: &Heading) -> String {
    let mut out = String::new();
    for s in &plan.sessions {
        for d in &s.decisions {
            let line = DecisionLine {
                kind: "decision",
                conversation_id: &s.conversation_id,
                customer_id: s.customer_id.as_deref(),
                customer_name: s.customer_name.as_deref(),
                decision: d,
            };
            out.push_str(&serde_json::to_string(&line).expect("plans serialize"));
            out.push('\n');
        }
    }
    for delivery in deliveries.unwrap_or_default() {
        let line = DeliveryLine { kind: "delivery", delivery };
        out.push_str(&serde_json::to_string(&line).expect("deliveries serialize"));
        out.push('\n');
    }
    let summary = SummaryLine {
        kind: "summary",
        mode: heading.mode,
        source: &heading.source,
        now: plan.now.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
        summary: &plan.summary,
        delivered: deliveries.map(DeliveryCounts::of),
    };
    out.push_str(&serde_json::to_string(&summary).expect("summaries serialize"));
    out.push('\n');
    out
}
