#!/usr/bin/env python3
"""bench.py - the benchmarks behind scripts/bench/run (run that, not this).

Measures, in one run and against the same rows, for each size:

  leadsync pull       `leadsync run --once --dry-run`, no ledger: reads every
                      page (one request for the server's clock, then the window
                      query with continuations), parses the entities, runs the
                      lead model (normalization, lead_id, content hash) and
                      prints one line per lead to /dev/null; writes nothing
  leadsync -> JSONL   fresh ledger and file: `leadsync run --once` into a JSONL
                      sink (ledger, outbox, delivery, fsync per batch)
  no-op tick          `leadsync run --once` again on the JSONL run's ledger:
                      nothing new; the window is the overlap (what it held is
                      reported); --tick-reps runs (default 20), the median
  @azure/data-tables  bare pull: scripts/bench/sdk.mjs (listEntities().byPage,
                      maxPageSize as leadsync's page size), counts entities
  azure.data.tables   bare pull: scripts/bench/sdk.py (list_entities by page),
                      counts entities
  floor               leadsync-parsefloor, once: fetches the same pages, keeps
                      the bodies, then times only their jansson parse (each
                      page and each entity's CustomerInfo text) with the
                      process CPU clock, best of 3 passes in that process

Two kinds of table: --sizes are seeded into a private Azurite with
leadsync-seed bulk; --synthetic-sizes are served by `leadsync-seed serve`,
a loopback table service that answers the same queries over the same rows
without storing them (a 1,000,000-row Azurite takes hours to seed). With
--check-server each Azurite size is also read by leadsync from the table
server, and the two JSONL files are compared (every line but the rows'
Timestamps, so every delivery id) and their CPU per row set side by side.

With --base-rev REV the Release build of REV (built once, kept in
BINDIR/base-HASH) runs the leadsync contenders too, interleaved with this
build's, so each figure has a before and an after from the same machine
state. Then scripts/bench/webhook and scripts/bench/crm (when present; each
ends with JSON lines) give the webhook's and the CRM sinks' CPU per lead and
leads/s, for both builds; and, unless --no-profile, the callgrind profiles
of scripts/bench/bench_profile.py (JSONL and webhook).

Each contender runs --reps times (default 3; --synthetic-reps for the
served sizes, default 1); the median CPU (user+sys of the child, from
wait4), wall and peak RSS (ru_maxrss) are reported. The table service's own
CPU is not counted for anyone. Python 3 stdlib only.
"""
import argparse
import datetime
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_profile  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SYS_PYTHON = "/usr/bin/python3"
PAGE_SIZE = 1000
FLOOR = "floor: jansson parse of the page bodies"
FLOOR_MAX = 200000  # the floor keeps every page body in memory
LARGE = 20000  # Azurite sizes above this run --large-reps times
MIN_GAP = 6  # seconds between the end of the seeding and the JSONL runs
SERVE_AGE = 3600  # the served rows' newest Timestamp, seconds before the server started
# The commit before the profile-driven work: the CPU profile's default "before".
BASE_REV = "abbf4ad"
PROFILE_ROWS = 5000
PROFILE_HOOK_ROWS = 2000
SDKS = ("@azure/data-tables", "azure.data.tables")
PULL, JSONL, TICK, SERVED = ("leadsync pull", "leadsync -> JSONL", "no-op tick",
                             "leadsync -> JSONL from the table server")
AZURITE, SERVER = "Azurite", "table server"


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def run_capture(argv, env, tmpdir):
    """Runs argv under GNU time; returns (rc, CPU s (user+sys), wall s, peak RSS KiB, stderr, stdout).

    CPU comes from wait4 on /usr/bin/time (microseconds; it includes the
    child it waited for, and time's own ~1 ms). Peak RSS is time's %M: the
    child forked from the small time process, not from this Python (a child's
    maxrss counts the memory of the process it was forked from). Output goes
    to files (the last 64 KiB are returned); a dry run's one line per lead
    goes to /dev/null.
    """
    tf, of, ef = (os.path.join(tmpdir, f) for f in ("time.out", "stdout", "stderr"))
    if os.path.exists(of):
        os.remove(of)
    t0 = time.perf_counter()
    with open(os.devnull if "--dry-run" in argv else of, "wb") as fo, open(ef, "wb") as fe:
        p = subprocess.Popen(["/usr/bin/time", "-f", "%x %M", "-o", tf] + argv, env=env,
                             stdout=fo, stderr=fe)
        _, status, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    p.returncode = os.waitstatus_to_exitcode(status)
    with open(tf) as f:
        last = f.read().strip().splitlines()[-1].split()
    rss = int(last[-1])
    texts = []
    for path in (ef, of):
        try:
            with open(path, "rb") as f:
                f.seek(max(0, os.path.getsize(path) - 65536))
                texts.append(f.read().decode(errors="replace"))
        except OSError:
            texts.append("")
    return p.returncode, ru.ru_utime + ru.ru_stime, wall, rss, texts[0], texts[1]


