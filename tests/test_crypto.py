"""Keys, canonical JSON and DSSE envelopes."""

from __future__ import annotations

import base64
import os
import stat
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from raretrace.crypto.canonical import canonical_bytes
from raretrace.crypto.dsse import add_signature, pae, parse_envelope, sign_statement
from raretrace.crypto.keys import (
    Ed25519Signer,
    PublicKey,
    key_id_for,
    load_public_key,
    load_signer,
    write_key_pair,
)
from raretrace.errors import SignatureError, ValidationError

STATEMENT = {
    "_type": "https://in-toto.io/Statement/v1",
    "subject": [],
    "predicateType": "x",
    "predicate": {"a": 1},
}


def test_pae_matches_the_dsse_spec_example() -> None:
    # DSSE protocol.md: PAE("http://example.com/HelloWorld", "hello world")
    assert (
        pae("http://example.com/HelloWorld", b"hello world")
        == b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
    )


def test_jcs_orders_keys_and_formats_numbers() -> None:
    assert canonical_bytes({"b": 1, "a": [1.0, 1e21, "é"]}) == '{"a":[1,1e+21,"é"],"b":1}'.encode()
    with pytest.raises(ValidationError, match="cannot be canonicalized"):
        canonical_bytes({"x": float("nan")})


def test_envelope_round_trip_and_cosign() -> None:
    mine, theirs = Ed25519Signer.generate(), Ed25519Signer.generate()
    raw = add_signature(sign_statement(STATEMENT, [mine]), theirs)
    env = parse_envelope(raw)
    assert env.statement() == STATEMENT
    assert env.payload == canonical_bytes(STATEMENT)
    assert [s.key_id for s in env.signatures] == [mine.key_id, theirs.key_id]
    for signer, sig in zip((mine, theirs), env.signatures, strict=True):
        PublicKey(signer.public_key).verify(sig.sig, env.signing_bytes)


@given(st.binary(min_size=1, max_size=64), st.integers(min_value=0, max_value=63 * 8))
def test_any_flipped_bit_breaks_the_signature(message: bytes, bit: int) -> None:
    signer = Ed25519Signer.from_seed(b"\x07" * 32)
    sig = bytearray(signer.sign(message))
    sig[bit // 8 % 64] ^= 1 << (bit % 8)
    with pytest.raises(SignatureError):
        PublicKey(signer.public_key).verify(bytes(sig), message)


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        (b"[1,2]", "envelope"),
        (b'{"payloadType":"text/plain","payload":"","signatures":[]}', "envelope.payloadType"),
        (
            b'{"payloadType":"application/vnd.in-toto+json","payload":"***","signatures":[]}',
            "envelope.payload",
        ),
        (
            b'{"payloadType":"application/vnd.in-toto+json","payload":"e30=","signatures":[]}',
            "envelope.signatures",
        ),
    ],
)
def test_envelope_errors_name_the_field(raw: bytes, field: str) -> None:
    with pytest.raises(ValidationError) as info:
        parse_envelope(raw)
    assert info.value.field == field


def test_statement_shape_is_checked() -> None:
    raw = sign_statement(
        {"_type": "wrong", "subject": [], "predicateType": "x", "predicate": {}}, [Ed25519Signer.generate()]
    )
    with pytest.raises(ValidationError, match="payload._type"):
        parse_envelope(raw).statement()


def test_key_files(tmp_path: Path) -> None:
    signer = Ed25519Signer.generate()
    private, public = write_key_pair(signer, tmp_path / "k.key")
    assert stat.S_IMODE(os.stat(private).st_mode) == 0o600
    assert load_signer(private).public_key == signer.public_key
    assert load_public_key(public).raw == signer.public_key
    (tmp_path / "raw.pub").write_text(base64.b64encode(signer.public_key).decode())
    assert load_public_key(tmp_path / "raw.pub").key_id == key_id_for(signer.public_key)
    with pytest.raises(ValidationError, match="refusing to overwrite"):
        write_key_pair(signer, tmp_path / "k.key")
    (tmp_path / "junk.key").write_text("not a key")
    with pytest.raises(ValidationError, match="not an unencrypted PEM private key"):
        load_signer(tmp_path / "junk.key")


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**60), 2**60)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from([-0.0, 1.0, 1000.0, 1e16, 1e21, 1e-7, 5e-324, 2.0**53, 123456789012345678.0])
    | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4)
    ),
    max_leaves=20,
)


@given(json_values)
def test_canonical_fast_path_agrees_with_the_reference(value: object) -> None:
    from raretrace.crypto.canonical import reference_canonical_bytes

    try:
        expected = reference_canonical_bytes(value)
    except Exception:
        with pytest.raises(ValidationError):
            canonical_bytes(value)
        return
    assert canonical_bytes(value) == expected


def test_canonical_fast_path_on_typical_lots() -> None:
    from raretrace.crypto.canonical import reference_canonical_bytes

    lot = {
        "id": "urn:raretrace:lot:x",
        "mass_kg": 1234.5,
        "units": 3,
        "composition": {"Nd": 0.2203, "Fe": 0.69},
        "declared_value": {"amount": 10.0, "currency": "USD"},
        "note": "bastnäsite",
        "tiny": 1e-7,
    }
    assert canonical_bytes(lot) == reference_canonical_bytes(lot)


# --- base64 through pybase64 (crypto/b64.py) agrees with binascii's strict mode --------------------------

_B64_EDGES = [
    "",
    "AA==",
    "AAA=",
    "AAAA",
    "AB==",
    "AA=",
    "AA",
    "A",
    "AA==AA==",
    "=AAA",
    "AA=A",
    "AAAA\n",
    " AAAA",
    "AA\nAA",
    "A===",
    "AAAAA",
    "AAA==",
    "Zm9vYh==",
    "_-AA",
    "+/AA",
    "é",
    "AA\x00A",
]


def _binascii_strict(text: str) -> bytes | None:
    import binascii

    try:
        return binascii.a2b_base64(text, strict_mode=True)
    except ValueError:
        return None


def _ours(decode: Any, text: str) -> bytes | None:
    try:
        return bytes(decode(text))
    except ValueError:
        return None


@pytest.mark.parametrize("text", _B64_EDGES)
def test_strict_base64_accepts_and_refuses_what_binascii_strict_mode_does(text: str) -> None:
    from raretrace.crypto import b64

    assert _ours(b64.strict, text) == _binascii_strict(text)


@given(
    st.text(alphabet="AB+/=-_ \nz", max_size=12)
    | st.binary(max_size=40).map(lambda b: base64.b64encode(b).decode())
)
def test_strict_base64_agrees_with_binascii_on_random_text(text: str) -> None:
    from raretrace.crypto import b64

    assert _ours(b64.strict, text) == _binascii_strict(text)


@given(st.binary(max_size=200))
def test_urlsafe_base64_round_trips_and_refuses_the_standard_alphabet(data: bytes) -> None:
    from raretrace.crypto import b64

    encoded = base64.urlsafe_b64encode(data).decode()
    assert b64.urlsafe(encoded) == data
    assert b64.urlsafe(encoded.rstrip("=")) == data
    standard = base64.b64encode(data).decode()
    if standard != encoded:  # it holds '+' or '/'
        with pytest.raises(ValueError):
            b64.urlsafe(standard)
