//! The commands: load campaigns, read data, plan, print. Errors are rendered here, once.

use std::io::Write;

use jiff::{SignedDuration, Timestamp};

use crate::authoring;
use crate::campaign::CampaignSet;
use crate::campaign::diagnostic;
use crate::campaign::load::{self, LoadOptions, Loaded};
use crate::campaign_tests;
use crate::cli::{
    CampaignArgs, Cli, Command, DataSource, Format, RunArgs, RunOptions, SnapshotArgs, TestArgs, ValidateArgs,
};
use crate::deliver::{self, Delivery, DeliveryCounts};
use crate::engine::decide::Plan;
use crate::error::AppError;
use crate::exit::ExitCode;
use crate::genesys::client::GenesysClient;
use crate::genesys::config::{GenesysConfig, Tuning};
use crate::genesys::snapshot::{Recorder, SnapshotSource};
use crate::journal::{self, Journal};
use crate::pipeline;
use crate::progress::Bar;
use crate::report::{self, Heading};

/// How to talk to the person at the terminal: what stderr shows and how.
#[derive(Debug, Clone, Copy)]
struct Ui {
    /// `--quiet`: only errors on stderr.
    quiet: bool,
    /// Colours on stderr: it is a terminal and `NO_COLOR` is not set.
    color: bool,
    /// A progress bar on live runs: stderr is a terminal and not --quiet.
    progress: bool,
}

impl Ui {
    fn from_env(quiet: bool) -> Ui {
        let terminal = std::io::IsTerminal::is_terminal(&std::io::stderr());
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Ui { quiet, color: terminal && !no_color, progress: terminal && !quiet }
    }

    /// The diagnostics to show on stderr: with --quiet, only the errors.
    fn render(&self, diagnostics: &[diagnostic::Diagnostic]) -> String {
        let shown: Vec<diagnostic::Diagnostic> = diagnostics
            .iter()
            .filter(|d| !self.quiet || d.severity == crate::campaign::Severity::Error)
            .cloned()
            .collect();
        diagnostic::render(&shown, self.color)
    }
}

