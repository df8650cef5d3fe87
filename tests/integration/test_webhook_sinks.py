#!/usr/bin/env python3
"""Two webhook sinks, one down: the other gets everything; `run --once` exits
75 with the down sink's work pending, and a later run, with the receiver
back on the same URL, catches up. Per lead, stages arrive in order (never
backwards) at both receivers. SIGKILL during delivery followed by a clean
run leaves everything delivered, repeats under the same webhook-id."""

import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import whtest  # noqa: E402
from lstest import binary  # noqa: E402


class WebhookSinks(whtest.WebhookCase):
    def test_one_sink_down_the_other_delivers(self):
        a = self.receiver("a", rules=[{"status": 500, "count": 5}])
        b_port = whtest.free_port()
        b_url = "http://127.0.0.1:%d/hook" % b_port
        # 12 customers with 3 rows each: the stage of a lead moves up the funnel
        self.seed("bulk", 36, "--customers", 12)
        env = {"LEADSYNC_SINKS": "webhook:%s,webhook:%s" % (a.url, b_url),
               "LEADSYNC_ONCE_MAX_WAIT_SECONDS": "2"}
        p = self.run_worker("run", "--once", env=env, check=75)
        self.assertIn("pending", p.stderr)
        leads = {r["lead"] for r in a.accepted()}
        st = self.status()
        sa, sb = self.sink_stats(st, a.url), self.sink_stats(st, b_url)
        self.assertEqual((sa["pending"], sa["dead"]), (0, 0))
        self.assertEqual(sa["delivered"], len(leads))
        self.assertGreater(sb["pending"], 0)
        self.assertEqual(sb["delivered"], 0)

        # More rows while B is down: later stages for the same leads.
        self.seed("bulk", 36, "--customers", 12, "--start", 36)
        self.run_worker("run", "--once", env=env, check=75)
        b = self.receiver("b", port=b_port)
        self.run_worker("run", "--once", env=env, check=0)
        for recv in (a, b):
            recs = recv.records()
            self.common_checks(recs)
            acc = recv.accepted()
            self.assert_stages_monotonic(acc)
            # the first delivery of a lead is lead.created, the rest lead.updated
            first = {}
            for r in sorted(acc, key=lambda r: r["t"]):
                self.assertEqual(r["type"], "lead.updated" if r["lead"] in first
                                 else "lead.created", r)
                first[r["lead"]] = r
        self.assertEqual({r["lead"] for r in b.accepted()}, {r["lead"] for r in a.accepted()})
        st = self.status()
        for url in (a.url, b_url):
            self.assertEqual(self.sink_stats(st, url)["pending"], 0)
        # B was down through two windows: coalescing sent each lead's newest
        # state only, so B saw no more deliveries than A.
        self.assertLessEqual(len(b.accepted()), len(a.accepted()))

    def test_kill_during_delivery(self):
        recv = self.receiver(rules=[{"status": 204, "delay_ms": 15}])
        self.seed("bulk", 400)
        env = dict(self.env)
        env.update({"LEADSYNC_SINKS": "webhook:" + recv.url, "LEADSYNC_MAX_IN_FLIGHT": "4",
                    "LEADSYNC_DELIVERY_BATCH": "20"})
        for _ in range(3):
            before = len(recv.records())
            p = subprocess.Popen([binary(), "run", "--once"], env=env,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            deadline = time.monotonic() + 60
            while len(recv.records()) < before + 40 and p.poll() is None \
                    and time.monotonic() < deadline:
                time.sleep(0.02)
            if p.poll() is None:
                p.send_signal(signal.SIGKILL)
            p.wait()
        recv.faults([])
        self.run_worker("run", "--once", env={"LEADSYNC_SINKS": "webhook:" + recv.url}, check=0)
        recs = recv.records()
        self.common_checks(recs)  # a repeated delivery has the same id and body
        self.assertEqual(len({r["lead"] for r in recv.accepted()}), 400)
        self.assertEqual(len({r["id"] for r in recv.accepted()}), 400)
        s = self.sink_stats(self.status(), recv.url)
        self.assertEqual((s["delivered"], s["pending"], s["dead"]), (400, 0, 0))


if __name__ == "__main__":
    whtest.lstest.main()
