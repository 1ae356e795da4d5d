"""The stored text of a lot's origin vector: its joint paths written compactly, read back exactly.

Every lot carries its origin vector (``provenance``), and as JSON it was most of a lot's row: each
element repeats the same path keys (``"mi=AU|se=MY@AU|ma=JP"``), the keys repeat the same steps
(``se=MY@AU``) and each share takes up to 19 decimal digits. Here each distinct step is written once,
each path key as one character per step, and each element's shares as IEEE 754 doubles
(little-endian, URL-safe base64, unpadded: 11 characters a share).

It stays text, and the place codes stay readable in it (``=CN``), so a database can still pre-filter
lots by a country at any stage with a substring test (store/search.py) on both back ends. It reads
back exactly: the same elements in the same order, each with the same paths in the same order and the
same float values bit for bit, so a vector read back and written as JSON is the JSON the registry
always wrote.

Format (``~``; a JSON vector starts with ``{``, so every vector stored before it reads as before)::

    ~STEP;STEP;… KEY;KEY;…( ELEMENT[:I,I,…][/SHARES])*

* ``STEP``: the distinct ``CODE=PLACE[@TECH]`` parts of the lot's path keys, in order of first use;
* ``KEY``: each distinct path key, in order of first use, as the indexes of its steps in the step
  list, one character each from ``_DIGITS`` (two each when there are more than 64 steps); ``""``
  (untraced material) is the empty string;
* ``ELEMENT``: an element symbol; ``:I,I,…`` the indexes of its paths in the key list, in its own
  order, written only when they are not all the keys in list order;
* ``/SHARES``: its shares in that order, written only when it is not one path with share 1.0.

A vector this cannot carry exactly (an element with marginals only — an older import —, a step or
symbol holding one of ``~;: /,``, an empty step, a share that is not a float, no elements) is stored
as JSON.
"""

from __future__ import annotations

import json
import struct
from base64 import urlsafe_b64decode, urlsafe_b64encode
from collections.abc import Mapping

from raretrace.provenance import ElementOrigin, LotOrigin

_MARK = "~"
_LIST, _PART, _INDEXES, _SHARES, _INDEX, _STEP = ";", " ", ":", "/", ",", "|"
_RESERVED = frozenset(_MARK + _LIST + _PART + _INDEXES + _SHARES + _INDEX)
_DIGITS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-_"
_VALUE = {digit: value for value, digit in enumerate(_DIGITS)}
_WHOLE = (1.0,)


def _plain(text: str) -> bool:
    return bool(text) and _RESERVED.isdisjoint(text)


def _width(steps: int) -> int:
    """Characters a step index takes: one while the digits suffice, else two."""
    return 1 if steps <= len(_DIGITS) else 2


def _digits(at: int, width: int) -> str:
    return _DIGITS[at] if width == 1 else _DIGITS[at // len(_DIGITS)] + _DIGITS[at % len(_DIGITS)]


def _doubles(shares: tuple[float, ...]) -> str:
    packed = struct.pack(f"<{len(shares)}d", *shares)
    return urlsafe_b64encode(packed).rstrip(b"=").decode("ascii")


def _from_doubles(text: str, count: int) -> tuple[float, ...]:
    packed = urlsafe_b64decode(text + "=" * (-len(text) % 4))
    return struct.unpack(f"<{count}d", packed)


def _keys_text(keys: dict[str, int]) -> str | None:
    """The step list and the keys as step indexes, or None if a key has a step the format cannot hold."""
    steps: dict[str, int] = {}
    split = [key.split(_STEP) if key else [] for key in keys]
    for parts in split:
        for part in parts:
            steps.setdefault(part, len(steps))
    if len(steps) > len(_DIGITS) ** 2 or not all(map(_plain, steps)):
        return None
    width = _width(len(steps))
    coded = ("".join(_digits(steps[part], width) for part in parts) for parts in split)
    return _LIST.join(steps) + _PART + _LIST.join(coded)


def _compact(origin: Mapping[str, ElementOrigin]) -> str | None:
    """The compact text, or None where the format cannot carry ``origin`` exactly."""
    index: dict[str, int] = {}
    for element, history in origin.items():
        paths = history.get("paths")
        if len(history) != 1 or not paths or not _plain(element):
            return None
        for key in paths:
            index.setdefault(key, len(index))
    keys = _keys_text(index) if index else None
    if keys is None:
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
    return _MARK + keys + "".join(_PART + segment for segment in segments)


def encode_origin(origin: Mapping[str, ElementOrigin]) -> str:
    """The text stored for ``origin`` (compact where it can be carried exactly, else JSON)."""
    return _compact(origin) or json.dumps(origin, separators=(",", ":"))


def decode_origin(text: str) -> LotOrigin:
    """The origin vector a stored text holds (either form)."""
    if not text.startswith(_MARK):
        origin: LotOrigin = json.loads(text)
        return origin
    step_list, key_list, *segments = text[1:].split(_PART)
    steps = step_list.split(_LIST)
    width = _width(len(steps))
    if width == 1:
        keys = [_STEP.join(steps[_VALUE[c]] for c in coded) for coded in key_list.split(_LIST)]
    else:
        size = len(_DIGITS)
        keys = [
            _STEP.join(steps[_VALUE[coded[i]] * size + _VALUE[coded[i + 1]]] for i in range(0, len(coded), 2))
            for coded in key_list.split(_LIST)
        ]
    out: LotOrigin = {}
    for segment in segments:
        head, _, shares = segment.partition(_SHARES)
        element, _, at = head.partition(_INDEXES)
        names = [keys[int(i)] for i in at.split(_INDEX)] if at else keys
        values = _from_doubles(shares, len(names)) if shares else _WHOLE
        out[element] = {"paths": dict(zip(names, values, strict=True))}
    return out
