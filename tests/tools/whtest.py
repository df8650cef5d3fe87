"""whtest.py - helpers for the webhook sink's integration tests: a
WorkerCase (lstest.py) that starts loopback receivers (receiver.py), points
LEADSYNC_SINKS at them and reads their request logs.
"""

import json
import os
import subprocess
import sys
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lstest  # noqa: E402

RECEIVER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "receiver.py")
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
STAGE_RANK = lstest.STAGE_RANK

# Generous attempts so nothing becomes a dead letter by accident.
FAST = dict(lstest.FAST)
FAST.update({
    "LEADSYNC_DELIVERY_MAX_ATTEMPTS": "40",
    "LEADSYNC_WEBHOOK_TIMEOUT_SECONDS": "1",
    "LEADSYNC_WEBHOOK_SECRET": SECRET,
})


free_port = lstest.free_port


class Receiver:
    def __init__(self, workdir, name, port=0, rules=None, extra_args=()):
        self.log = os.path.join(workdir, "%s.log" % name)
        scen = os.path.join(workdir, "%s.rules.json" % name)
        with open(scen, "w") as f:
            json.dump(rules or [], f)
        self.proc = subprocess.Popen(
            [sys.executable, RECEIVER, "--log", self.log, "--secret", SECRET, "--scenario", scen,
             "--port", str(port), "--max-seconds", "600"] + list(extra_args),
            stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if not line.strip():
            raise RuntimeError("receiver did not start")
        self.port = int(line)
        self.scheme = "https" if "--cert" in extra_args else "http"

    @property
    def url(self):
        return "%s://127.0.0.1:%d/hook" % (self.scheme, self.port)

    def control(self, path, payload):
        req = urllib.request.Request("http://127.0.0.1:%d%s" % (self.port, path),
                                     data=json.dumps(payload).encode(), method="POST")
        urllib.request.urlopen(req, timeout=10).read()

    def faults(self, rules):
        self.control("/__faults", rules)

    def records(self):
        if not os.path.exists(self.log):
            return []
        with open(self.log) as f:
            return [json.loads(line) for line in f if line.endswith("\n")]

    def accepted(self):
        """Records of deliveries the receiver took (2xx, answered, checks passed)."""
        return [r for r in self.records()
                if r["status"] is not None and 200 <= r["status"] < 300 and not r["check"]]

    def stop(self):
        lstest.stop_process(self.proc)


class WebhookCase(lstest.WorkerCase):
    def setUp(self):
        super().setUp()
        self.receivers = []
        self.env.update(FAST)

    def tearDown(self):
        for r in self.receivers:
            r.stop()
        super().tearDown()

    def receiver(self, name="recv", tls=False, extra_args=(), **kw):
        """A receiver; tls=True serves https with the test PKI's server
        certificate (trusted through lstest.pki()["ca"])."""
        if tls:
            pki = lstest.pki()
            extra_args = ["--cert", pki["cert"], "--key", pki["key"]] + list(extra_args)
        r = Receiver(self.dir, name, extra_args=extra_args, **kw)
        self.receivers.append(r)
        return r

    def seed(self, *args):
        p = subprocess.run([lstest.seeder(), "--connection-string", lstest.azurite(), "--table",
                            self.table_name] + [str(a) for a in args],
                           capture_output=True, text=True, timeout=300)
        self.assertEqual(p.returncode, 0, "leadsync-seed failed: %s" % p.stderr[-2000:])
        lstest.settle()

    def sink_stats(self, st, url):
        for s in st["sinks"]:
            if s["sink"] == "webhook:" + url:
                return s
        self.fail("no sink %s in status: %s" % (url, st["sinks"]))

    def common_checks(self, recs):
        """Every delivery was signed, carried Idempotency-Key = webhook-id, and
        every webhook-id always carried the same body (stable per row version)."""
        bodies = {}
        for r in recs:
            if r.get("check"):
                self.fail("receiver check failed: %s" % r)
            self.assertTrue(r["sig_ok"], r)
            self.assertTrue(r["idem_ok"], r)
            self.assertTrue(r["ua"].startswith("leadsync/"), r)
            bodies.setdefault(r["id"], set()).add(r["body_sha"])
        for wid, shas in bodies.items():
            self.assertEqual(len(shas), 1, "webhook-id %s carried %d different bodies"
                             % (wid, len(shas)))

    def assert_stages_monotonic(self, recs):
        last = {}
        for r in sorted(recs, key=lambda r: r["t"]):
            rank = STAGE_RANK[r["stage"]]
            self.assertGreaterEqual(rank, last.get(r["lead"], 0),
                                    "lead %s went back to %s" % (r["lead"], r["stage"]))
            last[r["lead"]] = rank
