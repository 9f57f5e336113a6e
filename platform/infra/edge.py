"""Every request's way in and out of the API, in one ASGI layer.

In order, for HTTP: measured (`metrics.http`) from its first byte in to its last out;
given a request id (`logs`), echoed as `X-Request-ID` and carried by its log lines, and
logged once answered; a body over the limit refused with 413 (`hardening`); a GraphQL
request over the per-minute limits refused with 429 (`ratelimit`); and every answer given
the security headers (`hardening`) and, when a limit inside the request refused
something, `Retry-After`. A WebSocket gets its request id and its log line.

One layer rather than one middleware per concern: each layer costs every request a
coroutine and a wrapper around each message sent, more than most of these concerns.
"""

from __future__ import annotations

from time import perf_counter

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from specialistly.infra.hardening import (
    BodyTooLargeError,
    add_security_headers,
    declared_too_large,
    limit_body,
    refuse_body,
)
from specialistly.infra.logs import log_request, request_id, request_id_of
from specialistly.infra.metrics.http import observe_request
from specialistly.infra.ratelimit import Refusals, request_limit, request_refusals


class HttpEdge:
    """See the module. Providers' webhooks (plugin routes) are deliberately not rate
    limited: their signatures protect them, and a burst of genuine deliveries must never
    be refused."""

    def __init__(
        self, app: ASGIApp, max_body_bytes: int, limited_paths: tuple[str, ...] = ("/graphql",)
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.limited_paths = limited_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self._http(scope, receive, send)
        elif scope["type"] == "websocket":
            await self._websocket(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = perf_counter()
        rid = request_id_of(scope)
        rid_token = request_id.set(rid)
        refusals = Refusals()
        refusals_token = request_refusals.set(refusals)
        status = 0  # as logged when nothing was answered
        answered = False

        async def send_out(message: Message) -> None:
            nonlocal status, answered
            if message["type"] == "http.response.start":
                status, answered = message["status"], True
                headers = message["headers"] = list(message.get("headers", ()))
                headers.append((b"x-request-id", rid.encode("latin-1")))
                add_security_headers(headers)
                if refusals.retry_after:
                    headers.append((b"retry-after", str(refusals.retry_after).encode()))
            await send(message)

        max_bytes = self.max_body_bytes
        try:
            if declared_too_large(scope, max_bytes):
                await refuse_body(scope, receive, send_out, max_bytes)
            elif scope["path"] not in self.limited_paths or not await request_limit(
                scope, receive, send_out
            ):
                try:
                    await self.app(scope, limit_body(receive, max_bytes), send_out)
                except BodyTooLargeError:
                    if answered:
                        raise
                    await refuse_body(scope, receive, send_out, max_bytes)
        finally:
            request_refusals.reset(refusals_token)
            seconds = perf_counter() - started
            # What the server answers if the app fails before it starts a response: 500.
            observe_request(scope, status if answered else 500, seconds)
            log_request(scope["method"], scope["path"], status, seconds)
            request_id.reset(rid_token)

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = perf_counter()
        token = request_id.set(request_id_of(scope))
        try:
            await self.app(scope, receive, send)
        finally:
            log_request("WS", scope["path"], 0, perf_counter() - started)
            request_id.reset(token)
