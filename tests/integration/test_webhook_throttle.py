#!/usr/bin/env python3
"""Throttling: 429 and 503 with Retry-After (seconds and HTTP date) pause the
whole webhook sink; LEADSYNC_RATE_LIMIT spaces requests out.

Nothing here measures time at the receiver (a loaded machine stretches or
squeezes it). The checks are on what the worker decided: the pause its log
states (the test backoff is at most 400 ms, so a longer pause can only come
from the Retry-After), the requests that did or did not go out within one
run while a long pause holds, and the webhook-timestamps the worker stamped
on its own requests."""

import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import whtest  # noqa: E402

LEADS = 12
BACKOFF_CAP_MS = int(whtest.FAST["LEADSYNC_DELIVERY_BACKOFF_CAP_MS"])
HOUR = 3600


def pauses(stderr):
    """The pauses (ms) the run's log states, in order."""
    return [int(m) for m in re.findall(r"paused for (\d+) ms", stderr)]


class WebhookThrottle(whtest.WebhookCase):
    def test_retry_after_pauses_the_sink(self):
        rules = [
            {"status": 429, "retry_after": 1, "count": 2},
            {"status": 204, "count": 3},
            {"status": 503, "retry_after_date": 2, "count": 1},
            {"status": 204, "count": 2},
            {"status": 429, "retry_after": 2, "count": 1, "body": "slow down"},
        ]
        recv = self.receiver(rules=rules)
        self.seed("bulk", LEADS)
        env = {"LEADSYNC_SINKS": "webhook:" + recv.url, "LEADSYNC_MAX_IN_FLIGHT": "1"}
        p = self.run_worker("run", "--once", env=env, check=0)
        recs = sorted(recv.records(), key=lambda r: r["seq"])
        self.common_checks(recs)
        # One pause per throttled answer, as long as its Retry-After; the
        # HTTP date (2-3 s ahead when sent) gives more than any backoff.
        got = pauses(p.stderr)
        self.assertEqual(len(got), 4, p.stderr[-3000:])
        self.assertEqual([got[0], got[1], got[3]], [1000, 1000, 2000], p.stderr[-3000:])
        self.assertGreater(got[2], BACKOFF_CAP_MS, "the Retry-After date was not honoured")
        self.assertLessEqual(got[2], 3000)
        self.assertEqual(len({r["lead"] for r in recv.accepted()}), LEADS)
        # The throttled deliveries went again under the same id, with a later
        # timestamp: each waited at least a second (or past the date).
        for i, r in enumerate(recs):
            if r["status"] in (429, 503):
                again = [x for x in recs[i + 1:] if x["id"] == r["id"]]
                self.assertTrue(again, "throttled delivery %s never retried" % r["id"])
                self.assertGreater(int(again[0]["ts"]), int(r["ts"]))
        s = self.sink_stats(self.status(), recv.url)
        self.assertEqual((s["delivered"], s["pending"], s["dead"]), (LEADS, 0, 0))

    def test_retry_after_holds_across_runs(self):
        """A Retry-After of an hour: the run sends nothing more (it would
        retry within its wait if it ignored the header), leaves the rest
        pending, and the next run, an instant later, sends nothing at all."""
        recv = self.receiver(rules=[{"status": 429, "retry_after": HOUR, "count": 1}])
        self.seed("bulk", 5)
        env = {"LEADSYNC_SINKS": "webhook:" + recv.url, "LEADSYNC_MAX_IN_FLIGHT": "1",
               "LEADSYNC_ONCE_MAX_WAIT_SECONDS": "2"}
        p = self.run_worker("run", "--once", env=env, check=75)
        self.assertEqual(pauses(p.stderr), [HOUR * 1000], p.stderr[-3000:])
        self.assertEqual([r["status"] for r in recv.records()], [429])
        s = self.sink_stats(self.status(), recv.url)
        self.assertEqual((s["delivered"], s["pending"], s["dead"]), (0, 5, 0))
        self.assertIsNotNone(s.get("paused"), s)
        self.run_worker("run", "--once", env=env, check=75)
        self.assertEqual(len(recv.records()), 1, "a request went out during the pause")

    def test_throttle_with_concurrency(self):
        """With several requests in flight, a throttled answer pauses the
        sink: the throttled deliveries are not sent again within the run,
        stay pending with no attempt counted, and none is dead."""
        rules = [{"status": 204, "count": 5}, {"status": 429, "retry_after": HOUR, "count": 3}]
        recv = self.receiver(rules=rules)
        self.seed("bulk", 30)
        env = {"LEADSYNC_SINKS": "webhook:" + recv.url, "LEADSYNC_MAX_IN_FLIGHT": "8",
               "LEADSYNC_DELIVERY_MAX_ATTEMPTS": "3", "LEADSYNC_ONCE_MAX_WAIT_SECONDS": "2"}
        p = self.run_worker("run", "--once", env=env, check=75)
        recs = recv.records()
        self.common_checks(recs)
        self.assertEqual(pauses(p.stderr), [HOUR * 1000], p.stderr[-3000:])
        throttled = {r["id"] for r in recs if r["status"] == 429}
        self.assertEqual(len(throttled), 3)
        for wid in throttled:
            self.assertEqual(len([r for r in recs if r["id"] == wid]), 1,
                             "delivery %s was sent again during the pause" % wid)
        accepted = {r["lead"] for r in recv.accepted()}
        s = self.sink_stats(self.status(), recv.url)
        self.assertEqual((s["delivered"], s["dead"]), (len(accepted), 0))
        self.assertEqual(s["pending"], 30 - len(accepted))
        self.assertGreaterEqual(s["pending"], 3)

    def test_rate_limit_spaces_requests(self):
        """10 requests a second: 21 requests take at least 2 s of the
        worker's own clock, so the webhook-timestamps it stamps (whole
        seconds, taken as each request starts) span at least 2."""
        recv = self.receiver()
        self.seed("bulk", 21)
        env = {"LEADSYNC_SINKS": "webhook:" + recv.url, "LEADSYNC_MAX_IN_FLIGHT": "8",
               "LEADSYNC_RATE_LIMIT": "10"}
        self.run_worker("run", "--once", env=env, check=0)
        recs = recv.records()
        self.common_checks(recs)
        self.assertEqual(len({r["lead"] for r in recs}), 21)
        ts = [int(r["ts"]) for r in recs]
        self.assertGreaterEqual(max(ts) - min(ts), 2)


if __name__ == "__main__":
    whtest.lstest.main()
