#!/usr/bin/python3
"""Structure-aware fuzzing of the declarative engine (python3 + python3-yaml).

    fuzz_lowcode.py run BIN_DIR OUT_DIR [--cases N] [--seed S] [--jobs J] [--timeout T]
    fuzz_lowcode.py replay BIN_DIR CASE_DIR...

run: seeds are the cases under tests/data/lowcode (and, when present, the manifests
under /work/shared/corpus/manifests, for `manifest validate` only). Each case takes a
seed, mutates its manifest (drop / retype / duplicate keys, huge numbers, deep
nesting, bad templates, bad and cyclic $refs, swapped component types, YAML text
damage, alias bombs), its config and state, and the mock API's replies (bad status
codes, HTML, truncated and bad JSON, huge and deeply nested pages, lying
Content-Encoding, async job statuses that never end, slow replies), then runs one
of: `sluice manifest validate`, spec / check / discover / read of
source-declarative-manifest, or `sluice builder test-read`. The seed is fixed, so
a run is deterministic in the cases it makes.

Each run must: end by itself within the timeout (else: a hang), not by a signal,
print no sanitizer report; a connector's stdout must be JSON protocol messages
and a non-zero exit must come with a TRACE error carrying a failure_type;
`manifest validate` must name the manifest when it refuses it; test-read prints
one JSON document. A failing case is written to OUT_DIR/fail-K/ (manifest.yaml,
config.json, replies.json, state.json, catalog.json, case.json) and can be
replayed; tests/fuzz/regress/ holds the reproducers of bugs found (replayed by
tests/e2e/fuzz-lowcode.sh). Connector stdout of passing runs is appended to
$SLUICE_PROTOCOL_LOG_DIR (when set) so `make test` validates it with ajv.
Prints one line per failure and a summary "fuzz: N cases, F failures, H hangs".
"""
import argparse
import copy
import json
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
import gzip
import base64
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
CASES = os.path.join(ROOT, "tests", "data", "lowcode")
CORPUS = "/work/shared/corpus/manifests"
PROTO_TYPES = {"RECORD", "STATE", "LOG", "SPEC", "CONNECTION_STATUS", "CATALOG", "TRACE", "CONTROL"}

BAD_TEMPLATES = [
    "{{", "}}", "{{ }}", "{{ config[ }}", "{{ config['nope'] }}", "{{ config['nope']['deeper'] }}",
    "{{ 1/0 }}", "{{ 1 // 0 }}", "{{ x.y.z() }}", "{% for x in y %}", "{% if %}", "{{ 'a' * 100000000 }}",
    "{{ range(1000000000) | list }}", "{{ stream_state.get('x') | int }}", "{{ now_utc() | nofilter }}",
    "{{ format_datetime(config['x'], '%Q') }}", "{{ day_delta(1000000000000) }}", "{{ max() }}",
    "{{ duration('P9999999999Y') }}", "{{ str_to_datetime('not a date') }}", "{{ (((((((((( }}",
    "{{ config | tojson }}", "{{ next_page_token['next_page_token'] }}", "{{ response.nope[0] }}",
    "{{ last_record['id'] + 1 }}", "{{ stream_slice['start_time'] | string }}", "{{ '\\x00' }}",
    "{{ timestamp('x') }}", "{{ [1,2,3][10] }}", "{{ {}.x.y }}", "{{ 9999999999999999999999999 }}",
    "{{ -1e309 }}", "{{ config.get('a', config.get('b')) }}", "{{ today_utc() - 1 }}",
    "{{ 'x' ~ config }}", "{{ {'a': 1}['a'] }}{{", "{{ stream_interval['start_time'] }}",
]
BAD_REFS = ["#/definitions/nope", "#/", "#", "#/streams/99", "#/definitions", "nope", "#/streams/0/nope/../..",
            "#/definitions/requester/$ref", "#//", "#/%00", "#/streams/-1"]
WEIRD_SCALARS = [None, True, False, 0, -1, 1, 2**31, 2**63, 2**64 + 1, 10**40, -10**40, 1.5, 1e308,
                 float("inf"), float("nan"), "", " ", "0", "-1", "true", "null", "x" * 5000,
                 "\u00e9\u4e2d\U0001F600", "%s%n%x", "../../etc/passwd", "P1D", "PT-1S", "2024-13-45T99:99:99Z",
                 [], {}, [None], {"type": None}, {"$ref": "#/definitions/nope"}]