def summary_rows(stderr):
    m = re.findall(r"rows=(\d+)", stderr)
    return int(m[-1]) if m else -1


def median_of(samples):
    out = {
        "cpu": statistics.median(s["cpu"] for s in samples),
        "wall": statistics.median(s["wall"] for s in samples),
        "rss": statistics.median(s["rss"] for s in samples),
        "rows": samples[-1]["rows"],
        "note": samples[-1].get("note", ""),
        "runs": len(samples),
    }
    if samples:
        out["min"] = min(s["cpu"] for s in samples)
        out["max"] = max(s["cpu"] for s in samples)
    return out


def parse_floor(floorer, table, env, n):
    """Runs leadsync-parsefloor once; its CPU is parse_ci_s (no wall, no RSS)."""
    p = subprocess.run([floorer, "--table", table, "--page-size", str(PAGE_SIZE)], env=env,
                       capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"leadsync-parsefloor exited {p.returncode}: "
                           f"{p.stderr.strip()[-600:]}")
    f = dict(re.findall(r"(\w+)=([\d.]+)", p.stdout))
    if "parse_ci_s" not in f or int(f.get("rows", -1)) != n:
        raise RuntimeError(f"leadsync-parsefloor: expected {n} rows, got: {p.stdout.strip()}")
    log(f"   {'floor':<22} {p.stdout.strip()}")
    return {"cpu": float(f["parse_ci_s"]), "wall": None, "rss": None, "rows": n, "note": ""}


def versions(bindir):
    v = {}
    out = subprocess.run([os.path.join(bindir, "leadsync"), "--version"], capture_output=True,
                         text=True)
    words = (out.stdout or out.stderr or "?").split()
    v["leadsync"] = words[-1] if words else "?"
    pj = os.path.join(ROOT, "scripts/npm/node_modules/@azure/data-tables/package.json")
    with open(pj) as f:
        v["@azure/data-tables"] = json.load(f)["version"]
    out = subprocess.run([SYS_PYTHON, "-c", "from azure.data.tables import _version as v; "
                          "print(v.VERSION)"], capture_output=True, text=True)
    v["azure.data.tables"] = out.stdout.strip()
    v["node"] = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()
    v["python3"] = subprocess.run([SYS_PYTHON, "--version"], capture_output=True,
                                  text=True).stdout.strip().split()[-1]
    pj = os.path.join(ROOT, "scripts/npm/node_modules/azurite/package.json")
    with open(pj) as f:
        v["azurite"] = json.load(f)["version"]
    r = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True,
                       text=True)
    v["rev"] = r.stdout.strip() or "?"
    return v


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


def fmt_n(n):
    if n >= 1000000 and n % 1000000 == 0:
        return f"{n // 1000000}M"
    return f"{n // 1000}k" if n % 1000 == 0 and n >= 1000 else str(n)


def loadavg():
    try:
        return "%.1f" % os.getloadavg()[0]
    except OSError:
        return "?"


# ------------------------------------------------------------------ tables

