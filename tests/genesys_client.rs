//! The live Genesys client against a wiremock fake: the exact requests it makes, paging,
//! batching, token handling, retries and error messages. Time is a fake clock: sleeps return
//! at once and are recorded, so retry delays are asserted without waiting.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use jiff::{SignedDuration, Timestamp};
use runner::genesys::client::{Clock, GenesysClient, Pause};
use runner::genesys::config::{ConfigError, GenesysConfig};
use runner::genesys::error::{Failure, SendError};
use runner::source::{Source, SourceError};
use serde_json::{Value, json};
use wiremock::matchers::{body_json, body_string, header, method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const CLIENT_ID: &str = "client-id";
const SECRET: &str = "client-secret";
/// base64("client-id:client-secret")
const BASIC: &str = "Basic Y2xpZW50LWlkOmNsaWVudC1zZWNyZXQ=";
const DEPLOYMENT: &str = "deployment-1";
const QUERY_PATH: &str = "/api/v2/analytics/conversations/details/query";

/// Time that moves only when slept on (or advanced by the test); every sleep is recorded.
struct FakeClock {
    start: Instant,
    elapsed: Mutex<Duration>,
    sleeps: Mutex<Vec<(Duration, Pause)>>,
}

impl FakeClock {
    fn new() -> Arc<Self> {
        Arc::new(FakeClock { start: Instant::now(), elapsed: Mutex::default(), sleeps: Mutex::default() })
    }

    fn advance(&self, by: Duration) {
        *self.elapsed.lock().unwrap() += by;
    }

    fn sleeps(&self, why: Pause) -> Vec<Duration> {
        self.sleeps.lock().unwrap().iter().filter(|(_, w)| *w == why).map(|(d, _)| *d).collect()
    }
}

impl Clock for FakeClock {
    fn now(&self) -> Instant {
        self.start + *self.elapsed.lock().unwrap()
    }

    fn sleep(&self, duration: Duration, why: Pause) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        self.advance(duration);
        self.sleeps.lock().unwrap().push((duration, why));
        Box::pin(std::future::ready(()))
    }
}

fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let map: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    move |k| map.get(k).cloned()
}

fn config(server: &MockServer) -> GenesysConfig {
    let uri = server.uri();
    GenesysConfig::from_env(
        &env(&[
            ("GENESYS_CLIENT_ID", CLIENT_ID),
            ("GENESYS_CLIENT_SECRET", SECRET),
            ("GENESYS_DEPLOYMENT_ID", DEPLOYMENT),
            ("GENESYS_ENV_URL", &uri),
            ("GENESYS_LOGIN_URL", &uri),
        ]),
        None,
    )
    .unwrap()
}

fn client(config: GenesysConfig) -> (GenesysClient, Arc<FakeClock>) {
    let clock = FakeClock::new();
    (GenesysClient::with_clock(config, clock.clone()).unwrap(), clock)
}

/// Answers one login with `token`, valid for `expires_in` seconds.
async fn grant(server: &MockServer, token: &str, expires_in: u64) {
    Mock::given(method("POST"))
        .and(path("/oauth/token"))
        .and(header("authorization", BASIC))
        .and(header("content-type", "application/x-www-form-urlencoded"))
        .and(body_string("grant_type=client_credentials"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": token, "token_type": "bearer", "expires_in": expires_in})))
        .up_to_n_times(1)
        .expect(1)
        .mount(server)
        .await;
}

fn bearer(token: &str) -> wiremock::matchers::HeaderExactMatcher {
    header("authorization", format!("Bearer {token}").as_str())
}

fn conversation(id: &str) -> Value {
    json!({"conversationId": id, "conversationStart": "2026-11-24T10:00:00.000Z", "participants": []})
}

fn conversations(ids: impl IntoIterator<Item = String>) -> Value {
    Value::Array(ids.into_iter().map(|id| conversation(&id)).collect())
}

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

const CONTACTS_PATH: &str = "/api/v2/externalcontacts/bulk/contacts";

fn contact_body(id: &str) -> Value {
    json!({"id": id, "firstName": "Ada", "type": "identified"})
}

/// A bulk contact result: found.
fn found(id: &str) -> Value {
    json!({"id": id, "success": true, "entity": contact_body(id), "status": 200})
}

/// A bulk contact result: failed with `status` and `code`.
fn failed(id: &str, status: u16, code: &str) -> Value {
    json!({"id": id, "success": false, "status": status,
        "error": {"code": code, "message": format!("{code} for {id}"), "status": status, "retryable": false}})
}

/// `BulkFetchContactsResponse` with these results.
fn bulk_answer(results: &[Value]) -> Value {
    let errors: Vec<usize> =
        results.iter().enumerate().filter(|(_, r)| r["success"] == false).map(|(n, _)| n).collect();
    json!({"results": results, "errorCount": errors.len(), "errorIndexes": errors})
}

fn bulk_body(ids: &[&str]) -> Value {
    json!({"entities": ids.iter().map(|id| json!({"id": id})).collect::<Vec<_>>()})
}

async fn requests_to(server: &MockServer, wanted: &str) -> Vec<Request> {
    server.received_requests().await.unwrap_or_default().into_iter().filter(|r| r.url.path() == wanted).collect()
}

#[tokio::test]
async fn login_uses_basic_auth_and_the_client_credentials_form_then_bearer() {
    let server = MockServer::start().await;
    grant(&server, "tok-1", 86_400).await;
    Mock::given(method("GET"))
        .and(path("/api/v2/conversations/conv-1"))
        .and(bearer("tok-1"))
        .and(header("accept", "application/json"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"id": "conv-1", "participants": [{"attributes": {"k": "v"}}]})),
        )
        .expect(2)
        .mount(&server)
        .await;
    let (client, _) = client(config(&server));

    let first = client.conversation("conv-1").await.unwrap();
    let first: serde_json::Value = serde_json::from_str(first.get()).unwrap();
    assert_eq!(first, json!({"id": "conv-1", "participants": [{"attributes": {"k": "v"}}]}));
    client.conversation("conv-1").await.unwrap();
    // One login for both calls (grant expects exactly one).
}

