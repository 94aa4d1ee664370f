#!/usr/bin/env python3
"""rev beside Alembic, on the same histories, timed as whole processes.

    python3 bench/compare-alembic/run.py            # 100 and 1,000 revisions
    python3 bench/compare-alembic/run.py --large    # and 5,000 (slow: Alembic)

What it does, in order:

1. makes a virtualenv OUTSIDE the repository
   (`${XDG_CACHE_HOME:-~/.cache}/rev-compare-alembic/venv`) and installs
   Alembic and SQLAlchemy from PyPI into it with pip;
2. builds rev with `cargo build --release` (or takes `--rev PATH`);
3. writes, in a scratch folder it deletes at the end, the same histories in
   rev's format and as Alembic projects: a chain; labelled branches with
   merges, ending in one merge; many heads. Every revision changes the schema
   (creates a small table, or adds a column to the table its parent created),
   so an upgrade does real DDL. The Alembic revisions are written as
   `alembic revision --autogenerate` writes them (`op.create_table`,
   `op.add_column`, ...); the rev files hold the SQL Alembic emits for them,
   so both tools leave the same schema;
4. times both tools, each command a whole process, `--repeat` runs each,
   median: `heads`, `history`, `upgrade head --sql`, `upgrade head` on a
   fresh SQLite file with a transaction per revision (rev's default) and with
   one transaction for the run (`transaction_per_migration: false`), and
   `downgrade base`. The target is `heads` for the many-heads histories
   (`head` fails in both tools when there are several);
5. checks both did the same thing: the same heads, the same tables and
   columns in the SQLite file after each upgrade, none after the downgrade,
   the same DDL statements in the `--sql` scripts;
6. prints medians, peak memory (the process's maximum resident set size as
   the kernel reports it to `wait4`, the figure `/usr/bin/time -v` prints)
   and the ratio Alembic/rev, and writes BENCHMARKS.md from those figures.

Standard library only. Exit status 1 when the tools disagree (the figures are
then not written).

Alembic on SQLite: its SQLite dialect declares `transactional_ddl = False`
and Python's sqlite3 module sends no BEGIN before DDL, so out of the box
every CREATE TABLE commits on its own whatever `transaction_per_migration`
says. The env.py written here turns on real transactions (SQLAlchemy's
documented pysqlite recipe, plus `transactional_ddl=True`) so that each mode
runs the same transactions in both tools: one per revision, or one for the
whole run.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent

# ----------------------------------------------------------------------------
# The histories


def rev_id(i: int) -> str:
    """The id of revision i, as `src/synth.rs` makes them: six scrambled hex
    digits then six of i, so ids look real and never collide."""
    m = (1 << 64) - 1
    x = (i + 0x9E3779B97F4A7C15) & m
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & m
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & m
    x ^= x >> 31
    return f"{x & 0xFFFFFF:06x}{i & 0xFFFFFF:06x}"


class Rev:
    __slots__ = ("id", "parents", "labels", "table", "column")

    def __init__(self, id, parents, labels=()):
        self.id = id
        self.parents = list(parents)
        self.labels = list(labels)
        self.table = None  # the table this revision creates, or
        self.column = None  # (table, column) it adds


def history(shape: str, n: int) -> list[Rev]:
    """n revisions of a shape, parents first."""
    ids = [rev_id(i) for i in range(n)]
    revs = [Rev(ids[0], [])]
    if shape == "chain":
        for i in range(1, n):
            revs.append(Rev(ids[i], [ids[i - 1]]))
    elif shape == "branches":
        # Four labelled lines from the root, merged every 40 revisions and
        # forked again from the merge; the last revision merges them all, so
        # the history has one head.
        lines, merge_every = 4, 40
        tips = [0] * lines
        for i in range(1, n):
            if i % merge_every == 0 or i == n - 1:
                parents = sorted({ids[t] for t in tips})
                revs.append(Rev(ids[i], parents))
                tips = [i] * lines
                continue
            line = i % lines
            labels = [f"line{line}"] if i == line else []
            revs.append(Rev(ids[i], [ids[tips[line]]], labels))
            tips[line] = i
    elif shape == "many_heads":
        # n/20 lines from the root, never merged.
        lines = max(2, n // 20)
        tips = [0] * lines
        for i in range(1, n):
            line = i % lines
            revs.append(Rev(ids[i], [ids[tips[line]]]))
            tips[line] = i
    else:
        raise ValueError(shape)
    # Schema change: a revision whose first parent created a table adds a
    # column to it (a merge never does); any other revision creates a table.
    by_id = {}
    for r in revs:
        p = by_id.get(r.parents[0]) if len(r.parents) == 1 else None
        if p is not None and p.table is not None:
            r.column = (p.table, f"c_{r.id}")
        else:
            r.table = f"t_{r.id}"
        by_id[r.id] = r
    return revs


def heads_of(revs: list[Rev]) -> list[str]:
    named = {p for r in revs for p in r.parents}
    return sorted(r.id for r in revs if r.id not in named)


def sql_up(r: Rev) -> str:
    # What Alembic's op.create_table / op.add_column emit on SQLite.
    if r.table:
        return (
            f"CREATE TABLE {r.table} (\n    id INTEGER NOT NULL,\n"
            f"    name VARCHAR(50) NOT NULL,\n    PRIMARY KEY (id)\n);\n"
        )
    t, c = r.column
    return f"ALTER TABLE {t} ADD COLUMN {c} VARCHAR(50);\n"


def sql_down(r: Rev) -> str:
    if r.table:
        return f"DROP TABLE {r.table};\n"
    t, c = r.column
    return f"ALTER TABLE {t} DROP COLUMN {c};\n"


def message(r: Rev) -> str:
    return f"create {r.table}" if r.table else f"add {r.column[1]} to {r.column[0]}"


def write_rev_project(d: Path, revs: list[Rev]) -> None:
    (d / "versions").mkdir(parents=True)
    (d / "config.yaml").write_text("script_location: versions\n")
    (d / "config-1tx.yaml").write_text(
        "script_location: versions\ntransaction_per_migration: false\n"
    )
    for r in revs:
        down = "null" if not r.parents else (
            r.parents[0] if len(r.parents) == 1 else "[" + ", ".join(r.parents) + "]"
        )
        head = f"-- revision: {r.id}\n-- down_revision: {down}\n"
        if r.labels:
            head += f"-- branch_labels: [{', '.join(r.labels)}]\n"
        head += f"-- message: {message(r)}\n-- create_date: 2026-01-01T00:00:00Z\n"
        text = f"{head}\n-- +upgrade\n{sql_up(r)}\n-- +downgrade\n{sql_down(r)}"
        slug = message(r).replace(" ", "_")
        (d / "versions" / f"{r.id}_{slug}.sql").write_text(text)


ALEMBIC_INI = """\
[alembic]
script_location = %(here)s
sqlalchemy.url = sqlite:///unused.db

