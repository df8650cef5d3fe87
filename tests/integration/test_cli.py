#!/usr/bin/env python3
"""The command line against Azurite: check's exit codes and lines, status,
retry, purge, usage errors, configuration errors, and no secret in any output."""

import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import lstest  # noqa: E402

KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
# 64 bytes, as an account key is, but not this account's
WRONG_KEY = "d3Jvbmcta2V5LXdyb25nLWtleS13cm9uZy1rZXktd3Jvbmcta2V5LXdyb25nLWtleS13cm9uZy1rZXktd3Jvbg=="


class Cli(lstest.WorkerCase):
    def assert_no_secret(self, p, secret):
        self.assertNotIn(secret, p.stdout + p.stderr)
        self.assertNotIn(secret[:20], p.stdout + p.stderr)

    def test_check_all_well(self):
        p = self.run_worker("check", check=0)
        self.assertRegex(p.stdout, r"(?m)^config: ok")
        self.assertRegex(p.stdout, r"(?m)^table: ok")
        self.assertRegex(p.stdout, r"(?m)^ledger: ok")
        self.assertRegex(p.stdout, r"(?m)^sink jsonl:.*: ok")
        self.assert_no_secret(p, KEY)

    def test_check_wrong_key_is_77_without_the_key(self):
        cs = lstest.azurite().replace(KEY, WRONG_KEY)
        self.assertIn(WRONG_KEY, cs)
        p = self.run_worker("check", env={"LEADSYNC_CONNECTION_STRING": cs})
        self.assertEqual(p.returncode, 77, p.stdout + p.stderr)
        self.assertRegex(p.stdout, r"(?m)^table: FAILED.*403")
        self.assert_no_secret(p, WRONG_KEY)
        p = self.run_worker("run", "--once", env={"LEADSYNC_CONNECTION_STRING": cs})
        self.assertEqual(p.returncode, 77, p.stderr)
        self.assert_no_secret(p, WRONG_KEY)

    def test_check_unreachable_is_75(self):
        import socket

        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()  # nothing listens there now
        cs = ("DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=%s;"
              "TableEndpoint=http://127.0.0.1:%d/devstoreaccount1;" % (KEY, port))
        p = self.run_worker("check", env={"LEADSYNC_CONNECTION_STRING": cs,
                                          "LEADSYNC_HTTP_TIMEOUT_SECONDS": "2"})
        self.assertEqual(p.returncode, 75, p.stdout + p.stderr)
        self.assertRegex(p.stdout, r"(?m)^table: FAILED")
        self.assert_no_secret(p, KEY)

    def test_check_malformed_connection_string_is_78(self):
        for cs in ("AccountName=a;AccountKey=not*base64!;EndpointSuffix=core.windows.net",
                   "this is not a connection string"):
            p = self.run_worker("check", env={"LEADSYNC_CONNECTION_STRING": cs})
            self.assertEqual(p.returncode, 78, p.stdout + p.stderr)
            self.assertRegex(p.stdout, r"(?m)^config: FAILED")
            self.assertNotIn("not*base64!", p.stdout + p.stderr)

    def test_table_missing(self):
        p = self.run_worker("check", env={"LEADSYNC_TABLE": "NoSuchTable"})
        self.assertEqual(p.returncode, 78, p.stdout)
        self.assertIn("NoSuchTable not found", p.stdout)

    def test_usage_and_config_errors(self):
        self.assertEqual(self.run_worker("frobnicate").returncode, 64)
        self.assertEqual(self.run_worker("run", "--bogus").returncode, 64)
        self.assertEqual(self.run_worker("status", "--once").returncode, 64)
        self.assertEqual(self.run_worker("purge").returncode, 64)
        p = self.run_worker("run", "--once", env={"LEADSYNC_TABEL": "x"})
        self.assertEqual(p.returncode, 78)
        self.assertIn("LEADSYNC_TABEL", p.stderr)
        p = self.run_worker("run", "--once", env={"LEADSYNC_SINKS": "carrier-pigeon:x"})
        self.assertEqual(p.returncode, 78)
        self.assertIn("carrier-pigeon", p.stderr)
        p = self.run_worker("run", "--once", "--since", "yesterday")
        self.assertEqual(p.returncode, 64, p.stderr)
        self.assertEqual(self.run_worker("--version", check=0).stdout.split()[0], "leadsync")
        self.assertIn("LEADSYNC_OVERLAP_SECONDS", self.run_worker("--help", check=0).stdout)

    def test_config_file(self):
        path = os.path.join(self.dir, "leadsync.json")
        with open(path, "w") as f:
            json.dump({"LEADSYNC_TABLE": self.table_name, "LEADSYNC_PAGE_SIZE": 10}, f)
        env = {"LEADSYNC_TABLE": ""}
        self.write_rows(lstest.bulk_rows(25))
        lstest.settle()
        self.run_worker("--config", path, "run", "--once", env=env, check=0)
        self.assertEqual(len(self.lines()), 25)
        with open(path, "w") as f:
            json.dump({"LEADSYNC_TABLE": self.table_name, "pagesize": 10}, f)
        p = self.run_worker("--config", path, "run", "--once", env=env)
        self.assertEqual(p.returncode, 78)
        self.assertIn('unknown key "pagesize"', p.stderr)

    def test_status_retry_purge(self):
        p = self.run_worker("status", check=0)
        self.assertIn("no ledger", p.stdout)
        self.write_rows(lstest.bulk_rows(12))
        lstest.settle()
        self.run_worker("run", "--once", check=0)
        p = self.run_worker("status", check=0)
        self.assertIn("12 seen", p.stdout)
        self.assertIn("12 deliveries queued: 12 delivered, 0 superseded", p.stdout)
        self.assertRegex(p.stdout, r"(?m)^status: +healthy: ")
        st = json.loads(self.run_worker("status", "--json", check=0).stdout)
        self.assertEqual(st["rows"], 12)
        self.assertEqual(st["sinks"][0]["delivered"], 12)
        self.assertEqual(st["lastRun"]["exitCode"], 0)
        self.assertEqual(st["lastRun"]["summary"]["new"], 12)
        p = self.run_worker("retry", check=0)
        self.assertIn("re-queued 0 dead letters", p.stdout)
        p = self.run_worker("purge", "--older-than", "0", check=0)
        # the JSONL sink is inline (ls_sink.h): its lines never pass through
        # the outbox, so no payload is kept to purge
        self.assertIn("purged the payloads of 0 ", p.stdout)
        mode = os.stat(self.env["LEADSYNC_STATE"]).st_mode & 0o777
        self.assertEqual(mode, 0o600)
        self.assertEqual(os.stat(self.jsonl).st_mode & 0o777, 0o600)


if __name__ == "__main__":
    lstest.main()
