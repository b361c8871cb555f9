#!/usr/bin/python3
"""Regenerates the expectations of tests/data/interp/*.txt from the real thing.

Run by hand (not by the test suite) with Debian's python3, which has jinja2,
dateutil, isodate and pytz:  /usr/bin/python3 tests/data/interp/gen.py

Each case's template/context/accept lines are kept; render/expect/bool are
recomputed with jinja2's SandboxedEnvironment (range removed), small replicas
of the Airbyte CDK macros and filters (written from their documented
behaviour), and ast.literal_eval with the CDK's accepted-type rule. A case
whose Python evaluation raises keeps its hand-written `error:` substring (the
C engine's message); a new failing case gets `error: ?` and a warning.
"""
import ast
import copy
import base64
import datetime as dt
import hashlib
import hmac as hmac_lib
import json
import re
import sys
import uuid
from pathlib import Path
from urllib.parse import quote_plus

import isodate
import pytz
from dateutil import parser as du_parser
from jinja2 import meta
from jinja2.exceptions import UndefinedError
from jinja2.sandbox import SandboxedEnvironment

NOW = dt.datetime(2024, 3, 15, 10, 20, 30, 123456, tzinfo=dt.timezone.utc)


# ---- replicas of the CDK's DatetimeParser and macros ----
def cdk_parse(value, fmt):
    epoch = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
    if fmt == "%s":
        return dt.datetime.fromtimestamp(int(value), tz=dt.timezone.utc)
    if fmt == "%s_as_float":
        return dt.datetime.fromtimestamp(float(value), tz=dt.timezone.utc)
    if fmt == "%epoch_microseconds":
        return epoch + dt.timedelta(microseconds=int(value))
    if fmt == "%ms":
        return epoch + dt.timedelta(milliseconds=int(value))
    fmt = fmt.replace("%_ms", "%f")
    out = dt.datetime.strptime(str(value), fmt)
    return out if out.tzinfo else out.replace(tzinfo=dt.timezone.utc)


def cdk_format(value, fmt):
    if fmt == "%s":
        return str(int(value.timestamp()))
    if fmt == "%s_as_float":
        return str(float(value.timestamp()))
    if fmt == "%epoch_microseconds":
        return str(int(value.timestamp() * 1_000_000))
    if fmt == "%ms":
        return str(int(value.timestamp() * 1000))
    if "%_ms" in fmt:
        text = value.strftime(fmt.replace("%_ms", "%f"))
        return text.replace(value.strftime("%f"), "%03d" % int(value.microsecond / 1000))
    return value.strftime(fmt)


def m_now_utc():
    return NOW


def m_today_utc():
    return NOW.date()


def m_today_with_timezone(tz):
    return NOW.astimezone(pytz.timezone(tz)).date()


def m_str_to_datetime(s):
    d = du_parser.isoparse(s)
    if not d.tzinfo:
        d = d.replace(tzinfo=pytz.utc)
    return d.astimezone(pytz.utc)


def m_timestamp(value):
    if isinstance(value, (int, float)):
        return int(value)
    return m_str_to_datetime(value).astimezone(pytz.utc).timestamp()


def m_max(*args):
    return max(*args)


def m_min(*args):
    return min(*args)


def m_day_delta(num_days, format="%Y-%m-%dT%H:%M:%S.%f%z"):
    return (NOW + dt.timedelta(days=num_days)).strftime(format)


def m_duration(s):
    return isodate.parse_duration(s)


def m_format_datetime(value, format, input_format=None):
    if isinstance(value, dt.datetime):
        return value.strftime(format)
    if isinstance(value, int):
        d = cdk_parse(value, input_format or "%s")
    elif input_format:
        d = dt.datetime.strptime(value, input_format)
    else:
        d = m_str_to_datetime(value)
    if d.tzinfo is None:
        d = d.replace(tzinfo=pytz.utc)
    return cdk_format(d, format)


def m_sanitize_url(value):
    return quote_plus(value)


def m_camel_case_to_snake_case(value):
    return re.sub(r"(?<!^)(?=[A-Z])", "_", value).lower()


