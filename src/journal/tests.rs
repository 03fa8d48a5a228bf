//! The journal's guarantees, on SQLite (a temporary file) and on PostgreSQL when
//! `RUNNER_TEST_POSTGRES_URL` is set (each test in a schema of its own, dropped at the end).
//! Every time is passed in: nothing here reads the clock.

use std::collections::HashMap;

use jiff::{SignedDuration, Timestamp};
use sqlx::{AssertSqlSafe, Connection};

use super::backend::{self, Mode};
use super::*;
use crate::campaign::OnceEvery;

const T0: &str = "2026-11-24T12:00:00Z";

fn t0() -> Timestamp {
    T0.parse().expect("a timestamp")
}

/// `T0` plus seconds.
fn at(secs: i64) -> Timestamp {
    t0() + SignedDuration::from_secs(secs)
}

const MINUTE: i64 = 60;
const HOUR: i64 = 3600;
const DAY: i64 = 86_400;

fn every(secs: i64) -> Option<OnceEvery> {
    Some(OnceEvery::Every(SignedDuration::from_secs(secs)))
}

fn request<'a>(
    campaign: &'a str,
    customer: &'a str,
    conversation_id: &'a str,
    once_every: Option<OnceEvery>,
) -> ReserveRequest<'a> {
    ReserveRequest {
        run_id: "test-run",
        key: MessageKey { campaign, customer, conversation_id },
        once_every,
        text: "Hi Ada, your cart is waiting.",
    }
}

/// A journal database for one test.
struct TestDb {
    location: Location,
    _dir: Option<tempfile::TempDir>,
    /// PostgreSQL: the server URL and this test's schema.
    schema: Option<(String, String)>,
}

impl TestDb {
    fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let location = Location::Sqlite(dir.path().join("journal.sqlite"));
        TestDb { location, _dir: Some(dir), schema: None }
    }

    /// `None` (after saying so) when no PostgreSQL is configured.
    async fn postgres(name: &str) -> Option<TestDb> {
        let Ok(url) = std::env::var("RUNNER_TEST_POSTGRES_URL") else {
            // In CI (`.ci/run` sets CI=true and starts a server) a missing URL is a failure.
            assert!(std::env::var("CI").as_deref() != Ok("true"), "CI=true but RUNNER_TEST_POSTGRES_URL is not set");
            println!("skipped: RUNNER_TEST_POSTGRES_URL not set");
            return None;
        };
        let schema = format!("journal_test_{name}_{}_{:08x}", std::process::id(), fastrand::u32(..));
        let mut admin = sqlx::PgConnection::connect(&url).await.expect("RUNNER_TEST_POSTGRES_URL accepts connections");
        sqlx::query(AssertSqlSafe(format!("CREATE SCHEMA {schema}"))).execute(&mut admin).await.expect("create schema");
        let _ = admin.close().await;
        let separator = if url.contains('?') { '&' } else { '?' };
        let location = Location::parse(&format!("{url}{separator}options[search_path]={schema}")).expect("a URL");
        Some(TestDb { location, _dir: None, schema: Some((url, schema)) })
    }

    async fn open(&self, options: JournalOptions) -> Journal {
        Journal::open(&self.location, options).await.expect("the journal opens")
    }

    async fn cleanup(self) {
        if let Some((url, schema)) = &self.schema {
            let mut admin = sqlx::PgConnection::connect(url).await.expect("connect");
            sqlx::query(AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
                .execute(&mut admin)
                .await
                .expect("drop schema");
            let _ = admin.close().await;
        }
    }
}

/// Runs each named `async fn name(db: &TestDb)` as `name::sqlite` and `name::postgres`.
macro_rules! on_both {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                let db = super::TestDb::sqlite();
                super::$name(&db).await;
                db.cleanup().await;
            }

            #[tokio::test]
            async fn postgres() {
                let Some(db) = super::TestDb::postgres(stringify!($name)).await else { return };
                super::$name(&db).await;
                db.cleanup().await;
            }
        }
    )*};
}

on_both!(
    once_every_boundary,
    once_ever,
    once_per_conversation_and_in_flight,
    global_cap_boundary,
    failed_releases_the_caps,
    uncertain_blocks,
    stale_reservations_become_uncertain,
    resolve_only_uncertain,
    marks,
    a_definite_outcome_wins_over_a_guess,
    list_filters_and_problems,
    read_only_never_writes,
    migration_from_version_1,
    newer_journal_is_refused,
    holds_whoever_a_cap_can_find,
);

fn reserved(r: Reserve) -> EntryId {
    match r {
        Reserve::Reserved(id) => id,
        Reserve::Capped(cap) => panic!("expected a reservation, got capped: {cap}"),
    }
}

fn capped(r: Reserve) -> CapInfo {
    match r {
        Reserve::Capped(cap) => cap,
        Reserve::Reserved(id) => panic!("expected capped, got reservation {id}"),
    }
}

