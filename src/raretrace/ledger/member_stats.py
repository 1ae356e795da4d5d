"""Signed monthly statistics of a member, and their reconciliation between two members.

Why signed: a member's figures are only worth comparing if nobody can alter them on the way and the
member cannot later deny them. Each month a registry signs its statistics (``ledger.federation
.statistics``: production, every certified export, every confirmed import) with its log key, as a
DSSE envelope over an in-toto Statement whose predicate carries the figures plus a summary per
partner country, form of material and element (mass, value, number of certificates), the
breakdown the Kimberley Process Certification Scheme's statistics use (per partner, per product
code, by carats and value; here the form of material stands for the product code). Any member checks
the envelope against the log keys the consortium file lists for the signer's origin (rotated keys
included), then reconciles certificate by certificate (``certify.reconcile``), which names every
mismatch: a shipment exported but not confirmed, confirmed but never issued, or confirmed with other
parcels, masses per element or value; and form by form, where the totals of the certificates not
named must agree, so every difference between the two members' figures is explained by a named
certificate.
"""

from __future__ import annotations

import calendar
import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date

from raretrace.certify.reconcile import REL_TOLERANCE, reconcile
from raretrace.crypto.canonical import canonical_bytes
from raretrace.crypto.dsse import parse_envelope, sign_statement
from raretrace.crypto.keys import PublicKey
from raretrace.crypto.multikey import did_key
from raretrace.errors import ProofError, ValidationError
from raretrace.jsontypes import JSONObject, JSONValue
from raretrace.ledger.consortium import Consortium, Member
from raretrace.ledger.federation import statistics
from raretrace.ledger.registry import Registry
from raretrace.log.note import parse_verifier_key

PREDICATE_TYPE = "https://raretrace.dev/consortium/monthly-statistics/v1"
STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
_MONTH = re.compile(r"(\d{4})-(0[1-9]|1[0-2])")


def month_range(month: str) -> tuple[date, date]:
    """``YYYY-MM`` -> its first and last day."""
    match = _MONTH.fullmatch(month)
    if match is None:
        raise ValidationError(f"{month!r} is not a month (YYYY-MM)", field="month")
    year, number = int(match.group(1)), int(match.group(2))
    return date(year, number, 1), date(year, number, calendar.monthrange(year, number)[1])


def _object(value: object) -> Mapping[str, object]:
    return value if isinstance(value, Mapping) else {}


def _records(value: object) -> list[Mapping[str, object]]:
    return [_object(item) for item in value] if isinstance(value, list) else []


def _float(value: object) -> float:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0


@dataclass
class _Tally:
    """Running totals of one summary row."""

    certificates: int = 0
    mass_kg: float = 0.0
    value_usd: float | None = 0.0
    element_kg: dict[str, float] = field(default_factory=dict)

    def add(self, figures: Mapping[str, object]) -> None:
        self.certificates += 1
        self.mass_kg += _float(figures.get("mass_kg"))
        value = figures.get("value_usd")
        # one undeclared value makes the total unknown, not smaller
        self.value_usd = None if self.value_usd is None or value is None else self.value_usd + _float(value)
        for element, kg in _object(figures.get("element_kg")).items():
            self.element_kg[element] = self.element_kg.get(element, 0.0) + _float(kg)

    def json(self) -> JSONObject:
        elements: JSONObject = dict(sorted(self.element_kg.items()))
        return {
            "certificates": self.certificates,
            "mass_kg": self.mass_kg,
            "value_usd": self.value_usd,
            "element_kg": elements,
        }


def _summary(items: Iterable[Mapping[str, object]], partner_key: str) -> list[JSONValue]:
    """One row per partner country and form: certificates carrying that form, mass, value, kg per element."""
    rows: dict[tuple[str, str], _Tally] = {}
    for item in items:
        partner = str(item.get(partner_key) or "undisclosed")
        for form, figures in _object(item.get("by_form")).items():
            rows.setdefault((partner, form), _Tally()).add(_object(figures))
    return [{"partner": p, "form": f, **rows[p, f].json()} for p, f in sorted(rows)]


def monthly_statistics(registry: Registry, month: str) -> JSONObject:
    """The registry's statistics for ``month`` with a summary per partner, form and element."""
    start, end = month_range(month)
    stats = statistics(registry, start, end)
    return {
        **stats,
        "month": month,
        "summary": {
            "exports": _summary(_records(stats["exports"]), "importer_country"),
            "imports": _summary(_records(stats["imports"]), "exporter_country"),
        },
    }


def sign_monthly(registry: Registry, month: str) -> bytes:
    """The month's statistics as a DSSE envelope signed with the registry's log key."""
    predicate = monthly_statistics(registry, month)
    digest = hashlib.sha256(canonical_bytes(predicate)).hexdigest()
    statement: JSONObject = {
        "_type": STATEMENT_TYPE,
        "subject": [{"name": f"statistics:{registry.origin}:{month}", "digest": {"sha256": digest}}],
        "predicateType": PREDICATE_TYPE,
        "predicate": predicate,
    }
    return sign_statement(statement, [registry.signer])