#[tokio::test]
async fn the_token_is_renewed_shortly_before_it_expires() {
    let server = MockServer::start().await;
    grant(&server, "tok-1", 600).await;
    grant(&server, "tok-2", 600).await;
    for (token, times) in [("tok-1", 2), ("tok-2", 1)] {
        Mock::given(method("POST"))
            .and(path(CONTACTS_PATH))
            .and(bearer(token))
            .respond_with(ResponseTemplate::new(200).set_body_json(bulk_answer(&[found("ext-1")])))
            .expect(times)
            .mount(&server)
            .await;
    }
    let (client, clock) = client(config(&server));
    let ids = ["ext-1".to_owned()];

    client.contacts(&ids).await.unwrap();
    clock.advance(Duration::from_secs(8 * 60)); // 2 min left: still used
    client.contacts(&ids).await.unwrap();
    clock.advance(Duration::from_secs(61)); // under a minute left (a tenth of 600 s): renewed
    let contacts = client.contacts(&ids).await.unwrap();
    assert_eq!(contacts.get("ext-1").unwrap().unwrap().first_name.as_deref(), Some("Ada"));
}

#[tokio::test]
async fn a_401_logs_in_again_and_repeats_the_request_once() {
    let server = MockServer::start().await;
    grant(&server, "tok-1", 86_400).await;
    grant(&server, "tok-2", 86_400).await;
    Mock::given(method("GET"))
        .and(path("/api/v2/conversations/conv-1"))
        .and(bearer("tok-1"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({
            "message": "Authentication required", "code": "authentication.required", "status": 401})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v2/conversations/conv-1"))
        .and(bearer("tok-2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": "conv-1"})))
        .expect(1)
        .mount(&server)
        .await;
    let (client, _) = client(config(&server));

    let raw = client.conversation("conv-1").await.unwrap();
    assert_eq!(serde_json::from_str::<serde_json::Value>(raw.get()).unwrap(), json!({"id": "conv-1"}));
}

#[tokio::test]
async fn a_second_401_is_reported_as_a_credentials_problem() {
    let server = MockServer::start().await;
    grant(&server, "tok-1", 86_400).await;
    grant(&server, "tok-2", 86_400).await;
    Mock::given(method("GET"))
        .and(path("/api/v2/conversations/conv-1"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({"code": "bad.credentials", "status": 401})))
        .expect(2)
        .mount(&server)
        .await;
    let (client, _) = client(config(&server));

    let Err(SourceError::Api(e)) = client.conversation("conv-1").await else { panic!("expected an API error") };
    assert_eq!(e.status(), Some(401));
    assert!(e.to_string().contains("GENESYS_CLIENT_ID"), "{e}");
}

fn active_query(page: u32) -> Value {
    json!({"interval": "2026-11-23T12:00:00.000Z/2026-11-24T12:00:00.000Z",
        "order": "desc", "orderBy": "conversationStart",
        "paging": {"pageSize": 100, "pageNumber": page},
        "conversationFilters": [{"type": "and", "predicates": [
            {"type": "dimension", "dimension": "conversationEnd", "operator": "notExists"}]}],
        "segmentFilters": [{"type": "and", "predicates": [
            {"type": "dimension", "dimension": "mediaType", "value": "message"},
            {"type": "dimension", "dimension": "messageType", "value": "webmessaging"}]}]})
}

