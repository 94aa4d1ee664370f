#!/usr/bin/env python3
"""Compare rev's branch rules with Alembic's on a real Alembic history.

Reads the Alembic revision scripts under VERSIONS_DIR (recursively: the
`revision`, `down_revision`, `branch_labels` and `depends_on` assignments),
writes the same graph as rev revision files (SQL `SELECT 1;`) into a temp
project on SQLite, and asks both tools the same questions:

- the target `heads`, and `heads` the command;
- `LABEL@REV` for every label and revision: accepted or refused;
- `LABEL@base+N` for every N until it overshoots;
- with every head applied, the revisions `downgrade LABEL@base`,
  `downgrade LABEL@REV` (REV on the lineage) and `downgrade REV` revert.

It prints every difference and a count. rev is meant to differ only where
Alembic raises an error rev does not (see README "Branches").

Usage (Alembic is needed, `pip install alembic`; build rev first):

    python3 scripts/alembic-crosscheck.py target/debug/rev VERSIONS_DIR

e.g. VERSIONS_DIR = a checkout of openstack/neutron's
neutron/db/migration/alembic_migrations/versions (expand and contract
branches sharing one root, with depends_on across them).
"""

import ast
import json
import os
import re
import subprocess
import sys
import tempfile

from alembic.script.revision import Revision, RevisionError, RevisionMap

# Neutron names its labels through constants.
CONSTANTS = {
    "cli.EXPAND_BRANCH": "'expand'",
    "cli.CONTRACT_BRANCH": "'contract'",
    "migration.EXPAND_BRANCH": "'expand'",
    "migration.CONTRACT_BRANCH": "'contract'",
}


def as_list(value):
    if value in (None, (), []):
        return []
    return [value] if isinstance(value, str) else list(value)


def read_history(root):
    revisions = []
    for folder, _, files in os.walk(root):
        for name in sorted(files):
            if not name.endswith(".py") or name == "__init__.py":
                continue
            source = open(os.path.join(folder, name), encoding="utf-8").read()
            values = {}
            for key in ("revision", "down_revision", "branch_labels", "depends_on"):
                match = re.search(r"^%s\s*(?::[^=]*)?=\s*(.+)$" % key, source, re.M)
                if match:
                    text = match.group(1).strip()
                    for constant, literal in CONSTANTS.items():
                        text = text.replace(constant, literal)
                    values[key] = ast.literal_eval(text)
            if "revision" in values:
                revisions.append(
                    {
                        "id": values["revision"],
                        "down": as_list(values.get("down_revision")),
                        "labels": sorted(as_list(values.get("branch_labels"))),
                        "deps": as_list(values.get("depends_on")),
                    }
                )
    return revisions


def yaml_list(ids):
    return "null" if not ids else "[" + ", ".join(ids) + "]"


def main(rev_binary, versions_dir):
    revisions = read_history(versions_dir)
    work = tempfile.mkdtemp(prefix="rev-crosscheck-")
    os.makedirs(os.path.join(work, "versions"))
    with open(os.path.join(work, "config.yaml"), "w") as f:
        f.write("database_url: sqlite://check.db?mode=rwc\nscript_location: versions\n")
    for r in revisions:
        header = f"-- revision: {r['id']}\n-- down_revision: {yaml_list(r['down'])}\n"
        if r["labels"]:
            header += f"-- branch_labels: {yaml_list(r['labels'])}\n"
        if r["deps"]:
            header += f"-- depends_on: {yaml_list(r['deps'])}\n"
        with open(os.path.join(work, "versions", r["id"] + ".sql"), "w") as f:
            f.write(header + "-- message: m\n\n-- +upgrade\nSELECT 1;\n\n-- +downgrade\nSELECT 1;\n")

    def alembic_revision(r):
        down = tuple(r["down"]) if len(r["down"]) > 1 else (r["down"][0] if r["down"] else None)
        return Revision(
            r["id"],
            down,
            dependencies=tuple(r["deps"]) or None,
            branch_labels=tuple(r["labels"]) or None,
        )

    alembic = RevisionMap(lambda: [alembic_revision(r) for r in revisions])
    rev_binary = os.path.abspath(rev_binary)

    def rev(*args):
        run = subprocess.run([rev_binary, "-f", "json", *args], cwd=work, capture_output=True, text=True)
        if run.returncode != 0:
            return ("error", json.loads(run.stderr.strip().splitlines()[-1])["error"]["kind"])
        return json.loads(run.stdout)

    counts = {"same": 0, "different": 0}

    def compare(question, by_alembic, by_rev):
        if by_alembic == by_rev:
            counts["same"] += 1
        else:
            counts["different"] += 1
            print(f"{question}: alembic {by_alembic}, rev {by_rev}")

    shown = rev("show", "heads")
    compare(
        "target heads",
        sorted(x.revision for x in alembic.get_revisions("heads")),
        sorted(x["revision"] for x in (shown if isinstance(shown, list) else [shown])),
    )
    compare("rev heads", sorted(alembic.heads), sorted(x["revision"] for x in rev("heads")))
    labels = sorted({label for r in revisions for label in r["labels"]})
    ids = [r["id"] for r in revisions]
    on_lineage = {}
    for label in labels:
        for i in ids:
            try:
                alembic.get_revision(f"{label}@{i}")
                accepted = True
            except RevisionError:
                accepted = False
            on_lineage[label, i] = not isinstance(rev("show", f"{label}@{i}"), tuple)
            compare(f"{label}@{i} accepted", accepted, on_lineage[label, i])
        for n in range(1, len(ids) + 2):
            try:
                walked = alembic._walk(None, n, branch_label=label)
                by_alembic = walked.revision if walked is not None else "overshoot"
            except RevisionError:
                by_alembic = "error"
            shown = rev("show", f"{label}@base+{n}")
            if isinstance(shown, dict):
                by_rev = shown["revision"]
            else:
                by_rev = "overshoot" if shown == ("error", "overshoot") else "error"
            compare(f"{label}@base+{n}", by_alembic, by_rev)
            if by_alembic == by_rev == "overshoot":
                break

    subprocess.run([rev_binary, "upgrade", "heads", "-q"], cwd=work, check=True)
    heads = tuple(x.revision for x in alembic.get_revisions("heads"))

    def alembic_downgrade(target):
        try:
            steps = alembic.iterate_revisions(heads, target, select_for_downgrade=True)
            return sorted(x.revision for x in steps)
        except RevisionError as e:
            return ("error", type(e).__name__)

    def rev_downgrade(target):
        plan = rev("downgrade", target, "--dry-run")
        return sorted(s["revision"] for s in plan) if isinstance(plan, list) else plan

    targets = [f"{label}@base" for label in labels]
    targets += [f"{label}@{i}" for label in labels for i in ids if on_lineage[label, i]]
    targets += ids
    for target in targets:
        compare(f"downgrade {target}", alembic_downgrade(target), rev_downgrade(target))
    print(f"{len(revisions)} revisions, {len(labels)} labels: {counts}")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
