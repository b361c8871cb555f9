#!/usr/bin/python3
"""One declarative-connector test case (a directory under tests/data/lowcode/).

    lowcode_case.py prepare CASE_DIR WORK_DIR      writes WORK_DIR/replies.json
    lowcode_case.py config CASE_DIR WORK_DIR URL   writes WORK_DIR/config.json
    lowcode_case.py verify CASE_DIR WORK_DIR RC    compares; prints one line per problem
    lowcode_case.py serve CASE_DIR WORK_DIR        prepare + a mock server for the case +
                                                   config + WORK_DIR/{cmd,args,env} (the
                                                   expect.json command, one item a line);
                                                   prints the port once all is written,
                                                   then serves until killed (one process
                                                   instead of five per case)

A case directory holds:
  manifest.yaml           the manifest under test
  config.json             the connector config; the string @MOCK@ becomes the mock's base URL
  catalog.json            configured catalog (read cases)
  state.json              optional input state
  exchanges.json          [{"request": EXPECTED, "reply": REPLY}, ...] in order; REPLY as
                          tests/mock/mock_http.py serves it; EXPECTED has "method", "path",
                          and optionally "query" (exact, a dict of lists), "headers" (these
                          must be present with these values; null: must be absent), "json"
                          (the body parsed as JSON), "form" (the body as a form), "body",
                          "jwt" (a signed token to verify: tests/mock/jwt_check.py)
  expected.jsonl          the RECORD data and STATE messages expected, in order:
                          {"record": {"stream": S, "data": {...}}} / {"state": {"stream": S,
                          "stream_state": {...}}} / {"control_config": {...}} (a recursive subset);
                          "@INT@" in an expected message matches any integer >= 0
  expect.json             optional: {"command": "read"|"check"|"discover"|"spec",
                          "exit": 0, "args": [...], "env": {...},
                          "trace_error": {"failure_type": ..., "message_contains": [...]},
                          "status": "SUCCEEDED"|"FAILED", "stdout_contains": [...],
                          "stdout_lacks": [...], "stderr_lacks": [...],
                          "one_connection": true (all requests on one TCP connection)}
Output: WORK_DIR/out.jsonl (connector stdout), WORK_DIR/err.txt, WORK_DIR/requests.jsonl.
"""
import json
import os
import sys
import urllib.parse


def load(path, default=None):
    if not os.path.exists(path):
        return default
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def prepare(case, work):
    ex = load(os.path.join(case, "exchanges.json"), [])
    replies = []
    for e in ex:
        r = dict(e["reply"])
        replies.append(r)
    with open(os.path.join(work, "replies.json"), "w") as f:
        json.dump(replies, f)


def config(case, work, url):
    with open(os.path.join(case, "config.json"), encoding="utf-8") as f:
        text = f.read().replace("@MOCK@", url)
    with open(os.path.join(work, "config.json"), "w") as f:
        f.write(text)


def expected_requests(case):
    out = []
    for e in load(os.path.join(case, "exchanges.json"), []):
        rep = e["reply"].get("repeat", 1)
        if rep == -1:
            out.append((e["request"], True))
        else:
            out.extend([(e["request"], False)] * rep)
    return out


def check_request(i, want, got, problems):
    where = "request %d (%s %s)" % (i + 1, got.get("method"), got.get("path"))
    if want.get("method", "GET") != got["method"]:
        problems.append("%s: method %s, expected %s" % (where, got["method"], want.get("method", "GET")))
    if "path" in want and want["path"] != got["path"]:
        problems.append("%s: path %s, expected %s" % (where, got["path"], want["path"]))
    if "query" in want and want["query"] != got["query"]:
        problems.append("%s: query %s, expected %s" % (where, json.dumps(got["query"], sort_keys=True),
                                                       json.dumps(want["query"], sort_keys=True)))
    for k, v in want.get("headers", {}).items():
        have = got["headers"].get(k.lower())
        if have != v:
            problems.append("%s: header %s = %r, expected %r" % (where, k, have, v))
    if "json" in want:
        try:
            body = json.loads(got["body"])
        except ValueError:
            body = "<not JSON: %r>" % got["body"]
        if body != want["json"]:
            problems.append("%s: JSON body %s, expected %s" % (where, json.dumps(body), json.dumps(want["json"])))
    if "form" in want:
        form = urllib.parse.parse_qs(got["body"], keep_blank_values=True)
        if form != want["form"]:
            problems.append("%s: form body %s, expected %s" % (where, form, want["form"]))
    if "body" in want and want["body"] != got["body"]:
        problems.append("%s: body %r, expected %r" % (where, got["body"], want["body"]))
    if "jwt" in want:  # a signed token, verified (tests/mock/jwt_check.py)
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        import jwt_check
        jwt_check.check(where, want["jwt"], got, problems)


def subset(want, got):
    """want's members (recursively for objects) equal got's."""
    if isinstance(want, dict):
        return isinstance(got, dict) and all(k in got and subset(v, got[k]) for k, v in want.items())
    return want == got


def matches(want, got):
    """Equality, where the expected string "@INT@" stands for any integer >= 0
    (values that depend on the clock, e.g. a sync's duration)."""
    if want == "@INT@":
        return isinstance(got, int) and not isinstance(got, bool) and got >= 0
    if isinstance(want, dict):
        return isinstance(got, dict) and want.keys() == got.keys() and all(matches(v, got[k]) for k, v in want.items())
    if isinstance(want, list):
        return isinstance(got, list) and len(want) == len(got) and all(matches(a, b) for a, b in zip(want, got))
    return want == got


