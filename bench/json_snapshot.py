"""Output of every command on the README's examples, to show that a refactor changed no output.

    python bench/json_snapshot.py write DIR     # run the commands, store their JSON (and Markdown, table) in DIR
    python bench/json_snapshot.py compare DIR   # run them again; exit 1 if any document differs, naming each

Every document is its exit code and its output, after removing the ``kaiming_version`` value and the temporary
folder's name. JSON is the contract, and docs/cli.md promises its keys and values, not its layout: a JSON document
is compared *parsed* (``same``), so a snapshot written before a change of indentation or line breaks (verify's
and identify's ``tensors``, one per line) still compares equal while any changed key or value differs. The
Markdown and 100-column table outputs are compared byte for byte. The inputs are the test suite's
torchvision-style model (tests/models.py) saved in every format, with a fixed seed.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

COMMANDS: dict[str, list[str]] = {
    "std": ["std", "--shape", "64,3,3,3", "--mode", "fan_out", "--nonlinearity", "relu"],
    "std-uniform": ["std", "--shape", "256,128", "--distribution", "uniform"],
    "std-keras": ["std", "--shape", "3,3,64,128", "--layout", "keras", "--distribution", "truncated_normal"],
    "gain": ["gain"],
    "fan": ["fan", "--shape", "64,3,3,3"],
    "explain": ["explain", "--shape", "64,3,3,3", "--mode", "fan_out", "--nonlinearity", "relu"],
    "check": ["check", "--shape", "64,3,3,3", "--mode", "fan_out", "--nonlinearity", "relu"],
    "check-keras": ["check", "--shape", "3,3,64,128", "--layout", "keras", "--distribution", "truncated_normal"],
    "check-wrong": ["check", "--shape", "256,128", "--distribution", "uniform", "-n", "100000", "--seed", "3",
                    "--tests", "mean,std,kurtosis,range,ks,ad"],
    "check-torch": ["check", "--shape", "256,128", "--backend", "torch", "-n", "100000"],
    "verify-rules-pt": ["verify", "{pt}", "--rules", "{rules}"],
    "verify-rules-st": ["verify", "{safetensors}", "--rules", "{rules}"],
    "verify-rules-bf16": ["verify", "{bf16}", "--rules", "{rules}"],
    "verify-rules-npz": ["verify", "{npz}", "--rules", "{rules}", "--correction", "bh"],
    "verify-glob": ["verify", "{pt}", "--tensor", "*conv*.weight", "--mode", "fan_out", "--nonlinearity", "relu"],
    "verify-wrong": ["verify", "{wrong}", "--rules", "{rules}"],
    "identify": ["identify", "{safetensors}"],
    "identify-top": ["identify", "{npz}", "--top", "3"],
    "propagate": ["propagate", "--nonlinearity", "relu", "--depth", "20", "--width", "64"],
    "propagate-conv": ["propagate", "--nonlinearity", "tanh", "--conv", "3", "--width", "16", "--depth", "8"],
}
VERSION = re.compile(r'"kaiming_version":\s*"[^"]*"')


def inputs(folder: Path) -> dict[str, str]:
    from tests.models import save_all

    paths = {k: str(v) for k, v in save_all(folder).items()}
    wrong = folder / "wrong"
    wrong.mkdir()
    paths["wrong"] = str(save_all(wrong, wrong="conv1")["safetensors"])
    paths["rules"] = str(folder / "rules.toml")
    return paths


FORMATS = ("json", "markdown", "table")


def documents() -> dict[str, str]:
    env = {**os.environ, "COLUMNS": "100", "NO_COLOR": "1"}
    with tempfile.TemporaryDirectory() as tmp:
        paths = inputs(Path(tmp))
        docs = {}
        for name, args in COMMANDS.items():
            argv = [a.format(**paths) for a in args] + (["--no-config"] if args[0] == "verify" else [])
            for fmt in FORMATS:
                proc = subprocess.run([sys.executable, "-m", "kaiming_cli", *argv, "-f", fmt],
                                      capture_output=True, text=True, cwd=tmp, env=env)
                doc = VERSION.sub('"kaiming_version": ""', proc.stdout).replace(tmp, "TMP")
                if not doc.strip():
                    raise SystemExit(f"{name}: no output (exit {proc.returncode}): {proc.stderr.strip()[-300:]}")
                docs[f"{name}.{fmt}"] = f"exit {proc.returncode}\n{doc}"
        return docs


def parsed(doc: str) -> object:
    """A stored document (``exit N`` line, then the output) as a reader of its JSON sees it: the exit line and the
    parsed value. Integers are tagged so that ``1``, ``1.0`` and ``true`` stay different (Python's ``==`` takes them
    as equal; a typed reader does not); the non-standard constants ``NaN`` and ``Infinity`` (kaiming writes ``null``
    for them, render/json.py) are tagged too, so a NaN equals a NaN where both documents hold one. Object keys
    compare as a dict's, in any order. Output that is not JSON (an error message) stays text."""
    head, _, body = doc.partition("\n")
    try:
        value = json.loads(body, parse_int=lambda s: ("int", int(s)), parse_constant=lambda s: ("constant", s))
    except ValueError:
        return doc
    return head, value


def same(name: str, stored: str, fresh: str) -> bool:
    """Whether document ``name`` (``verify-glob.json``, ``check.table``...) is unchanged: JSON documents parsed
    (``parsed``), whose layout is not promised; the Markdown and table outputs byte for byte."""
    if name.endswith(".json"):
        return parsed(stored) == parsed(fresh)
    return stored == fresh


def main(argv: list[str]) -> int:
    action, folder = argv[1], Path(argv[2])
    docs = documents()
    if action == "write":
        folder.mkdir(parents=True, exist_ok=True)
        for name, doc in docs.items():
            (folder / name).write_text(doc)
        print(f"wrote {len(docs)} documents to {folder}")
        return 0
    differ = [name for name, doc in docs.items() if not same(name, (folder / name).read_text(), doc)]
    print(f"{len(docs) - len(differ)} identical, {len(differ)} differ" + (f": {', '.join(differ)}" if differ else ""))
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
