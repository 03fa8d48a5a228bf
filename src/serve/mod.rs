//! Scheduled execution: `runner serve` runs each enabled campaign that has a `schedule` on its
//! own cron, and `runner schedule` lists the next run times.
//!
//! - [`schedule`]: the pure scheduler core (what is due, missed, skipped; the next wake-up).
//! - [`describe`]: cron expressions in plain English.
//! - [`daemon`]: the async loop around the core: occurrences, the lease, reload, shutdown.
//! - [`reload`]: watching the campaign and template files (mtime polling).
//! - [`metrics`]: counters and the `/healthz` + `/metrics` HTTP endpoint.
//! - [`cron_time`]: croner over jiff 1.

pub mod cron_time;
pub mod daemon;
pub mod describe;
pub mod live;
pub mod metrics;
pub mod reload;
pub mod schedule;

use std::io::Write;
use std::path::PathBuf;

use clap::{Args, ValueEnum};
use jiff::{SignedDuration, Timestamp};

use crate::campaign::CampaignSet;
use crate::cli::{CampaignArgs, Format};
use crate::error::AppError;
use crate::exit::ExitCode;

/// `runner serve`'s flags.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub campaigns: CampaignArgs,
    /// Settings file for the live client (look-back, request rate, concurrency, timeouts).
    #[arg(long, value_name = "FILE", env = "RUNNER_CONFIG")]
    pub config: Option<PathBuf>,
    #[command(flatten)]
    pub journal: crate::journal::command::JournalRunArgs,
    /// How late an occurrence may still run (after downtime or a stall); older ones are skipped,
    /// never caught up. e.g. `5m`.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_duration)]
    pub max_lateness: SignedDuration,
    /// On SIGTERM / Ctrl-C, how long in-flight runs may take to finish before the process exits.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_duration)]
    pub shutdown_timeout: SignedDuration,
    /// How often the campaign and template files are checked for changes.
    #[arg(long, value_name = "DURATION", default_value = "2s", value_parser = parse_duration)]
    pub reload_interval: SignedDuration,
    /// Serve `/healthz` and Prometheus `/metrics` on this address, e.g. 127.0.0.1:9464.
    #[arg(long, value_name = "ADDR")]
    pub metrics_addr: Option<std::net::SocketAddr>,
    /// Log format (stderr), for every log line of the process. Level: `info`, `-q` errors
    /// only, `-v` debug, `-vv` trace; `RUNNER_LOG` (e.g. `warn,runner=debug`) wins.
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Decide but send nothing (the journal is read, never written; no lease is taken).
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    /// One JSON object per line.
    Json,
}

impl LogFormat {
    pub fn is_json(self) -> bool {
        self == LogFormat::Json
    }
}

/// `runner serve`'s log filter (before `RUNNER_LOG`, which wins): a service logs its runs, so
/// `info` by default; `error` with --quiet, `debug` with -v, `trace` with -vv.
pub fn log_filter(quiet: bool, verbose: u8) -> &'static str {
    match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "info",
        (false, 1) => "debug",
        (false, _) => "trace",
    }
}

