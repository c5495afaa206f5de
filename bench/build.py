#!/usr/bin/env python3
"""Benchmark `xform seed && xform build` against dbt-core and the SQL floor on DuckDB.

Run from anywhere (normally via bench/build.sh or `./dev bench build`). See bench/README.md.

Three runs of the same generated project, each into a fresh DuckDB file:
  dbt-core  `dbt seed && dbt build` (one run, timings cached per model count)
  xform     `xform seed && xform build` with XFORM_STATEMENT_LOG set (best of --runs)
  floor     the statements xform logged, replayed back to back in one DuckDB
            connection by examples/sql_floor.rs (best of --runs)

Targets (on seed + build): dbt/xform >= 10x, xform/floor <= 1.3x.

Environment:
  XFORM             xform binary (default: $CARGO_TARGET_DIR/release/xform)
  SQL_FLOOR         sql_floor binary (default: $CARGO_TARGET_DIR/release/examples/sql_floor)
  CARGO_TARGET_DIR  cargo target dir (default: ~/.cache/xform/target)
  GENPROJ           project generator (default: <repo>/../shared/bench/genproj.py)
  BENCH_DIR         scratch dir for projects, databases, logs and cached dbt timings
                    (default: /tmp/xform-bench)
  XFORM_DBT         dbt executable (default: $DBT_VENV/bin/dbt)
  DBT_VENV          venv holding dbt-core 1.11 + dbt-duckdb (default: ~/.cache/xform/venv-dbt-1.11;
                    created with pip if it has no bin/dbt and XFORM_DBT is not set)
  BENCH_SKIP_DBT=1  same as --skip-dbt
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compile as cb  # noqa: E402  (shared helpers of the compile benchmark)

REPO = cb.REPO
TARGET_SPEEDUP = 10.0  # dbt / xform, at least
TARGET_FLOOR = 1.3     # xform / floor, at most
PHASES = ["seed", "build"]
DB_PLACEHOLDER = "@@XFORM_BENCH_DB@@"

log, die = cb.log, cb.die
fmt_time, fmt_rss = cb.fmt_time, cb.fmt_rss


def fmt_ratio(x):
    return "-" if x is None else f"{x:.2f}x" if x < 10 else f"{x:.1f}x"


# ---------------------------------------------------------------- project

def ensure_project(work, n, genproj, genproj_sha, regen):
    """Generate the project into WORK/proj, and a profile template whose DuckDB
    path is a placeholder (see write_profile)."""
    proj = os.path.join(work, "proj")
    template = os.path.join(work, "profiles.yml.in")
    stamp_path = os.path.join(work, "proj.stamp")
    want = {"models": n, "genproj_sha256": genproj_sha}
    if not regen and os.path.isdir(proj) and os.path.isfile(template):
        try:
            with open(stamp_path) as f:
                if json.load(f) == want:
                    log(f"  reusing {proj}")
                    return proj, template
        except (OSError, ValueError):
            pass
    log(f"  generating {n} models into {proj} ...")
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    tmp = proj + ".tmp"
    gen_profiles = os.path.join(work, "genproj-profile")
    t0 = time.perf_counter()
    subprocess.run([sys.executable, genproj, tmp, "--models", str(n),
                    "--profile-dir", gen_profiles, "--db", DB_PLACEHOLDER], check=True)
    os.rename(tmp, proj)
    os.rename(os.path.join(gen_profiles, "profiles.yml"), template)
    os.rmdir(gen_profiles)
    with open(stamp_path, "w") as f:
        json.dump(want, f)
    log(f"  generated in {time.perf_counter() - t0:.1f} s")
    return proj, template


def write_profile(template, profiles_dir, db):
    """genproj's profiles.yml with the DuckDB path set to db; returns the dir."""
    with open(template) as f:
        text = f.read()
    if DB_PLACEHOLDER not in text:
        die(f"{template} has no {DB_PLACEHOLDER}: genproj.py's --db option changed?")
    os.makedirs(profiles_dir, exist_ok=True)
    with open(os.path.join(profiles_dir, "profiles.yml"), "w") as f:
        f.write(text.replace(DB_PLACEHOLDER, db))
    return profiles_dir


