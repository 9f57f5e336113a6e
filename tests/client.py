"""A small GraphQL-over-HTTP client for the end-to-end tests, and account helpers."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

import httpx
from beanie import PydanticObjectId
from strawberry import relay

REGISTER = """
mutation Register($input: RegisterInput!) {
  register(input: $input) {
    user { id email roles }
    tokens { accessToken refreshToken }
    errors { field code message }
  }
}
"""


class GraphQLClient:
    def __init__(self, base_url: str, token: str | None = None, ip: str | None = None):
        self.base_url = base_url
        self.token = token
        # The test server trusts X-Forwarded-For from loopback (see conftest.test_env), so each
        # client can pose as its own address and per-IP limits do not leak between tests. No
        # traffic goes to it.
        self.ip = ip or f"2001:db8::{secrets.token_hex(2)}:{secrets.token_hex(2)}"

    def headers(self) -> dict[str, str]:
        headers = {"x-forwarded-for": self.ip}
        if self.token:
            headers["authorization"] = f"Bearer {self.token}"
        return headers

    async def execute(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """The whole response body, errors included."""
        async with httpx.AsyncClient(base_url=self.base_url, timeout=30) as http:
            response = await http.post(
                "/graphql",
                json={"query": query, "variables": variables or {}},
                headers=self.headers(),
            )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def data(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """The data of a response that must have no GraphQL errors."""
        body = await self.execute(query, variables)
        assert not body.get("errors"), body["errors"]
        data: dict[str, Any] = body["data"]
        return data

    def as_user(self, token: str) -> GraphQLClient:
        return GraphQLClient(self.base_url, token=token, ip=self.ip)


@dataclass
class Account:
    id: str
    email: str
    password: str
    token: str
    refresh_token: str
    client: GraphQLClient


async def register(
    client: GraphQLClient, role: str = "CUSTOMER", name: str = "Test User"
) -> Account:
    email = f"{role.lower()}-{secrets.token_hex(6)}@example.com"
    password = f"pw-{secrets.token_urlsafe(12)}"
    data = await client.data(
        REGISTER,
        {"input": {"email": email, "password": password, "displayName": name, "role": role}},
    )
    payload = data["register"]
    assert payload["errors"] == [], payload["errors"]
    tokens = payload["tokens"]
    return Account(
        id=payload["user"]["id"],
        email=email,
        password=password,
        token=tokens["accessToken"],
        refresh_token=tokens["refreshToken"],
        client=client.as_user(tokens["accessToken"]),
    )


def user_id(account: Account) -> PydanticObjectId:
    """The database id behind an account's global id."""
    return PydanticObjectId(relay.GlobalID.from_id(account.id).node_id)


def service_gid(service_id: object) -> str:
    """The global id of a service, from its database id."""
    return relay.to_base64("Service", str(service_id))


def booking_gid(booking_id: object) -> str:
    """The global id of a booking, from its database id."""
    return relay.to_base64("Booking", str(booking_id))
