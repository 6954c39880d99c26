"""Rules and run defaults from a TOML rules file or ``[tool.kaiming]`` in ``pyproject.toml``.

Precedence for run options is CLI flags > environment (``KAIMING_ALPHA``, ``KAIMING_CORRECTION``,
``KAIMING_SEED``) > config > defaults; the CLI layer applies it. The first rule whose glob matches a
tensor's name wins.
"""

from __future__ import annotations

import fnmatch
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..theory.fans import LAYOUTS, MODES
from ..theory.gains import NONLINEARITIES
from ..theory.spec import DISTRIBUTIONS

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

CORRECTIONS = ("holm", "bonferroni", "bh", "none")
SPEC_KEYS = ("layout", "mode", "nonlinearity", "negative_slope", "distribution")
RULE_KEYS = {"match", "skip", "constant", *SPEC_KEYS}


@dataclass(frozen=True)
class Rule:
    """One ``[[rule]]``: a glob and what tensors it matches must look like."""

    match: str
    skip: bool = False
    constant: float | None = None
    options: dict[str, Any] = field(default_factory=dict)
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


def first_match(rules: tuple[Rule, ...], name: str) -> Rule | None:
    for rule in rules:
        if fnmatch.fnmatchcase(name, rule.match):
            return rule
    return None


def _fail(where: str, message: str) -> InputError:
    return InputError(f"{where}: {message}")


def _check_choice(where: str, key: str, value: Any, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise _fail(where, f"{key} = {value!r} is not one of {', '.join(choices)}.")


def parse_rule(raw: Any, where: str) -> Rule:
    if not isinstance(raw, dict):
        raise _fail(where, "a rule must be a table with at least `match = \"glob\"`.")
    unknown = sorted(set(raw) - RULE_KEYS)
    if unknown:
        raise _fail(where, f"unknown key {unknown[0]!r}; a rule takes {', '.join(sorted(RULE_KEYS))}.")
    match = raw.get("match")
    if not isinstance(match, str) or not match:
        raise _fail(where, "`match` must be a non-empty glob string, e.g. \"*conv*.weight\".")
    skip = raw.get("skip", False)
    if not isinstance(skip, bool):
        raise _fail(where, "`skip` must be true or false.")
    constant = raw.get("constant")
    if constant is not None and (isinstance(constant, bool) or not isinstance(constant, (int, float))
                                 or not math.isfinite(constant)):
        raise _fail(where, "`constant` must be a finite number.")
    options = {k: raw[k] for k in SPEC_KEYS if k in raw}
    if "layout" in options:
        _check_choice(where, "layout", options["layout"], LAYOUTS)
    if "mode" in options:
        _check_choice(where, "mode", options["mode"], MODES)
    if "nonlinearity" in options:
        _check_choice(where, "nonlinearity", options["nonlinearity"], NONLINEARITIES)
    if "distribution" in options:
        _check_choice(where, "distribution", options["distribution"], DISTRIBUTIONS)
    if "negative_slope" in options:
        a = options["negative_slope"]
        if isinstance(a, bool) or not isinstance(a, (int, float)) or not math.isfinite(a) or a < 0:
            raise _fail(where, "`negative_slope` must be a finite number >= 0.")
        options["negative_slope"] = float(a)
    if (skip or constant is not None) and options:
        raise _fail(where, "a `skip` or `constant` rule takes no spec options.")
    if skip and constant is not None:
        raise _fail(where, "a rule is either `skip` or `constant`, not both.")
    return Rule(match=match, skip=skip, constant=None if constant is None else float(constant), options=options,
                origin=where)


def parse_config(table: dict[str, Any], where: str, rule_key: str) -> Config:
    alpha = table.get("alpha")
    if alpha is not None and (isinstance(alpha, bool) or not isinstance(alpha, (int, float))
                              or not 0 < alpha < 1):
        raise _fail(where, f"alpha = {alpha!r} must be a number in (0, 1).")
    correction = table.get("correction")
    if correction is not None:
        _check_choice(where, "correction", correction, CORRECTIONS)
    unknown = sorted(set(table) - {"alpha", "correction", rule_key})
    if unknown:
        raise _fail(where, f"unknown key {unknown[0]!r}; expected alpha, correction and [[{rule_key}]] tables.")
    raw_rules = table.get(rule_key, [])
    if not isinstance(raw_rules, list):
        raise _fail(where, f"`{rule_key}` must be an array of tables ([[{rule_key}]]).")
    rules = tuple(parse_rule(r, f"{where} rule {i + 1}") for i, r in enumerate(raw_rules))
    return Config(rules=rules, alpha=None if alpha is None else float(alpha), correction=correction, path=where)


def _load_toml(path: Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}.") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{path} is not valid TOML: {exc}.") from None


def load_rules_file(path: str) -> Config:
    return parse_config(_load_toml(Path(path)), str(path), "rule")


def find_pyproject(start: Path) -> Path | None:
    """The nearest ``pyproject.toml`` at or above ``start``."""
    for folder in (start, *start.parents):
        candidate = folder / "pyproject.toml"
        if candidate.is_file():
            return candidate
    return None


def load_pyproject(path: Path) -> Config:
    data = _load_toml(path)
    table = data.get("tool", {}).get("kaiming")
    if table is None:
        return Config()
    if not isinstance(table, dict):
        raise InputError(f"{path}: [tool.kaiming] must be a table.")
    return parse_config(table, f"{path} [tool.kaiming]", "rule")


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
