"""crmdouble.py - the common half of the loopback CRM test doubles
(crm_salesforce.py, crm_marketo.py, crm_hubspot.py, crm_web_to_lead.py, ...):
an HTTPS server on 127.0.0.1 with a certificate from a CA made at test time,
issued bearer tokens, fault rules and a control API.

A vendor subclasses Double and implements
  api(headers, method, path, query, raw) -> (status, body, headers or None)
where body is JSON-serializable, bytes/str (sent as is) or None (no body).

Control API (same port):
  POST /__fault     JSON list of rules, appended. A rule: {"route": REGEX
                    searched in "METHOD /path", "status": N, "body": ..,
                    "headers": {..}, "count": N (default 1), "delay_ms": N,
                    "drop": true (close the connection without an answer)}.
                    Rules whose route names no request line (e.g. "RECORD")
                    are taken by the vendor itself through take_fault().
  GET  /__requests  every API request: t, method, path, query, status, auth
                    (the Authorization header), body (parsed JSON, form or text),
                    logged once answered
  GET  /__held      {"held": N}: requests a delay_ms rule holds right now (read,
                    not yet processed nor answered)
  GET  /__state     the vendor's records (self.records)
  POST /__expire    every token issued so far stops working
  POST /__validate  {"field": F, "contains": S}: records whose F contains S are
                    refused as invalid (vendor-specific answer, see invalid())
  POST /__clock     {"advance": SECONDS}: moves the double's clock (token
                    lifetimes, daily counters) without sleeping
  POST /__reset     forgets faults and requests
The port is printed on stdout once the server listens. Python 3 stdlib (and
the openssl command for RS256 checks).
"""

import argparse
import base64
import json
import os
import re
import subprocess
import tempfile
import threading
import time
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler

import loopback


def utf16_len(s):
    """A string's length as Salesforce counts it: UTF-16 code units."""
    return len(s.encode("utf-16-le")) // 2


