"""The video-meeting path every video provider shares (a built-in plugin).

On ``booking.confirmed`` the booking's provider creates the meeting; on cancellation or
expiry it is cancelled; on ``booking.rescheduled`` it is moved. A booking keeps whatever
meeting it has when a provider fails: failures are retried by the event dispatcher, and a
provider's permanent refusal is stored on the booking and announced as ``meeting.failed``.
So is a transient failure once the booking's start is within ``meeting_deadline``: the
specialist then has time to set a link by hand.

Never two meetings for one booking: a delivery claims the creation (a unique document per
booking, with a lease) before it calls the provider, and another delivery meanwhile
leaves it to the first and is retried later. A claim whose holder crashed expires after
its lease; the next try calls the provider again, which must then find the meeting it may
have made (``VideoProvider.create_meeting`` is idempotent per booking) rather than make a
second one. Creating and then cancelling the loser would spend provider quota and send
phantom invitations.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from enum import StrEnum

from beanie import PydanticObjectId
from bson import ObjectId
from pymongo.errors import DuplicateKeyError

from specialistly.core import events, read_cache, validation
from specialistly.core.bookings import (
    Booking,
    BookingStatus,
    MeetingInfo,
    Party,
    acting_party,
    booking_lock,
    booking_not_found,
    meeting_ref,
)
from specialistly.core.clock import as_utc, utcnow
from specialistly.core.errors import Check, DomainError, ErrorCode
from specialistly.core.events import Event, OutboxEvent, new_event, update_with_events
from specialistly.core.reservations import HostCheck
from specialistly.core.services import AutoRecording, Service
from specialistly.core.users import User
from specialistly.features import booking_reads
from specialistly.hookspecs import PluginRuntime, hookimpl
from specialistly.providers import (
    FreshHostLinks,
    MeetingDetails,
    MeetingRequest,
    ProviderError,
    UnknownProviderError,
    VideoProvider,
    host_url,
    ready_to_host,
)
from specialistly.runtime import Runtime

log = logging.getLogger("specialistly.features.meetings")

# Longer than a provider may take to create one meeting, retries and pacing included.
CLAIM_LEASE = timedelta(minutes=10)
CLAIMS = "meeting_claims"
MANUAL = "manual"  # a link the specialist set by hand


class MeetingStatus(StrEnum):
    """Where a booking's meeting stands, as both parties see it."""

    NONE = "none"  # none, and none on its way (not confirmed, or ended without one)
    PENDING = "pending"  # confirmed: the provider has not made it yet (it is tried again)
    CREATED = "created"  # the provider made it
    FAILED = "failed"  # the provider gave up (``meeting.failed``): the specialist may set one
    MANUAL = "manual"  # the specialist set a link of their own


def meeting_status(booking: Booking) -> MeetingStatus:
    if booking.meeting is not None:
        return MeetingStatus.MANUAL if booking.meeting.provider == MANUAL else MeetingStatus.CREATED
    if booking.meeting_error:
        return MeetingStatus.FAILED
    if booking.status == BookingStatus.CONFIRMED:
        return MeetingStatus.PENDING
    return MeetingStatus.NONE


class CreationUnderWayError(ProviderError):
    """Another delivery is creating this booking's meeting: try again later."""

    def __init__(self) -> None:
        super().__init__("the meeting is being created by another delivery", transient=True)


@hookimpl
async def on_event(event: Event, runtime: Runtime) -> None:
    booking_id = event.data.get("booking_id")
    if not booking_id or event.name not in _REACTIONS:
        return
    booking = await booking_reads.booking(PydanticObjectId(booking_id))
    if booking is not None:
        await _REACTIONS[event.name](booking, runtime)


async def ensure_meeting(booking: Booking, runtime: Runtime) -> None:
    """Create the booking's meeting unless it has one; safe to run twice at once."""
    if booking.meeting is not None or booking.status != BookingStatus.CONFIRMED:
        return
    try:
        provider = runtime.providers.video[booking.video_provider]
    except UnknownProviderError as exc:
        await _record_failure(booking, str(exc))
        return
    try:
        async with _claim(booking.id):  # type: ignore[arg-type]
            fresh = await Booking.get(booking.id)
            if fresh is None or fresh.meeting is not None:
                return  # stored by a delivery that held the claim before us
            if fresh.status != BookingStatus.CONFIRMED:
                return
            details = _storable(provider, await provider.create_meeting(await _request(fresh)))
            if not await _store(fresh, details):
                await _drop_unless_stored(fresh, details, provider)
    except CreationUnderWayError:
        raise
    except ProviderError as exc:
        if exc.transient and utcnow() < booking.start - runtime.settings.meeting_deadline:
            raise  # the dispatcher delivers the event again later; the meeting is pending
        await _record_failure(booking, str(exc))


