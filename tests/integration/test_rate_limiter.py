"""The request limiter counts hits in a fixed window and says how long to wait past it."""

from __future__ import annotations

import asyncio
import secrets
from datetime import timedelta

import pytest
from redis.exceptions import RedisError

from specialistly.infra.ratelimit import RateLimiter
from specialistly.runtime import Runtime

WINDOW = timedelta(minutes=1)


async def test_hits_over_the_limit_answer_the_rest_of_the_window(runtime: Runtime) -> None:
    key = f"test:{secrets.token_hex(6)}"
    waits = [await runtime.limiter.hit(key, limit=3, window=WINDOW) for _ in range(5)]
    assert waits[:3] == [0, 0, 0]
    assert all(1 <= wait <= 60 for wait in waits[3:])
    # Another key has a count of its own.
    assert await runtime.limiter.hit(f"{key}:other", limit=3, window=WINDOW) == 0


async def test_the_window_starts_with_its_first_hit(runtime: Runtime) -> None:
    key = f"test:{secrets.token_hex(6)}"
    await runtime.limiter.hit(key, limit=10, window=WINDOW)
    name = f"{runtime.settings.broker_namespace}:ratelimit:{key}"
    await runtime.redis.expire(name, 5)  # as if most of the window had passed
    for _ in range(3):
        await runtime.limiter.hit(key, limit=10, window=WINDOW)
    assert 0 < await runtime.redis.ttl(name) <= 5  # later hits do not extend it
    assert await runtime.redis.get(name) in (b"4", "4")


async def test_concurrent_hits_are_each_counted_once(runtime: Runtime) -> None:
    key = f"test:{secrets.token_hex(6)}"
    waits = await asyncio.gather(
        *(runtime.limiter.hit(key, limit=10, window=WINDOW) for _ in range(30))
    )
    assert sorted(waits)[:10] == [0] * 10
    assert all(wait > 0 for wait in sorted(waits)[10:])
    name = f"{runtime.settings.broker_namespace}:ratelimit:{key}"
    assert await runtime.redis.get(name) in (b"30", "30")


async def test_hits_interrupted_midway_leave_later_answers_right(runtime: Runtime) -> None:
    busy = f"test:{secrets.token_hex(6)}"
    for yields in range(6):  # interrupted at every stage of a round trip
        hits = [
            asyncio.create_task(runtime.limiter.hit(busy, limit=1000, window=WINDOW))
            for _ in range(4)
        ]
        for _ in range(yields):
            await asyncio.sleep(0)
        for hit in hits[::2]:
            hit.cancel()
        await asyncio.gather(*hits, return_exceptions=True)
        key = f"test:{secrets.token_hex(6)}"
        waits = [await runtime.limiter.hit(key, limit=2, window=WINDOW) for _ in range(3)]
        assert waits[:2] == [0, 0] and waits[2] > 0


async def test_a_dropped_connection_fails_one_hit_and_the_next_connects_again(
    runtime: Runtime,
) -> None:
    key = f"test:{secrets.token_hex(6)}"
    await runtime.limiter.hit(key, limit=10, window=WINDOW)
    connection = runtime.limiter._connection
    assert connection is not None and connection._writer is not None
    host, port = connection._writer.get_extra_info("sockname")[:2]
    await runtime.redis.client_kill(f"{host}:{port}")
    with pytest.raises(RedisError):
        await runtime.limiter.hit(key, limit=10, window=WINDOW)
    assert await runtime.limiter.hit(key, limit=10, window=WINDOW) == 0
    name = f"{runtime.settings.broker_namespace}:ratelimit:{key}"
    assert await runtime.redis.get(name) in (b"2", "2")


async def test_a_script_redis_does_not_know_is_sent_whole(runtime: Runtime) -> None:
    """As after a restart of Redis, or a flush of its scripts."""
    limiter = RateLimiter(runtime.redis, prefix=f"test:{secrets.token_hex(6)}")
    limiter._sha = "0" * 40
    try:
        assert await limiter.hit("k", limit=1, window=WINDOW) == 0
        assert await limiter.hit("k", limit=1, window=WINDOW) > 0
    finally:
        await limiter.close()