[loggers]
keys = root,sqlalchemy,alembic

[handlers]
keys = console

[formatters]
keys = generic

[logger_root]
level = WARNING
handlers = console
qualname =

[logger_sqlalchemy]
level = WARNING
handlers =
qualname = sqlalchemy.engine

[logger_alembic]
level = INFO
handlers =
qualname = alembic

[handler_console]
class = StreamHandler
args = (sys.stderr,)
level = NOTSET
formatter = generic

[formatter_generic]
format = %(levelname)-5.5s [%(name)s] %(message)s
datefmt = %H:%M:%S
"""

# `alembic init`'s env.py, with the database file and the transaction mode
# taken from `-x db=PATH -x one_tx=0|1`, and real SQLite transactions (see
# the module's doc comment).
ENV_PY = '''\
from alembic import context
from sqlalchemy import create_engine, event, pool

config = context.config
x = context.get_x_argument(as_dictionary=True)
url = "sqlite:///" + x.get("db", "unused.db")
one_tx = x.get("one_tx", "0") == "1"


def run_migrations_offline():
    context.configure(url=url, literal_binds=True, dialect_opts={"paramstyle": "named"},
                      transaction_per_migration=not one_tx, transactional_ddl=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online():
    engine = create_engine(url, poolclass=pool.NullPool)

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None  # let SQLAlchemy send BEGIN

    @event.listens_for(engine, "begin")
    def _begin(conn):
        conn.exec_driver_sql("BEGIN")

    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=None,
                          transaction_per_migration=not one_tx, transactional_ddl=True)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
'''


def py_tuple(xs: list[str]) -> str:
    return "(" + ", ".join(repr(x) for x in xs) + ("," if len(xs) == 1 else "") + ")"


def write_alembic_project(d: Path, revs: list[Rev]) -> None:
    (d / "versions").mkdir(parents=True)
    (d / "alembic.ini").write_text(ALEMBIC_INI)
    (d / "env.py").write_text(ENV_PY)
    for r in revs:
        if not r.parents:
            down = "None"
        elif len(r.parents) == 1:
            down = repr(r.parents[0])
        else:
            down = py_tuple(r.parents)
        labels = py_tuple(r.labels) if r.labels else "None"
        if r.table:
            up = (
                f"    op.create_table(\n        {r.table!r},\n"
                f"        sa.Column('id', sa.Integer(), nullable=False),\n"
                f"        sa.Column('name', sa.String(length=50), nullable=False),\n"
                f"        sa.PrimaryKeyConstraint('id'),\n    )\n"
            )
            dn = f"    op.drop_table({r.table!r})\n"
        else:
            t, c = r.column
            up = f"    op.add_column({t!r}, sa.Column({c!r}, sa.String(length=50), nullable=True))\n"
            dn = f"    op.drop_column({t!r}, {c!r})\n"
        text = (
            f'"""{message(r)}\n\nRevision ID: {r.id}\nRevises: {", ".join(r.parents)}\n'
            f'Create Date: 2026-01-01 00:00:00\n\n"""\n'
            f"from alembic import op\nimport sqlalchemy as sa\n\n\n"
            f"revision = {r.id!r}\ndown_revision = {down}\n"
            f"branch_labels = {labels}\ndepends_on = None\n\n\n"
            f"def upgrade():\n{up}\n\ndef downgrade():\n{dn}"
        )
        slug = message(r).replace(" ", "_")
        (d / "versions" / f"{r.id}_{slug}.py").write_text(text)


