#!/usr/bin/env python3
"""faultserver.py - a fault-injecting fake Azure Table query endpoint.

It serves canned pages of synthetic entities itself (no Azurite behind it) so
the client's pagination and retry logic can be driven through the faults real
services show and Azurite never does. Python 3 stdlib only; listens on
127.0.0.1 only, on a free port that it prints on the first stdout line; exits
by itself after --max-seconds.

Requests: GET /<account>/<table>()?$filter=..&$top=N[&NextPartitionKey=..][&NextRowKey=..]
The scenario is the table name with its trailing digits removed, so one
server handles every scenario and a test can use fresh tables (short1,
short2...). Each table holds --entities entities (default 200): PartitionKey
"pNN" (40 per partition), RowKey "rNNNNN", Int32 "Seq" = index, "Name".

Scenarios (faults apply to the FIRST attempt of page 1 unless stated):
  plain     full pages of $top
  short     pages of 7, 0, 13, 0 (NextPartitionKey only), 1, 50, 0, then $top
  busy      503 ServerBusy with Retry-After: 2
  timedout  500 OperationTimedOut twice, then success
  reset     headers + half the body, then a TCP reset
  trunc     Content-Length larger than the body sent, then close
  slow      the response starts after 2 s (clients use a shorter timeout)
  cutjson   200 with a cut JSON body (consistent Content-Length)
  always    503 ServerBusy on every request
  loop      empty pages that always return the same continuation
  denied    403 AuthenticationFailed (XML body) on every request
  big       one page of all entities (for response size caps)
  bearer    401 unless "Authorization: Bearer fresh-token" (instead of SharedKey)

Hostile scenarios, for the worker (they apply to every page of the window):
  sleepy    503 ServerBusy with Retry-After: 300 on every request
  flood     a page of 2 x $top + 1 entities, most of them empty objects
  wide      entity 3 of each page carries 300 properties
  nokeys    every entity whose index ends in 3 has no PartitionKey nor RowKey
  oversize  while $top > 25 an answer of 33 MiB (over the client's 32 MiB cap)
  endless   empty pages, each with a fresh continuation, forever
  nul       marketplace-shaped rows; index ending in 3: a NUL inside the
            CustomerInfo email, ending in 7: a raw NUL in OfferDisplayName
  hostile   403 whose error code, request id and message carry terminal
            escapes and key=value words

A query whose $filter is "PartitionKey eq '' and RowKey eq ''" (the worker's
clock probe) is answered with an empty page, as the service does. State is
kept per table and $filter, so the probe and the window do not mix.

Checks on every request (a violation answers 400 with code FaultServerCheck):
x-ms-date, x-ms-version and an Authorization "SharedKey <account>:" header
(bearer excepted) are present; no Date header; Accept is JSON; $filter/$select/$top are
identical on every page of a table; the continuation tokens are exactly
ones handed out (they contain '+', '/' and '=' so bad encoding shows); an
empty NextRowKey is never sent, and NextRowKey is absent when the previous
page gave none.
"""
import argparse
import json
import os
import re
import socket
import struct
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PER_PARTITION = 40
SHORT_PLAN = [7, 0, 13, 0, 1, 50, 0]
SHORT_PK_ONLY = {3}  # page indexes whose continuation has no NextRowKey

lock = threading.Lock()
tables = {}  # table -> {"query": tuple, "attempts": {page: n}, "issued": {(pk, rk): (pos, page)}}
N_ENTITIES = 200


