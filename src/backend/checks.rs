//! Consistency checks of the data and the catalog, for `rev check --db` and
//! for the foreign-key check every SQLite step runs before it commits.
//!
//! - SQLite: `PRAGMA integrity_check` and `PRAGMA foreign_key_check`. The
//!   migration connection runs with foreign-key enforcement off (see
//!   `sqlite.rs`), so the foreign-key check is what stands between a
//!   revision and a dangling reference.
//! - PostgreSQL: what a failed or unfinished statement leaves behind in the
//!   catalog of the current database's own schemas: constraints added
//!   `NOT VALID` and never validated, and indexes a failed
//!   `CREATE INDEX CONCURRENTLY` left invalid.
//! - MySQL/MariaDB: nothing. The server records no half-validated constraint
//!   or failed index build (a failed `ALTER TABLE` is undone), and the checks
//!   it does have (`CHECK TABLE`, a join per foreign key) read every row of
//!   every table; rev does not pretend to have checked anything there.

use futures_util::TryStreamExt;
use sqlx::{PgConnection, Row, SqliteConnection};

use crate::step::Direction;

/// What a [`Finding`] is about. The names are stable (JSON `kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FindingKind {
    /// SQLite's `integrity_check` reported a problem in the file.
    Integrity,
    /// Rows reference no row of their parent table (SQLite).
    ForeignKey,
    /// A constraint added `NOT VALID` was never validated (PostgreSQL).
    NotValidConstraint,
    /// An index is marked invalid, usually by a failed `CREATE INDEX
    /// CONCURRENTLY` (PostgreSQL).
    InvalidIndex,
}

impl FindingKind {
    /// The stable name used in JSON output.
    pub fn as_str(self) -> &'static str {
        match self {
            FindingKind::Integrity => "integrity",
            FindingKind::ForeignKey => "foreign_key",
            FindingKind::NotValidConstraint => "not_valid_constraint",
            FindingKind::InvalidIndex => "invalid_index",
        }
    }
}

/// One problem the database check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// What kind of problem.
    pub kind: FindingKind,
    /// The table it is in (schema-qualified on PostgreSQL), when it has one.
    pub table: Option<String>,
    /// The constraint or index, when the finding is about one.
    pub name: Option<String>,
    /// What is wrong, for people.
    pub message: String,
    /// What to do about it.
    pub fix: String,
}

/// The result of [`crate::backend::Connection::check_database`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DatabaseCheck {
    /// The checks that ran, e.g. `foreign_key_check`. Empty when rev has no
    /// check for this database (MySQL/MariaDB) or there was no database to
    /// check (a SQLite file that does not exist yet).
    pub checks: Vec<&'static str>,
    /// What they found; empty when all is well.
    pub findings: Vec<Finding>,
}

/// A revision left rows that reference no row of their parent table (see
/// [`crate::backend::BackendError::ForeignKeyViolation`]). Rows that dangled
/// before the revision ran are not counted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForeignKeyViolation {
    /// The revision.
    pub revision: String,
    /// Which section ran.
    pub direction: Direction,
    /// The child table holding the dangling rows.
    pub table: String,
    /// The first of them by rowid that did not dangle before, where known
    /// (`None` for a `WITHOUT ROWID` table).
    pub first_rowid: Option<i64>,
    /// How many more rows dangle than before the revision.
    pub rows: u64,
    /// The table they should reference.
    pub parent: String,
    /// Whether that table exists at all.
    pub parent_exists: bool,
    /// The foreign key as SQL, e.g. `child(parent_id) REFERENCES parent(id)`.
    pub reference: String,
    /// Whether the revision was rolled back (it was transactional).
    pub rolled_back: bool,
}