/// `once_every 7d`: a message at T blocks until T + 7d exclusive.
async fn once_every_boundary(db: &TestDb) {
    let j = db.open(JournalOptions::default()).await;
    let first = reserved(j.reserve(&request("cart", "ada", "conv-1", every(7 * DAY)), t0()).await.unwrap());
    j.mark_sent(first, Some("g-conv"), Some("g-msg"), at(1)).await.unwrap();

    let cap = capped(j.reserve(&request("cart", "ada", "conv-2", every(7 * DAY)), at(7 * DAY - 1)).await.unwrap());
    assert_eq!(cap.reason, CapReason::OnceEvery(OnceEvery::Every(SignedDuration::from_secs(7 * DAY))));
    assert_eq!((cap.entry, cap.last, cap.until, cap.campaign.as_str()), (first, t0(), Some(at(7 * DAY)), "cart"));
    // The dry run sees the same.
    let key = MessageKey { campaign: "cart", customer: "ada", conversation_id: "conv-2" };
    assert_eq!(j.would_cap(&key, every(7 * DAY), at(7 * DAY - 1)).await.unwrap(), Some(cap));
    assert_eq!(j.would_cap(&key, every(7 * DAY), at(7 * DAY)).await.unwrap(), None);

    // Another campaign, or another customer, is not affected.
    reserved(j.reserve(&request("other", "ada", "conv-2", every(7 * DAY)), at(HOUR)).await.unwrap());
    reserved(j.reserve(&request("cart", "bob", "conv-3", every(7 * DAY)), at(HOUR)).await.unwrap());

    let second = reserved(j.reserve(&request("cart", "ada", "conv-2", every(7 * DAY)), at(7 * DAY)).await.unwrap());
    assert_ne!(first, second);
}

async fn once_ever(db: &TestDb) {
    let j = db.open(JournalOptions::default()).await;
    let first = reserved(j.reserve(&request("welcome", "ada", "conv-1", Some(OnceEvery::Ever)), t0()).await.unwrap());
    j.mark_sent(first, None, None, t0()).await.unwrap();
    let cap =
        capped(j.reserve(&request("welcome", "ada", "conv-9", Some(OnceEvery::Ever)), at(3650 * DAY)).await.unwrap());
    assert_eq!((cap.reason, cap.entry, cap.until), (CapReason::OnceEvery(OnceEvery::Ever), first, None));
    // A reservation made "later" by a runner whose clock is behind still counts.
    let cap = capped(j.reserve(&request("welcome", "ada", "conv-9", Some(OnceEvery::Ever)), at(-DAY)).await.unwrap());
    assert_eq!(cap.entry, first);
}

/// Without `once_every`, a campaign still messages a conversation once, and one at a time.
async fn once_per_conversation_and_in_flight(db: &TestDb) {
    let j = db.open(JournalOptions::default()).await;
    let first = reserved(j.reserve(&request("nudge", "ada", "conv-1", None), t0()).await.unwrap());
    // In flight: another conversation of the same customer waits for the outcome.
    let cap = capped(j.reserve(&request("nudge", "ada", "conv-2", None), at(1)).await.unwrap());
    assert_eq!((cap.reason, cap.entry), (CapReason::InFlight, first));
    j.mark_sent(first, None, None, at(2)).await.unwrap();

    let cap = capped(j.reserve(&request("nudge", "ada", "conv-1", None), at(365 * DAY)).await.unwrap());
    assert_eq!((cap.reason, cap.entry, cap.until), (CapReason::SameConversation, first, None));
    // A new conversation may get it again (no once_every).
    reserved(j.reserve(&request("nudge", "ada", "conv-2", None), at(3)).await.unwrap());
    // Another campaign may message the same conversation.
    reserved(j.reserve(&request("other", "ada", "conv-1", None), at(4)).await.unwrap());
}

/// Global cap 2 per 24h across campaigns: the third message waits until the oldest leaves the window.
async fn global_cap_boundary(db: &TestDb) {
    let cap = GlobalCap::new(2, SignedDuration::from_hours(24)).unwrap();
    let j = db.open(JournalOptions { global_cap: Some(cap), ..JournalOptions::default() }).await;
    let a = reserved(j.reserve(&request("a", "ada", "conv-1", None), t0()).await.unwrap());
    j.mark_sent(a, None, None, t0()).await.unwrap();
    let b = reserved(j.reserve(&request("b", "ada", "conv-1", None), at(HOUR)).await.unwrap());
    j.mark_sent(b, None, None, at(HOUR)).await.unwrap();

    let info = capped(j.reserve(&request("c", "ada", "conv-1", None), at(DAY - 1)).await.unwrap());
    assert_eq!(info.reason, CapReason::Global(cap));
    assert_eq!((info.campaign.as_str(), info.entry, info.last), ("b", b, at(HOUR)));
    assert_eq!(info.until, Some(at(DAY)), "free once `a` leaves the window");
    // Another customer is not affected.
    reserved(j.reserve(&request("c", "bob", "conv-2", None), at(DAY - 1)).await.unwrap());
    // At exactly 24h after `a`, only `b` is in the window.
    reserved(j.reserve(&request("c", "ada", "conv-1", None), at(DAY)).await.unwrap());
    // Now `b` and `c` are: capped again until 24h after `b`.
    let info = capped(j.reserve(&request("d", "ada", "conv-1", None), at(DAY + 1)).await.unwrap());
    assert_eq!(info.until, Some(at(DAY + HOUR)));
}

