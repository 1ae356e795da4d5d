"""The four cases a user must be able to catch, planted in the world as real participants would record them.

(a) ore declared as Mount Weld's whose lab assay has Bayan Obo chemistry (a fictitious trader);
(b) magnets made in Vietnam from Lynas oxide with Chinese metal and magnet technology (MOFCOM No. 61);
(c) defense magnets from Chinese-separated oxide, metal made in Japan, magnets in the US, into an F-35
    (DFARS 252.225-7052 from 2027);
(d) the shipment certificate of (c)'s magnets, altered in transit.

Each is recorded with signed events through the same pipeline as the rest of the world; nothing here
decides whether a check catches it (``findings`` runs the checks).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from raretrace.demoworld import chemistry as chem
from raretrace.demoworld.flows import Flows, Held
from raretrace.fingerprint import default_model, load_library
from raretrace.fingerprint.library import REY
from raretrace.fingerprint.simulate import Noise, simulate_deposit
from raretrace.ledger.certificates import issue, trusted_keys
from raretrace.ledger.registry import Registry

FRAUD_TRADER = "AU-DEMO-TRADER"
FRAUD_DECLARED = "mount-weld"
FRAUD_ACTUAL = "bayan-obo"
FRAUD_ORE_KG = 2_500_000.0  # illustrative: one month's claimed output
CASE_B_PLANT = "VN-CN-TECH-MAGNETS"
CASE_B_MIXED_KG = 30_000.0  # of Lynas mixed carbonate, separated for the Vietnamese plant
CASE_C_CONCENTRATE_KG = 40_000.0  # of Bayan Obo concentrate, separated in Baotou for the defense line
CASE_C_METAL = "JP-METAL-ALLOY"
CASE_C_MAGNETS = "US-DEFENSE-MAGNETS"
DEFENSE_COMPONENTS = "US-DEFENSE-ACTUATORS"
LABS = {"AU": "AU-ASSAY-LAB"}
DEFAULT_LAB = "US-ASSAY-LAB"
ASSAY_METHOD = "lithium-borate fusion ICP-MS (REE)"


def lab_assay(deposit_id: str, rng: np.random.Generator, form: str = "ore") -> dict[str, Any]:
    """An ICP-MS assay of material from a library deposit, drawn with the fingerprint's own simulator
    (natural variation and analytical noise). Elements the reference has no figure for, or that fall
    below detection, are reported as below the detection limit, as a lab report would."""
    noise = Noise()
    _, ppm, censored = simulate_deposit(
        load_library().get(deposit_id), default_model().space, 1, rng, form=form
    )
    results: dict[str, Any] = {"units": "ppm"}
    limits: dict[str, float] = {}
    for element, value, below in zip(REY, ppm[0], censored[0], strict=True):
        if below or not np.isfinite(value):
            limits[element] = noise.detection_limit_ppm[element]
        else:
            results[element] = round(float(value), 3)
    if limits:
        results["detection_limits"] = limits
    return results


def lab_for(country: str) -> str:
    return LABS.get(country, DEFAULT_LAB)


# --- (a) ---------------------------------------------------------------------------------------------
def plant_false_origin(
    flows: Flows, rng: np.random.Generator, times: dict[str, str]
) -> tuple[Held, Held, str]:
    """The trader extracts 'Mount Weld' ore (declaring Mount Weld's composition), a lab assays it and
    finds Bayan Obo chemistry, and the concentrate goes to the outbox (to Lynas Malaysia, by route)."""
    trader = flows.data.plant(FRAUD_TRADER)
    pattern = load_library().get(FRAUD_DECLARED).to_dict()["distribution"]
    ore_comp = chem.reo_pattern_fractions(pattern, trader.ore_grade)
    [ore] = flows.make(
        trader.id,
        "extract",
        times["extract"],
        "ore",
        "ore",
        [chem.Made(FRAUD_ORE_KG, ore_comp)],
        to_outbox=False,
        deposit=FRAUD_DECLARED,
    )
    assay = flows.emit(
        lab_for(trader.country),
        "assay",
        times["assay"],
        lot=ore.lot_id,
        method=ASSAY_METHOD,
        results=lab_assay(FRAUD_ACTUAL, rng),
    )
    concentrate = flows.beneficiate(trader, ore, times["beneficiation"])
    return ore, concentrate, assay


# --- (b) ---------------------------------------------------------------------------------------------
def separate_for_vietnam(flows: Flows, times: dict[str, str]) -> Held:
    """Lynas Malaysia separates part of a mixed-carbonate lot for the Vietnamese plant and ships it."""
    taken = flows.take_mass("MY-LYNAS-KUANTAN", "mixed", CASE_B_MIXED_KG)
    pooled = chem.element_kg((kg, h.composition) for h, kg in taken)
    made = chem.separated(pooled, ["NdPr"])
    [oxide] = flows.make(
        "MY-LYNAS-KUANTAN",
        "process",
        times["separation"],
        "NdPr oxide",
        "separated_oxide",
        [made["NdPr"]],
        inputs=taken,
        to_outbox=False,
        stage="separation",
    )
    flows.transfer("MY-LYNAS-KUANTAN", CASE_B_PLANT, [oxide], times["ship_oxide"], hs_code="2846.90")
    flows.stock[CASE_B_PLANT]["NdPr oxide"].remove(oxide)  # its own campaign, made in the next step
    return oxide


def magnets_in_vietnam(
    flows: Flows, oxide: Held, times: dict[str, str], value: Callable[[float], dict[str, Any]]
) -> Held:
    """Metal and magnets at the Vietnamese plant (Chinese technology for both), shipped to US motor makers."""
    oxide_used = [(oxide, oxide.remaining)]
    oxide.remaining = 0.0
    metal_made = chem.metal(chem.element_kg([(oxide.mass, oxide.composition)]))
    [metal] = flows.make(
        CASE_B_PLANT,
        "process",
        times["metallization"],
        "NdPr metal",
        "metal",
        [metal_made],
        inputs=oxide_used,
        to_outbox=False,
        stage="metallization",
    )
    magnet = _ndfeb(flows, CASE_B_PLANT, [(metal, metal.mass)], times, value, high=False)
    metal.remaining = 0.0
    flows.transfer(CASE_B_PLANT, "US-EV-MOTORS", [magnet], times["ship_magnet"], hs_code="8505.11")
    return magnet


# --- (c) ---------------------------------------------------------------------------------------------
def separate_for_defense(flows: Flows, times: dict[str, str]) -> tuple[Held, list[Held]]:
    """Baotou separates part of a Bayan Obo concentrate lot; its NdPr (and any Dy) oxide goes to Japan."""
    taken = flows.take_mass("CN-NORTHERN-BAOTOU", "concentrate", CASE_C_CONCENTRATE_KG)
    pooled = chem.element_kg((kg, h.composition) for h, kg in taken)
    made = chem.separated(pooled, ["NdPr", "Dy", "Tb"])
    products = list(made)
    oxides = flows.make(
        "CN-NORTHERN-BAOTOU",
        "process",
        times["separation"],
        [f"{p} oxide" for p in products],
        "separated_oxide",
        [made[p] for p in products],
        inputs=taken,
        to_outbox=False,
        stage="separation",
    )
    flows.transfer("CN-NORTHERN-BAOTOU", CASE_C_METAL, oxides, times["ship_oxide"], hs_code="2846.90")
    for held in oxides:  # kept apart from the metal maker's other feed: its own campaign
        flows.stock[CASE_C_METAL][held.stream].remove(held)
    return oxides[0], oxides


def defense_magnets(
    flows: Flows, oxides: list[Held], times: dict[str, str], value: Callable[[float], dict[str, Any]]
) -> tuple[Held, str]:
    """Metal in Japan (a campaign of its own), magnets at the US defense line, shipped to the component
    maker: the transfer case (d) certifies."""
    metals: list[tuple[Held, float]] = []
    for oxide in oxides:
        made = chem.metal(chem.element_kg([(oxide.mass, oxide.composition)]))
        stream = oxide.stream.replace("oxide", "metal")
        [metal] = flows.make(
            CASE_C_METAL,
            "process",
            times["metallization"],
            stream,
            "metal",
            [made],
            inputs=[(oxide, oxide.remaining)],
            to_outbox=False,
            stage="metallization",
        )
        oxide.remaining = 0.0
        metals.append((metal, metal.mass))
    flows.transfer(
        CASE_C_METAL, CASE_C_MAGNETS, [m for m, _ in metals], times["ship_metal"], hs_code="2805.30"
    )
    for metal, _ in metals:
        flows.stock[CASE_C_MAGNETS][metal.stream].remove(metal)
    magnet = _ndfeb(flows, CASE_C_MAGNETS, metals, times, value, high=True)
    for metal, _ in metals:
        metal.remaining = 0.0
    transfer = flows.transfer(
        CASE_C_MAGNETS, DEFENSE_COMPONENTS, [magnet], times["ship_magnet"], hs_code="8505.11"
    )
    flows.stock[DEFENSE_COMPONENTS]["NdFeB magnet"].remove(magnet)
    flows.stock[DEFENSE_COMPONENTS]["NdFeB magnet"].appendleft(magnet)  # the next shipsets use it first
    return magnet, transfer


def _ndfeb(
    flows: Flows,
    plant: str,
    metals: list[tuple[Held, float]],
    times: dict[str, str],
    value: Callable[[float], dict[str, Any]],
    *,
    high: bool,
) -> Held:
    """One NdFeB magnet lot from the given metal lots (all rare earths charged, Dy as it comes)."""
    charged = chem.element_kg((kg, h.composition) for h, kg in metals)
    ndpr = charged.get("Nd", 0.0) + charged.get("Pr", 0.0)
    mass, _, _ = chem.ndfeb_plan(ndpr, high)
    additions, made = chem.ndfeb(charged, sum(kg for _, kg in metals), mass)
    [magnet] = flows.make(
        plant,
        "process",
        times["magnet"],
        "NdFeB magnet",
        "magnet",
        [made],
        inputs=metals,
        to_outbox=False,
        lot_extra=[value(made.mass_kg)],
        stage="magnet",
        additions=additions,
    )
    return magnet


# --- (d) ---------------------------------------------------------------------------------------------
def _relabel_origin(credential: dict[str, Any]) -> str:
    """Rewrite every Chinese share of the certified lots' origin as Australian: laundering in transit."""
    changed = 0
    for entry in credential["credentialSubject"]["shipment"]["lots"]:
        for element in entry["origin"].values():
            for shares in element["location"].values():
                if "CN" in shares:
                    shares["AU"] = shares.get("AU", 0) + shares.pop("CN")
                    changed += 1
    if not changed:
        raise AssertionError("the certified lots have no Chinese stage to relabel")  # the case is built so
    return f"{changed} Chinese stage share(s) of the certified origin rewritten as Australian"


def _inflate_mass(presentation: dict[str, Any]) -> str:
    """Double the mass in the holder-disclosed value (a disclosure, outside the signed body)."""
    from raretrace.certify.disclosure import make_disclosure, parse_disclosure

    for i, text in enumerate(presentation["disclosures"]):
        name, value = parse_disclosure(text)
        if name == "massKg" and isinstance(value, int | float):
            presentation["disclosures"][i] = make_disclosure(name, value * 2)
            return f"disclosed massKg {value} changed to {value * 2}"
    raise AssertionError("the certificate discloses no mass to alter")


def certify_and_tamper(
    registry: Registry, transfer: str
) -> tuple[dict[str, Any], dict[str, Any], dict[str, dict[str, Any]], dict[str, str]]:
    """Issue the shipment certificate of ``transfer`` and make the altered copies."""
    presentation: dict[str, Any] = issue(registry, transfer=transfer).to_dict()
    keys = trusted_keys(registry)
    origin = copy.deepcopy(presentation)
    what = {"origin-relabelled": _relabel_origin(origin["credential"])}
    mass = copy.deepcopy(presentation)
    what["mass-inflated"] = _inflate_mass(mass)
    return presentation, keys, {"origin-relabelled": origin, "mass-inflated": mass}, what


#: The verification step each alteration must fail (certify/verify.py STEPS, numbered from 1): the
#: signed body no longer matches the issuer's proof; a changed disclosure matches no signed digest.
EXPECTED_STEP = {"origin-relabelled": 1, "mass-inflated": 2}


def write_certificates(
    folder: Path, presentation: dict[str, Any], keys: dict[str, Any], tampered: dict[str, dict[str, Any]]
) -> dict[str, str]:
    """The files a customs officer would hold: the certificate, the altered copies, the trusted keys."""
    folder.mkdir(parents=True, exist_ok=True)
    files = {"certificate": folder / "certificate.json", "trusted-keys": folder / "trusted-keys.json"}
    files.update({name: folder / f"certificate-{name}.json" for name in tampered})
    docs = {"certificate": presentation, "trusted-keys": keys, **tampered}
    for name, path in files.items():
        path.write_text(json.dumps(docs[name], indent=2) + "\n", encoding="utf-8")
    return {name: str(path) for name, path in files.items()}
