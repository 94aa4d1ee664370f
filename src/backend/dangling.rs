//! SQLite: the rows that reference no row of their parent table, grouped by
//! foreign key, and which of them a step added. Read by the foreign-key
//! check around each step (`foreign_keys.rs`) and by `rev check --db`.

use sqlx::{Row, SqliteConnection};

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
