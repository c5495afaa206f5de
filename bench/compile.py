#!/usr/bin/env python3
"""Benchmark `xform --version|parse|compile` against dbt-core on generated projects.

Run from anywhere (normally via bench/compile.sh). See bench/README.md.

Environment:
  XFORM             xform binary (default: $CARGO_TARGET_DIR/release/xform)
  CARGO_TARGET_DIR  cargo target dir (default: ~/.cache/xform/target)
  GENPROJ           project generator (default: <repo>/../shared/bench/genproj.py)
  BENCH_DIR         scratch dir for projects, logs and cached dbt timings
                    (default: /tmp/xform-bench)
  DBT_VENV          venv holding dbt-core 1.11 + dbt-duckdb (default: ~/.cache/xform/venv-dbt-1.11;
                    created with pip if it has no bin/dbt)
  BENCH_SKIP_DBT=1  same as --no-dbt
  BENCH_SETTLE=0    do not wait out the slow spell after an earlier benchmark's deletes
"""
import argparse
import hashlib
import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DBT_PIP_SPECS = ["dbt-core~=1.11.0", "dbt-duckdb~=1.10"]
MIB = 1024  # ru_maxrss is in KiB on Linux

# Absolute targets. They are stated for the 10,000-model project; they are
# checked at every size because a miss at a smaller size is a miss at 10k too.
TARGETS = {
    "--version": {"time": 0.020, "rss_kib": 300 * MIB},
    "parse": {"time": 0.5, "rss_kib": 300 * MIB},
    "compile": {"time": 1.0, "rss_kib": 300 * MIB},
}
COMMANDS = ["--version", "parse", "compile"]
DBT_COMMANDS = ["parse", "compile"]
FLOOR_EXTS = (".sql", ".yml", ".yaml", ".csv", ".md")
SKIP_DIRS = ("target", "target.trash", "target.floor", "target.floor.trash", "logs", "dbt_packages", "dbt_modules", ".xform-profile")


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def die(msg, code=2):
    log(f"error: {msg}")
    sys.exit(code)


# ---------------------------------------------------------------- formatting

def fmt_time(s):
    if s is None:
        return "-"
    if s < 1.0:
        return f"{s * 1000:.1f} ms" if s < 0.1 else f"{s * 1000:.0f} ms"
    return f"{s:.2f} s" if s < 100 else f"{s:.0f} s"


def fmt_target(s):
    return f"{s * 1000:g} ms" if s < 1 else f"{s:g} s"


def fmt_rss(kib):
    return "-" if kib is None else f"{kib / MIB:.1f} MiB"


def fmt_ratio(x):
    if x is None:
        return "-"
    return f"{x:.0f}x" if x >= 10 else f"{x:.1f}x"


def table(rows, headers):
    widths = [max(len(str(r[i])) for r in [headers] + rows) for i in range(len(headers))]
    line = lambda r: "  ".join(str(c).ljust(w) if i < 2 else str(c).rjust(w)
                               for i, (c, w) in enumerate(zip(r, widths)))
    out = [line(headers), "  ".join("-" * w for w in widths)]
    out += [line(r) for r in rows]
    return "\n".join(out)


# ---------------------------------------------------------------- measuring
#
# Wall time and peak RSS are taken from different runs. Timed runs are spawned
# directly (nothing between us and the command). Peak RSS cannot be read that
# way: Linux folds the pre-exec address space of a forked child (here: this
# ~20 MiB Python process) into its ru_maxrss, so RSS runs go through a small
# wrapper -- GNU `/usr/bin/time -f %M` (~1 MiB baseline) or, without it, a
# `python3 -S` wrapper reading getrusage(RUSAGE_CHILDREN) (~8 MiB baseline).

GNU_TIME = "/usr/bin/time" if os.access("/usr/bin/time", os.X_OK) else None
PY_RSS_WRAPPER = (
    "import os,sys,resource\n"
    "out,cmd=sys.argv[1],sys.argv[2:]\n"
    "pid=os.posix_spawnp(cmd[0],cmd,os.environ)\n"
    "_,st=os.waitpid(pid,0)\n"
    "open(out,'w').write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)+'\\n')\n"
    "sys.exit(os.waitstatus_to_exitcode(st))\n"
)
RSS_METHOD = "/usr/bin/time -f %M" if GNU_TIME else "python3 -S getrusage(RUSAGE_CHILDREN) wrapper"


