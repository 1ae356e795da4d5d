"""The compliance desk (issue 20): verdicts for a day and end use, the clause that decided each, and
the upcoming changes the regimes' own files announce — on the page, in the API and in the CLI.

The lot judged: concentrate mined in China (CN-MINE), separated in China (CN-SEP), made into metal and
magnets in Japan (JP-MM), judged on 2026-06-01 for a military end use. Expected by hand from the regime
files' text (data/regimes):
* DFARS 252.225-7052 until 2026-12-31 bars magnets *melted or produced* in a covered country: metal
  and magnet were made in Japan, so the lot passes (rule ``melted-or-produced``). From 2027-01-01 it
  bars material *mined, refined, separated*, melted or produced there: all of it was mined and
  separated in China, so it fails from 2027-01-01 (rule ``any-stage-from-2027``, 100%).
* MOFCOM 61 is suspended as a whole until 2026-11-10 (Announcement No. 70): not applicable on
  2026-06-01. From 2026-11-11 clause I(1) binds (made abroad, its Dy — a controlled element — all
  Chinese-origin: 6 kg of Dy worth far above 0.1% of the 50,000 USD item) and for a military end
  user section II turns the licence requirement into a refusal: fail from 2026-11-11
  (``military-end-users``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner

from raretrace.bom import BomError, parse_bom
from raretrace.cli.main import app
from raretrace.ledger.compliance import prepare
from raretrace.ledger.participants import add_participant, issue_token
from raretrace.ledger.scripted import JP_CHAIN, chain_lots, mine_to_magnet
from raretrace.ledger.upcoming import upcoming
from raretrace.rules import load_regimes
from tests.test_server_support import ServerWorld, assert_problem, logged_in, server_world

X_MAGNET = chain_lots("x", "CN-MINE", "CN-SEP", "JP-MM", "JP-MM").magnet
X_OXIDE = "urn:raretrace:lot:x-ox"
DFARS = "us-dfars-252.225-7052"
MOFCOM61 = "cn-mofcom-61-2025"
DAY = "2026-06-01"


@pytest.fixture(name="desk", scope="module")
def desk_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerWorld, Path]]:
    path = tmp_path_factory.mktemp("desk") / "registry.db"
    world = server_world(f"sqlite:///{path}")
    world.chain.add_facility("JP-MM", country="JP", stages=["metallization", "magnet"])
    mine_to_magnet(world.chain, "x", "CN-MINE", "CN-SEP", "JP-MM", "JP-MM", 50_000.0)
    add_participant(world.registry.engine, "jpmm", "JP magnet maker", "operator", ["JP-MM"])
    world.tokens["jpmm"] = issue_token(world.registry.engine, "jpmm").token
    yield world, path
    world.client.close()


def test_regime_change_days_come_from_the_files() -> None:
    regimes = load_regimes(())
    # DFARS: the until-2026 rules lapse and the from-2027 rules start on one day.
    assert regimes[DFARS].change_days(date(2026, 6, 1)) == (date(2027, 1, 1),)
    # MOFCOM 61: the suspension (2025-11-07 to 2026-11-10 inclusive) ends; nothing else is later.
    assert regimes[MOFCOM61].change_days(date(2026, 6, 1)) == (date(2026, 11, 11),)
    assert regimes[DFARS].change_days(date(2027, 1, 1)) == ()


def test_upcoming_service_hand_computed(desk: tuple[ServerWorld, Path]) -> None:
    world, _ = desk
    judging = prepare(world.registry, [X_MAGNET], regimes=[DFARS, MOFCOM61], end_use="military")
    dfars, mofcom = upcoming(judging, date.fromisoformat(DAY))
    assert dfars.verdict.outcome.value == "pass"
    assert "melted-or-produced" in dfars.verdict.decided_by
    assert [(c.day, c.outcome.value, c.decided_by) for c in dfars.changes] == [
        (date(2027, 1, 1), "fail", ("any-stage-from-2027",))
    ]
    because = dfars.changes[0].because
    assert "100% of the mass of the elements checked" in because and "separation" in because
    assert dfars.summary.startswith(
        f"passes US DFARS 252.225-7052 on {DAY}; fails from 2027-01-01: (b)(1)(i) from 2027"
    )
    assert mofcom.verdict.outcome.value == "not_applicable"
    assert "suspended" in mofcom.verdict.explanation
    assert [(c.day, c.outcome.value, c.decided_by) for c in mofcom.changes] == [
        (date(2026, 11, 11), "fail", ("military-end-users",))
    ]
    # the reason names the licence requirement the military end use escalates
    assert "Clause I(1)" in mofcom.changes[0].because
    # a civil end use: a licence is required from 2026-11-11, not refused
    civil = upcoming(
        prepare(world.registry, [X_MAGNET], regimes=[MOFCOM61], end_use="civil"), date(2026, 6, 1)
    )
    assert [(c.outcome.value, c.decided_by) for c in civil[0].changes] == [
        ("licence_required", ("chinese-content-by-value",))
    ]
    # judged after the last change day, nothing is upcoming
    late = upcoming(judging, date(2027, 2, 1))
    assert [o.verdict.outcome.value for o in late] == ["fail", "fail"] and not any(o.changes for o in late)


def test_bill_of_material_quantities_scale_the_item(desk: tuple[ServerWorld, Path]) -> None:
    """Half of the magnet lot: half the mass and value, the same shares; the verdicts stay."""
    world, _ = desk
    whole = prepare(world.registry, [X_MAGNET], regimes=[DFARS])
    half = prepare(world.registry, [X_MAGNET], regimes=[DFARS], quantities={X_MAGNET: 400.0})
    assert half.items[0].mass_kg == 400.0
    assert half.items[0].element_kg["Dy"] == pytest.approx(whole.items[0].element_kg["Dy"] / 2)
    assert half.items[0].declared_value_usd == pytest.approx(25_000.0)
    assert [v.outcome for v in half.on(date(2027, 1, 1))] == [v.outcome for v in whole.on(date(2027, 1, 1))]


def test_bom_rows_are_checked_one_by_one() -> None:
    assert [(x.row, x.lot, x.kg) for x in parse_bom(b"lot,quantity_kg\nurn:a,12.5\nurn:b,3\n")] == [
        (2, "urn:a", 12.5),
        (3, "urn:b", 3.0),
    ]
    with pytest.raises(BomError) as caught:
        parse_bom(b"lot,quantity_kg\n,4\nurn:a,abc\nurn:b,-2\nurn:a,1\nurn:c,\n")
    assert caught.value.problems == (
        "row 2, column lot: no lot id",
        "row 3, column quantity_kg: 'abc' is not a number of kilograms",
        "row 4, column quantity_kg: -2 kg; a quantity is a positive mass",
        "row 5: lot urn:a is already listed in row 3",
        "row 6, column quantity_kg: no quantity",
    )
    with pytest.raises(BomError, match="the header has no quantity_kg column"):
        parse_bom(b"lot,mass\nurn:a,1\n")
    with pytest.raises(BomError, match="not UTF-8"):
        parse_bom(b"lot,quantity_kg\n\xff,1\n")


def test_desk_page_shows_day_use_clause_and_upcoming_change(desk: tuple[ServerWorld, Path]) -> None:
    world, _ = desk
    with logged_in(world, "jpmm") as c:
        page = c.get(
            "/desk",
            params={"lot": X_MAGNET, "as_of": DAY, "end_use": "military", "regime": [DFARS, MOFCOM61]},
        )
    assert page.status_code == 200, page.text
    html = page.text
    assert f'id="desk-day">{DAY}<' in html and 'id="desk-use">military<' in html
    assert f'data-regime="{DFARS}" data-subject="{X_MAGNET}" data-outcome="pass"' in html
    assert f'data-regime="{MOFCOM61}" data-subject="{X_MAGNET}" data-outcome="not_applicable"' in html
    assert '<li data-from="2027-01-01" data-outcome="fail">' in html
    assert "decided by <code>any-stage-from-2027</code>" in html
    assert "passes US DFARS 252.225-7052 on 2026-06-01; fails from 2027-01-01" in html
    assert '<li data-from="2026-11-11" data-outcome="fail">' in html
    assert "<code>melted-or-produced</code>" in html  # the clause that decided today's pass


def test_desk_bill_of_material_upload(desk: tuple[ServerWorld, Path]) -> None:
    world, _ = desk
    with logged_in(world, "jpmm") as c:
        good = c.post(
            "/desk",
            data={"as_of": DAY, "regime": [DFARS]},
            files={"bom": ("bom.csv", f"lot,quantity_kg\n{X_MAGNET},400\n".encode(), "text/csv")},
        )
        # another participant's lot is refused like a missing one, with its row; too much mass too
        bad = c.post(
            "/desk",
            data={"as_of": DAY},
            files={
                "bom": (
                    "bom.csv",
                    f"lot,quantity_kg\n{X_MAGNET},900\n{JP_CHAIN.magnet},1\n".encode(),
                    "text/csv",
                )
            },
        )
    assert good.status_code == 200, good.text
    assert "the bill of material (1 lot judged as one item)" in good.text
    assert '<li data-from="2027-01-01" data-outcome="fail">' in good.text
    assert bad.status_code == 422
    assert "row 2, column quantity_kg: 900 kg is more than the lot&#39;s 800 kg" in bad.text
    assert f"row 3, column lot: lot {JP_CHAIN.magnet} does not exist or is not visible to you" in bad.text
    assert 'id="desk-answer"' not in bad.text


def test_desk_judges_a_search_result(desk: tuple[ServerWorld, Path]) -> None:
    world, _ = desk
    with logged_in(world, "jpmm") as c:
        found = c.get("/search", params={"form": "magnet"})
        assert 'id="judge-at-desk"' in found.text
        page = c.get("/desk", params={"search": "form=magnet", "as_of": DAY, "regime": DFARS})
    assert page.status_code == 200, page.text
    # the operator sees its own magnet only: the JP-MAG and US-MAG magnets are other participants'
    assert "the search&#39;s 1 lot" in page.text
    assert f'data-subject="{X_MAGNET}"' in page.text and JP_CHAIN.magnet not in page.text


def test_upcoming_api(desk: tuple[ServerWorld, Path]) -> None:
    world, _ = desk
    body = {"lots": [X_MAGNET], "regimes": [DFARS], "as_of": DAY, "end_use": "military"}
    answer = world.client.post("/api/v1/check/upcoming", json=body, headers=world.as_("jpmm"))
    assert answer.status_code == 200, answer.text
    data = answer.json()
    assert data["as_of"] == DAY and data["end_use"] == "military"
    (outlook,) = data["outlooks"]
    assert outlook["outcome"] == "pass"
    assert outlook["changes"][0]["from"] == "2027-01-01"
    assert outlook["changes"][0]["decided_by"] == ["any-stage-from-2027"]
    # until before the change day: no change listed
    early = world.client.post(
        "/api/v1/check/upcoming", json={**body, "until": "2026-12-31"}, headers=world.as_("jpmm")
    )
    assert early.json()["outlooks"][0]["changes"] == []
    # another operator may not judge the lot: the same 404 as a lot that does not exist
    refused = world.client.post("/api/v1/check/upcoming", json=body, headers=world.as_("us"))
    assert "does not exist or is not visible" in assert_problem(refused, 404)["detail"]
    schema = world.client.get("/openapi.json").json()
    assert "UpcomingAnswer" in schema["components"]["schemas"]


def test_cli_check_upcoming(desk: tuple[ServerWorld, Path]) -> None:
    _, path = desk
    args = ["--db", str(path), "check", X_MAGNET, "-r", DFARS, "--as-of", DAY, "--upcoming"]
    human = CliRunner().invoke(app, args)
    assert human.exit_code == 0, human.output
    assert "upcoming changes" in human.output
    assert "passes US DFARS 252.225-7052 on 2026-06-01; fails from 2027-01-01" in " ".join(
        human.output.split()
    )
    machine = CliRunner().invoke(app, [*args, "--json"])
    data = json.loads(machine.stdout)
    assert data["upcoming"][0]["changes"][0] == {
        "from": "2027-01-01",
        "outcome": "fail",
        "decided_by": ["any-stage-from-2027"],
        "because": data["upcoming"][0]["changes"][0]["because"],
    }
    assert data["verdicts"][0]["outcome"] == "pass"
