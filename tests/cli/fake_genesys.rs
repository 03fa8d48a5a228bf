//! A fake Genesys Cloud org on wiremock, serving a snapshot's data through the real endpoints:
//! token, analytics details queries (active sessions and history, paged, filtered like the
//! API), conversation details, external contacts, wrap-up codes and the agentless send.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use jiff::Timestamp;
use runner::genesys::snapshot::Snapshot;
use runner::genesys::types::AnalyticsConversation;
use serde_json::{Value, json};
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

pub const TOKEN: &str = "fake-token-1";
pub const CLIENT_ID: &str = "client-id-1";
pub const CLIENT_SECRET: &str = "very-secret-value-42";
pub const DEPLOYMENT_ID: &str = "deployment-1";

/// The snapshot with every analytics time moved so that it was captured now: for runs that
/// send, which decide on the real clock (`--now` is for dry runs only).
pub fn shifted_to_now(mut snapshot: Snapshot) -> Snapshot {
    let delta = Timestamp::now().duration_since(snapshot.captured_at);
    let shift = |t: &mut String| {
        if let Ok(ts) = t.parse::<Timestamp>() {
            *t = (ts + delta).strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
        }
    };
    for c in snapshot.active_conversations.iter_mut().chain(snapshot.history.iter_mut()) {
        shift(&mut c.conversation_start);
        c.conversation_end.as_mut().map(shift);
        for segment in c.participants.iter_mut().flat_map(|p| &mut p.sessions).flat_map(|s| &mut s.segments) {
            segment.segment_start.as_mut().map(shift);
            segment.segment_end.as_mut().map(shift);
        }
    }
    snapshot.captured_at += delta;
    snapshot
}

/// The fake org. `refuse_sends_to` makes sends to these contacts answer 403.
pub struct FakeGenesys {
    pub server: MockServer,
    pub sends: Arc<Mutex<Vec<Request>>>,
    /// Holds the settings file: no pacing worth waiting for in tests.
    settings: tempfile::TempDir,
}

struct Org {
    snapshot: Snapshot,
    refuse_sends_to: HashSet<String>,
    slow_sends_to: HashSet<String>,
    sends: Arc<Mutex<Vec<Request>>>,
}

/// How long a slow send takes to answer: longer than the client's timeout in [`FakeGenesys`].
const SLOW: std::time::Duration = std::time::Duration::from_secs(3);

impl FakeGenesys {
    pub async fn start(snapshot: Snapshot, refuse_sends_to: &[&str]) -> FakeGenesys {
        FakeGenesys::start_with(snapshot, refuse_sends_to, &[]).await
    }

    /// Sends to `refuse_sends_to` answer 403; sends to `slow_sends_to` answer after the
    /// client's timeout (their fate is unknown to the runner, but the fake counts them).
    pub async fn start_with(snapshot: Snapshot, refuse_sends_to: &[&str], slow_sends_to: &[&str]) -> FakeGenesys {
        let server = MockServer::start().await;
        let sends = Arc::new(Mutex::new(Vec::new()));
        let ids = |ids: &[&str]| ids.iter().map(|s| s.to_string()).collect();
        let org = Org {
            snapshot,
            refuse_sends_to: ids(refuse_sends_to),
            slow_sends_to: ids(slow_sends_to),
            sends: sends.clone(),
        };
        Mock::given(any()).respond_with(org).mount(&server).await;
        let settings = tempfile::tempdir().unwrap();
        let timeout = if slow_sends_to.is_empty() { "10s" } else { "1s" };
        let text = format!("requests_per_minute: 60000\ntimeout: {timeout}\nmax_retries: 1\n");
        std::fs::write(settings.path().join("runner.yaml"), text).unwrap();
        FakeGenesys { server, sends, settings }
    }

    /// Sets the client's per-request timeout for the next runs (e.g. longer than a slow send).
    pub fn set_timeout(&self, timeout: &str) {
        let text = format!("requests_per_minute: 60000\ntimeout: {timeout}\nmax_retries: 1\n");
        std::fs::write(self.settings.path().join("runner.yaml"), text).unwrap();
    }

    /// The send requests received for one contact.
    pub fn sends_to(&self, contact: &str) -> usize {
        self.send_bodies().iter().filter(|b| b["externalContactId"] == contact).count()
    }

    /// The environment a `runner` process needs to use this org.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("GENESYS_CLIENT_ID", CLIENT_ID.to_owned()),
            ("GENESYS_CLIENT_SECRET", CLIENT_SECRET.to_owned()),
            ("GENESYS_DEPLOYMENT_ID", DEPLOYMENT_ID.to_owned()),
            ("GENESYS_ENV_URL", self.server.uri()),
            ("GENESYS_LOGIN_URL", self.server.uri()),
            ("RUNNER_CONFIG", self.settings.path().join("runner.yaml").display().to_string()),
            ("RUNNER_JOURNAL", self.settings.path().join("journal.sqlite").display().to_string()),
        ]
    }

    /// Every request received, as (method, path).
    pub async fn requests(&self) -> Vec<(String, String)> {
        let received = self.server.received_requests().await.unwrap_or_default();
        received.iter().map(|r| (r.method.to_string(), r.url.path().to_owned())).collect()
    }

    pub fn send_bodies(&self) -> Vec<Value> {
        self.sends.lock().unwrap().iter().map(|r| serde_json::from_slice(&r.body).unwrap()).collect()
    }
}

