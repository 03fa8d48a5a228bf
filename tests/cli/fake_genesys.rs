//! A fake Genesys Cloud org on wiremock, serving a snapshot's data through the real endpoints:
//! token, analytics details queries (active sessions and history, paged, filtered like the
//! API), conversation details, external contacts, wrap-up codes and the agentless send.

use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicUsize, Ordering};
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
        }
    }
    snapshot.captured_at += delta;
    snapshot
}

/// Faults the fake org injects, each decided by hashing the seed with the request's key (the
/// contact of a send, the page of a query, the path otherwise) and how many times that key was
/// asked: the same seed and the same requests give the same faults, whatever their order.
#[derive(Debug, Clone, Copy, Default)]
pub struct FaultPlan {
    pub seed: u64,
    /// Per attempt: answer 503 without acting on the request.
    pub p_503: f64,
    /// Per key: its first `burst_429` attempts answer 429 with `Retry-After: 0`.
    pub p_burst_429: f64,
    pub burst_429: u32,
    /// Per attempt: act on the request, then drop the connection without an answer.
    pub p_reset: f64,
    /// Per attempt: act on the request, then answer after the client's timeout.
    pub p_slow: f64,
    /// Revoke the current token after every this many API requests (0: never); the next
    /// login gets a new one.
    pub revoke_token_every: usize,
    /// Per page request after the first: the active sessions shift by one between pages (a
    /// session started or ended meanwhile), so a page repeats or skips one.
    pub p_page_shift: f64,
}

/// How many faults of each kind the fake injected.
#[derive(Debug, Default)]
pub struct FaultCounts {
    pub unavailable_503: AtomicUsize,
    pub too_many_429: AtomicUsize,
    pub reset: AtomicUsize,
    pub slow: AtomicUsize,
    pub revoked: AtomicUsize,
    pub page_shift: AtomicUsize,
}

impl FaultCounts {
    pub fn get(&self) -> [(&'static str, usize); 6] {
        let n = |c: &AtomicUsize| c.load(Ordering::SeqCst);
        [
            ("503", n(&self.unavailable_503)),
            ("429", n(&self.too_many_429)),
            ("reset", n(&self.reset)),
            ("slow", n(&self.slow)),
            ("revoked", n(&self.revoked)),
            ("page_shift", n(&self.page_shift)),
        ]
    }
}

/// The fake org. `refuse_sends_to` makes sends to these contacts answer 403.
pub struct FakeGenesys {
    pub server: MockServer,
    /// The sends the org acted on (delivered, refused, or delivered with a lost answer); not
    /// those it answered 503 or 429 without acting.
    pub sends: Arc<Mutex<Vec<Request>>>,
    pub faults: Arc<FaultCounts>,
    /// How long every send takes to answer (after the org acted on it).
    send_delay: Arc<Mutex<std::time::Duration>>,
    /// Holds the settings file: no pacing worth waiting for in tests.
    settings: tempfile::TempDir,
}

struct Org {
    snapshot: Snapshot,
    refuse_sends_to: HashSet<String>,
    slow_sends_to: HashSet<String>,
    sends: Arc<Mutex<Vec<Request>>>,
    send_delay: Arc<Mutex<std::time::Duration>>,
    plan: Option<FaultPlan>,
    faults: Arc<FaultCounts>,
    /// Attempts per request key, for the fault plan.
    attempts: Mutex<HashMap<String, u32>>,
    /// The current token's number (`fake-token-<n>`) and the API requests it has served.
    token: Mutex<(usize, usize)>,
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
        let timeout = if slow_sends_to.is_empty() { "10s" } else { "1s" };
        FakeGenesys::start_full(snapshot, refuse_sends_to, slow_sends_to, None, timeout, 1).await
    }

    /// An org that injects the faults of `plan`; the client times out after 1 s (slow answers
    /// take [`SLOW`]) and retries up to `max_retries` times.
    pub async fn start_faulty(snapshot: Snapshot, plan: FaultPlan, max_retries: u32) -> FakeGenesys {
        FakeGenesys::start_full(snapshot, &[], &[], Some(plan), "1s", max_retries).await
    }

