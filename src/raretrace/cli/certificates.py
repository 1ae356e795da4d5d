"""Certificate commands: issue, present (selective disclosure), verify offline, revoke, status list,
trusted keys. Each calls the library and renders; verification's steps are printed numbered."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from raretrace.cli.common import JsonFlag, _ctx, emit_json, emit_text, err_console, json_text, out_console
from raretrace.errors import NotFoundError, ProofError, ValidationError
from raretrace.io import read_json_file
from raretrace.jsontypes import JSONObject, JSONValue
from raretrace.times import parse_date, parse_instant

#: What ``present --hide`` accepts, and the disclosure names each hides. Hiding identities, masses or
#: values also hides the event envelopes, which would reveal them.
HIDE = {
    "exporter": ("exporter",),
    "importer": ("importer",),
    "mass": ("massKg",),
    "value": ("valueUsd", "declaredValueUsd"),
    "events": ("envelope",),
}


def _read_json(path: Path, what: str) -> JSONValue:
    return read_json_file(path, what)


def _read_object(path: Path, what: str) -> JSONObject:
    """A JSON file that must hold one object (a status list, a statistics file)."""
    value = _read_json(path, what)
    if not isinstance(value, dict):
        raise ValidationError(f"{path} does not hold a JSON object", field=what)
    return value


def _write(path: Path | None, text: str) -> None:
    if path is None:
        out_console.file.write(text)
        return
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def _parse_time(value: str | None, field: str) -> datetime | None:
    """An option's RFC 3339 time (offset required: raretrace.times), or None when not given."""
    return None if value is None else parse_instant(value, field)


def certify(
    ctx: typer.Context,
    transfer: Annotated[str | None, typer.Option(help="Transfer event id: certify that shipment")] = None,
    lot: Annotated[list[str] | None, typer.Option("--lot", help="Or certify these lots; repeatable")] = None,
    valid_days: Annotated[int, typer.Option(help="Days the certificate stays valid")] = 365,
    out: Annotated[Path | None, typer.Option(help="Write the certificate here (default: stdout)")] = None,
    html: Annotated[Path | None, typer.Option(help="Also write a printable page (HTML)")] = None,
    pdf: Annotated[Path | None, typer.Option(help="Also write a one-page PDF with its QR code")] = None,
    end_use: Annotated[
        str | None,
        typer.Option(
            "--end-use", help="Judge the verdicts it carries for this end use: civil, military, dual-use"
        ),
    ] = None,
) -> None:
    """Issue a signed shipment certificate (W3C VC 2.0, eddsa-jcs-2022) for a transfer or for lots.

    Example: raretrace --db registry.db certify --transfer urn:raretrace:event:transfer-000014 --out cert.json
    """
    from raretrace.ledger.certificates import issue
    from raretrace.rules.judging import parse_end_use

    certificate = issue(
        _ctx(ctx).registry(),
        transfer=transfer,
        lots=lot or (),
        valid_days=valid_days,
        end_use=parse_end_use(end_use),
    )
    presentation = certificate.to_dict()
    _write(out, json_text(presentation))
    _render(presentation, html, pdf)
    if out is not None:
        out_console.print(f"certificate {certificate.number} written to {escape(str(out))}", highlight=False)


def _render(presentation: JSONObject, html: Path | None, pdf: Path | None) -> None:
    from raretrace.certify.render import render_html, render_pdf

    if html is not None:
        _write(html, render_html(presentation))
    if pdf is not None:
        tmp = pdf.with_name(pdf.name + ".tmp")
        tmp.write_bytes(render_pdf(presentation))
        tmp.replace(pdf)


