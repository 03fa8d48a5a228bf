//! Secrets never reach output: a full live run at `RUNNER_LOG=trace` with a report (and a
//! revoked token, so the 401 and re-login paths log too, and failing requests), a preview with
//! `--explain`, then a recorded snapshot: stdout, stderr, the report, the snapshot and the
//! journal's bytes hold neither the client secret nor any token nor the Basic credentials.

use super::fake_genesys::{self, FakeGenesys, FaultPlan};
use super::{Case, root};

fn demo() -> runner::genesys::snapshot::Snapshot {
    runner::genesys::snapshot::Snapshot::load(&root().join("snapshots/demo.json")).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn no_output_of_a_traced_run_holds_a_secret() {
    let plan = FaultPlan { seed: 7, p_503: 0.1, revoke_token_every: 10, ..FaultPlan::default() };
    let fake = FakeGenesys::start_faulty(fake_genesys::shifted_to_now(demo()), plan, 6).await;
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report.html");
    let snapshot = dir.path().join("snapshot.json");
    let traced = |case: Case| case.env(fake.env()).env(vec![("RUNNER_LOG", "trace".to_owned())]);

    let run = traced(Case::new(&["--report", report.to_str().unwrap()]));
    let run = tokio::task::spawn_blocking(move || run.run()).await.unwrap();
    let record = traced(Case::new(&["snapshot", "--out", snapshot.to_str().unwrap()]));
    let record = tokio::task::spawn_blocking(move || record.run()).await.unwrap();
    let preview = traced(Case::new(&["--dry-run", "--explain"]));
    let preview = tokio::task::spawn_blocking(move || preview.run()).await.unwrap();
    assert!(fake.send_bodies().len() > 5, "the run sent nothing: {}", String::from_utf8_lossy(&run.stderr));
    assert!(fake.faults.get().iter().any(|(k, n)| *k == "revoked" && *n > 0), "no token was revoked");
    // The trace really is verbose: it logs the requests.
    assert!(String::from_utf8_lossy(&run.stderr).contains("Genesys request"));

    let journal = fake.env().into_iter().find(|(k, _)| *k == "RUNNER_JOURNAL").unwrap().1;
    let files = |path: &str| [path.to_owned(), format!("{path}-wal")].map(|p| std::fs::read(p).unwrap_or_default());
    let mut outputs: Vec<(String, Vec<u8>)> = vec![
        ("run stdout".into(), run.stdout),
        ("run stderr".into(), run.stderr),
        ("snapshot stdout".into(), record.stdout),
        ("preview stdout".into(), preview.stdout),
        ("preview stderr".into(), preview.stderr),
        ("snapshot stderr".into(), record.stderr),
        ("report".into(), std::fs::read(&report).unwrap()),
        ("snapshot".into(), std::fs::read(&snapshot).unwrap()),
    ];
    for (i, bytes) in files(&journal).into_iter().enumerate() {
        outputs.push((format!("journal file {i}"), bytes));
    }
    let basic = format!("{}:{}", fake_genesys::CLIENT_ID, fake_genesys::CLIENT_SECRET);
    let basic = base64(basic.as_bytes());
    // Every token the org handed out is `fake-token-<n>`.
    for secret in [fake_genesys::CLIENT_SECRET, "fake-token-", basic.as_str()] {
        for (what, bytes) in &outputs {
            let found = bytes.windows(secret.len()).any(|w| w == secret.as_bytes());
            assert!(!found, "{what} holds `{secret}`");
        }
    }
}

/// Standard base64 with padding (as in a Basic authorization header).
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[test]
fn base64_matches_the_rfc_examples() {
    assert_eq!(base64(b"foobar"), "Zm9vYmFy");
    assert_eq!(base64(b"fooba"), "Zm9vYmE=");
    assert_eq!(base64(b"foob"), "Zm9vYg==");
}
