"""Fixed-window rate limits counted in Redis, so every API instance shares them."""

from __future__ import annotations

import logging
import math
from datetime import timedelta
from typing import TYPE_CHECKING

from redis.asyncio import Redis
from redis.exceptions import RedisError
from starlette.requests import HTTPConnection
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from specialistly.core.errors import DomainError, ErrorCode
from specialistly.infra.auth import bearer_token

if TYPE_CHECKING:
    from specialistly.runtime import Runtime

log = logging.getLogger("specialistly.infra.ratelimit")


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
                ErrorCode.RATE_LIMITED, f"Too many {what}; try again in {minutes} minute(s)."
            )


class RequestRateLimit:
    """Limits requests to the given paths per minute: per user for a valid bearer token,
    per client address otherwise. Over the limit: 429 with Retry-After.

    It fails open: while Redis is unreachable requests pass (readiness reports the outage).
    """

    def __init__(self, app: ASGIApp, paths: tuple[str, ...] = ("/graphql",)) -> None:
        self.app = app
        self.paths = paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] not in self.paths:
            await self.app(scope, receive, send)
            return
        runtime = scope["app"].state.runtime
        key, limit = _bucket(HTTPConnection(scope), runtime)
        try:
            wait = await runtime.limiter.hit(key, limit=limit, window=timedelta(minutes=1))
        except RedisError:
            log.warning("rate limit not checked: Redis is unreachable")
            wait = 0
        if wait:
            body = {
                "errors": [
                    {
                        "message": f"Too many requests; try again in {wait} s.",
                        "extensions": {"code": ErrorCode.RATE_LIMITED.value},
                    }
                ]
            }
            headers = {"Retry-After": str(wait)}
            await JSONResponse(body, status_code=429, headers=headers)(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _bucket(connection: HTTPConnection, runtime: Runtime) -> tuple[str, int]:
    settings = runtime.settings
    token = bearer_token(connection)
    if token:
        try:
            user_id, _ = runtime.tokens.verified_claims(token)
            return f"requests:user:{user_id}", settings.requests_per_minute_user
        except DomainError:
            pass  # counted by address, like any anonymous request
    address = connection.client.host if connection.client else "unknown"
    return f"requests:ip:{address}", settings.requests_per_minute_anonymous