    async fn start_full(
        snapshot: Snapshot,
        refuse_sends_to: &[&str],
        slow_sends_to: &[&str],
        plan: Option<FaultPlan>,
        timeout: &str,
        max_retries: u32,
    ) -> FakeGenesys {
        let server = MockServer::start().await;
        let sends = Arc::new(Mutex::new(Vec::new()));
        let faults = Arc::new(FaultCounts::default());
        let send_delay = Arc::new(Mutex::new(std::time::Duration::ZERO));
        let ids = |ids: &[&str]| ids.iter().map(|s| s.to_string()).collect();
        let org = Org {
            snapshot,
            refuse_sends_to: ids(refuse_sends_to),
            slow_sends_to: ids(slow_sends_to),
            sends: sends.clone(),
            send_delay: send_delay.clone(),
            plan,
            faults: faults.clone(),
            attempts: Mutex::new(HashMap::new()),
            token: Mutex::new((1, 0)),
        };
        Mock::given(any()).respond_with(org).mount(&server).await;
        let settings = tempfile::tempdir().unwrap();
        let text = format!("requests_per_minute: 60000\ntimeout: {timeout}\nmax_retries: {max_retries}\n");
        std::fs::write(settings.path().join("runner.yaml"), text).unwrap();
        FakeGenesys { server, sends, faults, send_delay, settings }
    }

    /// Every send answers after `delay` (the org acts on it at once): keeps sends in flight.
    pub fn set_send_delay(&self, delay: std::time::Duration) {
        *self.send_delay.lock().unwrap() = delay;
    }

    /// Sets the client's per-request timeout for the next runs (e.g. longer than a slow send).
    pub fn set_timeout(&self, timeout: &str) {
        let text = format!("requests_per_minute: 60000\ntimeout: {timeout}\nmax_retries: 1\n");
        std::fs::write(self.settings.path().join("runner.yaml"), text).unwrap();
    }

