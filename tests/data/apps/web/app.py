#!/usr/bin/env python3
"""A tiny web app for the local provider's tests (standard library only).

GET /        -> "<version>\n", version from $APP_VERSION, else the VERSION
                file in the image ($IMAGE_DIR), else "unknown"
GET /health  -> 200 "ok"
GET /pid     -> the process id
Listens on 127.0.0.1:$PORT and stops cleanly on SIGTERM.
"""
import http.server
import os
import signal
import sys


def version():
    v = os.environ.get("APP_VERSION")
    if v:
        return v
    try:
        with open(os.path.join(os.environ.get("IMAGE_DIR", "."), "VERSION")) as f:
            return f.read().strip()
    except OSError:
        return "unknown"


VERSION = version()


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/health":
            body = b"ok\n"
        elif self.path == "/pid":
            body = ("%d\n" % os.getpid()).encode()
        elif self.path == "/":
            body = (VERSION + "\n").encode()
        else:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):
        pass


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256


def main():
    port = int(os.environ.get("PORT", "8080"))
    srv = Server(("127.0.0.1", port), Handler)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print("serving %s on 127.0.0.1:%d" % (VERSION, port), flush=True)
    try:
        srv.serve_forever()
    finally:
        srv.server_close()


if __name__ == "__main__":
    main()
