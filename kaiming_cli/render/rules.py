"""The ``rules`` format: TOML rules files that ``kaiming verify --rules`` accepts, from ``identify`` (the inits the
tensors follow) and from ``audit`` (the inits the model needs).

Every string is written by ``escape.toml_string`` (ASCII, quotes and backslashes escaped), so a tensor name from a
file cannot end its string, start a table or add a key. Comments hold no control characters.

audit: each parameter's rule requires the init it has where that is right (as recommended, scale-free, a framework
default without --strict), and the recommended init for every finding: a ``different`` weight, and under --strict
a framework default whose scale matters (with a comment: the rule is the fix, so the gate fails until the model's
init code is changed, and the fixed model passes). Rules are collapsed into globs where every parameter a glob
matches shares one init (``*.bias``, ``*.bn*.weight``, ``layer*.*.conv*.weight``); each glob is checked against
every parameter name of the model, so first-match order never matters.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from .. import escape
from ..about import version

if TYPE_CHECKING:
    from ..runners.audit import AuditedWeight, AuditResult
    from ..runners.identify import IdentifyReport

_DIGITS = re.compile(r"[0-9]+")


def _glob_literal(text: str) -> str:
    """A name as a glob that matches only itself (``[`` ``*`` ``?`` bracketed; a lone surrogate, which TOML cannot
    hold, as ``?``: ``collapse`` accepts a glob only when every name it matches shares the init)."""
    return "".join(f"[{c}]" if c in "[]*?" else "?" if 0xD800 <= ord(c) <= 0xDFFF else c for c in text)


def _toml_string(text: str) -> str:
    return escape.toml_string(text)


def _comment(text: str) -> str:
    """A comment line: no line breaks, no control characters (names come from the user's code)."""
    return "# " + "".join(c if c.isprintable() else "?" for c in text)


def _variants(segment: str) -> list[str]:
    """A name segment with its digit runs generalized (``conv*``, ``layer*``) first, then literally."""
    literal = _glob_literal(segment)
    general = _DIGITS.sub("*", literal)
    return [general, literal] if general != literal else [literal]


def patterns_for(name: str, depth: int = 3) -> list[str]:
    """Globs from coarsest to exact: ``*.weight``, ``*.bn*.weight``, ``*bn*.weight``, ``*.downsample.0.weight``,
    ..., then every digit run generalized (``layer*.*.conv*.weight``), then the name itself. Only the last
    ``depth`` segments vary, so that a model of thousands of parameters collapses in well under a second."""
    sep = "/" if "/" in name else "."
    parts = name.split(sep)
    out: list[str] = []
    for k in range(1, min(depth, len(parts)) + 1):
        tails = [""]
        for segment in parts[-k:]:
            tails = [t + (sep if t else "") + v for t in tails for v in _variants(segment)]
        tails.sort(key=lambda t: len(t.replace("*", "")))
        for tail in tails:
            if "*" in tail.split(sep)[0]:
                out.append("*" + tail)  # *conv*.weight: nested and top-level convs alike
            if k < len(parts):
                out.append("*" + sep + tail)
    out.append(sep.join(_variants(p)[0] for p in parts))
    out.append(sep.join(_glob_literal(p) for p in parts))
    return list(dict.fromkeys(out))


def collapse(names_inits: Sequence[tuple[str, str | None]]) -> list[tuple[str, list[int]]]:
    """(glob, indices of the rows it decides), in the order the rules must be written.

    First match wins in a rules file, so the rarest inits are placed first (the layer left at its default, the
    head) and the common init's broad glob (``*conv*.weight``) comes after them: a glob is accepted when every
    name it matches that no earlier rule decides shares its init (None: the parameter gets a ``skip`` rule)."""
    from collections import Counter

    inits = [init for _name, init in names_inits]
    names = [name for name, _init in names_inits]
    frequency = Counter(inits)
    order = sorted(range(len(names)), key=lambda i: (frequency[inits[i]], inits.index(inits[i]), i))
    decided: dict[int, str] = {}
    chosen: dict[str, list[int]] = {}
    compiled: dict[str, re.Pattern[str]] = {}
    for i in order:
        if i in decided:
            continue
        for pattern in patterns_for(names[i]):
            regex = compiled.setdefault(pattern, re.compile(fnmatch.translate(pattern)))
            matched = [j for j, n in enumerate(names) if j not in decided and regex.match(n)]
            if i in matched and all(inits[j] == inits[i] for j in matched):
                chosen[pattern] = matched
                decided.update((j, pattern) for j in matched)
                break
    return list(chosen.items())


def _rule_comment(rows: Sequence[AuditedWeight], fix: bool = False) -> list[str]:
    first = rows[0]
    count = f"{len(rows)} parameters, e.g. {first.name}" if len(rows) > 1 else first.name
    if first.verdict == "framework default" and fix:
        return [_comment(f"framework default ({count}), a finding under --strict: {first.note}"),
                _comment("This rule is the RECOMMENDED FIX: verify fails until the model's init code uses it.")]
    if first.verdict == "different":
        ratio = "" if first.std_ratio is None else f", std {first.std_ratio:.3g}x the recommended"
        return [_comment(f"different ({count}): followed by {first.activation}; the weights have "
                         f"{first.actual_call or first.actual}{ratio}."),
                _comment("This rule is the RECOMMENDED FIX: verify fails until the model's init code uses it.")]
    if first.verdict == "framework default":
        return [_comment(f"framework default ({count}): {first.note}")]
    if first.verdict == "scale-free":
        return [_comment(f"scale-free ({count}): a norm follows before any nonlinearity; the rule keeps what it "
                         "has.")]
    if first.verdict == "ambiguous":
        return [_comment(f"ambiguous ({count}): {first.note or 'no recommendation'}; the rule keeps what it has.")]
    return [_comment(f"as recommended ({count}): followed by {first.activation}")]


def audit(result: AuditResult) -> str:
    out = [_comment(f"kaiming audit {result.target} (seed {result.seed}): {result.summary()}"),
           _comment("Rules for `kaiming verify CHECKPOINT --rules THIS_FILE`; the first rule whose glob matches "
                    "wins."), ""]
    rows = list(result.weights)
    inits = [result.rule_init(w) for w in rows]
    for pattern, indices in collapse([(w.name, init) for w, init in zip(rows, inits, strict=True)]):
        members = [rows[i] for i in indices]
        # a glob covers rows of one init; the comment speaks for the worst verdict among them
        members.sort(key=lambda w: ("different", "framework default", "scale-free", "ambiguous", "as recommended")
                     .index(w.verdict))
        init = inits[indices[0]]
        out += _rule_comment(members, fix=init is not None and init != members[0].rule_init)
        out.append("[[rule]]")
        out.append(f"match = {_toml_string(pattern)}")
        if init is None:
            out.append("skip = true")
        else:
            out.append(f"init = {_toml_string(init)}")
            if result.framework == "keras":
                out.append('layout = "keras"')
        out.append("")
    return "\n".join(out).rstrip("\n") + "\n"


def identify(report: IdentifyReport, top: int = 5) -> str:
    from ..runners.identify import group_labels
    from ..runners.identify.rules import tensor_calls

    rows = tensor_calls(report.results, group_labels(list(report.results)))
    # one glob per layer kind and law, in first-match order: the rare laws' specific globs first, then broad
    # fallbacks (``*.bias``, ``*bn*.weight``, ``*.weight``), each checked against every name (``collapse``)
    order = collapse([(name, None if call is None else repr((call, fan_in, fan_out)))
                      for name, call, fan_in, fan_out in rows])
    lines = [f"# generated by kaiming {version()} identify (alpha = {report.alpha:g}): the inits these tensors",
             "# follow, as init calls; check a model with: kaiming verify FILE --rules THIS_FILE", "",
             "# a tensor no rule below names fails (a layer added later fails until a rule covers it); TOML puts",
             "# top-level keys before the first [[rule]]. Set \"skip\" (or verify --unlisted skip) to skip them.",
             'unlisted = "fail"', ""]
    for pattern, indices in order:
        _name, call, fan_in, fan_out = rows[indices[0]]
        lines.append("[[rule]]" + (f"  # {len(indices)} tensors" if len(indices) > 1 else ""))
        lines.append(f"match = {escape.toml_string(pattern)}")
        if call is None:
            lines.append("skip = true  # identify could not name this law")
        else:
            lines.append(f"init = {escape.toml_string(call)}")
            if fan_in is not None:
                lines.append(f"fan_in = {fan_in}")
            if fan_out is not None:
                lines.append(f"fan_out = {fan_out}")
        lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"
