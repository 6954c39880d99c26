"""Hostile cases about what kaiming writes and decides: outputs, option and config values, closed
pipes, and the gate.

- Outputs: ``-o``/``--plot`` naming a device, a FIFO, our own stdout, a symlink to one of those, an
  input file (also through a symlink or a hard link), the other output, a socket. Device nodes are
  ``mknod`` copies in the case's folder, never the machine's own ``/dev/null``.
- Option and config values that used to reach the numerics (exit 4) or run without bound: each is
  exit 2 (an option) or 3 (a file the pull request controls) with the accepted range.
- A stdout whose reader has gone (``| true``): quiet, with the exit code the run earned.
- The gate: a run that tested nothing fails; an unreadable file is reported while the rest is verified.
"""

from __future__ import annotations

import json
import os
import socket
import stat
import xml.dom.minidom
from collections.abc import Callable
from pathlib import Path

from .harness import Case, Outcome

Build = Callable[[Path], list[str]]


# --------------------------------------------------------------------------- inputs built by code

def weights(folder: Path, name: str = "w.npy", fan_in: int = 64) -> str:
    """A 64 x fan_in float32 tensor drawn as kaiming_normal_ (fan_in, a = 0) draws it: verify passes."""
    import numpy as np

    w = np.random.default_rng(0).standard_normal((64, fan_in)) * np.sqrt(2.0 / fan_in)
    np.save(folder / name, w.astype(np.float32))
    return name


def trained(folder: Path, name: str = "t.npy") -> str:
    """A tensor ten times wider than its init: verify fails."""
    import numpy as np

    np.save(folder / name, (np.random.default_rng(1).standard_normal((64, 64)) * 1.77).astype(np.float32))
    return name


def device_copy(folder: Path, name: str, kind: int = stat.S_IFCHR, major: int = 1, minor: int = 3) -> str:
    """A device node in the case's folder (default: a copy of /dev/null, 1:3); needs root."""
    os.mknod(folder / name, 0o666 | kind, os.makedev(major, minor))
    os.chmod(folder / name, 0o666)
    return name


def verify_to(target: Callable[[Path], str], *extra: str, fmt: str = "json") -> Build:
    def build(folder: Path) -> list[str]:
        return ["verify", weights(folder), "--no-config", "-a0", "-f", fmt, "-o", target(folder), *extra]

    return build


def stdout_is_json(_folder: Path, outcome: Outcome) -> None:
    assert json.loads(outcome.stdout)["passed"] is True, outcome.stdout[:200]


# --------------------------------------------------------------------------- outputs

def _symlink(target: str, name: str) -> Callable[[Path], str]:
    def make(folder: Path) -> str:
        os.symlink(target, folder / name)
        return name

    return make


def _fifo(folder: Path) -> str:
    os.mkfifo(folder / "out.fifo")
    return "out.fifo"


def _socket(folder: Path) -> str:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(str(folder / "out.sock"))
    sock.close()  # the socket file stays
    return "out.sock"


def _null_copy(folder: Path) -> str:
    return device_copy(folder, "null")


def _null_via_symlink(folder: Path) -> str:
    device_copy(folder, "null")
    os.symlink("null", folder / "report.json")
    return "report.json"


def _block_copy(folder: Path) -> str:
    return device_copy(folder, "blk", stat.S_IFBLK, 7, 250)  # a loop device number, never opened


def _stdout_link(folder: Path) -> str:
    os.symlink("/proc/self/fd/1", folder / "out.json")
    return "out.json"


def _input_self(_folder: Path) -> str:
    return "w.npy"


def _input_hardlink(folder: Path) -> str:
    os.link(folder / "w.npy", folder / "report.json")
    return "report.json"


def _input_symlink(folder: Path) -> str:
    os.symlink("w.npy", folder / "report.json")
    return "report.json"


def _plot_is_input(folder: Path) -> list[str]:
    return ["verify", weights(folder), "--no-config", "-a0", "--plot", "w.npy"]


def _plot_is_output(folder: Path) -> list[str]:
    return ["check", "--shape", "64,64", "-o", "r.png", "--plot", "./r.png"]


def _plot_is_stdout(folder: Path) -> list[str]:
    return ["verify", weights(folder), "--no-config", "-a0", "-f", "json", "--plot", "/dev/stdout"]


