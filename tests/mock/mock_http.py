#!/usr/bin/python3
"""Mock HTTP server for the declarative-connector tests (python3 stdlib only).

    mock_http.py --replies http.json --log requests.jsonl --port-file F
    mock_http.py --bench-pages N --bench-records R --port-file F
    mock_http.py --routes routes.json --port-file F [--log requests.jsonl]

Replies mode: serves the replies of a case file in order, whatever the request,
and appends every request it receives to the log as one JSON line
({method, path, query, headers, body, client}); the test compares the log with
the requests the case expects (tests/mock/compare.py). Each reply:

  {"status": 200, "headers": {...}, "json": <value> | "body": "text",
   "gzip": true,            compress the body (Content-Encoding: gzip)
   "body_b64": "...",       a binary body, base64-encoded
   "truncate": true,        announce the full length, send half, close
   "repeat": N,             serve this reply N times (-1: forever)
   "redirect_to_self": true 302 to the request's own URL (a redirect loop)}

The text @SELF@ in reply headers and bodies becomes the server's own base URL.
After the last reply every request gets 599 "mock: no more replies".

Routes mode (for acceptance tests, which read the same API many times): each
request gets the reply of the first route whose "request" matches it, any
number of times; a route is {"request": {"method", "path", "query": {NAME:
[VALUES]} (these parameters must have these values; null: must be absent),
"headers": {NAME: VALUE}},
"reply": REPLY}. A request no route matches gets 404 {"message": "Not Found"}.

Bench mode: GET /bench?page=K returns {"data": [R records], "next": URL of page
K+1 or null}; page bodies are built once. The server binds 127.0.0.1 on a
free port and writes the port to --port-file once it is listening.
"""
import argparse
import base64
import gzip
import json
import os
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class State:
    def __init__(self, replies, log_path):
        self.replies = replies
        self.i = 0
        self.left = None  # remaining repeats of the current reply
        self.lock = threading.Lock()
        self.log = open(log_path, "a", encoding="utf-8") if log_path else None

    def next_reply(self):
        with self.lock:
            while self.i < len(self.replies):
                r = self.replies[self.i]
                rep = r.get("repeat", 1)
                if rep == -1:
                    return r
                if self.left is None:
                    self.left = rep
                if self.left > 0:
                    self.left -= 1
                    if self.left == 0:
                        self.i += 1
                        self.left = None
                    return r
                self.i += 1
                self.left = None
            return None

    def route(self, entry):
        for rt in self.replies:
            want = rt["request"]
            if want.get("method", "GET") != entry["method"] or want.get("path", entry["path"]) != entry["path"]:
                continue
            if all(entry["query"].get(k) == v for k, v in want.get("query", {}).items()) and \
                    all(entry["headers"].get(k.lower()) == v for k, v in want.get("headers", {}).items()):
                return rt["reply"]
        return {"status": 404, "json": {"message": "Not Found"}}

    def record(self, entry):
        if self.log:
            with self.lock:
                self.log.write(json.dumps(entry, sort_keys=True) + "\n")
                self.log.flush()


def bench_pages(n, records):
    pages = []
    for k in range(1, n + 1):
        base = (k - 1) * records
        data = [{"id": base + i, "name": "user %d" % (base + i), "email": "u%d@example.com" % (base + i),
                 "active": (i % 2) == 0, "score": (base + i) * 0.5, "created_at": "2024-01-01T00:00:00Z",
                 "tags": ["a", "b"], "address": {"city": "Paris", "zip": "75001"}, "age": 20 + i % 50,
                 "note": None} for i in range(records)]
        pages.append(data)
    return pages


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out as two writes
    state = None
    bench = None
    bench_cache = {}
    routes = False

    def log_message(self, fmt, *args):  # quiet
        pass

    def _handle(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        u = urllib.parse.urlsplit(self.path)
        if self.bench is not None:
            return self._bench(u)
        query = urllib.parse.parse_qs(u.query, keep_blank_values=True)
        entry = {
            "method": self.command,
            "path": u.path,
            "query": query,
            "headers": {k.lower(): v for k, v in self.headers.items()},
            "body": body.decode("utf-8", "replace"),
            "client": "%s:%d" % self.client_address,
        }
        self.state.record(entry)
        r = self.state.route(entry) if self.routes else self.state.next_reply()
        if r is None:
            return self._send(599, {"Content-Type": "text/plain"}, b"mock: no more replies")
        me = "http://%s:%d" % self.server.server_address[:2]
        headers = {k: v.replace("@SELF@", me) for k, v in r.get("headers", {}).items()}
        if r.get("redirect_to_self"):
            headers["Location"] = self.path
            return self._send(r.get("status", 302), headers, b"")
        if "json" in r:
            payload = json.dumps(r["json"]).encode()
            headers.setdefault("Content-Type", "application/json")
        elif "body_b64" in r:  # binary bodies (gzip or zip files as data)
            payload = base64.b64decode(r["body_b64"])
        else:
            payload = r.get("body", "").encode()
        payload = payload.replace(b"@SELF@", me.encode())
        if r.get("gzip"):
            payload = gzip.compress(payload)
            headers["Content-Encoding"] = "gzip"
        if r.get("truncate"):
            self.send_response(r.get("status", 200))
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(payload)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(payload[: len(payload) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self._send(r.get("status", 200), headers, payload)

    def _bench(self, u):
        q = urllib.parse.parse_qs(u.query)
        k = int(q.get("page", ["1"])[0])
        body = self.bench_cache.get(k)
        if body is None:
            pages = self.bench
            nxt = None
            if k < len(pages):
                nxt = "http://%s:%d/bench?page=%d" % (self.server.server_address[0], self.server.server_address[1], k + 1)
            data = pages[k - 1] if 1 <= k <= len(pages) else []
            body = json.dumps({"data": data, "next": nxt}).encode()
            self.bench_cache[k] = body
        self._send(200, {"Content-Type": "application/json"}, body)

    def _send(self, status, headers, payload):
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _handle


def listen():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    return srv


def make_server(replies, log_path, routes=False):
    """A server for REPLIES (a list, or routes when ROUTES) on a free loopback
    port, logging requests to LOG_PATH; the caller runs serve_forever()."""
    Handler.routes = routes
    Handler.state = State(replies, log_path)
    return listen()


def serve(srv, port_file):
    """Write SRV's port to PORT_FILE (atomically, once listening) and serve."""
    tmp = port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(srv.server_address[1]))
    os.rename(tmp, port_file)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--replies")
    ap.add_argument("--routes")
    ap.add_argument("--log")
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--bench-pages", type=int)
    ap.add_argument("--bench-records", type=int, default=1000)
    a = ap.parse_args()
    if a.bench_pages:
        Handler.bench = bench_pages(a.bench_pages, a.bench_records)
        srv = listen()
    else:
        with open(a.routes or a.replies, encoding="utf-8") as f:
            srv = make_server(json.load(f), a.log, routes=bool(a.routes))
    serve(srv, a.port_file)


if __name__ == "__main__":
    sys.exit(main())
