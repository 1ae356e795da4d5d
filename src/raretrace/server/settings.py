"""What the server is started with. Built by ``raretrace serve`` (or a test), never at import time."""

from __future__ import annotations

from dataclasses import dataclass

MAX_BATCH = 10_000  # envelopes per batch request
MAX_BODY_BYTES = 64 * 1024 * 1024
#: Default request rates (per second; a burst of twice as many passes at once): one participant's
#: token may use about half of what the server was measured to answer on two cores (1,000-2,000
#: requests/s, README), one address all of it. 0 turns a limit off (docs/security.md).
RATE_PER_TOKEN = 500.0
RATE_PER_ADDRESS = 1000.0


@dataclass(frozen=True)
class Settings:
    """The database to serve and whether this is a development run.

    ``dev`` is the only mode in which the server invents a credential: it creates (or reuses) a
    secretariat participant and prints a fresh token for it. Outside dev the server refuses to start
    until the secretariat has a participant with a live token (``raretrace participant add`` and
    ``raretrace participant token``), so no deployment ever runs on a default secret.
    """

    db: str | None = None
    dev: bool = False
    title: str = "raretrace registry"
    max_batch: int = MAX_BATCH
    secure_cookies: bool = True  # Secure flag on the session cookie (off only for plain-http dev)
    group_commit: bool = True  # append concurrent single submissions together (see group_commit.py)
    rate_per_token: float = RATE_PER_TOKEN  # requests/s per bearer token or session (0: no limit)
    rate_per_address: float = RATE_PER_ADDRESS  # requests/s per client address (0: no limit)
    # The rate table the server's worker processes share (server/ratestore.py); None: this app's own.
    rate_file: str | None = None
    # A Redis every machine serving the registry shares (``redis://…``, server/ratestore_redis.py); it
    # wins over ``rate_file``.
    rate_store: str | None = None
    # Processes verifying the appends' Ed25519 signatures (crypto/verifier_pool.py), started with the
    # app: verification then leaves the server process's GIL to the event loop. 0: in the server.
    signature_workers: int = 0
