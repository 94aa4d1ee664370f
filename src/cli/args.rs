//! The command line as clap sees it: raw values only. Settings that combine
//! flags, environment and config.yaml are resolved in `settings.rs`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use clap_complete::engine::ArgValueCandidates;
use rev::target::Target;

use super::complete::targets as target_candidates;
use super::examples;

/// Alembic-style schema migrations for branching histories.
#[derive(Debug, Parser)]
#[command(
    name = "rev",
    version,
    about,
    arg_required_else_help = true,
    after_help = examples::REV
)]
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
    /// Colour: auto (only at a terminal, never with NO_COLOR), always, never
    #[arg(long, global = true, value_enum, default_value_t = ColorWhen::Auto, value_name = "WHEN")]
    pub color: ColorWhen,
}

/// When to colour the output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorWhen {
    /// At a terminal, unless NO_COLOR is set
    Auto,
    /// Always, even into a pipe or a file
    Always,
    /// Never
    Never,
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
    #[command(after_help = examples::INIT)]
    Init(InitArgs),
    /// Create a new revision file on top of the current head
    // `alembic revision -m ...` is what Alembic users type first.
    #[command(after_help = examples::NEW, visible_alias = "revision")]
    New(NewArgs),
    /// Create a revision that merges heads
    #[command(after_help = examples::MERGE)]
    Merge(MergeArgs),
    /// Apply revisions up to TARGET
    #[command(after_help = examples::UPGRADE)]
    Upgrade(MigrateArgs),
    /// Revert revisions down to TARGET
    #[command(after_help = examples::DOWNGRADE)]
    Downgrade(MigrateArgs),
    /// Set the recorded state without running any SQL
    #[command(after_help = examples::STAMP)]
    Stamp(StampArgs),
    /// Show the applied heads of the database
    #[command(after_help = examples::CURRENT)]
    Current(CurrentArgs),
    /// Show applied, pending and drifted revisions
    #[command(after_help = examples::STATUS)]
    Status(StatusArgs),
    /// Re-record the checksum of changed revisions that are already applied
    #[command(after_help = examples::ACCEPT)]
    Accept(AcceptArgs),
    /// Show the heads of the revision graph
    #[command(after_help = examples::HEADS)]
    Heads,
    /// Show the branch points of the revision graph
    #[command(after_help = examples::BRANCHES)]
    Branches,
    /// Show revisions, newest first
    #[command(after_help = examples::HISTORY)]
    History(HistoryArgs),
    /// Show one revision (or several, e.g. `heads`)
    #[command(after_help = examples::SHOW)]
    Show(ShowArgs),
    /// Check the revision files (and with --db the database); exit 1 on any problem
    #[command(after_help = examples::CHECK)]
    Check(CheckArgs),
    /// Print the graph as dot (default), mermaid or SVG: `rev graph -f svg`
    #[command(after_help = examples::GRAPH)]
    Graph,
    /// Open a revision file in $VISUAL or $EDITOR
    #[command(after_help = examples::EDIT)]
    Edit(EditArgs),
    /// Print a completion script for a shell
    #[command(after_help = examples::COMPLETIONS)]
    Completions(CompletionsArgs),
    /// Print the man page (roff) on stdout
    #[command(after_help = examples::MAN)]
    Man,
    /// Write one revision that replaces the run of revisions OLD:NEW
    #[command(after_help = examples::SQUASH)]
    Squash(SquashArgs),
    /// Move unapplied revisions onto another revision (rewrites only their down_revision line)
    #[command(after_help = examples::REBASE)]
    Rebase(RebaseArgs),
}

