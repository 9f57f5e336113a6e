"""app_deauthorized: the Zoom data stored for the user goes, and so do their tokens."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
from beanie import PydanticObjectId

from specialistly.core.clock import utcnow
from specialistly.core.events import Event
from specialistly.runtime import Runtime
from specialistly_zoom.attendance import ZoomMeetingRecord, ZoomParticipation
from specialistly_zoom.connections import forget_zoom_user
from specialistly_zoom.models import ZOOM_DISCONNECTED, ConnectionStatus, ZoomConnection, ZoomPacing
from specialistly_zoom.recordings import ZoomRecording
from specialistly_zoom.webhooks import ZOOM_DEAUTHORIZED, ZoomWebhookReceipt
from tests.factories import make_specialist
from tests.processes import Process
from tests.waiting import eventually
from tests.zoom_webhooks.bookings import ZoomBooking, zoom_booking
from tests.zoom_webhooks.deliveries import deliver, example, for_meeting
from tests.zoom_webhooks.downloads import FakeDownloads, fake_downloads


@pytest.fixture(scope="module")
def downloads() -> Iterator[FakeDownloads]:
    with fake_downloads("token") as fake:
        yield fake


async def with_zoom_data(zoom_api: str, downloads: FakeDownloads) -> ZoomBooking:
    zb = await zoom_booking(zoom_api)
    for event in ("meeting.started", "meeting.participant_joined", "recording.completed"):
        body = for_meeting(event, zb.meeting_id, zb.host_id)
        if event == "recording.completed":
            for file in body["payload"]["object"]["recording_files"]:
                file["id"] = f"{file['id']}-{zb.meeting_id}"
                file["download_url"] = downloads.url("file")
        assert (await deliver(zoom_api, body)).json() == {"status": "handled"}
    return zb


async def zoom_data_of(zb: ZoomBooking) -> tuple[int, int, int]:
    query = {"booking_id": zb.booking.id}
    return (
        await ZoomMeetingRecord.find(query).count(),
        await ZoomParticipation.find(query).count(),
        await ZoomRecording.find(query).count(),
    )


async def test_deauthorization_deletes_the_users_zoom_data_and_asks_for_the_tokens(
    zoom_api: str, runtime: Runtime, downloads: FakeDownloads
) -> None:
    leaving, staying = (
        await with_zoom_data(zoom_api, downloads),
        await with_zoom_data(zoom_api, downloads),
    )
    assert await zoom_data_of(leaving) == (1, 1, 2)

    body = example("app_deauthorized")
    body["payload"]["user_id"] = leaving.host_id
    body["payload"]["event_ts"] = str(time.time())
    assert (await deliver(zoom_api, body)).json() == {"status": "handled"}

    assert await zoom_data_of(leaving) == (0, 0, 0)
    assert await zoom_data_of(staying) == (1, 1, 2)
    wanted = {"zoom_user_id": leaving.host_id, "zoom_account_id": "AAAAAABBBB"}

    async def announced() -> bool:  # published as the request ended, after the answer left
        receipts = await ZoomWebhookReceipt.find({"event": "app_deauthorized"}).to_list()
        for receipt in receipts:
            events = await Event.find({"subject": f"zoom_webhook_receipts:{receipt.id}"}).to_list()
            if any(e.name == ZOOM_DEAUTHORIZED and e.data == wanted for e in events):
                return True
        return False

    await eventually(announced, within=60)


async def connected(zoom_user_id: str) -> PydanticObjectId:
    """A specialist whose (sealed) tokens and pacing the Zoom plugin keeps."""
    specialist = await make_specialist()
    assert specialist.id is not None
    await ZoomConnection(
        id=specialist.id,
        zoom_user_id=zoom_user_id,
        access_token="sealed-access",
        refresh_token="sealed-refresh",
        expires_at=utcnow() + timedelta(hours=1),
    ).insert()
    await ZoomPacing(id=specialist.id, next_creation_at=utcnow()).insert()
    return specialist.id


async def kept(specialist_id: PydanticObjectId) -> tuple[bool, bool]:
    """Whether the plugin still keeps the specialist's tokens, and their pacing."""
    connection = await ZoomConnection.get(specialist_id)
    return (
        connection is not None and connection.access_token is not None,
        await ZoomPacing.get(specialist_id) is not None,
    )


async def test_a_signed_deauthorization_deletes_the_users_tokens(
    zoom_api: str, runtime: Runtime, worker: Process
) -> None:
    leaving_user = f"leaving-{PydanticObjectId()}"
    leaving = await connected(leaving_user)
    staying = await connected(f"staying-{PydanticObjectId()}")

    body = example("app_deauthorized")
    body["payload"]["user_id"] = leaving_user
    body["payload"]["event_ts"] = str(time.time())
    assert (await deliver(zoom_api, body)).json() == {"status": "handled"}

    async def tokens_gone() -> bool:  # the worker hands the event to the Zoom plugin
        return await kept(leaving) == (False, False)

    await eventually(tokens_gone, within=90)
    assert await kept(staying) == (True, True)


async def test_forgetting_a_zoom_user_twice_is_harmless(runtime: Runtime) -> None:
    zoom_user = f"twice-{PydanticObjectId()}"
    first, second = await connected(zoom_user), await connected(zoom_user)

    assert await forget_zoom_user(zoom_user) == 2
    assert await forget_zoom_user(zoom_user) == 0
    assert await forget_zoom_user("") == 0

    assert await kept(first) == (False, False) and await kept(second) == (False, False)
    # What stays is the revocation, without Zoom's data, announced once to each specialist.
    for specialist_id in (first, second):
        left = await ZoomConnection.get(specialist_id)
        assert left is not None and left.status == ConnectionStatus.REVOKED
        assert (left.zoom_user_id, left.email, left.refresh_token) == ("", "", None)
        told = [e.name for e in left.outbox]
        assert told == [ZOOM_DISCONNECTED], told
