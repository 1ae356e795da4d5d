"""The roles of the registry's callers, and the pure decisions of who may see and do what.

Each decision here takes the caller and what the records say (a lot's producer and custodian, the
facilities a transfer moved it between, which lots the caller holds) and answers or refuses; nothing here
reads the database or a request. ``server/access.py`` reads the records (through ``store.visibility``)
and the credentials, then asks these functions, so the rules are tested on hand-made records
(``tests/test_roles.py``) and every interface applies the same ones.

The roles (a participant has one; docs/security.md):

* ``operator`` — runs facilities: submits the events its facilities act, reads the lots they took part
  in. A laboratory is an operator of an assay facility (its assays are its facility's events); a
  recycler, a magnet maker or a mine alike.
* ``auditor`` — reads everything, submits nothing.
* ``secretariat`` — administers participants, facilities and keys; submits any event, including the
  ones only it may (corrections, identity); reads everything.
* ``public`` — anyone without a token: the log, its checkpoints, and certificates, which a customs
  officer verifies offline against the registry's published keys, as the public.

Confidentiality between operators: an operator sees a lot only if one of its facilities produced it,
holds it, has it in transit towards it, or shipped or received it. Any other lot — another
participant's or one that does not exist — is refused with the same 404 and the same message, so a
competitor cannot learn that a lot id exists. A lot's current custody (who holds it now, where it is
going) is shown to an operator only while one of its facilities holds it or is receiving it, and a
certificate's signed credential only to a caller who may see every lot it names.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence, Set
from dataclasses import dataclass, field

from typing_extensions import ReadOnly, TypedDict

from raretrace.custody.events import SECRETARIAT_KINDS
from raretrace.errors import AuthorizationError, NotFoundError, RaretraceError

OPERATOR = "operator"
AUDITOR = "auditor"
SECRETARIAT = "secretariat"
PUBLIC = "public"
#: the roles a participant may have (the public is no participant)
ROLES = (OPERATOR, AUDITOR, SECRETARIAT)
#: the roles that read every lot, event and certificate
READS_EVERYTHING = frozenset({AUDITOR, SECRETARIAT})
#: the roles that submit events
SUBMITS = (OPERATOR, SECRETARIAT)


@dataclass(frozen=True)
class Principal:
    """Who is calling: a participant with its role and facilities, or the public."""

    id: str | None
    role: str
    name: str = "public"
    facilities: frozenset[str] = field(default_factory=frozenset)

    @property
    def sees_everything(self) -> bool:
        return self.role in READS_EVERYTHING


ANONYMOUS = Principal(None, PUBLIC)


class AuthenticationError(RaretraceError):
    """No credentials, or credentials that name no live participant (HTTP 401)."""

    exit_code = 3


class Parties(TypedDict):
    """What a lot's record says of who made it and who holds it now (a trace's lot summary,
    ``ledger.trace_answers.LotSummary``, is one: a ``TypedDict`` with these keys among others)."""

    producer: ReadOnly[str]
    custodian: ReadOnly[str]


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
    """Refuse the public: ``action`` is for any participant."""
    require(principal, *ROLES, action=action)


def not_found(lot_id: str) -> NotFoundError:
    """The one answer for a lot that does not exist and a lot the caller may not see."""
    return NotFoundError(f"lot {lot_id} does not exist or is not visible to you", field="lot")


def holds_or_made(facilities: Set[str], producer: str | None, custodian: str | None, to: str | None) -> bool:
    """One of ``facilities`` produced the lot, holds it, or is receiving it (``to``: in transit towards)."""
    return custodian in facilities or producer in facilities or to in facilities


def took_part(facilities: Set[str], sender: str, receiver: str) -> bool:
    """One of ``facilities`` sent or received a transfer: the lots it moved stay visible to it."""
    return sender in facilities or receiver in facilities


def seen_by_holding(principal: Principal, lots: Mapping[str, Parties]) -> set[str]:
    """The lots of ``lots`` (by id, as one read found them) that the caller may see without looking up
    their transfers: those one of its facilities produced or held in that read. A lot's producer never
    changes, and custody leaves a facility only through a transfer that facility sends, which keeps the
    lot visible to it, so they are visible now as well."""
    mine = principal.facilities
    return {lot_id for lot_id, lot in lots.items() if lot["custodian"] in mine or lot["producer"] in mine}


def require_seen(lot_ids: Sequence[str], seen: Set[str]) -> None:
    """Raise the 404 of the first of ``lot_ids`` outside ``seen`` (the lots the caller may see)."""
    for lot_id in lot_ids:
        if lot_id not in seen:
            raise not_found(lot_id)


def require_held(principal: Principal, lot_ids: Sequence[str], held: Set[str], *, action: str) -> None:
    """An operator acts (certifies) only on lots one of its facilities holds now (``held``)."""
    if principal.sees_everything:
        return
    for lot_id in lot_ids:
        if lot_id not in held:
            raise AuthorizationError(
                f"{action}: lot {lot_id} is not held by a facility of {principal.id}", field="lots"
            )


def sees_custody(facilities: Set[str], custodian: object, in_transit_to: object) -> bool:
    """A lot's current custody is shown while one of ``facilities`` holds it or is receiving it: a
    participant sees the custody chain only as far as it took part in it."""
    return custodian in facilities or in_transit_to in facilities


def sees_credential(lots: Iterable[str], visible: Set[str]) -> bool:
    """A certificate's signed credential names every lot and cannot be altered: it is shown only to a
    caller who may see all of them."""
    return all(lot_id in visible for lot_id in lots)


def may_submit(principal: Principal, kind: str, facility: str | None, where: str) -> None:
    """An operator submits events acted by its own facilities; the secretariat any event."""
    require(principal, *SUBMITS, action="submitting events")
    if principal.role == SECRETARIAT:
        return
    if kind in SECRETARIAT_KINDS:
        raise AuthorizationError(f"{where}: a {kind} event is the secretariat's", field="kind")
    if facility not in principal.facilities:
        raise AuthorizationError(
            f"{where}: facility {facility} is not operated by participant {principal.id}", field="facility"
        )