#[derive(Debug, Args)]
pub struct SquashArgs {
    /// The run to replace, oldest first: `OLD:NEW` (ids or prefixes)
    #[arg(value_name = "OLD:NEW")]
    pub range: String,
    /// What the squashed revision does
    #[arg(short, long)]
    pub message: String,
    /// Use this id instead of a random one
    #[arg(long, value_name = "ID")]
    pub rev_id: Option<String>,
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
    #[arg(long, value_name = "REV", allow_hyphen_values = true, add = ArgValueCandidates::new(target_candidates))]
    pub head: Option<Target>,
    /// Label the new revision as the start of a named branch
    #[arg(long, value_name = "LABEL")]
    pub branch_label: Vec<String>,
    /// A revision on another branch that must be applied first
    #[arg(long, value_name = "REV", add = ArgValueCandidates::new(target_candidates))]
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
    /// Write the file into this folder of `version_locations` [default: the first]
    #[arg(long, value_name = "DIR")]
    pub version_path: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct MergeArgs {
    /// The revisions to merge [default: heads]
    #[arg(value_name = "REV", add = ArgValueCandidates::new(target_candidates))]
    pub revisions: Vec<Target>,
    /// What the merge is for [default: "merge A and B"]
    #[arg(short, long)]
    pub message: Option<String>,
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
    /// (`A:B` with --sql: the script from A to B, same as `--from A B`)
    #[arg(allow_negative_numbers = true, add = ArgValueCandidates::new(target_candidates))]
    pub target: MigrateTarget,
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
    #[command(flatten)]
    pub fleet: FleetArgs,
    #[command(flatten)]
    pub run: FleetRunArgs,
}

/// `--db NAME` / `--all`: run on named databases of config.yaml instead of
/// the one database URL.
#[derive(Debug, Args, Default)]
pub struct FleetArgs {
    /// Run on the database NAME of `databases:` in config.yaml (repeat for more)
    #[arg(long = "db", value_name = "NAME", group = "fleet")]
    pub db: Vec<String>,
    /// Run on every database of `databases:` in config.yaml
    #[arg(long, group = "fleet")]
    pub all: bool,
    /// With --all/--db: how many databases at once [default: the number of cores, at most 8]
    #[arg(short = 'j', long, value_name = "N", requires = "fleet", value_parser = clap::value_parser!(u16).range(1..))]
    pub jobs: Option<u16>,
}

impl FleetArgs {
    /// Whether a fleet was asked for.
    pub fn selected(&self) -> bool {
        self.all || !self.db.is_empty()
    }
}

/// How a fleet that changes databases goes on after a failure.
#[derive(Debug, Args, Default)]
pub struct FleetRunArgs {
    /// With --all/--db: after the first failure start no other database (running ones finish)
    #[arg(long, requires = "fleet")]
    pub fail_fast: bool,
    /// With --all/--db: run the first N databases first, and stop there if any of them fails
    #[arg(long, value_name = "N", requires = "fleet")]
    pub canary: Option<usize>,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub fleet: FleetArgs,
}

#[derive(Debug, Args)]
pub struct StampArgs {
    /// The revision(s) to record as the current state (`base` clears it)
    #[arg(required = true, allow_negative_numbers = true, add = ArgValueCandidates::new(target_candidates))]
    pub targets: Vec<Target>,
    /// Clear the tracking table first instead of adjusting it
    #[arg(long)]
    pub purge: bool,
    /// Print the plan and change nothing
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub fleet: FleetArgs,
    #[command(flatten)]
    pub run: FleetRunArgs,
}

#[derive(Debug, Args)]
pub struct CurrentArgs {
    /// Exit 1 unless the database is at every head (takes no lock)
    #[arg(long)]
    pub check_heads: bool,
    #[command(flatten)]
    pub fleet: FleetArgs,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Also check the database: SQLite integrity and foreign keys, PostgreSQL
    /// constraints left NOT VALID and invalid indexes (reads only, no lock)
    #[arg(long)]
    pub db: bool,
    /// Accept header keys rev does not know (warned about, not a problem)
    #[arg(long)]
    pub allow_unknown_keys: bool,
    /// Also compare with the files at a git ref (e.g. origin/main): revisions
    /// changed, moved or deleted since, and new ones not built on its heads
    #[arg(long, value_name = "REF")]
    pub against: Option<String>,
}

#[derive(Debug, Args)]
pub struct RebaseArgs {
    /// The revisions to move (the first of each line; what is above follows)
    /// [default: the revisions of the heads that do not lead to --onto]
    #[arg(value_name = "REV")]
    pub revisions: Vec<Target>,
    /// The revision to put them on [default: the one head they do not lead to]
    #[arg(long, value_name = "TARGET", allow_hyphen_values = true)]
    pub onto: Option<Target>,
    /// Print what would move and write nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Do not ask the database which revisions it has applied (it is then
    /// up to you that none of the moved ones is)
    #[arg(long)]
    pub no_db: bool,
}

#[derive(Debug, Args)]
pub struct AcceptArgs {
    /// The applied revisions whose new text you accept
    #[arg(required = true, add = ArgValueCandidates::new(target_candidates))]
    pub revisions: Vec<Target>,
}

#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// A range `A:B` (either side may be empty: `:B`, `A:`); `current`
    /// is where the database is (`-r current:`, `-r base:current`)
    #[arg(
        short = 'r',
        long = "rev-range",
        value_name = "A:B",
        allow_hyphen_values = true
    )]
    pub range: Option<String>,
    /// Mark the revisions the database is at with `(current)`
    #[arg(short = 'i', long)]
    pub indicate_current: bool,
    /// Draw the graph as `git log --graph` does, marking applied revisions
    /// when the database is reachable
    #[arg(long)]
    pub graph: bool,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The revision (prefix, label, head, heads, label@head)
    #[arg(allow_negative_numbers = true, add = ArgValueCandidates::new(target_candidates))]
    pub target: Target,
}

#[derive(Debug, Args)]
pub struct EditArgs {
    /// The revision whose file to open (prefix, label, head, label@head)
    #[arg(allow_negative_numbers = true, add = ArgValueCandidates::new(target_candidates))]
    pub target: Target,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to write the script for
    pub shell: CompletionShell,
    /// Print the dynamic script instead: it asks rev at each TAB, so it also
    /// completes revision ids, branch labels, head, heads and base
    #[arg(long)]
    pub dynamic: bool,
}

