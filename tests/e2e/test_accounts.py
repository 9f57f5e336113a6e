"""Accounts over HTTP against the running API: register, log in, tokens, profile."""

from __future__ import annotations

import asyncio
import secrets
import time

from joserfc import jwt
from joserfc.jwk import OctKey

from specialistly.core.users import User
from specialistly.runtime import Runtime
from tests.client import REGISTER, GraphQLClient, register

LOGIN = """
mutation Login($input: LoginInput!) {
  login(input: $input) {
    user { id email }
    tokens { accessToken refreshToken }
    errors { field code message }
  }
}
"""
ME = "{ me { id email displayName roles specialistProfile { slug timezone bio expertise } } }"
UPDATE = """
mutation Update($input: UpdateProfileInput!) {
  updateProfile(input: $input) {
    user { displayName specialistProfile { slug timezone bio expertise currency } }
    errors { field code message }
  }
}
"""


def codes(payload: dict) -> list[tuple[str | None, str]]:  # type: ignore[type-arg]
    return [(e["field"], e["code"]) for e in payload["errors"]]


async def users_with(email: str) -> int:
    return await User.find(User.email_key == email.lower()).count()


async def test_register_log_in_and_read_me(client: GraphQLClient) -> None:
    account = await register(client, "SPECIALIST", "Ann Smith")
    me = (await account.client.data(ME))["me"]
    assert me["email"] == account.email
    assert me["roles"] == ["SPECIALIST"]
    assert me["specialistProfile"]["slug"].startswith("ann-smith")

    login = (
        await client.data(
            LOGIN, {"input": {"email": account.email.upper(), "password": account.password}}
        )
    )["login"]
    assert login["errors"] == []
    fresh = client.as_user(login["tokens"]["accessToken"])
    assert (await fresh.data(ME))["me"]["id"] == account.id


async def test_me_is_null_without_a_token(client: GraphQLClient) -> None:
    assert await client.data(ME) == {"me": None}


async def test_wrong_credentials_say_the_same_whether_the_account_exists(
    client: GraphQLClient,
) -> None:
    account = await register(client)
    wrong_password = (
        await client.data(
            LOGIN, {"input": {"email": account.email, "password": "not the password"}}
        )
    )["login"]
    no_account = (
        await client.data(
            LOGIN, {"input": {"email": "nobody@example.com", "password": "not the password"}}
        )
    )["login"]
    assert wrong_password["errors"] == no_account["errors"]
    assert codes(wrong_password) == [(None, "INVALID_CREDENTIALS")]
    assert wrong_password["tokens"] is None


async def test_duplicate_registration_is_refused_and_writes_nothing(
    client: GraphQLClient, runtime: Runtime
) -> None:
    account = await register(client)
    again = (
        await client.data(
            REGISTER,
            {
                "input": {
                    "email": account.email.upper(),
                    "password": "another good password",
                    "displayName": "Copy",
                }
            },
        )
    )["register"]
    assert codes(again) == [("input.email", "EMAIL_TAKEN")]
    assert await users_with(account.email) == 1


async def test_bad_registrations_report_every_field_and_write_nothing(
    client: GraphQLClient, runtime: Runtime
) -> None:
    email = '{"$gt": ""}'
    payload = (
        await client.data(
            REGISTER, {"input": {"email": email, "password": "short", "displayName": "x" * 81}}
        )
    )["register"]
    assert sorted(codes(payload)) == [
        ("input.displayName", "TOO_LONG"),
        ("input.email", "INVALID"),
        ("input.password", "WEAK_PASSWORD"),
    ]
    assert await users_with(email) == 0


async def test_wrong_types_and_missing_fields_are_graphql_errors(client: GraphQLClient) -> None:
    missing = await client.execute(REGISTER, {"input": {"email": "a@example.com"}})
    assert missing["errors"] and "password" in missing["errors"][0]["message"]
    wrong = await client.execute(
        REGISTER, {"input": {"email": 42, "password": ["x"], "displayName": "X"}}
    )
    assert wrong["errors"]
    admin = await client.execute(
        REGISTER,
        {
            "input": {
                "email": "eve@example.com",
                "password": "correct horse battery",
                "displayName": "Eve",
                "role": "ADMIN",
            }
        },
    )
    assert "ADMIN" in admin["errors"][0]["message"]


