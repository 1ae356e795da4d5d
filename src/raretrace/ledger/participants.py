"""Participants of the registry server and their API tokens: the secretariat's administration.

A participant is an organisation acting through the API with one role:

* ``operator`` — runs facilities; writes events for them, reads its own lots and what it shipped or
  received;
* ``auditor`` — reads everything;
* ``secretariat`` — administers participants, facilities and keys, issues corrections and revokes.

Anyone without a token is the public (the log, checkpoints, certificate verification).

A token is 32 random bytes shown once (``rt_`` + URL-safe base64); the database keeps only its
SHA-256, so a copy of the database does not let anyone act as a participant. Tokens may expire and
may be revoked (``revoke_tokens``); either takes effect on the next request. (A participant row with
``disabled_at`` set has no working token either.)
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from sqlalchemy import Connection, Engine

from raretrace.errors import DuplicateError, NotFoundError, ValidationError
from raretrace.roles import ANONYMOUS, PUBLIC, ROLES, Principal
from raretrace.store import participants as rows
from raretrace.store.db import write_transaction
from raretrace.store.participants import SqlParticipants
from raretrace.store.protocol import ParticipantReads

#: the roles and the caller are ``raretrace.roles``'s; named here too for the callers of this module
__all__ = ["ANONYMOUS", "PUBLIC", "ROLES", "Principal"]

TOKEN_PREFIX = "rt_"  # noqa: S105 - a marker that makes leaked tokens easy to scan for, not a secret
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,199}$")
C = TypeVar("C")  # the connection type of the store read
#: what the services read, on the registry's database (the ``_on`` functions take any ``ParticipantReads``,
#: so a test can give them ``store.memory.MemoryStore``); the writes are ``store.participants``'s functions
SQL_READS: ParticipantReads[Connection] = SqlParticipants()


@dataclass(frozen=True)
class IssuedToken:
    """A token as issued: the only time its clear text exists outside the caller's hands."""

    participant: str
    token: str
    expires_at: str | None
    label: str | None