async fn answer_query(server: &MockServer, body: Value, answer: Value) {
    Mock::given(method("POST"))
        .and(path(QUERY_PATH))
        .and(bearer("tok-1"))
        .and(header("content-type", "application/json"))
        .and(body_json(body))
        .respond_with(ResponseTemplate::new(200).set_body_json(answer))
        .expect(1)
        .mount(server)
        .await;
}

#[tokio::test]
async fn active_sessions_page_until_a_short_page_and_drop_overlapping_duplicates() {
    let server = MockServer::start().await;
    grant(&server, "tok-1", 86_400).await;
    let page1 = conversations((0..100).map(|i| format!("c{i}")));
    // The data moved while paging: page 2 starts with the last conversation of page 1.
    let page2 = conversations((99..150).map(|i| format!("c{i}")));
    answer_query(&server, active_query(1), json!({"totalHits": 150, "conversations": page1})).await;
    answer_query(&server, active_query(2), json!({"totalHits": 150, "conversations": page2})).await;
    let (client, _) = client(config(&server));

    let sessions =
        runner::source::all_active_sessions(&client, ts("2026-11-24T12:00:00Z"), SignedDuration::from_hours(24))
            .await
            .unwrap();
    let ids: Vec<&str> = sessions.iter().map(|c| c.conversation_id.as_str()).collect();
    let expected: Vec<String> = (0..150).map(|i| format!("c{i}")).collect();
    assert_eq!(ids, expected);
}

/// Pages 2.. are asked together once page 1 tells the hits, and taken in page order; a count
/// that grew meanwhile is followed page by page; no page is asked past the hits (each mock
/// expects exactly one request).
#[tokio::test]
async fn active_sessions_pages_after_the_first_are_asked_together_and_kept_in_order() {
    let server = MockServer::start().await;
    grant(&server, "tok-1", 86_400).await;
    let page = |range: std::ops::Range<usize>| conversations(range.map(|i| format!("c{i}")));
    answer_query(&server, active_query(1), json!({"totalHits": 300, "conversations": page(0..100)})).await;
    answer_query(&server, active_query(2), json!({"totalHits": 300, "conversations": page(100..200)})).await;
    // By page 3 two more hits came in: page 4 is read too, and nothing after it.
    answer_query(&server, active_query(3), json!({"totalHits": 302, "conversations": page(200..300)})).await;
    answer_query(&server, active_query(4), json!({"totalHits": 302, "conversations": page(300..302)})).await;
    let (client, _) = client(config(&server));

    let sessions =
        runner::source::all_active_sessions(&client, ts("2026-11-24T12:00:00Z"), SignedDuration::from_hours(24))
            .await
            .unwrap();
    let ids: Vec<&str> = sessions.iter().map(|c| c.conversation_id.as_str()).collect();
    let expected: Vec<String> = (0..302).map(|i| format!("c{i}")).collect();
    assert_eq!(ids, expected);
}

#[tokio::test]
async fn active_sessions_stop_when_the_conversations_key_is_absent() {
    let server = MockServer::start().await;
    grant(&server, "tok-1", 86_400).await;
    answer_query(&server, active_query(1), json!({"conversations": conversations((0..100).map(|i| format!("c{i}")))}))
        .await;
    answer_query(&server, active_query(2), json!({"totalHits": 100})).await;
    let (client, _) = client(config(&server));

    let sessions =
        runner::source::all_active_sessions(&client, ts("2026-11-24T12:00:00Z"), SignedDuration::from_hours(24))
            .await
            .unwrap();
    assert_eq!(sessions.len(), 100);
}

fn history_query(ids: &[String]) -> Value {
    let predicates: Vec<Value> =
        ids.iter().map(|id| json!({"type": "dimension", "dimension": "externalContactId", "value": id})).collect();
    // The interval reaches back 7 days before the window (it selects by start).
    json!({"interval": "2026-10-25T00:00:00.000Z/2026-11-24T12:00:00.000Z",
        "order": "desc", "orderBy": "conversationStart",
        "paging": {"pageSize": 100, "pageNumber": 1},
        "conversationFilters": [{"type": "and", "predicates": [
            {"type": "dimension", "dimension": "conversationEnd", "operator": "exists"}]}],
        "segmentFilters": [{"type": "or", "predicates": predicates}]})
}

