//! The examples each command's `--help` ends with (clap's `after_help`).
//! Kept apart from `args.rs` so the flag definitions stay readable; every
//! line here is a command that works on a project made by `rev init`.

pub const REV: &str = "\
Examples:
  rev init && rev new -m \"create users\"     start a project and its first revision
  rev upgrade head                           apply every pending revision
  rev status                                 what is applied, pending or changed
More: `rev COMMAND --help`, `rev man`, `rev completions bash`";

pub const INIT: &str = "\
Examples:
  rev init                 create config.yaml, versions/ and templates/ here
  rev init db/migrations   create the project in db/migrations";

pub const NEW: &str = "\
Examples:
  rev new -m \"create users\"
  rev new -m \"add billing\" --head base --branch-label billing
  rev new -m \"index emails\" --no-transaction   (CREATE INDEX CONCURRENTLY)";

pub const MERGE: &str = "\
Examples:
  rev merge -m \"join branches\"              merge every head
  rev merge ae10 b2c3 -m \"join billing\"     merge two heads by id prefix";

pub const UPGRADE: &str = "\
Examples:
  rev upgrade head               apply every pending revision (one head)
  rev upgrade heads --sql > upgrade.sql   write the script for psql/mysql/sqlite3
  rev upgrade head --all --canary 2   every database of `databases:`, two first";

pub const DOWNGRADE: &str = "\
`-N` counts applied revisions: `rev downgrade -1` reverts the revision applied last (by the
tracking table's applied_at, ties going to the later one in plan order) among those nothing
still applied needs, and `-N` does that N times. So after a merge `m` of `b` and `c`, `-1`
reverts `m` alone and leaves `b` and `c` applied, and `-2` then also reverts whichever of them
was applied last (`REV-N` and `LABEL@-N` still walk the graph).

Examples:
  rev downgrade -1               revert the revision applied last (at a merge, the merge alone)
  rev downgrade billing@ae10 --dry-run   what reverting billing alone above ae10 would run
  rev downgrade base             revert everything";

pub const STAMP: &str = "\
Examples:
  rev stamp head                 record an existing schema as up to date
  rev stamp --dry-run ae10       show what would be recorded
  rev stamp base                 clear the recorded state";

pub const CURRENT: &str = "\
Examples:
  rev current                    the revisions the database is at
  rev current --check-heads      exit 1 unless it is at every head (for CI)
  rev current --all --check-heads   exit 1 unless every named database is at every head";

pub const STATUS: &str = "\
Examples:
  rev status                     applied, pending, drifted revisions
  rev status -f json             the same for scripts
  rev status --all               a table of the named databases, the ones behind first";

pub const ACCEPT: &str = "\
Examples:
  rev accept ae10                keep the edited text of an applied revision
  rev accept ae10 b2c3";

pub const HEADS: &str = "\
Examples:
  rev heads
  rev heads -f json | jq -r '.[].revision'";

pub const BRANCHES: &str = "\
Examples:
  rev branches
  rev branches -f json";

pub const HISTORY: &str = "\
Examples:
  rev history                    every revision, newest first
  rev history -r ae10:           ae10 and the revisions after it
  rev history -r :billing@head -v";

pub const SHOW: &str = "\
Examples:
  rev show head                  the newest revision, with its SQL
  rev show ae10
  rev show heads -f json";

pub const CHECK: &str = "\
Examples:
  rev check                      the revision files (exit 1 on a problem)
  rev check --db                 and the database's constraints and indexes";

pub const GRAPH: &str = "\
Examples:
  rev graph | dot -Tsvg > graph.svg
  rev graph -f mermaid";

pub const EDIT: &str = "\
Examples:
  rev edit head                  open the newest revision
  rev edit ae10                  open a revision by id prefix
  EDITOR=nano rev edit billing@head";

pub const COMPLETIONS: &str = "\
Examples:
  rev completions bash > ~/.local/share/bash-completion/completions/rev
  rev completions zsh > \"${fpath[1]}/_rev\"
  source <(rev completions bash --dynamic)   also completes revision ids and labels";

pub const MAN: &str = "\
Examples:
  rev man | man -l -
  rev man > /usr/local/share/man/man1/rev.1";

pub const SQUASH: &str = "\
Examples:
  rev squash 1a2b:4d5e -m \"base schema\"   one revision for the run 1a2b..4d5e
  rev squash b1:b9 -m \"billing, first year\" --rev-id billing_v1";

pub const REBASE: &str = "\
Examples:
  rev rebase                     move this branch's revisions onto the other head
  rev rebase c3 --onto b2 --dry-run
  rev rebase c3 --onto b2 --no-db   without asking the database what it applied";
