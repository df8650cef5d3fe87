"""lstest.py - shared helpers for the Python integration tests.

Each test gets a fresh table on the Azurite that scripts/test started
(LEADSYNC_TEST_AZURITE), a temporary directory for the ledger and sink files,
and runs the leadsync binary under test (LEADSYNC_TEST_BIN) with a clean
environment: only the LEADSYNC_* variables the test sets are passed on.
"""

import atexit
import http.server
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.error
import urllib.request
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import aztable  # noqa: E402


def azurite():
    s = os.environ.get("LEADSYNC_TEST_AZURITE")
    if not s:
        sys.stderr.write(
            "LEADSYNC_TEST_AZURITE is not set: integration tests need Azurite; "
            "run them through ./scripts/test\n"
        )
        sys.exit(1)
    return s


def binary():
    b = os.environ.get("LEADSYNC_TEST_BIN")
    if not b or not os.access(b, os.X_OK):
        sys.stderr.write("LEADSYNC_TEST_BIN does not name the leadsync binary\n")
        sys.exit(1)
    return b


def seeder():
    return os.path.join(os.path.dirname(binary()), "leadsync-seed")


def settle():
    """Waits until the second the last write fell in has passed: a run's
    window ends at the table service's "now" in whole seconds, so a row
    written in the current second is read only from the next one on (the
    service's clock is this host's)."""
    time.sleep(int(time.time()) + 1.05 - time.time())


STAGE_RANK = {"unknown": 0, "initial-interest": 1, "trial": 2, "active": 3, "do-not-contact": 4}

# Small delivery delays so the tests run in seconds (each sink's helper adds
# its own attempts and timeouts).
FAST = {
    "LEADSYNC_DELIVERY_BACKOFF_BASE_MS": "100",
    "LEADSYNC_DELIVERY_BACKOFF_CAP_MS": "400",
    "LEADSYNC_ONCE_MAX_WAIT_SECONDS": "20",
}


def wait_for(pred, timeout, what, every=0.1):
    """pred()'s first true value, polled every `every` s; fails the test
    after `timeout` s naming `what`."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = pred()
        if v:
            return v
        time.sleep(every)
    raise AssertionError("timed out waiting for " + what)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def http_get(port, path):
    """(status, body, Content-Type) of a GET on the loopback port; OSError
    when nothing answers."""
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=5) as r:
            return r.status, r.read().decode(), r.headers.get("Content-Type", "")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(), e.headers.get("Content-Type", "")


class QuietHandler(http.server.BaseHTTPRequestHandler):
    """A request handler that keeps the test's output clean."""

    def log_message(self, *a):
        pass


def stop_process(proc):
    """Ends a helper process started with stdout=PIPE (a double, a receiver)."""
    if proc.poll() is None:
        proc.terminate()
        proc.wait(10)
    if proc.stdout:
        proc.stdout.close()


def read_text(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        return f.read()


PUSHGATEWAY_ANSWER = b"gateway-answer-body\n"
_PKI = {}


def pki(client=False):
    """A test CA and a server certificate for 127.0.0.1 signed by it; with
    client=True also a client key pair and self-signed certificate (JWT and
    certificate assertions). Made with openssl once per test process, in a
    directory removed at exit: {"ca", "cert", "key"[, "client_key",
    "client_cert", "client_pub"]} -> file paths."""
    if "dir" not in _PKI:
        _PKI["dir"] = tempfile.mkdtemp(prefix="leadsync-pki-")
        atexit.register(shutil.rmtree, _PKI["dir"], True)
    d = _PKI["dir"]

    def ossl(*a):
        subprocess.run(["openssl"] + list(a), check=True, capture_output=True, cwd=d)
    if "ca" not in _PKI:
        ossl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out",
             "ca.pem", "-days", "2", "-subj", "/CN=leadsync test CA")
        ossl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "srv.key", "-out", "srv.csr",
             "-subj", "/CN=127.0.0.1")
        with open(os.path.join(d, "ext.cnf"), "w") as f:
            f.write("subjectAltName=IP:127.0.0.1\n")
        ossl("x509", "-req", "-in", "srv.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
             "-CAcreateserial", "-out", "srv.pem", "-days", "2", "-extfile", "ext.cnf")
        _PKI.update(ca=os.path.join(d, "ca.pem"), cert=os.path.join(d, "srv.pem"),
                    key=os.path.join(d, "srv.key"))
    if client and "client_key" not in _PKI:
        ossl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "client.key", "-out",
             "client.pem", "-days", "2", "-subj", "/CN=leadsync client")
        ossl("x509", "-in", "client.pem", "-pubkey", "-noout", "-out", "client.pub")
        _PKI.update(client_key=os.path.join(d, "client.key"),
                    client_cert=os.path.join(d, "client.pem"),
                    client_pub=os.path.join(d, "client.pub"))
    return {k: v for k, v in _PKI.items() if k != "dir"}


