"""The lineage graph an operator sees, in Debian's Chromium: every box shows the form and mass of the
lot it stands for, hidden lots included, and each sits in its generation's column.

The world: the Japanese reference chain (CN concentrate 1000 kg → CN oxide 300 kg → CN metal 240 kg →
JP magnet 800 kg), then the magnet shipped to another participant's assembler that makes a 2,500 kg
component of it. Logged in as the magnet maker, the concentrate, the oxide and the component are other
participants' lots: three hidden boxes, upstream and downstream at once — the case where numbering the
up and down traces separately gave two lots one name and drew the ore as "component · 2500 kg".

The expected forms, masses and generations come from the events this test records, read back through the
unredacted lineage (as the auditor sees it), not from the page.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from raretrace.custody.namespaces import namespaced
from raretrace.ledger.scripted import lot
from raretrace.server.app import create_app
from raretrace.server.settings import Settings
from tests.browser import BrowserPage, browser, log_in, page  # noqa: F401
from tests.test_server_support import (
    JP_CONC,
    JP_MAGNET,
    JP_METAL,
    JP_OXIDE,
    ServerWorld,
    running,
    server_world,
)
from tests.trace_json import down_json, up_json

COMPONENT = namespaced("lot", "XX-ASM", "asm-motor")
#: generation of each lot relative to the magnet, as the chain was recorded (inputs before outputs)
GENERATION = {JP_CONC: -3, JP_OXIDE: -2, JP_METAL: -1, JP_MAGNET: 0, COMPONENT: 1}
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerWorld, str]]:
    w = server_world(f"sqlite:///{tmp_path_factory.mktemp('lineage') / 'registry.db'}")
    w.chain.add_facility("XX-ASM", country="DE", stages=["component"])
    w.chain.ship("JP-MAG", "XX-ASM", [JP_MAGNET])
    w.chain.record(
        "XX-ASM",
        "assemble",
        stage="component",
        inputs=[{"lot": JP_MAGNET, "mass_kg": 800.0}],
        outputs=[lot(COMPONENT, "component", 2500.0, {"Nd": 0.072, "Pr": 0.0216, "Dy": 0.0024, "Fe": 0.9})],
        additions=[{"material": "steel housing", "mass_kg": 1700.0, "composition": {"Fe": 1.0}}],
    )
    app = create_app(Settings(secure_cookies=False), registry=w.registry)
    with running(app) as url:
        yield w, url


def _boxes(page: BrowserPage) -> list[dict[str, Any]]:  # noqa: F811
    """What each box of the graph shows: its two lines of text and its column (x)."""
    return list(
        page.evaluate(
            """() => [...document.querySelectorAll('#lineage-graph g.lineage-box')].map(g => ({
                texts: [...g.querySelectorAll('text')].map(t => t.textContent.trim()),
                x: Number(g.querySelector('rect').getAttribute('x')),
                linked: g.querySelector('a') !== null,
            }))"""
        )
    )


def _shown(text: str) -> tuple[str, float]:
    """``"separated_oxide · 1,000 kg"`` → ``("separated_oxide", 1000.0)``."""
    found = re.fullmatch(r"(\S+) · ([\d,.]+) kg", text)
    assert found, f"box detail {text!r} is not 'form · mass kg'"
    return found[1], float(found[2].replace(",", ""))


@pytest.mark.parametrize("viewport", [{"width": 1400, "height": 900}, PHONE], ids=["laptop", "phone"])
def test_every_box_shows_the_form_and_mass_of_its_lot(
    served: tuple[ServerWorld, str],
    page: BrowserPage,  # noqa: F811
    viewport: dict[str, int],
) -> None:
    w, url = served
    up, down = up_json(w.registry, JP_MAGNET), down_json(w.registry, JP_MAGNET)
    truth = {**up["lots"], **down["lots"]}  # unredacted, as the auditor sees the lineage
    assert set(truth) == set(GENERATION)
    assert (truth[COMPONENT]["form"], truth[COMPONENT]["mass_kg"]) == ("component", 2500.0)
    page.set_viewport_size(viewport)
    log_in(page, url, w.tokens["jp"])
    page.goto(f"{url}/lots/{JP_MAGNET}")
    page.wait_for_selector("#lineage-graph")
    boxes = _boxes(page)
    assert len(boxes) == len(GENERATION), boxes  # one box per lot: no two lots merged into one
    columns = sorted({b["x"] for b in boxes})
    assert len(columns) == 5
    # the lots in the order of their generations, one per column here
    expected = [truth[lot_id] for lot_id in sorted(GENERATION, key=GENERATION.__getitem__)]
    by_column = sorted(boxes, key=lambda b: b["x"])
    for box, want in zip(by_column, expected, strict=True):
        assert _shown(box["texts"][1]) == (want["form"], pytest.approx(want["mass_kg"])), box
    hidden = [b for b in by_column if b["texts"][0].startswith("hidden-")]
    assert [b["linked"] for b in hidden] == [False, False, False]
    assert len({b["texts"][0] for b in hidden}) == 3  # three hidden lots, three names
    assert {_shown(b["texts"][1])[0] for b in hidden} == {"concentrate", "separated_oxide", "component"}
    page_text = page.content()
    assert "jp-conc" not in page_text and "jp-ox" not in page_text and "asm-motor" not in page_text
    assert page.errors == []