def rss_wrap(cmd, out_file):
    if GNU_TIME:
        return [GNU_TIME, "-f", "%M", "-o", out_file, "--"] + cmd
    return [sys.executable, "-S", "-c", PY_RSS_WRAPPER, out_file] + cmd


def read_rss(out_file):
    """Last line of the wrapper's output file, in KiB (GNU time may prepend
    'Command exited with non-zero status N')."""
    try:
        with open(out_file) as f:
            lines = [l.strip() for l in f if l.strip()]
        return int(lines[-1])
    except (OSError, ValueError, IndexError):
        return None


def run_once(cmd, cwd, env=None, timeout=None, log_path=None, want_rss=False):
    """Run cmd once; return dict(wall, rss_kib, rc, timed_out).

    With want_rss the command runs under the RSS wrapper (wall then includes
    the wrapper's ~1 ms of overhead: use it for the one-shot dbt runs and for
    warm-ups, not for timed xform runs).
    """
    rss_file = None
    if want_rss:
        fd, rss_file = tempfile.mkstemp(prefix="rss-", suffix=".txt")
        os.close(fd)
        cmd = rss_wrap(cmd, rss_file)
    out = open(log_path, "ab") if log_path else subprocess.DEVNULL
    fired = []
    try:
        t0 = time.perf_counter()
        p = subprocess.Popen(cmd, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=out,
                             stderr=subprocess.STDOUT if log_path else subprocess.DEVNULL,
                             start_new_session=True)
        timer = None
        if timeout:
            def kill():
                fired.append(True)
                try:
                    os.killpg(p.pid, 9)  # the wrapper and the command under it
                except OSError:
                    pass
            timer = threading.Timer(timeout, kill)
            timer.daemon = True
            timer.start()
        try:
            p.wait()
        except KeyboardInterrupt:
            os.killpg(p.pid, 9)
            raise
        t1 = time.perf_counter()
        if timer:
            timer.cancel()
    finally:
        if log_path:
            out.close()
    rss = None
    if rss_file:
        rss = read_rss(rss_file)
        os.unlink(rss_file)
    return {"wall": t1 - t0, "rss_kib": rss, "rc": p.returncode, "timed_out": bool(fired)}


def tail(path, n=15):
    try:
        with open(path, "rb") as f:
            lines = f.read().decode("utf-8", "replace").splitlines()
        return "\n".join("    " + l for l in lines[-n:])
    except OSError:
        return "    (no output captured)"


def failure(r, timeout, log_path):
    why = f"timed out after {timeout:g}s" if r["timed_out"] else f"exit code {r['rc']}"
    return {"ok": False, "error": why, "log": log_path}


def warm_up(cmd, cwd, n, prepare, env, timeout, log_path):
    """max(n, 1) untimed runs under the RSS wrapper. Returns (peak RSS, failure or None)."""
    peak = None
    for _ in range(max(n, 1)):
        if prepare:
            prepare()
        if log_path and os.path.exists(log_path):
            os.unlink(log_path)  # keep only the last run's output
        r = run_once(cmd, cwd, env=env, timeout=timeout, log_path=log_path, want_rss=True)
        if r["rc"] != 0 or r["timed_out"]:
            return None, failure(r, timeout, log_path)
        if r["rss_kib"] is not None:
            peak = max(peak or 0, r["rss_kib"])
    return peak, None


def time_loop(cmd, cwd, runs, prepare, env, timeout, log_path):
    walls = []
    for _ in range(runs):
        if prepare:
            prepare()
        if log_path and os.path.exists(log_path):
            os.unlink(log_path)
        r = run_once(cmd, cwd, env=env, timeout=timeout, log_path=log_path)
        if r["rc"] != 0 or r["timed_out"]:
            return failure(r, timeout, log_path)
        walls.append(r["wall"])
    return {"ok": True, "method": "loop", "times": walls, "median": statistics.median(walls),
            "min": min(walls), "max": max(walls)}


