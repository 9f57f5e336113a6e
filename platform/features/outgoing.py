"""Every email the platform sends, recorded before it is sent and sent at most once per key.

An email is first stored, rendered, under a unique ``key`` (for example the event, the
recipient and the template): recording it again finds the stored one, so a redelivered
event sends nothing twice. Sending claims the record under its lock with a lease, sends,
and marks it sent with the provider's message id; a new email is recorded with that lease
already, its unique insert doing what the lock does (two writes in all when nothing
fails). A sender that dies mid-send leaves the record pending with a lease; once the
lease has run out the next delivery sends it, so no message is lost. The one window this
cannot close is a death after the provider accepted the message and before it was marked
sent: the message then goes out again, with the same Message-ID, which mail clients use
to show it once.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from beanie import Document, PydanticObjectId
from pydantic import BaseModel, Field
from pymongo import ASCENDING, IndexModel
from pymongo.errors import DuplicateKeyError

from specialistly.core.clock import as_utc, utcnow
from specialistly.core.locks import document_lock
from specialistly.features.email_templates import Rendered
from specialistly.providers import Attachment, EmailMessage, EmailProvider, ProviderError

log = logging.getLogger("specialistly.features.outgoing")

# How long a sender has to finish before another may send the same email (the default of
# SPECIALISTLY_EMAIL_SEND_LEASE).
SEND_LEASE = timedelta(minutes=2)


class EmailStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"  # refused for good by the provider
    # Not sent: the user turned this kind off, or the address bounced or reported spam.
    SUPPRESSED = "suppressed"


class Delivery(StrEnum):
    DELIVERED = "delivered"
    DEFERRED = "deferred"
    BOUNCED = "bounced"  # for good: the address does not take mail
    BLOCKED = "blocked"  # refused this time
    DROPPED = "dropped"
    SPAM_REPORT = "spam_report"


class DeliveryReport(BaseModel):
    key: str  # the provider's id of the report; a report seen twice is recorded once
    status: Delivery
    at: datetime
    reason: str | None = None


class StoredAttachment(BaseModel):
    filename: str
    content_type: str
    content: bytes


class OutgoingEmail(Document):
    key: str  # unique: what makes a second recording of the same email find the first
    template: str
    to: str
    user_id: PydanticObjectId | None = None
    booking_id: PydanticObjectId | None = None
    subject: str
    text: str
    html: str
    headers: dict[str, str] = {}
    attachments: list[StoredAttachment] = []
    status: EmailStatus = EmailStatus.PENDING
    attempts: int = 0
    lease_until: datetime | None = None
    provider: str | None = None
    provider_message_id: str | None = None
    last_error: str | None = None
    created_at: datetime = Field(default_factory=utcnow)
    sent_at: datetime | None = None
    # What the provider reported since (see features/deliveries.py): the latest, and all.
    delivery: Delivery | None = None
    deliveries: list[DeliveryReport] = []

    class Settings:
        name = "emails"
        indexes = [
            IndexModel([("key", ASCENDING)], unique=True),
            IndexModel([("booking_id", ASCENDING)]),
            IndexModel([("to", ASCENDING)]),
            IndexModel([("provider_message_id", ASCENDING)]),
        ]


@dataclass(frozen=True)
class Draft:
    """An email to record: its key, recipient, template and rendered content."""

    key: str
    template: str
    to: str
    rendered: Rendered
    user_id: PydanticObjectId | None = None
    booking_id: PydanticObjectId | None = None
    headers: dict[str, str] = field(default_factory=dict)
    attachments: tuple[Attachment, ...] = ()


class SendBusyError(Exception):
    """Another sender holds the email's lease; deliver again later."""


async def record(draft: Draft) -> OutgoingEmail:
    """Store the draft, or find the email already stored under its key."""
    email, _ = await _record(draft, {})
    return email


