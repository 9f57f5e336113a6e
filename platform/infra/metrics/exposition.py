"""Who may read the metrics, and where: `/metrics` on the API, and a port of its own on
the worker (which serves no HTTP otherwise).

With `SPECIALISTLY_METRICS_TOKEN` set, a scrape must carry it as a bearer token (401
otherwise). Without it, metrics are served to anyone in development and test (which bind
to loopback) and to no one in production (404).
"""

from __future__ import annotations

import asyncio
import hmac
import threading
from collections.abc import Callable, Iterable
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from specialistly.infra.metrics.registry import CONTENT_TYPE, render
from specialistly.settings import Settings


def verdict(settings: Settings, authorization: str | None) -> int:
    """The HTTP status a scrape gets: 200, 401 (token missing or wrong) or 404 (off)."""
    if settings.metrics_token is None:
        return 404 if settings.environment == "production" else 200
    expected = f"Bearer {settings.metrics_token.get_secret_value()}".encode()
    given = (authorization or "").encode("latin-1", errors="replace")
    return 200 if hmac.compare_digest(given, expected) else 401


def metrics_endpoint(settings: Settings) -> Callable[[Request], Any]:
    """The API's `/metrics`."""

    async def metrics(request: Request) -> Response:
        status = verdict(settings, request.headers.get("authorization"))
        if status == 404:
            return PlainTextResponse("Not Found", status_code=404)
        if status == 401:
            return _unauthorized()
        # Reading every process's file is blocking I/O: off the event loop.
        return Response(await asyncio.to_thread(render), media_type=CONTENT_TYPE)

    return metrics


def _unauthorized() -> Response:
    return PlainTextResponse(
        "Unauthorized", status_code=401, headers={"WWW-Authenticate": 'Bearer realm="metrics"'}
    )


# ----------------------------------------------------------------------- the worker's


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass  # a scrape every few seconds is not news


StartResponse = Callable[[str, list[tuple[str, str]]], Any]


def wsgi_app(settings: Settings) -> Callable[[dict[str, Any], StartResponse], Iterable[bytes]]:
    """`/metrics` for a process without an HTTP server of its own, under the same rules."""

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != "/metrics":
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"Not Found"]
        status = verdict(settings, environ.get("HTTP_AUTHORIZATION"))
        if status == 404:
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"Not Found"]
        if status == 401:
            challenge = ("WWW-Authenticate", 'Bearer realm="metrics"')
            start_response("401 Unauthorized", [("Content-Type", "text/plain"), challenge])
            return [b"Unauthorized"]
        start_response("200 OK", [("Content-Type", CONTENT_TYPE)])
        return [render()]

    return app


class MetricsServer:
    """Serves `/metrics` on `host:port` from a daemon thread until stopped."""

    def __init__(self, settings: Settings, host: str, port: int) -> None:
        self._server = make_server(
            host, port, wsgi_app(settings), server_class=_Server, handler_class=_QuietHandler
        )
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="specialistly-metrics", daemon=True
        )

    @property
    def port(self) -> int:
        return int(self._server.server_port)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
