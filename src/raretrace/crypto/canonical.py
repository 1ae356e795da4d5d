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

The fast path encodes with ``orjson`` when it is installed (about six times faster than the standard
library's encoder on a certificate, which is mostly strings): on the values the fast path keeps —
integral floats already written as ints, no number that could print unlike JCS — it writes the same
bytes as the standard library's encoder (escapes, key order, shortest round-trip floats), which a
check at import time confirms on values chosen at the edges (else it is not used), and anything
orjson refuses (keys that are not strings, deep nesting, lone surrogates) goes to the standard
library as before. So the bytes never depend on whether orjson is there.

A caller that has already walked a document with the same rules (the verifier, which must visit every
member of a credential anyway to reveal it) marks its objects and arrays with ``prechecked``, and the
fast path encodes them without walking them a second time; the property tests compare the bytes of
such documents with ``rfc8785`` too.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import rfc8785

try:
    import orjson
except ImportError:  # pragma: no cover - a declared dependency; without it the stdlib encodes
    orjson = None  # type: ignore[assignment]  # the optional fast path: absent module

from raretrace.errors import ValidationError

_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), sort_keys=True, allow_nan=False).encode
# The same encoder without the circular-reference bookkeeping, for trees _jcs_numbers has just built:
# such a tree cannot be circular (the walk would have recursed without end first).
_encode_tree = json.JSONEncoder(
    ensure_ascii=False, separators=(",", ":"), sort_keys=True, allow_nan=False, check_circular=False
).encode
# Anything in the fast encoding that JCS might write differently (false alarms only cost speed).
_DOUBTFUL_NUMBER = re.compile(
    r"[:\[,](?:-?[0-9][0-9.]*(?:[eE]|\.0(?![0-9])))"  # exponent notation; integral float (1.0, -0.0)
    r"|[0-9]{16,}"  # beyond 2**53, or more digits than a double's shortest form needs
)
# Key order by UTF-16 code units differs from code points only past U+FFFF. In UTF-8 exactly those
# characters start with a byte F0-F4 (other lead bytes are C2-EF, continuation bytes 80-BF), and a
# byte search is much cheaper than a character-class scan of the text.
_ASTRAL_LEADS = (b"\xf0", b"\xf1", b"\xf2", b"\xf3", b"\xf4")


