//! What rev's database session is like, through the real `rev` binary on the
//! real servers: data-only revisions run in one transaction on MariaDB,
//! revision SQL runs under the server's and database's own settings (not
//! sqlx's), and passwords from `${VAR}` reach the server intact and are
//! never printed.
//!
//! Every test creates and drops its own database (and its own role or user
//! where it needs one); an unreachable server fails the test, or skips it
//! by name under `REV_TEST_SKIP_SERVERS=1` (tests/kit).

#[macro_use]
#[path = "kit/mod.rs"]
mod kit;

use std::str::FromStr;

use kit::{ids, str_array, Project, Rev, Run, TestDb};
use rev::url::{BackendKind, DatabaseUrl};
use sqlx::{ConnectOptions as _, Connection as _};

/// The password of the test role and user: every character that ends a
/// URL's password early, or the URL itself, is in it.
const PASSWORD: &str = "p@ss:w/rd#?";

fn admin_url(kind: BackendKind) -> String {
    match kind {
        BackendKind::Postgres => std::env::var("REV_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into()),
        _ => std::env::var("REV_TEST_MYSQL_URL")
            .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/test".into()),
    }
}

async fn admin_exec(kind: BackendKind, sql: &str) {
    let url = admin_url(kind);
    match kind {
        BackendKind::Postgres => {
            let mut c = sqlx::PgConnection::connect(&url)
                .await
                .expect("admin connect");
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                .execute(&mut c)
                .await
                .expect(sql);
            c.close().await.expect("close");
        }
        _ => {
            let mut c = sqlx::MySqlConnection::connect(&url)
                .await
                .expect("admin connect");
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                .execute(&mut c)
                .await
                .expect(sql);
            c.close().await.expect("close");
        }
    }
}

/// A login role (PostgreSQL) or user (MariaDB) with [`PASSWORD`], dropped
/// when the test ends, pass or fail. Declare it before the [`Project`], so
/// the database (and what the role owns in it) is dropped first.
struct Login {
    kind: BackendKind,
    name: String,
}

impl Login {
    async fn create(kind: BackendKind) -> Login {
        let name = format!(
            "rev_login_{}",
            &uuid::Uuid::new_v4().simple().to_string()[..12]
        );
        let sql = match kind {
            BackendKind::Postgres => {
                format!("CREATE ROLE {name} LOGIN PASSWORD '{PASSWORD}'")
            }
            _ => format!("CREATE USER '{name}'@'%' IDENTIFIED BY '{PASSWORD}'"),
        };
        admin_exec(kind, &sql).await;
        Login { kind, name }
    }
}

impl Drop for Login {
    fn drop(&mut self) {
        let sql = match self.kind {
            BackendKind::Postgres => format!("DROP ROLE IF EXISTS {}", self.name),
            _ => format!("DROP USER IF EXISTS '{}'@'%'", self.name),
        };
        let kind = self.kind;
        // Drop runs inside the test's runtime: use a thread with its own.
        let _ = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime")
                .block_on(admin_exec(kind, &sql));
        })
        .join();
    }
}

/// The database name of the project's URL.
fn db_name(p: &Project) -> String {
    let url = url::Url::parse(&p.db().url.with_credentials_exposed()).expect("test URL");
    url.path().trim_start_matches('/').to_owned()
}

/// `scheme://{userinfo}@host:port/db` for the project's server.
fn url_with(p: &Project, userinfo: &str) -> String {
    let scheme = match p.kind() {
        BackendKind::Postgres => "postgres",
        _ => "mysql",
    };
    format!(
        "{scheme}://{userinfo}@{}:{}/{}",
        p.db().url.host().expect("server host"),
        p.db().url.port().expect("server port"),
        db_name(p)
    )
}

/// Writes config.yaml with `database_url` exactly as given (`${VAR}` and all).
fn set_url(p: &Project, url: &str) {
    std::fs::write(
        p.path("config.yaml"),
        format!(
            "database_url: '{url}'\nscript_location: versions\n\
             lock_timeout_seconds: 10\nconnect_retries: 0\n"
        ),
    )
    .expect("write config.yaml");
}

