"""Many customers asking for the same time at once over HTTP: exactly one gets it."""

from __future__ import annotations

import asyncio
import secrets
from typing import Any

import pytest

from specialistly.core.bookings import Booking, SlotClaim
from specialistly.core.services import Service
from specialistly.runtime import Runtime
from tests.bookings_fixtures import day_at, make_availability, make_service
from tests.client import Account, GraphQLClient, register, service_gid, user_id

CREATE = """
mutation Create($input: CreateBookingInput!) {
  createBooking(input: $input) {
    booking { id status start end }
    errors { field code message }
  }
}
"""

pytestmark = pytest.mark.usefixtures("runtime")


async def open_service(api_url: str) -> Service:
    specialist = await register(GraphQLClient(api_url), "SPECIALIST", "Dr Race")
    await make_availability(user_id(specialist))
    return await make_service(user_id(specialist))


async def customers(api_url: str, n: int) -> list[Account]:
    # Each client poses as its own address, so per-IP registration limits do not bite.
    return list(await asyncio.gather(*(register(GraphQLClient(api_url)) for _ in range(n))))


def booking_input(service: Service, start: str, duration: int) -> dict[str, Any]:
    return {
        "input": {
            "serviceId": service_gid(service.id),
            "start": start,
            "durationMinutes": duration,
            "customerTimezone": "America/New_York",
            "idempotencyKey": secrets.token_hex(8),
        }
    }


async def race(attempts: list[tuple[Account, dict[str, Any]]]) -> list[dict[str, Any]]:
    bodies = await asyncio.gather(*(a.client.data(CREATE, v) for a, v in attempts))
    return [b["createBooking"] for b in bodies]


async def test_fifty_customers_one_slot(api_url: str, runtime: Runtime) -> None:
    service = await open_service(api_url)
    people = await customers(api_url, 50)
    start = day_at(10).isoformat()
    results = await race([(p, booking_input(service, start, 30)) for p in people])

    won = [r for r in results if r["booking"]]
    lost = [r for r in results if not r["booking"]]
    assert len(won) == 1, won
    assert won[0]["booking"]["status"] == "CONFIRMED"
    assert len(lost) == 49
    assert all(
        r["errors"]
        == [{"field": "input.start", "code": "SLOT_TAKEN", "message": r["errors"][0]["message"]}]
        for r in lost
    ), lost
    assert await Booking.find(Booking.specialist_id == service.specialist_id).count() == 1
    assert await SlotClaim.find(SlotClaim.specialist_id == service.specialist_id).count() == 6


async def test_overlapping_lengths_race(api_url: str, runtime: Runtime) -> None:
    """An hour at 10:00 and half an hour at 10:30 overlap: of all of them, one wins."""
    service = await open_service(api_url)
    people = await customers(api_url, 30)
    attempts = [
        (p, booking_input(service, day_at(10).isoformat(), 60))
        if i % 2
        else (p, booking_input(service, day_at(10, 30).isoformat(), 30))
        for i, p in enumerate(people)
    ]
    results = await race(attempts)
    won = [r for r in results if r["booking"]]
    assert len(won) == 1, won
    assert {e["code"] for r in results if not r["booking"] for e in r["errors"]} == {"SLOT_TAKEN"}
    bookings = await Booking.find(Booking.specialist_id == service.specialist_id).to_list()
    assert len(bookings) == 1
    cells = await SlotClaim.find(SlotClaim.specialist_id == service.specialist_id).count()
    assert cells == (bookings[0].end - bookings[0].start).seconds // 300
