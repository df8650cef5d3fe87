#!/usr/bin/env python3
"""Dynamics 365 / Dataverse sink end to end: Azurite -> leadsync -> the
loopback Entra + Dataverse double (tests/tools/crm_dynamics.py) over TLS
with a test CA.

One lead row per leadId through the alternate key, updates update it, the
stage column never goes back, DNC sets donotemail/donotphone/donotbulkemail
with If-Match: * and never creates, the validation lead is skipped, 429 with
Retry-After pauses the sink, an expired token is refreshed once, validation
errors become dead letters, refused credentials exit 77 naming the sink
without the secret, the certificate client assertion, `check` and
`send-test-lead`. A round of many leads goes out as OData $batch requests of
at most LEADSYNC_DYNAMICS_BATCH upserts: a refused part is that lead's dead
letter while the rest arrive, a whole-batch 429 retries the batch after
Retry-After, a whole-batch 400 falls back to one PATCH per lead."""

import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import crmtest  # noqa: E402
import lstest  # noqa: E402


class DynamicsSink(crmtest.CrmCase):
    def start(self, *args):
        d = self.crm("dynamics", *args)
        self.dv = d
        path = os.path.join(self.dir, "dv-mapping.json")
        with open(path, "w") as f:
            json.dump({"fields": {"new_stage": "stage"}}, f)
        self.env["LEADSYNC_DYNAMICS_MAPPING"] = path
        return d

    def patches(self):
        return [r for r in self.dv.requests() if r["method"] == "PATCH"]

    def batch_posts(self):
        return [r for r in self.dv.requests()
                if r["method"] == "POST" and r["path"] == "/api/data/v9.2/$batch"]

    def writes(self):
        """Every upsert, sent alone or inside a $batch: (status, If-Match)."""
        b = self.dv.call("/__batches")
        return [(r["status"], None) for r in self.patches()] + \
            [(p["status"], p["if_match"]) for p in b["parts"]]

    def test_upsert_update_stage_dnc_and_test_lead(self):
        dv = self.start()
        self.run_once(crmtest.first_rows(4))
        st = dv.state()
        self.assertEqual(len(st), 4, "one lead per leadId; none for DNC or the validation lead")
        for key, rec in st.items():
            self.assertRegex(key, "^[0-9a-f]{16}$")
            f = rec["fields"]
            self.assertEqual((f["lastname"], f["companyname"], f["leadsourcecode"]),
                             ("Lovelace", "Example Corp", 8))
            self.assertEqual(f["new_stage"], "initial-interest")
            self.assertTrue(f["subject"].startswith("Marketplace lead: "))
        # The double answers a PATCH with 404 only under If-Match: * (update only).
        dnc = [w for w in self.writes() if w[0] == 404]
        self.assertEqual(dnc, [(404, "*")], "the DNC lead was sent as an update-only PATCH")
        self.assertEqual(self.patches(), [], "six leads went out in one $batch")
        self.assertEqual(len(self.batch_posts()), 1)

        self.run_once([crmtest.row(100, action="INS", email="customer000000@example.com"),
                       crmtest.row(101, action="DNC", email="customer000001@example.com")])
        self.run_once([crmtest.row(102, action="PLT", email="customer000000@example.com")])
        st = dv.state()
        self.assertEqual(len(st), 4)
        stages = sorted(r["fields"]["new_stage"] for r in st.values())
        self.assertEqual(stages, ["active", "do-not-contact", "initial-interest",
                                  "initial-interest"])
        for rec in st.values():
            ranks = [crmtest.STAGE_RANK[h["new_stage"]] for h in rec["history"]]
            self.assertEqual(ranks, sorted(ranks), "stage went back")
            if rec["fields"]["new_stage"] == "active":
                self.assertIn("stage active", rec["fields"]["description"])
                self.assertNotIn("PLT", rec["fields"]["description"], "record went backwards")
                self.assertEqual(rec["fields"]["leadqualitycode"], 1)
            if rec["fields"]["new_stage"] == "do-not-contact":
                self.assertEqual([rec["fields"][k] for k in
                                  ("donotemail", "donotphone", "donotbulkemail")],
                                 [True, True, True])

        p = self.run_worker("check")
        self.assertIn("sink dynamics: ok", p.stdout, p.stdout + p.stderr)
        p = self.run_worker("send-test-lead", check=0)
        self.assertIn("delivered", p.stdout)
        self.assertEqual(len([k for k in dv.state() if k.startswith("test")]), 1)

    def test_utf16_limits_and_normalized_email(self):
        """lastname holds 50 UTF-16 code units: 49 letters and an emoji are
        cut to the letters; the e-mail goes out trimmed, domain lower-cased."""
        dv = self.start()
        self.run_once([crmtest.row(1, last="a" * 49 + "\U0001F600", email=" ZO.155@EXAMPLE.COM ")])
        s = self.sink_stats("dynamics")
        self.assertEqual((s["delivered"], s["dead"]), (1, 0))
        rec = list(dv.state().values())[0]["fields"]
        self.assertEqual(rec["lastname"], "a" * 49)
        self.assertEqual(rec["emailaddress1"], "ZO.155@example.com")

    def test_throttle_expiry_validation(self):
        dv = self.start()
        self.env["LEADSYNC_DYNAMICS_BATCH"] = "1"  # one PATCH per lead
        dv.faults([
            {"route": "^PATCH /api/data/", "status": 429, "count": 1,
             "headers": {"Retry-After": "1"},
             "body": {"error": {"code": "0x80072322", "message":
                                "Number of requests exceeded the limit of 6000 over time "
                                "window of 300 seconds."}}},
            {"route": "^PATCH /api/data/", "status": 401, "count": 1,
             "body": {"error": {"code": "0x80072243", "message": "ExpiredAuthTicket"}}},
            {"route": "^PATCH /api/data/", "status": 503, "count": 1, "body": "busy"},
        ])
        dv.validate("emailaddress1", "reject-me")
        rows = [crmtest.row(i) for i in range(4)]
        rows.append(crmtest.row(50, email="reject-me@example.com"))
        p = self.run_once(rows)
        st = dv.state()
        self.assertEqual(len(st), 4)
        self.assertTrue(all(r["updates"] == 0 for r in st.values()))
        self.assert_counts("dynamics", 4, 1, 0)
        reqs = dv.requests()
        tokens = [r for r in reqs if r["path"].endswith("/oauth2/v2.0/token")]
        self.assertEqual(len(tokens), 2, "one token, renewed once after the 401")
        pt = [r for r in reqs if r["method"] == "PATCH"]
        self.assertEqual([r["status"] for r in pt[:3]], [429, 401, 503])
        # the test backoff is at most 400 ms: a 1000 ms pause is the Retry-After
        self.assertIn("paused for 1000 ms", p.stderr, "Retry-After was obeyed")
        self.assertNotEqual(pt[1]["auth"], pt[2]["auth"])

        # A token that expires between runs is replaced on the 401.
        dv.expire()
        self.run_once([crmtest.row(60)])
        self.assertEqual(len(dv.state()), 5)

    def test_batches_partial_failure_and_throttling(self):
        dv = self.start()
        self.env["LEADSYNC_DYNAMICS_BATCH"] = "10"
        dv.validate("emailaddress1", "reject-me")
        dv.faults([
            {"route": "^POST /api/data/v9.2/\\$batch$", "status": 429, "count": 1,
             "headers": {"Retry-After": "1"},
             "body": {"error": {"code": "0x80072322", "message": "Number of requests "
                                "exceeded the limit of 6000 over time window of 300 seconds."}}},
            # one part of a later batch: a transient 503 for that lead alone
            {"route": "BATCHPART", "status": 503, "count": 1,
             "body": {"error": {"code": "0x80040216", "message": "busy"}}},
        ])
        rows = [crmtest.row(i) for i in range(25)]
        rows.append(crmtest.row(50, email="reject-me@example.com"))
        rows.append(crmtest.row(51, action="DNC", email="nobody@example.com"))
        p = self.run_once(rows)
        st = dv.state()
        self.assertEqual(len(st), 25, "one record per lead; none for the refused or DNC lead")
        self.assertTrue(all(r["updates"] == 0 for r in st.values()), "no lead written twice")
        self.assert_counts("dynamics", 26, 1, 0)
        status = self.status()
        dead = [d for d in status["deadLetters"] if d["sink"] == "dynamics"]
        self.assertEqual(len(dead), 1)
        self.assertEqual(dead[0]["lastStatus"], 400)
        self.assertIn("0x80044331", dead[0]["lastError"])

        posts = self.batch_posts()
        self.assertEqual(posts[0]["status"], 429)
        self.assertIn("paused for 1000 ms", p.stderr, "Retry-After was obeyed")
        b = dv.call("/__batches")
        # 27 leads in batches of at most 10 after the 429; the lead whose part
        # got a 503 goes again alone, as a plain PATCH.
        self.assertEqual(sorted(b["batches"]), [7, 10, 10], b["batches"])
        self.assertEqual(len(posts), 1 + 3)
        self.assertEqual([r["status"] for r in self.patches()], [204])
        statuses = sorted(p["status"] for p in b["parts"])
        self.assertEqual(statuses.count(400), 1)
        self.assertEqual(statuses.count(503), 1)
        self.assertEqual([p["if_match"] for p in b["parts"] if p["status"] == 404], ["*"])
        for p in b["parts"]:
            if p["if_match"] != "*":
                self.assertEqual(p["if_none_match"], "null")

        # A batch refused as a whole (400) falls back to one PATCH per lead.
        dv.faults([{"route": "^POST /api/data/v9.2/\\$batch$", "status": 400, "count": 1,
                    "body": {"error": {"code": "0x8006088a", "message": "batch too big"}}}])
        self.run_once([crmtest.row(i) for i in range(60, 64)])
        self.assertEqual(len(dv.state()), 29)
        self.assertEqual(len(self.patches()), 1 + 4)
        self.assert_counts("dynamics", 30, 1, 0)

    def test_batching_cuts_requests(self):
        """The same 40 leads with and without batching, counted at the double."""
        counts = {}
        self.put([crmtest.row(i) for i in range(40)])
        for batch in ("1", "100"):
            dv = self.start()  # a fresh double, and a fresh ledger reading the same table
            self.env["LEADSYNC_DYNAMICS_BATCH"] = batch
            self.env["LEADSYNC_STATE"] = os.path.join(self.dir, "ledger-%s.db" % batch)
            self.run_worker("run", "--once", check=0)
            self.assertEqual(len(dv.state()), 40)
            counts[batch] = len([r for r in dv.requests() if not r["path"].endswith("/token")])
        self.assertEqual(counts["1"], 40)
        self.assertEqual(counts["100"], 1)

    def test_refused_credentials_exit_77(self):
        dv = self.start()
        p = self.check_refused_then_fixed("dynamics", {"LEADSYNC_DYNAMICS_CLIENT_SECRET":
                                                       "Wrong-dv-secret"},
                                          lambda: len(dv.state()))
        self.assertIn("AADSTS7000215", p.stderr)

    def test_certificate_assertion(self):
        dv = self.start("--client-cert", self.pki["client_cert"], "--client-pub",
                        self.pki["client_pub"])
        env = {"LEADSYNC_DYNAMICS_CLIENT_SECRET": "",
               "LEADSYNC_DYNAMICS_CERTIFICATE_FILE": self.pki["client_cert"],
               "LEADSYNC_DYNAMICS_PRIVATE_KEY_FILE": self.pki["client_key"]}
        self.put([crmtest.row(i, last="") for i in range(2)])
        self.run_worker("run", "--once", env=env, check=0)
        st = dv.state()
        self.assertEqual(len(st), 2)
        self.assertTrue(all(r["fields"]["lastname"] == "[not provided]" for r in st.values()))
        tok = [r for r in dv.requests() if r["path"].endswith("/token")]
        self.assertIn("client_assertion", tok[0]["body"])
        self.assertNotIn("client_secret", tok[0]["body"])


if __name__ == "__main__":
    lstest.main()
