#!/usr/bin/python3
"""A local OAuth 2.0 provider for the builder's consent-flow tests.

    mock_oauth.py --port-file F [--log F] [--client-id ID] [--client-secret S]

GET  /authorize?client_id&redirect_uri&state[&scope]: consents at once and
     redirects to redirect_uri with a one-time code and the state (an
     unknown client gets error=unauthorized_client instead).
POST /token (form or JSON body, or query parameters): exchanges that code
     when client_id, client_secret and redirect_uri match the consent;
     answers {"access_token", "refresh_token", "expires_in"}; else 400.
GET  /api/me with "Authorization: Bearer <that access token>": 200 with one
     record; else 401.
Every request is logged as one JSON line (method, path, query, body)."""
import argparse
import json
import os
import secrets
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlparse

ARGS = None
CODES = {}  # code -> (client_id, redirect_uri)
TOKENS = set()


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def reply(self, status, obj=None, headers=None):
        body = json.dumps(obj).encode() if obj is not None else b""
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        if obj is not None:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log(self, query, body):
        if ARGS.log:
            with open(ARGS.log, "a") as f:
                f.write(json.dumps({"method": self.command, "path": urlparse(self.path).path, "query": query,
                                    "body": body, "headers": dict(self.headers)}) + "\n")

    def do_GET(self):
        u = urlparse(self.path)
        q = {k: v[0] for k, v in parse_qs(u.query).items()}
        self.log(q, None)
        if u.path == "/authorize":
            redirect = q.get("redirect_uri", "")
            if not redirect.startswith("http://127.0.0.1:"):
                return self.reply(400, {"error": "redirect_uri must be a loopback URL"})
            if q.get("client_id") != ARGS.client_id:
                back = {"error": "unauthorized_client", "state": q.get("state", "")}
            else:
                code = "code-" + secrets.token_hex(8)
                CODES[code] = (q["client_id"], redirect)
                back = {"code": code, "state": q.get("state", "")}
            return self.reply(302, None, {"Location": redirect + "?" + urlencode(back)})
        if u.path == "/api/me":
            auth = self.headers.get("Authorization", "")
            if auth.startswith("Bearer ") and auth[7:] in TOKENS:
                return self.reply(200, {"data": [{"id": 1, "name": "me"}]})
            return self.reply(401, {"error": "invalid token"})
        self.reply(404, {"error": "no such path"})

    def do_POST(self):
        u = urlparse(self.path)
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
        q = {k: v[0] for k, v in parse_qs(u.query).items()}
        if "json" in (self.headers.get("Content-Type") or ""):
            body = json.loads(raw or "{}")
        else:
            body = {k: v[0] for k, v in parse_qs(raw).items()}
        self.log(q, raw)
        if u.path != "/token":
            return self.reply(404, {"error": "no such path"})
        p = {**q, **body}
        grant = CODES.pop(p.get("code", ""), None)
        if (grant is None or p.get("client_id") != ARGS.client_id or p.get("client_secret") != ARGS.client_secret
                or p.get("redirect_uri") != grant[1]):
            return self.reply(400, {"error": "invalid_grant"})
        tok = "atok-" + secrets.token_hex(6)
        TOKENS.add(tok)
        self.reply(200, {"access_token": tok, "refresh_token": "rtok-consent", "expires_in": 3600})


def main():
    global ARGS
    ap = argparse.ArgumentParser()
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--log")
    ap.add_argument("--client-id", default="cid-oauth")
    ap.add_argument("--client-secret", default="csecret-oauth")
    ARGS = ap.parse_args()
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    with open(ARGS.port_file + ".tmp", "w") as f:
        f.write(str(srv.server_address[1]))
    os.replace(ARGS.port_file + ".tmp", ARGS.port_file)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        sys.exit(0)


main()
