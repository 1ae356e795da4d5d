"""The one schema both back ends share (SQLAlchemy Core; Alembic migrations mirror it).

Times are stored as normalized UTC strings (``2026-01-01T00:00:00.000000Z``) so that they compare
correctly as text on every back end. Envelopes are stored as the exact bytes received: the log's
leaves are hashes of those bytes and are never recomputed from a re-serialization.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    TypeDecorator,
)

from raretrace.store.envelopes import pack, unpack

SCHEMA_VERSION = "0002"

metadata = MetaData()


class EnvelopeBytes(TypeDecorator[bytes]):
    """An envelope column: exact envelope bytes in and out, stored compactly (``store.envelopes``).
    Bulk writes that bypass SQLAlchemy (``store.raw``) call ``pack`` themselves."""

    impl = LargeBinary
    cache_ok = True

    def process_bind_param(self, value: bytes | None, dialect: object) -> bytes | None:
        return None if value is None else pack(bytes(value))

    def process_result_value(self, value: bytes | None, dialect: object) -> bytes | None:
        return None if value is None else unpack(value)


meta = Table(
    "meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

registry_keys = Table(
    "registry_keys",
    metadata,
    Column("role", String(32), primary_key=True),
    # NULL when the key is kept outside the database (a key file or KMS: ``--registry-key``)
    Column("seed", LargeBinary, nullable=True),
    Column("public_key", LargeBinary, nullable=False),
    Column("created_at", String(32), nullable=False),
)

facilities = Table(
    "facilities",
    metadata,
    Column("id", String(200), primary_key=True),
    Column("name", Text, nullable=False),
    Column("operator", Text, nullable=False),
    Column("country", String(2), nullable=False),
    Column("stages", Text, nullable=False),  # JSON list of stage names
    Column("technology", Text, nullable=False),  # JSON {stage: country}
    Column("accreditation", Text, nullable=True),
    Column("registered_seq", BigInteger, nullable=False),
)

facility_keys = Table(
    "facility_keys",
    metadata,
    Column("key_id", String(64), primary_key=True),
    Column("facility_id", String(200), ForeignKey("facilities.id"), nullable=False, index=True),
    Column("public_key", LargeBinary, nullable=False),
    Column("valid_from", String(32), nullable=False),
    Column("valid_until", String(32), nullable=True),
    Column("revoked_at", String(32), nullable=True),
    Column("added_seq", BigInteger, nullable=False),
)

events = Table(
    "events",
    metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),  # = log leaf index
    Column("event_id", String(200), nullable=False, unique=True),
    Column("kind", String(32), nullable=False),
    Column("facility_id", String(200), nullable=True),
    Column("time", String(32), nullable=False),
    # The DSSE envelope exactly as received (stored compressed). Its payload is the statement and its
    # signatures name the signers; the checkpoint that first covers ``seq`` says when it was recorded.
    Column("envelope", EnvelopeBytes, nullable=False),
    Column("leaf_hash", LargeBinary, nullable=False),
)

lots = Table(
    "lots",
    metadata,
    Column("id", String(200), primary_key=True),
    Column("form", String(32), nullable=False),
    Column("mass_kg", Float, nullable=False),
    Column("units", Integer, nullable=True),
    Column("composition", Text, nullable=False),  # JSON {component: mass fraction}
    Column("custodian", String(200), nullable=False),
    Column("in_transit_to", String(200), nullable=True),
    Column("remaining_kg", Float, nullable=False),
    Column("produced_seq", BigInteger, nullable=False),
    Column("producer", String(200), nullable=False),
    Column("stage", String(32), nullable=False),
    Column("deposit", Text, nullable=True),
    Column("declared_value", Float, nullable=True),
    Column("currency", String(3), nullable=True),
    Column("created_time", String(32), nullable=False),
    Column("void", Boolean, nullable=False, default=False),
    Column("origin", Text, nullable=True),  # origin vector (origin_text.py), computed at append
)
# The summary a trace shows of each lot, answered from the index alone: the rows carry the origin
# vector (~540 bytes a row at 1M lots, kilobytes for deep lots), so reading them costs ~5x the pages.
LOT_SUMMARY_COLUMNS = ("form", "mass_kg", "producer", "stage", "deposit", "custodian")
Index("ix_lots_summary", lots.c.id, *(lots.c[name] for name in LOT_SUMMARY_COLUMNS))
# A participant's lots in id order, a page at a time (store/listings.lot_page).
Index("ix_lots_custodian", lots.c.custodian, lots.c.id)
Index("ix_lots_producer", lots.c.producer, lots.c.id)
# A search's facets: the matching lots counted by producer, form and stage in index order (store/search.py).
Index("ix_lots_facets", lots.c.producer, lots.c.form, lots.c.stage)

lot_inputs = Table(
    "lot_inputs",
    metadata,
    Column("seq", BigInteger, nullable=False),
    Column("child", String(200), nullable=False),
    Column("parent", String(200), nullable=False),
    Column("mass_kg", Float, nullable=False),
    # A trace up (down) reads every column of an edge from one b-tree. Up: the table itself, clustered
    # by (child, parent) on SQLite (WITHOUT ROWID; unique: a lot is produced once and an input is
    # listed once), its key carrying the other columns on PostgreSQL; down: a covering index.
    PrimaryKeyConstraint("child", "parent", name="pk_lot_inputs", postgresql_include=["mass_kg", "seq"]),
    Index("ix_lot_inputs_down", "parent", "child", "mass_kg", "seq"),
    sqlite_with_rowid=False,
)

transfers = Table(
    "transfers",
    metadata,
    Column("seq", BigInteger, nullable=False, index=True),  # the transfer event: receipts look it up
    Column("lot_id", String(200), nullable=False, index=True),
    Column("sender", String(200), nullable=False),
    Column("receiver", String(200), nullable=False),
    Column("received_seq", BigInteger, nullable=True),
    # the lots a participant sent or received, for its listing (store/listings.lot_page)
    Index("ix_transfers_sender", "sender", "lot_id"),
    Index("ix_transfers_receiver", "receiver", "lot_id"),
)

assays = Table(
    "assays",
    metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("lot_id", String(200), nullable=False, index=True),
    Column("lab", String(200), nullable=False),
    Column("data", Text, nullable=False),  # JSON of the measurement
)

log_tiles = Table(
    "log_tiles",
    metadata,
    Column("level", Integer, primary_key=True, autoincrement=False),
    Column("idx", BigInteger, primary_key=True, autoincrement=False),
    Column("data", LargeBinary, nullable=False),
)

checkpoints = Table(
    "checkpoints",
    metadata,
    Column("size", BigInteger, primary_key=True, autoincrement=False),
    Column("root", LargeBinary, nullable=False),
    Column("note", Text, nullable=False),  # the signed note, byte-exact
    Column("created_at", String(32), nullable=False),
)

witnesses = Table(
    "witnesses",
    metadata,
    Column("name", String(200), primary_key=True),
    Column("verifier_key", Text, nullable=False),
)

cosignatures = Table(
    "cosignatures",
    metadata,
    Column("size", BigInteger, primary_key=True, autoincrement=False),
    Column("witness", String(200), primary_key=True),
    Column("timestamp", BigInteger, nullable=False),
    Column("line", Text, nullable=False),  # the signature line, byte-exact
)


certificates = Table(
    "certificates",
    metadata,
    Column("id", String(200), primary_key=True),  # the credential's id (a URN)
    Column("number", String(64), nullable=False, unique=True),
    Column("status_index", Integer, nullable=False, unique=True),  # its bit in the status list
    Column("transfer_event", String(200), nullable=True),
    Column("lots", Text, nullable=False),  # JSON list of lot ids
    Column("issued_at", String(32), nullable=False),
    Column("valid_until", String(32), nullable=False),
    Column("credential", Text, nullable=False),  # the signed credential with concealed fields, as issued
    Column("revoked_at", String(32), nullable=True),
    Column("revocation_reason", Text, nullable=True),
)

# Which certificates name a lot: the lot page lists them (certificates.lots keeps the list as issued).
certificate_lots = Table(
    "certificate_lots",
    metadata,
    Column("certificate_id", String(200), ForeignKey("certificates.id"), primary_key=True),
    Column("lot_id", String(200), primary_key=True),
    Index("ix_certificate_lots_lot", "lot_id", "certificate_id"),
)


witnessed_logs = Table(
    "witnessed_logs",
    metadata,
    Column("origin", String(200), primary_key=True),  # the log this registry witnesses
    Column("verifier_key", Text, nullable=False),  # its checkpoint key (C2SP note verifier key)
    Column("size", BigInteger, nullable=False),  # the newest tree it saw and cosigned
    Column("root", LargeBinary, nullable=False),
    Column("note", Text, nullable=False),
    Column("updated_at", String(32), nullable=False),
)


trusted_registries = Table(
    "trusted_registries",
    metadata,
    Column("issuer", String(200), primary_key=True),  # the other registry's did:key
    Column("log", String(200), nullable=False),  # its log name (checkpoint origin)
    Column("log_key", Text, nullable=False),  # its checkpoint verifier key
    Column("added_at", String(32), nullable=False),
)


import_confirmations = Table(
    "import_confirmations",
    metadata,
    Column("certificate_id", String(200), ForeignKey("certificates.id"), primary_key=True),
    Column("importer_log", String(200), nullable=False),  # the importing member's log origin
    Column("import_event", String(200), nullable=False),
    Column("leaf_index", BigInteger, nullable=False),  # of the import event in the importer's log
    Column("confirmed_at", String(32), nullable=False),  # the import event's time
    Column("received_at", String(32), nullable=False),
    Column("envelope", LargeBinary, nullable=False),  # the signed confirmation, byte-exact
)

# A shipment's certificate with its disclosures, kept for the importing member to fetch (issue 22).
shipments = Table(
    "shipments",
    metadata,
    Column("certificate_id", String(200), ForeignKey("certificates.id"), primary_key=True),
    Column("importer", String(200), nullable=False, index=True),  # the importing facility
    Column("presentation", Text, nullable=False),  # {credential, disclosures} as issued, JSON
    Column("kept_at", String(32), nullable=False),
)


# --- the registry server (issue 7): who may call it --------------------------------------------------

participants = Table(
    "participants",
    metadata,
    Column("id", String(200), primary_key=True),
    Column("name", Text, nullable=False),
    Column("role", String(32), nullable=False),  # operator, auditor, secretariat
    Column("created_at", String(32), nullable=False),
    Column("disabled_at", String(32), nullable=True),
)

participant_facilities = Table(
    "participant_facilities",
    metadata,
    Column("participant_id", String(200), ForeignKey("participants.id"), primary_key=True),
    Column("facility_id", String(200), ForeignKey("facilities.id"), primary_key=True),
    Index("ix_participant_facilities_facility", "facility_id"),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("token_hash", String(64), primary_key=True),  # SHA-256 hex of the token; the token is never stored
    Column("participant_id", String(200), ForeignKey("participants.id"), nullable=False, index=True),
    Column("label", Text, nullable=True),
    Column("created_at", String(32), nullable=False),
    Column("expires_at", String(32), nullable=True),
    Column("revoked_at", String(32), nullable=True),
)
