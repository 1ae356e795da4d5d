"""Exports: lots, traces, verdicts, certificates, facilities and events as tables.

Each export is a generator of records built by the library's own calls — ``Registry.lot_details``
for lots, ``ledger.lineage`` for traces, ``ledger.compliance.check_lots`` for verdicts, the
certificates the registry issued — and a column list, which ``writers.write_table`` turns into CSV,
JSON or Parquet. Facilities and events come out in the import templates' shape, with each event's
signed envelope, so another registry can import them (the round trip the tests run).
"""

from __future__ import annotations

import base64
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, fields
from datetime import date
from typing import Any

from raretrace.crypto.dsse import recorded_statement
from raretrace.interchange.columns import COMPOSITION_COMPONENTS, COMPOSITION_UNIT, template_headers
from raretrace.interchange.writers import Columns, Record
from raretrace.ledger.registry import Registry
from raretrace.store import exports as rows

#: the kinds an event export carries: what a participant records about material. Identity,
#: correction and import events are the registry's own acts and cannot be re-signed elsewhere.
MATERIAL_KINDS = ("extract", "process", "assemble", "recycle", "transfer", "receive", "assay")
EXPORTS = ("lots", "traces", "verdicts", "certificates", "facilities", "events")


def all_lot_ids(registry: Registry) -> list[str]:
    with registry.engine.connect() as conn:
        return rows.lot_ids(conn)


# --- lots ------------------------------------------------------------------------------------------

LOT_COLUMNS: Columns = (
    ("id", "text"),
    ("form", "text"),
    ("mass_kg", "float"),
    ("units", "int"),
    ("remaining_kg", "float"),
    ("custodian", "text"),
    ("in_transit_to", "text"),
    ("producer", "text"),
    ("stage", "text"),
    ("deposit", "text"),
    ("declared_value", "float"),
    ("currency", "text"),
    ("created_time", "text"),
    ("void", "bool"),
    ("composition", "text"),
    ("origin", "text"),
    ("origin_by_value", "text"),
    ("inputs", "text"),
)


def lot_records(registry: Registry, lot_ids: Sequence[str] | None = None) -> Iterator[Record]:
    """Each lot as ``lot show --json`` gives it, with the lot's own fields also at the top level."""
    for lot_id in lot_ids or all_lot_ids(registry):
        details = registry.lot_details(lot_id)
        lot = dict(details.lot)
        declared = lot.get("declared_value")
        value = declared if isinstance(declared, dict) else {}
        yield {
            "lot": lot,
            "origin_by_value": dict(details.origin_by_value),
            "inputs": [asdict(used) for used in details.inputs],
            "transfers": [
                {
                    "event_index": m.event_index,
                    "from": m.sender,
                    "to": m.to,
                    "received_event_index": m.received_event_index,
                }
                for m in details.transfers
            ],
            "assays": [dict(assay) for assay in details.assays],
            **{k: v for k, v in lot.items() if k != "declared_value"},
            "declared_value": value.get("amount"),
            "currency": value.get("currency"),
        }


# --- traces ----------------------------------------------------------------------------------------

TRACE_UP_COLUMNS: Columns = (
    ("lot", "text"),
    ("source", "text"),
    ("share", "float"),
    ("path_count", "int"),
    ("source_form", "text"),
    ("source_producer", "text"),
    ("source_deposit", "text"),
)
TRACE_DOWN_COLUMNS: Columns = (
    ("lot", "text"),
    ("reached", "text"),
    ("end_item", "bool"),
    ("form", "text"),
    ("custodian", "text"),
)


