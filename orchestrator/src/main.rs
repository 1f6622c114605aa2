//! The `migrator` binary.

/// mimalloc instead of the system allocator: the import hands every row's strings from the
/// reader thread to the runtime and on to SQLite's worker thread, and glibc's malloc spent
/// about a sixth of the import's CPU freeing memory another thread allocated. Its v2: under
/// `bench` v3 peaked at twice glibc's memory, v2 at a third more (BENCHMARKS.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    orchestrator::cli::run_main()
}
