"""The HTTP surface around GraphQL: probes, request ids, limits, the IDE."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import httpx
import pytest

from tests.client import GraphQLClient, register
from tests.processes import Process, free_port


async def test_health_and_readiness(api_url: str) -> None:
    async with httpx.AsyncClient(base_url=api_url) as http:
        assert (await http.get("/healthz")).json() == {"status": "ok"}
        assert (await http.get("/readyz")).json() == {"status": "ok"}


def test_readiness_fails_while_the_broker_is_unreachable(
    test_env: dict[str, str], tmp_path: Path
) -> None:
    port = free_port()
    dead_redis = f"redis://127.0.0.1:{free_port()}/0"
    server = Process(
        "api-no-broker",
        ["serve", "--port", str(port)],
        {**test_env, "REDIS_URL": dead_redis},
        tmp_path,
    )
    server.start()
    try:
        url = f"http://127.0.0.1:{port}"
        response = _wait_for_any_response(f"{url}/readyz", server)
        assert response.status_code == 503
        assert response.json() == {"status": "unavailable", "failed": ["broker"]}
        assert httpx.get(f"{url}/healthz").status_code == 200
    finally:
        server.stop()


def _wait_for_any_response(
    url: str, server: Process, headers: dict[str, str] | None = None
) -> httpx.Response:
    deadline = time.monotonic() + 30
    while True:
        try:
            return httpx.get(url, timeout=5, headers=headers)
        except httpx.TransportError:
            assert server.proc is not None and server.proc.poll() is None, server.tail()
            assert time.monotonic() < deadline, server.tail()
            time.sleep(0.1)


async def test_request_ids_are_echoed_or_made(api_url: str) -> None:
    async with httpx.AsyncClient(base_url=api_url) as http:
        given = await http.get("/healthz", headers={"x-request-id": "abc-123"})
        made = await http.get("/healthz")
    assert given.headers["x-request-id"] == "abc-123"
    assert len(made.headers["x-request-id"]) == 16


async def test_deep_queries_are_refused(client: GraphQLClient) -> None:
    deep = "{ me { " + "specialistProfile { slug } " * 1 + "}" + " }"
    assert (await client.execute(deep))["data"] == {"me": None}
    nested = "query { me " + "{ a " * 13 + "{ b }" + " }" * 14
    body = await client.execute(nested)
    assert "exceeds maximum operation depth" in body["errors"][0]["message"]


def test_graphiql_only_in_development(
    api_url: str, test_env: dict[str, str], tmp_path: Path
) -> None:
    html = {"accept": "text/html"}
    assert "graphiql" not in httpx.get(f"{api_url}/graphql", headers=html).text.lower()
    port = free_port()
    env = {**test_env, "SPECIALISTLY_ENVIRONMENT": "development"}
    server = Process("api-dev", ["serve", "--port", str(port)], env, tmp_path)
    server.start()
    try:
        page = _wait_for_any_response(f"http://127.0.0.1:{port}/graphql", server, headers=html)
        assert "graphiql" in page.text.lower()
        # No other site may frame it (clickjacking with the viewer's token in it).
        assert page.headers["x-frame-options"] == "DENY"
        assert page.headers["content-security-policy"] == "frame-ancestors 'none'"
    finally:
        server.stop()


async def test_requests_are_limited_per_address_and_per_user(api_url: str) -> None:
    anonymous = GraphQLClient(api_url)
    account = await register(GraphQLClient(api_url))
    same_address_user = GraphQLClient(api_url, token=account.token, ip=anonymous.ip)
    async with httpx.AsyncClient(base_url=api_url) as http:

        async def ask(client: GraphQLClient) -> httpx.Response:
            return await http.post(
                "/graphql", json={"query": "{ me { id } }"}, headers=client.headers()
            )

        statuses = [(await ask(anonymous)).status_code for _ in range(100)]
        assert statuses == [200] * 100
        refused = await ask(anonymous)
        assert refused.status_code == 429
        wait = int(refused.headers["retry-after"])
        assert 0 < wait <= 60
        assert refused.json()["errors"][0]["extensions"] == {
            "code": "RATE_LIMITED",
            "retryAfter": wait,
        }
        # A logged-in user is counted on their own, wherever they come from.
        assert (await ask(same_address_user)).status_code == 200


@pytest.mark.parametrize("body", ['"x"', "5", "null", "true", "[" * 100_000 + "]" * 100_000])
async def test_a_body_that_is_not_a_json_object_is_a_bad_request(api_url: str, body: str) -> None:
    async with httpx.AsyncClient(base_url=api_url) as http:
        response = await http.post(
            "/graphql", content=body, headers={"content-type": "application/json"}
        )
        assert response.status_code == 400
        assert "JSON" in response.text
        # The connection is still good for the next request.
        assert (await http.get("/healthz")).status_code == 200


@pytest.mark.parametrize(
    ("body", "answer"),
    [
        ({"query": "query A { __typename } query B { __typename }", "operationName": "B"}, 200),
        ({"query": "{ __typename }", "variables": None, "extensions": {}}, 200),
        ({"query": 5}, "`query` must be a string"),
        ({"query": "{ __typename }", "variables": []}, "`variables` must be an object"),
        ({"query": "{ __typename }", "extensions": "x"}, "`extensions` must be an object"),
        ({"variables": {}}, "No GraphQL query found"),
        ([{"query": "{ __typename }"}], "Batching is not enabled"),
    ],
)
@pytest.mark.parametrize("content_type", ["application/json", "application/json; charset=utf-8"])
async def test_json_bodies_are_read_as_graphql_over_http_says(
    api_url: str, body: object, answer: int | str, content_type: str
) -> None:
    async with httpx.AsyncClient(base_url=api_url) as http:
        response = await http.post(
            "/graphql", content=json.dumps(body), headers={"content-type": content_type}
        )
    if answer == 200:
        assert response.status_code == 200
        assert response.json() == {"data": {"__typename": "Query"}}
    else:
        assert response.status_code == 400
        assert str(answer) in response.text


async def test_other_content_types_are_refused(api_url: str) -> None:
    async with httpx.AsyncClient(base_url=api_url) as http:
        response = await http.post(
            "/graphql",
            content='{"query": "{ __typename }"}',
            headers={"content-type": "text/plain"},
        )
    assert response.status_code == 400
    assert "Unsupported content type" in response.text


async def test_request_bodies_are_limited(api_url: str) -> None:
    """413 as soon as the body is known to be too large, before the rest is read."""
    host, port = api_url.removeprefix("http://").split(":")
    head = f"POST /graphql HTTP/1.1\r\nhost: {host}\r\ncontent-type: application/json\r\n"

    async def answer(request: bytes) -> bytes:
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(request)
        await writer.drain()
        status_line = await asyncio.wait_for(reader.readline(), timeout=30)
        writer.close()
        await writer.wait_closed()
        return status_line

    declared = f"{head}content-length: {2 * 1024 * 1024}\r\n\r\n".encode()  # and no body
    chunk = 64 * 1024  # just over the limit in all: the server reads every byte sent
    chunked = f"{head}transfer-encoding: chunked\r\n\r\n".encode() + (
        f"{chunk:x}\r\n".encode() + b"[" * chunk + b"\r\n"
    ) * (1024 * 1024 // chunk + 1)
    assert await answer(declared) == b"HTTP/1.1 413 Request Entity Too Large\r\n"
    assert await answer(chunked) == b"HTTP/1.1 413 Request Entity Too Large\r\n"


async def test_responses_are_hardened(client: GraphQLClient, api_url: str) -> None:
    account = await register(client)
    async with httpx.AsyncClient(base_url=api_url) as http:
        answers = [
            await http.post(
                "/graphql", json={"query": "{ me { id } }"}, headers=account.client.headers()
            ),
            await http.get("/healthz"),
        ]
    for answer in answers:
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["cache-control"] == "no-store"  # it may carry tokens
        assert answer.headers["x-frame-options"] == "DENY"
        assert "server" not in answer.headers


async def test_a_subscription_over_http_is_refused_plainly(client: GraphQLClient) -> None:
    body = await client.execute("subscription { lifecycleEvents { name } }")
    assert body["data"] is None
    assert body["errors"][0]["extensions"] == {"code": "WEBSOCKET_REQUIRED"}
