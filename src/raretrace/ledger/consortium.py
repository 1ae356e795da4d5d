"""Membership as signed data: the consortium file, versioned and signed k-of-n, in the spirit of a TUF root.

Why: every member must agree on who the members are, which log each runs (its origin and keys), whose
cosignatures count, where to reach them and who may change that. A member trusts the first version
it was handed out of band; each later version is accepted only if a threshold of the *previous*
version's signer keys signed it (so no one outside the old quorum can change the membership) and a
threshold of its *own* signer keys did (so a new quorum is live before it is trusted), and its
version is exactly one more. Adding, suspending, reinstating and removing a member, and rotating any
of its keys, are new versions; nothing is edited in place, so the history of the membership is the
chain of files (``1.json``, ``2.json`` …), which any web server can serve.

The signed bytes are the RFC 8785 (JCS) form of ``signed``; signatures are Ed25519 by key id (hex
SHA-256 of the raw public key), as TUF does. A rotated log key stays listed with the moment it was
replaced (``until``): checkpoints signed before then still verify, and verification continues across
the rotation. Removed members stay in the file with status ``removed`` so their old checkpoints can
still be read and their id is never reused.
"""

from __future__ import annotations

import base64
import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from raretrace.crypto.canonical import canonical_bytes
from raretrace.crypto.keys import PublicKey, Signer, key_id_for
from raretrace.errors import ProofError, ValidationError
from raretrace.fields import Fields
from raretrace.jsontypes import JSONObject
from raretrace.log.checkpoint import Checkpoint, open_checkpoint
from raretrace.log.cosignature import parse_witness_key, verify_cosignature
from raretrace.log.note import parse_verifier_key, split_note
from raretrace.model import parse_country, parse_id
from raretrace.times import parse_time

DOCUMENT_TYPE = "raretrace-consortium"
SPEC_VERSION = "1"
ROLES = ("registry", "witness", "secretariat")
STATUSES = ("active", "suspended", "removed")


@dataclass(frozen=True)
class LogKey:
    """A checkpoint verifier key of a member's log, and when it stopped being the current one."""

    key: str
    since: str
    until: str | None = None


@dataclass(frozen=True)
class Member:
    id: str
    name: str
    country: str
    roles: tuple[str, ...]
    status: str
    origin: str | None
    endpoint: str | None
    log_keys: tuple[LogKey, ...] = ()
    witness_key: str | None = None

    @property
    def current_log_key(self) -> str | None:
        current = [k.key for k in self.log_keys if k.until is None]
        return current[0] if current else None


@dataclass(frozen=True)
class Consortium:
    """One version of the consortium file's ``signed`` part; built only through ``parse_signed``."""

    name: str
    version: int
    expires: str
    threshold: int
    signers: Mapping[str, str]  # key id -> base64 raw Ed25519 public key
    witness_quorum: int
    members: tuple[Member, ...] = field(default=())

    def member(self, member_id: str) -> Member:
        for m in self.members:
            if m.id == member_id:
                return m
        raise ValidationError(f"no member {member_id!r} in version {self.version}", field="id")

    def by_origin(self, origin: str) -> Member:
        for m in self.members:
            if m.origin == origin:
                return m
        raise ValidationError(f"no member runs log {origin!r} in version {self.version}", field="origin")

    def active(self, role: str) -> list[Member]:
        return [m for m in self.members if m.status == "active" and role in m.roles]

    def to_dict(self) -> JSONObject:
        return {
            "_type": DOCUMENT_TYPE,
            "spec_version": SPEC_VERSION,
            "consortium": self.name,
            "version": self.version,
            "expires": self.expires,
            "signers": {"threshold": self.threshold, "keys": dict(sorted(self.signers.items()))},
            "witness_quorum": self.witness_quorum,
            "members": [member_dict(m) for m in self.members],
        }


def member_dict(m: Member) -> JSONObject:
    out: JSONObject = {
        "id": m.id,
        "name": m.name,
        "country": m.country,
        "roles": list(m.roles),
        "status": m.status,
        "log_keys": [
            {"key": k.key, "since": k.since, **({"until": k.until} if k.until else {})} for k in m.log_keys
        ],
    }
    for name in ("origin", "endpoint", "witness_key"):
        if getattr(m, name) is not None:
            out[name] = getattr(m, name)
    return out


