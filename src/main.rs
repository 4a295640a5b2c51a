//! The `coverforge` binary: everything lives in [`cli`] (parse → plan → run → print) and the
//! library; `main` only returns the exit code.

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
