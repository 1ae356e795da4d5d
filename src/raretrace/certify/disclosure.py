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
from enum import Enum

from raretrace.crypto import b64
from raretrace.crypto.canonical import (
    JCS_PLAIN_INTS,
    DoubtfulNumberError,
    jcs_float,
    jcs_int,
    loads,
    prechecked,
)
from raretrace.errors import ValidationError
from raretrace.jsontypes import JSONObject, JSONValue

SD_KEY = "_sd"
SD_ALG_KEY = "_sd_alg"
ARRAY_KEY = "..."
ALG = "sha-256"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str, field: str) -> bytes:
    try:
        return b64.urlsafe(text)
    except ValueError as e:  # binascii.Error, or a character beyond ASCII
        raise ValidationError(f"not base64url: {e}", field=field) from e


def digest(disclosure: str) -> str:
    """The base64url SHA-256 of the disclosure's ASCII text (what the document commits to)."""
    hashed = hashlib.sha256(disclosure.encode("ascii")).digest()
    # 32 bytes are 43 base64 characters and one '=' of padding.
    return binascii.b2a_base64(hashed, newline=False)[:43].decode("ascii").replace("+", "-").replace("/", "_")


def make_disclosure(name: str | None, value: JSONValue, salt: str | None = None) -> str:
    """``[salt, name, value]`` for an object member, ``[salt, value]`` for an array element."""
    salt = salt or _b64(secrets.token_bytes(16))
    parts: list[JSONValue] = [salt, value] if name is None else [salt, name, value]
    try:
        return _b64(json.dumps(parts, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))
    except UnicodeEncodeError as e:  # a lone surrogate: no UTF-8 JSON text can carry it
        raise ValidationError(
            f"cannot be disclosed: {e.reason} (a lone surrogate in a string)", field=name or "disclosure"
        ) from e


def _stdlib_json(raw: bytes) -> object:
    # json.loads(bytes) first guesses the encoding and then decodes with "surrogatepass"; for bytes
    # that start with '[' and a non-NUL byte its guess is UTF-8, so decoding here gives the same value
    # without the guessing.
    if raw[:1] == b"[" and raw[1:2] not in (b"", b"\x00"):
        return json.loads(raw.decode("utf-8", "surrogatepass"))
    return json.loads(raw)


def _json(raw: bytes) -> object:
    # The same value as json.loads(raw) (orjson where it agrees): ten parses per verification.
    value: object = loads(raw, _stdlib_json)
    return value


def parse_disclosure(text: str, field: str = "disclosure") -> tuple[str | None, JSONValue]:
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
    document: Mapping[str, JSONValue],
    concealable: Callable[[Path], bool],
    *,
    salt: Callable[[], str] | None = None,
) -> tuple[JSONObject, list[str]]:
    """The document with every member or element for which ``concealable(path)`` holds replaced by a
    digest, and the disclosures (inner ones first: a concealed object may hold concealed members)."""
    disclosures: list[str] = []

    def walk_object(value: Mapping[str, JSONValue], path: Path) -> JSONObject:
        out: JSONObject = {}
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
            out[SD_KEY] = list[JSONValue](sorted(hidden))  # sorted: the order must not reveal which is which
        return out

    def walk(value: JSONValue, path: Path) -> JSONValue:
        if isinstance(value, dict):
            return walk_object(value, path)
        if isinstance(value, list):
            items: list[JSONValue] = []
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

    out = walk_object(document, ())
    if disclosures:
        out[SD_ALG_KEY] = ALG
    return out, disclosures


_LEAVES = frozenset({str, int, float, bool, type(None)})  # values the walk returns as they are
_PLAIN = frozenset({str, bool, type(None)})  # leaves JCS writes as they are


class _Hidden(Enum):
    """An array element whose disclosure was not given: dropped from what is shown."""

    HIDDEN = "hidden"


def reveal(document: JSONObject, disclosures: Iterable[str]) -> tuple[JSONObject, int]:
    """What the disclosures show of the document, and how many values stay hidden.

    Every disclosure must match a digest in the document exactly once; a disclosure that matches
    nothing (forged, or changed by a single byte) or is given twice is an error. The result is a copy:
    it shares no object or array with the document.

    The walk visits every member of the document (a digest may stand anywhere), but a credential is
    mostly strings and numbers: each container is copied whole in C and only its members that are
    containers themselves are replaced by their walked copies, so a plain value costs one type test.
    """
    revealing = _Revealing(document, disclosures)
    return revealing.finish(revealing.walk_object(document))


