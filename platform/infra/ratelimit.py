"""Fixed-window rate limits counted in Redis, so every API instance shares them.

Every refusal has one shape: the code RATE_LIMITED, the seconds to wait in the message,
and over HTTP a `Retry-After` header. A request refused as a whole (too many requests)
answers HTTP 429 with the seconds also in `extensions.retryAfter`; a mutation refused by
its own limit (login, register) answers its payload error on HTTP 200, because the rest
of the request ran, and the response still carries `Retry-After`. An operation refused on
a WebSocket gets an `error` message shaped like the 429's errors.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from redis.asyncio import Connection, Redis
from redis.exceptions import NoScriptError, RedisError, ResponseError
from starlette.requests import HTTPConnection
from starlette.responses import JSONResponse
from starlette.types import Receive, Scope, Send

from specialistly.core.errors import DomainError, ErrorCode, Problem
from specialistly.infra.auth import bearer_token
from specialistly.infra.metrics.redis_client import timed

if TYPE_CHECKING:
    from specialistly.runtime import Runtime

log = logging.getLogger("specialistly.infra.ratelimit")


class RateLimitedError(DomainError):
    """A refusal by a limit; the HTTP response being answered carries its Retry-After."""

    def __init__(self, what: str, retry_after: int) -> None:
        super().__init__(
            Problem(ErrorCode.RATE_LIMITED, f"Too many {what}; try again in {retry_after} s.")
        )
        self.retry_after = retry_after
        refusals = request_refusals.get()
        if refusals is not None:
            refusals.retry_after = max(refusals.retry_after, retry_after)


@dataclass
class Refusals:
    """The longest wait a limit asked for while one HTTP request was being answered (set
    around each by `infra.edge`, for the response's Retry-After)."""

    retry_after: int = 0


request_refusals: ContextVar[Refusals | None] = ContextVar("rate_limit_refusals", default=None)


# One round trip and one command: count the hit, start the window with the first hit of
# it, and answer the seconds left in the window when the count is over the limit, else 0.
# Atomic, as scripts are in Redis.
_HIT = """
local count = redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], ARGV[1], 'NX')
if count <= tonumber(ARGV[2]) then
    return 0
end
return math.max(1, redis.call('TTL', KEYS[1]))
"""


class RateLimiter:
    """Counts hits on a connection of its own, one command at a time: every request is
    counted, and redis-py's client (its pool, retries and observability) costs more per
    command than the count itself. A failed or interrupted command drops the connection
    (its reply may be unread); the next hit connects again."""

    def __init__(self, redis: Redis, prefix: str = "ratelimit") -> None:
        self._prefix = prefix
        self._pool = redis.connection_pool
        self._connection: Connection | None = None
        self._turn = asyncio.Lock()
        self._sha = hashlib.sha1(_HIT.encode()).hexdigest()  # noqa: S324 (Redis's script id)

    async def hit(self, key: str, *, limit: int, window: timedelta) -> int:
        """Count one hit; returns the seconds to wait if over the limit, else 0."""
        seconds = max(1, int(window.total_seconds()))
        name = f"{self._prefix}:{key}"
        async with self._turn:
            with timed("EVALSHA"):
                try:
                    wait = await self._call("EVALSHA", self._sha, 1, name, seconds, limit)
                except NoScriptError:  # Redis restarted or flushed its scripts
                    wait = await self._call("EVAL", _HIT, 1, name, seconds, limit)
        return int(wait)

    async def _call(self, *args: str | int) -> Any:
        connection = self._connection
        if connection is None:
            # The pool's settings (address, credentials, database, TLS), not one of its own.
            made = self._pool.make_connection()  # type: ignore[no-untyped-call]
            connection = self._connection = made
        try:
            # Connects first when not connected; either call disconnects on a failure.
            await connection.send_command(*args, check_health=False)
            return await connection.read_response()
        except ResponseError:
            raise  # an answer: the connection is in step
        except BaseException:
            self._connection = None
            raise

    async def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            await connection.disconnect()

    async def enforce(self, key: str, *, limit: int, window: timedelta, what: str) -> None:
        """Count one hit; over the limit raise RateLimitedError, and let the HTTP response that
        is being answered carry Retry-After."""
        wait = await self.hit(key, limit=limit, window=window)
        if wait:
            raise RateLimitedError(what, wait)


async def request_wait(runtime: Runtime, token: str | None, address: str) -> int:
    """Count one request (or WebSocket operation) against the per-minute limits: per user
    for a valid bearer token, per client address otherwise. Returns the seconds to wait if
    over the limit, else 0; fails open while Redis is unreachable (readiness reports it)."""
    settings = runtime.settings
    key, limit = f"requests:ip:{address}", settings.requests_per_minute_anonymous
    if token:
        try:
            user_id, _ = runtime.tokens.verified_claims(token)
            key, limit = f"requests:user:{user_id}", settings.requests_per_minute_user
        except DomainError:
            pass  # counted by address, like any anonymous request
    try:
        return await runtime.limiter.hit(key, limit=limit, window=timedelta(minutes=1))
    except RedisError:
        log.warning("rate limit not checked: Redis is unreachable")
        return 0


def too_many_requests(wait: int) -> dict[str, Any]:
    """The GraphQL error of a request or operation refused by `request_wait`."""
    return {
        "message": f"Too many requests; try again in {wait} s.",
        "extensions": {"code": ErrorCode.RATE_LIMITED.value, "retryAfter": wait},
    }


async def request_limit(scope: Scope, receive: Receive, send: Send) -> bool:
    """Counts an HTTP request (see `request_wait`); over the limit, answers it with 429 and
    Retry-After, and returns True."""
    connection = HTTPConnection(scope)
    address = connection.client.host if connection.client else "unknown"
    runtime = scope["app"].state.runtime
    wait = await request_wait(runtime, bearer_token(connection), address)
    if not wait:
        return False
    body = {"errors": [too_many_requests(wait)]}
    headers = {"Retry-After": str(wait)}
    await JSONResponse(body, status_code=429, headers=headers)(scope, receive, send)
    return True
