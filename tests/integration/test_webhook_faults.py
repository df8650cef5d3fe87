#!/usr/bin/env python3
"""The webhook sink through the receiver's faults: 503, 500, dropped
connections, responses slower than the timeout, 400 for chosen leads. Every
lead arrives; rejected leads become dead letters holding the status and the
receiver's body, come back with `leadsync retry`, and are delivered once the
receiver accepts them. Every attempt is signed, every repeat of a delivery
carries the same webhook-id and body with a fresh timestamp."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import whtest  # noqa: E402

LEADS = 40
REJECT_PREFIX = ["0", "1", "2"]  # leadIds are hex: about 3/16 of the leads


class WebhookFaults(whtest.WebhookCase):
    def test_faults_dead_letters_and_retry(self):
        rules = [
            {"status": 400, "body": "{\"error\":\"Email is not acceptable\"}",
             "lead_prefix": REJECT_PREFIX},
            {"status": 503, "count": 4},
            {"status": 500, "count": 3, "body": "boom"},
            {"drop": True, "count": 3},
            {"status": 204, "delay_ms": 2500, "count": 2},  # past the 1 s timeout
            {"status": 502, "count": 2},
        ]
        recv = self.receiver(rules=rules)
        self.seed("bulk", LEADS)
        env = {"LEADSYNC_SINKS": "webhook:" + recv.url, "LEADSYNC_MAX_IN_FLIGHT": "4"}
        p = self.run_worker("run", "--once", env=env, check=0)
        self.assertIn("dead letter", p.stdout + p.stderr)

        recs = recv.records()
        self.common_checks(recs)
        leads = {r["lead"] for r in recs}
        self.assertEqual(len(leads), LEADS, "not every lead reached the receiver")
        rejected = {l for l in leads if l.startswith(tuple(REJECT_PREFIX))}
        self.assertTrue(rejected, "the scenario should reject some leads")
        got = {r["lead"] for r in recv.accepted()}
        self.assertEqual(got, leads - rejected, "a lead that the receiver accepts is missing")
        # Faults were actually exercised, and the retried deliveries reused their ids.
        statuses = [r["status"] for r in recs]
        self.assertGreaterEqual(statuses.count(503), 4)
        self.assertGreaterEqual(statuses.count(500), 3)
        self.assertGreaterEqual(sum(1 for r in recs if r["drop"]), 3)
        by_id = {}
        for r in sorted(recs, key=lambda r: r["t"]):
            by_id.setdefault(r["id"], []).append(int(r["ts"]))
        repeated = [ts for ts in by_id.values() if len(ts) > 1]
        self.assertGreaterEqual(len(repeated), 5, "faulted deliveries were not retried")
        for ts in repeated:
            self.assertEqual(ts, sorted(ts), "webhook-timestamp went back on a retry")
        # One delivery per lead: the ids of one lead are one id.
        ids_per_lead = {}
        for r in recs:
            ids_per_lead.setdefault(r["lead"], set()).add(r["id"])
        self.assertTrue(all(len(v) == 1 for v in ids_per_lead.values()))

        st = self.status()
        s = self.sink_stats(st, recv.url)
        self.assertEqual(s["dead"], len(rejected))
        self.assertEqual(s["pending"], 0)
        self.assertEqual(s["delivered"], LEADS - len(rejected))
        dead = [d for d in st["deadLetters"] if d["sink"] == "webhook:" + recv.url]
        self.assertEqual({d["leadId"] for d in dead}, rejected)
        for d in dead:
            self.assertEqual(d["lastStatus"], 400)
            self.assertIn("Email is not acceptable", d["lastError"])
            self.assertNotIn(whtest.SECRET, d["lastError"])

        # The receiver is fixed; the dead letters come back and go through.
        recv.faults([])
        p = self.run_worker("retry", "--sink", "webhook:" + recv.url, env=env, check=0)
        self.assertIn("re-queued %d" % len(rejected), p.stdout)
        self.run_worker("run", "--once", env=env, check=0)
        recs = recv.records()
        self.common_checks(recs)
        self.assertEqual({r["lead"] for r in recv.accepted()}, leads)
        s = self.sink_stats(self.status(), recv.url)
        self.assertEqual((s["delivered"], s["dead"], s["pending"]), (LEADS, 0, 0))
        # Accepted once each, apart from the slow answers the sender gave up on.
        fresh = [r for r in recv.accepted() if not r["dup"]]
        self.assertEqual(len(fresh), LEADS)


if __name__ == "__main__":
    whtest.lstest.main()