def reveal_signed(
    document: JSONObject, disclosures: Iterable[str]
) -> tuple[JSONObject, int, JSONObject | None]:
    """``reveal``, and from the same walk the signed document as ``canonical_bytes`` hashes it.

    Unlike ``reveal``'s, what is shown is not a copy: it shares every object and array that holds no
    commitment with the document, for a reader that only reads it (the verifier; allocating a copy
    of the whole credential cost about 3% of a verification). The third value is
    ``canonical.prechecked`` of the document with its numbers as JCS writes them (``jcs_int``,
    ``jcs_float``), or None where the canonical module must decide itself (a number it leaves to
    the reference, a type that is not plain JSON). A verifier hashes the credential and
    reveals it: one walk instead of two (the two were about a fifth of a verification's time, sampled
    with py-spy on the benchmark's 400 certificates). The errors are those of ``reveal``.
    """
    revealing = _Revealing(document, disclosures)
    if type(document) is dict and (SD_KEY in document or SD_ALG_KEY in document):
        shown, signed = revealing.committed_signed(document)
    elif type(document) is dict:
        shown, signed = revealing.object_signed(document)
    else:  # a subclass: shown as reveal shows it, hashed by canonical.py itself
        revealing.doubtful = True
        shown, signed = revealing.walk_object(document), document
    result, hidden = revealing.finish(shown)
    return result, hidden, None if revealing.doubtful else prechecked(signed)


