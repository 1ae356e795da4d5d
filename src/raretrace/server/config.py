"""What ``raretrace serve`` runs with: its flags, the environment and a TOML file, in that order.

Every flag can be set in the file (``--config FILE``) under its own name with ``_`` for ``-``::

    db = "postgresql+psycopg://raretrace@db/registry"
    host = "0.0.0.0"
    port = 8000
    workers = 2
    dev = false
    registry_key = "/run/secrets/registry.pem"

A flag given on the command line wins over its environment variable (``RARETRACE_DB``,
``RARETRACE_HOST``, ``RARETRACE_PORT``, ``RARETRACE_WORKERS``, ``RARETRACE_DEV``,
``RARETRACE_REGISTRY_KEY``), which wins over the file, which wins over the default: the file holds a
deployment's settings and the environment adjusts them per container. An unknown key, a value of the
wrong type or out of range is refused naming the key; nothing is started.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from raretrace.errors import NotFoundError, ValidationError

PORTS = (1, 65535)
WORKERS = (1, 64)
ENV = {
    "db": "RARETRACE_DB",
    "host": "RARETRACE_HOST",
    "port": "RARETRACE_PORT",
    "workers": "RARETRACE_WORKERS",
    "dev": "RARETRACE_DEV",
    "registry_key": "RARETRACE_REGISTRY_KEY",
}


@dataclass(frozen=True)
class ServeOptions:
    db: str | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    dev: bool = False
    registry_key: str | None = None


TYPES: dict[str, type] = {
    "db": str,
    "host": str,
    "port": int,
    "workers": int,
    "dev": bool,
    "registry_key": str,
}
RANGES: dict[str, tuple[int, int]] = {"port": PORTS, "workers": WORKERS}


def read_config(path: Path) -> dict[str, Any]:
    """The file's settings, each checked against the flag it stands for."""
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise NotFoundError(f"cannot read {path}: {e.strerror}", field="config") from e
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ValidationError(f"{path} is not TOML: {e}", field="config") from e
    for key, value in data.items():
        expected = TYPES.get(key)
        if expected is None:
            known = ", ".join(TYPES)
            raise ValidationError(f"{path}: unknown setting {key!r} (known: {known})", field=key)
        # bool is an int to Python; a port of `true` is still wrong
        if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
            raise ValidationError(
                f"{path}: {key} must be {expected.__name__}, not {type(value).__name__} {value!r}", field=key
            )
        low, high = RANGES.get(key, (0, 0))
        if isinstance(value, int) and key in RANGES and not low <= value <= high:
            raise ValidationError(f"{path}: {key} must be from {low} to {high}, not {value}", field=key)
    return data


def resolve(given: dict[str, Any], config: Path | None) -> ServeOptions:
    """``given``: each flag's value from the command line or its environment variable, None where
    neither set it; the file fills those, the defaults the rest."""
    from_file = read_config(config) if config is not None else {}
    names = [f.name for f in fields(ServeOptions)]
    chosen = {name: given[name] if given.get(name) is not None else from_file.get(name) for name in names}
    return ServeOptions(**{k: v for k, v in chosen.items() if v is not None})
