use super::*;

/// These strings are part of the JSON error output: changing one breaks scripts.
#[test]
fn error_kinds_are_stable() {
    let s = String::new;
    let kinds: Vec<&str> = [
        BackendError::Connect {
            url: s(),
            kind: BackendKind::Postgres,
            server: s(),
            attempts: 1,
            elapsed: Duration::ZERO,
            cause: ConnectFailure::Other,
            message: s(),
        },
        BackendError::CertFile {
            url: s(),
            param: s(),
            path: std::path::PathBuf::new(),
            source: std::io::Error::other("x").into(),
        },
        BackendError::Interrupted { during: "x" },
        BackendError::LockTimeout {
            url: s(),
            waited: Duration::ZERO,
            holder: None,
        },
        BackendError::Lock {
            url: s(),
            message: s(),
        },
        BackendError::Unlock {
            url: s(),
            message: s(),
        },
        BackendError::LeaseLost {
            url: s(),
            message: s(),
        },
        BackendError::PoolerNotPinned {
            url: s(),
            evidence: s(),
        },
        BackendError::ForeignVersionTable {
            table: s(),
            missing: vec![],
        },
        BackendError::InvalidTableName {
            name: s(),
            reason: "",
        },
        BackendError::MigrationFailed {
            revision: s(),
            direction: Direction::Upgrade,
            statement_index: None,
            statement: s(),
            message: s(),
            rolled_back: true,
        },
        BackendError::ForeignKeyViolation(Box::new(ForeignKeyViolation {
            revision: s(),
            direction: Direction::Upgrade,
            table: s(),
            first_rowid: None,
            rows: 1,
            parent: s(),
            parent_exists: true,
            reference: s(),
            rolled_back: true,
        })),
        BackendError::InProgress {
            revision: s(),
            table: s(),
            others: vec![],
        },
        BackendError::NotRecorded {
            revision: s(),
            table: s(),
        },
        BackendError::Database {
            operation: "x",
            message: s(),
        },
    ]
    .iter()
    .map(BackendError::kind)
    .collect();
    assert_eq!(
        kinds,
        [
            "connect",
            "cert_file",
            "interrupted",
            "lock_timeout",
            "lock",
            "unlock",
            "lease_lost",
            "pooler_not_pinned",
            "foreign_version_table",
            "invalid_table_name",
            "migration_failed",
            "foreign_key_violation",
            "in_progress",
            "not_recorded",
            "database"
        ]
    );
}

#[test]
fn lock_timeout_message_names_the_holder_or_says_it_is_unknown() {
    let known = BackendError::LockTimeout {
        url: "postgres://u:****@h/db".into(),
        waited: Duration::from_millis(1500),
        holder: Some("backend pid 7".into()),
    };
    assert_eq!(
        known.to_string(),
        "timed out after 1.5s waiting for the migration lock on postgres://u:****@h/db; it is held by backend pid 7"
    );
    let unknown = BackendError::LockTimeout {
        url: "x".into(),
        waited: Duration::ZERO,
        holder: None,
    };
    assert!(unknown.to_string().contains("does not say which"));
}

#[test]
fn tls_hints_talk_about_certificates_never_about_a_server_that_is_down() {
    for kind in [BackendKind::Postgres, BackendKind::MySql] {
        for why in [
            TlsFailure::NotOffered,
            TlsFailure::Untrusted,
            TlsFailure::NameMismatch,
            TlsFailure::Other,
        ] {
            let hint = connect_hint(kind, ConnectFailure::Tls(why));
            assert!(!hint.contains("is running"), "{hint}");
            let option = if kind == BackendKind::Postgres {
                "sslmode"
            } else {
                "ssl-mode"
            };
            assert!(hint.contains(option), "{kind}: {hint}");
        }
    }
}
