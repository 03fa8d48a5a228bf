//! Faults and crashes against the fake org, over many seeded runs: whatever goes wrong, every
//! planned customer ends with exactly one `sent` row, or an `uncertain` / `failed` row the
//! summary reported, and no customer gets two messages.
//!
//! `RUNNER_LONG_TESTS=1` runs many more seeds (the figures are in the README).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::fake_genesys::{FakeGenesys, FaultPlan};
use super::live::{BULK_CAMPAIGN, bulk_snapshot};
use super::{Case, json_lines};

fn long() -> bool {
    std::env::var("RUNNER_LONG_TESTS").is_ok_and(|v| v == "1")
}

/// More than one analytics page (100), so that pages can change between requests.
const SESSIONS: usize = 130;

/// What the seeded runs added up to.
#[derive(Debug, Default)]
struct Figures {
    runs: usize,
    faults: BTreeMap<&'static str, usize>,
    sent: usize,
    uncertain: usize,
    failed: usize,
    duplicates: usize,
}

fn journal_of(fake: &FakeGenesys) -> String {
    fake.env().into_iter().find(|(k, _)| *k == "RUNNER_JOURNAL").unwrap().1
}

/// The journal's rows: customer -> states.
async fn journal_rows(journal: &str) -> BTreeMap<String, Vec<String>> {
    let (listed, _) = Case::new(&["journal", "list", "--format", "json", "--journal", journal]).expect_async(0).await;
    let mut rows: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for entry in json_lines(&listed) {
        rows.entry(entry["customer"].as_str().unwrap().to_owned())
            .or_default()
            .push(entry["state"].as_str().unwrap().to_owned());
    }
    rows
}

/// A bulk run against `fake`; exit 0 or 1 (some sends failed or are uncertain).
async fn faulty_run(fake: &FakeGenesys) -> Vec<Value> {
    let case = Case::new(&["--format", "json"]).with_campaigns(&[("bulk.yaml", BULK_CAMPAIGN)]).env(fake.env());
    let out = tokio::task::spawn_blocking(move || case.run()).await.unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(matches!(out.status.code(), Some(0 | 1)), "exit {:?}\n{stdout}\n{stderr}", out.status.code());
    json_lines(&stdout)
}

/// The checks shared by the fault and crash loops. `planned`: customers some run planned to
/// send to; `reported`: the summaries' delivered counts, summed.
fn check_outcomes(
    what: &str,
    fake: &FakeGenesys,
    rows: &BTreeMap<String, Vec<String>>,
    planned: &BTreeSet<String>,
) -> (usize, usize, usize) {
    let received = fake.sends_per_contact();
    let twice: Vec<_> = received.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "{what}: customers got two messages: {twice:?}");
    let (mut sent, mut uncertain, mut failed) = (0, 0, 0);
    for (customer, states) in rows {
        let n = |s: &str| states.iter().filter(|x| *x == s).count();
        assert_eq!(n("reserved"), 0, "{what}: {customer} left reserved: {states:?}");
        assert!(n("sent") + n("uncertain") <= 1, "{what}: {customer}: {states:?}");
        // The runner's word agrees with the org's: `sent` was received once, `failed` never.
        let got = received.get(customer).copied().unwrap_or(0);
        if n("sent") == 1 {
            assert_eq!(got, 1, "{what}: {customer} is sent in the journal: {states:?}");
        } else if n("uncertain") == 0 {
            assert_eq!(got, 0, "{what}: {customer} got a message recorded as {states:?}");
        }
        sent += n("sent");
        uncertain += n("uncertain");
        failed += n("failed");
    }
    for customer in planned {
        let states = rows.get(customer).unwrap_or_else(|| panic!("{what}: planned {customer} has no journal row"));
        assert!(
            states.iter().any(|s| s == "sent" || s == "uncertain" || s == "failed"),
            "{what}: {customer}: {states:?}"
        );
    }
    for customer in received.keys() {
        assert!(planned.contains(customer), "{what}: {customer} got a message nobody planned");
    }
    (sent, uncertain, failed)
}

