"""What happened in a booking's Zoom meeting: when it started and ended, who was there.

Each join and each leave is stored as it arrives (Zoom does not promise their order), and
attendance is worked out when it is read: per participant, the sessions between a join and
the next leave, and the minutes they add up to. A participant is the specialist when Zoom
says they are the meeting's host (or has the specialist's e-mail), the customer when they
have the customer's e-mail, and a guest otherwise. A meeting that ended with nobody there
but the specialist is offered to the specialist as a possible no-show, once, as the event
``meeting.no_show_suspected``.

A meeting's record is written by its events, which Zoom may send at the same moment, and
by the publisher of its outbox: every write holds the record's lock (see core/locks.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

from beanie import Document, PydanticObjectId
from pydantic import BaseModel, BeforeValidator, Field
from pymongo import ASCENDING, IndexModel
from pymongo.errors import DuplicateKeyError

from specialistly.core.bookings import Booking, booking_of_meeting
from specialistly.core.events import OutboxEvent, new_event, update_with_events
from specialistly.core.locks import document_lock
from specialistly.core.users import User
from specialistly_zoom.webhook_settings import Delivery

PROVIDER = "zoom"  # the video provider whose meetings these are
MEETING_STARTED = "meeting.started"
MEETING_ENDED = "meeting.ended"
PARTICIPANT_JOINED = "meeting.participant_joined"
PARTICIPANT_LEFT = "meeting.participant_left"
NO_SHOW_SUSPECTED = "meeting.no_show_suspected"

# Zoom sends a meeting id as a number in some events and as a string in others.
MeetingId = Annotated[str, BeforeValidator(lambda v: str(v) if isinstance(v, int) else v)]
_Text = Annotated[str, Field(max_length=300)]
# Zoom's schemas allow a blank string where an instant is not known.
Instant = Annotated[
    datetime | None, BeforeValidator(lambda v: None if isinstance(v, str) and not v.strip() else v)
]


# --------------------------------------------------------------------------- what Zoom sends


class MeetingRef(BaseModel):
    """Which meeting an event is about."""

    # Zoom's schemas leave the id out of some events' required fields: without it, an event
    # is no booking's.
    id: MeetingId = Field(default="", max_length=40)
    host_id: _Text = ""


class MeetingObject(MeetingRef):
    start_time: Instant = None
    end_time: Instant = None


class MeetingPayload(BaseModel):
    object: MeetingObject


class MeetingEvent(BaseModel):
    event_ts: int
    payload: MeetingPayload


class Participant(BaseModel):
    id: _Text = ""
    participant_user_id: _Text = ""
    participant_uuid: _Text = ""
    user_id: _Text = ""
    user_name: _Text = ""
    email: _Text = ""
    date_time: Instant = None
    join_time: Instant = None
    leave_time: Instant = None

    def key(self) -> str:
        """Who this is, the same on each join and leave of theirs in the meeting."""
        return (
            self.participant_user_id
            or self.id
            or self.participant_uuid
            or self.email.casefold()
            or self.user_id
            or self.user_name
        )


class ParticipantObject(MeetingRef):
    participant: Participant


class ParticipantPayload(BaseModel):
    object: ParticipantObject


class ParticipantEvent(BaseModel):
    event_ts: int
    payload: ParticipantPayload


def _instant(event_ts: int) -> datetime:
    return datetime.fromtimestamp(event_ts / 1000, UTC)


# --------------------------------------------------------------------------- stored


class ZoomMeetingRecord(Document):
    """The Zoom meeting of one booking, as its events told it."""

    booking_id: PydanticObjectId
    meeting_id: str
    host_id: str
    started_at: datetime | None = None
    ended_at: datetime | None = None
    no_show_offered_at: datetime | None = None
    recordings_ready_at: datetime | None = None
    outbox: list[OutboxEvent] = []

    class Settings:
        name = "zoom_meeting_records"
        indexes = [
            IndexModel([("booking_id", ASCENDING)], unique=True),
            IndexModel([("host_id", ASCENDING)]),
        ]


class Kind(StrEnum):
    JOINED = "joined"
    LEFT = "left"


class ZoomParticipation(Document):
    """One join or one leave of one participant."""

    booking_id: PydanticObjectId
    host_id: str
    participant_key: str
    name: str
    email: str
    is_host: bool
    kind: Kind
    at: datetime

    class Settings:
        name = "zoom_participations"
        indexes = [
            IndexModel(
                [
                    ("booking_id", ASCENDING),
                    ("participant_key", ASCENDING),
                    ("kind", ASCENDING),
                    ("at", ASCENDING),
                ],
                unique=True,
            ),
            IndexModel([("host_id", ASCENDING)]),
        ]


async def meeting_record(meeting: MeetingRef) -> tuple[Booking, ZoomMeetingRecord] | None:
    """The booking whose meeting this is and its record (created on first use); None for a
    meeting that is no booking's."""
    booking = await booking_of_meeting(PROVIDER, meeting.id) if meeting.id else None
    if booking is None:
        return None
    record = ZoomMeetingRecord(
        booking_id=booking.id, meeting_id=meeting.id, host_id=meeting.host_id
    )
    try:
        await record.insert()
    except DuplicateKeyError:  # an earlier delivery created it
        found = await ZoomMeetingRecord.find_one({"booking_id": booking.id})
        assert found is not None
        record = found
    return booking, record