async def test_forged_and_expired_tokens_are_refused(
    client: GraphQLClient, test_env: dict[str, str]
) -> None:
    account = await register(client)
    header, payload, signature = account.token.split(".")
    forged = client.as_user(f"{header}.{payload}.{signature[::-1]}")
    body = await forged.execute(ME)
    assert body["data"] == {"me": None}
    assert body["errors"][0]["extensions"]["code"] == "TOKEN_INVALID"

    claims = jwt.decode(
        account.token, OctKey.import_key(test_env["SPECIALISTLY_JWT_SECRET"])
    ).claims
    claims["exp"] = int(time.time()) - 10
    expired_token = jwt.encode(
        {"alg": "HS256"}, claims, OctKey.import_key(test_env["SPECIALISTLY_JWT_SECRET"])
    )
    expired = client.as_user(expired_token)
    body = await expired.execute(ME)
    assert body["errors"][0]["extensions"]["code"] == "TOKEN_EXPIRED"
    update = (await expired.data(UPDATE, {"input": {"displayName": "Late"}}))["updateProfile"]
    assert codes(update) == [(None, "TOKEN_EXPIRED")]

    other_key = client.as_user(jwt.encode({"alg": "HS256"}, claims, OctKey.import_key("k" * 40)))
    assert (await other_key.execute(ME))["errors"][0]["extensions"]["code"] == "TOKEN_INVALID"


async def test_refresh_rotates_and_logout_revokes(client: GraphQLClient) -> None:
    account = await register(client)
    refresh = """mutation R($t: String!) { refreshToken(refreshToken: $t) {
        tokens { accessToken refreshToken } errors { field code } } }"""
    first = (await client.data(refresh, {"t": account.refresh_token}))["refreshToken"]
    assert first["errors"] == []
    assert first["tokens"]["refreshToken"] != account.refresh_token
    # (Using the old one again would revoke the session: test_security_sessions.py.)

    session = client.as_user(first["tokens"]["accessToken"])
    assert (await session.data(ME))["me"]["id"] == account.id
    assert (await session.data("mutation { logout { ok errors { code } } }"))["logout"]["ok"]
    after = await session.execute(ME)
    assert after["errors"][0]["extensions"]["code"] == "TOKEN_INVALID"
    dead = (await client.data(refresh, {"t": first["tokens"]["refreshToken"]}))["refreshToken"]
    assert codes(dead) == [("refreshToken", "REFRESH_TOKEN_INVALID")]
    # The session was the registration's: its first access token stopped too.
    assert (await account.client.execute(ME))["errors"][0]["extensions"]["code"] == "TOKEN_INVALID"


async def test_logout_ends_only_its_own_session(client: GraphQLClient) -> None:
    account = await register(client)
    login = await client.data(
        LOGIN, {"input": {"email": account.email, "password": account.password}}
    )
    other_device = client.as_user(login["login"]["tokens"]["accessToken"])
    assert (await other_device.data("mutation { logout { ok } }"))["logout"]["ok"]
    assert (await account.client.data(ME))["me"]["id"] == account.id


async def test_guessing_slows_the_guessing_address_but_never_locks_out_the_owner(
    api_url: str,
) -> None:
    account = await register(GraphQLClient(api_url))
    attacker = GraphQLClient(api_url)  # an address of its own
    wrong = {"input": {"email": account.email, "password": "wrong password!"}}
    results = [codes((await attacker.data(LOGIN, wrong))["login"]) for _ in range(15)]
    assert results[:5] == [[(None, "INVALID_CREDENTIALS")]] * 5
    # From the fifth guess on each waits for the one before, twice as long every time: the
    # attacker's address is refused now, even with the right password.
    right = {"input": {"email": account.email, "password": account.password}}
    refused = (await attacker.data(LOGIN, right))["login"]
    assert codes(refused) == [(None, "RATE_LIMITED")]
    assert "try again in" in refused["errors"][0]["message"]
    assert refused["tokens"] is None
    # The owner, from their own address, logs in at once.
    owner = GraphQLClient(api_url)
    login = (await owner.data(LOGIN, right))["login"]
    assert login["errors"] == []
    assert (await owner.as_user(login["tokens"]["accessToken"]).data(ME))["me"]["id"] == (
        account.id
    )


