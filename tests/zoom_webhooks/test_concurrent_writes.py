"""A meeting's record is written by its events, which Zoom may send at the same moment, and
by the publisher of its outbox: none of them loses what another wrote (FerretDB v1 writes
whole documents, so each holds the record's lock)."""

from __future__ import annotations

import asyncio
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from beanie import PydanticObjectId
from pydantic import SecretStr

from specialistly.core.bookings import Booking, MeetingInfo, meeting_ref
from specialistly.core.clock import utcnow
from specialistly.core.events import OUTBOX_WAITING, Event, new_event
from specialistly.runtime import Runtime
from specialistly_zoom.attendance import (
    MeetingEvent,
    MeetingRef,
    ZoomMeetingRecord,
    meeting_ended,
    meeting_record,
    meeting_started,
)
from specialistly_zoom.recordings import RECORDING_READY, RecordingCompleted, recording_completed
from specialistly_zoom.webhook_settings import Delivery, ZoomWebhookSettings
from tests.factories import confirmed_booking_document
from tests.zoom_webhooks.deliveries import SECRET, for_meeting

pytestmark = pytest.mark.usefixtures("runtime")

MEETINGS = 12  # raced side by side, for a lost write to show
DELIVERY = Delivery(utcnow(), ZoomWebhookSettings(secret_token=SecretStr(SECRET)))


async def zoom_meeting() -> tuple[Booking, ZoomMeetingRecord]:
    """A confirmed booking with a Zoom meeting, and the meeting's record."""
    meeting_id = str(10**10 + secrets.randbelow(9 * 10**10))
    booking = confirmed_booking_document(PydanticObjectId(), utcnow() + timedelta(days=1), 60)
    booking.video_provider = "zoom"
    booking.meeting = MeetingInfo(
        provider="zoom", external_id=meeting_id, join_url=f"https://zoom.example/j/{meeting_id}"
    )
    booking.meeting_ref = meeting_ref("zoom", meeting_id)
    await booking.insert()
    found = await meeting_record(MeetingRef(id=meeting_id, host_id="host-concurrent"))
    assert found is not None
    return found


def told(name: str, record: ZoomMeetingRecord, **fields: object) -> dict[str, Any]:
    body = for_meeting(name, record.meeting_id, record.host_id)
    body["payload"]["object"].update(fields)
    return body


async def test_a_start_and_an_end_told_at_once_are_both_kept() -> None:
    start = datetime(2031, 3, 4, 9, 0, tzinfo=UTC)
    end = start + timedelta(hours=1)

    async def race() -> ZoomMeetingRecord:
        _, record = await zoom_meeting()
        started = told("meeting.started", record, start_time=start.isoformat())
        ended = told("meeting.ended", record, end_time=end.isoformat())
        await asyncio.gather(
            meeting_started(MeetingEvent.model_validate(started), DELIVERY),
            meeting_ended(MeetingEvent.model_validate(ended), DELIVERY),
        )
        return record

    for record in await asyncio.gather(*(race() for _ in range(MEETINGS))):
        stored = await ZoomMeetingRecord.get(record.id)
        assert stored is not None
        assert (stored.started_at, stored.ended_at) == (start, end)


async def test_recordings_told_while_the_outbox_is_published_are_announced(
    runtime: Runtime,
) -> None:
    async def race() -> ZoomMeetingRecord:
        _, record = await zoom_meeting()
        # An event of the meeting waits in its outbox, which the publisher is taking out.
        waiting = new_event("test.meeting_probe", meeting_id=record.meeting_id).model_dump()
        await ZoomMeetingRecord.get_pymongo_collection().update_one(
            {"_id": record.id}, {"$set": {"outbox": [waiting], OUTBOX_WAITING: True}}
        )
        body = told("recording.completed", record)
        body["download_token"] = "a-download-token"
        for file in body["payload"]["object"]["recording_files"]:
            file["id"] = f"{file['id']}-{record.meeting_id}"
        await asyncio.gather(
            runtime.publish(ZoomMeetingRecord, record.id),
            recording_completed(RecordingCompleted.model_validate(body), DELIVERY),
        )
        return record

    for record in await asyncio.gather(*(race() for _ in range(MEETINGS))):
        stored = await ZoomMeetingRecord.get(record.id)
        assert stored is not None and stored.recordings_ready_at is not None
        subject = f"zoom_meeting_records:{record.id}"
        published = await Event.find({"subject": subject}).to_list()
        names = [e.name for e in stored.outbox] + [e.name for e in published]
        assert RECORDING_READY in names