def entity(i):
    return {
        "PartitionKey": "p%02d" % (i // PER_PARTITION),
        "RowKey": "r%05d" % i,
        "Timestamp": "2024-01-02T03:04:05.%07dZ" % (1000000 + i),
        "Seq": i,
        "Name": "e%d" % i,
    }


def marketplace_entity(i):
    email = "lead%d@example.com" % i
    if i % 10 == 3:
        email = "victim@example.com\\u0000.attacker.example"
    e = entity(i)
    e["CustomerInfo"] = ('{"FirstName":"F%d","LastName":"L","Email":"%s","Phone":"","Country":"US",'
                         '"Company":"C","Title":""}' % (i, email))
    e["LeadSource"] = "SPZA-PLT|contoso.offer"
    e["OfferDisplayName"] = "Offer\x00cut" if i % 10 == 7 else "Offer"
    return e


def planned_entity(scenario, i):
    if scenario == "nul":
        return marketplace_entity(i)
    e = entity(i)
    if scenario == "nokeys" and i % 10 == 3:
        del e["PartitionKey"], e["RowKey"]
    if scenario == "wide" and i % 10 == 3:
        for k in range(300):
            e["P%03d" % k] = k
    return e


def token(pos, page):
    return ("1!%d!cA+/=" % pos, "1!%d!cg==" % page)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "faultserver"

    def log_message(self, fmt, *args):
        pass

    # --- responses --------------------------------------------------------
    def send_json(self, status, obj, headers=None):
        body = json.dumps(obj, separators=(",", ":")).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json;odata=nometadata")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("x-ms-request-id", "fs-%d" % time.monotonic_ns())
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def send_error_json(self, status, code, message, headers=None):
        h = {"x-ms-error-code": code}
        h.update(headers or {})
        self.send_json(status, {"odata.error": {"code": code,
                                                "message": {"lang": "en-US", "value": message}}}, h)

    def check_fail(self, why):
        self.send_error_json(400, "FaultServerCheck", why)

    # --- requests ---------------------------------------------------------
    def do_GET(self):
        try:
            self.handle_query()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def do_POST(self):
        self.send_error_json(405, "UnsupportedHttpVerb", "only queries are served")

    def handle_query(self):
        url = urllib.parse.urlsplit(self.path)
        m = re.fullmatch(r"/([A-Za-z0-9]+)/([A-Za-z]+)(\d*)\(\)", url.path)
        if not m:
            return self.send_error_json(404, "ResourceNotFound", "no such resource")
        table = m.group(2) + m.group(3)
        scenario = m.group(2)
        for h in ("x-ms-date", "x-ms-version"):
            if not self.headers.get(h):
                return self.check_fail("missing " + h)
        if self.headers.get("Date"):
            return self.check_fail("a Date header was sent")
        auth = self.headers.get("Authorization") or ""
        if scenario == "bearer":
            if auth != "Bearer fresh-token":
                return self.send_error_json(401, "InvalidAuthenticationInfo",
                                            "Server failed to authenticate the request.")
        elif not auth.startswith("SharedKey %s:" % m.group(1)):
            return self.check_fail("missing SharedKey authorization")
        if not (self.headers.get("Accept") or "").startswith("application/json"):
            return self.check_fail("Accept is not JSON")
        params = urllib.parse.parse_qs(url.query, keep_blank_values=True)
        if any(len(v) != 1 for v in params.values()):
            return self.check_fail("repeated query parameter")
        p = {k: v[0] for k, v in params.items()}
        top = int(p.get("$top", "1000"))
        query = (p.get("$filter"), p.get("$select"), p.get("$top"))
        npk, nrk = p.get("NextPartitionKey"), p.get("NextRowKey")
        if nrk == "":
            return self.check_fail("empty NextRowKey sent")

        if p.get("$filter") == "PartitionKey eq '' and RowKey eq ''":
            return self.send_json(200, {"value": []})
        if scenario in ("oversize", "big"):
            query = query[:2]  # $top shrinks after an oversized answer
        with lock:
            st = tables.setdefault((table, p.get("$filter")),
                                   {"query": query, "attempts": {}, "issued": {}})
            if st["query"] != query:
                return self.check_fail("query changed between pages")
            if npk is None:
                pos, page = 0, 0
            else:
                # any token handed out is valid: a failed page is asked for again
                if (npk, nrk) not in st["issued"]:
                    return self.check_fail("unexpected continuation %r %r" % (npk, nrk))
                pos, page = st["issued"][(npk, nrk)]
            attempt = st["attempts"].get(page, 0) + 1
            st["attempts"][page] = attempt

        if scenario == "denied":
            return self.send_xml_error(403, "AuthenticationFailed")
        if scenario == "always":
            return self.send_error_json(503, "ServerBusy", "Operations per second is over the account limit.")
        if scenario == "sleepy":
            return self.send_error_json(503, "ServerBusy", "Operations per second is over the account limit.",
                                        {"Retry-After": "300"})
        if scenario == "hostile":
            return self.send_error_json(
                403, "AuthenticationFailed\x1b[2J\x1b]0;owned\x07",
                "Denied.\u001b[31m level=debug msg=forged forged=1 rows=999\r\nfake: line",
                {"x-ms-request-id": "req\x1b[1mid"})
        if scenario == "oversize" and top > 25:
            pad = b"x" * (33 * 1024 * 1024)
            self.send_response(200)
            self.send_header("Content-Type", "application/json;odata=nometadata")
            self.send_header("Content-Length", str(len(pad) + 20))
            self.end_headers()
            self.wfile.write(b'{"value":[{"Pad":"' + pad + b'"}]}')
            return
        first = page == 1 and attempt == 1
        if scenario == "busy" and first:
            return self.send_error_json(503, "ServerBusy", "Operations per second is over the account limit.",
                                        {"Retry-After": "2"})
        if scenario == "timedout" and page == 1 and attempt <= 2:
            return self.send_error_json(500, "OperationTimedOut", "Operation could not be completed within the specified time.")
        if scenario == "slow" and first:
            time.sleep(2.0)

        # plan the page
        if scenario in ("loop", "endless"):
            count = 0
        elif scenario == "short" and page < len(SHORT_PLAN):
            count = SHORT_PLAN[page]
        elif scenario == "big":
            count = N_ENTITIES
        else:
            count = top
        count = max(0, min(count, top if scenario != "big" else N_ENTITIES, N_ENTITIES - pos))
        ents = [planned_entity(scenario, i) for i in range(pos, pos + count)]
        if scenario == "flood":
            ents += [{}] * (2 * top + 1 - len(ents))
        end = pos + count
        headers = {}
        if scenario == "endless":
            end = pos + 1  # a fresh token every time, and no entity ever
        if scenario in ("loop", "endless") or end < N_ENTITIES:
            nxt_pos = pos if scenario == "loop" else end
            nxt_page = page if scenario == "loop" else page + 1
            tpk, trk = token(nxt_pos, nxt_page)
            if scenario == "short" and page in SHORT_PK_ONLY:
                trk = None
            headers["x-ms-continuation-NextPartitionKey"] = tpk
            if trk is not None:
                headers["x-ms-continuation-NextRowKey"] = trk
            with lock:
                st["issued"][(tpk, trk)] = (nxt_pos, nxt_page)

        body = json.dumps({"value": ents}, separators=(",", ":")).encode()
        if scenario in ("reset", "trunc") and first:
            self.send_response(200)
            self.send_header("Content-Type", "application/json;odata=nometadata")
            self.send_header("Content-Length", str(len(body)))
            for k, v in headers.items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            if scenario == "reset":
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                           struct.pack("ii", 1, 0))
                self.connection.close()
            return
        if scenario == "cutjson" and first:
            body = body[: len(body) // 2]
        self.send_response(200)
        self.send_header("Content-Type", "application/json;odata=nometadata")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("x-ms-request-id", "fs-%s-%d-%d" % (table, page, attempt))
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def send_xml_error(self, status, code):
        body = ('<?xml version="1.0" encoding="utf-8"?><Error><Code>%s</Code>'
                "<Message>Server failed to authenticate the request.\nRequestId:x</Message>"
                "</Error>" % code).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("x-ms-error-code", code)
        self.send_header("x-ms-request-id", "fs-denied")
        self.end_headers()
        self.wfile.write(body)


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # aborted connections are part of the job


def main():
    global N_ENTITIES
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--entities", type=int, default=200)
    ap.add_argument("--max-seconds", type=float, default=300.0)
    args = ap.parse_args()
    N_ENTITIES = args.entities
    srv = QuietServer(("127.0.0.1", 0), Handler)
    print(srv.server_address[1], flush=True)
    threading.Timer(args.max_seconds, lambda: os._exit(0)).start()
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
