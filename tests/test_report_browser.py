"""The HTML report opens in a real (headless) browser with every chart drawn and no errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from raretrace.cli.main import app
from tests.browser import BrowserPage, browser, page  # noqa: F401  (pytest fixtures)

_CHARTS = """() => [...document.querySelectorAll('.plotly-graph-div')].map(d => ({
  id: d.id,
  types: (d._fullData || []).map(t => t.type),
  svg: d.querySelectorAll('svg.main-svg').length,
  lines: d.querySelectorAll('.scatterlayer .trace path.js-line').length,
  bars: d.querySelectorAll('.barlayer .trace .point path').length,
  nodes: d.querySelectorAll('.sankey-node').length,
  links: d.querySelectorAll('.sankey-link').length,
  cells: d.querySelectorAll('.table .cell-text').length,
}))"""


def _report(tmp_path: Path) -> Path:
    out = tmp_path / "report.html"
    result = CliRunner().invoke(app, ["report", "--out", str(out), "--paths", "200", "--seed", "3"])
    assert result.exit_code == 0, result.output
    return out


def test_report_draws_every_chart(tmp_path: Path, page: BrowserPage) -> None:  # noqa: F811
    out = _report(tmp_path)
    html = out.read_text(encoding="utf-8")
    assert "<script src=" not in html  # plotly's JavaScript is inlined
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))

    page.goto(out.as_uri())
    page.wait_for_function(
        "[...document.querySelectorAll('.plotly-graph-div')].length > 0 && "
        "[...document.querySelectorAll('.plotly-graph-div')].every(d => d._fullLayout)"
    )
    charts: list[dict[str, Any]] = page.evaluate(_CHARTS)
    ids = {c["id"] for c in charts}
    expected = {
        "chart-dependence",
        "chart-premiums",
        "chart-sensitivity",
        "chart-economics-table",
    }
    expected |= {f"chart-coverage-{c}" for c in ("NdPr", "Dy", "Tb", "NdFeB")}
    for name in ("cn-magnet-ban-us", "cn-heavy-ree-ban-us", "japan-2010-replay"):
        expected |= {f"chart-sankey-{name}", f"chart-unmet-{name}"}
    # the price sections: the back-test, a tornado per line, the priced scenario's markets, element costs
    expected |= {"chart-backtest", "chart-economics-elements", "chart-tornado-Dy-defense"}
    expected |= {f"chart-market-cn-heavy-ree-ban-us-{e}" for e in ("Dy", "Tb")}
    assert expected <= ids, sorted(ids)

    for chart in charts:
        assert chart["svg"] >= 1, chart
        types = set(chart["types"])
        assert types, chart
        if "sankey" in types:
            assert chart["nodes"] >= 3 and chart["links"] >= 2, chart
        if "scatter" in types:
            assert chart["lines"] == chart["types"].count("scatter"), chart  # every line trace drawn
        if "bar" in types:
            assert chart["bars"] >= len(chart["types"]), chart
        if "table" in types:
            assert chart["cells"] >= 8, chart
    # the forecast band: a filled area between the p10 and p90 lines
    band = page.evaluate(
        "document.querySelectorAll('#chart-coverage-NdFeB .scatterlayer .trace path.js-fill').length"
    )
    assert band >= 1

    shot = tmp_path / "report.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    assert page.errors == []
    assert [u for u in requests if not u.startswith(("file:", "data:", "blob:"))] == []  # no network


def test_missing_chromium_skips_or_fails_under_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    import tests.browser as helper

    monkeypatch.delenv("RARETRACE_CHROMIUM", raising=False)
    monkeypatch.setattr(helper, "CHROMIUM_PATHS", ("/nonexistent/chromium",))
    monkeypatch.setattr("shutil.which", lambda name: None)
    assert helper.chromium_path() is None
    monkeypatch.setattr(helper, "UNDER_CI", False)
    with pytest.raises(pytest.skip.Exception, match="no Chromium executable"):
        helper.launch(object())
    monkeypatch.setattr(helper, "UNDER_CI", True)
    with pytest.raises(pytest.fail.Exception, match="CI=true"):
        helper.launch(object())
