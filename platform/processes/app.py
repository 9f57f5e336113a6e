"""The ASGI application factory."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route, WebSocketRoute
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL

from specialistly.api.schema import build_schema
from specialistly.api.transport import GraphQLApp, runtime_of
from specialistly.api.unit_of_work import UnitOfWorkMiddleware
from specialistly.infra.edge import HttpEdge
from specialistly.infra.metrics.exposition import metrics_endpoint
from specialistly.plugin_system.manager import PluginManager, create_plugin_manager
from specialistly.processes import memory
from specialistly.runtime import start_runtime
from specialistly.settings import Settings


async def healthz(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> JSONResponse:
    runtime = runtime_of(request)
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


def served_app() -> Starlette:
    """The app as `specialistly serve` runs it, a process of its own: once started, it
    settles the process's memory (processes/memory.py)."""
    return create_app(settle_memory=True)


def create_app(
    settings: Settings | None = None,
    plugins: PluginManager | None = None,
    *,
    settle_memory: bool = False,
) -> Starlette:
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
        if settle_memory:
            memory.settle()
        try:
            yield
        finally:
            await app.state.runtime.close()

    routes: list[BaseRoute] = [
        Route("/healthz", healthz),
        Route("/readyz", readyz),
        Route("/metrics", metrics_endpoint(settings)),
        Route("/graphql", graphql, methods=["GET", "POST"]),
        WebSocketRoute("/graphql", graphql),
    ]
    for _, contributed in plugins.collect("http_routes"):
        routes.extend(contributed or ())
    return Starlette(
        routes=routes,
        middleware=[
            Middleware(HttpEdge, max_body_bytes=settings.request_body_max_bytes),
            Middleware(UnitOfWorkMiddleware),
        ],
        lifespan=lifespan,
    )