async def _store(booking: Booking, details: MeetingDetails) -> bool:
    """Store the meeting on the booking; False if the booking is no longer confirmed."""
    async with booking_lock(booking.id):  # type: ignore[arg-type]
        return await update_with_events(
            Booking,
            {"_id": booking.id, "meeting": None, "status": BookingStatus.CONFIRMED.value},
            {"$set": {**_meeting_fields(details), "meeting_error": None}},
            [_event(events.MEETING_CREATED, booking, details)],
        )


async def _drop_unless_stored(
    booking: Booking, details: MeetingDetails, provider: VideoProvider
) -> None:
    """The booking was cancelled (or its lease-expired claim taken over) while the meeting
    was made: cancel the meeting unless it is the very one the booking holds."""
    now = await Booking.get(booking.id)
    if (
        now is not None
        and now.meeting is not None
        and now.meeting.external_id == details.external_id
    ):
        return
    log.info("booking %s changed while its meeting was made; cancelling it", booking.id)
    await provider.cancel_meeting(details)


@asynccontextmanager
async def _claim(booking_id: PydanticObjectId) -> AsyncIterator[None]:
    """Be the one delivery creating the booking's meeting, or raise CreationUnderWayError."""
    claims = Booking.get_pymongo_collection().database.get_collection(CLAIMS)
    token = ObjectId()
    now = utcnow()
    try:
        await claims.insert_one({"_id": booking_id, "token": token, "until": now + CLAIM_LEASE})
    except DuplicateKeyError:
        # Taken over only once its lease ran out (its holder stopped half-way); as in
        # core/locks.py, the stale claim is deleted and the insert decides who takes it.
        held = await claims.find_one({"_id": booking_id})
        if held is not None and as_utc(held["until"]) >= now:
            raise CreationUnderWayError() from None
        if held is not None:
            await claims.delete_one({"_id": booking_id, "token": held["token"]})
        try:
            await claims.insert_one({"_id": booking_id, "token": token, "until": now + CLAIM_LEASE})
        except DuplicateKeyError:
            raise CreationUnderWayError() from None
    try:
        yield
    finally:
        await claims.delete_one({"_id": booking_id, "token": token})


async def set_manual_link(user: User, booking_id: str, url: str) -> Booking:
    """The booking's specialist gives it a meeting link of their own, when its provider
    made none (after ``meeting.failed``, typically); CONFLICT if the provider's exists."""
    check = Check()
    url = validation.https_url(check, "join_url", url) or ""
    if not url:
        check.add(ErrorCode.REQUIRED, "Give the meeting's https:// link.", "join_url")
    check.raise_if_any()
    if not PydanticObjectId.is_valid(booking_id):
        raise booking_not_found()
    async with booking_lock(PydanticObjectId(booking_id)):
        booking = await Booking.get(PydanticObjectId(booking_id))
        if booking is None or acting_party(booking, user) == Party.CUSTOMER:
            raise booking_not_found()
        if booking.status != BookingStatus.CONFIRMED:
            raise DomainError.of(
                ErrorCode.ILLEGAL_TRANSITION, "Only a confirmed booking gets a meeting link."
            )
        if booking.meeting is not None and booking.meeting.provider != MANUAL:
            raise DomainError.of(
                ErrorCode.CONFLICT, "This booking has its provider's meeting already."
            )
        details = MeetingDetails(MANUAL, MANUAL, url, url)
        await update_with_events(
            Booking,
            {"_id": booking.id},
            {"$set": {**_meeting_fields(details), "meeting_error": None}},
            [_event(events.MEETING_CREATED, booking, details)],
        )
    stored = await Booking.get(booking.id)
    assert stored is not None
    return stored


def host_check(runtime: PluginRuntime) -> HostCheck:
    """Whether a service's video provider can make its specialist's meetings now (see
    ``providers.HostReadiness``): slots are hidden and bookings refused while it cannot."""

    async def can_host(service: Service) -> bool:
        videos = runtime.providers.video
        if service.video_provider not in videos:
            return True  # the booking records the failure as meeting.failed
        return await ready_to_host(videos[service.video_provider], str(service.specialist_id))

    return can_host