async def _set_earliest(record: ZoomMeetingRecord, field: str, value: datetime) -> None:
    collection = ZoomMeetingRecord.get_pymongo_collection()
    async with document_lock(ZoomMeetingRecord, record.id):
        for condition in (None, {"$gt": value}):
            await collection.update_one(
                {"booking_id": record.booking_id, field: condition}, {"$set": {field: value}}
            )


async def _set_latest(record: ZoomMeetingRecord, field: str, value: datetime) -> None:
    collection = ZoomMeetingRecord.get_pymongo_collection()
    async with document_lock(ZoomMeetingRecord, record.id):
        for condition in (None, {"$lt": value}):
            await collection.update_one(
                {"booking_id": record.booking_id, field: condition}, {"$set": {field: value}}
            )


# --------------------------------------------------------------------------- handlers


async def meeting_started(event: MeetingEvent, delivery: Delivery) -> Sequence[OutboxEvent]:
    meeting = event.payload.object
    found = await meeting_record(meeting)
    if found is not None:
        await _set_earliest(found[1], "started_at", meeting.start_time or _instant(event.event_ts))
    return ()


async def meeting_ended(event: MeetingEvent, delivery: Delivery) -> Sequence[OutboxEvent]:
    meeting = event.payload.object
    found = await meeting_record(meeting)
    if found is None:
        return ()
    booking, record = found
    await _set_latest(record, "ended_at", meeting.end_time or _instant(event.event_ts))
    ended = await ZoomMeetingRecord.find_one({"booking_id": booking.id})
    assert ended is not None
    if possible_no_show(ended, await attendees_of(booking, ended)):
        offered = new_event(
            NO_SHOW_SUSPECTED,
            booking_id=str(booking.id),
            specialist_id=str(booking.specialist_id),
            customer_id=str(booking.customer_id),
        )
        async with document_lock(ZoomMeetingRecord, record.id):
            await update_with_events(
                ZoomMeetingRecord,
                {"booking_id": booking.id, "no_show_offered_at": None},
                {"$set": {"no_show_offered_at": delivery.received_at}},
                [offered],
            )
    return ()


async def participant_joined(event: ParticipantEvent, delivery: Delivery) -> Sequence[OutboxEvent]:
    who = event.payload.object.participant
    at = who.join_time or who.date_time or _instant(event.event_ts)
    await _participation(event, Kind.JOINED, at)
    return ()


async def participant_left(event: ParticipantEvent, delivery: Delivery) -> Sequence[OutboxEvent]:
    who = event.payload.object.participant
    at = who.leave_time or who.date_time or _instant(event.event_ts)
    await _participation(event, Kind.LEFT, at)
    return ()


