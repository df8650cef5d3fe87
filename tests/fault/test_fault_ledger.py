#!/usr/bin/env python3
"""The ledger under fault: disk full, made read-only, corrupted.

Disk full, two ways:
  disk-full-tmpfs   the ledger on a small tmpfs mounted in a private mount
                    namespace (unshare -m; the worker runs inside it through
                    nsenter), filled to the last byte by a filler file. Skipped
                    with a reason when mounting is not permitted here.
  disk-full-rlimit  RLIMIT_FSIZE just above the ledger's size (SIGXFSZ
                    ignored, so a write past it fails with EFBIG instead of
                    killing the worker); works anywhere.
Either way the run must stop with a clear one-line error naming the ledger
and exit 74 or 75 (never a signal, never an ASan report), and once space
returns the next run completes with nothing lost.

Read-only (ledger-readonly): tests run as root, and chmod does not stop root,
so the ledger file is made immutable with `chattr +i` (the filesystem refuses
every write, root's too); where chattr is not supported, a read-only bind
mount of the ledger's directory in a private mount namespace. A clear error,
nothing lost once it is writable again.

Corrupted (corrupt-middle, corrupt-truncate, corrupt-garbage): bytes
overwritten in the middle of the file, the file cut to a third, the file
replaced by random bytes. `run` and `status` must each fail with one line
naming the file (exit 74), never crash. The documented recovery: move the
file aside and run again. The new ledger starts from the beginning of the
table and re-delivers every lead with the same delivery id (webhook-id), so
receivers that dedupe on it see repeats, not new leads: the test checks that
every re-delivery's webhook-id is one the receiver already took.

Per case one line: case=<name> lost= duplicates= repeats= recover_s=
(recover_s: wall time of the run that completes once the fault is gone).
LEADSYNC_TEST_SOAK=1: more rows.
"""

import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import faultlib  # noqa: E402
import lstest  # noqa: E402

FIRST = 1000 if faultlib.SOAK else 300
MORE = 4000 if faultlib.SOAK else 1200


