//! End-to-end tests of the `runner` binary: the bundled campaigns against the demo snapshot,
//! validation, output formats and exit codes. Each case is built with [`Case`].

use std::path::{Path, PathBuf};
use std::process::Output;

use assert_cmd::Command;

#[path = "cli/fake_genesys.rs"]
mod fake_genesys;
#[path = "cli/faults.rs"]
mod faults;
#[path = "cli/live.rs"]
mod live;
#[path = "cli/secrets.rs"]
mod secrets;

/// A run of the binary from the repository root, with a fixed terminal width.
struct Case {
    args: Vec<String>,
    env: Vec<(&'static str, String)>,
    dir: Option<tempfile::TempDir>,
    /// Holds this case's own send journal (`RUNNER_JOURNAL`), unless the case sets one.
    journal_dir: tempfile::TempDir,
}

impl Case {
    fn new(args: &[&str]) -> Case {
        Case {
            args: args.iter().map(|s| s.to_string()).collect(),
            env: Vec::new(),
            dir: None,
            journal_dir: tempfile::tempdir().unwrap(),
        }
    }

    /// Sets environment variables for the process (e.g. a fake org's `GENESYS_*`).
    fn env(mut self, vars: Vec<(&'static str, String)>) -> Case {
        self.env.extend(vars);
        self
    }

    /// Appends arguments.
    fn arg(mut self, arg: impl Into<String>) -> Case {
        self.args.push(arg.into());
        self
    }

    /// Runs on a blocking thread, for tests that serve a fake org on the async runtime.
    async fn expect_async(self, code: i32) -> (String, String) {
        tokio::task::spawn_blocking(move || self.expect(code)).await.unwrap()
    }

    /// Adds campaign files (name, YAML) in a temporary directory and points `--campaigns` at it.
    fn with_campaigns(mut self, files: &[(&str, &str)]) -> Case {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("campaigns")).unwrap();
        std::fs::create_dir(dir.path().join("templates")).unwrap();
        for (name, text) in files {
            let path = if name.ends_with(".j2") { dir.path().join("templates") } else { dir.path().join("campaigns") };
            std::fs::write(path.join(name), text).unwrap();
        }
        self.args.extend(["--campaigns".into(), dir.path().join("campaigns").display().to_string()]);
        self.args.extend(["--templates".into(), dir.path().join("templates").display().to_string()]);
        self.dir = Some(dir);
        self
    }

    fn run(&self) -> Output {
        Command::cargo_bin("runner")
            .unwrap()
            .current_dir(root())
            .env("COLUMNS", "100")
            .env_remove("RUNNER_LOG")
            .env("RUNNER_JOURNAL", self.journal_dir.path().join("journal.sqlite"))
            .envs(self.env.iter().map(|(k, v)| (*k, v.as_str())))
            .args(&self.args)
            .output()
            .unwrap()
    }

