#!/usr/bin/env python3
"""A hostile or broken table endpoint (tests/tools/faultserver.py).

The worker runs against the fault server instead of Azurite, which serves
pages no real service would: more entities than $top, entities with 300
properties, rows without keys, 33 MiB answers, fresh continuations on empty
pages forever, NUL bytes inside values, escapes and key=value words in error
codes. Each case ends with a clear error or a clean run, never a hang, a
crash, a silent loss or a forged log field; a failed window leaves the cursor
where it was.
"""

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tools"))
import lstest  # noqa: E402

KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
SERVER = os.path.join(HERE, "..", "tools", "faultserver.py")


class HostileTable(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = subprocess.Popen(
            [sys.executable, SERVER, "--entities", "200", "--max-seconds", "600"],
            stdout=subprocess.PIPE, text=True)
        cls.port = int(cls.server.stdout.readline())

    @classmethod
    def tearDownClass(cls):
        cls.server.terminate()
        cls.server.wait(10)
        cls.server.stdout.close()

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="leadsync-hostile-")
        self.jsonl = os.path.join(self.dir, "leads.jsonl")
        self.ledger = os.path.join(self.dir, "ledger.db")
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LEADSYNC_CONNECTION_STRING": (
                "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=%s;"
                "TableEndpoint=http://127.0.0.1:%d/devstoreaccount1;" % (KEY, self.port)),
            "LEADSYNC_STATE": self.ledger,
            "LEADSYNC_SINKS": "jsonl:" + self.jsonl,
            "LEADSYNC_SETTLE_SECONDS": "0",
            "LEADSYNC_TEST_LEADS": "deliver",
        }
        for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS", "TMPDIR"):
            if k in os.environ:
                self.env[k] = os.environ[k]

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def table(self, scenario):
        """A fresh table of the scenario (the server keeps state per table)."""
        n = getattr(HostileTable, "_n", 0) + 1
        HostileTable._n = n
        self.env["LEADSYNC_TABLE"] = "%s%d" % (scenario, n)

    def run_once(self, env=None, timeout=300):
        e = dict(self.env)
        e.update(env or {})
        p = subprocess.run([lstest.binary(), "run", "--once"], env=e, capture_output=True,
                           text=True, timeout=timeout, errors="replace")
        self.assertNotIn("AddressSanitizer", p.stderr)
        self.assertNotIn("runtime error", p.stderr)
        return p

    def cursor(self):
        if not os.path.exists(self.ledger):
            return None
        con = sqlite3.connect(self.ledger)
        try:
            row = con.execute("SELECT value FROM meta WHERE key = 'cursor'").fetchone()
        except sqlite3.OperationalError:
            row = None
        con.close()
        return row[0] if row else None

    def lines(self):
        if not os.path.exists(self.jsonl):
            return []
        with open(self.jsonl, encoding="utf-8") as f:
            return [json.loads(line) for line in f]

    def test_sigterm_during_retry_after(self):
        """A SIGTERM during a 300 s Retry-After ends the run promptly."""
        self.table("sleepy")
        e = dict(self.env)
        e["LEADSYNC_LOG_LEVEL"] = "info"
        p = subprocess.Popen([lstest.binary(), "run", "--once"], env=e, stderr=subprocess.PIPE,
                             stdout=subprocess.DEVNULL, text=True, errors="replace")
        seen = []
        for line in p.stderr:
            seen.append(line)
            if "300000 ms" in line:
                break
        self.assertTrue(seen and "300000 ms" in seen[-1], "".join(seen)[-2000:])
        p.send_signal(signal.SIGTERM)
        try:
            # far below the 300 s the sleep would take
            rest = p.communicate(timeout=60)[1]
        except subprocess.TimeoutExpired:
            p.kill()
            p.communicate()
            self.fail("the run ignored SIGTERM during the Retry-After sleep")
        self.assertRegex(rest, "(?i)cancel|stop")
        self.assertIsNone(self.cursor())


    def test_more_entities_than_top(self):
        """A page of 2 x $top + 1 (mostly empty) entities is refused, not built."""
        self.table("flood")
        p = self.run_once({"LEADSYNC_PAGE_SIZE": "50"})
        self.assertEqual(p.returncode, 65, p.stderr[-2000:])
        self.assertIn("more than the 50 entities asked for", p.stderr.strip().splitlines()[-1])
        self.assertEqual(self.lines(), [])
        self.assertIsNone(self.cursor())

    def test_entity_over_255_properties(self):
        self.table("wide")
        p = self.run_once()
        self.assertEqual(p.returncode, 65, p.stderr[-2000:])
        self.assertRegex(p.stderr.strip().splitlines()[-1], "entity 3 has more than .*255")
        self.assertIsNone(self.cursor())

    def test_oversized_page_halves_top(self):
        """Answers over the 32 MiB cap are asked for again with half the $top."""
        self.table("oversize")
        p = self.run_once({"LEADSYNC_PAGE_SIZE": "100"})
        self.assertEqual(p.returncode, 0, p.stderr[-2000:])
        self.assertIn("asking again with $top=50", p.stderr)
        self.assertIn("asking again with $top=25", p.stderr)
        self.assertEqual(len(self.lines()), 200)
        self.assertIsNotNone(self.cursor())

    def test_rows_without_keys_skipped(self):
        """Rows without PartitionKey/RowKey are counted and skipped, one warning a run."""
        self.table("nokeys")
        for run in range(2):
            p = self.run_once()
            self.assertEqual(p.returncode, 0, p.stderr[-2000:])
            self.assertIn("skipped=20 ", p.stderr)
            self.assertEqual(p.stderr.count("PartitionKey or RowKey missing"), 1, p.stderr[-3000:])
            # the 180 rows with keys arrive once; the keyless ones never
            self.assertEqual(len(self.lines()), 180)

    def test_row_warnings_rate_limited(self):
        """200 rows without CustomerInfo: one line for the kind, one summary line."""
        self.table("plain")
        p = self.run_once()
        self.assertEqual(p.returncode, 0, p.stderr[-2000:])
        self.assertEqual(p.stderr.count("CustomerInfo missing"), 1, p.stderr[-3000:])
        self.assertIn("199 more rows with problems were counted, not logged one by one",
                      p.stderr)
        self.assertLess(len(p.stderr.splitlines()), 20, p.stderr[-3000:])
        self.assertEqual(len(self.lines()), 200)

    def test_nul_inside_a_value(self):
        """A NUL inside an email or a name: the row is malformed and never delivered cut."""
        self.table("nul")
        p = self.run_once()
        self.assertEqual(p.returncode, 0, p.stderr[-2000:])
        self.assertIn("skipped=40 ", p.stderr)
        self.assertEqual(p.stderr.count("a NUL character inside a value"), 1, p.stderr[-3000:])
        leads = self.lines()
        self.assertEqual(len(leads), 160)
        emails = [x["lead"]["customer"]["email"] for x in leads]
        self.assertNotIn("victim@example.com", emails)
        self.assertNotIn("Offer", [x["lead"]["offerTitle"] for x in leads if
                                   x["lead"]["rowKey"].endswith("7")])
        p = self.run_once()  # remembered: not counted again
        self.assertIn("skipped=0 ", p.stderr)
        self.assertEqual(len(self.lines()), 160)

    def test_endless_continuation_budget(self):
        """Fresh continuations on empty pages forever: the window's budget stops the run."""
        self.table("endless")
        p = self.run_once({"LEADSYNC_WINDOW_MAX_PAGES": "40"})
        self.assertEqual(p.returncode, 65, p.stderr[-2000:])
        last = p.stderr.strip().splitlines()[-1]
        self.assertIn("after 40 pages (LEADSYNC_WINDOW_MAX_PAGES)", last)
        self.assertIn("the cursor did not move", last)
        self.assertIsNone(self.cursor())

    def test_jsonl_file_private_and_no_symlink(self):
        """The JSONL file: a symlink is refused (its target untouched), a 0644 file made 0600."""
        self.table("plain")
        target = os.path.join(self.dir, "elsewhere")
        with open(target, "w") as f:
            f.write("")
        os.symlink(target, self.jsonl)
        p = self.run_once()
        self.assertEqual(p.returncode, 78, p.stderr[-2000:])
        self.assertIn("symlink", p.stderr.strip().splitlines()[-1])
        self.assertEqual(os.path.getsize(target), 0)
        os.unlink(self.jsonl)
        with open(self.jsonl, "w") as f:
            f.write("")
        os.chmod(self.jsonl, 0o644)
        p = self.run_once()
        self.assertEqual(p.returncode, 0, p.stderr[-2000:])
        self.assertEqual(os.stat(self.jsonl).st_mode & 0o777, 0o600)

if __name__ == "__main__":
    unittest.main(verbosity=2)
