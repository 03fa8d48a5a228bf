//! `runner test`: the tests written inside campaign files (`tests:`).
//!
//! A test does not decide anything itself. Each case becomes the Genesys data a live run would
//! read (an active analytics conversation, its conversation details, the external contact, the
//! earlier conversations and the wrap-up codes), held in a [`Snapshot`], and is planned by
//! [`pipeline::plan`] through the [`SnapshotSource`], with only its campaign in the set. So a
//! test goes through the same normalization and decision code as a real run.

use std::fmt::Write as _;

use jiff::{SignedDuration, Timestamp};
use serde::Serialize;
use serde_json::json;

use crate::campaign::{Campaign, CampaignSet, Expectation, TestCase, TestConversation};
use crate::engine::decide::{Outcome, SkipReason};
use crate::genesys::snapshot::{FORMAT, Snapshot, SnapshotSource};
use crate::genesys::types::{AnalyticsConversation, ExternalContact, PhoneNumber, WrapupCode};
use crate::pipeline;

/// The conversation id of a test's session.
const SESSION_ID: &str = "test-session";
/// The external contact id of a test's customer.
const CUSTOMER_ID: &str = "test-customer";

/// The results of every campaign's tests.
#[derive(Debug, Clone, Serialize)]
pub struct TestReport {
    /// Every campaign, in the set's order (highest priority first); those without tests too.
    pub campaigns: Vec<CampaignResults>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CampaignResults {
    pub campaign: String,
    pub file: String,
    pub cases: Vec<CaseResult>,
}

/// One test case, run.
#[derive(Debug, Clone, Serialize)]
pub struct CaseResult {
    pub name: String,
    /// Where the test is: `campaigns/x.yaml:42`.
    pub location: String,
    pub passed: bool,
    pub expected: Expected,
    pub actual: Actual,
    /// What differs, in words; empty when the test passed.
    pub problems: Vec<String>,
}

/// What a test expected, as shown and serialized.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum Expected {
    Send {
        #[serde(skip_serializing_if = "Option::is_none")]
        text: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        text_contains: Option<String>,
    },
    Skip {
        reason: SkipReason,
    },
}

/// What the campaign did.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum Actual {
    Send {
        text: String,
    },
    Skip {
        reason: SkipReason,
        detail: String,
    },
    /// The test could not be planned (never expected: a test's data is all in memory).
    Error {
        error: String,
    },
}

impl TestReport {
    pub fn passed(&self) -> usize {
        self.cases().filter(|c| c.passed).count()
    }

    pub fn failed(&self) -> usize {
        self.cases().filter(|c| !c.passed).count()
    }

    /// The campaigns that have no tests.
    pub fn untested(&self) -> Vec<&str> {
        self.campaigns.iter().filter(|c| c.cases.is_empty()).map(|c| c.campaign.as_str()).collect()
    }

    fn cases(&self) -> impl Iterator<Item = &CaseResult> {
        self.campaigns.iter().flat_map(|c| c.cases.iter())
    }
}

/// Runs the tests of every campaign of the set.
pub async fn run(set: &CampaignSet) -> TestReport {
    let mut campaigns = Vec::new();
    for campaign in &set.campaigns {
        let mut cases = Vec::new();
        if let Some(alone) = set.only(&campaign.name) {
            for case in &campaign.tests {
                cases.push(run_case(&alone, campaign, case).await);
            }
        }
        campaigns.push(CampaignResults {
            campaign: campaign.name.clone(),
            file: campaign.file.display().to_string(),
            cases,
        });
    }
    TestReport { campaigns }
}