#[tokio::test]
async fn history_splits_contacts_into_batches_of_history_batch_size() {
    let server = MockServer::start().await;
    grant(&server, "tok-1", 86_400).await;
    let ids: Vec<String> = (0..120).map(|i| format!("ext-{i}")).collect();
    let ended = |id: String, end: &str| {
        json!({"conversationId": id, "conversationStart": "2026-10-30T10:00:00.000Z", "conversationEnd": end,
            "participants": []})
    };
    for (n, batch) in ids.chunks(50).enumerate() {
        // Each batch finds its own conversation, and all find one shared by two contacts. The
        // first batch also finds one that started before the window and ended in it (kept), and
        // one that ended before the window (dropped).
        let mut found = vec![
            ended(format!("h{n}"), "2026-11-10T10:00:00.000Z"),
            ended("shared".into(), "2026-11-02T10:00:00.000Z"),
        ];
        if n == 0 {
            found.push(ended("straddles".into(), "2026-11-01T00:00:00.000Z"));
            found.push(ended("too-early".into(), "2026-10-31T23:59:59.000Z"));
        }
        answer_query(&server, history_query(batch), json!({"totalHits": found.len(), "conversations": found})).await;
    }
    let (client, _) = client(config(&server));

    let history = runner::source::all_history(&client, &ids, ts("2026-11-01T00:00:00Z"), ts("2026-11-24T12:00:00Z"))
        .await
        .unwrap();
    let got: Vec<&str> = history.iter().map(|c| c.conversation_id.as_str()).collect();
    assert_eq!(got, ["h0", "shared", "straddles", "h1", "h2"]);
    let sizes: Vec<usize> = requests_to(&server, QUERY_PATH)
        .await
        .iter()
        .map(|r| r.body_json::<Value>().unwrap()["segmentFilters"][0]["predicates"].as_array().unwrap().len())
        .collect();
    assert_eq!(sizes, [50, 50, 20]);
}

#[tokio::test]
async fn wrapup_codes_are_read_page_by_page_up_to_page_count() {
    let server = MockServer::start().await;
    grant(&server, "tok-1", 86_400).await;
    for page in 1..=3u32 {
        Mock::given(method("GET"))
            .and(path("/api/v2/routing/wrapupcodes"))
            .and(bearer("tok-1"))
            .and(wiremock::matchers::query_param("pageNumber", page.to_string()))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "entities": [{"id": format!("w{page}"), "name": format!("Code {page}")}],
                "pageSize": 100, "pageNumber": page, "pageCount": 3, "total": 3})))
            .expect(1)
            .mount(&server)
            .await;
    }
    let (client, _) = client(config(&server));

    let codes = client.wrapup_codes().await.unwrap();
    let names: Vec<&str> = codes.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["Code 1", "Code 2", "Code 3"]);
    let queries: Vec<String> = requests_to(&server, "/api/v2/routing/wrapupcodes")
        .await
        .iter()
        .map(|r| r.url.query().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(queries, ["pageSize=100&pageNumber=1", "pageSize=100&pageNumber=2", "pageSize=100&pageNumber=3"]);
}

#[tokio::test]
async fn a_missing_conversation_is_named() {
    let server = MockServer::start().await;
    grant(&server, "tok-1", 86_400).await;
    let not_found = ResponseTemplate::new(404).set_body_json(json!({"code": "not.found", "status": 404}));
    Mock::given(method("GET"))
        .and(path("/api/v2/conversations/gone-conv"))
        .respond_with(not_found)
        .mount(&server)
        .await;
    let (client, _) = client(config(&server));

    let Err(SourceError::Api(e)) = client.conversation("gone-conv").await else { panic!("expected an API error") };
    assert!(e.to_string().contains("conversation `gone-conv` does not exist"), "{e}");
}

#[tokio::test]
async fn contacts_are_fetched_in_bulk_and_each_result_is_read_on_its_own() {
    let server = MockServer::start().await;
    grant(&server, "tok-1", 86_400).await;
    // The exact request: the ids as `BulkIdsRequest` entities (a repeated id once), the token.
    Mock::given(method("POST"))
        .and(path(CONTACTS_PATH))
        .and(bearer("tok-1"))
        .and(header("accept", "application/json"))
        .and(header("content-type", "application/json"))
        .and(body_json(bulk_body(&["ext-1", "gone", "hidden", "unsaid", "odd"])))
        .respond_with(ResponseTemplate::new(200).insert_header("ININ-Correlation-Id", "corr-7").set_body_json(
            bulk_answer(&[
                // Any order: results are matched by id.
                failed("hidden", 403, "missing.division.permission"),
                found("ext-1"),
                failed("gone", 404, "not.found"),
                json!({"id": "odd", "success": false}),
                found("not-asked"),
            ]),
        ))
        .expect(1)
        .mount(&server)
        .await;
    let (client, _) = client(config(&server));

    let ids = ["ext-1", "gone", "hidden", "ext-1", "unsaid", "odd"].map(String::from);
    let contacts = client.contacts(&ids).await.unwrap();
    assert_eq!(contacts.get("ext-1").unwrap().unwrap().first_name.as_deref(), Some("Ada"));
    // Not found: the contact does not exist.
    assert!(contacts.get("gone").unwrap().is_none());
    // A per-id error fails that id alone, typed like a request's error, with the permission.
    let Err(SourceError::Api(e)) = contacts.get("hidden") else { panic!("a per-id 403 was not a failure") };
    assert_eq!(
        (e.status(), e.code(), e.target.as_deref()),
        (Some(403), Some("missing.division.permission"), Some("hidden"))
    );
    assert_eq!(e.correlation_id.as_deref(), Some("corr-7"));
    assert!(e.to_string().contains("`externalContacts:contact:view`"), "{e}");
    // An id the answer does not mention, or a failure without a status, is never read as absent.
    for id in ["unsaid", "odd"] {
        let Err(SourceError::Api(e)) = contacts.get(id) else { panic!("{id} was read as absent or found") };
        assert!(matches!(e.failure, Failure::Decode { .. }), "{e}");
    }
    assert!(!contacts.found.contains_key("not-asked"));
}

