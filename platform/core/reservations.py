"""Reservations: a customer taking a slot of a service, at most once per idempotency key.

Also the checks a new time must pass, which a reschedule shares: on the service's slot
grid, inside the specialist's hours, and within the service's booking limits.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from beanie import PydanticObjectId
from pymongo.errors import DuplicateKeyError

from specialistly.core import (
    busy,
    catalog,
    claims,
    events,
    read_cache,
    schedule,
    slots,
    validation,
)
from specialistly.core.availability import Availability
from specialistly.core.bookings import (
    Booking,
    BookingPayment,
    BookingStatus,
    booking_collection,
    booking_event,
    booking_lock,
    stored_instant,
    transition,
)
from specialistly.core.clock import utcnow
from specialistly.core.errors import Check, DomainError, ErrorCode
from specialistly.core.services import Service, ServiceStatus
from specialistly.core.users import User

MAX_NOTES = 2000
IDEMPOTENCY_KEY_LENGTH = (8, 100)
# How long a request with a key already in use waits for the first one to finish.
IDEMPOTENCY_WAIT = timedelta(seconds=5)


# --------------------------------------------------------------------------- bookable slots


def slot_policy(service: Service, duration_minutes: int) -> slots.SlotPolicy:
    return slots.SlotPolicy(
        duration=timedelta(minutes=duration_minutes),
        interval=timedelta(minutes=service.slot_interval),
        buffer_before=timedelta(minutes=service.buffer_before),
        buffer_after=timedelta(minutes=service.buffer_after),
        minimum_notice=timedelta(minutes=service.minimum_notice),
        horizon=timedelta(days=service.horizon_days),
    )


def _is_open_slot(
    service: Service, availability: Availability, start: datetime, duration: int, now: datetime
) -> bool:
    """Whether start is a slot of the service's grid inside the specialist's hours, after
    the minimum notice and within the horizon.

    Other bookings are left out on purpose: the claim decides those, atomically, and
    answers SLOT_TAKEN.
    """
    found = schedule.slots_for(
        service,
        availability,
        [],
        slots.Interval(start, start + claims.CELL),
        duration=duration,
        now=now,
    )
    return any(slot.start == start for slot in found)


async def check_slot(
    service: Service, start: datetime, duration: int, now: datetime, field: str
) -> Availability:
    """The specialist's hours, once they say the start is open (SLOT_UNAVAILABLE if not).

    The hours (and the service) come from the read cache, as the slots shown did: a change
    of either reaches every process within moments, and a booking checked a moment before
    it arrives is one made a moment before it, which the change leaves standing anyway.
    """
    if start < now:
        raise DomainError.of(ErrorCode.PAST_SLOT, "This time is in the past.", field)
    availability = await read_cache.hours(service.specialist_id)
    if availability is None or not _is_open_slot(service, availability, start, duration, now):
        raise DomainError.of(
            ErrorCode.SLOT_UNAVAILABLE,
            "This time is not a bookable slot of the service (outside the specialist's hours,"
            " too soon, too far ahead or off the slot grid).",
            field,
        )
    return availability


def quota_limits(service: Service, start: datetime, timezone: str) -> list[tuple[str, int]]:
    """The limit counters a booking of the service at start takes a place in."""
    local = start.astimezone(ZoneInfo(timezone)).date()
    limits = []
    if service.max_per_day is not None:
        limits.append((claims.day_counter(service.id, local), service.max_per_day))
    if service.max_per_week is not None:
        limits.append((claims.week_counter(service.id, local), service.max_per_week))
    return limits


# --------------------------------------------------------------------------- create

# Starts the payment of a booking still RESERVING (its time claimed); raising leaves no
# booking behind and the time free.
StartPayment = Callable[[Booking], Awaitable[BookingPayment]]


# Whether the service's video provider can make its specialist's meetings now.
HostCheck = Callable[[Service], Awaitable[bool]]


@dataclass(frozen=True)
class BookingRequest:
    service_id: str
    start: datetime
    duration_minutes: int
    customer_timezone: str
    idempotency_key: str
    notes: str = ""


@dataclass(frozen=True)
class _Checked:
    service: Service
    start: datetime
    notes: str
    availability: Availability


async def create_booking(
    customer: User,
    request: BookingRequest,
    *,
    payment_hold: timedelta,
    start_payment: StartPayment | None = None,
    can_host: HostCheck | None = None,
    now: datetime | None = None,
) -> Booking:
    """Reserve a slot for the customer: PENDING_PAYMENT for a paid service, else CONFIRMED.

    HOST_NOT_READY when `can_host` says the service's video provider cannot make the
    specialist's meetings now (their slots are hidden meanwhile, but a client may hold an
    older list).

    A paid service's payment is started by `start_payment` once the time is claimed; when
    it fails, the booking is not made and the time is free again. The same idempotency key
    again returns the booking it made; a request arriving while the first is still running
    waits for it.
    """
    now = now or utcnow()
    key = _idempotency_key(request.idempotency_key)
    # A new key is the rule and a repeated one the exception: the booking's unique
    # (customer, key) index tells them apart when it is inserted, so a request reads the
    # booking its key made only when it has to (saving a read on every new booking).
    for _ in range(3):  # again only when an earlier request with this key failed meanwhile
        try:
            checked = await _check_request(customer, request, now, can_host)
        except DomainError:
            # The slot may have closed since the first request made its booking: that
            # booking is still the answer to a retry.
            existing = await _made_with(customer, key)
            if existing is None:
                raise
        else:
            try:
                return await _reserve(
                    customer, request, key, checked, now, payment_hold, start_payment
                )
            except DuplicateKeyError:
                existing = await _made_with(customer, key)
        if existing is not None:
            resolved = await _settled(existing, request)
            if resolved is not None:
                return resolved
    raise DomainError.of(
        ErrorCode.BOOKING_BUSY, "Another request with this key is still running.", "idempotency_key"
    )


async def _made_with(customer: User, key: str) -> Booking | None:
    """The booking an earlier request of the customer made with this idempotency key."""
    return await Booking.find_one({"customer_id": customer.id, "idempotency_key": key})


def _idempotency_key(value: str) -> str:
    check = Check()
    key = validation.text(check, "idempotency_key", value, max_length=100)
    low, high = IDEMPOTENCY_KEY_LENGTH
    if not check.problems and len(key) < low:
        check.add(ErrorCode.INVALID, f"Use {low} to {high} characters.", "idempotency_key")
    check.raise_if_any()
    return key


async def _check_request(
    customer: User, request: BookingRequest, now: datetime, can_host: HostCheck | None
) -> _Checked:
    check = Check()
    validation.timezone(check, "customer_timezone", request.customer_timezone)
    notes = validation.text(check, "notes", request.notes, max_length=MAX_NOTES, required=False)
    start = validation.instant(check, "start", request.start)
    service = (
        await read_cache.service(PydanticObjectId(request.service_id))
        if PydanticObjectId.is_valid(request.service_id)
        else None
    )
    if service is None or not catalog.can_see(customer, service):
        # Another specialist's draft answers like a missing service: ids are not probed.
        check.add(ErrorCode.NOT_FOUND, "There is no such service.", "service_id")
    elif service.status != ServiceStatus.PUBLISHED:
        check.add(ErrorCode.NOT_BOOKABLE, "This service is not open for booking.", "service_id")
    elif service.specialist_id == customer.id:
        check.add(ErrorCode.SELF_BOOKING, "You cannot book your own service.", "service_id")
    elif request.duration_minutes not in service.durations:
        choices = ", ".join(str(d) for d in service.durations)
        check.add(ErrorCode.INVALID, f"Choose one of: {choices} minutes.", "duration_minutes")
    check.raise_if_any()
    assert service is not None
    if can_host is not None and not await can_host(service):
        raise DomainError.of(
            ErrorCode.HOST_NOT_READY,
            "The specialist cannot host this service's meetings right now; please try again later.",
            "service_id",
        )
    availability = await check_slot(service, start, request.duration_minutes, now, "start")
    return _Checked(service, start, notes, availability)


async def _reserve(
    customer: User,
    request: BookingRequest,
    key: str,
    checked: _Checked,
    now: datetime,
    payment_hold: timedelta,
    start_payment: StartPayment | None,
) -> Booking:
    service, start = checked.service, checked.start
    claim = slots.claim_interval(start, slot_policy(service, request.duration_minutes))
    booking = Booking(
        customer_id=customer.id,
        specialist_id=service.specialist_id,
        service_id=service.id,
        start=start,
        end=start + timedelta(minutes=request.duration_minutes),
        claim_start=claim.start,
        claim_end=claim.end,
        price=service.price,
        currency=service.currency,
        customer_timezone=request.customer_timezone.strip(),
        notes=checked.notes,
        status=BookingStatus.RESERVING,
        idempotency_key=key,
        video_provider=service.video_provider,
        policy=service.policy,
        moves=0,
        created_at=now,
        updated_at=now,
    )
    await booking.insert()  # DuplicateKeyError: this key is in use (the caller handles it)
    assert booking.id is not None
    limits = quota_limits(service, start, checked.availability.timezone)
    try:
        places = await claims.claim_with_places(
            booking.specialist_id,
            busy.entry_of(booking),
            claims.cells(claim.start, claim.end),
            limits,
        )
    except DomainError:
        await booking_collection().delete_one({"_id": booking.id})
        raise
    hold = now + payment_hold if service.requires_payment else None
    payment = None
    if hold is not None and start_payment is not None:
        try:
            payment = await start_payment(booking)
        except BaseException:
            # A calendar too busy to release now leaves the reservation to the sweeper.
            if await claims.release(booking.id, booking.specialist_id):
                await booking_collection().delete_one({"_id": booking.id})
            await claims.release_places(places)
            raise
    return await _settle(booking, places, now, hold, payment)


async def _settle(
    booking: Booking,
    places: list[str],
    now: datetime,
    hold: datetime | None,
    payment: BookingPayment | None = None,
) -> Booking:
    """RESERVING -> CONFIRMED or PENDING_PAYMENT, with its events, in one update. The
    booking is as this request inserted it: the update's condition (still RESERVING, at
    the same start) tells whether anything else touched it."""
    assert booking.id is not None
    async with booking_lock(booking.id):
        outbox = [booking_event(events.BOOKING_CREATED, booking, **_summary(booking))]
        to = BookingStatus.PENDING_PAYMENT if hold else BookingStatus.CONFIRMED
        if to == BookingStatus.CONFIRMED:
            outbox.append(booking_event(events.BOOKING_CONFIRMED, booking))
        try:
            return await transition(
                booking,
                to,
                now,
                outbox,
                hold_expires_at=hold,
                quota_places=places,
                payment=payment.model_dump() if payment else None,
            )
        except DomainError:
            # The sweeper took it for abandoned (and freed its cells): far too slow a request.
            await claims.release_places(places)
            raise DomainError.of(
                ErrorCode.BOOKING_BUSY, "The booking could not be completed; try again."
            ) from None


def _summary(booking: Booking) -> dict[str, Any]:
    return {
        "customer_id": str(booking.customer_id),
        "specialist_id": str(booking.specialist_id),
        "service_id": str(booking.service_id),
        "start": booking.start,
        "end": booking.end,
        "price": booking.price,
        "currency": booking.currency,
    }


async def _settled(existing: Booking, request: BookingRequest) -> Booking | None:
    """The booking an earlier request with the same key made, once it is settled; None if
    that request failed (so this one may try itself)."""
    check = Check()
    start = validation.instant(check, "input.start", request.start)
    same = (
        str(existing.service_id) == request.service_id
        and not check.problems
        and existing.start == stored_instant(start)
        and existing.end - existing.start == timedelta(minutes=request.duration_minutes)
    )
    if not same:
        raise DomainError.of(
            ErrorCode.IDEMPOTENCY_KEY_REUSED,
            "This idempotency key was used for a different booking.",
            "idempotency_key",
        )
    deadline = utcnow() + IDEMPOTENCY_WAIT
    booking: Booking | None = existing
    while booking is not None and booking.status == BookingStatus.RESERVING:
        if utcnow() > deadline:
            raise DomainError.of(
                ErrorCode.BOOKING_BUSY,
                "Another request with this key is still running.",
                "idempotency_key",
            )
        await asyncio.sleep(0.05)
        booking = await Booking.get(existing.id)
    return booking
