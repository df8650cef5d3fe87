#!/usr/bin/env python3
"""`leadsync report` and `leadsync forget`, against a real Azurite.

report: the --json figures of a seeded table, the text and the HTML page
carry no personal data, and the page rendered by a real headless browser
(Debian's chromium) to a PNG loads with no network (an empty network
namespace where allowed, a dead proxy and no name resolution in any case),
has every chart, and is not blank.

forget: one of many customers is erased; the JSONL file is rewritten without
their lines (every other line unchanged), the ledger holds no trace of their
email, their pending webhook deliveries are cancelled; then, with the webhook
back up, a run delivers every other pending lead and nothing of theirs, and
the JSONL file gets nothing new.
"""

import json
import os
import shutil
import sqlite3
import struct
import subprocess
import sys
import zlib

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import aztable  # noqa: E402
import lstest  # noqa: E402
import whtest  # noqa: E402

CHARTS = ("chart-funnel", "chart-new-leads", "chart-sources", "chart-countries", "chart-offers")
BAR_RGB = (0x2F, 0x6F, 0xB3)  # .bar in the page's CSS


def customer_rows(n_customers):
    """Customer i: "Contact me" on offer a.one; every third also "Get it now";
    every fifth a test drive on b.two; country by i."""
    rows = []
    for i in range(n_customers):
        email = "person%02d@example.com" % i
        pk = "11:2F%02d:2F2026" % (i % 3 + 1)
        rows.append(aztable.marketplace_row(pk, "p%03d" % i, email, "PLT", "SPZA", "a.one",
                                            first="First%02d" % i, last="Last%02d" % i))
        if i % 3 == 0:
            rows.append(aztable.marketplace_row(pk, "i%03d" % i, email, "INS", "AzureMarketplace",
                                                "a.one", first="First%02d" % i))
        if i % 5 == 0:
            rows.append(aztable.marketplace_row(pk, "t%03d" % i, email, "StartTestDrive",
                                                "TestDrive", "b.two", first="First%02d" % i))
    return rows