async def host_link(booking: Booking, runtime: Runtime) -> str | None:
    """The host's link to the booking's meeting, which only its specialist may see (the
    caller checks): asked of the provider when it gives fresh ones, else as stored."""
    meeting = booking.meeting
    if meeting is None:
        return None
    if meeting.provider not in runtime.providers.video:  # a manual link, or a provider gone
        return meeting.host_url
    details = MeetingDetails(
        meeting.provider, meeting.external_id, meeting.join_url, meeting.host_url
    )
    provider = runtime.providers.video[meeting.provider]
    return await host_url(provider, details, str(booking.specialist_id))


async def cancel_meeting(booking: Booking, runtime: Runtime) -> None:
    if booking.meeting is None or booking.meeting.provider == MANUAL:
        return
    meeting = booking.meeting
    details = MeetingDetails(meeting.provider, meeting.external_id, meeting.join_url)
    await runtime.providers.video[meeting.provider].cancel_meeting(details)


async def move_meeting(booking: Booking, runtime: Runtime) -> None:
    if booking.meeting is None:
        await ensure_meeting(booking, runtime)
        return
    if booking.meeting.provider == MANUAL:
        return  # the specialist's own link has no time to move
    meeting = booking.meeting
    provider = runtime.providers.video[meeting.provider]
    old = MeetingDetails(meeting.provider, meeting.external_id, meeting.join_url, meeting.host_url)
    moved = _storable(provider, await provider.reschedule_meeting(old, await _request(booking)))
    if moved != old:
        async with booking_lock(booking.id):  # type: ignore[arg-type]
            await Booking.find_one(Booking.id == booking.id).update(
                {"$set": _meeting_fields(moved)}
            )


_REACTIONS = {
    events.BOOKING_CONFIRMED: ensure_meeting,
    events.BOOKING_CANCELLED: cancel_meeting,
    events.BOOKING_EXPIRED: cancel_meeting,
    events.BOOKING_RESCHEDULED: move_meeting,
}


async def _request(booking: Booking) -> MeetingRequest:
    service = await read_cache.service(booking.service_id)
    customer = await read_cache.user(booking.customer_id)
    # The specialist's time zone: that of their working hours, else their profile's.
    hours = await read_cache.hours(booking.specialist_id)
    timezone = hours.timezone if hours else await _profile_timezone(booking.specialist_id)
    title = service.title if service else "Consultation"
    topic = f"{title} \N{EN DASH} {customer.display_name}" if customer else title
    return MeetingRequest(
        booking_id=str(booking.id),
        specialist_id=str(booking.specialist_id),
        topic=topic[:200],
        start=booking.start,
        duration_minutes=int((booking.end - booking.start).total_seconds() // 60),
        timezone=timezone,
        auto_recording=(service.auto_recording if service else AutoRecording.NONE).value,
    )


async def _profile_timezone(specialist_id: PydanticObjectId) -> str:
    profile = await read_cache.profile(specialist_id)
    return profile.timezone if profile else "UTC"


async def _record_failure(booking: Booking, reason: str) -> None:
    log.warning("meeting for booking %s failed: %s", booking.id, reason)
    failed = new_event(events.MEETING_FAILED, booking_id=str(booking.id), reason=reason[:500])
    async with booking_lock(booking.id):  # type: ignore[arg-type]
        await update_with_events(
            Booking,
            # Announced once: the deadline sweep of a provider may have told it already.
            {"_id": booking.id, "meeting": None, "meeting_error": None},
            {"$set": {"meeting_error": reason[:500], "updated_at": utcnow()}},
            [failed],
        )


def _storable(provider: VideoProvider, details: MeetingDetails) -> MeetingDetails:
    """What the booking keeps of a meeting: never the host link of a provider that hands
    out fresh ones (it is a secret; see ``providers.FreshHostLinks``)."""
    if isinstance(provider, FreshHostLinks) and details.host_url is not None:
        return dataclasses.replace(details, host_url=None)
    return details


def _meeting_fields(details: MeetingDetails) -> dict[str, object]:
    return {
        "meeting": _info(details).model_dump(),
        "meeting_ref": meeting_ref(details.provider, details.external_id),
    }


def _info(details: MeetingDetails) -> MeetingInfo:
    return MeetingInfo(
        provider=details.provider,
        external_id=details.external_id,
        join_url=details.join_url,
        host_url=details.host_url,
    )


def _event(name: str, booking: Booking, details: MeetingDetails) -> OutboxEvent:
    return new_event(
        name, booking_id=str(booking.id), provider=details.provider, join_url=details.join_url
    )