def remove_db(db):
    """A fresh database: remove the file and its write-ahead log."""
    for p in (db, db + ".wal", db + ".tmp"):
        if os.path.isdir(p):
            shutil.rmtree(p)
        elif os.path.exists(p):
            os.unlink(p)


def clean_project(proj):
    """Remove what a previous tool left in the project (target/ includes dbt's
    partial-parse file, logs/ dbt's log)."""
    for d in ("target", "logs"):
        shutil.rmtree(os.path.join(proj, d), ignore_errors=True)


def count_models(proj):
    n = 0
    for _root, _dirs, names in os.walk(os.path.join(proj, "models")):
        n += sum(1 for name in names if name.endswith(".sql"))
    return n


# ---------------------------------------------------------------- tools

def find_exe(env_var, default, what, build_hint):
    exe = os.path.abspath(os.environ.get(env_var) or default)
    if not (os.path.isfile(exe) and os.access(exe, os.X_OK)):
        die(f"{what} not found at {exe}\n"
            f"  Build it first (from the repo root, with ./dev's environment: `./dev env`):\n"
            f"    {build_hint}\n"
            f"  or point {env_var}=/path/to/it at a binary.  (`./dev bench build` does both.)")
    return exe


def target_dir():
    return os.environ.get("CARGO_TARGET_DIR", os.path.expanduser("~/.cache/xform/target"))


def find_dbt():
    """Return (dbt_exe, versions, note) or (None, None, reason)."""
    exe = os.environ.get("XFORM_DBT")
    if exe:
        exe = os.path.abspath(exe)
        if not os.access(exe, os.X_OK):
            return None, None, f"XFORM_DBT={exe} is not executable"
        venv = os.path.dirname(os.path.dirname(exe))
        py = os.path.join(venv, "bin", "python")
        try:
            out = subprocess.run(
                [py, "-c", "from importlib.metadata import version as v; print(v('dbt-core'), v('dbt-duckdb'))"],
                check=True, capture_output=True, text=True, env=cb.dbt_env(venv)).stdout.split()
            versions = {"dbt-core": out[0], "dbt-duckdb": out[1]}
        except (OSError, subprocess.CalledProcessError, IndexError) as e:
            return None, None, f"could not read dbt versions with {py}: {e}"
    else:
        venv = os.path.abspath(os.environ.get("DBT_VENV")
                               or os.path.expanduser("~/.cache/xform/venv-dbt-1.11"))
        exe, info = cb.ensure_dbt(venv)
        if not exe:
            return None, None, info
        versions = info
    return exe, versions, f"dbt-core {versions['dbt-core']}, dbt-duckdb {versions['dbt-duckdb']} ({exe})"


def duckdb_python(dbt):
    """The dbt venv's python, if it can import duckdb (used to count what each
    run left in its database)."""
    if not dbt:
        return None
    py = os.path.join(os.path.dirname(dbt), "python")
    try:
        subprocess.run([py, "-c", "import duckdb"], check=True, capture_output=True)
        return py
    except (OSError, subprocess.CalledProcessError):
        return None


DB_SUMMARY = """
import duckdb, json, sys
c = duckdb.connect(sys.argv[1], read_only=True)
rows = c.execute(\"\"\"select table_type, count(*) from information_schema.tables
    where table_schema not in ('information_schema', 'pg_catalog') group by 1\"\"\").fetchall()
tables = c.execute("select database_name, schema_name, table_name from duckdb_tables() "
                   "where not internal").fetchall()
q = lambda name: '"' + name.replace('"', '""') + '"'
rows_sql = " union all ".join(f"select count(*) as n from {q(d)}.{q(s)}.{q(t)}" for d, s, t in tables)
total = c.execute(f"select coalesce(sum(n), 0) from ({rows_sql})").fetchone()[0] if tables else 0
out = {"tables": 0, "views": 0, "rows": int(total)}
for kind, n in rows:
    out["views" if "VIEW" in kind else "tables"] += n
print(json.dumps(out))
"""