class Served:
    """`leadsync-seed serve N` on a free loopback port, until stopped."""

    def __init__(self, seeder, table, n, partitions):
        self.proc = subprocess.Popen([seeder, "--table", table, "serve", str(n), "--partitions",
                                      str(partitions), "--age", str(SERVE_AGE)],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.conn = self.proc.stdout.readline().strip()
        if "TableEndpoint=" not in self.conn:
            self.stop()
            raise RuntimeError(f"leadsync-seed serve printed no connection string: "
                               f"{self.proc.stderr.read()[-600:]}")
        # the newest row's Timestamp
        self.newest = time.time() - SERVE_AGE

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def seed_azurite(seeder, env, table, n, partitions):
    log(f"== {fmt_n(n)} rows: seeding table {table} (Azurite)")
    t0 = time.time()
    subprocess.run([seeder, "--table", table, "bulk", str(n), "--partitions", str(partitions),
                    "--jobs", "4"], env=env, check=True, stdout=subprocess.DEVNULL)
    log(f"   seeded in {time.time() - t0:.1f} s")
    time.sleep(1.2)  # the window ends at the server's Date (1 s resolution)
    return time.time()


# ------------------------------------------------------------------ one size

class Size:
    """The measurements of one table (one size from one source)."""

    def __init__(self, ctx, n, source, env, newest):
        self.ctx, self.n, self.source, self.env, self.newest = ctx, n, source, env, newest
        self.res = {}
        self.jsonl_dirs = {}

    def check_rows(self, got, what):
        if got != self.n:
            raise RuntimeError(f"{what} read {got} rows, expected {self.n}")
        return got

    def one(self, key, argv, env, note_fn, samples):
        rc, cpu, wall, rss, err, out = run_capture(argv, env, self.ctx.work)
        if rc != 0:
            raise RuntimeError(f"{key} exited {rc}: {err.strip()[-600:]}")
        rows = note_fn(err, out)
        samples.setdefault(key, []).append({"cpu": cpu, "wall": wall, "rss": rss, "rows": rows})
        log(f"   {key:<34} cpu {cpu:.3f} s wall {wall:.3f} s rss {rss / 1024:.1f} MiB "
            f"rows {rows}")

    def interleaved(self, name, make, reps):
        """reps rounds, each running every build once (before, then after)."""
        samples = {}
        for i in range(reps):
            for build, exe in self.ctx.builds:
                argv, env, note = make(build, exe, i)
                self.one(self.ctx.key(name, build), argv, env, note, samples)
        for key, s in samples.items():
            self.res[key] = median_of(s)

    def single(self, name, argv_fn, reps):
        samples = {}
        for i in range(reps):
            argv, env, note = argv_fn(i)
            self.one(name, argv, env, note, samples)
        self.res[name] = median_of(samples[name])

    def pull(self, build, exe, i):
        e = dict(self.env, LEADSYNC_STATE=os.path.join(self.ctx.work, "no-ledger.db"),
                 LEADSYNC_SINKS="jsonl:/dev/null")
        return ([exe, "run", "--once", "--dry-run"], e,
                lambda err, out: self.check_rows(summary_rows(err), "leadsync pull"))

    def jsonl(self, build, exe, i, tag="jsonl"):
        d = os.path.join(self.ctx.work, f"{tag}-{self.source[0]}{self.n}-{build}-{i}")
        old = self.jsonl_dirs.get((tag, build))
        if old:  # keep only the last run's ledger and file (1 GiB at 1M rows)
            shutil.rmtree(old, ignore_errors=True)
        self.jsonl_dirs[(tag, build)] = d
        os.makedirs(d)
        e = dict(self.env, LEADSYNC_STATE=os.path.join(d, "ledger.db"),
                 LEADSYNC_SINKS="jsonl:" + os.path.join(d, "leads.jsonl"))
        self.jsonl_started = time.time()

        def note(err, out):
            self.check_rows(summary_rows(err), "leadsync -> JSONL")
            with open(os.path.join(d, "leads.jsonl"), "rb") as f:
                lines = sum(1 for _ in f)
            return self.check_rows(lines, "the JSONL file")
        return [exe, "run", "--once"], e, note

    def tick(self, overlap):
        held = []

        def make(build, exe, i):
            d = self.jsonl_dirs[("jsonl", build)]
            e = dict(self.env, LEADSYNC_STATE=os.path.join(d, "ledger.db"),
                     LEADSYNC_SINKS="jsonl:" + os.path.join(d, "leads.jsonl"),
                     LEADSYNC_OVERLAP_SECONDS=str(overlap))

            def note(err, out):
                m = re.search(r"new=(\d+) updated=(\d+)", err)
                if m and (int(m.group(1)) or int(m.group(2))):
                    raise RuntimeError("the no-op tick found new rows: " + err[-300:])
                r = summary_rows(err)
                held.append(r)
                return r
            return [exe, "run", "--once"], e, note
        return make, held

    def sdk(self, script, interp):
        table = self.env["LEADSYNC_TABLE"]

        def make(i):
            return ([interp, os.path.join(HERE, script), table, str(PAGE_SIZE)], self.env,
                    lambda err, out: self.check_rows(summary_rows(out), script))
        return make

    def measure(self, reps):
        ctx = self.ctx
        self.interleaved(PULL, self.pull, reps)
        if not ctx.args.no_sdk and (not ctx.args.sdk_max or self.n <= ctx.args.sdk_max):
            self.single(SDKS[0], self.sdk("sdk.mjs", "node"), reps)
            self.single(SDKS[1], self.sdk("sdk.py", SYS_PYTHON), reps)
        if self.n <= FLOOR_MAX:
            self.res[FLOOR] = parse_floor(ctx.floorer, self.env["LEADSYNC_TABLE"], self.env,
                                          self.n)
        # The JSONL runs a few seconds after the seeding, so an overlap can end
        # before the rows (see below).
        gap = MIN_GAP - (time.time() - self.newest)
        if gap > 0:
            time.sleep(gap)
        self.interleaved(JSONL, self.jsonl, reps)
        # The no-op tick: the last JSONL run's ledger again, nothing new. The
        # window is [cursor - overlap, now), the cursor being that run's
        # start: with rows younger than the overlap there it would re-read
        # them all, so the overlap is cut below the rows' age at that moment
        # when they are that young, and the table says so.
        age = int(self.jsonl_started - self.newest)
        overlap = ctx.args.overlap if age > ctx.args.overlap + 2 else max(0, age - 2)
        make, held = self.tick(overlap)
        self.interleaved(TICK, make, ctx.args.tick_reps)
        for build, _ in ctx.builds:
            r = self.res[ctx.key(TICK, build)]
            r["note"] = (f"median of {r['runs']}, {r['min'] * 1e3:.0f}-{r['max'] * 1e3:.0f} ms; "
                         f"overlap {overlap} s, the window held {held[-1]} rows")


def jsonl_lines(path):
    """The JSONL file's lines without the row's Timestamp, sorted, and the delivery ids."""
    lines, ids = [], set()
    with open(path, encoding="utf-8") as f:
        for line in f:
            body = json.loads(line)
            body.get("lead", {}).pop("timestamp", None)
            ids.add(body.get("deliveryId"))
            lines.append(json.dumps(body, sort_keys=True))
    lines.sort()
    return lines, ids


def check_server(ctx, size, partitions):
    """Reads the Azurite size's rows again from the table server; compares."""
    n = size.n
    srv = Served(ctx.seeder, f"check{n}", n, partitions)
    try:
        env = dict(ctx.base_env, LEADSYNC_CONNECTION_STRING=srv.conn, LEADSYNC_TABLE=f"check{n}")
        other = Size(ctx, n, SERVER, env, srv.newest)
        exe = ctx.builds[-1][1]
        samples = {}
        argv, e, note = other.jsonl("after", exe, 0, tag="check")
        other.one(SERVED, argv, e, note, samples)
    finally:
        srv.stop()
    r = median_of(samples[SERVED])
    a_lines, a_ids = jsonl_lines(os.path.join(size.jsonl_dirs[("jsonl", "after")],
                                              "leads.jsonl"))
    b_lines, b_ids = jsonl_lines(os.path.join(other.jsonl_dirs[("check", "after")],
                                              "leads.jsonl"))
    same = a_lines == b_lines
    r["note"] = (f"{len(b_lines)} lines, {len(b_ids)} delivery ids; "
                 + ("every line and delivery id the same as from Azurite, Timestamps aside"
                    if same and a_ids == b_ids else "DIFFERENT from Azurite's"))
    size.res[SERVED] = r
    shutil.rmtree(other.jsonl_dirs[("check", "after")], ignore_errors=True)
    log(f"   table server check: {r['note']}")
    if not same:
        raise RuntimeError("the table server's rows gave other JSONL lines than Azurite's")


# ------------------------------------------------------------------ scripts

def json_lines(text):
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                obj = json.loads(line)
            except ValueError:
                continue
            if not isinstance(obj, dict) or "bench" not in obj:
                continue
            if isinstance(obj.get("sinks"), dict):  # crm: one object per sink
                for sink, fig in obj["sinks"].items():
                    out.append(dict(fig, bench=obj["bench"], sink=sink,
                                    leads=obj.get("leads")))
            else:
                out.append(obj)
    return out


def run_script(ctx, name, n, build, bindir):
    """scripts/bench/<name> N BUILD_DIR; its JSON lines, or [] (said why)."""
    path = os.path.join(HERE, name)
    if not os.path.isfile(path):
        log(f"   {name}: no scripts/bench/{name}; skipped")
        return []
    log(f"== {name} {n} ({build})")
    with open(path) as f:
        interp = "python3" if "python" in f.readline() else "bash"
    p = subprocess.run([interp, path, str(n), bindir], capture_output=True, text=True)
    for line in p.stdout.strip().splitlines()[-8:]:
        log(f"   {line}")
    if p.returncode != 0:
        log(f"   {name} ({build}) exited {p.returncode}: {p.stderr.strip()[-400:]}")
        return [{"bench": name, "build": build, "sink": f"(failed: exit {p.returncode})"}]
    objs = json_lines(p.stdout) or [{"bench": name, "sink": "(no JSON line in its output)"}]
    for o in objs:
        o["build"] = build
    return objs


def base_bindir(ctx, exe):
    """The base build's directory, with this build's leadsync-seed beside its leadsync."""
    d = os.path.dirname(exe)
    seed = os.path.join(d, "leadsync-seed")
    if not os.path.exists(seed):
        os.symlink(ctx.seeder, seed)
    return d


# ------------------------------------------------------------------ main

class Ctx:
    def __init__(self, args):
        self.args = args
        self.bindir = os.path.abspath(args.bindir)
        self.seeder = os.path.join(self.bindir, "leadsync-seed")
        self.floorer = os.path.join(self.bindir, "leadsync-parsefloor")
        self.work = tempfile.mkdtemp(prefix="leadsync-bench.")
        self.builds = [("after", os.path.join(self.bindir, "leadsync"))]
        self.base_rev = None
        self.base_env = {}

    def key(self, name, build):
        if len(self.builds) == 1:
            return name
        return f"{name}, before" if build == "before" else f"{name}, after"


def parse_args():
    ap = argparse.ArgumentParser(prog="scripts/bench/run")
    ap.add_argument("--sizes", default="20000,100000",
                    help="row counts seeded into Azurite ('' for none)")
    ap.add_argument("--synthetic-sizes", default="100000,1000000",
                    help="row counts served by `leadsync-seed serve` ('' for none)")
    ap.add_argument("--quick", action="store_true", help="sizes 1000,10000, one repetition")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--large-reps", type=int, default=1,
                    help=f"repetitions for Azurite sizes over {fmt_n(LARGE)} rows")
    ap.add_argument("--synthetic-reps", type=int, default=1)
    ap.add_argument("--tick-reps", type=int, default=20,
                    help="runs of the no-op tick per size and build (the median is reported)")
    ap.add_argument("--partitions", type=int, default=10)
    ap.add_argument("--overlap", type=int, default=300,
                    help="LEADSYNC_OVERLAP_SECONDS for the no-op tick (lowered, and said so, "
                         "when the rows are younger than that)")
    ap.add_argument("--base-rev", help="also measure this git revision's leadsync (Release)")
    ap.add_argument("--no-check-server", dest="check_server", action="store_false",
                    help="do not read each Azurite size from the table server too (and compare)")
    ap.add_argument("--no-sdk", action="store_true", help="skip the SDK pulls")
    ap.add_argument("--sdk-max", type=int, default=0,
                    help="the SDK pulls only up to this many rows (default: every size)")
    ap.add_argument("--no-webhook", action="store_true", help="skip scripts/bench/webhook")
    ap.add_argument("--webhook-leads", type=int, default=10000)
    ap.add_argument("--no-crm", action="store_true", help="skip scripts/bench/crm")
    ap.add_argument("--crm-leads", type=int, default=2000)
    ap.add_argument("--no-readme", action="store_true")
    ap.add_argument("--no-profile", action="store_true",
                    help="skip the callgrind profiles (JSONL and webhook)")
    ap.add_argument("--profile-base-rev",
                    help=f"the profiles' before (default: --base-rev, else {BASE_REV})")
    ap.add_argument("--bindir", required=True)
    ap.add_argument("--command", default="scripts/bench/run")
    args = ap.parse_args()
    if args.quick:
        args.sizes, args.synthetic_sizes, args.reps = "1000,10000", "", 1
        args.check_server = False
    return args


