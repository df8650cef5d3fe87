#!/usr/bin/env python3
"""The notification sinks end to end: Azurite -> leadsync -> a loopback SMTP
server (tests/tools/smtp_server.py, STARTTLS or implicit TLS with a test CA,
AUTH PLAIN/LOGIN) and loopback Teams and Slack webhooks
(tests/tools/chat_hooks.py, which refuse any message off the documented
shape). Checks the MIME message (headers, RFC 2047 subject, both parts, HTML
escaping, Message-ID from the delivery id, Date), the card and blocks, a
do-not-contact lead without a call to action, the validation lead skipped,
send-test-lead and check per sink; and the bad cases: a rejected recipient
(dead letter), refused AUTH (77, the password nowhere), 4xx answers, 429
with Retry-After, a gone webhook (78), a dropped connection and a kill -9 —
every lead delivered, a repeat only under the same Message-ID."""

import email
import email.header
import email.policy
import email.utils
import json
import os
import signal
import sqlite3
import subprocess
import sys
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import crmtest  # noqa: E402
import lstest  # noqa: E402

TOOLS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools")
PASSWORD = "smtp-Secret-9876"


class Smtp:
    def __init__(self, pki, *args):
        self.proc = subprocess.Popen(
            [sys.executable, os.path.join(TOOLS, "smtp_server.py"), "--cert", pki["cert"],
             "--key", pki["key"]] + list(args), stdout=subprocess.PIPE, text=True)
        self.port, self.ctl = (int(x) for x in self.proc.stdout.readline().split())

    def call(self, path, payload=None):
        data = None if payload is None else json.dumps(payload).encode()
        req = urllib.request.Request("http://127.0.0.1:%d%s" % (self.ctl, path), data=data,
                                     method="GET" if data is None else "POST")
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read())

    def messages(self):
        return [dict(m, msg=email.message_from_string(m["data"], policy=email.policy.default))
                for m in self.call("/messages")]

    def fault(self, rules):
        self.call("/fault", rules)

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)
        self.proc.stdout.close()


def row(i, **kw):
    return crmtest.row(i, **kw)


class NotifyCase(crmtest.CrmCase):
    def smtp(self, *args, scheme="smtp", user=True):
        extra = ["--user", "sales", "--password", PASSWORD] if user else []
        s = Smtp(self.pki, *(extra + list(args)))
        self.addCleanup(s.stop)
        self.env.update({
            "LEADSYNC_SINKS": "mail=email",
            "LEADSYNC_EMAIL_URL": "%s://127.0.0.1:%d" % (scheme, s.port),
            "LEADSYNC_EMAIL_FROM": "Leads <leads@example.com>",
            "LEADSYNC_EMAIL_TO": "sales@example.com, boss@example.com",
            "LEADSYNC_EMAIL_CA_FILE": self.pki["ca"],
        })
        if user:
            pw = os.path.join(self.dir, "smtp-password")
            with open(pw, "w") as f:
                f.write(PASSWORD + "\n")
            self.env.update({"LEADSYNC_EMAIL_USERNAME": "sales",
                             "LEADSYNC_EMAIL_PASSWORD_FILE": pw})
        return s

    def hooks(self, sinks="teams,slack"):
        d = self.double("chat_hooks.py")
        self.env.update({
            "LEADSYNC_TEAMS_CA_FILE": self.pki["ca"],
            "LEADSYNC_SLACK_CA_FILE": self.pki["ca"],
            "LEADSYNC_SINKS": ",".join("%s:%s/%s/T0/B0/xyz" % (k, d.url, k)
                                       for k in sinks.split(",")),
        })
        return d

    def delivery_ids(self, sink):
        db = sqlite3.connect(self.env["LEADSYNC_STATE"])
        try:
            return [r[0] for r in db.execute("SELECT delivery_id FROM outbox WHERE sink = ?",
                                             (sink,))]
        finally:
            db.close()

    def assertPrivate(self, p):
        out = p.stdout + p.stderr
        self.assertNotIn(PASSWORD, out)
        for secret in ("customer000", "Lovelace", "+1 555"):
            self.assertNotIn(secret, p.stderr, "personal data in a log line")


