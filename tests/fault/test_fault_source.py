#!/usr/bin/env python3
"""The table service under fault.

azurite-restart: an Azurite of the test's own with its workspace on disk
(--location, not the in-memory one scripts/azurite starts) is stopped while a
run is reading it (a proxy slows each request so the stop lands mid-run). The
run must exit 75 with a clear message; Azurite restarted on the same port
with its data, the next run completes and every lead arrives.

table-throttle-storm: a proxy in front of Azurite answers 503 ServerBusy with
Retry-After: 1 to a third of the requests; runs are repeated while they exit
75 (safe to rerun) and everything arrives.

Per case one line: case=<name> lost= duplicates= repeats= recover_s=
LEADSYNC_TEST_SOAK=1: more rows.
"""

import os
import signal
import socket
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import faultlib  # noqa: E402  (puts tests/tools on the path)
import aztable  # noqa: E402
import lstest  # noqa: E402

ROWS = 5000 if faultlib.SOAK else 1500
ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
AZURITE = os.path.join(ROOT, "scripts", "npm", "node_modules", ".bin", "azurite-table")
KEY = ("Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==")


def listening(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        return True
    except OSError:
        return False


class OwnAzurite:
    def __init__(self, workdir):
        self.dir = workdir
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        self.port = s.getsockname()[1]
        s.close()
        self.proc = None
        self.connstr = ("DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=%s;"
                        "TableEndpoint=http://127.0.0.1:%d/devstoreaccount1;" % (KEY, self.port))

    def start(self):
        self.log = open(os.path.join(self.dir, "azurite.log"), "ab")
        self.proc = subprocess.Popen(
            [AZURITE, "--tableHost", "127.0.0.1", "--tablePort", str(self.port), "--location",
             self.dir, "--disableTelemetry"], stdout=self.log, stderr=self.log,
            stdin=subprocess.DEVNULL, start_new_session=True)
        for _ in range(300):
            if listening(self.port):
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        raise RuntimeError("azurite did not start on port %d" % self.port)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)  # a clean stop saves the workspace
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        if self.proc:
            self.log.close()
        self.proc = None


class FaultSource(lstest.WorkerCase):
    def setUp(self):
        super().setUp()
        self.sink = faultlib.WebhookSink(self)
        self.env.update(self.sink.env())
        self.proxy = None
        self.az = None

    def tearDown(self):
        self.sink.stop()
        if self.proxy:
            self.proxy.stop()
        if self.az:
            self.az.stop()
        super().tearDown()

    def test_azurite_restart(self):
        if not os.access(AZURITE, os.X_OK):
            self.skipTest("azurite-table not installed (scripts/bootstrap)")
        ws = os.path.join(self.dir, "azurite")
        os.mkdir(ws)
        self.az = OwnAzurite(ws)
        self.az.start()
        self.table = aztable.Table(self.az.connstr, self.table_name)
        self.table.create()
        self.env["LEADSYNC_CONNECTION_STRING"] = self.az.connstr
        faultlib.seed(self, ROWS)
        # Azurite saves its workspace (LokiJS) every few seconds, not on
        # every write: give it time to hold the rows on disk
        time.sleep(6)
        self.proxy = faultlib.TableProxy(self.az.connstr)
        self.proxy.delay = 0.05
        env = {"LEADSYNC_CONNECTION_STRING": self.proxy.connstr, "LEADSYNC_PAGE_SIZE": "20"}
        p = faultlib.spawn(self, ["run", "--once"], env=env)
        time.sleep(1.5)
        self.assertIsNone(p.poll(), "the run ended before Azurite was stopped")
        t_stop = time.monotonic()
        self.az.stop()
        _, err = p.communicate(timeout=300)
        gave_up = time.monotonic() - t_stop
        self.assertEqual(p.returncode, 75, err[-3000:])
        last = err.strip().splitlines()[-1]
        self.assertRegex(last, "(?i)unreachable|connect|temporar|unavailable|attempts", last)
        self.assertNotIn("AddressSanitizer", err)
        print("azurite-restart: the run gave up %.1f s after the stop: %s" % (gave_up, last))
        self.az.start()
        self.proxy.delay = 0
        t0 = time.monotonic()
        p = self.run_worker("run", "--once", env=env)
        recover = time.monotonic() - t0
        self.assertEqual(p.returncode, 0, p.stderr[-3000:])
        want = faultlib.expected(self.table)
        self.assertEqual(len(want), ROWS, "Azurite kept its data over the restart")
        lost, dups, repeats = self.sink.report(want)
        faultlib.summary("azurite-restart", lost, dups, repeats, recover)
        self.assertEqual((lost, dups), (0, 0))

    def test_table_throttle_storm(self):
        faultlib.seed(self, ROWS)
        faultlib.settle()
        self.proxy = faultlib.TableProxy(self.env["LEADSYNC_CONNECTION_STRING"], seed=7)
        self.proxy.busy_fraction = 1 / 3.0
        env = {"LEADSYNC_CONNECTION_STRING": self.proxy.connstr, "LEADSYNC_PAGE_SIZE": "100"}
        t0 = time.monotonic()
        codes = []
        for _ in range(15):
            p = self.run_worker("run", "--once", env=env)
            codes.append(p.returncode)
            self.assertIn(p.returncode, (0, 75), p.stderr[-3000:])
            self.assertNotIn("AddressSanitizer", p.stderr)
            if p.returncode == 0:
                break
        recover = time.monotonic() - t0
        self.assertEqual(codes[-1], 0, "still throttled after %d runs" % len(codes))
        self.proxy.busy_fraction = 0
        want = faultlib.expected(self.table)
        lost, dups, repeats = self.sink.report(want)
        faultlib.summary("table-throttle-storm", lost, dups, repeats, recover,
                         busy_answers=self.proxy.busy, requests=self.proxy.requests,
                         runs=len(codes))
        self.assertGreater(self.proxy.busy, 0)
        self.assertEqual((lost, dups), (0, 0))


if __name__ == "__main__":
    lstest.main()