#[tokio::test]
async fn contacts_are_split_into_requests_of_at_most_100_ids() {
    let server = MockServer::start().await;
    grant(&server, "tok-1", 86_400).await;
    Mock::given(method("POST"))
        .and(path(CONTACTS_PATH))
        .and(bearer("tok-1"))
        .respond_with(|request: &Request| {
            let body: Value = request.body_json().unwrap();
            let results: Vec<Value> =
                body["entities"].as_array().unwrap().iter().map(|e| found(e["id"].as_str().unwrap())).collect();
            ResponseTemplate::new(200).set_body_json(bulk_answer(&results))
        })
        .expect(3)
        .mount(&server)
        .await;
    let (client, _) = client(config(&server));

    let ids: Vec<String> = (0..250).map(|i| format!("ext-{i}")).collect();
    let contacts = client.contacts(&ids).await.unwrap();
    assert_eq!(contacts.found.len(), 250);
    assert!(contacts.failed.is_empty());
    let mut asked: Vec<Vec<String>> = requests_to(&server, CONTACTS_PATH)
        .await
        .iter()
        .map(|r| {
            let body: Value = r.body_json().unwrap();
            body["entities"].as_array().unwrap().iter().map(|e| e["id"].as_str().unwrap().to_owned()).collect()
        })
        .collect();
    asked.sort_by_key(|batch| std::cmp::Reverse(batch.len()));
    assert_eq!(asked.iter().map(Vec::len).collect::<Vec<_>>(), [100, 100, 50]);
    let mut all: Vec<String> = asked.concat();
    all.sort();
    let mut expected = ids.clone();
    expected.sort();
    assert_eq!(all, expected, "every id asked exactly once");
}

#[tokio::test]
async fn a_refused_bulk_contact_request_names_the_permission_and_fails_as_a_whole() {
    let server = MockServer::start().await;
    grant(&server, "tok-1", 86_400).await;
    Mock::given(method("POST"))
        .and(path(CONTACTS_PATH))
        .respond_with(ResponseTemplate::new(403).set_body_json(json!({
            "message": "You are missing the following permission(s): [externalContacts:contact:view]",
            "code": "missing.permissions", "status": 403})))
        .expect(1)
        .mount(&server)
        .await;
    let (client, _) = client(config(&server));

    let Err(SourceError::Api(e)) = client.contacts(&["ext-1".to_owned()]).await else {
        panic!("a refused request was not an error")
    };
    assert_eq!(e.status(), Some(403));
    let text = e.to_string();
    assert!(text.starts_with("POST /api/v2/externalcontacts/bulk/contacts"), "{text}");
    assert!(text.contains("`externalContacts:contact:view`") && text.contains("OAuth client's role"), "{text}");
}

fn send_body() -> Value {
    json!({"fromAddress": DEPLOYMENT, "toAddressMessengerType": "webmessaging",
        "externalContactId": "ext-1", "textBody": "Hi Ada", "useExistingActiveConversation": true})
}

fn send_mock() -> wiremock::MockBuilder {
    Mock::given(method("POST"))
        .and(path("/api/v2/conversations/messages/agentless"))
        .and(bearer("tok-1"))
        .and(header("content-type", "application/json"))
        .and(body_json(send_body()))
}

fn sent() -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({"id": "msg-1", "conversationId": "conv-9",
        "fromAddress": DEPLOYMENT, "messengerType": "webmessaging", "timestamp": "2026-11-24T12:00:01Z"}))
}

#[tokio::test]
async fn send_posts_an_agentless_web_message() {
    let server = MockServer::start().await;
    grant(&server, "tok-1", 86_400).await;
    send_mock().respond_with(sent()).expect(1).mount(&server).await;
    let (client, _) = client(config(&server));

    let answer = client.send(&client.web_message("ext-1", "Hi Ada")).await.unwrap();
    assert_eq!(answer.id.as_deref(), Some("msg-1"));
    assert_eq!(answer.conversation_id.as_deref(), Some("conv-9"));
}

