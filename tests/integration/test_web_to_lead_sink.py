#!/usr/bin/env python3
"""Salesforce Web-to-Lead sink end to end: Azurite -> leadsync -> the loopback
Web-to-Lead double (tests/tools/crm_web_to_lead.py) over TLS with a test CA.
Each lead id posted once (updates are not sent: the form can only create),
DNC and validation leads never posted, a post whose body went out never
retried (dead letter), the daily limit counted in the ledger across restarts,
the start-up warning, and a missing oid as a configuration error."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import crmtest  # noqa: E402

OID = "00D5e000000AbCd"
ROUTE = "POST /servlet/servlet.WebToLead"


class WebToLeadSink(crmtest.CrmCase):
    def start(self, *args):
        d = self.double("crm_web_to_lead.py", ["--oid", OID] + list(args))
        self.w = d
        self.env.update({
            "LEADSYNC_SINKS": "web_to_lead",
            "LEADSYNC_WEB_TO_LEAD_URL": d.url + "/servlet/servlet.WebToLead?encoding=UTF-8",
            "LEADSYNC_WEB_TO_LEAD_OID": OID,
            "LEADSYNC_WEB_TO_LEAD_CA_FILE": self.pki["ca"],
        })
        return d

    def posts(self):
        return [r for r in self.w.requests() if r["path"] == "/servlet/servlet.WebToLead"]

    def test_posts_once_skips_dnc_and_validation_lead(self):
        w = self.start()
        rows = [crmtest.row(i) for i in range(4)]
        rows.append(crmtest.row(90, first="MSFT_TEST_636573304831318844"))
        rows.append(crmtest.row(91, action="DNC", email="nobody@example.com"))
        rows.append(crmtest.row(92, last="", email="nolast@example.com"))
        self.put(rows)
        p = self.run_worker("run", "--once", check=0)
        self.assertIn("cannot deduplicate", p.stderr)
        self.assertIn("do-not-contact", p.stderr)
        st = w.state()
        self.assertEqual(st["wrong_oid"], 0)
        emails = sorted(f["email"] for f in st["leads"])
        self.assertEqual(emails, ["customer%06d@example.com" % i for i in range(4)] +
                         ["nolast@example.com"])
        for f in st["leads"]:
            self.assertEqual(f["oid"], OID)
            self.assertEqual(f["company"], "Example Corp")
            self.assertEqual(f["lead_source"], "Microsoft Marketplace")
        nolast = [f for f in st["leads"] if f["email"] == "nolast@example.com"][0]
        self.assertEqual(nolast["last_name"], "[not provided]")
        s = self.sink_stats("web_to_lead")
        self.assertEqual((s["delivered"], s["dead"], s["pending"]), (6, 0, 0))

        # An update of a posted lead and a DNC of another: nothing is posted.
        self.put([crmtest.row(100, action="INS", email="customer000000@example.com"),
                  crmtest.row(101, action="DNC", email="customer000001@example.com")])
        p = self.run_worker("run", "--once", check=0)
        self.assertEqual(len(w.state()["leads"]), 5)
        self.assertEqual(len(self.posts()), 5)
        self.assertIn("not sent", p.stderr)

    def test_never_retried_once_sent(self):
        w = self.start()
        w.faults([{"route": ROUTE, "drop": True, "count": 1},
                  {"route": ROUTE, "status": 500, "body": "oops", "count": 1}])
        self.put([crmtest.row(i) for i in range(4)])
        p = self.run_worker("run", "--once", check=0)
        self.assertIn("dead letter", p.stdout + p.stderr)
        posts = self.posts()
        self.assertEqual(len(posts), 4, "four leads, four posts: none repeated")
        self.assertEqual(len({pp["body"]["email"] for pp in posts}), 4)
        self.assertEqual(len(w.state()["leads"]), 2)
        s = self.sink_stats("web_to_lead")
        self.assertEqual((s["delivered"], s["dead"], s["pending"]), (2, 2, 0))
        p = self.run_worker("status", check=0)
        self.assertIn("not retried", p.stdout + p.stderr)
        self.run_worker("run", "--once", check=0)
        self.assertEqual(len(self.posts()), 4)

    def test_daily_limit_survives_restarts(self):
        w = self.start()
        env = {"LEADSYNC_WEB_TO_LEAD_DAILY_LIMIT": "3"}
        self.put([crmtest.row(i) for i in range(2)])
        self.run_worker("run", "--once", env=env, check=0)
        self.assertEqual(len(self.posts()), 2)
        self.put([crmtest.row(i) for i in range(2, 5)])
        p = self.run_worker("run", "--once", env=env, check=75)
        self.assertIn("daily limit", p.stderr)
        self.assertEqual(len(self.posts()), 3)
        self.assertEqual(self.sink_stats("web_to_lead", env=env)["pending"], 2)
        self.run_worker("run", "--once", env=env, check=75)
        self.assertEqual(len(self.posts()), 3, "the day's count survived the restart")
        self.assertEqual(len(w.state()["leads"]), 3)

    def test_missing_oid_is_a_config_error(self):
        self.start()
        self.put([crmtest.row(0)])
        p = self.run_worker("run", "--once", env={"LEADSYNC_WEB_TO_LEAD_OID": ""}, check=78)
        self.assertIn("LEADSYNC_WEB_TO_LEAD_OID", p.stderr)
        self.assertEqual(self.posts(), [])


if __name__ == "__main__":
    crmtest.lstest.main()
