#!/usr/bin/env python3
"""bench_profile.py - a CPU profile of leadsync's full pipeline, in instructions.

  python3 scripts/bench/bench_profile.py --bindir DIR [--base-rev REV] [--rows N]
                                        [--sink jsonl|webhook]

Runs one `leadsync run --once` (DIR/leadsync) into a fresh JSONL file and
ledger (--sink webhook: signed POSTs of every lead, one per row, to a
loopback receiver in this script answering 204 on kept-alive connections;
default 2,000 rows) under `valgrind --tool=callgrind`, which counts the instructions the
process executes (all its threads; Azurite's are not counted), and reports
the pipeline's stages as instructions and as a share of the run's total,
read from `callgrind_annotate --inclusive=yes --tree=caller`.

A stage is a set of functions and its figure is inclusive: what those
functions and everything they call executed, each call counted once (calls
from one member of the set into another are not counted again). Stages
overlap (the lead model includes its JSON parse and its hashing), so they do
not add up to the total. Functions the compiler inlined do not appear in a
profile, so every stage names functions that are still there in the Release
build of both revisions.

With --base-rev REV it also builds REV (a temporary git worktree, CMake
Release, BUILD_TESTING=OFF, only the leadsync target; the build is kept in
DIR/base-HASH, so a rerun does not rebuild) and profiles both binaries on the
same table: before, after and the change of each stage.

Standalone, it uses the table LEADSYNC_TABLE (or --table) at
LEADSYNC_CONNECTION_STRING, which must already hold --rows rows; without a
connection string it starts its own Azurite, seeds the rows with
DIR/leadsync-seed and stops it afterwards. scripts/bench/bench.py imports it.
Python 3 stdlib only.
"""
import argparse
import http.server
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PAGE_SIZE = 1000
DEFAULT_ROWS = 5000
DEFAULT_HOOK_ROWS = 2000
WEBHOOK_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

# (label, members, callers): a function belongs to the stage when its name
# (recursion levels and GCC clone suffixes stripped) is in "fn", starts with
# one of "prefix", or its object's file name contains one of "obj"; with
# "from", only calls made by functions of those objects count.
STAGES = [
    ("read pages: HTTP + page parse (`azt_iter_next`, the prefetch thread's `prefetch_main`)",
     {"fn": {"azt_iter_next", "prefetch_main"}}),
    ("of which page parse (`page_parse`)", {"fn": {"page_parse"}}),
    ("JSON parse by jansson, all callers (`json_loadb`, `json_loads`)",
     {"fn": {"json_loadb", "json_loads"}}),
    ("lead model (`ls_lead_from_entity`: normalization, lead id, CustomerInfo parse, "
     "content hash)", {"fn": {"ls_lead_from_entity"}}),
    ("OpenSSL called by leadsync (SHA-256 of the content hashes and delivery ids; "
     "request signing)", {"obj": ("libcrypto",), "from": ("leadsync",)}),
    ("lead body: build + serialisation (`ls_lead_json`, jansson's `json_dumps`/`json_dumpb`)",
     {"fn": {"ls_lead_json", "json_dumps", "json_dumpb"}}),
    ("ledger: SQLite (`ls_ledger_*` and all of libsqlite3)",
     {"prefix": ("ls_ledger_",), "obj": ("libsqlite3",)}),
    ("JSONL sink (`jsonl_*`; the wait in fsync is not instructions)",
     {"prefix": ("jsonl_",)}),
    ("malloc/free/realloc/calloc (glibc), all callers",
     {"fn": {"malloc", "free", "realloc", "calloc"}, "obj": ()}),
]
# The webhook path's own stages, shown after the common ones for --sink webhook.
HOOK_STAGES = [
    ("delivery rounds (`ls_deliver_run`: outbox reads, the sink, the delivered marks)",
     {"fn": {"ls_deliver_run"}}),
    ("webhook sink (`hook_deliver`: bodies, headers, signing, HTTP)", {"fn": {"hook_deliver"}}),
    ("of which the signature (`ls_webhook_sign`)", {"fn": {"ls_webhook_sign"}}),
    ("libcurl, all callers", {"obj": ("libcurl",)}),
    ("`ls_ledger_enqueue` (outbox rows and the lead body)", {"fn": {"ls_ledger_enqueue"}}),
    ("`ls_ledger_mark_delivered`", {"fn": {"ls_ledger_mark_delivered"}}),
]
TOTAL = "whole run (all instructions of the process)"

SHA_NOTE = ("callgrind runs OpenSSL's SHA-256 without the CPU's SHA extensions (valgrind does "
            "not offer them to the program), so hashing weighs more in these counts than it "
            "does on the machine.")


