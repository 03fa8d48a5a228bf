//! The commands: load campaigns, read data, plan, print. Errors are rendered here, once.

use std::io::Write;

use jiff::{SignedDuration, Timestamp};

use crate::campaign::diagnostic;
use crate::campaign::load::{self, LoadOptions, Loaded};
use crate::cli::{CampaignArgs, Cli, Command, DataSource, Format, RunArgs, RunOptions, ValidateArgs};
use crate::error::AppError;
use crate::exit::ExitCode;
use crate::genesys::snapshot::{Snapshot, SnapshotSource};
use crate::pipeline;
use crate::report::{self, Heading};

/// How far back an active session may have started (the live client's default look-back too).
pub const SESSION_LOOK_BACK: SignedDuration = SignedDuration::from_hours(24);

/// Runs a command and returns the exit code; every error is printed here.
pub fn main(cli: Cli) -> ExitCode {
    init_tracing();
    let result = match cli.command() {
        Command::Validate(args) => validate(args),
        Command::Run(args) => run(args),
        Command::Journal(args) => crate::journal::command::run(args, Timestamp::now(), &mut std::io::stdout().lock()),
    };
    result.unwrap_or_else(|e| {
        let mut stderr = std::io::stderr().lock();
        let text = e.to_string();
        match e {
            AppError::InvalidCampaigns(_) => {
                let _ = write!(stderr, "{text}");
            }
            _ => {
                let _ = writeln!(stderr, "error: {text}");
            }
        }
        e.exit_code()
    })
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("RUNNER_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(ansi)
        .try_init();
}

fn load_campaigns(args: &CampaignArgs) -> Loaded {
    load::load(&LoadOptions { campaigns: args.campaign_paths(), templates_dir: args.templates.clone() })
}

fn validate(args: ValidateArgs) -> Result<ExitCode, AppError> {
    let loaded = load_campaigns(&args.campaigns);
    let ok = loaded.set.is_some();
    match args.format {
        Format::Text => {
            eprint!("{}", diagnostic::render(&loaded.diagnostics, false));
            println!("{}", diagnostic::summary(&loaded.diagnostics, loaded.files));
        }
        Format::Json => {
            for d in &loaded.diagnostics {
                println!("{}", serde_json::to_string(&diagnostic::to_json(d)).expect("diagnostics serialize"));
            }
        }
    }
    Ok(if ok { ExitCode::Success } else { ExitCode::Failure })
}

fn run(args: RunArgs) -> Result<ExitCode, AppError> {
    let options = args.check()?;
    let loaded = load_campaigns(&options.campaigns);
    let Some(set) = loaded.set else {
        let mut text = diagnostic::render(&loaded.diagnostics, false);
        text.push_str(&format!(
            "{}\nNothing was run: fix the campaigns above (check them with `runner validate`).\n",
            diagnostic::summary(&loaded.diagnostics, loaded.files)
        ));
        return Err(AppError::InvalidCampaigns(text));
    };
    if !loaded.diagnostics.is_empty() {
        eprint!("{}", diagnostic::render(&loaded.diagnostics, false));
    }
    match &options.source {
        DataSource::Snapshot(path) => {
            let snapshot = Snapshot::load(path)?;
            let now = options.now.unwrap_or(snapshot.captured_at);
            let heading = Heading { mode: "Dry run", source: format!("snapshot {}", path.display()) };
            let source = SnapshotSource::new(snapshot);
            let plan = block_on(pipeline::plan(&source, &set, pipeline_options(&options, now)))?;
            print_plan(&plan, &heading, &options);
            Ok(ExitCode::Success)
        }
        DataSource::Live => Err(AppError::Usage(
            "live runs against Genesys Cloud are not available in this build yet: preview with \
             `--dry-run --snapshot FILE` (e.g. snapshots/demo.json)"
                .to_owned(),
        )),
    }
}

fn pipeline_options(options: &RunOptions, now: Timestamp) -> pipeline::Options {
    pipeline::Options { now, session_look_back: SESSION_LOOK_BACK, concurrency: 8, explain: options.explain }
}

fn print_plan(plan: &crate::engine::decide::Plan, heading: &Heading, options: &RunOptions) {
    let text = match options.format {
        Format::Text => report::preview(plan, heading, options.explain, report::width_from_env()),
        Format::Json => report::json_lines(plan, heading),
    };
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(text.as_bytes());
}

fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a tokio runtime starts").block_on(future)
}