def sizes_of(text):
    return [int(s) for s in text.split(",") if s.strip()]


def main():
    args = parse_args()
    ctx = Ctx(args)
    azurite_sizes, synth_sizes = sizes_of(args.sizes), sizes_of(args.synthetic_sizes)
    azdir = os.path.join(ctx.work, "azurite")
    sizes, scripts, profiles = [], [], []
    loads = [loadavg()]
    t_start = time.time()
    try:
        if args.base_rev:
            exe = bench_profile.build_base(args.base_rev, ctx.bindir)
            ctx.base_rev = os.path.basename(os.path.dirname(exe))[len("base-"):]
            ctx.builds.insert(0, ("before", exe))
        ctx.base_env = {k: v for k, v in os.environ.items() if not k.startswith("LEADSYNC_")}
        ctx.base_env.update({
            "LEADSYNC_SETTLE_SECONDS": "0",
            "LEADSYNC_LOG_LEVEL": "info",
            "LEADSYNC_PAGE_SIZE": str(PAGE_SIZE),
            "LEADSYNC_PROGRESS_SECONDS": "3600",
        })
        conn = None
        if azurite_sizes or not args.no_profile:
            conn = subprocess.run([os.path.join(ROOT, "scripts/azurite"), "start", azdir],
                                  check=True, capture_output=True, text=True).stdout.strip()
        for n in azurite_sizes:
            table = f"bench{n}"
            env = dict(ctx.base_env, LEADSYNC_CONNECTION_STRING=conn, LEADSYNC_TABLE=table)
            newest = seed_azurite(ctx.seeder, env, table, n, args.partitions)
            size = Size(ctx, n, AZURITE, env, newest)
            size.measure(args.reps if n <= LARGE else args.large_reps)
            if args.check_server:
                check_server(ctx, size, args.partitions)
            sizes.append(size)
            loads.append(loadavg())
        for n in synth_sizes:
            table = f"synth{n}"
            log(f"== {fmt_n(n)} rows: table {table} from leadsync-seed serve")
            srv = Served(ctx.seeder, table, n, args.partitions)
            try:
                env = dict(ctx.base_env, LEADSYNC_CONNECTION_STRING=srv.conn,
                           LEADSYNC_TABLE=table)
                size = Size(ctx, n, SERVER, env, srv.newest)
                size.measure(args.synthetic_reps)
            finally:
                srv.stop()
            for d in size.jsonl_dirs.values():
                shutil.rmtree(d, ignore_errors=True)
            sizes.append(size)
            loads.append(loadavg())
        for name, n, wanted in (("webhook", args.webhook_leads, not args.no_webhook),
                                ("crm", args.crm_leads, not args.no_crm)):
            if not wanted:
                continue
            for build, exe in ctx.builds:
                bindir = ctx.bindir if build == "after" else base_bindir(ctx, exe)
                scripts += run_script(ctx, name, n, build, bindir)
            loads.append(loadavg())
        if not args.no_profile:
            profiles = run_profiles(ctx, conn)
    finally:
        subprocess.run([os.path.join(ROOT, "scripts/azurite"), "stop", azdir],
                       capture_output=True)
        shutil.rmtree(ctx.work, ignore_errors=True)

    minutes = (time.time() - t_start) / 60
    md = render(ctx, sizes, scripts, profiles, versions(ctx.bindir), loads, minutes)
    print(md)
    if not args.no_readme:
        write_readme(md)
        log("scripts/bench/README.md: Results section updated")
    return 0


