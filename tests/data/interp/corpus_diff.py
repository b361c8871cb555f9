#!/usr/bin/python3
"""Differential check against real manifests (run by hand; the corpus is not
part of the repository):

  /usr/bin/python3 tests/data/interp/corpus_diff.py ../shared/corpus/manifests > /tmp/corpus.jsonl
  SLUICE_INTERP_CORPUS=/tmp/corpus.jsonl build/bin/sluice-unit-tests interp_corpus

Every distinct template string of every manifest is parsed by jinja2 (its
undeclared names recorded) and evaluated the CDK's way (gen.py) with a
synthetic contexts: each undeclared name bound to one sample object, then
to an object holding every key the template reads, with plausible values. The
unit test compiles and evaluates each with sluice and compares parse success,
undeclared names, and the value (or NULL, or an error)."""
import glob
import json
import re
import sys
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
import gen  # noqa: E402
from jinja2 import meta  # noqa: E402

SAMPLE = {"id": 1, "name": "x", "start_time": "2024-01-01T00:00:00Z", "end_time": "2024-01-31T23:59:59Z",
          "next_page_token": "tok", "start_date": "2023-01-01", "api_key": "key", "parent_id": 7,
          "data": [{"id": 1}, {"id": 2}], "meta": {"next": "n"}, "page": 2, "cursor": "c",
          "next": {"url": "https://x/?p=2"}, "updated_at": "2024-02-01T00:00:00Z",
          "credentials": {"auth_type": "OAuth", "access_token": "at", "api_key": "k"}, "domain": "acme"}


KEY_RE = re.compile(r"""\[\s*['"]([A-Za-z_][\w-]*)['"]\s*\]|\.([A-Za-z_]\w*)\b(?!\s*\()|get\(\s*['"]([A-Za-z_][\w-]*)['"]""")


def guess(key):
    k = key.lower()
    if any(w in k for w in ("date", "time", "_at", "since", "until")):
        return "2024-01-02T03:04:05Z"
    if k == "id" or k.endswith("_id") or k.endswith("id"):
        return 123
    if any(w in k for w in ("page", "size", "limit", "count", "offset", "number", "days", "window")):
        return 10
    if k.startswith("is_") or k.startswith("use_") or k.startswith("include"):
        return True
    if any(w in k for w in ("ids", "list", "fields", "names")):
        return ["a", "b"]
    return "val-" + key


def rich_context(src, names):
    """Every key the template reads (['k'], .k, get('k')) present at every level, with a value of a
    plausible type: exercises the non-empty paths the sample context misses."""
    keys = {a or b or c for a, b, c in KEY_RE.findall(src)}
    obj = {k: guess(k) for k in keys}
    nested = dict(obj)
    for k in keys:
        if isinstance(obj[k], str) and obj[k].startswith("val-"):
            nested[k] = dict(obj)
    return {n: json.loads(json.dumps(nested)) for n in set(names) | {"config"}}


def strings(x):
    if isinstance(x, dict):
        for v in x.values():
            yield from strings(v)
    elif isinstance(x, list):
        for v in x:
            yield from strings(v)
    elif isinstance(x, str) and ("{{" in x or "{%" in x):
        yield x


def main():
    seen = set()
    for f in sorted(glob.glob(sys.argv[1] + "/*.yaml")):
        try:
            doc = yaml.safe_load(open(f))
        except Exception:
            continue
        for src in strings(doc):
            if src in seen:
                continue
            seen.add(src)
            rec = {"file": Path(f).name, "src": src}
            try:
                und = sorted(meta.find_undeclared_variables(gen.ENV.parse(src)))
            except Exception:
                rec["parse_error"] = True
                print(json.dumps(rec))
                continue
            ctx = {n: json.loads(json.dumps(SAMPLE)) for n in und}
            ctx.setdefault("config", json.loads(json.dumps(SAMPLE)))
            for variant in (ctx, rich_context(src, und)):
                rec["und"], rec["ctx"] = und, variant
                try:
                    v = gen.cdk_eval(src, variant, "any")
                    rec["res"] = {"null": True} if v is gen.NULL else {"value": v}
                    json.dumps(rec["res"])
                except Exception as exc:
                    rec["res"] = {"error": type(exc).__name__}
                print(json.dumps(rec))


main()