def messages(work):
    out = []
    with open(os.path.join(work, "out.jsonl"), encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                out.append(json.loads(line))
            except ValueError:
                out.append({"type": "NOT_JSON", "line": n, "text": line[:200]})
    return out


def verify(case, work, rc):
    problems = []
    exp = load(os.path.join(case, "expect.json"), {})
    msgs = messages(work)
    for m in msgs:
        if m.get("type") == "NOT_JSON":
            problems.append("stdout line %d is not JSON: %s" % (m["line"], m["text"]))
    want_exit = exp.get("exit", 0)
    if int(rc) != want_exit:
        problems.append("exit %s, expected %d" % (rc, want_exit))
    # records and states, in order
    got = []
    for m in msgs:
        if m.get("type") == "RECORD":
            got.append({"record": {"stream": m["record"]["stream"], "data": m["record"]["data"]}})
        elif m.get("type") == "STATE":
            s = m["state"].get("stream", {})
            got.append({"state": {"stream": s.get("stream_descriptor", {}).get("name"),
                                  "stream_state": s.get("stream_state")}})
        elif m.get("type") == "CONTROL":
            got.append({"control_config": m["control"]["connectorConfig"]["config"]})
    want = []
    path = os.path.join(case, "expected.jsonl")
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            want = [json.loads(l) for l in f if l.strip()]
    for i in range(max(len(got), len(want))):
        g = got[i] if i < len(got) else None
        w = want[i] if i < len(want) else None
        if w and g and "control_config" in w and "control_config" in g:
            if subset(w["control_config"], g["control_config"]):
                continue
        if not matches(w, g):
            problems.append("message %d: got %s, expected %s" % (i + 1, json.dumps(g), json.dumps(w)))
            break
    te = exp.get("trace_error")
    errors = [m["trace"]["error"] for m in msgs if m.get("type") == "TRACE" and m["trace"].get("type") == "ERROR"]
    if te:
        if not errors:
            problems.append("no TRACE error message")
        else:
            e = errors[0]
            if "failure_type" in te and e.get("failure_type") != te["failure_type"]:
                problems.append("failure_type %s, expected %s (message: %s)" % (e.get("failure_type"),
                                                                                te["failure_type"], e.get("message")))
            for s in te.get("message_contains", []):
                if s not in e.get("message", ""):
                    problems.append("error message %r lacks %r" % (e.get("message"), s))
    elif errors and want_exit == 0:
        problems.append("unexpected TRACE error: %s" % errors[0].get("message"))
    if "status" in exp:
        st = [m["connectionStatus"] for m in msgs if m.get("type") == "CONNECTION_STATUS"]
        if not st or st[0].get("status") != exp["status"]:
            problems.append("connection status %s, expected %s" % (st[0] if st else None, exp["status"]))
        elif "status_contains" in exp and exp["status_contains"] not in st[0].get("message", ""):
            problems.append("connection status message %r lacks %r" % (st[0].get("message"), exp["status_contains"]))
    # CONTROL messages carry the whole config, secrets included, on purpose.
    with open(os.path.join(work, "out.jsonl"), encoding="utf-8") as f:
        out_text = "".join(l for l in f if not l.startswith('{"type":"CONTROL"'))
    with open(os.path.join(work, "err.txt"), encoding="utf-8", errors="replace") as f:
        err_text = f.read()
    for s in exp.get("stdout_contains", []):
        if s not in out_text:
            problems.append("stdout lacks %r" % s)
    for s in exp.get("stdout_lacks", []):
        if s in out_text:
            problems.append("stdout contains %r" % s)
    for s in exp.get("stderr_lacks", []):
        if s in err_text:
            problems.append("stderr contains %r" % s)
    # requests
    reqs = []
    rp = os.path.join(work, "requests.jsonl")
    if os.path.exists(rp):
        with open(rp, encoding="utf-8") as f:
            reqs = [json.loads(l) for l in f if l.strip()]
    wants = expected_requests(case)
    forever = wants and wants[-1][1]
    if not forever and len(reqs) != len(wants):
        problems.append("%d requests, expected %d: %s" % (len(reqs), len(wants),
                                                          ", ".join("%s %s" % (r["method"], r["path"]) for r in reqs)))
    for i, r in enumerate(reqs):
        w = wants[min(i, len(wants) - 1)][0] if wants else None
        if w is not None and (i < len(wants) or forever):
            check_request(i, w, r, problems)
    if exp.get("one_connection") and len({r["client"] for r in reqs}) > 1:
        problems.append("requests came over %d connections, expected 1" % len({r["client"] for r in reqs}))
    for p in problems:
        print(p)
    return 1 if problems else 0


def serve(case, work):
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import mock_http
    prepare(case, work)
    with open(os.path.join(work, "replies.json"), encoding="utf-8") as f:
        srv = mock_http.make_server(json.load(f), os.path.join(work, "requests.jsonl"))
    url = "http://127.0.0.1:%d" % srv.server_address[1]
    config(case, work, url)
    exp = load(os.path.join(case, "expect.json"), {})
    env = ["%s=%s" % (k, str(v).replace("@MOCK@", url)) for k, v in exp.get("env", {}).items()]
    for name, lines in (("cmd", [exp.get("command", "read")]), ("args", exp.get("args", [])),
                        ("env", env)):
        with open(os.path.join(work, name), "w", encoding="utf-8") as f:
            f.writelines(str(x) + "\n" for x in lines)
    print(srv.server_address[1], flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "serve":
        serve(sys.argv[2], sys.argv[3])
    elif cmd == "prepare":
        prepare(sys.argv[2], sys.argv[3])
    elif cmd == "config":
        config(sys.argv[2], sys.argv[3], sys.argv[4])
    elif cmd == "verify":
        sys.exit(verify(sys.argv[2], sys.argv[3], sys.argv[4]))