def run_profiles(ctx, conn):
    """The callgrind profiles: JSONL and webhook, this build against a base."""
    base = ctx.args.profile_base_rev or ctx.args.base_rev or BASE_REV
    out = []
    for sink, rows in (("jsonl", PROFILE_ROWS), ("webhook", PROFILE_HOOK_ROWS)):
        table = f"prof{sink}{rows}"
        env = dict(ctx.base_env, LEADSYNC_CONNECTION_STRING=conn, LEADSYNC_TABLE=table)
        log(f"== CPU profile ({sink}): seeding {fmt_n(rows)} rows into table {table}")
        subprocess.run([ctx.seeder, "--table", table, "bulk", str(rows), "--partitions",
                        str(ctx.args.partitions), "--jobs", "4"], env=env, check=True,
                       stdout=subprocess.DEVNULL)
        time.sleep(1.2)  # the window ends at the server's Date (1 s resolution)
        try:
            out.append(bench_profile.run(ctx.bindir, conn, table, rows, ctx.work, base,
                                         sink=sink))
        except RuntimeError as e:
            log(f"   CPU profile ({sink}) not taken: {e}")
    return out


# ------------------------------------------------------------------ the report

def per_row(r, n):
    return r["cpu"] * 1e6 / n


def leaner_sdk(size):
    got = [(size.res[s]["cpu"], s) for s in SDKS if s in size.res]
    return min(got) if got else (None, None)


