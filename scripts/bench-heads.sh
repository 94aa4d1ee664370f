#!/usr/bin/env bash
# Wall time and peak memory of `rev heads` on a generated history, in a
# release build. The issue's targets: under 100 ms and 64 MB at 10,000 files.
#
#   scripts/bench-heads.sh [N] [chain|branches|many_heads]
#
# Until the `rev` binary has a `heads` command, the engine is measured through
# `examples/load_heads.rs` (the same Graph::load + heads()).
set -euo pipefail
n="${1:-10000}"
shape="${2:-branches}"
cd "$(dirname "$0")/.."

cargo build --release --quiet --bin rev --example gen_history --example load_heads
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
target/release/examples/gen_history "$work/versions" "$n" "$shape"
cat > "$work/config.yaml" <<YAML
database_url: sqlite://app.db?mode=rwc
script_location: versions
YAML

# A binary without the command (or a stub) prints nothing: fall back.
if out="$(target/release/rev -c "$work/config.yaml" heads 2>/dev/null)" && [ -n "$out" ]; then
    cmd=(target/release/rev -c "$work/config.yaml" heads)
else
    echo "note: \`rev heads\` is not available yet; measuring examples/load_heads" >&2
    cmd=(target/release/examples/load_heads "$work/versions")
fi

# One warm-up run so the files are in the page cache, as on a developer's
# machine after a checkout; then the measured runs.
"${cmd[@]}" >/dev/null
for _ in 1 2 3; do
    /usr/bin/time -f "wall %e s  peak RSS %M KB" "${cmd[@]}" >/dev/null
done
