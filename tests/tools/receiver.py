#!/usr/bin/env python3
"""receiver.py - a loopback webhook receiver for the webhook sink's tests.

Python 3 stdlib only. Listens on 127.0.0.1 (port 0 unless --port), HTTP/1.1
with keep-alive, optionally TLS (--cert/--key); prints its port as the first
stdout line; exits by itself after --max-seconds.

Every POST (any path not starting with /__) is checked as a Standard Webhooks
delivery: webhook-id, webhook-timestamp (within +-300 s), webhook-signature
(when --secret is given; constant-time compare over every "v1," entry),
Idempotency-Key equal to webhook-id, Content-Type application/json, a JSON
body. A delivery that fails these checks is answered 400 and logged with
"check" naming the problem. Deliveries are deduplicated on webhook-id: a
repeat is answered 200 (no new effect) and logged with "dup": true.

Every request is logged as one JSON line (--log FILE):
  {"seq", "t": arrival (monotonic s), "wall": arrival (unix s), "conn": n,
   "method", "id", "ts", "sig_ok", "idem_ok", "lead", "stage", "type", "row_key",
   "action" (the lead's rowKey and action),
   "status", "retry_after": seconds or null, "retry_after_date": unix s or null,
   "t_resp": monotonic s just before the answer, "dup", "check", "body_sha",
   "ua", "extra": {header: value} for headers named by --record-header}

Faults are rules, evaluated in order; the first rule that matches a delivery
and has uses left decides the answer (no rule: 204). Rule fields:
  status       answer with this status (default 204)
  retry_after  seconds (int) for a Retry-After header
  retry_after_date  seconds from now, sent as an IMF-fixdate Retry-After
  body         answer body (default "")
  delay_ms     sleep this long before answering (a slow response)
  drop         true: close the connection without answering (a reset)
  leads        only deliveries of these leadIds
  lead_prefix  only deliveries whose leadId starts with one of these strings
  count        how many times the rule applies (default: unlimited)
  for_seconds  the rule applies only this long after it was installed
Rules come from --scenario FILE (a JSON list) and can be replaced at any time
with POST /__faults (a JSON list). POST /__reset clears rules, the dedupe set
and the log. GET /__stats answers {"requests", "accepted", "ids"}.
OPTIONS answers 204 (the sink's `check`).
"""
import argparse
import base64
import email.utils
import hashlib
import hmac
import itertools
import json
import socket
import struct
import threading
import time
from http.server import BaseHTTPRequestHandler

import loopback

lock = threading.Lock()
state = {"rules": [], "seen": {}, "seq": 0, "log": None, "accepted": 0, "requests": 0}
conn_ids = itertools.count(1)
ARGS = None


def install_rules(rules):
    now = time.monotonic()
    out = []
    for r in rules:
        r = dict(r)
        r["_installed"] = now
        r["_used"] = 0
        if "leads" in r:
            r["leads"] = set(r["leads"])
        out.append(r)
    state["rules"] = out


def pick_rule(lead):
    now = time.monotonic()
    for r in state["rules"]:
        if "leads" in r and lead not in r["leads"]:
            continue
        if "lead_prefix" in r and not (lead or "").startswith(tuple(r["lead_prefix"])):
            continue
        if "count" in r and r["_used"] >= r["count"]:
            continue
        if "for_seconds" in r and now - r["_installed"] > r["for_seconds"]:
            continue
        r["_used"] += 1
        return r
    return None


