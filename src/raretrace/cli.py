"""The ``raretrace`` command line: parse arguments, call the library, render the answer.

No command holds logic of its own. Every failure a user can cause surfaces as a ``RaretraceError``
and is printed by the single handler in ``main`` as ``error: <field>: <reason>`` with a non-zero
exit code; ``--json`` prints exactly one JSON object on stdout.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from raretrace.cli_certificates import register as register_certificate_commands
from raretrace.cli_common import (
    Context,
    DbOption,
    JsonFlag,
    RegistryKeyOption,
    _ctx,
    emit_json,
    err_console,
    out_console,
)
from raretrace.cli_consortium import register as register_consortium_commands
from raretrace.cli_fingerprint import register as register_fingerprint_commands
from raretrace.cli_interchange import register as register_interchange_commands
from raretrace.cli_publish import register as register_publish_commands
from raretrace.cli_search import register as register_search_commands
from raretrace.cli_serve import register as register_serve_commands
from raretrace.cli_witness import register as register_witness_commands
from raretrace.cli_world import register as register_world_commands
from raretrace.errors import EXIT_CODES, RaretraceError, StoreError, ValidationError, too_deep
from raretrace.ledger.lineage import DEFAULT_MAX_PATHS

app = typer.Typer(
    help="raretrace: verifiable rare-earth supply chains from mine to magnet.\n\n"
    "Example: raretrace --db registry.db init --origin registry.example.org/rare-earths",
    epilog="Exit codes:\n\n" + "\n\n".join(f"{code:>3}  {meaning}" for code, meaning in EXIT_CODES.items()),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=True,  # --install-completion and --show-completion for bash, zsh, fish, PowerShell
)
facility_app = typer.Typer(help="Register and list facilities.", no_args_is_help=True)
lot_app = typer.Typer(help="Inspect lots.", no_args_is_help=True)
log_app = typer.Typer(
    help="The transparency log: checkpoints, entries, proofs, audit, witnesses.", no_args_is_help=True
)
app.add_typer(facility_app, name="facility")
app.add_typer(lot_app, name="lot")
app.add_typer(log_app, name="log")


def _print_version(value: bool) -> None:
    if value:
        from raretrace import __version__

        sys.stdout.write(f"raretrace {__version__}\n")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    db: DbOption = None,
    registry_key: RegistryKeyOption = None,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_print_version, is_eager=True, help="Print the version and exit."),
    ] = False,
) -> None:
    """raretrace: verifiable rare-earth supply chains from mine to magnet."""
    source = ctx.get_parameter_source("registry_key")  # typer's own click: compare by name
    from_env = source is not None and source.name == "ENVIRONMENT"
    ctx.obj = Context(db, registry_key, key_from_env=from_env)


# --- registry set-up ---------------------------------------------------------------------------------


@app.command()
def init(
    ctx: typer.Context,
    origin: Annotated[str, typer.Option(help="The log's origin line, e.g. registry.example.org/rare-earths")],
    tolerance: Annotated[float, typer.Option(help="Per-element mass-balance tolerance (fraction)")] = 0.01,
    as_json: JsonFlag = False,
) -> None:
    """Create a registry, its signing key and its empty log.

    With --registry-key the registry signs with that key (made by `raretrace keygen`) and the database
    keeps only its public key: what a served registry should do, so that a copy of the database cannot
    sign checkpoints or certificates. Without it, a new key is generated and stored in the database.

    Example: raretrace --db registry.db init --origin registry.example.org/rare-earths
    """
    from raretrace.crypto.keys import load_signer
    from raretrace.ledger.registry import Registry
    from raretrace.log.note import verifier_key_text
    from raretrace.store.db import make_engine

    key_file = _ctx(ctx).registry_key
    signer = None if key_file is None else load_signer(key_file)
    registry = Registry.init(
        make_engine(_ctx(ctx).db), origin, tolerance=tolerance, signer=signer, key_outside=signer is not None
    )
    vkey = verifier_key_text(registry.origin, registry.signer.public_key)
    if as_json:
        emit_json({"origin": registry.origin, "verifier_key": vkey, "tree_size": 0})
    else:
        out_console.print(f"initialized registry [bold]{registry.origin}[/bold]")
        out_console.print(f"log verifier key: {vkey}", soft_wrap=True)


@app.command()
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


@app.command()
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


def _write_envelopes(lines: list[bytes], out: Path | None) -> None:
    """Envelopes as JSON Lines, to ``out`` or standard output."""
    data = b"".join(line + b"\n" for line in lines)
    if out is None:
        sys.stdout.buffer.write(data)
    else:
        out.write_bytes(data)
        err_console.print(f"wrote {len(lines)} envelope(s) to {out}")


@app.command()
def sign(
    event_file: Annotated[
        Path,
        typer.Argument(
            metavar="EVENT.json", help="An event object, a JSON list of them, or JSON Lines; '-' reads stdin"
        ),
    ],
    key: Annotated[list[Path], typer.Option(help="Private key file (repeat to co-sign)")],
    out: Annotated[
        Path | None, typer.Option(help="Write envelopes here (JSON Lines) instead of stdout")
    ] = None,
) -> None:
    """Wrap events in DSSE envelopes over in-toto Statements, signed with KEY.

    Example: raretrace sign extract.json --key mountain-pass.key > extract.dsse.jsonl
    """
    from raretrace.crypto.keys import load_signer
    from raretrace.io import read_json_items
    from raretrace.ledger.events import sign_event

    signers = [load_signer(k) for k in key]
    lines = []
    for where, item in read_json_items(event_file):
        try:
            lines.append(sign_event(item, signers))
        except RaretraceError as e:
            raise e.within(where) from e
    _write_envelopes(lines, out)


@app.command()
def countersign(
    ctx: typer.Context,
    file: Annotated[
        Path,
        typer.Argument(
            metavar="ENVELOPES", help="DSSE envelopes (JSON, list or JSON Lines); '-' reads stdin"
        ),
    ],
    key: Annotated[
        list[Path] | None, typer.Option(help="Private key file to add a signature with (repeatable)")
    ] = None,
    registry_key: Annotated[
        bool,
        typer.Option(
            "--registry",
            help="Add the registry's (the secretariat's) signature: from the database or --registry-key",
        ),
    ] = False,
    out: Annotated[
        Path | None, typer.Option(help="Write envelopes here (JSON Lines) instead of stdout")
    ] = None,
) -> None:
    """Add signatures to envelopes already signed, payload unchanged: a receiver's co-signature, or the
    secretariat's countersignature that an event signed by a since-revoked key needs.

    Example: raretrace --db registry.db --registry-key registry.key countersign late.dsse.jsonl --registry
    """
    from raretrace.crypto.dsse import add_signature
    from raretrace.crypto.keys import Ed25519Signer, load_signer
    from raretrace.io import read_envelopes

    signers: list[Ed25519Signer] = [load_signer(k) for k in key or []]
    if registry_key:
        signers.append(_ctx(ctx).registry().signer)
    if not signers:
        raise RaretraceError("give --key FILE or --registry", field="key")
    lines = []
    for i, raw in enumerate(read_envelopes(file)):
        signed = raw
        try:
            for signer in signers:
                signed = add_signature(signed, signer)
        except RaretraceError as e:
            raise e.within(f"envelope {i}") from e
        lines.append(signed)
    _write_envelopes(lines, out)


@app.command()
def record(
    ctx: typer.Context,
    file: Annotated[
        Path,
        typer.Argument(help="DSSE envelopes: one JSON envelope, a JSON list, or JSON Lines; '-' reads stdin"),
    ],
    as_json: JsonFlag = False,
) -> None:
    """Append signed events to the registry, all or nothing.

    Example: raretrace --db registry.db record events.dsse.jsonl
    """
    from raretrace.io import read_envelopes

    registry = _ctx(ctx).registry()
    envelopes = read_envelopes(file)
    from rich.progress import Progress

    with Progress(console=err_console, transient=True, disable=len(envelopes) < 1000 or as_json) as bar:
        task = bar.add_task("validating", total=len(envelopes))
        result = registry.append(envelopes, progress=lambda n: bar.advance(task, n))
    if as_json:
        emit_json(
            {
                "recorded": result.count,
                "first_index": result.first_index,
                "tree_size": result.tree_size,
                "checkpoint": result.checkpoint,
            }
        )
    else:
        out_console.print(
            f"recorded {result.count} event(s) at log indices {result.first_index}–"
            f"{result.first_index + result.count - 1}; tree size {result.tree_size}"
        )


# --- facilities -------------------------------------------------------------------------------------


@facility_app.command("add")
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


@facility_app.command("list")
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
    from raretrace.tables import print_table

    rows = [
        [escape(x) for x in (f.id, f.name, f.operator, f.country, ", ".join(sorted(f.activities)))]
        for f in facilities
    ]
    print_table(out_console, ["id", "name", "operator", "country", "stages"], rows)


# --- lots ------------------------------------------------------------------------------------------


@lot_app.command("show")
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
        emit_json(details)
        return
    info = details["lot"]
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
    for item in details["inputs"]:
        out_console.print(f"  input {item['lot']}: {item['mass_kg']:g} kg (event {item['event_index']})")
    for item in details["transfers"]:
        out_console.print(
            f"  shipped {item['from']} → {item['to']} (event {item['event_index']}"
            + (
                f", received at {item['received_event_index']})"
                if item["received_event_index"] is not None
                else ", not yet received)"
            )
        )
    for item in details["assays"]:
        out_console.print(f"  assay by {item['lab']} ({item['method']}, event {item['event_index']})")


@app.command()
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

    Example: raretrace --db demo.db trace urn:raretrace:lot:us-defense-magnets-ndfeb-magnet-006298 --up
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
        emit_json(result)
        return
    lots = result["lots"]
    if up:
        out_console.print(
            f"[bold]{escape(lot)}[/bold] comes from {len(result['sources'])} source lot(s) "
            f"by {result['path_count']:,} path(s); the {result['paths_listed']:,} highest-share path(s) "
            "are shown" + (" (--max-paths to see more)" if result["paths_truncated"] else "") + ":",
            soft_wrap=True,
        )
        out_console.print(
            "  shares are of the gross traced input mass; 'by element' gives each source's share of each "
            "rare-earth element",
            soft_wrap=True,
            highlight=False,
        )
        for source in result["sources"]:
            out_console.print(
                f"  {source['share']:7.2%} by mass  {source['lot']}  ({source['form']}, {source['producer']}"
                + (f", deposit {source['deposit']}" if source["deposit"] else "")
                + ")",
                soft_wrap=True,
                highlight=False,
            )
            if source["element_shares"]:
                elements = ", ".join(f"{e} {v:.2%}" for e, v in source["element_shares"].items())
                out_console.print(f"           by element: {elements}", soft_wrap=True, highlight=False)
            for path in source["paths"]:
                hops = zip(path["lots"][1:], path["input_kg"], strict=True)
                steps = [path["lots"][0], *(f"{kg:,.1f} kg of {lot}" for lot, kg in hops)]
                out_console.print(
                    f"           {path['share']:.2%}: " + " ← ".join(steps), soft_wrap=True, highlight=False
                )
        untraced = {e: u for e, u in result["untraced_by_element"].items() if u > 0}
        if untraced:
            out_console.print(
                "  untraced feed: " + ", ".join(f"{e} {u:.2%}" for e, u in untraced.items()),
                soft_wrap=True,
                highlight=False,
            )
    else:
        ends = result["end_items"]
        shown = ends if limit == 0 else ends[:limit]
        listed = (
            "all listed" if len(shown) == len(ends) else f"{len(shown):,} listed (--limit 0 lists every one)"
        )
        out_console.print(
            f"[bold]{escape(lot)}[/bold] reached {len(result['reached']):,} lot(s); end items (nothing was "
            f"made from them): {len(ends):,}, {listed}:",
            soft_wrap=True,
        )
        for item in shown:
            info = lots[item]
            out_console.print(
                f"  {item}  ({info['form']}, held by {info['custodian']})", soft_wrap=True, highlight=False
            )


# --- the log ---------------------------------------------------------------------------------------


@log_app.command("checkpoint")
def log_checkpoint(ctx: typer.Context) -> None:
    """Print the latest signed checkpoint note (C2SP tlog-checkpoint), byte-exact, with cosignatures.

    Example: raretrace --db registry.db log checkpoint
    """
    from raretrace.ledger.logview import latest_checkpoint

    sys.stdout.write(latest_checkpoint(_ctx(ctx).registry()))


@log_app.command("public-key")
def log_public_key(ctx: typer.Context) -> None:
    """Print the log's verifier key in signed-note form name+hash+base64key.

    Example: raretrace --db registry.db log public-key
    """
    from raretrace.log.note import verifier_key_text

    registry = _ctx(ctx).registry()
    sys.stdout.write(verifier_key_text(registry.origin, registry.signer.public_key) + "\n")


@log_app.command("entry")
def log_entry(ctx: typer.Context, index: Annotated[int, typer.Argument(metavar="N", min=0)]) -> None:
    """Write leaf N's stored envelope bytes to stdout, unchanged.

    Example: raretrace --db registry.db log entry 0 > entry0.json
    """
    from raretrace.ledger.logview import log_entry_bytes

    sys.stdout.buffer.write(log_entry_bytes(_ctx(ctx).registry(), index))


@log_app.command("prove")
def log_prove(
    ctx: typer.Context,
    index: Annotated[int, typer.Argument(metavar="N", min=0)],
    size: Annotated[int | None, typer.Option(help="Tree size to prove against (default: current)")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Inclusion proof of leaf N in the tree of size S.

    Example: raretrace --db registry.db log prove 3 --json
    """
    from raretrace.ledger.logview import inclusion_proof

    proof = inclusion_proof(_ctx(ctx).registry(), index, size)
    if as_json:
        emit_json(proof)
    else:
        out_console.print(
            f"leaf {proof['leaf_index']} in tree of size {proof['tree_size']}: leaf hash {proof['leaf_hash']}"
        )
        for i, h in enumerate(proof["proof"]):
            out_console.print(f"  [{i}] {h}")


