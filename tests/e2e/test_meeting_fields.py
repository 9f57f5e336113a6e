"""A booking's meeting over HTTP: its status, seen by both parties; a service's
auto-recording; no booking of a service whose specialist cannot host its meetings; and the
specialist's record of a customer who never came."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from specialistly.core.clock import utcnow
from tests.client import Account, GraphQLClient, booking_gid, register, user_id
from tests.e2e.test_booking_flow import booking_input, slots, specialist_with_service
from tests.factories import confirmed_booking_document
from tests.processes import Process
from tests.waiting import eventually

pytestmark = pytest.mark.usefixtures("runtime")

BOOK = """mutation B($input: CreateBookingInput!) {
  createBooking(input: $input) {
    booking { id status meetingStatus } errors { field code message } } }"""
STATUS = """query G($id: ID!) { booking(id: $id) { status meetingStatus noShowAt } }"""
NO_SHOW = """mutation N($id: ID!) {
  markNoShow(id: $id) { booking { status noShowAt } errors { code message } } }"""
CREATE_SERVICE = """mutation S($input: CreateServiceInput!) {
  createService(input: $input) { service { autoRecording } errors { field code } } }"""


async def status_of(account: Account, booking_id: str) -> dict[str, Any]:
    found: dict[str, Any] = (await account.client.data(STATUS, {"id": booking_id}))["booking"]
    return found


async def test_both_parties_see_the_meeting_pending_then_created(
    client: GraphQLClient, worker: Process
) -> None:
    specialist, service_id = await specialist_with_service(client)
    customer = await register(client, name="Mia Park")
    chosen = (await slots(customer.client, service_id, "UTC"))[0]["start"]

    made = (await customer.client.data(BOOK, {"input": booking_input(service_id, chosen)}))[
        "createBooking"
    ]

    assert made["errors"] == []
    assert made["booking"]["status"] == "CONFIRMED"
    assert made["booking"]["meetingStatus"] == "PENDING"  # the worker makes it afterwards
    booking_id = made["booking"]["id"]

    async def created_for(account: Account) -> bool:
        status: str = (await status_of(account, booking_id))["meetingStatus"]
        return status == "CREATED"

    await eventually(lambda: created_for(customer), within=120)
    assert await created_for(specialist)


def next_weekday_ten_in_berlin() -> str:
    day = datetime.now(UTC).date() + timedelta(days=2)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return datetime(day.year, day.month, day.day, 10, tzinfo=ZoneInfo("Europe/Berlin")).isoformat()


async def test_a_zoom_service_is_not_booked_while_its_specialist_cannot_host(
    client: GraphQLClient,
) -> None:
    # This server has no Zoom app configured, so no specialist can host a Zoom meeting.
    _, service_id = await specialist_with_service(client, provider="zoom")
    customer = await register(client)

    answer = await customer.client.data(
        BOOK, {"input": booking_input(service_id, next_weekday_ten_in_berlin())}
    )

    payload = answer["createBooking"]
    assert payload["booking"] is None
    [error] = payload["errors"]
    assert error["code"] == "HOST_NOT_READY" and error["field"].endswith("serviceId")


async def test_a_service_records_its_meetings_as_asked(client: GraphQLClient) -> None:
    specialist = await register(client, "SPECIALIST")
    base = {"title": "Review", "durationMinutesOptions": [30], "price": 0, "currency": "EUR"}

    plain = await specialist.client.data(CREATE_SERVICE, {"input": base})
    recorded = await specialist.client.data(
        CREATE_SERVICE, {"input": {**base, "autoRecording": "CLOUD"}}
    )
    wrong = await specialist.client.execute(
        CREATE_SERVICE, {"input": {**base, "autoRecording": "VIDEO"}}
    )

    assert plain["createService"]["service"] == {"autoRecording": "NONE"}
    assert recorded["createService"]["service"] == {"autoRecording": "CLOUD"}
    assert wrong["errors"] and wrong.get("data") is None  # not a value of AutoRecording


async def a_booking_between(specialist: Account, customer: Account, starts_in: timedelta) -> str:
    booking = confirmed_booking_document(
        user_id(specialist), utcnow() + starts_in, 60, customer_id=user_id(customer)
    )
    await booking.insert()
    return booking_gid(booking.id)


async def test_the_specialist_records_that_the_customer_never_came(
    client: GraphQLClient,
) -> None:
    specialist = await register(client, "SPECIALIST")
    customer = await register(client)
    started = await a_booking_between(specialist, customer, -timedelta(minutes=20))
    upcoming = await a_booking_between(specialist, customer, timedelta(days=2))

    by_customer = await customer.client.data(NO_SHOW, {"id": started})
    too_early = await specialist.client.data(NO_SHOW, {"id": upcoming})
    marked = await specialist.client.data(NO_SHOW, {"id": started})

    assert [e["code"] for e in by_customer["markNoShow"]["errors"]] == ["FORBIDDEN"]
    assert [e["code"] for e in too_early["markNoShow"]["errors"]] == ["NOT_STARTED"]
    assert marked["markNoShow"]["errors"] == []
    assert marked["markNoShow"]["booking"]["status"] == "NO_SHOW"
    for party in (customer, specialist):
        seen = await status_of(party, started)
        assert seen["status"] == "NO_SHOW" and seen["noShowAt"] is not None
