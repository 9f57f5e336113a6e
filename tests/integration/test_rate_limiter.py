"""The request limiter counts hits in a fixed window and says how long to wait past it."""

from __future__ import annotations

import secrets
from datetime import timedelta

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
