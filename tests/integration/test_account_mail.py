"""The link emails in-process against the real SMTP server: the recorded email holds a
placeholder, never the token; a send refused for now keeps the sealed token, and the next
delivery sends the same link once and erases it."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from specialistly.core import events
from specialistly.core.account_tokens import AccountToken, Purpose, digest
from specialistly.core.clock import utcnow
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