fn error(status: u16, code: &str, message: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(json!({"status": status, "code": code, "message": message}))
}

fn start_of(c: &AnalyticsConversation) -> Timestamp {
    c.conversation_start.parse().unwrap()
}

impl Org {
    fn query(&self, body: &Value) -> ResponseTemplate {
        let (start, end) = body["interval"].as_str().unwrap().split_once('/').unwrap();
        let (start, end): (Timestamp, Timestamp) = (start.parse().unwrap(), end.parse().unwrap());
        let operator = body["conversationFilters"][0]["predicates"][0]["operator"].as_str().unwrap();
        let page_size = body["paging"]["pageSize"].as_u64().unwrap() as usize;
        let page_number = body["paging"]["pageNumber"].as_u64().unwrap() as usize;
        let mut found: Vec<&AnalyticsConversation> = if operator == "notExists" {
            self.snapshot.active_conversations.iter().filter(|c| c.conversation_end.is_none()).collect()
        } else {
            let ids: HashSet<&str> = body["segmentFilters"][0]["predicates"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["value"].as_str().unwrap())
                .collect();
            self.snapshot
                .history
                .iter()
                .filter(|c| {
                    c.conversation_end.is_some()
                        && c.participants.iter().any(|p| {
                            p.purpose.as_deref() == Some("customer")
                                && p.external_contact_id.as_deref().is_some_and(|id| ids.contains(id))
                        })
                })
                .collect()
        };
        found.retain(|c| (start..=end).contains(&start_of(c)));
        found.sort_by_key(|c| std::cmp::Reverse(start_of(c)));
        let page: Vec<&&AnalyticsConversation> =
            found.iter().skip((page_number - 1) * page_size).take(page_size).collect();
        if page.is_empty() {
            // Past the end, the API leaves `conversations` out.
            return ResponseTemplate::new(200).set_body_json(json!({"totalHits": found.len()}));
        }
        ResponseTemplate::new(200).set_body_json(json!({"conversations": page, "totalHits": found.len()}))
    }
}

impl Respond for Org {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let path = request.url.path();
        let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        match (request.method.as_str(), segments.as_slice()) {
            ("POST", ["oauth", "token"]) => ResponseTemplate::new(200).set_body_json(json!({
                "access_token": TOKEN, "token_type": "bearer", "expires_in": 86400})),
            (_, _)
                if request.headers.get("authorization").and_then(|h| h.to_str().ok())
                    != Some(&format!("Bearer {TOKEN}")) =>
            {
                error(401, "authentication.required", "No authentication bearer token specified")
            }
            ("POST", ["api", "v2", "analytics", "conversations", "details", "query"]) => {
                self.query(&serde_json::from_slice(&request.body).unwrap())
            }
            ("GET", ["api", "v2", "conversations", id]) => match self.snapshot.conversation_details.get(*id) {
                Some(details) => ResponseTemplate::new(200).set_body_json(details),
                None => error(404, "not.found", "The requested conversation was not found."),
            },
            ("GET", ["api", "v2", "externalcontacts", "contacts", id]) => {
                match self.snapshot.external_contacts.get(*id) {
                    Some(contact) => ResponseTemplate::new(200).set_body_json(contact),
                    None => error(404, "not.found", "The requested contact was not found."),
                }
            }
            ("GET", ["api", "v2", "routing", "wrapupcodes"]) => {
                let query: std::collections::HashMap<_, _> = request.url.query_pairs().into_owned().collect();
                let size: usize = query.get("pageSize").and_then(|v| v.parse().ok()).unwrap_or(25);
                let number: usize = query.get("pageNumber").and_then(|v| v.parse().ok()).unwrap_or(1);
                let codes = &self.snapshot.wrapup_codes;
                let page: Vec<_> = codes.iter().skip((number - 1) * size).take(size).collect();
                ResponseTemplate::new(200).set_body_json(json!({
                    "entities": page, "pageSize": size, "pageNumber": number,
                    "total": codes.len(), "pageCount": codes.len().div_ceil(size)}))
            }
            ("POST", ["api", "v2", "conversations", "messages", "agentless"]) => {
                self.sends.lock().unwrap().push(request.clone());
                let body: Value = serde_json::from_slice(&request.body).unwrap();
                let contact = body["externalContactId"].as_str().unwrap_or_default();
                if self.refuse_sends_to.contains(contact) {
                    return error(403, "missing.permissions", "Unable to perform the requested action.");
                }
                let n = self.sends.lock().unwrap().len();
                let delay = if self.slow_sends_to.contains(contact) { SLOW } else { std::time::Duration::ZERO };
                ResponseTemplate::new(200).set_delay(delay).set_body_json(json!({
                    "id": format!("message-{n}"), "conversationId": format!("out-conversation-{n}"),
                    "fromAddress": body["fromAddress"], "messengerType": "webmessaging",
                    "textBody": body["textBody"], "timestamp": "2026-11-24T12:00:01Z"}))
            }
            _ => error(404, "not.found", "No such endpoint in the fake org."),
        }
    }
}