impl std::fmt::Display for ForeignKeyViolation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let refs = DanglingRefs {
            table: self.table.clone(),
            parent: self.parent.clone(),
            parent_exists: self.parent_exists,
            rows: self.rows,
            first_rowid: self.first_rowid,
            reference: self.reference.clone(),
            rowids: None,
        };
        write!(
            f,
            "{} of revision `{}` leaves {}; {}",
            self.direction,
            self.revision,
            refs.describe("pointing to", "pointing to"),
            if self.rolled_back {
                "its changes were rolled back and it is not recorded"
            } else {
                "it was not transactional: its changes remain and it stays marked in progress"
            }
        )
    }
}

/// The rows of one child table that reference no row of one parent table
/// through one foreign key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct DanglingRefs {
    pub(super) table: String,
    pub(super) parent: String,
    /// The parent table exists (a missing one makes every row dangle).
    pub(super) parent_exists: bool,
    pub(super) rows: u64,
    /// The smallest rowid among them; `None` for a `WITHOUT ROWID` table.
    pub(super) first_rowid: Option<i64>,
    /// The foreign key as SQL: `child(parent_id) REFERENCES parent(id)`.
    pub(super) reference: String,
    /// Every rowid among them, ascending, when there are at most
    /// [`ROWIDS_KEPT`] (so a step can be told which rows it added).
    pub(super) rowids: Option<Vec<i64>>,
}

/// Up to how many dangling rows of one foreign key are remembered by rowid.
/// Beyond it only the count is compared, to keep memory small on a
/// database that dangles wholesale.
const ROWIDS_KEPT: i64 = 10_000;

impl DanglingRefs {
    /// `2 rows of `child` (rowid 3 first) point to no row of `parent``.
    pub(super) fn describe(&self, verb_singular: &str, verb_plural: &str) -> String {
        let rows = if self.rows == 1 {
            format!("1 row of `{}`", self.table)
        } else {
            format!("{} rows of `{}`", self.rows, self.table)
        };
        let first = match (self.first_rowid, self.rows) {
            (Some(id), 1) => format!(" (rowid {id})"),
            (Some(id), _) => format!(" (rowid {id} first)"),
            (None, _) => String::new(),
        };
        let verb = if self.rows == 1 {
            verb_singular
        } else {
            verb_plural
        };
        let target = if self.parent_exists {
            format!("no row of `{}`", self.parent)
        } else {
            format!("table `{}`, which does not exist", self.parent)
        };
        format!("{rows}{first} {verb} {target} ({})", self.reference)
    }
}

/// Every group of dangling references, by child table, parent table and
/// foreign key. SQLite does the grouping, so memory stays in the number of
/// foreign keys however many rows dangle.
pub(super) async fn sqlite_dangling(
    conn: &mut SqliteConnection,
) -> Result<Vec<DanglingRefs>, sqlx::Error> {
    let groups = sqlx::query(
        "SELECT \"table\", parent, fkid, COUNT(*), MIN(rowid) \
         FROM pragma_foreign_key_check() \
         GROUP BY \"table\", parent, fkid ORDER BY \"table\", parent, fkid",
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut out = Vec::with_capacity(groups.len());
    for row in groups {
        let table: String = row.try_get(0)?;
        let parent: String = row.try_get(1)?;
        let fkid: i64 = row.try_get(2)?;
        let rows: i64 = row.try_get(3)?;
        let first_rowid: Option<i64> = row.try_get(4)?;
        let columns = sqlx::query(
            "SELECT \"from\", \"to\" FROM pragma_foreign_key_list(?1) WHERE id = ?2 ORDER BY seq",
        )
        .bind(&table)
        .bind(fkid)
        .fetch_all(&mut *conn)
        .await?;
        let mut from = Vec::new();
        let mut to = Vec::new();
        for c in &columns {
            from.push(c.try_get::<String, _>(0)?);
            // No column list in REFERENCES means the parent's primary key.
            to.push(c.try_get::<Option<String>, _>(1)?);
        }
        let to = if to.iter().all(Option::is_some) {
            to.into_iter().flatten().collect::<Vec<_>>().join(", ")
        } else {
            "its primary key".to_owned()
        };
        let rowids = if first_rowid.is_some() && rows <= ROWIDS_KEPT {
            Some(
                sqlx::query_scalar(
                    "SELECT rowid FROM pragma_foreign_key_check(?1) \
                     WHERE parent = ?2 AND fkid = ?3 ORDER BY rowid",
                )
                .bind(&table)
                .bind(&parent)
                .bind(fkid)
                .fetch_all(&mut *conn)
                .await?,
            )
        } else {
            None
        };
        let parent_exists: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?1 COLLATE NOCASE",
        )
        .bind(&parent)
        .fetch_one(&mut *conn)
        .await?;
        out.push(DanglingRefs {
            reference: format!("{table}({}) REFERENCES {parent}({to})", from.join(", ")),
            table,
            parent,
            parent_exists: parent_exists > 0,
            rows: u64::try_from(rows).unwrap_or(0),
            first_rowid,
            rowids,
        });
    }
    Ok(out)
}

