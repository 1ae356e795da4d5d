"""``raretrace witness …``: witnessing other members' logs, by hand (``local``) or as a service (``run``).

``raretrace witness LOG …`` (a registry database at hand) keeps working: a first argument that is
not a sub-command is handed to ``witness local``.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from typer._click.core import Context
from typer.core import TyperGroup

from raretrace.cli.certificates import witness as witness_local
from raretrace.cli.common import JsonFlag, _ctx, emit_json, err_console, out_console
from raretrace.errors import ValidationError
from raretrace.jsontypes import JSONValue
from raretrace.render.jsonable import jsonable

if TYPE_CHECKING:
    from raretrace.ledger.witness_service import Round

ALARM_EXIT = 6


class _LocalByDefault(TyperGroup):
    """``witness DB …`` means ``witness local DB …``, as before the sub-commands existed."""

    def parse_args(self, ctx: Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["local", *args]
        return super().parse_args(ctx, args)


witness_app = typer.Typer(
    cls=_LocalByDefault,
    help="Witness other members' logs: `witness run` as a service, `witness local DB` by hand.",
    no_args_is_help=True,
)
witness_app.command("local")(witness_local)


def parse_endpoints(pairs: list[str]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        member, sep, url = pair.partition("=")
        if not sep or not member or not url:
            raise ValidationError(f"{pair!r} is not MEMBER=URL", field="endpoint")
        out[member] = url
    return out


def round_json(result: Round) -> JSONValue:
    """A witness round as the status file, ``--json`` and the registry's witness page show it."""
    from raretrace.ledger.witness_service import status_of

    return jsonable(status_of(result))


def _print_round(result: Round) -> None:
    for p in result.peers:
        size = "" if p.size is None else f" at size {p.size}"
        back = " (cosignature kept by the log)" if p.accepted_by_log else ""
        line = f"{p.member} {escape(p.origin)}: {p.status}{size}{back}"
        out_console.print(
            line + (f" — {escape(p.detail)}" if p.detail and p.status != "cosigned" else ""), highlight=False
        )
    for g in result.gossip:
        if g.status != "agreed":
            out_console.print(
                f"  gossip {escape(g.origin)} → {g.witness}: {g.status} {escape(g.detail)}", highlight=False
            )


@witness_app.command("run")
def witness_run(
    ctx: typer.Context,
    consortium: Annotated[
        Path,
        typer.Option(help="Directory of the consortium file's versions (1.json, 2.json …)", file_okay=False),
    ],
    once: Annotated[
        bool, typer.Option("--once", help="One round; exit 6 on a split view or rollback")
    ] = False,
    interval: Annotated[float, typer.Option(min=0.5, help="Seconds between rounds")] = 60.0,
    endpoint: Annotated[
        list[str] | None,
        typer.Option("--endpoint", help="MEMBER=URL: reach a member there instead; repeatable"),
    ] = None,
    status: Annotated[
        Path | None,
        typer.Option(help="Write each round's result here (JSON), for monitoring", dir_okay=False),
    ] = None,
    timeout: Annotated[float, typer.Option(min=0.1, help="Seconds to wait for a peer")] = 10.0,
    as_json: JsonFlag = False,
) -> None:
    """Witness every other active registry member of the consortium: read its checkpoint, check the
    consistency proof from what this registry last cosigned, cosign, hand the cosignature back, and
    offer the checkpoint to the other witnesses (gossip). A split view or a rollback is an alarm
    (stderr, the status file, exit 6 with --once); an offline peer is retried next round.

    Example: raretrace --db member-b.db witness run --consortium consortium/ --once
    """
    import httpx

    from raretrace.ledger.consortium_fetch import load_directory
    from raretrace.ledger.witness_service import record_round, run_round
    from raretrace.times import utc_now

    registry = _ctx(ctx).registry()
    overrides = parse_endpoints(endpoint or [])
    with httpx.Client(timeout=timeout) as client:
        while True:
            members = load_directory(consortium, utc_now())
            result = run_round(registry, members, client, endpoints=overrides)
            record_round(registry, result)  # what the server's witness page and metrics show
            if status is not None:
                status.write_text(json.dumps(round_json(result), indent=2) + "\n", encoding="utf-8")
            if as_json:
                emit_json(round_json(result))
            else:
                _print_round(result)
            for alarm in result.alarms:
                err_console.print(f"[red]ALARM[/red] {escape(alarm)}", highlight=False, soft_wrap=True)
            if once:
                if not result.ok:
                    raise typer.Exit(ALARM_EXIT)
                return
            sys.stdout.flush()
            time.sleep(interval)


def register(app: typer.Typer) -> None:
    app.add_typer(witness_app, name="witness")
