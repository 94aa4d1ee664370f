#!/usr/bin/env bash
# How long a fleet takes to reach head with -j 1, 2 and 4.
#
# One project of REVS revisions (a chain, each creating one small table and
# inserting a row), SQLITE SQLite files and PG PostgreSQL databases under
# `databases:`. For each -j, REPEAT times: every database is created afresh
# (SQLite files removed, PostgreSQL databases dropped and created), then the
# whole process `rev upgrade head --all -j J -f json` is timed. Prints the
# median per -j, the time per database and the speed-up over the first -j,
# and checks each run's report (every database ok, REVS revisions each).
#
#   scripts/bench-fleet.sh                      # 200 SQLite + 50 PostgreSQL, 20 revisions
#   SQLITE=20 PG=5 REPEAT=1 scripts/bench-fleet.sh
#   REV=target/debug/rev scripts/bench-fleet.sh # skip the release build
#
# Server URL: REV_TEST_POSTGRES_URL (default: the local test server); the
# databases are named rev_fleet_bench_N and dropped at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

SQLITE=${SQLITE:-200}
PG=${PG:-50}
REVS=${REVS:-20}
REPEAT=${REPEAT:-3}
JOBS=${JOBS:-1 2 4}
. scripts/bench-db.sh
pg_base=${PG_ADMIN%/*}
drop_all() {
  for i in $(seq 1 "$PG"); do
    psql -q "$PG_ADMIN" -c "DROP DATABASE IF EXISTS rev_fleet_bench_$i WITH (FORCE)" >/dev/null
  done
}
trap 'drop_all; rm -rf "$work"' EXIT
mkdir "$work/versions" "$work/tenants"

. scripts/chain.sh
write_chain "$work/versions" "$REVS" 'INSERT INTO t$i (id, name) VALUES (1, '"'first'"');'

{
  echo "script_location: versions"
  echo "databases:"
  for i in $(seq 1 "$SQLITE"); do echo "  s$i: sqlite://tenants/s$i.db?mode=rwc"; done
  for i in $(seq 1 "$PG"); do echo "  p$i: $pg_base/rev_fleet_bench_$i"; done
} >"$work/config.yaml"

fresh_fleet() { # every database of the fleet empty again
  rm -f "$work"/tenants/*
  drop_all
  for i in $(seq 1 "$PG"); do
    psql -q "$PG_ADMIN" -c "CREATE DATABASE rev_fleet_bench_$i" >/dev/null
  done
}

total=$((SQLITE + PG))
echo "rev fleet: $SQLITE SQLite + $PG PostgreSQL databases, $REVS revisions each, median of $REPEAT ($(nproc) cores)"
base_ms=
for j in $JOBS; do
  times=()
  for _ in $(seq 1 "$REPEAT"); do
    fresh_fleet
    start=$(now_ms)
    "$REV" -c "$work/config.yaml" upgrade head --all -j "$j" -f json >"$work/report.json"
    end=$(now_ms)
    times+=($((end - start)))
    # Every database ok, with every revision applied.
    python3 - "$work/report.json" "$total" "$REVS" <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))["databases"]
total, revs = int(sys.argv[2]), int(sys.argv[3])
assert len(report) == total, len(report)
bad = [d["name"] for d in report if not d["ok"] or len(d["applied"]) != revs]
assert not bad, f"not at head: {bad}"
PY
  done
  ms=$(printf '%s\n' "${times[@]}" | median)
  base_ms=${base_ms:-$ms}
  awk -v j="$j" -v ms="$ms" -v n="$total" -v base="$base_ms" \
    'BEGIN { printf "  -j %-2s %8.0f ms   %6.1f ms per database   x%.2f\n", j, ms, ms / n, base / ms }'
done
