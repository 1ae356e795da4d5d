"""What a certificate page shows, and its QR code: the view both renderings (HTML, PDF) draw.

A shipment certificate for people: one printable page (HTML or PDF) with a QR code (DESIGN §1).

Everything is rendered from the document the holder's disclosures reveal (``disclosure.reveal``): a
field the holder withheld is shown as "hidden by the holder", and the page says how many are hidden.
Rendering proves nothing — a page can be forged; the signed certificate file is what ``raretrace verify``
checks offline — so the page names the certificate, carries the digest of the signed credential in its
QR code and tells the reader how to verify. Pure: the functions return ``str``/``bytes``; the only file
read is the package's own HTML template.

The QR payload (``qr_payload``) is::

    https://<log>/certificates/<credential id, percent-encoded>#sha256=<digest>

``<log>`` is ``credentialSubject.logEvidence.log`` (the issuing registry's log origin, e.g.
``demo.raretrace.example/registry``), or ``issuer.name`` when the credential has no log evidence.
``<digest>`` is base64url without padding of SHA-256 over the RFC 8785 (JCS) canonical bytes of the
signed credential exactly as the presentation carries it: with its ``_sd`` digests and its ``proof``,
before any disclosure is applied. Every holder's presentation of one certificate therefore has the same
payload, whatever it hides, and a phone that fetches the certificate from the URL can check it is the one
printed. The digest sits in the fragment, so it is never sent to the server.
"""

from __future__ import annotations

import base64
import hashlib
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import quote

import pycountry
import segno

from raretrace.certify.disclosure import ARRAY_KEY, SD_ALG_KEY, SD_KEY, digest, parse_disclosure, reveal
from raretrace.certify.verify import load_presentation
from raretrace.crypto.canonical import canonical_bytes
from raretrace.errors import RaretraceError
from raretrace.jsontypes import JSONObject, JSONValue
from raretrace.log.note import split_note
from raretrace.model import Stage

VERIFY_COMMAND = "raretrace verify CERT --trusted-keys FILE"
HIDDEN = "hidden by the holder"
NOT_STATED = "not stated"
MIXED = "mixed — see origin by stage"
OUTCOMES = {
    "pass": "PASS",
    "fail": "FAIL",
    "licence_required": "LICENCE REQUIRED",
    "insufficient_data": "INSUFFICIENT DATA",
    "not_applicable": "NOT APPLICABLE",
}
OUTCOME_RGB = {
    "pass": (27, 127, 59),
    "fail": (179, 38, 30),
    "licence_required": (194, 94, 0),
    "insufficient_data": (138, 109, 0),
    "not_applicable": (107, 111, 116),
}
FINGERPRINT_STATUS = {
    "unassayed": "unassayed: no assay on record",
    "unchecked": "assayed; consistency with the declared origin not yet checked",
}
#: The concealable members (``credential.CONCEALABLE``) of each object the page shows, and whether the
#: issuer always states them.
PARTIES = {"exporter": False, "importer": False}
SHIPMENT_SECRETS = {"massKg": True, "valueUsd": False}
LOT_SECRETS = {"massKg": True, "declaredValueUsd": False}
Path = tuple[str | int, ...]


# The view: display strings only (the templates escape them; ``qr.svg`` is segno's markup) ------------------
@dataclass(frozen=True)
class PartyView:
    role: str
    shown: bool
    absent: str = ""  # why the party is not shown (``shown`` False)
    name: str = ""
    operator: str = ""
    country: str = ""
    id: str = ""


@dataclass(frozen=True)
class ShipmentView:
    hs_code: str
    parcels: str
    mass: str
    mass_hidden: bool
    value: str
    value_hidden: bool
    origin: str
    transfer: str


@dataclass(frozen=True)
class LotView:
    id: str
    form: str
    mass: str
    mass_hidden: bool
    composition: str
    units: str
    value: str
    value_hidden: bool


