"""Revocation by W3C Bitstring Status List v1.0: one bit per certificate, published as a credential.

A verifier holding the status list credential (fetched once, or handed over with the certificate) checks
revocation offline. The list is padded to the spec's minimum of 131,072 bits so that one list does not
reveal how many certificates a registry issued, and compressed with GZIP (fixed mtime: the same bits give
the same bytes, so a republished list only changes when a bit does).
"""

from __future__ import annotations

import base64
import binascii
import gzip
from collections.abc import Iterable

from raretrace.errors import ValidationError
from raretrace.jsontypes import JSONObject

MIN_BITS = 131_072  # Bitstring Status List v1.0, §2.1: at least 16 KB
PURPOSE = "revocation"
CONTEXT_V2 = "https://www.w3.org/ns/credentials/v2"


def encode_list(revoked: Iterable[int], size: int = MIN_BITS) -> str:
    """Multibase base64url (``u`` prefix, no padding) of the GZIP-compressed bitstring; bit 0 is the
    most significant bit of the first byte (spec §3.2)."""
    bits = bytearray(max(size, MIN_BITS) // 8)
    for index in revoked:
        if not 0 <= index < len(bits) * 8:
            raise ValidationError(f"status index {index} is outside the list", field="statusListIndex")
        bits[index // 8] |= 0x80 >> (index % 8)
    packed = gzip.compress(bytes(bits), mtime=0)
    return "u" + base64.urlsafe_b64encode(packed).rstrip(b"=").decode("ascii")


def decode_list(encoded: object) -> bytes:
    if not isinstance(encoded, str) or not encoded.startswith("u"):
        raise ValidationError(
            "encodedList must be multibase base64url (starting with 'u')", field="encodedList"
        )
    body = encoded[1:]
    try:
        packed = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        bits = gzip.decompress(packed)
    except (binascii.Error, OSError, EOFError, ValueError) as e:
        raise ValidationError(f"encodedList does not decode: {e}", field="encodedList") from e
    if len(bits) * 8 < MIN_BITS:
        raise ValidationError(
            f"the list holds {len(bits) * 8} bits, fewer than {MIN_BITS}", field="encodedList"
        )
    return bits


def is_set(bits: bytes, index: int) -> bool:
    if not 0 <= index < len(bits) * 8:
        raise ValidationError(f"status index {index} is outside the list", field="statusListIndex")
    return bool(bits[index // 8] & (0x80 >> (index % 8)))


def status_entry(list_url: str, index: int) -> JSONObject:
    """The ``credentialStatus`` a certificate carries (spec §2.1, BitstringStatusListEntry)."""
    return {
        "id": f"{list_url}#{index}",
        "type": "BitstringStatusListEntry",
        "statusPurpose": PURPOSE,
        "statusListIndex": str(index),
        "statusListCredential": list_url,
    }


def status_list_credential(list_url: str, issuer: str, valid_from: str, revoked: Iterable[int]) -> JSONObject:
    """The unsigned status list credential (spec §2.2); the registry signs it like any credential."""
    return {
        "@context": [CONTEXT_V2],
        "id": list_url,
        "type": ["VerifiableCredential", "BitstringStatusListCredential"],
        "issuer": issuer,
        "validFrom": valid_from,
        "credentialSubject": {
            "id": f"{list_url}#list",
            "type": "BitstringStatusList",
            "statusPurpose": PURPOSE,
            "encodedList": encode_list(revoked),
        },
    }


def entry_index(entry: object) -> tuple[str, int]:
    """The list URL and index a certificate's ``credentialStatus`` points at, checked."""
    if not isinstance(entry, dict) or entry.get("type") != "BitstringStatusListEntry":
        raise ValidationError("must be a BitstringStatusListEntry", field="credentialStatus")
    if entry.get("statusPurpose") != PURPOSE:
        raise ValidationError(f"statusPurpose must be {PURPOSE!r}", field="credentialStatus.statusPurpose")
    raw = entry.get("statusListIndex")
    if not isinstance(raw, str) or not raw.isdigit():
        raise ValidationError("must be a decimal string", field="credentialStatus.statusListIndex")
    url = entry.get("statusListCredential")
    if not isinstance(url, str) or not url:
        raise ValidationError("is required", field="credentialStatus.statusListCredential")
    return url, int(raw)
