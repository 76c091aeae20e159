"""A tiny web app for deploy tests: GET / answers "<VERSION> <instance>",
GET /health answers 200 (503 when HEALTHY=0). Listens on 127.0.0.1:$PORT."""
import os
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

VERSION = os.environ.get("VERSION", "v0")
INSTANCE = os.environ.get("MIZZEN_INSTANCE_ID", "?")
HEALTHY = os.environ.get("HEALTHY", "1") != "0"
time.sleep(float(os.environ.get("START_DELAY", "0")))


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        if self.path.startswith("/health"):
            code, body = (200, "ok\n") if HEALTHY else (503, "unhealthy\n")
        else:
            code, body = 200, "%s %s\n" % (VERSION, INSTANCE)
        data = body.encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


ThreadingHTTPServer.daemon_threads = True
srv = ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler)
print("listening on %s (%s)" % (os.environ["PORT"], VERSION), flush=True)
try:
    srv.serve_forever()
except KeyboardInterrupt:
    sys.exit(0)