@dataclass(frozen=True)
class OriginCell:
    location: str
    technology: str  # "" where the technology came from where the stage was done


@dataclass(frozen=True)
class OriginRow:
    lot: str
    elements: str
    cells: tuple[OriginCell, ...]


@dataclass(frozen=True)
class VerdictView:
    regime: str
    version: str
    outcome: str
    label: str
    css: str
    explanation: str
    as_of: str
    end_use: str


@dataclass(frozen=True)
class FingerprintView:
    lot: str
    form: str
    status: str


@dataclass(frozen=True)
class EvidenceView:
    log: str
    tree_size: str
    events: int
    kinds: str
    envelopes: str
    signatures: str


@dataclass(frozen=True)
class QrView:
    payload: str
    svg: str  # markup: segno's SVG, path data and a fixed title only


@dataclass(frozen=True)
class CertificateView:
    title: str
    statement: str
    number: str
    credential_id: str
    issuer_did: str
    authority: str
    issued: str
    expires: str
    status_url: str
    hidden: int
    hidden_text: str
    parties: tuple[PartyView, ...]
    shipment: ShipmentView
    lots: tuple[LotView, ...]
    stages: tuple[str, ...]
    origin_rows: tuple[OriginRow, ...]
    verdicts: tuple[VerdictView, ...]
    fingerprints: tuple[FingerprintView, ...]
    evidence: EvidenceView
    qr: QrView
    verify_command: str


def _object(value: object) -> JSONObject:
    """A member that should be an object, or {} (the page shows what is there)."""
    return value if isinstance(value, dict) else {}


def _objects(value: object) -> list[JSONObject]:
    """The objects of a member that should be an array of objects (anything else is left out)."""
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


# QR -----------------------------------------------------------------------------------------------------
def qr_payload(presentation: Mapping[str, object]) -> str:
    """What a phone needs to find and check the certificate (see the module docstring)."""
    credential = _object(load_presentation(dict(presentation))["credential"])
    subject = credential.get("credentialSubject")
    evidence = subject.get("logEvidence") if isinstance(subject, dict) else None
    log = evidence.get("log") if isinstance(evidence, dict) else None
    if not isinstance(log, str) or not log:
        issuer = credential.get("issuer")
        log = issuer.get("name") if isinstance(issuer, dict) else None
    host = quote(str(log or "unknown-issuer"), safe="/:@")
    number = quote(str(credential.get("id", "")), safe="")
    fingerprint = base64.urlsafe_b64encode(hashlib.sha256(canonical_bytes(credential)).digest())
    return f"https://{host}/certificates/{number}#sha256={fingerprint.rstrip(b'=').decode('ascii')}"


def qr_code(payload: str) -> segno.QRCode:
    """The QR code both renderings print (error correction M or better, never a Micro QR)."""
    return segno.make(payload, error="m", micro=False)


# The view: the revealed certificate, formatted once for both renderings -----------------------------------
def _undisclosed(signed: JSONObject, disclosures: list[str]) -> dict[Path, int]:
    """For each object of the shown document (by its path there), how many of its members stay hidden."""
    known = {digest(text): parse_disclosure(text) for text in disclosures}
    out: dict[Path, int] = {}

    def walk(value: JSONValue, path: Path) -> None:
        if isinstance(value, dict):
            listed = value.get(SD_KEY, [])
            commitments = [d for d in listed if isinstance(d, str)] if isinstance(listed, list) else []
            missing = sum(1 for d in commitments if d not in known)
            if missing:
                out[path] = missing
            for key, item in value.items():
                if key not in (SD_KEY, SD_ALG_KEY):
                    walk(item, (*path, key))
            for d in commitments:
                name, item = known.get(d, (None, None))
                if name is not None:
                    walk(item, (*path, name))
        elif isinstance(value, list):
            shown = 0
            for item in value:
                if isinstance(item, dict) and set(item) == {ARRAY_KEY}:
                    committed = item[ARRAY_KEY]
                    if not isinstance(committed, str) or committed not in known:
                        continue
                    walk(known[committed][1], (*path, shown))
                else:
                    walk(item, (*path, shown))
                shown += 1

    walk(signed, ())
    return out


