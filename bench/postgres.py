#!/usr/bin/env python3
"""Benchmark xform against dbt-core + dbt-postgres on Postgres (run via bench/postgres.sh).

Two measurements, each tool on a fresh database of the server in XFORM_TEST_PG_URL
(a superuser; host, port, user and password also from XFORM_TEST_PG_*):

  seed   one CSV of --rows rows (default 1,000,000; integer, text, float, date,
         timestamp, boolean columns, some empty): `xform seed` (COPY FROM STDIN)
         vs `dbt seed` (batched INSERTs). Target: dbt/xform >= 10x.
  build  ../shared/bench/genproj.py --models N (default 1000): `seed && build`.
         Target: dbt/xform >= 5x.

Both tools must leave the same row counts; the script checks it.

Environment: XFORM (xform binary, default $CARGO_TARGET_DIR/release/xform),
XFORM_DBT (default ~/.cache/xform/venv-dbt-1.11/bin/dbt), GENPROJ, BENCH_DIR
(default /tmp/xform-bench-pg).
"""
import argparse
import os
import random
import shutil
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def die(msg):
    print(f"error: {msg}", file=sys.stderr)
    sys.exit(2)


def env(key):
    v = os.environ.get(key)
    if not v:
        die(f"{key} is not set (bench/postgres.sh starts a server and sets it)")
    return v


def psql(db, sql):
    """Runs SQL with psql as the test superuser; returns stdout."""
    out = subprocess.run(
        ["psql", "-X", "-q", "-t", "-A", "-h", env("XFORM_TEST_PG_HOST"), "-p", env("XFORM_TEST_PG_PORT"),
         "-U", env("XFORM_TEST_PG_USER"), "-d", db, "-c", sql],
        env={**os.environ, "PGPASSWORD": env("XFORM_TEST_PG_PASSWORD")},
        capture_output=True, text=True)
    if out.returncode != 0:
        die(f"psql: {sql}: {out.stderr.strip()}")
    return out.stdout.strip()


def fresh_db(name):
    psql("postgres", f'drop database if exists "{name}" with (force)')
    psql("postgres", f'create database "{name}"')


def write_project(proj, profile, dbname):
    with open(os.path.join(proj, "profiles.yml"), "w") as f:
        f.write(
            f"{profile}:\n  target: pg\n  outputs:\n    pg:\n      type: postgres\n"
            f"      host: \"{{{{ env_var('XFORM_TEST_PG_HOST') }}}}\"\n"
            f"      port: \"{{{{ env_var('XFORM_TEST_PG_PORT') | as_number }}}}\"\n"
            f"      user: \"{{{{ env_var('XFORM_TEST_PG_USER') }}}}\"\n"
            f"      password: \"{{{{ env_var('XFORM_TEST_PG_PASSWORD') }}}}\"\n"
            f"      dbname: {dbname}\n      schema: main\n      threads: 4\n")


def timed(cmd, cwd, log_path):
    t0 = time.perf_counter()
    with open(log_path, "w") as log:
        r = subprocess.run(cmd, cwd=cwd, stdout=log, stderr=subprocess.STDOUT,
                           env={**os.environ, "DBT_PROFILES_DIR": cwd, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
                                "NO_COLOR": "1"})
    dt = time.perf_counter() - t0
    if r.returncode != 0:
        die(f"{' '.join(cmd)} failed (exit {r.returncode}); see {log_path}")
    return dt


def row_counts(db):
    return psql(db, "select string_agg(schemaname || '.' || relname || '=' || n_live_tup, ' ' order by 1) "
                    "from pg_stat_user_tables")


def count(db, table):
    return int(psql(db, f"select count(*) from {table}"))


def report(name, dbt_s, xform_s, target):
    ratio = dbt_s / xform_s if xform_s > 0 else float("inf")
    verdict = "ok" if ratio >= target else "BELOW TARGET"
    print(f"{name:<8} dbt {dbt_s:8.2f} s   xform {xform_s:8.2f} s   dbt/xform {ratio:6.1f}x  "
          f"(target >= {target:.0f}x: {verdict})")


def tools(xform, dbt):
    return (("xform", xform),) if dbt is None else (("xform", xform), ("dbt", dbt))


def report_or_print(name, times, target):
    if "dbt" in times:
        report(name, times["dbt"], times["xform"], target)
    else:
        print(f"{name:<8} xform {times['xform']:8.2f} s   (dbt skipped)")


