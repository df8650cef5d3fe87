#!/usr/bin/env python3
"""smtp_server.py - a loopback SMTP server for the email sink's tests,
written from RFC 5321 (SMTP), RFC 3207 (STARTTLS), RFC 4954 (AUTH), RFC 4616
(PLAIN) and the LOGIN mechanism's draft. Python 3 stdlib only.

Listens on 127.0.0.1: plain SMTP with STARTTLS offered (--cert/--key), or
implicit TLS (--implicit-tls, as smtps:// on port 465). With --user and
--password, AUTH PLAIN and LOGIN are offered and MAIL needs a login (530
otherwise); wrong credentials get 535 5.7.8. --reject-rcpt ADDR answers 550
5.1.1 to that recipient. --require-tls refuses AUTH and MAIL before STARTTLS.

Prints "SMTP_PORT CONTROL_PORT" once listening. Control API (HTTP, JSON):
  GET  /messages  every message accepted: mail_from, rcpt, data (the raw
                  message, dot-unstuffed), tls, user, mechanism
  GET  /sessions  every session: commands seen (AUTH arguments hidden), tls
  POST /fault     a list of rules appended: {"on": "MAIL"|"RCPT"|"DATA"|
                  "DOT"|"AUTH"|"EHLO", "reply": "451 4.3.0 try later",
                  "drop": true (close without answering), "count": N}. "DOT"
                  is the end of the message: the message is recorded first,
                  then the reply (or the drop) goes out, so a drop there is a
                  message the client cannot know was taken.
  POST /reset     forgets messages, sessions and faults
"""

import argparse
import base64
import json
import os
import socket
import socketserver
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class State:
    def __init__(self):
        self.lock = threading.Lock()
        self.messages = []
        self.sessions = []
        self.faults = []

    def fault(self, on):
        with self.lock:
            for r in self.faults:
                if r.get("on") == on and r.get("count", 1) > 0:
                    r["count"] = r.get("count", 1) - 1
                    return r
        return None


class Dropped(Exception):
    pass


