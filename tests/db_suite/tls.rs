//! TLS URLs against the real servers: `sslmode` on PostgreSQL (the local
//! server has TLS on with a self-signed certificate) and `ssl-mode` on
//! MySQL/MariaDB.
//!
//! Each test checks what the database saw, not only the exit code: a
//! revision stores whether its own session was encrypted (`pg_stat_ssl`,
//! `Ssl_cipher`), and the test reads that row back.
//!
//! rev trusts the system's root certificates plus `sslrootcert`. So that a
//! verification result depends on `sslrootcert` alone, `rev` runs here with
//! `SSL_CERT_FILE` and `SSL_CERT_DIR` pointing at a store that holds only a CA
//! of the test's own (Debian, for one, lists its snakeoil certificate among
//! the system roots).
//!
//! The server certificate is asked from the server (`SHOW ssl_cert_file`)
//! and read from disk; where that is impossible the test fails, unless
//! `REV_TEST_SKIP_SERVERS=1` skips it by name (tests/kit).

use std::net::{IpAddr, TcpStream, ToSocketAddrs};
use std::path::PathBuf;
use std::time::Duration;

use sqlx::Connection as _;

use crate::kit::{report_skip, unavailable};
use crate::kit::{Project, Rev, Run};

/// Fails, or skips by name where [`unavailable`] allows: the test stops
/// here.
fn cannot_test(why: &str) {
    unavailable("a TLS test setup", why);
}

/// A revision that records whether its own session is encrypted, as
/// `label=true|false` in `conn_tls`. The first one creates the table.
fn pg_recording_rev(p: &Project, id: &str, down: &[&str], label: &str) {
    let create = if down.is_empty() {
        "CREATE TABLE conn_tls (label TEXT PRIMARY KEY, encrypted BOOLEAN NOT NULL);\n"
    } else {
        ""
    };
    p.write(&Rev {
        id,
        down,
        header: &[],
        up: &format!(
            "{create}INSERT INTO conn_tls (label, encrypted)\n  \
             SELECT '{label}', ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid();"
        ),
        down_sql: &format!("DELETE FROM conn_tls WHERE label = '{label}';"),
    });
}

/// Points config.yaml at `url` (password and all), with `connect_retries`.
fn use_url(p: &Project, url: &url::Url, retries: u32) {
    let text = format!(
        "database_url: '{url}'\nscript_location: versions\n\
         lock_timeout_seconds: 10\nconnect_retries: {retries}\n"
    );
    std::fs::write(p.path("config.yaml"), text).expect("write config.yaml");
}

/// The test database's URL with `host` (when given) and `query` set.
fn url_with(p: &Project, host: Option<&str>, query: &str) -> url::Url {
    let mut url = url::Url::parse(&p.db().url.with_credentials_exposed()).expect("test URL");
    if let Some(host) = host {
        url.set_host(Some(host)).expect("host");
    }
    url.set_query(Some(query));
    url
}

/// Runs `rev -c <project>/config.yaml ARGS` from another folder, so a
/// relative `sslrootcert` can only be found through the config's folder, and
/// with a system root store that holds `roots` alone.
fn rev_with_roots(p: &Project, roots: &TrustStore, args: &[&str]) -> Run {
    let config = p.path("config.yaml");
    let mut all = vec!["-c", config.to_str().expect("utf-8 temp path")];
    all.extend_from_slice(args);
    let out = assert_cmd::Command::cargo_bin("rev")
        .expect("the rev binary is built")
        .current_dir(&roots.dir)
        .env_remove("DATABASE_URL")
        .env("NO_COLOR", "1")
        .env("SSL_CERT_FILE", &roots.file)
        .env("SSL_CERT_DIR", roots.dir.join("empty"))
        .args(&all)
        .output()
        .expect("run rev");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn ok(run: &Run, what: &str) {
    assert_eq!(
        run.code, 0,
        "{what} failed:\nstdout:\n{}\nstderr:\n{}",
        run.stdout, run.stderr
    );
}

/// A stand-in for the system's root certificates: one CA made by the test,
/// which signed nothing the servers present.
struct TrustStore {
    dir: PathBuf,
    file: PathBuf,
    _tmp: tempfile::TempDir,
}

impl TrustStore {
    fn new() -> TrustStore {
        let tmp = tempfile::tempdir().expect("temp dir");
        let dir = tmp.path().to_path_buf();
        std::fs::create_dir(dir.join("empty")).expect("empty cert dir");
        let file = dir.join("unrelated-ca.pem");
        std::fs::write(&file, make_ca("rev test unrelated CA")).expect("write CA");
        TrustStore {
            dir,
            file,
            _tmp: tmp,
        }
    }
}

/// A fresh self-signed CA certificate, PEM.
fn make_ca(name: &str) -> String {
    let key = rcgen::KeyPair::generate().expect("key");
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, name);
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params.self_signed(&key).expect("self-signed CA").pem()
}

