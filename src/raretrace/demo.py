"""``raretrace demo``: a small, realistic chain signed and recorded step by step.

Two chains, as the industry runs them today:
* US: Mountain Pass (MP Materials) bastnäsite ore → concentrate → NdPr oxide, shipped to MP's
  Independence plant in Fort Worth for metal and NdFeB magnets;
* China → Japan: Bayan Obo ore → concentrate → separation and NdPr metal in Baotou, shipped to a
  Japanese sintered-magnet maker.
Every step is an event signed by the acting facility's own key and appended through the normal
pipeline; the figures used are cited in ``SOURCES``. Masses are one illustrative production lot,
not annual output.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from rich.console import Console

from raretrace.elements import oxide_to_element
from raretrace.errors import ValidationError
from raretrace.ledger.audit import audit
from raretrace.ledger.compliance import check_lots, today
from raretrace.ledger.logview import latest_checkpoint
from raretrace.ledger.registry import Registry
from raretrace.ledger.scripted import ScriptedChain, lot
from raretrace.provenance import ordered
from raretrace.store.db import make_engine, resolve_url

ORIGIN = "demo.raretrace.example/registry"

SOURCES = {
    "mountain_pass_reo": "Castor & Hedrick 2006 (Industrial Minerals and Rocks), Mountain Pass bastnäsite "
    "REO distribution, via shared/reference/deposits.md Table 1",
    "bayan_obo_reo": "Castor & Hedrick 2006, Bayan Obo bastnäsite+monazite REO distribution, via "
    "shared/reference/deposits.md Table 1",
    "mp_capacity": "MP Materials SEC exhibit 99.1, 2025-01-22 (Mountain Pass; Independence, Fort Worth), via "
    "shared/reference/world.md",
    "grades": "illustrative ore grades (Mountain Pass ≈8% REO, Bayan Obo ≈6% REO) and process recoveries; "
    "not measured values",
}

#: % of total REO (oxide basis), Castor & Hedrick 2006 as listed in shared/reference/deposits.md.
MOUNTAIN_PASS_REO = {
    "La": 33.2,
    "Ce": 49.1,
    "Pr": 4.34,
    "Nd": 12.0,
    "Sm": 0.789,
    "Eu": 0.118,
    "Gd": 0.166,
    "Tb": 0.0159,
    "Dy": 0.0312,
    "Y": 0.0913,
}
BAYAN_OBO_REO = {
    "La": 23.0,
    "Ce": 50.0,
    "Pr": 6.2,
    "Nd": 18.5,
    "Sm": 0.8,
    "Eu": 0.2,
    "Gd": 0.7,
    "Tb": 0.1,
    "Dy": 0.1,
}


def element_fractions(reo_distribution: dict[str, float], reo_grade: float) -> dict[str, float]:
    """Element mass fractions of a material holding ``reo_grade`` REO with the given distribution."""
    total = sum(reo_distribution.values())
    return {
        el: round(reo_grade * pct / total * oxide_to_element(el, 1.0), 8)
        for el, pct in reo_distribution.items()
    }


def ndpr_oxide(nd_share: float) -> dict[str, float]:
    """An NdPr oxide of the given Nd2O3 share (the rest Pr6O11), as element fractions."""
    return {
        "Nd": round(nd_share * oxide_to_element("Nd", 1.0), 6),
        "Pr": round((1 - nd_share) * oxide_to_element("Pr", 1.0), 6),
    }


def _urn(name: str) -> str:
    return f"urn:raretrace:lot:{name}"


@dataclass(frozen=True)
class ChainPlan:
    """One mine-to-magnet chain: who performs each stage, and the ore it starts from."""

    prefix: str
    deposit: str
    reo_distribution: dict[str, float]
    ore_grade: float  # REO mass fraction of the ore
    concentrate_grade: float
    mine: str  # mining and beneficiation
    separator: str
    metal_maker: str
    magnet_maker: str
    hs_codes: dict[str, str]  # form shipped -> HS code


US_CHAIN = ChainPlan(
    "mp",
    "Mountain Pass (bastnäsite carbonatite)",
    MOUNTAIN_PASS_REO,
    0.08,
    0.60,
    "US-MP-MOUNTAIN-PASS",
    "US-MP-MOUNTAIN-PASS",
    "US-MP-INDEPENDENCE",
    "US-MP-INDEPENDENCE",
    {"separated_oxide": "2846.90"},
)
CN_JP_CHAIN = ChainPlan(
    "bo",
    "Bayan Obo (carbonatite-related Fe-REE-Nb)",
    BAYAN_OBO_REO,
    0.06,
    0.50,
    "CN-BAOGANG-BAYAN-OBO",
    "CN-NORTHERN-RE-BAOTOU",
    "CN-NORTHERN-RE-BAOTOU",
    "JP-MAGNET-WORKS",
    {"concentrate": "2530.90", "metal": "2805.30"},
)

#: Per tonne of magnet: 30% NdPr metal, the rest iron and ferroboron (typical sintered NdFeB).
MAGNET_ADDITIONS = [
    {"material": "electrolytic iron", "mass_kg": 6_700.0, "composition": {"Fe": 1.0}},
    {"material": "ferroboron", "mass_kg": 550.0, "composition": {"B": 0.18, "Fe": 0.82}},
]


def record_chain(chain: ScriptedChain, plan: ChainPlan) -> dict[str, str]:
    """Extract, beneficiate, separate, metallize and make magnets, shipping whenever custody changes."""
    holder = plan.mine
    ids = {
        name: _urn(f"{plan.prefix}-{name}-2026-0001") for name in ("ore", "conc", "oxide", "metal", "magnet")
    }

    def move_to(facility: str, lot_id: str, form: str) -> None:
        nonlocal holder
        if facility != holder:
            chain.ship(holder, facility, [lot_id], hs_code=plan.hs_codes.get(form, ""))
            holder = facility

    dist = plan.reo_distribution
    chain.record(
        plan.mine,
        "extract",
        deposit=plan.deposit,
        outputs=[lot(ids["ore"], "ore", 1_000_000.0, element_fractions(dist, plan.ore_grade))],
    )
    conc_kg = round(1_000_000.0 * plan.ore_grade * 0.9 / plan.concentrate_grade, 1)  # 90% recovery
    chain.record(
        plan.mine,
        "process",
        stage="beneficiation",
        inputs=[{"lot": ids["ore"], "mass_kg": 1_000_000.0}],
        outputs=[lot(ids["conc"], "concentrate", conc_kg, element_fractions(dist, plan.concentrate_grade))],
    )
    move_to(plan.separator, ids["conc"], "concentrate")
    reo_kg = conc_kg * plan.concentrate_grade * 0.95  # 95% separation recovery
    ndpr_kg = round(reo_kg * (dist["Nd"] + dist["Pr"]) / sum(dist.values()), 1)
    nd_share = dist["Nd"] / (dist["Nd"] + dist["Pr"])
    chain.record(
        plan.separator,
        "process",
        stage="separation",
        inputs=[{"lot": ids["conc"], "mass_kg": conc_kg}],
        outputs=[lot(ids["oxide"], "separated_oxide", ndpr_kg, ndpr_oxide(nd_share))],
    )
    move_to(plan.metal_maker, ids["oxide"], "separated_oxide")
    metal_kg = round(ndpr_kg * 0.98 * sum(ndpr_oxide(nd_share).values()), 1)
    metal_comp = {"Nd": round(nd_share, 4), "Pr": round(1 - nd_share, 4)}
    chain.record(
        plan.metal_maker,
        "process",
        stage="metallization",
        inputs=[{"lot": ids["oxide"], "mass_kg": ndpr_kg}],
        outputs=[lot(ids["metal"], "metal", metal_kg, metal_comp)],
    )
    move_to(plan.magnet_maker, ids["metal"], "metal")
    magnet_comp = {
        "Nd": round(0.30 * nd_share, 4),
        "Pr": round(0.30 * (1 - nd_share), 4),
        "Fe": 0.69,
        "B": 0.0099,
    }
    chain.record(
        plan.magnet_maker,
        "process",
        stage="magnet",
        inputs=[{"lot": ids["metal"], "mass_kg": 3_000.0}],
        additions=MAGNET_ADDITIONS,
        outputs=[lot(ids["magnet"], "magnet", 10_000.0, magnet_comp, units=200_000)],
    )
    return ids


def build_demo(registry: Registry) -> dict[str, Any]:
    """Register the facilities and record both chains; returns the lot ids worth looking at."""
    chain = ScriptedChain(registry, time="2026-03-02T08:00:00Z")
    registry.append([chain.facility_event(fid, **spec) for fid, spec in FACILITIES.items()])
    us = record_chain(chain, US_CHAIN)
    chain.record(
        "US-LAB-ASSAY",
        "assay",
        lot=us["ore"],
        method="ICP-MS (REE), MC-ICP-MS (Nd isotopes)",
        results={"units": "ppm", "La": 56_000, "Ce": 81_000, "Nd": 20_500, "Pr": 7_100},
    )
    cn = record_chain(chain, CN_JP_CHAIN)
    return {"us_magnet": us["magnet"], "jp_magnet": cn["magnet"], "us_ore": us["ore"], "cn_ore": cn["ore"]}


FACILITIES: dict[str, dict[str, Any]] = {
    "US-MP-MOUNTAIN-PASS": {
        "name": "Mountain Pass mine and separation plant",
        "operator": "MP Materials",
        "country": "US",
        "stages": ["mining", "beneficiation", "separation"],
    },
    "US-MP-INDEPENDENCE": {
        "name": "Independence metal and magnet plant, Fort Worth",
        "operator": "MP Materials",
        "country": "US",
        "stages": ["metallization", "magnet"],
    },
    "CN-BAOGANG-BAYAN-OBO": {
        "name": "Bayan Obo mine",
        "operator": "Baotou Steel",
        "country": "CN",
        "stages": ["mining", "beneficiation"],
    },
    "CN-NORTHERN-RE-BAOTOU": {
        "name": "Baotou separation and metal plant",
        "operator": "China Northern Rare Earth",
        "country": "CN",
        "stages": ["separation", "metallization"],
    },
    "JP-MAGNET-WORKS": {
        "name": "Sintered NdFeB magnet plant",
        "operator": "Japanese magnet maker",
        "country": "JP",
        "stages": ["magnet"],
    },
    "US-LAB-ASSAY": {
        "name": "Independent assay laboratory",
        "operator": "Assay lab",
        "country": "US",
        "stages": ["assay"],
        "accreditation": "ISO/IEC 17025:2017",
    },
}


def run_demo(db: str, console: Console | None) -> dict[str, Any]:
    """Build the demo registry in ``db`` (a fresh file is required) and summarize it."""
    url = resolve_url(db)
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        if path.exists():
            if path.name != "raretrace-demo.db":
                raise ValidationError(
                    f"{path} already exists; the demo builds a fresh registry (pick a new path)", field="db"
                )
            for suffix in ("", "-wal", "-shm"):
                Path(str(path) + suffix).unlink(missing_ok=True)
    registry = Registry.init(make_engine(db), ORIGIN)
    lots = build_demo(registry)
    folder = (
        Path(url.removeprefix("sqlite:///")).with_suffix("")
        if url.startswith("sqlite:///")
        else Path("raretrace-demo")
    )
    certificates = issue_shipment_certificates(registry, folder.with_name(folder.name + "-certificates"))
    result = audit(registry)
    checkpoint = latest_checkpoint(registry)
    summary = {
        "db": db,
        "origin": registry.origin,
        "tree_size": registry.tree_size(),
        "lots": lots,
        "audit_ok": result.ok,
        "checkpoint": checkpoint,
        "sources": SOURCES,
        "compliance": [v.to_dict() for v in check_lots(registry, [lots["us_magnet"], lots["jp_magnet"]])],
        "certificates": certificates,
    }
    if console is not None:
        _print(console, registry, lots, result.ok, checkpoint)
        _print_certificates(console, certificates)
    return summary


def issue_shipment_certificates(registry: Registry, folder: Path) -> dict[str, Any]:
    """A certificate for every shipment in the demo, written with the trusted-keys file and the status
    list a customs officer needs, and each verified offline as the officer would."""
    from sqlalchemy import select

    from raretrace.certify.render import render_html, render_pdf
    from raretrace.certify.verify import TrustedKeys, verify_certificate
    from raretrace.ledger.certificates import issue, status_list, trusted_keys
    from raretrace.store import schema as t

    folder.mkdir(parents=True, exist_ok=True)
    with registry.engine.connect() as conn:
        transfers = (
            conn.execute(
                select(t.events.c.event_id).where(t.events.c.kind == "transfer").order_by(t.events.c.seq)
            )
            .scalars()
            .all()
        )
    keys = trusted_keys(registry)
    _write_json(folder / "trusted-keys.json", keys)
    trusted = TrustedKeys.from_dict(keys)
    issued = []
    for transfer in transfers:
        presentation = issue(registry, transfer=transfer)
        number = presentation["credential"]["credentialSubject"]["certificateNumber"]
        path = folder / f"{number}.json"
        _write_json(path, presentation)
        path.with_suffix(".html").write_text(render_html(presentation), encoding="utf-8")
        path.with_suffix(".pdf").write_bytes(render_pdf(presentation))
        report = verify_certificate(presentation, trusted)
        issued.append({"number": number, "transfer": transfer, "file": str(path), "verified": report.ok})
    _write_json(folder / "status-list.json", status_list(registry))
    return {"folder": str(folder), "issued": issued}


def _write_json(path: Path, value: Any) -> None:
    import json

    path.write_text(json.dumps(value, indent=2) + "\n", encoding="utf-8")


def _print_certificates(console: Console, certificates: dict[str, Any]) -> None:
    folder = certificates["folder"]
    console.print(
        f"shipment certificates (W3C VC 2.0, eddsa-jcs-2022) in {folder}/:", soft_wrap=True, highlight=False
    )
    for item in certificates["issued"]:
        state = "[green]verified offline[/green]" if item["verified"] else "[red]FAILED verification[/red]"
        console.print(
            f"  {item['number']}  shipment {item['transfer']}  {state}", soft_wrap=True, highlight=False
        )
    first = certificates["issued"][0]["file"] if certificates["issued"] else "CERT.json"
    console.print(
        f"verify one: raretrace verify {first} --trusted-keys {folder}/trusted-keys.json "
        f"--status-list {folder}/status-list.json",
        soft_wrap=True,
        highlight=False,
    )


def _print_compliance(console: Console, registry: Registry, magnets: list[str]) -> None:
    """The magnets under every shipped regime today, explained; then, for a defense buyer, on
    2027-01-01 when DFARS reaches back to the mine. EU CRMA judges the two lots together as one
    importer's intake."""
    from raretrace.views import print_verdicts

    console.print()
    print_verdicts(console, check_lots(registry, magnets, as_of=today()))
    console.print()
    later = max(today(), date(2027, 1, 1))
    verdicts = check_lots(registry, magnets, as_of=later, end_use="military")
    print_verdicts(console, verdicts, title=f"for a military end use, on {later}", explain=False)
    console.print()


