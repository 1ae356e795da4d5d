"""Shipments across members over HTTP: the exporter keeps the certificate, the importer fetches it.

Why: the Kimberley scheme's certificate travels with the shipment and the importing authority sends
back a confirmation. Here the exporting registry keeps each shipment's certificate with its
disclosures (``keeping_for_importer``) until the import confirmation comes back, and the importing
side fetches it from the exporter's API (``receive``), checks it and the proofs it cites, records
the import in its own log and sends the signed confirmation (``ledger.confirmations``).

The fetch is asked for by the importing facility: a DSSE in-toto statement naming the facility and
the moment, signed with that facility's key, which the exporter knows (it registered the facility
to ship to it). The exporter answers the presentations of the shipments to that facility whose
confirmation has not come back (``waiting_for``). Nothing needs an outbox on the importer's side:
an exporter that is offline still holds every unconfirmed shipment and lists it on a later call; a
shipment the importer already imported is not imported again (``already``), only confirmed again;
a certificate imported twice is refused by the importing registry (duplicate) and a replayed one by
the exporter when its confirmation arrives.

Before importing, steps: 1. the certificate names the member asked as its issuing log; 2. that
member's current checkpoint, fetched from its API, verifies under a log key the consortium file
lists for it; 3. its tree extends the tree the certificate's evidence cites (RFC 9162 consistency
proof from the exporter's API): the events the certificate cites are still in the log everybody
sees; 4. the exporter's status list is fetched and travels in the import event, so the importing
registry checks revocation when it verifies the certificate (``custody.state``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import Connection

from raretrace.certify.credential import Presentation
from raretrace.crypto.dsse import parse_envelope, sign_statement
from raretrace.crypto.keys import Signer
from raretrace.custody.events import sign_event
from raretrace.custody.namespaces import own_prefix
from raretrace.errors import (
    AuthorizationError,
    NotFoundError,
    ProofError,
    RaretraceError,
    ValidationError,
)
from raretrace.jsontypes import JSONObject
from raretrace.ledger.certificates import InTransaction
from raretrace.ledger.consortium import Consortium, Member, open_member_checkpoint
from raretrace.ledger.peer_http import HttpPeer, PeerUnreachableError
from raretrace.ledger.registry import Registry
from raretrace.log.checkpoint import Checkpoint
from raretrace.log.merkle import verify_consistency
from raretrace.store import confirmations as confirmation_store
from raretrace.store import shipments as store
from raretrace.times import parse_instant

FETCH_PREDICATE = "https://raretrace.dev/consortium/shipment-fetch/v1"
STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
#: How far a fetch request's time may be from the exporter's clock: a captured request is useless later.
FETCH_WINDOW = timedelta(minutes=5)


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


# --- the exporting side -------------------------------------------------------------------------------


def keeping_for_importer(registry: Registry, transfer: str) -> InTransaction:
    """What ``certificates.issue`` runs in the transaction recording a transfer's certificate: the
    certificate (``{credential, disclosures}`` as issued) kept for the transfer's receiver to fetch,
    committed with the certificate or not at all (one commit per shipment, not two)."""

    def keep(conn: Connection, presentation: Presentation) -> None:
        record = registry.store.transfers(conn, [transfer]).get(transfer)
        if record is None:
            raise NotFoundError(f"no transfer {transfer}", field="transfer")
        certificate = str(presentation.credential["id"])
        store.keep(
            conn, certificate, record.receiver, json.dumps(presentation.to_dict()), _stamp(datetime.now(UTC))
        )

    return keep


def fetch_request(facility: str, signer: Signer, *, now: datetime | None = None) -> bytes:
    """The importing facility's signed request for the shipments waiting for it."""
    statement: JSONObject = {
        "_type": STATEMENT_TYPE,
        "subject": [{"name": facility, "digest": {"sha256": signer.key_id}}],
        "predicateType": FETCH_PREDICATE,
        "predicate": {"facility": facility, "time": _stamp(now or datetime.now(UTC))},
    }
    return sign_statement(statement, [signer])


