"""faultlib.py - shared helpers for the fault suite (tests/fault/test_*.py).

Not a test itself (the ctest glob takes test_*.py only). Builds on
tests/tools/lstest.py (WorkerCase: a fresh table, ledger and JSONL file per
test), whtest.py (the webhook receiver) and crmtest.py (the CRM doubles and
their test CA).

  SOAK            True when LEADSYNC_TEST_SOAK=1: longer, heavier runs
  expected(table) {lead_id: email} for every row of the table, derived here
                  from the rows themselves (sha256("co\\0" email "\\0" offer))
                  so the worker's own lead ids are checked, not trusted
  summary(...)    the one line per case the issue asks for
  Sinks           starts the webhook receiver or a CRM double and says, for
                  the leads it holds: which arrived, how many CRM records
                  exist per lead, how many deliveries repeated one
"""

import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tools"))
import crmtest  # noqa: E402
import lstest  # noqa: E402
import whtest  # noqa: E402

SOAK = os.environ.get("LEADSYNC_TEST_SOAK") == "1"

# Patient delivery settings: a fault case must not turn leads into dead
# letters because a double was briefly away.
PATIENT = {
    "LEADSYNC_DELIVERY_BACKOFF_BASE_MS": "100",
    "LEADSYNC_DELIVERY_BACKOFF_CAP_MS": "500",
    "LEADSYNC_DELIVERY_MAX_ATTEMPTS": "200",
    "LEADSYNC_ONCE_MAX_WAIT_SECONDS": "30",
}


def lead_id(email, offer):
    d = hashlib.sha256(b"co\0" + email.strip().lower().encode() + b"\0" + offer.encode())
    return d.hexdigest()[:16]


def expected(table):
    """{lead_id: email} for every row of the table (every row has an email)."""
    out = {}
    for e in table.query():
        ci = json.loads(e["CustomerInfo"])
        offer = e["LeadSource"].split("|", 1)[1]
        out[lead_id(ci["Email"], offer)] = ci["Email"].strip().lower()
    return out


def summary(case, lost, duplicates, repeats, recover_s, **extra):
    line = "case=%s lost=%d duplicates=%d repeats=%d recover_s=%.1f" % (
        case, lost, duplicates, repeats, recover_s)
    for k, v in extra.items():
        line += " %s=%s" % (k, v)
    print(line, flush=True)
    return line


def seed(case, n, start=0, seed_value=1):
    """leadsync-seed bulk: n rows, one customer each, no DNC or validation
    leads (so n rows are n delivered leads)."""
    p = subprocess.run([lstest.seeder(), "--connection-string", case.env[
        "LEADSYNC_CONNECTION_STRING"], "--table", case.table_name, "--seed", str(seed_value),
        "--start", str(start), "bulk", str(n)], capture_output=True, text=True, timeout=300)
    case.assertEqual(p.returncode, 0, "leadsync-seed failed: %s" % p.stderr[-2000:])


def settle():
    lstest.settle()


def status(case, env=None):
    p = case.run_worker("status", "--json", env=env, check=0)
    return json.loads(p.stdout)


def ledger_rows(path, sql, args=()):
    """Reads the ledger directly (read-only) for what status does not list."""
    db = sqlite3.connect("file:%s?mode=ro" % path, uri=True)
    try:
        return db.execute(sql, args).fetchall()
    finally:
        db.close()


