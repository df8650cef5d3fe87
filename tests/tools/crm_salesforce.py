#!/usr/bin/env python3
"""crm_salesforce.py - a loopback HTTPS double of the Salesforce REST API for
the Salesforce sink's tests, written from the Salesforce REST API Developer
Guide ("Insert or Update (Upsert) a Record Using an External ID", "sObject
Collections: Upsert" with per-record results in input order, "Status Codes
and Error Responses", "API usage" Sforce-Limit-Info, 403
REQUEST_LIMIT_EXCEEDED) and the Lead object reference (field lengths, counted
in UTF-16 code units as Salesforce strings are; Rating picklist Hot / Warm /
Cold).

Routes:
  POST  /services/oauth2/token                  client_credentials, or jwt-bearer with an
                                                RS256 assertion checked against --jwt-pubkey
                                                (iss = client id, sub = --username, exp
                                                within 5 minutes); instance_url = this server
                                                (or --instance-url)
  GET   /services/data/vNN.N/sobjects/Lead/describe
  PATCH /services/data/vNN.N/sobjects/Lead/{ExtField}/{value}    upsert: 201 created / 200
  GET   /services/data/vNN.N/sobjects/Lead/{ExtField}/{value}    200 {Id} or 404 NOT_FOUND
  PATCH /services/data/vNN.N/sobjects/Lead/{Id}                  update by Id: 204 / 404
  PATCH /services/data/vNN.N/composite/sobjects/Lead/{ExtField}  <= 200 records, per-record
                                                results in order; 400 above 200
Every API answer carries Sforce-Limit-Info: api-usage=N/100000. Bearer tokens
must be ones this server issued and not expired (/__expire) or 401
INVALID_SESSION_ID. Required LastName and Company are enforced on create;
a record naming the external-ID field or Id in a single upsert body is a
400; a text longer than its field (UTF-16 code units: an emoji counts 2) is a
400 STRING_TOO_LONG; a Rating outside the picklist is INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST. Records stored by external ID (GET /__state) with their update count
and the history of bodies. Faults: see crmdouble.py.
"""

import json
import os
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import crmdouble  # noqa: E402

FIELDS = ["Id", "FirstName", "LastName", "Email", "Phone", "Company", "Title", "Country",
          "LeadSource", "Description", "HasOptedOutOfEmail", "DoNotCall", "Status", "Rating"]
LENGTHS = {"FirstName": 40, "LastName": 80, "Email": 80, "Phone": 40, "Company": 255,
           "Title": 128, "Country": 80, "Description": 32000}


def err(code, message, fields=None):
    return [{"message": message, "errorCode": code, "fields": fields or []}]


