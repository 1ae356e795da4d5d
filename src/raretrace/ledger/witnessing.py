"""Witnessing another member's log (C2SP tlog-witness semantics, issue #4).

Each consortium member runs its own registry and witnesses the others: it remembers the newest
checkpoint it cosigned for each log, and cosigns a new one only if the log proves the new tree extends
the old (RFC 9162 consistency proof). A log that shows a smaller tree, or another root at a size already
seen, or a tree the proof does not connect, is refused with the evidence. Across witnesses, two valid
checkpoints of one log with the same size and different roots are a split view: ``compare_views``
finds them in the notes witnesses hold.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from raretrace.errors import NotFoundError, ProofError, ValidationError
from raretrace.jsontypes import JSONObject
from raretrace.ledger.logview import add_cosignatures, consistency_proof, latest_checkpoint
from raretrace.ledger.registry import Registry
from raretrace.log.checkpoint import Checkpoint, open_checkpoint
from raretrace.log.cosignature import cosign, witness_key_text
from raretrace.log.merkle import verify_consistency
from raretrace.log.note import parse_verifier_key, split_note, verifier_key_text
from raretrace.store import witnessed as store
from raretrace.store.db import write_transaction


class SplitViewError(ProofError):
    """The log showed two different trees of the same size: it is not append-only for everyone."""


class LogSource(Protocol):
    """Where a witness reads a log: a local database now, the registry's HTTP API later (issue 7)."""

    def checkpoint(self) -> str: ...

    def consistency_proof(self, old: int, new: int) -> list[bytes]: ...

    def verifier_key(self) -> str: ...


@dataclass
class RegistryLog:
    """A log read from its registry's database (same machine, or a read-only replica)."""

    registry: Registry

    def checkpoint(self) -> str:
        return latest_checkpoint(self.registry)

    def consistency_proof(self, old: int, new: int) -> list[bytes]:
        import base64

        return [base64.b64decode(h) for h in consistency_proof(self.registry, old, new).proof]

    def verifier_key(self) -> str:
        return verifier_key_text(self.registry.origin, self.registry.signer.public_key)


@dataclass(frozen=True)
class Witnessed:
    origin: str
    old_size: int | None
    size: int
    cosignature: str  # the signature line, without newline
    note: str  # the checkpoint with our cosignature appended

    def to_dict(self) -> JSONObject:
        return {
            "origin": self.origin,
            "old_size": self.old_size,
            "size": self.size,
            "cosignature": self.cosignature,
            "note": self.note,
        }


def witness_key(witness: Registry) -> str:
    """This registry's witness verifier key, which the witnessed log adds to its trusted witnesses."""
    return witness_key_text(witness.origin, witness.signer.public_key)


def _log_key(origin: str, remembered: str | None, given: str | None) -> str:
    """Step 1 of ``witness_log``: the remembered key (``given`` must agree), or ``given`` the first time."""
    if remembered is not None:
        if given is not None and given.strip() != remembered:
            raise ProofError(f"log {origin} was first witnessed with another key", field="log_key")
        return remembered
    if given is None:
        raise NotFoundError(
            f"log {origin} has not been witnessed before: give its verifier key", field="log_key"
        )
    key = given.strip()
    if parse_verifier_key(key).name != origin:
        raise ValidationError(
            f"the key is for {parse_verifier_key(key).name}, the log is {origin}", field="log_key"
        )
    return key


