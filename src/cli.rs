//! Command-line flags: parsed by clap, then checked into the richer structs the app runs on.

use std::path::PathBuf;

use clap::parser::ValueSource;
use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};
use jiff::Timestamp;

use crate::error::AppError;

#[derive(Debug, Parser)]
#[command(
    name = "runner",
    version,
    about = "Proactive messaging campaigns for Genesys Cloud web messaging",
    long_about = "Proactive messaging campaigns for Genesys Cloud web messaging.\n\n\
        `runner` with no command is `runner run`: it loads every campaign, lists the active \
        web-messaging sessions, decides who gets which message and sends it. Add --dry-run to \
        preview without sending, and --snapshot FILE to preview against recorded data."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Print only errors on stderr: no warnings, no progress bar.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Log what the run does on stderr: -v for info, -vv for debug. RUNNER_LOG, when set, wins.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    #[command(flatten)]
    pub run: RunArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Decide who gets which message and send it (the default command).
    Run(RunArgs),
    /// Check every campaign and template: exit 0 when all are valid, 1 when any is not.
    Validate(ValidateArgs),
    /// Run the tests written inside the campaign files (`tests:`): exit 0 when all pass, 1 when any fails.
    Test(TestArgs),
    /// Record the live org's active sessions and the data the campaigns need into a snapshot file.
    Snapshot(SnapshotArgs),
    /// Print the JSON Schema of campaign files, for YAML editors (schema/campaign.schema.json).
    Schema,
    /// Create campaigns/NAME.yaml: a commented example campaign to edit.
    New(NewArgs),
    /// Print a shell completion script: `runner completions bash > /etc/bash_completion.d/runner`.
    Completions(CompletionsArgs),
    /// The send journal: what was sent to whom, uncertain and failed messages, and settling them.
    Journal(crate::journal::command::JournalArgs),
    /// Run every enabled campaign that has a `schedule` on its own cron, until SIGTERM / Ctrl-C.
    Serve(crate::serve::ServeArgs),
    /// List each scheduled campaign's next run times in its time zone, and its cron in words.
    Schedule(crate::serve::ScheduleArgs),
}

#[derive(Debug, Clone, Args)]
pub struct NewArgs {
    /// The campaign's name: letters, digits, `-` and `_`.
    pub name: String,
    /// The directory to create the file in.
    #[arg(long, value_name = "DIR", default_value = "campaigns")]
    pub dir: PathBuf,
}

#[derive(Debug, Clone, Args)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// Where the campaigns and their templates are.
#[derive(Debug, Clone, Args)]
pub struct CampaignArgs {
    /// A campaign file or a directory of them (repeatable) [default: campaigns]
    #[arg(long = "campaigns", value_name = "PATH")]
    pub campaigns: Vec<PathBuf>,
    /// The directory of message templates.
    #[arg(long, value_name = "DIR", default_value = "templates")]
    pub templates: PathBuf,
}

