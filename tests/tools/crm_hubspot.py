#!/usr/bin/env python3
"""crm_hubspot.py - a loopback HTTPS double of the HubSpot CRM v3 contacts
API (as HubSpot documents it) for the HubSpot sink's tests.

Routes (static bearer --token, else 401 INVALID_AUTHENTICATION):
  POST /crm/v3/objects/contacts/batch/upsert  <= 100 inputs {idProperty, id,
        properties}; contacts stored by (idProperty, lower-cased id); 200 with
        results[] ("new" flag), 400 for > 100 inputs or a repeated id; a
        read-only property (hs_email_optout, ...) is a 400 for the call
  POST /crm/v3/objects/contacts/batch/update  updates existing contacts only;
        missing ones are 207 errors (category OBJECT_NOT_FOUND, context.ids)
  GET  /crm/v3/objects/contacts               200 {"results": []}
  POST /communication-preferences/v4/statuses/{email}/unsubscribe-all?channel=EMAIL
        opts the address out of all e-mail (GET /__state "optouts"); creates
        no contact
Every answer carries X-HubSpot-RateLimit-* headers. Faults (crmdouble.py):
request rules (429 + policyName, 423, 477 + Retry-After, 502, ...), and
"RECORD" rules {"route": "RECORD", "match": TEXT} making an input whose id
contains TEXT invalid: a 207 VALIDATION_ERROR naming it, or with idProperty
email a 400 for the whole call. GET /__state: {"contacts": .., "optouts": [..]}.
"""

import json
import os
import sys
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import crmdouble  # noqa: E402


READ_ONLY = {"hs_email_optout", "hs_object_id", "createdate", "lastmodifieddate"}


class HubSpot(crmdouble.Double):
    def __init__(self, args):
        super().__init__(args)
        self.optouts = []
    def extra_headers(self):
        return {"X-HubSpot-RateLimit-Max": "190", "X-HubSpot-RateLimit-Remaining": "189",
                "X-HubSpot-RateLimit-Interval-Milliseconds": "10000"}

    def state(self):
        return {"contacts": self.records, "optouts": self.optouts}

    def batch(self, raw, update):
        try:
            inputs = json.loads(raw).get("inputs")
        except (ValueError, AttributeError):
            return 400, {"status": "error", "message": "Invalid input JSON",
                         "category": "VALIDATION_ERROR"}, None
        if not isinstance(inputs, list) or len(inputs) > 100:
            return 400, {"status": "error", "message": "inputs: at most 100",
                         "category": "VALIDATION_ERROR"}, None
        ids = [str(i.get("id", "")).lower() for i in inputs]
        ro = sorted({k for i in inputs for k in (i.get("properties") or {}) if k in READ_ONLY})
        if ro:
            return 400, {"status": "error", "category": "VALIDATION_ERROR",
                         "message": "Property values were not valid: %s is read-only"
                         % ", ".join(ro)}, None
        by_email = any(i.get("idProperty") == "email" for i in inputs)
        if by_email and not update:
            with self.lock:
                bad = [k for k in ids if self.take_fault(
                    "RECORD", lambda rule, k=k: rule.get("match", "") in k)]
            if bad:
                return 400, {"status": "error", "category": "VALIDATION_ERROR",
                             "message": "Property values were not valid"}, None
        if len(set(ids)) != len(ids):
            return 400, {"status": "error", "message": "Duplicate IDs found in batch input",
                         "category": "VALIDATION_ERROR"}, None
        results, errors = [], []
        with self.lock:
            for inp, k in zip(inputs, ids):
                prop = inp.get("idProperty") or "hs_object_id"
                key = "%s:%s" % (prop, k)
                props = inp.get("properties") or {}
                f = None if by_email and not update else \
                    self.take_fault("RECORD", lambda rule: rule.get("match", "") in k)
                if f:
                    errors.append({"status": "error", "category": "VALIDATION_ERROR",
                                   "message": "Property values were not valid",
                                   "context": {"ids": [inp.get("id")]}})
                    continue
                cur = self.records.get(key)
                if cur is None and update:
                    errors.append({"status": "error", "category": "OBJECT_NOT_FOUND",
                                   "message": "Could not get some CONTACT objects",
                                   "context": {"ids": [inp.get("id")]}})
                    continue
                if cur is None:
                    cur = self.records[key] = {"id": str(self.next_id), "properties": {},
                                               "updates": -1, "history": []}
                    self.next_id += 1
                    new = True
                else:
                    new = False
                cur["properties"].update(props)
                cur["updates"] += 1
                cur["history"].append(props)
                results.append({"id": cur["id"], "new": new, "properties": props,
                                "archived": False})
        body = {"status": "COMPLETE", "results": results, "startedAt": "x", "completedAt": "x"}
        if errors:
            body["errors"] = errors
            body["numErrors"] = len(errors)
            return 207, body, None
        return 200, body, None

    def api(self, headers, method, path, query, raw):
        if self.bearer(headers) != self.args.token:
            return 401, {"status": "error", "category": "INVALID_AUTHENTICATION",
                         "message": "Authentication credentials not found."}, None
        if path == "/crm/v3/objects/contacts/batch/upsert" and method == "POST":
            return self.batch(raw, False)
        if path == "/crm/v3/objects/contacts/batch/update" and method == "POST":
            return self.batch(raw, True)
        pre, end = "/communication-preferences/v4/statuses/", "/unsubscribe-all"
        if path.startswith(pre) and path.endswith(end) and method == "POST":
            if urllib.parse.parse_qs(query).get("channel") != ["EMAIL"]:
                return 400, {"status": "error", "category": "VALIDATION_ERROR",
                             "message": "channel is required"}, None
            who = urllib.parse.unquote(path[len(pre):-len(end)])
            with self.lock:
                if who not in self.optouts:
                    self.optouts.append(who)
            return 200, {"status": "COMPLETE", "results": [
                {"channel": "EMAIL", "status": "UNSUBSCRIBED", "subscriberIdString": who,
                 "wideStatusType": "PORTAL_WIDE"}]}, None
        if path == "/crm/v3/objects/contacts" and method == "GET":
            return 200, {"results": []}, None
        return 404, {"status": "error", "message": "not found"}, None


def main():
    ap = crmdouble.base_args(__doc__)
    ap.add_argument("--token", default="pat-na1-test")
    crmdouble.serve(HubSpot(ap.parse_args()))


if __name__ == "__main__":
    main()