class Session(socketserver.BaseRequestHandler):
    def setup(self):
        self.tls = False
        self.user = None
        self.mechanism = None
        self.log = {"commands": [], "tls": False}
        with STATE.lock:
            STATE.sessions.append(self.log)
        self.sock = self.request
        if ARGS.implicit_tls:
            self.sock = TLS.wrap_socket(self.sock, server_side=True)
            self.tls = self.log["tls"] = True
        self.f = self.sock.makefile("rb")

    def send(self, line):
        self.sock.sendall((line + "\r\n").encode())

    def readline(self):
        line = self.f.readline(4096)
        if not line:
            raise Dropped()
        return line.decode("utf-8", "replace").rstrip("\r\n")

    def faulted(self, on):
        rule = STATE.fault(on)
        if rule is None:
            return False
        if rule.get("drop"):
            raise Dropped()
        self.send(rule.get("reply", "451 4.3.0 try again later"))
        return True

    def handle(self):
        try:
            self.send("220 leadsync-test ESMTP")
            self.loop()
        except (Dropped, OSError, ssl.SSLError):
            pass
        finally:
            try:
                self.sock.close()
            except OSError:
                pass

    def loop(self):
        self.mail_from, self.rcpt = None, []
        while True:
            line = self.readline()
            verb = line.split(" ", 1)[0].upper()
            self.log["commands"].append(verb if verb == "AUTH" else line)
            handler = getattr(self, "do_" + verb, None)
            if verb == "QUIT":
                self.send("221 2.0.0 bye")
                return
            if handler is None:
                self.send("502 5.5.1 command not implemented")
            else:
                handler(line[len(verb):].strip())

    def do_EHLO(self, arg):
        if self.faulted("EHLO"):
            return
        caps = ["leadsync-test greets %s" % arg, "8BITMIME", "SIZE 10485760"]
        if ARGS.cert and not self.tls:
            caps.append("STARTTLS")
        if ARGS.user:
            caps.append("AUTH PLAIN LOGIN")
        for c in caps[:-1]:
            self.send("250-" + c)
        self.send("250 " + caps[-1])

    do_HELO = do_EHLO

    def do_STARTTLS(self, arg):
        if not ARGS.cert or self.tls:
            self.send("502 5.5.1 STARTTLS not available")
            return
        self.send("220 2.0.0 ready to start TLS")
        self.sock = TLS.wrap_socket(self.sock, server_side=True)
        self.f = self.sock.makefile("rb")
        self.tls = self.log["tls"] = True
        self.mail_from, self.rcpt = None, []

    def check_login(self, user, password):
        if user == ARGS.user and password == ARGS.password:
            self.user = user
            self.send("235 2.7.0 authentication successful")
        else:
            self.send("535 5.7.8 authentication credentials invalid")

    def do_AUTH(self, arg):
        if self.faulted("AUTH"):
            return
        if ARGS.require_tls and not self.tls:
            self.send("538 5.7.11 encryption required")
            return
        parts = arg.split()
        mech = parts[0].upper() if parts else ""
        self.mechanism = mech
        try:
            if mech == "PLAIN":
                data = parts[1] if len(parts) > 1 else None
                if data is None:
                    self.send("334 ")
                    data = self.readline()
                _, user, password = base64.b64decode(data).decode().split("\0")
            elif mech == "LOGIN":
                self.send("334 " + base64.b64encode(b"Username:").decode())
                user = base64.b64decode(self.readline()).decode()
                self.send("334 " + base64.b64encode(b"Password:").decode())
                password = base64.b64decode(self.readline()).decode()
            else:
                self.send("504 5.5.4 unrecognized authentication type")
                return
        except (ValueError, UnicodeDecodeError):
            self.send("501 5.5.2 cannot decode the response")
            return
        self.check_login(user, password)

    def do_MAIL(self, arg):
        if ARGS.require_tls and not self.tls:
            self.send("530 5.7.0 must issue a STARTTLS command first")
            return
        if ARGS.user and not self.user:
            self.send("530 5.7.0 authentication required")
            return
        if self.faulted("MAIL"):
            return
        self.mail_from, self.rcpt = arg[5:].strip() if arg.upper().startswith("FROM:") else arg, []
        self.send("250 2.1.0 sender ok")

    def do_RCPT(self, arg):
        if self.mail_from is None:
            self.send("503 5.5.1 need MAIL first")
            return
        addr = arg[3:].strip() if arg.upper().startswith("TO:") else arg
        if addr.strip("<>") in ARGS.reject_rcpt:
            self.send("550 5.1.1 %s: recipient address rejected: user unknown" % addr)
            return
        if self.faulted("RCPT"):
            return
        self.rcpt.append(addr)
        self.send("250 2.1.5 recipient ok")

    def do_DATA(self, arg):
        if not self.rcpt:
            self.send("503 5.5.1 need RCPT first")
            return
        if self.faulted("DATA"):
            return
        self.send("354 end data with <CR><LF>.<CR><LF>")
        lines = []
        while True:
            raw = self.f.readline(1 << 20)
            if not raw:
                raise Dropped()
            if raw in (b".\r\n", b".\n"):
                break
            lines.append(raw[1:] if raw.startswith(b"..") else raw)
        msg = {"mail_from": self.mail_from, "rcpt": self.rcpt,
               "data": b"".join(lines).decode("utf-8", "replace"), "tls": self.tls,
               "user": self.user, "mechanism": self.mechanism}
        with STATE.lock:
            STATE.messages.append(msg)
        self.mail_from, self.rcpt = None, []
        if self.faulted("DOT"):
            return
        self.send("250 2.0.0 queued as %d" % len(STATE.messages))

    def do_RSET(self, arg):
        self.mail_from, self.rcpt = None, []
        self.send("250 2.0.0 ok")

    def do_NOOP(self, arg):
        self.send("250 2.0.0 ok")

    def do_VRFY(self, arg):
        self.send("252 2.1.5 cannot verify")


class Control(BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def answer(self, body):
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        with STATE.lock:
            if self.path == "/messages":
                return self.answer(STATE.messages)
            if self.path == "/sessions":
                return self.answer(STATE.sessions)
        self.send_error(404)

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(n) or b"null")
        with STATE.lock:
            if self.path == "/fault":
                STATE.faults.extend(body or [])
            elif self.path == "/reset":
                STATE.messages, STATE.sessions, STATE.faults = [], [], []
            else:
                return self.send_error(404)
        self.answer({"ok": True})


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    global ARGS, STATE, TLS
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--implicit-tls", action="store_true")
    ap.add_argument("--require-tls", action="store_true")
    ap.add_argument("--user")
    ap.add_argument("--password")
    ap.add_argument("--reject-rcpt", action="append", default=[])
    ap.add_argument("--max-seconds", type=float, default=600)
    ARGS = ap.parse_args()
    STATE = State()
    TLS = None
    if ARGS.cert:
        TLS = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        TLS.load_cert_chain(ARGS.cert, ARGS.key)
    smtp = Server(("127.0.0.1", 0), Session)
    ctl = ThreadingHTTPServer(("127.0.0.1", 0), Control)
    ctl.daemon_threads = True
    for srv in (smtp, ctl):
        threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.2},
                         daemon=True).start()
    print(smtp.server_address[1], ctl.server_address[1], flush=True)
    timer = threading.Timer(ARGS.max_seconds, lambda: os._exit(0))
    timer.daemon = True
    timer.start()
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    socket.setdefaulttimeout(30)
    main()