/// The PostgreSQL server's certificate, as the server names it.
struct ServerCert {
    pem: String,
    /// The DNS names it lists (rustls checks names against these only).
    dns_names: Vec<String>,
    /// The IP addresses it lists.
    ips: Vec<IpAddr>,
}

/// Asks the server whether TLS is on and where its certificate is, and reads
/// it. `None` (after [`cannot_test`]) when that is impossible.
async fn server_cert(p: &Project) -> Option<ServerCert> {
    let ssl = p.strings("SHOW ssl").await;
    if ssl != ["on"] {
        cannot_test(&format!("the PostgreSQL server has ssl = {ssl:?}, not on"));
        return None;
    }
    let path = p.strings("SHOW ssl_cert_file").await.remove(0);
    let pem = match std::fs::read_to_string(&path) {
        Ok(pem) => pem,
        Err(e) => {
            cannot_test(&format!("cannot read the server certificate {path}: {e}"));
            return None;
        }
    };
    let (_, parsed) = x509_parser::pem::parse_x509_pem(pem.as_bytes()).expect("server cert PEM");
    let cert = parsed.parse_x509().expect("server cert X.509");
    let mut dns_names = Vec::new();
    let mut ips = Vec::new();
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for name in &san.value.general_names {
            match name {
                x509_parser::extensions::GeneralName::DNSName(n) => dns_names.push((*n).to_owned()),
                x509_parser::extensions::GeneralName::IPAddress(b) => {
                    if let Ok(a) = <[u8; 4]>::try_from(*b) {
                        ips.push(IpAddr::from(a));
                    } else if let Ok(a) = <[u8; 16]>::try_from(*b) {
                        ips.push(IpAddr::from(a));
                    }
                }
                _ => {}
            }
        }
    }
    Some(ServerCert {
        pem,
        dns_names,
        ips,
    })
}

/// A name the certificate lists under which the server answers, for the
/// modes that check the name.
fn reachable_name(cert: &ServerCert, port: u16) -> Option<String> {
    let found = cert.dns_names.iter().find(|name| {
        (name.as_str(), port)
            .to_socket_addrs()
            .is_ok_and(|mut addrs| {
                addrs.any(|a| TcpStream::connect_timeout(&a, Duration::from_secs(2)).is_ok())
            })
    });
    if found.is_none() {
        cannot_test(&format!(
            "no name the server certificate lists ({:?}) reaches the server on port {port}",
            cert.dns_names
        ));
    }
    found.cloned()
}

fn write_cert(p: &Project, rel: &str, pem: &str) {
    let path = p.path(rel);
    std::fs::create_dir_all(path.parent().expect("has a folder")).expect("certs/");
    std::fs::write(path, pem).expect("write certificate");
}

