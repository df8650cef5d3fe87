#!/usr/bin/env python3
"""Microsoft Entra ID for the table, against loopback doubles: a token
endpoint (Entra's v2.0 token endpoint, IMDS and the App Service identity
endpoint in one) and a table endpoint that answers Query Entities with fixed
pages only for a bearer token the token double issued. Covers workload
identity, managed identity (IMDS and IDENTITY_ENDPOINT), client secret, the
chain's order, token caching, early refresh near expiry and refresh after a
401. No Azurite: Azurite's OAuth needs HTTPS.
"""

import http.server
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import unittest
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import aztable  # noqa: E402
import lstest  # noqa: E402

TENANT = "72f988bf-0000-0000-0000-000000000001"
CLIENT = "0f0e0d0c-0000-0000-0000-000000000002"
SECRET = "entra-client-secret-value-5b1f"
ASSERTION = "eyJhbGciOiJSUzI1NiJ9.federated-assertion.sig"
MI_HEADER = "app-service-identity-header-77"
PAGES = 3
PER_PAGE = 2


class State:
    def __init__(self):
        self.lock = threading.Lock()
        self.issued = []       # tokens handed out, in order
        self.token_reqs = []   # (kind, details) per token request
        self.table_reqs = []   # (token, status)
        self.expires_in = 3600
        self.reject = set()    # tokens the table refuses (revoked)


