"""RFC 8785 (JCS) canonical JSON: the single serializer whose bytes are ever signed or hashed.

``rfc8785`` is the reference implementation and decides every case. Because the registry
canonicalizes every lot an event declares (to check the statement's subject digests), a fast path
handles the common shape — ASCII keys, printable strings, booleans, null, integers and floats whose ECMAScript
and Python shortest forms agree — with the standard library's ``json`` and falls back to
``rfc8785`` for anything else. A property test checks the two agree on arbitrary JSON values.
"""

from __future__ import annotations

import json
import math
from typing import Any

import rfc8785

from raretrace.errors import ValidationError

_MAX_SAFE_INT = 2**53
_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), sort_keys=True, allow_nan=False).encode


def _plain(value: Any) -> bool:
    """True if ``json`` with sorted keys writes ``value`` exactly as JCS would."""
    if value is None or isinstance(value, bool):
        return True
    if isinstance(value, str):  # no escapes needed beyond '"' and '\\', which both write alike
        return value.isprintable()
    if isinstance(value, int):
        return -_MAX_SAFE_INT < value < _MAX_SAFE_INT
    if isinstance(value, float):
        # Both print the shortest round-trip digits; they agree on notation only in this range,
        # and an integral float is "1" in ECMAScript but "1.0" in Python.
        return math.isfinite(value) and not value.is_integer() and 1e-4 <= abs(value) < 1e15
    if isinstance(value, dict):
        return all(_plain_key(k) and _plain(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_plain(v) for v in value)
    return False


def _plain_key(key: object) -> bool:
    # JCS sorts keys by UTF-16 code units, Python by code points: they agree on ASCII.
    return isinstance(key, str) and key.isascii() and key.isprintable()


def canonical_bytes(value: Any) -> bytes:
    """JCS bytes of a JSON value; floats that JSON cannot carry (NaN, inf) are refused."""
    if _plain(value):
        return _encode(value).encode()
    try:
        return rfc8785.dumps(value)
    except (rfc8785.CanonicalizationError, TypeError, ValueError) as e:
        raise ValidationError(f"cannot be canonicalized as JSON: {e}") from e


def reference_canonical_bytes(value: Any) -> bytes:
    """JCS through the reference implementation only (for tests and audits of the fast path)."""
    return rfc8785.dumps(value)
