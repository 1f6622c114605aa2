//! The `migrator` CLI, built inside the test package so that process tests (crash, shutdown,
//! multi-node) can start it: cargo only hands a package's tests the binaries of that package.
//! It is the same code path as `migrator` (`orchestrator::cli::run_main`).

fn main() -> std::process::ExitCode {
    orchestrator::cli::run_main()
}
