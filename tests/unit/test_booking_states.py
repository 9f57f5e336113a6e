"""The booking state machine and the pure helpers of bookings and claims."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest
from beanie import PydanticObjectId

from specialistly.core import claims
from specialistly.core.bookings import (
    HOLDING,
    TRANSITIONS,
    Booking,
    BookingStatus,
    Party,
    booking_filter,
    check_transition,
    refund_percent,
)
from specialistly.core.errors import DomainError
from specialistly.core.reservations import quota_limits
from specialistly.core.services import CancellationPolicy, Service

ALL = list(BookingStatus)
LEGAL = [(a, b) for a in ALL for b in ALL if b in TRANSITIONS[a]]
ILLEGAL = [(a, b) for a in ALL for b in ALL if b not in TRANSITIONS[a]]
T = datetime(2030, 3, 4, 10, 0, tzinfo=UTC)


def test_every_status_has_its_transitions() -> None:
    assert set(TRANSITIONS) == set(BookingStatus)


@pytest.mark.parametrize(("current", "to"), LEGAL)
def test_legal_transition_passes(current: BookingStatus, to: BookingStatus) -> None:
    check_transition(current, to)


@pytest.mark.parametrize(("current", "to"), ILLEGAL)
def test_illegal_transition_is_refused(current: BookingStatus, to: BookingStatus) -> None:
    with pytest.raises(DomainError) as caught:
        check_transition(current, to)
    (problem,) = caught.value.problems
    assert problem.code == "ILLEGAL_TRANSITION"
    assert current.value.replace("_", " ") in problem.message
    assert to.value.replace("_", " ") in problem.message


def test_final_states_and_no_way_back_to_reserving() -> None:
    assert TRANSITIONS[BookingStatus.EXPIRED] == frozenset()
    assert TRANSITIONS[BookingStatus.REFUNDED] == frozenset()
    assert not any(BookingStatus.RESERVING in targets for targets in TRANSITIONS.values())
    # Whatever stops holding time never holds it again.
    for status in set(BookingStatus) - HOLDING:
        assert not TRANSITIONS[status] & HOLDING


def test_cells_cover_the_claim_on_the_five_minute_grid() -> None:
    got = claims.cells(T - timedelta(minutes=10), T + timedelta(minutes=45))
    assert got[0] == T - timedelta(minutes=10)
    assert got[-1] == T + timedelta(minutes=40)
    assert len(got) == 11
    assert all(b - a == claims.CELL for a, b in pairwise(got))


def test_cells_round_outwards_so_any_overlap_shares_a_cell() -> None:
    a = set(claims.cells(T, T + timedelta(minutes=7)))
    b = set(claims.cells(T + timedelta(minutes=6), T + timedelta(minutes=30)))
    assert a & b
    assert claims.cells(T + timedelta(minutes=2), T + timedelta(minutes=3)) == [T]


def test_touching_claims_share_no_cell() -> None:
    a = set(claims.cells(T, T + timedelta(minutes=30)))
    b = set(claims.cells(T + timedelta(minutes=30), T + timedelta(minutes=60)))
    assert not a & b


def test_cells_are_utc_whatever_the_offset_given() -> None:
    from zoneinfo import ZoneInfo

    local = T.astimezone(ZoneInfo("Asia/Kolkata"))  # +05:30
    assert claims.cells(local, local + timedelta(minutes=5)) == [T]
    assert claims.cells(T, T) == []


def _booking(status: BookingStatus, price: int = 5000) -> Booking:
    oid = PydanticObjectId()
    booking: Booking = Booking.model_construct(
        customer_id=oid,
        specialist_id=PydanticObjectId(),
        service_id=oid,
        start=T,
        end=T + timedelta(minutes=30),
        status=status,
        price=price,
    )
    return booking


def test_refund_follows_the_policy() -> None:
    policy = CancellationPolicy(cancel_minutes_before=60, refund_percent=80, late_refund_percent=10)
    paid = _booking(BookingStatus.CONFIRMED)
    early, late = T - timedelta(hours=2), T - timedelta(minutes=30)
    assert refund_percent(paid, policy, Party.CUSTOMER, early) == 80
    assert refund_percent(paid, policy, Party.ADMIN, late) == 10
    assert refund_percent(paid, policy, Party.SPECIALIST, late) == 100
    assert refund_percent(_booking(BookingStatus.PENDING_PAYMENT), policy, Party.ADMIN, early) == 0
    assert refund_percent(_booking(BookingStatus.CONFIRMED, 0), policy, Party.CUSTOMER, early) == 0


def test_limit_counters_are_per_local_day_and_iso_week() -> None:
    service = Service.model_construct(id=PydanticObjectId(), max_per_day=2, max_per_week=5)
    # 23:30 UTC on Sunday 2030-03-10 is already Monday in Berlin: a new day and a new week.
    late_sunday = datetime(2030, 3, 10, 23, 30, tzinfo=UTC)
    keys = [k for k, _ in quota_limits(service, late_sunday, "Europe/Berlin")]
    assert keys == [f"{service.id}:day:2030-03-11", f"{service.id}:week:2030-W11"]
    assert [k for k, _ in quota_limits(service, late_sunday, "UTC")] == [
        f"{service.id}:day:2030-03-10",
        f"{service.id}:week:2030-W10",
    ]
    unlimited = Service.model_construct(id=PydanticObjectId(), max_per_day=None, max_per_week=None)
    assert quota_limits(unlimited, late_sunday, "UTC") == []


def test_listing_never_shows_reservations() -> None:
    assert booking_filter()["status"] == {"$ne": "reserving"}
    asked = booking_filter(statuses=[BookingStatus.RESERVING, BookingStatus.CONFIRMED])
    assert asked["status"] == "confirmed"  # one status: an equality, for FerretDB to push down
    two = booking_filter(statuses=[BookingStatus.CONFIRMED, BookingStatus.COMPLETED])
    assert two["status"] == {"$in": ["confirmed", "completed"]}
    window = booking_filter(start_from=T, start_to=T + timedelta(days=1))
    assert window["start"] == {"$gte": T, "$lt": T + timedelta(days=1)}
