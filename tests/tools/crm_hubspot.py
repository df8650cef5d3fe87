#!/usr/bin/env python3
"""crm_hubspot.py - a loopback HTTPS double of the HubSpot CRM v3 contacts
API (as HubSpot documents it: the CRM contacts guide, the batch read /
upsert / update contacts references - "provided property values will be
overwritten" -, the FAQ "How do I set multiple values for checkbox
properties" - one ";"-separated string -, and the subscription preferences
v4 reference) for the HubSpot sink's tests.

Routes (static bearer --token, else 401 INVALID_AUTHENTICATION):
  POST /crm/v3/objects/contacts/batch/upsert  <= 100 inputs {idProperty, id,
        properties}: the contact whose idProperty (email, or a unique property)
        has the id (no case) is updated, else one is created; 200 with
        results[] ("new" flag), 400 for > 100 inputs or a repeated id; a
        read-only property (hs_email_optout, ...) is a 400 for the call.
        HubSpot deduplicates contacts by e-mail: an input that would give a
        second contact an e-mail (or unique value) another one has is a 409
        CONFLICT "Contact already exists. Existing ID: N" for the call.
        Values given overwrite (a multiple-checkbox value is the whole
        ";"-separated list: nothing is appended)
  POST /crm/v3/objects/contacts/batch/update  updates existing contacts only;
        missing ones are 207 errors (category OBJECT_NOT_FOUND, context.ids)
  POST /crm/v3/objects/contacts/batch/read  {idProperty, inputs [{id}],
        properties [..]}: 200 results [{id, properties (those asked for that
        are set, and hs_object_id)}], or 207 with an OBJECT_NOT_FOUND error
        naming the ids not found (context.ids)
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
        return {"contacts": {r["key"]: r for r in self.records.values()},
                "optouts": self.optouts}

    def find(self, prop, value):
        """The contact whose property prop (hs_object_id: its id) is value;
        unique properties and email compare without case."""
        for rec in self.records.values():
            have = rec["id"] if prop == "hs_object_id" else rec["properties"].get(prop)
            if have is not None and str(have).lower() == str(value).lower():
                return rec
        return None

    def conflict(self, inp, cur):
        """Another contact already holds the e-mail (HubSpot deduplicates
        contacts by e-mail) or the unique idProperty value inp would write."""
        props = inp.get("properties") or {}
        prop = inp.get("idProperty") or "hs_object_id"
        email = props.get("email") or (inp.get("id") if prop == "email" else None)
        checks = [("email", email)] + [(k, v) for k, v in props.items()
                                       if k == prop and k != "email"]
        for k, v in checks:
            other = self.find(k, v) if v else None
            if other is not None and other is not cur:
                return other
        return None

    def read(self, raw):
        try:
            doc = json.loads(raw)
            inputs, want = doc.get("inputs"), doc.get("properties") or []
            prop = doc.get("idProperty") or "hs_object_id"
        except (ValueError, AttributeError):
            return 400, {"status": "error", "message": "Invalid input JSON",
                         "category": "VALIDATION_ERROR"}, None
        if not isinstance(inputs, list) or len(inputs) > 100:
            return 400, {"status": "error", "message": "inputs: at most 100",
                         "category": "VALIDATION_ERROR"}, None
        results, missing = [], []
        with self.lock:
            for inp in inputs:
                rec = self.find(prop, inp.get("id", ""))
                if rec is None:
                    missing.append(inp.get("id"))
                    continue
                props = {k: rec["properties"][k] for k in want if k in rec["properties"]}
                props["hs_object_id"] = rec["id"]
                results.append({"id": rec["id"], "properties": props, "archived": False,
                                "createdAt": "2026-01-01T00:00:00Z",
                                "updatedAt": "2026-01-01T00:00:00Z"})
        body = {"status": "COMPLETE", "results": results, "startedAt": "x", "completedAt": "x"}
        if missing:
            body["numErrors"] = 1
            body["errors"] = [{"status": "error", "category": "OBJECT_NOT_FOUND",
                               "message": "Could not get some CONTACT objects, they may be "
                                          "deleted or not exist. Check that ids are valid.",
                               "context": {"ids": missing}}]
            return 207, body, None
        return 200, body, None

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
        with self.lock:
            for inp in inputs:
                cur = self.find(inp.get("idProperty") or "hs_object_id", inp.get("id", ""))
                other = None if update and cur is None else self.conflict(inp, cur)
                if other is not None:
                    return 409, {"status": "error", "category": "CONFLICT",
                                 "message": "Contact already exists. Existing ID: %s"
                                 % other["id"]}, None
            return self.apply(inputs, ids, by_email, update)

    def apply(self, inputs, ids, by_email, update):
        results, errors = [], []
        for inp, k in zip(inputs, ids):
            prop = inp.get("idProperty") or "hs_object_id"
            props = inp.get("properties") or {}
            f = None if by_email and not update else \
                self.take_fault("RECORD", lambda rule: rule.get("match", "") in k)
            if f:
                errors.append({"status": "error", "category": "VALIDATION_ERROR",
                               "message": "Property values were not valid",
                               "context": {"ids": [inp.get("id")]}})
                continue
            cur = self.find(prop, k)
            if cur is None and update:
                errors.append({"status": "error", "category": "OBJECT_NOT_FOUND",
                               "message": "Could not get some CONTACT objects",
                               "context": {"ids": [inp.get("id")]}})
                continue
            new = cur is None
            if new:
                email = props.get("email") or (k if prop == "email" else None)
                cur = {"id": str(self.next_id), "properties": {prop: k}, "updates": -1,
                       "history": [], "key": "email:%s" % email.lower() if email
                       else "%s:%s" % (prop, k)}
                self.records[cur["id"]] = cur
                self.next_id += 1
            cur["properties"].update(props)  # values given overwrite (documented)
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
        if path == "/crm/v3/objects/contacts/batch/read" and method == "POST":
            return self.read(raw)
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