def _integral_floats_as_ints(value: object) -> object:
    """The same value with integral floats below 2**53 as ints (how JCS writes them: 1000.0 -> 1000)."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    if isinstance(value, dict):
        return {k: _integral_floats_as_ints(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_integral_floats_as_ints(v) for v in value]
    return value


def _fast(value: object) -> bytes | None:
    # A number token always follows ':' '[' or ',' in this encoding (',' is prepended for a bare
    # number); the same text inside a string is a harmless false alarm.
    try:
        text = _encode(value)
    except (TypeError, ValueError):
        return None
    if _DOUBTFUL_NUMBER.search("," + text):
        return None
    return _utf8_unless_astral(text)


def _utf8_unless_astral(text: str) -> bytes | None:
    """The UTF-8 of ``text``, or None if it holds a lone surrogate or a character past U+FFFF."""
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: let the reference decide
        return None
    if not data.isascii() and any(lead in data for lead in _ASTRAL_LEADS):
        return None
    return data


class DoubtfulNumberError(Exception):
    """A number (or a value that is not plain JSON) the fast path leaves to the reference."""


_DoubtfulNumberError = DoubtfulNumberError

_MAX_SAFE = 2**53
_MAX_PLAIN_INT = 10**15  # 16 or more digits: as doubtful as the regex's digit runs
_MIN_PLAIN_INT = -_MAX_PLAIN_INT
JCS_PLAIN_INTS = range(_MIN_PLAIN_INT + 1, _MAX_PLAIN_INT)  # the ints the fast path writes itself


_LEAVES = frozenset({str, bool, type(None)})  # returned as they are, without a call


def _jcs_numbers(value: Any) -> Any:
    """The value with integral floats as ints; _DoubtfulNumberError if any number may print unlike JCS.

    Copy on write: a container none of whose numbers changes is returned as it is (the encoder only
    reads it), so a document without integral floats — one parsed from JSON that JCS wrote — is
    checked without being rebuilt; rebuilding every dict and list was most of the cost of hashing a
    certificate. Every container is still visited, so a circular value still recurses without end.
    Numbers inside a container are checked inline, without a call: a call per number was a tenth of
    the walk.
    """
    kind = type(value)
    # Containers first, their strings and numbers inline: most nodes of a credential.
    if kind is dict or kind is list:
        changed: Any = None  # a copy of the container, made at its first changed number
        for key, item in value.items() if kind is dict else enumerate(value):
            inner = type(item)
            if inner in _LEAVES:
                continue
            if inner is int:
                if _MIN_PLAIN_INT < item < _MAX_PLAIN_INT:
                    continue
                raise _DoubtfulNumberError
            new = _jcs_float(item) if inner is float else _jcs_numbers(item)
            if new is not item:
                if changed is None:
                    changed = kind(value)
                changed[key] = new
        return value if changed is None else changed
    if kind in _LEAVES:
        return value
    if kind is float:
        return _jcs_float(value)
    if kind is int:
        return jcs_int(value)
    if kind is _CheckedDict or kind is _CheckedList:
        return value  # walked already, by a walk that applied the same rules (see ``prechecked``)
    raise _DoubtfulNumberError  # tuples, subclasses, anything else: the old path decides


def jcs_int(value: int) -> int:
    """The int as it is, when the fast path may print it; DoubtfulNumberError otherwise."""
    if _MIN_PLAIN_INT < value < _MAX_PLAIN_INT:
        return value
    raise _DoubtfulNumberError


def _jcs_float(value: float) -> float | int:
    if value.is_integer() and -_MAX_SAFE < value < _MAX_SAFE:
        return int(value)
    text = repr(value)
    # Without "e" (exponent) or "n" (nan, inf) the repr is -?digits.digits: count its digits.
    if "e" in text or "n" in text or len(text) - 1 - (text[0] == "-") >= 16:
        raise _DoubtfulNumberError
    return value


jcs_float = _jcs_float  # an integral float below 2**53 as an int; DoubtfulNumberError if JCS may differ


class _CheckedDict(dict):  # type: ignore[type-arg]  # holds any JSON value, checked as it is built
    """An object already in the form ``_jcs_numbers`` gives (see ``prechecked``)."""


class _CheckedList(list):  # type: ignore[type-arg]  # holds any JSON value, checked as it is built
    """An array already in the form ``_jcs_numbers`` gives (see ``prechecked``)."""


def prechecked(document: dict[str, Any]) -> dict[str, Any]:
    """``document`` with its objects and arrays marked as walked, so ``canonical_bytes`` encodes them
    without walking them again: for a caller whose own walk over the document (the verifier's reveal)
    already did what ``_jcs_numbers`` does — exact JSON types only, every int through ``jcs_int``,
    every float replaced by what ``jcs_float`` returns, nothing doubtful. The marks are dict and list
    subclasses, which both encoders write as plain objects and arrays; only the top level is copied.
    """
    return {
        key: _CheckedDict(item) if type(item) is dict else _CheckedList(item) if type(item) is list else item
        for key, item in document.items()
    }


def _stdlib_tree(tree: object) -> bytes | None:
    try:
        text = _encode_tree(tree)
    except (TypeError, ValueError, RecursionError):
        return None
    return _utf8_unless_astral(text)


def _orjson_tree(tree: object) -> bytes | None:
    try:
        data: bytes = orjson.dumps(tree, option=orjson.OPT_SORT_KEYS)
    except orjson.JSONEncodeError:  # non-string keys, nesting past 254, lone surrogates, ...
        return _stdlib_tree(tree)
    if not data.isascii() and any(lead in data for lead in _ASTRAL_LEADS):
        return None
    return data


# Values at the edges where two encoders could part: escapes (every control, DEL, quote, backslash,
# slash, U+2028/9, BOM, U+FFFF), key order across the BMP, and floats at the decimal/exponent limits
# of the values the fast path keeps (Python prints 1e-4 ≤ |x| < 1e16 without exponent).
_EDGES: tuple[object, ...] = (
    ["".join(map(chr, range(0x20))), '\x7f"\\/', "é\u2028\u2029\ufeff\uffff中", ""],
    {"\ue000": 0, "\uff5e": 1, "a": 2, "é": 3, "": 4, "Z": 5, "\u07ff": 6, "\u0800": 7, "ab": 8},
    [0.1, -0.5, 1.5, 0.0001, -0.00012345, 0.33333333333333, 123456789012.25, 99999999999999.9],
    [True, False, None, {}, [], 0, -1, 999999999999999, -999999999999999, {"x": [{"y": 0.25}]}],
)


def _orjson_agrees() -> bool:
    if orjson is None:
        return False
    return all(_orjson_tree(_jcs_numbers(v)) == _stdlib_tree(_jcs_numbers(v)) for v in _EDGES)


_encode_walked: Callable[[object], bytes | None] = _orjson_tree if _orjson_agrees() else _stdlib_tree


def _fast_walked(value: object) -> bytes | None:
    try:
        tree = _jcs_numbers(value)
    except (_DoubtfulNumberError, TypeError, ValueError, RecursionError):
        return None
    return _encode_walked(tree)


# For loads: digits become '0', '[' and '{' become '[', every other byte a space.
_LOADS_CLASSES = bytes(0x30 if 0x30 <= b <= 0x39 else 0x5B if b in (0x5B, 0x7B) else 0x20 for b in range(256))
_LONG_DIGIT_RUN = b"0" * 19  # an integer beyond 64 bits has at least 19 digits in a row
_MAX_OPENINGS = 200  # json.loads may give up (RecursionError) on deep nesting where orjson would not


def loads(raw: bytes, fallback: Callable[[bytes], Any] = json.loads) -> Any:
    """``fallback(raw)`` (``json.loads`` unless told), by ``orjson`` where that gives the same value.

    Decoding signed JSON — disclosures, DSSE envelopes, their statements — is a large part of a
    certificate verification, and orjson parses it several times faster. On JSON both accept, orjson
    gives the same Python values as ``json.loads`` (floats correctly rounded, later duplicate keys
    win; a test compares them) except integers beyond 64 bits, which it turns into floats: those
    have 19 or more digits in a row, so bytes holding such a run anywhere (even inside a string: a
    false alarm costs only speed) go to ``fallback``. So do bytes with many ``[`` or ``{`` (the
    standard library stops at a nesting depth set by the recursion limit, orjson goes deeper) and
    everything orjson refuses — NaN, Infinity, lone surrogates, encodings other than UTF-8 — where
    ``fallback`` returns its own value or raises its own error, exactly as before; anything but
    ``bytes`` goes there too. A value made of strings only, three levels deep at most (a disclosure, a
    DSSE envelope), holds no number and hardly any nesting, so it is kept without scanning the bytes:
    a disclosure of a long string (an event envelope) would otherwise be scanned byte by byte for
    nothing.
    """
    if orjson is not None and type(raw) is bytes:
        try:
            value = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return fallback(raw)
        if _only_strings(value):
            return value
        classes = raw.translate(_LOADS_CLASSES)
        if _LONG_DIGIT_RUN not in classes and classes.count(b"[") < _MAX_OPENINGS:
            return value
    return fallback(raw)


_STRINGS = frozenset({str})


_STRINGS_OR_ARRAYS = frozenset({str, list})


def _only_strings(value: Any) -> bool:
    """An array or object of strings, or of strings and arrays whose items are strings or flat
    arrays or objects of strings (a disclosure; a DSSE envelope and its signatures): it holds no
    number that orjson could have read unlike ``json.loads`` and is at most three levels deep, so the
    bytes need no scan. Anything else is turned away at the first look (a statement holds an object:
    looking deeper would cost more on such documents than it saves on the others)."""
    kind = type(value)
    if kind is list:
        items: Any = value
    elif kind is dict:
        items = value.values()
    else:
        return False
    kinds = set(map(type, items))
    if kinds <= _STRINGS:
        return True
    if not kinds <= _STRINGS_OR_ARRAYS:
        return False
    for item in items:
        if type(item) is list:
            for inner in item:
                inner_kind = type(inner)
                if inner_kind is str:
                    continue
                if inner_kind is dict:
                    if not _STRINGS.issuperset(map(type, inner.values())):
                        return False
                elif inner_kind is not list or not _STRINGS.issuperset(map(type, inner)):
                    return False
    return True


def canonical_bytes(value: object) -> bytes:
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
        return rfc8785.dumps(value)  # type: ignore[arg-type]  # it refuses what is not JSON: the check wanted
    except (rfc8785.CanonicalizationError, TypeError, ValueError) as e:
        raise ValidationError(f"cannot be canonicalized as JSON: {e}") from e


def reference_canonical_bytes(value: object) -> bytes:
    """JCS through the reference implementation only (for tests and audits of the fast path)."""
    return rfc8785.dumps(value)  # type: ignore[arg-type]  # it refuses what is not JSON (CanonicalizationError)