/// The checks every failed TLS connection must pass: exit 1, JSON kind
/// `connect`, one attempt although retries are configured, a message about
/// TLS and certificates, never "check that the server is running", and the
/// database untouched.
async fn assert_tls_refusal(p: &Project, run: &Run, expect: &[&str]) {
    assert_eq!(
        run.code, 1,
        "stdout:\n{}\nstderr:\n{}",
        run.stdout, run.stderr
    );
    let error = run.json_error();
    assert_eq!(error["kind"], "connect", "{error}");
    let message = error["message"].as_str().expect("message");
    assert!(message.contains("after 1 attempt in"), "{message}");
    for text in expect {
        assert!(message.contains(text), "{text:?} not in {message}");
    }
    assert!(!message.contains("is running"), "{message}");
    assert!(
        p.tables().await.is_empty(),
        "a refused connection created tables"
    );
}

/// `sslmode=require` encrypts the migration session (the revision itself
/// sees `pg_stat_ssl.ssl`), while `sslmode=disable` does not: so the check
/// can tell the two apart.
#[tokio::test]
async fn postgres_require_encrypts_the_migration_session() {
    let Some(p) = Project::postgres().await else {
        return;
    };
    pg_recording_rev(&p, "a1", &[], "require");
    pg_recording_rev(&p, "a2", &["a1"], "disable");
    use_url(&p, &url_with(&p, None, "sslmode=require"), 0);
    p.ok(&["upgrade", "a1"]);
    use_url(&p, &url_with(&p, None, "sslmode=disable"), 0);
    p.ok(&["upgrade", "a2"]);
    assert_eq!(
        p.strings("SELECT label || '=' || encrypted::text FROM conn_tls")
            .await,
        ["disable=false", "require=true"]
    );
    assert_eq!(p.applied().await, ["a1", "a2"]);
}

/// With the server's own certificate as `sslrootcert` (a path relative to
/// the config folder) and nothing else trusted, `verify-full` connects by a
/// name the certificate lists, and `verify-ca` by 127.0.0.1, which it need
/// not list: `verify-ca` checks who signed the certificate, not the name.
#[tokio::test]
async fn postgres_verify_modes_trust_the_given_root() {
    let Some(p) = Project::postgres().await else {
        return;
    };
    let Some(cert) = server_cert(&p).await else {
        return;
    };
    let port = p.db().url.port().expect("server port");
    let Some(name) = reachable_name(&cert, port) else {
        return;
    };
    write_cert(&p, "certs/server.pem", &cert.pem);
    let roots = TrustStore::new();
    pg_recording_rev(&p, "a1", &[], "verify-ca");
    pg_recording_rev(&p, "a2", &["a1"], "verify-full");
    for (mode, host, target) in [
        ("verify-ca", "127.0.0.1", "a1"),
        ("verify-full", name.as_str(), "a2"),
    ] {
        let url = url_with(
            &p,
            Some(host),
            &format!("sslmode={mode}&sslrootcert=certs/server.pem"),
        );
        use_url(&p, &url, 0);
        ok(
            &rev_with_roots(&p, &roots, &["upgrade", target]),
            &format!("upgrade {target} with {mode} by {host}"),
        );
    }
    assert_eq!(
        p.strings("SELECT label || '=' || encrypted::text FROM conn_tls")
            .await,
        ["verify-ca=true", "verify-full=true"]
    );
    assert_eq!(p.applied().await, ["a1", "a2"]);
}

/// A root that did not sign the server's certificate: refused at once with
/// the certificate advice, although three retries are configured.
#[tokio::test]
async fn postgres_wrong_root_is_refused_once_with_certificate_advice() {
    let Some(p) = Project::postgres().await else {
        return;
    };
    if server_cert(&p).await.is_none() {
        return;
    }
    write_cert(&p, "certs/other-ca.pem", &make_ca("rev test wrong CA"));
    let roots = TrustStore::new();
    pg_recording_rev(&p, "a1", &[], "never");
    for mode in ["verify-ca", "verify-full"] {
        let url = url_with(
            &p,
            None,
            &format!("sslmode={mode}&sslrootcert=certs/other-ca.pem"),
        );
        use_url(&p, &url, 3);
        let run = rev_with_roots(&p, &roots, &["-f", "json", "upgrade", "head"]);
        assert_tls_refusal(
            &p,
            &run,
            &[
                "TLS handshake failed",
                "UnknownIssuer",
                "not signed by a CA rev trusts",
                "sslrootcert=PATH",
            ],
        )
        .await;
        // The text form says the same to a person.
        let text = rev_with_roots(&p, &roots, &["upgrade", "head"]);
        assert_eq!(text.code, 1, "{}", text.stderr);
        assert!(text.stderr.contains("UnknownIssuer"), "{}", text.stderr);
        assert!(!text.stderr.contains("is running"), "{}", text.stderr);
    }
}

