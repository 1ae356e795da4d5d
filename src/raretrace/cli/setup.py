"""Setting a registry up: create it, upgrade its schema, make keys."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from raretrace.cli.common import (
    JsonFlag,
    _ctx,
    emit_json,
    err_console,
    out_console,
)
from raretrace.errors import StoreError


def init(
    ctx: typer.Context,
    origin: Annotated[str, typer.Option(help="The log's origin line, e.g. registry.example.org/rare-earths")],
    tolerance: Annotated[float, typer.Option(help="Per-element mass-balance tolerance (fraction)")] = 0.01,
    open_ids: Annotated[
        bool,
        typer.Option(
            "--open-ids",
            help="Accept new lot and event ids outside their facility's namespace (legacy ids): a "
            "competitor can then tell which ids are taken (docs/security.md). By default every new id "
            "must read urn:raretrace:lot:<facility>:… or urn:raretrace:event:<facility>:…",
        ),
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Create a registry, its signing key and its empty log.

    With --registry-key the registry signs with that key (made by `raretrace keygen`) and the database
    keeps only its public key: what a served registry should do, so that a copy of the database cannot
    sign checkpoints or certificates. Without it, a new key is generated and stored in the database.

    New lot and event ids of a facility must be in its namespace (urn:raretrace:lot:<facility>:…,
    urn:raretrace:event:<facility>:…) unless --open-ids is given; `raretrace require-namespaced-ids`
    switches such a registry later.

    Example: raretrace --db registry.db init --origin registry.example.org/rare-earths
    """
    from raretrace.crypto.keys import load_signer
    from raretrace.ledger.registry import Registry
    from raretrace.log.note import verifier_key_text
    from raretrace.store.db import make_engine

    key_file = _ctx(ctx).registry_key
    signer = None if key_file is None else load_signer(key_file)
    registry = Registry.init(
        make_engine(_ctx(ctx).db),
        origin,
        tolerance=tolerance,
        signer=signer,
        key_outside=signer is not None,
        namespaced_ids=not open_ids,
    )
    vkey = verifier_key_text(registry.origin, registry.signer.public_key)
    if as_json:
        emit_json(
            {
                "origin": registry.origin,
                "verifier_key": vkey,
                "tree_size": 0,
                "namespaced_ids": registry.namespaced_ids,
            }
        )
    else:
        out_console.print(f"initialized registry [bold]{registry.origin}[/bold]")
        if not registry.namespaced_ids:
            err_console.print(
                "[yellow]note[/yellow]: open ids accepted: a participant can tell which lot and event "
                "ids are taken (docs/security.md); `raretrace require-namespaced-ids` ends that",
                highlight=False,
                soft_wrap=True,
            )
        out_console.print(f"log verifier key: {vkey}", soft_wrap=True)


def upgrade(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """Upgrade the database's schema to this raretrace's revision (back it up first).

    A registry made by an older raretrace is refused until it is upgraded: new revisions add indexes
    or columns that queries rely on. Upgrading an index on a large registry can take minutes.

    Example: raretrace --db registry.db upgrade
    """
    from raretrace.store.db import SCHEMA_REVISION, has_schema, make_engine, migrate, schema_revision

    engine = make_engine(_ctx(ctx).db, must_exist=True)
    if not has_schema(engine):
        raise StoreError("this database holds no raretrace registry; nothing to upgrade", field="db")
    with engine.connect() as conn:
        before = schema_revision(conn)
    if before != SCHEMA_REVISION:
        with err_console.status(f"upgrading the schema from revision {before} to {SCHEMA_REVISION}…"):
            migrate(engine)
    if as_json:
        emit_json({"from": before, "to": SCHEMA_REVISION, "changed": before != SCHEMA_REVISION})
    elif before == SCHEMA_REVISION:
        out_console.print(f"the schema is already at revision {SCHEMA_REVISION}")
    else:
        out_console.print(f"schema upgraded from revision {before} to {SCHEMA_REVISION}")


def require_namespaced_ids(
    ctx: typer.Context,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Report the ids outside their namespaces; change nothing")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Require every new lot and event id of a facility to be in its namespace, from now on.

    For a registry made with --open-ids or before namespaces were the default. Ids already recorded
    stay valid; those outside their facility's namespace are reported per facility (lots and events
    counted, a few named) so their participants can move to urn:raretrace:lot:<facility>:… ids. The
    setting is written in one transaction; running it again changes nothing.

    Example: raretrace --db registry.db require-namespaced-ids --dry-run
    """
    from raretrace.ledger.id_policy import require_namespaced_ids as switch
    from raretrace.ledger.registry import Registry
    from raretrace.render.jsonable import jsonable
    from raretrace.render.tables import print_table
    from raretrace.store.db import make_engine

    result = switch(Registry(make_engine(_ctx(ctx).db, must_exist=True)), dry_run=dry_run)
    if as_json:
        emit_json(jsonable(result))
        return
    if result.open_ids:
        print_table(
            out_console,
            ["facility", "open lot ids", "open event ids", "for example"],
            [
                [escape(o.facility), str(o.lots), str(o.events), escape(", ".join(o.examples))]
                for o in result.open_ids
            ],
            title="ids recorded outside their facility's namespace (they stay valid)",
        )
    else:
        out_console.print("every id a facility recorded is in its namespace")
    if result.was_required:
        out_console.print("this registry already requires namespaced ids; nothing changed")
    elif dry_run:
        out_console.print("dry run: nothing changed; run without --dry-run to require namespaced ids")
    else:
        out_console.print("new lot and event ids of every facility must now be in its namespace")


def keygen(
    out: Annotated[Path, typer.Option(help="Private key path; the public key goes to OUT.pub")],
    as_json: JsonFlag = False,
) -> None:
    """Generate an Ed25519 key pair (private key written with mode 0600).

    Example: raretrace keygen --out mountain-pass.key
    """
    from raretrace.crypto.keys import Ed25519Signer, write_key_pair

    signer = Ed25519Signer.generate()
    private, public = write_key_pair(signer, out)
    import base64

    result = {
        "private_key": str(private),
        "public_key": str(public),
        "key_id": signer.key_id,
        "public_key_b64": base64.b64encode(signer.public_key).decode(),
    }
    if as_json:
        emit_json(result)
    else:
        out_console.print(
            f"wrote {private} (private, 0600) and {public}; key id {signer.key_id}", soft_wrap=True
        )


def register(app: typer.Typer) -> None:
    app.command()(init)
    app.command()(upgrade)
    app.command()(require_namespaced_ids)
    app.command()(keygen)
