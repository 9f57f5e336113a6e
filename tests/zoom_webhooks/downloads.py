"""Zoom's recording downloads, faked on loopback: a file answers only to its bearer token,
and redirects to storage as Zoom does."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from tests.processes import free_port

CONTENT = b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 64


@dataclass
class FakeDownloads:
    """Answers to the delivery's `token`, and to any token `accepts` (a host's access
    token, say)."""

    base_url: str
    token: str
    authorizations: list[str] = field(default_factory=list)
    accepts: Callable[[str], bool] = lambda token: False

    def authorized(self, header: str | None) -> bool:
        given = (header or "").removeprefix("Bearer ")
        return header == f"Bearer {self.token}" or (bool(given) and self.accepts(given))

    def url(self, name: str) -> str:
        return f"{self.base_url}/rec/download/{name}"


def _app(fake: FakeDownloads) -> Starlette:
    async def download(request: Request) -> Response:
        fake.authorizations.append(request.headers.get("authorization", ""))
        if request.path_params["name"] == "broken":
            return Response("upstream trouble", status_code=500)
        if not fake.authorized(request.headers.get("authorization")):
            return Response('{"code":124,"message":"Invalid access token."}', status_code=401)
        return RedirectResponse(f"/storage/{request.path_params['name']}", status_code=302)

    async def storage(request: Request) -> Response:
        return Response(CONTENT, media_type="video/mp4")

    return Starlette(
        routes=[
            Route("/rec/download/{name}", download),
            Route("/storage/{name}", storage),
        ]
    )


@contextmanager
def fake_downloads(token: str) -> Iterator[FakeDownloads]:
    port = free_port()
    fake = FakeDownloads(f"http://127.0.0.1:{port}", token)
    config = uvicorn.Config(
        _app(fake), host="127.0.0.1", port=port, log_level="warning", lifespan="off", ws="none"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "the fake Zoom downloads did not start"
        time.sleep(0.02)
    try:
        yield fake
    finally:
        server.should_exit = True
        thread.join(timeout=10)