def _rules_is_output(folder: Path) -> list[str]:
    (folder / "r.toml").write_text('[[rule]]\nmatch = "*"\n')
    return ["verify", weights(folder), "--rules", "r.toml", "-o", "r.toml"]


def _pyproject_is_output(folder: Path) -> list[str]:
    (folder / "pyproject.toml").write_text('[[tool.kaiming.rule]]\nmatch = "*"\n')
    return ["verify", weights(folder), "-o", "pyproject.toml"]


def _shard_is_output(folder: Path) -> list[str]:
    import numpy as np
    from safetensors.numpy import save_file

    (folder / "shards").mkdir()
    w = (np.random.default_rng(0).standard_normal((64, 64)) * np.sqrt(2 / 64)).astype(np.float32)
    save_file({"a.weight": w}, str(folder / "shards" / "model-00001-of-00002.safetensors"))
    save_file({"b.weight": w}, str(folder / "shards" / "model-00002-of-00002.safetensors"))
    return ["verify", "shards", "--no-config", "-a0", "-o", "shards/model-00002-of-00002.safetensors"]


def _identify_onto_input(folder: Path) -> list[str]:
    return ["identify", weights(folder), "-f", "json", "-o", "w.npy"]


def _empty_output_path(folder: Path) -> list[str]:
    return ["verify", weights(folder), "--no-config", "-a0", "-o", ""]


def _keeps_mode(folder: Path) -> list[str]:
    (folder / "report.json").write_text("old\n")
    os.chmod(folder / "report.json", 0o600)
    return ["verify", weights(folder), "--no-config", "-a0", "-f", "json", "-o", "report.json"]


def _mode_kept(folder: Path, _outcome: Outcome) -> None:
    assert stat.S_IMODE(os.stat(folder / "report.json").st_mode) == 0o600
    assert json.loads((folder / "report.json").read_text())["passed"] is True


def _link_kept(folder: Path, _outcome: Outcome) -> None:
    """A symlink to a regular file stays a link; the file it points to gets the report."""
    assert (folder / "report.json").is_symlink() and os.readlink(folder / "report.json") == "real.json"
    assert json.loads((folder / "real.json").read_text())["passed"] is True


def _to_link_to_file(folder: Path) -> list[str]:
    (folder / "real.json").write_text("old\n")
    os.symlink("real.json", folder / "report.json")
    return ["verify", weights(folder), "--no-config", "-a0", "-f", "json", "-o", "report.json"]


OUTPUT_CASES = [
    Case("out-dev-null-copy", verify_to(_null_copy), 0, protected=("null",), root_only=True),
    Case("out-symlink-to-dev-null-copy", verify_to(_null_via_symlink), 0, protected=("null", "report.json"),
         root_only=True),
    Case("out-block-device-copy", verify_to(_block_copy), 3, needle="block device", protected=("blk",),
         root_only=True),
    Case("out-plot-dev-null-copy", lambda f: ["propagate", "--depth", "2", "--width", "4",
                                              "--plot", _null_copy(f)], 0, protected=("null",), root_only=True),
    Case("out-dev-stdout", verify_to(lambda _f: "/dev/stdout"), 0, fmt="json", extra=stdout_is_json),
    Case("out-symlink-to-proc-self-fd-1", verify_to(_stdout_link), 0, fmt="json", protected=("out.json",),
         extra=stdout_is_json),
    Case("out-fifo-without-reader", verify_to(_fifo), 3, needle="no process is reading", protected=("out.fifo",)),
    Case("out-socket", verify_to(_socket), 3, needle="socket", protected=("out.sock",)),
    Case("out-folder", verify_to(lambda f: "."), 3, needle="directory"),
    Case("out-is-the-input", verify_to(_input_self), 2, needle="is the input file", protected=("w.npy",)),
    Case("out-hard-link-to-the-input", verify_to(_input_hardlink), 2, needle="is the input file",
         protected=("w.npy", "report.json")),
    Case("out-symlink-to-the-input", verify_to(_input_symlink), 2, needle="is the input file",
         protected=("w.npy", "report.json")),
    Case("plot-is-the-input", _plot_is_input, 2, needle="is the input file", protected=("w.npy",)),
    Case("plot-equals-output", _plot_is_output, 2, needle="both write to"),
    Case("plot-is-stdout-with-the-report", _plot_is_stdout, 2, needle="both write to"),
    Case("out-is-the-rules-file", _rules_is_output, 2, needle="is the input file", protected=("r.toml",)),
    Case("out-is-the-pyproject", _pyproject_is_output, 2, needle="is the input file", protected=("pyproject.toml",)),
    Case("out-is-a-shard-in-a-folder", _shard_is_output, 2, needle="is the input file",
         protected=("shards/model-00002-of-00002.safetensors",)),
    Case("identify-out-is-the-input", _identify_onto_input, 2, needle="is the input file", protected=("w.npy",)),
    Case("out-empty-path", _empty_output_path, 2, needle="empty"),
    Case("out-keeps-0600", _keeps_mode, 0, outputs=("report.json",), fmt="json", extra=_mode_kept),
    Case("out-symlink-to-a-file-stays-a-link", _to_link_to_file, 0, fmt="json", outputs=("report.json",),
         extra=_link_kept),
]