def spawn(case, args, env=None):
    e = dict(case.env)
    if env:
        e.update(env)
    return subprocess.Popen([lstest.binary()] + list(args), env=e, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def kill_after(p, delay):
    """Waits delay seconds and SIGKILLs p if it still runs. Returns
    (exit code, killed by us, stderr)."""
    try:
        p.wait(timeout=delay)
    except subprocess.TimeoutExpired:
        p.send_signal(signal.SIGKILL)
    _, err = p.communicate(timeout=120)
    return p.returncode, err


class Sink:
    """One sink under test: starts its receiver or double, sets the worker's
    environment, and reports per lead what arrived."""

    name = None

    def __init__(self, case):
        self.case = case

    def env(self):
        raise NotImplementedError

    def arrived(self):
        """{lead_id or email: number of CRM records / accepted deliveries}."""
        raise NotImplementedError


class WebhookSink(Sink):
    name = "webhook"

    def __init__(self, case, rules=None):
        super().__init__(case)
        self.r = whtest.Receiver(case.dir, "recv", rules=rules)

    def env(self):
        e = dict(whtest.FAST)
        e.update(PATIENT)
        e["LEADSYNC_SINKS"] = "webhook:" + self.r.url
        return e

    def report(self, want):
        """(lost, duplicates, repeats): a lead is present when one of its
        deliveries was accepted; a repeat is an accepted delivery of a
        webhook-id the receiver had already taken (it dedupes those)."""
        acc = self.r.accepted()
        got = {r["lead"] for r in acc}
        lost = len(set(want) - got)
        repeats = sum(1 for r in acc if r["dup"])
        ids = {}
        for r in acc:
            ids.setdefault(r["lead"], set()).add(r["id"])
        # one row per lead here, so two webhook-ids for one lead would be two
        # distinct effects at the receiver: a duplicate
        dups = sum(len(v) - 1 for v in ids.values())
        return lost, dups, repeats

    def stop(self):
        self.r.stop()


class CrmSink(Sink):
    """A CRM sink against its double (crmtest.CRMS[name])."""

    def __init__(self, case, args=()):
        super().__init__(case)
        script, creds, _ = crmtest.CRMS[self.name]
        self.d = crmtest.CrmDouble(script, lstest.pki(), creds + list(self.double_args()) +
                                   list(args))

    def double_args(self):
        return ()

    def env(self):
        e = dict(crmtest.FAST)
        e.update(PATIENT)
        e.update(crmtest.crm_env(self.name, self.d, lstest.pki()))
        return e

    def records(self):
        """[(email, updates)] for every CRM record the double holds."""
        raise NotImplementedError

    def report(self, want):
        """(lost, duplicates, repeats): lost = leads whose email is on no
        record; duplicates = records beyond the first carrying one email (a
        second record for one customer); repeats = updates of a record, each
        lead here having a single row version, so any update re-sent it."""
        recs = self.records()
        by_email = {}
        for email, _ in recs:
            by_email[email.lower()] = by_email.get(email.lower(), 0) + 1
        lost = len(set(want.values()) - set(by_email))
        dups = sum(n - 1 for n in by_email.values())
        repeats = sum(u for _, u in recs)
        return lost, dups, repeats

    def stop(self):
        self.d.stop()


class SalesforceSink(CrmSink):
    name = "salesforce"

    def records(self):
        return [(r["fields"].get("Email") or "", r["updates"]) for r in self.d.state().values()]


class DynamicsSink(CrmSink):
    name = "dynamics"

    def records(self):
        return [(r["fields"].get("emailaddress1") or "", r["updates"])
                for r in self.d.state().values()]


class MarketoSink(CrmSink):
    name = "marketo"

    def records(self):
        return [(r["fields"].get("email") or "", r["updates"])
                for r in self.d.state()["leads"].values()]


class HubSpotSink(CrmSink):
    name = "hubspot"

    def records(self):
        return [(r["properties"].get("email") or "", r["updates"])
                for r in self.d.state()["contacts"].values()]


class WebToLeadSink(CrmSink):
    name = "web_to_lead"

    def double_args(self):
        return ["--daily-limit", "1000000"]

    def env(self):
        e = super().env()
        e["LEADSYNC_WEB_TO_LEAD_DAILY_LIMIT"] = "100000"
        return e

    def records(self):
        # every post creates a lead: the form has no key to update by
        return [(f.get("email") or "", 0) for f in self.d.state()["leads"]]


SINKS = {c.name: c for c in (WebhookSink, SalesforceSink, DynamicsSink, MarketoSink,
                             HubSpotSink, WebToLeadSink)}


# ---- a proxy in front of Azurite -------------------------------------------
import email.utils  # noqa: E402
import http.client  # noqa: E402
import random as _random  # noqa: E402
import re as _re  # noqa: E402
import socket as _socket  # noqa: E402
import threading as _threading  # noqa: E402
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer  # noqa: E402

HOP = {"connection", "keep-alive", "transfer-encoding", "date", "server", "content-length"}


class TableProxy:
    """A loopback HTTP proxy in front of the table service, in a thread.

    delay: seconds each request waits (a slow service).
    busy_fraction: that share of requests is answered 503 ServerBusy with
    Retry-After: busy_retry_after (counted in .busy). date_offset: seconds
    added to the Date header of every answer (the server's clock jumping).
    .connstr is the connection string with TableEndpoint pointed here."""

    def __init__(self, connstr, seed=1):
        m = _re.search(r"TableEndpoint=http://127\.0\.0\.1:(\d+)/", connstr)
        self.upstream = int(m.group(1))
        self.busy_fraction = 0.0
        self.busy_retry_after = 1
        self.date_offset = 0
        self.delay = 0.0
        self.busy = 0
        self.requests = 0
        self.rnd = _random.Random(seed)
        self.lock = _threading.Lock()
        proxy = self

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def relay(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                with proxy.lock:
                    proxy.requests += 1
                    busy = proxy.rnd.random() < proxy.busy_fraction
                    if busy:
                        proxy.busy += 1
                if proxy.delay:
                    time.sleep(proxy.delay)
                if busy:
                    data = json.dumps({"odata.error": {"code": "ServerBusy", "message": {
                        "lang": "en-US", "value": "The server is busy."}}}).encode()
                    self.out(503, [("Content-Type", "application/json;odata=minimalmetadata"),
                                   ("Retry-After", str(proxy.busy_retry_after)),
                                   ("x-ms-error-code", "ServerBusy")], data)
                    return
                try:
                    c = http.client.HTTPConnection("127.0.0.1", proxy.upstream, timeout=30)
                    hdrs = {k: v for k, v in self.headers.items() if k.lower() != "connection"}
                    c.request(self.command, self.path, body=body, headers=hdrs)
                    r = c.getresponse()
                    data = r.read()
                    st = r.status
                    out = [(k, v) for k, v in r.getheaders() if k.lower() not in HOP]
                    c.close()
                except OSError:
                    self.close_connection = True
                    self.connection.shutdown(_socket.SHUT_RDWR)
                    return
                self.out(st, out, data)

            def out(self, st, hdrs, data):
                self.send_response_only(st)
                for k, v in hdrs:
                    self.send_header(k, v)
                self.send_header("Date", email.utils.formatdate(
                    time.time() + proxy.date_offset, usegmt=True))
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if data and self.command != "HEAD":
                    self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_MERGE = do_HEAD = relay

        class S(ThreadingHTTPServer):
            daemon_threads = True
            allow_reuse_address = True

        self.srv = S(("127.0.0.1", 0), H)
        self.port = self.srv.server_address[1]
        self.connstr = connstr.replace("127.0.0.1:%d/" % self.upstream,
                                       "127.0.0.1:%d/" % self.port)
        self.thread = _threading.Thread(target=self.srv.serve_forever, args=(0.2,), daemon=True)
        self.thread.start()

    def stop(self):
        self.srv.shutdown()
        self.srv.server_close()
