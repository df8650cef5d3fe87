#!/usr/bin/env python3
"""Marketo sink end to end: Azurite -> leadsync -> the loopback Marketo double
(tests/tools/crm_marketo.py) over TLS with a test CA. One lead per lead id,
updates, DNC as updateOnly with unsubscribe flags (never creating), the
validation lead skipped, 601/602 token refresh, 606/615 pauses, 607 stopping
the sink until the quota resets (across restarts), record-level 1xxx dead letters, and refused
credentials exiting 77 without leaking the secret."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import crmtest  # noqa: E402

SECRET = crmtest.MKTO_SECRET


class MarketoSink(crmtest.CrmCase):
    def start(self, *args):
        self.mk = self.crm("marketo", *args)
        return self.mk

    def calls(self):
        return [r for r in self.mk.requests() if r["path"] == "/rest/v1/leads.json"]

    def tokens(self):
        return [r for r in self.mk.requests() if r["path"] == "/identity/oauth/token"]

    def test_upsert_update_dnc_and_validation_lead(self):
        mk = self.start()
        self.run_once(crmtest.first_rows(5))
        toks = self.tokens()
        self.assertTrue(toks)
        for t in toks:  # the documented form: GET, credentials in the query string
            self.assertEqual(t["method"], "GET")
            self.assertIn("grant_type=client_credentials", t["query"])
        leads = mk.state()["leads"]
        self.assertEqual(sorted(leads), ["customer%06d@example.com" % i for i in range(5)],
                         "one lead per lead id; none for the DNC or the validation lead")
        for rec in leads.values():
            self.assertEqual(rec["updates"], 0)
            self.assertEqual(rec["lookupField"], "email")
            self.assertEqual(rec["fields"]["lastName"], "Lovelace")
            self.assertEqual(rec["fields"]["leadSource"], "Microsoft Marketplace")
        calls = self.calls()
        upserts = [c for c in calls if c["body"]["action"] == "createOrUpdate"]
        self.assertEqual(len(upserts), 1, "five leads in one call")
        self.assertEqual(len(upserts[0]["body"]["input"]), 5)
        dnc = [c for c in calls if c["body"]["action"] == "updateOnly"]
        self.assertEqual([i["email"] for c in dnc for i in c["body"]["input"]],
                         ["nobody@example.com"])
        self.assertTrue(all(c["auth"].startswith("Bearer ") for c in calls))
        self.assertNotIn(SECRET, str(calls), "the secret only goes to the identity service")
        self.assert_counts("marketo", 6, 0, 0)

        # Updates: lead 0 becomes active, lead 1 asks not to be contacted.
        self.run_once([crmtest.row(100, action="INS", email="customer000000@example.com"),
                       crmtest.row(101, action="DNC", email="customer000001@example.com")])
        leads = mk.state()["leads"]
        self.assertEqual(len(leads), 5)
        self.assertEqual(leads["customer000000@example.com"]["updates"], 1)
        self.assertEqual(leads["customer000000@example.com"]["fields"]["leadStatus"], "Customer")
        d = leads["customer000001@example.com"]
        self.assertEqual(d["updates"], 1)
        self.assertIs(d["fields"]["unsubscribed"], True)
        self.assertNotIn("marketingSuspended", d["fields"])
        # the DNC went as an update (the run's two calls may come in either order)
        self.assertIn(("updateOnly", ["customer000001@example.com"]),
                      [(c["body"]["action"], [i.get("email") for i in c["body"]["input"]])
                       for c in self.calls()[-2:]])
        self.assertEqual(mk.state()["overlaps"], 0)
        self.assertEqual(len(self.tokens()), 2, "one token per run")

        p = self.run_worker("check")
        self.assertIn("sink marketo: ok", p.stdout, p.stdout + p.stderr)

    def test_token_throttle_and_record_errors(self):
        mk = self.start()
        mk.faults([
            {"route": "CALL", "code": "606", "count": 1},
            {"route": "CALL", "code": "615", "count": 1},
            {"route": "CALL", "code": "602", "count": 1},
            {"route": "CALL", "code": "611", "count": 1},
            {"route": "RECORD", "match": "reject-me", "code": "1007", "count": 5},
        ])
        # Two offers of one person: two lead ids, one Marketo key.
        p = self.run_once(crmtest.rejected_and_second_offer(6))
        self.assertIn("paused", p.stderr)
        st = mk.state()
        self.assertEqual(len(st["leads"]), 6, "every lead but the rejected one")
        self.assertEqual(st["overlaps"], 0, "one key never twice at once")
        self.assertEqual(st["leads"]["customer000001@example.com"]["updates"], 1)
        self.assert_counts("marketo", 7, 1, 0)
        p = self.run_worker("status", check=0)
        self.assertIn("1007", p.stdout + p.stderr)
        self.assertEqual(len(self.tokens()), 2, "a new token after 602")
        first_ok = [c for c in self.calls() if c["status"] == 200]
        self.assertGreaterEqual(len(first_ok), 5)

    def test_daily_quota_stops_until_reset(self):
        mk = self.start()
        mk.faults([{"route": "CALL", "code": "607", "count": 1}])
        p = self.run_once([crmtest.row(i) for i in range(3)], check=75)
        self.assertIn("607", p.stderr)
        self.assertEqual(len(self.calls()), 1, "no call after 607")
        self.assertEqual(mk.state()["leads"], {})
        s = self.sink_stats("marketo")
        self.assertEqual(s["pending"], 3)
        # The pause is in the ledger (each delivery's next attempt is after
        # 00:00 CST): a restart does not call Marketo again before then.
        self.run_worker("run", "--once", check=75)
        self.assertEqual(len(self.calls()), 1, "no call after 607, across restarts")

    def test_refused_credentials_exit_77(self):
        mk = self.start()
        self.check_refused_then_fixed("marketo", {"LEADSYNC_MARKETO_CLIENT_SECRET":
                                                  "wrong-Secret-77"},
                                      lambda: len(mk.state()["leads"]))


if __name__ == "__main__":
    crmtest.lstest.main()