async fn failed_releases_the_caps(db: &TestDb) {
    let cap = GlobalCap::new(1, SignedDuration::from_hours(24)).unwrap();
    let j = db.open(JournalOptions { global_cap: Some(cap), ..JournalOptions::default() }).await;
    let first = reserved(j.reserve(&request("cart", "ada", "conv-1", every(7 * DAY)), t0()).await.unwrap());
    j.mark_failed(first, "400 Bad Request: the conversation has ended", at(1)).await.unwrap();
    let entry = j.get(first).await.unwrap().unwrap();
    assert_eq!(entry.state, State::Failed);
    assert_eq!(entry.error.as_deref(), Some("400 Bad Request: the conversation has ended"));
    // Same campaign, same conversation, within once_every and the global cap: allowed again.
    reserved(j.reserve(&request("cart", "ada", "conv-1", every(7 * DAY)), at(MINUTE)).await.unwrap());
}

/// Uncertain counts as sent, for every cap.
async fn uncertain_blocks(db: &TestDb) {
    let cap = GlobalCap::new(1, SignedDuration::from_hours(24)).unwrap();
    let j = db.open(JournalOptions { global_cap: Some(cap), ..JournalOptions::default() }).await;
    let first = reserved(j.reserve(&request("cart", "ada", "conv-1", every(DAY)), t0()).await.unwrap());
    j.mark_uncertain(first, "timed out after the request was sent", at(30)).await.unwrap();

    let info = capped(j.reserve(&request("cart", "ada", "conv-1", every(DAY)), at(HOUR)).await.unwrap());
    assert_eq!((info.reason, info.entry), (CapReason::SameConversation, first));
    let info = capped(j.reserve(&request("cart", "ada", "conv-2", every(DAY)), at(HOUR)).await.unwrap());
    assert_eq!((info.reason, info.entry), (CapReason::OnceEvery(every(DAY).unwrap()), first));
    let info = capped(j.reserve(&request("other", "ada", "conv-2", None), at(HOUR)).await.unwrap());
    assert_eq!((info.reason, info.entry), (CapReason::Global(cap), first));
    assert_eq!(j.get(first).await.unwrap().unwrap().state, State::Uncertain);
}

/// `holds` names every customer and conversation a cap can find (reserved, sent, uncertain), and
/// no one whose only message failed: a customer outside it is never capped.
async fn holds_whoever_a_cap_can_find(db: &TestDb) {
    let absent = Journal::open_read_only(&db.location, JournalOptions::default()).await.unwrap();
    let holds = absent.holds().await.unwrap();
    assert!(holds.customers.is_empty() && holds.conversations.is_empty());
    let cap = GlobalCap::new(1, SignedDuration::from_hours(24)).unwrap();
    let j = db.open(JournalOptions { global_cap: Some(cap), ..JournalOptions::default() }).await;
    let sent = reserved(j.reserve(&request("cart", "ada", "conv-1", None), t0()).await.unwrap());
    j.mark_sent(sent, None, None, t0()).await.unwrap();
    reserved(j.reserve(&request("cart", "bob", "conv-2", None), t0()).await.unwrap());
    let unsure = reserved(j.reserve(&request("cart", "cy", "conv-3", None), t0()).await.unwrap());
    j.mark_uncertain(unsure, "timed out", t0()).await.unwrap();
    let failed = reserved(j.reserve(&request("cart", "dee", "conv-4", None), t0()).await.unwrap());
    j.mark_failed(failed, "400", t0()).await.unwrap();
    let holds = j.holds().await.unwrap();
    let sorted = |set: &crate::fxhash::FxHashSet<String>| {
        let mut v: Vec<String> = set.iter().cloned().collect();
        v.sort_unstable();
        v
    };
    assert_eq!(sorted(&holds.customers), ["ada", "bob", "cy"]);
    assert_eq!(sorted(&holds.conversations), ["conv-1", "conv-2", "conv-3"]);
    for (customer, conversation) in [("ada", "conv-9"), ("bob", "conv-9"), ("cy", "conv-9"), ("eve", "conv-1")] {
        assert!(holds.may_cap(customer, conversation), "{customer} {conversation}");
        let key = MessageKey { campaign: "cart", customer, conversation_id: conversation };
        assert!(j.would_cap(&key, None, at(MINUTE)).await.unwrap().is_some(), "{customer} {conversation}");
    }
    assert!(!holds.may_cap("dee", "conv-9"));
    let key = MessageKey { campaign: "cart", customer: "dee", conversation_id: "conv-9" };
    assert_eq!(j.would_cap(&key, None, at(MINUTE)).await.unwrap(), None);
}

/// A crash between reserve and mark leaves a reservation; the next start turns it uncertain and
/// nothing is re-sent.
async fn stale_reservations_become_uncertain(db: &TestDb) {
    let options = JournalOptions { stale_after: SignedDuration::from_mins(15), ..JournalOptions::default() };
    let crashed = {
        let j = db.open(options).await;
        let id = reserved(j.reserve(&request("cart", "ada", "conv-1", every(DAY)), t0()).await.unwrap());
        // The process dies here: no mark, no close.
        drop(j);
        id
    };
    let j = db.open(options).await;
    let recent = reserved(j.reserve(&request("cart", "bob", "conv-2", every(DAY)), at(10 * MINUTE)).await.unwrap());

    assert!(j.expire_stale(at(15 * MINUTE - 1)).await.unwrap().is_empty(), "not stale yet");
    let expired = j.expire_stale(at(15 * MINUTE)).await.unwrap();
    assert_eq!(expired.iter().map(|e| e.id).collect::<Vec<_>>(), vec![crashed], "stale at exactly 15 minutes");
    assert_eq!(expired[0].state, State::Uncertain);
    assert!(expired[0].error.as_deref().unwrap_or_default().contains("no outcome was recorded within 15m"));
    assert_eq!(j.get(recent).await.unwrap().unwrap().state, State::Reserved, "a recent reservation is in flight");
    assert!(j.expire_stale(at(15 * MINUTE)).await.unwrap().is_empty(), "expiring twice changes nothing");

    // The next run plans the same message: it is not re-sent.
    let info = capped(j.reserve(&request("cart", "ada", "conv-1", every(DAY)), at(HOUR)).await.unwrap());
    assert_eq!(info.entry, crashed);
    assert_eq!(j.problems().await.unwrap().iter().map(|e| e.id).collect::<Vec<_>>(), vec![crashed]);
    // If the outcome turns up after all, it may still be recorded.
    j.mark_sent(crashed, Some("g-conv"), Some("g-msg"), at(HOUR)).await.unwrap();
    assert_eq!(j.get(crashed).await.unwrap().unwrap().state, State::Sent);
}

