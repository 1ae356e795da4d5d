"""Which other members' registries this one trusts for imports, and how many witnesses it wants.

A member adds another registry from that registry's exported trusted-keys file (its issuer DID, log
name and log key); the witnesses already trusted for this registry's own log are the consortium's
witnesses and serve for imports too. The witness threshold for imports lives in ``meta``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, delete, insert, select

from raretrace.certify.verify import TrustedKeys
from raretrace.errors import ValidationError
from raretrace.store import schema as t
from raretrace.store.db import write_transaction

THRESHOLD_KEY = "import_witness_threshold"


def load_trust(conn: Connection) -> tuple[TrustedKeys, int]:
    issuers = {r.issuer: (r.log, r.log_key) for r in conn.execute(select(t.trusted_registries))}
    witnesses = [r.verifier_key for r in conn.execute(select(t.witnesses.c.verifier_key))]
    threshold = conn.execute(select(t.meta.c.value).where(t.meta.c.key == THRESHOLD_KEY)).scalar_one_or_none()
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
            conn.execute(delete(t.trusted_registries).where(t.trusted_registries.c.issuer == issuer))
            conn.execute(
                insert(t.trusted_registries).values(issuer=issuer, log=log, log_key=key, added_at=now)
            )
        if witness_threshold is not None:
            conn.execute(delete(t.meta).where(t.meta.c.key == THRESHOLD_KEY))
            conn.execute(insert(t.meta).values(key=THRESHOLD_KEY, value=str(witness_threshold)))
    return sorted(parsed.issuers)


def describe(conn: Connection) -> dict[str, Any]:
    trusted, threshold = load_trust(conn)
    return {
        "issuers": sorted(trusted.issuers),
        "witnesses": sorted(trusted.witnesses),
        "witness_threshold": threshold,
    }