async def _participation(event: ParticipantEvent, kind: Kind, at: datetime) -> None:
    meeting = event.payload.object
    found = await meeting_record(meeting)
    if found is None:
        return
    who = meeting.participant
    stored = ZoomParticipation(
        booking_id=found[0].id,
        host_id=meeting.host_id,
        participant_key=who.key() or "unknown",
        name=who.user_name,
        email=who.email,
        is_host=bool(meeting.host_id) and meeting.host_id in (who.id, who.participant_user_id),
        kind=kind,
        at=at,
    )
    with suppress(DuplicateKeyError):  # the same join or leave, told twice
        await stored.insert()


async def forget_host(host_id: str) -> None:
    """Delete every meeting record and participation of a Zoom user's meetings."""
    await ZoomParticipation.get_pymongo_collection().delete_many({"host_id": host_id})
    await ZoomMeetingRecord.get_pymongo_collection().delete_many({"host_id": host_id})


# --------------------------------------------------------------------------- attendance


class Role(StrEnum):
    SPECIALIST = "specialist"
    CUSTOMER = "customer"
    GUEST = "guest"


@dataclass(frozen=True)
class Session:
    joined_at: datetime
    left_at: datetime | None  # None while still there (or the leave is not known yet)


@dataclass(frozen=True)
class Attendee:
    name: str
    role: Role
    sessions: tuple[Session, ...]
    total_minutes: int


def attendance(
    participations: Iterable[ZoomParticipation],
    ended_at: datetime | None,
    specialist_email: str,
    customer_email: str,
) -> list[Attendee]:
    """Each participant's sessions and minutes, in order of their first join. A session
    still open when the meeting ended closes at its end; a leave with no join is ignored."""
    by_key: dict[str, list[ZoomParticipation]] = {}
    for p in sorted(participations, key=lambda p: (p.at, p.kind != Kind.JOINED)):
        by_key.setdefault(p.participant_key, []).append(p)
    found = []
    for steps in by_key.values():
        sessions = _sessions(steps, ended_at)
        if not sessions:
            continue
        seconds = sum((s.left_at - s.joined_at).total_seconds() for s in sessions if s.left_at)
        name = next((p.name for p in steps if p.name), "")
        role = _role(steps, specialist_email, customer_email)
        found.append(Attendee(name, role, tuple(sessions), round(seconds / 60)))
    return found


def _sessions(steps: list[ZoomParticipation], ended_at: datetime | None) -> list[Session]:
    sessions: list[Session] = []
    joined: datetime | None = None
    for step in steps:
        if step.kind == Kind.JOINED and joined is None:
            joined = step.at
        elif step.kind == Kind.LEFT and joined is not None:
            sessions.append(Session(joined, step.at))
            joined = None
    if joined is not None:
        closed = ended_at if ended_at is not None and ended_at >= joined else None
        sessions.append(Session(joined, closed))
    return sessions


def _role(steps: list[ZoomParticipation], specialist_email: str, customer_email: str) -> Role:
    emails = {p.email.casefold() for p in steps if p.email}
    if any(p.is_host for p in steps) or specialist_email.casefold() in emails:
        return Role.SPECIALIST
    if customer_email.casefold() in emails:
        return Role.CUSTOMER
    return Role.GUEST


def possible_no_show(record: ZoomMeetingRecord, attendees: Iterable[Attendee]) -> bool:
    """The meeting ended and nobody but the specialist came."""
    return record.ended_at is not None and all(a.role == Role.SPECIALIST for a in attendees)


async def attendees_of(booking: Booking, record: ZoomMeetingRecord) -> list[Attendee]:
    participations = await ZoomParticipation.find({"booking_id": booking.id}).to_list()
    emails = await _emails(booking.specialist_id, booking.customer_id)
    return attendance(
        participations,
        record.ended_at,
        emails.get(booking.specialist_id, ""),
        emails.get(booking.customer_id, ""),
    )


async def _emails(*user_ids: PydanticObjectId) -> dict[Any, str]:
    emails = {}
    for user_id in user_ids:
        user = await User.get(user_id)
        if user is not None:
            emails[user_id] = user.email
    return emails


async def record_of(booking: Booking) -> ZoomMeetingRecord | None:
    return await ZoomMeetingRecord.find_one({"booking_id": booking.id})