def _print(
    console: Console, registry: Registry, lots: dict[str, str], audit_ok: bool, checkpoint: str
) -> None:
    console.print(
        f"[bold]raretrace demo[/bold]: registry {registry.origin} in {registry.engine.url}", soft_wrap=True
    )
    labels = {"us_ore": "US ore", "us_magnet": "US magnets", "cn_ore": "CN ore", "jp_magnet": "JP magnets"}
    for key, label in labels.items():
        item = registry.lot(lots[key])
        console.print(f"  {label:<11} {item.id}", soft_wrap=True, highlight=False)
        console.print(
            f"  {'':<11} {item.spec.form.value}, {item.spec.mass_kg:,.0f} kg, made by {item.producer} "
            f"({item.stage.value}), held by {item.custodian}",
            soft_wrap=True,
            highlight=False,
        )
        neodymium = ordered(item.origin()).get("Nd")
        if neodymium and item.spec.form.value == "magnet":
            where = "; ".join(
                f"{stage} " + ", ".join(f"{c} {share:.0%}" for c, share in shares.items())
                for stage, shares in neodymium["location"].items()
            )
            console.print(f"  {'':<11} Nd, stage by stage: {where}", soft_wrap=True, highlight=False)
    _print_compliance(console, registry, [lots["us_magnet"], lots["jp_magnet"]])
    console.print(
        f"{registry.tree_size()} signed events in the log; audit "
        + ("[green]passed[/green]" if audit_ok else "[red]FAILED[/red]")
    )
    console.print("latest checkpoint (C2SP signed note):")
    console.print(checkpoint, highlight=False, markup=False, end="", soft_wrap=True)
    console.print(
        f"next: raretrace --db {registry.engine.url.database} lot show {lots['us_magnet']}",
        soft_wrap=True,
        highlight=False,
    )