def load_cases():
    seeds = []
    for name in sorted(os.listdir(CASES)):
        d = os.path.join(CASES, name)
        m = os.path.join(d, "manifest.yaml")
        if not os.path.isfile(m):
            continue
        s = {"name": name, "manifest": open(m, encoding="utf-8").read()}
        for f in ("config", "catalog", "state", "exchanges", "expect"):
            p = os.path.join(d, f + ".json")
            if os.path.exists(p):
                try:
                    s[f] = json.load(open(p, encoding="utf-8"))
                except ValueError:
                    s[f + "_text"] = open(p, encoding="utf-8").read()
        try:
            s["tree"] = yaml.load(s["manifest"], Loader=LOADER)
        except yaml.YAMLError:
            s["tree"] = None
        if len(paths_of(s["tree"])) >= 200000:  # aliases of aliases: text mutations only
            s["tree"] = None
        seeds.append(s)
    return seeds


def load_corpus():
    if not os.path.isdir(CORPUS):
        return []
    out = []
    for name in sorted(os.listdir(CORPUS)):
        if name.endswith(".yaml"):
            out.append({"name": "corpus/" + name, "manifest": open(os.path.join(CORPUS, name), encoding="utf-8").read()})
    return out


# ---------------------------------------------------------------- mutation of values
def paths_of(node, max_depth=40, max_paths=200000):
    """Every (path, value) in a JSON-like tree, containers included (not below
    MAX_DEPTH, at most MAX_PATHS: a tree from YAML aliases may be a huge DAG)."""
    out, todo = [], [((), node)]
    while todo and len(out) < max_paths:
        path, node = todo.pop()
        out.append((path, node))
        if len(path) >= max_depth:
            continue
        if isinstance(node, dict):
            todo.extend((path + (k,), v) for k, v in node.items())
        elif isinstance(node, list):
            todo.extend((path + (i,), v) for i, v in enumerate(node))
    out.reverse()
    return out


def get_at(root, path):
    for p in path:
        root = root[p]
    return root


def set_at(root, path, value):
    if not path:
        return value
    get_at(root, path[:-1])[path[-1]] = value
    return root


def deep_text(m):
    """The text of a value nested N deep (a placeholder __DEEP_N__ in the dumped YAML)."""
    n = int(m.group(1))
    return "[" * n + "{a: 1}" + "]" * n if n % 2 else "{a: " * n + "1" + "}" * n


def mutate_tree(rng, root, donors, type_names):
    """One structural mutation of ROOT (returns the new root)."""
    all_paths = paths_of(root)
    path, node = rng.choice(all_paths)
    op = rng.randrange(11)
    if op == 0 and path:  # drop a key / an item
        parent = get_at(root, path[:-1])
        del parent[path[-1]]
    elif op == 1:  # retype
        root = set_at(root, path, copy.deepcopy(rng.choice(WEIRD_SCALARS)))
    elif op == 2:  # a bad template in a string
        strings = [p for p, v in all_paths if isinstance(v, str)]
        if strings:
            p = rng.choice(strings)
            root = set_at(root, p, rng.choice(BAD_TEMPLATES))
    elif op == 3:  # a bad or cyclic $ref
        dicts = [p for p, v in all_paths if isinstance(v, dict)]
        p = rng.choice(dicts) if dicts else ()
        d = get_at(root, p) if dicts else None
        if isinstance(d, dict):
            if rng.random() < 0.5 and p:
                anc = p[: rng.randrange(len(p) + 1)]
                d["$ref"] = "#/" + "/".join(str(x) for x in anc)
            else:
                d["$ref"] = rng.choice(BAD_REFS)
    elif op == 4:  # deep nesting
        root = set_at(root, path, "__DEEP_%d__" % rng.choice([50, 301, 2000, 100001]))
    elif op == 5:  # swap a component's type
        typed = [p for p, v in all_paths if isinstance(v, dict) and isinstance(v.get("type"), str)]
        if typed:
            get_at(root, rng.choice(typed))["type"] = rng.choice(type_names)
    elif op == 6 and donors:  # graft a subtree from another seed
        donor = rng.choice(donors)
        dp, dv = rng.choice(paths_of(donor))
        root = set_at(root, path, copy.deepcopy(dv))
    elif op == 7:  # duplicate a list item / copy a key under another name
        if isinstance(node, list) and node:
            node.append(copy.deepcopy(rng.choice(node)))
        elif isinstance(node, dict) and node:
            k = rng.choice(list(node))
            node[k + rng.choice(["", "_", "2"])] = copy.deepcopy(node[k])
    elif op == 8:  # huge numbers
        nums = [p for p, v in all_paths if isinstance(v, (int, float)) and not isinstance(v, bool)]
        if nums:
            root = set_at(root, rng.choice(nums), rng.choice([10**30, -10**30, 2**63, -2**63 - 1, 1e300, -0.0, 0]))
    elif op == 9:  # an empty container
        if path:
            root = set_at(root, path, rng.choice([{}, [], "", None]))
    else:  # a list where a dict was or the other way
        if isinstance(node, dict):
            root = set_at(root, path, list(node.values()))
        elif isinstance(node, list):
            root = set_at(root, path, {str(i): v for i, v in enumerate(node)})
    return root


class Dumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):
    pass


def _float(dumper, v):  # nan/inf as YAML has them
    if v != v:
        return dumper.represent_scalar("tag:yaml.org,2002:float", ".nan")
    if v in (float("inf"), float("-inf")):
        return dumper.represent_scalar("tag:yaml.org,2002:float", ".inf" if v > 0 else "-.inf")
    return dumper.represent_scalar("tag:yaml.org,2002:float", repr(v))


Dumper.add_representer(float, _float)
Dumper.ignore_aliases = lambda self, data: True


def dump_yaml(tree):
    try:
        text = yaml.dump(tree, Dumper=Dumper, sort_keys=False, allow_unicode=True, width=1 << 20)
    except (RecursionError, yaml.YAMLError, ValueError):
        text = json.dumps(tree)
    return re.sub(r"'?__DEEP_(\d+)__'?", deep_text, text)


def mutate_text(rng, text):
    """Damage the YAML text itself."""
    op = rng.randrange(7)
    lines = text.split("\n")
    if op == 0:
        return text[: rng.randrange(len(text) + 1)]
    if op == 1 and lines:  # duplicate a line (a duplicate key, mostly)
        i = rng.randrange(len(lines))
        lines.insert(i, lines[i])
        return "\n".join(lines)
    if op == 2:
        i = rng.randrange(len(text) + 1)
        return text[:i] + rng.choice(["\t", "\x00", ":", "- ", "{", "[", "'", '"', "&a ", "*a", "!!binary ", "%YAML 9\n", "\xff", "---\n"]) + text[i:]
    if op == 3:  # an alias bomb
        bomb = "bomb:\n  l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n"
        for k in range(1, 9):
            bomb += "  l%d: &l%d [%s]\n" % (k, k, ", ".join(["*l%d" % (k - 1)] * 10))
        return text + "\n" + bomb
    if op == 4:  # an alias to an undefined anchor / a self-referencing anchor
        return text + "\nx: *nope\n" if rng.random() < 0.5 else text + "\nx: &s\n  y: *s\n"
    if op == 5 and lines:  # re-indent a line
        i = rng.randrange(len(lines))
        lines[i] = " " * rng.randrange(1, 5) + lines[i]
        return "\n".join(lines)
    return text.replace("{{", "{{ {{", 1) if "{{" in text else text + "\n{{"


# ---------------------------------------------------------------- mutation of replies
def html_body():
    return "<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body><h1>oops</h1></body></html>"


