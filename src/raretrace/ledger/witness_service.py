"""A member's witness on its own: one round polls every peer's log, cosigns, gossips, raises alarms.

Why: witnessing by hand (``raretrace witness``) protects no one if nobody runs it. A round, run by
``raretrace witness run`` once or on a timer, does for every other active registry member of the
consortium file:

1. trust, on this registry's own log, the witness keys of the active witness members (so their
   cosignatures are kept, and the log serves checkpoints carrying a quorum of them);
2. read the peer's newest checkpoint from its API and, through ``ledger.witnessing.witness_log``,
   check it against what this registry last cosigned (RFC 9162 consistency proof from that size,
   log key from the consortium file, following a rotation the file lists), cosign it and remember it;
3. hand the cosignature back to the peer (``POST /api/v1/log/cosignatures``);
4. gossip: offer the checkpoint it just cosigned to every other witness member through their C2SP
   tlog-witness endpoint (``POST /add-checkpoint``, with the consistency proof from the size that
   witness holds, read from the log). A witness that was shown another tree refuses it as not
   extending its own (422): a split view, reported here. A witness that holds a larger tree than
   this one was shown (403) is not an alarm: this witness is behind and will catch up.

A peer that does not answer is reported offline and retried next round; what it missed is caught up
then, because a consistency proof spans any number of appends. A split view or a rollback is an
alarm: the round's result says so, and a one-shot run exits non-zero.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx

from raretrace.errors import NotFoundError, ProofError, ValidationError
from raretrace.ledger.consortium import Consortium, Member
from raretrace.ledger.peer_http import HttpPeer, PeerUnreachableError
from raretrace.ledger.registry import Registry
from raretrace.ledger.witnessing import SplitViewError, Witnessed, witness_log
from raretrace.log.cosignature import parse_witness_key
from raretrace.store import witnessed as store
from raretrace.store.db import write_transaction


@dataclass(frozen=True)
class PeerResult:
    """What happened with one peer's log this round."""

    member: str
    origin: str
    status: str  # cosigned | offline | split_view | rollback | refused
    size: int | None = None
    detail: str = ""
    accepted_by_log: bool = False


@dataclass(frozen=True)
class GossipResult:
    """One witness's answer to a checkpoint offered to it."""

    origin: str
    witness: str
    status: str  # agreed | caught_up | behind | unknown | offline | split_view | refused
    detail: str = ""


@dataclass(frozen=True)
class Round:
    time: str
    peers: tuple[PeerResult, ...]
    gossip: tuple[GossipResult, ...] = field(default=())

    @property
    def alarms(self) -> list[str]:
        out = [f"{p.origin} ({p.member}): {p.status}: {p.detail}" for p in self.peers if p.status in _ALARMS]
        out += [
            f"{g.origin} as seen by witness {g.witness}: {g.status}: {g.detail}"
            for g in self.gossip
            if g.status in _ALARMS
        ]
        return out

    @property
    def ok(self) -> bool:
        return not self.alarms


ALARM_KINDS = ("split_view", "rollback", "refused")
_ALARMS = ALARM_KINDS
ROUND_KEY = "witness_last_round"  # the meta row holding the newest round, for the server to show


@dataclass(frozen=True)
class WitnessStatus:
    """A round as monitoring sees it: the status file, ``--json``, the API and the page show this."""

    time: str
    ok: bool
    alarms: tuple[str, ...]
    peers: tuple[PeerResult, ...]
    gossip: tuple[GossipResult, ...]


def status_of(result: Round) -> WitnessStatus:
    return WitnessStatus(result.time, result.ok, tuple(result.alarms), result.peers, result.gossip)


def record_round(registry: Registry, result: Round) -> None:
    """Keep the newest round in the registry's database, where its server reads it (``last_status``)."""
    text = json.dumps(dataclasses.asdict(result), separators=(",", ":"))
    with write_transaction(registry.engine) as conn:
        registry.store.set_meta(conn, ROUND_KEY, text)


def last_status(registry: Registry) -> WitnessStatus | None:
    """The newest round ``record_round`` kept (None before the first)."""
    with registry.engine.connect() as conn:
        text = registry.store.get_meta(conn, ROUND_KEY)
    if text is None:
        return None
    data = json.loads(text)
    return status_of(
        Round(
            str(data["time"]),
            tuple(PeerResult(**p) for p in data["peers"]),
            tuple(GossipResult(**g) for g in data["gossip"]),
        )
    )


def _me(registry: Registry, consortium: Consortium) -> Member:
    return consortium.by_origin(registry.origin)


def trust_member_witnesses(registry: Registry, consortium: Consortium) -> list[str]:
    """Step 1: this log accepts cosignatures from every active witness member but itself."""
    me = _me(registry, consortium)
    names = []
    with write_transaction(registry.engine) as conn:
        trusted = store.trusted_witnesses(conn)
        for m in consortium.active("witness"):
            if m.id == me.id or m.witness_key is None:
                continue
            name = parse_witness_key(m.witness_key).name
            if trusted.get(name) != m.witness_key:
                store.trust_witness(conn, name, m.witness_key)
            names.append(name)
    return names


def _follow_rotation(registry: Registry, member: Member) -> str | None:
    """The key to introduce the log with the first time; after a rotation listed in the consortium
    file, the remembered key moves to the member's current one."""
    assert member.origin is not None
    current = member.current_log_key
    with write_transaction(registry.engine) as conn:
        known = store.remembered_key(conn, member.origin)
        if known is None:
            return current
        if current is not None and known != current and known in {k.key for k in member.log_keys}:
            store.set_remembered_key(conn, member.origin, current)
    return None


