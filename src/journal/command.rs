//! `runner journal`: what was sent to whom, when and by which campaign; the uncertain and failed
//! messages; and settling an uncertain one by hand.

use std::fmt::Write as _;
use std::io::Write;

use clap::{Args, Subcommand, ValueEnum};
use jiff::Timestamp;
use unicode_width::UnicodeWidthStr;

use super::{Entry, EntryId, Filter, GlobalCap, Journal, JournalError, JournalOptions, Location, Resolution, State};
use crate::error::AppError;
use crate::exit::ExitCode;

// `RUNNER_JOURNAL` is read by `Location::from_flag_or_env`, not by clap: clap would show its
// value, which may hold a password, in `--help`.

/// The journal settings of `runner run` (live and dry): flatten into its flags.
#[derive(Debug, Clone, Default, Args)]
pub struct JournalRunArgs {
    /// The send journal: a SQLite file, or a postgres:// URL for several runners sharing one
    /// [default: $RUNNER_JOURNAL, else runner-journal.sqlite]
    #[arg(long = "journal", value_name = "PATH_OR_URL")]
    pub journal: Option<String>,
    /// At most N proactive messages per customer within a window, across all campaigns, e.g.
    /// `1/24h` or `3/7d`; `off` for none
    #[arg(long, value_name = "N/DURATION|off", env = "RUNNER_GLOBAL_CAP", default_value = DEFAULT_GLOBAL_CAP,
          value_parser = parse_global_cap)]
    pub global_cap: GlobalCapSetting,
}

/// The global cap when none is configured: one proactive message per customer per day, across
/// all campaigns. Proactive messages interrupt people; more needs a decision.
pub const DEFAULT_GLOBAL_CAP: &str = "1/24h";

/// `--global-cap`: a cap, or `off`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GlobalCapSetting(pub Option<GlobalCap>);

impl Default for GlobalCapSetting {
    fn default() -> Self {
        parse_global_cap(DEFAULT_GLOBAL_CAP).expect("the default global cap parses")
    }
}

fn parse_global_cap(s: &str) -> Result<GlobalCapSetting, String> {
    match s.trim() {
        "off" | "none" => Ok(GlobalCapSetting(None)),
        cap => cap.parse().map(|c| GlobalCapSetting(Some(c))),
    }
}

impl JournalRunArgs {
    /// `--journal`, else `RUNNER_JOURNAL`, else `runner-journal.sqlite`.
    pub fn location(&self) -> Result<Location, JournalError> {
        Location::from_flag_or_env(self.journal.as_deref())
    }

    pub fn options(&self) -> JournalOptions {
        JournalOptions { global_cap: self.global_cap.0, ..JournalOptions::default() }
    }
}

#[derive(Debug, Clone, Args)]
pub struct JournalArgs {
    /// The send journal: a SQLite file or a postgres:// URL
    /// [default: $RUNNER_JOURNAL, else runner-journal.sqlite]
    #[arg(long = "journal", value_name = "PATH_OR_URL", global = true)]
    pub journal: Option<String>,
    #[command(subcommand)]
    pub command: JournalCommand,
}

#[derive(Debug, Clone, Subcommand)]
pub enum JournalCommand {
    /// What was sent to whom, when and by which campaign, oldest first.
    List(ListArgs),
    /// The uncertain and failed messages, and how to settle the uncertain ones.
    Problems(ProblemsArgs),
    /// Settle an uncertain message: it went out (`--as sent`) or it did not (`--as released`).
    Resolve(ResolveArgs),
}

#[derive(Debug, Clone, Args)]
pub struct ListArgs {
    /// Only this campaign.
    #[arg(long)]
    pub campaign: Option<String>,
    /// Only this customer (external contact id).
    #[arg(long)]
    pub customer: Option<String>,
    /// Only this state.
    #[arg(long, value_enum)]
    pub state: Option<State>,
    /// Only messages reserved at or after this time: RFC 3339 (2026-11-24T08:00:00Z), a date
    /// (2026-11-24, midnight UTC), or a duration back from now (7d).
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ListFormat::Table)]
    pub format: ListFormat,
}

#[derive(Debug, Clone, Args)]
pub struct ProblemsArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = ListFormat::Table)]
    pub format: ListFormat,
}

#[derive(Debug, Clone, Args)]
pub struct ResolveArgs {
    /// The entry's id (the first column of `runner journal problems`).
    #[arg(value_name = "ID")]
    pub id: EntryId,
    /// What happened: `sent` (it went out; it keeps counting for the caps) or `released` (it did
    /// not; a later run may message the customer).
    #[arg(long = "as", value_enum, value_name = "OUTCOME")]
    pub resolution: Resolution,
    /// Why, for the record (e.g. "seen in the Genesys conversation").
    #[arg(long)]
    pub note: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ListFormat {
    /// A table for people.
    Table,
    /// JSON lines, one entry per line.
    Json,
    /// CSV with a header line, for spreadsheets.
    Csv,
}

/// Runs `runner journal ...`, printing to `out`. `now` is the time of the command (`--since 7d`
/// counts back from it; a resolution is recorded at it).
pub fn run(args: JournalArgs, now: Timestamp, out: &mut dyn Write) -> Result<ExitCode, AppError> {
    let location = Location::from_flag_or_env(args.journal.as_deref())?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| AppError::Usage(format!("cannot start the async runtime: {e}")))?;
    runtime.block_on(async {
        let journal = Journal::open_existing(&location, JournalOptions::default()).await?;
        let result = command(&journal, args.command, now).await;
        journal.close().await;
        let text = result?;
        let _ = out.write_all(text.as_bytes());
        Ok(ExitCode::Success)
    })
}

