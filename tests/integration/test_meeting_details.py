"""What the shared meeting path tells and asks, whatever the provider: the meeting's status
on the booking, the service's auto-recording in the request, the host link (fresh from a
provider whose links expire, stored otherwise), and bookings refused while the provider
cannot host the specialist's meetings."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest

from specialistly.core import reservations
from specialistly.core.bookings import Booking, BookingStatus
from specialistly.core.clock import utcnow
from specialistly.core.errors import DomainError, ErrorCode
from specialistly.core.services import AutoRecording
from specialistly.core.users import User
from specialistly.features import meetings
from specialistly.features.meetings import MeetingStatus
from specialistly.plugin_system.manager import ProviderSet
from specialistly.providers import (
    EmailProvider,
    FreshHostLinks,
    HostReadiness,
    MeetingDetails,
    MeetingRequest,
    PaymentProvider,
    ProviderError,
    Providers,
    VideoProvider,
)
from specialistly.runtime import Runtime
from tests.bookings_fixtures import HOLD, day_at, make_service, make_user, request, written_for
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


class SecretHostVideo(RecordingVideo):
    """A provider whose host links expire, so it hands out fresh ones (and, carelessly,
    still returns one with the meeting it makes: the platform must not keep it)."""

    name = "secret-host"
    display_name = "Secret host"

    def __init__(self) -> None:
        super().__init__()
        self.asked: list[tuple[str, str]] = []
        self.ready = True

    async def create_meeting(self, request: MeetingRequest) -> MeetingDetails:
        made = await super().create_meeting(request)
        return dataclasses.replace(made, provider=self.name)

    async def fresh_host_url(self, meeting: MeetingDetails, specialist_id: str) -> str | None:
        self.asked.append((meeting.external_id, specialist_id))
        return f"https://host.example/{meeting.external_id}?key={len(self.asked)}"

    async def ready_to_host(self, specialist_id: str) -> bool:
        return self.ready


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


async def test_the_optional_provider_abilities_are_recognised() -> None:
    assert isinstance(SecretHostVideo(), FreshHostLinks)
    assert isinstance(SecretHostVideo(), HostReadiness)
    assert not isinstance(RecordingVideo(), FreshHostLinks)


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


async def test_a_secret_host_link_is_never_stored_and_asked_for_fresh(runtime: Runtime) -> None:
    video = SecretHostVideo()
    rt = with_videos(runtime, video)
    booking = await a_booking(video.name)
    await meetings.ensure_meeting(booking, rt)
    stored = await reread(booking)

    first = await meetings.host_link(stored, rt)
    second = await meetings.host_link(stored, rt)

    assert stored.meeting is not None and stored.meeting.host_url is None
    assert first == "https://host.example/r1?key=1" and second == "https://host.example/r1?key=2"
    assert video.asked == [("r1", str(booking.specialist_id))] * 2


async def test_a_move_drops_a_secret_host_link_kept_from_before(runtime: Runtime) -> None:
    video = SecretHostVideo()
    rt = with_videos(runtime, video)
    booking = await a_booking(video.name)
    await meetings.ensure_meeting(booking, rt)
    # As bookings made before the host link was fetched fresh kept it.
    await Booking.get_pymongo_collection().update_one(
        {"_id": booking.id}, {"$set": {"meeting.host_url": "https://host/old?key=secret"}}
    )

    await meetings.move_meeting(await reread(booking), rt)

    moved = await reread(booking)
    assert moved.meeting is not None and moved.meeting.host_url is None


async def test_a_stored_host_link_is_given_as_it_is(runtime: Runtime) -> None:
    video = RecordingVideo()
    rt = with_videos(runtime, video)
    booking = await a_booking(video.name)
    await meetings.ensure_meeting(booking, rt)
    failing = await a_booking(video.name)
    video.fail = ProviderError("the account is gone", transient=False)
    await meetings.ensure_meeting(failing, rt)
    specialist = await User.get(failing.specialist_id)
    assert specialist is not None
    manual = await meetings.set_manual_link(specialist, str(failing.id), "https://meet.example/m")

    assert await meetings.host_link(await reread(booking), rt) == "https://host/r"
    assert await meetings.host_link(manual, rt) == "https://meet.example/m"


async def test_a_booking_is_refused_while_the_provider_cannot_host(runtime: Runtime) -> None:
    video = SecretHostVideo()
    video.ready = False
    rt = with_videos(runtime, video)
    service = await make_service(video_provider=video.name)
    customer = await make_user()

    with pytest.raises(DomainError) as refused:
        await reservations.create_booking(
            customer,
            request(service, day_at(10)),
            payment_hold=HOLD,
            can_host=meetings.host_check(rt),
        )

    problem = refused.value.problems[0]
    assert (problem.code, problem.field) == (ErrorCode.HOST_NOT_READY, "service_id")
    assert await written_for(service.specialist_id) == (0, 0)
    video.ready = True
    booked = await reservations.create_booking(
        customer, request(service, day_at(10)), payment_hold=HOLD, can_host=meetings.host_check(rt)
    )
    assert booked.status == BookingStatus.CONFIRMED


async def test_a_provider_without_readiness_always_hosts(runtime: Runtime) -> None:
    video = RecordingVideo()
    service = await make_service(video_provider=video.name)

    assert await meetings.host_check(with_videos(runtime, video))(service)
    assert await meetings.host_check(with_videos(runtime))(service)  # unknown: fails later
