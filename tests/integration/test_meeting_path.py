"""The meeting path every video provider shares: one creation per booking at a time (a
claim taken before the provider is called, never create-then-cancel), pending while the
provider is down, ``meeting.failed`` once the deadline before the start has come."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import timedelta

import pytest

from specialistly.core import events
from specialistly.core.bookings import Booking, BookingStatus
from specialistly.core.clock import utcnow
from specialistly.core.errors import DomainError, ErrorCode
from specialistly.core.users import Role, User
from specialistly.features import meetings
from specialistly.plugin_system.manager import ProviderSet
from specialistly.providers import (
    EmailProvider,
    MeetingDetails,
    MeetingRequest,
    PaymentProvider,
    ProviderError,
    Providers,
    VideoProvider,
)
from specialistly.runtime import Runtime
from tests.factories import confirmed_booking_document, make_specialist, make_user

pytestmark = pytest.mark.asyncio(loop_scope="session")


class CountingVideo:
    name = "counting"
    display_name = "Counting"

    def __init__(self) -> None:
        self.created: list[str] = []
        self.cancelled: list[str] = []
        self.release = asyncio.Event()
        self.release.set()
        self.started = asyncio.Event()
        self.fail: ProviderError | None = None
        self.on_create: object = None

    async def create_meeting(self, request: MeetingRequest) -> MeetingDetails:
        if self.fail is not None:
            raise self.fail
        self.created.append(request.booking_id)
        self.started.set()
        await self.release.wait()
        if callable(self.on_create):
            await self.on_create()
        n = len(self.created)
        return MeetingDetails(self.name, f"m{n}", f"https://video.example/m{n}")

    async def reschedule_meeting(
        self, meeting: MeetingDetails, request: MeetingRequest
    ) -> MeetingDetails:
        return meeting

    async def cancel_meeting(self, meeting: MeetingDetails) -> None:
        self.cancelled.append(meeting.external_id)


def with_video(runtime: Runtime, video: CountingVideo, deadline: timedelta) -> Runtime:
    providers = ProviderSet(
        video=Providers("video", VideoProvider, [video]),
        payment=Providers[PaymentProvider]("payment", PaymentProvider, []),
        email=Providers[EmailProvider]("email", EmailProvider, []),
    )
    settings = runtime.settings.model_copy(update={"meeting_deadline": deadline})
    return dataclasses.replace(runtime, providers=providers, settings=settings)


async def a_booking(starts_in: timedelta) -> Booking:
    specialist = await make_specialist()
    assert specialist.id is not None
    booking = confirmed_booking_document(specialist.id, utcnow() + starts_in, 60)
    booking.video_provider = "counting"
    return await booking.insert()


async def test_two_deliveries_at_once_make_one_meeting(runtime: Runtime) -> None:
    video = CountingVideo()
    video.release.clear()
    rt = with_video(runtime, video, timedelta(minutes=30))
    booking = await a_booking(timedelta(days=2))

    first = asyncio.create_task(meetings.ensure_meeting(booking, rt))
    await video.started.wait()
    with pytest.raises(meetings.CreationUnderWayError):
        await meetings.ensure_meeting(booking, rt)  # left to the first; delivered again later
    video.release.set()
    await first
    stored = await Booking.get(booking.id)
    await meetings.ensure_meeting(stored, rt)  # type: ignore[arg-type]

    assert video.created == [str(booking.id)] and video.cancelled == []
    assert stored is not None and stored.meeting is not None
    assert stored.meeting.external_id == "m1"


async def test_a_claim_left_by_a_crashed_delivery_is_taken_over_after_its_lease(
    runtime: Runtime,
) -> None:
    video = CountingVideo()
    rt = with_video(runtime, video, timedelta(minutes=30))
    booking = await a_booking(timedelta(days=2))
    claims = Booking.get_pymongo_collection().database.get_collection(meetings.CLAIMS)
    await claims.insert_one(
        {"_id": booking.id, "token": "gone", "until": utcnow() - timedelta(seconds=1)}
    )

    await meetings.ensure_meeting(booking, rt)

    stored = await Booking.get(booking.id)
    assert stored is not None and stored.meeting is not None
    assert await claims.find_one({"_id": booking.id}) is None


async def test_a_provider_down_leaves_the_meeting_pending_until_the_deadline(
    runtime: Runtime,
) -> None:
    video = CountingVideo()
    video.fail = ProviderError("Zoom is down", transient=True)
    rt = with_video(runtime, video, timedelta(minutes=30))
    early = await a_booking(timedelta(hours=2))
    late = await a_booking(timedelta(minutes=20))

    with pytest.raises(ProviderError):
        await meetings.ensure_meeting(early, rt)  # the dispatcher delivers it again later
    await meetings.ensure_meeting(late, rt)

    pending = await Booking.get(early.id)
    assert pending is not None and pending.meeting is None and pending.meeting_error is None
    assert pending.outbox == []
    failed = await Booking.get(late.id)
    assert failed is not None and failed.meeting is None and failed.meeting_error
    assert [e.name for e in failed.outbox] == [events.MEETING_FAILED]


async def test_a_booking_cancelled_while_its_meeting_was_made_gets_it_cancelled(
    runtime: Runtime,
) -> None:
    video = CountingVideo()
    rt = with_video(runtime, video, timedelta(minutes=30))
    booking = await a_booking(timedelta(days=2))

    async def cancel_booking() -> None:
        await Booking.get_pymongo_collection().update_one(
            {"_id": booking.id}, {"$set": {"status": BookingStatus.CANCELLED.value}}
        )

    video.on_create = cancel_booking
    await meetings.ensure_meeting(booking, rt)

    assert video.cancelled == ["m1"]
    stored = await Booking.get(booking.id)
    assert stored is not None and stored.meeting is None


async def test_the_specialist_sets_a_link_of_their_own_after_meeting_failed(
    runtime: Runtime,
) -> None:
    video = CountingVideo()
    video.fail = ProviderError("the account is gone", transient=False)
    rt = with_video(runtime, video, timedelta(minutes=30))
    booking = await a_booking(timedelta(days=2))
    await meetings.ensure_meeting(booking, rt)
    specialist = await User.get(booking.specialist_id)
    customer = await make_user(Role.CUSTOMER)
    assert specialist is not None and booking.id is not None

    with pytest.raises(DomainError) as refused:
        await meetings.set_manual_link(customer, str(booking.id), "https://meet.example/x")
    assert refused.value.problems[0].code == ErrorCode.NOT_FOUND
    with pytest.raises(DomainError) as invalid:
        await meetings.set_manual_link(specialist, str(booking.id), "http://meet.example/x")
    assert invalid.value.problems[0].field == "join_url"

    linked = await meetings.set_manual_link(specialist, str(booking.id), "https://meet.example/x")

    assert linked.meeting is not None and linked.meeting.provider == meetings.MANUAL
    assert linked.meeting.join_url == "https://meet.example/x" and linked.meeting_error is None
    await meetings.cancel_meeting(linked, rt)  # nothing to delete anywhere
    assert video.cancelled == []


async def test_a_manual_link_does_not_replace_the_providers_meeting(runtime: Runtime) -> None:
    rt = with_video(runtime, CountingVideo(), timedelta(minutes=30))
    booking = await a_booking(timedelta(days=2))
    await meetings.ensure_meeting(booking, rt)
    specialist = await User.get(booking.specialist_id)
    assert specialist is not None

    with pytest.raises(DomainError) as refused:
        await meetings.set_manual_link(specialist, str(booking.id), "https://meet.example/y")

    assert refused.value.problems[0].code == ErrorCode.CONFLICT
