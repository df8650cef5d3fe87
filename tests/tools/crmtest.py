"""crmtest.py - helpers for the CRM sinks' integration tests: a test CA made
with openssl per test, the loopback CRM doubles (crm_salesforce.py,
crm_dynamics.py) started with its certificate, their control API, and a
WorkerCase (lstest.py) wired to them.
"""

import atexit
import json
import os
import shutil
import ssl
import subprocess
import sys
import tempfile
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import aztable  # noqa: E402
import lstest  # noqa: E402

TOOLS = os.path.dirname(os.path.abspath(__file__))
STAGE_RANK = {"unknown": 0, "initial-interest": 1, "trial": 2, "active": 3, "do-not-contact": 4}

FAST = {
    "LEADSYNC_DELIVERY_BACKOFF_BASE_MS": "100",
    "LEADSYNC_DELIVERY_BACKOFF_CAP_MS": "400",
    "LEADSYNC_DELIVERY_MAX_ATTEMPTS": "20",
    "LEADSYNC_ONCE_MAX_WAIT_SECONDS": "20",
    "LEADSYNC_HTTP_TIMEOUT_SECONDS": "5",
}


def make_ca(d):
    """A CA, a server certificate for 127.0.0.1 signed by it, and a client
    key pair + self-signed certificate (JWT assertions)."""
    def ossl(*a):
        subprocess.run(["openssl"] + list(a), check=True, capture_output=True, cwd=d)
    ossl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
         "-days", "2", "-subj", "/CN=leadsync test CA")
    ossl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "srv.key", "-out", "srv.csr",
         "-subj", "/CN=127.0.0.1")
    with open(os.path.join(d, "ext.cnf"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1\n")
    ossl("x509", "-req", "-in", "srv.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
         "-CAcreateserial", "-out", "srv.pem", "-days", "2", "-extfile", "ext.cnf")
    ossl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "client.key", "-out",
         "client.pem", "-days", "2", "-subj", "/CN=leadsync client")
    ossl("x509", "-in", "client.pem", "-pubkey", "-noout", "-out", "client.pub")
    return {k: os.path.join(d, v) for k, v in
            (("ca", "ca.pem"), ("cert", "srv.pem"), ("key", "srv.key"),
             ("client_key", "client.key"), ("client_cert", "client.pem"),
             ("client_pub", "client.pub"))}


_CA = {}


def shared_ca():
    """make_ca once per test process (three RSA keys): the files are only
    read, so every test of a file uses the same; removed at exit."""
    if not _CA:
        d = tempfile.mkdtemp(prefix="leadsync-ca-")
        atexit.register(shutil.rmtree, d, True)
        _CA.update(make_ca(d))
    return dict(_CA)


class CrmDouble:
    def __init__(self, script, pki, args=()):
        self.ctx = ssl.create_default_context(cafile=pki["ca"])
        self.proc = subprocess.Popen(
            [sys.executable, os.path.join(TOOLS, script), "--cert", pki["cert"], "--key",
             pki["key"]] + list(args), stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if not line.strip():
            raise RuntimeError("%s did not start" % script)
        self.port = int(line)
        self.url = "https://127.0.0.1:%d" % self.port

    def call(self, path, payload=None):
        data = None if payload is None else json.dumps(payload).encode()
        req = urllib.request.Request(self.url + path, data=data,
                                     method="GET" if data is None else "POST")
        with urllib.request.urlopen(req, timeout=10, context=self.ctx) as r:
            return json.loads(r.read() or b"null")

    def faults(self, rules):
        self.call("/__fault", rules)

    def requests(self):
        return self.call("/__requests")

    def state(self):
        return self.call("/__state")

    def expire(self):
        self.call("/__expire", {})

    def validate(self, field, contains):
        self.call("/__validate", {"field": field, "contains": contains})

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        if self.proc.stdout:
            self.proc.stdout.close()


def row(i, action="PLT", email=None, first="Ada", last="Lovelace", prefix="r"):
    return aztable.marketplace_row("11:2F01:2F2026", "%s%06d" % (prefix, i),
                                   email or "customer%06d@example.com" % i, action=action,
                                   first=first, last=last)


class CrmCase(lstest.WorkerCase):
    def setUp(self):
        super().setUp()
        self.env.update(FAST)
        self.pki = shared_ca()
        self.doubles = []

    def tearDown(self):
        for d in self.doubles:
            d.stop()
        super().tearDown()

    def double(self, script, args=()):
        d = CrmDouble(script, self.pki, args)
        self.doubles.append(d)
        return d

    def put(self, rows):
        self.write_rows(rows)
        lstest.settle()

    def status(self, **kw):
        p = self.run_worker("status", "--json", check=0, **kw)
        return json.loads(p.stdout)

    def sink_stats(self, name, **kw):
        for s in self.status(**kw)["sinks"]:
            if s["sink"] == name:
                return s
        self.fail("no sink %s in status" % name)
