"""What judging a batch produces: the keys and transfers the ledger state tracks, and the writes
a batch gathers for the store to make in bulk.

They are domain values (the store turns them into rows), so the pure ledger state never imports the
store.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from raretrace.crypto.keys import PublicKey
from raretrace.model import Facility, Lot


@dataclass(frozen=True)
class KeyRecord:
    """A facility's public key with the period it may sign for."""

    key_id: str
    facility_id: str
    public_key: PublicKey
    valid_from: str
    valid_until: str | None
    revoked_at: str | None

    def valid_at(self, time: str) -> bool:
        return (
            self.valid_from <= time
            and (self.valid_until is None or time < self.valid_until)
            and (self.revoked_at is None or time < self.revoked_at)
        )


@dataclass(frozen=True)
class TransferRecord:
    event_id: str
    seq: int
    sender: str
    receiver: str
    lots: tuple[str, ...]


@dataclass
class BatchWrite:
    """Everything one appended batch writes, gathered so it goes to the database in bulk."""

    events: list[dict[str, Any]] = field(default_factory=list)
    #: each event's decoded payload, in the order of ``events`` (the store packs the envelope with it)
    payloads: list[bytes] = field(default_factory=list)
    facilities: list[tuple[Facility, int]] = field(default_factory=list)  # with the seq that registered it
    new_keys: list[dict[str, Any]] = field(default_factory=list)
    key_updates: dict[str, dict[str, Any]] = field(default_factory=dict)
    new_lots: dict[str, Lot] = field(default_factory=dict)
    changed_lots: dict[str, Lot] = field(default_factory=dict)
    lot_inputs: list[dict[str, Any]] = field(default_factory=list)
    transfers: list[dict[str, Any]] = field(default_factory=list)
    received: list[tuple[int, str, int]] = field(default_factory=list)  # (transfer seq, lot, receive seq)
    assays: list[dict[str, Any]] = field(default_factory=list)
