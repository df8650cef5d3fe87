#!/usr/bin/env python3
"""Logs hold no personal data and no secrets, at any level: a sync at debug
level, in text and in JSON, with known names, emails, phones, descriptions,
a webhook secret, an API-key header and the account key; the logs are
grepped for every one of them. JSON logs are one event per line, each with
its component, and key=value pairs of a message become fields.
"""

import json
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import aztable  # noqa: E402
import lstest  # noqa: E402
import whtest  # noqa: E402

PII = ["Zebulon", "Quixotewright", "zebulon.q@pii-probe.example", "+1 555 0199 4321",
       "Confidential PII probe description 7f3"]
API_KEY = "apikey-d41d8cd98f00b204e980"


def rows(prefix, n):
    out = []
    for i in range(n):
        r = aztable.marketplace_row("11:2F24:2F2026", "%s%03d" % (prefix, i), PII[2],
                                    first=PII[0], last=PII[1], description=PII[4],
                                    action=("PLT", "INS")[i % 2])
        info = json.loads(r["CustomerInfo"])
        info["Phone"] = PII[3]
        r["CustomerInfo"] = json.dumps(info)
        out.append(r)
    # a malformed CustomerInfo is logged (by its keys) and must not leak either
    bad = aztable.marketplace_row("11:2F24:2F2026", prefix + "bad", PII[2])
    bad["CustomerInfo"] = '{"FirstName": "%s", "Email": "%s"' % (PII[0], PII[2])
    out.append(bad)
    return out


class PrivateLogs(whtest.WebhookCase):
    def secrets(self):
        key = re.search(r"AccountKey=([^;]+)", lstest.azurite())
        out = [whtest.SECRET, whtest.SECRET[len("whsec_"):], API_KEY]
        if key:
            out.append(key.group(1))
        return out

    def sync(self, fmt):
        rcv = self.receiver(name="r" + fmt, rules=[{"status": 503, "count": 1},
                                                   {"status": 500, "count": 1},
                                                   {"status": 422, "count": 1}])
        self.env.update({
            "LEADSYNC_SINKS": "webhook:%s,jsonl:%s" % (rcv.url, self.jsonl),
            "LEADSYNC_LOG_LEVEL": "debug",
            "LEADSYNC_LOG_FORMAT": fmt,
            "LEADSYNC_WEBHOOK_HEADERS": "X-Api-Key: " + API_KEY,
            "LEADSYNC_TEST_LEADS": "deliver",
        })
        self.write_rows(rows("p" + fmt, 6))
        lstest.settle()
        p = self.run_worker("run", "--once", check=0)
        self.assertGreater(len(self.lines()), 0, "nothing was delivered: the test proves nothing")
        st = self.run_worker("status")
        chk = self.run_worker("check")
        return p.stderr + p.stdout + st.stderr + chk.stderr

    def assert_clean(self, logs):
        self.assertGreater(len(logs.splitlines()), 5)
        # the paths that name leads were taken: a sink pause (503), a debug retry (500),
        # a dead letter, a malformed row
        self.assertIn("paused for", logs)
        self.assertIn("retry in", logs)
        self.assertIn("dead letter", logs)
        low = logs.lower()
        for s in PII + self.secrets():
            self.assertNotIn(s.lower(), low, "logged: %r" % s)

    def test_text_debug(self):
        self.assert_clean(self.sync("text"))

    def test_json_debug_one_event_per_line(self):
        p_logs = self.sync("json")
        self.assert_clean(p_logs)
        # run's stderr only (status/check print to stdout too)
        p = self.run_worker("run", "--once", check=0)
        n = 0
        for line in p.stderr.splitlines():
            ev = json.loads(line)
            for k in ("ts", "level", "component", "msg"):
                self.assertIn(k, ev, line)
            n += 1
        self.assertGreater(n, 0)
        summary = [json.loads(l) for l in p.stderr.splitlines()
                   if json.loads(l)["msg"].startswith("run done")]
        self.assertEqual(len(summary), 1)
        self.assertIsInstance(summary[0]["rows"], int)
        self.assertIsInstance(summary[0]["delivered"], int)


if __name__ == "__main__":
    lstest.main()