# --------------------------------------------------------------------------- option values (exit 2)

def _verify(*args: str) -> Build:
    return lambda folder: ["verify", weights(folder), "--no-config", "-a0", *args]


def _plain(*args: str) -> Build:
    return lambda _folder: list(args)


OPTION_CASES = [
    Case("opt-seed-negative", _verify("-s", "-1"), 2, needle="0<=x<2^64"),
    Case("opt-seed-2**64", _verify("--seed", str(2**64)), 2, needle="0<=x<2^64"),
    Case("opt-check-seed-negative", _plain("check", "--shape", "8,8", "-s", "-1"), 2, needle="0<=x"),
    Case("opt-alpha-subnormal", _verify("--alpha", "1e-320"), 2, needle="[1e-12, 1)"),
    Case("opt-alpha-1e-16", _plain("check", "--shape", "8,8", "--alpha", "1e-16"), 2, needle="[1e-12, 1)"),
    Case("opt-alpha-env-nan", _verify(), 2, needle="[1e-12, 1)", env={"KAIMING_ALPHA": "nan"}),
    Case("opt-slope-1e200", _verify("-a", "1e200"), 2, needle="[-1000, 1000]"),
    Case("opt-std-slope-1e308", _plain("std", "--shape", "8,8", "-a", "1e308"), 2, needle="[-1000, 1000]"),
    Case("opt-gain-slope-1e200", _plain("gain", "leaky_relu", "-a", "1e200"), 2, needle="[-1000, 1000]"),
    Case("opt-samples-1e30", _plain("check", "--shape", "8,8", "-n", str(10**30)), 2, needle="1<=x<=1000000000"),
    Case("opt-check-huge-shape", _plain("check", "--shape", "100000,100000,100000"), 2, needle="--samples"),
    Case("opt-shape-4000-digits", _plain("std", "--shape", "9" * 4000), 2, needle="4000 characters"),
    Case("opt-shape-65-dims", _plain("std", "--shape", ",".join(["1"] * 65)), 2, needle="at most 64"),
    Case("opt-shape-overflow", _plain("fan", "--shape", "4294967296,4294967296,4"), 2, needle="64-bit"),
    Case("opt-jobs-huge", _verify("-j", str(10**6)), 2, needle="1<=x<=256"),
    Case("opt-propagate-huge", _plain("propagate", "--depth", "10000", "--width", "65536", "--batch", "1000000"),
         2, needle="GiB"),
    Case("opt-propagate-wide", _plain("propagate", "--depth", "1", "--width", "65536", "--batch", "2"), 2,
         needle="GiB"),
]


# --------------------------------------------------------------------------- config values (exit 3)

def _pyproject(text: str) -> Build:
    def build(folder: Path) -> list[str]:
        (folder / "pyproject.toml").write_text(text)
        return ["verify", weights(folder)]

    return build


def _pyproject_special(make: Callable[[Path], None]) -> Build:
    def build(folder: Path) -> list[str]:
        make(folder / "pyproject.toml")
        return ["verify", weights(folder)]

    return build


def _rules_fifo(folder: Path) -> list[str]:
    os.mkfifo(folder / "rules.toml")
    return ["verify", weights(folder), "--rules", "rules.toml"]


