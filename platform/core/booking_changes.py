"""Booking changes a party asks for: cancelling a booking and moving it to another time."""

from __future__ import annotations

from datetime import datetime, timedelta

from beanie import PydanticObjectId

from specialistly.core import busy, catalog, claims, events, slots, validation
from specialistly.core.bookings import (
    Booking,
    BookingStatus,
    Party,
    acting_party,
    booking_event,
    booking_lock,
    booking_object_id,
    check_transition,
    clear_reschedule_mark,
    day_number,
    free_cells,
    get_booking,
    refund_percent,
    release_time,
    status_label,
    stored_instant,
    transition,
    update_booking,
)
from specialistly.core.clock import utcnow
from specialistly.core.errors import Check, DomainError, ErrorCode
from specialistly.core.reservations import check_slot, quota_limits, slot_policy
from specialistly.core.services import CancellationPolicy, Service
from specialistly.core.users import User

MAX_REASON = 500


async def _policy(booking: Booking) -> CancellationPolicy:
    """The policy the booking was made under (the service's, for older bookings)."""
    if booking.policy is not None:
        return booking.policy
    service = await Service.get(booking.service_id)
    return service.policy if service else CancellationPolicy()


async def cancel(
    booking_id: PydanticObjectId | str,
    actor: User,
    reason: str | None = None,
    *,
    now: datetime | None = None,
) -> Booking:
    """Cancel as its customer (in time, per the policy), its specialist (before it starts)
    or an admin; the refund owed goes into the event."""
    now = now or utcnow()
    check = Check()
    reason = validation.text(check, "reason", reason, max_length=MAX_REASON, required=False)
    check.raise_if_any()
    async with booking_lock(booking_object_id(booking_id)):
        booking = await get_booking(booking_id)
        by = acting_party(booking, actor)
        check_transition(booking.status, BookingStatus.CANCELLED)
        policy = await _policy(booking)
        cutoff = booking.start
        if by == Party.CUSTOMER and booking.status == BookingStatus.CONFIRMED:
            cutoff -= timedelta(minutes=policy.cancel_minutes_before)
        if by != Party.ADMIN and now > cutoff:
            raise DomainError.of(
                ErrorCode.CANCELLATION_TOO_LATE,
                "It is too late to cancel this booking; please contact the specialist.",
            )
        event = booking_event(
            events.BOOKING_CANCELLED,
            booking,
            by=by.value,
            reason=reason,
            previous_status=booking.status.value,
            refund_percent=refund_percent(booking, policy, by, now),
        )
        done = await transition(
            booking,
            BookingStatus.CANCELLED,
            now,
            [event],
            cancelled_at=now,
            cancel_reason=reason or None,
            cancelled_by=by.value,
            quota_places=[],
        )
        await release_time(booking)
    return done


async def mark_no_show(
    booking_id: PydanticObjectId | str, actor: User, *, now: datetime | None = None
) -> Booking:
    """The booking's specialist records that its customer did not come: once it has
    started (NOT_STARTED before), while it is confirmed or completed; asking again
    changes nothing. Emits ``booking.no_show``."""
    now = now or utcnow()
    async with booking_lock(booking_object_id(booking_id)):
        booking = await get_booking(booking_id)
        acting_party(booking, actor)  # NOT_FOUND for anyone else
        if booking.specialist_id != actor.id:
            raise DomainError.of(
                ErrorCode.FORBIDDEN, "Only the booking's specialist may record a no-show."
            )
        if booking.status == BookingStatus.NO_SHOW:
            return booking
        check_transition(booking.status, BookingStatus.NO_SHOW)
        if now < booking.start:
            raise DomainError.of(
                ErrorCode.NOT_STARTED, "A no-show can be recorded once the booking has started."
            )
        event = booking_event(events.BOOKING_NO_SHOW, booking, previous_status=booking.status.value)
        done = await transition(booking, BookingStatus.NO_SHOW, now, [event], no_show_at=now)
        if done.releasing:  # it was still confirmed: its remaining time is free again
            assert done.id is not None
            await free_cells(done.id, done.specialist_id)  # its places stay: it was booked
    return done


