#!/usr/bin/env python3
"""The clock jumping.

server-clock-jump: the sync window ends at the table service's clock (the Date
header), so a proxy in front of Azurite (faultlib.TableProxy) rewrites Date
across runs: an hour ahead, back to the real time, an hour behind, real
again, with new rows written before each run (their Timestamps come from
Azurite's real clock). Nothing may be lost, nothing delivered twice beyond
the overlap's documented repeats (which the webhook-id dedupes), and the
cursor (`status --json`) never moves backwards.

local-clock-jump: the worker's own clock (backoff, pauses, run times, the
ledger's timestamps) jumping. With the `faketime` command (libfaketime,
Debian package faketime) one run goes under a clock a day ahead, the next
under the real one. The day-ahead run's webhooks carry a webhook-timestamp
the receiver refuses (outside its 5-minute tolerance, as Standard Webhooks
asks), so they become dead letters with the receiver's 400: visible, not lost;
`leadsync retry` and a run with the right clock deliver them (counted in
dead_letters=). Without faketime the case is skipped and says so.

Per case one line: case=<name> lost= duplicates= repeats= recover_s=
(recover_s: wall time of the last run, once the clock is right again).
"""

import os
import shutil
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import faultlib  # noqa: E402
import lstest  # noqa: E402

BATCH = 1000 if faultlib.SOAK else 250


class FaultClock(lstest.WorkerCase):
    def setUp(self):
        super().setUp()
        self.sink = faultlib.WebhookSink(self)
        self.env.update(self.sink.env())
        self.proxy = None

    def tearDown(self):
        self.sink.stop()
        if self.proxy:
            self.proxy.stop()
        super().tearDown()

    def test_server_clock_jump(self):
        self.proxy = faultlib.TableProxy(self.env["LEADSYNC_CONNECTION_STRING"])
        self.env["LEADSYNC_CONNECTION_STRING"] = self.proxy.connstr
        cursors = []
        start = 0
        recover = 0.0
        for offset in (0, 3600, 0, -3600, 0):
            faultlib.seed(self, BATCH, start=start)
            start += BATCH
            faultlib.settle()
            self.proxy.date_offset = offset
            t0 = time.monotonic()
            p = self.run_worker("run", "--once")
            recover = time.monotonic() - t0
            self.assertEqual(p.returncode, 0, p.stderr[-3000:])
            self.proxy.date_offset = 0
            c = faultlib.status(self)["cursor"]
            print("date offset %+d s: cursor %s" % (offset, c))
            if cursors:
                self.assertGreaterEqual(c, cursors[-1], "the cursor moved backwards")
            cursors.append(c)
        want = faultlib.expected(self.table)
        self.assertEqual(len(want), start)
        lost, dups, repeats = self.sink.report(want)
        faultlib.summary("server-clock-jump", lost, dups, repeats, recover)
        self.assertEqual((lost, dups), (0, 0))

    def test_local_clock_jump(self):
        ft = shutil.which("faketime")
        if not ft:
            print("case=local-clock-jump skipped: no faketime command (Debian package "
                  "faketime) here")
            self.skipTest("faketime is not installed")
        faultlib.seed(self, BATCH)
        faultlib.settle()
        e = dict(self.env)
        # libfaketime is LD_PRELOADed ahead of the ASan runtime
        e["ASAN_OPTIONS"] = (e.get("ASAN_OPTIONS", "") + ":verify_asan_link_order=0").lstrip(":")
        # Deliveries made under the wrong clock carry a webhook-timestamp a
        # day off; the receiver refuses them (400): the first become dead
        # letters with the reason, then the breaker pauses the sink (69) and
        # the rest wait. Nothing is lost: `retry` resumes the sink and
        # re-queues the dead letters, and a run delivers them.
        p = faultlib.subprocess.run([ft, "-f", "+1d", lstest.binary(), "run", "--once"], env=e,
                                    capture_output=True, text=True, timeout=300)
        self.assertIn(p.returncode, (0, 69), p.stderr[-3000:])
        faultlib.seed(self, BATCH, start=BATCH)
        faultlib.settle()
        t0 = time.monotonic()
        p = self.run_worker("run", "--once")
        self.assertIn(p.returncode, (0, 69), p.stderr[-3000:])
        st = faultlib.status(self)
        dead = st["sinks"][0]["dead"]
        for d in st["deadLetters"]:
            self.assertIn("400", str(d.get("lastStatus")) + (d.get("lastError") or ""))
        if dead or p.returncode == 69:
            self.run_worker("retry", check=0)
            p = self.run_worker("run", "--once", check=0)
        recover = time.monotonic() - t0
        want = faultlib.expected(self.table)
        lost, dups, repeats = self.sink.report(want)
        faultlib.summary("local-clock-jump", lost, dups, repeats, recover, dead_letters=dead)
        self.assertEqual(faultlib.status(self)["sinks"][0]["pending"], 0)
        self.assertEqual((lost, dups), (0, 0))


if __name__ == "__main__":
    lstest.main()