class BaseBuildError(RuntimeError):
    """The base revision could not be built (e.g. absent from a shallow clone)."""


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def fmt_n(n):
    return f"{n:,}"


# ---------------------------------------------------------------- the receiver

class Hook(http.server.BaseHTTPRequestHandler):
    """A webhook receiver: reads the body, answers 204, keeps the connection."""
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


# ---------------------------------------------------------------- the profile

LINE = re.compile(r"^\s*([\d,]+)\s+\(\s*[\d.]+%\)\s+(?:([<>*])\s+)?(.*?)\s*$")
CLONE = re.compile(r"(\.(constprop|isra|part|cold|lto_priv)(\.\d+)?)+$")


def split_name(rest):
    """'file:fn (3x) [obj]' -> (fn, obj basename)."""
    obj = ""
    m = re.search(r"\s+\[([^\]]*)\]$", rest)
    if m:
        obj = os.path.basename(m.group(1))
        rest = rest[:m.start()]
    rest = re.sub(r"\s+\([\d,]+x\)$", "", rest)
    fn = rest.split(":", 1)[1] if ":" in rest else rest
    fn = re.sub(r"'\d+$", "", fn)  # a recursion level
    fn = fn.split("@", 1)[0]  # a symbol version
    return CLONE.sub("", fn), obj


def parse_tree(text):
    """callgrind_annotate --inclusive=yes --tree=caller -> (total, blocks).

    Each block is (fn, obj, inclusive cost, [(caller fn, caller obj, cost)]).
    """
    total = None
    blocks = []
    callers = []
    for line in text.splitlines():
        m = LINE.match(line)
        if not m:
            callers = []
            continue
        cost = int(m.group(1).replace(",", ""))
        mark, rest = m.group(2), m.group(3)
        if rest == "PROGRAM TOTALS":
            total = cost
        elif mark == "<":
            callers.append(split_name(rest) + (cost,))
        elif mark == "*":
            fn, obj = split_name(rest)
            blocks.append((fn, obj, cost, callers))
            callers = []
    if total is None:
        raise RuntimeError("callgrind_annotate printed no PROGRAM TOTALS")
    return total, blocks


def stage_cost(blocks, spec):
    """Inclusive cost of a set of functions: the calls into it from outside it."""
    def member(fn, obj):
        if "obj" in spec and spec["obj"] and any(o in obj for o in spec["obj"]):
            return True
        return fn in spec.get("fn", ()) or any(fn.startswith(p) for p in spec.get("prefix", ()))

    frm = spec.get("from")
    cost = 0
    for fn, obj, incl, callers in blocks:
        if not member(fn, obj):
            continue
        if not callers:  # a root: the thread's or the process's first function
            cost += incl if not frm else 0
            continue
        for cfn, cobj, c in callers:
            if member(cfn, cobj):
                continue
            if frm and not any(cobj == f for f in frm):
                continue
            cost += c
    return cost


def profile(leadsync, conn, table, rows, work, tag, sink="jsonl"):
    """One callgrind'ed `leadsync run --once` into a fresh ledger and sink.

    Returns {"total": instructions, "stages": [(label, instructions)]}.
    """
    d = os.path.join(work, f"{tag}-{sink}")
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    out = os.path.join(d, "callgrind.out")
    jsonl = os.path.join(d, "leads.jsonl")
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEADSYNC_")}
    env.update({
        "LEADSYNC_CONNECTION_STRING": conn,
        "LEADSYNC_TABLE": table,
        "LEADSYNC_SETTLE_SECONDS": "0",
        "LEADSYNC_PAGE_SIZE": str(PAGE_SIZE),
        "LEADSYNC_STATE": os.path.join(d, "ledger.db"),
        "LEADSYNC_SINKS": "jsonl:" + jsonl,
    })
    receiver = None
    if sink == "webhook":
        receiver = start_receiver()
        env["LEADSYNC_SINKS"] = f"webhook:http://127.0.0.1:{receiver.server_address[1]}/hook"
        env["LEADSYNC_WEBHOOK_SECRET"] = WEBHOOK_SECRET
    argv = ["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out,
            "--log-file=" + os.path.join(d, "valgrind.log"), leadsync, "run", "--once"]
    t0 = time.perf_counter()
    try:
        p = subprocess.run(argv, env=env, capture_output=True, text=True)
    finally:
        if receiver:
            receiver.shutdown()
            receiver.server_close()
    if p.returncode != 0:
        raise RuntimeError(f"callgrind'ed leadsync ({tag}) exited {p.returncode}: "
                           f"{p.stderr.strip()[-600:]}")
    got = re.findall(r"rows=(\d+)", p.stderr)
    if receiver:
        delivered = receiver.count
    else:
        with open(jsonl, "rb") as f:
            delivered = sum(1 for _ in f)
    if not got or int(got[-1]) != rows or delivered != rows:
        raise RuntimeError(f"the profiled run ({tag}) read {got[-1] if got else '?'} rows and "
                           f"delivered {delivered} leads, expected {rows}")
    ann = subprocess.run(["callgrind_annotate", "--inclusive=yes", "--tree=caller",
                          "--threshold=100", out], capture_output=True, text=True)
    if ann.returncode != 0:
        raise RuntimeError(f"callgrind_annotate exited {ann.returncode}: "
                           f"{ann.stderr.strip()[-600:]}")
    total, blocks = parse_tree(ann.stdout)
    stages = [(label, stage_cost(blocks, spec)) for label, spec in stages_for(sink)]
    log(f"   profile {tag} ({sink}): {fmt_n(total)} instructions "
        f"({time.perf_counter() - t0:.1f} s under callgrind)")
    return {"total": total, "stages": stages}


