"""Rotating the registry's log key (tables ``registry_keys`` and ``checkpoints``)."""

from __future__ import annotations

from sqlalchemy import Connection, insert, select, update

from raretrace.store.schema import checkpoints, registry_keys

_k = registry_keys.c


def tree_head(conn: Connection, size: int) -> bytes:
    """The root hash of the checkpoint at ``size``."""
    return bytes(conn.execute(select(checkpoints.c.root).where(checkpoints.c.size == size)).scalar_one())


def replace_log_key(
    conn: Connection, retired_role: str, seed: bytes | None, public: bytes, now: str, size: int, note: str
) -> None:
    """The current ``log`` key kept under ``retired_role``, the new one current, and the checkpoint at
    ``size`` re-signed (``note``: same tree head, the new key's signature)."""
    conn.execute(update(registry_keys).where(_k.role == "log").values(role=retired_role))
    conn.execute(insert(registry_keys).values(role="log", seed=seed, public_key=public, created_at=now))
    conn.execute(update(checkpoints).where(checkpoints.c.size == size).values(note=note))
