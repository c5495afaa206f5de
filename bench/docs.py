#!/usr/bin/env python3
"""Benchmark `xform docs generate` and the docs page in headless Chromium.

Run via bench/docs.sh. For each size (default 10,000 models), on a project
made by ../shared/bench/genproj.py:

1. `xform docs generate --offline` (catalog inferred, no warehouse) and
   `xform docs generate` against a fresh DuckDB file (the catalog query runs,
   finds the relations that exist), `--runs` times each, median and range;
   target: under 2 s.
2. The page in headless Chromium driven over the DevTools protocol (a pipe,
   no extra packages): time from navigation to the page's first view being
   drawn and its handlers attached ("open"), and then the time to draw the
   lineage graph of one mart (`#graph&select=+name+`), to highlight a node
   after a real mouse click, and to answer a search ("interactive");
   target: open + interactive under 3 s.

Environment: XFORM (default $CARGO_TARGET_DIR/release/xform), GENPROJ,
BENCH_DIR (default /tmp/xform-bench), CHROMIUM (default /usr/bin/chromium).
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compile as cb  # noqa: E402  (shared helpers of the compile benchmark)

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GEN_TARGET = 2.0
PAGE_TARGET = 3.0


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def xform_bin():
    if os.environ.get("XFORM"):
        return os.environ["XFORM"]
    target = os.environ.get("CARGO_TARGET_DIR", os.path.expanduser("~/.cache/xform/target"))
    return os.path.join(target, "release", "xform")


def project(size, bench_dir):
    genproj = os.environ.get("GENPROJ", os.path.join(REPO, "..", "shared", "bench", "genproj.py"))
    out = os.path.join(bench_dir, f"docs-{size}")
    stamp = os.path.join(out, ".generated")
    if not os.path.exists(stamp):
        shutil.rmtree(out, ignore_errors=True)
        log(f"generating a {size}-model project in {out}")
        subprocess.run(
            [sys.executable, genproj, out, "--models", str(size), "--profile-dir", out,
             "--db", os.path.join(out, "bench.duckdb")],
            check=True, stdout=subprocess.DEVNULL)
        open(stamp, "w").close()
    return out


def time_generate(xform, proj, command, runs, cold=True):
    """Times `command` from a cold target/ (the last one moved aside, as
    bench/compile.py does, so no run pays for the filesystem freeing the
    last one's files), or a warm one (kept: unchanged compiled files are
    not written again)."""
    times = []
    target, trash = os.path.join(proj, "target"), os.path.join(proj, "target.trash")
    for i in range(runs + 1):
        if cold and os.path.exists(target):
            os.makedirs(trash, exist_ok=True)
            os.rename(target, os.path.join(trash, str(time.time_ns())))
        db = os.path.join(proj, "bench.duckdb")
        if os.path.exists(db):
            os.remove(db)
        os.sync()
        t0 = time.perf_counter()
        r = subprocess.run([xform, "--project-dir", proj, "--profiles-dir", proj, *command],
                           capture_output=True, text=True)
        dt = time.perf_counter() - t0
        if r.returncode != 0:
            log(r.stderr)
            raise SystemExit(f"xform {' '.join(command)} failed")
        if i > 0:  # the first run warms the file cache
            times.append(dt)
    # Deleted when the benchmark ends: files created soon after tens of
    # thousands were deleted are slow to create (see bench/compile.py's
    # `set_aside`), which would distort the next step.
    TRASHES.add(trash)
    return times, r.stderr.strip().splitlines()


TRASHES = set()
BENCH_DIRS = set()


class Chromium:
    """Chromium over --remote-debugging-pipe: commands on fd 3, replies on fd 4."""

    def __init__(self, binary, width=1400, height=900):
        self.profile = tempfile.mkdtemp(prefix="xform-bench-chromium-")
        # A shell puts the child's stdin and stdout on fds 3 and 4.
        self.proc = subprocess.Popen(
            ["sh", "-c", 'exec "$0" "$@" 3<&0 4>&1 0</dev/null 1>/dev/null', binary,
             "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--no-first-run", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
             "--remote-debugging-pipe", f"--user-data-dir={self.profile}", f"--window-size={width},{height}"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self.cmd_w = self.proc.stdin.fileno()
        self.out_r = self.proc.stdout.fileno()
        self.buf = b""
        self.next_id = 0
        self.session = None
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        self.call("Emulation.setDeviceMetricsOverride",
                  {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})

    def call(self, method, params=None):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if self.session:
            msg["sessionId"] = self.session
        os.write(self.cmd_w, json.dumps(msg).encode() + b"\0")
        while True:
            while b"\0" not in self.buf:
                chunk = os.read(self.out_r, 1 << 20)
                if not chunk:
                    raise SystemExit("chromium closed the pipe")
                self.buf += chunk
            raw, self.buf = self.buf.split(b"\0", 1)
            reply = json.loads(raw)
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise SystemExit(f"{method}: {reply['error']}")
                return reply["result"]

    def eval(self, expr):
        r = self.call("Runtime.evaluate", {"expression": expr, "returnByValue": True, "awaitPromise": True})
        if "exceptionDetails" in r:
            raise SystemExit(f"{expr}: {r['exceptionDetails']}")
        return r["result"].get("value")

    def wait(self, expr, timeout=60):
        end = time.perf_counter() + timeout
        while time.perf_counter() < end:
            if self.eval(f"!!({expr})"):
                return
            time.sleep(0.005)
        raise SystemExit(f"timed out waiting for {expr}")

    def click(self, selector):
        x, y = self.eval(
            "(() => { const r = document.querySelector(%s).getBoundingClientRect();"
            " return [r.left + r.width / 2, r.top + r.height / 2]; })()" % json.dumps(selector))
        for kind in ("mousePressed", "mouseReleased"):
            self.call("Input.dispatchMouseEvent",
                      {"type": kind, "x": x, "y": y, "button": "left", "buttons": 1, "clickCount": 1})

    def close(self):
        self.proc.kill()
        self.proc.wait()
        shutil.rmtree(self.profile, ignore_errors=True)


def time_page(chromium, page, mart):
    b = Chromium(chromium)
    try:
        t0 = time.perf_counter()
        b.call("Page.navigate", {"url": "file://" + page + "#"})
        b.wait("window.xformDocs")
        opened = time.perf_counter() - t0
        ready_ms = b.eval("window.xformDocs.readyMs")
        t1 = time.perf_counter()
        b.eval("location.hash = 'graph&select=' + encodeURIComponent('+%s+')" % mart)
        b.wait("document.querySelector('svg g.node')")
        graph = time.perf_counter() - t1
        nodes = b.eval("document.querySelectorAll('svg g.node').length")
        t2 = time.perf_counter()
        b.click("svg g.node[data-id$='.%s']" % mart)
        b.wait("document.querySelector('svg g.node.sel')")
        click = time.perf_counter() - t2
        t3 = time.perf_counter()
        b.eval("(() => { const s = document.getElementById('search'); s.value = 'int_order'; "
               "s.dispatchEvent(new Event('input')); })()")
        b.wait("!document.getElementById('search-results').hidden")
        search = time.perf_counter() - t3
        return {"open": opened, "ready_ms": ready_ms, "graph": graph, "graph_nodes": nodes,
                "click": click, "search": search}
    finally:
        b.close()


def fmt(s):
    return f"{s * 1000:.0f} ms" if s < 1 else f"{s:.2f} s"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", type=int, default=10000)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    xform = xform_bin()
    if not os.path.exists(xform):
        raise SystemExit(f"no xform binary at {xform} (build with cargo build --release --no-default-features)")
    chromium = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    bench_dir = os.environ.get("BENCH_DIR", "/tmp/xform-bench")
    os.makedirs(bench_dir, exist_ok=True)
    BENCH_DIRS.add(bench_dir)
    cb.settle(bench_dir, log)
    proj = project(args.models, bench_dir)

    rows = []
    # `compile` (what generate does first: load, render, write target/compiled
    # and the manifest) is timed alongside, so the docs' own cost shows even
    # on a busy machine.
    for label, command, target, cold in (
            ("compile (reference)", ["compile"], None, True),
            ("docs generate --offline", ["docs", "generate", "--offline"], GEN_TARGET, True),
            ("docs generate (DuckDB)", ["docs", "generate"], GEN_TARGET, True),
            ("compile, warm target/", ["compile"], None, False),
            ("docs generate, warm", ["docs", "generate", "--offline"], GEN_TARGET, False)):
        times, lines = time_generate(xform, proj, command, args.runs, cold)
        med = statistics.median(times)
        rows.append((label, med, min(times), max(times), target))
        log("  " + (lines[-1] if lines else ""))
    page = os.path.join(proj, "target", "index.html")
    size = os.path.getsize(page)
    # One mart to draw: the first `fct_` model of the project.
    manifest = json.load(open(os.path.join(proj, "target", "manifest.json")))
    mart = sorted(n["name"] for n in manifest["nodes"].values()
                  if n["resource_type"] == "model" and n["name"].startswith("fct_"))[0]

    print(f"docs benchmark: {args.models} models, index.html {size / 1e6:.1f} MB")
    print(f"{'step':<28}{'median':>10}{'min':>10}{'max':>10}{'target':>10}  verdict")
    for label, med, lo, hi, target in rows:
        verdict = "" if target is None else ("PASS" if med < target else "FAIL")
        print(f"{label:<28}{fmt(med):>10}{fmt(lo):>10}{fmt(hi):>10}{fmt(target) if target else '':>10}  {verdict}")
    print(f"{'docs beyond compile':<28}{fmt(rows[1][1] - rows[0][1]):>10}  cold, {fmt(rows[4][1] - rows[3][1])} warm"
          " (lineage, catalog.json, index.html)")
    if not os.path.exists(chromium):
        print(f"(no browser at {chromium}: page timings skipped)")
        return
    runs = [time_page(chromium, page, mart) for _ in range(args.runs)]
    keys = [("open", "page open (navigate -> ready)"), ("graph", f"draw +{mart}+"),
            ("click", "click -> highlight"), ("search", "search results")]
    for key, label in keys:
        vals = [r[key] for r in runs]
        print(f"{label:<28}{fmt(statistics.median(vals)):>10}{fmt(min(vals)):>10}{fmt(max(vals)):>10}")
    total = statistics.median([r["open"] + r["graph"] + r["click"] for r in runs])
    print(f"{'open + interactive':<28}{fmt(total):>10}{'':>10}{'':>10}{fmt(PAGE_TARGET):>10}  {'PASS' if total < PAGE_TARGET else 'FAIL'}")
    print(f"(page's own first-view time: {statistics.median([r['ready_ms'] for r in runs]):.0f} ms after navigation;"
          f" graph of {runs[0]['graph_nodes']} nodes)")


if __name__ == "__main__":
    try:
        main()
    finally:
        deleted = [t for t in TRASHES if os.path.exists(t)]
        for t in deleted:
            shutil.rmtree(t, ignore_errors=True)
        if deleted:
            for d in BENCH_DIRS:
                cb.note_deleted(d)