def db_summary(py, db):
    """{"tables", "views", "rows"} of a database, or None."""
    if not py or not os.path.exists(db):
        return None
    try:
        p = subprocess.run([py, "-c", DB_SUMMARY, db], capture_output=True, text=True, timeout=120)
        return json.loads(p.stdout) if p.returncode == 0 else None
    except (OSError, ValueError, subprocess.TimeoutExpired):
        return None


def fmt_summary(s):
    return "?" if not s else f"{s['tables']} tables, {s['views']} views, {s['rows']:,} rows in the tables"


# ---------------------------------------------------------------- runs

def run_phase(cmd, cwd, env, log_path, timeout):
    """One command under the RSS wrapper, its output in log_path."""
    if os.path.exists(log_path):
        os.unlink(log_path)
    r = cb.run_once(cmd, cwd, env=env, timeout=timeout, log_path=log_path, want_rss=True)
    r["ok"] = r["rc"] == 0 and not r["timed_out"]
    if not r["ok"]:
        r["error"] = f"timed out after {timeout:g}s" if r["timed_out"] else f"exit code {r['rc']}"
        r["log"] = log_path
        r["output_tail"] = cb.tail(log_path)
    return r


def dbt_done_line(log_path):
    """dbt's closing 'PASS=.. WARN=.. ERROR=..' summary, if any."""
    try:
        with open(log_path, "rb") as f:
            text = f.read().decode("utf-8", "replace")
    except OSError:
        return None
    m = re.findall(r"Done\. (PASS=\d+ WARN=\d+ ERROR=\d+ SKIP=\d+(?: NO-OP=\d+)? TOTAL=\d+)", text)
    return m[-1] if m else None


def run_dbt(dbt, versions, n, work, proj, profiles, db, genproj_sha, cache, cache_path, refresh, logs, timeout):
    key = (f"n={n} genproj={genproj_sha} dbt-core={versions['dbt-core']} "
           f"dbt-duckdb={versions['dbt-duckdb']} cmd=seed&&build")
    if not refresh and key in cache:
        return dict(cache[key], cached=True)
    log(f"  dbt seed && dbt build at {n} models (one run; this takes minutes) ...")
    env = cb.dbt_env(os.path.dirname(os.path.dirname(dbt)))
    remove_db(db)
    clean_project(proj)
    res = {"ok": True, "phases": {}, "measured_at": time.strftime("%Y-%m-%d %H:%M:%S"),
           "loadavg_before": cb.loadavg()}
    # dbt's target/ and logs/ outside the project, kept for inspection
    # (dbt.log has every statement dbt ran); the xform runs clean the project.
    dbt_target, dbt_logs = os.path.join(work, "dbt-target"), os.path.join(work, "dbt-logs")
    for p in (dbt_target, dbt_logs):
        shutil.rmtree(p, ignore_errors=True)
    for phase in PHASES:
        lp = os.path.join(logs, f"dbt-{phase}-{n}.log")
        r = run_phase([dbt, phase, "--project-dir", proj, "--profiles-dir", profiles,
                       "--target-path", dbt_target, "--log-path", dbt_logs], proj, env, lp, timeout)
        entry = {"ok": r["ok"], "seconds": r["wall"], "rss_kib": r["rss_kib"], "done": dbt_done_line(lp)}
        if not r["ok"]:
            entry.update(error=r["error"], log=lp, output_tail=r["output_tail"])
            log(f"    dbt {phase} FAILED ({r['error']}); output tail:\n{r['output_tail']}")
            res["phases"][phase] = entry
            res["ok"] = False
            break
        log(f"    dbt {phase}: {fmt_time(r['wall'])}, peak RSS {fmt_rss(r['rss_kib'])}"
            + (f", {entry['done']}" if entry["done"] else ""))
        res["phases"][phase] = entry
    res["loadavg_after"] = cb.loadavg()
    cache[key] = res
    cb.save_cache(cache_path, cache)
    return dict(res, cached=False)


def unknown_command(r):
    text = (r.get("output_tail") or "").lower()
    return "unrecognized subcommand" in text or "unknown command" in text


