"""The origin Sankey on a lot's page, read on a phone (390 px) in Debian's Chromium: every node label
is drawn whole inside the viewport and the chart's box, no two labels overlap, and none is smaller
than 10 px (issue 20: "Sankey labels legible at 390 px").

The lot: a magnet whose neodymium came from four mines through one separator, so the chart has five
columns (mines, separator's oxide, metal, magnet) and four source labels stacked in the first — the
case where long labels run into the next column's nodes on a narrow screen.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from raretrace.custody.namespaces import namespaced
from raretrace.ledger.scripted import lot
from raretrace.server.app import create_app
from raretrace.server.settings import Settings
from tests.browser import BrowserPage, browser, log_in, page  # noqa: F401
from tests.test_server_support import ServerWorld, running, server_world

MINES = ("AU-MINE2", "US-MINE2", "CA-MINE2", "BR-MINE2")
MAGNET = "urn:raretrace:lot:blend-magnet-with-a-long-identifier"
SIZES = {"phone": {"width": 390, "height": 844}, "laptop": {"width": 1400, "height": 900}}
MIN_FONT_PX = 10

LABELS = """() => [...document.querySelectorAll('div[data-element] .node-label')].map(t => {
    const r = t.getBoundingClientRect();
    const box = t.closest('.js-plotly-plot').getBoundingClientRect();
    return {text: t.textContent, left: r.left, right: r.right, top: r.top, bottom: r.bottom,
            boxLeft: box.left, boxRight: box.right, boxTop: box.top, boxBottom: box.bottom,
            font: parseFloat(getComputedStyle(t).fontSize),
            element: t.closest('div[data-element]').dataset.element};
})"""


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerWorld, str]]:
    # a legacy registry (init --open-ids): the long free-form lot id is what the labels are tested on
    w = server_world(f"sqlite:///{tmp_path_factory.mktemp('sankey') / 'registry.db'}", open_ids=True)
    chain = w.chain
    for mine in MINES:
        chain.add_facility(mine, country=mine[:2], stages=["mining"])
    chain.add_facility("EE-SEP", country="EE", stages=["separation"])
    chain.add_facility("JP-MM", country="JP", stages=["metallization", "magnet"])
    concentrates = []
    for mine in MINES:
        conc = namespaced("lot", mine, "concentrate-2026-lot-0001")
        chain.record(
            mine,
            "extract",
            deposit="test",
            outputs=[lot(conc, "concentrate", 1000.0, {"Nd": 0.20, "Pr": 0.06, "Dy": 0.01})],
        )
        chain.ship(mine, "EE-SEP", [conc])
        concentrates.append(conc)
    oxide, metal = (
        namespaced("lot", "EE-SEP", "ndpr-oxide-0001"),
        namespaced("lot", "JP-MM", "ndpr-metal-0001"),
    )
    chain.record(
        "EE-SEP",
        "process",
        stage="separation",
        inputs=[{"lot": c, "mass_kg": 1000.0} for c in concentrates],
        outputs=[lot(oxide, "separated_oxide", 1200.0, {"Nd": 0.6, "Pr": 0.18, "Dy": 0.03})],
    )
    chain.ship("EE-SEP", "JP-MM", [oxide])
    for stage, source, kg, output in (
        ("metallization", oxide, 1200.0, lot(metal, "metal", 960.0, {"Nd": 0.75, "Pr": 0.225, "Dy": 0.025})),
        (
            "magnet",
            metal,
            960.0,
            lot(MAGNET, "magnet", 3200.0, {"Nd": 0.225, "Pr": 0.0675, "Dy": 0.0075, "Fe": 0.69}),
        ),
    ):
        additions = [
            {"material": "iron and boron", "mass_kg": 2240.0, "composition": {"Fe": 0.98, "B": 0.02}}
        ]
        chain.record(
            "JP-MM",
            "process",
            stage=stage,
            inputs=[{"lot": source, "mass_kg": kg}],
            outputs=[output],
            additions=additions if stage == "magnet" else [],
        )
    from raretrace.ledger.participants import add_participant, issue_token

    add_participant(w.registry.engine, "jpmm", "JP magnet maker", "operator", ["JP-MM"])
    w.tokens["jpmm"] = issue_token(w.registry.engine, "jpmm").token
    with running(create_app(Settings(secure_cookies=False), registry=w.registry)) as url:
        yield w, url


def _settled(page: BrowserPage) -> list[dict[str, Any]]:  # noqa: F811
    """The labels once plotly's transitions have ended: two reads 250 ms apart agree."""
    before = page.evaluate(LABELS)
    for _ in range(40):
        page.wait_for_timeout(250)
        now = page.evaluate(LABELS)
        if now == before:
            return list(now)
        before = now
    raise AssertionError("the Sankey labels never stopped moving")


def _overlap(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return min(a["right"], b["right"]) - max(a["left"], b["left"]) > 0.5 and (
        min(a["bottom"], b["bottom"]) - max(a["top"], b["top"]) > 0.5
    )


@pytest.mark.parametrize("size", sorted(SIZES))
@pytest.mark.parametrize("who", ["auditor", "jpmm"])
def test_sankey_labels_are_legible(
    served: tuple[ServerWorld, str],
    page: BrowserPage,  # noqa: F811
    size: str,
    who: str,
) -> None:
    w, url = served
    page.set_viewport_size(SIZES[size])
    log_in(page, url, w.tokens[who])
    page.goto(f"{url}/lots/{MAGNET}")
    page.wait_for_function("document.querySelectorAll('div[data-element] .node-label').length >= 7")
    if size == "phone":  # the narrow layout is in place (charts.NARROW_SANKEY)
        page.wait_for_function(
            "[...document.querySelectorAll('div[data-element] .js-plotly-plot')].every(p => p.dataset.fitted)"
        )
    labels = _settled(page)
    width = SIZES[size]["width"]
    by_chart: dict[str, list[dict[str, Any]]] = {}
    for label in labels:
        by_chart.setdefault(label["element"], []).append(label)
        where = f"{label['text']!r} ({label['element']}, {size}, {who})"
        assert label["text"].strip(), where
        assert label["font"] >= MIN_FONT_PX, f"{where}: {label['font']} px"
        assert label["left"] >= -0.5 and label["right"] <= width + 0.5, f"{where} leaves the screen: {label}"
        assert label["left"] >= label["boxLeft"] - 0.5 and label["right"] <= label["boxRight"] + 0.5, where
        assert label["top"] >= label["boxTop"] - 0.5 and label["bottom"] <= label["boxBottom"] + 0.5, where
    assert len(by_chart) >= 3  # Nd, Pr, Dy at least
    for element, shown in by_chart.items():
        assert len(shown) == 7, (element, [x["text"] for x in shown])  # 4 mines, oxide, metal, magnet
        for i, a in enumerate(shown):
            for b in shown[i + 1 :]:
                assert not _overlap(a, b), f"{element} at {size}: {a['text']!r} overlaps {b['text']!r}"
    assert page.errors == []