class WorkerCase(unittest.TestCase):
    """A fresh table, ledger and JSONL file per test."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="leadsync-it-")
        self.table_name = "t" + uuid.uuid4().hex[:20]
        self.table = aztable.Table(azurite(), self.table_name)
        self.table.create()
        self.jsonl = os.path.join(self.dir, "leads.jsonl")
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LEADSYNC_CONNECTION_STRING": azurite(),
            "LEADSYNC_TABLE": self.table_name,
            "LEADSYNC_STATE": os.path.join(self.dir, "ledger.db"),
            "LEADSYNC_SINKS": "jsonl:" + self.jsonl,
            "LEADSYNC_SETTLE_SECONDS": "0",
            "LEADSYNC_LOG_LEVEL": "info",
        }
        for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS", "TMPDIR"):
            if k in os.environ:
                self.env[k] = os.environ[k]

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def run_worker(self, *args, env=None, check=None, timeout=300):
        e = dict(self.env)
        if env:
            e.update(env)
        p = subprocess.run(
            [binary()] + list(args), env=e, capture_output=True, text=True, timeout=timeout
        )
        if check is not None and p.returncode != check:
            self.fail(
                "leadsync %s exited %d (wanted %d)\nstdout:\n%s\nstderr:\n%s"
                % (" ".join(args), p.returncode, check, p.stdout[-3000:], p.stderr[-3000:])
            )
        return p

    def put(self, rows):
        """Writes rows to the test's table, in the next run's window."""
        self.write_rows(rows)
        settle()

    def status(self, **kw):
        p = self.run_worker("status", "--json", check=0, **kw)
        return json.loads(p.stdout)

    def serve(self, handler):
        """An HTTP server on a free loopback port in this process, answering
        with handler (a request handler class); shut down when the test
        ends. Its URL is "http://127.0.0.1:%d/" % srv.server_port."""
        srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        self.addCleanup(srv.server_close)
        self.addCleanup(srv.shutdown)
        return srv

    def pushgateway(self):
        """A loopback Pushgateway: (its URL, the pushes it took as (path,
        Content-Type, body) tuples). It answers with a body that must never
        reach leadsync's output (ANSWER)."""
        pushes = []

        class Gateway(QuietHandler):
            def do_PUT(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                pushes.append((self.path, self.headers.get("Content-Type"), body.decode()))
                self.send_response(200)
                self.send_header("Content-Length", str(len(PUSHGATEWAY_ANSWER)))
                self.end_headers()
                self.wfile.write(PUSHGATEWAY_ANSWER)
        srv = self.serve(Gateway)
        return "http://127.0.0.1:%d/" % srv.server_port, pushes

    def run_daemon(self, env=None, listen=False):
        """Starts the daemon (`leadsync run`) with the test's environment (and
        env), its stderr in daemon.err in the test's directory; it is killed
        when the test ends. proc.log names that file. listen=True: /healthz
        and /metrics on a free loopback port (proc.port), answering before
        this returns."""
        e = dict(self.env)
        e.update(env or {})
        port = None
        if listen:
            port = free_port()
            e["LEADSYNC_METRICS_ADDR"] = "127.0.0.1:%d" % port
        err = open(os.path.join(self.dir, "daemon.err"), "w")
        proc = subprocess.Popen([binary(), "run"], env=e, stdout=subprocess.DEVNULL, stderr=err)
        err.close()  # the daemon holds its own copy
        proc.log = err.name

        def stop():
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
        self.addCleanup(stop)
        proc.port = port
        if listen:
            def up():
                if proc.poll() is not None:
                    self.fail("the daemon exited %d: %s" % (proc.returncode,
                                                             read_text(err.name)[-3000:]))
                try:
                    return http_get(port, "/livez")[0] == 200
                except OSError:
                    return False
            wait_for(up, 30, "the metrics listener")
        return proc

    def lines(self):
        if not os.path.exists(self.jsonl):
            return []
        with open(self.jsonl, encoding="utf-8") as f:
            data = f.read()
        self.assertTrue(data == "" or data.endswith("\n"), "the JSONL file ends mid-line")
        return [json.loads(line) for line in data.splitlines()]

    def write_rows(self, rows, threads=8):
        """Upserts rows concurrently (Azurite handles parallel requests)."""
        errors = []

        def work(chunk):
            try:
                for r in chunk:
                    self.table.upsert(r)
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append(e)

        chunks = [rows[i::threads] for i in range(threads)]
        ts = [threading.Thread(target=work, args=(c,)) for c in chunks if c]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        if errors:
            raise errors[0]


def bulk_rows(n, prefix="r", partitions=5, offset=0):
    rows = []
    for i in range(offset, offset + n):
        rows.append(
            aztable.marketplace_row(
                "11:2F%02d:2F2026" % (i % partitions + 1),
                "%s%06d" % (prefix, i),
                "customer%06d@example.com" % i,
                action=("PLT", "INS", "Create", "StartTestDrive")[i % 4],
                source=("SPZA", "AzureMarketplace", "AzurePortal", "TestDrive")[i % 4],
            )
        )
    return rows


# The exit status ctest reads as "skipped" (SKIP_RETURN_CODE in
# tests/CMakeLists.txt): a file in which any test skipped has not checked
# everything it names, so it must not show as passed.
SKIP_EXIT = 77


def main():
    result = unittest.main(verbosity=2, exit=False).result
    if not result.wasSuccessful():
        sys.exit(1)
    if result.skipped:
        for test, why in result.skipped:
            sys.stderr.write("SKIPPED %s: %s\n" % (test.id(), why))
        sys.exit(SKIP_EXIT)
    sys.exit(0)
