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
    // Every contact the demo's campaigns need (fewer than 100 customers) in one bulk request.
    let contact_requests: Vec<_> = requests.iter().filter(|(_, path)| path.contains("/externalcontacts/")).collect();
    assert_eq!(contact_requests, [&("POST".to_owned(), "/api/v2/externalcontacts/bulk/contacts".to_owned())]);

    let (stdout, _) = Case::new(&["--dry-run", "--snapshot", "snapshots/demo.json", "--format", "json"]).expect(0);
    let replay = json_lines(&stdout);
    // The one session missing from the snapshot's details is a 404 live: the same skip.
    assert_eq!(decisions(&live), decisions(&replay));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_recorded_snapshot_replays_to_the_same_plan() {
    let fake = FakeGenesys::start(demo(), &[]).await;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("recorded.jsonl");
    // Exit 1 with a warning: the 404 of one session's details is recorded as a failure.
    let (stdout, stderr) =
        Case::new(&["snapshot", "--now", NOW, "--out", out.to_str().unwrap()]).env(fake.env()).expect_async(1).await;
    assert!(stdout.starts_with("Recorded 35 active sessions"), "{stdout}");
    assert!(stderr.contains("could not be loaded"), "{stderr}");
    let recorded = std::fs::read_to_string(&out).unwrap();
    assert!(!recorded.contains(fake_genesys::CLIENT_SECRET) && !recorded.contains(fake_genesys::TOKEN));
    // JSON Lines: a header, then one answer per line.
    let lines: Vec<Value> = recorded.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines[0]["format"], "runner-snapshot/2");
    let failures: Vec<&Value> = lines.iter().filter_map(|l| l.get("failure")).collect();
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert!(failures.iter().all(|f| f["key"].as_str().unwrap().starts_with("conversation:")), "{failures:?}");

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