async def reschedule(
    booking_id: PydanticObjectId | str,
    actor: User,
    new_start: datetime,
    *,
    now: datetime | None = None,
) -> Booking:
    """Move a booking to another slot of its service, keeping its length.

    The claim moves without a moment of double or no holding: the cells of the new time
    that it does not hold yet are claimed first (SLOT_TAKEN, booking unchanged, if one is
    taken), then places under the limits of the new day and week (LIMIT_REACHED, those
    cells released), then the booking is moved in one conditional update, then the cells
    of the old time it no longer needs are released. Asking again for the time it has
    changes nothing.
    """
    now = now or utcnow()
    field = "start"
    check = Check()
    new_start = validation.instant(check, field, new_start)
    check.raise_if_any()
    async with booking_lock(booking_object_id(booking_id)):
        booking = await get_booking(booking_id)
        by = acting_party(booking, actor)
        if booking.status not in (BookingStatus.PENDING_PAYMENT, BookingStatus.CONFIRMED):
            raise DomainError.of(
                ErrorCode.ILLEGAL_TRANSITION,
                f"A {status_label(booking.status)} booking cannot be rescheduled.",
            )
        if booking.start == stored_instant(new_start):
            return booking
        service = await Service.get(booking.service_id)
        if service is None:
            raise catalog.service_not_found(field)
        cutoff = booking.start
        if by == Party.CUSTOMER:
            cutoff -= timedelta(minutes=service.policy.reschedule_minutes_before)
        if by != Party.ADMIN and now > cutoff:
            raise DomainError.of(
                ErrorCode.RESCHEDULE_TOO_LATE,
                "It is too late to reschedule this booking; please contact the specialist.",
            )
        duration = int((booking.end - booking.start).total_seconds()) // 60
        availability = await check_slot(service, new_start, duration, now, field)
        claim = slots.claim_interval(new_start, slot_policy(service, duration))
        limits = quota_limits(service, new_start, availability.timezone)
        return await _move(booking, by, claim, new_start, duration, limits, now)


async def _move(
    booking: Booking,
    by: Party,
    claim: slots.Interval,
    start: datetime,
    duration: int,
    limits: list[tuple[str, int]],
    now: datetime,
) -> Booking:
    assert booking.id is not None
    field = "start"
    # Marks the move until it is over, so that the sweeper tidies up after a crash.
    marker = stored_instant(now)
    mark = {"reschedule_started_at": marker, "rescheduling": True}
    locked = await update_booking(booking, {"$set": mark})
    old_cells = claims.cells(booking.claim_start, booking.claim_end)
    new_cells = claims.cells(claim.start, claim.end)
    wanted = [c for c in new_cells if c not in set(old_cells)]
    new_keys = {k for k, _ in limits}
    kept = [p for p in booking.quota_places if claims.place_key(p) in new_keys]
    held_keys = {claims.place_key(p) for p in kept}
    try:
        extra = await claims.claim_with_places(
            booking.specialist_id,
            busy.Entry(booking.id, booking.service_id, start, claim),
            wanted,
            [(k, n) for k, n in limits if k not in held_keys],
            field=field,
        )
    except DomainError:
        await clear_reschedule_mark(booking.id, marker)
        raise
    end = start + timedelta(minutes=duration)
    event = booking_event(
        events.BOOKING_RESCHEDULED,
        booking,
        by=by.value,
        previous_start=booking.start,
        previous_end=booking.end,
        start=start,
        end=end,
    )
    moved = await update_booking(
        locked,
        {
            "$set": {
                "start": start,
                "end": end,
                "start_day": day_number(start),
                "end_day": day_number(end),
                "claim_start": claim.start,
                "claim_end": claim.end,
                "quota_places": kept + extra,
                "updated_at": now,
                # Under the lock, as read: a count that was never kept stays unknown.
                "moves": None if locked.moves is None else locked.moves + 1,
            },
            "$push": {"outbox": event},
        },
    )
    await claims.release(
        booking.id,
        booking.specialist_id,
        [c for c in old_cells if c not in set(new_cells)],
        claim=busy.entry_of(booking).claim,
    )
    await claims.release_places([p for p in booking.quota_places if p not in kept])
    await clear_reschedule_mark(booking.id, marker)
    done: Booking = moved.model_copy(update={"reschedule_started_at": None, "rescheduling": False})
    return done
