#!/usr/bin/env python3
"""demo_receiver.py - the webhook end of `docker compose up`: prints one line
per delivery (type, leadId, stage; no personal data) and answers 204.

Python 3 stdlib only. Listens on 127.0.0.1:8080; in the compose file the
worker shares this container's network, so the webhook URL is loopback.
"""
import http.server
import json
import signal
import sys


class Hook(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        try:
            doc = json.loads(body)
            lead = doc.get("lead", {})
            print("%s %s stage=%s id=%s" % (doc.get("type"), lead.get("leadId"),
                                             lead.get("stage"), self.headers.get("webhook-id")),
                  flush=True)
        except ValueError:
            print("not JSON (%d bytes)" % len(body), flush=True)
        self.send_response(204)
        self.end_headers()

    def do_OPTIONS(self):
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    # As PID 1 in a container, SIGTERM has no default action: exit on it.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 8080
    print("demo receiver on 127.0.0.1:%d" % port, flush=True)
    http.server.ThreadingHTTPServer(("127.0.0.1", port), Hook).serve_forever()
