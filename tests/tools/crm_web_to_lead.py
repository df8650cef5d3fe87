#!/usr/bin/env python3
"""crm_web_to_lead.py - a loopback HTTPS double of Salesforce Web-to-Lead
(as Salesforce documents it) for the Web-to-Lead sink's tests.

Route: POST /servlet/servlet.WebToLead, form-urlencoded, always 200 (as the
real one: no error reaches the caller). A post with the right --oid creates a
lead (every post creates: no dedupe); past --daily-limit posts a day (double's
clock, UTC) it is queued instead of stored. Faults (crmdouble.py): request
rules, e.g. {"route": "WebToLead", "drop": true} reads the form and closes
the connection without an answer.
GET /__state: {"leads": [...], "queued": [...], "wrong_oid": N}.
"""

import os
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import crmdouble  # noqa: E402


class WebToLead(crmdouble.Double):
    def __init__(self, args):
        super().__init__(args)
        self.leads = []
        self.queued = []
        self.wrong_oid = 0
        self.days = {}

    def state(self):
        return {"leads": self.leads, "queued": self.queued, "wrong_oid": self.wrong_oid}

    def api(self, headers, method, path, query, raw):
        if path != "/servlet/servlet.WebToLead" or method != "POST":
            return 404, "not found", {"Content-Type": "text/plain"}
        form = {k: v[0] for k, v in
                urllib.parse.parse_qs(raw.decode("utf-8", "replace"),
                                      keep_blank_values=True).items()}
        with self.lock:
            if form.get("oid") != self.args.oid:
                self.wrong_oid += 1
            else:
                day = time.strftime("%Y-%m-%d", time.gmtime(self.now()))
                self.days[day] = self.days.get(day, 0) + 1
                (self.leads if self.days[day] <= self.args.daily_limit
                 else self.queued).append(form)
        return 200, "", {"Content-Type": "text/html"}


def main():
    ap = crmdouble.base_args(__doc__)
    ap.add_argument("--oid", default="00D000000000001")
    ap.add_argument("--daily-limit", type=int, default=500)
    crmdouble.serve(WebToLead(ap.parse_args()))


if __name__ == "__main__":
    main()
