"""The whole way through, over HTTP with a real worker: a specialist sets up, a customer
sees slots in their own time zone, books, and the booking gets its meeting link."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from beanie import PydanticObjectId
from strawberry import relay

from specialistly.core.bookings import Booking, BookingStatus, day_number
from specialistly.core.events import Event
from specialistly.runtime import Runtime
from tests.client import Account, GraphQLClient, register
from tests.processes import Process
from tests.waiting import eventually

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
WEEKDAYS = ["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY"]

SET_HOURS = """mutation H($input: WeeklyHoursInput!) {
  setWeeklyHours(input: $input) { errors { field code message } } }"""
CREATE_SERVICE = """mutation S($input: CreateServiceInput!) {
  createService(input: $input) { service { id } errors { field code message } } }"""
PUBLISH = """mutation P($id: ID!) { publishService(id: $id) { errors { code } } }"""
SLOTS = """query Q($id: ID!, $from: DateTime!, $to: DateTime!, $tz: String) {
  slots(serviceId: $id, from: $from, to: $to, timezone: $tz) {
    start startLocal { dateTime timezone } } }"""
BOOK = """mutation B($input: CreateBookingInput!) {
  createBooking(input: $input) {
    booking { id status start startLocal { dateTime timezone } meeting { provider joinUrl } }
    errors { field code message } } }"""
BOOKING = """query G($id: ID!) { booking(id: $id) { status meeting { provider joinUrl } } }"""


async def specialist_with_service(
    client: GraphQLClient, provider: str = "jitsi"
) -> tuple[Account, str]:
    specialist = await register(client, "SPECIALIST", "Lena Vogel")
    sc = specialist.client
    hours = {
        "timezone": "Europe/Berlin",
        "days": [{"weekday": d, "ranges": [{"start": "09:00", "end": "17:00"}]} for d in WEEKDAYS],
    }
    assert (await sc.data(SET_HOURS, {"input": hours}))["setWeeklyHours"]["errors"] == []
    created = (
        await sc.data(
            CREATE_SERVICE,
            {
                "input": {
                    "title": "Strategy session",
                    "durationMinutesOptions": [60],
                    "price": 0,
                    "currency": "EUR",
                    "videoProvider": provider,
                    "minimumNoticeMinutes": 60,
                }
            },
        )
    )["createService"]
    assert created["errors"] == []
    service_id = created["service"]["id"]
    assert (await sc.data(PUBLISH, {"id": service_id}))["publishService"]["errors"] == []
    return specialist, service_id


async def slots(client: GraphQLClient, service_id: str, tz: str) -> list[dict[str, Any]]:
    now = datetime.now(UTC)
    window = {
        "id": service_id,
        "from": now.isoformat(),
        "to": (now + timedelta(days=14)).isoformat(),
        "tz": tz,
    }
    found: list[dict[str, Any]] = (await client.data(SLOTS, window))["slots"]
    return found


def booking_input(service_id: str, start: str) -> dict[str, Any]:
    return {
        "serviceId": service_id,
        "start": start,
        "durationMinutes": 60,
        "customerTimezone": "America/New_York",
        "idempotencyKey": secrets.token_hex(8),
    }


async def test_a_customer_books_a_slot_and_gets_a_meeting_link(
    client: GraphQLClient, worker: Process
) -> None:
    _, service_id = await specialist_with_service(client)
    customer = await register(client, name="Noah Price")

    offered = await slots(customer.client, service_id, "America/New_York")
    assert offered
    for slot in offered:
        start = datetime.fromisoformat(slot["start"])
        berlin = start.astimezone(BERLIN)
        assert berlin.weekday() < 5
        end = berlin + timedelta(hours=1)  # a 60-minute meeting inside 09:00-17:00 Berlin
        assert berlin.hour >= 9
        assert (end.hour, end.minute) <= (17, 0)
        assert end.date() == berlin.date()
        local = slot["startLocal"]
        assert local["timezone"] == "America/New_York"
        assert datetime.fromisoformat(local["dateTime"]) == start.astimezone(NEW_YORK)
        assert datetime.fromisoformat(local["dateTime"]).utcoffset() == (
            start.astimezone(NEW_YORK).utcoffset()
        )

    chosen = offered[0]["start"]
    made = await customer.client.data(BOOK, {"input": booking_input(service_id, chosen)})
    payload = made["createBooking"]
    assert payload["errors"] == []
    booking = payload["booking"]
    assert booking["status"] == "CONFIRMED"
    assert datetime.fromisoformat(booking["startLocal"]["dateTime"]).utcoffset() == timedelta(
        hours=-5
    )

    async def meeting() -> dict[str, Any] | None:
        found: dict[str, Any] | None = (await customer.client.data(BOOKING, {"id": booking["id"]}))[
            "booking"
        ]["meeting"]
        return found

    link = await eventually(meeting)
    assert link["provider"] == "jitsi"
    assert link["joinUrl"].startswith("https://meet.jit.si/specialistly-")

    assert chosen not in [s["start"] for s in await slots(customer.client, service_id, "UTC")]
    rival = await register(client)
    taken = await rival.client.data(BOOK, {"input": booking_input(service_id, chosen)})
    assert [e["code"] for e in taken["createBooking"]["errors"]] == ["SLOT_TAKEN"]


async def test_bookings_whose_end_has_passed_are_completed_by_the_worker(
    client: GraphQLClient, runtime: Runtime, worker: Process
) -> None:
    _, service_id = await specialist_with_service(client)
    customer = await register(client)
    chosen = (await slots(customer.client, service_id, "UTC"))[0]["start"]
    made = await customer.client.data(BOOK, {"input": booking_input(service_id, chosen)})
    booking_id = PydanticObjectId(
        relay.GlobalID.from_id(made["createBooking"]["booking"]["id"]).node_id
    )

    # Let the meeting be made first, then move the booking into the past.
    async def has_meeting() -> Booking | None:
        found = await Booking.get(booking_id)
        return found if found and found.meeting else None

    await eventually(has_meeting)
    past = datetime.now(UTC) - timedelta(hours=3)
    ended = past + timedelta(hours=1)  # as a booking of that time is stored
    await Booking.find_one(Booking.id == booking_id).update(
        {
            "$set": {
                "start": past,
                "end": ended,
                "start_day": day_number(past),
                "end_day": day_number(ended),
            }
        }
    )

    async def completed() -> Booking | None:
        found = await Booking.get(booking_id)
        return found if found and found.status == BookingStatus.COMPLETED else None

    await eventually(completed)

    async def completion_event() -> Event | None:
        return await Event.find_one(
            Event.name == "booking.completed", Event.data["booking_id"] == str(booking_id)
        )

    assert await eventually(completion_event)


async def test_the_video_provider_is_chosen_per_service(
    client: GraphQLClient, worker: Process
) -> None:
    """The same path serves any provider: here the example plugin's."""
    _, service_id = await specialist_with_service(client, provider="example-video")
    customer = await register(client)
    chosen = (await slots(customer.client, service_id, "UTC"))[0]["start"]
    made = await customer.client.data(BOOK, {"input": booking_input(service_id, chosen)})
    booking_id = made["createBooking"]["booking"]["id"]

    async def meeting() -> dict[str, Any] | None:
        found: dict[str, Any] | None = (await customer.client.data(BOOKING, {"id": booking_id}))[
            "booking"
        ]["meeting"]
        return found

    link = await eventually(meeting)
    raw_id = relay.GlobalID.from_id(booking_id).node_id
    assert link == {"provider": "example-video", "joinUrl": f"https://video.example/{raw_id}"}
