//! Writes a generated revision history into a directory, for benchmarks and
//! manual testing of the `rev` binary on large histories.
//!
//! ```text
//! cargo run --release --example gen_history -- DIR N [chain|branches|many_heads]
//! ```
//!
//! The shapes are those of `rev::synth::Shape`: `branches` is 8 lines merged
//! every 100 revisions, `many_heads` 200 lines never merged.

use std::path::PathBuf;
use std::process::ExitCode;

use rev::synth::{self, Shape};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (dir, n, shape) = match args.as_slice() {
        [dir, n] => (dir, n, "chain"),
        [dir, n, shape] => (dir, n, shape.as_str()),
        _ => {
            eprintln!("usage: gen_history DIR N [chain|branches|many_heads]");
            return ExitCode::from(2);
        }
    };
    let Ok(n) = n.parse::<usize>() else {
        eprintln!("error: N must be a number, not `{n}`");
        return ExitCode::from(2);
    };
    let shape = match shape {
        "chain" => Shape::Chain,
        "branches" => Shape::Branches {
            branches: 8,
            merge_every: 100,
        },
        "many_heads" => Shape::ManyHeads { heads: 200 },
        other => {
            eprintln!("error: unknown shape `{other}` (chain, branches, many_heads)");
            return ExitCode::from(2);
        }
    };
    match synth::write(&PathBuf::from(dir), shape, n) {
        Ok(()) => {
            eprintln!("wrote {n} revisions ({}) to {dir}", shape.name());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: cannot write to {dir}: {e}");
            ExitCode::FAILURE
        }
    }
}
