"""What the parties of a booking see of its Zoom meeting: times, attendance, recordings."""

from __future__ import annotations

from datetime import datetime
from enum import Enum

import strawberry
from strawberry import relay
from strawberry.types import Info

from specialistly.api.context import Context
from specialistly.core.bookings import Party, party, visible_booking
from specialistly.core.errors import DomainError
from specialistly_zoom import attendance, recordings


@strawberry.enum(name="ZoomAttendeeRole")
class AttendeeRoleType(Enum):
    SPECIALIST = "specialist"
    CUSTOMER = "customer"
    GUEST = "guest"


@strawberry.type(name="ZoomAttendanceSession")
class SessionType:
    joined_at: datetime
    left_at: datetime | None = strawberry.field(description="Null while still in the meeting.")


@strawberry.type(name="ZoomAttendee")
class AttendeeType:
    name: str = strawberry.field(description="The name shown in Zoom.")
    role: AttendeeRoleType
    sessions: list[SessionType]
    total_minutes: int = strawberry.field(description="Minutes in the meeting, all sessions.")

    @classmethod
    def of(cls, a: attendance.Attendee) -> AttendeeType:
        sessions = [SessionType(joined_at=s.joined_at, left_at=s.left_at) for s in a.sessions]
        role = AttendeeRoleType(a.role.value)
        return cls(name=a.name, role=role, sessions=sessions, total_minutes=a.total_minutes)


@strawberry.type(name="ZoomRecording")
class RecordingType:
    id: str = strawberry.field(description="Zoom's id of the recording file.")
    recording_type: str = strawberry.field(description="Zoom's kind, e.g. `audio_only`.")
    file_type: str
    duration_seconds: int | None
    size_bytes: float = strawberry.field(description="A Float: a file may pass 2 GiB.")
    play_url: str | None = strawberry.field(description="Zoom's player page for the file.")
    download_url: str = strawberry.field(
        description="This platform's address of the file, for the booking's parties (send"
        " the same bearer token)."
    )
    recorded_at: datetime | None
    available_until: datetime

    @classmethod
    def of(cls, r: recordings.ZoomRecording, public_url: str) -> RecordingType:
        return cls(
            id=r.file_id,
            recording_type=r.recording_type,
            file_type=r.file_type,
            duration_seconds=r.duration_seconds,
            size_bytes=float(r.size_bytes),
            play_url=r.play_url or None,
            download_url=public_url.rstrip("/") + recordings.download_path(r.file_id),
            recorded_at=r.recording_start,
            available_until=r.expires_at,
        )


@strawberry.type(name="ZoomMeetingActivity")
class ActivityType:
    booking_id: relay.GlobalID
    meeting_id: str
    started_at: datetime | None
    ended_at: datetime | None
    attendance: list[AttendeeType]
    possible_no_show: bool | None = strawberry.field(
        description="For the specialist only (null for others): the meeting ended and the"
        " customer never joined."
    )
    recordings: list[RecordingType]


@strawberry.type
class Query:
    @strawberry.field(
        description="What happened in a booking's Zoom meeting; null unless the viewer is a"
        " party of the booking (or an admin) and the meeting has reported something."
    )
    async def zoom_meeting_activity(
        self, info: Info[Context, None], booking_id: relay.GlobalID
    ) -> ActivityType | None:
        viewer = await info.context.viewer()
        if viewer is None or booking_id.type_name != "Booking":
            return None
        try:
            booking = await visible_booking(booking_id.node_id, viewer)
        except DomainError:
            return None
        record = await attendance.record_of(booking)
        if record is None:
            return None
        attendees = await attendance.attendees_of(booking, record)
        offered = party(booking, viewer) in (Party.SPECIALIST, Party.ADMIN)
        public_url = str(info.context.runtime.settings.public_url)
        assert booking.id is not None
        return ActivityType(
            booking_id=booking_id,
            meeting_id=record.meeting_id,
            started_at=record.started_at,
            ended_at=record.ended_at,
            attendance=[AttendeeType.of(a) for a in attendees],
            possible_no_show=attendance.possible_no_show(record, attendees) if offered else None,
            recordings=[
                RecordingType.of(r, public_url) for r in await recordings.of_booking(booking.id)
            ],
        )
