"""In-app notifications in-process: which events leave which notification for whom, once
per event and recipient however often the event is delivered, and marking them read."""

from __future__ import annotations

import asyncio
import secrets

import pytest
from beanie import PydanticObjectId

from specialistly.core import booking_changes, events, payments
from specialistly.core.bookings import Booking
from specialistly.core.errors import DomainError, ErrorCode
from specialistly.core.events import Event
from specialistly.core.users import Role, User
from specialistly.features import mail
from specialistly.features import notifications_inbox as inbox
from specialistly.plugin_system.dispatch import dispatch_event
from specialistly.runtime import Runtime
from tests.bookings_fixtures import book, day_at, make_service, make_user
from tests.deliveries import deliver_booking_events


async def kinds_of(user: User) -> list[str]:
    found = await inbox.Notification.find({"user_id": user.id}).to_list()
    return sorted(n.kind for n in found)


async def booked(runtime: Runtime) -> tuple[User, User, Booking]:
    customer = await make_user()
    service = await make_service(title="Career chat")
    booking = await book(customer, service, day_at(10))
    await deliver_booking_events(runtime, booking.id)
    specialist = await User.get(service.specialist_id)
    assert specialist is not None
    return customer, specialist, booking


async def emit(runtime: Runtime, name: str, **data: object) -> Event:
    """Store and deliver an event as the worker would."""
    event = await Event(
        name=name, subject=f"tests:{secrets.token_hex(4)}", data=data, occurred_at=day_at(9)
    ).insert()
    await dispatch_event(str(event.id), runtime)
    return event


async def test_a_booking_tells_both_parties_once_however_often_delivered(
    runtime: Runtime,
) -> None:
    customer, specialist, booking = await booked(runtime)
    subject = f"bookings:{booking.id}"
    for _ in range(2):
        await Event.find(Event.subject == subject).update(
            {"$set": {"dispatched_at": None, "handled_by": []}}
        )
        for event in await Event.find(Event.subject == subject).to_list():
            await dispatch_event(str(event.id), runtime)

    assert await kinds_of(customer) == [events.BOOKING_CONFIRMED]
    assert await kinds_of(specialist) == [events.BOOKING_CONFIRMED]
    [told] = await inbox.Notification.find({"user_id": customer.id}).to_list()
    assert told.title == "Booking confirmed"
    assert told.body.startswith("Career chat with T on ")
    assert told.booking_id == booking.id and told.read_at is None and not told.read
    assert told.link == f"{runtime.settings.frontend_url.rstrip('/')}/bookings/{booking.id}"


async def test_each_event_that_sends_email_tells_its_recipients(runtime: Runtime) -> None:
    customer, specialist, booking = await booked(runtime)
    of_booking = {"booking_id": str(booking.id)}
    await emit(runtime, mail.MEETING_PENDING, **of_booking)
    await emit(runtime, events.MEETING_FAILED, **of_booking, reason="Zoom is down")
    await emit(runtime, mail.RECORDING_READY, **of_booking, recording_url="https://r.example/1")
    await emit(runtime, events.BOOKING_COMPLETED, **of_booking)
    await emit(runtime, events.BOOKING_EXPIRED, **of_booking)
    refund = {"refunded": 1250, "currency": "kwd", "reason": payments.REFUND_CANCELLATION}
    await emit(runtime, payments.PAYMENT_REFUNDED, **of_booking, **refund)
    await emit(runtime, mail.ZOOM_DISCONNECTED, specialist_id=str(specialist.id))
    await emit(runtime, "booking.unknown_to_anyone", **of_booking)
    await booking_changes.reschedule(str(booking.id), customer, day_at(14))
    await booking_changes.cancel(str(booking.id), specialist, "Ill")
    await deliver_booking_events(runtime, booking.id)

    assert await kinds_of(customer) == sorted(
        [
            events.BOOKING_CONFIRMED,
            mail.RECORDING_READY,
            events.BOOKING_COMPLETED,
            events.BOOKING_EXPIRED,
            payments.PAYMENT_REFUNDED,
            events.BOOKING_RESCHEDULED,
            events.BOOKING_CANCELLED,
        ]
    )
    assert await kinds_of(specialist) == sorted(
        [
            events.BOOKING_CONFIRMED,
            mail.MEETING_PENDING,
            events.MEETING_FAILED,
            mail.RECORDING_READY,
            mail.ZOOM_DISCONNECTED,
            events.BOOKING_RESCHEDULED,
            events.BOOKING_CANCELLED,
        ]
    )
    refunded = await inbox.Notification.find_one(
        {"user_id": customer.id, "kind": payments.PAYMENT_REFUNDED}
    )
    assert refunded is not None and refunded.body.startswith("1.250 KWD is refunded to you")
    recording = await inbox.Notification.find_one(
        {"user_id": specialist.id, "kind": mail.RECORDING_READY}
    )
    assert recording is not None and recording.link == "https://r.example/1"
    zoom = await inbox.Notification.find_one(
        {"user_id": specialist.id, "kind": "zoom.disconnected"}
    )
    assert zoom is not None and zoom.link is not None and zoom.booking_id is None
    assert zoom.link.endswith("/settings/integrations")


async def told(user: User, count: int) -> list[inbox.Notification]:
    assert user.id is not None
    added = []
    for _ in range(count):
        event_id = PydanticObjectId()
        notification = inbox.Notification(
            key=f"{event_id}:{user.id}",
            user_id=user.id,
            kind="test.told",
            event_id=event_id,
            title="Told",
            body="Something.",
        )
        added.append(await inbox.add(notification))
    return added


async def test_only_the_recipient_marks_a_notification_read(runtime: Runtime) -> None:
    owner, other = await make_user(), await make_user(Role.SPECIALIST)
    assert owner.id is not None and other.id is not None
    first, second = await told(owner, 2)

    for who, which in ((other, str(first.id)), (owner, "not-an-id"), (owner, str(other.id))):
        assert who.id is not None
        with pytest.raises(DomainError) as refused:
            await inbox.mark_read(who.id, which)
        assert refused.value.problems[0].code == ErrorCode.NOT_FOUND
    read = await inbox.mark_read(owner.id, str(first.id))
    again = await inbox.mark_read(owner.id, str(first.id))
    assert read.read and read.read_at is not None and again.read_at == read.read_at
    assert await inbox.unread_count(owner.id) == 1
    assert await inbox.mark_all_read(owner.id) == 1
    assert await inbox.unread_count(owner.id) == 0
    stored = await inbox.Notification.get(second.id)
    assert stored is not None and stored.read and stored.read_at is not None


async def test_marking_one_and_all_at_once_loses_nothing(runtime: Runtime) -> None:
    user = await make_user()
    assert user.id is not None
    uid = user.id
    added = await told(user, 8)

    *marked, _ = await asyncio.gather(
        *(inbox.mark_read(uid, str(n.id)) for n in added), inbox.mark_all_read(uid)
    )
    assert all(isinstance(n, inbox.Notification) and n.read for n in marked)
    stored = await inbox.Notification.find({"user_id": uid}).to_list()
    assert len(stored) == 8 and all(n.read and n.read_at is not None for n in stored)
    assert await inbox.unread_count(uid) == 0