class EmailSink(NotifyCase):
    def test_messages_mime_encoding_and_auth(self):
        s = self.smtp()
        rows = [row(0, first="Zoë", last="Ångström <script>"), row(1, action="StartTestDrive"),
                row(2, action="DNC", email="nobody@example.com"),
                row(90, first="MSFT_TEST_636573304831318844")]
        rows[0]["Description"] = "Wants a demo & a quote\nSecond line é"
        self.put(rows)
        p = self.run_worker("run", "--once", check=0)
        self.assertPrivate(p)
        msgs = s.messages()
        self.assertEqual(len(msgs), 3, "the validation lead is skipped")
        for m in msgs:
            self.assertTrue(m["tls"], "STARTTLS was offered, so it is used")
            self.assertEqual((m["user"], m["mechanism"] in ("PLAIN", "LOGIN")), ("sales", True))
            self.assertEqual(m["mail_from"], "<leads@example.com>")
            self.assertEqual(m["rcpt"], ["<sales@example.com>", "<boss@example.com>"])
            msg = m["msg"]
            self.assertEqual(msg["From"], "Leads <leads@example.com>")
            self.assertIn("boss@example.com", msg["To"])
            self.assertIsNotNone(email.utils.parsedate_to_datetime(msg["Date"]))
            self.assertRegex(msg["Message-ID"], r"^<[A-Za-z0-9._=+-]+@example\.com>$")
            self.assertEqual(msg.get_content_type(), "multipart/alternative")
            kinds = [part.get_content_type() for part in msg.iter_parts()]
            self.assertEqual(kinds, ["text/plain", "text/html"])
            for part in msg.iter_parts():
                self.assertEqual(part.get_content_charset(), "utf-8")
        by_subject = {m["msg"]["Subject"]: m for m in msgs}
        zoe = by_subject["Zoë Ångström <script> (Example Corp) asked to be contacted: "
                         "Contoso CRM Connector"]
        self.assertTrue(zoe["data"].split("\r\n\r\n")[0].count("=?UTF-8?B?") >= 1,
                        "the subject is RFC 2047 encoded")
        text, html = [part.get_content() for part in zoe["msg"].iter_parts()]
        for want in ("Zoë Ångström <script>", "Example Corp", "CTO", "US", "customer000000@",
                     "+1 555 0100", "Contoso CRM Connector", "asked to be contacted",
                     "initial interest", "Wants a demo & a quote\nSecond line é"):
            self.assertIn(want, text)
        self.assertIn("Ångström &lt;script&gt;", html)
        self.assertNotIn("<script>", html)
        self.assertIn("Wants a demo &amp; a quote<br>Second line é", html)
        self.assertIn("mailto:customer000000@example.com", html)
        self.assertIn("started a test drive", "".join(by_subject))
        dnc = [m for m in msgs if m["msg"]["Subject"].startswith("Do not contact: ")]
        self.assertEqual(len(dnc), 1)
        self.assertNotIn("mailto:", dnc[0]["data"])
        self.assertNotIn("Reply to the customer", dnc[0]["data"])
        ids = {m["msg"]["Message-ID"][1:].split("@")[0] for m in msgs}
        self.assertTrue(ids <= set(self.delivery_ids("mail")), (ids, self.delivery_ids("mail")))
        s_ = self.sink_stats("mail")
        self.assertEqual((s_["delivered"], s_["dead"], s_["pending"]), (3, 0, 0))

        p = self.run_worker("check")
        self.assertIn("sink mail: ok", p.stdout, p.stdout + p.stderr)
        p = self.run_worker("send-test-lead", "--sink", "mail", check=0)
        self.assertIn("delivered", p.stdout)
        self.assertEqual(len(s.messages()), 4)

    def test_implicit_tls_and_plain_loopback(self):
        s = self.smtp("--implicit-tls", scheme="smtps")
        self.put([row(0)])
        self.run_worker("run", "--once", check=0)
        self.assertEqual([m["tls"] for m in s.messages()], [True])

    def test_invalid_recipient_is_a_dead_letter(self):
        s = self.smtp("--reject-rcpt", "boss@example.com")
        self.put([row(0), row(1)])
        p = self.run_worker("run", "--once", check=0)
        self.assertEqual(s.messages(), [])
        st = self.sink_stats("mail")
        self.assertEqual((st["delivered"], st["dead"]), (0, 2))
        p = self.run_worker("status", check=0)
        self.assertIn("550", p.stdout + p.stderr)
        self.assertIn("recipient", p.stdout + p.stderr)

    def test_refused_auth_exits_77(self):
        self.smtp()
        pw = self.env["LEADSYNC_EMAIL_PASSWORD_FILE"]
        with open(pw, "w") as f:
            f.write("wrong-" + PASSWORD)
        self.put([row(0)])
        p = self.run_worker("run", "--once", check=77)
        self.assertIn("LEADSYNC_EMAIL_PASSWORD", p.stderr)
        self.assertPrivate(p)
        self.assertEqual(self.sink_stats("mail")["pending"], 1, "nothing lost")
        p = self.run_worker("send-test-lead", "--sink", "email", check=77)

    def test_4xx_and_a_dropped_line_lose_nothing(self):
        s = self.smtp()
        s.fault([{"on": "RCPT", "reply": "451 4.3.0 greylisted, try later", "count": 1},
                 {"on": "DOT", "drop": True, "count": 1},
                 {"on": "MAIL", "reply": "421 4.7.0 too many connections", "count": 1}])
        self.put([row(i) for i in range(4)])
        p = self.run_worker("run", "--once", check=0)
        st = self.sink_stats("mail")
        self.assertEqual((st["delivered"], st["dead"], st["pending"]), (4, 0, 0), p.stderr)
        msgs = s.messages()
        mids = [m["msg"]["Message-ID"] for m in msgs]
        self.assertEqual(len(set(mids)), 4)
        self.assertEqual(len(mids), 5, "the message whose answer was lost went again")
        for mid in set(mids):
            subj = {m["msg"]["Subject"] for m in msgs if m["msg"]["Message-ID"] == mid}
            self.assertEqual(len(subj), 1, "a repeat is the same message")

    def test_kill_and_outage_lose_nothing(self):
        s = self.smtp()
        self.put([row(i) for i in range(6)])
        p = self.run_worker("run", "--once", env={"LEADSYNC_TEST_CRASH_AT": "notify-sent:2"})
        self.assertEqual(p.returncode, -9, p.stderr)
        before = [m["msg"]["Message-ID"] for m in s.messages()]
        self.assertEqual(len(before), 2, "killed after the second message went out")
        s.stop()
        p = self.run_worker("run", "--once", env={"LEADSYNC_ONCE_MAX_WAIT_SECONDS": "1"})
        st = self.sink_stats("mail")
        self.assertEqual((st["delivered"], st["dead"], st["pending"]), (0, 0, 6), p.stderr)
        s2 = self.smtp()  # the server comes back, on a new port
        self.run_worker("run", "--once", check=0)
        st = self.sink_stats("mail")
        self.assertEqual((st["delivered"], st["dead"], st["pending"]), (6, 0, 0))
        mids = [m["msg"]["Message-ID"] for m in s2.messages()]
        self.assertEqual(len(mids), 6, "each lead once after the outage")
        self.assertEqual(len(set(mids)), 6)
        self.assertTrue(set(before) <= set(mids), "the unrecorded message went again, same id")

    def test_configuration_errors(self):
        self.smtp()
        for url in ("smtp://mail.example.com:587x", "http://127.0.0.1:25",
                    "smtp://user:pw@127.0.0.1:25"):
            p = self.run_worker("check", env={"LEADSYNC_EMAIL_URL": url}, check=78)
            self.assertIn("LEADSYNC_EMAIL_URL", p.stdout + p.stderr)
        p = self.run_worker("check", env={"LEADSYNC_EMAIL_TO": "sales"}, check=78)
        self.assertIn("LEADSYNC_EMAIL_TO", p.stdout + p.stderr)
        p = self.run_worker("check", env={"LEADSYNC_EMAIL_FROM": ""}, check=78)


