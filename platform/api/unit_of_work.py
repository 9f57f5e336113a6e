"""The API's changes finish in a unit of work, which publishes the outboxes they wrote to.

Every GraphQL operation (over HTTP or WebSocket) gets one around its execution (see
`api.operation`), so its events are published before the answer leaves; every other HTTP
request (the routes that plugins contribute, such as webhooks) gets one around the whole
request.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from specialistly.runtime import Runtime


class UnitOfWorkMiddleware:
    """Runs each HTTP request in a unit of work of the app's runtime."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # a WebSocket lives long: its operations have their own
            await self.app(scope, receive, send)
            return
        runtime: Runtime = scope["app"].state.runtime
        async with runtime.unit_of_work():
            await self.app(scope, receive, send)
