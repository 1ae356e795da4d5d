"""The server's participants, their facilities and their API tokens (tables ``participants``,
``participant_facilities``, ``api_tokens``): every statement the participants service runs.

Each function takes the caller's connection, so the service decides what one transaction holds.
Rows come back as frozen dataclasses: the service never reads a column by name.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, bindparam, insert, select, update

from raretrace.store.raw import fetch_all
from raretrace.store.schema import api_tokens, facilities, participant_facilities, participants

_p = participants.c
_t = api_tokens.c
_pf = participant_facilities.c


@dataclass(frozen=True)
class ParticipantRow:
    id: str
    name: str
    role: str
    created_at: str
    disabled_at: str | None


@dataclass(frozen=True)
class TokenHolder:
    """A token's participant and the token's own state; ``facilities`` are the participant's."""

    participant_id: str
    name: str
    role: str
    disabled_at: str | None
    expires_at: str | None
    revoked_at: str | None
    facilities: frozenset[str]


def exists(conn: Connection, participant_id: str) -> bool:
    return conn.execute(select(_p.id).where(_p.id == participant_id)).first() is not None


def disabled_at(conn: Connection, participant_id: str) -> tuple[bool, str | None]:
    """(whether the participant exists, when it was disabled or None)."""
    row = conn.execute(select(_p.disabled_at).where(_p.id == participant_id)).one_or_none()
    return (False, None) if row is None else (True, row.disabled_at)


def registered_facilities(conn: Connection, facility_ids: Sequence[str]) -> set[str]:
    """Those of ``facility_ids`` that are registered."""
    return set(conn.execute(select(facilities.c.id).where(facilities.c.id.in_(facility_ids))).scalars())


def insert_participant(
    conn: Connection, participant_id: str, name: str, role: str, created_at: str, facility_ids: Sequence[str]
) -> None:
    conn.execute(insert(participants).values(id=participant_id, name=name, role=role, created_at=created_at))
    if facility_ids:
        conn.execute(
            insert(participant_facilities),
            [{"participant_id": participant_id, "facility_id": f} for f in facility_ids],
        )


def insert_token(
    conn: Connection,
    *,
    token_hash: str,
    participant_id: str,
    label: str | None,
    created_at: str,
    expires_at: str | None,
) -> None:
    conn.execute(
        insert(api_tokens).values(
            token_hash=token_hash,
            participant_id=participant_id,
            label=label,
            created_at=created_at,
            expires_at=expires_at,
        )
    )


def revoke_live_tokens(conn: Connection, participant_id: str, revoked_at: str) -> int:
    """Mark every live token of the participant revoked; how many were."""
    result = conn.execute(
        update(api_tokens)
        .where(_t.participant_id == participant_id, _t.revoked_at.is_(None))
        .values(revoked_at=revoked_at)
    )
    return int(result.rowcount or 0)


# The token, its participant and the participant's facilities (one row per facility): every request
# asks this, so it is built once and runs on the fast DB-API path (``raw.fetch_all``).
_TOKEN = (
    select(_p.id, _p.name, _p.role, _p.disabled_at, _t.expires_at, _t.revoked_at, _pf.facility_id)
    .join(participants, _p.id == _t.participant_id)
    .outerjoin(participant_facilities, _pf.participant_id == _p.id)
    .where(_t.token_hash == bindparam("hash"))
)


def token_holder(conn: Connection, token_hash: str) -> TokenHolder | None:
    """Who holds the token with this hash, or None if no token has it."""
    rows = fetch_all(conn, _TOKEN, {"hash": token_hash})
    if not rows:
        return None
    pid, name, role, disabled, expires, revoked, _ = rows[0]
    held = frozenset(str(r[6]) for r in rows if r[6] is not None)
    return TokenHolder(str(pid), str(name), str(role), disabled, expires, revoked, held)


def all_participants(conn: Connection) -> list[ParticipantRow]:
    """Every participant, by id."""
    rows = conn.execute(select(participants).order_by(_p.id))
    return [ParticipantRow(r.id, r.name, r.role, r.created_at, r.disabled_at) for r in rows]


def facilities_by_participant(conn: Connection) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for link in conn.execute(select(participant_facilities)):
        out.setdefault(link.participant_id, []).append(link.facility_id)
    return out


def live_token_counts(conn: Connection) -> dict[str, int]:
    """Participant id -> how many of its tokens are not revoked (expired ones included)."""
    counts: dict[str, int] = {}
    for pid in conn.execute(select(_t.participant_id).where(_t.revoked_at.is_(None))).scalars():
        counts[pid] = counts.get(pid, 0) + 1
    return counts


def secretariat_token_expiries(conn: Connection) -> list[str | None]:
    """The expiry of every unrevoked token of an enabled secretariat participant (None: never)."""
    return list(
        conn.execute(
            select(_t.expires_at)
            .join(participants, _p.id == _t.participant_id)
            .where(_p.role == "secretariat", _p.disabled_at.is_(None), _t.revoked_at.is_(None))
        ).scalars()
    )


class SqlParticipants:
    """``store.protocol.ParticipantReads`` as methods of ``store.store.Store``: the statements above (the
    first two renamed for a store holding more than participants)."""

    participant_exists = staticmethod(exists)
    participant_disabled_at = staticmethod(disabled_at)
    registered_facilities = staticmethod(registered_facilities)
    token_holder = staticmethod(token_holder)
    all_participants = staticmethod(all_participants)
    facilities_by_participant = staticmethod(facilities_by_participant)
    live_token_counts = staticmethod(live_token_counts)
    secretariat_token_expiries = staticmethod(secretariat_token_expiries)
