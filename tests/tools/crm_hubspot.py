#!/usr/bin/env python3
"""crm_hubspot.py - a loopback HTTPS double of the HubSpot CRM v3 contacts
API (as HubSpot documents it) for the HubSpot sink's tests.

Routes (static bearer --token, else 401 INVALID_AUTHENTICATION):
  POST /crm/v3/objects/contacts/batch/upsert  <= 100 inputs {idProperty, id,
        properties}; contacts stored by (idProperty, lower-cased id); 200 with
        results[] ("new" flag), 400 for > 100 inputs or a repeated id
  POST /crm/v3/objects/contacts/batch/update  updates existing contacts only;
        missing ones are 207 errors (category OBJECT_NOT_FOUND, context.ids)
  GET  /crm/v3/objects/contacts               200 {"results": []}
Every answer carries X-HubSpot-RateLimit-* headers. Faults (crmdouble.py):
request rules (429 + policyName, 423, 477 + Retry-After, 502, ...), and
"RECORD" rules {"route": "RECORD", "match": TEXT} making an input whose id
contains TEXT a 207 VALIDATION_ERROR. GET /__state: {"contacts": ..}.
"""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import crmdouble  # noqa: E402


class HubSpot(crmdouble.Double):
    def extra_headers(self):
        return {"X-HubSpot-RateLimit-Max": "190", "X-HubSpot-RateLimit-Remaining": "189",
                "X-HubSpot-RateLimit-Interval-Milliseconds": "10000"}

    def state(self):
        return {"contacts": self.records}

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
        if len(set(ids)) != len(ids):
            return 400, {"status": "error", "message": "Duplicate IDs found in batch input",
                         "category": "VALIDATION_ERROR"}, None
        results, errors = [], []
        with self.lock:
            for inp, k in zip(inputs, ids):
                prop = inp.get("idProperty") or "hs_object_id"
                key = "%s:%s" % (prop, k)
                props = inp.get("properties") or {}
                f = self.take_fault("RECORD", lambda rule: rule.get("match", "") in k)
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
        if path == "/crm/v3/objects/contacts" and method == "GET":
            return 200, {"results": []}, None
        return 404, {"status": "error", "message": "not found"}, None


def main():
    ap = crmdouble.base_args(__doc__)
    ap.add_argument("--token", default="pat-na1-test")
    crmdouble.serve(HubSpot(ap.parse_args()))


if __name__ == "__main__":
    main()