def m_generate_uuid():
    return str(uuid.uuid4())


MACROS = {
    "now_utc": m_now_utc, "today_utc": m_today_utc, "today_with_timezone": m_today_with_timezone,
    "timestamp": m_timestamp, "str_to_datetime": m_str_to_datetime, "max": m_max, "min": m_min,
    "day_delta": m_day_delta, "duration": m_duration, "format_datetime": m_format_datetime,
    "sanitize_url": m_sanitize_url, "camel_case_to_snake_case": m_camel_case_to_snake_case,
    "generate_uuid": m_generate_uuid,
}


# ---- replicas of the CDK's filters ----
def f_hash(value, hash_type="md5", salt=None):
    fn = getattr(hashlib, hash_type, None)
    if not fn:
        raise AttributeError("No hashing function named " + hash_type)
    h = fn()
    h.update(str(value).encode("utf-8"))
    if salt:
        h.update(str(salt).encode("utf-8"))
    return h.hexdigest()


def f_base64encode(value):
    return base64.b64encode(value.encode("utf-8")).decode()


def f_base64decode(value):
    return base64.b64decode(value.encode("utf-8")).decode()


def f_base64binascii_decode(value):
    return base64.standard_b64encode(value.encode("ascii")).decode("ascii")


def f_string(value):
    return value if isinstance(value, str) else '"""' + json.dumps(value) + '"""'


def f_regex_search(value, regex):
    m = re.search(regex, value)
    return m.group(1) if m and m.groups() else ""


def f_regex_replace(value, regex, replacement):
    return re.sub(regex, replacement, value)


def f_hmac(value, key, hash_type="sha256"):
    if hash_type != "sha256":
        raise ValueError("Hash type '%s' is not allowed" % hash_type)
    return hmac_lib.new(str(key).encode("utf-8"), str(value).encode("utf-8"), hashlib.sha256).hexdigest()


FILTERS = {
    "hash": f_hash, "base64encode": f_base64encode, "base64decode": f_base64decode,
    "base64binascii_decode": f_base64binascii_decode, "string": f_string,
    "regex_search": f_regex_search, "regex_replace": f_regex_replace, "hmac": f_hmac,
}

ENV = SandboxedEnvironment()
ENV.filters.update(FILTERS)
ENV.globals.update(MACROS)
ENV.globals.pop("range", None)

ACCEPT = {"str_or_list": (str, list), "int": (int,), "number": (float,), "bool": (bool,), "string": (str,)}


def render(src, ctx):
    undeclared = meta.find_undeclared_variables(ENV.parse(src))
    missing = {v for v in undeclared if v not in ctx}
    if missing:
        raise ValueError("undeclared variables %s" % missing)
    return ENV.from_string(src).render(copy.deepcopy(ctx))  # templates may mutate


def literal(text, accept):
    if accept == "text":
        return text
    try:
        v = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text
    types = ACCEPT.get(accept)
    if (not types and not isinstance(v, complex)) or (types and isinstance(v, types)):
        return v
    return text


NULL = object()


def cdk_eval(src, ctx, accept):
    if "stream_state" in src:
        raise ValueError("stream_state")
    try:
        out = render(src, ctx)
        if out:
            return literal(out, accept)
    except UndefinedError:
        pass
    return NULL


FALSE_VALUES = ["False", "false", "{}", "[]", "()", "", "0", "0.0", {}, False, [], (), set()]


def cdk_bool(src, ctx):
    v = cdk_eval(src, ctx, "any")
    if v is NULL:
        v = False
    return v not in FALSE_VALUES


def to_json(v):
    return json.dumps(v, ensure_ascii=False)


