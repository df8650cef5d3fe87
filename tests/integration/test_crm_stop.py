#!/usr/bin/env python3
"""SIGTERM while a CRM sink's own request is in flight: the daemon starts
nothing new, gives the request LEADSYNC_STOP_GRACE_SECONDS to answer, then
cuts it off and exits 0 (a second signal cuts it off at once). A CRM double
holds its answer far longer than the grace (and the HTTP timeout is longer
still): the daemon is gone while the double still holds the request, so the
grace, not the answer or the timeout, ended it. The leads cut off count no
attempt and go out once on the next run (the CRM upserts are idempotent).

Web-to-Lead cannot deduplicate: the post in flight, whose form had left,
stays "outcome unknown" (a dead letter, never posted again), the leads not yet
posted go out once on the next run; the CRM ends with each lead once.
"""

import os
import signal
import sqlite3
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import crmtest  # noqa: E402
import lstest  # noqa: E402

HOLD_MS = 12000  # far beyond the grace; the HTTP timeout is beyond it too
wait_for = lstest.wait_for


class CrmStop(crmtest.CrmCase):
    def setUp(self):
        super().setUp()
        self.env.update({"LEADSYNC_POLL_SECONDS": "1",
                         "LEADSYNC_HTTP_TIMEOUT_SECONDS": "120",
                         "LEADSYNC_STOP_GRACE_SECONDS": "1"})

    def held(self, d):
        return d.call("/__held")["held"]

    def stop_while_held(self, d, route, n, signals=1):
        """n leads, the first request to route held; the daemon gets
        `signals` SIGTERMs once the double holds it. Returns stderr."""
        d.faults([{"route": route, "delay_ms": HOLD_MS, "count": 1}])
        self.put([crmtest.row(i) for i in range(n)])
        proc = self.run_daemon()
        wait_for(lambda: self.held(d) == 1 or proc.poll() is not None, 60,
                 "the double to hold a request")
        self.assertIsNone(proc.poll(), "the daemon ended before its request was held")
        proc.send_signal(signal.SIGTERM)
        if signals > 1:  # signals sent together would merge into one
            wait_for(lambda: "again to stop now" in lstest.read_text(proc.log), 60,
                     "the daemon to wait for the request in flight")
            proc.send_signal(signal.SIGTERM)
        self.assertEqual(proc.wait(60), 0)
        # No wall clock: the double still holds the request, so the daemon
        # did not wait for its answer (nor for the 120 s HTTP timeout).
        self.assertEqual(self.held(d), 1, "the daemon waited for the held answer")
        text = lstest.read_text(proc.log)
        self.assertIn("finishing the request in flight (again to stop now)", text)
        self.assertIn("stopped by signal", text)
        return text

    def outbox(self):
        con = sqlite3.connect(self.env["LEADSYNC_STATE"])
        try:
            return con.execute("SELECT lead_id, state, attempts FROM outbox "
                               "ORDER BY lead_id").fetchall()
        finally:
            con.close()

    def check_not_sent_then_once(self, d, n, count):
        """Every lead still pending with no attempt counted; the next run
        delivers each exactly once (count(d) maps email -> records)."""
        self.assertEqual([(s, a) for _, s, a in self.outbox()], [("pending", 0)] * n)
        self.run_worker("run", "--once", check=0)
        self.assertEqual([(s, a) for _, s, a in self.outbox()], [("delivered", 1)] * n)
        self.assertEqual(count(d), {"customer%06d@example.com" % i: 1 for i in range(n)})

    def test_salesforce_grace_runs_out(self):
        d, route = self.crm("salesforce"), "PATCH .*/composite/sobjects/Lead/"
        self.stop_while_held(d, route, 3)

        def leads(d):
            out = {}
            for rec in d.state().values():
                email = rec["fields"]["Email"]
                out[email] = out.get(email, 0) + 1
            return out
        self.check_not_sent_then_once(d, 3, leads)

    def test_hubspot_second_signal_cuts_off_at_once(self):
        self.env["LEADSYNC_STOP_GRACE_SECONDS"] = "600"
        d, route = self.crm("hubspot"), "POST .*/batch/upsert"
        self.stop_while_held(d, route, 3, signals=2)

        def contacts(d):
            out = {}
            for key in d.state()["contacts"]:
                email = key.split(":", 1)[1]
                out[email] = out.get(email, 0) + 1
            return out
        self.check_not_sent_then_once(d, 3, contacts)

    def test_web_to_lead_grace_runs_out(self):
        d, route = self.crm("web_to_lead"), "POST /servlet/servlet.WebToLead"
        text = self.stop_while_held(d, route, 3)
        self.assertNotIn("customer000000", text, "personal data in the log")
        # The post in flight had left: unknown, never posted again; the two
        # not started wait, with no attempt counted.
        self.assertIn("may or may not have been created", text)
        rows = sorted((s, a) for _, s, a in self.outbox())
        self.assertEqual(rows, [("dead", 1), ("pending", 0), ("pending", 0)])
        self.run_worker("run", "--once", check=0)
        self.assertEqual(sorted(s for _, s, _ in self.outbox()), ["dead", "delivered", "delivered"])
        wait_for(lambda: self.held(d) == 0, HOLD_MS / 1000 + 30, "the double's hold to end")
        emails = sorted(f["email"] for f in d.state()["leads"])
        self.assertEqual(emails, ["customer%06d@example.com" % i for i in range(3)])


if __name__ == "__main__":
    lstest.main()