async def record_leased(
    draft: Draft, lease: timedelta = SEND_LEASE, *, now: datetime | None = None
) -> tuple[OutgoingEmail, bool]:
    """Store the draft with its first send leased to the caller (True: send it with
    `send_leased`), or find the email already stored under its key (False: `send`).

    The insert is what makes the caller the one sender, as the lease taken under the
    email's lock does for one recorded earlier: a fresh email costs no lock."""
    now = now or utcnow()
    return await _record(draft, {"lease_until": now + lease, "attempts": 1})


async def _record(draft: Draft, leased: dict[str, object]) -> tuple[OutgoingEmail, bool]:
    email = OutgoingEmail(
        key=draft.key,
        template=draft.template,
        to=draft.to,
        user_id=draft.user_id,
        booking_id=draft.booking_id,
        subject=draft.rendered.subject,
        text=draft.rendered.text,
        html=draft.rendered.html,
        headers=draft.headers,
        attachments=[
            StoredAttachment(filename=a.filename, content_type=a.content_type, content=a.content)
            for a in draft.attachments
        ],
        **leased,
    )
    try:
        return await email.insert(), True
    except DuplicateKeyError:
        found = await OutgoingEmail.find_one(OutgoingEmail.key == draft.key)
        assert found is not None
        return found, False


async def send(
    email: OutgoingEmail,
    provider: EmailProvider,
    sender: str,
    *,
    now: datetime | None = None,
    lease: timedelta = SEND_LEASE,
    fill: Mapping[str, str] | None = None,
) -> OutgoingEmail:
    """Send a recorded email unless it was sent (or refused for good) already.

    `fill` replaces placeholders in the message sent, not in the record: what must not be
    stored (the token of a link) is recorded as a placeholder and filled in here.

    Raises the provider's transient ProviderError, and SendBusyError while another sender
    holds the lease: the caller tries again later.
    """
    now = now or utcnow()
    async with document_lock(OutgoingEmail, email.id):
        current = await OutgoingEmail.get(email.id)
        assert current is not None
        if current.status != EmailStatus.PENDING:
            return current
        if current.lease_until is not None and as_utc(current.lease_until) > now:
            raise SendBusyError(str(current.id))
        current = await _set(current, lease_until=now + lease, attempts=current.attempts + 1)
    return await send_leased(current, provider, sender, fill=fill)


async def send_leased(
    email: OutgoingEmail,
    provider: EmailProvider,
    sender: str,
    *,
    fill: Mapping[str, str] | None = None,
) -> OutgoingEmail:
    """Send an email whose lease the caller holds (see `send` and `record_leased`)."""
    try:
        message_id = await provider.send(_message(email, sender, fill or {}))
    except ProviderError as exc:
        if exc.transient:
            await _set(email, lease_until=None, last_error=str(exc)[:500])
            raise
        log.warning("email %s refused for good: %s", email.id, exc)
        return await _set(email, status=EmailStatus.FAILED, last_error=str(exc)[:500])
    return await _set(
        email,
        status=EmailStatus.SENT,
        provider=provider.name,
        provider_message_id=message_id,
        sent_at=utcnow(),
        lease_until=None,
        last_error=None,
    )


async def suppress(email: OutgoingEmail) -> OutgoingEmail:
    """Mark a recorded email as not to be sent (its address is suppressed)."""
    if email.status != EmailStatus.PENDING:
        return email
    return await _set(email, status=EmailStatus.SUPPRESSED)


async def _set(email: OutgoingEmail, **changes: object) -> OutgoingEmail:
    await OutgoingEmail.find_one(OutgoingEmail.id == email.id).update({"$set": changes})
    changed: OutgoingEmail = email.model_copy(update=changes)
    return changed


def _filled(text: str, fill: Mapping[str, str]) -> str:
    for placeholder, value in fill.items():
        text = text.replace(placeholder, value)
    return text


def _message(email: OutgoingEmail, sender: str, fill: Mapping[str, str]) -> EmailMessage:
    return EmailMessage(
        to=(email.to,),
        subject=_filled(email.subject, fill),
        text=_filled(email.text, fill),
        html=_filled(email.html, fill),
        sender=sender,
        headers=dict(email.headers),
        attachments=tuple(
            Attachment(a.filename, a.content_type, a.content) for a in email.attachments
        ),
        message_id=str(email.id),
    )
