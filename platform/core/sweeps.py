"""Sweeps: the periodic clean-up of bookings that time or a stopped request left behind."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from beanie import PydanticObjectId

from specialistly.core import claims, events
from specialistly.core.bookings import (
    HOLDING,
    Booking,
    BookingStatus,
    booking_collection,
    booking_event,
    booking_lock,
    clear_reschedule_mark,
    days_from,
    free_cells,
    release_time,
    transition,
)
from specialistly.core.errors import DomainError

# A reservation (or a reschedule) older than this was left by a request that stopped.
ABANDONED_AFTER = timedelta(minutes=1)
SWEEP_BATCH = 500
_NO_WAIT = timedelta(0)  # a sweep skips a booking being changed; the next sweep retries


Change = Callable[[Booking], Awaitable[bool]]


async def _sweep(query: dict[str, Any], change: Change) -> list[PydanticObjectId]:
    """Run `change` on each booking matching `query`, under its lock and freshly read;
    returns the ids it changed. A booking being changed is skipped: the next sweep retries."""
    changed = []
    for candidate in await Booking.find(query).limit(SWEEP_BATCH).to_list():
        assert candidate.id is not None
        try:
            async with booking_lock(candidate.id, wait=_NO_WAIT):
                booking = await Booking.get(candidate.id)
                if booking is not None and await change(booking):
                    changed.append(candidate.id)
        except DomainError:
            continue
    return changed


async def expire_holds(now: datetime) -> list[PydanticObjectId]:
    """PENDING_PAYMENT bookings whose hold ran out become EXPIRED and free their time."""

    async def expire(booking: Booking) -> bool:
        hold = booking.hold_expires_at
        if booking.status != BookingStatus.PENDING_PAYMENT or hold is None or hold >= now:
            return False
        event = booking_event(events.BOOKING_EXPIRED, booking)
        await transition(booking, BookingStatus.EXPIRED, now, [event], quota_places=[])
        await release_time(booking)
        return True

    query = {"status": BookingStatus.PENDING_PAYMENT.value, "hold_expires_at": {"$lt": now}}
    return await _sweep(query, expire)


async def sweep_bookings(now: datetime, *, every_day: bool = False) -> None:
    """One round of the booking sweeps: release expired payment holds, finish past bookings,
    drop abandoned reservations. `every_day` also gives old bookings their days and finds
    the past ones on every day (see `complete_past`)."""
    await expire_holds(now)
    if every_day:
        await keep_days()
    await complete_past(now, every_day=every_day)
    await release_abandoned(now)


class EveryDaySweep:
    """When `complete_past` looks at every day rather than today's and yesterday's: at the
    first sweep of a process, then once every `every`."""

    def __init__(self, every: timedelta) -> None:
        self.every = every
        self.last: datetime | None = None

    def due(self, now: datetime) -> bool:
        if self.last is not None and now - self.last < self.every:
            return False
        self.last = now
        return True


async def complete_past(now: datetime, *, every_day: bool = False) -> list[PydanticObjectId]:
    """CONFIRMED bookings that have ended become COMPLETED; their past cells are dropped.

    It finds those that ended today or yesterday (UTC) by their `end_day`, an equality
    FerretDB pushes down: by status alone it read every confirmed booking, those to come
    too. `every_day` finds the others (a worker stopped for days, a booking stored before
    `end_day` was kept), reading every confirmed booking.
    """

    async def complete(booking: Booking) -> bool:
        if booking.status != BookingStatus.CONFIRMED or booking.end >= now:
            return False
        event = booking_event(events.BOOKING_COMPLETED, booking)
        await transition(booking, BookingStatus.COMPLETED, now, [event])
        assert booking.id is not None
        await free_cells(booking.id, booking.specialist_id)  # its places stay: it happened
        return True

    ended = {"status": BookingStatus.CONFIRMED.value, "end": {"$lt": now}}
    if every_day:
        return await _sweep(ended, complete)
    changed = []
    for day in days_from(now - timedelta(days=1), now):
        changed += await _sweep({"end_day": day, **ended}, complete)
    return changed


async def keep_days() -> list[PydanticObjectId]:
    """Give the bookings that hold their time and were stored before bookings kept their
    days (`start_day`, `end_day`) those days, so that the sweeps by day find them, and a
    move of theirs that stopped before moves were flagged its `rescheduling` flag."""

    async def keep(booking: Booking) -> bool:
        known: dict[str, object] = {"start_day": booking.start_day, "end_day": booking.end_day}
        if booking.reschedule_started_at is not None:
            known["rescheduling"] = True
        await booking_collection().update_one({"_id": booking.id}, {"$set": known})
        return True

    changed: list[PydanticObjectId] = []
    for status in HOLDING:
        while True:  # every one of them, a batch at a time
            batch = await _sweep({"status": status.value, "start_day": None}, keep)
            changed += batch
            if len(batch) < SWEEP_BATCH:
                break
    return changed


async def release_abandoned(now: datetime) -> list[PydanticObjectId]:
    """Clean up after requests that stopped half-way: reservations never settled, moves
    never finished, and cells of bookings that no longer hold their time."""
    cutoff = now - ABANDONED_AFTER

    async def tidy(booking: Booking) -> bool:
        return await _tidy(booking, cutoff)

    # Each query carries an equality (on status, or a flag) for FerretDB to push down.
    stale = {"status": BookingStatus.RESERVING.value, "created_at": {"$lt": cutoff}}
    moving = {"rescheduling": True, "reschedule_started_at": {"$lt": cutoff}}
    changed = await _sweep(stale, tidy) + await _sweep(moving, tidy)
    released = {"releasing": True, "updated_at": {"$lt": cutoff}}
    return changed + await _sweep(released, _free)


async def _free(booking: Booking) -> bool:
    """Free the cells of a booking whose hold ended, when that change stopped half-way."""
    if not booking.releasing or booking.status in HOLDING:
        return False
    assert booking.id is not None
    await free_cells(booking.id, booking.specialist_id)
    return True


async def _tidy(booking: Booking, cutoff: datetime) -> bool:
    booking_id = booking.id
    assert booking_id is not None
    if booking.status == BookingStatus.RESERVING and booking.created_at < cutoff:
        # Its request died before settling it (places it took, if any, stay taken). Its
        # busy time and cells go first: deleted first, a crash in between would leave them
        # held for good; a calendar too busy now leaves the booking for the next sweep.
        if not await claims.release(booking_id, booking.specialist_id):
            return False
        await booking_collection().delete_one({"_id": booking_id})
        return True
    marker = booking.reschedule_started_at
    if marker is None or marker >= cutoff:
        return False
    # A move died half-way: keep exactly the cells of the booking's current claim.
    if booking.status in HOLDING:
        await claims.keep_only(booking)
    else:
        await claims.release(booking_id, booking.specialist_id)
    await clear_reschedule_mark(booking_id, marker)
    return True