def png_pixels(path):
    """(width, height, rows of RGB tuples) of an 8-bit RGB or RGBA PNG."""
    with open(path, "rb") as f:
        data = f.read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, width, height, channels = 8, b"", 0, 0, 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, color = struct.unpack(">IIBB", body[:10])
            assert depth == 8 and color in (2, 6), "unexpected PNG format"
            channels = 3 if color == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw = zlib.decompress(idat)
    stride = width * channels
    prev = bytearray(stride)
    rows = []
    for y in range(height):
        ftype = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for x in range(stride):
            a = line[x - channels] if x >= channels else 0
            b = prev[x]
            c = prev[x - channels] if x >= channels else 0
            if ftype == 1:
                line[x] = (line[x] + a) & 255
            elif ftype == 2:
                line[x] = (line[x] + b) & 255
            elif ftype == 3:
                line[x] = (line[x] + (a + b) // 2) & 255
            elif ftype == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append([tuple(line[i:i + 3]) for i in range(0, stride, channels)])
        prev = line
    return width, height, rows


def no_network_prefix():
    """`unshare -n` (a network namespace with nothing in it) where allowed."""
    unshare = shutil.which("unshare")
    if unshare and subprocess.run([unshare, "-n", "true"], capture_output=True).returncode == 0:
        return [unshare, "-n"]
    return []


class ReportForget(whtest.WebhookCase):
    def setUp(self):
        super().setUp()
        self.rows = customer_rows(30)
        self.write_rows(self.rows)
        lstest.settle()

    def sync(self, sinks):
        return self.run_worker("run", "--once", env={"LEADSYNC_SINKS": sinks})

    def test_report_figures_and_page(self):
        self.sync("jsonl:" + self.jsonl)
        p = self.run_worker("report", "--json", check=0)
        r = json.loads(p.stdout)
        self.assertEqual(r["leads"], 36)  # 30 on a.one, 6 on b.two (customer + offer)
        self.assertEqual(r["rows"], len(self.rows))
        by_offer = {e["offer"]: e["leads"] for e in r["byOffer"]}
        self.assertEqual(by_offer, {"a.one": 30, "b.two": 6})
        funnel = {e["offer"]: e for e in r["funnel"]}
        self.assertEqual((funnel["a.one"]["initialInterest"], funnel["a.one"]["trial"],
                          funnel["a.one"]["active"]), (30, 10, 10))
        self.assertEqual(funnel["a.one"]["interestToActive"], round(10 / 30, 4))
        self.assertEqual((funnel["b.two"]["initialInterest"], funnel["b.two"]["trial"],
                          funnel["b.two"]["active"]), (6, 6, 0))
        self.assertEqual(sum(d["leads"] for d in r["newLeads"]["series"]), 36)
        self.assertEqual({e["country"]: e["leads"] for e in r["byCountry"]}, {"US": 36})
        self.assertEqual(r["sinks"][0]["delivered"], len(self.rows))

        text = self.run_worker("report", check=0).stdout
        html_path = os.path.join(self.dir, "report.html")
        self.run_worker("report", "--html", html_path, check=0)
        with open(html_path, encoding="utf-8") as f:
            html = f.read()
        for out in (text, html, p.stdout):
            for secret in ("example.com", "First0", "Last0", "555 0100", "Example Corp"):
                self.assertNotIn(secret, out)
        self.assertIn("a.one", text)
        self.render(html_path)

    def render(self, html_path):
        browser = shutil.which("chromium")
        self.assertIsNotNone(browser, "chromium is missing: scripts/bootstrap installs it")
        with open(html_path, encoding="utf-8") as f:
            html = f.read()
        for ref in ("://", "url(", "src=", "href=", "@import", "<link", "<script", "<img"):
            self.assertNotIn(ref, html)  # nothing the page could fetch
        png = os.path.join(self.dir, "report.png")
        # No network: an empty network namespace where allowed, and in any case
        # a proxy on a closed loopback port and no name resolution.
        common = no_network_prefix() + [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync",
                  "--proxy-server=http://127.0.0.1:%d" % whtest.free_port(),
                  "--proxy-bypass-list=<-loopback>", "--host-resolver-rules=MAP * ~NOTFOUND",
                  "--window-size=900,2000"]
        for extra in (["--screenshot=" + png], ["--dump-dom"]):
            profile = os.path.join(self.dir, "profile-%d" % len(extra[0]))  # fresh each
            p = subprocess.run(common + ["--user-data-dir=" + profile] + extra
                               + ["file://" + html_path],
                               capture_output=True, text=True, timeout=120)
            self.assertEqual(p.returncode, 0, p.stderr[-2000:])
            if extra[0] == "--dump-dom":
                dom = p.stdout
        for chart in CHARTS:
            self.assertIn('id="%s"' % chart, dom)
        self.assertGreater(dom.count("<rect"), 40)
        width, height, pixels = png_pixels(png)
        self.assertEqual((width, height), (900, 2000))
        white = sum(1 for row in pixels for px in row if px == (255, 255, 255))
        bars = sum(1 for row in pixels for px in row
                   if all(abs(px[i] - BAR_RGB[i]) <= 6 for i in range(3)))
        self.assertLess(white, width * height * 0.97, "the screenshot is blank")
        self.assertGreater(bars, 2000, "no chart bars in the screenshot")

    def test_forget_one_of_many(self):
        port = whtest.free_port()  # nothing listens there until the receiver starts
        down = "http://127.0.0.1:%d/hook" % port
        sinks = "jsonl:%s,webhook:%s" % (self.jsonl, down)
        self.run_worker("run", "--once", env={"LEADSYNC_SINKS": sinks,
                                              "LEADSYNC_ONCE_MAX_WAIT_SECONDS": "1"})
        before = self.read_lines()
        self.assertEqual(len(before), len(self.rows))
        gone = "person03@example.com"  # PLT + INS on a.one
        mine = [l for l in before if json.loads(l)["lead"]["customer"]["email"] == gone]
        self.assertEqual(len(mine), 2)
        ledger = self.env["LEADSYNC_STATE"]
        cursor = self.query(ledger, "SELECT value FROM meta WHERE key LIKE 'cursor%'")

        env = {"LEADSYNC_SINKS": sinks}
        p = self.run_worker("forget", "--email", "  Person03@Example.com ", "--dry-run", env=env,
                            check=0)
        self.assertIn("would remove 2 lines", p.stdout)
        self.assertEqual(self.read_lines(), before)
        self.assertIn(gone.encode(), self.ledger_bytes(ledger))

        leftover = self.jsonl + ".forget"  # an old run's name: never reused now
        with open(leftover, "w", encoding="utf-8") as f:
            f.write("not ours\n")
        p = self.run_worker("forget", "--email", gone, env=env, check=0)
        self.assertIn("removed 2 lines of " + self.jsonl, p.stdout)
        with open(leftover, encoding="utf-8") as f:
            self.assertEqual(f.read(), "not ours\n")
        self.assertEqual([n for n in os.listdir(self.dir) if ".forget." in n], [])
        self.assertIn("RowKey 'p003'", p.stdout)  # the table row the publisher must delete
        self.assertIn("RowKey 'i003'", p.stdout)
        self.assertIn("cancelled 1 pending", p.stdout)  # the webhook coalesces a lead
        after = self.read_lines()
        self.assertEqual(after, [l for l in before if l not in mine])
        self.assertNotIn(gone.encode(), self.ledger_bytes(ledger))
        self.assertNotIn(b"First03", self.ledger_bytes(ledger))
        self.assertEqual(self.query(ledger, "SELECT value FROM meta WHERE key LIKE 'cursor%'"),
                         cursor)
        pending = self.query(ledger, "SELECT count(*) FROM outbox AS o JOIN bodies AS b"
                                     " ON b.delivery_id = o.delivery_id"
                                     " WHERE o.state = 'pending' AND b.payload IS NOT NULL")
        mine_ids = {json.loads(l)["lead"]["leadId"] for l in mine}
        others = {json.loads(l)["lead"]["leadId"] for l in before} - mine_ids
        self.assertEqual(pending, [(len(others),)])  # one per lead: the webhook coalesces
        self.assertEqual(self.query(ledger, "SELECT count(*) FROM rows"), [(len(self.rows),)])

        # the webhook comes back: every other lead goes out, nothing of theirs
        recv = self.receiver(port=port)
        self.assertEqual(recv.url, down)
        p = self.run_worker("run", "--once", env={"LEADSYNC_SINKS": sinks})
        self.assertEqual(self.read_lines(), after)
        got = {r["lead"] for r in recv.accepted()}
        self.assertEqual(got, others, p.stderr[-2000:])

    def test_forget_beside_the_daemon(self):
        """forget while the daemon appends to the JSONL file: the file is
        rewritten under its lock, and the daemon's later lines land in the new
        file (not in the replaced one it had open), none of the person's."""
        sinks = "jsonl:" + self.jsonl
        daemon = self.run_daemon({"LEADSYNC_SINKS": sinks, "LEADSYNC_POLL_SECONDS": "1"})
        lstest.wait_for(lambda: os.path.exists(self.jsonl)
                        and len(self.read_lines()) >= len(self.rows), 120, "the first lines")
        gone = "person03@example.com"
        p = self.run_worker("forget", "--email", gone, env={"LEADSYNC_SINKS": sinks}, check=0)
        self.assertIn("removed 2 lines of " + self.jsonl, p.stdout)
        after = self.read_lines()
        self.assertEqual(len(after), len(self.rows) - 2)
        later = ["later%02d@example.com" % i for i in range(10)]
        self.write_rows([aztable.marketplace_row("12:2F01:2F2026", "n%03d" % i, e, "PLT", "SPZA",
                                                 "a.one") for i, e in enumerate(later)])
        lstest.wait_for(lambda: len(self.read_lines()) >= len(after) + len(later), 120,
                        "the daemon's later lines in the file")
        final = self.read_lines()
        self.assertEqual(final[:len(after)], after)
        emails = [json.loads(line)["lead"]["customer"]["email"] for line in final]
        self.assertEqual(sorted(emails[len(after):]), later)
        self.assertNotIn(gone, emails)
        self.assertIsNone(daemon.poll(), lstest.read_text(daemon.log)[-2000:])

    def test_forget_beside_a_reader(self):
        """A reader of the ledger (a daemon's round holds a read transaction)
        keeps the truncating checkpoint from finishing: forget erases, says the
        WAL still holds old pages and exits 75; a rerun without it empties it."""
        sinks = "jsonl:" + self.jsonl
        self.sync(sinks)
        ledger = self.env["LEADSYNC_STATE"]
        gone = "person03@example.com"
        reader = sqlite3.connect(ledger, isolation_level=None)
        try:
            reader.execute("BEGIN")
            reader.execute("SELECT count(*) FROM rows").fetchall()  # holds its snapshot
            p = self.run_worker("forget", "--email", gone, env={"LEADSYNC_SINKS": sinks},
                                check=75)
            self.assertIn("erased: ", p.stdout)
            self.assertIn("old copies of erased pages remain in %s and %s-wal" % (ledger, ledger),
                          p.stderr)
            self.assertGreater(os.path.getsize(ledger + "-wal"), 0)
            reader.execute("COMMIT")  # the round ends; the connection stays (the WAL with it)
            self.run_worker("forget", "--email", gone, env={"LEADSYNC_SINKS": sinks}, check=0)
            self.assertEqual(os.path.getsize(ledger + "-wal"), 0)
            self.assertNotIn(gone.encode(), self.ledger_bytes(ledger))
        finally:
            reader.close()

    def read_lines(self):
        with open(self.jsonl, encoding="utf-8") as f:
            return f.read().splitlines()

    def query(self, path, sql):
        db = sqlite3.connect("file:%s?mode=ro" % path, uri=True)
        try:
            return db.execute(sql).fetchall()
        finally:
            db.close()

    def ledger_bytes(self, path):
        data = b""
        for suffix in ("", "-wal"):
            if os.path.exists(path + suffix):
                with open(path + suffix, "rb") as f:
                    data += f.read()
        return data


if __name__ == "__main__":
    lstest.main()
