#!/usr/bin/env python3
"""What an operator meets: each command's own --help, usage errors that touch
nothing, run --since forms, and the exit code and message of each mistake."""

import json
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import lstest  # noqa: E402
import whtest  # noqa: E402

KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


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
        self.put(lstest.bulk_rows(5))
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


class ExitCodes(whtest.WebhookCase):
    """One classification for every command: a mistake a rerun cannot fix is
    never 75, and the message says what to fix."""

    def both(self, env, code, *needles):
        """check prints a FAILED line, run --once the same error; same code."""
        c = self.run_worker("check", env=env)
        self.assertEqual(c.returncode, code, c.stdout + c.stderr)
        failed = [l for l in c.stdout.splitlines() if ": FAILED: " in l]
        self.assertEqual(len(failed), 1, c.stdout)
        r = self.run_worker("run", "--once", env=env)
        self.assertEqual(r.returncode, code, r.stderr)
        last = r.stderr.strip().splitlines()[-1]
        for n in needles:
            self.assertIn(n, failed[0])
            self.assertIn(n, last)
        return failed[0], last

    def test_missing_table_is_78_and_lists_the_tables(self):
        line, _ = self.both({"LEADSYNC_TABLE": "MarketplaceLeadz"}, 78,
                            "MarketplaceLeadz not found (LEADSYNC_TABLE)", "the account has: ")
        # neither check nor the failed first run leaves a ledger or a JSONL file behind
        self.assertFalse(os.path.exists(self.env["LEADSYNC_STATE"]))
        self.assertFalse(os.path.exists(self.jsonl))

    def test_check_creates_nothing(self):
        p = self.run_worker("check", env={"LEADSYNC_SINKS": "jsonl:" + self.jsonl}, check=0)
        self.assertRegex(p.stdout, r"(?m)^sink jsonl:.*: ok \(.*created on the first delivery\)")
        self.assertFalse(os.path.exists(self.jsonl))
        self.assertFalse(os.path.exists(self.env["LEADSYNC_STATE"]))
        # a directory that cannot take the file is found by check, not by the first delivery
        p = self.run_worker("check", env={"LEADSYNC_SINKS": "jsonl:" + self.dir + "/no/such.jsonl"})
        self.assertEqual(p.returncode, 78, p.stdout + p.stderr)

    def test_a_table_status_leadsync_does_not_know_is_78_naming_it(self):
        class Bad(lstest.QuietHandler):
            def do_GET(self):
                body = json.dumps({"odata.error": {"code": "InvalidInput", "message": {
                    "lang": "en-US", "value": "One of the request inputs is not valid."}}}).encode()
                self.send_response(400)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        srv = self.serve(Bad)
        cs = ("DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=%s;"
              "TableEndpoint=http://127.0.0.1:%d/devstoreaccount1;" % (KEY, srv.server_port))
        self.both({"LEADSYNC_CONNECTION_STRING": cs}, 78, "400", "InvalidInput",
                  "names a Table service endpoint")
        self.assertFalse(os.path.exists(self.env["LEADSYNC_STATE"]))

    def test_invalid_table_name_is_78_before_any_request(self):
        self.both({"LEADSYNC_TABLE": "marketplace-leads"}, 78,
                  "'marketplace-leads' is not a table name", "letters and digits")

    def test_connection_string_mistakes_are_78_and_name_the_fix(self):
        cs = lstest.azurite()
        keyless = re.sub(r"AccountKey=[^;]*;?", "", cs)
        short = cs.replace(KEY, KEY[:40])
        for env, needle in (({"LEADSYNC_CONNECTION_STRING": '"%s"' % cs}, "remove the surrounding quotes"),
                            ({"LEADSYNC_CONNECTION_STRING": "'%s'" % cs}, "remove the surrounding quotes"),
                            ({"LEADSYNC_CONNECTION_STRING": keyless}, "no AccountKey= and no SharedAccessSignature="),
                            ({"LEADSYNC_CONNECTION_STRING": short}, "a storage account key is 64")):
            line, last = self.both(env, 78, needle)
            self.assertNotIn(KEY[:20], line + last)
            # nothing was created: the mistake is found before the ledger is opened
            self.assertFalse(os.path.exists(self.env["LEADSYNC_STATE"]), needle)

    def test_keyless_connection_string_does_not_fall_back_to_entra(self):
        keyless = re.sub(r"AccountKey=[^;]*;?", "", lstest.azurite())
        p = self.run_worker("run", "--once", env={"LEADSYNC_CONNECTION_STRING": keyless,
                                                  "AZURE_CLIENT_ID": "x", "AZURE_TENANT_ID": "y",
                                                  "AZURE_CLIENT_SECRET": "z"})
        self.assertEqual(p.returncode, 78, p.stderr)
        self.assertIn("LEADSYNC_TABLE_ENDPOINT", p.stderr)
        self.assertNotIn("entra", p.stderr.lower().replace("entra id", ""))

    def test_table_certificate_that_does_not_verify_is_78_naming_host_and_setting(self):
        recv = self.receiver(tls=True)
        host = recv.url.split("/")[2]
        cs = ("DefaultEndpointsProtocol=https;AccountName=devstoreaccount1;AccountKey=%s;"
              "TableEndpoint=https://%s/devstoreaccount1;" % (KEY, host))
        env = {"LEADSYNC_CONNECTION_STRING": cs}
        self.both(env, 78, "TLS certificate of %s does not verify" % host, "LEADSYNC_TABLE_CA_FILE")
        # with the CA trusted the certificate is no longer the problem
        env["LEADSYNC_TABLE_CA_FILE"] = lstest.pki()["ca"]
        p = self.run_worker("check", env=env)
        self.assertNotIn("certificate", p.stdout)

    def test_webhook_certificate_is_78_in_check_and_run(self):
        recv = self.receiver(tls=True)
        host = recv.url.split("/")[2]
        self.seed("bulk", 2)
        env = {"LEADSYNC_SINKS": "webhook:" + recv.url, "LEADSYNC_WEBHOOK_TIMEOUT_SECONDS": "20"}
        c = self.run_worker("check", env=env)
        self.assertEqual(c.returncode, 78, c.stdout)
        self.assertRegex(c.stdout, r"(?m)^sink webhook:.*: FAILED: the TLS certificate of %s "
                                   r"does not verify.*LEADSYNC_WEBHOOK_CA_FILE" % re.escape(host))
        r = self.run_worker("run", "--once", env=env)
        self.assertEqual(r.returncode, 78, r.stderr)
        self.assertIn("LEADSYNC_WEBHOOK_CA_FILE", r.stderr)

    def test_every_failed_line_of_check_says_what_to_do(self):
        port = whtest.free_port()  # nothing listens
        cs = ("DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=%s;"
              "TableEndpoint=http://127.0.0.1:%d/devstoreaccount1;" % (KEY, port))
        p = self.run_worker("check", env={"LEADSYNC_CONNECTION_STRING": cs,
                                          "LEADSYNC_HTTP_TIMEOUT_SECONDS": "2",
                                          "LEADSYNC_SINKS": "webhook:http://127.0.0.1:%d/h" % port})
        self.assertEqual(p.returncode, 75, p.stdout)
        failed = [l for l in p.stdout.splitlines() if ": FAILED: " in l]
        self.assertEqual(len(failed), 2, p.stdout)
        for l in failed:
            self.assertRegex(l, r"(check|fix|set|remove|copy|use) [^;]*\)?$", l)


