"""Lots: show one, trace its lineage up to the mines or down to every product."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from raretrace.cli.common import (
    JsonFlag,
    _ctx,
    emit_answer,
    emit_json,
    out_console,
)
from raretrace.errors import RaretraceError
from raretrace.ledger.lineage import DEFAULT_MAX_PATHS
from raretrace.ledger.trace_answers import DownTrace, UpTrace
from raretrace.render.jsonable import jsonable

#: ``Lot.to_dict`` as ``lot show`` reads it by key
Answer = Mapping[str, Any]

lot_app = typer.Typer(help="Inspect lots.", no_args_is_help=True)


def lot_show(
    ctx: typer.Context,
    lot: Annotated[str, typer.Argument(help="Lot URN")],
    prices: Annotated[Path | None, typer.Option(help="Your price table (JSON, as data/prices.json)")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Show a lot: form, mass, composition, custody, inputs, transfers, assays.

    Example: raretrace --db registry.db lot show urn:raretrace:lot:mp-ore-0001 --json
    """
    from raretrace.pricing import PriceTable

    table = PriceTable.load(prices) if prices else None
    details = _ctx(ctx).registry().lot_details(lot, prices=table)
    if as_json:
        emit_json(jsonable(details))
        return
    info: Answer = details.lot
    out_console.print(
        f"[bold]{info['id']}[/bold]  {info['form']}  {info['mass_kg']:g} kg "
        f"(remaining {info['remaining_kg']:g} kg)"
    )
    out_console.print(
        f"  produced by {info['producer']} ({info['stage']}) at {info['created_time']}"
        + (f", deposit {info['deposit']}" if info["deposit"] else "")
    )
    custody = info["custodian"] + (
        f" → in transit to {info['in_transit_to']}" if info["in_transit_to"] else ""
    )
    out_console.print(f"  custodian {custody}" + ("  [red]VOID[/red]" if info["void"] else ""))
    comp = ", ".join(f"{k} {v:.4g}" for k, v in sorted(info["composition"].items(), key=lambda kv: -kv[1]))
    origin_lines = [
        f"    {element}: "
        + "; ".join(
            f"{stage} " + ", ".join(f"{country} {share:.0%}" for country, share in shares.items())
            for stage, shares in history["location"].items()
        )
        for element, history in info["origin"].items()
        if history["location"]
    ]
    out_console.print(f"  composition (mass fractions): {comp}")
    if origin_lines:
        out_console.print("  where each stage was done (share of the element's mass):")
        for line in origin_lines:
            out_console.print(line, soft_wrap=True, highlight=False)
    for used in details.inputs:
        out_console.print(f"  input {used.lot}: {used.mass_kg:g} kg (event {used.event_index})")
    for moved in details.transfers:
        out_console.print(
            f"  shipped {moved.sender} → {moved.to} (event {moved.event_index}"
            + (
                f", received at {moved.received_event_index})"
                if moved.received_event_index is not None
                else ", not yet received)"
            )
        )
    for item in details.assays:
        out_console.print(f"  assay by {item['lab']} ({item['method']}, event {item['event_index']})")


def trace(
    ctx: typer.Context,
    lot: Annotated[str, typer.Argument(help="Lot URN")],
    up: Annotated[bool, typer.Option("--up", help="Back to the mines and deposits")] = False,
    down: Annotated[
        bool, typer.Option("--down", help="Every lot and product it reached (recall list)")
    ] = False,
    max_paths: Annotated[
        int,
        typer.Option(
            "--max-paths",
            min=0,
            help="With --up: list this many highest-share paths (source shares are exact whatever it is)",
        ),
    ] = DEFAULT_MAX_PATHS,
    limit: Annotated[
        int,
        typer.Option(
            "--limit", min=0, help="With --down: list this many end items (0: every one; --json has all)"
        ),
    ] = 100,
    as_json: JsonFlag = False,
) -> None:
    """Lineage of a lot: up to its sources with shares per path, or down to everything made from it.

    Example: raretrace --db demo.db trace urn:raretrace:lot:US-DEFENSE-MAGNETS:ndfeb-magnet-006298 --up
    """
    from raretrace.ledger.lineage import trace_down, trace_up

    if up == down:
        raise RaretraceError("give exactly one of --up or --down", field="direction")
    registry = _ctx(ctx).registry()
    result = (
        trace_up(registry, lot, max_paths=max_paths, graph=as_json, by_element=True)
        if up
        else trace_down(registry, lot)
    )
    if as_json:
        emit_answer(result)
    elif isinstance(result, UpTrace):
        _print_up(lot, result)
    else:
        _print_down(lot, result, limit)


def _print_up(lot: str, result: UpTrace) -> None:
    """The sources of ``lot`` with their shares and highest-share paths (``trace_up``)."""
    out_console.print(
        f"[bold]{escape(lot)}[/bold] comes from {len(result.sources)} source lot(s) "
        f"by {result.path_count:,} path(s); the {result.paths_listed:,} highest-share path(s) "
        "are shown" + (" (--max-paths to see more)" if result.paths_truncated else "") + ":",
        soft_wrap=True,
    )
    out_console.print(
        "  shares are of the gross traced input mass; 'by element' gives each source's share of each "
        "rare-earth element",
        soft_wrap=True,
        highlight=False,
    )
    for source in result.sources:
        summary = source.summary
        out_console.print(
            f"  {source.share:7.2%} by mass  {source.lot}  ({summary['form']}, {summary['producer']}"
            + (f", deposit {summary['deposit']}" if summary["deposit"] else "")
            + ")",
            soft_wrap=True,
            highlight=False,
        )
        if source.element_shares:
            elements = ", ".join(f"{e} {v:.2%}" for e, v in source.element_shares.items())
            out_console.print(f"           by element: {elements}", soft_wrap=True, highlight=False)
        for path in source.paths:
            hops = zip(path.lots[1:], path.input_kg, strict=True)
            steps = [path.lots[0], *(f"{kg:,.1f} kg of {lot}" for lot, kg in hops)]
            out_console.print(
                f"           {path.share:.2%}: " + " ← ".join(steps), soft_wrap=True, highlight=False
            )
    untraced = {e: u for e, u in (result.untraced_by_element or {}).items() if u > 0}
    if untraced:
        out_console.print(
            "  untraced feed: " + ", ".join(f"{e} {u:.2%}" for e, u in untraced.items()),
            soft_wrap=True,
            highlight=False,
        )


def _print_down(lot: str, result: DownTrace, limit: int) -> None:
    """The lots ``lot`` reached and its end items, up to ``limit`` of them (``trace_down``)."""
    ends = result.end_items
    shown = ends if limit == 0 else ends[:limit]
    listed = "all listed" if len(shown) == len(ends) else f"{len(shown):,} listed (--limit 0 lists every one)"
    out_console.print(
        f"[bold]{escape(lot)}[/bold] reached {len(result.reached):,} lot(s); end items (nothing was "
        f"made from them): {len(ends):,}, {listed}:",
        soft_wrap=True,
    )
    for item in shown:
        info = result.lots[item]
        out_console.print(
            f"  {item}  ({info['form']}, held by {info['custodian']})", soft_wrap=True, highlight=False
        )


def register(app: typer.Typer) -> None:
    lot_app.command("show")(lot_show)
    app.command()(trace)
    app.add_typer(lot_app, name="lot")
