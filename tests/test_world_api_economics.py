"""``/api/v1/world/economics`` answers the element-true tables with a declared model, the same figures
the service computes (and the CLI prints with ``--json``)."""

from __future__ import annotations

import json

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from raretrace.server import api_world
from raretrace.world.data import WorldData
from raretrace.world.economics import economics
from raretrace.world.element_cost import element_economics

#: Standard atomic weights (IUPAC 2021), for oxide factors derived here rather than read from the code.
ATOMIC = {"Nd": 144.242, "Dy": 162.500, "Tb": 158.925, "O": 15.999}


@pytest.fixture(scope="module")
def client() -> TestClient:
    app = FastAPI()
    app.include_router(api_world.router)
    return TestClient(app)


def test_answer_is_the_service_result(client: TestClient) -> None:
    answer = client.get("/api/v1/world/economics", params={"members": 14})
    assert answer.status_code == 200
    data = WorldData.load()
    expected = {**economics(data, 14).to_dict(), **element_economics(data).to_dict()}
    # JSON turns tuples into lists; compare on the wire format
    assert answer.json() == json.loads(json.dumps(expected))
    assert {"element_costs", "crises", "bases"} <= set(answer.json())


def test_f35_magnet_reading_from_first_principles(client: TestClient) -> None:
    """F-35 content 417.3 kg read as NdFeB: Nd+Pr 25%, Dy 4%, Tb 1% of it, priced as oxide at
    NdPr FOB China $50-55, Dy2O3 $260, Tb4O7 $810 (element_costs.json, Argus via USGS)."""
    body = client.get("/api/v1/world/economics").json()
    f35 = next(
        c for c in body["element_costs"] if c["platform"].startswith("F-35") and c["reading"] == "magnet"
    )
    nd2o3 = 2 * ATOMIC["Nd"] / (2 * ATOMIC["Nd"] + 3 * ATOMIC["O"])
    dy2o3 = 2 * ATOMIC["Dy"] / (2 * ATOMIC["Dy"] + 3 * ATOMIC["O"])
    tb4o7 = 4 * ATOMIC["Tb"] / (4 * ATOMIC["Tb"] + 7 * ATOMIC["O"])
    fixed = 417.3 * 0.04 / dy2o3 * 260 + 417.3 * 0.01 / tb4o7 * 810
    low = 417.3 * 0.25 / nd2o3 * 50 + fixed
    high = 417.3 * 0.25 / nd2o3 * 55 + fixed
    assert f35["china_usd"] == pytest.approx([low, high], rel=2e-3)
    assert [x["element"] for x in f35["lines"]] == ["Nd+Pr", "Dy", "Tb"]
    # the magnet-stage premium ($10-30/kg of magnet at Narva) applies to the magnet reading only
    assert f35["magnet_premium_usd"] == pytest.approx([4_173.0, 12_519.0])
    element_reading = next(
        c for c in body["element_costs"] if c["platform"].startswith("F-35") and c["reading"] == "element"
    )
    assert element_reading["magnet_premium_usd"] == [0.0, 0.0]


def test_declared_schema(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    op = schema["paths"]["/api/v1/world/economics"]["get"]
    ref = op["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    model = schema["components"]["schemas"][ref.rsplit("/", 1)[1]]
    assert set(model["required"]) == {
        "premiums",
        "stage_ranges",
        "platform_costs",
        "floor",
        "floor_row",
        "sensitivity",
        "element_costs",
        "crises",
        "bases",
    }
    line = schema["components"]["schemas"]["ElementLine"]["properties"]
    assert line["element_kg"]["type"] == "number"


def test_bad_members_is_refused(client: TestClient) -> None:
    assert client.get("/api/v1/world/economics", params={"members": 0}).status_code == 422
