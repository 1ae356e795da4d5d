"""Reading event and envelope files: one JSON value, a JSON list, or JSON Lines; '-' is stdin.

Errors name the file and the line (or list position) so a user with a thousand-line file knows
which row to fix. Envelope bytes are kept exactly as they appear in JSON Lines and single-envelope
files; items of a JSON list are re-encoded compactly (the signature covers the base64 payload, not
the envelope's whitespace, so this does not change what was signed).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from raretrace.errors import ValidationError


def read_bytes(path: Path) -> bytes:
    if str(path) == "-":
        return sys.stdin.buffer.read()
    try:
        return path.read_bytes()
    except OSError as e:
        raise ValidationError(f"cannot read {path}: {e.strerror}", field="file") from e


def _split(path: Path, data: bytes) -> Iterator[tuple[str, bytes]]:
    """(where, raw JSON bytes) for each item: a whole-file JSON object or list, else JSON Lines."""
    text = data.strip()
    if not text:
        raise ValidationError(f"{path} is empty", field="file")
    try:
        whole = json.loads(text)
    except (UnicodeDecodeError, json.JSONDecodeError):
        whole = None
    if isinstance(whole, list):
        for i, item in enumerate(whole):
            yield f"{path} item {i}", json.dumps(item, separators=(",", ":")).encode()
        return
    if isinstance(whole, dict):
        yield f"{path}", text
        return
    for n, line in enumerate(text.split(b"\n"), start=1):
        if line.strip():
            yield f"{path} line {n}", line.strip()


def read_json_items(path: Path) -> Iterator[tuple[str, Any]]:
    """Parsed JSON values with where each came from."""
    for where, raw in _split(path, read_bytes(path)):
        try:
            yield where, json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise ValidationError(f"{where}: malformed JSON: {e}", field="file") from e


def read_envelopes(path: Path) -> list[bytes]:
    """Envelope bytes as received; parsing and checking them is the registry's job."""
    return [raw for _, raw in _split(path, read_bytes(path))]