def stages_for(sink):
    if sink == "webhook":
        return [st for st in STAGES if not st[0].startswith("JSONL")] + HOOK_STAGES
    return STAGES


# ---------------------------------------------------------------- the base build

def build_base(rev, bindir, jobs=None):
    """Builds rev's leadsync (Release) once; returns its path. Raises BaseBuildError."""
    r = subprocess.run(["git", "-C", ROOT, "rev-parse", "--verify", "--quiet", rev + "^{commit}"],
                       capture_output=True, text=True)
    if r.returncode != 0:
        shallow = subprocess.run(["git", "-C", ROOT, "rev-parse", "--is-shallow-repository"],
                                 capture_output=True, text=True).stdout.strip() == "true"
        raise BaseBuildError(f"revision {rev} is not in this clone"
                             + (" (a shallow clone: `git fetch --unshallow` brings it)"
                                if shallow else ""))
    full = r.stdout.strip()
    bdir = os.path.join(bindir, "base-" + full[:7])
    exe = os.path.join(bdir, "leadsync")
    if os.path.isfile(exe) and os.access(exe, os.X_OK):
        log(f"   base {full[:7]}: reusing {exe}")
        return exe
    shutil.rmtree(bdir, ignore_errors=True)
    os.makedirs(bdir)
    tmp = tempfile.mkdtemp(prefix="leadsync-prof-base.")
    src = os.path.join(tmp, "src")
    jobs = jobs or os.cpu_count() or 2
    steps = [
        ["git", "-C", ROOT, "worktree", "add", "--detach", src, full],
        ["cmake", "-S", src, "-B", bdir, "-DCMAKE_BUILD_TYPE=Release", "-DBUILD_TESTING=OFF"],
        ["cmake", "--build", bdir, "-j", str(jobs), "--target", "leadsync"],
    ]
    log(f"   base {full[:7]}: building (Release, leadsync only) in {bdir}")
    try:
        with open(os.path.join(bdir, "build.log"), "w") as blog:
            for argv in steps:
                if subprocess.run(argv, stdout=blog, stderr=subprocess.STDOUT).returncode != 0:
                    raise BaseBuildError(f"`{' '.join(argv[:4])} ...` failed (log: "
                                         f"{os.path.join(bdir, 'build.log')})")
    finally:
        if os.path.isdir(src):
            subprocess.run(["git", "-C", ROOT, "worktree", "remove", "--force", src],
                           capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)
        subprocess.run(["git", "-C", ROOT, "worktree", "prune"], capture_output=True)
    if not os.path.isfile(exe):
        raise BaseBuildError(f"the build of {full[:7]} left no {exe}")
    return exe


# ---------------------------------------------------------------- the report

def cell(cost, total):
    return f"{cost / 1e6:,.1f} M ({cost * 100 / total:.1f}%)" if total else ""


def change(before, after):
    if not before:
        return ""
    return f"{(after - before) * 100 / before:+.1f}%"