/// By an address the certificate does not list, `verify-full` fails on the
/// name, with a message that says which names it does list, and leaves the
/// database untouched; `verify-ca` with the same root and address connects
/// encrypted and migrates, since it does not check the name (issue 7).
#[tokio::test]
async fn postgres_name_mismatch_fails_verify_full_but_not_verify_ca() {
    let Some(p) = Project::postgres().await else {
        return;
    };
    let Some(cert) = server_cert(&p).await else {
        return;
    };
    let address = "127.0.0.1";
    if cert.ips.contains(&address.parse().expect("IP")) {
        cannot_test("the server certificate lists 127.0.0.1, so no name mismatch can be shown");
        return;
    }
    write_cert(&p, "certs/server.pem", &cert.pem);
    let roots = TrustStore::new();
    pg_recording_rev(&p, "a1", &[], "verify-ca");
    let url_for = |mode: &str| {
        url_with(
            &p,
            Some(address),
            &format!("sslmode={mode}&sslrootcert=certs/server.pem"),
        )
    };
    use_url(&p, &url_for("verify-full"), 3);
    let run = rev_with_roots(&p, &roots, &["-f", "json", "upgrade", "head"]);
    assert_tls_refusal(
        &p,
        &run,
        &[
            "certificate not valid for name \"127.0.0.1\"",
            "does not list the host of the URL",
            "sslmode=verify-ca",
        ],
    )
    .await;
    use_url(&p, &url_for("verify-ca"), 0);
    ok(
        &rev_with_roots(&p, &roots, &["upgrade", "head"]),
        "upgrade with verify-ca by 127.0.0.1",
    );
    assert_eq!(
        p.strings("SELECT label || '=' || encrypted::text FROM conn_tls")
            .await,
        ["verify-ca=true"]
    );
    assert_eq!(p.applied().await, ["a1"]);
}

