"""loopback.py - how every HTTP test double serves: on 127.0.0.1, over TLS
when given a certificate, printing its port as the first line of stdout (the
test reads it), and gone after --max-seconds at the latest, so a double never
outlives a test that crashed.
"""

import os
import ssl
import threading
from http.server import ThreadingHTTPServer


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


def serve(srv, cert=None, key=None, max_seconds=600):
    """Serves srv until killed; returns on SIGINT."""
    if cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    print(srv.server_address[1], flush=True)
    timer = threading.Timer(max_seconds, lambda: os._exit(0))
    timer.daemon = True
    timer.start()
    try:
        srv.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
