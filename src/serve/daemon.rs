//! The serve loop around the pure [`Scheduler`]: it asks what is due, runs each occurrence as a
//! task (through an [`OccurrenceRunner`]), reloads the campaigns when their files change, and
//! on shutdown stops taking work and waits, bounded, for the runs in flight.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use super::metrics::Metrics;
use super::reload::{Reloaded, Watcher};
use super::schedule::{Event, Scheduler};
use crate::campaign::CampaignSet;
use crate::model::fields::Needs;

/// How one occurrence ended.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunReport {
    /// `ok`, `failed` (see `error`), or `leased_elsewhere` (another instance took it).
    pub result: &'static str,
    /// Messages by delivery outcome (`sent`, `failed`, `uncertain`, `capped`, `not_sent`).
    pub sends: BTreeMap<&'static str, usize>,
    /// Skipped session-and-campaign pairs by reason.
    pub skips: BTreeMap<String, usize>,
    pub sessions: usize,
    pub error: Option<String>,
}

/// Runs one occurrence of one campaign. `set` holds that campaign alone; `stop` is set on
/// shutdown (no new message may start).
///
/// The futures need not be `Send`: the loop runs them on its own thread (a `LocalSet`).
pub trait OccurrenceRunner: 'static {
    fn run(
        &self,
        set: Arc<CampaignSet>,
        occurrence: Timestamp,
        stop: Arc<AtomicBool>,
    ) -> impl Future<Output = RunReport>;

    /// After the shutdown timeout, the runs still going were dropped: record what they left
    /// (reservations without an outcome become `uncertain`).
    fn abandon(&self, campaigns: Vec<String>, since: Timestamp) -> impl Future<Output = ()>;
}

/// Where `now` comes from: the system clock, or tokio's (paused in tests).
pub trait Clock: Send + Sync {
    fn now(&self) -> Timestamp;
}

pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}

/// `base` plus the tokio time elapsed since creation: follows `tokio::time::pause`/`advance`.
pub struct TokioClock {
    base: Timestamp,
    start: tokio::time::Instant,
}

impl TokioClock {
    pub fn new(base: Timestamp) -> TokioClock {
        TokioClock { base, start: tokio::time::Instant::now() }
    }
}

impl Clock for TokioClock {
    fn now(&self) -> Timestamp {
        let elapsed = SignedDuration::try_from(self.start.elapsed()).unwrap_or(SignedDuration::MAX);
        self.base.saturating_add(elapsed).unwrap_or(Timestamp::MAX)
    }
}

/// The serve loop's settings.
pub struct Settings {
    pub max_lateness: SignedDuration,
    pub shutdown_timeout: Duration,
    pub reload_interval: Duration,
}

/// How the loop ended.
#[derive(Debug, PartialEq, Eq)]
pub struct Stopped {
    /// Runs that did not finish within the shutdown timeout and were abandoned.
    pub abandoned: usize,
}

/// The campaign set for one campaign's runs: that campaign alone (so priorities and run limits
/// are its own; the journal's caps still span every campaign). A window in the customer's zone
/// needs the participant attributes, so the conversation details are loaded for it.
pub fn single(set: &CampaignSet, name: &str) -> Option<CampaignSet> {
    let mut campaign = set.campaigns.iter().find(|c| c.name == name)?.clone();
    let customer_window = campaign
        .schedule
        .as_ref()
        .and_then(|s| s.active_window.as_ref())
        .is_some_and(|w| matches!(w.time_zone, crate::campaign::WindowZone::Customer { .. }));
    if customer_window && !campaign.needs.contains(&Needs::Details) {
        campaign.needs.push(Needs::Details);
        campaign.needs.sort();
    }
    Some(CampaignSet { campaigns: vec![campaign], templates: set.templates.clone(), warnings: Vec::new() })
}

