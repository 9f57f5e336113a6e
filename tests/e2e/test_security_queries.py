"""Expensive queries: refused before they run when they could cost too much, and computed
off the event loop when allowed, so one client cannot stall the server for everyone."""

from __future__ import annotations

from datetime import timedelta

import pytest_asyncio
from strawberry import relay

from specialistly.core.clock import utcnow
from specialistly.core.services import Service
from specialistly.runtime import Runtime
from tests.bookings_fixtures import make_service
from tests.client import GraphQLClient, register
from tests.factories import confirmed_booking_document

SLOTS = 'slots(serviceId: "{id}", from: "{start}", to: "{end}") {{ start end }}'


def aliased_slots(service_id: str, days: int, count: int) -> str:
    start = utcnow().replace(microsecond=0)
    end = start + timedelta(days=days)
    one = SLOTS.format(id=service_id, start=start.isoformat(), end=end.isoformat())
    return "{ " + " ".join(f"a{i}: {one}" for i in range(count)) + " }"


def global_id(service: Service) -> str:
    return str(relay.GlobalID("Service", str(service.id)))


@pytest_asyncio.fixture(loop_scope="session")
async def busiest_service(runtime: Runtime) -> Service:
    """The attack's service: a five-minute slot every five minutes, day and night, a year
    ahead; one booking a day and at most one a day, so that computing its slots is all the
    work and the answer is empty (a short answer keeps the timing of the test honest)."""
    service = await make_service(
        durations=[5], slot_interval=5, minimum_notice=0, horizon_days=365, max_per_day=1
    )
    today = utcnow().replace(hour=3, minute=0, second=0, microsecond=0)
    for day in range(64):
        start = today + timedelta(days=day)
        booking = confirmed_booking_document(service.specialist_id, start, 5, service_id=service.id)
        await booking.insert()
    return service


async def test_the_slots_attack_is_refused_before_it_runs(
    client: GraphQLClient, busiest_service: Service
) -> None:
    body = await client.execute(aliased_slots(global_id(busiest_service), days=62, count=30))
    assert body["data"] is None
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "QUERY_TOO_COSTLY"
    assert error["extensions"]["cost"] > error["extensions"]["maxCost"]
    assert "shorter slot windows" in error["message"]


async def test_windows_given_as_variables_are_counted_too(client: GraphQLClient) -> None:
    query = (
        "query Q($id: ID!, $from: DateTime!, $to: DateTime!) { "
        + " ".join(
            f"a{i}: slots(serviceId: $id, from: $from, to: $to) {{ start }}" for i in range(4)
        )
        + " }"
    )
    start = utcnow()
    window = {"from": start.isoformat(), "to": (start + timedelta(days=62)).isoformat()}
    body = await client.execute(query, {"id": str(relay.GlobalID("Service", "x")), **window})
    assert body["errors"][0]["extensions"]["code"] == "QUERY_TOO_COSTLY"


async def test_a_negative_page_size_does_not_pay_for_the_rest(client: GraphQLClient) -> None:
    account = await register(client)
    one_window = aliased_slots(str(relay.GlobalID("Service", "x")), days=62, count=4)
    query = one_window[:-1] + " b: myBookings(first: -1000000) { nodes { id } } }"
    body = await account.client.execute(query)
    assert body["errors"][0]["extensions"]["code"] == "QUERY_TOO_COSTLY"


async def test_many_short_windows_are_allowed(
    client: GraphQLClient, busiest_service: Service
) -> None:
    data = await client.data(aliased_slots(global_id(busiest_service), days=1, count=30))
    assert len(data) == 30
