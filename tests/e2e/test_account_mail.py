"""Account emails over the whole way (API, worker, SMTP server): the welcome and the
verification link on registration, resending it, and the password reset, each link read
from the delivered message and used."""

from __future__ import annotations

import re
import secrets
from datetime import timedelta

import pytest

from specialistly.core.account_tokens import AccountToken, Purpose, digest
from specialistly.core.clock import as_utc, utcnow
from specialistly.core.locks import document_lock
from specialistly.core.users import User
from specialistly.features.outgoing import OutgoingEmail
from tests.client import GraphQLClient, register, user_id
from tests.mail import MailSink, Received
from tests.waiting import eventually

pytestmark = [pytest.mark.usefixtures("runtime", "worker")]

ME = "{ me { id emailVerified } }"
VERIFY = "mutation V($token: String!) { verifyEmail(token: $token) { ok errors { field code } } }"
RESEND = "mutation { resendVerificationEmail { ok errors { field code message } } }"
REQUEST = """mutation R($email: String!) {
  requestPasswordReset(email: $email) { ok errors { field code message } } }"""
RESET = """mutation P($input: ResetPasswordInput!) {
  resetPassword(input: $input) { ok errors { field code message } } }"""
LOGIN = """mutation L($input: LoginInput!) {
  login(input: $input) { tokens { accessToken refreshToken } errors { field code } } }"""
REFRESH = """mutation F($token: String!) {
  refreshToken(refreshToken: $token) { tokens { accessToken } errors { field code } } }"""

LINK = re.compile(r"(https?://\S+/(verify-email|reset-password)\?token=([A-Za-z0-9_-]+))")


def codes(payload: dict) -> list[tuple[str | None, str]]:  # type: ignore[type-arg]
    return [(e["field"], e["code"]) for e in payload["errors"]]


def token_in(received: Received, page: str) -> str:
    """The token of the message's link to `page`; the text and the HTML carry the same."""
    found = {(m[1], m[2]) for m in LINK.findall(received.text())}
    [(kind, token)] = found
    assert kind == page and isinstance(token, str)
    assert f"{page}?token={token}" in received.html()
    return token


async def mail_with(mailbox: MailSink, address: str, subject: str, count: int = 1) -> Received:
    """The `count`-th message to the address whose subject starts so, once it came."""

    async def arrived() -> list[Received]:
        matching = [r for r in mailbox.to(address) if r.subject.startswith(subject)]
        return matching if len(matching) >= count else []

    return (await eventually(arrived))[count - 1]


async def token_erased(token: str) -> None:
    """Once its email is sent, the database holds nothing that opens the link."""

    async def erased() -> bool:
        found = await AccountToken.find_one(AccountToken.token_hash == digest(token))
        return found is not None and found.sealed is None

    await eventually(erased)
    for stored in await OutgoingEmail.find({}).to_list():
        assert token not in stored.text + stored.html + stored.subject
    raw = await AccountToken.get_pymongo_collection().find_one({"token_hash": digest(token)})
    assert token not in str(raw)


async def test_registration_welcomes_and_the_emailed_link_verifies_the_address(
    client: GraphQLClient, mailbox: MailSink
) -> None:
    account = await register(client, "SPECIALIST", "Vera Link")
    welcome = await mail_with(mailbox, account.email, "Welcome to")
    assert "Hello Vera Link" in welcome.text()
    assert "List-Unsubscribe" not in welcome.message  # essential
    verification = await mail_with(mailbox, account.email, "Confirm your email address")
    token = token_in(verification, "verify-email")
    assert "2 days" in verification.text()
    await token_erased(token)
    assert (await account.client.data(ME))["me"]["emailVerified"] is False

    verified = (await client.data(VERIFY, {"token": token}))["verifyEmail"]
    assert verified == {"ok": True, "errors": []}
    assert (await account.client.data(ME))["me"]["emailVerified"] is True
    again = (await client.data(VERIFY, {"token": token}))["verifyEmail"]
    assert codes(again) == [("token", "LINK_INVALID")]
    assert len(mailbox.to(account.email)) == 2  # the welcome and the link, once each


async def test_a_verification_email_is_sent_again_on_request_until_verified(
    client: GraphQLClient, mailbox: MailSink
) -> None:
    account = await register(client)
    first = token_in(await mail_with(mailbox, account.email, "Confirm"), "verify-email")
    assert codes((await client.data(RESEND))["resendVerificationEmail"]) == [
        (None, "UNAUTHENTICATED")
    ]
    resent = (await account.client.data(RESEND))["resendVerificationEmail"]
    assert resent == {"ok": True, "errors": []}
    second = token_in(await mail_with(mailbox, account.email, "Confirm", 2), "verify-email")
    assert second != first

    assert (await client.data(VERIFY, {"token": second}))["verifyEmail"]["ok"] is True
    done = (await account.client.data(RESEND))["resendVerificationEmail"]
    assert codes(done) == [(None, "EMAIL_ALREADY_VERIFIED")]


