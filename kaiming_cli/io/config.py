"""Rules and run defaults from a TOML rules file or ``[tool.kaiming]`` in ``pyproject.toml``.

Precedence for run options is CLI flags > environment (``KAIMING_ALPHA``, ``KAIMING_CORRECTION``,
``KAIMING_SEED``) > config > defaults; the CLI layer applies it. The first rule whose glob matches a
tensor's name wins.
"""

from __future__ import annotations

import fnmatch
import os
import stat
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, cast

from ..errors import InputError
from ..theory.fans import LAYOUTS, MODES
from ..theory.gains import NONLINEARITIES, canonical_nonlinearity, unknown_nonlinearity_message
from ..theory.limits import alpha_problem, shown, slope_problem
from ..theory.spec import CALL_REPLACES, DISTRIBUTIONS, SPEC_KEYS, SpecOverrides

CORRECTIONS = ("holm", "bonferroni", "bh", "none")
#: The policies for tensors no rule names (``unlisted = "fail"``; ``--unlisted``).
UNLISTED = ("skip", "fail")
RULE_KEYS = {"match", "skip", "constant", *SPEC_KEYS}
#: A rules file or pyproject.toml larger than this is refused unread (real ones are a few KB).
MAX_CONFIG_BYTES = 1 << 20
#: Rules per file: every tensor is matched against each rule in turn.
MAX_RULES = 1000
#: Characters in one rule's ``match`` glob.
MAX_GLOB = 1000
#: Largest ``constant`` value (beyond it float32 weights cannot hold it anyway).
MAX_CONSTANT = 3.4e38


@dataclass(frozen=True)
class Rule:
    """One ``[[rule]]``: a glob and what tensors it matches must look like."""

    match: str
    skip: bool = False
    constant: float | None = None
    options: SpecOverrides = field(default_factory=lambda: SpecOverrides())
    """Spec options (long names, underscores) this rule sets."""
    origin: str = "command line"

    def describe(self) -> str:
        if self.skip:
            return f"{self.match}: skip"
        if self.constant is not None:
            return f"{self.match}: constant {self.constant:g}"
        opts = ", ".join(f"{k}={v!r}" for k, v in self.options.items())
        return f"{self.match}: {opts or 'defaults'}"


@dataclass(frozen=True)
class Config:
    rules: tuple[Rule, ...] = ()
    alpha: float | None = None
    correction: str | None = None
    path: str | None = None
    files: tuple[str, ...] = ()
    """The files this config was read from (an output must never replace them)."""
    unlisted: str | None = None
    """What verify does with a tensor no rule names: ``"skip"`` (the default) or ``"fail"`` (a rules file that
    ``identify -f rules`` wrote: a tensor added to the model later fails until a rule covers it)."""


def first_match(rules: tuple[Rule, ...], name: str) -> Rule | None:
    for rule in rules:
        if fnmatch.fnmatchcase(name, rule.match):
            return rule
    return None


def _fail(where: str, message: str) -> InputError:
    return InputError(f"{where}: {message}")


def _check_choice(where: str, key: str, value: Any, choices: tuple[str, ...]) -> None:
    if not isinstance(value, str) or value not in choices:
        raise _fail(where, f"{key} = {shown(value)} is not one of {', '.join(choices)}.")


