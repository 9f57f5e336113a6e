"""Reminders before a booking: to the customer (24 h before by default) and to the
specialist (2 h before), sent by a periodic sweep.

Nothing is scheduled ahead: each sweep looks for confirmed bookings whose reminder is due
(its moment has come and the booking has not started), and sends each reminder under a
key of the booking, its start and the party. So a reminder survives any restart (the
booking is the schedule), is sent once however many workers sweep (the key), is never sent
for a booking no longer confirmed, and moves with a rescheduled booking (a new start is a
new key). A booking made after its reminder's moment gets none: its confirmation is fresh.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from specialistly.core.bookings import Booking, BookingStatus, starting_on_days
from specialistly.core.clock import as_utc
from specialistly.core.events import Event
from specialistly.features import outgoing
from specialistly.features.booking_mail import booking_facts
from specialistly.features.mail import deliver, templates, with_unsubscribe
from specialistly.providers import ProviderError
from specialistly.runtime import Runtime

log = logging.getLogger("specialistly.features.reminders")
BATCH = 500


def _human(before: timedelta) -> str:
    hours = before.total_seconds() / 3600
    if hours >= 1 and hours == int(hours):
        return f"{int(hours)} hour{'s' if hours != 1 else ''}"
    return f"{int(before.total_seconds() // 60)} minutes"


async def send_due(runtime: Runtime, now: datetime) -> None:
    """Send every reminder due at `now` that was not sent yet."""
    offsets = {
        "customer": runtime.settings.reminder_customer_before,
        "specialist": runtime.settings.reminder_specialist_before,
    }
    horizon = now + max(offsets.values())
    soon = {"status": BookingStatus.CONFIRMED.value, "start": {"$gt": now, "$lte": horizon}}
    for booking in await starting_on_days(now, horizon, soon, limit=BATCH):
        for party, before in offsets.items():
            moment = as_utc(booking.start) - before
            if moment <= now and as_utc(booking.created_at) <= moment:
                await _remind(runtime, booking, party, before)


async def _remind(runtime: Runtime, booking: Booking, party: str, before: timedelta) -> None:
    # The values of a booking's emails are taken from an event; a reminder has none.
    stand_in = Event(
        name="booking.reminder",
        subject=f"bookings:{booking.id}",
        data={"booking_id": str(booking.id)},
        occurred_at=booking.updated_at,
    )
    facts = await booking_facts(booking, stand_in, runtime.settings)
    user = facts.customer if party == "customer" else facts.specialist
    if user is None:
        return
    name = f"reminder_{party}"
    values = {**facts.values_for(party), "reminder_before": _human(before)}
    headers = with_unsubscribe(values, user, name, runtime.settings)
    start = as_utc(booking.start).isoformat()
    draft = outgoing.Draft(
        key=f"reminder:{booking.id}:{start}:{user.id}:{name}",
        template=name,
        to=user.email,
        rendered=templates(runtime.settings).render(name, values),
        user_id=user.id,
        booking_id=booking.id,
        headers=headers,
    )
    try:
        await deliver(draft, runtime)
    except (ProviderError, outgoing.SendBusyError) as exc:
        log.warning("reminder %s not sent yet: %s", draft.key, exc)  # the next sweep retries
