#!/usr/bin/env bash
# What one large revision costs under rev, against the database's own client.
#
# Generates a revision of N INSERT statements (realistic rows with text,
# ~125 bytes each: 60,000 make 7.5 MB) after one that creates the table, then
# on a fresh database per run times
#   rev:    `rev upgrade heads`
#   client: the script `rev upgrade heads --sql` prints, run by sqlite3,
#           `psql -f` or mysql: the same statements in the same transactions
#           (BEGIN ... COMMIT around each revision on SQLite and PostgreSQL;
#           autocommit on MySQL, whose DDL is not transactional, as rev does)
# and prints the median of REPEAT runs, rev's peak memory and the ratio
# rev/client. Several sizes show whether the cost is linear.
#
# On MySQL each autocommitted INSERT waits for InnoDB to flush its log, so
# both sides mostly measure the disk (and, on a shared machine, its other
# users). MYSQL_TX=1 puts the INSERTs between START TRANSACTION and COMMIT
# in the revision itself, which leaves the SQL's own cost.
#
#   scripts/bench-statements.sh                     # 60000, REPEAT=3, all backends
#   STATEMENTS="10000 30000 60000" BACKENDS=sqlite scripts/bench-statements.sh
#   MYSQL_TX=1 BACKENDS=mysql scripts/bench-statements.sh
#   REV=target/debug/rev scripts/bench-statements.sh  # skip the release build
#
# Server URLs: REV_TEST_POSTGRES_URL, REV_TEST_MYSQL_URL (defaults: the local
# test servers); one database per run is created and dropped.
set -euo pipefail
cd "$(dirname "$0")/.."

STATEMENTS=${STATEMENTS:-60000}
REPEAT=${REPEAT:-3}
BACKENDS=${BACKENDS:-sqlite postgres mysql}
MYSQL_TX=${MYSQL_TX:-0}
. scripts/bench-db.sh

# Both sides must have inserted every row and recorded both revisions.
check() { # backend, url, who
  local n m
  n=$(query "$1" "$2" "SELECT COUNT(*) FROM customers")
  m=$(query "$1" "$2" "SELECT COUNT(*) FROM schema_migrations")
  [ "$n" = "$size" ] && [ "$m" = 2 ] || { echo "$3 left $n rows and $m revisions on $1, expected $size and 2" >&2; exit 1; }
}

generate() { # size, backend -> a project in $work/p$size-$backend
  local dir=$work/p$1-$2 begin="" end=""
  if [ "$2" = mysql ] && [ "$MYSQL_TX" = 1 ]; then begin='START TRANSACTION;\n' end='COMMIT;\n'; fi
  mkdir -p "$dir/versions"
  printf 'script_location: versions\n' >"$dir/config.yaml"
  cat >"$dir/versions/a00000000001_create_customers.sql" <<'EOF'
-- revision: a00000000001
-- down_revision: null
-- message: create customers

-- +upgrade
CREATE TABLE customers (
    id INTEGER PRIMARY KEY,
    name VARCHAR(100) NOT NULL,
    email VARCHAR(200) NOT NULL,
    city VARCHAR(100) NOT NULL,
    note TEXT,
    balance DECIMAL(12, 2) NOT NULL
);

-- +downgrade
DROP TABLE customers;
EOF
  {
    printf -- '-- revision: a00000000002\n-- down_revision: a00000000001\n-- message: load customers\n\n-- +upgrade\n'"$begin"
    awk -v n="$1" -v q="'" 'BEGIN {
      split("Ada Grace Alan Edsger Barbara Donald Frances Ken Dennis Margaret", first, " ")
      split("Lovelace Hopper Turing Dijkstra Liskov Knuth Allen Thompson Ritchie Hamilton", last, " ")
      split("Lyon Oslo Porto Kyoto Quito Perth Turin Lagos Hanoi Austin", city, " ")
      srand(42)
      for (i = 1; i <= n; i++) {
        f = first[int(rand() * 10) + 1]; l = last[int(rand() * 10) + 1]
        printf "INSERT INTO customers VALUES (%d, %s%s %s%s, %s%s.%s%d@example.com%s, %s%s%s, %s%s%s%ss account; batch %d%s, %.2f);\n",
          i, q, f, l, q, q, tolower(f), tolower(l), i, q, q, city[int(rand() * 10) + 1], q, q, f, q, q, int(i / 1000), q, rand() * 100000
      }
    }'
    printf "$end"'\n-- +downgrade\nDELETE FROM customers;\n'
  } >"$dir/versions/a00000000002_load_customers.sql"
}

echo "rev: $REV"
echo "one revision of N INSERTs, median of $REPEAT runs, a fresh database per run$([ "$MYSQL_TX" = 1 ] && echo "; on MySQL in one explicit transaction")"
printf '%-9s %8s %8s %10s %10s %8s %12s\n' backend N MB "rev ms" "client ms" ratio "rev max RSS"

for size in $STATEMENTS; do
  for backend in $BACKENDS; do
    generate "$size" "$backend"
    dir=$work/p$size-$backend
    bytes=$(stat -c %s "$dir/versions/a00000000002_load_customers.sql")
    name=rev_bench_stmt_$$
    url=$(fresh "$backend" "$name")
    "$REV" -q -c "$dir/config.yaml" --database-url "$url" upgrade heads --sql >"$work/$backend.sql"
    drop "$backend" "$name"
    rev_times=() client_times=() rss=()
    for _ in $(seq 1 "$REPEAT"); do
      url=$(fresh "$backend" "$name")
      t0=$(now_ms)
      /usr/bin/time -f %M -o "$work/rss" "$REV" -q -c "$dir/config.yaml" --database-url "$url" upgrade heads
      t1=$(now_ms)
      check "$backend" "$url" rev
      rev_times+=($((t1 - t0))) rss+=($(cat "$work/rss"))
      drop "$backend" "$name"

      url=$(fresh "$backend" "$name")
      t0=$(now_ms); client "$backend" "$url" "$work/$backend.sql"; t1=$(now_ms)
      check "$backend" "$url" client
      client_times+=($((t1 - t0)))
      drop "$backend" "$name"
    done
    r=$(printf '%s\n' "${rev_times[@]}" | median)
    c=$(printf '%s\n' "${client_times[@]}" | median)
    m=$(printf '%s\n' "${rss[@]}" | median)
    awk -v b="$backend" -v n="$size" -v bytes="$bytes" -v r="$r" -v c="$c" -v m="$m" 'BEGIN {
      printf "%-9s %8d %8.1f %10.0f %10.0f %7.2fx %9.0f MB\n", b, n, bytes / 1048576, r, c, r / c, m / 1024 }'
    echo "          runs: rev ${rev_times[*]} | client ${client_times[*]}"
  done
done
