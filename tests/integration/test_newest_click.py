#!/usr/bin/env python3
"""A lead's newest click wins: two rows of one customer+offer, the older
written first, reach a webhook receiver (which wants the newest state) as the
newer row, whichever RowKey sorts first - on one page, across the pages of a
window, across windows - and a row that shows up late, after the newer state
was delivered, never replaces it: it is recorded, written to the JSONL audit
file (which keeps every version) as the older event it is, and not sent to
the webhook. "Newer" is the row's Timestamp (the service's write time)."""

import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import aztable  # noqa: E402
import lstest  # noqa: E402
import whtest  # noqa: E402

EMAIL = "ada@example.com"
PK = "11:2F24:2F2026"


class NewestClick(whtest.WebhookCase):
    def setUp(self):
        super().setUp()
        self.recv = self.receiver()
        self.env["LEADSYNC_SINKS"] = "webhook:%s,jsonl:%s" % (self.recv.url, self.jsonl)

    def write_pair(self, older_rk, newer_rk):
        """The older click ("Contact me", PLT), then 150 ms later the newer
        ("Get it now", INS), for one customer and offer. Their Timestamps."""
        self.table.upsert(aztable.marketplace_row(PK, older_rk, EMAIL, action="PLT",
                                                  description="older click"))
        time.sleep(0.15)
        self.table.upsert(aztable.marketplace_row(PK, newer_rk, EMAIL, action="INS",
                                                  description="newer click"))
        lstest.settle()
        ts = {e["RowKey"]: e["Timestamp"] for e in self.table.query()}
        self.assertLess(ts[older_rk], ts[newer_rk])
        return ts[older_rk], ts[newer_rk]

    def delivered(self):
        return [(r["row_key"], r["action"], r["stage"]) for r in self.recv.accepted()]

    def audit(self):
        return [(line["lead"]["rowKey"], line["lead"]["description"]) for line in self.lines()]

    def check_newest(self, older_rk, newer_rk, page_size="1000"):
        self.write_pair(older_rk, newer_rk)
        self.run_worker("run", "--once", env={"LEADSYNC_PAGE_SIZE": page_size}, check=0)
        # the receiver's last state is the newer click; the older one goes
        # out only when it was read (and so delivered) first, on its own page
        got = self.delivered()
        self.assertEqual(got[-1], (newer_rk, "INS", "active"), got)
        self.assertEqual(got.count((newer_rk, "INS", "active")), 1, got)
        if page_size == "1000" or older_rk > newer_rk:
            self.assertEqual(got, [(newer_rk, "INS", "active")])
        # the audit file keeps both versions; on one page, in time order
        audit = self.audit()
        self.assertEqual(sorted(audit), sorted([(older_rk, "older click"),
                                                (newer_rk, "newer click")]))
        if page_size == "1000":
            self.assertEqual(audit, [(older_rk, "older click"), (newer_rk, "newer click")])
        st = self.sink_stats(self.status(), self.recv.url)
        self.assertEqual((st["pending"], st["dead"]), (0, 0))
        # a re-run changes nothing
        self.run_worker("run", "--once", env={"LEADSYNC_PAGE_SIZE": page_size}, check=0)
        self.assertEqual(self.delivered(), got)
        self.assertEqual(len(self.audit()), 2)

    def test_same_page_older_key_last(self):
        self.check_newest("zz-older", "aa-newer")

    def test_same_page_older_key_first(self):
        self.check_newest("aa-older", "zz-newer")

    def test_across_pages_older_key_last(self):
        self.check_newest("zz-older", "aa-newer", page_size="1")

    def test_across_pages_older_key_first(self):
        self.check_newest("aa-older", "zz-newer", page_size="1")

    def test_inline_jsonl_keeps_time_order(self):
        self.env["LEADSYNC_SINKS"] = "jsonl:" + self.jsonl
        self.write_pair("zz-older", "aa-newer")
        self.run_worker("run", "--once", check=0)
        self.assertEqual(self.audit(), [("zz-older", "older click"), ("aa-newer", "newer click")])
        self.assertEqual([line["type"] for line in self.lines()], ["lead.created", "lead.updated"])

    def test_across_windows(self):
        for older_rk, newer_rk in (("zz-older", "aa-newer"), ("aa-old2", "zz-new2")):
            self.table.upsert(aztable.marketplace_row(PK, older_rk, EMAIL, action="PLT"))
            lstest.settle()
            self.run_worker("run", "--once", check=0)
            self.table.upsert(aztable.marketplace_row(PK, newer_rk, EMAIL, action="INS"))
            lstest.settle()
            self.run_worker("run", "--once", check=0)
            self.assertEqual(self.delivered()[-1], (newer_rk, "INS", "active"))

    def check_late(self, older_rk, newer_rk):
        t_older, t_newer = self.write_pair(older_rk, newer_rk)
        # The first read sees only the newer row (as when the older one is
        # not visible yet), and delivers it.
        self.run_worker("run", "--once", "--since", t_newer, check=0)
        self.assertEqual(self.delivered(), [(newer_rk, "INS", "active")])
        self.assertEqual(self.audit(), [(newer_rk, "newer click")])
        # The older row shows up late: recorded, audited as the older event,
        # never sent to the receiver that wants the newest state.
        p = self.run_worker("run", "--once", "--since", t_older, check=0)
        self.assertIn("older than its newest version", p.stderr)
        self.assertRegex(p.stderr, r"run done: .* late=1 ")  # counted in the summary line
        js = self.status()
        self.assertEqual(js["lastRun"]["summary"]["late"], 1)
        text = self.run_worker("status", check=0).stdout
        self.assertRegex(text, r"(?m)^ +1 late rows: older than their lead's newest version")
        self.assertEqual(self.delivered(), [(newer_rk, "INS", "active")])
        self.assertEqual(self.audit(), [(newer_rk, "newer click"), (older_rk, "older click")])
        late = self.lines()[-1]["lead"]
        self.assertEqual((late["action"], late["stage"]), ("PLT", "active"))  # stage never back
        st = self.sink_stats(self.status(), self.recv.url)
        self.assertEqual((st["pending"], st["delivered"], st["superseded"]), (0, 1, 0 + 1))
        # and it stays that way
        self.run_worker("run", "--once", check=0)
        self.assertEqual(len(self.recv.accepted()), 1)
        self.assertEqual(len(self.lines()), 2)

    def test_late_older_row_older_key_last(self):
        self.check_late("zz-older", "aa-newer")

    def test_late_older_row_older_key_first(self):
        self.check_late("aa-older", "zz-newer")


if __name__ == "__main__":
    whtest.lstest.main()