/// Runs a command and returns the exit code; every error is printed here.
pub fn main(cli: Cli) -> ExitCode {
    let ui = Ui::from_env(cli.quiet);
    // `runner serve` is a service: its own default level (`info`) and format, on every thread.
    let (filter, json) = match &cli.command {
        Some(Command::Serve(args)) => (crate::serve::log_filter(cli.quiet, cli.verbose), args.log_format.is_json()),
        _ => (cli.log_filter(), false),
    };
    init_tracing(filter, ui.color, json);
    let result = match cli.command() {
        Command::Validate(args) => validate(args, ui),
        Command::Test(args) => test(args, ui),
        Command::Run(args) => run(args, ui),
        Command::Snapshot(args) => snapshot(args, ui),
        Command::Schema => print_out(authoring::schema_text().as_bytes()),
        Command::New(args) => authoring::new_campaign(&args.name, &args.dir).map(|path| {
            println!("Created {}: edit it, then check it with `runner validate`.", path.display());
            ExitCode::Success
        }),
        Command::Completions(args) => print_out(&authoring::completions(args.shell)),
        Command::Serve(args) => crate::serve::live::serve(args),
        Command::Schedule(args) => crate::serve::schedule_command(args, &mut std::io::stdout().lock()),
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

/// Logs go to stderr, filtered by `RUNNER_LOG` when it is set, else by --quiet / --verbose;
/// as text, or one JSON object per line. The subscriber is global: every thread logs alike.
fn init_tracing(default_filter: &str, ansi: bool, json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("RUNNER_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_filter));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_target(false);
    let _ = if json { builder.json().flatten_event(true).try_init() } else { builder.with_ansi(ansi).try_init() };
}

fn load_campaigns(args: &CampaignArgs) -> Loaded {
    load::load(&LoadOptions { campaigns: args.campaign_paths(), templates_dir: args.templates.clone() })
}

fn validate(args: ValidateArgs, ui: Ui) -> Result<ExitCode, AppError> {
    let loaded = load_campaigns(&args.campaigns);
    let ok = loaded.set.is_some();
    match args.format {
        Format::Text => {
            eprint!("{}", ui.render(&loaded.diagnostics));
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

/// `runner test`: the tests inside the campaign files, planned like real runs.
fn test(args: TestArgs, ui: Ui) -> Result<ExitCode, AppError> {
    let set = campaign_set(&args.campaigns, ui)?;
    let report = block_on(campaign_tests::run(&set));
    let text = match args.format {
        Format::Text => campaign_tests::text(&report),
        Format::Json => campaign_tests::json_lines(&report),
    };
    print_out(text.as_bytes())?;
    Ok(if report.failed() == 0 { ExitCode::Success } else { ExitCode::Failure })
}

fn run(args: RunArgs, ui: Ui) -> Result<ExitCode, AppError> {
    let options = args.check()?;
    let set = campaign_set(&options.campaigns, ui)?;
    let location = options.journal.location()?;
    match &options.source {
        DataSource::Snapshot(path) => {
            let source = SnapshotSource::open(path)?;
            let now = options.now.unwrap_or(source.captured_at());
            let heading = Heading { mode: "Dry run", source: format!("snapshot {}", path.display()) };
            let look_back = Tuning::default().look_back;
            let code = block_on(async {
                // A preview reads the journal (to show `capped`) and never writes it.
                let journal = Journal::open_read_only(&location, options.journal.options()).await?;
                let plan = pipeline::plan(&source, &set, Some(&journal), pipeline_options(&options, now, look_back, 8))
                    .await?;
                print_plan(&plan, None, &heading, &options);
                write_report(&options, &plan, &heading, &set)?;
                // The process ends next: not freeing millions of small allocations one by one
                // saves seconds on a large snapshot (the system takes the memory back at once).
                std::mem::forget(plan);
                Ok(ExitCode::Success)
            });
            std::mem::forget(source);
            code
        }
        DataSource::Live => {
            let client = live_client(options.config.as_deref())?;
            let now = options.now.unwrap_or_else(Timestamp::now);
            let tuning = client.tuning().clone();
            let pipeline_options = pipeline_options(&options, now, tuning.look_back, client.concurrency());
            let heading = Heading {
                mode: if options.dry_run { "Dry run" } else { "Run" },
                source: format!("Genesys Cloud {}", client.api_base()),
            };
            // Live runs can take a while: a progress bar on a terminal (hidden otherwise).
            let progress = Bar::on_stderr(ui.progress);
            block_on(async {
                let journal = if options.dry_run {
                    Journal::open_read_only(&location, options.journal.options()).await?
                } else {
                    Journal::open(&location, options.journal.options()).await?
                };
                let run_id = journal::new_run_id(now);
                let run = deliver::RunContext {
                    journal: &journal,
                    run_id: &run_id,
                    dry_run: options.dry_run,
                    stop: None,
                    progress: &progress,
                    clock: Timestamp::now,
                };
                let (plan, deliveries) = deliver::plan_and_deliver(&client, &set, pipeline_options, run).await?;
                journal.close().await;
                print_plan(&plan, deliveries.as_deref(), &heading, &options);
                write_report(&options, &plan, &heading, &set)?;
                // Against the live org, a session whose data did not load was not fully decided.
                let all_sent = deliveries.as_deref().is_none_or(|d| DeliveryCounts::of(d).all_sent());
                Ok(if all_sent && plan.summary.data_errors == 0 { ExitCode::Success } else { ExitCode::Failure })
            })
        }
    }
}

/// Loads the campaigns; refuses an invalid set, naming every problem. Warnings go to stderr
/// (not with --quiet).
fn campaign_set(args: &CampaignArgs, ui: Ui) -> Result<CampaignSet, AppError> {
    let loaded = load_campaigns(args);
    let Some(set) = loaded.set else {
        let mut text = ui.render(&loaded.diagnostics);
        text.push_str(&format!(
            "{}\nNothing was run: fix the campaigns above (check them with `runner validate`).\n",
            diagnostic::summary(&loaded.diagnostics, loaded.files)
        ));
        return Err(AppError::InvalidCampaigns(text));
    };
    if !loaded.diagnostics.is_empty() {
        eprint!("{}", ui.render(&loaded.diagnostics));
    }
    Ok(set)
}

/// The live client, from the environment and the optional settings file.
fn live_client(config: Option<&std::path::Path>) -> Result<GenesysClient, AppError> {
    let config = GenesysConfig::from_env(&|k| std::env::var(k).ok(), config)?;
    Ok(GenesysClient::new(config)?)
}

/// `runner snapshot`: a dry run against the live org whose every answer is recorded.
fn snapshot(args: SnapshotArgs, ui: Ui) -> Result<ExitCode, AppError> {
    let now = args.now()?;
    let set = campaign_set(&args.campaigns, ui)?;
    let client = live_client(args.config.as_deref())?;
    let options = pipeline::Options {
        now,
        session_look_back: client.tuning().look_back,
        concurrency: client.concurrency(),
        explain: false,
        customer_windows: false,
    };
    let recorder = Recorder::new(client, now, args.description.clone());
    let progress = Bar::on_stderr(ui.progress);
    let plan = block_on(pipeline::plan_observed(&recorder, &set, None, options, &progress))?;
    let snapshot = recorder.into_snapshot();
    snapshot.save(&args.out)?;
    println!(
        "Recorded {} active sessions, {} conversation details, {} contacts, {} previous conversations and {} wrap-up codes to {}",
        snapshot.active_conversations.len(),
        snapshot.conversation_details.len(),
        snapshot.external_contacts.len(),
        snapshot.history.len(),
        snapshot.wrapup_codes.len(),
        args.out.display()
    );
    if plan.summary.data_errors > 0 {
        if !ui.quiet {
            eprintln!(
                "warning: the data of {} session{} could not be loaded (see the log above); the snapshot records \
             the failures, so a replay skips those sessions as data_unavailable too",
                plan.summary.data_errors,
                if plan.summary.data_errors == 1 { "" } else { "s" }
            );
        }
        return Ok(ExitCode::Failure);
    }
    Ok(ExitCode::Success)
}

fn pipeline_options(
    options: &RunOptions,
    now: Timestamp,
    session_look_back: SignedDuration,
    concurrency: usize,
) -> pipeline::Options {
    // The HTML report shows the condition that failed, from the explanation.
    pipeline::Options {
        now,
        session_look_back,
        concurrency,
        explain: options.explain || options.report.is_some(),
        customer_windows: false,
    }
}

/// Writes the HTML report when `--report` asks for one.
fn write_report(options: &RunOptions, plan: &Plan, heading: &Heading, set: &CampaignSet) -> Result<(), AppError> {
    match &options.report {
        Some(path) => authoring::write_report(path, plan, heading, set),
        None => Ok(()),
    }
}

/// Prints the plan as it is formatted, through one buffer on the locked stdout. A write error
/// (e.g. `| head` closed the pipe) ends the output quietly, like `print_out`.
fn print_plan(plan: &Plan, deliveries: Option<&[Delivery]>, heading: &Heading, options: &RunOptions) {
    let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    let written = match options.format {
        Format::Text => {
            report::write_preview(&mut out, plan, deliveries, heading, options.explain, report::width_from_env())
        }
        Format::Json => report::write_json_lines(&mut out, plan, deliveries, heading),
    };
    let _ = written.and_then(|()| out.flush());
}

fn print_out(bytes: &[u8]) -> Result<ExitCode, AppError> {
    let _ = std::io::stdout().lock().write_all(bytes);
    Ok(ExitCode::Success)
}

fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a tokio runtime starts").block_on(future)
}
