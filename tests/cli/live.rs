//! `runner` against a live (fake) Genesys org: a dry run sends nothing, a run sends exactly the
//! planned messages, failures are reported, and a recorded snapshot replays to the same plan.

use runner::genesys::snapshot::Snapshot;
use serde_json::{Value, json};

use super::fake_genesys::{self, FakeGenesys};
use super::{Case, json_lines, root};

const NOW: &str = "2026-11-24T12:00:00Z";

fn demo() -> Snapshot {
    Snapshot::load(&root().join("snapshots/demo.json")).unwrap()
}

/// The decisions of a JSON plan, without texts that name where data came from.
fn decisions(lines: &[Value]) -> Vec<(String, String, String, String)> {
    let mut out: Vec<_> = lines
        .iter()
        .filter(|l| l["type"] == "decision")
        .map(|l| {
            let outcome = if l["decision"] == "send" { l["text"].clone() } else { l["reason"].clone() };
            (
                l["conversation_id"].as_str().unwrap().to_owned(),
                l["campaign"].as_str().unwrap().to_owned(),
                l["decision"].as_str().unwrap().to_owned(),
                outcome.as_str().unwrap().to_owned(),
            )
        })
        .collect();
    out.sort();
    out
}

fn live_run(fake: &FakeGenesys, extra: &[&str]) -> Case {
    let mut case = Case::new(&["--now", NOW, "--format", "json"]).env(fake.env());
    for a in extra {
        case = case.arg(*a);
    }
    case
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dry_run_against_the_live_api_decides_like_the_snapshot_and_sends_nothing() {
    let fake = FakeGenesys::start(demo(), &[]).await;
    // Exit 1: against the live org, one session's details are missing (404), so it was not
    // fully decided.
    let (stdout, _) = live_run(&fake, &["--dry-run"]).expect_async(1).await;
    let live = json_lines(&stdout);
    assert!(live.iter().any(|l| l["decision"] == "send"));
    assert!(fake.send_bodies().is_empty(), "a dry run sent messages");
    let requests = fake.requests().await;
    assert!(!requests.iter().any(|(_, path)| path.contains("agentless")));

    let (stdout, _) = Case::new(&["--dry-run", "--snapshot", "snapshots/demo.json", "--format", "json"]).expect(0);
    let replay = json_lines(&stdout);
    // The one session missing from the snapshot's details is a 404 live: the same skip.
    assert_eq!(decisions(&live), decisions(&replay));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_recorded_snapshot_replays_to_the_same_plan() {
    let fake = FakeGenesys::start(demo(), &[]).await;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("recorded.json");
    // Exit 1 with a warning: the 404 of one session's details is recorded as a failure.
    let (stdout, stderr) =
        Case::new(&["snapshot", "--now", NOW, "--out", out.to_str().unwrap()]).env(fake.env()).expect_async(1).await;
    assert!(stdout.starts_with("Recorded 35 active sessions"), "{stdout}");
    assert!(stderr.contains("could not be loaded"), "{stderr}");
    let recorded = std::fs::read_to_string(&out).unwrap();
    assert!(!recorded.contains(fake_genesys::CLIENT_SECRET) && !recorded.contains(fake_genesys::TOKEN));
    let recorded: Value = serde_json::from_str(&recorded).unwrap();
    let failures = recorded["failures"].as_object().unwrap();
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert!(failures.keys().all(|k| k.starts_with("conversation:")), "{failures:?}");

    let (live, _) = live_run(&fake, &["--dry-run"]).expect_async(1).await;
    let (replay, _) =
        Case::new(&["--dry-run", "--snapshot", out.to_str().unwrap(), "--format", "json"]).expect_async(0).await;
    let (live, replay) = (json_lines(&live), json_lines(&replay));
    assert_eq!(decisions(&live), decisions(&replay));
    // The same skips, reason by reason, and the same summary counts.
    let summary = |lines: &[Value]| {
        let mut s = lines.last().unwrap().clone();
        s.as_object_mut().unwrap().remove("source");
        s
    };
    assert_eq!(summary(&live), summary(&replay));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_run_sends_exactly_the_planned_messages() {
    let fake = FakeGenesys::start(fake_genesys::shifted_to_now(demo()), &[]).await;
    // Exit 1: one session's details are missing (404), so not everything went through.
    let (stdout, stderr) = Case::new(&["--format", "json"]).env(fake.env()).expect_async(1).await;
    let lines = json_lines(&stdout);
    let planned: Vec<(&str, &str)> = lines
        .iter()
        .filter(|l| l["decision"] == "send")
        .map(|l| (l["customer_id"].as_str().unwrap(), l["text"].as_str().unwrap()))
        .collect();
    assert!(planned.len() > 10);
    let mut expected: Vec<Value> = planned
        .iter()
        .map(|(customer, text)| {
            json!({
                "fromAddress": fake_genesys::DEPLOYMENT_ID,
                "toAddressMessengerType": "webmessaging",
                "externalContactId": customer,
                "textBody": text,
                "useExistingActiveConversation": true,
            })
        })
        .collect();
    let mut sent = fake.send_bodies();
    let key = |v: &Value| v["externalContactId"].as_str().unwrap().to_owned();
    expected.sort_by_key(key);
    sent.sort_by_key(key);
    assert_eq!(sent, expected);
    for request in fake.sends.lock().unwrap().iter() {
        assert_eq!(request.headers["authorization"], format!("Bearer {}", fake_genesys::TOKEN).as_str());
        assert_eq!(request.headers["content-type"], "application/json");
    }
    let deliveries: Vec<&Value> = lines.iter().filter(|l| l["type"] == "delivery").collect();
    assert_eq!(deliveries.len(), planned.len());
    assert!(deliveries.iter().all(|d| d["state"] == "sent" && d["message_id"].is_string()));
    let summary = lines.last().unwrap();
    assert_eq!(
        summary["delivered"],
        json!({"sent": planned.len(), "failed": 0, "uncertain": 0, "capped": 0, "not_sent": 0})
    );
    assert_eq!(summary["data_errors"], 1);
    for secret in [fake_genesys::CLIENT_SECRET, fake_genesys::TOKEN] {
        assert!(!stdout.contains(secret) && !stderr.contains(secret), "a secret leaked");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_send_is_reported_with_the_missing_permission_and_exits_1() {
    // Zoë Fischer's contact (premium-specialist-offer) is refused.
    let refused = "0f6f4b43-0a3d-4a61-8b8d-5c1e2d7b9a01";
    let snapshot = demo();
    let zoe = snapshot
        .external_contacts
        .values()
        .find(|c| c.first_name.as_deref() == Some("Zoë"))
        .map(|c| c.id.clone())
        .unwrap_or_else(|| refused.to_owned());
    let fake = FakeGenesys::start(fake_genesys::shifted_to_now(snapshot), &[&zoe]).await;
    let (stdout, _) = Case::new(&[]).env(fake.env()).expect_async(1).await;
    assert!(stdout.contains("failed: 1"), "{stdout}");
    assert!(stdout.contains("conversation:message:create"), "{stdout}");
    // Every other message still went out.
    assert!(fake.send_bodies().len() > 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn missing_settings_are_named_together_and_exit_2() {
    let (_, stderr) = Case::new(&["--dry-run"]).env(vec![("GENESYS_CLIENT_ID", String::new())]).expect_async(2).await;
    for var in ["GENESYS_CLIENT_SECRET", "GENESYS_DEPLOYMENT_ID"] {
        assert!(stderr.contains(var), "{stderr}");
    }
}

fn contact_named(snapshot: &Snapshot, first_name: &str) -> String {
    snapshot.external_contacts.values().find(|c| c.first_name.as_deref() == Some(first_name)).unwrap().id.clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_run_sends_nothing_new() {
    let fake = FakeGenesys::start(fake_genesys::shifted_to_now(demo()), &[]).await;
    let (first, _) = Case::new(&["--format", "json"]).env(fake.env()).expect_async(1).await;
    let first = json_lines(&first).pop().unwrap();
    let sent = first["delivered"]["sent"].as_u64().unwrap() as usize;
    let lower = first["skips"]["lower_priority"].as_u64().unwrap() as usize;
    assert!(sent > 10 && lower > 0);
    assert_eq!(fake.send_bodies().len(), sent);

    // Same org, same journal: every message is capped in the plan, and nothing goes out. The
    // campaigns that lost on priority are capped too (the default global cap, 1 per 24h), so
    // the customers do not get a second, different message either.
    let (second, _) = Case::new(&["--format", "json"]).env(fake.env()).expect_async(1).await;
    let summary = json_lines(&second).pop().unwrap();
    assert_eq!(summary["sends"], 0, "{summary}");
    assert_eq!(summary["skips"]["capped"].as_u64().unwrap() as usize, sent + lower, "{summary}");
    assert_eq!(fake.send_bodies().len(), sent, "the second run sent again");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_uncertain_send_is_reported_and_never_sent_again() {
    let snapshot = fake_genesys::shifted_to_now(demo());
    let zoe = contact_named(&snapshot, "Zoë");
    let fake = FakeGenesys::start_with(snapshot, &[], &[&zoe]).await;
    let (stdout, _) = Case::new(&[]).env(fake.env()).expect_async(1).await;
    assert!(stdout.contains("uncertain: 1"), "{stdout}");
    assert!(stdout.contains("UNCERTAIN"), "{stdout}");
    assert_eq!(fake.sends_to(&zoe), 1);

    // The journal holds the uncertain row: the next run does not send to Zoë again.
    let (stdout, _) = Case::new(&["--format", "json"]).env(fake.env()).expect_async(1).await;
    let lines = json_lines(&stdout);
    let zoe_capped = lines.iter().any(|l| l["customer_id"] == zoe.as_str() && l["reason"] == "capped");
    assert!(zoe_capped, "Zoë is not capped in the second run");
    assert_eq!(fake.sends_to(&zoe), 1, "an uncertain send was repeated");

    // The operator sees it in the journal's problems.
    let journal = fake.env().into_iter().find(|(k, _)| *k == "RUNNER_JOURNAL").unwrap().1;
    let (problems, _) = Case::new(&["journal", "problems", "--journal", &journal]).expect_async(0).await;
    assert!(problems.contains("uncertain") && problems.contains(&zoe), "{problems}");
}