async fn one_seed(seed: u64) -> Figures {
    let plan = FaultPlan {
        seed,
        p_503: 0.10,
        p_burst_429: 0.05,
        burst_429: 2,
        p_reset: 0.03,
        p_slow: 0.02,
        revoke_token_every: 40,
        p_page_shift: 0.5,
    };
    let fake = FakeGenesys::start_faulty(bulk_snapshot(SESSIONS), plan, 6).await;
    let mut planned = BTreeSet::new();
    let mut reported = [0usize; 3];
    for _ in 0..2 {
        let lines = faulty_run(&fake).await;
        planned.extend(
            lines.iter().filter(|l| l["decision"] == "send").map(|l| l["customer_id"].as_str().unwrap().to_owned()),
        );
        let delivered = &lines.last().unwrap()["delivered"];
        for (i, k) in ["sent", "uncertain", "failed"].into_iter().enumerate() {
            reported[i] += delivered[k].as_u64().unwrap() as usize;
        }
    }
    let rows = journal_rows(&journal_of(&fake)).await;
    let what = format!("seed {seed}");
    let (sent, uncertain, failed) = check_outcomes(&what, &fake, &rows, &planned);
    // Every outcome in the journal was in a summary, and the other way round.
    assert_eq!([sent, uncertain, failed], reported, "{what}: journal vs summaries");
    // A session that ended between two pages (as far as paging by offset can tell) may be
    // missed by a run; the next run picks it up. Each shift hides at most one.
    let shifts = fake.faults.get().into_iter().find(|(k, _)| *k == "page_shift").unwrap().1;
    assert!(planned.len() + shifts >= SESSIONS, "{what}: {} of {SESSIONS} planned, {shifts} shifts", planned.len());
    Figures { runs: 2, faults: fake.faults.get().into_iter().collect(), sent, uncertain, failed, duplicates: 0 }
}

fn add(total: &mut Figures, f: Figures) {
    total.runs += f.runs;
    for (k, v) in f.faults {
        *total.faults.entry(k).or_default() += v;
    }
    total.sent += f.sent;
    total.uncertain += f.uncertain;
    total.failed += f.failed;
    total.duplicates += f.duplicates;
}

#[tokio::test(flavor = "multi_thread")]
async fn seeded_faults_lose_nothing_and_never_send_twice() {
    let seeds: u64 = if long() { 64 } else { 8 };
    let mut total = Figures::default();
    // A few seeds at a time: each is two runner processes against its own fake org.
    for chunk in (0..seeds).collect::<Vec<_>>().chunks(8) {
        for f in futures_util::future::join_all(chunk.iter().map(|s| one_seed(*s))).await {
            add(&mut total, f);
        }
    }
    println!("faults: {seeds} seeds, {total:?}");
    for (kind, n) in &total.faults {
        assert!(*n > 0, "no {kind} fault was injected: the plan tests nothing: {total:?}");
    }
}

/// How many sends the fake acted on, in all.
fn received(fake: &FakeGenesys) -> usize {
    fake.sends.lock().unwrap().len()
}