/// The first group of `after` with more dangling rows than `before` had for
/// the same child and parent table, its `rows` being the increase and its
/// `first_rowid` the first row that did not dangle before, where the rowids
/// are known (else the group's first).
///
/// Compared by table pair, not by rowid or foreign-key number: a rebuilt
/// child table may renumber both, and rows that dangled before the revision
/// are not its doing (an application that ran with enforcement off leaves
/// such rows; refusing every revision for them would block all migrations).
pub(super) fn new_dangling(
    before: &[DanglingRefs],
    after: &[DanglingRefs],
) -> Option<DanglingRefs> {
    let key = |d: &DanglingRefs| (d.table.to_lowercase(), d.parent.to_lowercase());
    let total = |set: &[DanglingRefs], k: &(String, String)| -> u64 {
        set.iter().filter(|d| &key(d) == k).map(|d| d.rows).sum()
    };
    let rowids = |set: &[DanglingRefs], k: &(String, String)| -> Option<Vec<i64>> {
        let mut all = Vec::new();
        for d in set.iter().filter(|d| &key(d) == k) {
            all.extend(d.rowids.as_ref()?);
        }
        Some(all)
    };
    let d = after.iter().find(|d| {
        let k = key(d);
        total(after, &k) > total(before, &k)
    })?;
    let k = key(d);
    let mut old = rowids(before, &k).unwrap_or_default();
    old.sort_unstable();
    let first_new = d.rowids.as_ref().and_then(|ids| {
        ids.iter()
            .find(|id| old.binary_search(id).is_err())
            .copied()
    });
    Some(DanglingRefs {
        rows: total(after, &k) - total(before, &k),
        first_rowid: first_new.or(d.first_rowid),
        ..d.clone()
    })
}

/// `PRAGMA integrity_check` (its first 100 problems) and
/// `PRAGMA foreign_key_check`.
pub(super) async fn sqlite_check(
    conn: &mut SqliteConnection,
) -> Result<DatabaseCheck, sqlx::Error> {
    let mut findings = Vec::new();
    let mut problems = sqlx::query_scalar::<_, String>("PRAGMA integrity_check").fetch(&mut *conn);
    while let Some(line) = problems.try_next().await? {
        if line != "ok" {
            findings.push(Finding {
                kind: FindingKind::Integrity,
                table: None,
                name: None,
                message: format!("integrity_check: {line}"),
                fix: "an index that disagrees with its table is rebuilt by `REINDEX`; anything else means a damaged file: restore a backup (`sqlite3 FILE .recover` salvages what it can)".to_owned(),
            });
        }
    }
    drop(problems);
    for d in sqlite_dangling(conn).await? {
        let fix = if d.parent_exists {
            format!(
                "list the rows with `PRAGMA foreign_key_check(\"{}\")`, then delete them or point them at existing rows of `{}`, in a revision",
                d.table.replace('"', "\"\""),
                d.parent
            )
        } else {
            format!(
                "create table `{}` again, or rebuild `{}` without the reference, in a revision",
                d.parent, d.table
            )
        };
        findings.push(Finding {
            kind: FindingKind::ForeignKey,
            table: Some(d.table.clone()),
            name: None,
            message: d.describe("points to", "point to"),
            fix,
        });
    }
    Ok(DatabaseCheck {
        checks: vec!["integrity_check", "foreign_key_check"],
        findings,
    })
}

