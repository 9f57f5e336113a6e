"""The per-specialist busy time follows the claims: book, cancel, move, expire, complete,
under concurrency, and after a request that stopped half-way."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import pytest
from beanie import PydanticObjectId

from specialistly.core import booking_changes, busy, read_cache, schedule, sweeps
from specialistly.core.bookings import Booking
from specialistly.core.busy import BusyTime
from specialistly.core.clock import utcnow
from specialistly.core.errors import DomainError
from specialistly.core.services import Service
from specialistly.core.slots import Interval
from tests.bookings_fixtures import book, cells_of, day_at, make_service, make_user

pytestmark = pytest.mark.usefixtures("runtime")

Held = tuple[PydanticObjectId | None, datetime, datetime]


async def stored(specialist_id: PydanticObjectId) -> list[Held]:
    """(booking, claim start, claim end) of each entry, as the document holds them."""
    entries = await busy.stored(specialist_id)
    assert entries is not None
    return [(e.booking_id, e.claim.start, e.claim.end) for e in entries]


def held(booking: Booking) -> Held:
    return (booking.id, booking.claim_start, booking.claim_end)


async def test_a_booking_adds_its_claim_and_a_cancellation_drops_it() -> None:
    service = await make_service(buffer_before=10, buffer_after=5)
    customer = await make_user()
    first = await book(customer, service, day_at(10), 60)
    second = await book(customer, service, day_at(14))
    assert await stored(service.specialist_id) == [held(first), held(second)]
    assert first.claim_start == day_at(9, 50)  # the buffers are part of it

    await booking_changes.cancel(str(first.id), customer)
    assert await stored(service.specialist_id) == [held(second)]


async def test_a_move_holds_the_new_time_only_once_it_is_done() -> None:
    service = await make_service()
    customer = await make_user()
    booking = await book(customer, service, day_at(10))
    moved = await booking_changes.reschedule(str(booking.id), customer, day_at(15))
    assert await stored(service.specialist_id) == [held(moved)]

    other = await book(customer, service, day_at(16))
    with pytest.raises(DomainError):  # taken: nothing changes
        await booking_changes.reschedule(str(moved.id), customer, day_at(16))
    assert await stored(service.specialist_id) == [held(moved), held(other)]


async def test_expiry_and_completion_drop_the_time() -> None:
    paid = await make_service(price=2500)
    pending = await book(await make_user(), paid, day_at(10))
    assert pending.hold_expires_at is not None
    confirmed = await book(await make_user(), paid, day_at(12))
    await Booking.get_pymongo_collection().update_one(
        {"_id": confirmed.id}, {"$set": {"status": "confirmed", "hold_expires_at": None}}
    )
    await sweeps.expire_holds(pending.hold_expires_at + timedelta(seconds=1))
    assert await stored(paid.specialist_id) == [held(confirmed)]
    await sweeps.complete_past(confirmed.end + timedelta(minutes=1))
    assert await stored(paid.specialist_id) == []


async def test_concurrent_bookings_of_one_specialist_lose_no_entry() -> None:
    service = await make_service()
    customers = await asyncio.gather(*(make_user() for _ in range(8)))
    starts = [day_at(9 + n) for n in range(6)] + [day_at(9), day_at(10)]  # two contested
    outcomes = await asyncio.gather(
        *(book(c, service, s) for c, s in zip(customers, starts, strict=True)),
        return_exceptions=True,
    )
    made = [o for o in outcomes if isinstance(o, Booking)]
    assert len(made) == 6, outcomes
    assert all(isinstance(o, DomainError) for o in outcomes if not isinstance(o, Booking))
    assert sorted(await stored(service.specialist_id), key=lambda h: h[1]) == sorted(
        (held(b) for b in made), key=lambda h: h[1]
    )


async def test_a_missing_document_is_built_from_the_bookings() -> None:
    service = await make_service()
    customer = await make_user()
    kept = await book(customer, service, day_at(10))
    cancelled = await book(customer, service, day_at(12))
    await booking_changes.cancel(str(cancelled.id), customer)
    await BusyTime.get_pymongo_collection().delete_one({"_id": service.specialist_id})
    await read_cache.documents.changed(BusyTime, "_id", service.specialist_id)

    span = Interval(day_at(0), day_at(0, days=4))
    entries = await busy.held(service.specialist_id, span)
    assert [(e.booking_id, e.claim.start, e.start, e.service_id) for e in entries] == [
        (kept.id, kept.claim_start, kept.start, service.id)
    ]
    assert await stored(service.specialist_id) == [held(kept)]
    assert await busy.held(service.specialist_id, Interval(day_at(11), day_at(12))) == []


async def test_the_sweeper_repairs_what_a_stopped_request_left() -> None:
    service = await make_service()
    customer = await make_user()
    # A reservation that stopped after claiming: RESERVING, its cells and its busy time.
    crashed = await book(customer, service, day_at(10))
    await _set(crashed, status="reserving")
    # A cancellation that stopped before releasing anything (still marked releasing).
    dropped = await book(customer, service, day_at(12))
    await _set(dropped, status="cancelled", releasing=True)
    # A move that stopped after moving the booking: the old time is held as well.
    moving = await book(customer, service, day_at(14))
    moved = await booking_changes.reschedule(str(moving.id), customer, day_at(16))
    await busy.add(service.specialist_id, busy.entry_of(moving))
    await _set(moved, reschedule_started_at=utcnow().replace(microsecond=0), rescheduling=True)
    kept = await book(customer, service, day_at(18))

    await sweeps.release_abandoned(utcnow() + timedelta(minutes=2))
    assert sorted(await stored(service.specialist_id), key=lambda h: h[1]) == [
        held(moved),
        held(kept),
    ]
    assert await cells_of(dropped.id) == []
    await book(await make_user(), service, day_at(12))  # the freed times are bookable again
    await book(await make_user(), service, day_at(14))


async def test_slots_follow_the_busy_time() -> None:
    service = await make_service()
    customer = await make_user()
    wanted = Interval(day_at(9), day_at(12))
    before = await _starts(service, wanted)
    booking = await book(customer, service, day_at(10))
    assert await _starts(service, wanted) == [s for s in before if s != day_at(10)]
    await booking_changes.cancel(str(booking.id), customer)
    assert await _starts(service, wanted) == before


async def _starts(service: Service, wanted: Interval) -> list[datetime]:
    found = await schedule.service_slots(service, wanted, now=wanted.start - timedelta(days=1))
    return [s.start for s in found]


async def _set(booking: Booking, **fields: object) -> None:
    await Booking.get_pymongo_collection().update_one({"_id": booking.id}, {"$set": fields})


async def test_a_cancellation_on_a_busy_calendar_leaves_the_release_to_the_sweeper(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    service = await make_service()
    customer = await make_user()
    booking = await book(customer, service, day_at(10))
    # Another writer holds the calendar's lock for longer than a cancellation waits.
    monkeypatch.setattr(busy, "_WAIT", timedelta(0))
    locks = BusyTime.get_pymongo_collection().database.get_collection("locks")
    key = f"busy_times:{service.specialist_id}"
    await locks.insert_one({"_id": key, "token": "other", "until": utcnow() + timedelta(minutes=1)})
    try:
        cancelled = await booking_changes.cancel(str(booking.id), customer)
    finally:
        await locks.delete_one({"_id": key})
    assert cancelled.status == "cancelled"
    assert len(await cells_of(booking.id)) == 6  # shown busy, never free while held
    assert await stored(service.specialist_id) == [held(booking)]

    await sweeps.release_abandoned(utcnow() + timedelta(minutes=2))  # past the grace
    assert await cells_of(booking.id) == []
    assert await stored(service.specialist_id) == []
