"""The stored form of a DSSE envelope: the exact bytes received, compressed without loss.

An envelope is the audit's evidence (the log's leaf is the SHA-256 of its exact bytes), so it must
come back byte for byte. But as received it is JSON carrying its payload in base64 (a third larger
than the payload), and a registry of millions of events spends most of its events table on it. So
an envelope whose payload is written in standard base64 (what every signer here produces) is stored
as the JSON around the payload plus the payload itself, compressed with zstd against a fixed
dictionary of the statement's usual keys (~1.5 KB becomes ~0.3 KB); reading it re-encodes the
payload, which gives back the original bytes exactly because standard base64 has one encoding per
byte string. Anything else (an envelope whose base64 is not the canonical one, a tampered row) is
stored as it came, behind a marker.

Format: a received envelope is JSON, which never starts with a NUL byte, so a stored value that does
not start with ``00`` is a verbatim envelope (every row written before this format). Otherwise:

* ``00 00`` + the envelope verbatim;
* ``00 01`` + varint(len(head)) + varint(len(payload)) + zstd(head + payload + tail), where the
  envelope is ``head + base64(payload) + tail``, compressed with ``_DICTIONARY_V1``.

The dictionary is part of the format: changing it needs a new version byte, never an edit.
"""

from __future__ import annotations

import re

import pybase64
import zstandard

_MARK = b"\x00"
_VERBATIM = b"\x00"
_ZSTD_V1 = b"\x01"

# Keys and constant strings of raretrace's in-toto statements and DSSE envelopes (events.py, dsse.py),
# in the order JCS writes them. Only ever appended to under a new version byte.
_DICTIONARY_V1 = zstandard.ZstdCompressionDict(
    b'","payloadType":"application/vnd.in-toto+json","signatures":[{"keyid":"","sig":""}]}'
    b'{"_type":"https://in-toto.io/Statement/v1","predicate":{"additions":[{"composition":{"Fe":1},'
    b'"mass_kg":,"material":"'
    b'"deposit":"","details":{},"event_id":"urn:raretrace:event:","facility":"","inputs":[{"lot":'
    b'"urn:raretrace:lot:","mass_kg":},'
    b'"kind":"process","outputs":[{"composition":{"B":0.01,"Ce":0.0,"Dy":0.0,"La":0.0,"Nd":0.2,'
    b'"Pr":0.0,"Tb":0.0,"other":0.9},"form":"","id":"urn:raretrace:lot:","mass_kg":}],'
    b'"stage":"","lots":["urn:raretrace:lot:"],"transfer_event":"urn:raretrace:event:transfer-",'
    b'"to":"","time":"2026-01-01T00:00:00Z"},'
    b'"predicateType":"https://raretrace.dev/event/v1","subject":[{"digest":{"sha256":""},'
    b'"name":"urn:raretrace:lot:"}]}',
    dict_type=zstandard.DICT_TYPE_RAWCONTENT,
)
# Level 1: within a few percent of level 9 on envelopes, at a third of the cost (measured).
_COMPRESS = zstandard.ZstdCompressor(
    level=1, dict_data=_DICTIONARY_V1, write_content_size=True, write_checksum=False, write_dict_id=False
)
_DECOMPRESS = zstandard.ZstdDecompressor(dict_data=_DICTIONARY_V1)

# The payload's base64 string: the value of the first "payload" key, as the envelope spells it.
_PAYLOAD = re.compile(rb'"payload"\s*:\s*"([A-Za-z0-9+/=]*)"')


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _read_varint(data: bytes, at: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, at


def pack(raw: bytes, payload: bytes | None = None) -> bytes:
    """The stored form of envelope bytes ``raw`` (``payload``: its decoded payload, if at hand)."""
    found = _PAYLOAD.search(raw)
    if found is not None:
        text = found.group(1)
        if payload is None:
            try:
                payload = pybase64.b64decode(text, validate=True)
            except ValueError:  # binascii.Error
                payload = None
        # Only the canonical base64 of the payload is rebuilt exactly from the payload.
        if payload is not None and pybase64.b64encode(payload) == text:
            head, tail = raw[: found.start(1)], raw[found.end(1) :]
            body = _COMPRESS.compress(head + payload + tail)
            return _MARK + _ZSTD_V1 + _varint(len(head)) + _varint(len(payload)) + body
    return raw if raw[:1] != _MARK else _MARK + _VERBATIM + raw


def unpack(stored: bytes) -> bytes:
    """The envelope bytes exactly as received, from their stored form (or a row stored verbatim)."""
    stored = bytes(stored)
    if stored[:1] != _MARK:
        return stored
    version = stored[1:2]
    if version == _VERBATIM:
        return stored[2:]
    if version != _ZSTD_V1:
        raise ValueError(f"unknown stored envelope format {version.hex()}")
    head_len, at = _read_varint(stored, 2)
    payload_len, at = _read_varint(stored, at)
    body = _DECOMPRESS.decompress(stored[at:])
    payload_end = head_len + payload_len
    return body[:head_len] + pybase64.b64encode(body[head_len:payload_end]) + body[payload_end:]