def mutate_replies(rng, replies):
    replies = copy.deepcopy(replies) or [{"status": 200, "json": {"data": [{"id": 1}]}}]
    n = rng.randrange(1, 4)
    forever = False
    for _ in range(n):
        i = rng.randrange(len(replies))
        r = replies[i]
        op = rng.randrange(14)
        if op == 0:
            r["status"] = rng.choice([100, 204, 301, 302, 304, 400, 401, 403, 404, 408, 418, 429, 500, 502, 503, 599, 999])
            if r["status"] == 429 and rng.random() < 0.5:
                r.setdefault("headers", {})["Retry-After"] = rng.choice(["-5", "abc", "99999999999999999999", "1.5", ""])
        elif op == 1:  # HTML
            r.pop("json", None)
            r.pop("body_b64", None)
            r["body"] = html_body()
            r.setdefault("headers", {})["Content-Type"] = rng.choice(["text/html", "application/json"])
        elif op == 2:
            r["truncate"] = True
        elif op == 3:  # bad JSON
            r.pop("json", None)
            r["body"] = rng.choice(["{", "{\"data\": [", "[1,2,", "nul", "{\"a\":1}{\"b\":2}", "\"\\ud800\"", "{\"a\": 1e99999}",
                                    "\xff\xfe", "", " ", "{\"data\": [{\"id\": 1},]}", "NaN"])
        elif op == 4 and "json" in r:  # wrong types inside the JSON
            tree = r["json"]
            ps = paths_of(tree)
            p, _ = rng.choice(ps)
            r["json"] = set_at(tree, p, copy.deepcopy(rng.choice(WEIRD_SCALARS[:25] + [[], {}])))
        elif op == 5:  # a huge page
            recs = [{"id": k, "name": "n%d" % k} for k in range(rng.choice([2000, 20000]))]
            r["json"] = {"data": recs, "items": recs, "results": recs, "records": recs}
            r.pop("body", None)
        elif op == 6:  # deep JSON
            r.pop("body", None)
            r["json_text"] = "[" * 100000 + "]" * 100000 if rng.random() < 0.5 else '{"a":' * 20000 + "1" + "}" * 20000
        elif op == 7:  # a lying Content-Encoding
            r.setdefault("headers", {})["Content-Encoding"] = rng.choice(["gzip", "br", "deflate", "zstd", "x-nope"])
        elif op == 8:
            r["delay"] = rng.choice([0.2, 0.5, 1.5])
        elif op == 9:  # the same reply forever (async jobs that never end, endless pages)
            forever = True
            replies = replies[: i + 1]
        elif op == 10:
            r["redirect_to_self"] = True
        elif op == 11:
            r.setdefault("headers", {})[rng.choice(["Content-Type", "Link", "Retry-After", "Location", "Content-Length"])] = \
                rng.choice(["", "\x01", "<@SELF@/x>; rel=\"next\"", "<>; rel=next", "text/csv", "application/x-ndjson",
                            "-1", "18446744073709551616", "@SELF@/nope"])
        elif op == 12:  # a binary body
            r.pop("json", None)
            r["body_b64"] = base64.b64encode(bytes(rng.randrange(256) for _ in range(rng.randrange(1, 300)))).decode()
        else:  # a JSON value of another kind
            r["json"] = copy.deepcopy(rng.choice(WEIRD_SCALARS[:25] + [[[]], {"data": None}, {"data": {}}, {"data": "x"}]))
            r.pop("body", None)
    return replies, forever


