//! `runner serve` against the live org: the occurrence runner (lease, then the same plan and
//! deliver path as `runner run`), signals, logging and the metrics endpoint.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use jiff::Timestamp;

use super::ServeArgs;
use super::daemon::{self, OccurrenceRunner, RunReport, Settings, SystemClock};
use super::metrics::{self, Metrics};
use super::reload::Watcher;
use crate::campaign::CampaignSet;
use crate::deliver::{self, DeliveryCounts};
use crate::engine::decide::Outcome;
use crate::error::AppError;
use crate::exit::ExitCode;
use crate::genesys::client::GenesysClient;
use crate::journal::{Filter, Journal, State};
use crate::pipeline;
use crate::progress::Silent;

/// Runs occurrences through the journal and the Genesys client.
pub struct LiveRunner<C> {
    pub client: C,
    pub journal: Journal,
    /// This instance in the lease table: host, process and start time.
    pub owner: String,
    pub dry_run: bool,
    pub session_look_back: jiff::SignedDuration,
    pub concurrency: usize,
}

impl<C: crate::source::Source + deliver::Sender + 'static> OccurrenceRunner for LiveRunner<C> {
    async fn run(&self, set: Arc<CampaignSet>, occurrence: Timestamp, stop: Arc<AtomicBool>) -> RunReport {
        let campaign = set.campaigns[0].name.clone();
        let now = Timestamp::now();
        if !self.dry_run {
            match self.journal.claim_occurrence(&campaign, occurrence, &self.owner, now).await {
                Ok(true) => {}
                Ok(false) => return RunReport { result: "leased_elsewhere", ..RunReport::default() },
                Err(e) => return failed(e.to_string()),
            }
        }
        let options = pipeline::Options {
            now,
            session_look_back: self.session_look_back,
            concurrency: self.concurrency,
            explain: false,
            customer_windows: true,
        };
        // This instance's runs carry its owner as a prefix: a shutdown abandons only its own.
        let run_id = format!("{}/{campaign}/{}", self.owner, occurrence.strftime("%Y%m%dT%H%M%SZ"));
        let run = deliver::RunContext {
            journal: &self.journal,
            run_id: &run_id,
            dry_run: self.dry_run,
            stop: Some(&stop),
            progress: &Silent,
            clock: Timestamp::now,
        };
        let result = deliver::plan_and_deliver(&self.client, &set, options, run).await;
        let report = match result {
            Err(e) => failed(e.to_string()),
            Ok((plan, deliveries)) => {
                let mut skips = BTreeMap::new();
                for d in plan.sessions.iter().flat_map(|s| &s.decisions) {
                    if let Outcome::Skip { reason, .. } = &d.outcome {
                        *skips.entry(reason.as_str().to_owned()).or_default() += 1;
                    }
                }
                let c = DeliveryCounts::of(deliveries.as_deref().unwrap_or_default());
                let sends: BTreeMap<&'static str, usize> = [
                    ("sent", c.sent),
                    ("failed", c.failed),
                    ("uncertain", c.uncertain),
                    ("capped", c.capped),
                    ("not_sent", c.not_sent),
                ]
                .into_iter()
                .filter(|(_, n)| *n > 0)
                .collect();
                let error = (plan.summary.data_errors > 0 || !c.all_sent()).then(|| {
                    format!(
                        "{} session(s) without data, {} failed, {} uncertain, {} not sent",
                        plan.summary.data_errors, c.failed, c.uncertain, c.not_sent
                    )
                });
                RunReport {
                    result: if error.is_some() { "failed" } else { "ok" },
                    sends,
                    skips,
                    sessions: plan.summary.sessions,
                    error,
                }
            }
        };
        if !self.dry_run {
            let summary = format!("{} {:?} {:?}", report.result, report.sends, report.skips);
            if let Err(e) =
                self.journal.finish_occurrence(&campaign, occurrence, &self.owner, &summary, Timestamp::now()).await
            {
                tracing::warn!(%campaign, "could not record the end of the occurrence: {e}");
            }
        }
        report
    }

    async fn abandon(&self, campaigns: Vec<String>, since: Timestamp) {
        abandon(&self.journal, &self.owner, &campaigns, since).await;
    }
}

