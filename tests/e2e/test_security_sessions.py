"""Sessions cannot be guessed, and a stolen refresh token used twice ends its session."""

from __future__ import annotations

import base64
import json
import re
from typing import Any

from tests.client import GraphQLClient, register

ME = "{ me { id } }"
LOGIN = """
mutation Login($input: LoginInput!) {
  login(input: $input) { tokens { accessToken refreshToken } errors { code } }
}
"""
REFRESH = """
mutation R($t: String!) {
  refreshToken(refreshToken: $t) { tokens { accessToken refreshToken } errors { field code } }
}
"""


def claims(access_token: str) -> dict[str, Any]:
    payload = access_token.split(".")[1]
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * 4))
    return decoded


async def test_session_ids_are_128_random_bits_unrelated_to_the_user(
    client: GraphQLClient,
) -> None:
    account = await register(client)
    login = await client.data(
        LOGIN, {"input": {"email": account.email, "password": account.password}}
    )
    first, second = claims(account.token), claims(login["login"]["tokens"]["accessToken"])
    for sid in (first["sid"], second["sid"]):
        assert re.fullmatch(r"[0-9a-f]{32}", sid)
        assert first["sub"] not in sid
    # Not one after the other: they share no prefix a guess could start from.
    assert first["sid"][:8] != second["sid"][:8]


async def test_replaying_a_rotated_refresh_token_revokes_the_whole_session(
    client: GraphQLClient,
) -> None:
    account = await register(client)
    rotated = (await client.data(REFRESH, {"t": account.refresh_token}))["refreshToken"]
    assert rotated["errors"] == []
    newest = rotated["tokens"]

    replay = (await client.data(REFRESH, {"t": account.refresh_token}))["refreshToken"]
    assert replay["errors"] == [{"field": "refreshToken", "code": "REFRESH_TOKEN_INVALID"}]

    # Whoever held the newest tokens (the thief or the rightful client) holds nothing now.
    after = (await client.data(REFRESH, {"t": newest["refreshToken"]}))["refreshToken"]
    assert after["errors"] == [{"field": "refreshToken", "code": "REFRESH_TOKEN_INVALID"}]
    body = await client.as_user(newest["accessToken"]).execute(ME)
    assert body["errors"][0]["extensions"]["code"] == "TOKEN_INVALID"

    # The account's other sessions are untouched; logging in again works.
    login = await client.data(
        LOGIN, {"input": {"email": account.email, "password": account.password}}
    )
    fresh = client.as_user(login["login"]["tokens"]["accessToken"])
    assert (await fresh.data(ME))["me"]["id"] == account.id


async def test_made_up_refresh_tokens_are_refused(client: GraphQLClient) -> None:
    account = await register(client)
    sid = claims(account.token)["sid"]
    for token in ["", ".", "x" * 5000, f"{sid}", "0" * 32 + ".abc", '{"$ne": null}']:
        payload = (await client.data(REFRESH, {"t": token}))["refreshToken"]
        assert payload["errors"] == [{"field": "refreshToken", "code": "REFRESH_TOKEN_INVALID"}]
    assert (await account.client.data(ME))["me"]["id"] == account.id
