#!/usr/bin/env python3
"""What an operator meets: each command's own --help, usage errors that touch
nothing, run --since forms, and the exit code and message of each mistake."""

import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import lstest  # noqa: E402

COMMANDS = ("run", "check", "send-test-lead", "status", "retry", "purge")


class Help(lstest.WorkerCase):
    def test_each_command_has_its_own_help_within_a_screen(self):
        for cmd in COMMANDS:
            for args in ((cmd, "--help"), (cmd, "-h"), ("help", cmd)):
                p = self.run_worker(*args, check=0)
                out = p.stdout
                self.assertTrue(out.startswith("usage: leadsync %s" % cmd), out)
                for part in ("options:", "changes:", "example:    leadsync %s" % cmd,
                             "exit codes:"):
                    self.assertIn(part, out, cmd)
                lines = out.splitlines()
                self.assertLessEqual(len(lines), 24, cmd)
                self.assertLessEqual(max(len(l) for l in lines), 100, cmd)
                self.assertNotIn("LEADSYNC_OVERLAP_SECONDS", out)  # the settings list is --help's

    def test_help_after_other_options_still_helps_and_touches_nothing(self):
        p = self.run_worker("run", "--once", "--help", check=0)
        self.assertIn("usage: leadsync run", p.stdout)
        self.assertFalse(os.path.exists(self.env["LEADSYNC_STATE"]))

    def test_global_help_lists_commands_settings_and_every_exit_code(self):
        out = self.run_worker("--help", check=0).stdout
        for cmd in COMMANDS:
            self.assertRegex(out, r"(?m)^  %s\s" % cmd)
        for code in ("0", "64", "65", "69", "70", "74", "75", "77", "78"):
            self.assertRegex(out, r"(?m)^  %s\s+\S" % code)
        self.assertIn("LEADSYNC_OVERLAP_SECONDS", out)


class Usage(lstest.WorkerCase):
    def assert_usage(self, args, *needles):
        p = self.run_worker(*args)
        self.assertEqual(p.returncode, 64, p.stderr)
        self.assertEqual(p.stdout, "")
        self.assertEqual(len(p.stderr.strip().splitlines()), 1, p.stderr)
        for n in needles:
            self.assertIn(n, p.stderr)
        # a usage error creates nothing
        self.assertFalse(os.path.exists(self.env["LEADSYNC_STATE"]), args)
        self.assertFalse(os.path.exists(self.jsonl), args)
        return p

    def test_usage_errors_name_the_problem_and_create_nothing(self):
        self.assert_usage(("frobnicate",), "unknown command 'frobnicate'")
        self.assert_usage(("run", "--bogus"), "leadsync run: unknown option '--bogus'",
                          "leadsync run --help")
        self.assert_usage(("status", "--once"), "unknown option '--once'")
        self.assert_usage(("purge",), "--older-than DAYS is required")
        self.assert_usage(("purge", "--older-than", "ten"), "'ten' is not a number of days")
        self.assert_usage(("run", "--since"), "--since needs WHEN")
        self.assert_usage(("run", "--once=yes"), "--once takes no value")
        self.assert_usage(("check", "extra"), "unexpected argument 'extra'")

    def test_since_errors_quote_the_value_once(self):
        p = self.assert_usage(("run", "--once", "--since", "yesterday"), "'yesterday'",
                              "24h, 7d")
        self.assertEqual(p.stderr.count("--since"), 1, p.stderr)
        self.assert_usage(("run", "--once", "--since", "2999-01-01"), "in the future")
        self.assert_usage(("run", "--since=2026-11-30T08:00:00"), "no offset")
        self.assert_usage(("run", "--since", "2026-02-30"), "no such date")

    def test_usage_error_wins_over_a_configuration_error(self):
        p = self.run_worker("run", "--since", "soon", env={"LEADSYNC_TABEL": "x"})
        self.assertEqual(p.returncode, 64, p.stderr)


class Since(lstest.WorkerCase):
    def test_since_accepts_dates_offsets_and_durations(self):
        self.write_rows(lstest.bulk_rows(5))
        time.sleep(1.1)
        for since in ("1h", "7d", time.strftime("%Y-%m-%d", time.gmtime()),
                      time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(time.time() - 3600)),
                      time.strftime("%Y-%m-%dT%H:%M:%S-05:00",
                                    time.gmtime(time.time() - 5 * 3600 - 3600))):
            os.path.exists(self.jsonl) and os.unlink(self.jsonl)
            for suffix in ("", "-wal", "-shm"):
                if os.path.exists(self.env["LEADSYNC_STATE"] + suffix):
                    os.unlink(self.env["LEADSYNC_STATE"] + suffix)
            self.run_worker("run", "--once", "--since", since, check=0)
            self.assertEqual(len(self.lines()), 5, since)
        # a window that starts after the rows reads none of them
        os.unlink(self.jsonl)
        os.unlink(self.env["LEADSYNC_STATE"])
        self.run_worker("run", "--once", "--since", "0s", check=0)
        self.assertEqual(self.lines(), [])


if __name__ == "__main__":
    lstest.main()