def b64url_decode(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def verify_rs256(jwt, pubkey_path):
    """(header, claims) when jwt is an RS256 JWT signed by the key whose PEM
    public key is at pubkey_path; None otherwise."""
    try:
        h64, c64, s64 = jwt.split(".")
        header = json.loads(b64url_decode(h64))
        claims = json.loads(b64url_decode(c64))
        sig = b64url_decode(s64)
    except (ValueError, TypeError):
        return None
    if header.get("alg") != "RS256":
        return None
    with tempfile.TemporaryDirectory() as d:
        data = os.path.join(d, "data")
        sigf = os.path.join(d, "sig")
        with open(data, "wb") as f:
            f.write(("%s.%s" % (h64, c64)).encode())
        with open(sigf, "wb") as f:
            f.write(sig)
        p = subprocess.run(["openssl", "dgst", "-sha256", "-verify", pubkey_path, "-signature",
                            sigf, data], capture_output=True)
    return (header, claims) if p.returncode == 0 else None


def base_args(doc=None):
    ap = argparse.ArgumentParser(description=(doc or "").split("\n")[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--cert", required=True, help="PEM server certificate")
    ap.add_argument("--key", required=True, help="PEM server key")
    ap.add_argument("--client-id", default="cid")
    ap.add_argument("--client-secret", default="secret")
    ap.add_argument("--max-seconds", type=float, default=600)
    return ap


class Double:
    def __init__(self, args):
        self.args = args
        self.lock = threading.RLock()
        self.port = 0
        self.records = {}
        self.next_id = 1
        self.api_calls = 0
        self.faults = []
        self.requests = []
        self.tokens = {}  # token -> expiry (double's clock) or None
        self.validators = []
        self.skew = 0.0
        self.held = 0

    # ---- hooks a vendor may override ----------------------------------
    def api(self, headers, method, path, query, raw):
        return 404, {"error": "not implemented"}, None

    def extra_headers(self):
        return {}

    def state(self):
        return self.records

    # ---- helpers --------------------------------------------------------
    def now(self):
        return time.time() + self.skew

    def issue_token(self, ttl=None):
        t = uuid.uuid4().hex
        self.tokens[t] = None if ttl is None else self.now() + ttl
        return t

    def token_state(self, token):
        """'ok', 'expired' or 'unknown'."""
        with self.lock:
            if token not in self.tokens:
                return "unknown"
            exp = self.tokens[token]
            return "ok" if exp is None or self.now() < exp else "expired"

    def bearer(self, headers):
        a = headers.get("Authorization") or ""
        return a[7:] if a.startswith("Bearer ") else None

    def bearer_ok(self, headers):
        return self.token_state(self.bearer(headers)) == "ok"

    def take_fault(self, route, match=None):
        """The first live rule named route (exactly) or, when match is given,
        satisfying match(rule); uses one count."""
        with self.lock:
            for r in self.faults:
                if r.get("count", 1) <= 0 or r.get("route") != route:
                    continue
                if match is not None and not match(r):
                    continue
                r["count"] = r.get("count", 1) - 1
                return r
        return None

    def request_fault(self, line):
        with self.lock:
            for r in self.faults:
                if r.get("count", 1) <= 0:
                    continue
                try:
                    if not re.search(r.get("route", "^$"), line):
                        continue
                except re.error:
                    continue
                r["count"] = r.get("count", 1) - 1
                return r
        return None

    def invalid(self, rec):
        """{"field": F} when a /__validate rule refuses rec, else None."""
        for v in self.validators:
            val = rec.get(v["field"])
            if isinstance(val, str) and v["contains"] in val:
                return {"field": v["field"]}
        return None

    def log(self, entry):
        with self.lock:
            self.requests.append(entry)

    def control(self, path, raw):
        body = json.loads(raw) if raw else None
        with self.lock:
            if path == "/__fault":
                self.faults.extend(body or [])
            elif path == "/__requests":
                return 200, self.requests
            elif path == "/__held":
                return 200, {"held": self.held}
            elif path == "/__state":
                return 200, self.state()
            elif path == "/__expire":
                for t in self.tokens:
                    self.tokens[t] = self.now() - 1
            elif path == "/__validate":
                self.validators.append(body)
            elif path == "/__clock":
                self.skew += float((body or {}).get("advance", 0))
            elif path == "/__reset":
                self.faults = []
                self.requests = []
            else:
                return 404, {"error": "no such control route"}
        return 200, {"ok": True}


def parse_body(headers, raw):
    ctype = headers.get("Content-Type") or ""
    if not raw:
        return None
    if "json" in ctype:
        try:
            return json.loads(raw)
        except ValueError:
            return raw.decode("utf-8", "replace")
    if "x-www-form-urlencoded" in ctype:
        return {k: v[0] if len(v) == 1 else v for k, v in
                urllib.parse.parse_qs(raw.decode("utf-8", "replace"),
                                      keep_blank_values=True).items()}
    return raw.decode("utf-8", "replace")


def make_handler(double):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *args):  # quiet
            pass

        def send(self, status, body, headers=None):
            if body is None:
                data = b""
            elif isinstance(body, (bytes, bytearray)):
                data = bytes(body)
            elif isinstance(body, str):
                data = body.encode()
            else:
                data = json.dumps(body).encode()
            self.send_response(status)
            hdrs = dict(double.extra_headers())
            hdrs.update(headers or {})
            if data and not any(k.lower() == "content-type" for k in hdrs):
                hdrs["Content-Type"] = "application/json"
            for k, v in hdrs.items():
                self.send_header(k, str(v))
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if data and self.command != "HEAD":
                self.wfile.write(data)

        def handle_any(self):
            n = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(n) if n else b""
            parts = urllib.parse.urlsplit(self.path)
            path, query = parts.path, parts.query
            if path.startswith("/__"):
                st, body = double.control(path, raw)
                self.send(st, body)
                return
            entry = {"t": time.time(), "method": self.command, "path": path, "query": query,
                     "auth": self.headers.get("Authorization"),
                     "body": parse_body(self.headers, raw)}
            with double.lock:
                double.api_calls += 1
            rule = double.request_fault("%s %s" % (self.command, path))
            if rule is not None:
                if rule.get("delay_ms"):
                    with double.lock:
                        double.held += 1
                    time.sleep(rule["delay_ms"] / 1000.0)
                    with double.lock:
                        double.held -= 1
                entry["fault"] = True
                if rule.get("drop"):
                    entry["status"] = None
                    double.log(entry)
                    self.close_connection = True
                    try:
                        self.connection.shutdown(2)
                    except OSError:
                        pass
                    return
                if "status" in rule:
                    entry["status"] = rule["status"]
                    double.log(entry)
                    self.send(rule["status"], rule.get("body"), rule.get("headers"))
                    return
            try:
                st, body, hdrs = double.api(self.headers, self.command, path, query, raw)
            except Exception as e:  # noqa: BLE001 - a double bug answers 500, visibly
                st, body, hdrs = 500, {"error": "double: %r" % e}, None
            entry["status"] = st
            double.log(entry)
            self.send(st, body, hdrs)

        do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = do_OPTIONS = handle_any

    return Handler


def serve(double):
    a = double.args
    srv = loopback.Server(("127.0.0.1", a.port), make_handler(double))
    double.port = srv.server_address[1]
    loopback.serve(srv, a.cert, a.key, a.max_seconds)
