"""Meetings that did not come in time: a sweep that announces them once.

The creation of a booking's Zoom meeting keeps being tried while Zoom is down or a daily
limit holds it back, and each try is a redelivery of ``booking.confirmed`` that may come
long after the booking's start. So the deadline is watched here instead: a confirmed
Zoom booking still without its meeting once its start is within the platform's
``meeting_deadline`` gets ``meeting.failed`` (the specialist can still set a link by
hand; payments refund the customer). The booking's ``meeting_error`` records it, under
the booking's lock and re-read, so that several workers sweeping at once announce it
once. The tries go on: a meeting made later is stored and announced as usual.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from beanie import PydanticObjectId

from specialistly.core import events
from specialistly.core.bookings import Booking, BookingStatus, booking_lock, starting_on_days
from specialistly.core.errors import DomainError
from specialistly.core.events import new_event, update_with_events
from specialistly.hookspecs import Sweep
from specialistly_zoom import metrics

PROVIDER = "zoom"
REASON = "The Zoom meeting could not be created before the deadline."
BATCH = 200
_NO_WAIT = timedelta(0)  # a booking being changed is left to the next sweep


def overdue_meetings(deadline: timedelta) -> Sweep:
    """The sweep, for a deadline of `deadline` before each booking's start."""

    async def sweep(now: datetime) -> None:
        await fail_overdue(now, deadline)

    return sweep


async def fail_overdue(now: datetime, deadline: timedelta) -> list[PydanticObjectId]:
    """Announce ``meeting.failed`` for each overdue booking not told yet; returns their ids."""
    cutoff = now + deadline
    # Those that start from yesterday on: those of earlier days were told then.
    query = {
        "status": BookingStatus.CONFIRMED.value,
        "video_provider": PROVIDER,
        "meeting": None,
        "meeting_error": None,
        "start": {"$lte": cutoff},
    }
    failed = []
    for candidate in await starting_on_days(now - timedelta(days=1), cutoff, query, limit=BATCH):
        assert candidate.id is not None
        try:
            async with booking_lock(candidate.id, wait=_NO_WAIT):
                if await _fail(candidate.id, cutoff, now):
                    failed.append(candidate.id)
        except DomainError:
            continue
    return failed


async def _fail(booking_id: PydanticObjectId, cutoff: datetime, now: datetime) -> bool:
    booking = await Booking.get(booking_id)
    if (
        booking is None
        or booking.status != BookingStatus.CONFIRMED
        or booking.meeting is not None
        or booking.meeting_error is not None
        or booking.start > cutoff
    ):
        return False
    failed = new_event(events.MEETING_FAILED, booking_id=str(booking_id), reason=REASON)
    announced = await update_with_events(
        Booking,
        {
            "_id": booking_id,
            "status": BookingStatus.CONFIRMED.value,
            "meeting": None,
            "meeting_error": None,
        },
        {"$set": {"meeting_error": REASON, "updated_at": now}},
        [failed],
    )
    if announced:
        metrics.MEETING_FAILURES.labels("deadline").inc()
    return announced