    /// Runs and checks the exit code; returns (stdout, stderr) with temp paths made stable.
    fn expect(&self, code: i32) -> (String, String) {
        let out = self.run();
        let clean = |b: &[u8]| {
            let s = String::from_utf8_lossy(b).into_owned();
            match &self.dir {
                Some(d) => s.replace(&d.path().display().to_string(), "<tmp>"),
                None => s,
            }
        };
        let (stdout, stderr) = (clean(&out.stdout), clean(&out.stderr));
        let tail = |s: &str| s.chars().rev().take(3000).collect::<Vec<_>>().into_iter().rev().collect::<String>();
        assert_eq!(out.status.code(), Some(code), "stdout (end):\n{}\nstderr (end):\n{}", tail(&stdout), tail(&stderr));
        (stdout, stderr)
    }
}

/// Sends SIGTERM to a child process and waits for it to exit, failing when it takes longer than
/// `within`.
async fn terminate(child: &mut std::process::Child, within: std::time::Duration) -> std::process::ExitStatus {
    let term = std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(term.success());
    let signalled = std::time::Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(signalled.elapsed() < within, "the process did not stop within {within:?} of SIGTERM");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

const DEMO: &[&str] = &["--dry-run", "--snapshot", "snapshots/demo.json"];

fn json_lines(stdout: &str) -> Vec<serde_json::Value> {
    stdout.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"))).collect()
}

#[test]
fn bundled_campaigns_validate_cleanly() {
    let (stdout, stderr) = Case::new(&["validate"]).expect(0);
    assert!(!stderr.contains("error"), "{stderr}");
    insta::assert_snapshot!("validate_bundled", stdout);
}

#[test]
fn readme_first_command_previews_the_demo_snapshot() {
    let (stdout, _) = Case::new(DEMO).expect(0);
    insta::assert_snapshot!("demo_preview", stdout);
}

#[test]
fn explain_shows_every_condition_with_the_value_it_saw() {
    let mut args = DEMO.to_vec();
    args.extend(["--explain", "--campaigns", "campaigns/cart-rescue.yaml"]);
    let (stdout, _) = Case::new(&args).expect(0);
    insta::assert_snapshot!("cart_rescue_explain", stdout);
}

#[test]
fn json_plan_has_a_decision_per_session_and_campaign_and_a_summary() {
    let mut args = DEMO.to_vec();
    args.extend(["--format", "json"]);
    let (stdout, _) = Case::new(&args).expect(0);
    let lines = json_lines(&stdout);
    let (summary, decisions) = lines.split_last().unwrap();
    assert_eq!(summary["type"], "summary");
    let sessions = summary["sessions"].as_u64().unwrap() as usize;
    let campaigns = summary["campaigns"].as_u64().unwrap() as usize;
    assert_eq!(decisions.len(), sessions * campaigns);
    let sends = decisions.iter().filter(|d| d["decision"] == "send").count();
    assert_eq!(summary["sends"].as_u64().unwrap() as usize, sends);
    assert!(sends > 0);
    for d in decisions {
        assert_eq!(d["type"], "decision");
        match d["decision"].as_str().unwrap() {
            "send" => assert!(!d["text"].as_str().unwrap().is_empty()),
            "skip" => assert!(d["reason"].is_string() && d["detail"].is_string()),
            other => panic!("unexpected decision {other}"),
        }
    }
    // At most one message per customer per run.
    let mut customers: Vec<&str> =
        decisions.iter().filter(|d| d["decision"] == "send").map(|d| d["customer_id"].as_str().unwrap()).collect();
    customers.sort();
    let before = customers.len();
    customers.dedup();
    assert_eq!(before, customers.len(), "a customer got two messages");
}

#[test]
fn a_customer_picked_by_two_campaigns_gets_the_higher_priority_one() {
    let campaign = |name: &str, priority: i32| {
        format!(
            "name: {name}\npriority: {priority}\naudience:\n  field: customer.attributes.plan\n  in: [premium, enterprise]\nmessage:\n  text: \"{name} for {{{{ customer.name | default('you') }}}}\"\n"
        )
    };
    // Names sort the other way round, so only the priority can make `zz-high` win.
    let (high, low) = (campaign("zz-high", 5), campaign("aa-low", 1));
    let mut args = DEMO.to_vec();
    args.extend(["--format", "json"]);
    let (stdout, _) = Case::new(&args).with_campaigns(&[("a.yaml", &low), ("b.yaml", &high)]).expect(0);
    let lines = json_lines(&stdout);
    let of = |campaign: &str, decision: &str| {
        lines.iter().filter(|d| d["campaign"] == campaign && d["decision"] == decision).count()
    };
    assert!(of("zz-high", "send") > 0);
    assert_eq!(of("aa-low", "send"), 0);
    let lower: Vec<_> = lines.iter().filter(|d| d["reason"] == "lower_priority").collect();
    assert_eq!(lower.len(), of("zz-high", "send"));
    assert!(lower.iter().all(|d| d["campaign"] == "aa-low" && d["detail"].as_str().unwrap().contains("`zz-high`")));
}

#[test]
fn an_invalid_campaign_set_refuses_to_run_and_names_every_problem() {
    let bad = "name: bad\naudience:\n  feild: customer.attributes.plan\n  equals: premium\nmessage:\n  txt: hi\n";
    let (stdout, stderr) = Case::new(DEMO).with_campaigns(&[("bad.yaml", bad)]).expect(1);
    assert!(stdout.is_empty(), "nothing is previewed: {stdout}");
    assert!(stderr.contains("bad.yaml:3:3"), "{stderr}");
    assert!(stderr.contains("`feild`") && stderr.contains("`field`"), "{stderr}");
    assert!(stderr.contains("`txt`"), "both problems are reported: {stderr}");
    assert!(stderr.contains("Nothing was run"), "{stderr}");
}

#[test]
fn validate_exits_1_on_errors_and_reports_them_in_json() {
    let bad = "name: bad\nmessage:\n  text: \"{{ customer.contact.frist_name }}\"\n";
    let (stdout, _) = Case::new(&["validate", "--format", "json"]).with_campaigns(&[("bad.yaml", bad)]).expect(1);
    let lines = json_lines(&stdout);
    assert_eq!(lines.len(), 1, "{stdout}");
    assert!(lines[0].to_string().contains("first_name"), "a suggestion: {stdout}");
}

#[test]
fn usage_errors_exit_2() {
    let (_, stderr) = Case::new(&["--snapshot", "snapshots/demo.json"]).expect(2);
    assert!(stderr.contains("--dry-run"), "{stderr}");
    let (_, stderr) = Case::new(&["--dry-run", "--snapshot", "no/such/file.json"]).expect(2);
    assert!(stderr.contains("no/such/file.json"), "{stderr}");
    Case::new(&["--no-such-flag"]).expect(2);
}

#[test]
fn now_moves_the_clock_of_a_snapshot_run() {
    let summary_at = |now: Option<&str>| {
        let mut args = DEMO.to_vec();
        args.extend(["--format", "json"]);
        if let Some(now) = now {
            args.extend(["--now", now]);
        }
        json_lines(&Case::new(&args).expect(0).0).pop().unwrap()
    };
    let (captured, later) = (summary_at(None), summary_at(Some("2026-12-08T12:00:00Z")));
    assert_eq!(later["now"], "2026-12-08T12:00:00Z");
    // Two weeks later the recorded sessions are still there (the recorded answer is replayed)...
    assert_eq!(later["sessions"], captured["sessions"]);
    // ...but the billing follow-ups (last contact 1 to 14 days ago) have moved out of their window.
    let billing = |s: &serde_json::Value| s["sends_per_campaign"]["billing-follow-up"].as_u64().unwrap();
    assert!(billing(&captured) > 0);
    assert_eq!(billing(&later), 0);
    // Before the sessions started there is nothing to decide.
    assert_eq!(summary_at(Some("2026-11-01T00:00:00Z"))["sessions"], 0);
}

#[test]
fn schema_command_prints_the_committed_schema() {
    let (stdout, _) = Case::new(&["schema"]).expect(0);
    let committed = std::fs::read_to_string(root().join("schema/campaign.schema.json")).unwrap_or_default();
    assert!(
        stdout == committed,
        "schema/campaign.schema.json is out of date; regenerate it with:\n\n    cargo run -- schema > schema/campaign.schema.json\n"
    );
    let schema: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(schema["$schema"], "http://json-schema.org/draft-07/schema#");
    assert_eq!(schema["additionalProperties"], false);
}

#[test]
fn new_scaffolds_a_campaign_that_validates_and_never_overwrites() {
    let dir = tempfile::tempdir().unwrap();
    let campaigns = dir.path().join("campaigns");
    let campaigns_arg = campaigns.display().to_string();
    let (stdout, _) = Case::new(&["new", "summer-sale", "--dir", &campaigns_arg]).expect(0);
    assert!(stdout.contains("summer-sale.yaml"), "{stdout}");
    let file = campaigns.join("summer-sale.yaml");
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.starts_with("# yaml-language-server: $schema=../schema/campaign.schema.json\n"), "{text}");
    assert!(text.contains("name: summer-sale\n") && text.contains("default(\""), "{text}");
    let templates = dir.path().join("templates").display().to_string();
    let file_arg = file.display().to_string();
    let (stdout, stderr) = Case::new(&["validate", "--campaigns", &file_arg, "--templates", &templates]).expect(0);
    assert!(stderr.is_empty(), "the scaffold validates without warnings: {stderr}");
    assert!(stdout.contains("1 "), "{stdout}");
    // Never over an existing file, and only valid names.
    std::fs::write(&file, "edited").unwrap();
    let (_, stderr) = Case::new(&["new", "summer-sale", "--dir", &campaigns_arg]).expect(2);
    assert!(stderr.contains("already exists"), "{stderr}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "edited");
    let (_, stderr) = Case::new(&["new", "summer sale", "--dir", &campaigns_arg]).expect(2);
    assert!(stderr.contains("not a valid campaign name") && stderr.contains("`summer-sale`"), "{stderr}");
}

#[test]
fn completions_cover_the_commands() {
    let (bash, _) = Case::new(&["completions", "bash"]).expect(0);
    assert!(bash.contains("validate") && bash.contains("--dry-run") && bash.contains("complete"), "{bash}");
    let (zsh, _) = Case::new(&["completions", "zsh"]).expect(0);
    assert!(zsh.starts_with("#compdef runner"), "{zsh}");
    let (fish, _) = Case::new(&["completions", "fish"]).expect(0);
    assert!(fish.contains("complete -c runner") && fish.contains("schema"), "{fish}");
    Case::new(&["completions", "tcsh"]).expect(2);
}

/// Headless Chromium from Debian's `chromium` package, if installed. In CI (`CI=true`) its
/// absence fails the test that needs it; elsewhere that test is skipped.
fn chromium() -> Option<PathBuf> {
    let path = PathBuf::from("/usr/bin/chromium");
    if path.exists() {
        return Some(path);
    }
    let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
    assert!(!ci, "chromium is not installed, and CI=true: `.ci/run` installs it (apt-get install chromium)");
    println!("skipped: chromium not installed");
    None
}

/// Runs headless Chromium on a page with the given extra arguments; returns stdout.
/// Runs headless Chromium on a page, under coreutils' `timeout` so a hung browser (no /dev/shm,
/// no D-Bus in a container) fails the test instead of hanging CI.
fn run_chromium(chromium: &Path, profile: &Path, page: &Path, args: &[&str]) -> String {
    let out = std::process::Command::new("timeout")
        .args(["--kill-after=10", "120"])
        .arg(chromium)
        .args([
            "--headless",
            "--disable-dev-shm-usage",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("chromium runs");
    assert!(out.status.success(), "chromium failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn report_writes_one_self_contained_page() {
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("preview.html");
    let mut args = DEMO.to_vec();
    let page_arg = page.display().to_string();
    args.extend(["--report", &page_arg]);
    let (stdout, _) = Case::new(&args).expect(0);
    assert!(stdout.contains("Messages to send: 21"), "the text preview is still printed: {stdout}");
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    for external in ["<script", "<link", "src=", "@import", "url(", "http://", "https://"] {
        assert!(!html.contains(external), "the page must not load anything: found {external}");
    }
    // Every enabled campaign, in priority order, with its description.
    let order: Vec<usize> =
        ["vip-welcome-back", "billing-follow-up", "premium-specialist-offer", "cart-rescue", "b2b-setup-help"]
            .iter()
            .map(|c| html.find(&format!("id=\"campaign-{c}\"")).unwrap_or_else(|| panic!("{c} missing")))
            .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "priority order: {order:?}");
    assert!(html.contains("Follow up on billing questions that were left unresolved."));
    // A failing condition from the explanation, and the higher-priority campaign that wins.
    assert!(
        html.contains("<code>last contact older than 30d</code> <span class=\"saw\">saw last ended 5d 29s ago</span>")
    );
    assert!(html.contains("<code>billing-follow-up</code> has a higher priority"));
    // A write error is a usage error, and names the file.
    let mut bad = DEMO.to_vec();
    bad.extend(["--report", "/no/such/dir/preview.html"]);
    let (_, stderr) = Case::new(&bad).expect(2);
    assert!(stderr.contains("/no/such/dir/preview.html"), "{stderr}");
}

#[test]
fn report_renders_in_headless_chromium() {
    let Some(chromium) = chromium() else { return };
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("preview.html");
    let page_arg = page.display().to_string();
    let mut args = DEMO.to_vec();
    args.extend(["--report", &page_arg]);
    Case::new(&args).expect(0);
    let profile = dir.path().join("profile");

    let dom = run_chromium(&chromium, &profile, &page, &["--dump-dom"]);
    assert!(dom.contains("<h1>Campaign preview</h1>"), "{dom}");
    for campaign in
        ["vip-welcome-back", "billing-follow-up", "premium-specialist-offer", "cart-rescue", "b2b-setup-help"]
    {
        assert!(dom.contains(&format!("<h2>{campaign}</h2>")), "{campaign} is shown");
    }
    // A rendered message as a chat bubble, line breaks kept, and a skip reason in plain words.
    assert!(
        dom.contains("<p class=\"bubble\">Welcome back, Noah! As a VIP customer you have a dedicated advisor. Shall we connect you?\n- The Acme team</p>"),
        "a chat bubble"
    );
    assert!(dom.contains("Not in the audience") && dom.contains("Gets another campaign's message"));
    assert!(dom.contains("<span class=\"number\">21</span><span class=\"label\">messages to send</span>"));

    let shot = dir.path().join("preview.png");
    let shot_arg = format!("--screenshot={}", shot.display());
    run_chromium(&chromium, &profile, &page, &[&shot_arg, "--window-size=1280,2000"]);
    let png = std::fs::read(&shot).expect("a screenshot");
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "a PNG");
    // 1280 x 2000 pixels (IHDR), and more than a blank page compresses to.
    assert_eq!(u32::from_be_bytes(png[16..20].try_into().unwrap()), 1280);
    assert_eq!(u32::from_be_bytes(png[20..24].try_into().unwrap()), 2000);
    assert!(png.len() > 50_000, "the screenshot is only {} bytes: a blank page?", png.len());
}

#[test]
fn bundled_campaign_tests_pass() {
    let (stdout, _) = Case::new(&["test"]).expect(0);
    assert!(stdout.contains("cart-rescue / a customer who opted out is left alone ... ok\n"), "{stdout}");
    assert!(stdout.contains("no tests: b2b-setup-help, feature-tour\n"), "{stdout}");
    assert!(stdout.ends_with("\ntest result: ok. 21 passed, 0 failed\n"), "{stdout}");
}

const TESTED: &str = r#"name: welcome
audience:
  field: customer.attributes.page
  starts_with: /pricing
message:
  text: "Hi {{ customer.contact.first_name | default('there') }}, questions about pricing?"
tests:
  - name: a visitor of the pricing page
    now: 2026-11-24T12:00:00Z
    customer:
      attributes: { page: /pricing }
      contact: { first_name: Ada }
    expect: send
    text: Hello Ada, questions about pricing?
  - name: elsewhere on the site
    now: 2026-11-24T12:00:00Z
    customer:
      attributes: { page: /blog }
    expect: skip
    reason: audience_not_matched
"#;

#[test]
fn a_failing_campaign_test_exits_1_and_shows_the_difference() {
    let (stdout, _) = Case::new(&["test"]).with_campaigns(&[("welcome.yaml", TESTED)]).expect(1);
    insta::assert_snapshot!("campaign_test_failure", stdout);
    let (stdout, _) = Case::new(&["test", "--format", "json"]).with_campaigns(&[("welcome.yaml", TESTED)]).expect(1);
    let lines = json_lines(&stdout);
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0]["passed"], false);
    assert_eq!(lines[0]["actual"]["text"], "Hi Ada, questions about pricing?");
    assert_eq!(lines[1]["passed"], true);
    assert_eq!(
        lines[2],
        serde_json::json!({"type": "summary", "passed": 1, "failed": 1, "campaigns_without_tests": []})
    );
}

#[test]
fn a_campaign_test_with_a_mistyped_reason_is_a_validation_error() {
    let broken = TESTED.replace("reason: audience_not_matched", "reason: audience_not_matchd");
    let (stdout, stderr) = Case::new(&["test"]).with_campaigns(&[("welcome.yaml", &broken)]).expect(1);
    assert_eq!(stdout, "");
    assert!(stderr.contains("error[test]: `audience_not_matchd` is not a skip reason"), "{stderr}");
    assert!(stderr.contains("<tmp>/campaigns/welcome.yaml:20:13"), "{stderr}");
    assert!(stderr.contains("did you mean `audience_not_matched`?"), "{stderr}");
}

#[test]
fn quiet_shows_only_errors_and_output_off_a_terminal_has_no_colours() {
    let everyone = "name: everyone\nmessage:\n  text: hi\n";
    let (_, stderr) = Case::new(&["validate"]).with_campaigns(&[("everyone.yaml", everyone)]).expect(0);
    assert!(stderr.contains("warning[no-audience]"), "{stderr}");
    assert!(!stderr.contains('\u{1b}'), "colours off a terminal: {stderr:?}");
    let (stdout, stderr) = Case::new(&["validate", "--quiet"]).with_campaigns(&[("everyone.yaml", everyone)]).expect(0);
    assert_eq!(stderr, "");
    assert!(stdout.contains("1 warning"), "{stdout}");
    let broken = "name: broken\nmessage: {}\n";
    let (_, stderr) = Case::new(&["validate", "-q"]).with_campaigns(&[("broken.yaml", broken)]).expect(1);
    assert!(stderr.contains("error[message]"), "{stderr}");
}

/// `runner serve` logs at `info` by default, `-q` keeps only errors, and `--log-format json`
/// makes every log line JSON. (No Genesys settings: serve logs its campaigns, then stops.)
#[test]
fn serve_logs_at_info_by_default_and_follows_quiet_and_the_json_format() {
    let campaign = "name: s\nmessage:\n  text: Hi\nschedule:\n  cron: \"* * * * *\"\n";
    let no_org = || vec![("GENESYS_CLIENT_ID", String::new()), ("GENESYS_CLIENT_SECRET", String::new())];
    let serve = |flags: &[&str]| {
        let mut args = vec!["serve"];
        args.extend(flags);
        Case::new(&args).with_campaigns(&[("s.yaml", campaign)]).env(no_org()).expect(2).1
    };
    let text = serve(&[]);
    assert!(text.contains("INFO") && text.contains("scheduled: every minute"), "{text}");
    let quiet = serve(&["-q"]);
    assert!(!quiet.contains("scheduled"), "{quiet}");
    assert!(quiet.contains("GENESYS_CLIENT_ID"), "{quiet}");
    let quiet_before = Case::new(&["-q", "serve"]).with_campaigns(&[("s.yaml", campaign)]).env(no_org()).expect(2).1;
    assert!(!quiet_before.contains("scheduled"), "{quiet_before}");
    let json = serve(&["--log-format", "json"]);
    // Campaign warnings are printed as `validate` prints them; log lines are JSON objects.
    let logs: Vec<serde_json::Value> =
        json.lines().filter(|l| l.starts_with('{')).map(|l| serde_json::from_str(l).unwrap()).collect();
    assert!(logs.iter().any(|l| l["level"] == "INFO" && l["message"] == "scheduled: every minute"), "{json}");
    let verbose_json = serve(&["-v", "--log-format", "json"]);
    assert!(verbose_json.lines().any(|l| l.starts_with('{')), "{verbose_json}");
    assert!(
        !verbose_json.lines().any(|l| [" INFO ", " DEBUG ", " WARN "].iter().any(|level| l.contains(level))),
        "{verbose_json}"
    );
}
