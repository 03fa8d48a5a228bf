//! The `runner` binary: parse the flags, run, exit with the code the app chose.

/// mimalloc rather than the system allocator: loading a large snapshot allocates millions of small
/// strings on every core, and glibc's malloc spent about a third of such a run in its own
/// bookkeeping (BENCHMARKS.md, target 4).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_purge_delay` in mimalloc.h (v3): how long freed memory stays mapped before it is
/// given back to the system. The default (10 ms) gave back and faulted in again hundreds of
/// megabytes between the stages of a large run; a second still gives it back when a run ends.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;
const PURGE_DELAY_MS: std::ffi::c_long = 1000;

fn main() -> std::process::ExitCode {
    // SAFETY: `mi_option_set` is not thread safe; nothing else runs yet.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, PURGE_DELAY_MS) };
    let cli = runner::cli::parse();
    runner::app::main(cli).into()
}