fn failed(error: String) -> RunReport {
    RunReport { result: "failed", error: Some(error), ..RunReport::default() }
}

/// Marks `uncertain` the reservations of this instance's runs (`owner`) of these campaigns made
/// since `since` that never got an outcome (their runs were stopped after the shutdown
/// timeout): never left `reserved`. Other runners' reservations on a shared journal are theirs.
pub async fn abandon(journal: &Journal, owner: &str, campaigns: &[String], since: Timestamp) {
    for campaign in campaigns {
        let filter = Filter {
            campaign: Some(campaign.clone()),
            state: Some(State::Reserved),
            since: Some(since),
            run_id_prefix: Some(format!("{owner}/")),
            ..Filter::default()
        };
        let entries = match journal.list(&filter).await {
            Ok(entries) => entries,
            Err(e) => {
                tracing::error!(%campaign, "could not list the reservations left by the stopped run: {e}");
                continue;
            }
        };
        for entry in entries {
            let why = "runner serve stopped (shutdown timeout) while this message was being sent: it may or may not have gone out";
            match journal.mark_uncertain(entry.id, why, Timestamp::now()).await {
                Ok(()) => {
                    tracing::warn!(%campaign, entry = %entry.id, "send interrupted by the shutdown: marked uncertain")
                }
                Err(e) => {
                    tracing::error!(%campaign, entry = %entry.id, "could not mark the interrupted send uncertain: {e}")
                }
            }
        }
    }
}

/// `runner serve`.
pub fn serve(args: ServeArgs) -> Result<ExitCode, AppError> {
    // The fingerprint first: an edit while the set loads is seen by the first check.
    let (watcher, loaded) = Watcher::start(args.campaigns.clone(), super::load_set);
    let (set, loaded) = loaded?;
    if !loaded.diagnostics.is_empty() {
        eprint!("{}", crate::campaign::diagnostic::render(&loaded.diagnostics, false));
    }
    for c in &set.campaigns {
        match (&c.schedule, c.enabled) {
            (None, _) => tracing::info!(campaign = %c.name, "no schedule: runner serve does not run it"),
            (Some(_), false) => tracing::info!(campaign = %c.name, "disabled: runner serve does not run it"),
            (Some(s), true) => tracing::info!(campaign = %c.name, cron = %s.cron_text, time_zone = %s.time_zone_name,
                "scheduled: {}", super::describe::describe(&s.cron, &s.cron_text)),
        }
    }
    let config = crate::genesys::config::GenesysConfig::from_env(&|k| std::env::var(k).ok(), args.config.as_deref())?;
    let client = GenesysClient::new(config)?;
    let location = args.journal.location()?;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a tokio runtime starts");
    runtime.block_on(async {
        let journal = if args.dry_run {
            Journal::open_read_only(&location, args.journal.options()).await?
        } else {
            Journal::open(&location, args.journal.options()).await?
        };
        let metrics = Arc::new(Metrics::default());
        let server = match args.metrics_addr {
            Some(addr) => {
                let listener = tokio::net::TcpListener::bind(addr)
                    .await
                    .map_err(|e| AppError::Usage(format!("--metrics-addr {addr}: cannot listen: {e}")))?;
                tracing::info!(%addr, "serving /healthz and /metrics");
                Some(tokio::spawn(metrics::serve(listener, metrics.clone())))
            }
            None => None,
        };
        let now = Timestamp::now();
        let host = host_name(std::fs::read_to_string("/proc/sys/kernel/hostname").ok(), std::env::var("HOSTNAME").ok());
        let runner = Arc::new(LiveRunner {
            session_look_back: client.tuning().look_back,
            concurrency: client.concurrency(),
            client,
            journal: journal.clone(),
            owner: format!("{host}/{}/{}", std::process::id(), now.strftime("%Y%m%dT%H%M%SZ")),
            dry_run: args.dry_run,
        });
        let settings = Settings {
            max_lateness: args.max_lateness,
            shutdown_timeout: std::time::Duration::try_from(args.shutdown_timeout).unwrap_or_default(),
            reload_interval: std::time::Duration::try_from(args.reload_interval).unwrap_or_default(),
        };
        tracing::info!(journal = %journal.location(), dry_run = args.dry_run, "runner serve started");
        let stopped =
            daemon::serve(runner, &SystemClock, set, Some(watcher), metrics, settings, shutdown_signal()).await;
        if let Some(server) = server {
            server.abort();
        }
        journal.close().await;
        // A stop is a success even when runs had to be cut short: their unfinished sends are in
        // the journal as uncertain, and the log says which (`runner journal problems`).
        if stopped.abandoned > 0 {
            tracing::warn!(
                runs = stopped.abandoned,
                "runs were stopped by the shutdown timeout; see `runner journal problems` for sends marked uncertain"
            );
        }
        Ok(ExitCode::Success)
    })
}

