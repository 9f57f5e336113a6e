"""One Zoom meeting per booking, following it: created with the booking's details, found
again rather than made twice, moved, deleted; Zoom's faults retried as documented."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from beanie import PydanticObjectId

from specialistly.core.clock import utcnow
from specialistly.providers import MeetingRequest, ProviderError
from specialistly_zoom.client import RATE_LIMIT_WAITS
from specialistly_zoom.models import MeetingState, ZoomConnection, ZoomMeeting, ZoomPacing
from specialistly_zoom.provider import ZoomProvider, marker
from tests.factories import make_specialist
from tests.zoom.connecting import connect
from tests.zoom_fake import User, ZoomFake

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def connected(zoom: ZoomFake, provider: ZoomProvider) -> tuple[PydanticObjectId, User]:
    zoom_user = zoom.add_user("host@zoom.example")
    specialist = await make_specialist(tz="Europe/Berlin")
    assert specialist.id is not None
    await connect(provider, specialist.id)
    return specialist.id, zoom_user


def request_for(specialist_id: PydanticObjectId, **changes: object) -> MeetingRequest:
    base: dict[str, object] = {
        "booking_id": str(PydanticObjectId()),
        "specialist_id": str(specialist_id),
        "topic": "Career chat \N{EN DASH} Bob Customer",
        "start": datetime(2031, 3, 4, 9, 30, tzinfo=UTC),
        "duration_minutes": 45,
        "timezone": "Europe/Berlin",
    }
    return MeetingRequest(**{**base, **changes})  # type: ignore[arg-type]


async def test_a_booking_gets_a_scheduled_meeting_with_its_details(
    zoom: ZoomFake, provider: ZoomProvider
) -> None:
    specialist_id, zoom_user = await connected(zoom, provider)
    request = request_for(specialist_id)

    details = await provider.create_meeting(request)

    [meeting] = zoom.meetings(zoom_user)
    assert meeting["topic"] == "Career chat \N{EN DASH} Bob Customer"
    assert meeting["type"] == 2 and meeting["duration"] == 45
    assert meeting["start_time"] == "2031-03-04T09:30:00Z"
    assert meeting["timezone"] == "Europe/Berlin"
    assert meeting["settings"]["waiting_room"] is True
    assert meeting["settings"]["join_before_host"] is False
    assert meeting["agenda"] == marker(request.booking_id)
    assert details.external_id == str(meeting["id"])
    assert meeting["settings"]["auto_recording"] == "none"
    assert details.join_url == meeting["join_url"]
    assert details.host_url is None  # the host's link is fetched when asked for
    record = await ZoomMeeting.get(PydanticObjectId(request.booking_id))
    assert record is not None and record.meeting_id == meeting["id"]
    assert record.state == MeetingState.CREATED
    raw = await ZoomMeeting.get_pymongo_collection().find_one({"_id": record.id})
    assert "zak=" not in str(raw)  # the host's key is kept nowhere
    found = await ZoomMeeting.find_one(ZoomMeeting.meeting_id == meeting["id"])
    assert found is not None and found.id == record.id  # webhooks find it by Zoom's id


@pytest.mark.parametrize("recording", ["local", "cloud"])
async def test_the_meeting_records_as_the_service_asks(
    zoom: ZoomFake, provider: ZoomProvider, recording: str
) -> None:
    specialist_id, zoom_user = await connected(zoom, provider)

    await provider.create_meeting(request_for(specialist_id, auto_recording=recording))

    [meeting] = zoom.meetings(zoom_user)
    assert meeting["settings"]["auto_recording"] == recording


async def test_the_host_link_is_fetched_fresh_from_zoom(
    zoom: ZoomFake, provider: ZoomProvider
) -> None:
    specialist_id, zoom_user = await connected(zoom, provider)
    made = await provider.create_meeting(request_for(specialist_id))
    [meeting] = zoom.meetings(zoom_user)
    created = meeting["start_url"]

    first = await provider.fresh_host_url(made, str(specialist_id))
    issued = meeting["start_url"]
    second = await provider.fresh_host_url(made, str(specialist_id))

    assert first == issued != created  # Zoom gives a new host key with each read
    assert second == meeting["start_url"] != first
    assert zoom.calls.count(("GET", f"/v2/meetings/{made.external_id}")) == 2


async def test_no_host_link_while_zoom_is_down_or_the_meeting_gone(
    zoom: ZoomFake, provider: ZoomProvider
) -> None:
    specialist_id, zoom_user = await connected(zoom, provider)
    made = await provider.create_meeting(request_for(specialist_id))
    zoom.fail("api", "503", times=1)

    down = await provider.fresh_host_url(made, str(specialist_id))  # not tried again
    zoom_user.meetings.clear()
    gone = await provider.fresh_host_url(made, str(specialist_id))

    assert down is None and gone is None
    assert await provider.fresh_host_url(made, str(PydanticObjectId())) is None  # no account


async def test_a_grant_missing_a_needed_scope_cannot_host(
    zoom: ZoomFake, provider: ZoomProvider
) -> None:
    specialist_id, _ = await connected(zoom, provider)
    assert await provider.ready_to_host(str(specialist_id))

    provider.settings.scopes = [*provider.settings.scopes, "meeting:write:invite_links"]

    assert not await provider.ready_to_host(str(specialist_id))


async def test_creating_again_returns_the_same_meeting(
    zoom: ZoomFake, provider: ZoomProvider
) -> None:
    specialist_id, _ = await connected(zoom, provider)
    request = request_for(specialist_id)

    first = await provider.create_meeting(request)
    second = await provider.create_meeting(request)

    assert first == second and zoom.creations == 1


async def test_a_try_after_a_crash_finds_the_meeting_zoom_made(
    zoom: ZoomFake, provider: ZoomProvider
) -> None:
    specialist_id, zoom_user = await connected(zoom, provider)
    request = request_for(specialist_id)
    made = await provider.create_meeting(request)
    # As if the process stopped after Zoom created the meeting and before it was stored.
    await ZoomMeeting.get_pymongo_collection().update_one(
        {"_id": PydanticObjectId(request.booking_id)},
        {"$set": {"state": "creating", "meeting_id": None, "join_url": None}},
    )

    again = await provider.create_meeting(request)

    assert again == made and zoom.creations == 1 and len(zoom.meetings(zoom_user)) == 1


async def test_a_reschedule_moves_the_meeting(zoom: ZoomFake, provider: ZoomProvider) -> None:
    specialist_id, zoom_user = await connected(zoom, provider)
    request = request_for(specialist_id)
    made = await provider.create_meeting(request)
    later = request_for(
        specialist_id, booking_id=request.booking_id, start=request.start + timedelta(days=1)
    )

    moved = await provider.reschedule_meeting(made, later)

    [meeting] = zoom.meetings(zoom_user)
    assert moved == made and meeting["start_time"] == "2031-03-05T09:30:00Z"
    assert ("PATCH", f"/v2/meetings/{made.external_id}") in zoom.calls


async def test_a_meeting_deleted_at_zoom_is_made_again_on_reschedule(
    zoom: ZoomFake, provider: ZoomProvider
) -> None:
    specialist_id, zoom_user = await connected(zoom, provider)
    request = request_for(specialist_id)
    made = await provider.create_meeting(request)
    zoom_user.meetings.clear()

    moved = await provider.reschedule_meeting(made, request)

    [meeting] = zoom.meetings(zoom_user)
    assert moved.external_id == str(meeting["id"]) != made.external_id


async def test_cancelling_deletes_the_meeting_and_a_second_cancel_is_fine(
    zoom: ZoomFake, provider: ZoomProvider
) -> None:
    specialist_id, zoom_user = await connected(zoom, provider)
    made = await provider.create_meeting(request_for(specialist_id))

    await provider.cancel_meeting(made)
    zoom_user.meetings.clear()
    await provider.cancel_meeting(made)

    assert zoom.meetings(zoom_user) == []
    assert zoom.calls.count(("DELETE", f"/v2/meetings/{made.external_id}")) == 1


async def test_an_already_deleted_meeting_is_cancelled_without_error(
    zoom: ZoomFake, provider: ZoomProvider
) -> None:
    specialist_id, zoom_user = await connected(zoom, provider)
    made = await provider.create_meeting(request_for(specialist_id))
    zoom_user.meetings.clear()

    await provider.cancel_meeting(made)  # Zoom answers 404

    record = await ZoomMeeting.find_one(ZoomMeeting.meeting_id == int(made.external_id))
    assert record is not None and record.state == MeetingState.DELETED


@pytest.mark.parametrize(
    ("kind", "retry_after"),
    [("503", None), ("500", None), ("timeout", None), ("429", 0), ("429", None)],
)
async def test_passing_faults_are_tried_again(
    zoom: ZoomFake, provider: ZoomProvider, kind: str, retry_after: int | None
) -> None:
    specialist_id, zoom_user = await connected(zoom, provider)
    zoom.timeout_seconds = 1.5  # longer than the provider's one second
    zoom.fail("api", kind, times=2, retry_after=retry_after)

    await provider.create_meeting(request_for(specialist_id))

    assert len(zoom.meetings(zoom_user)) == 1


async def test_zoom_down_for_every_try_is_a_transient_failure(
    zoom: ZoomFake, provider: ZoomProvider
) -> None:
    specialist_id, zoom_user = await connected(zoom, provider)
    zoom.fail("api", "503", times=4)  # the first try and its three retries

    with pytest.raises(ProviderError) as failed:
        await provider.create_meeting(request_for(specialist_id))

    assert failed.value.transient
    assert zoom.meetings(zoom_user) == []


async def test_creations_of_one_specialist_are_paced(
    zoom: ZoomFake, provider: ZoomProvider
) -> None:
    specialist_id, _ = await connected(zoom, provider)
    provider.settings.creation_interval = timedelta(milliseconds=400)
    started = utcnow()

    await asyncio.gather(*(provider.create_meeting(request_for(specialist_id)) for _ in range(3)))

    # Three creations need two intervals between them, whatever the machine's speed.
    assert utcnow() - started >= timedelta(milliseconds=800)


async def test_pacing_never_writes_the_connection(zoom: ZoomFake, provider: ZoomProvider) -> None:
    # FerretDB writes whole documents: a pacing write into the connection could put back
    # the tokens a concurrent refresh had just replaced, and Zoom would refuse the old ones.
    specialist_id, _ = await connected(zoom, provider)
    collection = ZoomConnection.get_pymongo_collection()
    before = await collection.find_one({"_id": specialist_id})

    first = await provider.connections.pace(specialist_id)
    second = await provider.connections.pace(specialist_id)

    assert await collection.find_one({"_id": specialist_id}) == before
    assert second - first >= provider.settings.creation_interval
    assert await ZoomPacing.get(specialist_id) is not None


async def test_a_zoom_that_keeps_answering_429_gives_the_job_back(
    zoom: ZoomFake, provider: ZoomProvider
) -> None:
    specialist_id, zoom_user = await connected(zoom, provider)
    zoom.fail("api", "429", times=RATE_LIMIT_WAITS + 1, retry_after=1)

    with pytest.raises(ProviderError) as failed:
        await provider.create_meeting(request_for(specialist_id))

    # Delivered again once Zoom's last Retry-After has passed, instead of waiting here for ever.
    assert failed.value.transient and failed.value.retry_after == 1
    assert zoom.meetings(zoom_user) == []
