"""What this package is: its version, looked up in one place (lazily: the lookups must not pay for it)."""

from __future__ import annotations

#: The version, written here and in pyproject.toml (tests/test_imports.py keeps them equal). A constant, not
#: ``importlib.metadata.version``: that lookup scans every installed distribution (~25 ms on each start-up of a
#: JSON lookup, a third of its time).
__version__ = "0.1.0"


def version() -> str:
    return __version__


def install_hint(extra: str) -> str:
    """How to add an optional dependency, for the way kaiming itself was installed.

    kaiming is not on PyPI, so ``pip install 'kaiming[plot]'`` finds nothing. From a clone (editable or
    not) the hint names that folder; from a git URL it names that URL; otherwise the extra's own packages,
    which are on PyPI. The install record is pip's ``direct_url.json`` (PEP 610).
    """
    import json
    from importlib.metadata import distributions

    packages = " ".join(f"'{r}'" for r in _extra_requirements(extra)) or f"the {extra} extra"
    # a source tree on sys.path also holds kaiming.egg-info (no install record): take the installed one
    texts = [d.read_text("direct_url.json") for d in distributions(name="kaiming")]
    try:
        record = json.loads(next((t for t in texts if t), "{}"))
    except ValueError:
        record = {}
    url = record.get("url", "") if isinstance(record, dict) else ""
    if isinstance(url, str) and url.startswith("file://") and "dir_info" in record:
        folder = url[len("file://"):]
        editable = "-e " if record["dir_info"].get("editable") else ""
        return f"pip install {editable}'{folder}[{extra}]' (or: pip install {packages})"
    vcs = record.get("vcs_info") if isinstance(record, dict) else None
    if isinstance(vcs, dict) and url:
        ref = f"@{vcs['commit_id']}" if vcs.get("commit_id") else ""
        return f"pip install 'kaiming[{extra}] @ {vcs.get('vcs', 'git')}+{url}{ref}' (or: pip install {packages})"
    return f"pip install {packages}"


def _extra_requirements(extra: str) -> list[str]:
    """The requirements an extra adds, from the installed metadata (``torch>=2.0; extra == "torch"``)."""
    from importlib.metadata import PackageNotFoundError, distribution

    try:
        requires = distribution("kaiming").requires or []
    except PackageNotFoundError:
        return []
    marker = f'extra == "{extra}"'
    return [r.split(";")[0].strip() for r in requires if marker in r.replace("'", '"')]