def open_monthly(consortium: Consortium, raw: bytes) -> tuple[Member, Mapping[str, object]]:
    """Steps: 1. a DSSE in-toto statement of monthly statistics; 2. the member whose origin it names;
    3. signed by one of that member's log keys (current or rotated); 4. the subject digest matches."""
    envelope = parse_envelope(raw)
    statement = envelope.statement()
    if statement["predicateType"] != PREDICATE_TYPE:
        raise ValidationError(f"is not {PREDICATE_TYPE}", field="payload.predicateType")
    predicate = _object(statement["predicate"])
    origin = predicate.get("registry")
    if not isinstance(origin, str):
        raise ValidationError("names no registry", field="predicate.registry")
    member = consortium.by_origin(origin)
    keys = [PublicKey(parse_verifier_key(k.key).public_key) for k in member.log_keys]
    if not any(k.is_valid(s.sig, envelope.signing_bytes) for k in keys for s in envelope.signatures):
        raise ProofError(
            f"the statistics are not signed by a log key of member {member.id}", field="signatures"
        )
    digest = hashlib.sha256(canonical_bytes(predicate)).hexdigest()
    subjects = _records(statement["subject"])
    if not any(_object(s.get("digest")).get("sha256") == digest for s in subjects):
        raise ProofError("the subject digest is not that of the statistics", field="payload.subject")
    return member, predicate


@dataclass(frozen=True)
class FormBalance:
    """One form of material between two members: both totals, the certificates that explain their
    difference, and whether the certificates not named agree (``unexplained`` is then False)."""

    form: str
    exporter_kg: float
    importer_kg: float
    explained_by: tuple[str, ...]
    unexplained: bool


@dataclass(frozen=True)
class Reconciliation:
    month: str
    exporter: str
    importer: str
    certificates: int
    agree: bool
    findings: tuple[Mapping[str, object], ...]
    by_form: tuple[FormBalance, ...]


def _form_totals(items: Iterable[Mapping[str, object]], skip: set[str]) -> dict[str, float]:
    out: dict[str, float] = {}
    for item in items:
        if str(item.get("certificate")) in skip:
            continue
        for form, figures in _object(item.get("by_form")).items():
            out[form] = out.get(form, 0.0) + _float(_object(figures).get("mass_kg"))
    return out


def _balances(
    shipped: list[Mapping[str, object]], received: list[Mapping[str, object]], named: set[str]
) -> tuple[FormBalance, ...]:
    """Per form: all certificates' totals on each side, and the totals without the named ones."""
    full_out, full_in = _form_totals(shipped, set()), _form_totals(received, set())
    rest_out, rest_in = _form_totals(shipped, named), _form_totals(received, named)
    out = []
    for form in sorted(set(full_out) | set(full_in)):
        a, b = rest_out.get(form, 0.0), rest_in.get(form, 0.0)
        carrying = {
            str(item.get("certificate"))
            for item in (*shipped, *received)
            if form in _object(item.get("by_form")) and str(item.get("certificate")) in named
        }
        out.append(
            FormBalance(
                form,
                full_out.get(form, 0.0),
                full_in.get(form, 0.0),
                tuple(sorted(carrying)),
                abs(a - b) > REL_TOLERANCE * max(1.0, abs(a), abs(b)),
            )
        )
    return tuple(out)


def reconcile_signed(consortium: Consortium, exporter: bytes, importer: bytes) -> Reconciliation:
    """Both members' signed statistics checked, then every mismatch of the exporter's shipments to
    the importer's registry named (certificate, field, both figures), and the totals by form balanced."""
    ex_member, ex = open_monthly(consortium, exporter)
    im_member, im = open_monthly(consortium, importer)
    if ex.get("month") != im.get("month"):
        raise ValidationError(f"months differ: {ex.get('month')} and {im.get('month')}", field="month")
    # the exporter's shipments to the importer's country (a member is one country's registry)
    shipped = [e for e in _records(ex.get("exports")) if e.get("importer_country") == im_member.country]
    # certificates the exporter issued under any of its log keys (a rotation changes its did:key)
    issuers = {did_key(parse_verifier_key(k.key).public_key) for k in ex_member.log_keys}
    received = [i for i in _records(im.get("imports")) if i.get("issuer") in issuers]
    # certify.reconcile pairs imports by the exporter's one issuer id: give them that id
    as_one = [{**i, "issuer": ex.get("issuer")} for i in received]
    findings = reconcile({**ex, "exports": shipped}, {**im, "imports": as_one})
    balances = _balances(shipped, received, {str(f.get("certificate")) for f in findings})
    return Reconciliation(
        month=str(ex.get("month")),
        exporter=ex_member.id,
        importer=im_member.id,
        certificates=len(shipped),
        agree=not findings and not any(b.unexplained for b in balances),
        findings=tuple(findings),
        by_form=balances,
    )