class FaultLedger(lstest.WorkerCase):
    def setUp(self):
        super().setUp()
        self.sink = faultlib.WebhookSink(self)
        self.env.update(self.sink.env())
        self.env["LEADSYNC_PAGE_SIZE"] = "100"
        self.prefix = []  # command prefix (nsenter) for the worker

    def tearDown(self):
        self.sink.stop()
        super().tearDown()

    def worker(self, *args, env=None, preexec=None):
        e = dict(self.env)
        if env:
            e.update(env)
        return subprocess.run(self.prefix + [lstest.binary()] + list(args), env=e,
                              capture_output=True, text=True, timeout=300,
                              preexec_fn=preexec)

    def assert_clear_failure(self, p, words, codes=(74, 75)):
        """Exit code in codes (not a signal), no sanitizer report, and a
        last line naming the ledger with one of words."""
        self.assertNotIn("AddressSanitizer", p.stderr)
        self.assertNotIn("runtime error", p.stderr)
        self.assertIn(p.returncode, codes, "exit %d\n%s" % (p.returncode, p.stderr[-3000:]))
        last = p.stderr.strip().splitlines()[-1]
        self.assertIn(self.env["LEADSYNC_STATE"], last, last)
        self.assertTrue(any(w in last for w in words), last)
        return last

    def first_and_more(self):
        faultlib.seed(self, FIRST)
        faultlib.settle()
        p = self.worker("run", "--once")
        self.assertEqual(p.returncode, 0, p.stderr[-3000:])
        faultlib.seed(self, MORE, start=FIRST)
        faultlib.settle()

    def finish(self, case):
        t0 = time.monotonic()
        p = self.worker("run", "--once")
        recover = time.monotonic() - t0
        self.assertEqual(p.returncode, 0, p.stderr[-3000:])
        want = faultlib.expected(self.table)
        self.assertEqual(len(want), FIRST + MORE)
        lost, dups, repeats = self.sink.report(want)
        faultlib.summary(case, lost, dups, repeats, recover)
        self.assertEqual((lost, dups), (0, 0))
        return want

    # ---- disk full ----------------------------------------------------
    def test_disk_full_tmpfs(self):
        vol = os.path.join(self.dir, "vol")
        os.mkdir(vol)
        holder = subprocess.Popen(
            ["unshare", "-m", "--propagation", "private", "sh", "-c",
             "mount -t tmpfs -o size=32m,mode=0700 tmpfs '%s' && echo ready && exec sleep 600"
             % vol], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        ready = holder.stdout.readline().strip()
        if ready != "ready":
            holder.wait(10)
            why = holder.stderr.read().strip()[-200:]
            holder.stdout.close()
            holder.stderr.close()
            self.skipTest("no private tmpfs here (%s); disk-full-rlimit covers it" % why)

        def stop():
            holder.kill()
            holder.wait(10)
            holder.stdout.close()
            holder.stderr.close()
        self.addCleanup(stop)
        self.prefix = ["nsenter", "-t", str(holder.pid), "-m", "--"]
        self.env["LEADSYNC_STATE"] = os.path.join(vol, "ledger.db")
        self.first_and_more()
        fill = subprocess.run(self.prefix + ["sh", "-c", "cat /dev/zero > '%s/filler'" % vol],
                              capture_output=True, text=True)
        self.assertIn("No space left", fill.stderr)
        p = self.worker("run", "--once")
        self.assert_clear_failure(p, ("disk full",))
        # status opens the ledger read-only, but in WAL mode even a reader
        # needs the -shm file, which a full disk may refuse: either it answers
        # or it fails as clearly as the run did
        p = self.worker("status")
        if p.returncode != 0:
            self.assert_clear_failure(p, ("disk full",), codes=(74,))
        subprocess.run(self.prefix + ["rm", "-f", os.path.join(vol, "filler")], check=True)
        self.finish("disk-full-tmpfs")

    def test_disk_full_rlimit(self):
        self.first_and_more()
        db = self.env["LEADSYNC_STATE"]
        limit = os.path.getsize(db) + 8192

        def cap():
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
        p = self.worker("run", "--once", preexec=cap)
        self.assert_clear_failure(p, ("disk full", "I/O error", "too large"))
        self.finish("disk-full-rlimit")

    # ---- read-only -------------------------------------------------------
    def test_ledger_readonly(self):
        self.first_and_more()
        db = self.env["LEADSYNC_STATE"]
        how = "chattr"
        if subprocess.run(["chattr", "+i", db], capture_output=True).returncode == 0:
            self.addCleanup(subprocess.run, ["chattr", "-i", db], capture_output=True)
            undo = ["chattr", "-i", db]
        else:
            how = "bind-ro"
            d = os.path.dirname(db)
            holder = subprocess.Popen(
                ["unshare", "-m", "--propagation", "private", "sh", "-c",
                 "mount --bind '%s' '%s' && mount -o remount,bind,ro '%s' && echo ready && "
                 "exec sleep 600" % (d, d, d)], stdout=subprocess.PIPE, text=True)
            self.addCleanup(holder.stdout.close)
            self.addCleanup(holder.wait, 10)
            self.addCleanup(holder.kill)
            if holder.stdout.readline().strip() != "ready":
                self.skipTest("neither chattr +i nor a read-only bind mount works here")
            self.prefix = ["nsenter", "-t", str(holder.pid), "-m", "--"]
            undo = None
        p = self.worker("run", "--once")
        self.assert_clear_failure(p, ("read-only", "readonly", "cannot open", "Operation not "
                                      "permitted", "I/O error"))
        print("ledger-readonly: made read-only with %s; the run said: %s"
              % (how, p.stderr.strip().splitlines()[-1]))
        if undo:
            subprocess.run(undo, check=True)
        self.prefix = []
        self.finish("ledger-readonly")

    # ---- corrupted -----------------------------------------------------
    def corrupt(self, case, damage):
        faultlib.seed(self, FIRST + MORE)
        faultlib.settle()
        p = self.worker("run", "--once")
        self.assertEqual(p.returncode, 0, p.stderr[-3000:])
        first = {r["lead"]: r["id"] for r in self.sink.r.accepted()}
        db = self.env["LEADSYNC_STATE"]
        for x in ("-wal", "-shm"):
            self.assertFalse(os.path.exists(db + x), "a clean exit leaves no %s" % x)
        size = os.path.getsize(db)
        with open(db, "r+b") as f:
            damage(f, size)
        for cmd in (["run", "--once"], ["status"], ["status", "--json"]):
            p = self.worker(*cmd)
            last = self.assert_clear_failure(p, ("not a valid leadsync ledger",), codes=(74,))
            self.assertEqual(len(p.stderr.strip().splitlines()), 1, p.stderr)
            self.assertNotIn("Traceback", p.stderr)
        # the documented recovery: move it aside, run again
        os.rename(db, db + ".corrupt")
        n_before = len(self.sink.r.accepted())
        t0 = time.monotonic()
        p = self.worker("run", "--once")
        recover = time.monotonic() - t0
        self.assertEqual(p.returncode, 0, p.stderr[-3000:])
        again = self.sink.r.accepted()[n_before:]
        want = faultlib.expected(self.table)
        lost, dups, repeats = self.sink.report(want)
        changed = [r for r in again if first.get(r["lead"]) != r["id"]]
        faultlib.summary(case, lost, dups, repeats, recover, redelivered=len(again),
                         new_ids=len(changed))
        self.assertEqual((lost, dups), (0, 0))
        self.assertEqual(len(again), len(want), "every lead re-delivered once")
        self.assertEqual(changed, [], "a re-delivery carried a new webhook-id")
        self.assertTrue(all(r["dup"] for r in again))
        print("%s: error was: %s" % (case, last))

    def test_corrupt_middle(self):
        def damage(f, size):
            f.seek(size // 2)
            f.write(os.urandom(16384))
        self.corrupt("corrupt-middle", damage)

    def test_corrupt_truncate(self):
        self.corrupt("corrupt-truncate", lambda f, size: f.truncate(size // 3))

    def test_corrupt_garbage(self):
        def damage(f, size):
            f.seek(0)
            f.write(os.urandom(size))
        self.corrupt("corrupt-garbage", damage)


if __name__ == "__main__":
    lstest.main()
