"""What a refused submission tells its submitter: only what the submitter may see.

The registry's refusals name the parties of a lot or transfer ("lot … is held by X, not by Y",
"transfer … was sent to Z"). Told to anyone, they let a participant probe lot and event ids one by one
and map a competitor's custody and customers. So a server rewrites each refusal for its caller
(``errors.Confidential`` says how): about a lot or transfer the caller may not see, the refusal reads
exactly as for one that does not exist (same status, same body); about one it may see but whose
current parties it is not, it names none of them. The secretariat and auditors get the full message;
every refusal is written in full to the audit log (logger ``raretrace.audit``).
"""

from __future__ import annotations

import logging

from raretrace.errors import Confidential, NotFoundError, RaretraceError
from raretrace.ledger.participants import Principal
from raretrace.server.access import visible_lots
from raretrace.store.protocol import Listings
from raretrace.store.reading import Connection

audit = logging.getLogger("raretrace.audit")


def may_see(
    store: Listings[Connection], conn: Connection, principal: Principal, secret: Confidential
) -> bool:
    """Whether the caller may see the lot or transfer event the refusal is about."""
    if secret.kind == "lot":
        return bool(visible_lots(conn, principal, [secret.subject]))
    parties = store.transfer_parties(conn, secret.subject)
    return bool(parties) and (principal.sees_everything or bool(parties & principal.facilities))


def told(
    store: Listings[Connection], conn: Connection, principal: Principal, error: RaretraceError
) -> RaretraceError:
    """The refusal as ``principal`` may be told it; the full one goes to the audit log."""
    audit.info("submission by %s refused: %s", principal.id, error)
    secret = error.confidential
    if secret is None or principal.sees_everything:
        return error
    if not may_see(store, conn, principal, secret):
        return NotFoundError(secret.unseen, field=error.field, context=error.context)
    if secret.parties and not secret.parties & principal.facilities and secret.discreet:
        return type(error)(secret.discreet, field=error.field, context=error.context)
    return error