def waiting_for(registry: Registry, raw: bytes, *, now: datetime | None = None) -> list[JSONObject]:
    """Steps: 1. a fetch request (predicate type); 2. for a facility this registry knows; 3. signed by
    a key of that facility valid now; 4. made within ``FETCH_WINDOW`` of now. Answers the presentations
    of the shipments to that facility not yet confirmed, oldest first."""
    moment = now or datetime.now(UTC)
    envelope = parse_envelope(raw)
    statement = envelope.statement()
    if statement.get("predicateType") != FETCH_PREDICATE:
        raise ValidationError(f"is not {FETCH_PREDICATE}", field="payload.predicateType")
    predicate = statement.get("predicate")
    facility = predicate.get("facility") if isinstance(predicate, dict) else None
    time = predicate.get("time") if isinstance(predicate, dict) else None
    if not isinstance(facility, str) or not isinstance(time, str):
        raise ValidationError("names no facility and time", field="predicate")
    asked = parse_instant(time, "predicate.time")  # the one time parser: an offset is required
    if abs(asked - moment) > FETCH_WINDOW:
        raise AuthorizationError(
            f"the request was made at {time}, more than {FETCH_WINDOW} from now", field="predicate.time"
        )
    with registry.engine.connect() as conn:
        keys = registry.store.keys(conn, [s.key_id for s in envelope.signatures])
        good = any(
            (key := keys.get(s.key_id)) is not None
            and key.facility_id == facility
            and key.valid_at(_stamp(moment))
            and key.public_key.is_valid(s.sig, envelope.signing_bytes)
            for s in envelope.signatures
        )
        if not good:
            raise AuthorizationError(
                f"not signed by a current key of facility {facility}", field="signatures"
            )
        kept = store.unconfirmed_for(conn, facility)
    return [json.loads(k.presentation) for k in kept]


# --- the importing side -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Received:
    """What became of one shipment offered by an exporter (or of the exporter, when it was offline)."""

    exporter: str
    certificate: str | None
    status: str  # imported | already | offline | refused
    detail: str = ""


def _imported(registry: Registry) -> set[str]:
    """Certificate ids this registry's log already holds an import of."""
    with registry.engine.connect() as conn:
        rows = confirmation_store.import_events(conn)
    out = set()
    for row in rows:
        predicate = parse_envelope(bytes(row.envelope)).statement().get("predicate", {})
        credential = (predicate.get("certificate") or {}).get("credential") or {}
        if isinstance(credential.get("id"), str):
            out.add(credential["id"])
    return out


class _ExporterLog:
    """The exporter's log as its API shows it now: its checkpoint read once per call, each
    consistency proof once per cited size (a batch of certificates usually cites one checkpoint)."""

    def __init__(self, member: Member, consortium: Consortium, peer: HttpPeer) -> None:
        self.member, self.consortium, self.peer = member, consortium, peer
        self._current: Checkpoint | None = None
        self._extends: set[tuple[int, bytes]] = set()

    def current(self) -> Checkpoint:
        if self._current is None:
            _, self._current = open_member_checkpoint(self.consortium, self.peer.checkpoint())
        return self._current

    def check_cited(self, credential: Mapping[str, object]) -> None:
        """Steps 1-3 of the module docstring."""
        subject = credential.get("credentialSubject")
        evidence = subject.get("logEvidence") if isinstance(subject, Mapping) else None
        if not isinstance(evidence, Mapping) or evidence.get("log") != self.member.origin:
            raise ProofError(
                f"the certificate does not cite member {self.member.id}'s log", field="logEvidence.log"
            )
        note = evidence.get("checkpoint")
        if not isinstance(note, str):
            raise ValidationError("the certificate cites no checkpoint", field="logEvidence.checkpoint")
        _, cited = open_member_checkpoint(self.consortium, note)
        current = self.current()
        if (cited.size, cited.root_hash) in self._extends:
            return
        if current.size < cited.size:
            raise ProofError(
                f"member {self.member.id}'s log shows {current.size} leaves, the certificate cites "
                f"{cited.size}",
                field="logEvidence.checkpoint",
            )
        if current.size == cited.size and current.root_hash != cited.root_hash:
            raise ProofError("the exporter's log shows another tree of the cited size", field="checkpoint")
        if current.size > cited.size > 0:
            proof = self.peer.consistency_proof(cited.size, current.size)
            verify_consistency(cited.size, current.size, proof, cited.root_hash, current.root_hash)
        self._extends.add((cited.size, cited.root_hash))


