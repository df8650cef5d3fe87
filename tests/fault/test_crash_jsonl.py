#!/usr/bin/env python3
"""kill -9 at many points of a sync into the JSONL sink; the next clean run
must leave every row delivered, any repeat carrying the same deliveryId, and
no broken line in the file.

Two kinds of crash: named crash points inside the worker
(LEADSYNC_TEST_CRASH_AT=NAME:N kills it with SIGKILL exactly there: while a
page's transaction is open, right after a page commit, between the sink's
fsync and the ledger's "delivered" commit, in the middle of a line) and
SIGKILL from outside after random delays.
"""

import os
import random
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import lstest  # noqa: E402

ROWS = 1500
CRASH_POINTS = [
    "page-uncommitted:1",
    "page-committed:1",
    "sink-partial:1",
    "sink-written:1",
    "delivered:1",
    "page-committed:4",
    "sink-partial:3",
    "sink-written:5",
    "delivered:6",
    "page-uncommitted:9",
]


class CrashJsonl(lstest.WorkerCase):
    def check_file(self, rows):
        lines = self.lines()  # fails on a torn last line
        by_key = {}
        for l in lines:
            k = (l["lead"]["partitionKey"], l["lead"]["rowKey"])
            by_key.setdefault(k, set()).add(l["deliveryId"])
        want = {(r["PartitionKey"], r["RowKey"]) for r in rows}
        missing = want - set(by_key)
        self.assertFalse(missing, "%d rows lost, e.g. %s" % (len(missing), sorted(missing)[:3]))
        for k, ids in by_key.items():
            self.assertEqual(len(ids), 1, "row %s delivered under two deliveryIds" % (k,))
        return len(lines) - len(by_key)

    def test_named_crash_points(self):
        rows = lstest.bulk_rows(ROWS, partitions=5)
        self.write_rows(rows)
        lstest.settle()
        env = {"LEADSYNC_PAGE_SIZE": "100", "LEADSYNC_DELIVERY_BATCH": "50"}
        for point in CRASH_POINTS:
            e = dict(env)
            e["LEADSYNC_TEST_CRASH_AT"] = point
            p = self.run_worker("run", "--once", env=e)
            self.assertEqual(p.returncode, -signal.SIGKILL,
                             "crash point %s was not reached (exit %d)\n%s"
                             % (point, p.returncode, p.stderr[-1500:]))
        self.run_worker("run", "--once", env=env, check=0)
        repeats = self.check_file(rows)
        print("named crash points: %d, repeated deliveries: %d" % (len(CRASH_POINTS), repeats))
        # the sink-partial points must have left a torn line that was cut, not kept
        p = self.run_worker("run", "--once", env=env, check=0)
        self.assertIn("new=0 updated=0", p.stderr)

    def test_random_kills(self):
        rows = lstest.bulk_rows(ROWS, prefix="k", partitions=5)
        self.write_rows(rows)
        lstest.settle()
        rnd = random.Random(20261124)
        e = dict(self.env)
        e.update({"LEADSYNC_PAGE_SIZE": "100", "LEADSYNC_DELIVERY_BATCH": "50"})
        kills = 0
        finished = 0
        for _ in range(25):
            p = subprocess.Popen([lstest.binary(), "run", "--once"], env=e,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(rnd.uniform(0.0, 0.6))
            if p.poll() is None:
                p.send_signal(signal.SIGKILL)
                kills += 1
            rc = p.wait(timeout=120)
            if rc == 0:
                finished += 1
            else:
                self.assertEqual(rc, -signal.SIGKILL, "a run failed on its own (exit %d)" % rc)
        self.run_worker("run", "--once", env={"LEADSYNC_PAGE_SIZE": "100"}, check=0)
        repeats = self.check_file(rows)
        print("random kills: %d (runs that finished first: %d), repeated deliveries: %d"
              % (kills, finished, repeats))
        self.assertGreater(kills, 5, "too few runs were killed mid-way to mean anything")


if __name__ == "__main__":
    lstest.main()