async fn command(journal: &Journal, command: JournalCommand, now: Timestamp) -> Result<String, AppError> {
    match command {
        JournalCommand::List(args) => {
            let since = args.since.as_deref().map(|s| parse_since(s, now)).transpose()?;
            let filter = Filter {
                campaign: args.campaign,
                customer: args.customer,
                state: args.state,
                since,
                run_id_prefix: None,
            };
            let entries = journal.list(&filter).await?;
            Ok(match args.format {
                ListFormat::Table => {
                    let mut text = table(&entries);
                    if entries.is_empty() {
                        text = format!("No journal entries in {} match.\n", journal.location());
                    }
                    text
                }
                ListFormat::Json => json_lines(&entries),
                ListFormat::Csv => csv(&entries),
            })
        }
        JournalCommand::Problems(args) => {
            let entries = journal.problems().await?;
            Ok(match args.format {
                ListFormat::Table if entries.is_empty() => {
                    format!("No uncertain or failed messages in {}.\n", journal.location())
                }
                ListFormat::Table => {
                    let mut text = table(&entries);
                    let uncertain = entries.iter().filter(|e| e.state == State::Uncertain).count();
                    let failed = entries.len() - uncertain;
                    if uncertain > 0 {
                        let _ = write!(
                            text,
                            "\n{uncertain} uncertain: runner does not know whether they went out, counts them as \
                             sent and never re-sends them. Once you know (e.g. from the conversation in Genesys \
                             Cloud), settle each:\n  \
                             runner journal resolve ID --as sent       it went out; it keeps counting for the caps\n  \
                             runner journal resolve ID --as released   it did not; a later run may message the \
                             customer\n"
                        );
                    }
                    if failed > 0 {
                        let _ = write!(
                            text,
                            "\n{failed} failed: Genesys did not take them; nothing to settle (their caps are \
                             released, a later run may message the customer).\n"
                        );
                    }
                    text
                }
                ListFormat::Json => json_lines(&entries),
                ListFormat::Csv => csv(&entries),
            })
        }
        JournalCommand::Resolve(args) => {
            let entry = journal.resolve(args.id, args.resolution, args.note.as_deref(), now).await?;
            let effect = match entry.state {
                State::Sent => "it keeps counting for the caps",
                _ => "its caps are released: a later run may message the customer",
            };
            Ok(format!(
                "Entry {} (campaign `{}`, customer `{}`) is now {}: {effect}.\n",
                entry.id, entry.campaign, entry.customer, entry.state
            ))
        }
    }
}

/// `2026-11-24T08:00:00Z`, `2026-11-24` (midnight UTC) or `7d` (before `now`).
fn parse_since(text: &str, now: Timestamp) -> Result<Timestamp, AppError> {
    if let Ok(t) = text.parse::<Timestamp>() {
        return Ok(t);
    }
    if let Ok(date) = text.parse::<jiff::civil::Date>() {
        if let Ok(t) = date.to_zoned_datetime(jiff::tz::TimeZone::UTC).map(|z| z.timestamp()) {
            return Ok(t);
        }
    }
    crate::campaign::duration::parse(text).ok().and_then(|d| now.checked_sub(d).ok()).ok_or_else(|| {
        AppError::Usage(format!(
            "--since `{text}` is not a time: write RFC 3339 (2026-11-24T08:00:00Z), a date (2026-11-24) or a \
                 duration back from now (7d)"
        ))
    })
}

/// What the last column says about an entry.
fn detail(e: &Entry) -> String {
    let mut parts = Vec::new();
    match e.state {
        State::Reserved => parts.push("no outcome recorded yet".to_owned()),
        State::Sent => {
            if let Some(id) = &e.genesys_message_id {
                parts.push(format!("message {id}"));
            }
        }
        State::Failed | State::Uncertain | State::Released => {}
    }
    parts.extend(e.error.clone());
    parts.extend(e.resolution.clone());
    parts.join("; ").replace(['\n', '\r'], " ")
}