def render(
    cert: Annotated[Path, typer.Argument(help="Certificate file (JSON), as issued or as presented")],
    html: Annotated[Path | None, typer.Option(help="Write a printable page (HTML)")] = None,
    pdf: Annotated[Path | None, typer.Option(help="Write a one-page PDF with its QR code")] = None,
) -> None:
    """Render a certificate for people: one page with origin, verdicts and a QR code to verify it.
    Only what the holder disclosed is shown. A page proves nothing by itself: verify the file.

    Example: raretrace render cert.json --html cert.html --pdf cert.pdf
    """
    from raretrace.certify.verify import load_presentation

    if html is None and pdf is None:
        raise ValidationError("give --html FILE, --pdf FILE or both", field="format")
    _render(load_presentation(_read_json(cert, "certificate")), html, pdf)


def present(
    cert: Annotated[Path, typer.Argument(help="Certificate file (JSON)")],
    hide: Annotated[
        list[str] | None,
        typer.Option("--hide", help=f"Hide from the recipient: {', '.join(HIDE)}; repeatable"),
    ] = None,
    out: Annotated[Path | None, typer.Option(help="Write the presentation here (default: stdout)")] = None,
) -> None:
    """Pass a certificate on with chosen fields hidden; what is shown still verifies.

    Example: raretrace present cert.json --hide exporter --hide value --out for-buyer.json
    """
    from raretrace.certify.disclosure import parse_disclosure
    from raretrace.certify.verify import disclosures_of, load_presentation

    presentation = load_presentation(_read_json(cert, "certificate"))
    disclosures = disclosures_of(presentation)
    unknown = [h for h in hide or [] if h not in HIDE]
    if unknown:
        raise ValidationError(f"{unknown[0]!r} is not one of {', '.join(HIDE)}", field="hide")
    chosen = set(hide or [])
    if chosen & {"exporter", "importer", "mass", "value"}:
        chosen.add("events")  # the envelopes would show what is hidden
    names = {name for h in chosen for name in HIDE[h]}
    kept = [d for d in disclosures if parse_disclosure(d)[0] not in names]
    result = {"credential": presentation["credential"], "disclosures": kept}
    _write(out, json_text(result))
    withheld = len(disclosures) - len(kept)
    if chosen:  # on stderr: stdout may be the presentation itself
        forced = " (and the event envelopes, which would show them)" if "events" not in (hide or []) else ""
        asked = ", ".join(h for h in HIDE if h in (hide or []))
        err_console.print(
            f"hid {asked}{forced}: {withheld} of {len(disclosures)} disclosed value(s) "
            "withheld; the rest still verifies",
            highlight=False,
            soft_wrap=True,
        )


def _own_trusted_keys(ctx: typer.Context) -> JSONObject:
    """This registry's trusted keys, for `verify` without --trusted-keys; without a registry here the
    advice is how to verify a file someone sent, not how to create a registry."""
    from raretrace.errors import StoreError
    from raretrace.ledger.certificates import trusted_keys as registry_keys

    try:
        registry = _ctx(ctx).registry()
    except (StoreError, NotFoundError) as e:
        raise ValidationError(
            "no --trusted-keys file given, and no registry here to take them from: to verify a certificate "
            "you received, give the issuer's trusted keys (it publishes them with `raretrace trusted-keys`), "
            "e.g. raretrace verify cert.json --trusted-keys trusted-keys.json",
            field="trusted_keys",
        ) from e
    return registry_keys(registry)


