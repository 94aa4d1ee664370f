//! Benchmarks of one large revision: 10,000, 30,000 and 60,000 INSERT
//! statements (~125 bytes each, as `scripts/bench-statements.sh` makes
//! them). Each step must grow linearly with the size: parsing the revision
//! file (sections, checksum), splitting its SQL into statements (done for
//! every script on PostgreSQL and MySQL, to name a failing statement), and
//! applying it to an in-memory SQLite database through the same
//! `Connection::apply` a run uses. Against servers, and against each
//! database's own client, see `scripts/bench-statements.sh`.
//!
//! Run with `cargo bench --bench statements`; filter with e.g.
//! `cargo bench --bench statements -- apply_sqlite_memory`.

use std::fmt::Write as _;
use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use rev::backend::{split, ConnectOptions, Connection, ExecStep, TableName};
use rev::step::Direction;
use rev::url::{BackendKind, DatabaseUrl};

const SIZES: [usize; 3] = [10_000, 30_000, 60_000];

/// `n` INSERTs into `customers`, with text holding quotes and `;`.
fn inserts(n: usize) -> String {
    let mut sql = String::new();
    for i in 1..=n {
        let _ = writeln!(
            sql,
            "INSERT INTO customers VALUES ({i}, 'Customer {i}', 'customer{i}@example.com', \
             'Lyon', 'It''s account {i}; batch {}', {}.{:02});",
            i / 1000,
            i * 7 % 100_000,
            i % 100
        );
    }
    sql
}

fn revision_file(n: usize) -> String {
    format!(
        "-- revision: a00000000002\n-- down_revision: a00000000001\n-- message: load\n\n\
         -- +upgrade\n{}\n-- +downgrade\nDELETE FROM customers;\n",
        inserts(n)
    )
}

fn group<'a>(
    c: &'a mut Criterion,
    name: &str,
) -> criterion::BenchmarkGroup<'a, criterion::measurement::WallTime> {
    let mut group = c.benchmark_group(name);
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(4));
    group
}

fn parse_revision(c: &mut Criterion) {
    let mut group = group(c, "parse_revision");
    for n in SIZES {
        let text = revision_file(n);
        group.throughput(Throughput::Bytes(text.len() as u64));
        group.bench_with_input(BenchmarkId::from_parameter(n), &text, |b, text| {
            b.iter(|| rev::revision::parse(black_box(text), Path::new("load.sql")).expect("parses"))
        });
    }
    group.finish();
}

fn split_statements(c: &mut Criterion) {
    let mut group = group(c, "split_statements");
    for n in SIZES {
        let sql = inserts(n);
        group.throughput(Throughput::Bytes(sql.len() as u64));
        group.bench_with_input(BenchmarkId::from_parameter(n), &sql, |b, sql| {
            b.iter(|| {
                let st = split::split_statements(black_box(sql), BackendKind::Postgres);
                assert_eq!(st.len(), n);
            })
        });
    }
    group.finish();
}

fn apply_sqlite_memory(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let url = DatabaseUrl::parse("sqlite::memory:", Path::new(".")).expect("url");
    let table = TableName::new("schema_migrations").expect("name");
    let mut group = group(c, "apply_sqlite_memory");
    for n in SIZES {
        let step = ExecStep {
            revision: "a00000000002".into(),
            direction: Direction::Upgrade,
            sql: format!(
                "CREATE TABLE customers (id INTEGER PRIMARY KEY, name VARCHAR(100) NOT NULL, \
                 email VARCHAR(200) NOT NULL, city VARCHAR(100) NOT NULL, note TEXT, \
                 balance DECIMAL(12, 2) NOT NULL);\n{}",
                inserts(n)
            ),
            checksum: "bench".into(),
            transactional: true,
            down_revisions: vec![],
        };
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(BenchmarkId::from_parameter(n), &step, |b, step| {
            b.iter(|| {
                runtime.block_on(async {
                    // A fresh in-memory database per iteration.
                    let mut conn =
                        Connection::connect(&url, table.clone(), &ConnectOptions::default())
                            .await
                            .expect("connect");
                    conn.ensure_table().await.expect("table");
                    conn.apply(step).await.expect("apply");
                    conn.close().await.expect("close");
                })
            })
        });
    }
    group.finish();
}

criterion_group!(
    benches,
    parse_revision,
    split_statements,
    apply_sqlite_memory
);
criterion_main!(benches);
