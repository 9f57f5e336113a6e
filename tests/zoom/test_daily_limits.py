"""Zoom's daily limits (a user's 100 meeting creations and updates a UTC day): the work
is queued until the next UTC day, neither retried at once nor failed, and then done."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest

from specialistly.core import events
from specialistly.core.bookings import Booking
from specialistly.core.clock import as_utc, utcnow
from specialistly.core.events import Event
from specialistly.plugin_system.dispatch import dispatch_event
from specialistly.plugin_system.manager import ProviderSet
from specialistly.providers import Providers, VideoProvider
from specialistly.runtime import Runtime
from specialistly_zoom.client import ZoomDailyLimitError, next_utc_day
from specialistly_zoom.provider import ZoomProvider
from tests.factories import confirmed_booking_document, make_specialist
from tests.zoom.connecting import connect
from tests.zoom.test_meetings import request_for
from tests.zoom_fake import ZoomFake

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_a_daily_limit_is_not_tried_again_the_same_day(
    zoom: ZoomFake, provider: ZoomProvider
) -> None:
    zoom.add_user("busy@zoom.example")
    specialist = await make_specialist()
    assert specialist.id is not None
    await connect(provider, specialist.id)
    zoom.fail("api", "429-daily")  # once: a try again at once would succeed
    before = next_utc_day(utcnow())

    with pytest.raises(ZoomDailyLimitError) as limited:
        await provider.create_meeting(request_for(specialist.id))

    assert limited.value.transient and zoom.creations == 0
    assert limited.value.resumes_at in (before, next_utc_day(utcnow()))
    assert limited.value.retry_after is not None and limited.value.retry_after > 0


def zoom_only(runtime: Runtime, provider: ZoomProvider) -> Runtime:
    video = Providers[VideoProvider]("video", VideoProvider, [provider])
    providers = ProviderSet(
        video=video, payment=runtime.providers.payment, email=runtime.providers.email
    )
    return dataclasses.replace(runtime, providers=providers)


async def test_a_creation_past_the_daily_limit_waits_for_the_next_day_then_happens(
    zoom: ZoomFake, provider: ZoomProvider, runtime: Runtime
) -> None:
    zoom_user = zoom.add_user("limited@zoom.example")
    specialist = await make_specialist()
    assert specialist.id is not None
    await connect(provider, specialist.id)
    booking = confirmed_booking_document(specialist.id, utcnow() + timedelta(days=3), 60)
    booking.video_provider = "zoom"
    await booking.insert()
    confirmed = Event(
        name=events.BOOKING_CONFIRMED,
        subject=f"bookings:{booking.id}",
        occurred_at=utcnow(),
        data={"booking_id": str(booking.id)},
        # The session's worker (with no Zoom settings) must not deliver it meanwhile.
        next_attempt_at=utcnow() + timedelta(days=30),
    )
    await confirmed.insert()
    rt = zoom_only(runtime, provider)
    zoom.fail("api", "429-daily")

    assert not await dispatch_event(str(confirmed.id), rt)

    queued = await Event.get(confirmed.id)
    assert queued is not None and queued.pending and "meetings" not in queued.handled_by
    assert as_utc(queued.next_attempt_at) >= next_utc_day(utcnow()) - timedelta(minutes=1)
    waiting = await Booking.get(booking.id)
    assert waiting is not None and waiting.meeting is None and waiting.meeting_error is None
    assert zoom.meetings(zoom_user) == []

    # The next day: the sweeper delivers it again (done here by hand).
    assert await dispatch_event(str(confirmed.id), rt)

    [meeting] = zoom.meetings(zoom_user)
    stored = await Booking.get(booking.id)
    assert stored is not None and stored.meeting is not None
    assert stored.meeting.external_id == str(meeting["id"])