# ----------------------------------------------------------------------------
# Running and measuring


RUNNING: list = []  # the child being timed, stopped with us


def stop(*_):
    for p in RUNNING:
        if p.returncode is None:
            p.kill()
            p.wait()
    sys.exit(143)


def run(cmd: list[str], capture: bool = False) -> tuple[float, int, str]:
    """Runs cmd as a whole process: (wall seconds, peak RSS in KiB, stdout).
    Fails loudly on a non-zero exit."""
    out = tempfile.TemporaryFile() if capture else subprocess.DEVNULL
    err = tempfile.TemporaryFile()
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=out, stderr=err, stdin=subprocess.DEVNULL)
    RUNNING[:] = [p]
    # wait4 gives this child's own rusage; ru_maxrss is what `time -v` shows.
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    p.returncode = os.waitstatus_to_exitcode(status)
    err.seek(0)
    if p.returncode != 0:
        sys.exit(f"failed ({p.returncode}): {' '.join(cmd)}\n{err.read().decode(errors='replace')[-3000:]}")
    text = ""
    if capture:
        out.seek(0)
        text = out.read().decode()
    return wall, ru.ru_maxrss, text


def schema(db: Path) -> list:
    """Every user table with its columns, tracking tables left out. Columns
    are sorted: two tools may add a table's columns from sibling branches in
    different (equally valid) orders."""
    if not db.exists():
        return []
    con = sqlite3.connect(db)
    try:
        names = [n for (n,) in con.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' "
            "AND name NOT LIKE 'sqlite_%' AND name NOT IN ('alembic_version', 'schema_migrations') "
            "ORDER BY name")]
        return [(n, sorted(tuple(c[1:]) for c in con.execute(f'PRAGMA table_info("{n}")'))) for n in names]
    finally:
        con.close()


def rows(db: Path, q: str) -> list:
    con = sqlite3.connect(db)
    try:
        return [r[0] for r in con.execute(q)]
    finally:
        con.close()


def fresh(db: Path) -> None:
    for p in (db, Path(str(db) + ".lock"), Path(str(db) + "-journal")):
        if p.exists():
            p.unlink()


DDL = re.compile(r"^\s*(CREATE TABLE t_\w+|ALTER TABLE t_\w+ (?:ADD|DROP) COLUMN \w+|DROP TABLE t_\w+)", re.M)


