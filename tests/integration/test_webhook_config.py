#!/usr/bin/env python3
"""Webhook configuration end to end: TLS with a CA generated for the test
(LEADSYNC_WEBHOOK_CA_FILE), and without it TLS verification refuses the
receiver; extra headers; the marketplace body format; `check` and
`send-test-lead`; 401 stops the run with exit 77 and 410 with 78, leaving
the leads pending for a later run."""

import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import lstest  # noqa: E402
import whtest  # noqa: E402


class WebhookConfig(whtest.WebhookCase):
    def test_tls_headers_check_and_test_lead(self):
        recv = self.receiver(tls=True, extra_args=["--record-header", "X-Api-Key"])
        self.seed("bulk", 5)
        env = {"LEADSYNC_SINKS": "webhook:" + recv.url,
               "LEADSYNC_WEBHOOK_HEADERS": "X-Api-Key: k-123; X-Other: 1"}
        # Without the CA the receiver's certificate is not trusted: fatal, exit 78.
        p = self.run_worker("run", "--once", env=env, check=78)
        self.assertNotIn("k-123", p.stdout + p.stderr)
        self.assertEqual(recv.records(), [])
        env["LEADSYNC_WEBHOOK_CA_FILE"] = lstest.pki()["ca"]
        p = self.run_worker("check", env=env)
        self.assertIn("sink webhook:%s: ok" % recv.url, p.stdout)
        self.run_worker("run", "--once", env=env, check=0)
        p = self.run_worker("send-test-lead", env=env, check=0)
        self.assertIn("delivered", p.stdout)
        recs = recv.records()
        self.common_checks(recs)
        self.assertEqual(len(recs), 6)
        self.assertTrue(all(r["extra"]["X-Api-Key"] == "k-123" for r in recs))
        self.assertEqual(sum(1 for r in recs if r["lead"].startswith("test")), 1)

    def test_marketplace_format(self):
        recv = self.receiver()
        self.seed("bulk", 3)
        env = {"LEADSYNC_SINKS": "webhook:" + recv.url, "LEADSYNC_WEBHOOK_FORMAT": "marketplace"}
        self.run_worker("run", "--once", env=env, check=0)
        recs = recv.records()
        self.common_checks(recs)
        self.assertEqual(len(recs), 3)
        self.assertTrue(all(r["type"] == "marketplace" and "@" in r["lead"] for r in recs))

    def test_send_test_lead_to_jsonl_and_marketplace_webhook(self):
        # The engine hands sinks a stored lead as text; send-test-lead too.
        recv = self.receiver()
        path = os.path.join(self.dir, "test-lead.jsonl")
        env = {"LEADSYNC_SINKS": "jsonl:%s,webhook:%s" % (path, recv.url),
               "LEADSYNC_WEBHOOK_FORMAT": "marketplace"}
        p = self.run_worker("send-test-lead", env=env, check=0)
        self.assertEqual(p.stdout.count("delivered"), 2, p.stdout)
        with open(path) as f:
            lines = [json.loads(line) for line in f]
        self.assertEqual(len(lines), 1)
        self.assertEqual(lines[0]["type"], "lead.created")
        self.assertTrue(lines[0]["lead"]["isTest"])
        self.assertTrue(lines[0]["deliveryId"].startswith("msg_test"))
        recs = recv.records()
        self.common_checks(recs)
        self.assertEqual(len(recs), 1)
        self.assertEqual(recs[0]["type"], "marketplace")

    def test_auth_refused_and_gone(self):
        recv = self.receiver(rules=[{"status": 401, "count": 1}])
        self.seed("bulk", 4)
        env = {"LEADSYNC_SINKS": "webhook:" + recv.url, "LEADSYNC_MAX_IN_FLIGHT": "1"}
        p = self.run_worker("run", "--once", env=env, check=77)
        self.assertIn("401", p.stderr)
        self.assertEqual(self.sink_stats(self.status(), recv.url)["pending"], 4)
        recv.faults([{"status": 410, "count": 1}])
        p = self.run_worker("run", "--once", env=env, check=78)
        self.assertIn("410", p.stderr)
        s = self.sink_stats(self.status(), recv.url)
        self.assertEqual((s["pending"], s["dead"]), (4, 0))
        self.run_worker("run", "--once", env=env, check=0)
        s = self.sink_stats(self.status(), recv.url)
        self.assertEqual((s["pending"], s["delivered"]), (0, 4))

    def test_bad_configuration(self):
        for env, word in (
            ({"LEADSYNC_SINKS": "webhook:http://example.com/hook"}, "https"),
            ({"LEADSYNC_SINKS": "webhook:https://127.0.0.1:1/h",
              "LEADSYNC_WEBHOOK_SECRET": "whsec_c2hvcnQ="}, "24 to 64"),
            ({"LEADSYNC_SINKS": "webhook:https://127.0.0.1:1/h",
              "LEADSYNC_WEBHOOK_HEADERS": "webhook-id: x"}, "cannot be overridden"),
        ):
            p = self.run_worker("run", "--once", env=env, check=78)
            self.assertIn(word, p.stderr)
            self.assertNotIn("c2hvcnQ", p.stderr)


if __name__ == "__main__":
    whtest.lstest.main()