async fn resolve_only_uncertain(db: &TestDb) {
    let j = db.open(JournalOptions::default()).await;
    let a = reserved(j.reserve(&request("cart", "ada", "conv-1", every(DAY)), t0()).await.unwrap());
    j.mark_uncertain(a, "connection reset after the request was sent", at(1)).await.unwrap();
    let b = reserved(j.reserve(&request("cart", "bob", "conv-2", every(DAY)), t0()).await.unwrap());
    j.mark_uncertain(b, "timeout", at(1)).await.unwrap();
    let c = reserved(j.reserve(&request("cart", "cy", "conv-3", every(DAY)), t0()).await.unwrap());
    j.mark_sent(c, None, None, at(1)).await.unwrap();

    // Released: the caps no longer count it.
    let entry = j.resolve(a, Resolution::Released, Some("not in the Genesys conversation"), at(HOUR)).await.unwrap();
    assert_eq!((entry.state, entry.updated_at), (State::Released, at(HOUR)));
    let resolution = entry.resolution.unwrap();
    assert!(resolution.contains("uncertain -> released") && resolution.contains("not in the Genesys"), "{resolution}");
    reserved(j.reserve(&request("cart", "ada", "conv-1", every(DAY)), at(2 * HOUR)).await.unwrap());

    // Sent: the caps keep counting it.
    assert_eq!(j.resolve(b, Resolution::Sent, None, at(HOUR)).await.unwrap().state, State::Sent);
    capped(j.reserve(&request("cart", "bob", "conv-4", every(DAY)), at(2 * HOUR)).await.unwrap());

    let e = j.resolve(a, Resolution::Sent, None, at(HOUR)).await.unwrap_err();
    assert!(matches!(e, JournalError::NotResolvable { state: State::Released, .. }), "{e}");
    let e = j.resolve(c, Resolution::Released, None, at(HOUR)).await.unwrap_err();
    assert!(matches!(e, JournalError::NotResolvable { state: State::Sent, .. }), "{e}");
    assert!(e.to_string().contains("only uncertain entries can be resolved"), "{e}");
    let e = j.resolve(EntryId(999_999), Resolution::Sent, None, at(HOUR)).await.unwrap_err();
    assert!(matches!(e, JournalError::NotFound { .. }), "{e}");
}

async fn marks(db: &TestDb) {
    let j = db.open(JournalOptions::default()).await;
    let id = reserved(j.reserve(&request("cart", "ada", "conv-1", None), t0()).await.unwrap());
    let entry = j.get(id).await.unwrap().unwrap();
    assert_eq!((entry.state, entry.created_at, entry.text_chars), (State::Reserved, t0(), 29));
    assert_eq!(entry.text_sha256, text_sha256("Hi Ada, your cart is waiting."));
    assert_eq!((entry.campaign.as_str(), entry.customer.as_str(), entry.run_id.as_str()), ("cart", "ada", "test-run"));

    j.mark_sent(id, Some("g-conv"), Some("g-msg"), at(2)).await.unwrap();
    j.mark_sent(id, Some("g-conv"), Some("g-msg"), at(3)).await.unwrap(); // a retried mark is fine
    let entry = j.get(id).await.unwrap().unwrap();
    assert_eq!(entry.state, State::Sent);
    assert_eq!(entry.genesys_conversation_id.as_deref(), Some("g-conv"));
    assert_eq!(entry.genesys_message_id.as_deref(), Some("g-msg"));

    let e = j.mark_failed(id, "late", at(4)).await.unwrap_err();
    assert!(matches!(e, JournalError::AlreadyFinal { state: State::Sent, wanted: State::Failed, .. }), "{e}");
    let e = j.mark_uncertain(EntryId(424_242), "?", at(4)).await.unwrap_err();
    assert!(matches!(e, JournalError::NotFound { .. }), "{e}");

    // Error texts are kept short.
    let id = reserved(j.reserve(&request("cart", "bob", "conv-2", None), t0()).await.unwrap());
    j.mark_failed(id, &"x".repeat(5000), at(1)).await.unwrap();
    assert_eq!(j.get(id).await.unwrap().unwrap().error.unwrap().chars().count(), MAX_ERROR_CHARS + 1);
}