# ---------------------------------------------------------------- the mock API
class Mock:
    def __init__(self):
        self.lock = threading.Lock()
        self.replies, self.i, self.forever, self.closed = [], 0, False, False
        mock = self

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go out as two writes

            def log_message(self, fmt, *args):
                pass

            def handle_one(self):
                n = int(self.headers.get("Content-Length") or 0) if (self.headers.get("Content-Length") or "0").isdigit() else 0
                if n:
                    self.rfile.read(min(n, 1 << 24))
                r = mock.next()
                me = "http://%s:%d" % self.server.server_address[:2]
                if r is None:
                    return self.send(599, {"Content-Type": "text/plain"}, b"mock: no more replies")
                if r.get("delay"):
                    time.sleep(r["delay"])
                headers = {k: str(v).replace("@SELF@", me) for k, v in r.get("headers", {}).items()}
                if r.get("redirect_to_self"):
                    headers["Location"] = self.path
                    return self.send(r.get("status", 302) if 300 <= r.get("status", 302) < 400 else 302, headers, b"")
                if "json_text" in r:
                    payload = r["json_text"].encode()
                elif "json" in r:
                    try:
                        payload = json.dumps(r["json"]).encode()
                    except ValueError:
                        payload = b"{}"
                    headers.setdefault("Content-Type", "application/json")
                elif "body_b64" in r:
                    payload = base64.b64decode(r["body_b64"])
                else:
                    payload = r.get("body", "").encode("utf-8", "surrogateescape")
                payload = payload.replace(b"@SELF@", me.encode())
                if r.get("gzip"):
                    payload = gzip.compress(payload)
                    headers["Content-Encoding"] = "gzip"
                status = r.get("status", 200)
                if r.get("truncate"):
                    self.send_response_only(status)
                    for k, v in headers.items():
                        if k.lower() != "content-length":
                            self.send_header(k, v)
                    self.send_header("Content-Length", str(len(payload)))
                    self.send_header("Connection", "close")
                    self.end_headers()
                    self.wfile.write(payload[: len(payload) // 2])
                    self.close_connection = True
                    return
                self.send(status, headers, payload)

            def send(self, status, headers, payload):
                try:
                    self.send_response_only(status)
                    for k, v in headers.items():
                        if k.lower() != "content-length" or not v.lstrip("-").isdigit():
                            self.send_header(k, v)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    # a 1xx is followed by its body (garbage where the next status line
                    # should be): without it the client would wait for a real reply
                    # until its request timeout (600 s), which is no bug
                    if self.command != "HEAD" and status not in (204, 304):
                        self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = handle_one

        class Server(ThreadingHTTPServer):
            def handle_error(self, request, client_address):
                pass  # clients that hang up mid-reply are what the fuzzer makes

        self.srv = Server(("127.0.0.1", 0), H)
        self.srv.daemon_threads = True
        self.url = "http://127.0.0.1:%d" % self.srv.server_address[1]
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    def load(self, replies, forever):
        with self.lock:
            self.replies, self.i, self.forever = replies, 0, forever

    def next(self):
        with self.lock:
            if self.i < len(self.replies):
                r = self.replies[self.i]
                self.i += 1
                return r
            # "forever" is bounded: an API that always has a next page is read
            # for ever by the CDK too; past the bound the connector must fail cleanly
            if self.forever and self.replies and self.i < len(self.replies) + 1000:
                self.i += 1
                return self.replies[-1]
            return None


# ---------------------------------------------------------------- one case
def expand_replies(exchanges):
    out = []
    for e in exchanges or []:
        r = dict(e.get("reply", {}))
        rep = r.pop("repeat", 1)
        out.extend([dict(r) for _ in range(max(1, min(rep, 5)))])
    return out


def make_case(rng, seeds, corpus, type_names):
    """A mutated case: {cmd, manifest, config, catalog, state, replies, forever, seed}."""
    if corpus and rng.random() < 0.15:
        s = rng.choice(corpus)
        cmd = "validate"
    else:
        s = rng.choice(seeds)
        cmd = rng.choice(["validate", "check", "discover", "read", "read", "read", "test-read", "spec"])
    case = {"seed": s["name"], "cmd": cmd}
    text = s["manifest"]
    if rng.random() < 0.15:
        text = mutate_text(rng, text)
    else:
        tree = copy.deepcopy(s.get("tree"))
        if tree is not None:
            donors = [d for d in [rng.choice(seeds)["tree"]] if d is not None] if rng.random() < 0.3 else []
            for _ in range(rng.choice([1, 1, 1, 2, 3, 5])):
                try:
                    tree = mutate_tree(rng, tree, donors, type_names)
                except (KeyError, IndexError, TypeError):
                    pass
            text = dump_yaml(tree)
    if rng.random() < 0.05:
        text = mutate_text(rng, text)
    case["manifest"] = text
    cfg = copy.deepcopy(s.get("config", {}))
    if rng.random() < 0.25 and isinstance(cfg, dict):
        cfg = mutate_tree(rng, cfg, [], type_names)
    case["config"] = cfg
    case["catalog"] = s.get("catalog")
    st = copy.deepcopy(s.get("state"))
    if st is not None and rng.random() < 0.3:
        try:
            st = mutate_tree(rng, st, [], type_names)
        except (KeyError, IndexError, TypeError):
            pass
    case["state"] = st
    replies = expand_replies(s.get("exchanges"))
    forever = False
    if rng.random() < 0.7:
        replies, forever = mutate_replies(rng, replies)
    case["replies"], case["forever"] = replies, forever
    return case


def json_text(v):
    """V as JSON, deep placeholders expanded (as in dump_yaml)."""
    try:
        text = json.dumps(v)
    except ValueError:
        text = "{}"
    return re.sub(r'"__DEEP_(\d+)__"', lambda m: "[" * int(m.group(1)) + "1" + "]" * int(m.group(1)), text)


def write_case(d, case, url):
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "manifest.yaml"), "w", encoding="utf-8", errors="surrogateescape") as f:
        f.write(case["manifest"])
    cfg = json_text(case["config"])
    with open(os.path.join(d, "config.json"), "w") as f:
        f.write(cfg.replace("@MOCK@", url) if url else cfg)
    for k in ("catalog", "state"):
        if case.get(k) is not None:
            with open(os.path.join(d, k + ".json"), "w") as f:
                f.write(json_text(case[k]))
    with open(os.path.join(d, "replies.json"), "w") as f:
        json.dump(case["replies"], f)
    with open(os.path.join(d, "case.json"), "w") as f:
        json.dump({"cmd": case["cmd"], "seed": case["seed"], "forever": case["forever"]}, f)


