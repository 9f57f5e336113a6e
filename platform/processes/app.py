"""The ASGI application factory."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types.unset import UnsetType

from specialistly.api.context import Context
from specialistly.api.schema import build_schema
from specialistly.api.unit_of_work import UnitOfWorkMiddleware
from specialistly.infra.auth import bearer_token
from specialistly.infra.logs import RequestIdMiddleware
from specialistly.infra.ratelimit import RequestRateLimit
from specialistly.plugin_system.manager import PluginManager, create_plugin_manager
from specialistly.runtime import Runtime, start_runtime
from specialistly.settings import Settings


class GraphQLApp(GraphQL[Context, None]):
    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> Context:
        return Context(runtime=_runtime(request), connection=request, bearer=bearer_token(request))

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        # graphql-transport-ws sends credentials in connection_init, not in headers.
        context.bearer = bearer_token(context.connection, context.connection_params) or (
            context.bearer
        )
        return await super().on_ws_connect(context)


def _runtime(connection: HTTPConnection) -> Runtime:
    runtime: Runtime = connection.app.state.runtime
    return runtime


async def healthz(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> JSONResponse:
    runtime = _runtime(request)
    checks: dict[str, Any] = {
        "database": runtime.mongo.admin.command("ping"),
        "broker": runtime.redis.ping(),
    }
    failed = []
    for name, check in checks.items():
        try:
            await asyncio.wait_for(check, timeout=2)
        except Exception:
            failed.append(name)
    if failed:
        return JSONResponse({"status": "unavailable", "failed": failed}, status_code=503)
    return JSONResponse({"status": "ok"})


def create_app(settings: Settings | None = None, plugins: PluginManager | None = None) -> Starlette:
    settings = settings or Settings()
    plugins = plugins or create_plugin_manager(settings)
    schema = build_schema(plugins, settings)
    graphql = GraphQLApp(
        schema,
        graphql_ide="graphiql" if settings.development else None,
        allow_queries_via_get=False,
        subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
    )

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        app.state.runtime = await start_runtime(settings, plugins)
        try:
            yield
        finally:
            await app.state.runtime.close()

    routes: list[BaseRoute] = [
        Route("/healthz", healthz),
        Route("/readyz", readyz),
        Route("/graphql", graphql, methods=["GET", "POST"]),
        WebSocketRoute("/graphql", graphql),
    ]
    for _, contributed in plugins.collect("http_routes"):
        routes.extend(contributed or ())
    return Starlette(
        routes=routes,
        middleware=[
            Middleware(RequestIdMiddleware),
            Middleware(RequestRateLimit),
            Middleware(UnitOfWorkMiddleware),
        ],
        lifespan=lifespan,
    )