def time_hyperfine(cmd, cwd, runs, prepare_dir, env, timeout):
    """Time with hyperfine (no shell, no warm-up: warm_up() already ran).
    Returns None if hyperfine itself fails, so the caller can fall back."""
    fd, jpath = tempfile.mkstemp(suffix=".json", prefix="hyperfine-")
    os.close(fd)
    try:
        hcmd = ["hyperfine", "-N", "--style", "none", "--runs", str(max(runs, 2)),
                "--export-json", jpath]
        if prepare_dir:
            trash = shlex.quote(prepare_dir + ".trash")
            hcmd += ["--prepare", "sh -c " + shlex.quote(
                f"mkdir -p {trash} && if [ -e {shlex.quote(prepare_dir)} ]; then "
                f"mv {shlex.quote(prepare_dir)} {trash}/$(date +%s%N); fi")]
        hcmd.append(shlex.join(cmd))
        p = subprocess.run(hcmd, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                           timeout=timeout * (runs + 1))
        if p.returncode != 0:
            log("    hyperfine: " + p.stderr.decode("utf-8", "replace").strip()[-500:])
            return None
        with open(jpath) as f:
            res = json.load(f)["results"][0]
        times = res.get("times") or [res["median"]]
        return {"ok": True, "method": "hyperfine", "times": times, "median": res["median"],
                "min": res["min"], "max": res["max"]}
    except (OSError, ValueError, KeyError, IndexError, subprocess.TimeoutExpired) as e:
        log(f"    hyperfine: {e}")
        return None
    finally:
        os.unlink(jpath)


TRASHES = set()
# Where each benchmark records its deletes (`note_deleted`).
BENCH_DIRS = set()


def set_aside(path):
    """Move a previous run's target/ out of the way (a rename into a trash
    folder beside it) so the next timed run writes into a fresh target/.
    Nothing is deleted until the whole benchmark is done (`empty_trashes`):
    a run that creates files soon after tens of thousands were deleted pays
    for the filesystem reclaiming them (on ext4 without a journal, new
    inodes skip those freed in the last minutes, one inode-table read each:
    seconds per run)."""
    if os.path.exists(path):
        trash = path + ".trash"
        os.makedirs(trash, exist_ok=True)
        os.rename(path, os.path.join(trash, f"{time.time_ns()}"))
        TRASHES.add(trash)


def empty_trashes(bench_dir=None):
    """Deletes the trash folders; when something was deleted, records the
    time in `bench_dir` (see `settle`)."""
    deleted = [t for t in TRASHES if os.path.exists(t)]
    for trash in deleted:
        shutil.rmtree(trash, ignore_errors=True)
    TRASHES.clear()
    if deleted and bench_dir:
        note_deleted(bench_dir)


# How long after a large delete creating files stays slow: ext4 without a
# journal skips inodes freed in the last 60 s, or 300 s while their
# inode-table block is not yet written back (`recently_deleted` in
# fs/ext4/ialloc.c), reading that block for each one it skips.
SETTLE_SECONDS = 300


def note_deleted(bench_dir):
    """Records that a benchmark just deleted a large tree."""
    try:
        with open(os.path.join(bench_dir, ".deleted-at"), "w") as f:
            f.write(f"{time.time()}\n")
    except OSError:
        pass


def settle(bench_dir, log=print):
    """Waits out the slow spell after the last benchmark's deletes (see
    SETTLE_SECONDS), so that runs starting from no target/ are not timed
    while the filesystem skips freshly freed inodes. BENCH_SETTLE=0 skips
    the wait (the figures are then likely to be slow)."""
    if os.environ.get("BENCH_SETTLE", "") in ("0", "false", "no"):
        return
    try:
        with open(os.path.join(bench_dir, ".deleted-at")) as f:
            at = float(f.read().strip() or 0)
    except (OSError, ValueError):
        return
    wait = at + SETTLE_SECONDS - time.time()
    if wait > 0:
        log(f"waiting {wait:.0f} s: a benchmark deleted its trash {SETTLE_SECONDS - wait:.0f} s ago, "
            f"and files created in the next {SETTLE_SECONDS} s are slow to create on this filesystem "
            "(BENCH_SETTLE=0 skips the wait)")
        time.sleep(wait)


def measure(cmd, cwd, runs, warmup, use_hyperfine, clean_dir=None, env=None, timeout=600,
            log_path=None, rss=True):
    """Warm up (measuring peak RSS), then time `runs` runs; median wall time."""
    prep = (lambda: set_aside(clean_dir)) if clean_dir else None
    peak = None
    if rss:
        peak, err = warm_up(cmd, cwd, warmup, prep, env, timeout, log_path)
        if err:
            return err
    else:
        for _ in range(warmup):
            if prep:
                prep()
            run_once(cmd, cwd, env=env, timeout=timeout)
    r = None
    if use_hyperfine:
        r = time_hyperfine(cmd, cwd, runs, clean_dir, env, timeout)
        if r is None:
            log("    hyperfine failed; falling back to own timing loop")
    if r is None:
        r = time_loop(cmd, cwd, runs, prep, env, timeout, log_path)
    if clean_dir:
        set_aside(clean_dir)
    r["rss_kib"] = peak
    return r