/// The shells `rev completions` writes for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CompletionShell {
    Bash,
    Zsh,
    Fish,
    Powershell,
    Elvish,
}

/// The target of `upgrade`/`downgrade`: a target, or Alembic's offline
/// range `A:B` (only with --sql), which is `--from A B`.
#[derive(Debug, Clone)]
pub struct MigrateTarget {
    /// `A` of `A:B`, the revision(s) the database is at.
    pub from: Option<String>,
    /// The target (`B` of `A:B`).
    pub target: Target,
}

impl std::str::FromStr for MigrateTarget {
    type Err = rev::target::ParseTargetError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.split_once(':') {
            Some((from, to)) => Ok(MigrateTarget {
                from: Some(from.to_string()),
                target: to.parse()?,
            }),
            None => Ok(MigrateTarget {
                from: None,
                target: text.parse()?,
            }),
        }
    }
}

impl std::ops::Deref for MigrateTarget {
    type Target = Target;

    fn deref(&self) -> &Target {
        &self.target
    }
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

    #[test]
    fn fleet_flags_need_a_selection_and_take_one_kind_of_it() {
        match parses("upgrade head --db a --db b -j 3 --fail-fast --canary 1").command {
            Command::Upgrade(a) => {
                assert_eq!(a.fleet.db, ["a", "b"]);
                assert_eq!(
                    (a.fleet.jobs, a.run.fail_fast, a.run.canary),
                    (Some(3), true, Some(1))
                );
            }
            other => panic!("{other:?}"),
        }
        match parses("status --all").command {
            Command::Status(a) => assert!(a.fleet.all && a.fleet.selected()),
            other => panic!("{other:?}"),
        }
        for line in [
            "upgrade head -j 2",
            "stamp head --fail-fast",
            "downgrade base --canary 1",
            "upgrade head --all --db a",
            "current --all -j 0",
        ] {
            let argv: Vec<&str> = std::iter::once("rev")
                .chain(line.split_whitespace())
                .collect();
            assert!(
                Cli::try_parse_from(&argv).is_err(),
                "`rev {line}` was accepted"
            );
        }
        // `check --db` stays check's own switch.
        match parses("check --db").command {
            Command::Check(a) => assert!(a.db),
            other => panic!("{other:?}"),
        }
    }

    fn parses(line: &str) -> Cli {
        let argv: Vec<&str> = std::iter::once("rev")
            .chain(line.split_whitespace())
            .collect();
        Cli::try_parse_from(&argv).unwrap_or_else(|e| panic!("`rev {line}`: {e}"))
    }

    /// Flags may follow the targets (`allow_hyphen_values` on a list of
    /// targets swallowed them as targets), and `-N` still reads as a target.
    #[test]
    fn flags_work_after_targets_and_minus_n_is_a_target() {
        match parses("stamp heads --purge -f json").command {
            Command::Stamp(a) => {
                assert!(a.purge);
                assert_eq!(a.targets, vec![Target::Heads]);
            }
            other => panic!("{other:?}"),
        }
        let cli = parses("stamp a3 b4 --dry-run");
        assert_eq!(cli.global.format, Format::Text);
        match cli.command {
            Command::Stamp(a) => assert!(a.dry_run && a.targets.len() == 2),
            other => panic!("{other:?}"),
        }
        match parses("stamp -1 --dry-run").command {
            Command::Stamp(a) => assert!(a.dry_run && a.targets[0].relative_to_current().is_some()),
            other => panic!("{other:?}"),
        }
        for line in [
            "downgrade -1 --sql --from a",
            "downgrade --dry-run -2",
            "downgrade -1 --dry-run -f json",
            "upgrade +1 --dry-run",
            "upgrade head --sql -q",
        ] {
            match parses(line).command {
                Command::Upgrade(a) | Command::Downgrade(a) => {
                    assert!(a.sql || a.dry_run, "{line}")
                }
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(parses("show -1 -f json").global.format, Format::Json);
        assert_eq!(parses("show heads -f json").global.format, Format::Json);
        assert_eq!(parses("merge a b -m m -f json").global.format, Format::Json);
        assert_eq!(parses("accept a -f json").global.format, Format::Json);
        match parses("new -m x --head -1 -f json").command {
            Command::New(a) => assert!(a.head.is_some()),
            other => panic!("{other:?}"),
        }
        match parses("history -r -3: -f json").command {
            Command::History(a) => assert_eq!(a.range.as_deref(), Some("-3:")),
            other => panic!("{other:?}"),
        }
        // An unknown flag is still a usage error, not a target.
        let err = Cli::try_parse_from(["rev", "stamp", "a", "--prge"]).unwrap_err();
        assert_eq!(err.kind(), clap::error::ErrorKind::UnknownArgument);
    }

    #[test]
    fn an_offline_range_splits_into_from_and_target() {
        match parses("upgrade a1:head --sql").command {
            Command::Upgrade(a) => {
                assert_eq!(a.target.from.as_deref(), Some("a1"));
                assert_eq!(*a.target, Target::Head);
            }
            other => panic!("{other:?}"),
        }
    }
}
