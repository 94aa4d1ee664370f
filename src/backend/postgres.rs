//! PostgreSQL: connecting, with the session settings a `psql` session would
//! have. The migration lock is a session advisory lock (see
//! `lock/postgres.rs`).

use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{ConnectOptions as _, Row as _};

use super::dialect::trusted_sql;
use crate::url::DatabaseUrl;

/// How rev connects to `url`. No `extra_float_digits` in the startup
/// message (PgBouncer refuses parameters it does not know), and the
/// statement cache off: rev's own statements use the simple query protocol
/// (see `pooler.rs`), so a named prepared statement, which dies with a
/// pooler's change of server connection, is never needed.
pub(super) fn connect_options(url: &DatabaseUrl) -> Result<PgConnectOptions, sqlx::Error> {
    let Some(u) = url.server_url() else {
        return Err(sqlx::Error::Configuration("not a PostgreSQL URL".into()));
    };
    let mut opts = PgConnectOptions::from_url(u)?
        .extra_float_digits(None)
        .statement_cache_capacity(0);
    // The application name lets a blocked `rev` (or a DBA) see who holds
    // the lock; one the URL gives is kept.
    if opts.get_application_name().is_none() {
        opts = opts.application_name("rev");
    }
    Ok(opts)
}

pub(super) struct State {
    pub(super) conn: PgConnection,
    /// The advisory lock key while the migration lock is held.
    pub(super) lock_key: Option<i64>,
}

impl State {
    pub(super) async fn connect(url: &DatabaseUrl) -> Result<State, sqlx::Error> {
        let opts = connect_options(url)?;
        let mut conn = opts.connect().await?;
        restore_session_defaults(&mut conn, opts.get_options()).await?;
        Ok(State {
            conn,
            lock_key: None,
        })
    }

    /// This session's backend pid, for `pg_cancel_backend`.
    pub(super) async fn backend_pid(&mut self) -> Option<i32> {
        let row = sqlx::raw_sql("SELECT pg_backend_pid()")
            .fetch_one(&mut self.conn)
            .await
            .ok()?;
        row.try_get(0).ok()
    }
}

/// Session settings sqlx puts in every startup message (`TimeZone=UTC`,
/// `DateStyle=ISO, MDY`) that change what revision SQL computes: `now()`
/// printed as text, `'01/02/2024'::date`. Startup settings outrank the
/// database's and the role's defaults, and `RESET` returns to them, so rev
/// looks the defaults up itself and sets them back.
const FORCED_BY_SQLX: [&str; 2] = ["TimeZone", "DateStyle"];

/// Put each of [`FORCED_BY_SQLX`] back to what a `psql` session of this
/// user on this database would have: the URL's own `options` first, then
/// `ALTER ROLE … IN DATABASE`, `ALTER ROLE`, `ALTER DATABASE` and `ALTER ROLE
/// ALL` settings (in the server's order), then the server's configuration
/// files, then the built-in default. Only superusers (and members of roles
/// granted the view) may read the configuration files: for others, with no
/// role or database setting, sqlx's value stays, as the README says.
///
/// rev's own timestamps do not depend on this: `applied_at` is built in SQL
/// with an explicit `AT TIME ZONE 'UTC'` and read back as text.
async fn restore_session_defaults(
    conn: &mut PgConnection,
    url_options: Option<&str>,
) -> Result<(), sqlx::Error> {
    let explicit = url_options.map(option_settings).unwrap_or_default();
    let mut wanted: Vec<(&str, Option<String>)> = FORCED_BY_SQLX
        .iter()
        .map(|name| {
            let given = explicit
                .iter()
                .rev()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.clone());
            (*name, given)
        })
        .collect();
    if wanted.iter().any(|(_, v)| v.is_none()) {
        let defaults = server_defaults(conn).await?;
        for (name, value) in &mut wanted {
            if value.is_none() {
                *value = defaults
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(name))
                    .map(|(_, v)| v.clone());
            }
        }
    }
    for (name, value) in wanted {
        let Some(value) = value else { continue };
        // A value the server refuses (say, a zone removed from tzdata) is
        // skipped as the server itself skips it at login, with a warning.
        let _ = sqlx::raw_sql(trusted_sql(format!(
            "SELECT set_config({}, {}, false)",
            text_literal(name),
            text_literal(&value)
        )))
        .execute(&mut *conn)
        .await;
    }
    Ok(())
}