/// Genesys answered after the row was guessed uncertain (or even released by an operator): the
/// answer is recorded, so a `sent` message keeps counting for the caps. An uncertain guess never
/// replaces a known outcome.
async fn a_definite_outcome_wins_over_a_guess(db: &TestDb) {
    let j = db.open(JournalOptions::default()).await;
    let id = reserved(j.reserve(&request("cart", "ada", "conv-1", every(DAY)), t0()).await.unwrap());
    j.mark_uncertain(id, "no answer yet", at(1)).await.unwrap();
    j.resolve(id, Resolution::Released, Some("not visible in Genesys yet"), at(2)).await.unwrap();
    j.mark_sent(id, Some("g-conv"), Some("g-msg"), at(3)).await.unwrap();
    assert_eq!(j.get(id).await.unwrap().unwrap().state, State::Sent);
    capped(j.reserve(&request("cart", "ada", "conv-2", every(DAY)), at(HOUR)).await.unwrap());

    let id = reserved(j.reserve(&request("cart", "bob", "conv-3", every(DAY)), t0()).await.unwrap());
    j.mark_sent(id, None, None, at(1)).await.unwrap();
    let e = j.mark_uncertain(id, "late guess", at(2)).await.unwrap_err();
    assert!(matches!(e, JournalError::AlreadyFinal { state: State::Sent, .. }), "{e}");
}

async fn list_filters_and_problems(db: &TestDb) {
    let j = db.open(JournalOptions::default()).await;
    let a = reserved(j.reserve(&request("cart", "ada", "c1", None), at(0)).await.unwrap());
    j.mark_sent(a, None, None, at(0)).await.unwrap();
    let b = reserved(j.reserve(&request("cart", "bob", "c2", None), at(HOUR)).await.unwrap());
    j.mark_failed(b, "403", at(HOUR)).await.unwrap();
    let c = reserved(j.reserve(&request("promo", "ada", "c1", None), at(2 * HOUR)).await.unwrap());
    j.mark_uncertain(c, "timeout", at(2 * HOUR)).await.unwrap();
    let d = reserved(j.reserve(&request("promo", "cy", "c3", None), at(3 * HOUR)).await.unwrap());

    let ids = |entries: Vec<Entry>| entries.into_iter().map(|e| e.id).collect::<Vec<_>>();
    assert_eq!(ids(j.list(&Filter::default()).await.unwrap()), vec![a, b, c, d]);
    let f = |campaign: Option<&str>, customer: Option<&str>, state: Option<State>, since: Option<Timestamp>| Filter {
        campaign: campaign.map(str::to_owned),
        customer: customer.map(str::to_owned),
        state,
        since,
        run_id_prefix: None,
    };
    assert_eq!(ids(j.list(&f(Some("cart"), None, None, None)).await.unwrap()), vec![a, b]);
    assert_eq!(ids(j.list(&f(None, Some("ada"), None, None)).await.unwrap()), vec![a, c]);
    assert_eq!(ids(j.list(&f(None, None, Some(State::Reserved), None)).await.unwrap()), vec![d]);
    assert_eq!(ids(j.list(&f(None, None, None, Some(at(HOUR)))).await.unwrap()), vec![b, c, d], "since is inclusive");
    assert_eq!(
        ids(j.list(&f(Some("promo"), Some("ada"), Some(State::Uncertain), Some(at(0)))).await.unwrap()),
        vec![c]
    );
    assert!(j.list(&f(Some("nope"), None, None, None)).await.unwrap().is_empty());
    assert_eq!(ids(j.problems().await.unwrap()), vec![b, c]);
}

/// A dry run's journal never writes, and a journal that does not exist reads as empty.
async fn read_only_never_writes(db: &TestDb) {
    let key = MessageKey { campaign: "cart", customer: "ada", conversation_id: "conv-1" };
    let empty = Journal::open_read_only(&db.location, JournalOptions::default()).await.unwrap();
    assert!(empty.is_read_only());
    assert_eq!(empty.would_cap(&key, every(DAY), t0()).await.unwrap(), None);
    assert!(empty.list(&Filter::default()).await.unwrap().is_empty());
    let e = empty.reserve(&request("cart", "ada", "conv-1", every(DAY)), t0()).await.unwrap_err();
    assert!(matches!(e, JournalError::ReadOnly { .. }), "{e}");
    if let Location::Sqlite(path) = &db.location {
        assert!(!path.exists(), "a dry run does not create the journal");
    }
    let e = Journal::open_existing(&db.location, JournalOptions::default()).await.unwrap_err();
    assert!(matches!(e, JournalError::Missing { .. }), "{e}");

    let j = db.open(JournalOptions::default()).await;
    let id = reserved(j.reserve(&request("cart", "ada", "conv-1", every(DAY)), t0()).await.unwrap());
    j.mark_sent(id, None, None, t0()).await.unwrap();
    j.close().await;
    let before = file_bytes(db);

    let dry = Journal::open_read_only(&db.location, JournalOptions::default()).await.unwrap();
    let cap = dry.would_cap(&key, every(DAY), at(HOUR)).await.unwrap().expect("capped");
    assert_eq!((cap.entry, cap.reason), (id, CapReason::SameConversation));
    for e in [
        dry.reserve(&request("cart", "bob", "conv-2", None), at(HOUR)).await.unwrap_err(),
        dry.mark_failed(id, "x", at(HOUR)).await.unwrap_err(),
        dry.resolve(id, Resolution::Released, None, at(HOUR)).await.unwrap_err(),
    ] {
        assert!(matches!(e, JournalError::ReadOnly { .. }), "{e}");
    }
    assert!(dry.expire_stale(at(DAY)).await.is_err());
    dry.close().await;
    assert_eq!(file_bytes(db), before, "the journal file is unchanged");
    let j = db.open(JournalOptions::default()).await;
    assert_eq!(j.list(&Filter::default()).await.unwrap().len(), 1);
}

