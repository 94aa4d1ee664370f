//! The `rev` command line. All the work happens in the `rev` library; the
//! `cli` module (declared only here, so the library can never reach clap or
//! the terminal) parses arguments, renders results and picks the exit code.

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
