#!/usr/bin/env python3
"""Personal data a receiver echoes in its error answers stays out of every
log line, `status`, `status --json` and the ledger's outbox.last_error:
the HubSpot double refuses leads with a body quoting the lead's e-mail and
phone (as HubSpot and Marketo do), a webhook receiver answers 422 with the
same; what is kept is a short excerpt with both masked."""

import json
import os
import sqlite3
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import crmtest  # noqa: E402
import lstest  # noqa: E402
import whtest  # noqa: E402

EMAIL = "zebulon.q@pii-probe.example"
PHONE = "+1 555 0199 4321"
ECHO = {"status": "error", "category": "VALIDATION_ERROR",
        "message": "Property values were not valid: [{\"isValid\":false,\"message\":\"Email "
                   "address %s is invalid; phone %s\",\"error\":\"INVALID_EMAIL\",\"name\":"
                   "\"email\"}]" % (EMAIL, PHONE)}
PROBES = [EMAIL, "pii-probe", PHONE, "0199 4321", "5550199"]


def ledger_errors(case):
    db = sqlite3.connect(case.env["LEADSYNC_STATE"])
    try:
        return [r[0] for r in db.execute("SELECT last_error FROM outbox WHERE state = 'dead'")]
    finally:
        db.close()


def assert_private(case, text, errors):
    case.assertTrue(errors, "no dead letter: the test proves nothing")
    for e in errors:
        case.assertIn("(email)", e, "the echo was not recorded: %r" % e)
        case.assertIn("(phone)", e, e)
        case.assertLessEqual(len(e.encode()), 300)
    low = (text + "\n".join(errors)).lower()
    for s in PROBES:
        case.assertNotIn(s.lower(), low, "kept: %r" % s)


class CrmErrorBodies(crmtest.CrmCase):
    def test_hubspot_echo_masked(self):
        hs = self.crm("hubspot")
        self.env["LEADSYNC_LOG_LEVEL"] = "debug"
        hs.faults([{"route": "POST .*/batch/upsert", "status": 400, "count": 50, "body": ECHO}])
        self.put([crmtest.row(1, email=EMAIL), crmtest.row(2)])
        out = ""
        for fmt in ("text", "json"):
            p = self.run_worker("run", "--once", check=0, env={"LEADSYNC_LOG_FORMAT": fmt})
            out += p.stdout + p.stderr
        self.assertIn(400, [r["status"] for r in hs.requests()], "the echo was never sent")
        st = self.run_worker("status", check=0)
        js = self.run_worker("status", "--json", check=0)
        self.assertIn("(email)", st.stdout, st.stdout)
        self.assertTrue(any("(email)" in d["lastError"]
                            for d in json.loads(js.stdout)["deadLetters"]), js.stdout)
        assert_private(self, out + st.stdout + st.stderr + js.stdout + js.stderr,
                       ledger_errors(self))


class WebhookErrorBodies(whtest.WebhookCase):
    def test_webhook_echo_masked(self):
        body = json.dumps({"error": "lead %s rejected, phone %s" % (EMAIL, PHONE)})
        rcv = self.receiver(rules=[{"status": 422, "count": 50, "body": body}])
        self.env.update({"LEADSYNC_SINKS": "webhook:%s" % rcv.url, "LEADSYNC_LOG_LEVEL": "debug"})
        self.seed("bulk", "2")
        p = self.run_worker("run", "--once", check=0)
        st = self.run_worker("status", check=0)
        js = self.run_worker("status", "--json", check=0)
        assert_private(self, p.stdout + p.stderr + st.stdout + js.stdout, ledger_errors(self))


if __name__ == "__main__":
    lstest.main()