def _import_event(
    facility: str, signer: Signer, presentation: JSONObject, status_list: JSONObject, moment: datetime
) -> bytes:
    credential = presentation["credential"]
    assert isinstance(credential, dict)
    event = {
        "kind": "import",
        # in the importing facility's own id namespace (custody/namespaces.py), one import per certificate
        "event_id": f"{own_prefix('event', facility)}import:{credential['id']}",
        "time": _stamp(moment),
        "facility": facility,
        "certificate": presentation,
        "status_list": status_list,
    }
    return sign_event(event, [signer])


def _append(registry: Registry, exporter: str, ready: list[tuple[str, bytes]]) -> list[Received]:
    """All in one batch; if the batch is refused, one by one, so each refusal names its certificate."""
    try:
        registry.append([envelope for _, envelope in ready])
    except RaretraceError as e:
        if len(ready) > 1:
            return [r for item in ready for r in _append(registry, exporter, [item])]
        return [Received(exporter, ready[0][0], "refused", f"{e.field}: {e.message}")]
    return [Received(exporter, certificate, "imported") for certificate, _ in ready]


def _from_member(
    registry: Registry,
    log: _ExporterLog,
    facility: str,
    signer: Signer,
    done: set[str],
    moment: datetime,
) -> list[Received]:
    exporter = log.member.id
    try:
        offered = log.peer.waiting_shipments(fetch_request(facility, signer, now=moment))
        status_list = log.peer.status_list() if offered else {}
    except PeerUnreachableError as e:
        return [Received(exporter, None, "offline", e.message)]
    out, ready = [], []
    for presentation in offered:
        credential = presentation.get("credential")
        certificate = credential.get("id") if isinstance(credential, dict) else None
        if not isinstance(credential, dict) or not isinstance(certificate, str):
            out.append(Received(exporter, None, "refused", "an offered presentation has no credential id"))
            continue
        if certificate in done:
            out.append(Received(exporter, certificate, "already"))
            continue
        try:
            log.check_cited(credential)
            # signing the import event reads it as the registry will: a certificate it cannot read
            # (an altered disclosure, a malformed lot) is this certificate's refusal, not the run's
            event = _import_event(facility, signer, presentation, status_list, moment)
        except PeerUnreachableError as e:
            out.append(Received(exporter, certificate, "offline", e.message))
            continue
        except RaretraceError as e:
            out.append(Received(exporter, certificate, "refused", f"{e.field}: {e.message}"))
            continue
        done.add(certificate)
        ready.append((certificate, event))
    return out + (_append(registry, exporter, ready) if ready else [])


def receive(
    registry: Registry,
    consortium: Consortium,
    client: httpx.Client,
    *,
    facility: str,
    signer: Signer,
    endpoints: Mapping[str, str] | None = None,
    now: datetime | None = None,
) -> list[Received]:
    """Fetch, check and import every shipment waiting for ``facility`` at every other active registry
    member. Safe to repeat; confirmations are sent by ``ledger.confirmations.send_pending``."""
    moment = now or datetime.now(UTC)
    me = consortium.by_origin(registry.origin)
    done = _imported(registry)
    out: list[Received] = []
    for member in consortium.active("registry"):
        if member.id == me.id:
            continue
        url = (endpoints or {}).get(member.id, member.endpoint)
        if url is None:
            out.append(Received(member.id, None, "offline", "no endpoint"))
            continue
        log = _ExporterLog(member, consortium, HttpPeer(url, client))
        out.extend(_from_member(registry, log, facility, signer, done, moment))
    return out
