"""The registry service: initialize, append batches of signed events, and answer about the log.

Append is all or nothing: a batch is parsed, judged against the state (``LedgerState``), its
signatures verified, then its events, lot changes, log tiles, tree size and new checkpoint are
written in ONE database transaction. If anything fails — a bad field, a bad signature, a crash or
SIGKILL half way — the transaction is rolled back (or never committed) and the database and the
log are exactly as they were. Appenders are serialized (SQLite: BEGIN IMMEDIATE; PostgreSQL: a row
lock on the log head), so two clients racing to spend one lot cannot both succeed.
"""

from __future__ import annotations

import gc
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from sqlalchemy import Connection, Engine

from raretrace.crypto.dsse import parse_envelope
from raretrace.crypto.keys import Ed25519Signer, PublicKey, load_signer
from raretrace.custody.events import Event, event_from_statement
from raretrace.custody.state import DEFAULT_TOLERANCE, LedgerState, SignatureTask
from raretrace.errors import (
    NotFoundError,
    RaretraceError,
    SignatureError,
    StoreError,
    ValidationError,
    too_deep,
)
from raretrace.ledger.judging import Parsed, judge, load_state, needs_trust, rejected
from raretrace.ledger.lot_details import LotDetails, find_lot, read_lot_details
from raretrace.ledger.trust import load_trust
from raretrace.ledger.verify import BatchVerifier, SignaturePool
from raretrace.log.checkpoint import Checkpoint, sign_checkpoint
from raretrace.log.tiles import MAX_ENTRY_BYTES, TiledTree
from raretrace.model import Lot
from raretrace.pricing import PriceTable
from raretrace.store.db import (
    has_schema,
    migrate,
    owner_only,
    require_current_schema,
    write_transaction,
)
from raretrace.store.store import Store
from raretrace.store.tiles import SqlTileStorage
from raretrace.times import utc_now


@dataclass(frozen=True)
class AppendResult:
    first_index: int
    count: int
    tree_size: int
    checkpoint: str


def oversized(size: int) -> ValidationError:
    """The refusal of an envelope longer than a log entry may be."""
    return ValidationError(
        f"the envelope is {size} bytes; a log entry is at most {MAX_ENTRY_BYTES} bytes (C2SP tlog-tiles "
        "entry bundles give each entry a 16-bit length): split the event, e.g. fewer outputs per event",
        field="envelope",
    )


class _Deferral:
    """How many appends (in any thread) run with the cyclic collector paused."""

    lock = threading.Lock()
    running = 0


@contextmanager
def collection_deferred() -> Iterator[None]:
    """The cyclic garbage collector paused while a batch is parsed, judged and written, and resumed
    after (when no other append still runs).

    A batch allocates a few dozen containers an event (parsed JSON, events, rows) that reference
    counting frees when the batch is done; meanwhile they trigger a collection every ~700
    allocations, each walking whatever else the process holds (measured on the ingest benchmark:
    10-30 µs of the writer's CPU an event, 5-10% of an append). Deferred, the collections run after
    the batch, when its garbage is gone. Nothing is kept longer: allocations are counted while paused,
    so the first one after resuming collects if a collection was due. Only pauses what was running:
    a process that turned the collector off keeps it off."""
    with _Deferral.lock:
        owner = _Deferral.running > 0 or gc.isenabled()
        if owner:
            _Deferral.running += 1
            gc.disable()
    try:
        yield
    finally:
        if owner:
            with _Deferral.lock:
                _Deferral.running -= 1
                if _Deferral.running == 0:
                    gc.enable()


#: names the file holding the private key of a registry whose database keeps only the public key
REGISTRY_KEY_ENV = "RARETRACE_REGISTRY_KEY"
#: The ``meta`` entry saying whether new ids must be namespaced: "required", else open
#: (``custody/namespaces.py``).
ID_NAMESPACES = "id_namespaces"


