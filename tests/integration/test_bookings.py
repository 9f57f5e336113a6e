"""Bookings against the real database: claims, idempotency, moves, cancellations, sweeps."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from beanie import PydanticObjectId
from pymongo.errors import DuplicateKeyError

from specialistly.core import (
    booking_changes,
    bookings,
    busy,
    catalog,
    claims,
    reservations,
    sweeps,
)
from specialistly.core.bookings import Booking, BookingStatus, SlotClaim
from specialistly.core.clock import utcnow
from specialistly.core.errors import DomainError
from specialistly.core.events import Event
from specialistly.core.services import CancellationPolicy, ServiceStatus
from specialistly.core.slots import Interval
from specialistly.core.users import Role, User
from specialistly.runtime import Runtime
from tests.bookings_fixtures import (
    book,
    cells_of,
    day_at,
    make_availability,
    make_service,
    make_user,
    request,
    written_for,
)

pytestmark = pytest.mark.usefixtures("runtime")


def codes(caught: pytest.ExceptionInfo[DomainError]) -> list[tuple[str, str | None]]:
    return [(p.code, p.field) for p in caught.value.problems]


async def _user(user_id: PydanticObjectId) -> User:
    user = await User.get(user_id)
    assert user is not None
    return user


def names(booking: Booking) -> list[str]:
    return [e.name for e in booking.outbox]


async def test_free_booking_is_confirmed_and_claims_its_cells(runtime: Runtime) -> None:
    service = await make_service(buffer_before=10, buffer_after=5)
    customer = await make_user()
    start = day_at(10)
    booking = await book(customer, service, start, 60, notes="About my <b>thesis</b>")

    assert booking.status == BookingStatus.CONFIRMED
    assert (booking.start, booking.end) == (start, start + timedelta(minutes=60))
    assert booking.claim_start == start - timedelta(minutes=10)
    assert booking.claim_end == start + timedelta(minutes=65)
    assert (booking.price, booking.currency, booking.video_provider) == (0, "eur", "jitsi")
    assert booking.notes == "About my <b>thesis</b>"
    assert booking.hold_expires_at is None
    assert names(booking) == ["booking.created", "booking.confirmed"]
    assert await cells_of(booking.id) == claims.cells(booking.claim_start, booking.claim_end)
    assert len(await cells_of(booking.id)) == 15

    assert await runtime.publish(Booking, booking.id) == 2
    stored = await Event.find(Event.subject == f"bookings:{booking.id}").to_list()
    # The session's worker may already have added the meeting's event.
    assert sorted(e.name for e in stored if e.name.startswith("booking.")) == [
        "booking.confirmed",
        "booking.created",
    ]
    assert all(e.data["booking_id"] == str(booking.id) for e in stored)


async def test_paid_booking_waits_for_payment_then_confirms() -> None:
    service = await make_service(price=9000)
    booking = await book(await make_user(), service, day_at(11))
    assert booking.status == BookingStatus.PENDING_PAYMENT
    assert booking.price == 9000
    assert booking.hold_expires_at is not None
    assert names(booking) == ["booking.created"]

    assert booking.id is not None
    confirmed = await bookings.confirm(booking.id)
    assert confirmed.status == BookingStatus.CONFIRMED
    assert confirmed.hold_expires_at is None
    assert names(confirmed)[-1] == "booking.confirmed"
    again = await bookings.confirm(booking.id)  # a payment webhook delivered twice
    assert names(again).count("booking.confirmed") == 1


async def test_same_idempotency_key_returns_the_same_booking() -> None:
    service = await make_service()
    customer = await make_user()
    first = await book(customer, service, day_at(9), key="retry-key-0001")
    second = await book(customer, service, day_at(9), key="retry-key-0001")
    assert second.id == first.id
    assert await written_for(service.specialist_id) == (1, 6)

    with pytest.raises(DomainError) as caught:
        await book(customer, service, day_at(9, 30), key="retry-key-0001")
    assert codes(caught) == [("IDEMPOTENCY_KEY_REUSED", "idempotency_key")]

    other_customer = await book(await make_user(), service, day_at(12), key="retry-key-0001")
    assert other_customer.id != first.id


async def test_a_retry_gets_its_booking_even_once_the_slot_has_closed() -> None:
    service = await make_service()
    customer = await make_user()
    first = await book(customer, service, day_at(9), key="retry-key-0002")
    owner = await User.get(service.specialist_id)
    assert owner is not None
    await catalog.archive_service(owner, str(service.id))  # no longer bookable
    again = await book(customer, service, day_at(9), key="retry-key-0002")
    assert again.id == first.id
    with pytest.raises(DomainError) as caught:  # a new key hears why
        await book(customer, service, day_at(10), key="retry-key-0003")
    assert codes(caught) == [("NOT_BOOKABLE", "service_id")]


async def test_concurrent_requests_with_one_key_make_one_booking() -> None:
    service = await make_service()
    customer = await make_user()
    made = await asyncio.gather(
        *(book(customer, service, day_at(14), key="double-click-key") for _ in range(6))
    )
    assert len({b.id for b in made}) == 1
    assert {b.status for b in made} == {BookingStatus.CONFIRMED}
    assert await written_for(service.specialist_id) == (1, 6)


async def test_taken_slot_is_refused_and_nothing_is_left_behind() -> None:
    service = await make_service()
    await book(await make_user(), service, day_at(10))
    with pytest.raises(DomainError) as caught:
        await book(await make_user(), service, day_at(10))
    assert codes(caught) == [("SLOT_TAKEN", "start")]
    assert await written_for(service.specialist_id) == (1, 6)


async def test_overlapping_slots_of_different_lengths_conflict() -> None:
    service = await make_service()
    await book(await make_user(), service, day_at(10), 60)
    with pytest.raises(DomainError) as caught:
        await book(await make_user(), service, day_at(10, 30), 30)
    assert codes(caught) == [("SLOT_TAKEN", "start")]
    # Back to back is fine.
    await book(await make_user(), service, day_at(11), 60)
    await book(await make_user(), service, day_at(9, 30), 30)
    assert await written_for(service.specialist_id) == (3, 30)


async def test_buffers_keep_bookings_apart() -> None:
    service = await make_service(buffer_after=15)
    await book(await make_user(), service, day_at(10))  # claims 10:00-10:45
    with pytest.raises(DomainError) as caught:
        await book(await make_user(), service, day_at(10, 30))
    assert codes(caught)[0][0] == "SLOT_TAKEN"
    await book(await make_user(), service, day_at(11))

    # Buffers of different services of one specialist meet too.
    other = await make_service(service.specialist_id, buffer_before=20)
    with pytest.raises(DomainError):
        await book(await make_user(), other, day_at(12))  # claims 11:40, 11:00 booking ends 11:45
    await book(await make_user(), other, day_at(12, 30))


async def test_racing_customers_get_one_booking() -> None:
    service = await make_service()
    customers = await asyncio.gather(*(make_user() for _ in range(12)))
    tries = [book(c, service, day_at(15)) for c in customers]
    outcomes = await asyncio.gather(*tries, return_exceptions=True)
    won = [o for o in outcomes if isinstance(o, Booking)]
    lost = [o for o in outcomes if isinstance(o, DomainError)]
    assert len(won) == 1
    assert len(lost) == 11
    assert {p.code for e in lost for p in e.problems} == {"SLOT_TAKEN"}
    assert await written_for(service.specialist_id) == (1, 6)


@pytest.mark.parametrize(
    ("change", "code", "field"),
    [
        ({"start": "past"}, "PAST_SLOT", "start"),
        ({"start": "off-grid"}, "SLOT_UNAVAILABLE", "start"),
        ({"start": "too-soon"}, "SLOT_UNAVAILABLE", "start"),
        ({"start": "too-far"}, "SLOT_UNAVAILABLE", "start"),
        ({"start": "closed"}, "SLOT_UNAVAILABLE", "start"),
        ({"duration": 45}, "INVALID", "duration_minutes"),
        ({"timezone": "Mars/Olympus"}, "INVALID", "customer_timezone"),
        ({"notes": "x" * 2001}, "TOO_LONG", "notes"),
        ({"key": "short"}, "INVALID", "idempotency_key"),
        ({"service": "unknown"}, "NOT_FOUND", "service_id"),
        ({"service": "draft"}, "NOT_FOUND", "service_id"),  # another's draft: as if missing
        ({"service": "archived"}, "NOT_BOOKABLE", "service_id"),
        ({"customer": "self"}, "SELF_BOOKING", "service_id"),
    ],
)
async def test_bad_requests_are_refused_and_write_nothing(
    change: dict[str, object], code: str, field: str
) -> None:
    specialist = await make_user(Role.SPECIALIST)
    assert specialist.id is not None
    weekdays_nine_to_five = [
        {"weekday": d, "ranges": [{"start": 9 * 60, "end": 17 * 60}]} for d in range(7)
    ]
    await make_availability(specialist.id, "Europe/Berlin", weekly=weekdays_nine_to_five)  # type: ignore[arg-type]
    service = await make_service(specialist.id, horizon_days=30)
    customer = specialist if change.get("customer") == "self" else await make_user()
    start = {
        "past": day_at(10, days=-1),
        "off-grid": day_at(10, 10),
        "too-soon": utcnow().replace(second=0, microsecond=0) + timedelta(minutes=30),
        "too-far": day_at(10, days=45),
        "closed": day_at(18),  # 19:00 or 20:00 in Berlin
    }.get(str(change.get("start")), day_at(10))
    if change.get("service") == "unknown":
        service = service.model_copy(update={"id": specialist.id})
    if change.get("service") in ("draft", "archived"):
        service.status = ServiceStatus(str(change["service"]))
        await service.save()
    wanted = request(
        service,
        start,
        int(change.get("duration", 30)),  # type: ignore[call-overload]
        key=str(change.get("key", "a-good-idempotency-key")),
        timezone=str(change.get("timezone", "Europe/Berlin")),
        notes=str(change.get("notes", "")),
    )
    with pytest.raises(DomainError) as caught:
        await reservations.create_booking(customer, wanted, payment_hold=timedelta(minutes=15))
    assert (code, field) in codes(caught)
    assert await written_for(specialist.id) == (0, 0)


async def test_cancel_releases_the_claim() -> None:
    service = await make_service()
    customer = await make_user()
    booking = await book(customer, service, day_at(10))
    cancelled = await booking_changes.cancel(str(booking.id), customer, "Ill")
    assert cancelled.status == BookingStatus.CANCELLED
    assert (cancelled.cancel_reason, cancelled.cancelled_by) == ("Ill", "customer")
    event = cancelled.outbox[-1]
    assert event.name == "booking.cancelled"
    assert event.data["by"] == "customer"
    assert event.data["refund_percent"] == 0  # free
    assert await cells_of(booking.id) == []
    again = await book(await make_user(), service, day_at(10))
    assert again.status == BookingStatus.CONFIRMED

    with pytest.raises(DomainError) as caught:
        await booking_changes.cancel(str(booking.id), customer)
    assert codes(caught)[0][0] == "ILLEGAL_TRANSITION"
    with pytest.raises(DomainError) as caught:
        await bookings.confirm(booking.id)  # type: ignore[arg-type]
    assert codes(caught)[0][0] == "ILLEGAL_TRANSITION"


async def test_cancellation_window_and_who_may_cancel() -> None:
    policy = CancellationPolicy(cancel_minutes_before=24 * 60, refund_percent=90)
    service = await make_service(price=5000, policy=policy)
    customer = await make_user()
    booking = await book(customer, service, day_at(10))
    assert booking.id is not None
    await bookings.confirm(booking.id)
    late = booking.start - timedelta(hours=2)

    with pytest.raises(DomainError) as caught:
        await booking_changes.cancel(str(booking.id), await make_user(), "nosy")
    assert codes(caught) == [("NOT_FOUND", "id")]
    with pytest.raises(DomainError) as caught:
        await booking_changes.cancel(str(booking.id), customer, now=late)
    assert codes(caught)[0][0] == "CANCELLATION_TOO_LATE"

    specialist = await _user(service.specialist_id)
    done = await booking_changes.cancel(str(booking.id), specialist, "Sick", now=late)
    assert done.outbox[-1].data["refund_percent"] == 100
    assert done.cancelled_by == "specialist"

    in_time = await book(customer, service, day_at(12))
    assert in_time.id is not None
    await bookings.confirm(in_time.id)
    done = await booking_changes.cancel(str(in_time.id), customer)
    assert done.outbox[-1].data["refund_percent"] == 90


async def test_concurrent_transitions_have_one_winner() -> None:
    service = await make_service(price=100)
    customer = await make_user()
    specialist = await _user(service.specialist_id)
    for hour in (9, 11, 13, 15):
        booking = await book(customer, service, day_at(hour))
        assert booking.id is not None and booking.hold_expires_at is not None
        after_hold = booking.hold_expires_at + timedelta(seconds=1)
        # Paying and expiring exclude each other: exactly one happens.
        outcomes = await asyncio.gather(
            bookings.confirm(booking.id), sweeps.expire_holds(after_hold), return_exceptions=True
        )
        final = await Booking.get(booking.id)
        assert final is not None
        happened = [e.name for e in final.outbox][1:]
        assert happened in (["booking.confirmed"], ["booking.expired"]), (happened, outcomes)
        if final.status == BookingStatus.EXPIRED:
            assert isinstance(outcomes[0], DomainError)
            assert outcomes[0].problems[0].code == "ILLEGAL_TRANSITION"
            assert await cells_of(booking.id) == []
        else:
            assert booking.id not in outcomes[1]  # type: ignore[operator]
            assert len(await cells_of(booking.id)) == 6
            # Both parties cancelling at once: one cancellation.
            both = await asyncio.gather(
                booking_changes.cancel(str(booking.id), customer),
                booking_changes.cancel(str(booking.id), specialist),
                return_exceptions=True,
            )
            assert len([o for o in both if isinstance(o, Booking)]) == 1, both
            final = await Booking.get(booking.id)
            assert final is not None
            assert [e.name for e in final.outbox].count("booking.cancelled") == 1


async def test_reschedule_moves_the_claim() -> None:
    service = await make_service(buffer_after=10)
    customer = await make_user()
    booking = await book(customer, service, day_at(10), 60)
    assert booking.id is not None

    # Half an hour later: most of the cells are kept, the booking never holds none.
    moved = await booking_changes.reschedule(str(booking.id), customer, day_at(10, 30))
    assert (moved.start, moved.end) == (day_at(10, 30), day_at(11, 30))
    assert moved.claim_end == day_at(11, 40)
    assert moved.outbox[-1].name == "booking.rescheduled"
    assert moved.outbox[-1].data["previous_start"] == day_at(10)
    assert await cells_of(booking.id) == claims.cells(moved.claim_start, moved.claim_end)
    assert moved.reschedule_started_at is None

    # The freed cells are bookable by someone else (9:30 claims up to 10:10); the moved-to
    # time is not.
    await book(await make_user(), service, day_at(9, 30))
    with pytest.raises(DomainError):
        await book(await make_user(), service, day_at(11))

    # Asking again for the same time changes nothing.
    same = await booking_changes.reschedule(str(booking.id), customer, day_at(10, 30))
    assert len(same.outbox) == len(moved.outbox)


async def test_reschedule_into_a_taken_slot_changes_nothing() -> None:
    service = await make_service()
    customer = await make_user()
    booking = await book(customer, service, day_at(10), 60)
    await book(await make_user(), service, day_at(12))
    before = await cells_of(booking.id)
    with pytest.raises(DomainError) as caught:
        await booking_changes.reschedule(str(booking.id), customer, day_at(11, 30))  # hits 12:00
    assert codes(caught) == [("SLOT_TAKEN", "start")]
    after = await Booking.get(booking.id)
    assert after is not None
    assert (after.start, after.reschedule_started_at) == (day_at(10), None)
    assert await cells_of(booking.id) == before
    assert await written_for(service.specialist_id) == (2, 18)


async def test_reschedule_rules() -> None:
    service = await make_service(policy=CancellationPolicy(reschedule_minutes_before=6 * 60))
    customer = await make_user()
    booking = await book(customer, service, day_at(10))
    late = booking.start - timedelta(hours=1)
    with pytest.raises(DomainError) as caught:
        await booking_changes.reschedule(str(booking.id), customer, day_at(14), now=late)
    assert codes(caught)[0][0] == "RESCHEDULE_TOO_LATE"
    with pytest.raises(DomainError) as caught:
        await booking_changes.reschedule(str(booking.id), customer, day_at(14, 10))
    assert codes(caught) == [("SLOT_UNAVAILABLE", "start")]
    with pytest.raises(DomainError) as caught:
        await booking_changes.reschedule(str(booking.id), await make_user(), day_at(14))
    assert codes(caught) == [("NOT_FOUND", "id")]
    await booking_changes.cancel(str(booking.id), customer)
    with pytest.raises(DomainError) as caught:
        await booking_changes.reschedule(str(booking.id), customer, day_at(14))
    assert codes(caught)[0][0] == "ILLEGAL_TRANSITION"


async def test_expired_holds_give_the_time_back() -> None:
    service = await make_service(price=2500)
    booking = await book(await make_user(), service, day_at(10))
    assert booking.hold_expires_at is not None
    assert booking.id not in await sweeps.expire_holds(booking.hold_expires_at)
    changed = await sweeps.expire_holds(booking.hold_expires_at + timedelta(seconds=1))
    assert booking.id in changed
    expired = await Booking.get(booking.id)
    assert expired is not None
    assert expired.status == BookingStatus.EXPIRED
    assert expired.outbox[-1].name == "booking.expired"
    assert await cells_of(booking.id) == []
    assert booking.id not in await sweeps.expire_holds(booking.hold_expires_at + timedelta(hours=1))


async def test_past_bookings_are_completed() -> None:
    service = await make_service()
    booking = await book(await make_user(), service, day_at(10))
    assert booking.id not in await sweeps.complete_past(booking.end - timedelta(seconds=1))
    assert booking.id in await sweeps.complete_past(booking.end + timedelta(minutes=1))
    done = await Booking.get(booking.id)
    assert done is not None
    assert done.status == BookingStatus.COMPLETED
    assert done.outbox[-1].name == "booking.completed"
    assert await cells_of(booking.id) == []


async def test_abandoned_reservations_and_stray_claims_are_cleaned_up() -> None:
    service = await make_service()
    customer = await make_user()
    # A request that crashed after claiming: RESERVING with its cells.
    crashed = await book(customer, service, day_at(10))
    await Booking.get_pymongo_collection().update_one(
        {"_id": crashed.id}, {"$set": {"status": "reserving"}}
    )
    # A cancellation that crashed before releasing its cells (the cancelling update
    # raised the releasing flag).
    dropped = await book(customer, service, day_at(12))
    await Booking.get_pymongo_collection().update_one(
        {"_id": dropped.id}, {"$set": {"status": "cancelled", "releasing": True}}
    )
    # A reschedule that crashed after moving the booking, before freeing the old cells.
    moving = await book(customer, service, day_at(14))
    assert moving.id is not None
    new_time = Interval(day_at(15), day_at(15, 30))
    await claims.claim(
        moving.specialist_id,
        busy.Entry(moving.id, moving.service_id, new_time.start, new_time),
        claims.cells(new_time.start, new_time.end),
    )
    started = utcnow().replace(microsecond=0)
    await Booking.get_pymongo_collection().update_one(
        {"_id": moving.id}, {"$set": {"reschedule_started_at": started, "rescheduling": True}}
    )
    kept = await book(customer, service, day_at(16))

    assert crashed.id not in await sweeps.release_abandoned(utcnow())  # too recent yet
    changed = await sweeps.release_abandoned(utcnow() + timedelta(minutes=2))
    assert crashed.id in changed and moving.id in changed
    assert await Booking.get(crashed.id) is None
    assert await cells_of(crashed.id) == []
    assert await cells_of(dropped.id) == []
    assert await cells_of(moving.id) == claims.cells(moving.claim_start, moving.claim_end)
    cleared = await Booking.get(moving.id)
    assert cleared is not None and cleared.reschedule_started_at is None
    assert len(await cells_of(kept.id)) == 6


async def test_recent_reservations_are_left_alone() -> None:
    service = await make_service()
    booking = await book(await make_user(), service, day_at(10))
    await Booking.get_pymongo_collection().update_one(
        {"_id": booking.id}, {"$set": {"status": "reserving"}}
    )
    assert booking.id not in await sweeps.release_abandoned(utcnow())
    assert len(await cells_of(booking.id)) == 6


async def test_daily_limit() -> None:
    service = await make_service(max_per_day=2)
    made = [await book(await make_user(), service, day_at(h)) for h in (9, 10)]
    with pytest.raises(DomainError) as caught:
        await book(await make_user(), service, day_at(11))
    assert codes(caught) == [("DAILY_LIMIT_REACHED", "start")]
    assert await written_for(service.specialist_id) == (2, 12)
    await book(await make_user(), service, day_at(11, days=4))  # another day

    await booking_changes.cancel(str(made[0].id), await _user(made[0].customer_id))
    await book(await make_user(), service, day_at(11))


async def test_weekly_limit_under_concurrency() -> None:
    service = await make_service(max_per_week=3)
    base = day_at(9, days=8)
    monday = base - timedelta(days=base.weekday())
    starts = [monday + timedelta(days=d, hours=h) for d in range(3) for h in (0, 2)]
    customers = await asyncio.gather(*(make_user() for _ in starts))
    outcomes = await asyncio.gather(
        *(book(c, service, s) for c, s in zip(customers, starts, strict=True)),
        return_exceptions=True,
    )
    assert len([o for o in outcomes if isinstance(o, Booking)]) == 3
    refused = [o for o in outcomes if isinstance(o, DomainError)]
    assert {p.code for e in refused for p in e.problems} == {"WEEKLY_LIMIT_REACHED"}
    key = f"{service.id}:week:" + "{}-W{:02d}".format(*monday.isocalendar()[:2])
    assert await claims.places_taken(key) == 3
    assert await written_for(service.specialist_id) == (3, 18)  # the refused left no cells


async def test_reschedule_to_another_day_moves_the_limit_place() -> None:
    service = await make_service(max_per_day=1)
    customer = await make_user()
    booking = await book(customer, service, day_at(10))
    await booking_changes.reschedule(str(booking.id), customer, day_at(10, days=5))
    await book(await make_user(), service, day_at(10))  # the first day has room again
    with pytest.raises(DomainError) as caught:
        await book(await make_user(), service, day_at(12, days=5))
    assert codes(caught)[0][0] == "DAILY_LIMIT_REACHED"


async def test_claims_are_unique_per_specialist_cell() -> None:
    """The database itself refuses a second claim on a cell (not our Python)."""
    service = await make_service()
    booking = await book(await make_user(), service, day_at(10))
    stray = SlotClaim(
        specialist_id=service.specialist_id, cell=day_at(10, 5), booking_id=service.specialist_id
    )
    with pytest.raises(DuplicateKeyError):
        await stray.insert()
    assert len(await cells_of(booking.id)) == 6
