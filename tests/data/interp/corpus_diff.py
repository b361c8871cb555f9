#!/usr/bin/python3
"""Differential check against real manifests (run by hand; the corpus is not
part of the repository):

  /usr/bin/python3 tests/data/interp/corpus_diff.py ../shared/corpus/manifests > /tmp/corpus.jsonl
  SLUICE_INTERP_CORPUS=/tmp/corpus.jsonl build/bin/sluice-unit-tests interp_corpus

Every distinct template string of every manifest is parsed by jinja2 (its
undeclared names recorded) and evaluated the CDK's way (gen.py) with a
synthetic context: each undeclared name bound to the same sample object. The
unit test compiles and evaluates each with sluice and compares parse success,
undeclared names, and the value (or NULL, or an error)."""
import glob
import json
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
            rec["und"], rec["ctx"] = und, ctx
            try:
                v = gen.cdk_eval(src, ctx, "any")
                rec["res"] = {"null": True} if v is gen.NULL else {"value": v}
                json.dumps(rec["res"])
            except Exception as exc:
                rec["res"] = {"error": type(exc).__name__}
            print(json.dumps(rec))


main()
