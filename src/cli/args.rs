//! The command line as clap sees it: raw values only. Settings that combine
//! flags, environment and config.yaml are resolved in `settings.rs`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use rev::target::Target;

/// Alembic-style schema migrations for branching histories.
#[derive(Debug, Parser)]
#[command(name = "rev", version, about, arg_required_else_help = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Flags every command takes.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// The config file [default: ./config.yaml]
    #[arg(short, long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// The database URL; wins over DATABASE_URL and config.yaml
    #[arg(long, global = true, value_name = "URL")]
    pub database_url: Option<String>,
    /// Output format: text for people, json for scripts (`graph` takes dot, mermaid or svg)
    #[arg(short, long, global = true, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Say more (repeat for more still)
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Print only data and errors
    #[arg(short, long, global = true)]
    pub quiet: bool,
}

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// For people
    Text,
    /// Stable JSON for scripts
    Json,
    /// Graphviz (rev graph only)
    Dot,
    /// Mermaid (rev graph only)
    Mermaid,
    /// A standalone SVG picture (rev graph only)
    Svg,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write config.yaml, versions/ and templates/ into DIR
    Init(InitArgs),
    /// Create a new revision file on top of the current head
    New(NewArgs),
    /// Create a revision that merges heads
    Merge(MergeArgs),
    /// Apply revisions up to TARGET
    Upgrade(MigrateArgs),
    /// Revert revisions down to TARGET
    Downgrade(MigrateArgs),
    /// Set the recorded state without running any SQL
    Stamp(StampArgs),
    /// Show the applied heads of the database
    Current(CurrentArgs),
    /// Show applied, pending and drifted revisions
    Status,
    /// Re-record the checksum of changed revisions that are already applied
    Accept(AcceptArgs),
    /// Show the heads of the revision graph
    Heads,
    /// Show the branch points of the revision graph
    Branches,
    /// Show revisions, newest first
    History(HistoryArgs),
    /// Show one revision (or several, e.g. `heads`)
    Show(ShowArgs),
    /// Check the revision files (and with --db the database); exit 1 on any problem
    Check(CheckArgs),
    /// Print the graph as dot (default), mermaid or an SVG picture: `rev graph -f svg > graph.svg`
    Graph,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Where to create the project
    #[arg(default_value = ".")]
    pub dir: PathBuf,
}

#[derive(Debug, Args)]
pub struct NewArgs {
    /// What the revision does
    #[arg(short, long)]
    pub message: String,
    /// Base the revision on this revision instead of the single head (`base` starts a new root)
    #[arg(long, value_name = "REV", allow_hyphen_values = true)]
    pub head: Option<Target>,
    /// Label the new revision as the start of a named branch
    #[arg(long, value_name = "LABEL")]
    pub branch_label: Vec<String>,
    /// A revision on another branch that must be applied first
    #[arg(long, value_name = "REV")]
    pub depends_on: Vec<Target>,
    /// Allow --head to name a revision that is not a head (starts a branch)
    #[arg(long)]
    pub splice: bool,
    /// Use this id instead of a random one
    #[arg(long, value_name = "ID")]
    pub rev_id: Option<String>,
    /// Write `transactional: false` (for e.g. CREATE INDEX CONCURRENTLY)
    #[arg(long)]
    pub no_transaction: bool,
}

#[derive(Debug, Args)]
pub struct MergeArgs {
    /// The revisions to merge [default: heads]
    #[arg(value_name = "REV")]
    pub revisions: Vec<Target>,
    /// What the merge is for
    #[arg(short, long)]
    pub message: String,
    /// Give the merge a label
    #[arg(long, value_name = "LABEL")]
    pub branch_label: Vec<String>,
    /// Use this id instead of a random one
    #[arg(long, value_name = "ID")]
    pub rev_id: Option<String>,
}

#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// head, heads, base, a revision (prefix), label@head, +N, -N, rev+N, label@-N
    #[arg(allow_hyphen_values = true)]
    pub target: Target,
    /// Print the SQL script instead of running it; touches no database. The
    /// script is for the database's client (psql -f, mysql, sqlite3) and
    /// stops at the first error
    #[arg(long)]
    pub sql: bool,
    /// With --sql: the revision(s) the database is at, e.g. `--from ae10,b2c3`
    #[arg(
        long,
        value_name = "REV[,REV]",
        value_delimiter = ',',
        requires = "sql"
    )]
    pub from: Vec<String>,
    /// Print the plan and change nothing
    #[arg(long, conflicts_with = "sql")]
    pub dry_run: bool,
}

#[derive(Debug, Args)]
pub struct StampArgs {
    /// The revision(s) to record as the current state (`base` clears it)
    #[arg(required = true, allow_hyphen_values = true)]
    pub targets: Vec<Target>,
    /// Clear the tracking table first instead of adjusting it
    #[arg(long)]
    pub purge: bool,
    /// Print the plan and change nothing
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Args)]
pub struct CurrentArgs {
    /// Exit 1 unless the database is at every head (takes no lock)
    #[arg(long)]
    pub check_heads: bool,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Also check the database: SQLite integrity and foreign keys, PostgreSQL
    /// constraints left NOT VALID and invalid indexes (reads only, no lock)
    #[arg(long)]
    pub db: bool,
}

#[derive(Debug, Args)]
pub struct AcceptArgs {
    /// The applied revisions whose new text you accept
    #[arg(required = true)]
    pub revisions: Vec<Target>,
}

#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// A range `A:B` (either side may be empty: `:B`, `A:`)
    #[arg(
        short = 'r',
        long = "rev-range",
        value_name = "A:B",
        allow_hyphen_values = true
    )]
    pub range: Option<String>,
    /// Draw the graph as `git log --graph` does, marking applied revisions
    /// when the database is reachable
    #[arg(long)]
    pub graph: bool,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The revision (prefix, label, head, heads, label@head)
    #[arg(allow_hyphen_values = true)]
    pub target: Target,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_valid() {
        Cli::command().debug_assert();
    }

    #[test]
    fn targets_may_start_with_a_dash() {
        let cli = Cli::try_parse_from(["rev", "downgrade", "-1"]).unwrap();
        assert!(matches!(cli.command, Command::Downgrade(_)));
        assert!(Cli::try_parse_from(["rev", "upgrade", "a@@b"]).is_err());
    }
}