def verify_signature(secret, wid, ts, body, header):
    key = secret[6:] if secret.startswith("whsec_") else secret
    key = base64.b64decode(key)
    mac = hmac.new(key, wid.encode() + b"." + ts.encode() + b"." + body, hashlib.sha256).digest()
    want = "v1," + base64.b64encode(mac).decode()
    ok = False
    for part in (header or "").split(" "):
        if hmac.compare_digest(part.encode(), want.encode()):
            ok = True
    return ok


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "receiver/1"

    def log_message(self, fmt, *args):  # quiet
        pass

    def setup(self):
        super().setup()
        self.conn_id = next(conn_ids)

    def answer(self, status, body=b"", headers=None):
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body:
            self.wfile.write(body)

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def do_OPTIONS(self):
        self.answer(204, headers={"Allow": "POST, OPTIONS"})

    def do_GET(self):
        if self.path == "/__stats":
            with lock:
                out = {"requests": state["requests"], "accepted": state["accepted"],
                       "ids": len(state["seen"])}
            self.answer(200, json.dumps(out).encode(), {"Content-Type": "application/json"})
        else:
            self.answer(404)

    def do_POST(self):
        t = time.monotonic()
        wall = time.time()
        body = self.read_body()
        if self.path == "/__faults":
            with lock:
                install_rules(json.loads(body or b"[]"))
            self.answer(204)
            return
        if self.path == "/__reset":
            with lock:
                install_rules([])
                state["seen"].clear()
            self.answer(204)
            return
        h = self.headers
        wid = h.get("webhook-id")
        ts = h.get("webhook-timestamp")
        rec = {"t": t, "wall": wall, "conn": self.conn_id, "method": "POST", "path": self.path,
               "id": wid, "ts": ts, "sig_ok": None, "idem_ok": h.get("Idempotency-Key") == wid,
               "lead": None, "stage": None, "type": None, "row_key": None, "action": None,
               "status": None,
               "retry_after": None, "retry_after_date": None, "dup": False, "check": None,
               "body_sha": hashlib.sha256(body).hexdigest(), "ua": h.get("User-Agent"),
               "extra": {k: h.get(k) for k in (ARGS.record_header or [])}}
        problems = []
        if not wid:
            problems.append("no webhook-id")
        try:
            if abs(int(ts) - time.time()) > 300:
                problems.append("webhook-timestamp outside tolerance")
        except (TypeError, ValueError):
            problems.append("bad webhook-timestamp")
        if ARGS.secret:
            rec["sig_ok"] = bool(wid and ts) and verify_signature(
                ARGS.secret, wid or "", ts or "", body, h.get("webhook-signature"))
            if not rec["sig_ok"]:
                problems.append("bad signature")
        if not rec["idem_ok"]:
            problems.append("Idempotency-Key differs from webhook-id")
        if (h.get("Content-Type") or "").split(";")[0].strip() != "application/json":
            problems.append("Content-Type is not application/json")
        try:
            doc = json.loads(body)
            lead = doc.get("lead") if isinstance(doc, dict) else None
            if isinstance(lead, dict):
                rec["lead"] = lead.get("leadId")
                rec["stage"] = lead.get("stage")
                rec["type"] = doc.get("type")
                rec["row_key"] = lead.get("rowKey")
                rec["action"] = lead.get("action")
            elif isinstance(doc, dict) and "UserDetails" in doc:
                rec["type"] = "marketplace"
                rec["lead"] = (doc.get("UserDetails") or {}).get("Email")
        except ValueError:
            problems.append("body is not JSON")

        with lock:
            rule = None if problems else pick_rule(rec["lead"])
        status, rbody, headers, drop, delay = 204, b"", {}, False, 0
        if problems:
            status, rbody = 400, ("; ".join(problems)).encode()
            rec["check"] = "; ".join(problems)
        elif rule:
            status = int(rule.get("status", 204))
            rbody = str(rule.get("body", "")).encode()
            drop = bool(rule.get("drop"))
            delay = int(rule.get("delay_ms", 0))
            if "retry_after" in rule:
                headers["Retry-After"] = str(int(rule["retry_after"]))
                rec["retry_after"] = int(rule["retry_after"])
            if "retry_after_date" in rule:
                at = int(time.time()) + 1 + int(rule["retry_after_date"])
                headers["Retry-After"] = email.utils.formatdate(at, usegmt=True)
                rec["retry_after_date"] = at
        if not problems and not drop and 200 <= status < 300 and delay == 0:
            with lock:
                if wid in state["seen"]:
                    rec["dup"] = True
                else:
                    state["seen"][wid] = rec["body_sha"]
                    state["accepted"] += 1
        if delay:
            time.sleep(delay / 1000.0)
            if 200 <= status < 300:
                with lock:  # processed, though the sender may have given up
                    if wid in state["seen"]:
                        rec["dup"] = True
                    else:
                        state["seen"][wid] = rec["body_sha"]
                        state["accepted"] += 1
        rec["status"] = None if drop else status
        rec["drop"] = drop
        rec["t_resp"] = time.monotonic()
        write_log(rec)
        if drop:
            self.close_connection = True
            try:
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                           struct.pack("ii", 1, 0))
                self.connection.close()
            except OSError:
                pass
            return
        try:
            self.answer(status, rbody, headers)
        except OSError:
            self.close_connection = True


def write_log(rec):
    with lock:
        state["seq"] += 1
        state["requests"] += 1
        rec["seq"] = state["seq"]
        if state["log"]:
            state["log"].write(json.dumps(rec) + "\n")
            state["log"].flush()


def main():
    global ARGS
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--log", help="JSON-lines request log")
    ap.add_argument("--secret", help="Standard Webhooks secret (whsec_...) to verify")
    ap.add_argument("--scenario", help="JSON list of fault rules")
    ap.add_argument("--cert", help="PEM certificate chain: serve TLS")
    ap.add_argument("--key", help="PEM private key for --cert")
    ap.add_argument("--record-header", action="append", help="log this request header")
    ap.add_argument("--max-seconds", type=float, default=600)
    ARGS = ap.parse_args()
    if ARGS.log:
        state["log"] = open(ARGS.log, "a", buffering=1)
    if ARGS.scenario:
        with open(ARGS.scenario) as f:
            install_rules(json.load(f))
    srv = loopback.Server(("127.0.0.1", ARGS.port), Handler)
    loopback.serve(srv, ARGS.cert, ARGS.key, ARGS.max_seconds)


if __name__ == "__main__":
    main()
