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
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, insert, select, update

from raretrace.errors import DuplicateError, NotFoundError, ValidationError
from raretrace.store import schema as t
from raretrace.store.db import write_transaction
from raretrace.store.raw import fetch_all

ROLES = ("operator", "auditor", "secretariat")
PUBLIC = "public"
TOKEN_PREFIX = "rt_"  # noqa: S105 - a marker that makes leaked tokens easy to scan for, not a secret
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,199}$")


@dataclass(frozen=True)
class Principal:
    """Who is calling: a participant with its role and facilities, or the public."""

    id: str | None
    role: str
    name: str = "public"
    facilities: frozenset[str] = field(default_factory=frozenset)

    @property
    def sees_everything(self) -> bool:
        return self.role in ("auditor", "secretariat")

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "role": self.role, "facilities": sorted(self.facilities)}


ANONYMOUS = Principal(None, PUBLIC)


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _stamp(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def add_participant(
    engine: Engine, participant_id: str, name: str, role: str, facilities: list[str] | tuple[str, ...] = ()
) -> Principal:
    """Record a participant; an operator must name at least one registered facility, others none."""
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
    with write_transaction(engine) as conn:
        if conn.execute(select(t.participants.c.id).where(t.participants.c.id == participant_id)).first():
            raise DuplicateError(f"participant {participant_id} already exists", field="id")
        known = set(conn.execute(select(t.facilities.c.id).where(t.facilities.c.id.in_(chosen))).scalars())
        missing = [f for f in chosen if f not in known]
        if missing:
            raise NotFoundError(f"facility {missing[0]} is not registered", field="facilities")
        conn.execute(
            insert(t.participants).values(
                id=participant_id, name=name.strip(), role=role, created_at=_stamp(_now())
            )
        )
        if chosen:
            conn.execute(
                insert(t.participant_facilities),
                [{"participant_id": participant_id, "facility_id": f} for f in chosen],
            )
    return Principal(participant_id, role, name.strip(), frozenset(chosen))


def issue_token(
    engine: Engine, participant_id: str, *, label: str | None = None, valid_days: int | None = None
) -> dict[str, Any]:
    """A new token for a participant, returned once in clear; only its hash is stored."""
    if valid_days is not None and not 0 < valid_days <= 3650:
        raise ValidationError("must be between 1 and 3650 days", field="valid_days")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    now = _now()
    expires = _stamp(now + timedelta(days=valid_days)) if valid_days else None
    with write_transaction(engine) as conn:
        row = conn.execute(
            select(t.participants.c.disabled_at).where(t.participants.c.id == participant_id)
        ).one_or_none()
        if row is None:
            raise NotFoundError(f"no participant {participant_id}", field="participant")
        if row.disabled_at is not None:
            raise ValidationError(f"participant {participant_id} is disabled", field="participant")
        conn.execute(
            insert(t.api_tokens).values(
                token_hash=token_hash(token),
                participant_id=participant_id,
                label=label,
                created_at=_stamp(now),
                expires_at=expires,
            )
        )
    return {"participant": participant_id, "token": token, "expires_at": expires, "label": label}


def revoke_tokens(engine: Engine, participant_id: str) -> int:
    """Revoke every live token of a participant; returns how many."""
    stamp = _stamp(_now())
    with write_transaction(engine) as conn:
        if not conn.execute(select(t.participants.c.id).where(t.participants.c.id == participant_id)).first():
            raise NotFoundError(f"no participant {participant_id}", field="participant")
        result = conn.execute(
            update(t.api_tokens)
            .where(t.api_tokens.c.participant_id == participant_id, t.api_tokens.c.revoked_at.is_(None))
            .values(revoked_at=stamp)
        )
    return int(result.rowcount or 0)


_TOKEN = (
    select(
        t.participants.c.id,
        t.participants.c.name,
        t.participants.c.role,
        t.participants.c.disabled_at,
        t.api_tokens.c.expires_at,
        t.api_tokens.c.revoked_at,
        t.participant_facilities.c.facility_id,
    )
    .join(t.participants, t.participants.c.id == t.api_tokens.c.participant_id)
    .outerjoin(t.participant_facilities, t.participant_facilities.c.participant_id == t.participants.c.id)
    .where(t.api_tokens.c.token_hash == bindparam("hash"))
)


def authenticate(conn: Connection, token: str) -> Principal | None:
    """The participant a token belongs to, or None if it is unknown, expired, revoked or disabled.

    Every request asks this, so it is one prebuilt statement (the token, its participant and the
    participant's facilities, one row per facility) on the fast DB-API path."""
    rows = fetch_all(conn, _TOKEN, {"hash": token_hash(token)})
    if not rows:
        return None
    pid, name, role, disabled_at, expires_at, revoked_at, _ = rows[0]
    if revoked_at is not None or disabled_at is not None:
        return None
    if expires_at is not None and expires_at <= _stamp(_now()):
        return None
    return Principal(pid, role, name, frozenset(r[6] for r in rows if r[6] is not None))


def list_participants(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        rows = conn.execute(select(t.participants).order_by(t.participants.c.id)).all()
        links = conn.execute(select(t.participant_facilities)).all()
        live = conn.execute(
            select(t.api_tokens.c.participant_id).where(t.api_tokens.c.revoked_at.is_(None))
        ).scalars()
        counts: dict[str, int] = {}
        for pid in live:
            counts[pid] = counts.get(pid, 0) + 1
    by_participant: dict[str, list[str]] = {}
    for link in links:
        by_participant.setdefault(link.participant_id, []).append(link.facility_id)
    return [
        {
            "id": r.id,
            "name": r.name,
            "role": r.role,
            "facilities": sorted(by_participant.get(r.id, [])),
            "created_at": r.created_at,
            "disabled_at": r.disabled_at,
            "live_tokens": counts.get(r.id, 0),
        }
        for r in rows
    ]


def has_live_secretariat(engine: Engine) -> bool:
    """Whether some secretariat participant holds a token that is neither revoked nor expired."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(t.api_tokens.c.expires_at)
            .join(t.participants, t.participants.c.id == t.api_tokens.c.participant_id)
            .where(
                t.participants.c.role == "secretariat",
                t.participants.c.disabled_at.is_(None),
                t.api_tokens.c.revoked_at.is_(None),
            )
        ).scalars()
        now = _stamp(_now())
        return any(expires is None or expires > now for expires in rows)


DEV_SECRETARIAT = "dev-secretariat"


def dev_token(engine: Engine) -> str:
    """Development only: a secretariat participant (created if missing) and a fresh token for it."""
    with engine.connect() as conn:
        exists = conn.execute(
            select(t.participants.c.id).where(t.participants.c.id == DEV_SECRETARIAT)
        ).first()
    if not exists:
        add_participant(engine, DEV_SECRETARIAT, "Development secretariat", "secretariat")
    return str(issue_token(engine, DEV_SECRETARIAT, label="dev", valid_days=1)["token"])