async def test_verification_links_expire(client: GraphQLClient, mailbox: MailSink) -> None:
    account = await register(client)
    token = token_in(await mail_with(mailbox, account.email, "Confirm"), "verify-email")
    # Once its email is sent the worker erases the sealed copy: a write of its own, which
    # would undo the one below if they met (FerretDB writes whole documents).
    await token_erased(token)
    stored = await AccountToken.find_one(AccountToken.token_hash == digest(token))
    assert stored is not None
    async with document_lock(AccountToken, stored.id):
        await AccountToken.get_pymongo_collection().update_one(
            {"_id": stored.id}, {"$set": {"expires_at": utcnow() - timedelta(seconds=1)}}
        )
    expired = (await client.data(VERIFY, {"token": token}))["verifyEmail"]
    assert codes(expired) == [("token", "LINK_EXPIRED")]
    unknown = (await client.data(VERIFY, {"token": secrets.token_urlsafe(32)}))["verifyEmail"]
    assert codes(unknown) == [("token", "LINK_INVALID")]
    assert (await account.client.data(ME))["me"]["emailVerified"] is False


async def test_a_password_reset_changes_the_password_and_ends_every_session(
    client: GraphQLClient, mailbox: MailSink
) -> None:
    account = await register(client)
    other = (
        await client.data(LOGIN, {"input": {"email": account.email, "password": account.password}})
    )["login"]["tokens"]
    asked = (await client.data(REQUEST, {"email": account.email.upper()}))["requestPasswordReset"]
    assert asked == {"ok": True, "errors": []}
    message = await mail_with(mailbox, account.email, "Reset your")
    token = token_in(message, "reset-password")
    assert "30 minutes" in message.text()
    await token_erased(token)

    weak = await client.data(RESET, {"input": {"token": token, "password": "short"}})
    assert codes(weak["resetPassword"]) == [("input.password", "WEAK_PASSWORD")]
    new_password = f"new-{secrets.token_urlsafe(12)}"
    done = await client.data(RESET, {"input": {"token": token, "password": new_password}})
    assert done["resetPassword"] == {"ok": True, "errors": []}

    for access in (account.token, other["accessToken"]):
        ended = await client.as_user(access).execute(ME)
        assert ended["errors"][0]["extensions"]["code"] == "TOKEN_INVALID"
    for refresh in (account.refresh_token, other["refreshToken"]):
        refused = (await client.data(REFRESH, {"token": refresh}))["refreshToken"]
        assert codes(refused) == [("refreshToken", "REFRESH_TOKEN_INVALID")]
    old = {"email": account.email, "password": account.password}
    assert codes((await client.data(LOGIN, {"input": old}))["login"]) == [
        (None, "INVALID_CREDENTIALS")
    ]
    new = {"email": account.email, "password": new_password}
    fresh = (await client.data(LOGIN, {"input": new}))["login"]["tokens"]["accessToken"]
    me = (await client.as_user(fresh).data(ME))["me"]
    assert me["emailVerified"] is True  # the link reached the address

    reused = await client.data(RESET, {"input": {"token": token, "password": "another-pass-99"}})
    assert codes(reused["resetPassword"]) == [("input.token", "LINK_INVALID")]


async def test_a_reset_for_an_unknown_address_answers_the_same_and_mails_nobody(
    client: GraphQLClient, mailbox: MailSink
) -> None:
    account = await register(client)
    nobody = f"nobody-{secrets.token_hex(6)}@example.com"
    since = utcnow()
    known = await client.execute(REQUEST, {"email": account.email})
    unknown = await client.execute(REQUEST, {"email": nobody})
    assert known == unknown == {"data": {"requestPasswordReset": {"ok": True, "errors": []}}}

    async def handled() -> bool:
        issued = await AccountToken.find(
            {"purpose": Purpose.RESET_PASSWORD.value, "user_id": None}
        ).to_list()
        ours = [t for t in issued if as_utc(t.created_at) >= since]
        return bool(ours) and all(t.sealed is None for t in ours)

    await eventually(handled)
    await mail_with(mailbox, account.email, "Reset your")
    assert mailbox.to(nobody) == []
    assert await OutgoingEmail.find(OutgoingEmail.to == nobody).count() == 0


async def test_password_resets_are_limited_per_address_and_per_client(
    client: GraphQLClient,
) -> None:
    target = f"target-{secrets.token_hex(6)}@example.com"
    answers = [
        (await GraphQLClient(client.base_url).data(REQUEST, {"email": target}))[
            "requestPasswordReset"
        ]
        for _ in range(4)
    ]
    assert [a["ok"] for a in answers] == [True, True, True, False]
    assert codes(answers[3]) == [(None, "RATE_LIMITED")]

    one_client = GraphQLClient(client.base_url)
    codes_seen = []
    for _ in range(11):
        address = f"someone-{secrets.token_hex(6)}@example.com"
        payload = (await one_client.data(REQUEST, {"email": address}))["requestPasswordReset"]
        codes_seen.append(codes(payload))
    assert codes_seen[:10] == [[]] * 10
    assert codes_seen[10] == [(None, "RATE_LIMITED")]


async def test_only_the_user_and_admins_read_whether_the_email_is_verified(
    client: GraphQLClient,
) -> None:
    account = await register(client)
    stranger = await register(client)
    query = "query N($id: ID!) { node(id: $id) { ... on User { emailVerified } } }"
    own = await account.client.execute(query, {"id": account.id})
    assert own["data"]["node"] == {"emailVerified": False}
    await User.get_pymongo_collection().update_one(
        {"_id": user_id(account)}, {"$set": {"email_verified_at": utcnow()}}
    )
    assert (await account.client.data(ME))["me"]["emailVerified"] is True
    theirs = await stranger.client.execute(query, {"id": account.id})
    assert theirs["data"]["node"] is None  # not visible at all to a stranger
