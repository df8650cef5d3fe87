"""aztable.py - a minimal Azure Table client for the Python tests (stdlib only).

Writes and reads entities on Azurite with SharedKey (Table format), so tests
can set up rows the worker must find without going through leadsync's own
client. Not a general client: connection strings with AccountKey and a
TableEndpoint only.
"""

import base64
import hashlib
import hmac
import json
import urllib.parse
import uuid
from email.utils import formatdate
from http.client import HTTPConnection


def parse_connection_string(s):
    out = {}
    for part in s.split(";"):
        part = part.strip()
        if not part or "=" not in part:
            continue
        k, v = part.split("=", 1)
        out[k.strip().lower()] = v.strip()
    return out


class Table:
    def __init__(self, connection_string, table):
        cs = parse_connection_string(connection_string)
        self.account = cs["accountname"]
        self.key = base64.b64decode(cs["accountkey"])
        endpoint = urllib.parse.urlparse(cs["tableendpoint"].rstrip("/"))
        self.host = endpoint.hostname
        self.port = endpoint.port
        self.base_path = endpoint.path  # "/devstoreaccount1" on Azurite
        self.table = table

    def _request(self, verb, path, body=None, headers=None, query=""):
        full = self.base_path + path
        date = formatdate(usegmt=True)
        ctype = "application/json" if body is not None else ""
        sts = "\n".join([verb, "", ctype, date, "/" + self.account + full])
        sig = base64.b64encode(hmac.new(self.key, sts.encode(), hashlib.sha256).digest()).decode()
        h = {
            "x-ms-date": date,
            "x-ms-version": "2019-02-02",
            "Accept": "application/json;odata=minimalmetadata",
            "DataServiceVersion": "3.0",
            "MaxDataServiceVersion": "3.0;NetFx",
            "Authorization": "SharedKey %s:%s" % (self.account, sig),
        }
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            h["Content-Type"] = ctype
        if headers:
            h.update(headers)
        conn = HTTPConnection(self.host, self.port, timeout=30)
        try:
            conn.request(verb, full + (("?" + query) if query else ""), body=data, headers=h)
            resp = conn.getresponse()
            payload = resp.read()
            return resp.status, dict(resp.getheaders()), payload
        finally:
            conn.close()

    def create(self):
        status, _, body = self._request(
            "POST", "/Tables", {"TableName": self.table}, {"Prefer": "return-no-content"}
        )
        if status not in (201, 204, 409):
            raise RuntimeError("create table: %d %s" % (status, body[:200]))

    @staticmethod
    def _key(s):
        return urllib.parse.quote(s.replace("'", "''"), safe="")

    def upsert(self, entity):
        path = "/%s(PartitionKey='%s',RowKey='%s')" % (
            self.table,
            self._key(entity["PartitionKey"]),
            self._key(entity["RowKey"]),
        )
        status, headers, body = self._request("PUT", path, entity)
        if status != 204:
            raise RuntimeError("upsert: %d %s" % (status, body[:200]))
        return headers

    def query(self, flt=None):
        """Every entity (follows continuation)."""
        out = []
        nxt = None
        while True:
            q = {"$top": "1000"}
            if flt:
                q["$filter"] = flt
            if nxt:
                q["NextPartitionKey"] = nxt[0]
                if nxt[1]:
                    q["NextRowKey"] = nxt[1]
            status, headers, body = self._request(
                "GET", "/%s()" % self.table, query=urllib.parse.urlencode(q, quote_via=urllib.parse.quote)
            )
            if status != 200:
                raise RuntimeError("query: %d %s" % (status, body[:200]))
            out.extend(json.loads(body)["value"])
            lower = {k.lower(): v for k, v in headers.items()}
            npk = lower.get("x-ms-continuation-nextpartitionkey")
            if not npk:
                return out
            nxt = (npk, lower.get("x-ms-continuation-nextrowkey"))


def marketplace_row(pk, rk, email, action="PLT", source="SPZA", offer="contoso.crm-connector",
                    first="Ada", last="Lovelace", description=""):
    """A row as the marketplace writes it (CustomerInfo is a JSON string)."""
    return {
        "PartitionKey": pk,
        "RowKey": rk,
        "ActionCode": action,
        "CreatedTime": "11/24/2026 2:03:34 AM",
        "CustomerInfo": json.dumps(
            {
                "FirstName": first,
                "LastName": last,
                "Email": email,
                "Phone": "+1 555 0100",
                "Country": "US",
                "Company": "Example Corp",
                "Title": "CTO",
            }
        ),
        "Description": description,
        "LeadSource": "%s-%s|%s" % (source, action, offer),
        "OfferDisplayName": "Contoso CRM Connector",
    }


def new_row_key():
    return str(uuid.uuid4())
