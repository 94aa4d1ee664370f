# Sourced by the bench scripts: write_chain DIR N [SQL] writes N revisions
# r00000000001 <- r00000000002 <- ... into DIR, revision i creating table
# t<i> (then running SQL, where `$i` is the revision's number) and its
# downgrade dropping it.
write_chain() {
  local dir=$1 n=$2 extra=${3:-} parent=null id i
  for i in $(seq 1 "$n"); do
    id=$(printf 'r%011d' "$i")
    {
      printf -- '-- revision: %s\n-- down_revision: %s\n-- message: create t%s\n\n' "$id" "$parent" "$i"
      printf -- '-- +upgrade\nCREATE TABLE t%s (id INTEGER PRIMARY KEY, name VARCHAR(50) NOT NULL);\n' "$i"
      [ -n "$extra" ] && printf '%s\n' "${extra//\$i/$i}"
      printf -- '\n-- +downgrade\nDROP TABLE t%s;\n' "$i"
    } >"$dir/${id}_create_t$i.sql"
    parent=$id
  done
}
