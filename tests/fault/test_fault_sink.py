#!/usr/bin/env python3
"""A sink under fault.

sink-down: the webhook receiver is away for a long stretch: several runs exit
75 (safe to rerun) while new rows keep arriving, `status --json` shows the
pending count growing and the age of the oldest pending delivery; then the
receiver comes back on the same port and one run delivers everything. Rows
come from `leadsync-seed bulk --customers C`, so each customer's lead moves
through two stages (pending states of one lead coalesce, so pending counts
leads waiting, and the oldest pending age can drop when an old state is
superseded); the receiver must see every lead, its stage never
going back, the last delivery of each lead at the lead's highest stage.

sink-throttle-storm: the receiver answers 429 with Retry-After: 1 to
three quarters of the leads for the first seconds; everything arrives, and
no retry of a delivery comes before the Retry-After it was given.

Per case one line: case=<name> lost= duplicates= repeats= recover_s=
LEADSYNC_TEST_SOAK=1: more rows, more runs while down.
"""

import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import faultlib  # noqa: E402
import lstest  # noqa: E402
import whtest  # noqa: E402

ROWS = 3000 if faultlib.SOAK else 900
CUSTOMERS = ROWS // 2
DOWN_RUNS = 6 if faultlib.SOAK else 3
STAGE = {"PLT": 1, "StartTestDrive": 2, "INS": 3, "Create": 3}
RANK = whtest.STAGE_RANK


class FaultSink(lstest.WorkerCase):
    def setUp(self):
        super().setUp()
        self.receiver = None

    def tearDown(self):
        if self.receiver:
            self.receiver.stop()
        super().tearDown()

    def seed_customers(self, n, start):
        import subprocess
        p = subprocess.run([lstest.seeder(), "--connection-string", self.env[
            "LEADSYNC_CONNECTION_STRING"], "--table", self.table_name, "--seed", "3",
            "--customers", str(CUSTOMERS), "--start", str(start), "bulk", str(n)],
            capture_output=True, text=True, timeout=300)
        self.assertEqual(p.returncode, 0, p.stderr[-2000:])
        faultlib.settle()

    def max_stages(self):
        import json
        out = {}
        for e in self.table.query():
            ci = json.loads(e["CustomerInfo"])
            lid = faultlib.lead_id(ci["Email"], e["LeadSource"].split("|", 1)[1])
            out[lid] = max(out.get(lid, 0), STAGE.get(e["ActionCode"], 0))
        return out

    def test_sink_down(self):
        port = whtest.free_port()
        self.env.update(whtest.FAST)
        self.env.update(faultlib.PATIENT)
        self.env.update({"LEADSYNC_SINKS": "webhook:http://127.0.0.1:%d/hook" % port,
                         "LEADSYNC_ONCE_MAX_WAIT_SECONDS": "3"})
        per = ROWS // (DOWN_RUNS + 1)
        start = 0
        pendings, ages = [], []
        for i in range(DOWN_RUNS):
            self.seed_customers(per, start)
            start += per
            p = self.run_worker("run", "--once")
            self.assertEqual(p.returncode, 75, p.stderr[-3000:])
            self.assertNotIn("AddressSanitizer", p.stderr)
            s = faultlib.status(self)["sinks"][0]
            pendings.append(s["pending"])
            ages.append(s["oldestPendingAgeSeconds"])
            self.assertEqual(s["dead"], 0, "a sink that is down parks nothing as dead")
        print("sink-down: pending %s, oldest pending age %s s; last line: %s"
              % (pendings, ages, p.stderr.strip().splitlines()[-1]))
        self.assertEqual(pendings, sorted(pendings))
        self.assertLess(pendings[0], pendings[-1], "pending did not grow")
        # pending states of one lead coalesce into the newest, so the oldest
        # pending age may drop when a lead's old state is superseded; it is
        # never 0 while something waits
        self.assertTrue(all(a > 0 for a in ages), ages)
        self.seed_customers(ROWS - start, start)
        self.receiver = whtest.Receiver(self.dir, "recv", port=port)
        t0 = time.monotonic()
        p = self.run_worker("run", "--once", env={"LEADSYNC_ONCE_MAX_WAIT_SECONDS": "30"})
        recover = time.monotonic() - t0
        self.assertEqual(p.returncode, 0, p.stderr[-3000:])
        acc = sorted(self.receiver.accepted(), key=lambda r: r["seq"])
        want = self.max_stages()
        self.assertEqual(len(want), CUSTOMERS)
        last, regress = {}, 0
        for r in acc:
            if RANK[r["stage"]] < last.get(r["lead"], 0):
                regress += 1
            last[r["lead"]] = max(last.get(r["lead"], 0), RANK[r["stage"]])
        lost = len(set(want) - set(last))
        repeats = sum(1 for r in acc if r["dup"])
        final = {}
        for r in acc:
            final[r["lead"]] = RANK[r["stage"]]
        wrong_final = [lid for lid, st in want.items() if final.get(lid) != st]
        faultlib.summary("sink-down", lost, 0, repeats, recover, runs_down=DOWN_RUNS,
                         pending_max=pendings[-1], stage_regressions=regress)
        self.assertEqual(lost, 0)
        self.assertEqual(regress, 0, "a lead's stage went back")
        self.assertEqual(wrong_final, [], "a lead's last delivery is not its highest stage")
        s = faultlib.status(self)["sinks"][0]
        self.assertEqual((s["pending"], s["dead"]), (0, 0))

    def test_sink_throttle_storm(self):
        # A storm by count, not by time: how long the table read takes before
        # the first delivery depends on the machine's load.
        rules = [{"status": 429, "retry_after": 1, "count": 40,
                  "lead_prefix": list("0123456789ab")}]
        sink = faultlib.WebhookSink(self)
        self.receiver = sink.r
        self.env.update(sink.env())
        faultlib.seed(self, ROWS)
        faultlib.settle()
        sink.r.faults(rules)
        t0 = time.monotonic()
        p = self.run_worker("run", "--once")
        recover = time.monotonic() - t0
        self.assertEqual(p.returncode, 0, p.stderr[-3000:])
        recs = sorted(sink.r.records(), key=lambda r: r["seq"])
        throttled = [r for r in recs if r["status"] == 429]
        self.assertGreater(len(throttled), 0)
        early = []
        prev = {}
        for r in recs:
            q = prev.get(r["id"])
            if q and q["status"] == 429 and r["t"] < q["t_resp"] + q["retry_after"] - 0.01:
                early.append((r["id"], round(q["t_resp"] + q["retry_after"] - r["t"], 3)))
            prev[r["id"]] = r
        want = faultlib.expected(self.table)
        lost, dups, repeats = sink.report(want)
        faultlib.summary("sink-throttle-storm", lost, dups, repeats, recover,
                         answered_429=len(throttled), early_retries=len(early))
        self.assertEqual((lost, dups), (0, 0))
        self.assertEqual(early, [], "retries earlier than Retry-After allowed")


if __name__ == "__main__":
    lstest.main()
