"""Rate limits in a Redis (server/ratestore_redis.py): several machines serving one registry spend from
the same buckets, each decision atomic. Needs a Redis at $RARETRACE_TEST_REDIS (default
redis://127.0.0.1:6379/15); without one the tests skip, except under CI=true, where they fail."""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from raretrace.errors import StoreError, ValidationError
from raretrace.server.app import create_app
from raretrace.server.ratelimit import RateLimits
from raretrace.server.ratestore import Rate, Spend, open_store
from raretrace.server.ratestore_redis import SALT_KEY, RedisRates
from raretrace.server.settings import Settings
from tests.chain_fixtures import new_registry
from tests.shared_files import UNDER_CI

REDIS_URL = os.environ.get("RARETRACE_TEST_REDIS", "redis://127.0.0.1:6379/15")


@pytest.fixture(name="redis_url", scope="module")
def redis_url_fixture() -> str:
    try:
        RedisRates.from_url(REDIS_URL).close()
    except (StoreError, ValidationError) as e:
        if UNDER_CI:
            pytest.fail(f"{e.message} (CI=true: the Redis tests must run)")
        pytest.skip(e.message)
    return REDIS_URL


@pytest.fixture(name="store")
def store_fixture(redis_url: str) -> Iterator[RedisRates]:
    store = RedisRates.from_url(redis_url)
    yield store
    store.close()


def fresh(limit: Rate) -> list[Spend]:
    """A request spending from a bucket no other test or run has touched."""
    return [(b"test", uuid.uuid4().bytes, limit)]


def test_a_bucket_passes_its_burst_then_waits_a_period(store: RedisRates) -> None:
    """Rate 0.001/s, burst 4: four pass at once; the fifth waits (by hand) until the key's time, 4,000 s
    ahead, is no more than (4 - 1) x 1,000 s ahead: 1,000 s, less the time the requests took."""
    request = fresh(Rate(0.001, 4.0))
    assert [store.take(request, 0.0) for _ in range(4)] == [0.0] * 4
    assert store.take(request, 0.0) == pytest.approx(1000.0, abs=5.0)
    assert store.take(fresh(Rate(0.001, 4.0)), 0.0) == 0.0  # another key has its own bucket


def test_a_bucket_refills_with_the_redis_clock(store: RedisRates) -> None:
    request = fresh(Rate(20.0, 1.0))  # one request per 50 ms
    assert store.take(request, 0.0) == 0.0
    wait = store.take(request, 0.0)
    assert 0 < wait <= 0.05
    time.sleep(wait + 0.02)
    assert store.take(request, 0.0) == 0.0


def test_a_refusal_spends_nothing_after_it(store: RedisRates) -> None:
    single = Rate(0.001, 1.0)
    address, token = uuid.uuid4().bytes, uuid.uuid4().bytes
    both: list[Spend] = [(b"address", address, single), (b"token", token, single)]
    assert store.take(both, 0.0) == 0.0
    assert store.take(both, 0.0) > 0
    assert store.take([(b"token", token, single)], 0.0) > 0  # spent once, by the first request only
    assert store.take([(b"token", uuid.uuid4().bytes, single)], 0.0) == 0.0


def test_machines_share_one_bucket_and_no_pass_is_counted_twice(redis_url: str) -> None:
    """Four clients (as four servers would have), each with its own connection, spending one bucket
    of 100 at once: exactly 100 passes between them (the script decides atomically)."""
    request = fresh(Rate(0.001, 100.0))
    passes = [0] * 4
    start = threading.Barrier(4)

    def spend(i: int) -> None:
        store = RedisRates.from_url(redis_url)
        start.wait()
        passes[i] = sum(store.take(request, 0.0) == 0.0 for _ in range(60))
        store.close()

    threads = [threading.Thread(target=spend, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sum(passes) == 100, passes


def test_the_salt_is_made_once_and_keys_are_salted(store: RedisRates, redis_url: str) -> None:
    other = RedisRates.from_url(redis_url)
    try:
        assert other.salt() == store.salt() and len(store.salt()) == 32
    finally:
        other.close()
    value = uuid.uuid4().bytes
    store.take([(b"address", value, Rate(0.001, 2.0))], 0.0)
    client = store._client
    assert client.exists(SALT_KEY)
    assert not any(value in key for key in client.scan_iter(match=b"{raretrace-rates}:*", count=1000))


def test_two_servers_sharing_a_redis_keep_one_limit(redis_url: str, tmp_path: Path) -> None:
    """Two apps (two machines behind a balancer) with --rate-address 5 sharing the Redis: the client's
    requests, alternating between them, pass the burst of 10 plus 5 a second in all, not twice that.
    Each app has its own table when no Redis is named: then twice as many pass."""
    registry = new_registry(f"sqlite:///{tmp_path / 'r.db'}")

    def passes(rate_store: str | None) -> tuple[int, float]:
        settings = Settings(dev=True, rate_per_address=5.0, rate_per_token=0.0, rate_store=rate_store)
        apps = [create_app(settings, registry=registry) for _ in range(2)]
        # a client address of its own per run: a fresh bucket in the shared Redis
        address = f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"
        clients = [TestClient(a, client=(address, 50000)) for a in apps]
        began = time.monotonic()
        statuses = [clients[i % 2].get("/healthz").status_code for i in range(40)]
        elapsed = time.monotonic() - began
        for client in clients:
            client.close()
        assert set(statuses) <= {200, 429}, statuses
        return statuses.count(200), elapsed

    shared, elapsed = passes(redis_url)
    assert 10 <= shared <= 10 + 5 * elapsed + 1, (shared, elapsed)
    apart, elapsed = passes(None)
    assert apart >= 20, (apart, elapsed)  # each machine's own burst of 10


def test_a_redis_that_does_not_answer_is_refused_at_start_and_503_later() -> None:
    """At start the server refuses to run on limits it cannot keep; a Redis lost later turns each
    request into a 503 with Retry-After, never into an unlimited one or a traceback."""
    with pytest.raises(StoreError, match="does not answer"):
        open_store(None, "redis://127.0.0.1:1/0")
    with pytest.raises(ValidationError, match="not a Redis URL"):
        open_store(None, "http://127.0.0.1:6379/0")
    from redis import Redis
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    lost = RedisRates(Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.5))
    inner = Starlette(routes=[Route("/", lambda _: PlainTextResponse("served"))])
    limited = RateLimits(inner, per_token=Rate(5.0, 10.0), per_address=Rate(5.0, 10.0), table=lost)
    with TestClient(limited) as client:
        answer = client.get("/")
    assert answer.status_code == 503 and answer.headers["Retry-After"] == "1", answer.text
    assert answer.json()["type"].endswith("/rate-store")
