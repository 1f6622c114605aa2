//! The `migrator` binary.

fn main() -> std::process::ExitCode {
    orchestrator::cli::run_main()
}
