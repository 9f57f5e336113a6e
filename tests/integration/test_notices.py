"""Lifecycle notices: a stored event, as the worker hands it on, becomes a typed notice."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from redis.asyncio.client import PubSub

from specialistly.api.notifications import (
    BookingNotice,
    BookingPartyType,
    BookingRescheduledNotice,
    notice_of,
)
from specialistly.core import booking_changes, events
from specialistly.core.bookings import Booking
from specialistly.core.events import Event
from specialistly.features import notifications
from specialistly.features.notifications import channel, message_of
from specialistly.runtime import Runtime
from tests.bookings_fixtures import book, day_at, make_service, make_user
from tests.commands import recording

pytestmark = pytest.mark.usefixtures("runtime")


async def stored_events(booking: Booking) -> dict[str, Event]:
    """The booking's events, moved from its outbox to the events collection and read back."""

    async def enqueue(*event_ids: str) -> None:
        return None

    await events.publish_outbox(Booking, booking.id, enqueue, lease=timedelta(minutes=1))
    found = await Event.find(Event.subject == f"bookings:{booking.id}").to_list()
    return {event.name: event for event in found}


async def test_a_reschedule_notice_is_typed_with_iso_instants() -> None:
    customer = await make_user()
    booking = await book(customer, await make_service(), day_at(10))
    await booking_changes.reschedule(str(booking.id), customer, day_at(14))

    raw = json.loads(message_of((await stored_events(booking))[events.BOOKING_RESCHEDULED]))
    assert raw["data"]["previous_start"] == day_at(10).isoformat()  # "T" and an offset
    assert "T" in raw["occurred_at"] and raw["occurred_at"].endswith("+00:00")
    notice = notice_of(raw)
    assert isinstance(notice, BookingRescheduledNotice)
    assert notice.by == BookingPartyType.CUSTOMER
    assert (notice.previous_start, notice.previous_end, notice.start, notice.end) == (
        day_at(10),
        day_at(10, 30),
        day_at(14),
        day_at(14, 30),
    )
    assert notice.occurred_at.utcoffset() == timedelta(0)


async def test_events_without_fields_of_their_own_make_plain_notices() -> None:
    booking = await book(await make_user(), await make_service(), day_at(11))
    stored = await stored_events(booking)
    plugin_event = Event(
        name="payment.succeeded",
        subject=f"bookings:{booking.id}",
        data={"booking_id": str(booking.id), "amount": 4500},
        occurred_at=day_at(9),
    )
    for event in (stored[events.BOOKING_CREATED], plugin_event):
        notice = notice_of(json.loads(message_of(event)))
        assert type(notice) is BookingNotice
        assert (notice.name, notice.version) == (event.name, 1)


async def test_a_bookings_notices_read_the_booking_once(runtime: Runtime) -> None:
    customer = await make_user()
    booking = await book(customer, await make_service(), day_at(12))
    stored = await stored_events(booking)
    channels = [channel(runtime, booking.customer_id), channel(runtime, booking.specialist_id)]
    async with runtime.redis.pubsub() as listening:
        await listening.subscribe(*channels)

        async with recording(runtime) as commands:
            for event in stored.values():
                await notifications.on_event(event, runtime)

        heard = await heard_messages(listening, 2 * len(stored))
    assert commands.on("bookings") == ["find"]
    assert sorted(heard) == sorted(
        (name, str(event.id)) for name in channels for event in stored.values()
    )


async def heard_messages(listening: PubSub, count: int) -> list[tuple[str, str]]:
    """(channel, event id) of the next `count` messages published."""
    heard: list[tuple[str, str]] = []
    while len(heard) < count:
        message = await listening.get_message(timeout=30)
        assert message is not None, f"heard {len(heard)} of {count} messages"
        if message["type"] == "message":
            heard.append((message["channel"].decode(), json.loads(message["data"])["id"]))
    return heard
