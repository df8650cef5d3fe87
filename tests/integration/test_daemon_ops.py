#!/usr/bin/env python3
"""The daemon (`leadsync run` without --once) against Azurite: rows written
while it runs are delivered; /metrics and /healthz answer with the right
values; SIGTERM in the middle of delivery loses nothing and exits 0; a
one-shot run pushes its metrics to a (loopback) Pushgateway.
"""

import os
import re
import select
import signal
import socket
import sqlite3
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import lstest  # noqa: E402
import whtest  # noqa: E402


get = lstest.http_get


def parse_metrics(text):
    """{(name, labels-text): value} from the Prometheus text format."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.match(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (\S+)$', line)
        if not m:
            raise AssertionError("not a sample line: %r" % line)
        out[(m.group(1), m.group(2) or "")] = float(m.group(3))
    return out


IDLE_S = 5  # the listener's idle timeout
wait_for = lstest.wait_for


def send_raw(port, request, src="127.0.0.2"):
    """The raw answer to one request sent from the loopback address src."""
    c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    c.settimeout(20)  # generous: the answer is asserted, not its time
    try:
        c.bind((src, 0))
        c.connect(("127.0.0.1", port))
        c.sendall(request)
        data = b""
        while not data.endswith(b"\n") or b"\r\n\r\n" not in data:
            chunk = c.recv(4096)
            if not chunk:
                break
            data += chunk
        return data.decode("latin-1")
    finally:
        c.close()


def closed_by_server(c):
    """True once the server has closed connection c (end of stream or reset)."""
    if not select.select([c], [], [], 0)[0]:
        return False
    try:
        return c.recv(4096) == b""
    except OSError:
        return True


class DaemonOps(whtest.WebhookCase):
    def start_daemon(self, extra=None):
        e = {"LEADSYNC_POLL_SECONDS": "1"}
        e.update(extra or {})
        self.proc = self.run_daemon(e, listen=True)
        self.port = self.proc.port

    def stderr(self):
        return lstest.read_text(self.proc.log)

    def test_slow_clients_do_not_starve_the_probes(self):
        """Slowloris: 40 connections from one address that send a byte a second
        and never finish their headers; a probe from another address still
        gets /healthz, and the server cuts the dribblers (never idle) at its
        per-connection deadline. Oversized requests and request bodies are
        refused."""
        self.start_daemon()
        wait_for(lambda: get(self.port, "/healthz")[0] == 200, 30, "/healthz to turn ready")
        slow = []
        for _ in range(40):
            try:
                c = socket.create_connection(("127.0.0.1", self.port), timeout=5)
                c.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
                slow.append(c)
            except OSError:
                pass  # refused: the per-address limit at work
        stop = threading.Event()

        def dribble():  # one header byte a second each: never idle, never done
            while not stop.wait(1):
                for c in slow:
                    try:
                        c.sendall(b"X")
                    except OSError:
                        pass
        t = threading.Thread(target=dribble, daemon=True)
        t.start()
        self.addCleanup(lambda: [c.close() for c in slow])
        self.addCleanup(t.join)
        self.addCleanup(stop.set)
        self.assertGreater(len(slow), 0)
        time.sleep(IDLE_S + 2)  # past the idle timeout: the dribblers are still held

        def probe(request, src="127.0.0.2"):
            return send_raw(self.port, request, src)
        ans = probe(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        self.assertTrue(ans.startswith("HTTP/1.1 200"), ans)
        self.assertIn("\r\n\r\nok", ans)
        big = b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"a" * 65536 + b"\r\n\r\n"
        try:
            ans = probe(big, "127.0.0.3")
        except OSError:
            ans = ""  # the connection was closed on the oversized request
        self.assertFalse(ans.startswith("HTTP/1.1 200"), ans[:200])
        ans = probe(b"GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                    b"Connection: close\r\n\r\nhello", "127.0.0.4")
        self.assertTrue(ans.startswith("HTTP/1.1 413"), ans)
        ans = probe(b"POST /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                    "127.0.0.4")
        self.assertTrue(ans.startswith("HTTP/1.1 405"), ans)
        wait_for(lambda: all(closed_by_server(c) for c in slow), 60,
                 "the server to cut the dribbling connections at its deadline")
        ans = probe(b"GET /livez HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                    "127.0.0.1")
        self.assertTrue(ans.startswith("HTTP/1.1 200"), ans)

    def test_silent_clients_are_closed(self):
        """Connections that open and send nothing fill their address's share;
        /livez still answers another address, the server closes the silent
        ones (idle timeout), and then their address is served again."""
        self.start_daemon()
        silent = []
        for _ in range(12):
            c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            c.settimeout(5)
            try:
                c.bind(("127.0.0.5", 0))
                c.connect(("127.0.0.1", self.port))
                silent.append(c)
            except OSError:
                c.close()
        self.addCleanup(lambda: [c.close() for c in silent])
        self.assertGreater(len(silent), 0)
        livez = b"GET /livez HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        ans = send_raw(self.port, livez, "127.0.0.6")
        self.assertTrue(ans.startswith("HTTP/1.1 200") and ans.endswith("\r\n\r\nok\n"), ans)
        wait_for(lambda: all(closed_by_server(c) for c in silent), 60,
                 "the server to close the silent connections")
        self.assertTrue(send_raw(self.port, livez, "127.0.0.5").startswith("HTTP/1.1 200"))

    def test_rows_written_while_running_metrics_and_health(self):
        started = time.time()
        self.start_daemon()
        wait_for(lambda: get(self.port, "/healthz")[0] == 200, 30, "/healthz to turn ready")
        status, body, _ = get(self.port, "/healthz")
        self.assertEqual(body.strip(), "ok")
        self.assertEqual(get(self.port, "/nope")[0], 404)

        # rows written while the daemon runs are delivered
        self.write_rows(lstest.bulk_rows(25, prefix="live"))
        wait_for(lambda: len(self.lines()) >= 25, 60, "25 deliveries")
        time.sleep(2.5)  # two more polls: the pending gauge is refreshed after delivery
        self.assertEqual(len(self.lines()), 25)

        status, text, ctype = get(self.port, "/metrics")
        self.assertEqual(status, 200)
        self.assertTrue(ctype.startswith("text/plain; version=0.0.4"), ctype)
        m = parse_metrics(text)
        sink = '{sink="jsonl:%s"}' % self.jsonl
        self.assertEqual(m[("leadsync_leads_delivered_total", sink)], 25)
        self.assertEqual(m.get(("leadsync_leads_dead_total", sink), 0), 0)
        self.assertGreaterEqual(m[("leadsync_rows_read_total", "")], 25)
        self.assertEqual(m[("leadsync_rows_enqueued_total", "")], 25)
        self.assertEqual(m[("leadsync_pending", sink)], 0)
        self.assertEqual(m[("leadsync_oldest_pending_age_seconds", sink)], 0)
        self.assertGreaterEqual(m[("leadsync_polls_total", '{result="ok"}')], 2)
        self.assertGreater(m[("leadsync_azure_requests_total", "")], 0)
        last = m[("leadsync_last_success_timestamp_seconds", "")]
        # a poll of this daemon's: after it started, not after now (whole seconds
        # either side); an order of events, not a duration
        self.assertTrue(int(started) <= last <= time.time() + 1, (started, last))
        # settle is 0: the cursor stops at the server's "now"
        self.assertGreaterEqual(m[("leadsync_cursor_lag_seconds", "")], 0)
        self.assertLess(m[("leadsync_cursor_lag_seconds", "")], 30)
        hist = ("leadsync_sink_request_duration_seconds_count", sink)
        self.assertGreaterEqual(m[hist], 1)
        self.assertEqual(m[("leadsync_sink_request_duration_seconds_bucket",
                            '{sink="jsonl:%s",le="+Inf"}' % self.jsonl)], m[hist])
        self.assertGreaterEqual(m[("leadsync_poll_duration_seconds_count", "")], 2)

        self.proc.send_signal(signal.SIGTERM)
        self.assertEqual(self.proc.wait(30), 0, self.stderr()[-3000:])
        self.assertIn("stopped by signal", self.stderr())

    def test_health_fails_when_every_sink_fails(self):
        rcv = self.receiver(rules=[{"status": 503}])
        self.env["LEADSYNC_SINKS"] = "webhook:" + rcv.url
        self.start_daemon({"LEADSYNC_HEALTH_FAIL_SECONDS": "1",
                           "LEADSYNC_DELIVERY_BACKOFF_BASE_MS": "50",
                           "LEADSYNC_DELIVERY_BACKOFF_CAP_MS": "50"})
        wait_for(lambda: get(self.port, "/healthz")[0] == 200, 30, "/healthz to turn ready")
        self.write_rows(lstest.bulk_rows(3, prefix="down"))
        wait_for(lambda: get(self.port, "/healthz")[0] == 503, 60, "/healthz to fail")
        self.assertIn("every sink", get(self.port, "/healthz")[1])
        # liveness never depends on the source or the sinks: no restart loop in an outage
        self.assertEqual(get(self.port, "/livez"), (200, "ok\n", "text/plain"))
        m = parse_metrics(get(self.port, "/metrics")[1])
        self.assertGreater(m[("leadsync_leads_failed_total", '{sink="webhook:%s"}' % rcv.url)], 0)
        # the sink comes back: healthy again, everything delivered
        rcv.faults([])
        wait_for(lambda: get(self.port, "/healthz")[0] == 200, 60, "/healthz to recover")
        wait_for(lambda: len({r["id"] for r in rcv.accepted()}) == 3, 60, "3 deliveries")
        self.proc.send_signal(signal.SIGTERM)
        self.assertEqual(self.proc.wait(30), 0, self.stderr()[-3000:])

    def test_sigterm_during_delivery_loses_nothing(self):
        n = 60
        rcv = self.receiver(rules=[{"delay_ms": 150}])
        self.env["LEADSYNC_SINKS"] = "webhook:" + rcv.url
        self.env["LEADSYNC_MAX_IN_FLIGHT"] = "1"
        self.env["LEADSYNC_DELIVERY_BATCH"] = "5"
        self.put(lstest.bulk_rows(n, prefix="term"))
        self.start_daemon()
        # signal once delivery is under way, well before it can finish
        wait_for(lambda: len(rcv.records()) >= 8, 60, "delivery to start")
        self.proc.send_signal(signal.SIGTERM)
        self.assertEqual(self.proc.wait(30), 0, self.stderr()[-3000:])
        self.assertIn("stopped by signal", self.stderr())
        got = {r["id"] for r in rcv.accepted()}
        self.assertLess(len(got), n, "delivery finished before the signal; the test proves nothing")
        # what the stopped daemon committed is not sent again; the rest goes out now
        before = len(rcv.records())
        rcv.faults([])
        self.run_worker("run", "--once", check=0)
        after = rcv.records()[before:]
        again = [r["id"] for r in after if r["id"] in got]
        self.assertLessEqual(len(again), 1, "committed deliveries were repeated: %s" % again)
        self.assertEqual(len({r["id"] for r in rcv.accepted()}), n)

    def sigterm_mid_batch(self, n, rules, grace):
        """A slow receiver and one batch out (the default batch of 200, 4
        requests at a time): SIGTERM once 8 deliveries were answered."""
        rcv = self.receiver(rules=rules)
        self.env["LEADSYNC_SINKS"] = "webhook:" + rcv.url
        self.env["LEADSYNC_MAX_IN_FLIGHT"] = "4"
        self.env["LEADSYNC_WEBHOOK_TIMEOUT_SECONDS"] = "120"
        self.env["LEADSYNC_STOP_GRACE_SECONDS"] = str(grace)
        self.put(lstest.bulk_rows(n, prefix="slow"))
        self.start_daemon()
        wait_for(lambda: len(rcv.records()) >= 8, 60, "delivery to start")
        self.proc.send_signal(signal.SIGTERM)
        wait_for(lambda: "in-flight deliveries (again to stop now)" in self.stderr(), 30,
                 "the daemon to say it is finishing the requests in flight")
        self.assertRegex(self.stderr(), r"finishing [1-4] in-flight deliveries")
        return rcv

    def rerun_and_check(self, rcv, n, committed):
        """The next run delivers the rest; nothing committed goes out again."""
        before = len(rcv.records())
        rcv.faults([])
        self.run_worker("run", "--once", check=0)
        again = [r["id"] for r in rcv.records()[before:] if r["id"] in committed]
        self.assertEqual(again, [], "committed deliveries were sent again")
        self.assertEqual(len({r["id"] for r in rcv.accepted()}), n)

    def delivered_ids(self):
        con = sqlite3.connect(self.env["LEADSYNC_STATE"])
        try:
            return {r[0] for r in con.execute(
                "SELECT delivery_id FROM outbox WHERE state = 'delivered'")}
        finally:
            con.close()

    def test_sigterm_finishes_in_flight_requests_and_commits_them(self):
        # A batch of 200 takes 50 s here, far beyond `docker stop`'s 10 s: the
        # daemon starts nothing new, lets the 4 requests in flight answer
        # (1 s, within the grace) and commits them, then exits 0.
        n = 200
        rcv = self.sigterm_mid_batch(n, [{"delay_ms": 1000}], 30)
        self.assertEqual(self.proc.wait(20), 0, self.stderr()[-3000:])
        self.assertIn("stopped by signal", self.stderr())
        committed = self.delivered_ids()
        got = {r["id"] for r in rcv.accepted()}
        self.assertTrue(committed, "nothing was committed before the stop")
        self.assertLess(len(committed), n, "the whole batch went out; the test proves nothing")
        self.assertEqual(committed, got, "an answered delivery was not committed (or the reverse)")
        self.rerun_and_check(rcv, n, committed)

    def test_second_sigterm_stops_at_once_and_loses_nothing(self):
        # Requests that take a minute and a long grace: only the second
        # signal ends the wait; the requests cut off go out on the next run.
        n = 40
        rcv = self.sigterm_mid_batch(n, [{"count": 8}, {"delay_ms": 60000}], 600)
        self.proc.send_signal(signal.SIGTERM)
        self.assertEqual(self.proc.wait(30), 0, self.stderr()[-3000:])
        committed = self.delivered_ids()
        got = {r["id"] for r in rcv.accepted()}
        self.assertEqual(len(got), 8)
        self.assertEqual(committed, got, "the answered deliveries were not committed (or more)")
        self.rerun_and_check(rcv, n, committed)

    def test_once_pushes_to_pushgateway(self):
        url, got = self.pushgateway()
        self.put(lstest.bulk_rows(4, prefix="push"))
        p = self.run_worker("run", "--once", check=0, env={"LEADSYNC_PUSHGATEWAY_URL": url})
        self.assertNotIn(lstest.PUSHGATEWAY_ANSWER.decode().strip(), p.stdout + p.stderr)
        self.assertEqual(len(got), 1)
        path, ctype, body = got[0]
        self.assertEqual(path, "/metrics/job/leadsync")
        self.assertTrue(ctype.startswith("text/plain"), ctype)
        m = parse_metrics(body)
        self.assertEqual(m[("leadsync_leads_delivered_total", '{sink="jsonl:%s"}' % self.jsonl)], 4)


if __name__ == "__main__":
    lstest.main()