class Bench:
    def __init__(self, args, rev: Path, alembic: Path, work: Path, info: dict):
        self.args = args
        self.info = info
        self.rev = rev
        self.alembic = alembic
        self.work = work
        self.results = []  # dicts: size, shape, op, rev/alembic time and rss

    def check(self, ok: bool, what: str) -> None:
        if not ok:
            sys.exit(f"the tools disagree: {what}")

    def case(self, shape: str, n: int) -> None:
        revs = history(shape, n)
        base = self.work / f"{shape}_{n}"
        rp, ap = base / "rev", base / "alembic"
        write_rev_project(rp, revs)
        write_alembic_project(ap, revs)
        want_heads = heads_of(revs)
        target = "head" if len(want_heads) == 1 else "heads"
        db_r, db_a = base / "rev.db", base / "alembic.db"
        url = f"sqlite://{db_r}?mode=rwc"

        def R(*a, cfg="config.yaml"):
            return [str(self.rev), "-c", str(rp / cfg), "--database-url", url, *a]

        def A(*a, one_tx=False, db=db_a):
            return [str(self.alembic), "-c", str(ap / "alembic.ini"),
                    "-x", f"db={db}", "-x", f"one_tx={int(one_tx)}", *a]

        # Untimed first runs: the answers to check, and Alembic's .pyc files
        # written, so no timed run pays for compiling.
        _, _, out = run(R("-f", "json", "heads"), capture=True)
        got_r = sorted(x["revision"] for x in json.loads(out))
        _, _, out = run(A("heads"), capture=True)
        got_a = sorted(line.split()[0] for line in out.splitlines() if line.strip())
        self.check(got_r == want_heads and got_a == want_heads,
                   f"{shape} {n}: heads rev {len(got_r)} alembic {len(got_a)} expected {len(want_heads)}")
        _, _, sr = run(R("upgrade", target, "--sql"), capture=True)
        _, _, sa_ = run(A("upgrade", target, "--sql"), capture=True)
        # What SQLite alone takes for the same work: rev's own script (its
        # DDL and tracking rows, in its transactions) through Python's
        # sqlite3, the library Alembic uses, in this process. Neither tool
        # can be faster than that, so it bounds the ratio either can show.
        _, _, sr_1tx = run(R("upgrade", target, "--sql", cfg="config-1tx.yaml"), capture=True)
        floor_sql = {"upgrade": sans_dot_commands(sr),
                     "upgrade, one transaction": sans_dot_commands(sr_1tx)}
        db_f = base / "sqlite-alone.db"
        ddl_r, ddl_a = sorted(DDL.findall(sr)), sorted(DDL.findall(sa_))
        self.check(len(ddl_r) == n and ddl_r == ddl_a,
                   f"{shape} {n}: --sql scripts hold {len(ddl_r)} and {len(ddl_a)} DDL statements, not the same")

        if "sync_calls" not in self.info:
            # Once, outside the timings: what a commit costs each tool.
            fresh(db_r), fresh(db_a)
            self.info["sync_calls"] = {
                "what": f"`upgrade {target}`, {n:,} revisions, {shape}, a transaction per revision",
                "rev": sync_calls(R("upgrade", target)),
                "alembic": sync_calls(A("upgrade", target)),
            }
            fresh(db_r), fresh(db_a)

        times = {}  # (op, tool) -> [(wall, rss)]

        def timed(op, tool, cmd):
            times.setdefault((op, tool), []).append(run(cmd)[:2])

        def timed_sqlite_alone(op):
            fresh(db_f)
            times.setdefault((op, "sqlite"), []).append((sqlite_alone(db_f, floor_sql[op]), 0))

        for _ in range(self.args.repeat if n <= 1000 else self.args.large_repeat):
            timed("heads", "rev", R("heads"))
            timed("heads", "alembic", A("heads"))
            timed("history", "rev", R("history"))
            timed("history", "alembic", A("history"))
            timed("upgrade --sql", "rev", R("upgrade", target, "--sql"))
            timed("upgrade --sql", "alembic", A("upgrade", target, "--sql"))
            # A transaction per revision, then downgrade base from there.
            fresh(db_r), fresh(db_a)
            timed("upgrade", "rev", R("upgrade", target))
            timed("upgrade", "alembic", A("upgrade", target))
            timed_sqlite_alone("upgrade")
            sr, sa_ = schema(db_r), schema(db_a)
            self.check(sr == sa_ and len(sr) == sum(1 for r in revs if r.table),
                       f"{shape} {n}: tables after upgrade differ ({len(sr)} and {len(sa_)})")
            self.check(len(rows(db_r, "SELECT version FROM schema_migrations")) == n,
                       f"{shape} {n}: rev did not record {n} revisions")
            self.check(sorted(rows(db_a, "SELECT version_num FROM alembic_version")) == want_heads,
                       f"{shape} {n}: alembic_version does not hold the heads")
            timed("downgrade base", "rev", R("downgrade", "base"))
            timed("downgrade base", "alembic", A("downgrade", "base"))
            self.check(schema(db_r) == [] and schema(db_a) == [],
                       f"{shape} {n}: tables left after downgrade base")
            self.check(rows(db_r, "SELECT COUNT(*) FROM schema_migrations") == [0]
                       and rows(db_a, "SELECT COUNT(*) FROM alembic_version") == [0],
                       f"{shape} {n}: tracking rows left after downgrade base")
            # One transaction for the whole run.
            fresh(db_r), fresh(db_a)
            timed("upgrade, one transaction", "rev", R("upgrade", target, cfg="config-1tx.yaml"))
            timed("upgrade, one transaction", "alembic", A("upgrade", target, one_tx=True))
            timed_sqlite_alone("upgrade, one transaction")
            sr, sa_ = schema(db_r), schema(db_a)
            self.check(sr == sa_ and len(sr) == sum(1 for r in revs if r.table),
                       f"{shape} {n}: tables after the one-transaction upgrade differ")
        fresh(db_r), fresh(db_a), fresh(db_f)

        for op in OPS:
            r, a = times[(op, "rev")], times[(op, "alembic")]
            res = {
                "size": n, "shape": shape, "op": op, "runs": len(r),
                "rev_s": statistics.median(w for w, _ in r),
                "alembic_s": statistics.median(w for w, _ in a),
                "rev_kib": max(m for _, m in r),
                "alembic_kib": max(m for _, m in a),
                "rev_runs": [round(w * 1000) for w, _ in r],
                "alembic_runs": [round(w * 1000) for w, _ in a],
            }
            if (op, "sqlite") in times:
                res["sqlite_s"] = statistics.median(w for w, _ in times[(op, "sqlite")])
            self.results.append(res)
            print(fmt_row(res), flush=True)
        shutil.rmtree(base)


OPS = ["heads", "history", "upgrade --sql", "upgrade", "upgrade, one transaction", "downgrade base"]
SHAPES = ["chain", "branches", "many_heads"]


def sans_dot_commands(script: str) -> str:
    """rev's --sql script for SQLite starts with `.bail on`, a command of the
    sqlite3 shell, not SQL."""
    return "\n".join(line for line in script.splitlines() if not line.startswith("."))


def sqlite_alone(db: Path, script: str) -> float:
    """Wall seconds for Python's sqlite3 to run `script` on a fresh `db`, in
    autocommit mode so the script's own BEGIN and COMMIT are the
    transactions."""
    con = sqlite3.connect(db, isolation_level=None)
    try:
        t0 = time.perf_counter()
        con.executescript(script)
        return time.perf_counter() - t0
    finally:
        con.close()


