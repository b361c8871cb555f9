#!/usr/bin/python3
"""Fuzzing the Airbyte protocol input of destinations (python3 only).

    fuzz_dest.py BIN_DIR OUT_DIR [--cases N] [--seed S] [--timeout T] [--proto-log F]

Seeds are the message files of tests/data/destinations (X*.jsonl with the catalog
X.catalog.json). Each case mutates some lines (a structural mutation of the
message as fuzz_lowcode.py makes them, or damage to the text: truncated, binary,
empty, huge, deeply nested lines; lines dropped, duplicated, moved) and feeds them
to `write` of destination-jsonl, destination-sqlite or destination-csv. A run must
end by itself, not by a signal, with no sanitizer report; its stdout must be JSON
protocol messages, and a non-zero exit needs a TRACE error with a failure_type
(fuzz_lowcode.judge). Failing cases go to OUT_DIR/dfail-K/ (input.jsonl,
catalog.json, case.json). Prints "fuzz-dest: N cases, F failures, H hangs".
"""
import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fuzz_lowcode as fl  # noqa: E402

DATA = os.path.join(fl.ROOT, "tests", "data", "destinations")
DESTS = ["destination-jsonl", "destination-sqlite", "destination-csv"]


def seeds():
    cats = sorted(f[: -len(".catalog.json")] for f in os.listdir(DATA) if f.endswith(".catalog.json"))
    out = []
    for f in sorted(os.listdir(DATA)):
        if not f.endswith(".jsonl"):
            continue
        base = [c for c in cats if f.startswith(c)]
        if base:
            lines = open(os.path.join(DATA, f), encoding="utf-8").read().splitlines()
            out.append({"name": f, "catalog": json.load(open(os.path.join(DATA, max(base, key=len) + ".catalog.json"))),
                        "lines": lines})
    return out


def mutate_line(rng, line, type_names):
    op = rng.randrange(8)
    if op < 4:
        try:
            msg = json.loads(line)
            return fl.json_text(fl.mutate_tree(rng, msg, [], type_names))
        except (ValueError, KeyError, IndexError, TypeError, RecursionError):
            return line
    if op == 4:
        return line[: rng.randrange(len(line) + 1)]
    if op == 5:
        i = rng.randrange(len(line) + 1)
        return line[:i] + rng.choice(["\x00", "\xff", "\\", "\"", "}", "{", "\\ud800", "\r"]) + line[i:]
    if op == 6:
        return rng.choice(["", " ", "null", "[]", "{}", "{\"type\":\"RECORD\"}", "{\"type\":\"STATE\",\"state\":{}}",
                           "{\"type\":\"RECORD\",\"record\":{\"stream\":\"nope\",\"data\":{},\"emitted_at\":1}}",
                           "[" * 100000 + "]" * 100000, "{\"type\":\"LOG\",\"log\":{\"level\":\"INFO\",\"message\":\"x\"}}"])
    try:
        msg = json.loads(line)
        if isinstance(msg.get("record"), dict):
            msg["record"]["data"] = {"big": "x" * rng.choice([10000, 3000000]), "deep": "__DEEP_%d__" % rng.choice([100, 5000])}
        return fl.json_text(msg)
    except (ValueError, AttributeError, RecursionError):
        return line


def make_case(rng, all_seeds):
    s = rng.choice(all_seeds)
    lines = list(s["lines"])
    for _ in range(rng.choice([1, 1, 2, 3, 6])):
        if not lines:
            lines = ["{}"]
        i = rng.randrange(len(lines))
        op = rng.randrange(6)
        if op == 0:
            del lines[i]
        elif op == 1:
            lines.insert(i, lines[i])
        elif op == 2:
            lines.insert(rng.randrange(len(lines) + 1), lines.pop(i))
        else:
            lines[i] = mutate_line(rng, lines[i], [])
    cat = s["catalog"]
    if rng.random() < 0.1:
        try:
            cat = fl.mutate_tree(rng, json.loads(json.dumps(cat)), [], [])
        except (KeyError, IndexError, TypeError):
            pass
    return {"seed": s["name"], "dest": rng.choice(DESTS), "lines": lines, "catalog": cat,
            "newline_at_end": rng.random() < 0.8}


def run_case(binp, case, d, timeout, env):
    if os.path.isdir(d):
        shutil.rmtree(d)
    os.makedirs(os.path.join(d, "out"))
    inp = os.path.join(d, "input.jsonl")
    with open(inp, "w", encoding="utf-8", errors="surrogatepass") as f:
        f.write("\n".join(case["lines"]) + ("\n" if case["newline_at_end"] else ""))
    with open(os.path.join(d, "catalog.json"), "w") as f:
        f.write(fl.json_text(case["catalog"]))
    path = os.path.join(d, "out", "db.sqlite") if case["dest"] == "destination-sqlite" else os.path.join(d, "out")
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump({"destination_path": path}, f)
    with open(os.path.join(d, "case.json"), "w") as f:
        json.dump({"seed": case["seed"], "dest": case["dest"]}, f)
    args = [os.path.join(binp, case["dest"]), "write", "--config", os.path.join(d, "config.json"),
            "--catalog", os.path.join(d, "catalog.json")]
    with open(inp, "rb") as stdin:
        p = subprocess.Popen(args, stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                             start_new_session=True)
        hung = False
        try:
            out, err = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            hung = True
            os.killpg(p.pid, signal.SIGKILL)
            out, err = p.communicate()
    return p.returncode, out.decode("utf-8", "replace"), err.decode("utf-8", "replace"), hung


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("bin")
    ap.add_argument("out")
    ap.add_argument("--cases", type=int, default=60)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--timeout", type=float, default=60)
    ap.add_argument("--proto-log")
    a = ap.parse_args()
    env = fl.fuzz_env()
    rng = random.Random(a.seed)
    all_seeds = seeds()
    fails = hangs = 0
    proto = open(a.proto_log, "a") if a.proto_log else None
    for k in range(a.cases):
        case = make_case(rng, all_seeds)
        d = os.path.join(a.out, "dw")
        rc, out, err, hung = run_case(a.bin, case, d, a.timeout, env)
        probs = fl.judge({"cmd": "write"}, rc, out, err, hung)
        if probs:
            fails += 1
            hangs += hung
            f = os.path.join(a.out, "dfail-%d" % k)
            if os.path.isdir(f):
                shutil.rmtree(f)
            shutil.copytree(d, f)
            with open(os.path.join(f, "err.txt"), "w") as fe:
                fe.write(err)
            print("FAIL dest case %d (%s from %s): %s" % (k, case["dest"], case["seed"], "; ".join(probs)[:400]), flush=True)
        elif proto is not None and out.strip():
            proto.write(out if out.endswith("\n") else out + "\n")
    print("fuzz-dest: %d cases (seed %d, %d seed files), %d failures, %d hangs" % (a.cases, a.seed, len(all_seeds), fails, hangs))
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
