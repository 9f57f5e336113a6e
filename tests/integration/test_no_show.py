"""Recording a no-show: only the booking's specialist, only once it has started, while it
is confirmed or completed; the booking becomes NO_SHOW and says so in ``booking.no_show``."""

from __future__ import annotations

from datetime import timedelta

import pytest

from specialistly.core import booking_changes, events
from specialistly.core.bookings import (
    Booking,
    BookingStatus,
    booking_lock,
    stored_instant,
    transition,
)
from specialistly.core.errors import DomainError, ErrorCode
from specialistly.core.users import Role, User
from tests.bookings_fixtures import book, cells_of, day_at, make_service, make_user

pytestmark = pytest.mark.usefixtures("runtime")


async def a_booking() -> tuple[Booking, User, User]:
    """A confirmed booking (its time claimed), its specialist and its customer."""
    service = await make_service()
    specialist = await User.get(service.specialist_id)
    customer = await make_user()
    assert specialist is not None
    return await book(customer, service, day_at(10)), specialist, customer


def code_of(caught: pytest.ExceptionInfo[DomainError]) -> ErrorCode:
    return caught.value.problems[0].code


async def test_the_specialist_records_a_no_show_once_the_booking_started() -> None:
    booking, specialist, _ = await a_booking()
    now = booking.start + timedelta(minutes=10)

    marked = await booking_changes.mark_no_show(str(booking.id), specialist, now=now)
    again = await booking_changes.mark_no_show(str(booking.id), specialist, now=now)

    assert marked.status == BookingStatus.NO_SHOW
    assert marked.no_show_at is not None and stored_instant(marked.no_show_at) == stored_instant(
        now
    )
    stored = await Booking.get(booking.id)
    assert stored is not None and stored.status == BookingStatus.NO_SHOW
    no_shows = [e for e in stored.outbox if e.name == events.BOOKING_NO_SHOW]
    assert again.status == BookingStatus.NO_SHOW and len(no_shows) == 1  # marked once
    assert no_shows[0].data == {"booking_id": str(booking.id), "previous_status": "confirmed"}
    assert await cells_of(booking.id) == []  # the rest of its time is free again


async def test_a_no_show_cannot_be_recorded_before_the_start() -> None:
    booking, specialist, _ = await a_booking()

    with pytest.raises(DomainError) as caught:
        await booking_changes.mark_no_show(
            str(booking.id), specialist, now=booking.start - timedelta(minutes=1)
        )

    assert code_of(caught) == ErrorCode.NOT_STARTED
    stored = await Booking.get(booking.id)
    assert stored is not None and stored.status == BookingStatus.CONFIRMED


async def test_only_the_bookings_specialist_records_a_no_show() -> None:
    booking, _, customer = await a_booking()
    now = booking.start + timedelta(minutes=10)
    refused = {}
    for who, user in {
        "customer": customer,
        "admin": await make_user(Role.ADMIN),
        "stranger": await make_user(Role.SPECIALIST),
    }.items():
        with pytest.raises(DomainError) as caught:
            await booking_changes.mark_no_show(str(booking.id), user, now=now)
        refused[who] = code_of(caught)

    assert refused == {
        "customer": ErrorCode.FORBIDDEN,
        "admin": ErrorCode.FORBIDDEN,
        "stranger": ErrorCode.NOT_FOUND,  # ids reveal nothing
    }
    stored = await Booking.get(booking.id)
    assert stored is not None and stored.status == BookingStatus.CONFIRMED


async def test_a_completed_booking_can_still_be_marked_a_no_show() -> None:
    booking, specialist, _ = await a_booking()
    after = booking.end + timedelta(minutes=1)
    async with booking_lock(booking.id):  # type: ignore[arg-type]
        await transition(booking, BookingStatus.COMPLETED, after, [])  # as the sweeper does

    marked = await booking_changes.mark_no_show(str(booking.id), specialist, now=after)

    assert marked.status == BookingStatus.NO_SHOW
    assert marked.outbox[-1].name == events.BOOKING_NO_SHOW
    assert marked.outbox[-1].data["previous_status"] == "completed"


async def test_a_cancelled_booking_cannot_be_a_no_show() -> None:
    booking, specialist, customer = await a_booking()
    await booking_changes.cancel(str(booking.id), customer)

    with pytest.raises(DomainError) as caught:
        await booking_changes.mark_no_show(
            str(booking.id), specialist, now=booking.start + timedelta(minutes=10)
        )

    assert code_of(caught) == ErrorCode.ILLEGAL_TRANSITION
