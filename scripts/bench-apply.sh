#!/usr/bin/env bash
# How much rev adds to applying migrations, against the database's own client.
#
# Generates N revisions (a chain, each creating one small table), then on a
# fresh database per run times
#   rev:    `rev upgrade heads`
#   client: the script `rev upgrade heads --sql` prints (per revision: BEGIN;
#           CREATE TABLE; INSERT INTO the tracking table; COMMIT), run by
#           sqlite3 / psql / mysql
# so both sides run the same statements in the same transactions, with the
# same durability settings (sqlx leaves SQLite at its defaults, as sqlite3
# does). Prints the median of REPEAT runs, per-revision times and the ratio.
#
#   scripts/bench-apply.sh                 # N=1000 REPEAT=5, sqlite + postgres
#   N=200 REPEAT=3 BACKENDS="sqlite postgres mysql" scripts/bench-apply.sh
#   REV=target/debug/rev scripts/bench-apply.sh   # skip the release build
#
# Server URLs: REV_TEST_POSTGRES_URL, REV_TEST_MYSQL_URL (defaults: the local
# test servers); one database per run is created and dropped.
set -euo pipefail
cd "$(dirname "$0")/.."

N=${N:-1000}
REPEAT=${REPEAT:-5}
BACKENDS=${BACKENDS:-sqlite postgres}
. scripts/bench-db.sh
mkdir "$work/versions"

# The history: r000001 <- r000002 <- ... , one table each.
. scripts/chain.sh
write_chain "$work/versions" "$N"

rows() { query "$1" "$2" "SELECT COUNT(*) FROM schema_migrations"; } # backend, url -> rows in the tracking table

rev() { "$REV" -q -c "$work/config.yaml" --database-url "$1" "${@:2}"; }
# For reference: the whole run as one transaction (Alembic's default).
rev_1tx() { "$REV" -q -c "$work/config-1tx.yaml" --database-url "$1" "${@:2}"; }

printf 'script_location: versions\n' >"$work/config.yaml"
printf 'script_location: versions\ntransaction_per_migration: false\n' >"$work/config-1tx.yaml"
echo "rev: $REV"
echo "$N revisions, median of $REPEAT runs, a fresh database per run"
printf '%-9s %10s %10s %12s %12s %8s %12s %12s\n' backend "rev ms" "client ms" "rev ms/rev" "client ms/rev" ratio "rev no-op ms" "rev 1-tx ms"

for backend in $BACKENDS; do
  name=rev_bench_$$
  url=$(fresh "$backend" "$name")
  rev "$url" upgrade heads --sql >"$work/$backend.sql"
  drop "$backend" "$name"
  rev_times=() client_times=() noop_times=() onetx_times=()
  for _ in $(seq 1 "$REPEAT"); do
    url=$(fresh "$backend" "$name")
    t0=$(now_ms); rev "$url" upgrade heads; t1=$(now_ms)
    [ "$(rows "$backend" "$url")" = "$N" ] || { echo "rev did not record $N rows on $backend" >&2; exit 1; }
    # What rev costs with nothing to apply: start, parse N files, connect, lock, read.
    t2=$(now_ms); rev "$url" upgrade heads; t3=$(now_ms)
    rev_times+=($((t1 - t0))) noop_times+=($((t3 - t2)))
    drop "$backend" "$name"

    url=$(fresh "$backend" "$name")
    t0=$(now_ms); client "$backend" "$url" "$work/$backend.sql"; t1=$(now_ms)
    [ "$(rows "$backend" "$url")" = "$N" ] || { echo "the client did not record $N rows on $backend" >&2; exit 1; }
    client_times+=($((t1 - t0)))
    drop "$backend" "$name"

    url=$(fresh "$backend" "$name")
    t0=$(now_ms); rev_1tx "$url" upgrade heads; t1=$(now_ms)
    [ "$(rows "$backend" "$url")" = "$N" ] || { echo "rev (one transaction) did not record $N rows on $backend" >&2; exit 1; }
    onetx_times+=($((t1 - t0)))
    drop "$backend" "$name"
  done
  r=$(printf '%s\n' "${rev_times[@]}" | median)
  c=$(printf '%s\n' "${client_times[@]}" | median)
  z=$(printf '%s\n' "${noop_times[@]}" | median)
  o=$(printf '%s\n' "${onetx_times[@]}" | median)
  awk -v b="$backend" -v r="$r" -v c="$c" -v z="$z" -v o="$o" -v n="$N" 'BEGIN {
    printf "%-9s %10.0f %10.0f %12.3f %12.3f %7.2fx %12.0f %12.0f\n", b, r, c, r / n, c / n, r / c, z, o }'
  echo "          runs: rev ${rev_times[*]} | client ${client_times[*]} | rev no-op ${noop_times[*]} | rev 1-tx ${onetx_times[*]}"
done