def _absent(
    undisclosed: Mapping[Path, int],
    path: Path,
    present: Mapping[str, object],
    key: str,
    secrets: Mapping[str, bool],
    missing: str,
) -> str:
    """Why the concealable member ``key`` of the object at ``path`` is not shown.

    The digests are salted, so which name stands behind which undisclosed digest is unknowable; but the
    issuer always states some members (``secrets[name]`` is True: ``credential.credential`` always
    writes the masses), so an absent one of those is certainly hidden, and only the digests left over
    can stand for optional members. With none left the issuer did not state it (``missing``); with too
    few for every absent optional member, it may be either.
    """
    hidden = undisclosed.get(path, 0)
    if not hidden:
        return missing
    if secrets.get(key, False):
        return HIDDEN
    left = hidden - sum(1 for name, always in secrets.items() if always and name not in present)
    optional = sum(1 for name, always in secrets.items() if not always and name not in present)
    if left <= 0:
        return missing
    return HIDDEN if left >= optional else f"{HIDDEN} or {missing}"


def _value(
    obj: Mapping[str, JSONValue],
    key: str,
    path: Path,
    undisclosed: Mapping[Path, int],
    secrets: Mapping[str, bool],
    missing: str,
    fmt: Callable[[JSONValue], str],
) -> tuple[str, bool]:
    """A concealable member formatted, or why it is absent; and whether it is (maybe) hidden."""
    if key in obj:
        return fmt(obj[key]), False
    text = _absent(undisclosed, path, obj, key, secrets, missing)
    return text, text.startswith(HIDDEN)


def _number(value: object, decimals: int = 3) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    text = f"{value:,.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _money(value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    return f"{value:,.2f}"


def _percent(share: object) -> str:
    if isinstance(share, bool) or not isinstance(share, int | float):
        return str(share)
    if 0 < share < 0.001:
        return "<0.1%"
    return f"{_number(share * 100, 1)}%"


def _rank(kv: tuple[str, JSONValue]) -> float:
    share = kv[1]
    return -share if isinstance(share, int | float) else 0


def _shares(shares: object) -> str:
    if not isinstance(shares, dict) or not shares:
        return "—"
    ranked = sorted(shares.items(), key=_rank)
    return ", ".join(f"{country} {_percent(share)}" for country, share in ranked)


def _country(code: object) -> str:
    found = pycountry.countries.get(alpha_2=code) if isinstance(code, str) and len(code) == 2 else None
    if found is None:
        return str(code)
    return f"{getattr(found, 'common_name', None) or found.name} ({code})"


def _party(role: str, subject: JSONObject, undisclosed: Mapping[Path, int]) -> PartyView:
    value = subject.get(role.lower())
    if not isinstance(value, dict):
        why = _absent(undisclosed, ("credentialSubject",), subject, role.lower(), PARTIES, NOT_STATED)
        return PartyView(role, False, why)
    return PartyView(
        role,
        True,
        name=str(value.get("name", "")),
        operator=str(value.get("operator", "")),
        country=_country(value.get("country")),
        id=str(value.get("id", "")),
    )


def _lot(lot: JSONObject, path: Path, undisclosed: Mapping[Path, int]) -> LotView:
    composition = lot.get("composition")
    mass, mass_hidden = _value(lot, "massKg", path, undisclosed, LOT_SECRETS, NOT_STATED, _number)
    value, value_hidden = _value(
        lot, "declaredValueUsd", path, undisclosed, LOT_SECRETS, "not declared", _money
    )
    return LotView(
        id=str(lot.get("id", "")),
        form=str(lot.get("form", "")),
        mass=mass,
        mass_hidden=mass_hidden,
        composition=", ".join(f"{e} {_percent(f)}" for e, f in composition.items())
        if isinstance(composition, dict)
        else "—",
        units=_number(lot["units"]) if "units" in lot else "—",
        value=value,
        value_hidden=value_hidden,
    )