def parse_rule(raw: Any, where: str) -> Rule:
    if not isinstance(raw, dict):
        raise _fail(where, "a rule must be a table with at least `match = \"glob\"`.")
    unknown = sorted(set(raw) - RULE_KEYS)
    if unknown:
        raise _fail(where, f"unknown key {shown(unknown[0])}{did_you_mean(unknown[0], RULE_KEYS)}; a rule takes "
                           f"{', '.join(sorted(RULE_KEYS))}.")
    match = raw.get("match")
    if not isinstance(match, str) or not match or len(match) > MAX_GLOB:
        raise _fail(where, f"`match` must be a glob string of 1 to {MAX_GLOB} characters, e.g. \"*conv*.weight\".")
    skip = raw.get("skip", False)
    if not isinstance(skip, bool):
        raise _fail(where, "`skip` must be true or false.")
    constant = raw.get("constant")
    if constant is not None and (isinstance(constant, bool) or not isinstance(constant, (int, float))
                                 or not -MAX_CONSTANT <= constant <= MAX_CONSTANT):  # False for NaN too
        raise _fail(where, f"`constant` must be a number in [-{MAX_CONSTANT:g}, {MAX_CONSTANT:g}].")
    options = cast(SpecOverrides, {k: raw[k] for k in SPEC_KEYS if k in raw})  # each value checked below
    if "layout" in options:
        _check_choice(where, "layout", options["layout"], LAYOUTS)
    if "mode" in options:  # torch lower-cases the mode: FAN_OUT is fan_out there and here
        _check_choice(where, "mode", options["mode"].lower() if isinstance(options["mode"], str) else None, MODES)
        options["mode"] = options["mode"].lower()
    if "nonlinearity" in options:  # spellings such as LeakyReLU or lrelu name a registered nonlinearity
        value = options["nonlinearity"]
        canonical = canonical_nonlinearity(value) if isinstance(value, str) else None
        if canonical is None:
            # the message names the value, a did-you-mean or advice, and the choices once
            raise _fail(where, unknown_nonlinearity_message(value) if isinstance(value, str) else
                        f"nonlinearity = {shown(value)} is not one of {', '.join(NONLINEARITIES)}.")
        options["nonlinearity"] = canonical
    if "distribution" in options:
        _check_choice(where, "distribution", options["distribution"], DISTRIBUTIONS)
    if "negative_slope" in options:
        problem = slope_problem(options["negative_slope"])
        if problem is not None:
            raise _fail(where, f"`negative_slope`: {problem}")
        options["negative_slope"] = float(options["negative_slope"])
    if "init" in options:
        options["init"] = _init_call(where, options["init"])
        clash = [k for k in CALL_REPLACES if k in options]
        if clash:
            raise _fail(where, f"`init` and `{clash[0]}` conflict: the init call says the mode, gain and "
                               f"distribution itself; drop `{clash[0]}`.")
    for key in ("fan_in", "fan_out"):
        if key in options:
            fan: Any = raw[key]
            if isinstance(fan, bool) or not isinstance(fan, int) or not 1 <= fan <= 2**62:
                raise _fail(where, f"`{key}` = {shown(fan)} must be a positive integer.")
    if (skip or constant is not None) and options:
        raise _fail(where, "a `skip` or `constant` rule takes no spec options.")
    if skip and constant is not None:
        raise _fail(where, "a rule is either `skip` or `constant`, not both.")
    return Rule(match=match, skip=skip, constant=None if constant is None else float(constant), options=options,
                origin=where)


def _init_call(where: str, value: Any) -> str:
    """A rule's ``init`` string, parsed (never evaluated): its canonical text, or exit 3 naming the rule."""
    from ..theory.calls import parse_init_call

    if not isinstance(value, str):
        raise _fail(where, f"`init` = {shown(value)} must be a string such as \"trunc_normal_(std=0.02)\".")
    try:
        return parse_init_call(value).text
    except ValueError as exc:
        raise _fail(where, f"`init`: {exc}") from None


def parse_config(table: dict[str, Any], where: str, rule_key: str) -> Config:
    alpha = table.get("alpha")
    problem = None if alpha is None else alpha_problem(alpha)
    if problem is not None:
        raise _fail(where, problem)
    correction = table.get("correction")
    if correction is not None:
        _check_choice(where, "correction", correction, CORRECTIONS)
    unlisted = table.get("unlisted")
    if unlisted is not None:
        _check_choice(where, "unlisted", unlisted, UNLISTED)
    top = {"alpha", "correction", "unlisted", rule_key}
    unknown = sorted(set(table) - top)
    if unknown:
        raise _fail(where, f"unknown key {shown(unknown[0])}{did_you_mean(unknown[0], top)}; expected alpha, "
                           f"correction, unlisted and [[{rule_key}]] tables.")
    raw_rules = table.get(rule_key, [])
    if not isinstance(raw_rules, list):
        raise _fail(where, f"`{rule_key}` must be an array of tables ([[{rule_key}]]).")
    if len(raw_rules) > MAX_RULES:
        raise _fail(where, f"{len(raw_rules)} rules: at most {MAX_RULES} are supported; merge rules with globs.")
    rules = tuple(parse_rule(r, f"{where} rule {i + 1}") for i, r in enumerate(raw_rules))
    return Config(rules=rules, alpha=None if alpha is None else float(alpha), correction=correction, path=where,
                  unlisted=unlisted)