@log_app.command("consistency")
def log_consistency(
    ctx: typer.Context,
    old: Annotated[int, typer.Argument(metavar="OLD", min=0)],
    new: Annotated[int, typer.Argument(metavar="NEW", min=0)],
    as_json: JsonFlag = False,
) -> None:
    """Consistency proof between tree sizes OLD and NEW.

    Example: raretrace --db registry.db log consistency 2 5 --json
    """
    from raretrace.ledger.logview import consistency_proof

    proof = consistency_proof(_ctx(ctx).registry(), old, new)
    if as_json:
        emit_json(proof)
    else:
        out_console.print(f"consistency {proof['size1']} → {proof['size2']}: {len(proof['proof'])} hashes")
        for i, h in enumerate(proof["proof"]):
            out_console.print(f"  [{i}] {h}")


@log_app.command("audit")
def log_audit(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """Recompute every leaf from the stored envelopes, re-verify signatures and the whole tree.

    Exit code 0 only if everything holds; otherwise the first discrepancy is named.
    Example: raretrace --db registry.db log audit
    """
    from raretrace.ledger.audit import audit

    result = audit(_ctx(ctx).registry())
    if as_json:
        emit_json(result.to_dict())
    elif result.ok:
        out_console.print(
            f"audit passed: {result.tree_size} leaves, {result.signatures} signatures, "
            f"{result.checkpoints} checkpoints verified"
        )
    else:
        err_console.print(f"audit FAILED: {result.problems[0]}")
        for extra in result.problems[1:5]:
            err_console.print(f"  also: {extra}")
    if not result.ok:
        raise typer.Exit(8)


@log_app.command("witness-add")
def log_witness_add(
    ctx: typer.Context,
    verifier_key: Annotated[str, typer.Argument(help="Witness verifier key name+hash+base64 (type 0x04)")],
) -> None:
    """Trust a witness: its cosignatures on this log's checkpoints will be accepted.

    Example: raretrace --db registry.db log witness-add "witness.example.org+1a2b3c4d+BK…"
    """
    from raretrace.ledger.logview import add_witness

    name = add_witness(_ctx(ctx).registry(), verifier_key)
    out_console.print(f"witness {name} added")


@log_app.command("cosign-add")
def log_cosign_add(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="A cosigned checkpoint note (or its cosignature lines)")],
) -> None:
    """Accept witness cosignatures (C2SP tlog-cosignature) on a checkpoint of this log, verifying each.

    Example: raretrace --db registry.db log cosign-add cosigned-checkpoint.txt
    """
    from raretrace.ledger.logview import add_cosignatures

    names = add_cosignatures(_ctx(ctx).registry(), file.read_text(encoding="utf-8"))
    out_console.print(f"accepted cosignature(s) from {', '.join(names)}")


