"""Who may see and do what. The rules of the roles, in one place, checked before any service runs.

Confidentiality between operators: an operator sees a lot only if one of its facilities produced it,
holds it, has it in transit towards it, or shipped or received it. Any other lot — another
participant's or one that does not exist — is answered with the same 404 and the same message, so
a competitor cannot learn that a lot id exists. In lineage answers, lots the caller may not see are
replaced by numbered placeholders (``hidden-1`` …) with their masses and shares kept, so the caller
learns how much of its lot came from elsewhere without learning whose lot it was.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, select

from raretrace.custody.events import SECRETARIAT_KINDS
from raretrace.errors import AuthorizationError, NotFoundError, RaretraceError
from raretrace.ledger.participants import Principal
from raretrace.store import schema as t
from raretrace.store.raw import fetch_in

#: Event kinds only the secretariat submits (it signs them with the registry's key).


class AuthenticationError(RaretraceError):
    """No credentials, or credentials that name no live participant (HTTP 401)."""

    exit_code = 3


def require(principal: Principal, *roles: str, action: str) -> None:
    """Refuse (401 for the public, 403 for a participant) unless the caller has one of ``roles``."""
    if principal.role in roles:
        return
    if principal.id is None:
        raise AuthenticationError(f"{action} needs a participant's bearer token", field="authorization")
    raise AuthorizationError(
        f"{action} is for the {' or '.join(roles)}; participant {principal.id} is a {principal.role}",
        field="authorization",
    )


def require_participant(principal: Principal, *, action: str) -> None:
    require(principal, "operator", "auditor", "secretariat", action=action)


def not_found(lot_id: str) -> NotFoundError:
    """The one answer for a lot that does not exist and a lot the caller may not see."""
    return NotFoundError(f"lot {lot_id} does not exist or is not visible to you", field="lot")


def visible_lots(conn: Connection, principal: Principal, lot_ids: Iterable[str]) -> set[str]:
    """The subset of ``lot_ids`` that exist and that the caller may see.

    Two IN queries on the fast DB-API path (lots, then the transfers of the lots not yet seen), the
    facility test done here: a trace page asks this of every lot it shows."""
    wanted = sorted(set(lot_ids))
    if not wanted:
        return set()
    rows = fetch_in(conn, _LOT_PARTIES, t.lots.c.id, wanted)
    if principal.sees_everything:
        return {r.id for r in rows}
    mine = principal.facilities
    found = {r.id for r in rows if r.custodian in mine or r.producer in mine or r.in_transit_to in mine}
    # Every id not yet seen is looked up in the transfers, whether it exists or not: a lot the caller
    # may not see and one that does not exist then cost the same queries (docs/security.md, timing).
    rest = sorted(set(wanted) - found)
    if rest:
        moves = fetch_in(conn, _MOVES, t.transfers.c.lot_id, rest)
        found.update(m.lot_id for m in moves if m.sender in mine or m.receiver in mine)
    return found


def visible_among(
    conn: Connection, principal: Principal, summaries: Mapping[str, Mapping[str, Any]]
) -> set[str]:
    """``visible_lots`` of the lots of a lineage answer, by id with their summaries (``producer`` and
    ``custodian`` as the trace read them).

    A lot whose producer or custodian in that read is one of the caller's facilities is visible now
    as well: a lot's producer never changes, and custody leaves a facility only through a transfer
    that facility sends, which keeps the lot visible to it. Only the other lots are looked up, which
    for an operator tracing its own product is usually one or two lots, not all of them."""
    if principal.sees_everything:
        return visible_lots(conn, principal, summaries)
    mine = principal.facilities
    known = {
        lot_id
        for lot_id, summary in summaries.items()
        if summary.get("custodian") in mine or summary.get("producer") in mine
    }
    return known | visible_lots(conn, principal, [lot_id for lot_id in summaries if lot_id not in known])


_LOT_PARTIES = (t.lots.c.id, t.lots.c.custodian, t.lots.c.producer, t.lots.c.in_transit_to)
_MOVES = (t.transfers.c.lot_id, t.transfers.c.sender, t.transfers.c.receiver)


def require_lots(conn: Connection, principal: Principal, lot_ids: Sequence[str]) -> None:
    """Raise the 404 of the first lot the caller may not see (or that does not exist)."""
    seen = visible_lots(conn, principal, lot_ids)
    for lot_id in lot_ids:
        if lot_id not in seen:
            raise not_found(lot_id)


def require_holds(conn: Connection, principal: Principal, lot_ids: Sequence[str], *, action: str) -> None:
    """An operator acts (certifies) only on lots one of its facilities holds now."""
    require_lots(conn, principal, lot_ids)
    if principal.sees_everything:
        return
    held = set(
        conn.execute(
            select(t.lots.c.id).where(
                t.lots.c.id.in_(list(lot_ids)), t.lots.c.custodian.in_(sorted(principal.facilities))
            )
        ).scalars()
    )
    for lot_id in lot_ids:
        if lot_id not in held:
            raise AuthorizationError(
                f"{action}: lot {lot_id} is not held by a facility of {principal.id}", field="lots"
            )


def may_submit(principal: Principal, kind: str, facility: str | None, where: str) -> None:
    """An operator submits events acted by its own facilities; the secretariat any event."""
    require(principal, "operator", "secretariat", action="submitting events")
    if principal.role == "secretariat":
        return
    if kind in SECRETARIAT_KINDS:
        raise AuthorizationError(f"{where}: a {kind} event is the secretariat's", field="kind")
    if facility not in principal.facilities:
        raise AuthorizationError(
            f"{where}: facility {facility} is not operated by participant {principal.id}", field="facility"
        )
