"""Find anything: lot search in the service, the API, the web page and the CLI.

The world is the two reference chains (tests/test_server_support.py): Bayan Obo (CN) concentrate →
Baotou oxide and metal → Japanese magnet, and Mount Weld (AU) → Malaysia → US metal and magnet. What
each filter must find is read off that script (which lots were mined in China, who made what), not off
the search.
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from raretrace.errors import ValidationError
from raretrace.ledger.scripted import US_CHAIN
from raretrace.ledger.search import LotQuery, search_lots
from tests.test_server_support import (
    JP_CONC,
    JP_MAGNET,
    JP_METAL,
    JP_OXIDE,
    US_MAGNET,
    ServerWorld,
    shared_fixture,  # noqa: F401
)

US_CONC, US_OXIDE, US_METAL = US_CHAIN.concentrate, US_CHAIN.oxide, US_CHAIN.metal
EVERY = {JP_CONC, JP_OXIDE, JP_METAL, JP_MAGNET, US_CONC, US_OXIDE, US_METAL, US_MAGNET}
MINED_IN_CHINA = {JP_CONC, JP_OXIDE, JP_METAL, JP_MAGNET}


def _ids(shared: ServerWorld, **query: Any) -> set[str]:
    return {h.id for h in search_lots(shared.registry, LotQuery(limit=None, **query)).lots}


def test_each_filter_finds_what_the_chain_says(shared: ServerWorld) -> None:
    assert _ids(shared) == EVERY
    assert _ids(shared, forms=("magnet",)) == {JP_MAGNET, US_MAGNET}
    assert _ids(shared, country="CN") == MINED_IN_CHINA
    assert _ids(shared, country="MY") == {US_OXIDE, US_METAL, US_MAGNET}  # separated in Malaysia
    assert _ids(shared, producer_countries=("JP",)) == {JP_MAGNET}
    # CN-SEP received the concentrate (holds it), made the oxide and the metal (shipped on to Japan)
    assert _ids(shared, facility="CN-SEP") == {JP_CONC, JP_OXIDE, JP_METAL}
    assert _ids(shared, text="metal") == {JP_METAL, US_METAL}
    assert _ids(shared, element="Dy", stages=("magnet",)) == {JP_MAGNET, US_MAGNET}
    assert _ids(shared, element="Tb") == set()  # no terbium anywhere in the chains
    day = str(shared.registry.lot_details(JP_CONC).lot["created_time"])[:10]
    from datetime import date, timedelta

    assert _ids(shared, created_from=date.fromisoformat(day), created_to=date.fromisoformat(day)) == EVERY
    assert _ids(shared, created_from=date.fromisoformat(day) + timedelta(days=1)) == set()
    # DFARS from 2027 bars Chinese melting: the Japanese magnet's metal was made in China
    assert _ids(shared, forms=("magnet",), regime="us-dfars-252.225-7052", outcome="fail") == {JP_MAGNET}


def test_total_facets_sort_and_pages(shared: ServerWorld) -> None:
    whole = search_lots(shared.registry, LotQuery(limit=None))
    counts = Counter(h.form for h in whole.lots)
    assert {f.value: f.count for f in whole.facets["form"]} == dict(counts)
    assert {f.value: f.count for f in whole.facets["producer_country"]} == {
        "CN": 3,
        "JP": 1,
        "AU": 1,
        "MY": 1,
        "US": 2,
    }
    heaviest = search_lots(shared.registry, LotQuery(sort="-mass_kg", limit=3, offset=0))
    assert heaviest.total == 8 and len(heaviest.lots) == 3
    masses = sorted((h.mass_kg for h in whole.lots), reverse=True)
    assert [h.mass_kg for h in heaviest.lots] == masses[:3]
    second = search_lots(shared.registry, LotQuery(sort="-mass_kg", limit=3, offset=3))
    assert {h.id for h in heaviest.lots}.isdisjoint(h.id for h in second.lots)


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"forms": ("rock",)}, "form"),
        ({"country": "XX"}, "country"),
        ({"regime": "us-dfars-252.225-7052"}, "verdict"),
        ({"sort": "colour"}, "sort"),
    ],
)
def test_bad_filters_are_refused_naming_them(query: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as refused:
        LotQuery(**query)
    assert refused.value.field == field


def test_the_api_answers_only_what_the_caller_may_see(shared: ServerWorld) -> None:
    mine = shared.client.get("/api/v1/search/lots", headers=shared.as_("jp")).json()
    assert {h["id"] for h in mine["lots"]} == {JP_METAL, JP_MAGNET} and mine["total"] == 2
    everything = shared.client.get("/api/v1/search/lots?country=cn", headers=shared.as_("auditor")).json()
    assert {h["id"] for h in everything["lots"]} == MINED_IN_CHINA
    assert shared.client.get("/api/v1/search/lots").status_code == 401
    bad = shared.client.get("/api/v1/search/lots?form=rock", headers=shared.as_("auditor"))
    assert bad.status_code == 422 and bad.json()["field"] == "form"
    unknown = shared.client.get("/api/v1/search/lots?colour=red", headers=shared.as_("auditor"))
    assert unknown.status_code == 422 and unknown.json()["field"] == "colour"


def test_downloads_carry_every_match(shared: ServerWorld) -> None:
    url = "/api/v1/search/lots?limit=1&country=CN"
    page = shared.client.get(url, headers=shared.as_("auditor")).json()
    assert len(page["lots"]) == 1 and page["total"] == 4
    table = shared.client.get(url + "&format=csv", headers=shared.as_("auditor"))
    assert table.headers["content-disposition"].startswith("attachment")
    rows = list(csv.DictReader(io.StringIO(table.text)))
    assert {r["id"] for r in rows} == MINED_IN_CHINA
    whole = shared.client.get(url + "&format=json-all", headers=shared.as_("auditor")).json()
    assert {h["id"] for h in whole["lots"]} == MINED_IN_CHINA


def test_the_web_page_shows_the_apis_lots_and_facets(shared: ServerWorld) -> None:
    shared.client.cookies.set("raretrace_session", shared.tokens["auditor"])
    try:
        html = shared.client.get("/search?form=magnet&form=metal").text
    finally:
        shared.client.cookies.clear()
    api = shared.client.get(
        "/api/v1/search/lots?form=magnet&form=metal", headers=shared.as_("auditor")
    ).json()
    shown = {lot for lot in EVERY if f">{lot}</a>" in html}
    assert shown == {h["id"] for h in api["lots"]} == {JP_METAL, JP_MAGNET, US_METAL, US_MAGNET}
    for facet in api["facets"]["producer_country"]:
        assert f'data-value="{facet["value"]}"' in html


def test_the_cli_lists_and_searches_with_the_same_filters(shared: ServerWorld, tmp_path: Path) -> None:
    db = str(shared.registry.engine.url.database)
    env = {k: v for k, v in os.environ.items() if not k.startswith("RARETRACE_")}

    def run(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "raretrace", "--db", db, *args],
            capture_output=True,
            text=True,
            env=env,
            check=False,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    found = json.loads(run("search", "--country", "CN", "--form", "magnet", "--json"))
    assert [h["id"] for h in found["lots"]] == [JP_MAGNET]
    listed = json.loads(run("lot", "list", "--limit", "0", "--json"))
    assert {h["id"] for h in listed["lots"]} == EVERY and listed["total"] == 8
    table = run("search", "metal")
    assert "2 lot(s) match" in table and JP_METAL in table and US_METAL in table
    rows = list(csv.DictReader(io.StringIO(run("lot", "list", "--producer-country", "US", "--csv"))))
    assert {r["id"] for r in rows} == {US_METAL, US_MAGNET}


def test_a_participant_sees_custody_only_while_it_holds_the_lot(shared: ServerWorld) -> None:
    """As on the lot listing (issue 17): custody of a lot that left the caller is hidden, and a filter
    on who holds lots is for the caller's own facilities only."""
    jp = shared.as_("jp")
    me = shared.client.get("/api/v1/me", headers=jp).json()
    own = set(me["facilities"])
    hits = shared.client.get("/api/v1/search/lots", headers=jp).json()["lots"]
    assert hits
    for hit in hits:
        assert hit["custodian"] in own or (hit["custodian"] == "hidden" and hit["remaining_kg"] is None)
    other = "CN-SEP"
    assert other not in own
    refused = shared.client.get(f"/api/v1/search/lots?facility={other}", headers=jp)
    assert refused.status_code == 422 and refused.json()["field"] == "facility"
    mine = shared.client.get(f"/api/v1/search/lots?facility={sorted(own)[0]}", headers=jp)
    assert mine.status_code == 200
    everything = shared.client.get(f"/api/v1/search/lots?facility={other}", headers=shared.as_("auditor"))
    assert everything.status_code == 200 and everything.json()["lots"]


