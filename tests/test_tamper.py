"""Changing one stored byte of an envelope makes `log audit` fail and name the leaf."""

from __future__ import annotations

from sqlalchemy import select, update

from raretrace.ledger.audit import audit
from raretrace.store import schema as t
from tests.chain_fixtures import mine_and_separator


def test_one_changed_byte_is_named(db_url: str) -> None:
    chain = mine_and_separator(db_url)
    registry = chain.registry
    assert audit(registry).ok
    with registry.engine.begin() as conn:
        raw = bytearray(conn.execute(select(t.events.c.envelope).where(t.events.c.seq == 2)).scalar_one())
        raw[len(raw) // 2] ^= 0x01
        conn.execute(update(t.events).where(t.events.c.seq == 2).values(envelope=bytes(raw)))
    result = audit(registry)
    assert not result.ok
    assert result.problems[0].startswith("leaf 2: stored envelope bytes do not hash to the logged leaf")


def test_rewritten_leaf_hash_and_tiles_are_caught_by_the_checkpoint(db_url: str) -> None:
    chain = mine_and_separator(db_url)
    registry = chain.registry
    with registry.engine.begin() as conn:
        conn.execute(
            update(t.checkpoints).values(root=b"\x00" * 32)
        )  # the stored column, not the signed note
        tile = conn.execute(select(t.log_tiles.c.data).where(t.log_tiles.c.level == 0)).scalar_one()
        conn.execute(
            update(t.log_tiles).where(t.log_tiles.c.level == 0).values(data=b"\x01" + bytes(tile)[1:])
        )
    result = audit(registry)
    assert not result.ok
    assert "leaf 0" in result.problems[0]