# --- reading ----------------------------------------------------------------------------------------


def _no_extra(f: Fields) -> None:
    extra = sorted(set(f.data) - f.read)
    if extra:
        raise f.error(extra[0], "is not a field of the consortium file")


def _signers(data: object) -> tuple[int, dict[str, str]]:
    f = Fields(data, "signers")
    threshold, keys = f.raw("threshold"), f.raw("keys")
    _no_extra(f)
    if not isinstance(keys, Mapping) or not keys:
        raise f.error("keys", "must map key ids to base64 Ed25519 public keys, at least one")
    out: dict[str, str] = {}
    for key_id, b64 in keys.items():
        public = PublicKey.from_b64(str(b64), field=f"signers.keys.{key_id}")
        if key_id_for(public.raw) != key_id:
            raise f.error(f"keys.{key_id}", "is not the SHA-256 key id of its public key")
        out[str(key_id)] = public.to_b64()
    if isinstance(threshold, bool) or not isinstance(threshold, int) or not 1 <= threshold <= len(out):
        raise f.error("threshold", f"must be an integer from 1 to the number of keys ({len(out)})")
    return threshold, out


def _member(data: object, where: str) -> Member:
    f = Fields(data, where)
    roles = f.strings("roles")
    for role in roles:
        if role not in ROLES:
            raise f.error("roles", f"{role!r} is not one of {', '.join(ROLES)}")
    origin = f.text("origin", None)
    keys: list[LogKey] = []
    for i, item in enumerate(f.items("log_keys")):
        k = Fields(item, f.field(f"log_keys[{i}]"))
        text = k.text("key")
        verifier = parse_verifier_key(text)
        if verifier.name != origin:
            raise k.error("key", f"is for log {verifier.name!r}, the member's origin is {origin!r}")
        until = k.raw("until", None)
        keys.append(
            LogKey(
                text,
                parse_time(k.raw("since"), k.field("since")),
                None if until is None else parse_time(until, k.field("until")),
            )
        )
        _no_extra(k)
    if "registry" in roles and (origin is None or sum(k.until is None for k in keys) != 1):
        raise f.error("log_keys", "a registry member has an origin and exactly one current log key")
    witness_key = f.text("witness_key", None)
    if witness_key is not None:
        parse_witness_key(witness_key)
    elif "witness" in roles:
        raise f.error("witness_key", "is required for a member with the witness role")
    member = Member(
        id=parse_id(f.raw("id"), f.field("id")),
        name=f.text("name"),
        country=parse_country(f.raw("country"), f.field("country")),
        roles=roles,
        status=f.choice("status", STATUSES),
        origin=origin,
        endpoint=f.text("endpoint", None),
        log_keys=tuple(keys),
        witness_key=witness_key,
    )
    _no_extra(f)
    return member


