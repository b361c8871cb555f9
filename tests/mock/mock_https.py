#!/usr/bin/python3
"""mock_http.py's routes mode over TLS, for manifests whose spec demands an
https:// URL (python3 stdlib only).

    mock_https.py --routes routes.json --cert CERT --key KEY --port-file F [--log requests.jsonl]

CERT/KEY: a certificate for 127.0.0.1 (the test makes one with openssl and
points the connector at it with SSL_CERT_FILE).
"""
import argparse
import json
import os
import ssl
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mock_http  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--routes", required=True)
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--log")
    ap.add_argument("--port-file", required=True)
    a = ap.parse_args()
    with open(a.routes, encoding="utf-8") as f:
        srv = mock_http.make_server(json.load(f), a.log, routes=True)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(a.cert, a.key)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    mock_http.serve(srv, a.port_file)


if __name__ == "__main__":
    sys.exit(main())