/// Runs `rev` in the project with extra environment variables.
fn rev_env(p: &Project, env: &[(&str, &str)], args: &[&str]) -> Run {
    let mut cmd = assert_cmd::Command::cargo_bin("rev").expect("the rev binary is built");
    cmd.current_dir(p.path(""))
        .env_remove("DATABASE_URL")
        .env("NO_COLOR", "1")
        .args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run rev");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Neither the password nor its percent-encoded form is in the output.
fn assert_no_password(run: &Run) {
    let encoded = "p%40ss%3Aw%2Frd%23%3F";
    for text in [&run.stdout, &run.stderr] {
        assert!(
            !text.contains(PASSWORD) && !text.contains(encoded),
            "the password was printed:\n{text}"
        );
    }
}

/// One text value through a plain sqlx connection of the test's own.
async fn one(p: &Project, sql: &str) -> String {
    let v = p.strings(sql).await;
    assert_eq!(v.len(), 1, "{sql}: {v:?}");
    v.into_iter().next().expect("one row")
}

/// "Now" in UTC as the database's clock says it, in `applied_at`'s format.
async fn db_now_utc(p: &Project) -> String {
    match p.kind() {
        BackendKind::Postgres => {
            one(
                p,
                "SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')",
            )
            .await
        }
        _ => {
            one(
                p,
                "SELECT CAST(DATE_FORMAT(UTC_TIMESTAMP(6), '%Y-%m-%dT%H:%i:%s.%fZ') AS CHAR)",
            )
            .await
        }
    }
}

/// Every row's `applied_at` lies between `before` and `after` (RFC 3339 text
/// in UTC compares in time order), whatever zone the session was in.
async fn assert_applied_between(p: &Project, before: &str, after: &str) {
    let rows = p.rows().await;
    assert!(!rows.is_empty());
    for row in rows {
        assert!(row.applied_at.ends_with('Z'), "{row:?}");
        assert!(
            before <= row.applied_at.as_str() && row.applied_at.as_str() <= after,
            "applied_at {} is not between {before} and {after} (UTC): read in another zone?",
            row.applied_at
        );
    }
}

// ---------------------------------------------------------------------------
// Point 3: data-only revisions on MariaDB run in one transaction.

/// A MariaDB project (with `settings` in its config) whose a1 makes table
/// `t` with two rows; `None` where MariaDB is not there (see the kit).
async fn mysql_with_t(settings: &str) -> Option<Project> {
    let db = TestDb::mysql().await?;
    let p = Project::with_settings(db, settings);
    table_t(&p);
    Some(p)
}

fn table_t(p: &Project) {
    p.write(&Rev {
        id: "a1",
        down: &[],
        header: &[],
        up: "CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(20) NOT NULL) ENGINE=InnoDB;\n\
             INSERT INTO t VALUES (1, 'a'), (2, 'b');",
        down_sql: "DROP TABLE t;",
    });
}

async fn rows_of_t(p: &Project) -> Vec<String> {
    p.strings("SELECT CAST(CONCAT(id, '=', v) AS CHAR) FROM t")
        .await
}

#[tokio::test]
async fn mysql_failed_data_only_revision_leaves_nothing_and_reruns_after_a_fix() {
    let Some(p) = mysql_with_t("").await else {
        return;
    };
    p.ok(&["upgrade", "head"]);
    p.write(&Rev {
        id: "a2",
        down: &["a1"],
        header: &[],
        up: "UPDATE t SET v = CONCAT(v, '!');\nINSERT INTO t VALUES (1, 'duplicate');",
        down_sql: "DELETE FROM t WHERE id = 3;\nUPDATE t SET v = TRIM(TRAILING '!' FROM v);",
    });
    let run = p.exits(1, &["-f", "json", "upgrade", "head"]);
    let err = run.json_error();
    assert_eq!(err["kind"], "migration_failed", "{err}");
    let message = err["message"].as_str().expect("message");
    assert!(message.contains("statement 2"), "{message}");
    assert!(message.contains("rolled back"), "{message}");
    // The UPDATE before the failing INSERT is not visible, and there is no
    // trace of a2 in the tracking table: no row, no in-progress flag.
    assert_eq!(rows_of_t(&p).await, ids(&["1=a", "2=b"]));
    let rows = p.rows().await;
    assert_eq!(
        rows.iter().map(|r| r.version.as_str()).collect::<Vec<_>>(),
        ["a1"]
    );
    assert!(rows.iter().all(|r| !r.in_progress), "{rows:?}");
    let status = p.json(&["status"]);
    assert_eq!(str_array(&status["in_progress"]), Vec::<String>::new());
    assert_eq!(str_array(&status["pending"]), ids(&["a2"]));

    // Fixed, it simply runs: no `rev stamp` needed first.
    p.edit("a2", "(1, 'duplicate')", "(3, 'c')");
    p.ok(&["upgrade", "head"]);
    assert_eq!(rows_of_t(&p).await, ids(&["1=a!", "2=b!", "3=c"]));
    let a2 = p
        .rows()
        .await
        .into_iter()
        .find(|r| r.version == "a2")
        .expect("a2 recorded");
    assert!(!a2.in_progress, "{a2:?}");
    assert_eq!(a2.down_revisions, ids(&["a1"]));

    // Its downgrade is data-only too: one transaction, row removed with it.
    p.ok(&["downgrade", "-1"]);
    assert_eq!(rows_of_t(&p).await, ids(&["1=a", "2=b"]));
    assert_eq!(p.applied().await, ids(&["a1"]));
}

#[tokio::test]
async fn mysql_revision_with_ddl_keeps_the_in_progress_record() {
    let Some(p) = mysql_with_t("").await else {
        return;
    };
    p.ok(&["upgrade", "head"]);
    // A column added, then a failing statement: the ALTER has committed
    // and cannot be undone, so the revision is left marked in progress.
    p.write(&Rev {
        id: "a2",
        down: &["a1"],
        header: &[],
        up: "UPDATE t SET v = CONCAT(v, '!');\nALTER TABLE t ADD COLUMN w INT NULL;\n\
             INSERT INTO t VALUES (1, 'duplicate', 0);",
        down_sql: "ALTER TABLE t DROP COLUMN w;",
    });
    let run = p.exits(1, &["-f", "json", "upgrade", "head"]);
    let message = run.json_error()["message"].as_str().unwrap().to_owned();
    assert!(message.contains("not transactional"), "{message}");
    assert_eq!(rows_of_t(&p).await, ids(&["1=a!", "2=b!"]));
    let status = p.json(&["status"]);
    assert_eq!(str_array(&status["in_progress"]), ids(&["a2"]));
}

#[tokio::test]
async fn mysql_whole_plan_mode_shares_a_transaction_between_data_only_revisions() {
    let Some(p) = mysql_with_t("transaction_per_migration: false").await else {
        return;
    };
    p.write(&Rev {
        id: "a2",
        down: &["a1"],
        header: &[],
        up: "UPDATE t SET v = UPPER(v);",
        down_sql: "UPDATE t SET v = LOWER(v);",
    });
    p.write(&Rev {
        id: "a3",
        down: &["a2"],
        header: &[],
        up: "INSERT INTO t VALUES (2, 'duplicate');",
        down_sql: "DELETE FROM t WHERE v = 'duplicate';",
    });
    let run = p.exits(1, &["-f", "json", "upgrade", "head"]);
    assert_eq!(run.json_error()["kind"], "migration_failed");
    // a1 has DDL: it committed on its own. a2 and a3 shared a transaction,
    // and a3's failure rolled back a2 with it.
    assert_eq!(p.applied().await, ids(&["a1"]));
    assert_eq!(rows_of_t(&p).await, ids(&["1=a", "2=b"]));
    assert!(p.rows().await.iter().all(|r| !r.in_progress));

    p.edit("a3", "(2, 'duplicate')", "(3, 'c')");
    let report = p.json(&["upgrade", "head"]);
    assert_eq!(
        report["applied"].as_array().map(Vec::len),
        Some(2),
        "{report}"
    );
    assert_eq!(rows_of_t(&p).await, ids(&["1=A", "2=B", "3=c"]));
    assert_eq!(p.applied().await, ids(&["a1", "a2", "a3"]));
}

#[tokio::test]
async fn mysql_sql_script_wraps_data_only_revisions_in_a_transaction() {
    let Some(p) = mysql_with_t("").await else {
        return;
    };
    p.write(&Rev {
        id: "a2",
        down: &["a1"],
        header: &[],
        up: "UPDATE t SET v = UPPER(v);",
        down_sql: "UPDATE t SET v = LOWER(v);",
    });
    let script = p.ok(&["upgrade", "head", "--sql"]).stdout;
    let lines: Vec<&str> = script.lines().collect();
    let at = |needle: &str| {
        lines
            .iter()
            .position(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no {needle:?} in:\n{script}"))
    };
    // a1 (DDL) is flagged in progress around its SQL; a2 is BEGIN, SQL, its
    // row, COMMIT.
    assert!(at("VALUES ('a1'") < at("CREATE TABLE t"), "{script}");
    assert!(at("CREATE TABLE t") < at("SET in_progress = 0 WHERE version = 'a1'"));
    let begin = at("BEGIN;");
    assert!(
        begin > at("SET in_progress = 0 WHERE version = 'a1'"),
        "{script}"
    );
    assert!(begin < at("UPDATE t SET v = UPPER(v);"), "{script}");
    assert!(
        at("UPDATE t SET v = UPPER(v);") < at("VALUES ('a2'"),
        "{script}"
    );
    assert!(lines[at("VALUES ('a2'")].ends_with(", 0);"), "{script}");
    assert!(at("VALUES ('a2'") < at("COMMIT;"), "{script}");
    assert!(!script.contains("WHERE version = 'a2'"), "{script}");
    // The script runs as printed.
    p.exec(&script).await;
    assert_eq!(rows_of_t(&p).await, ids(&["1=A", "2=B"]));
    assert_eq!(p.applied().await, ids(&["a1", "a2"]));
}

// ---------------------------------------------------------------------------
// Point 4: the server's and the database's settings, not the driver's.

/// A session of the test's own with the server's global `sql_mode`, to ask
/// what the server makes of an expression by default (what the `mysql`
/// client gets).
async fn mysql_default_session(p: &Project) -> sqlx::MySqlConnection {
    let mut c = sqlx::mysql::MySqlConnectOptions::from_str(&p.db().url.with_credentials_exposed())
        .expect("mysql url")
        .pipes_as_concat(false)
        .no_engine_substitution(false)
        .timezone(None)
        .connect()
        .await
        .expect("mysql connect");
    sqlx::raw_sql("SET SESSION sql_mode = @@GLOBAL.sql_mode")
        .execute(&mut c)
        .await
        .expect("global sql_mode");
    c
}

#[tokio::test]
async fn mysql_revision_sql_runs_under_the_servers_sql_mode_time_zone_and_collation() {
    let Some(db) = TestDb::mysql().await else {
        return;
    };
    let p = Project::new(db);
    p.write(&Rev {
        id: "a1",
        down: &[],
        header: &[],
        up: "CREATE TABLE m (k VARCHAR(20) PRIMARY KEY, v VARCHAR(500));\n\
             INSERT INTO m SELECT 'sql_mode', @@SESSION.sql_mode;\n\
             INSERT INTO m SELECT 'time_zone', @@SESSION.time_zone;\n\
             INSERT INTO m SELECT 'collation', @@SESSION.collation_connection;\n\
             INSERT INTO m SELECT 'charset', @@SESSION.character_set_client;\n\
             CREATE TABLE s (v VARCHAR(20));\n\
             INSERT INTO s VALUES ('1' || '0');\n\
             CREATE TRIGGER s_upper BEFORE INSERT ON s FOR EACH ROW SET NEW.v = UPPER(NEW.v);",
        down_sql: "DROP TABLE s;\nDROP TABLE m;",
    });
    p.ok(&["upgrade", "head"]);
    let setting = |k: &str| format!("SELECT CAST(v AS CHAR) FROM m WHERE k = '{k}'");
    let global_mode = one(&p, "SELECT CAST(@@GLOBAL.sql_mode AS CHAR)").await;
    assert_eq!(one(&p, &setting("sql_mode")).await, global_mode);
    assert!(!global_mode.contains("PIPES_AS_CONCAT") || global_mode.contains("ANSI"));
    assert_eq!(
        one(&p, &setting("time_zone")).await,
        one(&p, "SELECT CAST(@@GLOBAL.time_zone AS CHAR)").await
    );
    // The character set is UTF-8 (rev sends UTF-8); its collation is the
    // server's default for it, not one the driver picked.
    assert_eq!(one(&p, &setting("charset")).await, "utf8mb4");
    assert_eq!(
        one(&p, &setting("collation")).await,
        one(
            &p,
            "SELECT CAST(COLLATION_NAME AS CHAR) FROM information_schema.COLLATIONS \
             WHERE CHARACTER_SET_NAME = 'utf8mb4' AND IS_DEFAULT = 'Yes'"
        )
        .await
    );
    // `'1' || '0'` stored what the server's default session makes of it
    // (a logical OR, `1`, unless the server itself sets PIPES_AS_CONCAT).
    let mut c = mysql_default_session(&p).await;
    let expected: String = sqlx::query_scalar("SELECT CAST('1' || '0' AS CHAR)")
        .fetch_one(&mut c)
        .await
        .expect("expression");
    c.close().await.expect("close");
    assert_eq!(one(&p, "SELECT v FROM s").await, expected);
    if !global_mode.contains("PIPES_AS_CONCAT") {
        assert_eq!(expected, "1");
    }
    // The trigger keeps the server's sql_mode for good.
    assert_eq!(
        one(
            &p,
            "SELECT CAST(SQL_MODE AS CHAR) FROM information_schema.TRIGGERS \
             WHERE TRIGGER_SCHEMA = DATABASE() AND TRIGGER_NAME = 's_upper'"
        )
        .await,
        global_mode
    );

    // `'a' || 'b'` fails under the server's strict default, as it does in
    // the `mysql` client, instead of quietly storing `ab`.
    if !global_mode.contains("PIPES_AS_CONCAT") && global_mode.contains("STRICT_TRANS_TABLES") {
        p.write(&Rev {
            id: "a2",
            down: &["a1"],
            header: &[],
            up: "INSERT INTO s VALUES ('a' || 'b');",
            down_sql: "DELETE FROM s WHERE v <> '1';",
        });
        let run = p.exits(1, &["-f", "json", "upgrade", "head"]);
        let message = run.json_error()["message"].as_str().unwrap().to_owned();
        assert!(
            message.contains("Truncated incorrect DOUBLE value"),
            "{message}"
        );
        assert_eq!(p.strings("SELECT v FROM s").await, ids(&["1"]));
    }
}

#[tokio::test]
async fn mysql_time_zone_the_url_asks_for_is_used_and_applied_at_stays_utc() {
    let Some(db) = TestDb::mysql().await else {
        return;
    };
    let p = Project::new(db);
    // A zone far from the server's, given as the URL's `timezone` option.
    let url = format!(
        "{}?timezone=%2B05:00",
        p.db().url.with_credentials_exposed()
    );
    set_url(&p, &url);
    p.write(&Rev {
        id: "a1",
        down: &[],
        header: &[],
        up: "CREATE TABLE z (tz VARCHAR(20));\nINSERT INTO z SELECT @@SESSION.time_zone;",
        down_sql: "DROP TABLE z;",
    });
    let before = db_now_utc(&p).await;
    p.ok(&["upgrade", "head"]);
    let after = db_now_utc(&p).await;
    assert_eq!(one(&p, "SELECT tz FROM z").await, "+05:00");
    assert_applied_between(&p, &before, &after).await;
    assert_eq!(str_array(&p.json(&["current"])), ids(&["a1"]));
}

#[tokio::test]
async fn postgres_revision_sql_runs_under_the_databases_time_zone_and_date_style() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let p = Project::new(db);
    let name = db_name(&p);
    admin_exec(
        BackendKind::Postgres,
        &format!(
            "ALTER DATABASE \"{name}\" SET TimeZone = 'Europe/Paris';\n\
             ALTER DATABASE \"{name}\" SET DateStyle = 'SQL, DMY';"
        ),
    )
    .await;
    p.write(&Rev {
        id: "a1",
        down: &[],
        header: &[],
        up: "CREATE TABLE tz AS SELECT current_setting('TimeZone') AS tz, \
               current_setting('DateStyle') AS ds, \
               current_setting('extra_float_digits') AS efd, \
               current_setting('application_name') AS app;\n\
             CREATE TABLE d (day DATE);\n\
             INSERT INTO d VALUES ('01/02/2024');",
        down_sql: "DROP TABLE d;\nDROP TABLE tz;",
    });
    let before = db_now_utc(&p).await;
    p.ok(&["upgrade", "head"]);
    let after = db_now_utc(&p).await;
    assert_eq!(one(&p, "SELECT tz FROM tz").await, "Europe/Paris");
    assert_eq!(one(&p, "SELECT ds FROM tz").await, "SQL, DMY");
    // sqlx's `extra_float_digits = 2` is not sent: the server's default holds.
    assert_eq!(
        one(&p, "SELECT efd FROM tz").await,
        one(
            &p,
            "SELECT boot_val FROM pg_settings WHERE name = 'extra_float_digits'"
        )
        .await
    );
    assert_eq!(one(&p, "SELECT app FROM tz").await, "rev");
    // Day first, as the database says: 1 February, not 2 January.
    assert_eq!(
        one(&p, "SELECT to_char(day, 'YYYY-MM-DD') FROM d").await,
        "2024-02-01"
    );
    // rev's own timestamps do not move with the session's zone.
    assert_applied_between(&p, &before, &after).await;
    let status = p.json(&["status"]);
    assert_eq!(str_array(&status["current"]), ids(&["a1"]));
}

#[tokio::test]
async fn postgres_without_database_settings_the_servers_configured_zone_applies() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let p = Project::new(db);
    p.write(&Rev {
        id: "a1",
        down: &[],
        header: &[],
        up: "CREATE TABLE tz AS SELECT current_setting('TimeZone') AS tz;",
        down_sql: "DROP TABLE tz;",
    });
    p.ok(&["upgrade", "head"]);
    // What postgresql.conf (or ALTER SYSTEM) says, else the built-in
    // default: what `psql` shows here, and not sqlx's `UTC` unless the
    // server is configured so (the test server's file says `Etc/UTC`).
    let configured = p
        .strings(
            "SELECT setting FROM pg_file_settings WHERE lower(name) = 'timezone' AND applied \
             UNION ALL SELECT boot_val FROM pg_settings WHERE name = 'TimeZone' \
               AND NOT EXISTS (SELECT 1 FROM pg_file_settings \
                               WHERE lower(name) = 'timezone' AND applied)",
        )
        .await;
    assert_eq!(configured.len(), 1, "{configured:?}");
    assert_eq!(one(&p, "SELECT tz FROM tz").await, configured[0]);
}