DEEP = "[" * 5000 + "1" + "]" * 5000
RULE = '[[tool.kaiming.rule]]\nmatch = "*"\n'

CONFIG_CASES = [
    Case("cfg-deep-arrays", _pyproject(f"[tool.kaiming]\nalpha = {DEEP}\n"), 3, needle="too deeply"),
    Case("cfg-deep-arrays-elsewhere", _pyproject(f"[project]\nx = {DEEP}\n"), 3, needle="too deeply"),
    Case("cfg-deep-inline-tables", _pyproject("x = " + "{a = " * 3000 + "1" + "}" * 3000 + "\n"), 3,
         needle="too deeply"),
    Case("cfg-tool-is-5", _pyproject("tool = 5\n"), 3, needle="`tool` must be a table"),
    Case("cfg-kaiming-is-5", _pyproject("[tool]\nkaiming = 5\n"), 3, needle="must be a table"),
    Case("cfg-alpha-5e-324", _pyproject("[tool.kaiming]\nalpha = 5e-324\n"), 3, needle="[1e-12, 1)"),
    Case("cfg-alpha-nan", _pyproject("[tool.kaiming]\nalpha = nan\n"), 3, needle="[1e-12, 1)"),
    Case("cfg-alpha-5000-digits", _pyproject("[tool.kaiming]\nalpha = " + "9" * 5000 + "\n"), 3,
         needle="too long"),
    Case("cfg-alpha-4000-digits", _pyproject("[tool.kaiming]\nalpha = " + "9" * 4000 + "\n"), 3,
         needle="[1e-12, 1)"),
    Case("cfg-slope-1e200", _pyproject(RULE + "negative_slope = 1e200\n"), 3, needle="[-1000, 1000]"),
    Case("cfg-slope-4000-digits", _pyproject(RULE + "negative_slope = " + "9" * 4000 + "\n"), 3,
         needle="[-1000, 1000]"),
    Case("cfg-constant-4000-digits", _pyproject(RULE.replace('"*"', '"*"\nconstant = ' + "9" * 4000)), 3,
         needle="constant"),
    Case("cfg-1001-rules", _pyproject("".join(f'[[tool.kaiming.rule]]\nmatch = "r{i}"\nskip = true\n'
                                              for i in range(1001))), 3, needle="at most 1000"),
    Case("cfg-glob-5000-chars", _pyproject('[[tool.kaiming.rule]]\nmatch = "' + "*" * 5000 + '"\n'), 3,
         needle="1 to 1000 characters"),
    Case("cfg-2-MB", _pyproject("# " + "x" * (2 << 20) + "\n"), 3, needle="limited to"),
    Case("cfg-not-utf8", _pyproject_special(lambda p: p.write_bytes(b"[tool.kaiming]\nalpha = '\xff'\n")), 3,
         needle="UTF-8"),
    Case("cfg-pyproject-fifo", _pyproject_special(lambda p: os.mkfifo(p)), 3, needle="not a regular file"),
    Case("cfg-pyproject-to-dev-zero", _pyproject_special(lambda p: os.symlink("/dev/zero", p)), 3,
         needle="not a regular file"),
    Case("cfg-pyproject-dangling", _pyproject_special(lambda p: os.symlink("missing.toml", p)), 3,
         needle="not a regular file"),
    Case("cfg-rules-fifo", _rules_fifo, 3, needle="not a regular file"),
    Case("cfg-unknown-key-with-escape", _pyproject('[tool.kaiming]\n"\\u001b]52;c;x\\u0007" = 1\n'), 3,
         needle="unknown key"),
]


# --------------------------------------------------------------------------- closed stdout (| true)