/// Plans one case with `alone` (a set of its campaign only) and compares.
async fn run_case(alone: &CampaignSet, campaign: &Campaign, case: &TestCase) -> CaseResult {
    let source = SnapshotSource::new(snapshot(case));
    let options = pipeline::Options {
        now: case.now,
        session_look_back: SignedDuration::from_hours(24),
        concurrency: 1,
        explain: false,
        // Like `runner run`: the active window is the scheduler's business.
        customer_windows: false,
    };
    let actual = match pipeline::plan(&source, alone, None, options).await {
        Ok(plan) => {
            let decision = plan.sessions.iter().flat_map(|s| &s.decisions).find(|d| *d.campaign == *campaign.name);
            match decision.map(|d| &d.outcome) {
                Some(Outcome::Send { text }) => Actual::Send { text: text.clone() },
                Some(Outcome::Skip { reason, detail }) => Actual::Skip { reason: *reason, detail: detail.to_string() },
                None => Actual::Error { error: "the run did not see the test's session".to_owned() },
            }
        }
        Err(e) => Actual::Error { error: e.to_string() },
    };
    let problems = compare(&case.expect, &actual);
    CaseResult {
        name: case.name.clone(),
        location: format!("{}:{}", campaign.file.display(), case.line),
        passed: problems.is_empty(),
        expected: expected(&case.expect),
        actual,
        problems,
    }
}

fn expected(e: &Expectation) -> Expected {
    match e {
        Expectation::Send { text, contains } => Expected::Send { text: text.clone(), text_contains: contains.clone() },
        Expectation::Skip { reason } => Expected::Skip { reason: *reason },
    }
}

/// What differs between the expectation and the outcome; empty when they agree.
fn compare(expect: &Expectation, actual: &Actual) -> Vec<String> {
    let mut problems = Vec::new();
    match (expect, actual) {
        (_, Actual::Error { error }) => problems.push(format!("the test could not run: {error}")),
        (Expectation::Send { text, contains }, Actual::Send { text: rendered }) => {
            if let Some(text) = text {
                if text.trim() != rendered {
                    problems.push("the message differs from `text`".to_owned());
                }
            }
            if let Some(part) = contains {
                if !rendered.contains(part.as_str()) {
                    problems.push(format!("the message does not contain {part:?}"));
                }
            }
        }
        (Expectation::Send { .. }, Actual::Skip { reason, .. }) => {
            problems.push(format!("expected a message, but the campaign skipped the customer: {reason}"));
        }
        (Expectation::Skip { reason }, Actual::Send { .. }) => {
            problems.push(format!("expected a skip ({reason}), but the campaign messaged the customer"));
        }
        (Expectation::Skip { reason }, Actual::Skip { reason: got, .. }) => {
            if reason != got {
                problems.push(format!("expected the skip reason {reason}, got {got}"));
            }
        }
    }
    problems
}

/// The Genesys data a live run would read for this case, as a snapshot taken at its `now`.
pub fn snapshot(case: &TestCase) -> Snapshot {
    let customer = &case.customer;
    let session = &case.session;
    let mut acd = json!({"purpose": "acd", "sessions": []});
    if let Some(queue_id) = &session.queue_id {
        acd["sessions"] = json!([{"mediaType": "message", "segments": [
            {"segmentType": "interact", "segmentStart": time(session.started), "queueId": queue_id}
        ]}]);
    }
    let active = analytics(json!({
        "conversationId": SESSION_ID,
        "conversationStart": time(session.started),
        "originatingDirection": session.direction,
        "participants": [
            {"purpose": "customer", "externalContactId": CUSTOMER_ID, "participantName": customer.name,
             "sessions": [{"mediaType": "message", "messageType": "webmessaging", "direction": session.direction}]},
            acd
        ]
    }));
    let mut participants = vec![json!({
        "id": "test-customer-participant", "purpose": "customer", "name": customer.name,
        "externalContactId": CUSTOMER_ID, "locale": customer.locale, "attributes": customer.attributes,
    })];
    if session.queue.is_some() || session.queue_id.is_some() {
        participants.push(json!({
            "id": "test-acd-participant", "purpose": "acd", "queueName": session.queue, "queueId": session.queue_id,
        }));
    }
    let details = json!({"id": SESSION_ID, "startTime": time(session.started), "participants": participants});
    let contact = customer.contact.as_ref().map(|c| ExternalContact {
        id: CUSTOMER_ID.to_owned(),
        first_name: c.first_name.clone(),
        last_name: c.last_name.clone(),
        work_email: c.work_email.clone(),
        personal_email: c.personal_email.clone(),
        cell_phone: c.phone.as_ref().map(|p| PhoneNumber { display: Some(p.clone()), e164: None }),
        contact_type: c.contact_type.clone(),
        custom_fields: Some(c.custom_fields.iter().map(|(k, v)| (k, v.clone())).collect()),
        merge_set: Vec::new(),
    });
    let mut wrapup_codes: Vec<WrapupCode> = Vec::new();
    let history = case
        .history
        .iter()
        .enumerate()
        .map(|(i, past)| {
            let code = past.wrap_up.as_ref().map(|name| {
                let id = format!("wrap-up-code-{name}");
                if !wrapup_codes.iter().any(|c| c.id == id) {
                    wrapup_codes.push(WrapupCode { id: id.clone(), name: name.clone() });
                }
                id
            });
            earlier(i, past, code)
        })
        .collect();
    Snapshot {
        format: FORMAT.to_owned(),
        captured_at: case.now,
        description: Some(format!("test `{}`", case.name)),
        active_conversations: vec![active],
        conversation_details: [(
            SESSION_ID.to_owned(),
            serde_json::value::to_raw_value(&details).expect("JSON values serialize"),
        )]
        .into_iter()
        .collect(),
        external_contacts: contact.map(|c| (CUSTOMER_ID.to_owned(), c)).into_iter().collect(),
        history,
        wrapup_codes,
        failures: Default::default(),
    }
}