def command(binp, case, d):
    m = os.path.join(d, "manifest.yaml")
    cfg = os.path.join(d, "config.json")
    sdm = os.path.join(binp, "source-declarative-manifest")
    c = case["cmd"]
    if c == "validate":
        return [os.path.join(binp, "sluice"), "manifest", "validate", m]
    if c == "spec":
        return [sdm, "spec", "--manifest-path", m]
    if c in ("check", "discover"):
        return [sdm, c, "--config", cfg, "--manifest-path", m]
    if c == "test-read":
        stream = "x"
        cat = case.get("catalog") or {}
        try:
            stream = cat["streams"][0]["stream"]["name"]
        except (KeyError, IndexError, TypeError):
            mm = re.search(r"\bname:\s*([A-Za-z0-9_]+)", case["manifest"])
            if mm:
                stream = mm.group(1)
        return [os.path.join(binp, "sluice"), "builder", "test-read", m, "--stream", str(stream), "--config", cfg,
                "--max-records", "50"]
    if case.get("catalog") is None:
        case["cmd"] = "check"
        return command(binp, case, d)
    args = [sdm, "read", "--config", cfg, "--catalog", os.path.join(d, "catalog.json"), "--manifest-path", m]
    if case.get("state") is not None:
        args += ["--state", os.path.join(d, "state.json")]
    return args


SAN = re.compile(r"AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|runtime error:|stack-overflow|SUMMARY: ")


def judge(case, rc, out, err, hung):
    """The problems of one run ([] when it behaved)."""
    if hung:
        return ["hang: no exit within the timeout"]
    probs = []
    if rc < 0 or rc >= 128:
        probs.append("killed by signal %d" % (-rc if rc < 0 else rc - 128))
    m = SAN.search(err)
    if m:
        i = m.start()
        probs.append("sanitizer: " + err[max(0, i - 20): i + 200].replace("\n", " | "))
    c = case["cmd"]
    if c == "validate":
        if rc != 0 and "manifest.yaml" not in err and "manifest.yaml" not in out:
            probs.append("validate refused without naming the manifest: " + (err or out)[:200].replace("\n", " | "))
        return probs
    if c == "test-read":
        if rc == 0 or out.strip().startswith("{"):
            try:
                json.loads(out)
            except ValueError as e:
                probs.append("test-read output is not one JSON document: %s" % e)
        elif rc != 0 and not err.strip():
            probs.append("test-read failed (exit %d) without a message" % rc)
        return probs
    trace = False
    for n, line in enumerate(out.split("\n"), 1):
        if not line.strip():
            continue
        try:
            msg = json.loads(line)
        except ValueError:
            probs.append("stdout line %d is not JSON: %s" % (n, line[:120]))
            break
        if not isinstance(msg, dict) or msg.get("type") not in PROTO_TYPES:
            probs.append("stdout line %d is not a protocol message: %s" % (n, line[:120]))
            break
        t = msg.get("trace")
        if msg["type"] == "TRACE" and isinstance(t, dict) and t.get("type") == "ERROR":
            if not (t.get("error") or {}).get("failure_type"):
                probs.append("TRACE error without failure_type")
            trace = True
    if rc != 0 and not trace:
        probs.append("exit %d without a TRACE error" % rc)
    return probs


