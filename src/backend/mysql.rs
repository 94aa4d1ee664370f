//! MySQL/MariaDB: connecting, with the session the `mysql` client would
//! have. The migration lock is `GET_LOCK` (see `lock/mysql.rs`).

use sqlx::mysql::{MySqlConnectOptions, MySqlConnection};
use sqlx::ConnectOptions as _;

use crate::url::DatabaseUrl;

/// sqlx's handshake always announces `CLIENT_IGNORE_SPACE`, which makes the
/// server add `IGNORE_SPACE` to the session's `sql_mode` (turning every
/// built-in function name into a reserved word, and recorded in every
/// trigger and routine). This takes it out again, unless the server's own
/// `sql_mode` has it; anything else the session got (from `init_connect`,
/// say) stays.
const WITHOUT_IGNORE_SPACE: &str =
    "SET sql_mode = IF(FIND_IN_SET('IGNORE_SPACE', @@GLOBAL.sql_mode) > 0, \
     @@SESSION.sql_mode, \
     TRIM(BOTH ',' FROM REPLACE(CONCAT(',', @@SESSION.sql_mode, ','), ',IGNORE_SPACE,', ',')))";

pub(super) struct State {
    pub(super) conn: MySqlConnection,
    /// The `GET_LOCK` name while the migration lock is held.
    pub(super) lock_name: Option<String>,
}

impl State {
    pub(super) async fn connect(url: &DatabaseUrl) -> Result<State, sqlx::Error> {
        let Some(u) = url.server_url() else {
            return Err(sqlx::Error::Configuration("not a MySQL URL".into()));
        };
        let given = |names: &[&str]| u.query_pairs().any(|(k, _)| names.contains(&k.as_ref()));
        // sqlx's defaults add PIPES_AS_CONCAT and NO_ENGINE_SUBSTITUTION to
        // `sql_mode` and set `time_zone = '+00:00'`: under them `'a' || 'b'`
        // means another thing than in the `mysql` client, every trigger,
        // view and routine a revision creates keeps that `sql_mode` for good,
        // and NOW() is another time. The session keeps the server's values;
        // a `timezone` the URL asks for is still honoured.
        let mut opts = MySqlConnectOptions::from_url(u)?
            .pipes_as_concat(false)
            .no_engine_substitution(false);
        if !given(&["timezone", "time-zone"]) {
            opts = opts.timezone(None);
        }
        // sqlx sends `SET NAMES <charset>` (plus `COLLATE` only when the URL
        // names a collation), so the server's default collation for the
        // character set applies, as in the `mysql` client. It puts the
        // URL's `charset=` into that statement as written: refuse anything
        // but a name first, with a clear message instead of a syntax error.
        let charset = opts.get_charset();
        if !charset
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_')
        {
            return Err(sqlx::Error::Configuration(
                format!("invalid character set `{charset}`").into(),
            ));
        }
        let mut conn = opts.connect().await?;
        sqlx::raw_sql(WITHOUT_IGNORE_SPACE)
            .execute(&mut conn)
            .await?;
        Ok(State {
            conn,
            lock_name: None,
        })
    }
}
