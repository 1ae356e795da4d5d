"""EPCIS 2.0 import: a hand-written MES document maps onto raretrace events; broken documents are
refused naming the event and the member; an export is an EPCIS 2.0 JSON-LD document."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from raretrace.crypto.keys import load_signer
from raretrace.custody.namespaces import namespaced
from raretrace.errors import ValidationError
from raretrace.interchange.epcis import EPCIS_CONTEXT, RT_NAMESPACE, bizstep
from raretrace.interchange.epcis_export import export_epcis
from raretrace.interchange.importer import import_file
from raretrace.interchange.problems import ImportRejectedError
from raretrace.ledger.registry import Registry
from tests.chain_fixtures import new_registry
from tests.test_interchange_support import every_row

EXAMPLES = Path(__file__).resolve().parents[1] / "docs" / "examples" / "import"
SEPARATOR = "urn:epc:id:sgln:0614141.00001.0"
OXIDE = f"urn:raretrace:lot:{SEPARATOR}:ndpr-oxide-0001"  # in the separator's namespace


@pytest.fixture
def registry(db_url: str) -> Registry:
    """The docs' example registry up to the separator's MES document: facilities and the mine's rows."""
    registry = new_registry(db_url)
    import_file(registry, EXAMPLES / "facilities.csv")
    import_file(
        registry, EXAMPLES / "mine-events.csv", signer=load_signer(EXAMPLES / "keys" / "mine-key.pem")
    )
    return registry


def _separator() -> Any:
    return load_signer(EXAMPLES / "keys" / "separator-key.pem")


def test_the_hand_written_mes_document_is_recorded(registry: Registry) -> None:
    result = import_file(registry, EXAMPLES / "separator-mes.jsonld", signer=_separator())
    assert (result.format, result.events) == ("epcis", 2)
    assert result.skipped == ["event 3: AggregationEvent bizStep packing"]
    ore = registry.lot("urn:raretrace:lot:US-MP-MINE:ore-0001")
    assert ore.custodian == SEPARATOR and ore.in_transit_to is None  # received
    assert ore.spec.mass_kg == 1_200_000.0  # 1,200 t in the mine's CSV
    assert ore.remaining_kg == 0.0  # all of it consumed by the separation (1,200 TNE)
    oxide = registry.lot(OXIDE)
    assert (oxide.spec.mass_kg, oxide.spec.form.value, oxide.stage.value) == (
        14_500.0,
        "separated_oxide",
        "separation",
    )
    assert (oxide.spec.declared_value, oxide.spec.currency) == (870_000.0, "USD")
    origin = oxide.origin()
    assert origin["Nd"]["location"]["mining"] == {"US": 1.0}
    assert origin["Nd"]["location"]["separation"] == {"US": 1.0}


def _document(tmp_path: Path, events: list[dict[str, Any]], context: Any = None) -> Path:
    path = tmp_path / "doc.jsonld"
    path.write_text(
        json.dumps(
            {
                "@context": context or [EPCIS_CONTEXT, {"ex": RT_NAMESPACE}],
                "type": "EPCISDocument",
                "schemaVersion": "2.0",
                "creationDate": "2026-03-06T18:00:00Z",
                "epcisBody": {"eventList": events},
            }
        )
    )
    return path


def _example_events() -> list[dict[str, Any]]:
    document = json.loads((EXAMPLES / "separator-mes.jsonld").read_text())
    events: list[dict[str, Any]] = document["epcisBody"]["eventList"]
    for event in events:  # rebind the document's "rt" prefix to "ex": any prefix of our namespace works
        for key in [k for k in event if k.startswith("rt:")]:
            event["ex:" + key[3:]] = event.pop(key)
        if "ilmd" in event:
            event["ilmd"] = {"ex:lots": event["ilmd"]["rt:lots"]}
    return events


def test_any_prefix_bound_to_the_namespace_and_urn_bizsteps_work(registry: Registry, tmp_path: Path) -> None:
    events = _example_events()
    events[0]["bizStep"] = "urn:epcglobal:cbv:bizstep:receiving"
    assert import_file(registry, _document(tmp_path, events), signer=_separator()).events == 2
    assert bizstep("https://ref.gs1.org/cbv/BizStep-shipping") == "shipping"