# ---------------------------------------------------------------- projects

def sha256_file(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()[:16]


def ensure_project(bench_dir, n, genproj, genproj_sha, regen):
    proj = os.path.join(bench_dir, f"proj-{n}")
    stamp_path = os.path.join(bench_dir, f"proj-{n}.stamp")
    want = {"models": n, "genproj_sha256": genproj_sha}
    if not regen and os.path.isdir(proj):
        try:
            with open(stamp_path) as f:
                if json.load(f) == want:
                    log(f"  reusing {proj}")
                    return proj
        except (OSError, ValueError):
            pass
    log(f"  generating {n} models into {proj} ...")
    tmp = proj + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.rmtree(proj, ignore_errors=True)
    t0 = time.perf_counter()
    subprocess.run([sys.executable, genproj, tmp, "--models", str(n), "--profile-dir", tmp,
                    "--db", os.path.join(proj, "bench.duckdb")], check=True)
    os.rename(tmp, proj)
    with open(stamp_path, "w") as f:
        json.dump(want, f)
    log(f"  generated in {time.perf_counter() - t0:.1f} s")
    return proj


def with_package(proj, pkg_dir, xform):
    """A copy of `proj` with the package at `pkg_dir` installed by `xform deps`
    (as a local package) and one of its macros called in every model: the
    issue's "10k models with dbt_utils" check. The package's name is read from
    its dbt_project.yml; for dbt_utils each model gains a surrogate key."""
    pkg_dir = os.path.abspath(pkg_dir)
    out = proj + "-pkg"
    shutil.rmtree(out, ignore_errors=True)
    shutil.copytree(proj, out, ignore=shutil.ignore_patterns("target", "target.trash", "logs", "*.duckdb*"))
    with open(os.path.join(out, "packages.yml"), "w") as f:
        f.write(f"packages:\n  - local: {pkg_dir}\n")
    r = subprocess.run([xform, "deps", "--profiles-dir", xform_profiles(out)], cwd=out,
                       capture_output=True, text=True)
    if r.returncode != 0:
        die(f"xform deps failed in {out}:\n{r.stderr}")
    call = "{{ dbt_utils.generate_surrogate_key(['1', \"'x'\"]) }} as _sk, "
    n = 0
    for root, _dirs, names in os.walk(os.path.join(out, "models")):
        for name in names:
            if not name.endswith(".sql"):
                continue
            path = os.path.join(root, name)
            with open(path) as f:
                sql = f.read()
            i = sql.lower().find("select ")
            if i < 0:
                continue
            with open(path, "w") as f:
                f.write(sql[: i + 7] + call + sql[i + 7 :])
            n += 1
    log(f"  {out}: {pkg_dir} installed, a package macro called in {n} models")
    return out


def project_files(proj):
    files, size = 0, 0
    for root, dirs, names in os.walk(proj):
        if root == proj:
            dirs[:] = [d for d in dirs if d not in SKIP_DIRS]
        for name in names:
            if name.endswith(FLOOR_EXTS):
                files += 1
                size += os.path.getsize(os.path.join(root, name))
    return files, size


def floor_cmd(proj):
    """Read every project source file once: the I/O floor for parse/compile."""
    prune = " -o ".join(f"-path {shlex.quote(os.path.join(proj, d))}" for d in SKIP_DIRS)
    names = " -o ".join(f"-name '*{e}'" for e in FLOOR_EXTS)
    script = (f"find {shlex.quote(proj)} \\( {prune} \\) -prune -o -type f \\( {names} \\) "
              f"-exec cat {{}} + > /dev/null")
    return ["sh", "-c", script]


def compile_floor(xform, proj, read_floor, runs, warmup):
    """The floor of `compile`: reading the sources (`read_floor`) plus
    creating the files compile writes. The files are those of a compiled/
    folder this xform just made, read into memory first; each timed run
    creates them all in a new folder from one thread (open, write, close,
    folder by folder, as xform does). Creating tens of thousands of files is
    kernel work that no tool avoids."""
    out = os.path.join(proj, "target.floor")
    src = os.path.join(out, "compiled")
    set_aside(src)
    os.makedirs(out, exist_ok=True)
    set_aside(os.path.join(proj, "target"))
    run_once(xform_cmd(xform, "compile", proj), proj, timeout=600)
    made = os.path.join(proj, "target", "compiled")
    if not os.path.isdir(made):
        return read_floor
    os.rename(made, src)
    set_aside(os.path.join(proj, "target"))
    folders = []
    for root, _, names in os.walk(src):
        entries = []
        for name in names:
            with open(os.path.join(root, name), "rb") as f:
                entries.append((name, f.read()))
        folders.append((os.path.relpath(root, src), entries))
    count = sum(len(e) for _, e in folders)
    log(f"  floor: creating the {count:,} compiled files ...")
    times = []
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0)
    for i in range(warmup + runs):
        dest = os.path.join(out, "copy")
        set_aside(dest)
        t0 = time.perf_counter()
        for rel, entries in folders:
            d = os.path.join(dest, rel)
            os.makedirs(d, exist_ok=True)
            dfd = os.open(d, os.O_RDONLY)
            try:
                for name, data in entries:
                    fd = os.open(name, flags, 0o666, dir_fd=dfd)
                    os.write(fd, data)
                    os.close(fd)
            finally:
                os.close(dfd)
        if i >= warmup:
            times.append(time.perf_counter() - t0)
    set_aside(os.path.join(out, "copy"))
    write = statistics.median(times)
    total = dict(read_floor)
    total["median"] = read_floor["median"] + write
    total["min"] = read_floor["min"] + min(times)
    total["max"] = read_floor["max"] + max(times)
    total["write"] = write
    total["write_files"] = count
    return total


