#!/usr/bin/python3
"""Baseline for bench/interp.sh: the same templates through jinja2's
SandboxedEnvironment, meta.find_undeclared_variables, render and
ast.literal_eval, as the Python CDK's JinjaInterpolation.eval does per call
(its template cache is off). Output: name<TAB>evals/s."""
import ast
import datetime
import sys
import time

from jinja2 import meta
from jinja2.sandbox import SandboxedEnvironment

ENV = SandboxedEnvironment()
ENV.globals["now_utc"] = lambda: datetime.datetime.now(datetime.timezone.utc)
FALSE = ["False", "false", "{}", "[]", "()", "", "0", "0.0", {}, False, [], (), set()]


COMPILED = {}


def cached_eval(src, ctx):
    """The same with the template compiled once (what the CDK would do with its cache on)."""
    t = COMPILED.get(src)
    if t is None:
        t = COMPILED[src] = ENV.from_string(src)
    out = t.render(ctx)
    try:
        return ast.literal_eval(out)
    except (ValueError, SyntaxError):
        return out


def cdk_eval(src, ctx):
    if "stream_state" in src:
        raise ValueError
    undeclared = meta.find_undeclared_variables(ENV.parse(src))
    if any(v not in ctx for v in undeclared):
        raise ValueError
    out = ENV.from_string(src).render(ctx)
    try:
        return ast.literal_eval(out)
    except (ValueError, SyntaxError):
        return out


def main():
    secs = float(sys.argv[1]) if len(sys.argv) > 1 else 1.0
    record = {"id": 123456, "created_at": "2024-01-02T03:04:05.123456+00:00",
              "updated_at": "2024-02-03T04:05:06.654321+00:00", "email": "someone@example.com",
              "name": "Some One", "age": 42, "active": True,
              "address": {"street": "1 Main Street", "city": "Springfield", "country": "US"},
              "tags": ["a", "b", "c"], "score": 12.5}
    ctx = {"config": {"start_date": "2024-01-01T00:00:00Z", "api_key": "k"}, "record": record,
           "response": {"data": [record] * 1000, "meta": {"next": None}}, "stream_slice": {"parent_id": 77}}
    ctx["stream_partition"] = ctx["stream_slice"]
    cases = [("record_filter", "{{ record['updated_at'] >= config['start_date'] }}", True),
             ("add_fields_get", "{{ record.get('id') }}", False),
             ("stop_condition_big_response", "{{ not response.get('meta', {}).get('next') }}", True),
             ("path_format", "/v1/{{ stream_partition.parent_id }}/items", False),
             ("now_strftime", "{{ now_utc().strftime('%Y-%m-%dT%H:%M:%SZ') }}", False)]
    for name, src, is_bool in cases:
        rates = []
        for fn in (cdk_eval, cached_eval):
            n, t0 = 0, time.perf_counter()
            while True:
                for _ in range(100):
                    v = fn(src, ctx)
                    if is_bool:
                        v = v not in FALSE
                n += 100
                t1 = time.perf_counter()
                if t1 - t0 >= secs:
                    break
            rates.append("%.0f" % (n / (t1 - t0)))
        print("%s\t%s" % (name, "\t".join(rates)))


main()
