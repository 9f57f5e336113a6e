"""A confirmed Zoom booking still without its meeting at the deadline before its start is
announced as ``meeting.failed`` by a sweep, once, however many workers sweep at once.

The sweep is given the time it runs at, so the tests move the clock instead of waiting.
Bookings start 45 minutes from now: the session's worker, sweeping with the real time
and a 30-minute deadline, does not reach them while a test runs."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import pytest
from beanie import PydanticObjectId

from specialistly.core import events
from specialistly.core.bookings import Booking, MeetingInfo
from specialistly.core.clock import utcnow
from specialistly.core.events import Event
from specialistly.features import meetings
from specialistly.runtime import Runtime
from specialistly_zoom.deadlines import REASON, fail_overdue
from tests.commands import recording
from tests.factories import confirmed_booking_document, make_specialist

pytestmark = pytest.mark.asyncio(loop_scope="session")

DEADLINE = timedelta(minutes=30)


async def zoom_booking_without_meeting(start: datetime, provider: str = "zoom") -> Booking:
    specialist = await make_specialist()
    assert specialist.id is not None
    booking = confirmed_booking_document(specialist.id, start, 60)
    booking.video_provider = provider
    return await booking.insert()


async def failures_of(booking: Booking) -> set[PydanticObjectId]:
    """The ids of the booking's meeting.failed events, in its outbox or published (the
    session's sweeper may publish the outbox at any moment, keeping the ids)."""
    raw = await Booking.get_pymongo_collection().find_one({"_id": booking.id})
    assert raw is not None
    waiting = {e["id"] for e in raw.get("outbox", []) if e["name"] == events.MEETING_FAILED}
    subject = f"{Booking.get_pymongo_collection().name}:{booking.id}"
    published = await Event.find({"subject": subject, "name": events.MEETING_FAILED}).to_list()
    return waiting | {e.id for e in published if e.id is not None}


async def test_a_meeting_missing_at_the_deadline_is_announced_once(runtime: Runtime) -> None:
    start = utcnow() + timedelta(minutes=45)
    booking = await zoom_booking_without_meeting(start)

    assert booking.id not in await fail_overdue(start - DEADLINE - timedelta(minutes=1), DEADLINE)
    assert await failures_of(booking) == set()

    at_deadline = start - DEADLINE + timedelta(seconds=1)
    swept = await asyncio.gather(*(fail_overdue(at_deadline, DEADLINE) for _ in range(4)))

    assert sum(booking.id in ids for ids in swept) == 1
    assert len(await failures_of(booking)) == 1
    stored = await Booking.get(booking.id)
    assert stored is not None and stored.meeting_error == REASON
    # A later sweep, or the creation job delivered again past the deadline, adds nothing.
    assert booking.id not in await fail_overdue(at_deadline + timedelta(minutes=5), DEADLINE)
    await meetings.ensure_meeting(stored, runtime)  # Zoom is not configured here: refused
    assert len(await failures_of(booking)) == 1


async def test_a_booking_with_its_meeting_or_of_another_provider_is_left_alone(
    runtime: Runtime,
) -> None:
    start = utcnow() + timedelta(minutes=45)
    with_meeting = await zoom_booking_without_meeting(start)
    meeting = MeetingInfo(provider="zoom", external_id="1", join_url="https://zoom.example/j/1")
    await Booking.get_pymongo_collection().update_one(
        {"_id": with_meeting.id},
        {"$set": {"meeting": meeting.model_dump()}},
    )
    jitsi = await zoom_booking_without_meeting(start, provider="jitsi")

    swept = await fail_overdue(start - DEADLINE + timedelta(seconds=1), DEADLINE)

    assert with_meeting.id not in swept and jitsi.id not in swept
    assert await failures_of(with_meeting) == set() and await failures_of(jitsi) == set()


async def test_hook_sweeps_watches_the_platforms_meeting_deadline(runtime: Runtime) -> None:
    start = utcnow() + timedelta(minutes=45)
    booking = await zoom_booking_without_meeting(start)
    [(_, zoom_sweeps)] = [
        (name, found)
        for name, found in runtime.plugins.collect("sweeps", runtime=runtime)
        if name == "zoom"
    ]
    deadline = runtime.settings.meeting_deadline

    for sweep in zoom_sweeps:
        await sweep(start - deadline + timedelta(seconds=1))

    assert len(await failures_of(booking)) == 1


async def test_the_sweep_reads_the_bookings_of_its_days_only(runtime: Runtime) -> None:
    starting = await zoom_booking_without_meeting(utcnow() + timedelta(minutes=45))
    later = await zoom_booking_without_meeting(utcnow() + timedelta(days=3))
    now = starting.start - DEADLINE + timedelta(seconds=1)

    async with recording(runtime) as commands:
        failed = await fail_overdue(now, DEADLINE)

    assert starting.id in failed and later.id not in failed
    finds = [e.command["filter"] for e in commands.events if e.command_name == "find"]
    searches = [f for f in finds if "_id" not in f]  # not the reads of those it found
    assert searches and all(isinstance(f.get("start_day"), int) for f in searches)
