"""The limits the benchmarks measure raretrace against are the same work: the bare numpy forecast gives
raretrace's months and bands (bit for bit, its bands being numpy's quantiles) on raretrace's draws and
the same distribution on its own, its check tells a different distribution apart, the HTTP floor
answers every request, and nginx serves the published files byte for byte (when nginx is installed)."""

from __future__ import annotations

import asyncio
import shutil
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from raretrace.world.forecast import draw, simulate
from tests.shared_files import UNDER_CI

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

import bench_forecast
import bench_server
import bench_static_tiles


@pytest.fixture(scope="module")
def forecast() -> Any:
    return bench_forecast.model(120)


def test_bare_forecast_on_our_draws_gives_our_months_and_bands(forecast: Any) -> None:
    ours = simulate(forecast, paths=3_000, seed=5, quantiles=bench_forecast.QUANTILES)
    drawn = draw(forecast, 3_000, 5)
    # the bare model reads (projects, paths) draws and alive as booleans
    first, bands = bench_forecast.Bare(forecast).run(drawn.delay.T, drawn.ramp.T, drawn.alive.T > 0)
    assert np.array_equal(first, ours.first_covered)
    assert (first >= 0).any() and (first < 0).any()  # both branches of "first covered" are exercised
    expected = np.array([ours.supply_quantiles[q] for q in bench_forecast.QUANTILES])
    assert bands.tobytes() == expected.tobytes()  # the same floats, not merely close


@pytest.mark.parametrize("n", [1, 2, 3, 10, 11, 1_001])
def test_bare_bands_are_numpys_quantiles_bit_for_bit(n: int) -> None:
    rng = np.random.default_rng(n)
    supply = np.round(rng.normal(size=(5, n)), 1)  # rounded: ties, as the supply has in its late months
    for levels in [(0.1, 0.5, 0.9), (0.0, 1.0), (0.25, 0.2500001, 0.75), (0.999,)]:
        expected = np.quantile(supply, levels, axis=1)
        assert bench_forecast.bands(supply.copy(), levels).tobytes() == expected.tobytes()


def test_bare_forecast_own_draws_agree_in_law_and_a_shift_does_not(forecast: Any) -> None:
    ours = simulate(forecast, paths=5_000, seed=1).first_covered
    bare, _ = bench_forecast.Bare(forecast).simulate(5_000, 1)
    assert not np.array_equal(bare, ours)  # other draws, not a copy
    assert bench_forecast.same_distribution(ours, bare)[0]
    later = np.where(bare >= 0, bare + 3, bare)  # three months later: a different forecast
    assert not bench_forecast.same_distribution(ours, later)[0]


def test_http_floor_reads_the_body_and_answers_the_fixed_body() -> None:
    sent: list[dict[str, Any]] = []
    parts = iter([{"body": b"a" * 10, "more_body": True}, {"body": b"b", "more_body": False}])
    read: list[int] = []

    async def receive() -> dict[str, Any]:
        read.append(1)
        return next(parts)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    # in a thread of its own: a test before this one in the same worker may hold a running loop here
    with ThreadPoolExecutor(1) as thread:
        thread.submit(asyncio.run, bench_server.floor_app({"type": "http"}, receive, send)).result()
    assert len(read) == 2
    assert sent[0]["status"] == 200
    length = dict(sent[0]["headers"])[b"content-length"]
    assert int(length) == len(sent[1]["body"]) == len(bench_server.FLOOR_BODY)


def test_nginx_serves_the_files_byte_for_byte(tmp_path: Path) -> None:
    if shutil.which("nginx") is None and not Path("/usr/sbin/nginx").exists():
        reason = "nginx is not installed (the benchmark and .ci/run install it; a test does not)"
        if UNDER_CI:
            pytest.fail(reason + " (CI=true: this test must run)")
        pytest.skip(reason)
    import httpx

    root = tmp_path / "published"
    (root / "tile" / "0").mkdir(parents=True)
    blob = bytes(range(256)) * 40
    (root / "tile" / "0" / "000").write_bytes(blob)
    port = bench_server.free_port()
    process, note = bench_static_tiles.start_nginx(root, tmp_path, port)
    assert process is not None, note
    try:
        answer = httpx.get(f"http://127.0.0.1:{port}/tile/0/000")
        assert answer.status_code == 200 and answer.content == blob
        assert httpx.get(f"http://127.0.0.1:{port}/tile/0/001").status_code == 404
    finally:
        process.terminate()
        process.wait(timeout=30)
