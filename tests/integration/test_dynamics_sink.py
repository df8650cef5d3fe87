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
`send-test-lead`."""

import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import crmtest  # noqa: E402
import lstest  # noqa: E402

SECRET = "dv-Secret~value.42"


class DynamicsSink(crmtest.CrmCase):
    def start(self, *args):
        d = self.double("crm_dynamics.py", ["--client-secret", SECRET] + list(args))
        self.dv = d
        path = os.path.join(self.dir, "dv-mapping.json")
        with open(path, "w") as f:
            json.dump({"fields": {"new_stage": "stage"}}, f)
        self.env.update({
            "LEADSYNC_SINKS": "dynamics",
            "LEADSYNC_DYNAMICS_URL": d.url,
            "LEADSYNC_DYNAMICS_AUTHORITY_URL": d.url,
            "LEADSYNC_DYNAMICS_TENANT_ID": "tenant-1",
            "LEADSYNC_DYNAMICS_CLIENT_ID": "cid",
            "LEADSYNC_DYNAMICS_CLIENT_SECRET": SECRET,
            "LEADSYNC_DYNAMICS_CA_FILE": self.pki["ca"],
            "LEADSYNC_DYNAMICS_MAPPING": path,
        })
        return d

    def patches(self):
        return [r for r in self.dv.requests() if r["method"] == "PATCH"]

    def test_upsert_update_stage_dnc_and_test_lead(self):
        dv = self.start()
        rows = [crmtest.row(i) for i in range(4)]
        rows.append(crmtest.row(90, first="MSFT_TEST_636573304831318844"))
        rows.append(crmtest.row(91, action="DNC", email="nobody@example.com"))
        self.put(rows)
        p = self.run_worker("run", "--once", check=0)
        self.assertNotIn(SECRET, p.stdout + p.stderr)
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
        dnc = [r for r in self.patches() if r["status"] == 404]
        self.assertEqual(len(dnc), 1, "the DNC lead was sent as an update-only PATCH")

        self.put([crmtest.row(100, action="INS", email="customer000000@example.com"),
                  crmtest.row(101, action="DNC", email="customer000001@example.com")])
        self.run_worker("run", "--once", check=0)
        self.put([crmtest.row(102, action="PLT", email="customer000000@example.com")])
        self.run_worker("run", "--once", check=0)
        st = dv.state()
        self.assertEqual(len(st), 4)
        stages = sorted(r["fields"]["new_stage"] for r in st.values())
        self.assertEqual(stages, ["active", "do-not-contact", "initial-interest",
                                  "initial-interest"])
        for rec in st.values():
            ranks = [crmtest.STAGE_RANK[h["new_stage"]] for h in rec["history"]]
            self.assertEqual(ranks, sorted(ranks), "stage went back")
            if rec["fields"]["new_stage"] == "do-not-contact":
                self.assertEqual([rec["fields"][k] for k in
                                  ("donotemail", "donotphone", "donotbulkemail")],
                                 [True, True, True])

        p = self.run_worker("check")
        self.assertIn("sink dynamics: ok", p.stdout, p.stdout + p.stderr)
        p = self.run_worker("send-test-lead", check=0)
        self.assertIn("delivered", p.stdout)
        self.assertEqual(len([k for k in dv.state() if k.startswith("test")]), 1)

    def test_throttle_expiry_validation(self):
        dv = self.start()
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
        self.put(rows)
        p = self.run_worker("run", "--once", check=0)
        self.assertNotIn(SECRET, p.stdout + p.stderr)
        st = dv.state()
        self.assertEqual(len(st), 4)
        self.assertTrue(all(r["updates"] == 0 for r in st.values()))
        s = self.sink_stats("dynamics")
        self.assertEqual((s["delivered"], s["dead"], s["pending"]), (4, 1, 0))
        reqs = dv.requests()
        tokens = [r for r in reqs if r["path"].endswith("/oauth2/v2.0/token")]
        self.assertEqual(len(tokens), 2, "one token, renewed once after the 401")
        pt = [r for r in reqs if r["method"] == "PATCH"]
        self.assertEqual([r["status"] for r in pt[:3]], [429, 401, 503])
        self.assertGreaterEqual(pt[1]["t"] - pt[0]["t"], 0.9, "Retry-After was obeyed")
        self.assertNotEqual(pt[1]["auth"], pt[2]["auth"])

        # A token that expires between runs is replaced on the 401.
        dv.expire()
        self.put([crmtest.row(60)])
        self.run_worker("run", "--once", check=0)
        self.assertEqual(len(dv.state()), 5)

    def test_refused_credentials_exit_77(self):
        dv = self.start()
        self.put([crmtest.row(i) for i in range(2)])
        bad = {"LEADSYNC_DYNAMICS_CLIENT_SECRET": "Wrong-dv-secret"}
        p = self.run_worker("run", "--once", env=bad, check=77)
        self.assertIn("dynamics", p.stderr)
        self.assertIn("AADSTS7000215", p.stderr)
        self.assertNotIn("Wrong-dv-secret", p.stdout + p.stderr)
        p = self.run_worker("check", env=bad, check=77)
        self.assertIn("sink dynamics: FAILED", p.stdout)
        self.assertEqual(dv.state(), {})
        self.run_worker("run", "--once", check=0)
        self.assertEqual(len(dv.state()), 2)

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
