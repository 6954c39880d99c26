"""What kaiming writes and when it passes: output targets, closed pipes, option limits, and the gate.

The hostile corpus (tests/hostile/cases_outputs.py) runs the attacks end to end in fresh processes;
these are the unit-level checks of the same rules, plus the cases a corpus entry cannot express
(a FIFO with a live reader, an appending redirection of stdout).
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import threading
import time
import xml.dom.minidom
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from kaiming_cli.cli import cli
from kaiming_cli.errors import InputError, UsageError
from kaiming_cli.io import files
from kaiming_cli.io.config import MAX_CONFIG_BYTES, load_rules_file
from kaiming_cli.theory.limits import MAX_SLOPE, MIN_ALPHA, alpha_problem, slope_problem


def kaiming_weights(path: Path, fan_in: int = 64, seed: int = 0) -> Path:
    """kaiming_normal_(fan_in, a=0) drawn with numpy: std sqrt(2 / fan_in)."""
    w = np.random.default_rng(seed).standard_normal((64, fan_in)) * np.sqrt(2.0 / fan_in)
    np.save(path, w.astype(np.float32))
    return path


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


class TestClassify:
    """How each kind of path is written."""

    def test_new_path_and_regular_file_are_replaced(self, tmp_path: Path) -> None:
        assert files.classify(str(tmp_path / "new.json")).how == "replace"
        (tmp_path / "old.json").write_text("x")
        target = files.classify(str(tmp_path / "old.json"))
        assert target.how == "replace" and target.existing is not None

    def test_symlink_to_a_file_resolves_to_the_file(self, tmp_path: Path) -> None:
        (tmp_path / "real.json").write_text("x")
        os.symlink("real.json", tmp_path / "link.json")
        assert files.classify(str(tmp_path / "link.json")).path == str(tmp_path / "real.json")

    def test_dangling_symlink_creates_its_target(self, tmp_path: Path) -> None:
        os.symlink("made.json", tmp_path / "link.json")
        files.write_output(str(tmp_path / "link.json"), lambda fh: fh.write(b"{}"))
        assert (tmp_path / "link.json").is_symlink() and (tmp_path / "made.json").read_bytes() == b"{}"

    def test_fifo_and_character_device_are_written_in_place(self, tmp_path: Path) -> None:
        os.mkfifo(tmp_path / "f")
        assert files.classify(str(tmp_path / "f")).how == "in_place"
        assert files.classify("/dev/null").how in ("in_place", "fd")  # fd when our stdout is /dev/null

    def test_folder_and_socket_are_refused(self, tmp_path: Path) -> None:
        import socket

        with pytest.raises(InputError, match="is a directory"):
            files.classify(str(tmp_path))
        sock = socket.socket(socket.AF_UNIX)
        sock.bind(str(tmp_path / "s"))
        sock.close()
        with pytest.raises(InputError, match="a socket"):
            files.classify(str(tmp_path / "s"))


class TestWrite:
    def test_existing_mode_is_kept(self, tmp_path: Path) -> None:
        target = tmp_path / "r.json"
        target.write_text("old")
        os.chmod(target, 0o600)
        files.write_output(str(target), lambda fh: fh.write(b"new"))
        assert target.read_bytes() == b"new" and stat.S_IMODE(target.stat().st_mode) == 0o600

    def test_new_file_follows_the_umask(self, tmp_path: Path) -> None:
        old = os.umask(0o027)
        try:
            files.write_output(str(tmp_path / "n.json"), lambda fh: fh.write(b"x"))
        finally:
            os.umask(old)
        assert stat.S_IMODE((tmp_path / "n.json").stat().st_mode) == 0o640

    def test_fifo_without_reader_fails_at_once(self, tmp_path: Path) -> None:
        os.mkfifo(tmp_path / "f")
        with pytest.raises(InputError, match="no process is reading"):
            files.write_output(str(tmp_path / "f"), lambda fh: fh.write(b"x"))
        assert stat.S_ISFIFO(os.lstat(tmp_path / "f").st_mode)

    def test_fifo_with_reader_gets_everything(self, tmp_path: Path) -> None:
        fifo = tmp_path / "f"
        os.mkfifo(fifo)
        got: list[bytes] = []
        data = b"x" * 1_000_000  # far beyond the pipe buffer: the writer must block, not fail with EAGAIN
        reader_fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # a reader exists before kaiming opens it

        def read_all() -> None:
            # A FIFO reads as end-of-file while no writer has it open: keep reading until all the data came
            # (the deadline only guards against a hang), so the test does not race kaiming's open().
            os.set_blocking(reader_fd, True)
            chunks, total, deadline = [], 0, time.monotonic() + 60
            while total < len(data) and time.monotonic() < deadline:
                chunk = os.read(reader_fd, 1 << 16)
                if chunk:
                    chunks.append(chunk)
                    total += len(chunk)
                else:
                    time.sleep(0.005)
            os.close(reader_fd)
            got.append(b"".join(chunks))

        thread = threading.Thread(target=read_all)
        thread.start()
        files.write_output(str(fifo), lambda fh: fh.write(data))
        thread.join(timeout=60)
        assert got == [data] and stat.S_ISFIFO(os.lstat(fifo).st_mode)

    def test_failed_write_leaves_no_temporary(self, tmp_path: Path) -> None:
        def boom(_fh: object) -> None:
            raise OSError(28, "No space left on device")

        with pytest.raises(InputError, match="No space left"):
            files.write_output(str(tmp_path / "r.json"), boom)
        assert list(tmp_path.iterdir()) == []

    def test_dev_stdout_appends_to_a_redirected_file(self, tmp_path: Path) -> None:
        """``-o /dev/stdout >> log`` writes through the descriptor: the log is not replaced."""
        log = tmp_path / "log.txt"
        log.write_text("earlier line\n")
        with open(log, "a") as fh:
            code = subprocess.run([sys.executable, "-m", "kaiming_cli", "gain", "relu", "-o", "/dev/stdout"],
                                  stdout=fh, stderr=subprocess.PIPE, check=False).returncode
        assert code == 0 and log.read_text() == f"earlier line\n{2 ** 0.5!r}\n"


class TestDistinct:
    """An output that is an input, or both outputs on one file, is exit 2."""

    def test_output_is_an_input(self, tmp_path: Path) -> None:
        w = kaiming_weights(tmp_path / "w.npy")
        before = w.read_bytes()
        for target in (str(w), str(tmp_path / "." / "w.npy")):
            code, _, err = invoke("verify", str(w), "--no-config", "--mode", "fan_in", "-o", target)
            assert code == 2 and "is the input file" in err
        assert w.read_bytes() == before

    def test_plot_is_the_output(self, tmp_path: Path) -> None:
        with pytest.raises(UsageError, match="both write to"):
            files.check_distinct({"-o": str(tmp_path / "a"), "--plot": str(tmp_path / "a")})
        files.check_distinct({"-o": str(tmp_path / "a"), "--plot": str(tmp_path / "b")})
        files.check_distinct({"-o": "/dev/null", "--plot": "/dev/null"})  # nothing is lost on a device
        files.check_distinct({"-o": "-", "--plot": None})


class TestClosedPipe:
    """``kaiming ... | true``: no traceback, and the exit code the run earned (a failing gate stays 1)."""

    @staticmethod
    def run_closed(args: list[str], cwd: Path, close_stderr: bool = False) -> tuple[int, str]:
        r, w = os.pipe()
        os.close(r)
        try:
            proc = subprocess.run([sys.executable, "-m", "kaiming_cli", *args], stdout=w,
                                  stderr=w if close_stderr else subprocess.PIPE, cwd=cwd, check=False)
        finally:
            os.close(w)
        return proc.returncode, (proc.stderr or b"").decode()

    def test_verdict_code_survives(self, tmp_path: Path) -> None:
        kaiming_weights(tmp_path / "w.npy")
        np.save(tmp_path / "t.npy", np.full((64, 64), 0.5, np.float32) + np.eye(64, dtype=np.float32))
        code, err = self.run_closed(["verify", "w.npy", "--no-config", "--mode", "fan_in"], tmp_path)
        assert code == 0 and "Traceback" not in err and "PASS" in err
        code, err = self.run_closed(["verify", "t.npy", "--no-config", "--mode", "fan_in", "-f", "json"], tmp_path)
        assert code == 1 and "Traceback" not in err and "FAIL" in err

    def test_stderr_closed_too_keeps_the_earned_code(self, tmp_path: Path) -> None:
        """``kaiming verify ... 2>&1 | head``: messages are dropped, the exit code is still the verdict."""
        kaiming_weights(tmp_path / "w.npy")
        np.save(tmp_path / "t.npy", np.full((64, 64), 0.5, np.float32) + np.eye(64, dtype=np.float32))
        assert self.run_closed(["verify", "w.npy", "--no-config", "-a0"], tmp_path, close_stderr=True)[0] == 0
        assert self.run_closed(["verify", "t.npy", "--no-config", "-a0"], tmp_path, close_stderr=True)[0] == 1
        assert self.run_closed(["identify", "w.npy"], tmp_path, close_stderr=True)[0] == 0
        code, _ = self.run_closed(["verify", "missing.npy", "--no-config", "-a0", "--rules", "/dev/null"], tmp_path,
                                  close_stderr=True)
        assert code == 3


class TestLimits:
    def test_boundaries_are_accepted_and_run(self, tmp_path: Path) -> None:
        assert alpha_problem(MIN_ALPHA) is None and alpha_problem(0.999) is None
        assert slope_problem(0.0) is None and slope_problem(MAX_SLOPE) is None
        for args in (["check", "--shape", "64,64", "--alpha", str(MIN_ALPHA)],
                     ["check", "--shape", "64,64", "-a", str(MAX_SLOPE)],
                     ["check", "--shape", "64,64", "-s", str(2**64 - 1)]):
            code, _, err = invoke(*args)
            assert code in (0, 1), (args, err)

    @pytest.mark.parametrize("value", [0.0, -1e-3, 1.0, float("nan"), float("inf"), 1e-13, 5e-324, True, "0.1"])
    def test_alpha_outside(self, value: object) -> None:
        problem = alpha_problem(value)
        assert problem is not None and "[1e-12, 1)" in problem

    @pytest.mark.parametrize("value", [-1000.0001, 1000.0001, 1e200, float("nan"), float("-inf"), 10**4000])
    def test_slope_outside(self, value: object) -> None:
        problem = slope_problem(value)
        assert problem is not None and "[-1000, 1000]" in problem and len(problem) < 150

    def test_config_file_limits(self, tmp_path: Path) -> None:
        big = tmp_path / "big.toml"
        big.write_text("# " + "x" * MAX_CONFIG_BYTES)
        with pytest.raises(InputError, match="limited to"):
            load_rules_file(str(big))
        deep = tmp_path / "deep.toml"
        deep.write_text("x = " + "[" * 3000 + "]" * 3000)
        with pytest.raises(InputError, match="too deeply"):
            load_rules_file(str(deep))


class TestGate:
    """A run that tested nothing fails; unreadable files are reported while the rest is verified."""

    def test_empty_file_fails_and_allow_empty_passes(self, tmp_path: Path) -> None:
        np.savez(tmp_path / "e.npz")
        code, out, err = invoke("verify", str(tmp_path / "e.npz"), "--no-config", "--mode", "fan_in", "-f", "json")
        doc = json.loads(out)
        assert code == 1 and doc["passed"] is False and doc["tested"] == 0 and "no tensor was tested" in err
        code, out, _ = invoke("verify", str(tmp_path / "e.npz"), "--no-config", "-a0", "-f", "json", "--allow-empty")
        assert code == 0 and json.loads(out)["passed"] is True

    def test_glob_and_rule_counts(self, tmp_path: Path) -> None:
        kaiming_weights(tmp_path / "w.npy")
        rules = tmp_path / "r.toml"
        rules.write_text('[[rule]]\nmatch = "x*"\nskip = true\n[[rule]]\nmatch = "w"\n[[rule]]\nmatch = "*"\n')
        code, out, err = invoke("verify", str(tmp_path / "w.npy"), "--rules", str(rules), "-f", "json",
                                "--tensor", "w", "--tensor", "q*")
        doc = json.loads(out)
        assert code == 0 and doc["tested"] == 1
        assert [(r["match"], r["matched"]) for r in doc["rules"]] == [("x*", 0), ("w", 1), ("*", 0)]
        assert [(g["match"], g["matched"]) for g in doc["tensor_globs"]] == [("w", 1), ("q*", 0)]
        # --tensor chose the tensors: the rules for the others are not "unmatched" (issue 24); the glob is
        assert "--tensor 'q*' matched no tensor" in err and "rule 1" not in err and "rule 3" not in err

    def test_skipped_only_fails(self, tmp_path: Path) -> None:
        np.save(tmp_path / "b.npy", np.zeros(8, np.float32))  # 1-D: no fallback rule applies
        code, _, err = invoke("verify", str(tmp_path / "b.npy"), "--no-config", "--mode", "fan_in")
        assert code == 1 and "all 1 tensors were skipped" in err

    @pytest.mark.parametrize("fmt", ["json", "junit", "github", "markdown", "table"])
    def test_unreadable_file_among_good_ones(self, tmp_path: Path, fmt: str) -> None:
        kaiming_weights(tmp_path / "a.npy")
        kaiming_weights(tmp_path / "c.npy", seed=2)
        (tmp_path / "b.npy").write_bytes(b"not numpy at all")
        report = tmp_path / f"report.{fmt}"
        code, out, err = invoke("verify", str(tmp_path / "a.npy"), str(tmp_path / "b.npy"), str(tmp_path / "c.npy"),
                                "--no-config", "--mode", "fan_in", "-f", fmt, "-o", str(report))
        text = report.read_text()
        assert code == 3 and out == "" and "b.npy" in err and len(err.strip().splitlines()) == 1
        if fmt == "json":
            doc = json.loads(text)
            assert doc["tested"] == 2 and doc["passed"] is False
            assert [Path(e["file"]).name for e in doc["errors"]] == ["b.npy"]
        elif fmt == "junit":
            dom = xml.dom.minidom.parseString(text)
            assert dom.documentElement.getAttribute("errors") == "1"
            assert len(dom.getElementsByTagName("error")) == 1 and len(dom.getElementsByTagName("testcase")) == 3
        elif fmt == "github":
            assert "::error file=" in text and "title=kaiming%3A unreadable file::" in text
        elif fmt == "markdown":
            assert f"| `{tmp_path / 'b.npy'}` | - |" in text and "❌ error" in text
        else:
            assert "unreadable: " in text and "b.npy" in text

    def test_tensor_that_fails_to_read_is_an_error_entry(self, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
        import kaiming_cli.io.inputs as inputs
        import kaiming_cli.io.readers as readers
        from kaiming_cli.io.limits import Limits
        from kaiming_cli.io.sources import TensorSource

        kaiming_weights(tmp_path / "a.npy")
        kaiming_weights(tmp_path / "b.npy", seed=1)
        real = readers.read_path

        def read_then_vanish(path: str, *limits: Limits) -> list[TensorSource]:
            sources = real(path, *limits)
            if path.endswith("b.npy"):
                os.unlink(path)
            return sources

        monkeypatch.setattr(inputs, "read_path", read_then_vanish)
        code, out, _ = invoke("verify", str(tmp_path / "a.npy"), str(tmp_path / "b.npy"), "--no-config", "-a0",
                              "-f", "json")
        statuses = {t["name"]: (t["status"], t["reason"]) for t in json.loads(out)["tensors"]}
        assert code == 3 and statuses["a"][0] == "pass"
        assert statuses["b"][0] == "error" and "b.npy" in statuses["b"][1]

    def test_identify_reports_the_rest(self, tmp_path: Path) -> None:
        kaiming_weights(tmp_path / "a.npy")
        (tmp_path / "b.npy").write_bytes(b"junk")
        code, out, err = invoke("identify", str(tmp_path / "a.npy"), str(tmp_path / "b.npy"), "-f", "json")
        doc = json.loads(out)
        assert code == 3 and len(doc["tensors"]) == 1 and "b.npy" in doc["errors"][0]["file"]
        assert "unreadable" in err
