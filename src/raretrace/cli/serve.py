"""``raretrace serve`` (the registry server and web UI) and ``raretrace participant`` (who may use it)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from raretrace.cli.common import JsonFlag, _ctx, emit_json, err_console, out_console
from raretrace.errors import ValidationError
from raretrace.server.config import ENV, PORTS, WORKERS
from raretrace.server.settings import RATE_PER_ADDRESS, RATE_PER_TOKEN

if TYPE_CHECKING:  # the service loads when a command runs
    from raretrace.ledger.registry import Registry


def is_loopback(host: str) -> bool:
    """Whether ``host`` (an address or ``localhost``) only answers this machine."""
    import ipaddress

    if host.strip("[]").lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:  # a name: it may resolve to anything
        return False


participant_app = typer.Typer(
    help="Participants of the registry server and their API tokens (the secretariat's job).",
    no_args_is_help=True,
)

DbHere = Annotated[
    str | None, typer.Option("--db", help="SQLite file or database URL (default: the global --db)")
]


def serve(
    ctx: typer.Context,
    db: DbHere = None,
    host: Annotated[
        str | None, typer.Option(help="Address to listen on (default 127.0.0.1)", envvar=ENV["host"])
    ] = None,
    port: Annotated[
        int | None,
        typer.Option(min=PORTS[0], max=PORTS[1], help="Port to listen on (default 8000)", envvar=ENV["port"]),
    ] = None,
    dev: Annotated[
        bool | None,
        typer.Option(
            "--dev",
            help="Development: create a secretariat token and print it (never in production)",
            envvar=ENV["dev"],
        ),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            min=WORKERS[0],
            max=WORKERS[1],
            help="Server processes (appends stay serialized by the database) (default 1)",
            envvar=ENV["workers"],
        ),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            help="TOML file setting any of these options (db, host, port, workers, dev, registry_key); "
            "flags and environment variables win over it",
            dir_okay=False,
        ),
    ] = None,
    rate_token: Annotated[
        float,
        typer.Option(min=0, max=1e9, help="Requests a second per participant token (0: no limit)"),
    ] = RATE_PER_TOKEN,
    rate_address: Annotated[
        float,
        typer.Option(min=0, max=1e9, help="Requests a second per client address (0: no limit)"),
    ] = RATE_PER_ADDRESS,
    signature_workers: Annotated[
        int,
        typer.Option(
            min=0,
            max=256,
            help="Processes verifying the appends' signatures, so the server's own process keeps "
            "answering (0, the default: verify in the server)",
        ),
    ] = 0,
    rate_store: Annotated[
        str | None,
        typer.Option(
            "--rate-store",
            help="A Redis (redis://host:6379/0) keeping the rate limits every machine serving this "
            "registry shares (default: one table shared by this machine's workers)",
            envvar="RARETRACE_RATE_STORE",
        ),
    ] = None,
) -> None:
    """Serve the registry: the API (OpenAPI at /docs), the log as C2SP tlog-tiles and the web UI.

    Without --dev the server starts only once a secretariat participant holds a token. Health checks:
    GET /healthz (the process answers) and GET /readyz (database, schema and signing key ready).
    Example: raretrace --db registry.db serve --host 0.0.0.0 --port 8000
    Example: raretrace serve --config /etc/raretrace/serve.toml
    """
    from raretrace.server.config import resolve

    key_file = _ctx(ctx).registry_key
    given = {
        "db": db or _ctx(ctx).db,
        "host": host,
        "port": port,
        "workers": workers,
        "dev": dev,
        "registry_key": None if key_file is None else str(key_file),
    }
    options = resolve(given, config)
    if options.registry_key is not None:  # the app (and every worker) opens the registry from the environment
        from raretrace.ledger.registry import REGISTRY_KEY_ENV

        os.environ[REGISTRY_KEY_ENV] = options.registry_key
    run_server(
        options.db,
        host=options.host,
        port=options.port,
        dev=options.dev,
        workers=options.workers,
        rates=(rate_token, rate_address),
        signature_workers=signature_workers,
        rate_store=rate_store,
    )


def require_free_port(host: str, port: int) -> None:
    """Refuse a port another program listens on, naming it, before any work is done."""
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds: TIME_WAIT is free
        try:
            probe.bind((host, port))
        except OSError as e:
            raise ValidationError(
                f"port {port} on {host} is not free ({e.strerror}): another server runs there; pick "
                "another with --port, or build without serving with --no-serve",
                field="port",
            ) from e


def run_server(
    db: str | None,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    dev: bool = False,
    workers: int = 1,
    rates: tuple[float, float] = (RATE_PER_TOKEN, RATE_PER_ADDRESS),
    signature_workers: int = 0,
    rate_store: str | None = None,
) -> None:
    """Serve the registry at ``db`` until interrupted, printing its URL (and, with ``dev``, a fresh
    secretariat token). ``raretrace serve`` and ``raretrace demo`` both end here."""
    import uvicorn

    from raretrace.ledger.participants import dev_token
    from raretrace.server.app import create_app, open_registry
    from raretrace.server.settings import Settings

    _check_rate_store(rate_store, workers)
    settings = Settings(
        rate_store=rate_store,
        db=db,
        dev=dev,
        secure_cookies=not dev,
        rate_per_token=rates[0],
        rate_per_address=rates[1],
        signature_workers=signature_workers,
    )
    if dev and not is_loopback(host):
        _warn_dev_off_loopback(host)
    registry = open_registry(settings)
    registry.signer  # noqa: B018 -- a key kept outside the database must load now, not at the first append
    if registry.key_in_database and not dev:
        _note_key_in_database()
    app = create_app(settings, registry=registry)
    url = f"http://{host if ':' not in host else f'[{host}]'}:{port}/"
    if dev:
        token = dev_token(registry.engine)
        err_console.print(
            f"[yellow]development mode[/yellow]: secretariat token {token} (valid one day; log in at "
            f"{url}login)",
            highlight=False,
            soft_wrap=True,
        )
    out_console.print(f"serving {escape(registry.origin)} at {url}", highlight=False, soft_wrap=True)
    if workers == 1:
        from raretrace.server.app import freeze_startup_objects

        freeze_startup_objects()
        uvicorn.run(app, host=host, port=port, log_level="warning")
        return
    _serve_workers(
        registry,
        db,
        host=host,
        port=port,
        dev=dev,
        workers=workers,
        rates=rates,
        signature_workers=signature_workers,
        rate_store=rate_store,
    )


def _check_rate_store(rate_store: str | None, workers: int) -> None:
    """Refuse now, naming it, a Redis that does not answer, or several workers with no shared table."""
    if rate_store is not None:
        from raretrace.server.ratestore_redis import RedisRates

        RedisRates.from_url(rate_store).close()
    else:
        from raretrace.server.ratestore import require_shared_table

        require_shared_table(workers)


def _warn_dev_off_loopback(host: str) -> None:
    err_console.print(
        f"[red]warning[/red]: --dev on {escape(host)}, which is not a loopback address: anyone who can "
        "reach it can read the secretariat token printed below off this terminal's logs or take "
        "over a development registry; bind 127.0.0.1 for development",
        highlight=False,
        soft_wrap=True,
    )


def _note_key_in_database() -> None:
    err_console.print(
        "[yellow]note[/yellow]: this registry's private key is stored in its database; a served registry "
        "should keep it in a file (raretrace --registry-key KEY init …) so that a copy of the "
        "database cannot sign",
        highlight=False,
        soft_wrap=True,
    )


def _serve_workers(
    registry: Registry,
    db: str | None,
    *,
    host: str,
    port: int,
    dev: bool,
    workers: int,
    rates: tuple[float, float],
    signature_workers: int,
    rate_store: str | None,
) -> None:
    """Serve with ``workers`` processes: each builds its app from the environment set here, and they
    share one rate table (so --workers N keeps the limits as set)."""
    import shutil

    import uvicorn

    from raretrace.server import app as served
    from raretrace.server.ratestore import create_table
    from raretrace.store.db import resolve_url

    os.environ[served.DB_ENV] = resolve_url(db)  # the workers open the same database
    os.environ[served.DEV_ENV] = "1" if dev else "0"
    os.environ[served.RATE_TOKEN_ENV], os.environ[served.RATE_ADDRESS_ENV] = (repr(rate) for rate in rates)
    os.environ[served.SIGNATURE_WORKERS_ENV] = str(signature_workers)
    os.environ[served.RATE_STORE_ENV] = rate_store or ""
    # one rate table for all workers (unless a Redis is shared): --workers N keeps the limits as set
    rate_file = create_table()
    os.environ[served.RATE_FILE_ENV] = str(rate_file)
    registry.engine.dispose()
    try:
        uvicorn.run(
            "raretrace.server.app:app_from_environment",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_level="warning",
        )
    finally:
        shutil.rmtree(rate_file.parent, ignore_errors=True)


@participant_app.command("add")
def participant_add(
    ctx: typer.Context,
    participant_id: Annotated[str, typer.Option("--id", help="Participant id, e.g. mp-materials")],
    name: Annotated[str, typer.Option(help="Organisation name")],
    role: Annotated[str, typer.Option(help="operator, auditor or secretariat")],
    facility: Annotated[
        list[str] | None, typer.Option("--facility", help="Facility it operates (operators; repeat)")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Add a participant: an operator of registered facilities, an auditor or the secretariat.

    Example: raretrace --db registry.db participant add --id mp --name "MP Materials" --role operator
    --facility US-MINE-1
    """
    from raretrace.ledger.participants import add_participant

    registry = _ctx(ctx).registry()
    principal = add_participant(registry.engine, participant_id, name, role, facility or [])
    if as_json:
        from raretrace.render.jsonable import jsonable

        emit_json(jsonable(principal))
    else:
        out_console.print(f"added {escape(participant_id)} ({role})", highlight=False)


