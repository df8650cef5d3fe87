#!/usr/bin/env python3
"""The binary is built hardened by default: PIE, full RELRO (relro + now),
the stack protector, and _FORTIFY_SOURCE where the build optimises."""

import os
import subprocess
import sys
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


if __name__ == "__main__":
    unittest.main(verbosity=2)