/// One earlier conversation as the analytics query returns it.
fn earlier(i: usize, past: &TestConversation, wrap_up_code: Option<String>) -> AnalyticsConversation {
    let mut participants = vec![json!({
        "purpose": "customer", "externalContactId": CUSTOMER_ID,
        "sessions": [{"mediaType": past.media_type, "messageType": past.message_type}]
    })];
    if let Some(queue_id) = &past.queue_id {
        participants.push(json!({"purpose": "acd", "sessions": [{"mediaType": past.media_type, "segments": [
            {"segmentType": "interact", "segmentStart": time(past.started), "queueId": queue_id}
        ]}]}));
    }
    if let Some(code) = wrap_up_code {
        participants.push(json!({"purpose": "agent", "sessions": [{"mediaType": past.media_type, "segments": [
            {"segmentType": "wrapup", "segmentStart": time(past.ended), "wrapUpCode": code}
        ]}]}));
    }
    analytics(json!({
        "conversationId": format!("earlier-conversation-{}", i + 1),
        "conversationStart": time(past.started),
        "conversationEnd": time(past.ended),
        "originatingDirection": past.direction,
        "participants": participants,
    }))
}

fn analytics(value: serde_json::Value) -> AnalyticsConversation {
    serde_json::from_value(value).expect("the test data is an AnalyticsConversation")
}

fn time(t: Timestamp) -> String {
    t.to_string()
}

// --- output ----------------------------------------------------------------------------------

/// The report for people: one line per case, the differences under each failed one, then the
/// campaigns without tests and a summary line.
pub fn text(report: &TestReport) -> String {
    let mut out = String::new();
    for campaign in &report.campaigns {
        for case in &campaign.cases {
            let verdict = if case.passed { "ok" } else { "FAILED" };
            let _ = writeln!(out, "{} / {} ... {verdict}", campaign.campaign, case.name);
            if !case.passed {
                out.push_str(&difference(case));
            }
        }
    }
    let untested = report.untested();
    if !untested.is_empty() {
        let _ = writeln!(out, "no tests: {}", untested.join(", "));
    }
    let (passed, failed) = (report.passed(), report.failed());
    let verdict = if failed == 0 { "ok" } else { "FAILED" };
    let _ = writeln!(out, "\ntest result: {verdict}. {passed} passed, {failed} failed");
    out
}

