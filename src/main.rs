//! The `runner` binary: parse the flags, run, exit with the code the app chose.

/// mimalloc rather than the system allocator: loading a large snapshot allocates millions of small
/// strings on every core, and glibc's malloc spent about a third of such a run in its own
/// bookkeeping (BENCHMARKS.md, target 4).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_purge_delay` in mimalloc.h (v3): how long freed memory stays mapped before it is
/// given back to the system. Version 3's default (1 s) kept the memory each stage of a large run
/// freed mapped through the next stages (about 60 MB more at the peak of the 100k-session
/// benchmark); 10 ms gives it back between stages at no measurable cost now that the parsing
/// threads live for the whole run (`crate::cores`) and reuse what they free.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;
const PURGE_DELAY_MS: std::ffi::c_long = 10;

fn main() -> std::process::ExitCode {
    // SAFETY: `mi_option_set` is not thread safe; nothing else runs yet.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, PURGE_DELAY_MS) };
    let cli = runner::cli::parse();
    runner::app::main(cli).into()
}