/// Schemas of the current database that hold the user's objects.
const USER_SCHEMA: &str = "n.nspname NOT IN ('pg_catalog', 'information_schema') \
     AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp\\_%'";

/// Constraints still `NOT VALID`, and invalid indexes, in the user's schemas.
pub(super) async fn postgres_check(conn: &mut PgConnection) -> Result<DatabaseCheck, sqlx::Error> {
    let mut findings = Vec::new();
    // The simple query protocol throughout, for poolers (see pooler.rs).
    let constraints = sqlx::raw_sql(super::trusted_sql(format!(
        "SELECT con.conname::text, \
                CASE WHEN con.conrelid <> 0 THEN format('%I.%I', n.nspname, c.relname) \
                     ELSE format('%I.%I', n.nspname, t.typname) END, \
                con.conrelid <> 0, con.contype::text, \
                CASE WHEN con.conrelid <> 0 \
                     THEN format('ALTER TABLE %I.%I VALIDATE CONSTRAINT %I', n.nspname, c.relname, con.conname) \
                     ELSE format('ALTER DOMAIN %I.%I VALIDATE CONSTRAINT %I', n.nspname, t.typname, con.conname) END \
         FROM pg_constraint con \
         JOIN pg_namespace n ON n.oid = con.connamespace \
         LEFT JOIN pg_class c ON c.oid = con.conrelid \
         LEFT JOIN pg_type t ON t.oid = con.contypid \
         WHERE NOT con.convalidated AND {USER_SCHEMA} \
         ORDER BY 2, 1"
    )))
    .fetch_all(&mut *conn)
    .await?;
    for row in constraints {
        let name: String = row.try_get(0)?;
        let owner: String = row.try_get(1)?;
        let on_table: bool = row.try_get(2)?;
        let contype: String = row.try_get(3)?;
        let validate: String = row.try_get(4)?;
        let what = match contype.as_str() {
            "f" => "foreign key",
            "c" => "check constraint",
            _ => "constraint",
        };
        let message = if on_table {
            format!("{what} `{name}` on `{owner}` is NOT VALID: rows written before it was added were never checked against it")
        } else {
            format!("{what} `{name}` of domain `{owner}` is NOT VALID: values stored before it was added were never checked against it")
        };
        findings.push(Finding {
            kind: FindingKind::NotValidConstraint,
            table: on_table.then(|| owner.clone()),
            name: Some(name),
            message,
            fix: format!("`{validate};` (it does not block writes; if it fails, fix the row it names and run it again)"),
        });
    }

    // An index that a CREATE INDEX CONCURRENTLY is building right now is
    // invalid too, until it finishes: leave those out where the server says
    // which they are (PostgreSQL 12 and later).
    let version: i32 = sqlx::raw_sql("SELECT current_setting('server_version_num')::int")
        .fetch_one(&mut *conn)
        .await?
        .try_get(0)?;
    let building = if version >= 120_000 {
        "AND NOT EXISTS (SELECT 1 FROM pg_stat_progress_create_index p WHERE p.index_relid = x.indexrelid)"
    } else {
        ""
    };
    let indexes = sqlx::raw_sql(super::trusted_sql(format!(
        "SELECT format('%I.%I', n.nspname, i.relname), format('%I.%I', tn.nspname, t.relname), \
                i.relkind = 'I' \
         FROM pg_index x \
         JOIN pg_class i ON i.oid = x.indexrelid \
         JOIN pg_namespace n ON n.oid = i.relnamespace \
         JOIN pg_class t ON t.oid = x.indrelid \
         JOIN pg_namespace tn ON tn.oid = t.relnamespace \
         WHERE NOT x.indisvalid AND {USER_SCHEMA} {building} \
         ORDER BY 2, 1"
    )))
    .fetch_all(&mut *conn)
    .await?;
    for row in indexes {
        let index: String = row.try_get(0)?;
        let table: String = row.try_get(1)?;
        let partitioned: bool = row.try_get(2)?;
        let (message, fix) = if partitioned {
            (
                format!("index `{index}` on partitioned table `{table}` is invalid: not every partition has its index attached"),
                format!("attach each partition's index with `ALTER INDEX {index} ATTACH PARTITION ...`, or `DROP INDEX {index};` and create it again"),
            )
        } else {
            (
                format!("index `{index}` on `{table}` is invalid: a CREATE INDEX CONCURRENTLY (or REINDEX CONCURRENTLY) failed or was interrupted; queries do not use it, yet every write still updates it"),
                format!("remove what made it fail (for a unique index, the duplicate values), then `REINDEX INDEX CONCURRENTLY {index};`, or `DROP INDEX CONCURRENTLY {index};` and create it again"),
            )
        };
        findings.push(Finding {
            kind: FindingKind::InvalidIndex,
            table: Some(table),
            name: Some(index),
            message,
            fix,
        });
    }
    Ok(DatabaseCheck {
        checks: vec!["not_valid_constraints", "invalid_indexes"],
        findings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refs(table: &str, parent: &str, rows: u64, first: Option<i64>) -> DanglingRefs {
        DanglingRefs {
            table: table.into(),
            parent: parent.into(),
            parent_exists: true,
            rows,
            first_rowid: first,
            reference: format!("{table}(p_id) REFERENCES {parent}(id)"),
            rowids: None,
        }
    }

    #[test]
    fn only_an_increase_per_table_pair_is_new() {
        let before = [refs("child", "parent", 2, Some(1))];
        // The same rows, renumbered by a rebuild of the child: nothing new.
        assert_eq!(
            new_dangling(&before, &[refs("Child", "parent", 2, Some(7))]),
            None
        );
        assert_eq!(new_dangling(&before, &[]), None);
        let found = new_dangling(
            &before,
            &[
                refs("child", "parent", 3, Some(1)),
                refs("other", "parent", 1, Some(9)),
            ],
        )
        .expect("one more row of child dangles");
        assert_eq!((found.table.as_str(), found.rows), ("child", 1));
        let found = new_dangling(&[], &[refs("other", "parent", 1, None)]).unwrap();
        assert_eq!(found.table, "other");
    }

    #[test]
    fn the_row_named_is_one_that_did_not_dangle_before() {
        let mut before = refs("child", "parent", 2, Some(3));
        before.rowids = Some(vec![3, 8]);
        let mut after = refs("child", "parent", 3, Some(3));
        after.rowids = Some(vec![3, 5, 8]);
        let found = new_dangling(&[before.clone()], &[after.clone()]).unwrap();
        assert_eq!((found.first_rowid, found.rows), (Some(5), 1));
        // Rowids unknown on either side: the group's first is all there is.
        after.rowids = None;
        assert_eq!(
            new_dangling(&[before], &[after]).unwrap().first_rowid,
            Some(3)
        );
    }

    #[test]
    fn describes_rows_rowid_and_missing_parent() {
        assert_eq!(
            refs("child", "parent", 3, Some(4)).describe("points to", "point to"),
            "3 rows of `child` (rowid 4 first) point to no row of `parent` (child(p_id) REFERENCES parent(id))"
        );
        let mut gone = refs("child", "parent_old", 1, None);
        gone.parent_exists = false;
        assert_eq!(
            gone.describe("points to", "point to"),
            "1 row of `child` points to table `parent_old`, which does not exist (child(p_id) REFERENCES parent_old(id))"
        );
    }
}