#[tokio::test]
async fn a_429_waits_exactly_retry_after_then_succeeds() {
    let server = MockServer::start().await;
    grant(&server, "tok-1", 86_400).await;
    send_mock()
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "7").set_body_json(json!({
            "code": "too.many.requests.retry.after", "status": 429})))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    send_mock().respond_with(sent()).expect(1).mount(&server).await;
    let (client, clock) = client(config(&server));

    client.send(&client.web_message("ext-1", "Hi Ada")).await.unwrap();
    assert_eq!(clock.sleeps(Pause::RetryAfter), [Duration::from_secs(7)]);
    assert!(clock.sleeps(Pause::Backoff).is_empty());
}

#[tokio::test]
async fn a_503_backs_off_then_succeeds() {
    let server = MockServer::start().await;
    grant(&server, "tok-1", 86_400).await;
    Mock::given(method("GET"))
        .and(path("/api/v2/conversations/conv-1"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v2/conversations/conv-1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": "conv-1"})))
        .expect(1)
        .mount(&server)
        .await;
    let (client, clock) = client(config(&server));

    client.conversation("conv-1").await.unwrap();
    let backoff = clock.sleeps(Pause::Backoff);
    assert_eq!(backoff.len(), 1);
    assert!(backoff[0] >= Duration::from_millis(250) && backoff[0] <= Duration::from_millis(500), "{backoff:?}");
}

#[tokio::test]
async fn rate_limit_after_all_retries_points_at_requests_per_minute() {
    let server = MockServer::start().await;
    grant(&server, "tok-1", 86_400).await;
    Mock::given(method("GET"))
        .and(path("/api/v2/routing/wrapupcodes"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "1"))
        .expect(3)
        .mount(&server)
        .await;
    let mut config = config(&server);
    config.tuning.max_retries = 2;
    let (client, clock) = client(config);

    let Err(SourceError::Api(e)) = client.wrapup_codes().await else { panic!("expected an API error") };
    assert_eq!(e.status(), Some(429));
    assert!(e.to_string().contains("requests_per_minute"), "{e}");
    assert_eq!(clock.sleeps(Pause::RetryAfter), [Duration::from_secs(1); 2]);
}

#[tokio::test]
async fn a_send_that_times_out_is_uncertain_and_never_repeated() {
    let server = MockServer::start().await;
    grant(&server, "tok-1", 86_400).await;
    send_mock().respond_with(sent().set_delay(Duration::from_secs(10))).expect(1).mount(&server).await;
    let mut config = config(&server);
    config.tuning.timeout = Duration::from_millis(200);
    let (client, clock) = client(config);

    let error = client.send(&client.web_message("ext-1", "Hi Ada")).await.unwrap_err();
    let SendError::Uncertain(e) = &error else { panic!("expected Uncertain, got {error:?}") };
    assert_eq!(e.failure, Failure::Timeout);
    assert!(clock.sleeps(Pause::Backoff).is_empty());
    assert_eq!(requests_to(&server, "/api/v2/conversations/messages/agentless").await.len(), 1);
}

#[tokio::test]
async fn a_gateway_timeout_after_a_send_is_uncertain_and_never_repeated() {
    let server = MockServer::start().await;
    grant(&server, "tok-1", 86_400).await;
    send_mock().respond_with(ResponseTemplate::new(504)).expect(1).mount(&server).await;
    let (client, _) = client(config(&server));

    let error = client.send(&client.web_message("ext-1", "Hi Ada")).await.unwrap_err();
    assert!(matches!(&error, SendError::Uncertain(e) if e.status() == Some(504)), "{error:?}");
}

#[tokio::test]
async fn a_send_that_cannot_connect_is_retried_then_definitely_failed() {
    let server = MockServer::start().await;
    grant(&server, "tok-1", 86_400).await;
    // A port nobody listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let config = GenesysConfig::from_env(
        &env(&[
            ("GENESYS_CLIENT_ID", CLIENT_ID),
            ("GENESYS_CLIENT_SECRET", SECRET),
            ("GENESYS_DEPLOYMENT_ID", DEPLOYMENT),
            ("GENESYS_ENV_URL", &format!("http://{closed}")),
            ("GENESYS_LOGIN_URL", &server.uri()),
        ]),
        None,
    )
    .unwrap();
    let (client, clock) = client(config);

    let error = client.send(&client.web_message("ext-1", "Hi Ada")).await.unwrap_err();
    let SendError::Failed(e) = &error else { panic!("expected Failed, got {error:?}") };
    assert!(matches!(e.failure, Failure::Connect { .. }), "{e:?}");
    assert!(e.to_string().contains("GENESYS_ENV_URL"), "{e}");
    assert_eq!(clock.sleeps(Pause::Backoff).len(), 4);
}

#[tokio::test]
async fn a_403_names_the_missing_permission_and_the_correlation_id() {
    let server = MockServer::start().await;
    grant(&server, "tok-1", 86_400).await;
    Mock::given(method("POST"))
        .and(path(QUERY_PATH))
        .respond_with(
            ResponseTemplate::new(403)
                .insert_header("ININ-Correlation-Id", "corr-42")
                .set_body_json(json!({"message": "Unable to perform the requested action. You are missing the following permission(s): [analytics:conversationDetail:view]",
                    "code": "missing.permissions", "status": 403})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let (client, _) = client(config(&server));

    let Err(SourceError::Api(e)) =
        runner::source::all_active_sessions(&client, ts("2026-11-24T12:00:00Z"), SignedDuration::from_hours(24)).await
    else {
        panic!("expected an API error")
    };
    assert_eq!((e.status(), e.code()), (Some(403), Some("missing.permissions")));
    assert_eq!(e.correlation_id.as_deref(), Some("corr-42"));
    let text = e.to_string();
    assert!(text.contains("`analytics:conversationDetail:view`") && text.contains("OAuth client's role"), "{text}");
    assert!(text.contains("corr-42"), "{text}");
}

#[tokio::test]
async fn requests_are_paced_to_requests_per_minute() {
    let server = MockServer::start().await;
    grant(&server, "tok-1", 86_400).await;
    Mock::given(method("GET"))
        .and(path("/api/v2/conversations/conv-1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": "conv-1"})))
        .expect(3)
        .mount(&server)
        .await;
    let mut config = config(&server);
    config.tuning.requests_per_minute = 60;
    let (client, clock) = client(config);

    for _ in 0..3 {
        client.conversation("conv-1").await.unwrap();
    }
    assert_eq!(clock.sleeps(Pause::RateLimit), [Duration::from_secs(1); 2]);
}

#[tokio::test]
async fn a_refused_login_names_the_credentials_and_never_the_secret() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/oauth/token"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "error": "invalid_client", "description": "client not found", "error_description": "client not found"})))
        .expect(1)
        .mount(&server)
        .await;
    let (client, _) = client(config(&server));

    let Err(SourceError::Api(e)) = client.wrapup_codes().await else { panic!("expected an API error") };
    assert_eq!(e.code(), Some("invalid_client"));
    let text = e.to_string();
    assert!(text.contains("GENESYS_CLIENT_SECRET") && text.contains("GENESYS_REGION"), "{text}");
    assert!(!text.contains(SECRET) && !format!("{e:?}").contains(SECRET));
    assert!(!format!("{client:?}").contains(SECRET));
}