/// This machine's name for the lease owner: the kernel's (Linux `/proc/sys/kernel/hostname`),
/// else `$HOSTNAME` (often not exported), else `unknown-host`.
fn host_name(kernel: Option<String>, env: Option<String>) -> String {
    [kernel, env]
        .into_iter()
        .flatten()
        .map(|name| name.trim().replace('/', "-"))
        .find(|name| !name.is_empty())
        .unwrap_or_else(|| "unknown-host".to_owned())
}

/// SIGTERM or Ctrl-C.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
                return;
            }
        };
        tokio::select! {
            _ = term.recv() => tracing::info!("SIGTERM received"),
            _ = tokio::signal::ctrl_c() => tracing::info!("Ctrl-C received"),
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

#[cfg(test)]
mod tests {

    use super::*;
    use crate::engine::decide::{Decider, Failures, SkipReason};
    use crate::journal::{JournalOptions, Location, MessageKey, Reserve, ReserveRequest};
    use crate::model::{Candidate, Details, Session};
    use crate::serve::tests::{set_of, ts};

    fn candidate(id: &str, zone: Option<&str>) -> Candidate {
        let session = Session {
            id: id.to_owned(),
            started: ts("2026-12-01T08:00:00Z"),
            direction: None,
            message_type: None,
            queue_id: None,
            division_ids: Vec::new(),
            external_tag: None,
            external_contact_id: Some(format!("contact-{id}")),
            customer_name: None,
        };
        let attributes: crate::model::TextMap = zone.map(|z| ("tz", std::sync::Arc::from(z))).into_iter().collect();
        let details = Details { attributes, queue_name: None, locale: None, jsonpath: Vec::new() };
        Candidate { session, details: Some(details), contact: None, history: None, settled_by: None, alone: false }
    }

    /// The customer-zone window: 09:00-18:00 in the customer's own zone, Berlin as the fallback.
    #[test]
    fn customer_window_skips_customers_outside_their_hours() {
        let set = set_of(&[(
            "w",
            "cron: \"0 * * * *\"\ntime_zone: Europe/Berlin\nactive_window:\n  from: \"09:00\"\n  to: \"18:00\"\n  time_zone: customer:tz",
        )]);
        // 2026-12-01T12:00Z: 13:00 in Berlin, 07:00 in New York, 21:00 in Tokyo.
        let now = ts("2026-12-01T12:00:00Z");
        let candidates = [
            candidate("berlin", Some("Europe/Berlin")),
            candidate("ny", Some("America/New_York")),
            candidate("tokyo", Some("Asia/Tokyo")),
            candidate("none", None),
            candidate("bad", Some("Mars/Olympus")),
        ];
        let decider = Decider::new(&set, now, false).with_customer_windows(true);
        let failures = Failures::default();
        let sessions = decider.decide(&candidates, &failures);
        let outcome = |i: usize| match &sessions[i].decisions[0].outcome {
            Outcome::Send { .. } => "send".to_owned(),
            Outcome::Skip { reason, detail } => format!("{reason}: {detail}"),
        };
        assert_eq!(outcome(0), "send");
        assert_eq!(
            outcome(1),
            "outside_window: the customer's local time Tue 07:00 (America/New_York) is outside the active window \
             09:00-18:00, mon, tue, wed, thu, fri, sat, sun"
        );
        assert!(outcome(2).starts_with("outside_window: the customer's local time Tue 21:00 (Asia/Tokyo)"));
        // No attribute or not a zone: the schedule's zone (13:00 in Berlin, inside), said in detail
        // only when skipped; here they are sent.
        assert_eq!(outcome(3), "send");
        assert_eq!(outcome(4), "send");
        // At 20:00 Berlin the fallback skips them, and the detail says why the zone was Berlin.
        let late = ts("2026-12-01T19:00:00Z");
        let decider = Decider::new(&set, late, false).with_customer_windows(true);
        let sessions = decider.decide(&candidates, &failures);
        let Outcome::Skip { reason, detail } = &sessions[4].decisions[0].outcome else { panic!() };
        assert_eq!(*reason, SkipReason::OutsideWindow);
        assert!(detail.contains("`Mars/Olympus`, not an IANA time zone: the schedule's zone is used"), "{detail}");
        let Outcome::Skip { detail, .. } = &sessions[3].decisions[0].outcome else { panic!() };
        assert!(detail.contains("no attribute `tz`"), "{detail}");
    }

    #[test]
    fn the_owner_names_the_host_from_the_kernel_then_the_environment() {
        assert_eq!(host_name(Some("web-1\n".into()), Some("env-host".into())), "web-1");
        assert_eq!(host_name(Some(" \n".into()), Some("env-host".into())), "env-host");
        assert_eq!(host_name(None, Some("env-host".into())), "env-host");
        assert_eq!(host_name(None, Some(String::new())), "unknown-host");
        assert_eq!(host_name(None, None), "unknown-host");
        // The owner is a prefix of run ids (`owner/campaign/...`): no slash inside the host.
        assert_eq!(host_name(Some("a/b".into()), None), "a-b");
        if cfg!(target_os = "linux") {
            let kernel = std::fs::read_to_string("/proc/sys/kernel/hostname").ok();
            assert_ne!(host_name(kernel, None), "unknown-host");
        }
    }

    /// A run stopped by the shutdown timeout between reserving and recording leaves no row
    /// `reserved`: abandon makes it uncertain (never re-sent).
    #[tokio::test]
    async fn abandon_leaves_no_reservation_without_an_outcome() {
        let dir = tempfile::tempdir().unwrap();
        let location = Location::Sqlite(dir.path().join("journal.sqlite"));
        let journal = Journal::open(&location, JournalOptions::default()).await.unwrap();
        let since = Timestamp::now();
        let reserve = |campaign: &'static str, customer: &'static str, run_id: &'static str| {
            let journal = &journal;
            async move {
                let key = MessageKey { campaign, customer, conversation_id: customer };
                let request = ReserveRequest { run_id, key, once_every: None, text: "Hi" };
                let Reserve::Reserved(id) = journal.reserve(&request, Timestamp::now()).await.unwrap() else {
                    panic!()
                };
                id
            }
        };
        let mine = reserve("w", "c1", "host/1/start/w/20261201T120000Z").await;
        // Another campaign's reservation, and another runner's (a shared journal), are not ours.
        let other_campaign = reserve("other", "c2", "host/1/start/other/20261201T120000Z").await;
        let other_runner = reserve("w", "c3", "host/2/start/w/20261201T120000Z").await;
        abandon(&journal, "host/1/start", &["w".to_owned()], since).await;
        assert_eq!(journal.get(mine).await.unwrap().unwrap().state, State::Uncertain);
        assert_eq!(journal.get(other_campaign).await.unwrap().unwrap().state, State::Reserved);
        assert_eq!(journal.get(other_runner).await.unwrap().unwrap().state, State::Reserved);
        journal.close().await;
    }
}
