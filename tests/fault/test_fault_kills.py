#!/usr/bin/env python3
"""SIGKILL at random points of a sync into the webhook receiver and into each
CRM double (Salesforce, Dynamics 365, Marketo, HubSpot, Web-to-Lead), then a
clean run; at the receiver or double every lead must be present (lost = 0)
and, for the CRMs, one record per customer (duplicates = 0).

Kills come two ways: named crash points inside the worker
(LEADSYNC_TEST_CRASH_AT=NAME:N, worker/ls_common.h: a page's transaction
open, right after a page commit, right after a delivery batch's "delivered"
commit) and SIGKILL from outside after a random delay. Only a run that was
really killed counts; when a run drains everything before its kill, the next
chunk of rows is seeded so later kills land in real work. Rows come from
`leadsync-seed bulk` (one customer per row, no DNC or validation leads).

Per sink one line: case=kills-<sink> lost= duplicates= repeats= recover_s=
(recover_s: wall time of the clean run after the last kill; reported, never
asserted). Repeats are deliveries the receiver saw twice (same webhook-id,
deduped) or CRM upserts of a record that already held that version.

Web-to-Lead cannot deduplicate (every post creates a lead; there is no key to
upsert on). The sink marks each lead in the ledger (sink_posts),
durably, before its post; a SIGKILL between a post and the batch's
"delivered" commit leaves the mark, and the next run makes that lead a dead
letter saying the outcome is unknown instead of posting it again. For it the
test asserts duplicates = 0 and that every lead either arrived or is such a
dead letter; it reports the dead letters and how many of them did arrive.

Default: 2000 rows and 9 kills per sink (54 in all). LEADSYNC_TEST_SOAK=1
(scripts/test --soak): 5000 rows and 25 kills per sink (150 in all).
"""

import os
import random
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import faultlib  # noqa: E402
import lstest  # noqa: E402

ROWS = 5000 if faultlib.SOAK else 2000
KILLS = 25 if faultlib.SOAK else 9
CHUNKS = 4
NAMED = ["page-uncommitted:2", "page-committed:3", "delivered:2", "delivered:9",
         "page-committed:1", "delivered:5"]
SEED = int(os.environ.get("LEADSYNC_TEST_SEED", "20261124"))
TOTAL = {"kills": 0}


