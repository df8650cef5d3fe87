#!/usr/bin/env python3
"""crm_web_to_lead.py - a loopback HTTPS double of Salesforce Web-to-Lead
for the Web-to-Lead sink's tests, written from Salesforce Help "Generate
Leads from Your Website for Your Sales Teams" / "Web-to-Lead Limits" (500
leads a day, the rest queued) and the Lead field reference (standard field
lengths, counted by Salesforce in UTF-16 code units).

Route: POST /servlet/servlet.WebToLead, form-urlencoded, always 200 with an
HTML answer page (as the real one: no error reaches the caller). A post with
the right --oid creates a lead (every post creates: no dedupe); a field
longer than its Lead field length (UTF-16 code units: an emoji counts 2)
silently creates nothing ("dropped"); past --daily-limit posts a day
(double's clock, UTC) it is queued instead of stored. Faults (crmdouble.py):
request rules, e.g. {"route": "WebToLead", "drop": true} reads the form and
closes the connection without an answer.
GET /__state: {"leads": [...], "queued": [...], "wrong_oid": N, "dropped": N}.
"""

import os
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import crmdouble  # noqa: E402

# Lead field lengths (Salesforce Lead field reference).
LIMITS = {"first_name": 40, "last_name": 80, "email": 80, "phone": 40, "company": 255,
          "title": 128, "country": 80, "description": 32000}
PAGE = "<html><head><meta http-equiv=\"refresh\" content=\"0;URL=https://example.com\">" \
       "</head><body>WEB-TO-LEAD ANSWER PAGE</body></html>"


class WebToLead(crmdouble.Double):
    def __init__(self, args):
        super().__init__(args)
        self.leads = []
        self.queued = []
        self.wrong_oid = 0
        self.dropped = 0
        self.days = {}

    def state(self):
        return {"leads": self.leads, "queued": self.queued, "wrong_oid": self.wrong_oid,
                "dropped": self.dropped}

    def api(self, headers, method, path, query, raw):
        if path != "/servlet/servlet.WebToLead" or method != "POST":
            return 404, "not found", {"Content-Type": "text/plain"}
        form = {k: v[0] for k, v in
                urllib.parse.parse_qs(raw.decode("utf-8", "replace"),
                                      keep_blank_values=True).items()}
        with self.lock:
            if form.get("oid") != self.args.oid:
                self.wrong_oid += 1
            elif any(crmdouble.utf16_len(form.get(k, "")) > n for k, n in LIMITS.items()):
                self.dropped += 1  # validation fails after the answer: nothing is created
            else:
                day = time.strftime("%Y-%m-%d", time.gmtime(self.now()))
                self.days[day] = self.days.get(day, 0) + 1
                (self.leads if self.days[day] <= self.args.daily_limit
                 else self.queued).append(form)
        return 200, PAGE, {"Content-Type": "text/html;charset=UTF-8"}


def main():
    ap = crmdouble.base_args(__doc__)
    ap.add_argument("--oid", default="00D000000000001")
    ap.add_argument("--daily-limit", type=int, default=500)
    crmdouble.serve(WebToLead(ap.parse_args()))


if __name__ == "__main__":
    main()