// ---------------------------------------------------------------------------
// Point 10: passwords from `${VAR}`, and MySQL URLs without a database.

#[tokio::test]
async fn postgres_password_from_a_variable_and_the_roles_own_settings() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let login = Login::create(BackendKind::Postgres).await;
    let p = Project::new(db);
    let name = db_name(&p);
    let role = &login.name;
    // Role-in-database settings outrank database ones, as at any login.
    p.exec(&format!("GRANT CREATE ON SCHEMA public TO {role}"))
        .await;
    admin_exec(
        BackendKind::Postgres,
        &format!(
            "ALTER DATABASE \"{name}\" SET TimeZone = 'Europe/Paris';\n\
             ALTER ROLE {role} IN DATABASE \"{name}\" SET TimeZone = 'Asia/Tokyo';"
        ),
    )
    .await;
    set_url(&p, &url_with(&p, &format!("{role}:${{REV_TEST_PW}}")));
    // The library reads the same config: the password arrives whole.
    let config = rev::config::Config::parse(
        &std::fs::read_to_string(p.path("config.yaml")).expect("config.yaml"),
        &p.path("config.yaml"),
        &p.path(""),
        &|v| (v == "REV_TEST_PW").then(|| PASSWORD.to_owned()),
    )
    .expect("config parses");
    let parsed = DatabaseUrl::parse(config.database_url.as_deref().expect("a URL"), &p.path(""))
        .expect("URL parses");
    let exposed = url::Url::parse(&parsed.with_credentials_exposed()).expect("url");
    let password = percent_encoding::percent_decode_str(exposed.password().expect("password"))
        .decode_utf8()
        .expect("utf-8");
    assert_eq!(password, PASSWORD);
    assert_eq!(exposed.username(), role.as_str());
    assert_eq!(exposed.path(), format!("/{name}"));
    assert!(!parsed.to_string().contains("p%40"), "{parsed}");

    p.write(&Rev {
        id: "a1",
        down: &[],
        header: &[],
        up: "CREATE TABLE who AS SELECT session_user::text AS u, current_setting('TimeZone') AS tz;",
        down_sql: "DROP TABLE who;",
    });
    let env = [("REV_TEST_PW", PASSWORD)];
    let run = rev_env(&p, &env, &["-v", "upgrade", "head"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert_no_password(&run);
    assert_eq!(one(&p, "SELECT u FROM who").await, *role);
    assert_eq!(one(&p, "SELECT tz FROM who").await, "Asia/Tokyo");
    let run = rev_env(&p, &env, &["-f", "json", "current"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let current: serde_json::Value = serde_json::from_str(&run.stdout).expect("JSON");
    assert_eq!(str_array(&current), ids(&["a1"]));

    // A failure names the URL with the password masked.
    set_url(
        &p,
        &format!("postgres://{role}:${{REV_TEST_PW}}@127.0.0.1:1/{name}"),
    );
    let run = rev_env(&p, &env, &["-f", "json", "current"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_no_password(&run);
    let message = run.json_error()["message"].as_str().unwrap().to_owned();
    assert!(
        message.contains(&format!("postgres://{role}:****@127.0.0.1:1/{name}")),
        "{message}"
    );
}

#[tokio::test]
async fn mysql_password_from_a_variable_is_checked_by_the_server() {
    let Some(db) = TestDb::mysql().await else {
        return;
    };
    let login = Login::create(BackendKind::MySql).await;
    let p = Project::new(db);
    let name = db_name(&p);
    let user = &login.name;
    admin_exec(
        BackendKind::MySql,
        &format!("GRANT ALL ON `{name}`.* TO '{user}'@'%'"),
    )
    .await;
    set_url(&p, &url_with(&p, &format!("{user}:${{REV_TEST_PW}}")));
    p.write(&Rev {
        id: "a1",
        down: &[],
        header: &[],
        up: "CREATE TABLE who (u VARCHAR(200));\nINSERT INTO who SELECT CURRENT_USER();",
        down_sql: "DROP TABLE who;",
    });
    let run = rev_env(&p, &[("REV_TEST_PW", PASSWORD)], &["-v", "upgrade", "head"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert_no_password(&run);
    assert_eq!(one(&p, "SELECT u FROM who").await, format!("{user}@%"));
    assert_eq!(p.applied().await, ids(&["a1"]));

    // The server does check it: another password is refused, and the
    // message masks it.
    let wrong = "wr@ng:pw/#?";
    let run = rev_env(&p, &[("REV_TEST_PW", wrong)], &["-f", "json", "current"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let error = run.json_error();
    assert_eq!(error["kind"], "connect", "{error}");
    let message = error["message"].as_str().unwrap();
    assert!(
        message.contains(&format!("mysql://{user}:****@")),
        "{message}"
    );
    assert!(message.contains("Access denied"), "{message}");
    for text in [&run.stdout, &run.stderr] {
        assert!(!text.contains(wrong) && !text.contains("wr%40ng"), "{text}");
    }
}

#[tokio::test]
async fn mysql_url_without_a_database_is_a_usage_error_before_connecting() {
    let Some(db) = TestDb::mysql().await else {
        return;
    };
    let p = Project::new(db);
    p.write(&Rev {
        id: "a1",
        down: &[],
        header: &[],
        up: "CREATE TABLE t (id INT);",
        down_sql: "DROP TABLE t;",
    });
    let host = p.db().url.host().unwrap().to_owned();
    let port = p.db().url.port().unwrap();
    for (url, shown) in [
        (
            format!("mysql://root@{host}:{port}"),
            format!("mysql://root@{host}:{port}"),
        ),
        (
            format!("mysql://root:${{REV_TEST_PW}}@{host}:{port}/"),
            format!("mysql://root:****@{host}:{port}/"),
        ),
    ] {
        set_url(&p, &url);
        for args in [["current"].as_slice(), ["upgrade", "head"].as_slice()] {
            let mut all = vec!["-f", "json"];
            all.extend_from_slice(args);
            let run = rev_env(&p, &[("REV_TEST_PW", PASSWORD)], &all);
            assert_eq!(run.code, 2, "{args:?} {url}: {}", run.stderr);
            assert_no_password(&run);
            assert_eq!(run.stdout, "", "{args:?}");
            let error = run.json_error();
            assert_eq!(error["kind"], "invalid_url", "{error}");
            let message = error["message"].as_str().unwrap();
            assert!(message.contains(&shown), "{message}");
            assert!(
                message.contains(&format!("{host}:{port}/DBNAME")),
                "{message}"
            );
        }
    }
    // Nothing ran anywhere: the project's database is still empty.
    assert_eq!(p.tables().await, Vec::<String>::new());
}
