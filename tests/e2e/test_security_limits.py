"""Limits a client cannot talk its way around, and the one shape of every refusal by a
rate limit: the code RATE_LIMITED and a Retry-After header."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.client import REGISTER, GraphQLClient, register
from tests.servers import serve

LOGIN = """mutation L($input: LoginInput!) { login(input: $input) { errors { code message } } }"""


def forged_address() -> str:
    return f"198.51.100.{secrets.randbelow(254) + 1}"


def register_input() -> dict[str, Any]:
    email = f"limits-{secrets.token_hex(6)}@example.com"
    return {"input": {"email": email, "password": "pw-" + secrets.token_hex(8), "displayName": "L"}}


def login_input() -> dict[str, Any]:
    email = f"nobody-{secrets.token_hex(6)}@example.com"
    return {"input": {"email": email, "password": "wrong password"}}


async def post(
    http: httpx.AsyncClient, query: str, variables: dict[str, Any], headers: dict[str, str]
) -> httpx.Response:
    return await http.post(
        "/graphql", json={"query": query, "variables": variables}, headers=headers
    )


def payload_codes(response: httpx.Response, field: str) -> list[str]:
    return [e["code"] for e in response.json()["data"][field]["errors"]]


async def test_two_signed_in_root_fields_in_one_request(client: GraphQLClient) -> None:
    account = await register(client)
    data = await account.client.data(
        "{ a: myBookings { totalCount } b: myBookings { totalCount } me { id } }"
    )
    assert data == {"a": {"totalCount": 0}, "b": {"totalCount": 0}, "me": {"id": account.id}}


@pytest.fixture(scope="module")
def unproxied_api(
    test_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """An API with the default settings for proxies (none trusted) and small limits, with
    rate limits of its own (its own namespace)."""
    env = {
        name: value
        for name, value in test_env.items()
        if name != "SPECIALISTLY_FORWARDED_ALLOW_IPS"
    }
    env |= {
        "SPECIALISTLY_BROKER_NAMESPACE": test_env["SPECIALISTLY_BROKER_NAMESPACE"] + "-unproxied",
        "SPECIALISTLY_REQUESTS_PER_MINUTE_ANONYMOUS": "10",
        "SPECIALISTLY_LOGIN_ATTEMPTS_PER_IP": "2",
    }
    yield from serve(env, tmp_path_factory.mktemp("unproxied"))


async def test_a_forged_forwarded_address_escapes_no_limit(unproxied_api: str) -> None:
    """Each request claims another address in X-Forwarded-For; all come from this one.
    Every refusal has the one shape of rate limits: RATE_LIMITED and Retry-After."""
    async with httpx.AsyncClient(base_url=unproxied_api) as http:

        async def ask(query: str, variables: dict[str, Any]) -> httpx.Response:
            return await post(http, query, variables, {"x-forwarded-for": forged_address()})

        logins = [await ask(LOGIN, login_input()) for _ in range(3)]
        assert [payload_codes(r, "login") for r in logins] == [
            ["INVALID_CREDENTIALS"],
            ["INVALID_CREDENTIALS"],
            ["RATE_LIMITED"],
        ]
        registrations = [await ask(REGISTER, register_input()) for _ in range(3)]
        assert [payload_codes(r, "register") for r in registrations] == [[], [], ["RATE_LIMITED"]]
        # Six requests so far; the anonymous limit is ten a minute.
        requests = [await ask("{ __typename }", {}) for _ in range(5)]
        assert [r.status_code for r in requests] == [200, 200, 200, 200, 429]

    for refused, field in ((logins[-1], "login"), (registrations[-1], "register")):
        assert refused.status_code == 200  # the request ran: the refusal is the payload's
        wait = int(refused.headers["retry-after"])
        assert 0 < wait <= 15 * 60
        message = refused.json()["data"][field]["errors"][0]["message"]
        assert message.endswith(f"try again in {wait} s.")
    assert all("retry-after" not in r.headers for r in logins[:2] + registrations[:2])
    wait = int(requests[-1].headers["retry-after"])
    error = requests[-1].json()["errors"][0]
    assert error["extensions"] == {"code": "RATE_LIMITED", "retryAfter": wait}