/// Starts a bulk run and kills it (SIGKILL) once the org has received `after` sends in all;
/// false if the run ended first.
async fn run_and_kill(fake: &FakeGenesys, campaigns: &std::path::Path, after: usize) -> bool {
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("runner"))
        .current_dir(super::root())
        .env_remove("RUNNER_LOG")
        .envs(fake.env())
        .args(["--campaigns", &campaigns.join("campaigns").display().to_string()])
        .args(["--templates", &campaigns.join("templates").display().to_string()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while received(fake) < after {
        if child.try_wait().unwrap().is_some() {
            return false;
        }
        assert!(std::time::Instant::now() < deadline, "the runner never reached {after} sends");
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    child.kill().unwrap();
    child.wait().unwrap();
    true
}

/// Per seed: three runs killed with SIGKILL after seeded numbers of received sends (each
/// send takes 200 ms to answer, so up to 8 are in flight at each kill), then a run to the end.
/// No customer ever gets two messages; each interrupted send stays `reserved` (blocking its
/// customer) and becomes `uncertain` once stale.
async fn crash_seed(seed: u64) -> (usize, usize) {
    const CUSTOMERS: usize = 60;
    let fake = FakeGenesys::start(bulk_snapshot(CUSTOMERS), &[]).await;
    fake.set_send_delay(std::time::Duration::from_millis(200));
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("campaigns")).unwrap();
    std::fs::create_dir_all(dir.path().join("templates")).unwrap();
    std::fs::write(dir.path().join("campaigns/bulk.yaml"), BULK_CAMPAIGN).unwrap();
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut kills = 0;
    for _ in 0..3 {
        let after = received(&fake) + rng.usize(1..=10);
        kills += usize::from(run_and_kill(&fake, dir.path(), after).await);
    }
    fake.set_send_delay(std::time::Duration::ZERO);
    let (stdout, _) = {
        let case = Case::new(&["--format", "json", "--campaigns", &dir.path().join("campaigns").display().to_string()])
            .arg("--templates")
            .arg(dir.path().join("templates").display().to_string())
            .env(fake.env());
        tokio::task::spawn_blocking(move || {
            let out = case.run();
            (String::from_utf8_lossy(&out.stdout).into_owned(), out.status.code())
        })
        .await
        .unwrap()
    };
    let lines = json_lines(&stdout);
    let summary = lines.last().unwrap();

    let journal = journal_of(&fake);
    let rows = journal_rows(&journal).await;
    let what = format!("crash seed {seed}");
    let everyone: BTreeSet<String> = (0..CUSTOMERS).map(|i| format!("contact-{i:04}")).collect();
    check_outcomes_allowing_reserved(&what, &fake, &rows, &everyone);
    let reserved: BTreeSet<&String> =
        rows.iter().filter(|(_, s)| s.iter().any(|s| s == "reserved")).map(|(c, _)| c).collect();
    // The final run accounted for everyone: sent now, or capped by an earlier run's row.
    let capped = summary["skips"]["capped"].as_u64().unwrap_or(0) as usize;
    assert_eq!(summary["delivered"]["sent"].as_u64().unwrap() as usize + capped, CUSTOMERS, "{what}: {summary}");

    // A stale reservation becomes uncertain (15 minutes without an outcome): an injected clock.
    let location = runner::journal::Location::Sqlite(journal.clone().into());
    let j = runner::journal::Journal::open(&location, Default::default()).await.unwrap();
    let later = jiff::Timestamp::now() + jiff::SignedDuration::from_mins(16);
    let expired: BTreeSet<String> = j.expire_stale(later).await.unwrap().into_iter().map(|e| e.customer).collect();
    j.close().await;
    assert_eq!(expired.iter().collect::<BTreeSet<_>>(), reserved, "{what}");
    let rows = journal_rows(&journal).await;
    for customer in &reserved {
        assert_eq!(rows[*customer], ["uncertain"], "{what}: {customer}");
    }
    assert!(rows.values().flatten().all(|s| s != "reserved"), "{what}: {rows:?}");
    (kills, reserved.len())
}

/// Like [`check_outcomes`], where a run killed mid-send may leave `reserved` rows (no outcome
/// yet: they block their customer like a send).
fn check_outcomes_allowing_reserved(
    what: &str,
    fake: &FakeGenesys,
    rows: &BTreeMap<String, Vec<String>>,
    everyone: &BTreeSet<String>,
) {
    let received = fake.sends_per_contact();
    let twice: Vec<_> = received.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "{what}: customers got two messages: {twice:?}");
    for customer in everyone {
        let states = rows.get(customer).unwrap_or_else(|| panic!("{what}: {customer} has no journal row"));
        assert_eq!(states.len(), 1, "{what}: {customer}: {states:?}");
        let got = received.get(customer).copied().unwrap_or(0);
        match states[0].as_str() {
            "sent" => assert_eq!(got, 1, "{what}: {customer} is sent in the journal"),
            // Killed between the reservation and the outcome: the org may or may not have it.
            "reserved" => {}
            other => panic!("{what}: {customer}: {other}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn runners_killed_mid_send_never_send_twice_and_leave_uncertain_rows() {
    let seeds: u64 = if long() { 32 } else { 4 };
    let (mut kills, mut interrupted) = (0, 0);
    for chunk in (0..seeds).collect::<Vec<_>>().chunks(4) {
        for (k, i) in futures_util::future::join_all(chunk.iter().map(|s| crash_seed(*s))).await {
            kills += k;
            interrupted += i;
        }
    }
    println!("crashes: {seeds} seeds, {kills} kills, {interrupted} interrupted sends, duplicates: 0");
    assert!(kills >= seeds as usize * 2 && interrupted > 0, "{kills} kills, {interrupted} interrupted");
}

const EVERY_MINUTE_BULK: &str = "name: every-minute\naudience:\n  field: session.direction\n  equals: inbound\n\
    message:\n  text: \"Hello {{ customer.id }}\"\nlimits:\n  once_every: 7d\nschedule:\n  cron: \"* * * * *\"\n";

/// `runner serve` gets SIGTERM while a run is sending (each send answers after `send_delay`);
/// returns the journal's states and how many sends the org received.
#[cfg(unix)]
async fn serve_terminated_mid_run(send_delay_ms: u64, shutdown_timeout: &str) -> (Vec<String>, usize) {
    use std::time::{Duration, Instant};
    let fake = FakeGenesys::start(bulk_snapshot(40), &[]).await;
    fake.set_send_delay(Duration::from_millis(send_delay_ms));
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("campaigns")).unwrap();
    std::fs::create_dir(dir.path().join("templates")).unwrap();
    std::fs::write(dir.path().join("campaigns/every-minute.yaml"), EVERY_MINUTE_BULK).unwrap();
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("runner"))
        .current_dir(super::root())
        .env_remove("RUNNER_LOG")
        .envs(fake.env())
        .args(["serve", "--max-lateness", "2m", "--shutdown-timeout", shutdown_timeout])
        .args(["--campaigns", &dir.path().join("campaigns").display().to_string()])
        .args(["--templates", &dir.path().join("templates").display().to_string()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while received(&fake) == 0 {
        assert!(started.elapsed() < Duration::from_secs(20), "serve never sent");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let status = super::terminate(&mut child, Duration::from_secs(15)).await;
    assert_eq!(status.code(), Some(0));
    let rows = journal_rows(&journal_of(&fake)).await;
    let twice: Vec<_> = fake.sends_per_contact().into_iter().filter(|(_, n)| *n > 1).collect();
    assert!(twice.is_empty(), "{twice:?}");
    for (customer, states) in &rows {
        assert_eq!(states.len(), 1, "{customer}: {states:?}");
    }
    (rows.into_values().flatten().collect(), received(&fake))
}

/// SIGTERM during a run leaves no reservation without an outcome: within the shutdown timeout
/// the sends in flight finish (`sent`) and no new one starts; past it, the abandoned ones are
/// `uncertain`.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread")]
async fn sigterm_during_a_run_leaves_no_reservation_without_an_outcome() {
    let (finished, abandoned) =
        tokio::join!(serve_terminated_mid_run(500, "10s"), serve_terminated_mid_run(4000, "1s"));
    let (states, received) = finished;
    assert!(states.iter().all(|s| s == "sent"), "{states:?}");
    assert_eq!(states.len(), received);
    assert!(received < 40, "the run did not stop at SIGTERM: {received} sends");
    let (states, received) = abandoned;
    assert!(!states.is_empty() && states.iter().all(|s| s == "uncertain"), "{states:?}");
    assert!(received <= states.len());
}
