"""The one layer every HTTP request passes: request ids, the access log line, security
headers, the body limit and the HTTP metrics, as the client and the log see them."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import pytest
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route, Router

from specialistly.infra.edge import HttpEdge
from specialistly.infra.hardening import SECURITY_HEADERS
from specialistly.infra.logs import json_handler, log
from specialistly.infra.metrics.registry import REGISTRY

LIMIT = 100
Lines = Callable[[], list[dict[str, Any]]]


async def hello(request: Request) -> PlainTextResponse:
    return PlainTextResponse("hello", headers={"cache-control": "max-age=60"})


async def echo(request: Request) -> PlainTextResponse:
    return PlainTextResponse(str(len(await request.body())))


async def broken(request: Request) -> PlainTextResponse:
    raise RuntimeError("broken")


# A bare router: in the API, what fails inside the edge reaches Starlette's error handler
# outside it.
APP = HttpEdge(
    Router(
        routes=[
            Route("/edge/hello", hello),
            Route("/edge/echo", echo, methods=["POST"]),
            Route("/edge/broken", broken),
        ]
    ),
    max_body_bytes=LIMIT,
)


@pytest.fixture
def lines() -> Iterator[Lines]:
    """The access log's lines so far, as the platform's JSON handler writes them."""
    stream = io.StringIO()
    handler = json_handler(stream)
    level = log.level
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    try:
        yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    finally:
        log.removeHandler(handler)
        log.setLevel(level)


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=APP, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://edge.test") as client:
        yield client


def seen(route: str, method: str, status: str) -> float:
    labels = {"route": route, "method": method, "status": status}
    count = REGISTRY.get_sample_value("specialistly_http_request_duration_seconds_count", labels)
    return count or 0.0


async def test_a_request_id_is_kept_or_made_echoed_and_logged(
    http: httpx.AsyncClient, lines: Lines
) -> None:
    given = await http.get("/edge/hello", headers={"x-request-id": "abc-123"})
    made = await http.get("/edge/hello", headers={"x-request-id": "x" * 65})  # too long
    assert given.headers["x-request-id"] == "abc-123"
    assert re.fullmatch(r"[0-9a-f]{16}", made.headers["x-request-id"])
    logged = lines()
    assert [line["request_id"] for line in logged] == ["abc-123", made.headers["x-request-id"]]


async def test_the_access_log_line_has_every_field(http: httpx.AsyncClient, lines: Lines) -> None:
    await http.get("/edge/hello", headers={"x-request-id": "fields"})
    [line] = lines()
    assert set(line) == {
        "time",
        "level",
        "logger",
        "message",
        "request_id",
        "method",
        "path",
        "status",
        "duration_ms",
    }
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}", line["time"])
    assert (line["level"], line["logger"], line["message"]) == (
        "INFO",
        "specialistly.http",
        "request",
    )
    assert (line["method"], line["path"], line["status"]) == ("GET", "/edge/hello", 200)
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0


def test_log_times_read_as_the_standard_formatter_writes_them() -> None:
    formatter = json_handler(io.StringIO()).formatter
    assert formatter is not None
    standard = logging.Formatter()
    for created in (1_764_150_000.0, 1_764_150_000.9996, 1_764_150_001.5, 1_764_150_000.25):
        record = logging.LogRecord("x", logging.INFO, "", 0, "m", (), None)
        record.created, record.msecs = created, (created - int(created)) * 1000
        assert formatter.formatTime(record) == standard.formatTime(record)


async def test_answers_carry_the_security_headers_unless_they_set_their_own(
    http: httpx.AsyncClient,
) -> None:
    answer = await http.get("/edge/hello")
    assert answer.headers["cache-control"] == "max-age=60"  # the route's own
    for name, value in SECURITY_HEADERS.items():
        if name != "cache-control":
            assert answer.headers.get_list(name) == [value]
    missing = await http.get("/edge/nowhere")
    assert missing.status_code == 404
    assert missing.headers["cache-control"] == "no-store"


async def test_bodies_over_the_limit_are_refused(http: httpx.AsyncClient, lines: Lines) -> None:
    assert (await http.post("/edge/echo", content=b"x" * LIMIT)).text == str(LIMIT)
    declared = await http.post("/edge/echo", content=b"x" * (LIMIT + 1))

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(3):
            yield b"x" * 60

    streamed = await http.post("/edge/echo", content=chunks())  # no Content-Length
    for refused in (declared, streamed):
        assert refused.status_code == 413
        assert refused.headers["x-frame-options"] == "DENY"
        assert refused.headers["x-request-id"]
    assert [line["status"] for line in lines()] == [200, 413, 413]


async def test_requests_are_measured_by_route_and_status(http: httpx.AsyncClient) -> None:
    before = seen("/edge/hello", "GET", "200"), seen("/edge/broken", "GET", "500")
    await http.get("/edge/hello")
    await http.get("/edge/broken")
    after = seen("/edge/hello", "GET", "200"), seen("/edge/broken", "GET", "500")
    assert after == (before[0] + 1, before[1] + 1)


async def test_a_failure_before_any_answer_is_logged_without_a_status(
    http: httpx.AsyncClient, lines: Lines
) -> None:
    assert (await http.get("/edge/broken")).status_code == 500
    assert [(line["path"], line["status"]) for line in lines()] == [("/edge/broken", 0)]