class Registry:
    """One registry (one log) stored in one database."""

    def __init__(
        self,
        engine: Engine,
        *,
        signature_pool: SignaturePool | None = None,
        signer: Ed25519Signer | None = None,
        key_file: Path | None = None,
    ) -> None:
        """Open the registry in ``engine``. Its signing key is the one stored in the database or, when
        the database holds only the public key, ``signer``, else the PEM file ``key_file``, else the
        one named by ``$RARETRACE_REGISTRY_KEY`` (read when something is first signed: reading the
        registry needs no key)."""
        self.engine = engine
        self._key_file = key_file
        self.store = Store()
        self._pool = signature_pool
        if not has_schema(engine):
            raise NotFoundError(
                "this database holds no raretrace registry; run `raretrace init --origin …` first", field="db"
            )
        with engine.connect() as conn:
            require_current_schema(conn)
            self.origin = self.store.require_meta(conn, "origin")
            self.tolerance = float(self.store.require_meta(conn, "tolerance"))
            self.namespaced_ids = self.store.get_meta(conn, ID_NAMESPACES) == "required"
            seed, public = self.store.registry_key(conn)
        self._key_in_database = seed is not None
        if seed is not None:
            if key_file is not None:  # refused, not ignored: the user believes another key signs
                raise ValidationError(
                    f"--registry-key names {key_file}, but this registry keeps its "
                    "private key in its database and signs with that one; drop the option (a registry whose "
                    "database holds only its public key is made with `raretrace --registry-key KEY init …`)",
                    field="registry_key",
                )
            if signer is not None and signer.public_key != public:
                raise ValidationError(
                    "the key given is not this registry's key (the database holds its own)",
                    field="registry_key",
                )
            signer = Ed25519Signer.from_seed(seed)
        elif signer is not None:
            self._check_key(public, signer, "the key given")
        # (public key, its signer or None until a key kept outside is first needed), replaced as one
        # value, so a thread never sees the public key of one rotation with the signer of another
        self._key: tuple[bytes, Ed25519Signer | None] = (public, signer)

    @property
    def signer(self) -> Ed25519Signer:
        """The registry's current signing key. Read from the database each time (one indexed row), so
        a key rotated by ``consortium rotate-log-key`` while this process runs signs its very next
        certificate, statement or cosignature: nothing goes on signing with a retired key until a
        restart. One kept outside the database is loaded from its file on first use, and again after
        a rotation (the operator puts the new key there)."""
        with self.engine.connect() as conn:
            return self._current_signer(conn)

    def _current_signer(self, conn: Connection) -> Ed25519Signer:
        """The signer of the key the database names as current, read on ``conn`` (under the head lock,
        an append signs with the key no rotation can replace before it commits)."""
        seed, public = self.store.registry_key(conn)
        known, signer = self._key
        if public == known and signer is not None:
            return signer
        self._key_in_database = seed is not None
        if seed is not None:
            signer = Ed25519Signer.from_seed(seed)
        else:
            path = self._key_file or os.environ.get(REGISTRY_KEY_ENV)
            if not path:
                raise StoreError(
                    "this registry's signing key is kept outside the database: give --registry-key FILE "
                    f"or set {REGISTRY_KEY_ENV}",
                    field="registry_key",
                )
            what = f"the key in {path}" if public == known else f"the key in {path} (the log key was rotated)"
            signer = self._check_key(public, load_signer(Path(path)), what)
        self._key = (public, signer)
        return signer

    @property
    def signature_pool(self) -> SignaturePool | None:
        """The worker processes verifying this registry's appends (None: verified in this process)."""
        return self._pool

    @signature_pool.setter
    def signature_pool(self, pool: SignaturePool | None) -> None:
        self._pool = pool

    @property
    def key_in_database(self) -> bool:
        """Whether the database holds the private key (the default of ``init``) or only the public one."""
        return self._key_in_database

    @staticmethod
    def _check_key(public: bytes, signer: Ed25519Signer, what: str) -> Ed25519Signer:
        if signer.public_key != public:
            raise ValidationError(f"{what} is not this registry's key", field="registry_key")
        return signer

    # --- creation -----------------------------------------------------------------------------
    @classmethod
    def init(
        cls,
        engine: Engine,
        origin: str,
        *,
        tolerance: float = DEFAULT_TOLERANCE,
        signer: Ed25519Signer | None = None,
        key_outside: bool = False,
        namespaced_ids: bool = True,
    ) -> Registry:
        """Create the schema, the registry's signing key and the empty log's first checkpoint.

        With ``key_outside`` the database keeps only the public key of ``signer`` (required then): the
        private key stays in its file or KMS, and opening the registry to write needs it again. With
        ``namespaced_ids`` (the default) every new lot and event id of a facility must be in its
        namespace (``custody/namespaces.py``): no id can then be probed or squatted by a competitor;
        without it (``init --open-ids``, for registries that must accept legacy ids) open ids are
        accepted and a taken one is refused as a duplicate, which tells the submitter it exists."""
        if key_outside and signer is None:
            raise ValidationError("a key kept outside the database must be given", field="registry_key")
        if not origin or any(c.isspace() for c in origin) or "+" in origin:
            raise ValidationError(
                "a log origin is a non-empty name without spaces or '+', e.g. "
                "'registry.example.org/rare-earths'",
                field="origin",
            )
        if not 0 <= tolerance < 1:
            raise ValidationError("must be a fraction between 0 and 1", field="tolerance")
        if not key_outside:
            owner_only(engine)  # the database will hold the private key
        migrate(engine)
        store = Store()
        key = signer or Ed25519Signer.generate()
        with write_transaction(engine) as conn:
            if store.get_meta(conn, "origin") is not None:
                raise ValidationError(
                    f"the database already holds registry {store.get_meta(conn, 'origin')!r}", field="db"
                )
            now = utc_now()
            store.save_registry_key(conn, "log", None if key_outside else key.seed, key.public_key, now)
            for name, value in (("origin", origin), ("tolerance", repr(tolerance)), ("tree_size", "0")):
                store.set_meta(conn, name, value)
            store.set_meta(conn, ID_NAMESPACES, "required" if namespaced_ids else "open")
            root = TiledTree(SqlTileStorage(conn), 0).root(0)
            note = sign_checkpoint(Checkpoint(origin, 0, root), origin, key)
            store.insert_checkpoint(conn, 0, root, note, now)
        return cls(engine, signer=key)

    @property
    def public_key(self) -> PublicKey:
        """The current log key (read as ``signer`` is: a rotation is seen at once)."""
        with self.engine.connect() as conn:
            return PublicKey(self.store.registry_key(conn)[1])

    # --- append ---------------------------------------------------------------------------------
    def append(
        self,
        envelopes: Sequence[bytes],
        *,
        progress: Callable[[int], None] | None = None,
        dry_run: bool = False,
        admit: Callable[[int, Event], None] | None = None,
    ) -> AppendResult:
        """Append a batch of DSSE envelopes, all or nothing; raises naming the envelope and field.

        With ``dry_run`` the batch is judged exactly as for real (every check and signature) and
        nothing is written: the result's ``tree_size`` is the unchanged size, its checkpoint empty.
        ``admit(index, event)`` sees each event as soon as it is parsed, before anything is read or
        written, and refuses it by raising (a server's permission check: the envelope is parsed once).
        """
        with collection_deferred():
            return self.append_parsed(self.parse(envelopes, admit=admit), progress=progress, dry_run=dry_run)

    @staticmethod
    def parse(
        envelopes: Sequence[bytes], *, admit: Callable[[int, Event], None] | None = None
    ) -> list[Parsed]:
        """Each envelope parsed and shown to ``admit``, the first bad one refused naming its index;
        nothing is read or written. ``append_parsed`` takes the result as it stands."""
        parsed: list[Parsed] = []
        for i, raw in enumerate(envelopes):  # each refused as soon as it is read, in order
            parsed.append(item := Registry._parse(i, raw))
            if admit is not None:
                admit(i, item[1])
        return parsed

    def append_parsed(
        self,
        parsed: Sequence[Parsed],
        *,
        progress: Callable[[int], None] | None = None,
        dry_run: bool = False,
    ) -> AppendResult:
        """``append`` of envelopes ``parse`` has read already: a server that parsed them to decide who
        may submit them, or to queue them for group commit, need not parse them again."""
        if not parsed:
            raise ValidationError("nothing to record: the batch is empty", field="envelopes")
        verifier = BatchVerifier(self._pool)
        try:
            with collection_deferred(), write_transaction(self.engine) as conn:
                size = self.store.lock_head(conn)
                signer = self._current_signer(conn)
                now = utc_now()
                state = self._judge(conn, parsed, size, verifier, progress, now, PublicKey(signer.public_key))
                if dry_run:
                    self._check_signatures(verifier.first_failure(state.pending_signatures))
                    return AppendResult(size, len(parsed), size, "")
                # Pipelined: the batch is written, logged and its checkpoint signed while the workers
                # finish its last signatures, and (PostgreSQL) the server applies the batch's updates
                # while this process verifies; nothing is committed before every one has verified.
                with self._written(conn, state, size, len(parsed), now, signer, verifier) as note:
                    self._check_signatures(verifier.first_failure(state.pending_signatures))
        except BaseException:
            verifier.cancel()
            raise
        return AppendResult(size, len(parsed), size + len(parsed), note)

    def _judge(
        self,
        conn: Connection,
        parsed: Sequence[Parsed],
        size: int,
        verifier: BatchVerifier,
        progress: Callable[[int], None] | None,
        now: str,
        registry_key: PublicKey,
    ) -> LedgerState:
        """Every invariant of every event, in order, against the state the batch builds up; each
        event's signatures are handed to ``verifier`` as they are queued (workers start at once)."""
        trust = load_trust(conn) if needs_trust(parsed) else (None, 0)
        # read under the write lock: a switch (``require-namespaced-ids``) holds from the next append on,
        # in every process of a server, without a restart
        self.namespaced_ids = self.store.get_meta(conn, ID_NAMESPACES) == "required"
        state = load_state(
            self.store,
            conn,
            parsed,
            registry_key=registry_key,
            tolerance=self.tolerance,
            trust=trust,
            namespaced_ids=self.namespaced_ids,
        )

        def after_each(judged: LedgerState) -> None:
            verifier.feed(judged.pending_signatures)
            if progress is not None:
                progress(1)

        judge(state, parsed, size, now, after_each=after_each)
        verifier.feed(state.pending_signatures, final=True)  # the last chunk, before the writing starts
        return state

    @contextmanager
    def _written(
        self,
        conn: Connection,
        state: LedgerState,
        size: int,
        count: int,
        now: str,
        signer: Ed25519Signer,
        verifier: BatchVerifier,
    ) -> Iterator[str]:
        """The judged batch's rows, its log leaves and the new signed checkpoint; yields the note while
        the last statements are still running on a server database (``Store.pipelined``: leaving the
        block waits for them and raises the first error). The reads (the log's partial tiles) come
        before the statements sent without waiting, since a read would wait for those.

        Without workers this process verifies the batch's signatures, a sixth of them while each
        table's rows go to the database (``insert_batch``'s ``meanwhile``) and the rest while it applies
        the updates: on PostgreSQL the writer then waits for the server only for what is left over
        (``docs/speed-limits.md``)."""
        tasks = state.pending_signatures
        self.store.insert_batch(conn, state.write, partial(verifier.verify_some, tasks, len(tasks) // 6 + 1))
        tree = TiledTree(SqlTileStorage(conn), size)
        root = tree.append([row["leaf_hash"] for row in state.write.events])
        new_size = size + count
        note = sign_checkpoint(Checkpoint(self.origin, new_size, root), self.origin, signer)
        with self.store.pipelined(conn):
            self.store.update_batch(conn, state.write, new_size)
            self.store.insert_checkpoint(conn, new_size, root, note, now)
            yield note

    @staticmethod
    def _parse(index: int, raw: bytes) -> Parsed:
        event_id: str | None = None
        if len(raw) > MAX_ENTRY_BYTES:  # else its entry bundle could never be served (C2SP tlog-tiles)
            raise rejected(index, None, oversized(len(raw)))
        try:
            envelope = parse_envelope(raw)
            statement = envelope.statement()
            predicate = statement["predicate"]
            event_id = predicate.get("event_id") if isinstance(predicate.get("event_id"), str) else None
            return envelope, event_from_statement(statement)
        except RaretraceError as e:
            raise rejected(index, event_id, e) from e
        except RecursionError as e:  # the standard JSON reader's depth limit
            raise rejected(index, event_id, too_deep("envelope")) from e

    @staticmethod
    def _check_signatures(task: SignatureTask | None) -> None:
        if task is not None:
            raise rejected(
                task.index,
                task.event_id,
                SignatureError(
                    f"signature by key {PublicKey(task.public_key).key_id[:16]}… "
                    "does not verify over the payload",
                    field="envelope.signatures",
                ),
            )

    # --- reads ------------------------------------------------------------------------------------
    def lot(self, lot_id: str) -> Lot:
        with self.engine.connect() as conn:
            return find_lot(self.store, conn, lot_id)

    def lot_details(self, lot_id: str, *, prices: PriceTable | None = None) -> LotDetails:
        """The lot with its inputs, the events that touched it and its assays, for `lot show`."""
        table = prices or PriceTable.load()
        with self.engine.connect() as conn:
            return read_lot_details(self.store, conn, lot_id, table)

    def tree_size(self) -> int:
        with self.engine.connect() as conn:
            return int(self.store.require_meta(conn, "tree_size"))
