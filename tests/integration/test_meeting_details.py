"""What the shared meeting path tells and asks, whatever the provider: the meeting's status
on the booking, and the service's auto-recording in the request."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest

from specialistly.core.bookings import Booking, BookingStatus
from specialistly.core.clock import utcnow
from specialistly.core.services import AutoRecording
from specialistly.core.users import User
from specialistly.features import meetings
from specialistly.features.meetings import MeetingStatus
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
from tests.bookings_fixtures import make_service
from tests.factories import confirmed_booking_document

pytestmark = pytest.mark.asyncio(loop_scope="session")


class RecordingVideo:
    """A provider that keeps the requests it was given."""

    name = "recording"
    display_name = "Recording"

    def __init__(self) -> None:
        self.requests: list[MeetingRequest] = []
        self.fail: ProviderError | None = None

    async def create_meeting(self, request: MeetingRequest) -> MeetingDetails:
        if self.fail is not None:
            raise self.fail
        self.requests.append(request)
        n = len(self.requests)
        return MeetingDetails(self.name, f"r{n}", f"https://video.example/r{n}", "https://host/r")

    async def reschedule_meeting(
        self, meeting: MeetingDetails, request: MeetingRequest
    ) -> MeetingDetails:
        return meeting

    async def cancel_meeting(self, meeting: MeetingDetails) -> None:
        return None


def with_videos(runtime: Runtime, *videos: VideoProvider) -> Runtime:
    providers = ProviderSet(
        video=Providers("video", VideoProvider, videos),
        payment=Providers[PaymentProvider]("payment", PaymentProvider, []),
        email=Providers[EmailProvider]("email", EmailProvider, []),
    )
    settings = runtime.settings.model_copy(update={"meeting_deadline": timedelta(minutes=30)})
    return dataclasses.replace(runtime, providers=providers, settings=settings)


async def a_booking(provider: str, starts_in: timedelta = timedelta(days=2)) -> Booking:
    service = await make_service(video_provider=provider, auto_recording=AutoRecording.CLOUD)
    booking = confirmed_booking_document(
        service.specialist_id, utcnow() + starts_in, 60, service_id=service.id
    )
    booking.video_provider = provider
    return await booking.insert()


async def reread(booking: Booking) -> Booking:
    stored = await Booking.get(booking.id)
    assert stored is not None
    return stored


async def test_the_meeting_status_follows_the_meeting(runtime: Runtime) -> None:
    video = RecordingVideo()
    rt = with_videos(runtime, video)
    booking = await a_booking(video.name)
    unpaid = await a_booking(video.name)
    await Booking.get_pymongo_collection().update_one(
        {"_id": unpaid.id}, {"$set": {"status": BookingStatus.PENDING_PAYMENT.value}}
    )
    failing = await a_booking(video.name)
    specialist = await User.get(failing.specialist_id)
    assert specialist is not None

    assert meetings.meeting_status(await reread(unpaid)) == MeetingStatus.NONE
    assert meetings.meeting_status(booking) == MeetingStatus.PENDING
    video.fail = ProviderError("down for a while", transient=True)
    with pytest.raises(ProviderError):
        await meetings.ensure_meeting(booking, rt)  # tried again later
    assert meetings.meeting_status(await reread(booking)) == MeetingStatus.PENDING
    video.fail = None
    await meetings.ensure_meeting(booking, rt)
    assert meetings.meeting_status(await reread(booking)) == MeetingStatus.CREATED

    video.fail = ProviderError("the account is gone", transient=False)
    await meetings.ensure_meeting(failing, rt)
    assert meetings.meeting_status(await reread(failing)) == MeetingStatus.FAILED
    await meetings.set_manual_link(specialist, str(failing.id), "https://meet.example/own")
    assert meetings.meeting_status(await reread(failing)) == MeetingStatus.MANUAL


async def test_the_request_carries_the_services_auto_recording(runtime: Runtime) -> None:
    video = RecordingVideo()
    booking = await a_booking(video.name)

    await meetings.ensure_meeting(booking, with_videos(runtime, video))

    [asked] = video.requests
    assert asked.auto_recording == "cloud"