def find(sizes, n, source=None):
    for s in sizes:
        if s.n == n and (source is None or s.source == source):
            return s
    return None


def verdict(value, goal, lower_is_better=True, unit="×", fmt="{:.2f}"):
    """'yes (by 12%)' or 'no (34% over)' for value against goal."""
    if value is None:
        return "not measured"
    ok = value <= goal if lower_is_better else value >= goal
    if goal == 0:
        return "yes" if ok else "no"
    off = abs(value / goal - 1) * 100
    pct = f"{off:.1f}%" if off < 10 else f"{off:.0f}%"
    if ok:
        return f"yes, {pct} {'under' if lower_is_better else 'over'}"
    return f"**no**, {pct} {'over' if lower_is_better else 'under'}"


def target_rows(ctx, sizes, scripts):
    """(target, goal, [(build, value text, verdict)]) for each of issue 17's targets."""
    out = []
    builds = [b for b, _ in ctx.builds]

    def add(target, goal_text, fn, goal, lower=True, fmt="{:.2f}×"):
        cells = []
        for b in builds:
            v = fn(b)
            cells.append(("not measured" if v is None else fmt.format(v),
                          verdict(v, goal, lower)))
        out.append((target, goal_text, cells))

    def jsonl_ratio(n):
        def fn(b):
            s = find(sizes, n, AZURITE) or find(sizes, n)
            if not s or ctx.key(JSONL, b) not in s.res:
                return None
            cpu, _ = leaner_sdk(s)
            return s.res[ctx.key(JSONL, b)]["cpu"] / cpu if cpu else None
        return fn

    def flat(lo, hi, src_hi=None):
        def fn(b):
            a = find(sizes, lo, AZURITE if src_hi is None else src_hi) or find(sizes, lo)
            z = find(sizes, hi, src_hi)
            k = ctx.key(JSONL, b)
            if not a or not z or k not in a.res or k not in z.res:
                return None
            return per_row(z.res[k], hi) / per_row(a.res[k], lo)
        return fn

    add("JSONL pipeline CPU over the leaner SDK's bare pull, 20k rows", "≤ 0.80×",
        jsonl_ratio(20000), 0.8)
    add("the same at 100k rows", "≤ 1.00×", jsonl_ratio(100000), 1.0)
    add("CPU per row at 100k over that at 20k (JSONL)", "≤ 1.15×", flat(20000, 100000), 1.15)
    big = max((s.n for s in sizes if s.source == SERVER), default=None)
    if big and big > 100000:
        add(f"CPU per row at {fmt_n(big)} over that at 100k (JSONL; table server for both when "
            "it served 100k)", "≤ 1.15× (the same cost)",
            flat(100000, big, SERVER) if find(sizes, 100000, SERVER) else flat(100000, big),
            1.15)
    else:
        out.append(("CPU per row at 1M rows (JSONL)", "≤ 1.15× that at 100k",
                    [("not measured (no --synthetic-sizes 1000000)", "not measured")] *
                    len(builds)))

    def rss(b):
        s = find(sizes, big, SERVER) if big else None
        k = ctx.key(JSONL, b)
        return s.res[k]["rss"] / 1024 if s and k in s.res else None
    add(f"peak RSS of leadsync → JSONL at {fmt_n(big) if big else '1M'} rows", "≤ 16 MiB", rss,
        16.0, fmt="{:.2f} MiB")

    def hook(field):
        def fn(b):
            for o in scripts:
                if o.get("bench") == "webhook" and o.get("build") == b and o.get(field):
                    return float(o[field])
            return None
        return fn
    add(f"webhook: leadsync CPU per delivered lead ({ctx.args.webhook_leads:,} leads)",
        "≤ 60 µs", hook("cpu_us_per_lead"), 60, fmt="{:.0f} µs")
    add("webhook: leads per second (sync and delivery, end to end)", "≥ 5,000",
        hook("leads_per_s"), 5000, lower=False, fmt="{:,.0f}")

    def tick(b):
        ms = [s.res[ctx.key(TICK, b)]["cpu"] * 1e3 for s in sizes if ctx.key(TICK, b) in s.res]
        return statistics.median(ms) if ms else None
    add("no-op CronJob tick, CPU (median of every size's median)", "≤ 20 ms", tick, 20,
        fmt="{:.1f} ms")

    def wall(b):
        s = find(sizes, 100000, AZURITE) or find(sizes, 100000)
        k = ctx.key(JSONL, b)
        if not s or k not in s.res or not any(x in s.res for x in SDKS):
            return None
        return s.res[k]["wall"] / min(s.res[x]["wall"] for x in SDKS if x in s.res)
    add("wall time of a 100k catch-up (JSONL) over the faster SDK pull's", "≤ 1.00×", wall, 1.0)
    return out


