#!/usr/bin/env python3
"""The binary is built hardened by default: PIE, full RELRO (relro + now),
the stack protector, and _FORTIFY_SOURCE where the build optimises; a
symbolic link planted at the ledger's -wal or -shm is refused (exit 74)."""

import os
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import lstest  # noqa: E402


def readelf(*args):
    return subprocess.run(["readelf", "-W"] + list(args) + [lstest.binary()],
                          capture_output=True, text=True, check=True).stdout


class Hardening(unittest.TestCase):
    def test_pie(self):
        self.assertRegex(readelf("-h"), r"Type:\s+DYN")

    def test_full_relro(self):
        self.assertIn("GNU_RELRO", readelf("-l"))
        self.assertRegex(readelf("-d"), r"BIND_NOW|FLAGS_1.*NOW")

    def test_stack_protector(self):
        self.assertIn("__stack_chk_fail", readelf("--dyn-syms"))

    def test_ledger_journal_symlink_refused(self):
        for suffix in ("-wal", "-shm"):
            with tempfile.TemporaryDirectory() as d:
                target = os.path.join(d, "target")
                with open(target, "w") as f:
                    f.write("precious")
                os.chmod(target, 0o644)
                ledger = os.path.join(d, "ledger.db")
                os.symlink(target, ledger + suffix)
                env = {"PATH": os.environ.get("PATH", ""), "LEADSYNC_STATE": ledger,
                       "LEADSYNC_SINKS": "jsonl:" + os.path.join(d, "out.jsonl")}
                p = subprocess.run([lstest.binary(), "retry"], env=env, capture_output=True,
                                   text=True, timeout=60)
                self.assertEqual(p.returncode, 74, p.stderr)
                self.assertIn(ledger + suffix + " is a symbolic link", p.stderr)
                self.assertEqual(os.stat(target).st_mode & 0o777, 0o644)
                with open(target) as f:
                    self.assertEqual(f.read(), "precious")


if __name__ == "__main__":
    unittest.main(verbosity=2)
