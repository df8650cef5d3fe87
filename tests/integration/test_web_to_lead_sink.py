#!/usr/bin/env python3
"""Salesforce Web-to-Lead sink end to end: Azurite -> leadsync -> the loopback
Web-to-Lead double (tests/tools/crm_web_to_lead.py) over TLS with a test CA.
Each lead id posted once (updates are not sent: the form can only create),
DNC and validation leads never posted, a post whose body went out never
retried (dead letter), the daily limit counted in the ledger across restarts,
the start-up warning, and a missing oid as a configuration error.

Across kill -9: the sink marks a lead in the ledger before its post, so a
crash between the post and the outbox commit never posts it again; the clean
run reports a dead letter saying the outcome is unknown (or, when the 2xx was
recorded, the delivery), and `leadsync retry` of that dead letter posts it."""

import os
import signal
import sqlite3
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import crmtest  # noqa: E402

OID = crmtest.W2L_OID
ROUTE = "POST /servlet/servlet.WebToLead"
UNKNOWN = "outcome unknown"


class WebToLeadSink(crmtest.CrmCase):
    def start(self, *args):
        self.w = self.crm("web_to_lead", *args)
        return self.w

    def posts(self):
        return [r for r in self.w.requests() if r["path"] == "/servlet/servlet.WebToLead"]

    def test_posts_once_skips_dnc_and_validation_lead(self):
        w = self.start()
        rows = crmtest.first_rows(4) + [crmtest.row(92, last="", email="nolast@example.com")]
        p = self.run_once(rows)
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
        self.assert_counts("web_to_lead", 6, 0, 0)

        # An update of a posted lead and a DNC of another: nothing is posted.
        p = self.run_once([crmtest.row(100, action="INS", email="customer000000@example.com"),
                           crmtest.row(101, action="DNC", email="customer000001@example.com")])
        self.assertEqual(len(w.state()["leads"]), 5)
        self.assertEqual(len(self.posts()), 5)
        self.assertIn("not sent", p.stderr)

    def test_utf16_limits_and_no_answer_page_on_stdout(self):
        """A last name of 79 letters and an emoji is 81 UTF-16 code units:
        cut to 79 (never half an emoji), so Salesforce creates the lead; the
        answer page never reaches stdout."""
        w = self.start()
        p = self.run_once([crmtest.row(1, last="a" * 79 + "\U0001F600",
                                       email=" ZO.155@EXAMPLE.COM ")])
        self.assertNotIn("ANSWER PAGE", p.stdout)
        st = w.state()
        self.assertEqual(st["dropped"], 0)
        self.assertEqual([f["last_name"] for f in st["leads"]], ["a" * 79])
        self.assertEqual(st["leads"][0]["email"], "ZO.155@example.com")

    def test_never_retried_once_sent(self):
        w = self.start()
        w.faults([{"route": ROUTE, "drop": True, "count": 1},
                  {"route": ROUTE, "status": 500, "body": "oops", "count": 1}])
        p = self.run_once([crmtest.row(i) for i in range(4)])
        self.assertIn("dead letter", p.stdout + p.stderr)
        posts = self.posts()
        self.assertEqual(len(posts), 4, "four leads, four posts: none repeated")
        self.assertEqual(len({pp["body"]["email"] for pp in posts}), 4)
        self.assertEqual(len(w.state()["leads"]), 2)
        self.assert_counts("web_to_lead", 2, 2, 0)
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

    def emails(self):
        return [p["body"]["email"] for p in self.posts()]

    def marks(self):
        db = sqlite3.connect("file:%s?mode=ro" % self.env["LEADSYNC_STATE"], uri=True)
        try:
            return dict(db.execute("SELECT lead_id, state FROM sink_posts"
                                   " WHERE sink = 'web_to_lead'").fetchall())
        finally:
            db.close()

    def posting(self):
        try:
            return "posting" in self.marks().values()
        except sqlite3.Error:  # no ledger or no migration yet
            return False

    def dead_letters(self):
        return [d for d in self.status()["deadLetters"] if d["sink"] == "web_to_lead"]

    def test_crash_after_a_post_never_posts_it_again(self):
        self.start()
        self.put([crmtest.row(i) for i in range(3)])
        # SIGKILL right after the second post's answer, before it is recorded
        p = self.run_worker("run", "--once", env={"LEADSYNC_TEST_CRASH_AT": "w2l-answered:2"})
        self.assertEqual(p.returncode, -signal.SIGKILL, p.stderr[-3000:])
        first = self.emails()
        self.assertEqual(len(first), 2)
        self.assertEqual(sorted(self.marks().values()), ["created", "posting"])

        p = self.run_worker("run", "--once", check=0)
        emails = self.emails()
        self.assertEqual(len(emails), 3, "only the lead never posted went out")
        self.assertEqual(sorted(emails), ["customer%06d@example.com" % i for i in range(3)])
        self.assertEqual(emails[:2], first)
        dead = self.dead_letters()
        self.assertEqual(len(dead), 1, dead)
        self.assertIn(UNKNOWN, dead[0]["lastError"])
        self.assertIn("leadsync retry", dead[0]["lastError"])
        self.assert_counts("web_to_lead", 2, 1, 0)
        self.run_worker("run", "--once", check=0)
        self.assertEqual(len(self.posts()), 3, "a dead letter stays unposted")

        # A human checked Salesforce: retry posts it after all.
        self.run_worker("retry", check=0)
        self.assertEqual(self.marks()[dead[0]["leadId"]], "requeued")
        p = self.run_worker("run", "--once", check=0)
        self.assertIn("re-queued", p.stderr)
        emails = self.emails()
        self.assertEqual(len(emails), 4)
        self.assertEqual(emails[3], emails[1], "the re-queued lead is the one posted again")
        self.assert_counts("web_to_lead", 3, 0, 0)
        self.assertEqual(set(self.marks().values()), {"created"})

    def test_crash_after_the_answer_is_recorded(self):
        self.start()
        self.put([crmtest.row(i) for i in range(2)])
        p = self.run_worker("run", "--once", env={"LEADSYNC_TEST_CRASH_AT": "w2l-recorded:1"})
        self.assertEqual(p.returncode, -signal.SIGKILL, p.stderr[-3000:])
        self.assertEqual(len(self.posts()), 1)
        self.run_worker("run", "--once", check=0)
        self.assertEqual(sorted(self.emails()), ["customer%06d@example.com" % i
                                                 for i in range(2)])
        self.assert_counts("web_to_lead", 2, 0, 0)

    def test_crash_before_the_post_is_a_dead_letter_too(self):
        # The mark is committed before the form goes out: from the ledger a
        # crash here cannot be told from one after the post.
        self.start()
        self.put([crmtest.row(0)])
        p = self.run_worker("run", "--once", env={"LEADSYNC_TEST_CRASH_AT": "w2l-marked:1"})
        self.assertEqual(p.returncode, -signal.SIGKILL, p.stderr[-3000:])
        self.run_worker("run", "--once", check=0)
        self.assertEqual(self.posts(), [])
        dead = self.dead_letters()
        self.assertEqual(len(dead), 1)
        self.assertIn(UNKNOWN, dead[0]["lastError"])

    def test_kill_while_the_post_hangs(self):
        w = self.start()
        w.faults([{"route": ROUTE, "delay_ms": 3000, "count": 1}])
        self.put([crmtest.row(0), crmtest.row(1)])
        e = dict(self.env)
        e["LEADSYNC_DELIVERY_BATCH"] = "1"
        p = subprocess.Popen([crmtest.lstest.binary(), "run", "--once"], env=e,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 60
            while not self.posting():
                self.assertIsNone(p.poll(), "leadsync ended before its first post")
                self.assertLess(time.monotonic(), deadline, "no post was marked")
                time.sleep(0.05)
            time.sleep(0.5)  # the form is at the double, which holds its answer
        finally:
            p.kill()
            p.wait(30)
        self.assertEqual(p.returncode, -signal.SIGKILL)
        deadline = time.monotonic() + 30
        while not self.posts():  # the double logs the post once its delay is over
            self.assertLess(time.monotonic(), deadline, "the double never saw the post")
            time.sleep(0.1)
        hung = self.emails()
        self.assertEqual(len(hung), 1)

        self.run_worker("run", "--once", check=0)
        emails = self.emails()
        self.assertEqual(len(emails), 2, "the hung lead is not posted again")
        self.assertEqual(len(set(emails)), 2)
        dead = self.dead_letters()
        self.assertEqual(len(dead), 1)
        self.assertIn(UNKNOWN, dead[0]["lastError"])
        p = self.run_worker("status", check=0)
        self.assertIn(UNKNOWN, p.stdout + p.stderr)


if __name__ == "__main__":
    crmtest.lstest.main()