def render_targets(ctx, sizes, scripts):
    rows = target_rows(ctx, sizes, scripts)
    lines = ["### Issue 17's targets, this run", ""]
    if len(ctx.builds) == 1:
        lines += ["| target | goal | measured | met? |", "|---|---|---:|---|"]
        for t, g, cells in rows:
            lines.append(f"| {t} | {g} | {cells[0][0]} | {cells[0][1]} |")
    else:
        lines += [f"| target | goal | before (`{ctx.base_rev}`) | met? | after | met? |",
                  "|---|---|---:|---|---:|---|"]
        for t, g, cells in rows:
            lines.append(f"| {t} | {g} | {cells[0][0]} | {cells[0][1]} | {cells[1][0]} | "
                         f"{cells[1][1]} |")
    lines.append("")
    lines.append("Ratios are taken within this run (both builds and both SDKs on the same "
                 "machine state); \"the leaner SDK\" is the one with the lower CPU at that size. "
                 "*yes, N% under* is the margin to the goal; ***no**, N% over* how far off it is.")
    return lines


def render_sizes(ctx, sizes):
    base = len(ctx.builds) > 1
    lines = ["| rows | table | contender | CPU s | wall s | peak RSS MiB | CPU µs/row | "
             "CPU vs @azure/data-tables | CPU vs azure.data.tables |"
             + (" CPU after vs before |" if base else ""),
             "|---:|---|---|---:|---:|---:|---:|---:|---:|" + ("---:|" if base else "")]
    for s in sizes:
        js = s.res.get(SDKS[0], {}).get("cpu")
        py = s.res.get(SDKS[1], {}).get("cpu")
        for name, r in s.res.items():
            sdk = name in SDKS
            ratio = "" if sdk or not js else f"{r['cpu'] / js:.2f}×"
            ratio_py = "" if sdk or not py else f"{r['cpu'] / py:.2f}×"
            label = name + (f" ({r['note']})" if r.get("note") else "")
            per = "" if name.startswith(TICK) else f"{per_row(r, s.n):.0f}"
            cpu = f"{r['cpu'] * 1e3:.1f} ms" if name.startswith(TICK) else f"{r['cpu']:.3f}"
            wall = "" if r["wall"] is None else f"{r['wall']:.3f}"
            rss = "" if r["rss"] is None else f"{r['rss'] / 1024:.1f}"
            change = ""
            before = s.res.get(name[:-len(", after")] + ", before") if name.endswith(
                ", after") else None
            if before and before["cpu"]:
                change = f"{(r['cpu'] / before['cpu'] - 1) * 100:+.1f}%"
            lines.append(f"| {fmt_n(s.n)} | {s.source} | {label} | {cpu} | {wall} | {rss} | "
                         f"{per} | {ratio} | {ratio_py} |" + (f" {change} |" if base else ""))
    return lines


