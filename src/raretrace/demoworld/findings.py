"""What the demo world shows, computed from the registry by the real checks (never from the build plan).

* the stage shares by country, measured from the recorded lots, against the published figures;
* case (a): the declared-origin fingerprint test on every assayed ore lot, and the consortium regime
  (with its fingerprint rule switched on by an amendment) on the fraudulent lot and on a magnet made
  downstream of it;
* case (b): MOFCOM No. 61 on the Vietnamese magnets, after and during the No. 70 suspension;
* case (c): DFARS 252.225-7052 for a military end use on the defense magnets and their F-35, on
  2026-12-31 and on 2027-01-01; and the same for every defense system of the world;
* case (d): offline verification of the certificate and of each altered copy.

``caught`` is true only when the check says what the case requires; if a check stops catching a case,
its finding says so (and the tests fail).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from raretrace.certify.verify import TrustedKeys, verify_certificate
from raretrace.demoworld.summary import (
    DFARS_BEFORE,
    DFARS_FROM,
    MOFCOM_AS_OF,
    MOFCOM_SUSPENDED_ON,
    WorldSummary,
)
from raretrace.ledger.compliance import check_lots, subjects
from raretrace.ledger.lineage import walk_edges
from raretrace.ledger.registry import Registry
from raretrace.ledger.stage_shares import stage_shares
from raretrace.rules import Regime, Verdict, load_regimes
from raretrace.rules.fields import RegimeFields
from raretrace.rules.verdict import Evidence, Finding, Outcome
from raretrace.world.data import WorldData

MOFCOM = "cn-mofcom-61-2025"
DFARS = "us-dfars-252.225-7052"


@dataclass(frozen=True)
class CaseFinding:
    case: str
    title: str
    caught: bool
    check: str  # what ran
    lots: tuple[str, ...]
    outcome: str
    explanation: str
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ShareCheck:
    stage: str
    country: str
    measured: float
    published: float
    tolerance_pp: float
    source: str

    @property
    def within(self) -> bool:
        return abs(self.measured - self.published) * 100 <= self.tolerance_pp


@dataclass(frozen=True)
class WorldFindings:
    cases: tuple[CaseFinding, ...]
    shares: tuple[ShareCheck, ...]
    stage_shares: dict[str, dict[str, float]]
    fingerprints: dict[str, str]  # assayed ore lot -> declared-origin status
    defense: dict[str, dict[str, int]]  # check date -> DFARS outcome -> defense systems

    def case(self, letter: str) -> CaseFinding:
        return next(c for c in self.cases if c.case == letter)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["shares"] = [asdict(s) | {"within": s.within} for s in self.shares]
        return out


def _share_checks(measured: dict[str, dict[str, float]]) -> tuple[ShareCheck, ...]:
    seed = WorldData.load().seed
    return tuple(
        ShareCheck(
            f.stage,
            f.country,
            measured.get(f.stage, {}).get(f.country, 0.0),
            f.share,
            seed.tolerance_pp,
            seed.source,
        )
        for f in seed.figures
    )


def _fingerprint_regime() -> Regime:
    """The consortium regime with its fingerprint rule on, as a secretariat would amend it."""
    amendment = {
        "amends": "consortium",
        "version": "1-demo",
        "parameters": {"fingerprint_required": True},
        "sources": [{"title": "demo world: the secretariat switches the fingerprint rule on"}],
    }
    return load_regimes()["consortium"].amended(RegimeFields(amendment, "demo amendment:"))


def _rule(verdict: Verdict, rule: str) -> Finding:
    """The verdict's finding for ``rule``; a regime not in force (or suspended) as a whole gives none,
    which reads as the rule not applying, with the verdict's own explanation."""
    found = next((f for f in verdict.findings if f.rule == rule), None)
    return found or Finding(rule, Outcome.NOT_APPLICABLE, verdict.explanation)


def _case_a(registry: Registry, summary: WorldSummary) -> tuple[CaseFinding, dict[str, str]]:
    case = summary.false_origin
    statuses = {
        s.lots[0]: next((r.fingerprint for r in s.raw_materials if r.lot == s.lots[0]), "unassayed")
        for s in subjects(registry, summary.assayed, with_raw_materials=True)
    }
    regime = _fingerprint_regime()
    [verdict] = check_lots(registry, [case.ore], regimes=[regime], as_of=MOFCOM_AS_OF)
    fingerprint = _rule(verdict, "fingerprint")
    with registry.engine.connect() as conn:
        _, reached = walk_edges(registry.store, conn, case.ore, up=False)
        downstream = registry.store.lots(conn, sorted(reached - {case.ore}))
    magnets = sorted(i for i, lot in downstream.items() if lot.spec.form.value == "magnet")
    downstream_fail = None
    if magnets:
        [later] = check_lots(registry, [magnets[0]], regimes=[regime], as_of=MOFCOM_AS_OF)
        downstream_fail = _rule(later, "fingerprint")
    flagged = sorted(lot for lot, status in statuses.items() if status == "inconsistent")
    honest = [lot for lot in statuses if lot != case.ore]
    false_alarms = [lot for lot in flagged if lot != case.ore]
    caught = statuses.get(case.ore) == "inconsistent" and fingerprint.outcome.value == "fail"
    return (
        CaseFinding(
            "a",
            f"Ore declared as {case.declared} with {case.actual} chemistry",
            caught,
            "declared-origin fingerprint test on the lab assay; consortium regime with fingerprint_required",
            (case.ore, *(magnets[:1])),
            statuses.get(case.ore, "unassayed"),
            fingerprint.explanation,
            {
                "declared": case.declared,
                "assay_event": case.assay_event,
                "consortium_fingerprint_rule": fingerprint.outcome.value,
                "downstream_lots": len(downstream),
                "downstream_magnets": len(magnets),
                "downstream_magnet_checked": magnets[0] if magnets else None,
                "downstream_magnet_fingerprint_rule": downstream_fail.outcome.value
                if downstream_fail
                else None,
                "honest_assays": len(honest),
                "honest_assays_flagged": len(false_alarms),
                "flagged": flagged,
            },
        ),
        statuses,
    )