def witness_log(
    witness: Registry, source: LogSource, *, log_key: str | None = None, now: datetime | None = None
) -> Witnessed:
    """Check the log's newest checkpoint against the last one this registry cosigned, then cosign it.

    Steps: 1. the log's key: as remembered, or ``log_key`` the first time (it must then match what the
    source serves); 2. the checkpoint is signed by it; 3. not smaller than before, the same root at the
    same size (else split view), consistent with the old tree; 4. cosign and remember.
    """
    moment = now or datetime.now(UTC)
    note = source.checkpoint()
    text, _ = split_note(note)
    origin = Checkpoint.parse(text).origin
    with witness.engine.connect() as conn:
        row = store.witnessed_log(conn, origin)
    # 1. Which key the log must sign with.
    key = _log_key(origin, None if row is None else row.verifier_key, log_key)
    # 2. Signed by that key.
    checkpoint = open_checkpoint(note, key)
    # 3. Append-only since the last cosigned tree.
    old_size = None if row is None else row.size
    if row is not None:
        old_root = row.root
        if checkpoint.size < row.size:
            raise ProofError(
                f"log {origin} shows {checkpoint.size} leaves after showing {row.size}: rolled back",
                field="checkpoint",
            )
        if checkpoint.size == row.size and checkpoint.root_hash != old_root:
            raise SplitViewError(
                f"split view: log {origin} shows two different trees of size {checkpoint.size}",
                field="checkpoint",
            )
        if checkpoint.size > row.size > 0:  # every tree extends the empty one (C2SP tlog-witness)
            proof = source.consistency_proof(row.size, checkpoint.size)
            try:
                verify_consistency(row.size, checkpoint.size, proof, old_root, checkpoint.root_hash)
            except ProofError as e:
                raise SplitViewError(
                    f"log {origin}'s tree of size {checkpoint.size} does not extend the tree of size "
                    f"{row.size} this registry cosigned: {e.message}",
                    field="checkpoint",
                ) from e
    # 4. Cosign and remember.
    line = cosign(text, witness.origin, witness.signer, int(moment.timestamp()))
    stamp = moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    with write_transaction(witness.engine) as conn:
        store.remember(
            conn, origin, key if row is None else None, checkpoint.size, checkpoint.root_hash, note, stamp
        )
    return Witnessed(origin, old_size, checkpoint.size, line, note + line + "\n")


def witnessed_size(witness: Registry, origin: str) -> int | None:
    """The tree size of ``origin`` this registry last cosigned (None: it does not witness that log)."""
    with witness.engine.connect() as conn:
        return store.seen(conn, origin)


def witnessed_note(witness: Registry, origin: str) -> str | None:
    """The checkpoint of ``origin`` this registry last cosigned, as the log signed it."""
    with witness.engine.connect() as conn:
        return store.noted_witness(conn, origin)


def submit(log: Registry, witnessed: Witnessed) -> list[str]:
    """Hand the cosignature to the witnessed log, which serves it with its checkpoint from then on."""
    return add_cosignatures(log, witnessed.note)


@dataclass(frozen=True)
class RootSeen:
    root: str  # hex
    signed_by: tuple[str, ...]


@dataclass(frozen=True)
class SplitView:
    """One tree size the log signed with more than one root, and who signed each."""

    size: int
    roots: tuple[RootSeen, ...]


def compare_views(notes: Sequence[str], log_key: str) -> list[SplitView]:
    """Split views among checkpoints that witnesses (or certificate holders) hold: for each tree size
    signed with more than one root, the roots and the cosigners of each. Notes not signed by the log
    are refused: a forged note proves nothing against the log."""
    by_size: dict[int, dict[bytes, set[str]]] = {}
    for i, note in enumerate(notes):
        try:
            checkpoint = open_checkpoint(note, log_key)
        except ProofError as e:
            raise ProofError(
                f"note {i + 1} is not signed by the log: {e.message}", field=f"notes[{i}]"
            ) from e
        _, lines = split_note(note)
        signers = {line.removeprefix("— ").split(" ", 1)[0] for line in lines}
        by_size.setdefault(checkpoint.size, {}).setdefault(checkpoint.root_hash, set()).update(signers)
    return [
        SplitView(
            size, tuple(RootSeen(root.hex(), tuple(sorted(who))) for root, who in sorted(roots.items()))
        )
        for size, roots in sorted(by_size.items())
        if len(roots) > 1
    ]