def ms(s: float) -> str:
    return f"{s * 1000:,.0f}" if s >= 0.1 else f"{s * 1000:.1f}"


def signed_ms(s: float) -> str:
    return ("-" if s < 0 else "") + ms(abs(s))


def mib(k: int) -> str:
    return f"{k / 1024:.1f}"


HEADER = ("| revisions | shape | command | rev ms | Alembic ms | Alembic/rev | "
          "rev peak MiB | Alembic peak MiB |")
RULE = "|---:|---|---|---:|---:|---:|---:|---:|"


def fmt_row(r: dict) -> str:
    return (f"| {r['size']:,} | {r['shape']} | {r['op']} | {ms(r['rev_s'])} | {ms(r['alembic_s'])} | "
            f"{r['alembic_s'] / r['rev_s']:.1f}x | {mib(r['rev_kib'])} | {mib(r['alembic_kib'])} |")


# ----------------------------------------------------------------------------
# Targets and the report

TARGETS = [
    ("heads", 20.0, "`heads` at least 20x faster than Alembic"),
    ("history", 20.0, "`history` at least 20x faster than Alembic"),
    ("upgrade", 2.0, "`upgrade head` at least 2x faster, a transaction per revision (rev's default)"),
    ("upgrade, one transaction", 5.0, "`upgrade head` at least 5x faster, one transaction"),
]


def verdicts(results: list[dict]) -> list[str]:
    lines = []
    at = [r for r in results if r["size"] == 1000]
    for op, factor, text in TARGETS:
        rs = [r for r in at if r["op"] == op]
        if not rs:
            continue
        got = ", ".join(f"{r['shape']} {r['alembic_s'] / r['rev_s']:.1f}x" for r in rs)
        ok = all(r["alembic_s"] / r["rev_s"] >= factor for r in rs)
        bound = ""
        if not ok and all("sqlite_s" in r for r in rs):
            bound = ("; Python's SQLite alone, running the same SQL, bounds the ratio a tool on it could show at "
                     + ", ".join(f"{r['shape']} {r['alembic_s'] / r['sqlite_s']:.1f}x" for r in rs))
        lines.append(f"- {'met' if ok else '**MISSED**'}: {text} at 1,000 revisions ({got}{bound})")
    worse = [r for r in results if r["rev_kib"] >= r["alembic_kib"]]
    if worse:
        lines.append("- **MISSED**: rev's peak memory below Alembic's at every size: not for "
                     + "; ".join(f"{r['size']:,} {r['shape']} {r['op']} ({mib(r['rev_kib'])} MiB "
                                 f"vs {mib(r['alembic_kib'])} MiB)" for r in worse))
    else:
        top = max(r["rev_kib"] / r["alembic_kib"] for r in results)
        lines.append(f"- met: rev's peak memory below Alembic's for every size, shape and command "
                     f"(at most {top:.0%} of Alembic's)")
    return lines


def sqlite_alone_section(results: list[dict]) -> list[str]:
    rs = [r for r in results if "sqlite_s" in r]
    if not rs:
        return []
    return [
        "## What SQLite alone takes",
        "",
        "The same upgrade as one SQL script (rev's `upgrade --sql` output: the DDL, the tracking "
        "rows, the same transactions), run by Python's sqlite3 (the SQLite Alembic uses) inside "
        "the benchmark process: no tool, no process start. No tool running on that SQLite can "
        "take less, so Alembic / SQLite alone is the highest ratio such a tool could show beside "
        "Alembic. rev runs its own SQLite (bundled, a newer version, built with "
        "`SQLITE_DEFAULT_MEMSTATUS=0`: see `.cargo/config.toml`), so it can take less, and a "
        "negative `rev - SQLite` is that. The columns `rev - SQLite` and `Alembic - SQLite` are "
        "what each tool adds to Python's SQLite.",
        "",
        "| revisions | shape | command | SQLite alone ms | rev ms | Alembic ms | rev - SQLite ms | "
        "Alembic - SQLite ms | Alembic / SQLite alone | rev's ratio |",
        "|---:|---|---|---:|---:|---:|---:|---:|---:|---:|",
        *[f"| {r['size']:,} | {r['shape']} | {r['op']} | {ms(r['sqlite_s'])} | {ms(r['rev_s'])} | "
          f"{ms(r['alembic_s'])} | {signed_ms(r['rev_s'] - r['sqlite_s'])} | "
          f"{signed_ms(r['alembic_s'] - r['sqlite_s'])} | {r['alembic_s'] / r['sqlite_s']:.1f}x | "
          f"{r['alembic_s'] / r['rev_s']:.1f}x |" for r in rs],
        "",
    ]


