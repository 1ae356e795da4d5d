"""Rotating a registry's log key: the key that signs its checkpoints (and its confirmations and
monthly statistics, and its witness cosignatures on other members' logs).

Why: a key in service for years must be replaceable (suspected compromise, an HSM migration) without
losing what it signed. The rotation keeps the old public key (``registry_keys`` row renamed
``log-until-<time>``), makes the new one current and re-signs the current tree head with it: same
origin, size and root, so the witnesses' cosignatures of that head stay valid (a cosignature signs the
checkpoint's text, not the log's signature), and ``GET /checkpoint`` answers under the new key at
once. Older checkpoints keep their old signatures; whoever verifies them needs the old key, which is
why the consortium file lists it with ``until`` (``consortium.rotate_keys``): the new key and witness
key this returns go into the next version of that file, and members' witnesses follow the rotation
from there (``witness_service``). The whole step is one transaction under the log's head lock, so no
append is signed with a key that is no longer current.

Nothing needs a restart: every ``Registry`` reads which key is current from the database when it
signs (``Registry.signer``; an append under the head lock), so a server, a witness loop or any other
process holding the registry signs with the new key from its next request or round. A key kept
outside the database is read again from the process's key file after a rotation: put the new key
there first (until then that process refuses to sign rather than sign with the retired key).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from raretrace.crypto.keys import Ed25519Signer
from raretrace.errors import ValidationError
from raretrace.ledger.registry import Registry
from raretrace.log.checkpoint import Checkpoint, sign_checkpoint
from raretrace.log.cosignature import witness_key_text
from raretrace.log.note import verifier_key_text
from raretrace.store import key_rotation as store
from raretrace.store.db import write_transaction


@dataclass(frozen=True)
class RotatedKey:
    """What the consortium file's next version needs (``consortium rotate``)."""

    origin: str
    log_key: str
    witness_key: str
    at: str
    retired_log_key: str
    tree_size: int  # the tree head re-signed with the new key


def rotate_log_key(registry: Registry, new: Ed25519Signer, *, now: datetime | None = None) -> RotatedKey:
    if new.public_key == registry.public_key.raw:
        raise ValidationError("the new key is the current key", field="new_key")
    moment = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    at = moment.isoformat().replace("+00:00", "Z")
    retired = f"log-until-{moment.strftime('%Y%m%dT%H%M%SZ')}"
    old = verifier_key_text(registry.origin, registry.public_key.raw)
    with write_transaction(registry.engine) as conn:
        size = registry.store.lock_head(conn)
        seed, _ = registry.store.registry_key(conn)
        root = store.tree_head(conn, size)
        note = sign_checkpoint(Checkpoint(registry.origin, size, root), registry.origin, new)
        store.replace_log_key(
            conn, retired, None if seed is None else new.seed, new.public_key, at, size, note
        )
    return RotatedKey(
        registry.origin,
        verifier_key_text(registry.origin, new.public_key),
        witness_key_text(registry.origin, new.public_key),
        at,
        old,
        size,
    )