    /// The sends the org acted on, per contact.
    pub fn sends_per_contact(&self) -> HashMap<String, usize> {
        let mut out = HashMap::new();
        for body in self.send_bodies() {
            *out.entry(body["externalContactId"].as_str().unwrap().to_owned()).or_default() += 1;
        }
        out
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

/// A number in [0, 1) from the seed and the parts, the same on every run.
fn roll(seed: u64, parts: &[&dyn std::fmt::Display]) -> f64 {
    // DefaultHasher::new() has fixed keys: deterministic (within one build of the tests).
    let mut h = std::collections::hash_map::DefaultHasher::new();
    seed.hash(&mut h);
    for p in parts {
        p.to_string().hash(&mut h);
    }
    (h.finish() >> 11) as f64 / (1u64 << 53) as f64
}

impl Org {
    /// What the fault plan keys a request by: the same request of a later attempt or run has
    /// the same key (query bodies hold the clock, so they are keyed by their page).
    fn key(request: &Request) -> String {
        let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
        match request.url.path() {
            p if p.ends_with("/agentless") => format!("send {}", body["externalContactId"]),
            p if p.ends_with("/bulk/contacts") => format!("contacts {}", body["entities"]),
            p if p.ends_with("/details/query") => format!(
                "query {} {} page {}",
                body["conversationFilters"][0]["predicates"][0]["operator"],
                body["segmentFilters"][0]["predicates"],
                body["paging"]["pageNumber"]
            ),
            p => format!("{} {p}", request.method),
        }
    }

    /// Answers `request` with the faults of `plan`.
    fn faulty(&self, plan: &FaultPlan, request: &Request) -> ResponseTemplate {
        let key = Org::key(request);
        let attempt = {
            let mut attempts = self.attempts.lock().unwrap();
            let n = attempts.entry(key.clone()).or_default();
            *n += 1;
            *n - 1
        };
        let count = |c: &AtomicUsize| c.fetch_add(1, Ordering::SeqCst);
        let per_attempt = |what: &str| roll(plan.seed, &[&what, &key, &attempt]);
        if attempt < plan.burst_429 && roll(plan.seed, &[&"429", &key]) < plan.p_burst_429 {
            count(&self.faults.too_many_429);
            return error(429, "too.many.requests", "Rate limit exceeded the maximum.")
                .insert_header("Retry-After", "0");
        }
        if per_attempt("503") < plan.p_503 {
            count(&self.faults.unavailable_503);
            return error(503, "service.unavailable", "Service Unavailable");
        }
        let shift =
            if per_attempt("shift") < plan.p_page_shift { if per_attempt("up") < 0.5 { 1 } else { -1 } } else { 0 };
        let response = self.answer(request, shift);
        if per_attempt("reset") < plan.p_reset {
            count(&self.faults.reset);
            // The org acted, then the connection drops before its answer: unwinding out of
            // the responder ends the server's connection task (`resume_unwind` skips the
            // panic hook, so nothing is printed). wiremock cannot cut a body halfway (hyper
            // asserts that Content-Length matches the body).
            std::panic::resume_unwind(Box::new("fault: connection reset"));
        }
        if per_attempt("slow") < plan.p_slow {
            count(&self.faults.slow);
            return response.set_delay(SLOW);
        }
        response
    }

    /// The current token; counts an API request against it and revokes it per the plan.
    fn check_token(&self, request: &Request) -> bool {
        let mut token = self.token.lock().unwrap();
        let current = format!("Bearer fake-token-{}", token.0);
        if request.headers.get("authorization").and_then(|h| h.to_str().ok()) != Some(current.as_str()) {
            return false;
        }
        token.1 += 1;
        let every = self.plan.map_or(0, |p| p.revoke_token_every);
        if every > 0 && token.1 >= every {
            *token = (token.0 + 1, 0);
            self.faults.revoked.fetch_add(1, Ordering::SeqCst);
        }
        true
    }

    fn query(&self, body: &Value, shift: isize) -> ResponseTemplate {
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
        // Between pages, a session may have started (the page repeats one) or ended (skips one).
        let skip = if page_number > 1 { ((page_number - 1) * page_size).saturating_add_signed(shift) } else { 0 };
        if shift != 0 && page_number > 1 {
            self.faults.page_shift.fetch_add(1, Ordering::SeqCst);
        }
        let page: Vec<&&AnalyticsConversation> = found.iter().skip(skip).take(page_size).collect();
        if page.is_empty() {
            // Past the end, the API leaves `conversations` out.
            return ResponseTemplate::new(200).set_body_json(json!({"totalHits": found.len()}));
        }
        ResponseTemplate::new(200).set_body_json(json!({"conversations": page, "totalHits": found.len()}))
    }
}

impl Respond for Org {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        match &self.plan {
            Some(plan) => self.faulty(plan, request),
            None => self.answer(request, 0),
        }
    }
}

impl Org {
    fn answer(&self, request: &Request, shift: isize) -> ResponseTemplate {
        let path = request.url.path();
        let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        match (request.method.as_str(), segments.as_slice()) {
            ("POST", ["oauth", "token"]) => ResponseTemplate::new(200).set_body_json(json!({
                "access_token": format!("fake-token-{}", self.token.lock().unwrap().0),
                "token_type": "bearer", "expires_in": 86400})),
            (_, _) if !self.check_token(request) => {
                error(401, "authentication.required", "No authentication bearer token specified")
            }
            ("POST", ["api", "v2", "analytics", "conversations", "details", "query"]) => {
                self.query(&serde_json::from_slice(&request.body).unwrap(), shift)
            }
            ("GET", ["api", "v2", "conversations", id]) => match self.snapshot.conversation_details.get(*id) {
                Some(details) => ResponseTemplate::new(200).set_body_json(details),
                None => error(404, "not.found", "The requested conversation was not found."),
            },
            ("POST", ["api", "v2", "externalcontacts", "bulk", "contacts"]) => {
                let body: Value = serde_json::from_slice(&request.body).unwrap();
                let ids = body["entities"].as_array().unwrap().iter().map(|e| e["id"].as_str().unwrap());
                // One result per id; a contact the org does not have is a per-id 404.
                let mut errors = Vec::new();
                let results: Vec<Value> = ids
                    .enumerate()
                    .map(|(n, id)| match self.snapshot.external_contacts.get(id) {
                        Some(contact) => json!({"id": id, "success": true, "entity": contact, "status": 200}),
                        None => {
                            errors.push(n);
                            json!({"id": id, "success": false, "status": 404, "error": {
                                "code": "not.found", "status": 404, "retryable": false,
                                "message": "The requested contact was not found."}})
                        }
                    })
                    .collect();
                ResponseTemplate::new(200)
                    .set_body_json(json!({"results": results, "errorCount": errors.len(), "errorIndexes": errors}))
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
                let delay = if self.slow_sends_to.contains(contact) { SLOW } else { *self.send_delay.lock().unwrap() };
                ResponseTemplate::new(200).set_delay(delay).set_body_json(json!({
                    "id": format!("message-{n}"), "conversationId": format!("out-conversation-{n}"),
                    "fromAddress": body["fromAddress"], "messengerType": "webmessaging",
                    "textBody": body["textBody"], "timestamp": "2026-11-24T12:00:01Z"}))
            }
            _ => error(404, "not.found", "No such endpoint in the fake org."),
        }
    }
}