def sync_note(results: list[dict], info: dict) -> list[str]:
    """Where a transaction per revision is not 2x faster, the measured cause
    when it is the sync call SQLite makes at each commit."""
    sc = info.get("sync_calls", {})
    rev, alembic = dict((n, (c, t)) for n, c, t in sc.get("rev", [])), \
        dict((n, (c, t)) for n, c, t in sc.get("alembic", []))
    slow = [r for r in results if r["size"] == 1000 and r["op"] == "upgrade" and r["alembic_s"] / r["rev_s"] < 2]
    if not slow or "fsync" not in rev or "fdatasync" not in alembic:
        return []
    (rc, rt), (ac, at) = rev["fsync"], alembic["fdatasync"]
    if rt / rc <= at / ac:
        return ["", f"A transaction per revision is bound by the disk in both tools: each commit "
                f"makes SQLite sync its journal and database files. In the {sc['what']} above, "
                f"rev's {rc} fsync calls took {rt:,.0f} ms and Alembic's {ac} fdatasync calls "
                f"{at:,.0f} ms.", ""]
    return ["", f"Why a transaction per revision is not faster: each commit makes SQLite sync its "
            f"journal and database files, and that is most of the time. rev's SQLite does it with "
            f"fsync, Alembic's (Python's) with fdatasync: in the {sc['what']} above, rev's {rc} fsync "
            f"calls took {rt:,.0f} ms, {rt / rc:.2f} ms each, and Alembic's {ac} fdatasync calls "
            f"{at:,.0f} ms, {at / ac:.2f} ms each. The SQLite that libsqlite3-sys compiles into rev "
            f"is built without `HAVE_FDATASYNC`; building rev with "
            f"`LIBSQLITE3_FLAGS=-DHAVE_FDATASYNC=1` should make it use fdatasync like the system's "
            f"SQLite (not tried by this script).", ""]


def sh(cmd: list[str]) -> str:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def machine() -> dict:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = "unknown"
    try:
        kib = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f"{kib / 1024 / 1024:.0f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    return {"cores": os.cpu_count(), "cpu": cpu, "memory": mem,
            "kernel": f"{platform.system()} {platform.release()}",
            "load": " ".join(f"{x:.2f}" for x in os.getloadavg())}


def write_report(path: Path, results, info, cmdline, started, took, left) -> None:
    m = info["machine"]
    out = [
        "# rev beside Alembic",
        "",
        "Written by `bench/compare-alembic/run.py` from the figures it measured; do not edit by hand.",
        "Reproduce (from the repository root; it makes a virtualenv outside the repository, "
        "installs Alembic from PyPI, builds rev in release mode):",
        "",
        "```sh",
        cmdline,
        "```",
        "",
        f"Run on {started} UTC; it took {took / 60:.1f} minutes."
        + (f" **The run was stopped before it finished: not measured: {', '.join(left)}.**"
           if left else ""),
        "",
        f"- Machine: {m['cores']} cores, {m['cpu']}, {m['memory']} RAM, {m['kernel']} "
        f"(load average at the start: {m['load']})",
        f"- rev {info['rev_version']} (commit {info['commit']}), {info['build']}, its own SQLite {info['rev_sqlite']}",
        f"- Alembic {info['alembic']}, SQLAlchemy {info['sqlalchemy']}, Python {info['python']}, "
        f"SQLite {info['py_sqlite']} (Python's sqlite3 module)",
        "",
        f"- Scratch folder (the SQLite files) on a `{info.get('scratch_fs', 'unknown')}` file system"
        + (" (memory: a sync costs nearly nothing, so the figures time the tools, not the disk)"
           if info.get("scratch_fs") == "tmpfs" else "") + "; "
        f"one fsync of a new 4 KiB file takes {info['disk']['fsync']:.2f} ms, "
        f"one fdatasync {info['disk']['fdatasync']:.2f} ms (medians of 30)",
        *([f"- Sync calls in one {info['sync_calls']['what']} (`strace -f -c -w`): rev "
           f"{fmt_sync(info['sync_calls']['rev'])}; Alembic {fmt_sync(info['sync_calls']['alembic'])}"]
          if info.get("sync_calls", {}).get("rev") else []),
        "",
        "## Targets",
        "",
        *verdicts(results),
        "",
        *sync_note(results, info),
        *sqlite_alone_section(results),
        "## How it was measured",
        "",
        "- Each figure is the median wall time of a whole process (start, read the history, "
        f"work, exit) over {info['repeat']} runs ({info['large_repeat']} for 5,000 revisions); "
        "both tools' output goes to /dev/null. Before timing, one untimed run of each tool "
        "(Alembic writes its `.pyc` files then).",
        "- Peak memory: the largest maximum resident set size of the runs, as the kernel "
        "reports it to `wait4` (the figure `/usr/bin/time -v` prints).",
        "- Histories: `chain`, one line; `branches`, four labelled lines from the root, "
        "merged every 40 revisions and forked again, the last revision a merge; `many_heads`, "
        "revisions/20 lines from the root never merged (the target is `heads` there, for both "
        "tools). Every revision creates a small table (`id INTEGER`, `name VARCHAR(50)`, "
        "primary key) or adds a column to the table its parent created; downgrades drop them.",
        "- Alembic revisions are written as autogenerate writes them (`op.create_table`, "
        "`op.add_column`, `op.drop_column`, `op.drop_table`); rev's files hold the SQL Alembic "
        "emits for them. `upgrade` runs on a fresh SQLite file; `downgrade base` runs on the "
        "file that upgrade left.",
        "- Transactions: `upgrade` is a transaction per revision in both tools "
        "(`transaction_per_migration: true`, rev's default); `upgrade, one transaction` is one "
        "for the whole run (`transaction_per_migration: false`, Alembic's default). Alembic's "
        "SQLite dialect says it has no transactional DDL and Python's sqlite3 sends no BEGIN "
        "before DDL, so out of the box each of Alembic's CREATE TABLEs commits on its own in "
        "either mode; the env.py used here turns on real transactions (SQLAlchemy's pysqlite "
        "recipe and `transactional_ddl=True`), so both tools run the same transactions. "
        "`downgrade base` is a transaction per revision. SQLite is at its defaults in both "
        "(rollback journal, `synchronous = FULL`).",
        "- Checked on every run: the same heads; the same tables and columns after each "
        "upgrade (rev recording every revision, Alembic's `alembic_version` the heads); no table "
        "and no tracking row after `downgrade base`; the same DDL statements in both "
        "`--sql` scripts.",
        "",
        "## Figures",
        "",
        HEADER,
        RULE,
        *[fmt_row(r) for r in results],
        "",
        "Every run, in ms (rev | Alembic):",
        "",
        "```",
        *[f"{r['size']:>5} {r['shape']:<10} {r['op']:<25} {' '.join(map(str, r['rev_runs']))} | "
          f"{' '.join(map(str, r['alembic_runs']))}" for r in results],
        "```",
        "",
    ]
    path.write_text("\n".join(out))