class _Revealing:
    """One reveal: the disclosures by digest, the digests used so far, the values left hidden."""

    def __init__(self, document: Mapping[str, JSONValue], disclosures: Iterable[str]) -> None:
        by_digest: dict[str, tuple[str | None, JSONValue]] = {}
        for i, text in enumerate(disclosures):
            try:
                key = digest(text)
            except UnicodeEncodeError as e:
                where = f"disclosures[{i}]"
                raise ValidationError("not base64url: a character beyond ASCII", field=where) from e
            if key in by_digest:
                raise ValidationError("the same disclosure is given twice", field=f"disclosures[{i}]")
            by_digest[key] = parse_disclosure(text, f"disclosures[{i}]")
        if document.get(SD_ALG_KEY, ALG) != ALG:
            raise ValidationError(f"only {ALG} commitments are supported", field=SD_ALG_KEY)
        self.by_digest = by_digest
        self.used: set[str] = set()
        self.hidden = 0
        self.doubtful = False  # reveal_signed: a value canonical.py must walk itself

    def finish(self, shown: JSONObject) -> tuple[JSONObject, int]:
        unused = set(self.by_digest) - self.used
        if unused:
            raise ValidationError(
                f"{len(unused)} disclosure(s) match no digest in the credential (forged or altered)",
                field="disclosures",
            )
        return shown, self.hidden

    def take(self, key: object, want_name: bool) -> tuple[str | None, JSONValue] | None:
        if type(key) is not str:
            raise ValidationError("a digest must be a string", field=SD_KEY)
        if key in self.used:
            raise ValidationError("a digest is committed twice in the document", field=SD_KEY)
        found = self.by_digest.get(key)
        if found is None:
            return None
        if (found[0] is not None) != want_name:
            raise ValidationError("a disclosure does not fit where its digest stands", field=SD_KEY)
        self.used.add(key)
        return found

    def element(self, item: Mapping[str, JSONValue]) -> JSONValue | _Hidden:
        """An array element ``{"...": digest}``: its disclosed value, walked, or HIDDEN."""
        found = self.take(item[ARRAY_KEY], want_name=False)
        if found is None:
            self.hidden += 1
            return _Hidden.HIDDEN
        return self.walk(found[1])

    def members(self, out: JSONObject, value: Mapping[str, JSONValue]) -> JSONObject:
        """``out`` with the members ``value``'s digests disclose."""
        digests = value.get(SD_KEY, [])
        if not isinstance(digests, list):
            raise ValidationError("must be an array of digests", field=SD_KEY)
        for key in digests:
            found = self.take(key, want_name=True)
            if found is None:
                self.hidden += 1
                continue
            name, item = found
            assert name is not None
            if name in out:
                raise ValidationError(f"disclosed member {name!r} is also present in clear", field=SD_KEY)
            out[name] = self.walk(item)
        return out

    def walk(self, value: JSONValue) -> JSONValue:
        if isinstance(value, dict):
            return self.walk_object(value)
        if isinstance(value, list):
            return self.walk_array(value)
        return value

    def walk_object(self, value: JSONObject) -> JSONObject:
        if SD_KEY in value or SD_ALG_KEY in value:
            walk = self.walk
            out = {k: v if type(v) in _LEAVES else walk(v) for k, v in value.items() if k not in _SD_KEYS}
            return self.members(out, value)
        out = value.copy() if type(value) is dict else dict(value)
        for key, item in value.items():
            if type(item) not in _LEAVES:
                out[key] = self.walk(item)
        return out

    def walk_array(self, value: list[JSONValue]) -> list[JSONValue]:
        items = value.copy() if type(value) is list else list(value)
        dropped: set[int] | None = None
        for i, item in enumerate(value):
            if type(item) not in _LEAVES:
                # An array element is a value or {"...": digest}; a hidden one is dropped.
                if isinstance(item, dict) and ARRAY_KEY in item and len(item) == 1:
                    new = self.element(item)
                    if new is _Hidden.HIDDEN:
                        dropped = {i} if dropped is None else dropped | {i}
                    else:
                        items[i] = new
                else:
                    items[i] = self.walk(item)
        return items if dropped is None else [v for i, v in enumerate(items) if i not in dropped]

    def walk_signed(self, value: JSONValue) -> tuple[JSONValue, JSONValue]:
        """(What ``walk`` shows, the value with its numbers as JCS writes them), each the value itself
        where nothing in it changes: what is shown is new only along the paths to a commitment.

        The same visits in the same order as ``walk``, so the same errors, and the checks of
        ``canonical._jcs_numbers`` on the signed values: a number or type it would leave to the
        reference sets ``doubtful`` and the walk goes on (the caller then hashes as before).
        """
        if type(value) is dict:
            if SD_KEY in value or SD_ALG_KEY in value:
                return self.committed_signed(value)
            return self.object_signed(value)
        if type(value) is list:
            return self.array_signed(value)
        # Subclasses, anything else: shown as reveal shows them, hashed by canonical.py itself.
        self.doubtful = True
        return self.walk(value), value

    def container_signed(self, value: JSONValue) -> tuple[JSONValue, JSONValue]:
        """``walk_signed`` of a member or element that is not a plain leaf: an object without
        commitments or an array is walked here, without the extra call through ``walk_signed``
        (a credential has about sixty of them). Most hold no commitment and no number JCS writes
        otherwise (``_unchanged``): those are what they are, shown and signed, without the walk."""
        if _unchanged(value, _UNCHANGED_DEPTH):
            return value, value
        if type(value) is list:
            return self.array_signed(value)
        if type(value) is dict and SD_KEY not in value and SD_ALG_KEY not in value:
            return self.object_signed(value)
        return self.walk_signed(value)

    def object_signed(self, value: JSONObject) -> tuple[JSONObject, JSONObject]:
        """``walk_signed`` of an object without commitments of its own."""
        shown = value  # copied only if something in it is revealed
        signed: JSONObject | None = None  # copied only if one of its numbers is written otherwise
        for key, item in value.items():
            if type(item) in _PLAIN:
                continue
            if type(item) is int or type(item) is float:
                new = self.number(item)  # the int itself when JCS writes it as it is
            else:
                walked, new = self.container_signed(item)
                if walked is not item:
                    if shown is value:
                        shown = dict(value)
                    shown[key] = walked
            if new is not item:
                if signed is None:
                    signed = dict(value)
                signed[key] = new
        return shown, value if signed is None else signed

    def array_signed(self, value: list[JSONValue]) -> tuple[list[JSONValue], list[JSONValue]]:
        """``walk_signed`` of an array. An element ``{"...": digest}`` is shown as disclosed (or
        dropped) and signed as it stands."""
        shown = value  # copied only if something in it is revealed
        signed: list[JSONValue] | None = None  # copied only if one of its numbers is written otherwise
        dropped: set[int] | None = None
        for i, item in enumerate(value):
            if type(item) in _PLAIN:
                continue
            if type(item) is int or type(item) is float:
                new = self.number(item)
            elif isinstance(item, dict) and ARRAY_KEY in item and len(item) == 1:
                if shown is value:
                    shown = list(value)
                revealed = self.element(item)
                if revealed is _Hidden.HIDDEN:
                    dropped = {i} if dropped is None else dropped | {i}
                else:
                    shown[i] = revealed
                _, new = self.walk_signed(item)  # the digest itself, as signed
            else:
                walked, new = self.container_signed(item)
                if walked is not item:
                    if shown is value:
                        shown = list(value)
                    shown[i] = walked
            if new is not item:
                if signed is None:
                    signed = list(value)
                signed[i] = new
        if dropped is not None:
            shown = [v for i, v in enumerate(shown) if i not in dropped]
        return shown, value if signed is None else signed

    def committed_signed(self, value: JSONObject) -> tuple[JSONObject, JSONObject]:
        """``walk_signed`` of an object with commitments: ``_sd`` is not shown but is signed."""
        shown: JSONObject = {}
        signed: JSONObject | None = None
        for key, item in value.items():
            if key in _SD_KEYS:
                if type(item) in _PLAIN:
                    continue
                new = self.number(item) if type(item) is int or type(item) is float else self.digests(item)
            elif type(item) in _PLAIN:
                shown[key] = item
                continue
            elif type(item) is int or type(item) is float:
                shown[key] = item
                new = self.number(item)
            else:
                shown[key], new = self.container_signed(item)
            if new is not item:
                if signed is None:
                    signed = value.copy()
                signed[key] = new
        return self.members(shown, value), value if signed is None else signed

    def digests(self, value: JSONValue) -> JSONValue:
        """An ``_sd`` array as signed: strings only, else canonical.py decides (``members`` judges it)."""
        if type(value) is not list or not _PLAIN.issuperset(map(type, value)):
            self.doubtful = True
        return value

    def number(self, value: int | float) -> JSONValue:
        try:
            return jcs_int(value) if type(value) is int else jcs_float(value)
        except DoubtfulNumberError:
            self.doubtful = True
            return value