def run_xform(xform, proj, profiles, db, statements, logs, n, timeout):
    """xform seed && xform build once, into a fresh database. Returns
    {"ok": True, "phases": {phase: {seconds, rss_kib, statements}}}, where
    statements is None if xform wrote no statement log, or
    {"ok": False, "error": message}."""
    remove_db(db)
    clean_project(proj)
    out = {"ok": True, "phases": {}}
    for phase in PHASES:
        stmt_log = statements[phase]
        if os.path.exists(stmt_log):
            os.unlink(stmt_log)
        env = dict(os.environ, XFORM_STATEMENT_LOG=stmt_log)
        lp = os.path.join(logs, f"xform-{phase}-{n}.log")
        r = run_phase([xform, phase, "--project-dir", proj, "--profiles-dir", profiles], proj, env, lp, timeout)
        if not r["ok"]:
            msg = f"`xform {phase}` failed ({r['error']}); log: {lp}\n{r['output_tail']}"
            if unknown_command(r):
                msg = (f"this xform has no `{phase}` command yet (`xform {phase}` exited with "
                       f"{r['error']}: unrecognized subcommand), so the xform and floor columns stay empty "
                       f"until `xform seed` and `xform build` exist.\nbinary: {xform}\n{r['output_tail']}")
            return {"ok": False, "error": msg}
        out["phases"][phase] = {"seconds": r["wall"], "rss_kib": r["rss_kib"],
                                "statements": count_statements(stmt_log)}
    return out


def count_statements(path):
    try:
        with open(path, "rb") as f:
            return sum(1 for line in f if line.strip())
    except OSError:
        return None


def run_floor(sql_floor, db, statements, logs, n, timeout):
    """Replay both statement logs in one connection into a fresh database.
    Phase times: seed = open + seed statements, build = build statements + close."""
    remove_db(db)
    lp = os.path.join(logs, f"floor-{n}.log")
    out_path = os.path.join(logs, f"floor-{n}.json")
    cmd = [sql_floor, db] + [statements[p] for p in PHASES]
    # stdout (the JSON report) to its own file; stderr to the log.
    if os.path.exists(lp):
        os.unlink(lp)
    r = cb.run_once(["sh", "-c", 'out="$1"; shift; exec "$@" > "$out"', "sh", out_path] + cmd,
                    os.path.dirname(db), timeout=timeout, log_path=lp, want_rss=True)
    if r["rc"] != 0 or r["timed_out"]:
        why = f"timed out after {timeout:g}s" if r["timed_out"] else f"exit code {r['rc']}"
        return {"ok": False, "error": f"sql_floor failed ({why}); log: {lp}\n{cb.tail(lp)}"}
    try:
        with open(out_path) as f:
            rep = json.load(f)
        files = rep["files"]
        phases = {
            "seed": {"seconds": rep["open_seconds"] + files[0]["seconds"],
                     "statements": files[0]["statements"], "regrouped": files[0]["regrouped"]},
            "build": {"seconds": files[1]["seconds"] + rep["close_seconds"],
                      "statements": files[1]["statements"], "regrouped": files[1]["regrouped"]},
        }
    except (OSError, ValueError, KeyError, IndexError, TypeError) as e:
        return {"ok": False, "error": f"sql_floor printed no usable report ({e}); see {out_path}"}
    return {"ok": True, "phases": phases, "seconds": rep["seconds"], "wall": r["wall"],
            "rss_kib": r["rss_kib"]}


def best(runs, phase):
    vals = [r["phases"][phase]["seconds"] for r in runs if phase in r["phases"]]
    return min(vals) if vals else None


def best_total(runs):
    vals = [sum(r["phases"][p]["seconds"] for p in PHASES) for r in runs
            if all(p in r["phases"] for p in PHASES)]
    return min(vals) if vals else None


def peak(runs, phase=None):
    vals = [(r["phases"][phase]["rss_kib"] if phase else r.get("rss_kib")) for r in runs
            if (phase is None or phase in r["phases"])]
    vals = [v for v in vals if v is not None]
    return max(vals) if vals else None