# ----------------------------------------------------------------------------


def venv_tools(args) -> tuple[Path, dict]:
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    venv = Path(args.venv) if args.venv else cache / "rev-compare-alembic" / "venv"
    if REPO in venv.resolve().parents:
        sys.exit(f"the virtualenv must be outside the repository, not {venv}")
    py = venv / "bin" / "python"
    probe = [str(py), "-c", "import alembic, sqlalchemy; print(alembic.__version__, sqlalchemy.__version__)"]
    if not py.exists():
        print(f"making a virtualenv in {venv}", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    if args.upgrade_alembic or subprocess.run(probe, capture_output=True).returncode != 0:
        print("installing Alembic and SQLAlchemy from PyPI", flush=True)
        subprocess.run([str(py), "-m", "pip", "install", "--quiet", "--upgrade",
                        args.alembic, "sqlalchemy"], check=True)
    alembic_v, sqla_v = sh(probe).split()
    return venv / "bin" / "alembic", {
        "alembic": alembic_v, "sqlalchemy": sqla_v,
        "python": sh([str(py), "-c", "import platform; print(platform.python_version())"]),
        "py_sqlite": sh([str(py), "-c", "import sqlite3; print(sqlite3.sqlite_version)"]),
    }


def build_rev(args) -> Path:
    if args.rev:
        return Path(args.rev).resolve()
    print("building rev (cargo build --release)", flush=True)
    subprocess.run(["cargo", "build", "--release", "--quiet", "--bin", "rev"], cwd=REPO, check=True)
    return REPO / "target" / "release" / "rev"


def disk_sync_ms(work: Path) -> dict:
    """What one fsync and one fdatasync cost on the disk the databases live
    on, the way SQLite's rollback journal uses them (a new file, 4 KiB
    written, synced, deleted); median of 30. SQLite syncs a few times per
    commit."""
    out = {}
    for name, sync in (("fsync", os.fsync), ("fdatasync", os.fdatasync)):
        ts = []
        for i in range(30):
            p = work / f"sync{i}.probe"
            fd = os.open(p, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                os.write(fd, os.urandom(4096))
                t0 = time.perf_counter()
                sync(fd)
                ts.append(time.perf_counter() - t0)
            finally:
                os.close(fd)
                p.unlink()
        out[name] = statistics.median(ts) * 1000
    return out


def sync_calls(cmd: list[str]) -> list:
    """The sync system calls cmd makes: [(name, count, wall ms in all)] from
    `strace -c -w`, or [] without strace."""
    strace = shutil.which("strace")
    if not strace:
        return []
    with tempfile.NamedTemporaryFile() as t:
        r = subprocess.run([strace, "-f", "-c", "-w", "-o", t.name, "-e", "trace=fsync,fdatasync", *cmd],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if r.returncode != 0:
            return []
        found = []
        for line in Path(t.name).read_text().splitlines():
            f = line.split()
            if len(f) >= 5 and f[-1] in ("fsync", "fdatasync"):
                found.append((f[-1], int(f[3]), float(f[1]) * 1000))
        return found


def fmt_sync(calls: list) -> str:
    return ", ".join(f"{c} {name} calls, {ms:,.0f} ms in all" for name, c, ms in calls) or "none"


def rev_sqlite_version(rev: Path, work: Path) -> str:
    d = work / "probe"
    d.mkdir()
    (d / "versions").mkdir()
    (d / "config.yaml").write_text("script_location: versions\n")
    (d / "versions" / "a_v.sql").write_text(
        "-- revision: a\n-- down_revision: null\n-- message: v\n\n-- +upgrade\n"
        "CREATE TABLE v AS SELECT sqlite_version() AS v;\n\n-- +downgrade\nDROP TABLE v;\n")
    run([str(rev), "-q", "-c", str(d / "config.yaml"), "--database-url",
         f"sqlite://{d / 'p.db'}?mode=rwc", "upgrade", "head"])
    v = rows(d / "p.db", "SELECT v FROM v")[0]
    shutil.rmtree(d)
    return v


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--large", action="store_true", help="also 5,000 revisions (Alembic takes minutes there)")
    ap.add_argument("--sizes", help="comma-separated sizes instead (e.g. 100,1000)")
    ap.add_argument("--shapes", default=",".join(SHAPES), help="comma-separated, of " + ", ".join(SHAPES))
    ap.add_argument("--repeat", type=int, default=5, help="runs per command up to 1,000 revisions (default 5)")
    ap.add_argument("--large-repeat", type=int, default=3, help="runs per command above 1,000 revisions (default 3)")
    ap.add_argument("--rev", help="a rev binary to use instead of building one")
    ap.add_argument("--venv", help="where the virtualenv goes (default: $XDG_CACHE_HOME/rev-compare-alembic/venv)")
    ap.add_argument("--alembic", default="alembic", help="the pip requirement for Alembic (e.g. alembic==1.13.3)")
    ap.add_argument("--upgrade-alembic", action="store_true", help="pip install --upgrade even if the venv has one")
    ap.add_argument("--output", default=str(REPO / "BENCHMARKS.md"), help="the report to write (default: BENCHMARKS.md)")
    ap.add_argument("--no-report", action="store_true", help="print only, write no BENCHMARKS.md")
    ap.add_argument("--scratch", help="the folder the histories and databases go in (default: the system's "
                    "temporary folder); e.g. /dev/shm (memory) to time the tools without the disk's syncs")
    args = ap.parse_args()
    # A kill still removes the scratch folder (the finally below).
    signal.signal(signal.SIGTERM, stop)
    sizes = [int(s) for s in args.sizes.split(",")] if args.sizes else [100, 1000] + ([5000] if args.large else [])
    shapes = args.shapes.split(",")
    for s in shapes:
        if s not in SHAPES:
            sys.exit(f"unknown shape {s!r}: one of {', '.join(SHAPES)}")

    started = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M")
    t0 = time.monotonic()
    alembic, info = venv_tools(args)
    rev = build_rev(args)
    work = Path(tempfile.mkdtemp(prefix="rev-compare-alembic-", dir=args.scratch))
    try:
        info.update(
            machine=machine(), repeat=args.repeat, large_repeat=args.large_repeat,
            rev_version=sh([str(rev), "--version"]).split()[-1],
            commit=sh(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"]),
            rev_sqlite=rev_sqlite_version(rev, work),
            disk=disk_sync_ms(work),
            scratch_fs=sh(["stat", "-f", "-c", "%T", str(work)]),
            build="built by `cargo build --release`" if not args.rev else f"the binary given ({rev.name})",
        )
        print(f"rev {info['rev_version']} ({rev}), Alembic {info['alembic']}, SQLAlchemy {info['sqlalchemy']}")
        print(f"{info['machine']['cores']} cores, {info['machine']['cpu']}, {info['machine']['kernel']}")
        print(f"disk: fsync {info['disk']['fsync']:.2f} ms, fdatasync {info['disk']['fdatasync']:.2f} ms")
        print(f"medians of {args.repeat} runs ({args.large_repeat} above 1,000 revisions), scratch in {work}\n")
        print(HEADER)
        print(RULE, flush=True)
        bench = Bench(args, rev, alembic, work, info)
        todo = [(n, shape) for n in sizes for shape in shapes]
        for i, (n, shape) in enumerate(todo):
            bench.case(shape, n)
            # Written after every case, so a run stopped early (Ctrl+C, kill)
            # still leaves the figures it finished, marked as such.
            if not args.no_report:
                report(args, bench.results, info, started, t0,
                       [f"{m:,} {s}" for m, s in todo[i + 1:]])
    finally:
        for p in RUNNING:
            if p.returncode is None:
                p.kill()
                p.wait()
        shutil.rmtree(work, ignore_errors=True)
    print()
    print("\n".join(verdicts(bench.results)))
    if not args.no_report:
        print(f"\nwrote {args.output}")


def report(args, results, info, started, t0, left) -> None:
    # The command as given, less what only fits this machine.
    argv, skip = [], False
    for a in sys.argv[1:]:
        if skip:
            skip = False
        elif a in ("--rev", "--venv", "--output"):
            skip = True
        elif not a.startswith(("--rev=", "--venv=", "--output=")):
            argv.append(a)
    cmd = " ".join(["python3 bench/compare-alembic/run.py", *argv])
    write_report(Path(args.output), results, info, cmd, started, time.monotonic() - t0, left)


if __name__ == "__main__":
    main()
