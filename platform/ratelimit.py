"""Fixed-window rate limits counted in Redis, so every API instance shares them."""

from __future__ import annotations

import math
from datetime import timedelta

from redis.asyncio import Redis

from specialistly.core.errors import DomainError


class RateLimiter:
    def __init__(self, redis: Redis, prefix: str = "ratelimit") -> None:
        self._redis = redis
        self._prefix = prefix

    async def hit(self, key: str, *, limit: int, window: timedelta) -> int:
        """Count one hit; returns the seconds to wait if over the limit, else 0."""
        seconds = max(1, int(window.total_seconds()))
        name = f"{self._prefix}:{key}"
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.incr(name)
            pipe.expire(name, seconds, nx=True)
            pipe.ttl(name)
            count, _, ttl = await pipe.execute()
        return max(1, int(ttl)) if int(count) > limit else 0

    async def reset(self, key: str) -> None:
        await self._redis.delete(f"{self._prefix}:{key}")

    async def enforce(self, key: str, *, limit: int, window: timedelta, what: str) -> None:
        wait = await self.hit(key, limit=limit, window=window)
        if wait:
            minutes = math.ceil(wait / 60)
            raise DomainError.of(
                "RATE_LIMITED", f"Too many {what}; try again in {minutes} minute(s)."
            )
