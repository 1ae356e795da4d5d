"""Recomputing every lot's origin vector from the recorded events (migration 0012: joint paths).

Why a recomputation and not a conversion: stored marginals cannot be turned into joint paths once
lots were blended (that loss is why the paths exist). The events still say everything needed: which
lots each process consumed and how much (``lot_inputs``), what untraced feed it added (the event's
predicate), where and with whose technology it ran (the facility). Events are replayed in log order
through the same provenance functions the append path uses, so a rebuilt vector equals the one a new
registry computes. Imported lots keep the origin their certificate stated (it is all this registry
knows of them); so does anything produced by an event this function does not recompute.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import Connection, text

from raretrace.elements import REE_SYMBOLS
from raretrace.origin_text import decode_origin, encode_origin
from raretrace.provenance import Contribution, LotOrigin, extracted, performed, pooled, untraced

_BATCH = 2000
_PROCESSING = {"process", "assemble", "recycle"}


def _ree_kg(composition: Mapping[str, float], mass_kg: float) -> dict[str, float]:
    return {e: f * mass_kg for e, f in composition.items() if e in REE_SYMBOLS}


def _own(origin: LotOrigin, composition: Mapping[str, float]) -> LotOrigin:
    return {e: o for e, o in origin.items() if composition.get(e, 0.0) > 0}


def _predicate(stored: str) -> dict[str, Any]:
    """The event's predicate from the stored payload (an in-toto Statement holding it)."""
    statement = json.loads(stored)
    inner = statement.get("predicate", statement) if isinstance(statement, dict) else {}
    return inner if isinstance(inner, dict) else {}


def rebuild_origins(conn: Connection, progress: Callable[[int], None] | None = None) -> int:
    """Rewrite the origin of every lot produced by an extract or a processing event; returns how many.

    Runs in the caller's transaction. Inputs are always produced by earlier events, so walking events
    in log order sees every input's rebuilt origin before it is consumed.
    """
    facilities = {
        row.id: (row.country, json.loads(row.technology))
        for row in conn.execute(text("SELECT id, country, technology FROM facilities"))
    }
    rebuilt: dict[str, tuple[str, dict[str, float]]] = {}  # this batch's lots: stored origin, composition
    done = 0
    last = -1
    while lots := _next_batch(conn, last):
        by_seq: dict[int, _Rows] = {}
        for row in lots:
            by_seq.setdefault(row.produced_seq, []).append(row)
        top = max(by_seq)
        events = {
            row.seq: (row.kind, _predicate(row.predicate))
            for row in conn.execute(
                text("SELECT seq, kind, predicate FROM events WHERE seq >= :lo AND seq <= :hi"),
                {"lo": min(by_seq), "hi": top},
            )
            if row.seq in by_seq
        }
        rebuilt.clear()
        consumed = _consumed(conn, {row.id: row.produced_seq for row in lots})
        stored = _stored_parents(conn, consumed)
        updates = []
        for seq in sorted(by_seq):
            kind, predicate = events.get(seq, ("", {}))
            outputs = by_seq[seq]
            origin = _event_origin(
                kind, predicate, outputs[0].producer, facilities, consumed.get(seq, {}), rebuilt, stored
            )
            if origin is None:
                continue
            for row in outputs:
                composition = json.loads(row.composition)
                own = encode_origin(_own(origin, composition))
                rebuilt[row.id] = (own, composition)
                updates.append({"o": own, "i": row.id})
        if updates:
            conn.execute(text("UPDATE lots SET origin = :o WHERE id = :i"), updates)
            done += len(updates)
        last = top
        if progress is not None:
            progress(done)
    return done


#: Rows of the lots table (id, produced_seq, producer, composition), as the driver gives them.
_Rows = list[Any]


