#!/usr/bin/env python3
"""Throttling: 429 and 503 with Retry-After (seconds and HTTP date) pause the
whole webhook sink. Measured at the receiver: after it answers with a
Retry-After, no request arrives before that delay has passed; every lead
still arrives, with a fresh webhook-timestamp on the retried deliveries.
LEADSYNC_RATE_LIMIT spaces requests out (receiver-measured spacing)."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import whtest  # noqa: E402

LEADS = 12


class WebhookThrottle(whtest.WebhookCase):
    def check_retry_after(self, recs):
        """No request arrives sooner than a Retry-After allows."""
        recs = sorted(recs, key=lambda r: r["t"])
        checked = 0
        for i, r in enumerate(recs):
            if r["retry_after"] is not None:
                for later in recs[i + 1:]:
                    self.assertGreaterEqual(
                        later["t"], r["t_resp"] + r["retry_after"],
                        "request %d came %.3f s after a Retry-After: %d"
                        % (later["seq"], later["t"] - r["t_resp"], r["retry_after"]))
                checked += 1
            if r["retry_after_date"] is not None:
                for later in recs[i + 1:]:
                    self.assertGreaterEqual(later["wall"], r["retry_after_date"],
                                            "request %d came before the Retry-After date"
                                            % later["seq"])
                checked += 1
        return checked

    def test_retry_after_pauses_the_sink(self):
        rules = [
            {"status": 429, "retry_after": 1, "count": 2},
            {"status": 204, "count": 3},
            {"status": 503, "retry_after_date": 1, "count": 1},
            {"status": 204, "count": 2},
            {"status": 429, "retry_after": 2, "count": 1, "body": "slow down"},
        ]
        recv = self.receiver(rules=rules)
        self.seed("bulk", LEADS)
        env = {"LEADSYNC_SINKS": "webhook:" + recv.url, "LEADSYNC_MAX_IN_FLIGHT": "1"}
        self.run_worker("run", "--once", env=env, check=0)
        recs = recv.records()
        self.common_checks(recs)
        self.assertEqual(self.check_retry_after(recs), 4)
        self.assertEqual(len({r["lead"] for r in recv.accepted()}), LEADS)
        # the throttled deliveries went again under the same id, later timestamp
        for r in recs:
            if r["status"] in (429, 503):
                again = [x for x in recs if x["id"] == r["id"] and x["t"] > r["t"]]
                self.assertTrue(again, "throttled delivery %s never retried" % r["id"])
                self.assertGreater(int(again[0]["ts"]), int(r["ts"]))
        s = self.sink_stats(self.status(), recv.url)
        self.assertEqual((s["delivered"], s["pending"], s["dead"]), (LEADS, 0, 0))

    def test_throttle_with_concurrency(self):
        """With several requests in flight the sink still stops starting new
        ones after a throttled answer; everything arrives, none is dead."""
        rules = [{"status": 204, "count": 5}, {"status": 429, "retry_after": 1, "count": 3}]
        recv = self.receiver(rules=rules)
        self.seed("bulk", 30)
        env = {"LEADSYNC_SINKS": "webhook:" + recv.url, "LEADSYNC_MAX_IN_FLIGHT": "8",
               "LEADSYNC_DELIVERY_MAX_ATTEMPTS": "3"}
        self.run_worker("run", "--once", env=env, check=0)
        recs = recv.records()
        self.common_checks(recs)
        self.assertEqual(len({r["lead"] for r in recv.accepted()}), 30)
        s = self.sink_stats(self.status(), recv.url)
        self.assertEqual((s["delivered"], s["dead"]), (30, 0))
        # The last 429 answered: nothing arrived within its Retry-After after
        # the requests already in flight when it was sent.
        last = max((r for r in recs if r["status"] == 429), key=lambda r: r["t_resp"])
        after = [r for r in recs if r["t"] > last["t_resp"]]
        self.assertTrue(after)
        # requests that were already on the wire may land right after it; the
        # first one *started* after the answer cannot come before 1 s
        started_later = [r for r in after if r["t"] - last["t_resp"] >= 0.2]
        if started_later:
            self.assertGreaterEqual(min(r["t"] for r in started_later) - last["t_resp"], 1.0)

    def test_rate_limit_spaces_requests(self):
        recv = self.receiver()
        self.seed("bulk", 20)
        env = {"LEADSYNC_SINKS": "webhook:" + recv.url, "LEADSYNC_MAX_IN_FLIGHT": "8",
               "LEADSYNC_RATE_LIMIT": "20"}
        self.run_worker("run", "--once", env=env, check=0)
        recs = sorted(recv.records(), key=lambda r: r["t"])
        self.assertEqual(len({r["lead"] for r in recs}), 20)
        span = recs[-1]["t"] - recs[0]["t"]
        # 20 requests at 20/s: at least 19 gaps of 50 ms (minus scheduling noise)
        self.assertGreaterEqual(span, 19 * 0.05 * 0.8)


if __name__ == "__main__":
    whtest.lstest.main()
