#!/usr/bin/env python3
"""HubSpot sink end to end: Azurite -> leadsync -> the loopback HubSpot double
(tests/tools/crm_hubspot.py) over TLS with a test CA. One contact per lead
id, updates, DNC as batch/update with the opt-out property (never creating),
the validation lead skipped, 429 ten-secondly (Retry-After) and DAILY, 423,
477 with Retry-After, 502, 207 partial success into dead letters, and a
revoked token (401) exiting 77 without retries or leaked secrets."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import aztable  # noqa: E402
import crmtest  # noqa: E402

TOKEN = crmtest.HS_TOKEN
UPSERT = "POST .*/batch/upsert"


class HubSpotSink(crmtest.CrmCase):
    def start(self, *args):
        self.hs = self.crm("hubspot", *args)
        return self.hs

    def calls(self, sub="/batch/"):
        return [r for r in self.hs.requests() if sub in r["path"]]

    def test_upsert_update_dnc_and_validation_lead(self):
        hs = self.start()
        self.run_once(crmtest.first_rows(5))
        c = hs.state()["contacts"]
        self.assertEqual(sorted(c), ["email:customer%06d@example.com" % i for i in range(5)])
        for rec in c.values():
            self.assertEqual(rec["updates"], 0)
            self.assertEqual(rec["properties"]["lifecyclestage"], "lead")
            self.assertEqual(rec["properties"]["jobtitle"], "CTO")
        ups = self.calls("/batch/upsert")
        self.assertEqual(len(ups), 1)
        self.assertEqual(len(ups[0]["body"]["inputs"]), 5)
        self.assertEqual({i["idProperty"] for i in ups[0]["body"]["inputs"]}, {"email"})
        upd = self.calls("/batch/update")
        self.assertEqual([i["id"] for r in upd for i in r["body"]["inputs"]],
                         ["nobody@example.com"], "DNC only updates")
        self.assert_counts("hubspot", 6, 0, 0)

        self.run_once([crmtest.row(100, action="INS", email="customer000000@example.com"),
                       crmtest.row(101, action="DNC", email="customer000001@example.com")])
        c = hs.state()["contacts"]
        self.assertEqual(len(c), 5)
        self.assertEqual(c["email:customer000000@example.com"]["properties"]["lifecyclestage"],
                         "customer")
        d = c["email:customer000001@example.com"]
        self.assertNotIn("hs_email_optout", d["properties"], "read-only: never written")
        self.assertEqual(d["updates"], 1)
        # Opted out through the subscription preferences API; the unknown
        # address too, without a contact being created for it.
        self.assertEqual(sorted(hs.state()["optouts"]),
                         ["customer000001@example.com", "nobody@example.com"])

        p = self.run_worker("check")
        self.assertIn("sink hubspot: ok", p.stdout, p.stdout + p.stderr)

    def test_throttling_and_partial_failures(self):
        hs = self.start()
        hs.faults([
            {"route": UPSERT, "status": 429, "headers": {"Retry-After": "1"}, "count": 1,
             "body": {"status": "error", "message": "You have reached your ten_secondly_rolling "
                      "limit.", "errorType": "RATE_LIMIT", "policyName": "TEN_SECONDLY_ROLLING"}},
            {"route": UPSERT, "status": 423, "count": 1, "body": {"status": "error",
                                                               "message": "locked"}},
            {"route": UPSERT, "status": 477, "headers": {"Retry-After": "1"}, "count": 1,
             "body": {"status": "error", "message": "migration in progress"}},
            {"route": UPSERT, "status": 502, "count": 1, "body": "bad gateway"},
            {"route": "RECORD", "match": "reject-me", "count": 5},
        ])
        p = self.run_once(crmtest.rejected_and_second_offer(6))
        self.assertIn("paused", p.stderr)
        c = hs.state()["contacts"]
        self.assertEqual(len(c), 6)
        self.assertEqual(c["email:customer000001@example.com"]["updates"], 1,
                         "two lead ids of one e-mail: one contact, updated once")
        self.assert_counts("hubspot", 7, 1, 0)
        ups = self.calls("/batch/upsert")
        self.assertEqual([r["status"] for r in ups[:4]], [429, 423, 477, 502])
        self.assertIn(400, [r["status"] for r in ups[4:]],
                      "idProperty email: the bad input failed its whole call (no 207)")
        # the first pause is the 429's Retry-After (not HubSpot's 10 s default)
        self.assertRegex(p.stderr, r"paused for 1000 ms \(1 in a row\)", "paused for Retry-After")
        p = self.run_worker("status", check=0)
        self.assertIn("Property values were not valid", p.stdout + p.stderr)

    def test_bad_input_found_by_bisecting(self):
        """idProperty email: HubSpot refuses the whole call for one bad
        input. The batch is split in halves down to it (9 calls for 16
        inputs instead of 17), the bad one is a dead letter, the rest land."""
        hs = self.start()
        hs.faults([{"route": "RECORD", "match": "customer000007", "count": 100}])
        self.run_once([crmtest.row(i) for i in range(16)])
        ups = self.calls("/batch/upsert")
        self.assertLessEqual(len(ups), 9, [len(u["body"]["inputs"]) for u in ups])
        self.assertEqual(len(hs.state()["contacts"]), 15)
        self.assert_counts("hubspot", 15, 1, 0)

    def test_daily_limit_stops_the_sink(self):
        hs = self.start()
        hs.faults([{"route": UPSERT, "status": 429, "count": 1,
                    "body": {"status": "error", "message": "daily limit",
                             "policyName": "DAILY"}}])
        p = self.run_once([crmtest.row(i) for i in range(3)], check=75)
        self.assertIn("paused", p.stderr)
        self.assertEqual(len(self.calls()), 1)
        self.assertEqual(self.sink_stats("hubspot")["pending"], 3)

    def test_revoked_token_exit_77(self):
        hs = self.start()
        self.put([crmtest.row(i) for i in range(2)])
        bad = {"LEADSYNC_HUBSPOT_TOKEN": "pat-na1-Revoked-77"}
        p = self.run_worker("run", "--once", env=bad, check=77)
        self.assertIn("hubspot", p.stderr)
        self.assertIn("revoked", p.stderr)
        self.assertNotIn("Revoked-77", p.stdout + p.stderr)
        self.assertEqual(len(self.calls()), 1, "a 401 is not retried")
        last = [line for line in p.stderr.splitlines() if line.strip()][-1]
        self.assertRegex(last, "^leadsync: sink hubspot: .*revoked.*LEADSYNC_HUBSPOT_TOKEN",
                         "the closing line says what failed, for which sink, what to fix")
        p = self.run_worker("check", env=bad, check=77)
        self.assertIn("sink hubspot: FAILED", p.stdout)
        self.assertNotIn("Revoked-77", p.stdout + p.stderr)
        self.run_worker("run", "--once", check=0)
        self.assertEqual(len(hs.state()["contacts"]), 2)

    def offer_row(self, i, email, offer, action="PLT"):
        return aztable.marketplace_row("11:2F01:2F2026", "o%06d" % i, email, action=action,
                                       offer=offer)

    def one_contact_per_person(self, id_property):
        """Two people, one asking about two offers (two leads), then a third
        offer and a repeat: one contact each, every offer listed once."""
        hs = self.start()
        self.env["LEADSYNC_HUBSPOT_OFFERS_PROPERTY"] = "marketplace_offers"
        if id_property:
            self.env["LEADSYNC_HUBSPOT_ID_PROPERTY"] = id_property
        self.put([self.offer_row(0, "ada@example.com", "contoso.crm"),
                  self.offer_row(1, " Ada@Example.COM", "contoso.erp"),
                  self.offer_row(2, "bob@example.com", "contoso.crm")])
        self.run_worker("run", "--once", check=0)
        self.put([self.offer_row(3, "ada@example.com", "contoso.bi"),
                  self.offer_row(4, "ada@example.com", "contoso.crm", action="INS")])
        self.run_worker("run", "--once", check=0)
        c = hs.state()["contacts"]
        self.assertEqual(sorted(c), ["email:ada@example.com", "email:bob@example.com"])
        ada = c["email:ada@example.com"]["properties"]
        self.assertEqual(sorted(ada["marketplace_offers"].split(";")),
                         ["contoso.bi", "contoso.crm", "contoso.erp"])
        self.assertEqual(c["email:bob@example.com"]["properties"]["marketplace_offers"],
                         "contoso.crm")
        self.assert_counts("hubspot", 5, 0, 0)
        reads = self.calls("/batch/read")
        self.assertTrue(reads, "the offers list was written without reading it first")
        return c

    def test_custom_id_property_one_contact_per_person_every_offer(self):
        c = self.one_contact_per_person("marketplace_lead_id")
        # the first lead's id stays on the contact (a unique value never moves)
        ada = c["email:ada@example.com"]
        first = ada["history"][0]["marketplace_lead_id"]
        self.assertEqual(ada["properties"]["marketplace_lead_id"], first)

    def test_email_id_property_records_every_offer(self):
        self.one_contact_per_person(None)


if __name__ == "__main__":
    crmtest.lstest.main()
