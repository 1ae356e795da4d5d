"""What every CLI module shares: consoles, the --db/--json options, the registry context, JSON output."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

# emoji=False: a URN such as urn:x:y must not turn into an emoji
err_console = Console(stderr=True, emoji=False)
out_console = Console(emoji=False)

DbOption = Annotated[
    str | None,
    typer.Option(
        "--db",
        help="SQLite file or database URL (default ./raretrace.db)",
        envvar="RARETRACE_DB",
    ),
]
RegistryKeyOption = Annotated[
    Path | None,
    typer.Option(
        "--registry-key",
        help="PEM file of the registry's private key, for a registry whose database keeps only the "
        "public key (`init` with this option creates one)",
        envvar="RARETRACE_REGISTRY_KEY",
        dir_okay=False,
    ),
]
JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON object.")]


class Context:
    """What the top-level options leave for the sub-commands."""

    def __init__(self, db: str | None, registry_key: Path | None = None) -> None:
        self.db = db
        self.registry_key = registry_key

    def registry(self) -> Any:
        from raretrace.ledger.registry import Registry
        from raretrace.store.db import make_engine

        return Registry(make_engine(self.db, must_exist=True), key_file=self.registry_key)


def _ctx(ctx: typer.Context) -> Context:
    obj = ctx.find_root().obj
    assert isinstance(obj, Context)
    return obj


def emit_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, sort_keys=False) + "\n")
