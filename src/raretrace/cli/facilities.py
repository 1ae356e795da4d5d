"""Facilities: register one with its keys, list them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from raretrace.cli.common import (
    JsonFlag,
    _ctx,
    emit_json,
    out_console,
)
from raretrace.errors import RaretraceError

facility_app = typer.Typer(help="Register and list facilities.", no_args_is_help=True)


def facility_add(
    ctx: typer.Context,
    facility_id: Annotated[str, typer.Option("--id", help="Facility id (e.g. an RMAP-style id)")],
    name: Annotated[str, typer.Option(help="Facility name")],
    operator: Annotated[str, typer.Option(help="Operating company")],
    country: Annotated[str, typer.Option(help="ISO 3166-1 alpha-2 country")],
    stage: Annotated[list[str], typer.Option(help="Stage performed, or 'assay' (repeat)")],
    key: Annotated[list[Path], typer.Option(help="Public key file of the facility (PEM or base64; repeat)")],
    tech: Annotated[list[str] | None, typer.Option(help="Technology origin STAGE=CC (repeat)")] = None,
    accreditation: Annotated[str | None, typer.Option(help="Accreditation (required for labs)")] = None,
    valid_from: Annotated[str | None, typer.Option(help="Keys valid from (RFC 3339; default now)")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Register a facility and its keys (a register_facility event signed by the registry).

    Example: raretrace --db registry.db facility add --id US-MP-MINE --name "Mountain Pass mine"
    --operator "MP Materials" --country US --stage mining --stage separation --key mine.key.pub
    """
    from raretrace.crypto.keys import load_public_key
    from raretrace.ledger.admin import register_facility

    technology: dict[str, str] = {}
    for item in tech or []:
        stage_name, sep, cc = item.partition("=")
        if not sep:
            raise RaretraceError(f"{item!r} is not STAGE=COUNTRY", field="tech")
        technology[stage_name.strip()] = cc.strip()
    spec = {
        "id": facility_id,
        "name": name,
        "operator": operator,
        "country": country,
        "stages": stage,
        "technology": technology,
    }
    if accreditation:
        spec["accreditation"] = accreditation
    keys = [load_public_key(k) for k in key]
    registry = _ctx(ctx).registry()
    result = register_facility(registry, spec, keys, valid_from=valid_from)
    if as_json:
        emit_json({"facility": facility_id, "log_index": result.first_index, "tree_size": result.tree_size})
    else:
        out_console.print(f"registered {facility_id} at log index {result.first_index}")


def facility_list(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """List registered facilities.

    Example: raretrace --db registry.db facility list --json
    """
    registry = _ctx(ctx).registry()
    with registry.engine.connect() as conn:
        facilities = registry.store.all_facilities(conn)
    if as_json:
        emit_json({"facilities": [f.to_dict() for f in facilities]})
        return
    from raretrace.render.tables import print_table

    rows = [
        [escape(x) for x in (f.id, f.name, f.operator, f.country, ", ".join(sorted(f.activities)))]
        for f in facilities
    ]
    print_table(out_console, ["id", "name", "operator", "country", "stages"], rows)


def register(app: typer.Typer) -> None:
    facility_app.command("add")(facility_add)
    facility_app.command("list")(facility_list)
    app.add_typer(facility_app, name="facility")
