#!/usr/bin/python3
"""Run a command on a pseudo-terminal and answer its prompts.

usage: pty_answer.py ANSWERS TRANSCRIPT -- COMMAND [ARGS...]
ANSWERS has one answer per line; each is typed when the output ends with a
prompt (": " with no newline after it). Everything the terminal shows goes
to TRANSCRIPT. When the answers run out, the input ends (EOF). Exits with
the command's exit code; gives up (exit 124) after 60 s without output.
"""
import os
import pty
import select
import sys


def main():
    answers_path, transcript_path = sys.argv[1], sys.argv[2]
    cmd = sys.argv[sys.argv.index("--") + 1:]
    with open(answers_path) as f:
        answers = f.read().split("\n")
    if answers and answers[-1] == "":
        answers.pop()
    pid, fd = pty.fork()
    if pid == 0:
        os.execvp(cmd[0], cmd)
    out = b""
    since = b""  # output since the last answer
    eof_sent = False
    while True:
        ready, _, _ = select.select([fd], [], [], 60)
        if not ready:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            with open(transcript_path, "wb") as f:
                f.write(out)
            sys.stderr.write("pty_answer: no output for 60 s after:\n%s\n" % out[-300:].decode(errors="replace"))
            sys.exit(124)
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            chunk = b""
        if not chunk:
            break
        out += chunk
        since += chunk
        if since.endswith(b": "):
            since = b""
            if answers:
                os.write(fd, answers.pop(0).encode() + b"\n")
            elif not eof_sent:
                os.write(fd, b"\x04")  # Ctrl-D: the end of the input
                eof_sent = True
    _, status = os.waitpid(pid, 0)
    with open(transcript_path, "wb") as f:
        f.write(out)
    sys.exit(os.waitstatus_to_exitcode(status))


main()