/// The difference of a failed case, indented under it.
fn difference(case: &CaseResult) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "    at {}", case.location);
    for problem in &case.problems {
        let _ = writeln!(out, "    {problem}");
    }
    // Two sends differ only in their text, shown below.
    let both_send = matches!((&case.expected, &case.actual), (Expected::Send { .. }, Actual::Send { .. }));
    if !both_send {
        let expected = match &case.expected {
            Expected::Send { .. } => "send".to_owned(),
            Expected::Skip { reason } => format!("skip ({reason})"),
        };
        let actual = match &case.actual {
            Actual::Send { .. } => "send".to_owned(),
            Actual::Skip { reason, detail } => format!("skip ({reason}): {detail}"),
            Actual::Error { error } => format!("error: {error}"),
        };
        let _ = writeln!(out, "    expected: {expected}\n    actual:   {actual}");
    }
    let expected_text = match &case.expected {
        Expected::Send { text: Some(text), .. } => Some(("expected text", text.trim())),
        Expected::Send { text_contains: Some(part), .. } => Some(("expected a text containing", part.as_str())),
        _ => None,
    };
    let rendered = match &case.actual {
        Actual::Send { text } => Some(text.as_str()),
        _ => None,
    };
    if let Some((label, text)) = expected_text {
        out.push_str(&quoted(label, text));
    }
    if let Some(text) = rendered {
        out.push_str(&quoted("rendered text", text));
    }
    out
}

/// A text under a label, each line behind `| ` so that spaces and empty lines show.
fn quoted(label: &str, text: &str) -> String {
    let mut out = format!("    {label}:\n");
    for line in text.lines() {
        let _ = writeln!(out, "      | {line}");
    }
    out
}

