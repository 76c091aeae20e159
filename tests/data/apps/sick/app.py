#!/usr/bin/env python3
"""A web app whose /health never returns 200 (for the never-healthy tests)."""
import http.server
import os


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        code = 503 if self.path == "/health" else 200
        body = b"sick\n"
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):
        pass


if __name__ == "__main__":
    print("sick app on port", os.environ.get("PORT"), flush=True)
    http.server.ThreadingHTTPServer(("127.0.0.1", int(os.environ.get("PORT", "8080"))),
                                    Handler).serve_forever()
