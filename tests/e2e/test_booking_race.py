"""Many customers asking for the same time at once over HTTP: exactly one gets it, and on
a service with a daily cap the losers neither hear the wrong reason nor crowd others out."""

from __future__ import annotations

import asyncio
import secrets
from typing import Any

import pytest

from specialistly.core import claims, reservations
from specialistly.core.bookings import Booking, SlotClaim
from specialistly.core.clock import as_utc
from specialistly.core.services import Service
from specialistly.core.users import User
from specialistly.runtime import Runtime
from tests.bookings_fixtures import book, day_at, make_availability, make_service
from tests.client import Account, GraphQLClient, booking_gid, register, service_gid, user_id

CREATE = """
mutation Create($input: CreateBookingInput!) {
  createBooking(input: $input) {
    booking { id status start end }
    errors { field code message }
  }
}
"""

RESCHEDULE = """
mutation Move($id: ID!, $start: DateTime!) {
  rescheduleBooking(id: $id, newStart: $start) {
    booking { id start }
    errors { field code message }
  }
}
"""

pytestmark = pytest.mark.usefixtures("runtime")


async def open_service(api_url: str, **fields: Any) -> Service:
    specialist = await register(GraphQLClient(api_url), "SPECIALIST", "Dr Race")
    await make_availability(user_id(specialist))
    return await make_service(user_id(specialist), **fields)


async def customers(api_url: str, n: int) -> list[Account]:
    # Each client poses as its own address, so per-IP registration limits do not bite.
    # A few at a time: hashing fifty passwords at once can outlast the client's timeout on
    # a busy machine, and only the bookings, not the registrations, are meant to race.
    gate = asyncio.Semaphore(5)

    async def one() -> Account:
        async with gate:
            return await register(GraphQLClient(api_url))

    return list(await asyncio.gather(*(one() for _ in range(n))))


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


def day_key(service: Service) -> str:
    """The counter of the service's daily cap on the day of day_at (the specialist is in UTC)."""
    return reservations.quota_limits(service, day_at(10), "UTC")[0][0]


def codes(result: dict[str, Any]) -> list[tuple[str, str]]:
    return [(e["field"], e["code"]) for e in result["errors"]]


async def test_losers_of_a_capped_slot_hear_slot_taken(api_url: str, runtime: Runtime) -> None:
    """Thirty customers want 10:00 and one wants 15:00 of a day capped at three bookings:
    one gets 10:00, the others hear that the time is taken, and 15:00 is booked too."""
    service = await open_service(api_url, max_per_day=3)
    people = await customers(api_url, 31)
    attempts = [(p, booking_input(service, day_at(10).isoformat(), 30)) for p in people[:30]]
    attempts.insert(15, (people[30], booking_input(service, day_at(15).isoformat(), 30)))
    results = await race(attempts)

    other = results.pop(15)
    assert other["errors"] == [] and other["booking"]["status"] == "CONFIRMED", other
    won = [r for r in results if r["booking"]]
    assert len(won) == 1, won
    lost = [codes(r) for r in results if not r["booking"]]
    assert lost == [[("input.start", "SLOT_TAKEN")]] * 29, lost
    assert await claims.places_taken(day_key(service)) == 2
    assert await Booking.find(Booking.specialist_id == service.specialist_id).count() == 2


async def test_a_full_day_answers_limit_reached(api_url: str, runtime: Runtime) -> None:
    """Once a capped day is full, everyone asking for a free time of it, together or
    alone, hears that the day is full; nothing is left claimed."""
    service = await open_service(api_url, max_per_day=3)
    people = await customers(api_url, 14)
    for hour, person in zip((9, 10, 11), people, strict=False):
        first = await race([(person, booking_input(service, day_at(hour).isoformat(), 30))])
        assert first[0]["errors"] == [], first
    late = [(p, booking_input(service, day_at(12).isoformat(), 30)) for p in people[3:13]]
    late.append((people[13], booking_input(service, day_at(15).isoformat(), 30)))
    results = await race(late)
    assert [codes(r) for r in results] == [[("input.start", "DAILY_LIMIT_REACHED")]] * 11, results
    assert await Booking.find(Booking.specialist_id == service.specialist_id).count() == 3
    assert await SlotClaim.find(SlotClaim.specialist_id == service.specialist_id).count() == 18
    alone = await race([(people[3], booking_input(service, day_at(16).isoformat(), 30))])
    assert codes(alone[0]) == [("input.start", "DAILY_LIMIT_REACHED")]


async def test_losers_of_a_capped_reschedule_hear_slot_taken(
    api_url: str, runtime: Runtime
) -> None:
    """Twelve bookings moved to 10:00 of a day capped at three and one to 15:00, at once:
    one move to 10:00 wins, the others hear that the time is taken and keep their
    booking, and the move to 15:00 succeeds."""
    service = await open_service(api_url, max_per_day=3)
    people = await customers(api_url, 13)
    users = await asyncio.gather(*(_user(p) for p in people))
    # Three a day, on the days after the contested one.
    made = await asyncio.gather(
        *(book(u, service, day_at(9 + i % 3, days=5 + i // 3)) for i, u in enumerate(users))
    )
    targets = [day_at(10)] * 12
    targets.insert(6, day_at(15))
    results = await asyncio.gather(
        *(
            p.client.data(
                RESCHEDULE,
                {"id": booking_gid(b.id), "start": t.isoformat()},
            )
            for p, b, t in zip(people, made, targets, strict=True)
        )
    )
    moved = [r["rescheduleBooking"] for r in results]

    assert moved[6]["errors"] == [] and moved[6]["booking"], moved[6]
    contested = moved[:6] + moved[7:]
    assert len([m for m in contested if m["booking"]]) == 1, contested
    lost = [codes(m) for m in contested if not m["booking"]]
    assert lost == [[("newStart", "SLOT_TAKEN")]] * 11, lost
    stored = await asyncio.gather(*(Booking.get(b.id) for b in made))
    now_at = [as_utc(b.start) for b in stored if b is not None]
    expected = [
        t if m["booking"] else as_utc(b.start) for b, t, m in zip(made, targets, moved, strict=True)
    ]
    assert now_at == expected
    assert await claims.places_taken(day_key(service)) == 2


async def _user(account: Account) -> User:
    user = await User.get(user_id(account))
    assert user is not None
    return user