fn file_bytes(db: &TestDb) -> Option<Vec<u8>> {
    match &db.location {
        Location::Sqlite(path) => Some(std::fs::read(path).expect("the journal file reads")),
        Location::Postgres { .. } => None,
    }
}

/// A journal written by version 1 of the schema opens with this build, its rows intact and usable.
async fn migration_from_version_1(db: &TestDb) {
    let v1 = backend::open(&db.location, &JournalOptions::default(), Mode::Create, 1).await.expect("v1 opens");
    // Rows as version 1 wrote them (its columns only).
    let insert = "INSERT INTO sends (run_id, campaign, customer, conversation_id, state, text_sha256, text_chars, \
                  created_at, updated_at, genesys_conversation_id, genesys_message_id, error) \
                  VALUES ($1, $2, $3, $4, $5, 'abc', 12, $6, $6, $7, NULL, $8)";
    // campaign, customer, conversation, state, Genesys conversation, error
    type V1Row<'a> = (&'a str, &'a str, &'a str, &'a str, Option<&'a str>, Option<&'a str>);
    let rows: [V1Row; 3] = [
        ("cart", "ada", "c1", "sent", Some("g-conv-1"), None),
        ("cart", "bob", "c2", "uncertain", None, Some("timeout")),
        ("promo", "cy", "c3", "reserved", None, None),
    ];
    for (campaign, customer, conversation, state, g_conv, error) in rows {
        macro_rules! insert_into {
            ($pool:expr) => {
                sqlx::query(insert)
                    .bind("v1-run")
                    .bind(campaign)
                    .bind(customer)
                    .bind(conversation)
                    .bind(state)
                    .bind(t0().as_microsecond())
                    .bind(g_conv)
                    .bind(error)
                    .execute($pool)
                    .await
                    .map(|r| r.rows_affected())
            };
        }
        let done = match &v1 {
            backend::Db::Sqlite { pool, .. } => insert_into!(pool),
            backend::Db::Postgres { pool, .. } => insert_into!(pool),
            backend::Db::Absent => unreachable!("opened to create"),
        };
        assert_eq!(done.expect("a v1 row"), 1);
    }
    v1.close().await;

    let j = db.open(JournalOptions::default()).await;
    let entries = j.list(&Filter::default()).await.unwrap();
    assert_eq!(entries.len(), 3);
    assert_eq!(
        entries.iter().map(|e| (e.customer.as_str(), e.state, e.resolution.as_deref())).collect::<Vec<_>>(),
        vec![("ada", State::Sent, None), ("bob", State::Uncertain, None), ("cy", State::Reserved, None)]
    );
    assert_eq!(entries[0].genesys_conversation_id.as_deref(), Some("g-conv-1"));
    assert_eq!((entries[0].created_at, entries[0].text_chars, entries[0].run_id.as_str()), (t0(), 12, "v1-run"));
    // Usable: the caps see the old rows, and the old rows take outcomes and resolutions.
    let info = capped(j.reserve(&request("cart", "ada", "c9", every(DAY)), at(HOUR)).await.unwrap());
    assert_eq!(info.entry, entries[0].id);
    let bob = j.resolve(entries[1].id, Resolution::Released, None, at(HOUR)).await.unwrap();
    assert!(bob.resolution.is_some());
    j.mark_sent(entries[2].id, None, Some("g-msg"), at(HOUR)).await.unwrap();
    reserved(j.reserve(&request("cart", "bob", "c2", every(DAY)), at(HOUR)).await.unwrap());
}

/// This build refuses a journal that a newer one migrated (here: a "version 1 build" opens it).
async fn newer_journal_is_refused(db: &TestDb) {
    db.open(JournalOptions::default()).await.close().await;
    let e = backend::open(&db.location, &JournalOptions::default(), Mode::Create, 1).await.unwrap_err();
    let text = e.to_string();
    assert!(matches!(e, JournalError::Migrate { .. }), "{text}");
    assert!(text.contains("migration 2") && text.contains("newer runner"), "{text}");
}

// ---------------------------------------------------------------------------------------------
// Two runners at once

