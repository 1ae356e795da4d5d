"""Response models of the read routes, so the OpenAPI document says what each answer holds (and the
schema fuzzing checks every answer against it). Fields that are ``hidden`` for some callers are
documented as such (docs/security.md)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from raretrace.ledger.lot_details import LotInput
from raretrace.ledger.search import LotHit
from raretrace.store.listings import FacilityListing


class Me(BaseModel):
    id: str | None = Field(description="The participant id; null for the public")
    name: str | None = None
    role: str
    facilities: list[str]


class LotRow(BaseModel):
    id: str
    form: str
    mass_kg: float
    remaining_kg: float | None = Field(description="null when the caller no longer holds the lot")
    custodian: str = Field(description='"hidden" when the caller neither holds nor is receiving the lot')
    in_transit_to: str | None = Field(description='"hidden" as for the custodian')
    producer: str
    stage: str


class LotPage(BaseModel):
    lots: list[LotRow]
    limit: int
    offset: int
    after: str | None = None
    next_after: str | None = Field(default=None, description="Pass as `after` for the next page")


class CertificateSummary(BaseModel):
    id: str
    number: str
    lots: list[str] = Field(description="Lots the caller may not see appear as hidden-N")
    transfer_event: str | None
    issued_at: str
    valid_until: str
    revoked_at: str | None
    revocation_reason: str | None
    credential: dict[str, object] | None = Field(
        default=None, description="The signed credential; null when it names lots the caller may not see"
    )
    credential_withheld: str | None = None


class LotCertificates(BaseModel):
    certificates: list[CertificateSummary]


class Facilities(BaseModel):
    facilities: list[FacilityListing] = Field(description="each registered facility, by id")


# --- lot show (GET /api/v1/lots/{id}) -------------------------------------------------------------

HIDDEN_CUSTODY = '"hidden" when the caller neither holds nor is receiving the lot'


class DeclaredValue(BaseModel):
    amount: float
    currency: str | None


class LotRecord(BaseModel):
    """A lot as ``Lot.to_dict`` writes it."""

    id: str
    form: str
    mass_kg: float
    composition: dict[str, float] = Field(description="mass fraction of each component")
    units: int | None = Field(default=None, description="present for assembled products")
    declared_value: DeclaredValue | None = Field(default=None, description="present when declared")
    custodian: str = Field(description=HIDDEN_CUSTODY)
    remaining_kg: float | None = Field(description="null when the caller no longer holds the lot")
    producer: str
    stage: str
    produced_seq: int
    created_time: str
    in_transit_to: str | None = Field(description=HIDDEN_CUSTODY)
    deposit: str | None
    void: bool
    origin: dict[str, dict[str, object]] = Field(
        description="per element: location and technology (stage → country → share); joint paths if recorded"
    )


class ValueShares(BaseModel):
    """``pricing.value_shares``: per stage, the share of the priced rare-earth value by country."""

    location: dict[str, dict[str, float]]
    technology: dict[str, dict[str, float]]
    priced_value_usd: float
    unpriced: list[str]
    price_table: str = Field(description="where the prices came from")


class LotShipmentOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    event_index: int
    sender: str = Field(alias="from")
    to: str
    received_event_index: int | None = Field(description="null while the lot is in transit")


class AssayOut(BaseModel):
    """An assay: its leaf index and lab, and the measurement's own fields (method, results, …)."""

    model_config = ConfigDict(extra="allow")

    event_index: int
    lab: str


class LotDetailsOut(BaseModel):
    """``lot show``: the answer of ``Registry.lot_details`` as the caller may see it."""

    lot: LotRecord
    origin_by_value: ValueShares
    inputs: list[LotInput] = Field(description="Inputs the caller may not see appear as hidden-N")
    transfers: list[LotShipmentOut] = Field(description="Only the shipments the caller sent or received")
    assays: list[AssayOut]


# --- trace (GET /api/v1/lots/{id}/trace) ----------------------------------------------------------


class TraceLot(BaseModel):
    """What a trace shows of a lot; a lot the caller may not see keeps only form, mass and stage."""

    form: str
    mass_kg: float
    stage: str
    producer: str | None = None
    deposit: str | None = None
    custodian: str | None = Field(default=None, description=HIDDEN_CUSTODY)
    hidden: bool | None = Field(default=None, description="true for a placeholder (hidden-…-N)")


class TraceEdge(BaseModel):
    child: str
    parent: str
    mass_kg: float
    event_index: int


class TracePath(BaseModel):
    lots: list[str]
    input_kg: list[float]
    share: float


class TraceSource(TraceLot):
    lot: str
    share: float
    path_count: int
    element_shares: dict[str, float] | None = None
    paths: list[TracePath]


class Trace(BaseModel):
    """Lineage up to the sources (``direction`` up) or down to everything made from the lot (down)."""

    lot: str
    direction: str
    lots: dict[str, TraceLot]
    sources: list[TraceSource] | None = Field(default=None, description="up only")
    path_count: int | None = Field(default=None, description="up only")
    paths_listed: int | None = Field(default=None, description="up only")
    paths_truncated: bool | None = Field(default=None, description="up only")
    max_paths: int | None = Field(default=None, description="up only")
    share_basis: str | None = Field(default=None, description="up, when shares per element were computed")
    untraced_by_element: dict[str, float] | None = None
    edges: list[TraceEdge] | None = None
    reached: list[str] | None = Field(default=None, description="down only")
    end_items: list[str] | None = Field(default=None, description="down only")
    hidden_lots: int | None = Field(default=None, description="lots shown as placeholders (operators)")


# --- compliance (POST /api/v1/check, GET /api/v1/regimes) ------------------------------------------


class EvidenceOut(BaseModel):
    lots: list[str]
    share: float
    element: str | None = None
    stage: str | None = None
    country: str | None = None
    note: str | None = None


class FindingOut(BaseModel):
    rule: str
    outcome: str
    explanation: str
    figures: dict[str, object]
    evidence: list[EvidenceOut]


class VerdictOut(BaseModel):
    """A ``rules.verdict.Verdict`` as ``render.jsonable`` writes it."""

    regime: str
    version: str
    title: str
    subject: list[str]
    as_of: str
    end_use: str | None
    assertions: list[str]
    outcome: str = Field(description="pass, fail, licence_required, …")
    decided_by: list[str]
    explanation: str
    notices: list[str]
    findings: list[FindingOut]
    sources: list[str]


class Verdicts(BaseModel):
    verdicts: list[VerdictOut]


class RegimeSuspension(BaseModel):
    window: str
    source: str
    rules: list[str]


class RegimeRule(BaseModel):
    id: str
    title: str
    in_force: str


class RegimeOut(BaseModel):
    """``rules.regime.Regime.describe``."""

    id: str
    title: str
    version: str
    authority: str
    in_force: str
    suspensions: list[RegimeSuspension]
    rules: list[RegimeRule]
    notices: list[str]
    sources: list[str]
    parameters: dict[str, object]
    file: str


class Regimes(BaseModel):
    regimes: list[RegimeOut]


# --- search (GET /api/v1/search/lots) --------------------------------------------------------------


class FacetCount(BaseModel):
    value: str
    count: int


class SearchAnswer(BaseModel):
    """A ``ledger.search.SearchResult`` (``render.jsonable``): a page of hits, the total, the facets."""

    filters: dict[str, str | list[str]] = Field(description="the filters as given, empty ones left out")
    sort: str
    total: int
    limit: int | None = Field(description="null for a download of every match")
    offset: int
    lots: list[LotHit] = Field(description="verdict present when a verdict filter was given")
    facets: dict[str, list[FacetCount]]