# --- the main job ----------------------------------------------------------------------------------


# --- compliance ----------------------------------------------------------------------------------------

#: ``check --fail-on``: some verdict reached the level given (errors use 1-8).
GATE_EXIT_CODE = 9

RegimeDirs = Annotated[
    list[Path] | None,
    typer.Option("--regimes", help="Folder of your own regime or amendment files (TOML); repeatable"),
]


@app.command()
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

    Example: raretrace --db demo.db check urn:raretrace:lot:vn-cn-tech-magnets-ndfeb-magnet-006294
    """
    from datetime import date

    from raretrace.errors import ValidationError
    from raretrace.ledger.compliance import prepare, today
    from raretrace.ledger.upcoming import upcoming as outlook
    from raretrace.pricing import PriceTable
    from raretrace.rules.judging import parse_assertions, parse_end_use
    from raretrace.rules.verdict import breaches, gate_level

    day = None
    if as_of is not None:
        try:
            day = date.fromisoformat(as_of)
        except ValueError as e:
            raise ValidationError(f"{as_of!r} is not a date (YYYY-MM-DD)", field="as_of") from e
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
        answer: dict[str, object] = {"verdicts": [v.to_dict() for v in verdicts]}
        if outlooks is not None:
            answer["upcoming"] = [o.to_dict() for o in outlooks]
        emit_json(answer)
    else:
        from raretrace.views import print_outlooks, print_verdicts

        print_verdicts(out_console, verdicts, details=details)
        if outlooks is not None:
            print_outlooks(out_console, outlooks)
    if level is not None and breaches(verdicts, level):
        raise typer.Exit(GATE_EXIT_CODE)


@app.command("regimes")
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


@app.command()
def demo(
    ctx: typer.Context,
    db: Annotated[
        str | None,
        typer.Option("--db", help="Where to build the demo registry (default: a fresh raretrace-demo.db)"),
    ] = None,
    no_serve: Annotated[
        bool, typer.Option("--no-serve", help="Build and print only; do not start the web server")
    ] = False,
    scale: Annotated[
        float, typer.Option(min=0.01, max=10.0, help="Multiply the number of lots (1.0: about 8,700)")
    ] = 1.0,
    seed: Annotated[int, typer.Option(help="Seed of every choice the world makes")] = 0,
    host: Annotated[str, typer.Option(help="Address to serve on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port to serve on")] = 8000,
    as_json: JsonFlag = False,
) -> None:
    """Build the demo world — real deposits and plants, published capacities and stage shares,
    thousands of signed lots from mines to magnets, EV motors and defense platforms, and four planted
    cases (a false declared origin, Chinese magnet technology, Chinese-separated oxide in a defense
    magnet, a certificate tampered with in transit) — print what the checks find, then serve it.

    Example: raretrace demo --db demo.db --no-serve
    """
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from raretrace.cli_serve import require_free_port
    from raretrace.demo import DEFAULT_DB, expected_lots, run_demo

    target = db or _ctx(ctx).db or DEFAULT_DB
    if not no_serve:
        require_free_port(host, port)  # said before a minute of building, not after
    with Progress(
        TextColumn("building the demo world: {task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("lots"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=err_console,
        transient=True,
        disable=as_json or not err_console.is_terminal,
    ) as bar:
        estimate = expected_lots(scale)  # measured at scale 1; the bar grows if the world records more
        task = bar.add_task("plants", total=estimate)

        def progress(stage: str, lots: int) -> None:
            bar.update(task, description=stage, completed=lots, total=max(estimate, lots))

        summary = run_demo(
            target,
            console=None if as_json else out_console,
            scale=scale,
            seed=seed,
            progress=progress,
        )
    if as_json:
        emit_json(summary)
    if not no_serve:
        from raretrace.cli_serve import run_server

        # the demo is a development registry: a one-day secretariat token is printed to log in with
        run_server(target, host=host, port=port, dev=True)


register_certificate_commands(app)
register_fingerprint_commands(app)
register_world_commands(app)
register_interchange_commands(app)
register_serve_commands(app)
register_publish_commands(log_app)
register_consortium_commands(app)
register_witness_commands(app)
register_search_commands(app, lot_app)


def error_object(error: RaretraceError) -> dict[str, object]:
    """An error as ``--json`` prints it: what a program needs to react without parsing prose."""
    return {
        "kind": type(error).__name__,
        "message": error.message,
        "field": error.field,
        "context": error.context,
        "exit_code": error.exit_code,
    }


def usage_error_object(error: typer.TyperException) -> dict[str, object]:
    """A usage error the command line parser found (unknown option, missing argument, bad value) in
    ``error_object``'s shape: ``kind`` UsageError, ``field`` the parameter when the parser names one,
    and its exit code (2, as for invalid input)."""
    param = getattr(error, "param", None)
    return {
        "kind": "UsageError",
        "message": _usage_message(error),
        "field": getattr(param, "name", None),
        "context": None,
        "exit_code": _usage_code(error),
    }


def _usage_message(error: typer.TyperException) -> str:
    formatted = getattr(error, "format_message", None)
    return str(formatted()) if callable(formatted) else str(error)


def _usage_code(error: typer.TyperException) -> int:
    code = getattr(error, "exit_code", ValidationError.exit_code)
    return code if isinstance(code, int) else ValidationError.exit_code


def main() -> None:
    """Entry point: one handler turns every raretrace error into a message and an exit code.

    Typer runs in standalone mode, so usage errors, ``typer.Exit`` codes and Ctrl-C are its own
    business; only our errors come through here.
    """
    as_json = "--json" in sys.argv[1:]
    try:
        if as_json:  # click's own usage errors come back here, to print as the one JSON error
            code = app(prog_name="raretrace", standalone_mode=False)
            sys.exit(code if isinstance(code, int) else 0)
        app(prog_name="raretrace")  # also under `python -m raretrace`: completion and usage name it
    except RaretraceError as e:
        if as_json:  # the one JSON object a --json run promises, for the error too
            emit_json({"error": error_object(e)})
        _fail(str(e), e.exit_code)
    except typer.TyperException as e:  # only with --json: an unknown option, a missing argument
        emit_json({"error": usage_error_object(e)})
        _fail(_usage_message(e), _usage_code(e))
    except typer.Abort:  # only with --json: Ctrl-C
        _fail("interrupted", 130)
    except BrokenPipeError:
        sys.exit(0)
    except RecursionError:  # JSON nested beyond the standard reader, wherever a file was read
        _fail(str(too_deep()), ValidationError.exit_code)
    except Exception as e:  # a bug: one line and a documented code, never a traceback
        _fail(f"internal error ({type(e).__name__}: {e}); please report it", INTERNAL_ERROR)


#: The exit code of a failure that is not the input's fault (BSD sysexits EX_SOFTWARE).
INTERNAL_ERROR = 70


def _fail(message: str, code: int) -> None:
    err_console.print(f"[red]error:[/red] {escape(message)}", highlight=False, soft_wrap=True)
    sys.exit(code)
