"""Bookings over HTTP: creating, refusing bad input, lists, ownership, cancel, reschedule."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

import pytest
from strawberry import relay

from specialistly.core.bookings import Booking, MeetingInfo, SlotClaim
from specialistly.core.services import Service, ServiceStatus
from specialistly.core.users import Role
from specialistly.runtime import Runtime
from tests.bookings_fixtures import day_at, make_availability, make_service, make_user
from tests.client import Account, GraphQLClient, register, service_gid, user_id

pytestmark = pytest.mark.usefixtures("runtime")

BOOKING_FIELDS = """
  id status start end durationMinutes price currency customerTimezone notes
  startLocal { dateTime date time timezone } endLocal { dateTime date time timezone }
  holdExpiresAt serviceId service { title } customer { id } specialist { id }
  meeting { provider joinUrl }
"""
CREATE = f"""
mutation Create($input: CreateBookingInput!) {{
  createBooking(input: $input) {{ booking {{ {BOOKING_FIELDS} }} errors {{ field code message }} }}
}}
"""
CANCEL = """
mutation Cancel($id: ID!, $reason: String) {
  cancelBooking(id: $id, reason: $reason) { booking { status } errors { field code } }
}
"""
RESCHEDULE = """
mutation Move($id: ID!, $start: DateTime!) {
  rescheduleBooking(id: $id, start: $start) { booking { start end } errors { field code } }
}
"""
ONE = f"query One($id: ID!) {{ booking(id: $id) {{ {BOOKING_FIELDS} }} }}"
MINE = """
query Mine($status: [BookingStatus!], $from: DateTime, $after: String) {
  myBookings(first: 2, status: $status, from: $from, after: $after) {
    totalCount pageInfo { hasNextPage endCursor } nodes { id start status }
  }
}
"""
THEIRS = "{ specialistBookings(first: 10) { totalCount nodes { id customer { id } } } }"


def create_input(service_id: str, start: str, **changes: Any) -> dict[str, Any]:
    return {
        "input": {
            "serviceId": service_id,
            "start": start,
            "durationMinutes": 30,
            "customerTimezone": "Europe/Berlin",
            "idempotencyKey": secrets.token_hex(8),
            **changes,
        }
    }


@pytest.fixture
async def specialist(api_url: str) -> Account:
    account = await register(GraphQLClient(api_url), "SPECIALIST", "Dr Who")
    await make_availability(user_id(account))
    return account


async def create(account: Account, variables: dict[str, Any]) -> dict[str, Any]:
    data = await account.client.data(CREATE, variables)
    payload: dict[str, Any] = data["createBooking"]
    return payload


async def test_book_and_read_it_back(api_url: str, specialist: Account) -> None:
    service = await make_service(user_id(specialist), price=4500, title="Tax advice")
    customer = await register(GraphQLClient(api_url))
    variables = create_input(
        service_gid(service.id), day_at(13).isoformat(), notes="Bring receipts"
    )
    made = await create(customer, variables)
    assert made["errors"] == []
    booking = made["booking"]
    assert booking["status"] == "PENDING_PAYMENT"
    assert booking["holdExpiresAt"]
    assert (booking["price"], booking["currency"], booking["durationMinutes"]) == (4500, "eur", 30)
    start_local, end_local = booking["startLocal"], booking["endLocal"]
    assert start_local["dateTime"].startswith(day_at(13).date().isoformat() + "T1")
    assert start_local["date"] == day_at(13).date().isoformat()
    assert start_local["time"] in ("14:00", "15:00")  # winter or summer time in Berlin
    assert start_local["timezone"] == end_local["timezone"] == "Europe/Berlin"
    assert datetime.fromisoformat(end_local["dateTime"]) == datetime.fromisoformat(booking["end"])
    assert end_local["time"] == start_local["time"][:3] + "30"
    assert booking["service"]["title"] == "Tax advice"
    assert booking["customer"]["id"] == customer.id
    assert booking["specialist"]["id"] == specialist.id

    again = await create(customer, variables)  # the same idempotency key: the same booking
    assert again["booking"]["id"] == booking["id"]

    seen = await specialist.client.data(ONE, {"id": booking["id"]})
    assert seen["booking"]["notes"] == "Bring receipts"


async def test_a_booking_not_ones_own_is_null_as_node_answers(
    api_url: str, specialist: Account
) -> None:
    service = await make_service(user_id(specialist))
    customer = await register(GraphQLClient(api_url))
    made = await create(customer, create_input(service_gid(service.id), day_at(10).isoformat()))
    booking_id = made["booking"]["id"]
    both = "query Both($id: ID!) { booking(id: $id) { id } node(id: $id) { id } }"
    assert await customer.client.data(both, {"id": booking_id}) == {
        "booking": {"id": booking_id},
        "node": {"id": booking_id},
    }
    stranger = await register(GraphQLClient(api_url))
    missing = relay.to_base64("Booking", "000000000000000000000000")
    for client, asked in (
        (stranger.client, booking_id),  # someone else's
        (GraphQLClient(api_url), booking_id),  # not logged in
        (customer.client, missing),
        (customer.client, relay.to_base64("Booking", '{"$ne": null}')),
    ):
        body = await client.execute(both, {"id": asked})
        assert "errors" not in body and body["data"] == {"booking": None, "node": None}, asked
    # The global id of another type names no booking.
    body = await customer.client.execute(ONE, {"id": service_gid(service.id)})
    assert "errors" not in body and body["data"] == {"booking": None}


async def test_join_url_only_for_the_two_parties(
    api_url: str, specialist: Account, runtime: Runtime
) -> None:
    service = await make_service(user_id(specialist))
    customer = await register(GraphQLClient(api_url))
    made = await create(customer, create_input(service_gid(service.id), day_at(9).isoformat()))
    booking_id = made["booking"]["id"]
    await Booking.find_one(Booking.specialist_id == user_id(specialist)).update(
        {
            "$set": {
                "meeting": MeetingInfo(
                    provider="jitsi", external_id="x", join_url="https://meet.example/x"
                ).model_dump()
            }
        }
    )
    for party in (customer, specialist):
        data = await party.client.data(ONE, {"id": booking_id})
        assert data["booking"]["meeting"] == {
            "provider": "jitsi",
            "joinUrl": "https://meet.example/x",
        }
    admin = await make_user(Role.ADMIN)
    tokens = await runtime.tokens.start_session(admin)
    data = await GraphQLClient(api_url, token=tokens.access_token).data(ONE, {"id": booking_id})
    assert data["booking"]["meeting"] == {"provider": "jitsi", "joinUrl": None}


BAD = [
    ({"start": "past"}, "PAST_SLOT", "input.start"),
    ({"start": "closed"}, "SLOT_UNAVAILABLE", "input.start"),
    ({"serviceId": service_gid("000000000000000000000000")}, "NOT_FOUND", "input.serviceId"),
    ({"serviceId": service_gid('{"$ne": null}')}, "NOT_FOUND", "input.serviceId"),
    (
        {"serviceId": relay.to_base64("User", "000000000000000000000000")},
        "NOT_FOUND",
        "input.serviceId",
    ),
    ({"notes": "x'); db.bookings.drop(); //\x00"}, "INVALID", "input.notes"),
    ({"customerTimezone": "Europe/Atlantis"}, "INVALID", "input.customerTimezone"),
    ({"customerTimezone": "../../etc/passwd"}, "INVALID", "input.customerTimezone"),
    ({"notes": "n" * 2001}, "TOO_LONG", "input.notes"),
    ({"idempotencyKey": "x"}, "INVALID", "input.idempotencyKey"),
    ({"durationMinutes": 31}, "INVALID", "input.durationMinutes"),
]


@pytest.mark.parametrize(("change", "code", "field"), BAD)
async def test_bad_input_is_refused_and_writes_nothing(
    api_url: str, specialist: Account, change: dict[str, Any], code: str, field: str
) -> None:
    specialist_id = user_id(specialist)
    await Service.find(Service.specialist_id == specialist_id).delete()
    service = await make_service(specialist_id, minimum_notice=60)
    start = {"past": day_at(10, days=-2), "closed": day_at(10, days=90)}.get(
        str(change.pop("start", "")), day_at(10)
    )
    customer = await register(GraphQLClient(api_url))
    made = await create(
        customer, create_input(service_gid(service.id), start.isoformat(), **change)
    )
    assert made["booking"] is None
    assert {"field": field, "code": code} in [
        {"field": e["field"], "code": e["code"]} for e in made["errors"]
    ]
    assert all(e["message"] for e in made["errors"])
    assert await Booking.find(Booking.specialist_id == specialist_id).count() == 0
    assert await SlotClaim.find(SlotClaim.specialist_id == specialist_id).count() == 0


async def test_another_specialists_draft_answers_like_a_missing_service(
    api_url: str, specialist: Account
) -> None:
    draft = await make_service(user_id(specialist), status=ServiceStatus.DRAFT)
    customer = await register(GraphQLClient(api_url))
    start = day_at(10).isoformat()
    for service_id in (service_gid(draft.id), service_gid("000000000000000000000000")):
        made = await create(customer, create_input(service_id, start))
        assert made["booking"] is None
        assert made["errors"] == [
            {
                "field": "input.serviceId",
                "code": "NOT_FOUND",
                "message": "There is no such service.",
            }
        ]


async def test_error_codes_are_a_typed_enum(api_url: str) -> None:
    client = GraphQLClient(api_url)
    found = await client.data(
        """{ userError: __type(name: "UserError") {
               fields { name type { kind ofType { name kind } } } }
             codes: __type(name: "ErrorCode") { enumValues { name } } }"""
    )
    code = next(f for f in found["userError"]["fields"] if f["name"] == "code")
    assert code["type"] == {"kind": "NON_NULL", "ofType": {"name": "ErrorCode", "kind": "ENUM"}}
    names = {v["name"] for v in found["codes"]["enumValues"]}
    assert {"NOT_FOUND", "SLOT_TAKEN", "DAILY_LIMIT_REACHED", "WEEKLY_LIMIT_REACHED"} <= names
    assert "UNKNOWN_SERVICE" not in names and "LIMIT_REACHED" not in names


async def test_lists_cancel_and_reschedule(api_url: str, specialist: Account) -> None:
    service = await make_service(user_id(specialist))
    customer = await register(GraphQLClient(api_url))
    ids = []
    for hour in (15, 9, 12):  # created out of order: listed by start
        made = await create(
            customer, create_input(service_gid(service.id), day_at(hour).isoformat())
        )
        ids.append(made["booking"]["id"])

    first = (await customer.client.data(MINE, {}))["myBookings"]
    assert first["totalCount"] == 3
    assert [n["id"] for n in first["nodes"]] == [ids[1], ids[2]]
    assert first["pageInfo"]["hasNextPage"]
    rest = (await customer.client.data(MINE, {"after": first["pageInfo"]["endCursor"]}))[
        "myBookings"
    ]
    assert [n["id"] for n in rest["nodes"]] == [ids[0]]
    later = await customer.client.data(MINE, {"from": day_at(12).isoformat()})
    assert later["myBookings"]["totalCount"] == 2

    cancelled = await customer.client.data(CANCEL, {"id": ids[1], "reason": "Clash"})
    assert cancelled["cancelBooking"] == {"booking": {"status": "CANCELLED"}, "errors": []}
    only = await customer.client.data(MINE, {"status": ["CANCELLED"]})
    assert [n["id"] for n in only["myBookings"]["nodes"]] == [ids[1]]

    moved = await customer.client.data(RESCHEDULE, {"id": ids[0], "start": day_at(9).isoformat()})
    assert moved["rescheduleBooking"]["errors"] == []
    assert moved["rescheduleBooking"]["booking"]["start"].startswith(day_at(9).isoformat()[:16])
    clash = await customer.client.data(RESCHEDULE, {"id": ids[0], "start": day_at(12).isoformat()})
    assert clash["rescheduleBooking"]["errors"] == [{"field": "start", "code": "SLOT_TAKEN"}]

    theirs = (await specialist.client.data(THEIRS))["specialistBookings"]
    assert theirs["totalCount"] == 3
    assert {n["customer"]["id"] for n in theirs["nodes"]} == {customer.id}
    body = await customer.client.execute(THEIRS)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    body = await customer.client.execute("{ bookings { totalCount } }")
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"

    stranger = await register(GraphQLClient(api_url))
    refused = await stranger.client.data(CANCEL, {"id": ids[2]})
    assert refused["cancelBooking"]["errors"] == [{"field": "id", "code": "NOT_FOUND"}]