def parse_signed(data: object) -> Consortium:
    """The ``signed`` part of a consortium file, every field checked (errors name the field)."""
    f = Fields(data, "signed")
    if f.raw("_type") != DOCUMENT_TYPE or f.raw("spec_version") != SPEC_VERSION:
        raise f.error("_type", f"is not a {DOCUMENT_TYPE} file of spec version {SPEC_VERSION}")
    version = f.raw("version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise f.error("version", "must be an integer >= 1")
    threshold, signers = _signers(f.raw("signers"))
    members_data = f.raw("members")
    if not isinstance(members_data, list):
        raise f.error("members", "must be a list")
    members = tuple(_member(m, f"signed.members[{i}]") for i, m in enumerate(members_data))
    for what in ("id", "origin", "witness_key"):
        seen = [getattr(m, what) for m in members if getattr(m, what) is not None]
        if len(seen) != len(set(seen)):
            raise f.error("members", f"two members share one {what}")
    quorum = f.raw("witness_quorum")
    if isinstance(quorum, bool) or not isinstance(quorum, int) or quorum < 0:
        raise f.error("witness_quorum", "must be an integer >= 0")
    consortium = Consortium(
        name=parse_id(f.raw("consortium"), "signed.consortium"),
        version=version,
        expires=parse_time(f.raw("expires"), "signed.expires"),
        threshold=threshold,
        signers=signers,
        witness_quorum=quorum,
        members=members,
    )
    _no_extra(f)
    return consortium


# --- signing and verifying ------------------------------------------------------------------------


def signing_bytes(signed: Consortium) -> bytes:
    """The one serializer whose bytes are signed: RFC 8785 of the ``signed`` object."""
    return canonical_bytes(signed.to_dict())


def document(signed: Consortium, signatures: Sequence[Mapping[str, str]] = ()) -> JSONObject:
    return {"signed": signed.to_dict(), "signatures": [dict(s) for s in signatures]}


def _split(doc: object) -> tuple[Consortium, list[dict[str, str]]]:
    if not isinstance(doc, Mapping) or set(doc) != {"signed", "signatures"}:
        raise ValidationError("a consortium file is an object with 'signed' and 'signatures'", field="file")
    sigs = doc["signatures"]
    if not isinstance(sigs, list) or not all(
        isinstance(s, Mapping) and set(s) == {"keyid", "sig"} and all(isinstance(v, str) for v in s.values())
        for s in sigs
    ):
        raise ValidationError("each signature is {keyid, sig} (strings)", field="signatures")
    return parse_signed(doc["signed"]), [dict(s) for s in sigs]


def sign(doc: object, signer: Signer) -> JSONObject:
    """The file with ``signer``'s signature added (replacing an older one by the same key)."""
    signed, sigs = _split(doc)
    sig = base64.b64encode(signer.sign(signing_bytes(signed))).decode()
    kept = [s for s in sigs if s["keyid"] != signer.key_id]
    return document(signed, [*kept, {"keyid": signer.key_id, "sig": sig}])


def _valid_signers(
    signed: Consortium, sigs: Iterable[Mapping[str, str]], keys: Mapping[str, str]
) -> set[str]:
    message = signing_bytes(signed)
    good = set()
    for s in sigs:
        b64 = keys.get(s["keyid"])
        if b64 is None:
            continue
        try:
            raw = base64.b64decode(s["sig"], validate=True)
        except ValueError:
            continue
        if PublicKey.from_b64(b64).is_valid(raw, message):
            good.add(s["keyid"])
    return good


def _require(signed: Consortium, sigs: list[dict[str, str]], by: Consortium, what: str) -> None:
    good = _valid_signers(signed, sigs, by.signers)
    if len(good) < by.threshold:
        raise ProofError(
            f"version {signed.version} has {len(good)} valid signature(s) from {what} "
            f"(version {by.version}'s keys), {by.threshold} needed",
            field="signatures",
        )


def verify_root(doc: object) -> Consortium:
    """The first trusted version (handed over out of band): signed by a threshold of its own keys."""
    signed, sigs = _split(doc)
    _require(signed, sigs, signed, "its own signers")
    return signed


def verify_update(trusted: Consortium, doc: object) -> Consortium:
    """Steps: 1. same consortium, version one more; 2. a threshold of the trusted version's signers;
    3. a threshold of its own signers (TUF root rotation, section 5.3.4 of its specification)."""
    signed, sigs = _split(doc)
    if signed.name != trusted.name:
        raise ProofError(
            f"version is for consortium {signed.name!r}, not {trusted.name!r}", field="consortium"
        )
    if signed.version != trusted.version + 1:
        raise ProofError(
            f"version {signed.version} cannot follow version {trusted.version} (expected "
            f"{trusted.version + 1}): a rollback or a gap",
            field="version",
        )
    _require(signed, sigs, trusted, "the previous version's signers")
    _require(signed, sigs, signed, "its own signers")
    return signed


def verify_chain(docs: Sequence[object], trusted: Consortium | None = None, *, now: str) -> Consortium:
    """The newest version after walking ``docs`` in order from ``trusted`` (or from ``docs[0]``, a
    version 1 checked by its own signers); it must not have expired at ``now``."""
    if not docs:
        raise ValidationError("no consortium file given", field="files")
    current = trusted
    for i, doc in enumerate(docs):
        try:
            current = verify_root(doc) if current is None else verify_update(current, doc)
        except (ProofError, ValidationError) as e:
            raise e.within(f"file {i + 1}") from e
    assert current is not None
    if parse_time(now, "now") >= current.expires:
        raise ProofError(f"version {current.version} expired at {current.expires}", field="expires")
    return current


# --- changes: each one is the next version, unsigned ------------------------------------------------


def _next(changed: Consortium) -> Consortium:
    """``changed`` as the version after the one it was changed from."""
    out = dataclasses.replace(changed, version=changed.version + 1)
    return parse_signed(out.to_dict())  # every rule checked again on the new version


def create(
    name: str, signers: Sequence[bytes], threshold: int, expires: str, witness_quorum: int
) -> Consortium:
    keys = {key_id_for(k): PublicKey(k).to_b64() for k in signers}
    return parse_signed(Consortium(name, 1, expires, threshold, keys, witness_quorum).to_dict())


def add_member(c: Consortium, member: Mapping[str, object]) -> Consortium:
    new = _member(dict(member), "member")
    if any(m.id == new.id for m in c.members):
        raise ValidationError(f"member {new.id!r} is already in the consortium", field="id")
    return _next(dataclasses.replace(c, members=(*c.members, new)))


def _replace_member(c: Consortium, changed: Member) -> Consortium:
    c.member(changed.id)
    return _next(
        dataclasses.replace(c, members=tuple(changed if m.id == changed.id else m for m in c.members))
    )


def set_status(c: Consortium, member_id: str, status: str) -> Consortium:
    """Suspend (``suspended``), reinstate (``active``) or remove (``removed``) a member."""
    if status not in STATUSES:
        raise ValidationError(f"{status!r} is not one of {', '.join(STATUSES)}", field="status")
    if c.member(member_id).status == "removed":
        raise ValidationError(f"member {member_id!r} was removed; ids are never reused", field="id")
    return _replace_member(c, dataclasses.replace(c.member(member_id), status=status))


def rotate_keys(
    c: Consortium,
    member_id: str,
    *,
    log_key: str | None = None,
    at: str | None = None,
    witness_key: str | None = None,
) -> Consortium:
    """One new version with a member's log key and/or witness key replaced. A new log key is current
    from ``at``; the old one stays, marked ``until`` then, so checkpoints it signed still verify."""
    member = c.member(member_id)
    if log_key is None and witness_key is None:
        raise ValidationError("give a new log key, a new witness key or both", field="key")
    if log_key is not None:
        if at is None:
            raise ValidationError("a log key rotation needs the time it takes over", field="at")
        when = parse_time(at, "at")
        old = tuple(dataclasses.replace(k, until=when) if k.until is None else k for k in member.log_keys)
        member = dataclasses.replace(member, log_keys=(*old, LogKey(log_key.strip(), when)))
    if witness_key is not None:
        member = dataclasses.replace(member, witness_key=witness_key.strip())
    return _replace_member(c, member)


def set_signers(c: Consortium, signers: Sequence[bytes], threshold: int) -> Consortium:
    keys = {key_id_for(k): PublicKey(k).to_b64() for k in signers}
    return _next(dataclasses.replace(c, signers=keys, threshold=threshold))


# --- reading checkpoints with the membership --------------------------------------------------------


def open_member_checkpoint(c: Consortium, note: str) -> tuple[Member, Checkpoint]:
    """A checkpoint of a member's log, verified under any of that member's log keys (current or
    rotated): verification continues across a rotation."""
    origin = Checkpoint.parse(split_note(note)[0]).origin
    member = c.by_origin(origin)
    if member.status == "removed":
        raise ProofError(f"log {origin} belongs to removed member {member.id}", field="origin")
    errors = []
    for key in reversed(member.log_keys):
        try:
            return member, open_checkpoint(note, key.key)
        except ProofError as e:
            errors.append(e.message)
    raise ProofError(
        f"checkpoint of {origin} verifies under none of its keys: {errors[-1]}", field="checkpoint"
    )


def cosigners(c: Consortium, note: str) -> list[str]:
    """Active witness members, other than the log's own, whose cosignature on ``note`` verifies."""
    member, _ = open_member_checkpoint(c, note)
    text, lines = split_note(note)
    witnesses = {
        parse_witness_key(m.witness_key).name: m
        for m in c.active("witness")
        if m.witness_key is not None and m.id != member.id
    }
    found = set()
    for line in lines:
        name = line.removeprefix("\u2014 ").split(" ", 1)[0]
        w = witnesses.get(name)
        if w is None or w.witness_key is None:
            continue
        try:
            verify_cosignature(text, line, w.witness_key)
        except ProofError:
            continue
        found.add(w.id)
    return sorted(found)
