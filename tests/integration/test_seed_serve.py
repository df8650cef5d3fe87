#!/usr/bin/env python3
"""`leadsync-seed serve N` (the benchmarks' loopback table service) against
Azurite holding the same rows from `leadsync-seed bulk N`: the same entities
in the same order, the same pages and continuation tokens, $filter/$select and
the metadata levels as the service answers them, and leadsync's JSONL from
both tables equal but for the rows' Timestamps. A few seconds; needs
LEADSYNC_TEST_AZURITE."""
import json
import os
import subprocess
import sys
import tempfile
import unittest
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import aztable  # noqa: E402
import lstest  # noqa: E402

N, PARTITIONS, SEED = 1200, 3, 7


class SeedServe(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="seed-serve.")
        suffix = os.urandom(4).hex()
        cls.az_table = "SeedServeAz" + suffix
        cls.sv_table = "SeedServeSv" + suffix
        cls.load = ["--partitions", str(PARTITIONS), "--seed", str(SEED)]
        subprocess.run([lstest.seeder(), "--table", cls.az_table, "bulk", str(N), *cls.load],
                       env=dict(os.environ, LEADSYNC_CONNECTION_STRING=lstest.azurite()),
                       check=True, stdout=subprocess.DEVNULL)
        cls.server = subprocess.Popen([lstest.seeder(), "--table", cls.sv_table, "serve", str(N),
                                       *cls.load], stdout=subprocess.PIPE, text=True)
        cls.conn = cls.server.stdout.readline().strip()
        if "TableEndpoint=http://127.0.0.1:" not in cls.conn:
            raise RuntimeError("serve printed no connection string: %r" % cls.conn)
        cls.az = aztable.Table(lstest.azurite(), cls.az_table)
        cls.sv = aztable.Table(cls.conn, cls.sv_table)

    @classmethod
    def tearDownClass(cls):
        lstest.stop_process(cls.server)

    def get(self, table, query, accept="application/json;odata=minimalmetadata"):
        status, headers, body = table._request(
            "GET", "/%s()" % table.table, headers={"Accept": accept},
            query=urllib.parse.urlencode(query, quote_via=urllib.parse.quote))
        return status, {k.lower(): v for k, v in headers.items()}, body

    @staticmethod
    def strip(entities):
        return [{k: v for k, v in e.items() if k not in ("Timestamp", "odata.etag")}
                for e in entities]

    def test_same_entities_in_the_same_order(self):
        served = self.sv.query()
        self.assertEqual(len(served), N)
        self.assertEqual(self.strip(served), self.strip(self.az.query()))
        stamps = [e["Timestamp"] for e in served]
        self.assertEqual(len(set(stamps)), N, "every row has its own Timestamp")
        for e in served[:5]:
            self.assertEqual(e["odata.etag"],
                             "W/\"datetime'%s'\"" % e["Timestamp"].replace(":", "%3A"))

    def test_pages_and_continuation_tokens_as_azurite(self):
        pages = []
        for table in (self.az, self.sv):
            status, h, body = self.get(table, {"$top": "1000"})
            self.assertEqual(status, 200)
            pk, rk = h["x-ms-continuation-nextpartitionkey"], h["x-ms-continuation-nextrowkey"]
            self.assertEqual(len(json.loads(body)["value"]), 1000)
            status, h, body = self.get(table, {"$top": "1000", "NextPartitionKey": pk,
                                               "NextRowKey": rk})
            self.assertEqual(status, 200)
            self.assertNotIn("x-ms-continuation-nextpartitionkey", h)
            pages.append((pk, rk, len(json.loads(body)["value"])))
        self.assertEqual(pages[0], pages[1])
        self.assertEqual(pages[1][2], N - 1000)

    def test_filter_select_and_metadata(self):
        served = self.sv.query()
        stamps = sorted(e["Timestamp"] for e in served)
        newer = self.sv.query("Timestamp ge datetime'%s'" % stamps[100])
        self.assertEqual(len(newer), N - 100)
        pk = served[0]["PartitionKey"]
        part = self.sv.query("PartitionKey eq '%s' and Timestamp lt datetime'%s'" % (pk, stamps[-1]))
        self.assertEqual(len(part), sum(1 for e in served if e["PartitionKey"] == pk
                                        and e["Timestamp"] < stamps[-1]))
        status, h, body = self.get(self.sv, {"$filter": "PartitionKey eq '' and RowKey eq ''",
                                             "$select": "PartitionKey", "$top": "1"},
                                   "application/json;odata=nometadata")
        self.assertEqual((status, json.loads(body)), (200, {"value": []}))
        status, h, body = self.get(self.sv, {"$select": "RowKey,Timestamp", "$top": "2"},
                                   "application/json;odata=nometadata")
        self.assertEqual(h["content-type"], "application/json;odata=nometadata")
        self.assertEqual([sorted(e) for e in json.loads(body)["value"]],
                         [["RowKey", "Timestamp"]] * 2)
        status, h, body = self.get(self.sv, {"$top": "1"}, "application/json;odata=fullmetadata")
        e = json.loads(body)["value"][0]
        self.assertEqual(e["Timestamp@odata.type"], "Edm.DateTime")
        self.assertIn("odata.id", e)
        status, h, body = self.get(self.sv, {"$filter": "Email eq 'x'"})
        self.assertEqual((status, h.get("x-ms-error-code")), (501, "NotImplemented"))
        status, h, body = self.get(self.sv, {"$top": "1"}, "application/atom+xml")
        self.assertEqual(status, 415)

    def sync(self, conn, table, name):
        d = os.path.join(self.tmp, name)
        os.makedirs(d)
        env = {k: v for k, v in os.environ.items() if not k.startswith("LEADSYNC_")}
        env.update(LEADSYNC_CONNECTION_STRING=conn, LEADSYNC_TABLE=table,
                   LEADSYNC_STATE=os.path.join(d, "ledger.db"), LEADSYNC_SETTLE_SECONDS="0",
                   LEADSYNC_SINKS="jsonl:" + os.path.join(d, "leads.jsonl"))
        subprocess.run([lstest.binary(), "run", "--once"], env=env, check=True,
                       capture_output=True)
        lines = []
        with open(os.path.join(d, "leads.jsonl")) as f:
            for line in f:
                body = json.loads(line)
                del body["lead"]["timestamp"]
                lines.append(json.dumps(body, sort_keys=True))
        return sorted(lines)

    def test_leadsync_writes_the_same_leads_from_both(self):
        lstest.settle()
        from_azurite = self.sync(lstest.azurite(), self.az_table, "az")
        from_server = self.sync(self.conn, self.sv_table, "sv")
        self.assertEqual(len(from_server), N)
        self.assertEqual(from_server, from_azurite)


if __name__ == "__main__":
    lstest.main()
