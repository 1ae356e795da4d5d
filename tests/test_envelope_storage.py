"""Envelopes are stored compressed and come back byte for byte; the payload is kept once.

The expected bytes are the envelopes as signed (``sign_statement``) or as written by hand here, and
the log's leaf hashes (SHA-256 of the exact bytes, RFC 6962) computed independently from them.
"""

from __future__ import annotations

import base64
import hashlib
import json

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import LargeBinary, inspect, select, text, type_coerce

from raretrace.crypto.dsse import sign_statement
from raretrace.crypto.keys import Ed25519Signer
from raretrace.ledger.audit import audit
from raretrace.store import schema as t
from raretrace.store.db import migrate
from raretrace.store.envelopes import pack, unpack
from tests.test_compliance import two_chains
from tests.test_schema_upgrade import _downgrade

SIGNER = Ed25519Signer.from_seed(bytes(range(32)))
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)


def _statement(predicate: object) -> dict[str, object]:
    return {
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": "urn:raretrace:lot:x", "digest": {"sha256": "00" * 32}}],
        "predicateType": "https://raretrace.dev/event/process/v1",
        "predicate": {"kind": "process", "value": predicate},
    }


@settings(max_examples=150, deadline=None)
@given(json_values)
def test_signed_envelopes_round_trip_and_shrink(predicate: object) -> None:
    raw = sign_statement(_statement(predicate), [SIGNER])
    stored = pack(raw)
    assert stored[:2] == b"\x00\x01"  # the compressed form
    assert unpack(stored) == raw
    assert len(stored) < len(raw)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_any_bytes_round_trip(raw: bytes) -> None:
    # Rows are written by the registry only, but whatever a column holds must read back as written.
    assert unpack(pack(raw)) == raw


def test_non_canonical_base64_is_kept_verbatim() -> None:
    raw = sign_statement(_statement(1), [SIGNER])
    envelope = json.loads(raw)
    payload = envelope["payload"]
    assert payload.endswith("=")  # padded: the last digit has 2 or 4 unused low bits
    # Setting one of those bits spells the same bytes a second way (RFC 4648 §3.5), which only a
    # verbatim copy can reproduce.
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    body = payload.rstrip("=")
    other = alphabet[alphabet.index(body[-1]) ^ 1]
    respelled = body[:-1] + other + payload[len(body) :]
    assert respelled != payload
    assert base64.b64decode(respelled) == base64.b64decode(payload)
    odd = raw.replace(payload.encode(), respelled.encode())
    assert pack(odd) == odd and unpack(pack(odd)) == odd
    nul = b"\x00" + odd  # not compressible and starting like a stored form: still exact
    assert pack(nul)[:2] == b"\x00\x00" and unpack(pack(nul)) == nul


def test_the_registry_stores_envelopes_compressed_and_reads_them_exactly(db_url: str) -> None:
    registry = two_chains(db_url).registry
    with registry.engine.connect() as conn:
        stored = conn.execute(
            select(t.events.c.seq, type_coerce(t.events.c.envelope, LargeBinary)).order_by(t.events.c.seq)
        ).all()
        read = dict(conn.execute(select(t.events.c.seq, t.events.c.envelope)).all())
        leaves = dict(conn.execute(select(t.events.c.seq, t.events.c.leaf_hash)).all())
    assert stored and all(bytes(row[1])[:2] == b"\x00\x01" for row in stored)
    for seq, compact in stored:
        raw = read[seq]
        assert raw[:1] == b"{" and unpack(bytes(compact)) == raw
        assert hashlib.sha256(b"\x00" + raw).digest() == bytes(leaves[seq])
    assert sum(len(bytes(c)) for _, c in stored) < 0.5 * sum(len(r) for r in read.values())
    assert "predicate" not in {c["name"] for c in inspect(registry.engine).get_columns("events")}
    assert audit(registry).ok


def test_the_payload_copy_and_the_edges_come_back_on_downgrade(db_url: str) -> None:
    registry = two_chains(db_url).registry
    edges = select(t.lot_inputs).order_by(t.lot_inputs.c.child, t.lot_inputs.c.parent)
    with registry.engine.connect() as conn:
        envelopes = dict(conn.execute(select(t.events.c.seq, t.events.c.envelope)).all())
        before = conn.execute(edges).all()
    registry.engine.dispose()
    _downgrade(db_url, "0011")
    with registry.engine.connect() as conn:
        rows = conn.execute(text("SELECT seq, predicate FROM events")).all()
        verbatim = dict(conn.execute(text("SELECT seq, envelope FROM events")).all())
        assert {seq: bytes(raw) for seq, raw in verbatim.items()} == envelopes  # as 0011's code reads them
        assert conn.execute(edges).all() == before and before
    indexes = {ix["name"] for ix in inspect(registry.engine).get_indexes("lot_inputs")}
    assert {"ix_lot_inputs_up", "ix_lot_inputs_down"} <= indexes
    assert dict(rows) == {
        seq: base64.b64decode(json.loads(raw)["payload"]).decode() for seq, raw in envelopes.items()
    }
    # and up again, with rows written before the upgrade (edges moved, envelopes verbatim)
    registry.engine.dispose()
    migrate(registry.engine)
    with registry.engine.connect() as conn:
        assert conn.execute(edges).all() == before
        assert dict(conn.execute(select(t.events.c.seq, t.events.c.envelope)).all()) == envelopes
    assert audit(registry).ok
