"""The stored text of a lot's origin vector: its joint paths written compactly, read back exactly.

Every lot carries its origin vector (``provenance``), and as JSON it was most of a lot's row: each
element repeats the same path keys (``"mi=AU|se=MY@AU|ma=JP"``) and writes each share as up to 19
decimal digits. A lot's elements share their histories, so here the path keys are written once and
each element's shares as its IEEE 754 doubles (little-endian, URL-safe base64, unpadded): 11 ASCII
characters a share instead of ~20, and the key text once a lot instead of once an element.

It stays text, and the place codes stay readable in it (``=CN``), so a database can still pre-filter
lots by a country at any stage with a substring test (store/search.py) on both back ends. It reads
back exactly: the same elements in the same order, each with the same paths in the same order and the
same float values bit for bit, so a vector read back and written as JSON is the JSON the registry
always wrote.

Format (version ``~``; a JSON vector starts with ``{``, so every vector stored before it reads as
before)::

    ~KEY;KEY;…( ELEMENT[:I,I,…][/SHARES])*

* ``KEY``: the lot's distinct path keys in order of first use (``""``, untraced material, included);
* ``ELEMENT``: an element symbol; ``:I,I,…`` the indexes of its paths in the key list, in its own
  order, written only when they are not all the keys in list order;
* ``/SHARES``: its shares in that order, written only when it is not one path with share 1.0.

A vector this cannot carry exactly (an element with marginals only — an older import —, a key or
symbol holding one of ``~;: /,``, a share that is not a float, no elements) is stored as JSON.
"""

from __future__ import annotations

import json
import struct
from base64 import urlsafe_b64decode, urlsafe_b64encode
from collections.abc import Mapping

from raretrace.provenance import ElementOrigin, LotOrigin

_MARK = "~"
_KEYS, _ELEMENT, _INDEXES, _SHARES, _INDEX = ";", " ", ":", "/", ","
_RESERVED = frozenset(_MARK + _KEYS + _ELEMENT + _INDEXES + _SHARES + _INDEX)
_WHOLE = (1.0,)


def _plain(text: str) -> bool:
    return _RESERVED.isdisjoint(text)


def _doubles(shares: tuple[float, ...]) -> str:
    packed = struct.pack(f"<{len(shares)}d", *shares)
    return urlsafe_b64encode(packed).rstrip(b"=").decode("ascii")


def _from_doubles(text: str, count: int) -> tuple[float, ...]:
    packed = urlsafe_b64decode(text + "=" * (-len(text) % 4))
    return struct.unpack(f"<{count}d", packed)


def _compact(origin: Mapping[str, ElementOrigin]) -> str | None:
    """The compact text, or None where the format cannot carry ``origin`` exactly."""
    index: dict[str, int] = {}
    for element, history in origin.items():
        paths = history.get("paths")
        if len(history) != 1 or not paths or not _plain(element):
            return None
        for key in paths:
            index.setdefault(key, len(index))
    if not index or not all(_plain(key) for key in index):
        return None
    every = list(range(len(index)))
    segments = []
    for element, history in origin.items():
        paths = history["paths"]
        shares = tuple(paths.values())
        if not all(type(share) is float for share in shares):
            return None
        at = [index[key] for key in paths]
        segment = element
        if at != every:
            segment += _INDEXES + _INDEX.join(map(str, at))
        if shares != _WHOLE:
            segment += _SHARES + _doubles(shares)
        segments.append(segment)
    return _MARK + _KEYS.join(index) + "".join(_ELEMENT + segment for segment in segments)


def encode_origin(origin: Mapping[str, ElementOrigin]) -> str:
    """The text stored for ``origin`` (compact where it can be carried exactly, else JSON)."""
    return _compact(origin) or json.dumps(origin, separators=(",", ":"))


def decode_origin(text: str) -> LotOrigin:
    """The origin vector a stored text holds (either form)."""
    if not text.startswith(_MARK):
        origin: LotOrigin = json.loads(text)
        return origin
    table, *segments = text[1:].split(_ELEMENT)
    keys = table.split(_KEYS)
    out: LotOrigin = {}
    for segment in segments:
        head, _, shares = segment.partition(_SHARES)
        element, _, at = head.partition(_INDEXES)
        names = [keys[int(i)] for i in at.split(_INDEX)] if at else keys
        values = _from_doubles(shares, len(names)) if shares else _WHOLE
        out[element] = {"paths": dict(zip(names, values, strict=True))}
    return out
