"""Meeting times and attendance from Zoom's events, shown to the booking's parties only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from beanie import PydanticObjectId

from specialistly.core.bookings import Booking, BookingStatus, booking_of_meeting
from specialistly.core.events import Event
from specialistly.features import meetings
from specialistly.runtime import Runtime
from specialistly_zoom.attendance import (
    NO_SHOW_SUSPECTED,
    Kind,
    Role,
    Session,
    ZoomMeetingRecord,
    ZoomParticipation,
    attendance,
)
from tests.client import GraphQLClient, register
from tests.factories import confirmed_booking_document
from tests.waiting import eventually
from tests.zoom_webhooks.bookings import ZoomBooking, zoom_booking
from tests.zoom_webhooks.deliveries import deliver, for_meeting

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)

ACTIVITY = """
query ($id: ID!) {
  zoomMeetingActivity(bookingId: $id) {
    meetingId startedAt endedAt possibleNoShow
    attendance { name role totalMinutes sessions { joinedAt leftAt } }
  }
}
"""


def iso(minutes: float) -> str:
    return (T0 + timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")


def step(key: str, kind: Kind, minutes: float, **fields: Any) -> ZoomParticipation:
    return ZoomParticipation(
        booking_id=PydanticObjectId(),
        host_id="host",
        participant_key=key,
        name=fields.get("name", key),
        email=fields.get("email", ""),
        is_host=fields.get("is_host", False),
        kind=kind,
        at=T0 + timedelta(minutes=minutes),
    )


# --------------------------------------------------------------------------- the rules
# (`runtime`: a stored participation is a Beanie document, which needs the database set up)


async def test_sessions_pair_joins_with_leaves_whatever_order_they_came_in(
    runtime: Runtime,
) -> None:
    steps = [
        step("c", Kind.LEFT, 30, email="Cleo@Example.com"),
        step("c", Kind.JOINED, 40),
        step("c", Kind.JOINED, 2),
        step("c", Kind.LEFT, 50),
        step("c", Kind.JOINED, 41),  # a second join while there changes nothing
    ]
    [cleo] = attendance(steps, None, "sam@example.com", "cleo@example.com")
    assert cleo.role == Role.CUSTOMER  # e-mails compare without case
    assert cleo.sessions == (
        Session(T0 + timedelta(minutes=2), T0 + timedelta(minutes=30)),
        Session(T0 + timedelta(minutes=40), T0 + timedelta(minutes=50)),
    )
    assert cleo.total_minutes == 38


async def test_a_session_still_open_closes_when_the_meeting_ended(runtime: Runtime) -> None:
    steps = [step("s", Kind.JOINED, 0, is_host=True), step("g", Kind.LEFT, 5)]
    [sam] = attendance(steps, None, "", "")
    assert (sam.role, sam.sessions, sam.total_minutes) == (
        Role.SPECIALIST,
        (Session(T0, None),),
        0,
    )
    [sam] = attendance(steps, T0 + timedelta(minutes=45), "", "")  # g never joined: not there
    assert (sam.sessions, sam.total_minutes) == ((Session(T0, T0 + timedelta(minutes=45)),), 45)


async def test_someone_neither_party_is_a_guest(runtime: Runtime) -> None:
    steps = [step("x", Kind.JOINED, 0, email="friend@example.com"), step("x", Kind.LEFT, 1)]
    assert attendance(steps, None, "sam@example.com", "cleo@example.com")[0].role == Role.GUEST


# --------------------------------------------------------------------------- end to end


async def activity(client: GraphQLClient, zb: ZoomBooking) -> dict[str, Any] | None:
    data = await client.data(ACTIVITY, {"id": zb.gid})
    found: dict[str, Any] | None = data["zoomMeetingActivity"]
    return found


async def send(zoom_api: str, zb: ZoomBooking, event: str, **participant: Any) -> None:
    body = for_meeting(event, zb.meeting_id, zb.host_id, **participant)
    if event == "meeting.started":
        body["payload"]["object"]["start_time"] = iso(0)
    if event == "meeting.ended":
        body["payload"]["object"]["end_time"] = iso(60)
    response = await deliver(zoom_api, body)
    assert response.json() == {"status": "handled"}, response.text


async def test_times_and_attendance_reach_both_parties_and_nobody_else(
    zoom_api: str, runtime: Runtime
) -> None:
    zb = await zoom_booking(zoom_api)
    host = {"id": zb.host_id, "participant_user_id": zb.host_id, "user_name": "Sam", "email": ""}
    cleo = {
        "id": "",
        "participant_user_id": "cleo-zoom-id",
        "user_name": "Cleo",
        "email": zb.customer.email,
    }
    joined, left = "meeting.participant_joined", "meeting.participant_left"
    await send(zoom_api, zb, "meeting.started")
    await send(zoom_api, zb, joined, **host, date_time=iso(0))
    await send(zoom_api, zb, left, **cleo, leave_time=iso(32))  # before its join: Zoom may
    await send(zoom_api, zb, joined, **cleo, date_time=iso(2))
    await send(zoom_api, zb, joined, **cleo, date_time=iso(40))  # and back, until the end
    await send(zoom_api, zb, "meeting.ended")

    seen = await activity(zb.customer.client, zb)
    assert seen is not None
    assert (seen["meetingId"], seen["startedAt"], seen["endedAt"]) == (
        zb.meeting_id,
        iso(0).replace("Z", "+00:00"),
        iso(60).replace("Z", "+00:00"),
    )
    people = {a["name"]: a for a in seen["attendance"]}
    assert (people["Sam"]["role"], people["Sam"]["totalMinutes"]) == ("SPECIALIST", 60)
    assert (people["Cleo"]["role"], people["Cleo"]["totalMinutes"]) == ("CUSTOMER", 50)
    assert [s["leftAt"] for s in people["Cleo"]["sessions"]] == [
        iso(32).replace("Z", "+00:00"),
        iso(60).replace("Z", "+00:00"),
    ]
    assert seen["possibleNoShow"] is None  # offered to the specialist only

    as_specialist = await activity(zb.specialist.client, zb)
    assert as_specialist is not None
    assert as_specialist["attendance"] == seen["attendance"]
    assert as_specialist["possibleNoShow"] is False

    stranger = await register(GraphQLClient(zoom_api), "CUSTOMER", "Nosy Neighbour")
    assert await activity(stranger.client, zb) is None
    assert await activity(GraphQLClient(zoom_api), zb) is None


async def test_a_meeting_the_customer_never_joined_is_offered_as_a_no_show_once(
    zoom_api: str, runtime: Runtime
) -> None:
    zb = await zoom_booking(zoom_api)
    host = {"id": zb.host_id, "participant_user_id": zb.host_id, "user_name": "Sam"}
    await send(zoom_api, zb, "meeting.started")
    await send(zoom_api, zb, "meeting.participant_joined", **host, date_time=iso(1))
    seen = await activity(zb.specialist.client, zb)
    assert seen is not None and seen["possibleNoShow"] is False  # not over yet
    await send(zoom_api, zb, "meeting.ended")
    # Started again and ended later (the same meeting): still offered once.
    body = for_meeting("meeting.ended", zb.meeting_id, zb.host_id)
    body["payload"]["object"]["end_time"] = iso(75)
    assert (await deliver(zoom_api, body)).json() == {"status": "handled"}

    seen = await activity(zb.specialist.client, zb)
    assert seen is not None
    assert (seen["possibleNoShow"], seen["endedAt"]) == (True, iso(75).replace("Z", "+00:00"))
    record = await ZoomMeetingRecord.find_one({"booking_id": zb.booking.id})
    assert record is not None and record.no_show_offered_at is not None
    subject = f"zoom_meeting_records:{record.id}"

    async def published() -> list[Event]:  # after the answer left, as the request ended
        return await Event.find({"subject": subject}).to_list()

    offered = await eventually(published, within=60)
    assert [(e.name, e.data["booking_id"]) for e in offered] == [
        (NO_SHOW_SUSPECTED, str(zb.booking.id))
    ]
    customer_view = await activity(zb.customer.client, zb)
    assert customer_view is not None and customer_view["possibleNoShow"] is None


async def test_events_of_meetings_that_are_no_bookings_are_acknowledged_and_dropped(
    zoom_api: str, runtime: Runtime
) -> None:
    body = for_meeting("meeting.started", "98765432100", "someone-else")
    assert (await deliver(zoom_api, body)).json() == {"status": "handled"}
    assert await ZoomMeetingRecord.find({"meeting_id": "98765432100"}).count() == 0


async def test_the_shared_meeting_path_makes_the_booking_findable_by_its_meeting(
    runtime: Runtime,
) -> None:
    booking = confirmed_booking_document(PydanticObjectId(), T0 + timedelta(days=400), 30)
    booking.video_provider = "example-video"
    await booking.insert()
    assert booking.status == BookingStatus.CONFIRMED
    await meetings.ensure_meeting(booking, runtime)
    found = await booking_of_meeting("example-video", str(booking.id))
    assert found is not None and found.id == booking.id
    stored = await Booking.get(booking.id)
    assert stored is not None and stored.meeting_ref == f"example-video:{booking.id}"
