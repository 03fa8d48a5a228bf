//! `--format json`: one JSON object per line, for scripts.
//!
//! Lines: one `{"type":"decision", ...}` per session and campaign (the campaign's outcome for
//! that session, with `text` for a send and `reason`/`detail` for a skip, plus `explain` with
//! `--explain`), then, when messages were sent, one `{"type":"delivery", ...}` per send (state
//! `sent`, `failed` or `uncertain`), then one `{"type":"summary", ...}`.

use std::io::{self, Write};
use std::sync::{Arc, mpsc};

use serde::Serialize;

use super::Heading;
use crate::deliver::{Delivery, DeliveryCounts};
use crate::engine::decide::{Outcome, Plan, SessionPlan, Summary};

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
    let threads = crate::cores::available();
    write_decisions(out, &plan.sessions, threads, SESSIONS_PER_PIECE)?;
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

/// How many sessions' lines a thread formats at a time (a few hundred KB).
const SESSIONS_PER_PIECE: usize = 128;

/// Writes the decision lines of `sessions`, in order. With more than one thread, the lines are
/// formatted on `threads` threads, `per_piece` sessions at a time: thread `t` formats pieces
/// `t`, `t + threads`, ... and hands each over through its own channel of two, so that this
/// thread writes them in order with few pieces waiting. A write error stops the threads.
fn write_decisions(out: &mut impl Write, sessions: &[SessionPlan], threads: usize, per_piece: usize) -> io::Result<()> {
    let pieces: Vec<&[SessionPlan]> = sessions.chunks(per_piece.max(1)).collect();
    let threads = threads.min(pieces.len());
    if threads <= 1 {
        let mut lines = DecisionLines::default();
        return sessions.iter().try_for_each(|session| lines.write(out, session));
    }
    std::thread::scope(|scope| {
        let pieces = &pieces;
        let handed: Vec<_> = (0..threads)
            .map(|t| {
                let (full, receive) = mpsc::sync_channel::<Vec<u8>>(2);
                // Written pieces come back to be filled again.
                let (empty, reuse) = mpsc::channel::<Vec<u8>>();
                scope.spawn(move || {
                    let mut lines = DecisionLines::default();
                    for piece in pieces.iter().skip(t).step_by(threads) {
                        let mut buffer = reuse.try_recv().unwrap_or_default();
                        for session in *piece {
                            lines.write(&mut buffer, session).expect("writing to memory does not fail");
                        }
                        if full.send(buffer).is_err() {
                            return; // The output stopped.
                        }
                    }
                });
                (receive, empty)
            })
            .collect();
        for i in 0..pieces.len() {
            let (receive, empty) = &handed[i % threads];
            // A thread that panicked hangs up: the scope raises its panic.
            let Ok(mut buffer) = receive.recv() else { break };
            out.write_all(&buffer)?;
            buffer.clear();
            let _ = empty.send(buffer);
        }
        Ok(())
    })
}

/// Writes decision lines: the session's ids, then the decision's fields, as serde writes
/// `CampaignDecision` (flattened). Written piece by piece, each text escaped by serde_json: a
/// run has a line per session and campaign, and a session's part of its lines (and a campaign's
/// name) is escaped once, not per line.
#[derive(Default)]
struct DecisionLines {
    /// `{"type":"decision","conversation_id":...,"campaign":` for the session being written.
    start: Vec<u8>,
    /// Each decision's campaign name (by place in the session), escaped.
    names: Vec<(Arc<str>, Vec<u8>)>,
}