def trace_records(registry: Registry, lot_ids: Sequence[str] | None, *, up: bool) -> Iterator[Record]:
    """One record per (lot, source) going up, or per (lot, lot reached) going down; the JSON form of
    each record also carries the whole trace of its lot (``trace`` key on the lot's first record), as
    the typed answer: the writer's caller makes JSON of it (``render.jsonable``)."""
    from raretrace.ledger.lineage import trace_down, trace_up

    for lot_id in lot_ids or all_lot_ids(registry):
        if up:
            result = trace_up(registry, lot_id)
            for i, source in enumerate(result.sources):
                yield {
                    "lot": lot_id,
                    "source": source.lot,
                    "share": source.share,
                    "path_count": source.path_count,
                    "source_form": source.summary["form"],
                    "source_producer": source.summary["producer"],
                    "source_deposit": source.summary["deposit"],
                    **({"trace": result} if i == 0 else {}),
                }
        else:
            down = trace_down(registry, lot_id)
            ends = set(down.end_items)
            for i, reached in enumerate(down.reached):
                info = down.lots.get(reached)
                yield {
                    "lot": lot_id,
                    "reached": reached,
                    "end_item": reached in ends,
                    "form": info["form"] if info else None,
                    "custodian": info["custodian"] if info else None,
                    **({"trace": down} if i == 0 else {}),
                }


# --- verdicts --------------------------------------------------------------------------------------

VERDICT_COLUMNS: Columns = (
    ("regime", "text"),
    ("version", "text"),
    ("subject", "text"),
    ("as_of", "text"),
    ("end_use", "text"),
    ("assertions", "text"),
    ("outcome", "text"),
    ("decided_by", "text"),
    ("explanation", "text"),
    ("notices", "text"),
    ("findings", "text"),
    ("sources", "text"),
)


def verdict_records(
    registry: Registry,
    lot_ids: Sequence[str] | None,
    *,
    as_of: date | None = None,
    end_use: str | None = None,
    regimes: Sequence[str] | None = None,
) -> Iterator[Record]:
    """Every lot under every regime, as ``raretrace check --json`` gives it (portfolio regimes judge
    the lots exported together, once), with its lists of words joined into text. The findings stay
    typed: the writer's caller makes JSON of them (``render.jsonable``)."""
    from raretrace.ledger.compliance import check_lots

    lots = list(lot_ids or all_lot_ids(registry))
    if not lots:
        return
    for verdict in check_lots(registry, lots, regimes=regimes or None, as_of=as_of, end_use=end_use):
        record: Record = {f.name: getattr(verdict, f.name) for f in fields(verdict)}  # in the JSON's order
        record.update(
            subject=" ".join(verdict.subject),
            end_use=verdict.end_use or "",
            assertions=" ".join(verdict.assertions),
            decided_by=" ".join(verdict.decided_by),
            notices=" | ".join(verdict.notices),
        )
        yield record


# --- certificates ----------------------------------------------------------------------------------

CERTIFICATE_COLUMNS: Columns = (
    ("id", "text"),
    ("number", "text"),
    ("status_index", "int"),
    ("transfer_event", "text"),
    ("lots", "text"),
    ("issued_at", "text"),
    ("valid_until", "text"),
    ("revoked_at", "text"),
    ("revocation_reason", "text"),
    ("credential", "text"),
)


def certificate_records(registry: Registry) -> Iterator[Record]:
    """The certificates this registry issued (``ledger.certificates.issue``), with their signed
    credential as issued (concealed fields stay concealed) and their revocation state."""
    with registry.engine.connect() as conn:
        issued = rows.issued_certificates(conn)
    for row in issued:
        yield {
            "id": row.id,
            "number": row.number,
            "status_index": row.status_index,
            "transfer_event": row.transfer_event,
            "lots": row.lots,
            "issued_at": row.issued_at,
            "valid_until": row.valid_until,
            "revoked_at": row.revoked_at,
            "revocation_reason": row.revocation_reason,
            "credential": row.credential,
        }


# --- facilities (the import template's shape) -------------------------------------------------------

FACILITY_COLUMNS: Columns = tuple((name, "text") for name in template_headers("facilities"))


