"""Delivering a booking's events in the test's own process, as the worker would."""

from __future__ import annotations

from datetime import timedelta

from beanie import PydanticObjectId

from specialistly.core import events
from specialistly.core.bookings import Booking
from specialistly.core.events import Event
from specialistly.plugin_system.dispatch import dispatch_event
from specialistly.runtime import Runtime


async def _not_enqueued(*event_ids: str) -> None:
    return None


async def deliver_booking_events(runtime: Runtime, booking_id: PydanticObjectId | None) -> None:
    """Publish the booking's outbox and deliver each new event to every plugin, until the
    plugins' reactions (a meeting created, ...) add no more events."""
    delivered: set[PydanticObjectId | None] = set()
    while True:
        await events.publish_outbox(Booking, booking_id, _not_enqueued, lease=timedelta(minutes=5))
        found = await Event.find(Event.subject == f"bookings:{booking_id}").to_list()
        new = sorted((e for e in found if e.id not in delivered), key=lambda e: e.occurred_at)
        if not new:
            return
        for event in new:
            delivered.add(event.id)
            await dispatch_event(str(event.id), runtime)
