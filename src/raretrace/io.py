"""Reading files people hand to raretrace: one JSON document, or a file of event and envelope items
(one JSON value, a JSON list, or JSON Lines); '-' is stdin.

One reader, one error shape, for every command that reads a JSON file: a file that cannot be read is a
``NotFoundError`` (exit 5) ``cannot read <file>: <reason>``; a file that is not JSON is a
``ValidationError`` (exit 2) ``<file> is not JSON: line L column C: <reason>``, naming the option or
argument it came from as the field — so a user with a thousand-line file knows which line to fix.

Envelope bytes are kept exactly as they appear in JSON Lines and single-envelope files; items of a JSON
list are re-encoded compactly (the signature covers the base64 payload, not the envelope's whitespace,
so this does not change what was signed).

Package data (the price table, the world datasets, the shipped scenarios, the deposit library) is read
the same way by ``read_package_json``: an unreadable or malformed file names itself
(``raretrace/data/prices.json is not JSON: line 3 column 5: …``), so a broken installation says which
file to restore.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

from raretrace.errors import NotFoundError, ValidationError, too_deep
from raretrace.jsontypes import JSONValue


def read_bytes(path: Path, field: str = "file") -> bytes:
    """The file's bytes ('-': standard input); an unreadable file is not found, naming ``field``."""
    if str(path) == "-":
        return sys.stdin.buffer.read()
    try:
        return path.read_bytes()
    except OSError as e:
        raise NotFoundError(f"cannot read {path}: {e.strerror}", field=field) from e


def not_json(path: Path | str, reason: str, field: str) -> ValidationError:
    """The one error for a file that is not JSON."""
    return ValidationError(f"{path} is not JSON: {reason}", field=field)


def parse_json(data: bytes, path: Path | str, field: str = "file", *, line_offset: int = 0) -> JSONValue:
    """One JSON value from ``data`` (UTF-8, a byte-order mark tolerated); errors in the one shape, with the
    line (plus ``line_offset``, for a line of a larger file) and column of the fault."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise not_json(path, f"not UTF-8 text (byte {e.start})", field) from e
    try:
        value: JSONValue = json.loads(text)
    except json.JSONDecodeError as e:
        raise not_json(path, f"line {e.lineno + line_offset} column {e.colno}: {e.msg}", field) from e
    except RecursionError as e:
        raise too_deep(field) from e
    return value


def read_json_file(path: Path, field: str = "file") -> JSONValue:
    """The one JSON document in a file (certificates, trusted keys, consortium files, price tables,
    scenarios, libraries, EPCIS documents …)."""
    data = read_bytes(path, field)
    if not data.strip():
        raise not_json(path, "the file is empty", field)
    return parse_json(data, path, field)


def read_package_json(name: str) -> JSONValue:
    """The JSON document ``name`` (``data/prices.json``) of the installed package, its errors naming it."""
    where = f"raretrace/{name}"
    try:
        data = resources.files("raretrace").joinpath(name).read_bytes()
    except OSError as e:
        raise NotFoundError(f"cannot read {where}: {e.strerror or e}", field=name) from e
    return parse_json(data, where, name)


def read_package_table(name: str) -> dict[str, JSONValue]:
    """``read_package_json`` of a document that must be one JSON object (a table)."""
    value = read_package_json(name)
    if not isinstance(value, dict):
        raise ValidationError("must be a JSON object", field=f"raretrace/{name}")
    return value


def package_json_folder(folder: str) -> dict[str, dict[str, JSONValue]]:
    """Every ``*.json`` document (each a JSON object) of the package's ``folder``, by file name without
    ``.json``, in name order."""
    names = sorted(f.name for f in resources.files("raretrace").joinpath(folder).iterdir())
    return {
        name.removesuffix(".json"): read_package_table(f"{folder}/{name}")
        for name in names
        if name.endswith(".json")
    }


def _split(path: Path, data: bytes) -> Iterator[tuple[str, int, bytes]]:
    """(where, line number, raw JSON bytes) for each item: a whole-file JSON object or list, else JSON
    Lines (line 0 for items that are not lines of the file)."""
    text = data.strip()
    if not text:
        raise not_json(path, "the file is empty", "file")
    try:
        whole = json.loads(text)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        whole = None
    if isinstance(whole, list):
        for i, item in enumerate(whole):
            yield f"{path} item {i}", 0, json.dumps(item, separators=(",", ":")).encode()
        return
    if isinstance(whole, dict):
        yield f"{path}", 0, text
        return
    first = len(data) - len(data.lstrip())  # the lines stripped from the start still count
    offset = data[:first].count(b"\n")
    for n, line in enumerate(text.split(b"\n"), start=1 + offset):
        if line.strip():
            yield f"{path} line {n}", n, line.strip()


def read_json_items(path: Path) -> Iterator[tuple[str, JSONValue]]:
    """Parsed JSON values with where each came from."""
    for where, line, raw in _split(path, read_bytes(path)):
        yield where, parse_json(raw, path, "file", line_offset=max(line - 1, 0))


def read_envelopes(path: Path) -> list[bytes]:
    """Envelope bytes as received; parsing and checking them is the registry's job."""
    return [raw for _, _, raw in _split(path, read_bytes(path))]
