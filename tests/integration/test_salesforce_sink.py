#!/usr/bin/env python3
"""Salesforce sink end to end: Azurite -> leadsync -> the loopback Salesforce
double (tests/tools/crm_salesforce.py) over TLS with a test CA.

One Lead per leadId (Collections upserts keyed on the external ID), updates
update it, the stage field never goes back, DNC sets the opt-out flags on an
existing Lead and never creates one, the validation lead is skipped,
REQUEST_LIMIT_EXCEEDED pauses the sink, an expired session is refreshed once,
per-record failures become dead letters while the rest go through, refused
credentials exit 77 naming the sink without the secret, the JWT bearer flow,
`check` and `send-test-lead`, an http instance_url refused. The last
Sforce-Limit-Info api-usage shows in `status` and as /metrics gauges."""

import json
import os
import re
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import crmtest  # noqa: E402
import lstest  # noqa: E402

EXT = "Marketplace_Lead_Id__c"


class SalesforceSink(crmtest.CrmCase):
    def start(self, *args, mapping=True):
        d = self.crm("salesforce", "--custom-field", "Marketplace_Stage__c", *args)
        self.sf = d
        if mapping:
            path = os.path.join(self.dir, "sf-mapping.json")
            with open(path, "w") as f:
                json.dump({"fields": {"Marketplace_Stage__c": "stage"}}, f)
            self.env["LEADSYNC_SALESFORCE_MAPPING"] = path
        return d

    def api(self, method=None, sub=""):
        return [r for r in self.sf.requests() if r["path"].startswith("/services/data/")
                and (method is None or r["method"] == method) and sub in r["path"]]

    def test_upsert_update_stage_dnc_and_test_lead(self):
        sf = self.start()
        self.run_once(crmtest.first_rows(5))
        st = sf.state()
        self.assertEqual(len(st), 5, "one Lead per lead, none for the DNC or validation lead")
        for ext, rec in st.items():
            self.assertRegex(ext, "^[0-9a-f]{16}$")
            self.assertEqual(rec["updates"], 0)
            self.assertEqual(rec["fields"]["Marketplace_Stage__c"], "initial-interest")
            self.assertEqual(rec["fields"]["LastName"], "Lovelace")
            self.assertEqual(rec["fields"]["Company"], "Example Corp")
        self.assertTrue(self.api("PATCH", "/composite/sobjects/Lead/" + EXT),
                        "several leads go out as one Collections upsert")
        self.assertTrue(self.api("GET", "/sobjects/Lead/%s/" % EXT), "DNC looks up first")

        # Updates: lead 0 becomes active, lead 1 asks not to be contacted.
        self.run_once([crmtest.row(100, action="INS", email="customer000000@example.com"),
                       crmtest.row(101, action="DNC", email="customer000001@example.com")])
        st = sf.state()
        self.assertEqual(len(st), 5)
        stages = sorted(r["fields"]["Marketplace_Stage__c"] for r in st.values())
        self.assertEqual(stages, ["active", "do-not-contact"] + ["initial-interest"] * 3)
        dnc = [r for r in st.values() if r["fields"]["Marketplace_Stage__c"] == "do-not-contact"]
        self.assertIs(dnc[0]["fields"]["HasOptedOutOfEmail"], True)
        self.assertIs(dnc[0]["fields"]["DoNotCall"], True)

        # A later "Contact me" of the active lead does not take it back.
        self.run_once([crmtest.row(102, action="PLT", email="customer000000@example.com")])
        st = sf.state()
        self.assertEqual(len(st), 5)
        for rec in st.values():
            seen = [h["Marketplace_Stage__c"] for h in rec["history"]
                    if "Marketplace_Stage__c" in h]
            ranks = [crmtest.STAGE_RANK[s] for s in seen]
            self.assertEqual(ranks, sorted(ranks), "stage went back: %s" % seen)
        self.assertIn("active", stages)
        act = [r for r in st.values() if r["fields"]["Marketplace_Stage__c"] == "active"][0]
        self.assertIn("stage active", act["fields"]["Description"])
        self.assertNotIn("PLT", act["fields"]["Description"], "the record went backwards")
        self.assertEqual(act["fields"]["Rating"], "Hot")

        p = self.run_worker("check")
        self.assertIn("sink salesforce: ok", p.stdout, p.stdout + p.stderr)
        before = len(self.api())
        self.run_worker("check", check=0)
        self.assertFalse([r for r in self.api()[before:] if r["method"] != "GET"],
                         "check writes nothing")
        p = self.run_worker("send-test-lead", check=0)
        self.assertIn("delivered", p.stdout)
        st = sf.state()
        self.assertEqual(len(st), 6)
        test = [r for k, r in st.items() if k.startswith("test")]
        self.assertEqual(test[0]["fields"]["Company"], "leadsync test")

    def test_utf16_limits_and_normalized_email(self):
        """LastName holds 80 UTF-16 code units: 79 letters and an emoji (2
        units) are cut to the 79 letters, never half an emoji; the e-mail goes
        out trimmed with its domain lower-cased."""
        sf = self.start()
        self.run_once([crmtest.row(1, last="a" * 79 + "\U0001F600", email=" ZO.155@EXAMPLE.COM "),
                       crmtest.row(2, last="b" * 78 + "\U0001F600")])
        s = self.sink_stats("salesforce")
        self.assertEqual((s["delivered"], s["dead"]), (2, 0))
        names = sorted(r["fields"]["LastName"] for r in sf.state().values())
        self.assertEqual(names, ["a" * 79, "b" * 78 + "\U0001F600"])
        emails = [r["fields"]["Email"] for r in sf.state().values()]
        self.assertIn("ZO.155@example.com", emails)

    def test_daily_limit_across_runs_dead_letters_nothing(self):
        """The org's daily API limit stays exhausted through several
        CronJob-style runs (3 attempts allowed): a throttled answer is no
        attempt, the pause is kept in the ledger and `status` says until when
        and why; nothing becomes a dead letter, and once the limit resets the
        next run delivers every lead exactly once."""
        sf = self.start()
        limit = {"route": "^PATCH .*/sobjects/", "status": 403, "count": 1000,
                 "body": [{"message": "TotalRequests Limit exceeded.",
                           "errorCode": "REQUEST_LIMIT_EXCEEDED"}]}
        sf.faults([limit])
        self.put([crmtest.row(i) for i in range(3)])
        env = {"LEADSYNC_DELIVERY_MAX_ATTEMPTS": "3", "LEADSYNC_ONCE_MAX_WAIT_SECONDS": "2",
               "LEADSYNC_SALESFORCE_LIMIT_PAUSE_SECONDS": "4"}
        for _ in range(5):
            p = self.run_worker("run", "--once", env=env, check=75)
            s = self.sink_stats("salesforce")
            self.assertEqual((s["dead"], s["pending"]), (0, 3), p.stderr[-2000:])
            time.sleep(1)
        self.assertGreaterEqual(len(self.api("PATCH")), 2, "the limit was probed again")
        p = self.run_worker("run", "--once", env=env, check=75)
        s = self.sink_stats("salesforce")
        self.assertIn("REQUEST_LIMIT_EXCEEDED", s["paused"]["reason"])
        self.assertRegex(s["paused"]["until"], "^20[0-9-]+T")
        p = self.run_worker("status", check=0)
        self.assertRegex(p.stdout, "paused until .*Limit exceeded")
        self.assertEqual(sf.state(), {})
        sf.call("/__reset", {})
        env["LEADSYNC_ONCE_MAX_WAIT_SECONDS"] = "30"
        self.run_worker("run", "--once", env=env, check=0)
        st = sf.state()
        self.assertEqual(len(st), 3)
        self.assertTrue(all(r["updates"] == 0 for r in st.values()))
        s = self.assert_counts("salesforce", 3, 0, 0)
        self.assertNotIn("paused", s)

    def test_limit_pause_grows_across_runs(self):
        """REQUEST_LIMIT_EXCEEDED in three CronJob-style runs, each a new
        process that tries once after the last pause ended: the sink's own
        pause doubles from the streak the ledger keeps (1 s, 2 s, 4 s), not
        from a count that a new process starts again at zero."""
        sf = self.start()
        sf.faults([{"route": "^PATCH .*/sobjects/", "status": 403, "count": 1000,
                    "body": [{"message": "TotalRequests Limit exceeded.",
                              "errorCode": "REQUEST_LIMIT_EXCEEDED"}]}])
        self.put([crmtest.row(i) for i in range(2)])
        env = {"LEADSYNC_ONCE_MAX_WAIT_SECONDS": "0"}
        seen = []
        for want in (1, 2, 4):
            p = self.run_worker("run", "--once", env=env, check=75)
            m = re.findall(r"API request limit exceeded \(.*\): pausing (\d+) s", p.stderr)
            self.assertEqual(len(m), 1, p.stderr[-2000:])
            seen.append(int(m[0]))
            time.sleep(want + 0.5)  # the pause is over: the next run tries again
        self.assertEqual(seen, [1, 2, 4])
        self.assertEqual(self.sink_stats("salesforce")["dead"], 0)

    def test_throttle_session_and_partial_failures(self):
        sf = self.start()
        sf.faults([
            {"route": "^PATCH .*/composite/", "status": 403, "count": 1,
             "body": [{"message": "TotalRequests Limit exceeded.",
                       "errorCode": "REQUEST_LIMIT_EXCEEDED"}]},
            {"route": "^PATCH .*/composite/", "status": 401, "count": 1,
             "body": [{"message": "Session expired or invalid",
                       "errorCode": "INVALID_SESSION_ID"}]},
            {"route": "^PATCH .*/composite/", "status": 503, "count": 1, "body": "busy"},
            {"route": "RECORD", "code": "UNABLE_TO_LOCK_ROW", "count": 1},
        ])
        sf.validate("Email", "reject-me")
        rows = [crmtest.row(i) for i in range(6)]
        rows.append(crmtest.row(50, email="reject-me@example.com"))
        p = self.run_once(rows, env={"LEADSYNC_LOG_LEVEL": "debug"})
        self.assertIn("Sforce-Limit-Info: api-usage=", p.stderr)
        st = sf.state()
        self.assertEqual(len(st), 6, "every lead but the rejected one")
        self.assertTrue(all(r["updates"] == 0 for r in st.values()), "no duplicate upserts")
        self.assert_counts("salesforce", 6, 1, 0)
        p = self.run_worker("status", check=0)
        self.assertIn("FIELD_CUSTOM_VALIDATION_EXCEPTION", p.stdout + p.stderr)

        reqs = sf.requests()
        tokens = [r for r in reqs if r["path"] == "/services/oauth2/token"]
        self.assertEqual(len(tokens), 2, "one token, refreshed once after INVALID_SESSION_ID")
        comp = [r for r in reqs if "/composite/" in r["path"]]
        # 403 limit, then (after the pause) 401, the same call with a new token: 503, then OK
        self.assertEqual([r["status"] for r in comp[:4]], [403, 401, 503, 200])
        self.assertGreaterEqual(comp[1]["t"] - comp[0]["t"], 0.9,
                                "the sink paused after REQUEST_LIMIT_EXCEEDED")
        self.assertNotEqual(comp[1]["auth"], comp[2]["auth"], "a new token after the refresh")

    def test_api_usage_in_status_and_metrics(self):
        sf = self.start()
        url, pushes = self.pushgateway()
        self.assertNotIn("apiUsage", json.dumps(self.status()), "nothing seen yet")
        self.run_once([crmtest.row(i) for i in range(3)], env={"LEADSYNC_PUSHGATEWAY_URL": url})
        self.assertEqual(len(sf.state()), 3)
        # The double counts every request in its header: the last answer's count.
        used = len(sf.requests())
        self.assertGreaterEqual(used, 2)
        u = self.sink_stats("salesforce")["apiUsage"]
        self.assertEqual((u["used"], u["limit"]), (used, 100000))
        p = self.run_worker("status", check=0)
        self.assertIn("API usage %d of 100000" % used, p.stdout)
        self.assertEqual(len(pushes), 1)
        pushed = pushes[0][2]
        m = re.search(r'^leadsync_sink_api_usage\{sink="salesforce"\} (\S+)$', pushed, re.M)
        self.assertIsNotNone(m, pushed)
        self.assertEqual(float(m.group(1)), used)
        m = re.search(r'^leadsync_sink_api_limit\{sink="salesforce"\} (\S+)$', pushed, re.M)
        self.assertEqual(float(m.group(1)), 100000)

        # A later run moves it on.
        self.run_once([crmtest.row(10)])
        self.assertEqual(self.sink_stats("salesforce")["apiUsage"]["used"], len(sf.requests()))
        self.assertGreater(len(sf.requests()), used)

    def test_refused_credentials_exit_77(self):
        sf = self.start()
        # Fixed credentials deliver what waited.
        self.check_refused_then_fixed("salesforce", {"LEADSYNC_SALESFORCE_CLIENT_SECRET":
                                                     "wrong-Secret-77"},
                                      lambda: len(sf.state()), n=3)

    def test_instance_url_must_be_https(self):
        # The bearer token goes wherever the token answer's instance_url points:
        # a plain-http, non-loopback one is refused before any API call (78).
        sf = self.start("--instance-url", "http://crm.example.com")
        p = self.run_once([crmtest.row(i) for i in range(2)], check=78)
        self.assertIn("instance_url", p.stderr)
        self.assertEqual(self.api(), [])
        self.assertEqual(sf.state(), {})

    def test_jwt_bearer_single_requests(self):
        aud = "https://login.example.test"
        sf = self.start("--jwt-pubkey", self.pki["client_pub"], "--audience", aud,
                        "--username", "int@example.com")
        env = {"LEADSYNC_SALESFORCE_AUTH": "jwt", "LEADSYNC_SALESFORCE_CLIENT_SECRET": "",
               "LEADSYNC_SALESFORCE_USERNAME": "int@example.com",
               "LEADSYNC_SALESFORCE_PRIVATE_KEY_FILE": self.pki["client_key"],
               "LEADSYNC_SALESFORCE_AUDIENCE": aud, "LEADSYNC_SALESFORCE_BATCH": "1"}
        self.put([crmtest.row(i, last="", first="") for i in range(3)])
        self.run_worker("run", "--once", env=env, check=0)
        st = sf.state()
        self.assertEqual(len(st), 3)
        for rec in st.values():
            self.assertEqual(rec["fields"]["LastName"], "[not provided]")
        self.assertFalse(self.api(sub="/composite/"), "batch size 1: single upserts")
        self.assertEqual(len(self.api("PATCH", "/sobjects/Lead/" + EXT + "/")), 3)
        # A wrong user is refused: exit 77.
        env["LEADSYNC_SALESFORCE_USERNAME"] = "other@example.com"
        self.put([crmtest.row(9)])
        p = self.run_worker("run", "--once", env=env, check=77)
        self.assertIn("salesforce", p.stderr)


if __name__ == "__main__":
    lstest.main()