impl DecisionLines {
    fn write(&mut self, out: &mut impl Write, session: &SessionPlan) -> io::Result<()> {
        self.start.clear();
        self.start.extend_from_slice(br#"{"type":"decision","conversation_id":"#);
        text(&mut self.start, &session.conversation_id)?;
        if let Some(id) = &session.customer_id {
            self.start.extend_from_slice(br#","customer_id":"#);
            text(&mut self.start, id)?;
        }
        if let Some(name) = &session.customer_name {
            self.start.extend_from_slice(br#","customer_name":"#);
            text(&mut self.start, name)?;
        }
        self.start.extend_from_slice(br#","campaign":"#);
        for (i, d) in session.decisions.iter().enumerate() {
            out.write_all(&self.start)?;
            out.write_all(self.name(i, &d.campaign)?)?;
            match &d.outcome {
                Outcome::Send { text: message } => {
                    out.write_all(br#","decision":"send","text":"#)?;
                    text(out, message)?;
                }
                Outcome::Skip { reason, detail } => {
                    out.write_all(br#","decision":"skip","reason":"#)?;
                    text(out, reason.as_str())?;
                    out.write_all(br#","detail":"#)?;
                    text(out, detail)?;
                }
            }
            if let Some(explain) = &d.explain {
                out.write_all(br#","explain":"#)?;
                serde_json::to_writer(&mut *out, explain)?;
            }
            out.write_all(b"}\n")?;
        }
        Ok(())
    }

    /// The `i`-th decision's campaign name, escaped.
    fn name(&mut self, i: usize, campaign: &Arc<str>) -> io::Result<&[u8]> {
        if self.names.len() <= i {
            self.names.resize_with(i + 1, || (Arc::from(""), Vec::new()));
        }
        let (name, escaped) = &mut self.names[i];
        if escaped.is_empty() || **name != **campaign {
            *name = Arc::clone(campaign);
            escaped.clear();
            text(escaped, campaign)?;
        }
        Ok(escaped)
    }
}

/// A JSON string, escaped as serde_json escapes it.
fn text(out: &mut impl Write, value: &str) -> io::Result<()> {
    Ok(serde_json::to_writer(out, value)?)
}

/// One JSON line, serialized straight into `out`.
fn line(out: &mut impl Write, value: &impl Serialize) -> io::Result<()> {
    serde_json::to_writer(&mut *out, value)?;
    out.write_all(b"\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::decide::{CampaignDecision, Explanation, SkipReason};
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
                session(
                    "c3\u{1}",
                    Some("k\"3"),
                    None,
                    vec![CampaignDecision {
                        campaign: Arc::from("a \"quoted\" campaign"),
                        outcome: Outcome::Send { text: String::new() },
                        explain: None,
                    }],
                ),
            ],
            summary: Summary::default(),
        }
    }

    #[test]
    fn decision_lines_are_what_serde_derives() {
        let plan = plan();
        let mut expected = String::new();
        for session in &plan.sessions {
            for decision in &session.decisions {
                let derived = Derived {
                    kind: "decision",
                    conversation_id: &session.conversation_id,
                    customer_id: session.customer_id.as_deref(),
                    customer_name: session.customer_name.as_deref(),
                    decision,
                };
                expected.push_str(&serde_json::to_string(&derived).unwrap());
                expected.push('\n');
            }
        }
        let mut ours = Vec::new();
        let mut lines = DecisionLines::default();
        for session in &plan.sessions {
            lines.write(&mut ours, session).unwrap();
        }
        assert_eq!(String::from_utf8(ours).unwrap(), expected);
        assert_eq!(expected.lines().count(), 4);
    }

    #[test]
    fn writes_one_line_per_decision_then_the_summary() {
        let heading = Heading { mode: "Dry run", source: "snapshot s.json".into() };
        let mut out = Vec::new();
        write_json_lines(&mut out, &plan(), None, &heading).unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        let kinds: Vec<&str> = lines.iter().map(|l| l["type"].as_str().unwrap()).collect();
        assert_eq!(kinds, ["decision", "decision", "decision", "decision", "summary"]);
        assert_eq!(lines[1]["explain"]["audience"]["result"]["why"], "a \"quoted\"\nwhy");
        assert!(text.ends_with("}\n"));
    }

    fn many_sessions() -> Vec<SessionPlan> {
        let plan = plan();
        (0..50)
            .flat_map(|i| {
                plan.sessions
                    .iter()
                    .map(move |s| SessionPlan { conversation_id: format!("{}-{i}", s.conversation_id), ..s.clone() })
            })
            .collect()
    }

    #[test]
    fn lines_formatted_on_threads_are_written_in_order() {
        let sessions = many_sessions();
        let mut one = Vec::new();
        write_decisions(&mut one, &sessions, 1, 1).unwrap();
        assert_eq!(String::from_utf8_lossy(&one).lines().count(), 200);
        for (threads, per_piece) in [(2, 1), (3, 7), (4, 1000)] {
            let mut many = Vec::new();
            write_decisions(&mut many, &sessions, threads, per_piece).unwrap();
            assert!(many == one, "{threads} threads, {per_piece} per piece");
        }
    }

    /// A writer that takes `room` bytes, then fails like a closed pipe.
    struct Closing {
        taken: usize,
        room: usize,
    }

    impl Write for Closing {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if self.taken >= self.room {
                return Err(io::Error::from(io::ErrorKind::BrokenPipe));
            }
            let n = buf.len().min(self.room - self.taken);
            self.taken += n;
            Ok(n)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_closed_output_stops_the_threads() {
        let sessions = many_sessions();
        for room in [0, 100, 5000] {
            let e = write_decisions(&mut Closing { taken: 0, room }, &sessions, 3, 1).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::BrokenPipe);
        }
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
