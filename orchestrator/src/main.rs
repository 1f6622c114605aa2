//! The `migrator` binary.

/// mimalloc (its v2, whose peak memory under `bench` stays at glibc's: v3 kept twice as much)
/// instead of the system allocator: the import hands every row's strings from the
/// reader thread to the runtime and on to SQLite's worker thread, and glibc's malloc spent
/// about a sixth of the import's CPU freeing memory another thread allocated (BENCHMARKS.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    orchestrator::cli::run_main()
}
