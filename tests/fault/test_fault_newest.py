#!/usr/bin/env python3
"""Two versions of one lead in every window, under SIGKILL: a lead's newest
click wins at the webhook receiver, and the JSONL audit file (a second sink)
keeps every version.

Each window brings new leads, each with an older click ("Contact me", PLT)
written first and a newer one ("Get it now", INS) written after every older
one. For half the leads the newer RowKey sorts first, so the table hands the
newer version out first - often on an earlier page (pages of 25 rows) - and
the older one arrives late. Runs are killed at random delays and at named
crash points (worker/ls_common.h), then a clean run finishes the job.

Checked: every lead and every version arrives (lost = 0), no row version
reaches the receiver under two webhook-ids (duplicates = 0), each lead's
last state at the receiver is its newer click and the older click never
follows it (stale = 0), stages never go backwards. One line:
case=kills-two-versions lost= duplicates= repeats= recover_s= stale= kills=
"""

import os
import random
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import faultlib  # noqa: E402
import lstest  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import aztable  # noqa: E402
import whtest  # noqa: E402

WINDOWS = 4
LEADS = 60 if not faultlib.SOAK else 250  # per window, two rows each
KILLS = 8 if not faultlib.SOAK else 20
NAMED = ["page-uncommitted:2", "page-committed:2", "delivered:1", "page-committed:5",
         "delivered:3"]
SEED = int(os.environ.get("LEADSYNC_TEST_SEED", "20261124"))
PK = "11:2F24:2F2026"


def versions(w):
    """[(older row key, newer row key, email)] of window w's leads."""
    out = []
    for i in range(LEADS):
        n = w * LEADS + i
        older, newer = ("a-%05d" % n, "z-%05d" % n) if i % 2 else ("z-%05d" % n, "a-%05d" % n)
        out.append((older, newer, "k%05d@example.com" % n))
    return out


class FaultNewest(lstest.WorkerCase):
    def setUp(self):
        super().setUp()
        self.recv = whtest.Receiver(self.dir, "recv")
        self.env.update(whtest.FAST)
        self.env.update(faultlib.PATIENT)
        self.env.update({"LEADSYNC_SINKS": "webhook:%s,jsonl:%s" % (self.recv.url, self.jsonl),
                         "LEADSYNC_PAGE_SIZE": "25", "LEADSYNC_DELIVERY_BATCH": "20"})
        self.pairs = []

    def tearDown(self):
        self.recv.stop()
        super().tearDown()

    def seed_window(self, w):
        pairs = versions(w)
        self.write_rows([aztable.marketplace_row(PK, o, e, action="PLT") for o, _, e in pairs])
        self.write_rows([aztable.marketplace_row(PK, n, e, action="INS") for _, n, e in pairs])
        self.pairs += pairs
        faultlib.settle()

    def kill_loop(self):
        rnd = random.Random("%d-newest" % SEED)
        seeded = kills = attempts = 0
        hi = 1.0
        self.seed_window(0)
        seeded = 1
        while kills < KILLS:
            attempts += 1
            self.assertLess(attempts, KILLS * 4, "could not land %d kills" % KILLS)
            env = None
            if kills % 3 == 1:
                env = {"LEADSYNC_TEST_CRASH_AT": NAMED[(kills // 3) % len(NAMED)]}
                delay = 120
            else:
                delay = rnd.uniform(0.02, hi)
            t0 = time.monotonic()
            rc, err = faultlib.kill_after(faultlib.spawn(self, ["run", "--once"], env=env), delay)
            took = time.monotonic() - t0
            if rc == -signal.SIGKILL:
                kills += 1
                if kills % (KILLS // (WINDOWS - 1) or 1) == 0 and seeded < WINDOWS:
                    self.seed_window(seeded)
                    seeded += 1
            elif rc == 0:
                if not env:
                    hi = max(0.05, min(hi, 0.9 * took))
                # a run that drained everything leaves nothing to kill: bring the next
                # window, past WINDOWS if the kills have not all landed yet
                self.seed_window(seeded)
                seeded += 1
            else:
                self.fail("a run failed on its own (exit %d):\n%s" % (rc, err[-3000:]))
        while seeded < WINDOWS:
            self.seed_window(seeded)
            seeded += 1
        return kills

    def test_two_versions_per_window(self):
        kills = self.kill_loop()
        t0 = time.monotonic()
        self.run_worker("run", "--once", check=0)
        recover = time.monotonic() - t0
        acc = sorted(self.recv.accepted(), key=lambda r: r["t"])
        by_lead = {}
        for r in acc:
            by_lead.setdefault(r["lead"], []).append(r)
        want = {faultlib.lead_id(e, "contoso.crm-connector"): (o, n) for o, n, e in self.pairs}
        self.assertEqual(len(want), len(self.pairs))
        self.assertGreaterEqual(len(want), WINDOWS * LEADS)
        lost = len(set(want) - set(by_lead))
        stale = dups = 0
        for lead, (older, newer) in want.items():
            recs = by_lead.get(lead, [])
            keys = [r["row_key"] for r in recs]
            if not keys or keys[-1] != newer or (newer in keys and older in keys[keys.index(newer):]):
                stale += 1
            ids = {}
            for r in recs:
                ids.setdefault(r["row_key"], set()).add(r["id"])
            dups += sum(len(v) - 1 for v in ids.values())
        repeats = sum(1 for r in acc if r["dup"])
        faultlib.summary("kills-two-versions", lost, dups, repeats, recover, stale=stale,
                         kills=kills)
        self.assertEqual(lost, 0, "leads lost")
        self.assertEqual(dups, 0, "a row version sent under two webhook-ids")
        self.assertEqual(stale, 0, "leads whose last state is not their newest click")
        whtest.WebhookCase.assert_stages_monotonic(self, acc)
        # the audit file: every version, any repeat under the same deliveryId
        lines = self.lines()
        seen = {}
        for line in lines:
            seen.setdefault(line["lead"]["rowKey"], set()).add(line["deliveryId"])
        rows = {k for pair in want.values() for k in pair}
        self.assertEqual(set(seen), rows, "row versions missing from the audit file")
        self.assertEqual([k for k, ids in seen.items() if len(ids) != 1], [])
        st = [s for s in faultlib.status(self)["sinks"] if s["sink"].startswith("webhook")][0]
        self.assertEqual((st["pending"], st["dead"]), (0, 0), st)


if __name__ == "__main__":
    lstest.main()