@pytest.mark.parametrize(
    ("change", "where", "reason"),
    [
        (lambda e: e[1].pop("eventTimeZoneOffset"), (2, "eventTimeZoneOffset"), "offset"),
        (lambda e: e[1].pop("ex:stage"), (2, "ex:stage"), "must name the stage"),
        (lambda e: e[1]["inputQuantityList"][0].update(uom="LBR"), (2, "inputQuantityList[0].uom"), "'LBR'"),
        (
            lambda e: e[1]["outputQuantityList"][0].pop("uom"),
            (2, "outputQuantityList[0].uom"),
            "count of items",
        ),
        (lambda e: e[1]["ilmd"].clear(), (2, "ilmd.ex:lots"), "no master data"),
        (
            lambda e: e[1]["bizLocation"].update(id="urn:epc:id:sgln:9999999.00001.0"),
            (2, "bizLocation.id"),
            "not registered",
        ),
        (
            lambda e: e[1]["outputQuantityList"][0].update(quantity=145_000),
            (2, "outputQuantityList"),
            "outputs hold",
        ),
        (
            lambda e: e[1].update(inputEPCList=["urn:epc:id:sgtin:0614141.107346.2017"]),
            (2, "inputEPCList"),
            "no mass",
        ),
        (
            lambda e: e[1].update(outputEPCList=["urn:epc:id:sgtin:0614141.107346.2018"]),
            (2, "outputEPCList"),
            "the event creates",
        ),
    ],
)
def test_broken_events_are_named_and_nothing_is_written(
    registry: Registry, tmp_path: Path, change: Any, where: tuple[int, str], reason: str
) -> None:
    events = _example_events()
    change(events)
    before = every_row(registry)
    with pytest.raises(ImportRejectedError) as info:
        import_file(registry, _document(tmp_path, events), signer=_separator())
    assert every_row(registry) == before
    problem = info.value.problems[0]
    assert (problem.row, problem.column) == where, problem
    assert reason in problem.reason
    assert "doc.jsonld, event 2" in str(info.value)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("{not json", "is not JSON"),
        ('{"type": "EPCISDocument"}', "not an EPCIS 2.0 document"),
        ('{"type": "EPCISDocument", "epcisBody": {"eventList": {}}}', "eventList is missing or not a list"),
        ("[1, 2]", "is a JSON object"),
    ],
)
def test_a_file_that_is_not_an_epcis_document_is_refused(
    registry: Registry, tmp_path: Path, text: str, reason: str
) -> None:
    path = tmp_path / "bad.json"
    path.write_text(text)
    before = every_row(registry)
    with pytest.raises(ValidationError, match=reason):
        import_file(registry, path, signer=_separator())
    assert every_row(registry) == before


def test_an_export_is_an_epcis_document_that_maps_back(registry: Registry, tmp_path: Path) -> None:
    import_file(registry, EXAMPLES / "separator-mes.jsonld", signer=_separator())
    path = tmp_path / "out.jsonld"
    assert export_epcis(registry, path) == 4
    document = json.loads(path.read_text())
    assert document["@context"][0] == EPCIS_CONTEXT and document["schemaVersion"] == "2.0"
    events = document["epcisBody"]["eventList"]
    assert [(e["type"], e.get("bizStep")) for e in events] == [
        ("ObjectEvent", "commissioning"),
        ("ObjectEvent", "shipping"),
        ("ObjectEvent", "receiving"),
        ("TransformationEvent", "commissioning"),
    ]
    assert events[1]["destinationList"] == [{"type": "possessing_party", "destination": SEPARATOR}]
    assert events[3]["outputQuantityList"] == [{"epcClass": OXIDE, "quantity": 14500.0, "uom": "KGM"}]
    assert all("rt:envelope" in e and e["eventTimeZoneOffset"] for e in events)


def test_an_assembling_aggregation_is_an_assemble_event(db_url: str, tmp_path: Path) -> None:
    """parentID is the product made, childQuantityList what went into it; its mass is theirs."""
    from raretrace.ledger.scripted import ScriptedChain, lot

    ore = namespaced("lot", "US-WORKS", "a")
    chain = ScriptedChain(new_registry(db_url))
    chain.add_facility("US-WORKS", country="US", stages=["mining", "component"])
    chain.record("US-WORKS", "extract", deposit="test", outputs=[lot(ore, "ore", 100.0, {"Nd": 0.3})])
    motor = namespaced("lot", "US-WORKS", "motor-1")
    event = {
        "type": "AggregationEvent",
        "eventTime": "2026-02-01T10:00:00+01:00",
        "eventTimeZoneOffset": "+01:00",
        "action": "ADD",
        "bizStep": "assembling",
        "parentID": motor,
        "childQuantityList": [{"epcClass": ore, "quantity": 0.1, "uom": "TNE"}],
        "bizLocation": {"id": "urn:raretrace:facility:US-WORKS"},
        "ex:lots": {motor: {"form": "component", "composition": {"Nd": 0.3}, "units": 4}},
    }
    result = import_file(chain.registry, _document(tmp_path, [event]), signer=chain.signers["US-WORKS"])
    assert result.events == 1
    made = chain.registry.lot(motor)
    assert (made.spec.mass_kg, made.spec.units, made.stage.value, made.producer) == (
        100.0,
        4,
        "component",
        "US-WORKS",
    )
    assert chain.registry.lot(ore).remaining_kg == 0.0