def verify(
    ctx: typer.Context,
    cert: Annotated[Path, typer.Argument(help="Certificate file (JSON)")],
    trusted_keys: Annotated[
        Path | None,
        typer.Option(help="Trusted issuers, logs and witnesses (JSON; default: this registry's own)"),
    ] = None,
    status_list: Annotated[
        Path | None, typer.Option(help="The issuer's status list credential (JSON)")
    ] = None,
    witness_threshold: Annotated[int, typer.Option(min=0, help="Cosignatures required")] = 0,
    at: Annotated[str | None, typer.Option(help="Judge validity at this time (default: now)")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Verify a certificate offline, step by step; exit 0 only if every step passes.

    Example: raretrace verify cert.json --trusted-keys trusted.json --status-list status.json
    """
    from raretrace.certify.verify import TrustedKeys, load_presentation, summary_lines, verify_certificate

    moment = _parse_time(at, "at")  # options before files: a typo is reported before any file is read
    presentation = load_presentation(_read_json(cert, "certificate"))
    if trusted_keys is not None:
        trusted = TrustedKeys.from_dict(_read_json(trusted_keys, "trusted_keys"))
    else:
        trusted = TrustedKeys.from_dict(_own_trusted_keys(ctx))
    listing = _read_object(status_list, "status_list") if status_list else None
    report = verify_certificate(
        presentation,
        trusted,
        status_list=listing,
        witness_threshold=witness_threshold,
        now=moment,
    )
    if as_json:
        emit_json(report.to_dict())
    else:
        for line in summary_lines(report):
            out_console.print(escape(line), soft_wrap=True, highlight=False)
        out_console.print(
            "[green]certificate verified[/green]" if report.ok else "[red]certificate REJECTED[/red]"
        )
    if not report.ok:
        raise typer.Exit(ProofError.exit_code)


def revoke(
    ctx: typer.Context,
    cert_id: Annotated[str, typer.Argument(metavar="CERT_ID", help="Certificate id or number")],
    reason: Annotated[str, typer.Option(help="Why it is revoked (kept with the record)")],
    as_json: JsonFlag = False,
) -> None:
    """Revoke a certificate: its bit is set in the status list the registry publishes.

    Example: raretrace --db registry.db revoke CN-2026-000001 --reason "shipment diverted"
    """
    from raretrace.ledger.certificates import revoke as revoke_certificate
    from raretrace.render.jsonable import jsonable

    result = revoke_certificate(_ctx(ctx).registry(), cert_id, reason)
    if as_json:
        emit_json(jsonable(result))
    else:
        out_console.print(f"revoked {escape(result.id)} at {result.revoked_at}", highlight=False)


def status_list_command(
    ctx: typer.Context,
    out: Annotated[Path | None, typer.Option(help="Write it here (default: stdout)")] = None,
) -> None:
    """Publish the signed Bitstring Status List credential (revoked certificates).

    Example: raretrace --db registry.db status-list --out status.json
    """
    from raretrace.ledger.certificates import status_list

    _write(out, json_text(status_list(_ctx(ctx).registry())))


def trusted_keys_command(
    ctx: typer.Context,
    out: Annotated[Path | None, typer.Option(help="Write it here (default: stdout)")] = None,
) -> None:
    """Export what a verifier needs to trust this registry: issuer DID, log name and key, witnesses.

    Example: raretrace --db registry.db trusted-keys --out trusted.json
    """
    from raretrace.ledger.certificates import trusted_keys

    _write(out, json_text(trusted_keys(_ctx(ctx).registry())))


def witness(
    ctx: typer.Context,
    log: Annotated[str, typer.Argument(help="The other registry's database (file or URL) to witness")],
    log_key: Annotated[
        str | None, typer.Option(help="Its checkpoint verifier key (needed the first time only)")
    ] = None,
    submit: Annotated[bool, typer.Option(help="Give the cosignature to that log (it must trust us)")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Witness another member's log: check it grew append-only since the last checkpoint this registry
    cosigned, then cosign its newest checkpoint (C2SP tlog-cosignature). A rolled-back or forked log
    (split view) is refused with exit 6.

    Example: raretrace --db member-b.db witness member-a.db --log-key "registry.a.example/log+1234abcd+AX…"
    """
    from raretrace.ledger.registry import Registry
    from raretrace.ledger.witnessing import RegistryLog, witness_log
    from raretrace.ledger.witnessing import submit as submit_cosignature
    from raretrace.store.db import make_engine

    other = Registry(make_engine(log, must_exist=True))
    result = witness_log(_ctx(ctx).registry(), RegistryLog(other), log_key=log_key)
    accepted = submit_cosignature(other, result) if submit else []
    if as_json:
        emit_json({**result.to_dict(), "submitted": bool(accepted)})
        return
    since = "first time" if result.old_size is None else f"consistent with size {result.old_size}"
    # stdout is the cosigned note byte for byte (`witness … > note.txt` saves a note that verifies);
    # what happened goes to stderr
    err_console.print(f"witnessed {escape(result.origin)} at size {result.size} ({since})", highlight=False)
    emit_text(result.note)
    if accepted:
        err_console.print("cosignature accepted by the log", highlight=False)


def witness_compare(
    notes: Annotated[list[Path], typer.Argument(help="Checkpoint notes held by different witnesses")],
    log_key: Annotated[str, typer.Option(help="The log's checkpoint verifier key")],
    as_json: JsonFlag = False,
) -> None:
    """Look for a split view: two checkpoints of one log with the same size and different roots.
    Exit 6 if one is found.

    Example: raretrace witness-compare seen-by-a.txt seen-by-b.txt --log-key "registry.example/log+…"
    """
    from raretrace.ledger.witnessing import compare_views
    from raretrace.render.jsonable import jsonable

    texts = []
    for path in notes:
        try:
            texts.append(path.read_text(encoding="utf-8"))
        except OSError as e:
            raise NotFoundError(f"cannot read {path}: {e.strerror}", field="notes") from e
    conflicts = compare_views(texts, log_key)
    if as_json:
        emit_json({"split_view": bool(conflicts), "conflicts": jsonable(conflicts)})
    elif conflicts:
        for conflict in conflicts:
            roots = "; ".join(f"{r.root[:16]}… signed by {', '.join(r.signed_by)}" for r in conflict.roots)
            out_console.print(
                f"[red]split view[/red] at size {conflict.size}: {escape(roots)}", soft_wrap=True
            )
    else:
        out_console.print(f"no split view among {len(texts)} checkpoint(s)", highlight=False)
    if conflicts:
        raise typer.Exit(ProofError.exit_code)


def trust_registry_command(
    ctx: typer.Context,
    trusted_keys: Annotated[Path, typer.Option(help="The other registry's trusted-keys file")],
    witness_threshold: Annotated[
        int | None, typer.Option(min=0, help="Cosignatures an imported certificate must carry")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Trust another member's registry: its certificates can then bring lots in (import events).

    Example: raretrace --db member-b.db trust-registry --trusted-keys a-trusted.json --witness-threshold 1
    """
    from raretrace.ledger.trust import trust_registry

    issuers = trust_registry(
        _ctx(ctx).registry().engine,
        _read_json(trusted_keys, "trusted_keys"),
        witness_threshold=witness_threshold,
    )
    if as_json:
        emit_json({"trusted": issuers})
    else:
        out_console.print(f"trusting {escape(', '.join(issuers))} for imports", highlight=False)


def import_event(
    cert: Annotated[Path, typer.Argument(help="Certificate received with the shipment")],
    facility: Annotated[str, typer.Option(help="The importing facility (the certificate's importer)")],
    event_id: Annotated[
        str | None, typer.Option(help="Event id (default: derived from the certificate)")
    ] = None,
    time: Annotated[str | None, typer.Option(help="Event time, RFC 3339 (default: now)")] = None,
    status_list: Annotated[Path | None, typer.Option(help="The issuer's status list, checked too")] = None,
) -> None:
    """Print the import event for a certificate, ready for `raretrace sign` and `raretrace record`.

    Example: raretrace import-event cert.json --facility US-MAG > import.json
    """
    from raretrace.certify.verify import load_presentation
    from raretrace.custody.namespaces import namespaced

    moment = _parse_time(time, "time") or datetime.now(UTC)
    presentation = load_presentation(_read_json(cert, "certificate"))
    credential = presentation["credential"]
    subject = credential.get("credentialSubject") if isinstance(credential, dict) else None
    number = subject.get("certificateNumber", "certificate") if isinstance(subject, dict) else "certificate"
    event: JSONObject = {
        "kind": "import",
        "event_id": event_id or namespaced("event", facility, f"import-{number}"),
        "time": moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z"),
        "facility": facility,
        "certificate": presentation,
    }
    if status_list is not None:
        event["status_list"] = _read_object(status_list, "status_list")
    _write(None, json_text(event))


def stats(
    ctx: typer.Context,
    start: Annotated[str, typer.Option("--from", help="First day, YYYY-MM-DD")],
    end: Annotated[str, typer.Option("--to", help="Last day, YYYY-MM-DD")],
    out: Annotated[Path | None, typer.Option(help="Write them here (default: stdout)")] = None,
) -> None:
    """Publish this registry's statistics for a period: production, certified exports, imports, by
    element, mass and value (JSON, for `raretrace reconcile`).

    Example: raretrace --db registry.db stats --from 2026-01-01 --to 2026-12-31 --out stats-2026.json
    """

    from raretrace.ledger.federation import statistics

    first, last = parse_date(start, "from"), parse_date(end, "to")
    if last < first:
        raise ValidationError("the period ends before it starts", field="to")
    _write(out, json_text(statistics(_ctx(ctx).registry(), first, last)))


def reconcile_command(
    exporter: Annotated[Path, typer.Argument(help="The exporting registry's statistics (JSON)")],
    importer: Annotated[Path, typer.Argument(help="The importing registry's statistics (JSON)")],
    as_json: JsonFlag = False,
) -> None:
    """Compare two members' statistics certificate by certificate; exit 8 if anything disagrees.

    Example: raretrace reconcile stats-au-2026.json stats-us-2026.json
    """
    from raretrace.certify.reconcile import reconcile

    findings = reconcile(_read_object(exporter, "exporter"), _read_object(importer, "importer"))
    if as_json:
        emit_json({"agree": not findings, "findings": findings})
    elif findings:
        for item in findings:
            figures = (
                f" (exporter {item['exporter']}, importer {item['importer']})" if "exporter" in item else ""
            )
            out_console.print(
                f"[red]mismatch[/red] {escape(str(item['number']))}: {escape(str(item['issue']))}{figures}",
                soft_wrap=True,
            )
    else:
        out_console.print("the two registries' statistics agree", highlight=False)
    if findings:
        raise typer.Exit(8)


def confirmations_command(
    ctx: typer.Context,
    log: Annotated[str, typer.Option(help="The importing registry's database (file or URL)")],
    as_json: JsonFlag = False,
) -> None:
    """Import confirmations of this registry's certificates, read from another member's log.

    Example: raretrace --db member-a.db confirmations --log member-b.db
    """
    from raretrace.ledger.certificates import issuer_did
    from raretrace.ledger.federation import confirmations
    from raretrace.ledger.registry import Registry
    from raretrace.store.db import make_engine

    found = confirmations(Registry(make_engine(log, must_exist=True)), issuer_did(_ctx(ctx).registry()))
    if as_json:
        emit_json({"confirmations": found})
        return
    for item in found:
        out_console.print(
            f"{escape(str(item['number']))}: {item['parcels']} parcel(s), {item['mass_kg']} kg, confirmed by "
            f"{escape(str(item['confirmed_by']))} at {item['time']} "
            f"(leaf {item['leaf_index']} of {escape(str(item['log']))})",
            soft_wrap=True,
            highlight=False,
        )
    if not found:
        out_console.print("no confirmations yet", highlight=False)


def register(app: typer.Typer) -> None:
    app.command()(certify)
    app.command()(present)
    app.command()(render)
    app.command()(verify)
    app.command()(revoke)
    app.command("status-list")(status_list_command)
    app.command("trusted-keys")(trusted_keys_command)
    app.command("witness-compare")(witness_compare)
    app.command("trust-registry")(trust_registry_command)
    app.command("import-event")(import_event)
    app.command()(stats)
    app.command("reconcile")(reconcile_command)
    app.command("confirmations")(confirmations_command)