def facility_records(registry: Registry) -> Iterator[Record]:
    """Registered facilities with their unrevoked keys, each key's validity in the same position."""
    with registry.engine.connect() as conn:
        facilities = registry.store.all_facilities(conn)
        keys = rows.active_keys(conn)
    by_facility: dict[str, list[rows.ActiveKey]] = {}
    for key in keys:
        by_facility.setdefault(key.facility_id, []).append(key)
    for facility in facilities:
        own = by_facility.get(facility.id, [])
        yield {
            "facility_id": facility.id,
            "facility_name": facility.name,
            "operator": facility.operator,
            "country": facility.country,
            "stages": ";".join(sorted(facility.activities)),
            "technology": ";".join(f"{s}={c}" for s, c in sorted(facility.technology.items())),
            "accreditation": facility.accreditation,
            "public_key": ";".join(base64.b64encode(k.public_key).decode() for k in own),
            "key_valid_from": ";".join(k.valid_from for k in own),
            "key_valid_until": ";".join(k.valid_until or "" for k in own)
            if any(k.valid_until for k in own)
            else None,
        }


# --- events (the import template's shape) -----------------------------------------------------------


def stored_events(
    registry: Registry, kinds: Sequence[str] = MATERIAL_KINDS
) -> Iterator[tuple[int, dict[str, Any], bytes]]:
    """(log index, event, envelope bytes) of the recorded events of ``kinds``, in log order, streamed."""
    with registry.engine.connect() as conn:
        for seq, envelope in rows.envelopes_of_kinds(conn, kinds):
            yield seq, recorded_statement(envelope)["predicate"], envelope


def event_columns(registry: Registry) -> Columns:
    """The events template's columns, with a composition column for every component the events use."""
    used = {
        component
        for _, event, _ in stored_events(registry)
        for spec in (*event.get("outputs", ()), *event.get("additions", ()), *event.get("external_feed", ()))
        for component in spec.get("composition", {})
    }
    extra = sorted(used - set(COMPOSITION_COMPONENTS))
    names = [*template_headers("events"), *(f"{c} ({COMPOSITION_UNIT})" for c in extra)]
    numbers = {"mass (kg)": "float", "declared_value": "float", "units": "int"}
    return tuple(
        (name, "float" if name.endswith(f"({COMPOSITION_UNIT})") else numbers.get(name, "text"))
        for name in names
    )


def event_records(registry: Registry) -> Iterator[Record]:
    """Each material event as rows of the events template (its envelope on its first row)."""
    for _, event, envelope in stored_events(registry):
        rows = list(event_rows(event))
        rows[0]["envelope"] = base64.b64encode(envelope).decode("ascii")
        yield from rows


def event_json_records(registry: Registry) -> Iterator[Record]:
    """Each material event as recorded: its log index, the event and its envelope (base64)."""
    for seq, event, envelope in stored_events(registry):
        yield {"log_index": seq, "event": event, "envelope": base64.b64encode(envelope).decode("ascii")}


def event_rows(event: dict[str, Any]) -> Iterator[Record]:
    """The rows of one event in the events template."""
    kind = event["kind"]
    head: Record = {
        "event_id": event["event_id"],
        "kind": kind,
        "time": event["time"],
        "facility_id": event.get("facility"),
        "stage": event.get("stage"),
        "deposit": event.get("deposit"),
        "to_facility": event.get("to"),
        "transfer_event": event.get("transfer_event"),
        "details": event.get("details") or None,
        "method": event.get("method"),
        "results": event.get("results"),
    }
    for spec in event.get("outputs", ()):
        value = spec.get("declared_value") or {}
        yield {
            **head,
            "role": "output",
            "lot_id": spec["id"],
            "form": spec["form"],
            "mass (kg)": spec["mass_kg"],
            "units": spec.get("units"),
            "declared_value": value.get("amount"),
            "currency": value.get("currency"),
            **_composition(spec.get("composition", {})),
        }
    for use in event.get("inputs", ()):
        yield {**head, "role": "input", "lot_id": use["lot"], "mass (kg)": use["mass_kg"]}
    for feed in (*event.get("additions", ()), *event.get("external_feed", ())):
        yield {
            **head,
            "role": "addition",
            "material": feed["material"],
            "mass (kg)": feed["mass_kg"],
            **_composition(feed.get("composition", {})),
        }
    for lot in event.get("lots", ()) or ([event["lot"]] if "lot" in event else ()):
        yield {**head, "role": "lot", "lot_id": lot}


def _composition(fractions: Mapping[str, float]) -> Record:
    return {f"{component} ({COMPOSITION_UNIT})": value for component, value in fractions.items()}