/// Every wrong setting is one clear error naming it, exit 2, and never echoes a secret.
#[tokio::test(flavor = "multi_thread")]
async fn each_bad_setting_is_one_clear_error_and_exits_2() {
    let fake = FakeGenesys::start(demo(), &[]).await;
    let dir = tempfile::tempdir().unwrap();
    let file = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path.display().to_string()
    };
    /// Variables set, arguments added, what the error must name.
    type BadSetting<'a> = (Vec<(&'static str, String)>, Vec<&'a str>, &'a str);
    let cases: Vec<BadSetting> = vec![
        (vec![("GENESYS_ENV_URL", "http://api.example.com".into())], vec![], "GENESYS_ENV_URL"),
        (vec![("GENESYS_LOGIN_URL", "ftp://localhost".into())], vec![], "GENESYS_LOGIN_URL"),
        (vec![("GENESYS_ENV_URL", String::new()), ("GENESYS_LOGIN_URL", String::new())], vec![], "GENESYS_REGION"),
        (vec![("RUNNER_CONFIG", file("a.yaml", "timout: 1s\n"))], vec![], "`timout`"),
        (vec![("RUNNER_CONFIG", file("b.yaml", "timeout: soon\n"))], vec![], "`timeout`"),
        (vec![("RUNNER_CONFIG", file("c.yaml", "concurrency: 0\n"))], vec![], "`concurrency`"),
        (vec![("RUNNER_CONFIG", dir.path().join("missing.yaml").display().to_string())], vec![], "missing.yaml"),
        (vec![("RUNNER_GLOBAL_CAP", "abc".into())], vec![], "global cap"),
        (vec![], vec!["--journal", "postgres://user:hunter2@[bad"], "journal location"),
    ];
    for (vars, args, names) in cases {
        let mut case = Case::new(&["--dry-run", "--now", NOW]).env(fake.env()).env(vars.clone());
        for a in &args {
            case = case.arg(*a);
        }
        let (_, stderr) = case.expect_async(2).await;
        let errors = stderr.lines().filter(|l| l.starts_with("error")).count();
        assert_eq!(errors, 1, "{vars:?} {args:?}: {stderr}");
        assert!(stderr.contains(names), "{vars:?} {args:?}: {stderr}");
        for secret in [fake_genesys::CLIENT_SECRET, "hunter2"] {
            assert!(!stderr.contains(secret), "{stderr}");
        }
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

    // A dry run reads the journal (the messages show as capped) and never writes it.
    let journal = fake.env().into_iter().find(|(k, _)| *k == "RUNNER_JOURNAL").unwrap().1;
    // The database and its write-ahead log, byte for byte.
    let files = |path: &str| [path.to_owned(), format!("{path}-wal")].map(|p| std::fs::read(p).unwrap_or_default());
    let before = files(&journal);
    let (preview, _) = Case::new(&["--dry-run", "--format", "json"]).env(fake.env()).expect_async(1).await;
    let preview = json_lines(&preview).pop().unwrap();
    assert_eq!(preview["sends"], 0, "{preview}");
    assert_eq!(preview["skips"]["capped"].as_u64().unwrap() as usize, sent + lower, "{preview}");
    assert_eq!(files(&journal), before, "a dry run wrote the journal");

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

/// An org with `n` active web-messaging sessions, one customer each, started minutes ago.
pub(super) fn bulk_snapshot(n: usize) -> Snapshot {
    let now = jiff::Timestamp::now();
    let conversations: Vec<Value> = (0..n)
        .map(|i| {
            let started = (now - jiff::SignedDuration::from_secs(60 + i as i64)).strftime("%Y-%m-%dT%H:%M:%S%.3fZ");
            json!({
                "conversationId": format!("conv-{i:04}"),
                "conversationStart": started.to_string(),
                "originatingDirection": "inbound",
                "participants": [{
                    "participantId": format!("p-{i:04}"),
                    "purpose": "customer",
                    "externalContactId": format!("contact-{i:04}"),
                    "sessions": [{"mediaType": "message", "messageType": "webmessaging", "direction": "inbound"}]
                }]
            })
        })
        .collect();
    serde_json::from_value(json!({
        "format": "runner-snapshot/1",
        "captured_at": now.to_string(),
        "active_conversations": conversations,
    }))
    .unwrap()
}

pub(super) const BULK_CAMPAIGN: &str = "name: bulk\naudience:\n  field: session.direction\n  equals: inbound\n\
    message:\n  text: \"Hello {{ customer.id }}\"\nlimits:\n  once_every: 7d\n";

#[tokio::test(flavor = "multi_thread")]
async fn two_runners_on_one_postgres_journal_send_each_message_once() {
    let Ok(url) = std::env::var("RUNNER_TEST_POSTGRES_URL") else {
        assert!(std::env::var("CI").as_deref() != Ok("true"), "CI=true but RUNNER_TEST_POSTGRES_URL is not set");
        println!("skipped: RUNNER_TEST_POSTGRES_URL not set");
        return;
    };
    use sqlx::Connection;
    let schema = format!("cli_two_runners_{}_{:08x}", std::process::id(), fastrand::u32(..));
    let mut admin = sqlx::PgConnection::connect(&url).await.expect("RUNNER_TEST_POSTGRES_URL accepts connections");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}"))).execute(&mut admin).await.unwrap();
    let separator = if url.contains('?') { '&' } else { '?' };
    let journal = format!("{url}{separator}options[search_path]={schema}");

    const CUSTOMERS: usize = 500;
    let fake = FakeGenesys::start(bulk_snapshot(CUSTOMERS), &[]).await;
    let runner = || {
        let mut env = fake.env();
        env.retain(|(k, _)| *k != "RUNNER_JOURNAL");
        env.push(("RUNNER_JOURNAL", journal.clone()));
        Case::new(&["--format", "json"]).with_campaigns(&[("bulk.yaml", BULK_CAMPAIGN)]).env(env)
    };
    // Started together: both plan all 500 sends; the journal's reservations split them.
    let ((a_out, _), (b_out, _)) = tokio::join!(runner().expect_async(0), runner().expect_async(0));
    let delivered = |out: &str| json_lines(out).pop().unwrap()["delivered"].clone();
    let (a, b) = (delivered(&a_out), delivered(&b_out));
    let sent = |d: &Value| d["sent"].as_u64().unwrap() as usize;
    let capped = |d: &Value| d["capped"].as_u64().unwrap() as usize;
    assert_eq!(sent(&a) + sent(&b), CUSTOMERS, "a: {a}, b: {b}");
    // Each runner accounts for every customer: sent, capped when reserving, or already capped
    // in its plan (when the other runner reserved before it planned).
    let planned_capped = |out: &str| json_lines(out).last().unwrap()["skips"]["capped"].as_u64().unwrap_or(0) as usize;
    assert_eq!(sent(&a) + capped(&a) + planned_capped(&a_out), CUSTOMERS, "a: {a}");
    assert_eq!(sent(&b) + capped(&b) + planned_capped(&b_out), CUSTOMERS, "b: {b}");
    // The fake org received exactly one message per customer.
    let bodies = fake.send_bodies();
    let mut contacts: Vec<&str> = bodies.iter().map(|b| b["externalContactId"].as_str().unwrap()).collect();
    assert_eq!(contacts.len(), CUSTOMERS);
    contacts.sort();
    contacts.dedup();
    assert_eq!(contacts.len(), CUSTOMERS, "a customer got two messages");

    sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE"))).execute(&mut admin).await.unwrap();
    let _ = admin.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_runner_killed_during_a_send_never_sends_it_again() {
    let snapshot = fake_genesys::shifted_to_now(demo());
    let zoe = contact_named(&snapshot, "Zoë");
    let fake = FakeGenesys::start_with(snapshot, &[], &[&zoe]).await;
    // Zoë's send takes 3 s to answer and the client waits for it: kill -9 the runner meanwhile.
    fake.set_timeout("30s");
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("runner"))
        .current_dir(root())
        .envs(fake.env())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while fake.sends_to(&zoe) == 0 {
        assert!(std::time::Instant::now() < deadline, "the runner never sent to Zoë");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    child.kill().unwrap();
    child.wait().unwrap();

    // The reservation stays without an outcome: it blocks Zoë's message, and the rest go out.
    let (stdout, _) = Case::new(&["--format", "json"]).env(fake.env()).expect_async(1).await;
    let lines = json_lines(&stdout);
    assert!(lines.iter().any(|l| l["customer_id"] == zoe.as_str() && l["reason"] == "capped"), "Zoë not capped");
    assert_eq!(fake.sends_to(&zoe), 1, "the interrupted send was repeated");
    let bodies = fake.send_bodies();
    let mut contacts: Vec<&str> = bodies.iter().map(|b| b["externalContactId"].as_str().unwrap()).collect();
    let total = contacts.len();
    contacts.sort();
    contacts.dedup();
    assert_eq!(contacts.len(), total, "a customer got two messages");
    let journal = fake.env().into_iter().find(|(k, _)| *k == "RUNNER_JOURNAL").unwrap().1;
    let (reserved, _) =
        Case::new(&["journal", "list", "--state", "reserved", "--journal", &journal]).expect_async(0).await;
    assert!(reserved.contains(&zoe), "{reserved}");
}

const EVERY_MINUTE: &str = "name: every-minute\naudience:\n  field: session.direction\n  equals: inbound\n\
    message:\n  text: \"Hello {{ customer.id }}\"\nlimits:\n  once_every: 7d\nschedule:\n  cron: \"* * * * *\"\n";

/// `runner serve` end to end: with `--max-lateness 2m`, the scheduler takes at start an
/// occurrence of `* * * * *` up to 2 minutes old, so the first run starts at once (no wait
/// for a minute boundary). It sends the planned messages once, records them and the
/// occurrence's lease, and on SIGTERM exits 0 within the shutdown timeout, leaving nothing
/// `reserved`. Should the test cross a minute boundary, the next occurrence runs too and finds
/// every message capped: the counts below still hold.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread")]
async fn serve_runs_the_due_occurrence_sends_once_and_stops_cleanly_on_sigterm() {
    use std::io::BufRead;
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, Instant};

    let fake = FakeGenesys::start(fake_genesys::shifted_to_now(demo()), &[]).await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("campaigns")).unwrap();
    std::fs::create_dir(dir.path().join("templates")).unwrap();
    std::fs::write(dir.path().join("campaigns/every-minute.yaml"), EVERY_MINUTE).unwrap();
    let paths = [
        "--campaigns".to_owned(),
        dir.path().join("campaigns").display().to_string(),
        "--templates".to_owned(),
        dir.path().join("templates").display().to_string(),
    ];
    let journal = fake.env().into_iter().find(|(k, _)| *k == "RUNNER_JOURNAL").unwrap().1;

    // The plan, from a dry run on the same org (it writes no journal).
    let preview = Case::new(&["--dry-run", "--format", "json"]).env(fake.env());
    let preview = paths.iter().fold(preview, |c, a| c.arg(a.as_str()));
    let output = tokio::task::spawn_blocking(move || preview.run()).await.unwrap();
    let mut planned: Vec<String> = json_lines(&String::from_utf8_lossy(&output.stdout))
        .iter()
        .filter(|l| l["decision"] == "send")
        .map(|l| l["customer_id"].as_str().unwrap().to_owned())
        .collect();
    planned.sort();
    assert!(planned.len() > 3, "{planned:?}");

    let started = Instant::now();
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("runner"))
        .current_dir(root())
        .env_remove("RUNNER_LOG")
        .envs(fake.env())
        .args(["serve", "--max-lateness", "2m", "--shutdown-timeout", "5s", "--log-format", "json"])
        .args(&paths)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let lines = Arc::new(Mutex::new(Vec::<String>::new()));
    let reader = {
        let (lines, stderr) = (lines.clone(), child.stderr.take().unwrap());
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
                lines.lock().unwrap().push(line);
            }
        })
    };
    let logs = |lines: &Mutex<Vec<String>>| -> Vec<Value> {
        let lines = lines.lock().unwrap();
        lines
            .iter()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON log line ({e}): {l}")))
            .collect()
    };
    let ended = |l: &Value| {
        l["message"] == "run finished" || l["message"].as_str().is_some_and(|m| m.starts_with("run failed"))
    };
    let finished = loop {
        if let Some(l) = logs(&lines).into_iter().find(|l| ended(l)) {
            break l;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "no run ended: {:#?}", logs(&lines));
        assert!(child.try_wait().unwrap().is_none(), "serve exited early: {:#?}", logs(&lines));
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    // The first run began promptly, not at the next minute boundary.
    assert!(started.elapsed() < Duration::from_secs(15));

    // The shutdown timeout is 5 s; nothing is in flight, so it should be far quicker.
    let status = super::terminate(&mut child, Duration::from_secs(6)).await;
    reader.join().unwrap();
    let logs = logs(&lines);
    assert_eq!(status.code(), Some(0), "{logs:#?}");
    assert!(logs.iter().any(|l| l["message"] == "SIGTERM received"), "{logs:#?}");
    assert!(logs.iter().any(|l| l["message"] == "stopped"), "{logs:#?}");

    // Each planned message went out once.
    let bodies = fake.send_bodies();
    let mut sent: Vec<String> = bodies.iter().map(|b| b["externalContactId"].as_str().unwrap().to_owned()).collect();
    sent.sort();
    assert_eq!(sent, planned);

    // The journal has them `sent`, nothing `reserved`.
    let (listed, _) = Case::new(&["journal", "list", "--format", "json", "--journal", &journal]).expect_async(0).await;
    let entries = json_lines(&listed);
    let mut customers: Vec<String> = entries.iter().map(|e| e["customer"].as_str().unwrap().to_owned()).collect();
    customers.sort();
    assert_eq!(customers, planned);
    assert!(entries.iter().all(|e| e["state"] == "sent"), "{entries:#?}");

    // The occurrence's lease row: owned by this process, finished.
    let occurrence: jiff::Timestamp = finished["occurrence"].as_str().unwrap().parse().unwrap();
    let location = runner::journal::Location::Sqlite(journal.clone().into());
    let journal = runner::journal::Journal::open(&location, Default::default()).await.unwrap();
    let (owner, done) = journal.occurrence_owner("every-minute", occurrence).await.unwrap().expect("a lease row");
    assert!(owner.contains(&format!("/{}/", child.id())), "{owner}");
    assert!(done, "the occurrence is not recorded as finished");
    journal.close().await;
}
