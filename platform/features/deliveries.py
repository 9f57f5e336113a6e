"""What became of sent emails, as providers report it, and the addresses not to mail.

An email provider that learns what happened to a message (a webhook, typically) calls
:func:`report`: the delivery is recorded on the sent email, once per report key, and a
hard bounce or a spam report suppresses every further non-essential email (reminders,
review requests) to that address. Essential ones (confirmations, changes, account emails)
still go: the recipient needs them.
"""

from __future__ import annotations

from contextlib import suppress as suppress_error
from datetime import datetime

from beanie import Document
from pydantic import Field
from pymongo import ASCENDING, IndexModel
from pymongo.errors import DuplicateKeyError

from specialistly.core.clock import utcnow
from specialistly.core.locks import document_lock
from specialistly.features.outgoing import Delivery, DeliveryReport, OutgoingEmail

SUPPRESSING = frozenset({Delivery.BOUNCED, Delivery.SPAM_REPORT})


class EmailSuppression(Document):
    address_key: str  # the lower-cased address
    reason: Delivery
    at: datetime = Field(default_factory=utcnow)

    class Settings:
        name = "email_suppressions"
        indexes = [IndexModel([("address_key", ASCENDING)], unique=True)]


async def report(
    provider: str, message_id: str, address: str, delivery: DeliveryReport
) -> OutgoingEmail | None:
    """Record what the provider says of the message it sent with ``message_id``; None when
    no email of ours has that id (the address is suppressed all the same if it must be)."""
    if delivery.status in SUPPRESSING:
        await suppress(address, delivery.status)
    found = await OutgoingEmail.find_one(
        OutgoingEmail.provider_message_id == message_id, OutgoingEmail.provider == provider
    )
    if found is None:
        return None
    async with document_lock(OutgoingEmail, found.id):
        current = await OutgoingEmail.get(found.id)
        assert current is not None
        if any(seen.key == delivery.key for seen in current.deliveries):
            return current
        await OutgoingEmail.find_one(OutgoingEmail.id == found.id).update(
            {
                "$push": {"deliveries": delivery.model_dump()},
                "$set": {"delivery": delivery.status.value},
            }
        )
    return await OutgoingEmail.get(found.id)


async def suppress(address: str, reason: Delivery) -> None:
    with suppress_error(DuplicateKeyError):  # suppressed already
        await EmailSuppression(address_key=address.lower(), reason=reason).insert()


async def is_suppressed(address: str) -> bool:
    found = await EmailSuppression.find_one(EmailSuppression.address_key == address.lower())
    return found is not None
