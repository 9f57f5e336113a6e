"""A meeting's record is written by the provider and by rekeying (`specialistly_zoom.rekey`),
which may run at the same time: FerretDB v1 writes whole documents, so each writer holds
the record's lock, or rekeying could put back the state a cancellation had just written."""

from __future__ import annotations

import pytest
from beanie import PydanticObjectId

from specialistly.core.locks import LockTimeoutError, document_lock
from specialistly_zoom.models import MeetingState, ZoomMeeting
from specialistly_zoom.provider import ZoomProvider
from tests.zoom.test_meetings import connected, request_for
from tests.zoom_fake import ZoomFake

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_a_cancellation_writes_the_meeting_only_holding_its_lock(
    zoom: ZoomFake, provider: ZoomProvider
) -> None:
    specialist_id, _ = await connected(zoom, provider)
    request = request_for(specialist_id)
    made = await provider.create_meeting(request)
    booking_id = PydanticObjectId(request.booking_id)

    # Another writer (rekeying, say) keeps the record for longer than a writer waits.
    async with document_lock(ZoomMeeting, booking_id):
        with pytest.raises(LockTimeoutError):
            await provider.cancel_meeting(made)
        held = await ZoomMeeting.get(booking_id)
        assert held is not None and held.state == MeetingState.CREATED

    await provider.cancel_meeting(made)  # delivered again, once the record is free
    record = await ZoomMeeting.get(booking_id)
    assert record is not None and record.state == MeetingState.DELETED
