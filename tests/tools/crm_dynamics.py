#!/usr/bin/env python3
"""crm_dynamics.py - a loopback HTTPS double of Microsoft Entra's token
endpoint and the Dataverse Web API (crm-sinks.md sections 2 and 7) for the
Dynamics sink's tests.

Routes:
  POST  /{tenant}/oauth2/v2.0/token        client_credentials; scope must end in
                                          /.default; client_secret, or a
                                          client_assertion (RS256, x5t = thumbprint of
                                          --client-cert, aud = this URL, iss = sub =
                                          client id, exp in the future)
  GET   /api/data/v9.2/EntityDefinitions(LogicalName='lead')
  PATCH /api/data/v9.2/leads({key}='{v}')  upsert by alternate key: 204 + OData-EntityId;
                                          If-Match: * -> 404 when missing; If-None-Match: *
                                          -> 412 when present; the key column in the body
                                          is a 400; lastname required on create
Bearer tokens must be issued here and not expired (/__expire), else 401.
OData-Version: 4.0 required (400 otherwise). Records by key value in
GET /__state. Faults: see crmdouble.py (e.g. 429 + Retry-After + 0x80072322).
"""

import base64
import hashlib
import json
import os
import re
import ssl
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import crmdouble  # noqa: E402

COLUMNS = {"firstname", "lastname", "emailaddress1", "telephone1", "companyname", "jobtitle",
           "address1_country", "subject", "description", "leadsourcecode", "donotemail",
           "donotphone", "donotbulkemail"}


def err(code, message):
    return {"error": {"code": code, "message": message}}


class Dynamics(crmdouble.Double):
    def extra_headers(self):
        return {"x-ms-service-request-id": "00000000-0000-0000-0000-000000000000"}

    def thumbprint(self):
        with open(self.args.client_cert) as f:
            der = ssl.PEM_cert_to_DER_cert(f.read())
        return base64.urlsafe_b64encode(hashlib.sha1(der).digest()).decode().rstrip("=")

    def token(self, path, raw):
        f = urllib.parse.parse_qs(raw.decode(), keep_blank_values=True)
        a = self.args
        get = lambda k: f.get(k, [""])[0]  # noqa: E731
        if get("grant_type") != "client_credentials":
            return 400, {"error": "unsupported_grant_type", "error_description": "AADSTS70003"}
        if not get("scope").endswith("/.default"):
            return 400, {"error": "invalid_scope", "error_description": "AADSTS70011: bad scope"}
        if get("client_id") != a.client_id:
            return 400, {"error": "unauthorized_client", "error_description": "AADSTS700016"}
        if get("client_secret"):
            if get("client_secret") != a.client_secret:
                return 401, {"error": "invalid_client",
                             "error_description": "AADSTS7000215: Invalid client secret."}
        elif get("client_assertion_type") == \
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" and a.client_pub:
            got = crmdouble.verify_rs256(get("client_assertion"), a.client_pub)
            if not got:
                return 401, {"error": "invalid_client", "error_description": "AADSTS700027"}
            h, c = got
            aud = "https://127.0.0.1:%d%s" % (self.port, path)
            if h.get("x5t") != self.thumbprint() or c.get("aud") != aud or \
                    c.get("iss") != a.client_id or c.get("sub") != a.client_id or \
                    c.get("exp", 0) < time.time() or not c.get("jti"):
                return 401, {"error": "invalid_client", "error_description": "AADSTS700027: "
                             "assertion claims"}
        else:
            return 401, {"error": "invalid_client", "error_description": "AADSTS7000218: "
                         "no credentials"}
        with self.lock:
            t = self.issue_token()
        return 200, {"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599,
                     "access_token": t}

    def api(self, headers, method, path, query, raw):
        m = re.match(r"^/([^/]+)/oauth2/v2\.0/token$", path)
        if m and method == "POST":
            st, body = self.token(path, raw)
            return st, body, None
        if not path.startswith("/api/data/v9.2/"):
            return 404, err("0x80060888", "Resource not found"), None
        if not self.bearer_ok(headers):
            return 401, err("0x80072243", "ExpiredAuthTicket"), \
                {"WWW-Authenticate": "Bearer error=invalid_token"}
        if headers.get("OData-Version") != "4.0":
            return 400, err("0x0", "OData-Version 4.0 required"), None
        rest = path[len("/api/data/v9.2/"):]
        if rest == "EntityDefinitions(LogicalName='lead')" and method == "GET":
            return 200, {"LogicalName": "lead"}, None
        m = re.match(r"^leads\((\w+)='((?:[^']|'')*)'\)$", rest)
        if not m or method != "PATCH":
            return 404, err("0x80060888", "Resource not found for the segment"), None
        if m.group(1) != self.args.key_field:
            return 400, err("0x80048d19", "no alternate key on %s" % m.group(1)), None
        key = m.group(2).replace("''", "'")
        try:
            body = json.loads(raw)
        except ValueError:
            return 400, err("0x80048d19", "malformed JSON"), None
        for k in body:
            if k == self.args.key_field:
                return 400, err("0x80048d19", "key column repeated in the body"), None
            if k not in COLUMNS and not k.startswith("new_"):
                return 400, err("0x80048d19", "Invalid property '%s' on lead" % k), None
        with self.lock:
            bad = self.invalid(body)
            if bad:
                return 400, err("0x80044331", "%s is not valid" % bad["field"]), None
            cur = self.records.get(key)
            if headers.get("If-Match") == "*" and cur is None:
                return 404, err("0x80040217", "lead With Ids = %s Does Not Exist" % key), None
            if headers.get("If-None-Match") == "*" and cur is not None:
                return 412, err("0x80060892", "A record with matching key values already "
                                "exists."), None
            loc = {"OData-EntityId": "https://127.0.0.1:%d/api/data/v9.2/leads(%s='%s')"
                   % (self.port, self.args.key_field, key)}
            if cur is None:
                if not body.get("lastname"):
                    return 400, err("0x80040203", "lastname is required"), None
                self.records[key] = {"leadid": "%08d-0000-0000-0000-000000000000" % self.next_id,
                                     "fields": dict(body), "updates": 0, "history": [body]}
                self.next_id += 1
            else:
                cur["fields"].update(body)
                cur["updates"] += 1
                cur["history"].append(body)
        return 204, None, loc


def main():
    ap = crmdouble.base_args(__doc__)
    ap.add_argument("--key-field", default="new_marketplaceleadid")
    ap.add_argument("--client-cert", help="PEM certificate whose thumbprint assertions carry")
    ap.add_argument("--client-pub", help="PEM public key of --client-cert")
    crmdouble.serve(Dynamics(ap.parse_args()))


if __name__ == "__main__":
    main()
