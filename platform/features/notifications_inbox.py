"""In-app notifications (a built-in plugin): the events that send emails leave one
notification per recipient, which the API lists, counts, marks read and pushes live.

A notification is inserted under a unique key of its event and recipient, so a redelivered
event adds nothing twice. Every delivery then pushes it to its recipient's API instances
(Redis pub/sub, beside the lifecycle notices of `features.notifications`): after a crash a
client may hear of one twice, with the same id, but never of one that was not stored.

Once written, a notification changes only when it is read. Marking one and marking all
hold one lock per recipient (never one per notification, which marking all could not
take), so on FerretDB neither overwrites the other.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from beanie import Document, PydanticObjectId
from pydantic import Field
from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.errors import DuplicateKeyError

from specialistly.core import events, payments
from specialistly.core.bookings import stored_instant
from specialistly.core.clock import utcnow
from specialistly.core.errors import DomainError, ErrorCode
from specialistly.core.events import Event
from specialistly.core.locks import document_lock
from specialistly.core.users import User
from specialistly.features import booking_reads
from specialistly.features.booking_mail import booking_facts
from specialistly.features.mail import MEETING_PENDING, RECORDING_READY, ZOOM_DISCONNECTED
from specialistly.features.money import money
from specialistly.features.notifications import notifications_channel
from specialistly.hookspecs import hookimpl
from specialistly.runtime import Runtime


class Notification(Document):
    key: str  # unique: "<event id>:<recipient id>"
    user_id: PydanticObjectId  # the recipient
    kind: str  # the name of the event it tells of
    event_id: PydanticObjectId
    booking_id: PydanticObjectId | None = None
    title: str
    body: str
    link: str | None = None
    read: bool = False  # beside read_at: an equality FerretDB pushes down
    read_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)

    class Settings:
        name = "notifications"
        indexes = [
            IndexModel([("key", ASCENDING)], unique=True),
            IndexModel([("user_id", ASCENDING), ("created_at", DESCENDING)]),
        ]


CUSTOMER, SPECIALIST = "customer", "specialist"
BOTH = (CUSTOMER, SPECIALIST)


@dataclass(frozen=True)
class Told:
    """What an event tells whom: `title` and `body` are formatted with the values the
    event's emails see (`booking_mail.BookingFacts.values_for`), `link` names one."""

    parties: tuple[str, ...]
    title: str
    body: str
    link: str = "booking_url"


TOLD: dict[str, Told] = {
    events.BOOKING_CONFIRMED: Told(
        BOTH, "Booking confirmed", "{service_title} with {other_party_name} on {start_local}."
    ),
    events.BOOKING_RESCHEDULED: Told(
        BOTH,
        "Booking moved",
        "{service_title} with {other_party_name} is now on {start_local}.",
    ),
    events.BOOKING_CANCELLED: Told(
        BOTH,
        "Booking cancelled",
        "{service_title} with {other_party_name} on {start_local} is cancelled.",
    ),
    events.BOOKING_EXPIRED: Told(
        (CUSTOMER,),
        "Payment time ran out",
        "{service_title} on {start_local} was not paid in time and is no longer booked.",
    ),
    payments.PAYMENT_REFUNDED: Told(
        (CUSTOMER,),
        "Refund made",
        "{refunded} is refunded to you for {service_title} on {start_local}.",
    ),
    MEETING_PENDING: Told(
        (SPECIALIST,),
        "Meeting not created yet",
        "The meeting of {service_title} on {start_local} is not created yet; it is being"
        " tried again.",
    ),
    events.MEETING_FAILED: Told(
        (SPECIALIST,),
        "Meeting could not be created",
        "{service_title} with {other_party_name} on {start_local} has no meeting: set a"
        " meeting link for it.",
    ),
    RECORDING_READY: Told(
        BOTH,
        "Recording ready",
        "The recording of {service_title} with {other_party_name} is ready.",
        link="recording_url",
    ),
    events.BOOKING_COMPLETED: Told(
        (CUSTOMER,),
        "How was it?",
        "Review {service_title} with {other_party_name}.",
        link="review_url",
    ),
}


@hookimpl
def document_models() -> Sequence[type[Document]]:
    return [Notification]


@hookimpl
async def on_event(event: Event, runtime: Runtime) -> None:
    for notification in await _notifications_of(event, runtime):
        added = await add(notification)
        await runtime.redis.publish(
            notifications_channel(runtime, added.user_id), added.model_dump_json()
        )