def make_server(state):
    class H(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def reply(self, status, obj, headers=None):
            body = json.dumps(obj).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)

        def issue(self, kind, mi=False):
            with state.lock:
                tok = "tok-%d" % (len(state.issued) + 1)
                state.issued.append(tok)
                state.token_reqs.append(kind)
                ein = state.expires_in
            if mi:  # managed identity answers expires_on as a string
                import time
                return self.reply(200, {"access_token": tok, "token_type": "Bearer",
                                        "expires_on": str(int(time.time()) + ein),
                                        "resource": "https://storage.azure.com"})
            return self.reply(200, {"access_token": tok, "token_type": "Bearer",
                                    "expires_in": ein})

        def do_POST(self):
            n = int(self.headers.get("Content-Length", "0"))
            form = dict(urllib.parse.parse_qsl(self.rfile.read(n).decode()))
            if self.path != "/%s/oauth2/v2.0/token" % TENANT:
                return self.reply(404, {"error": "not_found"})
            ok = (form.get("grant_type") == "client_credentials"
                  and form.get("client_id") == CLIENT
                  and form.get("scope") == "https://storage.azure.com/.default")
            if ok and form.get("client_secret") == SECRET:
                return self.issue("client_secret")
            if (ok and form.get("client_assertion") == ASSERTION and form.get(
                    "client_assertion_type")
                    == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"):
                return self.issue("workload")
            with state.lock:
                state.token_reqs.append("refused")
            return self.reply(401, {"error": "invalid_client"})

        def do_GET(self):
            u = urllib.parse.urlsplit(self.path)
            q = dict(urllib.parse.parse_qsl(u.query))
            if u.path == "/metadata/identity/oauth2/token":
                if (self.headers.get("Metadata") != "true"
                        or q.get("resource") != "https://storage.azure.com"):
                    return self.reply(400, {"error": "bad_request"})
                return self.issue("imds", mi=True)
            if u.path == "/msi/token":
                if (self.headers.get("X-IDENTITY-HEADER") != MI_HEADER
                        or q.get("resource") != "https://storage.azure.com"):
                    return self.reply(400, {"error": "bad_request"})
                return self.issue("appservice", mi=True)
            if u.path.startswith("/devstoreaccount1/Leads"):
                return self.table(q)
            return self.reply(404, {"error": "not_found"})

        def table(self, q):
            auth = self.headers.get("Authorization", "")
            tok = auth[len("Bearer "):] if auth.startswith("Bearer ") else None
            ver = self.headers.get("x-ms-version", "")
            with state.lock:
                good = tok in state.issued and tok not in state.reject and ver >= "2019-02-02"
                state.table_reqs.append((tok, 200 if good else 401))
            if not good:
                return self.reply(401, {"odata.error": {"code": "InvalidAuthenticationInfo",
                                                        "message": {"value": "no"}}})
            page = int(q.get("NextPartitionKey", "0"))
            rows = []
            for i in range(PER_PAGE):
                r = aztable.marketplace_row("11:2F24:2F2026", "row-%d-%d" % (page, i),
                                            "person%d.%d@example.com" % (page, i))
                r["Timestamp"] = "2026-11-24T02:03:34.%07dZ" % (page * 10 + i)
                rows.append(r)
            # Answer as the service does: the clock probe's empty-key filter matches
            # nothing, and a page never holds more than $top entities.
            if "PartitionKey eq ''" in q.get("$filter", ""):
                return self.reply(200, {"value": []})
            if "$top" in q:
                rows = rows[:int(q["$top"])]
            headers = {}
            if page + 1 < PAGES:
                headers["x-ms-continuation-NextPartitionKey"] = str(page + 1)
                headers["x-ms-continuation-NextRowKey"] = "x"
            return self.reply(200, {"value": rows}, headers)

        def log_message(self, *a):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


class Entra(unittest.TestCase):
    def setUp(self):
        self.state = State()
        self.srv = make_server(self.state)
        self.base = "http://127.0.0.1:%d" % self.srv.server_address[1]
        self.dir = tempfile.mkdtemp(prefix="leadsync-entra-")
        self.jsonl = os.path.join(self.dir, "leads.jsonl")
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LEADSYNC_TABLE_ENDPOINT": self.base + "/devstoreaccount1",
            "LEADSYNC_TABLE": "Leads",
            "LEADSYNC_STATE": os.path.join(self.dir, "ledger.db"),
            "LEADSYNC_SINKS": "jsonl:" + self.jsonl,
            "LEADSYNC_SETTLE_SECONDS": "0",
            "LEADSYNC_PAGE_SIZE": str(PER_PAGE),
            "LEADSYNC_LOG_LEVEL": "debug",
        }
        for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS", "TMPDIR"):
            if k in os.environ:
                self.env[k] = os.environ[k]

    def tearDown(self):
        self.srv.shutdown()
        self.srv.server_close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def run_once(self, extra, want=0):
        e = dict(self.env)
        e.update(extra)
        p = subprocess.run([lstest.binary(), "run", "--once"], env=e, capture_output=True,
                           text=True, timeout=120)
        self.assertEqual(p.returncode, want, p.stderr[-3000:])
        # neither the secret, the assertion, the header nor a token is ever logged
        for s in [SECRET, ASSERTION, MI_HEADER] + self.state.issued:
            self.assertNotIn(s, p.stderr)
            self.assertNotIn(s, p.stdout)
        return p

    def delivered(self):
        if not os.path.exists(self.jsonl):
            return 0
        with open(self.jsonl) as f:
            return len(f.readlines())

    def client_secret_env(self):
        return {"AZURE_TENANT_ID": TENANT, "AZURE_CLIENT_ID": CLIENT,
                "AZURE_CLIENT_SECRET": SECRET, "AZURE_AUTHORITY_HOST": self.base + "/"}

    def test_client_secret(self):
        p = self.run_once(self.client_secret_env())
        self.assertIn("client secret", p.stderr)
        self.assertEqual(self.delivered(), PAGES * PER_PAGE)
        # one token, cached across every page
        self.assertEqual(self.state.token_reqs, ["client_secret"])
        self.assertGreaterEqual(len(self.state.table_reqs), PAGES)
        self.assertTrue(all(t == "tok-1" and s == 200 for t, s in self.state.table_reqs))

    def test_workload_identity(self):
        tokfile = os.path.join(self.dir, "azure-identity-token")
        with open(tokfile, "w") as f:
            f.write(ASSERTION + "\n")
        p = self.run_once({"AZURE_TENANT_ID": TENANT, "AZURE_CLIENT_ID": CLIENT,
                           "AZURE_FEDERATED_TOKEN_FILE": tokfile,
                           "AZURE_AUTHORITY_HOST": self.base})
        self.assertIn("workload identity", p.stderr)
        self.assertEqual(self.state.token_reqs, ["workload"])
        self.assertEqual(self.delivered(), PAGES * PER_PAGE)

    def test_client_secret_comes_before_workload_identity(self):
        env = self.client_secret_env()
        env["AZURE_FEDERATED_TOKEN_FILE"] = os.path.join(self.dir, "missing")
        self.run_once(env)
        self.assertEqual(self.state.token_reqs, ["client_secret"])

    def test_managed_identity_imds(self):
        p = self.run_once({"AZURE_POD_IDENTITY_AUTHORITY_HOST": self.base})
        self.assertIn("IMDS", p.stderr)
        self.assertEqual(self.state.token_reqs, ["imds"])
        self.assertEqual(self.delivered(), PAGES * PER_PAGE)

    def test_managed_identity_app_service(self):
        self.run_once({"IDENTITY_ENDPOINT": self.base + "/msi/token",
                       "IDENTITY_HEADER": MI_HEADER,
                       "AZURE_POD_IDENTITY_AUTHORITY_HOST": self.base})
        self.assertEqual(self.state.token_reqs, ["appservice"])
        self.assertEqual(self.delivered(), PAGES * PER_PAGE)

    def test_token_near_expiry_is_refreshed_early(self):
        # expires in 4 minutes: inside the 5-minute margin, so every request
        # fetches a fresh one instead of using a token about to expire
        self.state.expires_in = 240
        self.run_once(self.client_secret_env())
        self.assertEqual(len(self.state.token_reqs), len(self.state.table_reqs))
        self.assertGreaterEqual(len(self.state.token_reqs), PAGES)
        used = [t for t, _ in self.state.table_reqs]
        self.assertEqual(len(set(used)), len(used), "each request used a fresh token")

    def test_refresh_after_401(self):
        # the first token is revoked: the table answers 401, the client asks
        # for a new token once and the run succeeds
        self.state.reject.add("tok-1")
        self.run_once(self.client_secret_env())
        self.assertEqual(self.state.token_reqs, ["client_secret", "client_secret"])
        self.assertEqual(self.state.table_reqs[0], ("tok-1", 401))
        self.assertTrue(all(t == "tok-2" and s == 200 for t, s in self.state.table_reqs[1:]))
        self.assertEqual(self.delivered(), PAGES * PER_PAGE)

    def test_refused_credential_exits_77(self):
        env = self.client_secret_env()
        env["AZURE_CLIENT_SECRET"] = "wrong-secret-value-9c2"
        p = self.run_once(env, want=77)
        self.assertIn("HTTP 401", p.stderr)
        self.assertNotIn("wrong-secret-value-9c2", p.stderr)
        self.assertEqual(self.delivered(), 0)

    def test_unreachable_token_endpoint_exits_75(self):
        # nothing listens at the authority: a temporary failure, safe to rerun
        import socket

        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        sock.close()
        env = self.client_secret_env()
        env["AZURE_AUTHORITY_HOST"] = "http://127.0.0.1:%d/" % port
        p = self.run_once(env, want=75)
        self.assertNotIn(SECRET, p.stderr)
        self.assertEqual(self.delivered(), 0)


if __name__ == "__main__":
    lstest.main()
