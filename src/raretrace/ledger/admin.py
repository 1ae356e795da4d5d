"""Secretariat acts the registry signs itself: registering facilities and their keys."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import TypedDict

from raretrace.crypto.keys import PublicKey
from raretrace.custody.events import sign_event
from raretrace.ledger.registry import AppendResult, Registry
from raretrace.times import utc_now


class FacilityEvent(TypedDict):
    """A register_facility event before it is signed (callers may add ``valid_until`` to a key)."""

    kind: str
    event_id: str
    time: str
    facility: Mapping[str, object]
    keys: list[dict[str, str]]


def register_facility_event(
    spec: Mapping[str, object],
    keys: Sequence[PublicKey],
    *,
    time: str | None = None,
    valid_from: str | None = None,
) -> FacilityEvent:
    """The register_facility event for a facility description and its public keys."""
    now = time or utc_now()
    return {
        "kind": "register_facility",
        "event_id": f"urn:uuid:{uuid.uuid4()}",
        "time": now,
        "facility": spec,
        "keys": [{"public_key": k.to_b64(), "valid_from": valid_from or now} for k in keys],
    }


def register_facility(
    registry: Registry,
    spec: Mapping[str, object],
    keys: Sequence[PublicKey],
    *,
    valid_from: str | None = None,
    time: str | None = None,
) -> AppendResult:
    event = register_facility_event(spec, keys, time=time, valid_from=valid_from)
    return registry.append([sign_event(event, [registry.signer])])
