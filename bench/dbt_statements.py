#!/usr/bin/env python3
"""Turn dbt's debug log into a statement log that sql_floor can replay.

usage: dbt_statements.py DBT_LOG OUT.jsonl

DBT_LOG is a dbt.log written by a dbt-duckdb run (build.py keeps the last one
in $BENCH_DIR/build-N/dbt-logs/dbt.log). Every `On <connection>: <sql>` entry
becomes one line {"node": <unique_id or null>, "sql": <sql>}, the same format
as XFORM_STATEMENT_LOG. Replaying it shows what dbt's own SQL costs without
dbt around it, e.g. next to xform's floor:

    mkdir -p /tmp/dbt-floor && rm -f /tmp/dbt-floor/bench.duckdb
    bench/dbt_statements.py $BENCH_DIR/build-1000/dbt-logs/dbt.log /tmp/dbt.jsonl
    $CARGO_TARGET_DIR/release/examples/sql_floor --slowest 10 /tmp/dbt-floor/bench.duckdb /tmp/dbt.jsonl

Name the database file like the one dbt wrote (bench.duckdb): DuckDB names
the catalog after the file and dbt's SQL refers to it. Connections that are
not a node's (`master`, `list_...`, `create_...`) get node null.
"""
import json
import re
import sys

ENTRY = re.compile(r"^(?:\x1b\[0m)?\d\d:\d\d:\d\d\.\d+ \[\w+\s*\] \[[^\]]*\]: (.*)$")
QUERY = re.compile(r"On ([^:]+): (.*)$")
NODE = re.compile(r"^(model|seed|test|snapshot|unit_test)\.")


def entries(path):
    """Log entries as lists of lines (an entry runs until the next timestamp)."""
    cur = None
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            line = line.rstrip("\n")
            m = ENTRY.match(line)
            if m:
                if cur is not None:
                    yield cur
                cur = [m.group(1)]
            elif cur is not None:
                cur.append(line)
    if cur is not None:
        yield cur


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    n, prev = 0, {}
    with open(sys.argv[2], "w") as out:
        for e in entries(sys.argv[1]):
            m = QUERY.match(e[0])
            if not m:
                continue
            conn = m.group(1)
            body = [m.group(2)] + e[1:]
            # dbt-duckdb logs seed loads with a trailing "..." line.
            while body and body[-1].strip() in ("...", ""):
                body.pop()
            sql = "\n".join(body).strip()
            if sql in ("", "Close"):
                continue
            if sql == "COMMIT" and prev.get(conn) == "COMMIT":
                continue  # dbt logs each commit twice: the event, then the query
            prev[conn] = sql
            node = conn if NODE.match(conn) else None
            out.write(json.dumps({"node": node, "sql": sql}) + "\n")
            n += 1
    print(f"{n} statements -> {sys.argv[2]}", file=sys.stderr)


if __name__ == "__main__":
    main()