def process(path):
    lines = path.read_text().split("\n")
    out, case, warnings = [], None, 0

    def flush():
        nonlocal warnings
        if case is None:
            return
        out.extend(case["head"])
        if "template" not in case:
            return
        src = case["template"]
        if src.startswith('"'):
            src = json.loads(src)
        ctx = json.loads(case.get("context") or '{"config": {}}')
        if "stream_slice" in ctx:
            ctx.setdefault("stream_interval", ctx["stream_slice"])
            ctx.setdefault("stream_partition", ctx["stream_slice"])
        accept = case.get("accept", "any")
        if "nopython" in case:  # would not finish in Python: hand-written error only
            out.append("error: " + case.get("error", "?"))
            out.append("")
            return
        try:
            text = render(src, ctx) if "stream_state" not in src else None
            if text is not None:
                out.append("render: " + to_json(text))
        except UndefinedError:
            pass
        except Exception:
            pass
        try:
            v = cdk_eval(src, ctx, accept)
            out.append("expect: " + ("NULL" if v is NULL else to_json(v)))
            if accept == "any" and case.get("nobool") is None:
                out.append("bool: " + ("true" if cdk_bool(src, ctx) else "false"))
            if "error" in case:  # a documented divergence: the C engine refuses this
                out.append("error: " + case["error"])
                print("%s: %s: Python succeeded but the case expects an error" % (path.name, case["name"]))
        except Exception as exc:
            if out and out[-1].startswith("render: "):
                out.pop()
            err = case.get("error", "?")
            out.append("error: " + err)
            if err == "?":
                print("%s: %s: Python raised %s: %s" % (path.name, case["name"], type(exc).__name__, exc))
                warnings += 1
        out.append("")

    for line in lines:
        if line.startswith("=== "):
            flush()
            case = {"name": line[4:], "head": [line]}
            continue
        if case is None:
            out.append(line)
            continue
        key, _, val = line.partition(": ")
        if key in ("render", "expect", "bool") or (not line.strip()):
            continue
        if key == "error":
            case["error"] = val
            continue
        if key in ("template", "context", "accept", "nobool", "nopython"):
            case[key] = val
        case["head"].append(line)
    flush()
    while out and out[-1] == "":
        out.pop()
    path.write_text("\n".join(out) + "\n")
    return warnings


def esc(s):
    return s.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


def unesc(s):
    return s.replace("\\t", "\t").replace("\\n", "\n").replace("\\\\", "\\")


def pydt_expect(op, fmt, inp):
    try:
        if op == "cdkparse":
            return cdk_parse(inp, fmt).isoformat()
        if op == "strptime":
            return str(dt.datetime.strptime(inp, fmt))
        if op == "isoparse":
            return str(du_parser.isoparse(inp))
        if op == "strftime":  # offsets as datetime.timezone, as strptime's %z gives
            d = du_parser.isoparse(inp)
            if d.tzinfo:
                d = d.replace(tzinfo=dt.timezone(d.utcoffset()))
            return d.strftime(fmt)
        if op == "cdkformat":
            d = du_parser.isoparse(inp)
            return cdk_format(d if d.tzinfo else d.replace(tzinfo=dt.timezone.utc), fmt)
        if op == "duration":
            return str(isodate.parse_duration(inp))
        if op == "adddur":
            return str(du_parser.isoparse(fmt) + isodate.parse_duration(inp))
    except Exception:
        return "ERR"
    raise SystemExit("unknown op " + op)


def process_tsv(path):
    out = []
    for line in path.read_text().split("\n"):
        if not line or line.startswith("#"):
            out.append(line)
            continue
        f = line.split("\t")
        op, fmt, inp = f[0], unesc(f[1]), unesc(f[2])
        out.append("\t".join([op, esc(fmt), esc(inp), esc(pydt_expect(op, fmt, inp))]))
    while out and out[-1] == "":
        out.pop()
    path.write_text("\n".join(out) + "\n")


def main():
    here = Path(__file__).resolve().parent
    files = sys.argv[1:] or sorted(str(p) for p in here.glob("*.txt")) + [str(here / "pydt.tsv")]
    total = 0
    for f in files:
        if f.endswith(".tsv"):
            process_tsv(Path(f))
            continue
        total += process(Path(f))
    if total:
        print("%d warning(s)" % total)


if __name__ == "__main__":
    main()