PIPE_CASES = [
    Case("pipe-gain-table", _plain("gain"), 0, stdin_closed_stdout=True),
    Case("pipe-gain-value", _plain("gain", "relu"), 0, stdin_closed_stdout=True),
    Case("pipe-std", _plain("std", "--shape", "64,3,3,3"), 0, stdin_closed_stdout=True),
    # the default backend is torch where it is installed: importing it alone is ~300 MB of RSS
    Case("pipe-check", _plain("check", "--shape", "64,64"), 0, stdin_closed_stdout=True, max_rss_mb=450.0),
    Case("pipe-check-numpy", _plain("check", "--shape", "64,64", "--backend", "numpy"), 0, stdin_closed_stdout=True),
    Case("pipe-verify-table", _verify(), 0, needle="PASS", stdin_closed_stdout=True),
    Case("pipe-verify-json", _verify("-f", "json"), 0, needle="PASS", stdin_closed_stdout=True),
    Case("pipe-verify-fail-keeps-exit-1", lambda f: ["verify", trained(f), "--no-config", "-a0", "-f", "junit"], 1,
         needle="FAIL", stdin_closed_stdout=True),
    Case("pipe-verify-empty-keeps-exit-1", _verify("--tensor", "nothing"), 1, needle="no tensor was tested",
         stdin_closed_stdout=True),
    Case("pipe-identify", lambda f: ["identify", weights(f)], 0, stdin_closed_stdout=True),
    Case("pipe-propagate", _plain("propagate", "--depth", "3", "--width", "8"), 0, stdin_closed_stdout=True),
    Case("pipe-explain", _plain("explain", "--shape", "64,3,3,3"), 0, stdin_closed_stdout=True),
    Case("pipe-completion", _plain("completion", "bash"), 0, stdin_closed_stdout=True),
    Case("pipe-dev-stdout-output", _verify("-f", "json", "-o", "/dev/stdout"), 0, stdin_closed_stdout=True),
]


# --------------------------------------------------------------------------- the gate

def _empty_npz(folder: Path) -> str:
    import numpy as np

    np.savez(folder / "empty.npz")
    return "empty.npz"


def _empty_safetensors(folder: Path) -> str:
    header = b"{}"
    (folder / "empty.safetensors").write_bytes(len(header).to_bytes(8, "little") + header)
    return "empty.safetensors"


def _skip_all(folder: Path) -> list[str]:
    (folder / "r.toml").write_text('[[rule]]\nmatch = "*"\nskip = true\n')
    return ["verify", weights(folder), "--rules", "r.toml", "-f", "json"]


def _one_bad_among_good(fmt: str, output: str | None = None) -> Build:
    def build(folder: Path) -> list[str]:
        (folder / "bad.npy").write_bytes(b"\x93NUMPY garbage")
        argv = ["verify", weights(folder), "bad.npy", weights(folder, "v.npy"), "--no-config", "-a0", "-f", fmt]
        return argv + (["-o", output] if output else [])

    return build


def _report_has_error(name: str) -> Callable[[Path, Outcome], None]:
    def check(folder: Path, outcome: Outcome) -> None:
        text = (folder / name).read_text() if name else outcome.stdout
        doc = json.loads(text)
        assert doc["passed"] is False and doc["tested"] == 2
        assert [e["file"] for e in doc["errors"]] == ["bad.npy"] and doc["errors"][0]["reason"]
        assert sorted(t["status"] for t in doc["tensors"]) == ["pass", "pass"]

    return check


def _junit_has_error(_folder: Path, outcome: Outcome) -> None:
    dom = xml.dom.minidom.parseString(outcome.stdout.encode())
    errors = dom.getElementsByTagName("error")
    assert len(errors) == 1 and "bad.npy" in errors[0].getAttribute("message")
    assert len(dom.getElementsByTagName("testcase")) == 3


def _github_has_error(_folder: Path, outcome: Outcome) -> None:
    assert "::error file=bad.npy,title=kaiming%3A unreadable file::" in outcome.stdout


def _markdown_has_error(_folder: Path, outcome: Outcome) -> None:
    assert "| `bad.npy` | - |" in outcome.stdout and "error" in outcome.stdout


def _json_empty(reason: str) -> Callable[[Path, Outcome], None]:
    def check(_folder: Path, outcome: Outcome) -> None:
        doc = json.loads(outcome.stdout)
        assert doc["passed"] is False and doc["tested"] == 0 and reason in doc["summary"]

    return check


def _junit_empty(_folder: Path, outcome: Outcome) -> None:
    dom = xml.dom.minidom.parseString(outcome.stdout.encode())
    failures = dom.getElementsByTagName("failure")
    assert len(failures) == 1 and "no tensor was tested" in failures[0].getAttribute("message")


