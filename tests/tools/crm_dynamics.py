#!/usr/bin/env python3
"""crm_dynamics.py - a loopback HTTPS double of Microsoft Entra's token
endpoint and the Dataverse Web API for the Dynamics sink's tests, written from
Microsoft Learn: "Microsoft identity platform and the OAuth 2.0 client
credentials flow", Dataverse Web API "Upsert a table row" (alternate keys,
If-Match / If-None-Match), "Execute batch operations using the Web API",
"Service protection API limits" (429 + Retry-After, 0x80072322) and the lead
table reference (string column MaxLength counted in UTF-16 code units, as .NET
strings are; leadqualitycode options 1 Hot, 2 Warm, 3 Cold).

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
  POST  /api/data/v9.2/$batch              multipart/mixed of application/http parts
                                          (PATCHes as above, absolute or path URLs; change
                                          sets flattened); at most 1000 requests (else
                                          400); answers 200 multipart/mixed with one
                                          application/http part per request, in order.
                                          Without Prefer: odata.continue-on-error the batch
                                          stops after the first failing request. A fault
                                          rule with route "BATCHPART" (status, body, headers)
                                          answers one part instead of the upsert.
Bearer tokens must be issued here and not expired (/__expire), else 401.
OData-Version: 4.0 required (400 otherwise). Records by key value in
GET /__state. A string longer than its column's MaxLength (UTF-16 code units) is a
400 0x80044331. Faults: see crmdouble.py (e.g. 429 + Retry-After + 0x80072322).
"""

import base64
import hashlib
import http.client
import json
import os
import re
import ssl
import sys
import time
import urllib.parse
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import crmdouble  # noqa: E402

COLUMNS = {"firstname", "lastname", "emailaddress1", "telephone1", "companyname", "jobtitle",
           "address1_country", "subject", "description", "leadsourcecode", "donotemail",
           "donotphone", "donotbulkemail", "leadqualitycode"}
# MaxLength of the lead table's string columns (Dataverse lead table reference).
MAX_LENGTH = {"firstname": 50, "lastname": 50, "emailaddress1": 100, "telephone1": 50,
              "companyname": 100, "jobtitle": 100, "address1_country": 80, "subject": 300,
              "description": 2000}


def too_long(body):
    for k, n in MAX_LENGTH.items():
        v = body.get(k)
        if isinstance(v, str) and len(v.encode("utf-16-le")) // 2 > n:
            return k, n
    return None


def err(code, message):
    return {"error": {"code": code, "message": message}}


class Headers(dict):
    """Case-insensitive header lookup for the requests inside a $batch."""
    def get(self, k, default=None):
        return dict.get(self, k.lower(), default)


def parse_multipart(raw, boundary):
    """[(method, target, Headers, body bytes)] of a $batch body; change sets
    (nested multipart/mixed parts) flattened."""
    delim = b"--" + boundary
    segs = re.split(b"(?:^|\r?\n)" + re.escape(delim), raw)
    if len(segs) < 3 or not segs[-1].startswith(b"--"):
        raise ValueError("no closing delimiter")
    out = []
    for seg in segs[1:-1]:
        nl = seg.find(b"\n")  # the rest of the delimiter line (transport padding)
        if nl < 0:
            raise ValueError("empty part")
        head, inner = split_head(seg[nl + 1:])
        mime = header_dict(head)
        ctype = mime.get("Content-Type") or ""
        if ctype.startswith("multipart/mixed"):
            m = re.search(r'boundary="?([^";]+)"?', ctype)
            if not m:
                raise ValueError("change set without a boundary")
            out.extend(parse_multipart(inner, m.group(1).encode()))
            continue
        if not ctype.startswith("application/http"):
            raise ValueError("part Content-Type %r" % ctype)
        req_head, body = split_head(inner.lstrip(b"\r\n"))
        lines = req_head.decode("latin-1").splitlines()
        if not lines or len(lines[0].split(" ")) != 3:
            raise ValueError("bad request line")
        method, target, _ = lines[0].split(" ")
        out.append((method, target, header_dict("\n".join(lines[1:]).encode("latin-1")),
                    body.rstrip(b"\r\n")))
    return out


