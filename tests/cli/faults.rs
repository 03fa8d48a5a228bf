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