/// `runner schedule`'s flags.
#[derive(Debug, Clone, Args)]
pub struct ScheduleArgs {
    #[command(flatten)]
    pub campaigns: CampaignArgs,
    /// How many run times to list per campaign.
    #[arg(long, short = 'n', default_value_t = 5)]
    pub count: usize,
    /// List the run times after this time (RFC 3339). Default: the clock.
    #[arg(long, value_name = "TIME")]
    pub now: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

fn parse_duration(text: &str) -> Result<SignedDuration, String> {
    crate::campaign::duration::parse(text).map_err(|e| format!("`{text}` is not a duration such as 30s, 5m or 1h: {e}"))
}

/// Loads the campaigns as `validate` does: an invalid set is refused with the same rendering.
pub fn load_set(args: &CampaignArgs) -> Result<(CampaignSet, crate::campaign::load::Loaded), AppError> {
    let mut loaded = crate::campaign::load::load(&crate::campaign::load::LoadOptions {
        campaigns: args.campaign_paths(),
        templates_dir: args.templates.clone(),
    });
    match loaded.set.take() {
        Some(set) => Ok((set, loaded)),
        None => {
            let mut text = crate::campaign::diagnostic::render(&loaded.diagnostics, false);
            text.push_str(&format!(
                "{}\nNothing was run: fix the campaigns above (check them with `runner validate`).\n",
                crate::campaign::diagnostic::summary(&loaded.diagnostics, loaded.files)
            ));
            Err(AppError::InvalidCampaigns(text))
        }
    }
}

/// `runner schedule`: each campaign's next run times in its zone, and its cron in words.
pub fn schedule_command(args: ScheduleArgs, out: &mut dyn Write) -> Result<ExitCode, AppError> {
    let now = match &args.now {
        Some(t) => t.parse::<Timestamp>().map_err(|e| {
            AppError::Usage(format!("--now `{t}` is not an RFC 3339 time such as 2026-11-24T12:00:00Z: {e}"))
        })?,
        None => Timestamp::now(),
    };
    let (set, _) = load_set(&args.campaigns)?;
    let _ = match args.format {
        Format::Text => out.write_all(schedule_text(&set, now, args.count).as_bytes()),
        Format::Json => out.write_all(schedule_json(&set, now, args.count).as_bytes()),
    };
    Ok(ExitCode::Success)
}

fn window_text(s: &crate::campaign::Schedule) -> Option<String> {
    let w = s.active_window.as_ref()?;
    let zone = match &w.time_zone {
        crate::campaign::WindowZone::Schedule => s.time_zone_name.clone(),
        crate::campaign::WindowZone::Customer { attribute } => format!("the customer's zone (attribute `{attribute}`)"),
    };
    Some(format!("{} in {zone}", w.describe()))
}

pub fn schedule_text(set: &CampaignSet, now: Timestamp, count: usize) -> String {
    let mut out = String::new();
    for c in &set.campaigns {
        let Some(s) = &c.schedule else {
            out.push_str(&format!("{}: no schedule (runner serve does not run it)\n\n", c.name));
            continue;
        };
        let disabled = if c.enabled { "" } else { " (disabled: runner serve does not run it)" };
        out.push_str(&format!("{}{disabled}\n", c.name));
        out.push_str(&format!("  cron      {}  ({})\n", s.cron_text, describe::describe(&s.cron, &s.cron_text)));
        out.push_str(&format!("  time zone {}\n", s.time_zone_name));
        if s.start.is_some() || s.end.is_some() {
            let day = |d: Option<jiff::civil::Date>| d.map_or_else(|| "-".to_owned(), |d| d.to_string());
            out.push_str(&format!("  days      {} to {} (inclusive)\n", day(s.start), day(s.end)));
        }
        if let Some(w) = window_text(s) {
            out.push_str(&format!("  window    {w}\n"));
        }
        let next = schedule::upcoming(s, now, count);
        if next.is_empty() {
            out.push_str("  next      none (the end date has passed)\n");
        }
        for (i, z) in next.iter().enumerate() {
            let label = if i == 0 { "next" } else { "" };
            let outside =
                if schedule::in_schedule_window(s, z.timestamp()) { "" } else { "  (outside the window: skipped)" };
            out.push_str(&format!("  {label:<9} {}{outside}\n", z.strftime("%a %Y-%m-%d %H:%M %Z")));
        }
        out.push('\n');
    }
    out
}

pub fn schedule_json(set: &CampaignSet, now: Timestamp, count: usize) -> String {
    let mut out = String::new();
    for c in &set.campaigns {
        let value = match &c.schedule {
            None => serde_json::json!({ "campaign": c.name, "enabled": c.enabled, "schedule": null }),
            Some(s) => serde_json::json!({
                "campaign": c.name,
                "enabled": c.enabled,
                "cron": s.cron_text,
                "description": describe::describe(&s.cron, &s.cron_text),
                "time_zone": s.time_zone_name,
                "start": s.start.map(|d| d.to_string()),
                "end": s.end.map(|d| d.to_string()),
                "active_window": window_text(s),
                "next": schedule::upcoming(s, now, count).iter().map(|z| serde_json::json!({
                    "local": z.strftime("%Y-%m-%dT%H:%M:%S%:z").to_string(),
                    "utc": z.timestamp().to_string(),
                    "in_window": schedule::in_schedule_window(s, z.timestamp()),
                })).collect::<Vec<_>>(),
            }),
        };
        out.push_str(&value.to_string());
        out.push('\n');
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub fn ts(text: &str) -> Timestamp {
        text.parse().expect("a test time")
    }

    /// A campaign set of campaigns named `name` with the given `schedule:` body.
    pub fn set_of(campaigns: &[(&str, &str)]) -> CampaignSet {
        let sources = campaigns
            .iter()
            .map(|(name, schedule)| {
                let body: String = schedule.lines().map(|l| format!("  {l}\n")).collect();
                let text = format!("name: {name}\nmessage:\n  text: Hi\nschedule:\n{body}");
                (PathBuf::from(format!("campaigns/{name}.yaml")), text)
            })
            .collect();
        let loaded = crate::campaign::load::load_sources(
            sources,
            crate::campaign::compile::TemplateFiles { dir: PathBuf::from("templates"), files: None },
        );
        loaded.set.unwrap_or_else(|| panic!("{}", crate::campaign::diagnostic::render(&loaded.diagnostics, false)))
    }

    #[test]
    fn schedule_lists_next_runs_in_the_zone() {
        let set = set_of(&[(
            "advent",
            "cron: \"*/15 9-17 * * 1-5\"\ntime_zone: Europe/Berlin\nstart: 2026-12-01\nend: 2026-12-24",
        )]);
        let text = schedule_text(&set, ts("2026-11-20T00:00:00Z"), 3);
        assert_eq!(
            text,
            "advent\n  cron      */15 9-17 * * 1-5  (every 15 minutes, between 09:00 and 17:59, Monday to Friday)\n  \
             time zone Europe/Berlin\n  days      2026-12-01 to 2026-12-24 (inclusive)\n  \
             next      Tue 2026-12-01 09:00 CET\n            Tue 2026-12-01 09:15 CET\n            Tue 2026-12-01 09:30 CET\n\n"
        );
        let json = schedule_json(&set, ts("2026-12-24T16:40:00Z"), 3);
        let v: serde_json::Value = serde_json::from_str(json.trim()).unwrap();
        assert_eq!(v["next"].as_array().unwrap().len(), 1, "{json}");
        assert_eq!(v["next"][0]["local"], "2026-12-24T17:45:00+01:00");
        assert_eq!(v["description"], "every 15 minutes, between 09:00 and 17:59, Monday to Friday");
    }
}