@participant_app.command("token")
def participant_token(
    ctx: typer.Context,
    participant_id: Annotated[str, typer.Argument(metavar="ID", help="Participant id")],
    label: Annotated[str | None, typer.Option(help="What the token is for")] = None,
    valid_days: Annotated[int | None, typer.Option(min=1, max=3650, help="Expires after N days")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Issue an API token for a participant. It is printed once; only its hash is stored.

    Example: raretrace --db registry.db participant token mp --label "ERP integration" --valid-days 90
    """
    from raretrace.ledger.participants import issue_token
    from raretrace.render.jsonable import jsonable

    issued = issue_token(_ctx(ctx).registry().engine, participant_id, label=label, valid_days=valid_days)
    if as_json:
        emit_json(jsonable(issued))
    else:
        out_console.print(issued.token, highlight=False, soft_wrap=True)
        err_console.print("store it now: the registry keeps only its SHA-256", highlight=False)


@participant_app.command("list")
def participant_list(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """List participants, their roles, facilities and live tokens.

    Example: raretrace --db registry.db participant list --json
    """
    from raretrace.ledger.participants import list_participants
    from raretrace.render.jsonable import jsonable

    rows = list_participants(_ctx(ctx).registry().engine)
    if as_json:
        emit_json({"participants": jsonable(rows)})
        return
    from raretrace.render.tables import print_table

    cells = [
        [escape(r.id), escape(r.name), r.role, escape(", ".join(r.facilities)), str(r.live_tokens)]
        for r in rows
    ]
    print_table(out_console, ["id", "name", "role", "facilities", "live tokens"], cells)


@participant_app.command("revoke")
def participant_revoke(
    ctx: typer.Context,
    participant_id: Annotated[str, typer.Argument(metavar="ID", help="Participant id")],
    as_json: JsonFlag = False,
) -> None:
    """Revoke every live token of a participant (it takes effect on the next request).

    Example: raretrace --db registry.db participant revoke mp
    """
    from raretrace.ledger.participants import revoke_tokens

    count = revoke_tokens(_ctx(ctx).registry().engine, participant_id)
    if as_json:
        emit_json({"participant": participant_id, "revoked": count})
    else:
        out_console.print(f"revoked {count} token(s) of {escape(participant_id)}", highlight=False)


def register(app: typer.Typer) -> None:
    """Add this area's commands to the main application."""
    app.command()(serve)
    app.add_typer(participant_app, name="participant")