# ---------------------------------------------------------------- xform

def find_xform():
    exe = os.environ.get("XFORM")
    if not exe:
        target = os.environ.get("CARGO_TARGET_DIR", os.path.expanduser("~/.cache/xform/target"))
        exe = os.path.join(target, "release", "xform")
    exe = os.path.abspath(exe)
    if not (os.path.isfile(exe) and os.access(exe, os.X_OK)):
        die(f"xform binary not found at {exe}\n"
            "  Build it first (from the repo root), linking the prebuilt DuckDB library:\n"
            "    DUCKDB_LIB_DIR=/path/to/libduckdb cargo build --release --no-default-features\n"
            "  (see README.md for DUCKDB_LIB_DIR), or point XFORM=/path/to/xform at a binary.")
    return exe


def xform_profiles(proj):
    """A profiles dir for xform whose DuckDB file is its own: `compile` opens
    the database when a model asks `is_incremental()` (as dbt's compile
    does), and the project's bench.duckdb may have been written by dbt-duckdb's
    newer DuckDB, whose storage format xform's DuckDB cannot read."""
    d = os.path.join(proj, ".xform-profile")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "profiles.yml"), "w") as f:
        f.write("bench:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n"
                f"      path: {os.path.join(d, 'xform.duckdb')}\n      threads: 4\n")
    return d


def xform_cmd(exe, command, proj):
    if command == "--version":
        return [exe, "--version"]
    return [exe, command, "--project-dir", proj, "--profiles-dir", xform_profiles(proj)]


# ---------------------------------------------------------------- dbt

def dbt_env(venv):
    env = dict(os.environ)
    env["PATH"] = os.path.join(venv, "bin") + os.pathsep + env.get("PATH", "")
    env["VIRTUAL_ENV"] = venv
    env["DBT_SEND_ANONYMOUS_USAGE_STATS"] = "False"
    env.pop("PYTHONHOME", None)
    return env


def ensure_dbt(venv):
    """Return (dbt_exe, versions) or (None, reason)."""
    dbt = os.path.join(venv, "bin", "dbt")
    if not os.access(dbt, os.X_OK):
        log(f"  no dbt in {venv}; creating venv and installing {' '.join(DBT_PIP_SPECS)} ...")
        try:
            subprocess.run([sys.executable, "-m", "venv", venv], check=True)
            subprocess.run([os.path.join(venv, "bin", "pip"), "install", "--quiet"] + DBT_PIP_SPECS,
                           check=True, env=dbt_env(venv))
        except (OSError, subprocess.CalledProcessError) as e:
            return None, f"could not create dbt venv at {venv}: {e}"
        if not os.access(dbt, os.X_OK):
            return None, f"pip install did not produce {dbt}"
    try:
        out = subprocess.run(
            [os.path.join(venv, "bin", "python"), "-c",
             "from importlib.metadata import version as v; print(v('dbt-core'), v('dbt-duckdb'))"],
            check=True, capture_output=True, text=True, env=dbt_env(venv)).stdout.split()
        return dbt, {"dbt-core": out[0], "dbt-duckdb": out[1]}
    except (OSError, subprocess.CalledProcessError, IndexError) as e:
        return None, f"could not read dbt versions from {venv}: {e}"