@pytest.mark.parametrize(
    "sort", ["id", "-id", "mass_kg", "-mass_kg", "created_time", "-created_time", "form"]
)
@pytest.mark.parametrize(
    "filters",
    [{}, {"forms": ("magnet", "metal")}, {"facility": "CN-SEP"}, {"producer_countries": ("US", "JP")}],
    ids=["all", "forms", "facility", "producer-countries"],
)
def test_the_database_answers_as_the_exact_checks_do(
    shared: ServerWorld, filters: dict[str, Any], sort: str
) -> None:
    """Counts, facets (GROUP BY) and pages read in the database agree with the path that reads every
    matching row and counts in Python, page by page, for each sort."""
    from raretrace.ledger.search import search_checked, search_in_database

    for offset, limit in ((0, None), (0, 3), (3, 3), (6, 3)):
        query = LotQuery(sort=sort, limit=limit, offset=offset, **filters)
        fast, slow = search_in_database(shared.registry, query), search_checked(shared.registry, query)
        assert fast.total == slow.total and fast.facets == slow.facets
        assert fast.lots == slow.lots, (offset, limit)
    # the facets count what the chain says: 8 lots, two of each form of the chain, the producers'
    assert [(f.value, f.count) for f in search_in_database(shared.registry, LotQuery()).facets["form"]] == [
        ("concentrate", 2),
        ("magnet", 2),
        ("metal", 2),
        ("separated_oxide", 2),
    ]