def _case_b(registry: Registry, summary: WorldSummary) -> CaseFinding:
    case = summary.chinese_technology
    [now] = check_lots(registry, [case.magnet], regimes=[MOFCOM], as_of=MOFCOM_AS_OF)
    [suspended] = check_lots(registry, [case.magnet], regimes=[MOFCOM], as_of=MOFCOM_SUSPENDED_ON)
    technology = _rule(now, "chinese-technology")
    content = _rule(now, "chinese-content-by-value")
    caught = now.outcome.value == "licence_required" and technology.outcome.value == "licence_required"
    return CaseFinding(
        "b",
        "Magnets made in Vietnam with Chinese technology, from non-Chinese oxide",
        caught,
        f"{MOFCOM} on {MOFCOM_AS_OF} (and on {MOFCOM_SUSPENDED_ON}, inside the No. 70 suspension)",
        (case.magnet,),
        now.outcome.value,
        technology.explanation,
        {
            "chinese_technology_rule": technology.outcome.value,
            "chinese_content_rule": content.outcome.value,
            "during_suspension": suspended.outcome.value,
            "evidence": _evidence(technology.evidence),
        },
    )


def _evidence(items: Iterable[Evidence]) -> list[dict[str, object]]:
    """Each item as a verdict's JSON writes it (``render.jsonable``): the members that are set."""
    return [
        {"lots": list(item.lots), **{k: v for k, v in asdict(item).items() if v is not None and k != "lots"}}
        for item in items
    ]


def _case_c(registry: Registry, summary: WorldSummary) -> CaseFinding:
    case = summary.defense_magnet
    lots = [case.magnet, *([case.system] if case.system else [])]
    before = check_lots(registry, lots, regimes=[DFARS], as_of=DFARS_BEFORE, end_use="military")
    after = check_lots(registry, lots, regimes=[DFARS], as_of=DFARS_FROM, end_use="military")
    rule = _rule(after[0], "any-stage-from-2027")
    caught = (
        all(v.outcome.value in ("pass", "not_applicable") for v in before)
        and all(v.outcome.value == "fail" for v in after)
        and any(e.stage == "separation" and e.country == "CN" for e in rule.evidence)
    )
    return CaseFinding(
        "c",
        "Defense magnets from Chinese-separated oxide (metal in Japan, magnets in the US), into an F-35",
        caught,
        f"{DFARS}, military end use, on {DFARS_BEFORE} and on {DFARS_FROM}",
        tuple(lots),
        f"{before[0].outcome.value} on {DFARS_BEFORE}, {after[0].outcome.value} on {DFARS_FROM}",
        after[0].explanation,
        {
            "before": {v.subject[0]: v.outcome.value for v in before},
            "from_2027": {v.subject[0]: v.outcome.value for v in after},
            "evidence": _evidence(e for e in rule.evidence if e.country == "CN"),
        },
    )


def _case_d(summary: WorldSummary) -> CaseFinding:
    case = summary.certificate
    trusted = TrustedKeys.from_dict(case.trusted_keys)
    genuine = verify_certificate(case.certificate, trusted)
    results: dict[str, dict[str, Any]] = {}
    for name, presentation in case.tampered.items():
        failed = verify_certificate(presentation, trusted).failed()
        results[name] = {
            "altered": case.what[name],
            "failed_step": failed.number if failed else None,
            "step_name": failed.name if failed else None,
            "detail": failed.detail if failed else "verification passed",
            "expected_step": case.expected_step[name],
        }
    caught = genuine.ok and all(r["failed_step"] == r["expected_step"] for r in results.values())
    number = case.certificate["credential"]["credentialSubject"].get("certificateNumber", "")
    return CaseFinding(
        "d",
        "The defense magnets' shipment certificate, altered in transit",
        caught,
        "offline verification (certify/verify.py, eight steps) of the certificate and each altered copy",
        (),
        "; ".join(f"{n}: step {r['failed_step']} ({r['step_name']}) failed" for n, r in results.items()),
        "the genuine certificate verifies"
        if genuine.ok
        else f"the genuine certificate fails: {genuine.failed()}",
        {
            "certificate": number,
            "transfer": case.transfer,
            "genuine_ok": genuine.ok,
            "tampered": results,
            "files": case.files,
        },
    )


def _defense_overview(registry: Registry, summary: WorldSummary) -> dict[str, dict[str, int]]:
    out = {}
    for day in (DFARS_BEFORE, DFARS_FROM):
        verdicts = check_lots(
            registry, summary.military_systems, regimes=[DFARS], as_of=day, end_use="military"
        )
        out[day.isoformat()] = dict(Counter(v.outcome.value for v in verdicts))
    return out


def findings(registry: Registry, summary: WorldSummary) -> WorldFindings:
    """Run the checks on the world ``build_world`` recorded and say what each case shows."""
    measured = stage_shares(registry)
    case_a, statuses = _case_a(registry, summary)
    return WorldFindings(
        cases=(case_a, _case_b(registry, summary), _case_c(registry, summary), _case_d(summary)),
        shares=_share_checks(measured),
        stage_shares=measured,
        fingerprints=statuses,
        defense=_defense_overview(registry, summary) if summary.military_systems else {},
    )