/// The report as JSON lines: one `{"type":"test"}` per case, then one `{"type":"summary"}`.
pub fn json_lines(report: &TestReport) -> String {
    let mut out = String::new();
    for campaign in &report.campaigns {
        for case in &campaign.cases {
            let mut line = serde_json::to_value(case).expect("a test result serializes");
            if let Some(obj) = line.as_object_mut() {
                obj.insert("type".into(), "test".into());
                obj.insert("campaign".into(), campaign.campaign.clone().into());
            }
            let _ = writeln!(out, "{line}");
        }
    }
    let summary = json!({
        "type": "summary",
        "passed": report.passed(),
        "failed": report.failed(),
        "campaigns_without_tests": report.untested(),
    });
    let _ = writeln!(out, "{summary}");
    out
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::campaign::compile::TemplateFiles;
    use crate::campaign::load::load_sources;

    fn set(yaml: &str) -> CampaignSet {
        let sources = vec![(PathBuf::from("campaigns/t.yaml"), yaml.to_owned())];
        let loaded = load_sources(sources, TemplateFiles { dir: PathBuf::from("templates"), files: Some(vec![]) });
        let errors = crate::campaign::diagnostic::render(&loaded.diagnostics, false);
        loaded.set.unwrap_or_else(|| panic!("{errors}"))
    }

    async fn report(yaml: &str) -> TestReport {
        run(&set(yaml)).await
    }

    const RETURNING: &str = r#"
name: returning
audience:
  all:
    - field: customer.attributes.plan
      equals: premium
    - field: session.age
      older_than: 5m
history:
  look_back: 30d
  conditions:
    - count: { at_least: 1 }
    - wrap_up_codes: { none_of: [Do Not Contact] }
message:
  text: "Hi {{ customer.contact.first_name | default('there') }}, your last chat ended with {{ history.last.wrap_up }}."
tests:
  - name: a returning premium customer
    now: 2026-11-24T12:00:00Z
    customer:
      attributes: { plan: premium }
      contact: { first_name: Ada }
    history:
      - { ended_ago: 3d, wrap_up: Sale }
    expect: send
    text: "Hi Ada, your last chat ended with Sale."
  - name: basic plan
    now: 2026-11-24T12:00:00Z
    customer: { attributes: { plan: basic } }
    history: [{ ended_ago: 3d }]
    expect: skip
    reason: audience_not_matched
  - name: asked not to be contacted
    now: 2026-11-24T12:00:00Z
    customer: { attributes: { plan: premium } }
    history:
      - { ended: 2026-11-20T10:00:00Z, wrap_up: Sale }
      - { ended_ago: 1d, wrap_up: Do Not Contact }
    expect: skip
    reason: history_not_matched
  - name: history outside the window does not count
    now: 2026-11-24T12:00:00Z
    customer: { attributes: { plan: premium } }
    history: [{ ended_ago: 31d, wrap_up: Sale }]
    expect: skip
    reason: history_not_matched
  - name: a session that just started
    now: 2026-11-24T12:00:00Z
    customer: { attributes: { plan: premium } }
    session: { started_ago: 1m }
    history: [{ ended_ago: 3d }]
    expect: skip
    reason: audience_not_matched
  - name: no contact record, so no first name
    now: 2026-11-24T12:00:00Z
    customer: { attributes: { plan: premium } }
    history: [{ ended_ago: 3d, wrap_up: Sale }]
    expect: send
    text_contains: Hi there,
"#;

    #[tokio::test]
    async fn cases_that_hold_pass() {
        let report = report(RETURNING).await;
        let failed: Vec<_> = report.campaigns[0].cases.iter().filter(|c| !c.passed).collect();
        assert!(failed.is_empty(), "{}", text(&report));
        assert_eq!((report.passed(), report.failed()), (6, 0));
        assert!(text(&report).ends_with("test result: ok. 6 passed, 0 failed\n"), "{}", text(&report));
    }

    #[tokio::test]
    async fn a_wrong_expectation_fails_with_the_difference() {
        let yaml = RETURNING
            .replace("text: \"Hi Ada, your last chat ended with Sale.\"", "text: \"Hi Ada!\"")
            .replace("reason: audience_not_matched\n  - name: asked", "reason: history_not_matched\n  - name: asked");
        let report = report(&yaml).await;
        assert_eq!((report.passed(), report.failed()), (4, 2));
        let out = text(&report);
        assert!(out.contains("returning / a returning premium customer ... FAILED\n    at campaigns/t.yaml:"), "{out}");
        assert!(out.contains("the message differs from `text`"), "{out}");
        assert!(out.contains("    expected text:\n      | Hi Ada!\n    rendered text:\n      | Hi Ada, your last chat ended with Sale.\n"), "{out}");
        assert!(out.contains("returning / basic plan ... FAILED"), "{out}");
        assert!(out.contains("expected the skip reason history_not_matched, got audience_not_matched"), "{out}");
        assert!(
            out.contains("    expected: skip (history_not_matched)\n    actual:   skip (audience_not_matched): "),
            "{out}"
        );
        assert!(out.ends_with("test result: FAILED. 4 passed, 2 failed\n"), "{out}");
    }

    #[tokio::test]
    async fn a_disabled_campaign_is_tested_and_campaigns_without_tests_are_listed() {
        let yaml = "name: off\nenabled: false\nmessage: { text: hi }\ntests:\n  - { name: sends, now: 2026-11-24T12:00:00Z, expect: send, text: hi }\n";
        let mut set = set(yaml);
        let other = set.only("off").unwrap().campaigns.remove(0);
        set.campaigns.push(crate::campaign::Campaign { name: "untested".into(), tests: vec![], ..other });
        let report = run(&set).await;
        assert_eq!(report.passed(), 1, "{}", text(&report));
        assert_eq!(report.untested(), vec!["untested"]);
        assert!(text(&report).contains("no tests: untested\n"));
        let lines: Vec<serde_json::Value> =
            json_lines(&report).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(lines[0]["type"], "test");
        assert_eq!(lines[0]["campaign"], "off");
        assert_eq!(lines[0]["passed"], true);
        assert_eq!(lines[0]["actual"], json!({"decision": "send", "text": "hi"}));
        assert_eq!(
            lines[1],
            json!({"type": "summary", "passed": 1, "failed": 0, "campaigns_without_tests": ["untested"]})
        );
    }

    #[test]
    fn a_case_becomes_genesys_data() {
        let set = set(RETURNING);
        let case = &set.campaigns[0].tests[2];
        let snapshot = snapshot(case);
        assert_eq!(snapshot.captured_at.to_string(), "2026-11-24T12:00:00Z");
        assert_eq!(snapshot.active_conversations[0].conversation_start, "2026-11-24T11:50:00Z");
        assert_eq!(snapshot.history.len(), 2);
        assert_eq!(snapshot.history[1].conversation_end.as_deref(), Some("2026-11-23T12:00:00Z"));
        let names: Vec<&str> = snapshot.wrapup_codes.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["Sale", "Do Not Contact"]);
        assert!(snapshot.external_contacts.is_empty(), "no contact record was given");
    }
}