fn fmt_time(t: Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// The loop. Ends (after the bounded wait for runs in flight) when `shutdown` completes.
pub async fn serve<R: OccurrenceRunner>(
    runner: Arc<R>,
    clock: &dyn Clock,
    set: CampaignSet,
    watcher: Option<Watcher>,
    metrics: Arc<Metrics>,
    settings: Settings,
    shutdown: impl Future<Output = ()>,
) -> Stopped {
    let local = tokio::task::LocalSet::new();
    local.run_until(serve_local(runner, clock, set, watcher, metrics, settings, shutdown)).await
}

async fn serve_local<R: OccurrenceRunner>(
    runner: Arc<R>,
    clock: &dyn Clock,
    set: CampaignSet,
    mut watcher: Option<Watcher>,
    metrics: Arc<Metrics>,
    settings: Settings,
    shutdown: impl Future<Output = ()>,
) -> Stopped {
    let mut scheduler = Scheduler::new(settings.max_lateness);
    let mut singles: HashMap<String, Arc<CampaignSet>> = HashMap::new();
    let started = clock.now();
    take_set(&mut scheduler, &mut singles, &set, started);
    let stop = Arc::new(AtomicBool::new(false));
    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<(String, Timestamp, RunReport, SignedDuration)>();
    let mut tasks = JoinSet::new();
    let mut running: BTreeMap<String, Timestamp> = BTreeMap::new();
    let reload_every = SignedDuration::try_from(settings.reload_interval).unwrap_or(SignedDuration::from_secs(2));
    let mut next_reload = started.saturating_add(reload_every).unwrap_or(Timestamp::MAX);
    tokio::pin!(shutdown);
    loop {
        let now = clock.now();
        if now >= next_reload {
            next_reload = now.saturating_add(reload_every).unwrap_or(Timestamp::MAX);
            if let Some(w) = watcher.as_mut() {
                match w.check() {
                    Reloaded::Unchanged => {}
                    Reloaded::Valid(new) => {
                        let names = take_set(&mut scheduler, &mut singles, &new, now);
                        metrics.reload("applied");
                        tracing::info!(campaigns = ?names, "campaign files changed: the new set is in effect");
                    }
                    Reloaded::Invalid(text) => {
                        metrics.reload("invalid");
                        eprint!("{text}");
                        tracing::error!(
                            "campaign files changed but are not valid (see above): the last valid set keeps running"
                        );
                    }
                }
            }
        }
        for event in scheduler.poll(now) {
            match event {
                Event::Due { campaign, occurrence } => {
                    let Some(one) = singles.get(&campaign).cloned() else { continue };
                    running.insert(campaign.clone(), occurrence);
                    tracing::info!(%campaign, occurrence = %fmt_time(occurrence), "run starts");
                    let (runner, stop, tx) = (runner.clone(), stop.clone(), done_tx.clone());
                    let begin = tokio::time::Instant::now();
                    tasks.spawn_local(async move {
                        let report = runner.run(one, occurrence, stop).await;
                        let took = SignedDuration::try_from(begin.elapsed()).unwrap_or_default();
                        let _ = tx.send((campaign, occurrence, report, took));
                    });
                }
                Event::Missed { campaign, first, last, count } => {
                    metrics.runs(&campaign, "missed", count);
                    tracing::warn!(
                        %campaign,
                        first = %fmt_time(first),
                        last = %fmt_time(last),
                        count,
                        "skipped {count} occurrence(s) more than {} late (downtime?); not caught up",
                        crate::campaign::duration::format(settings.max_lateness)
                    );
                }
                Event::Overlap { campaign, occurrence, running } => {
                    metrics.run(&campaign, "overlap");
                    tracing::warn!(%campaign, occurrence = %fmt_time(occurrence), running = %fmt_time(running),
                        "skipped: the previous run of this campaign is still going");
                }
                Event::OutsideWindow { campaign, occurrence } => {
                    metrics.run(&campaign, "outside_window");
                    tracing::info!(%campaign, occurrence = %fmt_time(occurrence), "skipped: outside the active window");
                }
            }
        }
        let wake = scheduler.next_wake().map_or(next_reload, |w| w.min(next_reload));
        let wait = clock.now().duration_until(wake).max(SignedDuration::ZERO).min(SignedDuration::from_mins(1));
        let wait = Duration::try_from(wait).unwrap_or_default();
        tokio::select! {
            _ = &mut shutdown => break,
            Some((campaign, occurrence, report, took)) = done_rx.recv() => {
                scheduler.finished(&campaign, occurrence);
                running.remove(&campaign);
                finished(&metrics, &campaign, occurrence, &report, took);
            }
            _ = tokio::time::sleep(wait) => {}
        }
    }
    // Shutdown: no new occurrence, no new message; the sends under way finish and are recorded.
    stop.store(true, Ordering::SeqCst);
    tracing::info!(
        running = running.len(),
        "stopping: no new runs; waiting up to {:?} for the runs in flight",
        settings.shutdown_timeout
    );
    let drained =
        tokio::time::timeout(settings.shutdown_timeout, async { while tasks.join_next().await.is_some() {} }).await;
    while let Ok((campaign, occurrence, report, took)) = done_rx.try_recv() {
        running.remove(&campaign);
        finished(&metrics, &campaign, occurrence, &report, took);
    }
    let abandoned = running.len();
    if drained.is_err() || abandoned > 0 {
        tasks.abort_all();
        while tasks.join_next().await.is_some() {}
        tracing::warn!(runs = ?running.keys().collect::<Vec<_>>(), "shutdown timeout: runs still going were stopped");
        runner.abandon(running.keys().cloned().collect(), started).await;
    }
    tracing::info!("stopped");
    Stopped { abandoned }
}

fn take_set(
    scheduler: &mut Scheduler,
    singles: &mut HashMap<String, Arc<CampaignSet>>,
    set: &CampaignSet,
    now: Timestamp,
) -> Vec<String> {
    let names = scheduler.set_campaigns(set, now);
    *singles = names.iter().filter_map(|n| single(set, n).map(|s| (n.clone(), Arc::new(s)))).collect();
    names
}

fn finished(metrics: &Metrics, campaign: &str, occurrence: Timestamp, report: &RunReport, took: SignedDuration) {
    metrics.run(campaign, report.result);
    for (outcome, n) in &report.sends {
        metrics.sends(campaign, outcome, *n);
    }
    for (reason, n) in &report.skips {
        metrics.skips(campaign, reason, *n);
    }
    let sends = format!("{:?}", report.sends);
    let skips = format!("{:?}", report.skips);
    let duration_ms = took.as_millis();
    match (&report.error, report.result) {
        (Some(error), _) => {
            tracing::error!(%campaign, occurrence = %fmt_time(occurrence), duration_ms, %sends, %skips, "run failed: {error}")
        }
        (None, "leased_elsewhere") => {
            tracing::info!(%campaign, occurrence = %fmt_time(occurrence), "another serve instance runs this occurrence")
        }
        (None, _) => {
            metrics.success(campaign, occurrence);
            tracing::info!(%campaign, occurrence = %fmt_time(occurrence), sessions = report.sessions, duration_ms, %sends, %skips, "run finished");
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::serve::tests::{set_of, ts};

    /// Records every run; each run takes `takes` of (tokio) time and checks `stop` halfway.
    struct FakeRunner {
        runs: Mutex<Vec<(String, Timestamp)>>,
        takes: Duration,
        stopped_midway: AtomicBool,
        abandoned: Mutex<Vec<String>>,
    }

    impl OccurrenceRunner for FakeRunner {
        async fn run(&self, set: Arc<CampaignSet>, occurrence: Timestamp, stop: Arc<AtomicBool>) -> RunReport {
            self.runs.lock().unwrap().push((set.campaigns[0].name.clone(), occurrence));
            tokio::time::sleep(self.takes / 2).await;
            if stop.load(Ordering::SeqCst) {
                self.stopped_midway.store(true, Ordering::SeqCst);
            }
            tokio::time::sleep(self.takes / 2).await;
            RunReport { result: "ok", ..RunReport::default() }
        }

        async fn abandon(&self, campaigns: Vec<String>, _since: Timestamp) {
            self.abandoned.lock().unwrap().extend(campaigns);
        }
    }

    fn fake(takes: Duration) -> Arc<FakeRunner> {
        Arc::new(FakeRunner {
            runs: Mutex::default(),
            takes,
            stopped_midway: AtomicBool::new(false),
            abandoned: Mutex::default(),
        })
    }

    fn settings(shutdown: u64) -> Settings {
        Settings {
            max_lateness: SignedDuration::from_secs(30),
            shutdown_timeout: Duration::from_secs(shutdown),
            reload_interval: Duration::from_secs(2),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn runs_on_time_without_overlap_and_waits_for_runs_on_shutdown() {
        let clock = TokioClock::new(ts("2026-12-01T10:00:40Z"));
        // A run takes 90 s: the next minute's occurrence finds it still going.
        let runner = fake(Duration::from_secs(90));
        let set = set_of(&[("a", "cron: \"* * * * *\"")]);
        let stopped = serve(
            runner.clone(),
            &clock,
            set,
            None,
            Arc::new(Metrics::default()),
            settings(90),
            tokio::time::sleep(Duration::from_secs(160)),
        )
        .await;
        // 10:01 runs (to 10:02:30), 10:02 overlaps and is skipped, 10:03 runs and is in flight
        // at the shutdown (10:03:20); it sees the stop flag and finishes within the timeout.
        assert_eq!(
            *runner.runs.lock().unwrap(),
            [("a".to_owned(), ts("2026-12-01T10:01:00Z")), ("a".to_owned(), ts("2026-12-01T10:03:00Z"))]
        );
        assert_eq!(stopped, Stopped { abandoned: 0 });
        assert!(runner.stopped_midway.load(Ordering::SeqCst), "the run in flight saw the stop flag");
        assert!(runner.abandoned.lock().unwrap().is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn a_run_longer_than_the_shutdown_timeout_is_abandoned() {
        let clock = TokioClock::new(ts("2026-12-01T10:00:50Z"));
        let runner = fake(Duration::from_secs(600));
        let set = set_of(&[("a", "cron: \"* * * * *\"")]);
        let stop_at = tokio::time::Instant::now() + Duration::from_secs(20);
        let stopped = serve(
            runner.clone(),
            &clock,
            set,
            None,
            Arc::new(Metrics::default()),
            settings(5),
            tokio::time::sleep_until(stop_at),
        )
        .await;
        assert_eq!(stopped, Stopped { abandoned: 1 });
        assert_eq!(*runner.abandoned.lock().unwrap(), ["a"]);
        // Bounded: the loop ended 5 s after the shutdown signal.
        assert_eq!(clock.now(), ts("2026-12-01T10:01:15Z"));
    }

    #[tokio::test(start_paused = true)]
    async fn a_reload_takes_effect_and_a_bad_one_keeps_the_last_good_set() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("campaigns")).unwrap();
        let file = dir.path().join("campaigns/a.yaml");
        let good = |cron: &str| format!("name: a\nmessage:\n  text: Hi\nschedule:\n  cron: \"{cron}\"\n");
        std::fs::write(&file, good("0 * * * *")).unwrap();
        let args =
            crate::cli::CampaignArgs { campaigns: vec![dir.path().join("campaigns")], templates: dir.path().join("t") };
        let (watcher, loaded) = Watcher::start(args, super::super::load_set);
        let set = loaded.unwrap().0;
        let clock = TokioClock::new(ts("2026-12-01T10:00:00Z"));
        let runner = fake(Duration::from_secs(1));
        let metrics = Arc::new(Metrics::default());
        let edits = async {
            tokio::time::sleep(Duration::from_secs(10)).await;
            std::fs::write(&file, good("*/5 * * * *")).unwrap(); // good: every 5 minutes
            tokio::time::sleep(Duration::from_secs(400)).await; // 10:06:50: 10:05 ran
            std::fs::write(&file, "name: a\nmessage: [\n").unwrap(); // bad
            tokio::time::sleep(Duration::from_secs(400)).await; // 10:13:30: 10:10 ran from the last good set
        };
        serve(runner.clone(), &clock, set, Some(watcher), metrics.clone(), settings(5), edits).await;
        assert_eq!(
            *runner.runs.lock().unwrap(),
            [
                ("a".to_owned(), ts("2026-12-01T10:00:00Z")),
                ("a".to_owned(), ts("2026-12-01T10:05:00Z")),
                ("a".to_owned(), ts("2026-12-01T10:10:00Z"))
            ]
        );
        let text = metrics.render();
        assert!(text.contains("runner_reloads_total{result=\"applied\"} 1"), "{text}");
        assert!(text.contains("runner_reloads_total{result=\"invalid\"} 1"), "{text}");
        assert!(text.contains("runner_runs_total{campaign=\"a\",result=\"ok\"} 3"), "{text}");
    }

    /// The clock jumps an hour ahead (a suspended machine) once `after` of tokio time passed.
    struct JumpClock {
        inner: TokioClock,
        after: Duration,
        jump: SignedDuration,
    }

    impl Clock for JumpClock {
        fn now(&self) -> Timestamp {
            let now = self.inner.now();
            if self.inner.start.elapsed() >= self.after { now.saturating_add(self.jump).unwrap() } else { now }
        }
    }

    #[tokio::test(start_paused = true)]
    async fn missed_occurrences_are_counted_one_by_one() {
        let clock = JumpClock {
            inner: TokioClock::new(ts("2026-12-01T10:01:00Z")),
            after: Duration::from_secs(5),
            jump: SignedDuration::from_hours(1),
        };
        let runner = fake(Duration::from_secs(1));
        let metrics = Arc::new(Metrics::default());
        let set = set_of(&[("a", "cron: \"*/15 * * * *\"")]);
        let shutdown = tokio::time::sleep(Duration::from_secs(10));
        serve(runner.clone(), &clock, set, None, metrics.clone(), settings(5), shutdown).await;
        // Woken at 11:01:06: 10:15, 10:30, 10:45 and 11:00 were missed, none ran.
        assert!(runner.runs.lock().unwrap().is_empty());
        let text = metrics.render();
        assert!(text.contains("runner_runs_total{campaign=\"a\",result=\"missed\"} 4\n"), "{text}");
    }
}
