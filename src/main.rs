//! The `runner` binary: parse the flags, run, exit with the code the app chose.

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = runner::cli::Cli::parse();
    runner::app::main(cli).into()
}
