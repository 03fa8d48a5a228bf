//! The `runner` binary: parse the flags, run, exit with the code the app chose.

fn main() -> std::process::ExitCode {
    let cli = runner::cli::parse();
    runner::app::main(cli).into()
}