impl CampaignArgs {
    pub fn campaign_paths(&self) -> Vec<PathBuf> {
        if self.campaigns.is_empty() { vec![PathBuf::from("campaigns")] } else { self.campaigns.clone() }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum Format {
    /// Tables for people.
    #[default]
    Text,
    /// JSON lines for scripts.
    Json,
}

#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub campaigns: CampaignArgs,
    /// Decide and render, but send nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Read recorded Genesys data from this snapshot file instead of the API (needs --dry-run).
    #[arg(long, value_name = "FILE")]
    pub snapshot: Option<PathBuf>,
    /// Show, for every session and campaign, each condition, the value it saw, and the decision.
    #[arg(long)]
    pub explain: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// The time of the run, RFC 3339 (e.g. 2026-11-24T12:00:00Z). Default: the snapshot's
    /// capture time with --snapshot, else the clock.
    #[arg(long, value_name = "TIME")]
    pub now: Option<String>,
    /// Settings file for the live client (look-back, request rate, concurrency, timeouts).
    #[arg(long, value_name = "FILE", env = "RUNNER_CONFIG")]
    pub config: Option<PathBuf>,
    #[command(flatten)]
    pub journal: crate::journal::command::JournalRunArgs,
    /// Also write the preview as one self-contained HTML page to FILE (e.g. preview.html).
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct SnapshotArgs {
    #[command(flatten)]
    pub campaigns: CampaignArgs,
    /// Where to write the snapshot (JSON).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// A description stored in the snapshot.
    #[arg(long)]
    pub description: Option<String>,
    /// The time of the recording, RFC 3339. Default: the clock.
    #[arg(long, value_name = "TIME")]
    pub now: Option<String>,
    /// Settings file for the live client.
    #[arg(long, value_name = "FILE", env = "RUNNER_CONFIG")]
    pub config: Option<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct ValidateArgs {
    #[command(flatten)]
    pub campaigns: CampaignArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

#[derive(Debug, Clone, Args)]
pub struct TestArgs {
    #[command(flatten)]
    pub campaigns: CampaignArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

/// Where a run reads its data.
#[derive(Debug, Clone, PartialEq)]
pub enum DataSource {
    Snapshot(PathBuf),
    Live,
}

/// A run's flags, checked.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub campaigns: CampaignArgs,
    pub source: DataSource,
    pub dry_run: bool,
    pub explain: bool,
    pub format: Format,
    pub now: Option<Timestamp>,
    pub config: Option<PathBuf>,
    pub journal: crate::journal::command::JournalRunArgs,
    /// `--report FILE`: the HTML preview.
    pub report: Option<PathBuf>,
}

impl RunArgs {
    /// Checks flags that clap cannot check alone.
    pub fn check(self) -> Result<RunOptions, AppError> {
        if self.snapshot.is_some() && !self.dry_run {
            return Err(AppError::Usage("--snapshot previews recorded data and never sends: add --dry-run".to_owned()));
        }
        if self.now.is_some() && !self.dry_run {
            return Err(AppError::Usage(
                "--now only goes with --dry-run: a run that sends decides on the real clock".to_owned(),
            ));
        }
        let now = self.now.as_deref().map(parse_now).transpose()?;
        Ok(RunOptions {
            campaigns: self.campaigns,
            source: self.snapshot.map_or(DataSource::Live, DataSource::Snapshot),
            dry_run: self.dry_run,
            explain: self.explain,
            format: self.format,
            now,
            config: self.config,
            journal: self.journal,
            report: self.report,
        })
    }
}

impl SnapshotArgs {
    /// The recording time: `--now`, else the clock.
    pub fn now(&self) -> Result<Timestamp, AppError> {
        self.now.as_deref().map_or_else(|| Ok(Timestamp::now()), parse_now)
    }
}

fn parse_now(t: &str) -> Result<Timestamp, AppError> {
    t.parse::<Timestamp>()
        .map_err(|e| AppError::Usage(format!("--now `{t}` is not an RFC 3339 time such as 2026-11-24T12:00:00Z: {e}")))
}

/// Parses the command line, exiting with code 2 and clap's message on a usage error.
pub fn parse() -> Cli {
    parse_from(std::env::args_os()).unwrap_or_else(|e| e.exit())
}

/// Parses arguments. `runner`'s own flags (those of `run`, which `runner` alone means) cannot
/// stand before a command; `-q`/`-v` can stand anywhere.
pub fn parse_from<I, T>(args: I) -> Result<Cli, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let mut command = <Cli as CommandFactory>::command();
    // Argument ids only (flattened structs also show as group ids).
    let arguments: Vec<String> = command.get_arguments().map(|a| a.get_id().to_string()).collect();
    let matches = command.try_get_matches_from_mut(args)?;
    if let Some((name, sub)) = matches.subcommand() {
        // A global flag of the command itself (e.g. `journal --journal`) shows at the top too.
        let given_to_command =
            |id: &str| sub.ids().any(|i| i.as_str() == id) && sub.value_source(id) == Some(ValueSource::CommandLine);
        let misplaced = matches.ids().map(|id| id.as_str()).find(|id| {
            arguments.iter().any(|a| a == id)
                && !matches!(*id, "quiet" | "verbose")
                && matches.value_source(id) == Some(ValueSource::CommandLine)
                && !given_to_command(id)
        });
        if let Some(id) = misplaced {
            let message = format!(
                "`--{}` belongs to `runner run` (what `runner` alone means); it cannot come before `{name}`",
                id.replace('_', "-")
            );
            return Err(command.error(clap::error::ErrorKind::ArgumentConflict, message));
        }
    }
    Cli::from_arg_matches(&matches)
}

impl Cli {
    /// The log filter the flags ask for: `error` with --quiet, `warn` by default, `info` with
    /// -v, `debug` with -vv.
    pub fn log_filter(&self) -> &'static str {
        match (self.quiet, self.verbose) {
            (true, _) => "error",
            (false, 0) => "warn",
            (false, 1) => "info",
            (false, _) => "debug",
        }
    }

    /// The command to run: `runner` alone means `runner run`.
    pub fn command(self) -> Command {
        self.command.unwrap_or(Command::Run(self.run))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        parse_from(std::iter::once("runner").chain(args.iter().copied()))
    }

    #[test]
    fn no_subcommand_means_run() {
        let cli = parse(&["--dry-run", "--snapshot", "s.json", "--explain"]).unwrap();
        let Command::Run(args) = cli.command() else { panic!("expected run") };
        let opts = args.check().unwrap();
        assert!(opts.dry_run && opts.explain);
        assert_eq!(opts.source, DataSource::Snapshot("s.json".into()));
        assert_eq!(opts.campaigns.campaign_paths(), vec![PathBuf::from("campaigns")]);
    }

    #[test]
    fn snapshot_needs_dry_run_and_now_must_parse() {
        let Command::Run(args) = parse(&["run", "--snapshot", "s.json"]).unwrap().command() else { panic!() };
        assert!(matches!(args.check(), Err(AppError::Usage(m)) if m.contains("--dry-run")));
        let Command::Run(args) = parse(&["--dry-run", "--now", "yesterday"]).unwrap().command() else { panic!() };
        assert!(matches!(args.check(), Err(AppError::Usage(m)) if m.contains("RFC 3339")));
    }

    #[test]
    fn quiet_and_verbose_set_the_log_filter_anywhere_on_the_line() {
        assert_eq!(parse(&["--dry-run"]).unwrap().log_filter(), "warn");
        assert_eq!(parse(&["-v", "--dry-run"]).unwrap().log_filter(), "info");
        assert_eq!(parse(&["validate", "-vv"]).unwrap().log_filter(), "debug");
        assert_eq!(parse(&["test", "--quiet"]).unwrap().log_filter(), "error");
        assert_eq!(parse(&["-q", "validate"]).unwrap().log_filter(), "error");
        assert_eq!(parse(&["-vv", "journal", "list"]).unwrap().log_filter(), "debug");
        assert!(parse(&["validate", "-q", "-v"]).is_err());
    }

    #[test]
    fn run_flags_cannot_stand_before_another_command() {
        for args in [&["--dry-run", "validate"][..], &["--campaigns", "x", "test"], &["--explain", "schedule"]] {
            let e = parse(args).unwrap_err();
            assert_eq!(e.kind(), clap::error::ErrorKind::ArgumentConflict);
            assert!(e.to_string().contains("belongs to `runner run`"), "{e}");
        }
        // After `run` they are fine, and so is `runner` alone.
        assert!(parse(&["run", "--dry-run", "--campaigns", "x"]).is_ok());
        assert!(parse(&["--dry-run", "--campaigns", "x"]).is_ok());
    }

    #[test]
    fn validate_takes_paths() {
        let cli = parse(&["validate", "--campaigns", "a.yaml", "--campaigns", "dir", "--templates", "t"]).unwrap();
        let Command::Validate(args) = cli.command() else { panic!("expected validate") };
        assert_eq!(args.campaigns.campaign_paths(), vec![PathBuf::from("a.yaml"), PathBuf::from("dir")]);
        assert_eq!(args.campaigns.templates, PathBuf::from("t"));
    }
}
