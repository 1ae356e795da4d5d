"""Switching an existing registry to namespaced ids (``raretrace require-namespaced-ids``).

New registries require every new lot and event id of a facility to be in its namespace
(``custody/namespaces.py``); registries made before that, or with ``init --open-ids``, accept open
ids, and so still tell a competitor which of them are taken. The switch affects new ids only: the ids
already recorded stay valid as they are (lots keep their ids, events their place in the log), and
are reported per facility so the secretariat can tell participants which of their id schemes end.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from raretrace.custody.namespaces import Kind, is_open
from raretrace.ledger.registry import ID_NAMESPACES, Registry
from raretrace.store.db import write_transaction
from raretrace.store.id_namespaces import facility_event_ids, produced_lot_ids

audit = logging.getLogger("raretrace.audit")

#: How many of a facility's open ids the report names (the counts cover them all).
EXAMPLES = 3


@dataclass(frozen=True)
class OpenIds:
    """One facility's ids already recorded outside its namespace: valid, but no longer a pattern for
    new ones."""

    facility: str
    lots: int
    events: int
    examples: tuple[str, ...]


@dataclass(frozen=True)
class NamespaceSwitch:
    """What ``require_namespaced_ids`` found and did."""

    was_required: bool
    changed: bool  # this run wrote the setting (False on a dry run or when it was already required)
    open_ids: tuple[OpenIds, ...]


def require_namespaced_ids(registry: Registry, *, dry_run: bool = False) -> NamespaceSwitch:
    """Require namespaced ids for every new lot and event id of a facility, in one transaction that
    also holds appends back (so no open id slips in between the survey and the setting); idempotent.
    With ``dry_run`` the survey is made and nothing is written."""
    store = registry.store
    with write_transaction(registry.engine) as conn:
        store.lock_head(conn)
        was_required = store.get_meta(conn, ID_NAMESPACES) == "required"
        found = _open_ids([("lot", produced_lot_ids(conn)), ("event", facility_event_ids(conn))])
        if not (dry_run or was_required):
            store.set_meta(conn, ID_NAMESPACES, "required")
    switch = NamespaceSwitch(was_required, not (dry_run or was_required), found)
    if switch.changed:
        registry.namespaced_ids = True
        audit.info(
            "secretariat: registry %s now requires namespaced lot and event ids; %d facilities keep "
            "open ids already recorded",
            registry.origin,
            len(found),
        )
    return switch


def _open_ids(sources: Sequence[tuple[Kind, Iterable[tuple[str, str]]]]) -> tuple[OpenIds, ...]:
    """Per facility, how many of its (facility, id) rows of each kind lie outside its namespace."""
    counts: dict[Kind, Counter[str]] = {"lot": Counter(), "event": Counter()}
    examples: dict[str, list[str]] = defaultdict(list)
    for kind, rows in sources:
        for facility, object_id in rows:
            if is_open(kind, object_id, facility):
                counts[kind][facility] += 1
                if len(examples[facility]) < EXAMPLES:
                    examples[facility].append(object_id)
    facilities = sorted(set(counts["lot"]) | set(counts["event"]))
    return tuple(OpenIds(f, counts["lot"][f], counts["event"][f], tuple(examples[f])) for f in facilities)
