"""Inputs at the edges: extreme dates, sentinel dates, host-only time zone names, invisible
text, trailing newlines, archived services and registration errors."""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

import pytest
from beanie import PydanticObjectId
from strawberry import relay

from specialistly.core import accounts
from specialistly.core.clock import utcnow
from tests.bookings_fixtures import book, day_at, make_availability, make_service
from tests.client import REGISTER, Account, GraphQLClient, register

pytestmark = pytest.mark.usefixtures("runtime")

CREATE_BOOKING = """
mutation C($input: CreateBookingInput!) { createBooking(input: $input) { errors { field code } } }
"""
RESCHEDULE = """
mutation M($id: ID!, $start: DateTime!) {
  rescheduleBooking(id: $id, start: $start) { booking { start } errors { field code } }
}
"""
SLOTS = """
query S($id: ID!, $from: DateTime!, $to: DateTime!) { slots(serviceId: $id, from: $from, to: $to)
  { start } }
"""
MY_BOOKINGS = """
query B($from: DateTime, $to: DateTime) { myBookings(from: $from, to: $to) { totalCount } }
"""
OVERRIDE = """
mutation O($input: DateOverrideInput!) { setDateOverride(input: $input) { errors { field code } } }
"""
WEEKLY = """
mutation W($input: WeeklyHoursInput!) { setWeeklyHours(input: $input) { errors { field code } } }
"""
UPDATE = """
mutation U($input: UpdateProfileInput!) {
  updateProfile(input: $input) { user { displayName } errors { field code } }
}
"""
CREATE_SERVICE = """
mutation S($input: CreateServiceInput!) {
  createService(input: $input) { service { id status } errors { field code } }
}
"""
SET_STATUS = """
mutation P($id: ID!) {
  publishService(id: $id) { service { status } errors { field code } }
}
"""
ARCHIVE = """
mutation A($id: ID!) { archiveService(id: $id) { service { status } errors { field code } } }
"""
EXTREMES = [
    "9999-12-31T23:55:00Z",
    "9999-12-31T10:00:00-10:00",
    "0001-01-01T00:00:00+05:00",
    "0001-01-01T00:00:00Z",
    "1960-01-01T00:00:00Z",
    "2200-01-01T00:00:00Z",
]


def object_id(account: Account) -> PydanticObjectId:
    return PydanticObjectId(relay.GlobalID.from_id(account.id).node_id)


def problems(payload: dict[str, Any]) -> list[tuple[str | None, str]]:
    return [(e["field"], e["code"]) for e in payload["errors"]]


@pytest.fixture
async def specialist(api_url: str) -> Account:
    return await register(GraphQLClient(api_url), "SPECIALIST", "Edge Case")


@pytest.mark.parametrize("start", EXTREMES)
async def test_bookings_at_extreme_instants_are_field_errors(
    api_url: str, specialist: Account, start: str
) -> None:
    await make_availability(object_id(specialist), timezone="Pacific/Kiritimati")
    service = await make_service(object_id(specialist))
    service_id = relay.to_base64("Service", str(service.id))
    customer = await register(GraphQLClient(api_url))
    created = await customer.client.data(
        CREATE_BOOKING,
        {
            "input": {
                "serviceId": service_id,
                "start": start,
                "durationMinutes": 30,
                "customerTimezone": "UTC",
                "idempotencyKey": secrets.token_hex(8),
            }
        },
    )
    assert problems(created["createBooking"]) == [("input.start", "INVALID")]

    booking = await book(await accounts.get_user(object_id(customer)), service, day_at(9))
    moved = await customer.client.data(
        RESCHEDULE, {"id": relay.to_base64("Booking", str(booking.id)), "start": start}
    )
    assert problems(moved["rescheduleBooking"]) == [("start", "INVALID")]

    for window in ({"from": start, "to": "2030-01-01T00:00:00Z"}, {"from": start, "to": start}):
        body = await customer.client.execute(SLOTS, {"id": service_id, **window})
        assert body["errors"][0]["extensions"]["code"] == "INVALID", body
        assert "between 1970 and 2199" in body["errors"][0]["message"]
    for window in ({"from": start}, {"to": start}):
        body = await customer.client.execute(MY_BOOKINGS, window)
        assert body["errors"][0]["extensions"]["code"] == "INVALID", body


@pytest.mark.parametrize(
    "day", ["0001-01-01", "9999-12-31", "2030-W05-1", "\uff12\uff10\uff13\uff10-01-01", ""]
)
async def test_date_overrides_take_real_dates_only(specialist: Account, day: str) -> None:
    payload = await specialist.client.data(OVERRIDE, {"input": {"date": day}})
    assert problems(payload["setDateOverride"]) == [("input.date", "INVALID")]


