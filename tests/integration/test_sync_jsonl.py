#!/usr/bin/env python3
"""The sync engine into the JSONL sink, against a real Azurite.

Thousands of rows give exactly one line each; a rerun gives nothing; updated
rows give exactly those again; rows tied on one Timestamp at a window bound
are all delivered; a row that becomes visible late inside an already-read
window is caught by the overlap (and, as a control, missed without it).
"""

import http.server
import subprocess
import json
import os
import socketserver
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import aztable  # noqa: E402
import lstest  # noqa: E402


def keys(lines):
    return [(l["lead"]["partitionKey"], l["lead"]["rowKey"]) for l in lines]


class SyncJsonl(lstest.WorkerCase):
    def test_thousands_once_rerun_nothing_updates_exactly(self):
        rows = lstest.bulk_rows(2500, partitions=7)
        self.write_rows(rows)
        lstest.settle()
        p = self.run_worker("run", "--once", env={"LEADSYNC_PAGE_SIZE": "400"}, check=0)
        lines = self.lines()
        self.assertEqual(len(lines), 2500, p.stderr[-2000:])
        self.assertEqual(len(set(keys(lines))), 2500)
        self.assertEqual(len({l["deliveryId"] for l in lines}), 2500)
        self.assertTrue(all(l["type"] == "lead.created" for l in lines))
        self.assertIn("run done: rows=2500 new=2500", p.stderr)

        # a rerun gives nothing
        p = self.run_worker("run", "--once", check=0)
        self.assertEqual(len(self.lines()), 2500)
        self.assertIn("new=0 updated=0", p.stderr)

        # updated rows give exactly those again, as updates with new delivery ids
        changed = rows[100:160]
        for r in changed:
            r["Description"] = "changed after the first sync"
        self.write_rows(changed)
        lstest.settle()
        p = self.run_worker("run", "--once", check=0)
        lines = self.lines()
        self.assertEqual(len(lines), 2560, p.stderr[-2000:])
        extra = lines[2500:]
        self.assertEqual(sorted(keys(extra)), sorted((r["PartitionKey"], r["RowKey"]) for r in changed))
        self.assertTrue(all(l["type"] == "lead.updated" for l in extra))
        self.assertTrue(all(l["lead"]["description"] == "changed after the first sync" for l in extra))
        first_ids = {l["deliveryId"] for l in lines[:2500]}
        self.assertFalse(first_ids & {l["deliveryId"] for l in extra})

        # rewriting a row with identical content is not a change
        self.write_rows(rows[:50])
        lstest.settle()
        p = self.run_worker("run", "--once", check=0)
        self.assertEqual(len(self.lines()), 2560)

    def test_ties_on_one_timestamp_at_the_window_bound(self):
        # Entity group transactions: Azurite stamps every entity of one batch
        # from the same request start, so each batch is a set of ties.
        for seed in (1, 2, 3):
            subprocess.run([lstest.seeder(), "ties", "100", "--seed", str(seed)], env=self.env,
                           check=True, capture_output=True)
        lstest.settle()
        self.run_worker("run", "--once", check=0)
        lines = self.lines()
        self.assertEqual(len(lines), 300)
        stamps = sorted(l["lead"]["timestamp"] for l in lines)
        # Azurite compares Timestamps at millisecond precision: rows in one
        # millisecond are ties for every filter.
        by_ms = {}
        for s in stamps:
            by_ms.setdefault(s[:23], []).append(s)
        tied_ms = max(by_ms, key=lambda k: len(by_ms[k]))
        self.assertGreater(len(by_ms[tied_ms]), 1, "no tied Timestamps were produced")
        bound = by_ms[tied_ms][len(by_ms[tied_ms]) // 2]  # a bound in the middle of the ties

        # A fresh ledger reading from exactly that bound gets every tied row.
        os.unlink(self.jsonl)
        for suffix in ("", "-wal", "-shm"):
            try:
                os.unlink(self.env["LEADSYNC_STATE"] + suffix)
            except FileNotFoundError:
                pass
        self.run_worker("run", "--once", "--since", bound, check=0)
        got = {l["lead"]["timestamp"] for l in self.lines()}
        for s in by_ms[tied_ms]:
            self.assertIn(s, got)
        self.assertEqual(len(self.lines()), sum(1 for s in stamps if s[:23] >= tied_ms))

    def test_windows_while_writing_lose_nothing(self):
        """Back-to-back windows with no overlap while rows keep arriving."""
        stop = threading.Event()
        written = []

        def writer():
            i = 0
            while not stop.is_set() and i < 600:
                batch = lstest.bulk_rows(20, prefix="live", partitions=2, offset=i)
                self.write_rows(batch, threads=4)
                written.extend(batch)
                i += 20

        t = threading.Thread(target=writer)
        t.start()
        env = {"LEADSYNC_OVERLAP_SECONDS": "0"}
        deadline = time.time() + 8
        while time.time() < deadline and t.is_alive():
            self.run_worker("run", "--once", env=env, check=0)
            time.sleep(0.2)
        stop.set()
        t.join()
        lstest.settle()
        self.run_worker("run", "--once", env=env, check=0)
        got = set(keys(self.lines()))
        want = {(r["PartitionKey"], r["RowKey"]) for r in written}
        self.assertEqual(len(self.lines()), len(got), "a row was delivered twice")
        self.assertEqual(got, want)

    def _late_row(self, overlap):
        """A row hidden from the first window (as if not yet visible) must
        be caught by the next window's overlap."""
        early = lstest.bulk_rows(20, prefix="early")
        late = aztable.marketplace_row("11:2F24:2F2026", "late-row", "late@example.com")
        self.write_rows(early + [late])
        lstest.settle()
        proxy = HidingProxy(lstest.azurite(), hide="late-row")
        try:
            env = {
                "LEADSYNC_CONNECTION_STRING": proxy.connection_string(),
                "LEADSYNC_OVERLAP_SECONDS": str(overlap),
            }
            self.run_worker("run", "--once", env=env, check=0)
            self.assertNotIn("late-row", [k[1] for k in keys(self.lines())])
            proxy.hide = None  # the row becomes visible
            time.sleep(1.1)
            self.run_worker("run", "--once", env=env, check=0)
        finally:
            proxy.close()
        return [k[1] for k in keys(self.lines())]

    def test_late_row_caught_by_overlap(self):
        got = self._late_row(overlap=300)
        self.assertEqual(got.count("late-row"), 1)
        self.assertEqual(len(got), 21)

    def test_late_row_missed_without_overlap(self):
        # The control: with no overlap the same late row is lost, which is
        # why the overlap exists (and shows the test above can fail).
        got = self._late_row(overlap=0)
        self.assertNotIn("late-row", got)

    def test_dry_run_changes_nothing(self):
        self.write_rows(lstest.bulk_rows(30))
        lstest.settle()
        p = self.run_worker("run", "--dry-run", check=0)
        self.assertEqual(p.stdout.count("\nnew ") + p.stdout.startswith("new "), 30)
        self.assertFalse(os.path.exists(self.env["LEADSYNC_STATE"]))
        self.assertFalse(os.path.exists(self.jsonl))
        self.assertNotIn("example.com", p.stdout + p.stderr)  # no personal data
        self.run_worker("run", "--once", check=0)
        p = self.run_worker("run", "--dry-run", check=0)
        self.assertIn("would deliver new=0 updated=0", p.stderr)

    def test_malformed_rows_go_on(self):
        good = lstest.bulk_rows(5)
        bad = aztable.marketplace_row("p", "bad-json", "x@example.com")
        bad["CustomerInfo"] = '{"FirstName": "Broken", "Email": '
        nosource = aztable.marketplace_row("p", "bad-source", "y@example.com")
        nosource["LeadSource"] = "no separators at all"
        self.write_rows(good + [bad, nosource])
        lstest.settle()
        p = self.run_worker("run", "--once", check=0)
        self.assertEqual(len(self.lines()), 7)
        self.assertIn("malformed=2", p.stderr)
        self.assertIn("rk=bad-json", p.stderr)
        self.assertNotIn("Broken", p.stderr)  # logged by keys, not content

    def test_validation_lead_skipped_and_logged(self):
        test_row = aztable.marketplace_row("p", "msft-test", "MSFT_TEST_636737558587117715")
        self.write_rows(lstest.bulk_rows(3) + [test_row])
        lstest.settle()
        p = self.run_worker("run", "--once", check=0)
        self.assertEqual(len(self.lines()), 3)
        self.assertIn("validation lead received", p.stderr)
        self.assertIn("test=1", p.stderr)

    def test_second_worker_on_the_same_ledger_exits(self):

        self.write_rows(lstest.bulk_rows(3))
        e = dict(self.env)
        e["LEADSYNC_POLL_SECONDS"] = "3600"
        daemon = subprocess.Popen([lstest.binary(), "run"], env=e, stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.time() + 30
            while not os.path.exists(self.env["LEADSYNC_STATE"] + ".lock") and time.time() < deadline:
                time.sleep(0.1)
            time.sleep(0.5)
            p = self.run_worker("run", "--once")
            self.assertEqual(p.returncode, 75, p.stderr)
            self.assertIn("in use by another leadsync", p.stderr)
        finally:
            daemon.terminate()
            _, err = daemon.communicate(timeout=60)
        self.assertEqual(daemon.returncode, 0, err[-2000:])
        self.assertIn("stopped by signal", err)


class HidingProxy:
    """Forwards to Azurite, dropping entities whose RowKey is `hide` from
    query answers, so a row can be made to "become visible" later."""

    def __init__(self, connection_string, hide):
        cs = aztable.parse_connection_string(connection_string)
        self.upstream = cs["tableendpoint"].rstrip("/")
        self.base_cs = connection_string
        self.hide = hide
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_GET(self):
                path = self.path
                up = urllib.parse.urlsplit(proxy.upstream)
                req = urllib.request.Request(
                    "%s://%s%s" % (up.scheme, up.netloc, path),
                    headers={k: v for k, v in self.headers.items() if k.lower() != "host"},
                )
                try:
                    with urllib.request.urlopen(req, timeout=30) as r:
                        status, headers, body = r.status, r.getheaders(), r.read()
                except urllib.error.HTTPError as e:
                    status, headers, body = e.code, e.headers.items(), e.read()
                if status == 200 and proxy.hide and body.startswith(b"{"):
                    doc = json.loads(body)
                    if "value" in doc:
                        doc["value"] = [v for v in doc["value"] if v.get("RowKey") != proxy.hide]
                        body = json.dumps(doc).encode()
                self.send_response(status)
                for k, v in headers:
                    if k.lower() not in ("content-length", "transfer-encoding", "connection"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
            daemon_threads = True

        self.server = Server(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def connection_string(self):
        port = self.server.server_address[1]
        account = aztable.parse_connection_string(self.base_cs)["accountname"]
        return self.base_cs.replace(self.upstream, "http://127.0.0.1:%d/%s" % (port, account))

    def close(self):
        self.server.shutdown()
        self.server.server_close()


if __name__ == "__main__":
    lstest.main()
