"""The API's changes finish in a unit of work, which publishes the outboxes they wrote to.

Every GraphQL operation (over HTTP or WebSocket) gets one around its execution, so its
events are published before the answer leaves; every other HTTP request (the routes that
plugins contribute, such as webhooks) gets one around the whole request.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from starlette.types import ASGIApp, Receive, Scope, Send
from strawberry.extensions import SchemaExtension

from specialistly.runtime import Runtime


class UnitOfWork(SchemaExtension):
    """Runs each GraphQL operation's execution in a unit of work of the runtime."""

    async def on_execute(self) -> AsyncIterator[None]:
        runtime: Runtime = self.execution_context.context.runtime
        async with runtime.unit_of_work():
            yield


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