def dbt_cmd(dbt, command, proj):
    cmd = [dbt, command, "--project-dir", proj, "--profiles-dir", proj]
    if command == "parse":
        cmd.insert(2, "--no-partial-parse")
    return cmd


def load_cache(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


def save_cache(path, cache):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(cache, f, indent=1, sort_keys=True)
    os.replace(tmp, path)


def run_dbt(dbt, versions, command, n, proj, genproj_sha, cache, cache_path, refresh, logs, timeout):
    key = (f"n={n} genproj={genproj_sha} dbt-core={versions['dbt-core']} "
           f"dbt-duckdb={versions['dbt-duckdb']} cmd={command}")
    if not refresh and key in cache:
        r = dict(cache[key])
        r["cached"] = True
        return r
    log_path = os.path.join(logs, f"dbt-{command}-{n}.log")
    if os.path.exists(log_path):
        os.unlink(log_path)
    shutil.rmtree(os.path.join(proj, "target"), ignore_errors=True)
    log(f"    dbt {command} at {n} models (one run; this takes a while) ...")
    load_before = loadavg()
    r = run_once(dbt_cmd(dbt, command, proj), proj, env=dbt_env(dbt_venv_of(dbt)),
                 timeout=timeout, log_path=log_path, want_rss=True)
    if r["rc"] == 0 and not r["timed_out"]:
        res = {"ok": True, "median": r["wall"], "runs": 1, "rss_kib": r["rss_kib"]}
        log(f"      {fmt_time(r['wall'])}, peak RSS {fmt_rss(r['rss_kib'])}")
    else:
        why = f"timed out after {timeout}s" if r["timed_out"] else f"exit code {r['rc']}"
        res = {"ok": False, "error": why, "log": log_path, "output_tail": tail(log_path)}
        log(f"      dbt {command} FAILED ({why}); output tail:\n{res['output_tail']}")
    res["measured_at"] = time.strftime("%Y-%m-%d %H:%M:%S")
    res["loadavg_before"] = load_before
    cache[key] = res
    save_cache(cache_path, cache)
    return dict(res, cached=False)


def loadavg():
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def dbt_venv_of(dbt):
    return os.path.dirname(os.path.dirname(dbt))


# ---------------------------------------------------------------- main

def parse_sizes(s):
    out = []
    for part in s.split(","):
        part = part.strip().lower().replace("_", "")
        if not part:
            continue
        mult = 1000 if part.endswith("k") else 1
        try:
            n = int(part.rstrip("k")) * mult
        except ValueError:
            raise argparse.ArgumentTypeError(f"bad size {part!r}")
        if n < 1:
            raise argparse.ArgumentTypeError(f"bad size {part!r}")
        out.append(n)
    if not out:
        raise argparse.ArgumentTypeError("no sizes given")
    return out


def main():
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=parse_sizes, default=[1000, 10000],
                    help="comma-separated model counts (default 1000,10000; 1k/10k ok)")
    ap.add_argument("--runs", type=int, default=5, help="timed xform runs per command (default 5)")
    ap.add_argument("--warmup", type=int, default=1,
                    help="untimed warm-up runs, which also measure peak RSS (default 1; at least 1 is done)")
    ap.add_argument("--no-dbt", action="store_true", help="skip dbt-core (also BENCH_SKIP_DBT=1)")
    ap.add_argument("--refresh-dbt", action="store_true", help="re-run dbt even if timings are cached")
    ap.add_argument("--dbt-timeout", type=float, default=1800, help="seconds per dbt run (default 1800)")
    ap.add_argument("--no-hyperfine", action="store_true", help="use own timing loop even if hyperfine exists")
    ap.add_argument("--regen", action="store_true", help="regenerate projects even if cached")
    ap.add_argument("--json", metavar="PATH", help="also write results as JSON here")
    ap.add_argument("--package", metavar="DIR",
                    help="install this dbt package (a dbt_utils checkout) with `xform deps` and call "
                         "dbt_utils.generate_surrogate_key in every model; xform only")
    a = ap.parse_args()

    if a.runs < 1 or a.warmup < 0:
        die("--runs must be >= 1 and --warmup >= 0")

    bench_dir = os.path.abspath(os.environ.get("BENCH_DIR") or "/tmp/xform-bench")
    genproj = os.path.abspath(os.environ.get("GENPROJ")
                              or os.path.join(REPO, "..", "shared", "bench", "genproj.py"))
    skip_dbt = a.package is not None or a.no_dbt or os.environ.get("BENCH_SKIP_DBT", "") not in ("", "0", "false", "no")
    venv = os.path.abspath(os.environ.get("DBT_VENV") or os.path.expanduser("~/.cache/xform/venv-dbt-1.11"))
    use_hf = not a.no_hyperfine and shutil.which("hyperfine") is not None

    xform = find_xform()
    if not os.path.isfile(genproj):
        die(f"project generator not found at {genproj} (set GENPROJ=/path/to/genproj.py)")
    os.makedirs(bench_dir, exist_ok=True)
    BENCH_DIRS.add(bench_dir)
    settle(bench_dir, log)
    logs = os.path.join(bench_dir, "logs")
    os.makedirs(logs, exist_ok=True)
    genproj_sha = sha256_file(genproj)

    v = subprocess.run([xform, "--version"], capture_output=True, text=True)
    xform_version = (v.stdout or v.stderr).strip().splitlines()[0] if (v.stdout or v.stderr).strip() else "?"

    dbt, dbt_versions, dbt_note = None, None, "skipped (--no-dbt / BENCH_SKIP_DBT)"
    if not skip_dbt:
        dbt, info = ensure_dbt(venv)
        if dbt:
            dbt_versions = info
            dbt_note = f"dbt-core {info['dbt-core']}, dbt-duckdb {info['dbt-duckdb']} ({venv})"
        else:
            dbt_note = f"unavailable: {info}"
            log(f"warning: dbt {dbt_note}")
    cache_path = os.path.join(bench_dir, "dbt-timings.json")
    cache = load_cache(cache_path)

    results = []
    for n in a.sizes:
        log(f"== {n} models")
        proj = ensure_project(bench_dir, n, genproj, genproj_sha, a.regen)
        if a.package:
            proj = with_package(proj, a.package, xform)
        nfiles, nbytes = project_files(proj)
        target_dir = os.path.join(proj, "target")

        log("  floor: reading all project files ...")
        floor = measure(floor_cmd(proj), proj, a.runs, a.warmup, use_hf, rss=False)
        for command in COMMANDS:
            log(f"  xform {command} ...")
            lp = os.path.join(logs, f"xform-{command.strip('-')}-{n}.log")
            r = measure(xform_cmd(xform, command, proj), proj, a.runs, a.warmup, use_hf,
                        clean_dir=None if command == "--version" else target_dir,
                        timeout=600, log_path=lp)
            if not r["ok"]:
                r["output_tail"] = tail(lp)
                log(f"    xform {command} FAILED ({r['error']}); output tail:\n{r['output_tail']}")
            else:
                log(f"    median {fmt_time(r['median'])}, peak RSS {fmt_rss(r['rss_kib'])}")
            d = None
            if dbt and command in DBT_COMMANDS:
                d = run_dbt(dbt, dbt_versions, command, n, proj, genproj_sha, cache, cache_path,
                            a.refresh_dbt, logs, a.dbt_timeout)
            fl = floor if command in DBT_COMMANDS else None
            if command == "compile" and r["ok"] and floor.get("ok"):
                fl = compile_floor(xform, proj, floor, a.runs, a.warmup)
            results.append({"models": n, "files": nfiles, "bytes": nbytes, "command": command,
                            "xform": r, "dbt": d, "floor": fl})

    # ------------------------------------------------------------ report
    rows, missed, notes = [], [], []
    for res in results:
        n, cmd, r, d, fl = res["models"], res["command"], res["xform"], res["dbt"], res["floor"]
        tgt = TARGETS[cmd]
        tgt_s = f"<{fmt_target(tgt['time'])}, <{tgt['rss_kib'] // MIB} MiB"
        label = f"xform {cmd}"
        if r["ok"]:
            fails = []
            if r["median"] > tgt["time"]:
                fails.append("time")
                missed.append(f"N={n} {label}: median {fmt_time(r['median'])} > target {fmt_target(tgt['time'])}")
            if r["rss_kib"] is not None and r["rss_kib"] > tgt["rss_kib"]:
                fails.append("rss")
                missed.append(f"N={n} {label}: peak RSS {fmt_rss(r['rss_kib'])} > target {tgt['rss_kib'] // MIB} MiB")
            status = "PASS" if not fails else "FAIL(" + "+".join(fails) + ")"
            xt = f"{fmt_time(r['median'])} ({fmt_time(r['min'])}..{fmt_time(r['max'])})"
            xr = fmt_rss(r["rss_kib"])
        else:
            status, xt, xr = "ERROR", "error", "-"
            missed.append(f"N={n} {label}: did not run successfully ({r['error']}); log: {r.get('log')}")
        ft = fmt_time(fl["median"]) if fl and fl.get("ok") else "-"
        fr = fmt_ratio(r["median"] / fl["median"]) if fl and fl.get("ok") and r["ok"] and fl["median"] > 0 else "-"
        if d is None:
            dt, drss, sp = "-", "-", "-"
        elif d["ok"]:
            dt = fmt_time(d["median"]) + ("*" if d.get("cached") else "")
            drss = fmt_rss(d.get("rss_kib"))
            if r["ok"] and r["median"] > 0:
                ratio = d["median"] / r["median"]
                sp = f"{fmt_ratio(ratio)} faster" if ratio >= 1 else f"{fmt_ratio(1 / ratio)} slower"
            else:
                sp = "-"
        else:
            dt, drss, sp = "FAILED", "-", "-"
            notes.append(f"dbt {cmd} at N={n} failed ({d['error']}); log: {d.get('log')}")
        rows.append([f"{n:,}", cmd, xt, xr, tgt_s, status, ft, fr, dt, drss, sp])

    print()
    print(f"xform:   {xform}  [{xform_version}]")
    print(f"dbt:     {dbt_note}")
    print(f"timing:  median of {a.runs} run(s) after {a.warmup} warm-up, "
          f"{'hyperfine' if use_hf else 'own loop'}; target/ moved aside (not deleted) before each parse/compile run; "
          f"peak RSS = max over the warm-up run(s), via {RSS_METHOD}")
    la = loadavg()
    print(f"machine: {os.cpu_count()} CPUs, load average {' '.join(map(str, la)) if la else '?'} "
          "(timings are noisy if other work is running)")
    for n in a.sizes:
        f = next(x for x in results if x["models"] == n)
        print(f"project: {n:,} models -> {f['files']:,} source files, {f['bytes'] / 1e6:.1f} MB "
              f"({os.path.join(bench_dir, f'proj-{n}')})")
    print()
    print(table(rows, ["N", "command", "xform median (min..max)", "xform RSS", "target", "status",
                       "floor", "xform/floor", "dbt-core", "dbt RSS", "dbt/xform"]))
    print()
    print("floor = wall time of `find | cat` reading every .sql/.yml/.yaml/.csv/.md file once (no parsing).")
    for res in results:
        fl = res["floor"]
        if fl and fl.get("write") is not None:
            print(f"compile floor (N={res['models']:,}) adds {fmt_time(fl['write'])}: creating the same "
                  f"{fl['write_files']:,} files compile writes (one thread, open/write/close, contents in memory).")
    cached = [res for res in results if res["dbt"] and res["dbt"].get("cached")]
    if cached:
        print(f"* dbt timing from cache {cache_path}; --refresh-dbt re-measures:")
        for res in cached:
            d = res["dbt"]
            la = d.get("loadavg_before")
            print(f"    N={res['models']:,} dbt {res['command']}: measured {d.get('measured_at', '?')}"
                  + (f", load average {' '.join(map(str, la))} before the run" if la else ""))
    if any(res["dbt"] for res in results):
        print("dbt-core times are a single run each: `dbt parse --no-partial-parse` and `dbt compile`, "
              "both from a clean target/ (dbt compile also compiles the schema tests).")
    for note in notes:
        print(f"note: {note}")
    print()
    if missed:
        print(f"MISSED TARGETS ({len(missed)}):")
        for m in missed:
            print(f"  - {m}")
    else:
        print("All targets met.")

    doc = {"xform": xform, "xform_version": xform_version, "dbt": dbt_versions,
           "runs": a.runs, "warmup": a.warmup, "timing": "hyperfine" if use_hf else "loop",
           "targets": TARGETS, "results": results, "missed": missed,
           "measured_at": time.strftime("%Y-%m-%d %H:%M:%S")}
    for path in filter(None, [os.path.join(bench_dir, "last-results.json"), a.json]):
        with open(path, "w") as f:
            json.dump(doc, f, indent=1)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    finally:
        empty_trashes(next(iter(BENCH_DIRS), None))