@pytest.mark.parametrize(
    "value", ["09:00\n", "09:00\r", "\u0660\u0669:\u0660\u0660", " 09:00", "9:00", "09:00:00"]
)
async def test_times_are_exactly_hh_mm(specialist: Account, value: str) -> None:
    day = (utcnow() + timedelta(days=3)).date().isoformat()
    ranges = [{"start": value, "end": "10:00"}]
    payload = await specialist.client.data(OVERRIDE, {"input": {"date": day, "ranges": ranges}})
    assert problems(payload["setDateOverride"]) == [("input.ranges.0.start", "INVALID")]
    weekly = {"timezone": "UTC", "days": [{"weekday": "MONDAY", "ranges": ranges}]}
    payload = await specialist.client.data(WEEKLY, {"input": weekly})
    assert problems(payload["setWeeklyHours"]) == [("input.days.0.ranges.0.start", "INVALID")]


@pytest.mark.parametrize("zone", ["localtime", "posixrules", "Factory", "posix/Europe/Berlin"])
async def test_only_iana_zone_names_are_time_zones(specialist: Account, zone: str) -> None:
    profile = await specialist.client.data(UPDATE, {"input": {"timezone": zone}})
    assert problems(profile["updateProfile"]) == [("input.timezone", "INVALID")]
    weekly = await specialist.client.data(WEEKLY, {"input": {"timezone": zone, "days": []}})
    assert problems(weekly["setWeeklyHours"]) == [("input.timezone", "INVALID")]
    fine = await specialist.client.data(UPDATE, {"input": {"timezone": "Europe/Berlin"}})
    assert fine["updateProfile"]["errors"] == []


@pytest.mark.parametrize(
    "name",
    [
        "\u200b\u200b",  # zero-width spaces
        "Eve\u202egnp.exe",  # right-to-left override
        "\u2067Eve\u2069",  # right-to-left isolate
        "\u3164\u3164",  # Hangul fillers: letters that print nothing
        "\u0301\u0301",  # combining marks with nothing to combine with
        "Eve\u200e",  # left-to-right mark
        "Eve\nAdmin",  # a second line
    ],
)
async def test_names_must_be_visible_plain_text(
    client: GraphQLClient, specialist: Account, name: str
) -> None:
    renamed = await specialist.client.data(UPDATE, {"input": {"displayName": name}})
    assert problems(renamed["updateProfile"]) == [("input.displayName", "INVALID")]
    headline = await specialist.client.data(UPDATE, {"input": {"headline": name, "bio": name}})
    assert problems(headline["updateProfile"]) == [
        ("input.headline", "INVALID"),
        *([] if "\n" in name else [("input.bio", "INVALID")]),
    ]
    service = await specialist.client.data(
        CREATE_SERVICE, {"input": {"title": name, "durationMinutesOptions": [30], "price": 0}}
    )
    assert problems(service["createService"]) == [("input.title", "INVALID")]
    registered = await client.data(
        REGISTER,
        {
            "input": {
                "email": f"x{secrets.token_hex(4)}@example.com",
                "password": "a good long password",
                "displayName": name,
            }
        },
    )
    assert problems(registered["register"]) == [("input.displayName", "INVALID")]


@pytest.mark.parametrize(
    "name",
    [
        "Zahra\u200cKarimi",
        "Ann \U0001f469\u200d\U0001f4bb",
        "\U0001f3f4\U000e0067\U000e0062\U000e007f",
    ],
)
async def test_joiners_and_emoji_sequences_stay_allowed(specialist: Account, name: str) -> None:
    renamed = await specialist.client.data(UPDATE, {"input": {"displayName": name}})
    assert renamed["updateProfile"] == {"user": {"displayName": name}, "errors": []}


async def test_an_archived_service_stays_off_sale(specialist: Account) -> None:
    created = await specialist.client.data(
        CREATE_SERVICE, {"input": {"title": "Once", "durationMinutesOptions": [30], "price": 0}}
    )
    service_id = created["createService"]["service"]["id"]
    published = await specialist.client.data(SET_STATUS, {"id": service_id})
    assert published["publishService"]["service"] == {"status": "PUBLISHED"}
    archived = await specialist.client.data(ARCHIVE, {"id": service_id})
    assert archived["archiveService"]["service"] == {"status": "ARCHIVED"}
    again = await specialist.client.data(SET_STATUS, {"id": service_id})
    assert again["publishService"] == {
        "service": None,
        "errors": [{"field": "id", "code": "ARCHIVED"}],
    }
    node = await specialist.client.data(
        "query N($id: ID!) { node(id: $id) { ... on Service { status } } }", {"id": service_id}
    )
    assert node["node"] == {"status": "ARCHIVED"}


@pytest.mark.parametrize("email", ["a\x00@example.com", "not an email", "a@b\u202ec.com"])
async def test_a_bad_email_is_reported_once(client: GraphQLClient, email: str) -> None:
    payload = await client.data(
        REGISTER,
        {"input": {"email": email, "password": "a good long password", "displayName": "X"}},
    )
    assert problems(payload["register"]) == [("input.email", "INVALID")]