@dataclass(frozen=True)
class ParticipantListing:
    """One participant as the secretariat lists it (``live_tokens`` counts the unrevoked ones)."""

    id: str
    name: str
    role: str
    facilities: tuple[str, ...]
    created_at: str
    disabled_at: str | None
    live_tokens: int


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _stamp(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _checked_facilities(participant_id: object, name: str, role: str, facilities: Sequence[str]) -> list[str]:
    """The facilities, each once, after the checks that need no database."""
    if not isinstance(participant_id, str) or not _ID.match(participant_id):
        raise ValidationError(
            "an id is 1-200 letters, digits or . _ : @ - and starts with a letter or digit", field="id"
        )
    if not name.strip():
        raise ValidationError("give the organisation's name", field="name")
    if role not in ROLES:
        raise ValidationError(f"must be one of {', '.join(ROLES)}", field="role")
    chosen = list(dict.fromkeys(facilities))
    if role == "operator" and not chosen:
        raise ValidationError("an operator runs at least one registered facility", field="facilities")
    if role != "operator" and chosen:
        raise ValidationError(f"a {role} operates no facility", field="facilities")
    return chosen


def add_participant(
    engine: Engine, participant_id: str, name: str, role: str, facilities: Sequence[str] = ()
) -> Principal:
    """Record a participant; an operator must name at least one registered facility, others none."""
    chosen = _checked_facilities(participant_id, name, role, facilities)
    with write_transaction(engine) as conn:
        if SQL_READS.participant_exists(conn, participant_id):
            raise DuplicateError(f"participant {participant_id} already exists", field="id")
        known = SQL_READS.registered_facilities(conn, chosen)
        missing = [f for f in chosen if f not in known]
        if missing:
            raise NotFoundError(f"facility {missing[0]} is not registered", field="facilities")
        rows.insert_participant(conn, participant_id, name.strip(), role, _stamp(_now()), chosen)
    return Principal(participant_id, role, name.strip(), frozenset(chosen))


def issue_token(
    engine: Engine, participant_id: str, *, label: str | None = None, valid_days: int | None = None
) -> IssuedToken:
    """A new token for a participant, returned once in clear; only its hash is stored."""
    if valid_days is not None and not 0 < valid_days <= 3650:
        raise ValidationError("must be between 1 and 3650 days", field="valid_days")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    now = _now()
    expires = _stamp(now + timedelta(days=valid_days)) if valid_days else None
    with write_transaction(engine) as conn:
        found, disabled = SQL_READS.participant_disabled_at(conn, participant_id)
        if not found:
            raise NotFoundError(f"no participant {participant_id}", field="participant")
        if disabled is not None:
            raise ValidationError(f"participant {participant_id} is disabled", field="participant")
        rows.insert_token(
            conn,
            token_hash=token_hash(token),
            participant_id=participant_id,
            label=label,
            created_at=_stamp(now),
            expires_at=expires,
        )
    return IssuedToken(participant_id, token, expires, label)


def revoke_tokens(engine: Engine, participant_id: str) -> int:
    """Revoke every live token of a participant; returns how many."""
    stamp = _stamp(_now())
    with write_transaction(engine) as conn:
        if not SQL_READS.participant_exists(conn, participant_id):
            raise NotFoundError(f"no participant {participant_id}", field="participant")
        return rows.revoke_live_tokens(conn, participant_id, stamp)


def authenticate(conn: Connection, token: str) -> Principal | None:
    """``authenticate_on`` the registry's database. Every request asks this, so it is one prebuilt
    statement on the fast DB-API path (``store.participants.token_holder``)."""
    return authenticate_on(SQL_READS, conn, token)


def authenticate_on(reads: ParticipantReads[C], conn: C, token: str) -> Principal | None:
    """The participant a token belongs to, or None if it is unknown, expired, revoked or disabled."""
    holder = reads.token_holder(conn, token_hash(token))
    if holder is None or holder.revoked_at is not None or holder.disabled_at is not None:
        return None
    if holder.expires_at is not None and holder.expires_at <= _stamp(_now()):
        return None
    return Principal(holder.participant_id, holder.role, holder.name, holder.facilities)


def list_participants(engine: Engine) -> list[ParticipantListing]:
    """``list_participants_on`` the registry's database."""
    with engine.connect() as conn:
        return list_participants_on(SQL_READS, conn)


def list_participants_on(reads: ParticipantReads[C], conn: C) -> list[ParticipantListing]:
    """Every participant, by id, with its facilities and how many live tokens it holds."""
    found = reads.all_participants(conn)
    links = reads.facilities_by_participant(conn)
    counts = reads.live_token_counts(conn)
    return [
        ParticipantListing(
            r.id,
            r.name,
            r.role,
            tuple(sorted(links.get(r.id, []))),
            r.created_at,
            r.disabled_at,
            counts.get(r.id, 0),
        )
        for r in found
    ]


def has_live_secretariat(engine: Engine) -> bool:
    """``has_live_secretariat_on`` the registry's database."""
    with engine.connect() as conn:
        return has_live_secretariat_on(SQL_READS, conn)


def has_live_secretariat_on(reads: ParticipantReads[C], conn: C) -> bool:
    """Whether some secretariat participant holds a token that is neither revoked nor expired."""
    expiries = reads.secretariat_token_expiries(conn)
    now = _stamp(_now())
    return any(expires is None or expires > now for expires in expiries)


DEV_SECRETARIAT = "dev-secretariat"


def dev_token(engine: Engine) -> str:
    """Development only: a secretariat participant (created if missing) and a fresh token for it."""
    with engine.connect() as conn:
        exists = SQL_READS.participant_exists(conn, DEV_SECRETARIAT)
    if not exists:
        add_participant(engine, DEV_SECRETARIAT, "Development secretariat", "secretariat")
    return issue_token(engine, DEV_SECRETARIAT, label="dev", valid_days=1).token