def _unmatched_rule(folder: Path) -> list[str]:
    (folder / "r.toml").write_text('[[rule]]\nmatch = "nothing*"\nskip = true\n[[rule]]\nmatch = "*"\n')
    return ["verify", weights(folder), "--rules", "r.toml", "-f", "json"]


def _rule_counts(_folder: Path, outcome: Outcome) -> None:
    doc = json.loads(outcome.stdout)
    assert [(r["match"], r["matched"]) for r in doc["rules"]] == [("nothing*", 0), ("*", 1)]
    assert doc["passed"] is True and doc["tested"] == 1


def _identify_bad_among_good(folder: Path) -> list[str]:
    (folder / "bad.safetensors").write_bytes(b"\xff" * 64)
    return ["identify", weights(folder), "bad.safetensors", "-f", "json", "-o", "id.json"]


def _identify_report(folder: Path, _outcome: Outcome) -> None:
    doc = json.loads((folder / "id.json").read_text())
    assert [e["file"] for e in doc["errors"]] == ["bad.safetensors"] and len(doc["tensors"]) == 1


GATE_CASES = [
    Case("gate-empty-npz", lambda f: ["verify", _empty_npz(f), "--no-config", "-a0", "-f", "json"], 1,
         needle="no tensor was tested", fmt="json", extra=_json_empty("hold no tensors")),
    Case("gate-empty-safetensors-junit", lambda f: ["verify", _empty_safetensors(f), "--no-config", "-a0",
             "-f", "junit"],
         1, needle="no tensor was tested", fmt="junit", extra=_junit_empty),
    Case("gate-empty-github", lambda f: ["verify", _empty_npz(f), "--no-config", "-a0", "-f", "github"], 1,
         needle="no tensor was tested", fmt="github"),
    Case("gate-tensor-glob-matches-nothing", _verify("--tensor", "nothing*", "-f", "json"), 1,
         needle="matched none of the 1 tensors", fmt="json", extra=_json_empty("--tensor 'nothing*'")),
    Case("gate-all-skipped", _skip_all, 1, needle="all 1 tensors were skipped", fmt="json",
         extra=_json_empty("skipped")),
    Case("gate-1-d-only-no-rule", lambda f: ["verify", _one_d(f), "--no-config", "-a0"], 1, needle="skipped"),
    Case("gate-allow-empty", lambda f: ["verify", _empty_npz(f), "--no-config", "-a0",
             "--allow-empty", "-f", "json"], 0,
         needle="allowed by --allow-empty", fmt="json"),
    Case("gate-unmatched-rule-reported", _unmatched_rule, 0, needle="rule 1 'nothing*' matched no tensor",
         fmt="json", extra=_rule_counts),
    Case("gate-bad-file-json-report-still-written", _one_bad_among_good("json", "report.json"), 3,
         needle="unreadable: bad.npy", fmt="json", outputs=("report.json",), extra=_report_has_error("report.json")),
    Case("gate-bad-file-json-stdout", _one_bad_among_good("json"), 3, needle="unreadable", fmt="json",
         extra=_report_has_error("")),
    Case("gate-bad-file-junit", _one_bad_among_good("junit"), 3, needle="unreadable", fmt="junit",
         extra=_junit_has_error),
    Case("gate-bad-file-github", _one_bad_among_good("github"), 3, needle="unreadable", fmt="github",
         extra=_github_has_error),
    Case("gate-bad-file-markdown", _one_bad_among_good("markdown"), 3, needle="unreadable", fmt="markdown",
         extra=_markdown_has_error),
    Case("gate-bad-file-table", _one_bad_among_good("table"), 3, needle="unreadable", fmt="table"),
    Case("gate-missing-file", lambda f: ["verify", weights(f), "missing.npy", "--no-config", "-a0", "-f", "json"], 3,
         needle="does not exist", fmt="json"),
    Case("gate-identify-bad-file", _identify_bad_among_good, 3, needle="unreadable: bad.safetensors",
         outputs=("id.json",), fmt="json", extra=_identify_report),
]


def _one_d(folder: Path) -> str:
    import numpy as np

    np.save(folder / "b.npy", np.zeros(16, np.float32))
    return "b.npy"


CASES: list[Case] = OUTPUT_CASES + OPTION_CASES + CONFIG_CASES + PIPE_CASES + GATE_CASES
