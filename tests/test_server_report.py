"""The security-analytics report over the API: the same HTML and tables `raretrace report` writes, for
participants only."""

from __future__ import annotations

from tests.test_server_support import (
    ServerWorld,
    assert_problem,
    shared_fixture,  # noqa: F401 (fixtures)
)


def test_report_is_served_to_participants_as_self_contained_html(shared: ServerWorld) -> None:
    assert_problem(shared.client.get("/api/v1/report"), 401)
    response = shared.client.get("/api/v1/report", headers=shared.as_("jp"))
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    page = response.text
    assert "Plotly.newPlot" in page and "<script src=" not in page  # plotly inlined: works offline
    assert page.count('id="chart-') >= 5  # dependence, Sankey and unmet demand per scenario, bands
    tables = shared.client.get("/api/v1/report/tables", headers=shared.as_("jp")).json()
    assert {"dependence", "forecast"} <= set(tables)
    mining = next(r for r in tables["dependence"] if r["stage"] == "mining")
    assert abs(mining["china_share"] - 0.685) < 0.001