def _next_batch(conn: Connection, last: int) -> _Rows:
    """The next lots in log order after event ``last``: about ``_BATCH`` of them, and every output of
    the batch's last event (an event's outputs must be computed together). Empty at the end."""
    lots = list(
        conn.execute(
            text(
                "SELECT id, produced_seq, producer, composition FROM lots "
                "WHERE produced_seq > :last ORDER BY produced_seq, id LIMIT :n"
            ),
            {"last": last, "n": _BATCH},
        ).all()
    )
    if len(lots) < _BATCH:
        return lots
    top = lots[-1].produced_seq
    lots = [r for r in lots if r.produced_seq < top] or lots
    top = lots[-1].produced_seq
    lots += conn.execute(
        text("SELECT id, produced_seq, producer, composition FROM lots WHERE produced_seq = :s"),
        {"s": top},
    ).all()
    return list({r.id: r for r in lots}.values())


def _consumed(conn: Connection, seq_of: Mapping[str, int]) -> dict[int, dict[str, float]]:
    """Event -> parent -> kg the event consumed of it, for the events producing the lots ``seq_of`` maps."""
    consumed: dict[int, dict[str, float]] = {}
    for child, parent, kg in _in_chunks(
        conn, "SELECT child, parent, mass_kg FROM lot_inputs WHERE child IN", list(seq_of)
    ):
        by_parent = consumed.setdefault(seq_of[child], {})
        by_parent[parent] = by_parent.get(parent, 0.0) + float(kg)
    return consumed


def _stored_parents(
    conn: Connection, consumed: Mapping[int, Mapping[str, float]]
) -> dict[str, tuple[str | None, dict[str, float]]]:
    """Every parent's stored origin and composition: one produced earlier in this batch by an event not
    recomputed here (an import) keeps its stored origin too."""
    wanted = sorted({p for parents in consumed.values() for p in parents})
    return {
        lot_id: (origin, json.loads(composition))
        for lot_id, origin, composition in _in_chunks(
            conn, "SELECT id, origin, composition FROM lots WHERE id IN", wanted
        )
    }


def _in_chunks(conn: Connection, sql: str, values: list[str]) -> list[Any]:
    """``sql`` (ending in ``IN``) for ``values``, in lists of at most 500."""
    rows: list[Any] = []
    for i in range(0, len(values), 500):
        part = values[i : i + 500]
        names = [f"v{j}" for j in range(len(part))]
        rows += conn.execute(
            text(f"{sql} ({', '.join(':' + n for n in names)})"), dict(zip(names, part, strict=True))
        ).all()
    return rows


def _event_origin(
    kind: str,
    predicate: Mapping[str, Any],
    producer: str,
    facilities: Mapping[str, tuple[str, Mapping[str, str]]],
    consumed: Mapping[str, float],
    rebuilt: Mapping[str, tuple[str, dict[str, float]]],
    stored: Mapping[str, tuple[str | None, dict[str, float]]],
) -> LotOrigin | None:
    if producer not in facilities:
        return None
    country, technology = facilities[producer]
    if kind == "extract":
        elements = {
            e for o in predicate.get("outputs", []) for e in o.get("composition", {}) if e in REE_SYMBOLS
        }
        return extracted(elements, country, technology.get("mining", country))
    if kind not in _PROCESSING:
        return None
    stage = "recycling" if kind == "recycle" else str(predicate.get("stage"))
    contributions = []
    for parent, mass in sorted(consumed.items()):
        if parent in rebuilt:
            text_origin, composition = rebuilt[parent]
            origin = decode_origin(text_origin)
        else:
            found, composition = stored[parent]
            origin = decode_origin(found) if found else untraced(e for e in composition if e in REE_SYMBOLS)
        contributions.append(Contribution(origin, _ree_kg(composition, mass)))
    untraced_kg: dict[str, float] = {}
    for feed in predicate.get("additions") or predicate.get("external_feed") or []:
        for element, kg in _ree_kg(feed.get("composition", {}), float(feed.get("mass_kg", 0))).items():
            untraced_kg[element] = untraced_kg.get(element, 0.0) + kg
    return performed(pooled(contributions, untraced_kg), stage, country, technology.get(stage, country))
