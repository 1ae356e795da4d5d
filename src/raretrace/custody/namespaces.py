"""Id namespaces: which facility may create a lot or event id, decided from the id alone.

Lot and event ids are chosen by their producers and unique in the registry, so a submission whose
new id is taken must be refused — and with ids open to everyone that refusal tells the submitter
the id exists: a competitor could probe ids one by one (free of charge, inside a batch that fails
anyway) and could squat the ids another producer will use next. No wording of the refusal can hide
it: accepting a free id and refusing a taken one already differ.

So an id can be put in a facility's namespace, ``urn:raretrace:lot:<facility>:…`` and
``urn:raretrace:event:<facility>:…`` (the facility id compared without regard to case, so look-alike
ids are refused too). Only events of that facility may create an id in it, and the refusal for any
other submitter depends on the id's text only — the same words whether or not the id exists — so a
duplicate can only ever collide with the submitter's own ids. Ids outside every namespace (any other
URN, any other event id) are open. New registries require namespaced ids (the default of ``raretrace
init``): they refuse open ids from every event of a facility, so no id of theirs can be probed or
squatted. A registry made with ``raretrace init --open-ids`` (or made before namespaces were the
default) accepts open ids and with them the old leak, until ``raretrace require-namespaced-ids``
switches it (its ids already recorded stay valid). Imported lots keep the ids another registry
certified (the importer does not choose them), and the secretariat's own acts (registering a facility,
a correction) may use open ids in any registry: the secretariat sees everything, nothing to probe.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from raretrace.errors import AuthorizationError

Kind = Literal["lot", "event"]

PREFIX: dict[Kind, str] = {"lot": "urn:raretrace:lot:", "event": "urn:raretrace:event:"}


def owner(kind: Kind, object_id: str) -> str | None:
    """The facility whose namespace ``object_id`` is in (as written in the id), or None for an open id."""
    prefix = PREFIX[kind]
    if not object_id.startswith(prefix):
        return None
    name, colon, rest = object_id[len(prefix) :].partition(":")
    return name if colon and name and rest else None


def own_prefix(kind: Kind, facility: str) -> str:
    return f"{PREFIX[kind]}{facility}:"


def namespaced(kind: Kind, facility: str, local: str) -> str:
    """The id ``local`` in ``facility``'s namespace: what a facility's new lot or event id should be."""
    return own_prefix(kind, facility) + local


def in_own(kind: Kind, object_id: str, facility: str) -> bool:
    """Whether ``object_id`` is in ``facility``'s namespace: its prefix, compared regardless of case,
    and something after it. Decided by the prefix, not by ``owner``'s first segment, so a facility
    whose id holds colons (a GS1 SGLN, ``urn:epc:id:sgln:…``) has a namespace too."""
    prefix = _folded_prefix(kind, facility)
    return len(object_id) > len(prefix) and object_id.casefold().startswith(prefix)


@lru_cache(maxsize=1024)
def _folded_prefix(kind: Kind, facility: str) -> str:
    """``own_prefix`` compared regardless of case; cached: every new id of an append asks for it."""
    return own_prefix(kind, facility).casefold()


def is_open(kind: Kind, object_id: str, facility: str) -> bool:
    """Whether ``object_id`` lies outside ``facility``'s namespace (an id a registry requiring
    namespaces would refuse from it today)."""
    return not in_own(kind, object_id, facility)


def check_new_id(kind: Kind, object_id: str, facility: str | None, field: str, *, required: bool) -> None:
    """Refuse to let ``facility`` create ``object_id`` unless the id is in its namespace (or open and
    namespaces are not ``required``). Decided before anything is looked up: the refusal reveals
    nothing about which ids exist."""
    if facility is not None and in_own(kind, object_id, facility):
        return
    named = owner(kind, object_id)
    if named is None:
        if required and facility is not None:
            raise AuthorizationError(
                f"{kind} id {object_id} is outside facility {facility}'s namespace; this registry "
                f"requires new {kind} ids of the form {own_prefix(kind, facility)}…",
                field=field,
            )
        return
    acting = "the secretariat" if facility is None else f"facility {facility}"
    raise AuthorizationError(
        f"{kind} id {object_id} is in the namespace of facility {named}; {acting} may not create ids there",
        field=field,
    )
