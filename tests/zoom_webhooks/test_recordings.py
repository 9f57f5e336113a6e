"""Recordings: stored from recording.completed, announced, downloaded by the parties
through the platform (never with a Zoom token in hand), deleted after the retention."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from specialistly.core.clock import utcnow
from specialistly.core.events import Event
from specialistly.runtime import Runtime
from specialistly_zoom.attendance import ZoomMeetingRecord
from specialistly_zoom.models import ZoomConnection
from specialistly_zoom.provider import ZoomProvider
from specialistly_zoom.recordings import RECORDING_READY, ZoomRecording, download_path
from specialistly_zoom.webhooks import ZoomWebhookReceipt
from tests.client import GraphQLClient, register
from tests.processes import Process
from tests.waiting import eventually
from tests.zoom.connecting import connect
from tests.zoom_fake import ZoomFake
from tests.zoom_webhooks.bookings import ZoomBooking, zoom_booking
from tests.zoom_webhooks.deliveries import deliver, for_meeting
from tests.zoom_webhooks.downloads import CONTENT, FakeDownloads, fake_downloads

DOWNLOAD_TOKEN = "zoom-download-token-for-this-delivery"
AUDIO, VIDEO = "ed6c2f27-2ae7-42f4-b3d0-835b493e4fa8", "388ffb46-1541-460d-8447-4624451a1db7"

RECORDINGS = """
query ($id: ID!) {
  zoomMeetingActivity(bookingId: $id) {
    recordings {
      id recordingType fileType durationSeconds sizeBytes playUrl downloadUrl availableUntil
    }
  }
}
"""


@pytest.fixture(scope="module")
def downloads() -> Iterator[FakeDownloads]:
    with fake_downloads(DOWNLOAD_TOKEN) as fake:
        yield fake


async def recorded(zoom_api: str, downloads: FakeDownloads, **names: str) -> ZoomBooking:
    """A Zoom booking whose meeting Zoom reports recorded (Zoom's example, two files)."""
    zb = await zoom_booking(zoom_api)
    body = for_meeting("recording.completed", zb.meeting_id, zb.host_id)
    body["download_token"] = DOWNLOAD_TOKEN
    files = body["payload"]["object"]["recording_files"]
    for file in files:
        file["id"] = f"{file['id']}-{zb.meeting_id}"
        file["download_url"] = downloads.url(names.get(file["file_type"], file["file_type"]))
    response = await deliver(zoom_api, body)
    assert response.json() == {"status": "handled"}, response.text
    return zb


async def published(subject: str) -> list[Event]:
    """The events of a document once published (the request's unit of work publishes them
    as it ends, after the answer left; the sweeper does if that failed)."""

    async def found() -> list[Event]:
        return await Event.find({"subject": subject}).to_list()

    return await eventually(found, within=60)


async def recordings_seen(client: GraphQLClient, zb: ZoomBooking) -> list[dict[str, Any]] | None:
    data = await client.data(RECORDINGS, {"id": zb.gid})
    activity = data["zoomMeetingActivity"]
    return None if activity is None else activity["recordings"]


async def fetch(zoom_api: str, file_id: str, token: str | None) -> httpx.Response:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    async with httpx.AsyncClient(base_url=zoom_api, timeout=30) as http:
        return await http.get(download_path(file_id), headers=headers)


async def test_a_completed_recording_is_stored_for_the_booking_and_announced(
    zoom_api: str, runtime: Runtime, downloads: FakeDownloads
) -> None:
    zb = await recorded(zoom_api, downloads)
    stored = await ZoomRecording.find({"booking_id": zb.booking.id}).to_list()
    assert sorted(r.file_id for r in stored) == sorted(
        [f"{AUDIO}-{zb.meeting_id}", f"{VIDEO}-{zb.meeting_id}"]
    )
    assert all(DOWNLOAD_TOKEN not in r.download_token for r in stored)  # kept encrypted

    record = await ZoomMeetingRecord.find_one({"booking_id": zb.booking.id})
    assert record is not None
    [ready] = await published(f"zoom_meeting_records:{record.id}")
    assert ready.name == RECORDING_READY
    assert ready.data["booking_id"] == str(zb.booking.id)
    assert sorted(ready.data["file_ids"]) == sorted(r.file_id for r in stored)
    assert DOWNLOAD_TOKEN not in str(ready.data)

    seen = await recordings_seen(zb.customer.client, zb)
    assert seen is not None
    video = next(r for r in seen if r["id"] == f"{VIDEO}-{zb.meeting_id}")
    assert video["recordingType"] == "shared_screen_with_speaker_view"
    assert (video["fileType"], video["sizeBytes"], video["durationSeconds"]) == (
        "MP4",
        282825.0,
        3644,
    )
    assert video["playUrl"].endswith("/play/Qg75t7xZBtEbAkjdlgbfdngCCCC")
    assert video["downloadUrl"].endswith(download_path(video["id"]))
    assert await recordings_seen(zb.specialist.client, zb) == seen
    stranger = await register(GraphQLClient(zoom_api), "CUSTOMER", "Nosy Neighbour")
    assert await recordings_seen(stranger.client, zb) is None


async def test_a_recording_told_again_with_a_fresh_token_is_not_announced_again(
    zoom_api: str, runtime: Runtime, downloads: FakeDownloads
) -> None:
    zb = await recorded(zoom_api, downloads)
    body = for_meeting("recording.completed", zb.meeting_id, zb.host_id)
    body["download_token"] = "a-fresh-download-token"
    for file in body["payload"]["object"]["recording_files"]:
        file["id"] = f"{file['id']}-{zb.meeting_id}"
        file["download_url"] = downloads.url(file["file_type"])
    assert (await deliver(zoom_api, body)).json() == {"status": "handled"}

    record = await ZoomMeetingRecord.find_one({"booking_id": zb.booking.id})
    assert record is not None
    announced = await published(f"zoom_meeting_records:{record.id}")
    assert [e.name for e in announced] == [RECORDING_READY]
    assert await ZoomRecording.find({"booking_id": zb.booking.id}).count() == 2
    # The fresh token replaced the first: the download now fails at the fake.
    response = await fetch(zoom_api, f"{VIDEO}-{zb.meeting_id}", zb.customer.token)
    assert response.status_code == 502


async def test_the_parties_download_through_the_platform_and_nobody_else(
    zoom_api: str, runtime: Runtime, downloads: FakeDownloads
) -> None:
    zb = await recorded(zoom_api, downloads)
    video = f"{VIDEO}-{zb.meeting_id}"
    for account in (zb.customer, zb.specialist):
        response = await fetch(zoom_api, video, account.token)
        assert response.status_code == 200
        assert response.content == CONTENT
        assert response.headers["content-type"] == "video/mp4"
        assert DOWNLOAD_TOKEN not in str(response.headers)
    # The platform sent Zoom the delivery's download token, in a header.
    assert downloads.authorizations[-1] == f"Bearer {DOWNLOAD_TOKEN}"

    stranger = await register(GraphQLClient(zoom_api), "CUSTOMER", "Nosy Neighbour")
    assert (await fetch(zoom_api, video, stranger.token)).status_code == 404
    assert (await fetch(zoom_api, "no-such-file", zb.customer.token)).status_code == 404
    assert (await fetch(zoom_api, video, None)).status_code == 401
    assert (await fetch(zoom_api, video, "not-a-token")).status_code == 401


async def test_an_expired_download_token_or_a_failing_zoom_is_said_so(
    zoom_api: str, runtime: Runtime, downloads: FakeDownloads
) -> None:
    zb = await recorded(zoom_api, downloads, MP4="broken")
    video, audio = f"{VIDEO}-{zb.meeting_id}", f"{AUDIO}-{zb.meeting_id}"
    assert (await fetch(zoom_api, video, zb.customer.token)).status_code == 502
    await ZoomRecording.get_pymongo_collection().update_one(
        {"file_id": audio}, {"$set": {"download_token_expires_at": utcnow() - timedelta(1)}}
    )
    assert (await fetch(zoom_api, audio, zb.customer.token)).status_code == 410


async def test_past_the_download_tokens_day_the_hosts_token_fetches_the_file(
    zoom_api: str,
    runtime: Runtime,
    downloads: FakeDownloads,
    zoom_fake: ZoomFake,
    host_provider: ZoomProvider,
) -> None:
    # Zoom's downloads take the host's current access tokens, as Zoom does.
    downloads.accepts = lambda token: any(
        g.access_token == token and not g.revoked for g in zoom_fake.grants
    )
    zb = await recorded(zoom_api, downloads)
    zoom_fake.add_user("recording-host@zoom.example")
    await connect(host_provider, zb.booking.specialist_id)
    video = f"{VIDEO}-{zb.meeting_id}"

    fresh = await fetch(zoom_api, video, zb.customer.token)  # within the day
    assert fresh.status_code == 200
    assert downloads.authorizations[-1] == f"Bearer {DOWNLOAD_TOKEN}"

    await ZoomRecording.get_pymongo_collection().update_one(
        {"file_id": video}, {"$set": {"download_token_expires_at": utcnow() - timedelta(1)}}
    )
    old = await fetch(zoom_api, video, zb.customer.token)
    assert old.status_code == 200 and old.content == CONTENT
    host_token = zoom_fake.grants[-1].access_token
    assert downloads.authorizations[-1] == f"Bearer {host_token}"
    assert host_token not in str(old.headers)

    # The host's token about to expire is refreshed first, as for any call to Zoom.
    await ZoomConnection.get_pymongo_collection().update_one(
        {"_id": zb.booking.specialist_id}, {"$set": {"expires_at": utcnow()}}
    )
    refreshed = await fetch(zoom_api, video, zb.customer.token)
    assert refreshed.status_code == 200
    assert downloads.authorizations[-1] == f"Bearer {zoom_fake.grants[-1].access_token}"
    assert zoom_fake.grants[-1].access_token != host_token


async def test_hook_sweeps(
    zoom_api: str, runtime: Runtime, downloads: FakeDownloads, worker: Process
) -> None:
    """The worker runs the plugin's clean-ups: recordings past the retention go, and so do
    receipts past the replay window."""
    zb = await recorded(zoom_api, downloads)
    old, kept = f"{AUDIO}-{zb.meeting_id}", f"{VIDEO}-{zb.meeting_id}"
    past = utcnow() - timedelta(seconds=1)
    await ZoomRecording.get_pymongo_collection().update_one(
        {"file_id": old}, {"$set": {"expires_at": past}}
    )
    receipts = ZoomWebhookReceipt.get_pymongo_collection()
    receipt = await receipts.find_one({"event": "recording.completed"})
    assert receipt is not None
    await receipts.update_one({"_id": receipt["_id"]}, {"$set": {"expires_at": past}})

    async def swept() -> bool:
        gone = await ZoomRecording.find({"file_id": old}).count() == 0
        return gone and await receipts.count_documents({"_id": receipt["_id"]}) == 0

    await eventually(swept, within=90)  # the worker sweeps every second, when not too busy
    assert await ZoomRecording.find({"file_id": kept}).count() == 1