class Salesforce(crmdouble.Double):
    def extra_headers(self):
        return {"Sforce-Limit-Info": "api-usage=%d/100000" % getattr(self, "api_calls", 0)}

    def token(self, body):
        f = urllib.parse.parse_qs(body.decode(), keep_blank_values=True)
        g = f.get("grant_type", [""])[0]
        a = self.args
        if g == "client_credentials":
            if f.get("client_id", [""])[0] != a.client_id or \
                    f.get("client_secret", [""])[0] != a.client_secret:
                return 400, {"error": "invalid_client", "error_description":
                             "invalid client credentials"}, None
        elif g == "urn:ietf:params:oauth:grant-type:jwt-bearer":
            got = crmdouble.verify_rs256(f.get("assertion", [""])[0], a.jwt_pubkey) \
                if a.jwt_pubkey else None
            if not got:
                return 400, {"error": "invalid_grant", "error_description":
                             "invalid assertion"}, None
            _, c = got
            now = time.time()
            if c.get("iss") != a.client_id or c.get("sub") != a.username or \
                    c.get("aud") != a.audience or not (now < c.get("exp", 0) <= now + 300):
                return 400, {"error": "invalid_grant", "error_description":
                             "user hasn't approved this consumer"}, None
        else:
            return 400, {"error": "unsupported_grant_type",
                         "error_description": "grant type not supported"}, None
        with self.lock:
            t = self.issue_token()
        inst = self.args.instance_url or "https://127.0.0.1:%d" % self.port
        return 200, {"access_token": t, "instance_url": inst,
                     "id": "https://127.0.0.1/id/00D/005", "token_type": "Bearer",
                     "issued_at": str(int(time.time() * 1000)), "signature": "x"}, None

    def describe(self):
        fields = [{"name": n, "externalId": False} for n in FIELDS]
        fields.append({"name": self.args.ext_field, "externalId": True})
        fields += [{"name": n, "externalId": False} for n in self.args.custom_field]
        return 200, {"name": "Lead", "fields": fields}, None

    def known(self, name):
        return name in FIELDS or name in self.args.custom_field or name == self.args.ext_field

    def upsert(self, ext, rec, allow_ext):
        """Returns (status, result dict, error list or None). Lock held."""
        for k in rec:
            if k == "attributes":
                continue
            if k == "Id" or (k == self.args.ext_field and not allow_ext):
                return 400, None, err("INVALID_FIELD", "%s not allowed in the body" % k, [k])
            if not self.known(k):
                return 400, None, err("INVALID_FIELD", "No such column '%s' on Lead" % k, [k])
        for k, n in LENGTHS.items():
            v = rec.get(k)
            if isinstance(v, str) and crmdouble.utf16_len(v) > n:
                return 400, None, err("STRING_TOO_LONG", "%s: data value too large (max length=%d)"
                                      % (k, n), [k])
        if "Rating" in rec and rec["Rating"] not in ("Hot", "Warm", "Cold"):
            return 400, None, err("INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                                  "Rating: bad value for restricted picklist field", ["Rating"])
        bad = self.invalid(rec)
        if bad:
            return 400, None, err("FIELD_CUSTOM_VALIDATION_EXCEPTION",
                                  "%s is not accepted" % bad["field"], [bad["field"]])
        if ext in self.args.dupe:
            return 300, None, err("MULTIPLE_CHOICES", "more than one record found")
        cur = self.records.get(ext)
        fields = {k: v for k, v in rec.items() if k != "attributes"}
        fields.pop(self.args.ext_field, None)
        if cur is None:
            missing = [f for f in ("LastName", "Company") if not fields.get(f)]
            if missing:
                return 400, None, err("REQUIRED_FIELD_MISSING", "Required fields are missing: %s"
                                      % missing, missing)
            rid = "00Q%012d" % self.next_id
            self.next_id += 1
            self.records[ext] = {"Id": rid, "fields": fields, "updates": 0, "history": [fields]}
            return 201, {"id": rid, "success": True, "errors": [], "created": True}, None
        cur["fields"].update(fields)
        cur["updates"] += 1
        cur["history"].append(fields)
        return 200, {"id": cur["Id"], "success": True, "errors": [], "created": False}, None

    def api(self, headers, method, path, query, raw):
        if path == "/services/oauth2/token" and method == "POST":
            return self.token(raw)
        if not path.startswith("/services/data/"):
            return 404, err("NOT_FOUND", "The requested resource does not exist"), None
        if not self.bearer_ok(headers):
            return 401, err("INVALID_SESSION_ID", "Session expired or invalid"), None
        parts = path.split("/")[3:]  # vNN.N, ...
        if len(parts) < 2 or not parts[0].startswith("v"):
            return 404, err("NOT_FOUND", "bad version"), None
        rest = parts[1:]
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            return 400, err("JSON_PARSER_ERROR", "malformed JSON"), None
        ext = self.args.ext_field
        with self.lock:
            if rest == ["sobjects", "Lead", "describe"] and method == "GET":
                return self.describe()
            if rest[:3] == ["composite", "sobjects", "Lead"] and len(rest) == 4 and \
                    method == "PATCH":
                if rest[3] != ext:
                    return 404, err("NOT_FOUND", "no such external ID field"), None
                recs = (body or {}).get("records")
                if not isinstance(recs, list) or (body or {}).get("allOrNone") is not False:
                    return 400, err("JSON_PARSER_ERROR", "records and allOrNone=false"), None
                if len(recs) > 200:
                    return 400, err("EXCEEDED_ID_LIMIT", "record limit is 200"), None
                out = []
                for r in recs:
                    f = self.take_fault("RECORD")
                    if f:
                        out.append({"id": None, "success": False, "created": False, "errors": [
                            {"statusCode": f.get("code", "UNABLE_TO_LOCK_ROW"),
                             "message": "injected", "fields": []}]})
                        continue
                    if (r.get("attributes") or {}).get("type") != "Lead" or not r.get(ext):
                        out.append({"id": None, "success": False, "created": False, "errors": [
                            {"statusCode": "INVALID_FIELD", "message": "attributes/ext id",
                             "fields": []}]})
                        continue
                    st, res, e = self.upsert(r[ext], r, True)
                    if res:
                        out.append(res)
                    else:
                        out.append({"id": None, "success": False, "created": False, "errors": [
                            {"statusCode": e[0]["errorCode"], "message": e[0]["message"],
                             "fields": e[0]["fields"]}]})
                return 200, out, None
            if rest[:2] == ["sobjects", "Lead"] and len(rest) == 4 and rest[2] == ext:
                value = rest[3]
                if method == "PATCH":
                    if not isinstance(body, dict):
                        return 400, err("JSON_PARSER_ERROR", "object expected"), None
                    st, res, e = self.upsert(value, body, False)
                    return st, res if res else e, None
                if method == "GET":
                    cur = self.records.get(value)
                    if cur is None:
                        return 404, err("NOT_FOUND", "The requested resource does not exist"), \
                            None
                    return 200, {"attributes": {"type": "Lead"}, "Id": cur["Id"]}, None
            if rest[:2] == ["sobjects", "Lead"] and len(rest) == 3 and method == "PATCH":
                for k, cur in self.records.items():
                    if cur["Id"] == rest[2]:
                        for f in body or {}:
                            if f in ("Id", ext) or not self.known(f):
                                return 400, err("INVALID_FIELD", "bad field %s" % f), None
                        cur["fields"].update(body or {})
                        cur["updates"] += 1
                        cur["history"].append(body or {})
                        return 204, None, None
                return 404, err("NOT_FOUND", "The requested resource does not exist"), None
        return 404, err("NOT_FOUND", "The requested resource does not exist"), None


def main():
    ap = crmdouble.base_args(__doc__)
    ap.add_argument("--ext-field", default="Marketplace_Lead_Id__c")
    ap.add_argument("--username", default="integration@example.com")
    ap.add_argument("--audience", default="")
    ap.add_argument("--instance-url", default="", help="the token answer's instance_url "
                    "(default: this server)")
    ap.add_argument("--jwt-pubkey", help="PEM public key verifying JWT assertions")
    ap.add_argument("--custom-field", action="append", default=[])
    ap.add_argument("--dupe", action="append", default=[], help="external ids matching 2 leads")
    crmdouble.serve(Salesforce(ap.parse_args()))


if __name__ == "__main__":
    main()
