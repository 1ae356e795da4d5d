"""Which other members' registries this one trusts for imports, and how many witnesses it wants.

A member adds another registry from that registry's exported trusted-keys file (its issuer DID, log
name and log key); the witnesses already trusted for this registry's own log are the consortium's
witnesses and serve for imports too. The witness threshold for imports lives in ``meta``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, Engine

from raretrace.certify.verify import TrustedKeys
from raretrace.errors import ValidationError
from raretrace.store import trust as store
from raretrace.store.db import write_transaction
from raretrace.store.store import Store

THRESHOLD_KEY = "import_witness_threshold"


def load_trust(conn: Connection) -> tuple[TrustedKeys, int]:
    issuers = store.trusted_issuers(conn)
    witnesses = store.witness_keys(conn)
    threshold = Store().get_meta(conn, THRESHOLD_KEY)
    trusted = TrustedKeys.from_dict(
        {
            "issuers": [{"id": i, "log": log, "logKey": key} for i, (log, key) in issuers.items()],
            "witnesses": witnesses,
        }
    )
    return trusted, int(threshold or 0)


def trust_registry(engine: Engine, keys: object, *, witness_threshold: int | None = None) -> list[str]:
    """Trust the issuers in another registry's trusted-keys file for imports; returns their ids."""
    parsed = TrustedKeys.from_dict(keys)  # validates before anything is written
    if not parsed.issuers:
        raise ValidationError("the file names no issuer", field="issuers")
    if witness_threshold is not None and witness_threshold < 0:
        raise ValidationError("must be 0 or more", field="witness_threshold")
    now = datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    with write_transaction(engine) as conn:
        for issuer, (log, key) in parsed.issuers.items():
            store.trust_issuer(conn, issuer, log, key, now)
        if witness_threshold is not None:
            Store().set_meta(conn, THRESHOLD_KEY, str(witness_threshold))
    return sorted(parsed.issuers)


@dataclass(frozen=True)
class TrustSummary:
    """Whom this registry trusts for imports, and how many witnesses an import needs."""

    issuers: tuple[str, ...]
    witnesses: tuple[str, ...]
    witness_threshold: int


def describe(conn: Connection) -> TrustSummary:
    trusted, threshold = load_trust(conn)
    return TrustSummary(tuple(sorted(trusted.issuers)), tuple(sorted(trusted.witnesses)), threshold)
