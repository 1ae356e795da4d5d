"""Selective disclosure in the style of SD-JWT (RFC 9901 / draft-ietf-oauth-selective-disclosure-jwt):
salted per-field hash commitments inside the signed credential, the values travelling beside it.

The issuer replaces each concealable object member by the digest of a *disclosure* — base64url of the
JSON array ``[salt, name, value]`` — listed in the object's ``_sd`` array, and each concealable array
element by ``{"...": digest}``. The signature covers the digests only. The holder hands a verifier the
credential and the disclosures it chooses; the verifier rebuilds what is shown and checks every
disclosure's digest is committed exactly once. A hidden value stays hidden (the salt stops guessing); a
shown value changed by one byte no longer matches its digest.

Why not SD-JWT itself: our credential is a JSON Data Integrity credential (DESIGN §5), not a JWT; the
commitment scheme is the same, applied to the JSON document before it is signed.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import secrets
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from raretrace.crypto.canonical import loads
from raretrace.errors import ValidationError

SD_KEY = "_sd"
SD_ALG_KEY = "_sd_alg"
ARRAY_KEY = "..."
ALG = "sha-256"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


_FROM_URLSAFE = bytes.maketrans(b"-_", b"+/")


def _unb64(text: str, field: str) -> bytes:
    # base64.urlsafe_b64decode, without its two argument conversions (ten calls per verification).
    try:
        data = text.encode("ascii").translate(_FROM_URLSAFE)
        return binascii.a2b_base64(data + b"=" * (-len(data) % 4))
    except (binascii.Error, ValueError) as e:
        raise ValidationError(f"not base64url: {e}", field=field) from e


def digest(disclosure: str) -> str:
    return _b64(hashlib.sha256(disclosure.encode("ascii")).digest())


def make_disclosure(name: str | None, value: Any, salt: str | None = None) -> str:
    """``[salt, name, value]`` for an object member, ``[salt, value]`` for an array element."""
    salt = salt or _b64(secrets.token_bytes(16))
    parts: list[Any] = [salt, value] if name is None else [salt, name, value]
    return _b64(json.dumps(parts, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))


def _stdlib_json(raw: bytes) -> Any:
    # json.loads(bytes) first guesses the encoding and then decodes with "surrogatepass"; for bytes
    # that start with '[' and a non-NUL byte its guess is UTF-8, so decoding here gives the same value
    # without the guessing.
    if raw[:1] == b"[" and raw[1:2] not in (b"", b"\x00"):
        return json.loads(raw.decode("utf-8", "surrogatepass"))
    return json.loads(raw)


def _json(raw: bytes) -> Any:
    # The same value as json.loads(raw) (orjson where it agrees): ten parses per verification.
    return loads(raw, _stdlib_json)


def parse_disclosure(text: str, field: str = "disclosure") -> tuple[str | None, Any]:
    try:
        parts = _json(_unb64(text, field))
    except (ValueError, UnicodeDecodeError) as e:
        raise ValidationError(f"not a disclosure: {e}", field=field) from e
    if not isinstance(parts, list) or len(parts) not in (2, 3) or not isinstance(parts[0], str):
        raise ValidationError("a disclosure is [salt, name, value] or [salt, value]", field=field)
    if len(parts) == 3:
        if not isinstance(parts[1], str) or parts[1] in (SD_KEY, ARRAY_KEY, SD_ALG_KEY):
            raise ValidationError("a disclosure's name must be a plain member name", field=field)
        return parts[1], parts[2]
    return None, parts[1]


Path = tuple[str | int, ...]


def conceal(
    document: Mapping[str, Any], concealable: Callable[[Path], bool], *, salt: Callable[[], str] | None = None
) -> tuple[dict[str, Any], list[str]]:
    """The document with every member or element for which ``concealable(path)`` holds replaced by a
    digest, and the disclosures (inner ones first: a concealed object may hold concealed members)."""
    disclosures: list[str] = []

    def walk(value: Any, path: Path) -> Any:
        if isinstance(value, dict):
            out: dict[str, Any] = {}
            hidden: list[str] = []
            for key, item in value.items():
                inner = walk(item, (*path, key))
                if concealable((*path, key)):
                    text = make_disclosure(key, inner, salt() if salt else None)
                    disclosures.append(text)
                    hidden.append(digest(text))
                else:
                    out[key] = inner
            if hidden:
                out[SD_KEY] = sorted(hidden)  # sorted: the order must not reveal which member is which
            return out
        if isinstance(value, list):
            items: list[Any] = []
            for i, item in enumerate(value):
                inner = walk(item, (*path, i))
                if concealable((*path, i)):
                    text = make_disclosure(None, inner, salt() if salt else None)
                    disclosures.append(text)
                    items.append({ARRAY_KEY: digest(text)})
                else:
                    items.append(inner)
            return items
        return value

    out = walk(dict(document), ())
    if disclosures:
        out[SD_ALG_KEY] = ALG
    return out, disclosures


_LEAVES = frozenset({str, int, float, bool, type(None)})  # values the walk returns as they are


def reveal(document: Mapping[str, Any], disclosures: Iterable[str]) -> tuple[dict[str, Any], int]:
    """What the disclosures show of the document, and how many values stay hidden.

    Every disclosure must match a digest in the document exactly once; a disclosure that matches
    nothing (forged, or changed by a single byte) or is given twice is an error.

    The walk visits every member of the document (a digest may stand anywhere) but handles the
    plain values inline and an object without ``_sd`` in one comprehension, because a credential is
    mostly strings and numbers: a call per value was most of the cost of a verification's step 2.
    """
    by_digest: dict[str, tuple[str | None, Any]] = {}
    for i, text in enumerate(disclosures):
        key = digest(text)
        if key in by_digest:
            raise ValidationError("the same disclosure is given twice", field=f"disclosures[{i}]")
        by_digest[key] = parse_disclosure(text, f"disclosures[{i}]")
    if document.get(SD_ALG_KEY, ALG) != ALG:
        raise ValidationError(f"only {ALG} commitments are supported", field=SD_ALG_KEY)
    used: set[str] = set()
    hidden = 0

    def take(key: str, want_name: bool) -> tuple[str | None, Any] | None:
        if key in used:
            raise ValidationError("a digest is committed twice in the document", field=SD_KEY)
        found = by_digest.get(key)
        if found is None:
            return None
        if (found[0] is not None) != want_name:
            raise ValidationError("a disclosure does not fit where its digest stands", field=SD_KEY)
        used.add(key)
        return found

    def walk(value: Any) -> Any:
        if isinstance(value, dict):
            if SD_KEY not in value and SD_ALG_KEY not in value:
                return {k: v if type(v) in _LEAVES else walk(v) for k, v in value.items()}
            return walk_committed(value)
        if isinstance(value, list):
            before = hidden
            items = [v if type(v) in _LEAVES else walk_element(v) for v in value]
            return items if hidden == before else [v for v in items if v is not _HIDDEN]
        return value

    def walk_committed(value: dict[str, Any]) -> dict[str, Any]:
        nonlocal hidden
        out = {k: v if type(v) in _LEAVES else walk(v) for k, v in value.items() if k not in _SD_KEYS}
        for key in value.get(SD_KEY, []):
            found = take(key, want_name=True)
            if found is None:
                hidden += 1
                continue
            name, item = found
            assert name is not None
            if name in out:
                raise ValidationError(f"disclosed member {name!r} is also present in clear", field=SD_KEY)
            out[name] = walk(item)
        return out

    def walk_element(item: Any) -> Any:
        # An array element is a value or {"...": digest}; a hidden one is dropped by the caller.
        nonlocal hidden
        if isinstance(item, dict) and len(item) == 1 and ARRAY_KEY in item:
            found = take(item[ARRAY_KEY], want_name=False)
            if found is None:
                hidden += 1
                return _HIDDEN
            return walk(found[1])
        return walk(item)

    shown = walk(document)
    unused = set(by_digest) - used
    if unused:
        raise ValidationError(
            f"{len(unused)} disclosure(s) match no digest in the credential (forged or altered)",
            field="disclosures",
        )
    return shown, hidden


_SD_KEYS = frozenset({SD_KEY, SD_ALG_KEY})
_HIDDEN: Any = object()  # stands for an array element whose disclosure was not given, then dropped


def select(
    document: Mapping[str, Any], disclosures: Iterable[str], keep: Callable[[str | None, Any], bool]
) -> list[str]:
    """The holder's choice: the disclosures to hand over (``keep(name, value)`` decides each)."""
    _ = document
    return [d for d in disclosures if keep(*parse_disclosure(d))]
