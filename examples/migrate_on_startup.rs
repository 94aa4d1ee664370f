//! An application that brings its database up to date before it starts
//! serving, with rev as a library.
//!
//! From the repository root, against the demo project (`config.yaml`,
//! `versions/`, the SQLite file `demo.db`):
//!
//! ```sh
//! cargo run --example migrate_on_startup              # applies what is pending
//! cargo run --example migrate_on_startup              # again: nothing to do
//! cargo run --example migrate_on_startup -- path/to/config.yaml
//! DATABASE_URL=postgres://app@db/app cargo run --example migrate_on_startup
//! ```
//!
//! Several instances starting at once are safe: the migrator takes the
//! database's migration lock, and an instance that waited for it finds
//! nothing left to do.

use std::path::PathBuf;
use std::process::ExitCode;

use rev::Migrator;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let config = std::env::args_os()
        .nth(1)
        .map_or_else(|| PathBuf::from("config.yaml"), PathBuf::from);
    match migrate(&config).await {
        Ok(()) => {
            // ... start the application here ...
            println!("ready");
            ExitCode::SUCCESS
        }
        Err(e) => {
            // `kind()` is stable, for logs and alerts; the message says what
            // failed and where.
            eprintln!("migration failed ({}): {e}", e.kind());
            if let Some(report) = rev::migrator::failed_report(&e) {
                for step in &report.applied {
                    eprintln!(
                        "  committed before the failure: {} {}",
                        step.direction, step.revision
                    );
                }
                if !report.not_run.is_empty() {
                    eprintln!("  not run: {}", report.not_run.join(", "));
                }
            }
            ExitCode::FAILURE
        }
    }
}

async fn migrate(config: &std::path::Path) -> Result<(), rev::Error> {
    // As for the `rev` binary, DATABASE_URL wins over config.yaml.
    let url = std::env::var("DATABASE_URL").ok().filter(|u| !u.is_empty());
    let migrator = Migrator::from_config_file(config, url.as_deref())?;
    println!("migrating {}", migrator.url()); // the password is masked

    // `heads`, not `head`: a history with an unmerged branch still starts.
    let report = migrator.upgrade(&"heads".parse()?).await?;
    if report.applied.is_empty() {
        println!("nothing to do: the database is up to date");
    }
    let graph = migrator.graph();
    for step in &report.applied {
        let message = graph
            .index_of(&step.revision)
            .map_or("", |i| graph.rev(i).message.as_str());
        println!(
            "{} {} {message} ({} ms)",
            step.direction,
            step.revision,
            step.elapsed.as_millis()
        );
    }

    let status = migrator.status().await?;
    println!(
        "at {} ({} revisions applied)",
        status.current.join(", "),
        status.applied.len()
    );
    Ok(())
}