async def test_a_successful_login_forgets_the_wrong_passwords_before_it(
    client: GraphQLClient,
) -> None:
    account = await register(client)
    wrong = {"input": {"email": account.email, "password": "wrong password!"}}
    right = {"input": {"email": account.email, "password": account.password}}
    for _ in range(2):
        for _ in range(4):
            assert codes((await client.data(LOGIN, wrong))["login"]) == [
                (None, "INVALID_CREDENTIALS")
            ]
        assert (await client.data(LOGIN, right))["login"]["errors"] == []


async def test_login_attempts_are_limited_per_ip(api_url: str) -> None:
    one_address = GraphQLClient(api_url)
    results = await asyncio.gather(
        *[
            one_address.data(
                LOGIN, {"input": {"email": f"u{i}@example.com", "password": "wrong pw"}}
            )
            for i in range(21)
        ]
    )
    assert [codes(r["login"])[0][1] for r in results].count("RATE_LIMITED") == 1


async def test_update_profile(client: GraphQLClient) -> None:
    specialist = await register(client, "SPECIALIST", "Bo Chen")
    done = (
        await specialist.client.data(
            UPDATE,
            {
                "input": {
                    "bio": "Career coach.",
                    "expertise": ["Career", "career", "Leadership"],
                    "timezone": "Asia/Kolkata",
                    "currency": "INR",
                    "slug": f"bo-{secrets.token_hex(4)}",
                }
            },
        )
    )["updateProfile"]
    assert done["errors"] == []
    profile = done["user"]["specialistProfile"]
    assert profile["expertise"] == ["career", "leadership"]
    assert (profile["timezone"], profile["currency"]) == ("Asia/Kolkata", "inr")

    other = await register(client, "SPECIALIST", "Bo Chen")
    taken = await other.client.data(UPDATE, {"input": {"slug": profile["slug"]}})
    assert codes(taken["updateProfile"]) == [("input.slug", "SLUG_TAKEN")]

    bad = await specialist.client.data(
        UPDATE, {"input": {"timezone": "Mars/Olympus", "bio": "x" * 5001, "displayName": "Renamed"}}
    )
    assert sorted(codes(bad["updateProfile"])) == [
        ("input.bio", "TOO_LONG"),
        ("input.timezone", "INVALID"),
    ]
    me = (await specialist.client.data(ME))["me"]
    assert me["displayName"] == "Bo Chen"  # nothing written when anything is wrong
    assert me["specialistProfile"]["timezone"] == "Asia/Kolkata"

    customer = await register(client)
    refused = await customer.client.data(UPDATE, {"input": {"bio": "hi"}})
    assert codes(refused["updateProfile"]) == [(None, "FORBIDDEN")]
    anonymous = await client.data(UPDATE, {"input": {"displayName": "Nobody"}})
    assert codes(anonymous["updateProfile"]) == [(None, "UNAUTHENTICATED")]


async def test_email_is_private_to_its_owner(client: GraphQLClient) -> None:
    ann = await register(client, name="Ann")
    bob = await register(client, name="Bob")
    query = "query N($id: ID!) { node(id: $id) { ... on User { displayName email } } }"
    seen_by_ann = await ann.client.data(query, {"id": ann.id})
    assert seen_by_ann["node"] == {"displayName": "Ann", "email": ann.email}
    # Customers are no one else's business: not even their name.
    assert await bob.client.data(query, {"id": ann.id}) == {"node": None}
    anonymous = await client.data("query N($id: ID!) { node(id: $id) { id } }", {"id": ann.id})
    assert anonymous == {"node": None}


async def test_a_refresh_token_rotates_once_under_concurrency(client: GraphQLClient) -> None:
    account = await register(client)
    refresh = """mutation R($t: String!) { refreshToken(refreshToken: $t) {
        tokens { refreshToken } errors { code } } }"""
    results = await asyncio.gather(
        *[client.data(refresh, {"t": account.refresh_token}) for _ in range(6)]
    )
    winners = [r for r in results if r["refreshToken"]["tokens"]]
    assert len(winners) == 1


async def test_bad_login_input_is_refused_like_wrong_credentials(client: GraphQLClient) -> None:
    account = await register(client)
    for email, password in [
        ('{"$ne": null}', "anything at all"),
        (account.email, '{"$gt": ""}'),
        ("x" * 10_000 + "@example.com", "a long email"),
        (account.email, "p" * 100_000),
        ("", ""),
    ]:
        login = await client.data(LOGIN, {"input": {"email": email, "password": password}})
        assert codes(login["login"]) == [(None, "INVALID_CREDENTIALS")]
