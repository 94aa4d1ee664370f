# Sourced by the database bench scripts (bench-apply.sh, bench-statements.sh):
# the server URLs, the rev binary (a release build unless REV is set), a
# scratch folder $work removed on exit, and helpers to make, drop, feed and
# query a fresh database on sqlite, postgres or mysql.
PG_ADMIN=${REV_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}
MY_ADMIN=${REV_TEST_MYSQL_URL:-mysql://root@127.0.0.1:3306/test}

if [ -z "${REV:-}" ]; then
  cargo build --release --quiet --bin rev
  REV=$PWD/target/release/rev
fi
REV=$(realpath "$REV")

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

now_ms() { date +%s%3N; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }

pg_url() { echo "${PG_ADMIN%/*}/$1"; }
my_url() { echo "${MY_ADMIN%/*}/$1"; }
my_args() { # mysql client flags for a mysql:// URL (user, host, port; no password support needed for the test server)
  local rest=${1#mysql://} userhost hostport db
  userhost=${rest%%/*}; db=${rest#*/}
  local user=${userhost%@*} hostport=${userhost#*@}
  echo "-u ${user%%:*} -h ${hostport%:*} -P ${hostport##*:} $db"
}

fresh() { # backend, name -> prints the URL of an empty database
  case $1 in
    sqlite) rm -f "$work/$2.db" "$work/$2.db.lock"; echo "sqlite://$work/$2.db?mode=rwc" ;;
    postgres) psql -X -q "$PG_ADMIN" -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $2" -c "CREATE DATABASE $2" >/dev/null; pg_url "$2" ;;
    mysql) mysql $(my_args "$MY_ADMIN") -e "DROP DATABASE IF EXISTS $2; CREATE DATABASE $2"; my_url "$2" ;;
  esac
}

drop() { # backend, name
  case $1 in
    sqlite) rm -f "$work/$2.db" "$work/$2.db.lock" ;;
    postgres) psql -X -q "$PG_ADMIN" -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $2" >/dev/null ;;
    mysql) mysql $(my_args "$MY_ADMIN") -e "DROP DATABASE IF EXISTS $2" ;;
  esac
}

client() { # backend, url, script
  case $1 in
    sqlite) local path=${2#sqlite://}; sqlite3 "${path%%\?*}" <"$3" >/dev/null ;;
    postgres) psql -X -q -v ON_ERROR_STOP=1 "$2" -f "$3" >/dev/null ;;
    mysql) mysql $(my_args "$2") <"$3" ;;
  esac
}

query() { # backend, url, sql -> the single value it returns
  case $1 in
    sqlite) local path=${2#sqlite://}; sqlite3 "${path%%\?*}" "$3" ;;
    postgres) psql -X -qtA "$2" -c "$3" ;;
    mysql) mysql -N $(my_args "$2") -e "$3" ;;
  esac
}
