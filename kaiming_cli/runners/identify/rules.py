"""``kaiming identify -f rules``: the rules file that reproduces identify's verdicts. ``tensor_calls`` gives each
tensor's call, in the form its group names it; render/rules.py collapses them into a few first-match-ordered globs
per layer kind and law (the specific exceptions first, then ``*.bias``, ``*bn*.weight``, ``*.weight``).

It exists apart from the identification itself: it reads only the results (``IdentifyResult``), and turns their
names into globs (``collapse``) that never match a tensor of another group, so that verify's first-match order
does not matter.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from . import IdentifyResult
    from .candidates import Candidate


GLOB_SPECIALS = "*?[]"


def glob_escape(name: str) -> str:
    """``name`` as an fnmatch pattern that matches only itself (``*``, ``?``, ``[`` and ``]`` in brackets); a lone
    surrogate (which TOML cannot hold) becomes ``?``, and ``collapse`` checks that the glob still matches no other
    tensor."""
    return "".join(f"[{ch}]" if ch in GLOB_SPECIALS else "?" if 0xD800 <= ord(ch) <= 0xDFFF else ch for ch in name)


def _digit_glob(name: str, varying: set[int] | None = None) -> str:
    """Escaped ``name`` with its digit runs replaced by ``*`` (only runs numbered in ``varying``, if given)."""
    import re

    out, last = [], 0
    for i, m in enumerate(re.finditer(r"\d+", name)):
        out.append(glob_escape(name[last:m.start()]))
        out.append("*" if varying is None or i in varying else m.group())
        last = m.end()
    out.append(glob_escape(name[last:]))
    return "".join(out)


def _varying_runs(names: list[str]) -> set[int] | None:
    """Indices of the digit runs that differ between names of the same digit-free skeleton (None: skeletons differ)."""
    import re

    runs = [re.findall(r"\d+", n) for n in names]
    if len({len(r) for r in runs}) != 1:
        return None
    return {i for i in range(len(runs[0])) if len({r[i] for r in runs}) > 1}


def _covers(pattern: str, names: list[str]) -> list[str]:
    import fnmatch

    return [n for n in names if fnmatch.fnmatchcase(n, pattern)]


def collapse(names: list[str], others: list[str]) -> list[tuple[str, int]]:
    """Globs that together match every name in ``names`` and none in ``others``, as few as this finds: ``*.last``
    for the whole group, else one per digit-free skeleton (``layer*.attn.qkv.weight``), else the names themselves
    escaped. Returns (glob, how many of ``names`` it matches)."""
    tail = names[0].rsplit(".", 1)[-1]
    if len(names) > 1 and all(n.rsplit(".", 1)[-1] == tail and "." in n for n in names):
        pattern = "*." + glob_escape(tail)
        if not _covers(pattern, others):
            return [(pattern, len(names))]
    out: list[tuple[str, int]] = []
    done: set[str] = set()
    skeletons: dict[str, list[str]] = {}
    for n in names:
        skeletons.setdefault(_digit_glob(n), []).append(n)
    for members in skeletons.values():
        if len(members) > 1:
            for pattern in (_digit_glob(members[0], _varying_runs(members)), _digit_glob(members[0])):
                if not _covers(pattern, others):
                    out.append((pattern, len(members)))
                    done.update(members)
                    break
    out += [(glob_escape(n), 1) for n in names if n not in done]
    return out


def _labelled(r: IdentifyResult, label: str | None) -> tuple[str | None, Candidate | None]:
    """The call and candidate of ``label`` (the tensor's group label, an exact alias of its verdict: a square conv's
    ``mode='fan_out'`` when its group says so), else of the verdict."""
    if label is not None and label != r.verdict and label in r.aliases:
        for scored in r.ranked:
            if scored.candidate.label == label:
                return scored.candidate.call, scored.candidate
    return r.call, r.chosen


def tensor_calls(results: Sequence[IdentifyResult], labels: dict[int, str] | None = None
                 ) -> list[tuple[str, str | None, int | None, int | None]]:
    """(name, call, fan_in, fan_out) per tensor name, first file first: the call its group names it by
    (``labels``, ``group_labels`` by ``id``: an exact alias of its verdict, in the form the rest of the model uses);
    None for a tensor identify could not name or did not read (its rule skips it, so that a rules file ending in
    ``unlisted = "fail"`` and broad globs neither fails it nor checks it against a law)."""
    out: list[tuple[str, str | None, int | None, int | None]] = []
    seen: set[str] = set()
    for r in sorted(results, key=lambda r: r.verdict == "skipped"):
        if r.name in seen:
            continue
        seen.add(r.name)
        if r.verdict == "skipped":
            out.append((r.name, None, None, None))
            continue
        call, chosen = _labelled(r, (labels or {}).get(id(r)))
        out.append((r.name, call, chosen.fan_in if chosen else None, chosen.fan_out if chosen else None))
    return out