def _elements(lot: JSONObject) -> dict[str, JSONObject]:
    origin = lot.get("origin")
    if not isinstance(origin, dict):
        return {}
    return {str(k): v for k, v in origin.items() if isinstance(v, dict)}


def _origin(lots: Sequence[JSONObject]) -> tuple[list[str], list[OriginRow]]:
    """The stages any lot went through (chain order) and one row per lot and group of elements whose
    origins are identical (Nd and Pr separated together share a row)."""
    order = {stage.value: i for i, stage in enumerate(Stage)}
    seen: set[str] = set()
    for lot in lots:
        for element in _elements(lot).values():
            for dimension in ("location", "technology"):
                seen.update(_object(element.get(dimension)))
    stages = sorted(seen, key=lambda s: (order.get(s, len(order)), s))
    rows: list[OriginRow] = []
    for lot in lots:
        groups: dict[tuple[tuple[str, str], ...], list[str]] = {}
        for name, element in _elements(lot).items():
            location, technology = _object(element.get("location")), _object(element.get("technology"))
            cells = tuple(
                (
                    _shares(location.get(stage)),
                    _shares(technology.get(stage)) if technology.get(stage) != location.get(stage) else "",
                )
                for stage in stages
            )
            groups.setdefault(cells, []).append(str(name))
        rows.extend(
            OriginRow(
                str(lot.get("id", "")),
                ", ".join(names),
                tuple(OriginCell(loc, tech) for loc, tech in cells),
            )
            for cells, names in groups.items()
        )
    return stages, rows


def _evidence(evidence: object, undisclosed: Mapping[Path, int]) -> EvidenceView:
    if not isinstance(evidence, dict):
        return EvidenceView(log="none", tree_size="—", events=0, kinds="none", envelopes="", signatures="—")
    events = _objects(evidence.get("events"))
    kinds = Counter(str(e.get("kind", "event")) for e in events)
    shown = sum(1 for e in events if "envelope" in e)
    hidden = sum(
        n for path, n in undisclosed.items() if path[:3] == ("credentialSubject", "logEvidence", "events")
    )
    envelopes = f"{shown} event envelope(s) shown" + (f", {hidden} {HIDDEN}" if hidden else "")
    try:
        _, lines = split_note(str(evidence.get("checkpoint", "")))
        names = [line.removeprefix("— ").split(" ", 1)[0] for line in lines]
        own = sum(1 for n in names if n == evidence.get("log"))
        signatures = (
            f"{own} by the log, {len(names) - own} witness cosignature(s) (checked by raretrace verify)"
        )
    except RaretraceError:
        signatures = "unreadable checkpoint"
    return EvidenceView(
        log=str(evidence.get("log", "")),
        tree_size=_number(evidence.get("treeSize", "—")),
        events=len(events),
        kinds=", ".join(f"{n} {kind.replace('_', ' ')}" for kind, n in sorted(kinds.items())) or "none",
        envelopes=envelopes,
        signatures=signatures,
    )


