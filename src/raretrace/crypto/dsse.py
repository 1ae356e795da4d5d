"""DSSE envelopes (https://github.com/secure-systems-lab/dsse, protocol v1) over in-toto Statements.

Payload, envelope and signing bytes are three separate things: the payload is the JCS bytes of the
statement, the signing bytes are PAE(payloadType, payload), the envelope is the JSON that carries
both with the signatures. The envelope is stored and logged as received; only ``parse_envelope``
decides what it means.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from raretrace.crypto.canonical import canonical_bytes, loads
from raretrace.crypto.keys import Signer, b64decode_strict
from raretrace.errors import ValidationError

IN_TOTO_PAYLOAD_TYPE = "application/vnd.in-toto+json"
STATEMENT_TYPE = "https://in-toto.io/Statement/v1"


def _utf8_json(raw: bytes) -> object:
    """JSON in UTF-8 (no other encoding): what ``loads`` falls back to, with the errors it raises."""
    return json.loads(raw.decode("utf-8"))


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE v1 pre-authentication encoding: the exact bytes a signature covers."""
    t = payload_type.encode("utf-8")
    return b"DSSEv1 %d %b %d %b" % (len(t), t, len(payload), payload)


@dataclass(frozen=True)
class EnvelopeSignature:
    key_id: str
    sig: bytes


@dataclass(frozen=True)
class Envelope:
    """A parsed DSSE envelope; ``raw`` keeps the bytes exactly as received."""

    payload_type: str
    payload: bytes
    signatures: tuple[EnvelopeSignature, ...]
    raw: bytes

    @property
    def signing_bytes(self) -> bytes:
        return pae(self.payload_type, self.payload)

    def statement(self) -> dict[str, Any]:
        """The in-toto Statement in the payload, checked for its v1 shape."""
        try:
            value = loads(self.payload, _utf8_json)
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise ValidationError(f"payload is not JSON: {e}", field="payload") from e
        if not isinstance(value, dict):
            raise ValidationError("payload must be a JSON object (an in-toto Statement)", field="payload")
        if value.get("_type") != STATEMENT_TYPE:
            raise ValidationError(f"must be {STATEMENT_TYPE!r}", field="payload._type")
        for name, kind in (("subject", list), ("predicateType", str), ("predicate", dict)):
            if not isinstance(value.get(name), kind):
                raise ValidationError(f"missing or not a {kind.__name__}", field=f"payload.{name}")
        return value


def sign_statement(statement: Mapping[str, object], signers: Sequence[Signer]) -> bytes:
    """Wrap a statement in a DSSE envelope signed by every signer; returns the envelope bytes."""
    if not signers:
        raise ValidationError("at least one signer is required", field="signers")
    payload = canonical_bytes(statement)
    to_sign = pae(IN_TOTO_PAYLOAD_TYPE, payload)
    envelope = {
        "payload": base64.b64encode(payload).decode(),
        "payloadType": IN_TOTO_PAYLOAD_TYPE,
        "signatures": [
            {"keyid": s.key_id, "sig": base64.b64encode(s.sign(to_sign)).decode()} for s in signers
        ],
    }
    return json.dumps(envelope, separators=(",", ":")).encode()


def add_signature(raw: bytes, signer: Signer) -> bytes:
    """Countersign an existing envelope (e.g. a receiver co-signing); the payload is unchanged."""
    env = parse_envelope(raw)
    data = json.loads(raw)
    data["signatures"].append(
        {"keyid": signer.key_id, "sig": base64.b64encode(signer.sign(env.signing_bytes)).decode()}
    )
    return json.dumps(data, separators=(",", ":")).encode()


def recorded_statement(raw: bytes) -> dict[str, Any]:
    """The in-toto Statement of envelope bytes a registry recorded (its payload: the one copy kept)."""
    return parse_envelope(raw).statement()


def parse_envelope(raw: bytes) -> Envelope:
    """Parse envelope bytes, naming the field of the first problem. Verifies nothing."""
    try:
        data = loads(raw, _utf8_json)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValidationError(f"malformed JSON: {e}", field="envelope") from e
    if not isinstance(data, dict):
        raise ValidationError("must be a JSON object", field="envelope")
    payload_type = data.get("payloadType")
    if payload_type is None and "kind" in data and "payload" not in data:
        raise ValidationError(
            "this is an unsigned event, not a signed envelope: sign it with its facility's key first, "
            "e.g. `raretrace sign event.json --key facility.key > event.dsse.jsonl`, then record that file",
            field="envelope",
        )
    if payload_type != IN_TOTO_PAYLOAD_TYPE:
        raise ValidationError(f"must be {IN_TOTO_PAYLOAD_TYPE!r}", field="envelope.payloadType")
    payload_b64 = data.get("payload")
    if not isinstance(payload_b64, str):
        raise ValidationError("missing or not a string", field="envelope.payload")
    payload = b64decode_strict(payload_b64, field="envelope.payload")
    sigs = data.get("signatures")
    if not isinstance(sigs, list) or not sigs:
        raise ValidationError("must be a non-empty list", field="envelope.signatures")
    parsed: list[EnvelopeSignature] = []
    for i, s in enumerate(sigs):
        if (
            not isinstance(s, dict)
            or not isinstance(s.get("keyid"), str)
            or not isinstance(s.get("sig"), str)
        ):
            raise ValidationError(
                "must be an object with string 'keyid' and 'sig'", field=f"envelope.signatures[{i}]"
            )
        parsed.append(
            EnvelopeSignature(s["keyid"], b64decode_strict(s["sig"], field=f"envelope.signatures[{i}].sig"))
        )
    return Envelope(payload_type, payload, tuple(parsed), bytes(raw))
