"""Fetching newer versions of the consortium file, TUF-client style, through an injected getter, and
reading the verified chain a member keeps in a directory.

The getter (HTTP in the CLI, a dict in tests) returns the bytes of ``<N>.json`` or None when there is
no such version. Versions are fetched one after another from the trusted one and each is verified
before the next is asked for; a version that does not verify stops the walk with the reason, and
the caller keeps nothing. A bound on how many versions one fetch takes keeps a hostile server from
feeding an endless chain.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from raretrace.errors import ProofError, ValidationError
from raretrace.io import parse_json, read_json_file
from raretrace.ledger.consortium import Consortium, verify_chain, verify_update
from raretrace.times import parse_time

MAX_VERSIONS_PER_FETCH = 1000
MAX_FILE_BYTES = 1 << 20


def fetch_newer(
    get: Callable[[str], bytes | None], trusted: Consortium, *, now: str
) -> tuple[Consortium, list[tuple[int, bytes]]]:
    """The newest verified version and the raw bytes of every version after ``trusted``."""
    current, fetched = trusted, []
    for _ in range(MAX_VERSIONS_PER_FETCH):
        name = f"{current.version + 1}.json"
        raw = get(name)
        if raw is None:
            break
        if len(raw) > MAX_FILE_BYTES:
            raise ValidationError(f"{name} is larger than {MAX_FILE_BYTES} bytes", field=name)
        doc = parse_json(raw, name, name)
        try:
            current = verify_update(current, doc)
        except (ProofError, ValidationError) as e:
            raise e.within(name) from e
        fetched.append((current.version, raw))
    else:
        raise ValidationError(f"more than {MAX_VERSIONS_PER_FETCH} new versions at once", field="from")
    if parse_time(now, "now") >= current.expires:
        raise ProofError(f"version {current.version} expired at {current.expires}", field="expires")
    return current, fetched


def load_directory(directory: Path, now: str) -> Consortium:
    """The newest version in ``directory`` (``1.json``, ``2.json`` …), the chain verified from 1."""
    files = sorted((p for p in directory.glob("*.json") if p.stem.isdigit()), key=lambda p: int(p.stem))
    if not files:
        raise ValidationError(
            f"{directory} holds no consortium versions (1.json, 2.json …)", field="consortium"
        )
    docs = []
    for path in files:
        docs.append(read_json_file(path, "consortium"))
    return verify_chain(docs, now=now)