#[test]
fn the_secret_never_shows_in_debug() {
    let config = GenesysConfig::from_env(
        &env(&[
            ("GENESYS_CLIENT_ID", CLIENT_ID),
            ("GENESYS_CLIENT_SECRET", SECRET),
            ("GENESYS_DEPLOYMENT_ID", DEPLOYMENT),
            ("GENESYS_REGION", "mypurecloud.ie"),
        ]),
        None,
    )
    .unwrap();
    let debug = format!("{config:?}");
    assert!(debug.contains(CLIENT_ID) && debug.contains("***"), "{debug}");
    assert!(!debug.contains(SECRET), "{debug}");
    let client = GenesysClient::new(config).unwrap();
    assert!(!format!("{client:?}").contains(SECRET));
}

#[test]
fn one_error_names_every_missing_variable() {
    let e = GenesysConfig::from_env(&env(&[("GENESYS_CLIENT_SECRET", "   ")]), None).unwrap_err();
    assert_eq!(
        e,
        ConfigError::Missing(vec![
            "GENESYS_CLIENT_ID",
            "GENESYS_CLIENT_SECRET",
            "GENESYS_REGION",
            "GENESYS_DEPLOYMENT_ID"
        ])
    );
    let text = e.to_string();
    for name in ["GENESYS_CLIENT_ID", "GENESYS_CLIENT_SECRET", "GENESYS_REGION", "GENESYS_DEPLOYMENT_ID"] {
        assert!(text.contains(name), "{text}");
    }
}

#[test]
fn plain_http_to_a_remote_host_is_refused() {
    let e = GenesysConfig::from_env(
        &env(&[
            ("GENESYS_CLIENT_ID", CLIENT_ID),
            ("GENESYS_CLIENT_SECRET", SECRET),
            ("GENESYS_DEPLOYMENT_ID", DEPLOYMENT),
            ("GENESYS_ENV_URL", "http://api.example.com"),
            ("GENESYS_LOGIN_URL", "https://login.example.com"),
        ]),
        None,
    )
    .unwrap_err();
    assert!(matches!(&e, ConfigError::BadUrl { variable: "GENESYS_ENV_URL", .. }), "{e}");
    assert!(e.to_string().contains("loopback"), "{e}");
}

