"""``raretrace search`` and ``raretrace lot list``: the lots matching filters, with counts by form,
stage, producer country and producer; a table, one JSON object (--json) or CSV of every match (--csv)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from raretrace.cli.common import JsonFlag, _ctx, emit_json, emit_text, out_console
from raretrace.render.jsonable import jsonable

Many = Annotated[list[str] | None, typer.Option()]


def search(
    ctx: typer.Context,
    text: Annotated[str | None, typer.Argument(help="A part of the lot id")] = None,
    form: Annotated[list[str] | None, typer.Option("--form", help="Lot form; repeatable")] = None,
    stage: Annotated[list[str] | None, typer.Option("--stage", help="Stage that made it; repeatable")] = None,
    facility: Annotated[str | None, typer.Option(help="Produced or held by this facility")] = None,
    producer_country: Annotated[
        list[str] | None, typer.Option("--producer-country", help="ISO code of the producer; repeatable")
    ] = None,
    element: Annotated[str | None, typer.Option(help="Contains this element, e.g. Dy")] = None,
    country: Annotated[str | None, typer.Option(help="Some stage of its history done there (ISO)")] = None,
    verdict: Annotated[
        str | None, typer.Option(help="REGIME=OUTCOME, e.g. us-dfars-252.225-7052=fail")
    ] = None,
    created_from: Annotated[
        str | None, typer.Option("--from", help="Created on or after (YYYY-MM-DD)")
    ] = None,
    created_to: Annotated[str | None, typer.Option("--to", help="Created on or before (YYYY-MM-DD)")] = None,
    sort: Annotated[str, typer.Option(help="id, mass_kg, created_time, form, producer; '-' descends")] = "id",
    limit: Annotated[int, typer.Option(min=0, help="Lots shown (0: every match)")] = 50,
    offset: Annotated[int, typer.Option(min=0, help="Lots skipped")] = 0,
    as_csv: Annotated[bool, typer.Option("--csv", help="Every match as CSV on stdout")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Find lots by id, facility, form, stage, element, producer country, a country at any stage, a
    verdict and dates; with the total and counts by form, stage, producer country and producer.

    Example: raretrace --db demo.db search --form magnet --country CN --verdict us-dfars-252.225-7052=fail
    """
    from raretrace.ledger.search import LotQuery, parse_day, parse_verdict, search_lots
    from raretrace.render.tables import print_table
    from raretrace.render.verdicts import search_csv

    regime, outcome = parse_verdict(verdict)
    query = LotQuery(
        text=text,
        forms=tuple(form or ()),
        stages=tuple(stage or ()),
        facility=facility,
        producer_countries=tuple(c.upper() for c in producer_country or ()),
        element=element,
        country=country.upper() if country else None,
        regime=regime,
        outcome=outcome,
        created_from=parse_day(created_from, "from"),
        created_to=parse_day(created_to, "to"),
        sort=sort,
        limit=None if limit == 0 or as_csv else limit,
        offset=0 if as_csv else offset,
    )
    result = search_lots(_ctx(ctx).registry(), query)
    if as_csv:
        emit_text(search_csv(result))
        return
    if as_json:
        emit_json(jsonable(result))
        return
    first = offset + 1 if result.lots else 0
    out_console.print(
        f"{result.total:,} lot(s) match; showing {first}–{offset + len(result.lots)}", highlight=False
    )
    rows = [
        [escape(h.id), h.form, f"{h.mass_kg:,.6g} kg", escape(f"{h.producer} ({h.producer_country or '?'})")]
        + ([h.verdict or ""] if regime else [])
        for h in result.lots
    ]
    print_table(out_console, ["lot", "form", "mass", "made by", *(["verdict"] if regime else [])], rows)
    for name, counts in result.facets.items():
        shown = ", ".join(f"{escape(f.value)} {f.count:,}" for f in counts[:10])
        out_console.print(f"  by {name}: {shown}", soft_wrap=True, highlight=False)


def register(app: typer.Typer, lot_app: typer.Typer) -> None:
    app.command("search")(search)
    lot_app.command("list")(search)