/// The defaults of [`FORCED_BY_SQLX`] for this session, as `(lower-case
/// name, value)`; a name is missing when rev cannot read its default.
async fn server_defaults(conn: &mut PgConnection) -> Result<Vec<(String, String)>, sqlx::Error> {
    let names: Vec<String> = FORCED_BY_SQLX.iter().map(|n| n.to_lowercase()).collect();
    // Per role and database: the most specific setting wins, as at login.
    let mut found = text_pairs(
        conn,
        format!(
            "SELECT DISTINCT ON (1) lower(split_part(cfg, '=', 1)), substr(cfg, strpos(cfg, '=') + 1) \
             FROM pg_db_role_setting s, unnest(s.setconfig) AS cfg \
             WHERE s.setdatabase IN (0, (SELECT oid FROM pg_database WHERE datname = current_database())) \
               AND s.setrole IN (0, (SELECT oid FROM pg_roles WHERE rolname = session_user)) \
               AND lower(split_part(cfg, '=', 1)) = ANY({}) \
             ORDER BY 1, s.setrole = 0, s.setdatabase = 0",
            text_array(&names)
        ),
    )
    .await?;
    let rest: Vec<String> = names
        .into_iter()
        .filter(|n| !found.iter().any(|(k, _)| k == n))
        .collect();
    if rest.is_empty() {
        return Ok(found);
    }
    // postgresql.conf and ALTER SYSTEM, readable by superusers only unless
    // granted. Asked first, so a refusal is not an error in the server's log
    // at every connection.
    let readable: bool = sqlx::raw_sql(
        "SELECT has_table_privilege('pg_catalog.pg_file_settings', 'SELECT') \
            AND has_function_privilege('pg_catalog.pg_show_all_file_settings()', 'EXECUTE')",
    )
    .fetch_one(&mut *conn)
    .await?
    .try_get(0)?;
    if !readable {
        return Ok(found);
    }
    let files = text_pairs(
        conn,
        format!(
            "SELECT lower(name), setting FROM pg_file_settings \
             WHERE lower(name) = ANY({}) AND applied AND error IS NULL \
             ORDER BY seqno",
            text_array(&rest)
        ),
    )
    .await;
    let Ok(files) = files else {
        return Ok(found);
    };
    // The last applied line of the files wins; a name in no file has its built-in value.
    let builtin = text_pairs(
        conn,
        format!(
            "SELECT lower(name), boot_val FROM pg_settings WHERE lower(name) = ANY({})",
            text_array(&rest)
        ),
    )
    .await?;
    for name in rest {
        let value = files
            .iter()
            .rev()
            .find(|(k, _)| *k == name)
            .or_else(|| builtin.iter().find(|(k, _)| *k == name))
            .map(|(_, v)| v.clone());
        if let Some(value) = value {
            found.push((name, value));
        }
    }
    Ok(found)
}

use super::pooler::pg_text as text_literal;

fn text_array(values: &[String]) -> String {
    let items: Vec<String> = values.iter().map(|v| text_literal(v)).collect();
    format!("ARRAY[{}]::text[]", items.join(", "))
}

/// The rows of two text columns, in the simple query protocol.
async fn text_pairs(
    conn: &mut PgConnection,
    sql: String,
) -> Result<Vec<(String, String)>, sqlx::Error> {
    let rows = sqlx::raw_sql(trusted_sql(sql))
        .fetch_all(&mut *conn)
        .await?;
    rows.iter()
        .map(|row| Ok((row.try_get(0)?, row.try_get(1)?)))
        .collect()
}

/// The `-c name=value` (and `--name=value`) settings of a libpq `options`
/// string, where a backslash escapes the next character (a space, say).
fn option_settings(options: &str) -> Vec<(String, String)> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut chars = options.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => word.extend(chars.next()),
            c if c.is_whitespace() => {
                if !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
            }
            c => word.push(c),
        }
    }
    if !word.is_empty() {
        words.push(word);
    }
    let mut out = Vec::new();
    let mut words = words.into_iter();
    while let Some(w) = words.next() {
        let setting = if w == "-c" {
            words.next()
        } else {
            w.strip_prefix("--")
                .or_else(|| w.strip_prefix("-c"))
                .map(str::to_owned)
        };
        if let Some((k, v)) = setting.as_deref().and_then(|s| s.split_once('=')) {
            out.push((k.replace('-', "_"), v.to_owned()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn option_settings_reads_c_switches_with_escapes() {
        assert_eq!(
            option_settings("-c TimeZone=Europe/Paris -cDateStyle=SQL,\\ DMY --search-path=a"),
            vec![
                ("TimeZone".to_owned(), "Europe/Paris".to_owned()),
                ("DateStyle".to_owned(), "SQL, DMY".to_owned()),
                ("search_path".to_owned(), "a".to_owned()),
            ]
        );
        assert!(option_settings("-c").is_empty());
        assert!(option_settings("  -x y ").is_empty());
    }
}