#[tokio::test]
async fn a_redirect_is_never_followed_to_another_host() {
    // Only the configured hosts get requests: a redirect elsewhere (even another loopback
    // port) is an error, not a request carrying the token or a customer's data.
    let server = MockServer::start().await;
    let elsewhere = MockServer::start().await;
    grant(&server, "tok-1", 86_400).await;
    let target = format!("{}{CONTACTS_PATH}", elsewhere.uri());
    Mock::given(method("POST"))
        .and(path(CONTACTS_PATH))
        .respond_with(ResponseTemplate::new(307).insert_header("location", target.as_str()))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/v2/conversations/messages/agentless"))
        .respond_with(ResponseTemplate::new(307).insert_header("location", elsewhere.uri().as_str()))
        .mount(&server)
        .await;
    let (client, _) = client(config(&server));
    assert!(client.contacts(&["c-1".to_owned()]).await.is_err());
    let request = client.web_message("c-1", "Hello");
    assert!(matches!(client.send(&request).await, Err(SendError::Failed(_))));
    assert!(elsewhere.received_requests().await.unwrap().is_empty(), "a redirect was followed");
}

#[tokio::test]
async fn invalid_utf8_from_the_api_is_a_clear_decode_error() {
    let server = MockServer::start().await;
    grant(&server, "tok-1", 86_400).await;
    let mut body = br#"{"results": [{"id": "c-1", "success": true, "entity": {"id": "c-1", "firstName": "Zo"#.to_vec();
    body.extend_from_slice(&[0xff, 0xfe]);
    body.extend_from_slice(br#"{{ 7 * 7 }}"}}]}"#);
    Mock::given(method("POST"))
        .and(path(CONTACTS_PATH))
        .respond_with(ResponseTemplate::new(200).set_body_raw(body, "application/json"))
        .mount(&server)
        .await;
    let (client, _) = client(config(&server));
    let Err(SourceError::Api(e)) = client.contacts(&["c-1".to_owned()]).await else {
        panic!("invalid UTF-8 was accepted")
    };
    assert!(matches!(e.failure, Failure::Decode { .. }), "{e}");
    assert!(e.to_string().contains("externalcontacts/bulk/contacts"), "{e}");
}

/// A raw HTTP server whose every answer is a 200 cut off mid-body (a `Content-Length` of 100,
/// then 7 bytes and a closed connection). Counts the requests it read.
async fn cut_off_server() -> (String, Arc<Mutex<Vec<String>>>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let requests = Arc::new(Mutex::new(Vec::new()));
    let seen = requests.clone();
    tokio::spawn(async move {
        loop {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut buffer = Vec::new();
            let mut chunk = [0u8; 4096];
            // The head, then as much body as it announces.
            while let Ok(n) = socket.read(&mut chunk).await {
                if n == 0 {
                    break;
                }
                buffer.extend_from_slice(&chunk[..n]);
                let text = String::from_utf8_lossy(&buffer).to_string();
                if let Some(end) = text.find("\r\n\r\n") {
                    let length = text[..end]
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().to_owned())
                        })
                        .and_then(|v| v.parse::<usize>().ok())
                        .unwrap_or(0);
                    if buffer.len() >= end + 4 + length {
                        seen.lock().unwrap().push(text.lines().next().unwrap_or_default().to_owned());
                        break;
                    }
                }
            }
            let head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n";
            let _ = socket.write_all(format!("{head}{{\"id\":").as_bytes()).await;
            let _ = socket.shutdown().await;
        }
    });
    (url, requests)
}

#[tokio::test]
async fn an_answer_cut_off_mid_body_repeats_a_read_but_never_a_send() {
    let login = MockServer::start().await;
    grant(&login, "tok-1", 86_400).await;
    let (api, requests) = cut_off_server().await;
    let mut config = GenesysConfig::from_env(
        &env(&[
            ("GENESYS_CLIENT_ID", CLIENT_ID),
            ("GENESYS_CLIENT_SECRET", SECRET),
            ("GENESYS_DEPLOYMENT_ID", DEPLOYMENT),
            ("GENESYS_ENV_URL", &api),
            ("GENESYS_LOGIN_URL", &login.uri()),
        ]),
        None,
    )
    .unwrap();
    config.tuning.max_retries = 2;
    let (client, _) = client(config);

    // A read: repeated (safe), then reported as a broken answer.
    let Err(SourceError::Api(e)) = client.contacts(&["c-1".to_owned()]).await else {
        panic!("a cut-off answer was accepted")
    };
    assert!(matches!(e.failure, Failure::Transport { .. }), "{e}");
    assert_eq!(requests.lock().unwrap().len(), 3, "{:?}", requests.lock().unwrap());

    // A send: Genesys answered 200, so the message went out: sent, never repeated.
    requests.lock().unwrap().clear();
    let request = client.web_message("c-1", "Hello");
    assert!(client.send(&request).await.is_ok());
    assert_eq!(*requests.lock().unwrap(), ["POST /api/v2/conversations/messages/agentless HTTP/1.1"]);
}