def render_scripts(scripts):
    if not scripts:
        return []
    lines = ["### Webhook and CRM sinks (scripts/bench/webhook, scripts/bench/crm)", "",
             "| benchmark | sink | build | leads | leadsync CPU µs per delivered lead | "
             "leads/s | wall s | delivery side µs per lead |",
             "|---|---|---|---:|---:|---:|---:|---:|"]

    def num(o, k, f):
        v = o.get(k)
        return "" if v is None else f.format(v)
    for o in scripts:
        lines.append(f"| {o.get('bench')} | {o.get('sink', o.get('bench'))} | {o['build']} | "
                     f"{num(o, 'delivered', '{:,}') or num(o, 'leads', '{:,}')} | "
                     f"{num(o, 'cpu_us_per_lead', '{:.0f}')} | {num(o, 'leads_per_s', '{:,.0f}')} | "
                     f"{num(o, 'wall_s', '{:.2f}')} | "
                     f"{num(o, 'delivery_cpu_us_per_lead', '{:.0f}') or num(o, 'sink_cpu_us_per_lead', '{:.0f}')} |")
    lines.append("")
    lines.append("The webhook: one `leadsync run --once` that syncs the leads (one per row) and "
                 "POSTs each, signed, to nginx on loopback answering 204. The CRM sinks: one "
                 "such run per sink against its loopback HTTPS test double (Python: it bounds "
                 "the wall time and leads/s, not leadsync's CPU). CPU is leadsync's user+sys "
                 "over the leads delivered; the delivery side subtracts a JSONL-only sync of "
                 "the same rows (the outbox, the sink and its HTTP).")
    return lines


def render(ctx, sizes, scripts, profiles, v, loads, minutes):
    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [f"Taken {date} with `{ctx.args.command}` at {v['rev']} ({minutes:.0f} min) on "
             f"{os.cpu_count()} CPUs ({cpu_model()}), Linux {platform.release()}, load average "
             f"{' → '.join(loads)} (start → after each size and script); Azurite "
             f"{v['azurite']} (in memory) on the same machine. leadsync {v['leadsync']} "
             f"(Release build); @azure/data-tables {v['@azure/data-tables']} on Node "
             f"{v['node']}; azure.data.tables {v['azure.data.tables']} (Debian python3-azure) "
             f"on Python {v['python3']}."]
    if ctx.base_rev:
        lines.append("")
        lines.append(f"*before* is the Release build of `{ctx.base_rev}`, *after* this one; "
                     "each repetition runs before then after, so both see the same machine "
                     "state.")
    lines.append("")
    lines += render_targets(ctx, sizes, scripts)
    lines.append("")
    lines.append("### Every contender")
    lines.append("")
    lines.append(f"Every contender of a size reads the same rows of the same table, {PAGE_SIZE} "
                 f"per page; median of {ctx.args.reps} runs on Azurite (of "
                 f"{ctx.args.large_reps} above {fmt_n(LARGE)} rows), "
                 f"{ctx.args.synthetic_reps} on the table server, {ctx.args.tick_reps} for the "
                 "no-op tick. CPU is user+sys of the process (the table service's own CPU is "
                 "not counted for anyone), RSS is its peak resident set.")
    lines.append("")
    lines.append("- *Azurite* sizes are seeded with `leadsync-seed bulk`; *table server* sizes "
                 "are served by `leadsync-seed serve` (the same rows, generated per page, "
                 "kept-alive connections, SharedKey not checked; every row an hour old).")
    lines.append("- *leadsync pull*: `run --once --dry-run` without a ledger: every page read "
                 "and parsed, the lead model run on every row, one line per lead to /dev/null.")
    lines.append("- *leadsync → JSONL*: `run --once` with a fresh ledger: ledger, outbox, "
                 "delivery, JSONL fsynced per batch. *…from the table server* (`--check-server`) "
                 "(on unless `--no-check-server`) reads the Azurite size's rows from the table "
                 "server; its note says whether "
                 "the two JSONL files agree.")
    lines.append("- *no-op tick*: `run --once` again on the JSONL run's ledger, as a CronJob "
                 "tick that finds nothing new.")
    lines.append("- *SDK bare pulls*: `sdk.mjs` (listEntities().byPage) and `sdk.py` "
                 "(list_entities by page), counting the entities.")
    lines.append("- *floor: jansson parse*: `leadsync-parsefloor` times only jansson's parse "
                 "of the same page bodies and CustomerInfo texts (best of 3): the lower bound "
                 f"of any pipeline built on jansson (up to {fmt_n(FLOOR_MAX)} rows).")
    lines.append("")
    lines += render_sizes(ctx, sizes)
    script_lines = render_scripts(scripts)
    if script_lines:
        lines.append("")
        lines += script_lines
    for p in profiles:
        lines.append("")
        lines.append(p)
    return "\n".join(lines).replace("->", "→")


def write_readme(md):
    path = os.path.join(HERE, "README.md")
    with open(path, encoding="utf-8") as f:
        text = f.read()
    m = re.search(r"^## Results[ \t]*\n", text, re.M)
    if not m:
        text = text.rstrip("\n") + "\n\n## Results\n"
        m = re.search(r"^## Results[ \t]*\n", text, re.M)
    rest = text[m.end():]
    nxt = re.search(r"^## ", rest, re.M)
    tail = rest[nxt.start():] if nxt else ""
    body = "\n" + md + "\n" + ("\n" if tail else "")
    with open(path, "w", encoding="utf-8") as f:
        f.write(text[:m.end()] + body + tail)


if __name__ == "__main__":
    sys.exit(main())