/// Two journals (separate pools, as two processes would have) reserve the same 500 customers at
/// once, interleaved. Each reservation is marked sent at once, so the in-flight index cannot help:
/// only the per-customer serialization and the cap check keep it to one per customer. With
/// `same_conversations`, both runners see the same sessions (the realistic case).
async fn two_runners(db: &TestDb, same_conversations: bool) {
    const CUSTOMERS: usize = 500;
    let (a, b) = tokio::join!(db.open(JournalOptions::default()), db.open(JournalOptions::default()));
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..CUSTOMERS {
        for (runner, journal) in [("a", &a), ("b", &b)] {
            let journal = journal.clone();
            tasks.spawn(async move {
                let customer = format!("customer-{i}");
                let conversation = if same_conversations { format!("conv-{i}") } else { format!("conv-{runner}-{i}") };
                let once_every = if same_conversations { None } else { every(DAY) };
                let request = ReserveRequest {
                    run_id: runner,
                    key: MessageKey { campaign: "cart", customer: &customer, conversation_id: &conversation },
                    once_every,
                    text: "hello",
                };
                match journal.reserve(&request, t0()).await? {
                    Reserve::Reserved(id) => {
                        journal.mark_sent(id, None, None, t0()).await?;
                        Ok::<_, JournalError>(Some(customer))
                    }
                    Reserve::Capped(_) => Ok(None),
                }
            });
        }
    }
    let mut sent: HashMap<String, usize> = HashMap::new();
    let mut errors = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        match joined.expect("the task runs") {
            Ok(Some(customer)) => *sent.entry(customer).or_default() += 1,
            Ok(None) => {}
            Err(e) => errors.push(e.to_string()),
        }
    }
    assert!(errors.is_empty(), "{} reservations failed, e.g. {:?}", errors.len(), errors.first());
    assert_eq!(sent.values().sum::<usize>(), CUSTOMERS, "exactly one reservation per customer in total");
    assert!(sent.values().all(|n| *n == 1));
    let rows = a.list(&Filter::default()).await.unwrap();
    assert_eq!(rows.len(), CUSTOMERS);
    assert!(rows.iter().all(|e| e.state == State::Sent));
    a.close().await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_runners_sqlite() {
    let db = TestDb::sqlite();
    two_runners(&db, false).await;
    let db = TestDb::sqlite();
    two_runners(&db, true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_runners_postgres() {
    let Some(db) = TestDb::postgres("two_runners").await else { return };
    two_runners(&db, false).await;
    db.cleanup().await;
    let Some(db) = TestDb::postgres("two_runners_same").await else { return };
    two_runners(&db, true).await;
    db.cleanup().await;
}

// ---------------------------------------------------------------------------------------------
// Errors and small parts

#[tokio::test]
async fn unreachable_postgres_names_the_url_without_its_password() {
    // Port 1 on localhost: nothing listens there.
    let location = Location::parse("postgres://runner:sekrit-pw@127.0.0.1:1/journal?connect_timeout=2").unwrap();
    let e = Journal::open(&location, JournalOptions::default()).await.unwrap_err();
    let text = e.to_string();
    assert!(matches!(e, JournalError::Open { .. }), "{text}");
    assert!(text.contains("postgres://runner:***@127.0.0.1:1/journal"), "{text}");
    assert!(text.contains("check that PostgreSQL runs"), "{text}");
    assert!(!text.contains("sekrit"), "{text}");
    assert!(!format!("{e:?}").contains("sekrit"));
}

#[tokio::test]
async fn sqlite_in_a_missing_directory_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let location = Location::Sqlite(dir.path().join("no/such/dir/journal.sqlite"));
    let e = Journal::open(&location, JournalOptions::default()).await.unwrap_err();
    let text = e.to_string();
    assert!(matches!(e, JournalError::Open { .. }), "{text}");
    assert!(text.contains("no/such/dir/journal.sqlite") && text.contains("exists"), "{text}");
    assert_eq!(crate::error::AppError::from(e).exit_code(), crate::exit::ExitCode::Usage);
}

#[test]
fn global_cap_parses() {
    let cap: GlobalCap = "1/24h".parse().unwrap();
    assert_eq!(cap, GlobalCap { max: 1, window: SignedDuration::from_hours(24) });
    assert_eq!("3 per 7d".parse::<GlobalCap>().unwrap().to_string(), "3 per 7d");
    assert!("0/24h".parse::<GlobalCap>().unwrap_err().contains("at least 1"));
    assert!("1/0s".parse::<GlobalCap>().unwrap_err().contains("longer than 0"));
    assert!("often".parse::<GlobalCap>().unwrap_err().contains("1/24h"));
}

#[test]
fn cap_info_reads_well() {
    let info = CapInfo {
        reason: CapReason::OnceEvery(OnceEvery::Every(SignedDuration::from_hours(168))),
        campaign: "cart".to_owned(),
        entry: EntryId(7),
        last: t0(),
        until: Some(at(7 * DAY)),
    };
    assert_eq!(
        info.to_string(),
        "`cart` messaged this customer at 2026-11-24T12:00:00Z (journal entry 7); once every 7d: allowed again \
         from 2026-12-01T12:00:00Z"
    );
    let json = serde_json::to_value(&info).unwrap();
    assert_eq!(json["reason"], serde_json::json!({"cap": "once_every", "rule": "7d"}));
    let same = CapInfo { reason: CapReason::SameConversation, until: None, ..info };
    assert_eq!(serde_json::to_value(&same).unwrap()["reason"], serde_json::json!({"cap": "same_conversation"}));
}

#[test]
fn hashes_and_run_ids() {
    assert_eq!(text_sha256("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    let id = new_run_id(t0());
    assert!(id.starts_with("20261124T120000Z-"), "{id}");
    assert_eq!(truncate("short"), "short");
}

// ---------------------------------------------------------------------------------------------
// `runner journal`

fn journal_command(path: &std::path::Path, args: &[&str]) -> Result<String, crate::error::AppError> {
    let argv = ["runner", "journal", "--journal", path.to_str().unwrap()].into_iter().chain(args.iter().copied());
    let cli = crate::cli::parse_from(argv).expect("the flags parse");
    let crate::cli::Command::Journal(args) = cli.command() else { panic!("expected `journal`") };
    let mut out = Vec::new();
    command::run(args, at(DAY), &mut out)?;
    Ok(String::from_utf8(out).expect("UTF-8"))
}

#[test]
fn the_journal_command() {
    let db = TestDb::sqlite();
    let Location::Sqlite(path) = db.location.clone() else { unreachable!() };
    let e = journal_command(&path, &["list"]).unwrap_err();
    assert!(e.to_string().contains("there is no journal at"), "{e}");

    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let (sent, uncertain) = runtime.block_on(async {
        let j = db.open(JournalOptions::default()).await;
        let sent = reserved(j.reserve(&request("cart", "ada", "c1", None), t0()).await.unwrap());
        j.mark_sent(sent, Some("g-conv"), Some("g-msg-1"), t0()).await.unwrap();
        let uncertain = reserved(j.reserve(&request("promo", "bob, jr", "c2", None), at(HOUR)).await.unwrap());
        j.mark_uncertain(uncertain, "timeout \"after\" sending", at(HOUR)).await.unwrap();
        j.close().await;
        (sent, uncertain)
    });

    let table = journal_command(&path, &["list"]).unwrap();
    assert!(
        table.starts_with("ID  RESERVED (UTC)       STATE      CAMPAIGN  CUSTOMER  CONVERSATION  DETAIL\n"),
        "{table}"
    );
    assert!(
        table.contains("2026-11-24 12:00:00  sent       cart      ada       c1            message g-msg-1\n"),
        "{table}"
    );
    assert!(table.ends_with("\n2 entries\n"), "{table}");
    let only = journal_command(&path, &["list", "--campaign", "promo", "--since", "1d"]).unwrap();
    assert!(only.contains("uncertain") && !only.contains("g-msg-1"), "{only}");
    let none = journal_command(&path, &["list", "--state", "failed"]).unwrap();
    assert!(none.starts_with("No journal entries in"), "{none}");

    let json = journal_command(&path, &["list", "--format", "json"]).unwrap();
    let lines: Vec<serde_json::Value> = json.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 2);
    assert_eq!((lines[0]["id"].as_i64(), lines[0]["state"].as_str()), (Some(sent.0), Some("sent")));
    assert_eq!(lines[1]["created_at"], "2026-11-24T13:00:00Z");

    let csv = journal_command(&path, &["list", "--format", "csv"]).unwrap();
    let csv_lines: Vec<&str> = csv.split("\r\n").collect();
    assert!(csv_lines[0].starts_with("id,created_at,updated_at,state,campaign,customer,"), "{csv}");
    assert!(
        csv_lines[2].contains(",uncertain,promo,\"bob, jr\",c2,")
            && csv_lines[2].contains("\"timeout \"\"after\"\" sending\""),
        "{csv}"
    );

    let problems = journal_command(&path, &["problems"]).unwrap();
    assert!(problems.contains("timeout \"after\" sending") && !problems.contains("g-msg-1"), "{problems}");
    assert!(problems.contains("runner journal resolve ID --as released"), "{problems}");

    let e = journal_command(&path, &["resolve", &sent.to_string(), "--as", "released"]).unwrap_err();
    assert!(e.to_string().contains("is sent, not uncertain"), "{e}");
    assert_eq!(e.exit_code(), crate::exit::ExitCode::Usage);
    let done = journal_command(&path, &["resolve", &uncertain.to_string(), "--as", "sent", "--note", "seen"]).unwrap();
    assert_eq!(
        done,
        format!(
            "Entry {uncertain} (campaign `promo`, customer `bob, jr`) is now sent: it keeps counting for the caps.\n"
        )
    );
    let problems = journal_command(&path, &["problems"]).unwrap();
    assert!(problems.starts_with("No uncertain or failed messages"), "{problems}");
}

/// `runner serve`'s lease: two instances claim one occurrence; exactly one gets it.
async fn occurrence_lease(db: &TestDb) {
    let (a, b) = (db.open(JournalOptions::default()).await, db.open(JournalOptions::default()).await);
    let (first, second) = tokio::join!(
        a.claim_occurrence("cart-recovery", at(0), "serve-a", at(1)),
        b.claim_occurrence("cart-recovery", at(0), "serve-b", at(1)),
    );
    let (first, second) = (first.unwrap(), second.unwrap());
    assert!(first ^ second, "exactly one instance takes the lease: {first} {second}");
    let winner = if first { "serve-a" } else { "serve-b" };
    assert_eq!(a.occurrence_owner("cart-recovery", at(0)).await.unwrap(), Some((winner.to_owned(), false)));
    // Claiming again (a restart, a late instance) is refused too.
    assert!(!a.claim_occurrence("cart-recovery", at(0), "serve-c", at(2)).await.unwrap());
    // Other occurrences and other campaigns are separate leases.
    assert!(b.claim_occurrence("cart-recovery", at(60), "serve-b", at(61)).await.unwrap());
    assert!(a.claim_occurrence("welcome", at(0), "serve-a", at(1)).await.unwrap());
    a.finish_occurrence("cart-recovery", at(0), winner, "sent 3", at(5)).await.unwrap();
    assert_eq!(a.occurrence_owner("cart-recovery", at(0)).await.unwrap(), Some((winner.to_owned(), true)));
    assert_eq!(a.occurrence_owner("cart-recovery", at(120)).await.unwrap(), None);
    a.close().await;
    b.close().await;
}

on_both!(occurrence_lease);
