"""Judging a batch against the stored state, over any ``LedgerStore``: the part of the append path
that decides, separate from the part that writes the log.

The registry runs it inside its write transaction on the SQL store; tests run it on
``store.memory.MemoryStore`` to exercise the custody rules without a database, and
tests/test_store_contract.py holds both stores to the same answers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TypeVar

from raretrace.certify.verify import TrustedKeys
from raretrace.crypto.dsse import Envelope
from raretrace.crypto.keys import PublicKey
from raretrace.custody.events import Event, Import, Process, Receive, RotateKey, Transfer
from raretrace.custody.state import LedgerState
from raretrace.errors import RaretraceError
from raretrace.store.protocol import LedgerStore

C = TypeVar("C")

#: an envelope as the registry parsed it, with its event
Parsed = tuple[Envelope, Event]


def rejected(index: int, event_id: str | None, error: RaretraceError) -> RaretraceError:
    """The same error, its message prefixed with which envelope of the batch it concerns."""
    return error.within(f"envelope {index}" + (f" (event {event_id})" if event_id else ""))


def needs_trust(parsed: Sequence[Parsed]) -> bool:
    """Only imports rely on other registries' keys: other batches need not read them."""
    return any(isinstance(event, Import) for _, event in parsed)


def load_state(
    store: LedgerStore[C],
    conn: C,
    parsed: Sequence[Parsed],
    *,
    registry_key: PublicKey,
    tolerance: float,
    trust: tuple[TrustedKeys | None, int] = (None, 0),
    namespaced_ids: bool = False,
) -> LedgerState:
    """Prefetch, in a few IN queries, every row the batch refers to."""
    key_ids: set[str] = set()
    lot_ids: set[str] = set()
    facility_ids: set[str] = set()
    event_ids: set[str] = set()
    transfer_ids: set[str] = set()
    for envelope, event in parsed:
        key_ids.update(sig.key_id for sig in envelope.signatures)
        if _common(event, lot_ids, facility_ids, event_ids, transfer_ids):
            continue
        for name in ("retire_key_id", "key_id"):
            value = getattr(event, name, None)
            if isinstance(value, str):
                key_ids.add(value)
        new_keys = [*getattr(event, "keys", ()), *([event.new_key] if isinstance(event, RotateKey) else [])]
        key_ids.update(k.public_key.key_id for k in new_keys)
        event_ids.add(event.event_id)
        if event.facility:
            facility_ids.add(event.facility)
        lot_ids.update(_lots_referenced(event))
        target = getattr(event, "target_event", None)
        if isinstance(target, str):
            event_ids.add(target)
    trusted, threshold = trust
    return LedgerState(
        registry_key=registry_key,
        tolerance=tolerance,
        namespaced_ids=namespaced_ids,
        facilities=store.facilities(conn, sorted(facility_ids)),
        keys=store.keys(conn, sorted(key_ids)),
        lots=store.lots(conn, sorted(lot_ids)),
        events=store.existing_event_ids(conn, sorted(event_ids | transfer_ids)),
        transfers=store.transfers(conn, sorted(transfer_ids)),
        trusted=trusted,
        import_witness_threshold=threshold,
    )


def _common(
    event: Event, lot_ids: set[str], facility_ids: set[str], event_ids: set[str], transfer_ids: set[str]
) -> bool:
    """What a transfer, receive or process event refers to, added to the sets without asking it for
    every attribute an event of any kind may have (the common kinds: most of every batch); False for
    other kinds, which the general reading below handles."""
    if isinstance(event, Transfer):
        facility_ids.add(event.to)
    elif isinstance(event, Receive):
        transfer_ids.add(event.transfer_event)
    elif isinstance(event, Process):
        lot_ids.update([use.lot for use in event.inputs])
        lot_ids.update([spec.id for spec in event.outputs])
    else:
        return False
    if not isinstance(event, Process):
        lot_ids.update(event.lots)
    event_ids.add(event.event_id)
    if event.facility:
        facility_ids.add(event.facility)
    return True


def judge(
    state: LedgerState,
    parsed: Sequence[Parsed],
    size: int,
    now: str,
    *,
    after_each: Callable[[LedgerState], None] | None = None,
) -> LedgerState:
    """Every invariant of every event, in order, against the state the batch builds up; the first
    refusal names its envelope. ``after_each`` sees the state after each event (the registry hands
    the queued signatures to its verifier workers there)."""
    for i, (envelope, event) in enumerate(parsed):
        try:
            state.apply(i, size + i, event, envelope, now)
        except RaretraceError as e:
            raise rejected(i, event.event_id, e) from e
        if after_each is not None:
            after_each(state)
    return state


def _lots_referenced(event: Event) -> Iterable[str]:
    for use in getattr(event, "inputs", ()):
        yield use.lot
    for spec in getattr(event, "outputs", ()):
        yield spec.id
    yield from getattr(event, "lots", ())
    lot = getattr(event, "lot", None)
    if isinstance(lot, str):
        yield lot
    for change in getattr(event, "amendments", ()):
        yield change.lot