# ---------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", type=int, default=1000, help="model count for genproj.py (default 1000)")
    ap.add_argument("--runs", type=int, default=3, help="xform and floor runs; the best is reported (default 3)")
    ap.add_argument("--skip-dbt", action="store_true", help="skip dbt-core (also BENCH_SKIP_DBT=1)")
    ap.add_argument("--refresh-dbt", action="store_true", help="re-run dbt even if timings are cached")
    ap.add_argument("--dbt-timeout", type=float, default=3600, help="seconds per dbt command (default 3600)")
    ap.add_argument("--timeout", type=float, default=900,
                    help="seconds per xform command and per floor replay (default 900)")
    ap.add_argument("--regen", action="store_true", help="regenerate the project even if cached")
    ap.add_argument("--json", metavar="PATH", help="also write results as JSON here")
    a = ap.parse_args()
    if a.runs < 1 or a.models < 1:
        die("--runs and --models must be >= 1")
    n = a.models

    bench_dir = os.path.abspath(os.environ.get("BENCH_DIR") or "/tmp/xform-bench")
    genproj = os.path.abspath(os.environ.get("GENPROJ")
                              or os.path.join(REPO, "..", "shared", "bench", "genproj.py"))
    skip_dbt = a.skip_dbt or os.environ.get("BENCH_SKIP_DBT", "") not in ("", "0", "false", "no")

    xform = find_exe("XFORM", os.path.join(target_dir(), "release", "xform"), "xform binary",
                     "cargo build --release --no-default-features --bin xform")
    sql_floor = find_exe("SQL_FLOOR", os.path.join(target_dir(), "release", "examples", "sql_floor"),
                         "sql_floor binary", "cargo build --release --no-default-features --example sql_floor")
    if not os.path.isfile(genproj):
        die(f"project generator not found at {genproj} (set GENPROJ=/path/to/genproj.py)")
    v = subprocess.run([xform, "--version"], capture_output=True, text=True)
    xform_version = ((v.stdout or v.stderr).strip().splitlines() or ["?"])[0]

    work = os.path.join(bench_dir, f"build-{n}")
    logs = os.path.join(bench_dir, "logs")
    os.makedirs(logs, exist_ok=True)
    genproj_sha = cb.sha256_file(genproj)

    dbt, dbt_versions, dbt_note = None, None, "skipped (--skip-dbt / BENCH_SKIP_DBT)"
    if not skip_dbt:
        dbt, dbt_versions, dbt_note = find_dbt()
        if not dbt:
            dbt_note = f"unavailable: {dbt_note}"
            log(f"warning: dbt {dbt_note}")

    log(f"== {n} models")
    proj, template = ensure_project(work, n, genproj, genproj_sha, a.regen)
    # One folder per run, the same file name in each: DuckDB names the catalog
    # after the file ("bench"), and the statements xform logs name it.
    dbs = {k: os.path.join(work, f"db-{k}", "bench.duckdb") for k in ("dbt", "xform", "floor")}
    for db in dbs.values():
        os.makedirs(os.path.dirname(db), exist_ok=True)
    profiles = {k: write_profile(template, os.path.join(work, f"profiles-{k}"), dbs[k])
                for k in ("dbt", "xform")}
    statements = {p: os.path.join(work, f"statements-{p}.jsonl") for p in PHASES}

    # ------------------------------------------------------------ dbt
    d = None
    cache_path = os.path.join(bench_dir, "dbt-timings.json")
    if dbt:
        cache = cb.load_cache(cache_path)
        d = run_dbt(dbt, dbt_versions, n, work, proj, profiles["dbt"], dbs["dbt"], genproj_sha, cache,
                    cache_path, a.refresh_dbt, logs, a.dbt_timeout)

    # ------------------------------------------------------------ xform
    failures = []
    xruns, x_err = [], None
    for i in range(a.runs):
        log(f"  xform seed && xform build, run {i + 1}/{a.runs} ...")
        r = run_xform(xform, proj, profiles["xform"], dbs["xform"], statements, logs, n, a.timeout)
        if not r["ok"]:
            x_err = r["error"]
            failures.append(f"xform: {x_err}")
            log(f"    FAILED: {x_err}")
            break
        xruns.append(r)
        log("    " + ", ".join(f"{p} {fmt_time(r['phases'][p]['seconds'])}" for p in PHASES))

    # ------------------------------------------------------------ floor
    fruns, f_err = [], None
    no_log = [p for p in PHASES if xruns and xruns[-1]["phases"][p]["statements"] is None]
    if x_err:
        f_err = "not measured: it replays the statements of a successful xform run"
    elif no_log:
        f_err = (f"not measured: `xform {' / '.join(no_log)}` wrote no statement log to "
                 f"XFORM_STATEMENT_LOG ({', '.join(statements[p] for p in no_log)}); xform must append "
                 'one JSON line {"node": ..., "sql": ...} there per statement it executes')
        failures.append(f"floor: {f_err}")
    else:
        total_statements = sum(xruns[-1]["phases"][p]["statements"] for p in PHASES)
        for i in range(a.runs):
            log(f"  floor: replaying {total_statements:,} statements with sql_floor, run {i + 1}/{a.runs} ...")
            r = run_floor(sql_floor, dbs["floor"], statements, logs, n, a.timeout)
            if not r["ok"]:
                f_err = r["error"]
                failures.append(f"floor: {f_err}")
                log(f"    FAILED: {f_err}")
                break
            fruns.append(r)
            log("    " + ", ".join(f"{p} {fmt_time(r['phases'][p]['seconds'])}" for p in PHASES))
    if d is not None and not d["ok"]:
        bad = next(p for p in PHASES if p in d["phases"] and not d["phases"][p]["ok"])
        e = d["phases"][bad]
        failures.append(f"dbt {bad}: {e['error']}; log: {e.get('log')}"
                        + (" (cached failure; --refresh-dbt re-runs it)" if d.get("cached") else ""))

    # ------------------------------------------------------------ report
    def dbt_s(phase):
        if not d or not d["ok"]:
            return None
        if phase == "total":
            return sum(d["phases"][p]["seconds"] for p in PHASES)
        return d["phases"][phase]["seconds"]

    def x_s(phase):
        return best_total(xruns) if phase == "total" else best(xruns, phase)

    def f_s(phase):
        return best_total(fruns) if phase == "total" else best(fruns, phase)

    def ratio(a_, b_):
        return a_ / b_ if a_ is not None and b_ else None

    rows = []
    for phase in PHASES + ["total"]:
        dt, xt, ft = dbt_s(phase), x_s(phase), f_s(phase)
        if phase == "total":
            x_rss = max(filter(None, [peak(xruns, p) for p in PHASES]), default=None)
            d_rss = max(filter(None, [d["phases"][p].get("rss_kib") for p in PHASES]), default=None) \
                if d and d["ok"] else None
        else:
            x_rss = peak(xruns, phase)
            d_rss = d["phases"][phase].get("rss_kib") if d and d["ok"] else None
        nst = None
        if xruns:
            counts = [xruns[-1]["phases"][p]["statements"] for p in (PHASES if phase == "total" else [phase])]
            nst = None if None in counts else sum(counts)
        label = "seed && build" if phase == "total" else phase
        dcell = "-" if d is None else ("FAILED" if not d["ok"] else fmt_time(dt) + ("*" if d.get("cached") else ""))
        xcell = fmt_time(xt) if xt is not None else ("FAILED" if x_err else "-")
        fcell = fmt_time(ft) if ft is not None else ("FAILED" if f_err and not f_err.startswith("not measured") else "-")
        rows.append([label, dcell, xcell, fcell, fmt_ratio(ratio(dt, xt)), fmt_ratio(ratio(xt, ft)),
                     fmt_rss(x_rss), fmt_rss(d_rss), "-" if nst is None else f"{nst:,}"])

    dt, xt, ft = dbt_s("total"), x_s("total"), f_s("total")
    verdicts = []
    sp, fl = ratio(dt, xt), ratio(xt, ft)
    verdicts.append(("dbt/xform", f">= {TARGET_SPEEDUP:g}x", sp, None if sp is None else sp >= TARGET_SPEEDUP))
    verdicts.append(("xform/floor", f"<= {TARGET_FLOOR:g}x", fl, None if fl is None else fl <= TARGET_FLOOR))

    nmodels = count_models(proj)
    print()
    print(f"project: {nmodels:,} models from genproj.py --models {n} ({proj})")
    print(f"xform:   {xform}  [{xform_version}]")
    print(f"floor:   {sql_floor}")
    print(f"dbt:     {dbt_note}")
    print(f"timing:  wall clock; xform and floor: best of {a.runs} run(s), each into a fresh DuckDB file; "
          f"dbt: one run{' (* = cached, ' + cache_path + ')' if d and d.get('cached') else ''}")
    la = cb.loadavg()
    print(f"machine: {os.cpu_count()} CPUs, load average {' '.join(map(str, la)) if la else '?'} "
          "(timings are noisy if other work is running)")
    if d and d.get("cached"):
        la = d.get("loadavg_before")
        la2 = d.get("loadavg_after")
        print(f"         dbt measured {d.get('measured_at', '?')}"
              + (f", load average {' '.join(map(str, la))} before the run" if la else "")
              + (f", {' '.join(map(str, la2))} after" if la2 else "")
              + "; --refresh-dbt re-measures")
    print()
    print(cb.table(rows, ["phase", "dbt-core", "xform", "floor", "dbt/xform", "xform/floor",
                          "xform RSS", "dbt RSS", "statements"]))
    print()
    print("floor = the statements xform executed (XFORM_STATEMENT_LOG), replayed back to back in one DuckDB")
    print("        connection by sql_floor with no tool around them; its seed row includes opening the")
    print("        database, its build row closing it (checkpoint).")
    if fruns:
        print(f"        sql_floor peak RSS {fmt_rss(peak(fruns))}"
              + ("; a log had interleaved nodes and was replayed one node at a time"
                 if any(fruns[-1]["phases"][p]["regrouped"] for p in PHASES) else ""))
    print(f"targets on seed && build: dbt/xform >= {TARGET_SPEEDUP:g}x, xform/floor <= {TARGET_FLOOR:g}x; "
          f"peak RSS via {cb.RSS_METHOD}")
    if d and d["ok"]:
        done = [f"{p}: {d['phases'][p]['done']}" for p in PHASES if d["phases"][p].get("done")]
        if done:
            print("dbt:     " + "; ".join(done))
    py = duckdb_python(dbt)
    if py:
        sums = {k: db_summary(py, dbs[k]) for k in ("dbt", "xform", "floor")}
        if any(sums.values()):
            print("databases (what each run left; counted with the dbt venv's duckdb):")
            for k in ("dbt", "xform", "floor"):
                if sums[k]:
                    print(f"    {k:<6} {fmt_summary(sums[k])}  ({dbs[k]})")
            shape = {k: (v["tables"], v["views"], v["rows"]) for k, v in sums.items() if v}
            for a_, b_ in (("xform", "dbt"), ("floor", "xform")):
                if a_ in shape and b_ in shape and shape[a_] != shape[b_]:
                    print(f"WARNING: the {a_} run left different relations or row counts than the {b_} run: "
                          "the timings may not compare the same work")
    print()
    for name, tgt, val, ok in verdicts:
        status = "n/a" if ok is None else "PASS" if ok else "MISS"
        print(f"{status:<4}  {name} = {fmt_ratio(val)} (target {tgt})")
    if failures:
        print()
        print(f"FAILED RUNS ({len(failures)}):")
        for f_ in failures:
            print("  - " + f_.replace("\n", "\n    "))

    doc = {"models": n, "xform": xform, "xform_version": xform_version, "sql_floor": sql_floor,
           "dbt": dbt_versions, "runs": a.runs, "dbt_result": d, "xform_runs": xruns, "floor_runs": fruns,
           "targets": {"dbt/xform": TARGET_SPEEDUP, "xform/floor": TARGET_FLOOR},
           "ratios": {"dbt/xform": sp, "xform/floor": fl}, "failures": failures,
           "measured_at": time.strftime("%Y-%m-%d %H:%M:%S")}
    for path in filter(None, [os.path.join(bench_dir, "last-build-results.json"), a.json]):
        with open(path, "w") as f:
            json.dump(doc, f, indent=1)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