def certificate_view(presentation: Mapping[str, object]) -> CertificateView:
    """The revealed certificate as display strings, shared by the HTML and the PDF renderings.

    Raises ``ValidationError`` when a disclosure matches no digest of the signed credential: a page
    must never show a value the issuer did not sign.
    """
    loaded = load_presentation(dict(presentation))
    signed = {k: v for k, v in _object(loaded["credential"]).items() if k != "proof"}
    listed = loaded.get("disclosures")
    disclosures = [str(d) for d in listed] if isinstance(listed, list) else []
    shown, hidden = reveal(signed, disclosures)
    undisclosed = _undisclosed(signed, disclosures)
    subject = _object(shown.get("credentialSubject"))
    shipment = _object(subject.get("shipment"))
    lots = _objects(shipment.get("lots"))
    at = ("credentialSubject", "shipment")
    authority = _object(subject.get("issuingAuthority"))
    stages, origin_rows = _origin(lots)
    issuer = shown.get("issuer")
    payload = qr_payload(loaded)
    svg = qr_code(payload).svg_inline(scale=4, omitsize=True, title="certificate QR code")
    return CertificateView(
        title=str(subject.get("title") or shown.get("name") or "Shipment certificate"),
        statement=str(subject.get("statement", "")),
        number=str(subject.get("certificateNumber", "")),
        credential_id=str(shown.get("id", "")),
        issuer_did=str(issuer.get("id", "") if isinstance(issuer, dict) else issuer or ""),
        authority=str(authority.get("name", ""))
        + (f", {_country(authority['country'])}" if authority.get("country") else ""),
        issued=str(subject.get("dateOfIssue", str(shown.get("validFrom", ""))[:10])),
        expires=str(subject.get("dateOfExpiry", str(shown.get("validUntil", ""))[:10])),
        status_url=str(_object(shown.get("credentialStatus")).get("statusListCredential", "")),
        hidden=hidden,
        hidden_text=f"{hidden} field(s) of this certificate are {HIDDEN}; their salted digests are "
        "still signed."
        if hidden
        else "Every field of this certificate is shown.",
        parties=(_party("Exporter", subject, undisclosed), _party("Importer", subject, undisclosed)),
        shipment=_shipment(shipment, len(lots), undisclosed),
        lots=tuple(_lot(lot, (*at, "lots", i), undisclosed) for i, lot in enumerate(lots)),
        stages=tuple(stages),
        origin_rows=tuple(origin_rows),
        verdicts=tuple(_verdict(v) for v in _objects(subject.get("compliance"))),
        fingerprints=tuple(_fingerprint(f) for f in _objects(subject.get("fingerprint"))),
        evidence=_evidence(subject.get("logEvidence"), undisclosed),
        qr=QrView(payload, svg),
        verify_command=VERIFY_COMMAND,
    )


def _shipment(shipment: JSONObject, parcels: int, undisclosed: Mapping[Path, int]) -> ShipmentView:
    at = ("credentialSubject", "shipment")
    mass, mass_hidden = _value(shipment, "massKg", at, undisclosed, SHIPMENT_SECRETS, NOT_STATED, _number)
    value, value_hidden = _value(
        shipment, "valueUsd", at, undisclosed, SHIPMENT_SECRETS, "not declared for every lot", _money
    )
    return ShipmentView(
        hs_code=str(shipment.get("hsCode", NOT_STATED)),
        parcels=_number(shipment.get("parcels", parcels)),
        mass=mass,
        mass_hidden=mass_hidden,
        value=value,
        value_hidden=value_hidden,
        origin=_country(shipment["countryOfOrigin"]) if shipment.get("countryOfOrigin") else MIXED,
        transfer=str(shipment.get("transferEvent", "—")),
    )


def _verdict(v: JSONObject) -> VerdictView:
    outcome = v.get("outcome")
    return VerdictView(
        regime=str(v.get("regime", "")),
        version=str(v.get("version", "")),
        outcome=str(v.get("outcome", "")),
        label=OUTCOMES.get(str(outcome), str(v.get("outcome", "")).replace("_", " ").upper()),
        css=outcome if isinstance(outcome, str) and outcome in OUTCOMES else "unknown",
        explanation=str(v.get("explanation", "")),
        as_of=str(v.get("asOf") or ""),
        end_use=str(v.get("endUse") or "not stated"),
    )


def _fingerprint(f: JSONObject) -> FingerprintView:
    return FingerprintView(
        lot=str(f.get("lot", "")),
        form=str(f.get("form", "")),
        status="; ".join(
            [FINGERPRINT_STATUS.get(str(f.get("status")), str(f.get("status", "")))]
            + [f"{k}: {val}" for k, val in f.items() if k not in ("lot", "form", "status")]
        ),
    )
