"""The video-meeting path every video provider shares (a built-in plugin).

On ``booking.confirmed`` the booking's provider creates the meeting; on cancellation or
expiry it is cancelled; on ``booking.rescheduled`` it is moved. A booking keeps whatever
meeting it has when a provider fails: failures are retried by the event dispatcher, and a
provider's permanent refusal is stored on the booking and announced as ``meeting.failed``.
"""

from __future__ import annotations

import logging

from beanie import PydanticObjectId

from specialistly.core import events
from specialistly.core.bookings import (
    Booking,
    BookingStatus,
    MeetingInfo,
    booking_lock,
    meeting_ref,
)
from specialistly.core.clock import utcnow
from specialistly.core.events import Event, OutboxEvent, new_event, update_with_events
from specialistly.core.services import Service
from specialistly.hookspecs import hookimpl
from specialistly.providers import (
    MeetingDetails,
    MeetingRequest,
    ProviderError,
    UnknownProviderError,
)
from specialistly.runtime import Runtime

log = logging.getLogger("specialistly.features.meetings")


@hookimpl
async def on_event(event: Event, runtime: Runtime) -> None:
    booking_id = event.data.get("booking_id")
    if not booking_id or event.name not in _REACTIONS:
        return
    booking = await Booking.get(PydanticObjectId(booking_id))
    if booking is not None:
        await _REACTIONS[event.name](booking, runtime)


async def ensure_meeting(booking: Booking, runtime: Runtime) -> None:
    """Create the booking's meeting unless it has one; safe to run twice at once."""
    if booking.meeting is not None or booking.status != BookingStatus.CONFIRMED:
        return
    try:
        provider = runtime.providers.video[booking.video_provider]
        details = await provider.create_meeting(await _request(booking))
    except UnknownProviderError as exc:
        await _record_failure(booking, str(exc))
        return
    except ProviderError as exc:
        if exc.transient:
            raise  # the dispatcher delivers the event again later
        await _record_failure(booking, str(exc))
        return
    async with booking_lock(booking.id):  # type: ignore[arg-type]
        stored = await update_with_events(
            Booking,
            {"_id": booking.id, "meeting": None, "status": BookingStatus.CONFIRMED.value},
            {"$set": {**_meeting_fields(details), "meeting_error": None}},
            [_event(events.MEETING_CREATED, booking, details)],
        )
    if not stored:
        # Another delivery stored its meeting first, or the booking was cancelled meanwhile.
        await provider.cancel_meeting(details)


async def cancel_meeting(booking: Booking, runtime: Runtime) -> None:
    if booking.meeting is None:
        return
    meeting = booking.meeting
    details = MeetingDetails(meeting.provider, meeting.external_id, meeting.join_url)
    await runtime.providers.video[meeting.provider].cancel_meeting(details)


async def move_meeting(booking: Booking, runtime: Runtime) -> None:
    if booking.meeting is None:
        await ensure_meeting(booking, runtime)
        return
    meeting = booking.meeting
    provider = runtime.providers.video[meeting.provider]
    old = MeetingDetails(meeting.provider, meeting.external_id, meeting.join_url, meeting.host_url)
    moved = await provider.reschedule_meeting(old, await _request(booking))
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
    service = await Service.get(booking.service_id)
    title = service.title if service else "Consultation"
    return MeetingRequest(
        booking_id=str(booking.id),
        specialist_id=str(booking.specialist_id),
        topic=title[:200],
        start=booking.start,
        duration_minutes=int((booking.end - booking.start).total_seconds() // 60),
    )


async def _record_failure(booking: Booking, reason: str) -> None:
    log.warning("meeting for booking %s failed: %s", booking.id, reason)
    failed = new_event(events.MEETING_FAILED, booking_id=str(booking.id), reason=reason[:500])
    async with booking_lock(booking.id):  # type: ignore[arg-type]
        await update_with_events(
            Booking,
            {"_id": booking.id, "meeting": None},
            {"$set": {"meeting_error": reason[:500], "updated_at": utcnow()}},
            [failed],
        )


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
