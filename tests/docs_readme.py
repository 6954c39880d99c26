"""Keep the README's quick-start examples equal to what the commands print: `make docs` rewrites them.

Every ```console block of README.md whose lines start with ``$ kaiming`` is an example: each command runs
(through bash, 80 columns, no colour) in a folder holding the files the README talks about: model.safetensors
(tests/models.py: a small ResNet initialized as torchvision does), wrong.safetensors (its conv1 got
mode='fan_in') and init.toml (the README's own rules block). What follows a command, up to the next one, is
its output (stdout, then stderr). A line ``...`` in the README stands for any number of lines: the examples
may elide, never differ.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
CONSOLE = re.compile(r"```console\n(?P<body>.*?)```", re.S)
TOML = re.compile(r"```toml\n(?P<body>.*?)```", re.S)
WIDTH = 80


def examples(text: str) -> list[tuple[str, list[str]]]:
    """(command, expected output lines) for every ``$ kaiming`` line of the README's console blocks."""
    out: list[tuple[str, list[str]]] = []
    for block in CONSOLE.finditer(text):
        lines = block.group("body").splitlines()
        if not any(line.startswith("$ kaiming") for line in lines):
            continue
        for line in lines:
            if line.startswith("$ "):
                out.append((line[2:], []))
            elif out:
                out[-1][1].append(line)
    return out


def prepare(folder: Path) -> None:
    """The files the README's examples read."""
    sys.path.insert(0, str(ROOT))
    from tests.models import save_all

    (folder / "right").mkdir()
    (folder / "wrong").mkdir()
    save_all(folder / "right")
    save_all(folder / "wrong", wrong="conv1")
    shutil.copy(folder / "right" / "model.safetensors", folder / "model.safetensors")
    shutil.copy(folder / "wrong" / "model.safetensors", folder / "wrong.safetensors")
    rules = TOML.search(README.read_text())
    assert rules is not None, "the README has no rules block"
    (folder / "init.toml").write_text(rules.group("body"))


def run(command: str, folder: Path) -> list[str]:
    """The command's output as a terminal of WIDTH columns shows it when piped: stdout, then stderr."""
    env = {**os.environ, "COLUMNS": str(WIDTH), "NO_COLOR": "1",
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    env.pop("FORCE_COLOR", None)
    proc = subprocess.run(["bash", "-c", command], capture_output=True, text=True, cwd=folder, env=env)
    return [line.rstrip() for line in (proc.stdout + proc.stderr).splitlines()]


def matches(expected: list[str], actual: list[str]) -> bool:
    """Equal, where a README line ``...`` stands for any run of lines (trailing spaces ignored)."""
    pattern = "".join(".*?" if line.strip() == "..." else re.escape(line.rstrip()) + "\n" for line in expected)
    return re.fullmatch(pattern, "".join(line + "\n" for line in actual), re.S) is not None


def rewrite(text: str, folder: Path) -> str:
    """Every example block with the real outputs; a block holding ``...`` keeps its elisions (edit it by hand)."""
    def block(m: re.Match[str]) -> str:
        body = m.group("body")
        if "$ kaiming" not in body or any(line.strip() == "..." for line in body.splitlines()):
            return m.group(0)
        lines: list[str] = []
        for line in body.splitlines():
            if line.startswith("$ "):
                lines += [line, *run(line[2:], folder)]
        return "```console\n" + "\n".join(lines) + "\n```"

    return CONSOLE.sub(block, text)


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        prepare(Path(tmp))
        if "--write" in sys.argv:
            README.write_text(rewrite(README.read_text(), Path(tmp)))
        for command, expected in examples(README.read_text()):
            actual = run(command, Path(tmp))
            ok = matches(expected, actual)
            print(("ok      " if ok else "DIFFERS ") + command)
            if not ok and "--show" in sys.argv:
                print("\n".join(actual))