def bench_seed(work, xform, dbt, rows):
    proj = os.path.join(work, "seed")
    shutil.rmtree(proj, ignore_errors=True)
    os.makedirs(os.path.join(proj, "seeds"))
    with open(os.path.join(proj, "dbt_project.yml"), "w") as f:
        f.write("name: bench_seed\nversion: '1.0'\nprofile: bench_seed\n")
    rnd = random.Random(42)
    with open(os.path.join(proj, "seeds", "big.csv"), "w") as f:
        f.write("id,name,amount,day,seen_at,flag\n")
        for i in range(rows):
            name = "" if i % 97 == 0 else f"name {rnd.randrange(100000)}"
            f.write(f"{i},{name},{rnd.random() * 1000:.3f},2024-{1 + i % 12:02d}-{1 + i % 28:02d},"
                    f"2024-01-01 {i % 24:02d}:{i % 60:02d}:00,{'true' if i % 2 else 'false'}\n")
    times = {}
    for tool, exe in tools(xform, dbt):
        db = f"bench_seed_{tool}"
        fresh_db(db)
        write_project(proj, "bench_seed", db)
        shutil.rmtree(os.path.join(proj, "target"), ignore_errors=True)
        times[tool] = timed([exe, "seed"], proj, os.path.join(work, f"seed-{tool}.log"))
        n = count(db, "main.big")
        if n != rows:
            die(f"{tool} loaded {n} rows, expected {rows}")
    report_or_print(f"seed {rows}", times, 10)


def bench_build(work, xform, dbt, models, genproj):
    proj = os.path.join(work, f"proj-{models}")
    shutil.rmtree(proj, ignore_errors=True)
    subprocess.run([sys.executable, genproj, proj, "--models", str(models)], check=True,
                   stdout=subprocess.DEVNULL)
    with open(os.path.join(proj, "dbt_project.yml")) as f:
        profile = next((line.split(":", 1)[1].strip().strip("'\"") for line in f if line.startswith("profile:")), None)
    if not profile:
        die("genproj's dbt_project.yml has no profile")
    times, counts = {}, {}
    for tool, exe in tools(xform, dbt):
        db = f"bench_build_{tool}"
        fresh_db(db)
        write_project(proj, profile, db)
        shutil.rmtree(os.path.join(proj, "target"), ignore_errors=True)
        t = timed([exe, "seed"], proj, os.path.join(work, f"build-seed-{tool}.log"))
        t += timed([exe, "build"], proj, os.path.join(work, f"build-{tool}.log"))
        times[tool] = t
        psql(db, "analyze")
        counts[tool] = psql(db, "select count(*) from pg_class c join pg_namespace n on n.oid = c.relnamespace "
                                "where n.nspname like 'main%' and c.relkind in ('r', 'v')")
    if "dbt" in counts and counts["xform"] != counts["dbt"]:
        die(f"relation counts differ: dbt {counts['dbt']}, xform {counts['xform']}")
    report_or_print(f"build {models}", times, 5)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--models", type=int, default=1000)
    ap.add_argument("--only", choices=["seed", "build"])
    ap.add_argument("--skip-dbt", action="store_true", help="time xform alone (dbt needs minutes per 100,000 seed rows)")
    a = ap.parse_args()
    target = os.environ.get("CARGO_TARGET_DIR", os.path.expanduser("~/.cache/xform/target"))
    xform = os.environ.get("XFORM") or os.path.join(target, "release", "xform")
    dbt = os.environ.get("XFORM_DBT") or os.path.expanduser("~/.cache/xform/venv-dbt-1.11/bin/dbt")
    genproj = os.environ.get("GENPROJ") or os.path.join(REPO, "..", "shared", "bench", "genproj.py")
    for what, path in (("xform", xform), ("dbt", dbt)):
        if not os.access(path, os.X_OK):
            die(f"{what} not found at {path}")
    if a.skip_dbt:
        dbt = None
    work = os.environ.get("BENCH_DIR", "/tmp/xform-bench-pg")
    os.makedirs(work, exist_ok=True)
    if a.only in (None, "seed"):
        bench_seed(work, xform, dbt, a.rows)
    if a.only in (None, "build"):
        if not os.path.isfile(genproj):
            die(f"project generator not found at {genproj} (set GENPROJ)")
        bench_build(work, xform, dbt, a.models, genproj)


if __name__ == "__main__":
    main()
