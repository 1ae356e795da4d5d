"""RFC 8785 (JCS) canonical JSON: the single serializer whose bytes are ever signed or hashed.

``rfc8785`` is the reference implementation and decides every doubtful case. Because the registry
canonicalizes every lot an event declares (to check the statement's subject digests), a fast path
first encodes with the standard library's C encoder (sorted keys, no spaces, UTF-8) and keeps the
result only when nothing in it can differ from JCS:
* numbers: Python and ECMAScript both print the shortest round-trip digits, but Python writes
  integral floats as ``1.0`` and exponents as ``e-07``/``e+16`` and switches to exponents at other
  magnitudes, and integers beyond 2**53 are not IEEE doubles — so a number in exponent notation,
  an integral float, or any run of 16 or more digits sends the value to ``rfc8785``;
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
_DOUBTFUL_NUMBER = re.compile(
    r"[:\[,](?:-?[0-9][0-9.]*(?:[eE]|\.0(?![0-9])))"  # exponent notation; integral float (1.0, -0.0)
    r"|[0-9]{16,}"  # beyond 2**53, or more digits than a double's shortest form needs
)
# Key order by UTF-16 code units differs from code points only past U+FFFF.
_ASTRAL = re.compile(r"[\U00010000-\U0010FFFF]")


def _integral_floats_as_ints(value: Any) -> Any:
    """The same value with integral floats below 2**53 as ints (how JCS writes them: 1000.0 -> 1000)."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    if isinstance(value, dict):
        return {k: _integral_floats_as_ints(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_integral_floats_as_ints(v) for v in value]
    return value


def _fast(value: Any) -> bytes | None:
    # A number token always follows ':' '[' or ',' in this encoding (',' is prepended for a bare
    # number); the same text inside a string is a harmless false alarm.
    try:
        text = _encode(value)
    except (TypeError, ValueError):
        return None
    if _DOUBTFUL_NUMBER.search("," + text) or (not text.isascii() and _ASTRAL.search(text)):
        return None
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: let the reference decide
        return None


class _DoubtfulNumberError(Exception):
    pass


_MAX_SAFE = 2**53
_MAX_PLAIN_INT = 10**15  # 16 or more digits: as doubtful as the regex's digit runs


def _jcs_numbers(value: Any) -> Any:
    """The value with integral floats as ints; _DoubtfulNumberError if any number may print unlike JCS."""
    kind = type(value)
    if kind is str or kind is bool or value is None:
        return value
    if kind is dict:
        return {k: _jcs_numbers(v) for k, v in value.items()}
    if kind is list:
        return [_jcs_numbers(v) for v in value]
    if kind is float:
        if value.is_integer() and abs(value) < _MAX_SAFE:
            return int(value)
        text = repr(value)
        if "e" in text or "n" in text or sum(c.isdigit() for c in text) >= 16:
            raise _DoubtfulNumberError
        return value
    if kind is int:
        if -_MAX_PLAIN_INT < value < _MAX_PLAIN_INT:
            return value
        raise _DoubtfulNumberError
    raise _DoubtfulNumberError  # tuples, subclasses, anything else: the old path decides


def _fast_walked(value: Any) -> bytes | None:
    try:
        text = _encode(_jcs_numbers(value))
    except (_DoubtfulNumberError, TypeError, ValueError, RecursionError):
        return None
    if not text.isascii() and _ASTRAL.search(text):
        return None
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        return None


def canonical_bytes(value: Any) -> bytes:
    """JCS bytes of a JSON value; floats that JSON cannot carry (NaN, inf) are refused."""
    walked = _fast_walked(value)
    if walked is not None:
        return walked
    fast = _fast(value)
    if fast is None:  # masses like 1000.0 are common: retry with them written as JCS writes them
        fast = _fast(_integral_floats_as_ints(value))
    if fast is not None:
        return fast
    try:
        return rfc8785.dumps(value)
    except (rfc8785.CanonicalizationError, TypeError, ValueError) as e:
        raise ValidationError(f"cannot be canonicalized as JSON: {e}") from e


def reference_canonical_bytes(value: Any) -> bytes:
    """JCS through the reference implementation only (for tests and audits of the fast path)."""
    return rfc8785.dumps(value)
