#!/usr/bin/python3
"""HTTP server for the source-file tests (python3 stdlib only).

    file_http.py --root DIR --port-file F

Serves the files of DIR on 127.0.0.1 (a free port, written to F once
listening), plus:
  /missing/...          404
  /loop                 302 to /loop (a redirect loop)
  /go/<path>            302 to /<path>
  /cut/<path>           announces the file's full length, sends half, closes
  /drip/<path>          the file one byte per write (reads see tiny pieces)
"""
import argparse
import os
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def send_body(self, status, body, length=None):
        self.send_response(status)
        self.send_header("Content-Length", str(len(body) if length is None else length))
        self.end_headers()
        self.wfile.write(body)

    def redirect(self, to):
        self.send_response(302)
        self.send_header("Location", to)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self):
        path = self.path.split("?", 1)[0]
        if path == "/loop":
            return self.redirect("/loop")
        if path.startswith("/go/"):
            return self.redirect(path[3:])
        cut = path.startswith("/cut/")
        drip = path.startswith("/drip/")
        if cut:
            path = path[4:]
        if drip:
            path = path[5:]
        full = os.path.realpath(os.path.join(self.server.root, path.lstrip("/")))
        if not full.startswith(self.server.root + os.sep) or not os.path.isfile(full):
            return self.send_body(404, b"not found\n")
        with open(full, "rb") as f:
            body = f.read()
        if cut:
            self.send_body(200, body[: len(body) // 2], len(body))
            self.close_connection = True
            return
        if drip:
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            for i in range(len(body)):
                self.wfile.write(body[i : i + 1])
                self.wfile.flush()
                time.sleep(0.002)  # separate TCP segments, not a timing assumption
            return
        self.send_body(200, body)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", required=True)
    ap.add_argument("--port-file", required=True)
    a = ap.parse_args()
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.root = os.path.realpath(a.root)
    tmp = a.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(srv.server_address[1]))
    os.rename(tmp, a.port_file)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
