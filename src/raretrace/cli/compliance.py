"""Compliance: verdicts for lots under the regimes, and the regimes known."""

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
from raretrace.render.jsonable import jsonable
from raretrace.times import parse_date

#: ``check --fail-on``: some verdict reached the level given (errors use 1-8).
GATE_EXIT_CODE = 9

RegimeDirs = Annotated[
    list[Path] | None,
    typer.Option("--regimes", help="Folder of your own regime or amendment files (TOML); repeatable"),
]


def check(
    ctx: typer.Context,
    lots: Annotated[list[str], typer.Argument(help="Lot URNs (one or more)")],
    regime: Annotated[
        list[str] | None, typer.Option("--regime", "-r", help="Regime id; repeatable (default: all)")
    ] = None,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Judge on this date, YYYY-MM-DD (default: today, UTC)")
    ] = None,
    end_use: Annotated[
        str | None,
        typer.Option(
            "--end-use",
            help="End use: civil, military or dual-use (case-insensitive; defense/defence mean military)",
        ),
    ] = None,
    asserted: Annotated[
        list[str] | None,
        typer.Option(
            "--assert",
            help="A fact no record shows, recorded in each verdict: waiver, outside-us, cots, "
            "electronic-device (repeatable; docs/compliance.md)",
        ),
    ] = None,
    fail_on: Annotated[
        str | None,
        typer.Option(
            "--fail-on",
            help="Exit 9 if any verdict is this or worse: fail, licence_required or insufficient_data",
        ),
    ] = None,
    as_one: Annotated[
        bool, typer.Option("--as-one", help="Judge the lots together as one item (a shipment, a product)")
    ] = False,
    regimes: RegimeDirs = None,
    prices: Annotated[Path | None, typer.Option(help="Your price table (JSON, as data/prices.json)")] = None,
    details: Annotated[
        bool, typer.Option("--details", help="Print every rule's finding and evidence")
    ] = False,
    upcoming: Annotated[
        bool,
        typer.Option(
            "--upcoming",
            help="Also judge on each later day a regime's rules change and say how verdicts will change",
        ),
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Verdicts for lots under compliance regimes: pass, fail, licence_required, insufficient_data or
    not_applicable, each with its explanation, figures and evidence, the clause that decided it, and
    the date and end use it was judged for.

    With --fail-on, exit code 9 when any verdict is at or worse than the level given (severity:
    not_applicable < pass < insufficient_data < licence_required < fail), for pipelines. With
    --upcoming, each verdict is judged again on every later day a regime's file changes what binds
    (e.g. DFARS from 2027-01-01) and the changes are listed; --fail-on still reads today's verdicts.

    Example: raretrace --db demo.db check urn:raretrace:lot:VN-CN-TECH-MAGNETS:ndfeb-magnet-006294
    """

    from raretrace.ledger.compliance import prepare, today
    from raretrace.ledger.upcoming import upcoming as outlook
    from raretrace.pricing import PriceTable
    from raretrace.rules.judging import parse_assertions, parse_end_use
    from raretrace.rules.verdict import breaches, gate_level

    day = None if as_of is None else parse_date(as_of, "as_of")
    level = gate_level(fail_on, field="fail_on") if fail_on is not None else None
    judging = prepare(
        _ctx(ctx).registry(),
        lots,
        regimes=regime or None,
        end_use=parse_end_use(end_use, field="end_use"),
        assertions=sorted(parse_assertions(asserted or (), field="assert")),
        prices=PriceTable.load(prices) if prices else None,
        as_one=as_one,
        regime_folders=regimes or (),
    )
    outlooks = outlook(judging, day) if upcoming else None
    verdicts = judging.on(day or today()) if outlooks is None else [o.verdict for o in outlooks]
    if as_json:
        answer: dict[str, object] = {"verdicts": [jsonable(v) for v in verdicts]}
        if outlooks is not None:
            answer["upcoming"] = [jsonable(o) for o in outlooks]
        emit_json(answer)
    else:
        from raretrace.render.verdicts import print_outlooks, print_verdicts

        print_verdicts(out_console, verdicts, details=details)
        if outlooks is not None:
            print_outlooks(out_console, outlooks)
    if level is not None and breaches(verdicts, level):
        raise typer.Exit(GATE_EXIT_CODE)


def regimes_list(ctx: typer.Context, regimes: RegimeDirs = None, as_json: JsonFlag = False) -> None:
    """List the regimes known: shipped ones, your folders' and their amendments.

    Example: raretrace regimes --regimes ./my-regimes --json
    """
    from raretrace.ledger.compliance import today
    from raretrace.rules import load_regimes

    known = load_regimes(regimes or ())
    day = today()
    if as_json:
        emit_json({"regimes": [r.describe(day) for r in known.values()]})
        return
    for regime in known.values():
        info = regime.describe(day)
        out_console.print(
            f"[bold]{escape(regime.id)}[/bold] {escape(regime.version)}: {escape(regime.title)}",
            soft_wrap=True,
        )
        out_console.print(
            f"    in force {info['in_force']}; file {escape(info['file'])}", soft_wrap=True, highlight=False
        )
        for item in info["suspensions"]:
            out_console.print(
                f"    suspended {item['window']} ({escape(item['source'])})", soft_wrap=True, highlight=False
            )
        for notice in info["notices"]:
            out_console.print(f"    [yellow]notice:[/] {escape(notice)}", soft_wrap=True, highlight=False)
        for rule in info["rules"]:
            out_console.print(
                f"    rule {rule['id']} ({rule['in_force']}): {escape(rule['title'])}",
                soft_wrap=True,
                highlight=False,
            )


def register(app: typer.Typer) -> None:
    app.command()(check)
    app.command("regimes")(regimes_list)