def split_head(b):
    """(header block, rest) at the first empty line."""
    if b.startswith(b"\r\n") or b.startswith(b"\n"):
        return b"", b[2 if b.startswith(b"\r\n") else 1:]
    m = re.search(b"\r?\n\r?\n", b)
    if not m:
        return b, b""
    return b[:m.start()], b[m.end():]


def header_dict(head):
    h = Headers()
    for line in head.decode("latin-1").splitlines():
        if ":" in line:
            k, v = line.split(":", 1)
            h[k.strip().lower()] = v.strip()
    return h


class Dynamics(crmdouble.Double):
    def __init__(self, args):
        super().__init__(args)
        self.batches = []  # requests per $batch
        self.parts = []    # every request inside a $batch, with its status

    def control(self, path, raw):
        if path == "/__batches":
            with self.lock:
                return 200, {"batches": self.batches, "parts": self.parts}
        return super().control(path, raw)

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
        if rest == "$batch" and method == "POST":
            return self.batch(headers, raw)
        if method != "PATCH":
            return 404, err("0x80060888", "Resource not found for the segment"), None
        return self.upsert(headers, rest, raw)

    def batch(self, headers, raw):
        m = re.search(r'boundary="?([^";]+)"?', headers.get("Content-Type") or "")
        if not (headers.get("Content-Type") or "").startswith("multipart/mixed") or not m:
            return 400, err("0x80048d19", "$batch needs multipart/mixed with a boundary"), None
        try:
            reqs = parse_multipart(raw, m.group(1).encode())
        except ValueError as e:
            return 400, err("0x80048d19", "malformed $batch: %s" % e), None
        if len(reqs) > 1000:
            return 400, err("0x8006088a", "The maximum number of requests in a batch is 1000"), \
                None
        go_on = "odata.continue-on-error" in (headers.get("Prefer") or "")
        with self.lock:
            self.batches.append(len(reqs))
        out = []
        for method, target, hdrs, body in reqs:
            path = urllib.parse.urlsplit(target).path
            f = self.take_fault("BATCHPART")
            if f is not None:
                st, b, h = f.get("status", 500), f.get("body"), f.get("headers")
            elif method != "PATCH" or not path.startswith("/api/data/v9.2/"):
                st, b, h = 404, err("0x80060888", "Resource not found for the segment"), None
            else:
                st, b, h = self.upsert(hdrs, path[len("/api/data/v9.2/"):], body)
            with self.lock:
                self.parts.append({"method": method, "path": path, "status": st,
                                   "if_match": hdrs.get("If-Match"),
                                   "if_none_match": hdrs.get("If-None-Match")})
            out.append((st, b, h))
            if st >= 400 and not go_on:
                break
        bd = "batchresponse_" + uuid.uuid4().hex
        chunks = []
        for st, b, h in out:
            lines = ["--" + bd, "Content-Type: application/http",
                     "Content-Transfer-Encoding: binary", "",
                     "HTTP/1.1 %d %s" % (st, http.client.responses.get(st, "Status")),
                     "OData-Version: 4.0"]
            for k, v in (h or {}).items():
                lines.append("%s: %s" % (k, v))
            if go_on:
                lines.append("Preference-Applied: odata.continue-on-error")
            if b is not None:
                lines.append("Content-Type: application/json; odata.metadata=minimal")
            lines.append("")
            lines.append("" if b is None else json.dumps(b))
            chunks.append("\r\n".join(lines))
        text = "\r\n".join(chunks) + "\r\n--" + bd + "--\r\n"
        return 200, text.encode(), {"Content-Type": "multipart/mixed; boundary=" + bd,
                                    "OData-Version": "4.0"}

    def upsert(self, headers, rest, raw):
        m = re.match(r"^leads\((\w+)='((?:[^']|'')*)'\)$", urllib.parse.unquote(rest))
        if not m:
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
        long = too_long(body)
        if long:
            return 400, err("0x80044331", "A validation error occurred. The length of the '%s' "
                            "attribute of the 'lead' entity exceeded the maximum allowed length "
                            "of '%d'." % long), None
        if body.get("leadqualitycode", 1) not in (1, 2, 3):
            return 400, err("0x80044331", "leadqualitycode: not a valid option"), None
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
