"""RFC 8785 (JCS) canonical JSON: the single serializer whose bytes are ever signed or hashed.

``rfc8785`` is the reference implementation and decides every doubtful case. Because the registry
canonicalizes every lot an event declares (to check the statement's subject digests), a fast path
first encodes with the standard library's C encoder (sorted keys, no spaces, UTF-8) and keeps the
result only when nothing in it can differ from JCS:
* numbers: Python and ECMAScript both print the shortest round-trip digits, but Python writes
  integral floats as ``1.0`` and exponents as ``e-07``/``e+16`` and switches to exponents at other
  magnitudes, and integers beyond 2**53 are not IEEE doubles — so any ``e``/``E``, any ``.0`` at
  the end of a number, and any run of 16 or more digits sends the value to ``rfc8785``;
* strings: both escape exactly ``"``, ``\\``, and the controls (short forms for \\b \\f \\n \\r \\t,
  lower-case ``\\u00xx`` otherwise) and write everything else as UTF-8;
* key order: JCS sorts by UTF-16 code units, Python by code points; they agree unless a character
  beyond U+FFFF appears, which also sends the value to ``rfc8785``.
A property test checks the two agree on arbitrary JSON values.
"""

from __future__ import annotations

import json
import re
from typing import Any

import rfc8785

from raretrace.errors import ValidationError

_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), sort_keys=True, allow_nan=False).encode
# Anything in the fast encoding that JCS might write differently (false alarms only cost speed).
_DOUBTFUL = re.compile(r"[eE]|\.0(?![0-9])|[0-9]{16,}|[\U00010000-\U0010FFFF]")


def canonical_bytes(value: Any) -> bytes:
    """JCS bytes of a JSON value; floats that JSON cannot carry (NaN, inf) are refused."""
    try:
        text = _encode(value)
    except (TypeError, ValueError):
        text = None
    if text is not None and not _DOUBTFUL.search(text):
        try:
            return text.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate: let the reference decide
            pass
    try:
        return rfc8785.dumps(value)
    except (rfc8785.CanonicalizationError, TypeError, ValueError) as e:
        raise ValidationError(f"cannot be canonicalized as JSON: {e}") from e


def reference_canonical_bytes(value: Any) -> bytes:
    """JCS through the reference implementation only (for tests and audits of the fast path)."""
    return rfc8785.dumps(value)
