#!/usr/bin/env python3
"""bench.py - the benchmarks behind scripts/bench/run (run that, not this).

Starts a private Azurite, seeds each size into its own table with
leadsync-seed, then measures, in the same run and against the same rows:

  leadsync pull       `leadsync run --once --dry-run`, no ledger: reads every
                      page (one request for the server's clock, then the window
                      query with continuations), parses the entities, runs the
                      lead model (normalization, lead_id, content hash) and
                      prints one line per lead to /dev/null; writes nothing
  leadsync -> JSONL   fresh ledger and file: `leadsync run --once` into a JSONL
                      sink (ledger, outbox, delivery, fsync per batch)
  leadsync -> webhook fresh ledger: `leadsync run --once` into a webhook sink
                      (a loopback receiver in this script answers 204; its CPU
                      is not counted, its speed bounds the wall time)
  no-op tick          `leadsync run --once` again on the JSONL run's ledger:
                      nothing new; the window is the overlap (what it held is
                      reported)
  @azure/data-tables  bare pull: scripts/bench/sdk.mjs (listEntities().byPage,
                      maxPageSize as leadsync's page size), counts entities
  azure.data.tables   bare pull: scripts/bench/sdk.py (list_entities by page),
                      counts entities
  floor               leadsync-parsefloor, once: fetches the same pages, keeps
                      the bodies, then times only their jansson parse (each
                      page and each entity's CustomerInfo text) with the
                      process CPU clock, best of 3 passes in that process

Each contender runs --reps times (default 3); the median CPU (user+sys of the
child, from wait4), wall and peak RSS (ru_maxrss) are reported. Azurite's own
CPU is not counted for anyone. The floor's CPU is its own parse time, not
the process's (its HTTP is left out).

Then, unless --no-profile, a CPU profile (scripts/bench/bench_profile.py): one
`leadsync run --once` of 5,000 rows into JSONL under callgrind, the
pipeline's stages in instructions, for this build and for BASE_REV's (built
once, kept in BINDIR/base-HASH) on the same table. Python 3 stdlib only.
"""
import argparse
import datetime
import http.server
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_profile  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SYS_PYTHON = "/usr/bin/python3"
PAGE_SIZE = 1000
FLOOR = "floor: jansson parse of the page bodies"
MIN_GAP = 6  # seconds between the end of the seeding and the JSONL runs
# The commit before the profile-driven work: the CPU profile's "before".
BASE_REV = "abbf4ad"
PROFILE_ROWS = 5000


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def run_capture(argv, env, tmpdir):
    """Runs argv under GNU time; returns (rc, CPU s (user+sys), wall s, peak RSS KiB, stderr, stdout).

    CPU comes from wait4 on /usr/bin/time (microseconds; it includes the
    child it waited for, and time's own ~1 ms). Peak RSS is time's %M: the
    child forked from the small time process, not from this Python (a child's
    maxrss counts the memory of the process it was forked from).
    """
    tf = os.path.join(tmpdir, "time.out")
    t0 = time.perf_counter()
    p = subprocess.Popen(["/usr/bin/time", "-f", "%x %M", "-o", tf] + argv, env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out = p.stdout.read()
    err = p.stderr.read()
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    p.returncode = os.waitstatus_to_exitcode(status)
    with open(tf) as f:
        last = f.read().strip().splitlines()[-1].split()
    rss = int(last[-1])
    return (p.returncode, ru.ru_utime + ru.ru_stime, wall, rss,
            err.decode(errors="replace"), out.decode(errors="replace"))


class Hook(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):  # noqa: N802
        n = int(self.headers.get("Content-Length") or 0)
        if n:
            self.rfile.read(n)
        self.server.count += 1
        self.send_response(204)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_OPTIONS(self):  # noqa: N802
        self.send_response(204)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def start_receiver():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    srv.daemon_threads = True
    srv.count = 0
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


def summary_rows(stderr):
    m = re.findall(r"rows=(\d+)", stderr)
    return int(m[-1]) if m else -1


def median_of(samples):
    return {
        "cpu": statistics.median(s["cpu"] for s in samples),
        "wall": statistics.median(s["wall"] for s in samples),
        "rss": statistics.median(s["rss"] for s in samples),
        "rows": samples[-1]["rows"],
        "note": samples[-1].get("note", ""),
    }


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
    return f"{n // 1000}k" if n % 1000 == 0 and n >= 1000 else str(n)


def main():
    ap = argparse.ArgumentParser(prog="scripts/bench/run")
    ap.add_argument("--sizes", default="1000,10000,20000,100000")
    ap.add_argument("--quick", action="store_true", help="sizes 1000,10000, one repetition")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--partitions", type=int, default=10)
    ap.add_argument("--overlap", type=int, default=300,
                    help="LEADSYNC_OVERLAP_SECONDS for the no-op tick (lowered, and said so, "
                         "when the rows are younger than that)")
    ap.add_argument("--no-webhook", action="store_true")
    ap.add_argument("--webhook-max", type=int, default=10000,
                    help="largest size the webhook contender runs at (the loopback receiver "
                         "is Python and slow)")
    ap.add_argument("--no-readme", action="store_true")
    ap.add_argument("--no-profile", action="store_true",
                    help="skip the callgrind profile of the pipeline (this build and "
                         f"{BASE_REV}'s)")
    ap.add_argument("--bindir", required=True)
    ap.add_argument("--command", default="scripts/bench/run")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s]
    reps = args.reps
    if args.quick:
        sizes, reps = [1000, 10000], 1

    args.bindir = os.path.abspath(args.bindir)
    leadsync = os.path.join(args.bindir, "leadsync")
    seeder = os.path.join(args.bindir, "leadsync-seed")
    floorer = os.path.join(args.bindir, "leadsync-parsefloor")
    work = tempfile.mkdtemp(prefix="leadsync-bench.")
    azdir = os.path.join(work, "azurite")
    receiver = None
    results = {}
    profile_md = None
    try:
        conn = subprocess.run([os.path.join(ROOT, "scripts/azurite"), "start", azdir],
                              check=True, capture_output=True, text=True).stdout.strip()
        if not args.no_webhook:
            receiver = start_receiver()
        base = {k: v for k, v in os.environ.items() if not k.startswith("LEADSYNC_")}
        base.update({
            "LEADSYNC_CONNECTION_STRING": conn,
            "LEADSYNC_SETTLE_SECONDS": "0",
            "LEADSYNC_LOG_LEVEL": "info",
            "LEADSYNC_PAGE_SIZE": str(PAGE_SIZE),
            "LEADSYNC_PROGRESS_SECONDS": "3600",
        })
        for n in sizes:
            table = f"bench{n}"
            env = dict(base, LEADSYNC_TABLE=table)
            log(f"== {fmt_n(n)} rows: seeding table {table}")
            t0 = time.time()
            subprocess.run([seeder, "--table", table, "bulk", str(n), "--partitions",
                            str(args.partitions), "--jobs", "4"], env=env, check=True,
                           stdout=subprocess.DEVNULL)
            seeded_at = time.time()
            log(f"   seeded in {seeded_at - t0:.1f} s")
            time.sleep(1.2)  # the window ends at the server's Date (1 s resolution)
            res = {}
            jsonl_started = []

            def rep(name, make):
                samples = []
                for i in range(reps):
                    argv, e, note_fn = make(i)
                    rc, cpu, wall, rss, err, out = run_capture(argv, e, work)
                    if rc != 0:
                        raise RuntimeError(f"{name} exited {rc}: {err.strip()[-600:]}")
                    rows = note_fn(err, out)
                    samples.append({"cpu": cpu, "wall": wall, "rss": rss, "rows": rows})
                    log(f"   {name:<22} rep {i + 1}: cpu {cpu:.3f} s wall {wall:.3f} s "
                        f"rss {rss / 1024:.1f} MiB rows {rows}")
                res[name] = median_of(samples)

            def check_rows(got, what):
                if got != n:
                    raise RuntimeError(f"{what} read {got} rows, expected {n}")
                return got

            def pull(i):
                e = dict(env, LEADSYNC_STATE=os.path.join(work, "no-ledger.db"),
                         LEADSYNC_SINKS="jsonl:/dev/null")
                return ([leadsync, "run", "--once", "--dry-run"], e,
                        lambda err, out: check_rows(summary_rows(err), "leadsync pull"))

            def full_jsonl(i):
                d = os.path.join(work, f"jsonl-{n}-{i}")
                jsonl_started.append(time.time())
                shutil.rmtree(d, ignore_errors=True)
                os.makedirs(d)
                e = dict(env, LEADSYNC_STATE=os.path.join(d, "ledger.db"),
                         LEADSYNC_SINKS="jsonl:" + os.path.join(d, "leads.jsonl"))

                def note(err, out):
                    check_rows(summary_rows(err), "leadsync -> JSONL")
                    with open(os.path.join(d, "leads.jsonl"), "rb") as f:
                        lines = sum(1 for _ in f)
                    return check_rows(lines, "the JSONL file")
                return [leadsync, "run", "--once"], e, note

            def full_webhook(i):
                d = os.path.join(work, f"hook-{n}-{i}")
                shutil.rmtree(d, ignore_errors=True)
                os.makedirs(d)
                before = receiver.count
                url = f"http://127.0.0.1:{receiver.server_address[1]}/hook"
                e = dict(env, LEADSYNC_STATE=os.path.join(d, "ledger.db"),
                         LEADSYNC_SINKS="webhook:" + url,
                         LEADSYNC_WEBHOOK_SECRET="whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")

                def note(err, out):
                    check_rows(summary_rows(err), "leadsync -> webhook")
                    return check_rows(receiver.count - before, "the receiver")
                return [leadsync, "run", "--once"], e, note

            def node_sdk(i):
                return (["node", os.path.join(HERE, "sdk.mjs"), table,
                         str(PAGE_SIZE)], env,
                        lambda err, out: check_rows(summary_rows(out), "@azure/data-tables"))

            def py_sdk(i):
                return ([SYS_PYTHON, os.path.join(HERE, "sdk.py"), table,
                         str(PAGE_SIZE)], env,
                        lambda err, out: check_rows(summary_rows(out), "azure.data.tables"))

            rep("leadsync pull", pull)
            rep("@azure/data-tables", node_sdk)
            rep("azure.data.tables", py_sdk)
            res[FLOOR] = parse_floor(floorer, table, env, n)
            if receiver and n <= args.webhook_max:
                rep("leadsync -> webhook", full_webhook)
            # The JSONL runs go last before the tick, a few seconds after the
            # seeding, so an overlap can end before the rows (see below).
            gap = MIN_GAP - (time.time() - seeded_at)
            if gap > 0:
                time.sleep(gap)
            jsonl_started.clear()
            rep("leadsync -> JSONL", full_jsonl)

            # The no-op tick: the last JSONL run's ledger again, nothing new.
            # The window is [cursor - overlap, now), the cursor being that
            # run's start: with rows younger than the overlap there it would
            # re-read them all, so the overlap is cut below the rows' age at
            # that moment when they are that young, and the table says so.
            age = int(jsonl_started[-1] - seeded_at)
            overlap = args.overlap if age > args.overlap + 2 else max(0, age - 2)
            ledger_dir = os.path.join(work, f"jsonl-{n}-{reps - 1}")
            held = []

            def tick(i):
                e = dict(env, LEADSYNC_STATE=os.path.join(ledger_dir, "ledger.db"),
                         LEADSYNC_SINKS="jsonl:" + os.path.join(ledger_dir, "leads.jsonl"),
                         LEADSYNC_OVERLAP_SECONDS=str(overlap))

                def note(err, out):
                    m = re.search(r"new=(\d+) updated=(\d+)", err)
                    if m and (int(m.group(1)) or int(m.group(2))):
                        raise RuntimeError("the no-op tick found new rows: " + err[-300:])
                    r = summary_rows(err)
                    held.append(r)
                    return r
                return [leadsync, "run", "--once"], e, note

            rep("no-op tick", tick)
            res["no-op tick"]["note"] = (f"overlap {overlap} s; the window held {held[-1]} rows "
                                         f"(nothing new)")
            results[n] = res

        if not args.no_profile:
            table = f"prof{PROFILE_ROWS}"
            env = dict(base, LEADSYNC_TABLE=table)
            log(f"== CPU profile: seeding {fmt_n(PROFILE_ROWS)} rows into table {table}")
            subprocess.run([seeder, "--table", table, "bulk", str(PROFILE_ROWS), "--partitions",
                            str(args.partitions), "--jobs", "4"], env=env, check=True,
                           stdout=subprocess.DEVNULL)
            time.sleep(1.2)  # the window ends at the server's Date (1 s resolution)
            try:
                profile_md = bench_profile.run(args.bindir, conn, table, PROFILE_ROWS, work,
                                               BASE_REV)
            except RuntimeError as e:
                log(f"   CPU profile not taken: {e}")
    finally:
        if receiver:
            receiver.shutdown()
        subprocess.run([os.path.join(ROOT, "scripts/azurite"), "stop", azdir],
                       capture_output=True)
        shutil.rmtree(work, ignore_errors=True)

    md = render(results, sizes, reps, versions(args.bindir), args.command, profile_md)
    print(md)
    if not args.no_readme:
        write_readme(md)
        log("scripts/bench/README.md: Results section updated")
    return 0