/// A root certificate file that does not exist is named, resolved against
/// the config folder, before any connection is tried.
#[tokio::test]
async fn postgres_missing_root_file_is_named() {
    let Some(p) = Project::postgres().await else {
        return;
    };
    pg_recording_rev(&p, "a1", &[], "never");
    let url = url_with(&p, None, "sslmode=verify-ca&sslrootcert=certs/missing.pem");
    use_url(&p, &url, 3);
    let run = rev_with_roots(&p, &TrustStore::new(), &["-f", "json", "upgrade", "head"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let error = run.json_error();
    assert_eq!(error["kind"], "cert_file", "{error}");
    let message = error["message"].as_str().expect("message");
    let expected = p.path("certs/missing.pem");
    assert!(
        message.contains(&format!("`{}`", expected.display())),
        "{message}"
    );
    assert!(message.contains("the `sslrootcert` of"), "{message}");
    assert!(p.tables().await.is_empty());
}

/// The session's TLS cipher as a revision sees it, stored in `conn_tls`
/// (empty when not encrypted). MariaDB has the status in
/// information_schema, MySQL 8 in performance_schema.
fn mysql_recording_rev(p: &Project, id: &str, down: &[&str], label: &str, mariadb: bool) {
    let create = if down.is_empty() {
        "CREATE TABLE conn_tls (label VARCHAR(20) PRIMARY KEY, cipher VARCHAR(200) NOT NULL);\n"
    } else {
        ""
    };
    let status = if mariadb {
        "information_schema.SESSION_STATUS"
    } else {
        "performance_schema.session_status"
    };
    p.write(&Rev {
        id,
        down,
        header: &[],
        up: &format!(
            "{create}INSERT INTO conn_tls (label, cipher)\n  \
             SELECT '{label}', VARIABLE_VALUE FROM {status} WHERE VARIABLE_NAME = 'Ssl_cipher';"
        ),
        down_sql: &format!("DELETE FROM conn_tls WHERE label = '{label}';"),
    });
}

/// `ssl-mode=DISABLED` and `PREFERRED` connect whatever the server offers;
/// `REQUIRED` connects encrypted where the server has TLS, and is refused at
/// once with advice about the server's TLS where it has none (the local
/// MariaDB: `have_ssl` is DISABLED and `ssl_cert` cannot be set at run time,
/// so the encrypted half is skipped with the reason printed).
#[tokio::test]
async fn mysql_ssl_modes() {
    let Some(p) = Project::mysql().await else {
        return;
    };
    let version = p.strings("SELECT VERSION()").await.remove(0);
    let mariadb = version.contains("MariaDB");
    let have_ssl = p.strings("SELECT CAST(@@have_ssl AS CHAR)").await.remove(0);
    mysql_recording_rev(&p, "a1", &[], "disabled", mariadb);
    mysql_recording_rev(&p, "a2", &["a1"], "preferred", mariadb);
    mysql_recording_rev(&p, "a3", &["a2"], "required", mariadb);
    use_url(&p, &url_with(&p, None, "ssl-mode=DISABLED"), 0);
    p.ok(&["upgrade", "a1"]);
    use_url(&p, &url_with(&p, None, "ssl-mode=PREFERRED"), 0);
    p.ok(&["upgrade", "a2"]);
    let encrypted = |rows: &[String], label: &str| {
        let row = rows
            .iter()
            .find_map(|r| r.strip_prefix(&format!("{label}=")))
            .unwrap_or_else(|| panic!("no {label} row in {rows:?}"));
        !row.is_empty()
    };
    let rows = p
        .strings("SELECT CONCAT(label, '=', cipher) FROM conn_tls")
        .await;
    assert!(!encrypted(&rows, "disabled"), "{rows:?}");
    assert_eq!(encrypted(&rows, "preferred"), have_ssl == "YES", "{rows:?}");

    use_url(&p, &url_with(&p, None, "ssl-mode=REQUIRED"), 3);
    if have_ssl == "YES" {
        p.ok(&["upgrade", "a3"]);
        let rows = p
            .strings("SELECT CONCAT(label, '=', cipher) FROM conn_tls")
            .await;
        assert!(encrypted(&rows, "required"), "{rows:?}");
        assert_eq!(p.applied().await, ["a1", "a2", "a3"]);
        return;
    }
    let run = p.run(&["-f", "json", "upgrade", "a3"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let error = run.json_error();
    assert_eq!(error["kind"], "connect", "{error}");
    let message = error["message"].as_str().expect("message");
    for text in [
        "after 1 attempt in",
        "requires TLS and the server does not offer it",
        "`ssl-mode`",
    ] {
        assert!(message.contains(text), "{text:?} not in {message}");
    }
    assert!(!message.contains("is running"), "{message}");
    assert_eq!(p.applied().await, ["a1", "a2"]);
    // Can TLS be switched on at run time? Assigning the current value back
    // changes nothing where it is allowed.
    let dynamic = async {
        let mut c = sqlx::MySqlConnection::connect(&p.db().url.with_credentials_exposed()).await?;
        sqlx::raw_sql("SET GLOBAL ssl_cert = @@ssl_cert")
            .execute(&mut c)
            .await
            .map(drop)
    }
    .await;
    report_skip(&format!(
        "the encrypted MySQL/MariaDB half of mysql_ssl_modes: \
         the server ({version}) has have_ssl={have_ssl}{}",
        match dynamic {
            Err(e) => format!(" and its certificate cannot be set at run time ({e})"),
            Ok(()) => ", and enabling TLS at run time is not attempted".to_owned(),
        }
    ));
}