def did_you_mean(key: str, known: Iterable[str]) -> str:
    """`` (did you mean `mode`?)`` for a misspelt key (``modes``), else ``""``."""
    import difflib

    close = difflib.get_close_matches(key, sorted(known), n=1, cutoff=0.6) if isinstance(key, str) else []
    return f" (did you mean {shown(close[0])}?)" if close else ""


def _read_config_bytes(path: Path) -> bytes:
    """The bytes of a regular file of at most MAX_CONFIG_BYTES; a FIFO or device is refused, never waited on."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}.") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise InputError(f"{path} is not a regular file (a folder, FIFO or device); give a TOML file.")
        if st.st_size > MAX_CONFIG_BYTES:
            raise InputError(f"{path} is {st.st_size} bytes: config files are limited to {MAX_CONFIG_BYTES} bytes.")
        with os.fdopen(fd, "rb") as fh:
            fd = -1
            return fh.read(MAX_CONFIG_BYTES + 1)
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}.") from None
    finally:
        if fd >= 0:
            os.close(fd)


def _load_toml(path: Path) -> dict[str, Any]:
    """The TOML document at ``path``; tomllib is imported here, by the runs that do read a config file (about
    4 ms of start-up that ``--no-config`` and a folder without one need not pay)."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - exercised on Python 3.10 only
        import tomli as tomllib

    data = _read_config_bytes(path)
    if len(data) > MAX_CONFIG_BYTES:
        raise InputError(f"{path} grew beyond {MAX_CONFIG_BYTES} bytes while read: config files are limited.")
    try:
        return tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise InputError(f"{path} is not valid TOML: it is not UTF-8 text.") from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{path} is not valid TOML: {exc}.") from None
    except ValueError:  # an integer beyond Python's 4300-digit limit for str -> int
        raise InputError(f"{path} holds a number too long to read (over 4300 digits); give a plain number.") from None
    except RecursionError:
        raise InputError(f"{path} nests arrays or tables too deeply to read; kaiming's keys are never nested "
                         "more than two levels.") from None


def load_rules_file(path: str) -> Config:
    return replace(parse_config(_load_toml(Path(path)), str(path), "rule"), files=(str(path),))


def find_pyproject(start: Path) -> Path | None:
    """The nearest ``pyproject.toml`` at or above ``start``; one that exists but is not a regular file
    (a FIFO, a device, a dangling symlink: a pull request can commit those) is an error, not skipped."""
    for folder in (start, *start.parents):
        candidate = folder / "pyproject.toml"
        if candidate.is_file():
            return candidate
        if os.path.lexists(candidate):
            raise InputError(f"{candidate} is not a regular file (a folder, FIFO, device or broken symlink); "
                             "fix it, or pass --no-config or --rules FILE.")
    return None


def load_pyproject(path: Path) -> Config:
    data = _load_toml(path)
    tool = data.get("tool")
    if tool is None:
        return Config(files=(str(path),))
    if not isinstance(tool, dict):
        raise InputError(f"{path}: `tool` must be a table (as in [tool.kaiming]), not {shown(tool)}.")
    table = tool.get("kaiming")
    if table is None:
        return Config(files=(str(path),))
    if not isinstance(table, dict):
        raise InputError(f"{path}: [tool.kaiming] must be a table.")
    return replace(parse_config(table, f"{path} [tool.kaiming]", "rule"), files=(str(path),))


def resolve_config(rules: str | None, config: str | None, no_config: bool, cwd: Path) -> Config:
    """``--rules`` file, else ``--config`` pyproject, else the nearest pyproject (unless ``--no-config``)."""
    if rules:
        return load_rules_file(rules)
    if config:
        path = Path(config)
        if path.name == "pyproject.toml":
            return load_pyproject(path)
        return load_rules_file(config)
    if no_config:
        return Config()
    found = find_pyproject(cwd)
    return load_pyproject(found) if found else Config()
