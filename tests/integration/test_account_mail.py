"""The link emails in-process against the real SMTP server: the recorded email holds a
placeholder, never the token; a send refused for now keeps the sealed token, and the next
delivery sends the same link once and erases it."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from specialistly.core import account_tokens, accounts, events
from specialistly.core.account_tokens import AccountToken, Purpose, digest
from specialistly.core.clock import utcnow
from specialistly.core.errors import DomainError, ErrorCode
from specialistly.core.events import Event
from specialistly.features import account_mail, outgoing
from specialistly.providers import ProviderError
from specialistly.runtime import Runtime
from tests.bookings_fixtures import make_user
from tests.mail import MailSink


async def reset_token(runtime: Runtime, user_id: object, token: str) -> AccountToken:
    """A reset token stored without its event, so that no worker sends it: the test does."""
    now = utcnow()
    stored = AccountToken(
        purpose=Purpose.RESET_PASSWORD,
        token_hash=digest(token),
        user_id=user_id,
        created_at=now,
        expires_at=now + timedelta(minutes=30),
        sealed=account_mail.seal(runtime.settings).seal(token),
    )
    return await stored.insert()


def requested(token: AccountToken) -> Event:
    return Event(
        name=events.PASSWORD_RESET_REQUESTED,
        subject=f"account_tokens:{token.id}",
        data={"token_id": str(token.id), "user_id": str(token.user_id)},
        occurred_at=utcnow(),
    )


async def test_a_refused_link_email_keeps_its_token_until_it_is_sent_once(
    runtime: Runtime, mailbox: MailSink
) -> None:
    user = await make_user()
    token = "t0ken-" + "x" * 40
    stored = await reset_token(runtime, user.id, token)
    event = requested(stored)

    mailbox.refuse_with = "451 Try again later"
    try:
        with pytest.raises(ProviderError):
            await account_mail.on_event(event, runtime)
    finally:
        mailbox.refuse_with = None
    [pending] = await outgoing.OutgoingEmail.find(outgoing.OutgoingEmail.to == user.email).to_list()
    assert pending.status == outgoing.EmailStatus.PENDING
    assert account_mail.PLACEHOLDER in pending.text and account_mail.PLACEHOLDER in pending.html
    assert token not in pending.text + pending.html
    kept = await AccountToken.get(stored.id)
    assert kept is not None and kept.sealed is not None

    await account_mail.on_event(event, runtime)
    await account_mail.on_event(event, runtime)
    [received] = mailbox.to(user.email)
    assert re.search(rf"/reset-password\?token={token}\s", received.text())
    assert f"reset-password?token={token}" in received.html()
    assert account_mail.PLACEHOLDER not in received.text()
    erased = await AccountToken.get(stored.id)
    assert erased is not None and erased.sealed is None
    [sent] = await outgoing.OutgoingEmail.find(outgoing.OutgoingEmail.to == user.email).to_list()
    assert sent.status == outgoing.EmailStatus.SENT
    assert token not in sent.text + sent.html


async def test_a_link_used_or_expired_before_its_email_is_not_sent(
    runtime: Runtime, mailbox: MailSink
) -> None:
    user = await make_user()
    stored = await reset_token(runtime, user.id, "expired-" + "y" * 40)
    await AccountToken.get_pymongo_collection().update_one(
        {"_id": stored.id}, {"$set": {"expires_at": utcnow() - timedelta(seconds=1)}}
    )
    await account_mail.on_event(requested(stored), runtime)
    assert mailbox.to(user.email) == []
    erased = await AccountToken.get(stored.id)
    assert erased is not None and erased.sealed is None


async def test_a_reset_stops_the_other_reset_links_and_outlives_unrevoked_sessions(
    runtime: Runtime,
) -> None:
    user = await make_user()
    assert user.id is not None
    session = await runtime.tokens.start_session(user)
    first, second = "first-" + "a" * 40, "second-" + "b" * 40
    await reset_token(runtime, user.id, first)
    await reset_token(runtime, user.id, second)

    await accounts.reset_password(first, "a brand new passphrase")
    with pytest.raises(DomainError) as stopped:
        await account_tokens.usable(second, Purpose.RESET_PASSWORD)
    assert stopped.value.problems[0].code == ErrorCode.LINK_INVALID
    # The session was not revoked (the API does that), yet it is over: it began before.
    with pytest.raises(DomainError) as refused:
        await runtime.tokens.identify(session.access_token)
    assert refused.value.problems[0].code == ErrorCode.TOKEN_INVALID
    with pytest.raises(DomainError) as no_refresh:
        await runtime.tokens.refresh(session.refresh_token)
    assert no_refresh.value.problems[0].code == ErrorCode.REFRESH_TOKEN_INVALID
    fresh = await runtime.tokens.start_session(await accounts.get_user(user.id))
    assert (await runtime.tokens.identify(fresh.access_token)).user.id == user.id


async def test_tokens_long_expired_are_deleted_by_the_sweep(runtime: Runtime) -> None:
    user = await make_user()
    old = await reset_token(runtime, user.id, "old-" + "c" * 40)
    recent = await reset_token(runtime, user.id, "recent-" + "d" * 40)
    now = utcnow()
    for stored, expired in ((old, timedelta(days=8)), (recent, timedelta(days=1))):
        await AccountToken.get_pymongo_collection().update_one(
            {"_id": stored.id}, {"$set": {"expires_at": now - expired}}
        )
    await account_tokens.delete_expired(now, account_mail.KEEP_EXPIRED)
    assert await AccountToken.get(old.id) is None
    assert await AccountToken.get(recent.id) is not None
