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

from pathlib import Path
from typing import Any

from rich.console import Console

from raretrace.elements import oxide_to_element
from raretrace.errors import ValidationError
from raretrace.ledger.audit import audit
from raretrace.ledger.logview import latest_checkpoint
from raretrace.ledger.registry import Registry
from raretrace.ledger.scripted import ScriptedChain, lot
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


def build_demo(registry: Registry) -> dict[str, Any]:
    """Register the facilities and record both chains; returns the lot ids worth looking at."""
    chain = ScriptedChain(registry, time="2026-03-02T08:00:00Z")
    batch = [
        chain.facility_event(
            "US-MP-MOUNTAIN-PASS",
            name="Mountain Pass mine and separation plant",
            operator="MP Materials",
            country="US",
            stages=["mining", "beneficiation", "separation"],
        ),
        chain.facility_event(
            "US-MP-INDEPENDENCE",
            name="Independence metal and magnet plant, Fort Worth",
            operator="MP Materials",
            country="US",
            stages=["metallization", "magnet"],
        ),
        chain.facility_event(
            "CN-BAOGANG-BAYAN-OBO",
            name="Bayan Obo mine",
            operator="Baotou Steel",
            country="CN",
            stages=["mining", "beneficiation"],
        ),
        chain.facility_event(
            "CN-NORTHERN-RE-BAOTOU",
            name="Baotou separation and metal plant",
            operator="China Northern Rare Earth",
            country="CN",
            stages=["separation", "metallization"],
        ),
        chain.facility_event(
            "JP-MAGNET-WORKS",
            name="Sintered NdFeB magnet plant",
            operator="Japanese magnet maker",
            country="JP",
            stages=["magnet"],
        ),
        chain.facility_event(
            "US-LAB-ASSAY",
            name="Independent assay laboratory",
            operator="Assay lab",
            country="US",
            stages=["assay"],
            accreditation="ISO/IEC 17025:2017",
        ),
    ]
    registry.append(batch)

    # --- US chain: Mountain Pass -> Fort Worth --------------------------------------------------
    mp = "US-MP-MOUNTAIN-PASS"
    ore, conc, oxide = _urn("mp-ore-2026-0001"), _urn("mp-conc-2026-0001"), _urn("mp-ndpr-oxide-2026-0001")
    lace = _urn("mp-lace-2026-0001")
    ore_comp = element_fractions(MOUNTAIN_PASS_REO, 0.08)
    chain.record(
        mp,
        "extract",
        deposit="Mountain Pass (bastnäsite carbonatite)",
        outputs=[lot(ore, "ore", 1_000_000.0, ore_comp)],
    )
    conc_comp = element_fractions(MOUNTAIN_PASS_REO, 0.60)
    chain.record(
        mp,
        "process",
        stage="beneficiation",
        inputs=[{"lot": ore, "mass_kg": 1_000_000.0}],
        outputs=[lot(conc, "concentrate", 120_000.0, conc_comp)],
    )
    reo_kg = 120_000.0 * 0.60 * 0.95  # 95% separation recovery
    ndpr_kg = reo_kg * (MOUNTAIN_PASS_REO["Nd"] + MOUNTAIN_PASS_REO["Pr"]) / sum(MOUNTAIN_PASS_REO.values())
    nd_share = MOUNTAIN_PASS_REO["Nd"] / (MOUNTAIN_PASS_REO["Nd"] + MOUNTAIN_PASS_REO["Pr"])
    lace_comp = element_fractions({"La": 33.2, "Ce": 49.1}, 1.0)
    chain.record(
        mp,
        "process",
        stage="separation",
        inputs=[{"lot": conc, "mass_kg": 120_000.0}],
        outputs=[
            lot(oxide, "separated_oxide", round(ndpr_kg, 1), ndpr_oxide(nd_share)),
            lot(lace, "mixed_oxide", round(reo_kg * 0.80, 1), lace_comp),
        ],
    )
    chain.record(
        "US-LAB-ASSAY",
        "assay",
        lot=ore,
        method="ICP-MS (REE), MC-ICP-MS (Nd isotopes)",
        results={"units": "ppm", "La": 56_000, "Ce": 81_000, "Nd": 20_500, "Pr": 7_100, "epsilon_Nd": -29.0},
    )
    chain.ship(mp, "US-MP-INDEPENDENCE", [oxide], hs_code="2846.90", value_usd=round(ndpr_kg * 60.0))
    fw = "US-MP-INDEPENDENCE"
    metal, magnet = _urn("mp-ndpr-metal-2026-0001"), _urn("mp-ndfeb-2026-0001")
    metal_kg = round(ndpr_kg * 0.98 * sum(ndpr_oxide(nd_share).values()), 1)
    chain.record(
        fw,
        "process",
        stage="metallization",
        inputs=[{"lot": oxide, "mass_kg": round(ndpr_kg, 1)}],
        outputs=[lot(metal, "metal", metal_kg, {"Nd": round(nd_share, 4), "Pr": round(1 - nd_share, 4)})],
    )
    chain.record(
        fw,
        "process",
        stage="magnet",
        inputs=[{"lot": metal, "mass_kg": 3_000.0}],
        additions=[
            {"material": "electrolytic iron", "mass_kg": 6_700.0, "composition": {"Fe": 1.0}},
            {"material": "ferroboron", "mass_kg": 550.0, "composition": {"B": 0.18, "Fe": 0.82}},
        ],
        outputs=[
            lot(
                magnet,
                "magnet",
                10_000.0,
                {
                    "Nd": round(0.30 * nd_share, 4),
                    "Pr": round(0.30 * (1 - nd_share), 4),
                    "Fe": 0.69,
                    "B": 0.0099,
                },
                units=200_000,
            )
        ],
    )

    # --- China -> Japan: Bayan Obo -> Baotou -> Japan -------------------------------------------
    bo, bt, jp = "CN-BAOGANG-BAYAN-OBO", "CN-NORTHERN-RE-BAOTOU", "JP-MAGNET-WORKS"
    cn_ore, cn_conc = _urn("bo-ore-2026-0001"), _urn("bo-conc-2026-0001")
    cn_oxide, cn_metal, jp_magnet = (
        _urn("bt-ndpr-oxide-2026-0001"),
        _urn("bt-ndpr-metal-2026-0001"),
        _urn("jp-ndfeb-2026-0001"),
    )
    chain.record(
        bo,
        "extract",
        deposit="Bayan Obo (carbonatite-related Fe-REE-Nb)",
        outputs=[lot(cn_ore, "ore", 1_000_000.0, element_fractions(BAYAN_OBO_REO, 0.06))],
    )
    chain.record(
        bo,
        "process",
        stage="beneficiation",
        inputs=[{"lot": cn_ore, "mass_kg": 1_000_000.0}],
        outputs=[lot(cn_conc, "concentrate", 100_000.0, element_fractions(BAYAN_OBO_REO, 0.50))],
    )
    chain.ship(bo, bt, [cn_conc], hs_code="2530.90")
    cn_reo = 100_000.0 * 0.50 * 0.95
    cn_ndpr = cn_reo * (BAYAN_OBO_REO["Nd"] + BAYAN_OBO_REO["Pr"]) / sum(BAYAN_OBO_REO.values())
    cn_nd = BAYAN_OBO_REO["Nd"] / (BAYAN_OBO_REO["Nd"] + BAYAN_OBO_REO["Pr"])
    chain.record(
        bt,
        "process",
        stage="separation",
        inputs=[{"lot": cn_conc, "mass_kg": 100_000.0}],
        outputs=[lot(cn_oxide, "separated_oxide", round(cn_ndpr, 1), ndpr_oxide(cn_nd))],
    )
    cn_metal_kg = round(cn_ndpr * 0.98 * sum(ndpr_oxide(cn_nd).values()), 1)
    chain.record(
        bt,
        "process",
        stage="metallization",
        inputs=[{"lot": cn_oxide, "mass_kg": round(cn_ndpr, 1)}],
        outputs=[lot(cn_metal, "metal", cn_metal_kg, {"Nd": round(cn_nd, 4), "Pr": round(1 - cn_nd, 4)})],
    )
    chain.ship(bt, jp, [cn_metal], hs_code="2805.30")
    chain.record(
        jp,
        "process",
        stage="magnet",
        inputs=[{"lot": cn_metal, "mass_kg": 3_000.0}],
        additions=[
            {"material": "electrolytic iron", "mass_kg": 6_700.0, "composition": {"Fe": 1.0}},
            {"material": "ferroboron", "mass_kg": 550.0, "composition": {"B": 0.18, "Fe": 0.82}},
        ],
        outputs=[
            lot(
                jp_magnet,
                "magnet",
                10_000.0,
                {"Nd": round(0.30 * cn_nd, 4), "Pr": round(0.30 * (1 - cn_nd), 4), "Fe": 0.69, "B": 0.0099},
                units=200_000,
            )
        ],
    )
    return {"us_magnet": magnet, "jp_magnet": jp_magnet, "us_ore": ore, "cn_ore": cn_ore}


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
    }
    if console is not None:
        _print(console, registry, lots, result.ok, checkpoint)
    return summary


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