class FaultKills(lstest.WorkerCase):
    def setUp(self):
        super().setUp()
        self.sink = None

    def tearDown(self):
        if self.sink:
            self.sink.stop()
        super().tearDown()

    def kill_loop(self, sink_name):
        sink = self.sink = faultlib.SINKS[sink_name](self)
        self.env.update(sink.env())
        self.env.update({"LEADSYNC_PAGE_SIZE": "100", "LEADSYNC_DELIVERY_BATCH": "50"})
        rnd = random.Random("%d-%s" % (SEED, sink_name))
        chunk = ROWS // CHUNKS
        seeded = 0

        def seed_next():
            nonlocal seeded
            n = min(chunk, ROWS - seeded)
            faultlib.seed(self, n, start=seeded, seed_value=7)
            seeded += n
            faultlib.settle()

        seed_next()
        kills = named = attempts = 0
        # A random kill lands only while the run is still going: when a run
        # finishes first, later kills are drawn within what that run took.
        hi = 1.0
        while kills < KILLS:
            attempts += 1
            self.assertLess(attempts, KILLS * 4, "could not land %d kills in %d runs"
                            % (KILLS, attempts))
            env = None
            if kills % 3 == 1:  # every third kill at a named point
                point = NAMED[(kills // 3) % len(NAMED)]
                env = {"LEADSYNC_TEST_CRASH_AT": point}
                delay = 120
            else:
                delay = rnd.uniform(0.02, hi)
            t0 = time.monotonic()
            p = faultlib.spawn(self, ["run", "--once"], env=env)
            rc, err = faultlib.kill_after(p, delay)
            took = time.monotonic() - t0
            if rc == -signal.SIGKILL:
                kills += 1
                named += 1 if env else 0
                if kills % (KILLS // (CHUNKS - 1) or 1) == 0 and seeded < ROWS:
                    seed_next()
            elif rc == 0:
                if not env:
                    hi = max(0.05, min(hi, 0.9 * took))
                if seeded < ROWS:
                    seed_next()
            else:
                self.fail("a run failed on its own (exit %d):\n%s" % (rc, err[-3000:]))
        while seeded < ROWS:
            seed_next()
        t0 = time.monotonic()
        p = self.run_worker("run", "--once")
        recover = time.monotonic() - t0
        want = faultlib.expected(self.table)
        self.assertEqual(len(want), ROWS)
        return want, kills, named, recover, p

    def check_kills(self, kills, named):
        """The run really was killed KILLS times, some at named crash points."""
        self.assertGreaterEqual(kills, KILLS, "fewer kills than asked for")
        self.assertGreaterEqual(named, KILLS // 3, "too few kills at named crash points")
        TOTAL["kills"] += kills

    def stats(self, name):
        st = faultlib.status(self)
        return [s for s in st["sinks"] if s["sink"].startswith(name)][0]

    def check_crm(self, sink_name):
        want, kills, named, recover, p = self.kill_loop(sink_name)
        self.assertEqual(p.returncode, 0, p.stderr[-3000:])
        self.check_kills(kills, named)
        lost, dups, repeats = self.sink.report(want)
        faultlib.summary("kills-" + sink_name, lost, dups, repeats, recover, kills=kills,
                         named=named)
        self.assertEqual(lost, 0, "leads lost")
        self.assertEqual(dups, 0, "duplicate CRM records")
        s = self.stats(sink_name)
        self.assertEqual((s["pending"], s["dead"]), (0, 0), s)

    def test_webhook(self):
        self.check_crm("webhook")

    def test_salesforce(self):
        self.check_crm("salesforce")

    def test_dynamics(self):
        self.check_crm("dynamics")

    def test_marketo(self):
        self.check_crm("marketo")

    def test_hubspot(self):
        self.check_crm("hubspot")

    def test_web_to_lead(self):
        want, kills, named, recover, p = self.kill_loop("web_to_lead")
        self.assertEqual(p.returncode, 0, p.stderr[-3000:])
        self.check_kills(kills, named)
        recs = self.sink.records()
        arrived = {e.lower() for e, _ in recs}
        dead = {r[0] for r in faultlib.ledger_rows(
            self.env["LEADSYNC_STATE"], "SELECT lead_id FROM outbox WHERE state = 'dead'")}
        for r in faultlib.ledger_rows(self.env["LEADSYNC_STATE"],
                                      "SELECT last_error FROM outbox WHERE state = 'dead'"):
            self.assertTrue(r[0], "a dead letter without a reason")
        silent = [lid for lid, email in want.items() if email not in arrived and lid not in dead]
        dups = len(recs) - len(arrived)
        faultlib.summary("kills-web_to_lead", len(silent), dups, 0, recover, kills=kills,
                         named=named, dead_letters=len(dead),
                         dead_but_arrived=sum(1 for lid in dead if want.get(lid) in arrived))
        self.assertEqual(silent, [], "leads neither delivered nor dead-lettered")
        self.assertEqual(dups, 0, "duplicate Web-to-Lead records")
        for lid, err in faultlib.ledger_rows(
                self.env["LEADSYNC_STATE"],
                "SELECT lead_id, last_error FROM outbox WHERE state = 'dead'"):
            self.assertIn("outcome unknown", err or "", "dead letter of %s" % lid)
        self.assertLessEqual(len(dead), kills, "more dead letters than kills")
        s = self.stats("web_to_lead")
        self.assertEqual(s["pending"], 0, s)


def tearDownModule():
    # A report only: each test asserts its own kills (check_kills), so no
    # test depends on which others ran or in what order.
    if TOTAL["kills"]:
        print("case=kills-total kills=%d" % TOTAL["kills"], flush=True)


if __name__ == "__main__":
    lstest.main()