class ChatSinks(NotifyCase):
    def test_teams_and_slack_messages(self):
        d = self.hooks()
        rows = [row(0, first="<!channel> Eve", last="& Co"), row(1, action="INS"),
                row(2, action="DNC", email="nobody@example.com"),
                row(90, first="MSFT_TEST_636573304831318844")]
        self.put(rows)
        p = self.run_worker("run", "--once", check=0)
        self.assertPrivate(p)
        st = d.state()
        self.assertEqual((len(st["teams"]), len(st["slack"])), (3, 3))
        # a run sends leads in the ledger's order, not the order written here:
        # find each message by its content
        card = [t["attachments"][0]["content"] for t in st["teams"]
                if "Eve" in json.dumps(t)][0]
        self.assertEqual(card["version"], "1.4")
        facts = {f["title"]: f["value"] for b in card["body"] if b["type"] == "FactSet"
                 for f in b["facts"]}
        self.assertEqual(facts["Name"], "<!channel> Eve & Co")
        self.assertEqual(facts["Email"], "customer000000@example.com")
        self.assertEqual(facts["Action"], "asked to be contacted")
        for k in ("Company", "Title", "Country", "Phone", "Offer", "Stage", "Time"):
            self.assertTrue(facts[k] and facts[k] != "-", k)
        self.assertEqual(card["actions"][0]["url"], "mailto:customer000000@example.com")
        dnc = [b for b in st["teams"] if "Do not contact" in json.dumps(b)]
        self.assertEqual(len(dnc), 1)
        self.assertEqual(dnc[0]["attachments"][0]["content"]["actions"], [])
        sl = [m for m in st["slack"] if "Eve" in m["text"]][0]
        mrkdwn = [f["text"] for b in sl["blocks"] for f in b.get("fields", []) + [b.get("text")]
                  if f and f.get("type") == "mrkdwn"]
        self.assertNotIn("<!channel>", sl["text"] + "".join(mrkdwn),
                         "a value cannot mention the channel")
        self.assertIn("&lt;!channel&gt; Eve &amp; Co", sl["text"])
        self.assertIn("<mailto:customer000000@example.com|", json.dumps(sl))
        sdnc = [b for b in st["slack"] if "Do not contact" in b["text"]]
        self.assertEqual(len(sdnc), 1)
        self.assertNotIn("mailto:", json.dumps(sdnc[0]))
        self.assertIn("deployed the offer", json.dumps(st["slack"]))

        p = self.run_worker("check")
        self.assertIn("sink teams:", p.stdout)
        for sink in ("teams", "slack"):
            p = self.run_worker("send-test-lead", "--sink", sink, check=0)
            self.assertIn("delivered", p.stdout)
        st = d.state()
        self.assertEqual((len(st["teams"]), len(st["slack"])), (4, 4))

    def test_4xx_429_and_5xx(self):
        d = self.hooks()
        d.faults([{"route": "POST /slack", "status": 429, "headers": {"Retry-After": "1"},
                   "body": "rate_limited", "count": 1},
                  {"route": "POST /teams", "status": 400, "body": "Bad card", "count": 1},
                  {"route": "POST /teams", "status": 500, "count": 1},
                  {"route": "POST /slack", "status": 503, "count": 1}])
        self.put([row(i) for i in range(3)])
        p = self.run_worker("run", "--once", check=0)
        st = d.state()
        self.assertEqual(len(st["slack"]), 3, p.stderr)
        self.assertEqual(len(st["teams"]), 2, "the refused card is a dead letter")
        teams_id = [k for k in (x["sink"] for x in self.status()["sinks"]) if k.startswith("teams")]
        t = self.sink_stats(teams_id[0])
        self.assertEqual((t["delivered"], t["dead"], t["pending"]), (2, 1, 0))
        reqs = [r for r in d.requests() if r["path"].startswith("/slack")]
        self.assertEqual([r["status"] for r in reqs][:1], [429])
        self.assertGreaterEqual(reqs[1]["t"] - reqs[0]["t"], 0.9, "Retry-After honoured")

    def test_gone_and_refused_webhooks(self):
        d = self.hooks("slack")
        d.faults([{"route": "POST /slack", "status": 404, "body": "no_service", "count": 1}])
        self.put([row(0)])
        p = self.run_worker("run", "--once", check=78)
        self.assertIn("gone", p.stderr)
        d.faults([{"route": "POST /slack", "status": 403, "body": "invalid_token", "count": 1}])
        self.run_worker("run", "--once", check=77)
        self.run_worker("run", "--once", check=0)
        self.assertEqual(len(d.state()["slack"]), 1, "nothing lost")

    def test_stop_cuts_off_a_held_post(self):
        """SIGTERM while a post is held far past the grace: the daemon exits 0
        while the double still holds it; nothing counts an attempt, and the
        next run posts every lead."""
        d = self.hooks("slack")
        self.env.update({"LEADSYNC_POLL_SECONDS": "1", "LEADSYNC_HTTP_TIMEOUT_SECONDS": "120",
                         "LEADSYNC_STOP_GRACE_SECONDS": "1"})
        d.faults([{"route": "POST /slack", "delay_ms": 12000, "count": 1}])
        self.put([row(0), row(1)])
        proc = self.run_daemon()
        lstest.wait_for(lambda: d.call("/__held")["held"] == 1 or proc.poll() is not None, 60,
                        "the double to hold a post")
        self.assertIsNone(proc.poll(), "the daemon ended before its post was held")
        proc.send_signal(signal.SIGTERM)
        self.assertEqual(proc.wait(60), 0)
        self.assertEqual(d.call("/__held")["held"], 1, "the daemon waited for the held answer")
        db = sqlite3.connect(self.env["LEADSYNC_STATE"])
        try:
            rows = db.execute("SELECT state, attempts FROM outbox ORDER BY lead_id").fetchall()
        finally:
            db.close()
        self.assertEqual(rows, [("pending", 0), ("pending", 0)])
        self.run_worker("run", "--once", check=0)
        self.assertEqual(self.sink_stats(self.status()["sinks"][0]["sink"])["delivered"], 2)

    def test_https_only_except_loopback(self):
        self.hooks()
        for kind in ("teams", "slack"):
            p = self.run_worker("check", env={"LEADSYNC_SINKS": "%s:http://hooks.example.com/x"
                                              % kind}, check=78)
            self.assertIn("https", p.stdout + p.stderr)


if __name__ == "__main__":
    lstest.main()