def render(results, sizes, reps, v, command, profile_md=None):
    lines = []
    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")
    lines.append(f"Taken {date} with `{command}` on {os.cpu_count()} CPUs ({cpu_model()}), "
                 f"Linux {platform.release()}; Azurite {v['azurite']} (in memory) on the same "
                 "machine. leadsync " + v["leadsync"] + f" (Release build); @azure/data-tables "
                 f"{v['@azure/data-tables']} on Node {v['node']}; azure.data.tables "
                 f"{v['azure.data.tables']} (Debian python3-azure) on Python {v['python3']}.")
    lines.append("")
    lines.append(f"Every contender reads the same rows of the same table, {PAGE_SIZE} per page; "
                 f"median of {reps} runs. CPU is user+sys of the process (Azurite's own CPU is "
                 "not counted for anyone), RSS is its peak resident set. Ratios are each row's "
                 "CPU over each SDK's bare pull.")
    lines.append("")
    lines.append("- *leadsync pull*: `run --once --dry-run` without a ledger: every page read "
                 "and parsed, the lead model run on every row (normalization, lead id, content "
                 "hash), one line per lead to /dev/null; nothing written.")
    lines.append("- *leadsync → JSONL / → webhook*: `run --once` with a fresh ledger: ledger, "
                 "outbox, delivery, JSONL fsynced per batch / signed webhook POSTs to a loopback "
                 "receiver (Python, in the harness; its speed bounds that wall time).")
    lines.append("- *no-op tick*: `run --once` again on the JSONL run's ledger, as a CronJob "
                 "tick that finds nothing new.")
    lines.append("- *SDK bare pulls*: `scripts/bench/sdk.mjs` (listEntities().byPage) and "
                 "`scripts/bench/sdk.py` (list_entities by page), counting the entities.")
    lines.append("- *floor: jansson parse*: `leadsync-parsefloor` fetches the same pages once "
                 "and keeps the bodies, then times only their parse with jansson, the project's "
                 "JSON library (process CPU clock, best of 3 passes, one run): each page body "
                 "loaded and its entities walked, and each entity's CustomerInfo text loaded. "
                 "It is the lower bound of any pipeline built on jansson, not counting HTTP, "
                 "the lead model, hashing, the ledger or the output.")
    lines.append("")
    lines.append("| rows | contender | CPU s | wall s | peak RSS MiB | CPU µs/row | "
                 "CPU vs @azure/data-tables | CPU vs azure.data.tables |")
    lines.append("|---:|---|---:|---:|---:|---:|---:|---:|")
    for n in sizes:
        res = results[n]
        js = res["@azure/data-tables"]["cpu"]
        py = res["azure.data.tables"]["cpu"]
        for name, r in res.items():
            ratio = "" if name in ("@azure/data-tables", "azure.data.tables") else (
                f"{r['cpu'] / js:.2f}×" if js else "")
            ratio_py = "" if name in ("@azure/data-tables", "azure.data.tables") else (
                f"{r['cpu'] / py:.2f}×" if py else "")
            label = name + (f" ({r['note']})" if r.get("note") else "")
            per = f"{r['cpu'] * 1e6 / n:.0f}" if name != "no-op tick" else ""
            wall = "" if r["wall"] is None else f"{r['wall']:.3f}"
            rss = "" if r["rss"] is None else f"{r['rss'] / 1024:.1f}"
            lines.append(f"| {fmt_n(n)} | {label} | {r['cpu']:.3f} | {wall} | {rss} | {per} | "
                         f"{ratio} | {ratio_py} |")
    if len(sizes) > 1:
        lo, hi = sizes[0], sizes[-1]
        lines.append("")
        parts = []
        for name in ("leadsync pull", "leadsync -> JSONL"):
            a, b = results[lo][name], results[hi][name]
            parts.append(f"{name}: peak RSS {a['rss'] / 1024:.1f} MiB at {fmt_n(lo)} rows, "
                         f"{b['rss'] / 1024:.1f} MiB at {fmt_n(hi)}; CPU per row "
                         f"{a['cpu'] * 1e6 / lo:.0f} µs and {b['cpu'] * 1e6 / hi:.0f} µs")
        lines.append("Flatness: " + "; ".join(parts) + ".")
    if profile_md:
        lines.append("")
        lines.append(profile_md)
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
