//! Loads a script directory and prints its heads: the engine part of
//! `rev heads`, so `scripts/bench-heads.sh` can measure it without the CLI.
//!
//! ```text
//! cargo run --release --example load_heads -- DIR
//! ```

use std::path::PathBuf;
use std::process::ExitCode;

use rev::graph::Graph;

fn main() -> ExitCode {
    let Some(dir) = std::env::args().nth(1) else {
        eprintln!("usage: load_heads DIR");
        return ExitCode::from(2);
    };
    match Graph::load(&PathBuf::from(dir)) {
        Ok(graph) => {
            for head in graph.heads() {
                println!("{}", graph.rev(head).id);
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
