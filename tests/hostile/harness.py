"""The hostile-input corpus: each case builds its inputs with code (no binary blobs), runs kaiming in a
fresh process as CI would, and checks the contract that a pull request's files must never break.

A case says which exit code it expects; the harness checks for every case, whatever it is about:
- it finishes within TIMEOUT seconds (a hang detector, not a speed test) and under MAX_RSS_MB;
- no marker file appears (a payload that ran would leave one) and no special file was replaced;
- stderr is at most two lines with no traceback;
- every output (stdout and any ``-o`` file) parses in its format (strict XML, JSON) and holds no raw
  control character, no line starts with ``::`` (after spaces) unless it is one of kaiming's own
  annotations, and no line holds ``##[`` (GitHub's legacy command prefix, honoured mid-line).
"""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
import xml.dom.minidom
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

TIMEOUT = 30.0
MAX_RSS_MB = 300.0
MARKER = "MARKER"  # payloads in the corpus touch this file in the case's folder

# Control characters that must never reach an output raw: C0 except tab/newline, DEL, C1, U+2028/9.
RAW_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]")
# kaiming's own GitHub annotations: a command word, properties, then '::' and an escaped message.
OWN_ANNOTATION = re.compile(r"^::(error|warning|notice)( [a-z]+=[^\r\n:,]*(,[a-z]+=[^\r\n:,]*)*)?::")

_MEASURE = (
    "import os, subprocess, sys\n"
    "out = open(sys.argv[1], 'wb'); err = open(sys.argv[2], 'wb')\n"
    "p = subprocess.Popen(sys.argv[4:], stdout=out, stderr=err, stdin=subprocess.DEVNULL, cwd=sys.argv[3])\n"
    "_, status, usage = os.wait4(p.pid, 0)\n"
    "print(os.waitstatus_to_exitcode(status), usage.ru_maxrss)\n"
)


@dataclass
class Outcome:
    code: int
    stdout: str
    stderr: str
    rss_mb: float


@dataclass(frozen=True)
class Case:
    """One hostile input: ``build(folder)`` writes the inputs and returns kaiming's argv."""

    id: str
    build: Callable[[Path], list[str]]
    exit: int
    needle: str | None = None          # must appear in stderr (case-insensitive)
    fmt: str | None = None             # format of stdout to parse: json, junit, markdown, github, table
    outputs: tuple[str, ...] = ()      # files (relative to the folder) that must exist afterwards and parse as fmt
    protected: tuple[str, ...] = ()    # paths (relative: to the folder) that must be unchanged afterwards
    root_only: bool = False            # needs root (mknod); skipped only when not root
    stdin_closed_stdout: bool = False  # stdout is a pipe whose reader has gone (`| true`)
    extra: Callable[[Path, Outcome], None] | None = None  # further case-specific assertions
    max_rss_mb: float = MAX_RSS_MB
    env: dict[str, str] = field(default_factory=dict)


def _snapshot(path: Path) -> tuple[int, int, int] | None:
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None
    return st.st_ino, stat.S_IFMT(st.st_mode), st.st_mode


def run(case: Case, folder: Path) -> Outcome:
    argv = case.build(folder)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KAIMING", "FORCE_COLOR", "CLICOLOR"))}
    env.update({"NO_COLOR": "1", "COLUMNS": "100", "PYTHONDONTWRITEBYTECODE": "1", **case.env})
    before = {p: _snapshot(folder / p) for p in case.protected}  # an absolute p stays as it is
    out, err = folder / ".stdout", folder / ".stderr"
    cmd = [sys.executable, "-c", _MEASURE, str(out), str(err), str(folder), sys.executable, "-m", "kaiming_cli", *argv]
    if case.stdin_closed_stdout:
        # stdout of kaiming is a pipe whose reading end is closed before kaiming writes.
        cmd = [sys.executable, "-c",
               "import os, subprocess, sys\n"
               "r, w = os.pipe(); os.close(r)\n"
               "p = subprocess.Popen(sys.argv[3:], stdout=w, stderr=open(sys.argv[1], 'wb'),"
               " stdin=subprocess.DEVNULL, cwd=sys.argv[2]); os.close(w)\n"
               "_, status, usage = os.wait4(p.pid, 0)\n"
               "print(os.waitstatus_to_exitcode(status), usage.ru_maxrss)\n",
               str(err), str(folder), sys.executable, "-m", "kaiming_cli", *argv]
        out.write_bytes(b"")
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT, env=env)
    code_text, kb = proc.stdout.split()
    outcome = Outcome(int(code_text), out.read_bytes().decode("utf-8", "replace"),
                      err.read_bytes().decode("utf-8", "replace"), int(kb) / 1024.0)
    for p, snap in before.items():
        assert _snapshot(folder / p) == snap, f"{p} was replaced or changed type"
    return outcome


def check_text(text: str, where: str) -> None:
    bad = RAW_CONTROL.search(text)
    assert bad is None, f"raw control character {bad.group()!r} in {where}"
    for line in text.splitlines():
        # GitHub's runner takes '::cmd' after leading spaces, and the legacy '##[cmd]' anywhere in a line
        if line.lstrip().startswith("::"):
            assert OWN_ANNOTATION.match(line), f"injected workflow command in {where}: {line[:80]!r}"
        assert "##[" not in line, f"injected legacy workflow command in {where}: {line[:80]!r}"


def parse(text: str, fmt: str | None, where: str) -> None:
    if fmt == "json":
        json.loads(text)
    elif fmt == "junit":
        xml.dom.minidom.parseString(text.encode("utf-8"))
    check_text(text, where)


def check(case: Case, folder: Path) -> Outcome:
    outcome = run(case, folder)
    assert outcome.code == case.exit, f"exit {outcome.code}, expected {case.exit}; stderr: {outcome.stderr[-600:]}"
    assert "Traceback" not in outcome.stderr, outcome.stderr[-2000:]
    assert len(outcome.stderr.strip().splitlines()) <= 2, outcome.stderr[-2000:]
    if case.needle is not None:
        assert case.needle.lower() in outcome.stderr.lower(), outcome.stderr
    assert outcome.rss_mb < case.max_rss_mb, f"peak RSS {outcome.rss_mb:.0f} MB"
    assert not (folder / MARKER).exists(), "a payload ran"
    check_text(outcome.stderr, "stderr")
    if outcome.stdout or not case.outputs:  # with -o, stdout is rightly empty
        parse(outcome.stdout, case.fmt, "stdout")
    for name in case.outputs:
        path = folder / name
        assert path.is_file(), f"{name} was not written"
        parse(path.read_text("utf-8"), case.fmt, name)
    if case.extra is not None:
        case.extra(folder, outcome)
    return outcome