async def _notifications_of(event: Event, runtime: Runtime) -> list[Notification]:
    if event.name == ZOOM_DISCONNECTED:
        return await _zoom_disconnected(event, runtime)
    told = TOLD.get(event.name)
    booking_id = event.data.get("booking_id")
    if told is None or not PydanticObjectId.is_valid(booking_id):
        return []
    booking = await booking_reads.booking(PydanticObjectId(booking_id))
    if booking is None:
        return []
    facts = await booking_facts(booking, event, runtime.settings)
    found = []
    for party in told.parties:
        user_id = booking.customer_id if party == CUSTOMER else booking.specialist_id
        values = {**facts.values_for(party), **_amounts(event)}
        found.append(
            _notification(
                event,
                user_id,
                booking.id,
                told.title,
                told.body.format(**values),
                values[told.link],
            )
        )
    return found


def _amounts(event: Event) -> dict[str, Any]:
    refunded, currency = event.data.get("refunded"), event.data.get("currency")
    if isinstance(refunded, int) and isinstance(currency, str):
        return {"refunded": money(refunded, currency)}
    return {}


async def _zoom_disconnected(event: Event, runtime: Runtime) -> list[Notification]:
    user_id = event.data.get("specialist_id") or event.data.get("user_id")
    if not PydanticObjectId.is_valid(user_id):
        return []
    user = await User.get(PydanticObjectId(user_id))
    if user is None or user.id is None:
        return []
    link = f"{runtime.settings.frontend_url.rstrip('/')}/settings/integrations"
    body = "Zoom no longer lets the platform create your meetings: reconnect your account."
    return [_notification(event, user.id, None, "Reconnect Zoom", body, link)]


def _notification(
    event: Event,
    user_id: PydanticObjectId,
    booking_id: PydanticObjectId | None,
    title: str,
    body: str,
    link: str | None,
) -> Notification:
    assert event.id is not None
    return Notification(
        key=f"{event.id}:{user_id}",
        user_id=user_id,
        kind=event.name,
        event_id=event.id,
        booking_id=booking_id,
        title=title,
        body=body,
        link=link,
        created_at=event.occurred_at,
    )


async def add(notification: Notification) -> Notification:
    """Store the notification, or find the one already stored under its key."""
    try:
        return await notification.insert()
    except DuplicateKeyError:
        found = await Notification.find_one({"key": notification.key})
        assert found is not None
        return found


def notification_filter(user_id: PydanticObjectId, *, unread_only: bool) -> dict[str, Any]:
    """The recipient's notifications (the unread ones only, if asked): top-level
    equalities, which FerretDB pushes down."""
    query: dict[str, Any] = {"user_id": user_id}
    if unread_only:
        query["read"] = False
    return query


async def unread_count(user_id: PydanticObjectId) -> int:
    collection = Notification.get_pymongo_collection()
    return await collection.count_documents(notification_filter(user_id, unread_only=True))


def _not_found() -> DomainError:
    return DomainError.of(ErrorCode.NOT_FOUND, "There is no such notification.", "id")


async def mark_read(user_id: PydanticObjectId, notification_id: str) -> Notification:
    """Mark one of the user's notifications read (once); NOT_FOUND for anyone else's."""
    if not PydanticObjectId.is_valid(notification_id):
        raise _not_found()
    async with _recipient_lock(user_id):
        found = await Notification.get(PydanticObjectId(notification_id))
        if found is None or found.user_id != user_id:
            raise _not_found()
        if found.read:
            return found
        changes = {"read": True, "read_at": stored_instant(utcnow())}
        await Notification.get_pymongo_collection().update_one({"_id": found.id}, {"$set": changes})
        read: Notification = found.model_copy(update=changes)
        return read


async def mark_all_read(user_id: PydanticObjectId) -> int:
    """Mark every unread notification of the user read; how many there were."""
    async with _recipient_lock(user_id):
        done = await Notification.get_pymongo_collection().update_many(
            notification_filter(user_id, unread_only=True),
            {"$set": {"read": True, "read_at": utcnow()}},
        )
        return done.modified_count


@asynccontextmanager
async def _recipient_lock(user_id: PydanticObjectId) -> AsyncIterator[None]:
    async with document_lock(Notification, f"recipient:{user_id}"):
        yield
