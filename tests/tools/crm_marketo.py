#!/usr/bin/env python3
"""crm_marketo.py - a loopback HTTPS double of the Marketo REST API for the
Marketo sink's tests, written from Adobe's Marketo Engage developer docs:
"Authentication" (experienceleague.adobe.com/en/docs/marketo-developer/
marketo/rest/authentication: GET|POST <identity>/oauth/token with
grant_type, client_id and client_secret as QUERY parameters; the token as an
"Authorization: Bearer" header, the access_token query parameter being
removed), "Leads" (Sync Leads: action, lookupField, per-record status and
reasons), "Error Codes" (errors in the body of an HTTP 200 answer) and
"List of standard fields" (unsubscribed, doNotCall).

Routes:
  GET|POST /identity/oauth/token   client_credentials in the query string only
                                   (a form body is ignored, as documented); the
                                   same token until it expires, expires_in
                                   counting down (--token-ttl, double's clock);
                                   401 on a bad or missing client id/secret
  POST /rest/v1/leads.json         <= 300 records; action createOrUpdate |
                                   createOnly | updateOnly; lookupField; answers
                                   HTTP 200 with per-record created/updated/
                                   skipped (1004 not found, 1005 exists, 1003
                                   missing lookup value); 601 for an unknown
                                   token, 602 for an expired one; 413 above 1 MB
Faults (crmdouble.py): request rules, and "CALL" rules {"route": "CALL",
"code": "606", "count": N} answering HTTP 200 success:false with that code;
"RECORD" rules {"route": "RECORD", "match": TEXT, "code": "1007"} skipping a
record whose lookup value contains TEXT.
Leads are stored by lookup value (GET /__state): fields, updates, history.
"overlaps" counts lookup values seen in two calls in flight at once or twice
in one call (must stay 0).
"""

import json
import os
import sys
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import crmdouble  # noqa: E402

MESSAGES = {"601": "Access token invalid", "602": "Access token expired",
            "606": "Max rate limit '100' exceeded with in '20' secs",
            "607": "Daily quota reached", "611": "System error",
            "615": "Concurrent access limit reached", "1003": "Invalid data",
            "1004": "Lead not found", "1005": "Lead already exists",
            "1007": "Multiple leads match the lookup criteria"}


class Marketo(crmdouble.Double):
    def __init__(self, args):
        super().__init__(args)
        self.current = None
        self.inflight = {}
        self.overlaps = 0

    def state(self):
        return {"leads": self.records, "overlaps": self.overlaps}

    def token(self, query, raw):
        f = urllib.parse.parse_qs(query)
        if f.get("grant_type", [""])[0] != "client_credentials":
            return 400, {"error": "unsupported_grant_type"}, None
        if f.get("client_id", [""])[0] != self.args.client_id or \
                f.get("client_secret", [""])[0] != self.args.client_secret:
            return 401, {"error": "invalid_client", "error_description": "Bad client credentials"}, \
                None
        with self.lock:
            if self.current is None or self.token_state(self.current) != "ok":
                self.current = self.issue_token(self.args.token_ttl)
            left = int(self.tokens[self.current] - self.now())
        return 200, {"access_token": self.current, "token_type": "bearer", "expires_in": left,
                     "scope": "apis@example.com"}, None

    @staticmethod
    def fail(code):
        return 200, {"requestId": "x#1", "success": False,
                     "errors": [{"code": code, "message": MESSAGES.get(code, "error")}]}, None

    def leads(self, headers, query, raw):
        if len(raw) > 1024 * 1024:
            return 413, "Request Entity Too Large", {"Content-Type": "text/plain"}
        if "access_token=" in query:
            return self.fail("601")  # the query parameter is no longer accepted
        t = self.token_state(self.bearer(headers))
        if t != "ok":
            return self.fail("601" if t == "unknown" else "602")
        f = self.take_fault("CALL")
        if f:
            return self.fail(str(f.get("code", "611")))
        try:
            body = json.loads(raw)
        except ValueError:
            return self.fail("609")
        action = body.get("action", "createOrUpdate")
        look = body.get("lookupField", "email")
        recs = body.get("input") or []
        if len(recs) > 300:
            return self.fail("1003")
        keys = [str(r.get(look, "")).lower() for r in recs]
        with self.lock:
            for k in keys:
                if self.inflight.get(k) or keys.count(k) > 1:
                    self.overlaps += 1
                self.inflight[k] = self.inflight.get(k, 0) + 1
        try:
            time.sleep(self.args.latency)
            out = []
            with self.lock:
                for r, k in zip(recs, keys):
                    out.append(self.one(action, look, r, k))
        finally:
            with self.lock:
                for k in keys:
                    self.inflight[k] -= 1
        return 200, {"requestId": "x#2", "success": True, "result": out}, None

    def one(self, action, look, r, k):
        if not k:
            return {"status": "skipped", "reasons": [{"code": "1003", "message":
                                                      "Value for lookup field missing"}]}
        f = self.take_fault("RECORD", lambda rule: rule.get("match", "") in k)
        if f:
            code = str(f.get("code", "1007"))
            return {"status": "skipped", "reasons": [{"code": code,
                                                      "message": MESSAGES.get(code, "error")}]}
        cur = self.records.get(k)
        if cur is None:
            if action == "updateOnly":
                return {"status": "skipped", "reasons": [{"code": "1004",
                                                          "message": MESSAGES["1004"]}]}
            self.records[k] = {"id": self.next_id, "fields": dict(r), "updates": 0,
                               "history": [dict(r)], "lookupField": look}
            self.next_id += 1
            return {"id": self.records[k]["id"], "status": "created"}
        if action == "createOnly":
            return {"status": "skipped", "reasons": [{"code": "1005", "message": MESSAGES["1005"]}]}
        cur["fields"].update(r)
        cur["updates"] += 1
        cur["history"].append(dict(r))
        return {"id": cur["id"], "status": "updated"}

    def api(self, headers, method, path, query, raw):
        if path == "/identity/oauth/token" and method in ("GET", "POST"):
            return self.token(query, raw)
        if path == "/rest/v1/leads.json" and method == "POST":
            return self.leads(headers, query, raw)
        return 404, {"error": "not found"}, None


def main():
    ap = crmdouble.base_args(__doc__)
    ap.add_argument("--token-ttl", type=float, default=3600)
    ap.add_argument("--latency", type=float, default=0.0, help="seconds per leads call")
    crmdouble.serve(Marketo(ap.parse_args()))


if __name__ == "__main__":
    main()
