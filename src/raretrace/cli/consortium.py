"""``raretrace consortium …``: create, change, sign, verify and fetch the signed membership file.

Parse and render only: every rule lives in ``ledger.consortium``. Each change command reads the
newest version, writes the next one unsigned to ``--out``; ``sign`` adds one signer's signature in
place; ``verify`` and ``fetch`` walk the chain from a trusted version.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from raretrace.cli.common import JsonFlag, _ctx, emit_json, out_console
from raretrace.errors import ValidationError
from raretrace.io import read_json_file
from raretrace.jsontypes import JSONObject, JSONValue

if TYPE_CHECKING:
    from raretrace.ledger.consortium import Consortium

consortium_app = typer.Typer(
    help="The consortium's membership file: signed k-of-n, versioned (TUF-root style).", no_args_is_help=True
)

Prev = Annotated[Path, typer.Argument(help="The newest version of the consortium file", dir_okay=False)]
Out = Annotated[
    Path, typer.Option("--out", help="Where to write the next version (unsigned)", dir_okay=False)
]
MemberId = Annotated[str, typer.Option("--id", help="The member's id")]
ConsortiumDir = Annotated[
    Path, typer.Option(help="Directory of the consortium file's versions", file_okay=False)
]
Endpoints = Annotated[
    list[str] | None, typer.Option("--endpoint", help="MEMBER=URL: reach a member there instead")
]


def _read(path: Path) -> JSONValue:
    return read_json_file(path, str(path))


def _signed(path: Path) -> Consortium:
    from raretrace.ledger.consortium import parse_signed

    data = _read(path)
    if not isinstance(data, dict) or "signed" not in data:
        raise ValidationError(f"{path} is not a consortium file (no 'signed')", field=str(path))
    try:
        return parse_signed(data["signed"])
    except ValidationError as e:
        raise e.within(str(path)) from e


def _write(out: Path, doc: JSONObject, as_json: bool) -> None:
    out.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    signed, signatures = doc["signed"], doc["signatures"]
    version = signed.get("version") if isinstance(signed, dict) else None
    count = len(signatures) if isinstance(signatures, list) else 0
    if as_json:
        emit_json({"file": str(out), "version": version, "signatures": count})
    else:
        out_console.print(
            f"wrote version {version} to {escape(str(out))} ({count} signature(s))", highlight=False
        )


def _public_keys(paths: list[Path]) -> list[bytes]:
    from raretrace.crypto.keys import load_public_key

    return [load_public_key(p).raw for p in paths]


@consortium_app.command("create")
def create_command(
    name: Annotated[str, typer.Option(help="The consortium's id")],
    signer: Annotated[list[Path], typer.Option("--signer", help="A signer's public key (PEM); repeatable")],
    threshold: Annotated[int, typer.Option(min=1, help="Signatures needed (k of the n signers)")],
    expires: Annotated[str, typer.Option(help="RFC 3339 time after which this version is refused")],
    witness_quorum: Annotated[int, typer.Option(min=0, help="Member cosignatures a checkpoint needs")] = 1,
    out: Out = Path("1.json"),
    as_json: JsonFlag = False,
) -> None:
    """Write version 1 (no members yet, unsigned); each signer then runs `consortium sign`.

    Example: raretrace consortium create --name rare-earth-club --signer a.pub --signer b.pub
    --signer c.pub --threshold 2 --expires 2027-12-31T00:00:00Z --out 1.json
    """
    from raretrace.ledger.consortium import create, document

    _write(out, document(create(name, _public_keys(signer), threshold, expires, witness_quorum)), as_json)


@consortium_app.command("add-member")
def add_member_command(
    prev: Prev,
    member_id: MemberId,
    name: Annotated[str, typer.Option(help="The member's name")],
    country: Annotated[str, typer.Option(help="ISO 3166-1 alpha-2")],
    role: Annotated[list[str], typer.Option("--role", help="registry, witness or secretariat; repeatable")],
    out: Out,
    origin: Annotated[str | None, typer.Option(help="Its registry's log origin")] = None,
    log_key: Annotated[str | None, typer.Option(help="Its log's verifier key (`log public-key`)")] = None,
    witness_key: Annotated[str | None, typer.Option(help="Its witness key (`trusted-keys`)")] = None,
    endpoint: Annotated[str | None, typer.Option(help="Its API base URL")] = None,
    since: Annotated[str, typer.Option(help="When its log key became current")] = "2020-01-01T00:00:00Z",
    as_json: JsonFlag = False,
) -> None:
    """Write the next version with a new, active member.

    Example: raretrace consortium add-member 1.json --id jp --name "Japan registry" --country JP
    --role registry --role witness --origin registry.jp.example/log --log-key "…" --witness-key "…"
    --endpoint https://registry.jp.example --out 2.json
    """
    from raretrace.ledger.consortium import add_member, document

    member: dict[str, object] = {"id": member_id, "name": name, "country": country, "roles": role}
    member["status"] = "active"
    member["log_keys"] = [] if log_key is None else [{"key": log_key, "since": since}]
    for key, value in (("origin", origin), ("witness_key", witness_key), ("endpoint", endpoint)):
        if value is not None:
            member[key] = value
    _write(out, document(add_member(_signed(prev), member)), as_json)


def _status(status: str) -> Callable[..., None]:
    def command(prev: Prev, member_id: MemberId, out: Out, as_json: JsonFlag = False) -> None:
        from raretrace.ledger.consortium import document, set_status

        _write(out, document(set_status(_signed(prev), member_id, status)), as_json)

    command.__doc__ = (
        f"Write the next version with the member {status}.\n\nExample: raretrace consortium "
        + (
            {"suspended": "suspend", "active": "reinstate", "removed": "remove"}[status]
            + " 3.json --id jp --out 4.json"
        )
    )
    return command


consortium_app.command("suspend")(_status("suspended"))
consortium_app.command("reinstate")(_status("active"))
consortium_app.command("remove")(_status("removed"))


@consortium_app.command("rotate-log-key")
def rotate_log_key_command(
    ctx: typer.Context,
    new_key: Annotated[Path, typer.Option(help="The new log key (PEM, `raretrace keygen`)", dir_okay=False)],
    as_json: JsonFlag = False,
) -> None:
    """Rotate this registry's log key: the old one is kept, the current tree head re-signed with the
    new one. Then announce it (`consortium rotate --log-key … --witness-key … --at …`, values printed
    here). A running server signs with the new key from its next request, no restart (a key kept
    outside the database: put the new key in the server's key file first).

    Example: raretrace --db registry.db consortium rotate-log-key --new-key log-2027.key
    """
    from raretrace.crypto.keys import load_signer
    from raretrace.ledger.log_key import rotate_log_key
    from raretrace.render.jsonable import jsonable

    rotated = rotate_log_key(_ctx(ctx).registry(), load_signer(new_key))
    if as_json:
        emit_json(jsonable(rotated))
        return
    out_console.print(
        f"log key of {escape(rotated.origin)} rotated at {rotated.at} "
        f"(tree head {rotated.tree_size} re-signed)",
        highlight=False,
    )
    for name, value in (("log key", rotated.log_key), ("witness key", rotated.witness_key)):
        out_console.print(f"{name}: {escape(value)}", highlight=False, soft_wrap=True)


@consortium_app.command("rotate")
def rotate_command(
    prev: Prev,
    member_id: MemberId,
    out: Out,
    log_key: Annotated[str | None, typer.Option(help="The member's new log verifier key")] = None,
    at: Annotated[str | None, typer.Option(help="When the new log key takes over (RFC 3339)")] = None,
    witness_key: Annotated[str | None, typer.Option(help="The member's new witness key")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Write the next version with a member's log key and/or witness key rotated. The old log key
    stays listed until --at, so checkpoints it signed still verify.

    Example: raretrace consortium rotate 4.json --id jp --log-key "…" --at 2026-06-15T00:00:00Z --out 5.json
    """
    from raretrace.ledger.consortium import document, rotate_keys
    from raretrace.times import utc_now

    when = at or (utc_now() if log_key is not None else None)
    changed = rotate_keys(_signed(prev), member_id, log_key=log_key, at=when, witness_key=witness_key)
    _write(out, document(changed), as_json)


@consortium_app.command("signers")
def signers_command(
    prev: Prev,
    signer: Annotated[list[Path], typer.Option("--signer", help="A signer's public key (PEM); repeatable")],
    threshold: Annotated[int, typer.Option(min=1, help="Signatures needed")],
    out: Out,
    as_json: JsonFlag = False,
) -> None:
    """Write the next version with new signer keys and threshold (the old signers must sign it too).

    Example: raretrace consortium signers 5.json --signer a.pub --signer d.pub --threshold 2 --out 6.json
    """
    from raretrace.ledger.consortium import document, set_signers

    _write(out, document(set_signers(_signed(prev), _public_keys(signer), threshold)), as_json)


@consortium_app.command("sign")
def sign_command(
    file: Annotated[Path, typer.Argument(help="A version of the consortium file; signed in place")],
    key: Annotated[Path, typer.Option(help="The signer's private key (PEM)", dir_okay=False)],
    as_json: JsonFlag = False,
) -> None:
    """Add your signature to a version of the consortium file.

    Example: raretrace consortium sign 2.json --key secretariat-a.key
    """
    from raretrace.crypto.keys import load_signer
    from raretrace.ledger.consortium import sign

    _write(file, sign(_read(file), load_signer(key)), as_json)


def _render(consortium: Consortium, as_json: bool) -> None:
    if as_json:
        emit_json(consortium.to_dict())
        return
    out_console.print(
        f"consortium {escape(consortium.name)} version {consortium.version} verified "
        f"(expires {consortium.expires}; {consortium.threshold} of {len(consortium.signers)} signers; "
        f"witness quorum {consortium.witness_quorum})",
        highlight=False,
    )
    for m in consortium.members:
        out_console.print(
            f"  {escape(m.id)} ({m.country}) {m.status}: {', '.join(m.roles)}"
            + (f" · {escape(m.origin)}" if m.origin else ""),
            highlight=False,
        )


@consortium_app.command("verify")
def verify_command(
    files: Annotated[
        list[Path], typer.Argument(help="Versions in order (the first is version 1 unless --trusted)")
    ],
    trusted: Annotated[Path | None, typer.Option(help="A version you already trust")] = None,
    at: Annotated[str | None, typer.Option(help="Check expiry at this time (default: now)")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Walk the versions: each signed by a threshold of the previous version's signers and of its own.
    Exit 6 naming the file and the reason if any step fails.

    Example: raretrace consortium verify 1.json 2.json 3.json
    """
    from raretrace.ledger.consortium import verify_chain, verify_root
    from raretrace.times import utc_now

    start = None if trusted is None else verify_root(_read(trusted))
    _render(verify_chain([_read(f) for f in files], start, now=at or utc_now()), as_json)


@consortium_app.command("fetch")
def fetch_command(
    source: Annotated[str, typer.Option("--from", help="Base URL serving 1.json, 2.json …")],
    trusted: Annotated[Path, typer.Option(help="The version you trust (version 1 the first time)")],
    into: Annotated[Path, typer.Option(help="Directory to keep the verified versions in", file_okay=False)],
    as_json: JsonFlag = False,
) -> None:
    """Fetch every newer version from a member or the secretariat, verify the chain from --trusted,
    and keep the verified files (nothing is kept if any version fails).

    Example: raretrace consortium fetch --from https://secretariat.example/consortium --trusted 1.json
    --into consortium/
    """
    import httpx

    from raretrace.errors import StoreError
    from raretrace.ledger.consortium import verify_root
    from raretrace.ledger.consortium_fetch import fetch_newer
    from raretrace.times import utc_now

    def get(name: str) -> bytes | None:
        url = f"{source.rstrip('/')}/{name}"
        try:
            response = httpx.get(url, timeout=30)
        except httpx.HTTPError as e:
            raise StoreError(f"cannot fetch {url}: {e}", field="from") from e
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise StoreError(f"{url} answered {response.status_code}", field="from")
        return response.content

    trusted_doc = _read(trusted)
    newest, docs = fetch_newer(get, verify_root(trusted_doc), now=utc_now())
    into.mkdir(parents=True, exist_ok=True)
    for version, raw in docs:
        (into / f"{version}.json").write_bytes(raw)
    _render(newest, as_json)


@consortium_app.command("member-keys")
def member_keys_command(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """Print what the consortium file needs of this registry: its origin, log key and witness key.

    Example: raretrace --db registry.db consortium member-keys --json
    """
    from raretrace.ledger.witnessing import witness_key
    from raretrace.log.note import verifier_key_text

    registry = _ctx(ctx).registry()
    keys = {
        "origin": registry.origin,
        "log_key": verifier_key_text(registry.origin, registry.signer.public_key),
        "witness_key": witness_key(registry),
    }
    if as_json:
        emit_json(keys)
    else:
        for name, value in keys.items():
            out_console.print(f"{name}: {escape(value)}", highlight=False, soft_wrap=True)


@consortium_app.command("stats")
def stats_command(
    ctx: typer.Context,
    month: Annotated[str, typer.Option(help="The month, YYYY-MM")],
    out: Annotated[Path, typer.Option("--out", help="Where to write the signed statistics", dir_okay=False)],
    as_json: JsonFlag = False,
) -> None:
    """Sign this registry's statistics for a month (production, certified exports, confirmed imports,
    a summary per partner country and element) with its log key: a DSSE envelope for the other members.

    Example: raretrace --db registry.db consortium stats --month 2026-11 --out stats-2026-11.dsse.json
    """
    from raretrace.ledger.member_stats import sign_monthly

    raw = sign_monthly(_ctx(ctx).registry(), month)
    out.write_bytes(raw)
    if as_json:
        emit_json({"file": str(out), "month": month, "bytes": len(raw)})
    else:
        out_console.print(f"signed statistics for {month} written to {escape(str(out))}", highlight=False)


@consortium_app.command("reconcile")
def reconcile_command(
    exporter: Annotated[
        Path, typer.Argument(help="The exporting member's signed statistics", dir_okay=False)
    ],
    importer: Annotated[
        Path, typer.Argument(help="The importing member's signed statistics", dir_okay=False)
    ],
    consortium: Annotated[
        Path, typer.Option(help="Directory of the consortium file's versions", file_okay=False)
    ],
    as_json: JsonFlag = False,
) -> None:
    """Verify both members' signed statistics against the consortium file, then name every mismatch
    of the exporter's shipments to the importer's country, certificate by certificate; exit 8 if any.

    Example: raretrace consortium reconcile au-2026-11.dsse.json us-2026-11.dsse.json --consortium consortium/
    """
    from raretrace.ledger.consortium_fetch import load_directory
    from raretrace.ledger.member_stats import reconcile_signed
    from raretrace.render.jsonable import jsonable
    from raretrace.times import utc_now

    members = load_directory(consortium, utc_now())
    result = reconcile_signed(members, exporter.read_bytes(), importer.read_bytes())
    if as_json:
        emit_json(jsonable(result))
    else:
        out_console.print(
            f"{result.month}: {result.exporter} → {result.importer}, {result.certificates} "
            f"certificate(s): {'agree' if result.agree else 'MISMATCHES'}",
            highlight=False,
        )
        for item in result.findings:
            figures = (
                f" (exporter {item['exporter']}, importer {item['importer']})" if "exporter" in item else ""
            )
            out_console.print(
                f"  {escape(str(item['number']))}: {escape(str(item['issue']))}{figures}", highlight=False
            )
        for form in result.by_form:
            note = "  UNEXPLAINED" if form.unexplained else ""
            named = f" (differences: {', '.join(form.explained_by)})" if form.explained_by else ""
            out_console.print(
                f"  {form.form}: exporter {form.exporter_kg:g} kg, importer {form.importer_kg:g} kg"
                f"{escape(named)}{note}",
                highlight=False,
            )
    if not result.agree:
        raise typer.Exit(8)


@consortium_app.command("confirm-imports")
def confirm_imports_command(
    ctx: typer.Context,
    consortium: ConsortiumDir,
    endpoint: Endpoints = None,
    as_json: JsonFlag = False,
) -> None:
    """Send the exporting member a signed confirmation of every import in this registry's log (the
    Kimberley confirmation step). Safe to repeat; exporters that are offline get theirs next time.
    Exit 7 if some exporter was unreachable, 8 if one refused a confirmation.

    Example: raretrace --db member-b.db consortium confirm-imports --consortium consortium/
    """
    import httpx

    from raretrace.cli.witness import parse_endpoints
    from raretrace.ledger.confirmations import send_pending
    from raretrace.ledger.consortium_fetch import load_directory
    from raretrace.render.jsonable import jsonable
    from raretrace.times import utc_now

    members = load_directory(consortium, utc_now())
    with httpx.Client(timeout=30) as client:
        sent = send_pending(_ctx(ctx).registry(), members, client, endpoints=parse_endpoints(endpoint or []))
    if as_json:
        emit_json(jsonable(sent))
    else:
        for item in sent:
            detail = f" — {escape(item.detail)}" if item.detail else ""
            out_console.print(
                f"{escape(item.certificate)} → {item.exporter}: {item.status}{detail}", highlight=False
            )
    statuses = {item.status for item in sent}
    if statuses & {"refused", "unknown_exporter"}:
        raise typer.Exit(8)
    if "offline" in statuses:
        raise typer.Exit(7)


@consortium_app.command("receive")
def receive_command(
    ctx: typer.Context,
    consortium: ConsortiumDir,
    facility: Annotated[str, typer.Option(help="The importing facility (the certificates' importer)")],
    key: Annotated[Path, typer.Option(help="That facility's private key (PEM)", dir_okay=False)],
    endpoint: Endpoints = None,
    as_json: JsonFlag = False,
) -> None:
    """Fetch from every other member the certificates it keeps for FACILITY, check them and the proofs
    they cite, import the lots into this registry and send each exporter its signed confirmation.
    Safe to repeat. Exit 7 if some exporter was unreachable, 8 if a shipment or confirmation was refused.

    Example: raretrace --db b.db consortium receive --consortium consortium/ --facility US-MAG --key mag.key
    """
    import httpx

    from raretrace.cli.witness import parse_endpoints
    from raretrace.crypto.keys import load_signer
    from raretrace.ledger.confirmations import send_pending
    from raretrace.ledger.consortium_fetch import load_directory
    from raretrace.ledger.shipments import receive
    from raretrace.render.jsonable import jsonable
    from raretrace.times import utc_now

    members = load_directory(consortium, utc_now())
    registry = _ctx(ctx).registry()
    endpoints = parse_endpoints(endpoint or [])
    with httpx.Client(timeout=30) as client:
        received = receive(
            registry, members, client, facility=facility, signer=load_signer(key), endpoints=endpoints
        )
        sent = send_pending(registry, members, client, endpoints=endpoints)
    if as_json:
        emit_json({"received": jsonable(received), "confirmations": jsonable(sent)})
    else:
        for item in received:
            detail = f" — {escape(item.detail)}" if item.detail else ""
            what = escape(item.certificate or "(member)")
            out_console.print(f"{item.exporter} → {what}: {item.status}{detail}", highlight=False)
        for c in sent:
            detail = f" — {escape(c.detail)}" if c.detail else ""
            out_console.print(f"{escape(c.certificate)} → {c.exporter}: {c.status}{detail}", highlight=False)
    statuses = {item.status for item in received} | {c.status for c in sent}
    if statuses & {"refused", "unknown_exporter"}:
        raise typer.Exit(8)
    if "offline" in statuses:
        raise typer.Exit(7)


@consortium_app.command("confirmations")
def confirmations_command(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """List the import confirmations this (exporting) registry received from other members.

    Example: raretrace --db registry.db consortium confirmations --json
    """
    from raretrace.ledger.confirmations import recorded
    from raretrace.render.jsonable import jsonable

    rows = recorded(_ctx(ctx).registry())
    if as_json:
        emit_json(jsonable(rows))
        return
    for row in rows:
        out_console.print(
            f"{escape(row.certificate)}: confirmed by {escape(row.importer_log)} "
            f"(leaf {row.leaf_index}, {row.confirmed_at})",
            highlight=False,
        )
    if not rows:
        out_console.print("no confirmations received", highlight=False)


def register(app: typer.Typer) -> None:
    app.add_typer(consortium_app, name="consortium")