class Status(whtest.WebhookCase):
    def test_status_for_a_person_and_for_a_program(self):
        recv = self.receiver(rules=[{"status": 422, "count": 1000,
                                     "body": "rejected customer000001@example.com"}])
        self.seed("bulk", 6, "--customers", 3)
        self.addCleanup(os.chdir, os.getcwd())
        os.chdir(self.dir)  # the relative ledger path below lands in the test's directory
        env = {"LEADSYNC_SINKS": "webhook:" + recv.url, "LEADSYNC_DELIVERY_MAX_ATTEMPTS": "1",
               "LEADSYNC_STATE": "ledger.db"}  # relative: status prints it absolute
        self.run_worker("run", "--once", env=env, check=0)
        st = self.run_worker("status", env=env, check=0).stdout
        self.assertRegex(st, r"(?m)^status: +degraded: \d+ dead letters?: .*leadsync retry")
        self.assertRegex(st, r"(?m)^ledger: +/\S+/ledger.db$")
        self.assertRegex(st, r"(?m)^last run: +\d+ s ago \(\d{4}-\d\d-\d\dT[0-9:]+Z\), exit 0 \(done\)")
        m = re.search(r"(?m)^  (\d+) deliver(?:y|ies) queued: (\d+) delivered, (\d+) superseded.*"
                      r", (\d+) pending, (\d+) dead$", st)
        self.assertIsNotNone(m, st)
        total, parts = int(m.group(1)), [int(g) for g in m.groups()[1:]]
        self.assertEqual(total, sum(parts), "the counts on screen add up")
        self.assertGreater(parts[3], 0)
        self.assertRegex(st, r"(?m)^  #\d+ webhook:\S+ lead \w+ delivery msg_\w+: 1 attempts, "
                             r"last HTTP 422 at \S+Z: ")
        self.assertNotIn("@example.com", st, "no personal data in status")
        js = json.loads(self.run_worker("status", "--json", env=env, check=0).stdout)
        self.assertEqual(js["verdict"], "degraded")
        self.assertTrue(os.path.isabs(js["ledger"]))
        self.assertRegex(js["lastRun"]["startedAt"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        s = js["sinks"][0]
        self.assertEqual(s["pending"] + s["delivered"] + s["dead"] + s["superseded"], total)
        for d in js["deadLetters"]:
            self.assertEqual(set(d), {"id", "sink", "leadId", "deliveryId", "attempts",
                                      "lastStatus", "lastError", "at"})
            self.assertNotIn("@", d["lastError"])

    def test_a_failed_run_makes_status_failing_and_status_writes_nothing(self):
        self.seed("bulk", 2)
        self.run_worker("run", "--once", check=0)
        p = self.run_worker("run", "--once", env={"LEADSYNC_TABLE": "NoSuchTable"})
        self.assertEqual(p.returncode, 78, p.stderr)
        db = self.env["LEADSYNC_STATE"]
        before = os.stat(db).st_mtime_ns, os.stat(db).st_size
        js = json.loads(self.run_worker("status", "--json", check=0).stdout)
        self.assertEqual(js["lastRun"]["exitCode"], 78)
        self.assertEqual(js["verdict"], "failing")
        self.assertIn("exited 78 (configuration)", js["reason"])
        self.assertEqual(before, (os.stat(db).st_mtime_ns, os.stat(db).st_size),
                         "status changed the ledger")

    def test_status_names_the_configured_sinks_before_any_run(self):
        recv = self.receiver()
        env = {"LEADSYNC_SINKS": "webhook:" + recv.url}
        p = self.run_worker("status", env=env, check=0)
        self.assertIn("sink webhook:%s: configured, nothing queued yet" % recv.url, p.stdout)
        js = json.loads(self.run_worker("status", "--json", env=env, check=0).stdout)
        self.assertEqual([s["sink"] for s in js["sinks"]], ["webhook:" + recv.url])
        # deliveries kept under the sink's old id show under the name it has now
        self.seed("bulk", 3)
        self.run_worker("run", "--once", env=env, check=0)
        named = {"LEADSYNC_SINKS": "crm=webhook:" + recv.url}
        js = json.loads(self.run_worker("status", "--json", env=named, check=0).stdout)
        self.assertEqual([(s["sink"], s["delivered"], s["configured"]) for s in js["sinks"]],
                         [("crm", 3, True)])
        st = self.run_worker("status", env=named, check=0).stdout
        self.assertRegex(st, r"(?m)^sink crm$")
        self.assertNotIn("sink webhook:", st)
        # a sink taken out of the configuration stays, marked
        other = {"LEADSYNC_SINKS": "jsonl:" + self.jsonl}
        st = self.run_worker("status", env=other, check=0).stdout
        self.assertIn("sink webhook:%s (no longer in LEADSYNC_SINKS)" % recv.url, st)

    def test_status_reads_a_wal_ledger_on_a_read_only_mount(self):
        self.seed("bulk", 3)
        self.run_worker("run", "--once", check=0)
        src, mnt = os.path.join(self.dir, "src"), os.path.join(self.dir, "ro")
        os.mkdir(src)
        os.mkdir(mnt)
        os.rename(self.env["LEADSYNC_STATE"], os.path.join(src, "ledger.db"))
        probe = subprocess.run(["unshare", "-m", "sh", "-c", "mount --bind %s %s" % (src, mnt)],
                               capture_output=True)
        if probe.returncode != 0:
            self.skipTest("no mount namespace here to make a read-only mount")
        script = ('mount --bind "$1" "$2" && mount -o remount,bind,ro "$2" && '
                  'exec "$3" status --json')
        env = dict(self.env, LEADSYNC_STATE=os.path.join(mnt, "ledger.db"))
        p = subprocess.run(["unshare", "-m", "sh", "-c", script, "sh", src, mnt, lstest.binary()],
                           env=env, capture_output=True, text=True, timeout=120)
        self.assertEqual(p.returncode, 0, p.stderr)
        js = json.loads(p.stdout)
        self.assertEqual(js["rows"], 3)
        self.assertEqual(js["verdict"], "healthy")


class Commands(lstest.WorkerCase):
    def test_retry_sink_is_checked_against_the_configured_sinks_first(self):
        p = self.run_worker("retry", "--sink", "webhok")
        self.assertEqual(p.returncode, 64, p.stderr)
        self.assertIn("--sink 'webhok': no configured sink has that name", p.stderr)
        self.assertIn("the configured sinks are: jsonl:" + self.jsonl, p.stderr)
        self.assertFalse(os.path.exists(self.env["LEADSYNC_STATE"]), "retry touched the ledger")
        p = self.run_worker("retry", "--sink", "x", env={"LEADSYNC_SINKS": "bogus:1"})
        self.assertEqual(p.returncode, 78, p.stderr)
        # by its name, or by its kind when one sink is of that kind
        for name in ("jsonl:" + self.jsonl, "jsonl"):
            p = self.run_worker("retry", "--sink", name, check=0)
            self.assertIn("re-queued 0 dead letters of sink jsonl:" + self.jsonl, p.stdout)

    def test_messages_name_commands_that_exist(self):
        open(self.env["LEADSYNC_STATE"], "w").close()  # an empty file: no schema yet
        p = self.run_worker("status")
        self.assertEqual(p.returncode, 74, p.stderr)
        self.assertIn("run 'leadsync run --once' first", p.stderr)
        commands = set(COMMANDS) | {"report", "forget", "help"}
        for m in re.finditer(r"leadsync ([a-z][a-z-]+)", p.stderr + self.run_worker(
                "--help", check=0).stdout):
            if m.group(1) in ("test",):  # "leadsync test lead"
                continue
            self.assertIn(m.group(1), commands, m.group(0))


class Breaker(whtest.WebhookCase):
    """A sink that rejects every lead the same way pauses instead of filling
    the dead-letter queue; readiness and run --once say so; retry resumes."""

    REFUSE = [{"status": 400, "count": 100000, "body": "{\"error\":\"Company is required\"}"}]

    def test_a_sink_that_rejects_everything_pauses_and_run_exits_69(self):
        recv = self.receiver(rules=self.REFUSE)
        self.seed("bulk", 30)
        env = {"LEADSYNC_SINKS": "webhook:" + recv.url, "LEADSYNC_DELIVERY_BREAKER": "5"}
        p = self.run_worker("run", "--once", env=env)
        self.assertEqual(p.returncode, 69, p.stderr[-3000:])
        last = p.stderr.strip().splitlines()[-1]
        self.assertIn("rejected every delivery", last)
        self.assertIn("Company is required", last)
        self.assertIn("leadsync retry --sink webhook:" + recv.url, last)
        self.assertEqual(p.stderr.count("The likely cause"), 1, "logged once")
        s = self.sink_stats(self.status(env=env), recv.url)
        self.assertEqual((s["dead"], s["pending"]), (5, 25), "not dead-lettered wholesale")
        self.assertTrue(s["paused"]["breaker"])
        st = self.run_worker("status", env=env, check=0).stdout
        self.assertRegex(st, r"(?m)^status: +failing: sink webhook:\S+ rejected every delivery")
        self.assertIn("resume: fix what it refuses, then 'leadsync retry --sink", st)
        # the pause holds across runs: nothing more is sent
        sent = len(recv.records())
        p = self.run_worker("run", "--once", env=env)
        self.assertEqual(p.returncode, 69, p.stderr[-2000:])
        self.assertEqual(len(recv.records()), sent)
        # fixed receiver; retry resumes the sink and re-queues the dead letters
        recv.faults([])
        p = self.run_worker("retry", "--sink", "webhook", env=env, check=0)
        self.assertIn("resumed sink webhook:" + recv.url, p.stdout)
        self.assertIn("re-queued 5 dead letters", p.stdout)
        self.run_worker("run", "--once", env=env, check=0)
        s = self.sink_stats(self.status(env=env), recv.url)
        self.assertEqual((s["delivered"], s["dead"], s["pending"]), (30, 0, 0))
        self.assertNotIn("paused", s)

    def test_readiness_fails_while_paused_liveness_does_not(self):
        recv = self.receiver(rules=self.REFUSE)
        self.seed("bulk", 12)
        d = self.run_daemon({"LEADSYNC_SINKS": "webhook:" + recv.url,
                             "LEADSYNC_DELIVERY_BREAKER": "4", "LEADSYNC_POLL_SECONDS": "1"},
                            listen=True)

        def failing():
            code, body, _ = lstest.http_get(d.port, "/healthz")
            return body if code == 503 and "rejected every delivery" in body else None
        body = lstest.wait_for(failing, 60, "/healthz to fail", every=0.3)
        self.assertIn("paused: rejected every delivery", body)
        self.assertEqual(lstest.http_get(d.port, "/livez")[0], 200)
        # retry from another process while the daemon runs resumes it
        recv.faults([])
        self.run_worker("retry", env={"LEADSYNC_SINKS": "webhook:" + recv.url}, check=0)
        lstest.wait_for(lambda: lstest.http_get(d.port, "/healthz")[0] == 200, 60,
                        "/healthz to recover", every=0.3)
        d.terminate()
        d.wait(60)
        err = lstest.read_text(d.log)
        self.assertEqual(err.count("The likely cause"), 1, err[-3000:])


class DryRun(lstest.WorkerCase):
    def test_dry_run_shows_what_the_run_then_does(self):
        import aztable
        # one lead: "Get it now" (active), then a newer "Contact me" row; a
        # lead's stage never goes back, so the run sends the newer row as active
        self.table.upsert(aztable.marketplace_row("p1", "a-older", "ada@example.com",
                                                  action="INS"))
        time.sleep(0.15)
        self.table.upsert(aztable.marketplace_row("p1", "b-newer", "ada@example.com",
                                                  action="PLT"))
        self.write_rows(lstest.bulk_rows(3))
        lstest.settle()
        p = self.run_worker("run", "--dry-run", check=0)
        dry = {}
        for line in p.stdout.splitlines():
            f = dict(w.split("=", 1) for w in line.split()[1:] if "=" in w)
            dry[f["rk"]] = (line.split()[0], f["stage"], f["type"])
        self.assertFalse(os.path.exists(self.env["LEADSYNC_STATE"]))
        self.assertFalse(os.path.exists(self.jsonl))
        self.run_worker("run", "--once", check=0)
        real = {l["lead"]["rowKey"]: ("new", l["lead"]["stage"], l["type"]) for l in self.lines()}
        self.assertEqual(dry, real)
        self.assertEqual(dry["b-newer"], ("new", "active", "lead.updated"))
        # after the run, a dry run over the same rows with --since sees them all unchanged
        p = self.run_worker("run", "--dry-run", "--since", "1h", check=0)
        self.assertIn("would deliver new=0 updated=0", p.stderr)


class Settle(lstest.WorkerCase):
    def test_rows_held_back_by_the_settle_delay_are_counted_and_reported(self):
        self.write_rows(lstest.bulk_rows(12))
        lstest.settle()
        env = {"LEADSYNC_SETTLE_SECONDS": "600"}
        # the first run (no $filter) and a later one (with the cursor) both say so
        for _ in range(2):
            p = self.run_worker("run", "--once", env=env, check=0)
            self.assertRegex(p.stderr, r"12 rows newer than \d\d:\d\d:\d\d UTC wait for the "
                                       r"600 s settle delay; the next run reads them")
            self.assertIn(" settling=12 ", p.stderr)
            self.assertEqual(self.lines(), [])
        js = json.loads(self.run_worker("status", "--json", check=0).stdout)
        self.assertEqual(js["lastRun"]["summary"]["settling"], 12)
        st = self.run_worker("status", check=0).stdout
        self.assertIn("12 rows newer than the window waited for the settle delay", st)
        # without the delay they are read, and nothing is said
        p = self.run_worker("run", "--once", check=0)
        self.assertNotIn("settle delay", p.stderr)
        self.assertEqual(len(self.lines()), 12)


class Daemon(lstest.WorkerCase):
    def test_one_startup_line(self):
        p = self.run_daemon({"LEADSYNC_POLL_SECONDS": "1"}, listen=True)
        lstest.wait_for(lambda: lstest.read_text(p.log).count("poll done") >= 2, 60,
                        "two polls")
        p.terminate()
        self.assertEqual(p.wait(60), 0, lstest.read_text(p.log))
        lines = lstest.read_text(p.log).splitlines()
        start = [l for l in lines if " daemon: " in l]
        self.assertEqual(len(start), 1, "\n".join(lines))
        self.assertIn("table %s, 1 sink (jsonl), poll every 1 s" % self.table_name, start[0])
        self.assertIn("/healthz and /metrics on 127.0.0.1:%d" % p.port, start[0])


if __name__ == "__main__":
    lstest.main()
