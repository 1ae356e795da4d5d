"""The request-rate buckets in a Redis, for a registry served by several machines behind one balancer
(``raretrace serve --rate-store redis://host:6379/0``): every machine's every worker spends from the
same buckets, where the shared table (``server/ratestore.py``) only joins the processes of one machine.

One decision is one Lua script (GCRA, as the table: each key holds its theoretical arrival time), so it
is atomic however many servers ask at once: Redis runs a script to its end before anything else. The
clock is Redis's own (``TIME``), one for every machine, so the servers' clocks need not agree. Keys
are digests keyed with a random salt the store makes once, when it is first used (``SET NX``: the first
server to start makes it, the others read it), so no one can grind addresses or tokens into one key.
Every key expires once its bucket is full again: the Redis holds the clients of the last few seconds.

If the Redis cannot be reached, a request is refused with 503 rather than let through unlimited (the
limits are what keeps one participant from starving the others): run the Redis as the database is
run, with a replica to fail over to.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

from raretrace.errors import StoreError, ValidationError
from raretrace.server.ratestore import SALT_BYTES, Spend, salted_key

if TYPE_CHECKING:
    from redis import Redis

#: Every key of the store starts with this; the braces are a Redis Cluster hash tag, so all of them
#: live in one slot and one script may touch any of them.
PREFIX = b"{raretrace-rates}:"
SALT_KEY = PREFIX + b"salt"

#: KEYS: the buckets in order; ARGV: period and burst of each. Returns "0" if every bucket passed, else
#: the seconds until the first refusing one would pass (the buckets after it are not touched), as text:
#: a Lua number would come back as an integer.
GCRA = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
for i, key in ipairs(KEYS) do
  local period = tonumber(ARGV[2 * i - 1])
  local burst = tonumber(ARGV[2 * i])
  local arrival = tonumber(redis.call('GET', key)) or now
  if arrival < now then arrival = now end
  local ahead = arrival - now - (burst - 1) * period
  if ahead > 0 then return string.format('%.17g', ahead) end
  local after = arrival + period
  redis.call('SET', key, string.format('%.17g', after), 'PX', math.ceil((after - now) * 1000) + 1)
end
return '0'
"""


class RedisRates:
    """``RateStore`` on a Redis; ``now`` is ignored (the Redis's clock decides). Each decision is a
    round trip, so the server makes it in a worker thread, not on its event loop."""

    remote = True

    def __init__(self, client: Redis) -> None:
        from redis.exceptions import RedisError

        self._client = client
        self._script = client.register_script(GCRA)
        self._salt = b""
        self._failure = RedisError

    @classmethod
    def from_url(cls, url: str) -> RedisRates:
        """The store at ``url`` (``redis://``, ``rediss://`` or ``unix://``), checked at once: a server
        must not start on limits it cannot keep."""
        try:
            from redis import Redis
            from redis.exceptions import RedisError
        except ImportError as e:  # an optional dependency: pip install 'raretrace[redis]'
            raise ValidationError(
                "--rate-store redis://… needs the redis client: pip install 'raretrace[redis]'",
                field="rate_store",
            ) from e
        try:
            client = Redis.from_url(url, socket_timeout=2.0, socket_connect_timeout=2.0)
        except ValueError as e:
            raise ValidationError(f"{url!r} is not a Redis URL ({e})", field="rate_store") from e
        store = cls(client)
        try:
            store.salt()
        except RedisError as e:
            raise StoreError(f"the rate store at {url} does not answer: {e}", field="rate_store") from e
        return store

    def close(self) -> None:
        self._client.close()

    def salt(self) -> bytes:
        """The store's salt, made by the first server that asks (read, not replaced, by the others)."""
        if not self._salt:
            self._client.set(SALT_KEY, os.urandom(SALT_BYTES), nx=True)
            salt = self._client.get(SALT_KEY)
            if not isinstance(salt, bytes) or len(salt) != SALT_BYTES:
                raise StoreError(f"{SALT_KEY.decode()} in the rate store is not a salt", field="rate_store")
            self._salt = salt
        return self._salt

    def take(self, requests: Sequence[Spend], now: float) -> float:
        """``RateStore.take``; a Redis that does not answer is a ``StoreError`` (the server: 503)."""
        try:
            salt = self.salt()
            keys = [PREFIX + salted_key(salt, kind, value) for kind, value, _ in requests]
            args: list[float] = []
            for _, _, limit in requests:
                args += [1.0 / limit.rate, limit.burst]
            return float(self._script(keys=keys, args=args))
        except self._failure as e:
            raise StoreError(f"the rate store does not answer: {e}", field="rate_store") from e
