"""Who may see and do what, checked before any service runs: the records the rules need, read for them.

The rules themselves are pure and live in ``raretrace.roles`` (the roles, and the decisions over a
caller and some records). This module reads what they decide on — which lots exist and which the
caller's facilities took part in (``store.visibility``), which it holds now — and asks them. The routes
import the rules from here as well, so one module answers "may this caller …" for the server.

In lineage answers, lots the caller may not see are replaced by numbered placeholders (``hidden-1`` …,
``server/redact.py``) with their masses and shares kept, so the caller learns how much of its lot came
from elsewhere without learning whose lot it was.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from raretrace.roles import (
    AuthenticationError,
    Parties,
    Principal,
    may_submit,
    not_found,
    require,
    require_held,
    require_participant,
    require_seen,
    seen_by_holding,
)
from raretrace.store import visibility
from raretrace.store.reading import Connection

__all__ = [
    "AuthenticationError",
    "may_submit",
    "not_found",
    "require",
    "require_holds",
    "require_lots",
    "require_participant",
    "visible_among",
    "visible_lots",
]


def visible_lots(conn: Connection, principal: Principal, lot_ids: Iterable[str]) -> set[str]:
    """The subset of ``lot_ids`` that exist and that the caller may see (``store.visibility``: two IN
    queries on the fast DB-API path; a trace page asks this of every lot it shows)."""
    wanted = sorted(set(lot_ids))
    if not wanted:
        return set()
    if principal.sees_everything:
        return visibility.existing(conn, wanted)
    return visibility.touching(conn, wanted, principal.facilities)


def visible_among(conn: Connection, principal: Principal, lots: Mapping[str, Parties]) -> set[str]:
    """``visible_lots`` of the lots of a lineage answer, by id with their summaries (``producer`` and
    ``custodian`` as the trace read them). Those ``roles.seen_by_holding`` already allows are not looked
    up, which for an operator tracing its own product leaves one or two lots, not all of them."""
    if principal.sees_everything:
        return visible_lots(conn, principal, lots)
    known = seen_by_holding(principal, lots)
    return known | visible_lots(conn, principal, [lot_id for lot_id in lots if lot_id not in known])


def require_lots(conn: Connection, principal: Principal, lot_ids: Sequence[str]) -> None:
    """Raise the 404 of the first lot the caller may not see (or that does not exist)."""
    require_seen(lot_ids, visible_lots(conn, principal, lot_ids))


def require_holds(conn: Connection, principal: Principal, lot_ids: Sequence[str], *, action: str) -> None:
    """An operator acts (certifies) only on lots one of its facilities holds now."""
    require_lots(conn, principal, lot_ids)
    if principal.sees_everything:
        return
    require_held(principal, lot_ids, visibility.held_by(conn, lot_ids, principal.facilities), action=action)
