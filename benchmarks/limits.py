"""The limits benchmarks print their ratios against: the fastest implementations that exist of the work a
benchmark's subject cannot avoid, measured in the same run as the subject.

- Ed25519 signing and verification: libsodium through PyNaCl (``nacl.bindings``), called bare (no key
  cache, no wrapper): raretrace's own default backend uses the same library, OpenSSL is slower;
- SHA-256: ``hashlib`` (OpenSSL's);
- writing rows: the standard library's ``sqlite3`` ``executemany`` into an in-memory database, one
  transaction per table, no index but the rowid: no fsync, no constraint, no ORM.

A ``Work`` lists that work (the messages signed and verified, the blobs hashed, the rows written) as
the subject did it; ``limit_seconds`` times the fastest implementations doing all of it. The rows and
messages are collected from the registry databases after the run (``registry_work``), so the limit
is of the same byte counts and row shapes; signatures made or checked more than once by the subject
(a checkpoint verified by every witness, a certificate by its importer) count once unless the caller
adds them, so a limit is a floor of the work, and a ratio against it an upper bound of the efficiency.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import nacl.bindings
from sqlalchemy import Engine, select

from raretrace.crypto.canonical import canonical_bytes
from raretrace.crypto.dsse import parse_envelope
from raretrace.store import schema as t

Row = tuple[Any, ...]


@dataclass
class Work:
    """What the subject of a benchmark had to do at the least: messages it signed, messages whose
    signatures it verified, blobs it hashed (SHA-256), rows it wrote (per table)."""

    signs: list[bytes] = field(default_factory=list)
    verifies: list[bytes] = field(default_factory=list)
    hashes: list[bytes] = field(default_factory=list)
    rows: dict[str, list[Row]] = field(default_factory=dict)

    def add(self, other: Work) -> None:
        self.signs += other.signs
        self.verifies += other.verifies
        self.hashes += other.hashes
        for table, rows in other.rows.items():
            self.rows.setdefault(table, []).extend(rows)

    def describe(self) -> str:
        rows = sum(len(r) for r in self.rows.values())
        return (
            f"{len(self.signs):,} Ed25519 signatures made, {len(self.verifies):,} verified, "
            f"{len(self.hashes):,} SHA-256 ({sum(map(len, self.hashes)):,} bytes), {rows:,} rows written "
            f"({len(self.rows)} tables)"
        )


def limit_seconds(work: Work, repeat: int = 3) -> float:
    """CPU seconds of this process the fastest implementations take for ``work``: the least of
    ``repeat`` runs (the signatures to verify are made before the clock starts)."""
    _, secret = nacl.bindings.crypto_sign_keypair()
    signed = [nacl.bindings.crypto_sign(m, secret) for m in work.verifies]
    public = secret[32:]
    best = float("inf")
    for _ in range(repeat):
        start = time.process_time()
        _run(work, secret, public, signed)
        best = min(best, time.process_time() - start)
    return best


def _run(work: Work, secret: bytes, public: bytes, signed: Sequence[bytes]) -> None:
    sign, open_ = nacl.bindings.crypto_sign, nacl.bindings.crypto_sign_open
    for message in work.signs:
        sign(message, secret)
    for blob in signed:
        open_(blob, public)
    sha256 = hashlib.sha256
    for blob in work.hashes:
        sha256(blob).digest()
    db = sqlite3.connect(":memory:")
    for i, (_table, rows) in enumerate(work.rows.items()):
        if not rows:
            continue
        width = len(rows[0])
        db.execute(f"CREATE TABLE t{i} ({', '.join(f'c{j}' for j in range(width))})")
        with db:
            db.executemany(f"INSERT INTO t{i} VALUES ({', '.join('?' * width)})", rows)
    db.close()


def rows_of(engine: Engine, tables: Iterable[str]) -> dict[str, list[Row]]:
    """Every row of ``tables`` as the database returns them (bytes, text, numbers)."""
    out: dict[str, list[Row]] = {}
    with engine.connect() as conn:
        for name in tables:
            out[name] = [tuple(_plain(v) for v in r) for r in conn.execute(select(t.metadata.tables[name]))]
    return out


def _plain(value: object) -> object:
    """A value sqlite3 binds as it is (what the ORM types read back as, e.g. an envelope's bytes)."""
    return value if value is None or isinstance(value, int | float | str | bytes) else str(value)


def certificate_work(credential: Mapping[str, Any], disclosures: Sequence[str]) -> Work:
    """What issuing one certificate signs and hashes (eddsa-jcs-2022): SHA-256 of the canonical proof
    configuration and of the canonical document, one per disclosure (its digest in the credential), and
    one Ed25519 signature over the 64 bytes of the two digests."""
    proof = {k: v for k, v in credential["proof"].items() if k != "proofValue"}
    document = {k: v for k, v in credential.items() if k != "proof"}
    hashes = [canonical_bytes(proof), canonical_bytes(document), *(d.encode() for d in disclosures)]
    return Work(signs=[bytes(64)], hashes=hashes)


def registry_work(engine: Engine) -> Work:
    """A floor of the signature work and the rows in one registry database: every event's signatures
    made and verified once, its leaf and the tree's interior nodes hashed once, every checkpoint signed
    once, every cosignature and import confirmation made and verified once, every certificate's signing
    and hashing once (its disclosures not counted: they are not kept here), and every row of every table
    written once."""
    work = Work()
    with engine.connect() as conn:
        leaves = 0
        for (raw,) in conn.execute(select(t.events.c.envelope)):
            env = parse_envelope(bytes(raw))
            work.signs += [env.signing_bytes] * len(env.signatures)
            work.verifies += [env.signing_bytes] * len(env.signatures)
            work.hashes.append(b"\0" + bytes(raw))  # its leaf hash (RFC 6962)
            leaves += 1
        work.hashes += [bytes(65)] * max(leaves - 1, 0)  # the tree's interior nodes, each hashed once
        for (raw,) in conn.execute(select(t.import_confirmations.c.envelope)):
            env = parse_envelope(bytes(raw))
            work.signs += [env.signing_bytes] * len(env.signatures)
            work.verifies += [env.signing_bytes] * len(env.signatures)
        bodies = {
            size: _body(note)
            for size, note in conn.execute(select(t.checkpoints.c.size, t.checkpoints.c.note))
        }
        work.signs += list(bodies.values())
        for size, stamp in conn.execute(select(t.cosignatures.c.size, t.cosignatures.c.timestamp)):
            # a witness signs its timestamp and the checkpoint's body (C2SP tlog-cosignature)
            message = f"cosignature/v1\ntime {stamp}\n".encode() + bodies.get(size, b"")
            work.signs.append(message)
            work.verifies.append(message)
        for (text,) in conn.execute(select(t.certificates.c.credential)):
            work.add(certificate_work(json.loads(text), ()))
    work.rows = rows_of(engine, t.metadata.tables)
    return work


def _body(note: str) -> bytes:
    """The signed part of a checkpoint's note: the text before the blank line and its signatures."""
    return note.split("\n\n", 1)[0].encode() + b"\n"


def ratio_line(label: str, ours_seconds: float, limit: float, work: Work) -> str:
    """One printed line: the subject's seconds, the limit's, and limit / ours (1.0 = at the limit)."""
    return (
        f"  {label}: {ours_seconds:.4g} s, the limit {limit:.4g} s ({work.describe()}; libsodium, "
        f"hashlib, raw sqlite3 executemany, CPU time, best of 3); "
        f"ratio limit/ours {limit / ours_seconds:.4f} (ours takes {ours_seconds / limit:.1f}x the limit)"
    )