def _witness_one(
    registry: Registry, member: Member, peer: HttpPeer, now: datetime
) -> tuple[PeerResult, Witnessed | None]:
    assert member.origin is not None
    try:
        log_key = _follow_rotation(registry, member)
        done = witness_log(registry, peer, log_key=log_key, now=now)
    except PeerUnreachableError as e:
        return PeerResult(member.id, member.origin, "offline", detail=e.message), None
    except SplitViewError as e:
        return PeerResult(member.id, member.origin, "split_view", detail=e.message), None
    except ProofError as e:
        status = "rollback" if "rolled back" in e.message else "refused"
        return PeerResult(member.id, member.origin, status, detail=e.message), None
    except (ValidationError, NotFoundError) as e:
        return PeerResult(member.id, member.origin, "refused", detail=e.message), None
    try:
        answer = peer.give_cosignatures(done.note)
        accepted, detail = answer.status == 200, "" if answer.status == 200 else answer.reason
    except PeerUnreachableError as e:
        accepted, detail = False, e.message
    return PeerResult(member.id, member.origin, "cosigned", done.size, detail, accepted), done


class _Ahead:
    """A log as another witness saw it further on: that witness's note (signed by the log), and the
    consistency proofs from the log's own API (a log that showed this witness an old tree cannot prove
    the newer one extends it unless it does)."""

    def __init__(self, note: str, log: HttpPeer) -> None:
        self._note, self._log = note, log

    def checkpoint(self) -> str:
        return self._note

    def consistency_proof(self, old: int, new: int) -> list[bytes]:
        return self._log.consistency_proof(old, new)

    def verifier_key(self) -> str:
        return self._log.verifier_key()


def _catch_up(
    registry: Registry, log: HttpPeer, witness: Member, peer: HttpPeer, done: Witnessed, now: datetime
) -> GossipResult:
    """``witness`` holds a larger tree of the log than this witness was shown: take it from there,
    check it extends the tree cosigned (``witness_log``), cosign it and hand the cosignature back."""
    try:
        caught = witness_log(registry, _Ahead(peer.witnessed_checkpoint(done.origin), log), now=now)
    except PeerUnreachableError as e:
        return GossipResult(done.origin, witness.id, "offline", e.message)
    except SplitViewError as e:
        return GossipResult(done.origin, witness.id, "split_view", e.message)
    except (ProofError, ValidationError, NotFoundError) as e:
        return GossipResult(done.origin, witness.id, "refused", e.message)
    with contextlib.suppress(PeerUnreachableError):  # else the log gets a cosignature next round
        log.give_cosignatures(caught.note)
    detail = f"from size {done.size} to {caught.size}, the tree witness {witness.id} holds"
    return GossipResult(done.origin, witness.id, "caught_up", detail)


def _gossip(
    registry: Registry, log: HttpPeer, witness: Member, peer: HttpPeer, done: Witnessed, now: datetime
) -> GossipResult:
    """Offer ``done`` to ``witness``: learn its size (409), send the proof from there, read its verdict;
    if it holds a larger tree, catch up from it."""
    name = witness.id
    try:
        answer = peer.add_checkpoint(0, [], done.note)
        if answer.status == 409:
            held = int(answer.text.strip())
            if held > done.size:
                return _catch_up(registry, log, witness, peer, done, now)
            proof = log.consistency_proof(held, done.size) if 0 < held < done.size else []
            answer = peer.add_checkpoint(held, proof, done.note)
    except PeerUnreachableError as e:
        return GossipResult(done.origin, name, "offline", e.message)
    except ValueError as e:
        return GossipResult(done.origin, name, "offline", f"unreadable answer: {e}")
    if answer.status == 200:
        return GossipResult(done.origin, name, "agreed")
    if answer.status == 404:
        return GossipResult(done.origin, name, "unknown", "it has not witnessed this log yet")
    if answer.status == 403:
        return GossipResult(done.origin, name, "behind", answer.reason)
    return GossipResult(done.origin, name, "split_view", answer.reason)


def run_round(
    registry: Registry,
    consortium: Consortium,
    client: httpx.Client,
    *,
    endpoints: dict[str, str] | None = None,
    now: datetime | None = None,
) -> Round:
    """One round over every other active registry member; ``endpoints`` overrides a member's API base
    URL by member id (an internal address, say)."""
    moment = now or datetime.now(UTC)
    me = _me(registry, consortium)
    overrides = endpoints or {}

    def peer_of(m: Member) -> HttpPeer | None:
        url = overrides.get(m.id, m.endpoint)
        return None if url is None else HttpPeer(url, client)

    trust_member_witnesses(registry, consortium)
    peers, gossip = [], []
    witnesses = [m for m in consortium.active("witness") if m.id != me.id]
    for member in consortium.active("registry"):
        if member.id == me.id or member.origin is None:
            continue
        log = peer_of(member)
        if log is None:
            peers.append(PeerResult(member.id, member.origin, "offline", detail="no endpoint"))
            continue
        result, done = _witness_one(registry, member, log, moment)
        peers.append(result)
        if done is None:
            continue
        for witness in witnesses:
            other = peer_of(witness)
            if witness.id != member.id and other is not None:
                gossip.append(_gossip(registry, log, witness, other, done, moment))
    stamp = moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    return Round(stamp, tuple(peers), tuple(gossip))
