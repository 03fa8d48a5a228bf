//! The `runner` binary: parse the flags, run, exit with the code the app chose.

/// mimalloc rather than the system allocator: loading a large snapshot allocates millions of small
/// strings on every core, and glibc's malloc spent about a third of such a run in its own
/// bookkeeping (BENCHMARKS.md, target 4).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_purge_delay` in mimalloc.h (v3): how long freed memory stays mapped before it is
/// given back to the system. Version 3's default (1 s) kept the memory each stage of a large run
/// freed mapped through the next stages (about 60 MB more at the peak of the 100k-session
/// benchmark); 10 ms gave it back between stages, but then each stage faulted its memory in
/// again. With small pages (below) 100 ms keeps it through a stage's bursts at 10-20 MB more.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;
const PURGE_DELAY_MS: std::ffi::c_long = 100;
/// `mi_option_allow_thp` (v3, same enum): whether mimalloc asks for transparent huge pages.
const MI_OPTION_ALLOW_THP: libmimalloc_sys::mi_option_t = 43;

fn main() -> std::process::ExitCode {
    // SAFETY: `mi_option_set` is not thread safe; nothing else runs yet.
    unsafe {
        libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, PURGE_DELAY_MS);
        libmimalloc_sys::mi_option_set(MI_OPTION_ALLOW_THP, 0);
    }
    no_huge_pages();
    let cli = runner::cli::parse();
    runner::app::main(cli).into()
}

/// Small pages only. A run allocates and frees a stage's data at a time; with transparent huge
/// pages every 2 MB the allocator touched anew was zeroed whole on one thread, and each purge
/// split or dropped such pages: the 100k-session benchmark spent 0.3-0.4 s of CPU zeroing
/// memory, and peaked 20-25 MB higher. mimalloc's own option is read before `main` (its
/// arenas are already advised by then), so the process's flag is set here as well; a hint
/// only: a kernel without it runs as before.
fn no_huge_pages() {
    #[cfg(target_os = "linux")]
    // SAFETY: PR_SET_THP_DISABLE takes integer arguments and changes no memory of this process.
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
}

#[cfg(test)]
mod tests {
    /// The option numbers above are mimalloc.h's enum (v3, as libmimalloc-sys 0.1.49 builds it):
    /// should an update renumber it, `main` would set other options. Their defaults (1,000 ms;
    /// huge pages allowed) tell them apart from their neighbours.
    #[test]
    fn the_option_numbers_name_the_options_meant() {
        // SAFETY: reading options; `main` has not run, so they hold their defaults.
        let (purge_delay, allow_thp) = unsafe {
            (
                libmimalloc_sys::mi_option_get(super::MI_OPTION_PURGE_DELAY),
                libmimalloc_sys::mi_option_get(super::MI_OPTION_ALLOW_THP),
            )
        };
        assert_eq!((purge_delay, allow_thp), (1000, 1));
    }
}