_SD_KEYS = frozenset({SD_KEY, SD_ALG_KEY})
_MIN_INT, _MAX_INT = JCS_PLAIN_INTS.start - 1, JCS_PLAIN_INTS.stop
# How deep ``_unchanged`` looks: a credential's plain parts (an origin vector: element, location,
# stage, country -> share; a compliance outcome and its lists) are at most four levels deep.
_UNCHANGED_DEPTH = 4


def _unchanged(value: JSONValue, depth: int) -> bool:
    """Whether ``walk_signed(value)`` is ``(value, value)`` with nothing doubtful: an exact dict or
    list, at most ``depth`` levels of containers below it, with no member named ``_sd``, ``_sd_alg``
    or ``...`` anywhere (so no commitment and no error to report), every int one JCS writes as it is
    and every float one it writes as it is (not integral, no exponent, under 16 digits).

    The walk over a credential is mostly such parts (origin vectors, compliance outcomes): deciding
    them in one tight function, without building the (shown, signed) pairs, was a third of the walk.
    False only means "walk it": the walk then decides, with its errors, as it always did. The depth
    bound keeps a document nested deep above a commitment from being looked over once per level (each
    container is looked at by at most ``depth + 1`` of these checks).
    """
    items: Iterable[JSONValue]
    if type(value) is dict:
        if SD_KEY in value or SD_ALG_KEY in value or ARRAY_KEY in value:
            return False
        items = value.values()
    elif type(value) is list:
        items = value
    else:
        return False
    for item in items:
        inner = type(item)
        if inner in _PLAIN:
            continue
        if inner is int:
            if _MIN_INT < item < _MAX_INT:  # type: ignore[operator]  # an int: checked above
                continue
            return False
        if inner is float:
            if _float_kept(item):  # type: ignore[arg-type]  # a float: checked above
                continue
            return False
        if depth == 0 or not _unchanged(item, depth - 1):
            return False
    return True


def _float_kept(value: float) -> bool:
    """Whether JCS writes the float as the fast path writes it (``jcs_float`` returns it itself)."""
    try:
        return jcs_float(value) is value
    except DoubtfulNumberError:
        return False


def select(
    document: Mapping[str, JSONValue],
    disclosures: Iterable[str],
    keep: Callable[[str | None, JSONValue], bool],
) -> list[str]:
    """The holder's choice: the disclosures to hand over (``keep(name, value)`` decides each)."""
    _ = document
    return [d for d in disclosures if keep(*parse_disclosure(d))]