fn table(entries: &[Entry]) -> String {
    let headers = ["ID", "RESERVED (UTC)", "STATE", "CAMPAIGN", "CUSTOMER", "CONVERSATION", "DETAIL"];
    let rows: Vec<[String; 7]> = entries
        .iter()
        .map(|e| {
            [
                e.id.to_string(),
                e.created_at.strftime("%Y-%m-%d %H:%M:%S").to_string(),
                e.state.to_string(),
                e.campaign.clone(),
                e.customer.clone(),
                e.conversation_id.clone(),
                detail(e),
            ]
        })
        .collect();
    let mut widths = headers.map(UnicodeWidthStr::width);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.width());
        }
    }
    let mut out = String::new();
    let line = |out: &mut String, cells: &[&str]| {
        let last = cells.len() - 1;
        for (i, cell) in cells.iter().enumerate() {
            out.push_str(cell);
            if i < last {
                out.push_str(&" ".repeat(widths[i] - cell.width() + 2));
            }
        }
        out.push('\n');
    };
    line(&mut out, &headers);
    for row in &rows {
        line(&mut out, &row.each_ref().map(String::as_str));
    }
    let _ = writeln!(out, "\n{} entr{}", entries.len(), if entries.len() == 1 { "y" } else { "ies" });
    out
}

fn json_lines(entries: &[Entry]) -> String {
    let mut out = String::new();
    for e in entries {
        // An Entry is strings, numbers and timestamps: it always serializes.
        if let Ok(line) = serde_json::to_string(e) {
            out.push_str(&line);
            out.push('\n');
        }
    }
    out
}

/// RFC 4180: every field quoted when it holds a comma, quote or line break.
fn csv(entries: &[Entry]) -> String {
    let mut out = String::from(
        "id,created_at,updated_at,state,campaign,customer,conversation_id,run_id,text_sha256,text_chars,\
         genesys_conversation_id,genesys_message_id,error,resolution\r\n",
    );
    for e in entries {
        let fields = [
            e.id.to_string(),
            e.created_at.to_string(),
            e.updated_at.to_string(),
            e.state.to_string(),
            e.campaign.clone(),
            e.customer.clone(),
            e.conversation_id.clone(),
            e.run_id.clone(),
            e.text_sha256.clone(),
            e.text_chars.to_string(),
            e.genesys_conversation_id.clone().unwrap_or_default(),
            e.genesys_message_id.clone().unwrap_or_default(),
            e.error.clone().unwrap_or_default(),
            e.resolution.clone().unwrap_or_default(),
        ];
        let quoted: Vec<String> =
            fields
                .iter()
                .map(|f| {
                    if f.contains([',', '"', '\n', '\r']) {
                        format!("\"{}\"", f.replace('"', "\"\""))
                    } else {
                        f.clone()
                    }
                })
                .collect();
        out.push_str(&quoted.join(","));
        out.push_str("\r\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, Parser};

    use super::*;

    /// The shape of `crate::cli::Cli` once `runner run` flattens `JournalRunArgs`.
    #[derive(Debug, Parser)]
    #[command(args_conflicts_with_subcommands = true)]
    struct TestCli {
        #[command(subcommand)]
        command: Option<TestCommand>,
        #[command(flatten)]
        run: JournalRunArgs,
    }

    #[derive(Debug, clap::Subcommand)]
    enum TestCommand {
        Run(JournalRunArgs),
        Journal(JournalArgs),
    }

    #[test]
    fn flags_fit_the_cli() {
        TestCli::command().debug_assert();
        <crate::cli::Cli as CommandFactory>::command().debug_assert();
        let cli = TestCli::try_parse_from(["runner", "--journal", "j.db", "--global-cap", "1/24h"]).unwrap();
        assert_eq!(cli.run.location().unwrap(), Location::Sqlite("j.db".into()));
        assert_eq!(cli.run.options().global_cap.map(|c| c.to_string()).as_deref(), Some("1 per 1d"));
        let cli = TestCli::try_parse_from(["runner", "--global-cap", "off"]).unwrap();
        assert_eq!(cli.run.options().global_cap, None);
        let cli = TestCli::try_parse_from(["runner"]).unwrap();
        assert_eq!(cli.run.options().global_cap.map(|c| c.to_string()).as_deref(), Some("1 per 1d"));
        for argv in
            [["runner", "journal", "--journal", "x.db", "list"], ["runner", "journal", "list", "--journal", "x.db"]]
        {
            let Some(TestCommand::Journal(args)) = TestCli::try_parse_from(argv).unwrap().command else { panic!() };
            assert_eq!(args.journal.as_deref(), Some("x.db"));
        }
        let e = TestCli::try_parse_from(["runner", "run", "--global-cap", "0/1h"]).unwrap_err();
        assert!(e.to_string().contains("at least 1"), "{e}");
    }

    #[test]
    fn since_takes_times_dates_and_durations() {
        let now: Timestamp = "2026-11-24T12:00:00Z".parse().unwrap();
        assert_eq!(parse_since("2026-11-20T08:00:00Z", now).unwrap().to_string(), "2026-11-20T08:00:00Z");
        assert_eq!(parse_since("2026-11-20", now).unwrap().to_string(), "2026-11-20T00:00:00Z");
        assert_eq!(parse_since("2d", now).unwrap().to_string(), "2026-11-22T12:00:00Z");
        assert!(matches!(parse_since("last week", now), Err(AppError::Usage(m)) if m.contains("RFC 3339")));
    }
}
