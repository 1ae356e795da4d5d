"""Base64 decoding for the paths that decode a lot of it, through ``pybase64``.

Why a library: a certificate carries 15-19 KB of base64 inside base64 (disclosures, DSSE envelopes and
their payloads), and a batch submission one envelope per event. CPython's ``binascii`` decoded 1.9 KB in
7.4 µs on the CI machine, ``pybase64``'s SIMD decoder in 0.7 µs (5 KB: 20 µs against 0.9 µs). Strictness
is binascii's strict mode: the alphabet only, padding required, only at the end and only as needed;
``tests/test_crypto.py`` compares the two on edge cases and random inputs. Both raise
``binascii.Error`` (a ``ValueError``) on bad input; a character beyond ASCII is a ``ValueError`` too.
"""

from __future__ import annotations

import binascii

import pybase64

_URLSAFE = b"-_"


def strict(text: str | bytes) -> bytes:
    """Standard base64 with padding (RFC 4648 §4), nothing else accepted."""
    return pybase64.b64decode(text, validate=True)


def urlsafe(text: str) -> bytes:
    """base64url (RFC 4648 §5), with or without its padding; '+' and '/' are not base64url (pybase64
    would take them beside the alternative characters, so they are refused here)."""
    if "+" in text or "/" in text:
        raise binascii.Error("'+' and '/' are not base64url characters")
    return pybase64.b64decode(text + "=" * (-len(text) % 4), altchars=_URLSAFE, validate=True)