def run_one(binp, case, d, mock, timeout, env):
    write_case(d, case, mock.url)
    mock.load(case["replies"], case["forever"])
    args = command(binp, case, d)
    p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, start_new_session=True)
    hung = False
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        hung = True
        os.killpg(p.pid, signal.SIGKILL)
        out, err = p.communicate()
    out = out.decode("utf-8", "replace")
    err = err.decode("utf-8", "replace")
    return p.returncode, out, err, hung, args


def fuzz_env():
    env = dict(os.environ)
    env["SLUICE_BACKOFF_SCALE"] = env.get("SLUICE_BACKOFF_SCALE", "0")
    env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
    env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1")
    return env


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["run", "replay"])
    ap.add_argument("bin")
    ap.add_argument("rest", nargs="+")
    ap.add_argument("--cases", type=int, default=100)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--timeout", type=float, default=60)
    ap.add_argument("--proto-log")
    a = ap.parse_args()
    env = fuzz_env()
    seeds = load_cases()
    type_names = sorted({t for s in seeds for t in re.findall(r"\btype:\s*([A-Z][A-Za-z]+)", s["manifest"])})
    if a.mode == "replay":
        fails = 0
        mock = Mock()
        for d in a.rest:
            case = json.load(open(os.path.join(d, "case.json")))
            case["manifest"] = open(os.path.join(d, "manifest.yaml"), encoding="utf-8", errors="surrogateescape").read()
            case["config"] = json.load(open(os.path.join(d, "config.json")))
            case["replies"] = json.load(open(os.path.join(d, "replies.json")))
            for k in ("catalog", "state"):
                p = os.path.join(d, k + ".json")
                case[k] = json.load(open(p)) if os.path.exists(p) else None
            w = os.path.join(os.environ.get("TMPDIR", "/tmp"), "fuzz-replay-%d" % os.getpid())
            rc, out, err, hung, args = run_one(a.bin, case, w, mock, a.timeout, env)
            probs = judge(case, rc, out, err, hung)
            print("%s %s: %s" % ("FAIL" if probs else "ok", os.path.basename(d.rstrip("/")),
                                 "; ".join(probs) if probs else "exit %d" % rc))
            if probs:
                fails += 1
                sys.stderr.write(err[-3000:])
        return 1 if fails else 0
    outdir = a.rest[0]
    os.makedirs(outdir, exist_ok=True)
    corpus = load_corpus()
    rng = random.Random(a.seed)
    cases = [make_case(rng, seeds, corpus, type_names) for _ in range(a.cases)]
    lock = threading.Lock()
    stats = {"fail": 0, "hang": 0, "done": 0, "exit0": 0}
    proto = open(a.proto_log, "a") if a.proto_log else None
    queue = list(enumerate(cases))

    def worker(wid):
        mock = Mock()
        while True:
            with lock:
                if not queue:
                    return
                k, case = queue.pop(0)
            d = os.path.join(outdir, "w%d" % wid)
            rc, out, err, hung, args = run_one(a.bin, case, d, mock, a.timeout, env)
            probs = judge(case, rc, out, err, hung)
            with lock:
                stats["done"] += 1
                stats["exit0"] += rc == 0
                if probs:
                    stats["fail"] += 1
                    stats["hang"] += hung
                    f = os.path.join(outdir, "fail-%d" % k)
                    write_case(f, case, None)
                    with open(os.path.join(f, "err.txt"), "w") as fe:
                        fe.write(err)
                    with open(os.path.join(f, "out.txt"), "w") as fo:
                        fo.write(out[:100000])
                    print("FAIL case %d (%s from %s): %s" % (k, case["cmd"], case["seed"], "; ".join(probs)[:400]), flush=True)
                elif proto is not None and case["cmd"] not in ("validate", "test-read") and out.strip():
                    proto.write(out if out.endswith("\n") else out + "\n")

    ts = [threading.Thread(target=worker, args=(i,)) for i in range(a.jobs)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    print("fuzz: %d cases (seed %d, %d seeds, %d corpus manifests), %d exit 0, %d failures, %d hangs"
          % (stats["done"], a.seed, len(seeds), len(corpus), stats["exit0"], stats["fail"], stats["hang"]))
    return 1 if stats["fail"] else 0


if __name__ == "__main__":
    sys.exit(main())