def render(rows, after, before=None, base_rev=None, why_no_base=None, sink="jsonl"):
    """The Markdown subsection: heading, what it measures, the table."""
    what = ("into JSONL" if sink == "jsonl" else
            "to a webhook (a loopback receiver answering 204)")
    into = ("into a fresh JSONL file and ledger" if sink == "jsonl" else
            "with a fresh ledger, every lead POSTed, signed, to a loopback receiver (Python, "
            "in the harness; kept-alive connections) that answers 204")
    lines = [f"### CPU profile ({rows:,} rows {what}, instructions, callgrind)", ""]
    lines.append(f"One `leadsync run --once` of {rows:,} rows (pages of {PAGE_SIZE}) {into}, "
                 "under `valgrind --tool=callgrind`: instructions "
                 "executed by the process, all threads (Azurite's are not counted). A stage's "
                 "figure is inclusive (the named functions and everything they call, from "
                 "`callgrind_annotate --inclusive=yes`), with its share of the run's total; "
                 "stages overlap, so they do not add up. Inlined functions do not appear, so "
                 "each stage names functions the Release builds keep. The counts move by a "
                 "few tenths of a percent from run to run (the waits on HTTP and on the "
                 "prefetch thread), more for the small stages. " + SHA_NOTE)
    if before:
        lines.append("")
        lines.append(f"*before* is the Release build of `{base_rev}`, the commit before the "
                     "profile-driven work, run on the same table; *change* is after over before.")
    elif why_no_base:
        lines.append("")
        lines.append(f"No *before* column: {why_no_base}.")
    lines.append("")
    if before:
        lines.append(f"| stage | before ({base_rev}) | after | change |")
        lines.append("|---|---:|---:|---:|")
    else:
        lines.append("| stage | after |")
        lines.append("|---|---:|")
    names = [TOTAL] + [label for label, _ in stages_for(sink)]
    a_vals = [after["total"]] + [c for _, c in after["stages"]]
    b_vals = ([before["total"]] + [c for _, c in before["stages"]]) if before else None
    for i, name in enumerate(names):
        a = cell(a_vals[i], after["total"])
        if before:
            b = cell(b_vals[i], before["total"])
            lines.append(f"| {name} | {b} | {a} | {change(b_vals[i], a_vals[i])} |")
        else:
            lines.append(f"| {name} | {a} |")
    lines.append("")
    per = f"{after['total'] / rows:,.0f}"
    if before:
        lines.append(f"Per row: {before['total'] / rows:,.0f} instructions before, {per} after.")
    else:
        lines.append(f"Per row: {per} instructions.")
    if sink == "webhook":
        lines[-1] = lines[-1].replace("Per row", "Per lead (one per row)")
    return "\n".join(lines)


def run(bindir, conn, table, rows, work, base_rev=None, sink="jsonl"):
    """Profiles bindir's leadsync (and base_rev's, when given); returns the Markdown."""
    if not shutil.which("valgrind") or not shutil.which("callgrind_annotate"):
        raise RuntimeError("valgrind is not installed (scripts/bootstrap installs it)")
    before, why = None, None
    base_exe = None
    if base_rev:
        try:
            base_exe = build_base(base_rev, bindir)
        except BaseBuildError as e:
            why = f"`{base_rev}` could not be built: {e}"
            log(f"   profile: {why}; only the current build is profiled")
    if base_exe:
        before = profile(base_exe, conn, table, rows, work, "before", sink)
    after = profile(os.path.join(bindir, "leadsync"), conn, table, rows, work, "after", sink)
    return render(rows, after, before, base_rev, why, sink)


def main():
    ap = argparse.ArgumentParser(prog="scripts/bench/bench_profile.py")
    ap.add_argument("--bindir", required=True, help="a build with leadsync (and leadsync-seed)")
    ap.add_argument("--base-rev", help="also profile this git revision, built as Release")
    ap.add_argument("--rows", type=int,
                    help=f"rows (default {DEFAULT_ROWS}; {DEFAULT_HOOK_ROWS} with --sink webhook)")
    ap.add_argument("--sink", choices=("jsonl", "webhook"), default="jsonl")
    ap.add_argument("--table", help="an already seeded table (default: LEADSYNC_TABLE)")
    args = ap.parse_args()
    if not args.rows:
        args.rows = DEFAULT_HOOK_ROWS if args.sink == "webhook" else DEFAULT_ROWS
    bindir = os.path.abspath(args.bindir)
    work = tempfile.mkdtemp(prefix="leadsync-prof.")
    conn = os.environ.get("LEADSYNC_CONNECTION_STRING")
    table = args.table or os.environ.get("LEADSYNC_TABLE") or f"prof{args.rows}"
    azdir = None
    try:
        if not conn:
            azdir = os.path.join(work, "azurite")
            conn = subprocess.run([os.path.join(ROOT, "scripts/azurite"), "start", azdir],
                                  check=True, capture_output=True, text=True).stdout.strip()
            log(f"== seeding {args.rows} rows into table {table} (own Azurite)")
            subprocess.run([os.path.join(bindir, "leadsync-seed"), "--table", table, "bulk",
                            str(args.rows), "--partitions", "10", "--jobs", "4"],
                           env=dict(os.environ, LEADSYNC_CONNECTION_STRING=conn), check=True,
                           stdout=subprocess.DEVNULL)
            time.sleep(1.2)  # the window ends at the server's Date (1 s resolution)
        print(run(bindir, conn, table, args.rows, work, args.base_rev, args.sink))
    finally:
        if azdir:
            subprocess.run([os.path.join(ROOT, "scripts/azurite"), "stop", azdir],
                           capture_output=True)
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
