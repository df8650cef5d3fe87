"""lstest.py - shared helpers for the Python integration tests.

Each test gets a fresh table on the Azurite that scripts/test started
(LEADSYNC_TEST_AZURITE), a temporary directory for the ledger and sink files,
and runs the leadsync binary under test (LEADSYNC_TEST_BIN) with a clean
environment: only the LEADSYNC_* variables the test sets are passed on.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import aztable  # noqa: E402


def azurite():
    s = os.environ.get("LEADSYNC_TEST_AZURITE")
    if not s:
        sys.stderr.write(
            "LEADSYNC_TEST_AZURITE is not set: integration tests need Azurite; "
            "run them through ./scripts/test\n"
        )
        sys.exit(1)
    return s


def binary():
    b = os.environ.get("LEADSYNC_TEST_BIN")
    if not b or not os.access(b, os.X_OK):
        sys.stderr.write("LEADSYNC_TEST_BIN does not name the leadsync binary\n")
        sys.exit(1)
    return b


def seeder():
    return os.path.join(os.path.dirname(binary()), "leadsync-seed")


def settle():
    """Waits until the second the last write fell in has passed: a run's
    window ends at the table service's "now" in whole seconds, so a row
    written in the current second is read only from the next one on (the
    service's clock is this host's)."""
    time.sleep(int(time.time()) + 1.05 - time.time())


class WorkerCase(unittest.TestCase):
    """A fresh table, ledger and JSONL file per test."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="leadsync-it-")
        self.table_name = "t" + uuid.uuid4().hex[:20]
        self.table = aztable.Table(azurite(), self.table_name)
        self.table.create()
        self.jsonl = os.path.join(self.dir, "leads.jsonl")
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LEADSYNC_CONNECTION_STRING": azurite(),
            "LEADSYNC_TABLE": self.table_name,
            "LEADSYNC_STATE": os.path.join(self.dir, "ledger.db"),
            "LEADSYNC_SINKS": "jsonl:" + self.jsonl,
            "LEADSYNC_SETTLE_SECONDS": "0",
            "LEADSYNC_LOG_LEVEL": "info",
        }
        for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS", "TMPDIR"):
            if k in os.environ:
                self.env[k] = os.environ[k]

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def run_worker(self, *args, env=None, check=None, timeout=300):
        e = dict(self.env)
        if env:
            e.update(env)
        p = subprocess.run(
            [binary()] + list(args), env=e, capture_output=True, text=True, timeout=timeout
        )
        if check is not None and p.returncode != check:
            self.fail(
                "leadsync %s exited %d (wanted %d)\nstdout:\n%s\nstderr:\n%s"
                % (" ".join(args), p.returncode, check, p.stdout[-3000:], p.stderr[-3000:])
            )
        return p

    def lines(self):
        if not os.path.exists(self.jsonl):
            return []
        with open(self.jsonl, encoding="utf-8") as f:
            data = f.read()
        self.assertTrue(data == "" or data.endswith("\n"), "the JSONL file ends mid-line")
        return [json.loads(line) for line in data.splitlines()]

    def write_rows(self, rows, threads=8):
        """Upserts rows concurrently (Azurite handles parallel requests)."""
        errors = []

        def work(chunk):
            try:
                for r in chunk:
                    self.table.upsert(r)
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append(e)

        chunks = [rows[i::threads] for i in range(threads)]
        ts = [threading.Thread(target=work, args=(c,)) for c in chunks if c]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        if errors:
            raise errors[0]


def bulk_rows(n, prefix="r", partitions=5, offset=0):
    rows = []
    for i in range(offset, offset + n):
        rows.append(
            aztable.marketplace_row(
                "11:2F%02d:2F2026" % (i % partitions + 1),
                "%s%06d" % (prefix, i),
                "customer%06d@example.com" % i,
                action=("PLT", "INS", "Create", "StartTestDrive")[i % 4],
                source=("SPZA", "AzureMarketplace", "AzurePortal", "TestDrive")[i % 4],
            )
        )
    return rows


# The exit status ctest reads as "skipped" (SKIP_RETURN_CODE in
# tests/CMakeLists.txt): a file in which any test skipped has not checked
# everything it names, so it must not show as passed.
SKIP_EXIT = 77


def main():
    result = unittest.main(verbosity=2, exit=False).result
    if not result.wasSuccessful():
        sys.exit(1)
    if result.skipped:
        for test, why in result.skipped:
            sys.stderr.write("SKIPPED %s: %s\n" % (test.id(), why))
        sys.exit(SKIP_EXIT)
    sys.exit(0)
